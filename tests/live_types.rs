//! End-to-end type fidelity against the live MariaDB: one scenario per type family. Each test
//! creates its own database, writes edge values as SQL literals, dumps exactly the binlog range
//! the writes produced with `sluice dump --source`, and checks that every decoded value is what
//! MariaDB stored, in Sluice's documented JSON form (exact integers, DECIMAL as text, UTC
//! TIMESTAMPs, base64 bytes, ENUM/SET names, GEOMETRY as SRID + WKB).

mod common;

use std::time::Duration;

use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

/// Creates `sluice_test_types_<name>`, creates its table with `create`, runs `writes` in one
/// root session (so `SET SESSION ...` statements apply to the writes after them) and returns
/// the row events of that database that Sluice decodes from exactly the binlog range written.
async fn capture(name: &str, create: &str, writes: &[&str]) -> Vec<Value> {
    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, &format!("types_{name}")).await;
    root.query_drop(format!("USE `{db}`")).await.unwrap();
    root.query_drop(create)
        .await
        .unwrap_or_else(|e| panic!("{create}: {e}"));
    let from = common::binlog_end(&mut root).await;
    for sql in writes {
        root.query_drop(*sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let until = common::binlog_end(&mut root).await;
    let events = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || common::dump_range(&from, &until)),
    )
    .await
    .expect("sluice dump of a few rows finishes within 60 s")
    .expect("the dump thread does not panic");
    let rows: Vec<Value> = common::rows_of(&events, &db).into_iter().cloned().collect();
    check_sources(&rows);
    for row in &rows {
        assert_eq!(row["table"], "t", "{row}");
    }
    rows
}

/// Every row event says where it came from: file, offset, the MariaDB GTID (domain-server-seq)
/// of its transaction, and its 0-based index in that transaction.
fn check_sources(rows: &[Value]) {
    let mut previous: Option<(String, u64)> = None;
    for row in rows {
        let source = &row["source"];
        let file = source["file"].as_str().unwrap_or_else(|| panic!("{row}"));
        assert!(file.starts_with("binlog."), "source.file of {row}");
        assert!(
            source["pos"].as_u64().unwrap_or(0) > 4,
            "source.pos of {row}"
        );
        let gtid = source["gtid"]
            .as_str()
            .unwrap_or_else(|| panic!("no source.gtid in {row}"));
        let parts: Vec<&str> = gtid.split('-').collect();
        assert!(
            parts.len() == 3 && parts.iter().all(|p| p.parse::<u64>().is_ok()),
            "source.gtid {gtid:?} is not MariaDB's domain-server-seq"
        );
        let index = source["row"]
            .as_u64()
            .unwrap_or_else(|| panic!("no source.row in {row}"));
        let expected = match &previous {
            Some((g, i)) if g == gtid => i + 1,
            _ => 0,
        };
        assert_eq!(
            index, expected,
            "row index inside transaction {gtid}: {row}"
        );
        previous = Some((gtid.to_string(), index));
    }
}

/// Checks op, primary key and images of one row event.
fn assert_row(row: &Value, op: &str, pk: &[&str], before: Value, after: Value) {
    assert_eq!(row["op"], op, "op of {row}");
    assert_eq!(row["pk"], json!(pk), "pk of {row}");
    assert_eq!(row["before"], before, "before image of {row}");
    assert_eq!(row["after"], after, "after image of {row}");
}

/// Standard-alphabet base64 (RFC 4648, with padding) decoding: how a consumer reads Sluice's
/// byte values. Panics on anything else, so a URL-safe or unpadded form fails the test.
fn unbase64(v: &Value) -> Vec<u8> {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("{v} is not a base64 string"));
    assert_eq!(text.len() % 4, 0, "{text:?} is not padded base64");
    let sextet = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("{text:?} is not standard base64 ({:?})", c as char),
        }
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        let n = chunk[..4 - pad]
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | (sextet(c) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    out
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn integers_signed_and_unsigned() {
    let rows = capture(
        "integers",
        "CREATE TABLE t (id INT PRIMARY KEY,
            ti TINYINT, si SMALLINT, mi MEDIUMINT, i INT, bi BIGINT,
            tu TINYINT UNSIGNED, su SMALLINT UNSIGNED, mu MEDIUMINT UNSIGNED,
            iu INT UNSIGNED, bu BIGINT UNSIGNED)",
        &[
            "INSERT INTO t VALUES
                (1, -128, -32768, -8388608, -2147483648, -9223372036854775808, 0, 0, 0, 0, 0),
                (2, 127, 32767, 8388607, 2147483647, 9223372036854775807,
                    255, 65535, 16777215, 4294967295, 18446744073709551615),
                (3, -1, -1, -1, -1, -1, 1, 1, 1, 1, 1)",
            "UPDATE t SET bu = 18446744073709551614, bi = -9223372036854775807 WHERE id = 2",
            "DELETE FROM t WHERE id = 3",
        ],
    )
    .await;
    let min = json!({"id": 1, "ti": -128, "si": -32768, "mi": -8388608, "i": -2147483648_i64,
        "bi": i64::MIN, "tu": 0, "su": 0, "mu": 0, "iu": 0, "bu": 0});
    let max = json!({"id": 2, "ti": 127, "si": 32767, "mi": 8388607, "i": 2147483647,
        "bi": i64::MAX, "tu": 255, "su": 65535, "mu": 16777215, "iu": 4294967295_u64,
        "bu": u64::MAX});
    let minus_one = json!({"id": 3, "ti": -1, "si": -1, "mi": -1, "i": -1, "bi": -1,
        "tu": 1, "su": 1, "mu": 1, "iu": 1, "bu": 1});
    let mut max_updated = max.clone();
    max_updated["bu"] = json!(18446744073709551614_u64);
    max_updated["bi"] = json!(-9223372036854775807_i64);

    assert_eq!(rows.len(), 5, "{rows:#?}");
    assert_row(&rows[0], "c", &["id"], Value::Null, min);
    assert_row(&rows[1], "c", &["id"], Value::Null, max.clone());
    assert_row(&rows[2], "c", &["id"], Value::Null, minus_one.clone());
    assert_row(&rows[3], "u", &["id"], max, max_updated);
    assert_row(&rows[4], "d", &["id"], minus_one, Value::Null);
    // JSON integers, digit for digit: a float on the way (1.8446744073709552e19) would parse
    // as a float number and not equal `u64::MAX` above.
    assert!(rows[1]["after"]["bu"].is_u64() && rows[0]["after"]["bi"].is_i64());
}

#[tokio::test]
async fn mediumint_signed_negative() {
    // The binlog stores MEDIUMINT on 3 bytes: a signed value must be sign-extended (-1 is
    // FF FF FF, not 16777215), in inserts, update images and delete images alike.
    let rows = capture(
        "mediumint",
        "CREATE TABLE t (id INT PRIMARY KEY, mi MEDIUMINT)",
        &[
            "INSERT INTO t VALUES (1, -8388608), (2, -1), (3, -300)",
            "UPDATE t SET mi = -2 WHERE id = 2",
            "DELETE FROM t WHERE id = 3",
        ],
    )
    .await;
    assert_eq!(rows.len(), 5, "{rows:#?}");
    assert_row(
        &rows[0],
        "c",
        &["id"],
        Value::Null,
        json!({"id": 1, "mi": -8388608}),
    );
    assert_row(
        &rows[1],
        "c",
        &["id"],
        Value::Null,
        json!({"id": 2, "mi": -1}),
    );
    assert_row(
        &rows[2],
        "c",
        &["id"],
        Value::Null,
        json!({"id": 3, "mi": -300}),
    );
    assert_row(
        &rows[3],
        "u",
        &["id"],
        json!({"id": 2, "mi": -1}),
        json!({"id": 2, "mi": -2}),
    );
    assert_row(
        &rows[4],
        "d",
        &["id"],
        json!({"id": 3, "mi": -300}),
        Value::Null,
    );
}

#[tokio::test]
async fn decimal_is_exact() {
    // The primary key lists `money` first: `pk` follows key order, not column order.
    let rows = capture(
        "decimal",
        "CREATE TABLE t (id INT, big DECIMAL(65,30), money DECIMAL(10,2), whole DECIMAL(20,0),
            PRIMARY KEY (money, id))",
        &[
            "INSERT INTO t VALUES
                (1, -12345678901234567890123456789012345.123456789012345678901234567890,
                    -12345.67, -99999999999999999999),
                (2, 0.000000000000000000000000000001, 0.00, 0),
                (3, 99999999999999999999999999999999999.999999999999999999999999999999,
                    99999999.99, 12345678901234567890),
                (4, -0.5, -0.01, -1)",
            "UPDATE t SET big = big + 1, whole = 7 WHERE id = 4",
            "DELETE FROM t WHERE id = 2",
        ],
    )
    .await;
    let r1 = json!({"id": 1,
        "big": "-12345678901234567890123456789012345.123456789012345678901234567890",
        "money": "-12345.67", "whole": "-99999999999999999999"});
    let r2 = json!({"id": 2, "big": "0.000000000000000000000000000001",
        "money": "0.00", "whole": "0"});
    let r3 = json!({"id": 3,
        "big": "99999999999999999999999999999999999.999999999999999999999999999999",
        "money": "99999999.99", "whole": "12345678901234567890"});
    let r4 = json!({"id": 4, "big": "-0.500000000000000000000000000000",
        "money": "-0.01", "whole": "-1"});
    let r4_updated = json!({"id": 4, "big": "0.500000000000000000000000000000",
        "money": "-0.01", "whole": "7"});

    let pk = &["money", "id"];
    assert_eq!(rows.len(), 6, "{rows:#?}");
    assert_row(&rows[0], "c", pk, Value::Null, r1);
    assert_row(&rows[1], "c", pk, Value::Null, r2.clone());
    assert_row(&rows[2], "c", pk, Value::Null, r3);
    assert_row(&rows[3], "c", pk, Value::Null, r4.clone());
    assert_row(&rows[4], "u", pk, r4, r4_updated);
    assert_row(&rows[5], "d", pk, r2, Value::Null);
}

#[tokio::test]
async fn float_and_double() {
    let rows = capture(
        "float",
        "CREATE TABLE t (id INT PRIMARY KEY, f FLOAT, d DOUBLE)",
        &[
            "INSERT INTO t VALUES
                (1, 0.1, 0.1),
                (2, -2.5, -2.5),
                (3, 3.402823466e38, -1.7976931348623157e308),
                (4, 1.17549435e-38, 2.2250738585072014e-308),
                (5, 16777217, 9007199254740993),
                (6, 0, 1e300)",
            "UPDATE t SET f = 1.5, d = 100 WHERE id = 1",
            "DELETE FROM t WHERE id = 2",
        ],
    )
    .await;
    // What MariaDB stores: FLOAT is an IEEE single, DOUBLE a double. Sluice writes the
    // shortest text that reads back as the stored value, so a FLOAT read as f32 is exact and
    // 0.1 stays 0.1 rather than 0.10000000149011612.
    let expected: [(i64, f32, f64); 6] = [
        (1, 0.1, 0.1),
        (2, -2.5, -2.5),
        (3, f32::MAX, -f64::MAX),
        (4, f32::MIN_POSITIVE, f64::MIN_POSITIVE),
        (5, 16_777_216.0, 9_007_199_254_740_992.0),
        (6, 0.0, 1e300),
    ];
    assert_eq!(rows.len(), 8, "{rows:#?}");
    for (row, (id, f, d)) in rows.iter().zip(expected) {
        assert_eq!(row["op"], "c");
        let after = &row["after"];
        assert_eq!(after["id"], id);
        assert_eq!(
            after["f"].as_f64().map(|x| x as f32),
            Some(f),
            "FLOAT of {row}"
        );
        assert_eq!(after["d"].as_f64(), Some(d), "DOUBLE of {row}");
    }
    assert_eq!(
        rows[0]["after"]["f"],
        json!(0.1),
        "FLOAT 0.1 is written as 0.1"
    );
    assert_row(
        &rows[6],
        "u",
        &["id"],
        json!({"id": 1, "f": 0.1, "d": 0.1}),
        json!({"id": 1, "f": 1.5, "d": 100.0}),
    );
    assert_row(
        &rows[7],
        "d",
        &["id"],
        json!({"id": 2, "f": -2.5, "d": -2.5}),
        Value::Null,
    );
}

#[tokio::test]
async fn bit() {
    let rows = capture(
        "bit",
        "CREATE TABLE t (id INT PRIMARY KEY, b1 BIT(1), b5 BIT(5), b12 BIT(12), b64 BIT(64))",
        &[
            "INSERT INTO t VALUES
                (1, b'1', b'10101', b'100000000001',
                    b'1111111111111111111111111111111111111111111111111111111111111111'),
                (2, b'0', b'0', b'0', b'0'),
                (3, 1, 31, 4095, 0x8000000000000001)",
            "UPDATE t SET b1 = b'0', b64 = 1 WHERE id = 1",
            "DELETE FROM t WHERE id = 3",
        ],
    )
    .await;
    let r1 = json!({"id": 1, "b1": 1, "b5": 21, "b12": 2049, "b64": u64::MAX});
    let r2 = json!({"id": 2, "b1": 0, "b5": 0, "b12": 0, "b64": 0});
    let r3 = json!({"id": 3, "b1": 1, "b5": 31, "b12": 4095, "b64": 0x8000_0000_0000_0001_u64});
    assert_eq!(rows.len(), 5, "{rows:#?}");
    assert_row(&rows[0], "c", &["id"], Value::Null, r1.clone());
    assert_row(&rows[1], "c", &["id"], Value::Null, r2);
    assert_row(&rows[2], "c", &["id"], Value::Null, r3.clone());
    assert_row(
        &rows[3],
        "u",
        &["id"],
        r1,
        json!({"id": 1, "b1": 0, "b5": 21, "b12": 2049, "b64": 1}),
    );
    assert_row(&rows[4], "d", &["id"], r3, Value::Null);
}

#[tokio::test]
async fn temporal_types_with_fractions_and_zero_dates() {
    let rows = capture(
        "temporal",
        "CREATE TABLE t (id INT PRIMARY KEY, d DATE, dt6 DATETIME(6), dt3 DATETIME(3),
            dt0 DATETIME, t6 TIME(6), t0 TIME, y YEAR)",
        &[
            // Zero dates need a lax sql_mode (no NO_ZERO_DATE / NO_ZERO_IN_DATE / strict).
            "SET SESSION sql_mode = ''",
            "INSERT INTO t VALUES
                (1, '2024-02-29', '2024-02-29 23:59:59.123456', '2024-02-29 23:59:59.123',
                    '2024-02-29 23:59:59', '-838:59:59.000000', '838:59:59', 2155),
                (2, '0000-00-00', '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00.000',
                    '0000-00-00 00:00:00', '12:34:56.5', '00:00:00', '0000'),
                (3, '2024-00-00', '1000-01-01 00:00:00.000001', '9999-12-31 23:59:59.999',
                    '9999-12-31 23:59:59', '-00:00:00.000001', '-12:00:00', 1901)",
            "UPDATE t SET dt6 = '2000-01-01 00:00:00.5', t0 = '-00:00:01' WHERE id = 1",
            "DELETE FROM t WHERE id = 2",
        ],
    )
    .await;
    let r1 = json!({"id": 1, "d": "2024-02-29", "dt6": "2024-02-29 23:59:59.123456",
        "dt3": "2024-02-29 23:59:59.123", "dt0": "2024-02-29 23:59:59",
        "t6": "-838:59:59.000000", "t0": "838:59:59", "y": 2155});
    let r2 = json!({"id": 2, "d": "0000-00-00", "dt6": "0000-00-00 00:00:00.000000",
        "dt3": "0000-00-00 00:00:00.000", "dt0": "0000-00-00 00:00:00",
        "t6": "12:34:56.500000", "t0": "00:00:00", "y": 0});
    let r3 = json!({"id": 3, "d": "2024-00-00", "dt6": "1000-01-01 00:00:00.000001",
        "dt3": "9999-12-31 23:59:59.999", "dt0": "9999-12-31 23:59:59",
        "t6": "-00:00:00.000001", "t0": "-12:00:00", "y": 1901});
    let mut r1_updated = r1.clone();
    r1_updated["dt6"] = json!("2000-01-01 00:00:00.500000");
    r1_updated["t0"] = json!("-00:00:01");

    assert_eq!(rows.len(), 5, "{rows:#?}");
    assert_row(&rows[0], "c", &["id"], Value::Null, r1.clone());
    assert_row(&rows[1], "c", &["id"], Value::Null, r2.clone());
    assert_row(&rows[2], "c", &["id"], Value::Null, r3);
    assert_row(&rows[3], "u", &["id"], r1, r1_updated);
    assert_row(&rows[4], "d", &["id"], r2, Value::Null);
}

#[tokio::test]
async fn timestamp_is_utc() {
    let rows = capture(
        "timestamp",
        "CREATE TABLE t (id INT PRIMARY KEY, ts6 TIMESTAMP(6) NULL, ts0 TIMESTAMP NULL,
            ts3 TIMESTAMP(3) NULL)",
        &[
            // Written in UTC+8: the binlog holds the instant, which Sluice gives in UTC.
            "SET SESSION time_zone = '+08:00'",
            "INSERT INTO t VALUES
                (1, '2024-01-01 08:00:00.5', '2024-01-01 08:00:00', '2024-02-29 23:59:59.999'),
                (2, '1970-01-01 08:00:01', '2038-01-19 11:14:07', '2000-01-01 00:00:00.001')",
            // Another writer time zone: the instant is the same whoever wrote it.
            "SET SESSION time_zone = '-05:00'",
            "UPDATE t SET ts0 = '2024-06-30 20:00:00' WHERE id = 1",
            // The zero TIMESTAMP (lax sql_mode only) has its own documented form.
            "SET SESSION sql_mode = ''",
            "INSERT INTO t VALUES
                (3, '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00')",
            "DELETE FROM t WHERE id = 2",
        ],
    )
    .await;
    let r1 = json!({"id": 1, "ts6": "2024-01-01T00:00:00.500000Z",
        "ts0": "2024-01-01T00:00:00Z", "ts3": "2024-02-29T15:59:59.999Z"});
    let r2 = json!({"id": 2, "ts6": "1970-01-01T00:00:01.000000Z",
        "ts0": "2038-01-19T03:14:07Z", "ts3": "1999-12-31T16:00:00.001Z"});
    let mut r1_updated = r1.clone();
    r1_updated["ts0"] = json!("2024-07-01T01:00:00Z");
    let zero = json!({"id": 3, "ts6": "0000-00-00T00:00:00.000000Z",
        "ts0": "0000-00-00T00:00:00Z", "ts3": "0000-00-00T00:00:00.000Z"});

    assert_eq!(rows.len(), 5, "{rows:#?}");
    assert_row(&rows[0], "c", &["id"], Value::Null, r1.clone());
    assert_row(&rows[1], "c", &["id"], Value::Null, r2.clone());
    assert_row(&rows[2], "u", &["id"], r1, r1_updated);
    assert_row(&rows[3], "c", &["id"], Value::Null, zero);
    assert_row(&rows[4], "d", &["id"], r2, Value::Null);
}

#[tokio::test]
async fn text_in_its_charset() {
    // The connection speaks utf8mb4; MariaDB converts each literal to its column's charset,
    // and Sluice must decode each column by its own charset back to the same string.
    let rows = capture(
        "text",
        "CREATE TABLE t (id INT PRIMARY KEY,
            u VARCHAR(50) CHARACTER SET utf8mb4, l VARCHAR(50) CHARACTER SET latin1,
            g VARCHAR(50) CHARACTER SET gbk, c CHAR(10) CHARACTER SET utf8mb4,
            tx TEXT CHARACTER SET utf8mb4, lt TEXT CHARACTER SET latin1,
            gt MEDIUMTEXT CHARACTER SET gbk,
            bn BINARY(4), vb VARBINARY(20), bl BLOB)",
        &[
            "INSERT INTO t VALUES
                (1, 'héllo 😀 wörld', 'café €5', '中文', 'emoji 🎉', 'long 🚀 text 𝄞',
                    'Ærø € ÿ', '中文字符 gbk', X'00FF80FE', X'C328FFFE00', X'89504E470D0A1A0AFF'),
                (2, '', '', '', '', '', '', '', X'', X'', X'')",
            "UPDATE t SET u = '👍🏽 ok', l = 'naïve €', g = '汉字' WHERE id = 1",
            "DELETE FROM t WHERE id = 2",
        ],
    )
    .await;
    // Non-UTF-8 bytes, base64 with the standard alphabet ('+' and '/', '=' padding).
    let r1 = json!({"id": 1, "u": "héllo 😀 wörld", "l": "café €5", "g": "中文",
        "c": "emoji 🎉", "tx": "long 🚀 text 𝄞", "lt": "Ærø € ÿ", "gt": "中文字符 gbk",
        "bn": "AP+A/g==", "vb": "wyj//gA=", "bl": "iVBORw0KGgr/"});
    // BINARY(4) pads with zero bytes: MariaDB stores (and returns) 00000000 for X''.
    let r2 = json!({"id": 2, "u": "", "l": "", "g": "", "c": "", "tx": "", "lt": "",
        "gt": "", "bn": "AAAAAA==", "vb": "", "bl": ""});
    let mut r1_updated = r1.clone();
    r1_updated["u"] = json!("👍🏽 ok");
    r1_updated["l"] = json!("naïve €");
    r1_updated["g"] = json!("汉字");

    assert_eq!(rows.len(), 4, "{rows:#?}");
    assert_row(&rows[0], "c", &["id"], Value::Null, r1.clone());
    assert_row(&rows[1], "c", &["id"], Value::Null, r2.clone());
    assert_row(&rows[2], "u", &["id"], r1, r1_updated);
    assert_row(&rows[3], "d", &["id"], r2, Value::Null);
    let after = &rows[0]["after"];
    assert_eq!(unbase64(&after["bn"]), [0x00, 0xFF, 0x80, 0xFE]);
    assert_eq!(unbase64(&after["vb"]), [0xC3, 0x28, 0xFF, 0xFE, 0x00]);
    assert_eq!(unbase64(&after["bl"]), hex("89504E470D0A1A0AFF"));
}

#[tokio::test]
async fn binary_keeps_its_trailing_zero_bytes() {
    // MariaDB pads BINARY(n) with 0x00 and returns the padded value; the binlog drops the
    // trailing zeros, so a lossless reader pads back to n bytes. VARBINARY keeps them as is.
    let rows = capture(
        "binary_padding",
        "CREATE TABLE t (id INT PRIMARY KEY, bn BINARY(4), vb VARBINARY(4))",
        &["INSERT INTO t VALUES (1, X'AB00', X'AB00'), (2, X'', X''), (3, X'00000001', X'00')"],
    )
    .await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let bytes = |row: &Value, col: &str| unbase64(&row["after"][col]);
    assert_eq!(bytes(&rows[0], "bn"), [0xAB, 0, 0, 0], "{}", rows[0]);
    assert_eq!(bytes(&rows[0], "vb"), [0xAB, 0], "{}", rows[0]);
    assert_eq!(bytes(&rows[1], "bn"), [0, 0, 0, 0], "{}", rows[1]);
    assert_eq!(bytes(&rows[1], "vb"), [0u8; 0], "{}", rows[1]);
    assert_eq!(bytes(&rows[2], "bn"), [0, 0, 0, 1], "{}", rows[2]);
    assert_eq!(bytes(&rows[2], "vb"), [0], "{}", rows[2]);
}

#[tokio::test]
async fn enum_and_set() {
    // A 300-member ENUM is stored on 2 bytes; a 64-member SET uses all 64 bits.
    let big_enum: Vec<String> = (0..300).map(|i| format!("'v{i}'")).collect();
    let big_set: Vec<String> = (0..64).map(|i| format!("'m{i}'")).collect();
    let all_members: Vec<String> = (0..64).map(|i| format!("m{i}")).collect();
    let create = format!(
        "CREATE TABLE t (id INT PRIMARY KEY,
            e ENUM('small','medium','large','x-large'), s SET('red','green','blue'),
            eu ENUM('ä','😀') CHARACTER SET utf8mb4, e300 ENUM({}), s64 SET({}))",
        big_enum.join(","),
        big_set.join(",")
    );
    let insert = format!(
        "INSERT INTO t VALUES
            (1, 'medium', 'red,blue', '😀', 'v299', '{}'),
            (2, 'x-large', '', 'ä', 'v0', 'm63'),
            (3, 'bogus', 'green,red,green', NULL, NULL, '')",
        all_members.join(",")
    );
    let rows = capture(
        "enum_set",
        &create,
        &[
            // Lax mode: an invalid ENUM value is stored as '' (index 0), not refused.
            "SET SESSION sql_mode = ''",
            &insert,
            "UPDATE t SET e = 'small', s = 'blue,green' WHERE id = 1",
            "DELETE FROM t WHERE id = 3",
        ],
    )
    .await;
    let r1 = json!({"id": 1, "e": "medium", "s": ["red", "blue"], "eu": "😀", "e300": "v299",
        "s64": all_members});
    let r2 = json!({"id": 2, "e": "x-large", "s": [], "eu": "ä", "e300": "v0", "s64": ["m63"]});
    // SET members come in definition order, each once, whatever order they were written in.
    let r3 = json!({"id": 3, "e": "", "s": ["red", "green"], "eu": null, "e300": null,
        "s64": []});
    let mut r1_updated = r1.clone();
    r1_updated["e"] = json!("small");
    r1_updated["s"] = json!(["green", "blue"]);

    assert_eq!(rows.len(), 5, "{rows:#?}");
    assert_row(&rows[0], "c", &["id"], Value::Null, r1.clone());
    assert_row(&rows[1], "c", &["id"], Value::Null, r2);
    assert_row(&rows[2], "c", &["id"], Value::Null, r3.clone());
    assert_row(&rows[3], "u", &["id"], r1, r1_updated);
    assert_row(&rows[4], "d", &["id"], r3, Value::Null);
}

/// A JSON column's value as a document. MariaDB's JSON is LONGTEXT with a json_valid check, so
/// the binlog carries the document's text: Sluice gives it as a string holding exactly the text
/// written, which must parse to the document. (MySQL's binary JSON comes out as a JSON value.)
fn json_document(v: &Value, written: &str) -> Value {
    match v {
        Value::String(text) => {
            assert_eq!(text, written, "the JSON text is kept as written");
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
        }
        other => other.clone(),
    }
}

#[tokio::test]
async fn json() {
    let docs = [
        r#"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
        r#"[1, 2.5, "x", {"nested": [[], {}, [[{"deep": -0.125}]]]}]"#,
        r#"{"big": 18446744073709551615, "neg": -9223372036854775808, "exp": 1.5e300}"#,
        r#"{"unicode": "中文 😀 é", "escaped": "line\nbreak \"quoted\" \\ tab\t"}"#,
        r#""just a string""#,
        "null",
    ];
    let quoted: Vec<String> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            format!(
                "({}, '{}')",
                i + 1,
                d.replace('\\', "\\\\").replace('\'', "''")
            )
        })
        .collect();
    let insert = format!("INSERT INTO t VALUES {}, (7, NULL)", quoted.join(", "));
    let rows = capture(
        "json",
        "CREATE TABLE t (id INT PRIMARY KEY, j JSON)",
        &[
            &insert,
            r#"UPDATE t SET j = '{"a": 2}' WHERE id = 1"#,
            "DELETE FROM t WHERE id = 2",
        ],
    )
    .await;

    assert_eq!(rows.len(), 9, "{rows:#?}");
    for (i, doc) in docs.iter().enumerate() {
        let row = &rows[i];
        assert_eq!(row["op"], "c");
        assert_eq!(row["after"]["id"], i + 1);
        let expected: Value = serde_json::from_str(doc).unwrap();
        assert_eq!(json_document(&row["after"]["j"], doc), expected, "{row}");
    }
    // SQL NULL is JSON null, distinct from the JSON document `null` (row 6, a string here).
    assert_eq!(rows[6]["after"], json!({"id": 7, "j": null}));
    assert_ne!(rows[5]["after"]["j"], Value::Null);
    let update = &rows[7];
    assert_eq!(update["op"], "u");
    assert_eq!(
        json_document(&update["before"]["j"], docs[0]),
        serde_json::from_str::<Value>(docs[0]).unwrap()
    );
    assert_eq!(
        json_document(&update["after"]["j"], r#"{"a": 2}"#),
        json!({"a": 2})
    );
    let delete = &rows[8];
    assert_eq!(delete["op"], "d");
    assert_eq!(delete["after"], Value::Null);
    assert_eq!(
        json_document(&delete["before"]["j"], docs[1]),
        serde_json::from_str::<Value>(docs[1]).unwrap()
    );
}

#[tokio::test]
async fn geometry() {
    // (Character columns after a GEOMETRY one: `text_after_a_geometry_column_keeps_its_charset`.)
    let rows = capture(
        "geometry",
        "CREATE TABLE t (id INT PRIMARY KEY, label VARCHAR(20) CHARACTER SET gbk,
            note VARCHAR(20) CHARACTER SET latin1, g GEOMETRY, p POINT, line LINESTRING)",
        &[
            "INSERT INTO t VALUES
                (1, '中文', 'é€', ST_GeomFromText('POINT(1 2)'),
                    ST_GeomFromText('POINT(1 2)', 4326),
                    ST_GeomFromText('LINESTRING(0 0, 1.5 -2)')),
                (2, NULL, NULL, NULL, NULL, NULL)",
            "UPDATE t SET p = ST_GeomFromText('POINT(-1 0.5)', 4326) WHERE id = 1",
            "DELETE FROM t WHERE id = 2",
        ],
    )
    .await;
    let point_1_2 = hex("0101000000000000000000f03f0000000000000040");
    // WKB LINESTRING: byte order 1 (little endian), type 2, 2 points, then the coordinates.
    let mut line = vec![1, 2, 0, 0, 0, 2, 0, 0, 0];
    for c in [0.0_f64, 0.0, 1.5, -2.0] {
        line.extend_from_slice(&c.to_le_bytes());
    }
    let mut point_minus_1_half = vec![1, 1, 0, 0, 0];
    for c in [-1.0_f64, 0.5] {
        point_minus_1_half.extend_from_slice(&c.to_le_bytes());
    }

    assert_eq!(rows.len(), 4, "{rows:#?}");
    assert_row(
        &rows[1],
        "c",
        &["id"],
        Value::Null,
        json!({"id": 2, "g": null, "p": null, "line": null, "label": null, "note": null}),
    );
    let inserted = &rows[0];
    assert_eq!(inserted["op"], "c");
    let after = &inserted["after"];
    assert_eq!(after["g"]["srid"], 0, "{inserted}");
    assert_eq!(unbase64(&after["g"]["wkb"]), point_1_2);
    assert_eq!(
        after["g"],
        json!({"srid": 0, "wkb": "AQEAAAAAAAAAAADwPwAAAAAAAABA"})
    );
    assert_eq!(after["p"]["srid"], 4326, "{inserted}");
    assert_eq!(unbase64(&after["p"]["wkb"]), point_1_2);
    assert_eq!(after["line"]["srid"], 0);
    assert_eq!(unbase64(&after["line"]["wkb"]), line);
    assert_eq!(after["label"], "中文", "{inserted}");
    assert_eq!(after["note"], "é€", "{inserted}");

    let update = &rows[2];
    assert_eq!(update["op"], "u");
    assert_eq!(update["before"], inserted["after"]);
    assert_eq!(update["after"]["p"]["srid"], 4326);
    assert_eq!(unbase64(&update["after"]["p"]["wkb"]), point_minus_1_half);
    assert_eq!(update["after"]["g"], after["g"]);
    assert_row(
        &rows[3],
        "d",
        &["id"],
        rows[1]["after"].clone(),
        Value::Null,
    );
}

#[tokio::test]
async fn text_after_a_geometry_column_keeps_its_charset() {
    // MariaDB's charset metadata numbers GEOMETRY columns among the character columns (with
    // the binary charset); every text column after one must still get its own charset.
    let rows = capture(
        "geometry_text",
        "CREATE TABLE t (id INT PRIMARY KEY, g GEOMETRY,
            label VARCHAR(20) CHARACTER SET gbk, note VARCHAR(20) CHARACTER SET latin1,
            u VARCHAR(20) CHARACTER SET utf8mb4, vb VARBINARY(4))",
        &["INSERT INTO t VALUES (1, ST_GeomFromText('POINT(1 2)'), '中文', 'é€', '😀', X'FF')"],
    )
    .await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let after = &rows[0]["after"];
    assert_eq!(after["label"], "中文", "{after}");
    assert_eq!(after["note"], "é€", "{after}");
    assert_eq!(after["u"], "😀", "{after}");
    assert_eq!(unbase64(&after["vb"]), [0xFF], "{after}");
    assert_eq!(
        unbase64(&after["g"]["wkb"]),
        hex("0101000000000000000000f03f0000000000000040")
    );
}

#[tokio::test]
async fn null_values() {
    let columns = [
        "i INT",
        "bu BIGINT UNSIGNED",
        "dec_col DECIMAL(10,2)",
        "f FLOAT",
        "d DOUBLE",
        "b BIT(8)",
        "dt DATE",
        "dtm DATETIME(6)",
        "ts TIMESTAMP(6) NULL",
        "tm TIME(3)",
        "y YEAR",
        "v VARCHAR(10)",
        "c CHAR(5) CHARACTER SET gbk",
        "tx TEXT",
        "vb VARBINARY(10)",
        "bl BLOB",
        "e ENUM('a','b')",
        "s SET('a','b')",
        "j JSON",
        "g GEOMETRY",
    ];
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c.split(' ').next().unwrap())
        .collect();
    let create = format!(
        "CREATE TABLE t (id INT PRIMARY KEY, {})",
        columns.join(", ")
    );
    let rows = capture(
        "nulls",
        &create,
        &[
            "INSERT INTO t (id) VALUES (1)",
            "UPDATE t SET i = 5, v = 'x' WHERE id = 1",
            "UPDATE t SET i = NULL, v = NULL WHERE id = 1",
            "DELETE FROM t WHERE id = 1",
        ],
    )
    .await;
    // Every column is in the image (binlog_row_image=FULL) and NULL is JSON null, not absent.
    let mut all_null = serde_json::Map::new();
    all_null.insert("id".into(), json!(1));
    for n in &names {
        all_null.insert((*n).into(), Value::Null);
    }
    let all_null = Value::Object(all_null);
    let mut set = all_null.clone();
    set["i"] = json!(5);
    set["v"] = json!("x");

    assert_eq!(rows.len(), 4, "{rows:#?}");
    assert_row(&rows[0], "c", &["id"], Value::Null, all_null.clone());
    assert_row(&rows[1], "u", &["id"], all_null.clone(), set.clone());
    assert_row(&rows[2], "u", &["id"], set, all_null.clone());
    assert_row(&rows[3], "d", &["id"], all_null, Value::Null);
}
