//! A task's schema history on disk: `DATA_DIR/TASK/schema-history.json`, next to its
//! checkpoint, replaced atomically (`crate::durable_file`), so a crash leaves either the old or
//! the new history, whole.
//!
//! The source saves it as soon as a DDL changed the schema, before that DDL's event goes on
//! to the sinks, so no checkpoint past a DDL can be written before the DDL is on disk.

use std::path::{Path, PathBuf};

use super::history::SchemaHistory;
use super::HistoryError;
use crate::durable_file::{read_if_present, replace};

/// The history file's name in the task's folder.
pub const FILE_NAME: &str = "schema-history.json";

/// The file of one task's schema history.
#[derive(Debug, Clone)]
pub struct HistoryFile {
    path: PathBuf,
}

impl HistoryFile {
    /// The history file of task `task` under `data_dir`.
    pub fn new(data_dir: &Path, task: &str) -> Self {
        HistoryFile {
            path: data_dir.join(task).join(FILE_NAME),
        }
    }

    /// A history file at `path`.
    pub fn at(path: PathBuf) -> Self {
        HistoryFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, what: &'static str) -> impl FnOnce(std::io::Error) -> HistoryError + '_ {
        move |source| HistoryError::Io {
            path: self.path.display().to_string(),
            what,
            source,
        }
    }

    /// The saved history, if any. Its current schema is the base: call `rewind_to`.
    pub fn load(&self) -> Result<Option<SchemaHistory>, HistoryError> {
        let Some(bytes) = read_if_present(&self.path).map_err(self.io("cannot read"))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| HistoryError::Corrupt {
                path: self.path.display().to_string(),
                source,
            })
    }

    /// Replaces the saved history atomically and durably.
    pub fn save(&self, history: &SchemaHistory) -> Result<(), HistoryError> {
        let bytes = serde_json::to_vec(history).map_err(|source| HistoryError::Corrupt {
            path: self.path.display().to_string(),
            source,
        })?;
        replace(&self.path, &bytes).map_err(|e| self.io(e.what)(e.source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema_history::schema::Schema;
    use sluice_core::BinlogPosition;

    #[test]
    fn saves_and_loads() {
        let dir = std::env::temp_dir().join(format!("sluice-history-{}", std::process::id()));
        let file = HistoryFile::new(&dir, "t1");
        assert!(file.load().unwrap().is_none());
        let mut history = SchemaHistory::new(BinlogPosition::new("b.000001", 4), Schema::default());
        let (a, b) = (
            BinlogPosition::new("b.000001", 10),
            BinlogPosition::new("b.000001", 20),
        );
        history
            .apply(&a, &b, "d", "CREATE TABLE t (id INT)")
            .unwrap();
        file.save(&history).unwrap();
        let mut loaded = file.load().unwrap().unwrap();
        loaded.rewind_to(&b).unwrap();
        assert_eq!(loaded.current(), history.current());
        std::fs::write(file.path(), b"{not json").unwrap();
        assert!(matches!(file.load(), Err(HistoryError::Corrupt { .. })));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
