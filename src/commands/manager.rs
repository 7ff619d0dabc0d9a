//! `sluice manager`: the REST API and task store, publishing tasks to the coordinator.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use sluice_core::coordination::{
    Coordinator, InProcessCoordinator, ZooKeeperConfig, ZooKeeperCoordinator,
};
use sluice_manager::{Manager, ManagerOptions};

#[derive(Args)]
pub struct ManagerArgs {
    /// Where the API listens, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The store: `sqlite://PATH?mode=rwc` (created if missing) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB`.
    #[arg(
        long,
        env = "SLUICE_STORE",
        hide_env_values = true,
        default_value = "sqlite://sluice-manager.db?mode=rwc"
    )]
    store: String,
    /// ZooKeeper, `HOST:PORT[,HOST:PORT...]`. Without it the coordinator is in-process: the API
    /// works, but no node can see the tasks.
    #[arg(long)]
    zk: Option<String>,
    /// The cluster's root znode (the nodes' `--zk-root`).
    #[arg(long, default_value = ZooKeeperConfig::DEFAULT_ROOT)]
    zk_root: String,
    /// The first admin's password (user `admin`), used only while the store has no user.
    /// Prefer the environment variable: a command line is visible to every local user.
    #[arg(long, env = "SLUICE_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
}

/// ZooKeeper under `--zk-root` with `--zk`, else the in-process coordinator.
async fn coordinator(args: &ManagerArgs) -> anyhow::Result<Arc<dyn Coordinator>> {
    let Some(hosts) = &args.zk else {
        tracing::warn!(
            "No --zk given: the coordinator is in-process, so no node will see the tasks."
        );
        return Ok(Arc::new(InProcessCoordinator::new()));
    };
    let mut zk = ZooKeeperConfig::new(hosts.as_str());
    zk.root = args.zk_root.clone();
    let coordinator = ZooKeeperCoordinator::connect(&zk)
        .await
        .with_context(|| format!("--zk {hosts}: cannot open a ZooKeeper session"))?;
    Ok(Arc::new(coordinator))
}

pub fn run(args: ManagerArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let coordinator = coordinator(&args).await?;
        let options = ManagerOptions {
            store_url: args.store.clone(),
            admin_password: args.admin_password.clone(),
            // Connection tests and previews run in this process, with the node's source and
            // sink code.
            probe: Some(Arc::new(sluice_node::probe::NodeProbe)),
        };
        let manager = Manager::open(&options, coordinator).await?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("--listen {}: cannot listen there", args.listen))?;
        tokio::select! {
            served = manager.serve(listener) => served?,
            _ = sluice_node::runner::shutdown_signal() => {
                tracing::info!("Interrupted: the manager stops.")
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
