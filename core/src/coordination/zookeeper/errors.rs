//! Turning the ZooKeeper client's errors into [`CoordinationError`]s that name the operation
//! and the path.

use std::time::Duration;

use zookeeper_client as zk;

use crate::coordination::CoordinationError;

/// The error of a failed `op` (e.g. `get`, `create`, `claim`) on `path`, for the errors that
/// mean the session or the connection failed. Errors a caller handles itself (`NoNode`,
/// `NodeExists`, `BadVersion`) are matched before this is called.
pub(super) fn zk_error(op: &str, path: &str, err: &zk::Error) -> CoordinationError {
    match err {
        zk::Error::SessionExpired | zk::Error::SessionMoved => CoordinationError::SessionExpired {
            detail: format!("{op} {path}: {err}"),
        },
        zk::Error::ClientClosed => CoordinationError::SessionExpired {
            detail: format!("{op} {path}: the ZooKeeper client was closed"),
        },
        _ => CoordinationError::Unavailable {
            what: format!("ZooKeeper {op} {path}"),
            detail: err.to_string(),
        },
    }
}

/// The error of a call that got no answer within `within`.
pub(super) fn timed_out(op: &str, path: &str, within: Duration) -> CoordinationError {
    CoordinationError::Unavailable {
        what: format!("ZooKeeper {op} {path}"),
        detail: format!("no answer within {} ms", within.as_millis()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_errors_and_transient_errors_are_told_apart() {
        let expired = zk_error("get", "/sluice/nodes", &zk::Error::SessionExpired);
        assert!(matches!(expired, CoordinationError::SessionExpired { .. }));
        let lost = zk_error("set", "/sluice/tasks/t/status", &zk::Error::ConnectionLoss);
        assert_eq!(
            lost.to_string(),
            "coordinator ZooKeeper set /sluice/tasks/t/status: connection to server has lost"
        );
    }
}
