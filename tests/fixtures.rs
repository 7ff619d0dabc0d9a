//! Every real binlog file in `../shared/fixtures/mysql-binlogs/` (MySQL 5.0 to 9.x, MariaDB),
//! decoded in place: event counts per kind and some decoded values, and a clear error naming
//! the file, offset and event type for the truncated and corrupt ones.

mod common;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sluice_node::source::{BinlogDecoder, BinlogFileReader};

/// Decodes a fixture: its events as JSON, or the error that stopped it.
fn decode(name: &str) -> (Vec<Value>, Option<String>) {
    let path = common::fixture_dir().join(name);
    let mut reader = match BinlogFileReader::open(&path) {
        Ok(r) => r,
        Err(e) => return (vec![], Some(e.to_string())),
    };
    let mut decoder = BinlogDecoder::new(&reader.file_name());
    let mut events = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.next_event() {
            Ok(Some(raw)) => {
                if let Err(e) = decoder.decode(&raw.event, raw.span, &mut events) {
                    return (out, Some(reader.decode_error(&raw, e).to_string()));
                }
                // Through text, as a consumer reads it: the fast encoder the sinks use, which
                // must agree byte for byte with the reference serde form.
                for e in events.drain(..) {
                    let mut fast = Vec::new();
                    sluice_core::json::write_event(&mut fast, &e);
                    assert_eq!(
                        String::from_utf8_lossy(&fast),
                        serde_json::to_string(&e).unwrap(),
                        "{name}: the fast encoder differs from the reference"
                    );
                    out.push(serde_json::from_slice(&fast).unwrap());
                }
            }
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

/// Counts of events by `op`.
fn counts(events: &[Value]) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for e in events {
        *c.entry(e["op"].as_str().unwrap().to_string()).or_default() += 1;
    }
    c
}

fn decodes_to(name: &str, expected: &[(&str, usize)]) -> Vec<Value> {
    let (events, error) = decode(name);
    assert_eq!(error, None, "{name} failed to decode");
    let expected: BTreeMap<String, usize> =
        expected.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(counts(&events), expected, "{name}");
    events
}

fn rows(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| matches!(e["op"].as_str(), Some("c" | "u" | "d")))
        .collect()
}

#[test]
fn mariadb_gtid_events_and_full_metadata() {
    let events = decodes_to(
        "mariadb-bin.000001",
        &[("begin", 2), ("c", 2), ("commit", 2)],
    );
    let r = rows(&events);
    assert_eq!(r[0]["source"]["gtid"], "0-1-1");
    assert_eq!(r[1]["source"]["gtid"], "0-1-2");
    assert_eq!(r[0]["pk"], json!(["id"]));
    assert_eq!(r[0]["after"]["id"], 62);
    assert_eq!(r[0]["after"]["event_type"], "JSON"); // ENUM member name
    assert_eq!(r[0]["after"]["event"], "eyJmb28iOjF9"); // a BLOB: base64 of {"foo":1}
    assert_eq!(r[0]["after"]["created"], "2022-04-20T22:18:04Z"); // TIMESTAMP in UTC
}

#[test]
fn mysql_tagged_gtid() {
    let events = decodes_to(
        "binlog_transaction_with_GTID_TAG.000001",
        &[("begin", 1), ("c", 1), ("commit", 1)],
    );
    let r = rows(&events);
    assert_eq!(
        r[0]["source"]["gtid"],
        "55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:3"
    );
    assert_eq!(r[0]["after"], json!({"@1": 3, "@2": 100, "@3": "250.00"}));
}

#[test]
fn compressed_transaction_is_unpacked_and_resumes_after_the_payload() {
    let events = decodes_to(
        "transaction_compression.000001",
        &[("begin", 1), ("c", 1), ("commit", 1)],
    );
    let r = rows(&events);
    assert_eq!(r[0]["after"], json!({"@1": 1}));
    // Every event of the payload carries the payload's position; the commit resumes after it.
    let commit = events.iter().find(|e| e["op"] == "commit").unwrap();
    let payload_start = r[0]["source"]["pos"].as_u64().unwrap();
    assert_eq!(commit["source"]["pos"].as_u64().unwrap(), payload_start);
    let next: u64 = commit["next"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(next > payload_start);
}

#[test]
fn partial_json_updates_are_applied_to_the_before_document() {
    let events = decodes_to(
        "json.binlog.000001",
        &[("begin", 6), ("c", 6), ("commit", 6), ("ddl", 2), ("u", 12)],
    );
    let updates: Vec<&Value> = rows(&events)
        .into_iter()
        .filter(|e| e["op"] == "u")
        .collect();
    let (mut applied, mut as_diff) = (0, 0);
    for u in updates {
        let after = &u["after"]["@2"];
        if u["before"].get("@2").is_some() {
            // With the whole before document (binlog_row_image=FULL) the diff is applied.
            applied += 1;
            assert!(after.is_object() && after.get("json_diff").is_none(), "{u}");
            assert_eq!(after["age"], u["after"]["@4"], "{u}");
        } else {
            // With a MINIMAL before image there is nothing to apply it to: the diff itself.
            as_diff += 1;
            assert_eq!(
                after,
                &json!({"json_diff": [{"op": "replace", "path": "$.age", "value": u["after"]["@4"]}]}),
                "{u}"
            );
        }
    }
    assert!(
        applied > 0 && as_diff > 0,
        "{applied} applied, {as_diff} as diff"
    );
}

#[test]
fn json_opaque_values_decimal_date_time() {
    let events = decodes_to(
        "json-opaque.binlog",
        &[("begin", 1), ("c", 8), ("commit", 1), ("ddl", 2)],
    );
    let docs: Vec<&Value> = rows(&events).iter().map(|r| &r["after"]["a"]).collect();
    assert_eq!(docs[1], &json!({"b": "2012-03-18"}));
    assert_eq!(docs[2], &json!({"c": "2012-03-18 11:30:45.000000"}));
    assert_eq!(docs[3], &json!({"c": "87:31:46.654321"}));
    assert_eq!(docs[4], &json!({"d": "123.456"})); // DECIMAL inside JSON stays exact
    assert_eq!(docs[5], &json!({"e": "9.00"}));
}

#[test]
fn enum_set_and_long_strings() {
    let events = decodes_to(
        "mysql-enum-string-set.000001",
        &[
            ("begin", 3),
            ("c", 1),
            ("commit", 3),
            ("d", 1),
            ("ddl", 2),
            ("u", 1),
        ],
    );
    let r = rows(&events);
    let deleted = &r[2]["before"];
    assert_eq!(deleted["f1"], "field1");
    assert_eq!(deleted["f3"], "variant2");
    assert_eq!(deleted["f4"], json!(["two", "four"]));
    assert!(r[0]["after"]["f2"]
        .as_str()
        .unwrap()
        .starts_with("0123456789012345678901234567890123456789"));
}

#[test]
fn bit_columns() {
    let events = decodes_to(
        "mysql_type_bit.000001",
        &[("begin", 1), ("c", 1), ("commit", 1), ("ddl", 2)],
    );
    assert_eq!(
        rows(&events)[0]["after"],
        json!({"a": 4, "b": "foo", "c": 32})
    );
}

#[test]
fn vector_columns() {
    let events = decodes_to(
        "vector.binlog",
        &[("begin", 3), ("c", 9), ("commit", 3), ("d", 1), ("ddl", 7)],
    );
    let r = rows(&events);
    // FLOAT components print as the shortest text that reads back the same f32.
    assert_eq!(
        r[0]["after"].to_string(),
        r#"{"id":1,"vector_column":[1.1,2.2,3.3]}"#
    );
    assert_eq!(r[1]["after"]["vector_column"].to_string(), "[1.0,-1.0,0.0]");
}

#[test]
fn invisible_columns_are_decoded_like_the_others() {
    let events = decodes_to(
        "binlog-invisible-columns.000001",
        &[("begin", 3), ("c", 2), ("commit", 3), ("ddl", 2), ("u", 1)],
    );
    let r = rows(&events);
    assert_eq!(
        r[0]["after"],
        json!({"f1": 1, "f2": 2, "f3": -3, "f4": "4", "f5": "BQ==", "f6": 6_000_000_000u64})
    );
    assert_eq!(r[2]["after"]["f3"], -333);
}

#[test]
fn hidden_generated_column_and_minimal_metadata() {
    decodes_to(
        "rpl_unfiltered_hidden_gcol.000001",
        &[("begin", 1), ("c", 1), ("commit", 1), ("ddl", 2)],
    );
    let events = decodes_to(
        "minimal_row_metadata.000001",
        &[("begin", 1), ("c", 1), ("commit", 1)],
    );
    // Without FULL metadata and offline, columns are named by position.
    assert!(rows(&events)[0]["after"].get("@1").is_some());
}

#[test]
fn negative_time_value() {
    let events = decodes_to(
        "time_issue.000001",
        &[("begin", 1), ("c", 1), ("commit", 1)],
    );
    assert_eq!(rows(&events)[0]["after"]["@1"], "-507:48:27");
}

#[test]
fn old_row_formats_v1_and_v2() {
    for name in ["update-full-row.binlog", "update-partial-row.binlog"] {
        decodes_to(
            name,
            &[("begin", 1), ("c", 5), ("commit", 1), ("d", 1), ("u", 1)],
        );
    }
    for name in ["write-full-row.binlog", "write-partial-row.binlog"] {
        decodes_to(name, &[("begin", 1), ("c", 6), ("commit", 1), ("d", 1)]);
    }
    decodes_to(
        "ver_5_1_23.001",
        &[
            ("begin", 1),
            ("c", 2),
            ("commit", 1),
            ("d", 1),
            ("ddl", 6),
            ("u", 2),
        ],
    );
    decodes_to(
        "ver_trunk_row_v2.001",
        &[
            ("begin", 9),
            ("c", 2),
            ("commit", 9),
            ("d", 1),
            ("ddl", 3),
            ("u", 2),
        ],
    );
    decodes_to(
        "bug32407.001",
        &[("begin", 1), ("c", 2), ("commit", 1), ("ddl", 1)],
    );
}

#[test]
fn statement_based_and_gtid_bookkeeping_files() {
    let cases: &[(&str, &[(&str, usize)])] = &[
        (
            "binlog_56_gtid_reserved_word.000001",
            &[("begin", 2), ("c", 1), ("commit", 2), ("ddl", 4)],
        ),
        ("binlog_savepoint.000001", &[("begin", 1), ("commit", 1)]),
        (
            "binlog_transaction.000001",
            &[("begin", 3), ("commit", 3), ("ddl", 6)],
        ),
        ("binlog_transaction_previous_GTID_no_tag.000001", &[]),
        (
            "binlog_transaction_with_GTID.000001",
            &[("begin", 1), ("commit", 1), ("ddl", 2)],
        ),
        (
            "binlog_transaction_with_anonymous_GTID.000001",
            &[("begin", 1), ("commit", 1), ("ddl", 1)],
        ),
        (
            "bug11747887-bin.000003",
            &[("begin", 1), ("commit", 1), ("ddl", 3)],
        ),
        ("bug16266.000001", &[("ddl", 4)]),
        ("bug27213339-bin.000001", &[("ddl", 46)]),
        ("bug33029-slave-relay-bin.000001", &[("ddl", 28)]),
        ("master-bin.000001", &[]),
        ("rpl_atomic_ddl_rollback_full.000001", &[("ddl", 4)]),
        ("rpl_atomic_ddl_rollback_table.000001", &[("ddl", 2)]),
        ("rpl_atomic_ddl_rollback_view.000001", &[("ddl", 2)]),
        (
            "rpl_cross_version_default_utf8mb4_collation.000001",
            &[("begin", 2), ("commit", 2), ("ddl", 3)],
        ),
        ("slave-relay-bin.000001", &[("ddl", 2)]),
        (
            "ver_5_1-wl2325_s.001",
            &[("begin", 1), ("commit", 1), ("ddl", 3)],
        ),
    ];
    for (name, expected) in cases {
        decodes_to(name, expected);
    }
}

#[test]
fn pre_ga_row_events_are_reported_as_incidents() {
    // MySQL 5.2.2 development build: its TABLE_MAP and rows events predate column metadata.
    let events = decodes_to("ver_5_1-wl2325_r.001", &[("ddl", 3), ("incident", 6)]);
    let incident = events.iter().find(|e| e["op"] == "incident").unwrap();
    assert!(incident["message"]
        .as_str()
        .unwrap()
        .contains("5.2.2-a_drop6p13-debug-log: row events of MySQL 5.1.0-5.1.15"));
}

#[test]
fn incident_event_is_reported_as_an_event() {
    let events = decodes_to("bug40482-bin.000001", &[("incident", 1)]);
    assert!(events[0]["message"].as_str().unwrap().starts_with("type "));
}

/// Bad input: a clear error naming the file, the byte offset and the event type.
fn fails_with(name: &str, offset: u64, event_type: &str, detail: &str) {
    let (_, error) = decode(name);
    let error = error.unwrap_or_else(|| panic!("{name} decoded without error"));
    assert!(error.contains(name), "{error}");
    assert!(
        error.contains(&format!("byte {offset}: {event_type}")),
        "{error}"
    );
    assert!(error.contains(detail), "{error}");
}

#[test]
fn truncated_and_corrupt_files_end_with_a_clear_error() {
    fails_with(
        "binlog_truncated_event.000001",
        4,
        "FORMAT_DESCRIPTION_EVENT",
        "the data ends inside the event header (10 of 19 bytes)",
    );
    fails_with(
        "binlog_truncated_prev_gtid_event.000001",
        120,
        "PREVIOUS_GTIDS_EVENT",
        "the data ends inside the event header",
    );
    fails_with(
        "corrupt-relay-bin.000624",
        91204,
        "QUERY_EVENT",
        "enough data",
    );
}

#[test]
fn a_file_that_is_not_a_binlog_is_refused() {
    let (_, error) = decode("SOURCES.md");
    assert!(error.unwrap().contains("not a binlog file"));
}

#[test]
fn dump_command_exits_nonzero_with_the_error() {
    let bad = common::fixture_dir().join("binlog_truncated_event.000001");
    let out = std::process::Command::new(common::sluice_bin())
        .args(["dump", "--file"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("byte 4: FORMAT_DESCRIPTION_EVENT"),
        "{stderr}"
    );
    let good = common::fixture_dir().join("mariadb-bin.000001");
    let out = std::process::Command::new(common::sluice_bin())
        .args(["dump", "--file"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(common::parse_lines(&out.stdout).len(), 6);
}

#[test]
fn a_flipped_byte_is_caught_by_the_crc32_check() {
    // MySQL 8 writes CRC32 checksums. Flip one byte inside the rows event of a fixture (in
    // memory: the fixture itself is only read) and the event is refused, named by its offset.
    let path = common::fixture_dir().join("mysql_type_bit.000001");
    let mut bytes = std::fs::read(&path).unwrap();
    let (clean, _) = decode("mysql_type_bit.000001");
    let row = clean.iter().find(|e| e["op"] == "c").unwrap();
    let at = row["source"]["pos"].as_u64().unwrap() as usize + 25;
    bytes[at] ^= 0x01;
    let mut reader = sluice_node::source::BinlogReader::new(&path, bytes.as_slice()).unwrap();
    let error = loop {
        match reader.next_event() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the corrupted file decoded without error"),
            Err(e) => break e.to_string(),
        }
    };
    assert!(error.contains("checksum mismatch"), "{error}");
    assert!(error.contains(&format!("byte {}", at - 25)), "{error}");
}
