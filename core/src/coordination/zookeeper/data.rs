//! The bytes stored in each znode: JSON for the records, the bare word for a desired state (so
//! `zkCli.sh get .../desired` reads `running`), the decimal epoch. Decoding names the path of
//! what it could not read.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::coordination::{CoordinationError, DesiredState};

/// The JSON form of a record.
pub(super) fn encode<T: Serialize>(path: &str, value: &T) -> Result<Vec<u8>, CoordinationError> {
    serde_json::to_vec(value).map_err(|e| CoordinationError::Corrupt {
        path: path.to_string(),
        detail: format!("cannot encode the record to write: {e}"),
    })
}

/// A record read from `path`.
pub(super) fn decode<T: DeserializeOwned>(
    path: &str,
    bytes: &[u8],
) -> Result<T, CoordinationError> {
    serde_json::from_slice(bytes).map_err(|e| CoordinationError::Corrupt {
        path: path.to_string(),
        detail: format!("not the expected JSON record: {e}"),
    })
}

pub(super) fn encode_desired(desired: DesiredState) -> &'static [u8] {
    match desired {
        DesiredState::Running => b"running",
        DesiredState::Paused => b"paused",
        DesiredState::Stopped => b"stopped",
    }
}

pub(super) fn decode_desired(path: &str, bytes: &[u8]) -> Result<DesiredState, CoordinationError> {
    match bytes {
        b"running" => Ok(DesiredState::Running),
        b"paused" => Ok(DesiredState::Paused),
        b"stopped" => Ok(DesiredState::Stopped),
        other => Err(CoordinationError::Corrupt {
            path: path.to_string(),
            detail: format!(
                "desired state {:?} is none of running, paused, stopped",
                String::from_utf8_lossy(other)
            ),
        }),
    }
}

/// The data of an epoch znode: the epoch in decimal, for people reading the tree (the code
/// relies on the znode's version, which equals it).
pub(super) fn encode_epoch(epoch: u64) -> Vec<u8> {
    epoch.to_string().into_bytes()
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
