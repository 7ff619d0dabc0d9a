//! A task's `filters` table: which tables, columns, row operations and DDL reach the sinks, as
//! Canal's `filter.regex` / `filter.black.regex` and Debezium's include/exclude lists do. This
//! module holds the config and its checks; `crate::filter` compiles it and applies it to events.

use serde::Deserialize;

use super::FieldError;
use crate::filter::pattern_set;

/// The row operations a filter can let through, as their op codes.
pub const OP_CODES: [&str; 3] = ["c", "u", "d"];

/// `[tasks.filters]`. Every pattern is a regex anchored at both ends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FiltersConfig {
    /// `db.table` patterns; empty means every table.
    pub include: Vec<String>,
    /// `db.table` patterns; a table matching one is dropped even when `include` matches it.
    pub exclude: Vec<String>,
    /// `db.table.column` patterns: only matching columns (and primary-key columns) are kept.
    pub include_columns: Vec<String>,
    /// `db.table.column` patterns: matching columns are removed (never primary-key columns).
    pub exclude_columns: Vec<String>,
    /// Op codes of the row changes that pass (`c`, `u`, `d`); all of them by default.
    pub ops: Vec<String>,
    /// Whether DDL events pass.
    pub ddl: bool,
}

impl Default for FiltersConfig {
    fn default() -> Self {
        FiltersConfig {
            include: Vec::new(),
            exclude: Vec::new(),
            include_columns: Vec::new(),
            exclude_columns: Vec::new(),
            ops: OP_CODES.iter().map(|s| s.to_string()).collect(),
            ddl: true,
        }
    }
}

impl FiltersConfig {
    /// Every problem of this table; `at` is its path (`tasks[0].filters`).
    pub fn problems(&self, at: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (name, patterns) in self.pattern_lists() {
            if let Err(e) = pattern_set(&format!("{at}.{name}"), patterns) {
                errors.push(e);
            }
        }
        if !self.include_columns.is_empty() && !self.exclude_columns.is_empty() {
            errors.push(FieldError {
                field: format!("{at}.include_columns"),
                value: None,
                message: "`include_columns` and `exclude_columns` are both set; a task uses one \
                          or the other (remove one of them)"
                    .into(),
            });
        }
        if self.ops.is_empty() {
            errors.push(FieldError {
                field: format!("{at}.ops"),
                value: None,
                message: "no row operation would pass; list some of `c`, `u`, `d`, or leave \
                          `ops` out for all of them"
                    .into(),
            });
        }
        for (k, op) in self.ops.iter().enumerate() {
            if !OP_CODES.contains(&op.as_str()) {
                errors.push(FieldError {
                    field: format!("{at}.ops[{k}]"),
                    value: Some(op.clone()),
                    message: "allowed: `c` (insert), `u` (update), `d` (delete)".into(),
                });
            }
        }
        errors
    }

    /// The pattern lists with their field names, in config order.
    fn pattern_lists(&self) -> [(&'static str, &[String]); 4] {
        [
            ("include", &self.include),
            ("exclude", &self.exclude),
            ("include_columns", &self.include_columns),
            ("exclude_columns", &self.exclude_columns),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn messages(f: &FiltersConfig) -> Vec<String> {
        f.problems("tasks[0].filters")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn the_default_passes_everything_and_is_valid() {
        let f = FiltersConfig::default();
        assert_eq!(f.ops, strings(&["c", "u", "d"]));
        assert!(f.ddl);
        assert!(messages(&f).is_empty());
    }

    #[test]
    fn a_bad_pattern_names_its_field_index_and_the_regex_error() {
        let f = FiltersConfig {
            include: strings(&["shop.orders", "a", "inventory\\.(x"]),
            exclude_columns: strings(&["*"]),
            ..FiltersConfig::default()
        };
        let e = messages(&f);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with(
                "`tasks[0].filters.include[2]` = \"inventory\\\\.(x\": not a valid regex:"
            ),
            "{e:?}"
        );
        assert!(e[0].contains("unclosed group"), "{e:?}");
        assert!(
            e[1].starts_with("`tasks[0].filters.exclude_columns[0]` = \"*\""),
            "{e:?}"
        );
    }

    #[test]
    fn include_and_exclude_columns_together_are_refused() {
        let f = FiltersConfig {
            include_columns: strings(&["a.b.c"]),
            exclude_columns: strings(&["a.b.d"]),
            ..FiltersConfig::default()
        };
        let e = messages(&f);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("tasks[0].filters.include_columns"), "{e:?}");
        assert!(e[0].contains("both set"), "{e:?}");
    }

    #[test]
    fn ops_are_c_u_d_only_and_not_empty() {
        let f = FiltersConfig {
            ops: strings(&["c", "insert", "r"]),
            ..FiltersConfig::default()
        };
        let e = messages(&f);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("`tasks[0].filters.ops[1]` = \"insert\": allowed: `c`"));
        assert!(e[1].starts_with("`tasks[0].filters.ops[2]` = \"r\""));
        let f = FiltersConfig {
            ops: vec![],
            ..FiltersConfig::default()
        };
        assert!(messages(&f)[0].contains("no row operation would pass"));
    }

    const TASK: &str = r#"
[[tasks]]
name = "orders"
[tasks.source]
url = "mysql://sluice:secret@127.0.0.1:13306"
[[tasks.sinks]]
type = "file"
path = "-"
"#;

    fn parse(filters: &str) -> Result<super::super::Config, Vec<String>> {
        super::super::Config::from_toml(&format!("{TASK}[tasks.filters]\n{filters}"))
            .map_err(|e| e.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_filters_table_parses_from_toml_and_defaults_the_rest() {
        let config = parse(
            r#"include = ["shop.orders", "inventory\\..*"]
exclude_columns = ["shop.users.password_hash"]
ops = ["c", "d"]
"#,
        )
        .unwrap();
        let f = &config.tasks[0].filters;
        assert_eq!(f.include, strings(&["shop.orders", "inventory\\..*"]));
        assert_eq!(f.ops, strings(&["c", "d"]));
        assert!(f.ddl && f.exclude.is_empty() && f.include_columns.is_empty());
        // No [tasks.filters] at all: everything passes.
        let config = super::super::Config::from_toml(TASK).unwrap();
        assert_eq!(config.tasks[0].filters, FiltersConfig::default());
    }

    #[test]
    fn filter_problems_in_toml_name_the_task_path() {
        let e = parse("include = [\"a\", \"b\", \"(\"]\nops = [\"x\"]\n").unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("`tasks[0].filters.include[2]` = \"(\""),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("`tasks[0].filters.ops[0]` = \"x\""),
            "{e:?}"
        );
        let e = parse("inclde = [\"a\"]\n").unwrap_err();
        assert!(
            e[0].starts_with("`tasks[0].filters.inclde` = \"inclde\": unknown field"),
            "{e:?}"
        );
    }
}
