//! Checkpoints kept by the coordinator (cluster mode), written only while this node owns the
//! task: the coordinator refuses a write from an owner that lost the task (another node claimed
//! it, or this node's session ended), so a stale node can never move a checkpoint.

use std::sync::Arc;

use sluice_core::coordination::{CoordinationError, Coordinator, Ownership};

use crate::runner::checkpoint::{Checkpoint, CheckpointError, Checkpoints};

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
        }))
    }

    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        self.coordinator
            .save_checkpoint(&self.task, &self.owner, &checkpoint.position)
            .await
            .map_err(|e| self.error(e))
    }
}
