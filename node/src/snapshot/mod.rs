//! Snapshots, the watermark way (DBLog): a task delivers the rows its tables already hold as
//! op `r` events while it streams the binlog, without locking the source.
//!
//! Tables are read in key-ordered chunks (`chunk_reader`), each bounded by a low and a high
//! watermark written to a signal table (`watermark`); in the stream, keys changed between a
//! chunk's marks are dropped from it and the rest are emitted at the high mark (`window`, which
//! argues why that is correct). A `producer` on a thread of its own (`producer_thread`) reads
//! chunks ahead, several at once, while earlier ones wait for their marks in the stream;
//! `splitter` decides the chunks (key ranges for integer keys, so readers can share a table).
//! Progress (table, last key of the delivered prefix: `frontier`) rides in the checkpoint
//! (`progress`), so a restart continues after the last chunk delivered in key order. `snapshotter` ties these
//! together; `discovery` finds the tables and their keys, `values` converts what a chunk reads
//! to the values the binlog decoder produces.

pub mod chunk_reader;
pub mod discovery;
pub mod error;
pub mod frontier;
pub mod lane;
pub mod producer;
pub mod producer_thread;
pub mod progress;
pub mod snapshotter;
pub mod splitter;
pub mod values;
pub mod watermark;
pub mod window;

pub use error::SnapshotError;
pub use progress::{KeyValue, ProgressLedger, SnapshotProgress};
pub use snapshotter::{SnapshotScope, Snapshotter};
