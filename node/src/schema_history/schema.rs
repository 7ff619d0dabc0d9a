//! The schema at one point of the binlog: databases, their tables and each table's columns,
//! changed by [`SchemaChange`]s in binlog order.
//!
//! Applying is lenient where the history and the statement disagree (ADD of a column it
//! already has, DROP of one it lacks): that happens when the history was captured from
//! information_schema *after* DDL that the stream still has to pass (a task's first run from
//! an old position). The statement is the truth about what follows, so it wins; a warning says
//! that rows before it may have been decoded with the later shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ddl::{AlterSpec, ColumnCharset, ColumnPlace, ColumnSpec, SchemaChange, TableName};
use crate::source::schema::{ColumnDefinition, TableDefinition};

/// All databases Sluice knows of, at one binlog position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// `@@character_set_server`: the charset of databases created without one.
    pub server_charset: Option<String>,
    pub databases: BTreeMap<String, Database>,
}

/// A database: its default charset and its tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    pub charset: Option<String>,
    pub tables: BTreeMap<String, Table>,
}

/// A table: its default charset (for columns added later) and its definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub charset: Option<String>,
    pub definition: TableDefinition,
}

impl Schema {
    /// The definition of `database`.`table`, if the schema knows the table.
    pub fn definition(&self, database: &str, table: &str) -> Option<&TableDefinition> {
        self.databases
            .get(database)?
            .tables
            .get(table)
            .map(|t| &t.definition)
    }

    /// Applies one change.
    pub fn apply(&mut self, change: &SchemaChange) {
        match change {
            SchemaChange::CreateDatabase { name, charset } => {
                let charset = charset.clone().or_else(|| self.server_charset.clone());
                self.databases.entry(name.clone()).or_default().charset = charset;
            }
            SchemaChange::DropDatabase { name } => {
                self.databases.remove(name);
            }
            SchemaChange::CreateTable {
                table,
                columns,
                primary_key,
                charset,
                if_not_exists,
            } => {
                if *if_not_exists && self.table(table).is_some() {
                    return;
                }
                let database = self.databases.entry(table.database.clone()).or_default();
                let charset = charset
                    .clone()
                    .or_else(|| database.charset.clone())
                    .or_else(|| self.server_charset.clone());
                let mut columns_now = Vec::new();
                for spec in columns {
                    columns_now.push(column(spec, charset.as_deref()));
                }
                let definition = TableDefinition {
                    primary_key: key_indexes(&columns_now, primary_key),
                    columns: columns_now,
                };
                database.tables.insert(
                    table.table.clone(),
                    Table {
                        charset,
                        definition,
                    },
                );
            }
            SchemaChange::CreateTableLike { table, like } => match self.table(like).cloned() {
                Some(copy) => {
                    self.databases
                        .entry(table.database.clone())
                        .or_default()
                        .tables
                        .insert(table.table.clone(), copy);
                }
                None => tracing::warn!(
                    table = %format!("`{}`.`{}`", table.database, table.table),
                    like = %format!("`{}`.`{}`", like.database, like.table),
                    "CREATE TABLE ... LIKE names a table the schema history does not know; the new table is read from information_schema when first seen."
                ),
            },
            SchemaChange::AlterTable { table, specs } => {
                let mut name = table.clone();
                for spec in specs {
                    if let AlterSpec::RenameTo { to } = spec {
                        self.rename(&name, to);
                        name = to.clone();
                    } else {
                        self.alter(&name, spec);
                    }
                }
            }
            SchemaChange::RenameTable { from, to } => self.rename(from, to),
            SchemaChange::DropTable { table } => {
                if let Some(db) = self.databases.get_mut(&table.database) {
                    db.tables.remove(&table.table);
                }
            }
        }
    }

    fn table(&self, name: &TableName) -> Option<&Table> {
        self.databases.get(&name.database)?.tables.get(&name.table)
    }

    fn rename(&mut self, from: &TableName, to: &TableName) {
        let Some(table) = self
            .databases
            .get_mut(&from.database)
            .and_then(|db| db.tables.remove(&from.table))
        else {
            return;
        };
        self.databases
            .entry(to.database.clone())
            .or_default()
            .tables
            .insert(to.table.clone(), table);
    }

    fn alter(&mut self, name: &TableName, spec: &AlterSpec) {
        let Some(table) = self
            .databases
            .get_mut(&name.database)
            .and_then(|db| db.tables.get_mut(&name.table))
        else {
            // A table the history does not know is read from information_schema instead.
            return;
        };
        let def = &mut table.definition;
        // The key by name while columns move, back to indexes after.
        let mut key: Vec<String> = def
            .primary_key
            .iter()
            .filter_map(|&i| def.columns.get(i).map(|c| c.name.clone()))
            .collect();
        let find = |columns: &[ColumnDefinition], name: &str| {
            columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
        };
        let place_at = |columns: &[ColumnDefinition], place: &ColumnPlace| match place {
            ColumnPlace::First => Some(0),
            ColumnPlace::After(after) => find(columns, after).map(|i| i + 1),
        };
        let out_of_step = |what: &str| {
            tracing::warn!(
                table = %format!("`{}`.`{}`", name.database, name.table),
                "The schema history {what}: it was captured after this DDL ran; rows before it may have been decoded with the later columns."
            )
        };
        match spec {
            AlterSpec::AddColumn {
                column: spec,
                place,
                if_not_exists,
            } => {
                let new = column(spec, table.charset.as_deref());
                let existing = find(&def.columns, &spec.name);
                if *if_not_exists && existing.is_some() {
                    return;
                }
                if let Some(i) = existing {
                    out_of_step("already has the column the statement adds");
                    def.columns.remove(i);
                }
                let at = place
                    .as_ref()
                    .and_then(|p| place_at(&def.columns, p))
                    .unwrap_or(def.columns.len());
                def.columns.insert(at, new);
                if spec.primary_key {
                    key = vec![spec.name.clone()];
                }
            }
            AlterSpec::DropColumn { name: col } => match find(&def.columns, col) {
                Some(i) => {
                    def.columns.remove(i);
                    key.retain(|k| !k.eq_ignore_ascii_case(col));
                }
                None => out_of_step("lacks the column the statement drops"),
            },
            AlterSpec::ChangeColumn {
                old,
                column: spec,
                place,
            } => {
                let Some(i) = find(&def.columns, old) else {
                    out_of_step("lacks the column the statement changes");
                    return;
                };
                let new = column(spec, table.charset.as_deref());
                def.columns.remove(i);
                let at = match place {
                    Some(p) => place_at(&def.columns, p).unwrap_or(def.columns.len()),
                    None => i,
                };
                def.columns.insert(at, new);
                for k in key.iter_mut().filter(|k| k.eq_ignore_ascii_case(old)) {
                    *k = spec.name.clone();
                }
                if spec.primary_key {
                    key = vec![spec.name.clone()];
                }
            }
            AlterSpec::RenameColumn { from, to } => match find(&def.columns, from) {
                Some(i) => {
                    def.columns[i].name = to.clone();
                    for k in key.iter_mut().filter(|k| k.eq_ignore_ascii_case(from)) {
                        *k = to.clone();
                    }
                }
                None => out_of_step("lacks the column the statement renames"),
            },
            AlterSpec::AddPrimaryKey { columns } => key = columns.clone(),
            AlterSpec::DropPrimaryKey => key.clear(),
            AlterSpec::DefaultCharset { charset } => table.charset = Some(charset.clone()),
            AlterSpec::ConvertTo { charset } => {
                table.charset = Some(charset.clone());
                // Binary strings and BLOBs stay binary; the rest is converted.
                for c in def.columns.iter_mut().filter(|c| c.charset.is_some()) {
                    c.charset = Some(charset.clone());
                }
            }
            AlterSpec::RenameTo { .. } => {}
        }
        def.primary_key = key_indexes(&def.columns, &key);
    }
}

/// A column definition from its DDL, with `table_charset` for character columns that name none.
fn column(spec: &ColumnSpec, table_charset: Option<&str>) -> ColumnDefinition {
    ColumnDefinition {
        name: spec.name.clone(),
        column_type: spec.column_type.clone(),
        charset: match &spec.charset {
            ColumnCharset::NotText => None,
            ColumnCharset::Explicit(cs) => Some(cs.clone()),
            // Unknown in the end (no default anywhere): still text, decoded as UTF-8 would be
            // a guess, so "unknown" keeps the decoder's own fallback.
            ColumnCharset::TableDefault => {
                Some(table_charset.map_or_else(|| "unknown".to_string(), str::to_string))
            }
        },
        unsigned: spec.unsigned,
        members: spec.members.clone(),
    }
}

fn key_indexes(columns: &[ColumnDefinition], key: &[String]) -> Vec<usize> {
    key.iter()
        .filter_map(|k| columns.iter().position(|c| c.name.eq_ignore_ascii_case(k)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema_history::ddl::parse;

    fn run(schema: &mut Schema, sql: &str) {
        for change in parse(sql, "db").unwrap() {
            schema.apply(&change);
        }
    }

    fn columns(schema: &Schema, db: &str, table: &str) -> Vec<(String, Option<String>)> {
        schema
            .definition(db, table)
            .unwrap()
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.charset.clone()))
            .collect()
    }

    fn col(name: &str, charset: Option<&str>) -> (String, Option<String>) {
        (name.to_string(), charset.map(str::to_string))
    }

    #[test]
    fn charsets_come_from_the_column_table_database_or_server() {
        let mut schema = Schema {
            server_charset: Some("utf8mb4".into()),
            ..Schema::default()
        };
        run(&mut schema, "CREATE DATABASE db CHARACTER SET latin1");
        run(&mut schema, "CREATE DATABASE other");
        run(
            &mut schema,
            "CREATE TABLE t (a VARCHAR(3), b VARCHAR(3) CHARACTER SET cp1251, c INT, d BLOB)",
        );
        run(
            &mut schema,
            "CREATE TABLE other.u (a TEXT) DEFAULT CHARSET=ascii",
        );
        run(&mut schema, "CREATE TABLE other.v (a TEXT)");
        assert_eq!(
            columns(&schema, "db", "t"),
            [
                col("a", Some("latin1")),
                col("b", Some("cp1251")),
                col("c", None),
                col("d", None)
            ]
        );
        assert_eq!(columns(&schema, "other", "u"), [col("a", Some("ascii"))]);
        assert_eq!(columns(&schema, "other", "v"), [col("a", Some("utf8mb4"))]);
        run(
            &mut schema,
            "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4, ADD e CHAR(1)",
        );
        assert_eq!(
            columns(&schema, "db", "t"),
            [
                col("a", Some("utf8mb4")),
                col("b", Some("utf8mb4")),
                col("c", None),
                col("d", None),
                col("e", Some("utf8mb4"))
            ]
        );
    }

    #[test]
    fn the_primary_key_follows_its_columns() {
        let mut schema = Schema::default();
        run(
            &mut schema,
            "CREATE TABLE t (a INT, b INT, c INT, PRIMARY KEY (b, c))",
        );
        assert_eq!(schema.definition("db", "t").unwrap().primary_key, [1, 2]);
        run(&mut schema, "ALTER TABLE t DROP COLUMN a, ADD z INT FIRST");
        assert_eq!(schema.definition("db", "t").unwrap().primary_key, [1, 2]);
        run(&mut schema, "ALTER TABLE t CHANGE b bb BIGINT AFTER c");
        assert_eq!(
            columns(&schema, "db", "t"),
            [col("z", None), col("c", None), col("bb", None)]
        );
        assert_eq!(schema.definition("db", "t").unwrap().primary_key, [2, 1]);
        run(
            &mut schema,
            "ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (z)",
        );
        assert_eq!(schema.definition("db", "t").unwrap().primary_key, [0]);
    }

    #[test]
    fn tables_move_copy_and_go() {
        let mut schema = Schema::default();
        run(&mut schema, "CREATE TABLE a (x INT)");
        run(&mut schema, "CREATE TABLE b LIKE a");
        run(&mut schema, "RENAME TABLE a TO other.a2, b TO c");
        assert!(schema.definition("db", "a").is_none());
        assert!(schema.definition("other", "a2").is_some());
        assert!(schema.definition("db", "c").is_some());
        run(&mut schema, "ALTER TABLE c RENAME TO d, ADD y INT");
        assert_eq!(
            columns(&schema, "db", "d"),
            [col("x", None), col("y", None)]
        );
        run(&mut schema, "DROP TABLE d");
        assert!(schema.definition("db", "d").is_none());
        run(&mut schema, "DROP DATABASE other");
        assert!(schema.definition("other", "a2").is_none());
    }

    #[test]
    fn a_history_captured_after_the_ddl_lets_the_statement_win() {
        let mut schema = Schema::default();
        run(&mut schema, "CREATE TABLE t (id INT, note INT)");
        // Captured with `note` already there; the stream then passes its ADD and an old DROP.
        run(
            &mut schema,
            "ALTER TABLE t ADD COLUMN note VARCHAR(3) AFTER id, DROP COLUMN gone",
        );
        assert_eq!(
            columns(&schema, "db", "t"),
            [col("id", None), col("note", Some("unknown"))]
        );
    }
}
