//! The `[manager]` table of a standalone config: serve the manager's API and web UI from the
//! standalone process, with its tasks in the manager's store.

use serde::Deserialize;

use super::FieldError;

/// Standalone with a manager. The first admin's password comes from `SLUICE_ADMIN_PASSWORD`
/// (never from the file: config files get copied around); without it a random one is made
/// and printed once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerConfig {
    /// `HOST:PORT` for the API (`/api/v1`) and the web UI (`/`).
    pub listen: String,
    /// `sqlite://PATH?mode=rwc` or `postgres://...`; default: `manager.db` in `data_dir`.
    #[serde(default)]
    pub store: Option<String>,
}

impl ManagerConfig {
    /// What is wrong with this table, each problem naming its field.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if let Err(message) = super::http::check_listen(&self.listen) {
            problems.push(FieldError {
                field: "manager.listen".into(),
                value: Some(self.listen.clone()),
                message,
            });
        }
        if let Some(store) = &self.store {
            if !(store.starts_with("sqlite:") || store.starts_with("postgres://")) {
                problems.push(FieldError {
                    field: "manager.store".into(),
                    value: Some(super::redact_url(store)),
                    message: "expected `sqlite://PATH?mode=rwc` or \
                              `postgres://USER:PASSWORD@HOST:PORT/DB`"
                        .into(),
                });
            }
        }
        problems
    }
}
