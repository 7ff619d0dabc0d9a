//! Row values as Redis bytes: the text of one value (for keys and hash fields) and a whole row
//! image as a JSON object (for `format = "json"`).
//!
//! Both follow Sluice's event JSON (`docs/event-format.md`) so that a cached row reads like the
//! `after` image of its event: the JSON object is exactly that image, and a hash field holds the
//! value's JSON text except that strings go without their quotes and escapes (a hash field is
//! already a string: `name` → `Ann`, not `"Ann"`). Numbers keep their exact digits, DECIMAL its
//! exact text, temporals their documented forms, bytes base64; JSON documents, SETs and the
//! other structured values stay JSON text.

use std::io::Write as _;

use base64::Engine as _;
use sluice_core::json::write_value;
use sluice_core::value::EnumValue;
use sluice_core::{RowImage, TableSchema, Value};

/// Appends `value` as text: its JSON form, strings unquoted and unescaped. SQL NULL is `null`;
/// callers that must tell NULL apart (keys, hash fields) check for it first.
pub(super) fn write_text(out: &mut Vec<u8>, value: &Value) {
    // Writing into a Vec cannot fail, so the io::Result of `write!` carries nothing.
    match value {
        Value::Text(s) | Value::Decimal(s) | Value::Enum(EnumValue::Name(s)) => {
            out.extend_from_slice(s.as_bytes())
        }
        Value::Date(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Time(v) => {
            let _ = write!(out, "{v}");
        }
        Value::DateTime(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Timestamp(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Bytes(bytes) => {
            let start = out.len();
            let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
            out.resize(start + len, 0);
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(bytes, &mut out[start..])
                .unwrap_or(0);
            out.truncate(start + written);
        }
        other => write_value(out, other),
    }
}

/// The JSON keys of one table's columns (`"name":`), rendered once per table.
pub(super) struct JsonColumns {
    keys: Vec<Vec<u8>>,
}

impl JsonColumns {
    pub(super) fn new(schema: &TableSchema) -> JsonColumns {
        let keys = schema
            .columns
            .iter()
            .map(|column| {
                let mut key = Vec::with_capacity(column.name.len() + 3);
                // Serializing a string into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut key, &column.name);
                key.push(b':');
                key
            })
            .collect();
        JsonColumns { keys }
    }

    /// Appends `image` as a JSON object in column order; columns absent from the image are left
    /// out, as in the event's `after` object.
    pub(super) fn write_row(&self, out: &mut Vec<u8>, image: &RowImage) {
        out.push(b'{');
        let mut first = true;
        for (key, value) in self.keys.iter().zip(&image.0) {
            if let Some(value) = value {
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(key);
                write_value(out, value);
            }
        }
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sluice_core::value::{Date, DateTime, SetValue, Timestamp};
    use sluice_core::{ColumnSchema, Event, EventKind, EventPosition, Op, RowChange};

    use super::*;

    fn text(value: &Value) -> String {
        let mut out = Vec::new();
        write_text(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_go_unquoted_and_everything_else_as_its_json_text() {
        assert_eq!(text(&Value::Text("say \"hi\"\n".into())), "say \"hi\"\n");
        assert_eq!(text(&Value::Decimal("-12.50".into())), "-12.50");
        assert_eq!(text(&Value::UInt(u64::MAX)), "18446744073709551615");
        assert_eq!(text(&Value::Int(-7)), "-7");
        assert_eq!(text(&Value::Double(0.1)), "0.1");
        assert_eq!(text(&Value::Float(1.1)), "1.1");
        assert_eq!(text(&Value::Enum(EnumValue::Name("paid".into()))), "paid");
        assert_eq!(text(&Value::Enum(EnumValue::Index(2))), "2");
        assert_eq!(text(&Value::Bytes(vec![0, 255])), "AP8=");
        assert_eq!(text(&Value::Bytes(vec![])), "");
        assert_eq!(
            text(&Value::Set(SetValue::Names(vec!["a".into(), "c".into()]))),
            r#"["a","c"]"#
        );
        assert_eq!(
            text(&Value::Json(serde_json::json!({"a": [1, "x"]}))),
            r#"{"a":[1,"x"]}"#
        );
        assert_eq!(text(&Value::Null), "null");
    }

    #[test]
    fn temporal_text_is_the_json_form_without_quotes() {
        let date = Date {
            year: 2024,
            month: 2,
            day: 29,
        };
        let values = [
            Value::Date(date),
            Value::DateTime(DateTime {
                date,
                hour: 23,
                minute: 59,
                second: 58,
                micros: 123_456,
                fsp: 3,
            }),
            Value::Timestamp(Timestamp {
                seconds: 1_704_067_200,
                micros: 500_000,
                fsp: 3,
            }),
        ];
        for value in values {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(format!("\"{}\"", text(&value)), json);
        }
    }

    #[test]
    fn a_json_row_is_the_events_after_image() {
        let table = Arc::new(TableSchema::new(
            "shop",
            "users",
            ["id", "na\"me", "note"]
                .iter()
                .map(|n| ColumnSchema {
                    name: n.to_string(),
                    type_name: "text".into(),
                })
                .collect(),
            vec![0],
        ));
        let image = RowImage(vec![
            Some(Value::UInt(7)),
            Some(Value::Text("Ann \u{1F600}".into())),
            None,
        ]);
        let mut row = Vec::new();
        JsonColumns::new(&table).write_row(&mut row, &image);
        let event = Event {
            position: EventPosition {
                file: Arc::from("b.000001"),
                pos: 4,
                gtid: None,
                row: 0,
                server_id: 1,
                ts_ms: 0,
            },
            kind: EventKind::Row(RowChange {
                op: Op::Create,
                table,
                before: None,
                after: Some(image),
            }),
        };
        let event_json: serde_json::Value = serde_json::to_value(&event).unwrap();
        let row_json: serde_json::Value = serde_json::from_slice(&row).unwrap();
        assert_eq!(row_json, event_json["after"]);
        assert_eq!(
            String::from_utf8(row).unwrap(),
            "{\"id\":7,\"na\\\"me\":\"Ann \u{1F600}\"}"
        );
    }
}
