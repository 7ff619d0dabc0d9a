//! The manager: the REST API under `/api/v1` (with its OpenAPI document), the task store
//! (SQLite or PostgreSQL through sqlx), users and tokens, the audit log, and the publication of
//! task configs to the coordinator the nodes watch.
//!
//! - `store/`: the tables and their queries, migrations embedded;
//! - `auth.rs`: password hashes and tokens; `secrets.rs`: what responses never show;
//! - `publish.rs`: store -> coordinator, retried in the background;
//! - `api/`: the axum routes, one file per resource.

pub mod api;
pub mod auth;
mod error;
pub mod publish;
pub mod secrets;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use sluice_core::coordination::Coordinator;
use tokio::net::TcpListener;

pub use api::AppState;
pub use error::ManagerError;
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
        tracing::info!(%addr, "Manager API listening on http://{addr}/api/v1.");
        let served = axum::serve(listener, api::router(self.state)).await;
        retry.abort();
        served.map_err(|error| ManagerError::Serve { addr, error })
    }
}
