//! The two background loops of a ZooKeeper session: the session state (which drives
//! `connected()`) and the recursive watch on `tasks/` (which drives `watch_tasks()`).
//!
//! Neither loop holds a `Client`: the session closes when the coordinator is dropped.

use std::sync::Arc;

use tokio::sync::watch;
use zookeeper_client as zk;

use super::layout::is_task_change;

/// Follows the session state: `connected` is true only while the client is connected
/// (`SyncConnected`). It turns false on the `Disconnected` event, i.e. as soon as the client
/// sees the connection fail, long before the server may expire the session. Ends at a terminal
/// state (expired, closed, authentication failed), leaving `connected` false.
pub(super) async fn track_state(
    mut watcher: zk::StateWatcher,
    connected: Arc<watch::Sender<bool>>,
    session: String,
) {
    let mut state = watcher.peek_state();
    loop {
        let up = state == zk::SessionState::SyncConnected;
        if connected.send_replace(up) != up {
            if up {
                tracing::info!("ZooKeeper session `{session}` is connected again.");
            } else {
                tracing::warn!(
                    "ZooKeeper session `{session}` is {state:?}: coordination writes pause."
                );
            }
        }
        if state.is_terminated() {
            tracing::warn!("ZooKeeper session `{session}` has ended ({state:?}).");
            return;
        }
        state = watcher.changed().await;
    }
}

/// Bumps `changed` on every change under `tasks` (the folder) that nodes must look at, and once after each
/// reconnection (events that happened while disconnected can be lost, ZOOKEEPER-4698, so the
/// nodes must re-read everything). Ends at a terminal session state.
pub(super) async fn forward_task_changes(
    mut watcher: zk::PersistentWatcher,
    tasks: String,
    changed: Arc<watch::Sender<u64>>,
) {
    let mut disconnected = false;
    loop {
        let event = watcher.changed().await;
        match event.event_type {
            zk::EventType::Session => {
                let state = event.session_state;
                // The watcher panics if polled again after a terminal state.
                if state.is_terminated() {
                    return;
                }
                if state == zk::SessionState::Disconnected {
                    disconnected = true;
                } else if disconnected && state == zk::SessionState::SyncConnected {
                    disconnected = false;
                    changed.send_modify(|n| *n += 1);
                }
            }
            _ if is_task_change(&tasks, &event.path) => changed.send_modify(|n| *n += 1),
            _ => {}
        }
    }
}
