//! The schema history in cluster mode: a task on a server without column names in the binlog
//! (`binlog_row_metadata=MINIMAL`) keeps its history in ZooKeeper, so the node that takes it
//! over decodes every row with the columns its table had when the row was written, though
//! information_schema already shows the table's final shape.
//!
//! Every part is a process: a private MariaDB (`binlog_row_metadata=MINIMAL`, port 13352),
//! `sluice manager` and two `sluice node` on the ZooKeeper of `tests/services` (under a root of
//! the test's own); the task, created through the API, writes to a file sink.
//! 1. The owner is killed (`kill -9`) after `CREATE TABLE` and one row, before the DDLs are
//!    written; the DDLs and rows between them come while nobody runs the task; the other node
//!    takes over from the dead owner's checkpoint and decodes them right, from the history
//!    the dead node saved (it never reads the schema from information_schema itself).
//! 2. The new owner is killed after all DDLs; the task is restarted through the API from a
//!    position before all of them (older than every checkpoint); the first node, started
//!    again, replays the three DDLs from the history in ZooKeeper.
//!
//! Needs `mariadbd` and ZooKeeper (tests/services/install.sh, tests/services/start.sh).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::column_history;
use common::extra_mariadb::ExtraMariadb;
use common::http;
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use sluice_core::coordination::{Coordinator, ZooKeeperConfig, ZooKeeperCoordinator};
use sluice_core::BinlogPosition;

const TASK: &str = "history";
/// The nodes' ZooKeeper session timeout.
const SESSION_SECS: u64 = 6;
const ADMIN_PASSWORD: &str = "cluster-history-admin-pw";
/// How long anything the test waits for may take.
const WITHIN: Duration = Duration::from_secs(45);
/// What a node logs when it starts a history from information_schema, and when it decodes
/// with a saved one (`source/schema_tracking.rs`).
const CAPTURED: &str = "Started the schema history from information_schema";
const LOADED: &str = "Decoding with the schema history saved for the start position";

fn zk() -> String {
    std::env::var("SLUICE_TEST_ZK").unwrap_or_else(|_| "127.0.0.1:12181".into())
}

/// The processes of the cluster and a ZooKeeper session to look at its tree.
struct Cluster {
    dir: TempDir,
    root: String,
    manager: StandaloneProcess,
    api: String,
    token: String,
    /// Node id → its current process (`None` once killed).
    nodes: Vec<(String, Option<StandaloneProcess>)>,
    zk: ZooKeeperCoordinator,
    output: PathBuf,
}

impl Cluster {
    async fn start(tag: &str) -> Cluster {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let root = format!(
            "/sluice-test-{tag}{}x{}",
            now.as_millis(),
            std::process::id()
        );
        let dir = TempDir::new(tag);
        let mut config = ZooKeeperConfig::new(zk());
        config.root = root.clone();
        let zk_view = ZooKeeperCoordinator::connect(&config)
            .await
            .unwrap_or_else(|e| {
                panic!("ZooKeeper at {}: {e} (bash tests/services/start.sh)", zk())
            });
        let (manager, api) = StandaloneProcess::manager(
            &dir.0,
            Some((&zk(), &root)),
            ADMIN_PASSWORD,
            dir.0.join("manager.log"),
        );
        let token = http::login(&api, "admin", ADMIN_PASSWORD);
        let output = dir.0.join("events.jsonl");
        let mut cluster = Cluster {
            dir,
            root,
            manager,
            api,
            token,
            nodes: Vec::new(),
            zk: zk_view,
            output,
        };
        for id in ["node1", "node2"] {
            cluster.start_node(id);
        }
        cluster
    }

    /// Starts node `id` (again), logging to `{id}-{n}.log`.
    fn start_node(&mut self, id: &str) {
        let n = self.nodes.iter().filter(|(n, _)| n == id).count() + 1;
        let log = self.dir.0.join(format!("{id}-{n}.log"));
        let process = StandaloneProcess::node(&zk(), &self.root, id, SESSION_SECS, log);
        self.nodes.retain(|(n, _)| n != id);
        self.nodes.push((id.to_string(), Some(process)));
    }

    fn process(&mut self, id: &str) -> &mut StandaloneProcess {
        self.nodes
            .iter_mut()
            .find(|(n, _)| n == id)
            .and_then(|(_, p)| p.as_mut())
            .unwrap_or_else(|| panic!("node {id} is not running"))
    }

    /// `kill -9` of node `id`; its ZooKeeper session (and ownership) lives on until it expires.
    fn kill(&mut self, id: &str) {
        let mut process = self
            .nodes
            .iter_mut()
            .find(|(n, _)| n == id)
            .and_then(|(_, p)| p.take())
            .unwrap_or_else(|| panic!("node {id} is not running"));
        process.child.kill().unwrap();
        process.child.wait().unwrap();
        println!("{id} killed");
    }

    /// `POST /api/v1{path}` as the admin, expecting 200 or 201.
    fn post(&self, path: &str, body: Option<&Value>) -> Value {
        let (code, body) = http::api(&self.api, "POST", path, Some(&self.token), body);
        assert!(code == 200 || code == 201, "POST {path}: {code} {body}");
        body
    }

    /// Waits until ZooKeeper shows an owner other than `not` (or none, with `None`).
    async fn wait_owner(&self, want: Option<Option<&str>>) -> Option<(String, u64)> {
        let t = Instant::now();
        loop {
            let view = self.zk.task_view(TASK).await.ok().flatten();
            let owner = view.and_then(|v| v.owner).map(|o| (o.node, o.epoch));
            let ok = match (&want, &owner) {
                (None, None) => true,
                (Some(not), Some((node, _))) => Some(node.as_str()) != *not,
                _ => false,
            };
            if ok {
                return owner;
            }
            assert!(
                t.elapsed() < WITHIN,
                "owner {owner:?}, waiting for {want:?} (None: no owner; Some(x): one not x); \
                 logs in {}",
                self.dir.0.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the task's checkpoint in ZooKeeper is at or past `position`.
    async fn wait_checkpoint(&self, position: &str) {
        let target = BinlogPosition::parse(position).unwrap();
        let t = Instant::now();
        loop {
            let view = self.zk.task_view(TASK).await.ok().flatten();
            if view
                .and_then(|v| v.checkpoint)
                .is_some_and(|c| c.position >= target)
            {
                return;
            }
            assert!(
                t.elapsed() < WITHIN,
                "no checkpoint at or past {position}; logs in {}",
                self.dir.0.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The task's schema history as ZooKeeper holds it.
    async fn history_in_zookeeper(&self) -> Value {
        let bytes = self
            .zk
            .load_task_data(TASK, "schema-history")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no schema history in ZooKeeper under {}", self.root));
        serde_json::from_slice(&bytes).expect("the history is JSON")
    }

    /// The row events of `db` in the sink's output (each once: a replay is dropped by its
    /// source position), once there are `n` of them.
    async fn wait_rows(&self, db: &str, n: usize) -> Vec<Value> {
        let t = Instant::now();
        loop {
            let rows = distinct_rows(&self.output, db);
            if rows.len() >= n {
                return rows;
            }
            assert!(
                t.elapsed() < WITHIN,
                "only {} of {n} rows: {rows:#?}; logs in {}",
                rows.len(),
                self.dir.0.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn finish(mut self) {
        for (_, process) in &mut self.nodes {
            if let Some(p) = process.as_mut() {
                p.terminate(Duration::from_secs(20));
            }
        }
        let (code, _) = http::api(
            &self.api,
            "DELETE",
            &format!("/tasks/{TASK}"),
            Some(&self.token),
            None,
        );
        println!("task removed ({code}); cluster root {} done", self.root);
        self.manager.terminate(Duration::from_secs(20));
    }
}

fn distinct_rows(output: &Path, db: &str) -> Vec<Value> {
    let events = common::parse_lines(&std::fs::read(output).unwrap_or_default());
    let mut seen = HashSet::new();
    common::rows_of(&events, db)
        .into_iter()
        .filter(|r| {
            let s = &r["source"];
            seen.insert((
                s["file"].to_string(),
                s["pos"].to_string(),
                s["row"].to_string(),
            ))
        })
        .cloned()
        .collect()
}

/// The DDL statements a history holds, in order.
fn recorded_ddl(history: &Value) -> Vec<String> {
    history["changes"]
        .as_array()
        .expect("a history has `changes`")
        .iter()
        .map(|c| c["sql"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_taking_a_task_over_decodes_with_the_schema_history_kept_in_zookeeper() {
    let server = ExtraMariadb::start(
        "mariadb-cluster-history",
        13352,
        "binlog_row_metadata=MINIMAL",
    );
    assert_eq!(server.variable("binlog_row_metadata").await, "MINIMAL");
    let opts = mysql_async::Opts::from_url("mysql://root@127.0.0.1:13352").unwrap();
    let mut root = mysql_async::Conn::new(opts).await.unwrap();
    let db = common::fresh_database(&mut root, "cluster_history").await;
    let t = format!("`{db}`.t");
    let from = common::binlog_end(&mut root).await;

    let mut cluster = Cluster::start("clhist").await;
    let config = json!({
        "name": TASK,
        "checkpoint_interval_ms": 200,
        "source": {"url": server.url("sluice"), "server_id": 4_950_901, "start": from},
        "filters": {"include": [format!("{db}\\..*")]},
        "sinks": [{"type": "file", "path": cluster.output.display().to_string()}],
    });
    cluster.post("/tasks", Some(&config));
    let (first, epoch) = cluster.wait_owner(Some(None)).await.expect("an owner");
    println!("{first} owns the task (epoch {epoch})");
    // Its history starts from information_schema before the table exists.
    let t0 = Instant::now();
    while !cluster.process(&first).log_text().contains(CAPTURED) {
        assert!(t0.elapsed() < WITHIN, "{first} started no schema history");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // --- 1. The owner dies before the DDLs ---
    root.query_drop(column_history::create_table(&t))
        .await
        .unwrap();
    let after_create = common::binlog_end(&mut root).await;
    root.query_drop(column_history::first_row(&t))
        .await
        .unwrap();
    let after_first_row = common::binlog_end(&mut root).await;
    cluster.wait_rows(&db, 1).await;
    cluster.wait_checkpoint(&after_first_row).await;
    let saved = cluster.history_in_zookeeper().await;
    assert_eq!(
        recorded_ddl(&saved).len(),
        1,
        "only the CREATE TABLE: {saved:#}"
    );
    cluster.kill(&first);

    // Written while nobody runs the task: when the next owner reads them, information_schema
    // shows only the final (id, remark).
    let statements =
        std::iter::once(column_history::add_column(&t)).chain(column_history::after_add_column(&t));
    for sql in statements {
        root.query_drop(sql).await.unwrap();
    }
    let (second, new_epoch) = cluster
        .wait_owner(Some(Some(&first)))
        .await
        .expect("an owner");
    assert!(new_epoch > epoch);
    println!("{second} took the task over (epoch {new_epoch})");
    let rows = cluster.wait_rows(&db, 4).await;
    column_history::check_rows(&rows, &column_history::expected_rows());
    let log = cluster.process(&second).log_text();
    assert!(
        log.contains(LOADED),
        "{second} did not load the saved history:\n{log}"
    );
    assert!(
        !log.contains(CAPTURED),
        "{second} read information_schema:\n{log}"
    );
    let saved = cluster.history_in_zookeeper().await;
    let ddl = recorded_ddl(&saved);
    assert_eq!(ddl.len(), 4, "{saved:#}");
    for (sql, words) in ddl[1..]
        .iter()
        .zip(["ADD COLUMN", "RENAME COLUMN", "DROP COLUMN"])
    {
        assert!(sql.contains(words), "{words} in {ddl:#?}");
    }
    println!("1. rows after the takeover decoded with the history {first} saved");

    // --- 2. The owner dies after the DDLs; restart from before all of them ---
    cluster.start_node(&first);
    cluster.kill(&second);
    cluster.post(&format!("/tasks/{TASK}/pause"), None);
    cluster.wait_owner(None).await;
    cluster.post(
        &format!("/tasks/{TASK}/restart"),
        Some(&json!({"position": after_create})),
    );
    std::fs::remove_file(&cluster.output).unwrap();
    cluster.post(&format!("/tasks/{TASK}/resume"), None);
    let (owner, _) = cluster
        .wait_owner(Some(Some(&second)))
        .await
        .expect("an owner");
    assert_eq!(owner, first);
    let rows = cluster.wait_rows(&db, 4).await;
    column_history::check_rows(&rows, &column_history::expected_rows());
    let log = cluster.process(&first).log_text();
    assert!(
        log.contains(LOADED),
        "{first} did not load the saved history:\n{log}"
    );
    assert!(
        !log.contains(CAPTURED),
        "{first} read information_schema:\n{log}"
    );
    println!("2. restarted from {after_create}: the DDLs replayed from the history in ZooKeeper");

    cluster.finish().await;
    root.disconnect().await.unwrap();
}
