//! `debezium-json`: the change events of Debezium's MySQL connector as Kafka Connect's JSON
//! converter writes them, by default without the schema part (`schemas.enable=false`, what
//! Flink's `debezium-json` format and most consumers read), or with it.
//!
//! Value: `{"before":…,"after":…,"source":{…},"op":"c|u|d|r","ts_ms":…,"ts_us":…,"ts_ns":…,
//! "transaction":null}` (with schemas: `{"schema":{…},"payload":<that>}`). The `source` block
//! has Debezium's MySQL fields in Debezium's order: `version` (`sluice-<version>`: the producer
//! is named honestly), `connector` (`mysql`), `name` (the configured logical server name),
//! `ts_ms` (binlog time), `snapshot` (`"true"` for snapshot reads, else `"false"`), `db`,
//! `sequence`, `ts_us`, `ts_ns`, `table`, `server_id`, `gtid`, `file`, `pos`, `row`, `thread`
//! and `query` (`null`: Sluice does not read them). The top-level `ts_ms` is when the message was
//! built (the sink's clock), as Debezium's is its processing time.
//!
//! Key: the primary-key columns, `{"id":1001}` (with schemas: `{"schema":…,"payload":…}`);
//! tables without a primary key have no key, as in Debezium.
//!
//! Only row changes make messages here: Debezium sends DDL to a separate schema-change topic
//! (written by [`super::debezium_ddl`] when the sink has `schema_changes_topic`) and transaction
//! boundaries to a separate transaction topic, which this format does not cover.
//! No tombstone follows a delete (as Debezium with `tombstones.on.delete=false`). Values: see
//! [`super::debezium_values`].

use sluice_core::{Event, EventKind, EventPosition, Op, RowChange, RowImage};

use super::column_type::ColumnType;
use super::context::MessageContext;
use super::debezium_schema::{write_key_schema, write_value_schema};
use super::debezium_values::write_value;
use super::json_text::{write_key, write_str, write_u64};
use super::row_parts::key_columns;

/// Settings of the Debezium format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebeziumOptions {
    /// The logical server name (Debezium's `topic.prefix`): `source.name`, and the first part of
    /// schema names.
    pub server_name: String,
    /// Whether messages carry the schema part (Kafka Connect's `schemas.enable`).
    pub schemas: bool,
}

impl Default for DebeziumOptions {
    fn default() -> DebeziumOptions {
        DebeziumOptions {
            server_name: "sluice".into(),
            schemas: false,
        }
    }
}

/// Appends the Debezium change event for a row event; `false` (nothing written) otherwise.
pub(crate) fn encode(
    event: &Event,
    ctx: &MessageContext,
    options: &DebeziumOptions,
    out: &mut Vec<u8>,
) -> bool {
    let EventKind::Row(row) = &event.kind else {
        return false;
    };
    if options.schemas {
        out.extend_from_slice(br#"{"schema":"#);
        write_value_schema(out, &options.server_name, &row.table);
        out.extend_from_slice(br#","payload":"#);
    }
    out.extend_from_slice(br#"{"before":"#);
    write_image(out, row, row.before.as_ref());
    out.extend_from_slice(br#","after":"#);
    write_image(out, row, row.after.as_ref());
    out.extend_from_slice(br#","source":"#);
    let source = Source {
        db: &row.table.database,
        table: Some(&row.table.table),
        snapshot: row.op == Op::Read,
    };
    write_source(out, &event.position, &source, &options.server_name);
    out.extend_from_slice(br#","op":""#);
    out.extend_from_slice(row.op.code().as_bytes());
    out.push(b'"');
    write_times(out, ctx.now_ms);
    out.extend_from_slice(br#","transaction":null}"#);
    if options.schemas {
        out.push(b'}');
    }
    true
}

/// A row image as an object of its columns (those in the image), or `null`.
fn write_image(out: &mut Vec<u8>, row: &RowChange, image: Option<&RowImage>) {
    let Some(image) = image else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'{');
    let mut first = true;
    for (column, value) in row.table.columns.iter().zip(&image.0) {
        if let Some(value) = value {
            write_key(out, &column.name, first);
            write_value(out, value, &ColumnType::parse(&column.type_name));
            first = false;
        }
    }
    out.push(b'}');
}

/// What the `source` block says beyond the event's position.
pub(crate) struct Source<'a> {
    pub db: &'a str,
    /// `None`: `null` (a statement about a database, or about no table).
    pub table: Option<&'a str>,
    pub snapshot: bool,
}

/// The `source` block, Debezium's MySQL fields in Debezium's order.
pub(crate) fn write_source(
    out: &mut Vec<u8>,
    p: &EventPosition,
    source: &Source<'_>,
    server_name: &str,
) {
    out.extend_from_slice(
        concat!(
            r#"{"version":"sluice-"#,
            env!("CARGO_PKG_VERSION"),
            r#"","connector":"mysql","name":"#
        )
        .as_bytes(),
    );
    write_str(out, server_name);
    out.extend_from_slice(br#","ts_ms":"#);
    write_u64(out, p.ts_ms);
    out.extend_from_slice(if source.snapshot {
        br#","snapshot":"true","db":"#.as_slice()
    } else {
        br#","snapshot":"false","db":"#
    });
    write_str(out, source.db);
    out.extend_from_slice(br#","sequence":null"#);
    write_sub_millis(out, p.ts_ms);
    out.extend_from_slice(br#","table":"#);
    match source.table {
        Some(table) => write_str(out, table),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","server_id":"#);
    write_u64(out, u64::from(p.server_id));
    out.extend_from_slice(br#","gtid":"#);
    match &p.gtid {
        Some(gtid) => write_str(out, &gtid.to_string()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","file":"#);
    write_str(out, &p.file);
    out.extend_from_slice(br#","pos":"#);
    write_u64(out, p.pos);
    out.extend_from_slice(br#","row":"#);
    write_u64(out, u64::from(p.row));
    out.extend_from_slice(br#","thread":null,"query":null}"#);
}

/// `,"ts_ms":…` and the same instant in micro- and nanoseconds (Debezium 2.6+).
fn write_times(out: &mut Vec<u8>, ms: u64) {
    out.extend_from_slice(br#","ts_ms":"#);
    write_u64(out, ms);
    write_sub_millis(out, ms);
}

fn write_sub_millis(out: &mut Vec<u8>, ms: u64) {
    out.extend_from_slice(br#","ts_us":"#);
    write_u64(out, ms.saturating_mul(1_000));
    out.extend_from_slice(br#","ts_ns":"#);
    write_u64(out, ms.saturating_mul(1_000_000));
}

/// The key of a row event: its primary-key columns; `false` (no key) for other events and for
/// tables without a primary key.
pub(crate) fn key(event: &Event, options: &DebeziumOptions, out: &mut Vec<u8>) -> bool {
    let EventKind::Row(row) = &event.kind else {
        return false;
    };
    let Some(columns) = key_columns(row) else {
        return false;
    };
    if options.schemas {
        out.extend_from_slice(br#"{"schema":"#);
        write_key_schema(out, &options.server_name, &row.table);
        out.extend_from_slice(br#","payload":"#);
    }
    out.push(b'{');
    for (n, (name, value)) in columns.into_iter().enumerate() {
        write_key(out, name, n == 0);
        let type_name = row
            .table
            .columns
            .iter()
            .find(|c| c.name == name)
            .map_or("", |c| c.type_name.as_str());
        write_value(out, value, &ColumnType::parse(type_name));
    }
    out.push(b'}');
    if options.schemas {
        out.push(b'}');
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{
        all_types, all_types_row, begin, change, commit, ddl, delete, insert, parse, table, text,
        update,
    };
    use sluice_core::Value;
    use std::sync::Arc;

    const NOW: u64 = 1_465_491_411_815;

    /// The table of Debezium's MySQL connector documentation.
    fn customers() -> Arc<sluice_core::TableSchema> {
        table(
            "inventory",
            "customers",
            &[
                ("id", "int(11)"),
                ("first_name", "varchar(255)"),
                ("last_name", "varchar(255)"),
                ("email", "varchar(255)"),
            ],
            vec![0],
        )
    }

    fn anne(first_name: &str) -> RowImage {
        RowImage(vec![
            Some(Value::Int(1004)),
            Some(Value::Text(first_name.into())),
            Some(Value::Text("Kretchmar".into())),
            Some(Value::Text("annek@noanswer.org".into())),
        ])
    }

    fn options(schemas: bool) -> DebeziumOptions {
        DebeziumOptions {
            server_name: "mysql-server-1".into(),
            schemas,
        }
    }

    fn message(event: &Event, schemas: bool) -> String {
        let mut out = Vec::new();
        assert!(encode(
            event,
            &MessageContext::at(NOW),
            &options(schemas),
            &mut out
        ));
        parse(&out);
        text(&out).to_string()
    }

    /// Debezium's documented _update_ event for customer 1004, payload only.
    #[test]
    fn update_matches_the_documented_example() {
        let mut event = update(&customers(), anne("Anne"), anne("Anne Marie"));
        event.position.pos = 484;
        event.position.ts_ms = 1_465_581_029_000;
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            message(&event, false),
            format!(
                concat!(
                    r#"{{"before":{{"id":1004,"first_name":"Anne","last_name":"Kretchmar","#,
                    r#""email":"annek@noanswer.org"}},"after":{{"id":1004,"#,
                    r#""first_name":"Anne Marie","last_name":"Kretchmar","#,
                    r#""email":"annek@noanswer.org"}},"source":{{"version":"sluice-{version}","#,
                    r#""connector":"mysql","name":"mysql-server-1","ts_ms":1465581029000,"#,
                    r#""snapshot":"false","db":"inventory","sequence":null,"#,
                    r#""ts_us":1465581029000000,"ts_ns":1465581029000000000,"#,
                    r#""table":"customers","server_id":223344,"gtid":null,"#,
                    r#""file":"mysql-bin.000003","pos":484,"row":0,"thread":null,"query":null}},"#,
                    r#""op":"u","ts_ms":1465491411815,"ts_us":1465491411815000,"#,
                    r#""ts_ns":1465491411815000000,"transaction":null}}"#
                ),
                version = version
            )
        );
    }

    #[test]
    fn create_delete_and_read_fill_before_and_after_as_debezium() {
        let json = parse(message(&insert(&customers(), anne("Anne")), false).as_bytes());
        assert_eq!(
            (&json["op"], &json["before"]),
            (&"c".into(), &serde_json::Value::Null)
        );
        assert_eq!(json["after"]["first_name"], "Anne");
        let json = parse(message(&delete(&customers(), anne("Anne")), false).as_bytes());
        assert_eq!(
            (&json["op"], &json["after"]),
            (&"d".into(), &serde_json::Value::Null)
        );
        assert_eq!(json["before"]["id"], 1004);
        let read = change(Op::Read, &customers(), None, Some(anne("Anne")));
        let json = parse(message(&read, false).as_bytes());
        assert_eq!(
            (&json["op"], &json["source"]["snapshot"]),
            (&"r".into(), &"true".into())
        );
    }

    #[test]
    fn with_schemas_the_payload_is_wrapped_with_its_schema() {
        let event = insert(&customers(), anne("Anne"));
        let json = parse(message(&event, true).as_bytes());
        assert_eq!(
            json["schema"]["name"],
            "mysql-server-1.inventory.customers.Envelope"
        );
        assert_eq!(json["payload"], parse(message(&event, false).as_bytes()));
        let first_names: Vec<_> = json["schema"]["fields"][1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].clone())
            .collect();
        assert_eq!(first_names, ["id", "first_name", "last_name", "email"]);
    }

    #[test]
    fn edge_values_keep_their_precision() {
        let json = parse(message(&insert(&all_types(), all_types_row()), false).as_bytes());
        let after = &json["after"];
        assert_eq!(after["id"].as_u64(), Some(u64::MAX));
        assert_eq!(after["dec"], "-12345678901234567890.123456789");
        assert_eq!(after["dt_date"], serde_json::Value::Null);
        assert_eq!(after["n"], serde_json::Value::Null);
    }

    #[test]
    fn gtid_is_a_string_when_known() {
        let mut event = insert(&customers(), anne("Anne"));
        event.position.gtid = Some(Arc::new("0-1-6".parse().unwrap()));
        let json = parse(message(&event, false).as_bytes());
        assert_eq!(json["source"]["gtid"], "0-1-6");
    }

    #[test]
    fn only_row_changes_make_messages() {
        let ctx = MessageContext::at(NOW);
        for event in [begin(), commit(Some(3)), ddl("DROP TABLE t")] {
            let mut out = Vec::new();
            assert!(!encode(&event, &ctx, &options(false), &mut out));
            assert!(!key(&event, &options(false), &mut out));
            assert!(out.is_empty());
        }
    }

    #[test]
    fn key_is_the_primary_key_with_or_without_schema() {
        let event = insert(&customers(), anne("Anne"));
        let mut out = Vec::new();
        assert!(key(&event, &options(false), &mut out));
        assert_eq!(text(&out), r#"{"id":1004}"#);
        out.clear();
        assert!(key(&event, &options(true), &mut out));
        assert_eq!(
            text(&out),
            concat!(
                r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"#,
                r#""field":"id"}],"optional":false,"name":"mysql-server-1.inventory.customers.Key"},"#,
                r#""payload":{"id":1004}}"#
            )
        );
        let no_pk = table("db", "log", &[("line", "text")], vec![]);
        let event = insert(&no_pk, RowImage(vec![Some(Value::Text("x".into()))]));
        assert!(!key(&event, &options(false), &mut Vec::new()));
    }
}
