//! One snapshot reader ("lane"): a reading connection and a watermark connection on a thread
//! of its own, with a single-threaded tokio runtime that owns both.
//!
//! Why a thread each: a lane's hot loop reads a result set row by row from one socket and
//! converts the rows. On the task's multi-threaded runtime each socket readiness crossed threads
//! and the server and the reader stopped overlapping (reading 1,000,000 rows with mysql_async
//! took 1.2-1.4 s and 0.65 CPU-seconds there, 1.0 s and 0.46 CPU-seconds on a current-thread
//! runtime); and lanes on threads of their own parse and convert their chunks at once, as the
//! server reads their key ranges at once (docs/benchmarks.md, "Snapshot"). A lane talks to the
//! producer only through channels.

use std::sync::Arc;

use mysql_async::Opts;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::chunk_reader::{convert_rows, ChunkReader, KeyRange};
use super::discovery::SnapshotTable;
use super::error::SnapshotError;
use super::producer::{ChunkSpan, ReadChunk};
use super::producer_thread::{report_opened, run_on_own_thread};
use super::progress::KeyValue;
use super::splitter::ChunkSpec;
use super::watermark::WatermarkWriter;

/// One chunk for a lane to read.
pub struct ChunkJob {
    pub spec: ChunkSpec,
    pub table: Arc<SnapshotTable>,
    /// Its low and high mark.
    pub marks: (String, String),
    pub limit: u32,
    /// Where its converted rows go (the window waits for them at the high mark).
    pub rows: oneshot::Sender<Result<ReadChunk, SnapshotError>>,
}

/// What reading one chunk found.
pub struct ReadOutcome {
    pub rows: usize,
    pub full: bool,
    pub last_key: Option<Vec<KeyValue>>,
}

/// A lane's answer to a job.
pub struct LaneDone {
    pub lane: usize,
    pub spec: ChunkSpec,
    pub outcome: Result<ReadOutcome, SnapshotError>,
}

/// Where a lane writes its marks: its own row of the signal table.
pub struct MarkRow {
    pub database: String,
    pub table: String,
    pub row: String,
}

/// A running lane. Dropping it (its job sender) ends its thread after the job in hand.
pub struct LaneThread {
    jobs: mpsc::UnboundedSender<ChunkJob>,
}

impl LaneThread {
    /// Starts lane `lane`: opens its connections on its thread (errors come back here), then
    /// runs the jobs it is given and answers each on `done`.
    pub async fn start(
        lane: usize,
        opts: Opts,
        marks: MarkRow,
        done: mpsc::UnboundedSender<LaneDone>,
    ) -> Result<Self, SnapshotError> {
        let (opened_tx, opened_rx) = oneshot::channel();
        let (jobs, mut jobs_rx) = mpsc::unbounded_channel::<ChunkJob>();
        let work = async move {
            let opened = async {
                let marks =
                    WatermarkWriter::open(&opts, &marks.database, &marks.table, &marks.row).await?;
                Ok::<_, SnapshotError>((ChunkReader::open(&opts).await?, marks))
            }
            .await;
            let Some((mut reader, mut marks)) = report_opened(opened, opened_tx) else {
                return;
            };
            while let Some(job) = jobs_rx.recv().await {
                let spec = job.spec.clone();
                let outcome = job.run(&mut reader, &mut marks).await;
                if done
                    .send(LaneDone {
                        lane,
                        spec,
                        outcome,
                    })
                    .is_err()
                {
                    break;
                }
            }
        }
        .instrument(tracing::Span::current());
        run_on_own_thread(format!("sluice-snapshot-{lane}"), work)?;
        opened_rx.await.map_err(|_| SnapshotError::Query {
            what: "starting a snapshot reader".into(),
            detail: "its thread stopped before its connections were open".into(),
        })??;
        Ok(LaneThread { jobs })
    }

    /// Hands the lane a job; `false` when its thread is gone.
    pub fn give(&self, job: ChunkJob) -> bool {
        self.jobs.send(job).is_ok()
    }
}

impl ChunkJob {
    /// Low mark, read, high mark; then the rows are converted and sent to the window.
    async fn run(
        self,
        reader: &mut ChunkReader,
        marks: &mut WatermarkWriter,
    ) -> Result<ReadOutcome, SnapshotError> {
        let ChunkJob {
            spec,
            table,
            marks: (low, high),
            limit,
            rows,
        } = self;
        marks.write(&low).await?;
        let range = KeyRange {
            after: spec.after.as_deref(),
            upto: spec.upto.as_deref(),
        };
        let chunk = reader.read(&table, range, limit).await?;
        marks.write(&high).await?;
        // Converted while the high mark makes its way through the binlog to the window.
        let full = chunk.rows.len() >= limit as usize;
        let outcome = ReadOutcome {
            rows: chunk.rows.len(),
            full,
            last_key: chunk.last_key.clone(),
        };
        let span = ChunkSpan {
            table: spec.table,
            end: spec.end(full, chunk.last_key.as_ref()),
            after: spec.after,
        };
        let read = convert_rows(&table, chunk.rows).map(|rows| ReadChunk { rows, span });
        // Nobody waits for it any more when the snapshot was dropped.
        let _ = rows.send(read);
        Ok(outcome)
    }
}
