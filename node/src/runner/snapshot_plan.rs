//! Whether a task run snapshots its tables, and from where: `snapshot.mode = "initial"` on a
//! first start (no checkpoint: stream from the binlog's end, read every table), or the progress
//! a checkpoint carries (continue at the last delivered chunk). A checkpoint without progress
//! means the snapshot finished, or the task ran before it had one: no snapshot.

use std::sync::Arc;

use sluice_core::config::{SnapshotMode, TaskConfig};

use super::checkpoint::Checkpoints;
use super::task::TaskError;
use crate::snapshot::{ProgressLedger, SnapshotError, SnapshotProgress, Snapshotter};

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

/// Decides the run's snapshot. `exact`: a sink keeps the checkpoint with its events.
pub(super) async fn plan_snapshot(
    task: &TaskConfig,
    store: &dyn Checkpoints,
    exact: bool,
) -> Result<Option<SnapshotPlan>, TaskError> {
    if task.snapshot.mode == SnapshotMode::Never {
        return Ok(None);
    }
    let refuse = |detail: &str| TaskError::Snapshot {
        task: task.name.clone(),
        source: SnapshotError::Unsupported {
            detail: detail.into(),
        },
    };
    if !store.keeps_snapshot_progress() {
        return Err(refuse(
            "`snapshot.mode = \"initial\"` is not supported in cluster mode yet (the \
             coordinator keeps only the binlog position, so a snapshot could not resume after \
             a failover): run the task standalone, or set `snapshot.mode = \"never\"`",
        ));
    }
    if exact {
        return Err(refuse(
            "`snapshot.mode = \"initial\"` is not supported with an exactly-once Kafka sink yet \
             (its transactions keep only the binlog position): set `exactly_once = false`, or \
             `snapshot.mode = \"never\"`",
        ));
    }
    let checkpoint = store.load().await.map_err(|source| TaskError::Checkpoint {
        task: task.name.clone(),
        source,
    })?;
    Ok(match checkpoint {
        None => Some(SnapshotPlan { from: None }),
        Some(c) => c.snapshot.map(|p| SnapshotPlan { from: Some(p) }),
    })
}

/// Opens the planned snapshot, with the ledger its checkpoints claim progress from.
pub(super) async fn open_snapshot(
    task: &TaskConfig,
    url: &str,
    plan: SnapshotPlan,
) -> Result<(Snapshotter, Arc<ProgressLedger>), TaskError> {
    let wrap = |source| TaskError::Snapshot {
        task: task.name.clone(),
        source,
    };
    // Until the first chunk is delivered a checkpoint claims the start: table one, or where
    // the checkpoint left off. (Discovery fills in the first table's name.)
    let ledger = Arc::new(ProgressLedger::new(plan.from.clone()));
    let snapshotter = Snapshotter::open(task, url, plan.from, ledger.clone())
        .await
        .map_err(wrap)?;
    if let Some(first) = snapshotter.next_chunk() {
        ledger.reset_start(first.clone());
    }
    Ok((snapshotter, ledger))
}
