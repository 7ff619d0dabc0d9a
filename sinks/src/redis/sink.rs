//! The Redis sink: row changes become Redis commands, sent as one pipeline per batch.
//!
//! Nothing is acknowledged before Redis replied: `write` sends the batch's pipeline and waits
//! for every reply, so `flush` has nothing left to do and a checkpoint never passes a change
//! Redis has not applied. A failed `write` returns an error and the runner retries the same
//! batch with backoff; the commands are idempotent, so a batch Redis had partly or wholly
//! applied converges to the same keys when re-sent.
//!
//! Why a plain pipeline and not MULTI/EXEC: a batch is cut by size, not at transaction ends,
//! so a transaction around it would not make a source transaction atomic for readers anyway;
//! it would only hold other clients off for the whole batch and queue it in server memory.
//! Order does not need it: commands of one connection run in the order sent.

use sluice_core::config::RedisSinkConfig;
use sluice_core::Event;
use tracing::Instrument;

use super::commands::Commands;
use super::connection::Connection;
use crate::{Sink, SinkError};

/// The Redis sink.
pub struct RedisSink {
    name: String,
    span: tracing::Span,
    commands: Commands,
    connection: Connection,
}

impl RedisSink {
    /// Sets the sink up and tries Redis once. An unreachable Redis is not an error here: it is
    /// logged, and each batch tries again (through the runner's retries), as at run time.
    pub async fn open(config: &RedisSinkConfig) -> Result<RedisSink, SinkError> {
        let name = config.name().to_string();
        let span = tracing::info_span!("sink", sink = %name, kind = "redis");
        let redacted = config.redacted_url();
        let commands = Commands::new(config).map_err(|detail| SinkError::Redis {
            sink: name.clone(),
            url: redacted.clone(),
            what: "invalid sink config".into(),
            source: redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "invalid sink config",
                detail,
            )),
        })?;
        let mut connection = Connection::new(&name, &config.url, redacted.clone())?;
        async {
            match connection.fence().await {
                Ok(()) => tracing::info!(
                    mode = %config.mode,
                    key = %config.key,
                    "Redis sink ready."
                ),
                Err(e) => tracing::warn!(
                    error = %e,
                    "Redis is not reachable at start; every batch will try again (with the \
                     task's backoff), and nothing is checkpointed before Redis has it."
                ),
            }
        }
        .instrument(span.clone())
        .await;
        Ok(RedisSink {
            name,
            span,
            commands,
            connection,
        })
    }
}

#[async_trait::async_trait]
impl Sink for RedisSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&mut self, events: &[Event]) -> Result<(), SinkError> {
        let span = self.span.clone();
        async {
            let batch = self.commands.encode(events)?;
            if batch.rows == 0 {
                return Ok(());
            }
            let started = std::time::Instant::now();
            self.connection.send(&batch.pipe, batch.bytes).await?;
            tracing::debug!(
                rows = batch.rows,
                commands = batch.pipe.len(),
                bytes = batch.bytes,
                ms = started.elapsed().as_millis() as u64,
                "Batch applied."
            );
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Nothing to do: `write` returned only after Redis replied to every command.
    async fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sluice_core::{
        ColumnSchema, EventKind, EventPosition, Op, RowChange, RowImage, TableSchema, Value,
    };

    use super::*;

    #[tokio::test]
    async fn an_unreachable_redis_does_not_fail_open_and_each_write_says_why() {
        let config = RedisSinkConfig {
            name: Some("cache".into()),
            // Nothing listens on port 1: the connection is refused at once.
            url: "redis://:hunter2@127.0.0.1:1/0".into(),
            mode: "sync".into(),
            key: "{db}:{table}:{pk}".into(),
            format: None,
            ttl_secs: 0,
            tables: vec![],
        };
        let mut sink = RedisSink::open(&config)
            .await
            .expect("open never needs Redis");
        let table = Arc::new(TableSchema::new(
            "shop",
            "users",
            vec![ColumnSchema {
                name: "id".into(),
                type_name: "int".into(),
            }],
            vec![0],
        ));
        let event = Event {
            position: EventPosition {
                file: Arc::from("b.000001"),
                pos: 4,
                gtid: None,
                row: 0,
                server_id: 1,
                ts_ms: 0,
            },
            kind: EventKind::Row(RowChange {
                op: Op::Create,
                table,
                before: None,
                after: Some(RowImage(vec![Some(Value::Int(1))])),
            }),
        };
        for _ in 0..2 {
            let e = sink.write(std::slice::from_ref(&event)).await.unwrap_err();
            let text = e.to_string();
            assert!(
                text.starts_with(
                    "sink cache: Redis at redis://:***@127.0.0.1:1/0: cannot reach it"
                ),
                "{text}"
            );
            assert!(!text.contains("hunter2"), "{text}");
        }
        // A batch without row changes needs no Redis.
        let begin = Event {
            kind: EventKind::Begin,
            ..event.clone()
        };
        sink.write(&[begin]).await.unwrap();
        sink.flush().await.unwrap();
    }
}
