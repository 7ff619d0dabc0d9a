//! Reads one chunk of a table: the next `limit` rows in key order after the last key read,
//! by keyset pagination on a connection of its own. A plain `SELECT` under InnoDB is a
//! consistent, non-locking read: writers are never blocked, and no global lock is taken.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use sluice_core::{RowImage, Value};

use super::discovery::SnapshotTable;
use super::error::{query, SnapshotError};
use super::progress::KeyValue;
use super::values::{convert, key_param, key_value, select_expression};

/// One chunk as read: the rows as the server sent them (converted later, off the reading
/// thread: [`convert_rows`]).
pub struct Chunk {
    pub rows: Vec<mysql_async::Row>,
    /// The key of the last row, where the next chunk starts (`None`: no row was read).
    pub last_key: Option<Vec<KeyValue>>,
}

/// The snapshot's reading connection.
pub struct ChunkReader {
    conn: Conn,
}

/// `name` quoted as a MySQL identifier.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

impl ChunkReader {
    pub async fn open(opts: &Opts) -> Result<Self, SnapshotError> {
        let mut conn = Conn::new(opts.clone())
            .await
            .map_err(|e| SnapshotError::Connect {
                detail: e.to_string(),
            })?;
        // Strings in their column's charset, decoded as the binlog decoder does; UTC, so no
        // TIMESTAMP read passes through a daylight-saving gap or overlap.
        conn.query_drop("SET character_set_results = NULL, time_zone = '+00:00'")
            .await
            .map_err(query("preparing the snapshot's reading session"))?;
        Ok(ChunkReader { conn })
    }

    /// Reads up to `limit` rows of `table` with keys in `range`.
    pub async fn read(
        &mut self,
        table: &SnapshotTable,
        range: KeyRange<'_>,
        limit: u32,
    ) -> Result<Chunk, SnapshotError> {
        let (sql, params) = chunk_query(table, range, limit);
        let what = || format!("reading a chunk of `{}`.`{}`", table.database, table.table);
        let mut result = self
            .conn
            .exec_iter(sql, params)
            .await
            .map_err(query(what()))?;
        let mut rows = Vec::with_capacity(limit.min(65_536) as usize);
        // The message is built only on failure: this loop runs once per row.
        while let Some(row) = result.next().await.map_err(|e| query(what())(e))? {
            rows.push(row);
        }
        drop(result);
        let last_key = match rows.last() {
            Some(last) => Some(row_key(table, last)?),
            None => None,
        };
        Ok(Chunk { rows, last_key })
    }
}

/// An integer key's extent, for splitting its table into ranges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyBounds {
    /// The table's smallest and largest key.
    pub min: i128,
    pub max: i128,
    /// The smallest key after the snapshot's start in the table (`min` from its start).
    pub from: i128,
    /// The server's estimate of the table's rows (`information_schema.TABLES`).
    pub rows: u64,
}

impl ChunkReader {
    /// The extent of `table`'s single integer key from `after` on; `None` when no row has a
    /// key after `after`.
    pub async fn key_bounds(
        &mut self,
        table: &SnapshotTable,
        after: Option<&[KeyValue]>,
    ) -> Result<Option<KeyBounds>, SnapshotError> {
        let what = || {
            format!(
                "finding the key range of `{}`.`{}`",
                table.database, table.table
            )
        };
        let name = format!("{}.{}", quote(&table.database), quote(&table.table));
        let key = table
            .key
            .first()
            .map_or_else(String::new, |&k| quote(&table.columns[k].name));
        let (min, max): (Option<mysql_async::Value>, Option<mysql_async::Value>) = self
            .conn
            .query_first(format!("SELECT MIN({key}), MAX({key}) FROM {name}"))
            .await
            .map_err(query(what()))?
            .unwrap_or((None, None));
        let (Some(min), Some(max)) = (min.and_then(integer), max.and_then(integer)) else {
            return Ok(None);
        };
        let from = match after {
            Some(after) => {
                let first: Option<Option<mysql_async::Value>> = self
                    .conn
                    .exec_first(
                        format!("SELECT MIN({key}) FROM {name} WHERE {key} > ?"),
                        after.iter().map(key_param).collect::<Vec<_>>(),
                    )
                    .await
                    .map_err(query(what()))?;
                match first.flatten().and_then(integer) {
                    Some(from) => from,
                    None => return Ok(None),
                }
            }
            None => min,
        };
        let rows: Option<Option<u64>> = self
            .conn
            .exec_first(
                "SELECT TABLE_ROWS FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (&table.database, &table.table),
            )
            .await
            .map_err(query(what()))?;
        Ok(Some(KeyBounds {
            min,
            max,
            from,
            rows: rows.flatten().unwrap_or(0),
        }))
    }
}

/// An integer as the server returned it (binary or text protocol).
fn integer(value: mysql_async::Value) -> Option<i128> {
    match value {
        mysql_async::Value::Int(i) => Some(i128::from(i)),
        mysql_async::Value::UInt(u) => Some(i128::from(u)),
        mysql_async::Value::Bytes(b) => std::str::from_utf8(&b).ok()?.parse().ok(),
        _ => None,
    }
}

/// Converts a chunk's rows to the values the binlog decoder makes of the same data.
pub fn convert_rows(
    table: &SnapshotTable,
    rows: Vec<mysql_async::Row>,
) -> Result<Vec<RowImage>, SnapshotError> {
    let mut images = Vec::with_capacity(rows.len());
    for mut row in rows {
        let mut image = Vec::with_capacity(table.columns.len());
        for (i, column) in table.columns.iter().enumerate() {
            let value = row
                .take::<mysql_async::Value, _>(i)
                .ok_or_else(|| "the server sent fewer columns than selected".to_string())
                .and_then(|value| convert(column, value))
                .map_err(|detail| value_error(table, i, detail))?;
            image.push(Some(value));
        }
        images.push(RowImage(image));
    }
    Ok(images)
}

fn value_error(table: &SnapshotTable, column: usize, detail: String) -> SnapshotError {
    SnapshotError::Value {
        database: table.database.clone(),
        table: table.table.clone(),
        column: table.columns[column].name.clone(),
        detail,
    }
}

/// The key of `row` as the next chunk's `WHERE` takes it (only its key columns converted).
fn row_key(table: &SnapshotTable, row: &mysql_async::Row) -> Result<Vec<KeyValue>, SnapshotError> {
    table
        .key
        .iter()
        .map(|&i| {
            let value = row
                .as_ref(i)
                .cloned()
                .ok_or_else(|| "the server sent fewer columns than selected".to_string())
                .and_then(|value| convert(&table.columns[i], value))
                .map_err(|detail| value_error(table, i, detail))?;
            key_value(&value)
                .filter(|_| value != Value::Null)
                .ok_or_else(|| {
                    value_error(
                        table,
                        i,
                        format!("a key value cannot be paged by: {value:?}"),
                    )
                })
        })
        .collect()
}

/// Which keys a chunk reads: after `after` (from the table's first key when `None`), up to and
/// including `upto` (to its last when `None`).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyRange<'a> {
    pub after: Option<&'a [KeyValue]>,
    pub upto: Option<&'a [KeyValue]>,
}

/// `SELECT cols FROM t WHERE key > after AND key <= upto ORDER BY key LIMIT n`, each row
/// comparison spelled out as `(k1 > ?) OR (k1 = ? AND k2 > ?) ...` so every server uses the
/// key's index for it.
pub fn chunk_query(
    table: &SnapshotTable,
    range: KeyRange<'_>,
    limit: u32,
) -> (String, Vec<mysql_async::Value>) {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| select_expression(c, &quote(&c.name)))
        .collect();
    let key: Vec<String> = table
        .key
        .iter()
        .map(|&i| quote(&table.columns[i].name))
        .collect();
    let mut sql = format!(
        "SELECT {} FROM {}.{}",
        columns.join(", "),
        quote(&table.database),
        quote(&table.table)
    );
    let mut params = Vec::new();
    let mut conditions = Vec::new();
    if let Some(after) = range.after {
        conditions.push(row_comparison(&key, after, ">", false, &mut params));
    }
    if let Some(upto) = range.upto {
        conditions.push(row_comparison(&key, upto, "<", true, &mut params));
    }
    if !conditions.is_empty() {
        sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", key.join(", ")));
    (sql, params)
}

/// `key OP values` compared row-wise (lexicographically), `OP` being `>` or `<`, or-equal
/// when `or_equal`: one branch per key column, `(k1 OP ?) OR (k1 = ? AND k2 OP ?) ...`, and
/// the all-equal branch last when `or_equal`.
fn row_comparison(
    key: &[String],
    values: &[KeyValue],
    op: &str,
    or_equal: bool,
    params: &mut Vec<mysql_async::Value>,
) -> String {
    let n = key.len().min(values.len());
    let mut branches = Vec::new();
    for last in 0..n {
        let mut terms = Vec::new();
        for k in 0..last {
            terms.push(format!("{} = ?", key[k]));
            params.push(key_param(&values[k]));
        }
        terms.push(format!("{} {op} ?", key[last]));
        params.push(key_param(&values[last]));
        branches.push(format!("({})", terms.join(" AND ")));
    }
    if or_equal {
        let terms: Vec<String> = (0..n)
            .map(|k| {
                params.push(key_param(&values[k]));
                format!("{} = ?", key[k])
            })
            .collect();
        branches.push(format!("({})", terms.join(" AND ")));
    }
    format!("({})", branches.join(" OR "))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::snapshot::discovery::SnapshotColumn;

    fn table() -> SnapshotTable {
        let column = |name: &str, data_type: &str| {
            SnapshotColumn::new(name.into(), data_type.into(), false, None, 0)
        };
        SnapshotTable {
            database: "shop".into(),
            table: "order`s".into(),
            columns: vec![
                column("a", "int"),
                column("b", "varchar"),
                column("ts", "timestamp"),
            ],
            key: vec![0, 1],
            schema: Arc::new(sluice_core::TableSchema::new(
                "shop",
                "order`s",
                vec![],
                vec![],
            )),
        }
    }

    #[test]
    fn the_first_chunk_has_no_where() {
        let (sql, params) = chunk_query(&table(), KeyRange::default(), 10);
        assert_eq!(
            sql,
            "SELECT `a`, `b`, UNIX_TIMESTAMP(`ts`) FROM `shop`.`order``s` ORDER BY `a`, `b` LIMIT 10"
        );
        assert!(params.is_empty());
    }

    #[test]
    fn later_chunks_start_after_the_last_key() {
        let after = [KeyValue::Int(7), KeyValue::Text("x".into())];
        let (sql, params) = chunk_query(
            &table(),
            KeyRange {
                after: Some(&after),
                upto: None,
            },
            5,
        );
        assert!(
            sql.ends_with("WHERE ((`a` > ?) OR (`a` = ? AND `b` > ?)) ORDER BY `a`, `b` LIMIT 5"),
            "{sql}"
        );
        assert_eq!(
            params,
            vec![
                mysql_async::Value::Int(7),
                mysql_async::Value::Int(7),
                mysql_async::Value::Bytes(b"x".to_vec())
            ]
        );
    }

    #[test]
    fn a_key_range_has_an_inclusive_upper_end() {
        let (after, upto) = ([KeyValue::Int(7)], [KeyValue::Int(9)]);
        let mut one_column = table();
        one_column.key = vec![0];
        let (sql, params) = chunk_query(
            &one_column,
            KeyRange {
                after: Some(&after),
                upto: Some(&upto),
            },
            5,
        );
        assert!(
            sql.ends_with("WHERE ((`a` > ?)) AND ((`a` < ?) OR (`a` = ?)) ORDER BY `a` LIMIT 5"),
            "{sql}"
        );
        assert_eq!(
            params,
            vec![
                mysql_async::Value::Int(7),
                mysql_async::Value::Int(9),
                mysql_async::Value::Int(9)
            ]
        );
        // Two columns: below (9, "y"), or equal to it.
        let upto = [KeyValue::Int(9), KeyValue::Text("y".into())];
        let (sql, _) = chunk_query(
            &table(),
            KeyRange {
                after: None,
                upto: Some(&upto),
            },
            5,
        );
        assert!(
            sql.ends_with(
                "WHERE ((`a` < ?) OR (`a` = ? AND `b` < ?) OR (`a` = ? AND `b` = ?)) \
                 ORDER BY `a`, `b` LIMIT 5"
            ),
            "{sql}"
        );
    }
}
