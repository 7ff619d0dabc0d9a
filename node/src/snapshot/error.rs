//! Why a snapshot stopped. Each message names the table or the signal table and says what the
//! operator can do; a snapshot error stops the task (retrying cannot add a missing key or a
//! privilege).

/// A snapshot failure.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The task's setup cannot carry a snapshot.
    #[error("snapshot: {detail}")]
    Unsupported { detail: String },
    /// The snapshot's connections could not be opened.
    #[error("snapshot: cannot connect to the source: {detail}")]
    Connect { detail: String },
    /// A query of the snapshot failed.
    #[error("snapshot: {what}: {detail}")]
    Query { what: String, detail: String },
    /// The signal table is missing and the source user may not create it.
    #[error(
        "snapshot: signal table `{database}`.`{table}` cannot be created ({detail}): create it \
         yourself (CREATE TABLE `{database}`.`{table}` (task VARCHAR(255) NOT NULL PRIMARY KEY, \
         mark VARCHAR(255) NOT NULL)) and grant the source user INSERT and UPDATE on it, or \
         name a table it may create in `snapshot.signal_table`"
    )]
    SignalTable {
        database: String,
        table: String,
        detail: String,
    },
    /// A table has neither a primary key nor a NOT NULL unique key to read it in chunks by.
    #[error(
        "snapshot: table `{database}`.`{table}` has no primary key and no unique key on NOT \
         NULL columns, so it cannot be read in chunks: add a primary key, or exclude the table \
         (`filters.exclude` or leave it out of `snapshot.tables`)"
    )]
    NoKey { database: String, table: String },
    /// A table's key has a column type keyset pagination cannot compare exactly.
    #[error(
        "snapshot: table `{database}`.`{table}`: key column `{column}` is of type {data_type}, \
         which a snapshot cannot page by (allowed: integer, decimal, string, binary, date, \
         datetime, time and year columns): give the table a key of those types, or exclude it"
    )]
    KeyType {
        database: String,
        table: String,
        column: String,
        data_type: String,
    },
    /// A value read from a table does not fit its column.
    #[error("snapshot: table `{database}`.`{table}`: column `{column}`: {detail}")]
    Value {
        database: String,
        table: String,
        column: String,
        detail: String,
    },
}

/// Maps a driver error of `what` to [`SnapshotError::Query`].
pub(crate) fn query(what: impl Into<String>) -> impl FnOnce(mysql_async::Error) -> SnapshotError {
    let what = what.into();
    move |e| SnapshotError::Query {
        what,
        detail: e.to_string(),
    }
}
