//! How far a snapshot got, as the checkpoint records it, and the ledger that ties each
//! completed chunk to the binlog position where its rows were emitted.
//!
//! A checkpoint at position P may only claim the chunks whose rows come before P in the event
//! stream: the ledger holds (position, progress) pairs in stream order and hands the checkpoint
//! the progress of the last pair at or before P. So a restart from P re-reads exactly the
//! chunks the sinks did not confirm.

use std::collections::VecDeque;
use std::sync::Mutex;

use sluice_core::BinlogPosition;
// The progress types live in core: the coordinator's checkpoints carry them too.
pub use sluice_core::snapshot_progress::{KeyValue, SnapshotProgress};

/// Progress per emitted chunk, waiting for a checkpoint to pass its position.
pub struct ProgressLedger {
    state: Mutex<LedgerState>,
}

struct LedgerState {
    /// What the last checkpoint claimed (`None`: the snapshot is complete).
    claimed: Option<SnapshotProgress>,
    /// Completed chunks not yet claimed, in stream order.
    pending: VecDeque<(BinlogPosition, Option<SnapshotProgress>)>,
    /// The highest on-demand request a claim has reached: a checkpoint holding that claim
    /// carries the request's snapshot (or its completion).
    covered: Option<u64>,
}

impl ProgressLedger {
    /// A ledger whose checkpoints claim `start` until a chunk completes.
    pub fn new(start: Option<SnapshotProgress>) -> Self {
        ProgressLedger {
            state: Mutex::new(LedgerState {
                claimed: start,
                pending: VecDeque::new(),
                covered: None,
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

    /// A new snapshot (on demand) starts at `start`, after every chunk recorded so far: the
    /// previous snapshot, if any, is complete, so where it would have said "done" the new one
    /// continues.
    pub fn begin(&self, start: SnapshotProgress) {
        let mut state = self.state();
        match state.pending.back_mut() {
            Some((_, next)) => *next = Some(start),
            None => state.claimed = Some(start),
        }
    }

    /// The progress a checkpoint at `position` records.
    pub fn claim(&self, position: &BinlogPosition) -> Option<SnapshotProgress> {
        let mut state = self.state();
        let mut reached = state.claimed.as_ref().and_then(|p| p.request);
        while state.pending.front().is_some_and(|(at, _)| at <= position) {
            if let Some((_, next)) = state.pending.pop_front() {
                reached = reached.max(next.as_ref().and_then(|p| p.request));
                state.claimed = next;
            }
        }
        state.covered = state.covered.max(reached);
        state.claimed.clone()
    }

    /// The highest on-demand request the last claim reached.
    pub fn covered_request(&self) -> Option<u64> {
        self.state().covered
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
            ..Default::default()
        })
    }

    #[test]
    fn a_checkpoint_claims_only_chunks_before_its_position() {
        let start = SnapshotProgress {
            database: "db".into(),
            table: "a".into(),
            after: None,
            ..Default::default()
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
    fn a_snapshot_begun_later_continues_where_the_last_one_ended() {
        let ledger = ProgressLedger::new(at("a", 10));
        ledger.record(BinlogPosition::new("b.000001", 100), None);
        let on_demand = SnapshotProgress {
            database: "db".into(),
            table: "c".into(),
            request: Some(4),
            ..Default::default()
        };
        ledger.begin(on_demand.clone());
        assert_eq!(
            ledger.claim(&BinlogPosition::new("b.000001", 50)),
            at("a", 10)
        );
        assert_eq!(ledger.covered_request(), None);
        assert_eq!(
            ledger.claim(&BinlogPosition::new("b.000001", 100)),
            Some(on_demand)
        );
        assert_eq!(ledger.covered_request(), Some(4));
        // Completed before a checkpoint saw its progress: still covered.
        let idle = ProgressLedger::new(None);
        idle.begin(SnapshotProgress {
            request: Some(5),
            ..Default::default()
        });
        idle.record(BinlogPosition::new("b.000002", 10), None);
        assert_eq!(idle.claim(&BinlogPosition::new("b.000002", 20)), None);
        assert_eq!(idle.covered_request(), Some(5));
    }
}
