//! Snapshots a running task takes by itself, in standalone with a `[manager]` table (the API,
//! the in-process coordinator, the node in one process), against the real MariaDB:
//! - on demand: a task streaming from the binlog's end (`snapshot.mode` left at `never`) is
//!   asked through `POST /tasks/{name}/snapshot` to snapshot table `a`: every row `a` held
//!   arrives as an `r` event while the task keeps streaming (a row inserted meanwhile arrives as
//!   `c`), and table `b`, not asked for, sends no `r` event; the request is taken (the
//!   coordinator's `snapshot_taken` reaches its id) and audited; a table the task's filters do
//!   not include is refused with a field-level 422;
//! - a table added to the filters: a task with `snapshot.mode = "initial"` covering table `a`
//!   gets `b` added to its filters through `PUT /tasks/{name}`; the new revision runs in the same
//!   process and snapshots `b` alone (every row it held as `r`, a row inserted meanwhile as `c`),
//!   while `a`, covered already, is not read again.
//!
//! Needs the services of `tests/services/start.sh`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::http;
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

const WITHIN: Duration = Duration::from_secs(60);

/// Per (table, op), the ids the file sink wrote for database `db`, from line `from` on.
fn ids_by_table_and_op(path: &Path, db: &str, from: usize) -> BTreeMap<(String, String), Vec<u64>> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut out: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for event in common::parse_lines(&bytes).into_iter().skip(from) {
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

/// The distinct ids of `table` with `op` in `ids`, sorted, without `except`.
fn distinct(
    ids: &BTreeMap<(String, String), Vec<u64>>,
    table: &str,
    op: &str,
    except: u64,
) -> Vec<u64> {
    let mut list = ids
        .get(&(table.to_string(), op.to_string()))
        .cloned()
        .unwrap_or_default();
    list.sort_unstable();
    list.dedup();
    list.retain(|&id| id != except);
    list
}

/// [`common::wait_for`] within [`WITHIN`].
async fn wait_for<T>(what: &str, check: impl FnMut() -> Result<T, String>) -> T {
    common::wait_for(what, WITHIN, check).await
}

/// Database `db` with tables `a` (`a_rows` rows) and `b` (`b_rows` rows), all written before
/// the binlog position returned; and a fresh signal database.
async fn two_tables(
    conn: &mut mysql_async::Conn,
    name: &str,
    a_rows: u64,
    b_rows: u64,
) -> (String, String, String) {
    let db = common::fresh_database(conn, name).await;
    let signal_db = common::fresh_database(conn, &format!("{name}_signal")).await;
    for (table, rows) in [("a", a_rows), ("b", b_rows)] {
        conn.query_drop(format!(
            "CREATE TABLE `{db}`.{table} (id BIGINT PRIMARY KEY, v VARCHAR(32))"
        ))
        .await
        .unwrap();
        conn.query_drop(format!(
            "INSERT INTO `{db}`.{table} SELECT seq, CONCAT('v', seq) FROM `{db}`.seq_1_to_{rows}"
        ))
        .await
        .expect("loading a table (needs the Sequence engine)");
    }
    let start = common::binlog_end(conn).await;
    (db, signal_db, start)
}

/// A `sluice standalone` with a `[manager]` running one task with a file sink, and an admin
/// session on its API.
struct ManagedTask {
    process: StandaloneProcess,
    addr: String,
    token: String,
    name: &'static str,
    out: PathBuf,
}

impl ManagedTask {
    /// Starts task `name` with `task_toml` (the source, filters and snapshot tables; the file
    /// sink is added) and logs in as the first admin.
    async fn start(dir: &TempDir, name: &'static str, task_toml: &str) -> ManagedTask {
        let out = dir.0.join("out.jsonl");
        let config = dir.0.join("sluice.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = {data:?}\n\n[manager]\nlisten = \"127.0.0.1:0\"\n\n\
                 [[tasks]]\nname = \"{name}\"\ncheckpoint_interval_ms = 200\n\n{task_toml}\n\
                 [[tasks.sinks]]\ntype = \"file\"\npath = {out:?}\n",
                data = dir.0.join("data").to_str().unwrap(),
                out = out.to_str().unwrap(),
            ),
        )
        .unwrap();
        let mut process = StandaloneProcess::start(&config, dir.0.join("run.log"));
        let addr = http::manager_addr(&mut process);
        let password = http::first_admin_password(&process);
        let token = http::login(&addr, "admin", &password);
        let task = ManagedTask {
            process,
            addr,
            token,
            name,
            out,
        };
        wait_for("the task running", || {
            let c = task.coordinator_view();
            (c["status"]["state"] == "running")
                .then_some(())
                .ok_or(c.to_string())
        })
        .await;
        task
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        http::api(&self.addr, method, path, Some(&self.token), body)
    }

    /// The coordinator's view of the task.
    fn coordinator_view(&self) -> Value {
        let (code, status) = self.call("GET", &format!("/tasks/{}/status", self.name), None);
        assert_eq!(code, 200, "status: {status}");
        status["coordinator"].clone()
    }

    /// Waits until no snapshot is in progress (and `snapshot_taken` is `taken`, if given).
    async fn wait_snapshot_over(&self, taken: Option<u64>) {
        wait_for("the snapshot over", || {
            let c = self.coordinator_view();
            (c["status"]["snapshot"].is_null()
                && taken.is_none_or(|id| c["snapshot_taken"].as_u64() == Some(id)))
            .then_some(())
            .ok_or(c.to_string())
        })
        .await;
    }

    fn stop(mut self) {
        let exit = self.process.terminate(Duration::from_secs(30));
        assert!(
            exit.is_some_and(|s| s.success()),
            "sluice exits 0 on SIGTERM"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_snapshot_delivers_the_tables_rows_while_the_task_streams() {
    const ROWS: u64 = 700;
    let dir = TempDir::new("snapshot_on_demand");
    let mut conn = common::root_conn().await;
    let (db, signal_db, start) = two_tables(&mut conn, "snapshot_on_demand", ROWS, 20).await;
    let task = ManagedTask::start(
        &dir,
        "on-demand",
        &format!(
            "[tasks.source]\nurl = \"{url}\"\nserver_id = 4700902\nstart = \"{start}\"\n\n\
             [tasks.filters]\ninclude = [\"{db}\\\\..*\"]\n\n\
             [tasks.snapshot]\nsignal_table = \"{signal_db}.marks\"\nchunk_rows = 100\n",
            url = common::mysql_url(),
        ),
    )
    .await;

    // A table outside the filters is refused, by field.
    let (code, body) = task.call(
        "POST",
        "/tasks/on-demand/snapshot",
        Some(&json!({"tables": [format!("{db}.a"), "mysql.user"]})),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "tables[1]", "{body}");

    let (code, body) = task.call(
        "POST",
        "/tasks/on-demand/snapshot",
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
            let ids = ids_by_table_and_op(&task.out, &db, 0);
            // The live row may be read by the snapshot too, if it committed before its chunk.
            let read = distinct(&ids, "a", "r", 100000);
            let created = ids
                .get(&("a".into(), "c".into()))
                .cloned()
                .unwrap_or_default();
            (read.iter().copied().eq(1..=ROWS) && created == [100000])
                .then_some(())
                .ok_or(format!(
                    "{} distinct `r` ids of a, `c` ids {created:?}",
                    read.len()
                ))
        },
    )
    .await;
    let ids = ids_by_table_and_op(&task.out, &db, 0);
    assert!(
        !ids.contains_key(&("b".into(), "r".into())),
        "table b was not asked for: {:?}",
        ids.keys().collect::<Vec<_>>()
    );

    // Taken once a checkpoint holds it; no snapshot in progress afterwards.
    task.wait_snapshot_over(Some(id)).await;
    let (_, audit) = task.call("GET", "/audit?task=on-demand", None);
    assert!(audit.to_string().contains("task.snapshot"), "{audit}");
    let log = task.process.log_text();
    assert!(
        log.contains("Snapshot requested"),
        "the node logs the request; its log:\n{log}"
    );
    task.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_added_to_the_filters_is_snapshotted_without_a_restart() {
    const A_ROWS: u64 = 300;
    const B_ROWS: u64 = 450;
    let dir = TempDir::new("snapshot_added_table");
    let mut conn = common::root_conn().await;
    let (db, signal_db, start) = two_tables(&mut conn, "snapshot_added", A_ROWS, B_ROWS).await;
    let task = ManagedTask::start(
        &dir,
        "added-table",
        &format!(
            "[tasks.source]\nurl = \"{url}\"\nserver_id = 4700903\nstart = \"{start}\"\n\n\
             [tasks.filters]\ninclude = [\"{db}\\\\.a\"]\n\n\
             [tasks.snapshot]\nmode = \"initial\"\nsignal_table = \"{signal_db}.marks\"\n\
             chunk_rows = 100\n",
            url = common::mysql_url(),
        ),
    )
    .await;
    wait_for("the initial snapshot of a", || {
        let read = distinct(&ids_by_table_and_op(&task.out, &db, 0), "a", "r", 0);
        read.iter()
            .copied()
            .eq(1..=A_ROWS)
            .then_some(())
            .ok_or(format!("{} distinct `r` ids of a", read.len()))
    })
    .await;
    task.wait_snapshot_over(None).await;
    let ids = ids_by_table_and_op(&task.out, &db, 0);
    assert!(
        !ids.keys().any(|(table, _)| table == "b"),
        "b is outside the filters: {:?}",
        ids.keys().collect::<Vec<_>>()
    );

    // b joins the filters: a new revision, run by the same process.
    let lines_before = common::parse_lines(&std::fs::read(&task.out).unwrap()).len();
    let (code, shown) = task.call("GET", "/tasks/added-table", None);
    assert_eq!(code, 200, "{shown}");
    let mut edited = shown["config"].clone();
    edited["filters"]["include"] = json!([format!("{db}\\.a"), format!("{db}\\.b")]);
    let (code, body) = task.call("PUT", "/tasks/added-table", Some(&edited));
    assert_eq!(code, 200, "updating the filters: {body}");
    assert_eq!(body["revision"], 2, "{body}");
    conn.query_drop(format!("INSERT INTO `{db}`.b VALUES (100000, 'live')"))
        .await
        .unwrap();
    conn.query_drop(format!("UPDATE `{db}`.a SET v = 'changed' WHERE id = 7"))
        .await
        .unwrap();

    wait_for(
        "every row of b as an `r` event, the live insert as `c`",
        || {
            let ids = ids_by_table_and_op(&task.out, &db, lines_before);
            let read = distinct(&ids, "b", "r", 100000);
            let created = ids
                .get(&("b".into(), "c".into()))
                .cloned()
                .unwrap_or_default();
            let updated = ids
                .get(&("a".into(), "u".into()))
                .cloned()
                .unwrap_or_default();
            (read.iter().copied().eq(1..=B_ROWS) && created == [100000] && updated == [7])
                .then_some(())
                .ok_or(format!(
                    "{} distinct `r` ids of b, `c` ids of b {created:?}, `u` ids of a {updated:?}",
                    read.len()
                ))
        },
    )
    .await;
    task.wait_snapshot_over(None).await;
    let after = ids_by_table_and_op(&task.out, &db, lines_before);
    assert!(
        !after.contains_key(&("a".into(), "r".into())),
        "a was covered already and is not read again: {:?}",
        after.keys().collect::<Vec<_>>()
    );
    let (_, status) = task.call("GET", "/tasks/added-table/status", None);
    assert_eq!(status["coordinator"]["status"]["revision"], 2, "{status}");
    let log = task.process.log_text();
    assert!(
        log.contains("The filters now take in more tables"),
        "the node says why it snapshots; its log:\n{log}"
    );
    task.stop();
}
