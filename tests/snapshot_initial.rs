//! `snapshot.mode = "initial"`: a task's first start delivers the rows a table already holds
//! (op `r`) while a writer keeps inserting, updating and deleting rows in it, is killed with
//! SIGKILL half-way through the snapshot, resumes at its last checkpointed chunk, and at the end
//! Redis (sync sink) equals the table exactly. The writer's session commits all along: the
//! snapshot takes no global lock.
//!
//! The same scenario runs standalone with a `[manager]` table, where checkpoints go through the
//! in-process coordinator (mirrored to the file): the progress must survive the kill there too.
//!
//! The documented run snapshots 1,000,000 rows (100,000 under a manager); `SLUICE_SNAPSHOT_ROWS`
//! picks a smaller table for a quick run. Needs the services of `tests/services/start.sh`.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis_table::{json_diff, mixed_transaction, select_users, sync_json_setup, sync_key};
use common::rng::Rng;
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;

/// Replica server ids of these tests: unique on the shared server.
const SERVER_ID: u32 = 4_600_901;
const MANAGED_SERVER_ID: u32 = 4_700_901;
/// Rows of the documented runs.
const DEFAULT_ROWS: i64 = 1_000_000;
const MANAGED_DEFAULT_ROWS: i64 = 100_000;
/// How long the whole snapshot and catch-up may take.
const WITHIN: Duration = Duration::from_secs(900);

fn row_count(default: i64) -> i64 {
    std::env::var("SLUICE_SNAPSHOT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How the process runs the task.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Checkpoints in the task's file only.
    Standalone,
    /// With `[manager]`: checkpoints through the in-process coordinator, mirrored to the file.
    Managed,
}

/// The checkpoint's snapshot progress: `Some(last id)` while a snapshot is under way (0 before
/// its first chunk), `None` once done or when there is no checkpoint file.
fn snapshot_progress(checkpoint: &std::path::Path) -> Option<i64> {
    let text = std::fs::read_to_string(checkpoint).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let snapshot = json.get("snapshot")?;
    Some(
        snapshot
            .pointer("/after/0/int")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0),
    )
}

/// Every string key of the private Redis (one `MGET` per 5000 keys).
async fn redis_strings(redis: &mut redis::aio::MultiplexedConnection) -> BTreeMap<String, String> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(redis)
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for batch in keys.chunks(5000) {
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(batch)
            .query_async(redis)
            .await
            .unwrap();
        for (key, value) in batch.iter().zip(values) {
            if let Some(v) = value {
                out.insert(key.clone(), v);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_snapshot_resumes_at_its_last_chunk_and_redis_equals_the_table() {
    kill_half_way_then_resume(
        "snapshot_initial",
        SERVER_ID,
        row_count(DEFAULT_ROWS),
        Mode::Standalone,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_snapshot_under_a_manager_resumes_at_its_last_chunk() {
    kill_half_way_then_resume(
        "snapshot_managed",
        MANAGED_SERVER_ID,
        row_count(MANAGED_DEFAULT_ROWS),
        Mode::Managed,
    )
    .await;
}

/// Task `name` snapshots `rows` rows while a writer changes them, is killed a third of the way
/// through, resumes, and Redis ends equal to the table.
async fn kill_half_way_then_resume(name: &str, server_id: u32, rows: i64, mode: Mode) {
    let t0 = Instant::now();
    let dir = TempDir::new(name);
    let setup = sync_json_setup(&dir.0, name, server_id).await;
    let (mut redis, mut root, db) = (setup.redis, setup.root, setup.db);
    let signal_db = common::fresh_database(&mut root, &format!("{name}_signal")).await;
    let mut config = std::fs::read_to_string(&setup.config).unwrap();
    // Smaller chunks for the smaller table, so the kill still lands mid-snapshot.
    let chunk_rows = if mode == Mode::Managed { 2000 } else { 8192 };
    config.push_str(&format!(
        "\n[tasks.snapshot]\nmode = \"initial\"\nchunk_rows = {chunk_rows}\n\
         signal_table = \"{signal_db}.watermarks\"\n"
    ));
    if mode == Mode::Managed {
        config.push_str("\n[manager]\nlisten = \"127.0.0.1:0\"\n");
    }
    std::fs::write(&setup.config, config).unwrap();

    // The table's rows, loaded fast with MariaDB's Sequence engine.
    let load = Instant::now();
    root.query_drop(format!(
        "INSERT INTO `{db}`.users SELECT seq, CONCAT('name-', seq), seq % 1000, \
         CAST(seq % 100000 AS DECIMAL(12,2)) / 100, IF(seq % 3 = 0, NULL, DATE '2000-01-01' + \
         INTERVAL (seq % 9000) DAY), TIMESTAMP '2024-01-01 00:00:00.125' + INTERVAL seq SECOND, \
         IF(seq % 5 = 0, NULL, REPEAT('n', seq % 40)), IF(seq % 7 = 0, NULL, UNHEX(HEX(seq))) \
         FROM `{db}`.seq_1_to_{rows}"
    ))
    .await
    .expect("loading the table (needs the Sequence engine)");
    eprintln!(
        "loaded {rows} rows in {:.1} s",
        load.elapsed().as_secs_f64()
    );

    // The writer changes rows the snapshot reads (and new ones) until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, commits, db) = (stop.clone(), commits.clone(), db.clone());
        let mut conn = common::root_conn().await;
        let mut rng = Rng(Rng::from_clock().next() | 1);
        tokio::spawn(async move {
            let (mut ids, mut next): (Vec<i64>, i64) = ((1..=rows).collect(), rows + 1);
            while !stop.load(Ordering::SeqCst) {
                mixed_transaction(&mut conn, &db, &mut rng, &mut ids, &mut next).await;
                commits.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2 + rng.below(8))).await;
            }
        })
    };

    let checkpoint = dir.0.join(format!("data/{name}/checkpoint.json"));
    let log = |n: usize| dir.0.join(format!("run-{n}.log"));
    let started = Instant::now();
    let mut sluice = StandaloneProcess::start(&setup.config, log(0));
    // Killed once a checkpoint says a third of the table is delivered.
    let killed_at = loop {
        sluice.assert_running();
        assert!(!writer.is_finished(), "the writer ended (it panicked?)");
        assert!(
            started.elapsed() < WITHIN,
            "the snapshot does not get a third through; its log:\n{}",
            sluice.log_text()
        );
        match snapshot_progress(&checkpoint) {
            Some(id) if id >= rows / 3 => break id,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let commits_at_kill = commits.load(Ordering::SeqCst);
    sluice.child.kill().expect("SIGKILL");
    let _ = sluice.child.wait();
    assert!(killed_at < rows, "killed before the snapshot ended");
    let first_run = started.elapsed();

    let mut sluice = StandaloneProcess::start(&setup.config, log(1));
    // The restart continues from the checkpoint's chunk: its progress never goes back.
    let mut last = killed_at;
    while let Some(id) = snapshot_progress(&checkpoint) {
        sluice.assert_running();
        assert!(!writer.is_finished(), "the writer ended (it panicked?)");
        assert!(id >= last, "the snapshot went back from id {last} to {id}");
        last = id;
        assert!(
            started.elapsed() < WITHIN,
            "the snapshot does not finish; its log:\n{}",
            sluice.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let snapshot_time = started.elapsed();
    let commits_during = commits.load(Ordering::SeqCst);
    // No global lock: the writer kept committing while the table was read.
    assert!(
        commits_at_kill > 0 && commits_during > commits_at_kill,
        "the writer committed {commits_at_kill} transactions before the kill and \
         {commits_during} by the snapshot's end"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("the writer did not panic");
    let users = select_users(&mut root, &db).await;

    let caught_up = Instant::now();
    let mut diff = Some(String::new());
    while caught_up.elapsed() < Duration::from_secs(180) {
        sluice.assert_running();
        diff = json_diff(&redis_strings(&mut redis).await, &users, sync_key);
        if diff.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        diff,
        None,
        "Redis differs from the table; log:\n{}",
        sluice.log_text()
    );
    let second = std::fs::read_to_string(log(1)).unwrap_or_default();
    assert!(
        second.contains("Resuming from the checkpoint."),
        "the restart resumes from the checkpoint; its log:\n{second}"
    );
    let status = sluice.terminate(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "sluice exits 0 on SIGTERM"
    );
    eprintln!(
        "{name}: {rows} rows; killed after {:.1} s at id {killed_at}; snapshot done \
         after {:.1} s ({:.0} rows/s overall incl. restart); writer committed {commits_at_kill} \
         transactions before the kill and {commits_during} by the end of the snapshot; {} rows \
         at the end; test {:.1} s",
        first_run.as_secs_f64(),
        snapshot_time.as_secs_f64(),
        rows as f64 / snapshot_time.as_secs_f64(),
        users.len(),
        t0.elapsed().as_secs_f64()
    );
}
