//! Secrets in task configs are write-only: passwords in URLs (`source.url`, a Redis sink's
//! `url`), `password` fields, and sink `properties` whose name says they are secret
//! (`sasl.password`, `ssl.key.password`, `sasl.oauthbearer.client.secret`, `sasl.jaas.config`,
//! ...). The store and the coordinator keep them (the nodes need them); every API response
//! shows [`PLACEHOLDER`] in their place.
//!
//! An update may leave a stored secret out, so that a client can send back the config it read:
//! - in a URL, a password of `***` or no password at all (with the same user) keeps the stored
//!   password; `user:@host` (an empty password) removes it;
//! - a `password` field or a secret property that is `"***"` or left out keeps the stored
//!   value; `null` removes it.
//!
//! Sinks are matched with the stored ones by name (`name`, else the sink type). A placeholder
//! with nothing stored to stand for is a field error.

use serde_json::{Map, Value};
use sluice_core::config::{redact_url, FieldError};

/// What responses show instead of a secret.
pub const PLACEHOLDER: &str = "***";

/// Whether a sink property holds a secret (by its name).
pub fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "jaas",
        "token",
        "credential",
        "key.pem",
    ]
    .iter()
    .any(|word| key.contains(word))
        || key.ends_with(".key")
}

/// A copy of `config` with every secret replaced by [`PLACEHOLDER`].
pub fn redacted(config: &Value) -> Value {
    let mut copy = config.clone();
    redact_in_place(&mut copy);
    copy
}

fn redact_in_place(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match (key.as_str(), &mut *value) {
                    ("url", Value::String(url)) => *url = redacted_url(url),
                    ("password", Value::String(p)) => *p = PLACEHOLDER.into(),
                    ("properties", Value::Object(props)) => {
                        for (k, v) in props.iter_mut() {
                            if is_secret_property(k) {
                                *v = Value::String(PLACEHOLDER.into());
                            }
                        }
                    }
                    _ => redact_in_place(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_in_place),
        _ => {}
    }
}

/// Puts the stored secrets back where `new` leaves them out (see the module doc), removes the
/// `null` ones; `stored` is `None` for a new task. Returns a field error for every placeholder
/// that stands for nothing.
pub fn keep_stored_secrets(new: &mut Value, stored: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(new) = new.as_object_mut() else {
        return errors;
    };
    if let Some(Value::Object(source)) = new.get_mut("source") {
        let old = stored
            .and_then(|s| s.get("source"))
            .and_then(Value::as_object);
        merge_object(source, old, "source", &mut errors);
    }
    if let Some(Value::Array(sinks)) = new.get_mut("sinks") {
        let old_sinks: Vec<&Map<String, Value>> = stored
            .and_then(|s| s.get("sinks"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default();
        for (i, sink) in sinks.iter_mut().enumerate() {
            if let Value::Object(sink) = sink {
                let name = sink_name(sink).map(str::to_string);
                let old = old_sinks
                    .iter()
                    .find(|o| name.is_some() && sink_name(o) == name.as_deref())
                    .copied();
                merge_object(sink, old, &format!("sinks[{i}]"), &mut errors);
            }
        }
    }
    errors
}

fn sink_name(sink: &Map<String, Value>) -> Option<&str> {
    sink.get("name")
        .or_else(|| sink.get("type"))
        .and_then(Value::as_str)
}

fn merge_object(
    new: &mut Map<String, Value>,
    old: Option<&Map<String, Value>>,
    at: &str,
    errors: &mut Vec<FieldError>,
) {
    let old_str = |key: &str| old.and_then(|o| o.get(key)).and_then(Value::as_str);
    if let Some(Value::String(url)) = new.get_mut("url") {
        if let Some(merged) = merge_url(url, old_str("url")) {
            *url = merged;
        }
        if url_password(url).is_some_and(|(_, p, _)| p == Some(PLACEHOLDER)) {
            errors.push(placeholder_error(format!("{at}.url"), redact_url(url)));
        }
    }
    match new.get("password") {
        Some(Value::Null) => {
            new.remove("password");
        }
        Some(Value::String(p)) if p == PLACEHOLDER => match old_str("password") {
            Some(old) => {
                new.insert("password".into(), Value::String(old.into()));
            }
            None => errors.push(placeholder_error(
                format!("{at}.password"),
                PLACEHOLDER.into(),
            )),
        },
        None => {
            if let Some(old) = old_str("password") {
                new.insert("password".into(), Value::String(old.into()));
            }
        }
        Some(_) => {}
    }
    let old_props = old
        .and_then(|o| o.get("properties"))
        .and_then(Value::as_object);
    if let Some(Value::Object(props)) = new.get_mut("properties") {
        merge_properties(props, old_props, at, errors);
    } else if new.get("properties").is_none() && new.contains_key("type") {
        // The whole table left out: keep the stored secret properties alone.
        if let Some(old_props) = old_props {
            let mut props = Map::new();
            merge_properties(&mut props, Some(old_props), at, errors);
            if !props.is_empty() {
                new.insert("properties".into(), Value::Object(props));
            }
        }
    }
}

fn merge_properties(
    props: &mut Map<String, Value>,
    old: Option<&Map<String, Value>>,
    at: &str,
    errors: &mut Vec<FieldError>,
) {
    // `null` removes a property; it must not be put back as a left-out secret below.
    let removed: Vec<String> = props
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(k, _)| k.clone())
        .collect();
    props.retain(|_, v| !v.is_null());
    for (key, old_value) in old.into_iter().flatten() {
        if is_secret_property(key) && !props.contains_key(key) && !removed.contains(key) {
            props.insert(key.clone(), old_value.clone());
        }
    }
    for (key, value) in props.iter_mut() {
        if value.as_str() == Some(PLACEHOLDER) {
            match old.and_then(|o| o.get(key)) {
                Some(old_value) => *value = old_value.clone(),
                None => errors.push(placeholder_error(
                    format!("{at}.properties.\"{key}\""),
                    PLACEHOLDER.into(),
                )),
            }
        }
    }
}

fn placeholder_error(field: String, value: String) -> FieldError {
    FieldError {
        field,
        value: Some(value),
        message: format!(
            "`{PLACEHOLDER}` stands for the stored secret, but none is stored here: write the \
             secret itself"
        ),
    }
}

/// The URL with a non-empty password replaced by [`PLACEHOLDER`] (an empty one stays empty, so
/// the URL sent back means the same).
fn redacted_url(url: &str) -> String {
    match url_password(url) {
        Some((user, Some(password), host)) if !password.is_empty() => {
            format!("{user}:{PLACEHOLDER}@{host}")
        }
        _ => url.to_string(),
    }
}

/// Splits `scheme://[user[:password]@]host...` into (`scheme://user`, password, `host...`);
/// `None` for text that is not `scheme://...`.
fn url_password(url: &str) -> Option<(&str, Option<&str>, &str)> {
    let scheme_end = url.find("://")? + 3;
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@').map(|at| scheme_end + at) else {
        return Some((&url[..scheme_end], None, rest));
    };
    let userinfo = &url[scheme_end..at];
    Some(match userinfo.find(':') {
        Some(colon) => (
            &url[..scheme_end + colon],
            Some(&userinfo[colon + 1..]),
            &url[at + 1..],
        ),
        None => (&url[..at], None, &url[at + 1..]),
    })
}

/// The new URL with the stored password, when the new one writes `***` or none for the same
/// user; `None` to keep the new URL as written.
fn merge_url(new: &str, old: Option<&str>) -> Option<String> {
    let (new_user, new_password, new_host) = url_password(new)?;
    if !matches!(new_password, None | Some(PLACEHOLDER)) {
        return None;
    }
    let (old_user, old_password, _) = url_password(old?)?;
    let old_password = old_password.filter(|p| !p.is_empty())?;
    (old_user == new_user).then(|| format!("{new_user}:{old_password}@{new_host}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored() -> Value {
        json!({
            "name": "orders",
            "source": {"url": "mysql://u:s3cret@db:3306"},
            "sinks": [
                {"type": "kafka", "brokers": "k:9092", "topic": "t",
                 "properties": {"sasl.password": "kpw", "compression.type": "lz4"}},
                {"type": "redis", "name": "cache", "url": "redis://:rpw@r:6379/0"}
            ]
        })
    }

    #[test]
    fn responses_show_no_secret() {
        let shown = redacted(&stored()).to_string();
        for secret in ["s3cret", "kpw", "rpw"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("mysql://u:***@db:3306"), "{shown}");
        assert!(shown.contains("lz4"), "{shown}");
        assert!(shown.contains("redis://:***@r:6379/0"), "{shown}");
        assert_eq!(redacted_url("redis://:@r:1"), "redis://:@r:1");
        assert_eq!(redacted_url("mysql://u:p@ss@h:1/x"), "mysql://u:***@h:1/x");
        assert_eq!(redacted_url("not a url"), "not a url");
    }

    #[test]
    fn a_config_sent_back_as_read_keeps_every_secret() {
        let mut new = redacted(&stored());
        assert!(keep_stored_secrets(&mut new, Some(&stored())).is_empty());
        assert_eq!(new, stored());
    }

    #[test]
    fn left_out_secrets_are_kept_and_null_removes_one() {
        let mut new = json!({
            "name": "orders",
            "source": {"url": "mysql://u@db:3306"},
            "sinks": [{"type": "kafka", "brokers": "k:9092", "topic": "t2",
                       "properties": {"compression.type": "zstd"}}]
        });
        new["sinks"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "redis", "name": "cache", "url": "redis://r:6379/0"}));
        assert!(keep_stored_secrets(&mut new, Some(&stored())).is_empty());
        assert_eq!(new["source"]["url"], "mysql://u:s3cret@db:3306");
        assert_eq!(new["sinks"][1]["url"], "redis://:rpw@r:6379/0");
        assert_eq!(new["sinks"][0]["properties"]["sasl.password"], "kpw");
        assert_eq!(new["sinks"][0]["properties"]["compression.type"], "zstd");

        let mut new = stored();
        new["sinks"][0]["properties"]["sasl.password"] = Value::Null;
        new["source"]["url"] = json!("mysql://other@db:3306");
        new["sinks"][1]["url"] = json!("redis://:@r:6379/0");
        assert!(keep_stored_secrets(&mut new, Some(&stored())).is_empty());
        assert_eq!(new["sinks"][1]["url"], "redis://:@r:6379/0");
        assert!(new["sinks"][0]["properties"].get("sasl.password").is_none());
        assert_eq!(new["source"]["url"], "mysql://other@db:3306");
    }

    #[test]
    fn a_placeholder_for_nothing_is_a_field_error() {
        let mut new = redacted(&stored());
        let e = keep_stored_secrets(&mut new, None);
        let fields: Vec<_> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "source.url",
                "sinks[0].properties.\"sasl.password\"",
                "sinks[1].url"
            ]
        );
    }
}
