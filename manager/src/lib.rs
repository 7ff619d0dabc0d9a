//! The manager: the REST API under `/api/v1` (with its OpenAPI document), the task store
//! (SQLite or PostgreSQL through sqlx), users and tokens, the audit log, and the publication of
//! task configs to the coordinator the nodes watch.
//!
//! - `store/`: the tables and their queries, migrations embedded;
//! - `auth.rs`: password hashes and tokens; `secrets.rs`: what responses never show;
//! - `publish.rs`: store -> coordinator, retried in the background;
//! - `probe.rs`: the contract for testing a task's connections and previewing its events;
//! - `api/`: the axum routes, one file per resource;
//! - `web_ui.rs`: the web UI at `/`, built from `web/` and embedded in the binary.

pub mod api;
pub mod auth;
mod error;
pub mod import;
pub mod probe;
pub mod publish;
pub mod secrets;
pub mod store;
mod web_ui;

use std::sync::Arc;
use std::time::Duration;

use sluice_core::coordination::Coordinator;
use tokio::net::TcpListener;

pub use api::AppState;
pub use error::ManagerError;
use probe::TaskProbe;
use publish::Publisher;
use store::Store;

/// How often the background loop publishes what the coordinator is behind on.
const RETRY_EVERY: Duration = Duration::from_secs(5);

/// What the manager runs on.
pub struct ManagerOptions {
    /// `sqlite://PATH?mode=rwc` or `postgres://...`.
    pub store_url: String,
    /// The first admin's password, used only when the store has no user yet.
    pub admin_password: Option<String>,
    /// Tests connections and previews events for the API; `None`: those endpoints answer 501.
    pub probe: Option<Arc<dyn TaskProbe>>,
}

/// A manager ready to serve: store open and migrated, first admin in place.
pub struct Manager {
    state: AppState,
}

impl Manager {
    pub async fn open(
        options: &ManagerOptions,
        coordinator: Arc<dyn Coordinator>,
    ) -> Result<Manager, ManagerError> {
        let store = Store::open(&options.store_url).await?;
        auth::ensure_first_admin(&store, options.admin_password.as_deref()).await?;
        let publisher = Arc::new(Publisher::new(store.clone(), coordinator.clone()));
        Ok(Manager {
            state: AppState {
                store,
                coordinator,
                publisher,
                probe: options.probe.clone(),
            },
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves the API on `listener` until the future is dropped, publishing what the
    /// coordinator is behind on in the background meanwhile.
    pub async fn serve(self, listener: TcpListener) -> Result<(), ManagerError> {
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let retry = self.state.publisher.clone().spawn_retry_loop(RETRY_EVERY);
        tracing::info!(%addr, "Manager API listening on http://{addr}/api/v1, web UI on http://{addr}/.");
        let served = axum::serve(listener, api::router(self.state).merge(web_ui::router())).await;
        retry.abort();
        served.map_err(|error| ManagerError::Serve { addr, error })
    }
}
