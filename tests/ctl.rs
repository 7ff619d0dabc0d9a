//! `sluice ctl` end to end: a real `sluice manager` (SQLite store in a temporary folder,
//! in-process coordinator) driven by `sluice ctl` processes, as an operator would.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::http;
use common::standalone::{StandaloneProcess, TempDir};

const ADMIN_PASSWORD: &str = "ctl-test-admin-pw";
const SOURCE_PASSWORD: &str = "s3cret-source-pw";
const SASL_PASSWORD: &str = "hunter2-sasl-pw";

/// Runs `sluice ctl ARGS` with `home` as its home folder (where the token is saved).
fn ctl(home: &Path, url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(common::sluice_bin())
        .arg("ctl")
        .args(["--manager", url])
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("SLUICE_TOKEN")
        .env_remove("SLUICE_MANAGER")
        .env_remove("SLUICE_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sluice ctl starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    if let Some(text) = stdin {
        input
            .write_all(text.as_bytes())
            .expect("stdin takes the text");
    }
    drop(input);
    child.wait_with_output().expect("sluice ctl ends")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts `ctl ARGS` succeeded; returns its stdout.
fn ok(home: &Path, url: &str, args: &[&str]) -> String {
    let out = ctl(home, url, args, None);
    assert!(
        out.status.success(),
        "sluice ctl {args:?} failed ({}): {}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn task_toml(topic: &str) -> String {
    format!(
        r#"name = "orders"

[source]
url = "mysql://repl:{SOURCE_PASSWORD}@127.0.0.1:3306"
server_id = 4001001

[[sinks]]
type = "kafka"
brokers = "127.0.0.1:9092"
topic = "{topic}"

[sinks.properties]
"sasl.password" = "{SASL_PASSWORD}"
"#
    )
}

#[test]
fn ctl_drives_the_manager_api() {
    let dir = TempDir::new("ctl");
    let home = dir.0.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (mut manager, addr) =
        StandaloneProcess::manager(&dir.0, None, ADMIN_PASSWORD, dir.0.join("manager.log"));
    let url = format!("http://{addr}");

    // Not logged in: refused, with the hint.
    let out = ctl(&home, &url, &["tasks", "list"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("sluice ctl login"),
        "no login hint: {}",
        text(&out.stderr)
    );

    // A wrong password is refused; the right one saves the token, readable by its owner only.
    let out = ctl(
        &home,
        &url,
        &["login", "--user", "admin", "--password-stdin"],
        Some("wrong\n"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = ctl(
        &home,
        &url,
        &["login", "--user", "admin", "--password-stdin"],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    assert!(out.status.success(), "login: {}", text(&out.stderr));
    let token_file = home.join(".config/sluice/token");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "{}", token_file.display());

    // One invalid field: exit 2, the field named.
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, task_toml("bad topic!")).unwrap();
    let out = ctl(
        &home,
        &url,
        &["tasks", "create", "--file", bad.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("sinks[0].topic = \"bad topic!\""),
        "the field is not named: {}",
        text(&out.stderr)
    );

    let good = dir.0.join("orders.toml");
    std::fs::write(&good, task_toml("cdc.{db}.{table}")).unwrap();
    let created = ok(
        &home,
        &url,
        &["tasks", "create", "--file", good.to_str().unwrap()],
    );
    assert!(created.contains("orders created"), "{created}");

    let list = ok(&home, &url, &["tasks", "list"]);
    let header = list.lines().next().unwrap_or_default();
    for column in ["NAME", "DESIRED", "STATE", "OWNER", "LAG", "REV"] {
        assert!(header.contains(column), "no {column} column: {list}");
    }
    assert!(
        list.lines().any(|l| l.starts_with("orders ")),
        "the task is not listed: {list}"
    );

    let shown = ok(&home, &url, &["tasks", "show", "orders", "--json"]);
    let task: serde_json::Value = serde_json::from_str(&shown).expect("show --json is JSON");
    assert_eq!(task["config"]["name"], "orders");
    for secret in [SOURCE_PASSWORD, SASL_PASSWORD, ADMIN_PASSWORD] {
        assert!(!shown.contains(secret), "a secret is shown: {shown}");
    }

    ok(&home, &url, &["tasks", "pause", "orders"]);
    let shown = ok(&home, &url, &["--json", "tasks", "show", "orders"]);
    assert!(shown.contains("\"desired\": \"paused\""), "{shown}");
    ok(&home, &url, &["tasks", "resume", "orders"]);

    // A snapshot needs a signal table: refused (exit 2), the reason given.
    let out = ctl(
        &home,
        &url,
        &["tasks", "snapshot", "orders", "--tables", "shop.orders"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("signal_table"),
        "no reason: {}",
        text(&out.stderr)
    );
    let with_signal = dir.0.join("orders-signal.toml");
    std::fs::write(
        &with_signal,
        format!(
            "{}\n[snapshot]\nsignal_table = \"ops.marks\"\n",
            task_toml("cdc.{db}.{table}")
        ),
    )
    .unwrap();
    ok(
        &home,
        &url,
        &[
            "tasks",
            "update",
            "orders",
            "--file",
            with_signal.to_str().unwrap(),
        ],
    );
    let asked = ok(
        &home,
        &url,
        &[
            "tasks",
            "snapshot",
            "orders",
            "--tables",
            "shop.orders,shop.customers",
        ],
    );
    assert!(asked.contains("snapshot 1 requested"), "{asked}");
    // No node runs the task here: the request waits.
    let status = ok(&home, &url, &["tasks", "status", "orders"]);
    assert!(
        status.contains("requested:  snapshot 1 of shop.orders, shop.customers (pending)"),
        "{status}"
    );

    // A viewer may read but not write: refused, with the role explained.
    let admin_token = std::fs::read_to_string(&token_file).unwrap();
    let viewer = r#"{"name":"eve","password":"viewer-pw-1","role":"viewer"}"#;
    let (code, body) = http::request(
        &addr,
        "POST",
        "/api/v1/users",
        Some(admin_token.trim()),
        Some(viewer),
    );
    assert_eq!(code, 201, "creating a viewer: {body}");
    let out = ctl(
        &home,
        &url,
        &["login", "--user", "eve", "--password-stdin", "--print"],
        Some("viewer-pw-1\n"),
    );
    assert!(out.status.success(), "viewer login: {}", text(&out.stderr));
    let viewer_token = text(&out.stdout).trim().to_string();
    let as_viewer = |args: &[&str]| {
        let mut all = vec!["--token", viewer_token.as_str()];
        all.extend_from_slice(args);
        ctl(&home, &url, &all, None)
    };
    assert!(as_viewer(&["tasks", "list"]).status.success());
    let out = as_viewer(&["tasks", "pause", "orders"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("your role cannot do this"),
        "no role hint: {}",
        text(&out.stderr)
    );
    let status = ok(&home, &url, &["tasks", "status", "orders"]);
    assert!(status.contains("desired:    running"), "{status}");
    let status = ok(&home, &url, &["tasks", "status", "orders", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&status).expect("status is JSON");
    assert_eq!(status["coordinator"]["desired"], "running");

    ok(&home, &url, &["tasks", "delete", "orders"]);
    let out = ctl(&home, &url, &["tasks", "show", "orders"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not found"),
        "{}",
        text(&out.stderr)
    );

    // Users: create, list, a password changed by the user itself, delete; then log out.
    let out = ctl(
        &home,
        &url,
        &[
            "users",
            "create",
            "olga",
            "--role",
            "viewer",
            "--password-stdin",
        ],
        Some("olga-pw-123\n"),
    );
    assert!(out.status.success(), "users create: {}", text(&out.stderr));
    let users = ok(&home, &url, &["users", "list"]);
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("olga ") && l.contains("viewer")),
        "{users}"
    );
    let out = ctl(
        &home,
        &url,
        &["login", "--user", "olga", "--password-stdin", "--print"],
        Some("olga-pw-123\n"),
    );
    let olga = text(&out.stdout).trim().to_string();
    let as_olga = |args: &[&str], stdin: Option<&str>| {
        let mut all = vec!["--token", olga.as_str()];
        all.extend_from_slice(args);
        ctl(&home, &url, &all, stdin)
    };
    let out = as_olga(
        &["users", "passwd", "olga", "--own", "--password-stdin"],
        Some("olga-new-pw-1\nwrong-current\n"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("current_password"),
        "{}",
        text(&out.stderr)
    );
    let out = as_olga(
        &["users", "passwd", "olga", "--own", "--password-stdin"],
        Some("olga-new-pw-1\nolga-pw-123\n"),
    );
    assert!(out.status.success(), "passwd: {}", text(&out.stderr));
    let out = as_olga(&["tasks", "list"], None);
    assert_eq!(out.status.code(), Some(1), "the old token still works");
    ok(&home, &url, &["users", "delete", "olga"]);
    let users = ok(&home, &url, &["users", "list", "--json"]);
    assert!(!users.contains("olga"), "{users}");
    let out = ok(&home, &url, &["logout"]);
    assert!(out.contains("Logged out"), "{out}");
    assert!(!token_file.exists(), "the saved token is removed");
    let out = ctl(&home, &url, &["tasks", "list"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let token = admin_token.trim();
    let out = ctl(&home, &url, &["--token", token, "tasks", "list"], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the logged-out token still works"
    );
    manager.assert_running();
}
