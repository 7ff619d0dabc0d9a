//! A value read by a chunk `SELECT` (binary protocol, `character_set_results = NULL` so strings
//! arrive in their column's own charset) to the same Sluice [`Value`] the binlog decoder makes
//! of that column, so a snapshot row and an insert of the same data are identical events.

use mysql_async::Value as MyValue;
use sluice_core::value::{Date, DateTime, EnumValue, SetValue, Time, Timestamp};
use sluice_core::Value;

use super::discovery::SnapshotColumn;
use super::progress::KeyValue;
use crate::source::charset::TextDecoding;

/// The select-list expression reading `column` (quoted name `quoted`): TIMESTAMP is read as
/// Unix seconds so the session time zone plays no part, as in the binlog.
pub fn select_expression(column: &SnapshotColumn, quoted: &str) -> String {
    if column.data_type == "timestamp" {
        format!("UNIX_TIMESTAMP({quoted})")
    } else {
        quoted.to_string()
    }
}

/// How a column's selected values become Sluice values: decided once per column from its
/// information_schema type and charset (`ValueKind::of`), so converting a value costs no
/// string comparison and no charset lookup (the snapshot converts every value of every row).
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    Integer {
        unsigned: bool,
    },
    Float,
    Double,
    Decimal,
    Bit,
    Year,
    Date,
    DateTime,
    Timestamp,
    Time,
    Enum(TextDecoding),
    Set(TextDecoding),
    Json,
    Geometry,
    Vector,
    /// Any other type with a charset: text in that charset.
    Text(TextDecoding),
    /// Any other type without one: bytes.
    Bytes,
}

impl ValueKind {
    /// The kind of a column of information_schema `DATA_TYPE` `data_type` (lower case).
    pub fn of(data_type: &str, unsigned: bool, charset: Option<&str>) -> ValueKind {
        let member_charset = || TextDecoding::for_charset(charset.unwrap_or("binary"));
        match data_type {
            "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => {
                ValueKind::Integer { unsigned }
            }
            "float" => ValueKind::Float,
            "double" | "real" => ValueKind::Double,
            "decimal" => ValueKind::Decimal,
            "bit" => ValueKind::Bit,
            "year" => ValueKind::Year,
            "date" => ValueKind::Date,
            "datetime" => ValueKind::DateTime,
            "timestamp" => ValueKind::Timestamp,
            "time" => ValueKind::Time,
            "enum" => ValueKind::Enum(member_charset()),
            "set" => ValueKind::Set(member_charset()),
            "json" => ValueKind::Json,
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
            | "multipolygon" | "geometrycollection" | "geomcollection" => ValueKind::Geometry,
            "vector" => ValueKind::Vector,
            _ => match charset {
                Some(charset) => ValueKind::Text(TextDecoding::for_charset(charset)),
                None => ValueKind::Bytes,
            },
        }
    }
}

/// Converts one selected value of `column`.
pub fn convert(column: &SnapshotColumn, value: MyValue) -> Result<Value, String> {
    if value == MyValue::NULL {
        return Ok(Value::Null);
    }
    Ok(match (&column.kind, value) {
        (ValueKind::Integer { unsigned }, v) => match (v, unsigned) {
            (MyValue::Int(i), true) => Value::UInt(i as u64),
            (MyValue::Int(i), false) => Value::Int(i),
            (MyValue::UInt(u), true) => Value::UInt(u),
            (MyValue::UInt(u), false) => Value::Int(u as i64),
            (other, _) => return Err(format!("unexpected integer value {other:?}")),
        },
        (ValueKind::Float, MyValue::Float(f)) => Value::Float(f),
        (ValueKind::Float, MyValue::Double(d)) => Value::Float(d as f32),
        (ValueKind::Double, MyValue::Double(d)) => Value::Double(d),
        (ValueKind::Double, MyValue::Float(f)) => Value::Double(f64::from(f)),
        (ValueKind::Decimal, MyValue::Bytes(b)) => {
            Value::Decimal(String::from_utf8(b).map_err(|_| "decimal is not text")?)
        }
        (ValueKind::Bit, MyValue::Bytes(b)) => {
            if b.len() > 8 {
                return Err("BIT wider than 64 bits".into());
            }
            Value::Bit(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
        }
        (ValueKind::Year, MyValue::Int(y)) => {
            Value::Year(u16::try_from(y).map_err(|_| "year out of range")?)
        }
        (ValueKind::Year, MyValue::UInt(y)) => {
            Value::Year(u16::try_from(y).map_err(|_| "year out of range")?)
        }
        (ValueKind::Date, MyValue::Date(year, month, day, ..)) => {
            Value::Date(Date { year, month, day })
        }
        (ValueKind::DateTime, MyValue::Date(year, month, day, hour, minute, second, micros)) => {
            Value::DateTime(DateTime {
                date: Date { year, month, day },
                hour,
                minute,
                second,
                micros,
                fsp: column.fsp,
            })
        }
        (ValueKind::Timestamp, MyValue::Int(seconds)) => timestamp(column, &seconds.to_string())?,
        (ValueKind::Timestamp, MyValue::UInt(seconds)) => timestamp(column, &seconds.to_string())?,
        (ValueKind::Timestamp, MyValue::Bytes(b)) => timestamp(
            column,
            std::str::from_utf8(&b).map_err(|_| "timestamp is not text")?,
        )?,
        (ValueKind::Time, MyValue::Time(negative, days, hours, minutes, seconds, micros)) => {
            Value::Time(Time {
                negative,
                hours: days * 24 + u32::from(hours),
                minutes,
                seconds,
                micros,
                fsp: column.fsp,
            })
        }
        (ValueKind::Enum(decoding), MyValue::Bytes(b)) => {
            Value::Enum(EnumValue::Name(member_names(column, decoding, b)?))
        }
        (ValueKind::Set(decoding), MyValue::Bytes(b)) => {
            let names = member_names(column, decoding, b)?;
            Value::Set(SetValue::Names(if names.is_empty() {
                Vec::new()
            } else {
                names.split(',').map(str::to_string).collect()
            }))
        }
        (ValueKind::Json, MyValue::Bytes(b)) => {
            Value::Json(serde_json::from_slice(&b).map_err(|e| format!("JSON: {e}"))?)
        }
        (ValueKind::Geometry, MyValue::Bytes(b)) => {
            let (srid, wkb) = b
                .split_at_checked(4)
                .ok_or("geometry shorter than its SRID")?;
            Value::Geometry {
                srid: u32::from_le_bytes([srid[0], srid[1], srid[2], srid[3]]),
                wkb: wkb.to_vec(),
            }
        }
        (ValueKind::Vector, MyValue::Bytes(b)) => {
            if !b.len().is_multiple_of(4) {
                return Err("vector length is not a multiple of 4 bytes".into());
            }
            Value::Vector(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        }
        (ValueKind::Text(decoding), MyValue::Bytes(b)) => decoding.decode(b),
        (_, MyValue::Bytes(b)) => Value::Bytes(b),
        (_, other) => return Err(format!("unexpected value {other:?}")),
    })
}

/// An ENUM or SET member list decoded from the column's charset.
fn member_names(
    column: &SnapshotColumn,
    decoding: &TextDecoding,
    bytes: Vec<u8>,
) -> Result<String, String> {
    match decoding.decode(bytes) {
        Value::Text(s) => Ok(s),
        _ => Err(format!(
            "member name is not valid {}",
            column.charset.as_deref().unwrap_or("binary")
        )),
    }
}

/// `UNIX_TIMESTAMP()` text, `seconds[.fraction]`.
fn timestamp(column: &SnapshotColumn, text: &str) -> Result<Value, String> {
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    let seconds: u64 = seconds.parse().map_err(|_| "timestamp seconds")?;
    let digits: String = fraction
        .chars()
        .chain(std::iter::repeat('0'))
        .take(6)
        .collect();
    let micros: u32 = digits.parse().map_err(|_| "timestamp fraction")?;
    Ok(Value::Timestamp(Timestamp {
        seconds,
        micros,
        fsp: column.fsp,
    }))
}

/// A key value as the next chunk's `WHERE` compares it; `None` for types discovery refuses.
pub fn key_value(value: &Value) -> Option<KeyValue> {
    Some(match value {
        Value::Int(i) => KeyValue::Int(*i),
        Value::UInt(u) | Value::Bit(u) => KeyValue::UInt(*u),
        Value::Year(y) => KeyValue::UInt(u64::from(*y)),
        Value::Decimal(s) | Value::Text(s) => KeyValue::Text(s.clone()),
        Value::Bytes(b) => KeyValue::Bytes(b.clone()),
        Value::UndecodedText { bytes, .. } => KeyValue::Bytes(bytes.clone()),
        Value::Date(d) => KeyValue::Text(d.to_string()),
        Value::DateTime(d) => KeyValue::Text(d.to_string()),
        Value::Time(t) => KeyValue::Text(t.to_string()),
        _ => return None,
    })
}

/// A key value as a statement parameter.
pub fn key_param(value: &KeyValue) -> MyValue {
    match value {
        KeyValue::Int(i) => MyValue::Int(*i),
        KeyValue::UInt(u) => MyValue::UInt(*u),
        KeyValue::Double(d) => MyValue::Double(*d),
        KeyValue::Text(s) => MyValue::Bytes(s.as_bytes().to_vec()),
        KeyValue::Bytes(b) => MyValue::Bytes(b.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(data_type: &str, unsigned: bool, charset: Option<&str>, fsp: u8) -> SnapshotColumn {
        SnapshotColumn::new(
            "c".into(),
            data_type.into(),
            unsigned,
            charset.map(str::to_string),
            fsp,
        )
    }

    #[test]
    fn integers_follow_the_columns_signedness() {
        let c = column("bigint", true, None, 0);
        assert_eq!(
            convert(&c, MyValue::UInt(u64::MAX)),
            Ok(Value::UInt(u64::MAX))
        );
        let c = column("int", false, None, 0);
        assert_eq!(convert(&c, MyValue::Int(-5)), Ok(Value::Int(-5)));
        assert_eq!(convert(&c, MyValue::NULL), Ok(Value::Null));
    }

    #[test]
    fn timestamps_are_unix_seconds_with_the_columns_fraction() {
        let c = column("timestamp", false, None, 3);
        assert_eq!(
            convert(&c, MyValue::Bytes(b"1700000000.250".to_vec())),
            Ok(Value::Timestamp(Timestamp {
                seconds: 1_700_000_000,
                micros: 250_000,
                fsp: 3
            }))
        );
        assert_eq!(
            convert(&column("timestamp", false, None, 0), MyValue::Int(0)),
            Ok(Value::Timestamp(Timestamp {
                seconds: 0,
                micros: 0,
                fsp: 0
            }))
        );
    }

    #[test]
    fn strings_decode_from_their_column_charset() {
        let latin1 = column("varchar", false, Some("latin1"), 0);
        assert_eq!(
            convert(&latin1, MyValue::Bytes(vec![b'a', 0xe4])),
            Ok(Value::Text("aä".into()))
        );
        let binary = column("varbinary", false, None, 0);
        assert_eq!(
            convert(&binary, MyValue::Bytes(vec![0, 1])),
            Ok(Value::Bytes(vec![0, 1]))
        );
        let set = column("set", false, Some("utf8mb4"), 0);
        assert_eq!(
            convert(&set, MyValue::Bytes(b"a,c".to_vec())),
            Ok(Value::Set(SetValue::Names(vec!["a".into(), "c".into()])))
        );
    }

    #[test]
    fn temporal_values_keep_their_precision() {
        let c = column("datetime", false, None, 6);
        let v = convert(&c, MyValue::Date(2024, 2, 29, 13, 5, 9, 123_456)).unwrap();
        let Value::DateTime(d) = &v else {
            panic!("a DATETIME, not {v:?}")
        };
        assert_eq!(d.fsp, 6);
        assert_eq!(
            key_value(&v),
            Some(KeyValue::Text("2024-02-29 13:05:09.123456".into()))
        );
    }
}
