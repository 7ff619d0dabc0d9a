//! Checkpoints kept by the coordinator (cluster mode), written only while this node owns the
//! task: the coordinator refuses a write from an owner that lost the task (another node claimed
//! it, or this node's session ended), so a stale node can never move a checkpoint. The position
//! and a snapshot's progress are one record, written together, so the node that takes a task
//! over continues the snapshot at the last chunk the sinks confirmed.

use std::path::Path;
use std::sync::Arc;

use sluice_core::coordination::{CoordinationError, Coordinator, Ownership};

use crate::runner::checkpoint::{Checkpoint, CheckpointError, CheckpointStore, Checkpoints};

/// One task's checkpoint in the coordinator, written as `owner`.
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
}

/// Standalone with a manager: checkpoints in the in-process coordinator (fenced by ownership,
/// replaced by "restart from a position") and, after each accepted write, in the task's
/// checkpoint file, so they outlive the process. At start the files seed the coordinator
/// (`seed_from_files`).
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

    /// Beside the checkpoint file: one process, one node, so the file is this task's alone.
    fn schema_history_file(&self) -> Option<crate::schema_history::HistoryFile> {
        self.file.schema_history_file()
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
