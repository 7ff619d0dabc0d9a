//! `GET /api/v1/overview`: every task with the coordinator's view of it, and the live nodes, in
//! one answer: what a dashboard shows. `GET /api/v1/stream` sends the same snapshot as it
//! changes (`stream.rs`).

use axum::extract::State;
use axum::Json;
use futures_util::future::try_join_all;
use serde::Serialize;
use serde_json::Value;
use sluice_core::coordination::NodeInfo;

use super::cluster::task_status;
use super::{ApiError, AppState, Caller};

/// The whole cluster at one moment. Secrets hidden, as in every response.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    /// When it was taken (ms since the Unix epoch).
    pub at_ms: u64,
    /// Per task, the body `GET /api/v1/tasks/{name}/status` answers.
    pub tasks: Vec<Value>,
    pub nodes: Vec<NodeInfo>,
}

impl Snapshot {
    /// Whether `other` shows the same tasks and nodes (the time it was taken aside).
    pub fn same_as(&self, other: &Snapshot) -> bool {
        self.tasks == other.tasks && self.nodes == other.nodes
    }
}

/// Reads the store and the coordinator (the tasks' views concurrently).
pub async fn snapshot(state: &AppState) -> Result<Snapshot, ApiError> {
    let records = state.store.list_tasks().await?;
    let tasks = try_join_all(records.iter().map(|task| task_status(state, task))).await?;
    let nodes = state
        .coordinator
        .nodes()
        .await
        .map_err(|e| ApiError::coordinator("listing the nodes", &e))?;
    Ok(Snapshot {
        at_ms: u64::try_from(crate::store::now_ms()).unwrap_or(0),
        tasks,
        nodes,
    })
}

pub async fn overview(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Snapshot>, ApiError> {
    Ok(Json(snapshot(&state).await?))
}
