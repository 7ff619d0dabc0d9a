//! `POST /api/v1/tasks/{name}/snapshot`: an on-demand snapshot of some of a task's tables,
//! taken by the node running it while it streams (the request waits in the coordinator until
//! the task's owner takes it; the task's status shows the snapshot's progress).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_core::config::{snapshot_request_problems, TaskConfig};
use sluice_core::coordination::CoordinationError;

use super::{body, ApiError, AppState, Caller};
use crate::store::{now_ms, AuditEntry};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotBody {
    /// `db.table` names.
    tables: Vec<String>,
}

pub async fn request(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    text: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_admin("requesting a snapshot")?;
    let asked: SnapshotBody = body::parse(&text)?;
    let tables: Vec<String> = asked.tables.iter().map(|t| t.trim().to_string()).collect();
    let record = state
        .store
        .get_task(&name)
        .await?
        .filter(|t| !t.deleted)
        .ok_or_else(|| ApiError::NotFound(format!("task {name} not found")))?;
    let task = TaskConfig::from_json(&record.config.to_string()).map_err(|e| {
        ApiError::Internal(format!("task {name}: its stored config does not read: {e}"))
    })?;
    let problems = snapshot_request_problems(&task, &tables);
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems));
    }
    let request = state
        .coordinator
        .request_snapshot(&name, &tables, &caller.name)
        .await
        .map_err(|e| match e {
            CoordinationError::NoSuchTask { .. } => ApiError::Conflict(format!(
                "task {name} is not in the coordinator yet (its publication failed and is \
                 retried): request the snapshot once `published_revision` has caught up ({e})"
            )),
            e => ApiError::coordinator(&format!("task {name}: storing the snapshot request"), &e),
        })?;
    state
        .store
        .audit(&AuditEntry {
            actor: caller.name.clone(),
            action: "task.snapshot",
            task: Some(name.clone()),
            summary: format!("snapshot {} requested of {}", request.id, tables.join(", ")),
            at_ms: now_ms(),
        })
        .await?;
    tracing::info!(task = %name, request = request.id,
        "Task `{name}`: snapshot of {} requested by `{}`.", tables.join(", "), caller.name);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "name": name, "request": request })),
    ))
}
