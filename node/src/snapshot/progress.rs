//! How far a snapshot got, as the checkpoint records it, and the ledger that ties each
//! completed chunk to the binlog position where its rows were emitted.
//!
//! A checkpoint at position P may only claim the chunks whose rows come before P in the event
//! stream: the ledger holds (position, progress) pairs in stream order and hands the checkpoint
//! the progress of the last pair at or before P. So a restart from P re-reads exactly the
//! chunks the sinks did not confirm.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sluice_core::BinlogPosition;

/// One value of a chunk key, typed so the next chunk's `WHERE key > ?` compares exactly
/// (a 64-bit integer is never a float, a string keeps its collation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyValue {
    Int(i64),
    UInt(u64),
    Double(f64),
    /// Strings, decimals and temporal values, in the text form MySQL parses back.
    Text(String),
    Bytes(Vec<u8>),
}

/// Where a snapshot continues: table `database`.`table` (tables sorting before it are done),
/// after key `after` (`None`: from the table's first row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotProgress {
    pub database: String,
    pub table: String,
    #[serde(default)]
    pub after: Option<Vec<KeyValue>>,
}

/// Progress per emitted chunk, waiting for a checkpoint to pass its position.
pub struct ProgressLedger {
    state: Mutex<LedgerState>,
}

struct LedgerState {
    /// What the last checkpoint claimed (`None`: the snapshot is complete).
    claimed: Option<SnapshotProgress>,
    /// Completed chunks not yet claimed, in stream order.
    pending: VecDeque<(BinlogPosition, Option<SnapshotProgress>)>,
}

impl ProgressLedger {
    /// A ledger whose checkpoints claim `start` until a chunk completes.
    pub fn new(start: Option<SnapshotProgress>) -> Self {
        ProgressLedger {
            state: Mutex::new(LedgerState {
                claimed: start,
                pending: VecDeque::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LedgerState> {
        // The state stays consistent at every await-free step, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What checkpoints claim before the first chunk completes (the snapshot's start, once
    /// known).
    pub fn reset_start(&self, start: SnapshotProgress) {
        let mut state = self.state();
        if state.pending.is_empty() {
            state.claimed = Some(start);
        }
    }

    /// A chunk's rows were emitted in the transaction ending at `at`; after it the snapshot
    /// continues at `next` (`None`: done).
    pub fn record(&self, at: BinlogPosition, next: Option<SnapshotProgress>) {
        self.state().pending.push_back((at, next));
    }

    /// The progress a checkpoint at `position` records.
    pub fn claim(&self, position: &BinlogPosition) -> Option<SnapshotProgress> {
        let mut state = self.state();
        while state.pending.front().is_some_and(|(at, _)| at <= position) {
            if let Some((_, next)) = state.pending.pop_front() {
                state.claimed = next;
            }
        }
        state.claimed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(table: &str, key: i64) -> Option<SnapshotProgress> {
        Some(SnapshotProgress {
            database: "db".into(),
            table: table.into(),
            after: Some(vec![KeyValue::Int(key)]),
        })
    }

    #[test]
    fn a_checkpoint_claims_only_chunks_before_its_position() {
        let start = SnapshotProgress {
            database: "db".into(),
            table: "a".into(),
            after: None,
        };
        let ledger = ProgressLedger::new(Some(start.clone()));
        ledger.record(BinlogPosition::new("b.000001", 100), at("a", 10));
        ledger.record(BinlogPosition::new("b.000001", 200), at("a", 20));
        ledger.record(BinlogPosition::new("b.000002", 50), None);
        assert_eq!(
            ledger.claim(&BinlogPosition::new("b.000001", 99)),
            Some(start)
        );
        assert_eq!(
            ledger.claim(&BinlogPosition::new("b.000001", 150)),
            at("a", 10)
        );
        assert_eq!(
            ledger.claim(&BinlogPosition::new("b.000001", 200)),
            at("a", 20)
        );
        // Later checkpoints keep claiming the last progress until the next chunk...
        assert_eq!(
            ledger.claim(&BinlogPosition::new("b.000001", 900)),
            at("a", 20)
        );
        // ...and claim none once the snapshot completed.
        assert_eq!(ledger.claim(&BinlogPosition::new("b.000002", 60)), None);
    }

    #[test]
    fn progress_round_trips_through_json() {
        let p = SnapshotProgress {
            database: "db".into(),
            table: "t".into(),
            after: Some(vec![
                KeyValue::UInt(u64::MAX),
                KeyValue::Text("ä".into()),
                KeyValue::Bytes(vec![0, 255]),
            ]),
        };
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<SnapshotProgress>(&text).unwrap(), p);
    }
}
