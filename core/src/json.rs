//! Sluice's JSON form of events (`docs/event-format.md`), written by hand.
//!
//! Why by hand: encoding is the hot path of `sluice dump` and of the file sink. A CPU profile of
//! `sluice dump` over 200k 12-column row events put about 40% of the process in serde_json's
//! generic path: string escaping (13%), map keys, that is the column names escaped again for every
//! row (12%), `core::fmt` for the temporal values (6%) and the allocations behind them, the `pk`
//! list and the GTID string (malloc/free 12%). This module writes the same bytes without any of
//! that: the text a table repeats in every row is rendered once, when its [`TableSchema`] is
//! built; digits are written directly; escaping copies clean runs whole, testing eight bytes at a
//! time; nothing is allocated apart from growing the output. The `encode_speed` test below
//! measured about 2000 ns per such row event through serde_json and 525 ns here.
//!
//! The serde `Serialize` impls of [`Event`] and [`Value`] remain the reference definition of the
//! form, and the tests below check this encoder against them byte for byte: a change to the form
//! is made in both places.
//!
//! [`TableSchema`]: crate::TableSchema

use base64::Engine as _;

use crate::event::{Event, EventKind, EventPosition, RowImage, TableSchemaFields};
use crate::position::{BinlogPosition, Gtid};
use crate::value::{
    civil_from_days, Date, DateTime, EnumValue, JsonChange, SetValue, Time, Timestamp, Value,
};

/// Appends `event` in Sluice's JSON form to `out`: exactly the bytes `serde_json::to_vec(event)`
/// gives, without a trailing newline.
pub fn write_event(out: &mut Vec<u8>, event: &Event) {
    match &event.kind {
        EventKind::Begin => out.extend_from_slice(br#"{"op":"begin""#),
        EventKind::Row(row) => {
            let json = row.table.json();
            out.extend_from_slice(br#"{"op":""#);
            out.extend_from_slice(row.op.code().as_bytes());
            out.push(b'"');
            out.extend_from_slice(&json.head);
            write_image(out, json, row.before.as_ref());
            out.extend_from_slice(br#","after":"#);
            write_image(out, json, row.after.as_ref());
        }
        EventKind::Commit { xid, next } => {
            out.extend_from_slice(br#"{"op":"commit""#);
            if let Some(xid) = xid {
                out.extend_from_slice(br#","xid":"#);
                write_u64(out, *xid);
            }
            out.extend_from_slice(br#","next":"#);
            write_binlog_position(out, next);
        }
        EventKind::Incident { message } => {
            out.extend_from_slice(br#"{"op":"incident","message":"#);
            write_str(out, message);
        }
        EventKind::Ddl {
            database,
            sql,
            next,
        } => {
            out.extend_from_slice(br#"{"op":"ddl","db":"#);
            write_str(out, database);
            out.extend_from_slice(br#","sql":"#);
            write_str(out, sql);
            out.extend_from_slice(br#","next":"#);
            write_binlog_position(out, next);
        }
    }
    out.extend_from_slice(br#","source":"#);
    write_source(out, &event.position);
    out.push(b'}');
}

/// Appends one value in its JSON form: exactly the bytes `serde_json::to_vec(value)` gives.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Int(v) => write_i64(out, *v),
        Value::UInt(v) | Value::Bit(v) | Value::Set(SetValue::Bits(v)) => write_u64(out, *v),
        Value::Year(v) | Value::Enum(EnumValue::Index(v)) => write_u64(out, u64::from(*v)),
        Value::Float(v) => write_f32(out, *v),
        Value::Double(v) => write_f64(out, *v),
        Value::Decimal(s) | Value::Text(s) | Value::Enum(EnumValue::Name(s)) => write_str(out, s),
        Value::Date(d) => {
            out.push(b'"');
            write_date(out, d);
            out.push(b'"');
        }
        Value::Time(t) => write_time(out, t),
        Value::DateTime(dt) => write_datetime(out, dt),
        Value::Timestamp(ts) => write_timestamp(out, ts),
        Value::Bytes(bytes) => write_base64(out, bytes),
        Value::UndecodedText { charset, bytes } => {
            out.extend_from_slice(br#"{"charset":"#);
            write_str(out, charset);
            out.extend_from_slice(br#","base64":"#);
            write_base64(out, bytes);
            out.push(b'}');
        }
        Value::Set(SetValue::Names(names)) => {
            out.push(b'[');
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, name);
            }
            out.push(b']');
        }
        Value::Json(doc) => write_json(out, doc),
        Value::JsonDiff(changes) => {
            out.extend_from_slice(br#"{"json_diff":["#);
            for (i, change) in changes.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_change(out, change);
            }
            out.extend_from_slice(b"]}");
        }
        Value::Geometry { srid, wkb } => {
            out.extend_from_slice(br#"{"srid":"#);
            write_u64(out, u64::from(*srid));
            out.extend_from_slice(br#","wkb":"#);
            write_base64(out, wkb);
            out.push(b'}');
        }
        Value::Vector(v) => {
            out.push(b'[');
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_f32(out, *x);
            }
            out.push(b']');
        }
    }
}

/// The JSON text every row event of one table repeats, rendered once by `TableSchema::new`
/// from the same fields it keeps, so the two cannot disagree.
#[derive(Clone)]
pub(crate) struct TableJson {
    /// What a row event writes between its op code and its before image:
    /// `,"db":"shop","table":"orders","pk":["id"],"before":`.
    head: Box<[u8]>,
    /// Each column's key with a leading comma (`,"id":`), back to back.
    keys: Box<[u8]>,
    /// `keys[key_ends[i - 1]..key_ends[i]]` is column `i`'s key (from 0 for the first).
    key_ends: Box<[usize]>,
}

impl TableJson {
    pub(crate) fn new(fields: &TableSchemaFields) -> TableJson {
        let mut head = Vec::new();
        head.extend_from_slice(br#","db":"#);
        write_str(&mut head, &fields.database);
        head.extend_from_slice(br#","table":"#);
        write_str(&mut head, &fields.table);
        head.extend_from_slice(br#","pk":["#);
        for (i, name) in fields.primary_key_names().enumerate() {
            if i > 0 {
                head.push(b',');
            }
            write_str(&mut head, name);
        }
        head.extend_from_slice(br#"],"before":"#);

        let mut keys = Vec::new();
        let mut key_ends = Vec::with_capacity(fields.columns.len());
        for column in &fields.columns {
            keys.push(b',');
            write_str(&mut keys, &column.name);
            keys.push(b':');
            key_ends.push(keys.len());
        }
        TableJson {
            head: head.into(),
            keys: keys.into(),
            key_ends: key_ends.into(),
        }
    }

    /// Each column's key, `,"name":`, in column order.
    fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.key_ends.iter().scan(0, |start, &end| {
            let key = &self.keys[*start..end];
            *start = end;
            Some(key)
        })
    }
}

/// A row image as an object in column order, skipping columns absent from it; `null` for none.
fn write_image(out: &mut Vec<u8>, json: &TableJson, image: Option<&RowImage>) {
    let Some(image) = image else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'{');
    // The first key written goes without its leading comma.
    let mut skip = 1;
    for (key, value) in json.keys().zip(&image.0) {
        if let Some(value) = value {
            out.extend_from_slice(&key[skip..]);
            skip = 0;
            write_value(out, value);
        }
    }
    out.push(b'}');
}

fn write_source(out: &mut Vec<u8>, p: &EventPosition) {
    out.extend_from_slice(br#"{"server_id":"#);
    write_u64(out, u64::from(p.server_id));
    out.extend_from_slice(br#","file":"#);
    write_str(out, &p.file);
    out.extend_from_slice(br#","pos":"#);
    write_u64(out, p.pos);
    if let Some(gtid) = &p.gtid {
        out.extend_from_slice(br#","gtid":""#);
        write_gtid(out, gtid);
        out.push(b'"');
    }
    out.extend_from_slice(br#","row":"#);
    write_u64(out, u64::from(p.row));
    out.extend_from_slice(br#","ts_ms":"#);
    write_u64(out, p.ts_ms);
    out.push(b'}');
}

/// `"FILE:POS"`, as `BinlogPosition`'s `Display`.
fn write_binlog_position(out: &mut Vec<u8>, p: &BinlogPosition) {
    out.push(b'"');
    write_escaped(out, p.file.as_bytes());
    out.push(b':');
    write_u64(out, p.pos);
    out.push(b'"');
}

/// A GTID's text as its `Display` writes it, escaped (inside the quotes).
fn write_gtid(out: &mut Vec<u8>, gtid: &Gtid) {
    match gtid {
        Gtid::Mysql(g) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            for (i, byte) in g.uuid.0.iter().enumerate() {
                if matches!(i, 4 | 6 | 8 | 10) {
                    out.push(b'-');
                }
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            }
            if let Some(tag) = &g.tag {
                out.push(b':');
                // Valid tags need no escaping, but the field is public and may hold anything.
                write_escaped(out, tag.as_bytes());
            }
            out.push(b':');
            write_u64(out, g.gno);
        }
        Gtid::Mariadb(g) => {
            write_u64(out, u64::from(g.domain_id));
            out.push(b'-');
            write_u64(out, u64::from(g.server_id));
            out.push(b'-');
            write_u64(out, g.seq_no);
        }
    }
}

fn write_json_change(out: &mut Vec<u8>, change: &JsonChange) {
    out.extend_from_slice(br#"{"op":"#);
    write_str(out, change.op);
    out.extend_from_slice(br#","path":"#);
    write_str(out, &change.path);
    if let Some(value) = &change.value {
        out.extend_from_slice(br#","value":"#);
        write_json(out, value);
    }
    out.push(b'}');
}

/// A JSON document as serde_json writes it (compact, object members in the map's order).
fn write_json(out: &mut Vec<u8>, doc: &serde_json::Value) {
    match doc {
        serde_json::Value::Null => out.extend_from_slice(b"null"),
        serde_json::Value::Bool(true) => out.extend_from_slice(b"true"),
        serde_json::Value::Bool(false) => out.extend_from_slice(b"false"),
        serde_json::Value::Number(n) => {
            // serde_json writes its three number kinds with itoa and zmij, as here (a float in a
            // `Number` is always finite). Its `arbitrary_precision` feature, off in this
            // workspace, would keep numbers as text instead; the equivalence tests would notice.
            if let Some(u) = n.as_u64() {
                write_u64(out, u);
            } else if let Some(i) = n.as_i64() {
                write_i64(out, i);
            } else if let Some(f) = n.as_f64() {
                write_f64(out, f);
            }
        }
        serde_json::Value::String(s) => write_str(out, s),
        serde_json::Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, item);
            }
            out.push(b']');
        }
        serde_json::Value::Object(members) => {
            out.push(b'{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_json(out, value);
            }
            out.push(b'}');
        }
    }
}

// Numbers: itoa and zmij are the formatters serde_json itself calls, so the digits are its own.

fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// The shortest text that reads back as the same `f32`; `null` for NaN and infinities, as
/// serde_json.
fn write_f32(out: &mut Vec<u8>, v: f32) {
    if v.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// As [`write_f32`] for `f64`.
fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Bytes as a base64 string (standard alphabet, padded), which never needs escaping.
fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let engine = &base64::engine::general_purpose::STANDARD;
    out.push(b'"');
    let start = out.len();
    // 4/3 of an in-memory slice's length cannot overflow usize.
    let len = base64::encoded_len(bytes.len(), true).expect("base64 length overflows usize");
    out.resize(start + len, 0);
    let written = engine
        .encode_slice(bytes, &mut out[start..])
        .expect("the buffer is encoded_len long");
    debug_assert_eq!(written, len);
    out.push(b'"');
}

// Temporal values, as their `Display` impls in `value.rs` write them (`{:02}` and `{:04}` pad
// to a minimum width: a wider number is written whole).

/// `v` in decimal, zero-padded to at least `width` digits.
fn write_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(v).as_bytes();
    out.resize(out.len() + width.saturating_sub(digits.len()), b'0');
    out.extend_from_slice(digits);
}

/// `v` as `{:02}`.
#[inline]
fn write_2(out: &mut Vec<u8>, v: u32) {
    if v < 100 {
        out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
    } else {
        write_padded(out, u64::from(v), 2);
    }
}

/// `v` as `{:04}`.
#[inline]
fn write_4(out: &mut Vec<u8>, v: u64) {
    if v < 10_000 {
        let v = v as u32;
        out.extend_from_slice(&[
            b'0' + (v / 1000) as u8,
            b'0' + (v / 100 % 10) as u8,
            b'0' + (v / 10 % 10) as u8,
            b'0' + (v % 10) as u8,
        ]);
    } else {
        write_padded(out, v, 4);
    }
}

/// `hh:mm:ss` with each part as `{:02}`.
fn write_hms(out: &mut Vec<u8>, h: u32, m: u32, s: u32) {
    write_2(out, h);
    out.push(b':');
    write_2(out, m);
    out.push(b':');
    write_2(out, s);
}

/// `.` and the first `fsp` (at most 6) digits of `{micros:06}`; nothing when `fsp` is 0.
fn write_fraction(out: &mut Vec<u8>, micros: u32, fsp: u8) {
    if fsp == 0 {
        return;
    }
    let n = usize::from(fsp.min(6));
    out.push(b'.');
    if micros < 1_000_000 {
        let mut digits = [b'0'; 6];
        let mut rest = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.extend_from_slice(&digits[..n]);
    } else {
        // Out of range: `{micros:06}` is then wider than six digits, of which `fsp` are kept.
        out.extend_from_slice(&itoa::Buffer::new().format(micros).as_bytes()[..n]);
    }
}

fn write_date(out: &mut Vec<u8>, d: &Date) {
    write_4(out, u64::from(d.year));
    out.push(b'-');
    write_2(out, u32::from(d.month));
    out.push(b'-');
    write_2(out, u32::from(d.day));
}

fn write_time(out: &mut Vec<u8>, t: &Time) {
    out.push(b'"');
    if t.negative {
        out.push(b'-');
    }
    write_hms(out, t.hours, u32::from(t.minutes), u32::from(t.seconds));
    write_fraction(out, t.micros, t.fsp);
    out.push(b'"');
}

fn write_datetime(out: &mut Vec<u8>, dt: &DateTime) {
    out.push(b'"');
    write_date(out, &dt.date);
    out.push(b' ');
    write_hms(
        out,
        u32::from(dt.hour),
        u32::from(dt.minute),
        u32::from(dt.second),
    );
    write_fraction(out, dt.micros, dt.fsp);
    out.push(b'"');
}

fn write_timestamp(out: &mut Vec<u8>, ts: &Timestamp) {
    out.push(b'"');
    if ts.seconds == 0 && ts.micros == 0 {
        out.extend_from_slice(b"0000-00-00T00:00:00");
    } else {
        // Whole days since the epoch: never negative and far inside i64, so the year is >= 1970.
        let days = (ts.seconds / 86_400) as i64;
        let rem = (ts.seconds % 86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        write_4(out, y.unsigned_abs());
        out.push(b'-');
        write_2(out, m);
        out.push(b'-');
        write_2(out, d);
        out.push(b'T');
        write_hms(out, rem / 3600, rem % 3600 / 60, rem % 60);
    }
    write_fraction(out, ts.micros, ts.fsp);
    out.extend_from_slice(b"Z\"");
}

// Strings.

/// `s` as a JSON string, escaped as serde_json escapes. Public for the other encoders (the
/// Kafka message formats), so there is one escaper.
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    write_escaped(out, s.as_bytes());
    out.push(b'"');
}

/// What serde_json writes for each byte: 0 for the byte itself, else the letter after `\`
/// (`u` for `\u00XX`). Exactly `"`, `\` and the control bytes below 0x20 are escaped; bytes of
/// multi-byte UTF-8 characters never are.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of the little-endian word `w` needs escaping. Exact, not an estimate:
/// `(w - n*ONES) & !w & HIGH_BITS` is nonzero iff some byte is below `n` (for `n <= 0x80`), as
/// the lowest such byte borrows into its own high bit and no byte at or above `n` borrows.
#[inline]
fn word_needs_escape(w: u64) -> bool {
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH_BITS;
    let control = below(w, 0x20);
    let quote = below(w ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(w ^ (ONES * u64::from(b'\\')), 1);
    control | quote | backslash != 0
}

/// The escaped contents of a JSON string (without quotes) for UTF-8 `bytes`. Clean runs are
/// copied whole.
pub fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut clean_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip eight clean bytes at a time; look byte by byte only where a word has an escape.
        let end = match bytes.get(i..i + 8) {
            Some(word) => {
                let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
                if !word_needs_escape(word) {
                    i += 8;
                    continue;
                }
                i + 8
            }
            None => bytes.len(),
        };
        while i < end {
            let byte = bytes[i];
            let escape = ESCAPE[usize::from(byte)];
            if escape != 0 {
                out.extend_from_slice(&bytes[clean_from..i]);
                if escape == b'u' {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[usize::from(byte >> 4)],
                        HEX[usize::from(byte & 0xf)],
                    ]);
                } else {
                    out.extend_from_slice(&[b'\\', escape]);
                }
                clean_from = i + 1;
            }
            i += 1;
        }
    }
    out.extend_from_slice(&bytes[clean_from..]);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::event::{ColumnSchema, Op, RowChange, TableSchema};
    use crate::position::{MariadbGtid, MysqlGtid, Uuid};

    /// `write_event` against the serde impl, the reference; also appending to a used buffer.
    fn assert_same(event: &Event) {
        let reference = serde_json::to_vec(event).unwrap();
        let mut out = b"previous line\n".to_vec();
        write_event(&mut out, event);
        let out = &out[b"previous line\n".len()..];
        assert_eq!(
            String::from_utf8_lossy(out),
            String::from_utf8_lossy(&reference)
        );
        assert_eq!(out, &reference[..]);
    }

    fn assert_same_value(value: &Value) {
        let reference = serde_json::to_vec(value).unwrap();
        let mut out = Vec::new();
        write_value(&mut out, value);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&reference),
            "{value:?}"
        );
    }

    fn column(name: &str) -> ColumnSchema {
        ColumnSchema {
            name: name.into(),
            type_name: "int".into(),
        }
    }

    fn mysql_gtid(tag: Option<&str>) -> Gtid {
        Gtid::Mysql(MysqlGtid {
            uuid: Uuid([
                0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
                0x95, 0x62,
            ]),
            tag: tag.map(Into::into),
            gno: u64::MAX,
        })
    }

    fn position(gtid: Option<Gtid>) -> EventPosition {
        EventPosition {
            file: Arc::from("binlog.000001"),
            pos: 1234,
            gtid: gtid.map(Arc::new),
            row: 3,
            server_id: u32::MAX,
            ts_ms: 1_700_000_000_000,
        }
    }

    const STRINGS: &[&str] = &[
        "",
        "plain",
        "\"quoted\"",
        "back\\slash",
        "\u{0}\u{1}\u{7}\u{8}\t\n\u{b}\u{c}\r\u{e}\u{1b}\u{1f} \u{7f}",
        "/solidus/ is not escaped",
        "café € 漢字 😀 \u{80}\u{7ff}\u{800}\u{ffff}\u{10ffff}",
        "a longer string with no escapes at all, long enough for several words",
        "twenty-three clean bytes\"then a quote and \\ more and\nnewline at word edges",
        "\"\"\"\"\"\"\"\"\"\\\\\\\\\\\\\\\\",
    ];

    fn date(year: u16, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    fn time(negative: bool, hours: u32, micros: u32, fsp: u8) -> Time {
        Time {
            negative,
            hours,
            minutes: 59,
            seconds: 7,
            micros,
            fsp,
        }
    }

    fn datetime(date: Date, micros: u32, fsp: u8) -> DateTime {
        DateTime {
            date,
            hour: 23,
            minute: 5,
            second: 9,
            micros,
            fsp,
        }
    }

    /// Every `Value` variant with its edge values.
    fn edge_values() -> Vec<Value> {
        let mut values = vec![
            Value::Null,
            Value::Int(0),
            Value::Int(-1),
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::UInt(0),
            Value::UInt(u64::MAX),
            Value::Bit(0),
            Value::Bit(u64::MAX),
            Value::Year(0),
            Value::Year(2155),
            Value::Year(u16::MAX),
            Value::Decimal("-12345678901234567890.000000001".into()),
            Value::Decimal("0.00".into()),
            Value::Bytes(vec![]),
            Value::Bytes(vec![0]),
            Value::Bytes(vec![0, 255]),
            Value::Bytes(vec![0xfb, 0xff, 0xbf]),
            Value::Bytes((0..=255).collect()),
            Value::UndecodedText {
                charset: "utf8mb4".into(),
                bytes: vec![0xff, 0],
            },
            Value::UndecodedText {
                charset: "we\"ird\n".into(),
                bytes: vec![],
            },
            Value::Enum(EnumValue::Name("paid".into())),
            Value::Enum(EnumValue::Name(String::new())),
            Value::Enum(EnumValue::Index(0)),
            Value::Enum(EnumValue::Index(u16::MAX)),
            Value::Set(SetValue::Names(vec![])),
            Value::Set(SetValue::Names(vec!["a".into()])),
            Value::Set(SetValue::Names(vec![
                "a".into(),
                "\"c\"".into(),
                String::new(),
            ])),
            Value::Set(SetValue::Bits(0)),
            Value::Set(SetValue::Bits(u64::MAX)),
            Value::JsonDiff(vec![]),
            Value::JsonDiff(vec![
                JsonChange {
                    op: "replace",
                    path: "$.a".into(),
                    value: Some(serde_json::json!(1)),
                },
                JsonChange {
                    op: "remove",
                    path: "$.\"k\\ey\"[2]".into(),
                    value: None,
                },
                JsonChange {
                    op: "insert",
                    path: "$.b".into(),
                    value: Some(serde_json::json!({"x": [null, "y\n"]})),
                },
            ]),
            Value::Geometry {
                srid: 0,
                wkb: vec![],
            },
            Value::Geometry {
                srid: u32::MAX,
                wkb: vec![1, 1, 0, 0, 0],
            },
            Value::Vector(vec![]),
            Value::Vector(vec![1.1, -2.0, 0.0, -0.0, f32::NAN, f32::INFINITY, 1e-45]),
        ];
        for s in STRINGS {
            values.push(Value::Text((*s).into()));
        }
        for f in [
            0.0,
            -0.0,
            1.1,
            0.1,
            1.0,
            -1.5,
            1e10,
            1e-10,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            1e-45,
            f32::EPSILON,
            16_777_216.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ] {
            values.push(Value::Float(f));
            values.push(Value::Vector(vec![f]));
        }
        for d in [
            0.0,
            -0.0,
            0.1,
            1.1,
            1.0,
            1e300,
            -1e300,
            1e-300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            9_007_199_254_740_993.0,
            123_456_789.125,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            values.push(Value::Double(d));
        }
        for d in [
            date(0, 0, 0),
            date(2024, 0, 0),
            date(2024, 2, 29),
            date(9999, 12, 31),
            date(7, 1, 2),
            date(u16::MAX, 255, 100),
        ] {
            values.push(Value::Date(d));
            for fsp in 0..=7 {
                values.push(Value::DateTime(datetime(d, 123_456, fsp)));
            }
        }
        for fsp in 0..=7 {
            for micros in [0, 5, 120_000, 999_999, 1_000_000, 12_345_678, u32::MAX] {
                values.push(Value::Time(time(false, 1, micros, fsp)));
                values.push(Value::Time(time(true, 838, micros, fsp)));
                values.push(Value::DateTime(datetime(date(0, 0, 0), micros, fsp)));
                for seconds in [0, 1, 1_709_251_198, 4_102_444_800, u64::MAX] {
                    values.push(Value::Timestamp(Timestamp {
                        seconds,
                        micros,
                        fsp,
                    }));
                }
            }
        }
        for hours in [0, 9, 10, 99, 100, 838, u32::MAX] {
            values.push(Value::Time(time(false, hours, 0, 0)));
            values.push(Value::Time(time(true, hours, 1, 6)));
        }
        values.push(Value::Time(Time {
            negative: true,
            hours: 0,
            minutes: 0,
            seconds: 0,
            micros: 0,
            fsp: 0,
        }));
        values.push(Value::Time(Time {
            negative: false,
            hours: 1,
            minutes: 255,
            seconds: 100,
            micros: 0,
            fsp: 0,
        }));
        values.push(Value::DateTime(DateTime {
            date: date(2024, 1, 1),
            hour: 255,
            minute: 100,
            second: 99,
            micros: 1,
            fsp: 1,
        }));
        values.extend(json_documents().into_iter().map(Value::Json));
        values
    }

    fn json_documents() -> Vec<serde_json::Value> {
        let mut docs = vec![
            serde_json::json!(null),
            serde_json::json!(true),
            serde_json::json!(false),
            serde_json::json!(0),
            serde_json::json!(u64::MAX),
            serde_json::json!(i64::MIN),
            serde_json::json!(-1),
            serde_json::json!(0.1),
            serde_json::json!(-0.0),
            serde_json::json!(1e300),
            serde_json::json!(1.0),
            serde_json::json!(""),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!({"b": 1, "a": [1, 2.5, "x", {"": null}], "\"k\"\n": {"z": true}}),
            serde_json::json!([[[]], {"a": {}}, -12.5e-7]),
        ];
        docs.extend(STRINGS.iter().map(|s| serde_json::json!({ *s: *s })));
        docs
    }

    #[test]
    fn every_value_matches_serde() {
        for value in edge_values() {
            assert_same_value(&value);
        }
    }

    #[test]
    fn escaping_matches_serde_for_every_ascii_byte_at_every_offset() {
        for byte in 0u8..=0x7f {
            for offset in 0..20 {
                for len in [offset + 1, offset + 1 + 7, 24] {
                    let mut text = vec![b'x'; len.max(offset + 1)];
                    text[offset] = byte;
                    let text = String::from_utf8(text).unwrap();
                    let mut out = Vec::new();
                    write_str(&mut out, &text);
                    assert_eq!(out, serde_json::to_vec(&text).unwrap(), "{text:?}");
                }
            }
        }
        for s in STRINGS {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    fn edge_table() -> Arc<TableSchema> {
        let mut columns: Vec<ColumnSchema> = STRINGS.iter().map(|s| column(s)).collect();
        columns.push(column("id"));
        columns.push(column("@3"));
        // Out of range primary-key indexes are skipped, as `primary_key_names` does.
        let pk = vec![columns.len() - 2, 2, 99, 0];
        Arc::new(TableSchema::new("sh\"op", "ord\\ers\n€", columns, pk))
    }

    fn row_event(
        table: &Arc<TableSchema>,
        op: Op,
        before: Option<RowImage>,
        after: Option<RowImage>,
        gtid: Option<Gtid>,
    ) -> Event {
        Event {
            position: position(gtid),
            kind: EventKind::Row(RowChange {
                op,
                table: table.clone(),
                before,
                after,
            }),
        }
    }

    #[test]
    fn every_event_kind_matches_serde() {
        let table = edge_table();
        let width = table.columns.len();
        let values = edge_values();
        let gtids = [
            None,
            Some(mysql_gtid(None)),
            Some(mysql_gtid(Some("tag_1"))),
            Some(mysql_gtid(Some("bad\"tag\n"))),
            Some(Gtid::Mariadb(MariadbGtid {
                domain_id: 0,
                server_id: u32::MAX,
                seq_no: u64::MAX,
            })),
        ];
        let next = BinlogPosition::new("binlog.000002", u64::MAX);
        let odd_next = BinlogPosition::new("bin\"log:\u{1}\\.000002", 4);

        for gtid in &gtids {
            let mut events = vec![
                Event {
                    position: position(gtid.clone()),
                    kind: EventKind::Begin,
                },
                Event {
                    position: position(gtid.clone()),
                    kind: EventKind::Commit {
                        xid: Some(u64::MAX),
                        next: next.clone(),
                    },
                },
                Event {
                    position: position(gtid.clone()),
                    kind: EventKind::Commit {
                        xid: None,
                        next: odd_next.clone(),
                    },
                },
                Event {
                    position: position(gtid.clone()),
                    kind: EventKind::Ddl {
                        database: String::new(),
                        sql: "CREATE TABLE `t` (c VARCHAR(10) DEFAULT 'a\\\"b')\n".into(),
                        next: next.clone(),
                    },
                },
            ];
            for s in STRINGS {
                events.push(Event {
                    position: position(gtid.clone()),
                    kind: EventKind::Incident {
                        message: (*s).into(),
                    },
                });
            }
            for op in [Op::Create, Op::Update, Op::Delete, Op::Read] {
                // Whole images and images with absent columns (MINIMAL), each value in turn.
                for chunk in values.chunks(width) {
                    let full = RowImage(chunk.iter().cloned().map(Some).collect());
                    let sparse = RowImage(
                        chunk
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (i % 3 == 1).then(|| v.clone()))
                            .collect(),
                    );
                    events.push(row_event(
                        &table,
                        op,
                        Some(sparse.clone()),
                        Some(full.clone()),
                        gtid.clone(),
                    ));
                    events.push(row_event(&table, op, Some(full), None, gtid.clone()));
                    events.push(row_event(&table, op, None, Some(sparse), gtid.clone()));
                }
                events.push(row_event(&table, op, None, None, gtid.clone()));
                let empty = RowImage(vec![None; width]);
                events.push(row_event(
                    &table,
                    op,
                    Some(empty.clone()),
                    Some(RowImage(vec![])),
                    gtid.clone(),
                ));
                // Images longer than the table: the extra slots are not written.
                let long = RowImage(vec![Some(Value::Int(1)); width + 3]);
                events.push(row_event(&table, op, Some(long), Some(empty), gtid.clone()));
            }
            for event in &events {
                assert_same(event);
            }
        }

        // A table without columns or key, and one whose key is unknown.
        for table in [
            TableSchema::new("", "", vec![], vec![]),
            TableSchema::new("db", "t", vec![column("a"), column("b")], vec![]),
            TableSchema::new("db", "t", vec![column("a"), column("b")], vec![1, 0]),
        ] {
            let table = Arc::new(table);
            let image = RowImage(vec![Some(Value::Null), Some(Value::Int(2))]);
            assert_same(&row_event(&table, Op::Create, None, Some(image), None));
        }
    }

    #[test]
    fn table_schema_keeps_its_fields_readable() {
        let table = TableSchema::new("db", "t", vec![column("a"), column("b")], vec![1, 5]);
        assert_eq!(table.database, "db");
        assert_eq!(table.table, "t");
        assert_eq!(table.columns[1].name, "b");
        assert_eq!(table.primary_key, [1, 5]);
        assert_eq!(table.primary_key_names().collect::<Vec<_>>(), ["b"]);
        assert_eq!(table.clone(), table);
        assert_eq!(
            format!("{table:?}"),
            "TableSchema { database: \"db\", table: \"t\", columns: [ColumnSchema { name: \"a\", \
             type_name: \"int\" }, ColumnSchema { name: \"b\", type_name: \"int\" }], \
             primary_key: [1, 5] }"
        );
    }

    /// A small deterministic generator (PCG-style LCG with an output mix), so the random test
    /// needs no crate and fails the same way every run.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let x = self.0;
            (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (x >> 32)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }

        fn string(&mut self) -> String {
            const SPECIAL: &[char] = &[
                '"', '\\', '\n', '\r', '\t', '\u{0}', '\u{8}', '\u{c}', '\u{1f}', '\u{7f}', '/',
                'é', '€', '😀', '\u{80}', ' ',
            ];
            let len = match self.below(10) {
                0 => 0,
                1..=6 => self.below(12),
                _ => self.below(80),
            };
            (0..len)
                .map(|_| {
                    if self.chance(10) {
                        SPECIAL[self.below(SPECIAL.len() as u64) as usize]
                    } else {
                        char::from(b'a' + self.below(26) as u8)
                    }
                })
                .collect()
        }

        fn json(&mut self, depth: u32) -> serde_json::Value {
            let kinds = if depth == 0 { 6 } else { 8 };
            match self.below(kinds) {
                0 => serde_json::Value::Null,
                1 => serde_json::Value::Bool(self.chance(50)),
                2 => serde_json::json!(self.next()),
                3 => serde_json::json!(self.next() as i64),
                4 => serde_json::Number::from_f64(f64::from_bits(self.next()))
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
                5 => serde_json::Value::String(self.string()),
                6 => (0..self.below(4)).map(|_| self.json(depth - 1)).collect(),
                _ => serde_json::Value::Object(
                    (0..self.below(4))
                        .map(|_| (self.string(), self.json(depth - 1)))
                        .collect(),
                ),
            }
        }

        fn value(&mut self) -> Value {
            match self.below(22) {
                0 => Value::Null,
                1 => Value::Int(self.next() as i64),
                2 => Value::UInt(self.next()),
                3 => Value::Float(f32::from_bits(self.next() as u32)),
                4 => Value::Double(f64::from_bits(self.next())),
                5 => Value::Decimal(format!("{}.{:02}", self.next() as i64, self.below(100))),
                6 => Value::Bit(self.next()),
                7 => Value::Year(self.next() as u16),
                8 => Value::Date(self.date()),
                9 => Value::Time(Time {
                    negative: self.chance(30),
                    hours: if self.chance(90) {
                        self.below(839) as u32
                    } else {
                        self.next() as u32
                    },
                    minutes: self.below(60) as u8,
                    seconds: self.below(60) as u8,
                    micros: self.micros(),
                    fsp: self.below(8) as u8,
                }),
                10 => Value::DateTime(DateTime {
                    date: self.date(),
                    hour: self.below(24) as u8,
                    minute: self.below(60) as u8,
                    second: self.below(60) as u8,
                    micros: self.micros(),
                    fsp: self.below(8) as u8,
                }),
                11 => Value::Timestamp(Timestamp {
                    seconds: match self.below(4) {
                        0 => 0,
                        1 => self.next(),
                        _ => self.below(1 << 32),
                    },
                    micros: self.micros(),
                    fsp: self.below(8) as u8,
                }),
                12 | 13 => Value::Text(self.string()),
                14 => Value::Bytes((0..self.below(10)).map(|_| self.next() as u8).collect()),
                15 => Value::UndecodedText {
                    charset: self.string(),
                    bytes: (0..self.below(10)).map(|_| self.next() as u8).collect(),
                },
                16 => Value::Enum(if self.chance(50) {
                    EnumValue::Name(self.string())
                } else {
                    EnumValue::Index(self.next() as u16)
                }),
                17 => Value::Set(if self.chance(50) {
                    SetValue::Names((0..self.below(4)).map(|_| self.string()).collect())
                } else {
                    SetValue::Bits(self.next())
                }),
                18 => Value::Json(self.json(3)),
                19 => Value::JsonDiff(
                    (0..self.below(3))
                        .map(|_| JsonChange {
                            op: ["replace", "insert", "remove"][self.below(3) as usize],
                            path: self.string(),
                            value: self.chance(70).then(|| self.json(2)),
                        })
                        .collect(),
                ),
                20 => Value::Geometry {
                    srid: self.next() as u32,
                    wkb: (0..self.below(30)).map(|_| self.next() as u8).collect(),
                },
                _ => Value::Vector(
                    (0..self.below(5))
                        .map(|_| f32::from_bits(self.next() as u32))
                        .collect(),
                ),
            }
        }

        fn date(&mut self) -> Date {
            if self.chance(90) {
                date(
                    self.below(10_000) as u16,
                    self.below(13) as u8,
                    self.below(32) as u8,
                )
            } else {
                date(self.next() as u16, self.next() as u8, self.next() as u8)
            }
        }

        fn micros(&mut self) -> u32 {
            if self.chance(90) {
                self.below(1_000_000) as u32
            } else {
                self.next() as u32
            }
        }

        fn gtid(&mut self) -> Option<Gtid> {
            match self.below(4) {
                0 => None,
                1 => Some(Gtid::Mariadb(MariadbGtid {
                    domain_id: self.next() as u32,
                    server_id: self.next() as u32,
                    seq_no: self.next(),
                })),
                _ => Some(Gtid::Mysql(MysqlGtid {
                    uuid: Uuid(self.next().to_le_bytes().repeat(2).try_into().unwrap()),
                    tag: self.chance(30).then(|| self.string()),
                    gno: self.next(),
                })),
            }
        }

        fn image(&mut self, width: usize) -> Option<RowImage> {
            self.chance(80).then(|| {
                let len = if self.chance(90) {
                    width
                } else {
                    self.below(width as u64 + 3) as usize
                };
                RowImage(
                    (0..len)
                        .map(|_| self.chance(85).then(|| self.value()))
                        .collect(),
                )
            })
        }

        fn event(&mut self, tables: &[Arc<TableSchema>]) -> Event {
            let position = EventPosition {
                file: Arc::from(if self.chance(90) {
                    format!("binlog.{:06}", self.below(1000))
                } else {
                    self.string()
                }),
                pos: self.next(),
                gtid: self.gtid().map(Arc::new),
                row: self.next() as u32,
                server_id: self.next() as u32,
                ts_ms: self.next(),
            };
            let next = BinlogPosition::new(self.string(), self.next());
            let kind = match self.below(10) {
                0 => EventKind::Begin,
                1 => EventKind::Commit {
                    xid: self.chance(70).then(|| self.next()),
                    next,
                },
                2 => EventKind::Incident {
                    message: self.string(),
                },
                3 => EventKind::Ddl {
                    database: self.string(),
                    sql: self.string(),
                    next,
                },
                _ => {
                    let table = tables[self.below(tables.len() as u64) as usize].clone();
                    let width = table.columns.len();
                    EventKind::Row(RowChange {
                        op: [Op::Create, Op::Update, Op::Delete, Op::Read][self.below(4) as usize],
                        before: self.image(width),
                        after: self.image(width),
                        table,
                    })
                }
            };
            Event { position, kind }
        }

        fn table(&mut self) -> Arc<TableSchema> {
            let width = self.below(10) as usize;
            let columns = (0..width)
                .map(|i| {
                    if self.chance(70) {
                        column(&format!("c{i}"))
                    } else {
                        column(&self.string())
                    }
                })
                .collect();
            let primary_key = (0..self.below(4))
                .map(|_| self.below(width as u64 + 2) as usize)
                .collect();
            Arc::new(TableSchema::new(
                self.string(),
                self.string(),
                columns,
                primary_key,
            ))
        }
    }

    #[test]
    fn random_events_match_serde() {
        let mut rng = Lcg(0x5eed);
        let tables: Vec<_> = (0..20).map(|_| rng.table()).collect();
        for _ in 0..5000 {
            assert_same(&rng.event(&tables));
        }
    }

    /// A row of the profiled benchmark table: BIGINT, INT, VARCHAR, SMALLINT, 2x DECIMAL(12,2),
    /// ENUM, 2x DATETIME(6), JSON, TEXT, INT UNSIGNED.
    fn typical_row(i: u64) -> RowImage {
        let dt = |s: u64| {
            Value::DateTime(DateTime {
                date: date(2024, (s % 12 + 1) as u8, (s % 28 + 1) as u8),
                hour: (s % 24) as u8,
                minute: (s % 60) as u8,
                second: (s * 7 % 60) as u8,
                micros: (s * 7919 % 1_000_000) as u32,
                fsp: 6,
            })
        };
        RowImage(vec![
            Some(Value::Int(i as i64 + 1_000_000)),
            Some(Value::Int((i * 37 % 100_000) as i64)),
            Some(Value::Text(format!("customer-{i}@example.com"))),
            Some(Value::Int((i % 300) as i64)),
            Some(Value::Decimal(format!(
                "{}.{:02}",
                i * 13 % 100_000,
                i % 100
            ))),
            Some(Value::Decimal(format!("{}.{:02}", i % 1000, i * 7 % 100))),
            Some(Value::Enum(EnumValue::Name(
                ["new", "paid", "shipped", "cancelled"][(i % 4) as usize].into(),
            ))),
            Some(dt(i)),
            Some(dt(i + 3600)),
            Some(Value::Json(serde_json::json!({
                "source": "web",
                "items": [i % 7, i % 11],
                "note": "gift \"wrap\"",
            }))),
            Some(Value::Text(
                "Lorem ipsum dolor sit amet, consectetur adipiscing elit; a line\nand another."
                    .into(),
            )),
            Some(Value::UInt(i * 2_654_435_761 % u64::from(u32::MAX))),
        ])
    }

    fn typical_events(count: u64) -> Vec<Event> {
        let names = [
            "id",
            "qty",
            "email",
            "flags",
            "amount",
            "tax",
            "status",
            "created_at",
            "updated_at",
            "attrs",
            "comment",
            "counter",
        ];
        let table = Arc::new(TableSchema::new(
            "shop",
            "orders",
            names.iter().map(|n| column(n)).collect(),
            vec![0],
        ));
        (0..count)
            .map(|i| {
                let mut position = position(Some(mysql_gtid(None)));
                position.pos = 4 + i * 300;
                position.row = (i % 10) as u32;
                Event {
                    position,
                    kind: EventKind::Row(RowChange {
                        op: Op::Create,
                        table: table.clone(),
                        before: None,
                        after: Some(typical_row(i)),
                    }),
                }
            })
            .collect()
    }

    #[test]
    fn typical_rows_match_serde() {
        for event in typical_events(100) {
            assert_same(&event);
        }
    }

    /// `cargo test --release -p sluice-core encode_speed -- --ignored --nocapture`
    #[test]
    #[ignore = "a benchmark: run it in release with --nocapture"]
    fn encode_speed() {
        const EVENTS: usize = 200_000;
        // A thousand distinct events encoded in turn, like a decoder's fresh batches.
        let events = typical_events(1000);
        let mut buffer = Vec::with_capacity(1 << 21);
        let mut time = |encode: &mut dyn FnMut(&mut Vec<u8>, &Event)| {
            let mut best = f64::INFINITY;
            let mut bytes = 0;
            for _ in 0..5 {
                bytes = 0;
                let started = Instant::now();
                for event in events.iter().cycle().take(EVENTS) {
                    encode(&mut buffer, event);
                    buffer.push(b'\n');
                    if buffer.len() >= 1 << 20 {
                        bytes += buffer.len();
                        buffer.clear();
                    }
                }
                bytes += buffer.len();
                buffer.clear();
                best = best.min(started.elapsed().as_nanos() as f64 / EVENTS as f64);
            }
            (best, bytes)
        };
        let (serde_ns, serde_bytes) =
            time(&mut |out, event| serde_json::to_writer(out, event).unwrap());
        let (fast_ns, fast_bytes) = time(&mut |out, event| write_event(out, event));
        assert_eq!(serde_bytes, fast_bytes);
        println!(
            "encode_speed: {EVENTS} row events of {} bytes on average: serde_json {serde_ns:.0} \
             ns/event, write_event {fast_ns:.0} ns/event ({:.1}x)",
            fast_bytes / EVENTS,
            serde_ns / fast_ns
        );
    }
}
