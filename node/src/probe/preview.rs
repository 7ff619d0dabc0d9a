//! A preview: the events a task would deliver, read live. A short-lived replication stream
//! from the server's current binlog end (or the config's `start`), decoded and filtered as the
//! task would, kept to row and DDL events (transaction markers left out).
//!
//! The stream registers with a server id of its own, drawn from [`PREVIEW_SERVER_IDS`]: with
//! the task's id, the server would drop the running task's stream (it keeps one stream per
//! replica id).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sluice_core::config::{StartFrom, TaskConfig};
use sluice_core::filter::EventFilter;
use sluice_core::EventKind;
use sluice_manager::probe::{Preview, ProbeError};
use tokio::time::Instant;

use super::{mysql_url, source_label};
use crate::error::SourceError;
use crate::source::{BinlogSource, SourceSettings, StartPosition};

/// The replica ids previews register with: high, where operators rarely number servers.
pub const PREVIEW_SERVER_IDS: Range<u32> = 4_290_000_000..4_294_000_000;
/// The idle stream's heartbeat: a dead link shows within three of them.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Up to `limit` events that arrive within `wait` once the stream is open (which may take
/// `open_within`).
pub async fn preview(
    task: &TaskConfig,
    limit: usize,
    wait: Duration,
    open_within: Duration,
) -> Result<Preview, ProbeError> {
    let mut filter = EventFilter::new(&task.filters).map_err(|e| ProbeError::Config {
        field: "filters".into(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let start = start_position(task)?;
    let label = source_label(task);
    let settings = SourceSettings {
        name: label.clone(),
        url: mysql_url(task),
        server_id: preview_server_id(),
        start,
        until: None,
        heartbeat: HEARTBEAT,
        max_backoff: HEARTBEAT,
        retry_at_start: false,
    };
    let mut source = tokio::time::timeout(open_within, BinlogSource::open(settings))
        .await
        .map_err(|_| {
            ProbeError::Source(format!(
                "source {label}: no answer within {} ms (connecting, logging in, opening the \
                 binlog stream): check the host, the port and the firewall",
                open_within.as_millis()
            ))
        })?
        .map_err(source_error)?;
    let from = match source.resume_position() {
        p if p.file.is_empty() => task.source.start.clone(),
        p => p.to_string(),
    };

    let started = Instant::now();
    let deadline = started + wait;
    let mut batch = Vec::new();
    let mut events = Vec::new();
    let mut text = Vec::new();
    while events.len() < limit {
        match tokio::time::timeout_at(deadline, source.next_events(&mut batch)).await {
            Err(_) | Ok(Ok(false)) => break,
            Ok(Ok(true)) => {}
            Ok(Err(e)) => return Err(source_error(e)),
        }
        filter.apply(&mut batch);
        for event in batch.drain(..) {
            if events.len() == limit
                || !matches!(event.kind, EventKind::Row(_) | EventKind::Ddl { .. })
            {
                continue;
            }
            text.clear();
            sluice_core::json::write_event(&mut text, &event);
            let json = serde_json::from_slice(&text).map_err(|e| {
                ProbeError::Source(format!(
                    "source {label}: the event at {}:{} does not encode as JSON: {e}",
                    event.position.file, event.position.pos
                ))
            })?;
            events.push(json);
        }
    }
    Ok(Preview {
        complete: events.len() >= limit,
        events,
        from,
        waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// The config's `start` (validated already, so a parse error is reported rather than expected).
fn start_position(task: &TaskConfig) -> Result<StartPosition, ProbeError> {
    match task.source.start_from() {
        Ok(StartFrom::Current) => Ok(StartPosition::Current),
        Ok(StartFrom::Earliest) => Ok(StartPosition::Earliest),
        Ok(StartFrom::Binlog(p)) => Ok(StartPosition::Binlog(p)),
        Ok(StartFrom::Gtid(g)) => Ok(StartPosition::Gtid(g)),
        Err(message) => Err(ProbeError::Config {
            field: "source.start".into(),
            message,
        }),
    }
}

/// A start the server does not have is the config's fault; anything else, the source's.
fn source_error(e: SourceError) -> ProbeError {
    match e {
        SourceError::PositionPurged { .. } | SourceError::BadStartPosition { .. } => {
            ProbeError::Config {
                field: "source.start".into(),
                message: e.to_string(),
            }
        }
        e => ProbeError::Source(e.to_string()),
    }
}

/// A replica id from [`PREVIEW_SERVER_IDS`], different for each preview of this process and
/// unpredictable across processes (two managers previewing at once).
fn preview_server_id() -> u32 {
    static N: AtomicU64 = AtomicU64::new(0);
    let draw = RandomState::new().hash_one(N.fetch_add(1, Ordering::Relaxed));
    let span = u64::from(PREVIEW_SERVER_IDS.end - PREVIEW_SERVER_IDS.start);
    PREVIEW_SERVER_IDS.start + u32::try_from(draw % span).unwrap_or(0)
}
