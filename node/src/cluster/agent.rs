//! A node in cluster mode: registers itself, claims a fair share of the tasks the operator wants
//! running, runs them, follows config changes and desired states, reports their status, and
//! stops everything at once when it loses the coordinator.
//!
//! Split-brain rule: the moment the coordinator connection drops (`connected()` turns false),
//! every task is stopped hard (aborted: no flush, no checkpoint, nothing more to any sink),
//! long before the session can expire and another node claim the tasks. Checkpoint and status
//! writes are also conditional on ownership in the coordinator, so even a node that missed the
//! signal cannot move a checkpoint once another node owns the task.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sluice_core::config::TaskConfig;
use sluice_core::coordination::{
    CoordinationError, Coordinator, DesiredState, NodeInfo, Ownership, SnapshotRequest, TaskView,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::checkpoints::{CoordinatorCheckpoints, FileMirroredCheckpoints};
use super::placement;
use super::report::StatusReporter;
use crate::runner::checkpoint::Checkpoints;
use crate::runner::{run_task, LeaseRenewer, SnapshotRequests, TaskError, WriteGate};
use crate::telemetry::{TaskObserver, Telemetry};

/// How often the node looks at every task even without a change notice, and reports status.
const TICK: Duration = Duration::from_secs(2);

/// Why a node stopped.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("node {node}: {source}")]
    Coordination {
        node: String,
        source: CoordinationError,
    },
}

/// One task this node runs.
struct Running {
    owner: Ownership,
    revision: u64,
    stop: watch::Sender<bool>,
    handle: JoinHandle<Result<(), TaskError>>,
    /// `None` when the published config is invalid (the task is failed from the start).
    observer: Option<TaskObserver>,
    /// Set once the run ended: its error, if any (kept until the config changes).
    ended: Option<Option<String>>,
    /// The pending on-demand snapshot request, forwarded to the task...
    requests: watch::Sender<Option<SnapshotRequest>>,
    /// ...and the requests its checkpoints cover, recorded as taken in the coordinator.
    covered: SnapshotRequests,
}

/// The node's loop.
pub struct NodeAgent {
    coordinator: Arc<dyn Coordinator>,
    info: NodeInfo,
    telemetry: Telemetry,
    running: BTreeMap<String, Running>,
    rates: StatusReporter,
    /// Open while the coordinator answered recently (see `runner::gate`).
    gate: WriteGate,
    lease: LeaseRenewer,
    /// Standalone: checkpoints also in files under this folder (see `FileMirroredCheckpoints`).
    checkpoint_files: Option<PathBuf>,
}

impl NodeAgent {
    /// `lease`: how long after its last answer from the coordinator the node may still write
    /// (half the session timeout: it must lapse well before the session can expire).
    pub fn new(
        coordinator: Arc<dyn Coordinator>,
        info: NodeInfo,
        telemetry: Telemetry,
        lease: Duration,
    ) -> Self {
        let (gate, lease) = WriteGate::leased(lease);
        NodeAgent {
            coordinator,
            info,
            telemetry,
            running: BTreeMap::new(),
            rates: StatusReporter::default(),
            gate,
            lease,
            checkpoint_files: None,
        }
    }

    /// Keeps every task's checkpoint also in its file under `data_dir` (standalone mode, whose
    /// in-process coordinator forgets everything at exit).
    pub fn with_checkpoint_files(mut self, data_dir: &Path) -> Self {
        self.checkpoint_files = Some(data_dir.to_path_buf());
        self
    }

    fn error(&self, source: CoordinationError) -> NodeError {
        NodeError::Coordination {
            node: self.info.id.clone(),
            source,
        }
    }

    /// Runs until `shutdown`: then stops every task gracefully (last checkpoint) and releases
    /// it.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), NodeError> {
        self.coordinator
            .register_node(&self.info)
            .await
            .map_err(|e| self.error(e))?;
        tracing::info!(node = %self.info.id, "Node registered.");
        let mut changes = self.coordinator.watch_tasks();
        let mut connected = self.coordinator.connected();
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                r = connected.changed() => {
                    if r.is_err() {
                        break;
                    }
                    let up = *connected.borrow_and_update();
                    if !up {
                        self.lease.revoke();
                        self.stop_all_hard("lost the coordinator connection");
                        continue;
                    }
                    tracing::info!("Coordinator connection back.");
                    // A new session lost the old registration: register again.
                    if let Err(e) = self.coordinator.register_node(&self.info).await {
                        tracing::warn!(error = %e, "Could not register again; retrying.");
                    }
                }
                _ = changes.changed() => {}
                _ = tick.tick() => {}
            }
            if !*connected.borrow() {
                continue;
            }
            let sent = std::time::Instant::now();
            if let Err(e) = self.reconcile(sent).await {
                match e {
                    CoordinationError::SessionExpired { .. } => {
                        self.stop_all_hard("the coordinator session expired");
                        self.coordinator
                            .register_node(&self.info)
                            .await
                            .map_err(|e| self.error(e))?;
                    }
                    other => {
                        tracing::warn!(error = %other, "Could not look at the tasks; retrying.")
                    }
                }
            }
            self.report().await;
        }
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            self.stop_gracefully(&name, "the node is shutting down")
                .await;
        }
        Ok(())
    }

    /// Brings what this node runs in line with the coordinator.
    async fn reconcile(&mut self, sent: std::time::Instant) -> Result<(), CoordinationError> {
        let names = self.coordinator.task_names().await?;
        // The coordinator answered: writes stay allowed for a lease from when we asked.
        self.lease.renew_from(sent);
        let mut views = BTreeMap::new();
        for name in &names {
            if let Some(view) = self.coordinator.task_view(name).await? {
                views.insert(name.clone(), view);
            }
        }
        // Tasks that went away, were paused, moved or changed.
        let mine: Vec<String> = self.running.keys().cloned().collect();
        for name in mine {
            let Some(view) = views.get(&name) else {
                self.stop_gracefully(&name, "the task was removed").await;
                continue;
            };
            let Some(run) = self.running.get_mut(&name) else {
                continue;
            };
            if view.owner.as_ref() != Some(&run.owner) {
                self.stop_hard(&name, "another node owns the task now");
                continue;
            }
            if view.desired != Some(DesiredState::Running) {
                self.stop_gracefully(&name, "the task is paused or stopped")
                    .await;
                continue;
            }
            // Before a restart for a new revision, so what this run covered is not lost.
            run.requests
                .send_if_modified(|sent| forward(sent, view.pending_snapshot()));
            let covered = run.covered.covered();
            if covered > view.snapshot_taken.unwrap_or(0) {
                match self
                    .coordinator
                    .snapshot_taken(&name, &run.owner, covered)
                    .await
                {
                    Ok(()) => tracing::info!(task = %name, request = covered,
                        "A checkpoint holds the requested snapshot; the request is taken."),
                    // Tried again at the next look.
                    Err(e) => tracing::warn!(task = %name, error = %e,
                        "Could not record the snapshot request as taken."),
                }
            }
            let revision = view.published.as_ref().map_or(0, |p| p.revision);
            if revision != run.revision {
                tracing::info!(task = %name, from = run.revision, to = revision, "New config revision: restarting the task.");
                let owner = run.owner.clone();
                self.stop_keep_claim(&name).await;
                self.start(view, owner);
                continue;
            }
            if run.ended.is_none() && run.handle.is_finished() {
                let result = (&mut run.handle).await;
                let error = match result {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(e) => Some(format!("task {name} panicked: {e}")),
                };
                if let Some(e) = &error {
                    tracing::error!(task = %name, error = %e, "Task failed; it stays failed until its config changes or it is resumed.");
                }
                if let Some(observer) = &run.observer {
                    observer.ended(error.clone());
                }
                run.ended = Some(error);
            }
        }
        // Claim a fair share of the unowned tasks the operator wants running and this node's
        // labels allow.
        let nodes = self.coordinator.nodes().await?;
        let wanted: Vec<&TaskView> = views
            .values()
            .filter(|v| v.desired == Some(DesiredState::Running) && v.published.is_some())
            .filter(|v| placement::fits(&self.info, v))
            .collect();
        let fair = placement::fair_share(&wanted, &nodes);
        if self.running.len() > fair {
            // Hand the newest over: drain, checkpoint, release; another node claims it.
            if let Some(name) = self.running.keys().next_back().cloned() {
                self.stop_gracefully(&name, "handing over: more than a fair share")
                    .await;
            }
        }
        for view in wanted {
            if self.running.len() >= fair {
                break;
            }
            if view.owner.is_some() || self.running.contains_key(&view.name) {
                continue;
            }
            if let Some(owner) = self
                .coordinator
                .try_claim(&view.name, &self.info.id)
                .await?
            {
                tracing::info!(task = %view.name, epoch = owner.epoch, "Claimed the task.");
                self.start(view, owner);
            }
        }
        Ok(())
    }

    /// Starts `view`'s task as `owner`; a config that does not parse makes a failed task.
    fn start(&mut self, view: &TaskView, owner: Ownership) {
        let name = view.name.clone();
        let revision = view.published.as_ref().map_or(0, |p| p.revision);
        let config = view
            .published
            .as_ref()
            .ok_or_else(|| "no config published".to_string())
            .and_then(|p| TaskConfig::from_json(&p.config.to_string()).map_err(|e| e.to_string()));
        let (stop, stop_rx) = watch::channel(false);
        let (requests, covered) = SnapshotRequests::channel(view.pending_snapshot().cloned());
        let (observer, handle, ended) = match config {
            Ok(task) => {
                let observer = self.telemetry.task(&task);
                let coordinated =
                    CoordinatorCheckpoints::new(self.coordinator.clone(), &name, owner.clone());
                let checkpoints: Arc<dyn Checkpoints> = match &self.checkpoint_files {
                    Some(dir) => Arc::new(FileMirroredCheckpoints::new(coordinated, dir, &name)),
                    None => Arc::new(coordinated),
                };
                let run = run_task(
                    task,
                    checkpoints,
                    stop_rx,
                    observer.clone(),
                    self.gate.clone(),
                    covered.clone(),
                );
                (Some(observer), tokio::spawn(run), None)
            }
            Err(e) => {
                let error = format!("task {name}: invalid config revision {revision}: {e}");
                tracing::error!(task = %name, error = %error, "The published config is invalid.");
                (None, tokio::spawn(async { Ok(()) }), Some(Some(error)))
            }
        };
        self.running.insert(
            name,
            Running {
                owner,
                revision,
                stop,
                handle,
                observer,
                ended,
                requests,
                covered,
            },
        );
    }

    /// Aborts a task at once (nothing more reaches a sink or the checkpoint).
    fn stop_hard(&mut self, name: &str, why: &str) {
        if let Some(run) = self.running.remove(name) {
            run.handle.abort();
            if let Some(observer) = &run.observer {
                observer.ended(Some(format!("stopped: {why}")));
            }
            tracing::warn!(task = %name, why, "Task stopped at once.");
        }
    }

    fn stop_all_hard(&mut self, why: &str) {
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            self.stop_hard(&name, why);
        }
    }

    /// Stops a task cleanly (sinks flushed, last checkpoint written) but keeps the claim.
    async fn stop_keep_claim(&mut self, name: &str) -> Option<(Ownership, u64)> {
        let run = self.running.remove(name)?;
        let _ = run.stop.send(true);
        let mut handle = run.handle;
        match tokio::time::timeout(Duration::from_secs(30), &mut handle).await {
            Ok(Ok(Err(e))) => {
                tracing::warn!(task = %name, error = %e, "Task ended with an error while stopping.")
            }
            Ok(_) => {}
            Err(_) => {
                handle.abort();
                tracing::warn!(task = %name, "Task did not stop within 30 s; aborted.");
            }
        }
        if let Some(observer) = &run.observer {
            observer.ended(None);
        }
        Some((run.owner, run.revision))
    }

    /// Stops a task cleanly and releases it.
    async fn stop_gracefully(&mut self, name: &str, why: &str) {
        tracing::info!(task = %name, why, "Stopping the task.");
        if let Some((owner, revision)) = self.stop_keep_claim(name).await {
            // A last report, so the status does not keep saying "running" once released.
            let statuses = self.telemetry.status();
            let status = statuses.iter().find(|s| s.name == name);
            let mut report = self
                .rates
                .report(name, status, None, &self.info.id, revision);
            report.state = "stopped".into();
            if let Err(e) = self.coordinator.report_status(name, &owner, &report).await {
                tracing::debug!(task = %name, error = %e, "Could not report the stop.");
            }
            if let Err(e) = self.coordinator.release(name, &owner).await {
                tracing::warn!(task = %name, error = %e, "Could not release the task (its claim ends with this node's session).");
            }
        }
    }

    /// Reports every running task's status (conditional on ownership).
    async fn report(&mut self) {
        let statuses = self.telemetry.status();
        for (name, run) in &self.running {
            let status = statuses.iter().find(|s| &s.name == name);
            let invalid = run
                .ended
                .clone()
                .flatten()
                .filter(|_| run.observer.is_none());
            let report = self
                .rates
                .report(name, status, invalid, &self.info.id, run.revision);
            if let Err(e) = self
                .coordinator
                .report_status(name, &run.owner, &report)
                .await
            {
                tracing::debug!(task = %name, error = %e, "Could not report the status.");
            }
        }
    }
}

/// Puts the coordinator's pending request in `sent`; whether that changed it.
fn forward(sent: &mut Option<SnapshotRequest>, pending: Option<&SnapshotRequest>) -> bool {
    if sent.as_ref() == pending {
        return false;
    }
    *sent = pending.cloned();
    true
}
