//! Coordination between the manager and the nodes: which tasks exist (config and revision),
//! what the operator wants of them (running / paused / stopped), which node owns each, the
//! checkpoints and the status reports.
//!
//! Two implementations of [`Coordinator`]: ZooKeeper for cluster mode (`zookeeper.rs`, layout
//! in `docs/cluster.md`) and an in-process one for standalone mode (`in_process.rs`).
//!
//! Fencing: a node owns a task through an [`Ownership`] carrying an epoch. Every write a node
//! makes for a task (checkpoint, status, task data) is conditional on that ownership still
//! holding; once it is lost (session expired, task handed over), the write fails with
//! [`CoordinationError::NotOwner`] and the node must stop the task without writing anything.
//!
//! Task data: besides its checkpoint a task may keep named records (its schema history, ...)
//! in the coordinator, written fenced like the checkpoint ([`Coordinator::save_task_data`]) and
//! removed with the task. Names are checked by [`check_data_name`].

use serde::{Deserialize, Serialize};

use crate::snapshot_progress::SnapshotProgress;
use crate::BinlogPosition;

mod in_process;
mod rules;
mod zookeeper;

pub use in_process::InProcessCoordinator;
pub use rules::check_data_name;
use rules::{check_revision, next_request_id, node_taken, owned_conflict};
pub use zookeeper::{ZooKeeperConfig, ZooKeeperCoordinator};

/// What the operator wants of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    Running,
    Paused,
    Stopped,
}

/// A live node, as it registered itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Unique id (`--id`, default the host name).
    pub id: String,
    /// Where its HTTP endpoints (`/health`, `/metrics`) answer, `host:port`.
    pub addr: String,
    /// Sluice version of the node.
    pub version: String,
    /// Labels a task can ask for.
    pub labels: Vec<String>,
    /// When it started (ms since the Unix epoch).
    pub started_at_ms: u64,
}

/// A task's configuration as the manager published it: the task config as JSON (secrets
/// included: nodes need them) and its revision, which grows with every change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedTask {
    pub revision: u64,
    /// A `config::TaskConfig` in JSON form.
    pub config: serde_json::Value,
}

/// Who runs a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    pub node: String,
    /// Grows with every claim of the task: a write with an older epoch is refused.
    pub epoch: u64,
    pub since_ms: u64,
}

/// A task's checkpoint in the coordinator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    pub position: BinlogPosition,
    /// The owner epoch that wrote it.
    pub epoch: u64,
    pub at_ms: u64,
    /// Where a snapshot in progress continues (absent when none is; records written before
    /// snapshots were kept here read as such).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotProgress>,
}

/// A task's state as its owner reports it (the manager shows it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStatusReport {
    /// `starting`, `running`, `paused`, `stopped` or `failed`.
    pub state: String,
    pub node: String,
    /// The config revision the owner runs.
    pub revision: u64,
    pub lag_ms: Option<u64>,
    /// Events per second delivered, over the last report interval.
    pub events_per_sec: f64,
    pub events_total: u64,
    /// Per sink: name and state (`ok` / `failing`) with its last error.
    pub sinks: Vec<SinkStatusReport>,
    pub last_error: Option<String>,
    pub at_ms: u64,
    /// The snapshot in progress, if any (absent in reports of nodes without snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotStatusReport>,
}

/// The snapshot a task is taking, in its [`TaskStatusReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotStatusReport {
    /// The on-demand request it serves; `None`: the task's initial snapshot.
    pub request: Option<u64>,
    /// The table being read, `db.table`.
    pub table: String,
    /// Tables read completely, of `tables_total`.
    pub tables_done: usize,
    pub tables_total: usize,
    /// Rows delivered by this run of the snapshot so far.
    pub rows: u64,
}

/// An operator's request to snapshot some of a task's tables while it runs. The manager
/// writes it; the task's owner takes it when no snapshot is in progress and records so with
/// [`Coordinator::snapshot_taken`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRequest {
    /// Grows with every request of the task.
    pub id: u64,
    /// `db.table` names, each one the task's filters include.
    pub tables: Vec<String>,
    pub requested_at_ms: u64,
    /// The user who asked.
    pub requested_by: String,
}

/// One sink of a [`TaskStatusReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkStatusReport {
    pub name: String,
    pub state: String,
    pub last_error: Option<String>,
}

/// Everything the coordinator knows of one task (the manager's view).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub name: String,
    pub published: Option<PublishedTask>,
    pub desired: Option<DesiredState>,
    pub owner: Option<Ownership>,
    pub checkpoint: Option<StoredCheckpoint>,
    pub status: Option<TaskStatusReport>,
    /// The last on-demand snapshot request, if any was made.
    #[serde(default)]
    pub snapshot_request: Option<SnapshotRequest>,
    /// The id of the last request the owner took (a request with a higher id is pending).
    #[serde(default)]
    pub snapshot_taken: Option<u64>,
}

impl TaskView {
    /// The snapshot request no owner has taken yet, if any.
    pub fn pending_snapshot(&self) -> Option<&SnapshotRequest> {
        self.snapshot_request
            .as_ref()
            .filter(|r| self.snapshot_taken.is_none_or(|taken| r.id > taken))
    }
}

/// A change a node must look at: re-read the task list and each task's config and desired
/// state. Coalesced: one notice may stand for many changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TasksChanged;

/// Why a coordination call failed.
#[derive(Debug, thiserror::Error)]
pub enum CoordinationError {
    /// The coordinator cannot be reached or the session is not usable now (retry later).
    #[error("coordinator {what}: {detail}")]
    Unavailable { what: String, detail: String },
    /// The session was lost: every ownership it held is gone; the node must stop its tasks.
    #[error("coordinator session expired: {detail}")]
    SessionExpired { detail: String },
    /// The caller no longer owns the task (another node claimed it, or the ownership's session
    /// is gone): nothing was written.
    #[error("task {task}: not the owner any more (epoch {epoch}): {detail}")]
    NotOwner {
        task: String,
        epoch: u64,
        detail: String,
    },
    /// Stored data that cannot be read (names the path).
    #[error("coordinator data at {path} is corrupt: {detail}")]
    Corrupt { path: String, detail: String },
    /// The task does not exist (never published, or removed).
    #[error("task {task} does not exist")]
    NoSuchTask { task: String },
    /// The call contradicts what is stored: a revision that does not grow, a checkpoint reset
    /// while a node owns the task, a node id registered by another live session. Nothing was
    /// written; retrying the same call cannot help.
    #[error("{what}: {detail}")]
    Conflict { what: String, detail: String },
    /// A record too big for the coordinator to store (a task data record over ZooKeeper's
    /// znode limit even compressed). Nothing was written.
    #[error(
        "{what}: {size} bytes ({stored} stored) is more than the coordinator stores in one \
         record ({limit} bytes){hint}"
    )]
    TooLarge {
        what: String,
        /// The record's size as given.
        size: usize,
        /// Its size as it would be stored (compressed).
        stored: usize,
        limit: usize,
        /// What the operator can do, starting with `: ` (or empty).
        hint: String,
    },
    /// A name that cannot be stored (a task name or node id with `/`, an empty name, a bad
    /// ZooKeeper root).
    #[error("{what} `{name}` is invalid: {detail}")]
    InvalidName {
        what: String,
        name: String,
        detail: String,
    },
}

/// Milliseconds since the Unix epoch, for the `*_ms` timestamps (0 if the clock is before it).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The coordination operations of the manager and the nodes.
#[async_trait::async_trait]
pub trait Coordinator: Send + Sync {
    // --- manager side ---

    /// Publishes a task's config (creating the task if new). The revision must grow
    /// ([`CoordinationError::Conflict`] otherwise); publishing the same revision with the same
    /// config again is a no-op (a retried call).
    async fn publish_task(
        &self,
        task: &str,
        published: &PublishedTask,
    ) -> Result<(), CoordinationError>;
    /// Sets what the operator wants of a task ([`CoordinationError::NoSuchTask`] if it does not
    /// exist).
    async fn set_desired(&self, task: &str, desired: DesiredState)
        -> Result<(), CoordinationError>;
    /// Removes a task and everything under it, its owner too (the owner stops it on the change
    /// notice; its writes are refused from now on). Removing a missing task is not an error.
    /// Epochs survive: a task published again under the same name gets higher epochs.
    async fn remove_task(&self, task: &str) -> Result<(), CoordinationError>;
    /// Replaces a task's checkpoint (restart from a position); only while nobody owns it
    /// ([`CoordinationError::Conflict`] naming the owner otherwise). The stored checkpoint
    /// carries the task's last epoch (0 if never claimed), and `snapshot`: the progress of a
    /// snapshot to continue (a checkpoint file seeding the coordinator), or `None` (an
    /// operator's restart from a position, which ends any snapshot in progress).
    async fn reset_checkpoint(
        &self,
        task: &str,
        position: &BinlogPosition,
        snapshot: Option<&SnapshotProgress>,
    ) -> Result<(), CoordinationError>;
    /// Asks the task's owner to snapshot `tables` (`db.table` names) while it runs; replaces a
    /// request not taken yet. Returns the stored request ([`CoordinationError::NoSuchTask`] if
    /// the task does not exist).
    async fn request_snapshot(
        &self,
        task: &str,
        tables: &[String],
        requested_by: &str,
    ) -> Result<SnapshotRequest, CoordinationError>;
    /// The live nodes, by id.
    async fn nodes(&self) -> Result<Vec<NodeInfo>, CoordinationError>;
    /// The names of all tasks, sorted.
    async fn task_names(&self) -> Result<Vec<String>, CoordinationError>;
    /// Everything known of a task; `None` if it does not exist.
    async fn task_view(&self, task: &str) -> Result<Option<TaskView>, CoordinationError>;

    // --- node side ---

    /// Registers this node (ephemeral: gone with its session). Registering again from the same
    /// session updates the record; an id another live session registered is a
    /// [`CoordinationError::Conflict`].
    async fn register_node(&self, node: &NodeInfo) -> Result<(), CoordinationError>;
    /// Notices of task changes (configs, desired states, owners, tasks added or removed): the
    /// counter grows; checkpoint and status writes do not count. Also bumped after every
    /// reconnection (changes during a disconnect may go unreported): re-read everything.
    fn watch_tasks(&self) -> tokio::sync::watch::Receiver<u64>;
    /// Claims a task for `node` if nobody owns it; `None` when another node does. Every
    /// successful claim has a higher epoch than all before it. Claiming again what this session
    /// already holds for `node` returns that same ownership (a retry after a lost answer).
    /// [`CoordinationError::NoSuchTask`] if the task does not exist.
    async fn try_claim(
        &self,
        task: &str,
        node: &str,
    ) -> Result<Option<Ownership>, CoordinationError>;
    /// Gives a task up (after its last checkpoint); [`CoordinationError::NotOwner`] if it was
    /// already lost.
    async fn release(&self, task: &str, owner: &Ownership) -> Result<(), CoordinationError>;
    /// Writes a checkpoint (the position, and the progress of a snapshot in progress), only if
    /// `owner` still owns the task.
    async fn save_checkpoint(
        &self,
        task: &str,
        owner: &Ownership,
        position: &BinlogPosition,
        snapshot: Option<&SnapshotProgress>,
    ) -> Result<(), CoordinationError>;
    /// Records that the owner took snapshot request `id` (a checkpoint holds the snapshot
    /// from now on), only if `owner` still owns the task.
    async fn snapshot_taken(
        &self,
        task: &str,
        owner: &Ownership,
        id: u64,
    ) -> Result<(), CoordinationError>;
    /// Replaces the task's data record `name` (a per-task record kept beside the checkpoint,
    /// e.g. `schema-history`) with `bytes`, only if `owner` still owns the task: fenced exactly
    /// like [`Coordinator::save_checkpoint`] ([`CoordinationError::NotOwner`] and nothing
    /// written otherwise). `name` must pass [`check_data_name`]. A record the coordinator
    /// cannot hold is refused with [`CoordinationError::TooLarge`]. Writing data is not a task
    /// change (no notice). The records go with the task when it is removed.
    async fn save_task_data(
        &self,
        task: &str,
        owner: &Ownership,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), CoordinationError>;
    /// The task's data record `name` as last saved; `None` if it never was (or the task does
    /// not exist). Anyone may read it.
    async fn load_task_data(
        &self,
        task: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, CoordinationError>;
    /// Writes a status report, only if `owner` still owns the task.
    async fn report_status(
        &self,
        task: &str,
        owner: &Ownership,
        status: &TaskStatusReport,
    ) -> Result<(), CoordinationError>;
    /// Whether the session is usable right now; false as soon as the connection is lost (a
    /// node pauses writing at once and stops its tasks before the session can expire).
    fn connected(&self) -> tokio::sync::watch::Receiver<bool>;
    /// The session timeout: once the session has been cut off this long, the coordinator may
    /// hand this node's tasks to another node. The rule a node follows (`docs/cluster.md`):
    /// when `connected()` turns false, pause writes at once; if it is still false
    /// `session_timeout() / 2` later, stop every task (no more sink output) before doing
    /// anything else.
    fn session_timeout(&self) -> std::time::Duration;
}
