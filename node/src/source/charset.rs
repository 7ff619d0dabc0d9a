//! Decoding of character columns by their own charset.
//!
//! The binlog carries a collation id per character column (with FULL row metadata) or the
//! schema names the charset (information_schema). Text is decoded strictly: bytes that are not
//! valid in the column's charset are kept as bytes (`Value::UndecodedText`) rather than replaced
//! or guessed at, because a silently garbled string is the bug CDC users report most.

use std::borrow::Cow;

use encoding_rs::Encoding;
use mysql_common::collations::{Collation, CollationId};
use sluice_core::Value;

/// How a column's bytes become text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextDecoding {
    /// UTF-8 (utf8mb3, utf8mb4, ascii): validated, no copy beyond the String.
    Utf8,
    /// A charset `encoding_rs` decodes (latin1 is MySQL's cp1252, GBK, Big5, Shift_JIS, ...).
    Encoding(&'static Encoding),
    /// UTF-32 big-endian, which `encoding_rs` does not cover.
    Utf32,
    /// The binary charset: these are bytes, not text.
    Binary,
    /// A charset Sluice cannot decode, or none is known: bytes are kept with this name.
    Unknown(String),
}

impl TextDecoding {
    /// The decoding for a MySQL/MariaDB charset name (`utf8mb4`, `latin1`, ...).
    pub fn for_charset(name: &str) -> TextDecoding {
        let enc = match name.to_ascii_lowercase().as_str() {
            "utf8mb4" | "utf8mb3" | "utf8" | "ascii" => return TextDecoding::Utf8,
            "binary" => return TextDecoding::Binary,
            "utf32" => return TextDecoding::Utf32,
            // MySQL's latin1 is Windows-1252, not ISO-8859-1 (0x80 is the euro sign).
            "latin1" => encoding_rs::WINDOWS_1252,
            "latin2" => encoding_rs::ISO_8859_2,
            "latin5" => encoding_rs::WINDOWS_1254,
            "latin7" => encoding_rs::ISO_8859_13,
            "cp1250" => encoding_rs::WINDOWS_1250,
            "cp1251" => encoding_rs::WINDOWS_1251,
            "cp1256" => encoding_rs::WINDOWS_1256,
            "cp1257" => encoding_rs::WINDOWS_1257,
            "cp866" => encoding_rs::IBM866,
            "koi8r" => encoding_rs::KOI8_R,
            "koi8u" => encoding_rs::KOI8_U,
            "greek" => encoding_rs::ISO_8859_7,
            "hebrew" => encoding_rs::ISO_8859_8,
            "macroman" => encoding_rs::MACINTOSH,
            "tis620" => encoding_rs::WINDOWS_874,
            "gbk" | "gb2312" => encoding_rs::GBK,
            "gb18030" => encoding_rs::GB18030,
            "big5" => encoding_rs::BIG5,
            "sjis" | "cp932" => encoding_rs::SHIFT_JIS,
            "ujis" | "eucjpms" => encoding_rs::EUC_JP,
            "euckr" => encoding_rs::EUC_KR,
            "utf16" | "ucs2" => encoding_rs::UTF_16BE,
            "utf16le" => encoding_rs::UTF_16LE,
            other => return TextDecoding::Unknown(other.to_string()),
        };
        TextDecoding::Encoding(enc)
    }

    /// The decoding for a collation id as the binlog's row metadata gives it.
    pub fn for_collation(id: u16) -> TextDecoding {
        match CollationId::from(id) {
            CollationId::UNKNOWN_COLLATION_ID => {
                // MariaDB 10.10+ numbers its UCA-14.0 collations from 2048 up; the charset is
                // encoded in the id's low bits, in an order only MariaDB knows: keep bytes.
                TextDecoding::Unknown(format!("collation {id}"))
            }
            known => TextDecoding::for_charset(Collation::from(known).charset()),
        }
    }

    /// Turns a column's bytes into a value.
    pub fn decode(&self, bytes: Vec<u8>) -> Value {
        match self {
            TextDecoding::Utf8 => match String::from_utf8(bytes) {
                Ok(s) => Value::Text(s),
                Err(e) => undecoded("utf8mb4", e.into_bytes()),
            },
            TextDecoding::Encoding(enc) => {
                match enc.decode_without_bom_handling_and_without_replacement(&bytes) {
                    // Borrowed: the bytes are already the UTF-8 text (ASCII in a single-byte
                    // charset, the common case), so they become the string without a copy.
                    Some(Cow::Borrowed(_)) => match String::from_utf8(bytes) {
                        Ok(text) => Value::Text(text),
                        Err(e) => undecoded(enc.name(), e.into_bytes()),
                    },
                    Some(Cow::Owned(text)) => Value::Text(text),
                    None => undecoded(enc.name(), bytes),
                }
            }
            TextDecoding::Utf32 => match decode_utf32(&bytes) {
                Some(s) => Value::Text(s),
                None => undecoded("utf32", bytes),
            },
            TextDecoding::Binary => Value::Bytes(bytes),
            TextDecoding::Unknown(name) => undecoded(name, bytes),
        }
    }
}

fn undecoded(charset: &str, bytes: Vec<u8>) -> Value {
    Value::UndecodedText {
        charset: charset.to_string(),
        bytes,
    }
}

fn decode_utf32(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    bytes
        .chunks_exact(4)
        .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_is_windows_1252() {
        let d = TextDecoding::for_charset("latin1");
        assert_eq!(d.decode(vec![0x80, b'a', 0xe9]), Value::Text("€aé".into()));
    }

    #[test]
    fn invalid_utf8_is_kept_as_bytes() {
        let d = TextDecoding::for_collation(45); // utf8mb4_general_ci
        assert_eq!(
            d.decode(vec![0xff, 0x00]),
            Value::UndecodedText {
                charset: "utf8mb4".into(),
                bytes: vec![0xff, 0x00]
            }
        );
    }

    #[test]
    fn collations_map_to_their_charsets() {
        assert_eq!(TextDecoding::for_collation(63), TextDecoding::Binary);
        assert_eq!(TextDecoding::for_collation(33), TextDecoding::Utf8); // utf8mb3_general_ci
        assert_eq!(
            TextDecoding::for_collation(28).decode(vec![0xc4, 0xe3]), // gbk_chinese_ci
            Value::Text("你".into())
        );
        assert!(matches!(
            TextDecoding::for_collation(2300),
            TextDecoding::Unknown(_)
        ));
    }

    #[test]
    fn utf32_decodes_big_endian_code_points() {
        let d = TextDecoding::for_charset("utf32");
        assert_eq!(
            d.decode(vec![0, 1, 0xf6, 0x00]),
            Value::Text("\u{1f600}".into())
        );
    }
}
