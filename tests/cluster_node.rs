//! Node agents (cluster mode) on the in-process coordinator, with the real MariaDB: two nodes
//! share two tasks one each; a node that loses its coordinator connection stops its task at
//! once; when its session expires the other node takes the task over from its checkpoint and
//! every committed row reaches the sink; a paused task stops and resumes; a new config
//! revision is applied without restarting the node.
//!
//! The ZooKeeper coordinator is tested against the real ZooKeeper in `coordination_zk.rs`; this
//! file tests the node's own rules.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use serde_json::json;
use sluice_core::coordination::{
    Coordinator, DesiredState, InProcessCoordinator, NodeInfo, PublishedTask,
};
use sluice_node::cluster::NodeAgent;
use sluice_node::telemetry::Telemetry;
use tokio::sync::watch;

use common::standalone::TempDir;

/// The nodes' write lease (the agents renew it every 2 s).
const LEASE: Duration = Duration::from_secs(5);

fn node(id: &str) -> NodeInfo {
    NodeInfo {
        id: id.into(),
        addr: "127.0.0.1:0".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        labels: vec![],
        started_at_ms: 0,
    }
}

/// A task reading `db` from `start` into the JSON-lines file `out`.
fn task(name: &str, db: &str, start: &str, out: &Path, server_id: u32) -> serde_json::Value {
    json!({
        "name": name,
        "checkpoint_interval_ms": 100,
        "source": {"url": common::mysql_url(), "server_id": server_id, "start": start},
        "filters": {"include": [format!("{db}\\..*")]},
        "sinks": [{"type": "file", "path": out.to_str().unwrap()}],
    })
}

/// The ids of the insert events in a sink file.
fn ids_in(path: &Path) -> BTreeSet<u64> {
    let bytes = std::fs::read(path).unwrap_or_default();
    common::parse_lines(&bytes)
        .iter()
        .filter(|e| e["op"] == "c")
        .filter_map(|e| e["after"]["id"].as_u64())
        .collect()
}

async fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let t = Instant::now();
    while !check() {
        assert!(t.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn insert(conn: &mut mysql_async::Conn, db: &str, ids: std::ops::RangeInclusive<u64>) {
    for id in ids {
        conn.query_drop(format!("INSERT INTO `{db}`.t VALUES ({id})"))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_tasks_fence_on_disconnect_and_take_over_after_expiry() {
    let mut root = common::root_conn().await;
    let dbs = [
        common::fresh_database(&mut root, "cluster_a").await,
        common::fresh_database(&mut root, "cluster_b").await,
    ];
    for db in &dbs {
        root.query_drop(format!("CREATE TABLE `{db}`.t (id BIGINT PRIMARY KEY)"))
            .await
            .unwrap();
    }
    let start = common::binlog_end(&mut root).await;
    let dir = TempDir::new("cluster-node");
    let outs = [dir.0.join("a.jsonl"), dir.0.join("b.jsonl")];

    let manager = InProcessCoordinator::new();
    for (i, db) in dbs.iter().enumerate() {
        let name = format!("task{i}");
        let config = task(&name, db, &start, &outs[i], 4_100_950 + i as u32);
        manager
            .publish_task(
                &name,
                &PublishedTask {
                    revision: 1,
                    config,
                },
            )
            .await
            .unwrap();
        manager
            .set_desired(&name, DesiredState::Running)
            .await
            .unwrap();
    }

    let session_a = Arc::new(manager.new_session());
    let session_b = Arc::new(manager.new_session());
    let (stop_tx, stop_rx) = watch::channel(false);
    let agent_a = tokio::spawn(
        NodeAgent::new(session_a.clone(), node("a"), Telemetry::default(), LEASE)
            .run(stop_rx.clone()),
    );
    let agent_b = tokio::spawn(
        NodeAgent::new(session_b.clone(), node("b"), Telemetry::default(), LEASE)
            .run(stop_rx.clone()),
    );

    // Each node ends up with one task (fair share of 2 tasks on 2 nodes): the node that
    // registered first may claim both, then hands one over when it sees the other node.
    let owners = || async {
        let mut owners = Vec::new();
        for name in ["task0", "task1"] {
            let view = manager.task_view(name).await.unwrap().unwrap();
            owners.push(view.owner.map(|o| o.node));
        }
        owners
    };
    let t = Instant::now();
    loop {
        let o = owners().await;
        let set: BTreeSet<_> = o.iter().flatten().collect();
        if o.iter().all(Option::is_some) && set.len() == 2 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the tasks are not one per node: {o:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    insert(&mut root, &dbs[0], 1..=20).await;
    insert(&mut root, &dbs[1], 1..=20).await;
    wait_for("the first rows", Duration::from_secs(30), || {
        ids_in(&outs[0]).len() == 20 && ids_in(&outs[1]).len() == 20
    })
    .await;

    // Node a loses its connection: its task stops at once, nothing more reaches its sink.
    let a_task = owners()
        .await
        .iter()
        .position(|o| o.as_deref() == Some("a"))
        .unwrap();
    session_a.set_connected(false);
    tokio::time::sleep(Duration::from_millis(500)).await;
    insert(&mut root, &dbs[a_task], 21..=40).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_takeover = ids_in(&outs[a_task]);
    assert!(
        before_takeover.iter().all(|&id| id <= 20),
        "a disconnected node wrote rows: {before_takeover:?}"
    );

    // Its session expires: node b takes the task over from the checkpoint.
    session_a.expire();
    wait_for("the takeover", Duration::from_secs(30), || {
        ids_in(&outs[a_task]).len() == 40
    })
    .await;
    let view = manager
        .task_view(&format!("task{a_task}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.owner.as_ref().map(|o| o.node.as_str()), Some("b"));

    // Pause: the task stops and is released; rows written meanwhile come after resume.
    let name = format!("task{a_task}");
    manager
        .set_desired(&name, DesiredState::Paused)
        .await
        .unwrap();
    let t = Instant::now();
    while manager
        .task_view(&name)
        .await
        .unwrap()
        .unwrap()
        .owner
        .is_some()
    {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the paused task stays owned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    insert(&mut root, &dbs[a_task], 41..=50).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        ids_in(&outs[a_task]).len(),
        40,
        "a paused task writes nothing"
    );
    manager
        .set_desired(&name, DesiredState::Running)
        .await
        .unwrap();
    wait_for("the resumed rows", Duration::from_secs(30), || {
        ids_in(&outs[a_task]).len() == 50
    })
    .await;

    // A new revision (another sink file) is applied by the running node.
    let new_out = dir.0.join("new.jsonl");
    let config = task(
        &name,
        &dbs[a_task],
        &start,
        &new_out,
        4_100_950 + a_task as u32,
    );
    manager
        .publish_task(
            &name,
            &PublishedTask {
                revision: 2,
                config,
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    insert(&mut root, &dbs[a_task], 51..=55).await;
    wait_for(
        "rows in the new revision's sink",
        Duration::from_secs(30),
        || ids_in(&new_out).len() == 5,
    )
    .await;
    // The node reports the task's status, with the revision it runs.
    let t = Instant::now();
    let status = loop {
        let status = manager.task_view(&name).await.unwrap().unwrap().status;
        if let Some(s) = status.filter(|s| s.revision == 2 && s.state == "running") {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no status report of revision 2"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.node, "b");
    assert_eq!(status.sinks.len(), 1);
    println!("status after the new revision: {status:?}");

    let _ = stop_tx.send(true);
    agent_a.await.unwrap().ok();
    agent_b.await.unwrap().unwrap();
}
