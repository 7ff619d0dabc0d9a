//! Which tables a task's stream covers, so a table added to its filters gets its existing
//! rows snapshotted by itself: the `include` / `exclude` patterns the task last ran with are
//! kept beside the checkpoint (task data record [`RECORD`]); a run whose filters take in more
//! tables than those patterns did snapshots exactly the tables that came in (with
//! `snapshot.mode = "initial"`, narrowed by `snapshot.tables` like the initial snapshot).
//!
//! Order of writes, so a crash loses nothing: the checkpoint carrying the new snapshot's
//! progress is saved first, the new patterns after it. A crash between the two finds the
//! snapshot in the checkpoint, sees its scope already holds the added tables, and only records
//! the patterns.

use serde::{Deserialize, Serialize};
use sluice_core::config::{FiltersConfig, TaskConfig};
use sluice_core::filter::EventFilter;

use crate::snapshot::SnapshotProgress;

/// The task data record holding the covered patterns.
pub const RECORD: &str = "coverage";

/// Databases whose tables are never snapshotted.
const SYSTEM_DATABASES: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

/// The table patterns a task's stream was produced with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Coverage {
    /// What `task`'s config covers.
    pub fn of(task: &TaskConfig) -> Self {
        Coverage {
            include: task.filters.include.clone(),
            exclude: task.filters.exclude.clone(),
        }
    }

    fn filter(&self) -> Result<EventFilter, String> {
        EventFilter::new(&FiltersConfig {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            ..FiltersConfig::default()
        })
        .map_err(|e| e.to_string().trim_end().to_string())
    }
}

/// The `db.table` names among `tables` (every base table of the source, sorted) that `task`
/// takes in and `old` did not, and that a snapshot of `task` would read.
pub fn added_tables(
    task: &TaskConfig,
    old: &Coverage,
    tables: &[(String, String)],
) -> Result<Vec<String>, String> {
    let old = old.filter()?;
    snapshot_candidates(task, tables, |db, table| !old.includes_table(db, table))
}

/// The `db.table` names among `tables` that a snapshot of `task` reads (taken in by its
/// filters and `snapshot.tables`; not a system table, not the signal table) and that `also`
/// accepts.
fn snapshot_candidates(
    task: &TaskConfig,
    tables: &[(String, String)],
    also: impl Fn(&str, &str) -> bool,
) -> Result<Vec<String>, String> {
    let filter = Coverage::of(task).filter()?;
    let only = snapshot_tables(task)?;
    let signal = task.snapshot.signal_table_parts();
    Ok(tables
        .iter()
        .filter(|(db, table)| {
            !SYSTEM_DATABASES.contains(&db.as_str())
                && signal != Some((db.as_str(), table.as_str()))
                && filter.includes_table(db, table)
                && only.includes_table(db, table)
                && also(db, table)
        })
        .map(|(db, table)| format!("{db}.{table}"))
        .collect())
}

/// `snapshot.tables` as a filter (every table when empty).
fn snapshot_tables(task: &TaskConfig) -> Result<EventFilter, String> {
    EventFilter::new(&FiltersConfig {
        include: task.snapshot.tables.clone(),
        ..FiltersConfig::default()
    })
    .map_err(|e| e.to_string().trim_end().to_string())
}

/// Where a snapshot that also reads `added` continues, given the one in progress (if any).
///
/// - none in progress: the added tables, from the first;
/// - one in progress: its remaining tables and the added ones, in name order (the snapshotter
///   reads a scope's tables in that order). `remaining` lists what the running snapshot still
///   reads from its current table on (for an initial snapshot, every table the new filters
///   and `snapshot.tables` take in from there). It continues where it was when its table comes
///   first, else at the first added table; its own table is then read again from its start
///   (some rows twice, none missed).
pub fn merged_progress(
    running: Option<&SnapshotProgress>,
    remaining: Vec<String>,
    added: &[String],
) -> Option<SnapshotProgress> {
    let mut scope: Vec<String> = remaining;
    scope.extend(added.iter().cloned());
    scope.sort();
    scope.dedup();
    let first = scope.first()?.clone();
    let (database, table) = first.split_once('.')?;
    let continues = running.filter(|p| format!("{}.{}", p.database, p.table) == first);
    Some(SnapshotProgress {
        database: database.to_string(),
        table: table.to_string(),
        after: continues.and_then(|p| p.after.clone()),
        request: running.and_then(|p| p.request),
        tables: Some(scope),
    })
}

/// The tables a running snapshot still reads from its current table on (`db.table` names).
pub fn remaining_tables(
    task: &TaskConfig,
    running: &SnapshotProgress,
    tables: &[(String, String)],
) -> Result<Vec<String>, String> {
    let at = (running.database.as_str(), running.table.as_str());
    let later = |name: &String| {
        name.split_once('.')
            .is_some_and(|(db, table)| (db, table) >= at)
    };
    if let Some(scope) = &running.tables {
        return Ok(scope.iter().filter(|n| later(n)).cloned().collect());
    }
    snapshot_candidates(task, tables, |db, table| (db, table) >= at)
}

/// Every base table of the source, sorted by database and name.
pub async fn list_tables(url: &str) -> Result<Vec<(String, String)>, String> {
    use mysql_async::prelude::Queryable;
    let opts = mysql_async::Opts::from_url(url).map_err(|e| format!("bad source URL: {e}"))?;
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| format!("cannot connect to the source: {e}"))?;
    let tables = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await
        .map_err(|e| format!("listing the tables in information_schema: {e}"))?;
    let _ = conn.disconnect().await;
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::snapshot_progress::KeyValue;

    fn task(include: &[&str], snapshot_tables: &[&str]) -> TaskConfig {
        let text = format!(
            "[[tasks]]\nname = \"t\"\n[tasks.source]\nurl = \"mysql://u:p@h:3306\"\n\
             server_id = 7\n[tasks.filters]\ninclude = {include:?}\n[tasks.snapshot]\n\
             mode = \"initial\"\nsignal_table = \"ops.marks\"\ntables = {snapshot_tables:?}\n\
             [[tasks.sinks]]\ntype = \"file\"\npath = \"-\"\n"
        );
        sluice_core::config::Config::from_toml(&text)
            .unwrap()
            .tasks
            .remove(0)
    }

    fn names(list: &[&str]) -> Vec<(String, String)> {
        list.iter()
            .map(|n| {
                let (d, t) = n.split_once('.').unwrap();
                (d.to_string(), t.to_string())
            })
            .collect()
    }

    #[test]
    fn only_tables_the_old_patterns_missed_are_added() {
        let tables = names(&["app.a", "app.b", "app.c", "mysql.user", "ops.marks", "x.y"]);
        let old = Coverage {
            include: vec!["app\\.a".into()],
            exclude: vec![],
        };
        let now = task(&["app\\..*", "ops\\..*"], &[]);
        assert_eq!(
            added_tables(&now, &old, &tables).unwrap(),
            ["app.b", "app.c"]
        );
        // snapshot.tables narrows what is read, as for the initial snapshot.
        let narrowed = task(&["app\\..*"], &["app\\.c"]);
        assert_eq!(added_tables(&narrowed, &old, &tables).unwrap(), ["app.c"]);
        // Patterns that take in nothing new add nothing.
        assert!(added_tables(&task(&["app\\.a"], &[]), &old, &tables)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn added_tables_join_a_running_snapshot_in_name_order() {
        let running = SnapshotProgress {
            database: "app".into(),
            table: "m".into(),
            after: Some(vec![KeyValue::Int(40)]),
            request: None,
            tables: None,
        };
        let tables = names(&["app.a", "app.m", "app.z", "other.q"]);
        let remaining = remaining_tables(&task(&["app\\..*"], &[]), &running, &tables).unwrap();
        assert_eq!(remaining, ["app.m", "app.z"]);
        // An added table after the current one: continue where it was.
        let merged = merged_progress(Some(&running), remaining.clone(), &["app.q".into()]);
        let merged = merged.unwrap();
        assert_eq!(
            (merged.table.as_str(), merged.after.clone()),
            ("m", running.after.clone())
        );
        assert_eq!(merged.tables.unwrap(), ["app.m", "app.q", "app.z"]);
        // One before it: start there; the current table is read again from its start.
        let merged = merged_progress(Some(&running), remaining, &["app.b".into()]).unwrap();
        assert_eq!((merged.table.as_str(), merged.after), ("b", None));
        assert_eq!(merged.tables.unwrap(), ["app.b", "app.m", "app.z"]);
        // Nothing running: the added tables alone.
        let fresh = merged_progress(None, vec![], &["app.c".into(), "app.b".into()]).unwrap();
        assert_eq!(
            (fresh.table.as_str(), fresh.tables.unwrap().len()),
            ("b", 2)
        );
    }
}
