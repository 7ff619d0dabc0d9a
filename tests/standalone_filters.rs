//! `sluice standalone` with `[tasks.filters]` against the test MariaDB: only the included
//! table's inserts and deletes reach the file sink, without the excluded column, in column
//! order; and the checkpoint still moves past transactions (and a DDL) the filters dropped
//! entirely, and into a new binlog file with nothing in it yet. Also: `check-config` names a bad filter pattern's field.

mod common;

use common::standalone::TempDir;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

/// The replica server id of this test: unique on the shared server.
const SERVER_ID: u32 = 4_100_601;
/// How long the pipeline may take to show a change.
const WAIT: Duration = Duration::from_secs(30);

/// A running `sluice standalone`, killed if the test ends while it still runs.
struct Sluice {
    child: Child,
    log: PathBuf,
}

impl Sluice {
    fn start(config: &Path, log: PathBuf) -> Sluice {
        let child = Command::new(common::sluice_bin())
            .args(["standalone", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("sluice starts");
        Sluice { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "sluice ended by itself ({status}); its log:\n{}",
                self.log_text()
            );
        }
    }

    /// SIGTERM, then waits (bounded) for the exit.
    fn terminate(&mut self) -> ExitStatus {
        self.assert_running();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "sluice did not exit within {WAIT:?} of SIGTERM; its log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The complete lines of the sink's file, as text and parsed.
fn read_output(path: &Path) -> Vec<(String, Value)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return vec![],
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    };
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    text[..complete]
        .lines()
        .map(|l| {
            let v = serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"));
            (l.to_string(), v)
        })
        .collect()
}

fn is_row(event: &Value) -> bool {
    matches!(event["op"].as_str(), Some("c" | "u" | "d" | "r"))
}

/// `FILE:POS` as a comparable pair (binlog file names sort in order: fixed-width numbers).
fn position(text: &str) -> (String, u64) {
    let (file, pos) = text
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{text:?} is not FILE:POS"));
    (file.to_string(), pos.parse().unwrap())
}

/// The saved checkpoint's position, if there is one yet.
fn checkpoint_position(path: &Path) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("checkpoint {} is not JSON ({e}): {text}", path.display()));
    Some((
        json["position"]["file"].as_str()?.to_string(),
        json["position"]["pos"].as_u64()?,
    ))
}

/// Polls until `done` holds; panics (with sluice's log) after `WAIT`.
async fn wait_until(sluice: &mut Sluice, what: &str, done: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !done() {
        sluice.assert_running();
        assert!(
            t0.elapsed() < WAIT,
            "{what} did not happen within {WAIT:?}; sluice's log:\n{}",
            sluice.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_pass_only_included_rows_and_columns_and_the_checkpoint_still_advances() {
    let mut root = common::root_conn().await;
    let shop = common::fresh_database(&mut root, "filters_shop").await;
    let inv = common::fresh_database(&mut root, "filters_inv").await;
    for ddl in [
        format!(
            "CREATE TABLE `{shop}`.orders (id BIGINT PRIMARY KEY, item VARCHAR(32), \
             secret VARCHAR(32), qty INT)"
        ),
        format!("CREATE TABLE `{shop}`.orders_audit (id BIGINT PRIMARY KEY, note VARCHAR(32))"),
        format!("CREATE TABLE `{inv}`.items (id BIGINT PRIMARY KEY, secret VARCHAR(32), qty INT)"),
    ] {
        root.query_drop(ddl).await.unwrap();
    }
    let start = common::binlog_end(&mut root).await;

    let dir = TempDir::new("e2e");
    let data_dir = dir.0.join("data");
    let output = dir.0.join("out").join("events.jsonl");
    let checkpoint = data_dir.join("filters").join("checkpoint.json");
    // TOML literal strings ('...') keep the regex backslashes as written.
    let config = format!(
        "data_dir = '{data}'\n\
         [[tasks]]\n\
         name = \"filters\"\n\
         [tasks.source]\n\
         url = \"{url}\"\n\
         server_id = {SERVER_ID}\n\
         start = \"{start}\"\n\
         [[tasks.sinks]]\n\
         type = \"file\"\n\
         path = '{out}'\n\
         [tasks.filters]\n\
         include = ['{shop}\\.orders.*']\n\
         exclude = ['{shop}\\.orders_audit']\n\
         exclude_columns = ['.*\\..*\\.secret']\n\
         ops = [\"c\", \"d\"]\n\
         ddl = false\n",
        data = data_dir.display(),
        url = common::mysql_url(),
        out = output.display(),
    );
    assert!(!config.contains("\\\\"), "{config}");
    let config_path = dir.0.join("sluice.toml");
    std::fs::write(&config_path, &config).unwrap();
    let mut sluice = Sluice::start(&config_path, dir.0.join("run.log"));

    // Phase 1: changes to every table; only inserts and deletes of `orders` pass.
    let mut tx = root
        .start_transaction(mysql_async::TxOpts::default())
        .await
        .unwrap();
    for sql in [
        format!("INSERT INTO `{shop}`.orders VALUES (1, 'apple', 's1', 1), (2, 'pear', 's2', 2)"),
        format!("INSERT INTO `{shop}`.orders_audit VALUES (1, 'created')"),
        format!("INSERT INTO `{inv}`.items VALUES (1, 's', 5)"),
    ] {
        tx.query_drop(sql).await.unwrap();
    }
    tx.commit().await.unwrap();
    for sql in [
        format!("UPDATE `{shop}`.orders SET qty = 10 WHERE id = 1"),
        format!("DELETE FROM `{shop}`.orders WHERE id = 2"),
        format!("INSERT INTO `{shop}`.orders VALUES (3, 'plum', NULL, 3)"),
        format!("UPDATE `{inv}`.items SET qty = 6 WHERE id = 1"),
        format!("DELETE FROM `{inv}`.items WHERE id = 1"),
    ] {
        root.query_drop(sql).await.unwrap();
    }
    let phase1_end = position(&common::binlog_end(&mut root).await);
    wait_until(&mut sluice, "a checkpoint past the first phase", || {
        checkpoint_position(&checkpoint).is_some_and(|c| c >= phase1_end)
    })
    .await;

    // Phase 2: only changes the filters drop (excluded tables, an excluded op on the included
    // table), then a DDL (ddl = false) as the very last event.
    for sql in [
        format!("INSERT INTO `{inv}`.items VALUES (2, 's', 7)"),
        format!("INSERT INTO `{shop}`.orders_audit VALUES (2, 'more')"),
        format!("UPDATE `{shop}`.orders SET qty = 11 WHERE id = 3"),
        format!("UPDATE `{inv}`.items SET qty = 8 WHERE id = 2"),
        format!("CREATE TABLE `{inv}`.later (id INT PRIMARY KEY)"),
    ] {
        root.query_drop(sql).await.unwrap();
    }
    let end = position(&common::binlog_end(&mut root).await);
    wait_until(&mut sluice, "a checkpoint at the binlog end", || {
        checkpoint_position(&checkpoint).is_some_and(|c| c >= end)
    })
    .await;

    // Phase 3: the server moves to a new binlog file and writes nothing more. The checkpoint
    // follows into the new file: a quiet task must not keep pointing into a file the server
    // may purge (its restart would then fail although nothing was missed).
    root.query_drop("FLUSH BINARY LOGS").await.unwrap();
    let rotated = position(&common::binlog_end(&mut root).await);
    assert!(
        rotated.0 > end.0,
        "FLUSH BINARY LOGS: {end:?} -> {rotated:?}"
    );
    wait_until(&mut sluice, "a checkpoint in the new binlog file", || {
        checkpoint_position(&checkpoint).is_some_and(|c| c >= rotated)
    })
    .await;
    let end = rotated;
    let status = sluice.terminate();
    assert!(
        status.success(),
        "sluice exits 0 on SIGTERM, not {status}; its log:\n{}",
        sluice.log_text()
    );
    let saved = checkpoint_position(&checkpoint).expect("a checkpoint after SIGTERM");
    assert!(saved >= end, "the checkpoint {saved:?} is behind {end:?}");

    let lines = read_output(&output);
    let rows: Vec<&(String, Value)> = lines.iter().filter(|(_, e)| is_row(e)).collect();
    let expected = [
        (
            "c",
            r#""before":null,"after":{"id":1,"item":"apple","qty":1}"#,
        ),
        (
            "c",
            r#""before":null,"after":{"id":2,"item":"pear","qty":2}"#,
        ),
        (
            "d",
            r#""before":{"id":2,"item":"pear","qty":2},"after":null"#,
        ),
        (
            "c",
            r#""before":null,"after":{"id":3,"item":"plum","qty":3}"#,
        ),
    ];
    let texts: Vec<&str> = rows.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(rows.len(), expected.len(), "row events: {texts:#?}");
    for ((text, event), (op, images)) in rows.iter().zip(expected) {
        assert_eq!(event["op"], op, "{text}");
        assert_eq!(event["db"], shop.as_str(), "{text}");
        assert_eq!(event["table"], "orders", "{text}");
        assert_eq!(event["pk"], json!(["id"]), "{text}");
        // The images as written: `secret` gone, the other columns in table order.
        assert!(text.contains(images), "expected {images} in {text}");
    }
    assert!(
        !lines.iter().any(|(_, e)| e["op"] == "ddl"),
        "ddl = false, yet the output has DDL"
    );
    // The transactions of phase 2 were filtered out whole, markers included: no row, and the
    // checkpoint still moved past them (checked above).
    let last_row = lines.iter().rposition(|(_, e)| is_row(e)).unwrap_or(0);
    let markers_after = lines.len() - last_row - 1;
    println!(
        "start {start}; end {end:?}; checkpoint {saved:?}; {} lines, {} row events, \
         {markers_after} lines after the last row",
        lines.len(),
        rows.len()
    );
}

#[test]
fn check_config_names_a_bad_filter_pattern() {
    let dir = TempDir::new("bad");
    let config = dir.0.join("sluice.toml");
    let text = format!(
        "data_dir = '{}'\n\
         [[tasks]]\n\
         name = \"filters\"\n\
         [tasks.source]\n\
         url = \"mysql://sluice:sluice@127.0.0.1:13306\"\n\
         [[tasks.sinks]]\n\
         type = \"file\"\n\
         path = \"-\"\n\
         [tasks.filters]\n\
         include = ['shop\\.orders', 'inventory\\.(x']\n\
         include_columns = ['a\\.b\\.c']\n\
         exclude_columns = ['a\\.b\\.d']\n",
        dir.0.join("data").display()
    );
    std::fs::write(&config, text).unwrap();
    let out = Command::new(common::sluice_bin())
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .expect("sluice runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    for needle in [
        "invalid config: 2 problems:",
        "`tasks[0].filters.include[1]` = \"inventory\\\\.(x\": not a valid regex: unclosed group",
        "`tasks[0].filters.include_columns`: `include_columns` and `exclude_columns` are both set",
    ] {
        assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
    }
}
