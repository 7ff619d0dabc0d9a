//! A resume position the server no longer has (its binlog files were purged), under
//! `snapshot.on_purged = "snapshot"`: the changes since the checkpoint cannot be read any more,
//! so the task starts again from the binlog's current end and snapshots its tables, which puts
//! into the sinks the rows as they are now in place of the lost changes. Until the new run's
//! first checkpoint, the stored one still names the purged position: a crash before then finds
//! it purged again and starts the same recovery, so nothing is skipped.

use sluice_core::config::{OnPurged, TaskConfig};

use super::task::TaskError;
use crate::telemetry::TaskObserver;
use crate::SourceError;

/// The position `error` says was purged, when the task's policy is to snapshot again.
pub(super) fn recoverable(task: &TaskConfig, error: &TaskError) -> Option<String> {
    match error {
        TaskError::Source {
            source: SourceError::PositionPurged { position, .. },
            ..
        } if task.snapshot.on_purged == OnPurged::Snapshot => Some(position.clone()),
        _ => None,
    }
}

/// Logs and shows in the status that position `lost` was replaced by a new snapshot
/// streaming from `start`.
pub(super) fn report(observer: &TaskObserver, lost: &str, start: &str) {
    let message = format!(
        "the resume position {lost} was purged from the server, so the changes since then are \
         lost; following `snapshot.on_purged = \"snapshot\"`, the task streams from {start} and \
         snapshots its tables again"
    );
    tracing::warn!(lost = %lost, start = %start,
        "The resume position `{lost}` was purged from the server; streaming from `{start}` and taking a new snapshot of every table.");
    observer.warned(message);
}
