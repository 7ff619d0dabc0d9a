//! `sluice ctl`: the manager's REST API from a terminal. Tables for people by default, the
//! API's own JSON with `--json`. Exit codes: 0 done, 2 a request found invalid (every field
//! problem printed, one per line), 1 anything else.

mod client;
mod error;
mod output;
mod task_file;
mod tasks;
mod token;
mod users;

use std::io::BufRead;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use client::Api;
use error::CtlError;
use output::{ago, cell, items, print_json, print_table};

#[derive(Args)]
#[command(
    after_help = "The manager speaks plain HTTP and so does `sluice ctl`: reach it on a \
trusted network, and put TLS in a reverse proxy in front of the manager for anything else \
(https:// URLs are refused).\n\nExit codes: 0 done; 2 invalid request (a config the manager \
refused, each problem printed as `FIELD = \"VALUE\": MESSAGE`); 1 anything else."
)]
pub struct CtlArgs {
    /// The manager's URL (`sluice manager --listen` defaults to 127.0.0.1:8080).
    #[arg(
        long,
        global = true,
        env = "SLUICE_MANAGER",
        default_value = "http://127.0.0.1:8080"
    )]
    manager: String,
    /// A bearer token from `login` (default: the one `login` saved).
    #[arg(long, global = true, env = "SLUICE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Subcommand)]
enum CtlCommand {
    /// Log in: saves the token to ~/.config/sluice/token (mode 0600), or prints it with --print.
    Login(LoginArgs),
    /// Tasks: list, show, create, update, pause, resume, restart, status, delete.
    #[command(subcommand)]
    Tasks(tasks::TasksCommand),
    /// The live nodes.
    Nodes,
    /// Users: list, create, passwd, delete.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Log out: the token stops working and the saved one is removed.
    Logout,
}

#[derive(Args)]
struct LoginArgs {
    #[arg(long)]
    user: String,
    /// Read the password from the first line of stdin (else from SLUICE_PASSWORD).
    #[arg(long)]
    password_stdin: bool,
    /// Print the token on stdout instead of saving it (`export SLUICE_TOKEN=$(...)`).
    #[arg(long)]
    print: bool,
}

pub fn run(args: CtlArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(match runtime.block_on(dispatch(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.print();
            e.exit_code()
        }
    })
}

async fn dispatch(args: CtlArgs) -> Result<(), CtlError> {
    if let CtlCommand::Login(login_args) = &args.command {
        let api = Api::new(&args.manager, None)?;
        return login(&api, login_args, args.json).await;
    }
    let token = match args.token.clone().filter(|t| !t.trim().is_empty()) {
        Some(token) => Some(token),
        None => token::read_token()?,
    };
    let api = Api::new(&args.manager, token)?;
    match args.command {
        CtlCommand::Login(_) => Ok(()),
        CtlCommand::Tasks(command) => tasks::run(&api, command, args.json).await,
        CtlCommand::Nodes => nodes(&api, args.json).await,
        CtlCommand::Users(command) => users::run(&api, command, args.json).await,
        CtlCommand::Logout => users::logout(&api, args.json).await,
    }
    .map_err(|e| match e {
        CtlError::Unauthorized(m) if !api.has_token() => {
            CtlError::Unauthorized(format!("{m} (no token given and none saved)"))
        }
        e => e,
    })
}

fn password(from_stdin: bool) -> Result<String, CtlError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CtlError::Failed(format!("--password-stdin: reading stdin: {e}")))?;
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        if password.is_empty() {
            return Err(CtlError::BadInput(
                "--password-stdin: stdin gave no password".into(),
            ));
        }
        return Ok(password);
    }
    std::env::var("SLUICE_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            CtlError::BadInput(
                "no password: pipe it with --password-stdin, or set SLUICE_PASSWORD".into(),
            )
        })
}

async fn login(api: &Api, args: &LoginArgs, as_json: bool) -> Result<(), CtlError> {
    let password = password(args.password_stdin)?;
    let answer = api
        .post(
            "/login",
            Some(&json!({"user": args.user, "password": password})),
        )
        .await?;
    let token = answer["token"]
        .as_str()
        .ok_or_else(|| CtlError::Failed("the login answer has no token".into()))?;
    if args.print {
        println!("{token}");
        return Ok(());
    }
    let path = token::save_token(token)?;
    if as_json {
        print_json(&json!({
            "user": answer["user"],
            "role": answer["role"],
            "expires_at_ms": answer["expires_at_ms"],
            "token_file": path.display().to_string(),
        }));
    } else {
        println!(
            "Logged in as {} ({}); token saved to {} (valid 12 hours).",
            cell(&answer["user"]),
            cell(&answer["role"]),
            path.display()
        );
    }
    Ok(())
}

async fn nodes(api: &Api, as_json: bool) -> Result<(), CtlError> {
    let nodes = api.get("/nodes").await?;
    if as_json {
        print_json(&nodes);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items(&nodes)
        .iter()
        .map(|n| {
            let labels: Vec<String> = items(&n["labels"]).iter().map(cell).collect();
            vec![
                cell(&n["id"]),
                cell(&n["addr"]),
                cell(&n["version"]),
                if labels.is_empty() {
                    "-".into()
                } else {
                    labels.join(",")
                },
                ago(&n["started_at_ms"]),
            ]
        })
        .collect();
    print_table(&["ID", "ADDR", "VERSION", "LABELS", "STARTED"], &rows);
    Ok(())
}
