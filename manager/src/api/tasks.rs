//! Tasks: list, get, create, update, delete, pause and resume, and their config revisions.
//!
//! A task's body in requests is its config as JSON (the fields of a `[[tasks]]` table of the
//! TOML file). Responses never show a secret (see `secrets.rs`); write responses say whether the
//! coordinator took the change (`published_revision`, `publish_error`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use sluice_core::config::{FieldError, TaskConfig};
use sluice_core::coordination::DesiredState;

use super::{ApiError, AppState, Caller};
use crate::secrets::{keep_stored_secrets, redacted};
use crate::store::{now_ms, AuditEntry, RevisionRecord, TaskRecord};

/// A task as the API shows it.
#[derive(Serialize)]
pub struct TaskView {
    name: String,
    revision: u64,
    /// The last revision the coordinator accepted; behind `revision` while it was away.
    published_revision: u64,
    desired: DesiredState,
    published_desired: Option<DesiredState>,
    /// The config, secrets shown as `***`.
    config: Value,
    created_at_ms: i64,
    updated_at_ms: i64,
    /// Write responses only: why the change has not reached the coordinator yet (it is
    /// retried in the background).
    #[serde(skip_serializing_if = "Option::is_none")]
    publish_error: Option<String>,
}

impl TaskView {
    fn of(task: &TaskRecord, publish_error: Option<String>) -> TaskView {
        TaskView {
            name: task.name.clone(),
            revision: task.revision,
            published_revision: task.published_revision,
            desired: task.desired,
            published_desired: task.published_desired,
            config: redacted(&task.config),
            created_at_ms: task.created_at_ms,
            updated_at_ms: task.updated_at_ms,
            publish_error,
        }
    }
}

fn not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("task {name} not found"))
}

/// Validates a config body: secrets merged with the stored ones (`stored` for an update),
/// then the same checks as a config file. Returns the config to store and its parsed form.
pub(super) fn validated(
    text: &str,
    stored: Option<&Value>,
) -> Result<(Value, TaskConfig), ApiError> {
    let mut config: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::field("(top level)", None, e.to_string()))?;
    let mut errors: Vec<FieldError> = keep_stored_secrets(&mut config, stored);
    match TaskConfig::from_json(&config.to_string()) {
        Ok(task) if errors.is_empty() => Ok((config, task)),
        Ok(_) => Err(ApiError::Invalid(errors)),
        Err(e) => {
            errors.extend(e.0);
            Err(ApiError::Invalid(errors))
        }
    }
}

/// [`validated`] with the secrets of stored task `from` (`?task=NAME`) filling the ones the
/// body writes `***` or leaves out, as an update would keep them; 404 if it does not exist.
pub(super) async fn validated_against(
    state: &AppState,
    from: Option<&str>,
    text: &str,
) -> Result<(Value, TaskConfig), ApiError> {
    let stored = match from {
        Some(name) => Some(
            state
                .store
                .get_task(name)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("task {name} not found (?task=)")))?
                .config,
        ),
        None => None,
    };
    validated(text, stored.as_ref())
}

/// Stores nothing new: publishes the stored task and reads it back with the outcome.
async fn publish_and_view(state: &AppState, name: &str) -> Result<TaskView, ApiError> {
    let error = state.publisher.sync(name).await.err();
    let task = state
        .store
        .get_task(name)
        .await?
        .ok_or_else(|| not_found(name))?;
    Ok(TaskView::of(&task, error))
}

pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<TaskView>>, ApiError> {
    let tasks = state.store.list_tasks().await?;
    Ok(Json(tasks.iter().map(|t| TaskView::of(t, None)).collect()))
}

pub async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let task = state
        .store
        .get_task(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(Json(TaskView::of(&task, None)))
}

/// `POST /api/v1/tasks`: a new task at revision 1, desired state `running`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    text: String,
) -> Result<(StatusCode, Json<TaskView>), ApiError> {
    caller.require_admin("creating a task")?;
    let (config, task) = validated(&text, None)?;
    let audit = AuditEntry {
        actor: caller.name.clone(),
        action: "task.create",
        task: Some(task.name.clone()),
        summary: format!("created at revision 1 with sinks {}", sink_names(&task)),
        at_ms: now_ms(),
    };
    state
        .store
        .create_task(&task.name, &config, DesiredState::Running, &audit)
        .await?;
    tracing::info!(task = %task.name, "Task `{}` created by `{}`.", task.name, caller.name);
    Ok((
        StatusCode::CREATED,
        Json(publish_and_view(&state, &task.name).await?),
    ))
}

/// `PUT /api/v1/tasks/{name}`: a new config; the revision grows by one (unless nothing
/// changed). Secrets left out keep their stored values.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    text: String,
) -> Result<Json<TaskView>, ApiError> {
    caller.require_admin("updating a task")?;
    let stored = state
        .store
        .get_task(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    let (config, task) = validated(&text, Some(&stored.config))?;
    if task.name != name {
        return Err(ApiError::field(
            "name",
            Some(task.name),
            format!("a task cannot be renamed: the name must stay {name:?}"),
        ));
    }
    if config == stored.config {
        return Ok(Json(publish_and_view(&state, &name).await?));
    }
    let revision = stored.revision + 1;
    let audit = AuditEntry {
        actor: caller.name.clone(),
        action: "task.update",
        task: Some(name.clone()),
        summary: format!(
            "revision {revision}: changed {}",
            changed_fields(&stored.config, &config)
        ),
        at_ms: now_ms(),
    };
    state
        .store
        .update_task(&name, stored.revision, &config, &audit)
        .await?
        .ok_or_else(|| not_found(&name))?;
    tracing::info!(task = %name, revision, "Task `{name}` updated to revision {revision} by `{}`.", caller.name);
    Ok(Json(publish_and_view(&state, &name).await?))
}

/// `DELETE /api/v1/tasks/{name}`: removed here at once, from the coordinator as soon as it
/// answers.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("deleting a task")?;
    let audit = AuditEntry {
        actor: caller.name.clone(),
        action: "task.delete",
        task: Some(name.clone()),
        summary: "deleted".into(),
        at_ms: now_ms(),
    };
    if !state.store.delete_task(&name, &audit).await? {
        return Err(not_found(&name));
    }
    tracing::info!(task = %name, "Task `{name}` deleted by `{}`.", caller.name);
    let error = state.publisher.sync(&name).await.err();
    Ok(Json(serde_json::json!({
        "name": name,
        "deleted": true,
        "removed_from_coordinator": error.is_none(),
        "publish_error": error,
    })))
}

pub async fn pause(
    state: State<AppState>,
    caller: Caller,
    name: Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    set_desired(state, caller, name, DesiredState::Paused).await
}

pub async fn resume(
    state: State<AppState>,
    caller: Caller,
    name: Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    set_desired(state, caller, name, DesiredState::Running).await
}

async fn set_desired(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    desired: DesiredState,
) -> Result<Json<TaskView>, ApiError> {
    let (action, verb) = match desired {
        DesiredState::Paused => ("task.pause", "pausing"),
        _ => ("task.resume", "resuming"),
    };
    caller.require_admin(&format!("{verb} a task"))?;
    let audit = AuditEntry {
        actor: caller.name.clone(),
        action,
        task: Some(name.clone()),
        summary: format!(
            "desired state set to {}",
            crate::store::desired_str(desired)
        ),
        at_ms: now_ms(),
    };
    state
        .store
        .set_desired(&name, desired, &audit)
        .await?
        .ok_or_else(|| not_found(&name))?;
    tracing::info!(task = %name, "Task `{name}`: {verb} asked by `{}`.", caller.name);
    Ok(Json(publish_and_view(&state, &name).await?))
}

#[derive(Serialize)]
pub struct RevisionView {
    task: String,
    revision: u64,
    author: String,
    created_at_ms: i64,
    /// `GET .../revisions/{revision}` only; secrets shown as `***`.
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<Value>,
}

impl RevisionView {
    fn of(r: RevisionRecord, with_config: bool) -> RevisionView {
        RevisionView {
            config: with_config.then(|| redacted(&r.config)),
            task: r.task,
            revision: r.revision,
            author: r.author,
            created_at_ms: r.created_at_ms,
        }
    }
}

/// `GET /api/v1/tasks/{name}/revisions`: newest first, without their configs.
pub async fn revisions(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Vec<RevisionView>>, ApiError> {
    if state.store.get_task(&name).await?.is_none() {
        return Err(not_found(&name));
    }
    let revisions = state.store.list_revisions(&name).await?;
    Ok(Json(
        revisions
            .into_iter()
            .map(|r| RevisionView::of(r, false))
            .collect(),
    ))
}

pub async fn revision(
    State(state): State<AppState>,
    _caller: Caller,
    Path((name, revision)): Path<(String, u64)>,
) -> Result<Json<RevisionView>, ApiError> {
    let found = state.store.get_revision(&name, revision).await?;
    let r = found
        .ok_or_else(|| ApiError::NotFound(format!("task {name} has no revision {revision}")))?;
    Ok(Json(RevisionView::of(r, true)))
}

fn sink_names(task: &TaskConfig) -> String {
    task.sinks
        .iter()
        .map(|s| format!("`{}`", s.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The top-level fields that differ, by name only (values may be secrets).
fn changed_fields(old: &Value, new: &Value) -> String {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return "the config".into();
    };
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let changed: Vec<&str> = keys
        .into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(String::as_str)
        .collect();
    changed.join(", ")
}
