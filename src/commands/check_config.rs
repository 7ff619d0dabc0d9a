//! `sluice check-config`: validate a config file without running anything.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct CheckConfigArgs {
    /// The config file.
    #[arg(long, short, default_value = "sluice.toml")]
    config: PathBuf,
}

pub fn run(args: CheckConfigArgs) -> anyhow::Result<ExitCode> {
    match super::standalone::load_config(&args.config) {
        Ok(config) => {
            println!(
                "{}: valid ({} task{})",
                args.config.display(),
                config.tasks.len(),
                if config.tasks.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(2))
        }
    }
}
