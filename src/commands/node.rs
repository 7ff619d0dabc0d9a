//! `sluice node`: a cluster node. It registers with ZooKeeper, runs its fair share of the tasks
//! the manager published, keeps their checkpoints in ZooKeeper, and serves `/health`,
//! `/metrics` and `/status`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use sluice_core::coordination::{NodeInfo, ZooKeeperConfig, ZooKeeperCoordinator};
use sluice_node::cluster::NodeAgent;
use sluice_node::telemetry::{HttpServer, Telemetry};

#[derive(Args)]
pub struct NodeArgs {
    /// ZooKeeper connect string, `host:port[,host:port...]`.
    #[arg(long)]
    zk: String,
    /// The cluster's root znode.
    #[arg(long, default_value = ZooKeeperConfig::DEFAULT_ROOT)]
    zk_root: String,
    /// ZooKeeper session timeout in seconds: after losing ZooKeeper for this long, the node's
    /// tasks go to other nodes (it stops them itself as soon as the connection drops).
    #[arg(long, default_value_t = 10)]
    session_timeout_secs: u64,
    /// This node's id, unique in the cluster (default: the host name).
    #[arg(long)]
    id: Option<String>,
    /// Labels, comma-separated.
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// Where `/health`, `/metrics` and `/status` answer.
    #[arg(long, default_value = "127.0.0.1:9181")]
    listen: String,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into())
}

pub fn run(args: NodeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let telemetry = Telemetry::default();
        let server = HttpServer::bind(&args.listen, telemetry.clone()).await?;
        let addr = server.addr().to_string();
        let http = server.spawn();
        let mut zk = ZooKeeperConfig::new(&args.zk);
        zk.root = args.zk_root.clone();
        zk.session_timeout = Duration::from_secs(args.session_timeout_secs);
        let coordinator = ZooKeeperCoordinator::connect(&zk)
            .await
            .with_context(|| format!("cannot join the cluster through ZooKeeper `{}`", args.zk))?;
        let info = NodeInfo {
            id: args.id.unwrap_or_else(host_name),
            addr,
            version: env!("CARGO_PKG_VERSION").into(),
            labels: args.labels,
            started_at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            sluice_node::runner::shutdown_signal().await;
            tracing::info!("Shutting down: stopping tasks with a last checkpoint.");
            let _ = stop_tx.send(true);
        });
        // Writes stop half a session timeout after the last answer from ZooKeeper: long before
        // the session can expire and another node take the tasks.
        let lease = Duration::from_secs(args.session_timeout_secs) / 2;
        NodeAgent::new(Arc::new(coordinator), info, telemetry, lease)
            .run(stop_rx)
            .await?;
        http.abort();
        Ok(ExitCode::SUCCESS)
    })
}
