//! Table definitions from information_schema, for servers that do not put column names and
//! types in the binlog (`binlog_row_metadata=MINIMAL`, MySQL 5.7, MariaDB before 10.5).
//!
//! A definition read now describes the table as it is now. A task keeps a versioned history
//! of definitions (`crate::schema_history`) so that rows written before a later DDL decode
//! with the columns of their time; this is what the history starts from, and what the source
//! falls back to for a table the history does not know (`sluice dump`, or a table created
//! outside of what the history saw).

use mysql_async::prelude::Queryable;
use serde::{Deserialize, Serialize};

/// One column as information_schema describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDefinition {
    pub name: String,
    /// `COLUMN_TYPE`, e.g. `int(10) unsigned`, `enum('a','b')`.
    pub column_type: String,
    /// `CHARACTER_SET_NAME`; `None` for non-character and binary columns.
    pub charset: Option<String>,
    pub unsigned: bool,
    /// ENUM or SET members.
    pub members: Option<Vec<String>>,
}

/// A table's columns in ordinal order, and its primary key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TableDefinition {
    pub columns: Vec<ColumnDefinition>,
    /// Column indexes of the primary key, in key order.
    pub primary_key: Vec<usize>,
}

/// Reads a table's definition; `Ok(None)` when the table does not exist (any more).
pub async fn load_definition(
    conn: &mut mysql_async::Conn,
    database: &str,
    table: &str,
) -> Result<Option<TableDefinition>, mysql_async::Error> {
    let rows: Vec<(String, String, Option<String>, String)> = conn
        .exec(
            "SELECT COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, COLUMN_KEY \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let key_columns: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' \
             ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await?;
    let columns: Vec<ColumnDefinition> = rows
        .into_iter()
        .map(|(name, column_type, charset, _key)| ColumnDefinition {
            unsigned: column_type.to_ascii_lowercase().contains("unsigned"),
            members: parse_members(&column_type),
            name,
            column_type,
            charset,
        })
        .collect();
    let primary_key = key_columns
        .iter()
        .filter_map(|k| columns.iter().position(|c| &c.name == k))
        .collect();
    Ok(Some(TableDefinition {
        columns,
        primary_key,
    }))
}

/// The members of `enum('a','b''c')` or `set(...)`, with SQL quote escapes undone.
pub fn parse_members(column_type: &str) -> Option<Vec<String>> {
    let lower = column_type.to_ascii_lowercase();
    let inner = if lower.starts_with("enum(") {
        &column_type[5..]
    } else if lower.starts_with("set(") {
        &column_type[4..]
    } else {
        return None;
    };
    let mut members = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        match chars.next()? {
            '\'' => {
                let mut m = String::new();
                loop {
                    match chars.next()? {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            m.push('\'');
                        }
                        '\'' => break,
                        '\\' => m.push(chars.next()?),
                        c => m.push(c),
                    }
                }
                members.push(m);
            }
            ',' | ' ' => {}
            ')' => return Some(members),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_and_set_members_are_unquoted() {
        assert_eq!(
            parse_members("enum('a','it''s','x,y')"),
            Some(vec!["a".into(), "it's".into(), "x,y".into()])
        );
        assert_eq!(
            parse_members("SET('r','g')"),
            Some(vec!["r".into(), "g".into()])
        );
        assert_eq!(parse_members("int(11)"), None);
        assert_eq!(parse_members("enum('a'"), None);
    }
}
