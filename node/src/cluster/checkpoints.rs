//! Checkpoints kept by the coordinator (cluster mode), written only while this node owns the
//! task: the coordinator refuses a write from an owner that lost the task (another node claimed
//! it, or this node's session ended), so a stale node can never move a checkpoint. The position
//! and a snapshot's progress are one record, written together, so the node that takes a task
//! over continues the snapshot at the last chunk the sinks confirmed.
//!
//! The task's data records (its schema history, ...) are kept by the coordinator too, written
//! with the same fence, so the node that takes a task over finds them. With a manager in the
//! same process (standalone), they stay files beside the checkpoint file, as without one.

use std::path::Path;
use std::sync::Arc;

use sluice_core::coordination::{CoordinationError, Coordinator, Ownership};

use crate::runner::checkpoint::{Checkpoint, CheckpointError, CheckpointStore, Checkpoints};

/// One task's checkpoint and data records in the coordinator, written as `owner`.
#[derive(Clone)]
pub struct CoordinatorCheckpoints {
    coordinator: Arc<dyn Coordinator>,
    task: String,
    owner: Ownership,
}

impl CoordinatorCheckpoints {
    pub fn new(coordinator: Arc<dyn Coordinator>, task: &str, owner: Ownership) -> Self {
        CoordinatorCheckpoints {
            coordinator,
            task: task.to_string(),
            owner,
        }
    }

    fn error(&self, e: CoordinationError) -> CheckpointError {
        match e {
            CoordinationError::NotOwner { detail, .. } => CheckpointError::Fenced {
                task: self.task.clone(),
                detail,
            },
            CoordinationError::SessionExpired { detail } => CheckpointError::Fenced {
                task: self.task.clone(),
                detail: format!("the coordinator session expired: {detail}"),
            },
            other => CheckpointError::Coordinator {
                task: self.task.clone(),
                detail: other.to_string(),
            },
        }
    }

    /// [`Self::error`] for data record `name`, saying which record it was.
    fn data_error(&self, name: &str, what: &str, e: CoordinationError) -> CheckpointError {
        match self.error(e) {
            CheckpointError::Fenced { task, detail } => CheckpointError::Fenced {
                task,
                detail: format!("{what} data record `{name}`: {detail}"),
            },
            CheckpointError::Coordinator { task, detail } => CheckpointError::Coordinator {
                task,
                detail: format!("{what} data record `{name}`: {detail}"),
            },
            other => other,
        }
    }
}

#[async_trait::async_trait]
impl Checkpoints for CoordinatorCheckpoints {
    async fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        let view = self
            .coordinator
            .task_view(&self.task)
            .await
            .map_err(|e| self.error(e))?;
        Ok(view.and_then(|v| v.checkpoint).map(|c| Checkpoint {
            position: c.position,
            at_ms: c.at_ms,
            snapshot: c.snapshot,
        }))
    }

    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        self.coordinator
            .save_checkpoint(
                &self.task,
                &self.owner,
                &checkpoint.position,
                checkpoint.snapshot.as_ref(),
            )
            .await
            .map_err(|e| self.error(e))
    }

    async fn load_data(&self, name: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        self.coordinator
            .load_task_data(&self.task, name)
            .await
            .map_err(|e| self.data_error(name, "reading", e))
    }

    async fn save_data(&self, name: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        self.coordinator
            .save_task_data(&self.task, &self.owner, name, bytes)
            .await
            .map_err(|e| self.data_error(name, "saving", e))
    }

    fn data_location(&self, name: &str) -> String {
        format!(
            "the coordinator's data record `{name}` of task `{}`",
            self.task
        )
    }

    fn shared(&self) -> Arc<dyn Checkpoints> {
        Arc::new(self.clone())
    }
}

/// Standalone with a manager: checkpoints in the in-process coordinator (fenced by ownership,
/// replaced by "restart from a position") and, after each accepted write, in the task's
/// checkpoint file, so they outlive the process. At start the files seed the coordinator
/// (`seed_from_files`). Data records stay files beside the checkpoint file (one process, one
/// node: they are this task's alone), where a standalone task without a manager keeps them.
#[derive(Clone)]
pub struct FileMirroredCheckpoints {
    coordinated: CoordinatorCheckpoints,
    file: CheckpointStore,
}

impl FileMirroredCheckpoints {
    pub fn new(coordinated: CoordinatorCheckpoints, data_dir: &Path, task: &str) -> Self {
        FileMirroredCheckpoints {
            coordinated,
            file: CheckpointStore::new(data_dir, task),
        }
    }
}

#[async_trait::async_trait]
impl Checkpoints for FileMirroredCheckpoints {
    async fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        self.coordinated.load().await
    }

    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        self.coordinated.save(checkpoint).await?;
        self.file.save(checkpoint)
    }

    async fn load_data(&self, name: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        self.file.load_data(name)
    }

    async fn save_data(&self, name: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        self.file.save_data(name, bytes)
    }

    fn data_location(&self, name: &str) -> String {
        self.file.data_location(name)
    }

    fn shared(&self) -> Arc<dyn Checkpoints> {
        Arc::new(self.clone())
    }
}

/// Puts each task's checkpoint file (under `data_dir`) into the coordinator, snapshot progress
/// included, for tasks that have a file and no checkpoint there yet; returns how many it
/// seeded. Call before any node claims the tasks (the coordinator refuses while a task has an
/// owner).
pub async fn seed_from_files(
    coordinator: &dyn Coordinator,
    data_dir: &Path,
) -> Result<usize, CheckpointError> {
    let names = coordinator
        .task_names()
        .await
        .map_err(|e| CheckpointError::Coordinator {
            task: "(all)".into(),
            detail: e.to_string(),
        })?;
    let mut seeded = 0;
    for name in names {
        let Some(saved) = CheckpointStore::new(data_dir, &name).load()? else {
            continue;
        };
        let failed = |e: CoordinationError| CheckpointError::Coordinator {
            task: name.clone(),
            detail: e.to_string(),
        };
        let view = coordinator.task_view(&name).await.map_err(failed)?;
        if view.is_some_and(|v| v.checkpoint.is_some()) {
            continue;
        }
        coordinator
            .reset_checkpoint(&name, &saved.position, saved.snapshot.as_ref())
            .await
            .map_err(failed)?;
        seeded += 1;
    }
    Ok(seeded)
}
