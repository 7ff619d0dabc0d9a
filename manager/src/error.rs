//! The manager's errors (the API's own, with their HTTP statuses, are in `api/error.rs`).

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the store has no user yet: give the first admin's password with --admin-password or \
         SLUICE_ADMIN_PASSWORD"
    )]
    NoAdmin,
    #[error("cannot hash a password: {detail}")]
    PasswordHash { detail: String },
    #[error("manager API on {addr}: serving failed: {error}")]
    Serve { addr: String, error: std::io::Error },
}
