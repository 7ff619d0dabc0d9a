//! The manager's side of the ZooKeeper coordinator (publish, desired state, remove, checkpoint
//! reset, the views) and the node registry.

use zookeeper_client as zk;

use super::data::{decode, decode_desired, encode, encode_desired};
use super::errors::zk_error;
use super::txn::{OpFailed, Txn};
use super::{ephemeral, persistent, ZooKeeperCoordinator};
use crate::coordination::rules::next_request_id;
use crate::coordination::{
    check_revision, node_taken, now_ms, owned_conflict, CoordinationError, DesiredState, NodeInfo,
    Ownership, PublishedTask, SnapshotRequest, StoredCheckpoint, TaskView,
};
use crate::snapshot_progress::SnapshotProgress;
use crate::BinlogPosition;

/// How often a write retries after losing a race with a concurrent writer before giving up.
const RACE_RETRIES: usize = 10;

fn lost_races(what: String) -> CoordinationError {
    CoordinationError::Conflict {
        what,
        detail: format!("lost {RACE_RETRIES} races with concurrent writers; try again"),
    }
}

impl ZooKeeperCoordinator {
    /// Creates the task (its folder and config in one transaction) or replaces its config with
    /// a compare-and-set on the config's version.
    pub(super) async fn publish(
        &self,
        task: &str,
        published: &PublishedTask,
    ) -> Result<(), CoordinationError> {
        let paths = self.layout.task(task)?;
        let bytes = encode(&paths.config, published)?;
        for _ in 0..RACE_RETRIES {
            match self
                .call("get", &paths.config, self.client.get_data(&paths.config))
                .await?
            {
                Ok((stored, stat)) => {
                    let stored: PublishedTask = decode(&paths.config, &stored)?;
                    check_revision(task, &stored, published)?;
                    if stored == *published {
                        return Ok(());
                    }
                    let set = self
                        .client
                        .set_data(&paths.config, &bytes, Some(stat.version));
                    match self.call("set", &paths.config, set).await? {
                        Ok(_) => return Ok(()),
                        Err(zk::Error::BadVersion | zk::Error::NoNode) => continue,
                        Err(e) => return Err(zk_error("set", &paths.config, &e)),
                    }
                }
                Err(zk::Error::NoNode) => {
                    let mut txn = Txn::new(&self.client);
                    txn.create(&paths.dir, &[], &persistent())?.create(
                        &paths.config,
                        &bytes,
                        &persistent(),
                    )?;
                    match self.commit("create", &paths.dir, txn).await? {
                        Ok(_) => {
                            tracing::info!(
                                "Task `{task}` is created with revision {}.",
                                published.revision
                            );
                            return Ok(());
                        }
                        // The task exists (a concurrent publish): read its config again.
                        Err(OpFailed {
                            err: zk::Error::NodeExists,
                            ..
                        }) => continue,
                        Err(failed) => return Err(failed.into_error()),
                    }
                }
                Err(e) => return Err(zk_error("get", &paths.config, &e)),
            }
        }
        Err(lost_races(format!("task {task}: publish")))
    }

    pub(super) async fn write_desired(
        &self,
        task: &str,
        desired: DesiredState,
    ) -> Result<(), CoordinationError> {
        let paths = self.layout.task(task)?;
        let bytes = encode_desired(desired);
        for _ in 0..RACE_RETRIES {
            let set = self.client.set_data(&paths.desired, bytes, None);
            match self.call("set", &paths.desired, set).await? {
                Ok(_) => return Ok(()),
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(zk_error("set", &paths.desired, &e)),
            }
            let create = self.client.create(&paths.desired, bytes, &persistent());
            match self.call("create", &paths.desired, create).await? {
                Ok(_) => return Ok(()),
                // No task folder: no such task.
                Err(zk::Error::NoNode) => {
                    return Err(CoordinationError::NoSuchTask {
                        task: task.to_string(),
                    })
                }
                Err(zk::Error::NodeExists) => continue,
                Err(e) => return Err(zk_error("create", &paths.desired, &e)),
            }
        }
        Err(lost_races(format!("task {task}: set desired state")))
    }

    /// Deletes the task's folder and everything in it in one transaction (the owner znode too:
    /// its node sees the task gone and stops). The epoch znode stays, so epochs keep growing if
    /// the name is used again.
    pub(super) async fn remove(&self, task: &str) -> Result<(), CoordinationError> {
        let paths = self.layout.task(task)?;
        for _ in 0..RACE_RETRIES {
            let children = match self
                .call("list", &paths.dir, self.client.list_children(&paths.dir))
                .await?
            {
                Ok(children) => children,
                Err(zk::Error::NoNode) => return Ok(()),
                Err(e) => return Err(zk_error("list", &paths.dir, &e)),
            };
            let mut txn = Txn::new(&self.client);
            for child in &children {
                txn.delete(&format!("{}/{child}", paths.dir))?;
            }
            txn.delete(&paths.dir)?;
            match self.commit("delete", &paths.dir, txn).await? {
                Ok(_) => {
                    tracing::info!("Task `{task}` is removed.");
                    return Ok(());
                }
                // A child came or went meanwhile (a claim, a first checkpoint): list again.
                Err(OpFailed {
                    err: zk::Error::NotEmpty | zk::Error::NoNode,
                    ..
                }) => continue,
                Err(failed) => return Err(failed.into_error()),
            }
        }
        Err(lost_races(format!("task {task}: remove")))
    }

    /// Replaces the checkpoint in a transaction that also creates and deletes the owner znode:
    /// the create fails if anyone owns the task, so the reset can never overwrite an owner's
    /// checkpoint, and no owner is ever visible.
    pub(super) async fn reset(
        &self,
        task: &str,
        position: &BinlogPosition,
        snapshot: Option<&SnapshotProgress>,
    ) -> Result<(), CoordinationError> {
        let paths = self.layout.task(task)?;
        let epoch = match self
            .call("get", &paths.epoch, self.client.check_stat(&paths.epoch))
            .await?
        {
            Ok(stat) => stat.map_or(0, |s| u64::try_from(s.version).unwrap_or(0)),
            Err(e) => return Err(zk_error("get", &paths.epoch, &e)),
        };
        let checkpoint = StoredCheckpoint {
            position: position.clone(),
            epoch,
            at_ms: now_ms(),
            snapshot: snapshot.cloned(),
        };
        let bytes = encode(&paths.checkpoint, &checkpoint)?;
        for create_checkpoint in [false, true] {
            let mut txn = Txn::new(&self.client);
            txn.create(&paths.owner, &[], &persistent())?
                .delete(&paths.owner)?;
            if create_checkpoint {
                txn.create(&paths.checkpoint, &bytes, &persistent())?;
            } else {
                txn.set(&paths.checkpoint, &bytes, None)?;
            }
            match self
                .commit("reset checkpoint", &paths.checkpoint, txn)
                .await?
            {
                Ok(_) => {
                    tracing::info!("Task `{task}`: the checkpoint is reset to `{position}`.");
                    return Ok(());
                }
                Err(OpFailed {
                    index: 0,
                    err: zk::Error::NoNode,
                    ..
                }) => {
                    return Err(CoordinationError::NoSuchTask {
                        task: task.to_string(),
                    })
                }
                Err(OpFailed {
                    index: 0,
                    err: zk::Error::NodeExists,
                    ..
                }) => {
                    let owner = self.read_owner(&paths.owner).await?;
                    return Err(match owner {
                        Some(owner) => owned_conflict(task, &owner),
                        None => CoordinationError::Conflict {
                            what: format!("task {task}: reset checkpoint"),
                            detail: "a node owned the task a moment ago; try again".into(),
                        },
                    });
                }
                // No checkpoint yet: create it.
                Err(OpFailed {
                    index: 2,
                    err: zk::Error::NoNode | zk::Error::NodeExists,
                    ..
                }) => continue,
                Err(failed) => return Err(failed.into_error()),
            }
        }
        Err(lost_races(format!("task {task}: reset checkpoint")))
    }

    /// The owner record, if any.
    pub(super) async fn read_owner(
        &self,
        path: &str,
    ) -> Result<Option<Ownership>, CoordinationError> {
        match self.call("get", path, self.client.get_data(path)).await? {
            Ok((bytes, _)) => Ok(Some(decode(path, &bytes)?)),
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(zk_error("get", path, &e)),
        }
    }

    pub(super) async fn list_nodes(&self) -> Result<Vec<NodeInfo>, CoordinationError> {
        let dir = self.layout.nodes();
        let mut ids = self
            .call("list", &dir, self.client.list_children(&dir))
            .await?
            .map_err(|e| zk_error("list", &dir, &e))?;
        ids.sort();
        let mut nodes = Vec::with_capacity(ids.len());
        for id in ids {
            let path = format!("{dir}/{id}");
            match self.call("get", &path, self.client.get_data(&path)).await? {
                Ok((bytes, _)) => nodes.push(decode(&path, &bytes)?),
                // Its session ended since the listing.
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(zk_error("get", &path, &e)),
            }
        }
        Ok(nodes)
    }

    pub(super) async fn list_tasks(&self) -> Result<Vec<String>, CoordinationError> {
        let dir = self.layout.tasks();
        let mut names = self
            .call("list", &dir, self.client.list_children(&dir))
            .await?
            .map_err(|e| zk_error("list", &dir, &e))?;
        names.sort();
        Ok(names)
    }

    /// Reads all parts of a task in one multi-read (a consistent snapshot).
    pub(super) async fn read_task(
        &self,
        task: &str,
    ) -> Result<Option<TaskView>, CoordinationError> {
        let paths = self.layout.task(task)?;
        let parts = [
            &paths.dir,
            &paths.config,
            &paths.desired,
            &paths.owner,
            &paths.checkpoint,
            &paths.status,
            &paths.snapshot_request,
            &paths.snapshot_taken,
        ];
        let mut reader = self.client.new_multi_reader();
        for path in parts {
            reader
                .add_get_data(path)
                .map_err(|e| zk_error("get", path, &e))?;
        }
        let results = self
            .call("get", &paths.dir, reader.commit())
            .await?
            .map_err(|e| zk_error("get", &paths.dir, &e))?;
        let mut found = Vec::with_capacity(parts.len());
        for (path, result) in parts.iter().zip(results) {
            found.push(match result {
                zk::MultiReadResult::Data { data, .. } => Some(data),
                zk::MultiReadResult::Error {
                    err: zk::Error::NoNode,
                } => None,
                zk::MultiReadResult::Error { err } => return Err(zk_error("get", path, &err)),
                other => {
                    return Err(CoordinationError::Corrupt {
                        path: path.to_string(),
                        detail: format!("unexpected multi-read answer {other:?}"),
                    })
                }
            });
        }
        let [dir, config, desired, owner, checkpoint, status, request, taken] =
            <[Option<Vec<u8>>; 8]>::try_from(found).map_err(|found| {
                CoordinationError::Corrupt {
                    path: paths.dir.clone(),
                    detail: format!("a multi-read of 8 znodes gave {} answers", found.len()),
                }
            })?;
        if dir.is_none() {
            return Ok(None);
        }
        Ok(Some(TaskView {
            name: task.to_string(),
            published: config.map(|b| decode(&paths.config, &b)).transpose()?,
            desired: desired
                .map(|b| decode_desired(&paths.desired, &b))
                .transpose()?,
            owner: owner.map(|b| decode(&paths.owner, &b)).transpose()?,
            checkpoint: checkpoint
                .map(|b| decode(&paths.checkpoint, &b))
                .transpose()?,
            status: status.map(|b| decode(&paths.status, &b)).transpose()?,
            snapshot_request: request
                .map(|b| decode(&paths.snapshot_request, &b))
                .transpose()?,
            snapshot_taken: taken
                .map(|b| decode(&paths.snapshot_taken, &b))
                .transpose()?,
        }))
    }

    /// Writes a new snapshot request with a compare-and-set on the stored one's version (its
    /// id must grow past the last request and the last one taken).
    pub(super) async fn write_snapshot_request(
        &self,
        task: &str,
        tables: &[String],
        requested_by: &str,
    ) -> Result<SnapshotRequest, CoordinationError> {
        let paths = self.layout.task(task)?;
        for _ in 0..RACE_RETRIES {
            let Some(view) = self.read_task(task).await? else {
                return Err(CoordinationError::NoSuchTask {
                    task: task.to_string(),
                });
            };
            let request = SnapshotRequest {
                id: next_request_id(view.snapshot_request.as_ref(), view.snapshot_taken),
                tables: tables.to_vec(),
                requested_at_ms: now_ms(),
                requested_by: requested_by.to_string(),
            };
            let bytes = encode(&paths.snapshot_request, &request)?;
            let written = match view.snapshot_request {
                Some(_) => {
                    let stat = self
                        .call(
                            "get",
                            &paths.snapshot_request,
                            self.client.check_stat(&paths.snapshot_request),
                        )
                        .await?
                        .map_err(|e| zk_error("get", &paths.snapshot_request, &e))?;
                    let Some(stat) = stat else { continue };
                    let set =
                        self.client
                            .set_data(&paths.snapshot_request, &bytes, Some(stat.version));
                    self.call("set", &paths.snapshot_request, set)
                        .await?
                        .map(|_| ())
                }
                None => {
                    let create = self
                        .client
                        .create(&paths.snapshot_request, &bytes, &persistent());
                    self.call("create", &paths.snapshot_request, create)
                        .await?
                        .map(|_| ())
                }
            };
            match written {
                Ok(()) => return Ok(request),
                Err(zk::Error::BadVersion | zk::Error::NodeExists) => continue,
                Err(zk::Error::NoNode) => {
                    return Err(CoordinationError::NoSuchTask {
                        task: task.to_string(),
                    })
                }
                Err(e) => return Err(zk_error("write", &paths.snapshot_request, &e)),
            }
        }
        Err(lost_races(format!("task {task}: request a snapshot")))
    }

    /// Creates the node's ephemeral registration, or updates it if this session made it.
    pub(super) async fn register(&self, node: &NodeInfo) -> Result<(), CoordinationError> {
        let path = self.layout.node(&node.id)?;
        let bytes = encode(&path, node)?;
        for _ in 0..RACE_RETRIES {
            let create = self.client.create(&path, &bytes, &ephemeral());
            match self.call("create", &path, create).await? {
                Ok(_) => {
                    tracing::info!("Node `{}` is registered.", node.id);
                    return Ok(());
                }
                Err(zk::Error::NodeExists) => {}
                Err(e) => return Err(zk_error("create", &path, &e)),
            }
            let stat = match self
                .call("get", &path, self.client.check_stat(&path))
                .await?
            {
                Ok(Some(stat)) => stat,
                // The other registration's session just ended: create again.
                Ok(None) => continue,
                Err(e) => return Err(zk_error("get", &path, &e)),
            };
            if stat.ephemeral_owner != self.session_id() {
                return Err(node_taken(&node.id));
            }
            let set = self.client.set_data(&path, &bytes, Some(stat.version));
            match self.call("set", &path, set).await? {
                Ok(_) => return Ok(()),
                Err(zk::Error::NoNode | zk::Error::BadVersion) => continue,
                Err(e) => return Err(zk_error("set", &path, &e)),
            }
        }
        Err(lost_races(format!("register node `{}`", node.id)))
    }
}
