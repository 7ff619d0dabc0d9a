//! The audit log: who did what to which task, when, in a summary that never holds a secret.

use serde::Serialize;
use sqlx::Row;

use super::{query_err, Store, StoreError};

/// An entry to write, in the transaction of the change it records.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: String,
    /// `task.create`, `task.update`, `task.pause`, `user.create`, ...
    pub action: &'static str,
    pub task: Option<String>,
    /// What changed, in words (no config values: they may be secrets).
    pub summary: String,
    pub at_ms: i64,
}

/// A stored entry.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub task: Option<String>,
    pub summary: String,
}

impl AuditEntry {
    pub(super) async fn insert(&self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at_ms, actor, action, task, summary) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(self.at_ms)
        .bind(&self.actor)
        .bind(self.action)
        .bind(self.task.as_deref())
        .bind(&self.summary)
        .execute(conn)
        .await
        .map_err(query_err(format!("write the audit entry {}", self.action)))?;
        Ok(())
    }
}

impl Store {
    /// Writes an entry for an action that changes nothing in the store (a restart from a
    /// position goes to the coordinator only).
    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(query_err("write an audit entry"))?;
        entry.insert(&mut conn).await
    }

    /// The newest entries first, of one task or of all; at most `limit`.
    pub async fn list_audit(
        &self,
        task: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let query = match task {
            Some(task) => sqlx::query(
                "SELECT id, at_ms, actor, action, task, summary FROM audit_log WHERE task = $1 \
                 ORDER BY id DESC LIMIT $2",
            )
            .bind(task),
            None => sqlx::query(
                "SELECT id, at_ms, actor, action, task, summary FROM audit_log \
                 ORDER BY id DESC LIMIT $1",
            ),
        };
        let rows = query
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("read the audit log"))?;
        rows.iter()
            .map(|row| {
                let corrupt = |e: sqlx::Error| StoreError::Corrupt {
                    what: "a row of audit_log".into(),
                    detail: e.to_string(),
                };
                Ok(AuditRecord {
                    id: row.try_get("id").map_err(corrupt)?,
                    at_ms: row.try_get("at_ms").map_err(corrupt)?,
                    actor: row.try_get("actor").map_err(corrupt)?,
                    action: row.try_get("action").map_err(corrupt)?,
                    task: row.try_get("task").map_err(corrupt)?,
                    summary: row.try_get("summary").map_err(corrupt)?,
                })
            })
            .collect()
    }
}
