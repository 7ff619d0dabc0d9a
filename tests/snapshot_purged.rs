//! `snapshot.on_purged`: a task's checkpoint names a binlog file the server has purged (the task
//! was stopped, rows were written, `FLUSH BINARY LOGS` + `PURGE BINARY LOGS TO` the new file).
//! With the default `on_purged = "fail"` the task stops with the definite error naming the lost
//! position; with `on_purged = "snapshot"` it warns, streams from the binlog's end, snapshots
//! the table, and the file sink's final row per key equals the table, live changes included.
//!
//! Runs on a private MariaDB instance: purging the shared one would break the other tests.
//! Needs `tests/services/mariadb.sh` (MariaDB binaries).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::extra_mariadb::ExtraMariadb;
use common::private_services::free_port;
use common::standalone::{wait_until, StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;

/// The replica server id of this test (unique across the tests).
const SERVER_ID: u32 = 4_750_901;
const WITHIN: Duration = Duration::from_secs(60);

/// The final row per `id` of table `db`.`t` the file sink wrote: the last `c`/`u`/`r` image,
/// or nothing after a `d`.
fn sink_rows(out: &Path, db: &str) -> BTreeMap<i64, String> {
    let bytes = std::fs::read(out).unwrap_or_default();
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut rows = BTreeMap::new();
    for event in common::parse_lines(&bytes[..complete]) {
        if event["db"] != db || event["table"] != "t" {
            continue;
        }
        let image = |side: &str| -> Option<(i64, String)> {
            let row = &event[side];
            Some((row["id"].as_i64()?, row["v"].as_str()?.to_string()))
        };
        match event["op"].as_str() {
            Some("d") => {
                if let Some((id, _)) = image("before") {
                    rows.remove(&id);
                }
            }
            Some(_) => {
                if let Some((id, v)) = image("after") {
                    rows.insert(id, v);
                }
            }
            None => {}
        }
    }
    rows
}

/// Nothing when the file sink's final rows equal the table's; else both.
async fn sink_differs(pool: mysql_async::Pool, out: &Path, db: &str) -> Option<String> {
    let mut conn = pool.get_conn().await.unwrap();
    let table: Vec<(i64, String)> = conn
        .query(format!("SELECT id, v FROM `{db}`.t ORDER BY id"))
        .await
        .unwrap();
    let table: BTreeMap<i64, String> = table.into_iter().collect();
    let sink = sink_rows(out, db);
    (sink != table).then(|| format!("sink {sink:?}, table {table:?}"))
}

/// Purges the binlogs before `file`. MariaDB keeps a file still needed for crash recovery (its
/// binlog checkpoint comes a little after the rotation), so this retries until it is gone.
async fn purge_to(root: &mut mysql_async::Conn, file: &str) {
    let t0 = std::time::Instant::now();
    loop {
        root.query_drop(format!("PURGE BINARY LOGS TO '{file}'"))
            .await
            .unwrap();
        let logs: Vec<(String, u64)> = root.query("SHOW BINARY LOGS").await.unwrap();
        if logs.first().is_some_and(|(first, _)| first == file) {
            return;
        }
        assert!(
            t0.elapsed() < WITHIN,
            "the server keeps binlogs before {file}: {logs:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn write_config(path: &Path, dir: &Path, url: &str, db: &str, on_purged: Option<&str>) {
    let policy = on_purged.map_or(String::new(), |p| format!("on_purged = \"{p}\"\n"));
    std::fs::write(
        path,
        format!(
            "data_dir = '{data}'\n\
             [[tasks]]\n\
             name = \"purged\"\n\
             checkpoint_interval_ms = 100\n\
             [tasks.source]\n\
             url = \"{url}\"\n\
             server_id = {SERVER_ID}\n\
             [[tasks.sinks]]\n\
             type = \"file\"\n\
             path = '{out}'\n\
             [tasks.filters]\n\
             include = ['{db}\\.t']\n\
             [tasks.snapshot]\n\
             signal_table = \"{db}.watermarks\"\n\
             {policy}",
            data = dir.join("data").display(),
            out = dir.join("events.jsonl").display(),
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_resume_position_fails_or_is_replaced_by_a_snapshot() {
    let server = ExtraMariadb::start("mariadb-snapshot-purged", free_port(), "");
    let opts = mysql_async::Opts::from_url(&format!("mysql://root@127.0.0.1:{}", server.port))
        .expect("a root URL");
    let pool = mysql_async::Pool::new(opts);
    let mut root = pool.get_conn().await.unwrap();
    let db = common::fresh_database(&mut root, "snapshot_purged").await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40))"
    ))
    .await
    .unwrap();

    let dir = TempDir::new("snapshot_purged");
    let (config, out) = (dir.0.join("sluice.toml"), dir.0.join("events.jsonl"));
    let url = server.url("sluice");
    write_config(&config, &dir.0, &url, &db, None);

    // A first run streams row 1 and checkpoints after it.
    let mut sluice = StandaloneProcess::start(&config, dir.0.join("run1.log"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    root.query_drop(format!("INSERT INTO `{db}`.t VALUES (1, 'one')"))
        .await
        .unwrap();
    wait_until(&mut sluice, WITHIN, "row 1 streamed", || async {
        let rows = sink_rows(&out, &db);
        (rows.len() != 1).then(|| format!("sink rows {rows:?}"))
    })
    .await;
    let status = sluice.terminate(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "sluice exits 0 on SIGTERM"
    );

    // While it is stopped: changes, then the binlog holding them (and the checkpoint) is purged.
    root.query_drop(format!(
        "INSERT INTO `{db}`.t VALUES (2, 'two'), (3, 'three'); \
         UPDATE `{db}`.t SET v = 'one again' WHERE id = 1"
    ))
    .await
    .unwrap();
    root.query_drop("FLUSH BINARY LOGS").await.unwrap();
    let end = common::binlog_end(&mut root).await;
    let (file, _) = end.split_once(':').expect("FILE:POS");
    purge_to(&mut root, file).await;

    // `fail` (the default): the definite error, naming the lost position.
    let mut failing = StandaloneProcess::start(&config, dir.0.join("run2.log"));
    let status = failing.wait(WITHIN);
    let log = failing.log_text();
    assert!(
        status.is_some_and(|s| !s.success()),
        "with on_purged = \"fail\" the task stops with an error ({status:?}); log:\n{log}"
    );
    assert!(
        log.contains("is no longer on the server"),
        "the error says the resume position was purged; log:\n{log}"
    );

    // `snapshot`: a warning, then the table's rows as they are now, then live changes.
    write_config(&config, &dir.0, &url, &db, Some("snapshot"));
    let mut sluice = StandaloneProcess::start(&config, dir.0.join("run3.log"));
    wait_until(&mut sluice, WITHIN, "the snapshot", || {
        sink_differs(pool.clone(), &out, &db)
    })
    .await;
    let log = sluice.log_text();
    assert!(
        log.contains("was purged from the server") && log.contains(file),
        "the warning names the lost position and the new start; log:\n{log}"
    );
    root.query_drop(format!(
        "INSERT INTO `{db}`.t VALUES (4, 'four'); DELETE FROM `{db}`.t WHERE id = 2"
    ))
    .await
    .unwrap();
    wait_until(
        &mut sluice,
        WITHIN,
        "live changes after the snapshot",
        || sink_differs(pool.clone(), &out, &db),
    )
    .await;
    let status = sluice.terminate(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "sluice exits 0 on SIGTERM"
    );
    drop(root);
    pool.disconnect().await.unwrap();
}
