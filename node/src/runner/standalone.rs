//! Standalone mode: every task of a config in this process, stopped cleanly by Ctrl-C/SIGTERM,
//! with the HTTP endpoints (`/metrics`, `/health`, `/status`) when `[http]` is configured.

use sluice_core::config::Config;

use super::checkpoint::CheckpointStore;
use super::task::{run_task, TaskError};
use crate::telemetry::{HttpError, HttpServer, Telemetry};

/// Why standalone mode ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    #[error("{} task(s) failed: {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Tasks(Vec<TaskError>),
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Runs all tasks until a shutdown signal; returns the tasks' definite errors, if any. The HTTP
/// server is bound first: an address already in use stops the start, before any task runs.
pub async fn run_standalone(config: Config) -> Result<(), StandaloneError> {
    let telemetry = Telemetry::default();
    let server = match &config.http {
        Some(http) => Some(
            HttpServer::bind(&http.listen, telemetry.clone())
                .await?
                .spawn(),
        ),
        None => None,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    for task in config.tasks {
        let name = task.name.clone();
        let observer = telemetry.task(&task);
        let checkpoints = std::sync::Arc::new(CheckpointStore::new(&config.data_dir, &name));
        let run = run_task(
            task,
            checkpoints,
            stop_rx.clone(),
            observer.clone(),
            super::WriteGate::always_open(),
            // No manager, no API: snapshots are initial only.
            super::SnapshotRequests::none(),
        );
        let ends = observer.clone();
        let handle = tokio::spawn(async move {
            let result = run.await;
            ends.ended(result.as_ref().err().map(ToString::to_string));
            result
        });
        handles.push((name, observer, handle));
    }
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("Shutting down: flushing sinks and writing checkpoints.");
        let _ = stop_tx.send(true);
    });
    let mut errors = Vec::new();
    for (name, observer, handle) in handles {
        match handle.await {
            Ok(Ok(())) => tracing::info!(task = %name, "Task stopped."),
            Ok(Err(e)) => {
                tracing::error!(task = %name, error = %e, "Task failed.");
                errors.push(e);
            }
            Err(e) => {
                tracing::error!(task = %name, error = %e, "Task panicked.");
                observer.ended(Some(format!("task {name} panicked: {e}")));
            }
        }
    }
    if let Some(server) = server {
        server.abort();
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StandaloneError::Tasks(errors))
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
