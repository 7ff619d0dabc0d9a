//! The live source's side of the schema history (`crate::schema_history`): opening it at the
//! start position, applying each DDL the stream passes, and giving table definitions.
//!
//! Only for servers whose TABLE_MAP events lack column names: with `binlog_row_metadata=FULL`
//! the binlog describes every row itself and no history is kept.

use sluice_core::{BinlogPosition, Event, EventKind};

use crate::error::SourceError;
use crate::schema_history::capture::capture;
use crate::schema_history::{HistoryError, HistoryStore, SchemaHistory};
use crate::source::schema::TableDefinition;

/// A task's schema history and the store it is kept in (beside the task's checkpoint).
pub struct SchemaTracking {
    history: SchemaHistory,
    store: HistoryStore,
    source_name: String,
}

impl SchemaTracking {
    /// The history saved in `store`, at `start`; or, on a first run (none saved, or one that
    /// starts after `start`), the schema read from information_schema now, saved at once so
    /// that a later restart from an earlier checkpoint (on this node or another) finds it.
    pub async fn open(
        source_name: &str,
        store: HistoryStore,
        conn: &mut mysql_async::Conn,
        start: &BinlogPosition,
    ) -> Result<Self, SourceError> {
        let fail = |e: HistoryError| SourceError::Open {
            path: format!("source {source_name}"),
            detail: e.to_string(),
        };
        // A GTID start has no file position yet: the saved history is taken as it is.
        let known_start = !start.file.is_empty();
        let saved = store.load().await.map_err(fail)?;
        let history = match saved {
            Some(mut history) if !known_start || history.start <= *start => {
                if known_start {
                    history.rewind_to(start).map_err(fail)?;
                } else {
                    history.restore().map_err(fail)?;
                }
                tracing::info!(source = %source_name, start = %start, versions = history.changes.len(), kept_in = %store.location(), "Decoding with the schema history saved for the start position.");
                history
            }
            saved => {
                if let Some(old) = saved {
                    tracing::warn!(source = %source_name, start = %start, history_start = %old.start, "The saved schema history starts after the start position; reading the schema afresh.");
                }
                let schema = capture(conn).await.map_err(|e| SourceError::Query {
                    source_name: source_name.to_string(),
                    what: "reading the schema from information_schema for the schema history"
                        .into(),
                    detail: e.to_string(),
                })?;
                let history = SchemaHistory::new(start.clone(), schema);
                store.save(&history).await.map_err(fail)?;
                tracing::info!(source = %source_name, start = %start, tables = history.current().databases.values().map(|d| d.tables.len()).sum::<usize>(), kept_in = %store.location(), "Started the schema history from information_schema.");
                history
            }
        };
        Ok(SchemaTracking {
            history,
            store,
            source_name: source_name.to_string(),
        })
    }

    /// The definition of `database`.`table` at the stream's position, if the history knows it.
    pub fn definition(&self, database: &str, table: &str) -> Option<TableDefinition> {
        self.history.current().definition(database, table).cloned()
    }

    /// Applies the DDL `event` stands for (other events pass) and saves the history if it
    /// changed, before the event goes on, so no checkpoint past the DDL precedes its record.
    /// A save that fails (in cluster mode: refused because the task is not this node's any
    /// more) is a definite error: the task stops, as on a fenced checkpoint.
    pub async fn apply(&mut self, event: &Event) -> Result<(), SourceError> {
        let EventKind::Ddl {
            database,
            sql,
            next,
        } = &event.kind
        else {
            return Ok(());
        };
        let at = BinlogPosition::new(&*event.position.file, event.position.pos);
        let changed =
            self.history
                .apply(&at, next, database, sql)
                .map_err(|e| SourceError::BadEvent {
                    path: format!("source {}: {}", self.source_name, event.position.file),
                    offset: event.position.pos,
                    event_type: "QUERY_EVENT".into(),
                    detail: e.to_string(),
                })?;
        if changed {
            self.store
                .save(&self.history)
                .await
                .map_err(|e| SourceError::Open {
                    path: format!("source {}", self.source_name),
                    detail: e.to_string(),
                })?;
        }
        Ok(())
    }
}
