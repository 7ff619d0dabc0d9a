//! The check of an on-demand snapshot request against its task's config: pure, so the manager
//! (the API, `sluice ctl` through it) refuses a bad request before it reaches a node.

use super::{FieldError, TaskConfig};
use crate::filter::EventFilter;

/// Most tables one request may name.
pub const MAX_REQUESTED_TABLES: usize = 1000;

/// Every problem of a request to snapshot `tables` (`db.table` names) of `task`, by field
/// (`tables`, `tables[i]`).
pub fn snapshot_request_problems(task: &TaskConfig, tables: &[String]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let whole = |message: String| FieldError {
        field: "tables".into(),
        value: None,
        message,
    };
    if tables.is_empty() || tables.len() > MAX_REQUESTED_TABLES {
        errors.push(whole(format!(
            "name 1 to {MAX_REQUESTED_TABLES} tables as `db.table`"
        )));
    }
    if task.snapshot.signal_table_parts().is_none() {
        errors.push(whole(format!(
            "task {} has no `snapshot.signal_table` for the watermarks: set it in the task's \
             config first",
            task.name
        )));
    }
    // The config validated when it was stored, so its filters compile.
    let filter = EventFilter::new(&task.filters).ok();
    for (i, name) in tables.iter().enumerate() {
        let problem = match name.split_once('.') {
            Some((db, table)) if !db.is_empty() && !table.is_empty() && !table.contains('.') => {
                filter
                    .as_ref()
                    .filter(|f| !f.includes_table(db, table))
                    .map(|_| {
                        format!(
                            "the filters of task {} do not include this table",
                            task.name
                        )
                    })
            }
            _ => Some("write a table as `db.table`".into()),
        };
        if tables[..i].contains(name) {
            errors.push(FieldError {
                field: format!("tables[{i}]"),
                value: Some(name.clone()),
                message: "named twice".into(),
            });
        } else if let Some(message) = problem {
            errors.push(FieldError {
                field: format!("tables[{i}]"),
                value: Some(name.clone()),
                message,
            });
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(extra: &str) -> TaskConfig {
        TaskConfig::from_json(&format!(
            r#"{{"name": "t", "source": {{"url": "mysql://u:p@h:3306", "server_id": 5}},
               "filters": {{"include": ["shop\\..*"], "exclude": ["shop\\.secret"]}},
               "sinks": [{{"type": "file", "path": "/tmp/x"}}]{extra}}}"#
        ))
        .expect("a task config")
    }

    fn fields(task: &TaskConfig, tables: &[&str]) -> Vec<String> {
        let tables: Vec<String> = tables.iter().map(|s| s.to_string()).collect();
        snapshot_request_problems(task, &tables)
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn only_tables_the_filters_include_may_be_requested() {
        let t = task(r#", "snapshot": {"signal_table": "ops.marks"}"#);
        assert!(fields(&t, &["shop.orders", "shop.users"]).is_empty());
        assert_eq!(
            fields(
                &t,
                &[
                    "shop.orders",
                    "other.x",
                    "shop.secret",
                    "nodot",
                    "shop.orders"
                ]
            ),
            ["tables[1]", "tables[2]", "tables[3]", "tables[4]"]
        );
        assert_eq!(fields(&t, &[]), ["tables"]);
    }

    #[test]
    fn a_request_needs_a_signal_table() {
        assert_eq!(fields(&task(""), &["shop.orders"]), ["tables"]);
    }
}
