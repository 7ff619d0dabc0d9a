//! What `/status` and `/health` say: each task's state, progress and checkpoint, and each
//! sink's health with its last error and last outage.
//!
//! The pipeline reports what happened (through [`super::TaskObserver`] and
//! [`super::ObservedSink`]); this module only keeps the record. Times are milliseconds since
//! the Unix epoch, passed in by the caller so that the bookkeeping is testable without a clock.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Opening its sinks and connecting to the source.
    Starting,
    /// Streaming.
    Running,
    /// Ended cleanly (shutdown).
    Stopped,
    /// Ended with a definite error (`error` says which).
    Failed,
}

/// Whether a sink takes what it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkState {
    Ok,
    /// Its last write or flush failed; the pipeline retries it.
    Failing,
}

/// One task, as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskStatus {
    pub name: String,
    pub state: TaskState,
    /// Why the task failed.
    pub error: Option<String>,
    pub checkpoint: Option<CheckpointStatus>,
    /// Now minus the binlog time of the last delivered event, when it was delivered (the binlog
    /// gives whole seconds).
    pub lag_ms: Option<u64>,
    /// Events decoded from the binlog (filled from the metrics when the status is read).
    pub events_read: u64,
    /// Events (after filtering) that every sink took (filled as `events_read`).
    pub events_delivered: u64,
    pub sinks: Vec<SinkStatus>,
    /// The snapshot in progress, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<sluice_core::coordination::SnapshotStatusReport>,
    /// The last thing the task recovered from by itself that the operator should know of
    /// (a purged resume position replaced by a new snapshot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_warning: Option<LastError>,
}

/// The last checkpoint written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointStatus {
    /// Where the task resumes: `FILE:POS`.
    pub position: String,
    pub at_ms: u64,
}

/// One sink, as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkStatus {
    pub name: String,
    pub state: SinkState,
    /// When the current run of failures began.
    pub failing_since_ms: Option<u64>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u64,
    pub last_error: Option<LastError>,
    /// The last run of failures that ended in a success.
    pub last_outage: Option<Outage>,
}

/// A sink's most recent error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastError {
    pub message: String,
    pub at_ms: u64,
}

/// A run of failures that ended: from the first failure to the success after the last one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outage {
    pub started_ms: u64,
    pub ended_ms: u64,
    pub seconds: f64,
    pub failed_attempts: u64,
}

impl SinkStatus {
    fn new(name: &str) -> SinkStatus {
        SinkStatus {
            name: name.to_string(),
            state: SinkState::Ok,
            failing_since_ms: None,
            consecutive_failures: 0,
            last_error: None,
            last_outage: None,
        }
    }

    /// Records a failed write or flush.
    pub fn failed(&mut self, message: String, now_ms: u64) {
        if self.state == SinkState::Ok {
            self.state = SinkState::Failing;
            self.failing_since_ms = Some(now_ms);
        }
        self.consecutive_failures += 1;
        self.last_error = Some(LastError {
            message,
            at_ms: now_ms,
        });
    }

    /// Records a success; returns the outage it ends, if the sink was failing.
    pub fn succeeded(&mut self, now_ms: u64) -> Option<Outage> {
        if self.state == SinkState::Ok {
            return None;
        }
        let started_ms = self.failing_since_ms.unwrap_or(now_ms);
        let outage = Outage {
            started_ms,
            ended_ms: now_ms,
            seconds: now_ms.saturating_sub(started_ms) as f64 / 1000.0,
            failed_attempts: self.consecutive_failures,
        };
        self.state = SinkState::Ok;
        self.failing_since_ms = None;
        self.consecutive_failures = 0;
        self.last_outage = Some(outage.clone());
        Some(outage)
    }
}

impl TaskStatus {
    fn new(name: &str, sinks: &[&str]) -> TaskStatus {
        TaskStatus {
            name: name.to_string(),
            state: TaskState::Starting,
            error: None,
            checkpoint: None,
            lag_ms: None,
            events_read: 0,
            events_delivered: 0,
            sinks: sinks.iter().map(|s| SinkStatus::new(s)).collect(),
            snapshot: None,
            last_warning: None,
        }
    }

    /// The sink named `name` (added if the task did not declare it).
    pub fn sink(&mut self, name: &str) -> &mut SinkStatus {
        let i = match self.sinks.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.sinks.push(SinkStatus::new(name));
                self.sinks.len() - 1
            }
        };
        &mut self.sinks[i]
    }
}

/// The status of every task of a node, shared by the pipeline (writing) and the HTTP server
/// (reading). Updates are per batch, never per event.
#[derive(Clone, Default)]
pub struct StatusBoard {
    tasks: Arc<Mutex<Vec<TaskStatus>>>,
}

impl StatusBoard {
    /// Adds task `name` with its sinks, `starting` (or starts it afresh if it is there).
    pub fn add_task(&self, name: &str, sinks: &[&str]) {
        let mut tasks = self.lock();
        let fresh = TaskStatus::new(name, sinks);
        match tasks.iter_mut().find(|t| t.name == name) {
            Some(t) => *t = fresh,
            None => tasks.push(fresh),
        }
    }

    /// Changes task `name`'s record; a task not added is ignored.
    pub fn update<R>(&self, name: &str, change: impl FnOnce(&mut TaskStatus) -> R) -> Option<R> {
        self.lock().iter_mut().find(|t| t.name == name).map(change)
    }

    /// Every task's status, in the order they were added.
    pub fn snapshot(&self) -> Vec<TaskStatus> {
        self.lock().clone()
    }

    /// `Ok` while every task is starting or running; else what is wrong, one task per line.
    pub fn health(&self) -> Result<(), String> {
        let problems: Vec<String> = self
            .lock()
            .iter()
            .filter_map(|t| match t.state {
                TaskState::Starting | TaskState::Running => None,
                TaskState::Stopped => Some(format!("task {} stopped", t.name)),
                TaskState::Failed => Some(format!(
                    "task {} failed: {}",
                    t.name,
                    t.error.as_deref().unwrap_or("unknown error")
                )),
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<TaskStatus>> {
        // A panic elsewhere while holding the lock leaves plain data behind: still readable.
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board() -> StatusBoard {
        let b = StatusBoard::default();
        b.add_task("orders", &["file", "redis-cache"]);
        b
    }

    fn sink(b: &StatusBoard, name: &str) -> SinkStatus {
        b.update("orders", |t| t.sink(name).clone()).unwrap()
    }

    #[test]
    fn a_new_task_is_starting_with_its_sinks_ok() {
        let b = board();
        let t = &b.snapshot()[0];
        assert_eq!(t.state, TaskState::Starting);
        assert_eq!(t.sinks.len(), 2);
        assert!(t.sinks.iter().all(|s| s.state == SinkState::Ok));
        assert_eq!(b.health(), Ok(()));
    }

    #[test]
    fn failures_then_a_success_make_one_outage() {
        let b = board();
        for (i, at) in [10_000, 10_100, 10_300].into_iter().enumerate() {
            b.update("orders", |t| {
                t.sink("redis-cache")
                    .failed(format!("Redis refused ({i})"), at)
            });
        }
        let failing = sink(&b, "redis-cache");
        assert_eq!(failing.state, SinkState::Failing);
        assert_eq!(failing.failing_since_ms, Some(10_000));
        assert_eq!(failing.consecutive_failures, 3);
        assert_eq!(
            failing.last_error,
            Some(LastError {
                message: "Redis refused (2)".into(),
                at_ms: 10_300
            })
        );
        assert_eq!(failing.last_outage, None);

        let ended = b.update("orders", |t| t.sink("redis-cache").succeeded(41_200));
        let expected = Outage {
            started_ms: 10_000,
            ended_ms: 41_200,
            seconds: 31.2,
            failed_attempts: 3,
        };
        assert_eq!(ended, Some(Some(expected.clone())));
        let ok = sink(&b, "redis-cache");
        assert_eq!(ok.state, SinkState::Ok);
        assert_eq!(ok.failing_since_ms, None);
        assert_eq!(ok.consecutive_failures, 0);
        assert_eq!(ok.last_outage, Some(expected));
        // The last error stays visible after the recovery.
        assert_eq!(ok.last_error.map(|e| e.at_ms), Some(10_300));
        // The other sink was never touched.
        assert_eq!(sink(&b, "file").last_error, None);
    }

    #[test]
    fn a_success_without_failures_is_no_outage() {
        let b = board();
        assert_eq!(
            b.update("orders", |t| t.sink("file").succeeded(5)),
            Some(None)
        );
        assert_eq!(sink(&b, "file").last_outage, None);
    }

    #[test]
    fn a_second_outage_replaces_the_first() {
        let b = board();
        b.update("orders", |t| {
            let s = t.sink("file");
            s.failed("disk full".into(), 1_000);
            s.succeeded(2_000);
            s.failed("disk full".into(), 5_000);
            s.failed("disk full".into(), 6_000);
            s.succeeded(9_500);
        });
        let s = sink(&b, "file");
        let outage = s.last_outage.unwrap();
        assert_eq!((outage.started_ms, outage.ended_ms), (5_000, 9_500));
        assert_eq!(outage.failed_attempts, 2);
        assert_eq!(outage.seconds, 4.5);
    }

    #[test]
    fn health_names_the_failed_task_and_why() {
        let b = board();
        b.add_task("audit", &["file"]);
        b.update("orders", |t| t.state = TaskState::Running);
        assert_eq!(b.health(), Ok(()));
        b.update("audit", |t| {
            t.state = TaskState::Failed;
            t.error = Some("binlog purged".into());
        });
        assert_eq!(
            b.health(),
            Err("task audit failed: binlog purged".to_string())
        );
    }

    #[test]
    fn the_json_uses_the_documented_names() {
        let b = board();
        b.update("orders", |t| t.sink("file").failed("boom".into(), 7));
        let json = serde_json::to_value(b.snapshot()).unwrap();
        assert_eq!(json[0]["state"], "starting");
        assert_eq!(json[0]["sinks"][0]["state"], "failing");
        assert_eq!(json[0]["sinks"][0]["failing_since_ms"], 7);
        assert_eq!(json[0]["sinks"][0]["last_error"]["message"], "boom");
        assert_eq!(json[0]["sinks"][1]["state"], "ok");
    }
}
