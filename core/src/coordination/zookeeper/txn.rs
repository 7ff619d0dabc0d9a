//! A multi-op transaction being built: each operation added names its path, so that a failed
//! operation can be reported by path, not by index.

use zookeeper_client as zk;

use super::errors::zk_error;
use crate::coordination::CoordinationError;

pub(super) struct Txn<'a> {
    writer: zk::MultiWriter<'a>,
    /// Per operation, in order: what it does and its path.
    ops: Vec<(&'static str, String)>,
}

impl<'a> Txn<'a> {
    pub(super) fn new(client: &'a zk::Client) -> Self {
        Txn {
            writer: client.new_multi_writer(),
            ops: Vec::new(),
        }
    }

    pub(super) fn create(
        &mut self,
        path: &str,
        data: &[u8],
        options: &zk::CreateOptions<'_>,
    ) -> Result<&mut Self, CoordinationError> {
        let added = self.writer.add_create(path, data, options);
        self.added("create", path, added)
    }

    /// Sets the data, if the version is `version` (any version with `None`).
    pub(super) fn set(
        &mut self,
        path: &str,
        data: &[u8],
        version: Option<i32>,
    ) -> Result<&mut Self, CoordinationError> {
        let added = self.writer.add_set_data(path, data, version);
        self.added("set", path, added)
    }

    /// Checks the version (`-1`: that the znode exists).
    pub(super) fn check(
        &mut self,
        path: &str,
        version: i32,
    ) -> Result<&mut Self, CoordinationError> {
        let added = self.writer.add_check_version(path, version);
        self.added("check", path, added)
    }

    pub(super) fn delete(&mut self, path: &str) -> Result<&mut Self, CoordinationError> {
        let added = self.writer.add_delete(path, None);
        self.added("delete", path, added)
    }

    /// Commits; the outer error is the request's (no answer), the inner one the failed
    /// operation's (nothing was written).
    pub(super) async fn commit(
        mut self,
    ) -> Result<Result<Vec<zk::MultiWriteResult>, OpFailed>, zk::Error> {
        match self.writer.commit().await {
            Ok(results) => Ok(Ok(results)),
            Err(zk::MultiWriteError::RequestFailed { source }) => Err(source),
            Err(zk::MultiWriteError::OperationFailed { index, source }) => {
                let (op, path) = self
                    .ops
                    .get(index)
                    .map_or(("transaction", "?".to_string()), |(op, path)| {
                        (*op, path.clone())
                    });
                Ok(Err(OpFailed {
                    index,
                    err: source,
                    op,
                    path,
                }))
            }
        }
    }

    fn added(
        &mut self,
        op: &'static str,
        path: &str,
        added: Result<(), zk::Error>,
    ) -> Result<&mut Self, CoordinationError> {
        added.map_err(|e| zk_error(op, path, &e))?;
        self.ops.push((op, path.to_string()));
        Ok(self)
    }
}

/// The operation of a transaction that failed; nothing was written.
#[derive(Debug)]
pub(super) struct OpFailed {
    /// Its index, in the order the operations were added.
    pub(super) index: usize,
    pub(super) err: zk::Error,
    op: &'static str,
    path: String,
}

impl OpFailed {
    /// The error for a failure the caller does not handle itself, naming the operation's path.
    pub(super) fn into_error(self) -> CoordinationError {
        zk_error(self.op, &self.path, &self.err)
    }
}
