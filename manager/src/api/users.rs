//! `GET /api/v1/users` and `POST /api/v1/users` (admin): the users and their roles, never
//! their password hashes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{body, ApiError, AppState, Caller};
use crate::auth::hash_password;
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
    if new.password.chars().count() < 8 {
        errors.push(sluice_core::config::FieldError {
            field: "password".into(),
            value: None,
            message: "a password has at least 8 characters".into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let password = new.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("hashing the password failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
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
