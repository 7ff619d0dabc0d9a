//! Column values as Debezium's MySQL connector represents them in JSON, with the column's Kafka
//! Connect schema (for `schemas.enable=true`), under these connector settings:
//! `time.precision.mode=adaptive_time_microseconds` (the default), `decimal.handling.mode=string`
//! and `binary.handling.mode=bytes` (the default; bytes are base64 in JSON).
//!
//! | MySQL | JSON | Connect schema |
//! |---|---|---|
//! | TINYINT … BIGINT, signed or not | integer, all digits | int16/int32/int64 by range |
//! | FLOAT / DOUBLE | number | float32 / float64 |
//! | DECIMAL | string, exact | string |
//! | BIT(1) / BIT(n>1) | boolean / base64 of the bits, little-endian, ⌈n/8⌉ bytes | boolean / bytes `io.debezium.data.Bits` |
//! | YEAR | integer | int32 `io.debezium.time.Year` |
//! | DATE | days since the epoch | int32 `io.debezium.time.Date` |
//! | TIME | microseconds (signed duration) | int64 `io.debezium.time.MicroTime` |
//! | DATETIME(0-3) | milliseconds since the epoch, the value read as UTC | int64 `io.debezium.time.Timestamp` |
//! | DATETIME(4-6) | microseconds since the epoch, the value read as UTC | int64 `io.debezium.time.MicroTimestamp` |
//! | TIMESTAMP | ISO 8601 in UTC with the column's fractional digits, `Z` | string `io.debezium.time.ZonedTimestamp` |
//! | zero or partial DATE/DATETIME/TIMESTAMP | `null` | |
//! | CHAR, VARCHAR, TEXT | string | string |
//! | BINARY, VARBINARY, BLOB | base64 | bytes |
//! | ENUM / SET | member name / names joined by `,` | string `io.debezium.data.Enum` / `EnumSet` |
//! | JSON | the document's text, as a string | string `io.debezium.data.Json` |
//! | POINT | `{"x":…,"y":…,"wkb":…,"srid":…}` | struct `io.debezium.data.geometry.Point` |
//! | other spatial types | `{"wkb":…,"srid":…}` | struct `io.debezium.data.geometry.Geometry` |
//! | VECTOR | array of numbers | array `io.debezium.data.FloatVector` |
//!
//! BIGINT UNSIGNED is written digit for digit (Debezium's default `long` mode would wrap values
//! past 2^63-1 to negatives; its `precise` mode makes them bytes). Zero dates become `null`, as
//! Debezium does for nullable columns (Sluice does not know a column's nullability; Debezium
//! writes the epoch for NOT NULL ones). Text Sluice could not decode is given as base64 of its
//! bytes, like a binary column.

use std::io::Write as _;

use sluice_core::value::{EnumValue, SetValue};
use sluice_core::Value;

use super::column_type::{ColumnType, Kind};
use super::json_text::{write_base64, write_i64, write_str, write_str_body, write_u64};
use super::temporal::{epoch_days, epoch_micros, time_micros};

/// Appends `value` of a column of type `column` in Debezium's JSON form.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value, column: &ColumnType) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Int(v) => write_i64(out, *v),
        Value::UInt(v) => write_u64(out, *v),
        Value::Year(y) => write_u64(out, u64::from(*y)),
        Value::Bit(bits) => write_bits(out, *bits, column),
        // Numbers and vectors as in Sluice's form.
        Value::Float(_) | Value::Double(_) | Value::Vector(_) => {
            sluice_core::json::write_value(out, value)
        }
        // The zero timestamp names no instant.
        Value::Timestamp(ts) if ts.seconds == 0 && ts.micros == 0 => out.extend_from_slice(b"null"),
        // Sluice's TIMESTAMP form is ZonedTimestamp's: ISO 8601, UTC, the column's digits, `Z`.
        Value::Timestamp(_) => sluice_core::json::write_value(out, value),
        Value::Decimal(s) | Value::Text(s) | Value::Enum(EnumValue::Name(s)) => write_str(out, s),
        Value::Date(d) => match epoch_days(d) {
            Some(days) => write_i64(out, days),
            None => out.extend_from_slice(b"null"),
        },
        Value::Time(t) => write_i64(out, time_micros(t)),
        Value::DateTime(dt) => match epoch_micros(dt) {
            // Millisecond columns hold whole milliseconds; `div_euclid` keeps pre-1970 values
            // exact too.
            Some(micros) if dt.fsp <= 3 => write_i64(out, micros.div_euclid(1000)),
            Some(micros) => write_i64(out, micros),
            None => out.extend_from_slice(b"null"),
        },
        Value::Bytes(bytes) | Value::UndecodedText { bytes, .. } => write_base64(out, bytes),
        Value::Enum(EnumValue::Index(i)) => {
            let _ = write!(out, "\"{i}\"");
        }
        Value::Set(SetValue::Names(names)) => {
            out.push(b'"');
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str_body(out, name.as_bytes());
            }
            out.push(b'"');
        }
        Value::Set(SetValue::Bits(bits)) => {
            let _ = write!(out, "\"{bits}\"");
        }
        Value::Json(_) | Value::JsonDiff(_) => {
            let mut json = Vec::new();
            sluice_core::json::write_value(&mut json, value);
            out.push(b'"');
            write_str_body(out, &json);
            out.push(b'"');
        }
        Value::Geometry { srid, wkb } => {
            out.push(b'{');
            if column.kind == Kind::Point {
                if let Some((x, y)) = point_coordinates(wkb) {
                    out.extend_from_slice(br#""x":"#);
                    sluice_core::json::write_value(out, &Value::Double(x));
                    out.extend_from_slice(br#","y":"#);
                    sluice_core::json::write_value(out, &Value::Double(y));
                    out.push(b',');
                }
            }
            out.extend_from_slice(br#""wkb":"#);
            write_base64(out, wkb);
            out.extend_from_slice(br#","srid":"#);
            write_u64(out, u64::from(*srid));
            out.push(b'}');
        }
    }
}

/// BIT(1) as a boolean; wider BIT as its bits in little-endian bytes, as many as the column's
/// width needs (as many as the value needs when the width is unknown).
fn write_bits(out: &mut Vec<u8>, bits: u64, column: &ColumnType) {
    // Decided by the declared width alone, as the schema is, never by the value.
    let declared = if column.kind == Kind::Bit {
        column.length()
    } else {
        None
    };
    if declared == Some(1) {
        out.extend_from_slice(if bits != 0 { b"true" } else { b"false" });
        return;
    }
    let width = declared.unwrap_or(64 - bits.leading_zeros());
    let bytes = width.div_ceil(8).clamp(1, 8) as usize;
    write_base64(out, &bits.to_le_bytes()[..bytes]);
}

/// The coordinates of a WKB POINT (either byte order), or `None` for other geometries.
fn point_coordinates(wkb: &[u8]) -> Option<(f64, f64)> {
    let (&order, rest) = wkb.split_first()?;
    let read_u32 = |b: &[u8]| -> Option<u32> {
        let b: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(if order == 1 {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let read_f64 = |b: &[u8]| -> Option<f64> {
        let b: [u8; 8] = b.get(..8)?.try_into().ok()?;
        Some(if order == 1 {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    };
    if order > 1 || read_u32(rest)? != 1 || rest.len() != 20 {
        return None;
    }
    Some((read_f64(&rest[4..])?, read_f64(&rest[12..])?))
}

/// A column's Connect schema, without the closing `}`: the caller adds `"field"` (and closes).
pub(crate) fn write_schema(out: &mut Vec<u8>, column: &ColumnType, optional: bool) {
    let (kind, unsigned) = (column.kind, column.unsigned);
    let simple = |out: &mut Vec<u8>, ty: &str| {
        let _ = write!(out, r#"{{"type":"{ty}","optional":{optional}"#);
    };
    let named = |out: &mut Vec<u8>, ty: &str, name: &str| {
        let _ = write!(
            out,
            r#"{{"type":"{ty}","optional":{optional},"name":"{name}","version":1"#
        );
    };
    match kind {
        Kind::TinyInt => simple(out, "int16"),
        Kind::SmallInt if !unsigned => simple(out, "int16"),
        Kind::SmallInt | Kind::MediumInt => simple(out, "int32"),
        Kind::Int if !unsigned => simple(out, "int32"),
        Kind::Int | Kind::BigInt => simple(out, "int64"),
        Kind::Float => simple(out, "float32"),
        Kind::Double => simple(out, "float64"),
        Kind::Decimal | Kind::Char | Kind::VarChar | Kind::Text | Kind::Other => {
            simple(out, "string")
        }
        Kind::Binary | Kind::VarBinary | Kind::Blob => simple(out, "bytes"),
        Kind::Bit if column.length() == Some(1) => simple(out, "boolean"),
        Kind::Bit => {
            named(out, "bytes", "io.debezium.data.Bits");
            let width = column.length().unwrap_or(64);
            let _ = write!(out, r#","parameters":{{"length":"{width}"}}"#);
        }
        Kind::Year => named(out, "int32", "io.debezium.time.Year"),
        Kind::Date => named(out, "int32", "io.debezium.time.Date"),
        Kind::Time => named(out, "int64", "io.debezium.time.MicroTime"),
        Kind::DateTime if column.length().unwrap_or(0) <= 3 => {
            named(out, "int64", "io.debezium.time.Timestamp")
        }
        Kind::DateTime => named(out, "int64", "io.debezium.time.MicroTimestamp"),
        Kind::Timestamp => named(out, "string", "io.debezium.time.ZonedTimestamp"),
        Kind::Json => named(out, "string", "io.debezium.data.Json"),
        Kind::Enum | Kind::Set => {
            let name = if kind == Kind::Enum {
                "io.debezium.data.Enum"
            } else {
                "io.debezium.data.EnumSet"
            };
            named(out, "string", name);
            out.extend_from_slice(br#","parameters":{"allowed":"#);
            write_str(out, &column.members().join(","));
            out.push(b'}');
        }
        Kind::Point => {
            out.extend_from_slice(concat!(
                r#"{"type":"struct","fields":[{"type":"float64","optional":false,"field":"x"},"#,
                r#"{"type":"float64","optional":false,"field":"y"},"#,
                r#"{"type":"bytes","optional":true,"field":"wkb"},"#,
                r#"{"type":"int32","optional":true,"field":"srid"}]"#
            ).as_bytes());
            let _ = write!(
                out,
                r#","optional":{optional},"name":"io.debezium.data.geometry.Point","version":1"#
            );
        }
        Kind::Geometry => {
            out.extend_from_slice(concat!(
                r#"{"type":"struct","fields":[{"type":"bytes","optional":false,"field":"wkb"},"#,
                r#"{"type":"int32","optional":true,"field":"srid"}]"#
            ).as_bytes());
            let _ = write!(
                out,
                r#","optional":{optional},"name":"io.debezium.data.geometry.Geometry","version":1"#
            );
        }
        Kind::Vector => {
            let _ = write!(
                out,
                r#"{{"type":"array","items":{{"type":"float32","optional":false}},"optional":{optional},"name":"io.debezium.data.FloatVector","version":1"#
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{all_types, all_types_row, parse, point_wkb};

    #[test]
    fn values_follow_debeziums_default_mysql_mapping() {
        let table = all_types();
        let row = all_types_row();
        let mut pairs = serde_json::Map::new();
        for (column, value) in table.columns.iter().zip(&row.0) {
            let mut out = Vec::new();
            write_value(
                &mut out,
                value.as_ref().unwrap(),
                &ColumnType::parse(&column.type_name),
            );
            pairs.insert(column.name.clone(), parse(&out));
        }
        let expected = serde_json::json!({
            "id": 18446744073709551615u64,
            "i": -2147483648,
            "dec": "-12345678901234567890.123456789",
            "f": 1.1,
            "d": 0.1,
            "b1": true,
            "b12": "vAo=",
            "y": 0,
            "dt_date": null,
            "t": -3020399000000i64,
            "dt3": 1709251198120i64,
            "dt6": -1,
            "ts": "2024-01-01T00:00:00.500Z",
            "txt": "café \"😀\"\n漢字",
            "bin": "AH+A/w==",
            "raw": "/wA=",
            "e": "paid",
            "s": "a,c",
            "j": "{\"k\":[1,\"x\"],\"n\":null}",
            "g": {"x": 1.5, "y": -2.0, "wkb": "AQEAAAAAAAAAAAD4PwAAAAAAAADA", "srid": 4326},
            "v": [1.5, -2.0],
            "n": null,
        });
        assert_eq!(serde_json::Value::Object(pairs), expected);
    }

    #[test]
    fn bits_sized_by_the_column_and_points_only_for_point_columns() {
        let text = |value: Value, type_name: &str| {
            let mut out = Vec::new();
            write_value(&mut out, &value, &ColumnType::parse(type_name));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(Value::Bit(0), "bit(1)"), "false");
        assert_eq!(text(Value::Bit(1), "bit(16)"), "\"AQA=\"");
        assert_eq!(text(Value::Bit(u64::MAX), "bit(64)"), "\"//////////8=\"");
        assert_eq!(text(Value::Bit(0x1ff), "bit"), "\"/wE=\"");
        assert_eq!(
            text(Value::Bit(1), "bit"),
            "\"AQ==\"",
            "no boolean without a width"
        );
        let geometry = Value::Geometry {
            srid: 0,
            wkb: point_wkb(1.0, 2.0),
        };
        assert!(text(geometry.clone(), "geometry").starts_with(r#"{"wkb":"#));
        let mut big_endian = vec![0, 0, 0, 0, 1];
        big_endian.extend_from_slice(&3.0f64.to_be_bytes());
        big_endian.extend_from_slice(&4.0f64.to_be_bytes());
        let point = Value::Geometry {
            srid: 0,
            wkb: big_endian,
        };
        assert!(text(point, "point").starts_with(r#"{"x":3.0,"y":4.0,"wkb":"#));
        let datetime0 = Value::DateTime(sluice_core::value::DateTime {
            date: sluice_core::value::Date {
                year: 2018,
                month: 6,
                day: 20,
            },
            hour: 6,
            minute: 37,
            second: 3,
            micros: 0,
            fsp: 0,
        });
        // Debezium's documented example.
        assert_eq!(text(datetime0, "datetime"), "1529476623000");
    }

    #[test]
    fn schemas_name_the_semantic_types() {
        let schema = |type_name: &str| {
            let mut out = Vec::new();
            write_schema(&mut out, &ColumnType::parse(type_name), true);
            out.extend_from_slice(br#","field":"c"}"#);
            parse(&out)
        };
        assert_eq!(
            schema("enum('a','b''c')"),
            serde_json::json!({"type": "string", "optional": true,
                "name": "io.debezium.data.Enum", "version": 1,
                "parameters": {"allowed": "a,b'c"}, "field": "c"})
        );
        assert_eq!(schema("datetime(3)")["name"], "io.debezium.time.Timestamp");
        assert_eq!(
            schema("datetime(4)")["name"],
            "io.debezium.time.MicroTimestamp"
        );
        assert_eq!(schema("bit(1)")["type"], "boolean");
        assert_eq!(schema("bit(12)")["parameters"]["length"], "12");
        assert_eq!(schema("int(10) unsigned")["type"], "int64");
        assert_eq!(schema("smallint unsigned")["type"], "int32");
        assert_eq!(schema("point")["fields"][0]["field"], "x");
        assert_eq!(schema("vector(3)")["items"]["type"], "float32");
    }
}
