//! Row images of a rows event, decoded column by column.
//!
//! `mysql_common` decodes each value (`BinlogValue`), but its row iterator rebuilds column
//! descriptions and re-reads the optional metadata for every row; Sluice walks the row images
//! itself (bitmaps and value order, as the MySQL binlog format defines them) with a
//! `TableDecoder` built once per TABLE_MAP, which keeps the hot path allocation-light.

use mysql_common::binlog::events::RowsEventData;
use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType;
use mysql_common::io::ParseBuf;
use mysql_common::proto::MyDeserialize;
use sluice_core::event::RowImage;
use sluice_core::value::{Date, DateTime, JsonChange};
use sluice_core::Value;

use super::fast_values;
use super::json_diff;
use super::lenenc;
use super::table_map::TableDecoder;
use super::value_convert::{convert, ValueError};

/// Why a row image could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("rows event has {event} columns but its TABLE_MAP has {table}")]
    ColumnCount { event: usize, table: usize },
    #[error("row image is truncated or malformed: {0}")]
    Malformed(std::io::Error),
    #[error("column {column} (`{name}`): {source}")]
    Value {
        column: usize,
        name: String,
        source: ValueError,
    },
}

/// Decodes every row of `event`, calling `row(before, after)` for each in order.
pub fn decode_rows(
    event: &RowsEventData<'_>,
    table: &TableDecoder,
    partial_json: bool,
    mut row: impl FnMut(Option<RowImage>, Option<RowImage>),
) -> Result<(), RowError> {
    let count = event.num_columns() as usize;
    if count != table.columns.len() {
        return Err(RowError::ColumnCount {
            event: count,
            table: table.columns.len(),
        });
    }
    let before_cols: Option<Vec<bool>> = event
        .columns_before_image()
        .map(|b| b.iter().by_vals().collect());
    let after_cols: Option<Vec<bool>> = event
        .columns_after_image()
        .map(|b| b.iter().by_vals().collect());

    let mut buf = ParseBuf(event.rows_data());
    while !buf.is_empty() {
        let left = buf.len();
        let before = match &before_cols {
            Some(cols) => Some(read_image(&mut buf, table, cols, false, None)?),
            None => None,
        };
        let after = match &after_cols {
            Some(cols) => Some(read_image(
                &mut buf,
                table,
                cols,
                partial_json,
                before.as_ref(),
            )?),
            None => None,
        };
        if buf.len() == left {
            // Images of no columns take no bytes: such data would repeat the same row forever.
            return Err(RowError::Malformed(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the rows event selects no columns, yet has row data",
            )));
        }
        row(before, after);
    }
    Ok(())
}

fn read_image<'a>(
    buf: &mut ParseBuf<'a>,
    table: &'a TableDecoder,
    cols: &[bool],
    shared_image: bool,
    before: Option<&RowImage>,
) -> Result<RowImage, RowError> {
    let malformed = RowError::Malformed;
    // A partial update's after image starts with the value options and, when partial JSON is
    // on, a bitmap of which JSON columns hold a diff instead of a document.
    let mut partial_json_cols: Option<Vec<bool>> = None;
    if shared_image {
        let options = read_lenenc(buf).map_err(malformed)?;
        if options & 1 != 0 {
            let len = table.json_columns.div_ceil(8);
            let bytes = take(buf, len).map_err(malformed)?;
            partial_json_cols = Some(
                (0..table.json_columns)
                    .map(|i| bytes[i / 8] & (1 << (i % 8)) != 0)
                    .collect(),
            );
        }
    }

    let present = cols.iter().filter(|&&c| c).count();
    let null_bitmap = take(buf, present.div_ceil(8)).map_err(malformed)?;
    let mut values = Vec::with_capacity(cols.len());
    let mut image_i = 0;
    let mut json_i = 0;
    for (index, column) in table.columns.iter().enumerate() {
        let is_json = column.column_type == ColumnType::MYSQL_TYPE_JSON;
        let is_partial = is_json
            && partial_json_cols
                .as_ref()
                .and_then(|p| p.get(json_i).copied())
                .unwrap_or(false);
        if is_json {
            json_i += 1;
        }
        if !cols[index] {
            values.push(None);
            continue;
        }
        let is_null = null_bitmap[image_i / 8] & (1 << (image_i % 8)) != 0;
        image_i += 1;
        if is_null {
            values.push(Some(Value::Null));
            continue;
        }
        let ctx = (
            column.column_type,
            column.meta.as_slice(),
            column.unsigned.unwrap_or(false),
            is_partial,
        );
        let fast = if is_partial {
            None
        } else {
            fast_values::read(column, &mut buf.0)
        };
        let mut value = if let Some(v) = fast {
            v.map_err(malformed)?
        } else if column.column_type == ColumnType::MYSQL_TYPE_DATETIME2 {
            // Read here: mysql_common's packed-integer route overflows on corrupt bytes.
            datetime2(buf, column.meta.first().copied().unwrap_or(0)).map_err(malformed)?
        } else {
            let raw = BinlogValue::deserialize(ctx, buf).map_err(malformed)?;
            convert(column, raw).map_err(|source| RowError::Value {
                column: index,
                name: table.schema.columns[index].name.clone(),
                source,
            })?
        };
        if let Value::JsonDiff(changes) = &value {
            if let Some(doc) = apply_to_before(before, index, changes) {
                value = Value::Json(doc);
            }
        }
        values.push(Some(value));
    }
    Ok(RowImage(values))
}

/// The after document of a partial JSON update, when the before image has the whole document.
fn apply_to_before(
    before: Option<&RowImage>,
    index: usize,
    changes: &[JsonChange],
) -> Option<serde_json::Value> {
    let Some(Value::Json(doc)) = before?.get(index) else {
        return None;
    };
    let mut doc = doc.clone();
    json_diff::apply(&mut doc, changes).then_some(doc)
}

/// A DATETIME2 value: 5 bytes big-endian (sign bit, year*13+month in 17 bits, day, hour,
/// minute, second), then the fraction in (fsp+1)/2 bytes.
fn datetime2(buf: &mut ParseBuf<'_>, fsp: u8) -> std::io::Result<Value> {
    let int = take(buf, 5)?
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    // The sign bit is set for every value a server writes (DATETIME cannot be negative).
    let Some(ymdhms) = int.checked_sub(0x80_0000_0000) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "negative DATETIME",
        ));
    };
    let fsp = fsp.min(6);
    let frac_bytes = usize::from(fsp).div_ceil(2);
    let frac = take(buf, frac_bytes)?
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    let micros = match frac_bytes {
        1 => frac * 10_000,
        2 => frac * 100,
        _ => frac,
    };
    let ymd = ymdhms >> 17;
    let ym = ymd >> 5;
    let hms = ymdhms & 0x1_ffff;
    Ok(Value::DateTime(DateTime {
        date: Date {
            year: (ym / 13) as u16,
            month: (ym % 13) as u8,
            day: (ymd & 0x1f) as u8,
        },
        hour: (hms >> 12) as u8,
        minute: ((hms >> 6) & 0x3f) as u8,
        second: (hms & 0x3f) as u8,
        micros,
        fsp,
    }))
}

fn take<'a>(buf: &mut ParseBuf<'a>, n: usize) -> std::io::Result<&'a [u8]> {
    buf.checked_eat(n).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "row image ends early")
    })
}

/// A MySQL length-encoded integer.
fn read_lenenc(buf: &mut ParseBuf<'_>) -> std::io::Result<u64> {
    lenenc::read(&mut buf.0).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "bad or truncated length-encoded integer",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime2_decodes_and_refuses_negative_values() {
        // 2024-02-29 23:59:58.123456: year*13+month = 26314, packed as the server does.
        let ym: u64 = 2024 * 13 + 2;
        let int = 0x80_0000_0000u64 | (((ym << 5) | 29) << 17) | (23 << 12) | (59 << 6) | 58;
        let mut bytes = int.to_be_bytes()[3..].to_vec();
        bytes.extend(&123_456u32.to_be_bytes()[1..]);
        let value = datetime2(&mut ParseBuf(&bytes), 6).unwrap();
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            "\"2024-02-29 23:59:58.123456\""
        );
        // All-zero bytes would be i64::MIN once packed: an error, never an overflow panic.
        assert!(datetime2(&mut ParseBuf(&[0; 5]), 0).is_err());
        assert!(datetime2(&mut ParseBuf(&[0x80, 0, 0]), 0).is_err());
    }
}
