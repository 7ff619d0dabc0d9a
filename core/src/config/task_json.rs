//! One task's config in JSON, as the manager's API receives it: parsed and validated by the
//! same checks as a TOML file, with field paths relative to the task (`sinks[0].topic`, not
//! `tasks[0].sinks[0].topic`).

use super::{validate, Config, ConfigErrors, FieldError, TaskConfig};

/// The prefix the file-level validation gives the fields of the only task.
const TASK_PREFIX: &str = "tasks[0].";

impl TaskConfig {
    /// Parses and validates one task's config written as JSON; every problem is named by its
    /// field path within the task.
    pub fn from_json(text: &str) -> Result<TaskConfig, ConfigErrors> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let task: TaskConfig = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|e| from_json_error(e.path().to_string(), e.inner()))?;
        deserializer
            .end()
            .map_err(|e| from_json_error(String::new(), &e))?;
        task.validated()
    }

    /// Runs the file-level checks on this one task.
    fn validated(self) -> Result<TaskConfig, ConfigErrors> {
        let mut config = Config {
            data_dir: super::default_data_dir(),
            http: None,
            manager: None,
            tasks: vec![self],
        };
        match validate::validate(&config) {
            Ok(()) => Ok(config.tasks.remove(0)),
            Err(ConfigErrors(errors)) => Err(ConfigErrors(
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        field: e
                            .field
                            .strip_prefix(TASK_PREFIX)
                            .map(str::to_string)
                            .unwrap_or(e.field),
                        ..e
                    })
                    .collect(),
            )),
        }
    }
}

/// A JSON parse error: syntax, an unknown or missing field, a wrong type.
fn from_json_error(path: String, e: &serde_json::Error) -> ConfigErrors {
    let message = e.to_string();
    // For an unknown field the path ends with it; the message names it too.
    let value = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
        .map(str::to_string);
    let field = match (path.as_str(), &value) {
        ("." | "?" | "", Some(unknown)) => unknown.clone(),
        ("." | "?" | "", None) => "(top level)".to_string(),
        // Inside a sink (an internally tagged enum, read through a buffer) the path stops at
        // the sink: name the unknown field itself.
        (_, Some(unknown)) if !path.ends_with(unknown.as_str()) => format!("{path}.{unknown}"),
        _ => path,
    };
    ConfigErrors(vec![FieldError {
        field,
        value,
        message,
    }])
}

#[cfg(test)]
mod tests {
    use super::TaskConfig;

    const GOOD: &str = r#"{"name":"orders","source":{"url":"mysql://u:secret@127.0.0.1:3306"},
        "sinks":[{"type":"kafka","brokers":"k:9092","topic":"shop.orders"}]}"#;

    fn fields(text: &str) -> Vec<String> {
        match TaskConfig::from_json(text) {
            Ok(_) => vec![],
            Err(e) => e.0.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn a_good_task_parses_with_its_defaults() {
        let task = TaskConfig::from_json(GOOD).unwrap();
        assert_eq!(task.name, "orders");
        assert_eq!(task.checkpoint_interval_ms, 1000);
        assert_eq!(task.sinks[0].name(), "kafka");
    }

    #[test]
    fn semantic_errors_are_named_relative_to_the_task() {
        let bad = GOOD.replace("shop.orders", "bad topic!");
        assert_eq!(fields(&bad), ["sinks[0].topic"]);
        let bad = GOOD.replace("127.0.0.1:3306", "127.0.0.1:99999");
        let e = TaskConfig::from_json(&bad).unwrap_err();
        assert_eq!(e.0[0].field, "source.url");
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn the_snapshot_table_is_parsed_and_checked_like_the_file_form() {
        let with = |snapshot: &str| GOOD.replacen('{', &format!("{{\"snapshot\":{snapshot},"), 1);
        let task = TaskConfig::from_json(&with(
            r#"{"mode":"initial","signal_table":"ops.signal","chunk_rows":500}"#,
        ))
        .unwrap();
        assert_eq!(task.snapshot.chunk_rows, 500);
        assert_eq!(task.snapshot.signal_table_parts(), Some(("ops", "signal")));
        assert_eq!(
            fields(&with(r#"{"mode":"initial","chunk_rows":0}"#)),
            ["snapshot.chunk_rows", "snapshot.signal_table"]
        );
        assert_eq!(fields(&with(r#"{"mode":"sometimes"}"#)), ["snapshot.mode"]);
        assert_eq!(
            fields(&with(r#"{"on_purged":"snapshot"}"#)),
            ["snapshot.signal_table"]
        );
        let task = TaskConfig::from_json(&with(
            r#"{"on_purged":"snapshot","signal_table":"ops.signal"}"#,
        ))
        .unwrap();
        assert_eq!(task.snapshot.on_purged, crate::config::OnPurged::Snapshot);
    }

    #[test]
    fn parse_errors_name_the_field() {
        let bad = GOOD.replace("\"brokers\"", "\"brokerz\"");
        assert_eq!(fields(&bad), ["sinks[0].brokerz"]);
        assert_eq!(
            fields(&GOOD.replace("\"source\"", "\"sourze\"")),
            ["sourze"]
        );
        assert_eq!(fields("{\"name\":1}"), ["name"]);
        assert_eq!(fields("{"), ["(top level)"]);
        assert_eq!(fields(&format!("{GOOD} x")), ["(top level)"]);
    }
}
