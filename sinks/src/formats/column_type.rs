//! Reads a column's SQL type name (`ColumnSchema::type_name`: information_schema's
//! `COLUMN_TYPE` such as `bigint(20) unsigned` or `enum('a','b')`, or the name Sluice derives
//! from the binlog such as `datetime(6)`) into what the foreign formats need to know: the kind
//! of type, its signedness, its length or fractional digits, and ENUM/SET members.
//!
//! Canal puts a JDBC type code per column in its messages and Debezium a Kafka Connect schema;
//! both are functions of the column type, not of any one value.

/// The kind of a column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    TinyInt,
    SmallInt,
    MediumInt,
    Int,
    BigInt,
    Float,
    Double,
    Decimal,
    Bit,
    Year,
    Date,
    Time,
    DateTime,
    Timestamp,
    Char,
    VarChar,
    Text,
    Binary,
    VarBinary,
    Blob,
    Enum,
    Set,
    Json,
    Point,
    Geometry,
    Vector,
    Other,
}

/// A parsed column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnType<'a> {
    pub kind: Kind,
    pub unsigned: bool,
    /// The text between the parentheses after the type word (`20`, `12,2`, `'a','b'`).
    args: &'a str,
}

impl<'a> ColumnType<'a> {
    pub(crate) fn parse(type_name: &'a str) -> ColumnType<'a> {
        let trimmed = type_name.trim_start();
        let word_end = trimmed
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(trimmed.len());
        let (word, rest) = trimmed.split_at(word_end);
        let (args, after) = match rest.trim_start().strip_prefix('(') {
            Some(inside) => {
                let close = closing_paren(inside);
                (&inside[..close], inside.get(close + 1..).unwrap_or(""))
            }
            None => ("", rest),
        };
        ColumnType {
            kind: kind_of(word),
            unsigned: after
                .as_bytes()
                .windows(b"unsigned".len())
                .any(|w| w.eq_ignore_ascii_case(b"unsigned")),
            args,
        }
    }

    /// The first number in the parentheses: BIT's bit count, the fractional digits of TIME,
    /// DATETIME and TIMESTAMP, a string type's length.
    pub(crate) fn length(&self) -> Option<u32> {
        let first = self.args.split(',').next()?.trim();
        first.parse().ok()
    }

    /// The member names of an ENUM or SET (`enum('a','it''s')` gives `a`, `it's`); empty when the
    /// type name does not list them.
    pub(crate) fn members(&self) -> Vec<String> {
        let mut members = Vec::new();
        let mut chars = self.args.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\'' {
                continue;
            }
            let mut member = String::new();
            while let Some(c) = chars.next() {
                match c {
                    // A doubled quote is a quote inside the name.
                    '\'' if chars.peek() == Some(&'\'') => {
                        chars.next();
                        member.push('\'');
                    }
                    '\'' => break,
                    '\\' => member.extend(chars.next()),
                    c => member.push(c),
                }
            }
            members.push(member);
        }
        members
    }
}

/// The index in `inside` (the text after an opening parenthesis) of the matching `)`, skipping
/// quoted member names that may hold parentheses; the end when there is none.
fn closing_paren(inside: &str) -> usize {
    let mut quoted = false;
    let mut depth = 0usize;
    let bytes = inside.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => {
                if depth == 0 {
                    return i;
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    inside.len()
}

/// The kind named by a type word, in any letter case. Parsed per column of every message, so it
/// lower-cases into a stack buffer rather than allocating.
fn kind_of(word: &str) -> Kind {
    let mut buffer = [0u8; 24];
    let Some(lower) = buffer.get_mut(..word.len()) else {
        return Kind::Other;
    };
    lower.copy_from_slice(word.as_bytes());
    lower.make_ascii_lowercase();
    match &*lower {
        b"tinyint" | b"bool" | b"boolean" => Kind::TinyInt,
        b"smallint" => Kind::SmallInt,
        b"mediumint" => Kind::MediumInt,
        b"int" | b"integer" => Kind::Int,
        b"bigint" => Kind::BigInt,
        b"float" => Kind::Float,
        b"double" | b"real" => Kind::Double,
        b"decimal" | b"numeric" | b"dec" | b"fixed" => Kind::Decimal,
        b"bit" => Kind::Bit,
        b"year" => Kind::Year,
        b"date" | b"newdate" => Kind::Date,
        b"time" => Kind::Time,
        b"datetime" => Kind::DateTime,
        b"timestamp" => Kind::Timestamp,
        b"char" | b"string" => Kind::Char,
        b"varchar" | b"var_string" => Kind::VarChar,
        b"tinytext" | b"text" | b"mediumtext" | b"longtext" => Kind::Text,
        b"binary" => Kind::Binary,
        b"varbinary" => Kind::VarBinary,
        b"tinyblob" | b"blob" | b"mediumblob" | b"longblob" => Kind::Blob,
        b"enum" => Kind::Enum,
        b"set" => Kind::Set,
        b"json" => Kind::Json,
        b"point" => Kind::Point,
        b"geometry"
        | b"linestring"
        | b"polygon"
        | b"multipoint"
        | b"multilinestring"
        | b"multipolygon"
        | b"geometrycollection"
        | b"geomcollection" => Kind::Geometry,
        b"vector" => Kind::Vector,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_information_schema_and_binlog_type_names() {
        let t = ColumnType::parse("bigint(20) unsigned zerofill");
        assert_eq!(
            (t.kind, t.unsigned, t.length()),
            (Kind::BigInt, true, Some(20))
        );
        let t = ColumnType::parse("int unsigned");
        assert_eq!((t.kind, t.unsigned, t.length()), (Kind::Int, true, None));
        let t = ColumnType::parse("decimal(12,2)");
        assert_eq!(
            (t.kind, t.unsigned, t.length()),
            (Kind::Decimal, false, Some(12))
        );
        assert_eq!(ColumnType::parse("datetime(6)").length(), Some(6));
        assert_eq!(ColumnType::parse("BIT(1)").kind, Kind::Bit);
        assert_eq!(ColumnType::parse("mediumtext").kind, Kind::Text);
        assert_eq!(ColumnType::parse("geomcollection").kind, Kind::Geometry);
        assert_eq!(ColumnType::parse("point").kind, Kind::Point);
        assert_eq!(ColumnType::parse("typed_array").kind, Kind::Other);
        assert_eq!(ColumnType::parse("").kind, Kind::Other);
    }

    #[test]
    fn enum_and_set_members_with_quotes_and_parentheses() {
        let t = ColumnType::parse("enum('a)','it''s','b,c','x\\'y') unsigned");
        assert_eq!(t.kind, Kind::Enum);
        assert_eq!(t.members(), ["a)", "it's", "b,c", "x'y"]);
        assert!(t.unsigned, "text after the closing parenthesis is read");
        assert!(!ColumnType::parse("set('unsigned')").unsigned);
        assert!(ColumnType::parse("enum").members().is_empty());
    }
}
