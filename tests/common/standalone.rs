//! Running `sluice standalone` in a test: a temporary folder for its config, data and output,
//! and the process itself, never left behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("sluice-e2e-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the files of the failed test in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A running `sluice standalone` with its stderr in a log file, killed if the test ends while
/// it still runs.
pub struct StandaloneProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl StandaloneProcess {
    pub fn start(config: &Path, log: PathBuf) -> StandaloneProcess {
        let child = Command::new(super::sluice_bin())
            .args(["standalone", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("sluice starts");
        StandaloneProcess { child, log }
    }

    /// Any `sluice` subcommand (`sluice node ...`), with its stderr in `log`.
    pub fn spawn(args: &[String], log: PathBuf) -> StandaloneProcess {
        let child = Command::new(super::sluice_bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("sluice starts");
        StandaloneProcess { child, log }
    }

    /// `sluice node` `id` in the cluster under ZooKeeper `zk` and `root`, HTTP on a free port,
    /// with its stderr in `log`.
    pub fn node(zk: &str, root: &str, id: &str, session_secs: u64, log: PathBuf) -> Self {
        let args = [
            "node",
            "--zk",
            zk,
            "--zk-root",
            root,
            "--id",
            id,
            "--listen",
            "127.0.0.1:0",
            "--session-timeout-secs",
            &session_secs.to_string(),
        ]
        .map(String::from);
        StandaloneProcess::spawn(&args, log)
    }

    /// `sluice manager` on a free port with a SQLite store `manager.db` in `dir` and the first
    /// admin's password, on ZooKeeper `(hosts, root)` if given, with its stderr in `log`; and
    /// its API address once it listens.
    pub fn manager(
        dir: &Path,
        zk: Option<(&str, &str)>,
        admin_password: &str,
        log: PathBuf,
    ) -> (StandaloneProcess, String) {
        let store = format!("sqlite://{}?mode=rwc", dir.join("manager.db").display());
        let mut args = vec!["manager", "--listen", "127.0.0.1:0", "--store", &store];
        if let Some((hosts, root)) = zk {
            args.extend(["--zk", hosts, "--zk-root", root]);
        }
        args.extend(["--admin-password", admin_password]);
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let mut process = StandaloneProcess::spawn(&args, log);
        let addr = super::http::manager_addr(&mut process);
        (process, addr)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "sluice ended by itself ({status}); its log:\n{}",
                self.log_text()
            );
        }
    }
}

impl Drop for StandaloneProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl StandaloneProcess {
    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.wait(within)
    }

    /// Waits (bounded) for the process to end by itself.
    pub fn wait(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// Polls until `check` finds nothing wrong; panics with the last difference and the log after
/// `within`. Returns how long it took.
pub async fn wait_until<F, Fut>(
    sluice: &mut StandaloneProcess,
    within: Duration,
    what: &str,
    mut check: F,
) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let t0 = Instant::now();
    loop {
        let problem = check().await;
        let Some(problem) = problem else {
            return t0.elapsed();
        };
        sluice.assert_running();
        assert!(
            t0.elapsed() < within,
            "{what}: not reached within {within:?}: {problem}\nsluice's log:\n{}",
            sluice.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
