//! Reads chunks ahead of the stream, several at once: each reader ([`super::lane`], a
//! reading connection and a watermark connection on a thread of its own) writes a chunk's low
//! mark, reads the chunk and writes its high mark, while the chunks read before wait for their
//! marks in the binlog. Reading, the marks' round trip through the binlog and the sinks' work so
//! overlap instead of taking turns, and the server scans several key ranges at once.
//!
//! Why this keeps the output correct: each chunk's `SELECT` runs between its own two marks, on
//! its own connection, so each chunk's window is exactly a lone chunk's window of the DBLog
//! algorithm ([`super::window`]); chunks read at once cover disjoint key ranges
//! ([`super::splitter`]), so their windows may overlap in the binlog without touching each
//! other's keys. A chunk is announced (its mark names) before its low mark is written, so the
//! window knows every mark it meets; its rows follow once its high mark is committed. At most
//! `ahead` chunks are announced and not yet delivered (a permit each), bounding memory.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use super::chunk_reader::ChunkReader;
use super::discovery::SnapshotTable;
use super::error::SnapshotError;
use super::lane::{ChunkJob, LaneDone, LaneThread};
use super::progress::{KeyValue, SnapshotProgress};
use super::snapshotter::{start_of, SnapshotScope};
use super::splitter::{ChunkEnd, Splitter};

/// A chunk the producer started: its marks now, its rows once its high mark is written.
pub struct AnnouncedChunk {
    pub low: String,
    pub high: String,
    pub table: Arc<SnapshotTable>,
    /// The rows, converted; or why they could not be.
    pub rows: oneshot::Receiver<Result<ReadChunk, SnapshotError>>,
    /// Released when the chunk is delivered, letting the producer read one more.
    pub permit: OwnedSemaphorePermit,
}

/// The part of the snapshot's key space a read chunk covers: table `table` (an index into the
/// snapshot's tables), keys after `after` up to `end`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkSpan {
    pub table: usize,
    pub after: Option<Vec<KeyValue>>,
    pub end: ChunkEnd,
}

/// A chunk's rows and what it covers.
pub struct ReadChunk {
    pub rows: Vec<sluice_core::RowImage>,
    pub span: ChunkSpan,
}

/// What the producer has read so far, for the task's status.
#[derive(Debug, Clone, Default)]
pub struct ProducerState {
    /// The table being read; `None` once every chunk is read.
    pub next: Option<SnapshotProgress>,
    pub rows: u64,
}

/// What the producer reads, and where it reports.
pub struct ChunkPlan {
    pub tables: Vec<Arc<SnapshotTable>>,
    /// Where the snapshot starts: a table (index) and the key after which it continues.
    pub start: Option<(usize, Option<Vec<KeyValue>>)>,
    pub scope: SnapshotScope,
    pub chunk_rows: u32,
    /// Makes this run's marks unique, so marks of a crashed run replayed from the binlog are
    /// never taken for this run's.
    pub run: String,
    pub state: Arc<Mutex<ProducerState>>,
}

/// The producer: its plan, its lanes (and where they answer), and the connection the splitter
/// asks for key ranges.
pub struct ChunkProducer {
    pub plan: ChunkPlan,
    pub lanes: Vec<LaneThread>,
    pub done: mpsc::UnboundedReceiver<LaneDone>,
    pub planner: ChunkReader,
}

impl ChunkProducer {
    /// Reads every chunk, on every lane at once, announcing each on `announce`, at most
    /// `ahead` undelivered. Ends when every table is read or the receiving side is gone; the
    /// first failure ends it (the lanes finish the chunk in hand and stop).
    pub async fn run(
        mut self,
        announce: mpsc::UnboundedSender<AnnouncedChunk>,
        ahead: usize,
    ) -> Result<(), SnapshotError> {
        let plan = &self.plan;
        let permits = Arc::new(Semaphore::new(ahead.max(1)));
        let readers = u32::try_from(self.lanes.len()).unwrap_or(u32::MAX);
        let mut splitter = Splitter::new(
            plan.tables.clone(),
            plan.start.clone(),
            plan.chunk_rows,
            readers,
        );
        let mut idle: Vec<usize> = (0..self.lanes.len()).rev().collect();
        let mut in_flight = 0usize;
        let mut chunks = 0u64;
        loop {
            while let Some(&lane) = idle.last() {
                let Some(spec) = splitter.next(&mut self.planner).await? else {
                    break;
                };
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return Ok(());
                };
                chunks += 1;
                let table = plan.tables[spec.table].clone();
                let low = format!("{}:{chunks}:low", plan.run);
                let high = format!("{}:{chunks}:high", plan.run);
                let (rows_tx, rows_rx) = oneshot::channel();
                let announced = AnnouncedChunk {
                    low: low.clone(),
                    high: high.clone(),
                    table: table.clone(),
                    rows: rows_rx,
                    permit,
                };
                if announce.send(announced).is_err() {
                    return Ok(());
                }
                let job = ChunkJob {
                    spec,
                    table,
                    marks: (low, high),
                    limit: plan.chunk_rows,
                    rows: rows_tx,
                };
                if !self.lanes[lane].give(job) {
                    return Err(lane_gone());
                }
                idle.pop();
                in_flight += 1;
                plan.report(splitter.planning(), 0);
            }
            if in_flight == 0 {
                // Nothing in flight and nothing left to hand out.
                plan.report(None, 0);
                return Ok(());
            }
            let done = self.done.recv().await.ok_or_else(lane_gone)?;
            in_flight -= 1;
            let outcome = done.outcome?;
            if !outcome.full && done.spec.upto.is_none() {
                let table = &plan.tables[done.spec.table];
                tracing::info!(table = %format!("`{}`.`{}`", table.database, table.table),
                    "Snapshot read the table's last chunk.");
            }
            splitter.read(&done.spec, outcome.full, outcome.last_key.as_ref());
            plan.report(splitter.planning(), outcome.rows);
            idle.push(done.lane);
        }
    }
}

fn lane_gone() -> SnapshotError {
    SnapshotError::Query {
        what: "reading chunks".into(),
        detail: "a snapshot reader's thread stopped".into(),
    }
}

impl ChunkPlan {
    /// Records for the status which table is being read and how many more rows were read.
    fn report(&self, table: Option<usize>, rows: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.rows += rows as u64;
        state.next = table.map(|t| start_of(&self.tables[t], &self.scope));
    }
}

/// Where `progress` continues among `tables` (sorted): its table, or the first after it when
/// that table is gone.
pub fn resume_point(
    tables: &[Arc<SnapshotTable>],
    progress: SnapshotProgress,
    scope: &SnapshotScope,
) -> Option<SnapshotProgress> {
    let name = (progress.database.as_str(), progress.table.as_str());
    if tables
        .iter()
        .any(|t| (t.database.as_str(), t.table.as_str()) == name)
    {
        return Some(progress);
    }
    tables
        .iter()
        .find(|t| (t.database.as_str(), t.table.as_str()) > name)
        .map(|t| start_of(t, scope))
}
