//! Runs the chunk producer on a thread of its own (a single-threaded runtime holding the
//! splitter's connection), with its lanes on threads of their own ([`super::lane`]). The
//! producer talks to the task only through channels, a semaphore and a mutex, which work
//! across runtimes.

use mysql_async::Opts;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::chunk_reader::ChunkReader;
use super::error::SnapshotError;
use super::lane::{LaneThread, MarkRow};
use super::producer::{AnnouncedChunk, ChunkPlan, ChunkProducer};

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

/// Runs `work` on a new thread named `name`, on a single-threaded runtime of its own. If the
/// runtime cannot be built, `work` is dropped unrun (its senders with it: the caller's
/// receivers see that).
pub(super) fn run_on_own_thread(
    name: String,
    work: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), SnapshotError> {
    let (thread, for_log) = (name.clone(), name.clone());
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(work),
                Err(e) => tracing::error!(thread = %for_log, error = %e,
                    "Cannot start a snapshot thread's runtime."),
            }
        })
        .map(drop)
        .map_err(|e| SnapshotError::Query {
            what: format!("starting the snapshot's thread `{thread}`"),
            detail: e.to_string(),
        })
}

/// Tells the starter whether the connections opened; the connections when they did.
pub(super) fn report_opened<T>(
    opened: Result<T, SnapshotError>,
    starter: oneshot::Sender<Result<(), SnapshotError>>,
) -> Option<T> {
    match opened {
        Ok(connections) => {
            let _ = starter.send(Ok(()));
            Some(connections)
        }
        Err(e) => {
            let _ = starter.send(Err(e));
            None
        }
    }
}

impl ProducerThread {
    /// Starts the thread, opens the producer's connections there (`readers` lanes of two,
    /// and one to plan with; their errors are returned here) and runs `plan`, announcing
    /// chunks on `announce`, at most `ahead` undelivered.
    pub async fn start(
        opts: Opts,
        signal: SignalTable,
        plan: ChunkPlan,
        readers: usize,
        announce: mpsc::UnboundedSender<AnnouncedChunk>,
        ahead: usize,
    ) -> Result<Self, SnapshotError> {
        let (opened_tx, opened_rx) = oneshot::channel();
        let (result_tx, result) = oneshot::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let span = tracing::Span::current();
        let work = async move {
            let (done_tx, done) = mpsc::unbounded_channel();
            let opened = async {
                let mut lanes = Vec::with_capacity(readers);
                for lane in 0..readers {
                    // A row of its own in the signal table per reader: marks of readers
                    // writing at once never wait for each other's row lock.
                    let row = if lane == 0 {
                        signal.task.clone()
                    } else {
                        format!("{}#{}", signal.task, lane + 1)
                    };
                    let marks = MarkRow {
                        database: signal.database.clone(),
                        table: signal.table.clone(),
                        row,
                    };
                    lanes
                        .push(LaneThread::start(lane, opts.clone(), marks, done_tx.clone()).await?);
                }
                Ok::<_, SnapshotError>((lanes, ChunkReader::open(&opts).await?))
            }
            .await;
            let Some((lanes, planner)) = report_opened(opened, opened_tx) else {
                return;
            };
            let producer = ChunkProducer {
                plan,
                lanes,
                done,
                planner,
            };
            let outcome = tokio::select! {
                outcome = producer.run(announce, ahead) => outcome,
                // The snapshot was dropped: nobody waits for chunks any more.
                _ = stop_rx => Ok(()),
            };
            let _ = result_tx.send(outcome);
        }
        .instrument(span);
        run_on_own_thread("sluice-snapshot".into(), work)?;
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
