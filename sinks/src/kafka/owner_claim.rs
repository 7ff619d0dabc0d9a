//! Owner claims for the exactly-once sink: which run of a task holds its transactional id.
//!
//! `init_transactions` fences off an older producer, but only if the brokers tell that producer
//! so. Tansu 0.6 answers a fenced producer's `EndTxn` by closing the connection, so the old
//! owner's commit times out as if the brokers were away; were it to start again from its
//! checkpoint with a new producer, its `init_transactions` would fence off its successor in
//! turn, and two runs would take turns writing.
//!
//! So every run of a task claims the id: right after `init_transactions` it commits a record
//! `{transactional id}#owner` naming the run to the checkpoint topic. When the sink is opened
//! again within the same run (after a failed transaction), it first reads the last claim: one
//! by another run means a successor took over, and the sink stops as fenced instead of
//! registering again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The value of a claim record.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct OwnerClaim {
    /// The run that claimed the id (`OwnerClaim::new_run`).
    pub owner: String,
    pub at_ms: u64,
}

/// The claim record's key for a transactional id (the checkpoint record's key is the id).
pub(super) fn claim_key(transactional_id: &str) -> String {
    format!("{transactional_id}#owner")
}

/// A run of a task in this process, as far as its transactional id goes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Run {
    pub name: String,
    /// Its claim record was committed: a later claim by another run means a successor.
    pub claimed: bool,
}

/// Per transactional id, the latest run of this process.
fn runs() -> &'static Mutex<HashMap<String, Run>> {
    static RUNS: OnceLock<Mutex<HashMap<String, Run>>> = OnceLock::new();
    RUNS.get_or_init(Default::default)
}

/// The run a sink belongs to: a new one at a task's first open, else the latest one.
pub(super) fn run_for(transactional_id: &str, first_open: bool) -> Run {
    let mut runs = runs().lock().unwrap_or_else(|e| e.into_inner());
    if !first_open {
        if let Some(run) = runs.get(transactional_id) {
            return run.clone();
        }
    }
    let run = Run {
        name: new_run(),
        claimed: false,
    };
    runs.insert(transactional_id.to_string(), run.clone());
    run
}

/// Records that `run` committed its claim (unless a newer run of this process replaced it).
pub(super) fn claimed(transactional_id: &str, run: &str) {
    let mut runs = runs().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(latest) = runs.get_mut(transactional_id) {
        if latest.name == run {
            latest.claimed = true;
        }
    }
}

/// A name no other run shares: host, process, start time and a counter.
fn new_run() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!(
        "{host}/pid {}/{now_ms}/{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl OwnerClaim {
    pub fn record(owner: &str, at_ms: u64) -> Vec<u8> {
        serde_json::to_vec(&OwnerClaim {
            owner: owner.to_string(),
            at_ms,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_open_starts_a_new_run_and_later_opens_keep_it() {
        let id = "claim-test-id";
        let first = run_for(id, true);
        assert!(!first.claimed);
        assert_eq!(run_for(id, false), first);
        claimed(id, &first.name);
        assert!(run_for(id, false).claimed);
        let second = run_for(id, true);
        assert_ne!(first.name, second.name);
        assert!(!second.claimed);
        // A replaced run's late claim does not count for the newer one.
        claimed(id, &first.name);
        assert_eq!(run_for(id, false), second);
    }

    #[test]
    fn claim_records_round_trip() {
        let bytes = OwnerClaim::record("host/pid 1/2/3", 42);
        let claim: OwnerClaim = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(claim.owner, "host/pid 1/2/3");
        assert_eq!(claim.at_ms, 42);
        assert_eq!(claim_key("t"), "t#owner");
    }
}
