//! One binlog QUERY event's statement, read as the schema changes it makes.
//!
//! Statements are parsed with `sqlparser`'s MySQL dialect. Which statements matter is decided
//! first, from their leading keywords (`sqlparser`'s tokenizer, so comments and case do not
//! matter): CREATE/ALTER/RENAME/DROP/TRUNCATE TABLE and CREATE/DROP DATABASE (or SCHEMA) must
//! parse, and one that does not is an error, since the columns after it are unknown. Every
//! other statement (BEGIN, GRANT, CREATE VIEW, CREATE INDEX, SAVEPOINT, ...) changes no
//! column and is ignored without being parsed, so a dialect gap there cannot stop a task.
//!
//! Written by hand, because the parser cannot serve them: the leading-keyword triage;
//! TRUNCATE, which never changes columns and so needs no parse at all; and, for an ALTER TABLE
//! the parser rejects, the split into its specifications, so that table options it does not
//! know (`ENGINE=`, `FORCE`, `DEFAULT CHARSET=`, `CONVERT TO CHARACTER SET`, `PARTITION BY`,
//! `RENAME INDEX`, ...) are read by hand and only the rest goes to the parser again.
//!
//! A column type the parser does not know as a type (it reads `ADD SYSTEM VERSIONING` as a
//! column `SYSTEM` of type `versioning`) is an error too, unless it is one of MySQL's or
//! MariaDB's own types the parser keeps as custom names (`POINT`, `YEAR`, `INET6`, ...).

use sqlparser::ast::{
    AlterTableOperation, ColumnOption, CreateTable, CreateTableLikeKind, CreateTableOptions,
    DataType, EnumMember, Expr, MySQLColumnPosition, ObjectName, ObjectType, SqlOption, Statement,
    TableConstraint, Value, ValueWithSpan,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A table, by database and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub database: String,
    pub table: String,
}

/// Where a column's characters are encoded, as its DDL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnCharset {
    /// Not a character column (numbers, dates, binary strings, BLOBs).
    NotText,
    /// A character column with its own CHARACTER SET or COLLATE.
    Explicit(String),
    /// A character column that takes the table's default charset.
    TableDefault,
}

/// A column as a CREATE or ALTER TABLE defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: String,
    /// The type as written, lower case, e.g. `int(10) unsigned`, `enum('a', 'b')`.
    pub column_type: String,
    pub unsigned: bool,
    /// ENUM or SET members.
    pub members: Option<Vec<String>>,
    pub charset: ColumnCharset,
    /// Declared `PRIMARY KEY` inline.
    pub primary_key: bool,
}

/// Where ALTER TABLE puts a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnPlace {
    First,
    After(String),
}

/// One specification of an ALTER TABLE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterSpec {
    /// ADD COLUMN; `None` place: at the end.
    AddColumn {
        column: ColumnSpec,
        place: Option<ColumnPlace>,
        /// MariaDB's `IF NOT EXISTS`: an existing column stays as it is.
        if_not_exists: bool,
    },
    DropColumn {
        name: String,
    },
    /// CHANGE (and MODIFY, where `old` is the column's own name); `None` place: where it was.
    ChangeColumn {
        old: String,
        column: ColumnSpec,
        place: Option<ColumnPlace>,
    },
    RenameColumn {
        from: String,
        to: String,
    },
    AddPrimaryKey {
        columns: Vec<String>,
    },
    DropPrimaryKey,
    RenameTo {
        to: TableName,
    },
    /// `[DEFAULT] CHARACTER SET` or `COLLATE`: the table's default, for columns added later.
    DefaultCharset {
        charset: String,
    },
    /// `CONVERT TO CHARACTER SET`: the default and every character column.
    ConvertTo {
        charset: String,
    },
}

/// A change to the schema one statement makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaChange {
    CreateDatabase {
        name: String,
        charset: Option<String>,
    },
    DropDatabase {
        name: String,
    },
    CreateTable {
        table: TableName,
        columns: Vec<ColumnSpec>,
        /// From a `PRIMARY KEY (...)` table constraint.
        primary_key: Vec<String>,
        /// The table's default charset, when the statement gives one.
        charset: Option<String>,
        /// `IF NOT EXISTS`: an existing table stays as it is.
        if_not_exists: bool,
    },
    CreateTableLike {
        table: TableName,
        like: TableName,
    },
    AlterTable {
        table: TableName,
        specs: Vec<AlterSpec>,
    },
    RenameTable {
        from: TableName,
        to: TableName,
    },
    DropTable {
        table: TableName,
    },
}

/// Why a statement that changes tables could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct DdlError {
    pub detail: String,
}

impl DdlError {
    pub(super) fn new(detail: impl Into<String>) -> Self {
        DdlError {
            detail: detail.into(),
        }
    }
}

/// What kind of statement, from its leading keywords.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// Changes tables or databases: must parse.
    Schema,
    /// TRUNCATE: a schema statement that changes no column.
    Truncate,
    /// Anything else: no column changes.
    Other,
}

fn kind(sql: &str) -> Kind {
    let dialect = MySqlDialect {};
    // A statement the tokenizer cannot even split (an unterminated quote) is classified by
    // its leading words only, which the tokenizer would have read before failing anyway.
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .unwrap_or_else(|_| leading_words(sql));
    let words: Vec<String> = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
            Token::Whitespace(_) => None,
            _ => Some(String::new()),
        })
        .take(6)
        .collect();
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let skip = |w: &[&str], noise: &[&str]| -> usize {
        w.iter().take_while(|x| noise.contains(x)).count()
    };
    match w.first().copied() {
        Some("TRUNCATE") => Kind::Truncate,
        Some("CREATE") => {
            let rest = &w[1..];
            let rest = &rest[skip(rest, &["OR", "REPLACE"])..];
            match rest.first().copied() {
                // Temporary tables are not logged in row format, and never replicated as rows.
                Some("TABLE" | "DATABASE" | "SCHEMA") => Kind::Schema,
                _ => Kind::Other,
            }
        }
        Some("ALTER") => {
            let rest = &w[1..];
            let rest = &rest[skip(rest, &["ONLINE", "OFFLINE", "IGNORE"])..];
            match rest.first().copied() {
                Some("TABLE") => Kind::Schema,
                _ => Kind::Other,
            }
        }
        Some("RENAME") => match w.get(1).copied() {
            Some("TABLE" | "TABLES") => Kind::Schema,
            _ => Kind::Other,
        },
        Some("DROP") => match w.get(1).copied() {
            Some("TABLE" | "DATABASE" | "SCHEMA") => Kind::Schema,
            _ => Kind::Other,
        },
        _ => Kind::Other,
    }
}

/// The first words of `sql`, split on whitespace, as word tokens.
fn leading_words(sql: &str) -> Vec<Token> {
    sql.split_whitespace()
        .take(6)
        .map(|w| Token::make_word(w, None))
        .collect()
}

/// Reads one statement, run with `default_database` as its session's database.
/// `Ok(vec![])` for statements that change no column.
pub fn parse(sql: &str, default_database: &str) -> Result<Vec<SchemaChange>, DdlError> {
    match kind(sql) {
        Kind::Other | Kind::Truncate => return Ok(Vec::new()),
        Kind::Schema => {}
    }
    let statements = match Parser::parse_sql(&MySqlDialect {}, sql) {
        Ok(statements) => statements,
        Err(e) => {
            let rejected = || DdlError::new(format!("the SQL parser rejects it: {e}"));
            return super::alter_parts::parse_alter(sql, default_database)
                .ok_or_else(rejected)?
                .map_err(|_| rejected());
        }
    };
    let mut changes = Vec::new();
    for statement in statements {
        changes.extend(statement_changes(statement, default_database)?);
    }
    Ok(changes)
}

pub(super) fn statement_changes(
    statement: Statement,
    default_database: &str,
) -> Result<Vec<SchemaChange>, DdlError> {
    let table_name = |name: &ObjectName| resolve(name, default_database);
    Ok(match statement {
        Statement::CreateDatabase {
            db_name,
            default_charset,
            default_collation,
            ..
        } => vec![SchemaChange::CreateDatabase {
            name: last_part(&db_name)?,
            charset: default_charset
                .map(|c| c.to_ascii_lowercase())
                .or_else(|| default_collation.as_deref().and_then(charset_of_collation)),
        }],
        Statement::CreateSchema { schema_name, .. } => vec![SchemaChange::CreateDatabase {
            name: schema_name.to_string().trim_matches('`').to_string(),
            charset: None,
        }],
        Statement::CreateTable(create) => vec![create_table(create, default_database)?],
        Statement::AlterTable(alter) => {
            let table = table_name(&alter.name)?;
            let mut specs = Vec::new();
            for op in alter.operations {
                specs.extend(alter_spec(op, default_database)?);
            }
            vec![SchemaChange::AlterTable { table, specs }]
        }
        Statement::RenameTable(renames) => renames
            .iter()
            .map(|r| {
                Ok(SchemaChange::RenameTable {
                    from: table_name(&r.old_name)?,
                    to: table_name(&r.new_name)?,
                })
            })
            .collect::<Result<_, DdlError>>()?,
        Statement::Drop {
            object_type, names, ..
        } => match object_type {
            ObjectType::Table => names
                .iter()
                .map(|n| {
                    Ok(SchemaChange::DropTable {
                        table: table_name(n)?,
                    })
                })
                .collect::<Result<_, DdlError>>()?,
            ObjectType::Database | ObjectType::Schema => names
                .iter()
                .map(|n| {
                    Ok(SchemaChange::DropDatabase {
                        name: last_part(n)?,
                    })
                })
                .collect::<Result<_, DdlError>>()?,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    })
}

fn create_table(create: CreateTable, default_database: &str) -> Result<SchemaChange, DdlError> {
    let table = resolve(&create.name, default_database)?;
    if let Some(like) = &create.like {
        let like = match like {
            CreateTableLikeKind::Parenthesized(l) | CreateTableLikeKind::Plain(l) => &l.name,
        };
        return Ok(SchemaChange::CreateTableLike {
            table,
            like: resolve(like, default_database)?,
        });
    }
    if create.query.is_some() {
        // CREATE TABLE ... SELECT: the columns come from the query, which only the server
        // knows; MySQL logs such statements with their columns spelt out only sometimes.
        return Err(DdlError::new(
            "CREATE TABLE ... SELECT: its columns cannot be known from the statement",
        ));
    }
    let columns = create
        .columns
        .iter()
        .map(|c| {
            column_spec(
                &c.name.value,
                &c.data_type,
                c.options.iter().map(|o| &o.option),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut primary_key: Vec<String> = columns
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| c.name.clone())
        .collect();
    for constraint in &create.constraints {
        if let TableConstraint::PrimaryKey(pk) = constraint {
            primary_key = index_columns(&pk.columns)?;
        }
    }
    let charset = match &create.table_options {
        CreateTableOptions::Plain(options) | CreateTableOptions::With(options) => {
            table_charset(options)
        }
        _ => None,
    };
    Ok(SchemaChange::CreateTable {
        table,
        columns,
        primary_key,
        charset,
        if_not_exists: create.if_not_exists,
    })
}

/// The charset a table's options give it: CHARACTER SET, else the one of its COLLATE.
fn table_charset(options: &[SqlOption]) -> Option<String> {
    let mut charset = None;
    let mut collation_charset = None;
    for option in options {
        if let SqlOption::KeyValue { key, value } = option {
            let key = key.to_string().to_ascii_uppercase();
            let value = expr_text(value);
            match key.as_str() {
                "DEFAULT CHARSET" | "CHARSET" | "DEFAULT CHARACTER SET" | "CHARACTER SET" => {
                    charset = Some(value.to_ascii_lowercase())
                }
                "DEFAULT COLLATE" | "COLLATE" => collation_charset = charset_of_collation(&value),
                _ => {}
            }
        }
    }
    charset.or(collation_charset)
}

fn alter_spec(op: AlterTableOperation, default_database: &str) -> Result<Vec<AlterSpec>, DdlError> {
    let place = |p: Option<MySQLColumnPosition>| {
        p.map(|p| match p {
            MySQLColumnPosition::First => ColumnPlace::First,
            MySQLColumnPosition::After(c) => ColumnPlace::After(c.value),
        })
    };
    Ok(vec![match op {
        AlterTableOperation::AddColumn {
            column_def,
            column_position,
            if_not_exists,
            ..
        } => AlterSpec::AddColumn {
            if_not_exists,
            column: column_spec(
                &column_def.name.value,
                &column_def.data_type,
                column_def.options.iter().map(|o| &o.option),
            )?,
            place: place(column_position),
        },
        AlterTableOperation::DropColumn { column_names, .. } => {
            return Ok(column_names
                .into_iter()
                .map(|c| AlterSpec::DropColumn { name: c.value })
                .collect());
        }
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            column_position,
        } => AlterSpec::ChangeColumn {
            old: old_name.value,
            column: column_spec(&new_name.value, &data_type, options.iter())?,
            place: place(column_position),
        },
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            options,
            column_position,
        } => AlterSpec::ChangeColumn {
            old: col_name.value.clone(),
            column: column_spec(&col_name.value, &data_type, options.iter())?,
            place: place(column_position),
        },
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => AlterSpec::RenameColumn {
            from: old_column_name.value,
            to: new_column_name.value,
        },
        AlterTableOperation::AddConstraint {
            constraint: TableConstraint::PrimaryKey(pk),
            ..
        } => AlterSpec::AddPrimaryKey {
            columns: index_columns(&pk.columns)?,
        },
        AlterTableOperation::DropPrimaryKey { .. } => AlterSpec::DropPrimaryKey,
        AlterTableOperation::DropIndex { name } if name.value.eq_ignore_ascii_case("PRIMARY") => {
            AlterSpec::DropPrimaryKey
        }
        AlterTableOperation::RenameTable { table_name } => {
            let (sqlparser::ast::RenameTableNameKind::As(to)
            | sqlparser::ast::RenameTableNameKind::To(to)) = table_name;
            AlterSpec::RenameTo {
                to: resolve(&to, default_database)?,
            }
        }
        // Indexes, constraints other than the primary key, defaults, table options, ...:
        // the columns and their types stay as they are.
        _ => return Ok(Vec::new()),
    }])
}

/// A column from its name, type and options (CHARACTER SET, COLLATE, PRIMARY KEY).
fn column_spec<'a>(
    name: &str,
    data_type: &DataType,
    options: impl Iterator<Item = &'a ColumnOption>,
) -> Result<ColumnSpec, DdlError> {
    let (base, type_collation) = match data_type {
        DataType::Collate(inner, collation) => {
            (inner.as_ref(), charset_of_collation(&collation.to_string()))
        }
        other => (other, None),
    };
    let mut explicit = type_collation;
    let mut primary_key = false;
    for option in options {
        match option {
            ColumnOption::CharacterSet(cs) => {
                explicit = Some(cs.to_string().trim_matches('`').to_ascii_lowercase())
            }
            ColumnOption::Collation(c) if explicit.is_none() => {
                explicit = charset_of_collation(&c.to_string());
            }
            ColumnOption::PrimaryKey(_) => primary_key = true,
            _ => {}
        }
    }
    let text = is_text(base);
    let charset = match explicit {
        // `CHARACTER SET binary` makes a binary string of a character type.
        Some(cs) if cs == "binary" => ColumnCharset::NotText,
        Some(cs) if text => ColumnCharset::Explicit(cs),
        _ if text => ColumnCharset::TableDefault,
        _ => ColumnCharset::NotText,
    };
    let column_type = base.to_string().to_ascii_lowercase();
    if let DataType::Custom(type_name, _) = base {
        let type_name = type_name.to_string().to_ascii_lowercase();
        if !KNOWN_CUSTOM_TYPES.contains(&type_name.as_str()) {
            return Err(DdlError::new(format!(
                "column `{name}` has type `{type_name}`, which is not a MySQL or MariaDB type"
            )));
        }
    }
    Ok(ColumnSpec {
        name: name.to_string(),
        unsigned: column_type.contains("unsigned"),
        members: members(base),
        column_type,
        charset,
        primary_key,
    })
}

/// Server types the parser has no variant for and keeps as custom names.
const KNOWN_CUSTOM_TYPES: &[&str] = &[
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
    "geomcollection",
    "year",
    "inet4",
    "inet6",
    "serial",
    "vector",
    "xml",
];

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Character(_)
            | DataType::Char(_)
            | DataType::CharacterVarying(_)
            | DataType::CharVarying(_)
            | DataType::Varchar(_)
            | DataType::Nvarchar(_)
            | DataType::Text
            | DataType::TinyText
            | DataType::MediumText
            | DataType::LongText
            | DataType::Enum(..)
            | DataType::Set(_)
    )
}

fn members(data_type: &DataType) -> Option<Vec<String>> {
    match data_type {
        DataType::Enum(members, _) => Some(
            members
                .iter()
                .map(|m| match m {
                    EnumMember::Name(n) | EnumMember::NamedValue(n, _) => n.clone(),
                })
                .collect(),
        ),
        DataType::Set(members) => Some(members.clone()),
        _ => None,
    }
}

/// The charset a collation belongs to: its name up to the first `_` (`utf8mb4_bin`), except
/// MariaDB's charset-less `uca1400_*` names, which say nothing about it.
pub fn charset_of_collation(collation: &str) -> Option<String> {
    let collation = collation.trim_matches(|c| c == '`' || c == '\'' || c == '"');
    let (charset, _) = collation.split_once('_')?;
    let charset = charset.to_ascii_lowercase();
    (!charset.starts_with("uca") && !charset.is_empty()).then_some(charset)
}

fn index_columns(columns: &[sqlparser::ast::IndexColumn]) -> Result<Vec<String>, DdlError> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            Expr::Identifier(ident) => Ok(ident.value.clone()),
            // `PRIMARY KEY (name(10))`: a key on a prefix of the column.
            Expr::Function(f) => Ok(f.name.to_string().trim_matches('`').to_string()),
            other => Err(DdlError::new(format!(
                "a primary key on `{other}`, not on a column"
            ))),
        })
        .collect()
}

fn expr_text(expr: &Expr) -> String {
    match expr {
        Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(s) | Value::DoubleQuotedString(s),
            ..
        }) => s.clone(),
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

/// `db.table` or `table` (in the session's database).
fn resolve(name: &ObjectName, default_database: &str) -> Result<TableName, DdlError> {
    let parts: Vec<&str> = name
        .0
        .iter()
        .map(|p| p.as_ident().map(|i| i.value.as_str()))
        .collect::<Option<_>>()
        .ok_or_else(|| DdlError::new(format!("`{name}` is not a table name")))?;
    match parts.as_slice() {
        [table] if !default_database.is_empty() => Ok(TableName {
            database: default_database.to_string(),
            table: table.to_string(),
        }),
        [table] => Err(DdlError::new(format!(
            "table `{table}` is named without a database and the statement has no default database"
        ))),
        [database, table] => Ok(TableName {
            database: database.to_string(),
            table: table.to_string(),
        }),
        _ => Err(DdlError::new(format!("`{name}` is not a table name"))),
    }
}

fn last_part(name: &ObjectName) -> Result<String, DdlError> {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.clone())
        .ok_or_else(|| DdlError::new(format!("`{name}` is not a database name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(database: &str, table: &str) -> TableName {
        TableName {
            database: database.into(),
            table: table.into(),
        }
    }

    fn one(sql: &str) -> SchemaChange {
        let mut changes = parse(sql, "shop").unwrap();
        assert_eq!(changes.len(), 1, "{changes:#?}");
        changes.remove(0)
    }

    fn specs(sql: &str) -> Vec<AlterSpec> {
        match one(sql) {
            SchemaChange::AlterTable { specs, .. } => specs,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_table_with_column_options_and_charsets() {
        let change = one(
            "CREATE TABLE `shop`.`orders` (\n  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,\n  \
             `name` varchar(20) CHARACTER SET latin1 DEFAULT NULL COMMENT 'x',\n  \
             `note` text COLLATE utf8mb4_bin,\n  `code` varchar(5) NOT NULL DEFAULT '',\n  \
             `color` enum('red','it''s') DEFAULT 'red',\n  `raw` varbinary(8),\n  \
             PRIMARY KEY (`id`), KEY `k` (`name`)\n) ENGINE=InnoDB DEFAULT CHARSET=cp1251",
        );
        let SchemaChange::CreateTable {
            table,
            columns,
            primary_key,
            charset,
            if_not_exists,
        } = change
        else {
            panic!("{change:?}")
        };
        assert_eq!(table, t("shop", "orders"));
        assert_eq!(primary_key, ["id"]);
        assert_eq!(charset.as_deref(), Some("cp1251"));
        assert!(!if_not_exists);
        let by_name = |n: &str| columns.iter().find(|c| c.name == n).unwrap();
        assert!(by_name("id").unsigned);
        assert_eq!(by_name("id").charset, ColumnCharset::NotText);
        assert_eq!(
            by_name("name").charset,
            ColumnCharset::Explicit("latin1".into())
        );
        assert_eq!(
            by_name("note").charset,
            ColumnCharset::Explicit("utf8mb4".into())
        );
        assert_eq!(by_name("code").charset, ColumnCharset::TableDefault);
        assert_eq!(
            by_name("color").members,
            Some(vec!["red".to_string(), "it's".to_string()])
        );
        assert_eq!(by_name("raw").charset, ColumnCharset::NotText);
        assert_eq!(
            columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["id", "name", "note", "code", "color", "raw"]
        );
    }

    #[test]
    fn inline_primary_key_and_table_in_the_default_database() {
        let SchemaChange::CreateTable {
            table, primary_key, ..
        } = one("create table if not exists t (id bigint primary key, v int)")
        else {
            panic!()
        };
        assert_eq!(table, t("shop", "t"));
        assert_eq!(primary_key, ["id"]);
    }

    #[test]
    fn alter_table_with_several_specifications() {
        let specs = specs(
            "ALTER TABLE `other`.`t` ADD COLUMN `a` INT UNSIGNED NOT NULL DEFAULT 0 AFTER `id`, \
             ADD b VARCHAR(3) FIRST, DROP COLUMN c, DROP d, MODIFY e BIGINT, \
             CHANGE COLUMN f g CHAR(2) CHARACTER SET ascii, RENAME COLUMN h TO i, \
             ADD INDEX ix (a), ALGORITHM=INPLACE",
        );
        let added = |s: &AlterSpec| match s {
            AlterSpec::AddColumn { column, place, .. } => (column.name.clone(), place.clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            added(&specs[0]),
            ("a".into(), Some(ColumnPlace::After("id".into())))
        );
        assert_eq!(added(&specs[1]), ("b".into(), Some(ColumnPlace::First)));
        assert_eq!(specs[2], AlterSpec::DropColumn { name: "c".into() });
        assert_eq!(specs[3], AlterSpec::DropColumn { name: "d".into() });
        let AlterSpec::ChangeColumn { old, column, place } = &specs[4] else {
            panic!()
        };
        assert_eq!(
            (old.as_str(), column.name.as_str(), place),
            ("e", "e", &None)
        );
        assert_eq!(column.column_type, "bigint");
        let AlterSpec::ChangeColumn { old, column, .. } = &specs[5] else {
            panic!()
        };
        assert_eq!((old.as_str(), column.name.as_str()), ("f", "g"));
        assert_eq!(column.charset, ColumnCharset::Explicit("ascii".into()));
        assert_eq!(
            specs[6],
            AlterSpec::RenameColumn {
                from: "h".into(),
                to: "i".into()
            }
        );
        assert_eq!(specs.len(), 7, "{specs:#?}");
        match one("ALTER TABLE `other`.`t` DROP COLUMN c") {
            SchemaChange::AlterTable { table, .. } => assert_eq!(table, t("other", "t")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn primary_keys_added_and_dropped() {
        assert_eq!(
            specs("ALTER TABLE t ADD PRIMARY KEY (a, `b`)"),
            [AlterSpec::AddPrimaryKey {
                columns: vec!["a".into(), "b".into()]
            }]
        );
        assert_eq!(
            specs("ALTER TABLE t DROP PRIMARY KEY"),
            [AlterSpec::DropPrimaryKey]
        );
        assert_eq!(
            specs("ALTER TABLE t DROP PRIMARY KEY, ADD CONSTRAINT pk PRIMARY KEY (c)"),
            [
                AlterSpec::DropPrimaryKey,
                AlterSpec::AddPrimaryKey {
                    columns: vec!["c".into()]
                }
            ]
        );
    }

    #[test]
    fn renames_of_tables() {
        assert_eq!(
            parse("RENAME TABLE a TO b, `x`.`c` TO `y`.`d`", "shop").unwrap(),
            [
                SchemaChange::RenameTable {
                    from: t("shop", "a"),
                    to: t("shop", "b")
                },
                SchemaChange::RenameTable {
                    from: t("x", "c"),
                    to: t("y", "d")
                }
            ]
        );
        assert_eq!(
            specs("ALTER TABLE a RENAME TO other.b"),
            [AlterSpec::RenameTo {
                to: t("other", "b")
            }]
        );
    }

    #[test]
    fn drops_truncates_and_databases() {
        assert_eq!(
            parse(
                "DROP TABLE IF EXISTS `a`, b.c /* generated by server */",
                "shop"
            )
            .unwrap(),
            [
                SchemaChange::DropTable {
                    table: t("shop", "a")
                },
                SchemaChange::DropTable { table: t("b", "c") }
            ]
        );
        assert_eq!(parse("TRUNCATE TABLE a", "shop").unwrap(), []);
        assert_eq!(parse("truncate a", "shop").unwrap(), []);
        assert_eq!(
            one("CREATE DATABASE `new_db` CHARACTER SET latin1"),
            SchemaChange::CreateDatabase {
                name: "new_db".into(),
                charset: Some("latin1".into())
            }
        );
        assert_eq!(
            one("CREATE DATABASE IF NOT EXISTS d2 COLLATE utf8mb4_unicode_ci"),
            SchemaChange::CreateDatabase {
                name: "d2".into(),
                charset: Some("utf8mb4".into())
            }
        );
        assert_eq!(
            one("DROP DATABASE IF EXISTS `new_db`"),
            SchemaChange::DropDatabase {
                name: "new_db".into()
            }
        );
        assert_eq!(
            one("CREATE TABLE t2 LIKE other.t"),
            SchemaChange::CreateTableLike {
                table: t("shop", "t2"),
                like: t("other", "t")
            }
        );
    }

    #[test]
    fn statements_that_are_not_ddl_are_ignored_unparsed() {
        for sql in [
            "BEGIN",
            "GRANT SELECT ON *.* TO 'u'@'%'",
            "SAVEPOINT s1",
            "CREATE DEFINER=`root`@`%` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @x = 1",
            "CREATE INDEX ix ON t (a)",
            "/* a comment */ FLUSH PRIVILEGES",
            "CREATE ALGORITHM=UNDEFINED VIEW v AS SELECT 1",
            "DROP VIEW v",
        ] {
            assert_eq!(parse(sql, "shop").unwrap(), [], "{sql}");
        }
    }

    #[test]
    fn unparseable_table_ddl_is_an_error() {
        let e = parse("ALTER TABLE t ADD SYSTEM VERSIONING", "shop").unwrap_err();
        assert!(e.detail.contains("versioning"), "{e}");
        let e = parse(
            "ALTER TABLE t ADD COLUMN c INT WITHOUT SYSTEM VERSIONING",
            "shop",
        )
        .unwrap_err();
        assert!(e.detail.contains("WITHOUT"), "{e}");
        assert!(parse("CREATE TABLE t SELECT 1 AS a", "shop").is_err());
    }
}
