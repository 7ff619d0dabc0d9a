//! A task's `snapshot` table: whether the task first delivers the rows its tables already hold
//! (as op `r` events), how big a chunk is, and where the watermarks that bound each chunk go.
//! The algorithm is in the node's `snapshot` module; this is only what the user writes.

use serde::Deserialize;

use super::FieldError;
use crate::filter::pattern_set;

/// When a task snapshots its tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotMode {
    /// Only changes: the task starts at `source.start`.
    #[default]
    Never,
    /// On the task's first start (no checkpoint yet): stream from the binlog's end and read
    /// every included table in chunks meanwhile.
    Initial,
}

/// What a task does when its resume position is no longer on the server (the binlog files
/// holding it were purged): the changes since then cannot be read any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnPurged {
    /// Stop with the definite error: the operator decides (restart from a position the server
    /// has, or take a snapshot).
    #[default]
    Fail,
    /// Stream from the binlog's current end and snapshot every table again: the sinks end up
    /// equal to the tables, with the lost changes replaced by the rows as they are now.
    Snapshot,
}

/// The chunk sizes allowed: a chunk is held in memory between its watermarks.
pub const CHUNK_ROWS_RANGE: std::ops::RangeInclusive<u32> = 1..=1_000_000;

/// How many chunks a snapshot may read at once: each reader is two connections to the source.
pub const READERS_RANGE: std::ops::RangeInclusive<u32> = 1..=16;

/// `[tasks.snapshot]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotConfig {
    pub mode: SnapshotMode,
    /// Rows read per chunk (one `SELECT ... LIMIT chunk_rows` between two watermarks).
    pub chunk_rows: u32,
    /// `DB.TABLE` where the watermarks are written; created when missing. Required with
    /// `mode = "initial"`.
    pub signal_table: Option<String>,
    /// `db.table` patterns of the tables to snapshot; empty: every table the filters include.
    pub tables: Vec<String>,
    /// When the resume position was purged from the server: fail, or snapshot again.
    pub on_purged: OnPurged,
    /// Chunks read at once, each on a connection of its own (tables paged by a single integer
    /// key are split into key ranges for this; others are read one chunk at a time).
    pub readers: u32,
}

/// 8192 rows: a few MiB for typical rows, and few enough watermark writes per table.
const DEFAULT_CHUNK_ROWS: u32 = 8192;

/// Four readers: the server scans four key ranges at once, short `LIMIT`ed range scans. On the
/// 2-core benchmark machine 1, 2, 3 and 4 readers read 1M rows in about 1.43, 1.18, 1.09 and
/// 1.03 s (docs/benchmarks.md): more readers fill the gaps each one leaves while it waits for
/// the server, even where cores are few. `readers = 1` is the lightest load on the source.
const DEFAULT_READERS: u32 = 4;

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            mode: SnapshotMode::Never,
            chunk_rows: DEFAULT_CHUNK_ROWS,
            signal_table: None,
            tables: Vec::new(),
            on_purged: OnPurged::Fail,
            readers: DEFAULT_READERS,
        }
    }
}

impl SnapshotConfig {
    /// The signal table as (database, table), when it is well formed.
    pub fn signal_table_parts(&self) -> Option<(&str, &str)> {
        let (db, table) = self.signal_table.as_deref()?.split_once('.')?;
        (valid_identifier(db) && valid_identifier(table)).then_some((db, table))
    }

    /// Every problem of this table; `at` is its path (`tasks[0].snapshot`).
    pub fn problems(&self, at: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !CHUNK_ROWS_RANGE.contains(&self.chunk_rows) {
            errors.push(FieldError {
                field: format!("{at}.chunk_rows"),
                value: Some(self.chunk_rows.to_string()),
                message: format!(
                    "a chunk is {} to {} rows",
                    CHUNK_ROWS_RANGE.start(),
                    CHUNK_ROWS_RANGE.end()
                ),
            });
        }
        if !READERS_RANGE.contains(&self.readers) {
            errors.push(FieldError {
                field: format!("{at}.readers"),
                value: Some(self.readers.to_string()),
                message: format!(
                    "a snapshot reads with {} to {} readers (each two connections to the source)",
                    READERS_RANGE.start(),
                    READERS_RANGE.end()
                ),
            });
        }
        match (&self.signal_table, self.signal_table_parts()) {
            (Some(raw), None) => errors.push(FieldError {
                field: format!("{at}.signal_table"),
                value: Some(raw.clone()),
                message: "write the signal table as `DATABASE.TABLE` (letters, digits, `_` and \
                          `$`, no quotes)"
                    .into(),
            }),
            (None, _) if self.mode == SnapshotMode::Initial => errors.push(FieldError {
                field: format!("{at}.signal_table"),
                value: None,
                message: "a snapshot needs a signal table for its watermarks: set \
                          `signal_table = \"DATABASE.TABLE\"` (Sluice creates the table; the \
                          source user needs CREATE, INSERT and UPDATE on it)"
                    .into(),
            }),
            (None, _) if self.on_purged == OnPurged::Snapshot => errors.push(FieldError {
                field: format!("{at}.signal_table"),
                value: None,
                message: "`on_purged = \"snapshot\"` takes a snapshot, which needs a signal \
                          table for its watermarks: set `signal_table = \"DATABASE.TABLE\"`, \
                          or `on_purged = \"fail\"`"
                    .into(),
            }),
            _ => {}
        }
        if let Err(e) = pattern_set(&format!("{at}.tables"), &self.tables) {
            errors.push(e);
        }
        errors
    }
}

/// An unquoted MySQL identifier: what can go into SQL between backticks without escaping.
fn valid_identifier(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> SnapshotConfig {
        toml::from_str(toml_text).expect("a snapshot table")
    }

    #[test]
    fn defaults_to_never_with_8192_row_chunks() {
        let config = parse("");
        assert_eq!(config.mode, SnapshotMode::Never);
        assert_eq!(config.chunk_rows, 8192);
        assert_eq!(config.readers, 4);
        assert!(config.problems("snapshot").is_empty());
    }

    #[test]
    fn initial_needs_a_well_formed_signal_table() {
        let fields = |text: &str| -> Vec<String> {
            parse(text)
                .problems("snapshot")
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields("mode = \"initial\""), ["snapshot.signal_table"]);
        assert_eq!(
            fields("mode = \"initial\"\nsignal_table = \"no_dot\""),
            ["snapshot.signal_table"]
        );
        assert_eq!(
            fields("mode = \"initial\"\nsignal_table = \"a.b`c\""),
            ["snapshot.signal_table"]
        );
        assert!(fields("mode = \"initial\"\nsignal_table = \"ops.sluice_signal\"").is_empty());
        assert_eq!(fields("chunk_rows = 0"), ["snapshot.chunk_rows"]);
        assert_eq!(fields("readers = 0"), ["snapshot.readers"]);
        assert_eq!(fields("readers = 17"), ["snapshot.readers"]);
        assert!(fields("readers = 16").is_empty());
        let message = &parse("readers = 0").problems("snapshot")[0].message;
        assert!(message.contains("1 to 16 readers"), "{message}");
        assert_eq!(fields("tables = [\"(\"]"), ["snapshot.tables[0]"]);
    }

    #[test]
    fn a_snapshot_on_purge_needs_a_signal_table() {
        assert_eq!(parse("").on_purged, OnPurged::Fail);
        let config = parse("on_purged = \"snapshot\"");
        assert_eq!(config.on_purged, OnPurged::Snapshot);
        let fields: Vec<String> = config
            .problems("snapshot")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["snapshot.signal_table"]);
        let with_table = parse("on_purged = \"snapshot\"\nsignal_table = \"ops.signal\"");
        assert!(with_table.problems("snapshot").is_empty());
        assert!(toml::from_str::<SnapshotConfig>("on_purged = \"retry\"").is_err());
    }

    #[test]
    fn an_unknown_mode_is_refused_by_the_parser() {
        assert!(toml::from_str::<SnapshotConfig>("mode = \"always\"").is_err());
    }
}
