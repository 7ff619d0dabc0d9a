//! On-demand snapshot requests reaching a running task, and the answer going back.
//!
//! The node agent forwards the coordinator's pending request (one the owner has not taken)
//! into the task; the task starts it once no other snapshot is in progress, and its progress
//! rides in the checkpoints like the initial snapshot's. Once a saved checkpoint reaches the
//! request (its progress, or its completion), the task reports the request as covered and the
//! agent records it as taken in the coordinator, so the request stays pending until a
//! checkpoint holds it: a crash before then makes the next owner start it again (its `r` rows
//! are upserts; the pipeline delivers at least once anyway).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sluice_core::coordination::SnapshotRequest;
use tokio::sync::watch;

/// A task's side of the request channel; cheap to clone.
#[derive(Clone)]
pub struct SnapshotRequests {
    pending: watch::Receiver<Option<SnapshotRequest>>,
    /// The highest request id this task started (kept across its restarts after sink errors).
    started: Arc<AtomicU64>,
    /// The highest request id a saved checkpoint covers.
    covered: Arc<AtomicU64>,
}

impl SnapshotRequests {
    /// A channel: the agent sends the pending request; the task reads it.
    pub fn channel(
        pending: Option<SnapshotRequest>,
    ) -> (watch::Sender<Option<SnapshotRequest>>, SnapshotRequests) {
        let (tx, rx) = watch::channel(pending);
        (
            tx,
            SnapshotRequests {
                pending: rx,
                started: Arc::default(),
                covered: Arc::default(),
            },
        )
    }

    /// No requests ever (standalone without a manager has no API to make one).
    pub fn none() -> SnapshotRequests {
        SnapshotRequests::channel(None).1
    }

    /// The pending request, unless this task already started it.
    pub(crate) fn next(&self) -> Option<SnapshotRequest> {
        let started = self.started.load(Ordering::SeqCst);
        self.pending
            .borrow()
            .clone()
            .filter(|request| request.id > started)
    }

    /// The task started request `id` (or resumes it from a checkpoint).
    pub(crate) fn start(&self, id: u64) {
        self.started.fetch_max(id, Ordering::SeqCst);
    }

    /// A saved checkpoint covers request `id`.
    pub(crate) fn cover(&self, id: u64) {
        self.covered.fetch_max(id, Ordering::SeqCst);
    }

    /// The highest request id a saved checkpoint covers (0: none).
    pub fn covered(&self) -> u64 {
        self.covered.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: u64) -> SnapshotRequest {
        SnapshotRequest {
            id,
            tables: vec!["db.t".into()],
            requested_at_ms: 1,
            requested_by: "admin".into(),
        }
    }

    #[test]
    fn a_request_is_handed_out_until_started() {
        let (tx, requests) = SnapshotRequests::channel(Some(request(2)));
        assert_eq!(requests.next().map(|r| r.id), Some(2));
        requests.start(2);
        assert_eq!(requests.next(), None);
        tx.send_replace(Some(request(3)));
        assert_eq!(requests.next().map(|r| r.id), Some(3));
        assert_eq!(requests.covered(), 0);
        requests.cover(3);
        requests.cover(2);
        assert_eq!(requests.covered(), 3);
        assert_eq!(SnapshotRequests::none().next(), None);
    }
}
