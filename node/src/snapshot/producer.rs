//! Reads chunks ahead of the stream: a task of its own writes a chunk's low mark, reads it,
//! writes its high mark, and goes on to the next chunk while the previous one still waits for
//! its marks in the binlog. Reading, the marks' round trip through the binlog and the sinks'
//! work so overlap instead of taking turns.
//!
//! Why reading ahead keeps the output correct: the producer is sequential, so chunk N+1's
//! window opens where chunk N's closed (at the same mark), and the windows follow one another
//! in the binlog without overlapping; each is merged exactly as a lone chunk would be
//! ([`super::window`]). A chunk is announced (its mark names) before its low mark is written,
//! so the window knows every mark it meets; its rows follow once its high mark is committed.
//! At most `ahead` chunks are announced and not yet delivered (a permit each), bounding memory.
//! The producer only reads; each chunk's rows are converted to Sluice values on the task's
//! runtime ([`ChunkPlan::converter`]), off the reading thread, while the next chunk is read.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use super::chunk_reader::{convert_rows, ChunkReader};
use super::discovery::SnapshotTable;
use super::error::SnapshotError;
use super::progress::SnapshotProgress;
use super::snapshotter::{start_of, SnapshotScope};
use super::watermark::WatermarkWriter;

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

/// A chunk's rows, and where the snapshot continues after it (`None`: done).
pub struct ReadChunk {
    pub rows: Vec<sluice_core::RowImage>,
    pub next: Option<SnapshotProgress>,
}

/// What the producer has read so far, for the task's status.
#[derive(Debug, Clone, Default)]
pub struct ProducerState {
    /// Where the next chunk starts; `None` once every table is read.
    pub next: Option<SnapshotProgress>,
    pub rows: u64,
}

/// What the producer reads, and where it reports.
pub struct ChunkPlan {
    pub tables: Vec<Arc<SnapshotTable>>,
    pub next: Option<SnapshotProgress>,
    pub scope: SnapshotScope,
    pub chunk_rows: u32,
    /// Makes this run's marks unique, so marks of a crashed run replayed from the binlog are
    /// never taken for this run's.
    pub run: String,
    pub state: Arc<Mutex<ProducerState>>,
    /// Where chunks are converted: the task's runtime, so the conversion of one chunk runs on
    /// another core while the producer reads the next.
    pub converter: tokio::runtime::Handle,
}

/// The producer: its plan and its two connections.
pub struct ChunkProducer {
    pub plan: ChunkPlan,
    pub reader: ChunkReader,
    pub marks: WatermarkWriter,
}

impl ChunkProducer {
    /// Reads every chunk in order, announcing each on `announce`, at most `ahead` undelivered.
    /// Ends when every table is read or the receiving side is gone.
    ///
    /// One mark between two chunks is both the high mark of the one and the low mark of the
    /// next (mark k closes chunk k and opens chunk k+1): each chunk's `SELECT` still runs
    /// between its two marks, and every mark costs a commit, so this halves them. Chunk k+1 is
    /// announced before mark k is written, so the window knows it when the mark arrives.
    pub async fn run(
        mut self,
        announce: mpsc::UnboundedSender<AnnouncedChunk>,
        ahead: usize,
    ) -> Result<(), SnapshotError> {
        let permits = Arc::new(Semaphore::new(ahead.max(1)));
        let mut marks = 0u64;
        let Some(mut at) = self.plan.next.take() else {
            return Ok(());
        };
        let mark = |k: u64| format!("{}:{k}", self.plan.run);
        let Some(mut rows_tx) = self
            .announce(&at, mark(0), mark(1), &permits, &announce)
            .await?
        else {
            return Ok(());
        };
        self.marks.write(&mark(0)).await?;
        loop {
            marks += 1;
            let index = self.table_index(&at)?;
            let table = self.plan.tables[index].clone();
            let chunk = self
                .reader
                .read(&table, at.after.as_deref(), self.plan.chunk_rows)
                .await?;
            let full = chunk.rows.len() >= self.plan.chunk_rows as usize;
            let next = match (full, chunk.last_key) {
                (true, Some(key)) => Some(SnapshotProgress {
                    after: Some(key),
                    ..at
                }),
                _ => {
                    tracing::info!(table = %format!("`{}`.`{}`", table.database, table.table),
                        "Snapshot read the whole table.");
                    self.plan
                        .tables
                        .get(index + 1)
                        .map(|t| start_of(t, &self.plan.scope))
                }
            };
            // The next chunk opens at this chunk's closing mark: announced before it is written.
            let next_rows = match &next {
                Some(n) => {
                    match self
                        .announce(n, mark(marks), mark(marks + 1), &permits, &announce)
                        .await?
                    {
                        Some(tx) => Some(tx),
                        None => return Ok(()),
                    }
                }
                None => None,
            };
            self.marks.write(&mark(marks)).await?;
            {
                let mut state = self.plan.state.lock().unwrap_or_else(|e| e.into_inner());
                state.rows += chunk.rows.len() as u64;
                state.next = next.clone();
            }
            let (raw, after) = (chunk.rows, next.clone());
            self.plan.converter.spawn(async move {
                let read = convert_rows(&table, raw).map(|rows| ReadChunk { rows, next: after });
                // Nobody waits for it any more when the snapshot was dropped.
                let _ = rows_tx.send(read);
            });
            match (next, next_rows) {
                (Some(n), Some(tx)) => {
                    at = n;
                    rows_tx = tx;
                }
                _ => return Ok(()),
            }
        }
    }

    /// Where `at`'s table is in the list (always there: `at` comes from it).
    fn table_index(&self, at: &SnapshotProgress) -> Result<usize, SnapshotError> {
        self.plan
            .tables
            .iter()
            .position(|t| t.database == at.database && t.table == at.table)
            .ok_or_else(|| SnapshotError::Query {
                what: format!("reading `{}`.`{}`", at.database, at.table),
                detail: "the table is not among the snapshot's tables".into(),
            })
    }

    /// Takes a permit and announces the chunk at `at` between marks `low` and `high`; returns
    /// where its rows go (`None`: nobody listens any more).
    async fn announce(
        &self,
        at: &SnapshotProgress,
        low: String,
        high: String,
        permits: &Arc<Semaphore>,
        announce: &mpsc::UnboundedSender<AnnouncedChunk>,
    ) -> Result<Option<oneshot::Sender<Result<ReadChunk, SnapshotError>>>, SnapshotError> {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return Ok(None);
        };
        let table = self.plan.tables[self.table_index(at)?].clone();
        let (rows_tx, rows_rx) = oneshot::channel();
        let chunk = AnnouncedChunk {
            low,
            high,
            table,
            rows: rows_rx,
            permit,
        };
        Ok(announce.send(chunk).is_ok().then_some(rows_tx))
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
