//! Standalone with a `[manager]` table: the manager (API and web UI) and one node in one
//! process, on the in-process coordinator. The file's tasks are imported into the manager's
//! store at start; tasks created in the UI run here too. Checkpoints live in the coordinator
//! (fenced, replaceable through "restart from a position") and in the task's file under
//! `data_dir`, which seeds the coordinator at the next start.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use sluice_core::config::{Config, ManagerConfig};
use sluice_core::coordination::{Coordinator, InProcessCoordinator, NodeInfo};
use sluice_manager::store::Store;
use sluice_manager::{Manager, ManagerOptions};
use sluice_node::cluster::{seed_from_files, NodeAgent};
use sluice_node::probe::NodeProbe;
use sluice_node::telemetry::{HttpServer, Telemetry};

/// The in-process coordinator never loses its node: the write lease only has to outlast the
/// slowest pass of the node's loop (a task drained on stop may take 30 s).
const LEASE: Duration = Duration::from_secs(3600);

/// The one node's id, shown in the API and UI.
const NODE_ID: &str = "standalone";

/// Runs until Ctrl-C/SIGTERM; `file` is the config's path (named in the audit log).
pub async fn run(
    config: Config,
    manager: ManagerConfig,
    tasks: Vec<serde_json::Value>,
    file: &Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("data_dir {}: cannot create it", config.data_dir.display()))?;
    let telemetry = Telemetry::default();
    let node_http = match &config.http {
        Some(http) => Some(HttpServer::bind(&http.listen, telemetry.clone()).await?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&manager.listen)
        .await
        .with_context(|| format!("manager.listen {}: cannot listen there", manager.listen))?;
    let store_url = manager.store.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            config.data_dir.join("manager.db").display()
        )
    });
    let admin_password = first_admin_password(&store_url).await?;
    let coordinator: Arc<dyn Coordinator> = Arc::new(InProcessCoordinator::new());
    let options = ManagerOptions {
        store_url,
        admin_password,
        probe: Some(Arc::new(NodeProbe)),
    };
    let manager = Manager::open(&options, coordinator.clone()).await?;
    let state = manager.state().clone();
    let file_name = file.display().to_string();
    let imported = sluice_manager::import::import_tasks(&state.store, &tasks, &file_name).await?;
    tracing::info!(
        created = ?imported.created,
        updated = ?imported.updated,
        unchanged = ?imported.unchanged,
        "Imported the tasks of {file_name} into the manager's store."
    );
    let published = state
        .publisher
        .publish_all()
        .await
        .map_err(|e| anyhow::anyhow!("publishing the stored tasks in this process: {e}"))?;
    let seeded = seed_from_files(coordinator.as_ref(), &config.data_dir).await?;
    tracing::info!(
        tasks = published,
        checkpoints = seeded,
        "Tasks published; checkpoints read from {}.",
        config.data_dir.display()
    );

    let addr = node_http
        .as_ref()
        .map(|s| s.addr().to_string())
        .unwrap_or_default();
    let node_http = node_http.map(HttpServer::spawn);
    let info = NodeInfo {
        id: NODE_ID.into(),
        addr,
        version: env!("CARGO_PKG_VERSION").into(),
        labels: Vec::new(),
        started_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let agent = NodeAgent::new(coordinator, info, telemetry, LEASE)
        .with_checkpoint_files(&config.data_dir)
        .run(stop_rx);
    let mut agent = tokio::spawn(agent);
    let serve = manager.serve(listener);
    tokio::pin!(serve);
    tokio::select! {
        served = &mut serve => served?,
        ended = &mut agent => ended??,
        _ = sluice_node::runner::shutdown_signal() => {
            tracing::info!("Shutting down: flushing sinks and writing checkpoints.");
            let _ = stop_tx.send(true);
            agent.await??;
        }
    }
    if let Some(server) = node_http {
        server.abort();
    }
    Ok(())
}

/// `SLUICE_ADMIN_PASSWORD`; or, for a store without users, a random password printed once
/// (the quick start's first login); else none is needed.
async fn first_admin_password(store_url: &str) -> anyhow::Result<Option<String>> {
    if let Ok(password) = std::env::var("SLUICE_ADMIN_PASSWORD") {
        if !password.is_empty() {
            return Ok(Some(password));
        }
    }
    let store = Store::open(store_url).await?;
    let users = store.count_users().await?;
    store.close().await;
    if users > 0 {
        return Ok(None);
    }
    let password = sluice_manager::auth::new_token()[..20].to_string();
    eprintln!(
        "\nCreated the web UI's first user: `admin` with password `{password}` (shown once; \
         set SLUICE_ADMIN_PASSWORD before the first start to choose it).\n"
    );
    Ok(Some(password))
}
