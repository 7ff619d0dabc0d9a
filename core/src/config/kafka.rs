//! The Kafka sink's config (`type = "kafka"`) and its topic template.
//!
//! Everything that can be checked without a broker or a table is checked here, so that
//! `check-config` refuses it before anything runs: the broker list, the template's placeholders
//! and literal characters, the format and partitioning names, and the librdkafka properties
//! Sluice must own. A rendered topic can still be illegal when a database or table name holds a
//! character Kafka refuses; the sink reports that row as a definite error.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::FieldError;

/// The message formats, as `sluice_sinks::formats::Format::NAMES` names them (core cannot
/// depend on the sinks crate; a test there keeps the two lists equal).
pub const KAFKA_FORMATS: [&str; 4] = ["sluice", "canal-json", "debezium-json", "maxwell-json"];

/// librdkafka settings Sluice sets itself: its delivery guarantee depends on them.
pub const FORBIDDEN_PROPERTIES: [&str; 4] = [
    "enable.idempotence",
    "acks",
    "bootstrap.servers",
    "transactional.id",
];

/// Kafka's longest topic name.
pub const MAX_TOPIC_LEN: usize = 249;

/// The Kafka sink: every event becomes a message in a topic named after its table.
/// (`Debug` shows the property names only: their values may be secrets.)
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// `host:port[,host:port...]` (librdkafka's `bootstrap.servers`).
    pub brokers: String,
    /// The topic, fixed or a template with `{db}` and `{table}` (see [`TopicTemplate`]).
    pub topic: String,
    /// Where every DDL event goes, as one message in the sink's format, keyed by the database
    /// it changes, whatever `topic` is (a fixed name; `None`: DDL follows `topic` as before).
    #[serde(default)]
    pub schema_changes_topic: Option<String>,
    /// The message format (one of [`KAFKA_FORMATS`]); kept as text so a bad value is reported
    /// by field with every other problem.
    #[serde(default = "default_format")]
    pub format: String,
    /// `key` (default), `table` or `single`; read it with [`KafkaSinkConfig::partition_by`].
    #[serde(default = "default_partition_by")]
    pub partition_by: String,
    /// After a delete, also send a tombstone (the same key, no value), so a compacted topic
    /// forgets the row. Needs the row's primary key as the message key.
    #[serde(default)]
    pub tombstones: bool,
    /// Exactly-once: each checkpoint interval's events and the checkpoint itself are committed
    /// in one Kafka transaction; a consumer with `isolation.level=read_committed` sees every
    /// event once. The sink must be the task's only sink.
    #[serde(default)]
    pub exactly_once: bool,
    /// The producer's `transactional.id` with `exactly_once` (default `sluice.TASK.SINK`). A
    /// producer starting with the same id fences off the previous one.
    #[serde(default)]
    pub transactional_id: Option<String>,
    /// Where exactly-once keeps its checkpoints (one message per commit, keyed by the
    /// transactional id; compacted).
    #[serde(default = "default_checkpoint_topic")]
    pub checkpoint_topic: String,
    /// Extra librdkafka settings, passed through as given (may hold secrets such as
    /// `sasl.password`: never print them).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

fn default_checkpoint_topic() -> String {
    "sluice_checkpoints".into()
}

impl std::fmt::Debug for KafkaSinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSinkConfig")
            .field("name", &self.name)
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .field("schema_changes_topic", &self.schema_changes_topic)
            .field("format", &self.format)
            .field("partition_by", &self.partition_by)
            .field("tombstones", &self.tombstones)
            .field("exactly_once", &self.exactly_once)
            .field("transactional_id", &self.transactional_id)
            .field("checkpoint_topic", &self.checkpoint_topic)
            .field("properties", &self.properties.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn default_format() -> String {
    "sluice".into()
}

fn default_partition_by() -> String {
    "key".into()
}

/// How messages are spread over a topic's partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionBy {
    /// By the message key (the row's primary key): each row's changes stay in order.
    Key,
    /// By `db.table`: each table's changes stay in order.
    Table,
    /// Everything in partition 0: one total order, no parallelism.
    Single,
}

impl KafkaSinkConfig {
    /// The sink's name: `name`, or `kafka`.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("kafka")
    }

    /// The parsed `partition_by` (checked by `Config::from_toml`).
    pub fn partition_by(&self) -> Result<PartitionBy, String> {
        match self.partition_by.as_str() {
            "key" => Ok(PartitionBy::Key),
            "table" => Ok(PartitionBy::Table),
            "single" => Ok(PartitionBy::Single),
            _ => Err(
                "allowed: `key` (the row's primary key; per-row order), `table` \
                      (`db.table`; per-table order) or `single` (partition 0; total order)"
                    .into(),
            ),
        }
    }

    /// The producer's transactional id for task `task` (see `transactional_id`).
    pub fn transactional_id(&self, task: &str) -> String {
        self.transactional_id
            .clone()
            .unwrap_or_else(|| format!("sluice.{task}.{}", self.name()))
    }

    /// The parsed topic template (checked by `Config::from_toml`).
    pub fn topic_template(&self) -> Result<TopicTemplate, String> {
        TopicTemplate::parse(&self.topic)
    }

    /// Every problem of this sink's fields; `at("brokers")` names a field.
    pub(super) fn problems(&self, at: &dyn Fn(&str) -> String) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut push = |field: String, value: Option<String>, message: String| {
            errors.push(FieldError {
                field,
                value,
                message,
            })
        };
        if let Err(message) = check_brokers(&self.brokers) {
            push(at("brokers"), Some(self.brokers.clone()), message);
        }
        if let Err(message) = TopicTemplate::parse(&self.topic) {
            push(at("topic"), Some(self.topic.clone()), message);
        }
        if let Some(topic) = &self.schema_changes_topic {
            if let Err(message) = check_topic_name(topic) {
                push(
                    at("schema_changes_topic"),
                    Some(topic.clone()),
                    format!("{message}; the schema-change topic is a fixed name, no placeholders"),
                );
            } else if self.exactly_once && *topic == self.checkpoint_topic {
                // The checkpoint topic is compacted by transactional id: DDL would be erased.
                push(
                    at("schema_changes_topic"),
                    Some(topic.clone()),
                    "the schema-change topic cannot be `checkpoint_topic`, where exactly-once \
                     keeps its checkpoints: choose another name"
                        .into(),
                );
            }
        }
        if !KAFKA_FORMATS.contains(&self.format.as_str()) {
            // The same words as `sluice_sinks::formats::UnknownFormat`.
            push(
                at("format"),
                Some(self.format.clone()),
                format!(
                    "unknown message format {:?}: the formats are \"sluice\", \"canal-json\", \
                     \"debezium-json\" and \"maxwell-json\"",
                    self.format
                ),
            );
        }
        if let Err(message) = self.partition_by() {
            push(at("partition_by"), Some(self.partition_by.clone()), message);
        }
        if self.tombstones && self.partition_by == "table" {
            push(
                at("tombstones"),
                Some("true".into()),
                "tombstones need the row's primary key as the message key, but \
                 `partition_by = \"table\"` keys messages by table (a tombstone would erase \
                 the whole table from a compacted topic): use `partition_by = \"key\"`"
                    .into(),
            );
        }
        if let Err(message) = check_topic_name(&self.checkpoint_topic) {
            push(
                at("checkpoint_topic"),
                Some(self.checkpoint_topic.clone()),
                message,
            );
        }
        if let Some(id) = &self.transactional_id {
            if id.trim().is_empty() || id.len() > 200 {
                push(
                    at("transactional_id"),
                    Some(id.clone()),
                    "a transactional id is 1 to 200 characters, unique per task and sink".into(),
                );
            }
        }
        for key in self.properties.keys() {
            if FORBIDDEN_PROPERTIES.contains(&key.as_str()) {
                // The value is not shown: properties may hold secrets.
                push(
                    at(&format!("properties.\"{key}\"")),
                    None,
                    format!(
                        "Sluice sets `{key}` itself (enable.idempotence=true, acks=all, \
                         bootstrap.servers from `brokers`, transactional.id from \
                         `transactional_id`): remove it"
                    ),
                );
            }
        }
        errors
    }
}

fn check_brokers(brokers: &str) -> Result<(), String> {
    const FORM: &str = "expected host:port[,host:port...], e.g. `kafka1:9092,kafka2:9092`";
    if brokers.trim().is_empty() {
        return Err(format!("no broker given; {FORM}"));
    }
    for broker in brokers.split(',').map(str::trim) {
        let Some((host, port)) = broker.rsplit_once(':') else {
            return Err(format!("`{broker}` has no port; {FORM}"));
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(format!("`{broker}` has no host; {FORM}"));
        }
        if !matches!(port.parse::<u16>(), Ok(p) if p > 0) {
            return Err(format!(
                "`{broker}`: `{port}` is not a port (1-65535); {FORM}"
            ));
        }
    }
    Ok(())
}

/// A parsed topic template, e.g. `cdc.{db}.{table}` or a fixed `events`.
///
/// Placeholders are `{db}` and `{table}`; the rest is literal and must already be legal in a
/// Kafka topic name (letters, digits, `.`, `_`, `-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicTemplate {
    pub parts: Vec<TopicPart>,
}

/// One piece of a topic template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicPart {
    Literal(String),
    Db,
    Table,
}

/// Whether `c` may appear in a Kafka topic name.
pub fn legal_topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Why `topic` is not a legal Kafka topic name, if it is not.
pub fn check_topic_name(topic: &str) -> Result<(), String> {
    if topic.is_empty() || topic == "." || topic == ".." {
        return Err(format!("`{topic}` is not a topic name"));
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(format!(
            "the topic name is {} characters long; Kafka allows {MAX_TOPIC_LEN}",
            topic.len()
        ));
    }
    if let Some(c) = topic.chars().find(|&c| !legal_topic_char(c)) {
        return Err(format!(
            "{c:?} cannot be in a Kafka topic name (allowed: letters, digits, `.`, `_`, `-`)"
        ));
    }
    Ok(())
}

impl TopicTemplate {
    /// Parses a template: placeholders `{db}` and `{table}` only, literal parts legal in a
    /// topic name, and a fixed name (or the literal text alone) at most 249 characters.
    pub fn parse(text: &str) -> Result<TopicTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(TopicPart::Literal(rest[..open].to_string()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(
                    "a `{` is not closed by a `}`; placeholders are {db} and {table}".into(),
                );
            };
            parts.push(match &rest[open + 1..open + close] {
                "db" => TopicPart::Db,
                "table" => TopicPart::Table,
                other => {
                    return Err(format!(
                        "`{{{other}}}` is not a placeholder: the topic can name {{db}} and \
                         {{table}}"
                    ))
                }
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(TopicPart::Literal(rest.to_string()));
        }
        let literal: String = parts
            .iter()
            .filter_map(|p| match p {
                TopicPart::Literal(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        if parts.iter().all(|p| matches!(p, TopicPart::Literal(_))) {
            check_topic_name(&literal)?;
        } else {
            if let Some(c) = literal.chars().find(|&c| !legal_topic_char(c)) {
                return Err(format!(
                    "{c:?} cannot be in a Kafka topic name (allowed: letters, digits, `.`, `_`, \
                     `-`, and the placeholders {{db}} and {{table}})"
                ));
            }
            if literal.len() >= MAX_TOPIC_LEN {
                return Err(format!(
                    "the fixed text alone is {} characters long; Kafka allows {MAX_TOPIC_LEN}",
                    literal.len()
                ));
            }
        }
        Ok(TopicTemplate { parts })
    }

    /// Whether the topic depends on the event's table (`{db}` or `{table}` in it).
    pub fn is_fixed(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, TopicPart::Literal(_)))
    }

    /// The topic for a table; not checked (see [`check_topic_name`]).
    pub fn render(&self, db: &str, table: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            out.push_str(match part {
                TopicPart::Literal(s) => s,
                TopicPart::Db => db,
                TopicPart::Table => table,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, SinkConfig};
    use super::*;

    fn config(sink: &str) -> String {
        format!(
            "[[tasks]]\nname = \"t\"\n[tasks.source]\nurl = \"mysql://u:p@h:1\"\n\
             [[tasks.sinks]]\ntype = \"kafka\"\n{sink}\n"
        )
    }

    fn errors(sink: &str) -> Vec<String> {
        match Config::from_toml(&config(sink)) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_minimal_kafka_sink_gets_the_defaults() {
        let c = Config::from_toml(&config(
            "brokers = \"127.0.0.1:9092\"\ntopic = \"cdc.{db}.{table}\"",
        ))
        .unwrap();
        let SinkConfig::Kafka(k) = &c.tasks[0].sinks[0] else {
            panic!("not a kafka sink: {:?}", c.tasks[0].sinks[0]);
        };
        assert_eq!(c.tasks[0].sinks[0].name(), "kafka");
        assert_eq!(k.format, "sluice");
        assert_eq!(k.partition_by(), Ok(PartitionBy::Key));
        let t = k.topic_template().unwrap();
        assert_eq!(
            t.parts,
            vec![
                TopicPart::Literal("cdc.".into()),
                TopicPart::Db,
                TopicPart::Literal(".".into()),
                TopicPart::Table
            ]
        );
        assert!(!t.is_fixed());
        assert_eq!(t.render("shop", "users"), "cdc.shop.users");
    }

    #[test]
    fn a_full_kafka_sink_passes() {
        let e = errors(
            "name = \"events\"\nbrokers = \"k1:9092, k2:9093\"\ntopic = \"events\"\n\
             format = \"maxwell-json\"\npartition_by = \"single\"\n\
             [tasks.sinks.properties]\n\"compression.type\" = \"lz4\"\n\"sasl.password\" = \"pw\"",
        );
        assert!(e.is_empty(), "{e:?}");
        assert!(TopicTemplate::parse("events").unwrap().is_fixed());
        let c = Config::from_toml(&config(
            "brokers = \"k:1\"\ntopic = \"t\"\n[tasks.sinks.properties]\n\"sasl.password\" = \"hunter2\"",
        ))
        .unwrap();
        let debug = format!("{:?}", c.tasks[0].sinks[0]);
        assert!(
            debug.contains("sasl.password") && !debug.contains("hunter2"),
            "{debug}"
        );
    }

    #[test]
    fn bad_brokers_are_named() {
        for (brokers, says) in [
            ("", "no broker given"),
            ("k1", "`k1` has no port"),
            ("k1:9092,:9092", "`:9092` has no host"),
            ("k1:x", "`x` is not a port"),
            ("k1:0", "`0` is not a port"),
        ] {
            let e = errors(&format!("brokers = \"{brokers}\"\ntopic = \"t\""));
            assert_eq!(e.len(), 1, "{brokers}: {e:?}");
            assert!(
                e[0].starts_with("`tasks[0].sinks[0].brokers`") && e[0].contains(says),
                "{brokers}: {e:?}"
            );
        }
    }

    #[test]
    fn bad_topics_are_named() {
        let topic_error = |topic: &str| {
            let e = errors(&format!("brokers = \"k:1\"\ntopic = \"{topic}\""));
            assert_eq!(e.len(), 1, "{topic}: {e:?}");
            assert!(e[0].starts_with("`tasks[0].sinks[0].topic`"), "{e:?}");
            e[0].clone()
        };
        assert!(topic_error("cdc/{db}").contains("'/' cannot be in a Kafka topic name"));
        assert!(topic_error("a b").contains("' ' cannot be"));
        assert!(topic_error("{db}.{pk}").contains("`{pk}` is not a placeholder"));
        assert!(topic_error("{db").contains("not closed"));
        assert!(topic_error("").contains("is not a topic name"));
        assert!(topic_error("..").contains("is not a topic name"));
        assert!(topic_error(&"x".repeat(250)).contains("Kafka allows 249"));
        assert!(topic_error(&format!("{}{{db}}", "x".repeat(249))).contains("Kafka allows 249"));
        assert!(check_topic_name(&"x".repeat(249)).is_ok());
    }

    #[test]
    fn a_schema_changes_topic_is_optional_and_must_be_a_legal_fixed_name() {
        let c = Config::from_toml(&config(
            "brokers = \"k:1\"\ntopic = \"cdc.{db}.{table}\"\nschema_changes_topic = \"cdc.ddl\"",
        ))
        .unwrap();
        let SinkConfig::Kafka(k) = &c.tasks[0].sinks[0] else {
            panic!("not a kafka sink");
        };
        assert_eq!(k.schema_changes_topic.as_deref(), Some("cdc.ddl"));
        let c = Config::from_toml(&config("brokers = \"k:1\"\ntopic = \"t\"")).unwrap();
        let SinkConfig::Kafka(k) = &c.tasks[0].sinks[0] else {
            panic!("not a kafka sink");
        };
        assert_eq!(k.schema_changes_topic, None);

        for (topic, says) in [
            ("cdc.{db}", "'{' cannot be in a Kafka topic name"),
            ("a b", "' ' cannot be"),
            ("", "`` is not a topic name"),
            ("..", "is not a topic name"),
        ] {
            let e = errors(&format!(
                "brokers = \"k:1\"\ntopic = \"t\"\nschema_changes_topic = \"{topic}\""
            ));
            assert_eq!(e.len(), 1, "{topic}: {e:?}");
            assert!(
                e[0].starts_with(&format!(
                    "`tasks[0].sinks[0].schema_changes_topic` = {topic:?}: "
                )) && e[0].contains(says)
                    && e[0].contains("a fixed name, no placeholders"),
                "{topic}: {e:?}"
            );
        }
        let e = errors(&format!(
            "brokers = \"k:1\"\ntopic = \"t\"\nschema_changes_topic = \"{}\"",
            "x".repeat(250)
        ));
        assert!(e.len() == 1 && e[0].contains("Kafka allows 249"), "{e:?}");
        let e = errors(
            "brokers = \"k:1\"\ntopic = \"t\"\nexactly_once = true\n\
             schema_changes_topic = \"sluice_checkpoints\"",
        );
        assert!(
            e.len() == 1
                && e[0].starts_with(
                    "`tasks[0].sinks[0].schema_changes_topic` = \"sluice_checkpoints\""
                )
                && e[0].contains("cannot be `checkpoint_topic`"),
            "{e:?}"
        );
    }

    #[test]
    fn format_partitioning_and_owned_properties_are_checked() {
        let e = errors(
            "brokers = \"k:1\"\ntopic = \"t\"\nformat = \"avro\"\npartition_by = \"row\"\n\
             [tasks.sinks.properties]\nacks = \"1\"\n\"enable.idempotence\" = \"false\"\n\
             \"linger.ms\" = \"5\"",
        );
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(
            e[0].starts_with("`tasks[0].sinks[0].format` = \"avro\": unknown message format")
                && e[0].contains("\"debezium-json\" and \"maxwell-json\""),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("`tasks[0].sinks[0].partition_by` = \"row\": allowed: `key`"),
            "{e:?}"
        );
        assert!(
            e[2].starts_with("`tasks[0].sinks[0].properties.\"acks\"`: Sluice sets `acks`"),
            "{e:?}"
        );
        assert!(
            e[3].starts_with("`tasks[0].sinks[0].properties.\"enable.idempotence\"`"),
            "{e:?}"
        );
        assert!(!e[3].contains("false"), "values are not printed: {e:?}");
    }
}
