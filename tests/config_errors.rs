//! `sluice check-config` on bad config files: a non-zero exit and a message naming the field,
//! and `sluice standalone` refusing the same file before it does anything.

mod common;

use common::standalone::TempDir;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A password that must never be printed.
const PASSWORD: &str = "s3cretPW";

/// A valid config whose data dir and sink file would be created in `dir`.
fn good_config(dir: &Path) -> String {
    format!(
        "data_dir = \"{dir}/data\"\n\
         \n\
         [[tasks]]\n\
         name = \"orders\"\n\
         \n\
         [tasks.source]\n\
         url = \"mysql://sluice:{PASSWORD}@127.0.0.1:13306\"\n\
         start = \"current\"\n\
         \n\
         [[tasks.sinks]]\n\
         type = \"file\"\n\
         path = \"{dir}/out/events.jsonl\"\n",
        dir = dir.display()
    )
}

/// `text` with `from` replaced by `to`, which must occur exactly once.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?} in {text}");
    text.replace(from, to)
}

/// Runs sluice with `args`, bounded to 30 s (it is killed after that).
fn run_sluice(args: &[&str], config: &Path) -> Output {
    let mut child = Command::new(common::sluice_bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sluice starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "sluice {args:?} did not exit within 30 s; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// What `check-config` printed for a bad config.
struct Refusal {
    stdout: String,
    stderr: String,
}

/// Writes `text` to a file, runs `check-config` on it, and checks that it is refused: a
/// non-zero exit (2, not a crash or a signal) and an `invalid config` report on stderr.
fn refused(dir: &Path, text: &str) -> Refusal {
    let config = dir.join("sluice.toml");
    std::fs::write(&config, text).unwrap();
    refused_file(&config)
}

fn refused_file(config: &Path) -> Refusal {
    let out = run_sluice(&["check-config"], config);
    let refusal = Refusal {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(
        out.status.code(),
        Some(2),
        "check-config exits 2 on a bad config; stdout:\n{}\nstderr:\n{}",
        refusal.stdout,
        refusal.stderr
    );
    assert!(
        refusal.stderr.contains("invalid config: 1 problem:"),
        "{}",
        refusal.stderr
    );
    assert!(
        !refusal.stdout.contains("valid"),
        "stdout: {}",
        refusal.stdout
    );
    refusal
}

/// Asserts that `haystack` contains each of `needles`.
fn assert_mentions(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "expected {needle:?} in:\n{haystack}"
        );
    }
}

#[test]
fn good_config_is_valid() {
    let dir = TempDir::new("good");
    let config = dir.0.join("sluice.toml");
    std::fs::write(&config, good_config(&dir.0)).unwrap();
    let out = run_sluice(&["check-config"], &config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_mentions(&stdout, &["valid", "1 task"]);
    assert!(!stdout.contains(PASSWORD), "{stdout}");
    assert!(
        !dir.0.join("data").exists(),
        "check-config creates no data dir"
    );
}

#[test]
fn unknown_source_field_is_named_with_its_path() {
    let dir = TempDir::new("unknown-field");
    let text = edit(
        &good_config(&dir.0),
        "url = ",
        "urll = \"mysql://x@h:1\"\nurl = ",
    );
    let r = refused(&dir.0, &text);
    assert_mentions(
        &r.stderr,
        &["tasks[0].source", "urll", "unknown field", "`url`"],
    );
}

#[test]
fn http_url_is_refused_without_showing_the_password() {
    let dir = TempDir::new("http-url");
    let text = edit(&good_config(&dir.0), "mysql://sluice:", "http://sluice:");
    let r = refused(&dir.0, &text);
    assert_mentions(
        &r.stderr,
        &[
            "`tasks[0].source.url`",
            "scheme is `http`",
            "mysql://USER:PASSWORD@HOST:PORT",
        ],
    );
    assert!(
        !r.stderr.contains(PASSWORD) && !r.stdout.contains(PASSWORD),
        "the password is printed:\n{}{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn unparsable_url_is_refused_without_showing_the_password() {
    let dir = TempDir::new("bad-port-url");
    let text = edit(&good_config(&dir.0), "127.0.0.1:13306", "127.0.0.1:99999");
    let r = refused(&dir.0, &text);
    assert_mentions(
        &r.stderr,
        &["`tasks[0].source.url`", "mysql://USER:PASSWORD@HOST:PORT"],
    );
    assert!(
        !r.stderr.contains(PASSWORD) && !r.stdout.contains(PASSWORD),
        "the password is printed:\n{}{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn missing_sinks_are_refused() {
    let dir = TempDir::new("no-sinks");
    let good = good_config(&dir.0);
    let text = good.split("[[tasks.sinks]]").next().unwrap();
    let r = refused(&dir.0, text);
    assert_mentions(&r.stderr, &["tasks[0]", "sinks", "missing field"]);
}

#[test]
fn unknown_sink_type_is_refused() {
    let dir = TempDir::new("sink-type");
    let text = edit(&good_config(&dir.0), "type = \"file\"", "type = \"kafkaa\"");
    let r = refused(&dir.0, &text);
    assert_mentions(&r.stderr, &["tasks[0].sinks[0]", "kafkaa", "`file`"]);
}

#[test]
fn bad_start_position_is_refused() {
    let dir = TempDir::new("start");
    let text = edit(
        &good_config(&dir.0),
        "start = \"current\"",
        "start = \"nowhere\"",
    );
    let r = refused(&dir.0, &text);
    assert_mentions(
        &r.stderr,
        &["`tasks[0].source.start`", "\"nowhere\"", "FILE:POS"],
    );
}

#[test]
fn toml_syntax_error_names_the_byte_position() {
    let dir = TempDir::new("syntax");
    let good = good_config(&dir.0);
    // An unterminated string on the `name` line.
    let text = edit(&good, "name = \"orders\"", "name = \"orders");
    let line_start = text.find("name = \"orders").unwrap();
    let line_end = line_start + text[line_start..].find('\n').unwrap();
    let r = refused(&dir.0, &text);
    let at = r
        .stderr
        .split("(at byte ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no `(at byte N)` in:\n{}", r.stderr));
    assert!(
        (line_start..=line_end).contains(&at),
        "byte {at} is not on the broken line (bytes {line_start}..={line_end}):\n{}",
        r.stderr
    );
}

#[test]
fn missing_config_file_is_refused() {
    let dir = TempDir::new("missing-file");
    let config = dir.0.join("does-not-exist.toml");
    let r = refused_file(&config);
    assert_mentions(
        &r.stderr,
        &[&config.display().to_string(), "cannot read the config file"],
    );
}

#[test]
fn standalone_refuses_a_bad_config_before_doing_anything() {
    let dir = TempDir::new("standalone");
    let text = edit(
        &good_config(&dir.0),
        "start = \"current\"",
        "start = \"nowhere\"",
    );
    let config = dir.0.join("sluice.toml");
    std::fs::write(&config, &text).unwrap();
    let checked = refused_file(&config);

    let t0 = Instant::now();
    let out = run_sluice(&["standalone"], &config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "standalone exits 2 on a bad config; stderr:\n{stderr}"
    );
    assert_eq!(
        stderr, checked.stderr,
        "standalone reports what check-config reports"
    );
    assert!(
        !dir.0.join("data").exists(),
        "standalone created its data dir"
    );
    assert!(!dir.0.join("out").exists(), "standalone created its sink");
    println!(
        "standalone refused the config in {} ms",
        t0.elapsed().as_millis()
    );
}
