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
use sluice_core::filter::EventFilter;
use sluice_core::{BinlogPosition, Event};
use sluice_sinks::file::FileSink;
use sluice_sinks::kafka::KafkaSink;
use sluice_sinks::redis::RedisSink;
use sluice_sinks::{Sink, SinkError};
use tokio::sync::{mpsc, watch};
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
    #[error("task {task}: filters: {detail}")]
    Filters { task: String, detail: String },
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

    // Validation already compiled these patterns; this cannot fail for a validated config.
    let mut filter = EventFilter::new(&task.filters).map_err(|e| TaskError::Filters {
        task: name.clone(),
        detail: e.to_string().trim_end().to_string(),
    })?;

    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    for sink in &task.sinks {
        let built: Result<Box<dyn Sink>, SinkError> = match sink {
            SinkConfig::File(f) => FileSink::open(f).await.map(|s| Box::new(s) as _),
            // An unreachable Redis does not fail here: the sink logs it and retries per batch.
            SinkConfig::Redis(r) => RedisSink::open(r).await.map(|s| Box::new(s) as _),
            // librdkafka connects lazily: an unreachable broker fails batches, not the start.
            SinkConfig::Kafka(k) => KafkaSink::open(k).map(|s| Box::new(s) as _),
        };
        sinks.push(built.map_err(|source| TaskError::Sink {
            task: name.clone(),
            source,
        })?);
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
        let Some(mut batch) = batch else { break };
        // Taken before filtering: a DDL the filter drops still moves the checkpoint past it
        // (everything before it in the batch is written below or deliberately dropped).
        let resume = batch.iter().rev().find_map(Event::resume_position).cloned();
        filter.apply(&mut batch);
        match deliver(&mut sinks, &batch, &mut shutdown).await {
            Ok(Delivery::Done) => {}
            // Stopping while a sink is down: the batch is not delivered, so the checkpoint
            // stays before it and the next run sends it again.
            Ok(Delivery::Interrupted) => break,
            Err(source) => {
                result = Err(TaskError::Sink {
                    task: name.clone(),
                    source,
                });
                break;
            }
        }
        if let Some(p) = resume {
            pending = Some(p);
        }
        if pending.is_some() && (last_checkpoint.elapsed() >= interval || rx.is_empty()) {
            if let Err(e) = checkpoint_now(&mut sinks, &store, &mut pending, &mut shutdown).await {
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
    // Whatever was delivered gets checkpointed before the task ends (unless a sink cannot
    // confirm it: then the checkpoint stays where it was).
    if let Err(e) = checkpoint_now(&mut sinks, &store, &mut pending, &mut shutdown).await {
        result = result.and(Err(TaskError::Checkpoint {
            task: name.clone(),
            source: e,
        }));
    }
    result
}

/// Flushes every sink, then records `pending` as the checkpoint. If stopping interrupts a
/// flush that keeps failing, nothing is recorded: the events are not known to be durable.
async fn checkpoint_now(
    sinks: &mut [Box<dyn Sink>],
    store: &CheckpointStore,
    pending: &mut Option<BinlogPosition>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), CheckpointError> {
    if pending.is_none() {
        return Ok(());
    }
    for sink in sinks.iter_mut() {
        let flushed = retry(sink.as_mut(), Attempt::Flush, shutdown).await;
        if !matches!(flushed, Ok(Delivery::Done)) {
            return Ok(());
        }
    }
    if let Some(position) = pending.take() {
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        store.save(&Checkpoint { position, at_ms })?;
    }
    Ok(())
}

/// How delivering to the sinks ended.
enum Delivery {
    Done,
    /// Stopping was asked for while a sink kept failing.
    Interrupted,
}

/// Writes a batch to every sink. A sink that fails transiently is retried with backoff until
/// it takes the batch: nothing is dropped, and the queue behind it fills, which stops the
/// reader (back-pressure). A definite failure (bad data for this sink) ends the task.
async fn deliver(
    sinks: &mut [Box<dyn Sink>],
    batch: &[Event],
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Delivery, SinkError> {
    for sink in sinks.iter_mut() {
        if let Delivery::Interrupted = retry(sink.as_mut(), Attempt::Write(batch), shutdown).await?
        {
            return Ok(Delivery::Interrupted);
        }
    }
    Ok(Delivery::Done)
}

/// What is asked of a sink.
#[derive(Clone, Copy)]
enum Attempt<'b> {
    Write(&'b [Event]),
    Flush,
}

/// Runs `attempt` until it succeeds, fails definitely, or stopping is asked for.
async fn retry(
    sink: &mut dyn Sink,
    attempt: Attempt<'_>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Delivery, SinkError> {
    let mut backoff = Duration::from_millis(100);
    loop {
        let (result, what) = match attempt {
            Attempt::Write(batch) => (sink.write(batch).await, "write"),
            Attempt::Flush => (sink.flush().await, "flush"),
        };
        match result {
            Ok(()) => return Ok(Delivery::Done),
            Err(e) if e.is_definite() => return Err(e),
            Err(e) => {
                tracing::warn!(sink = sink.name(), error = %e, retry_in_ms = backoff.as_millis() as u64, "Sink {what} failed; retrying.");
            }
        }
        if *shutdown.borrow() {
            return Ok(Delivery::Interrupted);
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return Ok(Delivery::Interrupted),
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
