//! Where a task's schema history is kept: the task's data record `schema-history` beside its
//! checkpoint ([`Checkpoints::save_data`]), so every checkpoint store keeps it the way it
//! keeps the checkpoint:
//! - the file store (standalone): `DATA_DIR/TASK/schema-history.json`, replaced atomically and
//!   durably, so a crash leaves either the old or the new history, whole;
//! - the coordinator (cluster mode): a record in ZooKeeper written fenced by the task's
//!   ownership, so the node that takes a task over decodes with the history the last owner
//!   saved, and a node that lost the task can no longer change it.
//!
//! The source saves it as soon as a DDL changed the schema, before that DDL's event goes on
//! to the sinks, so no checkpoint past a DDL can be written before the DDL's record is.

use std::sync::Arc;

use super::history::SchemaHistory;
use super::HistoryError;
use crate::runner::checkpoint::Checkpoints;

/// The name of the schema history's data record (its file is `schema-history.json`).
pub const RECORD: &str = "schema-history";

/// One task's schema history in its checkpoint store.
#[derive(Clone)]
pub struct HistoryStore {
    store: Arc<dyn Checkpoints>,
}

impl HistoryStore {
    /// The history kept in `store`, beside the task's checkpoint.
    pub fn new(store: Arc<dyn Checkpoints>) -> Self {
        HistoryStore { store }
    }

    /// Where it is kept, for logs.
    pub fn location(&self) -> String {
        self.store.data_location(RECORD)
    }

    /// The saved history, if any. Its current schema is the base: call `rewind_to`.
    pub async fn load(&self) -> Result<Option<SchemaHistory>, HistoryError> {
        let Some(bytes) = self.store.load_data(RECORD).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| HistoryError::Corrupt {
                at: self.location(),
                source,
            })
    }

    /// Replaces the saved history; an error (the task no longer owned, the store failing)
    /// means it was not saved and the task must stop.
    pub async fn save(&self, history: &SchemaHistory) -> Result<(), HistoryError> {
        let bytes = serde_json::to_vec(history).map_err(|source| HistoryError::Corrupt {
            at: self.location(),
            source,
        })?;
        Ok(self.store.save_data(RECORD, &bytes).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::CoordinatorCheckpoints;
    use crate::runner::checkpoint::{CheckpointError, CheckpointStore};
    use crate::schema_history::schema::Schema;
    use sluice_core::coordination::{Coordinator, InProcessCoordinator, PublishedTask};
    use sluice_core::BinlogPosition;

    /// A history with one DDL applied, and the position after it.
    fn history() -> (SchemaHistory, BinlogPosition) {
        let mut history = SchemaHistory::new(BinlogPosition::new("b.000001", 4), Schema::default());
        let (a, b) = (
            BinlogPosition::new("b.000001", 10),
            BinlogPosition::new("b.000001", 20),
        );
        history
            .apply(&a, &b, "d", "CREATE TABLE t (id INT)")
            .unwrap();
        (history, b)
    }

    #[tokio::test]
    async fn saves_and_loads_in_the_file_beside_the_checkpoint() {
        let dir = std::env::temp_dir().join(format!("sluice-history-{}", std::process::id()));
        let store = HistoryStore::new(Arc::new(CheckpointStore::new(&dir, "t1")));
        assert!(store.load().await.unwrap().is_none());
        let (history, after) = history();
        store.save(&history).await.unwrap();
        let path = dir.join("t1").join("schema-history.json");
        assert_eq!(store.location(), path.display().to_string());
        let mut loaded = store.load().await.unwrap().unwrap();
        loaded.rewind_to(&after).unwrap();
        assert_eq!(loaded.current(), history.current());
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            store.load().await,
            Err(HistoryError::Corrupt { .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn in_the_coordinator_only_the_owner_saves_and_the_next_owner_loads() {
        let manager = InProcessCoordinator::new();
        let published = PublishedTask {
            revision: 1,
            config: serde_json::json!({}),
        };
        manager.publish_task("t", &published).await.unwrap();
        let (a, b) = (Arc::new(manager.new_session()), manager.new_session());
        let owner = a.try_claim("t", "a").await.unwrap().unwrap();
        let first = HistoryStore::new(Arc::new(CoordinatorCheckpoints::new(a.clone(), "t", owner)));
        let (history, after) = history();
        first.save(&history).await.unwrap();

        // Node `a` is gone; `b` takes the task over and finds the history.
        a.expire();
        let next = b.try_claim("t", "b").await.unwrap().unwrap();
        let second = HistoryStore::new(Arc::new(CoordinatorCheckpoints::new(
            Arc::new(b),
            "t",
            next,
        )));
        let mut loaded = second.load().await.unwrap().unwrap();
        loaded.rewind_to(&after).unwrap();
        assert_eq!(loaded.current(), history.current());

        // The old owner's save is fenced off: an error, never a silent skip.
        let err = first.save(&history).await.unwrap_err();
        assert!(
            matches!(err, HistoryError::Store(CheckpointError::Fenced { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("schema-history"), "{err}");
    }
}
