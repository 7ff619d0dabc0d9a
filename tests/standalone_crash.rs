//! `sluice standalone` killed with SIGKILL in the middle of a write workload, and stopped
//! cleanly with SIGTERM: after restarts the file sink holds every committed row, a repeated
//! row is only ever an exact replay, the output stays valid JSON lines, and a clean stop
//! leaves a checkpoint that the next run resumes from without any replay.

mod common;

use common::rng::Rng;

use common::standalone::TempDir;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use serde_json::Value;

/// Rows the crash workload commits.
const CRASH_ROWS: u64 = 20_000;
/// Replica server ids of these tests: unique on the shared server (a second replica with the
/// same id would make the server drop the first one's stream).
const CRASH_SERVER_ID: u32 = 4_100_101;
const SIGTERM_SERVER_ID: u32 = 4_100_102;

/// The files of one standalone setup.
struct Setup {
    config: PathBuf,
    output: PathBuf,
    checkpoint: PathBuf,
    logs: PathBuf,
}

/// Writes a config with one task (`task`) reading from `start` into one file sink.
fn write_config(dir: &Path, task: &str, start: &str, server_id: u32) -> Setup {
    let data_dir = dir.join("data");
    let output = dir.join("out").join("events.jsonl");
    for p in [&data_dir, &output] {
        let s = p.to_str().unwrap();
        assert!(
            !s.contains(['"', '\\']),
            "path {s} cannot go in a TOML string"
        );
    }
    let text = format!(
        "data_dir = \"{data}\"\n\
         \n\
         [[tasks]]\n\
         name = \"{task}\"\n\
         \n\
         [tasks.source]\n\
         url = \"{url}\"\n\
         server_id = {server_id}\n\
         start = \"{start}\"\n\
         \n\
         [[tasks.sinks]]\n\
         type = \"file\"\n\
         path = \"{out}\"\n",
        data = data_dir.display(),
        url = common::mysql_url(),
        out = output.display(),
    );
    let config = dir.join("sluice.toml");
    std::fs::write(&config, text).unwrap();
    Setup {
        config,
        output,
        checkpoint: data_dir.join(task).join("checkpoint.json"),
        logs: dir.to_path_buf(),
    }
}

/// A running `sluice standalone`, killed (SIGKILL) if the test ends while it still runs.
struct Sluice {
    child: Child,
    started: Instant,
    log: PathBuf,
}

impl Sluice {
    /// Starts `sluice standalone --config`, its log (stderr) going to `run-<n>.log`.
    fn start(setup: &Setup, run: usize) -> Sluice {
        let log = setup.logs.join(format!("run-{run}.log"));
        let child = Command::new(common::sluice_bin())
            .args(["standalone", "--config"])
            .arg(&setup.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("sluice starts");
        Sluice {
            child,
            started: Instant::now(),
            log,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics (with the log) if the process has already ended.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "sluice ended by itself ({status}); its log:\n{}",
                self.log_text()
            );
        }
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reaps it.
    fn kill_9(&mut self) -> ExitStatus {
        self.assert_running();
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }

    /// SIGTERM, then waits (bounded) for the exit; panics if it does not end in time.
    fn terminate(&mut self, within: Duration) -> ExitStatus {
        self.assert_running();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "sluice did not exit within {within:?} of SIGTERM; its log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The sink's file as written so far: its complete lines, parsed (each must be JSON), and the
/// number of bytes after the last newline (a line being written, or cut by a crash).
fn read_output(path: &Path) -> (Vec<Value>, usize) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (vec![], 0),
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let events = bytes[..complete]
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            serde_json::from_slice(l).unwrap_or_else(|e| {
                panic!(
                    "line {} of {} is not JSON ({e}): {}",
                    i + 1,
                    path.display(),
                    String::from_utf8_lossy(l)
                )
            })
        })
        .collect();
    (events, bytes.len() - complete)
}

/// The `id` of every row event of `db`.
fn ids_in(events: &[Value], db: &str) -> HashSet<u64> {
    common::rows_of(events, db)
        .into_iter()
        .map(|e| e["after"]["id"].as_u64().expect("a row event has after.id"))
        .collect()
}

/// Polls the output until `done` holds for its events; panics after `limit`.
async fn wait_for_output(
    setup: &Setup,
    sluice: &mut Sluice,
    limit: Duration,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Duration {
    let t0 = Instant::now();
    loop {
        let (events, _) = read_output(&setup.output);
        if done(&events) {
            return t0.elapsed();
        }
        sluice.assert_running();
        assert!(
            t0.elapsed() < limit,
            "the output did not get {what} within {limit:?} ({} events so far); sluice's log:\n{}",
            events.len(),
            sluice.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `FILE:POS` as a comparable pair (binlog file names sort in order: fixed-width numbers).
fn position(text: &str) -> (String, u64) {
    let (file, pos) = text
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{text:?} is not FILE:POS"));
    (file.to_string(), pos.parse().unwrap())
}

/// The server's binlog end as `FILE:POS`. (`common::binlog_end` cannot be used: it converts
/// the 4-column row of `SHOW MASTER STATUS` into a 2-tuple, which panics.)
async fn binlog_end(conn: &mut mysql_async::Conn) -> String {
    let mut row: mysql_async::Row = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .unwrap()
        .expect("binary logging is on");
    let file: String = row.take(0).expect("SHOW MASTER STATUS has File");
    let pos: u64 = row.take(1).expect("SHOW MASTER STATUS has Position");
    format!("{file}:{pos}")
}

/// Panics unless `file` is one of the server's binlog files (`SHOW BINARY LOGS`).
async fn assert_binlog_file_exists(conn: &mut mysql_async::Conn, file: &str, what: &str) {
    let logs: Vec<mysql_async::Row> = conn.query("SHOW BINARY LOGS").await.unwrap();
    let names: Vec<String> = logs
        .into_iter()
        .filter_map(|mut r| r.take::<String, _>(0))
        .collect();
    assert!(
        names.iter().any(|n| n == file),
        "{what} names binlog file {file:?} ({:02x?}), which is not one of the server's {names:?}",
        file.as_bytes()
    );
}

/// The saved checkpoint's position.
fn checkpoint_position(path: &Path) -> (String, u64) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("checkpoint {} is missing: {e}", path.display()));
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("checkpoint {} is not JSON ({e}): {text}", path.display()));
    let file = json["position"]["file"].as_str();
    let pos = json["position"]["pos"].as_u64();
    match (file, pos) {
        (Some(f), Some(p)) if !f.is_empty() => (f.to_string(), p),
        _ => panic!("checkpoint {} has no position: {text}", path.display()),
    }
}

/// `INSERT` of ids `first..first+n` into `db`.`t`.
fn insert_sql(db: &str, first: u64, n: u64) -> String {
    let values: Vec<String> = (first..first + n)
        .map(|id| format!("({id}, 'v{id}-{}')", "x".repeat((id % 40) as usize)))
        .collect();
    format!("INSERT INTO `{db}`.t (id, v) VALUES {}", values.join(", "))
}

/// Commits ids `1..=total` in transactions of 1-100 rows (1-3 statements each), pausing a few
/// milliseconds between them; `committed` is the highest id committed so far.
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
        tokio::time::sleep(Duration::from_millis(rng.range(5, 40))).await;
    }
    transactions
}

/// What happened at one SIGKILL.
struct Kill {
    committed: u64,
    uptime: Duration,
    /// Complete lines in the output when the process died: the next run writes after them.
    lines: usize,
    /// Bytes of a partial last line left by the kill (cut by the next run).
    partial: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_9_under_load_then_restart_loses_no_committed_row() {
    let t0 = Instant::now();
    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, "crash").await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.t (id BIGINT PRIMARY KEY, v VARCHAR(64))"
    ))
    .await
    .unwrap();
    let start = binlog_end(&mut root).await;
    let dir = TempDir::new("crash");
    let setup = write_config(&dir.0, "crash", &start, CRASH_SERVER_ID);
    let mut rng = Rng::from_clock();

    let mut sluice = Sluice::start(&setup, 0);
    let committed = Arc::new(AtomicU64::new(0));
    let writer_done = Arc::new(AtomicBool::new(false));
    let writer = {
        let conn = common::root_conn().await;
        let (db, committed, done) = (db.clone(), committed.clone(), writer_done.clone());
        let rng = Rng(rng.next() | 1);
        tokio::spawn(async move {
            let transactions = write_workload(conn, db, CRASH_ROWS, committed, rng).await;
            done.store(true, Ordering::SeqCst);
            transactions
        })
    };

    // Four kills, each once the workload has passed a random point of its own band: far
    // enough apart that each run gets going, and all while rows are still being written.
    let bands = [(8, 20), (30, 45), (55, 70), (78, 92)];
    let mut kills = Vec::new();
    for (run, (lo, hi)) in bands.into_iter().enumerate() {
        let at = CRASH_ROWS * rng.range(lo, hi) / 100;
        let waited = Instant::now();
        while committed.load(Ordering::SeqCst) < at {
            assert!(
                !writer_done.load(Ordering::SeqCst),
                "the workload ended before kill {}",
                run + 1
            );
            assert!(
                waited.elapsed() < Duration::from_secs(120),
                "the workload is stuck"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let uptime = sluice.started.elapsed();
        let status = sluice.kill_9();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        let committed_now = committed.load(Ordering::SeqCst);
        let (events, partial) = read_output(&setup.output);
        if setup.checkpoint.exists() {
            let (file, _) = checkpoint_position(&setup.checkpoint);
            let what = format!("the checkpoint after kill {}", run + 1);
            assert_binlog_file_exists(&mut root, &file, &what).await;
        }
        kills.push(Kill {
            committed: committed_now,
            uptime,
            lines: events.len(),
            partial,
        });
        sluice = Sluice::start(&setup, run + 1);
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
    let end = binlog_end(&mut root).await;
    let end_position = position(&end);

    let expected: HashSet<u64> = (1..=CRASH_ROWS).collect();
    let catch_up = wait_for_output(
        &setup,
        &mut sluice,
        Duration::from_secs(90),
        "every committed id",
        |events| has_rows_and_end(events, &db, &expected, &end_position),
    )
    .await;
    let stop_started = Instant::now();
    let status = sluice.terminate(Duration::from_secs(30));
    let stop_time = stop_started.elapsed();
    assert!(
        status.success(),
        "sluice exits 0 on SIGTERM, not {status}; its log:\n{}",
        sluice.log_text()
    );

    // The whole file: JSON lines, the last one complete.
    let bytes = std::fs::read(&setup.output).unwrap();
    assert_eq!(
        bytes.last(),
        Some(&b'\n'),
        "the output ends in a partial line"
    );
    let (events, partial) = read_output(&setup.output);
    assert_eq!(partial, 0);

    // Each line belongs to the run that wrote it: run k wrote the lines after the k-th kill's.
    let mut duplicates = vec![0usize; kills.len() + 1];
    let mut first_seen: HashMap<u64, (usize, Value)> = HashMap::new();
    let mut rows = 0;
    for (line, event) in events.iter().enumerate() {
        if event["db"] != db.as_str() || !matches!(event["op"].as_str(), Some("c" | "u" | "d")) {
            continue;
        }
        rows += 1;
        let run = kills.iter().filter(|k| line >= k.lines).count();
        assert_eq!(event["op"], "c", "line {}: {event}", line + 1);
        let id = event["after"]["id"].as_u64().expect("after.id");
        let key = serde_json::json!([
            event["op"],
            event["after"],
            event["source"]["file"],
            event["source"]["pos"],
            event["source"]["row"],
        ]);
        match first_seen.get(&id) {
            None => {
                first_seen.insert(id, (line, key));
            }
            Some((first_line, first_key)) => {
                assert_eq!(
                    &key,
                    first_key,
                    "id {id} at line {} differs from its first event at line {}: not a replay",
                    line + 1,
                    first_line + 1
                );
                duplicates[run] += 1;
            }
        }
    }
    let seen: HashSet<u64> = first_seen.keys().copied().collect();
    let mut missing: Vec<u64> = expected.difference(&seen).copied().collect();
    missing.sort_unstable();
    assert!(
        missing.is_empty(),
        "{} committed ids are missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    assert_eq!(
        seen.len() as u64,
        CRASH_ROWS,
        "ids outside 1..={CRASH_ROWS}"
    );
    assert_eq!(
        duplicates[0], 0,
        "the first run (before any kill) repeated rows by itself"
    );

    let checkpoint = checkpoint_position(&setup.checkpoint);
    assert_binlog_file_exists(&mut root, &checkpoint.0, "the final checkpoint").await;
    assert!(
        checkpoint >= end_position,
        "the checkpoint {checkpoint:?} is behind the binlog end after the workload {end}"
    );

    println!(
        "workload: {CRASH_ROWS} rows in {transactions} transactions, {:.1} s; start {start}, \
         end {end}; checkpoint {}:{}",
        workload_time.as_secs_f64(),
        checkpoint.0,
        checkpoint.1
    );
    for (i, k) in kills.iter().enumerate() {
        println!(
            "kill {}: run {} up {} ms, {} rows committed, {} complete lines in the file, {} \
             bytes of a partial line; restart {} replayed {} row events",
            i + 1,
            i,
            k.uptime.as_millis(),
            k.committed,
            k.lines,
            k.partial,
            i + 1,
            duplicates[i + 1]
        );
    }
    println!(
        "output: {} lines, {rows} row events of {db} ({} duplicates); caught up {:.1} s after \
         the workload; SIGTERM exit in {} ms; test {:.1} s",
        events.len(),
        duplicates.iter().sum::<usize>(),
        catch_up.as_secs_f64(),
        stop_time.as_millis(),
        t0.elapsed().as_secs_f64()
    );
}

/// Commits ids `first..first+n` in transactions of 10 rows.
async fn insert_rows(conn: &mut mysql_async::Conn, db: &str, first: u64, n: u64) {
    let mut id = first;
    while id < first + n {
        let rows = 10.min(first + n - id);
        conn.query_drop(insert_sql(db, id, rows)).await.unwrap();
        id += rows;
    }
}

/// Whether the output has every id of `ids` for `db` and a transaction end at or past `end`.
fn has_rows_and_end(events: &[Value], db: &str, ids: &HashSet<u64>, end: &(String, u64)) -> bool {
    ids_in(events, db).is_superset(ids)
        && events.iter().any(|e| {
            matches!(e["op"].as_str(), Some("commit" | "ddl"))
                && e["next"].as_str().is_some_and(|n| position(n) >= *end)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_and_checkpoints_then_restart_resumes_after_it() {
    let t0 = Instant::now();
    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, "sigterm").await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.t (id BIGINT PRIMARY KEY, v VARCHAR(64))"
    ))
    .await
    .unwrap();
    let start = binlog_end(&mut root).await;
    let dir = TempDir::new("sigterm");
    let setup = write_config(&dir.0, "sigterm", &start, SIGTERM_SERVER_ID);

    // First run: 100 rows, then a clean stop.
    let mut sluice = Sluice::start(&setup, 0);
    insert_rows(&mut root, &db, 1, 100).await;
    let end1 = position(&binlog_end(&mut root).await);
    let first_ids: HashSet<u64> = (1..=100).collect();
    wait_for_output(
        &setup,
        &mut sluice,
        Duration::from_secs(30),
        "ids 1..=100",
        |events| has_rows_and_end(events, &db, &first_ids, &end1),
    )
    .await;
    let stop1 = Instant::now();
    let status = sluice.terminate(Duration::from_secs(30));
    let stop1 = stop1.elapsed();
    assert!(
        status.success(),
        "sluice exits 0 on SIGTERM, not {status}; its log:\n{}",
        sluice.log_text()
    );
    let checkpoint1 = checkpoint_position(&setup.checkpoint);
    assert_binlog_file_exists(&mut root, &checkpoint1.0, "the checkpoint after SIGTERM").await;
    assert!(
        checkpoint1 >= end1,
        "after SIGTERM the checkpoint {checkpoint1:?} is behind the binlog end {end1:?}"
    );
    let lines_after_first_run = read_output(&setup.output).0.len();

    // Second run: 100 more rows written while it is down, picked up from the checkpoint.
    insert_rows(&mut root, &db, 101, 100).await;
    let end2 = position(&binlog_end(&mut root).await);
    let mut sluice = Sluice::start(&setup, 1);
    let all_ids: HashSet<u64> = (1..=200).collect();
    wait_for_output(
        &setup,
        &mut sluice,
        Duration::from_secs(30),
        "ids 1..=200",
        |events| has_rows_and_end(events, &db, &all_ids, &end2),
    )
    .await;
    let status = sluice.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "sluice exits 0 on SIGTERM, not {status}; its log:\n{}",
        sluice.log_text()
    );
    let checkpoint2 = checkpoint_position(&setup.checkpoint);
    assert_binlog_file_exists(&mut root, &checkpoint2.0, "the second checkpoint").await;
    assert!(checkpoint2 >= end2, "{checkpoint2:?} < {end2:?}");

    let bytes = std::fs::read(&setup.output).unwrap();
    assert_eq!(
        bytes.last(),
        Some(&b'\n'),
        "the output ends in a partial line"
    );
    let (events, _) = read_output(&setup.output);
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for e in common::rows_of(&events, &db) {
        *counts
            .entry(e["after"]["id"].as_u64().expect("after.id"))
            .or_default() += 1;
    }
    let mut repeated: Vec<(u64, usize)> = counts
        .iter()
        .filter(|(_, &n)| n != 1)
        .map(|(&id, &n)| (id, n))
        .collect();
    repeated.sort_unstable();
    assert!(
        repeated.is_empty(),
        "after a clean stop nothing is replayed, yet (id, times): {repeated:?}"
    );
    let ids: HashSet<u64> = counts.keys().copied().collect();
    assert_eq!(ids, all_ids);
    let second_run_rows = common::rows_of(&events[lines_after_first_run..], &db).len();
    assert_eq!(
        second_run_rows, 100,
        "the second run wrote ids 101..=200 only"
    );
    println!(
        "first stop: SIGTERM exit in {} ms, checkpoint {checkpoint1:?} (binlog end {end1:?}); \
         second checkpoint {checkpoint2:?}; test {:.1} s",
        stop1.as_millis(),
        t0.elapsed().as_secs_f64()
    );
}
