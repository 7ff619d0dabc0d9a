//! Private service instances for the outage tests: a Tansu broker or a Redis server of the
//! test's own, on a free port, that the test may pause, cut off or kill without disturbing the
//! other tests (which use the shared services). Also a TCP forwarder the test can close and
//! reopen, a SIGSTOP guard, and a process's peak memory.
//!
//! Every process started here is killed when its guard is dropped, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// A port nothing listens on right now (the OS picks it; it may be taken again before use,
/// which the starts below would report).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a local address").port()
}

/// Waits (bounded) until something accepts connections on `port`.
fn await_port(port: u16, within: Duration, what: &str, log: &Path) {
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < within,
            "{what} does not listen on port {port} after {within:?}; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed (SIGKILL, which also ends a stopped one) when dropped.
pub struct Service {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Service {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!(
                "the service on port {} ended ({status}); its log:\n{}",
                self.port,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The tansu binary `tests/services/kafka.sh` installed, or a panic saying how to install it.
pub fn tansu_bin() -> PathBuf {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/services/kafka.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("path")
        .output()
        .expect("bash runs");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !path.is_empty(),
        "no tansu binary ({}): install it with `bash tests/services/install.sh kafka`",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    PathBuf::from(path)
}

/// Starts a private Tansu broker (memory storage: killing it loses everything) listening on
/// `port` and telling clients to connect to `advertised` (another port when a proxy stands in
/// front of it). Its log goes to `dir/tansu-PORT.log`.
pub fn start_tansu(dir: &Path, port: u16, advertised: u16) -> Service {
    let log = dir.join(format!("tansu-{port}.log"));
    let child = Command::new(tansu_bin())
        .args(["broker", "--listener-url"])
        .arg(format!("tcp://127.0.0.1:{port}"))
        .arg("--advertised-listener-url")
        .arg(format!("tcp://127.0.0.1:{advertised}"))
        .args(["--storage-engine", "memory://tansu/"])
        // Tansu also reads these from the environment; the caller's must not leak in.
        .env_remove("CLUSTER_ID")
        .env_remove("SCHEMA_REGISTRY")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("the broker's log file"))
        .spawn()
        .expect("tansu starts");
    let service = Service { child, port, log };
    await_port(
        port,
        Duration::from_secs(30),
        "the private Tansu",
        &service.log,
    );
    service
}

/// Starts a private Redis (no persistence, not daemonized: the child is the server) on a free
/// port, with its files in `dir`.
pub fn start_redis(dir: &Path) -> Service {
    let port = free_port();
    let log = dir.join(format!("redis-{port}.log"));
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts (install it with `bash tests/services/install.sh redis`)");
    let service = Service { child, port, log };
    await_port(
        port,
        Duration::from_secs(30),
        "the private Redis",
        &service.log,
    );
    service
}

/// SIGSTOPs a process; the guard SIGCONTs it when dropped, also when the test fails.
pub struct Stopped {
    pid: String,
}

impl Stopped {
    pub fn stop(pid: &str) -> Stopped {
        let status = Command::new("kill")
            .args(["-STOP", pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -STOP {pid} failed");
        Stopped {
            pid: pid.to_string(),
        }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.pid]).status();
    }
}

/// A field of `/proc/PID/status` in KiB (`VmHWM`: peak resident memory; `VmRSS`: now).
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status:\n{status}"))
}

/// A TCP forwarder from `127.0.0.1:port` to `127.0.0.1:target` that the test can close (the
/// port refuses connections and every forwarded connection is dropped) and reopen on the same
/// port. Runs on the test's tokio runtime.
pub struct TcpProxy {
    pub port: u16,
    target: u16,
    /// The accept loop; it owns the forwarded connections, so aborting it drops them all.
    running: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Connections accepted so far (all openings).
    pub accepted: Arc<std::sync::atomic::AtomicU64>,
}

impl TcpProxy {
    /// Opens the forwarder on a free port.
    pub async fn start(target: u16) -> TcpProxy {
        let proxy = TcpProxy {
            port: free_port(),
            target,
            running: Mutex::new(None),
            accepted: Arc::default(),
        };
        proxy.open().await;
        proxy
    }

    /// Listens again (bounded retries: the port may linger for a moment after `close`).
    pub async fn open(&self) {
        let mut running = self.running.lock().await;
        assert!(running.is_none(), "the proxy is open already");
        let t0 = Instant::now();
        let listener = loop {
            match bind(self.port) {
                Ok(l) => break l,
                Err(e) => {
                    assert!(
                        t0.elapsed() < Duration::from_secs(30),
                        "cannot listen on port {} again: {e}",
                        self.port
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        let (target, accepted) = (self.target, self.accepted.clone());
        *running = Some(tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    incoming = listener.accept() => {
                        let Ok((client, _)) = incoming else { continue };
                        accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        connections.spawn(forward(client, target));
                    }
                    // Reap finished connections so the set does not grow.
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        }));
    }

    /// Stops listening and drops every forwarded connection (both sides see it closed).
    pub async fn close(&self) {
        if let Some(task) = self.running.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(task) = self.running.get_mut().take() {
            task.abort();
        }
    }
}

fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(([127, 0, 0, 1], port).into())?;
    socket.listen(128)
}

async fn forward(mut client: TcpStream, target: u16) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
