//! The routes a dashboard and a task editor use, over HTTP: the overview and its event stream,
//! and the connection test and preview routes' own rules (roles, validation, secrets filled
//! from a stored task, limits, errors, no probe). The probe behind them is a recording double
//! here; `tests/manager_probe.rs` runs the real one against real services.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::StatusCode;
use serde_json::{json, Value};
use sluice_core::config::TaskConfig;
use sluice_manager::probe::{
    CheckOutcome, ConnectionReport, Preview, ProbeError, SinkCheck, TaskProbe,
};
use support::{Harness, StoreKind};

const SOURCE_SECRET: &str = "s3cret-src";

fn orders_config() -> Value {
    json!({
        "name": "orders",
        "source": {"url": format!("mysql://sluice:{SOURCE_SECRET}@127.0.0.1:13306")},
        "sinks": [{"type": "redis", "name": "cache", "url": "redis://127.0.0.1:16379/0"}]
    })
}

/// Answers from a script and remembers the configs it was given.
#[derive(Default)]
struct RecordingProbe {
    seen: Mutex<Vec<TaskConfig>>,
    preview_error: Mutex<Option<ProbeError>>,
}

#[async_trait::async_trait]
impl TaskProbe for RecordingProbe {
    async fn test_connections(&self, task: &TaskConfig) -> ConnectionReport {
        self.seen.lock().unwrap().push(task.clone());
        ConnectionReport {
            source: CheckOutcome::passed("MariaDB 10.11"),
            sinks: task
                .sinks
                .iter()
                .map(|s| SinkCheck {
                    name: s.name().into(),
                    kind: "redis".into(),
                    outcome: CheckOutcome::failed("no answer within 5000 ms"),
                })
                .collect(),
        }
    }

    async fn preview(
        &self,
        task: &TaskConfig,
        limit: usize,
        wait: Duration,
    ) -> Result<Preview, ProbeError> {
        self.seen.lock().unwrap().push(task.clone());
        if let Some(e) = self.preview_error.lock().unwrap().take() {
            return Err(e);
        }
        Ok(Preview {
            events: vec![json!({"limit": limit, "wait_ms": wait.as_millis() as u64})],
            from: "mysql-bin.000001:4".into(),
            waited_ms: 0,
            complete: false,
        })
    }
}

#[tokio::test]
async fn the_overview_shows_tasks_and_the_stream_sends_changes() {
    let h = Harness::start(StoreKind::Sqlite).await;
    let admin = h.admin().await;
    let (status, _) = h.create_task(&admin, &orders_config()).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, body) = h.get(&admin, "/api/v1/overview").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["at_ms"].as_u64().is_some_and(|t| t > 0), "{body}");
    assert_eq!(body["tasks"][0]["name"], "orders", "{body}");
    assert_eq!(body["tasks"][0]["desired"], "running", "{body}");
    assert_eq!(body["tasks"][0]["coordinator"]["published"]["revision"], 1);
    assert_eq!(body["nodes"], json!([]));
    let (_, status_body) = h.get(&admin, "/api/v1/tasks/orders/status").await;
    assert_eq!(
        body["tasks"][0], status_body,
        "the overview repeats the status route"
    );
    assert!(!body.to_string().contains(SOURCE_SECRET), "{body}");

    let mut refused = h.open_events("/api/v1/stream", None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.next(Duration::from_millis(200)).await.is_none());

    let mut stream = h.open_events("/api/v1/stream", Some(&admin)).await;
    assert_eq!(stream.status, StatusCode::OK);
    assert!(
        stream.content_type.starts_with("text/event-stream"),
        "{}",
        stream.content_type
    );
    let (event, data) = stream
        .next(Duration::from_secs(5))
        .await
        .expect("a first snapshot");
    assert_eq!(event, "snapshot");
    assert!(!data.contains(SOURCE_SECRET), "{data}");
    let first: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(first["tasks"][0]["desired"], "running", "{first}");

    let (status, _) = h
        .call("POST", "/api/v1/tasks/orders/pause", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (event, data) = stream
        .next(Duration::from_secs(5))
        .await
        .expect("a snapshot after the change");
    assert_eq!(event, "snapshot");
    let second: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(second["tasks"][0]["desired"], "paused", "{second}");
    // Nothing changed since: no snapshot within two polls.
    assert!(stream.next(Duration::from_millis(2500)).await.is_none());
    h.finish().await;
}

#[tokio::test]
async fn without_a_probe_the_probe_routes_answer_501() {
    let h = Harness::start(StoreKind::Sqlite).await;
    let admin = h.admin().await;
    for route in ["/api/v1/connections/test", "/api/v1/preview"] {
        let (status, body) = h.post(&admin, route, &orders_config()).await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{route}: {body}");
        assert!(body["error"].as_str().unwrap().contains("probe"), "{body}");
        let (status, _) = h.call("POST", route, None, Some(&orders_config())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{route}");
    }
    h.finish().await;
}

#[tokio::test]
async fn probe_routes_validate_and_fill_secrets_from_the_stored_task() {
    let probe = Arc::new(RecordingProbe::default());
    let h = Harness::start_with_probe(StoreKind::Sqlite, Some(probe.clone())).await;
    let admin = h.admin().await;
    let (status, _) = h.create_task(&admin, &orders_config()).await;
    assert_eq!(status, StatusCode::CREATED);
    let viewer = json!({"name": "vera", "password": "viewer-pw-1", "role": "viewer"});
    let (status, _) = h.post(&admin, "/api/v1/users", &viewer).await;
    assert_eq!(status, StatusCode::CREATED);
    let vera = h.login("vera", "viewer-pw-1").await;

    for route in ["/api/v1/connections/test", "/api/v1/preview"] {
        let (status, body) = h.post(&vera, route, &orders_config()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{route}: {body}");
        let mut bad = orders_config();
        bad["sinks"][0]["url"] = json!("http://nowhere");
        let (status, body) = h.post(&admin, route, &bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{route}: {body}");
        assert_eq!(body["errors"][0]["field"], "sinks[0].url", "{body}");
        // A placeholder with nothing stored behind it.
        let mut hidden = orders_config();
        hidden["source"]["url"] = json!("mysql://sluice:***@127.0.0.1:13306");
        let (status, body) = h.post(&admin, route, &hidden).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{route}: {body}");
        assert_eq!(body["errors"][0]["field"], "source.url", "{body}");
        let (status, _) = h.post(&admin, &format!("{route}?task=nope"), &hidden).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{route}");
        assert!(
            probe.seen.lock().unwrap().is_empty(),
            "{route}: refused calls reached the probe"
        );
    }
    assert_eq!(probe.seen.lock().unwrap().len(), 0);

    // `***` taken from the stored task: the probe gets the real password, the caller never.
    let mut hidden = orders_config();
    hidden["source"]["url"] = json!("mysql://sluice:***@127.0.0.1:13306");
    let (status, body) = h
        .post(&admin, "/api/v1/connections/test?task=orders", &hidden)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["source"],
        json!({"ok": true, "detail": "MariaDB 10.11", "error": null})
    );
    assert_eq!(
        body["sinks"][0],
        json!({"name": "cache", "kind": "redis", "ok": false, "detail": null,
               "error": "no answer within 5000 ms"})
    );
    let got = probe.seen.lock().unwrap().pop().unwrap();
    assert!(
        got.source.url.contains(SOURCE_SECRET),
        "the stored password was not filled in"
    );

    // Preview limits: defaults, bounds named with their range.
    let (status, body) = h.post(&admin, "/api/v1/preview", &orders_config()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["events"][0], json!({"limit": 5, "wait_ms": 10000}));
    assert_eq!(body["from"], "mysql-bin.000001:4");
    let (status, body) = h
        .post(
            &admin,
            "/api/v1/preview?limit=50&wait_ms=0",
            &orders_config(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["events"][0], json!({"limit": 50, "wait_ms": 0}));
    for (query, field, range) in [
        ("limit=0", "limit", "1 to 50"),
        ("limit=51", "limit", "1 to 50"),
        ("limit=x", "limit", "1 to 50"),
        ("wait_ms=30001", "wait_ms", "0 to 30000"),
        ("wait_ms=-1", "wait_ms", "0 to 30000"),
    ] {
        let (status, body) = h
            .post(
                &admin,
                &format!("/api/v1/preview?{query}"),
                &orders_config(),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(range),
            "{body}"
        );
    }

    // The probe's errors: the source's are 502, a start position the source lacks is 422.
    *probe.preview_error.lock().unwrap() = Some(ProbeError::Source(
        "source orders at h:1: cannot connect: refused".into(),
    ));
    let (status, body) = h.post(&admin, "/api/v1/preview", &orders_config()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("cannot connect"),
        "{body}"
    );
    *probe.preview_error.lock().unwrap() = Some(ProbeError::Config {
        field: "source.start".into(),
        message: "the start position is no longer on the server".into(),
    });
    let (status, body) = h.post(&admin, "/api/v1/preview", &orders_config()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "source.start", "{body}");
    h.finish().await;
}
