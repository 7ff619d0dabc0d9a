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
    /// Redis refused or did not answer (connection, timeout, a server error such as OOM).
    #[error("sink {sink}: Redis at {url}: {what}: {source}")]
    Redis {
        sink: String,
        /// The URL with its password redacted.
        url: String,
        what: String,
        source: ::redis::RedisError,
    },
    /// A row has no value for a placeholder of the sink's key template: the key cannot be
    /// built. Definite: retrying the same row cannot help.
    #[error("sink {sink}: table {table}: key placeholder {{{placeholder}}}: {detail}")]
    KeyColumn {
        sink: String,
        /// `db.table`.
        table: String,
        placeholder: String,
        detail: String,
    },
    /// Kafka refused a message or did not acknowledge it in time (`message.timeout.ms`), or
    /// the producer could not be made.
    #[error("sink {sink}: Kafka topic {topic}: {what}: {source}")]
    Kafka {
        sink: String,
        topic: String,
        what: String,
        /// Boxed: librdkafka's error is large, and every `Result` of a sink carries this type.
        source: Box<::rdkafka::error::KafkaError>,
    },
    /// A table's topic is not a legal Kafka topic name (its database or table name holds a
    /// character topics cannot). Definite: the row cannot be sent as configured.
    #[error("sink {sink}: table {table}: topic {topic:?}: {detail}")]
    Topic {
        sink: String,
        /// `db.table`.
        table: String,
        topic: String,
        detail: String,
    },
}

impl SinkError {
    /// Whether retrying cannot help (the data does not fit the sink's configuration): the task
    /// stops and says so, rather than retrying forever.
    pub fn is_definite(&self) -> bool {
        matches!(self, SinkError::KeyColumn { .. } | SinkError::Topic { .. })
    }
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
