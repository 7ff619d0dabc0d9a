//! Tasks: the current config (full, secrets included: the nodes need them), its revision, the
//! desired state, what the coordinator has acknowledged, and every past revision.
//!
//! A deleted task stays as a tombstone (`deleted = 1`) until the coordinator has removed it
//! too, so a removal that failed while the coordinator was away is retried, and a task of the
//! same name cannot be created before the old one is gone.

use sluice_core::coordination::DesiredState;
use sqlx::Row;

use super::{query_err, AuditEntry, Store, StoreError};

/// A stored task.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub name: String,
    /// The task config as JSON, secrets included: never return it as is.
    pub config: serde_json::Value,
    pub revision: u64,
    pub desired: DesiredState,
    /// The last revision the coordinator accepted (0: none yet).
    pub published_revision: u64,
    /// The desired state the coordinator last accepted.
    pub published_desired: Option<DesiredState>,
    /// Deleted here, not yet removed from the coordinator.
    pub deleted: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One revision of a task's config.
#[derive(Debug, Clone)]
pub struct RevisionRecord {
    pub task: String,
    pub revision: u64,
    /// Secrets included: never return it as is.
    pub config: serde_json::Value,
    pub author: String,
    pub created_at_ms: i64,
}

pub fn desired_str(desired: DesiredState) -> &'static str {
    match desired {
        DesiredState::Running => "running",
        DesiredState::Paused => "paused",
        DesiredState::Stopped => "stopped",
    }
}

fn parse_desired(text: &str) -> Option<DesiredState> {
    match text {
        "running" => Some(DesiredState::Running),
        "paused" => Some(DesiredState::Paused),
        "stopped" => Some(DesiredState::Stopped),
        _ => None,
    }
}

const TASK_COLUMNS: &str = "name, config, revision, desired, published_revision, \
     published_desired, deleted, created_at_ms, updated_at_ms";

fn corrupt(what: &str) -> impl Fn(String) -> StoreError + '_ {
    move |detail| StoreError::Corrupt {
        what: what.to_string(),
        detail,
    }
}

fn revision_of(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(what)(format!("negative revision {value}")))
}

fn task_from_row(row: &sqlx::any::AnyRow) -> Result<TaskRecord, StoreError> {
    let name: String = row
        .try_get("name")
        .map_err(|e| corrupt("a row of tasks")(e.to_string()))?;
    let what = format!("task {name}");
    let bad = corrupt(&what);
    let get_i64 = |col: &str| row.try_get::<i64, _>(col).map_err(|e| bad(e.to_string()));
    let config: String = row.try_get("config").map_err(|e| bad(e.to_string()))?;
    let desired: String = row.try_get("desired").map_err(|e| bad(e.to_string()))?;
    let published_desired: Option<String> = row
        .try_get("published_desired")
        .map_err(|e| bad(e.to_string()))?;
    Ok(TaskRecord {
        config: serde_json::from_str(&config).map_err(|e| bad(format!("config: {e}")))?,
        revision: revision_of(get_i64("revision")?, &what)?,
        desired: parse_desired(&desired)
            .ok_or_else(|| bad(format!("unknown desired state {desired:?}")))?,
        published_revision: revision_of(get_i64("published_revision")?, &what)?,
        published_desired: published_desired.as_deref().and_then(parse_desired),
        deleted: get_i64("deleted")? != 0,
        created_at_ms: get_i64("created_at_ms")?,
        updated_at_ms: get_i64("updated_at_ms")?,
        name,
    })
}

fn db_revision(revision: u64) -> i64 {
    i64::try_from(revision).unwrap_or(i64::MAX)
}

impl Store {
    /// Creates a task at revision 1, with its first revision and the audit entry.
    pub async fn create_task(
        &self,
        name: &str,
        config: &serde_json::Value,
        desired: DesiredState,
        audit: &AuditEntry,
    ) -> Result<TaskRecord, StoreError> {
        let what = || format!("create task {name}");
        let mut tx = self.pool.begin().await.map_err(query_err(what()))?;
        let existing: Option<i64> = sqlx::query_scalar("SELECT deleted FROM tasks WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_err(what()))?;
        match existing {
            Some(0) => return Err(StoreError::TaskExists { task: name.into() }),
            Some(_) => return Err(StoreError::TaskBeingRemoved { task: name.into() }),
            None => {}
        }
        let text = config.to_string();
        sqlx::query(
            "INSERT INTO tasks (name, config, revision, desired, published_revision, deleted, \
             created_at_ms, updated_at_ms) VALUES ($1, $2, 1, $3, 0, 0, $4, $4)",
        )
        .bind(name)
        .bind(&text)
        .bind(desired_str(desired))
        .bind(audit.at_ms)
        .execute(&mut *tx)
        .await
        .map_err(query_err(what()))?;
        insert_revision(&mut tx, name, 1, &text, audit).await?;
        audit.insert(&mut tx).await?;
        tx.commit().await.map_err(query_err(what()))?;
        Ok(TaskRecord {
            name: name.into(),
            config: config.clone(),
            revision: 1,
            desired,
            published_revision: 0,
            published_desired: None,
            deleted: false,
            created_at_ms: audit.at_ms,
            updated_at_ms: audit.at_ms,
        })
    }

    /// Replaces the config of a task that is still at `base_revision`; the revision grows by
    /// one. `None` if the task does not exist.
    pub async fn update_task(
        &self,
        name: &str,
        base_revision: u64,
        config: &serde_json::Value,
        audit: &AuditEntry,
    ) -> Result<Option<TaskRecord>, StoreError> {
        let what = || format!("update task {name}");
        let mut tx = self.pool.begin().await.map_err(query_err(what()))?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT revision FROM tasks WHERE name = $1 AND deleted = 0")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(query_err(what()))?;
        let Some(current) = current else {
            return Ok(None);
        };
        let current = revision_of(current, name)?;
        if current != base_revision {
            return Err(StoreError::RevisionConflict {
                task: name.into(),
                revision: current,
            });
        }
        let revision = current + 1;
        let text = config.to_string();
        sqlx::query(
            "UPDATE tasks SET config = $2, revision = $3, updated_at_ms = $4 WHERE name = $1",
        )
        .bind(name)
        .bind(&text)
        .bind(db_revision(revision))
        .bind(audit.at_ms)
        .execute(&mut *tx)
        .await
        .map_err(query_err(what()))?;
        insert_revision(&mut tx, name, revision, &text, audit).await?;
        audit.insert(&mut tx).await?;
        tx.commit().await.map_err(query_err(what()))?;
        self.get_task(name).await
    }

    /// Sets what the operator wants of a task. `None` if the task does not exist.
    pub async fn set_desired(
        &self,
        name: &str,
        desired: DesiredState,
        audit: &AuditEntry,
    ) -> Result<Option<TaskRecord>, StoreError> {
        let query = sqlx::query(
            "UPDATE tasks SET desired = $2, updated_at_ms = $3 WHERE name = $1 AND deleted = 0",
        )
        .bind(name)
        .bind(desired_str(desired))
        .bind(audit.at_ms);
        let what = format!("set the desired state of task {name}");
        if !self.change_one_task(what, query, audit).await? {
            return Ok(None);
        }
        self.get_task(name).await
    }

    /// Marks a task deleted (a tombstone until the coordinator removed it). `false` if there
    /// was no such task.
    pub async fn delete_task(&self, name: &str, audit: &AuditEntry) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE tasks SET deleted = 1, updated_at_ms = $2 WHERE name = $1 AND deleted = 0",
        )
        .bind(name)
        .bind(audit.at_ms);
        self.change_one_task(format!("delete task {name}"), query, audit)
            .await
    }

    /// Runs an `UPDATE` of one task and, if it changed a row, writes the audit entry in the same
    /// transaction. Whether a row changed.
    async fn change_one_task<'q>(
        &self,
        what: String,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(query_err(what.clone()))?;
        let changed = query
            .execute(&mut *tx)
            .await
            .map_err(query_err(what.clone()))?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        audit.insert(&mut tx).await?;
        tx.commit().await.map_err(query_err(what))?;
        Ok(true)
    }

    /// Forgets a deleted task and its revisions, once the coordinator removed it.
    pub async fn purge_task(&self, name: &str) -> Result<(), StoreError> {
        let what = || format!("purge deleted task {name}");
        let mut tx = self.pool.begin().await.map_err(query_err(what()))?;
        sqlx::query("DELETE FROM task_revisions WHERE task = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(query_err(what()))?;
        sqlx::query("DELETE FROM tasks WHERE name = $1 AND deleted = 1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(query_err(what()))?;
        tx.commit().await.map_err(query_err(what()))
    }

    /// Records that the coordinator accepted `revision` of a task.
    pub async fn mark_published(&self, name: &str, revision: u64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tasks SET published_revision = $2 WHERE name = $1 AND published_revision < $2",
        )
        .bind(name)
        .bind(db_revision(revision))
        .execute(&self.pool)
        .await
        .map_err(query_err(format!("record the publication of task {name}")))?;
        Ok(())
    }

    /// Records that the coordinator accepted a desired state.
    pub async fn mark_desired_published(
        &self,
        name: &str,
        desired: DesiredState,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tasks SET published_desired = $2 WHERE name = $1")
            .bind(name)
            .bind(desired_str(desired))
            .execute(&self.pool)
            .await
            .map_err(query_err(format!(
                "record the desired state published of task {name}"
            )))?;
        Ok(())
    }

    /// A task that is not deleted.
    pub async fn get_task(&self, name: &str) -> Result<Option<TaskRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE name = $1 AND deleted = 0"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err(format!("read task {name}")))?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// A task as the publisher sees it: deleted or not.
    pub async fn task_for_publication(&self, name: &str) -> Result<Option<TaskRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err(format!("read task {name}")))?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Every task that is not deleted, by name.
    pub async fn list_tasks(&self) -> Result<Vec<TaskRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE deleted = 0 ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("list the tasks"))?;
        rows.iter().map(task_from_row).collect()
    }

    /// The tasks the coordinator is behind on: a newer revision, another desired state, or a
    /// removal not done yet.
    pub async fn unpublished_tasks(&self) -> Result<Vec<TaskRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE deleted = 1 OR published_revision < revision \
             OR published_desired IS NULL OR published_desired <> desired ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("list the tasks not yet published"))?;
        rows.iter().map(task_from_row).collect()
    }

    /// A task's revisions, newest first.
    pub async fn list_revisions(&self, task: &str) -> Result<Vec<RevisionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT task, revision, config, author, created_at_ms FROM task_revisions \
             WHERE task = $1 ORDER BY revision DESC",
        )
        .bind(task)
        .fetch_all(&self.pool)
        .await
        .map_err(query_err(format!("list the revisions of task {task}")))?;
        rows.iter().map(revision_from_row).collect()
    }

    pub async fn get_revision(
        &self,
        task: &str,
        revision: u64,
    ) -> Result<Option<RevisionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT task, revision, config, author, created_at_ms FROM task_revisions \
             WHERE task = $1 AND revision = $2",
        )
        .bind(task)
        .bind(db_revision(revision))
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err(format!(
            "read revision {revision} of task {task}"
        )))?;
        row.as_ref().map(revision_from_row).transpose()
    }
}

async fn insert_revision(
    conn: &mut sqlx::AnyConnection,
    task: &str,
    revision: u64,
    config: &str,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO task_revisions (task, revision, config, author, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(task)
    .bind(db_revision(revision))
    .bind(config)
    .bind(&audit.actor)
    .bind(audit.at_ms)
    .execute(conn)
    .await
    .map_err(query_err(format!(
        "store revision {revision} of task {task}"
    )))?;
    Ok(())
}

fn revision_from_row(row: &sqlx::any::AnyRow) -> Result<RevisionRecord, StoreError> {
    let bad = corrupt("a row of task_revisions");
    let task: String = row.try_get("task").map_err(|e| bad(e.to_string()))?;
    let revision: i64 = row.try_get("revision").map_err(|e| bad(e.to_string()))?;
    let config: String = row.try_get("config").map_err(|e| bad(e.to_string()))?;
    Ok(RevisionRecord {
        revision: revision_of(revision, &task)?,
        config: serde_json::from_str(&config).map_err(|e| bad(format!("config: {e}")))?,
        author: row.try_get("author").map_err(|e| bad(e.to_string()))?,
        created_at_ms: row
            .try_get("created_at_ms")
            .map_err(|e| bad(e.to_string()))?,
        task,
    })
}
