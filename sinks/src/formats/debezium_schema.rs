//! The `schema` parts of Debezium messages (Kafka Connect's JSON converter with
//! `schemas.enable=true`): the envelope schema of a table's change events and its key schema.
//!
//! Written in the JSON converter's member order (`type`, `fields`/`items`, `optional`, `name`,
//! `version`, `parameters`, `default`, `field`). Column nullability is not known to Sluice, so
//! every column of `before`/`after` is `optional`; key columns are primary-key columns, never
//! NULL, so not optional.

use sluice_core::TableSchema;

use super::column_type::ColumnType;
use super::debezium_values::write_schema;
use super::json_text::write_str;

/// `server.db.table.suffix`, the schema names Debezium gives a table's value, key and envelope
/// schemas. Not adjusted, as Debezium 2+ by default (`schema.name.adjustment.mode=none`).
pub(crate) fn schema_name(server_name: &str, table: &TableSchema, suffix: &str) -> String {
    format!("{server_name}.{}.{}.{suffix}", table.database, table.table)
}

/// The schema of a table's change-event values (the envelope).
pub(crate) fn write_value_schema(out: &mut Vec<u8>, server_name: &str, table: &TableSchema) {
    let row_name = schema_name(server_name, table, "Value");
    out.extend_from_slice(br#"{"type":"struct","fields":["#);
    for field in ["before", "after"] {
        write_row_struct(out, table, &row_name);
        out.extend_from_slice(br#","field":"#);
        write_str(out, field);
        out.extend_from_slice(b"},");
    }
    out.extend_from_slice(SOURCE_SCHEMA.as_bytes());
    out.extend_from_slice(ENVELOPE_TAIL_FIELDS.as_bytes());
    out.extend_from_slice(br#"],"optional":false,"name":"#);
    write_str(out, &schema_name(server_name, table, "Envelope"));
    out.push(b'}');
}

/// The schema of a table's keys: its primary-key columns.
pub(crate) fn write_key_schema(out: &mut Vec<u8>, server_name: &str, table: &TableSchema) {
    out.extend_from_slice(br#"{"type":"struct","fields":["#);
    for (n, &i) in table.primary_key.iter().enumerate() {
        let Some(column) = table.columns.get(i) else {
            continue;
        };
        if n > 0 {
            out.push(b',');
        }
        write_schema(out, &ColumnType::parse(&column.type_name), false);
        out.extend_from_slice(br#","field":"#);
        write_str(out, &column.name);
        out.push(b'}');
    }
    out.extend_from_slice(br#"],"optional":false,"name":"#);
    write_str(out, &schema_name(server_name, table, "Key"));
    out.push(b'}');
}

/// The `before`/`after` struct, without its closing `}` (the caller adds `"field"`).
fn write_row_struct(out: &mut Vec<u8>, table: &TableSchema, name: &str) {
    out.extend_from_slice(br#"{"type":"struct","fields":["#);
    for (i, column) in table.columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_schema(out, &ColumnType::parse(&column.type_name), true);
        out.extend_from_slice(br#","field":"#);
        write_str(out, &column.name);
        out.push(b'}');
    }
    out.extend_from_slice(br#"],"optional":true,"name":"#);
    write_str(out, name);
}

/// Debezium's MySQL `source` block schema (Debezium 2.6+ fields, in its order).
pub(crate) const SOURCE_SCHEMA: &str = concat!(
    r#"{"type":"struct","fields":["#,
    r#"{"type":"string","optional":false,"field":"version"},"#,
    r#"{"type":"string","optional":false,"field":"connector"},"#,
    r#"{"type":"string","optional":false,"field":"name"},"#,
    r#"{"type":"int64","optional":false,"field":"ts_ms"},"#,
    r#"{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"#,
    r#""parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"#,
    r#""default":"false","field":"snapshot"},"#,
    r#"{"type":"string","optional":false,"field":"db"},"#,
    r#"{"type":"string","optional":true,"field":"sequence"},"#,
    r#"{"type":"int64","optional":true,"field":"ts_us"},"#,
    r#"{"type":"int64","optional":true,"field":"ts_ns"},"#,
    r#"{"type":"string","optional":true,"field":"table"},"#,
    r#"{"type":"int64","optional":false,"field":"server_id"},"#,
    r#"{"type":"string","optional":true,"field":"gtid"},"#,
    r#"{"type":"string","optional":false,"field":"file"},"#,
    r#"{"type":"int64","optional":false,"field":"pos"},"#,
    r#"{"type":"int32","optional":false,"field":"row"},"#,
    r#"{"type":"int64","optional":true,"field":"thread"},"#,
    r#"{"type":"string","optional":true,"field":"query"}],"#,
    r#""optional":false,"name":"io.debezium.connector.mysql.Source","version":1,"field":"source"}"#
);

/// The envelope's fields after `source`.
const ENVELOPE_TAIL_FIELDS: &str = concat!(
    r#",{"type":"string","optional":false,"field":"op"},"#,
    r#"{"type":"int64","optional":true,"field":"ts_ms"},"#,
    r#"{"type":"int64","optional":true,"field":"ts_us"},"#,
    r#"{"type":"int64","optional":true,"field":"ts_ns"},"#,
    r#"{"type":"struct","fields":["#,
    r#"{"type":"string","optional":false,"field":"id"},"#,
    r#"{"type":"int64","optional":false,"field":"total_order"},"#,
    r#"{"type":"int64","optional":false,"field":"data_collection_order"}],"#,
    r#""optional":true,"name":"event.block","version":1,"field":"transaction"}"#
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{parse, products};

    #[test]
    fn names_are_server_database_table_and_role() {
        assert_eq!(
            schema_name("dbserver1", &products(), "Value"),
            "dbserver1.inventory.products.Value"
        );
    }

    #[test]
    fn value_schema_lists_the_envelope_fields_in_order() {
        let mut out = Vec::new();
        write_value_schema(&mut out, "dbserver1", &products());
        let schema = parse(&out);
        let fields: Vec<&str> = schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "before",
                "after",
                "source",
                "op",
                "ts_ms",
                "ts_us",
                "ts_ns",
                "transaction"
            ]
        );
        assert_eq!(schema["name"], "dbserver1.inventory.products.Envelope");
        assert_eq!(
            schema["fields"][0]["fields"][3],
            serde_json::json!({"type": "float32", "optional": true, "field": "weight"})
        );
        assert_eq!(
            schema["fields"][1]["name"],
            "dbserver1.inventory.products.Value"
        );
    }

    #[test]
    fn key_schema_holds_the_primary_key() {
        let mut out = Vec::new();
        write_key_schema(&mut out, "mysql-server-1", &products());
        assert_eq!(
            parse(&out),
            serde_json::json!({
                "type": "struct",
                "fields": [{"type": "int32", "optional": false, "field": "id"}],
                "optional": false,
                "name": "mysql-server-1.inventory.products.Key"
            })
        );
    }
}
