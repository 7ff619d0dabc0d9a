//! The manager's connection test and preview against the real services: `sluice manager` as a
//! process (SQLite store, in-process coordinator), the test MariaDB, Kafka (Tansu) and Redis
//! from `tests/services/start.sh`.
//! - a task config whose services all answer: each is `ok` with what it found; the same config
//!   with its password written `***` and `?task=` is tried with the stored password;
//! - wrong port, wrong password: each failure names the host and what failed;
//! - a preview started before rows are written returns those rows, filtered, in Sluice's form;
//! - a viewer is refused; no response holds the source password.

mod common;

use std::time::Duration;

use common::http;
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "probe-admin-pw";
/// The password of the MariaDB user the tests create: no response may show it.
const SOURCE_PASSWORD: &str = "pr0be-src-s3cret";
const SOURCE_USER: &str = "sluice_probe";
/// Replica ids of these tests' task configs (unused by the other tests).
const SERVER_ID: u32 = 4_200_951;

fn redis_url() -> String {
    std::env::var("SLUICE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:16379".into())
}

/// `host:port` of the test MariaDB.
fn mysql_host_port() -> String {
    let url = common::mysql_url();
    let after_at = url.rsplit('@').next().unwrap_or("127.0.0.1:13306");
    after_at
        .split(['/', '?'])
        .next()
        .unwrap_or(after_at)
        .to_string()
}

/// A `sluice manager` process and every response body it gave (for the secret check).
struct Manager {
    _dir: TempDir,
    process: StandaloneProcess,
    addr: String,
    responses: Vec<String>,
}

impl Manager {
    fn start(tag: &str) -> Manager {
        let dir = TempDir::new(tag);
        let (process, addr) =
            StandaloneProcess::manager(&dir.0, None, ADMIN_PASSWORD, dir.0.join("manager.log"));
        Manager {
            _dir: dir,
            process,
            addr,
            responses: Vec::new(),
        }
    }

    fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (code, body) = http::api(&self.addr, method, path, token, body);
        self.responses.push(body.to_string());
        (code, body)
    }

    fn login(&mut self, user: &str, password: &str) -> String {
        http::login(&self.addr, user, password)
    }

    fn viewer(&mut self, admin: &str) -> String {
        let user = json!({"name": "vera", "password": "viewer-pw-1", "role": "viewer"});
        let (code, body) = self.call("POST", "/users", Some(admin), Some(&user));
        assert_eq!(code, 201, "{body}");
        self.login("vera", "viewer-pw-1")
    }

    /// Every response so far, and the manager's log, are free of the source password.
    fn assert_no_secret(&mut self) {
        for text in &self.responses {
            assert!(
                !text.contains(SOURCE_PASSWORD),
                "a response shows the password: {text}"
            );
        }
        let log = self.process.log_text();
        assert!(
            !log.contains(SOURCE_PASSWORD),
            "the log shows the password:\n{log}"
        );
    }
}

/// A MariaDB user with only the grants a task needs, and a password of its own.
async fn create_source_user(root: &mut mysql_async::Conn) {
    for sql in [
        format!("CREATE USER IF NOT EXISTS '{SOURCE_USER}'@'%' IDENTIFIED BY '{SOURCE_PASSWORD}'"),
        format!("ALTER USER '{SOURCE_USER}'@'%' IDENTIFIED BY '{SOURCE_PASSWORD}'"),
        format!(
            "GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '{SOURCE_USER}'@'%'"
        ),
    ] {
        root.query_drop(sql)
            .await
            .expect("creating the test's MariaDB user");
    }
}

fn source_url(password: &str) -> String {
    format!("mysql://{SOURCE_USER}:{password}@{}", mysql_host_port())
}

fn task_config(name: &str, dir: &TempDir) -> Value {
    json!({
        "name": name,
        "source": {"url": source_url(SOURCE_PASSWORD), "server_id": SERVER_ID},
        "sinks": [
            {"type": "kafka", "name": "events", "brokers": common::kafka::brokers(), "topic": "sluice.probe.events"},
            {"type": "redis", "name": "cache", "url": format!("{}/0", redis_url())},
            {"type": "file", "name": "lines", "path": dir.0.join("out/events.jsonl").display().to_string()}
        ]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_test_reports_what_each_service_answered() {
    let mut root = common::root_conn().await;
    create_source_user(&mut root).await;
    let mut manager = Manager::start("probe-connections");
    let admin = manager.login("admin", ADMIN_PASSWORD);
    let files = TempDir::new("probe-connections-files");
    let config = task_config("probe-ok", &files);

    let (code, report) = manager.call("POST", "/connections/test", Some(&admin), Some(&config));
    assert_eq!(code, 200, "{report}");
    let source = &report["source"];
    assert_eq!(source["ok"], true, "{report}");
    let detail = source["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("MariaDB") && detail.contains("binlog ROW"),
        "{report}"
    );
    assert_eq!(source["error"], Value::Null);
    let sinks = report["sinks"].as_array().expect("sinks");
    let kinds: Vec<(&str, &str)> = sinks
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or(""),
                s["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("events", "kafka"), ("cache", "redis"), ("lines", "file")]
    );
    for sink in sinks {
        assert_eq!(sink["ok"], true, "{sink}");
    }
    assert!(
        sinks[0]["detail"].as_str().unwrap().contains("broker"),
        "{report}"
    );
    assert!(
        sinks[1]["detail"]
            .as_str()
            .unwrap()
            .contains("answered PING"),
        "{report}"
    );
    assert!(
        sinks[2]["detail"].as_str().unwrap().contains("writable"),
        "{report}"
    );

    // A stored task's password stands in for `***`.
    let (code, body) = manager.call("POST", "/tasks", Some(&admin), Some(&config));
    assert_eq!(code, 201, "{body}");
    let mut hidden = config.clone();
    hidden["source"]["url"] = json!(source_url("***"));
    let (code, report) = manager.call(
        "POST",
        "/connections/test?task=probe-ok",
        Some(&admin),
        Some(&hidden),
    );
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["source"]["ok"], true, "{report}");

    let viewer = manager.viewer(&admin);
    let (code, body) = manager.call("POST", "/connections/test", Some(&viewer), Some(&config));
    assert_eq!(code, 403, "{body}");
    manager.assert_no_secret();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_connection_test_names_the_host_and_the_step() {
    let mut root = common::root_conn().await;
    create_source_user(&mut root).await;
    let mut manager = Manager::start("probe-failures");
    let admin = manager.login("admin", ADMIN_PASSWORD);
    let files = TempDir::new("probe-failures-files");
    let mut config = task_config("probe-bad", &files);
    config["source"]["url"] = json!(source_url("wrong-pw-123"));
    config["sinks"][0]["brokers"] = json!("127.0.0.1:1");
    config["sinks"][1]["url"] = json!("redis://127.0.0.1:1/0");

    let (code, report) = manager.call("POST", "/connections/test", Some(&admin), Some(&config));
    assert_eq!(code, 200, "{report}");
    let error = |v: &Value| v["error"].as_str().unwrap_or_default().to_string();
    assert_eq!(report["source"]["ok"], false, "{report}");
    let source = error(&report["source"]);
    assert!(source.contains("refused the login"), "{source}");
    assert!(
        source.contains(&mysql_host_port()) && source.contains(SOURCE_USER),
        "{source}"
    );
    assert!(!source.contains("wrong-pw-123"), "{source}");
    let kafka = error(&report["sinks"][0]);
    assert!(
        kafka.contains("127.0.0.1:1") && kafka.contains("answered within"),
        "{kafka}"
    );
    let redis = error(&report["sinks"][1]);
    assert!(
        redis.contains("127.0.0.1:1") && redis.contains("cannot connect"),
        "{redis}"
    );
    assert_eq!(report["sinks"][2]["ok"], true, "{report}");

    // A port nothing listens on: the connection itself fails, named.
    config["source"]["url"] = json!(format!(
        "mysql://{SOURCE_USER}:{SOURCE_PASSWORD}@127.0.0.1:1"
    ));
    let (code, report) = manager.call("POST", "/connections/test", Some(&admin), Some(&config));
    assert_eq!(code, 200, "{report}");
    let source = error(&report["source"]);
    assert!(
        source.contains("127.0.0.1:1") && source.contains("cannot connect"),
        "{source}"
    );
    manager.assert_no_secret();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preview_shows_the_rows_written_while_it_waits() {
    let mut root = common::root_conn().await;
    create_source_user(&mut root).await;
    let db = common::fresh_database(&mut root, "probe_preview").await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(8,2))"
    ))
    .await
    .unwrap();
    root.query_drop(format!("CREATE TABLE `{db}`.noise (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let mut manager = Manager::start("probe-preview");
    let admin = manager.login("admin", ADMIN_PASSWORD);
    let files = TempDir::new("probe-preview-files");
    let mut config = task_config("probe-preview", &files);
    config["filters"] = json!({"include": [format!("{db}\\.items")]});

    let viewer = manager.viewer(&admin);
    let (code, body) = manager.call("POST", "/preview", Some(&viewer), Some(&config));
    assert_eq!(code, 403, "{body}");

    // The preview opens its stream at the binlog's end now, so the rows come after it started.
    let addr = manager.addr.clone();
    let request = config.clone();
    let token = admin.clone();
    let preview = std::thread::spawn(move || {
        http::api(
            &addr,
            "POST",
            "/preview?limit=3&wait_ms=20000",
            Some(&token),
            Some(&request),
        )
    });
    tokio::time::sleep(Duration::from_millis(2000)).await;
    root.query_drop(format!("INSERT INTO `{db}`.noise VALUES (1)"))
        .await
        .unwrap();
    root.query_drop(format!(
        "INSERT INTO `{db}`.items VALUES (1, 'kettle', 19.90), (2, 'teapot', 24.50)"
    ))
    .await
    .unwrap();
    root.query_drop(format!(
        "UPDATE `{db}`.items SET price = 21.00 WHERE id = 1"
    ))
    .await
    .unwrap();
    let (code, body) = preview.join().expect("the preview request");
    manager.responses.push(body.to_string());
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["complete"], true, "{body}");
    assert!(
        body["from"].as_str().is_some_and(|f| f.contains(':')),
        "{body}"
    );
    assert!(
        body["waited_ms"].as_u64().is_some_and(|w| w < 20_000),
        "{body}"
    );
    let events = body["events"].as_array().expect("events");
    let seen: Vec<(Value, Value, Value)> = events
        .iter()
        .map(|e| (e["op"].clone(), e["table"].clone(), e["after"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                json!("c"),
                json!("items"),
                json!({"id": 1, "name": "kettle", "price": "19.90"})
            ),
            (
                json!("c"),
                json!("items"),
                json!({"id": 2, "name": "teapot", "price": "24.50"})
            ),
            (
                json!("u"),
                json!("items"),
                json!({"id": 1, "name": "kettle", "price": "21.00"})
            ),
        ],
        "{body}"
    );
    assert_eq!(events[2]["before"]["price"], "19.90", "{body}");
    assert!(
        events
            .iter()
            .all(|e| e["db"] == db && e["source"]["file"].is_string()),
        "{body}"
    );

    // Nothing written: the wait runs out, and the answer says so.
    let (code, body) = manager.call(
        "POST",
        "/preview?limit=1&wait_ms=500",
        Some(&admin),
        Some(&config),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (body["complete"].clone(), body["events"].clone()),
        (json!(false), json!([])),
        "{body}"
    );
    let (code, body) = manager.call(
        "POST",
        "/preview?wait_ms=40000",
        Some(&admin),
        Some(&config),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "wait_ms", "{body}");

    // A source that refuses the login: 502 naming it.
    config["source"]["url"] = json!(source_url("wrong-pw-123"));
    let (code, body) = manager.call("POST", "/preview?wait_ms=500", Some(&admin), Some(&config));
    assert_eq!(code, 502, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("refused the login") && error.contains(SOURCE_USER),
        "{body}"
    );
    manager.assert_no_secret();
    root.query_drop(format!("DROP DATABASE `{db}`"))
        .await
        .unwrap();
}
