//! `POST /api/v1/tasks/validate[?task=NAME]`: a task config checked exactly as a create or
//! update would check it, and nothing stored. The web UI's editor calls it as the user types,
//! to show each field's problem beside the field. With `?task=NAME`, secrets written `***` or
//! left out are taken from that stored task, as an update would keep them.

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::tasks::validated_against;
use super::{ApiError, AppState, Caller};

#[derive(Deserialize)]
pub struct ValidateQuery {
    task: Option<String>,
}

/// `200 {"valid": true, "name"}`, or `422` with every problem by field. Any logged-in user may
/// ask: it changes nothing and reaches no service.
pub async fn validate(
    State(state): State<AppState>,
    _caller: Caller,
    Query(query): Query<ValidateQuery>,
    text: String,
) -> Result<Json<Value>, ApiError> {
    let (_, task) = validated_against(&state, query.task.as_deref(), &text).await?;
    Ok(Json(json!({ "valid": true, "name": task.name })))
}
