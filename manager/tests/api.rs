//! The manager's REST API, end to end over HTTP, with the same scenarios on a SQLite store and
//! on a PostgreSQL one (`SLUICE_TEST_PG_URL`, started by `tests/services/start.sh postgres`).

mod support;

use hyper::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

use sluice_core::coordination::{
    Coordinator, DesiredState, InProcessCoordinator, NodeInfo, TaskStatusReport,
};
use sluice_manager::{Manager, ManagerOptions};
use support::{Harness, StoreKind};

const SECRETS: [&str; 3] = ["s3cret-src", "k4fka-pw", "r3dis-pw"];

fn orders_config() -> Value {
    json!({
        "name": "orders",
        "source": {"url": "mysql://sluice:s3cret-src@127.0.0.1:13306"},
        "sinks": [
            {"type": "kafka", "name": "kafka-main", "brokers": "127.0.0.1:19092",
             "topic": "shop.orders",
             "properties": {"sasl.password": "k4fka-pw", "compression.type": "lz4"}},
            {"type": "redis", "name": "cache", "url": "redis://:r3dis-pw@127.0.0.1:16379/0"}
        ]
    })
}

fn assert_no_secret(what: &str, body: &impl ToString) {
    let text = body.to_string();
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret}: {text}"
        );
    }
}

/// The config the coordinator holds for a task (secrets included: nodes need them).
async fn published(h: &Harness, task: &str) -> (u64, Value, Option<DesiredState>) {
    let view = h
        .coordinator
        .task_view(task)
        .await
        .unwrap()
        .expect("task in the coordinator");
    let p = view.published.expect("a published config");
    (p.revision, p.config, view.desired)
}

async fn logins_and_roles(kind: StoreKind) {
    let h = Harness::start(kind).await;
    let wrong = json!({"user": "admin", "password": "nope"});
    let (status, body) = h.call("POST", "/api/v1/login", None, Some(&wrong)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("wrong user name or password"));

    let (status, body) = h.call("GET", "/api/v1/tasks", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("Authorization"),
        "{body}"
    );
    let (status, _) = h.call("GET", "/api/v1/tasks", Some("forged"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let admin = h.admin().await;
    let viewer = json!({"name": "vera", "password": "viewer-pw-1", "role": "viewer"});
    let (status, body) = h.post(&admin, "/api/v1/users", &viewer).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.get("password_hash").is_none() && !body.to_string().contains("viewer-pw-1"));
    let short = json!({"name": "x", "password": "short", "role": "viewer"});
    let (status, body) = h.post(&admin, "/api/v1/users", &short).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "password");

    let vera = h.login("vera", "viewer-pw-1").await;
    let (status, body) = h.get(&vera, "/api/v1/tasks").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!([]));
    let (status, body) = h.create_task(&vera, &orders_config()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].as_str().unwrap().contains("viewer"), "{body}");
    let (status, _) = h.post(&vera, "/api/v1/users", &viewer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The OpenAPI document is public.
    let (status, body) = h.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["paths"]["/api/v1/tasks"].is_object());
    h.finish().await;
}

async fn task_lifecycle(kind: StoreKind) {
    let h = Harness::start(kind).await;
    let admin = h.admin().await;

    // One invalid field: 422 naming it, nothing stored.
    let mut bad = orders_config();
    bad["sinks"][0]["topic"] = json!("bad topic!");
    let (status, body) = h.create_task(&admin, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["errors"][0]["field"], "sinks[0].topic", "{body}");
    assert_eq!(body["errors"][0]["value"], "bad topic!", "{body}");
    let (status, _) = h.get(&admin, "/api/v1/tasks/orders").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Created: revision 1, published with its secrets, shown without them.
    let (status, body) = h.create_task(&admin, &orders_config()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["revision"], 1);
    assert_eq!(body["published_revision"], 1, "{body}");
    assert!(body.get("publish_error").is_none(), "{body}");
    assert_no_secret("create response", &body);
    let (revision, config, desired) = published(&h, "orders").await;
    assert_eq!((revision, desired), (1, Some(DesiredState::Running)));
    assert_eq!(config, orders_config());
    let (status, _) = h.create_task(&admin, &orders_config()).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, shown) = h.get(&admin, "/api/v1/tasks/orders").await;
    assert_eq!(status, StatusCode::OK);
    assert_no_secret("GET task", &shown);
    assert_eq!(
        shown["config"]["source"]["url"],
        "mysql://sluice:***@127.0.0.1:13306"
    );
    assert_eq!(
        shown["config"]["sinks"][0]["properties"]["sasl.password"],
        "***"
    );
    assert_eq!(
        shown["config"]["sinks"][0]["properties"]["compression.type"],
        "lz4"
    );
    let (_, list) = h.get(&admin, "/api/v1/tasks").await;
    assert_eq!(list[0]["name"], "orders");
    assert_no_secret("task list", &list);

    // Update with the config as read (secrets as ***), the topic changed: revision 2, every
    // secret kept.
    let mut edited = shown["config"].clone();
    edited["sinks"][0]["topic"] = json!("shop.orders.v2");
    let (status, body) = h
        .call("PUT", "/api/v1/tasks/orders", Some(&admin), Some(&edited))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["revision"].clone(), body["published_revision"].clone()),
        (json!(2), json!(2))
    );
    assert_no_secret("update response", &body);
    let mut expected = orders_config();
    expected["sinks"][0]["topic"] = json!("shop.orders.v2");
    assert_eq!(published(&h, "orders").await.1, expected);

    // Update leaving the passwords out entirely: still kept; a bad value: 422, nothing changes.
    let mut without = expected.clone();
    without["source"]["url"] = json!("mysql://sluice@127.0.0.1:13306");
    without["sinks"][0]["properties"] = json!({"compression.type": "zstd"});
    let (status, body) = h
        .call("PUT", "/api/v1/tasks/orders", Some(&admin), Some(&without))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revision"], 3);
    let (_, config, _) = published(&h, "orders").await;
    assert_eq!(
        config["source"]["url"],
        "mysql://sluice:s3cret-src@127.0.0.1:13306"
    );
    assert_eq!(
        config["sinks"][0]["properties"]["sasl.password"],
        "k4fka-pw"
    );
    assert_eq!(config["sinks"][0]["properties"]["compression.type"], "zstd");
    let mut invalid = without.clone();
    invalid["source"]["server_id"] = json!(0);
    let (status, body) = h
        .call("PUT", "/api/v1/tasks/orders", Some(&admin), Some(&invalid))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "source.server_id");

    // Pause and resume reach the coordinator.
    let (status, body) = h
        .call("POST", "/api/v1/tasks/orders/pause", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["desired"], "paused");
    assert_eq!(published(&h, "orders").await.2, Some(DesiredState::Paused));
    let (_, body) = h
        .call("POST", "/api/v1/tasks/orders/resume", Some(&admin), None)
        .await;
    assert_eq!(body["desired"], "running");
    assert_eq!(published(&h, "orders").await.2, Some(DesiredState::Running));

    // Revisions: newest first; each readable, without secrets.
    let (status, revisions) = h.get(&admin, "/api/v1/tasks/orders/revisions").await;
    assert_eq!(status, StatusCode::OK);
    let numbers: Vec<_> = revisions
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].clone())
        .collect();
    assert_eq!(numbers, [json!(3), json!(2), json!(1)]);
    assert_eq!(revisions[0]["author"], "admin");
    let (status, first) = h.get(&admin, "/api/v1/tasks/orders/revisions/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["config"]["sinks"][0]["topic"], "shop.orders");
    assert_no_secret("revision 1", &first);
    let (status, _) = h.get(&admin, "/api/v1/tasks/orders/revisions/9").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Delete: gone here and from the coordinator.
    let (status, body) = h
        .call("DELETE", "/api/v1/tasks/orders", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["removed_from_coordinator"], true);
    assert!(h.coordinator.task_view("orders").await.unwrap().is_none());
    let (status, _) = h.get(&admin, "/api/v1/tasks/orders").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The audit log: who, what, when, newest first, no secret.
    let (status, audit) = h.get(&admin, "/api/v1/audit?task=orders").await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let actions: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(
        actions,
        [
            "task.delete",
            "task.resume",
            "task.pause",
            "task.update",
            "task.update",
            "task.create"
        ]
    );
    for entry in audit.as_array().unwrap() {
        assert_eq!(entry["actor"], "admin");
        assert!(
            entry["at_ms"].as_i64().unwrap() > 1_700_000_000_000,
            "{entry}"
        );
    }
    assert!(
        audit[3]["summary"].as_str().unwrap().contains("revision 3"),
        "{audit}"
    );
    assert_no_secret("audit log", &audit);
    let (_, all) = h.get(&admin, "/api/v1/audit?limit=1").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    h.finish().await;
}

async fn coordinator_outage(kind: StoreKind) {
    let h = Harness::start(kind).await;
    let admin = h.admin().await;
    h.coordinator.set_connected(false);
    let (status, body) = h.create_task(&admin, &orders_config()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["revision"].clone(), body["published_revision"].clone()),
        (json!(1), json!(0))
    );
    let error = body["publish_error"].as_str().expect("a publish error");
    assert!(
        error.contains("task orders") && error.contains("coordinator"),
        "{error}"
    );
    assert_no_secret("publish error", &body);
    let (status, body) = h.get(&admin, "/api/v1/nodes").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

    h.coordinator.set_connected(true);
    assert_eq!(h.state.publisher.catch_up().await, 0);
    assert_eq!(published(&h, "orders").await.0, 1);
    let (_, body) = h.get(&admin, "/api/v1/tasks/orders").await;
    assert_eq!(body["published_revision"], 1, "{body}");
    assert_eq!(body["published_desired"], "running", "{body}");

    // A delete while it is away is finished by the catch-up.
    h.coordinator.set_connected(false);
    let (_, body) = h
        .call("DELETE", "/api/v1/tasks/orders", Some(&admin), None)
        .await;
    assert_eq!(body["removed_from_coordinator"], false, "{body}");
    let (status, body) = h.create_task(&admin, &orders_config()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    h.coordinator.set_connected(true);
    assert_eq!(h.state.publisher.catch_up().await, 0);
    assert!(h.coordinator.task_view("orders").await.unwrap().is_none());
    let (status, body) = h.create_task(&admin, &orders_config()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    h.finish().await;
}

async fn restart_status_and_nodes(kind: StoreKind) {
    let h = Harness::start(kind).await;
    let admin = h.admin().await;
    let (status, _) = h.create_task(&admin, &orders_config()).await;
    assert_eq!(status, StatusCode::CREATED);

    let bad = json!({"position": "nowhere"});
    let (status, body) = h.post(&admin, "/api/v1/tasks/orders/restart", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "position");

    // A node runs it: refused until it lets go.
    let node = h.coordinator.new_session();
    let info = NodeInfo {
        id: "node-1".into(),
        addr: "127.0.0.1:9100".into(),
        version: "0.1.0".into(),
        labels: vec![],
        started_at_ms: 1,
    };
    node.register_node(&info).await.unwrap();
    let owner = node
        .try_claim("orders", "node-1")
        .await
        .unwrap()
        .expect("claimed");
    let report = TaskStatusReport {
        state: "running".into(),
        node: "node-1".into(),
        revision: 1,
        lag_ms: Some(12),
        events_per_sec: 5.0,
        events_total: 100,
        sinks: vec![],
        last_error: None,
        at_ms: 1,
        snapshot: None,
    };
    node.report_status("orders", &owner, &report).await.unwrap();
    let good = json!({"position": "binlog.000042:4"});
    let (status, body) = h.post(&admin, "/api/v1/tasks/orders/restart", &good).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains("pause"), "{body}");

    let (status, body) = h.get(&admin, "/api/v1/tasks/orders/status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["coordinator"]["owner"]["node"], "node-1");
    assert_eq!(body["coordinator"]["status"]["events_total"], 100);
    assert_no_secret("status", &body);
    let (status, body) = h.get(&admin, "/api/v1/nodes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["id"], "node-1");

    node.release("orders", &owner).await.unwrap();
    let (status, body) = h.post(&admin, "/api/v1/tasks/orders/restart", &good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = h.coordinator.task_view("orders").await.unwrap().unwrap();
    assert_eq!(
        view.checkpoint.unwrap().position.to_string(),
        "binlog.000042:4"
    );
    let (_, audit) = h.get(&admin, "/api/v1/audit?task=orders&limit=1").await;
    assert_eq!(audit[0]["action"], "task.restart");
    assert!(audit[0]["summary"]
        .as_str()
        .unwrap()
        .contains("binlog.000042:4"));
    h.finish().await;
}

async fn users_passwords_and_logout(kind: StoreKind) {
    let h = Harness::start(kind).await;
    let admin = h.admin().await;
    let vera = json!({"name": "vera", "password": "viewer-pw-1", "role": "viewer"});
    let (status, body) = h.post(&admin, "/api/v1/users", &vera).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Logging out revokes that token only.
    let (first, second) = (
        h.login("vera", "viewer-pw-1").await,
        h.login("vera", "viewer-pw-1").await,
    );
    let (status, body) = h.call("POST", "/api/v1/logout", Some(&first), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.get(&first, "/api/v1/tasks").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.get(&second, "/api/v1/tasks").await.0, StatusCode::OK);

    // Your own password: only with the current one; every token of yours ends.
    let change = |password: &str, current: Option<&str>| {
        let mut body = json!({ "password": password });
        if let Some(current) = current {
            body["current_password"] = json!(current);
        }
        body
    };
    let own = "/api/v1/users/vera/password";
    for current in [None, Some("wrong-pw-123")] {
        let (status, body) = h
            .call(
                "PUT",
                own,
                Some(&second),
                Some(&change("vera-new-pw", current)),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["errors"][0]["field"], "current_password", "{body}");
    }
    let (status, body) = h
        .call(
            "PUT",
            own,
            Some(&second),
            Some(&change("short", Some("viewer-pw-1"))),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "password", "{body}");
    let (status, body) = h
        .call(
            "PUT",
            own,
            Some(&second),
            Some(&change("vera-new-pw", Some("viewer-pw-1"))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.get(&second, "/api/v1/tasks").await.0,
        StatusCode::UNAUTHORIZED
    );
    let old = json!({"user": "vera", "password": "viewer-pw-1"});
    let (status, _) = h.call("POST", "/api/v1/login", None, Some(&old)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let vera_token = h.login("vera", "vera-new-pw").await;

    // A viewer changes nobody else's password and deletes nobody.
    let (status, _) = h
        .call(
            "PUT",
            "/api/v1/users/admin/password",
            Some(&vera_token),
            Some(&change("x-long-password", None)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h
        .call("DELETE", "/api/v1/users/admin", Some(&vera_token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An admin sets anyone's password without theirs, never deletes the last admin, and a
    // deleted user's tokens end with it.
    let (status, body) = h
        .call("DELETE", "/api/v1/users/admin", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("last admin"),
        "{body}"
    );
    let (status, body) = h
        .call(
            "PUT",
            own,
            Some(&admin),
            Some(&change("reset-by-admin", None)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let vera_token = h.login("vera", "reset-by-admin").await;
    let (status, body) = h
        .call("DELETE", "/api/v1/users/vera", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.get(&vera_token, "/api/v1/tasks").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = h
        .call("DELETE", "/api/v1/users/vera", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, audit) = h.get(&admin, "/api/v1/audit").await;
    let actions = audit.to_string();
    for action in ["user.password", "user.delete"] {
        assert!(actions.contains(action), "{action} not audited: {audit}");
    }
    assert!(!actions.contains("vera-new-pw") && !actions.contains("reset-by-admin"));
    h.finish().await;
}

async fn every_documented_route_is_served(kind: StoreKind) {
    let h = Harness::start(kind).await;
    let admin = h.admin().await;
    for (method, path) in sluice_manager::api::ROUTES {
        let path = path.replace("{name}", "nope").replace("{revision}", "1");
        // Logging out would end the token the other routes are called with.
        let admin = if path == "/api/v1/logout" {
            h.admin().await
        } else {
            admin.clone()
        };
        if path == "/api/v1/stream" {
            // Never ends: only its start is read.
            let stream = h.open_events(&path, Some(&admin)).await;
            assert_eq!(stream.status, StatusCode::OK, "{path}");
            continue;
        }
        let (status, body) = h
            .call(
                &method.to_uppercase(),
                &path,
                Some(&admin),
                Some(&json!({})),
            )
            .await;
        let unknown_route = status == StatusCode::METHOD_NOT_ALLOWED
            || (status == StatusCode::NOT_FOUND
                && body["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("no such API route")));
        assert!(!unknown_route, "{method} {path}: {status} {body}");
    }
    h.finish().await;
}

async fn reopening_a_store_keeps_its_data(kind: StoreKind) {
    let h = Harness::start(kind).await;
    let admin = h.admin().await;
    let (status, _) = h.create_task(&admin, &orders_config()).await;
    assert_eq!(status, StatusCode::CREATED);
    // Migrations already applied are skipped; the first admin exists, so no password is needed.
    let options = ManagerOptions {
        store_url: h.store_url.clone(),
        admin_password: None,
        probe: None,
    };
    let again = Manager::open(&options, Arc::new(InProcessCoordinator::new()))
        .await
        .expect("the store reopens");
    let tasks = again.state().store.list_tasks().await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].config, orders_config());
    again.state().store.close().await;
    h.finish().await;
}

#[tokio::test]
async fn an_empty_store_without_an_admin_password_is_refused() {
    let path = std::env::temp_dir().join(format!("sluice-mgr-noadmin-{}.db", std::process::id()));
    let options = ManagerOptions {
        store_url: format!("sqlite://{}?mode=rwc", path.display()),
        admin_password: None,
        probe: None,
    };
    let opened = Manager::open(&options, Arc::new(InProcessCoordinator::new())).await;
    let _ = std::fs::remove_file(&path);
    let Err(e) = opened else {
        panic!("a store nobody can log into was accepted");
    };
    assert!(e.to_string().contains("--admin-password"), "{e}");
}

macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::StoreKind::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::StoreKind::Postgres).await;
            })*
        }
    };
}

on_both_stores!(
    logins_and_roles,
    users_passwords_and_logout,
    task_lifecycle,
    coordinator_outage,
    restart_status_and_nodes,
    every_documented_route_is_served,
    reopening_a_store_keeps_its_data,
);
