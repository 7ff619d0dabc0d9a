//! Reading a binlog file offline (`sluice dump --file`), event by event, with each event's byte
//! span, the events inside compressed transactions unpacked in place.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use mysql_common::binlog::consts::{BinlogVersion, EventType};
use mysql_common::binlog::events::{Event, TransactionPayloadEvent};
use mysql_common::binlog::EventStreamReader;

use super::decoder::EventSpan;
use super::frame::{self, FrameError};
use super::mariadb_events as mariadb;
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
        let tpe = event
            .read_event::<TransactionPayloadEvent<'_>>()
            .map_err(|e| self.error(span.start, name.clone(), e))?;
        let mut bytes = Vec::new();
        // The declared size caps what is read, so a corrupt payload cannot exhaust memory.
        let cap = tpe
            .uncompressed_size()
            .min(u64::from(frame::MAX_EVENT_SIZE));
        tpe.decompressed()
            .and_then(|r| r.take(cap + 1).read_to_end(&mut bytes))
            .map_err(|e| self.error(span.start, name.clone(), format!("decompression: {e}")))?;
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
