//! One task's pipeline: source → bounded queue → sinks → checkpoint.
//!
//! Correctness argument for "no loss": the checkpoint is advanced only to the `next` position
//! of a Commit (or DDL) event, and only after every sink's `flush` returned for a batch that
//! contains that event and all before it. A crash at any point therefore resumes at or before
//! the first event not durably delivered; what is replayed is at most what was delivered since
//! the last checkpoint (bounded by `checkpoint_interval_ms`), never a gap.
//!
//! Back-pressure: the queue between source and sinks is bounded, so a slow sink slows the
//! reader instead of growing memory.

use std::time::{Duration, Instant};

use sluice_core::config::{SinkConfig, StartFrom, TaskConfig};
use sluice_core::{BinlogPosition, Event};
use sluice_sinks::file::FileSink;
use sluice_sinks::{Sink, SinkError};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::checkpoint::{Checkpoint, CheckpointError, CheckpointStore};
use crate::source::{BinlogSource, SourceSettings, StartPosition};
use crate::SourceError;

/// Batches in flight between the source and the sinks.
const QUEUE_BATCHES: usize = 16;
/// Events per batch handed to the sinks.
const BATCH_EVENTS: usize = 4096;

/// Why a task stopped.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("task {task}: {source}")]
    Source { task: String, source: SourceError },
    #[error("task {task}: {source}")]
    Checkpoint {
        task: String,
        source: CheckpointError,
    },
    #[error("task {task}: {source}")]
    Sink { task: String, source: SinkError },
    #[error("task {task}: source.start: {detail}")]
    Config { task: String, detail: String },
}

/// Runs a task until `shutdown` fires (then flushes and checkpoints) or a definite error.
pub async fn run_task(
    task: TaskConfig,
    data_dir: std::path::PathBuf,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), TaskError> {
    let span = tracing::info_span!("task", task = %task.name);
    run_task_inner(task, data_dir, shutdown)
        .instrument(span)
        .await
}

async fn run_task_inner(
    task: TaskConfig,
    data_dir: std::path::PathBuf,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), TaskError> {
    let name = task.name.clone();
    let store = CheckpointStore::new(&data_dir, &name);
    let checkpoint = store.load().map_err(|source| TaskError::Checkpoint {
        task: name.clone(),
        source,
    })?;
    let start = match &checkpoint {
        Some(c) => {
            tracing::info!(position = %c.position, "Resuming from the checkpoint.");
            StartPosition::Binlog(c.position.clone())
        }
        None => match task.source.start_from() {
            Ok(StartFrom::Current) => StartPosition::Current,
            Ok(StartFrom::Earliest) => StartPosition::Earliest,
            Ok(StartFrom::Binlog(p)) => StartPosition::Binlog(p),
            Ok(StartFrom::Gtid(g)) => StartPosition::Gtid(g),
            Err(detail) => {
                return Err(TaskError::Config {
                    task: name.clone(),
                    detail,
                })
            }
        },
    };

    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    for sink in &task.sinks {
        let built = match sink {
            SinkConfig::File(f) => FileSink::open(f).await,
        };
        sinks.push(Box::new(built.map_err(|source| TaskError::Sink {
            task: name.clone(),
            source,
        })?));
    }

    let settings = SourceSettings {
        name: name.clone(),
        url: task.source.url.replacen("mariadb://", "mysql://", 1),
        server_id: task.source.server_id,
        start,
        until: None,
        heartbeat: Duration::from_secs(task.source.heartbeat_secs),
        max_backoff: Duration::from_secs(30),
        retry_at_start: true,
    };
    let mut source = BinlogSource::open(settings)
        .await
        .map_err(|source| TaskError::Source {
            task: name.clone(),
            source,
        })?;

    let (tx, mut rx) = mpsc::channel::<Vec<Event>>(QUEUE_BATCHES);
    let reader_name = name.clone();
    let reader = tokio::spawn(
        async move {
            let mut batch = Vec::with_capacity(BATCH_EVENTS);
            loop {
                match source.next_events(&mut batch).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(source) => {
                        return Err(TaskError::Source {
                            task: reader_name,
                            source,
                        })
                    }
                }
                if !batch.is_empty() {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_EVENTS));
                    if tx.send(full).await.is_err() {
                        break;
                    }
                }
            }
            Ok(())
        }
        .instrument(tracing::Span::current()),
    );

    let interval = Duration::from_millis(task.checkpoint_interval_ms);
    let mut last_checkpoint = Instant::now();
    let mut pending: Option<BinlogPosition> = None;
    let mut result = Ok(());
    loop {
        let batch = tokio::select! {
            b = rx.recv() => b,
            _ = shutdown.changed() => None,
        };
        let Some(batch) = batch else { break };
        for sink in sinks.iter_mut() {
            write_with_retry(sink.as_mut(), &batch).await;
        }
        if let Some(p) = batch.iter().rev().find_map(Event::resume_position) {
            pending = Some(p.clone());
        }
        if pending.is_some() && (last_checkpoint.elapsed() >= interval || rx.is_empty()) {
            if let Err(e) = checkpoint_now(&mut sinks, &store, &mut pending).await {
                result = Err(TaskError::Checkpoint {
                    task: name.clone(),
                    source: e,
                });
                break;
            }
            last_checkpoint = Instant::now();
        }
    }
    reader.abort();
    if let Ok(Err(e)) = reader.await {
        result = result.and(Err(e));
    }
    // Whatever was delivered gets checkpointed before the task ends.
    if let Err(e) = checkpoint_now(&mut sinks, &store, &mut pending).await {
        result = result.and(Err(TaskError::Checkpoint {
            task: name.clone(),
            source: e,
        }));
    }
    result
}

/// Flushes every sink, then records `pending` as the checkpoint.
async fn checkpoint_now(
    sinks: &mut [Box<dyn Sink>],
    store: &CheckpointStore,
    pending: &mut Option<BinlogPosition>,
) -> Result<(), CheckpointError> {
    for sink in sinks.iter_mut() {
        flush_with_retry(sink.as_mut()).await;
    }
    if let Some(position) = pending.take() {
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        store.save(&Checkpoint { position, at_ms })?;
    }
    Ok(())
}

/// A sink that fails is retried with backoff until it takes the events: nothing is dropped,
/// and the queue behind it fills, which stops the reader (back-pressure).
async fn write_with_retry(sink: &mut dyn Sink, batch: &[Event]) {
    let mut backoff = Duration::from_millis(100);
    while let Err(e) = sink.write(batch).await {
        tracing::warn!(sink = sink.name(), error = %e, retry_in_ms = backoff.as_millis() as u64, "Sink write failed; retrying.");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

async fn flush_with_retry(sink: &mut dyn Sink) {
    let mut backoff = Duration::from_millis(100);
    while let Err(e) = sink.flush().await {
        tracing::warn!(sink = sink.name(), error = %e, retry_in_ms = backoff.as_millis() as u64, "Sink flush failed; retrying.");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
