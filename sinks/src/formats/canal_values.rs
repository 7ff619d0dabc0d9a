//! Column values as Canal writes them: every value a JSON string (SQL NULL is `null`), the
//! text Canal's MySQL parser produces, and the JDBC type code (`sqlType`) of each column.
//!
//! Where Canal's own text is lossy or depends on its host, Sluice writes something exact:
//! - TIMESTAMP: Canal formats it in the JVM's local zone; Sluice in UTC (what Canal gives when
//!   its JVM runs in UTC), because a time zone is a setting of the Canal host, not of the data.
//! - ENUM and SET: Canal gives the member index and the bitmask; Sluice gives the member name and
//!   the names joined with `,` (MySQL's own text of a SET value), which a consumer can use
//!   without the column definition; with no member names known, the index and bitmask as Canal.
//! - Binary values (BINARY, VARBINARY, BLOB, GEOMETRY) are ISO-8859-1 text of the raw bytes, as
//!   Canal does: one character per byte, so `getBytes(ISO_8859_1)` restores them exactly.
//!   GEOMETRY's bytes are MySQL's own (4-byte little-endian SRID, then WKB), as Canal sees them.

use std::io::Write as _;

use sluice_core::value::{EnumValue, SetValue};
use sluice_core::Value;

use super::column_type::{ColumnType, Kind};
use super::json_text::{write_latin1, write_str, write_str_body};
use super::temporal::write_timestamp_sql;

/// Appends `value` as a Canal `data`/`old` value: a JSON string, or `null` for SQL NULL.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bytes(bytes) | Value::UndecodedText { bytes, .. } => write_latin1(out, bytes),
        Value::Geometry { srid, wkb } => {
            let mut raw = Vec::with_capacity(4 + wkb.len());
            raw.extend_from_slice(&srid.to_le_bytes());
            raw.extend_from_slice(wkb);
            write_latin1(out, &raw);
        }
        Value::Text(s) | Value::Decimal(s) | Value::Enum(EnumValue::Name(s)) => write_str(out, s),
        Value::Float(f) if !f.is_finite() => out.extend_from_slice(b"null"),
        Value::Double(f) if !f.is_finite() => out.extend_from_slice(b"null"),
        _ => {
            out.push(b'"');
            write_text(out, value);
            out.push(b'"');
        }
    }
}

/// The inside of the string for values whose text needs building.
fn write_text(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Int(v) => write_display(out, v),
        Value::UInt(v) | Value::Bit(v) | Value::Set(SetValue::Bits(v)) => write_display(out, v),
        // The shortest text that reads back as the same number, as in Sluice's own form.
        Value::Float(_) | Value::Double(_) => sluice_core::json::write_value(out, value),
        // YEAR as four digits, the zero year as `0000`, as MySQL displays it.
        Value::Year(y) => {
            let _ = write!(out, "{y:04}");
        }
        Value::Date(d) => write_display(out, d),
        Value::Time(t) => write_display(out, t),
        Value::DateTime(dt) => write_display(out, dt),
        Value::Timestamp(ts) => write_timestamp_sql(out, ts),
        Value::Enum(EnumValue::Index(i)) => write_display(out, i),
        Value::Set(SetValue::Names(names)) => {
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str_body(out, name.as_bytes());
            }
        }
        // JSON documents (and partial-update diffs, and vectors) as their compact JSON text.
        Value::Json(_) | Value::JsonDiff(_) | Value::Vector(_) => {
            let mut json = Vec::new();
            sluice_core::json::write_value(&mut json, value);
            write_str_body(out, &json);
        }
        Value::Null
        | Value::Decimal(_)
        | Value::Text(_)
        | Value::Enum(EnumValue::Name(_))
        | Value::Bytes(_)
        | Value::UndecodedText { .. }
        | Value::Geometry { .. } => unreachable!("written by write_value"),
    }
}

/// Text that never needs escaping (digits, dates), written through `Display`.
fn write_display(out: &mut Vec<u8>, v: &impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

/// The `java.sql.Types` code Canal reports for a column of this type. Canal picks it per value
/// from the binlog type and widens an unsigned type only for values past the signed range
/// (e.g. BIGINT UNSIGNED becomes DECIMAL); Sluice always uses the wider type for unsigned
/// columns so a column's code never changes from one row to the next.
pub(crate) fn sql_type(type_name: &str) -> i32 {
    const BIT: i32 = -7;
    const TINYINT: i32 = -6;
    const BIGINT: i32 = -5;
    const CHAR: i32 = 1;
    const DECIMAL: i32 = 3;
    const INTEGER: i32 = 4;
    const SMALLINT: i32 = 5;
    const REAL: i32 = 7;
    const DOUBLE: i32 = 8;
    const VARCHAR: i32 = 12;
    const DATE: i32 = 91;
    const TIME: i32 = 92;
    const TIMESTAMP: i32 = 93;
    const OTHER: i32 = 1111;
    const BLOB: i32 = 2004;
    const CLOB: i32 = 2005;
    let t = ColumnType::parse(type_name);
    match (t.kind, t.unsigned) {
        (Kind::TinyInt, false) => TINYINT,
        (Kind::TinyInt, true) | (Kind::SmallInt, false) => SMALLINT,
        (Kind::SmallInt, true) | (Kind::MediumInt, _) | (Kind::Int, false) => INTEGER,
        (Kind::Int, true) | (Kind::BigInt, false) => BIGINT,
        (Kind::BigInt, true) | (Kind::Decimal, _) => DECIMAL,
        (Kind::Float, _) => REAL,
        (Kind::Double, _) => DOUBLE,
        (Kind::Bit, _) => BIT,
        // Canal passes YEAR and JSON as text.
        (Kind::Year | Kind::VarChar | Kind::Json | Kind::Enum | Kind::Set | Kind::Vector, _) => {
            VARCHAR
        }
        (Kind::Date, _) => DATE,
        (Kind::Time, _) => TIME,
        (Kind::DateTime | Kind::Timestamp, _) => TIMESTAMP,
        (Kind::Char, _) => CHAR,
        (Kind::Text, _) => CLOB,
        (Kind::Binary | Kind::VarBinary | Kind::Blob | Kind::Point | Kind::Geometry, _) => BLOB,
        (Kind::Other, _) => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{all_types, all_types_row, parse};

    #[test]
    fn every_value_is_a_string_or_null() {
        let table = all_types();
        let row = all_types_row();
        let mut texts = Vec::new();
        for (column, value) in table.columns.iter().zip(&row.0) {
            let mut out = Vec::new();
            write_value(&mut out, value.as_ref().unwrap());
            let json = parse(&out);
            texts.push((column.name.as_str(), json));
        }
        let expected = serde_json::json!([
            ["id", "18446744073709551615"],
            ["i", "-2147483648"],
            ["dec", "-12345678901234567890.123456789"],
            ["f", "1.1"],
            ["d", "0.1"],
            ["b1", "1"],
            ["b12", "2748"],
            ["y", "0000"],
            ["dt_date", "0000-00-00"],
            ["t", "-838:59:59.000000"],
            ["dt3", "2024-02-29 23:59:58.120"],
            ["dt6", "1969-12-31 23:59:59.999999"],
            ["ts", "2024-01-01 00:00:00.500"],
            ["txt", "café \"😀\"\n漢字"],
            ["bin", "\u{0}\u{7f}\u{80}\u{ff}"],
            ["raw", "\u{ff}\u{0}"],
            ["e", "paid"],
            ["s", "a,c"],
            ["j", "{\"k\":[1,\"x\"],\"n\":null}"],
            ["g", "\u{e6}\u{10}\u{0}\u{0}\u{1}\u{1}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{f8}?\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{c0}"],
            ["v", "[1.5,-2.0]"],
            ["n", null],
        ]);
        assert_eq!(serde_json::to_value(&texts).unwrap(), expected);
    }

    #[test]
    fn jdbc_codes_follow_canal_with_unsigned_widened() {
        let codes: Vec<i32> = [
            "int(11)",
            "int(10) unsigned",
            "bigint(20) unsigned",
            "float",
            "varchar(255)",
            "text",
            "varbinary(16)",
            "datetime(6)",
            "year",
            "json",
            "typed_array",
        ]
        .iter()
        .map(|t| sql_type(t))
        .collect();
        assert_eq!(codes, [4, -5, 3, 7, 12, 2005, 2004, 93, 12, 12, 1111]);
    }
}
