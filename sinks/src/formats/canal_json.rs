//! `canal-json`: Alibaba Canal's flat message (`FlatMessage`), as Canal's Kafka producer writes
//! it and canal-adapter and Flink's `canal-json` format read it.
//!
//! Fields in Canal's order (fastjson writes them sorted by name, nulls included): `data`,
//! `database`, `es`, `id`, `isDdl`, `mysqlType`, `old`, `pkNames`, `sql`, `sqlType`, `table`,
//! `ts`, `type`. One message per row change, so `data` (and `old`) hold one row; Canal batches
//! the rows of one binlog event into one message, which its consumers read the same way.
//! DDL statements become `isDdl: true` messages with the statement in `sql`; transaction
//! boundaries and incidents make no message. Values: see [`super::canal_values`].

use sluice_core::{Event, EventKind, Op, RowChange};

use super::canal_ddl::classify;
use super::canal_values::{sql_type, write_value};
use super::context::MessageContext;
use super::json_text::{write_i64, write_key, write_str, write_u64};
use super::row_parts::{changed, data_image, key_columns};

/// Appends the Canal message for `event`; `false` (nothing written) for events Canal has no
/// message for.
pub(crate) fn encode(event: &Event, ctx: &MessageContext, out: &mut Vec<u8>) -> bool {
    match &event.kind {
        EventKind::Row(row) => {
            write_row(event, row, ctx, out);
            true
        }
        EventKind::Ddl { database, sql, .. } => {
            write_ddl(event, database, sql, ctx, out);
            true
        }
        EventKind::Begin | EventKind::Commit { .. } | EventKind::Incident { .. } => false,
    }
}

fn write_row(event: &Event, row: &RowChange, ctx: &MessageContext, out: &mut Vec<u8>) {
    let schema = &*row.table;
    let image = data_image(row);
    // The columns the message shows: those in the image (all of them unless MINIMAL).
    let shown: Vec<usize> = image.map_or_else(Vec::new, |image| {
        (0..schema.columns.len())
            .filter(|&i| image.get(i).is_some())
            .collect()
    });

    out.extend_from_slice(br#"{"data":"#);
    match image {
        Some(image) if !shown.is_empty() => {
            out.extend_from_slice(b"[{");
            for (n, &i) in shown.iter().enumerate() {
                write_key(out, &schema.columns[i].name, n == 0);
                write_value(out, image.get(i).expect("shown columns are in the image"));
            }
            out.extend_from_slice(b"}]");
        }
        _ => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","database":"#);
    write_str(out, &schema.database);
    write_times_and_id(event, out);
    out.extend_from_slice(br#","isDdl":false,"mysqlType":"#);
    write_column_map(out, row, &shown, |out, i| {
        write_str(out, &schema.columns[i].type_name)
    });
    out.extend_from_slice(br#","old":"#);
    write_old(out, row);
    out.extend_from_slice(br#","pkNames":"#);
    if schema.primary_key_names().next().is_none() {
        out.extend_from_slice(b"null");
    } else {
        out.push(b'[');
        for (n, name) in schema.primary_key_names().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_str(out, name);
        }
        out.push(b']');
    }
    // Canal puts the statement here only for DDL (or with row-query logging); rows get "".
    out.extend_from_slice(br#","sql":"","sqlType":"#);
    write_column_map(out, row, &shown, |out, i| {
        write_i64(out, i64::from(sql_type(&schema.columns[i].type_name)))
    });
    out.extend_from_slice(br#","table":"#);
    write_str(out, &schema.table);
    out.extend_from_slice(br#","ts":"#);
    write_u64(out, ctx.now_ms);
    out.extend_from_slice(br#","type":"#);
    out.extend_from_slice(match row.op {
        Op::Create | Op::Read => br#""INSERT"}"#.as_slice(),
        Op::Update => br#""UPDATE"}"#,
        Op::Delete => br#""DELETE"}"#,
    });
}

/// `,"es":…,"id":0`: the binlog time, and Canal's batch id, which Sluice does not have (0).
fn write_times_and_id(event: &Event, out: &mut Vec<u8>) {
    out.extend_from_slice(br#","es":"#);
    write_u64(out, event.position.ts_ms);
    out.extend_from_slice(br#","id":0"#);
}

/// An object of the shown columns with `write` giving each one's value; `null` for none.
fn write_column_map(
    out: &mut Vec<u8>,
    row: &RowChange,
    shown: &[usize],
    mut write: impl FnMut(&mut Vec<u8>, usize),
) {
    if shown.is_empty() {
        out.extend_from_slice(b"null");
        return;
    }
    out.push(b'{');
    for (n, &i) in shown.iter().enumerate() {
        write_key(out, &row.table.columns[i].name, n == 0);
        write(out, i);
    }
    out.push(b'}');
}

/// For an update, the previous values of the columns it changed, `[{…}]`; `null` otherwise and
/// when no column changed, as Canal.
fn write_old(out: &mut Vec<u8>, row: &RowChange) {
    let (Op::Update, Some(before)) = (row.op, &row.before) else {
        out.extend_from_slice(b"null");
        return;
    };
    let mut first = true;
    for (i, column) in row.table.columns.iter().enumerate() {
        if !changed(row, i) {
            continue;
        }
        out.extend_from_slice(if first { b"[{" } else { b"," });
        write_str(out, &column.name);
        out.push(b':');
        write_value(
            out,
            before
                .get(i)
                .expect("a changed column is in the before image"),
        );
        first = false;
    }
    out.extend_from_slice(if first { b"null" } else { b"}]" });
}

fn write_ddl(event: &Event, database: &str, sql: &str, ctx: &MessageContext, out: &mut Vec<u8>) {
    let ddl = classify(sql);
    out.extend_from_slice(br#"{"data":null,"database":"#);
    write_str(out, ddl.database.as_deref().unwrap_or(database));
    write_times_and_id(event, out);
    out.extend_from_slice(br#","isDdl":true,"mysqlType":null,"old":null,"pkNames":null,"sql":"#);
    write_str(out, sql);
    out.extend_from_slice(br#","sqlType":null,"table":"#);
    write_str(out, &ddl.table);
    out.extend_from_slice(br#","ts":"#);
    write_u64(out, ctx.now_ms);
    out.extend_from_slice(br#","type":"#);
    write_str(out, ddl.kind);
    out.push(b'}');
}

/// The key of a row event: `{"database":"inventory","table":"products","pk":{"id":"111"}}`,
/// values as in `data`. (Canal itself sends no key and picks partitions by its own hash.)
/// `false` for other events and for tables without a primary key.
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
    out.extend_from_slice(br#","pk":{"#);
    for (n, (name, value)) in columns.into_iter().enumerate() {
        write_key(out, name, n == 0);
        write_value(out, value);
    }
    out.extend_from_slice(b"}}");
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{
        all_types, all_types_row, begin, commit, ddl, delete, insert, parse, products, row, table,
        text, update,
    };
    use sluice_core::{RowImage, Value};

    const NOW: u64 = 1_589_373_560_798;

    fn message(event: &Event) -> String {
        let mut out = Vec::new();
        assert!(encode(event, &MessageContext::at(NOW), &mut out));
        parse(&out);
        text(&out).to_string()
    }

    /// Flink's documented canal-json example: the update of product 111's weight from 5.15 to
    /// 5.18, field for field (Canal's batch id aside: 0 here, 9 in the example).
    #[test]
    fn update_matches_the_documented_example() {
        let mut before = row(111);
        before.0[3] = Some(Value::Float(5.15));
        let got = message(&update(&products(), before, row(111)));
        assert_eq!(
            got,
            concat!(
                r#"{"data":[{"id":"111","name":"scooter","description":"Big 2-wheel scooter","#,
                r#""weight":"5.18"}],"database":"inventory","es":1589373560000,"id":0,"#,
                r#""isDdl":false,"mysqlType":{"id":"int(11)","name":"varchar(255)","#,
                r#""description":"varchar(512)","weight":"float"},"old":[{"weight":"5.15"}],"#,
                r#""pkNames":["id"],"sql":"","sqlType":{"id":4,"name":12,"description":12,"#,
                r#""weight":7},"table":"products","ts":1589373560798,"type":"UPDATE"}"#
            )
        );
    }

    #[test]
    fn insert_and_delete_carry_the_row_in_data_and_no_old() {
        let got = message(&insert(&products(), row(1)));
        assert!(got.starts_with(r#"{"data":[{"id":"1","#), "{got}");
        assert!(got.contains(r#","old":null,"#) && got.ends_with(r#""type":"INSERT"}"#));
        let got = message(&delete(&products(), row(2)));
        assert!(got.starts_with(r#"{"data":[{"id":"2","#), "{got}");
        assert!(got.contains(r#","old":null,"#) && got.ends_with(r#""type":"DELETE"}"#));
    }

    /// Canal has no snapshot type: a snapshot row is an `INSERT` of the row.
    #[test]
    fn a_snapshot_read_is_an_insert() {
        let mut event = insert(&products(), row(1));
        let inserted = message(&event);
        if let EventKind::Row(change) = &mut event.kind {
            change.op = Op::Read;
        }
        assert_eq!(message(&event), inserted);
    }

    #[test]
    fn old_holds_only_changed_columns_and_is_null_when_none_changed() {
        let table = all_types();
        let before = all_types_row();
        let mut after = before.clone();
        after.0[1] = Some(Value::Int(7));
        after.0[21] = Some(Value::Text("now set".into()));
        let json = parse(message(&update(&table, before.clone(), after)).as_bytes());
        assert_eq!(
            json["old"],
            serde_json::json!([{"i": "-2147483648", "n": null}])
        );
        assert_eq!(json["data"][0]["n"], "now set");
        let json = parse(message(&update(&table, before.clone(), before)).as_bytes());
        assert_eq!(json["old"], serde_json::Value::Null);
    }

    #[test]
    fn minimal_images_show_only_their_columns() {
        let before = RowImage(vec![Some(Value::Int(5)), None, None, None]);
        let got = message(&delete(&products(), before));
        assert!(got.starts_with(r#"{"data":[{"id":"5"}],"#), "{got}");
        assert!(got.contains(r#""mysqlType":{"id":"int(11)"},"#), "{got}");
        assert!(got.contains(r#""sqlType":{"id":4},"#), "{got}");
    }

    #[test]
    fn tables_without_a_primary_key_have_null_pk_names_and_no_key() {
        let t = table("db", "log", &[("line", "text")], vec![]);
        let event = insert(&t, RowImage(vec![Some(Value::Text("x".into()))]));
        assert!(message(&event).contains(r#""pkNames":null,"#));
        assert!(!key(&event, &mut Vec::new()));
    }

    #[test]
    fn ddl_is_an_isddl_message_with_the_statement() {
        assert_eq!(
            message(&ddl("ALTER TABLE `shop`.`orders` ADD note TEXT")),
            concat!(
                r#"{"data":null,"database":"shop","es":1589373560000,"id":0,"isDdl":true,"#,
                r#""mysqlType":null,"old":null,"pkNames":null,"#,
                r#""sql":"ALTER TABLE `shop`.`orders` ADD note TEXT","sqlType":null,"#,
                r#""table":"orders","ts":1589373560798,"type":"ALTER"}"#
            )
        );
        let json = parse(message(&ddl("CREATE DATABASE d")).as_bytes());
        assert_eq!(
            (&json["database"], &json["type"]),
            (&"inventory".into(), &"QUERY".into())
        );
    }

    #[test]
    fn transaction_boundaries_make_no_message() {
        let mut out = Vec::new();
        let ctx = MessageContext::at(NOW);
        assert!(!encode(&begin(), &ctx, &mut out));
        assert!(!encode(&commit(Some(1)), &ctx, &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn key_holds_table_and_primary_key_as_strings() {
        let mut out = Vec::new();
        assert!(key(&insert(&all_types(), all_types_row()), &mut out));
        assert_eq!(
            text(&out),
            r#"{"database":"edge","table":"all_types","pk":{"id":"18446744073709551615"}}"#
        );
    }
}
