//! `sluice standalone`: run the tasks of a config file in this process.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    runtime.block_on(sluice_node::runner::run_standalone(config))?;
    Ok(ExitCode::SUCCESS)
}
