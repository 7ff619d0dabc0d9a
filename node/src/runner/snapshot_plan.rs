//! Whether a task run snapshots its tables, and from where: the progress a checkpoint carries
//! (continue at the last delivered chunk, whatever the snapshot: initial or on demand), or
//! `snapshot.mode = "initial"` on a first start (no checkpoint: stream from the binlog's end,
//! read every table). A checkpoint without progress means no snapshot was in progress. While
//! the task runs, an on-demand request starts a snapshot of its tables (`open_requested`).

use std::sync::Arc;

use sluice_core::config::{SnapshotMode, TaskConfig};
use sluice_core::coordination::SnapshotRequest;

use super::checkpoint::{Checkpoint, Checkpoints};
use super::coverage::{self, Coverage};
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

/// The run's snapshot, and the checkpoint to store before the filters are recorded as covered
/// (when tables added to the filters join the snapshot: see [`plan_snapshot`]).
pub(super) struct SnapshotDecision {
    pub plan: Option<SnapshotPlan>,
    /// Store this (where the checkpoint is kept: an exactly-once sink commits it), then
    /// [`record_coverage`]; in that order, so a crash between the two finds the added tables
    /// in the checkpoint's progress and only records the patterns again.
    pub store_first: Option<Checkpoint>,
}

/// Decides the run's snapshot from the checkpoint it resumes from (`checkpoint`: the one an
/// exactly-once sink committed with its events, else the store's). The caller then stores
/// `store_first` if any and records the coverage ([`record_coverage`]).
pub(super) async fn plan_snapshot(
    task: &TaskConfig,
    store: &dyn Checkpoints,
    checkpoint: Option<Checkpoint>,
) -> Result<SnapshotDecision, TaskError> {
    let plan = match &checkpoint {
        None if task.snapshot.mode == SnapshotMode::Initial => Some(SnapshotPlan { from: None }),
        None => None,
        Some(c) => c.snapshot.clone().map(|p| SnapshotPlan { from: Some(p) }),
    };
    match checkpoint {
        // A first start covers the tables its filters take in: by the initial snapshot, or
        // by streaming from now on.
        None => Ok(SnapshotDecision {
            plan,
            store_first: None,
        }),
        Some(c) => cover_added_tables(task, store, &c, plan).await,
    }
}

/// Records that the stream covers the tables `task`'s filters take in.
pub(super) async fn record_coverage(
    task: &TaskConfig,
    store: &dyn Checkpoints,
) -> Result<(), TaskError> {
    let bytes = serde_json::to_vec(&Coverage::of(task)).map_err(|e| TaskError::Snapshot {
        task: task.name.clone(),
        source: SnapshotError::Query {
            what: "recording the covered tables".into(),
            detail: e.to_string(),
        },
    })?;
    store
        .save_data(coverage::RECORD, &bytes)
        .await
        .map_err(|source| TaskError::Checkpoint {
            task: task.name.clone(),
            source,
        })
}

/// When the filters take in tables the last run's did not, and snapshots are on, the plan
/// grows by those tables (`coverage`), in a checkpoint to store before the new filters are
/// recorded as covered.
async fn cover_added_tables(
    task: &TaskConfig,
    store: &dyn Checkpoints,
    checkpoint: &Checkpoint,
    plan: Option<SnapshotPlan>,
) -> Result<SnapshotDecision, TaskError> {
    let unchanged = |plan| SnapshotDecision {
        plan,
        store_first: None,
    };
    let snapshot_error = |what: &str, detail: String| TaskError::Snapshot {
        task: task.name.clone(),
        source: SnapshotError::Query {
            what: what.into(),
            detail,
        },
    };
    let saved =
        store
            .load_data(coverage::RECORD)
            .await
            .map_err(|source| TaskError::Checkpoint {
                task: task.name.clone(),
                source,
            })?;
    let old: Option<Coverage> = match saved {
        // A record this version cannot read is taken as absent: it only loses the diff.
        Some(bytes) => serde_json::from_slice(&bytes).ok(),
        None => None,
    };
    let Some(old) = old.filter(|old| *old != Coverage::of(task)) else {
        // Unchanged; or no record (a task from before coverage was kept): what its stream
        // covered is unknown, so from now on it is what the filters say.
        return Ok(unchanged(plan));
    };
    if task.snapshot.mode == SnapshotMode::Never {
        tracing::info!(
            "The filters changed; tables they now take in are not snapshotted \
             (`snapshot.mode = \"never\"`): only their changes from now on reach the sinks."
        );
        return Ok(unchanged(plan));
    }
    let url = task.source.url.replacen("mariadb://", "mysql://", 1);
    let tables = coverage::list_tables(&url)
        .await
        .map_err(|e| snapshot_error("finding the tables the new filters take in", e))?;
    let added = coverage::added_tables(task, &old, &tables)
        .map_err(|e| snapshot_error("compiling the table patterns", e))?;
    let running = checkpoint.snapshot.as_ref();
    let in_scope = running
        .and_then(|p| p.tables.as_ref())
        .is_some_and(|scope| added.iter().all(|t| scope.contains(t)));
    if added.is_empty() || in_scope {
        return Ok(unchanged(plan));
    }
    let remaining = match running {
        Some(p) => coverage::remaining_tables(task, p, &tables)
            .map_err(|e| snapshot_error("compiling the table patterns", e))?,
        None => Vec::new(),
    };
    let from = coverage::merged_progress(running, remaining, &added);
    tracing::info!(tables = %added.join(", "),
        "The filters now take in more tables: snapshotting them while streaming.");
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Ok(SnapshotDecision {
        plan: Some(SnapshotPlan { from: from.clone() }),
        store_first: Some(Checkpoint {
            position: checkpoint.position.clone(),
            at_ms,
            snapshot: from,
        }),
    })
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
