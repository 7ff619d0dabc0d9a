//! Typed column values, lossless for every MySQL/MariaDB column type, and their JSON form.
//!
//! The JSON form is a contract with downstream consumers (see `docs/event-format.md`); it never
//! takes a float detour for exact types: DECIMAL is a string, 64-bit integers are JSON integers
//! written digit for digit, TIMESTAMP is UTC with its fraction, DATETIME is the naive value as
//! written, and bytes are base64.

use std::fmt::{self, Write as _};

use base64::Engine as _;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// One column's value in a row image.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Any signed integer type (TINYINT .. BIGINT).
    Int(i64),
    /// Any unsigned integer type (TINYINT UNSIGNED .. BIGINT UNSIGNED).
    UInt(u64),
    /// FLOAT: kept as `f32` so its JSON form is the shortest text that reads back the same.
    Float(f32),
    /// DOUBLE.
    Double(f64),
    /// DECIMAL/NUMERIC as exact decimal text, e.g. `-12.50`.
    Decimal(String),
    /// BIT(M), M <= 64, as an unsigned number.
    Bit(u64),
    /// YEAR (0 for the zero year `0000`).
    Year(u16),
    /// DATE, zero dates (`0000-00-00`, `2024-00-00`) kept as written.
    Date(Date),
    /// TIME, possibly negative, up to 838 hours.
    Time(Time),
    /// DATETIME: a naive wall-clock value, no time zone.
    DateTime(DateTime),
    /// TIMESTAMP: an instant, seconds since the Unix epoch in UTC.
    Timestamp(Timestamp),
    /// A character column decoded from its charset.
    Text(String),
    /// BINARY, VARBINARY, BLOB: raw bytes.
    Bytes(Vec<u8>),
    /// A character column whose charset Sluice cannot decode, or whose bytes are not valid in it:
    /// the bytes are kept untouched rather than guessed at.
    UndecodedText { charset: String, bytes: Vec<u8> },
    /// ENUM: its name when the table metadata gives the member names, else its 1-based index.
    Enum(EnumValue),
    /// SET: the member names when known, else the bitmask.
    Set(SetValue),
    /// JSON document.
    Json(serde_json::Value),
    /// A MySQL 8 partial JSON update that could not be applied (no before image): the changes.
    JsonDiff(Vec<JsonChange>),
    /// GEOMETRY in MySQL's internal form: an SRID and WKB bytes.
    Geometry { srid: u32, wkb: Vec<u8> },
    /// MySQL 9 VECTOR.
    Vector(Vec<f32>),
}

/// ENUM value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnumValue {
    Name(String),
    /// 1-based member index; 0 is the empty string MySQL stores for an invalid value.
    Index(u16),
}

/// SET value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetValue {
    Names(Vec<String>),
    Bits(u64),
}

/// One change of a partial JSON update.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonChange {
    /// `replace`, `insert` or `remove`.
    pub op: &'static str,
    /// MySQL JSON path, e.g. `$.a[2]`.
    pub path: String,
    /// The new value (absent for `remove`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// A calendar date as written; month and day may be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// A TIME value: a signed duration, not a time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    pub negative: bool,
    pub hours: u32,
    pub minutes: u8,
    pub seconds: u8,
    pub micros: u32,
    /// Fractional-second digits declared for the column (0-6).
    pub fsp: u8,
}

/// A DATETIME value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub date: Date,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
    /// Fractional-second digits declared for the column (0-6).
    pub fsp: u8,
}

/// A TIMESTAMP value. Second 0 is MySQL's zero timestamp (`0000-00-00 00:00:00`), which
/// TIMESTAMP cannot otherwise hold (its range starts at 1970-01-01 00:00:01 UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub seconds: u64,
    pub micros: u32,
    /// Fractional-second digits declared for the column (0-6).
    pub fsp: u8,
}

fn write_fraction(out: &mut String, micros: u32, fsp: u8) {
    if fsp == 0 {
        return;
    }
    let digits = format!("{micros:06}");
    out.push('.');
    out.push_str(&digits[..usize::from(fsp.min(6))]);
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(18);
        if self.negative {
            s.push('-');
        }
        let _ = write!(
            s,
            "{:02}:{:02}:{:02}",
            self.hours, self.minutes, self.seconds
        );
        write_fraction(&mut s, self.micros, self.fsp);
        f.write_str(&s)
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(26);
        let _ = write!(
            s,
            "{} {:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        );
        write_fraction(&mut s, self.micros, self.fsp);
        f.write_str(&s)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC (`2024-05-01T10:00:00.250Z`), or `0000-00-00T00:00:00Z` for the zero
    /// timestamp.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(27);
        if self.seconds == 0 && self.micros == 0 {
            s.push_str("0000-00-00T00:00:00");
        } else {
            let days = (self.seconds / 86_400) as i64;
            let rem = self.seconds % 86_400;
            let (y, m, d) = civil_from_days(days);
            let _ = write!(
                s,
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
                rem / 3600,
                (rem % 3600) / 60,
                rem % 60
            );
        }
        write_fraction(&mut s, self.micros, self.fsp);
        s.push('Z');
        f.write_str(&s)
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// Hand-written (Howard Hinnant's `civil_from_days`) because this is the only calendar
/// arithmetic Sluice needs and `core` stays free of a date-time crate.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Int(v) => s.serialize_i64(*v),
            Value::UInt(v) | Value::Bit(v) => s.serialize_u64(*v),
            Value::Float(v) => s.serialize_f32(*v),
            Value::Double(v) => s.serialize_f64(*v),
            Value::Decimal(v) | Value::Text(v) => s.serialize_str(v),
            Value::Year(v) => s.serialize_u16(*v),
            Value::Date(v) => s.collect_str(v),
            Value::Time(v) => s.collect_str(v),
            Value::DateTime(v) => s.collect_str(v),
            Value::Timestamp(v) => s.collect_str(v),
            Value::Bytes(v) => s.serialize_str(&base64(v)),
            Value::UndecodedText { charset, bytes } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("charset", charset)?;
                m.serialize_entry("base64", &base64(bytes))?;
                m.end()
            }
            Value::Enum(EnumValue::Name(n)) => s.serialize_str(n),
            Value::Enum(EnumValue::Index(i)) => s.serialize_u16(*i),
            Value::Set(SetValue::Names(names)) => {
                let mut seq = s.serialize_seq(Some(names.len()))?;
                for n in names {
                    seq.serialize_element(n)?;
                }
                seq.end()
            }
            Value::Set(SetValue::Bits(b)) => s.serialize_u64(*b),
            Value::Json(v) => v.serialize(s),
            Value::JsonDiff(changes) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("json_diff", changes)?;
                m.end()
            }
            Value::Geometry { srid, wkb } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("srid", srid)?;
                m.serialize_entry("wkb", &base64(wkb))?;
                m.end()
            }
            Value::Vector(v) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for x in v {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(v: &Value) -> String {
        serde_json::to_string(v).unwrap()
    }

    #[test]
    fn exact_numbers_never_go_through_floats() {
        assert_eq!(json(&Value::UInt(u64::MAX)), "18446744073709551615");
        assert_eq!(json(&Value::Int(i64::MIN)), "-9223372036854775808");
        assert_eq!(
            json(&Value::Decimal("12345678901234567890.000000001".into())),
            "\"12345678901234567890.000000001\""
        );
        assert_eq!(json(&Value::Float(1.1)), "1.1");
        assert_eq!(json(&Value::Double(0.1)), "0.1");
    }

    #[test]
    fn temporal_values_keep_their_fraction_and_zero_forms() {
        let date = Date {
            year: 0,
            month: 0,
            day: 0,
        };
        assert_eq!(json(&Value::Date(date)), "\"0000-00-00\"");
        let dt = DateTime {
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
        };
        assert_eq!(json(&Value::DateTime(dt)), "\"2024-02-29 23:59:58.120\"");
        let t = Time {
            negative: true,
            hours: 838,
            minutes: 59,
            seconds: 59,
            micros: 0,
            fsp: 0,
        };
        assert_eq!(json(&Value::Time(t)), "\"-838:59:59\"");
        let ts = Timestamp {
            seconds: 1_709_251_198,
            micros: 5,
            fsp: 6,
        };
        assert_eq!(
            json(&Value::Timestamp(ts)),
            "\"2024-02-29T23:59:58.000005Z\""
        );
        let zero = Timestamp {
            seconds: 0,
            micros: 0,
            fsp: 0,
        };
        assert_eq!(json(&Value::Timestamp(zero)), "\"0000-00-00T00:00:00Z\"");
    }

    #[test]
    fn civil_from_days_handles_epoch_and_leap_years() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(24_855), (2038, 1, 19));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn bytes_enums_sets_and_geometry() {
        assert_eq!(json(&Value::Bytes(vec![0, 255])), "\"AP8=\"");
        assert_eq!(json(&Value::Enum(EnumValue::Name("red".into()))), "\"red\"");
        assert_eq!(json(&Value::Enum(EnumValue::Index(2))), "2");
        assert_eq!(
            json(&Value::Set(SetValue::Names(vec!["a".into(), "c".into()]))),
            "[\"a\",\"c\"]"
        );
        assert_eq!(
            json(&Value::Geometry {
                srid: 4326,
                wkb: vec![1]
            }),
            "{\"srid\":4326,\"wkb\":\"AQ==\"}"
        );
        assert_eq!(json(&Value::Vector(vec![1.5, -2.0])), "[1.5,-2.0]");
    }
}
