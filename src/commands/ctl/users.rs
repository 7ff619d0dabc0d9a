//! `sluice ctl users ...` and `sluice ctl logout`: users, passwords and the saved token.

use clap::{Args, Subcommand};
use serde_json::json;

use super::client::{segment, Api};
use super::error::CtlError;
use super::output::{ago, cell, items, print_json, print_table};
use super::{password, token};

#[derive(Subcommand)]
pub enum UsersCommand {
    /// The users and their roles (admin).
    List,
    /// Create a user (admin); the password from stdin or SLUICE_PASSWORD.
    Create(CreateArgs),
    /// Change a password: your own (asks for the current one on the second stdin line, or
    /// SLUICE_CURRENT_PASSWORD), anyone's as an admin. The user's tokens are revoked.
    Passwd(PasswdArgs),
    /// Delete a user and its tokens (admin; never the last admin).
    Delete { name: String },
}

#[derive(Args)]
pub struct CreateArgs {
    name: String,
    /// `admin` or `viewer`.
    #[arg(long, default_value = "viewer")]
    role: String,
    /// Read the password from the first line of stdin (else from SLUICE_PASSWORD).
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Args)]
pub struct PasswdArgs {
    name: String,
    /// Read the new password from the first line of stdin and, for your own, the current one
    /// from the second (else SLUICE_PASSWORD and SLUICE_CURRENT_PASSWORD).
    #[arg(long)]
    password_stdin: bool,
    /// Changing your own password: the current one is required.
    #[arg(long)]
    own: bool,
}

pub async fn run(api: &Api, command: UsersCommand, as_json: bool) -> Result<(), CtlError> {
    match command {
        UsersCommand::List => list(api, as_json).await,
        UsersCommand::Create(args) => {
            let password = password(args.password_stdin)?;
            let body = json!({"name": args.name, "password": password, "role": args.role});
            let user = api.post("/users", Some(&body)).await?;
            done(
                as_json,
                &user,
                &format!(
                    "User {} created ({}).",
                    cell(&user["name"]),
                    cell(&user["role"])
                ),
            )
        }
        UsersCommand::Passwd(args) => {
            let (new, current) = if args.password_stdin {
                read_two_lines(args.own)?
            } else {
                (password(false)?, current_from_env(args.own)?)
            };
            let mut body = json!({ "password": new });
            if let Some(current) = current {
                body["current_password"] = json!(current);
            }
            let path = format!("/users/{}/password", segment(&args.name));
            let answer = api.put(&path, &body).await?;
            done(
                as_json,
                &answer,
                &format!(
                    "Password of {} changed; its tokens are revoked (log in again).",
                    args.name
                ),
            )
        }
        UsersCommand::Delete { name } => {
            let answer = api.delete(&format!("/users/{}", segment(&name))).await?;
            done(as_json, &answer, &format!("User {name} deleted."))
        }
    }
}

/// `sluice ctl logout`: revokes the token and forgets the saved one.
pub async fn logout(api: &Api, as_json: bool) -> Result<(), CtlError> {
    let answer = api.post("/logout", None).await?;
    let removed = token::forget_token()?;
    let message = match removed {
        Some(path) => format!("Logged out; {} removed.", path.display()),
        None => "Logged out.".to_string(),
    };
    done(as_json, &answer, &message)
}

fn done(as_json: bool, answer: &serde_json::Value, message: &str) -> Result<(), CtlError> {
    if as_json {
        print_json(answer);
    } else {
        println!("{message}");
    }
    Ok(())
}

async fn list(api: &Api, as_json: bool) -> Result<(), CtlError> {
    let users = api.get("/users").await?;
    if as_json {
        print_json(&users);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items(&users)
        .iter()
        .map(|u| vec![cell(&u["name"]), cell(&u["role"]), ago(&u["created_at_ms"])])
        .collect();
    print_table(&["NAME", "ROLE", "CREATED"], &rows);
    Ok(())
}

/// The new password (first line) and, with `own`, the current one (second line).
fn read_two_lines(own: bool) -> Result<(String, Option<String>), CtlError> {
    let mut lines = std::io::stdin().lines();
    let mut next = |what: &str| -> Result<String, CtlError> {
        let line = lines
            .next()
            .transpose()
            .map_err(|e| CtlError::Failed(format!("--password-stdin: reading stdin: {e}")))?
            .unwrap_or_default();
        if line.is_empty() {
            return Err(CtlError::BadInput(format!(
                "--password-stdin: stdin gave no {what}"
            )));
        }
        Ok(line)
    };
    let new = next("new password (first line)")?;
    let current = own
        .then(|| next("current password (second line)"))
        .transpose()?;
    Ok((new, current))
}

fn current_from_env(own: bool) -> Result<Option<String>, CtlError> {
    if !own {
        return Ok(None);
    }
    std::env::var("SLUICE_CURRENT_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .map(Some)
        .ok_or_else(|| {
            CtlError::BadInput(
                "--own: give the current password (second line with --password-stdin, or \
                 SLUICE_CURRENT_PASSWORD)"
                    .into(),
            )
        })
}
