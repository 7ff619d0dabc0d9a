//! The in-process [`Coordinator`]: everything in one mutex-guarded map, for standalone mode and
//! for tests of the manager and the node.
//!
//! It mirrors the ZooKeeper coordinator's rules so that code tested against it behaves the same
//! in a cluster:
//! - One store, many sessions: [`InProcessCoordinator::new`] makes a store and its first
//!   session; [`InProcessCoordinator::new_session`] another client of the same store (a second
//!   node, the manager). Node registrations and task ownerships belong to the session that made
//!   them and vanish when it ends ([`InProcessCoordinator::close`] or
//!   [`InProcessCoordinator::expire`]), like ZooKeeper's ephemeral znodes.
//! - Epochs count every claim of a task name and never go back, not even when the task is
//!   removed and published again.
//! - Fencing: a checkpoint or status write is applied only if, under the lock, the caller's
//!   session still holds exactly that ownership (same epoch); otherwise it is refused with
//!   [`CoordinationError::NotOwner`] and nothing changes. (Stricter than ZooKeeper on one point
//!   no correct node relies on: another live session holding a copy of the ownership is refused
//!   here, while ZooKeeper's fence checks the claim, not the session.)
//! - Task data records are fenced the same way, and removed with the task.
//! - [`InProcessCoordinator::set_connected`] simulates a lost connection: `connected()` turns
//!   false at once and every call fails with [`CoordinationError::Unavailable`] until it is
//!   restored; the session (and its ownerships) stays.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::{
    check_data_name, check_revision, next_request_id, node_taken, now_ms, owned_conflict,
    CoordinationError, Coordinator, DesiredState, NodeInfo, Ownership, PublishedTask,
    SnapshotRequest, StoredCheckpoint, TaskStatusReport, TaskView,
};
use crate::snapshot_progress::SnapshotProgress;
use crate::BinlogPosition;

/// A session of the in-process coordinator (cheap to create; see the module docs).
pub struct InProcessCoordinator {
    store: Arc<Store>,
    session: u64,
    connected: watch::Sender<bool>,
    ended: AtomicBool,
}

/// What all sessions share.
struct Store {
    state: Mutex<State>,
    tasks_changed: watch::Sender<u64>,
    next_session: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Node id → (registering session, info).
    nodes: BTreeMap<String, (u64, NodeInfo)>,
    tasks: BTreeMap<String, TaskEntry>,
    /// Last epoch handed out per task name; kept when a task is removed, so epochs only grow.
    epochs: HashMap<String, u64>,
}

struct TaskEntry {
    published: PublishedTask,
    desired: Option<DesiredState>,
    /// (owning session, ownership).
    owner: Option<(u64, Ownership)>,
    checkpoint: Option<StoredCheckpoint>,
    status: Option<TaskStatusReport>,
    snapshot_request: Option<SnapshotRequest>,
    snapshot_taken: Option<u64>,
    /// The task's data records by name (no size limit in process).
    data: BTreeMap<String, Vec<u8>>,
}

impl Default for InProcessCoordinator {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessCoordinator {
    /// A new, empty store and a first session on it.
    pub fn new() -> Self {
        let store = Arc::new(Store {
            state: Mutex::new(State::default()),
            tasks_changed: watch::Sender::new(0),
            next_session: AtomicU64::new(1),
        });
        Self::session_of(store)
    }

    /// Another session (another client: a node, the manager) on the same store.
    pub fn new_session(&self) -> Self {
        Self::session_of(Arc::clone(&self.store))
    }

    fn session_of(store: Arc<Store>) -> Self {
        let session = store.next_session.fetch_add(1, Ordering::Relaxed);
        InProcessCoordinator {
            store,
            session,
            connected: watch::Sender::new(true),
            ended: AtomicBool::new(false),
        }
    }

    /// Ends the session cleanly: its node registrations and ownerships go at once; later calls
    /// fail with [`CoordinationError::SessionExpired`].
    pub fn close(&self) {
        self.end();
    }

    /// Simulates a session expiry: same effect as [`Self::close`] (ZooKeeper drops an expired
    /// session's ephemeral znodes the same way).
    pub fn expire(&self) {
        self.end();
    }

    /// Simulates losing (`false`) or regaining (`true`) the connection without losing the
    /// session. While disconnected every call fails with [`CoordinationError::Unavailable`].
    pub fn set_connected(&self, connected: bool) {
        if !self.ended.load(Ordering::SeqCst) {
            self.connected.send_replace(connected);
        }
    }

    fn end(&self) {
        if self.ended.swap(true, Ordering::SeqCst) {
            return;
        }
        self.connected.send_replace(false);
        let mut state = self.lock();
        state
            .nodes
            .retain(|_, (session, _)| *session != self.session);
        let mut owners_dropped = false;
        for entry in state.tasks.values_mut() {
            if matches!(entry.owner, Some((session, _)) if session == self.session) {
                entry.owner = None;
                owners_dropped = true;
            }
        }
        drop(state);
        if owners_dropped {
            self.notify();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-made change: every change below
        // is a single assignment after all checks.
        self.store
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, if the session is usable now.
    fn usable(&self) -> Result<MutexGuard<'_, State>, CoordinationError> {
        if self.ended.load(Ordering::SeqCst) {
            return Err(CoordinationError::SessionExpired {
                detail: format!("in-process session {} has ended", self.session),
            });
        }
        if !*self.connected.borrow() {
            return Err(CoordinationError::Unavailable {
                what: "in-process store".into(),
                detail: format!("session {} is disconnected", self.session),
            });
        }
        Ok(self.lock())
    }

    fn notify(&self) {
        self.store.tasks_changed.send_modify(|n| *n += 1);
    }

    /// The entry of `task` if `owner` (of this session) still owns it, else `NotOwner`.
    fn owned_entry<'s>(
        &self,
        state: &'s mut State,
        task: &str,
        owner: &Ownership,
    ) -> Result<&'s mut TaskEntry, CoordinationError> {
        let not_owner = |detail: String| CoordinationError::NotOwner {
            task: task.to_string(),
            epoch: owner.epoch,
            detail,
        };
        let entry = state
            .tasks
            .get_mut(task)
            .ok_or_else(|| not_owner("the task was removed".into()))?;
        match &entry.owner {
            Some((session, current)) if *session == self.session && current == owner => Ok(entry),
            Some((_, current)) => Err(not_owner(format!(
                "owned by node `{}` with epoch {}",
                current.node, current.epoch
            ))),
            None => Err(not_owner("nobody owns it now".into())),
        }
    }
}

fn no_such_task(task: &str) -> CoordinationError {
    CoordinationError::NoSuchTask {
        task: task.to_string(),
    }
}

#[async_trait::async_trait]
impl Coordinator for InProcessCoordinator {
    async fn publish_task(
        &self,
        task: &str,
        published: &PublishedTask,
    ) -> Result<(), CoordinationError> {
        let mut state = self.usable()?;
        match state.tasks.get_mut(task) {
            Some(entry) => {
                check_revision(task, &entry.published, published)?;
                if entry.published == *published {
                    return Ok(());
                }
                entry.published = published.clone();
            }
            None => {
                state.tasks.insert(
                    task.to_string(),
                    TaskEntry {
                        published: published.clone(),
                        desired: None,
                        owner: None,
                        checkpoint: None,
                        status: None,
                        snapshot_request: None,
                        snapshot_taken: None,
                        data: BTreeMap::new(),
                    },
                );
            }
        }
        drop(state);
        self.notify();
        Ok(())
    }

    async fn set_desired(
        &self,
        task: &str,
        desired: DesiredState,
    ) -> Result<(), CoordinationError> {
        let mut state = self.usable()?;
        let entry = state
            .tasks
            .get_mut(task)
            .ok_or_else(|| no_such_task(task))?;
        if entry.desired == Some(desired) {
            return Ok(());
        }
        entry.desired = Some(desired);
        drop(state);
        self.notify();
        Ok(())
    }

    async fn remove_task(&self, task: &str) -> Result<(), CoordinationError> {
        let removed = self.usable()?.tasks.remove(task).is_some();
        if removed {
            self.notify();
        }
        Ok(())
    }

    async fn reset_checkpoint(
        &self,
        task: &str,
        position: &BinlogPosition,
        snapshot: Option<&SnapshotProgress>,
    ) -> Result<(), CoordinationError> {
        let mut state = self.usable()?;
        let epoch = state.epochs.get(task).copied().unwrap_or(0);
        let entry = state
            .tasks
            .get_mut(task)
            .ok_or_else(|| no_such_task(task))?;
        if let Some((_, owner)) = &entry.owner {
            return Err(owned_conflict(task, owner));
        }
        entry.checkpoint = Some(StoredCheckpoint {
            position: position.clone(),
            epoch,
            at_ms: now_ms(),
            snapshot: snapshot.cloned(),
        });
        Ok(())
    }

    async fn request_snapshot(
        &self,
        task: &str,
        tables: &[String],
        requested_by: &str,
    ) -> Result<SnapshotRequest, CoordinationError> {
        let request = {
            let mut state = self.usable()?;
            let entry = state
                .tasks
                .get_mut(task)
                .ok_or_else(|| no_such_task(task))?;
            let request = SnapshotRequest {
                id: next_request_id(entry.snapshot_request.as_ref(), entry.snapshot_taken),
                tables: tables.to_vec(),
                requested_at_ms: now_ms(),
                requested_by: requested_by.to_string(),
            };
            entry.snapshot_request = Some(request.clone());
            request
        };
        self.notify();
        Ok(request)
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>, CoordinationError> {
        let state = self.usable()?;
        Ok(state.nodes.values().map(|(_, n)| n.clone()).collect())
    }

    async fn task_names(&self) -> Result<Vec<String>, CoordinationError> {
        Ok(self.usable()?.tasks.keys().cloned().collect())
    }

    async fn task_view(&self, task: &str) -> Result<Option<TaskView>, CoordinationError> {
        let state = self.usable()?;
        Ok(state.tasks.get(task).map(|e| TaskView {
            name: task.to_string(),
            published: Some(e.published.clone()),
            desired: e.desired,
            owner: e.owner.as_ref().map(|(_, o)| o.clone()),
            checkpoint: e.checkpoint.clone(),
            status: e.status.clone(),
            snapshot_request: e.snapshot_request.clone(),
            snapshot_taken: e.snapshot_taken,
        }))
    }

    async fn register_node(&self, node: &NodeInfo) -> Result<(), CoordinationError> {
        let mut state = self.usable()?;
        if let Some((session, _)) = state.nodes.get(&node.id) {
            if *session != self.session {
                return Err(node_taken(&node.id));
            }
        }
        state
            .nodes
            .insert(node.id.clone(), (self.session, node.clone()));
        Ok(())
    }

    fn watch_tasks(&self) -> watch::Receiver<u64> {
        self.store.tasks_changed.subscribe()
    }

    async fn try_claim(
        &self,
        task: &str,
        node: &str,
    ) -> Result<Option<Ownership>, CoordinationError> {
        let mut state = self.usable()?;
        let State { tasks, epochs, .. } = &mut *state;
        let entry = tasks.get_mut(task).ok_or_else(|| no_such_task(task))?;
        if let Some((session, owner)) = &entry.owner {
            // Claiming again what this session already holds for `node` returns the same
            // ownership (a retry after a lost answer must not lock the caller out).
            let mine = *session == self.session && owner.node == node;
            return Ok(mine.then(|| owner.clone()));
        }
        let epoch = epochs.entry(task.to_string()).or_insert(0);
        *epoch += 1;
        let owner = Ownership {
            node: node.to_string(),
            epoch: *epoch,
            since_ms: now_ms(),
        };
        entry.owner = Some((self.session, owner.clone()));
        drop(state);
        self.notify();
        Ok(Some(owner))
    }

    async fn release(&self, task: &str, owner: &Ownership) -> Result<(), CoordinationError> {
        let mut state = self.usable()?;
        self.owned_entry(&mut state, task, owner)?.owner = None;
        drop(state);
        self.notify();
        Ok(())
    }

    async fn save_checkpoint(
        &self,
        task: &str,
        owner: &Ownership,
        position: &BinlogPosition,
        snapshot: Option<&SnapshotProgress>,
    ) -> Result<(), CoordinationError> {
        let mut state = self.usable()?;
        self.owned_entry(&mut state, task, owner)?.checkpoint = Some(StoredCheckpoint {
            position: position.clone(),
            epoch: owner.epoch,
            at_ms: now_ms(),
            snapshot: snapshot.cloned(),
        });
        Ok(())
    }

    async fn snapshot_taken(
        &self,
        task: &str,
        owner: &Ownership,
        id: u64,
    ) -> Result<(), CoordinationError> {
        let mut state = self.usable()?;
        let entry = self.owned_entry(&mut state, task, owner)?;
        entry.snapshot_taken = Some(entry.snapshot_taken.unwrap_or(0).max(id));
        Ok(())
    }

    async fn save_task_data(
        &self,
        task: &str,
        owner: &Ownership,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), CoordinationError> {
        check_data_name(name)?;
        let mut state = self.usable()?;
        self.owned_entry(&mut state, task, owner)?
            .data
            .insert(name.to_string(), bytes.to_vec());
        Ok(())
    }

    async fn load_task_data(
        &self,
        task: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, CoordinationError> {
        check_data_name(name)?;
        let state = self.usable()?;
        Ok(state
            .tasks
            .get(task)
            .and_then(|e| e.data.get(name).cloned()))
    }

    async fn report_status(
        &self,
        task: &str,
        owner: &Ownership,
        status: &TaskStatusReport,
    ) -> Result<(), CoordinationError> {
        let mut state = self.usable()?;
        self.owned_entry(&mut state, task, owner)?.status = Some(status.clone());
        Ok(())
    }

    fn connected(&self) -> watch::Receiver<bool> {
        self.connected.subscribe()
    }

    /// Nothing expires on its own in process; the value only sets a node's disconnect
    /// deadline in tests of [`Self::set_connected`].
    fn session_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(10)
    }
}

#[cfg(test)]
#[path = "in_process_tests.rs"]
mod tests;
