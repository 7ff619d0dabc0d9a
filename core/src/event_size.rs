//! How much memory an event holds, roughly: what the pipeline's queues count to stay bounded
//! in bytes whatever the row sizes (a count of events alone says nothing when one row can hold
//! a 1 GiB BLOB).
//!
//! An estimate, not an allocator measurement: heap bytes of strings, byte arrays and JSON
//! documents plus a fixed cost per value and per event. Cheap enough to run on every event.

use crate::event::{Event, EventKind, RowImage};
use crate::value::{EnumValue, SetValue, Value};

/// Fixed cost of an event (position, kind, vectors' headers).
const EVENT_OVERHEAD: usize = 160;
/// Fixed cost of one value slot.
const VALUE_OVERHEAD: usize = std::mem::size_of::<Option<Value>>();

impl Event {
    /// The memory this event holds, estimated (see the module doc).
    pub fn approx_bytes(&self) -> usize {
        EVENT_OVERHEAD
            + match &self.kind {
                EventKind::Row(row) => {
                    row.before.as_ref().map_or(0, image_bytes)
                        + row.after.as_ref().map_or(0, image_bytes)
                }
                EventKind::Ddl { database, sql, .. } => database.len() + sql.len(),
                EventKind::Incident { message } => message.len(),
                EventKind::Begin | EventKind::Commit { .. } => 0,
            }
    }
}

fn image_bytes(image: &RowImage) -> usize {
    image
        .0
        .iter()
        .map(|v| VALUE_OVERHEAD + v.as_ref().map_or(0, value_heap_bytes))
        .sum()
}

/// Heap bytes behind a value (its inline part is in `VALUE_OVERHEAD`).
fn value_heap_bytes(value: &Value) -> usize {
    match value {
        Value::Decimal(s) | Value::Text(s) => s.len(),
        Value::Bytes(b) | Value::Geometry { wkb: b, .. } => b.len(),
        Value::UndecodedText { charset, bytes } => charset.len() + bytes.len(),
        Value::Enum(EnumValue::Name(s)) => s.len(),
        Value::Set(SetValue::Names(names)) => names.iter().map(|n| n.len() + 24).sum(),
        Value::Json(doc) => json_bytes(doc),
        Value::JsonDiff(changes) => changes
            .iter()
            .map(|c| 64 + c.path.len() + c.value.as_ref().map_or(0, json_bytes))
            .sum(),
        Value::Vector(v) => v.len() * 4,
        _ => 0,
    }
}

/// A JSON tree's heap bytes: node size plus string lengths.
fn json_bytes(doc: &serde_json::Value) -> usize {
    const NODE: usize = std::mem::size_of::<serde_json::Value>();
    NODE + match doc {
        serde_json::Value::String(s) => s.len(),
        serde_json::Value::Array(items) => items.iter().map(json_bytes).sum(),
        serde_json::Value::Object(map) => map.iter().map(|(k, v)| k.len() + json_bytes(v)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{ColumnSchema, EventPosition, Op, RowChange, TableSchema};

    fn row(after: Vec<Option<Value>>) -> Event {
        let columns = (0..after.len())
            .map(|i| ColumnSchema {
                name: format!("c{i}"),
                type_name: "blob".into(),
            })
            .collect();
        Event {
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
                table: Arc::new(TableSchema::new("d", "t", columns, vec![])),
                before: None,
                after: Some(RowImage(after)),
            }),
        }
    }

    #[test]
    fn big_values_count_by_their_size() {
        let small = row(vec![Some(Value::Int(1))]).approx_bytes();
        let big = row(vec![Some(Value::Bytes(vec![0; 1 << 20]))]).approx_bytes();
        assert!(small < 300, "{small}");
        assert!((1 << 20..(1 << 20) + 300).contains(&big), "{big}");
        let json = row(vec![Some(Value::Json(
            serde_json::json!({"k": "v".repeat(1000)}),
        ))]);
        assert!(json.approx_bytes() > 1000);
    }
}
