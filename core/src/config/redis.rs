//! The Redis sink's config (`type = "redis"`) and its key template.
//!
//! The key template is parsed here, purely, so that `check-config` refuses a bad one before
//! anything runs; the sink takes the parsed [`KeyTemplate`] and resolves it once per table.
//! Column placeholders cannot be checked without the table's schema, so any `{identifier}` is
//! accepted here; a row that lacks the column is a definite error of the sink at run time.

use serde::Deserialize;

use super::{redact_url, FieldError};

/// The key template when the config gives none.
pub const DEFAULT_KEY: &str = "{db}:{table}:{pk}";

/// Longest TTL accepted (100 years): far beyond any cache, far below Redis's own limit.
const MAX_TTL_SECS: u64 = 100 * 365 * 86_400;

/// The Redis sink: keeps Redis keys true to the rows of the source tables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSinkConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// `redis://[USER:PASSWORD@]HOST[:PORT][/DB]`, or `rediss://` for TLS. The password is a
    /// secret: print only [`RedisSinkConfig::redacted_url`].
    pub url: String,
    /// `invalidate` (default): delete the key of every changed row. `sync`: write rows.
    /// Kept as text so that a bad value is reported by field with every other problem; read it
    /// with [`RedisSinkConfig::mode`].
    #[serde(default = "default_mode")]
    pub mode: String,
    /// The key template (see [`KeyTemplate`]).
    #[serde(default = "default_key")]
    pub key: String,
    /// Sync mode only: how a row is stored, `json` (default) or `hash`; read it with
    /// [`RedisSinkConfig::format`].
    #[serde(default)]
    pub format: Option<String>,
    /// Sync mode only: expiry of written keys in seconds; 0 (default) is none.
    #[serde(default)]
    pub ttl_secs: u64,
    /// `db.table` regexes (anchored at both ends) of the tables this sink handles; empty: all.
    #[serde(default)]
    pub tables: Vec<String>,
}

fn default_key() -> String {
    DEFAULT_KEY.into()
}

fn default_mode() -> String {
    "invalidate".into()
}

/// What the sink does with a changed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisMode {
    /// `DEL` the row's key: the application reloads it from the database.
    Invalidate,
    /// Write the row (`SET` or `HSET`), `DEL` it when the row is deleted.
    Sync,
}

/// How sync mode stores a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisFormat {
    /// `SET key <row as a JSON object>`.
    Json,
    /// `HSET key column value ...`, one field per column.
    Hash,
}

impl RedisSinkConfig {
    /// The sink's name: `name`, or `redis`.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("redis")
    }

    /// The parsed `mode` (checked by `Config::from_toml`).
    pub fn mode(&self) -> Result<RedisMode, String> {
        match self.mode.as_str() {
            "invalidate" => Ok(RedisMode::Invalidate),
            "sync" => Ok(RedisMode::Sync),
            _ => Err(
                "allowed: `invalidate` (delete the keys of changed rows) or `sync` (write \
                      rows to their keys)"
                    .into(),
            ),
        }
    }

    /// The parsed `format` that sync mode writes (checked by `Config::from_toml`).
    pub fn format(&self) -> Result<RedisFormat, String> {
        match self.format.as_deref() {
            None | Some("json") => Ok(RedisFormat::Json),
            Some("hash") => Ok(RedisFormat::Hash),
            Some(_) => Err(
                "allowed: `json` (SET key <row JSON>) or `hash` (HSET key column \
                            value ...)"
                    .into(),
            ),
        }
    }

    /// The URL with its password replaced, for messages and logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// The parsed key template (checked by `Config::from_toml`).
    pub fn key_template(&self) -> Result<KeyTemplate, String> {
        KeyTemplate::parse(&self.key)
    }

    /// The `tables` patterns as regexes that match `db.table` whole.
    pub fn table_regexes(&self) -> impl Iterator<Item = String> + '_ {
        self.tables.iter().map(|p| anchored(p))
    }

    /// Every problem of this sink's fields; `at("url")` names a field.
    pub(super) fn problems(&self, at: &dyn Fn(&str) -> String) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut push = |field: String, value: Option<String>, message: String| {
            errors.push(FieldError {
                field,
                value,
                message,
            })
        };
        if let Err(message) = check_url(&self.url) {
            push(at("url"), Some(self.redacted_url()), message);
        }
        if let Err(message) = KeyTemplate::parse(&self.key) {
            push(at("key"), Some(self.key.clone()), message);
        }
        let mode = self.mode();
        if let Err(message) = &mode {
            push(at("mode"), Some(self.mode.clone()), message.clone());
        }
        if let Err(message) = self.format() {
            push(at("format"), self.format.clone(), message);
        }
        if mode == Ok(RedisMode::Invalidate) {
            if let Some(format) = &self.format {
                push(
                    at("format"),
                    Some(format.clone()),
                    "`format` is used by `mode = \"sync\"` only (invalidate mode deletes keys); \
                     remove it or set mode = \"sync\""
                        .into(),
                );
            }
            if self.ttl_secs > 0 {
                push(
                    at("ttl_secs"),
                    Some(self.ttl_secs.to_string()),
                    "`ttl_secs` is used by `mode = \"sync\"` only (invalidate mode deletes keys); \
                     remove it or set mode = \"sync\""
                        .into(),
                );
            }
        } else if mode.is_ok() && self.ttl_secs > MAX_TTL_SECS {
            push(
                at("ttl_secs"),
                Some(self.ttl_secs.to_string()),
                format!("the TTL is 0 (no expiry) to {MAX_TTL_SECS} seconds (100 years)"),
            );
        }
        for (k, pattern) in self.tables.iter().enumerate() {
            if let Err(e) = regex::Regex::new(&anchored(pattern)) {
                push(
                    at(&format!("tables[{k}]")),
                    Some(pattern.clone()),
                    format!(
                        "not a valid regex ({}); a pattern matches `db.table` whole, e.g. \
                         `shop\\.users` or `shop\\..*`",
                        e.to_string().lines().last().unwrap_or("invalid")
                    ),
                );
            }
        }
        errors
    }
}

/// A `tables` pattern as the regex that matches `db.table` whole.
fn anchored(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

fn check_url(raw: &str) -> Result<(), String> {
    const FORM: &str = "expected redis://[USER:PASSWORD@]HOST[:PORT][/DB] or rediss://... (TLS)";
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e}); {FORM}"))?;
    if !matches!(url.scheme(), "redis" | "rediss") {
        return Err(format!(
            "the scheme is `{}`, not redis or rediss; {FORM}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("the URL names no host; {FORM}"));
    }
    let db = url.path().trim_start_matches('/');
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err(format!(
            "the path `{}` is not a database number; {FORM}",
            url.path()
        ));
    }
    Ok(())
}

/// A parsed key template, e.g. `{db}:{table}:{pk}` or `user:{email}`.
///
/// Placeholders: `{db}`, `{table}`, `{pk}` (the primary-key values joined by `:`) and
/// `{column}` for any column of the row (letters, digits, `_`, `$`). `{{` and `}}` are literal
/// braces (Redis Cluster hash tags, say). A template must name the row: `{pk}` or a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    pub parts: Vec<KeyPart>,
}

/// One piece of a key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    Literal(String),
    Db,
    Table,
    Pk,
    Column(String),
}

impl KeyTemplate {
    /// Parses a template; the error names the character position (1-based) of the problem.
    pub fn parse(text: &str) -> Result<KeyTemplate, String> {
        const BRACES: &str = "write `{{` or `}}` for a literal brace";
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            let at = i + 1;
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(format!(
                        "the `}}` at character {at} has no opening `{{`; {BRACES}"
                    ))
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, '{')) | None => {
                                return Err(format!(
                                    "the `{{` at character {at} is not closed by a `}}`; {BRACES}"
                                ))
                            }
                            Some((_, ch)) => name.push(ch),
                        }
                    }
                    if !literal.is_empty() {
                        parts.push(KeyPart::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(placeholder(&name, at)?);
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(KeyPart::Literal(literal));
        }
        if !parts
            .iter()
            .any(|p| matches!(p, KeyPart::Pk | KeyPart::Column(_)))
        {
            return Err(
                "the key names no row: put `{pk}` or a column placeholder in it, or every row \
                 of a table would share one key"
                    .into(),
            );
        }
        Ok(KeyTemplate { parts })
    }
}

fn placeholder(name: &str, at: usize) -> Result<KeyPart, String> {
    match name {
        "db" => Ok(KeyPart::Db),
        "table" => Ok(KeyPart::Table),
        "pk" => Ok(KeyPart::Pk),
        "" => Err(format!(
            "the placeholder at character {at} is empty; use {{db}}, {{table}}, {{pk}} or a \
             column name"
        )),
        _ if name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$') =>
        {
            Ok(KeyPart::Column(name.to_string()))
        }
        _ => Err(format!(
            "`{{{name}}}` at character {at} is not a placeholder: use {{db}}, {{table}}, {{pk}} \
             or a column name (letters, digits, `_`, `$`; at most 64); write `{{{{` or `}}}}` \
             for a literal brace"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn config(sink: &str) -> String {
        format!(
            "[[tasks]]\nname = \"t\"\n[tasks.source]\nurl = \"mysql://u:p@h:1\"\n\
             [[tasks.sinks]]\ntype = \"redis\"\n{sink}\n"
        )
    }

    fn errors(sink: &str) -> Vec<String> {
        match Config::from_toml(&config(sink)) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_minimal_redis_sink_gets_the_defaults() {
        let c = Config::from_toml(&config("url = \"redis://127.0.0.1:6379/0\"")).unwrap();
        let super::super::SinkConfig::Redis(r) = &c.tasks[0].sinks[0] else {
            panic!("not a redis sink: {:?}", c.tasks[0].sinks[0]);
        };
        assert_eq!(c.tasks[0].sinks[0].name(), "redis");
        assert_eq!(r.mode(), Ok(RedisMode::Invalidate));
        assert_eq!(r.format(), Ok(RedisFormat::Json));
        assert_eq!(r.key, DEFAULT_KEY);
        assert_eq!(
            r.key_template().unwrap().parts,
            vec![
                KeyPart::Db,
                KeyPart::Literal(":".into()),
                KeyPart::Table,
                KeyPart::Literal(":".into()),
                KeyPart::Pk
            ]
        );
    }

    #[test]
    fn a_full_sync_sink_passes() {
        let e = errors(
            "name = \"cache\"\nurl = \"rediss://:pw@cache.example:6380/3\"\nmode = \"sync\"\n\
             key = \"u:{{{id}}}:{email}\"\nformat = \"hash\"\nttl_secs = 60\n\
             tables = [\"shop\\\\.users\", \"crm\\\\..*\"]",
        );
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn a_bad_url_is_named_and_its_password_hidden() {
        let e = errors("url = \"http://u:s3cret@h:1\"");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "`tasks[0].sinks[0].url` = \"http://u:***@h:1\": the scheme is `http`"
            ),
            "{e:?}"
        );
        let e = errors("url = \"redis://u:s3cret@h:99999\"");
        assert!(
            e[0].contains("not a URL") && !e[0].contains("s3cret"),
            "{e:?}"
        );
        let e = errors("url = \"redis://h:1/cache\"");
        assert!(e[0].contains("`/cache` is not a database number"), "{e:?}");
        let e = errors("url = \"redis:///0\"");
        assert!(e[0].contains("names no host"), "{e:?}");
    }

    #[test]
    fn unknown_mode_and_format_values_are_refused_by_field() {
        let e = errors("url = \"redis://h\"\nmode = \"write\"\nformat = \"xml\"");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("`tasks[0].sinks[0].mode` = \"write\": allowed: `invalidate`"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("`tasks[0].sinks[0].format` = \"xml\": allowed: `json`"),
            "{e:?}"
        );
    }

    #[test]
    fn format_and_ttl_belong_to_sync_mode() {
        let e = errors("url = \"redis://h\"\nformat = \"hash\"\nttl_secs = 5");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("`tasks[0].sinks[0].format` = \"hash\"") && e[0].contains("sync"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("`tasks[0].sinks[0].ttl_secs` = \"5\"") && e[1].contains("sync"),
            "{e:?}"
        );
        let e = errors("url = \"redis://h\"\nmode = \"sync\"\nttl_secs = 99999999999");
        assert!(e[0].contains("0 (no expiry) to"), "{e:?}");
    }

    #[test]
    fn a_bad_table_pattern_names_its_index() {
        let e = errors("url = \"redis://h\"\ntables = [\"a\\\\.b\", \"shop.(x\"]");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("`tasks[0].sinks[0].tables[1]` = \"shop.(x\": not a valid regex"),
            "{e:?}"
        );
    }

    #[test]
    fn a_bad_key_template_is_named_with_its_position() {
        let key_error = |key: &str| {
            let e = errors(&format!("url = \"redis://h\"\nkey = \"{key}\""));
            assert_eq!(e.len(), 1, "{key}: {e:?}");
            assert!(e[0].starts_with("`tasks[0].sinks[0].key`"), "{e:?}");
            e[0].clone()
        };
        assert!(key_error("{db}:{table").contains("the `{` at character 6 is not closed"));
        assert!(key_error("{db{pk}").contains("the `{` at character 1 is not closed"));
        assert!(key_error("{pk}:x}").contains("the `}` at character 7 has no opening `{`"));
        assert!(key_error("a:{}:{pk}").contains("placeholder at character 3 is empty"));
        assert!(key_error("{pk}:{a-b}").contains("`{a-b}` at character 6 is not a placeholder"));
        assert!(key_error("{db}:{table}").contains("the key names no row"));
        assert!(key_error("").contains("the key names no row"));
    }

    #[test]
    fn key_templates_parse_into_parts() {
        let t = KeyTemplate::parse("user:{{{email}}}:{pk}:é{Straße$1}").unwrap();
        assert_eq!(
            t.parts,
            vec![
                KeyPart::Literal("user:{".into()),
                KeyPart::Column("email".into()),
                KeyPart::Literal("}:".into()),
                KeyPart::Pk,
                KeyPart::Literal(":é".into()),
                KeyPart::Column("Straße$1".into()),
            ]
        );
    }
}
