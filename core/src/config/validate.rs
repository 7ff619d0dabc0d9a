//! The checks that serde's types alone cannot express.

use std::collections::HashSet;

use super::{Config, ConfigErrors, FieldError, SinkConfig, StartFrom};
use crate::position::{BinlogPosition, GtidSet};

pub(super) fn validate(config: &Config) -> Result<(), ConfigErrors> {
    let mut errors = Vec::new();
    let mut push = |field: String, value: Option<String>, message: String| {
        errors.push(FieldError {
            field,
            value,
            message,
        })
    };
    // With a manager, tasks can also be created in its API and web UI.
    if config.tasks.is_empty() && config.manager.is_none() {
        push(
            "tasks".into(),
            None,
            "no task is configured: add at least one [[tasks]] table (or a [manager] table \
             to create tasks in the web UI)"
                .into(),
        );
    }
    for e in config.http.iter().flat_map(|h| h.problems()) {
        push(e.field, e.value, e.message);
    }
    for e in config.manager.iter().flat_map(|m| m.problems()) {
        push(e.field, e.value, e.message);
    }
    let mut names = HashSet::new();
    for (i, task) in config.tasks.iter().enumerate() {
        let at = |f: &str| format!("tasks[{i}].{f}");
        if !valid_name(&task.name) {
            push(
                at("name"),
                Some(task.name.clone()),
                "a task name is 1-64 characters: letters, digits, `-`, `_` or `.`, starting \
                 with a letter or digit"
                    .into(),
            );
        } else if !names.insert(task.name.as_str()) {
            push(
                at("name"),
                Some(task.name.clone()),
                "another task has this name; task names must be unique".into(),
            );
        }
        if let Err(message) = check_source_url(&task.source.url) {
            push(
                at("source.url"),
                Some(redact_url(&task.source.url)),
                message,
            );
        }
        if task.source.server_id == 0 {
            push(
                at("source.server_id"),
                Some("0".into()),
                "a replica server id is 1 to 4294967295 and must differ from every other \
                 replica's"
                    .into(),
            );
        }
        if let Err(message) = parse_start(&task.source.start) {
            push(at("source.start"), Some(task.source.start.clone()), message);
        }
        if !(1..=3600).contains(&task.source.heartbeat_secs) {
            push(
                at("source.heartbeat_secs"),
                Some(task.source.heartbeat_secs.to_string()),
                "the heartbeat period is 1 to 3600 seconds".into(),
            );
        }
        if !(10..=3_600_000).contains(&task.checkpoint_interval_ms) {
            push(
                at("checkpoint_interval_ms"),
                Some(task.checkpoint_interval_ms.to_string()),
                "the checkpoint interval is 10 to 3600000 milliseconds".into(),
            );
        }
        for (k, label) in task.node_labels.iter().enumerate() {
            if !valid_label(label) {
                push(
                    at(&format!("node_labels[{k}]")),
                    Some(label.clone()),
                    "a label is 1 to 64 letters, digits, `-`, `_` or `.`".into(),
                );
            }
        }
        if !(1..=4096).contains(&task.queue_max_mib) {
            push(
                at("queue_max_mib"),
                Some(task.queue_max_mib.to_string()),
                "the queue holds 1 to 4096 MiB".into(),
            );
        }
        if task.sinks.is_empty() {
            push(
                at("sinks"),
                None,
                "a task needs at least one sink: add a [[tasks.sinks]] table".into(),
            );
        }
        let mut sink_names = HashSet::new();
        for (j, sink) in task.sinks.iter().enumerate() {
            let sat = |f: &str| format!("tasks[{i}].sinks[{j}].{f}");
            if !sink_names.insert(sink.name()) {
                push(
                    sat("name"),
                    Some(sink.name().to_string()),
                    "another sink of this task has this name; give each sink a unique `name`"
                        .into(),
                );
            }
            match sink {
                SinkConfig::File(f) => {
                    if f.path.trim().is_empty() {
                        push(
                            sat("path"),
                            Some(f.path.clone()),
                            "give a file path, or `-` for stdout".into(),
                        );
                    }
                }
                SinkConfig::Redis(r) => {
                    for e in r.problems(&sat) {
                        push(e.field, e.value, e.message);
                    }
                }
                SinkConfig::Kafka(k) => {
                    for e in k.problems(&sat) {
                        push(e.field, e.value, e.message);
                    }
                    if k.exactly_once && task.sinks.len() > 1 {
                        push(
                            sat("exactly_once"),
                            Some("true".into()),
                            "an exactly-once Kafka sink keeps the task's checkpoint in its own \
                             transactions, so it must be the task's only sink: move the other \
                             sinks to a task of their own"
                                .into(),
                        );
                    }
                }
            }
        }
        for e in task.filters.problems(&at("filters")) {
            push(e.field, e.value, e.message);
        }
        for e in task.snapshot.problems(&at("snapshot")) {
            push(e.field, e.value, e.message);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

/// A node label: what `sluice node --labels` takes and a task's `node_labels` names.
pub fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 64
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn check_source_url(raw: &str) -> Result<(), String> {
    const FORM: &str = "expected mysql://USER:PASSWORD@HOST:PORT (or mariadb://...)";
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e}); {FORM}"))?;
    if !matches!(url.scheme(), "mysql" | "mariadb") {
        return Err(format!(
            "the scheme is `{}`, not mysql or mariadb; {FORM}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("the URL names no host; {FORM}"));
    }
    if url.username().is_empty() {
        return Err(format!("the URL names no user; {FORM}"));
    }
    Ok(())
}

/// The URL with its password replaced, for messages and logs. Works on text that is not a
/// valid URL too (a bad port, say), since that is exactly when it gets printed.
pub fn redact_url(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://").map(|i| i + 3) else {
        return raw.to_string();
    };
    let rest = &raw[scheme_end..];
    // The user info ends at the last '@' before the path, as URL parsers read it.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return raw.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &raw[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => raw.to_string(),
    }
}

pub(super) fn parse_start(start: &str) -> Result<StartFrom, String> {
    let s = start.trim();
    if s.eq_ignore_ascii_case("current") {
        return Ok(StartFrom::Current);
    }
    if s.eq_ignore_ascii_case("earliest") {
        return Ok(StartFrom::Earliest);
    }
    if let Some(set) = s.strip_prefix("gtid:") {
        return GtidSet::parse(set)
            .map(StartFrom::Gtid)
            .map_err(|e| format!("{e}; expected gtid:SET"));
    }
    BinlogPosition::parse(s)
        .map(StartFrom::Binlog)
        .map_err(|e| {
            format!(
                "{e}; allowed: `current`, `earliest`, `FILE:POS` (binlog.000001:4) or `gtid:SET`"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    const GOOD: &str = r#"
[[tasks]]
name = "orders"
[tasks.source]
url = "mysql://sluice:secret@127.0.0.1:13306"
[[tasks.sinks]]
type = "file"
path = "-"
"#;

    fn errors(text: &str) -> Vec<String> {
        match Config::from_toml(text) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_manager_table_allows_no_task_and_is_checked() {
        let manager = "[manager]\nlisten = \"127.0.0.1:0\"\n";
        let config = Config::from_toml(manager).unwrap();
        assert_eq!(config.manager.unwrap().listen, "127.0.0.1:0");
        assert!(config.tasks.is_empty());
        let e = errors("[manager]\nlisten = \"8080\"\nstore = \"mysql://u:pw@h/db\"\n");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("`manager.listen` = \"8080\": no port"),
            "{e:?}"
        );
        assert!(e[1].starts_with("`manager.store` = "), "{e:?}");
        assert!(!e[1].contains("pw"), "the password is not shown: {e:?}");
        let e = errors("data_dir = \"x\"\n");
        assert!(e[0].contains("or a [manager] table"), "{e:?}");
    }

    #[test]
    fn the_http_table_is_optional_and_checked() {
        assert!(Config::from_toml(GOOD).unwrap().http.is_none());
        let with = format!("[http]\nlisten = \"127.0.0.1:0\"\n{GOOD}");
        assert_eq!(
            Config::from_toml(&with).unwrap().http.unwrap().listen,
            "127.0.0.1:0"
        );
        let e = errors(&format!("[http]\nlisten = \"127.0.0.1\"\n{GOOD}"));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("`http.listen` = \"127.0.0.1\": no port; expected HOST:PORT"),
            "{e:?}"
        );
    }

    #[test]
    fn a_good_config_passes() {
        let config = Config::from_toml(GOOD).unwrap();
        assert_eq!(config.tasks[0].source.server_id, 4_001_001);
        assert_eq!(config.tasks[0].sinks[0].name(), "file");
    }

    #[test]
    fn an_unknown_field_is_named_with_its_path() {
        let e = errors(&GOOD.replace("url =", "urll = \"x\"\nurl ="));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with(
                "`tasks[0].source.urll` = \"urll\": unknown field `urll`, expected one of `url`"
            ),
            "{e:?}"
        );
    }

    #[test]
    fn passwords_are_redacted_even_in_unparseable_urls() {
        use super::redact_url;
        assert_eq!(
            redact_url("mysql://u:s3cret@h:99999/x"),
            "mysql://u:***@h:99999/x"
        );
        assert_eq!(redact_url("mysql://u:p@ss@h:1"), "mysql://u:***@h:1");
        assert_eq!(redact_url("mysql://u@h:1"), "mysql://u@h:1");
        assert_eq!(redact_url("not a url"), "not a url");
        let e = errors(&GOOD.replace("127.0.0.1:13306", "127.0.0.1:99999"));
        assert!(
            e[0].contains("tasks[0].source.url") && !e[0].contains("secret"),
            "{e:?}"
        );
    }

    #[test]
    fn a_bad_url_names_the_field_and_hides_the_password() {
        let e = errors(&GOOD.replace("mysql://sluice:secret@", "http://sluice:secret@"));
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("`tasks[0].source.url`"), "{e:?}");
        assert!(e[0].contains("scheme is `http`"), "{e:?}");
        assert!(!e[0].contains("secret"), "{e:?}");
    }

    #[test]
    fn a_missing_sink_list_and_an_unknown_sink_type_are_refused() {
        let no_sinks = GOOD.split("[[tasks.sinks]]").next().unwrap();
        let e = errors(no_sinks);
        assert!(e[0].contains("missing field `sinks`"), "{e:?}");
        let e = errors(&GOOD.replace("type = \"file\"", "type = \"kafkaa\""));
        assert!(
            e[0].contains("tasks[0].sinks[0]") && e[0].contains("unknown variant `kafkaa`"),
            "{e:?}"
        );
    }

    #[test]
    fn every_semantic_problem_is_reported_at_once() {
        let text = GOOD
            .replace("name = \"orders\"", "name = \"bad name\"")
            .replace(
                "[tasks.source]",
                "[tasks.source]\nserver_id = 0\nstart = \"nowhere\"",
            );
        let e = errors(&text);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("tasks[0].name"));
        assert!(e[1].contains("tasks[0].source.server_id"));
        assert!(e[2].contains("tasks[0].source.start") && e[2].contains("FILE:POS"));
    }
}
