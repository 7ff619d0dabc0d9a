//! The API's errors, each with its HTTP status and a JSON body that says what failed.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use sluice_core::config::FieldError;
use sluice_core::coordination::CoordinationError;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A request body that does not validate: every problem, by field.
    #[error("invalid request: {} problem(s)", .0.len())]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    CoordinatorUnavailable(String),
    /// A service the request names (a task's source) failed or refused.
    #[error("{0}")]
    BadGateway(String),
    /// This manager cannot do what the route asks (no probe was given to it).
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::TaskExists { .. }
            | StoreError::TaskBeingRemoved { .. }
            | StoreError::RevisionConflict { .. }
            | StoreError::UserExists { .. }
            | StoreError::LastAdmin { .. } => ApiError::Conflict(e.to_string()),
            _ => {
                tracing::error!("Request failed: {e}");
                ApiError::Internal(e.to_string())
            }
        }
    }
}

impl ApiError {
    /// A coordinator read that failed (status, nodes).
    pub fn coordinator(what: &str, e: &CoordinationError) -> ApiError {
        ApiError::CoordinatorUnavailable(format!("{what}: {e}"))
    }

    /// One field error.
    pub fn field(field: &str, value: Option<String>, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(vec![FieldError {
            field: field.into(),
            value,
            message: message.into(),
        }])
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::CoordinatorUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self {
            ApiError::Invalid(errors) => json!({
                "errors": errors
                    .iter()
                    .map(|e| json!({"field": e.field, "value": e.value, "message": e.message}))
                    .collect::<Vec<_>>()
            }),
            other => json!({ "error": other.to_string() }),
        };
        (self.status(), Json(body)).into_response()
    }
}

/// Any path under `/api/v1` that is not a route.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no such API route: {}", uri.path()))
}
