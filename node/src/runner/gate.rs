//! The write gate: in cluster mode a task may write to its sinks and checkpoint only while its
//! node holds a fresh lease from the coordinator.
//!
//! Why a lease and not only the connection state: a node frozen (SIGSTOP, a long GC-like stall,
//! a suspended VM) past its ZooKeeper session timeout still believes it is connected when it
//! wakes up, and its tasks would write before the client learns the session is gone. The node
//! renews the lease after every successful round trip to the coordinator; the lease lasts half
//! the session timeout, measured on the monotonic clock, which keeps running while the process
//! is stopped. So a node that woke after its session expired finds the lease stale before its
//! first write, while another node can only claim the task after the full session timeout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Checked before every sink write and checkpoint.
#[derive(Clone, Default)]
pub struct WriteGate(Option<Arc<Lease>>);

/// Renews a [`WriteGate`]'s lease.
#[derive(Clone)]
pub struct LeaseRenewer(Arc<Lease>);

struct Lease {
    base: Instant,
    ttl: Duration,
    /// Nanoseconds after `base` until which writing is allowed (0: never renewed).
    until_ns: AtomicU64,
}

impl WriteGate {
    /// A gate that is always open (standalone mode: no one else can own the task).
    pub fn always_open() -> WriteGate {
        WriteGate(None)
    }

    /// A gate open for `ttl` after each renewal; closed until the first one.
    pub fn leased(ttl: Duration) -> (WriteGate, LeaseRenewer) {
        let lease = Arc::new(Lease {
            base: Instant::now(),
            ttl,
            until_ns: AtomicU64::new(0),
        });
        (WriteGate(Some(lease.clone())), LeaseRenewer(lease))
    }

    /// How long writes stay allowed after a renewal (`None`: always open).
    pub fn lease(&self) -> Option<Duration> {
        self.0.as_ref().map(|lease| lease.ttl)
    }

    /// Whether writing is allowed now.
    pub fn is_open(&self) -> bool {
        match &self.0 {
            None => true,
            Some(lease) => {
                let now = lease.base.elapsed().as_nanos() as u64;
                now < lease.until_ns.load(Ordering::SeqCst)
            }
        }
    }
}

impl LeaseRenewer {
    /// Extends the lease to `ttl` from now (call after hearing from the coordinator).
    pub fn renew(&self) {
        self.renew_from(Instant::now());
    }

    /// Extends the lease to `ttl` after `sent`: when the request that the coordinator answered
    /// was sent (an answer read late, after a stall, must not stretch the lease).
    pub fn renew_from(&self, sent: Instant) {
        let until = (sent.saturating_duration_since(self.0.base) + self.0.ttl).as_nanos() as u64;
        self.0.until_ns.fetch_max(until, Ordering::SeqCst);
    }

    /// Ends the lease at once (the connection was lost).
    pub fn revoke(&self) {
        self.0.until_ns.store(0, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_opens_on_renewal_and_lapses() {
        assert!(WriteGate::always_open().is_open());
        let (gate, renewer) = WriteGate::leased(Duration::from_millis(50));
        assert!(!gate.is_open(), "closed until renewed");
        renewer.renew();
        assert!(gate.is_open());
        std::thread::sleep(Duration::from_millis(80));
        assert!(!gate.is_open(), "lapsed");
        renewer.renew();
        renewer.revoke();
        assert!(!gate.is_open(), "revoked");
    }
}
