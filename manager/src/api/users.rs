//! `GET /api/v1/users` and `POST /api/v1/users` (admin): the users and their roles, never
//! their password hashes; `PUT /api/v1/users/{name}/password` (your own with the current
//! password, anyone's as an admin: every token of the user is revoked) and
//! `DELETE /api/v1/users/{name}` (admin; never the last admin).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{body, ApiError, AppState, Caller};
use crate::auth::{hash_password, verify_password};
use crate::store::{now_ms, AuditEntry, Role, UserRecord};

#[derive(Serialize)]
pub struct UserView {
    name: String,
    role: Role,
    created_at_ms: i64,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        UserView {
            name: u.name,
            role: u.role,
            created_at_ms: u.created_at_ms,
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let users = state.store.list_users().await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    password: String,
    role: Role,
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    text: String,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    caller.require_admin("creating a user")?;
    let new: NewUser = body::parse(&text)?;
    let name_ok = !new.name.is_empty()
        && new.name.len() <= 64
        && new
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    let mut errors = Vec::new();
    if !name_ok {
        errors.push(sluice_core::config::FieldError {
            field: "name".into(),
            value: Some(new.name.clone()),
            message: "a user name is 1-64 letters, digits, `-`, `_`, `.` or `@`".into(),
        });
    }
    errors.extend(password_problem(&new.password));
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let password_hash = hashed(new.password).await?;
    let at_ms = now_ms();
    let user = UserRecord {
        name: new.name,
        password_hash,
        role: new.role,
        created_at_ms: at_ms,
    };
    let audit = AuditEntry {
        actor: caller.name.clone(),
        action: "user.create",
        task: None,
        summary: format!(
            "user `{}` created with role {}",
            user.name,
            user.role.as_str()
        ),
        at_ms,
    };
    state.store.create_user(&user, &audit).await?;
    tracing::info!(user = %user.name, "User `{}` created by `{}`.", user.name, caller.name);
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// What is wrong with a new password, if anything.
fn password_problem(password: &str) -> Option<sluice_core::config::FieldError> {
    (password.chars().count() < 8).then(|| sluice_core::config::FieldError {
        field: "password".into(),
        value: None,
        message: "a password has at least 8 characters".into(),
    })
}

/// argon2 takes tens of milliseconds of CPU on purpose: off the async workers.
async fn hashed(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("hashing the password failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
    /// Needed to change your own password (a stolen token alone must not be enough).
    #[serde(default)]
    current_password: Option<String>,
}

/// `PUT /api/v1/users/{name}/password {"password", "current_password"}`.
pub async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    text: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    let own = caller.name == name;
    if !own {
        caller.require_admin("changing another user's password")?;
    }
    let new: NewPassword = body::parse(&text)?;
    if let Some(problem) = password_problem(&new.password) {
        return Err(ApiError::Invalid(vec![problem]));
    }
    let not_found = || ApiError::NotFound(format!("user {name} not found"));
    if own {
        let stored = state.store.find_user(&name).await?.ok_or_else(not_found)?;
        let current = new.current_password.clone().unwrap_or_default();
        let matches =
            tokio::task::spawn_blocking(move || verify_password(&current, &stored.password_hash))
                .await
                .map_err(|e| ApiError::Internal(format!("checking the password failed: {e}")))?;
        if !matches {
            return Err(ApiError::Invalid(vec![sluice_core::config::FieldError {
                field: "current_password".into(),
                value: None,
                message: "to change your own password, give your current one; it does not match"
                    .into(),
            }]));
        }
    }
    let password_hash = hashed(new.password).await?;
    let audit = AuditEntry {
        actor: caller.name.clone(),
        action: "user.password",
        task: None,
        summary: format!("password of user `{name}` changed; its tokens revoked"),
        at_ms: now_ms(),
    };
    if !state
        .store
        .set_password(&name, &password_hash, &audit)
        .await?
    {
        return Err(not_found());
    }
    tracing::info!(user = %name, "Password of user `{name}` changed by `{}`.", caller.name);
    Ok(Json(
        serde_json::json!({ "name": name, "tokens_revoked": true }),
    ))
}

/// `DELETE /api/v1/users/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require_admin("deleting a user")?;
    let audit = AuditEntry {
        actor: caller.name.clone(),
        action: "user.delete",
        task: None,
        summary: format!("user `{name}` deleted"),
        at_ms: now_ms(),
    };
    if !state.store.delete_user(&name, &audit).await? {
        return Err(ApiError::NotFound(format!("user {name} not found")));
    }
    tracing::info!(user = %name, "User `{name}` deleted by `{}`.", caller.name);
    Ok(Json(serde_json::json!({ "name": name, "deleted": true })))
}
