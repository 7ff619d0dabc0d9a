//! The contract between the pipeline and a sink.

use sluice_core::Event;

/// Why a sink could not take or keep events.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("sink {sink}: {what}: {source}")]
    Io {
        sink: String,
        what: String,
        source: std::io::Error,
    },
}

/// A destination for events.
///
/// `write` may buffer; only `flush` promises durability. The pipeline checkpoints a position
/// only after every sink's `flush` returned `Ok` for all events up to it, so a sink must never
/// return `Ok` from `flush` while an event it accepted could still be lost.
#[async_trait::async_trait]
pub trait Sink: Send {
    /// The sink's name (config `name`), for logs, status and metrics.
    fn name(&self) -> &str;
    /// Takes events, in order. They may be buffered until `flush`.
    async fn write(&mut self, events: &[Event]) -> Result<(), SinkError>;
    /// Makes every event written so far durable.
    async fn flush(&mut self) -> Result<(), SinkError>;
}
