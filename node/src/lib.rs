//! A Sluice node: the binlog source and the task runner.

pub mod cluster;
mod durable_file;
pub mod error;
pub mod probe;
pub mod runner;
pub mod schema_history;
pub mod snapshot;
pub mod source;
pub mod telemetry;

pub use error::SourceError;
