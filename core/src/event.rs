//! Sluice's change events: row changes, transaction boundaries and DDL, each carrying the
//! source position it came from.
//!
//! The shape makes it impossible for an event to travel without its position: `Event` owns an
//! `EventPosition`, and a checkpoint is only ever taken from a `Commit` event's `next` position,
//! so a resume never splits a transaction. The JSON form is documented in
//! `docs/event-format.md`.

use std::fmt;
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::json::TableJson;
use crate::position::{BinlogPosition, Gtid};
use crate::value::Value;

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// INSERT (`c`reate).
    Create,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// A row `r`ead by a snapshot, not a change.
    Read,
}

impl Op {
    /// The one-letter code used in every JSON form (`c`, `u`, `d`, `r`).
    pub fn code(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Read => "r",
        }
    }
}

/// One column of a table as the source describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSchema {
    pub name: String,
    /// The SQL type as MySQL would print it where known (`bigint unsigned`, `varchar`), else the
    /// binlog type name.
    pub type_name: String,
}

/// The columns of one table at one point of the binlog. Shared by every row event of that table
/// until its definition changes.
///
/// Built with [`TableSchema::new`], which also renders once the JSON text every row event of the
/// table repeats (column keys, `db`, `table`, `pk`; see [`crate::json`]). The fields are read
/// through `Deref` (`schema.columns`, `schema.database`) and cannot be changed afterwards, so that
/// text can never disagree with them: to change a table, build a new `TableSchema`.
#[derive(Clone)]
pub struct TableSchema {
    fields: TableSchemaFields,
    json: TableJson,
}

/// What a [`TableSchema`] says; read it through the schema (`schema.columns`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchemaFields {
    pub database: String,
    pub table: String,
    pub columns: Vec<ColumnSchema>,
    /// Indexes into `columns` of the primary key, in key order (empty when unknown or none).
    pub primary_key: Vec<usize>,
}

impl TableSchema {
    /// A table's schema. `primary_key` holds indexes into `columns`; any out of range are
    /// ignored by [`primary_key_names`](TableSchemaFields::primary_key_names) and the JSON form.
    pub fn new(
        database: impl Into<String>,
        table: impl Into<String>,
        columns: Vec<ColumnSchema>,
        primary_key: Vec<usize>,
    ) -> TableSchema {
        let fields = TableSchemaFields {
            database: database.into(),
            table: table.into(),
            columns,
            primary_key,
        };
        let json = TableJson::new(&fields);
        TableSchema { fields, json }
    }

    /// The JSON text rendered once for this table.
    pub(crate) fn json(&self) -> &TableJson {
        &self.json
    }
}

impl TableSchemaFields {
    /// Names of the primary-key columns.
    pub fn primary_key_names(&self) -> impl Iterator<Item = &str> {
        self.primary_key
            .iter()
            .filter_map(|&i| self.columns.get(i).map(|c| c.name.as_str()))
    }
}

impl std::ops::Deref for TableSchema {
    type Target = TableSchemaFields;

    fn deref(&self) -> &TableSchemaFields {
        &self.fields
    }
}

/// Equal when the fields are: the JSON text is a function of them.
impl PartialEq for TableSchema {
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
    }
}

impl Eq for TableSchema {}

/// As the fields, without the derived JSON text.
impl fmt::Debug for TableSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableSchema")
            .field("database", &self.fields.database)
            .field("table", &self.fields.table)
            .field("columns", &self.fields.columns)
            .field("primary_key", &self.fields.primary_key)
            .finish()
    }
}

/// A row image: one slot per table column, `None` where the column is not in the image
/// (`binlog_row_image=MINIMAL` or `NOBLOB`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowImage(pub Vec<Option<Value>>);

impl RowImage {
    /// The value of column `index`, if it is in the image.
    pub fn get(&self, index: usize) -> Option<&Value> {
        self.0.get(index).and_then(Option::as_ref)
    }
}

/// One row change.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    pub op: Op,
    pub table: Arc<TableSchema>,
    pub before: Option<RowImage>,
    pub after: Option<RowImage>,
}

/// Where an event came from in the source's binlog.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPosition {
    /// The binlog file holding the event.
    pub file: Arc<str>,
    /// Offset in `file` where the binlog event holding this change starts.
    pub pos: u64,
    /// The transaction's GTID, when GTIDs are on.
    pub gtid: Option<Arc<Gtid>>,
    /// Index of this row change inside its transaction (0-based); 0 for non-row events.
    pub row: u32,
    /// The source's server id.
    pub server_id: u32,
    /// Commit time in milliseconds since the Unix epoch, as the binlog gives it.
    pub ts_ms: u64,
}

/// What an event says.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A transaction begins.
    Begin,
    /// A row changed.
    Row(RowChange),
    /// A transaction committed. `next` is where the binlog continues after it: the position a
    /// reader resumes from once every event of this transaction is delivered.
    Commit {
        xid: Option<u64>,
        next: BinlogPosition,
    },
    /// The server logged an incident: changes may be missing from the binlog at this point
    /// (e.g. a replication filter or a failed write on the source). A task stops here.
    Incident { message: String },
    /// A schema change or other statement outside a row transaction. `next` as for `Commit`.
    Ddl {
        database: String,
        sql: String,
        next: BinlogPosition,
    },
}

/// A change event with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub position: EventPosition,
    pub kind: EventKind,
}

impl Event {
    /// The position to resume from after this event, when it ends a transaction (or is a
    /// self-contained DDL); `None` inside a transaction.
    pub fn resume_position(&self) -> Option<&BinlogPosition> {
        match &self.kind {
            EventKind::Commit { next, .. } | EventKind::Ddl { next, .. } => Some(next),
            _ => None,
        }
    }
}

/// Serializes a row image as a JSON object in column order.
struct ImageJson<'a> {
    schema: &'a TableSchema,
    image: &'a RowImage,
}

impl Serialize for ImageJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (col, value) in self.schema.columns.iter().zip(&self.image.0) {
            if let Some(v) = value {
                m.serialize_entry(&col.name, v)?;
            }
        }
        m.end()
    }
}

struct PositionJson<'a>(&'a EventPosition);

impl Serialize for PositionJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("server_id", &p.server_id)?;
        m.serialize_entry("file", &*p.file)?;
        m.serialize_entry("pos", &p.pos)?;
        if let Some(g) = &p.gtid {
            m.serialize_entry("gtid", &g.to_string())?;
        }
        m.serialize_entry("row", &p.row)?;
        m.serialize_entry("ts_ms", &p.ts_ms)?;
        m.end()
    }
}

/// Sluice's own JSON form of an event (one line per event in JSON-lines outputs).
///
/// This is the reference definition of the form. Hot paths encode with
/// [`crate::json::write_event`], which writes the same bytes much faster and is tested against
/// this impl: a change to the form goes in both places.
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match &self.kind {
            EventKind::Begin => m.serialize_entry("op", "begin")?,
            EventKind::Row(row) => {
                let schema = &*row.table;
                m.serialize_entry("op", row.op.code())?;
                m.serialize_entry("db", &schema.database)?;
                m.serialize_entry("table", &schema.table)?;
                let pk: Vec<&str> = schema.primary_key_names().collect();
                m.serialize_entry("pk", &pk)?;
                let before = row.before.as_ref().map(|image| ImageJson { schema, image });
                let after = row.after.as_ref().map(|image| ImageJson { schema, image });
                m.serialize_entry("before", &before)?;
                m.serialize_entry("after", &after)?;
            }
            EventKind::Commit { xid, next } => {
                m.serialize_entry("op", "commit")?;
                if let Some(xid) = xid {
                    m.serialize_entry("xid", xid)?;
                }
                m.serialize_entry("next", &next.to_string())?;
            }
            EventKind::Incident { message } => {
                m.serialize_entry("op", "incident")?;
                m.serialize_entry("message", message)?;
            }
            EventKind::Ddl {
                database,
                sql,
                next,
            } => {
                m.serialize_entry("op", "ddl")?;
                m.serialize_entry("db", database)?;
                m.serialize_entry("sql", sql)?;
                m.serialize_entry("next", &next.to_string())?;
            }
        }
        m.serialize_entry("source", &PositionJson(&self.position))?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position() -> EventPosition {
        EventPosition {
            file: Arc::from("binlog.000001"),
            pos: 1234,
            gtid: Some(Arc::new("0-1-6".parse().unwrap())),
            row: 1,
            server_id: 1,
            ts_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn row_event_json_lists_columns_in_order_and_skips_absent_ones() {
        let table = Arc::new(TableSchema::new(
            "shop",
            "orders",
            vec![
                ColumnSchema {
                    name: "id".into(),
                    type_name: "bigint unsigned".into(),
                },
                ColumnSchema {
                    name: "note".into(),
                    type_name: "text".into(),
                },
            ],
            vec![0],
        ));
        let event = Event {
            position: position(),
            kind: EventKind::Row(RowChange {
                op: Op::Update,
                table,
                before: Some(RowImage(vec![Some(Value::UInt(7)), None])),
                after: Some(RowImage(vec![
                    Some(Value::UInt(7)),
                    Some(Value::Text("hi".into())),
                ])),
            }),
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"op":"u","db":"shop","table":"orders","pk":["id"],"before":{"id":7},"after":{"id":7,"note":"hi"},"source":{"server_id":1,"file":"binlog.000001","pos":1234,"gtid":"0-1-6","row":1,"ts_ms":1700000000000}}"#
        );
    }

    #[test]
    fn commit_carries_the_resume_position() {
        let next = BinlogPosition::new("binlog.000001", 2000);
        let event = Event {
            position: position(),
            kind: EventKind::Commit {
                xid: Some(9),
                next: next.clone(),
            },
        };
        assert_eq!(event.resume_position(), Some(&next));
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.starts_with(r#"{"op":"commit","xid":9,"next":"binlog.000001:2000""#));
    }
}
