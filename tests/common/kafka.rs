//! Kafka helpers of the tests: creating a topic, and a consumer that reads every partition of a
//! topic from the beginning.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;

/// Creates `topic` with `partitions` partitions at `brokers`, or panics saying why.
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("an admin client");
    let topics = [NewTopic::new(topic, partitions, TopicReplication::Fixed(1))];
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = match tokio::time::timeout(
        Duration::from_secs(20),
        admin.create_topics(&topics, &options),
    )
    .await
    {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => panic!("cannot create topic {topic} at {brokers}: {e}"),
        Err(_) => panic!(
            "the Kafka broker at {brokers} does not answer (the shared test broker starts with \
             `bash tests/services/start.sh kafka`; install first: tests/services/install.sh)"
        ),
    };
    for r in results {
        if let Err((topic, e)) = r {
            panic!("cannot create topic {topic}: {e}");
        }
    }
}

/// A consumer made from `config`, assigned every partition of `topic` from the beginning:
/// assigned, not subscribed, so no group rebalance can pause the reading.
pub fn assigned_consumer(config: &ClientConfig, topic: &str, partitions: i32) -> StreamConsumer {
    let consumer: StreamConsumer = config.create().expect("a consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .expect("a partition");
    }
    consumer.assign(&assignment).expect("assign");
    consumer
}

/// One message as consumed, its value parsed as JSON.
pub struct Received {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub value: Value,
}

impl Received {
    /// Panics, showing the payload, if it is not JSON.
    pub fn new(message: &BorrowedMessage<'_>) -> Received {
        let payload = message.payload().expect("a payload").to_vec();
        let value = serde_json::from_slice(&payload).unwrap_or_else(|e| {
            panic!(
                "the value is not JSON ({e}): {}",
                String::from_utf8_lossy(&payload)
            )
        });
        Received {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload,
            value,
        }
    }
}

/// Lets the consumer task read on until no message came for 3 s (at most 20 s), so that anything
/// sent late is checked too; then sets `stop` and waits (bounded) for the task to end. `last`
/// tells when the last message arrived.
pub async fn drain_then_stop(
    last: impl Fn() -> Option<Instant>,
    stop: &AtomicBool,
    consumer: tokio::task::JoinHandle<()>,
) {
    let drain = Instant::now();
    while drain.elapsed() < Duration::from_secs(20)
        && last().is_some_and(|t| t.elapsed() < Duration::from_secs(3))
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(10), consumer)
        .await
        .expect("the consumer stops")
        .expect("the consumer did not panic");
}

/// The `after.id` of every message of a topic (and how many messages came), read from the
/// beginning by a background consumer until dropped.
pub struct TopicIds {
    pub ids: Arc<Mutex<BTreeSet<u64>>>,
    /// Every message, row event or not.
    pub messages: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl TopicIds {
    /// Starts reading every partition of `topic` at `brokers`.
    pub fn follow(brokers: &str, topic: &str, partitions: i32) -> TopicIds {
        let ids = Arc::new(Mutex::new(BTreeSet::new()));
        let messages = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", brokers)
            .set("group.id", format!("sluice-test-{topic}"))
            .set("enable.auto.commit", "false");
        let consumer = assigned_consumer(&config, topic, partitions);
        let (into, count, until) = (ids.clone(), messages.clone(), stop.clone());
        tokio::spawn(async move {
            while !until.load(Ordering::SeqCst) {
                let Ok(Ok(m)) =
                    tokio::time::timeout(Duration::from_millis(300), consumer.recv()).await
                else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let Some(payload) = m.payload() else { continue };
                let v: Value = serde_json::from_slice(payload).expect("JSON");
                if let Some(id) = v["after"]["id"].as_u64() {
                    into.lock().unwrap().insert(id);
                }
            }
        });
        TopicIds {
            ids,
            messages,
            stop,
        }
    }

    /// How many distinct ids arrived.
    pub fn count(&self) -> usize {
        self.ids.lock().unwrap().len()
    }

    /// `Ok` once every id of `ids` arrived; else how many are missing.
    pub fn has_all(&self, ids: std::ops::RangeInclusive<u64>) -> Result<(), String> {
        let got = self.ids.lock().unwrap();
        match ids.filter(|i| !got.contains(i)).count() {
            0 => Ok(()),
            n => Err(format!("{n} of them missing")),
        }
    }

    /// The ids of `ids` that arrived.
    pub fn any_of(&self, ids: std::ops::RangeInclusive<u64>) -> Vec<u64> {
        let got = self.ids.lock().unwrap();
        ids.filter(|i| got.contains(i)).collect()
    }
}

impl Drop for TopicIds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The test broker's address (`SLUICE_TEST_KAFKA`, as `tests/services/start.sh` writes it).
pub fn brokers() -> String {
    std::env::var("SLUICE_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

/// A prefix no earlier run used: topics and consumer groups named with it are new each run.
pub fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}x{}", now.as_millis(), std::process::id())
}
