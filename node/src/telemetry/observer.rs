//! What a task's pipeline reports as it runs: each call updates the metrics and the status
//! together, so the two never tell different stories. Called per batch (the source meter per
//! binlog event, with atomic adds only).

use std::sync::Arc;

use sluice_core::Event;
use sluice_sinks::Sink;

use super::metrics::{Metrics, TaskMetrics};
use super::observed_sink::ObservedSink;
use super::status::{now_ms, CheckpointStatus, LastError, StatusBoard, TaskState};
use crate::runner::checkpoint::Checkpoint;

/// One task's reporter; cheap to clone (the reader and the sink side each hold one).
#[derive(Clone)]
pub struct TaskObserver {
    task: String,
    metrics: TaskMetrics,
    all_metrics: Arc<Metrics>,
    board: StatusBoard,
}

impl TaskObserver {
    pub(super) fn new(task: &str, all_metrics: Arc<Metrics>, board: StatusBoard) -> Self {
        TaskObserver {
            task: task.to_string(),
            metrics: all_metrics.task(task),
            all_metrics,
            board,
        }
    }

    /// `sink` with its writes and flushes counted, timed and recorded in the status.
    pub fn observe_sink(&self, sink: Box<dyn Sink>) -> Box<dyn Sink> {
        let metrics = self.all_metrics.sink(&self.task, sink.name());
        Box::new(ObservedSink::new(
            sink,
            self.task.clone(),
            metrics,
            self.board.clone(),
        ))
    }

    /// The source is streaming.
    pub fn running(&self) {
        self.set_state(TaskState::Running, None);
    }

    /// The task ended: cleanly (`None`) or with an error.
    pub fn ended(&self, error: Option<String>) {
        match error {
            None => self.set_state(TaskState::Stopped, None),
            Some(e) => self.set_state(TaskState::Failed, Some(e)),
        }
    }

    fn set_state(&self, state: TaskState, error: Option<String>) {
        self.board.update(&self.task, |t| {
            t.state = state;
            t.error = error;
        });
    }

    /// A meter for the reader, which sees the source's running totals.
    pub fn source_meter(&self) -> SourceMeter {
        SourceMeter {
            observer: self.clone(),
            bytes: 0,
            reconnects: 0,
        }
    }

    /// Batches waiting in the queue between the source and the sinks.
    pub fn set_queue_batches(&self, batches: usize) {
        self.metrics.queue_batches.set(batches as i64);
    }

    /// Estimated bytes waiting in the queue between the source and the sinks.
    pub fn set_queue_bytes(&self, bytes: usize) {
        self.metrics.queue_bytes.set(bytes as i64);
    }

    /// Every sink took `batch` (already filtered).
    pub fn delivered(&self, batch: &[Event]) {
        self.metrics.delivered_events.inc_by(batch.len() as u64);
        // Events a server writes without a time (ts 0) say nothing about the lag.
        let event_ms = batch
            .iter()
            .rev()
            .map(|e| e.position.ts_ms)
            .find(|&t| t > 0);
        let lag_ms = event_ms.map(|t| now_ms().saturating_sub(t));
        if let Some(lag) = lag_ms {
            self.metrics.lag.set(lag as f64 / 1000.0);
        }
        if lag_ms.is_some() {
            self.board.update(&self.task, |t| t.lag_ms = lag_ms);
        }
    }

    /// Where the snapshot in progress is (`None`: none is); called per batch read while one
    /// runs.
    pub fn snapshot(&self, status: Option<sluice_core::coordination::SnapshotStatusReport>) {
        self.board.update(&self.task, |t| t.snapshot = status);
    }

    /// The task recovered by itself from something the operator should know of (it is logged
    /// too, by the caller).
    pub fn warned(&self, message: String) {
        self.board.update(&self.task, |t| {
            t.last_warning = Some(LastError {
                message,
                at_ms: now_ms(),
            });
        });
    }

    /// A checkpoint was written.
    pub fn checkpointed(&self, checkpoint: &Checkpoint) {
        self.metrics.checkpoints.inc();
        self.metrics
            .checkpoint_time
            .set((checkpoint.at_ms / 1000) as i64);
        self.board.update(&self.task, |t| {
            t.checkpoint = Some(CheckpointStatus {
                position: checkpoint.position.to_string(),
                at_ms: checkpoint.at_ms,
            });
        });
    }
}

/// Counts what the source reader reads (atomic adds only: it runs per binlog event). The source
/// keeps running totals of bytes and reconnects; the meter turns them into counter increments.
pub struct SourceMeter {
    observer: TaskObserver,
    bytes: u64,
    reconnects: u64,
}

impl SourceMeter {
    /// The reader got `events` more events; the source's totals are now `bytes` and
    /// `reconnects` (a new source starts again from 0).
    pub fn read(&mut self, events: usize, bytes: u64, reconnects: u64) {
        let m = &self.observer.metrics;
        m.source_events.inc_by(events as u64);
        m.source_bytes.inc_by(since(&mut self.bytes, bytes));
        m.source_reconnects
            .inc_by(since(&mut self.reconnects, reconnects));
    }
}

/// How much `total` grew since `last` (all of it if it restarted from 0); remembers it.
fn since(last: &mut u64, total: u64) -> u64 {
    let grown = total.checked_sub(*last).unwrap_or(total);
    *last = total;
    grown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_total_becomes_increments_even_across_a_restart() {
        let mut last = 0;
        assert_eq!(since(&mut last, 100), 100);
        assert_eq!(since(&mut last, 150), 50);
        assert_eq!(since(&mut last, 150), 0);
        // A new source counts from 0 again.
        assert_eq!(since(&mut last, 30), 30);
        assert_eq!(since(&mut last, 40), 10);
    }
}
