//! Splitting a byte stream into whole binlog events, safely.
//!
//! `mysql_common`'s `Event::read` trusts the size in the event header (it unwraps a short read
//! and slices off the checksum without a length check), so bytes from a file or a corrupt
//! stream would panic there. Sluice reads each event's header itself, checks the declared size,
//! reads exactly that many bytes, and only then hands a complete event to `mysql_common`.
//! It also verifies CRC32 checksums, which `mysql_common` leaves to its caller.

use std::io::{self, Read};

use mysql_common::binlog::consts::{BinlogChecksumAlg, EventType};
use mysql_common::binlog::events::Event;
use mysql_common::binlog::EventStreamReader;

/// Length of the v4 event header.
pub const HEADER_LEN: usize = 19;
/// Largest event Sluice accepts: MySQL's `max_allowed_packet` ceiling (1 GiB) plus headroom.
pub const MAX_EVENT_SIZE: u32 = (1 << 30) + (1 << 20);
/// Smallest body of a v4 FORMAT_DESCRIPTION event (binlog version, server version, timestamp,
/// header length).
const MIN_FDE_BODY: usize = 2 + 50 + 4 + 1;

/// Why the next event could not be framed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the data ends inside the {what} ({got} of {want} bytes)")]
    Truncated {
        what: &'static str,
        got: usize,
        want: usize,
    },
    #[error("the event header declares a size of {size} bytes, which is {why}")]
    BadSize { size: u32, why: &'static str },
    #[error("checksum mismatch: the event says {stored:#010x}, its bytes give {computed:#010x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("{0}")]
    Parse(io::Error),
    #[error("read error: {0}")]
    Io(io::Error),
}

/// The raw type byte of an event header (`None` for a short header).
pub fn header_type(header: &[u8]) -> Option<u8> {
    header.get(4).copied()
}

/// Reads into `buf` one whole event (header and body). `Ok(false)` at a clean end of data.
pub fn read_event_bytes<R: Read>(input: &mut R, buf: &mut Vec<u8>) -> Result<bool, FrameError> {
    buf.clear();
    buf.resize(HEADER_LEN, 0);
    let got = read_full(input, &mut buf[..HEADER_LEN])?;
    if got == 0 {
        return Ok(false);
    }
    if got < HEADER_LEN {
        buf.truncate(got);
        return Err(FrameError::Truncated {
            what: "event header",
            got,
            want: HEADER_LEN,
        });
    }
    let size = u32::from_le_bytes([buf[9], buf[10], buf[11], buf[12]]);
    if (size as usize) < HEADER_LEN {
        return Err(FrameError::BadSize {
            size,
            why: "smaller than the 19-byte event header",
        });
    }
    if size > MAX_EVENT_SIZE {
        return Err(FrameError::BadSize {
            size,
            why: "larger than any server writes (1 GiB)",
        });
    }
    let body = size as usize - HEADER_LEN;
    // Grow as data arrives rather than trusting the declared size with one allocation.
    let mut read = 0;
    while read < body {
        let chunk = (body - read).min(1 << 20);
        let at = buf.len();
        buf.resize(at + chunk, 0);
        let n = read_full(input, &mut buf[at..])?;
        read += n;
        if n < chunk {
            buf.truncate(at + n);
            return Err(FrameError::Truncated {
                what: "event body",
                got: HEADER_LEN + read,
                want: size as usize,
            });
        }
    }
    Ok(true)
}

/// Reads until `out` is full or the data ends; returns how many bytes were read.
pub fn read_full<R: Read>(input: &mut R, mut out: &mut [u8]) -> Result<usize, FrameError> {
    let mut total = 0;
    while !out.is_empty() {
        match input.read(out) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                out = &mut out[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    Ok(total)
}

/// Parses one complete event (from `read_event_bytes`) with the stream's current format, after
/// checking that its body can hold the checksum the format promises. `in_payload`: the event
/// comes from a decompressed TRANSACTION_PAYLOAD, where events carry no checksum.
pub fn parse_event(
    esr: &mut EventStreamReader,
    bytes: &[u8],
    in_payload: bool,
) -> Result<Event, FrameError> {
    let permuted;
    let bytes = match permute_pre_ga_type(esr, bytes)? {
        Some(b) => {
            permuted = b;
            permuted.as_slice()
        }
        None => bytes,
    };
    let body = bytes.len().saturating_sub(HEADER_LEN);
    let is_fde = header_type(bytes) == Some(EventType::FORMAT_DESCRIPTION_EVENT as u8);
    if is_fde && body < MIN_FDE_BODY {
        return Err(FrameError::BadSize {
            size: bytes.len() as u32,
            why: "too small for a FORMAT_DESCRIPTION event",
        });
    }
    let checksummed = !in_payload && checksum_on(esr);
    let needed = usize::from(checksummed) * 4 + usize::from(is_fde) * 5;
    if body < needed {
        return Err(FrameError::BadSize {
            size: bytes.len() as u32,
            why: "too small to hold the event's checksum",
        });
    }
    let mut input = bytes;
    let event = if in_payload {
        esr.read_decompressed(&mut input)
    } else {
        esr.read(&mut input)
    };
    match event {
        Ok(Some(e)) => Ok(e),
        Ok(None) => Err(FrameError::Truncated {
            what: "event",
            got: 0,
            want: HEADER_LEN,
        }),
        Err(e) => Err(FrameError::Parse(e)),
    }
}

/// Sluice's own type byte for the TABLE_MAP and rows events of pre-GA servers (never on the
/// wire: MySQL numbers up to 42, MariaDB 160-171).
pub const PRE_GA_ROWS: u8 = 0xf0;

/// Servers 5.1.0-5.1.15 and 5.2.0-5.2.2 numbered some events differently; MySQL's own reader
/// maps them (`event_type_permutation` in log_event.cc), and so does Sluice. Their row events
/// (then numbered 16-19) predate column metadata in TABLE_MAP and cannot be decoded by anyone:
/// they are marked `PRE_GA_ROWS` for the decoder to report.
fn permute_pre_ga_type(
    esr: &EventStreamReader,
    bytes: &[u8],
) -> Result<Option<Vec<u8>>, FrameError> {
    let Some(t) = header_type(bytes).filter(|t| (16..=22).contains(t)) else {
        return Ok(None);
    };
    let version = esr.get_fde().server_version();
    let version = version.trim_end_matches(['\0', ' ']);
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok());
    let (Some(major), Some(minor), Some(patch)) = (next(), next(), next()) else {
        return Ok(None);
    };
    let pre_ga = (major, minor) == (5, 1) && patch <= 15 || (major, minor) == (5, 2) && patch <= 2;
    if !pre_ga {
        return Ok(None);
    }
    let real = match t {
        20 => EventType::XID_EVENT as u8,
        21 => EventType::BEGIN_LOAD_QUERY_EVENT as u8,
        22 => EventType::EXECUTE_LOAD_QUERY_EVENT as u8,
        // TABLE_MAP and rows events: handed on under a type no server uses, so mysql_common
        // leaves them alone and the decoder reports them as undecodable.
        _ => PRE_GA_ROWS,
    };
    let mut out = bytes.to_vec();
    out[4] = real;
    Ok(Some(out))
}

/// Whether mysql_common will take a checksum off the events of this format: any algorithm other
/// than "off", known or not (its rule; an unknown one is refused in `verify_checksum`).
fn checksum_on(esr: &EventStreamReader) -> bool {
    let footer = esr.get_fde().footer();
    footer.get_checksum_enabled()
        && !matches!(
            footer.get_checksum_alg(),
            Ok(None | Some(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_OFF))
        )
}

/// Verifies an event's CRC32 checksum when its format says it has one.
pub fn verify_checksum(event: &Event) -> Result<(), FrameError> {
    match event.footer().get_checksum_alg() {
        Ok(Some(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32)) => {}
        Ok(_) => return Ok(()),
        Err(e) => {
            return Err(FrameError::Parse(io::Error::other(format!(
                "unknown checksum algorithm {}",
                e.0
            ))))
        }
    }
    let Some(stored) = event.checksum() else {
        return Ok(());
    };
    let stored = u32::from_le_bytes(stored);
    let computed = event.calc_checksum(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32);
    if stored != computed {
        return Err(FrameError::Checksum { stored, computed });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_sizes_are_checked_before_reading() {
        let mut header = vec![0u8; HEADER_LEN];
        header[9..13].copy_from_slice(&5u32.to_le_bytes());
        let mut buf = Vec::new();
        assert!(matches!(
            read_event_bytes(&mut header.as_slice(), &mut buf),
            Err(FrameError::BadSize { size: 5, .. })
        ));
        header[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_event_bytes(&mut header.as_slice(), &mut buf),
            Err(FrameError::BadSize { .. })
        ));
    }

    #[test]
    fn short_data_is_truncation_not_a_panic() {
        let mut event = vec![0u8; HEADER_LEN + 3];
        event[9..13].copy_from_slice(&100u32.to_le_bytes());
        let mut buf = Vec::new();
        assert!(matches!(
            read_event_bytes(&mut event.as_slice(), &mut buf),
            Err(FrameError::Truncated {
                what: "event body",
                got: 22,
                want: 100
            })
        ));
        assert!(matches!(
            read_event_bytes(&mut &event[..7], &mut buf),
            Err(FrameError::Truncated {
                what: "event header",
                ..
            })
        ));
        assert!(!read_event_bytes(&mut &event[..0], &mut buf).unwrap());
    }
}
