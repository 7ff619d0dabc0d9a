//! Standalone with a manager: the config file's tasks go into the store at each start, so the
//! API and web UI show and manage them like the tasks created there. The file wins for its own
//! tasks: a task whose config in the file differs from the stored one gets a new revision
//! (audited as `config-file`); tasks created in the API stay as they are.

use serde_json::Value;
use sluice_core::coordination::DesiredState;

use crate::store::{now_ms, AuditEntry, Store};
use crate::ManagerError;

/// The audit log's actor for what the config file changed.
const ACTOR: &str = "config-file";

/// What an import did, by task name.
#[derive(Debug, Default, PartialEq)]
pub struct Imported {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
}

/// Stores each task config of the file at `file` (validated JSON, as the API takes it).
pub async fn import_tasks(
    store: &Store,
    tasks: &[Value],
    file: &str,
) -> Result<Imported, ManagerError> {
    let mut imported = Imported::default();
    for config in tasks {
        let Some(name) = config.get("name").and_then(Value::as_str) else {
            continue;
        };
        let audit = |action: &'static str, summary: String| AuditEntry {
            actor: ACTOR.into(),
            action,
            task: Some(name.to_string()),
            summary,
            at_ms: now_ms(),
        };
        match store.get_task(name).await? {
            None => {
                let entry = audit("task.create", format!("created at revision 1 from {file}"));
                store
                    .create_task(name, config, DesiredState::Running, &entry)
                    .await?;
                imported.created.push(name.to_string());
            }
            Some(stored) if &stored.config != config => {
                let revision = stored.revision + 1;
                let entry = audit(
                    "task.update",
                    format!("revision {revision}: the config in {file} changed"),
                );
                store
                    .update_task(name, stored.revision, config, &entry)
                    .await?;
                imported.updated.push(name.to_string());
            }
            Some(_) => imported.unchanged.push(name.to_string()),
        }
    }
    Ok(imported)
}
