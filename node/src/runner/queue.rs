//! The queue between a task's source reader and its sinks, bounded in bytes.
//!
//! A count of events or batches bounds nothing when one row can hold a 1 GiB BLOB, so every
//! batch takes its estimated size (`Event::approx_bytes`) from a byte budget before it is
//! queued and gives it back once the sinks took it. A full budget makes the reader wait:
//! back-pressure reaches the source instead of memory growing. A single batch larger than the
//! whole budget still passes, alone.
//!
//! The reader queues what it has as soon as it has it (one binlog event's rows); the consumer
//! takes whatever is queued, up to a batch limit, so sinks get large batches under load and
//! small ones when the stream is quiet.
//!
//! A batch may also say that the source passed a position between transactions after its
//! events (a rotation to a new binlog file, heartbeats, GTID bookkeeping, transactions the
//! server filtered out): the sinks get nothing for it, but the checkpoint can move there, so a
//! quiet task never points into a binlog file the server may purge.

use std::sync::Arc;

use sluice_core::{BinlogPosition, Event};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// The budget is counted in KiB: a semaphore's permits are `u32`.
const UNIT: usize = 1024;

/// Events taken from the queue, holding their share of the budget until dropped.
pub struct Taken {
    pub events: Vec<Event>,
    /// The last position passed, with how many of `events` came before it.
    pub passed: Option<(usize, BinlogPosition)>,
    _budget: Vec<OwnedSemaphorePermit>,
}

/// The reader's end.
pub struct QueueSender {
    tx: mpsc::UnboundedSender<Queued>,
    budget: Arc<Semaphore>,
    max_units: u32,
}

/// The sinks' end.
pub struct QueueReceiver {
    rx: mpsc::UnboundedReceiver<Queued>,
    budget: Arc<Semaphore>,
    max_units: u32,
}

/// One batch in the queue.
struct Queued {
    events: Vec<Event>,
    passed: Option<BinlogPosition>,
    permit: OwnedSemaphorePermit,
}

/// A queue holding at most `max_bytes` of events (estimated), plus one oversized batch.
pub fn byte_queue(max_bytes: usize) -> (QueueSender, QueueReceiver) {
    let max_units = u32::try_from(max_bytes.div_ceil(UNIT).max(1)).unwrap_or(u32::MAX);
    let budget = Arc::new(Semaphore::new(max_units as usize));
    // Unbounded as a channel: the byte budget is the bound.
    let (tx, rx) = mpsc::unbounded_channel();
    (
        QueueSender {
            tx,
            budget: budget.clone(),
            max_units,
        },
        QueueReceiver {
            rx,
            budget,
            max_units,
        },
    )
}

/// Events' estimated size in budget units, at most the whole budget.
fn units(events: &[Event], max_units: u32) -> u32 {
    let bytes: usize = events.iter().map(Event::approx_bytes).sum();
    u32::try_from(bytes.div_ceil(UNIT).max(1))
        .unwrap_or(u32::MAX)
        .min(max_units)
}

impl QueueSender {
    /// Queues `events`, then `passed`: a position between transactions the source reached
    /// after them (see the module's text). Waits while the budget is spent. `Err` returns the
    /// events when the receiver is gone.
    pub async fn send(
        &self,
        events: Vec<Event>,
        passed: Option<BinlogPosition>,
    ) -> Result<(), Vec<Event>> {
        let need = units(&events, self.max_units);
        let Ok(permit) = self.budget.clone().acquire_many_owned(need).await else {
            return Err(events);
        };
        let queued = Queued {
            events,
            passed,
            permit,
        };
        self.tx.send(queued).map_err(|e| e.0.events)
    }
}

impl QueueReceiver {
    /// Waits for events, then takes what is queued up to `max_events` (whole batches: a batch
    /// is never split). `None` when the reader is gone and the queue is empty.
    pub async fn take(&mut self, max_events: usize) -> Option<Taken> {
        let first = self.rx.recv().await?;
        let mut events = first.events;
        let mut passed = first.passed.map(|p| (events.len(), p));
        let mut budget = vec![first.permit];
        while events.len() < max_events {
            match self.rx.try_recv() {
                Ok(more) => {
                    events.extend(more.events);
                    if let Some(p) = more.passed {
                        passed = Some((events.len(), p));
                    }
                    budget.push(more.permit);
                }
                Err(_) => break,
            }
        }
        Some(Taken {
            events,
            passed,
            _budget: budget,
        })
    }

    /// Whether nothing is queued right now.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// Bytes (estimated) queued or being delivered right now.
    pub fn bytes(&self) -> usize {
        (self.max_units as usize).saturating_sub(self.budget.available_permits()) * UNIT
    }

    /// Batches waiting in the queue.
    pub fn batches(&self) -> usize {
        self.rx.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use sluice_core::{EventKind, EventPosition, Value};

    use super::*;
    use sluice_core::{ColumnSchema, Op, RowChange, RowImage, TableSchema};

    fn blob_row(bytes: usize) -> Event {
        let table = TableSchema::new(
            "d",
            "t",
            vec![ColumnSchema {
                name: "b".into(),
                type_name: "blob".into(),
            }],
            vec![],
        );
        Event {
            position: EventPosition {
                file: Arc::from("b.000001"),
                pos: 4,
                gtid: None,
                row: 0,
                server_id: 1,
                ts_ms: 0,
            },
            kind: EventKind::Row(RowChange {
                op: Op::Create,
                table: Arc::new(table),
                before: None,
                after: Some(RowImage(vec![Some(Value::Bytes(vec![0; bytes]))])),
            }),
        }
    }

    #[tokio::test]
    async fn a_full_budget_holds_the_reader_until_the_sinks_take_events() {
        let (tx, mut rx) = byte_queue(1 << 20);
        // Two 400 KiB rows fit; the third waits.
        tx.send(vec![blob_row(400 << 10)], None).await.unwrap();
        tx.send(vec![blob_row(400 << 10)], None).await.unwrap();
        let third = tokio::time::timeout(
            Duration::from_millis(200),
            tx.send(vec![blob_row(400 << 10)], None),
        );
        assert!(third.await.is_err(), "the third batch must wait");
        assert!(rx.bytes() >= 800 << 10, "{}", rx.bytes());
        // Taking both frees their budget once delivered (dropped).
        let taken = rx.take(100).await.unwrap();
        assert_eq!(taken.events.len(), 2);
        drop(taken);
        assert_eq!(rx.bytes(), 0);
        tx.send(vec![blob_row(400 << 10)], None).await.unwrap();
    }

    #[tokio::test]
    async fn an_oversized_batch_passes_alone() {
        let (tx, mut rx) = byte_queue(1 << 20);
        tx.send(vec![blob_row(5 << 20)], None).await.unwrap();
        let next = tokio::time::timeout(
            Duration::from_millis(200),
            tx.send(vec![blob_row(10)], None),
        );
        assert!(
            next.await.is_err(),
            "nothing passes beside an oversized batch"
        );
        assert_eq!(rx.take(100).await.unwrap().events.len(), 1);
    }

    #[tokio::test]
    async fn take_joins_queued_batches_up_to_the_limit_without_splitting() {
        let (tx, mut rx) = byte_queue(64 << 20);
        for _ in 0..5 {
            tx.send(vec![blob_row(1), blob_row(1)], None).await.unwrap();
        }
        assert_eq!(rx.batches(), 5);
        assert_eq!(rx.take(3).await.unwrap().events.len(), 4);
        assert_eq!(rx.take(100).await.unwrap().events.len(), 6);
        // A passed position keeps its place among the events taken with it.
        let at = |pos| Some(BinlogPosition::new("b.000002", pos));
        tx.send(vec![blob_row(1)], at(4)).await.unwrap();
        tx.send(vec![blob_row(1), blob_row(1)], None).await.unwrap();
        let taken = rx.take(100).await.unwrap();
        assert_eq!(taken.passed, Some((1, BinlogPosition::new("b.000002", 4))));
        tx.send(vec![], at(4)).await.unwrap();
        tx.send(vec![blob_row(1)], at(90)).await.unwrap();
        let taken = rx.take(100).await.unwrap();
        assert_eq!(taken.passed, Some((1, BinlogPosition::new("b.000002", 90))));
        drop(tx);
        assert!(rx.take(100).await.is_none());
    }
}
