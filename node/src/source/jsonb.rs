//! MySQL's binary JSON (JSONB) to `serde_json`.
//!
//! `mysql_common` parses JSONB, but its conversion to `serde_json` refuses opaque values, which
//! is how MySQL stores DECIMAL, DATE, TIME and DATETIME inside JSON documents. This walker
//! converts them too: decimals as exact strings (no float detour), temporal values in the same
//! text forms as top-level columns, other opaque bytes as base64.

use base64::Engine as _;
use mysql_common::binlog::decimal::Decimal;
use mysql_common::binlog::jsonb::{ObjectKey, OpaqueValue, Value as Jsonb};
use mysql_common::binlog::misc::{datetime_from_packed, time_from_packed};
use mysql_common::constants::ColumnType;
use mysql_common::value::Value as MyValue;
use serde_json::Value as Json;

/// Why a JSONB document could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum JsonbError {
    #[error("invalid JSONB: {0}")]
    Invalid(#[from] std::io::Error),
    #[error("JSONB string or key is not valid UTF-8")]
    Utf8,
}

/// Converts a parsed JSONB value into a JSON value.
pub fn to_json(value: &Jsonb<'_>) -> Result<Json, JsonbError> {
    Ok(match value {
        Jsonb::Null => Json::Null,
        Jsonb::Bool(b) => Json::Bool(*b),
        Jsonb::I16(x) => Json::from(*x),
        Jsonb::U16(x) => Json::from(*x),
        Jsonb::I32(x) => Json::from(*x),
        Jsonb::U32(x) => Json::from(*x),
        Jsonb::I64(x) => Json::from(*x),
        Jsonb::U64(x) => Json::from(*x),
        Jsonb::F64(x) => Json::from(*x),
        Jsonb::String(s) => Json::String(utf8(s.str_raw())?),
        Jsonb::SmallArray(a) => array(a.iter())?,
        Jsonb::LargeArray(a) => array(a.iter())?,
        Jsonb::SmallObject(o) => object(o.iter())?,
        Jsonb::LargeObject(o) => object(o.iter())?,
        Jsonb::Opaque(o) => opaque(o),
    })
}

fn utf8(bytes: &[u8]) -> Result<String, JsonbError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| JsonbError::Utf8)
}

fn array<'a>(items: impl Iterator<Item = std::io::Result<Jsonb<'a>>>) -> Result<Json, JsonbError> {
    items
        .map(|item| to_json(&item?))
        .collect::<Result<Vec<_>, _>>()
        .map(Json::Array)
}

fn object<'a>(
    entries: impl Iterator<Item = std::io::Result<(ObjectKey<'a>, Jsonb<'a>)>>,
) -> Result<Json, JsonbError> {
    let mut map = serde_json::Map::new();
    for entry in entries {
        let (key, value) = entry?;
        map.insert(utf8(key.value_raw())?, to_json(&value)?);
    }
    Ok(Json::Object(map))
}

fn opaque(o: &OpaqueValue<'_>) -> Json {
    let data = o.data_raw();
    let packed = || {
        data.get(..8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    };
    let text = match o.value_type() {
        ColumnType::MYSQL_TYPE_NEWDECIMAL => decimal(data),
        ColumnType::MYSQL_TYPE_DATE => packed().map(|p| match datetime_from_packed(p) {
            MyValue::Date(y, m, d, ..) => format!("{y:04}-{m:02}-{d:02}"),
            other => format!("{other:?}"),
        }),
        ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_TIMESTAMP => {
            packed().map(|p| match datetime_from_packed(p) {
                MyValue::Date(y, m, d, h, mi, s, us) => {
                    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
                }
                other => format!("{other:?}"),
            })
        }
        ColumnType::MYSQL_TYPE_TIME => packed().map(|p| match time_from_packed(p) {
            MyValue::Time(neg, days, h, m, s, us) => format!(
                "{}{:02}:{m:02}:{s:02}.{us:06}",
                if neg { "-" } else { "" },
                days * 24 + u32::from(h)
            ),
            other => format!("{other:?}"),
        }),
        _ => None,
    };
    match text {
        Some(t) => Json::String(t),
        None => Json::String(base64::engine::general_purpose::STANDARD.encode(data)),
    }
}

/// An opaque DECIMAL: precision byte, scale byte, then MySQL's binary decimal.
fn decimal(data: &[u8]) -> Option<String> {
    let (&precision, rest) = data.split_first()?;
    let (&scale, bin) = rest.split_first()?;
    if precision == 0 || scale > precision {
        return None;
    }
    Decimal::read_bin(bin, precision.into(), scale.into(), false)
        .ok()
        .map(|d| d.to_string())
}
