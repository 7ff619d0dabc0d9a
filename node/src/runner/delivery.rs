//! Handing events to the sinks: every failure retried with backoff until the sink takes them,
//! stopping is asked for, or the failure is one retrying cannot fix.

use std::time::Duration;

use sluice_core::Event;
use sluice_sinks::{Sink, SinkCheckpoint, SinkError};
use tokio::sync::watch;

use super::gate::WriteGate;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How a delivery ended.
pub enum Delivery {
    Done,
    /// Stopping was asked for while a sink kept failing.
    Interrupted,
    /// The write gate is closed: the node may not write for this task any more.
    Fenced,
}

/// What is asked of a sink.
#[derive(Clone, Copy)]
pub enum Attempt<'b> {
    Write(&'b [Event]),
    Commit(&'b SinkCheckpoint),
}

/// Writes a batch to every sink. A sink that fails transiently is retried with backoff until
/// it takes the batch: nothing is dropped, and the queue behind it fills, which stops the
/// reader (back-pressure). A definite failure (bad data for this sink) ends the task.
pub async fn deliver(
    sinks: &mut [Box<dyn Sink>],
    batch: &[Event],
    shutdown: &mut watch::Receiver<bool>,
    gate: &WriteGate,
) -> Result<Delivery, SinkError> {
    if batch.is_empty() {
        return Ok(Delivery::Done);
    }
    for sink in sinks.iter_mut() {
        match retry(sink.as_mut(), Attempt::Write(batch), shutdown, gate).await? {
            Delivery::Done => {}
            other => return Ok(other),
        }
    }
    Ok(Delivery::Done)
}

/// Runs `attempt` until it succeeds, fails definitely, needs the task to go back to its
/// checkpoint, or stopping is asked for.
pub async fn retry(
    sink: &mut dyn Sink,
    attempt: Attempt<'_>,
    shutdown: &mut watch::Receiver<bool>,
    gate: &WriteGate,
) -> Result<Delivery, SinkError> {
    let mut backoff = Duration::from_millis(100);
    loop {
        if !gate.is_open() {
            return Ok(Delivery::Fenced);
        }
        let (result, what) = match attempt {
            Attempt::Write(batch) => (sink.write(batch).await, "write"),
            Attempt::Commit(checkpoint) => (sink.commit(checkpoint).await, "commit"),
        };
        match result {
            Ok(()) => return Ok(Delivery::Done),
            Err(e) if e.is_definite() || e.needs_restart() => return Err(e),
            Err(e) => {
                tracing::warn!(sink = sink.name(), error = %e, retry_in_ms = backoff.as_millis() as u64, "Sink {what} failed; retrying.");
            }
        }
        if *shutdown.borrow() {
            return Ok(Delivery::Interrupted);
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return Ok(Delivery::Interrupted),
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
