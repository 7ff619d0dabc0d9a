//! Helpers for the sink benchmarks in `bench/`. One binary, one subcommand per job:
//!
//! ```text
//! raw-producer produce BROKERS TOPIC COUNT KEY_BYTES VALUE_BYTES
//!     A plain librdkafka producer with the Kafka sink's settings (idempotent, acks=all,
//!     linger.ms=5, message.timeout.ms=300000, everything else librdkafka's default) sends COUNT
//!     messages with distinct keys as fast as librdkafka takes them, then waits for every
//!     delivery report. Prints `messages=N seconds=T msgs_per_s=R`.
//! raw-producer create-topic BROKERS TOPIC PARTITIONS
//! raw-producer delete-topic BROKERS TOPIC
//! raw-producer count BROKERS TOPIC
//!     The messages in the topic (the ends of its partitions: see `fn count` on why the high
//!     watermarks are not enough); BENCH_DEBUG=1 prints the watermarks and ends.
//! raw-producer sizes BROKERS TOPIC SAMPLE
//!     Reads SAMPLE messages from the middle of the topic's partitions on: `messages=N
//!     key_avg=K value_avg=V`.
//! raw-producer latency BROKERS TOPIC COUNT COLUMN IDLE_TIMEOUT_S
//!     Reads the topic from the beginning; per message, the receive time minus the row's
//!     `after.COLUMN` (a DATETIME(6) in UTC, Sluice's format). Stops after COUNT messages or
//!     IDLE_TIMEOUT_S without one; prints the percentiles.
//! raw-producer write-paced MYSQL_URL TABLE ROWS_PER_S SECONDS ROWS_PER_TX
//!     Commits ROWS_PER_S rows a second for SECONDS into TABLE (id BIGINT PK, committed_at
//!     DATETIME(6), payload VARCHAR), ROWS_PER_TX per autocommit INSERT; committed_at is the
//!     writer's UTC clock taken right before the statement is sent.
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message, Offset, TopicPartitionList};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a = |i: usize| -> &str {
        args.get(i)
            .map(String::as_str)
            .unwrap_or_else(|| usage(&format!("missing argument {i}")))
    };
    let n = |i: usize| -> u64 {
        a(i).parse()
            .unwrap_or_else(|_| usage(&format!("argument {i} is not a number")))
    };
    match args.first().map(String::as_str) {
        Some("produce") => produce(a(1), a(2), n(3), n(4) as usize, n(5) as usize),
        Some("create-topic") => runtime().block_on(create_topic(a(1), a(2), n(3) as i32)),
        Some("delete-topic") => runtime().block_on(delete_topic(a(1), a(2))),
        Some("count") => {
            println!("{}", count(a(1), a(2))?);
            Ok(())
        }
        Some("sizes") => sizes(a(1), a(2), n(3)),
        Some("latency") => latency(a(1), a(2), n(3), a(4), n(5)),
        Some("write-paced") => runtime().block_on(write_paced(a(1), a(2), n(3), n(4), n(5))),
        _ => usage("unknown subcommand"),
    }
}

fn usage(why: &str) -> ! {
    eprintln!("raw-producer: {why}; see the subcommands in bench/raw-producer/src/main.rs");
    std::process::exit(2)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// The raw producer

/// Counts delivery reports.
#[derive(Default)]
struct Counting {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

fn produce(
    brokers: &str,
    topic: &str,
    count: u64,
    key_bytes: usize,
    value_bytes: usize,
) -> Result<()> {
    // The Kafka sink's settings (sinks/src/kafka/sink.rs), nothing else.
    let producer: ThreadedProducer<Counting> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("message.timeout.ms", "300000")
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create_with_context(Counting::default())?;
    // Distinct keys (a counter in a fixed-size field) spread over the partitions as primary
    // keys do; a fixed value of the size Sluice's messages had.
    let value = vec![b'v'; value_bytes];
    let mut key = vec![b'k'; key_bytes];
    // The clock starts before the first send: like Sluice's producer, this one connects to
    // the broker (metadata round trip) inside the timed part.
    let started = Instant::now();
    for i in 0..count {
        let digits = format!("{i:020}");
        let tail = digits.len().min(key.len());
        let at = key.len() - tail;
        key[at..].copy_from_slice(&digits.as_bytes()[digits.len() - tail..]);
        let mut record = BaseRecord::to(topic).key(&key[..]).payload(&value[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }
    producer.flush(Duration::from_secs(300))?;
    let seconds = started.elapsed().as_secs_f64();
    let ctx = producer.context();
    let (ok, failed) = (
        ctx.delivered.load(Ordering::Relaxed),
        ctx.failed.load(Ordering::Relaxed),
    );
    println!(
        "messages={ok} failed={failed} seconds={seconds:.3} msgs_per_s={:.0}",
        ok as f64 / seconds
    );
    if ok != count {
        return Err(format!("{ok} of {count} delivered").into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Topics and watermarks

async fn create_topic(brokers: &str, topic: &str, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let topics = [NewTopic::new(topic, partitions, TopicReplication::Fixed(1))];
    for r in admin.create_topics(&topics, &options).await? {
        r.map_err(|(t, e)| format!("create topic {t}: {e}"))?;
    }
    Ok(())
}

async fn delete_topic(brokers: &str, topic: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for r in admin.delete_topics(&[topic], &options).await? {
        r.map_err(|(t, e)| format!("delete topic {t}: {e}"))?;
    }
    Ok(())
}

fn metadata_consumer(brokers: &str) -> Result<BaseConsumer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "sluice-bench-meta")
        .set("enable.auto.commit", "false")
        .create()?)
}

fn partitions(consumer: &BaseConsumer, topic: &str) -> Result<Vec<i32>> {
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let t = md
        .topics()
        .first()
        .ok_or_else(|| format!("no metadata for {topic}"))?;
    Ok(t.partitions().iter().map(|p| p.id()).collect())
}

/// Messages in `topic` (offsets start at 0 on the test broker: nothing expires).
///
/// Tansu (the test broker) answers high watermarks that can stop short of the partitions' ends:
/// right after a burst of batched produces it gave one and the same number below every
/// partition's end (8,693 for ends of 9,889, 10,159 and 9,952), and the right ends only after
/// later produces. So this reads each partition from a little before its reported watermark
/// ([`BEHIND`]) to its end. Tansu serves a partition made of many small batches slowly (one
/// batch per fetch, it seems): reading all of a 500,000-message topic Sluice wrote in batches
/// of ~17 messages per partition did not finish in minutes, so only the tail is read.
fn count(brokers: &str, topic: &str) -> Result<u64> {
    let consumer = metadata_consumer(brokers)?;
    let parts = partitions(&consumer, topic)?;
    let mut highs = Vec::new();
    for &p in &parts {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        if std::env::var_os("BENCH_DEBUG").is_some() {
            eprintln!("partition {p}: low {low} high {high}");
        }
        highs.push((high - BEHIND).max(0));
    }
    let follower = Follower::new(brokers, topic, &parts, &highs)?;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut ends = highs.clone();
    let mut at_eof = vec![false; parts.len()];
    while !at_eof.iter().all(|&e| e) {
        if Instant::now() > deadline {
            return Err(format!("{topic}: no end of partition within 90 s").into());
        }
        match follower.consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let i = follower.index(m.partition());
                ends[i] = ends[i].max(m.offset() + 1);
            }
            Some(Err(KafkaError::PartitionEOF(p))) => at_eof[follower.index(p)] = true,
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    if std::env::var_os("BENCH_DEBUG").is_some() {
        eprintln!("partition ends: {ends:?}");
    }
    Ok(ends.iter().sum::<i64>() as u64)
}

/// How far before a reported high watermark reading starts, to be sure to start at or before
/// the partition's real end (reported watermarks were never above it).
const BEHIND: i64 = 100;

/// A consumer reading `topic` from given offsets on, to learn where each partition ends.
struct Follower {
    consumer: BaseConsumer,
    parts: Vec<i32>,
}

impl Follower {
    fn new(brokers: &str, topic: &str, parts: &[i32], from: &[i64]) -> Result<Follower> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "sluice-bench-follower")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("fetch.wait.max.ms", "10")
            .create()?;
        let mut tpl = TopicPartitionList::new();
        for (&p, &o) in parts.iter().zip(from) {
            tpl.add_partition_offset(topic, p, Offset::Offset(o))?;
        }
        consumer.assign(&tpl)?;
        Ok(Follower {
            consumer,
            parts: parts.to_vec(),
        })
    }

    fn index(&self, partition: i32) -> usize {
        self.parts
            .iter()
            .position(|&p| p == partition)
            .expect("an assigned partition")
    }
}

/// A consumer assigned to every partition of `topic` from the beginning.
fn reader(brokers: &str, topic: &str) -> Result<BaseConsumer> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "sluice-bench-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in partitions(&consumer, topic)? {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    Ok(consumer)
}

fn sizes(brokers: &str, topic: &str, sample: u64) -> Result<()> {
    let consumer = metadata_consumer(brokers)?;
    let parts = partitions(&consumer, topic)?;
    let mut from = Vec::new();
    for &p in &parts {
        let (_, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        from.push(high.max(0) / 2);
    }
    let follower = Follower::new(brokers, topic, &parts, &from)?;
    let (mut n, mut keys, mut values) = (0u64, 0u64, 0u64);
    let mut eof = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while n < sample && eof < parts.len() && Instant::now() < deadline {
        match follower.consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                n += 1;
                keys += m.key().map_or(0, |k| k.len()) as u64;
                values += m.payload().map_or(0, |v| v.len()) as u64;
            }
            Some(Err(KafkaError::PartitionEOF(_))) => eof += 1,
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    println!(
        "messages={n} key_avg={:.1} value_avg={:.1}",
        keys as f64 / n.max(1) as f64,
        values as f64 / n.max(1) as f64
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Latency

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` read as UTC, in microseconds since the epoch.
fn datetime_micros(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut micros = 0;
    if let Some(frac) = s.get(20..) {
        let digits = &frac[..frac.len().min(6)];
        micros = digits.parse::<i64>().ok()? * 10i64.pow(6 - digits.len() as u32);
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000) + micros)
}

fn latency(brokers: &str, topic: &str, target: u64, column: &str, idle_s: u64) -> Result<()> {
    let consumer = reader(brokers, topic)?;
    let mut lat_us: Vec<i64> = Vec::with_capacity(target as usize);
    let mut idle = Instant::now();
    let mut skipped = 0u64;
    while (lat_us.len() as u64) < target {
        match consumer.poll(Duration::from_millis(100)) {
            Some(m) => {
                let m = m?;
                let now_us = (unix_now() * 1e6) as i64;
                idle = Instant::now();
                let Some(payload) = m.payload() else { continue };
                let v: serde_json::Value = serde_json::from_slice(payload)?;
                match v["after"][column].as_str().and_then(datetime_micros) {
                    Some(at) => lat_us.push(now_us - at),
                    None => skipped += 1,
                }
            }
            None if idle.elapsed() > Duration::from_secs(idle_s) => break,
            None => {}
        }
    }
    lat_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat_us.is_empty() {
            return f64::NAN;
        }
        let i = ((p / 100.0) * (lat_us.len() - 1) as f64).round() as usize;
        lat_us[i] as f64 / 1000.0
    };
    println!(
        "rows={} skipped={skipped} p50_ms={:.1} p95_ms={:.1} p99_ms={:.1} p999_ms={:.1} max_ms={:.1} min_ms={:.1}",
        lat_us.len(),
        pct(50.0),
        pct(95.0),
        pct(99.0),
        pct(99.9),
        pct(100.0),
        pct(0.0)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The paced writer

/// The current UTC time as `YYYY-MM-DD HH:MM:SS.ffffff`.
fn utc_now_text() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

async fn write_paced(url: &str, table: &str, rate: u64, seconds: u64, per_tx: u64) -> Result<()> {
    let pool = mysql_async::Pool::new(url);
    let mut conn = pool.get_conn().await?;
    let txs = rate * seconds / per_tx;
    let period = Duration::from_secs_f64(per_tx as f64 / rate as f64);
    let payload = "p".repeat(100);
    let mut tick = tokio::time::interval(period);
    // Burst: a late tick is caught up, so the average rate holds.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut late = 0u64;
    let mut id = 0u64;
    for _ in 0..txs {
        let due = tick.tick().await;
        if due.elapsed() > period {
            late += 1;
        }
        let mut sql = format!("INSERT INTO {table} (id, committed_at, payload) VALUES ");
        let at = utc_now_text();
        for i in 0..per_tx {
            if i > 0 {
                sql.push(',');
            }
            id += 1;
            sql.push_str(&format!("({id},'{at}','{payload}')"));
        }
        // Autocommit: the statement is the transaction, committed before it returns.
        conn.query_drop(sql).await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "rows={id} transactions={txs} seconds={secs:.2} rows_per_s={:.0} late_ticks={}",
        id as f64 / secs,
        late
    );
    drop(conn);
    pool.disconnect().await?;
    Ok(())
}
