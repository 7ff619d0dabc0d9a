//! MySQL GTIDs (`UUID:N`, and MySQL 8.4+ tagged `UUID:TAG:N`) and GTID sets
//! in the text form of `@@gtid_executed`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::{serde_as_string, PositionError};

/// Largest transaction number MySQL accepts (`GNO_END - 1`; the server stores
/// numbers as signed 64-bit values and reserves `i64::MAX`).
pub const MAX_GNO: u64 = i64::MAX as u64 - 1;

/// Longest tag MySQL accepts, in characters.
pub const MAX_TAG_LEN: usize = 32;

/// A 128-bit server UUID (`@@server_uuid`), the source part of a MySQL GTID.
///
/// Ordered by bytes, which is also the order of the lowercase text form and
/// the order MySQL prints GTID sets in.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Parses the 36-character hyphenated form, hex digits in either case.
    pub fn parse(text: &str) -> Result<Self, PositionError> {
        parse_uuid(text).map_err(|reason| PositionError::BadUuid {
            input: text.to_owned(),
            reason,
        })
    }
}

/// Hyphen positions in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
const UUID_HYPHENS: [usize; 4] = [8, 13, 18, 23];
const UUID_TEXT_LEN: usize = 36;

fn parse_uuid(text: &str) -> Result<Uuid, String> {
    let bytes = text.as_bytes();
    if bytes.len() != UUID_TEXT_LEN {
        return Err(format!(
            "UUID {text:?} is {} bytes long, not {UUID_TEXT_LEN}",
            bytes.len()
        ));
    }
    let mut out = [0u8; 16];
    let mut nibble = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if UUID_HYPHENS.contains(&i) {
            if b != b'-' {
                return Err(format!("UUID {text:?} lacks a '-' at offset {i}"));
            }
            continue;
        }
        let value = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => {
                return Err(format!(
                    "UUID {text:?} has a non-hex character at offset {i}"
                ))
            }
        };
        // 32 hex digits fill 16 bytes, high nibble first.
        out[nibble / 2] |= if nibble % 2 == 0 { value << 4 } else { value };
        nibble += 1;
    }
    Ok(Uuid(out))
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

impl FromStr for Uuid {
    type Err = PositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_string!(Uuid, "a hyphenated UUID string");

/// Checks a tag and returns it lowercased, as MySQL stores it: 1 to 32
/// characters, a letter or `_` first, then letters, digits or `_`. Borrows
/// when the tag is already lowercase, so lookups do not allocate.
fn normalize_tag(tag: &str) -> Result<Cow<'_, str>, String> {
    let mut bytes = tag.bytes().map(|b| b.to_ascii_lowercase());
    let valid_first = matches!(bytes.next(), Some(b'a'..=b'z' | b'_'));
    if !valid_first || !bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_')) {
        return Err(format!(
            "tag {tag:?} must be a letter or '_' followed by letters, digits or '_'"
        ));
    }
    // Only ASCII is left, so bytes are characters.
    if tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "tag {tag:?} is {} characters long, more than {MAX_TAG_LEN}",
            tag.len()
        ));
    }
    if tag.bytes().any(|b| b.is_ascii_uppercase()) {
        Ok(Cow::Owned(tag.to_ascii_lowercase()))
    } else {
        Ok(Cow::Borrowed(tag))
    }
}

/// Parses a transaction number: 1 to [`MAX_GNO`].
fn parse_gno(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} is not a transaction number (a positive decimal integer)"
        ));
    }
    match text.parse::<u64>() {
        Ok(0) => Err("transaction number 0 is invalid; numbering starts at 1".to_owned()),
        Ok(gno) if gno <= MAX_GNO => Ok(gno),
        // All digits, so the only other failure is overflow.
        _ => Err(format!(
            "transaction number {text} exceeds the maximum {MAX_GNO}"
        )),
    }
}

/// Whether a `:`-separated element of a GTID is a tag rather than a number.
fn looks_like_tag(element: &str) -> bool {
    element
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
}

/// One MySQL transaction identifier: the originating server's UUID, an
/// optional tag (MySQL 8.4+) and the transaction number.
///
/// Built by [`MysqlGtid::parse`] or [`MysqlGtid::new`], the tag is lowercase
/// and `gno` is in 1..=[`MAX_GNO`]; the fields are public, so a value built
/// by hand may break that, and [`MysqlGtidSet::add`] checks it again.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MysqlGtid {
    /// UUID of the server that first committed the transaction.
    pub uuid: Uuid,
    /// Tag of a tagged GTID, lowercase; `None` for classic GTIDs.
    pub tag: Option<String>,
    /// Transaction number, from 1.
    pub gno: u64,
}

impl MysqlGtid {
    /// Makes a GTID, checking the tag (and lowercasing it) and the number.
    pub fn new(uuid: Uuid, tag: Option<&str>, gno: u64) -> Result<Self, PositionError> {
        let err = |reason: String| PositionError::BadMysqlGtid {
            input: match tag {
                Some(tag) => format!("{uuid}:{tag}:{gno}"),
                None => format!("{uuid}:{gno}"),
            },
            reason,
        };
        let tag = tag
            .map(|tag| normalize_tag(tag).map(Cow::into_owned))
            .transpose()
            .map_err(err)?;
        if gno == 0 || gno > MAX_GNO {
            return Err(err(format!("transaction number must be 1 to {MAX_GNO}")));
        }
        Ok(MysqlGtid { uuid, tag, gno })
    }

    /// Parses `UUID:N` or `UUID:TAG:N`. Whitespace around the whole string and
    /// around each element is ignored, as MySQL does.
    pub fn parse(text: &str) -> Result<Self, PositionError> {
        Self::parse_parts(text).map_err(|reason| PositionError::BadMysqlGtid {
            input: text.to_owned(),
            reason,
        })
    }

    fn parse_parts(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(':').map(str::trim).collect();
        let (uuid, tag, gno) = match parts.as_slice() {
            [uuid, gno] => (uuid, None, gno),
            [uuid, tag, gno] => (uuid, Some(*tag), gno),
            _ => {
                return Err(format!(
                    "has {} ':'-separated elements, expected 2 or 3",
                    parts.len()
                ))
            }
        };
        let uuid = parse_uuid(uuid)?;
        let tag = tag
            .map(|tag| normalize_tag(tag).map(Cow::into_owned))
            .transpose()?;
        let gno = parse_gno(gno)?;
        Ok(MysqlGtid { uuid, tag, gno })
    }

    /// The tag as a lookup key in [`MysqlGtidSet`], or `None` if the tag is
    /// not valid and so cannot be in any set. Lowercases hand-built tags.
    fn tag_key(&self) -> Option<Cow<'_, str>> {
        match self.tag.as_deref() {
            None => Some(Cow::Borrowed(UNTAGGED)),
            Some(tag) => normalize_tag(tag).ok(),
        }
    }
}

impl fmt::Display for MysqlGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tag {
            Some(tag) => write!(f, "{}:{}:{}", self.uuid, tag, self.gno),
            None => write!(f, "{}:{}", self.uuid, self.gno),
        }
    }
}

impl FromStr for MysqlGtid {
    type Err = PositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_string!(
    MysqlGtid,
    "a MySQL GTID string such as UUID:N or UUID:TAG:N"
);

/// Key of the untagged intervals of a UUID. Tags are never empty, and `""`
/// sorts before every tag, which is the order MySQL prints them in.
const UNTAGGED: &str = "";

/// Inclusive interval of transaction numbers.
type Interval = (u64, u64);

/// A set of MySQL GTIDs, as in `@@gtid_executed` or `@@gtid_purged`.
///
/// Per (UUID, tag) it keeps sorted, disjoint, non-adjacent inclusive
/// intervals, merging on insert, so equal sets compare equal and print the
/// same text. Printing gives MySQL's canonical form (entries joined by `,`
/// without the newline MySQL adds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MysqlGtidSet {
    // uuid -> tag ("" when untagged) -> intervals. Neither map nor any vector
    // is ever left empty, so the derived equality is set equality.
    sets: BTreeMap<Uuid, BTreeMap<String, Vec<Interval>>>,
}

impl MysqlGtidSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses MySQL's text form: comma-separated entries
    /// `UUID(:INTERVAL|:TAG)*`, where an interval is `N` or `N-M` and a tag
    /// applies to the intervals after it, e.g.
    /// `3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7:mytag:1-3`. Whitespace and
    /// newlines around elements are ignored; an empty string (or empty
    /// entries, as MySQL allows) adds nothing; a UUID may appear in several
    /// entries and its intervals are merged.
    pub fn parse(text: &str) -> Result<Self, PositionError> {
        let mut set = Self::new();
        for entry in text.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            set.parse_entry(entry)
                .map_err(|reason| PositionError::BadMysqlGtidSet {
                    input: text.to_owned(),
                    reason: format!("in {entry:?}: {reason}"),
                })?;
        }
        Ok(set)
    }

    fn parse_entry(&mut self, entry: &str) -> Result<(), String> {
        let mut elements = entry.split(':').map(str::trim);
        let uuid = parse_uuid(elements.next().unwrap_or_default())?;
        let mut tag = Cow::Borrowed(UNTAGGED);
        for element in elements {
            if element.is_empty() {
                return Err("empty element between ':' separators".to_owned());
            }
            if looks_like_tag(element) {
                tag = normalize_tag(element)?;
                continue;
            }
            let (start, end) = match element.split_once('-') {
                Some((start, end)) => (parse_gno(start.trim())?, parse_gno(end.trim())?),
                None => {
                    let gno = parse_gno(element)?;
                    (gno, gno)
                }
            };
            if start > end {
                return Err(format!("interval {start}-{end} ends before it starts"));
            }
            self.insert(uuid, &tag, start, end);
        }
        Ok(())
    }

    /// Adds one GTID. Fails if it was built by hand with a number outside
    /// 1..=[`MAX_GNO`] or an invalid tag; an uppercase tag is lowercased.
    pub fn add(&mut self, gtid: &MysqlGtid) -> Result<(), PositionError> {
        let err = |reason: String| PositionError::BadMysqlGtid {
            input: gtid.to_string(),
            reason,
        };
        let tag = match gtid.tag.as_deref() {
            Some(tag) => normalize_tag(tag).map_err(err)?,
            None => Cow::Borrowed(UNTAGGED),
        };
        if gtid.gno == 0 || gtid.gno > MAX_GNO {
            return Err(err(format!("transaction number must be 1 to {MAX_GNO}")));
        }
        self.insert(gtid.uuid, &tag, gtid.gno, gtid.gno);
        Ok(())
    }

    /// Adds the transactions `start..=end` of `uuid` (and `tag`, if any).
    pub fn add_interval(
        &mut self,
        uuid: Uuid,
        tag: Option<&str>,
        start: u64,
        end: u64,
    ) -> Result<(), PositionError> {
        let err = |reason: String| PositionError::BadMysqlGtidSet {
            input: match tag {
                Some(tag) => format!("{uuid}:{tag}:{start}-{end}"),
                None => format!("{uuid}:{start}-{end}"),
            },
            reason,
        };
        let tag = match tag {
            Some(tag) => normalize_tag(tag).map_err(err)?,
            None => Cow::Borrowed(UNTAGGED),
        };
        if start == 0 || end > MAX_GNO {
            return Err(err(format!("transaction numbers must be 1 to {MAX_GNO}")));
        }
        if start > end {
            return Err(err(format!("interval {start}-{end} ends before it starts")));
        }
        self.insert(uuid, &tag, start, end);
        Ok(())
    }

    /// Merges an already validated interval into the set.
    fn insert(&mut self, uuid: Uuid, tag: &str, start: u64, end: u64) {
        let tags = self.sets.entry(uuid).or_default();
        match tags.get_mut(tag) {
            Some(intervals) => merge_interval(intervals, start, end),
            None => {
                tags.insert(tag.to_owned(), vec![(start, end)]);
            }
        }
    }

    /// Whether the GTID is in the set.
    pub fn contains(&self, gtid: &MysqlGtid) -> bool {
        let Some(tag) = gtid.tag_key() else {
            return false;
        };
        self.sets
            .get(&gtid.uuid)
            .and_then(|tags| tags.get(&*tag))
            .is_some_and(|intervals| covers(intervals, gtid.gno, gtid.gno))
    }

    /// The sorted, disjoint intervals of one UUID and tag, if it has any.
    pub fn intervals(&self, uuid: &Uuid, tag: Option<&str>) -> Option<&[(u64, u64)]> {
        self.sets
            .get(uuid)?
            .get(tag.unwrap_or(UNTAGGED))
            .map(Vec::as_slice)
    }

    /// Whether every GTID of `self` is also in `other`.
    pub fn is_subset_of(&self, other: &Self) -> bool {
        self.iter().all(|(uuid, tag, intervals)| {
            other.intervals(uuid, tag).is_some_and(|theirs| {
                intervals
                    .iter()
                    .all(|&(start, end)| covers(theirs, start, end))
            })
        })
    }

    /// Adds every GTID of `other` to `self`.
    pub fn union(&mut self, other: &Self) {
        for (uuid, tags) in &other.sets {
            for (tag, intervals) in tags {
                for &(start, end) in intervals {
                    self.insert(*uuid, tag, start, end);
                }
            }
        }
    }

    /// Whether the set holds no GTID.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The (UUID, tag, intervals) groups in canonical order: UUIDs ascending,
    /// the untagged group of a UUID first, then its tags ascending.
    pub fn iter(&self) -> impl Iterator<Item = (&Uuid, Option<&str>, &[(u64, u64)])> + '_ {
        self.sets.iter().flat_map(|(uuid, tags)| {
            tags.iter().map(move |(tag, intervals)| {
                let tag = Some(tag.as_str()).filter(|t| !t.is_empty());
                (uuid, tag, intervals.as_slice())
            })
        })
    }
}

/// Inserts `start..=end` into sorted, disjoint, non-adjacent intervals,
/// merging it with every interval it overlaps or touches.
fn merge_interval(intervals: &mut Vec<Interval>, start: u64, end: u64) {
    // First interval that reaches `start - 1` or later: it can merge or follows.
    let first = intervals.partition_point(|&(_, e)| e.saturating_add(1) < start);
    // First interval that starts after `end + 1`: it and later ones stay apart.
    let last = intervals.partition_point(|&(s, _)| s <= end.saturating_add(1));
    if first == last {
        intervals.insert(first, (start, end));
        return;
    }
    let merged_start = intervals.get(first).map_or(start, |&(s, _)| s.min(start));
    let merged_end = intervals.get(last - 1).map_or(end, |&(_, e)| e.max(end));
    intervals.splice(first..last, [(merged_start, merged_end)]);
}

/// Whether `start..=end` lies inside one of the sorted, non-adjacent
/// intervals (so inside the union of them).
fn covers(intervals: &[Interval], start: u64, end: u64) -> bool {
    let i = intervals.partition_point(|&(_, e)| e < start);
    intervals
        .get(i)
        .is_some_and(|&(s, e)| s <= start && end <= e)
}

impl fmt::Display for MysqlGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (uuid, tags)) in self.sets.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{uuid}")?;
            for (tag, intervals) in tags {
                if !tag.is_empty() {
                    write!(f, ":{tag}")?;
                }
                for &(start, end) in intervals {
                    if start == end {
                        write!(f, ":{start}")?;
                    } else {
                        write!(f, ":{start}-{end}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl FromStr for MysqlGtidSet {
    type Err = PositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_string!(
    MysqlGtidSet,
    "a MySQL GTID set string such as UUID:1-5:7,UUID:tag:1-3"
);

#[cfg(test)]
mod tests {
    use super::*;

    const U1: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const U2: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";
    const U3: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

    fn uuid(text: &str) -> Uuid {
        Uuid::parse(text).unwrap()
    }

    fn gtid(text: &str) -> MysqlGtid {
        MysqlGtid::parse(text).unwrap()
    }

    fn set(text: &str) -> MysqlGtidSet {
        MysqlGtidSet::parse(text).unwrap()
    }

    fn set_err(text: &str) -> String {
        let err = MysqlGtidSet::parse(text).unwrap_err();
        assert!(
            matches!(&err, PositionError::BadMysqlGtidSet { input, .. } if input == text),
            "{err:?}"
        );
        err.to_string()
    }

    #[test]
    fn uuid_round_trip_and_case() {
        let u = uuid(U1);
        assert_eq!(
            u.0,
            [
                0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
                0x95, 0x62
            ]
        );
        assert_eq!(u.to_string(), U1);
        assert_eq!(uuid(&U1.to_ascii_uppercase()), u);
        assert_eq!(format!("{u:?}"), format!("Uuid({U1})"));
        assert_eq!(uuid("00000000-0000-0000-0000-000000000000").0, [0; 16]);
        assert_eq!(uuid("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF").0, [0xff; 16]);
    }

    #[test]
    fn uuid_orders_by_bytes() {
        assert!(uuid(U1) < uuid(U2));
        assert!(uuid(U2) < uuid(U3));
        assert!(
            uuid("0fffffff-ffff-ffff-ffff-ffffffffffff")
                < uuid("10000000-0000-0000-0000-000000000000")
        );
    }

    #[test]
    fn uuid_rejects_malformed() {
        for bad in [
            "",
            "3e11fa47-71ca-11e1-9e33-c80aa942956",
            "3e11fa47-71ca-11e1-9e33-c80aa94295622",
            "3e11fa4771ca11e19e33c80aa9429562",
            "3e11fa47_71ca-11e1-9e33-c80aa9429562",
            "3e11fa47-71ca-11e1-9e33-c80aa942956g",
            "{e11fa47-71ca-11e1-9e33-c80aa942956}",
            "3e11fa47-71ca-11e1-9e33-c80aa94295é",
        ] {
            assert!(
                matches!(Uuid::parse(bad), Err(PositionError::BadUuid { .. })),
                "{bad:?}"
            );
        }
        let msg = Uuid::parse("3e11fa47-71ca-11e1-9e33-c80aa942956g")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("non-hex character at offset 35"), "{msg}");
    }

    #[test]
    fn gtid_parse_and_format() {
        let g = gtid(&format!("{U1}:42"));
        assert_eq!(g.uuid, uuid(U1));
        assert_eq!(g.tag, None);
        assert_eq!(g.gno, 42);
        assert_eq!(g.to_string(), format!("{U1}:42"));

        let t = gtid(&format!("{}:MyTag_1:7", U1.to_ascii_uppercase()));
        assert_eq!(t.tag.as_deref(), Some("mytag_1"));
        assert_eq!(t.to_string(), format!("{U1}:mytag_1:7"));
        assert_eq!(gtid(&t.to_string()), t);

        assert_eq!(
            gtid(&format!(" {U1} : _x : 9 ")).to_string(),
            format!("{U1}:_x:9")
        );
        assert_eq!(gtid(&format!("{U1}:{MAX_GNO}")).gno, MAX_GNO);
    }

    #[test]
    fn gtid_new_validates() {
        let u = uuid(U1);
        assert_eq!(
            MysqlGtid::new(u, Some("ABC"), 1).unwrap().tag.as_deref(),
            Some("abc")
        );
        assert!(MysqlGtid::new(u, None, 0).is_err());
        assert!(MysqlGtid::new(u, None, MAX_GNO + 1).is_err());
        assert!(MysqlGtid::new(u, Some("1abc"), 1).is_err());
        assert!(MysqlGtid::new(u, Some(""), 1).is_err());
    }

    #[test]
    fn gtid_rejects_malformed() {
        let cases = [
            (U1.to_owned(), "expected 2 or 3"),
            (format!("{U1}:"), "not a transaction number"),
            (format!("{U1}:0"), "number 0 is invalid"),
            (format!("{U1}:-1"), "not a transaction number"),
            (format!("{U1}:+1"), "not a transaction number"),
            (format!("{U1}:1-2"), "not a transaction number"),
            (format!("{U1}:{}", MAX_GNO + 1), "exceeds the maximum"),
            (
                format!("{U1}:99999999999999999999999"),
                "exceeds the maximum",
            ),
            (format!("{U1}:tag"), "not a transaction number"),
            (format!("{U1}:1tag:5"), "tag \"1tag\" must be"),
            (format!("{U1}:ta-g:5"), "tag \"ta-g\" must be"),
            (format!("{U1}:{}:5", "t".repeat(33)), "more than 32"),
            (format!("{U1}:a:b:5"), "expected 2 or 3"),
            ("3e11fa47:5".to_owned(), "is 8 bytes long"),
        ];
        for (input, expected) in cases {
            let err = MysqlGtid::parse(&input).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, PositionError::BadMysqlGtid { .. }),
                "{input}: {msg}"
            );
            assert!(msg.contains(expected), "{input}: {msg}");
            assert!(msg.contains("expected UUID:N or UUID:TAG:N"), "{msg}");
        }
        // A 32-character tag is the longest allowed.
        assert!(MysqlGtid::parse(&format!("{U1}:{}:5", "t".repeat(32))).is_ok());
    }

    #[test]
    fn set_round_trips_canonical_text() {
        for text in [
            String::new(),
            format!("{U1}:1"),
            format!("{U1}:1-5:7"),
            format!("{U1}:1-5:7:9-12,{U2}:1-100"),
            format!("{U1}:1-5:7:mytag:1-3"),
            format!("{U1}:1-5:a:3:b:1-2:9,{U2}:x:1"),
            format!("{U1}:{MAX_GNO}"),
        ] {
            assert_eq!(set(&text).to_string(), text);
            assert_eq!(set(&text), set(&set(&text).to_string()));
        }
    }

    #[test]
    fn set_parses_tagged_form() {
        let s = set(&format!("{U1}:1-5:7:mytag:1-3"));
        let groups: Vec<_> = s.iter().collect();
        assert_eq!(
            groups,
            [
                (&uuid(U1), None, &[(1, 5), (7, 7)][..]),
                (&uuid(U1), Some("mytag"), &[(1, 3)][..]),
            ]
        );
        // Tags are lowercased and may precede any intervals; a tag with no
        // interval after it adds nothing, as in MySQL.
        let s = set(&format!("{U1}:MyTag:1-3:Other,{U1}"));
        assert_eq!(s.to_string(), format!("{U1}:mytag:1-3"));
    }

    #[test]
    fn set_canonicalises_order_and_case() {
        // Untagged intervals print first even when given last.
        let text = format!("{}:z:1:10:A:5,{U1}:2,{U2}:1-3", U2.to_ascii_uppercase());
        assert_eq!(
            set(&text).to_string(),
            format!("{U1}:2,{U2}:1-3:a:5:z:1:10")
        );
    }

    #[test]
    fn set_parses_gtid_executed_output() {
        // As printed by SELECT @@gtid_executed: ",\n" between UUIDs.
        let text = format!("{U1}:1-17:19-23,\n{U2}:1-8:tag1:1-3,\n{U3}:5\n");
        let s = set(&text);
        assert_eq!(
            s.to_string(),
            format!("{U1}:1-17:19-23,{U2}:1-8:tag1:1-3,{U3}:5")
        );
        // Whitespace around elements and empty entries are tolerated like MySQL does.
        let loose = format!(" , {U1} : 1 - 17 :19-23 ,, {U2}:1-8: tag1 :1-3,{U3}:5 ,");
        assert_eq!(set(&loose), s);
        assert!(set(" \n ").is_empty());
        assert!(set(",,").is_empty());
    }

    #[test]
    fn set_merges_repeated_uuids() {
        let s = set(&format!("{U1}:1-3,{U2}:1,{U1}:4-6:10,{U1}:t:1"));
        assert_eq!(s.to_string(), format!("{U1}:1-6:10:t:1,{U2}:1"));
    }

    #[test]
    fn set_merges_overlapping_and_adjacent_intervals() {
        let cases = [
            ("1-3:4-6", "1-6"),
            ("4-6:1-3", "1-6"),
            ("1-3:5-6", "1-3:5-6"),
            ("5-6:1-3", "1-3:5-6"),
            ("1-10:3-4", "1-10"),
            ("3-4:1-10", "1-10"),
            ("1-5:3-8", "1-8"),
            ("1:3:5:7:2:6", "1-3:5-7"),
            ("1:3:5:7:9:2-8", "1-9"),
            ("10-20:1-2:30:4-5:3", "1-5:10-20:30"),
            ("1:1:1", "1"),
            ("5:4:3:2:1", "1-5"),
            ("1-2:8-9:4-6:3", "1-6:8-9"),
            ("1-2:8-9:4-6:7", "1-2:4-9"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                set(&format!("{U1}:{input}")).to_string(),
                format!("{U1}:{expected}"),
                "{input}"
            );
        }
    }

    #[test]
    fn merge_interval_at_extremes() {
        let mut v = vec![(1, 1), (MAX_GNO, MAX_GNO)];
        merge_interval(&mut v, 2, MAX_GNO - 1);
        assert_eq!(v, [(1, MAX_GNO)]);
        let mut v = vec![(5, u64::MAX)];
        merge_interval(&mut v, u64::MAX, u64::MAX);
        assert_eq!(v, [(5, u64::MAX)]);
        merge_interval(&mut v, 1, 3);
        assert_eq!(v, [(1, 3), (5, u64::MAX)]);
        merge_interval(&mut v, 4, 4);
        assert_eq!(v, [(1, u64::MAX)]);
    }

    #[test]
    fn contains() {
        let s = set(&format!("{U1}:1-5:7:mytag:10-12,{U2}:3"));
        let u1 = uuid(U1);
        for gno in [1, 3, 5, 7] {
            assert!(
                s.contains(&MysqlGtid {
                    uuid: u1,
                    tag: None,
                    gno
                }),
                "{gno}"
            );
        }
        for gno in [0, 6, 8, 10, MAX_GNO, u64::MAX] {
            assert!(
                !s.contains(&MysqlGtid {
                    uuid: u1,
                    tag: None,
                    gno
                }),
                "{gno}"
            );
        }
        assert!(s.contains(&gtid(&format!("{U1}:mytag:11"))));
        assert!(s.contains(&gtid(&format!("{U1}:MYTAG:12"))));
        assert!(!s.contains(&gtid(&format!("{U1}:mytag:1"))));
        assert!(!s.contains(&gtid(&format!("{U1}:other:11"))));
        assert!(s.contains(&gtid(&format!("{U2}:3"))));
        assert!(!s.contains(&gtid(&format!("{U3}:3"))));
        // Hand-built tags are looked up as MySQL would store them.
        assert!(s.contains(&MysqlGtid {
            uuid: u1,
            tag: Some("MyTag".into()),
            gno: 10
        }));
        assert!(!s.contains(&MysqlGtid {
            uuid: u1,
            tag: Some(String::new()),
            gno: 1
        }));
        assert!(!s.contains(&MysqlGtid {
            uuid: u1,
            tag: Some("bad-tag".into()),
            gno: 1
        }));
        assert!(!MysqlGtidSet::new().contains(&gtid(&format!("{U1}:1"))));
    }

    #[test]
    fn add_and_add_interval() {
        let mut s = MysqlGtidSet::new();
        assert!(s.is_empty());
        s.add(&gtid(&format!("{U1}:3"))).unwrap();
        s.add(&gtid(&format!("{U1}:1"))).unwrap();
        s.add(&gtid(&format!("{U1}:2"))).unwrap();
        s.add(&gtid(&format!("{U1}:Tag:2"))).unwrap();
        s.add_interval(uuid(U2), None, 10, 20).unwrap();
        s.add_interval(uuid(U2), None, 21, 21).unwrap();
        s.add_interval(uuid(U2), Some("T"), 1, 1).unwrap();
        assert!(!s.is_empty());
        assert_eq!(s.to_string(), format!("{U1}:1-3:tag:2,{U2}:10-21:t:1"));

        let u = uuid(U1);
        let bad = MysqlGtid {
            uuid: u,
            tag: None,
            gno: 0,
        };
        assert!(matches!(
            s.add(&bad),
            Err(PositionError::BadMysqlGtid { .. })
        ));
        let bad = MysqlGtid {
            uuid: u,
            tag: Some("no way".into()),
            gno: 1,
        };
        assert!(matches!(
            s.add(&bad),
            Err(PositionError::BadMysqlGtid { .. })
        ));
        let before = s.clone();
        for (tag, start, end) in [
            (None, 0, 1),
            (None, 5, 3),
            (None, 1, MAX_GNO + 1),
            (Some("9"), 1, 1),
        ] {
            let err = s.add_interval(u, tag, start, end).unwrap_err();
            assert!(
                matches!(err, PositionError::BadMysqlGtidSet { .. }),
                "{err:?}"
            );
        }
        assert_eq!(s, before, "failed adds must leave the set unchanged");
        let msg = s.add_interval(u, None, 5, 3).unwrap_err().to_string();
        assert!(
            msg.contains(&format!("{U1}:5-3")) && msg.contains("ends before it starts"),
            "{msg}"
        );
    }

    #[test]
    fn subset() {
        let small = set(&format!("{U1}:2-3:t:5"));
        let big = set(&format!("{U1}:1-4:t:1-9,{U2}:1"));
        assert!(small.is_subset_of(&big));
        assert!(!big.is_subset_of(&small));
        assert!(small.is_subset_of(&small));
        assert!(MysqlGtidSet::new().is_subset_of(&small));
        assert!(MysqlGtidSet::new().is_subset_of(&MysqlGtidSet::new()));
        assert!(!small.is_subset_of(&MysqlGtidSet::new()));
        // Covered by the union of two intervals only if they would merge, and
        // stored intervals never touch, so the gap at 4 matters.
        assert!(!set(&format!("{U1}:3-5")).is_subset_of(&set(&format!("{U1}:1-3:5-9"))));
        assert!(set(&format!("{U1}:1:9")).is_subset_of(&set(&format!("{U1}:1-3:5-9"))));
        // Tags are separate streams.
        assert!(!set(&format!("{U1}:t:2")).is_subset_of(&set(&format!("{U1}:1-9"))));
        assert!(!set(&format!("{U1}:2")).is_subset_of(&set(&format!("{U1}:t:1-9"))));
    }

    #[test]
    fn union() {
        let mut a = set(&format!("{U1}:1-3:t:1,{U3}:9"));
        let b = set(&format!("{U1}:4-6:10:t:3,{U2}:1"));
        a.union(&b);
        assert_eq!(a.to_string(), format!("{U1}:1-6:10:t:1:3,{U2}:1,{U3}:9"));
        assert!(b.is_subset_of(&a));
        let before = a.clone();
        a.union(&MysqlGtidSet::new());
        assert_eq!(a, before);
        let mut empty = MysqlGtidSet::new();
        empty.union(&b);
        assert_eq!(empty, b);
    }

    #[test]
    fn set_error_messages() {
        let msg = set_err(&format!("{U1}:5-3"));
        assert!(msg.contains("interval 5-3 ends before it starts"), "{msg}");
        assert!(msg.contains("expected UUID:1-5:7,UUID:tag:1-3"), "{msg}");
        let msg = set_err(&format!("{U1}:0"));
        assert!(msg.contains("number 0 is invalid"), "{msg}");
        let msg = set_err(&format!("{U1}:0-4"));
        assert!(msg.contains("number 0 is invalid"), "{msg}");
        let msg = set_err(&format!("{U1}:1,3e11fa47-71ca-11e1-9e33-c80aa942956x:1"));
        assert!(
            msg.contains("in \"3e11fa47-71ca-11e1-9e33-c80aa942956x:1\""),
            "{msg}"
        );
        assert!(msg.contains("non-hex character at offset 35"), "{msg}");
        let msg = set_err(&format!("{U1}:1tag:1"));
        assert!(
            msg.contains("\"1tag\" is not a transaction number"),
            "{msg}"
        );
        let msg = set_err(&format!("{U1}:bad$tag:1"));
        assert!(msg.contains("tag \"bad$tag\" must be"), "{msg}");
        let msg = set_err(&format!("{U1}:{}:1", "x".repeat(33)));
        assert!(msg.contains("more than 32"), "{msg}");
        let msg = set_err(&format!("{U1}::1"));
        assert!(msg.contains("empty element"), "{msg}");
        for bad in [
            "garbage".to_owned(),
            "1-2-3".to_owned(),
            format!("{U1}:1-"),
            format!("{U1}:-1"),
            format!("{U1}:1-2-3"),
            format!("{U1}:1:"),
            format!("{U1}:{}", MAX_GNO + 1),
            format!("{U1} {U2}:1"),
            format!("{U1}:1 2"),
        ] {
            set_err(&bad);
        }
    }

    #[test]
    fn serde_as_strings() {
        let text = format!("{U1}:1-5:7:mytag:1-3,{U2}:1");
        let s = set(&text);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<MysqlGtidSet>(&json).unwrap(), s);

        let g = gtid(&format!("{U1}:t:5"));
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(json, format!("\"{U1}:t:5\""));
        assert_eq!(serde_json::from_str::<MysqlGtid>(&json).unwrap(), g);

        assert_eq!(
            serde_json::to_string(&uuid(U1)).unwrap(),
            format!("\"{U1}\"")
        );
        assert_eq!(
            serde_json::from_str::<Uuid>(&format!("\"{U1}\"")).unwrap(),
            uuid(U1)
        );

        let err = serde_json::from_str::<MysqlGtidSet>(&format!("\"{U1}:5-3\"")).unwrap_err();
        assert!(err.to_string().contains("ends before it starts"), "{err}");
        assert!(serde_json::from_str::<MysqlGtid>("42").is_err());
    }
}
