//! A task config file for `tasks create` / `tasks update`: JSON (`.json`), or TOML, converted
//! to the JSON the API takes. The TOML is the fields of one `[[tasks]]` table, either at the
//! top level or as a config file's only `[[tasks]]` entry.

use std::path::Path;

use serde_json::Value;

use super::error::CtlError;

pub fn read_task_file(path: &Path) -> Result<Value, CtlError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CtlError::Failed(format!("--file {shown}: cannot read it: {e}")))?;
    let is_json = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
    let config = if is_json {
        serde_json::from_str(&text)
            .map_err(|e| CtlError::BadInput(format!("--file {shown}: not valid JSON: {e}")))?
    } else {
        toml_to_json(&text).map_err(|e| CtlError::BadInput(format!("--file {shown}: {e}")))?
    };
    one_task(config).map_err(|e| CtlError::BadInput(format!("--file {shown}: {e}")))
}

fn toml_to_json(text: &str) -> Result<Value, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| format!("not valid TOML: {e}"))?;
    serde_json::to_value(table).map_err(|e| format!("cannot be converted to JSON: {e}"))
}

/// The task itself: a config file's only `tasks` entry, or the whole document.
fn one_task(config: Value) -> Result<Value, String> {
    let Value::Object(mut map) = config else {
        return Err("expected a table (object) of task fields".into());
    };
    match map.remove("tasks") {
        None => Ok(Value::Object(map)),
        Some(Value::Array(mut tasks)) if tasks.len() == 1 => Ok(tasks.remove(0)),
        Some(Value::Array(tasks)) => Err(format!(
            "holds {} [[tasks]] entries: give a file with exactly one task",
            tasks.len()
        )),
        Some(_) => Err("`tasks` must be an array of tables ([[tasks]])".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_task_tables_become_json() {
        let task = toml_to_json(
            "name = \"t\"\n[source]\nurl = \"mysql://u@h\"\nserver_id = 7\n\
             [[sinks]]\ntype = \"file\"\npath = \"-\"\n",
        )
        .and_then(one_task)
        .unwrap();
        assert_eq!(task["source"]["server_id"], 7);
        assert_eq!(task["sinks"][0]["type"], "file");
    }

    #[test]
    fn a_config_file_with_one_task_gives_that_task() {
        let config = toml_to_json("data_dir = \"d\"\n[[tasks]]\nname = \"only\"\n").unwrap();
        assert_eq!(one_task(config).unwrap()["name"], "only");
        let two = toml_to_json("[[tasks]]\nname = \"a\"\n[[tasks]]\nname = \"b\"\n").unwrap();
        assert!(one_task(two).unwrap_err().contains("2 [[tasks]]"));
    }
}
