//! Exactly-once for the Kafka sink (`exactly_once = true`): Kafka transactions that carry the
//! task's checkpoint.
//!
//! - Every checkpoint interval's messages and one checkpoint record (in `checkpoint_topic`,
//!   keyed by the transactional id) are committed in one transaction: a `read_committed`
//!   consumer sees both or neither, and a restart resumes from the checkpoint of the last
//!   committed transaction, so nothing is repeated.
//! - `init_transactions` with the same `transactional.id` fences a previous owner off (a zombie
//!   process can no longer commit) and aborts its open transaction.
//! - Restart check: the broker is supposed to abort a dead owner's open transaction; one that
//!   does not (Tansu 0.6 makes it visible instead) would show its messages twice. So after each
//!   start the sink reads the last committed message of every partition it is about to write
//!   to, and skips messages at or before that message's `sluice.position`. Messages go to
//!   partitions the sink computes itself (Kafka's default murmur2 partitioning), so this check
//!   and the send agree on the partition. Per partition, what a dead owner left visible is a
//!   prefix of what it sent there (the idempotent producer keeps order), so skipping up to its
//!   last message loses nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message as _};
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use sluice_core::snapshot_progress::SnapshotProgress;
use sluice_core::BinlogPosition;

use super::delivery::SinkProducer;
use super::messages::{MessagePosition, POSITION_HEADER};
use super::owner_claim::{self, OwnerClaim, Run};
use crate::{SinkCheckpoint, SinkError};

/// How long the blocking transaction calls may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound of one metadata or watermark request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A poll that returns nothing for this long ends a scan (the rest are control records or an
/// open transaction).
const IDLE_POLL: Duration = Duration::from_millis(700);

/// The checkpoint record's value. `snapshot`: a snapshot's progress, committed in the same
/// transaction as its rows (absent in records of earlier versions: none in progress).
#[derive(Debug, Serialize, Deserialize)]
struct CheckpointRecord {
    position: BinlogPosition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot: Option<SnapshotProgress>,
    at_ms: u64,
}

/// The transactional state of an exactly-once sink.
pub(super) struct ExactlyOnce {
    pub transactional_id: String,
    pub checkpoint_topic: String,
    /// For the consumers that read checkpoints and partitions' last messages.
    consumer_config: ClientConfig,
    initialized: bool,
    /// A transaction is open (begun, not yet committed or aborted).
    pub open: bool,
    partitions: HashMap<Arc<str>, i32>,
    /// Per partition, the position of its last committed message when this sink started
    /// (`None`: empty). Messages at or before it were delivered by an earlier run.
    delivered: HashMap<(Arc<str>, i32), Option<MessagePosition>>,
    /// The run of the task this sink belongs to (see `owner_claim.rs`).
    run: Run,
}

impl ExactlyOnce {
    pub fn new(
        transactional_id: String,
        checkpoint_topic: String,
        brokers: &str,
        properties: &std::collections::BTreeMap<String, String>,
        first_open: bool,
    ) -> ExactlyOnce {
        let mut consumer_config = ClientConfig::new();
        for (key, value) in properties {
            // Security and client settings apply to the consumers too; producer-only ones are
            // ignored by librdkafka with a warning.
            if !key.starts_with("linger")
                && !key.starts_with("message.")
                && !key.starts_with("queue.")
                && !key.starts_with("batch.")
                && !key.starts_with("compression")
                && !key.starts_with("transaction")
                && key != "partitioner"
            {
                consumer_config.set(key, value);
            }
        }
        consumer_config
            .set("bootstrap.servers", brokers)
            .set("group.id", format!("{transactional_id}.reader"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            // Reads at start are short: do not let the broker hold a fetch for long.
            .set("fetch.wait.max.ms", "50")
            .set("isolation.level", "read_committed");
        let run = owner_claim::run_for(&transactional_id, first_open);
        ExactlyOnce {
            transactional_id,
            checkpoint_topic,
            consumer_config,
            initialized: false,
            open: false,
            partitions: HashMap::new(),
            delivered: HashMap::new(),
            run,
        }
    }

    /// Registers the transactional id with the brokers (once per producer): fences off any
    /// earlier producer with the same id, and claims the id for this run of the task. A run
    /// that claimed the id before first checks that no other run claimed it since.
    pub async fn init(&mut self, sink: &str, producer: &SinkProducer) -> Result<(), SinkError> {
        if self.initialized {
            return Ok(());
        }
        if self.run.claimed {
            self.confirm_claim(sink).await?;
        }
        let p = producer.clone();
        let result = blocking(move || p.init_transactions(TXN_TIMEOUT)).await;
        result.map_err(|e| self.error(sink, "init_transactions", e))?;
        self.ensure_checkpoint_topic(sink).await?;
        self.claim(sink, producer).await?;
        self.initialized = true;
        tracing::info!(transactional_id = %self.transactional_id, "Kafka transactions ready; earlier producers with this id are fenced off.");
        Ok(())
    }

    /// Commits this run's claim record in a transaction of its own.
    async fn claim(&mut self, sink: &str, producer: &SinkProducer) -> Result<(), SinkError> {
        let key = owner_claim::claim_key(&self.transactional_id);
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let value = OwnerClaim::record(&self.run.name, at_ms);
        producer
            .begin_transaction()
            .map_err(|e| self.error(sink, "begin_transaction (owner claim)", e))?;
        let ledger = producer.context();
        let generation = ledger.sending();
        let record = BaseRecord::with_opaque_to(&self.checkpoint_topic, generation)
            .partition(0)
            .key(&key)
            .payload(&value);
        let sent = match producer.send(record) {
            Ok(()) => ledger.settle(0).await.map_err(|u| u.error),
            Err((e, _)) => {
                ledger.not_sent(generation);
                Err(e)
            }
        };
        let p = producer.clone();
        let result = match sent {
            Ok(()) => blocking(move || p.commit_transaction(TXN_TIMEOUT)).await,
            Err(e) => {
                let _ = blocking(move || p.abort_transaction(TXN_TIMEOUT)).await;
                Err(e)
            }
        };
        result.map_err(|e| self.error(sink, "claiming the transactional id", e))?;
        owner_claim::claimed(&self.transactional_id, &self.run.name);
        self.run.claimed = true;
        Ok(())
    }

    /// Fenced when another run claimed the id after this one did.
    async fn confirm_claim(&self, sink: &str) -> Result<(), SinkError> {
        let key = owner_claim::claim_key(&self.transactional_id);
        let last = self
            .last_record(key)
            .await
            .map_err(|source| SinkError::Kafka {
                sink: sink.to_string(),
                topic: self.checkpoint_topic.clone(),
                what: "cannot read the last owner claim (checked before registering the \
                       transactional id again)"
                    .into(),
                source: Box::new(source),
            })?;
        let claim = last.and_then(|bytes| serde_json::from_slice::<OwnerClaim>(&bytes).ok());
        match claim {
            Some(claim) if claim.owner != self.run.name => Err(SinkError::Fenced {
                sink: sink.to_string(),
                transactional_id: self.transactional_id.clone(),
                detail: format!(
                    "run `{}` claimed the transactional id at {} ms (Unix time) after this run \
                     (`{}`) did: a successor took the task over",
                    claim.owner, claim.at_ms, self.run.name
                ),
            }),
            _ => Ok(()),
        }
    }

    /// The value of the last committed record with `key` in the checkpoint topic.
    async fn last_record(&self, key: String) -> Result<Option<Vec<u8>>, KafkaError> {
        let config = self.consumer_config.clone();
        let topic = self.checkpoint_topic.clone();
        blocking(move || -> Result<Option<Vec<u8>>, KafkaError> {
            let consumer: BaseConsumer = config.create()?;
            let (low, high) = match consumer.fetch_watermarks(&topic, 0, REQUEST_TIMEOUT) {
                Ok(w) => w,
                // No checkpoint topic yet: nothing was ever committed.
                Err(KafkaError::MetadataFetch(
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownPartition,
                )) => return Ok(None),
                Err(e) => return Err(e),
            };
            last_matching(&consumer, &topic, 0, low, high, |m| {
                (m.key() == Some(key.as_bytes()))
                    .then(|| m.payload().map(<[u8]>::to_vec))
                    .flatten()
            })
        })
        .await
    }

    /// Creates the checkpoint topic (one partition, compacted) unless it exists: a topic the
    /// brokers would create on first use gets their default partitions and no compaction.
    async fn ensure_checkpoint_topic(&self, sink: &str) -> Result<(), SinkError> {
        let admin: AdminClient<DefaultClientContext> =
            self.consumer_config
                .create()
                .map_err(|source| SinkError::Kafka {
                    sink: sink.to_string(),
                    topic: self.checkpoint_topic.clone(),
                    what: "cannot create an admin client".into(),
                    source: Box::new(source),
                })?;
        let topic = NewTopic::new(&self.checkpoint_topic, 1, TopicReplication::Fixed(-1))
            .set("cleanup.policy", "compact");
        let options = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
        let failed = |source: KafkaError| SinkError::Kafka {
            sink: sink.to_string(),
            topic: self.checkpoint_topic.clone(),
            what: "cannot create the checkpoint topic".into(),
            source: Box::new(source),
        };
        let results = admin
            .create_topics([&topic], &options)
            .await
            .map_err(failed)?;
        for result in results {
            match result {
                Ok(_) => {
                    tracing::info!(topic = %self.checkpoint_topic, "Created the checkpoint topic.")
                }
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(failed(KafkaError::AdminOp(code))),
            }
        }
        Ok(())
    }

    /// A new producer (after a fatal error) must register again.
    pub fn forget_producer(&mut self) {
        self.initialized = false;
        self.open = false;
    }

    /// Opens a transaction unless one is open.
    pub fn begin(&mut self, sink: &str, producer: &SinkProducer) -> Result<(), SinkError> {
        if !self.open {
            producer
                .begin_transaction()
                .map_err(|e| self.error(sink, "begin_transaction", e))?;
            self.open = true;
        }
        Ok(())
    }

    /// The checkpoint record to send in the transaction before committing it.
    pub fn checkpoint_record(&self, checkpoint: &SinkCheckpoint, at_ms: u64) -> Vec<u8> {
        serde_json::to_vec(&CheckpointRecord {
            position: checkpoint.position.clone(),
            snapshot: checkpoint.snapshot.clone(),
            at_ms,
        })
        .unwrap_or_default()
    }

    /// Commits the open transaction.
    pub async fn commit(&mut self, sink: &str, producer: &SinkProducer) -> Result<(), SinkError> {
        let p = producer.clone();
        let result = blocking(move || p.commit_transaction(TXN_TIMEOUT)).await;
        self.open = false;
        result.map_err(|e| self.error(sink, "commit_transaction", e))
    }

    /// Aborts the open transaction, if any (best effort: a failed abort is logged; the brokers
    /// abort it anyway when the next producer with this id starts or it times out).
    pub async fn abort(&mut self, producer: &SinkProducer) {
        if !self.open {
            return;
        }
        self.open = false;
        let p = producer.clone();
        if let Err(e) = blocking(move || p.abort_transaction(TXN_TIMEOUT)).await {
            tracing::warn!(error = %e, "Could not abort the Kafka transaction.");
        }
    }

    /// The error for a failed transactional call: fenced (definite), or the transaction is
    /// lost and the task must go back to its checkpoint.
    pub fn error(&self, sink: &str, what: &str, e: KafkaError) -> SinkError {
        if is_fenced(&e) {
            return SinkError::Fenced {
                sink: sink.to_string(),
                transactional_id: self.transactional_id.clone(),
                detail: format!("{what}: {e}"),
            };
        }
        SinkError::TransactionAborted {
            sink: sink.to_string(),
            what: what.to_string(),
            source: Box::new(e),
        }
    }

    /// The partition of a message: `fixed` when given, else by key (Kafka's default), else 0.
    pub async fn partition(
        &mut self,
        sink: &str,
        producer: &SinkProducer,
        topic: &Arc<str>,
        key: Option<&[u8]>,
        fixed: Option<i32>,
    ) -> Result<i32, SinkError> {
        if let Some(p) = fixed {
            return Ok(p);
        }
        let Some(key) = key else { return Ok(0) };
        let count = match self.partitions.get(topic) {
            Some(&n) => n,
            None => {
                let n = partition_count(sink, producer, topic).await?;
                self.partitions.insert(topic.clone(), n);
                n
            }
        };
        Ok(super::murmur2::partition_of(key, count))
    }

    /// Whether an earlier run already delivered the message at `position` to this partition.
    pub async fn delivered(
        &mut self,
        sink: &str,
        topic: &Arc<str>,
        partition: i32,
        position: &MessagePosition,
    ) -> Result<bool, SinkError> {
        let slot = (topic.clone(), partition);
        if !self.delivered.contains_key(&slot) {
            let last = last_position(sink, &self.consumer_config, topic, partition).await?;
            if let Some(p) = &last {
                tracing::info!(topic = %topic, partition, last = %p.header(), "Restart check: messages up to this position are already in the partition.");
            }
            self.delivered.insert(slot.clone(), last);
        }
        Ok(match self.delivered.get(&slot) {
            Some(Some(last)) => !position.is_after(last),
            _ => false,
        })
    }

    /// The last committed checkpoint record of this transactional id.
    pub async fn stored_checkpoint(&self, sink: &str) -> Result<Option<SinkCheckpoint>, SinkError> {
        let sink_name = sink.to_string();
        let last = self
            .last_record(self.transactional_id.clone())
            .await
            .map_err(|source| SinkError::Kafka {
                sink: sink_name.clone(),
                topic: self.checkpoint_topic.clone(),
                what: "cannot read the stored checkpoint".into(),
                source: Box::new(source),
            })?;
        let Some(bytes) = last else { return Ok(None) };
        let record: CheckpointRecord =
            serde_json::from_slice(&bytes).map_err(|e| SinkError::Fenced {
                sink: sink_name,
                transactional_id: self.transactional_id.clone(),
                detail: format!(
                    "the checkpoint record in topic {} is not Sluice's ({e}): another producer \
                     uses this transactional id",
                    self.checkpoint_topic
                ),
            })?;
        Ok(Some(SinkCheckpoint {
            position: record.position,
            snapshot: record.snapshot,
        }))
    }
}

/// Whether `e` says that a newer producer with the same transactional id took over.
fn is_fenced(e: &KafkaError) -> bool {
    let code = match e {
        KafkaError::Transaction(t) => t.code(),
        other => match other.rdkafka_error_code() {
            Some(c) => c,
            None => return false,
        },
    };
    is_fenced_code(code)
}

/// Whether a (fatal) error code means a newer producer took the transactional id over.
pub(super) fn is_fenced_code(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
    )
}

/// Runs a blocking librdkafka call off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KafkaError> + Send + 'static,
) -> Result<T, KafkaError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or(Err(KafkaError::Canceled))
}

async fn partition_count(
    sink: &str,
    producer: &SinkProducer,
    topic: &Arc<str>,
) -> Result<i32, SinkError> {
    let p = producer.clone();
    let t = topic.to_string();
    let count = blocking(move || {
        let metadata = p.client().fetch_metadata(Some(&t), REQUEST_TIMEOUT)?;
        Ok(metadata
            .topics()
            .iter()
            .find(|m| m.name() == t && m.error().is_none())
            .map_or(0, |m| m.partitions().len() as i32))
    })
    .await;
    match count {
        Ok(n) if n > 0 => Ok(n),
        Ok(_) => Err(SinkError::Kafka {
            sink: sink.to_string(),
            topic: topic.to_string(),
            what: "the topic has no partitions yet (exactly-once needs the topic to exist, or \
                   the brokers to create it on a metadata request)"
                .into(),
            source: Box::new(KafkaError::MetadataFetch(
                RDKafkaErrorCode::UnknownTopicOrPartition,
            )),
        }),
        Err(source) => Err(SinkError::Kafka {
            sink: sink.to_string(),
            topic: topic.to_string(),
            what: "cannot read the topic's partition count".into(),
            source: Box::new(source),
        }),
    }
}

/// The `sluice.position` of the last committed message of a partition.
async fn last_position(
    sink: &str,
    config: &ClientConfig,
    topic: &Arc<str>,
    partition: i32,
) -> Result<Option<MessagePosition>, SinkError> {
    let config = config.clone();
    let t = topic.to_string();
    blocking(move || {
        let consumer: BaseConsumer = config.create()?;
        let (low, high) = consumer.fetch_watermarks(&t, partition, REQUEST_TIMEOUT)?;
        last_matching(&consumer, &t, partition, low, high, |m| {
            m.headers().and_then(|h| {
                h.iter()
                    .find(|h| h.key == POSITION_HEADER)
                    .and_then(|h| h.value)
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(MessagePosition::parse)
            })
        })
    })
    .await
    .map_err(|source| SinkError::Kafka {
        sink: sink.to_string(),
        topic: topic.to_string(),
        what: format!("cannot read partition {partition}'s last message (restart check)"),
        source: Box::new(source),
    })
}

/// The last message of a partition (offsets `low..high`) that `pick` takes, read back from the
/// end in growing steps: the tail may be control records or other writers' messages.
fn last_matching<T>(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    low: i64,
    high: i64,
    mut pick: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> Option<T>,
) -> Result<Option<T>, KafkaError> {
    let mut step = 16;
    let mut from = high;
    while from > low {
        let to = from;
        from = (from - step).max(low);
        let mut last = None;
        scan(consumer, topic, partition, from, to, |m| {
            if let Some(found) = pick(m) {
                last = Some(found);
            }
        })?;
        if last.is_some() {
            return Ok(last);
        }
        step *= 4;
    }
    Ok(None)
}

/// Reads a partition's committed messages with offsets in `from..to`, in order.
fn scan(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    from: i64,
    to: i64,
    mut each: impl FnMut(&rdkafka::message::BorrowedMessage<'_>),
) -> Result<(), KafkaError> {
    if from >= to {
        return Ok(());
    }
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, partition, Offset::Offset(from))?;
    consumer.assign(&assignment)?;
    while let Some(message) = consumer.poll(IDLE_POLL) {
        let message = message?;
        if message.offset() >= to {
            break;
        }
        each(&message);
        if message.offset() + 1 >= to {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sluice_core::snapshot_progress::KeyValue;

    use super::*;

    #[test]
    fn a_checkpoint_record_carries_a_snapshots_progress_and_reads_without_one() {
        let record = CheckpointRecord {
            position: BinlogPosition::new("b.000003", 120),
            snapshot: Some(SnapshotProgress {
                database: "shop".into(),
                table: "orders".into(),
                after: Some(vec![KeyValue::Int(500)]),
                ..Default::default()
            }),
            at_ms: 7,
        };
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(
            text,
            r#"{"position":{"file":"b.000003","pos":120},"snapshot":{"database":"shop","table":"orders","after":[{"int":500}]},"at_ms":7}"#
        );
        let back: CheckpointRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.snapshot, record.snapshot);
        // Records of earlier versions have no snapshot: none was in progress.
        let old: CheckpointRecord =
            serde_json::from_str(r#"{"position":{"file":"b.000003","pos":120},"at_ms":7}"#)
                .unwrap();
        assert_eq!((old.position, old.snapshot), (record.position, None));
    }
}
