//! The web UI in a real browser: `web/e2e/task-flow.mjs` (playwright-core driving Debian's
//! Chromium) against `sluice manager` on a SQLite store and two `sluice node` on the real
//! ZooKeeper (under a root of the test's own) and MariaDB. This test starts the cluster, writes
//! rows to the task's table the whole time (so the UI has events to count and preview), and
//! kills the node the spec names (`E2E kill NODE` on its stdout); the spec checks what the UI
//! shows at each step. It needs the UI built (`scripts/build-web.sh`) and Chromium
//! (`tests/services/install.sh`).
//!
//! `SLUICE_UI_SCREENSHOTS=docs/screenshots cargo test --test web_ui` refreshes the
//! screenshots the README links.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::http;
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;

const ADMIN_PASSWORD: &str = "web-ui-admin-pw";
/// The nodes' ZooKeeper session: how soon a killed node's task is free for the other.
const SESSION_SECS: u64 = 6;
/// The replica id of the task and its preview, unique among the tests sharing the server.
const SERVER_ID: u32 = 4_300_951;
/// The whole browser run, at most.
const SPEC_WITHIN: Duration = Duration::from_secs(300);

fn zk() -> String {
    std::env::var("SLUICE_TEST_ZK").unwrap_or_else(|_| "127.0.0.1:12181".into())
}

fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// Fails with the command that fixes it when the UI or the browser tooling is missing.
fn assert_ui_prerequisites() {
    let web = web_dir();
    assert!(
        web.join("dist/index.html").is_file() && web.join("node_modules/playwright-core").is_dir(),
        "the web UI is not built in {}: run scripts/build-web.sh (Node.js 20 and npm)",
        web.display()
    );
    let chromium =
        std::env::var("SLUICE_E2E_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).is_file(),
        "no Chromium at {chromium}: run `bash tests/services/install.sh` (Debian package chromium)"
    );
}

/// Inserts a row into `db.t` every 200 ms until `stop` is set.
async fn write_rows(db: String, stop: Arc<AtomicBool>) -> u64 {
    let mut conn = common::root_conn().await;
    let mut id = 0;
    while !stop.load(Ordering::SeqCst) {
        id += 1;
        conn.query_drop(format!("INSERT INTO `{db}`.t VALUES ({id}, 'row {id}')"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_creates_watches_and_moves_a_task_in_a_browser() {
    assert_ui_prerequisites();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let run = format!("{}x{}", now.as_millis(), std::process::id());
    let root = format!("/sluice-test-webui{run}");
    let dir = TempDir::new("webui");

    let mut conn = common::root_conn().await;
    let db = common::fresh_database(&mut conn, "webui").await;
    conn.query_drop(format!(
        "CREATE TABLE `{db}`.t (id BIGINT PRIMARY KEY, note VARCHAR(40))"
    ))
    .await
    .unwrap();
    let start = common::binlog_end(&mut conn).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_rows(db.clone(), stop.clone()));

    let (mut manager, addr) = StandaloneProcess::manager(
        &dir.0,
        Some((&zk(), &root)),
        ADMIN_PASSWORD,
        dir.0.join("manager.log"),
    );
    let mut nodes: Vec<(String, StandaloneProcess)> = ["node-a", "node-b"]
        .into_iter()
        .map(|id| {
            let log = dir.0.join(format!("{id}.log"));
            let mut node = StandaloneProcess::node(&zk(), &root, id, SESSION_SECS, log);
            http::http_addr(&mut node);
            (id.to_string(), node)
        })
        .collect();

    let mut spec = Command::new("node")
        .arg("e2e/task-flow.mjs")
        .current_dir(web_dir())
        .env("SLUICE_E2E_URL", format!("http://{addr}"))
        .env("SLUICE_E2E_USER", "admin")
        .env("SLUICE_E2E_PASSWORD", ADMIN_PASSWORD)
        .env(
            "SLUICE_E2E_TASK",
            format!("webui-{}", now.as_millis() % 1_000_000),
        )
        .env("SLUICE_E2E_DB", &db)
        .env("SLUICE_E2E_SOURCE_URL", common::mysql_url())
        .env("SLUICE_E2E_SERVER_ID", SERVER_ID.to_string())
        .env("SLUICE_E2E_START", &start)
        .env("SLUICE_E2E_SINK_PATH", dir.0.join("events.jsonl"))
        .env(
            "SLUICE_E2E_SCREENSHOTS",
            std::env::var("SLUICE_UI_SCREENSHOTS").unwrap_or_default(),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("`node` runs (Node.js 20: see web/README.md)");

    // The spec's lines, printed as they come; `E2E kill NODE` is a request to this test.
    let (kills, kill_requests) = mpsc::channel::<String>();
    let stdout = spec.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("spec: {line}");
            if let Some(node) = line.strip_prefix("E2E kill ") {
                let _ = kills.send(node.trim().to_string());
            }
        }
    });

    let started = Instant::now();
    let status = loop {
        if let Ok(node) = kill_requests.try_recv() {
            let (_, process) = nodes
                .iter_mut()
                .find(|(id, _)| *id == node)
                .unwrap_or_else(|| panic!("the spec asked to kill {node:?}, not a node"));
            process.child.kill().expect("the node is killed");
            let _ = process.child.wait();
            println!("killed {node} (SIGKILL)");
        }
        if let Some(status) = spec.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > SPEC_WITHIN {
            let _ = spec.kill();
            panic!(
                "the browser spec did not end within {SPEC_WITHIN:?}; logs in {}",
                dir.0.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    reader.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    let rows = writer.await.unwrap();
    assert!(
        status.success(),
        "the browser spec failed ({status}); the manager's and nodes' logs are in {}",
        dir.0.display()
    );
    println!(
        "browser spec passed in {:?}; {rows} rows written meanwhile",
        started.elapsed()
    );
    for (_, node) in &mut nodes {
        node.terminate(Duration::from_secs(20));
    }
    manager.terminate(Duration::from_secs(20));
}
