//! Logging in (`POST /api/v1/login`) and who is calling: the bearer token of every other
//! request, resolved to its user and role.

use std::sync::OnceLock;

use axum::extract::{FromRequestParts, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{body, ApiError, AppState};

use crate::auth::{hash_password, new_token, token_digest, verify_password, TOKEN_TTL_MS};
use crate::store::{now_ms, Role};

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The digest of the token the request came with (what logging out revokes).
    pub token_hash: String,
}

impl Caller {
    /// Refuses a viewer (403): the request changes something.
    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Viewer => Err(ApiError::Forbidden(format!(
                "user {} is a viewer: {what} needs the admin role",
                self.name
            ))),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "no Authorization header: log in with POST /api/v1/login and send \
                     `Authorization: Bearer TOKEN`"
                        .into(),
                )
            })?
            .to_str()
            .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".into()))?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header is not `Bearer TOKEN`".into())
            })?;
        let token_hash = token_digest(token);
        let user = state
            .store
            .user_for_token(&token_hash, now_ms())
            .await?
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "the token is unknown or expired: log in again with POST /api/v1/login".into(),
                )
            })?;
        Ok(Caller {
            name: user.name,
            role: user.role,
            token_hash,
        })
    }
}

/// `POST /api/v1/logout`: the token of the request stops working at once.
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.delete_token(&caller.token_hash).await?;
    tracing::info!(user = %caller.name, "User `{}` logged out.", caller.name);
    Ok(Json(
        serde_json::json!({ "user": caller.name, "logged_out": true }),
    ))
}

/// A hash no password matches, checked for unknown users.
fn unknown_user_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(&new_token()).unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    user: String,
    password: String,
}

#[derive(Serialize)]
pub struct LoginResponse {
    token: String,
    user: String,
    role: Role,
    expires_at_ms: i64,
}

/// `POST /api/v1/login {"user", "password"}`: a bearer token for 12 hours.
pub async fn login(
    State(state): State<AppState>,
    text: String,
) -> Result<Json<LoginResponse>, ApiError> {
    let login: Login = body::parse(&text)?;
    let refused = || ApiError::Unauthorized("wrong user name or password".into());
    let user = state.store.find_user(&login.user).await?;
    // An unknown user costs the same hash as a known one, so the answer's timing does not tell
    // which user names exist.
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    // argon2 takes tens of milliseconds of CPU on purpose: off the async workers.
    let password = login.password;
    let matches = tokio::task::spawn_blocking(move || match &hash {
        Some(hash) => verify_password(&password, hash),
        None => verify_password(&password, unknown_user_hash()),
    })
    .await
    .map_err(|e| ApiError::Internal(format!("checking the password failed: {e}")))?;
    let user = match user {
        Some(user) if matches => user,
        Some(user) => {
            tracing::info!(user = %user.name, "Login refused for user `{}`: wrong password.", user.name);
            return Err(refused());
        }
        None => {
            tracing::info!(user = %login.user, "Login refused for unknown user `{}`.", login.user);
            return Err(refused());
        }
    };
    let token = new_token();
    let now = now_ms();
    let expires_at_ms = now + TOKEN_TTL_MS;
    state
        .store
        .insert_token(&token_digest(&token), &user.name, now, expires_at_ms)
        .await?;
    tracing::info!(user = %user.name, "User `{}` logged in.", user.name);
    Ok(Json(LoginResponse {
        token,
        user: user.name,
        role: user.role,
        expires_at_ms,
    }))
}
