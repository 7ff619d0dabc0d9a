//! A node's telemetry: Prometheus metrics, the status of every task and sink, and the HTTP
//! endpoints that serve them (`/metrics`, `/health`, `/status`; `docs/metrics.md`).
//!
//! The pipeline reports through a [`TaskObserver`] per task and an [`ObservedSink`] around each
//! sink; each report updates the metrics and the status at once. Nothing here is on the hot
//! path per event: reports are per batch, and the metric handles are fetched once per task.

mod http;
mod metrics;
mod observed_sink;
mod observer;
mod status;

use std::sync::Arc;

use sluice_core::config::TaskConfig;

pub use http::{HttpError, HttpServer};
pub use metrics::{Metrics, SinkOp};
pub use observed_sink::ObservedSink;
pub use observer::{SourceMeter, TaskObserver};
pub use status::{now_ms, SinkState, SinkStatus, StatusBoard, TaskState, TaskStatus};

/// The metrics registry and the status board of one node, shared by its tasks and its HTTP
/// server.
#[derive(Clone, Default)]
pub struct Telemetry {
    metrics: Arc<Metrics>,
    board: StatusBoard,
}

impl Telemetry {
    /// Registers `task` (state `starting`, its sinks `ok`) and returns its observer.
    pub fn task(&self, task: &TaskConfig) -> TaskObserver {
        let sinks: Vec<&str> = task.sinks.iter().map(|s| s.name()).collect();
        self.board.add_task(&task.name, &sinks);
        for sink in &sinks {
            // Up until it fails; and every sink series exists from the start.
            self.metrics.sink(&task.name, sink).up.set(1);
        }
        TaskObserver::new(&task.name, self.metrics.clone(), self.board.clone())
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Whether every task is starting or running; else what is wrong.
    pub fn health(&self) -> Result<(), String> {
        self.board.health()
    }

    /// Every task's status, with its event counts taken from the metrics.
    pub fn status(&self) -> Vec<TaskStatus> {
        let mut tasks = self.board.snapshot();
        for t in &mut tasks {
            let m = self.metrics.task(&t.name);
            t.events_read = m.source_events.get();
            t.events_delivered = m.delivered_events.get();
        }
        tasks
    }
}
