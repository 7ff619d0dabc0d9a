//! Scenarios of the in-process coordinator: exclusive claims, growing epochs, fenced writes,
//! sessions ending, change notices.

use super::*;

fn published(revision: u64) -> PublishedTask {
    PublishedTask {
        revision,
        config: serde_json::json!({ "name": "orders", "revision": revision }),
    }
}

fn node(id: &str) -> NodeInfo {
    NodeInfo {
        id: id.to_string(),
        addr: format!("{id}:9000"),
        version: "0.1.0".into(),
        labels: vec!["eu".into()],
        started_at_ms: 1,
    }
}

fn pos(offset: u64) -> BinlogPosition {
    BinlogPosition::new("binlog.000001", offset)
}

fn status(node: &str) -> TaskStatusReport {
    TaskStatusReport {
        state: "running".into(),
        node: node.to_string(),
        revision: 1,
        lag_ms: Some(5),
        events_per_sec: 1.5,
        events_total: 10,
        sinks: vec![],
        last_error: None,
        at_ms: 2,
        snapshot: None,
    }
}

/// A store with task `orders` published and two more sessions on it (nodes `a` and `b`).
async fn cluster() -> (
    InProcessCoordinator,
    InProcessCoordinator,
    InProcessCoordinator,
) {
    let manager = InProcessCoordinator::new();
    manager.publish_task("orders", &published(1)).await.unwrap();
    let a = manager.new_session();
    let b = manager.new_session();
    (manager, a, b)
}

#[tokio::test]
async fn only_one_claim_succeeds_and_the_loser_claims_after_the_winner_releases() {
    let (_m, a, b) = cluster().await;
    let won = a.try_claim("orders", "a").await.unwrap().expect("a wins");
    assert_eq!(won.node, "a");
    assert_eq!(won.epoch, 1);
    assert_eq!(b.try_claim("orders", "b").await.unwrap(), None);
    // A retried claim by the holder gives back the same ownership.
    assert_eq!(a.try_claim("orders", "a").await.unwrap(), Some(won.clone()));

    a.release("orders", &won).await.unwrap();
    let next = b.try_claim("orders", "b").await.unwrap().expect("b claims");
    assert_eq!(next.epoch, 2);
}

#[tokio::test]
async fn a_stale_owner_cannot_write_after_another_claimed() {
    let (m, a, b) = cluster().await;
    let old = a.try_claim("orders", "a").await.unwrap().unwrap();
    a.save_checkpoint("orders", &old, &pos(100), None)
        .await
        .unwrap();
    a.expire();
    let new = b.try_claim("orders", "b").await.unwrap().unwrap();
    assert!(new.epoch > old.epoch);

    // The same session object is gone; a fresh session holding the stale ownership is refused.
    let zombie = m.new_session();
    let err = zombie
        .save_checkpoint("orders", &old, &pos(999), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinationError::NotOwner { ref task, epoch: 1, .. } if task == "orders"),
        "{err}"
    );
    let err = zombie
        .report_status("orders", &old, &status("a"))
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::NotOwner { .. }), "{err}");
    // Another session using the right ownership value is refused too: ownership is per session.
    let err = zombie
        .save_checkpoint("orders", &new, &pos(999), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::NotOwner { .. }), "{err}");

    let view = m.task_view("orders").await.unwrap().unwrap();
    let checkpoint = view.checkpoint.unwrap();
    assert_eq!(checkpoint.position, pos(100));
    assert_eq!(checkpoint.epoch, old.epoch);
    assert_eq!(view.status, None);

    b.save_checkpoint("orders", &new, &pos(200), None)
        .await
        .unwrap();
    let view = m.task_view("orders").await.unwrap().unwrap();
    assert_eq!(view.checkpoint.unwrap().epoch, new.epoch);
}

#[tokio::test]
async fn an_ended_session_loses_its_nodes_and_tasks_and_every_later_call_fails() {
    let (m, a, _b) = cluster().await;
    a.register_node(&node("a")).await.unwrap();
    m.register_node(&node("m")).await.unwrap();
    a.try_claim("orders", "a").await.unwrap().unwrap();
    let connected = a.connected();
    assert!(*connected.borrow());

    a.close();
    assert!(!*connected.borrow());
    let ids: Vec<String> = m.nodes().await.unwrap().into_iter().map(|n| n.id).collect();
    assert_eq!(ids, ["m"]);
    assert_eq!(m.task_view("orders").await.unwrap().unwrap().owner, None);
    let err = a.task_names().await.unwrap_err();
    assert!(
        matches!(err, CoordinationError::SessionExpired { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_disconnected_session_keeps_its_tasks_but_cannot_write() {
    let (m, a, _b) = cluster().await;
    let owner = a.try_claim("orders", "a").await.unwrap().unwrap();
    let connected = a.connected();
    a.set_connected(false);
    assert!(!*connected.borrow());
    let err = a
        .save_checkpoint("orders", &owner, &pos(5), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinationError::Unavailable { .. }),
        "{err}"
    );

    a.set_connected(true);
    assert!(*connected.borrow());
    a.save_checkpoint("orders", &owner, &pos(5), None)
        .await
        .unwrap();
    let view = m.task_view("orders").await.unwrap().unwrap();
    assert_eq!(view.owner, Some(owner));
}

#[tokio::test]
async fn watch_tasks_notices_publish_desired_claim_and_remove() {
    let (m, a, _b) = cluster().await;
    let mut changes = a.watch_tasks();
    changes.borrow_and_update();

    m.publish_task("orders", &published(2)).await.unwrap();
    assert!(changes.has_changed().unwrap(), "publish");
    changes.borrow_and_update();

    m.set_desired("orders", DesiredState::Paused).await.unwrap();
    assert!(changes.has_changed().unwrap(), "desired");
    changes.borrow_and_update();

    let owner = a.try_claim("orders", "a").await.unwrap().unwrap();
    assert!(changes.has_changed().unwrap(), "claim");
    changes.borrow_and_update();

    // Checkpoints and status reports are not task changes.
    a.save_checkpoint("orders", &owner, &pos(7), None)
        .await
        .unwrap();
    a.report_status("orders", &owner, &status("a"))
        .await
        .unwrap();
    assert!(!changes.has_changed().unwrap(), "checkpoint or status");

    m.remove_task("orders").await.unwrap();
    assert!(changes.has_changed().unwrap(), "remove");
    assert!(m.task_names().await.unwrap().is_empty());
    assert_eq!(m.task_view("orders").await.unwrap(), None);
    let err = a
        .save_checkpoint("orders", &owner, &pos(8), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::NotOwner { .. }), "{err}");
}

#[tokio::test]
async fn epochs_keep_growing_when_a_task_is_removed_and_published_again() {
    let (m, a, b) = cluster().await;
    let first = a.try_claim("orders", "a").await.unwrap().unwrap();
    m.remove_task("orders").await.unwrap();
    m.publish_task("orders", &published(1)).await.unwrap();
    let second = b.try_claim("orders", "b").await.unwrap().unwrap();
    assert!(second.epoch > first.epoch);
    // `a` still holds its old ownership value: useless now.
    let err = a
        .save_checkpoint("orders", &first, &pos(9), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::NotOwner { .. }), "{err}");
}

#[tokio::test]
async fn task_view_shows_every_part() {
    let (m, a, _b) = cluster().await;
    m.set_desired("orders", DesiredState::Running)
        .await
        .unwrap();
    let owner = a.try_claim("orders", "a").await.unwrap().unwrap();
    a.save_checkpoint("orders", &owner, &pos(42), None)
        .await
        .unwrap();
    a.report_status("orders", &owner, &status("a"))
        .await
        .unwrap();

    let view = m.task_view("orders").await.unwrap().unwrap();
    assert_eq!(view.name, "orders");
    assert_eq!(view.published, Some(published(1)));
    assert_eq!(view.desired, Some(DesiredState::Running));
    assert_eq!(view.owner, Some(owner));
    assert_eq!(view.checkpoint.unwrap().position, pos(42));
    assert_eq!(view.status, Some(status("a")));
}

#[tokio::test]
async fn manager_calls_are_refused_when_they_contradict_the_store() {
    let (m, a, _b) = cluster().await;
    let err = m.publish_task("orders", &published(0)).await.unwrap_err();
    assert!(matches!(err, CoordinationError::Conflict { .. }), "{err}");

    let err = m
        .set_desired("nope", DesiredState::Running)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinationError::NoSuchTask { ref task } if task == "nope"),
        "{err}"
    );
    let err = a.try_claim("nope", "a").await.unwrap_err();
    assert!(matches!(err, CoordinationError::NoSuchTask { .. }), "{err}");
    // Removing what is not there is not an error (a retried remove).
    m.remove_task("nope").await.unwrap();

    let owner = a.try_claim("orders", "a").await.unwrap().unwrap();
    let err = m
        .reset_checkpoint("orders", &pos(4), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("node `a` owns the task"), "{err}");
    a.release("orders", &owner).await.unwrap();
    m.reset_checkpoint("orders", &pos(4), None).await.unwrap();
    let checkpoint = m
        .task_view("orders")
        .await
        .unwrap()
        .unwrap()
        .checkpoint
        .unwrap();
    assert_eq!(checkpoint.position, pos(4));
    assert_eq!(checkpoint.epoch, owner.epoch);

    a.register_node(&node("a")).await.unwrap();
    a.register_node(&node("a")).await.unwrap();
    let err = m.register_node(&node("a")).await.unwrap_err();
    assert!(matches!(err, CoordinationError::Conflict { .. }), "{err}");
}

#[tokio::test]
async fn a_checkpoint_keeps_snapshot_progress_until_a_reset_ends_it() {
    let (m, a, _b) = cluster().await;
    let owner = a.try_claim("orders", "a").await.unwrap().unwrap();
    let progress = crate::snapshot_progress::SnapshotProgress {
        database: "shop".into(),
        table: "orders".into(),
        after: Some(vec![crate::snapshot_progress::KeyValue::Int(7)]),
        ..Default::default()
    };
    a.save_checkpoint("orders", &owner, &pos(42), Some(&progress))
        .await
        .unwrap();
    let stored = m.task_view("orders").await.unwrap().unwrap().checkpoint;
    assert_eq!(stored.unwrap().snapshot, Some(progress));

    // An operator's restart from a position ends the snapshot.
    a.release("orders", &owner).await.unwrap();
    m.reset_checkpoint("orders", &pos(4), None).await.unwrap();
    let stored = m.task_view("orders").await.unwrap().unwrap().checkpoint;
    assert_eq!(stored.unwrap().snapshot, None);
}

#[tokio::test]
async fn a_snapshot_request_stays_pending_until_its_owner_takes_it() {
    let (m, a, b) = cluster().await;
    let tables = vec!["shop.orders".to_string()];
    let first = m
        .request_snapshot("orders", &tables, "admin")
        .await
        .unwrap();
    assert_eq!(first.id, 1);
    let view = m.task_view("orders").await.unwrap().unwrap();
    assert_eq!(view.pending_snapshot(), Some(&first));

    let owner = a.try_claim("orders", "a").await.unwrap().unwrap();
    // Only the owner may mark it taken.
    let stale = Ownership {
        node: "b".into(),
        ..owner.clone()
    };
    let err = b.snapshot_taken("orders", &stale, 1).await.unwrap_err();
    assert!(matches!(err, CoordinationError::NotOwner { .. }), "{err}");
    a.snapshot_taken("orders", &owner, 1).await.unwrap();
    let view = m.task_view("orders").await.unwrap().unwrap();
    assert_eq!(view.pending_snapshot(), None);

    let second = m
        .request_snapshot("orders", &tables, "admin")
        .await
        .unwrap();
    assert_eq!(second.id, 2);
    let err = m
        .request_snapshot("nope", &tables, "admin")
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinationError::NoSuchTask { .. }), "{err}");
}

#[tokio::test]
async fn task_data_is_written_only_by_the_owner_and_goes_with_the_task() {
    let (m, a, b) = cluster().await;
    assert_eq!(m.load_task_data("orders", "history").await.unwrap(), None);
    let old = a.try_claim("orders", "a").await.unwrap().unwrap();
    a.save_task_data("orders", &old, "history", b"v1")
        .await
        .unwrap();
    a.save_task_data("orders", &old, "coverage", b"c1")
        .await
        .unwrap();
    // Any session reads it; records are kept apart by name.
    assert_eq!(
        b.load_task_data("orders", "history").await.unwrap(),
        Some(b"v1".to_vec())
    );
    assert_eq!(
        b.load_task_data("orders", "coverage").await.unwrap(),
        Some(b"c1".to_vec())
    );

    // After a takeover the old owner's write is refused and changes nothing.
    a.expire();
    let new = b.try_claim("orders", "b").await.unwrap().unwrap();
    let zombie = m.new_session();
    let err = zombie
        .save_task_data("orders", &old, "history", b"stale")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinationError::NotOwner { ref task, epoch: 1, .. } if task == "orders"),
        "{err}"
    );
    assert_eq!(
        m.load_task_data("orders", "history").await.unwrap(),
        Some(b"v1".to_vec())
    );
    b.save_task_data("orders", &new, "history", b"v2")
        .await
        .unwrap();
    assert_eq!(
        m.load_task_data("orders", "history").await.unwrap(),
        Some(b"v2".to_vec())
    );

    // A bad name is refused before anything is looked at.
    let err = b
        .save_task_data("orders", &new, "../checkpoint", b"x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinationError::InvalidName { .. }),
        "{err}"
    );

    // Removing the task removes its data; publishing it again starts without.
    m.remove_task("orders").await.unwrap();
    assert_eq!(m.load_task_data("orders", "history").await.unwrap(), None);
    m.publish_task("orders", &published(2)).await.unwrap();
    assert_eq!(m.load_task_data("orders", "history").await.unwrap(), None);
}
