//! Events and tables for the format tests: the tables of the tools' documented examples, and one
//! table with a column of every kind for edge values.

use std::sync::Arc;

use sluice_core::value::{Date, DateTime, EnumValue, SetValue, Time, Timestamp};
use sluice_core::{
    BinlogPosition, ColumnSchema, Event, EventKind, EventPosition, Op, RowChange, RowImage,
    TableSchema, Value,
};

pub(crate) fn position() -> EventPosition {
    EventPosition {
        file: Arc::from("mysql-bin.000003"),
        pos: 154,
        gtid: None,
        row: 0,
        server_id: 223_344,
        ts_ms: 1_589_373_560_000,
    }
}

pub(crate) fn event(kind: EventKind) -> Event {
    Event {
        position: position(),
        kind,
    }
}

pub(crate) fn table(
    db: &str,
    name: &str,
    columns: &[(&str, &str)],
    pk: Vec<usize>,
) -> Arc<TableSchema> {
    Arc::new(TableSchema::new(
        db,
        name,
        columns
            .iter()
            .map(|(name, type_name)| ColumnSchema {
                name: (*name).into(),
                type_name: (*type_name).into(),
            })
            .collect(),
        pk,
    ))
}

/// Flink's canal-json example table: `inventory.products`.
pub(crate) fn products() -> Arc<TableSchema> {
    table(
        "inventory",
        "products",
        &[
            ("id", "int(11)"),
            ("name", "varchar(255)"),
            ("description", "varchar(512)"),
            ("weight", "float"),
        ],
        vec![0],
    )
}

/// A `products` row: scooter number `id`.
pub(crate) fn row(id: i64) -> RowImage {
    RowImage(vec![
        Some(Value::Int(id)),
        Some(Value::Text("scooter".into())),
        Some(Value::Text("Big 2-wheel scooter".into())),
        Some(Value::Float(5.18)),
    ])
}

pub(crate) fn image(values: Vec<Value>) -> RowImage {
    RowImage(values.into_iter().map(Some).collect())
}

pub(crate) fn change(
    op: Op,
    table: &Arc<TableSchema>,
    before: Option<RowImage>,
    after: Option<RowImage>,
) -> Event {
    event(EventKind::Row(RowChange {
        op,
        table: table.clone(),
        before,
        after,
    }))
}

pub(crate) fn insert(table: &Arc<TableSchema>, after: RowImage) -> Event {
    change(Op::Create, table, None, Some(after))
}

pub(crate) fn update(table: &Arc<TableSchema>, before: RowImage, after: RowImage) -> Event {
    change(Op::Update, table, Some(before), Some(after))
}

pub(crate) fn delete(table: &Arc<TableSchema>, before: RowImage) -> Event {
    change(Op::Delete, table, Some(before), None)
}

pub(crate) fn begin() -> Event {
    event(EventKind::Begin)
}

pub(crate) fn commit(xid: Option<u64>) -> Event {
    event(EventKind::Commit {
        xid,
        next: BinlogPosition::new("mysql-bin.000003", 500),
    })
}

pub(crate) fn ddl(sql: &str) -> Event {
    event(EventKind::Ddl {
        database: "inventory".into(),
        sql: sql.into(),
        next: BinlogPosition::new("mysql-bin.000003", 900),
    })
}

/// A table with a column of every kind, for edge values.
pub(crate) fn all_types() -> Arc<TableSchema> {
    table(
        "edge",
        "all_types",
        &[
            ("id", "bigint(20) unsigned"),
            ("i", "int(11)"),
            ("dec", "decimal(30,9)"),
            ("f", "float"),
            ("d", "double"),
            ("b1", "bit(1)"),
            ("b12", "bit(12)"),
            ("y", "year"),
            ("dt_date", "date"),
            ("t", "time(6)"),
            ("dt3", "datetime(3)"),
            ("dt6", "datetime(6)"),
            ("ts", "timestamp(3)"),
            ("txt", "text"),
            ("bin", "varbinary(16)"),
            ("raw", "varchar(10)"),
            ("e", "enum('new','paid')"),
            ("s", "set('a','b','c')"),
            ("j", "json"),
            ("g", "point"),
            ("v", "vector(2)"),
            ("n", "varchar(5)"),
        ],
        vec![0],
    )
}

/// A row of [`all_types`] with edge values in every column.
pub(crate) fn all_types_row() -> RowImage {
    image(vec![
        Value::UInt(u64::MAX),
        Value::Int(i64::from(i32::MIN)),
        Value::Decimal("-12345678901234567890.123456789".into()),
        Value::Float(1.1),
        Value::Double(0.1),
        Value::Bit(1),
        Value::Bit(0xabc),
        Value::Year(0),
        Value::Date(Date {
            year: 0,
            month: 0,
            day: 0,
        }),
        Value::Time(Time {
            negative: true,
            hours: 838,
            minutes: 59,
            seconds: 59,
            micros: 0,
            fsp: 6,
        }),
        Value::DateTime(DateTime {
            date: Date {
                year: 2024,
                month: 2,
                day: 29,
            },
            hour: 23,
            minute: 59,
            second: 58,
            micros: 120_000,
            fsp: 3,
        }),
        Value::DateTime(DateTime {
            date: Date {
                year: 1969,
                month: 12,
                day: 31,
            },
            hour: 23,
            minute: 59,
            second: 59,
            micros: 999_999,
            fsp: 6,
        }),
        Value::Timestamp(Timestamp {
            seconds: 1_704_067_200,
            micros: 500_000,
            fsp: 3,
        }),
        Value::Text("café \"😀\"\n漢字".into()),
        Value::Bytes(vec![0, 0x7f, 0x80, 0xff]),
        Value::UndecodedText {
            charset: "utf8mb4".into(),
            bytes: vec![0xff, 0x00],
        },
        Value::Enum(EnumValue::Name("paid".into())),
        Value::Set(SetValue::Names(vec!["a".into(), "c".into()])),
        Value::Json(serde_json::json!({"k": [1, "x"], "n": null})),
        Value::Geometry {
            srid: 4326,
            wkb: point_wkb(1.5, -2.0),
        },
        Value::Vector(vec![1.5, -2.0]),
        Value::Null,
    ])
}

/// WKB of a little-endian POINT.
pub(crate) fn point_wkb(x: f64, y: f64) -> Vec<u8> {
    let mut wkb = vec![1, 1, 0, 0, 0];
    wkb.extend_from_slice(&x.to_le_bytes());
    wkb.extend_from_slice(&y.to_le_bytes());
    wkb
}

/// Parses `bytes` as JSON, panicking with the text when it is not.
pub(crate) fn parse(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// `bytes` as text, for comparing against golden strings.
pub(crate) fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("messages are UTF-8")
}
