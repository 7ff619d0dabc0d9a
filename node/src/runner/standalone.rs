//! Standalone mode: every task of a config in this process, stopped cleanly by Ctrl-C/SIGTERM.

use sluice_core::config::Config;

use super::task::{run_task, TaskError};

/// Why standalone mode ended with an error.
#[derive(Debug, thiserror::Error)]
#[error("{} task(s) failed: {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct StandaloneError(pub Vec<TaskError>);

/// Runs all tasks until a shutdown signal; returns the tasks' definite errors, if any.
pub async fn run_standalone(config: Config) -> Result<(), StandaloneError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    for task in config.tasks {
        let name = task.name.clone();
        let handle = tokio::spawn(run_task(task, config.data_dir.clone(), stop_rx.clone()));
        handles.push((name, handle));
    }
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("Shutting down: flushing sinks and writing checkpoints.");
        let _ = stop_tx.send(true);
    });
    let mut errors = Vec::new();
    for (name, handle) in handles {
        match handle.await {
            Ok(Ok(())) => tracing::info!(task = %name, "Task stopped."),
            Ok(Err(e)) => {
                tracing::error!(task = %name, error = %e, "Task failed.");
                errors.push(e);
            }
            Err(e) => tracing::error!(task = %name, error = %e, "Task panicked."),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StandaloneError(errors))
    }
}

async fn shutdown_signal() {
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
