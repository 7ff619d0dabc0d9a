//! Shared helpers of the end-to-end tests. The tests run against the real services that
//! `tests/services/start.sh` starts; a missing service fails the test with a message saying
//! how to start it, never a silent pass.
#![allow(dead_code)]

pub mod column_history;
pub mod extra_mariadb;
pub mod http;
pub mod kafka;
pub mod private_services;
pub mod redis_table;
pub mod rng;
pub mod standalone;

use std::path::PathBuf;
use std::process::Command;

use mysql_async::prelude::Queryable;

/// Replication user URL (REPLICATION SLAVE/CLIENT, SELECT, ALL on `sluice\_%`).
pub fn mysql_url() -> String {
    std::env::var("SLUICE_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://sluice:sluice@127.0.0.1:13306".into())
}

/// Root URL, for DDL, workloads and server settings.
pub fn root_url() -> String {
    std::env::var("SLUICE_TEST_MYSQL_ROOT_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:13306".into())
}

/// A root connection to the test MariaDB, or a panic that says how to start it.
pub async fn root_conn() -> mysql_async::Conn {
    let url = root_url();
    let opts = mysql_async::Opts::from_url(&url).expect("SLUICE_TEST_MYSQL_ROOT_URL is a URL");
    match mysql_async::Conn::new(opts).await {
        Ok(c) => c,
        Err(e) => panic!(
            "the MariaDB test service is not reachable at {url} ({e}): start it with \
             `bash tests/services/start.sh mariadb` (install first: tests/services/install.sh)"
        ),
    }
}

/// Drops and creates database `sluice_test_<name>`; returns its name.
pub async fn fresh_database(conn: &mut mysql_async::Conn, name: &str) -> String {
    let db = format!("sluice_test_{name}");
    conn.query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
        .await
        .unwrap();
    conn.query_drop(format!("CREATE DATABASE `{db}`"))
        .await
        .unwrap();
    db
}

/// The server's current binlog end as `FILE:POS`.
pub async fn binlog_end(conn: &mut mysql_async::Conn) -> String {
    let mut row: mysql_async::Row = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .unwrap()
        .expect("binary logging is on");
    let file: String = row.take(0).expect("SHOW MASTER STATUS has a File column");
    let pos: u64 = row
        .take(1)
        .expect("SHOW MASTER STATUS has a Position column");
    format!("{file}:{pos}")
}

/// The `sluice` binary built for these tests.
pub fn sluice_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sluice"))
}

/// Runs `sluice dump --source` over `[from, until)` and returns every event (parsed JSON).
pub fn dump_range(from: &str, until: &str) -> Vec<serde_json::Value> {
    let out = Command::new(sluice_bin())
        .args([
            "dump",
            "--source",
            &mysql_url(),
            "--from",
            from,
            "--until",
            until,
        ])
        .output()
        .expect("sluice runs");
    assert!(
        out.status.success(),
        "sluice dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_lines(&out.stdout)
}

/// Parses JSON lines.
pub fn parse_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The row events of database `db` (other tests write to the same server concurrently).
pub fn rows_of<'a>(events: &'a [serde_json::Value], db: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|e| e["db"] == db && matches!(e["op"].as_str(), Some("c" | "u" | "d")))
        .collect()
}

/// The folder of the shared binlog fixtures (`../shared/fixtures/mysql-binlogs`).
pub fn fixture_dir() -> PathBuf {
    let dir = std::env::var("SLUICE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/mysql-binlogs")
        });
    assert!(
        dir.is_dir(),
        "binlog fixtures not found at {}: the repository must have ../shared beside it, or \
         set SLUICE_FIXTURES",
        dir.display()
    );
    dir
}

/// Polls `check` every 200 ms until it gives a value; fails the test after `within`, with
/// what was awaited and the last problem `check` reported.
pub async fn wait_for<T>(
    what: &str,
    within: std::time::Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let t = std::time::Instant::now();
    loop {
        match check() {
            Ok(v) => return v,
            Err(problem) => assert!(
                t.elapsed() < within,
                "{what}: not within {within:?}: {problem}"
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
