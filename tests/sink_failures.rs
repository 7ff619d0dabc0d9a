//! A sink that fails: transiently (retried with backoff, and a stop request still stops the
//! task without checkpointing past what was not delivered) or definitely (the task stops and
//! says what is wrong, rather than retrying forever).

mod common;

use std::time::Duration;

use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;

/// A config with one task from `start` into the given sink tables.
fn config(dir: &TempDir, start: &str, server_id: u32, sinks: &str) -> std::path::PathBuf {
    let path = dir.0.join("sluice.toml");
    let data = dir.0.join("data");
    std::fs::write(
        &path,
        format!(
            "data_dir = {data:?}\n[[tasks]]\nname = \"t\"\ncheckpoint_interval_ms = 100\n\
             [tasks.source]\nurl = {url:?}\nserver_id = {server_id}\nstart = {start:?}\n{sinks}",
            url = common::mysql_url()
        ),
    )
    .unwrap();
    path
}

fn checkpoint(dir: &TempDir) -> Option<String> {
    let text = std::fs::read_to_string(dir.0.join("data/t/checkpoint.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    Some(format!(
        "{}:{}",
        json["position"]["file"].as_str().unwrap(),
        json["position"]["pos"]
    ))
}

/// `FILE:POS` where the first transaction after `from` touching database `db` ends.
async fn transaction_end_of(root: &mut mysql_async::Conn, from: &str, db: &str) -> String {
    let (file, pos) = from.rsplit_once(':').unwrap();
    let events: Vec<mysql_async::Row> = root
        .query(format!("SHOW BINLOG EVENTS IN '{file}' FROM {pos}"))
        .await
        .unwrap();
    let mut seen_table = false;
    for mut e in events {
        let kind: String = e.take("Event_type").unwrap();
        let info: String = e.take("Info").unwrap_or_default();
        let end: u64 = e.take("End_log_pos").unwrap();
        if kind == "Table_map" && info.contains(&format!("({db}.")) {
            seen_table = true;
        }
        if seen_table && kind == "Xid" {
            return format!("{file}:{end}");
        }
    }
    panic!("no transaction on `{db}` after {from}");
}

#[tokio::test]
async fn stop_request_ends_a_task_whose_sink_is_down_without_checkpointing_past_it() {
    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, "sink_down").await;
    root.query_drop(format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let start = common::binlog_end(&mut root).await;
    let dir = TempDir::new("sink-down");
    // Nothing listens on port 1: every write fails, transiently.
    let sinks = "[[tasks.sinks]]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:1\"\n";
    let config = config(&dir, &start, 4_100_801, sinks);
    let mut sluice = StandaloneProcess::start(&config, dir.0.join("sluice.log"));
    std::thread::sleep(Duration::from_secs(1));
    root.query_drop(format!("INSERT INTO `{db}`.t VALUES (1)"))
        .await
        .unwrap();
    // Give it time to fail and retry at least once.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !sluice.log_text().contains("Sink write failed; retrying.") {
        sluice.assert_running();
        assert!(
            std::time::Instant::now() < deadline,
            "no retry logged:\n{}",
            sluice.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = sluice
        .terminate(Duration::from_secs(15))
        .unwrap_or_else(|| panic!("SIGTERM did not stop it:\n{}", sluice.log_text()));
    assert!(status.success(), "{status}: {}", sluice.log_text());
    // The row never reached the sink, so no checkpoint may be at or past the end of its
    // transaction. (Other tests' transactions before it carry no rows for this sink and are
    // rightly delivered and checkpointed.)
    let row_end = transaction_end_of(&mut root, &start, &db).await;
    if let Some(cp) = checkpoint(&dir) {
        let (file, pos) = cp.rsplit_once(':').unwrap();
        let (end_file, end_pos) = row_end.rsplit_once(':').unwrap();
        assert!(
            file == end_file && pos.parse::<u64>().unwrap() < end_pos.parse::<u64>().unwrap(),
            "checkpoint {cp} passed the undelivered row, whose transaction ends at {row_end}"
        );
    }
    root.disconnect().await.unwrap();
}

#[tokio::test]
async fn a_row_that_cannot_fit_the_sink_stops_the_task_with_a_clear_error() {
    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, "sink_definite").await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.t (id INT PRIMARY KEY, tag VARCHAR(10))"
    ))
    .await
    .unwrap();
    let start = common::binlog_end(&mut root).await;
    let dir = TempDir::new("sink-definite");
    let redis =
        std::env::var("SLUICE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:16379".into());
    // The key names a column the table does not have: no retry can build it.
    // Only this test's table: other tests write to the same server at the same time.
    let sinks = format!(
        "[tasks.filters]\ninclude = [\"{db}\\\\..*\"]\n\
         [[tasks.sinks]]\ntype = \"redis\"\nurl = \"{redis}/9\"\nkey = \"t:{{nosuch}}\"\n"
    );
    let config = config(&dir, &start, 4_100_802, &sinks);
    let mut sluice = StandaloneProcess::start(&config, dir.0.join("sluice.log"));
    std::thread::sleep(Duration::from_secs(1));
    root.query_drop(format!("INSERT INTO `{db}`.t VALUES (1, 'a')"))
        .await
        .unwrap();
    let status = sluice
        .wait(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the task kept running:\n{}", sluice.log_text()));
    let log = sluice.log_text();
    assert!(!status.success(), "{log}");
    assert!(log.contains("nosuch"), "{log}");
    assert!(log.contains(&format!("{db}.t")), "{log}");
    root.disconnect().await.unwrap();
}
