//! Ownership through ZooKeeper: the claim, the release and the fenced writes (checkpoint,
//! status, task data). Each is one multi-op transaction; the argument that they fence a stale
//! owner is in `zookeeper.rs` and `docs/cluster.md`.
//!
//! The epoch of an ownership is the version of the task's epoch znode after the claim. That
//! znode is never deleted (not even with the task), and only a claim changes it.

use zookeeper_client as zk;

use super::data::{decode, encode, encode_epoch, pack_data, unpack_data};
use super::errors::zk_error;
use super::layout::TaskPaths;
use super::txn::{OpFailed, Txn};
use super::{ephemeral, persistent, ZooKeeperCoordinator};
use crate::coordination::{
    now_ms, CoordinationError, Ownership, StoredCheckpoint, TaskStatusReport,
};
use crate::snapshot_progress::SnapshotProgress;
use crate::BinlogPosition;

/// The largest task data znode written (compressed, format byte included). ZooKeeper refuses a
/// request over `jute.maxbuffer` (1 MiB - 1 by default); the rest is left for the fencing
/// checks and the paths of the same transaction.
pub(super) const MAX_DATA_BYTES: usize = 1_000_000;

/// How often a claim retries after losing a race (another claim, the epoch znode appearing).
const CLAIM_RETRIES: usize = 10;

impl ZooKeeperCoordinator {
    /// One transaction: bump the epoch znode's version from the one just read, and create the
    /// ephemeral owner znode. A concurrent claim makes one of the two fail, so at most one
    /// claim per epoch wins.
    pub(super) async fn claim(
        &self,
        task: &str,
        node: &str,
    ) -> Result<Option<Ownership>, CoordinationError> {
        let paths = self.layout.task(task)?;
        for _ in 0..CLAIM_RETRIES {
            let version = match self
                .call("get", &paths.epoch, self.client.check_stat(&paths.epoch))
                .await?
            {
                Ok(Some(stat)) => stat.version,
                Ok(None) => {
                    self.create_epoch(&paths).await?;
                    continue;
                }
                Err(e) => return Err(zk_error("get", &paths.epoch, &e)),
            };
            let Some(next) = version.checked_add(1) else {
                return Err(CoordinationError::Corrupt {
                    path: paths.epoch.clone(),
                    detail: "the epoch counter is at its maximum".into(),
                });
            };
            let owner = Ownership {
                node: node.to_string(),
                epoch: u64::try_from(next).unwrap_or(0),
                since_ms: now_ms(),
            };
            let bytes = encode(&paths.owner, &owner)?;
            let mut txn = Txn::new(&self.client);
            txn.set(&paths.epoch, &encode_epoch(owner.epoch), Some(version))?
                .create(&paths.owner, &bytes, &ephemeral())?;
            match self.commit("claim", &paths.owner, txn).await? {
                Ok(_) => {
                    tracing::info!(
                        "Node `{node}` claimed task `{task}` with epoch {}.",
                        owner.epoch
                    );
                    return Ok(Some(owner));
                }
                // Another claim bumped the epoch meanwhile: look again.
                Err(OpFailed {
                    index: 0,
                    err: zk::Error::BadVersion | zk::Error::NoNode,
                    ..
                }) => continue,
                Err(OpFailed {
                    index: 1,
                    err: zk::Error::NoNode,
                    ..
                }) => {
                    return Err(CoordinationError::NoSuchTask {
                        task: task.to_string(),
                    })
                }
                Err(OpFailed {
                    index: 1,
                    err: zk::Error::NodeExists,
                    ..
                }) => match self.current_claim(&paths, node).await? {
                    Claim::Mine(owner) => return Ok(Some(owner)),
                    Claim::Other => return Ok(None),
                    Claim::Gone => continue,
                },
                Err(failed) => return Err(failed.into_error()),
            }
        }
        Err(CoordinationError::Conflict {
            what: format!("task {task}: claim"),
            detail: format!("lost {CLAIM_RETRIES} races with other claims; try again"),
        })
    }

    async fn create_epoch(&self, paths: &TaskPaths) -> Result<(), CoordinationError> {
        let create = self
            .client
            .create(&paths.epoch, &encode_epoch(0), &persistent());
        match self.call("create", &paths.epoch, create).await? {
            Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
            Err(e) => Err(zk_error("create", &paths.epoch, &e)),
        }
    }

    /// Who holds the owner znode that a claim found: this session for `node` (a retried claim
    /// whose first answer was lost), someone else, or nobody any more.
    async fn current_claim(
        &self,
        paths: &TaskPaths,
        node: &str,
    ) -> Result<Claim, CoordinationError> {
        match self
            .call("get", &paths.owner, self.client.get_data(&paths.owner))
            .await?
        {
            Ok((bytes, stat)) => {
                let owner: Ownership = decode(&paths.owner, &bytes)?;
                if stat.ephemeral_owner == self.session_id() && owner.node == node {
                    Ok(Claim::Mine(owner))
                } else {
                    Ok(Claim::Other)
                }
            }
            Err(zk::Error::NoNode) => Ok(Claim::Gone),
            Err(e) => Err(zk_error("get", &paths.owner, &e)),
        }
    }

    /// Deletes the owner znode if `owner` still holds it.
    pub(super) async fn give_up(
        &self,
        task: &str,
        owner: &Ownership,
    ) -> Result<(), CoordinationError> {
        let paths = self.layout.task(task)?;
        let version = epoch_version(task, owner)?;
        let mut txn = Txn::new(&self.client);
        txn.check(&paths.epoch, version)?.delete(&paths.owner)?;
        match self.commit("release", &paths.owner, txn).await? {
            Ok(_) => {
                tracing::info!(
                    "Node `{}` released task `{task}` (epoch {}).",
                    owner.node,
                    owner.epoch
                );
                Ok(())
            }
            Err(OpFailed {
                err: zk::Error::BadVersion | zk::Error::NoNode,
                ..
            }) => Err(self.not_owner(task, &paths, owner).await),
            Err(failed) => Err(failed.into_error()),
        }
    }

    pub(super) async fn write_checkpoint(
        &self,
        task: &str,
        owner: &Ownership,
        position: &BinlogPosition,
        snapshot: Option<&SnapshotProgress>,
    ) -> Result<(), CoordinationError> {
        let paths = self.layout.task(task)?;
        let checkpoint = StoredCheckpoint {
            position: position.clone(),
            epoch: owner.epoch,
            at_ms: now_ms(),
            snapshot: snapshot.cloned(),
        };
        let bytes = encode(&paths.checkpoint, &checkpoint)?;
        self.fenced_write(task, &paths, owner, &paths.checkpoint, &bytes)
            .await
    }

    pub(super) async fn write_snapshot_taken(
        &self,
        task: &str,
        owner: &Ownership,
        id: u64,
    ) -> Result<(), CoordinationError> {
        let paths = self.layout.task(task)?;
        let bytes = encode(&paths.snapshot_taken, &id)?;
        self.fenced_write(task, &paths, owner, &paths.snapshot_taken, &bytes)
            .await
    }

    pub(super) async fn write_status(
        &self,
        task: &str,
        owner: &Ownership,
        status: &TaskStatusReport,
    ) -> Result<(), CoordinationError> {
        let paths = self.layout.task(task)?;
        let bytes = encode(&paths.status, status)?;
        self.fenced_write(task, &paths, owner, &paths.status, &bytes)
            .await
    }

    /// Writes task data record `name`, compressed, fenced like the checkpoint; a record that
    /// does not fit in a znode even compressed is refused before anything is sent.
    pub(super) async fn write_task_data(
        &self,
        task: &str,
        owner: &Ownership,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), CoordinationError> {
        let paths = self.layout.task(task)?;
        let path = paths.data(name)?;
        let packed = pack_data(&path, bytes)?;
        if packed.len() > MAX_DATA_BYTES {
            return Err(CoordinationError::TooLarge {
                what: format!("task {task}: data record `{name}` at {path}"),
                size: bytes.len(),
                stored: packed.len(),
                limit: MAX_DATA_BYTES,
                hint: ": ZooKeeper refuses a znode over its `jute.maxbuffer` (1 MiB by default)"
                    .into(),
            });
        }
        self.fenced_write(task, &paths, owner, &path, &packed).await
    }

    /// Task data record `name`, if it was written.
    pub(super) async fn read_task_data(
        &self,
        task: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, CoordinationError> {
        let path = self.layout.task(task)?.data(name)?;
        match self.call("get", &path, self.client.get_data(&path)).await? {
            Ok((stored, _)) => unpack_data(&path, &stored).map(Some),
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(zk_error("get", &path, &e)),
        }
    }

    /// Writes `bytes` at `path` in a transaction that first checks the epoch znode still has
    /// `owner`'s version and the owner znode still exists; either check failing means the
    /// ownership is lost, and nothing is written.
    async fn fenced_write(
        &self,
        task: &str,
        paths: &TaskPaths,
        owner: &Ownership,
        path: &str,
        bytes: &[u8],
    ) -> Result<(), CoordinationError> {
        let version = epoch_version(task, owner)?;
        // The first write of a checkpoint or status creates it.
        for create in [false, true] {
            let mut txn = Txn::new(&self.client);
            txn.check(&paths.epoch, version)?.check(&paths.owner, -1)?;
            if create {
                txn.create(path, bytes, &persistent())?;
            } else {
                txn.set(path, bytes, None)?;
            }
            match self.commit("write", path, txn).await? {
                Ok(_) => return Ok(()),
                Err(OpFailed {
                    index: 0 | 1,
                    err: zk::Error::BadVersion | zk::Error::NoNode,
                    ..
                }) => return Err(self.not_owner(task, paths, owner).await),
                Err(OpFailed {
                    index: 2,
                    err: zk::Error::NoNode | zk::Error::NodeExists,
                    ..
                }) => continue,
                Err(failed) => return Err(failed.into_error()),
            }
        }
        Err(CoordinationError::Conflict {
            what: format!("task {task}: write {path}"),
            detail: "the znode was deleted and created again meanwhile; try again".into(),
        })
    }

    /// The `NotOwner` error, saying who owns the task now if that can be read.
    async fn not_owner(
        &self,
        task: &str,
        paths: &TaskPaths,
        owner: &Ownership,
    ) -> CoordinationError {
        let detail = match self.read_owner(&paths.owner).await {
            Ok(Some(now)) => format!("node `{}` owns it with epoch {}", now.node, now.epoch),
            Ok(None) => "nobody owns it now (the claiming session ended, or the task was \
                         released or removed)"
                .to_string(),
            Err(e) => format!("the ownership check failed; the current owner is unknown ({e})"),
        };
        tracing::warn!(
            "Node `{}` lost task `{task}` (epoch {}): {detail}.",
            owner.node,
            owner.epoch
        );
        CoordinationError::NotOwner {
            task: task.to_string(),
            epoch: owner.epoch,
            detail,
        }
    }
}

enum Claim {
    Mine(Ownership),
    Other,
    Gone,
}

/// The epoch znode version an ownership stands for.
fn epoch_version(task: &str, owner: &Ownership) -> Result<i32, CoordinationError> {
    i32::try_from(owner.epoch).map_err(|_| CoordinationError::NotOwner {
        task: task.to_string(),
        epoch: owner.epoch,
        detail: "no claim ever has this epoch".into(),
    })
}
