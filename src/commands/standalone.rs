//! `sluice standalone`: run the tasks of a config file in this process; with a `[manager]`
//! table, also the manager's API and web UI (`standalone/managed.rs`).

mod managed;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sluice_core::config::{Config, ConfigErrors};

#[derive(Args)]
pub struct StandaloneArgs {
    /// The config file.
    #[arg(long, short, default_value = "sluice.toml")]
    config: PathBuf,
}

/// Reads and validates a config file; the error lists every problem found.
pub fn load_config(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors::unreadable(path, &e))?;
    Config::from_toml(&text)
}

/// The `[[tasks]]` of a validated config file as JSON, the form the manager stores.
fn tasks_as_json(path: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read it", path.display()))?;
    let file: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: not TOML", path.display()))?;
    let tasks = file
        .get("tasks")
        .cloned()
        .unwrap_or(toml::Value::Array(vec![]));
    let tasks = serde_json::to_value(tasks)
        .with_context(|| format!("{}: its tasks as JSON", path.display()))?;
    Ok(match tasks {
        serde_json::Value::Array(tasks) => tasks,
        _ => Vec::new(),
    })
}

pub fn run(args: StandaloneArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match config.manager.clone() {
        Some(manager) => {
            let tasks = tasks_as_json(&args.config)?;
            runtime.block_on(managed::run(config, manager, tasks, &args.config))?
        }
        None => runtime.block_on(sluice_node::runner::run_standalone(config))?,
    }
    Ok(ExitCode::SUCCESS)
}
