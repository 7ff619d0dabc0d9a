//! The header of a TRANSACTION_PAYLOAD event (MySQL 8.0.20+ binlog transaction compression).
//!
//! Hand-written: mysql_common's parser of this event panics on corrupt data (it slices past the
//! end skipping unknown fields and unwraps the compression type; found by fuzzing). The format
//! is a list of (type, length, value) fields, each a length-encoded integer, ended by type 0,
//! followed by the payload; only the payload's decompression is left to mysql_common.

use mysql_common::binlog::events::TransactionPayloadReader;

use super::lenenc;

/// The compression of a payload, as the event names it.
const ZSTD: u64 = 0;
const NONE: u64 = 255;

/// What the header says, and the payload it describes.
#[derive(Debug, PartialEq, Eq)]
pub struct Payload<'a> {
    pub compression: u64,
    pub uncompressed_size: u64,
    pub data: &'a [u8],
}

/// Parses the event data of a TRANSACTION_PAYLOAD event.
pub fn parse(mut buf: &[u8]) -> Result<Payload<'_>, String> {
    let short = || "the payload header ends early".to_string();
    let (mut size, mut compression, mut uncompressed_size) = (None, None, 0);
    loop {
        let field = lenenc::read(&mut buf).ok_or_else(short)?;
        if field == 0 {
            break;
        }
        let len = lenenc::read(&mut buf).ok_or_else(short)?;
        let len = usize::try_from(len).map_err(|_| short())?;
        let mut value = buf.get(..len).ok_or_else(short)?;
        buf = &buf[len..];
        match field {
            1 => size = Some(lenenc::read(&mut value).ok_or_else(short)?),
            2 => compression = Some(lenenc::read(&mut value).ok_or_else(short)?),
            3 => uncompressed_size = lenenc::read(&mut value).ok_or_else(short)?,
            _ => {} // a field from a newer server: its length lets it be skipped
        }
    }
    let size = size.ok_or("the payload header has no payload size")?;
    let compression = compression.ok_or("the payload header has no compression type")?;
    let data = usize::try_from(size)
        .ok()
        .and_then(|size| buf.get(..size))
        .ok_or_else(|| {
            format!(
                "the payload header declares {size} bytes, but {} follow",
                buf.len()
            )
        })?;
    Ok(Payload {
        compression,
        uncompressed_size,
        data,
    })
}

impl<'a> Payload<'a> {
    /// A reader of the payload's events, decompressed.
    pub fn reader(&self) -> Result<TransactionPayloadReader<'a>, String> {
        match self.compression {
            ZSTD => TransactionPayloadReader::new_zstd(self.data).map_err(|e| e.to_string()),
            NONE => Ok(TransactionPayloadReader::new_uncompressed(self.data)),
            other => Err(format!("unknown payload compression type {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_in_any_order_and_skips_unknown_ones() {
        let data = [
            2, 1, 0, 9, 2, 7, 7, 3, 1, 50, 1, 1, 3, 0, b'a', b'b', b'c', b'x',
        ];
        let p = parse(&data).unwrap();
        assert_eq!(
            p,
            Payload {
                compression: ZSTD,
                uncompressed_size: 50,
                data: b"abc"
            }
        );
    }

    #[test]
    fn corrupt_headers_are_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[9, 200, 1]).is_err()); // unknown field longer than the data
        assert!(parse(&[2, 1, 0, 0]).is_err()); // no size
        assert!(parse(&[1, 1, 9, 2, 1, 0, 0, 1])
            .unwrap_err()
            .contains("declares 9 bytes"));
        let p = parse(&[1, 1, 0, 2, 1, 77, 0]).unwrap();
        assert!(p.reader().unwrap_err().contains("compression type 77"));
    }
}
