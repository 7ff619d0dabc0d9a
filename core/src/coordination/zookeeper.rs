//! The ZooKeeper [`Coordinator`] of cluster mode. This file connects the session, runs its two
//! background loops and carries each call to ZooKeeper with a time limit; the operations are in
//! `zookeeper/tasks.rs` (manager side, node registry) and `zookeeper/claims.rs` (ownership and
//! the fenced writes). The tree and the fencing argument: `docs/cluster.md`.
//!
//! Fencing in one paragraph: a claim is one multi-op transaction that bumps the version of the
//! task's epoch znode (never deleted) and creates the ephemeral owner znode; every checkpoint or
//! status write is one transaction that checks the epoch znode still has the claim's version and
//! the owner znode still exists. Only a new claim changes the version and only a claim creates
//! the owner, so both checks holding means no other claim happened and the owner's session is
//! alive; a node whose session expired (its owner znode deleted with it) or whose task went to
//! another node can therefore never write. Task data records (`tasks/{task}/data-{name}`, the
//! schema history) are written by the same fenced transaction, compressed, and refused with
//! [`CoordinationError::TooLarge`] when they would not fit in a znode.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use zookeeper_client as zk;

use super::{
    CoordinationError, Coordinator, DesiredState, NodeInfo, Ownership, PublishedTask,
    SnapshotRequest, TaskStatusReport, TaskView,
};
use crate::snapshot_progress::SnapshotProgress;
use crate::BinlogPosition;
use errors::{timed_out, zk_error};
use layout::Layout;
use txn::{OpFailed, Txn};

mod claims;
mod data;
mod errors;
mod layout;
mod session;
mod tasks;
mod txn;

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZooKeeperConfig {
    /// Connect string: `host:port[,host:port...]`.
    pub connect: String,
    /// The cluster's root znode (default [`ZooKeeperConfig::DEFAULT_ROOT`]); several clusters
    /// can share one ZooKeeper under different roots.
    pub root: String,
    /// Requested session timeout; the server bounds it (by default to 2 to 20 ticks).
    pub session_timeout: Duration,
}

impl ZooKeeperConfig {
    pub const DEFAULT_ROOT: &'static str = "/sluice";
    pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

    /// The defaults for `connect`.
    pub fn new(connect: impl Into<String>) -> Self {
        ZooKeeperConfig {
            connect: connect.into(),
            root: Self::DEFAULT_ROOT.into(),
            session_timeout: Self::DEFAULT_SESSION_TIMEOUT,
        }
    }
}

/// One ZooKeeper session. Dropping it closes the session (its node registration and
/// ownerships go at once); [`ZooKeeperCoordinator::close`] also waits for the server.
pub struct ZooKeeperCoordinator {
    client: zk::Client,
    layout: Layout,
    /// The session id, for messages.
    session: String,
    /// Limit of each call: the negotiated session timeout (a call cannot usefully wait longer).
    op_timeout: Duration,
    connected: Arc<watch::Sender<bool>>,
    tasks_changed: Arc<watch::Sender<u64>>,
    background: Vec<JoinHandle<()>>,
}

impl Drop for ZooKeeperCoordinator {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

impl ZooKeeperCoordinator {
    /// Opens a session and makes sure `nodes/`, `tasks/` and `epochs/` exist under the root.
    pub async fn connect(config: &ZooKeeperConfig) -> Result<Self, CoordinationError> {
        let layout = Layout::new(&config.root)?;
        let unavailable = |detail: String| CoordinationError::Unavailable {
            what: format!("ZooKeeper at `{}`", config.connect),
            detail,
        };
        let connecting = zk::Client::connector()
            .with_session_timeout(config.session_timeout)
            .connect(&config.connect);
        let limit = config.session_timeout + Duration::from_secs(5);
        let client = tokio::time::timeout(limit, connecting)
            .await
            .map_err(|_| unavailable(format!("no session within {} ms", limit.as_millis())))?
            .map_err(|e| unavailable(format!("cannot open a session: {e}")))?;
        let session = client.session_id().to_string();
        let op_timeout = client.session_timeout();

        let connected = Arc::new(watch::Sender::new(true));
        let tasks_changed = Arc::new(watch::Sender::new(0));
        let mut coordinator = ZooKeeperCoordinator {
            client,
            layout,
            session,
            op_timeout,
            connected,
            tasks_changed,
            background: Vec::new(),
        };
        coordinator.prepare().await?;
        tracing::info!(
            "Connected to ZooKeeper `{}` with session `{}` (timeout {} ms), root `{}`.",
            config.connect,
            coordinator.session,
            op_timeout.as_millis(),
            coordinator.layout.root()
        );
        Ok(coordinator)
    }

    /// Creates the top folders, starts the recursive watch on `tasks/` and the loops.
    async fn prepare(&mut self) -> Result<(), CoordinationError> {
        let options = persistent();
        for dir in [
            self.layout.nodes(),
            self.layout.tasks(),
            self.layout.epochs(),
        ] {
            self.call("create", &dir, self.client.mkdir(&dir, &options))
                .await?
                .map_err(|e| zk_error("create", &dir, &e))?;
        }
        let tasks = self.layout.tasks();
        let watcher = self
            .call(
                "watch",
                &tasks,
                self.client
                    .watch(&tasks, zk::AddWatchMode::PersistentRecursive),
            )
            .await?
            .map_err(|e| zk_error("watch", &tasks, &e))?;
        self.background = vec![
            tokio::spawn(session::track_state(
                self.client.state_watcher(),
                Arc::clone(&self.connected),
                self.session.clone(),
            )),
            tokio::spawn(session::forward_task_changes(
                watcher,
                tasks,
                Arc::clone(&self.tasks_changed),
            )),
        ];
        Ok(())
    }

    /// The ZooKeeper session id (the `ephemeralOwner` of this session's znodes).
    pub fn session_id(&self) -> i64 {
        self.client.session_id().0
    }

    /// Closes the session and waits (up to 5 s) until the server has confirmed it, so that its
    /// ephemeral znodes are gone when this returns.
    pub async fn close(self) {
        let mut watcher = self.client.state_watcher();
        let session = self.session.clone();
        drop(self);
        let closed = async {
            while !watcher.peek_state().is_terminated() {
                watcher.changed().await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), closed)
            .await
            .is_err()
        {
            tracing::warn!(
                "ZooKeeper session `{session}` did not confirm its close within 5 s; it expires \
                 on its own."
            );
        }
    }

    /// An error unless the session can be used now: writes pause while disconnected.
    fn usable(&self, op: &str, path: &str) -> Result<(), CoordinationError> {
        match self.client.state() {
            zk::SessionState::SyncConnected => Ok(()),
            zk::SessionState::Expired | zk::SessionState::Closed | zk::SessionState::AuthFailed => {
                Err(CoordinationError::SessionExpired {
                    detail: format!(
                        "{op} {path}: session `{}` is {:?}",
                        self.session,
                        self.client.state()
                    ),
                })
            }
            state => Err(CoordinationError::Unavailable {
                what: format!("ZooKeeper {op} {path}"),
                detail: format!("session `{}` is {state:?}", self.session),
            }),
        }
    }

    /// Runs one ZooKeeper call with the time limit. The outer error is the session's or the
    /// limit's; the inner one is ZooKeeper's answer, for the caller to match.
    async fn call<T>(
        &self,
        op: &str,
        path: &str,
        call: impl Future<Output = Result<T, zk::Error>>,
    ) -> Result<Result<T, zk::Error>, CoordinationError> {
        self.usable(op, path)?;
        tokio::time::timeout(self.op_timeout, call)
            .await
            .map_err(|_| timed_out(op, path, self.op_timeout))
    }

    /// Commits a multi-op transaction (`op` on `path` names it in errors). `Ok(Err(..))`: an
    /// operation failed and nothing was written.
    async fn commit(
        &self,
        op: &str,
        path: &str,
        txn: Txn<'_>,
    ) -> Result<Result<Vec<zk::MultiWriteResult>, OpFailed>, CoordinationError> {
        self.call(op, path, txn.commit())
            .await?
            .map_err(|e| zk_error(op, path, &e))
    }
}

/// Options of the persistent znodes (the tree is open to every client of the ZooKeeper: secure
/// it with the ZooKeeper's network access or a dedicated ensemble).
fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Options of the ephemeral znodes (node registrations, owners).
fn ephemeral() -> zk::CreateOptions<'static> {
    zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all())
}

#[async_trait::async_trait]
impl Coordinator for ZooKeeperCoordinator {
    async fn publish_task(
        &self,
        task: &str,
        published: &PublishedTask,
    ) -> Result<(), CoordinationError> {
        self.publish(task, published).await
    }

    async fn set_desired(
        &self,
        task: &str,
        desired: DesiredState,
    ) -> Result<(), CoordinationError> {
        self.write_desired(task, desired).await
    }

    async fn remove_task(&self, task: &str) -> Result<(), CoordinationError> {
        self.remove(task).await
    }

    async fn reset_checkpoint(
        &self,
        task: &str,
        position: &BinlogPosition,
        snapshot: Option<&SnapshotProgress>,
    ) -> Result<(), CoordinationError> {
        self.reset(task, position, snapshot).await
    }

    async fn request_snapshot(
        &self,
        task: &str,
        tables: &[String],
        requested_by: &str,
    ) -> Result<SnapshotRequest, CoordinationError> {
        self.write_snapshot_request(task, tables, requested_by)
            .await
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>, CoordinationError> {
        self.list_nodes().await
    }

    async fn task_names(&self) -> Result<Vec<String>, CoordinationError> {
        self.list_tasks().await
    }

    async fn task_view(&self, task: &str) -> Result<Option<TaskView>, CoordinationError> {
        self.read_task(task).await
    }

    async fn register_node(&self, node: &NodeInfo) -> Result<(), CoordinationError> {
        self.register(node).await
    }

    fn watch_tasks(&self) -> watch::Receiver<u64> {
        self.tasks_changed.subscribe()
    }

    async fn try_claim(
        &self,
        task: &str,
        node: &str,
    ) -> Result<Option<Ownership>, CoordinationError> {
        self.claim(task, node).await
    }

    async fn release(&self, task: &str, owner: &Ownership) -> Result<(), CoordinationError> {
        self.give_up(task, owner).await
    }

    async fn save_checkpoint(
        &self,
        task: &str,
        owner: &Ownership,
        position: &BinlogPosition,
        snapshot: Option<&SnapshotProgress>,
    ) -> Result<(), CoordinationError> {
        self.write_checkpoint(task, owner, position, snapshot).await
    }

    async fn snapshot_taken(
        &self,
        task: &str,
        owner: &Ownership,
        id: u64,
    ) -> Result<(), CoordinationError> {
        self.write_snapshot_taken(task, owner, id).await
    }

    async fn save_task_data(
        &self,
        task: &str,
        owner: &Ownership,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), CoordinationError> {
        self.write_task_data(task, owner, name, bytes).await
    }

    async fn load_task_data(
        &self,
        task: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, CoordinationError> {
        self.read_task_data(task, name).await
    }

    async fn report_status(
        &self,
        task: &str,
        owner: &Ownership,
        status: &TaskStatusReport,
    ) -> Result<(), CoordinationError> {
        self.write_status(task, owner, status).await
    }

    fn connected(&self) -> watch::Receiver<bool> {
        self.connected.subscribe()
    }

    fn session_timeout(&self) -> Duration {
        self.client.session_timeout()
    }
}
