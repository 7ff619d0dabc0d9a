//! What the coordinator knows: the live nodes, a task's live status, and restarting a task
//! from a binlog position (its checkpoint replaced).

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_core::coordination::{CoordinationError, NodeInfo};
use sluice_core::BinlogPosition;

use super::{body, ApiError, AppState, Caller};
use crate::secrets::redacted;
use crate::store::{now_ms, AuditEntry, TaskRecord};

pub async fn nodes(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<NodeInfo>>, ApiError> {
    let nodes = state
        .coordinator
        .nodes()
        .await
        .map_err(|e| ApiError::coordinator("listing the nodes", &e))?;
    Ok(Json(nodes))
}

/// `GET /api/v1/tasks/{name}/status`: the stored revision and what the coordinator holds
/// (published config without secrets, desired state, owner, checkpoint, last status report).
pub async fn status(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let task = state
        .store
        .get_task(&name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("task {name} not found")))?;
    Ok(Json(task_status(&state, &task).await?))
}

/// A stored task with the coordinator's view of it, secrets hidden: the body of the status
/// route and each task of the overview.
pub async fn task_status(state: &AppState, task: &TaskRecord) -> Result<Value, ApiError> {
    let name = &task.name;
    let view = state
        .coordinator
        .task_view(name)
        .await
        .map_err(|e| ApiError::coordinator(&format!("task {name}: reading its status"), &e))?;
    let coordinator = serde_json::to_value(&view)
        .map_err(|e| ApiError::Internal(format!("task {name}: status not serialisable: {e}")))?;
    Ok(json!({
        "name": name,
        "revision": task.revision,
        "published_revision": task.published_revision,
        "desired": task.desired,
        "coordinator": redacted(&coordinator),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Restart {
    /// `FILE:POS`.
    position: String,
}

/// `POST /api/v1/tasks/{name}/restart {"position": "FILE:POS"}`: replaces the task's checkpoint,
/// so its next run starts there. The coordinator refuses while a node owns the task: pause it
/// first and wait until its status shows no owner.
pub async fn restart(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    text: String,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("restarting a task from a position")?;
    let restart: Restart = body::parse(&text)?;
    let position = BinlogPosition::parse(restart.position.trim()).map_err(|e| {
        ApiError::field(
            "position",
            Some(restart.position.clone()),
            format!("{e}; expected FILE:POS, e.g. binlog.000042:4"),
        )
    })?;
    if state.store.get_task(&name).await?.is_none() {
        return Err(ApiError::NotFound(format!("task {name} not found")));
    }
    state
        .coordinator
        .reset_checkpoint(&name, &position, None)
        .await
        .map_err(|e| match e {
            CoordinationError::Conflict { .. } | CoordinationError::NotOwner { .. } => {
                ApiError::Conflict(format!(
                    "task {name}: a node still runs it, so its checkpoint cannot be replaced: \
                     pause it, wait until its status shows no owner, then restart ({e})"
                ))
            }
            CoordinationError::NoSuchTask { .. } => ApiError::Conflict(format!(
                "task {name} is not in the coordinator yet (its publication failed and is \
                 retried): restart it once `published_revision` has caught up ({e})"
            )),
            e => ApiError::coordinator(&format!("task {name}: replacing its checkpoint"), &e),
        })?;
    state
        .store
        .audit(&AuditEntry {
            actor: caller.name.clone(),
            action: "task.restart",
            task: Some(name.clone()),
            summary: format!("checkpoint replaced by {position}"),
            at_ms: now_ms(),
        })
        .await?;
    tracing::info!(task = %name, "Task `{name}`: checkpoint set to {position} by `{}`.", caller.name);
    Ok(Json(
        json!({ "name": name, "position": position.to_string() }),
    ))
}
