//! `GET /api/v1/audit?task=NAME&limit=N`: who changed what and when, newest first.

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppState, Caller};
use crate::store::AuditRecord;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

#[derive(Deserialize)]
pub struct AuditQuery {
    task: Option<String>,
    limit: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            Some(limit.to_string()),
            format!("the limit is 1 to {MAX_LIMIT}"),
        ));
    }
    let entries = state.store.list_audit(query.task.as_deref(), limit).await?;
    Ok(Json(entries))
}
