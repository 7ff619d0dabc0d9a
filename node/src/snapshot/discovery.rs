//! Which tables a snapshot reads, found in information_schema: base tables the task's filters
//! include (and `snapshot.tables`, when set), each with the columns to read and the key to page
//! by: the primary key, else a unique key on NOT NULL columns.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use sluice_core::filter::EventFilter;
use sluice_core::{ColumnSchema, TableSchema};

use super::error::{query, SnapshotError};
use super::values::ValueKind;

/// Databases that are the server's own, never snapshotted.
const SYSTEM_DATABASES: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

/// Key column types a keyset `WHERE key > ?` compares exactly as `ORDER BY key` sorts.
const PAGEABLE_TYPES: [&str; 17] = [
    "tinyint",
    "smallint",
    "mediumint",
    "int",
    "bigint",
    "decimal",
    "char",
    "varchar",
    "binary",
    "varbinary",
    "date",
    "datetime",
    "time",
    "year",
    "tinytext",
    "text",
    "bit",
];

/// One column as the snapshot reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotColumn {
    pub name: String,
    /// information_schema `DATA_TYPE`, lower case (`int`, `varchar`, `timestamp`).
    pub data_type: String,
    pub unsigned: bool,
    /// `CHARACTER_SET_NAME`; `None` for numbers, temporal types and binary strings.
    pub charset: Option<String>,
    /// Fractional-second digits of temporal columns.
    pub fsp: u8,
    /// How its values are converted (from the fields above).
    pub kind: ValueKind,
}

impl SnapshotColumn {
    pub fn new(
        name: String,
        data_type: String,
        unsigned: bool,
        charset: Option<String>,
        fsp: u8,
    ) -> Self {
        let kind = ValueKind::of(&data_type, unsigned, charset.as_deref());
        SnapshotColumn {
            name,
            data_type,
            unsigned,
            charset,
            fsp,
            kind,
        }
    }
}

/// A table to snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotTable {
    pub database: String,
    pub table: String,
    pub columns: Vec<SnapshotColumn>,
    /// Indexes into `columns` of the key the chunks are paged by, in key order.
    pub key: Vec<usize>,
    /// The schema its `r` events carry when no binlog event showed the table's own.
    pub schema: Arc<TableSchema>,
}

/// The tables to snapshot, sorted by database and name (the order progress relies on).
/// `tables` selects among the tables `filter` includes; the signal table is never read.
pub async fn discover(
    conn: &mut Conn,
    filter: &EventFilter,
    tables: &EventFilter,
    signal: (&str, &str),
) -> Result<Vec<SnapshotTable>, SnapshotError> {
    let names: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await
        .map_err(query("listing the tables in information_schema"))?;
    let names_from_binlog = binlog_names_columns(conn).await?;
    let mut found = Vec::new();
    for (database, table) in names {
        if SYSTEM_DATABASES.contains(&database.as_str())
            || (database.as_str(), table.as_str()) == signal
            || !filter.includes_table(&database, &table)
            || !tables.includes_table(&database, &table)
        {
            continue;
        }
        if let Some(t) = describe(conn, &database, &table, names_from_binlog).await? {
            found.push(t);
        }
    }
    Ok(found)
}

/// Whether the binlog's TABLE_MAP events carry column names (`binlog_row_metadata=FULL`). Then
/// the binlog decoder names column types from the binlog alone (`int`, `varchar`), else from
/// information_schema's `COLUMN_TYPE` (`int(11)`): `r` events must carry the same names.
async fn binlog_names_columns(conn: &mut Conn) -> Result<bool, SnapshotError> {
    // SHOW, not `@@`: servers without the variable (MariaDB < 10.5, MySQL 5.7) give no row.
    let row: Option<(String, String)> = conn
        .query_first("SHOW GLOBAL VARIABLES LIKE 'binlog_row_metadata'")
        .await
        .map_err(query("reading the server's `binlog_row_metadata`"))?;
    Ok(row.is_some_and(|(_, value)| value.eq_ignore_ascii_case("FULL")))
}

/// A column's type as the binlog decoder names it from a TABLE_MAP event: the base type, the
/// signedness, DECIMAL's precision and scale, BIT's width and temporal fractions, but no
/// display widths (`int(11)`), lengths (`varchar(40)`) or members (`enum('a')`).
pub fn binlog_type_name(data_type: &str, column_type: &str, fsp: u8) -> String {
    let column_type = column_type.to_ascii_lowercase();
    let sign = if column_type.contains("unsigned") {
        " unsigned"
    } else {
        ""
    };
    match data_type {
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" | "float" | "double" => {
            format!("{data_type}{sign}")
        }
        "decimal" | "bit" => column_type.replace(" zerofill", ""),
        "time" | "datetime" | "timestamp" if fsp > 0 => format!("{data_type}({fsp})"),
        "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
        | "geometrycollection" | "geomcollection" => "geometry".into(),
        _ => data_type.into(),
    }
}

/// A table's columns and key; `None` when it was dropped meanwhile. `names_from_binlog`: name
/// column types as the binlog decoder does on a server that logs column names.
async fn describe(
    conn: &mut Conn,
    database: &str,
    table: &str,
    names_from_binlog: bool,
) -> Result<Option<SnapshotTable>, SnapshotError> {
    let what = || format!("reading the definition of `{database}`.`{table}`");
    type ColumnRow = (String, String, String, Option<String>, Option<u32>, String);
    let rows: Vec<ColumnRow> = conn
        .exec(
            "SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, CHARACTER_SET_NAME, \
             DATETIME_PRECISION, IS_NULLABLE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await
        .map_err(query(what()))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut columns = Vec::with_capacity(rows.len());
    let mut schema_columns = Vec::with_capacity(rows.len());
    let mut not_null = Vec::with_capacity(rows.len());
    for (name, data_type, column_type, charset, fsp, nullable) in rows {
        let fsp = fsp.unwrap_or(0).min(6) as u8;
        schema_columns.push(ColumnSchema {
            name: name.clone(),
            type_name: if names_from_binlog {
                binlog_type_name(&data_type, &column_type, fsp)
            } else {
                column_type.clone()
            },
        });
        not_null.push(nullable == "NO");
        let unsigned = column_type.to_ascii_lowercase().contains("unsigned");
        columns.push(SnapshotColumn::new(name, data_type, unsigned, charset, fsp));
    }
    // Unique indexes, the primary key first; prefix indexes cannot order whole values.
    let index_rows: Vec<(String, String, Option<u32>)> = conn
        .exec(
            "SELECT INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
             ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX",
            (database, table),
        )
        .await
        .map_err(query(what()))?;
    let position = |name: &str| columns.iter().position(|c| c.name == name);
    let mut indexes: Vec<(String, Vec<Option<usize>>, bool)> = Vec::new();
    for (index, column, sub_part) in index_rows {
        if indexes.last().is_none_or(|(name, _, _)| *name != index) {
            indexes.push((index, Vec::new(), true));
        }
        if let Some((_, cols, usable)) = indexes.last_mut() {
            cols.push(position(&column));
            *usable &= sub_part.is_none();
        }
    }
    let primary_key: Vec<usize> = indexes
        .iter()
        .find(|(name, _, _)| name == "PRIMARY")
        .map(|(_, cols, _)| cols.iter().flatten().copied().collect())
        .unwrap_or_default();
    let key = indexes
        .iter()
        .filter(|(_, _, usable)| *usable)
        .map(|(_, cols, _)| cols.iter().copied().collect::<Option<Vec<usize>>>())
        .find_map(|cols| cols.filter(|c| c.iter().all(|&i| not_null[i])))
        .ok_or_else(|| SnapshotError::NoKey {
            database: database.into(),
            table: table.into(),
        })?;
    for &i in &key {
        let c = &columns[i];
        if !PAGEABLE_TYPES.contains(&c.data_type.as_str()) {
            return Err(SnapshotError::KeyType {
                database: database.into(),
                table: table.into(),
                column: c.name.clone(),
                data_type: c.data_type.clone(),
            });
        }
    }
    Ok(Some(SnapshotTable {
        database: database.into(),
        table: table.into(),
        schema: Arc::new(TableSchema::new(
            database,
            table,
            schema_columns,
            primary_key,
        )),
        columns,
        key,
    }))
}

#[cfg(test)]
mod tests {
    use super::binlog_type_name;

    #[test]
    fn binlog_type_names_drop_widths_lengths_and_members() {
        for (data_type, column_type, fsp, binlog) in [
            ("int", "int(11)", 0, "int"),
            (
                "bigint",
                "bigint(20) unsigned zerofill",
                0,
                "bigint unsigned",
            ),
            ("tinyint", "tinyint(1)", 0, "tinyint"),
            ("double", "double", 0, "double"),
            (
                "decimal",
                "decimal(20,6) unsigned",
                0,
                "decimal(20,6) unsigned",
            ),
            ("bit", "bit(13)", 0, "bit(13)"),
            ("year", "year(4)", 0, "year"),
            ("datetime", "datetime(6)", 6, "datetime(6)"),
            ("timestamp", "timestamp", 0, "timestamp"),
            ("varchar", "varchar(40)", 0, "varchar"),
            ("binary", "binary(6)", 0, "binary"),
            ("longtext", "longtext", 0, "longtext"),
            ("enum", "enum('a','b')", 0, "enum"),
            ("point", "point", 0, "geometry"),
        ] {
            assert_eq!(
                binlog_type_name(data_type, column_type, fsp),
                binlog,
                "{column_type}"
            );
        }
    }
}
