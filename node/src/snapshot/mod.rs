//! Snapshots, the watermark way (DBLog): a task delivers the rows its tables already hold as
//! op `r` events while it streams the binlog, without locking the source.
//!
//! Tables are read in key-ordered chunks (`chunk_reader`), each bounded by a low and a high
//! watermark written to a signal table (`watermark`); in the stream, keys changed between a
//! chunk's marks are dropped from it and the rest are emitted at the high mark (`window`, which
//! argues why that is correct). A `producer` task reads chunks ahead while earlier ones wait
//! for their marks in the stream. Progress (table, last key) rides in the checkpoint
//! (`progress`), so a restart continues at the last delivered chunk. `snapshotter` ties these
//! together; `discovery` finds the tables and their keys, `values` converts what a chunk reads
//! to the values the binlog decoder produces.

pub mod chunk_reader;
pub mod discovery;
pub mod error;
pub mod producer;
pub mod producer_thread;
pub mod progress;
pub mod snapshotter;
pub mod values;
pub mod watermark;
pub mod window;

pub use error::SnapshotError;
pub use progress::{KeyValue, ProgressLedger, SnapshotProgress};
pub use snapshotter::{SnapshotScope, Snapshotter};
