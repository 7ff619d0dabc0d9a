//! End-to-end resume behaviour of the live source: a replication connection killed from the
//! server side is re-established by Sluice without losing or repeating a row, and a start
//! position the server cannot serve is a definite error, not a retry loop.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::time::{sleep, timeout};

/// A replica server id of this test process, so that no other `sluice dump` registering with
/// the same id makes the server drop ours (MariaDB kills the older of two such connections).
fn server_id(test: u32) -> String {
    (4_200_000 + (std::process::id() % 100_000) * 4 + test).to_string()
}

/// The replication user's URL, over TCP: mysql_async otherwise switches a connection to
/// 127.0.0.1 over to the server's Unix socket, where PROCESSLIST cannot tell whose it is.
fn tcp_url() -> String {
    let url = common::mysql_url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}prefer_socket=false")
}

/// A `sluice dump --source` child with no `--until`, its stdout and stderr in temp files.
struct LiveDump {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl LiveDump {
    fn start(name: &str, from: &str, server_id: &str) -> LiveDump {
        let dir = std::env::temp_dir();
        let stem = format!("sluice-{name}-{}", std::process::id());
        let out = dir.join(format!("{stem}.jsonl"));
        let err = dir.join(format!("{stem}.stderr"));
        let child = Command::new(common::sluice_bin())
            .args(["dump", "--source", &tcp_url(), "--from", from])
            .args(["--server-id", server_id])
            .env("SLUICE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("sluice starts");
        LiveDump { child, out, err }
    }

    /// The events written so far: complete lines only (the output may end mid-line).
    fn events(&self) -> Vec<Value> {
        let bytes = std::fs::read(&self.out).unwrap_or_default();
        let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        common::parse_lines(&bytes[..end])
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// The local TCP ports of the child's sockets (Linux /proc), to tell its connections from
    /// those of any other Sluice using the same MariaDB user.
    fn local_ports(&self) -> HashSet<u16> {
        let Some(pid) = self.child.id() else {
            return HashSet::new();
        };
        let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|dir| {
                dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                    .filter_map(|link| {
                        let link = link.to_string_lossy().into_owned();
                        Some(
                            link.strip_prefix("socket:[")?
                                .strip_suffix(']')?
                                .to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut ports = HashSet::new();
        for table in ["tcp", "tcp6"] {
            let text =
                std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
            for line in text.lines().skip(1) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                if fields.len() > 9 && inodes.contains(fields[9]) {
                    let port = fields[1].rsplit(':').next().unwrap_or("");
                    if let Ok(p) = u16::from_str_radix(port, 16) {
                        ports.insert(p);
                    }
                }
            }
        }
        ports
    }

    async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    fn remove_files(&self) {
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
    }
}

/// The ids of `dump`'s replication connections: the `Binlog Dump` threads of user `sluice`
/// whose client port is one of the child's. Waits up to 10 s for one to exist (after a kill,
/// Sluice takes a moment to reconnect).
async fn replication_threads(root: &mut mysql_async::Conn, dump: &LiveDump) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ports = dump.local_ports();
        let threads: Vec<(u64, String)> = root
            .query(
                "SELECT ID, HOST FROM information_schema.PROCESSLIST \
                 WHERE COMMAND LIKE 'Binlog Dump%' AND USER = 'sluice'",
            )
            .await
            .unwrap();
        let ours: Vec<u64> = threads
            .into_iter()
            .filter(|(_, host)| {
                host.rsplit(':')
                    .next()
                    .and_then(|p| p.parse::<u16>().ok())
                    .is_some_and(|p| ports.contains(&p))
            })
            .map(|(id, _)| id)
            .collect();
        if !ours.is_empty() || Instant::now() > deadline {
            return ours;
        }
        sleep(Duration::from_millis(20)).await;
    }
}

/// Kills server threads; returns how many were still there to kill.
async fn kill_threads(root: &mut mysql_async::Conn, ids: &[u64]) -> usize {
    let mut killed = 0;
    for id in ids {
        // A thread that ended since it was listed is not an error here.
        if root.query_drop(format!("KILL {id}")).await.is_ok() {
            killed += 1;
        }
    }
    killed
}

/// How many reconnections resumed inside a transaction: Sluice logs how many of its rows it
/// had already emitted (and skips on replay).
fn mid_transaction(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("Reconnected to the source.") && !l.contains("skip_rows=0"))
        .count()
}

fn payload(id: u32) -> String {
    format!("{id:06}-{}", "x".repeat(93))
}

#[tokio::test]
async fn killed_source_connection_resumes_without_loss_or_duplicates() {
    const N: u32 = 3000;
    // Kill the connection once the workload has passed each of these row counts, as a
    // transaction of a few hundred rows commits, so that some kills land mid-transaction.
    const KILL_AFTER: [u32; 6] = [300, 800, 1300, 1800, 2300, 2750];
    let started = Instant::now();
    let mut root = common::root_conn().await;
    let mut killer = common::root_conn().await;
    let db = common::fresh_database(&mut root, "reconnect").await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.t (id INT PRIMARY KEY AUTO_INCREMENT, payload VARCHAR(100))"
    ))
    .await
    .unwrap();
    let from = common::binlog_end(&mut root).await;
    let mut dump = LiveDump::start("reconnect", &from, &server_id(0));

    // The workload: transactions of 1..=50 rows, and one of 200..=399 rows before each kill,
    // each transaction made of INSERTs of up to 25 rows (so several rows events). Ids are
    // given explicitly so that they are 1..=N whatever the server's auto_increment settings.
    let mut next_id = 1u32;
    let mut transactions = 0u32;
    let mut kills = 0usize;
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    let mut random = move |n: u32| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % u64::from(n)) as u32
    };
    let workload = timeout(Duration::from_secs(120), async {
        while next_id <= N {
            // Past the planned kills, every fourth transaction gets one too until a kill has
            // landed mid-transaction (most land between transactions).
            let kill_due = KILL_AFTER.get(kills).is_some_and(|&k| next_id > k)
                || (transactions % 4 == 3 && mid_transaction(&dump.stderr()) == 0);
            let size = if kill_due {
                200 + random(200)
            } else {
                1 + random(50)
            };
            let last = (next_id + size - 1).min(N);
            let threads = match kill_due {
                true => replication_threads(&mut killer, &dump).await,
                false => Vec::new(),
            };
            root.query_drop("BEGIN").await.unwrap();
            let ids: Vec<u32> = (next_id..=last).collect();
            // Small INSERTs in the big transactions: many rows events to be killed amid.
            for chunk in ids.chunks(if kill_due { 5 } else { 25 }) {
                let values: Vec<String> = chunk
                    .iter()
                    .map(|id| format!("({id}, '{}')", payload(*id)))
                    .collect();
                root.query_drop(format!(
                    "INSERT INTO `{db}`.t (id, payload) VALUES {}",
                    values.join(",")
                ))
                .await
                .unwrap();
            }
            if kill_due {
                assert!(!threads.is_empty(), "no replication connection of sluice");
                // KILL while the server sends the transaction out: issued with the COMMIT,
                // 0.5-1.5 ms after it (where kills land mid-transaction most often here).
                let delay = Duration::from_micros(500 + u64::from(random(1000)));
                let (committed, killed) = tokio::join!(root.query_drop("COMMIT"), async {
                    sleep(delay).await;
                    kill_threads(&mut killer, &threads).await
                });
                committed.unwrap();
                if killed > 0 {
                    kills += 1;
                }
            } else {
                root.query_drop("COMMIT").await.unwrap();
            }
            transactions += 1;
            next_id = last + 1;
        }
    })
    .await;
    assert!(workload.is_ok(), "the workload takes under 120 s");
    let until = common::binlog_end(&mut root).await;
    let written = started.elapsed();

    // Wait for every row (a live dump flushes its output at least at each 1 s heartbeat).
    let complete = timeout(Duration::from_secs(60), async {
        loop {
            let events = dump.events();
            let seen: HashSet<u64> = common::rows_of(&events, &db)
                .iter()
                .filter_map(|e| e["after"]["id"].as_u64())
                .collect();
            if (1..=u64::from(N)).all(|id| seen.contains(&id)) {
                return;
            }
            sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    // Each kill leads to one reconnection; give the log a moment to show the last one.
    let reconnected = |text: &str| text.matches("Reconnected to the source.").count();
    let _ = timeout(Duration::from_secs(10), async {
        while reconnected(&dump.stderr()) < kills {
            sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    dump.stop().await;
    let events = dump.events();
    let stderr = dump.stderr();
    let files = format!(
        "output {} and log {}",
        dump.out.display(),
        dump.err.display()
    );
    assert!(
        complete.is_ok(),
        "not every row reached the output within 60 s (binlog {from} .. {until}); {files}; \
         log:\n{stderr}"
    );

    // Exactly ids 1..=N, in order, once each.
    let rows = common::rows_of(&events, &db);
    let ids: Vec<u64> = rows
        .iter()
        .map(|e| e["after"]["id"].as_u64().unwrap_or(0))
        .collect();
    if ids != (1..=u64::from(N)).collect::<Vec<_>>() {
        let mut seen = HashSet::new();
        let duplicates: Vec<u64> = ids.iter().copied().filter(|id| !seen.insert(*id)).collect();
        let missing: Vec<u64> = (1..=u64::from(N)).filter(|id| !seen.contains(id)).collect();
        let first_out_of_order = ids
            .iter()
            .zip(1u64..)
            .find(|(id, want)| **id != *want)
            .map(|(id, want)| format!("position {want} holds id {id}"));
        panic!(
            "{} row events for {N} rows: duplicates {duplicates:?}, missing {missing:?}, first \
             out of order: {first_out_of_order:?}; {files}",
            ids.len()
        );
    }
    for row in &rows {
        let id = row["after"]["id"].as_u64().unwrap() as u32;
        assert_eq!(row["op"], "c", "{row}");
        assert_eq!(row["before"], Value::Null, "{row}");
        assert_eq!(row["after"]["payload"], payload(id), "{row}");
        assert_eq!(row["pk"], serde_json::json!(["id"]), "{row}");
        assert!(row["source"]["gtid"].is_string(), "{row}");
    }

    // Every row sits between a begin and a commit of its own transaction, and its index in
    // the transaction counts from 0 without a gap, replays included. Only the output's last
    // transaction may be cut short (the child was killed).
    let mut open: Option<(String, u64)> = None;
    let mut our_transactions = 0u32;
    let mut ours_in_open = false;
    let mut gtids = HashSet::new();
    for event in &events {
        let gtid = event["source"]["gtid"].as_str().unwrap_or("").to_string();
        match event["op"].as_str() {
            Some("begin") => {
                assert!(
                    open.is_none(),
                    "begin inside a transaction: {event}; {files}"
                );
                open = Some((gtid, 0));
                ours_in_open = false;
            }
            Some("c" | "u" | "d") => {
                let Some((open_gtid, next_row)) = open.as_mut() else {
                    panic!("row outside a transaction: {event}; {files}");
                };
                assert_eq!(*open_gtid, gtid, "row of another transaction: {event}");
                assert_eq!(event["source"]["row"], *next_row, "row index of {event}");
                *next_row += 1;
                ours_in_open |= event["db"] == db.as_str();
            }
            Some("commit") => {
                let Some((open_gtid, _)) = open.take() else {
                    panic!("commit outside a transaction: {event}; {files}");
                };
                if ours_in_open {
                    our_transactions += 1;
                    assert!(gtids.insert(open_gtid.clone()), "{open_gtid} twice");
                }
            }
            Some("ddl") => assert!(open.is_none(), "DDL inside a transaction: {event}"),
            _ => {}
        }
    }
    assert_eq!(
        our_transactions, transactions,
        "each transaction written comes out once, whole; {files}"
    );

    assert!(kills >= 5, "only {kills} kills");
    let reconnects = reconnected(&stderr);
    assert!(
        reconnects >= kills,
        "{kills} kills but {reconnects} reconnections logged:\n{stderr}"
    );
    let mid_transaction = mid_transaction(&stderr);
    println!(
        "{N} rows in {transactions} transactions written in {written:.1?}; {kills} kills, \
         {reconnects} reconnections ({mid_transaction} mid-transaction); {:.1?} in all",
        started.elapsed()
    );
    dump.remove_files();
}

/// Runs `sluice dump` expecting it to stop by itself within 30 s; returns (success, stderr).
async fn dump_refused(from: &str, server_id: &str) -> (bool, String) {
    let run = Command::new(common::sluice_bin())
        .args(["dump", "--source", &common::mysql_url(), "--from", from])
        .args(["--server-id", server_id])
        .env("SLUICE_LOG", "info")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = timeout(Duration::from_secs(30), run)
        .await
        .unwrap_or_else(|_| panic!("sluice dump --from {from} neither fails nor stops in 30 s"))
        .expect("sluice runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn purged_resume_position_is_a_definite_error() {
    let (success, stderr) = dump_refused("nosuchfile.000042:4", &server_id(1)).await;
    assert!(
        !success,
        "a start in a file the server lacks fails: {stderr}"
    );
    assert!(
        stderr.contains("nosuchfile.000042:4 is no longer on the server"),
        "{stderr}"
    );
}

/// The server's binary logs and their sizes, oldest first.
async fn binary_logs(root: &mut mysql_async::Conn) -> Vec<(String, u64)> {
    let logs: Vec<mysql_async::Row> = root.query("SHOW BINARY LOGS").await.unwrap();
    logs.into_iter()
        .map(|mut r| (r.take(0).unwrap(), r.take(1).unwrap()))
        .collect()
}

#[tokio::test]
async fn start_position_beyond_the_file_end_is_refused() {
    let mut root = common::root_conn().await;
    let mut logs = binary_logs(&mut root).await;
    if logs.len() < 2 {
        // A fresh server has only its current binlog, which other tests make grow past any
        // position chosen here: close it, so that there is a file that never grows.
        root.query_drop("FLUSH BINARY LOGS").await.unwrap();
        logs = binary_logs(&mut root).await;
    }
    // A closed binlog never grows, so 1000 bytes past its end stays past its end while other
    // tests write.
    let (file, size) = match logs.len() {
        0 | 1 => panic!("the server lists fewer than two binary logs after a flush: {logs:?}"),
        n => logs[n - 2].clone(),
    };
    let from = format!("{file}:{}", size + 1000);
    let (success, stderr) = dump_refused(&from, &server_id(2)).await;
    assert!(!success, "a start past the end of {file} fails: {stderr}");
    assert!(
        stderr.contains(&format!("{from} is no longer on the server")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file} is only {size} bytes long")),
        "{stderr}"
    );
}

#[tokio::test]
async fn start_position_inside_an_event_is_a_definite_error() {
    // One byte past the start of the second event of a closed binlog. The server notices
    // (error 1236) or streams from there and the CRC32 check fails on the first event; either
    // way it is said at once, as a bad start position, with no endless reconnecting. A closed
    // file, not the active one: in the active binlog the bytes there may read as the length of
    // an event not written yet, and the server then waits for it (quietly, like an idle
    // server), which depends on what happens to lie at that offset.
    let mut root = common::root_conn().await;
    let status = common::binlog_end(&mut root).await;
    let (file, _) = status.rsplit_once(':').unwrap();
    root.query_drop("FLUSH BINARY LOGS").await.unwrap();
    let events: Vec<mysql_async::Row> = root
        .query(format!("SHOW BINLOG EVENTS IN '{file}' LIMIT 3"))
        .await
        .unwrap();
    let boundary: u64 = events
        .into_iter()
        .map(|mut r| r.take::<u64, _>(1).unwrap())
        .nth(1)
        .expect("the binlog has a second event");
    let from = format!("{file}:{}", boundary + 1);
    let (success, stderr) = dump_refused(&from, &server_id(3)).await;
    assert!(!success, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the start position {from} is not the start of an event"
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Reconnected"),
        "a bad start position is retried: {stderr}"
    );
}

#[tokio::test]
async fn live_dump_writes_each_event_as_it_arrives() {
    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, "live_flush").await;
    root.query_drop(format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let from = common::binlog_end(&mut root).await;
    let mut dump = LiveDump::start("live-flush", &from, &server_id(3));
    root.query_drop(format!("INSERT INTO `{db}`.t VALUES (1)"))
        .await
        .unwrap();
    // A follower shows what it has read without waiting for more to come: 5 s is several
    // heartbeats (1 s), at which an idle dump writes out what it holds.
    let shown = timeout(Duration::from_secs(5), async {
        while common::rows_of(&dump.events(), &db).is_empty() {
            sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    dump.stop().await;
    let bytes = std::fs::metadata(&dump.out).map_or(0, |m| m.len());
    dump.remove_files();
    assert!(
        shown.is_ok(),
        "the inserted row did not appear within 5 s ({bytes} bytes of output)"
    );
}
