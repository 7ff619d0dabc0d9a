//! Small JSON writers shared by the message encoders: strings (escaped as serde_json escapes),
//! bytes as ISO-8859-1 text or base64, integers, and object keys.
//!
//! The encoders write JSON by hand into the caller's buffer, like `sluice_core::json`, so a
//! message costs no intermediate tree and no allocation beyond the buffer itself.

use base64::Engine as _;

/// `s` as a JSON string (core's escaper: exactly what serde_json escapes).
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    sluice_core::json::write_str(out, s);
}

/// The escaped inside of a JSON string for UTF-8 `bytes`.
pub(crate) fn write_str_body(out: &mut Vec<u8>, bytes: &[u8]) {
    sluice_core::json::write_escaped(out, bytes);
}

/// Raw bytes as a JSON string of one character per byte (byte `b` is U+00`b`): Java's
/// `new String(bytes, ISO_8859_1)`, which is how Canal carries binary column values. Lossless:
/// `getBytes(ISO_8859_1)` on the parsed string gives the bytes back.
pub(crate) fn write_latin1(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    for &byte in bytes {
        if byte >= 0x80 {
            // U+0080..U+00FF in UTF-8.
            out.extend_from_slice(&[0xc0 | (byte >> 6), 0x80 | (byte & 0x3f)]);
        } else {
            write_str_body(out, &[byte]);
        }
    }
    out.push(b'"');
}

/// Bytes as a base64 JSON string (standard alphabet, padded), which never needs escaping.
pub(crate) fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    // 4/3 of an in-memory slice's length cannot overflow usize.
    let len = base64::encoded_len(bytes.len(), true).expect("base64 length overflows usize");
    out.resize(start + len, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .expect("the buffer is encoded_len long");
    debug_assert_eq!(written, len);
    out.push(b'"');
}

pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// `"name":`, with a leading comma unless `first`.
pub(crate) fn write_key(out: &mut Vec<u8>, name: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    write_str(out, name);
    out.push(b':');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_as_serde_json() {
        for s in [
            "",
            "plain",
            "\"q\" \\ /",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
            "café € 漢字 😀",
        ] {
            assert_eq!(text(|o| write_str(o, s)), serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn latin1_maps_each_byte_to_one_char() {
        let bytes: Vec<u8> = (0..=255).collect();
        let json = text(|o| write_latin1(o, &bytes));
        let back: String = serde_json::from_str(&json).unwrap();
        let chars: Vec<u32> = back.chars().map(u32::from).collect();
        assert_eq!(chars, (0..=255).collect::<Vec<u32>>());
    }

    #[test]
    fn base64_and_integers() {
        assert_eq!(text(|o| write_base64(o, &[0, 255])), "\"AP8=\"");
        assert_eq!(text(|o| write_base64(o, &[])), "\"\"");
        assert_eq!(text(|o| write_u64(o, u64::MAX)), "18446744073709551615");
        assert_eq!(text(|o| write_i64(o, i64::MIN)), "-9223372036854775808");
        assert_eq!(
            text(|o| {
                write_key(o, "a", true);
                write_key(o, "b\"", false)
            }),
            "\"a\":,\"b\\\"\":"
        );
    }
}
