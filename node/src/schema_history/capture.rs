//! The schema a history starts from, read from information_schema: every table of every
//! database but the server's own, with its columns, primary key and default charsets.
//!
//! It describes the tables as they are when read, which is the schema of the start position
//! only if no DDL ran in between; a task's first run from an old position may decode rows
//! before such a DDL with the later columns (the DDL itself still applies when passed).

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;

use super::ddl::charset_of_collation;
use super::schema::{Database, Schema, Table};
use crate::source::schema::{parse_members, ColumnDefinition};

const SYSTEM_DATABASES: &str = "('mysql', 'information_schema', 'performance_schema', 'sys')";

/// Reads the whole schema of the server.
pub async fn capture(conn: &mut mysql_async::Conn) -> Result<Schema, mysql_async::Error> {
    let server_charset: Option<String> = conn
        .query_first("SELECT @@GLOBAL.character_set_server")
        .await?;
    let mut databases: BTreeMap<String, Database> = BTreeMap::new();
    let schemata: Vec<(String, Option<String>)> = conn
        .query(format!(
            "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME NOT IN {SYSTEM_DATABASES}"
        ))
        .await?;
    for (name, charset) in schemata {
        databases.entry(name).or_default().charset = charset;
    }
    let tables: Vec<(String, String, Option<String>)> = conn
        .query(format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN {SYSTEM_DATABASES}"
        ))
        .await?;
    for (db, name, collation) in tables {
        let database = databases.entry(db).or_default();
        let charset = collation
            .as_deref()
            .and_then(charset_of_collation)
            .or_else(|| database.charset.clone());
        database.tables.insert(
            name,
            Table {
                charset,
                definition: Default::default(),
            },
        );
    }
    let columns: Vec<(String, String, String, String, Option<String>)> = conn
        .query(format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA NOT IN {SYSTEM_DATABASES} \
             ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
        ))
        .await?;
    for (db, table, name, column_type, charset) in columns {
        // Views have columns too; only base tables have rows in the binlog.
        let Some(table) = databases
            .get_mut(&db)
            .and_then(|d| d.tables.get_mut(&table))
        else {
            continue;
        };
        table.definition.columns.push(ColumnDefinition {
            unsigned: column_type.to_ascii_lowercase().contains("unsigned"),
            members: parse_members(&column_type),
            name,
            column_type,
            charset,
        });
    }
    let keys: Vec<(String, String, String)> = conn
        .query(format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE CONSTRAINT_NAME = 'PRIMARY' AND TABLE_SCHEMA NOT IN {SYSTEM_DATABASES} \
             ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
        ))
        .await?;
    for (db, table, column) in keys {
        let Some(table) = databases
            .get_mut(&db)
            .and_then(|d| d.tables.get_mut(&table))
        else {
            continue;
        };
        let def = &mut table.definition;
        if let Some(i) = def.columns.iter().position(|c| c.name == column) {
            def.primary_key.push(i);
        }
    }
    Ok(Schema {
        server_charset,
        databases,
    })
}
