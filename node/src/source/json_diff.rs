//! MySQL 8 partial JSON updates (`binlog_row_value_options=PARTIAL_JSON`).
//!
//! A PARTIAL_UPDATE_ROWS event carries, for a JSON column, a list of changes (replace, insert,
//! remove at a JSON path) instead of the new document. With the full before image at hand the
//! changes are applied to it, so consumers get the whole new document as for any other update;
//! without it they get the changes themselves (`Value::JsonDiff`).
//!
//! Hand-written: no crate applies MySQL JSON paths (`$.a."b c"[3]`), and only the subset MySQL
//! writes into the binlog is needed (no wildcards, no ranges).

use serde_json::Value as Json;
use sluice_core::value::JsonChange;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathLeg {
    Key(String),
    Index(usize),
}

/// Parses a MySQL JSON path such as `$.a."b c"[3]`.
pub fn parse_path(path: &str) -> Option<Vec<PathLeg>> {
    let mut chars = path.trim().strip_prefix('$')?.chars().peekable();
    let mut legs = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut key = String::new();
                if chars.peek() == Some(&'"') {
                    chars.next();
                    loop {
                        match chars.next()? {
                            '\\' => key.push(chars.next()?),
                            '"' => break,
                            other => key.push(other),
                        }
                    }
                } else {
                    while let Some(&c) = chars.peek() {
                        if c == '.' || c == '[' {
                            break;
                        }
                        key.push(c);
                        chars.next();
                    }
                    if key.is_empty() {
                        return None;
                    }
                }
                legs.push(PathLeg::Key(key));
            }
            '[' => {
                let mut digits = String::new();
                loop {
                    match chars.next()? {
                        ']' => break,
                        c if c.is_ascii_digit() => digits.push(c),
                        c if c.is_whitespace() => {}
                        _ => return None,
                    }
                }
                legs.push(PathLeg::Index(digits.parse().ok()?));
            }
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    Some(legs)
}

/// Applies `changes` to `doc` in order. Returns `false` (leaving `doc` in an unspecified state)
/// if a change does not fit the document, in which case the caller reports the changes instead.
pub fn apply(doc: &mut Json, changes: &[JsonChange]) -> bool {
    changes.iter().all(|change| apply_one(doc, change))
}

fn apply_one(doc: &mut Json, change: &JsonChange) -> bool {
    let Some(legs) = parse_path(&change.path) else {
        return false;
    };
    let Some((last, parents)) = legs.split_last() else {
        // The path is `$`: the whole document.
        return match (change.op, &change.value) {
            ("replace", Some(v)) => {
                *doc = v.clone();
                true
            }
            _ => false,
        };
    };
    let Some(parent) = walk(doc, parents) else {
        return false;
    };
    match (change.op, last, parent) {
        ("replace", PathLeg::Key(k), Json::Object(map)) => match (map.get_mut(k), &change.value) {
            (Some(slot), Some(v)) => {
                *slot = v.clone();
                true
            }
            _ => false,
        },
        ("replace", PathLeg::Index(i), Json::Array(items)) => {
            match (items.get_mut(*i), &change.value) {
                (Some(slot), Some(v)) => {
                    *slot = v.clone();
                    true
                }
                _ => false,
            }
        }
        ("insert", PathLeg::Key(k), Json::Object(map)) => match &change.value {
            Some(v) if !map.contains_key(k) => {
                map.insert(k.clone(), v.clone());
                true
            }
            _ => false,
        },
        ("insert", PathLeg::Index(i), Json::Array(items)) => match &change.value {
            Some(v) => {
                items.insert((*i).min(items.len()), v.clone());
                true
            }
            None => false,
        },
        ("remove", PathLeg::Key(k), Json::Object(map)) => map.remove(k).is_some(),
        ("remove", PathLeg::Index(i), Json::Array(items)) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    }
}

fn walk<'a>(mut doc: &'a mut Json, legs: &[PathLeg]) -> Option<&'a mut Json> {
    for leg in legs {
        doc = match (leg, doc) {
            (PathLeg::Key(k), Json::Object(map)) => map.get_mut(k)?,
            (PathLeg::Index(i), Json::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(op: &'static str, path: &str, value: Option<Json>) -> JsonChange {
        JsonChange {
            op,
            path: path.into(),
            value,
        }
    }

    #[test]
    fn parses_keys_quoted_keys_and_indexes() {
        assert_eq!(
            parse_path(r#"$.a."b c"[3]"#),
            Some(vec![
                PathLeg::Key("a".into()),
                PathLeg::Key("b c".into()),
                PathLeg::Index(3)
            ])
        );
        assert_eq!(parse_path("$"), Some(vec![]));
        assert_eq!(parse_path("$.*"), Some(vec![PathLeg::Key("*".into())]));
        assert_eq!(parse_path("a.b"), None);
        assert_eq!(parse_path("$[x]"), None);
    }

    #[test]
    fn applies_replace_insert_and_remove() {
        let mut doc = json!({"a": 1, "b": [1, 2, 3], "c": {"d": "x"}});
        assert!(apply(
            &mut doc,
            &[
                change("replace", "$.a", Some(json!(2))),
                change("insert", "$.b[1]", Some(json!(9))),
                change("remove", "$.c.d", None),
                change("insert", "$.e", Some(json!(true))),
            ]
        ));
        assert_eq!(doc, json!({"a": 2, "b": [1, 9, 2, 3], "c": {}, "e": true}));
    }

    #[test]
    fn a_change_that_does_not_fit_is_refused() {
        let mut doc = json!({"a": 1});
        assert!(!apply(
            &mut doc,
            &[change("replace", "$.zz", Some(json!(1)))]
        ));
        assert!(!apply(&mut doc, &[change("remove", "$[0]", None)]));
    }
}
