//! Configuration errors that name the field, the value and what is allowed.

use std::fmt;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path, e.g. `tasks[0].source.url`.
    pub field: String,
    /// The offending value as written (secrets redacted), if there is one.
    pub value: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "`{}` = {v:?}: {}", self.field, self.message),
            None => write!(f, "`{}`: {}", self.field, self.message),
        }
    }
}

/// Every problem found in a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<FieldError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "invalid config: {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl ConfigErrors {
    /// The file could not be read at all.
    pub fn unreadable(path: &std::path::Path, e: &std::io::Error) -> Self {
        ConfigErrors(vec![FieldError {
            field: path.display().to_string(),
            value: None,
            message: format!("cannot read the config file: {e}"),
        }])
    }

    /// A parse error: TOML syntax, an unknown field, a missing field, a wrong type.
    pub fn from_serde(path: String, e: &toml::de::Error) -> Self {
        let message = e.message().trim_end().to_string();
        // For an unknown field the path ends with it; the message names it too.
        let value = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string);
        let field = if path == "." || path.is_empty() {
            "(top level)".to_string()
        } else {
            path
        };
        let at = e
            .span()
            .map(|s| format!(" (at byte {})", s.start))
            .unwrap_or_default();
        ConfigErrors(vec![FieldError {
            field,
            value,
            message: format!("{message}{at}"),
        }])
    }
}
