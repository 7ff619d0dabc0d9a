//! Runs the chunk producer on a thread of its own, on a single-threaded tokio runtime that also
//! owns its two connections.
//!
//! Why: the producer's hot loop reads a result set row by row from one socket. On the task's
//! multi-threaded runtime each socket readiness crosses threads (the I/O driver runs on one
//! worker, the task on another), and the server and the reader stop overlapping: reading
//! 1,000,000 rows with mysql_async took 1.2-1.4 s and 0.65 CPU-seconds there, against 1.0 s and
//! 0.46 CPU-seconds on a current-thread runtime (docs/benchmarks.md, "Snapshot"). The producer
//! talks to the task only through channels, a semaphore and a mutex, which work across
//! runtimes.

use mysql_async::Opts;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::chunk_reader::ChunkReader;
use super::error::SnapshotError;
use super::producer::{AnnouncedChunk, ChunkPlan, ChunkProducer};
use super::watermark::WatermarkWriter;

/// Where the producer writes its marks.
pub struct SignalTable {
    pub database: String,
    pub table: String,
    /// The task whose row in the signal table the marks update.
    pub task: String,
}

/// The running producer. Dropping it stops the producer and ends its thread.
pub struct ProducerThread {
    result: oneshot::Receiver<Result<(), SnapshotError>>,
    /// Dropped with the handle: the producer's `select!` sees it and stops.
    _stop: oneshot::Sender<()>,
}

fn stopped() -> SnapshotError {
    SnapshotError::Query {
        what: "reading chunks".into(),
        detail: "the chunk reader's thread stopped without a result".into(),
    }
}

impl ProducerThread {
    /// Starts the thread, opens the producer's connections there (their errors are returned
    /// here) and runs `plan`, announcing chunks on `announce`, at most `ahead` undelivered.
    pub async fn start(
        opts: Opts,
        signal: SignalTable,
        plan: ChunkPlan,
        announce: mpsc::UnboundedSender<AnnouncedChunk>,
        ahead: usize,
    ) -> Result<Self, SnapshotError> {
        let (opened_tx, opened_rx) = oneshot::channel();
        let (result_tx, result) = oneshot::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let span = tracing::Span::current();
        let work = async move {
            let opened = async {
                let marks =
                    WatermarkWriter::open(&opts, &signal.database, &signal.table, &signal.task)
                        .await?;
                Ok::<_, SnapshotError>((marks, ChunkReader::open(&opts).await?))
            }
            .await;
            let (marks, reader) = match opened {
                Ok(connections) => {
                    let _ = opened_tx.send(Ok(()));
                    connections
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                    return;
                }
            };
            let producer = ChunkProducer {
                plan,
                reader,
                marks,
            };
            let outcome = tokio::select! {
                outcome = producer.run(announce, ahead) => outcome,
                // The snapshot was dropped: nobody waits for chunks any more.
                _ = stop_rx => Ok(()),
            };
            let _ = result_tx.send(outcome);
        }
        .instrument(span);
        std::thread::Builder::new()
            .name("sluice-snapshot".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(work),
                    // `work` (and the sender in it) is dropped: `start` reports it below.
                    Err(e) => tracing::error!(error = %e, "Cannot start the snapshot's runtime."),
                }
            })
            .map_err(|e| SnapshotError::Query {
                what: "starting the chunk reader's thread".into(),
                detail: e.to_string(),
            })?;
        opened_rx.await.map_err(|_| stopped())??;
        Ok(ProducerThread {
            result,
            _stop: stop,
        })
    }

    /// The producer's outcome once it ended (every table read, or a failure); `None` while it
    /// runs.
    pub fn outcome(&mut self) -> Option<Result<(), SnapshotError>> {
        match self.result.try_recv() {
            Ok(outcome) => Some(outcome),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(stopped())),
        }
    }

    /// Waits for the producer's outcome.
    pub async fn finish(self) -> Result<(), SnapshotError> {
        self.result.await.unwrap_or_else(|_| Err(stopped()))
    }
}
