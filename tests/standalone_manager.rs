//! Standalone with a `[manager]` table: the manager and one node in one process, on the
//! in-process coordinator, against the real MariaDB. Driven through the API only:
//! - the file's task is in the store (audited as `config-file`) and runs on node `standalone`;
//!   the first admin's password, not given, is made and printed once;
//! - a task created through the API runs in the same process; paused, it delivers nothing;
//!   restarted from an earlier position and resumed, it replays from there;
//! - stopped (SIGTERM) and started again: both tasks are back, the file's task unchanged at
//!   revision 1, and each resumes from its checkpoint file: rows written while the process was
//!   down arrive, none twice.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::http;
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

const WITHIN: Duration = Duration::from_secs(30);
const FILE_TASK: &str = "from-file";
const API_TASK: &str = "from-api";

/// Per row id, how many row events a file sink wrote for it.
fn ids_in(path: &Path, db: &str) -> BTreeMap<u64, usize> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let events = common::parse_lines(&bytes);
    let mut ids = BTreeMap::new();
    for row in common::rows_of(&events, db) {
        if let Some(id) = row["after"]["id"].as_u64() {
            *ids.entry(id).or_insert(0) += 1;
        }
    }
    ids
}

/// [`common::wait_for`] within [`WITHIN`].
async fn wait_for<T>(what: &str, check: impl FnMut() -> Result<T, String>) -> T {
    common::wait_for(what, WITHIN, check).await
}

/// The process, its API address and a logged-in admin's token.
struct Standalone {
    process: StandaloneProcess,
    addr: String,
    token: String,
}

impl Standalone {
    fn start(config: &Path, log: &Path, password: Option<&str>) -> (Standalone, String) {
        let mut process = StandaloneProcess::start(config, log.to_path_buf());
        let addr = http::manager_addr(&mut process);
        let password = match password {
            Some(p) => p.to_string(),
            None => http::first_admin_password(&process),
        };
        let token = http::login(&addr, "admin", &password);
        (
            Standalone {
                process,
                addr,
                token,
            },
            password,
        )
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        http::api(&self.addr, method, path, Some(&self.token), body)
    }

    /// The task's owner node and reported state.
    fn owner_and_state(&self, task: &str) -> (Option<String>, Option<String>) {
        let (code, status) = self.call("GET", &format!("/tasks/{task}/status"), None);
        assert_eq!(code, 200, "status of {task}: {status}");
        let c = &status["coordinator"];
        (
            c["owner"]["node"].as_str().map(String::from),
            c["status"]["state"].as_str().map(String::from),
        )
    }

    async fn wait_running(&self, task: &str) {
        wait_for(
            &format!("{task} running on node standalone"),
            || match self.owner_and_state(task) {
                (Some(node), Some(state)) if node == "standalone" && state == "running" => Ok(()),
                other => Err(format!("{other:?}")),
            },
        )
        .await;
    }
}

async fn insert(conn: &mut mysql_async::Conn, db: &str, ids: std::ops::RangeInclusive<u64>) {
    for id in ids {
        conn.exec_drop(
            format!("INSERT INTO `{db}`.t (id, v) VALUES (?, ?)"),
            (id, format!("v{id}")),
        )
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_and_node_in_one_process_keep_tasks_and_checkpoints() {
    let dir = TempDir::new("standalone_manager");
    let mut conn = common::root_conn().await;
    let db = common::fresh_database(&mut conn, "standalone_manager").await;
    conn.query_drop(format!(
        "CREATE TABLE `{db}`.t (id BIGINT PRIMARY KEY, v VARCHAR(32))"
    ))
    .await
    .unwrap();
    let start = common::binlog_end(&mut conn).await;
    let file_out = dir.0.join("file-task.jsonl");
    let api_out = dir.0.join("api-task.jsonl");
    let config = dir.0.join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\n\n[manager]\nlisten = \"127.0.0.1:0\"\n\n\
             [[tasks]]\nname = \"{FILE_TASK}\"\ncheckpoint_interval_ms = 200\n\n\
             [tasks.source]\nurl = \"{url}\"\nserver_id = 4400901\nstart = \"{start}\"\n\n\
             [tasks.filters]\ninclude = [\"{db}\\\\..*\"]\n\n\
             [[tasks.sinks]]\ntype = \"file\"\npath = {out:?}\n",
            data = dir.0.join("data").to_str().unwrap(),
            url = common::mysql_url(),
            out = file_out.to_str().unwrap(),
        ),
    )
    .unwrap();

    // The file's task, imported and running; the first password printed once.
    let (mut sa, password) = Standalone::start(&config, &dir.0.join("run1.log"), None);
    let (code, tasks) = sa.call("GET", "/tasks", None);
    assert_eq!(code, 200, "{tasks}");
    let names: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, [FILE_TASK], "{tasks}");
    let (_, audit) = sa.call("GET", &format!("/audit?task={FILE_TASK}"), None);
    assert!(audit.to_string().contains("config-file"), "{audit}");
    sa.wait_running(FILE_TASK).await;
    insert(&mut conn, &db, 1..=50).await;
    wait_for("rows 1-50 in the file task's sink", || {
        let ids = ids_in(&file_out, &db);
        (ids.len() == 50)
            .then_some(())
            .ok_or(format!("{} rows", ids.len()))
    })
    .await;

    // A task created through the API runs in the same process.
    let api_start = common::binlog_end(&mut conn).await;
    let api_task = json!({
        "name": API_TASK,
        "checkpoint_interval_ms": 200,
        "source": {"url": common::mysql_url(), "server_id": 4400902, "start": api_start},
        "filters": {"include": [format!("{db}\\..*")]},
        "sinks": [{"type": "file", "path": api_out.to_str().unwrap()}],
    });
    let (code, body) = sa.call("POST", "/tasks", Some(&api_task));
    assert_eq!(code, 201, "create: {body}");
    sa.wait_running(API_TASK).await;
    insert(&mut conn, &db, 51..=80).await;
    wait_for("rows 51-80 in both sinks", || {
        let (f, a) = (ids_in(&file_out, &db), ids_in(&api_out, &db));
        (f.len() == 80 && a.keys().copied().eq(51..=80))
            .then_some(())
            .ok_or(format!("file task {} rows, API task {a:?}", f.len()))
    })
    .await;

    // Paused: nothing more; restarted at the file task's start and resumed: a replay.
    let (code, body) = sa.call("POST", &format!("/tasks/{API_TASK}/pause"), None);
    assert_eq!(code, 200, "pause: {body}");
    wait_for("the paused task has no owner", || {
        match sa.owner_and_state(API_TASK) {
            (None, _) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    insert(&mut conn, &db, 81..=90).await;
    wait_for("rows 81-90 in the file task's sink", || {
        let ids = ids_in(&file_out, &db);
        (ids.len() == 90)
            .then_some(())
            .ok_or(format!("{} rows", ids.len()))
    })
    .await;
    assert_eq!(
        ids_in(&api_out, &db).len(),
        30,
        "the paused task delivered rows"
    );
    let (code, body) = sa.call(
        "POST",
        &format!("/tasks/{API_TASK}/restart"),
        Some(&json!({"position": start})),
    );
    assert_eq!(code, 200, "restart from {start}: {body}");
    let (code, body) = sa.call("POST", &format!("/tasks/{API_TASK}/resume"), None);
    assert_eq!(code, 200, "resume: {body}");
    wait_for("the API task replayed rows 1-90", || {
        let ids = ids_in(&api_out, &db);
        ids.keys()
            .copied()
            .eq(1..=90)
            .then_some(())
            .ok_or(format!("{} distinct rows", ids.len()))
    })
    .await;
    let before_stop = ids_in(&api_out, &db);

    // Stopped cleanly, rows written meanwhile, started again: both tasks resume from their
    // checkpoint files.
    let status = sa.process.terminate(WITHIN);
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM: {status:?}\n{}",
        sa.process.log_text()
    );
    for task in [FILE_TASK, API_TASK] {
        let file = dir.0.join("data").join(task).join("checkpoint.json");
        assert!(file.exists(), "no checkpoint file {}", file.display());
    }
    insert(&mut conn, &db, 91..=100).await;
    let (sa, _) = Standalone::start(&config, &dir.0.join("run2.log"), Some(&password));
    assert!(
        !sa.process.log_text().contains("with password"),
        "a password is printed only for a store without users"
    );
    let (_, file_task) = sa.call("GET", &format!("/tasks/{FILE_TASK}"), None);
    assert_eq!(
        file_task["revision"], 1,
        "the unchanged file task: {file_task}"
    );
    sa.wait_running(FILE_TASK).await;
    sa.wait_running(API_TASK).await;
    wait_for("rows 91-100 in both sinks after the restart", || {
        let (f, a) = (ids_in(&file_out, &db), ids_in(&api_out, &db));
        (f.len() == 100 && a.len() == 100)
            .then_some(())
            .ok_or(format!("file task {} rows, API task {}", f.len(), a.len()))
    })
    .await;
    let file_ids = ids_in(&file_out, &db);
    assert!(
        file_ids.values().all(|&n| n == 1),
        "the file task delivered rows twice across a clean restart: {:?}",
        file_ids.iter().filter(|(_, &n)| n > 1).collect::<Vec<_>>()
    );
    let api_ids = ids_in(&api_out, &db);
    for id in 91..=100 {
        assert_eq!(api_ids[&id], 1, "row {id} in the API task's sink");
    }
    for (id, n) in &before_stop {
        assert_eq!(
            api_ids[id], *n,
            "row {id} replayed again after the clean restart"
        );
    }
}
