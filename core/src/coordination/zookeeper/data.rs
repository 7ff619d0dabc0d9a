//! The bytes stored in each znode: JSON for the records, the bare word for a desired state (so
//! `zkCli.sh get .../desired` reads `running`), the decimal epoch, and for task data records a
//! format byte and the zlib-compressed record. Decoding names the path of what it could not
//! read.

use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
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

/// The first byte of a task data znode: the rest is the record, zlib-compressed. (A byte of its
/// own so that another form, e.g. a record split over several znodes, can come later.)
const DATA_ZLIB: u8 = 1;

/// A task data record as stored: the format byte and the compressed bytes. Schema histories
/// are repetitive JSON and shrink several times, which keeps big ones under ZooKeeper's znode
/// limit.
pub(super) fn pack_data(path: &str, bytes: &[u8]) -> Result<Vec<u8>, CoordinationError> {
    let mut encoder = ZlibEncoder::new(vec![DATA_ZLIB], Compression::default());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| CoordinationError::Corrupt {
            path: path.to_string(),
            detail: format!("cannot compress the record to write: {e}"),
        })
}

/// The record stored at `path` by [`pack_data`].
pub(super) fn unpack_data(path: &str, stored: &[u8]) -> Result<Vec<u8>, CoordinationError> {
    let corrupt = |detail: String| CoordinationError::Corrupt {
        path: path.to_string(),
        detail,
    };
    match stored.split_first() {
        Some((&DATA_ZLIB, compressed)) => {
            let mut bytes = Vec::new();
            ZlibDecoder::new(compressed)
                .read_to_end(&mut bytes)
                .map_err(|e| corrupt(format!("the compressed record does not inflate: {e}")))?;
            Ok(bytes)
        }
        Some((other, _)) => Err(corrupt(format!(
            "unknown task data format {other} (written by a newer Sluice?)"
        ))),
        None => Err(corrupt("the task data znode is empty".into())),
    }
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
