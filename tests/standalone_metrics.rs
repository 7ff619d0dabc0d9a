//! `sluice standalone` with `[http] listen` against the test MariaDB: `/metrics` counts what
//! the file sink wrote, `/health` says `ok` and `/status` shows the task running with its sink
//! ok and a checkpoint; and with a Redis sink pointed at a closed port, `/status` shows the sink
//! failing with an error naming Redis while `/health` still answers.
//!
//! No timing is asserted: every check polls with a generous deadline.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::http::{get, http_addr, status};
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::Value;

/// Replica server ids of these tests: unique on the shared server.
const FILE_SERVER_ID: u32 = 4_100_701;
const REDIS_SERVER_ID: u32 = 4_100_702;
/// How long the pipeline may take to show a change.
const WAIT: Duration = Duration::from_secs(60);
/// Transactions and rows per transaction the file-sink scenario commits.
const TRANSACTIONS: usize = 5;
const ROWS_PER_TRANSACTION: usize = 10;

/// A config with `[http] listen = "127.0.0.1:0"` and one task `task` reading `db` only.
fn write_config(
    dir: &Path,
    task: &str,
    db: &str,
    start: &str,
    server_id: u32,
    sink: &str,
) -> PathBuf {
    let data_dir = dir.join("data");
    let text = format!(
        "data_dir = \"{data}\"\n\
         \n\
         [http]\n\
         listen = \"127.0.0.1:0\"\n\
         \n\
         [[tasks]]\n\
         name = \"{task}\"\n\
         checkpoint_interval_ms = 100\n\
         \n\
         [tasks.source]\n\
         url = \"{url}\"\n\
         server_id = {server_id}\n\
         start = \"{start}\"\n\
         \n\
         [tasks.filters]\n\
         include = [\"{db}\\\\..*\"]\n\
         \n\
         {sink}",
        data = data_dir.display(),
        url = common::mysql_url(),
    );
    let config = dir.join("sluice.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// The value of the series `series` (name and labels, as printed) in `/metrics`.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|v| v.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Polls `check` until it returns `Some`, or fails with what it last saw.
fn eventually<T>(
    what: &str,
    sluice: &mut StandaloneProcess,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) => {
                sluice.assert_running();
                assert!(
                    Instant::now() < deadline,
                    "{what}: not within {WAIT:?}; last seen: {last}\nlog:\n{}",
                    sluice.log_text()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The sink file's complete lines, parsed.
fn output_events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    text[..complete]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_what_the_file_sink_wrote_and_status_shows_the_task_running() {
    let mut conn = common::root_conn().await;
    let db = common::fresh_database(&mut conn, "metrics_file").await;
    conn.query_drop(format!(
        "CREATE TABLE `{db}`.items (id INT PRIMARY KEY, name VARCHAR(20))"
    ))
    .await
    .unwrap();
    let start = common::binlog_end(&mut conn).await;
    let dir = TempDir::new("metrics-file");
    let output = dir.0.join("events.jsonl");
    let sink = format!(
        "[[tasks.sinks]]\nname = \"out\"\ntype = \"file\"\npath = \"{}\"\n",
        output.display()
    );
    let config = write_config(&dir.0, "metrics-file", &db, &start, FILE_SERVER_ID, &sink);
    let mut sluice = StandaloneProcess::start(&config, dir.0.join("sluice.log"));
    let addr = http_addr(&mut sluice);

    // Up before any row: the task is there, starting or running, and healthy.
    assert_eq!(get(&addr, "/health"), (200, "ok\n".to_string()));

    // SQL: 5 transactions of 10 INSERTs each.
    for t in 0..TRANSACTIONS {
        let values: Vec<String> = (0..ROWS_PER_TRANSACTION)
            .map(|r| {
                let id = t * ROWS_PER_TRANSACTION + r;
                format!("({id}, 'item {id}')")
            })
            .collect();
        conn.query_drop(format!(
            "INSERT INTO `{db}`.items VALUES {}",
            values.join(", ")
        ))
        .await
        .unwrap();
    }
    let rows = TRANSACTIONS * ROWS_PER_TRANSACTION;

    // Expected: the 50 rows in the file, and the counters equal to what the file holds (other
    // tests' transactions on the shared server pass as BEGIN/COMMIT events: the filter keeps
    // those, so the file is the reference, not a constant).
    let task = "task=\"metrics-file\"";
    let sink_series = format!("sluice_sink_events_total{{{task},sink=\"out\"}}");
    let delivered_series = format!("sluice_delivered_events_total{{{task}}}");
    let text = eventually(
        "the rows in the file and the counters matching it",
        &mut sluice,
        || {
            let (code, before) = get(&addr, "/metrics");
            if code != 200 {
                return Err(format!("GET /metrics: {code}: {before}"));
            }
            let events = output_events(&output);
            let ours = events
                .iter()
                .filter(|e| e["op"] == "c" && e["db"] == db.as_str())
                .count();
            let (_, after) = get(&addr, "/metrics");
            let written = metric(&after, &sink_series);
            let delivered = metric(&after, &delivered_series);
            let steady = metric(&before, &sink_series) == written;
            if ours == rows
                && steady
                && written == Some(events.len() as f64)
                && delivered == written
            {
                Ok(after)
            } else {
                Err(format!(
                    "{ours} of {rows} rows, {} lines; {sink_series} = {written:?}, \
                 {delivered_series} = {delivered:?}",
                    events.len()
                ))
            }
        },
    );
    let value = |series: &str| {
        metric(&text, series).unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
    };
    assert!(
        value(&format!("sluice_source_events_total{{{task}}}")) >= (rows + 2 * TRANSACTIONS) as f64
    );
    assert!(value(&format!("sluice_source_bytes_total{{{task}}}")) > 0.0);
    assert_eq!(
        value(&format!("sluice_sink_up{{{task},sink=\"out\"}}")),
        1.0
    );
    assert_eq!(
        value(&format!(
            "sluice_sink_failures_total{{{task},sink=\"out\",op=\"write\"}}"
        )),
        0.0
    );
    assert!(
        value(&format!(
            "sluice_sink_duration_seconds_count{{{task},sink=\"out\",op=\"write\"}}"
        )) >= 1.0
    );
    assert!(value(&format!("sluice_lag_seconds{{{task}}}")) >= 0.0);
    value(&format!("sluice_queue_batches{{{task}}}"));
    value(&format!("sluice_queue_bytes{{{task}}}"));

    // A checkpoint follows within the interval once the queue is empty.
    let checkpoints = format!("sluice_checkpoints_total{{{task}}}");
    eventually("a checkpoint in /metrics and /status", &mut sluice, || {
        let (_, text) = get(&addr, "/metrics");
        let s = status(&addr);
        let checkpoint = &s["tasks"][0]["checkpoint"];
        match metric(&text, &checkpoints) {
            Some(n) if n >= 1.0 && checkpoint["position"].is_string() => Ok(()),
            n => Err(format!(
                "{checkpoints} = {n:?}, status checkpoint = {checkpoint}"
            )),
        }
    });
    assert!(value(&format!("sluice_checkpoint_timestamp_seconds{{{task}}}")) >= 0.0);

    assert_eq!(get(&addr, "/health"), (200, "ok\n".to_string()));
    let s = status(&addr);
    let t = &s["tasks"][0];
    assert_eq!(t["name"], "metrics-file", "{s}");
    assert_eq!(t["state"], "running", "{s}");
    assert!(t["lag_ms"].is_u64(), "{s}");
    assert!(
        t["events_read"].as_u64().unwrap() >= t["events_delivered"].as_u64().unwrap(),
        "{s}"
    );
    assert!(
        t["events_delivered"].as_u64().unwrap() >= rows as u64,
        "{s}"
    );
    let sink = &t["sinks"][0];
    assert_eq!(sink["name"], "out", "{s}");
    assert_eq!(sink["state"], "ok", "{s}");
    assert_eq!(sink["consecutive_failures"], 0, "{s}");
    assert!(sink["last_error"].is_null(), "{s}");

    let status_code = sluice.terminate(WAIT);
    assert!(
        status_code.is_some_and(|s| s.success()),
        "sluice did not stop cleanly ({status_code:?}); log:\n{}",
        sluice.log_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_sink_at_a_closed_port_shows_failing_while_health_answers() {
    let mut conn = common::root_conn().await;
    let db = common::fresh_database(&mut conn, "metrics_redis").await;
    conn.query_drop(format!("CREATE TABLE `{db}`.items (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let start = common::binlog_end(&mut conn).await;
    let dir = TempDir::new("metrics-redis");
    // Port 1: nothing listens there, so every batch fails (transiently) and is retried.
    let sink =
        "[[tasks.sinks]]\nname = \"cache\"\ntype = \"redis\"\nurl = \"redis://127.0.0.1:1\"\n";
    let config = write_config(&dir.0, "metrics-redis", &db, &start, REDIS_SERVER_ID, sink);
    let mut sluice = StandaloneProcess::start(&config, dir.0.join("sluice.log"));
    let addr = http_addr(&mut sluice);

    // SQL: one INSERT, which the sink cannot deliver.
    conn.query_drop(format!("INSERT INTO `{db}`.items VALUES (1)"))
        .await
        .unwrap();

    let failing = eventually("the sink failing in /status", &mut sluice, || {
        let s = status(&addr);
        let sink = &s["tasks"][0]["sinks"][0];
        let message = sink["last_error"]["message"].as_str().unwrap_or_default();
        if sink["state"] == "failing"
            && message.contains("Redis")
            && sink["consecutive_failures"].as_u64() >= Some(2)
        {
            Ok(s)
        } else {
            Err(s.to_string())
        }
    });
    let sink = &failing["tasks"][0]["sinks"][0];
    assert_eq!(sink["name"], "cache", "{failing}");
    assert!(sink["failing_since_ms"].is_u64(), "{failing}");
    assert!(sink["last_error"]["at_ms"].is_u64(), "{failing}");
    assert!(sink["last_outage"].is_null(), "{failing}");
    assert_eq!(failing["tasks"][0]["state"], "running", "{failing}");

    // The task still runs (it retries): health answers, and says ok.
    assert_eq!(get(&addr, "/health"), (200, "ok\n".to_string()));
    let (_, text) = get(&addr, "/metrics");
    let task = "task=\"metrics-redis\"";
    assert_eq!(
        metric(&text, &format!("sluice_sink_up{{{task},sink=\"cache\"}}")),
        Some(0.0),
        "{text}"
    );
    let failures = metric(
        &text,
        &format!("sluice_sink_failures_total{{{task},sink=\"cache\",op=\"write\"}}"),
    );
    assert!(failures.is_some_and(|n| n >= 2.0), "{text}");

    // Stopping while the sink is down ends cleanly without checkpointing past the row.
    let status_code = sluice.terminate(WAIT);
    assert!(
        status_code.is_some(),
        "sluice did not stop within {WAIT:?}; log:\n{}",
        sluice.log_text()
    );
}
