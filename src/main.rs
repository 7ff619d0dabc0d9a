//! `sluice`: change-data-capture from MySQL/MariaDB binlogs. This file only parses the command
//! line and hands over to a subcommand.

mod commands;

/// mimalloc: the decoder allocates many small, short-lived values (row images, strings). On the
/// 1M-row benchmark it took 1.26 CPU s where glibc's malloc took 1.56 (median of 5). Built with
/// `override` (C code such as librdkafka allocates through it too) and as mimalloc 2, whose
/// peak RSS with the Kafka sink was 20-40 MiB below mimalloc 3's (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "Change-data-capture from MySQL/MariaDB binlogs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the events of a binlog file or a live server as JSON lines.
    Dump(commands::dump::DumpArgs),
    /// Run the tasks of a config file in one process, with checkpoints under its data dir.
    Standalone(commands::standalone::StandaloneArgs),
    /// Validate a config file and print every problem found.
    CheckConfig(commands::check_config::CheckConfigArgs),
    /// Serve the REST API and task store, publishing tasks to the coordinator.
    Manager(commands::manager::ManagerArgs),
    /// Run as a cluster node: take tasks from ZooKeeper and run them.
    Node(commands::node::NodeArgs),
    /// Drive the manager's REST API: log in, list, create, pause, resume, restart tasks.
    Ctl(commands::ctl::CtlArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Dump(args) => commands::dump::run(args),
        Command::Standalone(args) => commands::standalone::run(args),
        Command::CheckConfig(args) => commands::check_config::run(args),
        Command::Manager(args) => commands::manager::run(args),
        Command::Node(args) => commands::node::run(args),
        Command::Ctl(args) => commands::ctl::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
