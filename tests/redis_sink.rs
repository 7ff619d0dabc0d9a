//! `sluice standalone` with Redis sinks against the test MariaDB and Redis: after a mixed
//! workload (inserts, updates, primary-key changes, deletes, a multi-row transaction), the
//! invalidate sink has deleted exactly the keys of the changed rows, and the sync sinks (JSON
//! and hash) hold exactly the rows of `SELECT * FROM` the table, no more. And with Redis stopped
//! (SIGSTOP) for a while during the workload, Sluice retries and nothing is lost.
//!
//! Each test uses its own MariaDB database, Redis databases and key prefixes, and flushes its
//! Redis databases first. The tests take turns (`REDIS_TURN`): one of them stops the server.

mod common;

use common::private_services::Stopped;
use common::redis_table::{
    create_users, dump_hashes, dump_strings, hash_diff, insert_row, json_diff, mixed_transaction,
    select_users, update_row, write_config,
};
use common::rng::Rng;
use common::standalone::{wait_until, StandaloneProcess, TempDir};

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

/// Replica server ids of these tests: unique on the shared server.
const MIXED_SERVER_ID: u32 = 4_100_701;
const STOP_SERVER_ID: u32 = 4_100_702;
/// How long Sluice may take to bring Redis level with the source.
const CATCH_UP: Duration = Duration::from_secs(90);

/// One test at a time talks to Redis: the SIGSTOP test would stall the other.
static REDIS_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn redis_base_url() -> String {
    std::env::var("SLUICE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:16379".into())
        .trim_end_matches('/')
        .to_string()
}

/// A connection to database `db` of the test Redis, or a panic saying how to start it.
async fn redis_db(db: u32) -> redis::aio::MultiplexedConnection {
    let url = format!("{}/{db}", redis_base_url());
    let client = redis::Client::open(url.as_str()).expect("SLUICE_TEST_REDIS_URL is a URL");
    match client.get_multiplexed_async_connection().await {
        Ok(c) => c,
        Err(e) => panic!(
            "the Redis test service is not reachable at {url} ({e}): start it with \
             `bash tests/services/start.sh redis` (install first: tests/services/install.sh)"
        ),
    }
}

async fn flushdb(db: u32) -> redis::aio::MultiplexedConnection {
    let mut con = redis_db(db).await;
    redis::cmd("FLUSHDB")
        .query_async::<()>(&mut con)
        .await
        .unwrap();
    con
}

fn redis_sink(name: &str, db: u32, extra: &str) -> String {
    format!(
        "type = \"redis\"\nname = \"{name}\"\nurl = \"{}/{db}\"\n{extra}\n",
        redis_base_url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidate_json_and_hash_sinks_match_the_table_after_a_mixed_workload() {
    let _turn = REDIS_TURN.lock().await;
    let t0 = Instant::now();
    let (inv_db, json_db, hash_db) = (1, 2, 3);
    let mut inv = flushdb(inv_db).await;
    let mut js = flushdb(json_db).await;
    let mut hs = flushdb(hash_db).await;

    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, "redis_mixed").await;
    create_users(&mut root, &db).await;
    let start = common::binlog_end(&mut root).await;

    // Cached copies of rows about to be inserted (say, cached "not found" answers), and of
    // ids that never get a row: the first must go, the second stay.
    let inv_key = |id: i64| format!("inv:{id}");
    let mut cached: BTreeSet<i64> = (1..=45).collect();
    cached.extend([100, 101]);
    for id in &cached {
        redis::cmd("SET")
            .arg(inv_key(*id))
            .arg("cached")
            .query_async::<()>(&mut inv)
            .await
            .unwrap();
    }

    let dir = TempDir::new("mixed");
    let sinks = [
        redis_sink("inv", inv_db, "mode = \"invalidate\"\nkey = \"inv:{id}\""),
        redis_sink("json", json_db, "mode = \"sync\"\nkey = \"{db}:{table}:{pk}\""),
        redis_sink(
            "hash",
            hash_db,
            "mode = \"sync\"\nformat = \"hash\"\nkey = \"h:{table}:{pk}\"\ntables = [\"sluice_test_redis_mixed\\\\.users\"]",
        ),
    ];
    let config = write_config(&dir.0, "redis-mixed", &db, &start, MIXED_SERVER_ID, &sinks);
    let mut sluice = StandaloneProcess::start(&config, dir.0.join("sluice.log"));
    let json_key = |id: i64| format!("{db}:users:{id}");
    let hash_key = |id: i64| format!("h:users:{id}");

    // Phase 1: rows 1..=40, one statement each or a few per statement.
    let mut rng = Rng::from_clock();
    let mut id = 1;
    while id <= 40 {
        if rng.below(3) == 0 && id + 2 <= 40 {
            let mut tx = root.start_transaction(Default::default()).await.unwrap();
            for i in id..id + 3 {
                insert_row(&mut tx, &db, &mut rng, i).await;
            }
            tx.commit().await.unwrap();
            id += 3;
        } else {
            insert_row(&mut root, &db, &mut rng, id).await;
            id += 1;
        }
    }
    let phase1_end = Instant::now();
    let expected_inv: BTreeSet<String> = cached
        .iter()
        .filter(|id| !(1..=40).contains(*id))
        .map(|id| inv_key(*id))
        .collect();
    let users = select_users(&mut root, &db).await;
    let caught_up_1 = wait_until(&mut sluice, CATCH_UP, "phase 1", || {
        let (users, expected_inv) = (&users, &expected_inv);
        let (mut inv, mut js, mut hs) = (inv.clone(), js.clone(), hs.clone());
        async move {
            let keys: BTreeSet<String> = dump_strings(&mut inv).await.into_keys().collect();
            if keys != *expected_inv {
                return Some(format!(
                    "invalidate keys {:?}, expected {:?}",
                    keys.difference(expected_inv).collect::<Vec<_>>(),
                    expected_inv.difference(&keys).collect::<Vec<_>>()
                ));
            }
            json_diff(&dump_strings(&mut js).await, users, json_key)
                .map(|d| format!("json: {d}"))
                .or(hash_diff(&dump_hashes(&mut hs).await, users, hash_key)
                    .map(|d| format!("hash: {d}")))
        }
    })
    .await;
    let phase1_lag = phase1_end.elapsed();

    // The application caches every row again.
    for id in 1..=45 {
        redis::cmd("SET")
            .arg(inv_key(id))
            .arg("cached")
            .query_async::<()>(&mut inv)
            .await
            .unwrap();
    }
    for id in [100, 101] {
        redis::cmd("SET")
            .arg(inv_key(id))
            .arg("cached")
            .query_async::<()>(&mut inv)
            .await
            .unwrap();
    }

    // Phase 2: every kind of change; `changed` collects each id whose row changed (both ids of
    // a primary-key change).
    let mut changed: BTreeSet<i64> = BTreeSet::new();
    for id in [2, 5, 7, 11] {
        update_row(&mut root, &db, &mut rng, id, id).await;
        changed.insert(id);
    }
    update_row(&mut root, &db, &mut rng, 13, 100).await;
    changed.extend([13, 100]);
    for id in [14, 15] {
        root.exec_drop(format!("DELETE FROM `{db}`.users WHERE id = ?"), (id,))
            .await
            .unwrap();
        changed.insert(id);
    }
    {
        // One transaction: inserts, an update, a delete and a primary-key change.
        let mut tx = root.start_transaction(Default::default()).await.unwrap();
        insert_row(&mut tx, &db, &mut rng, 41).await;
        insert_row(&mut tx, &db, &mut rng, 42).await;
        update_row(&mut tx, &db, &mut rng, 16, 16).await;
        tx.exec_drop(format!("DELETE FROM `{db}`.users WHERE id = ?"), (17,))
            .await
            .unwrap();
        update_row(&mut tx, &db, &mut rng, 18, 101).await;
        update_row(&mut tx, &db, &mut rng, 41, 41).await;
        tx.commit().await.unwrap();
        changed.extend([41, 42, 16, 17, 18, 101]);
    }
    // A column set to NULL (the hash loses the field), and one statement changing many rows.
    // `qty` changes too: the random row may hold NULLs already, and an UPDATE that changes
    // nothing writes no row event (nothing to invalidate).
    root.query_drop(format!(
        "UPDATE `{db}`.users SET note = NULL, born = NULL, bin = NULL, qty = qty + 1 WHERE id = 19"
    ))
    .await
    .unwrap();
    changed.insert(19);
    root.query_drop(format!(
        "UPDATE `{db}`.users SET qty = qty DIV 2 + 1, name = CONCAT(name, '+') WHERE id BETWEEN 30 AND 35"
    ))
    .await
    .unwrap();
    changed.extend(30..=35);
    let workload_end = Instant::now();

    let users = select_users(&mut root, &db).await;
    let expected_inv: BTreeSet<String> = (1..=45)
        .chain([100, 101])
        .filter(|id| !changed.contains(id))
        .map(inv_key)
        .collect();
    let caught_up_2 = wait_until(&mut sluice, CATCH_UP, "phase 2", || {
        let (users, expected_inv) = (&users, &expected_inv);
        let (mut inv, mut js, mut hs) = (inv.clone(), js.clone(), hs.clone());
        async move {
            let keys: BTreeSet<String> = dump_strings(&mut inv).await.into_keys().collect();
            if keys != *expected_inv {
                return Some(format!(
                    "invalidate: kept {:?}, deleted {:?}",
                    keys.difference(expected_inv).collect::<Vec<_>>(),
                    expected_inv.difference(&keys).collect::<Vec<_>>()
                ));
            }
            json_diff(&dump_strings(&mut js).await, users, json_key)
                .map(|d| format!("json: {d}"))
                .or(hash_diff(&dump_hashes(&mut hs).await, users, hash_key)
                    .map(|d| format!("hash: {d}")))
        }
    })
    .await;
    let lag = workload_end.elapsed();

    // Still level a moment later: no late write undoes the state.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        json_diff(&dump_strings(&mut js).await, &users, json_key),
        None
    );
    assert_eq!(
        hash_diff(&dump_hashes(&mut hs).await, &users, hash_key),
        None
    );
    let log = sluice.log_text();
    assert!(
        !log.contains("WARN"),
        "no warning expected; sluice's log:\n{log}"
    );
    println!(
        "{} rows; phase 1 (40 inserts) level {} ms after its last commit (polled {} ms); \
         phase 2 ({} changed ids) level {} ms after its last commit (polled {} ms); test {:.1} s",
        users.len(),
        phase1_lag.as_millis(),
        caught_up_1.as_millis(),
        changed.len(),
        lag.as_millis(),
        caught_up_2.as_millis(),
        t0.elapsed().as_secs_f64()
    );
}

fn redis_pid() -> String {
    let dir = std::env::var("SLUICE_SVC_DIR").unwrap_or_else(|_| "/tmp/sluice-svc".into());
    let file = Path::new(&dir).join("redis").join("redis.pid");
    let pid = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read the Redis pid file {}: {e}", file.display()));
    let pid = pid.trim().to_string();
    assert!(
        !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()),
        "{} holds {pid:?}, not a pid",
        file.display()
    );
    pid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_for_a_while_then_back_loses_nothing() {
    let _turn = REDIS_TURN.lock().await;
    let t0 = Instant::now();
    let (json_db, hash_db) = (4, 5);
    let mut js = flushdb(json_db).await;
    let hs = flushdb(hash_db).await;
    let pid = redis_pid();

    let mut root = common::root_conn().await;
    let db = common::fresh_database(&mut root, "redis_stop").await;
    create_users(&mut root, &db).await;
    let start = common::binlog_end(&mut root).await;
    let dir = TempDir::new("stop");
    let sinks = [
        redis_sink(
            "json",
            json_db,
            "mode = \"sync\"\nkey = \"s:{pk}\"\nttl_secs = 3600",
        ),
        redis_sink(
            "hash",
            hash_db,
            "mode = \"sync\"\nformat = \"hash\"\nkey = \"s:{pk}\"",
        ),
    ];
    let config = write_config(&dir.0, "redis-stop", &db, &start, STOP_SERVER_ID, &sinks);
    let mut sluice = StandaloneProcess::start(&config, dir.0.join("sluice.log"));

    // The workload runs in its own task while the test stops and resumes Redis.
    let writer = {
        let mut conn = common::root_conn().await;
        let db = db.clone();
        let mut rng = Rng::from_clock();
        tokio::spawn(async move {
            let mut ids: Vec<i64> = Vec::new();
            let mut next = 1;
            let mut transactions = 0;
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                mixed_transaction(&mut conn, &db, &mut rng, &mut ids, &mut next).await;
                transactions += 1;
                tokio::time::sleep(Duration::from_millis(5 + rng.below(20))).await;
            }
            transactions
        })
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    sluice.assert_running();
    let stopped_for = {
        let stopped = Stopped::stop(&pid);
        let t = Instant::now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(stopped);
        t.elapsed()
    };
    let resumed = Instant::now();
    let transactions = tokio::time::timeout(Duration::from_secs(60), writer)
        .await
        .expect("the workload ends")
        .unwrap();
    let workload_end = Instant::now();

    let users = select_users(&mut root, &db).await;
    let key = |id: i64| format!("s:{id}");
    wait_until(&mut sluice, CATCH_UP, "after Redis came back", || {
        let users = &users;
        let (mut js, mut hs) = (js.clone(), hs.clone());
        async move {
            json_diff(&dump_strings(&mut js).await, users, key)
                .map(|d| format!("json: {d}"))
                .or(hash_diff(&dump_hashes(&mut hs).await, users, key)
                    .map(|d| format!("hash: {d}")))
        }
    })
    .await;
    let level_after_resume = resumed.elapsed();
    let level_after_workload = workload_end.elapsed();
    let ttl: i64 = redis::cmd("TTL")
        .arg(key(*users.keys().next().expect("the workload leaves rows")))
        .query_async(&mut js)
        .await
        .unwrap();
    assert!(
        (3000..=3600).contains(&ttl),
        "the JSON keys expire in an hour, TTL {ttl}"
    );

    let log = sluice.log_text();
    let retries: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Sink write failed; retrying."))
        .collect();
    assert!(
        !retries.is_empty(),
        "a stalled Redis shows as retry warnings; sluice's log:\n{log}"
    );
    assert!(
        retries.iter().all(|l| l.contains("Redis at redis://")),
        "each retry names the sink's Redis: {retries:#?}"
    );
    println!(
        "{transactions} transactions, {} rows at the end; Redis stopped {} ms; {} retry \
         warnings; level {} ms after SIGCONT, {} ms after the workload; test {:.1} s\n\
         first warning: {}",
        users.len(),
        stopped_for.as_millis(),
        retries.len(),
        level_after_resume.as_millis(),
        level_after_workload.as_millis(),
        t0.elapsed().as_secs_f64(),
        retries[0]
    );
    println!("sluice's log lines about Redis:");
    for line in log
        .lines()
        .filter(|l| l.contains("Redis") || l.contains("redis"))
    {
        println!("  {line}");
    }
}
