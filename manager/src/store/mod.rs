//! The manager's store: users, API tokens, tasks with every config revision, and the audit log,
//! in SQLite (the default, one file) or PostgreSQL.
//!
//! Both go through sqlx's `Any` driver with one set of queries: the manager's SQL is plain
//! (text and 64-bit integers, `$N` parameters, `ON CONFLICT`, no vendor functions), so two
//! implementations of a store trait would be the same code twice. What does differ, the
//! auto-increment key of the audit log, is filled in by the migration (`migrate.rs`).
//!
//! Every change and its audit entry are written in one transaction: the log cannot miss a change
//! nor record one that did not happen.

mod audit;
mod migrate;
mod tasks;
mod users;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

pub use audit::{AuditEntry, AuditRecord};
pub use tasks::{desired_str, RevisionRecord, TaskRecord};
pub use users::{Role, UserRecord};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {url}: cannot open it: {detail}")]
    Open { url: String, detail: String },
    #[error("store {url}: unsupported database; use sqlite://PATH?mode=rwc or postgres://...")]
    Unsupported { url: String },
    #[error("store: migration {version} ({backend}) failed: {detail}")]
    Migrate {
        version: i64,
        backend: &'static str,
        detail: String,
    },
    #[error("store: {what}: {source}")]
    Query {
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("store: {what}: stored data is unreadable: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("task {task} already exists")]
    TaskExists { task: String },
    #[error("task {task} is still being removed from the coordinator; retry in a few seconds")]
    TaskBeingRemoved { task: String },
    #[error("task {task} was changed by someone else meanwhile (now at revision {revision}); reload it and retry")]
    RevisionConflict { task: String, revision: u64 },
    #[error("user {user} already exists")]
    UserExists { user: String },
    #[error("user {user} is the last admin: make another user admin first")]
    LastAdmin { user: String },
}

/// A closure that wraps a sqlx error with what was being done.
fn query_err(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    let what = what.into();
    move |source| StoreError::Query { what, source }
}

/// Which database the store is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The store: a connection pool and the backend it talks to.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens (creating with `sqlite://PATH?mode=rwc`) the store at `url` and brings its schema up
    /// to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let shown = sluice_core::config::redact_url(url);
        let backend =
            Backend::of(url).ok_or_else(|| StoreError::Unsupported { url: shown.clone() })?;
        sqlx::any::install_default_drivers();
        // SQLite allows one writer at a time, and a transaction that reads then writes cannot
        // wait for another writer (it fails with SQLITE_BUSY at once): one connection
        // serialises the manager's few writes instead.
        let max = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 5,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .connect(url)
            .await
            .map_err(|e| StoreError::Open {
                url: shown.clone(),
                detail: e.to_string(),
            })?;
        let store = Store { pool, backend };
        store.migrate().await?;
        tracing::info!(store = %shown, "Store `{shown}` opened ({}).", backend.name());
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool (tests drop their database afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
