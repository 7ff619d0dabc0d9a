//! One task's pipeline: source → byte-bounded queue → filter → sinks → checkpoint.
//!
//! Correctness argument for "no loss": the checkpoint is advanced only to the `next` position
//! of a Commit (or DDL) event, and only after every sink's `commit` returned for everything up
//! to that event. A crash at any point therefore resumes at or before the first event not
//! durably delivered; what is replayed is at most what was delivered since the last checkpoint
//! (bounded by `checkpoint_interval_ms`), never a gap.
//!
//! Exactly-once sinks (Kafka transactions) commit events and checkpoint together, so a batch
//! is cut at its last transaction boundary when a checkpoint is due: what such a sink commits
//! ends exactly at the position it records, and the rest goes into its next transaction.
//!
//! Back-pressure: the queue between source and sinks is bounded in bytes (`queue_max_mib`), so
//! a slow sink slows the reader instead of growing memory.

use std::time::{Duration, Instant};

use sluice_core::config::{KafkaSinkConfig, SinkConfig, StartFrom, TaskConfig};
use sluice_core::filter::EventFilter;
use sluice_core::{BinlogPosition, Event};
use sluice_sinks::file::FileSink;
use sluice_sinks::kafka::KafkaSink;
use sluice_sinks::redis::RedisSink;
use sluice_sinks::{Sink, SinkCheckpoint, SinkError};
use tokio::sync::watch;
use tracing::Instrument;

use super::checkpoint::{Checkpoint, CheckpointError, Checkpoints};
use super::delivery::{deliver, retry, Attempt, Delivery};
use super::gate::WriteGate;
use super::purged_resume;
use super::queue::byte_queue;
use super::snapshot_plan::{
    open_requested, open_snapshot, plan_snapshot, record_coverage, SnapshotDecision, SnapshotPlan,
};
use super::snapshot_requests::SnapshotRequests;
use crate::snapshot::{ProgressLedger, SnapshotError};
use crate::source::{BinlogSource, SourceSettings, StartPosition};
use crate::telemetry::TaskObserver;
use crate::SourceError;

/// Events handed to the sinks at once, at most (whole queued batches are never split).
const BATCH_EVENTS: usize = 4096;

/// The shortest time between two checkpoints taken because the queue ran empty (a quiet
/// stream's last changes are checkpointed this long after they were delivered, at most). In
/// bursts the queue runs empty after nearly every batch (each snapshot chunk, say), and a
/// checkpoint each time cost 1-2 ms of sink time per batch (flush, two fsyncs) for no gain.
const IDLE_CHECKPOINT_GAP: Duration = Duration::from_millis(100);
/// Longest wait before going back to the checkpoint after a sink lost a transaction.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(30);

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
    /// The node may not write for this task any more (its coordinator lease lapsed): it
    /// stopped without writing anything further.
    #[error("task {task}: fenced off: this node lost its coordinator lease, so another node may own the task now; nothing more was written")]
    Fenced { task: String },
    #[error("task {task}: filters: {detail}")]
    Filters { task: String, detail: String },
    #[error("task {task}: {source}")]
    Snapshot { task: String, source: SnapshotError },
}

/// Runs a task until `shutdown` fires (then flushes and checkpoints) or a definite error.
/// When a sink lost what it took since its last commit (an aborted Kafka transaction), the
/// task goes back to its checkpoint and reads the source again from there, with backoff.
/// `requests`: on-demand snapshots to take while it streams.
pub async fn run_task(
    task: TaskConfig,
    checkpoints: std::sync::Arc<dyn Checkpoints>,
    shutdown: watch::Receiver<bool>,
    observer: TaskObserver,
    gate: WriteGate,
    requests: SnapshotRequests,
) -> Result<(), TaskError> {
    let span = tracing::info_span!("task", task = %task.name);
    async move {
        let mut backoff = Duration::from_secs(1);
        let mut first_run = true;
        // The resume position the server purged, when the next run replaces it by a snapshot.
        let mut purged: Option<String> = None;
        loop {
            let result = run_once(
                &task,
                checkpoints.as_ref(),
                shutdown.clone(),
                RunStart {
                    first_run,
                    purged: purged.take(),
                },
                &observer,
                &gate,
                &requests,
            )
            .await;
            first_run = false;
            if let Some(lost) = result
                .as_ref()
                .err()
                .and_then(|e| purged_resume::recoverable(&task, e))
            {
                purged = Some(lost);
                continue;
            }
            match &result {
                Err(TaskError::Sink { source, .. }) if source.needs_restart() => {
                    tracing::warn!(error = %source, retry_in_ms = backoff.as_millis() as u64,
                        "A sink lost its uncommitted events; restarting the task from its last checkpoint.");
                }
                _ => return result,
            }
            let mut shutdown = shutdown.clone();
            if *shutdown.borrow() {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return Ok(()),
            }
            backoff = (backoff * 2).min(MAX_RESTART_BACKOFF);
        }
    }
    .instrument(span)
    .await
}

/// Opens the task's sinks. `probe`: check that each sink's service answers now (the first
/// start), so a wrong address is reported at once instead of as retries. `lease`: the write
/// gate's lease (cluster mode).
async fn open_sinks(
    task: &TaskConfig,
    probe: bool,
    lease: Option<Duration>,
) -> Result<Vec<Box<dyn Sink>>, TaskError> {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    for sink in &task.sinks {
        let built: Result<Box<dyn Sink>, SinkError> = match sink {
            SinkConfig::File(f) => FileSink::open(f).await.map(|s| Box::new(s) as _),
            // An unreachable Redis does not fail here: the sink logs it and retries per batch.
            SinkConfig::Redis(r) => RedisSink::open(r).await.map(|s| Box::new(s) as _),
            SinkConfig::Kafka(k) => {
                KafkaSink::open(&kafka_within_lease(k, lease), &task.name, probe)
                    .await
                    .map(|s| Box::new(s) as _)
            }
        };
        sinks.push(built.map_err(|source| TaskError::Sink {
            task: task.name.clone(),
            source,
        })?);
    }
    Ok(sinks)
}

/// A Kafka sink whose messages expire within the write lease. The gate stops new writes once
/// the lease lapses, but messages already handed to librdkafka would still go out when a
/// frozen node wakes up, long after its session expired and another node took the task over;
/// librdkafka drops a message older than `message.timeout.ms` before sending it, so that
/// timeout must not outlast the lease. (A message that expires in a healthy node is an
/// undelivered one: the task goes back to its checkpoint, nothing is lost.)
fn kafka_within_lease(config: &KafkaSinkConfig, lease: Option<Duration>) -> KafkaSinkConfig {
    let mut config = config.clone();
    if let Some(lease) = lease.filter(|l| *l < KafkaSink::message_timeout(&config)) {
        let ms = lease.as_millis().max(1);
        config
            .properties
            .insert("message.timeout.ms".into(), ms.to_string());
    }
    config
}

/// The checkpoint the task resumes from: the one a sink keeps with its events, else the one
/// its checkpoint store keeps; `None` on a first start.
async fn resume_checkpoint(
    task: &TaskConfig,
    store: &dyn Checkpoints,
    sinks: &mut [Box<dyn Sink>],
) -> Result<Option<Checkpoint>, TaskError> {
    for sink in sinks.iter_mut().filter(|s| s.keeps_checkpoint()) {
        let stored = sink
            .stored_checkpoint()
            .await
            .map_err(|source| TaskError::Sink {
                task: task.name.clone(),
                source,
            })?;
        if let Some(stored) = stored {
            tracing::info!(position = %stored.position, sink = sink.name(), "Resuming from the checkpoint the sink keeps.");
            return Ok(Some(Checkpoint::kept_by_sink(stored, 0)));
        }
    }
    let checkpoint = store.load().await.map_err(|source| TaskError::Checkpoint {
        task: task.name.clone(),
        source,
    })?;
    if let Some(c) = &checkpoint {
        tracing::info!(position = %c.position, "Resuming from the checkpoint.");
    }
    Ok(checkpoint)
}

/// Where the task starts: its resume checkpoint, else the configured start (an unreadable one
/// is refused with what is wrong with it).
fn start_position(task: &TaskConfig, resume: Option<&Checkpoint>) -> Result<StartPosition, String> {
    if let Some(c) = resume {
        return Ok(StartPosition::Binlog(c.position.clone()));
    }
    match task.source.start_from() {
        Ok(StartFrom::Current) => Ok(StartPosition::Current),
        Ok(StartFrom::Earliest) => Ok(StartPosition::Earliest),
        Ok(StartFrom::Binlog(p)) => Ok(StartPosition::Binlog(p)),
        Ok(StartFrom::Gtid(g)) => Ok(StartPosition::Gtid(g)),
        Err(detail) => Err(detail),
    }
}

/// Stores `checkpoint` before the run writes anything: committed by the sinks that keep the
/// checkpoint (an exactly-once Kafka sink: a transaction holding only the checkpoint record),
/// and saved in the store.
async fn store_before_run(
    task: &TaskConfig,
    store: &dyn Checkpoints,
    sinks: &mut [Box<dyn Sink>],
    checkpoint: &Checkpoint,
    shutdown: &mut watch::Receiver<bool>,
    gate: &WriteGate,
) -> Result<(), TaskError> {
    let committed = checkpoint.for_sinks();
    for sink in sinks.iter_mut().filter(|s| s.keeps_checkpoint()) {
        match retry(sink.as_mut(), Attempt::Commit(&committed), shutdown, gate).await {
            Ok(Delivery::Done) => {}
            Ok(Delivery::Interrupted) => {
                return Err(TaskError::Config {
                    task: task.name.clone(),
                    detail: "stopped before the run's first checkpoint was committed".into(),
                })
            }
            Ok(Delivery::Fenced) => {
                return Err(TaskError::Fenced {
                    task: task.name.clone(),
                })
            }
            Err(source) => {
                return Err(TaskError::Sink {
                    task: task.name.clone(),
                    source,
                })
            }
        }
    }
    store
        .save(checkpoint)
        .await
        .map_err(|source| TaskError::Checkpoint {
            task: task.name.clone(),
            source,
        })
}

/// How a run of the task starts.
struct RunStart {
    /// The task's first run in this process: probe the sinks' services.
    first_run: bool,
    /// The resume position the server purged (`snapshot.on_purged = "snapshot"`): stream from
    /// the binlog's end and snapshot every table instead of resuming.
    purged: Option<String>,
}

async fn run_once(
    task: &TaskConfig,
    store: &dyn Checkpoints,
    mut shutdown: watch::Receiver<bool>,
    RunStart { first_run, purged }: RunStart,
    observer: &TaskObserver,
    gate: &WriteGate,
    requests: &SnapshotRequests,
) -> Result<(), TaskError> {
    let name = task.name.clone();

    // Validation already compiled these patterns; this cannot fail for a validated config.
    let mut filter = EventFilter::new(&task.filters).map_err(|e| TaskError::Filters {
        task: name.clone(),
        detail: e.to_string().trim_end().to_string(),
    })?;

    let mut sinks = open_sinks(task, first_run, gate.lease()).await?;
    // Counted, timed and recorded in the status (the `ObservedSink` forwards every call).
    sinks = sinks
        .into_iter()
        .map(|s| observer.observe_sink(s))
        .collect();
    let resume = resume_checkpoint(task, store, &mut sinks).await?;
    let mut start = start_position(task, resume.as_ref()).map_err(|detail| TaskError::Config {
        task: name.clone(),
        detail,
    })?;
    // A sink that commits events with the checkpoint must get exactly the events up to it.
    let exact = sinks.iter().any(|s| s.keeps_checkpoint());
    let decision = match purged {
        // The purged checkpoint stays stored until this run's first one replaces it.
        Some(_) => SnapshotDecision {
            plan: Some(SnapshotPlan { from: None }),
            store_first: None,
        },
        None => plan_snapshot(task, store, resume).await?,
    };
    if let Some(checkpoint) = &decision.store_first {
        store_before_run(task, store, &mut sinks, checkpoint, &mut shutdown, gate).await?;
    }
    record_coverage(task, store).await?;
    let snapshot_plan = decision.plan;
    if snapshot_plan.as_ref().is_some_and(|p| p.is_fresh()) {
        // The snapshot supplies what is already there; the stream, what changes from now.
        start = StartPosition::Current;
    }
    // A resumed on-demand snapshot is that request, started already.
    if let Some(id) = snapshot_plan
        .as_ref()
        .and_then(|p| p.from.as_ref())
        .and_then(|p| p.request)
    {
        requests.start(id);
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
    // Beside the checkpoint, in whichever store keeps it (a file, or the coordinator).
    source
        .track_schema(crate::schema_history::HistoryStore::new(store.shared()))
        .await
        .map_err(|source| TaskError::Source {
            task: name.clone(),
            source,
        })?;
    if let Some(lost) = &purged {
        purged_resume::report(observer, lost, &source.resume_position().to_string());
    }
    // Opened after the stream so that its first low watermark comes after the start position.
    let url = task.source.url.replacen("mariadb://", "mysql://", 1);
    let ledger = std::sync::Arc::new(ProgressLedger::new(
        snapshot_plan.as_ref().and_then(|p| p.from.clone()),
    ));
    let mut snapshot = match snapshot_plan {
        Some(plan) => Some(open_snapshot(task, &url, plan, ledger.clone()).await?),
        None => None,
    };
    observer.running();

    let (tx, mut rx) = byte_queue(task.queue_max_mib as usize * 1024 * 1024);
    let reader_name = name.clone();
    let mut meter = observer.source_meter();
    let (reader_task, reader_ledger, reader_requests) =
        (task.clone(), ledger.clone(), requests.clone());
    let reader_observer = observer.clone();
    let reader = tokio::spawn(
        async move {
            let mut batch = Vec::new();
            // The last position between transactions sent on, as an event's or as passed.
            let mut sent_resume = source.resume_position().clone();
            loop {
                if snapshot.is_none() {
                    if let Some(request) = reader_requests.next() {
                        reader_requests.start(request.id);
                        snapshot = start_requested(
                            &reader_task,
                            &url,
                            &request,
                            &reader_ledger,
                            &reader_requests,
                        )
                        .await?;
                    }
                }
                if let Some(snapshot) = snapshot.as_mut() {
                    snapshot
                        .step()
                        .await
                        .map_err(|source| TaskError::Snapshot {
                            task: reader_name.clone(),
                            source,
                        })?;
                }
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
                if let Some(running) = snapshot.as_mut() {
                    running
                        .merge(&mut batch)
                        .await
                        .map_err(|source| TaskError::Snapshot {
                            task: reader_name.clone(),
                            source,
                        })?;
                    reader_observer.snapshot(running.status());
                    if running.is_done() {
                        // Every chunk is in the stream: its connections can go.
                        snapshot = None;
                    }
                }
                meter.read(batch.len(), source.bytes_read(), source.reconnects());
                if let Some(next) = batch.iter().rev().find_map(Event::resume_position) {
                    sent_resume = next.clone();
                }
                // Past the last transaction sent without a transaction of its own: the
                // checkpoint may follow.
                let passed = (source.resume_position() > &sent_resume)
                    .then(|| source.resume_position().clone());
                if let Some(passed) = &passed {
                    sent_resume = passed.clone();
                }
                if (!batch.is_empty() || passed.is_some())
                    && tx.send(std::mem::take(&mut batch), passed).await.is_err()
                {
                    break;
                }
            }
            Ok(())
        }
        .instrument(tracing::Span::current()),
    );

    let claims = SnapshotClaims {
        ledger: &ledger,
        requests,
    };
    let interval = Duration::from_millis(task.checkpoint_interval_ms);
    let mut last_checkpoint = Instant::now();
    // The last transaction boundary written to the sinks, not yet checkpointed...
    let mut pending: Option<BinlogPosition> = None;
    // ...and whether events after it were written too.
    let mut past_pending = false;
    let mut result = Ok(());
    // Checkpoints the queue running empty asks for are at least this far apart; one held back
    // by it is taken when it ends, unless a batch comes first.
    let idle_gap = interval.min(IDLE_CHECKPOINT_GAP);
    loop {
        let held = pending.is_some() && (!exact || !past_pending);
        let idle_at = tokio::time::Instant::from_std(last_checkpoint + idle_gap);
        let taken = tokio::select! {
            biased;
            _ = shutdown.changed() => None,
            t = rx.take(BATCH_EVENTS) => t.map(Some),
            _ = tokio::time::sleep_until(idle_at), if held => Some(None),
        };
        let Some(taken) = taken else { break };
        // Events past the last transaction boundary, held back while a due checkpoint is taken.
        let mut tail = Vec::new();
        let (mut step, due, taken) = match taken {
            // The gap after the last checkpoint ended with the queue still empty.
            None => (Ok(Delivery::Done), true, None),
            Some(mut taken) => {
                observer.set_queue_batches(rx.batches());
                observer.set_queue_bytes(rx.bytes());
                let mut head = std::mem::take(&mut taken.events);
                // Found before filtering: a DDL the filter drops still moves the checkpoint
                // past it.
                let boundary = last_boundary(&head, taken.passed.take());
                let since = last_checkpoint.elapsed();
                let due = since >= interval || (rx.is_empty() && since >= idle_gap);
                let (ends_past, resume) = match boundary {
                    Some((cut, resume)) => {
                        if due {
                            tail = head.split_off(cut);
                        }
                        (cut < head.len(), Some(resume))
                    }
                    None => (past_pending || !head.is_empty(), None),
                };
                let step =
                    deliver_filtered(&mut sinks, &mut filter, head, &mut shutdown, observer, gate)
                        .await;
                if matches!(step, Ok(Delivery::Done)) {
                    // Only what was delivered may be checkpointed.
                    if resume.is_some() {
                        pending = resume;
                    }
                    past_pending = ends_past;
                }
                (step, due, Some(taken))
            }
        };
        if matches!(step, Ok(Delivery::Done))
            && pending.is_some()
            && due
            && (!exact || !past_pending)
        {
            step = checkpoint_now(
                &mut sinks,
                store,
                claims,
                &mut pending,
                &mut shutdown,
                observer,
                gate,
            )
            .await;
            last_checkpoint = Instant::now();
        }
        if matches!(step, Ok(Delivery::Done)) && !tail.is_empty() {
            past_pending = true;
            step = deliver_filtered(&mut sinks, &mut filter, tail, &mut shutdown, observer, gate)
                .await;
        }
        drop(taken);
        match step {
            Ok(Delivery::Done) => {}
            // Stopping while a sink is down: the batch is not delivered, so the checkpoint
            // stays before it and the next run sends it again.
            Ok(Delivery::Interrupted) => break,
            Ok(Delivery::Fenced) => {
                result = Err(TaskError::Fenced { task: name.clone() });
                break;
            }
            Err(e) => {
                result = Err(e.into_task_error(&name));
                break;
            }
        }
    }
    reader.abort();
    if let Ok(Err(e)) = reader.await {
        result = result.and(Err(e));
    }
    // Whatever was delivered gets checkpointed before the task ends, unless a sink cannot
    // confirm it, or an exactly-once sink holds events past the last boundary (committing
    // them with that boundary would replay them; they are left to be aborted).
    if result.is_ok() && pending.is_some() && (!exact || !past_pending) {
        if let Err(e) = checkpoint_now(
            &mut sinks,
            store,
            claims,
            &mut pending,
            &mut shutdown,
            observer,
            gate,
        )
        .await
        {
            result = Err(e.into_task_error(&name));
        }
    }
    result
}

/// Starts the on-demand snapshot `request` beside the stream: `None` when there is nothing to
/// read (its tables are gone).
async fn start_requested(
    task: &TaskConfig,
    url: &str,
    request: &sluice_core::coordination::SnapshotRequest,
    ledger: &std::sync::Arc<ProgressLedger>,
    requests: &SnapshotRequests,
) -> Result<Option<crate::snapshot::Snapshotter>, TaskError> {
    tracing::info!(request = request.id, tables = %request.tables.join(", "),
        by = %request.requested_by, "Snapshot requested: reading the tables while streaming.");
    let snapshotter = open_requested(task, url, request, ledger.clone()).await?;
    if snapshotter.is_none() {
        tracing::warn!(
            request = request.id,
            "None of the requested tables exists any more; nothing to snapshot."
        );
        requests.cover(request.id);
    }
    Ok(snapshotter)
}

/// Where a checkpoint's snapshot progress comes from, and where the on-demand requests it
/// covers are reported.
#[derive(Clone, Copy)]
struct SnapshotClaims<'a> {
    ledger: &'a ProgressLedger,
    requests: &'a SnapshotRequests,
}

/// Why a delivery step failed.
enum StepError {
    Sink(SinkError),
    Checkpoint(CheckpointError),
}

impl StepError {
    fn into_task_error(self, task: &str) -> TaskError {
        let task = task.to_string();
        match self {
            StepError::Sink(source) => TaskError::Sink { task, source },
            StepError::Checkpoint(source) => TaskError::Checkpoint { task, source },
        }
    }
}

/// Where the checkpoint may move after `events`: the number of events before the last
/// transaction boundary among them (or the position the source `passed` after them, when
/// later), and the position to resume from there.
fn last_boundary(
    events: &[Event],
    passed: Option<(usize, BinlogPosition)>,
) -> Option<(usize, BinlogPosition)> {
    let boundary = events
        .iter()
        .enumerate()
        .rev()
        .find_map(|(k, e)| Some((k + 1, e.resume_position()?.clone())));
    match (boundary, passed) {
        (Some(b), Some(p)) if b.0 > p.0 => Some(b),
        (b, p) => p.or(b),
    }
}

/// Filters `events` and writes what is left to every sink.
async fn deliver_filtered(
    sinks: &mut [Box<dyn Sink>],
    filter: &mut EventFilter,
    mut events: Vec<Event>,
    shutdown: &mut watch::Receiver<bool>,
    observer: &TaskObserver,
    gate: &WriteGate,
) -> Result<Delivery, StepError> {
    filter.apply(&mut events);
    let delivery = deliver(sinks, &events, shutdown, gate)
        .await
        .map_err(StepError::Sink)?;
    if let Delivery::Done = delivery {
        observer.delivered(&events);
    }
    Ok(delivery)
}

/// Commits every sink at `pending`, then records it (with the snapshot progress `ledger` has
/// for it) in the checkpoint file. If stopping
/// interrupts a commit that keeps failing, nothing is recorded: the events are not known to be
/// durable.
async fn checkpoint_now(
    sinks: &mut [Box<dyn Sink>],
    store: &dyn Checkpoints,
    snapshots: SnapshotClaims<'_>,
    pending: &mut Option<BinlogPosition>,
    shutdown: &mut watch::Receiver<bool>,
    observer: &TaskObserver,
    gate: &WriteGate,
) -> Result<Delivery, StepError> {
    let Some(position) = pending.clone() else {
        return Ok(Delivery::Done);
    };
    // Claimed before the commit: a sink that keeps the checkpoint commits the snapshot's
    // progress in the same transaction as the rows it covers.
    let snapshot = snapshots.ledger.claim(&position);
    let committed = SinkCheckpoint { position, snapshot };
    for sink in sinks.iter_mut() {
        match retry(sink.as_mut(), Attempt::Commit(&committed), shutdown, gate).await {
            Ok(Delivery::Done) => {}
            Ok(other) => return Ok(other),
            Err(e) => return Err(StepError::Sink(e)),
        }
    }
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let checkpoint = Checkpoint::kept_by_sink(committed, at_ms);
    if !gate.is_open() {
        return Ok(Delivery::Fenced);
    }
    store
        .save(&checkpoint)
        .await
        .map_err(StepError::Checkpoint)?;
    observer.checkpointed(&checkpoint);
    if let Some(id) = snapshots.ledger.covered_request() {
        snapshots.requests.cover(id);
    }
    *pending = None;
    Ok(Delivery::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::EventKind;

    fn event(kind: EventKind) -> Event {
        Event {
            position: sluice_core::EventPosition {
                file: std::sync::Arc::from("b.000001"),
                pos: 4,
                gtid: None,
                row: 0,
                server_id: 1,
                ts_ms: 0,
            },
            kind,
        }
    }

    fn commit(pos: u64) -> Event {
        event(EventKind::Commit {
            xid: None,
            next: BinlogPosition::new("b.000001", pos),
        })
    }

    #[test]
    fn the_checkpoint_may_move_to_the_later_of_a_commit_and_a_passed_position() {
        let at = |file: &str, pos| BinlogPosition::new(file, pos);
        let events = [
            event(EventKind::Begin),
            commit(100),
            event(EventKind::Begin),
        ];
        // A commit only: cut after it.
        assert_eq!(last_boundary(&events, None), Some((2, at("b.000001", 100))));
        // Passed after the commit (the events before it all came first): the passed one.
        assert_eq!(
            last_boundary(&events[..2], Some((2, at("b.000002", 4)))),
            Some((2, at("b.000002", 4)))
        );
        // Passed before the commit: the commit is later.
        assert_eq!(
            last_boundary(&events, Some((0, at("b.000001", 50)))),
            Some((2, at("b.000001", 100)))
        );
        // Inside an open transaction nothing is passed; without a commit, no boundary.
        assert_eq!(last_boundary(&events[2..], None), None);
        assert_eq!(
            last_boundary(&[], Some((0, at("b.000002", 379)))),
            Some((0, at("b.000002", 379)))
        );
    }

    fn kafka(exactly_once: bool, timeout: Option<&str>) -> KafkaSinkConfig {
        let mut config = serde_json::json!({
            "brokers": "b:9092", "topic": "t", "exactly_once": exactly_once, "properties": {}
        });
        if let Some(ms) = timeout {
            config["properties"]["message.timeout.ms"] = ms.into();
        }
        serde_json::from_value(config).expect("a Kafka sink config")
    }

    fn timeout_of(config: &KafkaSinkConfig) -> Option<&str> {
        config
            .properties
            .get("message.timeout.ms")
            .map(String::as_str)
    }

    #[test]
    fn kafka_messages_expire_within_the_write_lease() {
        let lease = Some(Duration::from_secs(5));
        // Standalone: no lease, the sink's own timeout.
        assert_eq!(
            timeout_of(&kafka_within_lease(&kafka(false, None), None)),
            None
        );
        // Cluster: the lease when shorter than the sink's timeout (5 min, 1 min with
        // exactly-once, or the configured one)...
        for (eos, set) in [(false, None), (true, None), (false, Some("60000"))] {
            let config = kafka_within_lease(&kafka(eos, set), lease);
            assert_eq!(timeout_of(&config), Some("5000"), "{eos} {set:?}");
        }
        // ...and a shorter configured one stays; a long lease changes nothing.
        let short = kafka_within_lease(&kafka(false, Some("2000")), lease);
        assert_eq!(timeout_of(&short), Some("2000"));
        let hour = kafka_within_lease(&kafka(true, None), Some(Duration::from_secs(3600)));
        assert_eq!(timeout_of(&hour), None);
    }
}
