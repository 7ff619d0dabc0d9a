//! Servers that do not put column names in the binlog (`binlog_row_metadata=MINIMAL`, as MySQL
//! 5.7 and MariaDB before 10.5): names, signedness, charsets and ENUM members come from
//! information_schema, and are read again after DDL. Also: starting from a MariaDB GTID.

mod common;

use common::extra_mariadb::ExtraMariadb;
use mysql_async::prelude::Queryable;
use serde_json::json;

fn dump(args: &[&str]) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(common::sluice_bin())
        .arg("dump")
        .args(args)
        .output()
        .expect("sluice runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::parse_lines(&out.stdout)
}

#[tokio::test]
async fn minimal_row_metadata_uses_information_schema_and_follows_ddl() {
    let server = ExtraMariadb::start("mariadb-minimal-meta", 13346, "binlog_row_metadata=MINIMAL");
    assert_eq!(server.variable("binlog_row_metadata").await, "MINIMAL");
    let opts =
        mysql_async::Opts::from_url(&format!("mysql://root@127.0.0.1:{}", server.port)).unwrap();
    let mut root = mysql_async::Conn::new(opts).await.unwrap();
    let db = common::fresh_database(&mut root, "minimal_meta").await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.t (id INT UNSIGNED PRIMARY KEY, big BIGINT UNSIGNED,
           name VARCHAR(20) CHARACTER SET latin1, color ENUM('red','green'))"
    ))
    .await
    .unwrap();
    // Sluice streams while the table changes, as a task does: each definition is read when
    // the table is first seen, and again after the DDL.
    let from = common::binlog_end(&mut root).await;
    let out_path =
        std::env::temp_dir().join(format!("sluice-minimal-{}.jsonl", std::process::id()));
    let out_file = std::fs::File::create(&out_path).unwrap();
    let mut child = std::process::Command::new(common::sluice_bin())
        .args(["dump", "--source", &server.url("sluice"), "--from", &from])
        .args(["--server-id", "4100501"])
        .stdout(out_file)
        .spawn()
        .unwrap();
    let wait_rows = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let events = common::parse_lines(&std::fs::read(&out_path).unwrap());
            let rows: Vec<serde_json::Value> =
                common::rows_of(&events, &db).into_iter().cloned().collect();
            if rows.len() >= n || std::time::Instant::now() > deadline {
                return rows;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    root.query_drop(format!(
        "INSERT INTO `{db}`.t VALUES (4294967295, 18446744073709551615, 'café', 'green')"
    ))
    .await
    .unwrap();
    assert_eq!(wait_rows(1).len(), 1);
    root.query_drop(format!(
        "ALTER TABLE `{db}`.t ADD COLUMN note VARCHAR(10) AFTER id"
    ))
    .await
    .unwrap();
    root.query_drop(format!(
        "INSERT INTO `{db}`.t VALUES (1, 'after ddl', 2, 'x', 'red')"
    ))
    .await
    .unwrap();
    let rows = wait_rows(2);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&out_path);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(
        rows[0]["after"],
        json!({"id": 4294967295u64, "big": 18446744073709551615u64, "name": "café", "color": "green"})
    );
    assert_eq!(rows[0]["pk"], json!(["id"]));
    // After the ALTER the new column is known by name, in its place.
    assert_eq!(
        rows[1]["after"],
        json!({"id": 1, "note": "after ddl", "big": 2, "name": "x", "color": "red"})
    );
    root.disconnect().await.unwrap();
}

#[tokio::test]
async fn starts_after_a_mariadb_gtid() {
    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, "gtid_start").await;
    root.query_drop(format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    root.query_drop(format!("INSERT INTO `{db}`.t VALUES (1)"))
        .await
        .unwrap();
    // The binlog state after row 1: starting from it, Sluice begins with row 2.
    let state: String = root
        .query_first("SELECT @@GLOBAL.gtid_binlog_pos")
        .await
        .unwrap()
        .unwrap();
    root.query_drop(format!("INSERT INTO `{db}`.t VALUES (2)"))
        .await
        .unwrap();
    root.query_drop(format!("INSERT INTO `{db}`.t VALUES (3)"))
        .await
        .unwrap();
    let until = common::binlog_end(&mut root).await;
    let events = dump(&[
        "--source",
        &common::mysql_url(),
        "--gtid",
        &state,
        "--until",
        &until,
        "--server-id",
        "4100401",
    ]);
    let ids: Vec<i64> = common::rows_of(&events, &db)
        .iter()
        .map(|r| r["after"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [2, 3], "{events:#?}");
    let first = common::rows_of(&events, &db)[0];
    assert!(first["source"]["gtid"]
        .as_str()
        .unwrap()
        .starts_with("0-1-"));
    root.disconnect().await.unwrap();
}
