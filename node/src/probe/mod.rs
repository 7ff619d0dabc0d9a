//! The node's side of the manager's probes (`sluice_manager::probe::TaskProbe`): a task config
//! tried against the services it names before it runs. The manager process holds a
//! [`NodeProbe`] and calls it from `POST /api/v1/connections/test` and `POST /api/v1/preview`.
//!
//! - `source_check.rs`: connect, log in, and the preconditions a task checks before streaming;
//! - `sink_check.rs`: each sink's own connection test (from the sinks crate);
//! - `preview.rs`: a short-lived binlog stream whose events go through the task's filters.

mod preview;
mod sink_check;
mod source_check;

use std::time::Duration;

use futures_util::future::join_all;
use sluice_core::config::TaskConfig;
use sluice_manager::probe::{ConnectionReport, Preview, ProbeError, TaskProbe};

/// How long each service of a connection test, and the opening of a preview's stream, may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Probes with this process's network access (the manager's).
#[derive(Debug, Default, Clone, Copy)]
pub struct NodeProbe;

#[async_trait::async_trait]
impl TaskProbe for NodeProbe {
    async fn test_connections(&self, task: &TaskConfig) -> ConnectionReport {
        let source = source_check::check_source(task, CHECK_TIMEOUT);
        let sinks = join_all(
            task.sinks
                .iter()
                .map(|sink| sink_check::check_sink(sink, CHECK_TIMEOUT)),
        );
        let (source, sinks) = tokio::join!(source, sinks);
        ConnectionReport { source, sinks }
    }

    async fn preview(
        &self,
        task: &TaskConfig,
        limit: usize,
        wait: Duration,
    ) -> Result<Preview, ProbeError> {
        preview::preview(task, limit, wait, CHECK_TIMEOUT).await
    }
}

/// How messages name a task's source: the task, the server and the user, never the password.
fn source_label(task: &TaskConfig) -> String {
    match mysql_async::Opts::from_url(&mysql_url(task)) {
        Ok(opts) => format!(
            "{} at {}:{} as user {}",
            task.name,
            opts.ip_or_hostname(),
            opts.tcp_port(),
            opts.user().unwrap_or("(none)")
        ),
        Err(_) => task.name.clone(),
    }
}

/// The source URL as `mysql_async` takes it (`mariadb://` is accepted in configs).
fn mysql_url(task: &TaskConfig) -> String {
    task.source.url.replacen("mariadb://", "mysql://", 1)
}
