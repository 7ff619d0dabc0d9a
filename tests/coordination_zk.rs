//! The ZooKeeper coordinator against the real ZooKeeper of `tests/services` (`SLUICE_TEST_ZK`,
//! default 127.0.0.1:12181). Each test works under its own root `/sluice-test-{run}-{test}` and
//! deletes it at the end. Several sessions stand for several nodes and the manager.
//!
//! The shared ZooKeeper is never paused: the disconnect and expiry scenario cuts one session's
//! connection with a TCP forwarder of its own (`common::private_services::TcpProxy`).

mod common;

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::private_services::TcpProxy;
use sluice_core::coordination::{
    CoordinationError, Coordinator, DesiredState, NodeInfo, Ownership, PublishedTask,
    TaskStatusReport, ZooKeeperConfig, ZooKeeperCoordinator,
};
use sluice_core::snapshot_progress::{KeyValue, SnapshotProgress};
use sluice_core::BinlogPosition;

fn zk_addr() -> String {
    std::env::var("SLUICE_TEST_ZK").unwrap_or_else(|_| "127.0.0.1:12181".into())
}

/// This run's id: test roots of different runs never meet.
fn run_id() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{nanos}", std::process::id())
    })
}

/// The root of one test, and the means to open sessions under it and to delete it.
struct TestTree {
    root: String,
}

impl TestTree {
    fn new(test: &str) -> TestTree {
        TestTree {
            root: format!("/sluice-test-{}-{test}", run_id()),
        }
    }

    fn config(&self, connect: &str, session_timeout: Duration) -> ZooKeeperConfig {
        ZooKeeperConfig {
            connect: connect.to_string(),
            root: self.root.clone(),
            session_timeout,
        }
    }

    /// A session on the shared ZooKeeper, or a panic saying how to start it.
    async fn session(&self) -> ZooKeeperCoordinator {
        let config = self.config(&zk_addr(), Duration::from_secs(10));
        match ZooKeeperCoordinator::connect(&config).await {
            Ok(c) => c,
            Err(e) => panic!(
                "the ZooKeeper test service is not reachable at {} ({e}): start it with \
                 `bash tests/services/start.sh zookeeper` (install first: \
                 tests/services/install.sh zookeeper)",
                zk_addr()
            ),
        }
    }

    /// Deletes the whole tree (depth first).
    async fn delete(self) {
        let client = zookeeper_client::Client::connect(&zk_addr())
            .await
            .expect("a cleanup session");
        let mut stack = vec![self.root.clone()];
        let mut order = Vec::new();
        while let Some(path) = stack.pop() {
            if let Ok(children) = client.list_children(&path).await {
                stack.extend(children.into_iter().map(|c| format!("{path}/{c}")));
            }
            order.push(path);
        }
        for path in order.iter().rev() {
            match client.delete(path, None).await {
                Ok(()) | Err(zookeeper_client::Error::NoNode) => {}
                Err(e) => panic!("cleanup: cannot delete {path}: {e}"),
            }
        }
    }
}

fn published(revision: u64) -> PublishedTask {
    PublishedTask {
        revision,
        config: serde_json::json!({ "name": "orders", "revision": revision }),
    }
}

fn node(id: &str) -> NodeInfo {
    NodeInfo {
        id: id.to_string(),
        addr: format!("{id}.example:9100"),
        version: "0.1.0".into(),
        labels: vec!["eu".into()],
        started_at_ms: 1,
    }
}

fn pos(offset: u64) -> BinlogPosition {
    BinlogPosition::new("binlog.000003", offset)
}

fn status(node: &str) -> TaskStatusReport {
    TaskStatusReport {
        state: "running".into(),
        node: node.to_string(),
        revision: 1,
        lag_ms: Some(20),
        events_per_sec: 3.0,
        events_total: 30,
        sinks: vec![],
        last_error: None,
        at_ms: 2,
        snapshot: None,
    }
}

/// Polls `check` every 100 ms until it gives `Some`, or panics after `within` naming `what`.
async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let t0 = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(t0.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for the next change notice (at most 5 s), then marks it seen.
async fn expect_notice(changes: &mut tokio::sync::watch::Receiver<u64>, what: &str) {
    tokio::time::timeout(Duration::from_secs(5), changes.changed())
        .await
        .unwrap_or_else(|_| panic!("no change notice for {what} within 5 s"))
        .expect("the notice channel is open");
    changes.borrow_and_update();
}

async fn checkpoint_of(c: &ZooKeeperCoordinator, task: &str) -> Option<BinlogPosition> {
    let view = c.task_view(task).await.unwrap().expect("the task exists");
    view.checkpoint.map(|cp| cp.position)
}

#[tokio::test]
async fn one_claim_wins_and_the_loser_takes_over_when_the_winner_session_closes() {
    let tree = TestTree::new("claim");
    let manager = tree.session().await;
    manager.publish_task("orders", &published(1)).await.unwrap();
    let a = tree.session().await;
    let b = tree.session().await;

    // Both claim at once: exactly one wins.
    let (from_a, from_b) = tokio::join!(a.try_claim("orders", "a"), b.try_claim("orders", "b"));
    let (from_a, from_b) = (from_a.unwrap(), from_b.unwrap());
    assert!(
        from_a.is_some() != from_b.is_some(),
        "exactly one claim wins: {from_a:?} {from_b:?}"
    );
    let (winner, loser, won, loser_id) = match from_a {
        Some(won) => (a, b, won, "b"),
        None => (b, a, from_b.unwrap(), "a"),
    };
    assert_eq!(loser.try_claim("orders", loser_id).await.unwrap(), None);
    // A retried claim by the winner's session gives back the same ownership.
    assert_eq!(
        winner.try_claim("orders", &won.node).await.unwrap(),
        Some(won.clone())
    );
    let view = manager.task_view("orders").await.unwrap().unwrap();
    assert_eq!(view.owner, Some(won.clone()));

    winner.close().await;
    let taken = loser
        .try_claim("orders", loser_id)
        .await
        .unwrap()
        .expect("the owner znode went with the winner's session");
    assert!(taken.epoch > won.epoch, "{taken:?} after {won:?}");
    assert_eq!(taken.node, loser_id);

    loser.close().await;
    manager.close().await;
    tree.delete().await;
}

#[tokio::test]
async fn a_stale_owner_cannot_write_and_the_checkpoint_stays() {
    let tree = TestTree::new("stale");
    let manager = tree.session().await;
    manager.publish_task("orders", &published(1)).await.unwrap();
    let a = tree.session().await;
    let b = tree.session().await;

    // Case 1: the task is removed and published again while `a` runs it; `b` claims it.
    let old = a.try_claim("orders", "a").await.unwrap().unwrap();
    a.save_checkpoint("orders", &old, &pos(100), None)
        .await
        .unwrap();
    manager.remove_task("orders").await.unwrap();
    manager.publish_task("orders", &published(2)).await.unwrap();
    let new = b.try_claim("orders", "b").await.unwrap().unwrap();
    assert!(new.epoch > old.epoch, "epochs grow across a removal");
    b.save_checkpoint("orders", &new, &pos(200), None)
        .await
        .unwrap();
    let err = a
        .save_checkpoint("orders", &old, &pos(999), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinationError::NotOwner { ref task, epoch, .. }
            if task == "orders" && epoch == old.epoch),
        "{err}"
    );
    assert!(err.to_string().contains("node `b` owns it"), "{err}");
    let err = a
        .report_status("orders", &old, &status("a"))
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::NotOwner { .. }), "{err}");
    let err = a.release("orders", &old).await.unwrap_err();
    assert!(matches!(err, CoordinationError::NotOwner { .. }), "{err}");
    assert_eq!(checkpoint_of(&manager, "orders").await, Some(pos(200)));
    assert_eq!(
        manager.task_view("orders").await.unwrap().unwrap().status,
        None
    );

    // Case 2: `b`'s session closes, `a` claims; `b` restarts with a new session and still
    // holds its old ownership: refused.
    b.close().await;
    let again = a.try_claim("orders", "a").await.unwrap().unwrap();
    assert!(again.epoch > new.epoch);
    let b2 = tree.session().await;
    let err = b2
        .save_checkpoint("orders", &new, &pos(999), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::NotOwner { .. }), "{err}");
    assert_eq!(checkpoint_of(&manager, "orders").await, Some(pos(200)));

    // The owner writes; the checkpoint names its epoch.
    a.save_checkpoint("orders", &again, &pos(300), None)
        .await
        .unwrap();
    let cp = manager
        .task_view("orders")
        .await
        .unwrap()
        .unwrap()
        .checkpoint
        .unwrap();
    assert_eq!((cp.position, cp.epoch), (pos(300), again.epoch));

    for c in [a, b2, manager] {
        c.close().await;
    }
    tree.delete().await;
}

#[tokio::test]
async fn watch_tasks_notices_publish_desired_claim_and_remove_but_not_checkpoints() {
    let tree = TestTree::new("watch");
    let manager = tree.session().await;
    let a = tree.session().await;
    let mut changes = a.watch_tasks();
    changes.borrow_and_update();

    manager.publish_task("orders", &published(1)).await.unwrap();
    expect_notice(&mut changes, "publish").await;
    manager.publish_task("orders", &published(2)).await.unwrap();
    expect_notice(&mut changes, "a new revision").await;
    manager
        .set_desired("orders", DesiredState::Paused)
        .await
        .unwrap();
    expect_notice(&mut changes, "desired").await;
    let owner = a.try_claim("orders", "a").await.unwrap().unwrap();
    expect_notice(&mut changes, "claim").await;

    // Checkpoints and status reports are no task changes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    changes.borrow_and_update();
    a.save_checkpoint("orders", &owner, &pos(4), None)
        .await
        .unwrap();
    // A snapshot's progress is written with the position, in the same fenced write.
    let progress = SnapshotProgress {
        database: "shop".into(),
        table: "orders".into(),
        after: Some(vec![KeyValue::Int(500)]),
        ..Default::default()
    };
    a.save_checkpoint("orders", &owner, &pos(5), Some(&progress))
        .await
        .unwrap();
    a.report_status("orders", &owner, &status("a"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !changes.has_changed().unwrap(),
        "a checkpoint or status write gave a notice"
    );
    let stored = manager.task_view("orders").await.unwrap().unwrap();
    assert_eq!(stored.checkpoint.unwrap().snapshot, Some(progress));

    // A snapshot request is a task change for the owner; its "taken" mark, written fenced by
    // the owner, is not.
    let tables = vec!["shop.orders".to_string()];
    let first = manager
        .request_snapshot("orders", &tables, "admin")
        .await
        .unwrap();
    expect_notice(&mut changes, "a snapshot request").await;
    let view = a.task_view("orders").await.unwrap().unwrap();
    assert_eq!(view.pending_snapshot(), Some(&first));
    tokio::time::sleep(Duration::from_millis(300)).await;
    changes.borrow_and_update();
    a.snapshot_taken("orders", &owner, first.id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !changes.has_changed().unwrap(),
        "a snapshot-taken write gave a notice"
    );
    let view = manager.task_view("orders").await.unwrap().unwrap();
    assert_eq!(view.snapshot_taken, Some(first.id));
    assert_eq!(view.pending_snapshot(), None);
    let second = manager
        .request_snapshot("orders", &tables, "admin")
        .await
        .unwrap();
    assert!(second.id > first.id, "{second:?} after {first:?}");
    let err = manager
        .request_snapshot("nope", &tables, "admin")
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::NoSuchTask { .. }), "{err}");

    manager.remove_task("orders").await.unwrap();
    expect_notice(&mut changes, "remove").await;
    assert!(manager.task_names().await.unwrap().is_empty());

    a.close().await;
    manager.close().await;
    tree.delete().await;
}

#[tokio::test]
async fn nodes_lists_registered_nodes_and_drops_a_closed_session() {
    let tree = TestTree::new("nodes");
    let manager = tree.session().await;
    let a = tree.session().await;
    let b = tree.session().await;
    a.register_node(&node("a")).await.unwrap();
    b.register_node(&node("b")).await.unwrap();
    // Registering again from the same session updates; from another session is refused.
    let mut a_again = node("a");
    a_again.labels = vec!["us".into()];
    a.register_node(&a_again).await.unwrap();
    let err = b.register_node(&node("a")).await.unwrap_err();
    assert!(matches!(err, CoordinationError::Conflict { .. }), "{err}");

    assert_eq!(manager.nodes().await.unwrap(), vec![a_again, node("b")]);
    a.close().await;
    assert_eq!(manager.nodes().await.unwrap(), vec![node("b")]);

    b.close().await;
    manager.close().await;
    tree.delete().await;
}

#[tokio::test]
async fn task_view_shows_every_part_and_resets_wait_for_the_owner() {
    let tree = TestTree::new("view");
    let manager = tree.session().await;
    let a = tree.session().await;
    assert_eq!(manager.task_view("orders").await.unwrap(), None);
    manager.publish_task("orders", &published(1)).await.unwrap();
    let bare = manager.task_view("orders").await.unwrap().unwrap();
    assert_eq!(
        (
            bare.published,
            bare.desired,
            bare.owner,
            bare.checkpoint,
            bare.status
        ),
        (Some(published(1)), None, None, None, None)
    );

    manager
        .set_desired("orders", DesiredState::Running)
        .await
        .unwrap();
    let owner = a.try_claim("orders", "a").await.unwrap().unwrap();
    a.save_checkpoint("orders", &owner, &pos(42), None)
        .await
        .unwrap();
    a.report_status("orders", &owner, &status("a"))
        .await
        .unwrap();
    let view = manager.task_view("orders").await.unwrap().unwrap();
    assert_eq!(view.name, "orders");
    assert_eq!(view.published, Some(published(1)));
    assert_eq!(view.desired, Some(DesiredState::Running));
    assert_eq!(view.owner, Some(owner.clone()));
    let cp = view.checkpoint.unwrap();
    assert_eq!((cp.position, cp.epoch), (pos(42), owner.epoch));
    assert_eq!(view.status, Some(status("a")));
    assert_eq!(manager.task_names().await.unwrap(), ["orders"]);

    // The manager's refusals.
    let err = manager
        .publish_task("orders", &published(0))
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::Conflict { .. }), "{err}");
    let err = manager
        .set_desired("nope", DesiredState::Stopped)
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::NoSuchTask { .. }), "{err}");
    let err = a.try_claim("nope", "a").await.unwrap_err();
    assert!(matches!(err, CoordinationError::NoSuchTask { .. }), "{err}");
    let err = manager
        .reset_checkpoint("orders", &pos(4), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("node `a` owns the task"), "{err}");
    assert_eq!(checkpoint_of(&manager, "orders").await, Some(pos(42)));

    a.release("orders", &owner).await.unwrap();
    manager
        .reset_checkpoint("orders", &pos(4), None)
        .await
        .unwrap();
    assert_eq!(checkpoint_of(&manager, "orders").await, Some(pos(4)));
    let err = manager
        .reset_checkpoint("nope", &pos(4), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::NoSuchTask { .. }), "{err}");

    a.close().await;
    manager.close().await;
    tree.delete().await;
}

/// The timing rule: `connected()` turns false as soon as the connection drops, long before the
/// session expires; writes pause; once the session has expired the task can be claimed by
/// another node and the old session can never write again.
#[tokio::test]
async fn a_cut_connection_pauses_writes_at_once_and_expiry_hands_the_task_over() {
    let tree = TestTree::new("expiry");
    let manager = tree.session().await;
    manager.publish_task("orders", &published(1)).await.unwrap();
    let zk_port: u16 = zk_addr()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("SLUICE_TEST_ZK is host:port");
    let proxy = TcpProxy::start(zk_port).await;
    // 4 s: the shortest session the test ZooKeeper grants (2 ticks).
    let config = tree.config(&format!("127.0.0.1:{}", proxy.port), Duration::from_secs(4));
    let a = ZooKeeperCoordinator::connect(&config).await.unwrap();
    let timeout = a.session_timeout();
    let owner = a.try_claim("orders", "a").await.unwrap().unwrap();
    a.save_checkpoint("orders", &owner, &pos(10), None)
        .await
        .unwrap();
    let connected = a.connected();
    assert!(*connected.borrow());

    // A short cut: disconnected at once, writes refused; back before the session expires, the
    // ownership still holds.
    proxy.close().await;
    let t0 = Instant::now();
    eventually(
        Duration::from_secs(2),
        "connected() turns false",
        || async { (!*connected.borrow()).then_some(()) },
    )
    .await;
    assert!(
        t0.elapsed() < timeout / 2,
        "noticed after {:?}",
        t0.elapsed()
    );
    let err = a
        .save_checkpoint("orders", &owner, &pos(11), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinationError::Unavailable { .. }),
        "{err}"
    );
    proxy.open().await;
    eventually(Duration::from_secs(5), "connected() turns true", || async {
        (*connected.borrow()).then_some(())
    })
    .await;
    a.save_checkpoint("orders", &owner, &pos(12), None)
        .await
        .unwrap();

    // A long cut: the session expires on the server and another node takes over.
    proxy.close().await;
    let b = tree.session().await;
    let taken: Ownership = eventually(Duration::from_secs(20), "b claims", || async {
        b.try_claim("orders", "b").await.unwrap()
    })
    .await;
    assert!(taken.epoch > owner.epoch);
    assert!(!*connected.borrow());
    proxy.open().await;
    let err = eventually(
        Duration::from_secs(15),
        "a sees its session expired",
        || async {
            match a.save_checkpoint("orders", &owner, &pos(999), None).await {
                Err(e @ CoordinationError::SessionExpired { .. }) => Some(e),
                Err(_) => None,
                Ok(()) => panic!("a write of an expired session was accepted"),
            }
        },
    )
    .await;
    assert!(err.to_string().contains("session"), "{err}");
    assert!(!*connected.borrow());
    assert_eq!(checkpoint_of(&manager, "orders").await, Some(pos(12)));

    drop(a);
    b.close().await;
    manager.close().await;
    tree.delete().await;
}

/// `len` bytes that do not compress (xorshift).
fn incompressible(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[tokio::test]
async fn task_data_is_fenced_compressed_refused_when_too_big_and_removed_with_the_task() {
    let tree = TestTree::new("data");
    let manager = tree.session().await;
    manager.publish_task("orders", &published(1)).await.unwrap();
    let a = tree.session().await;
    let b = tree.session().await;
    let mut changes = b.watch_tasks();
    let old = a.try_claim("orders", "a").await.unwrap().unwrap();
    expect_notice(&mut changes, "the claim").await;
    assert_eq!(
        manager
            .load_task_data("orders", "schema-history")
            .await
            .unwrap(),
        None
    );

    // A 3 MB history (three times ZooKeeper's znode limit) fits compressed.
    let table = r#"{"name":"orders","columns":[{"name":"id","type":"bigint"},{"name":"note","type":"varchar(20)"}]},"#;
    let big = format!("[{}]", table.repeat(3_000_000 / table.len())).into_bytes();
    a.save_task_data("orders", &old, "schema-history", &big)
        .await
        .unwrap();
    assert_eq!(
        manager
            .load_task_data("orders", "schema-history")
            .await
            .unwrap(),
        Some(big.clone())
    );
    // Data writes are not task changes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !changes.has_changed().unwrap(),
        "a data write notified the nodes"
    );

    // Just under the limit even incompressible: ZooKeeper takes it.
    let dense = incompressible(990_000, 7);
    a.save_task_data("orders", &old, "coverage", &dense)
        .await
        .unwrap();
    assert_eq!(
        b.load_task_data("orders", "coverage").await.unwrap(),
        Some(dense)
    );
    // Over it: refused before anything is sent, naming the task, the record and the sizes.
    let err = a
        .save_task_data("orders", &old, "coverage", &incompressible(1_200_000, 9))
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::TooLarge { .. }), "{err}");
    let text = err.to_string();
    for part in [
        "task orders",
        "`coverage`",
        "1200000 bytes",
        "1000000 bytes",
        "jute.maxbuffer",
    ] {
        assert!(text.contains(part), "{part} missing: {text}");
    }
    assert_eq!(
        b.load_task_data("orders", "coverage")
            .await
            .unwrap()
            .map(|d| d.len()),
        Some(990_000),
        "a refused write changed the record"
    );

    // `a` is gone, `b` owns the task; `a`'s ownership (from a new session) writes nothing.
    a.close().await;
    let new = b.try_claim("orders", "b").await.unwrap().unwrap();
    let a2 = tree.session().await;
    let err = a2
        .save_task_data("orders", &old, "schema-history", b"stale")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinationError::NotOwner { ref task, epoch, .. }
            if task == "orders" && epoch == old.epoch),
        "{err}"
    );
    assert_eq!(
        manager
            .load_task_data("orders", "schema-history")
            .await
            .unwrap(),
        Some(big)
    );
    b.save_task_data("orders", &new, "schema-history", b"v2")
        .await
        .unwrap();
    assert_eq!(
        manager
            .load_task_data("orders", "schema-history")
            .await
            .unwrap(),
        Some(b"v2".to_vec())
    );
    let err = b
        .save_task_data("orders", &new, "Bad/Name", b"x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinationError::InvalidName { .. }),
        "{err}"
    );

    // Removing the task removes its data records with it.
    manager.remove_task("orders").await.unwrap();
    manager.publish_task("orders", &published(2)).await.unwrap();
    assert_eq!(
        manager
            .load_task_data("orders", "schema-history")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        manager.load_task_data("orders", "coverage").await.unwrap(),
        None
    );

    for c in [a2, b, manager] {
        c.close().await;
    }
    tree.delete().await;
}
