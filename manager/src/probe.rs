//! What the manager asks of the services a task names, before the task runs: whether its source
//! and sinks answer (`POST /api/v1/connections/test`), and a sample of the events the task would
//! deliver (`POST /api/v1/preview`).
//!
//! The manager does not run binlog or sink code itself: the binary hands it an implementation
//! of [`TaskProbe`] (the node's), and without one these endpoints answer 501.

use std::time::Duration;

use serde::Serialize;
use sluice_core::config::TaskConfig;

/// How one service answered a connection test: `detail` on success, `error` on failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckOutcome {
    pub ok: bool,
    /// What was found, e.g. `MariaDB 10.11.9, binlog ROW, row image FULL`.
    pub detail: Option<String>,
    /// What failed, naming the host and the step (connect, login, a setting).
    pub error: Option<String>,
}

impl CheckOutcome {
    pub fn passed(detail: impl Into<String>) -> CheckOutcome {
        CheckOutcome {
            ok: true,
            detail: Some(detail.into()),
            error: None,
        }
    }

    pub fn failed(error: impl Into<String>) -> CheckOutcome {
        CheckOutcome {
            ok: false,
            detail: None,
            error: Some(error.into()),
        }
    }
}

/// One sink's connection test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkCheck {
    pub name: String,
    /// The sink type: `kafka`, `redis`, `file`.
    pub kind: String,
    #[serde(flatten)]
    pub outcome: CheckOutcome,
}

/// The connection test of a whole task: its source and every sink, in config order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionReport {
    pub source: CheckOutcome,
    pub sinks: Vec<SinkCheck>,
}

/// The events a task would deliver, read live from its source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    /// Row and DDL events after the task's filters, in Sluice's JSON event form.
    pub events: Vec<serde_json::Value>,
    /// `FILE:POS` (or the GTID set) the preview read from.
    pub from: String,
    pub waited_ms: u64,
    /// Whether the limit was reached (rather than the wait running out).
    pub complete: bool,
}

/// Why a preview could not read its source.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The source could not be reached, refused the login, or is not set up for change capture.
    #[error("{0}")]
    Source(String),
    /// A config value the source refuses (a start position it no longer has, say): `field`
    /// names it as the config errors do.
    #[error("{field}: {message}")]
    Config { field: String, message: String },
}

/// Talks to the services of a task config; implemented by the node (`sluice_node::probe`).
#[async_trait::async_trait]
pub trait TaskProbe: Send + Sync {
    /// Tries the source and every sink, concurrently, each within a few seconds.
    async fn test_connections(&self, task: &TaskConfig) -> ConnectionReport;

    /// Reads the source from its current end (or the config's `start`) and returns up to
    /// `limit` filtered row and DDL events that arrive within `wait`.
    async fn preview(
        &self,
        task: &TaskConfig,
        limit: usize,
        wait: Duration,
    ) -> Result<Preview, ProbeError>;
}
