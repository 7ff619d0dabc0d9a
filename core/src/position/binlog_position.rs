//! Binlog file coordinates (`FILE:POS`), the position form that works on every
//! server, with or without GTIDs.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{parse_decimal, PositionError};

/// Lowest valid offset in a binlog file: every file starts with a 4-byte magic
/// number, so the first event is at offset 4.
pub const MIN_BINLOG_POS: u64 = 4;

/// A binlog file name and a byte offset in it, e.g. `binlog.000042:1234`.
///
/// Ordering follows the server's file sequence, not string order: files are
/// compared by base name (before the last `.`), then by the numeric suffix as
/// a number (so `binlog.999999` < `binlog.1000000`, the server widens the
/// suffix past six digits), then by offset. Names without a numeric suffix
/// sort before numbered files of the same base name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BinlogPosition {
    /// Binlog file name as the server reports it, without a directory.
    pub file: String,
    /// Byte offset of an event in `file`; at least [`MIN_BINLOG_POS`] when parsed.
    pub pos: u64,
}

impl BinlogPosition {
    /// Makes a position without validation (the values usually come straight
    /// from the server).
    pub fn new(file: impl Into<String>, pos: u64) -> Self {
        BinlogPosition {
            file: file.into(),
            pos,
        }
    }

    /// Parses `FILE:POS`. The split is at the last `:`, so the file name may
    /// itself contain colons. Surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, PositionError> {
        let err = |reason: String| PositionError::BadBinlogPosition {
            input: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        let (file, pos) = trimmed
            .rsplit_once(':')
            .ok_or_else(|| err("no ':' between file name and offset".to_owned()))?;
        if file.is_empty() {
            return Err(err("file name is empty".to_owned()));
        }
        let pos = parse_decimal(pos).ok_or_else(|| {
            err(format!(
                "offset {pos:?} is not a decimal number that fits in 64 bits"
            ))
        })?;
        if pos < MIN_BINLOG_POS {
            return Err(err(format!(
                "offset {pos} is below {MIN_BINLOG_POS}, the end of the binlog magic header"
            )));
        }
        Ok(BinlogPosition::new(file, pos))
    }

    /// The numeric suffix of the file name, e.g. 123 for `binlog.000123`;
    /// `None` when the name has no all-digit suffix after its last `.`.
    pub fn file_index(&self) -> Option<u64> {
        split_file_name(&self.file).1
    }
}

/// Splits `binlog.000123` into (`binlog`, Some(123)). A name without a numeric
/// suffix is kept whole as the base so that it still orders deterministically.
fn split_file_name(file: &str) -> (&str, Option<u64>) {
    match file.rsplit_once('.') {
        Some((base, suffix)) => match parse_decimal(suffix) {
            Some(index) => (base, Some(index)),
            None => (file, None),
        },
        None => (file, None),
    }
}

impl Ord for BinlogPosition {
    fn cmp(&self, other: &Self) -> Ordering {
        let (base_a, index_a) = split_file_name(&self.file);
        let (base_b, index_b) = split_file_name(&other.file);
        base_a
            .cmp(base_b)
            .then(index_a.cmp(&index_b))
            .then(self.pos.cmp(&other.pos))
            // Only reached for names like `binlog.1` vs `binlog.000001`: keeps
            // `cmp` consistent with `Eq`, which compares the names exactly.
            .then_with(|| self.file.cmp(&other.file))
    }
}

impl PartialOrd for BinlogPosition {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

impl FromStr for BinlogPosition {
    type Err = PositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> BinlogPosition {
        BinlogPosition::parse(text).unwrap()
    }

    #[test]
    fn parses_and_formats() {
        let pos = p("binlog.000001:4");
        assert_eq!(pos, BinlogPosition::new("binlog.000001", 4));
        assert_eq!(pos.to_string(), "binlog.000001:4");
        assert_eq!(
            p("  mysql-bin.000123:1234\n").to_string(),
            "mysql-bin.000123:1234"
        );
        assert_eq!(
            "binlog.000002:157".parse::<BinlogPosition>().unwrap(),
            p("binlog.000002:157")
        );
    }

    #[test]
    fn splits_at_last_colon() {
        let pos = p("host:1:binlog.000007:99");
        assert_eq!(pos.file, "host:1:binlog.000007");
        assert_eq!(pos.pos, 99);
        assert_eq!(p(&pos.to_string()), pos);
    }

    #[test]
    fn accepts_largest_offset() {
        let text = format!("binlog.000001:{}", u64::MAX);
        assert_eq!(p(&text).pos, u64::MAX);
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "",
            "binlog.000001",
            ":4",
            "binlog.000001:",
            "binlog.000001:abc",
            "binlog.000001:+5",
            "binlog.000001:-5",
            "binlog.000001: 5",
            "binlog.000001:0",
            "binlog.000001:3",
            "binlog.000001:18446744073709551616",
        ] {
            let err = BinlogPosition::parse(bad).unwrap_err();
            assert!(
                matches!(&err, PositionError::BadBinlogPosition { input, .. } if input == bad),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn error_messages_explain() {
        let msg = BinlogPosition::parse("binlog.000001:3")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "binlog position \"binlog.000001:3\": offset 3 is below 4, the end of the binlog \
             magic header; expected FILE:POS such as binlog.000001:4"
        );
        let msg = BinlogPosition::parse("binlog.000001")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no ':'"), "{msg}");
        let msg = BinlogPosition::parse(":4").unwrap_err().to_string();
        assert!(msg.contains("file name is empty"), "{msg}");
        let msg = BinlogPosition::parse("f:x").unwrap_err().to_string();
        assert!(
            msg.contains("offset \"x\" is not a decimal number"),
            "{msg}"
        );
    }

    #[test]
    fn file_index() {
        assert_eq!(p("binlog.000123:4").file_index(), Some(123));
        assert_eq!(p("binlog.1000000:4").file_index(), Some(1_000_000));
        assert_eq!(p("mysql-bin.000000:4").file_index(), Some(0));
        assert_eq!(p("binlog:4").file_index(), None);
        assert_eq!(p("binlog.:4").file_index(), None);
        assert_eq!(p("binlog.00a1:4").file_index(), None);
        assert_eq!(p("binlog.99999999999999999999999:4").file_index(), None);
    }

    #[test]
    fn orders_by_file_number_then_offset() {
        assert!(p("binlog.000001:1000") < p("binlog.000002:4"));
        assert!(p("binlog.000002:4") < p("binlog.000002:5"));
        // Lexicographically "binlog.999999" > "binlog.1000000"; numerically not.
        assert!(p("binlog.999999:4") < p("binlog.1000000:4"));
        assert!(p("binlog.999999:999999") < p("binlog.1000000:4"));
        assert!(p("binlog.000009:4") < p("binlog.000010:4"));
        assert_eq!(
            p("binlog.000003:77").cmp(&p("binlog.000003:77")),
            Ordering::Equal
        );
    }

    #[test]
    fn orders_by_base_name_first() {
        assert!(p("a.000009:4") < p("b.000001:4"));
        // A name without a numeric suffix sorts before numbered files of that base.
        assert!(p("binlog:99") < p("binlog.000001:4"));
    }

    #[test]
    fn ordering_is_consistent_with_eq() {
        let short = p("binlog.1:4");
        let padded = p("binlog.000001:4");
        assert_ne!(short, padded);
        assert_ne!(short.cmp(&padded), Ordering::Equal);
        assert_eq!(short.cmp(&padded), padded.cmp(&short).reverse());
        // Same file number: the offset still decides before the spelling does.
        assert!(p("binlog.000001:5") > p("binlog.1:4"));
    }

    #[test]
    fn sorting_a_list() {
        let mut list = [
            p("binlog.1000000:4"),
            p("binlog.000010:120"),
            p("binlog.999999:4"),
            p("binlog.000010:4"),
            p("binlog.000002:4"),
        ];
        list.sort();
        let sorted: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(
            sorted,
            [
                "binlog.000002:4",
                "binlog.000010:4",
                "binlog.000010:120",
                "binlog.999999:4",
                "binlog.1000000:4"
            ]
        );
    }

    #[test]
    fn serde_round_trip() {
        let pos = p("binlog.000042:1234");
        let json = serde_json::to_string(&pos).unwrap();
        assert_eq!(json, r#"{"file":"binlog.000042","pos":1234}"#);
        assert_eq!(serde_json::from_str::<BinlogPosition>(&json).unwrap(), pos);
    }
}
