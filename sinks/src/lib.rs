//! Sinks: where a task's events are delivered. Every sink follows the same contract (`Sink`),
//! and lives in a folder of its own.

pub mod file;
pub mod formats;
pub mod kafka;
pub mod redis;
mod sink;

pub use sink::{Sink, SinkCheckpoint, SinkError};
