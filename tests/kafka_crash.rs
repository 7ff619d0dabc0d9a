//! `sluice standalone` with one Kafka sink, killed with SIGKILL three times in the middle of
//! a write workload and restarted each time: the topic ends up with every committed row, and
//! a repeated row is only ever a replay of the same binlog event (same `after`, same source
//! file, position and row), never a different event.
//!
//! The topic carries a per-run name, so reruns against the same broker never read old
//! messages. Only what the Kafka protocol promises is relied on (per-partition order, keys).

mod common;

use common::kafka::{assigned_consumer, drain_then_stop, Received};
use common::rng::Rng;

use common::standalone::{StandaloneProcess, TempDir};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use serde_json::{json, Value};

/// Rows the workload commits.
const ROWS: u64 = 10_000;
/// Partitions of the topic.
const PARTITIONS: i32 = 3;
/// Replica server id of this test: unique on the shared server.
const SERVER_ID: u32 = 4_100_901;
/// How long the messages may take to arrive after the workload.
const CATCH_UP: Duration = Duration::from_secs(90);

/// Writes the config: one task reading `db` from `start` into one Kafka sink (format
/// `sluice`) writing to `topic`.
fn write_config(dir: &Path, db: &str, start: &str, topic: &str) -> PathBuf {
    let data_dir = dir.join("data");
    let data = data_dir.to_str().unwrap();
    assert!(
        !data.contains(['"', '\\']),
        "path {data} cannot go in a TOML string"
    );
    let text = format!(
        "data_dir = \"{data}\"\n\n[[tasks]]\nname = \"kafka-crash\"\ncheckpoint_interval_ms = 200\n\n\
         [tasks.source]\nurl = \"{url}\"\nserver_id = {SERVER_ID}\nstart = \"{start}\"\n\n\
         [tasks.filters]\ninclude = [\"{db}\\\\..*\"]\n\n\
         [[tasks.sinks]]\ntype = \"kafka\"\nname = \"k-crash\"\nbrokers = \"{brokers}\"\n\
         topic = \"{topic}\"\nformat = \"sluice\"\n",
        url = common::mysql_url(),
        brokers = common::kafka::brokers(),
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What the consumer has read so far.
#[derive(Default)]
struct Consumed {
    messages: Vec<Received>,
    /// The ids of the row events seen.
    ids: HashSet<u64>,
    /// When the last message arrived.
    last: Option<Instant>,
}

fn consumer_config(run: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", common::kafka::brokers())
        .set("group.id", format!("sluice-test-crash-{run}"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // The test broker answers a group join after about half the session timeout.
        .set("session.timeout.ms", "6000");
    config
}

/// Reads the whole topic from the beginning of every partition into `state` until `stop`.
/// Partitions are assigned (not subscribed): no group rebalance can pause the reading.
async fn consume(run: String, topic: String, state: Arc<Mutex<Consumed>>, stop: Arc<AtomicBool>) {
    let consumer = assigned_consumer(&consumer_config(&run), &topic, PARTITIONS);
    while !stop.load(Ordering::SeqCst) {
        let message = match tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
        {
            Err(_) => continue,
            Ok(Err(e)) => panic!("consuming failed: {e}"),
            Ok(Ok(m)) => m,
        };
        let received = Received::new(&message);
        let value = &received.value;
        let mut state = state.lock().unwrap();
        if matches!(value["op"].as_str(), Some("c" | "u" | "d")) {
            if let Some(id) = value["after"]["id"].as_u64() {
                state.ids.insert(id);
            }
        }
        state.last = Some(Instant::now());
        state.messages.push(received);
    }
}

/// The high watermark (next offset) of each partition, or `None` if the broker did not say.
fn watermarks(client: &BaseConsumer, topic: &str) -> Option<Vec<i64>> {
    (0..PARTITIONS)
        .map(|p| {
            client
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .map(|(_, high)| high)
                .map_err(|e| println!("no watermark for {topic}/{p}: {e}"))
                .ok()
        })
        .collect()
}

/// `INSERT` of ids `first..first+n` into `db`.`t`.
fn insert_sql(db: &str, first: u64, n: u64) -> String {
    let values: Vec<String> = (first..first + n)
        .map(|id| format!("({id}, 'v{id}-{}')", "x".repeat((id % 40) as usize)))
        .collect();
    format!("INSERT INTO `{db}`.t (id, v) VALUES {}", values.join(", "))
}

/// Commits ids `1..=total` in transactions of 1-100 rows (1-3 statements each), pausing 10-50
/// ms between them; `committed` is the highest id committed so far.
async fn write_workload(
    mut conn: mysql_async::Conn,
    db: String,
    total: u64,
    committed: Arc<AtomicU64>,
    mut rng: Rng,
) -> u64 {
    let mut transactions = 0;
    let mut next = 1;
    while next <= total {
        let n = rng.range(1, 100).min(total - next + 1);
        let statements = rng.range(1, 3).min(n);
        let mut tx = conn
            .start_transaction(mysql_async::TxOpts::default())
            .await
            .unwrap();
        let mut first = next;
        for s in 0..statements {
            let rows = if s + 1 == statements {
                next + n - first
            } else {
                n / statements
            };
            tx.query_drop(insert_sql(&db, first, rows)).await.unwrap();
            first += rows;
        }
        tx.commit().await.unwrap();
        next += n;
        transactions += 1;
        committed.store(next - 1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(rng.range(10, 50))).await;
    }
    transactions
}

/// What happened at one SIGKILL.
struct Kill {
    committed: u64,
    uptime: Duration,
    /// Each partition's high watermark once the process was dead: the next run's messages
    /// come after it.
    marks: Option<Vec<i64>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_9_under_load_then_restart_every_committed_row_is_in_kafka() {
    let t0 = Instant::now();
    let run = common::kafka::run_id();
    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, "kafka_crash").await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.t (id BIGINT PRIMARY KEY, v VARCHAR(64))"
    ))
    .await
    .unwrap();
    let topic = format!("t{run}.crash");
    common::kafka::create_topic(&common::kafka::brokers(), &topic, PARTITIONS).await;
    let start = common::binlog_end(&mut root).await;
    let dir = TempDir::new("kafka-crash");
    let config = write_config(&dir.0, &db, &start, &topic);
    let mut rng = Rng::from_clock();

    let state = Arc::new(Mutex::new(Consumed::default()));
    let stop_consumer = Arc::new(AtomicBool::new(false));
    let consumer = tokio::spawn(consume(
        run.clone(),
        topic.clone(),
        state.clone(),
        stop_consumer.clone(),
    ));
    let marks_client: BaseConsumer = consumer_config(&format!("{run}-marks"))
        .create()
        .expect("a client for watermarks");

    let log = |n: usize| dir.0.join(format!("run-{n}.log"));
    let mut sluice = StandaloneProcess::start(&config, log(0));
    let mut started = Instant::now();
    let mut read_at_start = 0;
    let committed = Arc::new(AtomicU64::new(0));
    let writer_done = Arc::new(AtomicBool::new(false));
    let writer = {
        let conn = common::root_conn().await;
        let (db, committed, done) = (db.clone(), committed.clone(), writer_done.clone());
        let rng = Rng(rng.next() | 1);
        tokio::spawn(async move {
            let transactions = write_workload(conn, db, ROWS, committed, rng).await;
            done.store(true, Ordering::SeqCst);
            transactions
        })
    };

    // Three kills, each once the workload has passed a random point of its own band and the
    // run has sent something: far enough apart that each run gets going, and all while rows
    // are still being written.
    let bands = [(12, 25), (42, 55), (72, 85)];
    let mut kills = Vec::new();
    for (n, (lo, hi)) in bands.into_iter().enumerate() {
        let at = ROWS * rng.range(lo, hi) / 100;
        let waited = Instant::now();
        // Also wait for this run to be streaming: the consumer has read past what the topic
        // held when the run started.
        let streaming =
            |state: &Mutex<Consumed>| state.lock().unwrap().messages.len() > read_at_start;
        while committed.load(Ordering::SeqCst) < at || !streaming(&state) {
            assert!(
                !writer_done.load(Ordering::SeqCst),
                "the workload ended before kill {}",
                n + 1
            );
            assert!(
                waited.elapsed() < Duration::from_secs(120),
                "the workload is stuck"
            );
            sluice.assert_running();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let uptime = started.elapsed();
        sluice.assert_running();
        sluice.child.kill().unwrap();
        let status = sluice.child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        let committed_now = committed.load(Ordering::SeqCst);
        // Let the broker finish appending what it had received before the connection died.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let marks = tokio::task::block_in_place(|| watermarks(&marks_client, &topic));
        let in_topic = marks.as_ref().map_or(0, |m| m.iter().sum::<i64>() as usize);
        read_at_start = state.lock().unwrap().messages.len().max(in_topic);
        kills.push(Kill {
            committed: committed_now,
            uptime,
            marks,
        });
        sluice = StandaloneProcess::start(&config, log(n + 1));
        started = Instant::now();
    }
    assert!(
        !writer_done.load(Ordering::SeqCst),
        "every kill happened while the workload was writing"
    );
    let transactions = tokio::time::timeout(Duration::from_secs(120), writer)
        .await
        .expect("the workload ends")
        .unwrap();
    let workload_time = t0.elapsed();

    // Every committed id in the topic, within CATCH_UP.
    let waited = Instant::now();
    loop {
        let seen = state.lock().unwrap().ids.len() as u64;
        if seen >= ROWS {
            break;
        }
        sluice.assert_running();
        assert!(
            !consumer.is_finished(),
            "the consumer ended early (it panicked?)"
        );
        assert!(
            waited.elapsed() < CATCH_UP,
            "only {seen} of {ROWS} ids arrived within {CATCH_UP:?} of the workload's end; \
             sluice's log:\n{}",
            sluice.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let catch_up = waited.elapsed();
    let stop_started = Instant::now();
    let status = sluice.terminate(Duration::from_secs(30));
    let stop_time = stop_started.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "sluice exits 0 on SIGTERM, not {status:?}; its log:\n{}",
        sluice.log_text()
    );

    drain_then_stop(|| state.lock().unwrap().last, &stop_consumer, consumer).await;
    let final_marks = tokio::task::block_in_place(|| watermarks(&marks_client, &topic));
    let consumed = std::mem::take(&mut *state.lock().unwrap());

    // The consumer read each partition in offset order, without gaps: nothing was skipped.
    let mut per_partition: HashMap<i32, Vec<i64>> = HashMap::new();
    for m in &consumed.messages {
        per_partition.entry(m.partition).or_default().push(m.offset);
    }
    for offsets in per_partition.values() {
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "offsets out of order"
        );
    }

    // Each row message belongs to the run that sent it: run k sent what lies past the k-th
    // kill's watermark of its partition (when the broker told the watermarks).
    let run_of = |m: &Received| {
        kills
            .iter()
            .filter(|k| {
                k.marks
                    .as_ref()
                    .is_some_and(|marks| m.offset >= marks[m.partition as usize])
            })
            .count()
    };
    let mut duplicates = vec![0usize; kills.len() + 1];
    let mut identical_payloads = 0usize;
    let mut first_seen: HashMap<u64, &Received> = HashMap::new();
    let mut rows = 0usize;
    let mut other = 0usize;
    for m in &consumed.messages {
        let v = &m.value;
        if !matches!(v["op"].as_str(), Some("c" | "u" | "d")) {
            other += 1;
            continue;
        }
        rows += 1;
        assert_eq!(v["op"], "c", "inserts only: {v}");
        assert_eq!(v["db"], db.as_str(), "{v}");
        assert_eq!(v["table"], "t", "{v}");
        let id = v["after"]["id"].as_u64().unwrap_or_else(|| panic!("{v}"));
        assert!((1..=ROWS).contains(&id), "an id outside the workload: {v}");
        assert_eq!(
            v["after"]["v"],
            json!(format!("v{id}-{}", "x".repeat((id % 40) as usize))),
            "{v}"
        );
        let key: Value = serde_json::from_slice(m.key.as_deref().expect("a key"))
            .unwrap_or_else(|e| panic!("the key is not JSON ({e}): {v}"));
        assert_eq!(
            key,
            json!({"db": db, "table": "t", "pk": {"id": id}}),
            "{v}"
        );
        for field in ["file", "pos", "row"] {
            assert!(
                !v["source"][field].is_null(),
                "no source.{field} in a row message: {v}"
            );
        }
        match first_seen.get(&id) {
            None => {
                first_seen.insert(id, m);
            }
            Some(first) => {
                let f = &first.value;
                let same = |v: &Value| {
                    json!([
                        v["after"],
                        v["source"]["file"],
                        v["source"]["pos"],
                        v["source"]["row"]
                    ])
                    .to_string()
                };
                assert_eq!(
                    same(v),
                    same(f),
                    "id {id} at {}/{} differs from its first delivery at {}/{}: not a \
                     replay\nfirst: {f}\nagain: {v}",
                    m.partition,
                    m.offset,
                    first.partition,
                    first.offset
                );
                assert_eq!(m.key, first.key, "id {id}: a replay has the same key");
                if m.payload == first.payload {
                    identical_payloads += 1;
                }
                duplicates[run_of(m)] += 1;
            }
        }
    }
    let seen: HashSet<u64> = first_seen.keys().copied().collect();
    let mut missing: Vec<u64> = (1..=ROWS).filter(|id| !seen.contains(id)).collect();
    missing.sort_unstable();
    assert!(
        missing.is_empty(),
        "{} committed ids are missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    let total_duplicates: usize = duplicates.iter().sum();
    assert_eq!(rows, ROWS as usize + total_duplicates);
    if kills[0].marks.is_some() {
        assert_eq!(
            duplicates[0], 0,
            "the first run (before any kill) repeated rows by itself"
        );
    }

    println!(
        "workload: {ROWS} rows in {transactions} transactions, {:.1} s; topic {topic} \
         ({PARTITIONS} partitions), start {start}",
        workload_time.as_secs_f64()
    );
    for (i, k) in kills.iter().enumerate() {
        let marks = k.marks.as_ref().map_or_else(
            || "unknown".to_string(),
            |m| format!("{} ({m:?})", m.iter().sum::<i64>()),
        );
        println!(
            "kill {}: run {i} up {} ms, {} rows committed, messages in the topic {marks}; \
             restart {} replayed {} row messages",
            i + 1,
            k.uptime.as_millis(),
            k.committed,
            i + 1,
            duplicates[i + 1]
        );
    }
    println!(
        "topic: {} messages ({rows} row messages, {other} begin/commit), final watermarks \
         {final_marks:?}; {total_duplicates} duplicate row messages ({identical_payloads} with \
         byte-identical payloads); caught up {:.1} s after the workload; SIGTERM exit in {} ms; \
         test {:.1} s",
        consumed.messages.len(),
        catch_up.as_secs_f64(),
        stop_time.as_millis(),
        t0.elapsed().as_secs_f64()
    );
}
