//! MariaDB's own binlog events, which `mysql_common` does not decode (it reports them as unknown
//! event types): GTID (162), GTID_LIST (163), ANNOTATE_ROWS (160) and BINLOG_CHECKPOINT (161).
//! Layouts are MariaDB's `log_event.h`; every read is bounds-checked, as this parses bytes from
//! the network and from files.

use sluice_core::position::MariadbGtid;

pub const ANNOTATE_ROWS: u8 = 160;
pub const BINLOG_CHECKPOINT: u8 = 161;
pub const GTID: u8 = 162;
pub const GTID_LIST: u8 = 163;
pub const START_ENCRYPTION: u8 = 164;
/// MariaDB's compressed QUERY/ROWS events (`log_bin_compress=ON`) span 165..=171.
pub const FIRST_COMPRESSED: u8 = 165;
pub const LAST_COMPRESSED: u8 = 171;

/// The GTID event starts a transaction (or a standalone statement such as DDL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtidEvent {
    pub gtid: MariadbGtid,
    pub flags: u8,
    pub commit_id: Option<u64>,
}

impl GtidEvent {
    /// FL_STANDALONE: no BEGIN/COMMIT around the group (a DDL or other single statement).
    pub const STANDALONE: u8 = 1;
    const GROUP_COMMIT_ID: u8 = 2;

    pub fn is_standalone(&self) -> bool {
        self.flags & Self::STANDALONE != 0
    }
}

/// Why a MariaDB event could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("MariaDB {event} event is {len} bytes, too short for its {field}")]
pub struct MariadbEventError {
    pub event: &'static str,
    pub field: &'static str,
    pub len: usize,
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    event: &'static str,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], event: &'static str) -> Self {
        Reader { data, at: 0, event }
    }

    fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], MariadbEventError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(MariadbEventError {
                event: self.event,
                field,
                len: self.data.len(),
            });
        };
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, MariadbEventError> {
        Ok(self.bytes(1, field)?[0])
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, MariadbEventError> {
        let b = self.bytes(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, MariadbEventError> {
        let b = self.bytes(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.at..];
        self.at = self.data.len();
        out
    }
}

/// Parses a GTID event's data; `server_id` comes from the event header.
pub fn parse_gtid(data: &[u8], server_id: u32) -> Result<GtidEvent, MariadbEventError> {
    let mut r = Reader::new(data, "GTID");
    let seq_no = r.u64("sequence number")?;
    let domain_id = r.u32("domain id")?;
    let flags = r.u8("flags")?;
    let commit_id = if flags & GtidEvent::GROUP_COMMIT_ID != 0 {
        Some(r.u64("commit id")?)
    } else {
        None
    };
    Ok(GtidEvent {
        gtid: MariadbGtid {
            domain_id,
            server_id,
            seq_no,
        },
        flags,
        commit_id,
    })
}

/// Parses a GTID_LIST event: the binlog state at the start of a binlog file.
pub fn parse_gtid_list(data: &[u8]) -> Result<Vec<MariadbGtid>, MariadbEventError> {
    let mut r = Reader::new(data, "GTID_LIST");
    // The top 4 bits are flags; the count is the low 28.
    let count = r.u32("count")? & 0x0fff_ffff;
    let mut out = Vec::new();
    for _ in 0..count {
        let domain_id = r.u32("domain id")?;
        let server_id = r.u32("server id")?;
        let seq_no = r.u64("sequence number")?;
        out.push(MariadbGtid {
            domain_id,
            server_id,
            seq_no,
        });
    }
    Ok(out)
}

/// Parses an ANNOTATE_ROWS event: the SQL statement that produced the following rows.
pub fn parse_annotate_rows(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Parses a BINLOG_CHECKPOINT event: the oldest binlog file still needed for crash recovery.
pub fn parse_binlog_checkpoint(data: &[u8]) -> Result<String, MariadbEventError> {
    let mut r = Reader::new(data, "BINLOG_CHECKPOINT");
    let len = r.u32("file name length")? as usize;
    let name = r.bytes(len, "file name")?;
    let _ = r.rest();
    Ok(String::from_utf8_lossy(name).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_with_and_without_commit_id() {
        let mut data = 42u64.to_le_bytes().to_vec();
        data.extend(7u32.to_le_bytes());
        data.push(0);
        let ev = parse_gtid(&data, 3).unwrap();
        assert_eq!(ev.gtid.to_string(), "7-3-42");
        assert!(!ev.is_standalone());
        assert_eq!(ev.commit_id, None);

        data[12] = GtidEvent::GROUP_COMMIT_ID | GtidEvent::STANDALONE;
        data.extend(99u64.to_le_bytes());
        let ev = parse_gtid(&data, 3).unwrap();
        assert!(ev.is_standalone());
        assert_eq!(ev.commit_id, Some(99));
    }

    #[test]
    fn gtid_list_reads_every_entry() {
        let mut data = (2u32 | 0x1000_0000).to_le_bytes().to_vec();
        for (d, s, n) in [(0u32, 1u32, 6u64), (1, 2, 9)] {
            data.extend(d.to_le_bytes());
            data.extend(s.to_le_bytes());
            data.extend(n.to_le_bytes());
        }
        let list = parse_gtid_list(&data).unwrap();
        assert_eq!(
            list.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["0-1-6", "1-2-9"]
        );
    }

    #[test]
    fn truncated_events_are_errors_not_panics() {
        for len in 0..13 {
            assert!(parse_gtid(&vec![0u8; len], 1).is_err());
        }
        let mut data = 5u32.to_le_bytes().to_vec();
        data.extend([0u8; 20]);
        assert!(parse_gtid_list(&data).is_err());
        assert!(parse_binlog_checkpoint(&[9, 0, 0, 0, b'a']).is_err());
        assert_eq!(
            parse_binlog_checkpoint(&[1, 0, 0, 0, b'a']).unwrap(),
            "a".to_string()
        );
    }
}
