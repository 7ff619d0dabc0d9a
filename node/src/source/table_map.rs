//! What Sluice knows of a table when a TABLE_MAP event names it: column types and metadata from
//! the event itself, and column names, signedness, charsets, ENUM/SET members and the primary
//! key from the event's optional metadata (`binlog_row_metadata=FULL`) or, when the server does
//! not send them, from a `TableDefinition` read from information_schema.
//!
//! Built once per distinct TABLE_MAP and shared by every row of that table, so the per-row work
//! is only the values themselves.

use std::sync::Arc;

use mysql_common::binlog::events::{OptionalMetadataField, TableMapEvent};
use mysql_common::constants::ColumnType;
use sluice_core::{ColumnSchema, TableSchema, Value};

use super::charset::TextDecoding;
use super::schema::TableDefinition;

/// How to decode one column's values.
#[derive(Debug, Clone)]
pub struct ColumnDecoder {
    /// The real column type (ENUM/SET are resolved from MYSQL_TYPE_STRING).
    pub column_type: ColumnType,
    /// The type-specific metadata bytes of the TABLE_MAP event.
    pub meta: Vec<u8>,
    /// Whether a numeric column is UNSIGNED (`None`: the source did not say).
    pub unsigned: Option<bool>,
    /// How a character column's bytes become text.
    pub text: TextDecoding,
    /// ENUM or SET member names, in definition order.
    pub members: Option<Vec<String>>,
}

/// A table as a TABLE_MAP event (plus metadata) describes it.
#[derive(Debug)]
pub struct TableDecoder {
    pub schema: Arc<TableSchema>,
    pub columns: Vec<ColumnDecoder>,
    /// Number of JSON columns: partial JSON updates number their bitmap by these.
    pub json_columns: usize,
    /// Whether the column names came from the source (else they are `@1`, `@2`, ...).
    pub named: bool,
}

/// Why a TABLE_MAP event could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum TableMapError {
    #[error("column {index} has a column type Sluice does not know: {detail}")]
    ColumnType { index: usize, detail: String },
    #[error("column {index}: type metadata is missing or truncated")]
    Metadata { index: usize },
    #[error("optional metadata is malformed: {0}")]
    OptionalMetadata(std::io::Error),
}

/// Everything the optional metadata says, per column.
#[derive(Default)]
struct OptionalMeta {
    names: Vec<String>,
    unsigned: Vec<bool>,
    charsets: Vec<u16>,
    default_charset: Option<u16>,
    non_default_charsets: Vec<(usize, u16)>,
    enum_set_charsets: Vec<u16>,
    enum_set_default_charset: Option<u16>,
    /// (index among the ENUM/SET columns, collation) of those not in the default.
    enum_set_non_default_charsets: Vec<(usize, u16)>,
    /// ENUM and SET members as the server wrote them: in the column's charset, decoded once
    /// that charset is known (a lossy UTF-8 read garbled latin1 members).
    enum_members: Vec<Vec<Vec<u8>>>,
    set_members: Vec<Vec<Vec<u8>>>,
    primary_key: Vec<usize>,
}

fn read_optional_meta(tme: &TableMapEvent<'_>) -> Result<OptionalMeta, std::io::Error> {
    let mut m = OptionalMeta::default();
    for field in tme.iter_optional_meta() {
        match field? {
            OptionalMetadataField::Signedness(bits) => {
                m.unsigned = bits.iter().by_vals().collect();
            }
            OptionalMetadataField::DefaultCharset(dc) => {
                m.default_charset = Some(dc.default_charset());
                for nd in dc.iter_non_default() {
                    let nd = nd?;
                    m.non_default_charsets
                        .push((nd.column_index() as usize, nd.charset()));
                }
            }
            OptionalMetadataField::ColumnCharset(cc) => {
                m.charsets = cc.iter_charsets().collect::<Result<_, _>>()?;
            }
            OptionalMetadataField::ColumnName(names) => {
                for name in names.iter_names() {
                    m.names.push(name?.name().into_owned());
                }
            }
            OptionalMetadataField::EnumStrValue(values) => {
                for members in values.iter_values() {
                    let members = members?;
                    m.enum_members.push(
                        members
                            .values()
                            .iter()
                            .map(|v| v.value_raw().to_vec())
                            .collect(),
                    );
                }
            }
            OptionalMetadataField::SetStrValue(values) => {
                for members in values.iter_values() {
                    let members = members?;
                    m.set_members.push(
                        members
                            .values()
                            .iter()
                            .map(|v| v.value_raw().to_vec())
                            .collect(),
                    );
                }
            }
            OptionalMetadataField::SimplePrimaryKey(pk) => {
                for i in pk.iter_indexes() {
                    m.primary_key.push(i? as usize);
                }
            }
            OptionalMetadataField::PrimaryKeyWithPrefix(pk) => {
                for k in pk.iter_keys() {
                    m.primary_key.push(k?.column_index() as usize);
                }
            }
            OptionalMetadataField::EnumAndSetDefaultCharset(dc) => {
                m.enum_set_default_charset = Some(dc.default_charset());
                for nd in dc.iter_non_default() {
                    let nd = nd?;
                    m.enum_set_non_default_charsets
                        .push((nd.column_index() as usize, nd.charset()));
                }
            }
            OptionalMetadataField::EnumAndSetColumnCharset(cc) => {
                m.enum_set_charsets = cc.iter_charsets().collect::<Result<_, _>>()?;
            }
            OptionalMetadataField::GeometryType(_)
            | OptionalMetadataField::ColumnVisibility(_)
            | OptionalMetadataField::Dimensionality(_) => {}
        }
    }
    Ok(m)
}

/// ENUM/SET member names in their column's charset (UTF-8, replacing what does not decode,
/// when the charset is unknown).
fn decode_members(raw: &[Vec<u8>], text: &TextDecoding) -> Vec<String> {
    raw.iter()
        .map(|bytes| match text.decode(bytes.clone()) {
            Value::Text(name) => name,
            _ => String::from_utf8_lossy(bytes).into_owned(),
        })
        .collect()
}

impl TableDecoder {
    /// Builds the decoder for a TABLE_MAP event. `definition` (from information_schema) is used
    /// for whatever the event's optional metadata does not say, when its column count matches.
    pub fn new(
        tme: &TableMapEvent<'_>,
        definition: Option<&TableDefinition>,
        mariadb: bool,
    ) -> Result<TableDecoder, TableMapError> {
        let count = tme.columns_count() as usize;
        let meta = read_optional_meta(tme).map_err(TableMapError::OptionalMetadata)?;
        let definition = definition.filter(|d| {
            let fits = d.columns.len() == count;
            if !fits {
                tracing::warn!(
                    database = %tme.database_name(),
                    table = %tme.table_name(),
                    binlog_columns = count,
                    current_columns = d.columns.len(),
                    "The table's current definition does not match its binlog rows (it changed \
                     since); columns are named by position."
                );
            }
            fits
        });

        let mut columns = Vec::with_capacity(count);
        let mut schema_columns = Vec::with_capacity(count);
        let (mut numeric_i, mut char_i, mut enum_i, mut set_i, mut enum_set_i) = (0, 0, 0, 0, 0);
        let mut json_columns = 0;

        for index in 0..count {
            let column_type = match tme.get_column_type(index) {
                Ok(Some(t)) => t,
                Ok(None) => return Err(TableMapError::Metadata { index }),
                Err(e) => {
                    return Err(TableMapError::ColumnType {
                        index,
                        detail: e.to_string(),
                    })
                }
            };
            let raw_meta = tme
                .get_column_metadata(index)
                .ok_or(TableMapError::Metadata { index })?
                .to_vec();
            check_meta_len(column_type, &raw_meta).ok_or(TableMapError::Metadata { index })?;
            let def = definition.and_then(|d| d.columns.get(index));

            let mut unsigned = def.map(|d| d.unsigned);
            if column_type.is_numeric_type() {
                if let Some(&u) = meta.unsigned.get(numeric_i) {
                    unsigned = Some(u);
                }
                numeric_i += 1;
            }

            let mut text = match def.and_then(|d| d.charset.as_deref()) {
                Some(cs) => TextDecoding::for_charset(cs),
                None => TextDecoding::Unknown("unknown".into()),
            };
            // MariaDB numbers GEOMETRY (a BLOB underneath) among the character columns of the
            // charset metadata; MySQL does not.
            let in_charset_list = column_type.is_character_type()
                || (mariadb && column_type == ColumnType::MYSQL_TYPE_GEOMETRY);
            if in_charset_list {
                let collation = meta.charsets.get(char_i).copied().or_else(|| {
                    meta.non_default_charsets
                        .iter()
                        .find(|(i, _)| *i == char_i)
                        .map(|(_, c)| *c)
                        .or(meta.default_charset)
                });
                if let Some(c) = collation {
                    text = TextDecoding::for_collation(c);
                } else if def.is_some_and(|d| d.charset.is_none()) {
                    // information_schema gives no charset for binary strings and BLOBs.
                    text = TextDecoding::Binary;
                }
                char_i += 1;
            }

            let mut members = def.and_then(|d| d.members.clone());
            if column_type.is_enum_or_set_type() {
                let from_meta = if column_type.is_enum_type() {
                    enum_i += 1;
                    meta.enum_members.get(enum_i - 1)
                } else {
                    set_i += 1;
                    meta.set_members.get(set_i - 1)
                };
                let collation = meta.enum_set_charsets.get(enum_set_i).copied().or_else(|| {
                    meta.enum_set_non_default_charsets
                        .iter()
                        .find(|(i, _)| *i == enum_set_i)
                        .map(|(_, c)| *c)
                        .or(meta.enum_set_default_charset)
                });
                if let Some(c) = collation {
                    text = TextDecoding::for_collation(c);
                }
                if let Some(m) = from_meta {
                    members = Some(decode_members(m, &text));
                }
                enum_set_i += 1;
            }
            if column_type == ColumnType::MYSQL_TYPE_JSON {
                json_columns += 1;
            }

            let name = meta
                .names
                .get(index)
                .cloned()
                .or_else(|| def.map(|d| d.name.clone()))
                .unwrap_or_else(|| format!("@{}", index + 1));
            let type_name = def.map(|d| d.column_type.clone()).unwrap_or_else(|| {
                type_name(
                    column_type,
                    &raw_meta,
                    unsigned,
                    text == TextDecoding::Binary,
                )
            });
            schema_columns.push(ColumnSchema { name, type_name });
            columns.push(ColumnDecoder {
                column_type,
                meta: raw_meta,
                unsigned,
                text,
                members,
            });
        }

        let primary_key = if !meta.primary_key.is_empty() {
            meta.primary_key
        } else {
            definition
                .map(|d| d.primary_key.clone())
                .unwrap_or_default()
        };
        let named = !meta.names.is_empty() || definition.is_some();
        Ok(TableDecoder {
            schema: Arc::new(TableSchema::new(
                tme.database_name().into_owned(),
                tme.table_name().into_owned(),
                schema_columns,
                primary_key.into_iter().filter(|&i| i < count).collect(),
            )),
            columns,
            json_columns,
            named,
        })
    }
}

/// The metadata length each type's value decoder indexes into, so a corrupt TABLE_MAP is an
/// error here rather than a panic in the value decoder.
fn check_meta_len(t: ColumnType, meta: &[u8]) -> Option<()> {
    use ColumnType::*;
    let needed = match t {
        MYSQL_TYPE_STRING
        | MYSQL_TYPE_ENUM
        | MYSQL_TYPE_SET
        | MYSQL_TYPE_BIT
        | MYSQL_TYPE_NEWDECIMAL
        | MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_VAR_STRING => 2,
        MYSQL_TYPE_TIMESTAMP2
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIME2
        | MYSQL_TYPE_BLOB
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_GEOMETRY
        | MYSQL_TYPE_VECTOR
        | MYSQL_TYPE_TYPED_ARRAY => 1,
        _ => 0,
    };
    (meta.len() >= needed).then_some(())
}

/// A MySQL-style type name from what the binlog says (used when information_schema is not
/// consulted, e.g. reading a binlog file offline).
fn type_name(t: ColumnType, meta: &[u8], unsigned: Option<bool>, binary: bool) -> String {
    use ColumnType::*;
    let sign = if unsigned == Some(true) {
        " unsigned"
    } else {
        ""
    };
    let m0 = meta.first().copied().unwrap_or(0);
    let m1 = meta.get(1).copied().unwrap_or(0);
    match t {
        MYSQL_TYPE_TINY => format!("tinyint{sign}"),
        MYSQL_TYPE_SHORT => format!("smallint{sign}"),
        MYSQL_TYPE_INT24 => format!("mediumint{sign}"),
        MYSQL_TYPE_LONG => format!("int{sign}"),
        MYSQL_TYPE_LONGLONG => format!("bigint{sign}"),
        MYSQL_TYPE_FLOAT => format!("float{sign}"),
        MYSQL_TYPE_DOUBLE => format!("double{sign}"),
        MYSQL_TYPE_NEWDECIMAL | MYSQL_TYPE_DECIMAL => format!("decimal({m0},{m1}){sign}"),
        MYSQL_TYPE_BIT => format!("bit({})", usize::from(m1) * 8 + usize::from(m0)),
        MYSQL_TYPE_YEAR => "year".into(),
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => "date".into(),
        MYSQL_TYPE_TIME => "time".into(),
        MYSQL_TYPE_TIME2 => fsp_type("time", m0),
        MYSQL_TYPE_DATETIME => "datetime".into(),
        MYSQL_TYPE_DATETIME2 => fsp_type("datetime", m0),
        MYSQL_TYPE_TIMESTAMP => "timestamp".into(),
        MYSQL_TYPE_TIMESTAMP2 => fsp_type("timestamp", m0),
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING if binary => "varbinary".into(),
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING => "varchar".into(),
        MYSQL_TYPE_STRING if binary => "binary".into(),
        MYSQL_TYPE_STRING => "char".into(),
        MYSQL_TYPE_BLOB | MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB => {
            let size = match m0 {
                1 => "tiny",
                3 => "medium",
                4 => "long",
                _ => "",
            };
            format!("{size}{}", if binary { "blob" } else { "text" })
        }
        MYSQL_TYPE_ENUM => "enum".into(),
        MYSQL_TYPE_SET => "set".into(),
        MYSQL_TYPE_JSON => "json".into(),
        MYSQL_TYPE_GEOMETRY => "geometry".into(),
        MYSQL_TYPE_VECTOR => "vector".into(),
        other => format!("{other:?}")
            .trim_start_matches("MYSQL_TYPE_")
            .to_lowercase(),
    }
}

fn fsp_type(base: &str, fsp: u8) -> String {
    if fsp == 0 {
        base.to_string()
    } else {
        format!("{base}({fsp})")
    }
}
