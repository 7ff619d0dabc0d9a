//! The Kafka sink: a librdkafka idempotent producer (`acks=all`).
//!
//! `write` hands a batch's messages over and returns, keeping their delivery reports; `commit`
//! (and `flush`) await every report, so nothing is acknowledged to the runner before the
//! brokers have it, while batches keep flowing between checkpoints. A failed delivery, found at
//! any later call, sends the task back to its last checkpoint (`SinkError::Undelivered`):
//! at-least-once, and duplicates carry the same source position.
//!
//! At a task's first start the sink asks the brokers for metadata, so a wrong address is a
//! clear error at once; later, librdkafka reconnects and retries by itself (for up to
//! `message.timeout.ms`), then the batch fails and the runner sends it again.
//!
//! With `exactly_once`, messages go in Kafka transactions that also carry the checkpoint
//! (`exactly_once.rs`); a failed delivery aborts the transaction and the task goes back to its
//! last checkpoint.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::ClientConfig;
use sluice_core::config::KafkaSinkConfig;
use sluice_core::Event;
use tracing::Instrument;

use super::delivery::{DeliveryLedger, SinkProducer, Undelivered};
use super::exactly_once::ExactlyOnce;
use super::messages::{Message, Messages, POSITION_HEADER};
use super::topic::Topics;
use crate::formats::{complete_len, Encoder, Format};
use crate::{Sink, SinkCheckpoint, SinkError};

/// How long librdkafka keeps retrying a message before reporting it failed: long enough to
/// ride out a broker restart or a leader election without the task noticing.
const MESSAGE_TIMEOUT_MS: &str = "300000";
/// With exactly-once: the brokers abort a transaction open longer than this.
const TRANSACTION_TIMEOUT_MS: &str = "60000";
/// A short linger batches a `write`'s messages without delaying a lone one much.
const LINGER_MS: &str = "5";
/// Messages in flight (handed over, not yet acknowledged) at most; `write` waits beyond.
const MAX_IN_FLIGHT: usize = 100_000;
/// librdkafka's local queue, at most (KiB): the bound of what a broker outage piles up in
/// memory (its default is 1 GiB).
const QUEUE_MAX_KBYTES: &str = "16384";
/// How long to wait before enqueueing again when librdkafka's local queue is full and none of
/// its messages are this sink's to wait for.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(1);
/// `flush`'s bound: `write` already awaited every delivery, so this is a formality.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the first start waits for the brokers to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The Kafka sink.
pub struct KafkaSink {
    name: String,
    span: tracing::Span,
    producer: SinkProducer,
    /// Kept to build a new producer after a fatal idempotence error.
    client_config: ClientConfig,
    messages: Messages,
    /// Formats that need whole transactions (Maxwell): the rows of a transaction whose commit
    /// has not arrived yet, held across `write` calls.
    held: Vec<Event>,
    /// With `exactly_once`: the transactions' state.
    exactly: Option<ExactlyOnce>,
    /// The text of the position header, reused from message to message.
    position_text: String,
}

impl KafkaSink {
    /// How long librdkafka will try to deliver a message of a sink with `config` (its
    /// `message.timeout.ms`).
    pub fn message_timeout(config: &KafkaSinkConfig) -> Duration {
        let default = if config.exactly_once {
            TRANSACTION_TIMEOUT_MS
        } else {
            MESSAGE_TIMEOUT_MS
        };
        let ms = config
            .properties
            .get("message.timeout.ms")
            .map_or(default, String::as_str);
        Duration::from_millis(ms.parse().unwrap_or(300_000))
    }

    /// Sets the producer up for task `task`. `first_open`: the first open of a task's run (not
    /// a re-open after a failure): ask the brokers for metadata now, so an unreachable broker
    /// list is reported at once, and start a new run of the exactly-once owner claim.
    pub async fn open(
        config: &KafkaSinkConfig,
        task: &str,
        first_open: bool,
    ) -> Result<KafkaSink, SinkError> {
        let name = config.name().to_string();
        let span = tracing::info_span!("sink", sink = %name, kind = "kafka");
        // Unreachable for a validated config; kept as an error rather than a panic.
        let invalid = |what: String| SinkError::Kafka {
            sink: name.clone(),
            topic: config.topic.clone(),
            what: format!("invalid sink config: {what}"),
            source: Box::new(KafkaError::ClientCreation("invalid sink config".into())),
        };
        let format: Format = config
            .format
            .parse()
            .map_err(|e: crate::formats::UnknownFormat| invalid(e.to_string()))?;
        let partition_by = config.partition_by().map_err(invalid)?;
        let template = config.topic_template().map_err(invalid)?;

        let mut client_config = ClientConfig::new();
        // Defaults the properties may change...
        // murmur2: the Java client's partitioning, so Sluice puts a key where Kafka Connect
        // (Debezium) would, and the exactly-once sink can compute it.
        client_config
            .set("message.timeout.ms", MESSAGE_TIMEOUT_MS)
            .set("linger.ms", LINGER_MS)
            .set("partitioner", "murmur2_random")
            .set("queue.buffering.max.kbytes", QUEUE_MAX_KBYTES)
            .set("queue.buffering.max.messages", "100000");
        if config.exactly_once {
            // librdkafka wants a message's timeout within its transaction's; a transaction
            // open this long is aborted by the brokers, and the task goes back to its
            // checkpoint.
            client_config
                .set("transaction.timeout.ms", TRANSACTION_TIMEOUT_MS)
                .set("message.timeout.ms", TRANSACTION_TIMEOUT_MS);
        }
        for (key, value) in &config.properties {
            client_config.set(key, value);
        }
        // ...and what the delivery guarantee rests on, set last (the config check refuses
        // these in `properties` too): no duplicates from librdkafka's own retries, no
        // acknowledgement before every in-sync replica has the message.
        client_config
            .set("bootstrap.servers", &config.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all");
        let exactly = config.exactly_once.then(|| {
            let id = config.transactional_id(task);
            client_config.set("transactional.id", &id);
            ExactlyOnce::new(
                id,
                config.checkpoint_topic.clone(),
                &config.brokers,
                &config.properties,
                first_open,
            )
        });
        let producer = create(&name, &config.topic, &client_config)?;
        if first_open {
            let p = producer.clone();
            let answered =
                tokio::task::spawn_blocking(move || p.client().fetch_metadata(None, PROBE_TIMEOUT))
                    .await
                    .unwrap_or(Err(KafkaError::Canceled));
            if let Err(source) = answered {
                return Err(SinkError::Kafka {
                    sink: name,
                    topic: config.topic.clone(),
                    what: format!(
                        "no broker of `brokers` = {:?} answered within {} s (check the \
                         addresses and that the brokers run)",
                        config.brokers,
                        PROBE_TIMEOUT.as_secs()
                    ),
                    source: Box::new(source),
                });
            }
        }
        span.in_scope(|| {
            tracing::info!(
                brokers = %config.brokers,
                topic = %config.topic,
                schema_changes_topic = config.schema_changes_topic.as_deref().unwrap_or("(none)"),
                format = %format,
                partition_by = %config.partition_by,
                exactly_once = config.exactly_once,
                "Kafka sink ready."
            )
        });
        Ok(KafkaSink {
            name,
            span,
            producer,
            client_config,
            messages: Messages {
                encoder: Encoder::new(format),
                topics: Topics::new(template),
                partition_by,
                tombstones: config.tombstones,
                schema_changes: config.schema_changes_topic.as_deref().map(Arc::from),
            },
            held: Vec::new(),
            exactly,
            position_text: String::new(),
        })
    }

    /// Encodes `events` (whole transactions when the format needs them) and sends them.
    async fn send(&mut self, events: &[Event]) -> Result<(), SinkError> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let messages = self
            .messages
            .build(events, now_ms)
            .map_err(|bad| SinkError::Topic {
                sink: self.name.clone(),
                table: bad.table,
                topic: bad.topic,
                detail: bad.detail,
            })?;
        if messages.is_empty() {
            return Ok(());
        }
        let messages = match self.exactly.is_some() {
            true => self.transactional(messages).await?,
            false => messages,
        };
        for message in &messages {
            if let Err(e) = self.enqueue(message).await {
                return Err(self.lost(e).await);
            }
        }
        // Collect what is acknowledged already; past the bound, wait for the oldest.
        self.settle(MAX_IN_FLIGHT).await
    }

    /// Awaits acknowledgements until at most `keep` messages are in flight. A failed
    /// delivery fails the whole run since the last commit: with transactions the transaction
    /// is aborted; without, the task goes back to its checkpoint.
    async fn settle(&mut self, keep: usize) -> Result<(), SinkError> {
        match self.ledger().settle(keep).await {
            Ok(()) => Ok(()),
            Err(Undelivered { topic, error }) => {
                let e = SinkError::Undelivered {
                    sink: self.name.clone(),
                    topic,
                    what: "a message was not delivered".into(),
                    source: Box::new(error),
                };
                Err(self.lost(e).await)
            }
        }
    }

    fn ledger(&self) -> &DeliveryLedger {
        self.producer.context()
    }

    /// Exactly-once: opens the transaction, gives every message its partition, and drops
    /// those an earlier run already committed (the restart check, see `exactly_once.rs`).
    async fn transactional(&mut self, messages: Vec<Message>) -> Result<Vec<Message>, SinkError> {
        let Some(exactly) = self.exactly.as_mut() else {
            return Ok(messages);
        };
        exactly.init(&self.name, &self.producer).await?;
        exactly.begin(&self.name, &self.producer)?;
        let mut out = Vec::with_capacity(messages.len());
        let mut skipped = 0usize;
        for mut message in messages {
            let partition = exactly
                .partition(
                    &self.name,
                    &self.producer,
                    &message.topic,
                    message.key.as_deref(),
                    message.partition,
                )
                .await?;
            if exactly
                .delivered(&self.name, &message.topic, partition, &message.position)
                .await?
            {
                skipped += 1;
                continue;
            }
            message.partition = Some(partition);
            out.push(message);
        }
        if skipped > 0 {
            tracing::info!(
                skipped,
                "Skipped messages an earlier run had already committed."
            );
        }
        Ok(out)
    }

    /// A failed send: with transactions, the open one is aborted and `e` becomes "go back to
    /// the checkpoint"; without, the batch is simply sent again.
    async fn lost(&mut self, e: SinkError) -> SinkError {
        if let Some(fenced) = self.fenced() {
            return fenced;
        }
        self.renew_if_fatal();
        let Some(exactly) = self.exactly.as_mut() else {
            return e;
        };
        exactly.abort(&self.producer).await;
        // The aborted transaction's messages are void, whatever their reports will say.
        self.producer.context().forget();
        match e {
            SinkError::Kafka { source, what, .. } | SinkError::Undelivered { source, what, .. } => {
                exactly.error(&self.name, &what, *source)
            }
            other => other,
        }
    }

    /// Exactly-once: the checkpoint record and the commit of the open transaction.
    async fn commit_transaction(&mut self, checkpoint: &SinkCheckpoint) -> Result<(), SinkError> {
        self.settle(0).await?;
        let Some(exactly) = self.exactly.as_mut() else {
            return Ok(());
        };
        exactly.init(&self.name, &self.producer).await?;
        exactly.begin(&self.name, &self.producer)?;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let record = Message {
            topic: Arc::from(exactly.checkpoint_topic.as_str()),
            key: Some(exactly.transactional_id.clone().into_bytes()),
            payload: Some(exactly.checkpoint_record(checkpoint, now_ms)),
            partition: Some(0),
            position: super::messages::MessagePosition {
                file: Arc::from(checkpoint.position.file.as_str()),
                pos: checkpoint.position.pos,
                row: 0,
                sub: 0,
            },
        };
        let delivered = match self.enqueue(&record).await {
            Ok(()) => self.ledger().settle(0).await.map_err(|u| u.error),
            Err(SinkError::Kafka { source, .. }) => Err(*source),
            Err(other) => return Err(other),
        };
        if let Err(e) = delivered {
            if let Some(fenced) = self.fenced() {
                return Err(fenced);
            }
            let Some(exactly) = self.exactly.as_mut() else {
                return Ok(());
            };
            let e = exactly.error(&self.name, "sending the checkpoint record", e);
            exactly.abort(&self.producer).await;
            return Err(e);
        }
        let Some(exactly) = self.exactly.as_mut() else {
            return Ok(());
        };
        if let Err(e) = exactly.commit(&self.name, &self.producer).await {
            if let Some(fenced) = self.fenced() {
                return Err(fenced);
            }
            self.renew_if_fatal();
            if let Some(exactly) = self.exactly.as_mut() {
                exactly.abort(&self.producer).await;
            }
            return Err(e);
        }
        Ok(())
    }

    /// Hands one message to librdkafka, waiting while its local queue is full.
    async fn enqueue(&mut self, message: &Message) -> Result<(), SinkError> {
        self.position_text.clear();
        message.position.write_header(&mut self.position_text);
        let headers = OwnedHeaders::new_with_capacity(1).insert(Header {
            key: POSITION_HEADER,
            value: Some(self.position_text.as_str()),
        });
        let generation = self.ledger().sending();
        let mut record =
            BaseRecord::<[u8], [u8], usize>::with_opaque_to(&message.topic, generation)
                .headers(headers);
        if let Some(payload) = &message.payload {
            record = record.payload(payload.as_slice());
        }
        if let Some(key) = &message.key {
            record = record.key(key.as_slice());
        }
        if let Some(partition) = message.partition {
            record = record.partition(partition);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The queue drains as brokers acknowledge: wait for the oldest message in
                    // flight (or a moment when none is ours), never drop. `outstanding`
                    // counts this message too.
                    record = back;
                    let outstanding = self.ledger().outstanding();
                    if outstanding <= 1 {
                        tokio::time::sleep(QUEUE_FULL_WAIT).await;
                    } else {
                        self.settle(outstanding - 1).await?;
                    }
                }
                Err((e, _)) => {
                    self.ledger().not_sent(generation);
                    return Err(SinkError::Kafka {
                        sink: self.name.clone(),
                        topic: message.topic.to_string(),
                        what: "librdkafka refused the message".into(),
                        source: Box::new(e),
                    });
                }
            }
        }
    }

    /// The definite error when a newer producer with this transactional id fenced this one
    /// off: it must stop, not make a new producer (which would fence the newer one in turn).
    fn fenced(&self) -> Option<SinkError> {
        let exactly = self.exactly.as_ref()?;
        let (code, reason) = self.producer.client().fatal_error()?;
        super::exactly_once::is_fenced_code(code).then(|| SinkError::Fenced {
            sink: self.name.clone(),
            transactional_id: exactly.transactional_id.clone(),
            detail: reason,
        })
    }

    /// After a fatal error (the idempotent producer lost its sequence state), the producer
    /// refuses everything: build a new one so the runner's retry can succeed.
    fn renew_if_fatal(&mut self) {
        let Some((code, reason)) = self.producer.client().fatal_error() else {
            return;
        };
        tracing::warn!(%code, %reason, "The Kafka producer hit a fatal error; making a new one.");
        match create(&self.name, "(all)", &self.client_config) {
            Ok(producer) => {
                self.producer = producer;
                if let Some(exactly) = self.exactly.as_mut() {
                    exactly.forget_producer();
                }
            }
            Err(e) => tracing::warn!(error = %e, "Could not make a new Kafka producer."),
        }
    }
}

fn create(sink: &str, topic: &str, config: &ClientConfig) -> Result<SinkProducer, SinkError> {
    let ledger = DeliveryLedger::default();
    config
        .create_with_context(ledger)
        .map_err(|source| SinkError::Kafka {
            sink: sink.to_string(),
            topic: topic.to_string(),
            what: "cannot create the producer (check `properties`)".into(),
            source: Box::new(source),
        })
}

#[async_trait::async_trait]
impl Sink for KafkaSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&mut self, events: &[Event]) -> Result<(), SinkError> {
        let span = self.span.clone();
        async {
            if !self.messages.encoder.format().needs_whole_transactions() {
                return self.send(events).await;
            }
            // Maxwell: send whole transactions only; keep the open one's tail.
            let before = self.held.len();
            self.held.extend_from_slice(events);
            let complete = complete_len(&self.held);
            let whole: Vec<Event> = self.held[..complete].to_vec();
            match self.send(&whole).await {
                Ok(()) => {
                    self.held.drain(..complete);
                    Ok(())
                }
                Err(e) => {
                    // The runner re-sends `events`: forget them so they are not held twice.
                    self.held.truncate(before);
                    Err(e)
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn commit(&mut self, checkpoint: &SinkCheckpoint) -> Result<(), SinkError> {
        if self.exactly.is_none() {
            return self.flush().await;
        }
        let span = self.span.clone();
        self.commit_transaction(checkpoint).instrument(span).await
    }

    fn keeps_checkpoint(&self) -> bool {
        self.exactly.is_some()
    }

    async fn stored_checkpoint(&mut self) -> Result<Option<SinkCheckpoint>, SinkError> {
        let Some(exactly) = self.exactly.as_mut() else {
            return Ok(None);
        };
        // Registering first fences off an earlier owner, so its last commit is final.
        exactly.init(&self.name, &self.producer).await?;
        exactly.stored_checkpoint(&self.name).await
    }

    /// Awaits every acknowledgement, then makes sure nothing is left queued.
    async fn flush(&mut self) -> Result<(), SinkError> {
        self.settle(0).await?;
        let producer = self.producer.clone();
        // librdkafka's flush blocks the thread: keep it off the async workers.
        let flushed = tokio::task::spawn_blocking(move || producer.flush(FLUSH_TIMEOUT)).await;
        let failed = |source: KafkaError| SinkError::Kafka {
            sink: self.name.clone(),
            topic: "(all)".into(),
            what: "flush".into(),
            source: Box::new(source),
        };
        match flushed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(failed(e)),
            Err(_) => Err(failed(KafkaError::Canceled)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::test_events::{begin, commit, insert, table};
    use super::*;

    fn config(format: &str) -> KafkaSinkConfig {
        KafkaSinkConfig {
            name: Some("events".into()),
            // Nothing listens on port 1.
            brokers: "127.0.0.1:1".into(),
            topic: "t.{db}.{table}".into(),
            schema_changes_topic: None,
            format: format.into(),
            partition_by: "key".into(),
            tombstones: false,
            exactly_once: false,
            transactional_id: None,
            checkpoint_topic: "sluice_checkpoints".into(),
            properties: BTreeMap::from([("message.timeout.ms".into(), "300".into())]),
        }
    }

    #[tokio::test]
    async fn an_unreachable_broker_fails_a_probing_open_and_a_write_says_why() {
        let e = KafkaSink::open(&config("sluice"), "t", true)
            .await
            .err()
            .expect("nothing answers on port 1");
        assert!(
            e.to_string()
                .contains("no broker of `brokers` = \"127.0.0.1:1\" answered"),
            "{e}"
        );
        let mut sink = KafkaSink::open(&config("sluice"), "t", false)
            .await
            .expect("open without probing needs no broker");
        let users = table("shop", "users", true);
        // `write` hands the message over without waiting; the commit finds it undelivered
        // (after `message.timeout.ms`, 300 ms here) and asks for a restart from the checkpoint.
        sink.write(&[insert(&users, 1)]).await.unwrap();
        let e = sink.flush().await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("sink events: Kafka topic t.shop.users: a message was not delivered"),
            "{text}"
        );
        assert!(!e.is_definite() && e.needs_restart());
        // Nothing to send needs no broker.
        sink.write(&[begin(), commit(1)]).await.unwrap();
        sink.flush().await.unwrap();
    }

    #[tokio::test]
    async fn maxwell_holds_an_open_transaction_until_its_commit() {
        let mut sink = KafkaSink::open(&config("maxwell-json"), "t", false)
            .await
            .unwrap();
        let users = table("shop", "users", true);
        // No commit yet: nothing is sent, the rows are held.
        sink.write(&[begin(), insert(&users, 1)]).await.unwrap();
        assert_eq!(sink.held.len(), 2);
        assert_eq!(sink.ledger().outstanding(), 0);
        // The commit arrives: the whole transaction is handed over.
        sink.write(&[commit(5)]).await.unwrap();
        assert_eq!(sink.held.len(), 0);
        assert_eq!(sink.ledger().outstanding(), 1, "one row message");
        // The broker is unreachable: the commit says so.
        assert!(sink.flush().await.unwrap_err().needs_restart());
    }

    #[tokio::test]
    async fn a_bad_property_fails_open_with_the_sinks_name() {
        let mut c = config("sluice");
        c.properties.insert("no.such.property".into(), "1".into());
        let e = KafkaSink::open(&c, "t", false)
            .await
            .err()
            .expect("librdkafka refuses it");
        assert!(
            e.to_string()
                .starts_with("sink events: Kafka topic t.{db}.{table}: cannot create"),
            "{e}"
        );
    }

    #[test]
    fn the_format_names_agree_with_the_config_check() {
        assert_eq!(Format::NAMES, sluice_core::config::KAFKA_FORMATS);
    }
}
