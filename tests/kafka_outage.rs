//! `sluice standalone` with one Kafka sink while its broker goes away in the middle of a write
//! workload, and comes back:
//!
//! - the broker paused (SIGSTOP) for 30 s, then continued;
//! - the broker's port closed for 10 s (connections refused, open ones dropped), then reopened:
//!   the broker is advertised at a TCP forwarder of the test's own, which it closes and opens.
//!
//! Each test starts its own Tansu broker on a free port (memory storage), so the shared test
//! broker and the tests that use it are never disturbed. Sluice is not restarted: afterwards
//! every committed row version is in the topic (duplicates allowed, at-least-once), each key's
//! versions first arrive in commit order, Sluice still runs, its log tells of the outage, and
//! its peak memory stayed bounded.

mod common;

use common::kafka::{assigned_consumer, drain_then_stop, Received};
use common::private_services::{free_port, proc_status_kib, start_tansu, Stopped, TcpProxy};
use common::rng::Rng;
use common::standalone::{wait_until, StandaloneProcess, TempDir};

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use serde_json::{json, Value};

/// Partitions of the topic.
const PARTITIONS: i32 = 3;
/// Tables the workload writes (`t0`, `t1`, ...).
const TABLES: u64 = 3;
/// The topic (the broker is the test's own, so the name need not be unique).
const TOPIC: &str = "outage";
/// How long the messages may take to arrive once the workload ended.
const CATCH_UP: Duration = Duration::from_secs(120);
/// The bound on Sluice's peak resident memory.
const MAX_PEAK_KIB: u64 = 300 * 1024;

/// What the test does to the broker.
#[derive(Clone, Copy, Debug)]
enum Outage {
    /// SIGSTOP, then SIGCONT.
    Paused,
    /// The advertised port refuses connections and open connections are dropped.
    PortClosed,
}

/// One task reading `db` from `start` into one Kafka sink (format `sluice`).
fn write_config(dir: &Path, db: &str, start: &str, server_id: u32, brokers: &str) -> PathBuf {
    let data = dir.join("data");
    let data = data.to_str().expect("a UTF-8 path");
    assert!(!data.contains(['"', '\\']), "{data} cannot go in TOML");
    let text = format!(
        "data_dir = \"{data}\"\n[http]\nlisten = \"127.0.0.1:0\"\n\n[[tasks]]\nname = \"kafka-outage\"\n\
         checkpoint_interval_ms = 200\n\n\
         [tasks.source]\nurl = \"{url}\"\nserver_id = {server_id}\nstart = \"{start}\"\n\n\
         [tasks.filters]\ninclude = [\"{db}\\\\..*\"]\n\n\
         [[tasks.sinks]]\ntype = \"kafka\"\nname = \"k-outage\"\nbrokers = \"{brokers}\"\n\
         topic = \"{TOPIC}\"\nformat = \"sluice\"\n",
        url = common::mysql_url(),
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).expect("write the config");
    path
}

/// A row version: table number, id, `ver` (0 when inserted, +1 per update).
type Version = (u64, u64, u64);

/// What the writer has committed so far.
#[derive(Default)]
struct Committed {
    /// Row versions committed (inserts and updated rows).
    versions: AtomicU64,
    transactions: AtomicU64,
}

/// Commits transactions of 1-3 statements until `stop`: multi-row inserts of new ids, and
/// updates that raise `ver` of a few existing rows of a table. Returns the rows inserted.
async fn write_workload(
    mut conn: mysql_async::Conn,
    db: String,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    committed: Arc<Committed>,
) -> u64 {
    let mut rows = vec![0u64; TABLES as usize];
    while !stop.load(Ordering::SeqCst) {
        let mut tx = conn
            .start_transaction(mysql_async::TxOpts::default())
            .await
            .expect("begin");
        let mut versions = 0;
        for _ in 0..rng.range(1, 3) {
            let t = rng.below(TABLES) as usize;
            if rows[t] < 10 || rng.below(10) < 7 {
                let n = rng.range(1, 10);
                let values: Vec<String> = (rows[t] + 1..=rows[t] + n)
                    .map(|id| format!("({id}, 0, 'v{id}-0')"))
                    .collect();
                tx.query_drop(format!(
                    "INSERT INTO `{db}`.t{t} (id, ver, v) VALUES {}",
                    values.join(", ")
                ))
                .await
                .expect("insert");
                rows[t] += n;
                versions += n;
            } else {
                let ids: BTreeSet<u64> = (0..rng.range(1, 5))
                    .map(|_| rng.range(1, rows[t]))
                    .collect();
                let list: Vec<String> = ids.iter().map(u64::to_string).collect();
                tx.query_drop(format!(
                    "UPDATE `{db}`.t{t} SET ver = ver + 1, v = CONCAT('v', id, '-', ver) \
                     WHERE id IN ({})",
                    list.join(", ")
                ))
                .await
                .expect("update");
                versions += ids.len() as u64;
            }
        }
        tx.commit().await.expect("commit");
        committed.versions.fetch_add(versions, Ordering::SeqCst);
        committed.transactions.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(rng.range(20, 60))).await;
    }
    rows.iter().sum()
}

/// What the consumer has read so far.
#[derive(Default)]
struct Consumed {
    messages: Vec<Received>,
    /// The distinct row versions seen.
    versions: std::collections::HashSet<Version>,
    /// Errors the consumer reported (expected while the broker is away).
    errors: usize,
    last: Option<Instant>,
}

/// The row version a message carries, if it is a row message of the workload.
fn version_of(value: &Value) -> Option<Version> {
    let table = value["table"].as_str()?.strip_prefix('t')?.parse().ok()?;
    let after = &value["after"];
    Some((table, after["id"].as_u64()?, after["ver"].as_u64()?))
}

/// Reads every partition of the topic from the beginning until `stop` (assigned, not
/// subscribed: no group rebalance pauses the reading). Errors are counted, not fatal: the
/// broker goes away on purpose.
async fn consume(brokers: String, state: Arc<Mutex<Consumed>>, stop: Arc<AtomicBool>) {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &brokers)
        .set("group.id", "sluice-test-outage")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000");
    let consumer = assigned_consumer(&config, TOPIC, PARTITIONS);
    while !stop.load(Ordering::SeqCst) {
        let message = match tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
        {
            Err(_) => continue,
            Ok(Err(_)) => {
                state.lock().unwrap().errors += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Ok(Ok(m)) => m,
        };
        let received = Received::new(&message);
        let mut state = state.lock().unwrap();
        if let Some(v) = version_of(&received.value) {
            state.versions.insert(v);
        }
        state.last = Some(Instant::now());
        state.messages.push(received);
    }
}

/// `SELECT id, ver` of every table: the final version of each row.
async fn final_versions(conn: &mut mysql_async::Conn, db: &str) -> HashMap<(u64, u64), u64> {
    let mut out = HashMap::new();
    for t in 0..TABLES {
        let rows: Vec<(u64, u64)> = conn
            .query(format!("SELECT id, ver FROM `{db}`.t{t}"))
            .await
            .expect("select");
        out.extend(rows.into_iter().map(|(id, ver)| ((t, id), ver)));
    }
    out
}

/// Times and numbers of messages in the topic (the sum of the partitions' high watermarks).
type Samples = Arc<Mutex<Vec<(Instant, i64)>>>;

/// Samples the number of messages in the topic every 200 ms until `stop`, in a thread of its
/// own: what the broker holds, whatever the test's consumer has read yet.
fn sample_topic(
    brokers: String,
    samples: Samples,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .expect("a client for watermarks");
        while !stop.load(Ordering::SeqCst) {
            let marks: Option<i64> = (0..PARTITIONS)
                .map(|p| {
                    client
                        .fetch_watermarks(TOPIC, p, Duration::from_secs(2))
                        .ok()
                        .map(|(_, high)| high)
                })
                .sum();
            if let Some(total) = marks {
                samples.lock().unwrap().push((Instant::now(), total));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
}

/// The broker's progress over the last 10 s, for failure messages.
fn progress(samples: &Samples) -> String {
    let samples = samples.lock().unwrap();
    let Some(&(last_at, last)) = samples.last() else {
        return "the broker told no watermarks".into();
    };
    let earlier = samples
        .iter()
        .rev()
        .find(|(t, _)| last_at.duration_since(*t) >= Duration::from_secs(10))
        .map_or(0, |s| s.1);
    format!(
        "the topic holds {last} messages, {} more than 10 s before (sampled {:.1} s ago)",
        last - earlier,
        last_at.elapsed().as_secs_f64()
    )
}

/// Checks the messages against the table: every version of every row arrived, the first
/// arrival of each key's versions is in commit order (0, 1, 2, ...), a repeat is only an
/// earlier version again, and nothing else is in the topic. Returns the number of repeats.
fn check_messages(messages: &[Received], db: &str, rows: &HashMap<(u64, u64), u64>) -> usize {
    let mut offsets: HashMap<i32, i64> = HashMap::new();
    for m in messages {
        let last = offsets.insert(m.partition, m.offset);
        assert!(
            last.is_none_or(|last| last < m.offset),
            "partition {} read out of order",
            m.partition
        );
    }
    // Per key: the partition and the versions in arrival order.
    let mut per_key: HashMap<(u64, u64), (i32, Vec<u64>)> = HashMap::new();
    for m in messages {
        let v = &m.value;
        if !matches!(v["op"].as_str(), Some("c" | "u" | "d")) {
            continue;
        }
        assert_eq!(v["db"], db, "{v}");
        let (t, id, ver) = version_of(v).unwrap_or_else(|| panic!("not a workload row: {v}"));
        let op = if ver == 0 { "c" } else { "u" };
        assert_eq!(v["op"], op, "{v}");
        assert_eq!(v["after"]["v"], json!(format!("v{id}-{ver}")), "{v}");
        let key: Value = serde_json::from_slice(m.key.as_deref().expect("a key"))
            .unwrap_or_else(|e| panic!("the key is not JSON ({e}): {v}"));
        assert_eq!(
            key,
            json!({"db": db, "table": format!("t{t}"), "pk": {"id": id}}),
            "{v}"
        );
        let (partition, versions) = per_key
            .entry((t, id))
            .or_insert_with(|| (m.partition, Vec::new()));
        assert_eq!(*partition, m.partition, "t{t} id {id} in two partitions");
        versions.push(ver);
    }
    let mut repeats = 0;
    let mut missing = Vec::new();
    for (&(t, id), &last) in rows {
        let Some((_, arrived)) = per_key.get(&(t, id)) else {
            missing.push(format!("t{t} id {id} (all {} versions)", last + 1));
            continue;
        };
        let mut next = 0;
        for &ver in arrived {
            if ver == next {
                next += 1;
            } else {
                assert!(
                    ver < next,
                    "t{t} id {id}: version {ver} arrived before version {next}: {arrived:?}"
                );
                repeats += 1;
            }
        }
        if next != last + 1 {
            missing.push(format!("t{t} id {id} from version {next} to {last}"));
        }
    }
    assert!(
        missing.is_empty(),
        "{} rows lack versions, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let unknown: Vec<_> = per_key.keys().filter(|k| !rows.contains_key(k)).collect();
    assert!(
        unknown.is_empty(),
        "rows in the topic but not in the tables: {unknown:?}"
    );
    repeats
}

/// Warn/error lines of the log, and the info lines saying a sink recovered.
fn outage_lines(log: &str) -> (Vec<&str>, Vec<&str>) {
    let problems = log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    let recovered = log
        .lines()
        .filter(|l| l.contains("recovered after"))
        .collect();
    (problems, recovered)
}

async fn broker_outage_loses_nothing(outage: Outage, server_id: u32, away: Duration) {
    let t0 = Instant::now();
    let name = match outage {
        Outage::Paused => "paused",
        Outage::PortClosed => "port_closed",
    };
    let dir = TempDir::new(&format!("kafka-outage-{name}"));
    // The broker listens on one port and is advertised at another, which is either the same
    // port or the forwarder's.
    let broker_port = free_port();
    let proxy = match outage {
        Outage::Paused => None,
        Outage::PortClosed => Some(TcpProxy::start(broker_port).await),
    };
    let client_port = proxy.as_ref().map_or(broker_port, |p| p.port);
    let mut broker = start_tansu(&dir.0, broker_port, client_port);
    let brokers = format!("127.0.0.1:{client_port}");
    common::kafka::create_topic(&brokers, TOPIC, PARTITIONS).await;

    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, &format!("kafka_outage_{name}")).await;
    for t in 0..TABLES {
        root.query_drop(format!(
            "CREATE TABLE `{db}`.t{t} (id BIGINT PRIMARY KEY, ver INT UNSIGNED NOT NULL, \
             v VARCHAR(64) NOT NULL)"
        ))
        .await
        .expect("create table");
    }
    let start = common::binlog_end(&mut root).await;
    let config = write_config(&dir.0, &db, &start, server_id, &brokers);
    let mut sluice = StandaloneProcess::start(&config, dir.0.join("sluice.log"));
    let pid = sluice.child.id();
    let http = common::http::http_addr(&mut sluice);

    let state = Arc::new(Mutex::new(Consumed::default()));
    let stop_consumer = Arc::new(AtomicBool::new(false));
    let consumer = tokio::spawn(consume(
        brokers.clone(),
        state.clone(),
        stop_consumer.clone(),
    ));
    let samples = Samples::default();
    let sampler = sample_topic(brokers.clone(), samples.clone(), stop_consumer.clone());
    let committed = Arc::new(Committed::default());
    let stop_writer = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_workload(
        common::root_conn().await,
        db.clone(),
        Rng::from_clock(),
        stop_writer.clone(),
        committed.clone(),
    ));

    // Streaming first: a good part of the workload has arrived.
    wait_until(&mut sluice, CATCH_UP, "streaming", || {
        let seen = state.lock().unwrap().versions.len();
        let finished = writer.is_finished();
        async move {
            assert!(!finished, "the writer ended (it panicked?)");
            (seen < 1000).then(|| format!("{seen} row versions consumed"))
        }
    })
    .await;
    let before = committed.versions.load(Ordering::SeqCst);
    let delivered_before = state.lock().unwrap().versions.len();

    // The outage, with the workload going on.
    let log_before = sluice.log_text().len();
    let outage_started = Instant::now();
    let during;
    match outage {
        Outage::Paused => {
            let paused = Stopped::stop(&broker.pid().to_string());
            tokio::time::sleep(away).await;
            sluice.assert_running();
            during = Some(sink_status(&http));
            drop(paused);
        }
        Outage::PortClosed => {
            let proxy = proxy.as_ref().expect("a proxy");
            proxy.close().await;
            // Nothing listens now: a connection attempt is refused.
            assert!(
                std::net::TcpStream::connect(("127.0.0.1", proxy.port)).is_err(),
                "the closed port still accepts connections"
            );
            tokio::time::sleep(away).await;
            sluice.assert_running();
            during = Some(sink_status(&http));
            proxy.open().await;
        }
    }
    let away_for = outage_started.elapsed();
    let resumed = Instant::now();
    let at_resume = committed.versions.load(Ordering::SeqCst);
    let delivered_during = state.lock().unwrap().versions.len() - delivered_before;
    broker.assert_running();

    // The backlog drains while the workload goes on for a while.
    let mut backlog_drained = None;
    while resumed.elapsed() < Duration::from_secs(10) {
        if backlog_drained.is_none() && state.lock().unwrap().versions.len() as u64 >= at_resume {
            backlog_drained = Some(resumed.elapsed());
        }
        sluice.assert_running();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_writer.store(true, Ordering::SeqCst);
    let inserted = tokio::time::timeout(Duration::from_secs(60), writer)
        .await
        .expect("the writer stops")
        .expect("the writer did not panic");
    let workload_end = Instant::now();
    let rows = final_versions(&mut root, &db).await;
    let expected: usize = rows.values().map(|&last| last as usize + 1).sum();
    assert_eq!(expected as u64, committed.versions.load(Ordering::SeqCst));

    // Everything arrives, without restarting Sluice.
    loop {
        let seen = state.lock().unwrap().versions.len();
        if seen >= expected {
            break;
        }
        if backlog_drained.is_none() && seen as u64 >= at_resume {
            backlog_drained = Some(resumed.elapsed());
        }
        sluice.assert_running();
        assert!(!consumer.is_finished(), "the consumer ended (it panicked?)");
        assert!(
            workload_end.elapsed() < CATCH_UP,
            "only {seen} of {expected} row versions arrived within {CATCH_UP:?} of the \
             workload's end ({}); sluice's log:\n{}",
            progress(&samples),
            sluice.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let caught_up = workload_end.elapsed();
    let since_resume = resumed.elapsed();
    let peak_kib = proc_status_kib(pid, "VmHWM");
    let rss_kib = proc_status_kib(pid, "VmRSS");

    let after = sink_status(&http);
    let stop_started = Instant::now();
    let status = sluice.terminate(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "sluice exits 0 on SIGTERM, not {status:?}; its log:\n{}",
        sluice.log_text()
    );
    let stop_time = stop_started.elapsed();

    drain_then_stop(|| state.lock().unwrap().last, &stop_consumer, consumer).await;
    let consumed = std::mem::take(&mut *state.lock().unwrap());
    sampler.join().expect("the sampler did not panic");
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    let repeats = check_messages(&consumed.messages, &db, &rows);
    // When the broker first held every message (the last sample's count), after the outage.
    let total = samples.last().map_or(0, |s| s.1);
    let in_broker = samples
        .iter()
        .find(|(_, n)| *n >= total)
        .map(|(t, _)| t.saturating_duration_since(resumed));
    let before_outage = samples
        .iter()
        .filter(|(t, _)| *t <= outage_started)
        .map(|s| s.1)
        .max()
        .unwrap_or(0);

    // The status said what was going on, during the outage and after it.
    let during = during.expect("the status was read during the outage");
    assert_eq!(
        during["state"], "failing",
        "/status during the outage: {during}"
    );
    let error = during["last_error"]["message"].as_str().unwrap_or_default();
    assert!(
        error.contains("k-outage") && error.contains("still waiting"),
        "/status names the stalled sink: {during}"
    );
    assert_eq!(after["state"], "ok", "/status after the outage: {after}");
    let outage_seconds = after["last_outage"]["seconds"].as_f64().unwrap_or(0.0);
    assert!(
        outage_seconds >= away.as_secs_f64() * 0.5,
        "/status reports the outage that ended: {after}"
    );
    eprintln!("/status during the outage: {during}\n/status after: {after}");

    let log = sluice.log_text();
    let (problems, recovered) = outage_lines(log.get(log_before..).unwrap_or(&log));
    eprintln!(
        "--- sluice's warnings and errors from the outage on ({}):",
        problems.len()
    );
    for line in problems.iter().take(12).chain(&recovered) {
        eprintln!("  {line}");
    }
    let transactions = committed.transactions.load(Ordering::SeqCst);
    let secs =
        |d: Option<Duration>| d.map_or("never".into(), |d| format!("{:.1} s", d.as_secs_f64()));
    eprintln!(
        "kafka outage {outage:?}: broker away {:.1} s; workload {inserted} rows inserted, \
         {expected} row versions in {transactions} transactions ({before} committed before the \
         outage, {} during it); {before_outage} messages in the topic when the outage began, \
         {total} at the end; {delivered_during} versions consumed during the outage; after the \
         broker came back: the broker held every message after {}, the consumer had the backlog \
         after {} and every version after {:.1} s ({:.1} s after the workload ended); {} \
         messages consumed, {repeats} repeated versions, {} consumer errors; sluice peak RSS \
         {:.1} MiB (now {:.1} MiB); SIGTERM exit in {} ms; {} warn/error lines, {} recovered \
         lines; test {:.1} s",
        away_for.as_secs_f64(),
        at_resume - before,
        secs(in_broker),
        secs(backlog_drained),
        since_resume.as_secs_f64(),
        caught_up.as_secs_f64(),
        consumed.messages.len(),
        consumed.errors,
        peak_kib as f64 / 1024.0,
        rss_kib as f64 / 1024.0,
        stop_time.as_millis(),
        problems.len(),
        recovered.len(),
        t0.elapsed().as_secs_f64()
    );
    assert!(
        peak_kib < MAX_PEAK_KIB,
        "sluice's peak RSS {peak_kib} KiB is over {MAX_PEAK_KIB} KiB"
    );
    assert!(
        !problems.is_empty(),
        "sluice logged no warning or error while the broker was away for {away_for:?}; its \
         log:\n{log}"
    );
    assert!(
        !recovered.is_empty(),
        "sluice logged no recovery after the broker came back; its log:\n{log}"
    );
}

/// The Kafka sink's entry in `/status`.
fn sink_status(http: &str) -> Value {
    let status = common::http::status(http);
    status["tasks"][0]["sinks"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_paused_for_30_s_under_load_loses_nothing() {
    broker_outage_loses_nothing(Outage::Paused, 4_100_911, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_port_closed_for_10_s_under_load_loses_nothing() {
    broker_outage_loses_nothing(Outage::PortClosed, 4_100_912, Duration::from_secs(10)).await;
}
