//! Writes the low and high watermarks that bound a chunk: one row per task in the signal
//! table, updated to a new unique mark each time, on a connection of its own. Each write is its
//! own committed transaction, so it appears in the binlog exactly where it committed.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use super::chunk_reader::quote;
use super::error::{query, SnapshotError};

/// The signal table's column holding the mark.
pub const MARK_COLUMN: &str = "mark";

/// The snapshot's watermark connection.
pub struct WatermarkWriter {
    conn: Conn,
    upsert: String,
    task: String,
}

impl WatermarkWriter {
    /// Opens the connection and creates the signal table `database`.`table` if it is missing.
    pub async fn open(
        opts: &Opts,
        database: &str,
        table: &str,
        task: &str,
    ) -> Result<Self, SnapshotError> {
        let mut conn = Conn::new(opts.clone())
            .await
            .map_err(|e| SnapshotError::Connect {
                detail: e.to_string(),
            })?;
        let name = format!("{}.{}", quote(database), quote(table));
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {name} (task VARCHAR(255) NOT NULL PRIMARY KEY, \
             {MARK_COLUMN} VARCHAR(255) NOT NULL) ENGINE=InnoDB"
        );
        if let Err(e) = conn.query_drop(create).await {
            return Err(SnapshotError::SignalTable {
                database: database.into(),
                table: table.into(),
                detail: e.to_string(),
            });
        }
        Ok(WatermarkWriter {
            conn,
            upsert: format!(
                "INSERT INTO {name} (task, {MARK_COLUMN}) VALUES (?, ?) \
                 ON DUPLICATE KEY UPDATE {MARK_COLUMN} = VALUES({MARK_COLUMN})"
            ),
            task: task.into(),
        })
    }

    /// Writes and commits `mark`.
    pub async fn write(&mut self, mark: &str) -> Result<(), SnapshotError> {
        self.conn
            .exec_drop(&self.upsert, (&self.task, mark))
            .await
            .map_err(query("writing a watermark to the signal table"))
    }
}
