//! What can go wrong in `sluice ctl`, how it is printed, and its exit code: 2 for a request
//! the manager (or ctl itself) found invalid, 1 for everything else.

use std::process::ExitCode;

use serde_json::Value;

/// One problem of a refused config, as the API names it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldProblem {
    pub field: String,
    pub value: Option<String>,
    pub message: String,
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(value) => {
                let quoted = serde_json::to_string(value).unwrap_or_else(|_| value.clone());
                write!(f, "{} = {quoted}: {}", self.field, self.message)
            }
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

#[derive(Debug)]
pub enum CtlError {
    /// The manager refused the request body (422): every problem by field.
    Invalid(Vec<FieldProblem>),
    /// Input ctl checks itself before sending anything (a task file that does not parse).
    BadInput(String),
    /// 401: no token, or an unknown or expired one.
    Unauthorized(String),
    /// 403: the user's role cannot do this.
    Forbidden(String),
    /// Anything else: the manager unreachable, a 404, a 409, a local file not written.
    Failed(String),
}

impl CtlError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CtlError::Invalid(_) | CtlError::BadInput(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }

    /// Prints the error on stderr, with a hint where one helps.
    pub fn print(&self) {
        match self {
            CtlError::Invalid(problems) => {
                eprintln!(
                    "error: the manager refused the request: {} problem(s):",
                    problems.len()
                );
                for problem in problems {
                    eprintln!("{problem}");
                }
            }
            CtlError::BadInput(message) | CtlError::Failed(message) => {
                eprintln!("error: {message}")
            }
            CtlError::Unauthorized(message) => {
                eprintln!("error: {message}");
                eprintln!(
                    "hint: log in with `sluice ctl login --user USER` (or pass --token / set \
                     SLUICE_TOKEN)"
                );
            }
            CtlError::Forbidden(message) => {
                eprintln!("error: {message}");
                eprintln!("hint: your role cannot do this: ask an admin to do it for you");
            }
        }
    }

    /// The error of a non-2xx answer to `what` (`METHOD URL`), from its status and body.
    pub fn from_response(what: &str, status: u16, body: &str) -> CtlError {
        let json: Option<Value> = serde_json::from_str(body).ok();
        if status == 422 {
            if let Some(problems) = json.as_ref().and_then(field_problems) {
                return CtlError::Invalid(problems);
            }
        }
        let message = json
            .as_ref()
            .and_then(|j| j["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| body.trim().chars().take(500).collect());
        match status {
            401 => CtlError::Unauthorized(format!("{what}: not logged in: {message}")),
            403 => CtlError::Forbidden(format!("{what}: refused: {message}")),
            422 => CtlError::BadInput(format!("{what}: invalid request: {message}")),
            _ => CtlError::Failed(format!("{what}: HTTP {status}: {message}")),
        }
    }
}

/// The `errors` array of a 422 body.
fn field_problems(body: &Value) -> Option<Vec<FieldProblem>> {
    let errors = body["errors"].as_array()?;
    Some(
        errors
            .iter()
            .map(|e| FieldProblem {
                field: e["field"].as_str().unwrap_or("(unknown field)").to_string(),
                value: e["value"].as_str().map(str::to_string),
                message: e["message"].as_str().unwrap_or_default().to_string(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_are_one_line_each_with_the_value_quoted() {
        let body = r#"{"errors":[{"field":"sinks[0].topic","value":"x y","message":"bad"},
                      {"field":"name","value":null,"message":"missing"}]}"#;
        let CtlError::Invalid(problems) = CtlError::from_response("POST u", 422, body) else {
            panic!("a 422 with errors is Invalid");
        };
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(lines, [r#"sinks[0].topic = "x y": bad"#, "name: missing"]);
    }

    #[test]
    fn statuses_map_to_their_kind_and_exit_code() {
        let e = CtlError::from_response("GET u", 401, r#"{"error":"no token"}"#);
        assert!(matches!(&e, CtlError::Unauthorized(m) if m.contains("no token")));
        assert_eq!(e.exit_code(), ExitCode::FAILURE);
        let e = CtlError::from_response("GET u", 403, "{}");
        assert!(matches!(e, CtlError::Forbidden(_)));
        let e = CtlError::from_response("GET u", 404, "not json");
        assert!(matches!(&e, CtlError::Failed(m) if m.contains("404") && m.contains("not json")));
        let e = CtlError::from_response("GET u", 422, r#"{"errors":[]}"#);
        assert_eq!(e.exit_code(), ExitCode::from(2));
    }
}
