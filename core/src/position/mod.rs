//! Replication positions: where in a MySQL/MariaDB binlog stream a change was
//! read, and which transactions have already been applied.
//!
//! Two ways of naming a point in the stream exist and both are modelled here:
//! file coordinates ([`BinlogPosition`], `binlog.000042:1234`) and GTIDs. GTIDs
//! come in two incompatible flavours: MySQL's `UUID[:TAG]:N` with interval sets
//! ([`MysqlGtid`], [`MysqlGtidSet`]) and MariaDB's `DOMAIN-SERVER-SEQ` with one
//! position per domain ([`MariadbGtid`], [`MariadbGtidList`]). [`Gtid`] and
//! [`GtidSet`] wrap either flavour and detect which one a string is.
//!
//! Every type parses from and formats to the text the server itself uses, so
//! values read from `@@gtid_executed` or `SHOW BINARY LOG STATUS` can be stored
//! in checkpoints and handed back to the server unchanged. The GTID types
//! (de)serialize as those strings. Parsing never panics, whatever the input.

pub mod binlog_position;
pub mod gtid_set;
pub mod mariadb_gtid;
pub mod mysql_gtid;

#[cfg(test)]
mod fuzz_tests;

pub use binlog_position::BinlogPosition;
pub use gtid_set::{Gtid, GtidSet};
pub use mariadb_gtid::{MariadbGtid, MariadbGtidList};
pub use mysql_gtid::{MysqlGtid, MysqlGtidSet, Uuid};

/// Why a position or GTID could not be parsed or used.
///
/// Each message quotes the offending input, says what was wrong with it and
/// shows the accepted form, so it can be shown to an operator as is. In every
/// variant `input` is the rejected text and `reason` what is wrong with it.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PositionError {
    /// Not a `FILE:POS` binlog coordinate.
    #[error("binlog position {input:?}: {reason}; expected FILE:POS such as binlog.000001:4")]
    BadBinlogPosition {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Not a server UUID.
    #[error(
        "UUID {input:?}: {reason}; expected 8-4-4-4-12 hex digits such as \
         3e11fa47-71ca-11e1-9e33-c80aa9429562"
    )]
    BadUuid {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Not a single MySQL GTID.
    #[error("MySQL GTID {input:?}: {reason}; expected UUID:N or UUID:TAG:N")]
    BadMysqlGtid {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Not a MySQL GTID set (`@@gtid_executed` form).
    #[error("MySQL GTID set {input:?}: {reason}; expected UUID:1-5:7,UUID:tag:1-3")]
    BadMysqlGtidSet {
        /// The rejected text.
        input: String,
        /// What is wrong with it, naming the offending entry.
        reason: String,
    },

    /// Not a single MariaDB GTID.
    #[error("MariaDB GTID {input:?}: {reason}; expected DOMAIN-SERVER-SEQ such as 0-1-42")]
    BadMariadbGtid {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Not a MariaDB GTID list (`@@gtid_binlog_pos` / `@@gtid_slave_pos` form).
    #[error(
        "MariaDB GTID list {input:?}: {reason}; expected comma-separated \
         DOMAIN-SERVER-SEQ with at most one per domain, such as 0-1-42,1-2-7"
    )]
    BadMariadbGtidList {
        /// The rejected text.
        input: String,
        /// What is wrong with it, naming the offending entry.
        reason: String,
    },

    /// Neither MySQL nor MariaDB GTID syntax.
    #[error(
        "GTID {input:?} is in neither MySQL form (UUID:N, UUID:TAG:N, sets like \
         UUID:1-5:7) nor MariaDB form (DOMAIN-SERVER-SEQ such as 0-1-42)"
    )]
    UnknownGtidForm {
        /// The rejected text.
        input: String,
    },

    /// A GTID of one flavour was added to a non-empty set of the other.
    #[error("cannot add {gtid_flavor} GTID {gtid:?} to a {set_flavor} GTID set")]
    GtidFlavorMismatch {
        /// The GTID that was refused.
        gtid: String,
        /// `"MySQL"` or `"MariaDB"`: the GTID's flavour.
        gtid_flavor: &'static str,
        /// `"MySQL"` or `"MariaDB"`: the set's flavour.
        set_flavor: &'static str,
    },
}

/// Parses a non-empty run of ASCII digits. Unlike `u64::from_str` this rejects
/// a leading `+`, which the servers never print.
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Implements `Serialize`/`Deserialize` as the type's `Display`/`FromStr`
/// string, so checkpoints hold exactly the text the server prints.
macro_rules! serde_as_string {
    ($ty:ty, $expecting:literal) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct StrVisitor;

                impl serde::de::Visitor<'_> for StrVisitor {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }

                deserializer.deserialize_str(StrVisitor)
            }
        }
    };
}
use serde_as_string;
