//! Events to Redis commands, in event order, without any I/O.
//!
//! Per row change:
//!
//! | mode | insert | update | delete |
//! |---|---|---|---|
//! | invalidate | `DEL key` | `DEL old_key` (+ `DEL new_key` if the key changed) | `DEL key` |
//! | sync, json | `SET key json [EX ttl]` | (`DEL old_key` if the key changed) `SET key json [EX ttl]` | `DEL key` |
//! | sync, hash | `DEL key`, `HSET key col val ...` (+ `EXPIRE key ttl`) | as insert, after `DEL old_key` if the key changed | `DEL key` |
//!
//! The hash form deletes before `HSET` so that a column that became NULL, or was dropped, does
//! not linger as a field. Every command is idempotent given the ones before it, so re-sending a
//! batch (a retry, or a replay after a restart) converges to the same keys.

use std::collections::HashMap;
use std::sync::Arc;

use redis::{Cmd, Pipeline};
use regex::RegexSet;
use sluice_core::config::{KeyTemplate, RedisFormat, RedisMode, RedisSinkConfig};
use sluice_core::{Event, EventKind, Op, RowChange, RowImage, TableSchema, Value};

use super::encode::{write_text, JsonColumns};
use super::key_template::{KeyPlan, KeyProblem};
use crate::SinkError;

/// Tables remembered; past this the memo is cleared (each schema change of a table makes a new
/// `TableSchema`, so a long run would otherwise keep every old one).
const MEMO_TABLES: usize = 4096;

/// The commands of one `write`.
pub(super) struct Batch {
    pub pipe: Pipeline,
    /// Row changes that produced commands.
    pub rows: usize,
    /// Roughly the bytes sent, to scale the reply timeout.
    pub bytes: usize,
}

/// Turns events into commands for one sink.
pub(super) struct Commands {
    sink: String,
    mode: RedisMode,
    format: RedisFormat,
    ttl_secs: u64,
    template: KeyTemplate,
    tables: Option<RegexSet>,
    /// By the address of the table's `Arc<TableSchema>`, shared by all its row events.
    memo: HashMap<usize, TableEntry>,
    key: Vec<u8>,
    old_key: Vec<u8>,
    value: Vec<u8>,
}

/// What the sink knows of one table (one `TableSchema`).
struct TableEntry {
    /// Keeps the schema alive, so its address cannot be reused by another table while memoized.
    _schema: Arc<TableSchema>,
    /// Whether `tables` selects it.
    selected: bool,
    key: Result<KeyPlan, KeyProblem>,
    json: JsonColumns,
}

impl Commands {
    /// `Err` says what is wrong with the mode, format, key template or a `tables` pattern (all
    /// checked already by config validation).
    pub(super) fn new(config: &RedisSinkConfig) -> Result<Commands, String> {
        let template = config
            .key_template()
            .map_err(|e| format!("key template: {e}"))?;
        let tables = if config.tables.is_empty() {
            None
        } else {
            Some(RegexSet::new(config.table_regexes()).map_err(|e| format!("tables: {e}"))?)
        };
        Ok(Commands {
            sink: config.name().to_string(),
            mode: config.mode().map_err(|e| format!("mode: {e}"))?,
            format: config.format().map_err(|e| format!("format: {e}"))?,
            ttl_secs: config.ttl_secs,
            template,
            tables,
            memo: HashMap::new(),
            key: Vec::new(),
            old_key: Vec::new(),
            value: Vec::new(),
        })
    }

    /// The commands for `events`, in their order. Begin, Commit, DDL and incident events have
    /// none. A row whose key cannot be built fails the whole batch: nothing of it is sent.
    pub(super) fn encode(&mut self, events: &[Event]) -> Result<Batch, SinkError> {
        let mut batch = Batch {
            pipe: redis::pipe(),
            rows: 0,
            bytes: 0,
        };
        for event in events {
            if let EventKind::Row(row) = &event.kind {
                if self.encode_row(row, &mut batch)? {
                    batch.rows += 1;
                }
            }
        }
        Ok(batch)
    }

    /// Adds the commands of one row change; `false` when the sink does not handle it.
    fn encode_row(&mut self, row: &RowChange, batch: &mut Batch) -> Result<bool, SinkError> {
        let key = Arc::as_ptr(&row.table) as usize;
        if !self.memo.contains_key(&key) {
            if self.memo.len() >= MEMO_TABLES {
                self.memo.clear();
            }
            let entry = self.table_entry(&row.table);
            self.memo.insert(key, entry);
        }
        let Some(entry) = self.memo.get(&key) else {
            return Ok(false);
        };
        if !entry.selected {
            return Ok(false);
        }
        let plan = entry
            .key
            .as_ref()
            .map_err(|p| key_error(&self.sink, &row.table, p))?;
        let render = |image: Option<&RowImage>, out: &mut Vec<u8>| {
            let empty = RowImage::default();
            plan.render(image.unwrap_or(&empty), out)
                .map_err(|p| key_error(&self.sink, &row.table, &p))
        };
        match (self.mode, row.op) {
            // A snapshot read changes nothing: nothing to invalidate.
            (RedisMode::Invalidate, Op::Read) => return Ok(false),
            (RedisMode::Invalidate, Op::Create) => {
                render(row.after.as_ref(), &mut self.key)?;
                del(batch, &self.key);
            }
            (RedisMode::Invalidate, Op::Delete) => {
                render(row.before.as_ref(), &mut self.key)?;
                del(batch, &self.key);
            }
            (RedisMode::Invalidate, Op::Update) => {
                render(row.before.as_ref(), &mut self.old_key)?;
                render(row.after.as_ref(), &mut self.key)?;
                del(batch, &self.old_key);
                if self.key != self.old_key {
                    del(batch, &self.key);
                }
            }
            (RedisMode::Sync, Op::Delete) => {
                render(row.before.as_ref(), &mut self.key)?;
                del(batch, &self.key);
            }
            (RedisMode::Sync, Op::Create | Op::Read | Op::Update) => {
                render(row.after.as_ref(), &mut self.key)?;
                if row.op == Op::Update {
                    render(row.before.as_ref(), &mut self.old_key)?;
                    if self.key != self.old_key {
                        del(batch, &self.old_key);
                    }
                }
                let empty = RowImage::default();
                let image = row.after.as_ref().unwrap_or(&empty);
                match self.format {
                    RedisFormat::Json => {
                        self.value.clear();
                        entry.json.write_row(&mut self.value, image);
                        let mut set = Cmd::new();
                        set.arg("SET").arg(&self.key[..]).arg(&self.value[..]);
                        if self.ttl_secs > 0 {
                            set.arg("EX").arg(self.ttl_secs);
                        }
                        batch.bytes += self.key.len() + self.value.len() + 24;
                        batch.pipe.add_command(set);
                    }
                    RedisFormat::Hash => {
                        del(batch, &self.key);
                        let mut hset = Cmd::new();
                        hset.arg("HSET").arg(&self.key[..]);
                        let mut fields = 0;
                        for (column, value) in row.table.columns.iter().zip(&image.0) {
                            // NULL is no field: HGET answers nil, as the column has no value.
                            let Some(value) = value.as_ref().filter(|v| **v != Value::Null) else {
                                continue;
                            };
                            self.value.clear();
                            write_text(&mut self.value, value);
                            hset.arg(column.name.as_bytes()).arg(&self.value[..]);
                            batch.bytes += column.name.len() + self.value.len() + 8;
                            fields += 1;
                        }
                        // A row of NULLs only: the DEL above leaves no key, as HSET needs a field.
                        if fields > 0 {
                            batch.bytes += self.key.len() + 16;
                            batch.pipe.add_command(hset);
                            if self.ttl_secs > 0 {
                                batch
                                    .pipe
                                    .cmd("EXPIRE")
                                    .arg(&self.key[..])
                                    .arg(self.ttl_secs);
                            }
                        }
                    }
                }
            }
        }
        Ok(true)
    }

    fn table_entry(&self, schema: &Arc<TableSchema>) -> TableEntry {
        let selected = match &self.tables {
            None => true,
            Some(set) => set.is_match(&format!("{}.{}", schema.database, schema.table)),
        };
        TableEntry {
            _schema: schema.clone(),
            selected,
            key: KeyPlan::resolve(&self.template, schema),
            json: JsonColumns::new(schema),
        }
    }
}

fn del(batch: &mut Batch, key: &[u8]) {
    batch.bytes += key.len() + 16;
    batch.pipe.cmd("DEL").arg(key);
}

fn key_error(sink: &str, table: &TableSchema, problem: &KeyProblem) -> SinkError {
    SinkError::KeyColumn {
        sink: sink.to_string(),
        table: format!("{}.{}", table.database, table.table),
        placeholder: problem.placeholder.clone(),
        detail: problem.detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use sluice_core::config::Config;
    use sluice_core::config::SinkConfig;
    use sluice_core::{BinlogPosition, ColumnSchema, EventPosition};

    use super::*;

    fn commands(sink: &str) -> Commands {
        let text = format!(
            "[[tasks]]\nname = \"t\"\n[tasks.source]\nurl = \"mysql://u:p@h:1\"\n\
             [[tasks.sinks]]\ntype = \"redis\"\nurl = \"redis://h/1\"\n{sink}\n"
        );
        let config = Config::from_toml(&text).unwrap();
        let SinkConfig::Redis(r) = &config.tasks[0].sinks[0] else {
            panic!("not a redis sink");
        };
        Commands::new(r).unwrap()
    }

    fn users() -> Arc<TableSchema> {
        Arc::new(TableSchema::new(
            "shop",
            "users",
            ["id", "name", "note"]
                .iter()
                .map(|n| ColumnSchema {
                    name: n.to_string(),
                    type_name: "varchar".into(),
                })
                .collect(),
            vec![0],
        ))
    }

    fn image(id: i64, name: &str, note: Option<&str>) -> Option<RowImage> {
        Some(RowImage(vec![
            Some(Value::Int(id)),
            Some(Value::Text(name.into())),
            Some(note.map_or(Value::Null, |n| Value::Text(n.into()))),
        ]))
    }

    fn event(kind: EventKind) -> Event {
        Event {
            position: EventPosition {
                file: Arc::from("b.000001"),
                pos: 4,
                gtid: None,
                row: 0,
                server_id: 1,
                ts_ms: 0,
            },
            kind,
        }
    }

    fn row(
        table: &Arc<TableSchema>,
        op: Op,
        before: Option<RowImage>,
        after: Option<RowImage>,
    ) -> Event {
        event(EventKind::Row(RowChange {
            op,
            table: table.clone(),
            before,
            after,
        }))
    }

    /// A workload touching every case: insert, update, key-changing update, delete, with the
    /// transaction events around them.
    fn workload() -> Vec<Event> {
        let t = users();
        vec![
            event(EventKind::Begin),
            row(&t, Op::Create, None, image(1, "Ann", Some("x"))),
            row(
                &t,
                Op::Update,
                image(1, "Ann", Some("x")),
                image(1, "Ann B", None),
            ),
            row(
                &t,
                Op::Update,
                image(1, "Ann B", None),
                image(2, "Ann B", None),
            ),
            row(&t, Op::Delete, image(2, "Ann B", None), None),
            event(EventKind::Commit {
                xid: Some(1),
                next: BinlogPosition::new("b.000001", 99),
            }),
        ]
    }

    /// The batch's commands as text, one per command.
    fn text(batch: &Batch) -> Vec<String> {
        batch
            .pipe
            .cmd_iter()
            .map(|cmd| {
                cmd.args_iter()
                    .map(|arg| match arg {
                        redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                        _ => "<not bytes>".into(),
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn invalidate_deletes_every_key_a_row_had_or_has() {
        let batch = commands("").encode(&workload()).unwrap();
        assert_eq!(batch.rows, 4);
        assert_eq!(
            text(&batch),
            [
                "DEL shop:users:1",
                "DEL shop:users:1",
                "DEL shop:users:1",
                "DEL shop:users:2",
                "DEL shop:users:2",
            ]
        );
    }

    #[test]
    fn sync_json_sets_rows_and_moves_them_when_the_key_changes() {
        let batch = commands("mode = \"sync\"\nkey = \"u:{id}\"\nttl_secs = 60")
            .encode(&workload())
            .unwrap();
        assert_eq!(
            text(&batch),
            [
                r#"SET u:1 {"id":1,"name":"Ann","note":"x"} EX 60"#,
                r#"SET u:1 {"id":1,"name":"Ann B","note":null} EX 60"#,
                "DEL u:1",
                r#"SET u:2 {"id":2,"name":"Ann B","note":null} EX 60"#,
                "DEL u:2",
            ]
        );
    }

    #[test]
    fn sync_hash_replaces_the_whole_hash_and_leaves_nulls_out() {
        let batch = commands("mode = \"sync\"\nformat = \"hash\"")
            .encode(&workload())
            .unwrap();
        assert_eq!(
            text(&batch),
            [
                "DEL shop:users:1",
                "HSET shop:users:1 id 1 name Ann note x",
                "DEL shop:users:1",
                "HSET shop:users:1 id 1 name Ann B",
                "DEL shop:users:1",
                "DEL shop:users:2",
                "HSET shop:users:2 id 2 name Ann B",
                "DEL shop:users:2",
            ]
        );
        let with_ttl = commands("mode = \"sync\"\nformat = \"hash\"\nttl_secs = 5")
            .encode(&workload()[..2])
            .unwrap();
        assert_eq!(
            text(&with_ttl),
            [
                "DEL shop:users:1",
                "HSET shop:users:1 id 1 name Ann note x",
                "EXPIRE shop:users:1 5"
            ]
        );
    }

    #[test]
    fn tables_outside_the_patterns_and_non_row_events_give_nothing() {
        let mut c = commands("tables = [\"crm\\\\..*\", \"shop\\\\.user\"]");
        let batch = c.encode(&workload()).unwrap();
        assert_eq!(batch.rows, 0);
        assert!(text(&batch).is_empty());
        let mut c = commands("tables = [\"shop\\\\.u.*\"]");
        assert_eq!(c.encode(&workload()).unwrap().rows, 4);
    }

    #[test]
    fn a_row_without_its_key_column_fails_the_batch_naming_sink_table_and_placeholder() {
        let e = commands("name = \"cache\"\nkey = \"{pk}:{note}\"")
            .encode(&workload())
            .err()
            .expect("the NULL note cannot make a key");
        assert_eq!(
            e.to_string(),
            "sink cache: table shop.users: key placeholder {note}: column `note` is NULL in \
             this row, and a key needs a value (use NOT NULL columns in the key, best the \
             primary key)"
        );
        let e = commands("key = \"{email}\"")
            .encode(&workload())
            .err()
            .expect("there is no email column");
        assert!(
            e.to_string()
                .starts_with("sink redis: table shop.users: key placeholder {email}: the table has no column `email`"),
            "{e}"
        );
    }
}
