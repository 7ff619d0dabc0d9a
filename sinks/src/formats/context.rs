//! What an encoder needs to know about a row event beyond the event itself: the time the
//! message is built, and the row's transaction (its XID and whether the row is its last).
//!
//! Why the sink passes this in: Sluice's row events carry neither. The XID arrives with the
//! transaction's `Commit` event, after its rows, and only then is the last row known; Maxwell
//! puts both on every row (`"xid"`, and `"commit":true` on the last). The encoders stay pure
//! functions of their inputs, so "now" comes from the sink's clock too (Canal's `ts`, Debezium's
//! `ts_ms`), which also keeps the tests deterministic.
//!
//! A sink whose format [`needs_whole_transactions`](super::Format::needs_whole_transactions)
//! holds row events back until their `Commit` has arrived ([`complete_len`]) and then takes the
//! contexts of the whole run from [`contexts`], as Maxwell itself buffers a transaction until it
//! sees its commit.

use sluice_core::{Event, EventKind};

/// Per-message facts the sink supplies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageContext {
    /// Milliseconds since the Unix epoch when the message is built (the sink's clock).
    pub now_ms: u64,
    /// The XID of the row's transaction, from its `Commit` event, when known.
    pub xid: Option<u64>,
    /// The row is the last row event of its transaction (its `Commit` has been seen).
    pub last_row: bool,
}

impl MessageContext {
    /// A context with only the time: what every format but Maxwell needs.
    pub fn at(now_ms: u64) -> MessageContext {
        MessageContext {
            now_ms,
            ..MessageContext::default()
        }
    }
}

/// One context per event of `events`, in order. A row gets its transaction's XID and, if it is
/// the transaction's last row, `last_row`, when the transaction's `Commit` is among `events`;
/// rows of a transaction still open at the end of `events` get neither.
pub fn contexts(events: &[Event], now_ms: u64) -> Vec<MessageContext> {
    let mut out = vec![MessageContext::at(now_ms); events.len()];
    // Walk backwards so each row already knows whether a commit follows it.
    // `commit`: the XID of the commit ahead (outer `None`: no commit ahead in this transaction).
    let mut commit: Option<Option<u64>> = None;
    let mut last_pending = false;
    for (event, ctx) in events.iter().zip(&mut out).rev() {
        match &event.kind {
            EventKind::Commit { xid, .. } => {
                commit = Some(*xid);
                last_pending = true;
            }
            EventKind::Row(_) => {
                if let Some(xid) = commit {
                    ctx.xid = xid;
                    ctx.last_row = last_pending;
                }
                last_pending = false;
            }
            // Rows before a Begin, DDL or incident belong to an earlier transaction.
            EventKind::Begin | EventKind::Ddl { .. } | EventKind::Incident { .. } => {
                commit = None;
                last_pending = false;
            }
        }
    }
    out
}

/// How many leading events of `events` form whole transactions, ending with a `Commit`, a DDL
/// or an incident; the rest belong to a transaction whose commit has not arrived yet.
pub fn complete_len(events: &[Event]) -> usize {
    events
        .iter()
        .rposition(|e| {
            matches!(
                e.kind,
                EventKind::Commit { .. } | EventKind::Ddl { .. } | EventKind::Incident { .. }
            )
        })
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{begin, commit, ddl, insert, products, row};

    #[test]
    fn rows_learn_their_xid_and_the_last_row_is_marked() {
        let table = products();
        let events = vec![
            begin(),
            insert(&table, row(1)),
            insert(&table, row(2)),
            commit(Some(77)),
            ddl("ALTER TABLE t ADD c INT"),
            begin(),
            insert(&table, row(3)),
            commit(None),
            begin(),
            insert(&table, row(4)),
        ];
        let ctx = contexts(&events, 5);
        let rows: Vec<_> = [1, 2, 6, 9]
            .iter()
            .map(|&i| (ctx[i].xid, ctx[i].last_row))
            .collect();
        assert_eq!(
            rows,
            [
                (Some(77), false),
                (Some(77), true),
                (None, true),
                (None, false)
            ]
        );
        assert!(ctx.iter().all(|c| c.now_ms == 5));
        assert_eq!(complete_len(&events), 8);
        assert_eq!(complete_len(&events[..3]), 0);
        assert_eq!(complete_len(&events[..5]), 5);
    }
}
