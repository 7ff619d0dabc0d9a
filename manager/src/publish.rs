//! Publication of the store's tasks to the coordinator, where the nodes read them.
//!
//! The store is the truth; the coordinator follows it. Every write is stored first, then
//! published: if the coordinator is away, the write still succeeds, the response says the
//! publication failed (`published_revision` stays behind `revision`), and a background loop
//! publishes what is behind until the coordinator has caught up. One lock serialises the
//! publications and each re-reads the task from the store, so an older revision is never
//! published after a newer one.

use std::sync::Arc;
use std::time::Duration;

use sluice_core::coordination::{CoordinationError, Coordinator, PublishedTask};
use tokio::sync::Mutex;

use crate::store::{Store, StoreError};

/// Publishes tasks to the coordinator.
pub struct Publisher {
    store: Store,
    coordinator: Arc<dyn Coordinator>,
    lock: Mutex<()>,
}

impl Publisher {
    pub fn new(store: Store, coordinator: Arc<dyn Coordinator>) -> Publisher {
        Publisher {
            store,
            coordinator,
            lock: Mutex::new(()),
        }
    }

    /// Brings the coordinator up to date with task `name` as stored (config, desired state, or
    /// its removal). `Err` holds what failed, for the response and the log.
    pub async fn sync(&self, name: &str) -> Result<(), String> {
        self.sync_task(name, false).await
    }

    /// [`Publisher::sync`]; with `coordinator_empty`, whatever the store says was published.
    async fn sync_task(&self, name: &str, coordinator_empty: bool) -> Result<(), String> {
        let _guard = self.lock.lock().await;
        let task = self
            .store
            .task_for_publication(name)
            .await
            .map_err(|e| e.to_string())?;
        let Some(mut task) = task else {
            return Ok(());
        };
        if coordinator_empty {
            task.published_revision = 0;
            task.published_desired = None;
        }
        let failed = |what: String, e: &dyn std::fmt::Display| {
            let message = format!("task {name}: {what} in the coordinator failed: {e}");
            tracing::warn!(
                task = name,
                "Task `{name}`: {what} in the coordinator failed: {e}; retrying in the background."
            );
            message
        };
        let stored = |e: StoreError| e.to_string();
        if task.deleted {
            match self.coordinator.remove_task(name).await {
                // Never published (the coordinator was away since its creation): nothing to do.
                Ok(()) | Err(CoordinationError::NoSuchTask { .. }) => {}
                Err(e) => return Err(failed("removing it".into(), &e)),
            }
            self.store.purge_task(name).await.map_err(stored)?;
            tracing::info!(task = name, "Task `{name}` removed from the coordinator.");
            return Ok(());
        }
        if task.published_revision < task.revision {
            let published = PublishedTask {
                revision: task.revision,
                config: task.config.clone(),
            };
            self.coordinator
                .publish_task(name, &published)
                .await
                .map_err(|e| failed(format!("publishing revision {}", task.revision), &e))?;
            self.store
                .mark_published(name, task.revision)
                .await
                .map_err(stored)?;
            tracing::info!(
                task = name,
                revision = task.revision,
                "Task `{name}` revision {} published.",
                task.revision
            );
        }
        if task.published_desired != Some(task.desired) {
            self.coordinator
                .set_desired(name, task.desired)
                .await
                .map_err(|e| failed(format!("setting the desired state {:?}", task.desired), &e))?;
            self.store
                .mark_desired_published(name, task.desired)
                .await
                .map_err(stored)?;
        }
        Ok(())
    }

    /// Publishes every stored task whatever the store says was published: for a coordinator
    /// that starts empty (the in-process one of standalone mode).
    pub async fn publish_all(&self) -> Result<usize, String> {
        let tasks = self.store.list_tasks().await.map_err(|e| e.to_string())?;
        for task in &tasks {
            self.sync_task(&task.name, true).await?;
        }
        Ok(tasks.len())
    }

    /// Publishes every task the coordinator is behind on; returns how many are still behind.
    pub async fn catch_up(&self) -> usize {
        let pending = match self.store.unpublished_tasks().await {
            Ok(pending) => pending,
            Err(e) => {
                tracing::warn!("Cannot list the tasks to publish: {e}");
                return 0;
            }
        };
        let mut behind = 0;
        for task in pending {
            if self.sync(&task.name).await.is_err() {
                behind += 1;
            }
        }
        behind
    }

    /// Runs [`Publisher::catch_up`] every `every` until the returned task is aborted.
    pub fn spawn_retry_loop(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                self.catch_up().await;
            }
        })
    }
}
