//! `sluice standalone` with a Redis sync sink (JSON strings) while Redis is paused (SIGSTOP)
//! for 30 s in the middle of a mixed workload (inserts, updates, primary-key changes, deletes),
//! then continued: Sluice, never restarted, resumes by itself, Redis ends up equal to the table,
//! the log tells of the stall, and Sluice's peak memory stayed bounded.
//!
//! The Redis server is the test's own (a free port), so the shared one and the tests that use it
//! are never stalled.

mod common;

use common::private_services::{proc_status_kib, Stopped};
use common::redis_table::{await_redis_equals_table, select_users, sync_json_setup, MixedWriter};
use common::rng::Rng;
use common::standalone::{wait_until, StandaloneProcess, TempDir};

use std::time::{Duration, Instant};

/// Replica server id of this test: unique on the shared server.
const SERVER_ID: u32 = 4_100_711;
/// How long Redis is paused.
const PAUSE: Duration = Duration::from_secs(30);
/// How long Sluice may take to bring Redis level with the table once the workload ended.
const CATCH_UP: Duration = Duration::from_secs(120);
/// The bound on Sluice's peak resident memory.
const MAX_PEAK_KIB: u64 = 300 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_paused_for_30_s_under_load_then_redis_equals_the_table() {
    let t0 = Instant::now();
    let dir = TempDir::new("redis-outage");
    let setup = sync_json_setup(&dir.0, "redis_outage", SERVER_ID).await;
    let (mut redis_server, redis, mut root) = (setup.redis_server, setup.redis, setup.root);
    let mut sluice = StandaloneProcess::start(&setup.config, dir.0.join("sluice.log"));
    let pid = sluice.child.id();
    let http = common::http::http_addr(&mut sluice);
    let writer = MixedWriter::start(&setup.db, Rng::from_clock()).await;

    // Streaming first: some hundreds of keys in Redis.
    wait_until(&mut sluice, CATCH_UP, "streaming", || {
        let mut redis = redis.clone();
        async move {
            let keys: u64 = redis::cmd("DBSIZE")
                .query_async(&mut redis)
                .await
                .expect("DBSIZE");
            (keys < 300).then(|| format!("{keys} keys in Redis"))
        }
    })
    .await;
    let before = writer.committed();

    let log_before = sluice.log_text().len();
    let during_status;
    let paused_for = {
        let paused = Stopped::stop(&redis_server.pid().to_string());
        let t = Instant::now();
        tokio::time::sleep(PAUSE).await;
        sluice.assert_running();
        during_status = common::http::status(&http)["tasks"][0]["sinks"][0].clone();
        drop(paused);
        t.elapsed()
    };
    let resumed = Instant::now();
    let during = writer.committed() - before;
    redis_server.assert_running();

    // The workload goes on for a while after Redis is back.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (ids_used, transactions) = writer.finish().await;
    let users = select_users(&mut root, &setup.db).await;
    let caught_up = await_redis_equals_table(
        &mut sluice,
        &redis,
        &users,
        CATCH_UP,
        "after Redis came back",
    )
    .await;
    let since_resume = resumed.elapsed();
    // The status said what was going on, during the pause and after it.
    assert_eq!(
        during_status["state"], "failing",
        "/status during the pause: {during_status}"
    );
    let error = during_status["last_error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("Redis"),
        "/status names Redis: {during_status}"
    );
    let after_status = common::http::status(&http)["tasks"][0]["sinks"][0].clone();
    assert_eq!(after_status["state"], "ok", "/status after: {after_status}");
    assert!(
        after_status["last_outage"]["seconds"]
            .as_f64()
            .unwrap_or(0.0)
            >= PAUSE.as_secs_f64() * 0.5,
        "/status reports the outage that ended: {after_status}"
    );
    eprintln!("/status during the pause: {during_status}\n/status after: {after_status}");
    let peak_kib = proc_status_kib(pid, "VmHWM");
    let rss_kib = proc_status_kib(pid, "VmRSS");

    let status = sluice.terminate(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "sluice exits 0 on SIGTERM, not {status:?}; its log:\n{}",
        sluice.log_text()
    );

    let log = sluice.log_text();
    let log = log.get(log_before..).unwrap_or(&log);
    let retries: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Sink write failed; retrying."))
        .collect();
    let recovered: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("recovered after"))
        .collect();
    eprintln!("--- sluice's log from the pause on, about Redis:");
    for line in log
        .lines()
        .filter(|l| l.contains("Redis") || l.contains("recovered"))
        .take(20)
    {
        eprintln!("  {line}");
    }
    eprintln!(
        "redis outage: paused {:.1} s; workload {} transactions ({before} before the pause, \
         {during} during it), {ids_used} ids used, {} rows at the end; Redis equal to the table \
         {:.1} s after the workload ended ({:.1} s after SIGCONT); {} retry warnings, {} \
         recovered lines; sluice peak RSS {:.1} MiB (now {:.1} MiB); test {:.1} s",
        paused_for.as_secs_f64(),
        transactions,
        users.len(),
        caught_up.as_secs_f64(),
        since_resume.as_secs_f64(),
        retries.len(),
        recovered.len(),
        peak_kib as f64 / 1024.0,
        rss_kib as f64 / 1024.0,
        t0.elapsed().as_secs_f64()
    );
    assert!(
        !retries.is_empty(),
        "a paused Redis shows as retry warnings; sluice's log:\n{log}"
    );
    assert!(
        retries.iter().all(|l| l.contains("Redis at redis://")),
        "each retry names the sink's Redis: {retries:#?}"
    );
    assert!(
        !recovered.is_empty(),
        "sluice logged no recovery after Redis came back; its log:\n{log}"
    );
    assert!(
        peak_kib < MAX_PEAK_KIB,
        "sluice's peak RSS {peak_kib} KiB is over {MAX_PEAK_KIB} KiB"
    );
}
