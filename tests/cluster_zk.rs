//! Cluster mode end to end: three `sluice node` processes on the real ZooKeeper, a task
//! published through the ZooKeeper coordinator (the manager's role), the real MariaDB and the
//! Kafka broker.
//! - `kill -9` of the owning node under load: another node takes the task over within the
//!   session timeout plus 10 s, and every committed row is in Kafka.
//! - The owning node frozen (SIGSTOP) past its session timeout, then resumed: another node took
//!   the task over, and the woken node writes no checkpoint after it (every checkpoint read
//!   after the takeover carries the new owner's epoch), no message to Kafka (none arrives once
//!   the new owner has delivered everything), and stops its task itself.
//!
//! Each test works under its own ZooKeeper root and Kafka topic.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::kafka::{create_topic, TopicIds};
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::json;
use sluice_core::coordination::{
    Coordinator, DesiredState, PublishedTask, ZooKeeperConfig, ZooKeeperCoordinator,
};

/// The nodes' ZooKeeper session timeout.
const SESSION_SECS: u64 = 6;
const PARTITIONS: i32 = 3;

fn zk() -> String {
    std::env::var("SLUICE_TEST_ZK").unwrap_or_else(|_| "127.0.0.1:12181".into())
}

fn run_id(tag: &str) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{tag}{}x{}", now.as_millis(), std::process::id())
}

/// A cluster of three nodes under `root`, the manager's session, a table and a topic.
struct Cluster {
    root: String,
    manager: ZooKeeperCoordinator,
    nodes: Vec<(String, StandaloneProcess)>,
    db: String,
    topic: String,
    dir: TempDir,
    ids: TopicIds,
}

impl Cluster {
    async fn start(tag: &str, server_id: u32) -> Cluster {
        let run = run_id(tag);
        let root = format!("/sluice-test-{run}");
        let mut config = ZooKeeperConfig::new(zk());
        config.root = root.clone();
        let manager = ZooKeeperCoordinator::connect(&config)
            .await
            .unwrap_or_else(|e| {
                panic!("ZooKeeper at {}: {e} (bash tests/services/start.sh)", zk())
            });
        let mut conn = common::root_conn().await;
        let db = common::fresh_database(&mut conn, tag).await;
        conn.query_drop(format!("CREATE TABLE `{db}`.t (id BIGINT PRIMARY KEY)"))
            .await
            .unwrap();
        let start = common::binlog_end(&mut conn).await;
        let topic = format!("cl{run}");
        create_topic(&common::kafka::brokers(), &topic, PARTITIONS).await;
        let dir = TempDir::new(tag);
        let mut nodes = Vec::new();
        for n in 0..3 {
            let id = format!("node{n}");
            let log = dir.0.join(format!("{id}.log"));
            let node = StandaloneProcess::node(&zk(), &root, &id, SESSION_SECS, log);
            nodes.push((id, node));
        }
        let task = json!({
            "name": "orders",
            "checkpoint_interval_ms": 200,
            "source": {"url": common::mysql_url(), "server_id": server_id, "start": start},
            "filters": {"include": [format!("{db}\\..*")]},
            "sinks": [{"type": "kafka", "brokers": common::kafka::brokers(), "topic": topic}],
        });
        manager
            .publish_task(
                "orders",
                &PublishedTask {
                    revision: 1,
                    config: task,
                },
            )
            .await
            .unwrap();
        manager
            .set_desired("orders", DesiredState::Running)
            .await
            .unwrap();
        let ids = TopicIds::follow(&common::kafka::brokers(), &topic, PARTITIONS);
        Cluster {
            root,
            manager,
            nodes,
            db,
            topic,
            dir,
            ids,
        }
    }

    /// The task's owner (node id and epoch), if any.
    async fn owner(&self) -> Option<(String, u64)> {
        let view = self.manager.task_view("orders").await.ok()??;
        view.owner.map(|o| (o.node, o.epoch))
    }

    async fn wait_owner(&self, not: Option<&str>, within: Duration) -> (String, u64, Duration) {
        let t = Instant::now();
        loop {
            if let Some((node, epoch)) = self.owner().await {
                if Some(node.as_str()) != not {
                    return (node, epoch, t.elapsed());
                }
            }
            assert!(
                t.elapsed() < within,
                "no (new) owner within {within:?}; logs in {}",
                self.dir.0.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn node(&mut self, id: &str) -> &mut StandaloneProcess {
        &mut self
            .nodes
            .iter_mut()
            .find(|(n, _)| n == id)
            .expect("a node")
            .1
    }

    /// Starts a writer committing ids 1..=total, 10 per transaction, every 20 ms.
    async fn writer(&self, total: u64, committed: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
        let mut conn = common::root_conn().await;
        let db = self.db.clone();
        tokio::spawn(async move {
            let mut next = 1;
            while next <= total {
                let values: Vec<String> = (next..next + 10).map(|i| format!("({i})")).collect();
                conn.query_drop(format!("INSERT INTO `{db}`.t VALUES {}", values.join(",")))
                    .await
                    .unwrap();
                next += 10;
                committed.store(next - 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    }

    /// Waits until every id up to `total` is in Kafka.
    async fn wait_all(&self, total: u64) {
        let t = Instant::now();
        while (self.ids.count() as u64) < total {
            let missing = total - self.ids.count() as u64;
            assert!(
                t.elapsed() < Duration::from_secs(90),
                "{missing} of {total} rows never reached Kafka (topic {}); logs in {}",
                self.topic,
                self.dir.0.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until no message has arrived for `quiet`; returns how many came in all.
    async fn wait_quiet(&self, quiet: Duration) -> u64 {
        let t = Instant::now();
        let mut last = self.ids.messages.load(Ordering::SeqCst);
        let mut since = Instant::now();
        while since.elapsed() < quiet {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "messages keep arriving; logs in {}",
                self.dir.0.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = self.ids.messages.load(Ordering::SeqCst);
            if now != last {
                (last, since) = (now, Instant::now());
            }
        }
        last
    }

    async fn finish(self) {
        for (_, mut p) in self.nodes {
            p.terminate(Duration::from_secs(20));
        }
        let _ = self.manager.remove_task("orders").await;
        println!("cluster root {} done", self.root);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_9_of_the_owner_moves_the_task_and_loses_no_row() {
    let mut cluster = Cluster::start("clkill", 4_100_961).await;
    let (first, epoch, claimed_in) = cluster.wait_owner(None, Duration::from_secs(30)).await;
    println!("{first} claimed the task (epoch {epoch}) in {claimed_in:?}");
    let committed = Arc::new(AtomicU64::new(0));
    let writer = cluster.writer(3000, committed.clone()).await;
    while committed.load(Ordering::SeqCst) < 1000 || cluster.ids.count() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let owner = cluster.node(&first);
    owner.child.kill().unwrap();
    owner.child.wait().unwrap();
    let killed = Instant::now();
    let (second, new_epoch, _) = cluster
        .wait_owner(Some(&first), Duration::from_secs(SESSION_SECS + 10))
        .await;
    let takeover = killed.elapsed();
    assert!(new_epoch > epoch, "a new claim has a higher epoch");
    writer.await.unwrap();
    cluster.wait_all(3000).await;
    println!(
        "{first} killed at {} rows committed; {second} took over in {:.1} s (session timeout \
         {SESSION_SECS} s); all 3000 rows in Kafka",
        1000,
        takeover.as_secs_f64()
    );
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_writes_no_checkpoint_and_no_event_after_its_session_expired() {
    let mut cluster = Cluster::start("clstop", 4_100_962).await;
    let (first, epoch, _) = cluster.wait_owner(None, Duration::from_secs(30)).await;
    let committed = Arc::new(AtomicU64::new(0));
    let writer = cluster.writer(2000, committed.clone()).await;
    while committed.load(Ordering::SeqCst) < 500 || cluster.ids.count() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = cluster.node(&first).child.id().to_string();
    let signal = |sig: &str| {
        assert!(std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .is_ok_and(|s| s.success()));
    };
    signal("-STOP");
    let (second, new_epoch, took) = cluster
        .wait_owner(Some(&first), Duration::from_secs(SESSION_SECS + 10))
        .await;
    assert!(new_epoch > epoch);
    println!(
        "{first} frozen; {second} took over in {:.1} s",
        took.as_secs_f64()
    );
    // Wait for the new owner's first checkpoint, then wake the old owner up.
    let t = Instant::now();
    loop {
        let view = cluster.manager.task_view("orders").await.ok().flatten();
        if view
            .and_then(|v| v.checkpoint)
            .is_some_and(|c| c.epoch == new_epoch)
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the new owner wrote no checkpoint; logs in {}",
            cluster.dir.0.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every row is in Kafka through the new owner, and it has nothing more to send: from now
    // on no message may arrive, whoever would send it.
    writer.await.unwrap();
    cluster.wait_all(2000).await;
    let quiet = cluster.wait_quiet(Duration::from_secs(3)).await;
    signal("-CONT");
    // For a while after the wake-up, every checkpoint is the new owner's.
    let t = Instant::now();
    let mut seen = 0;
    while t.elapsed() < Duration::from_secs(6) {
        if let Ok(Some(view)) = cluster.manager.task_view("orders").await {
            if let Some(c) = view.checkpoint {
                assert_eq!(
                    c.epoch, new_epoch,
                    "a checkpoint written by the old owner (epoch {}) after its session expired",
                    c.epoch
                );
                seen += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen > 0, "no checkpoint read");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = cluster.ids.messages.load(Ordering::SeqCst);
    assert_eq!(
        after,
        quiet,
        "{} message(s) reached Kafka after the old owner woke up, its session long expired; \
         logs in {}",
        after.saturating_sub(quiet),
        cluster.dir.0.display()
    );
    println!("{quiet} messages in Kafka before the wake-up, none after");
    let old_log = cluster.node(&first).log_text();
    assert!(
        old_log.contains("Task stopped at once") || old_log.contains("fenced off"),
        "the woken node stops its task itself; its log:\n{old_log}"
    );
    assert_eq!(cluster.owner().await.map(|o| o.0), Some(second.clone()));
    cluster.finish().await;
}
