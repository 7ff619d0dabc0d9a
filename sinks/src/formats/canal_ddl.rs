//! Canal's view of a DDL statement: its event type (`CREATE`, `ALTER`, `ERASE`, `TRUNCATE`,
//! `RENAME`, `CINDEX`, `DINDEX`, or `QUERY` for anything else) and the table it names; and, for
//! the schema-change messages of the other formats, the database statements Canal calls `QUERY`
//! ([`classify_database`]).
//!
//! Canal runs a SQL parser for this; Sluice reads only the leading keywords and the first table
//! name, enough for the statements Canal gives a type to. A statement naming several tables
//! (`DROP TABLE a, b`, `RENAME TABLE a TO b, c TO d`) is reported with its first table, where
//! Canal makes one message per table.

/// What a DDL statement is, for Canal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ddl {
    pub kind: &'static str,
    /// The database qualifying the table name, when the statement qualifies it.
    pub database: Option<String>,
    /// The first table the statement names; empty for `QUERY`.
    pub table: String,
}

/// Classifies `sql`.
pub(crate) fn classify(sql: &str) -> Ddl {
    let mut words = Words { rest: sql };
    let first = words.keyword();
    let kind = match first.as_str() {
        "CREATE" => {
            words.skip_any(&[
                "TEMPORARY",
                "UNIQUE",
                "FULLTEXT",
                "SPATIAL",
                "OR",
                "REPLACE",
            ]);
            match words.keyword().as_str() {
                "TABLE" => Some("CREATE"),
                "INDEX" => words.skip_index_name().then_some("CINDEX"),
                _ => None,
            }
        }
        "ALTER" => {
            words.skip_any(&["ONLINE", "OFFLINE", "IGNORE"]);
            (words.keyword() == "TABLE").then_some("ALTER")
        }
        "DROP" => {
            words.skip_any(&["TEMPORARY"]);
            match words.keyword().as_str() {
                "TABLE" => Some("ERASE"),
                "INDEX" => words.skip_index_name().then_some("DINDEX"),
                _ => None,
            }
        }
        "TRUNCATE" => {
            words.skip_any(&["TABLE"]);
            Some("TRUNCATE")
        }
        "RENAME" => (words.keyword() == "TABLE").then_some("RENAME"),
        _ => None,
    };
    let Some(kind) = kind else {
        return Ddl {
            kind: "QUERY",
            database: None,
            table: String::new(),
        };
    };
    if matches!(kind, "CREATE" | "ERASE") {
        words.skip_if_exists_clause();
    }
    let (database, table) = words.table_name();
    Ddl {
        kind,
        database,
        table,
    }
}

/// What a database statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatabaseDdl {
    Create,
    Alter,
    Drop,
}

/// `CREATE|ALTER|DROP {DATABASE|SCHEMA} [IF [NOT] EXISTS] name`: what it does and the database
/// it names; `None` for any other statement. (`ALTER DATABASE` without a name changes the
/// session's database: the name is then empty.)
pub(crate) fn classify_database(sql: &str) -> Option<(DatabaseDdl, String)> {
    let mut words = Words { rest: sql };
    let kind = match words.keyword().as_str() {
        "CREATE" => {
            words.skip_any(&["OR", "REPLACE"]);
            DatabaseDdl::Create
        }
        "ALTER" => DatabaseDdl::Alter,
        "DROP" => DatabaseDdl::Drop,
        _ => return None,
    };
    if !matches!(words.keyword().as_str(), "DATABASE" | "SCHEMA") {
        return None;
    }
    words.skip_if_exists_clause();
    let saved = words.rest;
    let name = words.identifier();
    // `ALTER DATABASE CHARACTER SET …` names no database: the option is not a name.
    if kind == DatabaseDdl::Alter && !saved.trim_start().starts_with('`') {
        let upper = name.to_ascii_uppercase();
        if matches!(
            upper.as_str(),
            "CHARACTER"
                | "CHARSET"
                | "COLLATE"
                | "DEFAULT"
                | "COMMENT"
                | "READ"
                | "ENCRYPTION"
                | "UPGRADE"
                | ""
        ) {
            return Some((kind, String::new()));
        }
    }
    Some((kind, name))
}

/// A cursor over SQL words, skipping whitespace and comments.
struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    fn skip_space(&mut self) {
        loop {
            let trimmed = self.rest.trim_start();
            // `/*! … */` holds code for MySQL to run, not a comment: stop there.
            if trimmed.starts_with("/*") && !trimmed.starts_with("/*!") {
                self.rest = trimmed.find("*/").map_or("", |end| &trimmed[end + 2..]);
            } else if trimmed.starts_with("-- ") || trimmed.starts_with('#') {
                self.rest = trimmed.find('\n').map_or("", |end| &trimmed[end + 1..]);
            } else {
                self.rest = trimmed;
                return;
            }
        }
    }

    /// The next bare word, upper-cased; empty at a non-word.
    fn keyword(&mut self) -> String {
        self.skip_space();
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        let word = self.rest[..end].to_ascii_uppercase();
        self.rest = &self.rest[end..];
        word
    }

    /// Skips any of `words` that come next, in any order.
    fn skip_any(&mut self, words: &[&str]) {
        loop {
            let saved = self.rest;
            let word = self.keyword();
            if word.is_empty() || !words.contains(&word.as_str()) {
                self.rest = saved;
                return;
            }
        }
    }

    fn skip_if_exists_clause(&mut self) {
        let saved = self.rest;
        if self.keyword() != "IF" {
            self.rest = saved;
            return;
        }
        self.skip_any(&["NOT", "EXISTS"]);
    }

    /// After `INDEX`: skips the index name and `ON`, so the table name comes next.
    fn skip_index_name(&mut self) -> bool {
        self.identifier();
        self.keyword() == "ON"
    }

    /// `[db.]table`, unquoted or in backquotes.
    fn table_name(&mut self) -> (Option<String>, String) {
        let first = self.identifier();
        if let Some(after_dot) = self.rest.strip_prefix('.') {
            self.rest = after_dot;
            let table = self.identifier();
            (Some(first), table)
        } else {
            (None, first)
        }
    }

    /// One identifier: `` `a``b` `` (a doubled backquote is a backquote) or a bare name.
    fn identifier(&mut self) -> String {
        self.skip_space();
        if let Some(quoted) = self.rest.strip_prefix('`') {
            let mut name = String::new();
            let mut chars = quoted.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if c == '`' {
                    if matches!(chars.peek(), Some((_, '`'))) {
                        chars.next();
                        name.push('`');
                        continue;
                    }
                    self.rest = &quoted[i + 1..];
                    return name;
                }
                name.push(c);
            }
            self.rest = "";
            return name;
        }
        let end = self
            .rest
            .find(|c: char| c.is_whitespace() || matches!(c, '.' | '(' | ',' | ';' | '`'))
            .unwrap_or(self.rest.len());
        let name = self.rest[..end].to_string();
        self.rest = &self.rest[end..];
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_and_table(sql: &str) -> (&'static str, Option<String>, String) {
        let ddl = classify(sql);
        (ddl.kind, ddl.database, ddl.table)
    }

    #[test]
    fn table_statements_get_canal_types_and_their_table() {
        let cases = [
            ("CREATE TABLE t (id INT)", "CREATE", None, "t"),
            (
                "create temporary table if not exists `shop`.`or``ders`(id int)",
                "CREATE",
                Some("shop"),
                "or`ders",
            ),
            (
                "/* c */ ALTER TABLE shop.t ADD c INT",
                "ALTER",
                Some("shop"),
                "t",
            ),
            ("alter online ignore table t drop c", "ALTER", None, "t"),
            (
                "DROP TABLE IF EXISTS `a`,`b` /* generated by server */",
                "ERASE",
                None,
                "a",
            ),
            ("TRUNCATE t", "TRUNCATE", None, "t"),
            ("truncate table db.t", "TRUNCATE", Some("db"), "t"),
            ("RENAME TABLE a TO b", "RENAME", None, "a"),
            ("CREATE UNIQUE INDEX i ON t (c)", "CINDEX", None, "t"),
            ("DROP INDEX `i` ON db.t", "DINDEX", Some("db"), "t"),
        ];
        for (sql, kind, db, table) in cases {
            assert_eq!(
                kind_and_table(sql),
                (kind, db.map(String::from), table.to_string()),
                "{sql}"
            );
        }
    }

    #[test]
    fn database_statements_name_their_database() {
        let cases = [
            ("CREATE DATABASE d", Some((DatabaseDdl::Create, "d"))),
            (
                "create schema if not exists `my``db` character set utf8mb4",
                Some((DatabaseDdl::Create, "my`db")),
            ),
            (
                "CREATE OR REPLACE DATABASE d",
                Some((DatabaseDdl::Create, "d")),
            ),
            ("DROP DATABASE IF EXISTS d", Some((DatabaseDdl::Drop, "d"))),
            ("/* x */ drop schema d;", Some((DatabaseDdl::Drop, "d"))),
            (
                "ALTER DATABASE d COLLATE utf8mb4_bin",
                Some((DatabaseDdl::Alter, "d")),
            ),
            (
                "ALTER DATABASE CHARACTER SET latin1",
                Some((DatabaseDdl::Alter, "")),
            ),
            ("CREATE TABLE d.t (id INT)", None),
            ("DROP TABLE t", None),
            ("GRANT ALL ON *.* TO u", None),
            ("", None),
        ];
        for (sql, expected) in cases {
            assert_eq!(
                classify_database(sql),
                expected.map(|(k, n)| (k, n.to_string())),
                "{sql}"
            );
        }
    }

    #[test]
    fn other_statements_are_queries() {
        for sql in [
            "CREATE DATABASE d",
            "DROP DATABASE d",
            "CREATE VIEW v AS SELECT 1",
            "GRANT ALL ON *.* TO u",
            "/*!40000 ALTER TABLE t DISABLE KEYS */",
            "",
            "   ",
        ] {
            assert_eq!(kind_and_table(sql), ("QUERY", None, String::new()), "{sql}");
        }
    }
}
