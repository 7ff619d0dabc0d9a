//! Cluster mode through the manager's REST API, every part a process: `sluice manager` on a
//! SQLite store and three `sluice node` on the real ZooKeeper (under a root of the test's own),
//! the real MariaDB and Kafka. One task, created and driven through the API only:
//! - logins and roles: an unauthenticated write is 401, a viewer's write 403, an invalid config
//!   422 naming the field;
//! - created: within seconds one of the three nodes owns and runs it (the status's owner is the
//!   one in ZooKeeper), rows reach Kafka, the status counts them;
//! - a new config (another topic) is applied by the same node process, without a new claim, and
//!   the status shows the new revision;
//! - paused: no owner, rows written meanwhile are not delivered; resumed: they are;
//! - the manager stopped (SIGTERM): the task runs on; restarted on the same store: the status is
//!   right;
//! - the source password and a Kafka `sasl.password` are in no API response and no log;
//! - at every step at most one node's `/status` shows the task running.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::http;
use common::kafka::{create_topic, TopicIds};
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use sluice_core::coordination::{Coordinator, ZooKeeperConfig, ZooKeeperCoordinator};

/// The nodes' ZooKeeper session timeout.
const SESSION_SECS: u64 = 6;
const TASK: &str = "orders";
const ADMIN_PASSWORD: &str = "cluster-api-admin-pw";
/// How long anything the test waits for may take.
const WITHIN: Duration = Duration::from_secs(30);

fn zk() -> String {
    std::env::var("SLUICE_TEST_ZK").unwrap_or_else(|_| "127.0.0.1:12181".into())
}

/// A `sluice manager` process and its API address.
struct ManagerProcess {
    process: StandaloneProcess,
    addr: String,
}

impl ManagerProcess {
    fn start(dir: &TempDir, root: &str, n: u32) -> ManagerProcess {
        let (process, addr) = StandaloneProcess::manager(
            &dir.0,
            Some((&zk(), root)),
            ADMIN_PASSWORD,
            dir.0.join(format!("manager{n}.log")),
        );
        ManagerProcess { process, addr }
    }
}

/// The cluster, the task's table and topics, and every API response body seen (for the
/// secret check).
struct Cluster {
    dir: TempDir,
    root: String,
    manager: ManagerProcess,
    nodes: Vec<(String, StandaloneProcess, String)>,
    zk: ZooKeeperCoordinator,
    db: String,
    first_topic: String,
    second_topic: String,
    secrets: Vec<String>,
    responses: Vec<String>,
    /// How many times no two nodes were found running the task.
    single_runner_checks: u32,
}

impl Cluster {
    /// `method path` as `token`: the status code and the body as JSON.
    fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (code, body) = http::api(&self.manager.addr, method, path, token, body);
        self.responses.push(body.to_string());
        (code, body)
    }

    fn login(&mut self, user: &str, password: &str) -> String {
        http::login(&self.manager.addr, user, password)
    }

    /// `POST /tasks/TASK/{verb}` (`pause`, `resume`), answered with desired state `desired`.
    fn desire(&mut self, token: &str, verb: &str, desired: &str) {
        let (code, body) = self.call("POST", &format!("/tasks/{TASK}/{verb}"), Some(token), None);
        assert_eq!(
            (code, body["desired"].clone()),
            (200, json!(desired)),
            "{verb}: {body}"
        );
    }

    fn status(&mut self, token: &str) -> Value {
        let (code, body) = self.call("GET", &format!("/tasks/{TASK}/status"), Some(token), None);
        assert_eq!(code, 200, "status: {body}");
        body
    }

    /// The nodes whose `/status` shows the task starting or running; panics if more than one.
    fn runners(&mut self) -> Vec<String> {
        let mut runners = Vec::new();
        for (id, _, addr) in &self.nodes {
            let status = http::status(addr);
            let running = status["tasks"].as_array().is_some_and(|tasks| {
                tasks.iter().any(|t| {
                    t["name"] == TASK && matches!(t["state"].as_str(), Some("starting" | "running"))
                })
            });
            if running {
                runners.push(id.clone());
            }
        }
        assert!(
            runners.len() <= 1,
            "the task runs on {runners:?} at once; logs in {}",
            self.dir.0.display()
        );
        self.single_runner_checks += 1;
        runners
    }

    fn node_process(&mut self, id: &str) -> &mut StandaloneProcess {
        &mut self
            .nodes
            .iter_mut()
            .find(|(n, _, _)| n == id)
            .expect("a node")
            .1
    }

    /// Polls `check` (also checking no two nodes run the task) until it gives a value.
    async fn wait<T>(
        &mut self,
        what: &str,
        mut check: impl FnMut(&mut Cluster) -> Result<T, String>,
    ) -> (T, Duration) {
        let t = Instant::now();
        loop {
            self.runners();
            match check(self) {
                Ok(v) => return (v, t.elapsed()),
                Err(problem) => assert!(
                    t.elapsed() < WITHIN,
                    "{what}: not within {WITHIN:?}: {problem}; logs in {}",
                    self.dir.0.display()
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the status shows an owner among the nodes, reported running by it.
    async fn wait_running_owner(&mut self, token: &str, what: &str) -> (String, u64) {
        let node_ids: Vec<String> = self.nodes.iter().map(|n| n.0.clone()).collect();
        let (owner, _) = self
            .wait(what, |c| {
                let status = c.status(token);
                let owner = owner_of(&status).ok_or(format!("no owner: {status}"))?;
                if !node_ids.contains(&owner.0) {
                    return Err(format!("owner {owner:?} is not one of the nodes"));
                }
                let report = report(&status);
                if report["state"] != "running" || report["node"] != owner.0.as_str() {
                    return Err(format!("not reported running by its owner: {status}"));
                }
                Ok(owner)
            })
            .await;
        owner
    }

    /// The owner (node, epoch) ZooKeeper holds.
    async fn zk_owner(&self) -> Option<(String, u64)> {
        let view = self.zk.task_view(TASK).await.expect("ZooKeeper answers")?;
        view.owner.map(|o| (o.node, o.epoch))
    }

    async fn insert(&self, ids: std::ops::RangeInclusive<u64>) {
        let mut conn = common::root_conn().await;
        let ids: Vec<u64> = ids.collect();
        for batch in ids.chunks(10) {
            let values: Vec<String> = batch.iter().map(|i| format!("({i}, 'row {i}')")).collect();
            conn.query_drop(format!(
                "INSERT INTO `{}`.t VALUES {}",
                self.db,
                values.join(",")
            ))
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The owner (node, epoch) a `GET /tasks/{name}/status` shows.
fn owner_of(status: &Value) -> Option<(String, u64)> {
    let owner = &status["coordinator"]["owner"];
    Some((
        owner["node"].as_str()?.to_string(),
        owner["epoch"].as_u64()?,
    ))
}

/// The owner's last status report (state, revision, counts) in a status.
fn report(status: &Value) -> &Value {
    &status["coordinator"]["status"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_driven_through_the_manager_api_on_three_nodes() {
    let started = Instant::now();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let run = format!("{}x{}", now.as_millis(), std::process::id());
    let root = format!("/sluice-test-clapi{run}");
    let dir = TempDir::new("clapi");

    // A replication user of the test's own, so that its password is one no log has otherwise.
    let source_password = format!("src-pw-{run}");
    let kafka_password = format!("k4fka-pw-{run}");
    let mut conn = common::root_conn().await;
    conn.query_drop(format!(
        "CREATE OR REPLACE USER 'sluice_clapi'@'%' IDENTIFIED BY '{source_password}'"
    ))
    .await
    .unwrap();
    conn.query_drop(
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'sluice_clapi'@'%'",
    )
    .await
    .unwrap();
    let db = common::fresh_database(&mut conn, "clapi").await;
    conn.query_drop(format!(
        "CREATE TABLE `{db}`.t (id BIGINT PRIMARY KEY, note VARCHAR(40))"
    ))
    .await
    .unwrap();
    let start = common::binlog_end(&mut conn).await;
    let base = common::mysql_url();
    let host = base.rsplit_once('@').map_or(base.as_str(), |(_, h)| h);
    let source_url = format!("mysql://sluice_clapi:{source_password}@{host}");

    let first_topic = format!("clapi{run}a");
    let second_topic = format!("clapi{run}b");
    create_topic(&common::kafka::brokers(), &first_topic, 1).await;
    create_topic(&common::kafka::brokers(), &second_topic, 1).await;
    let first = TopicIds::follow(&common::kafka::brokers(), &first_topic, 1);
    let second = TopicIds::follow(&common::kafka::brokers(), &second_topic, 1);

    let mut zk_config = ZooKeeperConfig::new(zk());
    zk_config.root = root.clone();
    let zk_view = ZooKeeperCoordinator::connect(&zk_config)
        .await
        .unwrap_or_else(|e| panic!("ZooKeeper at {}: {e} (bash tests/services/start.sh)", zk()));
    let manager = ManagerProcess::start(&dir, &root, 1);
    let mut nodes = Vec::new();
    for n in 0..3 {
        let id = format!("node{n}");
        let log = dir.0.join(format!("{id}.log"));
        let mut process = StandaloneProcess::node(&zk(), &root, &id, SESSION_SECS, log);
        let addr = http::http_addr(&mut process);
        nodes.push((id, process, addr));
    }
    let mut c = Cluster {
        dir,
        root,
        manager,
        nodes,
        zk: zk_view,
        db,
        first_topic,
        second_topic,
        secrets: vec![source_password.clone(), kafka_password.clone()],
        responses: Vec::new(),
        single_runner_checks: 0,
    };

    // Logins and roles.
    let admin = c.login("admin", ADMIN_PASSWORD);
    let config = json!({
        "name": TASK,
        "checkpoint_interval_ms": 200,
        "source": {"url": source_url, "server_id": 4_100_971, "start": start},
        "filters": {"include": [format!("{}\\..*", c.db)]},
        "sinks": [{
            "type": "kafka", "name": "events", "brokers": common::kafka::brokers(), "topic": c.first_topic,
            "properties": {"sasl.password": kafka_password, "client.id": "cluster-api"}
        }],
    });
    let (code, body) = c.call("POST", "/tasks", None, Some(&config));
    assert_eq!(code, 401, "an unauthenticated write: {body}");
    let viewer = json!({"name": "vera", "password": "viewer-pw-1", "role": "viewer"});
    let (code, body) = c.call("POST", "/users", Some(&admin), Some(&viewer));
    assert_eq!(code, 201, "creating a viewer: {body}");
    let vera = c.login("vera", "viewer-pw-1");
    let (code, body) = c.call("POST", "/tasks", Some(&vera), Some(&config));
    assert_eq!(code, 403, "a viewer's write: {body}");
    let mut invalid = config.clone();
    invalid["sinks"][0]["topic"] = json!("bad topic!");
    let (code, body) = c.call("POST", "/tasks", Some(&admin), Some(&invalid));
    assert_eq!(code, 422, "an invalid config: {body}");
    assert_eq!(body["errors"][0]["field"], "sinks[0].topic", "{body}");
    let (code, _) = c.call("GET", &format!("/tasks/{TASK}"), Some(&admin), None);
    assert_eq!(code, 404, "nothing stored from the refused writes");
    println!("roles: 401 / 403 / 422 (sinks[0].topic) as expected");

    // Created: one node owns and runs it; rows reach Kafka; the status counts them.
    let created = Instant::now();
    let (code, body) = c.call("POST", "/tasks", Some(&admin), Some(&config));
    assert_eq!(code, 201, "creating the task: {body}");
    assert_eq!(body["revision"], 1, "{body}");
    assert_eq!(
        body["config"]["source"]["url"],
        format!("mysql://sluice_clapi:***@{host}")
    );
    let owner = c
        .wait_running_owner(&admin, "an owner running the task")
        .await;
    let claimed_in = created.elapsed();
    assert_eq!(c.zk_owner().await, Some(owner.clone()), "ZooKeeper's owner");
    assert_eq!(
        c.runners(),
        vec![owner.0.clone()],
        "the owner runs the task"
    );
    println!(
        "{} owns the task (epoch {}) {claimed_in:?} after its creation",
        owner.0, owner.1
    );
    let writing = Instant::now();
    c.insert(1..=200).await;
    let (_, took) = c
        .wait("rows 1..=200 in the first topic", |_| {
            first.has_all(1..=200)
        })
        .await;
    println!("rows 1..=200 in Kafka {took:?} after the writes ended");
    let (counts, _) = c
        .wait("the status counting the events", |c| {
            let status = c.status(&admin);
            let r = report(&status);
            let total = r["events_total"].as_u64().unwrap_or(0);
            if total >= 200 {
                Ok((total, r["events_per_sec"].clone(), r["lag_ms"].clone()))
            } else {
                Err(format!("events_total {total}: {status}"))
            }
        })
        .await;
    assert_eq!(c.zk_owner().await, Some(owner.clone()));
    println!(
        "status: events_total {}, events_per_sec {}, lag_ms {} ({:?} after the writes began); \
         {} messages in the topic",
        counts.0,
        counts.1,
        counts.2,
        writing.elapsed(),
        first.messages.load(Ordering::SeqCst)
    );
    // The nodes need the secrets: ZooKeeper holds them (so the checks below mean something).
    let view = c.zk.task_view(TASK).await.unwrap().expect("the task");
    let published = view.published.expect("a published config");
    assert_eq!(published.config["source"]["url"], source_url);
    assert_eq!(
        published.config["sinks"][0]["properties"]["sasl.password"],
        kafka_password.as_str()
    );

    // A new config: another topic, applied by the same process without a new claim.
    let pid = c.node_process(&owner.0).child.id();
    let (code, shown) = c.call("GET", &format!("/tasks/{TASK}"), Some(&admin), None);
    assert_eq!(code, 200, "{shown}");
    assert_eq!(
        shown["config"]["sinks"][0]["properties"]["sasl.password"],
        "***"
    );
    let mut edited = shown["config"].clone();
    edited["sinks"][0]["topic"] = json!(c.second_topic);
    let (code, body) = c.call(
        "PUT",
        &format!("/tasks/{TASK}"),
        Some(&admin),
        Some(&edited),
    );
    assert_eq!(code, 200, "updating the task: {body}");
    assert_eq!(body["revision"], 2, "{body}");
    let (_, took) = c
        .wait("revision 2 reported by the same owner", |c| {
            let status = c.status(&admin);
            if report(&status)["revision"] == 2
                && report(&status)["state"] == "running"
                && owner_of(&status).as_ref() == Some(&owner)
            {
                Ok(())
            } else {
                Err(format!("{status}"))
            }
        })
        .await;
    println!("revision 2 running {took:?} after the update");
    c.insert(201..=300).await;
    c.wait("rows 201..=300 in the second topic", |_| {
        second.has_all(201..=300)
    })
    .await;
    let delivered_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (after, _) = c
        .wait("a status report made after they arrived", |c| {
            let status = c.status(&admin);
            let r = report(&status).clone();
            match r["at_ms"].as_u64() {
                Some(at) if at > delivered_ms => Ok(r),
                _ => Err(format!("{status}")),
            }
        })
        .await;
    assert_eq!(after["revision"], 2, "{after}");
    assert_eq!(after["state"], "running", "{after}");
    assert!(after["events_total"].as_u64() > Some(0), "{after}");
    println!(
        "revision 2 status after rows 201..=300: events_total {}",
        after["events_total"]
    );
    let process = c.node_process(&owner.0);
    process.assert_running();
    assert_eq!(process.child.id(), pid);
    assert!(
        process.log_text().contains("New config revision"),
        "the owner applied the new revision itself"
    );
    assert!(
        first.any_of(201..=300).is_empty(),
        "rows written after revision 2 ran went to the old topic"
    );
    assert_eq!(c.zk_owner().await, Some(owner.clone()), "no new claim");
    let status = c.status(&admin);
    assert_eq!(
        (
            status["revision"].clone(),
            status["published_revision"].clone()
        ),
        (json!(2), json!(2)),
        "{status}"
    );
    println!("revision 2 applied in place by {} (pid {pid})", owner.0);

    // Paused: no owner, nothing delivered; resumed: delivered.
    c.desire(&admin, "pause", "paused");
    let (_, took) = c
        .wait("no owner after the pause", |c| {
            let status = c.status(&admin);
            match owner_of(&status) {
                None if c.runners().is_empty() => Ok(()),
                _ => Err(format!("{status}")),
            }
        })
        .await;
    println!(
        "paused: no owner {took:?} after the pause (last report: {})",
        report(&c.status(&admin))
    );
    assert_eq!(c.zk_owner().await, None);
    c.insert(301..=350).await;
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(c.runners().is_empty(), "a node runs the paused task");
    }
    assert!(
        second.any_of(301..=350).is_empty() && first.any_of(301..=350).is_empty(),
        "rows written while paused were delivered"
    );
    c.desire(&admin, "resume", "running");
    let (_, took) = c
        .wait(
            "rows 301..=350 in the second topic after the resume",
            |_| second.has_all(301..=350),
        )
        .await;
    println!("resumed: the rows written while paused delivered {took:?} after the resume");
    let owner = c
        .wait_running_owner(&admin, "an owner running the resumed task")
        .await;
    assert_eq!(c.zk_owner().await, Some(owner.clone()));
    println!("resumed on {} (epoch {})", owner.0, owner.1);

    // The manager stopped: the task runs on; restarted on the same store: the right status.
    let exit = c.manager.process.terminate(Duration::from_secs(20));
    assert!(
        exit.is_some_and(|e| e.success()),
        "the manager did not stop cleanly on SIGTERM: {exit:?}"
    );
    println!("manager stopped: {exit:?}");
    c.insert(351..=450).await;
    c.wait("rows 351..=450 in Kafka without a manager", |_| {
        second.has_all(351..=450)
    })
    .await;
    c.manager = ManagerProcess::start(&c.dir, &c.root, 2);
    let status = c.status(&admin);
    assert_eq!(owner_of(&status), Some(owner.clone()), "{status}");
    assert_eq!(report(&status)["state"], "running", "{status}");
    assert_eq!(report(&status)["revision"], 2, "{status}");
    assert_eq!(status["revision"], 2, "{status}");
    assert_eq!(status["published_revision"], 2, "{status}");
    assert_eq!(status["desired"], "running", "{status}");
    assert_eq!(c.zk_owner().await, Some(owner.clone()));
    println!("manager restarted: the token still works, status {owner:?} running at revision 2");

    // Secrets: in no response (every read route included), no log.
    for path in [
        "/tasks".to_string(),
        format!("/tasks/{TASK}/revisions"),
        format!("/tasks/{TASK}/revisions/1"),
        "/nodes".to_string(),
    ] {
        let (code, body) = c.call("GET", &path, Some(&admin), None);
        assert_eq!(code, 200, "GET {path}: {body}");
    }
    let (code, body) = c.call("DELETE", &format!("/tasks/{TASK}"), Some(&admin), None);
    assert!(
        code == 200 || code == 204,
        "deleting the task: {code} {body}"
    );
    let (code, audit) = c.call("GET", "/audit", Some(&admin), None);
    assert_eq!(code, 200, "{audit}");
    for secret in &c.secrets {
        for body in &c.responses {
            assert!(
                !body.contains(secret.as_str()),
                "a response shows a secret: {body}"
            );
        }
    }
    let mut logs = vec![c.manager.process.log.clone(), c.dir.0.join("manager1.log")];
    logs.extend(c.nodes.iter().map(|n| n.1.log.clone()));
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(!text.is_empty(), "{} is empty", log.display());
        for secret in &c.secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{} holds a secret",
                log.display()
            );
        }
    }
    println!(
        "no secret in {} responses nor {} logs; {} single-runner checks; total {:?}",
        c.responses.len(),
        logs.len(),
        c.single_runner_checks,
        started.elapsed()
    );
    for (_, process, _) in &mut c.nodes {
        process.terminate(Duration::from_secs(20));
    }
    c.manager.process.terminate(Duration::from_secs(20));
}
