//! A Sluice node: the binlog source and the task runner.

pub mod error;
pub mod runner;
pub mod source;

pub use error::SourceError;
