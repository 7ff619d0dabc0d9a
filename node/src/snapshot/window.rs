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
//! Several chunks may be between their marks at once (several readers, see
//! [`super::producer`]). Their key ranges are disjoint, so each window is merged on its own:
//! every window notes every key of its table that changes while it is open, and drops from its
//! chunk only the rows with those keys, which are all its own.
//!
//! The watermark rows themselves (any row of the signal table) never reach the sinks. The
//! chunk's rows replace the high mark's row event, inside its transaction, so the checkpoint
//! at that transaction's end is the first to cover them ([`ProgressLedger`]).
//!
//! [`ProgressLedger`]: super::progress::ProgressLedger

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sluice_core::{BinlogPosition, Event, EventKind, Op, RowChange, RowImage, TableSchema, Value};
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use super::discovery::SnapshotTable;
use super::error::SnapshotError;
use super::producer::{AnnouncedChunk, ChunkSpan};
use super::watermark::MARK_COLUMN;

/// A chunk whose low mark the stream passed: its high mark is to come.
struct OpenWindow {
    chunk: AnnouncedChunk,
    /// Keys of the chunk's table the binlog changed since the low mark.
    changed: HashSet<String>,
    /// The table's schema as the binlog events of the window carry it.
    schema: Option<Arc<TableSchema>>,
}

/// A chunk whose rows went out, until its high mark's transaction ends. The permit goes with
/// it, letting the producer read one more.
struct Delivered {
    span: ChunkSpan,
    _permit: OwnedSemaphorePermit,
}

/// Why a merge could not go on.
#[derive(Debug)]
pub enum MergeError {
    /// The producer stopped before a chunk's rows came (its error says why).
    ProducerGone,
    /// A chunk's rows could not be converted.
    Chunk(SnapshotError),
}

/// The merge state of one task's snapshot.
pub struct Window {
    signal_database: String,
    signal_table: String,
    announced: mpsc::UnboundedReceiver<AnnouncedChunk>,
    /// Chunks announced whose low mark the stream has not reached, by low mark.
    waiting: HashMap<String, AnnouncedChunk>,
    /// Chunks between their marks (several when several readers read at once).
    open: Vec<OpenWindow>,
    /// Chunks delivered at a mark whose transaction has not ended yet.
    delivered: Vec<Delivered>,
}

impl Window {
    /// A window for the chunks announced on `announced`.
    pub fn new(
        signal_database: &str,
        signal_table: &str,
        announced: mpsc::UnboundedReceiver<AnnouncedChunk>,
    ) -> Self {
        Window {
            signal_database: signal_database.into(),
            signal_table: signal_table.into(),
            announced,
            waiting: HashMap::new(),
            open: Vec::new(),
            delivered: Vec::new(),
        }
    }

    /// Moves what the producer announced among the chunks waiting for their low mark.
    fn pull(&mut self) {
        while let Ok(chunk) = self.announced.try_recv() {
            self.waiting.insert(chunk.low.clone(), chunk);
        }
    }

    /// Whether no chunk is in flight: none announced and not delivered.
    pub fn is_idle(&mut self) -> bool {
        self.pull();
        self.open.is_empty() && self.waiting.is_empty() && self.delivered.is_empty()
    }

    /// Merges the chunks in flight into `events` (in stream order), drops watermark rows, and
    /// returns, for each chunk delivered, the end of the transaction that delivered it with
    /// the part of the key space it covers.
    pub async fn merge(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Result<Vec<(BinlogPosition, ChunkSpan)>, MergeError> {
        let mut done = Vec::new();
        let mut out = Vec::with_capacity(events.len());
        for event in events.drain(..) {
            let mark = match &event.kind {
                EventKind::Row(row) if self.is_signal(&row.table) => Some(mark_of(row)),
                _ => None,
            };
            match mark {
                Some(mark) => self.on_mark(mark.as_deref(), &event, &mut out).await?,
                None => {
                    done.extend(self.on_event(&event));
                    out.push(event);
                }
            }
        }
        *events = out;
        Ok(done)
    }

    fn is_signal(&self, table: &TableSchema) -> bool {
        table.table == self.signal_table && table.database == self.signal_database
    }

    /// A row of the signal table: the high mark of an open window closes it and emits its
    /// chunk; the low mark of an announced chunk opens its window.
    async fn on_mark(
        &mut self,
        mark: Option<&str>,
        event: &Event,
        out: &mut Vec<Event>,
    ) -> Result<(), MergeError> {
        let Some(mark) = mark else { return Ok(()) };
        self.pull();
        if let Some(i) = self.open.iter().position(|w| w.chunk.high == mark) {
            let OpenWindow {
                chunk,
                changed,
                schema,
            } = self.open.swap_remove(i);
            // Sent right after the high mark committed and the rows converted: here soon, or
            // the producer failed.
            let read = chunk
                .rows
                .await
                .map_err(|_| MergeError::ProducerGone)?
                .map_err(MergeError::Chunk)?;
            let table = schema
                .filter(|s| same_columns(s, &chunk.table.schema))
                .unwrap_or_else(|| chunk.table.schema.clone());
            let mut row_index = event.position.row;
            out.reserve(read.rows.len());
            for image in read.rows {
                // Most windows see no change of the chunk's table: no key to compare.
                if !changed.is_empty() && changed.contains(&key_text(&chunk.table.key, &image)) {
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
            self.delivered.push(Delivered {
                span: read.span,
                _permit: chunk.permit,
            });
        } else if let Some(chunk) = self.waiting.remove(mark) {
            self.open.push(OpenWindow {
                chunk,
                changed: HashSet::new(),
                schema: None,
            });
        }
        // Any other mark (another task's, or one of a run that crashed) is not ours: dropped.
        Ok(())
    }

    /// Any other event: notes the keys each open window of its table saw change; a commit
    /// ends the transaction of delivered chunks.
    fn on_event(&mut self, event: &Event) -> Vec<(BinlogPosition, ChunkSpan)> {
        match &event.kind {
            EventKind::Row(row) => {
                for window in self.open.iter_mut().filter(|w| {
                    row.table.table == w.chunk.table.table
                        && row.table.database == w.chunk.table.database
                }) {
                    let key = key_indexes(&row.table, &window.chunk.table);
                    for image in [&row.before, &row.after].into_iter().flatten() {
                        window.changed.insert(key_text(&key, image));
                    }
                    window.schema = Some(row.table.clone());
                }
                Vec::new()
            }
            EventKind::Commit { next, .. } => self
                .delivered
                .drain(..)
                .map(|d| (next.clone(), d.span))
                .collect(),
            _ => Vec::new(),
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
    use crate::snapshot::producer::ReadChunk;
    use crate::snapshot::progress::KeyValue;
    use crate::snapshot::splitter::ChunkEnd;

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
        let column = |name: &str| SnapshotColumn::new(name.into(), "int".into(), false, None, 0);
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

    /// What a chunk of `users` after key `after` up to `end` covers.
    fn span(after: Option<i64>, end: Option<i64>) -> ChunkSpan {
        ChunkSpan {
            table: 0,
            after: after.map(|k| vec![KeyValue::Int(k)]),
            end: end.map_or(ChunkEnd::TableEnd, |k| {
                ChunkEnd::Key(vec![KeyValue::Int(k)])
            }),
        }
    }

    /// A window expecting one chunk whose rows are read already.
    fn window_with(low: &str, high: &str, rows: Vec<RowImage>, span: ChunkSpan) -> Window {
        let (tx, rx) = mpsc::unbounded_channel();
        let (rows_tx, rows_rx) = tokio::sync::oneshot::channel();
        let permit = Arc::new(tokio::sync::Semaphore::new(1))
            .try_acquire_owned()
            .unwrap();
        tx.send(AnnouncedChunk {
            low: low.into(),
            high: high.into(),
            table: users(),
            rows: rows_rx,
            permit,
        })
        .ok()
        .unwrap();
        rows_tx.send(Ok(ReadChunk { rows, span })).ok().unwrap();
        Window::new("ops", "signal", rx)
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

    #[tokio::test]
    async fn keys_changed_inside_the_window_are_left_to_the_binlog() {
        let mut window = window_with(
            "n:1:low",
            "n:1:high",
            vec![image(1, 10), image(2, 20), image(3, 30)],
            span(None, None),
        );
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
        assert_eq!(window.merge(&mut events).await.unwrap(), vec![]);
        assert!(!window.is_idle());
        let mut tail = vec![commit(41), mark("other-task", 50), commit(51)];
        assert_eq!(
            window.merge(&mut tail).await.unwrap(),
            vec![(BinlogPosition::new("b.000001", 42), span(None, None))]
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

    #[tokio::test]
    async fn a_read_row_carries_the_binlog_schema_seen_in_the_window() {
        let mut window = window_with("l", "h", vec![image(5, 50)], span(None, None));
        let binlog = schema("app", "users", &["id", "v"]);
        let mut events = vec![
            mark("l", 1),
            row(&binlog, Op::Create, None, Some(image(9, 90)), 2),
            mark("h", 3),
            commit(4),
        ];
        window.merge(&mut events).await.unwrap();
        let EventKind::Row(read) = &events[1].kind else {
            panic!("{events:?}")
        };
        assert_eq!(read.op, Op::Read);
        assert!(Arc::ptr_eq(&read.table, &binlog));
    }

    #[tokio::test]
    async fn chunks_read_at_once_are_merged_each_in_its_own_window() {
        let (tx, rx) = mpsc::unbounded_channel();
        let permits = Arc::new(tokio::sync::Semaphore::new(2));
        let mut senders = Vec::new();
        for n in 1..=2 {
            let (rows_tx, rows_rx) = tokio::sync::oneshot::channel();
            tx.send(AnnouncedChunk {
                low: format!("l{n}"),
                high: format!("h{n}"),
                table: users(),
                rows: rows_rx,
                permit: permits.clone().try_acquire_owned().unwrap(),
            })
            .ok()
            .unwrap();
            senders.push(rows_tx);
        }
        let mut window = Window::new("ops", "signal", rx);
        let mut rows = senders.into_iter();
        let (first, second) = (rows.next().unwrap(), rows.next().unwrap());
        // Chunk 1 covers keys up to 2, chunk 2 the rest; both were read.
        first
            .send(Ok(ReadChunk {
                rows: vec![image(1, 10), image(2, 20)],
                span: span(None, Some(2)),
            }))
            .ok()
            .unwrap();
        second
            .send(Ok(ReadChunk {
                rows: vec![image(3, 30), image(4, 40)],
                span: span(Some(2), None),
            }))
            .ok()
            .unwrap();
        let binlog = schema("app", "users", &["id", "v"]);
        // The windows overlap: l1 l2 (key 2 and key 4 change) h2 h1.
        let mut events = vec![
            mark("l1", 1),
            commit(2),
            mark("l2", 3),
            commit(4),
            row(
                &binlog,
                Op::Update,
                Some(image(2, 20)),
                Some(image(2, 21)),
                5,
            ),
            commit(6),
            row(
                &binlog,
                Op::Update,
                Some(image(4, 40)),
                Some(image(4, 41)),
                7,
            ),
            commit(8),
            mark("h2", 9),
            commit(10),
        ];
        let delivered = window.merge(&mut events).await.unwrap();
        assert_eq!(
            delivered,
            vec![(BinlogPosition::new("b.000001", 11), span(Some(2), None))],
            "the second chunk is delivered first"
        );
        assert_eq!(
            permits.available_permits(),
            1,
            "the delivered chunk's permit is back"
        );
        let mut tail = vec![mark("h1", 11), commit(12)];
        let delivered = window.merge(&mut tail).await.unwrap();
        assert_eq!(
            delivered,
            vec![(BinlogPosition::new("b.000001", 13), span(None, Some(2)))]
        );
        events.extend(tail);
        assert_eq!(
            summary(&events),
            [
                "commit",
                "commit",
                "uSome(\"2\")",
                "commit",
                "uSome(\"4\")",
                "commit",
                // Each window drops its own changed key: 4 from chunk 2, 2 from chunk 1.
                "rSome(\"3\")",
                "commit",
                "rSome(\"1\")",
                "commit"
            ]
        );
        assert!(window.is_idle());
    }

    #[tokio::test]
    async fn a_chunk_whose_rows_never_come_is_an_error() {
        let (tx, rx) = mpsc::unbounded_channel();
        let (rows_tx, rows_rx) = tokio::sync::oneshot::channel();
        tx.send(AnnouncedChunk {
            low: "l".into(),
            high: "h".into(),
            table: users(),
            rows: rows_rx,
            permit: Arc::new(tokio::sync::Semaphore::new(1))
                .try_acquire_owned()
                .unwrap(),
        })
        .ok()
        .unwrap();
        drop(rows_tx);
        let mut window = Window::new("ops", "signal", rx);
        let mut events = vec![mark("l", 1), commit(2), mark("h", 3)];
        assert!(window.merge(&mut events).await.is_err());
    }
}
