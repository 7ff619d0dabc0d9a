//! The API test harness: a manager on a fresh store (a temporary SQLite file, or a new
//! PostgreSQL database on the test server of `tests/services/postgres.sh`), with an in-process
//! coordinator, served on 127.0.0.1:0 and called over HTTP.
// Each test file uses a part of the harness.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sluice_core::coordination::InProcessCoordinator;
use sluice_manager::probe::TaskProbe;
use sluice_manager::{AppState, Manager, ManagerOptions};
use sqlx::Connection;

pub const ADMIN_PASSWORD: &str = "first-admin-pw";

/// Which database the store is in.
#[derive(Clone, Copy, Debug)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

/// A running manager and what the test needs to look behind it.
pub struct Harness {
    pub base: String,
    pub store_url: String,
    pub coordinator: Arc<InProcessCoordinator>,
    pub state: AppState,
    client: Client<HttpConnector, Full<Bytes>>,
    cleanup: Cleanup,
    server: tokio::task::JoinHandle<()>,
}

enum Cleanup {
    File(std::path::PathBuf),
    PgDatabase { admin_url: String, name: String },
}

fn unique_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "sluice_mgr_test_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Harness {
    pub async fn start(kind: StoreKind) -> Harness {
        Harness::start_with_probe(kind, None).await
    }

    /// A manager whose connection tests and previews go to `probe` (`None`: they answer 501).
    pub async fn start_with_probe(kind: StoreKind, probe: Option<Arc<dyn TaskProbe>>) -> Harness {
        let name = unique_name();
        let (store_url, cleanup) = match kind {
            StoreKind::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    Cleanup::File(path),
                )
            }
            StoreKind::Postgres => {
                let admin_url = std::env::var("SLUICE_TEST_PG_URL").unwrap_or_else(|_| {
                    "postgres://postgres@127.0.0.1:15432/sluice_manager".into()
                });
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL at {admin_url} (SLUICE_TEST_PG_URL) is not reachable: \
                             {e}; start it with tests/services/start.sh postgres"
                        )
                    });
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("CREATE DATABASE for the test");
                let base = admin_url.rsplit_once('/').expect("a database path").0;
                (
                    format!("{base}/{name}"),
                    Cleanup::PgDatabase { admin_url, name },
                )
            }
        };
        let coordinator = Arc::new(InProcessCoordinator::new());
        let options_url = store_url.clone();
        let manager = Manager::open(
            &ManagerOptions {
                store_url,
                admin_password: Some(ADMIN_PASSWORD.into()),
                probe,
            },
            coordinator.clone(),
        )
        .await
        .expect("the manager opens its store");
        let state = manager.state().clone();
        let store_url = options_url;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            manager.serve(listener).await.expect("the manager serves");
        });
        Harness {
            base,
            store_url,
            coordinator,
            state,
            client: Client::builder(TokioExecutor::new()).build_http(),
            cleanup,
            server,
        }
    }

    /// Calls the API: the status and the body as JSON (`Null` when empty, a string if not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let (status, text) = self.call_raw(method, path, token, body).await;
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    /// Calls the API: the status and the body as text.
    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, String) {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let response = self
            .client
            .request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Opens `GET path` as `token`, to read Server-Sent Events from.
    pub async fn open_events(&self, path: &str, token: Option<&str>) -> EventStream {
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = self
            .client
            .request(request.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        EventStream {
            status: response.status(),
            content_type,
            body: response.into_body(),
            text: String::new(),
        }
    }

    /// `GET path` as `token`.
    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call("GET", path, Some(token), None).await
    }

    /// `POST path` with `body`, as `token`.
    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    /// `POST /api/v1/tasks` with `config`.
    pub async fn create_task(&self, token: &str, config: &Value) -> (StatusCode, Value) {
        self.post(token, "/api/v1/tasks", config).await
    }

    /// Logs in; the token.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let body = serde_json::json!({"user": user, "password": password});
        let (status, body) = self.call("POST", "/api/v1/login", None, Some(&body)).await;
        assert_eq!(status, StatusCode::OK, "login {user}: {body}");
        body["token"].as_str().expect("a token").to_string()
    }

    pub async fn admin(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Stops the server and removes the store.
    pub async fn finish(self) {
        self.server.abort();
        let _ = self.server.await;
        self.state.store.close().await;
        match self.cleanup {
            Cleanup::File(path) => {
                let _ = std::fs::remove_file(path);
            }
            Cleanup::PgDatabase { admin_url, name } => {
                let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .expect("DROP DATABASE of the test");
            }
        }
    }
}

/// A response read as Server-Sent Events.
pub struct EventStream {
    pub status: StatusCode,
    pub content_type: String,
    body: hyper::body::Incoming,
    text: String,
}

impl EventStream {
    /// The next named event as `(event, data)` (comments and keep-alives skipped); `None` if
    /// the stream ends or nothing comes within `within`.
    pub async fn next(&mut self, within: std::time::Duration) -> Option<(String, String)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .filter_map(|l| l.strip_prefix(name))
                        .map(str::trim_start)
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                let event = field("event:");
                if !event.is_empty() {
                    return Some((event, field("data:")));
                }
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()??
                .ok()?;
            if let Ok(data) = frame.into_data() {
                self.text.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
}
