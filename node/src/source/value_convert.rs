//! One binlog value, as `mysql_common` decodes it from the row image, to Sluice's typed value,
//! using what the table metadata says of the column (signedness, charset, ENUM/SET members,
//! fractional-second precision).

use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType;
use mysql_common::value::Value as MyValue;
use sluice_core::value::{Date, DateTime, EnumValue, JsonChange, SetValue, Time, Timestamp};
use sluice_core::Value;

use super::charset::TextDecoding;
use super::jsonb;
use super::table_map::ColumnDecoder;

/// Why a decoded value does not fit its column.
#[derive(Debug, thiserror::Error)]
#[error("column type {column_type:?}: {detail}")]
pub struct ValueError {
    pub column_type: ColumnType,
    pub detail: String,
}

fn bad(col: &ColumnDecoder, detail: impl Into<String>) -> ValueError {
    ValueError {
        column_type: col.column_type,
        detail: detail.into(),
    }
}

/// Converts one decoded binlog value of column `col`.
pub fn convert(col: &ColumnDecoder, value: BinlogValue<'_>) -> Result<Value, ValueError> {
    match value {
        BinlogValue::Value(v) => convert_plain(col, v),
        BinlogValue::Jsonb(doc) => jsonb::to_json(&doc)
            .map(Value::Json)
            .map_err(|e| bad(col, e.to_string())),
        BinlogValue::JsonDiff(diffs) => {
            let mut changes = Vec::with_capacity(diffs.len());
            for d in &diffs {
                use mysql_common::binlog::jsondiff::JsonDiffOperation as Op;
                let op = match d.operation() {
                    Op::REPLACE => "replace",
                    Op::INSERT => "insert",
                    Op::REMOVE => "remove",
                };
                let value = match d.value() {
                    Some(v) => Some(jsonb::to_json(v).map_err(|e| bad(col, e.to_string()))?),
                    None => None,
                };
                changes.push(JsonChange {
                    op,
                    path: d.path_str().into_owned(),
                    value,
                });
            }
            Ok(Value::JsonDiff(changes))
        }
    }
}

fn fsp(col: &ColumnDecoder) -> u8 {
    col.meta.first().copied().unwrap_or(0).min(6)
}

fn convert_plain(col: &ColumnDecoder, v: MyValue) -> Result<Value, ValueError> {
    use ColumnType::*;
    if v == MyValue::NULL {
        return Ok(Value::Null);
    }
    let t = col.column_type;
    Ok(match (t, v) {
        (
            MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG,
            v,
        ) => integer(col, v)?,
        (MYSQL_TYPE_FLOAT, MyValue::Float(f)) => Value::Float(f),
        (MYSQL_TYPE_DOUBLE, MyValue::Double(f)) => Value::Double(f),
        (MYSQL_TYPE_NEWDECIMAL, MyValue::Bytes(b)) => {
            Value::Decimal(String::from_utf8(b).map_err(|_| bad(col, "decimal is not text"))?)
        }
        (MYSQL_TYPE_YEAR, MyValue::Bytes(b)) => {
            let year: u16 = std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(col, "year is not a number"))?;
            // The binlog stores YEAR as years since 1900; 0 is the zero year `0000`, which
            // mysql_common turns into 1900, a year YEAR cannot hold.
            Value::Year(if year == 1900 { 0 } else { year })
        }
        (MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE, MyValue::Date(year, month, day, ..)) => {
            Value::Date(Date { year, month, day })
        }
        (MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2, MyValue::Date(y, mo, d, h, mi, s, us)) => {
            Value::DateTime(DateTime {
                date: Date {
                    year: y,
                    month: mo,
                    day: d,
                },
                hour: h,
                minute: mi,
                second: s,
                micros: us,
                fsp: if t == MYSQL_TYPE_DATETIME2 {
                    fsp(col)
                } else {
                    0
                },
            })
        }
        (MYSQL_TYPE_TIMESTAMP, MyValue::Int(secs)) => Value::Timestamp(Timestamp {
            seconds: u64::try_from(secs).map_err(|_| bad(col, "negative timestamp"))?,
            micros: 0,
            fsp: 0,
        }),
        (MYSQL_TYPE_TIMESTAMP2, MyValue::Bytes(b)) => timestamp2(col, &b)?,
        (MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2, MyValue::Time(negative, days, h, m, s, us)) => {
            Value::Time(Time {
                negative,
                hours: days * 24 + u32::from(h),
                minutes: m,
                seconds: s,
                micros: us,
                fsp: if t == MYSQL_TYPE_TIME2 { fsp(col) } else { 0 },
            })
        }
        (MYSQL_TYPE_BIT, MyValue::Bytes(b)) => {
            if b.len() > 8 {
                return Err(bad(col, "BIT wider than 64 bits"));
            }
            Value::Bit(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
        }
        (MYSQL_TYPE_ENUM, MyValue::Int(i)) => {
            let index = u16::try_from(i).map_err(|_| bad(col, "ENUM index out of range"))?;
            match (&col.members, index) {
                (Some(_), 0) => Value::Enum(EnumValue::Name(String::new())),
                (Some(names), i) => match names.get(usize::from(i) - 1) {
                    Some(n) => Value::Enum(EnumValue::Name(n.clone())),
                    None => Value::Enum(EnumValue::Index(i)),
                },
                (None, i) => Value::Enum(EnumValue::Index(i)),
            }
        }
        (MYSQL_TYPE_SET, MyValue::Bytes(b)) => {
            if b.len() > 8 {
                return Err(bad(col, "SET wider than 64 members"));
            }
            // Little-endian bitmask, bit i = member i.
            let bits = b
                .iter()
                .rev()
                .fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
            match &col.members {
                Some(names) => Value::Set(SetValue::Names(
                    names
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i < 64 && bits & (1 << i) != 0)
                        .map(|(_, n)| n.clone())
                        .collect(),
                )),
                None => Value::Set(SetValue::Bits(bits)),
            }
        }
        (MYSQL_TYPE_GEOMETRY, MyValue::Bytes(b)) => {
            if b.len() < 4 {
                return Err(bad(col, "geometry shorter than its SRID"));
            }
            let srid = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            Value::Geometry {
                srid,
                wkb: b[4..].to_vec(),
            }
        }
        (MYSQL_TYPE_VECTOR, MyValue::Bytes(b)) => {
            if !b.len().is_multiple_of(4) {
                return Err(bad(col, "vector length is not a multiple of 4 bytes"));
            }
            Value::Vector(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        }
        (MYSQL_TYPE_STRING, MyValue::Bytes(mut b)) if col.text == TextDecoding::Binary => {
            // The binlog drops BINARY(n)'s trailing 0x00 padding; the stored value has it.
            let len = string_length(&col.meta);
            if b.len() < len {
                b.resize(len, 0);
            }
            Value::Bytes(b)
        }
        (
            MYSQL_TYPE_STRING
            | MYSQL_TYPE_VARCHAR
            | MYSQL_TYPE_VAR_STRING
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB,
            MyValue::Bytes(b),
        ) => col.text.decode(b),
        (_, other) => return Err(bad(col, format!("unexpected decoded value {other:?}"))),
    })
}

/// The byte length of a CHAR/BINARY column from its TABLE_MAP metadata (two bytes: the real
/// type with the high bits of the length folded in, and the low byte of the length).
pub fn string_length(meta: &[u8]) -> usize {
    let (b0, b1) = (
        usize::from(meta.first().copied().unwrap_or(0)),
        usize::from(meta.get(1).copied().unwrap_or(0)),
    );
    if b0 & 0x30 != 0x30 {
        b1 | (((b0 & 0x30) ^ 0x30) << 4)
    } else {
        b1
    }
}

fn integer(col: &ColumnDecoder, v: MyValue) -> Result<Value, ValueError> {
    use ColumnType::*;
    let bits = match col.column_type {
        MYSQL_TYPE_TINY => 8,
        MYSQL_TYPE_SHORT => 16,
        MYSQL_TYPE_INT24 => 24,
        MYSQL_TYPE_LONG => 32,
        _ => 64,
    };
    Ok(match (v, col.unsigned == Some(true)) {
        (MyValue::UInt(u), _) => Value::UInt(u),
        // mysql_common sign-extends some widths; the column's own width says what was stored.
        (MyValue::Int(i), true) if bits < 64 => Value::UInt((i as u64) & ((1u64 << bits) - 1)),
        (MyValue::Int(i), true) => Value::UInt(i as u64),
        // mysql_common reads a signed MEDIUMINT's 3 bytes without sign extension.
        (MyValue::Int(i), false) if bits == 24 && i > 0x7f_ffff => Value::Int(i - 0x100_0000),
        (MyValue::Int(i), false) => Value::Int(i),
        (other, _) => return Err(bad(col, format!("unexpected integer value {other:?}"))),
    })
}

/// mysql_common renders TIMESTAMP2 as `seconds[.micros]` text.
fn timestamp2(col: &ColumnDecoder, text: &[u8]) -> Result<Value, ValueError> {
    let text = std::str::from_utf8(text).map_err(|_| bad(col, "timestamp is not text"))?;
    let (secs, micros) = match text.split_once('.') {
        Some((s, us)) => (s, us),
        None => (text, "0"),
    };
    let seconds: i64 = secs.parse().map_err(|_| bad(col, "timestamp seconds"))?;
    let micros: u32 = micros.parse().map_err(|_| bad(col, "timestamp micros"))?;
    Ok(Value::Timestamp(Timestamp {
        seconds: u64::try_from(seconds).map_err(|_| bad(col, "negative timestamp"))?,
        micros,
        fsp: fsp(col),
    }))
}
