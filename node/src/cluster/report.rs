//! A task's status as the node reports it to the coordinator (and the manager shows it),
//! made from the node's telemetry, with the delivery rate since the previous report.

use std::collections::HashMap;
use std::time::Instant;

use sluice_core::coordination::{SinkStatusReport, TaskStatusReport};

use crate::telemetry::{SinkState, TaskState, TaskStatus};

/// Remembers each task's last count to turn counts into rates.
#[derive(Default)]
pub struct StatusReporter {
    last: HashMap<String, (u64, Instant)>,
}

impl StatusReporter {
    /// The report of task `name` run by `node` at config `revision`: from its telemetry
    /// `status`, or failed with `invalid` when its config could not even be read.
    pub fn report(
        &mut self,
        name: &str,
        status: Option<&TaskStatus>,
        invalid: Option<String>,
        node: &str,
        revision: u64,
    ) -> TaskStatusReport {
        let at_ms = crate::telemetry::now_ms();
        let Some(status) = status.filter(|_| invalid.is_none()) else {
            return TaskStatusReport {
                state: "failed".into(),
                node: node.to_string(),
                revision,
                lag_ms: None,
                events_per_sec: 0.0,
                events_total: 0,
                sinks: Vec::new(),
                last_error: invalid,
                at_ms,
                snapshot: None,
            };
        };
        let now = Instant::now();
        let delivered = status.events_delivered;
        let rate = match self.last.insert(name.to_string(), (delivered, now)) {
            Some((before, at)) if now > at && delivered >= before => {
                (delivered - before) as f64 / (now - at).as_secs_f64()
            }
            _ => 0.0,
        };
        let state = match status.state {
            TaskState::Starting => "starting",
            TaskState::Running => "running",
            TaskState::Stopped => "stopped",
            TaskState::Failed => "failed",
        };
        TaskStatusReport {
            state: state.into(),
            node: node.to_string(),
            revision,
            lag_ms: status.lag_ms,
            events_per_sec: rate,
            events_total: delivered,
            sinks: status
                .sinks
                .iter()
                .map(|s| SinkStatusReport {
                    name: s.name.clone(),
                    state: match s.state {
                        SinkState::Ok => "ok".into(),
                        SinkState::Failing => "failing".into(),
                    },
                    last_error: s.last_error.as_ref().map(|e| e.message.clone()),
                })
                .collect(),
            // A failure, else what the task last recovered from by itself (so the manager shows
            // that a purged position was replaced by a new snapshot).
            last_error: status.error.clone().or_else(|| {
                status
                    .last_warning
                    .as_ref()
                    .map(|w| format!("warning: {}", w.message))
            }),
            at_ms,
            snapshot: status.snapshot.clone(),
        }
    }
}
