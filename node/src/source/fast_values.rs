//! Direct decoding of the most common column types from a row image: integers, floats,
//! character and binary strings, DECIMAL.
//!
//! Hand-written for the hot path: going through mysql_common's generic `BinlogValue` (and its
//! `Decimal` struct and `fmt` rendering) cost about a fifth of a decode run's CPU. The layouts
//! are MySQL's row-image formats; every other type still goes through mysql_common, and the
//! tests check these decoders against mysql_common's output.

use std::io;

use mysql_common::constants::ColumnType;
use sluice_core::Value;

use super::charset::TextDecoding;
use super::table_map::ColumnDecoder;

fn short() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "row image ends early")
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> io::Result<&'a [u8]> {
    if buf.len() < n {
        return Err(short());
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Decodes one non-NULL value of `col` from the front of `buf`, or `None` when the type is not
/// one this module handles (the caller then uses mysql_common).
pub fn read(col: &ColumnDecoder, buf: &mut &[u8]) -> Option<io::Result<Value>> {
    use ColumnType::*;
    let value = match col.column_type {
        MYSQL_TYPE_TINY => int(col, buf, 1),
        MYSQL_TYPE_SHORT => int(col, buf, 2),
        MYSQL_TYPE_INT24 => int(col, buf, 3),
        MYSQL_TYPE_LONG => int(col, buf, 4),
        MYSQL_TYPE_LONGLONG => int(col, buf, 8),
        MYSQL_TYPE_FLOAT => take(buf, 4).map(|b| Value::Float(f32::from_bits(le(b) as u32))),
        MYSQL_TYPE_DOUBLE => take(buf, 8).map(|b| Value::Double(f64::from_bits(le(b)))),
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING => {
            let max = usize::from(col.meta[0]) | (usize::from(col.meta[1]) << 8);
            prefixed(buf, if max < 256 { 1 } else { 2 }).map(|b| col.text.decode(b.to_vec()))
        }
        MYSQL_TYPE_BLOB | MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB => {
            match col.meta[0] {
                n @ 1..=4 => prefixed(buf, usize::from(n)).map(|b| col.text.decode(b.to_vec())),
                _ => Err(io::Error::new(io::ErrorKind::InvalidData, "Unknown BLOB")),
            }
        }
        MYSQL_TYPE_STRING => {
            let len = super::value_convert::string_length(&col.meta);
            prefixed(buf, if len < 256 { 1 } else { 2 }).map(|b| {
                if col.text == TextDecoding::Binary {
                    // The binlog drops BINARY(n)'s trailing 0x00 padding; the value has it.
                    let mut bytes = b.to_vec();
                    if bytes.len() < len {
                        bytes.resize(len, 0);
                    }
                    Value::Bytes(bytes)
                } else {
                    col.text.decode(b.to_vec())
                }
            })
        }
        MYSQL_TYPE_NEWDECIMAL => decimal(buf, col.meta[0], col.meta[1]).map(Value::Decimal),
        _ => return None,
    };
    Some(value)
}

fn prefixed<'a>(buf: &mut &'a [u8], width: usize) -> io::Result<&'a [u8]> {
    let len = le(take(buf, width)?) as usize;
    take(buf, len)
}

fn int(col: &ColumnDecoder, buf: &mut &[u8], width: usize) -> io::Result<Value> {
    let raw = le(take(buf, width)?);
    Ok(if col.unsigned == Some(true) {
        Value::UInt(raw)
    } else {
        // Sign-extend from the column's width.
        let shift = 64 - 8 * width as u32;
        Value::Int(((raw << shift) as i64) >> shift)
    })
}

/// Bytes used by a group of 0-9 decimal digits in MySQL's binary DECIMAL.
const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/// MySQL's binary DECIMAL (`decimal2bin`) to its exact text: integer digits in groups of nine
/// (a shorter group first), then the fraction's groups (a shorter group last), big-endian, the
/// sign in the inverted top bit, negative values with every byte inverted.
pub fn decimal(buf: &mut &[u8], precision: u8, scale: u8) -> io::Result<String> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad DECIMAL precision or scale");
    if scale > precision || precision > 65 || precision == 0 {
        return Err(bad());
    }
    let intg = usize::from(precision - scale);
    let (intg0, intg0x) = (intg / 9, intg % 9);
    let frac = usize::from(scale);
    let (frac0, frac0x) = (frac / 9, frac % 9);
    let size = intg0 * 4 + DIG2BYTES[intg0x] + frac0 * 4 + DIG2BYTES[frac0x];
    let raw = take(buf, size)?;
    if raw.is_empty() {
        return Err(bad());
    }
    let negative = raw[0] & 0x80 == 0;
    let mask = if negative { 0xff } else { 0x00 };
    let mut bytes = [0u8; 32];
    for (i, b) in raw.iter().enumerate() {
        bytes[i] = b ^ mask;
    }
    bytes[0] ^= 0x80;
    let mut at = 0;
    let mut group = |n: usize| {
        let v = bytes[at..at + n]
            .iter()
            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        at += n;
        v
    };

    let mut out = String::with_capacity(precision as usize + 3);
    if negative {
        out.push('-');
    }
    let mut int_digits = String::with_capacity(intg + 1);
    if intg0x > 0 {
        int_digits.push_str(&group(DIG2BYTES[intg0x]).to_string());
    }
    for _ in 0..intg0 {
        int_digits.push_str(&format!("{:09}", group(4)));
    }
    let trimmed = int_digits.trim_start_matches('0');
    out.push_str(if trimmed.is_empty() { "0" } else { trimmed });
    if frac > 0 {
        out.push('.');
        for _ in 0..frac0 {
            out.push_str(&format!("{:09}", group(4)));
        }
        if frac0x > 0 {
            out.push_str(&format!(
                "{:0width$}",
                group(DIG2BYTES[frac0x]),
                width = frac0x
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::binlog::decimal::Decimal;

    /// A tiny deterministic generator (no rand crate).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
    }

    #[test]
    fn decimal_matches_mysql_common_on_random_values() {
        let mut rng = Lcg(7);
        let mut compared = 0;
        for _ in 0..20_000 {
            let precision = (rng.next() % 65 + 1) as u8;
            let scale = (rng.next() % (u64::from(precision).min(30) + 1)) as u8;
            let intg = usize::from(precision - scale);
            let frac = usize::from(scale);
            let size = intg / 9 * 4 + DIG2BYTES[intg % 9] + frac / 9 * 4 + DIG2BYTES[frac % 9];
            // Build a valid value as text; mysql_common encodes it, and decodes it as reference.
            let mut digit = || char::from(b'0' + (rng.next() % 10) as u8);
            let int_part: String = (0..intg).map(|_| digit()).collect();
            let frac_part: String = (0..frac).map(|_| digit()).collect();
            let int_part = match int_part.trim_start_matches('0') {
                "" => "0",
                t => t,
            };
            let sign = if rng.next().is_multiple_of(2) {
                "-"
            } else {
                ""
            };
            let text = if frac == 0 {
                format!("{sign}{int_part}")
            } else {
                format!("{sign}{int_part}.{frac_part}")
            };
            let dec: Decimal = match text.parse() {
                Ok(d) => d,
                Err(_) => continue,
            };
            let mut bin = Vec::new();
            dec.write_bin(&mut bin).unwrap();
            if bin.len() != size {
                continue;
            }
            let expected = Decimal::read_bin(&bin[..], precision.into(), scale.into(), false)
                .unwrap()
                .to_string();
            let got = decimal(&mut &bin[..], precision, scale).unwrap();
            assert_eq!(got, expected, "p={precision} s={scale} text={text}");
            compared += 1;
        }
        assert!(compared > 15_000, "only {compared} values compared");
    }

    #[test]
    fn decimal_edges() {
        // DECIMAL(5,2) 123.45: integer group of 3 digits in 2 bytes, fraction 2 digits in 1.
        let mut b: &[u8] = &[0x80, 0x7b, 0x2d];
        assert_eq!(decimal(&mut b, 5, 2).unwrap(), "123.45");
        // -123.45: every byte inverted.
        let mut b: &[u8] = &[0x7f, 0x84, 0xd2];
        assert_eq!(decimal(&mut b, 5, 2).unwrap(), "-123.45");
        assert!(decimal(&mut &[0x80][..], 5, 2).is_err());
        assert!(decimal(&mut &[0x80; 40][..], 70, 2).is_err());
    }
}
