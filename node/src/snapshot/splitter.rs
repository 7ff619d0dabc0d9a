//! Decides which chunks a snapshot reads, so that several readers can read at once.
//!
//! - A table paged by a single integer key (most tables: `id BIGINT AUTO_INCREMENT`) is split
//!   into key ranges of about 4/5 of `chunk_rows` rows each (room for a rough estimate), from
//!   its `MIN`/`MAX` key and the server's row estimate; the ranges can be read at once. The
//!   last range has no upper end.
//! - Any other table is one range, the whole table.
//!
//! Every read takes at most `chunk_rows` rows; a read that comes back full (a range holding
//! more rows than estimated, or a whole table) leaves the rest of its range, from its last key,
//! as a new chunk: keyset pagination within the range. So the chunks of a snapshot always tile
//! its key space, each starting where another ended, which is what lets the progress advance
//! over the chunks delivered in key order whichever reader finishes first
//! ([`super::frontier`]).
//!
//! The estimate only shapes the ranges: a wrong one makes chunks smaller than `chunk_rows`, or
//! splits a range into several reads, never misses or repeats a row.

use std::collections::VecDeque;
use std::sync::Arc;

use super::chunk_reader::{ChunkReader, KeyBounds};
use super::discovery::SnapshotTable;
use super::error::SnapshotError;
use super::progress::KeyValue;
use super::values::ValueKind;

/// A chunk to read: table `table` (an index into the snapshot's tables), keys after `after`
/// (from the first when `None`) up to and including `upto` (to the last when `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkSpec {
    pub table: usize,
    pub after: Option<Vec<KeyValue>>,
    pub upto: Option<Vec<KeyValue>>,
}

/// Where a read chunk ends in its table's key order.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkEnd {
    /// At this key, included; the next chunk starts after it.
    Key(Vec<KeyValue>),
    /// At the table's end.
    TableEnd,
}

impl ChunkSpec {
    /// Where this chunk ends, given whether its read came back full and the last key it read.
    pub fn end(&self, full: bool, last_key: Option<&Vec<KeyValue>>) -> ChunkEnd {
        match (full, last_key, &self.upto) {
            (true, Some(last), _) => ChunkEnd::Key(last.clone()),
            (_, _, Some(upto)) => ChunkEnd::Key(upto.clone()),
            _ => ChunkEnd::TableEnd,
        }
    }
}

/// How a table is being split.
#[derive(Debug)]
enum TablePlan {
    /// Not looked at yet.
    Unplanned,
    /// Integer key ranges: the next one starts after `next - 1`; `span` keys each; the one
    /// reaching `max` is the last (no upper end).
    Ranges {
        next: i128,
        max: i128,
        span: i128,
        unsigned: bool,
    },
    /// Every chunk of the table is handed out (what is left comes back as `rest`).
    HandedOut,
}

/// Where the splitter learns an integer key's extent (the source; a fake in tests).
#[async_trait::async_trait]
pub trait KeyBoundsSource: Send {
    /// The extent of `table`'s single integer key from `after` on; `None` when no row has a
    /// key after `after`.
    async fn key_bounds(
        &mut self,
        table: &SnapshotTable,
        after: Option<&[KeyValue]>,
    ) -> Result<Option<KeyBounds>, SnapshotError>;
}

#[async_trait::async_trait]
impl KeyBoundsSource for ChunkReader {
    async fn key_bounds(
        &mut self,
        table: &SnapshotTable,
        after: Option<&[KeyValue]>,
    ) -> Result<Option<KeyBounds>, SnapshotError> {
        ChunkReader::key_bounds(self, table, after).await
    }
}

/// Hands out a snapshot's chunks.
pub struct Splitter {
    tables: Vec<Arc<SnapshotTable>>,
    chunk_rows: u32,
    /// Whether integer-keyed tables are split into ranges (more than one reader).
    split: bool,
    /// The table being planned and where it starts; `None` once every table is handed out.
    at: Option<(usize, Option<Vec<KeyValue>>)>,
    plan: TablePlan,
    /// The rest of ranges whose reads came back full, handed out before anything new.
    rest: VecDeque<ChunkSpec>,
}

impl Splitter {
    /// A splitter starting at table `table` after key `after`.
    pub fn new(
        tables: Vec<Arc<SnapshotTable>>,
        start: Option<(usize, Option<Vec<KeyValue>>)>,
        chunk_rows: u32,
        readers: u32,
    ) -> Self {
        Splitter {
            tables,
            chunk_rows,
            split: readers > 1,
            at: start,
            plan: TablePlan::Unplanned,
            rest: VecDeque::new(),
        }
    }

    /// The table being planned, for the status (`None`: every chunk is handed out).
    pub fn planning(&self) -> Option<usize> {
        self.at.as_ref().map(|(t, _)| *t)
    }

    /// The next chunk to read, if one can be read now. `None` while the only chunks left
    /// depend on reads in flight (or when there are none at all).
    pub async fn next(
        &mut self,
        conn: &mut dyn KeyBoundsSource,
    ) -> Result<Option<ChunkSpec>, SnapshotError> {
        loop {
            if let Some(rest) = self.rest.pop_front() {
                return Ok(Some(rest));
            }
            let Some((table, after)) = self.at.clone() else {
                return Ok(None);
            };
            match &mut self.plan {
                TablePlan::Unplanned => {
                    self.plan = self.plan_table(conn, table, after.as_deref()).await?;
                }
                TablePlan::Ranges {
                    next,
                    max,
                    span,
                    unsigned,
                } => {
                    // From the previous range's last key (or where the table starts) up to
                    // `span` keys further; the range reaching `max` has no upper end.
                    let unsigned = *unsigned;
                    let last = next.saturating_add(*span - 1);
                    let done = last >= *max;
                    let spec = ChunkSpec {
                        table,
                        after,
                        upto: (!done).then(|| key(last, unsigned)),
                    };
                    if done {
                        self.finish_table(table);
                    } else {
                        *next = last + 1;
                        self.at = Some((table, Some(key(last, unsigned))));
                    }
                    return Ok(Some(spec));
                }
                TablePlan::HandedOut => self.finish_table(table),
            }
        }
    }

    /// A read of `spec` came back: `full` when it took `chunk_rows` rows, whose last key is
    /// `last_key`. The rest of a full range is handed out next.
    pub fn read(&mut self, spec: &ChunkSpec, full: bool, last_key: Option<&Vec<KeyValue>>) {
        if let (true, Some(last)) = (full, last_key) {
            self.rest.push_back(ChunkSpec {
                table: spec.table,
                after: Some(last.clone()),
                upto: spec.upto.clone(),
            });
        }
    }

    /// Moves on to the table after `table`.
    fn finish_table(&mut self, table: usize) {
        self.at = (table + 1 < self.tables.len()).then_some((table + 1, None));
        self.plan = TablePlan::Unplanned;
    }

    /// How `table` is read from `after` on: in integer key ranges, or as one range.
    async fn plan_table(
        &mut self,
        conn: &mut dyn KeyBoundsSource,
        table: usize,
        after: Option<&[KeyValue]>,
    ) -> Result<TablePlan, SnapshotError> {
        let t = self.tables[table].clone();
        let unsigned = match (&t.key[..], self.split) {
            ([k], true) => match t.columns[*k].kind {
                ValueKind::Integer { unsigned } => Some(unsigned),
                _ => None,
            },
            _ => None,
        };
        let Some(unsigned) = unsigned else {
            // One range, handed out next as `rest`.
            self.rest.push_back(ChunkSpec {
                table,
                after: after.map(<[KeyValue]>::to_vec),
                upto: None,
            });
            return Ok(TablePlan::HandedOut);
        };
        let Some(bounds) = conn.key_bounds(&t, after).await? else {
            // Empty (from `after` on): one read, which finds nothing or what came meanwhile.
            self.rest.push_back(ChunkSpec {
                table,
                after: after.map(<[KeyValue]>::to_vec),
                upto: None,
            });
            return Ok(TablePlan::HandedOut);
        };
        let (min, max, rows) = (bounds.from, bounds.max, bounds.rows);
        // Keys per range if the table's rows spread evenly over its keys, aiming at 4/5 of a
        // chunk: the estimate is rough, and a range a little over `chunk_rows` would cost a
        // second read (with its two marks) for its last few rows; at least one key.
        let keys = bounds.max - bounds.min + 1;
        let target = i128::from(self.chunk_rows) * 4 / 5;
        let span = if rows == 0 {
            target
        } else {
            (keys.saturating_mul(target) / i128::from(rows)).max(1)
        };
        tracing::debug!(table = %format!("`{}`.`{}`", t.database, t.table), min, max, rows, span,
            "Splitting the table into key ranges.");
        Ok(TablePlan::Ranges {
            next: min,
            max,
            span,
            unsigned,
        })
    }
}

/// Integer key `k` as a key value of the column's signedness.
fn key(k: i128, unsigned: bool) -> Vec<KeyValue> {
    vec![if unsigned {
        KeyValue::UInt(u64::try_from(k.max(0)).unwrap_or(u64::MAX))
    } else {
        KeyValue::Int(i64::try_from(k).unwrap_or(if k < 0 { i64::MIN } else { i64::MAX }))
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::discovery::SnapshotColumn;

    /// A table `db.NAME` keyed by an `id` of type `key_type`.
    fn table(name: &str, key_type: &str) -> Arc<SnapshotTable> {
        Arc::new(SnapshotTable {
            database: "db".into(),
            table: name.into(),
            columns: vec![SnapshotColumn::new(
                "id".into(),
                key_type.into(),
                false,
                Some("utf8mb4".into()),
                0,
            )],
            key: vec![0],
            schema: Arc::new(sluice_core::TableSchema::new("db", name, vec![], vec![])),
        })
    }

    /// Integer keys 1..=100, 100 rows.
    struct Hundred;

    #[async_trait::async_trait]
    impl KeyBoundsSource for Hundred {
        async fn key_bounds(
            &mut self,
            _table: &SnapshotTable,
            after: Option<&[KeyValue]>,
        ) -> Result<Option<KeyBounds>, SnapshotError> {
            let from = match after {
                Some([KeyValue::Int(k)]) => i128::from(*k) + 1,
                _ => 1,
            };
            Ok((from <= 100).then_some(KeyBounds {
                min: 1,
                max: 100,
                from,
                rows: 100,
            }))
        }
    }

    fn int(k: i64) -> Option<Vec<KeyValue>> {
        Some(vec![KeyValue::Int(k)])
    }

    fn spec(table: usize, after: Option<i64>, upto: Option<i64>) -> ChunkSpec {
        ChunkSpec {
            table,
            after: after.and_then(int),
            upto: upto.and_then(int),
        }
    }

    async fn all(splitter: &mut Splitter) -> Vec<ChunkSpec> {
        let mut out = Vec::new();
        while let Some(s) = splitter.next(&mut Hundred).await.unwrap() {
            out.push(s);
        }
        out
    }

    #[tokio::test]
    async fn integer_keys_are_split_into_ranges_that_tile_the_table() {
        let tables = vec![table("a", "bigint"), table("b", "varchar")];
        let mut splitter = Splitter::new(tables, Some((0, None)), 30, 2);
        assert_eq!(
            all(&mut splitter).await,
            [
                // 100 rows over 100 keys: ranges of 4/5 of 30 keys.
                spec(0, None, Some(24)),
                spec(0, Some(24), Some(48)),
                spec(0, Some(48), Some(72)),
                spec(0, Some(72), Some(96)),
                // The last range has no upper end.
                spec(0, Some(96), None),
                // A key that is not an integer: the whole table, one read at a time.
                spec(1, None, None),
            ]
        );
        assert_eq!(splitter.planning(), None);
        // A full read leaves the rest of its range, from its last key.
        let full = spec(0, Some(24), Some(48));
        splitter.read(&full, true, int(45).as_ref());
        assert_eq!(all(&mut splitter).await, [spec(0, Some(45), Some(48))]);
        let whole = spec(1, None, None);
        let last = Some(vec![KeyValue::Text("k".into())]);
        splitter.read(&whole, true, last.as_ref());
        assert_eq!(
            all(&mut splitter).await,
            [ChunkSpec {
                table: 1,
                after: last,
                upto: None
            }]
        );
        // A read that is not full leaves nothing.
        splitter.read(&spec(0, Some(48), Some(72)), false, int(70).as_ref());
        assert!(all(&mut splitter).await.is_empty());
    }

    #[tokio::test]
    async fn one_reader_reads_each_table_as_one_range_and_a_resume_starts_at_its_key() {
        let tables = vec![table("a", "bigint")];
        let mut splitter = Splitter::new(tables.clone(), Some((0, int(40))), 30, 1);
        assert_eq!(all(&mut splitter).await, [spec(0, Some(40), None)]);
        let mut split = Splitter::new(tables, Some((0, int(40))), 30, 2);
        assert_eq!(
            all(&mut split).await,
            // Keys 41..=64, 65..=88, then the range reaching the last key, without an upper end.
            [
                spec(0, Some(40), Some(64)),
                spec(0, Some(64), Some(88)),
                spec(0, Some(88), None)
            ]
        );
    }

    #[test]
    fn a_chunk_ends_at_its_last_key_when_full_else_at_its_range_end() {
        let last = int(7);
        assert_eq!(
            spec(0, None, Some(10)).end(true, last.as_ref()),
            ChunkEnd::Key(vec![KeyValue::Int(7)])
        );
        assert_eq!(
            spec(0, None, Some(10)).end(false, last.as_ref()),
            ChunkEnd::Key(vec![KeyValue::Int(10)])
        );
        assert_eq!(
            spec(0, None, None).end(false, last.as_ref()),
            ChunkEnd::TableEnd
        );
    }
}
