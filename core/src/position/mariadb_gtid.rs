//! MariaDB GTIDs (`DOMAIN-SERVER-SEQ`) and the per-domain replication state
//! of `@@gtid_binlog_pos` and `@@gtid_slave_pos`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::{serde_as_string, PositionError};

/// One MariaDB transaction identifier, e.g. `0-1-42`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MariadbGtid {
    /// Replication domain: an independent stream of transactions.
    pub domain_id: u32,
    /// `@@server_id` of the server that first committed the transaction.
    pub server_id: u32,
    /// Sequence number within the domain, increasing with each transaction.
    pub seq_no: u64,
}

impl MariadbGtid {
    /// Makes a GTID from its three parts.
    pub fn new(domain_id: u32, server_id: u32, seq_no: u64) -> Self {
        MariadbGtid {
            domain_id,
            server_id,
            seq_no,
        }
    }

    /// Parses `DOMAIN-SERVER-SEQ`: three decimal numbers, the first two
    /// 32-bit, the last 64-bit. Surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, PositionError> {
        parse_gtid(text.trim()).map_err(|reason| PositionError::BadMariadbGtid {
            input: text.to_owned(),
            reason,
        })
    }
}

fn parse_gtid(text: &str) -> Result<MariadbGtid, String> {
    let parts: Vec<&str> = text.split('-').collect();
    let [domain, server, seq] = parts.as_slice() else {
        return Err(format!(
            "has {} '-'-separated parts, expected 3",
            parts.len()
        ));
    };
    Ok(MariadbGtid {
        domain_id: parse_number("domain id", domain, u32::MAX)?,
        server_id: parse_number("server id", server, u32::MAX)?,
        seq_no: parse_number("sequence number", seq, u64::MAX)?,
    })
}

/// Parses one part of a GTID: ASCII digits only (no sign), at most `max`.
fn parse_number<T: FromStr + fmt::Display>(what: &str, part: &str, max: T) -> Result<T, String> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} {part:?} is not a decimal number"));
    }
    // Only digits, so the one way to fail is overflow.
    part.parse()
        .map_err(|_| format!("{what} {part} exceeds the maximum {max}"))
}

impl fmt::Display for MariadbGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain_id, self.server_id, self.seq_no)
    }
}

impl FromStr for MariadbGtid {
    type Err = PositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_string!(MariadbGtid, "a MariaDB GTID string such as 0-1-42");

/// MariaDB replication state: for each domain, the last GTID applied in it,
/// as in `@@gtid_binlog_pos` or `@@gtid_slave_pos` (`0-1-42,1-2-7`).
///
/// Unlike a MySQL GTID set this records no gaps: MariaDB sequence numbers
/// rise monotonically within a domain (in strict mode), so everything up to
/// the stored sequence number counts as applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MariadbGtidList {
    by_domain: BTreeMap<u32, MariadbGtid>,
}

impl MariadbGtidList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses comma-separated GTIDs, at most one per domain. Whitespace around
    /// the GTIDs is ignored and an empty string is an empty list; an empty
    /// entry (`0-1-1,,1-1-1` or a trailing comma) is an error, as in MariaDB.
    pub fn parse(text: &str) -> Result<Self, PositionError> {
        let err = |reason: String| PositionError::BadMariadbGtidList {
            input: text.to_owned(),
            reason,
        };
        let mut list = Self::new();
        if text.trim().is_empty() {
            return Ok(list);
        }
        for entry in text.split(',').map(str::trim) {
            if entry.is_empty() {
                return Err(err("empty entry between commas".to_owned()));
            }
            let gtid =
                parse_gtid(entry).map_err(|reason| err(format!("in {entry:?}: {reason}")))?;
            if let Some(previous) = list.by_domain.insert(gtid.domain_id, gtid) {
                return Err(err(format!(
                    "domain {} appears twice ({previous} and {gtid})",
                    gtid.domain_id
                )));
            }
        }
        Ok(list)
    }

    /// Records `gtid` as the last one applied in its domain, replacing the
    /// domain's previous entry.
    pub fn update(&mut self, gtid: &MariadbGtid) {
        self.by_domain.insert(gtid.domain_id, *gtid);
    }

    /// The last GTID applied in `domain_id`, if any.
    pub fn get(&self, domain_id: u32) -> Option<&MariadbGtid> {
        self.by_domain.get(&domain_id)
    }

    /// Whether `gtid` counts as already applied: its domain has an entry with
    /// a sequence number at least as high. The server id is not compared, as
    /// sequence numbers are per domain whichever server wrote them.
    pub fn contains(&self, gtid: &MariadbGtid) -> bool {
        self.get(gtid.domain_id)
            .is_some_and(|last| gtid.seq_no <= last.seq_no)
    }

    /// The GTIDs in ascending domain order.
    pub fn iter(&self) -> impl Iterator<Item = &MariadbGtid> + '_ {
        self.by_domain.values()
    }

    /// Whether no domain has an entry.
    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }
}

impl fmt::Display for MariadbGtidList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, gtid) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{gtid}")?;
        }
        Ok(())
    }
}

impl FromStr for MariadbGtidList {
    type Err = PositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_string!(
    MariadbGtidList,
    "a MariaDB GTID list string such as 0-1-42,1-2-7"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn gtid(text: &str) -> MariadbGtid {
        MariadbGtid::parse(text).unwrap()
    }

    fn list(text: &str) -> MariadbGtidList {
        MariadbGtidList::parse(text).unwrap()
    }

    #[test]
    fn gtid_parse_and_format() {
        let g = gtid("0-1-42");
        assert_eq!(g, MariadbGtid::new(0, 1, 42));
        assert_eq!(g.to_string(), "0-1-42");
        assert_eq!(gtid(" 7-100-0\n"), MariadbGtid::new(7, 100, 0));
        let max = format!("{}-{}-{}", u32::MAX, u32::MAX, u64::MAX);
        assert_eq!(gtid(&max).to_string(), max);
        // Leading zeros are accepted and dropped.
        assert_eq!(gtid("00-01-0042").to_string(), "0-1-42");
        assert_eq!(
            "1-2-3".parse::<MariadbGtid>().unwrap(),
            MariadbGtid::new(1, 2, 3)
        );
    }

    #[test]
    fn gtid_rejects_malformed() {
        let cases = [
            ("", "has 1 '-'-separated parts"),
            ("0-1", "has 2 '-'-separated parts"),
            ("0-1-2-3", "has 4 '-'-separated parts"),
            ("-1-2", "domain id \"\" is not a decimal number"),
            ("0--2", "server id \"\" is not a decimal number"),
            ("0-1-", "sequence number \"\" is not a decimal number"),
            ("a-1-2", "domain id \"a\" is not"),
            ("+0-1-2", "domain id \"+0\" is not"),
            ("0-1-2x", "sequence number \"2x\" is not"),
            ("0 -1-2", "domain id \"0 \" is not"),
            (
                "4294967296-1-2",
                "domain id 4294967296 exceeds the maximum 4294967295",
            ),
            ("0-4294967296-2", "server id 4294967296 exceeds"),
            (
                "0-1-18446744073709551616",
                "sequence number 18446744073709551616 exceeds",
            ),
            ("0:1:2", "has 1 '-'-separated parts"),
        ];
        for (input, expected) in cases {
            let err = MariadbGtid::parse(input).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(&err, PositionError::BadMariadbGtid { input: i, .. } if i == input),
                "{input:?}: {err:?}"
            );
            assert!(msg.contains(expected), "{input:?}: {msg}");
            assert!(
                msg.contains("expected DOMAIN-SERVER-SEQ such as 0-1-42"),
                "{msg}"
            );
        }
    }

    #[test]
    fn list_parse_and_format() {
        let l = list("1-2-7,0-1-42");
        assert_eq!(l.to_string(), "0-1-42,1-2-7");
        assert_eq!(l.get(0), Some(&MariadbGtid::new(0, 1, 42)));
        assert_eq!(l.get(1), Some(&MariadbGtid::new(1, 2, 7)));
        assert_eq!(l.get(2), None);
        assert_eq!(l.iter().map(|g| g.domain_id).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(list(" 0-1-42 ,\n 1-2-7 "), l);
        assert_eq!(list(&l.to_string()), l);
        assert!(list("").is_empty());
        assert!(list("  \n").is_empty());
        assert_eq!(list("").to_string(), "");
        assert!(!l.is_empty());
    }

    #[test]
    fn list_rejects_malformed() {
        let cases = [
            ("0-1-1,0-2-5", "domain 0 appears twice (0-1-1 and 0-2-5)"),
            ("0-1-1,", "empty entry"),
            (",0-1-1", "empty entry"),
            ("0-1-1,,1-1-1", "empty entry"),
            ("0-1-1,x", "in \"x\": has 1 '-'-separated parts"),
            ("0-1-1 1-1-1", "in \"0-1-1 1-1-1\""),
            ("0-1-1;1-1-1", "has 5 '-'-separated parts"),
        ];
        for (input, expected) in cases {
            let err = MariadbGtidList::parse(input).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(&err, PositionError::BadMariadbGtidList { input: i, .. } if i == input),
                "{input:?}: {err:?}"
            );
            assert!(msg.contains(expected), "{input:?}: {msg}");
        }
    }

    #[test]
    fn update_replaces_domain_entry() {
        let mut l = MariadbGtidList::new();
        l.update(&gtid("0-1-5"));
        l.update(&gtid("2-1-1"));
        l.update(&gtid("0-3-6"));
        assert_eq!(l.to_string(), "0-3-6,2-1-1");
        // Replacement is unconditional: the caller records what it applied.
        l.update(&gtid("0-3-2"));
        assert_eq!(l.get(0), Some(&gtid("0-3-2")));
    }

    #[test]
    fn contains_means_already_applied() {
        let l = list("0-1-42,1-2-7");
        assert!(l.contains(&gtid("0-1-42")));
        assert!(l.contains(&gtid("0-1-1")));
        assert!(l.contains(&gtid("0-9-41")), "server id is irrelevant");
        assert!(!l.contains(&gtid("0-1-43")));
        assert!(l.contains(&gtid("1-2-7")));
        assert!(!l.contains(&gtid("1-2-8")));
        assert!(!l.contains(&gtid("2-1-1")), "unknown domain");
        assert!(!MariadbGtidList::new().contains(&gtid("0-1-0")));
    }

    #[test]
    fn serde_as_strings() {
        let l = list("0-1-42,1-2-7");
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(json, "\"0-1-42,1-2-7\"");
        assert_eq!(serde_json::from_str::<MariadbGtidList>(&json).unwrap(), l);
        assert_eq!(serde_json::to_string(&gtid("0-1-2")).unwrap(), "\"0-1-2\"");
        assert_eq!(
            serde_json::from_str::<MariadbGtid>("\"0-1-2\"").unwrap(),
            gtid("0-1-2")
        );
        let err = serde_json::from_str::<MariadbGtidList>("\"0-1-1,0-1-2\"").unwrap_err();
        assert!(err.to_string().contains("domain 0 appears twice"), "{err}");
        assert!(serde_json::from_str::<MariadbGtid>("[0,1,2]").is_err());
    }
}
