//! Running tasks: the task pipeline (source → sinks → checkpoint) and standalone mode.

pub mod checkpoint;
mod standalone;
mod task;

pub use standalone::run_standalone;
pub use task::{run_task, TaskError};
