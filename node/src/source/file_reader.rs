//! Reading a binlog file offline (`sluice dump --file`), event by event, with each event's byte
//! span, the events inside compressed transactions unpacked in place.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use mysql_common::binlog::consts::{BinlogVersion, EventType};
use mysql_common::binlog::events::Event;
use mysql_common::binlog::EventStreamReader;

use super::decoder::EventSpan;
use super::frame::{self, FrameError};
use super::mariadb_events as mariadb;
use super::payload;
use crate::error::SourceError;

/// A binlog file header: `\xfe` `bin`.
const MAGIC: [u8; 4] = [0xfe, b'b', b'i', b'n'];

/// One event read from a file, and where it lies.
pub struct RawEvent {
    pub event: Event,
    pub span: EventSpan,
}

/// The decompressed events of a TRANSACTION_PAYLOAD still to be handed out.
struct Payload {
    bytes: Vec<u8>,
    at: usize,
    span: EventSpan,
}

/// Reads the events of one binlog file (or any byte stream in binlog file format).
pub struct BinlogReader<R> {
    path: PathBuf,
    input: R,
    offset: u64,
    esr: EventStreamReader,
    buf: Vec<u8>,
    payload: Option<Payload>,
}

/// A readable name for an event type byte.
pub fn event_type_name(raw: u8) -> String {
    match raw {
        mariadb::ANNOTATE_ROWS => "MARIADB_ANNOTATE_ROWS".into(),
        mariadb::BINLOG_CHECKPOINT => "MARIADB_BINLOG_CHECKPOINT".into(),
        mariadb::GTID => "MARIADB_GTID".into(),
        mariadb::GTID_LIST => "MARIADB_GTID_LIST".into(),
        mariadb::START_ENCRYPTION => "MARIADB_START_ENCRYPTION".into(),
        _ => match EventType::try_from(raw) {
            Ok(t) => format!("{t:?}"),
            Err(_) => format!("unknown type {raw}"),
        },
    }
}

/// A reader of a binlog file on disk.
pub type BinlogFileReader = BinlogReader<BufReader<File>>;

impl BinlogFileReader {
    /// Opens `path` and checks that it is a binlog file.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let file = File::open(path).map_err(|e| SourceError::Open {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        BinlogReader::new(path, BufReader::with_capacity(1 << 20, file))
    }
}

impl<R: Read> BinlogReader<R> {
    /// Reads binlog-file bytes from `input`; `path` names them in errors.
    pub fn new(path: &Path, mut input: R) -> Result<Self, SourceError> {
        let mut magic = [0u8; 4];
        let got = frame::read_full(&mut input, &mut magic).unwrap_or(0);
        if got < 4 || magic != MAGIC {
            return Err(SourceError::BadEvent {
                path: path.display().to_string(),
                offset: 0,
                event_type: "file header".into(),
                detail: "not a binlog file: it does not start with the 4-byte binlog magic \
                         (\\xfebin)"
                    .into(),
            });
        }
        Ok(BinlogReader {
            path: path.to_path_buf(),
            input,
            offset: 4,
            esr: EventStreamReader::new(BinlogVersion::Version4),
            buf: Vec::new(),
            payload: None,
        })
    }

    /// The file's name without its directory (as positions name binlog files).
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn error(&self, offset: u64, event_type: String, e: impl ToString) -> SourceError {
        SourceError::BadEvent {
            path: self.path.display().to_string(),
            offset,
            event_type,
            detail: e.to_string(),
        }
    }

    /// The error for an event of this file that the decoder refused.
    pub fn decode_error(&self, raw: &RawEvent, e: super::decoder::DecodeError) -> SourceError {
        self.error(
            raw.span.start,
            event_type_name(raw.event.header().event_type_raw()),
            e,
        )
    }

    /// The next event, or `None` at the end of the file.
    pub fn next_event(&mut self) -> Result<Option<RawEvent>, SourceError> {
        if let Some(event) = self.next_payload_event()? {
            return Ok(Some(event));
        }
        let start = self.offset;
        let framed = frame::read_event_bytes(&mut self.input, &mut self.buf);
        let type_name = || frame::header_type(&self.buf).map_or("event".into(), event_type_name);
        match framed {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => return Err(self.error(start, type_name(), e)),
        }
        let len = self.buf.len() as u64;
        let event = frame::parse_event(&mut self.esr, &self.buf, false)
            .and_then(|e| frame::verify_checksum(&e).map(|()| e))
            .map_err(|e| self.error(start, type_name(), e))?;
        self.offset += len;
        let span = EventSpan {
            start,
            end: self.offset,
        };
        if event.header().event_type_raw() == EventType::TRANSACTION_PAYLOAD_EVENT as u8 {
            self.payload = Some(self.unpack(&event, span)?);
        }
        Ok(Some(RawEvent { event, span }))
    }

    fn unpack(&self, event: &Event, span: EventSpan) -> Result<Payload, SourceError> {
        let name = "TRANSACTION_PAYLOAD_EVENT".to_string();
        let fail = |e: String| self.error(span.start, name.clone(), e);
        let payload = payload::parse(event.data()).map_err(fail)?;
        let mut bytes = Vec::new();
        // The declared size caps what is read, so a corrupt payload cannot exhaust memory.
        let cap = payload
            .uncompressed_size
            .min(u64::from(frame::MAX_EVENT_SIZE));
        payload
            .reader()
            .map_err(fail)?
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| fail(format!("decompression: {e}")))?;
        Ok(Payload { bytes, at: 0, span })
    }

    fn next_payload_event(&mut self) -> Result<Option<RawEvent>, SourceError> {
        let Some(p) = &mut self.payload else {
            return Ok(None);
        };
        let mut rest = &p.bytes[p.at..];
        let before = rest.len();
        let span = p.span;
        let mut buf = Vec::new();
        match frame::read_event_bytes(&mut rest, &mut buf) {
            Ok(false) => {
                self.payload = None;
                return Ok(None);
            }
            Ok(true) => {}
            Err(e) => {
                let err = self.error(span.start, "event inside TRANSACTION_PAYLOAD".into(), e);
                self.payload = None;
                return Err(err);
            }
        }
        p.at += before - rest.len();
        let event = frame::parse_event(&mut self.esr, &buf, true).map_err(|e: FrameError| {
            self.error(span.start, "event inside TRANSACTION_PAYLOAD".into(), e)
        })?;
        Ok(Some(RawEvent { event, span }))
    }
}

#[cfg(test)]
mod tests {
    //! Regressions found by fuzzing, rebuilt from hand-made events (binlog v4, no checksums).

    use super::*;
    use crate::source::BinlogDecoder;

    /// A binlog file: magic, a FORMAT_DESCRIPTION (server 8.0.30, checksums off), then `events`
    /// given as (type, body).
    fn binlog(events: &[(u8, Vec<u8>)]) -> Vec<u8> {
        binlog_with_checksum(0, events)
    }

    /// As `binlog`, with the FORMAT_DESCRIPTION naming checksum algorithm `alg`.
    fn binlog_with_checksum(alg: u8, events: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut post_header = [0u8; 42];
        for (t, len) in [(2, 13), (4, 8), (19, 8), (30, 10), (31, 10), (32, 10)] {
            post_header[t - 1] = len;
        }
        let mut fde = 4u16.to_le_bytes().to_vec();
        let mut version = b"8.0.30".to_vec();
        version.resize(50, 0);
        fde.extend(version);
        fde.extend(0u32.to_le_bytes());
        fde.push(19);
        fde.extend(post_header);
        fde.push(alg); // checksum algorithm (0: off)
        fde.extend([0u8; 4]);

        let mut out = MAGIC.to_vec();
        for (t, body) in std::iter::once(&(15u8, fde)).chain(events) {
            let size = (19 + body.len()) as u32;
            let next = out.len() as u32 + size;
            out.extend(0u32.to_le_bytes()); // timestamp
            out.push(*t);
            out.extend(1u32.to_le_bytes()); // server id
            out.extend(size.to_le_bytes());
            out.extend(next.to_le_bytes());
            out.extend(0u16.to_le_bytes()); // flags
            out.extend(body);
        }
        out
    }

    /// Reads and decodes everything; the error, if any.
    fn decode(bytes: &[u8]) -> Option<String> {
        let mut reader = BinlogReader::new(Path::new("test.000001"), bytes).unwrap();
        let mut decoder = BinlogDecoder::new("test.000001");
        let mut events = Vec::new();
        loop {
            match reader.next_event() {
                Ok(Some(raw)) => {
                    if let Err(e) = decoder.decode(&raw.event, raw.span, &mut events) {
                        return Some(reader.decode_error(&raw, e).to_string());
                    }
                }
                Ok(None) => return None,
                Err(e) => return Some(e.to_string()),
            }
        }
    }

    fn table_map(columns: u8) -> Vec<u8> {
        let mut b = vec![1, 0, 0, 0, 0, 0, 0, 0]; // table id 1, flags
        b.extend([2, b'd', b'b', 0, 1, b't', 0, columns]);
        b.extend(std::iter::repeat_n(3u8, usize::from(columns))); // INT columns
        b.push(0); // no type metadata
        b.extend(std::iter::repeat_n(0u8, usize::from(columns).div_ceil(8)));
        b
    }

    #[test]
    fn previous_gtids_with_a_huge_count_is_not_parsed() {
        // Type 35 claims 2^56 SIDs: mysql_common would try to allocate them all.
        let mut body = (1u64 << 56).to_le_bytes().to_vec();
        body.extend([0u8; 8]);
        assert_eq!(decode(&binlog(&[(35, body)])), None);
    }

    #[test]
    fn rows_event_selecting_no_columns_is_an_error_not_a_loop() {
        let mut rows = vec![1, 0, 0, 0, 0, 0, 0, 0, 2, 0]; // table id 1, flags, extra len 2
        rows.extend([1, 0b0000_0000]); // one column, none selected
        rows.extend([0xaa; 16]); // row data that no row image would consume
        let error = decode(&binlog(&[(19, table_map(1)), (30, rows)])).expect("an error");
        assert!(error.contains("selects no columns"), "{error}");
        assert!(error.contains("WRITE_ROWS_EVENT"), "{error}");
    }

    #[test]
    fn unknown_checksum_algorithm_is_an_error_not_a_panic() {
        // Algorithm 7 does not exist; mysql_common still strips 4 bytes from every event, and a
        // 2-byte STOP event has no 4 bytes to strip.
        let error = decode(&binlog_with_checksum(7, &[(3, vec![0, 0])])).expect("an error");
        assert!(error.contains("byte "), "{error}");
        let error = decode(&binlog_with_checksum(7, &[(3, vec![0; 8])])).expect("an error");
        assert!(error.contains("unknown checksum algorithm 7"), "{error}");
    }

    #[test]
    fn a_well_formed_hand_made_row_decodes() {
        let mut rows = vec![1, 0, 0, 0, 0, 0, 0, 0, 2, 0];
        rows.extend([1, 0b0000_0001, 0b0000_0000]); // one column selected, not null
        rows.extend(42i32.to_le_bytes());
        assert_eq!(decode(&binlog(&[(19, table_map(1)), (30, rows)])), None);
    }
}
