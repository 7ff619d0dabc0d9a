//! The HTTP endpoints of a node (config `[http] listen`):
//!
//! - `GET /metrics`: every metric, in the OpenMetrics text format Prometheus scrapes.
//! - `GET /health`: `200 ok` while every task is starting or running; `503` with the reason
//!   (one line per task) once a task failed or stopped.
//! - `GET /status`: JSON, `{"tasks": [...]}` as [`super::TaskStatus`] describes.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::metrics::CONTENT_TYPE;
use super::status::TaskStatus;
use super::Telemetry;

/// Why the HTTP server could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    // Not a `source`: the message already says it, and `{e:#}` would print it twice.
    #[error("http.listen = {addr:?}: cannot listen there: {error}")]
    Bind { addr: String, error: std::io::Error },
}

/// A bound, not yet serving, HTTP server.
pub struct HttpServer {
    listener: TcpListener,
    addr: SocketAddr,
    telemetry: Telemetry,
}

impl HttpServer {
    /// Binds `listen` (`HOST:PORT`; port 0 picks a free port) and logs the address bound.
    pub async fn bind(listen: &str, telemetry: Telemetry) -> Result<HttpServer, HttpError> {
        let bind_err = |error| HttpError::Bind {
            addr: listen.to_string(),
            error,
        };
        let listener = TcpListener::bind(listen).await.map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        tracing::info!(%addr, "HTTP listening on {addr} (/metrics, /health, /status).");
        Ok(HttpServer {
            listener,
            addr,
            telemetry,
        })
    }

    /// The address bound (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until the returned task is aborted (or dropped with the runtime).
    pub fn spawn(self) -> JoinHandle<()> {
        let router = Router::new()
            .route("/metrics", get(metrics))
            .route("/health", get(health))
            .route("/status", get(status))
            .with_state(self.telemetry);
        let addr = self.addr;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(self.listener, router).await {
                tracing::error!(%addr, error = %e, "The HTTP server on {addr} stopped.");
            }
        })
    }
}

async fn metrics(State(t): State<Telemetry>) -> Response {
    match t.metrics().encode() {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the metrics: {e}\n"),
        )
            .into_response(),
    }
}

async fn health(State(t): State<Telemetry>) -> Response {
    match t.health() {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

#[derive(Serialize)]
struct StatusBody {
    tasks: Vec<TaskStatus>,
}

async fn status(State(t): State<Telemetry>) -> Json<StatusBody> {
    Json(StatusBody { tasks: t.status() })
}
