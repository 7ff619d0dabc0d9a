//! `sluice standalone` with Kafka sinks against the test MariaDB and the Kafka-compatible test
//! broker: after inserts, repeated updates of the same keys and deletes, every row change
//! arrives once per format, each key's messages in commit order, keyed by the primary key
//! (tables without one by `db.table`). And `check-config` refuses bad Kafka sink settings by
//! field.
//!
//! Only what the Kafka protocol promises is checked (per-partition order, keys, payloads),
//! nothing specific to the test broker. Topic names carry a per-run prefix, so reruns against
//! the same broker never read old messages.

mod common;

use common::standalone::{StandaloneProcess, TempDir};

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Message};
use serde_json::{json, Value};

/// Replica server id of this test: unique on the shared server.
const SERVER_ID: u32 = 4_100_801;
/// How long the messages may take to arrive.
const CATCH_UP: Duration = Duration::from_secs(90);

/// Creates the topics (3 partitions each, so per-key order is tested across partitions), or
/// panics saying how to start the broker.
async fn create_topics(names: &[String]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", common::kafka::brokers())
        .create()
        .expect("an admin client");
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|n| NewTopic::new(n, 3, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = match tokio::time::timeout(
        Duration::from_secs(20),
        admin.create_topics(&topics, &options),
    )
    .await
    {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => panic!("cannot create topics at {}: {e}", common::kafka::brokers()),
        Err(_) => panic!(
            "the Kafka test broker is not reachable at {}: start it with \
             `bash tests/services/start.sh kafka` (install first: tests/services/install.sh)",
            common::kafka::brokers()
        ),
    };
    for r in results {
        if let Err((topic, e)) = r {
            panic!("cannot create topic {topic}: {e}");
        }
    }
}

/// One message as consumed: topic, key as text, value as JSON.
#[derive(Debug)]
struct Received {
    topic: String,
    key: Option<String>,
    value: Value,
}

/// Subscribes to `topics` and reads until `expected` messages arrived per topic (or panics
/// after [`CATCH_UP`] with what came and sluice's log).
async fn consume(
    run: &str,
    topics: &[String],
    expected: &HashMap<String, usize>,
    sluice: &mut StandaloneProcess,
) -> Vec<Received> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", common::kafka::brokers())
        .set("group.id", format!("sluice-test-{run}"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // The test broker answers a group join after about half the session timeout.
        .set("session.timeout.ms", "6000")
        .create()
        .expect("a consumer");
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names).expect("subscribe");
    let mut out = Vec::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let t0 = Instant::now();
    while expected
        .iter()
        .any(|(t, n)| counts.get(t).copied().unwrap_or(0) < *n)
    {
        sluice.assert_running();
        assert!(
            t0.elapsed() < CATCH_UP,
            "not every message arrived within {CATCH_UP:?}: got {counts:?}, expected \
             {expected:?}\nsluice's log:\n{}",
            sluice.log_text()
        );
        let message = match tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await {
            Err(_) => continue,
            Ok(Err(e)) => panic!("consuming failed: {e}"),
            Ok(Ok(m)) => m,
        };
        // A tombstone (no value) reads as null.
        let value: Value = match message.payload() {
            Some(payload) => serde_json::from_slice(payload).expect("the value is JSON"),
            None => Value::Null,
        };
        let key = message
            .key()
            .map(|k| String::from_utf8(k.to_vec()).expect("the key is UTF-8"));
        *counts.entry(message.topic().to_string()).or_default() += 1;
        out.push(Received {
            topic: message.topic().to_string(),
            key,
            value,
        });
    }
    // Anything more would be a duplicate: wait briefly for one.
    if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(2), consumer.recv()).await {
        panic!(
            "an extra message in {}: {:?}",
            m.topic(),
            m.payload().map(String::from_utf8_lossy)
        );
    }
    out
}

/// A change as the test expects it: op (c/u/d) and the row's `updated` counter.
type Change = (String, i64);

/// The row id, op and `updated` of a message of `format`.
fn change_of(format: &str, v: &Value) -> (i64, Change) {
    let (op, row) = match format {
        "maxwell-json" => {
            let op = match v["type"].as_str() {
                Some("insert") => "c",
                Some("update") => "u",
                Some("delete") => "d",
                other => panic!("unexpected maxwell type {other:?}: {v}"),
            };
            (op.to_string(), &v["data"])
        }
        _ => {
            let op = v["op"].as_str().expect("an op").to_string();
            let row = if op == "d" { &v["before"] } else { &v["after"] };
            (op, row)
        }
    };
    let id = row["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"));
    let updated = row["updated"]
        .as_i64()
        .unwrap_or_else(|| panic!("no updated: {v}"));
    (id, (op, updated))
}

fn expected_key(format: &str, db: &str, id: i64) -> Value {
    match format {
        "sluice" => json!({"db": db, "table": "items", "pk": {"id": id}}),
        "debezium-json" => json!({"id": id}),
        "maxwell-json" => json!({"database": db, "table": "items", "pk.id": id}),
        _ => unreachable!("a format of this test"),
    }
}

fn write_config(
    dir: &Path,
    db: &str,
    start: &str,
    sinks: &[(String, String, String)],
) -> std::path::PathBuf {
    let data_dir = dir.join("data");
    let mut text = format!(
        "data_dir = \"{data}\"\n\n[[tasks]]\nname = \"kafka-e2e\"\ncheckpoint_interval_ms = 200\n\n\
         [tasks.source]\nurl = \"{url}\"\nserver_id = {SERVER_ID}\nstart = \"{start}\"\n\n\
         [tasks.filters]\ninclude = [\"{db}\\\\..*\"]\n",
        data = data_dir.display(),
        url = common::mysql_url(),
    );
    for (name, format, topic) in sinks {
        text.push_str(&format!(
            "\n[[tasks.sinks]]\ntype = \"kafka\"\nname = \"{name}\"\nbrokers = \"{}\"\n\
             topic = \"{topic}\"\nformat = \"{format}\"\ntombstones = {tombstones}\n\
             [tasks.sinks.properties]\n\"compression.type\" = \"lz4\"\n",
            common::kafka::brokers(),
            // Debezium's consumers expect a tombstone after each delete.
            tombstones = format == "debezium-json",
        ));
    }
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_arrives_once_per_format_in_per_key_commit_order() {
    let run = common::kafka::run_id();
    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, "kafka_sink").await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.items (id INT NOT NULL PRIMARY KEY, updated INT NOT NULL, \
         v VARCHAR(32) NULL)"
    ))
    .await
    .unwrap();
    root.query_drop(format!("CREATE TABLE `{db}`.nopk (n INT NOT NULL)"))
        .await
        .unwrap();

    let formats = ["sluice", "debezium-json", "maxwell-json"];
    let prefix = |format: &str| format!("t{run}.{}", &format[..1]);
    let topic = |format: &str, table: &str| format!("{}.{db}.{table}", prefix(format));
    let mut topics = Vec::new();
    for format in formats {
        topics.push(topic(format, "items"));
        topics.push(topic(format, "nopk"));
    }
    create_topics(&topics).await;

    let start = common::binlog_end(&mut root).await;
    let dir = TempDir::new("kafka");
    let sinks: Vec<(String, String, String)> = formats
        .iter()
        .map(|f| {
            (
                format!("k-{f}"),
                f.to_string(),
                format!("{}.{{db}}.{{table}}", prefix(f)),
            )
        })
        .collect();
    let config = write_config(&dir.0, &db, &start, &sinks);
    let mut sluice = StandaloneProcess::start(&config, dir.0.join("sluice.log"));

    // The workload, with each key's expected changes in commit order.
    let mut expected: BTreeMap<i64, Vec<Change>> = BTreeMap::new();
    let items = format!("`{db}`.items");
    let mut tx = root.start_transaction(Default::default()).await.unwrap();
    for id in 1..=5 {
        tx.exec_drop(format!("INSERT INTO {items} VALUES (?, 0, 'a')"), (id,))
            .await
            .unwrap();
        expected.entry(id).or_default().push(("c".into(), 0));
    }
    tx.commit().await.unwrap();
    for id in 6..=8 {
        root.exec_drop(format!("INSERT INTO {items} VALUES (?, 0, NULL)"), (id,))
            .await
            .unwrap();
        expected.entry(id).or_default().push(("c".into(), 0));
    }
    for round in 1..=3 {
        if round == 2 {
            // One statement changing every row: one transaction, many rows.
            root.query_drop(format!("UPDATE {items} SET updated = updated + 1"))
                .await
                .unwrap();
        } else {
            for id in 1..=8 {
                root.exec_drop(
                    format!("UPDATE {items} SET updated = updated + 1, v = ? WHERE id = ?"),
                    (format!("r{round}"), id),
                )
                .await
                .unwrap();
            }
        }
        for id in 1..=8 {
            expected.get_mut(&id).unwrap().push(("u".into(), round));
        }
    }
    root.query_drop(format!("DELETE FROM {items} WHERE id IN (1, 2)"))
        .await
        .unwrap();
    root.query_drop(format!("DELETE FROM {items} WHERE id = 8"))
        .await
        .unwrap();
    for id in [1, 2, 8] {
        expected.get_mut(&id).unwrap().push(("d".into(), 3));
    }
    root.query_drop(format!("INSERT INTO `{db}`.nopk VALUES (1), (2)"))
        .await
        .unwrap();

    let per_format: usize = expected.values().map(Vec::len).sum();
    let mut counts = HashMap::new();
    // Debezium's topic also has a tombstone after each of the 3 deletes.
    for format in formats {
        let tombstones = if format == "debezium-json" { 3 } else { 0 };
        counts.insert(topic(format, "items"), per_format + tombstones);
        counts.insert(topic(format, "nopk"), 2);
    }
    let received = consume(&run, &topics, &counts, &mut sluice).await;

    for format in formats {
        let items_topic = topic(format, "items");
        let mut got: BTreeMap<i64, Vec<Change>> = BTreeMap::new();
        let mut last_of_key: HashMap<Option<String>, &Value> = HashMap::new();
        for m in received.iter().filter(|m| m.topic == items_topic) {
            let previous = last_of_key.insert(m.key.clone(), &m.value);
            if m.value.is_null() {
                // A tombstone: right after its row's delete, with the same key.
                assert_eq!(format, "debezium-json", "{m:?}");
                assert!(
                    previous.is_some_and(|p| p["op"] == "d"),
                    "a tombstone follows its delete: {m:?} after {previous:?}"
                );
                let (id, _) = change_of(format, previous.expect("checked"));
                got.entry(id).or_default().push(("tombstone".into(), 3));
                continue;
            }
            let (id, change) = change_of(format, &m.value);
            let key: Value = serde_json::from_str(m.key.as_deref().expect("a key"))
                .unwrap_or_else(|e| panic!("{format}: the key is not JSON ({e}): {m:?}"));
            assert_eq!(key, expected_key(format, &db, id), "{format}: {m:?}");
            got.entry(id).or_default().push(change);
            if format == "debezium-json" {
                let v = &m.value;
                assert!(v["op"].is_string() && v.get("before").is_some(), "{v}");
                assert!(v.get("after").is_some(), "{v}");
                assert_eq!(v["source"]["db"], json!(db), "{v}");
                assert_eq!(v["source"]["table"], json!("items"), "{v}");
                assert!(
                    v["source"]["file"].is_string() && v["source"]["pos"].is_u64(),
                    "{v}"
                );
            }
            if format == "maxwell-json" {
                assert!(
                    m.value["xid"].is_u64(),
                    "maxwell rows carry the xid: {}",
                    m.value
                );
            }
        }
        let mut expected = expected.clone();
        if format == "debezium-json" {
            for id in [1, 2, 8] {
                expected.get_mut(&id).unwrap().push(("tombstone".into(), 3));
            }
        }
        assert_eq!(
            got, expected,
            "{format}: each key's changes in commit order"
        );
        // The table without a primary key: keyed by `db.table`.
        let nopk_topic = topic(format, "nopk");
        let nopk: Vec<&Received> = received.iter().filter(|m| m.topic == nopk_topic).collect();
        assert_eq!(nopk.len(), 2);
        for m in nopk {
            assert_eq!(
                m.key.as_deref(),
                Some(format!("{db}.nopk").as_str()),
                "{m:?}"
            );
        }
    }
    // Maxwell marks each transaction's last row: the 5-row insert has exactly one.
    let maxwell_commits = received
        .iter()
        .filter(|m| m.topic == topic("maxwell-json", "items"))
        .filter(|m| m.value["commit"] == json!(true))
        .count();
    // Transactions: 1 (5 inserts) + 3 + 8 + 1 + 8 + 1 + 1 = 23.
    assert_eq!(maxwell_commits, 23);

    let status = sluice.terminate(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "sluice stops cleanly: {status:?}\n{}",
        sluice.log_text()
    );
}

/// Runs `sluice check-config` on a config with one Kafka sink; returns (exit code, stderr).
fn check_config(dir: &Path, sink: &str) -> (Option<i32>, String) {
    let text = format!(
        "data_dir = \"{}/data\"\n[[tasks]]\nname = \"t\"\n[tasks.source]\n\
         url = \"mysql://u:p@127.0.0.1:13306\"\n[[tasks.sinks]]\ntype = \"kafka\"\n{sink}\n",
        dir.display()
    );
    let config = dir.join("sluice.toml");
    std::fs::write(&config, text).unwrap();
    let out = Command::new(common::sluice_bin())
        .args(["check-config", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .expect("sluice runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_refuses_bad_kafka_settings_by_field() {
    let dir = TempDir::new("kafka-config");
    let base = "brokers = \"127.0.0.1:19092\"\ntopic = \"cdc.{db}.{table}\"";
    let (code, stderr) = check_config(&dir.0, base);
    assert_eq!(code, Some(0), "{stderr}");

    let (code, stderr) = check_config(&dir.0, &format!("{base}\nformat = \"avro\""));
    assert_eq!(code, Some(2), "{stderr}");
    for needle in [
        "`tasks[0].sinks[0].format` = \"avro\"",
        "\"sluice\", \"canal-json\", \"debezium-json\" and \"maxwell-json\"",
    ] {
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
    }

    let (code, stderr) = check_config(
        &dir.0,
        "brokers = \"127.0.0.1:19092\"\ntopic = \"cdc/{db}.{table}\"",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("`tasks[0].sinks[0].topic` = \"cdc/{db}.{table}\": '/' cannot be"),
        "{stderr}"
    );

    let (code, stderr) = check_config(
        &dir.0,
        &format!("{base}\n[tasks.sinks.properties]\n\"enable.idempotence\" = \"false\"\n\"sasl.password\" = \"hunter2\""),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("`tasks[0].sinks[0].properties.\"enable.idempotence\"`: Sluice sets"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");

    let (code, stderr) = check_config(
        &dir.0,
        &format!("{base}\npartition_by = \"table\"\ntombstones = true"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "`tasks[0].sinks[0].tombstones` = \"true\": tombstones need the row's primary key"
        ),
        "{stderr}"
    );

    let (code, stderr) = check_config(
        &dir.0,
        &format!(
            "{base}\nexactly_once = true\n[[tasks.sinks]]\ntype = \"file\"\npath = \"-\"\n\
             [[tasks.sinks]]\ntype = \"kafka\"\nname = \"k2\"\n{base}\n\
             [tasks.sinks.properties]\n\"transactional.id\" = \"x\""
        ),
    );
    assert_eq!(code, Some(2), "{stderr}");
    for needle in [
        "`tasks[0].sinks[0].exactly_once` = \"true\": an exactly-once Kafka sink keeps the task's checkpoint",
        "`tasks[0].sinks[2].properties.\"transactional.id\"`: Sluice sets `transactional.id` itself",
    ] {
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
    }
}

#[test]
fn an_unreachable_broker_at_start_is_a_clear_error() {
    let dir = TempDir::new("kafka-unreachable");
    let text = format!(
        "data_dir = \"{}/data\"\n[[tasks]]\nname = \"t\"\n[tasks.source]\nurl = \"{}\"\n\
         server_id = {}\n[[tasks.sinks]]\ntype = \"kafka\"\nname = \"events\"\n\
         brokers = \"127.0.0.1:1\"\ntopic = \"t\"\n",
        dir.0.display(),
        common::mysql_url(),
        SERVER_ID + 1
    );
    let config = dir.0.join("sluice.toml");
    std::fs::write(&config, text).unwrap();
    let started = Instant::now();
    let out = Command::new(common::sluice_bin())
        .args(["standalone", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .expect("sluice runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "sink events: Kafka topic t: no broker of `brokers` = \"127.0.0.1:1\" answered within 10 s"
        ),
        "{stderr}"
    );
    println!("refused in {:.1} s", started.elapsed().as_secs_f64());
}
