//! The REST API under `/api/v1`. Reads need a logged-in user (`Authorization: Bearer TOKEN`
//! from `POST /api/v1/login`), writes an admin. Errors are JSON: `{"error": "..."}`, or
//! `{"errors": [{"field", "value", "message"}]}` (422) for a config that does not validate.

mod audit;
mod body;
mod cluster;
mod error;
mod openapi;
mod overview;
mod probe;
mod session;
mod snapshot;
mod stream;
mod tasks;
mod users;
mod validate;

use std::sync::Arc;

use axum::routing::{delete, get, post, put};
use axum::Router;
use sluice_core::coordination::Coordinator;

pub use error::ApiError;
pub use session::Caller;

use crate::probe::TaskProbe;
use crate::publish::Publisher;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub coordinator: Arc<dyn Coordinator>,
    pub publisher: Arc<Publisher>,
    /// Connection tests and previews; `None` answers 501.
    pub probe: Option<Arc<dyn TaskProbe>>,
}

/// Every route, as (method, path in OpenAPI form): the OpenAPI test checks each is documented
/// and answered.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/login"),
    ("post", "/api/v1/logout"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("delete", "/api/v1/users/{name}"),
    ("put", "/api/v1/users/{name}/password"),
    ("get", "/api/v1/tasks"),
    ("post", "/api/v1/tasks"),
    ("post", "/api/v1/tasks/validate"),
    ("get", "/api/v1/tasks/{name}"),
    ("put", "/api/v1/tasks/{name}"),
    ("delete", "/api/v1/tasks/{name}"),
    ("post", "/api/v1/tasks/{name}/pause"),
    ("post", "/api/v1/tasks/{name}/resume"),
    ("post", "/api/v1/tasks/{name}/restart"),
    ("post", "/api/v1/tasks/{name}/snapshot"),
    ("get", "/api/v1/tasks/{name}/status"),
    ("get", "/api/v1/tasks/{name}/revisions"),
    ("get", "/api/v1/tasks/{name}/revisions/{revision}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/nodes"),
    ("get", "/api/v1/overview"),
    ("get", "/api/v1/stream"),
    ("post", "/api/v1/connections/test"),
    ("post", "/api/v1/preview"),
];

/// The API's routes.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(openapi::document))
        .route("/login", post(session::login))
        .route("/logout", post(session::logout))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{name}", delete(users::delete))
        .route("/users/{name}/password", put(users::set_password))
        .route("/tasks", get(tasks::list).post(tasks::create))
        .route("/tasks/validate", post(validate::validate))
        .route(
            "/tasks/{name}",
            get(tasks::get).put(tasks::update).delete(tasks::delete),
        )
        .route("/tasks/{name}/pause", post(tasks::pause))
        .route("/tasks/{name}/resume", post(tasks::resume))
        .route("/tasks/{name}/restart", post(cluster::restart))
        .route("/tasks/{name}/snapshot", post(snapshot::request))
        .route("/tasks/{name}/status", get(cluster::status))
        .route("/tasks/{name}/revisions", get(tasks::revisions))
        .route("/tasks/{name}/revisions/{revision}", get(tasks::revision))
        .route("/audit", get(audit::list))
        .route("/nodes", get(cluster::nodes))
        .route("/overview", get(overview::overview))
        .route("/stream", get(stream::stream))
        .route("/connections/test", post(probe::test_connections))
        .route("/preview", post(probe::preview))
        .fallback(error::not_found);
    Router::new().nest("/api/v1", api).with_state(state)
}
