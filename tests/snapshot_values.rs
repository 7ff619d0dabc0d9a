//! A snapshot row (op `r`) carries exactly the values the binlog decoder gives for the same data
//! (op `c`), for every column type: rows A are in the table when a task with
//! `snapshot.mode = "initial"` starts (they come out as `r`), and once its snapshot is done the
//! same values are inserted again under new keys (they come out as `c`). Each `r` image must equal
//! its `c` twin field by field, on the shared MariaDB (binlog row metadata FULL) and on an
//! instance with `binlog_row_metadata=MINIMAL`, where the binlog side reads its columns from
//! information_schema. Needs the services of `tests/services/start.sh`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::extra_mariadb::ExtraMariadb;
use common::standalone::{StandaloneProcess, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

/// How long the snapshot, then the binlog copies, may take to reach the file.
const WITHIN: Duration = Duration::from_secs(60);
/// Keys of the binlog copies: the snapshot row's key plus this.
const COPY: i64 = 1000;

/// One column of every type family, in several charsets.
const CREATE: &str = "CREATE TABLE t (id INT PRIMARY KEY,
    ti TINYINT, flag TINYINT(1), si SMALLINT, mi MEDIUMINT, i INT, bi BIGINT,
    tu TINYINT UNSIGNED, su SMALLINT UNSIGNED, mu MEDIUMINT UNSIGNED, iu INT UNSIGNED,
    bu BIGINT UNSIGNED, de DECIMAL(20,6), du DECIMAL(5,0) UNSIGNED, f FLOAT, d DOUBLE,
    dt DATE, tm TIME, tm3 TIME(3), dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP NULL,
    ts3 TIMESTAMP(3) NULL, y YEAR,
    c CHAR(10), vc VARCHAR(40), l1 VARCHAR(40) CHARACTER SET latin1,
    gb VARCHAR(40) CHARACTER SET gbk, sj TEXT CHARACTER SET sjis, tx TEXT, lt LONGTEXT,
    bn BINARY(6), vb VARBINARY(16), bl BLOB,
    e ENUM('small','medium','large'), el ENUM('ä','ö') CHARACTER SET latin1,
    s SET('a','b','c'), b1 BIT(1), b13 BIT(13), b64 BIT(64),
    j JSON, g GEOMETRY, p POINT)";

/// The rows (values of every column after `id`) as SQL literals: edges of each type.
const ROWS: [&str; 5] = [
    // Minimums, negative values, zero dates.
    "-128, 0, -32768, -8388608, -2147483648, -9223372036854775808, 0, 0, 0, 0, 0,
     '-99999999999999.999999', 0, -3.4e38, -1.7976931348623157e308,
     '0000-00-00', '-838:59:59', '-00:00:00.500', '0000-00-00 00:00:00',
     '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000', 0,
     '', '', '', '', '', '', '', x'', x'', x'', '', 'ä', '', 0, 0, 0,
     '{}', ST_GeomFromText('POINT(0 0)'), ST_GeomFromText('POINT(-1 -2)', 4326)",
    // Maximums.
    "127, 1, 32767, 8388607, 2147483647, 9223372036854775807, 255, 65535, 16777215,
     4294967295, 18446744073709551615, '99999999999999.999999', 99999, 3.4e38,
     1.7976931348623157e308, '9999-12-31', '838:59:59', '838:59:58.999',
     '9999-12-31 23:59:59', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07',
     '2038-01-19 03:14:07.999', 2155, 'abcdefghij', REPEAT('x', 40), REPEAT('ÿ', 40),
     REPEAT('中', 40), REPEAT('日本', 100), REPEAT('t', 300), REPEAT('long ', 200),
     x'ffffffffffff', x'00ff00ff', REPEAT(x'ab', 1000), 'large', 'ö', 'a,b,c', 1, 8191,
     18446744073709551615, '[1, 2.5, \"x\", null, true, {\"k\": [ ]}]',
     ST_GeomFromText('LINESTRING(0 0, 1 1, 2 3)'), ST_GeomFromText('POINT(180 90)')",
    // Everyday values, trailing zero bytes and spaces, fractions.
    "-1, 1, -2, -3, -4, -5, 1, 2, 3, 4, 5, '-12.500000', 7, 1.1, 0.1,
     '2024-02-29', '12:34:56', '-01:02:03.045', '2024-02-29 23:59:59',
     '2024-02-29 23:59:59.000001', '1970-01-01 00:00:01', '2024-01-01 00:00:00.500', 1901,
     'a  ', 'café ☕ 🎉', 'café', '中文字符', 'ｱｲｳ 日本語', 'text with\nnewline', 'x',
     x'610000', x'0000', x'00010200', 'medium', 'ä', 'b', 0, 1, 1,
     '{\"a\": {\"b\": [1, 2]}, \"z\": \"ü\"}',
     ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 0))'), ST_GeomFromText('POINT(1.5 2.25)')",
    // Dates with zero parts; an ENUM/SET value not in the list becomes ''.
    "0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, '0.000001', 1, 0, 0,
     '2024-00-00', '00:00:00', '00:00:00.000', '2024-01-00 10:00:00',
     '2024-00-01 00:00:00.100000', '2000-06-15 12:00:00', '2000-06-15 12:00:00.001', 2000,
     ' lead', 'tail ', 'b', 'c', 'd', 'e', 'f', x'00', x'00', x'00', 'bogus', 'bogus', '', 1,
     4096, 9223372036854775808, 'null', ST_GeomFromText('MULTIPOINT(1 1, 2 2)'),
     ST_GeomFromText('POINT(0 0)')",
    // Every column NULL.
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
];

/// Complete JSON lines of the file sink's output.
fn events(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    common::parse_lines(&bytes[..complete])
}

/// The row events of `op` for table `db`.`t`, by their `id`.
fn rows_by_id(events: &[Value], db: &str, op: &str) -> BTreeMap<i64, Value> {
    events
        .iter()
        .filter(|e| e["db"] == db && e["table"] == "t" && e["op"] == op)
        .filter_map(|e| Some((e["after"]["id"].as_i64()?, e.clone())))
        .collect()
}

/// Polls the output until it has `n` rows of `op`; returns them.
async fn wait_rows(
    sluice: &mut StandaloneProcess,
    out: &Path,
    db: &str,
    op: &str,
    n: usize,
) -> BTreeMap<i64, Value> {
    let t0 = Instant::now();
    loop {
        let rows = rows_by_id(&events(out), db, op);
        if rows.len() >= n {
            return rows;
        }
        sluice.assert_running();
        assert!(
            t0.elapsed() < WITHIN,
            "{} of {n} `{op}` rows after {WITHIN:?}; log:\n{}",
            rows.len(),
            sluice.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the scenario on the server of `root` (a root session) that `url` reaches as the
/// replication user.
async fn r_rows_equal_c_rows(mut root: mysql_async::Conn, url: &str, server_id: u32, tag: &str) {
    let db = common::fresh_database(&mut root, tag).await;
    root.query_drop(format!("USE `{db}`")).await.unwrap();
    // Zero dates and out-of-list ENUM values are stored as written; UTC for TIMESTAMP literals.
    root.query_drop("SET SESSION sql_mode = '', time_zone = '+00:00', NAMES utf8mb4")
        .await
        .unwrap();
    root.query_drop(CREATE)
        .await
        .unwrap_or_else(|e| panic!("{CREATE}: {e}"));
    let insert = |id: i64, values: &str| format!("INSERT INTO t VALUES ({id}, {values})");
    for (k, values) in ROWS.iter().enumerate() {
        let sql = insert(k as i64 + 1, values);
        root.query_drop(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    let dir = TempDir::new(tag);
    let out = dir.0.join("events.jsonl");
    let config = dir.0.join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = '{data}'\n\
             [[tasks]]\n\
             name = \"values\"\n\
             [tasks.source]\n\
             url = \"{url}\"\n\
             server_id = {server_id}\n\
             [[tasks.sinks]]\n\
             type = \"file\"\n\
             path = '{out}'\n\
             [tasks.filters]\n\
             include = ['{db}\\.t']\n\
             [tasks.snapshot]\n\
             mode = \"initial\"\n\
             chunk_rows = 2\n\
             signal_table = \"{db}.watermarks\"\n",
            data = dir.0.join("data").display(),
            out = out.display(),
        ),
    )
    .unwrap();
    let mut sluice = StandaloneProcess::start(&config, dir.0.join("run.log"));
    let read = wait_rows(&mut sluice, &out, &db, "r", ROWS.len()).await;
    for (k, values) in ROWS.iter().enumerate() {
        let sql = insert(k as i64 + 1 + COPY, values);
        root.query_drop(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let created = wait_rows(&mut sluice, &out, &db, "c", ROWS.len()).await;

    let mut differences = Vec::new();
    for (id, r) in &read {
        let c = created
            .get(&(id + COPY))
            .unwrap_or_else(|| panic!("no `c` row {} for `r` row {id}", id + COPY));
        assert_eq!(r["pk"], json!(["id"]), "pk of {r}");
        assert_eq!(r["pk"], c["pk"], "pk of {r} and {c}");
        assert_eq!(r["before"], Value::Null, "{r}");
        let (ra, ca) = (&r["after"], &c["after"]);
        let names = |v: &Value| -> Vec<String> {
            v.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(names(ra), names(ca), "columns of row {id}");
        for name in names(ra).iter().filter(|n| *n != "id") {
            if ra[name] != ca[name] {
                differences.push(format!(
                    "row {id} column `{name}`: snapshot {} binlog {}",
                    ra[name], ca[name]
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "snapshot and binlog rows differ:\n{}",
        differences.join("\n")
    );
    // The edges came through as written, not merely equally wrong on both sides.
    let max = &read[&2]["after"];
    assert_eq!(max["bu"], json!(u64::MAX), "{max}");
    assert_eq!(max["bi"], json!(i64::MAX), "{max}");
    assert_eq!(max["gb"], json!("中".repeat(40)), "{max}");
    assert_eq!(max["e"], json!("large"), "{max}");
    assert_eq!(max["el"], json!("ö"), "{max}");
    let min = &read[&1]["after"];
    assert_eq!(min["dt"], json!("0000-00-00"), "{min}");
    assert_eq!(min["de"], json!("-99999999999999.999999"), "{min}");
    let everyday = &read[&3]["after"];
    assert_eq!(everyday["sj"], json!("ｱｲｳ 日本語"), "{everyday}");
    assert_eq!(everyday["l1"], json!("café"), "{everyday}");
    assert_eq!(
        everyday["ts3"],
        json!("2024-01-01T00:00:00.500Z"),
        "{everyday}"
    );
    assert!(read[&5]["after"]["bu"].is_null());

    let status = sluice.terminate(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "sluice exits 0 on SIGTERM"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_rows_equal_binlog_rows_with_full_row_metadata() {
    let root = common::root_conn().await;
    // `el` (a latin1 ENUM) is compared too: the binlog decoder once read the members of the
    // TABLE_MAP's metadata as UTF-8 whatever their charset.
    r_rows_equal_c_rows(root, &common::mysql_url(), 4_800_901, "snapshot_values").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_rows_equal_binlog_rows_with_minimal_row_metadata() {
    let server = ExtraMariadb::start(
        "mariadb-snapshot-values",
        13348,
        "binlog_row_metadata=MINIMAL",
    );
    assert_eq!(server.variable("binlog_row_metadata").await, "MINIMAL");
    let opts = mysql_async::Opts::from_url(&format!("mysql://root@127.0.0.1:{}", server.port))
        .expect("a root URL");
    let root = mysql_async::Conn::new(opts).await.unwrap();
    r_rows_equal_c_rows(
        root,
        &server.url("sluice"),
        4_800_902,
        "snapshot_values_min",
    )
    .await;
}
