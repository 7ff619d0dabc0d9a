//! Running tasks: the task pipeline (source → sinks → checkpoint) and standalone mode.

pub mod checkpoint;
mod delivery;
mod gate;
mod queue;
mod snapshot_plan;
mod standalone;
mod task;

pub use gate::{LeaseRenewer, WriteGate};
pub use standalone::{run_standalone, shutdown_signal};
pub use task::{run_task, TaskError};
