//! On-demand snapshots in standalone with a `[manager]` table (the API, the in-process
//! coordinator, the node in one process), against the real MariaDB:
//! - a task streaming from the binlog's end (`snapshot.mode` left at `never`) is asked through
//!   `POST /tasks/{name}/snapshot` to snapshot table `a`: every row `a` held arrives as an `r`
//!   event while the task keeps streaming (a row inserted meanwhile arrives as `c`), and table
//!   `b`, not asked for, sends no `r` event;
//! - the request is taken (the coordinator's `snapshot_taken` reaches its id) and audited;
//! - a table the task's filters do not include is refused with a field-level 422.
//!
//! Needs the services of `tests/services/start.sh`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::http;
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

const TASK: &str = "on-demand";
const SERVER_ID: u32 = 4_700_902;
const ROWS: u64 = 700;
const WITHIN: Duration = Duration::from_secs(60);

/// Per (table, op), the ids the file sink wrote for database `db`.
fn ids_by_table_and_op(path: &Path, db: &str) -> BTreeMap<(String, String), Vec<u64>> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut out: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for event in common::parse_lines(&bytes) {
        if event["db"] != db {
            continue;
        }
        let (Some(table), Some(op)) = (event["table"].as_str(), event["op"].as_str()) else {
            continue;
        };
        if let Some(id) = event["after"]["id"].as_u64() {
            out.entry((table.to_string(), op.to_string()))
                .or_default()
                .push(id);
        }
    }
    out
}

/// [`common::wait_for`] within [`WITHIN`].
async fn wait_for<T>(what: &str, check: impl FnMut() -> Result<T, String>) -> T {
    common::wait_for(what, WITHIN, check).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_snapshot_delivers_the_tables_rows_while_the_task_streams() {
    let dir = TempDir::new("snapshot_on_demand");
    let mut conn = common::root_conn().await;
    let db = common::fresh_database(&mut conn, "snapshot_on_demand").await;
    let signal_db = common::fresh_database(&mut conn, "snapshot_on_demand_signal").await;
    for table in ["a", "b"] {
        conn.query_drop(format!(
            "CREATE TABLE `{db}`.{table} (id BIGINT PRIMARY KEY, v VARCHAR(32))"
        ))
        .await
        .unwrap();
    }
    // Rows written before the task's start position: only a snapshot can deliver them.
    conn.query_drop(format!(
        "INSERT INTO `{db}`.a SELECT seq, CONCAT('v', seq) FROM `{db}`.seq_1_to_{ROWS}"
    ))
    .await
    .expect("loading table a (needs the Sequence engine)");
    conn.query_drop(format!(
        "INSERT INTO `{db}`.b SELECT seq, CONCAT('v', seq) FROM `{db}`.seq_1_to_20"
    ))
    .await
    .unwrap();
    let start = common::binlog_end(&mut conn).await;
    let out = dir.0.join("out.jsonl");
    let config = dir.0.join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\n\n[manager]\nlisten = \"127.0.0.1:0\"\n\n\
             [[tasks]]\nname = \"{TASK}\"\ncheckpoint_interval_ms = 200\n\n\
             [tasks.source]\nurl = \"{url}\"\nserver_id = {SERVER_ID}\nstart = \"{start}\"\n\n\
             [tasks.filters]\ninclude = [\"{db}\\\\..*\"]\n\n\
             [tasks.snapshot]\nsignal_table = \"{signal_db}.marks\"\nchunk_rows = 100\n\n\
             [[tasks.sinks]]\ntype = \"file\"\npath = {out:?}\n",
            data = dir.0.join("data").to_str().unwrap(),
            url = common::mysql_url(),
            out = out.to_str().unwrap(),
        ),
    )
    .unwrap();

    let mut process = StandaloneProcess::start(&config, dir.0.join("run.log"));
    let addr = http::manager_addr(&mut process);
    let text = process.log_text();
    let password = text
        .lines()
        .find(|l| l.contains("first user: `admin` with password"))
        .and_then(|l| l.split('`').nth(3))
        .unwrap_or_else(|| panic!("no first password in the log:\n{text}"))
        .to_string();
    let token = http::login(&addr, "admin", &password);
    let call = |method: &str, path: &str, body: Option<&Value>| {
        http::api(&addr, method, path, Some(&token), body)
    };
    // The coordinator's view of the task.
    let status = || {
        let (code, status) = call("GET", &format!("/tasks/{TASK}/status"), None);
        assert_eq!(code, 200, "status: {status}");
        status["coordinator"].clone()
    };
    wait_for("the task running", || {
        let c = status();
        (c["status"]["state"] == "running")
            .then_some(())
            .ok_or(c.to_string())
    })
    .await;

    // A table outside the filters is refused, by field.
    let (code, body) = call(
        "POST",
        &format!("/tasks/{TASK}/snapshot"),
        Some(&json!({"tables": [format!("{db}.a"), "mysql.user"]})),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "tables[1]", "{body}");

    let (code, body) = call(
        "POST",
        &format!("/tasks/{TASK}/snapshot"),
        Some(&json!({"tables": [format!("{db}.a")]})),
    );
    assert_eq!(code, 202, "{body}");
    let id = body["request"]["id"].as_u64().expect("a request id");
    // The stream goes on meanwhile.
    conn.query_drop(format!("INSERT INTO `{db}`.a VALUES (100000, 'live')"))
        .await
        .unwrap();

    wait_for(
        "every row of a as an `r` event, the live insert as `c`",
        || {
            let ids = ids_by_table_and_op(&out, &db);
            let mut read = ids
                .get(&("a".into(), "r".into()))
                .cloned()
                .unwrap_or_default();
            read.sort_unstable();
            read.dedup();
            let created = ids
                .get(&("a".into(), "c".into()))
                .cloned()
                .unwrap_or_default();
            // The live row may be read by the snapshot too, if it committed before its chunk.
            read.retain(|&id| id != 100000);
            (read.iter().copied().eq(1..=ROWS) && created == [100000])
                .then_some(())
                .ok_or(format!(
                    "{} distinct `r` ids of a, `c` ids {created:?}",
                    read.len()
                ))
        },
    )
    .await;
    let ids = ids_by_table_and_op(&out, &db);
    assert!(
        !ids.contains_key(&("b".into(), "r".into())),
        "table b was not asked for: {:?}",
        ids.keys().collect::<Vec<_>>()
    );

    // Taken once a checkpoint holds it; no snapshot in progress afterwards.
    wait_for("the request taken and the snapshot over", || {
        let c = status();
        (c["snapshot_taken"].as_u64() == Some(id) && c["status"]["snapshot"].is_null())
            .then_some(())
            .ok_or(c.to_string())
    })
    .await;
    let (_, audit) = call("GET", &format!("/audit?task={TASK}"), None);
    assert!(audit.to_string().contains("task.snapshot"), "{audit}");
    let log = process.log_text();
    assert!(
        log.contains("Snapshot requested"),
        "the node logs the request; its log:\n{log}"
    );
    let exit = process.terminate(Duration::from_secs(30));
    assert!(
        exit.is_some_and(|s| s.success()),
        "sluice exits 0 on SIGTERM"
    );
}
