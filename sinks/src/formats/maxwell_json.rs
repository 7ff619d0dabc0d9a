//! `maxwell-json`: the row messages of Zendesk's Maxwell, with its default output settings
//! (commit info on, nulls included, no binlog position, server or thread id).
//!
//! `{"database":…,"table":…,"type":"insert|update|delete","ts":<binlog seconds>,"xid":…,
//! "commit":true,"data":{…},"old":{…}}`. `data` is the row (for a delete, the deleted row);
//! `old`, on updates only, holds the previous values of the columns that changed and is left out
//! when none did. `xid` is the transaction's XID (left out when the transaction has none, e.g.
//! non-transactional tables); `"commit":true` marks the transaction's last row and is absent on
//! the others. Both come from the [`MessageContext`] the sink builds once it has the
//! transaction's commit (see [`super::context`]). Snapshot reads are `bootstrap-insert`.
//!
//! Transaction boundaries make no message. DDL makes none here either: Maxwell reports DDL only
//! with `output_ddl`, on its own; a sink with `schema_changes_topic` sends it there in Maxwell's
//! DDL form ([`super::maxwell_ddl`]).
//!
//! Values are Maxwell's: numbers as JSON numbers (DECIMAL and BIGINT UNSIGNED written digit for
//! digit, never through a float), DATE `"YYYY-MM-DD"`, TIME `"HH:MM:SS[.ffffff]"`, DATETIME
//! `"YYYY-MM-DD HH:MM:SS[.ffffff]"` and TIMESTAMP the same in UTC, each with the column's
//! fractional digits and zero dates as written, strings as UTF-8, binary values base64, SET as an
//! array of names, JSON as the document itself. Where Sluice differs: GEOMETRY is
//! `{"srid":…,"wkb":<base64>}` (Maxwell writes WKT), text Sluice could not decode is base64 of
//! its bytes (as Maxwell does for binary strings), and ENUM/SET values whose member names are
//! unknown are their index and bitmask.

use sluice_core::value::Value;
use sluice_core::{Event, EventKind, Op, RowChange};

use super::context::MessageContext;
use super::json_text::{write_base64, write_key, write_str, write_str_body, write_u64};
use super::row_parts::{changed, data_image, key_columns};
use super::temporal::write_timestamp_sql;

/// Appends the Maxwell message for a row event; `false` (nothing written) otherwise.
pub(crate) fn encode(event: &Event, ctx: &MessageContext, out: &mut Vec<u8>) -> bool {
    let EventKind::Row(row) = &event.kind else {
        return false;
    };
    let schema = &*row.table;
    out.extend_from_slice(br#"{"database":"#);
    write_str(out, &schema.database);
    out.extend_from_slice(br#","table":"#);
    write_str(out, &schema.table);
    out.extend_from_slice(match row.op {
        Op::Create => br#","type":"insert","ts":"#.as_slice(),
        Op::Update => br#","type":"update","ts":"#,
        Op::Delete => br#","type":"delete","ts":"#,
        Op::Read => br#","type":"bootstrap-insert","ts":"#,
    });
    write_u64(out, event.position.ts_ms / 1000);
    if let Some(xid) = ctx.xid {
        out.extend_from_slice(br#","xid":"#);
        write_u64(out, xid);
    }
    if ctx.last_row {
        out.extend_from_slice(br#","commit":true"#);
    }
    out.extend_from_slice(br#","data":{"#);
    if let Some(image) = data_image(row) {
        let mut first = true;
        for (column, value) in schema.columns.iter().zip(&image.0) {
            if let Some(value) = value {
                write_key(out, &column.name, first);
                write_value(out, value);
                first = false;
            }
        }
    }
    out.push(b'}');
    write_old(out, row);
    out.push(b'}');
    true
}

/// `,"old":{…}` with the previous values of the columns an update changed; nothing otherwise.
fn write_old(out: &mut Vec<u8>, row: &RowChange) {
    let (Op::Update, Some(before)) = (row.op, &row.before) else {
        return;
    };
    let mut first = true;
    for (i, column) in row.table.columns.iter().enumerate() {
        if !changed(row, i) {
            continue;
        }
        if first {
            out.extend_from_slice(br#","old":{"#);
        }
        write_key(out, &column.name, first);
        write_value(
            out,
            before
                .get(i)
                .expect("a changed column is in the before image"),
        );
        first = false;
    }
    if !first {
        out.push(b'}');
    }
}

/// Appends `value` as Maxwell writes it.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        // Maxwell writes DECIMAL as a JSON number with the exact digits.
        Value::Decimal(s) if is_json_number(s) => out.extend_from_slice(s.as_bytes()),
        Value::Timestamp(ts) => {
            out.push(b'"');
            write_timestamp_sql(out, ts);
            out.push(b'"');
        }
        Value::Bytes(bytes) | Value::UndecodedText { bytes, .. } => write_base64(out, bytes),
        // Everything else is the same as in Sluice's own form (DATETIME, DATE and TIME text
        // included), or is a documented difference (GEOMETRY).
        _ => sluice_core::json::write_value(out, value),
    }
}

/// Whether `s` is a JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`), so DECIMAL
/// text can be written as one; anything else stays a string.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    match digits(&mut i) {
        0 => return false,
        n if n > 1 && b[int_start] == b'0' => return false,
        _ => {}
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The key of a row event in Maxwell's default (`hash`) key format:
/// `{"database":"test","table":"maxwell","pk.id":1}`, primary-key column names lower-cased as
/// Maxwell does. `false` (no key) for other events and for tables without a primary key, where
/// Maxwell would put a random UUID.
pub(crate) fn key(event: &Event, out: &mut Vec<u8>) -> bool {
    let EventKind::Row(row) = &event.kind else {
        return false;
    };
    let Some(columns) = key_columns(row) else {
        return false;
    };
    out.extend_from_slice(br#"{"database":"#);
    write_str(out, &row.table.database);
    out.extend_from_slice(br#","table":"#);
    write_str(out, &row.table.table);
    for (name, value) in columns {
        out.extend_from_slice(br#","pk."#);
        write_str_body(out, name.to_lowercase().as_bytes());
        out.extend_from_slice(b"\":");
        write_value(out, value);
    }
    out.push(b'}');
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::context::contexts;
    use crate::formats::test_support::{
        all_types, all_types_row, begin, commit, ddl, delete, insert, parse, table, text, update,
    };
    use sluice_core::value::{Date, DateTime, Timestamp};
    use sluice_core::RowImage;
    use std::sync::Arc;

    /// The table of Maxwell's README: `test.maxwell (id int, daemon varchar)`.
    fn maxwell_table() -> Arc<sluice_core::TableSchema> {
        table(
            "test",
            "maxwell",
            &[("id", "int(11)"), ("daemon", "varchar(255)")],
            vec![0],
        )
    }

    fn daemon(name: &str) -> RowImage {
        RowImage(vec![Some(Value::Int(1)), Some(Value::Text(name.into()))])
    }

    fn message(event: &Event, ctx: MessageContext) -> String {
        let mut out = Vec::new();
        assert!(encode(event, &ctx, &mut out));
        parse(&out);
        text(&out).to_string()
    }

    fn committed(xid: u64) -> MessageContext {
        MessageContext {
            now_ms: 0,
            xid: Some(xid),
            last_row: true,
        }
    }

    /// Maxwell's README examples: an insert and an update, each a one-row transaction.
    #[test]
    fn insert_and_update_match_the_documented_examples() {
        let mut event = insert(&maxwell_table(), daemon("Stanislaw Lem"));
        event.position.ts_ms = 1_449_786_310_000;
        assert_eq!(
            message(&event, committed(940_752)),
            concat!(
                r#"{"database":"test","table":"maxwell","type":"insert","ts":1449786310,"#,
                r#""xid":940752,"commit":true,"data":{"id":1,"daemon":"Stanislaw Lem"}}"#
            )
        );
        let mut event = update(
            &maxwell_table(),
            daemon("Stanislaw Lem"),
            daemon("Firebus!  Firebus!"),
        );
        event.position.ts_ms = 1_449_786_341_000;
        assert_eq!(
            message(&event, committed(940_786)),
            concat!(
                r#"{"database":"test","table":"maxwell","type":"update","ts":1449786341,"#,
                r#""xid":940786,"commit":true,"data":{"id":1,"daemon":"Firebus!  Firebus!"},"#,
                r#""old":{"daemon":"Stanislaw Lem"}}"#
            )
        );
    }

    /// A snapshot row is what Maxwell's bootstrap emits: `bootstrap-insert`, data only.
    #[test]
    fn a_snapshot_read_is_a_bootstrap_insert() {
        let mut event = insert(&maxwell_table(), daemon("Lem"));
        if let EventKind::Row(row) = &mut event.kind {
            row.op = Op::Read;
        }
        event.position.ts_ms = 1_449_786_310_000;
        assert_eq!(
            message(&event, committed(1)),
            concat!(
                r#"{"database":"test","table":"maxwell","type":"bootstrap-insert","#,
                r#""ts":1449786310,"xid":1,"commit":true,"data":{"id":1,"daemon":"Lem"}}"#
            )
        );
    }

    /// Maxwell's data-format page: `test.e` with a DOUBLE and a TIMESTAMP(6) column.
    #[test]
    fn temporal_and_float_values_as_in_the_data_format_page() {
        let e = table(
            "test",
            "e",
            &[
                ("id", "int(10)"),
                ("m", "double"),
                ("c", "timestamp(6)"),
                ("comment", "varchar(255)"),
            ],
            vec![0],
        );
        let row = RowImage(vec![
            Some(Value::Int(1)),
            Some(Value::Double(4.2341)),
            Some(Value::Timestamp(Timestamp {
                seconds: 1_477_053_217,
                micros: 523_000,
                fsp: 6,
            })),
            Some(Value::Text("I am a creature of light.".into())),
        ]);
        let mut event = delete(&e, row);
        event.position.ts_ms = 1_477_053_217_000;
        let ctx = MessageContext {
            now_ms: 0,
            xid: Some(23_396),
            last_row: false,
        };
        assert_eq!(
            message(&event, ctx),
            concat!(
                r#"{"database":"test","table":"e","type":"delete","ts":1477053217,"xid":23396,"#,
                r#""data":{"id":1,"m":4.2341,"c":"2016-10-21 12:33:37.523000","#,
                r#""comment":"I am a creature of light."}}"#
            )
        );
    }

    #[test]
    fn only_the_last_row_of_a_transaction_commits() {
        let t = maxwell_table();
        let events = vec![
            begin(),
            insert(&t, daemon("a")),
            insert(&t, daemon("b")),
            commit(Some(9)),
        ];
        let ctx = contexts(&events, 0);
        let first = parse(message(&events[1], ctx[1]).as_bytes());
        let last = parse(message(&events[2], ctx[2]).as_bytes());
        assert_eq!((&first["xid"], first.get("commit")), (&9.into(), None));
        assert_eq!((&last["xid"], &last["commit"]), (&9.into(), &true.into()));
        let mut out = Vec::new();
        for event in [&events[0], &events[3], &ddl("DROP TABLE t")] {
            assert!(!encode(event, &ctx[0], &mut out));
        }
        assert!(out.is_empty());
        let no_xid = message(&events[1], MessageContext::default());
        assert!(
            !no_xid.contains("xid") && !no_xid.contains("commit"),
            "{no_xid}"
        );
    }

    #[test]
    fn edge_values_keep_their_precision_and_old_only_changed_columns() {
        let before = all_types_row();
        let mut after = before.clone();
        after.0[2] = Some(Value::Decimal("0.000000001".into()));
        after.0[10] = Some(Value::DateTime(DateTime {
            date: Date {
                year: 0,
                month: 0,
                day: 0,
            },
            hour: 0,
            minute: 0,
            second: 0,
            micros: 0,
            fsp: 3,
        }));
        let got = message(&update(&all_types(), before, after), committed(1));
        assert!(
            got.contains(r#""id":18446744073709551615,"#)
                && got.contains(r#""dec":0.000000001,"#)
                && got.contains(r#""dt3":"0000-00-00 00:00:00.000","#)
                && got.contains(r#""y":0,"dt_date":"0000-00-00","t":"-838:59:59.000000","#)
                && got.contains(r#""ts":"2024-01-01 00:00:00.500","#)
                && got.contains(r#""bin":"AH+A/w==","raw":"/wA=","e":"paid","s":["a","c"],"#)
                && got.contains(r#""j":{"k":[1,"x"],"n":null},"#)
                && got.contains(r#""n":null}"#),
            "{got}"
        );
        let old = &parse(got.as_bytes())["old"];
        assert_eq!(
            old,
            &serde_json::json!({
                "dec": serde_json::from_str::<serde_json::Value>(
                    "-12345678901234567890.123456789"
                ).unwrap(),
                "dt3": "2024-02-29 23:59:58.120",
            })
        );
        assert!(got.ends_with(
            r#""old":{"dec":-12345678901234567890.123456789,"dt3":"2024-02-29 23:59:58.120"}}"#
        ));
    }

    #[test]
    fn decimal_text_that_is_no_json_number_stays_a_string() {
        for (text, number) in [
            ("1", true),
            ("-0.50", true),
            ("1e5", true),
            ("0", true),
            ("", false),
            ("-", false),
            ("01", false),
            (".5", false),
            ("1.", false),
            ("NaN", false),
            ("1 ", false),
        ] {
            assert_eq!(is_json_number(text), number, "{text:?}");
        }
        let mut out = Vec::new();
        write_value(&mut out, &Value::Decimal(".5".into()));
        assert_eq!(out, br#"".5""#);
    }

    #[test]
    fn key_is_maxwells_hash_format() {
        let t = table("test", "Users", &[("ID", "int(11)")], vec![0]);
        let event = insert(&t, RowImage(vec![Some(Value::Int(123))]));
        let mut out = Vec::new();
        assert!(key(&event, &mut out));
        assert_eq!(
            text(&out),
            r#"{"database":"test","table":"Users","pk.id":123}"#
        );
        let no_pk = table("test", "log", &[("line", "text")], vec![]);
        let event = insert(&no_pk, RowImage(vec![Some(Value::Null)]));
        assert!(!key(&event, &mut Vec::new()));
    }
}
