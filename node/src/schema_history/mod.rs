//! The schema history: the table definitions of every binlog position since a task started,
//! for servers that do not write column names into the binlog (`binlog_row_metadata` other
//! than FULL). Without it a row could only be decoded with the table's *current* columns,
//! wrong for rows written before a DDL the stream has not reached yet, and after a restart
//! from an old checkpoint.
//!
//! - [`ddl`] reads a QUERY event's statement as schema changes (`sqlparser`, MySQL dialect),
//!   with `alter_parts` reading by hand the ALTER TABLE options the parser does not know;
//! - [`schema`] is the schema at one position and applies those changes;
//! - [`history`] keeps the versions, keyed by binlog position;
//! - [`capture`] reads the schema a history starts from, from information_schema;
//! - [`store`] keeps a task's history beside its checkpoint, in whichever store keeps that
//!   (a file in standalone mode, the coordinator in cluster mode).
//!
//! The live source (`crate::source::connection`) drives it: it opens the history at the
//! start position, applies each DDL it passes, and asks it for a table's definition.

mod alter_parts;
pub mod capture;
pub mod ddl;
pub mod history;
pub mod schema;
pub mod store;

pub use history::SchemaHistory;
pub use store::HistoryStore;

/// Why the schema history cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A statement that changes tables could not be read: the columns after it are unknown.
    #[error(
        "cannot read the DDL statement at {position} ({detail}): `{statement}`; Sluice stops \
         rather than decode the rows after it with the wrong columns: restart the task from a \
         position after the statement once its tables' rows no longer matter, or report the \
         statement so the parser learns it"
    )]
    Ddl {
        position: String,
        statement: String,
        detail: String,
    },
    /// The store beside the checkpoint could not read or save it (the error names the file
    /// or the task; a fenced save means the task is not this node's any more).
    #[error("schema history: {0}")]
    Store(#[from] crate::runner::checkpoint::CheckpointError),
    /// `at` names where it is kept.
    #[error(
        "schema history {at} is corrupt ({source}): move it away to capture the schema afresh"
    )]
    Corrupt {
        at: String,
        source: serde_json::Error,
    },
}
