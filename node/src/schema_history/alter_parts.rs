//! The hand-written fallback for an ALTER TABLE the SQL parser rejects: the statement is cut
//! into its specifications at top-level commas (with the parser's own tokenizer, so quotes,
//! comments and parentheses are respected). Specifications that change no column, and the
//! charset ones, are read here; the others are handed to the parser again, alone. If the
//! parser still rejects them the statement is unreadable, as it was.

use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::ddl::{statement_changes, AlterSpec, DdlError, SchemaChange, TableName};

/// What one specification is, by its leading words.
enum Part {
    /// Leaves every column as it is (table options, indexes, partitions).
    Neutral,
    DefaultCharset(String),
    ConvertTo(String),
    /// MariaDB's `ADD [COLUMN] IF NOT EXISTS c ...` and the parenthesised
    /// `ADD [COLUMN] (a INT, b INT)`: column definitions, each for the parser alone.
    AddColumns {
        columns: Vec<String>,
        if_not_exists: bool,
    },
    /// For the parser.
    Other,
}

/// Reads an ALTER TABLE by parts; `None` when `sql` is not one this can cut up.
pub fn parse_alter(
    sql: &str,
    default_database: &str,
) -> Option<Result<Vec<SchemaChange>, DdlError>> {
    let tokens = Tokenizer::new(&MySqlDialect {}, sql).tokenize().ok()?;
    let header_end = header_end(&tokens)?;
    let header: String = tokens[..header_end].iter().map(Token::to_string).collect();
    // Each part alone, in order: `header part` is an ALTER TABLE of one specification.
    let parse_one = |spec: &str| -> Result<(TableName, Vec<AlterSpec>), DdlError> {
        let statements = Parser::parse_sql(&MySqlDialect {}, &format!("{header} {spec}"))
            .map_err(|e| DdlError::new(format!("`{}`: {e}", spec.trim())))?;
        let mut found = None;
        for statement in statements {
            for change in statement_changes(statement, default_database)? {
                if let SchemaChange::AlterTable { table, specs } = change {
                    found = Some((table, specs));
                }
            }
        }
        found.ok_or_else(|| DdlError::new(format!("`{}` is no ALTER TABLE", spec.trim())))
    };
    let mut specs = Vec::new();
    for part in split_top_level(&tokens[header_end..]) {
        match classify(part) {
            Part::Neutral => {}
            Part::DefaultCharset(charset) => specs.push(AlterSpec::DefaultCharset { charset }),
            Part::ConvertTo(charset) => specs.push(AlterSpec::ConvertTo { charset }),
            Part::AddColumns {
                columns,
                if_not_exists,
            } => {
                for column in columns {
                    let (_, parsed) = match parse_one(&format!("ADD COLUMN {column}")) {
                        Ok(p) => p,
                        Err(e) => return Some(Err(e)),
                    };
                    specs.extend(parsed.into_iter().map(|spec| match spec {
                        AlterSpec::AddColumn { column, place, .. } => AlterSpec::AddColumn {
                            column,
                            place,
                            if_not_exists,
                        },
                        other => other,
                    }));
                }
            }
            Part::Other => {
                let text: String = part.iter().map(Token::to_string).collect();
                match parse_one(&text) {
                    Ok((_, parsed)) => specs.extend(parsed),
                    Err(e) => return Some(Err(e)),
                }
            }
        }
    }
    // The table's name, from the header with a specification the parser surely knows.
    let table = match parse_one("DROP COLUMN sluice_probe") {
        Ok((table, _)) => table,
        Err(e) => return Some(Err(e)),
    };
    Some(Ok(vec![SchemaChange::AlterTable { table, specs }]))
}

/// The index right after `ALTER [ONLINE] [IGNORE] TABLE name`.
fn header_end(tokens: &[Token]) -> Option<usize> {
    let mut i = tokens.iter().position(|t| is_word(t, "TABLE"))? + 1;
    let skip_space = |i: &mut usize| {
        while matches!(tokens.get(*i), Some(Token::Whitespace(_))) {
            *i += 1;
        }
    };
    skip_space(&mut i);
    matches!(tokens.get(i), Some(Token::Word(_))).then_some(())?;
    i += 1;
    if matches!(tokens.get(i), Some(Token::Period)) {
        i += 1;
        matches!(tokens.get(i), Some(Token::Word(_))).then_some(())?;
        i += 1;
    }
    Some(i)
}

/// The specifications: `tokens` cut at commas outside parentheses.
fn split_top_level(tokens: &[Token]) -> Vec<&[Token]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                parts.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tokens[start..]);
    parts
}

/// `ADD [COLUMN] [IF NOT EXISTS] (defs)` or `ADD [COLUMN] IF NOT EXISTS def`, else `None`.
fn add_columns(part: &[Token]) -> Option<Part> {
    // The indexes of the part's tokens that are not whitespace.
    let idx: Vec<usize> = (0..part.len())
        .filter(|&i| !matches!(part[i], Token::Whitespace(_)))
        .collect();
    let word = |k: usize, w: &str| idx.get(k).is_some_and(|&i| is_word(&part[i], w));
    if !word(0, "ADD") {
        return None;
    }
    let mut k = 1;
    if word(k, "COLUMN") {
        k += 1;
    }
    let if_not_exists = word(k, "IF") && word(k + 1, "NOT") && word(k + 2, "EXISTS");
    if if_not_exists {
        k += 3;
    }
    let body = &part[*idx.get(k)?..];
    let text = |tokens: &[Token]| tokens.iter().map(Token::to_string).collect::<String>();
    let columns = if matches!(body.first(), Some(Token::LParen)) {
        let last = body.iter().rposition(|t| matches!(t, Token::RParen))?;
        split_top_level(body.get(1..last)?)
            .into_iter()
            .map(text)
            .collect()
    } else if if_not_exists {
        vec![text(body)]
    } else {
        return None;
    };
    Some(Part::AddColumns {
        columns,
        if_not_exists,
    })
}

fn classify(part: &[Token]) -> Part {
    if let Some(add) = add_columns(part) {
        return add;
    }
    let words: Vec<String> = part
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::Eq))
        .map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
            Token::Word(w) => w.value.clone(),
            other => other.to_string(),
        })
        .collect();
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let value_after = |n: usize| w.get(n).map(|v| v.to_ascii_lowercase());
    match w.as_slice() {
        ["CONVERT", "TO", "CHARACTER", "SET", ..] => {
            value_after(4).map_or(Part::Other, Part::ConvertTo)
        }
        ["CONVERT", "TO", "CHARSET", ..] => value_after(3).map_or(Part::Other, Part::ConvertTo),
        ["DEFAULT", "CHARACTER", "SET", ..] => {
            value_after(3).map_or(Part::Other, Part::DefaultCharset)
        }
        ["CHARACTER", "SET", ..] => value_after(2).map_or(Part::Other, Part::DefaultCharset),
        ["DEFAULT", "CHARSET", ..] => value_after(2).map_or(Part::Other, Part::DefaultCharset),
        ["CHARSET", ..] => value_after(1).map_or(Part::Other, Part::DefaultCharset),
        ["DEFAULT", "COLLATE", c, ..] | ["COLLATE", c, ..] => {
            match super::ddl::charset_of_collation(c) {
                Some(cs) => Part::DefaultCharset(cs),
                None => Part::Neutral,
            }
        }
        [first, second, ..] if is_index_part(first, second) => Part::Neutral,
        [first, ..] if NEUTRAL_OPTIONS.contains(first) => Part::Neutral,
        _ => Part::Other,
    }
}

/// Index, key and partition specifications: no column changes.
fn is_index_part(first: &str, second: &str) -> bool {
    const INDEXES: &[&str] = &[
        "INDEX",
        "KEY",
        "FOREIGN",
        "CHECK",
        "PARTITION",
        "PARTITIONING",
    ];
    match first {
        "RENAME" | "ALTER" => matches!(second, "INDEX" | "KEY"),
        "DROP" => INDEXES.contains(&second),
        "ADD" => matches!(
            second,
            "INDEX" | "KEY" | "UNIQUE" | "FULLTEXT" | "SPATIAL" | "FOREIGN" | "PARTITION"
        ),
        "ENABLE" | "DISABLE" => second == "KEYS",
        "REMOVE" => second == "PARTITIONING",
        "PARTITION" => second == "BY",
        "COALESCE" | "REORGANIZE" | "ANALYZE" | "CHECK" | "OPTIMIZE" | "REBUILD" | "REPAIR"
        | "TRUNCATE" | "DISCARD" | "IMPORT" | "EXCHANGE" => {
            matches!(second, "PARTITION" | "TABLESPACE")
        }
        "ORDER" => second == "BY",
        _ => false,
    }
}

/// Table options that leave the columns as they are.
const NEUTRAL_OPTIONS: &[&str] = &[
    "ENGINE",
    "FORCE",
    "ALGORITHM",
    "LOCK",
    "ROW_FORMAT",
    "COMMENT",
    "AUTO_INCREMENT",
    "KEY_BLOCK_SIZE",
    "STATS_AUTO_RECALC",
    "STATS_PERSISTENT",
    "STATS_SAMPLE_PAGES",
    "PACK_KEYS",
    "CHECKSUM",
    "MAX_ROWS",
    "MIN_ROWS",
    "AVG_ROW_LENGTH",
    "DELAY_KEY_WRITE",
    "COMPRESSION",
    "ENCRYPTION",
    "PAGE_COMPRESSED",
    "PAGE_COMPRESSION_LEVEL",
    "TRANSACTIONAL",
    "INSERT_METHOD",
    "TABLESPACE",
    "STORAGE",
    "SECONDARY_ENGINE",
    "VALIDATION",
    "WITH",
    "WITHOUT",
];

fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::super::ddl::{parse, ColumnPlace, TableName};
    use super::*;

    fn specs(sql: &str) -> (TableName, Vec<AlterSpec>) {
        match parse(sql, "shop").unwrap().remove(0) {
            SchemaChange::AlterTable { table, specs } => (table, specs),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn table_options_the_parser_rejects_change_no_column() {
        for sql in [
            "ALTER TABLE t FORCE",
            "ALTER TABLE t ENGINE=InnoDB",
            "ALTER TABLE `t` PARTITION BY HASH(a) PARTITIONS 4",
            "ALTER TABLE t RENAME INDEX a TO b, ROW_FORMAT=DYNAMIC",
        ] {
            let (table, specs) = specs(sql);
            assert_eq!(table.table, "t", "{sql}");
            assert_eq!(specs, [], "{sql}");
        }
    }

    #[test]
    fn mariadb_and_mysql_forms_of_add_column() {
        let (_, specs) = specs(
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS a INT AFTER id, ADD (b INT, c VARCHAR(3))",
        );
        let added: Vec<(&str, bool)> = specs
            .iter()
            .map(|s| match s {
                AlterSpec::AddColumn {
                    column,
                    if_not_exists,
                    ..
                } => (column.name.as_str(), *if_not_exists),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(added, [("a", true), ("b", false), ("c", false)]);
    }

    #[test]
    fn column_specifications_beside_them_still_count() {
        let (table, specs) = specs(
            "ALTER TABLE other.t DEFAULT CHARSET=latin1, ADD COLUMN c VARCHAR(3) AFTER a, \
             ENGINE=InnoDB, CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        );
        assert_eq!(
            table,
            TableName {
                database: "other".into(),
                table: "t".into()
            }
        );
        assert_eq!(specs.len(), 3, "{specs:#?}");
        assert_eq!(
            specs[0],
            AlterSpec::DefaultCharset {
                charset: "latin1".into()
            }
        );
        assert!(matches!(
            &specs[1],
            AlterSpec::AddColumn { column, place: Some(ColumnPlace::After(a)), .. }
                if column.name == "c" && a == "a"
        ));
        assert_eq!(
            specs[2],
            AlterSpec::ConvertTo {
                charset: "utf8mb4".into()
            }
        );
    }
}
