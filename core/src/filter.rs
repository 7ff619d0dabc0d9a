//! A task's filters compiled once and applied to batches of events: tables by `db.table`,
//! columns by `db.table.column`, row changes by op, DDL on or off (`config::FiltersConfig`).
//!
//! The per-row cost is at most one hash lookup: what to do with a table is decided when its
//! `TableSchema` is first seen and cached by the schema's address, together with the filtered
//! schema rows are re-pointed to when columns are removed.
//!
//! Begin, Commit and Incident events pass, except the Begin/Commit pair of a transaction whose
//! rows were all filtered out (a busy server would otherwise fill every sink with empty
//! transactions). The runner takes the checkpoint from the batch before filtering, so it still
//! moves past such a transaction; an Incident must still stop the task.

use std::collections::HashMap;
use std::sync::Arc;

use regex::{Regex, RegexSet};

use crate::config::{ConfigErrors, FieldError, FiltersConfig};
use crate::event::{ColumnSchema, Event, EventKind, Op, RowChange, RowImage, TableSchema};

/// Tables whose decision is cached before the cache is emptied. A task sees a new schema per
/// table per binlog file (and per schema change), so this bounds memory on long runs.
const MAX_CACHED_TABLES: usize = 4096;

/// The compiled filters of one task.
#[derive(Debug)]
pub struct EventFilter {
    /// `None`: every table is included.
    include: Option<RegexSet>,
    exclude: Option<RegexSet>,
    columns: Option<ColumnRule>,
    create: bool,
    update: bool,
    delete: bool,
    ddl: bool,
    /// Keyed by `Arc::as_ptr` of the schema. The entry holds that `Arc`, so the address cannot
    /// be freed and reused by another schema while the entry exists.
    decisions: HashMap<usize, (Arc<TableSchema>, Decision)>,
}

/// Which columns a column filter keeps (primary-key columns are always kept).
#[derive(Debug)]
enum ColumnRule {
    Include(RegexSet),
    Exclude(RegexSet),
}

/// What happens to the rows of one table.
#[derive(Debug)]
enum Decision {
    Drop,
    Pass,
    Project(Arc<Projection>),
}

/// A table with some columns removed: the schema rows are re-pointed to, and which slots of
/// the original row images stay.
#[derive(Debug)]
struct Projection {
    schema: Arc<TableSchema>,
    keep: Vec<bool>,
}

impl EventFilter {
    /// Compiles a task's filters. Fails only on a config that validation refuses too; the
    /// errors are named under `filters.`.
    pub fn new(config: &FiltersConfig) -> Result<EventFilter, ConfigErrors> {
        let problems = config.problems("filters");
        if !problems.is_empty() {
            return Err(ConfigErrors(problems));
        }
        let set = |name: &str, patterns: &[String]| -> Result<Option<RegexSet>, ConfigErrors> {
            if patterns.is_empty() {
                return Ok(None);
            }
            pattern_set(&format!("filters.{name}"), patterns)
                .map(Some)
                .map_err(|e| ConfigErrors(vec![e]))
        };
        let columns = match (
            set("include_columns", &config.include_columns)?,
            set("exclude_columns", &config.exclude_columns)?,
        ) {
            (Some(include), _) => Some(ColumnRule::Include(include)),
            (None, Some(exclude)) => Some(ColumnRule::Exclude(exclude)),
            (None, None) => None,
        };
        let op = |code: &str| config.ops.iter().any(|o| o == code);
        Ok(EventFilter {
            include: set("include", &config.include)?,
            exclude: set("exclude", &config.exclude)?,
            columns,
            create: op(Op::Create.code()),
            update: op(Op::Update.code()),
            delete: op(Op::Delete.code()),
            ddl: config.ddl,
            decisions: HashMap::new(),
        })
    }

    /// Whether every event passes unchanged (no filter configured).
    pub fn passes_everything(&self) -> bool {
        !self.looks_at_tables() && self.create && self.update && self.delete && self.ddl
    }

    /// Whether rows of table `database`.`table` reach the sinks (before any column filter).
    pub fn includes_table(&self, database: &str, table: &str) -> bool {
        let name = format!("{database}.{table}");
        self.include.as_ref().is_none_or(|set| set.is_match(&name))
            && !self.exclude.as_ref().is_some_and(|set| set.is_match(&name))
    }

    /// Drops the events the filters refuse and removes filtered columns from row events, in
    /// place, keeping the order of the rest.
    pub fn apply(&mut self, events: &mut Vec<Event>) {
        if self.passes_everything() {
            return;
        }
        events.retain_mut(|event| self.keep(event));
        drop_empty_transactions(events);
    }

    /// Whether `event` passes; a row event may be rewritten to fewer columns. Begin and
    /// Commit always pass here; `drop_empty_transactions` then removes the pairs left empty.
    fn keep(&mut self, event: &mut Event) -> bool {
        match &mut event.kind {
            EventKind::Begin | EventKind::Commit { .. } | EventKind::Incident { .. } => true,
            EventKind::Ddl { .. } => self.ddl,
            EventKind::Row(row) => self.keep_row(row),
        }
    }

    fn keep_row(&mut self, row: &mut RowChange) -> bool {
        let op_passes = match row.op {
            Op::Create => self.create,
            Op::Update => self.update,
            Op::Delete => self.delete,
            // Snapshot reads are the table's contents, not changes: `ops` does not apply.
            Op::Read => true,
        };
        if !op_passes {
            return false;
        }
        if !self.looks_at_tables() {
            return true;
        }
        match self.decision(&row.table) {
            Decision::Drop => false,
            Decision::Pass => true,
            Decision::Project(projection) => {
                for image in [&mut row.before, &mut row.after].into_iter().flatten() {
                    projection.project(image);
                }
                row.table = projection.schema.clone();
                true
            }
        }
    }

    /// Whether rows need a per-table decision at all.
    fn looks_at_tables(&self) -> bool {
        self.include.is_some() || self.exclude.is_some() || self.columns.is_some()
    }

    /// The cached decision for `table`, made on first sight.
    fn decision(&mut self, table: &Arc<TableSchema>) -> &Decision {
        let key = Arc::as_ptr(table) as usize;
        // The length test first: while the cache has room, a hit costs the one lookup below.
        if self.decisions.len() >= MAX_CACHED_TABLES && !self.decisions.contains_key(&key) {
            self.decisions.clear();
        }
        let (include, exclude, columns) = (&self.include, &self.exclude, &self.columns);
        &self
            .decisions
            .entry(key)
            .or_insert_with(|| (table.clone(), decide(include, exclude, columns, table)))
            .1
    }
}

/// What to do with the rows of `table`.
fn decide(
    include: &Option<RegexSet>,
    exclude: &Option<RegexSet>,
    columns: &Option<ColumnRule>,
    table: &TableSchema,
) -> Decision {
    let mut name = format!("{}.{}", table.database, table.table);
    let included = include.as_ref().is_none_or(|set| set.is_match(&name));
    let excluded = exclude.as_ref().is_some_and(|set| set.is_match(&name));
    if !included || excluded {
        return Decision::Drop;
    }
    let Some(rule) = columns else {
        return Decision::Pass;
    };
    name.push('.');
    let prefix = name.len();
    let keep: Vec<bool> = (0..table.columns.len())
        .map(|i| {
            name.truncate(prefix);
            name.push_str(&table.columns[i].name);
            // Consumers key rows by the primary key (Kafka keys, Redis keys, upserts): a row
            // without it could not be applied, so a column filter never removes it.
            table.primary_key.contains(&i)
                || match rule {
                    ColumnRule::Include(set) => set.is_match(&name),
                    ColumnRule::Exclude(set) => !set.is_match(&name),
                }
        })
        .collect();
    if keep.iter().all(|&k| k) {
        return Decision::Pass;
    }
    Decision::Project(Arc::new(Projection::new(table, keep)))
}

impl Projection {
    /// The schema of `table` with only the columns `keep` marks.
    fn new(table: &TableSchema, keep: Vec<bool>) -> Projection {
        let mut new_index = vec![None; keep.len()];
        let mut columns: Vec<ColumnSchema> = Vec::new();
        for (i, column) in table.columns.iter().enumerate() {
            if keep[i] {
                new_index[i] = Some(columns.len());
                columns.push(column.clone());
            }
        }
        let primary_key = table
            .primary_key
            .iter()
            .filter_map(|&i| new_index.get(i).copied().flatten())
            .collect();
        let schema = TableSchema::new(
            table.database.clone(),
            table.table.clone(),
            columns,
            primary_key,
        );
        Projection {
            schema: Arc::new(schema),
            keep,
        }
    }

    /// Removes the filtered slots from `image`, keeping the order of the rest. Slots past the
    /// schema's columns (never sent by a sane source) are removed too.
    fn project(&self, image: &mut RowImage) {
        let mut i = 0;
        image.0.retain(|_| {
            let keep = self.keep.get(i).copied().unwrap_or(false);
            i += 1;
            keep
        });
    }
}

/// Compiles `patterns` (the list at `field`) into one set, each anchored at both ends.
///
/// Each pattern is compiled alone first: that names the bad one, and it guarantees the
/// pattern's groups are balanced, so wrapping it in `^(?:...)$` cannot change what it means.
pub(crate) fn pattern_set(field: &str, patterns: &[String]) -> Result<RegexSet, FieldError> {
    for (k, pattern) in patterns.iter().enumerate() {
        if let Err(e) = Regex::new(pattern) {
            return Err(FieldError {
                field: format!("{field}[{k}]"),
                value: Some(pattern.clone()),
                message: format!("not a valid regex: {}", one_line(&e)),
            });
        }
    }
    RegexSet::new(patterns.iter().map(|p| format!("^(?:{p})$"))).map_err(|e| FieldError {
        field: field.to_string(),
        value: None,
        message: format!(
            "the patterns together do not compile: {}; use fewer or simpler ones",
            one_line(&e)
        ),
    })
}

/// A regex error on one line: the library's text spans several (the pattern, a caret line
/// under the culprit, then `error: ...`), which would break the list of config problems.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let Some(what) = lines.last().and_then(|l| l.strip_prefix("error: ")) else {
        return lines.join(" ");
    };
    // The caret line is indented as the pattern line, which starts after 4 spaces.
    let at = lines
        .iter()
        .find(|l| l.trim_start().starts_with('^'))
        .and_then(|l| l.find('^'))
        .and_then(|col| col.checked_sub(4));
    match at {
        Some(col) => format!("{what} (at character {})", col + 1),
        None => what.to_string(),
    }
}

/// Removes each Begin directly followed by its Commit: a transaction the filter emptied (the
/// checkpoint is taken before filtering, so it still moves past it). A transaction split over
/// two batches keeps its markers.
fn drop_empty_transactions(events: &mut Vec<Event>) {
    let mut kept = 0;
    for i in 0..events.len() {
        let empty_commit = matches!(events[i].kind, EventKind::Commit { .. })
            && kept > 0
            && matches!(events[kept - 1].kind, EventKind::Begin);
        if empty_commit {
            kept -= 1;
            continue;
        }
        events.swap(kept, i);
        kept += 1;
    }
    events.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventPosition;
    use crate::position::BinlogPosition;
    use crate::value::Value;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn table(db: &str, name: &str, columns: &[&str], pk: Vec<usize>) -> Arc<TableSchema> {
        let columns = columns
            .iter()
            .map(|c| ColumnSchema {
                name: c.to_string(),
                type_name: "int".into(),
            })
            .collect();
        Arc::new(TableSchema::new(db, name, columns, pk))
    }

    fn at(pos: u64) -> EventPosition {
        EventPosition {
            file: Arc::from("binlog.000001"),
            pos,
            gtid: None,
            row: 0,
            server_id: 1,
            ts_ms: 0,
        }
    }

    fn image(values: &[i64]) -> RowImage {
        RowImage(values.iter().map(|&v| Some(Value::Int(v))).collect())
    }

    fn row(table: &Arc<TableSchema>, op: Op, pos: u64) -> Event {
        let n = table.columns.len() as i64;
        let values: Vec<i64> = (0..n).map(|i| pos as i64 * 100 + i).collect();
        let (before, after) = match op {
            Op::Create | Op::Read => (None, Some(image(&values))),
            Op::Update => (Some(image(&values)), Some(image(&values))),
            Op::Delete => (Some(image(&values)), None),
        };
        Event {
            position: at(pos),
            kind: EventKind::Row(RowChange {
                op,
                table: table.clone(),
                before,
                after,
            }),
        }
    }

    fn begin(pos: u64) -> Event {
        Event {
            position: at(pos),
            kind: EventKind::Begin,
        }
    }

    fn commit(pos: u64) -> Event {
        Event {
            position: at(pos),
            kind: EventKind::Commit {
                xid: Some(pos),
                next: BinlogPosition::new("binlog.000001", pos + 1),
            },
        }
    }

    fn ddl(pos: u64) -> Event {
        Event {
            position: at(pos),
            kind: EventKind::Ddl {
                database: "shop".into(),
                sql: "ALTER TABLE orders ADD c INT".into(),
                next: BinlogPosition::new("binlog.000001", pos + 1),
            },
        }
    }

    fn filter(config: FiltersConfig) -> EventFilter {
        EventFilter::new(&config).unwrap()
    }

    /// Each event as a short text: `begin`, `commit`, `ddl`, `c shop.orders [id,note]`.
    fn summary(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match &e.kind {
                EventKind::Begin => "begin".into(),
                EventKind::Commit { .. } => "commit".into(),
                EventKind::Ddl { .. } => "ddl".into(),
                EventKind::Incident { .. } => "incident".into(),
                EventKind::Row(r) => {
                    let names: Vec<&str> = r.table.columns.iter().map(|c| &*c.name).collect();
                    format!(
                        "{} {}.{} [{}]",
                        r.op.code(),
                        r.table.database,
                        r.table.table,
                        names.join(",")
                    )
                }
            })
            .collect()
    }

    #[test]
    fn patterns_are_anchored_at_both_ends_and_case_sensitive() {
        let set = pattern_set("f", &strings(&["shop\\.orders", "inv.*|x"])).unwrap();
        assert!(set.is_match("shop.orders"));
        assert!(!set.is_match("shop.orders_archive"));
        assert!(!set.is_match("myshop.orders"));
        // An alternation stays inside the anchors: `x` alone, not "anything ending in x".
        assert!(set.is_match("x"));
        assert!(!set.is_match("tax"));
        assert!(set.is_match("inventory.items"));
        assert!(!set.is_match("Shop.orders"));
    }

    #[test]
    fn a_bad_pattern_error_is_one_line_with_the_position() {
        let e = pattern_set("filters.include", &strings(&["a", "inventory\\.(x"])).unwrap_err();
        assert_eq!(e.field, "filters.include[1]");
        assert_eq!(e.value.as_deref(), Some("inventory\\.(x"));
        assert_eq!(
            e.message,
            "not a valid regex: unclosed group (at character 12)"
        );
        let e = EventFilter::new(&FiltersConfig {
            exclude: strings(&["("]),
            ..FiltersConfig::default()
        })
        .unwrap_err();
        assert_eq!(e.0[0].field, "filters.exclude[0]");
    }

    #[test]
    fn transactions_the_filter_empties_lose_their_markers_too() {
        let mut f = filter(FiltersConfig {
            include: strings(&["shop\\..*"]),
            ..FiltersConfig::default()
        });
        let shop = table("shop", "orders", &["id"], vec![0]);
        let other = table("crm", "leads", &["id"], vec![0]);
        let mut events = vec![
            begin(1),
            row(&other, Op::Create, 2),
            commit(3),
            begin(4),
            row(&shop, Op::Create, 5),
            commit(6),
            // Split over batches: the markers of a half seen here stay.
            begin(7),
            row(&other, Op::Create, 8),
        ];
        f.apply(&mut events);
        assert_eq!(
            summary(&events),
            ["begin", "c shop.orders [id]", "commit", "begin"]
        );
    }

    #[test]
    fn no_filters_pass_everything_untouched() {
        let mut f = filter(FiltersConfig::default());
        assert!(f.passes_everything());
        let t = table("shop", "orders", &["id", "note"], vec![0]);
        let mut events = vec![begin(1), row(&t, Op::Update, 2), commit(3), ddl(4)];
        let before = events.clone();
        f.apply(&mut events);
        assert_eq!(events, before);
    }

    #[test]
    fn include_and_exclude_select_tables_and_exclude_wins() {
        let mut f = filter(FiltersConfig {
            include: strings(&["shop\\.order.*", "inventory\\..*"]),
            exclude: strings(&["shop\\.order_audit"]),
            ..FiltersConfig::default()
        });
        let orders = table("shop", "orders", &["id"], vec![0]);
        let audit = table("shop", "order_audit", &["id"], vec![0]);
        let users = table("shop", "users", &["id"], vec![0]);
        let items = table("inventory", "items", &["id"], vec![0]);
        let mut events = vec![
            begin(1),
            row(&orders, Op::Create, 2),
            row(&audit, Op::Create, 3),
            row(&users, Op::Create, 4),
            row(&items, Op::Delete, 5),
            commit(6),
        ];
        f.apply(&mut events);
        assert_eq!(
            summary(&events),
            [
                "begin",
                "c shop.orders [id]",
                "d inventory.items [id]",
                "commit"
            ]
        );
    }

    #[test]
    fn a_transaction_whose_rows_are_all_filtered_leaves_nothing() {
        let mut f = filter(FiltersConfig {
            include: strings(&["shop\\.orders"]),
            ..FiltersConfig::default()
        });
        let users = table("shop", "users", &["id"], vec![0]);
        let mut events = vec![
            begin(1),
            row(&users, Op::Create, 2),
            row(&users, Op::Delete, 3),
            commit(4),
        ];
        // The runner takes the checkpoint from the batch before filtering, so it still moves
        // past this transaction.
        f.apply(&mut events);
        assert!(events.is_empty(), "{:?}", summary(&events));
    }

    #[test]
    fn ops_drop_row_changes_but_never_snapshot_reads() {
        let mut f = filter(FiltersConfig {
            ops: strings(&["c", "d"]),
            ..FiltersConfig::default()
        });
        assert!(!f.passes_everything());
        let t = table("shop", "orders", &["id"], vec![0]);
        let mut events = vec![
            begin(1),
            row(&t, Op::Create, 2),
            row(&t, Op::Update, 3),
            row(&t, Op::Delete, 4),
            row(&t, Op::Read, 5),
            commit(6),
        ];
        f.apply(&mut events);
        assert_eq!(
            summary(&events),
            [
                "begin",
                "c shop.orders [id]",
                "d shop.orders [id]",
                "r shop.orders [id]",
                "commit"
            ]
        );
    }

    #[test]
    fn ddl_can_be_dropped_and_incidents_always_pass() {
        let mut f = filter(FiltersConfig {
            ddl: false,
            ..FiltersConfig::default()
        });
        let t = table("shop", "orders", &["id"], vec![0]);
        let incident = Event {
            position: at(9),
            kind: EventKind::Incident {
                message: "lost".into(),
            },
        };
        let mut events = vec![
            ddl(1),
            begin(2),
            row(&t, Op::Create, 3),
            commit(4),
            incident,
        ];
        f.apply(&mut events);
        assert_eq!(
            summary(&events),
            ["begin", "c shop.orders [id]", "commit", "incident"]
        );
    }

    #[test]
    fn excluded_columns_go_in_order_and_the_primary_key_stays() {
        let mut f = filter(FiltersConfig {
            exclude_columns: strings(&[
                "shop\\.users\\.password_hash",
                ".*\\..*\\.secret",
                ".*\\.id",
            ]),
            ..FiltersConfig::default()
        });
        // `id` matches `.*\.id` but is the primary key (index 3, not first, to test remapping).
        let users = table(
            "shop",
            "users",
            &["name", "password_hash", "secret", "id", "email"],
            vec![3],
        );
        let mut events = vec![begin(1), row(&users, Op::Update, 2), commit(3)];
        f.apply(&mut events);
        assert_eq!(
            summary(&events),
            ["begin", "u shop.users [name,id,email]", "commit"]
        );
        let EventKind::Row(r) = &events[1].kind else {
            panic!("not a row: {:?}", events[1]);
        };
        assert_eq!(r.table.primary_key, vec![1]);
        assert_eq!(r.before, Some(image(&[200, 203, 204])));
        assert_eq!(r.after, Some(image(&[200, 203, 204])));
        let json = serde_json::to_string(&events[1]).unwrap();
        assert!(
            json.starts_with(
                r#"{"op":"u","db":"shop","table":"users","pk":["id"],"before":{"name":200,"id":203,"email":204},"after":{"name":200,"id":203,"email":204}"#
            ),
            "{json}"
        );
        let mut fast = Vec::new();
        crate::json::write_event(&mut fast, &events[1]);
        assert_eq!(String::from_utf8(fast).unwrap().trim_end(), json);
    }

    #[test]
    fn include_columns_keep_matching_columns_and_the_primary_key() {
        let mut f = filter(FiltersConfig {
            include_columns: strings(&["shop\\.users\\.(name|email)"]),
            ..FiltersConfig::default()
        });
        let users = table("shop", "users", &["id", "name", "secret", "email"], vec![0]);
        // No column of `orders` matches: only its key is left (as Debezium's include list).
        let orders = table("shop", "orders", &["id", "total"], vec![0]);
        let mut events = vec![row(&users, Op::Delete, 1), row(&orders, Op::Create, 2)];
        f.apply(&mut events);
        assert_eq!(
            summary(&events),
            ["d shop.users [id,name,email]", "c shop.orders [id]"]
        );
        let EventKind::Row(r) = &events[0].kind else {
            panic!("not a row");
        };
        assert_eq!(r.before, Some(image(&[100, 101, 103])));
        assert_eq!(r.after, None);
    }

    #[test]
    fn a_table_without_a_primary_key_can_lose_any_column() {
        let mut f = filter(FiltersConfig {
            exclude_columns: strings(&["log\\.events\\.id"]),
            ..FiltersConfig::default()
        });
        let events_table = table("log", "events", &["id", "msg"], vec![]);
        let mut events = vec![row(&events_table, Op::Create, 1)];
        f.apply(&mut events);
        assert_eq!(summary(&events), ["c log.events [msg]"]);
    }

    #[test]
    fn the_decision_and_filtered_schema_are_made_once_per_schema() {
        let mut f = filter(FiltersConfig {
            exclude_columns: strings(&["shop\\.users\\.secret"]),
            ..FiltersConfig::default()
        });
        let users = table("shop", "users", &["id", "secret"], vec![0]);
        let mut events = vec![row(&users, Op::Create, 1), row(&users, Op::Create, 2)];
        f.apply(&mut events);
        let schema = |e: &Event| match &e.kind {
            EventKind::Row(r) => r.table.clone(),
            _ => panic!("not a row"),
        };
        assert!(Arc::ptr_eq(&schema(&events[0]), &schema(&events[1])));
        assert_eq!(f.decisions.len(), 1);
        // A changed table (a new schema) gets its own decision.
        let altered = table("shop", "users", &["id", "secret", "age"], vec![0]);
        let mut events = vec![row(&altered, Op::Create, 3)];
        f.apply(&mut events);
        assert_eq!(summary(&events), ["c shop.users [id,age]"]);
        assert_eq!(f.decisions.len(), 2);
    }

    #[test]
    fn the_cache_is_bounded() {
        let mut f = filter(FiltersConfig {
            include: strings(&["keep\\..*"]),
            ..FiltersConfig::default()
        });
        for i in 0..MAX_CACHED_TABLES + 10 {
            let db = if i % 2 == 0 { "keep" } else { "drop" };
            let t = table(db, &format!("t{i}"), &["id"], vec![0]);
            let mut events = vec![row(&t, Op::Create, 1)];
            f.apply(&mut events);
            assert_eq!(events.len(), 1 - i % 2, "table {db}.t{i}");
            assert!(f.decisions.len() <= MAX_CACHED_TABLES);
        }
    }
}
