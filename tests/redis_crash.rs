//! `sluice standalone` with a Redis sync sink (JSON strings), killed with SIGKILL three times in
//! the middle of a mixed workload (inserts, updates, primary-key changes, deletes) and
//! restarted from its checkpoint each time: at the end Redis equals the table exactly (the
//! replayed commands are idempotent, and a replay in binlog order converges).
//!
//! The Redis server is the test's own (a free port): the shared one is not touched.

mod common;

use common::redis_table::{await_redis_equals_table, select_users, sync_json_setup, MixedWriter};
use common::rng::Rng;
use common::standalone::{StandaloneProcess, TempDir};

use std::time::{Duration, Instant};

/// Replica server id of this test: unique on the shared server.
const SERVER_ID: u32 = 4_100_721;
/// How long Sluice may take to bring Redis level with the table once the workload ended.
const CATCH_UP: Duration = Duration::from_secs(120);

/// How many `SET` commands Redis has run (the sink's writes; the test itself only reads).
async fn sets(redis: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(redis)
        .await
        .expect("INFO commandstats");
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_set:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_9_three_times_under_load_then_redis_equals_the_table() {
    let t0 = Instant::now();
    let dir = TempDir::new("redis-crash");
    let setup = sync_json_setup(&dir.0, "redis_crash", SERVER_ID).await;
    let (mut redis, mut root, config) = (setup.redis, setup.root, setup.config);
    let log = |n: usize| dir.0.join(format!("run-{n}.log"));
    let mut sluice = StandaloneProcess::start(&config, log(0));
    let mut rng = Rng::from_clock();
    let writer = MixedWriter::start(&setup.db, Rng(rng.next() | 1)).await;

    // Each run is killed once it has written to Redis and has been up for a random 1-4 s.
    let mut kills = Vec::new();
    for n in 0..3 {
        let started = Instant::now();
        let sets_at_start = sets(&mut redis).await;
        let uptime = Duration::from_millis(rng.range(1000, 4000));
        while started.elapsed() < uptime || sets(&mut redis).await < sets_at_start + 50 {
            sluice.assert_running();
            assert!(
                !writer.task.is_finished(),
                "the writer ended (it panicked?)"
            );
            assert!(
                started.elapsed() < CATCH_UP,
                "run {n} writes nothing to Redis; its log:\n{}",
                sluice.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sluice.assert_running();
        sluice.child.kill().expect("SIGKILL");
        let status = sluice.child.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        kills.push((
            started.elapsed(),
            sets(&mut redis).await - sets_at_start,
            writer.committed(),
        ));
        sluice = StandaloneProcess::start(&config, log(n + 1));
    }
    // The last run takes the workload for a while too, then catches up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (ids_used, transactions) = writer.finish().await;
    let users = select_users(&mut root, &setup.db).await;
    let caught_up =
        await_redis_equals_table(&mut sluice, &redis, &users, CATCH_UP, "after the restarts").await;
    let status = sluice.terminate(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "sluice exits 0 on SIGTERM, not {status:?}; its log:\n{}",
        sluice.log_text()
    );
    for (n, text) in (1..=3).map(|n| (n, std::fs::read_to_string(log(n)).unwrap_or_default())) {
        assert!(
            text.contains("Resuming from the checkpoint."),
            "run {n} resumes from the checkpoint; its log:\n{text}"
        );
    }
    for (i, (uptime, sets, committed)) in kills.iter().enumerate() {
        eprintln!(
            "kill {}: run {i} up {} ms, {sets} SETs, {committed} transactions committed",
            i + 1,
            uptime.as_millis()
        );
    }
    eprintln!(
        "redis crash: {} transactions, {ids_used} ids used, {} rows at the end; Redis equal to \
         the table {:.1} s after the workload ended; {} SETs in all; test {:.1} s",
        transactions,
        users.len(),
        caught_up.as_secs_f64(),
        sets(&mut redis).await,
        t0.elapsed().as_secs_f64()
    );
}
