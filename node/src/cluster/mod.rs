//! Cluster mode: a node that takes its tasks from a [`Coordinator`](sluice_core::coordination::Coordinator)
//! (ZooKeeper), keeps their checkpoints there, and reports their status there.

mod agent;
mod checkpoints;
mod placement;
mod report;

pub use agent::{NodeAgent, NodeError};
pub use checkpoints::{seed_from_files, CoordinatorCheckpoints, FileMirroredCheckpoints};
