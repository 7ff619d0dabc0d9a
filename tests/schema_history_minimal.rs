//! The schema history, on a server without column names in the binlog
//! (`binlog_row_metadata=MINIMAL`): every row decodes with the columns its table had when the
//! row was written, though information_schema already shows the table's final shape; also
//! after a restart from an old checkpoint. A DDL the history cannot read stops the task and
//! names the statement and its position.
//!
//! Needs `mariadbd` (tests/services/install.sh); each test runs its own MariaDB instance.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::column_history;
use common::extra_mariadb::ExtraMariadb;
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

struct Setup {
    config: PathBuf,
    output: PathBuf,
    task_dir: PathBuf,
}

fn write_config(dir: &Path, url: &str, start: &str, server_id: u32) -> Setup {
    let data_dir = dir.join("data");
    let output = dir.join("events.jsonl");
    let text = format!(
        "data_dir = {data:?}\n\n[[tasks]]\nname = \"history\"\n\n[tasks.source]\n\
         url = {url:?}\nserver_id = {server_id}\nstart = {start:?}\n\n\
         [[tasks.sinks]]\ntype = \"file\"\npath = {out:?}\n",
        data = data_dir.display().to_string(),
        out = output.display().to_string(),
    );
    let config = dir.join("sluice.toml");
    std::fs::write(&config, text).unwrap();
    Setup {
        config,
        output,
        task_dir: data_dir.join("history"),
    }
}

/// The row events of `db` in the sink's output, once there are `n` (30 s at most).
fn wait_rows(sluice: &mut StandaloneProcess, output: &Path, db: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let events = common::parse_lines(&std::fs::read(output).unwrap_or_default());
        let rows: Vec<Value> = common::rows_of(&events, db).into_iter().cloned().collect();
        if rows.len() >= n {
            return rows;
        }
        sluice.assert_running();
        assert!(
            Instant::now() < deadline,
            "only {} of {n} rows after 30 s: {rows:#?}\nlog:\n{}",
            rows.len(),
            sluice.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn minimal_server(name: &'static str, port: u16) -> (ExtraMariadb, mysql_async::Conn) {
    let server = ExtraMariadb::start(name, port, "binlog_row_metadata=MINIMAL");
    assert_eq!(server.variable("binlog_row_metadata").await, "MINIMAL");
    let opts = mysql_async::Opts::from_url(&format!("mysql://root@127.0.0.1:{port}")).unwrap();
    let root = mysql_async::Conn::new(opts).await.unwrap();
    (server, root)
}

#[tokio::test]
async fn rows_decode_with_the_columns_of_their_time_also_after_a_restart_from_an_old_checkpoint() {
    let (server, mut root) = minimal_server("mariadb-history", 13348).await;
    let db = common::fresh_database(&mut root, "history_minimal").await;
    // Everything is written before Sluice starts, from a position before all of it: when it
    // reads the rows, information_schema shows only the final (id, remark).
    let from = common::binlog_end(&mut root).await;
    let t = format!("`{db}`.t");
    root.query_drop(column_history::create_table(&t))
        .await
        .unwrap();
    root.query_drop(column_history::first_row(&t))
        .await
        .unwrap();
    root.query_drop(column_history::add_column(&t))
        .await
        .unwrap();
    // A checkpoint here (after the ADD COLUMN) is the old one the second run starts from.
    let after_add = common::binlog_end(&mut root).await;
    for sql in column_history::after_add_column(&t) {
        root.query_drop(sql).await.unwrap();
    }

    let dir = TempDir::new("schema-history");
    let setup = write_config(&dir.0, &server.url("sluice"), &from, 4_500_901);
    let mut sluice = StandaloneProcess::start(&setup.config, dir.0.join("run-1.log"));
    let rows = wait_rows(&mut sluice, &setup.output, &db, 4);
    column_history::check_rows(&rows, &column_history::expected_rows());
    assert!(
        setup.task_dir.join("schema-history.json").exists(),
        "no schema history next to the checkpoint"
    );
    assert!(sluice.terminate(Duration::from_secs(20)).is_some());

    // Restart from the checkpoint after the ADD COLUMN: the RENAME and DROP the history
    // already holds lie after it, so the rows from there decode as before.
    let (file, pos) = after_add.rsplit_once(':').unwrap();
    let checkpoint =
        json!({"position": {"file": file, "pos": pos.parse::<u64>().unwrap()}, "at_ms": 0});
    std::fs::write(
        setup.task_dir.join("checkpoint.json"),
        serde_json::to_vec(&checkpoint).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(&setup.output).unwrap();
    let mut sluice = StandaloneProcess::start(&setup.config, dir.0.join("run-2.log"));
    let rows = wait_rows(&mut sluice, &setup.output, &db, 3);
    column_history::check_rows(&rows, &column_history::expected_rows()[1..]);
    assert!(sluice.terminate(Duration::from_secs(20)).is_some());
    root.disconnect().await.unwrap();
}

#[tokio::test]
async fn an_unreadable_ddl_stops_the_task_naming_the_statement_and_its_position() {
    let (server, mut root) = minimal_server("mariadb-history-bad-ddl", 13349).await;
    let db = common::fresh_database(&mut root, "history_bad_ddl").await;
    let t = format!("`{db}`.t");
    let from = common::binlog_end(&mut root).await;
    root.query_drop(format!("CREATE TABLE {t} (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    root.query_drop(format!("INSERT INTO {t} VALUES (1)"))
        .await
        .unwrap();
    // MariaDB's system versioning (hidden row_start/row_end columns), which the SQL parser
    // misreads as a column `SYSTEM` of a type `versioning`.
    let before = common::binlog_end(&mut root).await;
    let statement = format!("ALTER TABLE {t} ADD SYSTEM VERSIONING");
    root.query_drop(&statement).await.unwrap();
    // The statement's own event, after the GTID event MariaDB writes first.
    let (file, pos) = before.rsplit_once(':').unwrap();
    let events: Vec<mysql_async::Row> = root
        .query(format!("SHOW BINLOG EVENTS IN '{file}' FROM {pos}"))
        .await
        .unwrap();
    let query_pos = events
        .iter()
        .find(|e| e.get::<String, _>("Event_type").as_deref() == Some("Query"))
        .and_then(|e| e.get::<u64, _>("Pos"))
        .expect("the ALTER is in the binlog");
    let at = format!("{file}:{query_pos}");
    root.query_drop(format!("INSERT INTO {t} VALUES (2)"))
        .await
        .unwrap();

    let dir = TempDir::new("schema-history-bad-ddl");
    let setup = write_config(&dir.0, &server.url("sluice"), &from, 4_500_902);
    let mut sluice = StandaloneProcess::start(&setup.config, dir.0.join("run.log"));
    let status = sluice.wait(Duration::from_secs(60));
    let log = sluice.log_text();
    assert!(
        status.is_some_and(|s| !s.success()),
        "sluice did not stop with an error: {status:?}\n{log}"
    );
    assert!(
        log.contains(&statement),
        "the statement is not named:\n{log}"
    );
    assert!(log.contains(&at), "the position {at} is not named:\n{log}");
    // Nothing after the statement was decoded.
    let events = common::parse_lines(&std::fs::read(&setup.output).unwrap_or_default());
    assert!(
        common::rows_of(&events, &db)
            .iter()
            .all(|r| r["after"]["id"] != json!(2)),
        "{events:#?}"
    );
    root.disconnect().await.unwrap();
}
