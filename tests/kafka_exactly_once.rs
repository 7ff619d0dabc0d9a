//! The Kafka sink with `exactly_once = true` against the test broker (Tansu):
//! - `kill -9` of Sluice three times under load, restarted each time: a `read_committed`
//!   consumer sees every committed row exactly once, in commit order per key.
//! - A zombie: a first process is frozen (SIGSTOP), a second one with the same task takes over
//!   (its `init_transactions` fences the first off); when the first wakes up it cannot write
//!   any more and stops saying it was fenced; still every row exactly once.
//! - A snapshot into the exactly-once sink, killed a third of the way through while a writer
//!   changes the table: it resumes from the progress its Kafka transactions committed, no row is
//!   read twice, and the topic applied in order equals the table.
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

/// Reads `topic` with `isolation.level=read_committed` from the beginning until `stop`, and
/// hands `each` every message's JSON value, partition and `sluice.position` header.
async fn read_committed(
    topic: String,
    group: String,
    stop: Arc<AtomicBool>,
    mut each: impl FnMut(Value, i32, Option<String>),
) {
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
        let header = m.headers().and_then(|h| {
            h.iter()
                .find(|h| h.key == "sluice.position")
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        });
        each(value, m.partition(), header);
    }
}

/// The inserts and updates of `topic` (see [`read_committed`]).
async fn consume(topic: String, group: String, rows: Arc<Mutex<Vec<Row>>>, stop: Arc<AtomicBool>) {
    read_committed(topic, group, stop, |value, partition, header| {
        if matches!(value["op"].as_str(), Some("c" | "u")) {
            rows.lock().unwrap().push(Row {
                id: value["after"]["id"].as_u64().expect("an id"),
                v: value["after"]["v"].as_str().expect("a v").to_string(),
                partition,
                header,
            });
        }
    })
    .await;
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

/// A message as `consume_all` keeps it.
struct Change {
    op: String,
    id: u64,
    /// `None` for a delete.
    v: Option<String>,
    /// Its `sluice.position` header's file and position.
    at: (String, u64),
}

/// Every row message of `topic` (see [`read_committed`]).
async fn consume_all(
    topic: String,
    group: String,
    out: Arc<Mutex<Vec<Change>>>,
    stop: Arc<AtomicBool>,
) {
    read_committed(topic, group, stop, |value, _, header| {
        let Some(op @ ("r" | "c" | "u" | "d")) = value["op"].as_str() else {
            return;
        };
        let image = if op == "d" {
            &value["before"]
        } else {
            &value["after"]
        };
        out.lock().unwrap().push(Change {
            op: op.to_string(),
            id: image["id"].as_u64().expect("an id"),
            v: image["v"]
                .as_str()
                .filter(|_| op != "d")
                .map(str::to_string),
            at: file_pos(&header.expect("a sluice.position header")),
        });
    })
    .await;
}

/// A snapshot into an exactly-once sink, killed (SIGKILL) a third of the way through while a
/// writer keeps changing the table, resumes from the progress its last Kafka transaction
/// committed; a `read_committed` consumer then sees every row read once (no `r` twice) and,
/// applying the messages in order, ends with exactly the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_snapshot_into_an_exactly_once_sink_resumes_from_its_transactions() {
    const ROWS: u64 = 200_000;
    let run = format!("eossnap{}", common::kafka::run_id());
    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, "eos_snapshot").await;
    let signal_db = common::fresh_database(&mut root, "eos_snapshot_signal").await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.t (id BIGINT PRIMARY KEY, v VARCHAR(64))"
    ))
    .await
    .unwrap();
    root.query_drop(format!(
        "INSERT INTO `{db}`.t SELECT seq, CONCAT('s', seq) FROM `{db}`.seq_1_to_{ROWS}"
    ))
    .await
    .expect("loading the table (needs the Sequence engine)");
    let topic = format!("eos{run}");
    common::kafka::create_topic(&common::kafka::brokers(), &topic, PARTITIONS).await;
    let dir = TempDir::new("eos_snapshot");
    let config = write_config(&dir.0, &db, "current", &topic, &run, 4_100_924);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text = text.replace(
        "[[tasks.sinks]]",
        &format!(
            "[tasks.snapshot]\nmode = \"initial\"\nsignal_table = \"{signal_db}.marks\"\n\
             chunk_rows = 500\nreaders = 2\n\n[[tasks.sinks]]"
        ),
    );
    std::fs::write(&config, text).unwrap();

    let messages = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let consumer = tokio::spawn(consume_all(
        topic.clone(),
        format!("eos-snapshot-reader-{run}"),
        messages.clone(),
        stop.clone(),
    ));
    // The writer: updates, deletes and inserts all along.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (mut conn, db, writing) = (common::root_conn().await, db.clone(), writing.clone());
        tokio::spawn(async move {
            let mut rng = Rng::from_clock();
            let mut next_id = ROWS + 1;
            while writing.load(Ordering::SeqCst) {
                let id = rng.range(1, ROWS);
                let sql = match rng.range(0, 9) {
                    0 => format!("DELETE FROM `{db}`.t WHERE id = {id}"),
                    1 => {
                        next_id += 1;
                        format!("INSERT INTO `{db}`.t VALUES ({next_id}, 'n{next_id}')")
                    }
                    _ => format!(
                        "UPDATE `{db}`.t SET v = 'u{id}-{}' WHERE id = {id}",
                        rng.next() % 1000
                    ),
                };
                conn.query_drop(sql).await.unwrap();
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };

    let checkpoint = dir.0.join("data/eos/checkpoint.json");
    let progress = || -> Option<u64> {
        let json: Value = serde_json::from_slice(&std::fs::read(&checkpoint).ok()?).ok()?;
        json.get("snapshot")?.pointer("/after/0/int")?.as_u64()
    };
    let log = |n: usize| dir.0.join(format!("run-{n}.log"));
    let mut sluice = StandaloneProcess::start(&config, log(0));
    let t = Instant::now();
    let killed_at = loop {
        sluice.assert_running();
        assert!(
            t.elapsed() < CATCH_UP,
            "the snapshot does not get a third through; log:\n{}",
            sluice.log_text()
        );
        match progress() {
            Some(id) if id >= ROWS / 3 => break id,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    sluice.child.kill().unwrap();
    sluice.child.wait().unwrap();
    let mut sluice = StandaloneProcess::start(&config, log(1));
    let t = Instant::now();
    while !sluice.log_text().contains("Snapshot complete") {
        sluice.assert_running();
        assert!(
            t.elapsed() < CATCH_UP,
            "the resumed snapshot does not complete; log:\n{}",
            sluice.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resumed = sluice.log_text();
    assert!(
        resumed.contains("Resuming from the checkpoint the sink keeps."),
        "the restart resumes from Kafka; log:\n{resumed}"
    );
    writing.store(false, Ordering::SeqCst);
    writer.await.unwrap();
    let table: HashMap<u64, String> = root
        .query::<(u64, String), _>(format!("SELECT id, v FROM `{db}`.t"))
        .await
        .unwrap()
        .into_iter()
        .collect();

    // Every change reaches the topic; then the topic, applied in order, is the table.
    let t = Instant::now();
    let mut state: HashMap<u64, String>;
    loop {
        state = HashMap::new();
        for change in messages.lock().unwrap().iter() {
            match (change.op.as_str(), &change.v) {
                ("d", _) => {
                    state.remove(&change.id);
                }
                (_, Some(v)) => {
                    state.insert(change.id, v.clone());
                }
                _ => {}
            }
        }
        if state == table {
            break;
        }
        sluice.assert_running();
        assert!(
            t.elapsed() < CATCH_UP,
            "the topic, applied in order, differs from the table in {} rows",
            table
                .iter()
                .filter(|(id, v)| state.get(id) != Some(v))
                .count()
                + state.keys().filter(|id| !table.contains_key(id)).count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = sluice.terminate(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "sluice exits 0");
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    consumer.await.unwrap();
    let messages = std::mem::take(&mut *messages.lock().unwrap());
    // Where the second run resumed: the position the last committed transaction holds.
    let resumed_at = resumed
        .lines()
        .find(|l| l.contains("Resuming from the checkpoint the sink keeps."))
        .and_then(|l| l.split("position=").nth(1))
        .and_then(|p| p.split_whitespace().next())
        .map(file_pos)
        .expect("the resume position in the log");
    let mut first_read: HashMap<u64, &Change> = HashMap::new();
    let mut twice = Vec::new();
    for change in messages.iter().filter(|c| c.op == "r") {
        match first_read.get(&change.id) {
            // Tansu makes the killed producer's open transaction visible instead of aborting
            // it (Kafka aborts it: see the restart check in exactly_once.rs); its rows lie past
            // the committed checkpoint, and the resumed run reads them again. Any other row
            // read twice is Sluice's doing.
            Some(first) if first.at < resumed_at => twice.push((change.id, first.at.clone())),
            Some(_) => {}
            None => {
                first_read.insert(change.id, change);
            }
        }
    }
    assert!(
        twice.is_empty(),
        "{} rows were read twice within committed transactions (resumed at {resumed_at:?}): \
         first {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    eprintln!(
        "killed at id {killed_at}; {} messages, {} rows read, none twice in a committed \
         transaction; the topic equals the table ({} rows)",
        messages.len(),
        first_read.len(),
        table.len()
    );
}

/// `FILE:POS[:...]` as its file and position.
fn file_pos(text: &str) -> (String, u64) {
    let mut parts = text.split(':');
    let file = parts.next().unwrap_or_default().to_string();
    let pos = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (file, pos)
}
