//! `POST /api/v1/connections/test` and `POST /api/v1/preview`: a task config (the body of
//! `POST /api/v1/tasks`, validated the same way) tried against the services it names, before
//! it is saved. Admin only: the manager connects wherever the body says.
//!
//! With `?task=NAME`, secrets written `***` or left out are taken from that stored task, as an
//! update would keep them (`secrets.rs`), so a config read from `GET` can be tried as edited.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;

use super::tasks::validated_against;
use super::{ApiError, AppState, Caller};
use crate::probe::{ConnectionReport, Preview, ProbeError, TaskProbe};

const DEFAULT_LIMIT: u64 = 5;
const MAX_LIMIT: u64 = 50;
const DEFAULT_WAIT_MS: u64 = 10_000;
const MAX_WAIT_MS: u64 = 30_000;

/// The query of both routes; numbers kept as text so a bad one is a field error of ours.
#[derive(Deserialize)]
pub struct ProbeQuery {
    /// A stored task whose secrets fill the ones the body leaves out.
    task: Option<String>,
    limit: Option<String>,
    wait_ms: Option<String>,
}

pub async fn test_connections(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ProbeQuery>, QueryRejection>,
    text: String,
) -> Result<Json<ConnectionReport>, ApiError> {
    caller.require_admin("testing a task's connections")?;
    let probe = probe_of(&state)?;
    let Query(query) = query.map_err(query_error)?;
    let (_, task) = validated_against(&state, query.task.as_deref(), &text).await?;
    let report = probe.test_connections(&task).await;
    let failed =
        report.sinks.iter().filter(|s| !s.outcome.ok).count() + usize::from(!report.source.ok);
    tracing::info!(task = %task.name, failed, "Connections of task `{}` tested by `{}`: {failed} failed.", task.name, caller.name);
    Ok(Json(report))
}

pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ProbeQuery>, QueryRejection>,
    text: String,
) -> Result<Json<Preview>, ApiError> {
    caller.require_admin("previewing a task's events")?;
    let probe = probe_of(&state)?;
    let Query(query) = query.map_err(query_error)?;
    let limit = bounded(
        "limit",
        query.limit.as_deref(),
        DEFAULT_LIMIT,
        1..=MAX_LIMIT,
    )?;
    let wait_ms = bounded(
        "wait_ms",
        query.wait_ms.as_deref(),
        DEFAULT_WAIT_MS,
        0..=MAX_WAIT_MS,
    )?;
    let (_, task) = validated_against(&state, query.task.as_deref(), &text).await?;
    let started = Instant::now();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let preview = probe
        .preview(&task, limit, Duration::from_millis(wait_ms))
        .await
        .map_err(|e| match e {
            ProbeError::Source(message) => ApiError::BadGateway(message),
            ProbeError::Config { field, message } => ApiError::field(&field, None, message),
        })?;
    tracing::info!(task = %task.name, events = preview.events.len(), "Task `{}` previewed by `{}`: {} event(s) in {} ms.", task.name, caller.name, preview.events.len(), started.elapsed().as_millis());
    Ok(Json(preview))
}

fn probe_of(state: &AppState) -> Result<Arc<dyn TaskProbe>, ApiError> {
    state.probe.clone().ok_or_else(|| {
        ApiError::NotImplemented(
            "this manager cannot reach sources and sinks (it was started without a probe): \
             connection tests and previews are not available"
                .into(),
        )
    })
}

fn query_error(e: QueryRejection) -> ApiError {
    ApiError::field("(query)", None, e.body_text())
}

/// A query number within `allowed`, `default` when absent; a field error naming the range
/// otherwise.
fn bounded(
    field: &str,
    given: Option<&str>,
    default: u64,
    allowed: std::ops::RangeInclusive<u64>,
) -> Result<u64, ApiError> {
    let Some(text) = given else {
        return Ok(default);
    };
    match text.trim().parse::<u64>() {
        Ok(n) if allowed.contains(&n) => Ok(n),
        _ => Err(ApiError::field(
            field,
            Some(text.to_string()),
            format!(
                "{field} is a whole number from {} to {} (default {default})",
                allowed.start(),
                allowed.end()
            ),
        )),
    }
}
