//! A source that Sluice cannot stream from is refused at once with a message that says what is
//! wrong: missing grants, a wrong password, a server not writing full row images, and a server
//! that cannot be reached (which is transient).

mod common;

use common::extra_mariadb::ExtraMariadb;

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How `sluice dump --source` ended.
struct DumpRun {
    /// The exit status, when it exited by itself (`None`: it was killed by the test).
    status: Option<ExitStatus>,
    stderr: String,
    elapsed: Duration,
}

/// Kills the child if the test ends while it runs.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs `sluice dump --source URL` until it exits, or `stop_when` holds for its stderr so far,
/// or `limit` passes; in the last two cases it is killed.
fn run_dump(
    url: &str,
    server_id: u32,
    limit: Duration,
    stop_when: impl Fn(&str) -> bool,
) -> DumpRun {
    let t0 = Instant::now();
    let mut child = ChildGuard(
        Command::new(common::sluice_bin())
            .args(["dump", "--source", url, "--server-id"])
            .arg(server_id.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sluice starts"),
    );
    let stderr = Arc::new(Mutex::new(String::new()));
    let reader = {
        let mut pipe = child.0.stderr.take().unwrap();
        let stderr = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                stderr
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break Some(status);
        }
        if t0.elapsed() > limit || stop_when(&stderr.lock().unwrap()) {
            child.0.kill().unwrap();
            child.0.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = t0.elapsed();
    reader.join().unwrap();
    let stderr = stderr.lock().unwrap().clone();
    DumpRun {
        status,
        stderr,
        elapsed,
    }
}

/// Runs `sluice dump --source URL` and checks that it fails by itself, fast (well within
/// 30 s), with a non-zero exit and an `error:` line; returns its stderr.
fn dump_refused(url: &str, server_id: u32) -> String {
    let run = run_dump(url, server_id, Duration::from_secs(30), |_| false);
    let Some(status) = run.status else {
        panic!(
            "sluice dump still ran after 30 s instead of refusing the source; stderr:\n{}",
            run.stderr
        );
    };
    assert!(
        !status.success() && status.code().is_some(),
        "sluice dump exits non-zero (not by a signal), not {status}; stderr:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("error: "), "{}", run.stderr);
    println!(
        "refused in {} ms with {status}: {}",
        run.elapsed.as_millis(),
        run.stderr.trim()
    );
    run.stderr
}

/// The default test server's URL with another user and password.
fn url_with_login(user: &str, password: &str) -> String {
    let url = common::mysql_url();
    let host = url
        .rsplit_once('@')
        .map(|(_, host)| host.to_string())
        .expect("the test URL has user@host");
    format!("mysql://{user}:{password}@{host}")
}

#[test]
fn user_without_replication_grants_is_refused() {
    let stderr = dump_refused(&url_with_login("norepl", "norepl"), 4_100_201);
    for needle in ["source 127.0.0.1:", "REPLICATION SLAVE", "GRANT"] {
        assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
    }
}

#[test]
fn wrong_password_is_refused() {
    let stderr = dump_refused(&url_with_login("sluice", "wrong"), 4_100_202);
    for needle in ["source 127.0.0.1:", "Access denied", "'sluice'"] {
        assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
    }
    assert!(
        !stderr.contains(":wrong@"),
        "the password is printed:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_binlog_format_is_refused() {
    let server = ExtraMariadb::start("mariadb-stmt", 13326, "binlog_format=STATEMENT");
    assert_eq!(server.variable("binlog_format").await, "STATEMENT");
    let url = server.url("sluice");
    let stderr = tokio::task::spawn_blocking(move || dump_refused(&url, 4_100_203))
        .await
        .unwrap();
    for needle in ["source 127.0.0.1:", "binlog_format is STATEMENT", "ROW"] {
        assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_image_minimal_is_refused() {
    let server = ExtraMariadb::start("mariadb-minimal-image", 13327, "binlog_row_image=MINIMAL");
    assert_eq!(server.variable("binlog_row_image").await, "MINIMAL");
    let url = server.url("sluice");
    let stderr = tokio::task::spawn_blocking(move || dump_refused(&url, 4_100_204))
        .await
        .unwrap();
    for needle in ["source 127.0.0.1:", "binlog_row_image is MINIMAL", "FULL"] {
        assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
    }
}

#[test]
fn unreachable_server_keeps_retrying_and_says_so() {
    // Port 1 on the loopback: nothing listens, the connection is refused at once.
    let run = run_dump(
        "mysql://sluice:sluice@127.0.0.1:1",
        4_100_205,
        Duration::from_secs(10),
        |stderr| stderr.contains("cannot connect"),
    );
    assert!(
        run.stderr.contains("source 127.0.0.1:1: cannot connect"),
        "no `cannot connect` message within 10 s (it ran {} ms); stderr:\n{}",
        run.elapsed.as_millis(),
        run.stderr
    );
    assert!(
        !run.stderr.contains("sluice:sluice@"),
        "the password is printed:\n{}",
        run.stderr
    );
    match run.status {
        None => println!(
            "still running (retrying) after {} ms, killed; stderr:\n{}",
            run.elapsed.as_millis(),
            run.stderr.trim()
        ),
        Some(status) => {
            assert!(!status.success(), "{status}");
            println!(
                "exited by itself after {} ms with {status}; stderr:\n{}",
                run.elapsed.as_millis(),
                run.stderr.trim()
            );
        }
    }
}

#[test]
fn standalone_task_keeps_retrying_while_the_server_is_down_at_startup() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!("sluice-e2e-down-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{d}/data\"\n\n[[tasks]]\nname = \"down\"\n\n[tasks.source]\n\
             url = \"mysql://sluice:sluice@127.0.0.1:1\"\nserver_id = 4100206\n\n\
             [[tasks.sinks]]\ntype = \"file\"\npath = \"{d}/out.jsonl\"\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let mut child = ChildGuard(
        Command::new(common::sluice_bin())
            .args(["standalone", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sluice starts"),
    );
    std::thread::sleep(Duration::from_secs(5));
    let exited = child.0.try_wait().unwrap();
    if exited.is_none() {
        child.0.kill().unwrap();
    }
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        exited.is_none(),
        "standalone gave up on an unreachable server ({}) instead of retrying; stderr:\n{stderr}",
        exited.unwrap()
    );
    assert!(stderr.contains("cannot connect"), "{stderr}");
}
