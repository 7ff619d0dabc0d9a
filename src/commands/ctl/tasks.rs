//! `sluice ctl tasks ...`.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::error::CtlError;
use super::output::{ago, cell, duration_ms, items, print_json, print_table, revision};
use super::task_file::read_task_file;

#[derive(Subcommand)]
pub enum TasksCommand {
    /// Every task: desired and reported state, owner, lag, revision.
    List,
    /// One task with its config (secrets shown as ***).
    Show { name: String },
    /// Create a task from a TOML or JSON file (the fields of one `[[tasks]]` table).
    Create {
        #[arg(long)]
        file: PathBuf,
    },
    /// Replace a task's config; secrets written *** or left out keep their stored values.
    Update {
        name: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Set the desired state to paused.
    Pause { name: String },
    /// Set the desired state to running.
    Resume { name: String },
    /// Replace the checkpoint so the task's next run starts at FILE:POS (pause it first).
    Restart {
        name: String,
        #[arg(long, value_name = "FILE:POS")]
        position: String,
    },
    /// Snapshot some of a running task's tables (each one its filters include) while it
    /// streams; `status` shows the progress.
    Snapshot {
        name: String,
        /// `db.table` names, comma-separated.
        #[arg(
            long,
            value_name = "DB.TABLE,...",
            value_delimiter = ',',
            required = true
        )]
        tables: Vec<String>,
    },
    /// What the coordinator knows: owner, checkpoint, the owner's status report.
    Status { name: String },
    /// Delete a task.
    Delete { name: String },
}

pub async fn run(api: &Api, command: TasksCommand, as_json: bool) -> Result<(), CtlError> {
    let path = |name: &str, action: &str| format!("/tasks/{}{action}", segment(name));
    let (answer, done) = match command {
        TasksCommand::List => return list(api, as_json).await,
        TasksCommand::Status { name } => return status(api, &name, as_json).await,
        TasksCommand::Show { name } => {
            let task = api.get(&path(&name, "")).await?;
            if !as_json {
                show(&task);
            }
            (task, None)
        }
        TasksCommand::Create { file } => {
            let config = read_task_file(&file)?;
            (api.post("/tasks", Some(&config)).await?, Some("created"))
        }
        TasksCommand::Update { name, file } => {
            let config = read_task_file(&file)?;
            (api.put(&path(&name, ""), &config).await?, Some("updated"))
        }
        TasksCommand::Pause { name } => (
            api.post(&path(&name, "/pause"), None).await?,
            Some("paused"),
        ),
        TasksCommand::Resume { name } => (
            api.post(&path(&name, "/resume"), None).await?,
            Some("resumed"),
        ),
        TasksCommand::Restart { name, position } => {
            let body = json!({ "position": position });
            let answer = api.post(&path(&name, "/restart"), Some(&body)).await?;
            if !as_json {
                println!(
                    "Task {name}: checkpoint set to {}; resume it to start there.",
                    cell(&answer["position"])
                );
            }
            (answer, None)
        }
        TasksCommand::Snapshot { name, tables } => {
            let body = json!({ "tables": tables });
            let answer = api.post(&path(&name, "/snapshot"), Some(&body)).await?;
            if !as_json {
                println!(
                    "Task {name}: snapshot {} requested of {}; `sluice ctl tasks status {name}` \
                     shows its progress.",
                    cell(&answer["request"]["id"]),
                    tables.join(", ")
                );
            }
            (answer, None)
        }
        TasksCommand::Delete { name } => {
            let answer = api.delete(&path(&name, "")).await?;
            if !as_json {
                println!("Task {name} deleted.");
            }
            (answer, None)
        }
    };
    if as_json {
        print_json(&answer);
    } else if let Some(done) = done {
        println!(
            "Task {} {done}: revision {}, desired state {}.",
            cell(&answer["name"]),
            revision(&answer),
            cell(&answer["desired"])
        );
    }
    if let Some(error) = answer["publish_error"].as_str() {
        eprintln!(
            "warning: stored, but not yet published to the coordinator (retried every 5 s): \
             {error}"
        );
    }
    Ok(())
}

async fn list(api: &Api, as_json: bool) -> Result<(), CtlError> {
    let tasks = api.get("/tasks").await?;
    if as_json {
        print_json(&tasks);
        return Ok(());
    }
    let mut rows = Vec::new();
    for task in items(&tasks) {
        let name = cell(&task["name"]);
        // The owner and lag are the coordinator's: one status call per task; a coordinator
        // that does not answer leaves them as `?`.
        let status = api
            .get(&format!("/tasks/{}/status", segment(&name)))
            .await
            .ok();
        let coordinator = status.as_ref().map(|s| &s["coordinator"]);
        let (state, owner, lag) = match coordinator {
            Some(c) => (
                cell(&c["status"]["state"]),
                cell(&c["owner"]["node"]),
                c["status"]["lag_ms"]
                    .as_u64()
                    .map_or_else(|| "-".into(), duration_ms),
            ),
            None => ("?".into(), "?".into(), "?".into()),
        };
        rows.push(vec![
            name,
            cell(&task["desired"]),
            state,
            owner,
            lag,
            revision(task),
        ]);
    }
    print_table(&["NAME", "DESIRED", "STATE", "OWNER", "LAG", "REV"], &rows);
    Ok(())
}

fn show(task: &Value) {
    println!("name:     {}", cell(&task["name"]));
    println!("revision: {}", revision(task));
    println!("desired:  {}", cell(&task["desired"]));
    println!("updated:  {}", ago(&task["updated_at_ms"]));
    println!("config:");
    print_json(&task["config"]);
}

async fn status(api: &Api, name: &str, as_json: bool) -> Result<(), CtlError> {
    let answer = api.get(&format!("/tasks/{}/status", segment(name))).await?;
    if as_json {
        print_json(&answer);
        return Ok(());
    }
    let c = &answer["coordinator"];
    let report = &c["status"];
    let owner = match c["owner"]["node"].as_str() {
        Some(node) => format!("{node} (epoch {})", cell(&c["owner"]["epoch"])),
        None => "-".into(),
    };
    let checkpoint = match c["checkpoint"]["position"].as_object() {
        Some(p) => format!(
            "{}:{} ({})",
            cell(&p["file"]),
            cell(&p["pos"]),
            ago(&c["checkpoint"]["at_ms"])
        ),
        None => "-".into(),
    };
    println!("name:       {}", cell(&answer["name"]));
    println!("revision:   {}", revision(&answer));
    println!("desired:    {}", cell(&answer["desired"]));
    println!("owner:      {owner}");
    println!("checkpoint: {checkpoint}");
    if let Some(request) = c["snapshot_request"].as_object() {
        let taken = c["snapshot_taken"].as_u64().unwrap_or(0);
        let id = request.get("id").and_then(Value::as_u64).unwrap_or(0);
        println!(
            "requested:  snapshot {id} of {} ({})",
            items(&c["snapshot_request"]["tables"])
                .iter()
                .map(cell)
                .collect::<Vec<_>>()
                .join(", "),
            if id > taken { "pending" } else { "taken" }
        );
    }
    if report.is_null() {
        println!("state:      - (no status report yet)");
        return Ok(());
    }
    println!(
        "state:      {} on {} at revision {} (reported {})",
        cell(&report["state"]),
        cell(&report["node"]),
        cell(&report["revision"]),
        ago(&report["at_ms"])
    );
    let lag = report["lag_ms"]
        .as_u64()
        .map_or_else(|| "-".into(), duration_ms);
    println!("lag:        {lag}");
    println!(
        "events:     {} in all, {}/s",
        cell(&report["events_total"]),
        cell(&report["events_per_sec"])
    );
    if let Some(error) = report["last_error"].as_str() {
        println!("last error: {error}");
    }
    let snapshot = &report["snapshot"];
    if snapshot.is_object() {
        println!(
            "snapshot:   table {} ({} of {} tables done), {} rows so far",
            cell(&snapshot["table"]),
            cell(&snapshot["tables_done"]),
            cell(&snapshot["tables_total"]),
            cell(&snapshot["rows"])
        );
    }
    let sinks: Vec<Vec<String>> = items(&report["sinks"])
        .iter()
        .map(|s| vec![cell(&s["name"]), cell(&s["state"]), cell(&s["last_error"])])
        .collect();
    if !sinks.is_empty() {
        println!();
        print_table(&["SINK", "STATE", "LAST ERROR"], &sinks);
    }
    Ok(())
}
