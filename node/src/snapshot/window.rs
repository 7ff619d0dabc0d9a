//! The watermark window: merges a chunk's rows into the binlog stream.
//!
//! Why the output is correct without a lock (DBLog): the low mark L commits before the chunk's
//! `SELECT` starts and the high mark H commits after it ends, so the `SELECT` saw the table as
//! of some instant between L and H in binlog order. For a key no binlog event between L and H
//! touched, that row is the same at L, at the `SELECT` and at H, so emitting it at H is
//! emitting the row as it was at H: consumers applying the stream in order end up right, and
//! every later change of the key follows it in the stream. A key changed between L and H may
//! have been read before or after its change; its row is dropped from the chunk, and the
//! binlog events of the window (passed through as usual) carry it instead. Rows deleted before
//! the `SELECT` are simply not read; their delete events pass through.
//!
//! The watermark rows themselves (any row of the signal table) never reach the sinks. The
//! chunk's rows replace the high mark's row event, inside its transaction, so the checkpoint
//! at that transaction's end is the first to cover them ([`ProgressLedger`]).
//!
//! [`ProgressLedger`]: super::progress::ProgressLedger

use std::collections::HashSet;
use std::sync::Arc;

use sluice_core::{BinlogPosition, Event, EventKind, Op, RowChange, RowImage, TableSchema, Value};

use super::discovery::SnapshotTable;
use super::progress::SnapshotProgress;
use super::watermark::MARK_COLUMN;

/// A chunk read between its marks, waiting for them in the stream.
pub struct PendingChunk {
    pub low: String,
    pub high: String,
    pub table: Arc<SnapshotTable>,
    pub rows: Vec<RowImage>,
    /// Where the snapshot continues once this chunk is delivered (`None`: done).
    pub next: Option<SnapshotProgress>,
}

enum Phase {
    Idle,
    AwaitLow(PendingChunk),
    Open {
        chunk: PendingChunk,
        changed: HashSet<String>,
        schema: Option<Arc<TableSchema>>,
    },
    /// The rows went out; the high mark's transaction has not ended yet.
    AwaitCommit(Option<SnapshotProgress>),
}

/// The merge state of one task's snapshot.
pub struct Window {
    signal_database: String,
    signal_table: String,
    phase: Phase,
}

impl Window {
    pub fn new(signal_database: &str, signal_table: &str) -> Self {
        Window {
            signal_database: signal_database.into(),
            signal_table: signal_table.into(),
            phase: Phase::Idle,
        }
    }

    /// Whether no chunk is in flight, so the next one may start.
    pub fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Idle)
    }

    /// Waits for `chunk`'s marks; its low mark is already written.
    pub fn expect(&mut self, chunk: PendingChunk) {
        self.phase = Phase::AwaitLow(chunk);
    }

    /// Merges the chunk in flight into `events` (in stream order), drops watermark rows, and
    /// returns the end of the transaction that delivered a chunk, with the progress after it.
    pub fn merge(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Option<(BinlogPosition, Option<SnapshotProgress>)> {
        let mut done = None;
        let mut out = Vec::with_capacity(events.len());
        for event in events.drain(..) {
            let mark = match &event.kind {
                EventKind::Row(row) if self.is_signal(&row.table) => Some(mark_of(row)),
                _ => None,
            };
            match mark {
                Some(mark) => self.on_mark(mark.as_deref(), &event, &mut out),
                None => {
                    if let Some(end) = self.on_event(&event) {
                        done = Some(end);
                    }
                    out.push(event);
                }
            }
        }
        *events = out;
        done
    }

    fn is_signal(&self, table: &TableSchema) -> bool {
        table.table == self.signal_table && table.database == self.signal_database
    }

    /// A row of the signal table: opens or closes the window when it is the expected mark.
    fn on_mark(&mut self, mark: Option<&str>, event: &Event, out: &mut Vec<Event>) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::AwaitLow(chunk) if mark == Some(chunk.low.as_str()) => {
                self.phase = Phase::Open {
                    chunk,
                    changed: HashSet::new(),
                    schema: None,
                };
            }
            Phase::Open {
                chunk,
                changed,
                schema,
            } if mark == Some(chunk.high.as_str()) => {
                let table = schema
                    .filter(|s| same_columns(s, &chunk.table.schema))
                    .unwrap_or_else(|| chunk.table.schema.clone());
                let mut row_index = event.position.row;
                for image in chunk.rows {
                    if changed.contains(&key_text(&chunk.table.key, &image)) {
                        continue;
                    }
                    let mut position = event.position.clone();
                    position.row = row_index;
                    row_index += 1;
                    out.push(Event {
                        position,
                        kind: EventKind::Row(RowChange {
                            op: Op::Read,
                            table: table.clone(),
                            before: None,
                            after: Some(image),
                        }),
                    });
                }
                self.phase = Phase::AwaitCommit(chunk.next);
            }
            // Another task's mark, or one of a run that crashed: not ours, dropped too.
            other => self.phase = other,
        }
    }

    /// Any other event: notes the keys the window saw change; ends a delivered chunk.
    fn on_event(&mut self, event: &Event) -> Option<(BinlogPosition, Option<SnapshotProgress>)> {
        match (&mut self.phase, &event.kind) {
            (
                Phase::Open {
                    chunk,
                    changed,
                    schema,
                },
                EventKind::Row(row),
            ) if row.table.table == chunk.table.table
                && row.table.database == chunk.table.database =>
            {
                let key = key_indexes(&row.table, &chunk.table);
                for image in [&row.before, &row.after].into_iter().flatten() {
                    changed.insert(key_text(&key, image));
                }
                *schema = Some(row.table.clone());
                None
            }
            (Phase::AwaitCommit(_), EventKind::Commit { next, .. }) => {
                let next = next.clone();
                match std::mem::replace(&mut self.phase, Phase::Idle) {
                    Phase::AwaitCommit(progress) => Some((next, progress)),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// The mark a signal-table row sets (its after image's `mark` column).
fn mark_of(row: &RowChange) -> Option<String> {
    let index = row
        .table
        .columns
        .iter()
        .position(|c| c.name == MARK_COLUMN)
        .unwrap_or(1);
    match row.after.as_ref()?.get(index)? {
        Value::Text(s) => Some(s.clone()),
        _ => None,
    }
}

/// Where the snapshot key's columns are in a binlog event's schema (matched by name).
fn key_indexes(schema: &TableSchema, table: &SnapshotTable) -> Vec<usize> {
    table
        .key
        .iter()
        .map(|&k| {
            let name = &table.columns[k].name;
            schema
                .columns
                .iter()
                .position(|c| &c.name == name)
                .unwrap_or(k)
        })
        .collect()
}

/// A row's key as comparable text (JSON of the key values).
fn key_text(key: &[usize], image: &RowImage) -> String {
    let values: Vec<Option<&Value>> = key.iter().map(|&i| image.get(i)).collect();
    serde_json::to_string(&values).unwrap_or_default()
}

fn same_columns(a: &TableSchema, b: &TableSchema) -> bool {
    a.columns.len() == b.columns.len()
        && a.columns
            .iter()
            .zip(&b.columns)
            .all(|(x, y)| x.name == y.name)
}

#[cfg(test)]
mod tests {
    use sluice_core::{ColumnSchema, EventPosition};

    use super::*;
    use crate::snapshot::discovery::SnapshotColumn;

    fn schema(db: &str, table: &str, columns: &[&str]) -> Arc<TableSchema> {
        let columns = columns
            .iter()
            .map(|c| ColumnSchema {
                name: c.to_string(),
                type_name: "int".into(),
            })
            .collect();
        Arc::new(TableSchema::new(db, table, columns, vec![0]))
    }

    fn users() -> Arc<SnapshotTable> {
        let column = |name: &str| SnapshotColumn {
            name: name.into(),
            data_type: "int".into(),
            unsigned: false,
            charset: None,
            fsp: 0,
        };
        Arc::new(SnapshotTable {
            database: "app".into(),
            table: "users".into(),
            columns: vec![column("id"), column("v")],
            key: vec![0],
            schema: schema("app", "users", &["id", "v"]),
        })
    }

    fn at(pos: u64) -> EventPosition {
        EventPosition {
            file: Arc::from("b.000001"),
            pos,
            gtid: None,
            row: 0,
            server_id: 1,
            ts_ms: 0,
        }
    }

    fn image(id: i64, v: i64) -> RowImage {
        RowImage(vec![Some(Value::Int(id)), Some(Value::Int(v))])
    }

    fn row(
        table: &Arc<TableSchema>,
        op: Op,
        before: Option<RowImage>,
        after: Option<RowImage>,
        pos: u64,
    ) -> Event {
        Event {
            position: at(pos),
            kind: EventKind::Row(RowChange {
                op,
                table: table.clone(),
                before,
                after,
            }),
        }
    }

    fn mark(text: &str, pos: u64) -> Event {
        let signal = schema("ops", "signal", &["task", "mark"]);
        let image = RowImage(vec![
            Some(Value::Text("t".into())),
            Some(Value::Text(text.into())),
        ]);
        row(&signal, Op::Update, None, Some(image), pos)
    }

    fn commit(pos: u64) -> Event {
        Event {
            position: at(pos),
            kind: EventKind::Commit {
                xid: None,
                next: BinlogPosition::new("b.000001", pos + 1),
            },
        }
    }

    fn summary(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match &e.kind {
                EventKind::Row(r) => {
                    let id = r
                        .after
                        .as_ref()
                        .or(r.before.as_ref())
                        .and_then(|i| i.get(0).cloned());
                    format!(
                        "{}{:?}",
                        r.op.code(),
                        id.map(|v| serde_json::to_string(&v).unwrap())
                    )
                }
                EventKind::Commit { .. } => "commit".into(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn keys_changed_inside_the_window_are_left_to_the_binlog() {
        let mut window = Window::new("ops", "signal");
        let next = Some(SnapshotProgress {
            database: "app".into(),
            table: "users".into(),
            after: None,
            ..Default::default()
        });
        window.expect(PendingChunk {
            low: "n:1:low".into(),
            high: "n:1:high".into(),
            table: users(),
            rows: vec![image(1, 10), image(2, 20), image(3, 30)],
            next: next.clone(),
        });
        let binlog = schema("app", "users", &["id", "v"]);
        let mut events = vec![
            row(
                &binlog,
                Op::Update,
                Some(image(1, 0)),
                Some(image(1, 1)),
                10,
            ),
            commit(11),
            mark("n:1:low", 20),
            commit(21),
            row(
                &binlog,
                Op::Update,
                Some(image(2, 20)),
                Some(image(2, 21)),
                30,
            ),
            row(&binlog, Op::Delete, Some(image(3, 30)), None, 31),
            commit(32),
            mark("n:1:high", 40),
        ];
        assert_eq!(window.merge(&mut events), None);
        assert!(!window.is_idle());
        let mut tail = vec![commit(41), mark("other-task", 50), commit(51)];
        assert_eq!(
            window.merge(&mut tail),
            Some((BinlogPosition::new("b.000001", 42), next))
        );
        assert!(window.is_idle());
        events.extend(tail);
        assert_eq!(
            summary(&events),
            [
                "uSome(\"1\")",
                "commit",
                "commit",
                "uSome(\"2\")",
                "dSome(\"3\")",
                "commit",
                // Row 1 changed before the window: the chunk's row is the newer state.
                "rSome(\"1\")",
                "commit",
                "commit"
            ]
        );
    }

    #[test]
    fn a_read_row_carries_the_binlog_schema_seen_in_the_window() {
        let mut window = Window::new("ops", "signal");
        window.expect(PendingChunk {
            low: "l".into(),
            high: "h".into(),
            table: users(),
            rows: vec![image(5, 50)],
            next: None,
        });
        let binlog = schema("app", "users", &["id", "v"]);
        let mut events = vec![
            mark("l", 1),
            row(&binlog, Op::Create, None, Some(image(9, 90)), 2),
            mark("h", 3),
            commit(4),
        ];
        window.merge(&mut events);
        let EventKind::Row(read) = &events[1].kind else {
            panic!("{events:?}")
        };
        assert_eq!(read.op, Op::Read);
        assert!(Arc::ptr_eq(&read.table, &binlog));
    }
}
