//! Whether a task run snapshots its tables, and from where: the progress a checkpoint carries
//! (continue at the last delivered chunk, whatever the snapshot: initial or on demand), or
//! `snapshot.mode = "initial"` on a first start (no checkpoint: stream from the binlog's end,
//! read every table). A checkpoint without progress means no snapshot was in progress. While
//! the task runs, an on-demand request starts a snapshot of its tables (`open_requested`).

use std::sync::Arc;

use sluice_core::config::{SnapshotMode, TaskConfig};
use sluice_core::coordination::SnapshotRequest;

use super::checkpoint::Checkpoints;
use super::task::TaskError;
use crate::snapshot::{
    ProgressLedger, SnapshotError, SnapshotProgress, SnapshotScope, Snapshotter,
};

/// A snapshot this run performs.
pub(super) struct SnapshotPlan {
    /// Where it continues; `None`: from the first table (a first start).
    pub from: Option<SnapshotProgress>,
}

impl SnapshotPlan {
    /// Whether this is the task's first start, which streams from the binlog's current end.
    pub fn is_fresh(&self) -> bool {
        self.from.is_none()
    }
}

/// The refusal of a snapshot with an exactly-once sink.
pub(super) fn exact_refusal(task: &TaskConfig) -> TaskError {
    TaskError::Snapshot {
        task: task.name.clone(),
        source: SnapshotError::Unsupported {
            detail: "snapshots are not supported with an exactly-once Kafka sink (its \
                     transactions keep only the binlog position, not a snapshot's progress): \
                     set `exactly_once = false`, or `snapshot.mode = \"never\"`"
                .into(),
        },
    }
}

/// Decides the run's snapshot. `exact`: a sink keeps the checkpoint with its events.
pub(super) async fn plan_snapshot(
    task: &TaskConfig,
    store: &dyn Checkpoints,
    exact: bool,
) -> Result<Option<SnapshotPlan>, TaskError> {
    if task.snapshot.mode == SnapshotMode::Never && exact {
        return Ok(None);
    }
    let checkpoint = store.load().await.map_err(|source| TaskError::Checkpoint {
        task: task.name.clone(),
        source,
    })?;
    let plan = match checkpoint {
        None if task.snapshot.mode == SnapshotMode::Initial => Some(SnapshotPlan { from: None }),
        None => None,
        Some(c) => c.snapshot.map(|p| SnapshotPlan { from: Some(p) }),
    };
    if plan.is_some() && exact {
        return Err(exact_refusal(task));
    }
    Ok(plan)
}

/// Opens the planned snapshot; until its first chunk is delivered a checkpoint claims its
/// start in `ledger`: table one, or where the checkpoint left off. (Discovery fills in the
/// first table's name.)
pub(super) async fn open_snapshot(
    task: &TaskConfig,
    url: &str,
    plan: SnapshotPlan,
    ledger: Arc<ProgressLedger>,
) -> Result<Snapshotter, TaskError> {
    let snapshotter = Snapshotter::open(
        task,
        url,
        plan.from,
        SnapshotScope::default(),
        ledger.clone(),
    )
    .await
    .map_err(|source| TaskError::Snapshot {
        task: task.name.clone(),
        source,
    })?;
    if let Some(first) = snapshotter.next_chunk() {
        ledger.reset_start(first.clone());
    }
    Ok(snapshotter)
}

/// Opens the snapshot `request` asks for, starting after everything `ledger` recorded.
/// `None` when none of its tables exists any more (nothing to read).
pub(super) async fn open_requested(
    task: &TaskConfig,
    url: &str,
    request: &SnapshotRequest,
    ledger: Arc<ProgressLedger>,
) -> Result<Option<Snapshotter>, TaskError> {
    let scope = SnapshotScope {
        request: Some(request.id),
        tables: Some(request.tables.clone()),
    };
    let snapshotter = Snapshotter::open(task, url, None, scope, ledger.clone())
        .await
        .map_err(|source| TaskError::Snapshot {
            task: task.name.clone(),
            source,
        })?;
    let Some(first) = snapshotter.next_chunk() else {
        return Ok(None);
    };
    ledger.begin(first.clone());
    Ok(Some(snapshotter))
}
