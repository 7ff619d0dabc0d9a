//! Task configuration (the standalone TOML file, and later the manager's API), validated once,
//! purely, before anything runs: every problem is reported with the field, the value and what
//! is allowed, all at once rather than one per run.

mod error;
mod filters;
mod http;
mod kafka;
mod manager;
mod redis;
mod snapshot;
mod snapshot_request;
mod task_json;
mod validate;

use std::path::PathBuf;

use serde::Deserialize;

pub use error::{ConfigErrors, FieldError};
pub use filters::FiltersConfig;
pub use http::HttpConfig;
pub use kafka::{
    check_topic_name, KafkaSinkConfig, PartitionBy, TopicPart, TopicTemplate, KAFKA_FORMATS,
};
pub use manager::ManagerConfig;
pub use redis::{KeyPart, KeyTemplate, RedisFormat, RedisMode, RedisSinkConfig};
pub use snapshot::{OnPurged, SnapshotConfig, SnapshotMode, CHUNK_ROWS_RANGE};
pub use snapshot_request::{snapshot_request_problems, MAX_REQUESTED_TABLES};
pub use validate::{redact_url, valid_label};

use crate::position::{BinlogPosition, GtidSet};

/// A whole config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where checkpoints are kept (one folder per task).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Where `/metrics`, `/health` and `/status` are served; no server without it.
    #[serde(default)]
    pub http: Option<HttpConfig>,
    /// Standalone only: serve the manager's API and web UI from this process, the file's
    /// tasks imported into its store (see docs/manager.md).
    #[serde(default)]
    pub manager: Option<ManagerConfig>,
    #[serde(default)]
    pub tasks: Vec<TaskConfig>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}

/// One sync task: a source, and the sinks its events go to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Unique name: letters, digits, `-`, `_`, `.`; it names the checkpoint folder.
    pub name: String,
    pub source: SourceConfig,
    pub sinks: Vec<SinkConfig>,
    /// How often, at most, a checkpoint is written (milliseconds). Replays after a crash are
    /// bounded by this interval.
    #[serde(default = "default_checkpoint_ms")]
    pub checkpoint_interval_ms: u64,
    /// Which tables, columns, row operations and DDL reach the sinks (default: everything).
    #[serde(default)]
    pub filters: FiltersConfig,
    /// How much decoded data (MiB, estimated) may wait between the source and the sinks; when
    /// it is full the source waits. Bounds memory whatever the row and transaction sizes.
    #[serde(default = "default_queue_max_mib")]
    pub queue_max_mib: u32,
    /// Cluster mode: the labels a node must have (all of them) to run this task; empty: any
    /// node. Standalone mode ignores them.
    #[serde(default)]
    pub node_labels: Vec<String>,
    /// Whether the task first delivers the rows its tables already hold (op `r`).
    #[serde(default)]
    pub snapshot: SnapshotConfig,
}

impl TaskConfig {
    /// Whether a sink keeps the task's checkpoint with its events (a Kafka sink with
    /// `exactly_once`).
    pub fn has_exactly_once_sink(&self) -> bool {
        self.sinks
            .iter()
            .any(|s| matches!(s, SinkConfig::Kafka(k) if k.exactly_once))
    }
}

/// 16 MiB: enough to keep the sinks busy with batches of 4096 events (measured: no
/// throughput gain above it; 64 MiB cost 40 MiB more peak RSS).
fn default_queue_max_mib() -> u32 {
    16
}

fn default_checkpoint_ms() -> u64 {
    1000
}

/// Where the changes come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `mysql://USER:PASSWORD@HOST:PORT`, with optional `?require_ssl=true` and friends.
    pub url: String,
    /// The replica server id Sluice registers with: unique among the server's replicas.
    #[serde(default = "default_server_id")]
    pub server_id: u32,
    /// `current` (default), `earliest`, `FILE:POS` or `gtid:SET`. Used only when the task has no
    /// checkpoint yet.
    #[serde(default = "default_start")]
    pub start: String,
    /// Seconds between server heartbeats on an idle stream.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_secs: u64,
}

fn default_server_id() -> u32 {
    4_001_001
}
fn default_start() -> String {
    "current".into()
}
fn default_heartbeat() -> u64 {
    5
}

/// Where a task starts when it has no checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum StartFrom {
    Current,
    Earliest,
    Binlog(BinlogPosition),
    Gtid(GtidSet),
}

impl SourceConfig {
    /// The parsed `start` (validated by `Config::from_toml`).
    pub fn start_from(&self) -> Result<StartFrom, String> {
        validate::parse_start(&self.start)
    }
}

/// A sink: where events go.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SinkConfig {
    /// JSON lines to a file, or to stdout with `path = "-"`.
    File(FileSinkConfig),
    /// Keeps Redis keys true to the source rows: deletes them (invalidate) or writes rows (sync).
    Redis(RedisSinkConfig),
    /// Messages to Kafka topics, in one of the message formats (at-least-once).
    Kafka(KafkaSinkConfig),
}

impl SinkConfig {
    /// The sink's name (for status, logs and metrics).
    pub fn name(&self) -> &str {
        match self {
            SinkConfig::File(f) => f.name.as_deref().unwrap_or("file"),
            SinkConfig::Redis(r) => r.name(),
            SinkConfig::Kafka(k) => k.name(),
        }
    }
}

/// The file/stdout sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// A file to append JSON lines to, or `-` for stdout.
    pub path: String,
}

impl Config {
    /// Parses and validates a TOML config.
    pub fn from_toml(text: &str) -> Result<Config, ConfigErrors> {
        let deserializer = toml::Deserializer::new(text);
        let config: Config = serde_path_to_error::deserialize(deserializer)
            .map_err(|e| ConfigErrors::from_serde(e.path().to_string(), e.inner()))?;
        validate::validate(&config)?;
        Ok(config)
    }
}
