//! How far a snapshot got when its chunks are delivered out of key order (several readers).
//!
//! The chunks tile the snapshot's key space ([`super::splitter`]): each starts right after
//! where another ended. The frontier is the end of the longest prefix of that space whose
//! chunks are all delivered; a chunk delivered beyond it waits until the gap before it is
//! filled. Only the frontier goes into checkpoints, so a restart never skips an undelivered
//! chunk: it reads again from the frontier, delivering some rows twice (as any at-least-once
//! restart may), never missing one.

use super::producer::ChunkSpan;
use super::progress::KeyValue;
use super::splitter::ChunkEnd;

/// The delivered prefix of a snapshot's key space.
#[derive(Debug)]
pub struct Frontier {
    /// Where the first undelivered chunk starts: a table (index) and the key after which it
    /// starts (`None`: the table's first key). `None`: every table is delivered.
    at: Option<(usize, Option<Vec<KeyValue>>)>,
    tables: usize,
    /// Delivered chunks beyond the frontier (few: at most the chunks in flight).
    ahead: Vec<ChunkSpan>,
}

impl Frontier {
    /// A frontier at `start`, among `tables` tables.
    pub fn new(start: Option<(usize, Option<Vec<KeyValue>>)>, tables: usize) -> Self {
        Frontier {
            at: start,
            tables,
            ahead: Vec::new(),
        }
    }

    /// Where the first undelivered chunk starts; `None` once every table is delivered.
    pub fn at(&self) -> Option<&(usize, Option<Vec<KeyValue>>)> {
        self.at.as_ref()
    }

    /// Notes chunk `span` delivered; returns whether the frontier moved.
    pub fn delivered(&mut self, span: ChunkSpan) -> bool {
        self.ahead.push(span);
        let mut moved = false;
        while let Some((table, after)) = &self.at {
            let Some(i) = self
                .ahead
                .iter()
                .position(|c| c.table == *table && c.after == *after)
            else {
                break;
            };
            let chunk = self.ahead.swap_remove(i);
            self.at = match chunk.end {
                ChunkEnd::Key(key) => Some((chunk.table, Some(key))),
                ChunkEnd::TableEnd => {
                    (chunk.table + 1 < self.tables).then_some((chunk.table + 1, None))
                }
            };
            moved = true;
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(table: usize, after: Option<i64>, end: Option<i64>) -> ChunkSpan {
        ChunkSpan {
            table,
            after: after.map(|k| vec![KeyValue::Int(k)]),
            end: end.map_or(ChunkEnd::TableEnd, |k| {
                ChunkEnd::Key(vec![KeyValue::Int(k)])
            }),
        }
    }

    #[test]
    fn the_frontier_moves_only_over_a_delivered_prefix() {
        let mut frontier = Frontier::new(Some((0, None)), 2);
        // Delivered out of order: (10, 20] first, then (.., 10].
        assert!(!frontier.delivered(span(0, Some(10), Some(20))));
        assert_eq!(frontier.at(), Some(&(0, None)));
        assert!(frontier.delivered(span(0, None, Some(10))));
        assert_eq!(frontier.at(), Some(&(0, Some(vec![KeyValue::Int(20)]))));
        // The next table's first chunk waits for this table's end.
        assert!(!frontier.delivered(span(1, None, None)));
        assert!(frontier.delivered(span(0, Some(20), None)));
        assert_eq!(frontier.at(), None, "both tables delivered");
    }

    #[test]
    fn a_resumed_frontier_starts_at_its_key() {
        let mut frontier = Frontier::new(Some((0, Some(vec![KeyValue::Int(5)]))), 1);
        assert!(
            !frontier.delivered(span(0, None, Some(5))),
            "not this run's"
        );
        assert!(frontier.delivered(span(0, Some(5), None)));
        assert_eq!(frontier.at(), None);
    }
}
