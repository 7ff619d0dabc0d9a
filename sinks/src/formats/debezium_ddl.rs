//! `debezium-json` schema-change records: what Debezium's MySQL connector writes to its schema
//! change topic, for the sink's `schema_changes_topic`.
//!
//! Value: `{"source":{…},"ts_ms":…,"databaseName":…,"schemaName":null,"ddl":…,
//! "tableChanges":[]}` (with schemas: `{"schema":{…SchemaChangeValue},"payload":<that>}`).
//! `source` is the row messages' block with the statement's database and (first) table, `null`
//! for statements about a database; `ts_ms` is when the message was built, as for rows;
//! `schemaName` is `null`, as Debezium's MySQL connector has no schemas within databases.
//!
//! `tableChanges` is always empty: Debezium fills it with the table's full definition after the
//! change, parsed from its own in-memory schema; Sluice's DDL event carries the statement only,
//! not a parsed definition. A consumer that needs the columns reads them from the next row
//! message of the table (or from the source); `ddl` says what changed.
//!
//! Key: `{"databaseName":"inventory"}` (with schemas: Debezium's `SchemaChangeKey`).

use sluice_core::Event;

use super::context::MessageContext;
use super::debezium_json::{write_source, DebeziumOptions, Source};
use super::debezium_schema::SOURCE_SCHEMA;
use super::json_text::{write_str, write_u64};
use super::schema_change::Target;

/// Appends the schema-change record of the DDL `event`, whose `sql` changes `target`.
pub(crate) fn encode(
    event: &Event,
    target: &Target,
    ctx: &MessageContext,
    options: &DebeziumOptions,
    out: &mut Vec<u8>,
) {
    let sluice_core::EventKind::Ddl { sql, .. } = &event.kind else {
        return;
    };
    if options.schemas {
        out.extend_from_slice(br#"{"schema":"#);
        out.extend_from_slice(VALUE_SCHEMA_HEAD.as_bytes());
        out.extend_from_slice(SOURCE_SCHEMA.as_bytes());
        out.extend_from_slice(VALUE_SCHEMA_TAIL.as_bytes());
        out.extend_from_slice(br#","payload":"#);
    }
    out.extend_from_slice(br#"{"source":"#);
    let source = Source {
        db: &target.database,
        table: target.table.as_deref(),
        snapshot: false,
    };
    write_source(out, &event.position, &source, &options.server_name);
    out.extend_from_slice(br#","ts_ms":"#);
    write_u64(out, ctx.now_ms);
    out.extend_from_slice(br#","databaseName":"#);
    write_str(out, &target.database);
    out.extend_from_slice(br#","schemaName":null,"ddl":"#);
    write_str(out, sql);
    out.extend_from_slice(br#","tableChanges":[]}"#);
    if options.schemas {
        out.push(b'}');
    }
}

/// Appends the key of a schema-change record about `database`.
pub(crate) fn key(database: &str, options: &DebeziumOptions, out: &mut Vec<u8>) {
    if options.schemas {
        out.extend_from_slice(KEY_SCHEMA.as_bytes());
        out.extend_from_slice(br#","payload":"#);
    }
    out.extend_from_slice(br#"{"databaseName":"#);
    write_str(out, database);
    out.push(b'}');
    if options.schemas {
        out.push(b'}');
    }
}

/// `{"schema":` and the key's schema, Debezium's `SchemaChangeKey`.
const KEY_SCHEMA: &str = concat!(
    r#"{"schema":{"type":"struct","fields":["#,
    r#"{"type":"string","optional":false,"field":"databaseName"}],"#,
    r#""optional":false,"name":"io.debezium.connector.mysql.SchemaChangeKey","version":1}"#,
);

/// The value schema up to its `source` field.
const VALUE_SCHEMA_HEAD: &str = r#"{"type":"struct","fields":["#;

/// The value schema's fields after `source`, and its name. `tableChanges` is declared as
/// Debezium declares it, though Sluice leaves it empty.
const VALUE_SCHEMA_TAIL: &str = concat!(
    r#",{"type":"int64","optional":false,"field":"ts_ms"},"#,
    r#"{"type":"string","optional":true,"field":"databaseName"},"#,
    r#"{"type":"string","optional":true,"field":"schemaName"},"#,
    r#"{"type":"string","optional":true,"field":"ddl"},"#,
    r#"{"type":"array","items":{"type":"struct","fields":["#,
    r#"{"type":"string","optional":false,"field":"type"},"#,
    r#"{"type":"string","optional":false,"field":"id"},"#,
    r#"{"type":"struct","fields":["#,
    r#"{"type":"string","optional":true,"field":"defaultCharsetName"},"#,
    r#"{"type":"array","items":{"type":"string","optional":false},"optional":true,"#,
    r#""field":"primaryKeyColumnNames"},"#,
    r#"{"type":"array","items":{"type":"struct","fields":["#,
    r#"{"type":"string","optional":false,"field":"name"},"#,
    r#"{"type":"int32","optional":false,"field":"jdbcType"},"#,
    r#"{"type":"int32","optional":true,"field":"nativeType"},"#,
    r#"{"type":"string","optional":false,"field":"typeName"},"#,
    r#"{"type":"string","optional":true,"field":"typeExpression"},"#,
    r#"{"type":"string","optional":true,"field":"charsetName"},"#,
    r#"{"type":"int32","optional":true,"field":"length"},"#,
    r#"{"type":"int32","optional":true,"field":"scale"},"#,
    r#"{"type":"int32","optional":false,"field":"position"},"#,
    r#"{"type":"boolean","optional":true,"field":"optional"},"#,
    r#"{"type":"boolean","optional":true,"field":"autoIncremented"},"#,
    r#"{"type":"boolean","optional":true,"field":"generated"},"#,
    r#"{"type":"string","optional":true,"field":"comment"},"#,
    r#"{"type":"string","optional":true,"field":"defaultValueExpression"},"#,
    r#"{"type":"array","items":{"type":"string","optional":false},"optional":true,"#,
    r#""field":"enumValues"}],"#,
    r#""optional":false,"name":"io.debezium.connector.schema.Column","version":1},"#,
    r#""optional":false,"field":"columns"},"#,
    r#"{"type":"string","optional":true,"field":"comment"}],"#,
    r#""optional":true,"name":"io.debezium.connector.schema.Table","version":1,"field":"table"}],"#,
    r#""optional":false,"name":"io.debezium.connector.schema.Change","version":1},"#,
    r#""optional":false,"field":"tableChanges"}],"#,
    r#""optional":false,"name":"io.debezium.connector.mysql.SchemaChangeValue","version":1}"#,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::schema_change::target;
    use crate::formats::test_support::{ddl, parse, text};

    const NOW: u64 = 1_651_535_750_200;

    fn record(sql: &str, schemas: bool) -> String {
        let event = ddl(sql);
        let options = DebeziumOptions {
            server_name: "mysql".into(),
            schemas,
        };
        let mut out = Vec::new();
        encode(
            &event,
            &target("inventory", sql),
            &MessageContext::at(NOW),
            &options,
            &mut out,
        );
        parse(&out);
        text(&out).to_string()
    }

    /// The shape of Debezium's documented schema-change record for
    /// `ALTER TABLE customers ADD COLUMN middle_name …`, `tableChanges` aside.
    #[test]
    fn an_alter_is_a_schema_change_record_of_its_table() {
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            record(
                "ALTER TABLE customers ADD COLUMN middle_name VARCHAR(2000)",
                false
            ),
            format!(
                concat!(
                    r#"{{"source":{{"version":"sluice-{version}","connector":"mysql","#,
                    r#""name":"mysql","ts_ms":1589373560000,"snapshot":"false","db":"inventory","#,
                    r#""sequence":null,"ts_us":1589373560000000,"ts_ns":1589373560000000000,"#,
                    r#""table":"customers","server_id":223344,"gtid":null,"#,
                    r#""file":"mysql-bin.000003","pos":154,"row":0,"thread":null,"query":null}},"#,
                    r#""ts_ms":1651535750200,"databaseName":"inventory","schemaName":null,"#,
                    r#""ddl":"ALTER TABLE customers ADD COLUMN middle_name VARCHAR(2000)","#,
                    r#""tableChanges":[]}}"#
                ),
                version = version
            )
        );
    }

    #[test]
    fn a_database_statement_names_its_database_and_no_table() {
        let json = parse(record("CREATE DATABASE crm", false).as_bytes());
        assert_eq!(json["databaseName"], "crm");
        assert_eq!(json["source"]["db"], "crm");
        assert_eq!(json["source"]["table"], serde_json::Value::Null);
        assert_eq!(json["ddl"], "CREATE DATABASE crm");
    }

    #[test]
    fn with_schemas_the_record_is_wrapped_with_debeziums_schema() {
        let json = parse(record("DROP TABLE t", true).as_bytes());
        assert_eq!(
            json["schema"]["name"],
            "io.debezium.connector.mysql.SchemaChangeValue"
        );
        let fields: Vec<&str> = json["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "source",
                "ts_ms",
                "databaseName",
                "schemaName",
                "ddl",
                "tableChanges"
            ]
        );
        assert_eq!(
            json["payload"],
            parse(record("DROP TABLE t", false).as_bytes())
        );
    }

    #[test]
    fn the_key_is_the_database_with_or_without_schema() {
        let mut out = Vec::new();
        key("inventory", &DebeziumOptions::default(), &mut out);
        assert_eq!(text(&out), r#"{"databaseName":"inventory"}"#);
        out.clear();
        let options = DebeziumOptions {
            schemas: true,
            ..DebeziumOptions::default()
        };
        key("inventory", &options, &mut out);
        let json = parse(&out);
        assert_eq!(
            json["schema"]["name"],
            "io.debezium.connector.mysql.SchemaChangeKey"
        );
        assert_eq!(
            json["payload"],
            serde_json::json!({"databaseName": "inventory"})
        );
    }
}
