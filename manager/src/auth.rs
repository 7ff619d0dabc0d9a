//! Passwords (argon2id, PHC strings with a random salt) and API tokens: 32 random bytes given
//! to the client once, stored only as their SHA-256 with an expiry, so a copy of the store
//! lets nobody in.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::store::{now_ms, AuditEntry, Role, Store, UserRecord};
use crate::ManagerError;

/// How long a token lets its holder in.
pub const TOKEN_TTL_MS: i64 = 12 * 3600 * 1000;

/// The user the first admin is created as.
pub const FIRST_ADMIN: &str = "admin";

/// The argon2id hash of a password, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, ManagerError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ManagerError::PasswordHash {
            detail: e.to_string(),
        })
}

/// Whether `password` matches a stored PHC string (false for an unreadable one).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A new random token, in hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex(&bytes)
}

/// The digest a token is stored and looked up by.
pub fn token_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Creates the first admin (`admin`) when the store has no user yet. Without a password then,
/// nobody could ever log in: that is an error.
pub async fn ensure_first_admin(store: &Store, password: Option<&str>) -> Result<(), ManagerError> {
    if store.count_users().await? > 0 {
        return Ok(());
    }
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err(ManagerError::NoAdmin);
    };
    let password = password.to_string();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ManagerError::PasswordHash {
            detail: e.to_string(),
        })??;
    let at_ms = now_ms();
    store
        .create_user(
            &UserRecord {
                name: FIRST_ADMIN.into(),
                password_hash,
                role: Role::Admin,
                created_at_ms: at_ms,
            },
            &AuditEntry {
                actor: "(startup)".into(),
                action: "user.create",
                task: None,
                summary: format!("first admin `{FIRST_ADMIN}` created from --admin-password"),
                at_ms,
            },
        )
        .await?;
    tracing::info!("Created the first admin `{FIRST_ADMIN}`.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_stored_as_digests() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(token_digest(&a).len(), 64);
        assert_ne!(token_digest(&a), a);
    }
}
