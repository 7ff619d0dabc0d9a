//! Where a task keeps its checkpoint: [`Checkpoints`], with the file store of standalone mode
//! here (one JSON file per task, replaced atomically) and the coordinator's in cluster mode
//! (`crate::cluster::CoordinatorCheckpoints`).
//!
//! The checkpoint records the position right after the last transaction that every sink has
//! durably acknowledged. It is written with write-to-temp, fsync, rename, fsync-directory, so
//! after a crash at any point the file holds either the old or the new checkpoint, whole.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sluice_core::BinlogPosition;

use crate::durable_file::{read_if_present, replace};
use crate::schema_history::HistoryFile;

/// What a task resumes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Resume here: the position after the last fully delivered transaction.
    pub position: BinlogPosition,
    /// When it was written (ms since the Unix epoch).
    pub at_ms: u64,
    /// Where a snapshot in progress continues (absent when none is: files written before
    /// snapshots existed load as such).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<crate::snapshot::SnapshotProgress>,
}

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path}: {what}: {source}")]
    Io {
        path: String,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("checkpoint {path} is corrupt ({source}): move it away to start the task afresh")]
    Corrupt {
        path: String,
        source: serde_json::Error,
    },
    /// The task is not this node's any more: nothing was written, the task must stop.
    #[error("checkpoint of task {task}: fenced off: {detail}")]
    Fenced { task: String, detail: String },
    /// The coordinator could not store or read it.
    #[error("checkpoint of task {task}: {detail}")]
    Coordinator { task: String, detail: String },
}

/// A task's checkpoint storage.
#[async_trait::async_trait]
pub trait Checkpoints: Send + Sync {
    /// The saved checkpoint, if any.
    async fn load(&self) -> Result<Option<Checkpoint>, CheckpointError>;
    /// Replaces the checkpoint durably; refused once the caller may no longer write it.
    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError>;
    /// Where the task's schema history is kept beside the checkpoint, if this store keeps
    /// one (the checkpoint file does; the coordinator's store does not yet).
    fn schema_history_file(&self) -> Option<HistoryFile> {
        None
    }
}

/// A task's checkpoint file.
pub struct CheckpointStore {
    path: PathBuf,
}

impl CheckpointStore {
    /// The store of task `task` under `data_dir`.
    pub fn new(data_dir: &Path, task: &str) -> Self {
        CheckpointStore {
            path: data_dir.join(task).join("checkpoint.json"),
        }
    }

    fn io(&self, what: &'static str) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
        move |source| CheckpointError::Io {
            path: self.path.display().to_string(),
            what,
            source,
        }
    }

    /// The saved checkpoint, if any.
    pub fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        let Some(bytes) = read_if_present(&self.path).map_err(self.io("cannot read"))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| CheckpointError::Corrupt {
                path: self.path.display().to_string(),
                source,
            })
    }

    /// Replaces the checkpoint atomically and durably.
    pub fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let bytes =
            serde_json::to_vec_pretty(checkpoint).map_err(|source| CheckpointError::Corrupt {
                path: self.path.display().to_string(),
                source,
            })?;
        replace(&self.path, &bytes).map_err(|e| self.io(e.what)(e.source))
    }
}

#[async_trait::async_trait]
impl Checkpoints for CheckpointStore {
    async fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        CheckpointStore::load(self)
    }

    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        CheckpointStore::save(self, checkpoint)
    }

    fn schema_history_file(&self) -> Option<HistoryFile> {
        Some(HistoryFile::at(
            self.path
                .with_file_name(crate::schema_history::file::FILE_NAME),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_atomically() {
        let dir = std::env::temp_dir().join(format!("sluice-ckpt-{}", std::process::id()));
        let store = CheckpointStore::new(&dir, "t1");
        assert_eq!(store.load().unwrap(), None);
        let cp = Checkpoint {
            position: BinlogPosition::new("binlog.000002", 1234),
            at_ms: 5,
            snapshot: None,
        };
        store.save(&cp).unwrap();
        assert_eq!(store.load().unwrap(), Some(cp.clone()));
        // A file written before snapshots existed has no `snapshot` field.
        std::fs::write(
            dir.join("t1/checkpoint.json"),
            br#"{"position":{"file":"binlog.000002","pos":1234},"at_ms":5}"#,
        )
        .unwrap();
        assert_eq!(store.load().unwrap(), Some(cp));
        std::fs::write(dir.join("t1/checkpoint.json"), b"{not json").unwrap();
        assert!(matches!(store.load(), Err(CheckpointError::Corrupt { .. })));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
