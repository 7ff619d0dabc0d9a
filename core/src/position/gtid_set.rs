//! Flavour-independent GTIDs and GTID sets: one type for MySQL and MariaDB
//! values, with the flavour detected from the text, for code (checkpoints,
//! configuration) that must handle either server.

use std::fmt;
use std::str::FromStr;

use super::mariadb_gtid::{MariadbGtid, MariadbGtidList};
use super::mysql_gtid::{MysqlGtid, MysqlGtidSet};
use super::{serde_as_string, PositionError};

/// Which server family a GTID belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    Mysql,
    Mariadb,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::Mysql => "MySQL",
            Flavor::Mariadb => "MariaDB",
        }
    }

    /// Guesses the flavour of one GTID or set entry from its shape only; the
    /// flavour's own parser then reports precise errors. MariaDB: exactly three
    /// decimal numbers joined by `-`. MySQL: a UUID-shaped (36 characters,
    /// hyphens at the UUID positions) first `:`-separated element.
    fn detect(entry: &str) -> Option<Flavor> {
        let entry = entry.trim();
        let mut parts = 0;
        let mariadb_shaped = entry.split('-').all(|part| {
            parts += 1;
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
        }) && parts == 3;
        if mariadb_shaped {
            return Some(Flavor::Mariadb);
        }
        let head = entry
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .as_bytes();
        let uuid_shaped =
            head.len() == 36 && [8, 13, 18, 23].iter().all(|&i| head.get(i) == Some(&b'-'));
        uuid_shaped.then_some(Flavor::Mysql)
    }
}

/// A single GTID of either flavour.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Gtid {
    /// `UUID:N` or `UUID:TAG:N`.
    Mysql(MysqlGtid),
    /// `DOMAIN-SERVER-SEQ`.
    Mariadb(MariadbGtid),
}

impl Gtid {
    /// Parses a GTID of either flavour, telling them apart by shape: three
    /// decimal numbers joined by `-` are MariaDB, a leading UUID is MySQL,
    /// anything else is [`PositionError::UnknownGtidForm`].
    pub fn parse(text: &str) -> Result<Self, PositionError> {
        match Flavor::detect(text) {
            Some(Flavor::Mysql) => MysqlGtid::parse(text).map(Gtid::Mysql),
            Some(Flavor::Mariadb) => MariadbGtid::parse(text).map(Gtid::Mariadb),
            None => Err(PositionError::UnknownGtidForm {
                input: text.to_owned(),
            }),
        }
    }

    fn flavor(&self) -> Flavor {
        match self {
            Gtid::Mysql(_) => Flavor::Mysql,
            Gtid::Mariadb(_) => Flavor::Mariadb,
        }
    }
}

impl From<MysqlGtid> for Gtid {
    fn from(gtid: MysqlGtid) -> Self {
        Gtid::Mysql(gtid)
    }
}

impl From<MariadbGtid> for Gtid {
    fn from(gtid: MariadbGtid) -> Self {
        Gtid::Mariadb(gtid)
    }
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gtid::Mysql(gtid) => gtid.fmt(f),
            Gtid::Mariadb(gtid) => gtid.fmt(f),
        }
    }
}

impl FromStr for Gtid {
    type Err = PositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_string!(
    Gtid,
    "a MySQL (UUID:N) or MariaDB (DOMAIN-SERVER-SEQ) GTID string"
);

/// The applied transactions of either flavour: a MySQL GTID set or a MariaDB
/// per-domain GTID list.
///
/// An empty set prints as `""` in both flavours, so its flavour cannot
/// survive a round trip through text. Therefore `""` parses as an empty
/// MySQL set, an empty set of either flavour takes on the flavour of the first
/// GTID [`add`](GtidSet::add)ed to it, and all empty sets compare equal.
#[derive(Clone, Debug)]
pub enum GtidSet {
    /// MySQL GTID set, e.g. `UUID:1-5:7,UUID:tag:1-3`.
    Mysql(MysqlGtidSet),
    /// MariaDB GTID list, e.g. `0-1-42,1-2-7`.
    Mariadb(MariadbGtidList),
}

impl GtidSet {
    /// Parses a GTID set of either flavour, detected from its first non-empty
    /// entry like [`Gtid::parse`] does. Blank text is an empty MySQL set.
    pub fn parse(text: &str) -> Result<Self, PositionError> {
        let Some(first) = text.split(',').map(str::trim).find(|e| !e.is_empty()) else {
            return Ok(GtidSet::Mysql(MysqlGtidSet::new()));
        };
        match Flavor::detect(first) {
            Some(Flavor::Mysql) => MysqlGtidSet::parse(text).map(GtidSet::Mysql),
            Some(Flavor::Mariadb) => MariadbGtidList::parse(text).map(GtidSet::Mariadb),
            None => Err(PositionError::UnknownGtidForm {
                input: text.to_owned(),
            }),
        }
    }

    /// Records `gtid` as applied: added to a MySQL set, or made the latest of
    /// its domain in a MariaDB list. Fails if the set is non-empty and of the
    /// other flavour, or if a hand-built MySQL GTID is invalid.
    pub fn add(&mut self, gtid: &Gtid) -> Result<(), PositionError> {
        if self.is_empty() && self.flavor() != gtid.flavor() {
            *self = match gtid.flavor() {
                Flavor::Mysql => GtidSet::Mysql(MysqlGtidSet::new()),
                Flavor::Mariadb => GtidSet::Mariadb(MariadbGtidList::new()),
            };
        }
        match (self, gtid) {
            (GtidSet::Mysql(set), Gtid::Mysql(gtid)) => set.add(gtid),
            (GtidSet::Mariadb(list), Gtid::Mariadb(gtid)) => {
                list.update(gtid);
                Ok(())
            }
            (set, gtid) => Err(PositionError::GtidFlavorMismatch {
                gtid: gtid.to_string(),
                gtid_flavor: gtid.flavor().name(),
                set_flavor: set.flavor().name(),
            }),
        }
    }

    /// Whether `gtid` is already applied; always false across flavours.
    pub fn contains(&self, gtid: &Gtid) -> bool {
        match (self, gtid) {
            (GtidSet::Mysql(set), Gtid::Mysql(gtid)) => set.contains(gtid),
            (GtidSet::Mariadb(list), Gtid::Mariadb(gtid)) => list.contains(gtid),
            _ => false,
        }
    }

    /// Whether no transaction is recorded.
    pub fn is_empty(&self) -> bool {
        match self {
            GtidSet::Mysql(set) => set.is_empty(),
            GtidSet::Mariadb(list) => list.is_empty(),
        }
    }

    fn flavor(&self) -> Flavor {
        match self {
            GtidSet::Mysql(_) => Flavor::Mysql,
            GtidSet::Mariadb(_) => Flavor::Mariadb,
        }
    }
}

/// Equal contents of the same flavour, or both empty (an empty set has no
/// flavour once stored as text, see [`GtidSet`]).
impl PartialEq for GtidSet {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (GtidSet::Mysql(a), GtidSet::Mysql(b)) => a == b,
            (GtidSet::Mariadb(a), GtidSet::Mariadb(b)) => a == b,
            _ => self.is_empty() && other.is_empty(),
        }
    }
}

impl Eq for GtidSet {}

impl From<MysqlGtidSet> for GtidSet {
    fn from(set: MysqlGtidSet) -> Self {
        GtidSet::Mysql(set)
    }
}

impl From<MariadbGtidList> for GtidSet {
    fn from(list: MariadbGtidList) -> Self {
        GtidSet::Mariadb(list)
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidSet::Mysql(set) => set.fmt(f),
            GtidSet::Mariadb(list) => list.fmt(f),
        }
    }
}

impl FromStr for GtidSet {
    type Err = PositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_string!(GtidSet, "a MySQL GTID set or MariaDB GTID list string");

#[cfg(test)]
mod tests {
    use super::*;

    const U1: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const U2: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

    fn gtid(text: &str) -> Gtid {
        Gtid::parse(text).unwrap()
    }

    fn set(text: &str) -> GtidSet {
        GtidSet::parse(text).unwrap()
    }

    #[test]
    fn gtid_detects_flavour() {
        let g = gtid(&format!("{U1}:42"));
        assert!(matches!(&g, Gtid::Mysql(m) if m.gno == 42 && m.tag.is_none()));
        assert_eq!(g.to_string(), format!("{U1}:42"));
        let g = gtid(&format!("{U1}:Tag:7"));
        assert!(matches!(&g, Gtid::Mysql(m) if m.tag.as_deref() == Some("tag")));
        assert_eq!(g.to_string(), format!("{U1}:tag:7"));
        let g = gtid(" 0-1-42 ");
        assert_eq!(g, Gtid::Mariadb(MariadbGtid::new(0, 1, 42)));
        assert_eq!(g.to_string(), "0-1-42");
        assert_eq!(
            "1-2-3".parse::<Gtid>().unwrap(),
            Gtid::from(MariadbGtid::new(1, 2, 3))
        );
    }

    #[test]
    fn gtid_unknown_forms() {
        for bad in [
            "",
            "   ",
            "abc",
            "1-2",
            "1-2-3-4",
            "0-1-x",
            "-1-2",
            "3e11fa47:5",
            "3e11fa4771ca11e19e33c80aa9429562:5",
            "3e11fa47-71ca-11e1-9e33-c80aa942956:5",
            "binlog.000001:4",
        ] {
            assert_eq!(
                Gtid::parse(bad),
                Err(PositionError::UnknownGtidForm {
                    input: bad.to_owned()
                }),
                "{bad:?}"
            );
        }
        let msg = Gtid::parse("abc").unwrap_err().to_string();
        assert!(
            msg.contains("\"abc\"") && msg.contains("UUID:N") && msg.contains("0-1-42"),
            "{msg}"
        );
    }

    #[test]
    fn gtid_reports_flavour_specific_errors() {
        // Recognisable shape, bad content: the flavour's own error explains it.
        let err = Gtid::parse(&format!("{U1}:0")).unwrap_err();
        assert!(matches!(err, PositionError::BadMysqlGtid { .. }), "{err:?}");
        let err = Gtid::parse("3e11fa47-71ca-11e1-9e33-c80aa942956z:1").unwrap_err();
        assert!(matches!(err, PositionError::BadMysqlGtid { .. }), "{err:?}");
        let err = Gtid::parse(&format!("{U1}:1-5")).unwrap_err();
        assert!(matches!(err, PositionError::BadMysqlGtid { .. }), "{err:?}");
        let err = Gtid::parse("0-1-99999999999999999999").unwrap_err();
        assert!(
            matches!(err, PositionError::BadMariadbGtid { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn set_detects_flavour() {
        let s = set(&format!("{U1}:1-5:7:mytag:1-3,\n{U2}:1-9\n"));
        assert!(matches!(s, GtidSet::Mysql(_)));
        assert_eq!(s.to_string(), format!("{U1}:1-5:7:mytag:1-3,{U2}:1-9"));
        let s = set("1-2-7, 0-1-42");
        assert!(matches!(s, GtidSet::Mariadb(_)));
        assert_eq!(s.to_string(), "0-1-42,1-2-7");
        // Detection skips leading empty entries, which MySQL allows.
        assert!(matches!(set(&format!(",{U1}:1")), GtidSet::Mysql(_)));
    }

    #[test]
    fn set_empty_is_mysql_and_equal_to_any_empty() {
        let empty = set("");
        assert!(matches!(&empty, GtidSet::Mysql(s) if s.is_empty()));
        assert!(set(" \n").is_empty());
        assert_eq!(empty, GtidSet::Mariadb(MariadbGtidList::new()));
        assert_ne!(set("0-1-1"), set(&format!("{U1}:1")));
        assert_ne!(set("0-1-1"), empty);
    }

    #[test]
    fn set_errors() {
        for bad in ["abc", "1-2", "x,0-1-1"] {
            assert_eq!(
                GtidSet::parse(bad),
                Err(PositionError::UnknownGtidForm {
                    input: bad.to_owned()
                })
            );
        }
        let err = GtidSet::parse(&format!("{U1}:1,0-1-1")).unwrap_err();
        assert!(
            matches!(err, PositionError::BadMysqlGtidSet { .. }),
            "{err:?}"
        );
        let err = GtidSet::parse(&format!("0-1-1,{U1}:1")).unwrap_err();
        assert!(
            matches!(err, PositionError::BadMariadbGtidList { .. }),
            "{err:?}"
        );
        let err = GtidSet::parse("0-1-1,0-2-2").unwrap_err();
        assert!(
            matches!(err, PositionError::BadMariadbGtidList { .. }),
            "{err:?}"
        );
        let err = GtidSet::parse(&format!("{U1}:5-3")).unwrap_err();
        assert!(err.to_string().contains("ends before it starts"), "{err}");
    }

    #[test]
    fn add_and_contains() {
        let mut s = set(&format!("{U1}:1-3"));
        s.add(&gtid(&format!("{U1}:4"))).unwrap();
        s.add(&gtid(&format!("{U1}:t:1"))).unwrap();
        assert_eq!(s.to_string(), format!("{U1}:1-4:t:1"));
        assert!(s.contains(&gtid(&format!("{U1}:2"))));
        assert!(!s.contains(&gtid(&format!("{U1}:5"))));
        assert!(!s.contains(&gtid("0-1-1")));

        let mut m = set("0-1-10");
        m.add(&gtid("0-2-11")).unwrap();
        m.add(&gtid("3-1-1")).unwrap();
        assert_eq!(m.to_string(), "0-2-11,3-1-1");
        assert!(m.contains(&gtid("0-1-5")));
        assert!(!m.contains(&gtid("0-1-12")));
        assert!(!m.contains(&gtid(&format!("{U1}:1"))));
    }

    #[test]
    fn add_rejects_other_flavour() {
        let mut s = set(&format!("{U1}:1"));
        let before = s.clone();
        let err = s.add(&gtid("0-1-1")).unwrap_err();
        assert_eq!(
            err,
            PositionError::GtidFlavorMismatch {
                gtid: "0-1-1".to_owned(),
                gtid_flavor: "MariaDB",
                set_flavor: "MySQL",
            }
        );
        assert_eq!(
            err.to_string(),
            "cannot add MariaDB GTID \"0-1-1\" to a MySQL GTID set"
        );
        assert_eq!(s, before);

        let mut m = set("0-1-1");
        let err = m.add(&gtid(&format!("{U1}:1"))).unwrap_err();
        assert!(matches!(
            err,
            PositionError::GtidFlavorMismatch {
                set_flavor: "MariaDB",
                ..
            }
        ));
    }

    #[test]
    fn empty_set_takes_flavour_of_first_gtid() {
        let mut s = set("");
        s.add(&gtid("0-1-5")).unwrap();
        assert!(matches!(s, GtidSet::Mariadb(_)));
        assert_eq!(s.to_string(), "0-1-5");

        let mut s = GtidSet::Mariadb(MariadbGtidList::new());
        s.add(&gtid(&format!("{U1}:1"))).unwrap();
        assert!(matches!(s, GtidSet::Mysql(_)));
        assert_eq!(s.to_string(), format!("{U1}:1"));
    }

    #[test]
    fn add_rejects_invalid_hand_built_mysql_gtid() {
        let mut s = set("");
        let bad = MysqlGtid {
            uuid: "3e11fa47-71ca-11e1-9e33-c80aa9429562".parse().unwrap(),
            tag: None,
            gno: 0,
        };
        let err = s.add(&Gtid::Mysql(bad)).unwrap_err();
        assert!(matches!(err, PositionError::BadMysqlGtid { .. }), "{err:?}");
    }

    #[test]
    fn serde_as_strings() {
        for text in [
            format!("{U1}:1-5:7:mytag:1-3,{U2}:1"),
            "0-1-42,1-2-7".to_owned(),
            String::new(),
        ] {
            let s = set(&text);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<GtidSet>(&json).unwrap(), s);
        }
        for text in [format!("{U1}:t:5"), "0-1-42".to_owned()] {
            let g = gtid(&text);
            let json = serde_json::to_string(&g).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Gtid>(&json).unwrap(), g);
        }
        let err = serde_json::from_str::<Gtid>("\"nope\"").unwrap_err();
        assert!(err.to_string().contains("neither MySQL form"), "{err}");
        // A MariaDB list that became empty still round-trips to an equal value.
        let empty = GtidSet::Mariadb(MariadbGtidList::new());
        let back: GtidSet = serde_json::from_str(&serde_json::to_string(&empty).unwrap()).unwrap();
        assert_eq!(back, empty);
    }
}
