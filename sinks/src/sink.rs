//! The contract between the pipeline and a sink.

use sluice_core::snapshot_progress::SnapshotProgress;
use sluice_core::{BinlogPosition, Event};

/// The checkpoint a sink that keeps it ([`Sink::keeps_checkpoint`]) commits with its events:
/// where the source continues after them, and how far a snapshot in progress got.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkCheckpoint {
    pub position: BinlogPosition,
    /// `None`: no snapshot in progress.
    pub snapshot: Option<SnapshotProgress>,
}

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
    /// The transaction holding the events since the last commit was aborted (a broker failure
    /// mid-transaction): those events are gone from the sink and must be read again.
    #[error("sink {sink}: Kafka transaction aborted ({what}): {source}")]
    TransactionAborted {
        sink: String,
        what: String,
        source: Box<::rdkafka::error::KafkaError>,
    },
    /// A message handed over by an earlier `write` was not delivered (`write` does not wait
    /// for acknowledgements; `commit` does): the events since the last checkpoint must be sent
    /// again, from the source.
    #[error("sink {sink}: Kafka topic {topic}: {what}: {source}")]
    Undelivered {
        sink: String,
        topic: String,
        what: String,
        source: Box<::rdkafka::error::KafkaError>,
    },
    /// Another producer with the same transactional id took over: this one must stop writing.
    #[error("sink {sink}: fenced off by a newer producer with transactional id {transactional_id:?}: {detail}")]
    Fenced {
        sink: String,
        transactional_id: String,
        detail: String,
    },
}

impl SinkError {
    /// Whether retrying cannot help (the data does not fit the sink's configuration, or the
    /// sink was fenced off by a newer owner): the task stops and says so, rather than retrying
    /// forever.
    pub fn is_definite(&self) -> bool {
        matches!(
            self,
            SinkError::KeyColumn { .. } | SinkError::Topic { .. } | SinkError::Fenced { .. }
        )
    }

    /// Whether the sink dropped what it had taken since its last commit (an aborted Kafka
    /// transaction): retrying the last batch is not enough, the task must go back to its last
    /// checkpoint and read the source again from there.
    pub fn needs_restart(&self) -> bool {
        matches!(
            self,
            SinkError::TransactionAborted { .. } | SinkError::Undelivered { .. }
        )
    }
}

/// A destination for events.
///
/// Sinks that keep the checkpoint themselves ([`Sink::keeps_checkpoint`], Kafka with
/// exactly-once) commit events and checkpoint atomically; for them the runner calls `commit`
/// only when everything written ends exactly at the committed position.
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

    /// Makes every event written so far durable and, for a sink that keeps the checkpoint,
    /// records `checkpoint` (where the source continues after them) with them, atomically.
    async fn commit(&mut self, checkpoint: &SinkCheckpoint) -> Result<(), SinkError> {
        let _ = checkpoint;
        self.flush().await
    }

    /// Whether this sink stores the task's checkpoint with its events (then it is the task's
    /// only sink, and the runner resumes from [`Sink::stored_checkpoint`]).
    fn keeps_checkpoint(&self) -> bool {
        false
    }

    /// The checkpoint this sink committed last, when it keeps one.
    async fn stored_checkpoint(&mut self) -> Result<Option<SinkCheckpoint>, SinkError> {
        Ok(None)
    }
}
