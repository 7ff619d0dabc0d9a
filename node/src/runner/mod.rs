//! Running tasks: the task pipeline (source → sinks → checkpoint) and standalone mode.

pub mod checkpoint;
mod coverage;
mod delivery;
mod gate;
mod purged_resume;
mod queue;
mod snapshot_plan;
mod snapshot_requests;
mod standalone;
mod task;

pub use gate::{LeaseRenewer, WriteGate};
pub use snapshot_requests::SnapshotRequests;
pub use standalone::{run_standalone, shutdown_signal};
pub use task::{run_task, TaskError};
