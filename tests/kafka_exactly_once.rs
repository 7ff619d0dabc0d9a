//! The Kafka sink with `exactly_once = true` against the test broker (Tansu):
//! - `kill -9` of Sluice three times under load, restarted each time: a `read_committed`
//!   consumer sees every committed row exactly once, in commit order per key.
//! - A zombie: a first process is frozen (SIGSTOP), a second one with the same task takes over
//!   (its `init_transactions` fences the first off); when the first wakes up it cannot write
//!   any more and stops saying it was fenced; still every row exactly once.
//!
//! Only what the Kafka protocol promises is relied on; each run uses its own topics and
//! transactional ids, so reruns never read old messages.

mod common;

use common::rng::Rng;
use common::standalone::{StandaloneProcess, TempDir};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message};
use serde_json::Value;

const PARTITIONS: i32 = 3;
const CATCH_UP: Duration = Duration::from_secs(120);

/// One exactly-once task reading `db` into `topic`.
fn write_config(
    dir: &Path,
    db: &str,
    start: &str,
    topic: &str,
    run: &str,
    server_id: u32,
) -> PathBuf {
    let data = dir.join("data");
    let text = format!(
        "data_dir = {data:?}\n\n[[tasks]]\nname = \"eos\"\ncheckpoint_interval_ms = 200\n\n\
         [tasks.source]\nurl = \"{url}\"\nserver_id = {server_id}\nstart = \"{start}\"\n\n\
         [tasks.filters]\ninclude = [\"{db}\\\\..*\"]\n\n\
         [[tasks.sinks]]\ntype = \"kafka\"\nname = \"k\"\nbrokers = \"{brokers}\"\n\
         topic = \"{topic}\"\nformat = \"sluice\"\nexactly_once = true\n\
         transactional_id = \"eos-test-{run}\"\ncheckpoint_topic = \"ckpt-{run}\"\n",
        data = data.to_str().unwrap(),
        url = common::mysql_url(),
        brokers = common::kafka::brokers(),
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A row message as a `read_committed` consumer got it.
struct Row {
    id: u64,
    /// The value written (`v`), which changes with each update of the row.
    v: String,
    partition: i32,
    header: Option<String>,
}

/// Reads `topic` with `isolation.level=read_committed` from the beginning until `stop`.
async fn consume(topic: String, group: String, rows: Arc<Mutex<Vec<Row>>>, stop: Arc<AtomicBool>) {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", common::kafka::brokers())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "6000");
    let consumer = common::kafka::assigned_consumer(&config, &topic, PARTITIONS);
    while !stop.load(Ordering::SeqCst) {
        let m = match tokio::time::timeout(Duration::from_millis(300), consumer.recv()).await {
            Err(_) => continue,
            Ok(Err(e)) => panic!("consuming failed: {e}"),
            Ok(Ok(m)) => m,
        };
        let Some(payload) = m.payload() else { continue };
        let value: Value = serde_json::from_slice(payload).expect("JSON");
        if !matches!(value["op"].as_str(), Some("c" | "u")) {
            continue;
        }
        let header = m.headers().and_then(|h| {
            h.iter()
                .find(|h| h.key == "sluice.position")
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        });
        rows.lock().unwrap().push(Row {
            id: value["after"]["id"].as_u64().expect("an id"),
            v: value["after"]["v"].as_str().expect("a v").to_string(),
            partition: m.partition(),
            header,
        });
    }
}

/// Inserts ids `1..=total` and updates earlier ones, in transactions of 1-50 rows, pausing
/// between them; `committed` counts committed row changes, `expected` lists each row's
/// values in commit order.
async fn write_workload(
    mut conn: mysql_async::Conn,
    db: String,
    total: u64,
    committed: Arc<AtomicU64>,
    expected: Arc<Mutex<HashMap<u64, Vec<String>>>>,
    mut rng: Rng,
) {
    let mut next = 1;
    let mut changes = 0;
    while next <= total {
        let n = rng.range(1, 50).min(total - next + 1);
        let mut tx = conn
            .start_transaction(mysql_async::TxOpts::default())
            .await
            .unwrap();
        let mut written = Vec::new();
        let values: Vec<String> = (next..next + n)
            .map(|id| {
                written.push((id, format!("i{id}")));
                format!("({id}, 'i{id}')")
            })
            .collect();
        tx.query_drop(format!(
            "INSERT INTO `{db}`.t (id, v) VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
        if next > 1 {
            let id = rng.range(1, next - 1);
            let v = format!("u{id}-{}", rng.next() % 1000);
            tx.query_drop(format!("UPDATE `{db}`.t SET v = '{v}' WHERE id = {id}"))
                .await
                .unwrap();
            written.push((id, v));
        }
        tx.commit().await.unwrap();
        {
            let mut expected = expected.lock().unwrap();
            for (id, v) in &written {
                expected.entry(*id).or_default().push(v.clone());
            }
        }
        changes += written.len() as u64;
        committed.store(changes, Ordering::SeqCst);
        next += n;
        tokio::time::sleep(Duration::from_millis(rng.range(5, 30))).await;
    }
}

/// A workload, its consumer and the expected result.
struct Scenario {
    _dir: TempDir,
    dir: PathBuf,
    config: PathBuf,
    topic: String,
    rows: Arc<Mutex<Vec<Row>>>,
    stop: Arc<AtomicBool>,
    consumer: tokio::task::JoinHandle<()>,
    committed: Arc<AtomicU64>,
    expected: Arc<Mutex<HashMap<u64, Vec<String>>>>,
    writer: tokio::task::JoinHandle<()>,
    total_changes: Arc<AtomicU64>,
}

async fn scenario(tag: &str, rows_to_insert: u64, server_id: u32) -> Scenario {
    let run = format!("{tag}{}", common::kafka::run_id());
    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, tag).await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.t (id BIGINT PRIMARY KEY, v VARCHAR(64))"
    ))
    .await
    .unwrap();
    let topic = format!("eos{run}");
    common::kafka::create_topic(&common::kafka::brokers(), &topic, PARTITIONS).await;
    let start = common::binlog_end(&mut root).await;
    let dir = TempDir::new(tag);
    let config = write_config(&dir.0, &db, &start, &topic, &run, server_id);
    let rows = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let consumer = tokio::spawn(consume(
        topic.clone(),
        format!("eos-reader-{run}"),
        rows.clone(),
        stop.clone(),
    ));
    let committed = Arc::new(AtomicU64::new(0));
    let expected = Arc::new(Mutex::new(HashMap::new()));
    let total_changes = Arc::new(AtomicU64::new(u64::MAX));
    let writer = {
        let conn = common::root_conn().await;
        let (db, committed, expected, total) = (
            db.clone(),
            committed.clone(),
            expected.clone(),
            total_changes.clone(),
        );
        tokio::spawn(async move {
            write_workload(
                conn,
                db,
                rows_to_insert,
                committed.clone(),
                expected,
                Rng::from_clock(),
            )
            .await;
            total.store(committed.load(Ordering::SeqCst), Ordering::SeqCst);
        })
    };
    Scenario {
        dir: dir.0.clone(),
        _dir: dir,
        config,
        topic,
        rows,
        stop,
        consumer,
        committed,
        expected,
        writer,
        total_changes,
    }
}

impl Scenario {
    /// Waits until `committed` row changes were written (or the workload ended).
    async fn wait_committed(&self, at: u64) {
        let t = Instant::now();
        while self.committed.load(Ordering::SeqCst) < at && !self.writer.is_finished() {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "the workload is stuck"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits for the workload's end, then for the consumer to have every change; stops the
    /// consumer after a quiet spell and checks: each change exactly once, in commit order per
    /// row, every message with its position header. Returns the message count.
    async fn check(self, sluice: &mut StandaloneProcess) -> usize {
        tokio::time::timeout(Duration::from_secs(180), self.writer)
            .await
            .expect("the workload ends")
            .unwrap();
        let total = self.total_changes.load(Ordering::SeqCst) as usize;
        let t = Instant::now();
        while self.rows.lock().unwrap().len() < total {
            sluice.assert_running();
            assert!(
                t.elapsed() < CATCH_UP,
                "only {} of {total} row changes arrived; sluice's log:\n{}",
                self.rows.lock().unwrap().len(),
                sluice.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "caught up {:.1} s after the workload",
            t.elapsed().as_secs_f64()
        );
        let status = sluice.terminate(Duration::from_secs(30));
        assert!(
            status.is_some_and(|s| s.success()),
            "sluice exits 0 on SIGTERM; log:\n{}",
            sluice.log_text()
        );
        // Anything late (a duplicate) would show within a few seconds.
        tokio::time::sleep(Duration::from_secs(4)).await;
        self.stop.store(true, Ordering::SeqCst);
        self.consumer.await.expect("the consumer did not panic");
        let rows = std::mem::take(&mut *self.rows.lock().unwrap());
        let expected = std::mem::take(&mut *self.expected.lock().unwrap());
        let mut got: HashMap<u64, Vec<String>> = HashMap::new();
        let mut partition_of: HashMap<u64, i32> = HashMap::new();
        for r in &rows {
            got.entry(r.id).or_default().push(r.v.clone());
            let p = *partition_of.entry(r.id).or_insert(r.partition);
            assert_eq!(p, r.partition, "row {} changed partition", r.id);
            assert!(
                r.header
                    .as_deref()
                    .is_some_and(|h| h.split(':').count() >= 3),
                "row {} has no sluice.position header: {:?}",
                r.id,
                r.header
            );
        }
        let mut wrong = Vec::new();
        for (id, values) in &expected {
            if got.get(id) != Some(values) {
                wrong.push(format!(
                    "id {id}: committed {values:?}, consumed {:?}",
                    got.get(id)
                ));
            }
        }
        wrong.sort();
        assert!(
            wrong.is_empty() && rows.len() == total,
            "{} rows differ from their committed changes (duplicates or gaps), {} messages for \
             {total} changes; first: {:#?}",
            wrong.len(),
            rows.len(),
            &wrong[..wrong.len().min(10)]
        );
        rows.len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_9_under_load_leaves_no_duplicate_for_read_committed() {
    let s = scenario("eos_kill", 6000, 4_100_921).await;
    let log = |n: usize| s.dir.join(format!("run-{n}.log"));
    let mut sluice = StandaloneProcess::start(&s.config, log(0));
    let mut rng = Rng::from_clock();
    for (n, (lo, hi)) in [(15, 25), (40, 50), (65, 75)].into_iter().enumerate() {
        // Each run must have committed something before it is killed.
        let delivered = s.rows.lock().unwrap().len();
        s.wait_committed(6000 * rng.range(lo, hi) / 100).await;
        let t = Instant::now();
        while s.rows.lock().unwrap().len() <= delivered {
            sluice.assert_running();
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "run {n} delivers nothing"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sluice.child.kill().unwrap();
        sluice.child.wait().unwrap();
        eprintln!(
            "kill {}: {} changes committed, {} consumed",
            n + 1,
            s.committed.load(Ordering::SeqCst),
            s.rows.lock().unwrap().len()
        );
        sluice = StandaloneProcess::start(&s.config, log(n + 1));
    }
    let restart_checks: usize = (1..=3)
        .map(|n| {
            std::fs::read_to_string(log(n))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("Skipped messages an earlier run had already committed"))
                .count()
        })
        .sum();
    let topic = s.topic.clone();
    let messages = s.check(&mut sluice).await;
    eprintln!(
        "topic {topic}: {messages} row messages, each change exactly once; batches with \
         messages skipped by the restart check: {restart_checks}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_is_fenced_off_by_its_successor() {
    let s = scenario("eos_zombie", 3000, 4_100_922).await;
    let mut first = StandaloneProcess::start(&s.config, s.dir.join("first.log"));
    s.wait_committed(800).await;
    let t = Instant::now();
    while s.rows.lock().unwrap().is_empty() {
        first.assert_running();
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the first run delivers nothing"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = first.child.id().to_string();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid}");
    };
    signal("-STOP");
    // The successor: same task and transactional id, its own data folder (the checkpoint
    // comes from Kafka), its own replica server id.
    let second_dir = TempDir::new("eos_zombie_second");
    let text = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace(
            s.dir.join("data").to_str().unwrap(),
            second_dir.0.join("data").to_str().unwrap(),
        )
        .replace("server_id = 4100922", "server_id = 4100923");
    let second_config = second_dir.0.join("sluice.toml");
    std::fs::write(&second_config, text).unwrap();
    let mut second = StandaloneProcess::start(&second_config, second_dir.0.join("second.log"));
    let t = Instant::now();
    while !second
        .log_text()
        .contains("earlier producers with this id are fenced off")
    {
        second.assert_running();
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the successor never registered:\n{}",
            second.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal("-CONT");
    // The woken owner may try to write; the brokers refuse it and it stops.
    let status = first.wait(Duration::from_secs(120));
    let first_log = first.log_text();
    assert!(
        status.is_some_and(|s| !s.success()),
        "the fenced owner keeps running ({status:?}); its log:\n{first_log}"
    );
    assert!(
        first_log.contains("fenced"),
        "its log says it was fenced:\n{first_log}"
    );
    eprintln!("the fenced owner stopped: {status:?}");
    let messages = s.check(&mut second).await;
    eprintln!("{messages} row messages, each change exactly once");
}

/// The zombie of the test above, when the broker does not say it was fenced: Tansu answers a
/// fenced producer's `EndTxn` by closing the connection, so the woken owner's commit times out
/// and its task goes back to its checkpoint with the sink opened again. That re-opened sink
/// must not register the transactional id again (it would fence the successor off in turn):
/// it reads the last owner claim and stops as fenced when another run claimed the id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_sink_stops_when_another_run_claimed_the_id() {
    use sluice_core::config::KafkaSinkConfig;
    use sluice_sinks::kafka::KafkaSink;
    use sluice_sinks::Sink;

    let run = common::kafka::run_id();
    let config = KafkaSinkConfig {
        name: Some("k".into()),
        brokers: common::kafka::brokers(),
        topic: format!("claims-{run}"),
        schema_changes_topic: None,
        format: "sluice".into(),
        partition_by: "key".into(),
        tombstones: false,
        exactly_once: true,
        transactional_id: Some(format!("claims-test-{run}")),
        checkpoint_topic: format!("ckpt-claims-{run}"),
        properties: Default::default(),
    };
    // The run's first open claims the id; re-opening within the same run finds its own claim.
    let mut first = KafkaSink::open(&config, "claims", true).await.unwrap();
    assert_eq!(first.stored_checkpoint().await.unwrap(), None);
    drop(first);
    let mut again = KafkaSink::open(&config, "claims", false).await.unwrap();
    again
        .stored_checkpoint()
        .await
        .expect("its own claim is the last one");
    drop(again);
    // A successor elsewhere claims the id (what its sink writes right after
    // `init_transactions`)...
    let producer: rdkafka::producer::FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", common::kafka::brokers())
        .create()
        .unwrap();
    let key = format!("claims-test-{run}#owner");
    let value = br#"{"owner":"other-host/pid 1/1/0","at_ms":1}"#;
    producer
        .send(
            rdkafka::producer::FutureRecord::to(&config.checkpoint_topic)
                .partition(0)
                .key(&key)
                .payload(&value[..]),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    // ...so this run's next re-open stops, fenced, without registering the id again.
    let mut zombie = KafkaSink::open(&config, "claims", false).await.unwrap();
    let e = zombie
        .stored_checkpoint()
        .await
        .expect_err("another run claimed the id");
    assert!(e.is_definite(), "fenced is definite: {e}");
    let text = e.to_string();
    assert!(
        text.contains("fenced") && text.contains("other-host/pid 1/1/0"),
        "{text}"
    );
}
