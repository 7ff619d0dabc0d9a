//! Where a task keeps its checkpoint: [`Checkpoints`], with the file store of standalone mode
//! here (one JSON file per task, replaced atomically) and the coordinator's in cluster mode
//! (`crate::cluster::CoordinatorCheckpoints`).
//!
//! The checkpoint records the position right after the last transaction that every sink has
//! durably acknowledged. It is written with write-to-temp, fsync, rename, fsync-directory, so
//! after a crash at any point the file holds either the old or the new checkpoint, whole.
//!
//! Beside the checkpoint a store keeps the task's *data*: named records of other task state
//! that must survive a restart and follow the task to another node (its schema history under
//! [`crate::schema_history::store::RECORD`], ...). The store treats them as opaque bytes and
//! writes them with the checkpoint's guarantees: atomically, durably and, in cluster mode,
//! fenced by ownership. Names follow [`check_data_name`] (`schema-history`, `coverage`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sluice_core::coordination::check_data_name;
use sluice_core::BinlogPosition;

use crate::durable_file::{read_if_present, replace};

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

impl Checkpoint {
    /// A checkpoint a sink kept with its events, as written at `at_ms`.
    pub fn kept_by_sink(kept: sluice_sinks::SinkCheckpoint, at_ms: u64) -> Checkpoint {
        Checkpoint {
            position: kept.position,
            at_ms,
            snapshot: kept.snapshot,
        }
    }

    /// What a sink that keeps the checkpoint commits with its events.
    pub fn for_sinks(&self) -> sluice_sinks::SinkCheckpoint {
        sluice_sinks::SinkCheckpoint {
            position: self.position.clone(),
            snapshot: self.snapshot.clone(),
        }
    }
}

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A file of the store (the checkpoint, a data record) could not be read or written.
    #[error("{path}: {what}: {source}")]
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
    /// A task data record name no store can keep (see [`check_data_name`]).
    #[error("task {task}: {detail}")]
    InvalidDataName { task: String, detail: String },
}

/// A task's checkpoint storage.
#[async_trait::async_trait]
pub trait Checkpoints: Send + Sync {
    /// The saved checkpoint, if any.
    async fn load(&self) -> Result<Option<Checkpoint>, CheckpointError>;
    /// Replaces the checkpoint durably; refused once the caller may no longer write it.
    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError>;
    /// The task's data record `name` (see the module docs) as last saved; `None` if it never
    /// was.
    async fn load_data(&self, name: &str) -> Result<Option<Vec<u8>>, CheckpointError>;
    /// Replaces the task's data record `name` with `bytes`, atomically and durably, under the
    /// same rule as [`Checkpoints::save`]: once the caller may no longer write the checkpoint
    /// this fails with [`CheckpointError::Fenced`] and writes nothing, and the task must stop.
    async fn save_data(&self, name: &str, bytes: &[u8]) -> Result<(), CheckpointError>;
    /// Where record `name` is kept, for messages and logs (a file path, a coordinator record).
    fn data_location(&self, name: &str) -> String;
    /// This same store, owned, for a stage that outlives the borrow it was given (the source
    /// saves the schema history from the task's reader).
    fn shared(&self) -> Arc<dyn Checkpoints>;
}

/// A task's checkpoint file, and its data records as `NAME.json` files beside it.
#[derive(Debug, Clone)]
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

    /// The file of data record `name`: `DATA_DIR/TASK/NAME.json` (the schema history's is
    /// `schema-history.json`, where earlier versions kept it).
    fn data_path(&self, name: &str) -> Result<PathBuf, CheckpointError> {
        check_data_name(name).map_err(|e| CheckpointError::InvalidDataName {
            task: self.task_name(),
            detail: e.to_string(),
        })?;
        Ok(self.path.with_file_name(format!("{name}.json")))
    }

    fn task_name(&self) -> String {
        self.path
            .parent()
            .and_then(Path::file_name)
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    }

    /// Data record `name`, if saved.
    pub fn load_data(&self, name: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        let path = self.data_path(name)?;
        read_if_present(&path).map_err(|source| CheckpointError::Io {
            path: path.display().to_string(),
            what: "cannot read",
            source,
        })
    }

    /// Replaces data record `name` atomically and durably (as the checkpoint).
    pub fn save_data(&self, name: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        let path = self.data_path(name)?;
        replace(&path, bytes).map_err(|e| CheckpointError::Io {
            path: path.display().to_string(),
            what: e.what,
            source: e.source,
        })
    }

    /// Where data record `name` is (or would be) kept.
    pub fn data_location(&self, name: &str) -> String {
        self.path
            .with_file_name(format!("{name}.json"))
            .display()
            .to_string()
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

    async fn load_data(&self, name: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        CheckpointStore::load_data(self, name)
    }

    async fn save_data(&self, name: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        CheckpointStore::save_data(self, name, bytes)
    }

    fn data_location(&self, name: &str) -> String {
        CheckpointStore::data_location(self, name)
    }

    fn shared(&self) -> Arc<dyn Checkpoints> {
        Arc::new(self.clone())
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

    #[tokio::test]
    async fn data_records_are_files_beside_the_checkpoint() {
        let dir = std::env::temp_dir().join(format!("sluice-ckpt-data-{}", std::process::id()));
        let store: Arc<dyn Checkpoints> = Arc::new(CheckpointStore::new(&dir, "t1"));
        assert_eq!(store.load_data("schema-history").await.unwrap(), None);
        store
            .save_data("schema-history", b"{\"v\":1}")
            .await
            .unwrap();
        store.save_data("coverage", b"[]").await.unwrap();
        // The schema history keeps the file name of earlier versions.
        assert_eq!(
            std::fs::read(dir.join("t1/schema-history.json")).unwrap(),
            b"{\"v\":1}"
        );
        let shared = store.shared();
        assert_eq!(
            shared.load_data("coverage").await.unwrap(),
            Some(b"[]".to_vec())
        );
        assert_eq!(
            store.data_location("coverage"),
            dir.join("t1/coverage.json").display().to_string()
        );
        // A name that would leave the folder, or replace the checkpoint, is refused.
        for bad in ["../t2/x", "checkpoint", ""] {
            let err = store.save_data(bad, b"x").await.unwrap_err();
            assert!(
                matches!(err, CheckpointError::InvalidDataName { .. }),
                "{bad}: {err}"
            );
        }
        assert!(!dir.join("t1/checkpoint.json").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
