//! The `users` table of the Redis sink tests and how to compare Redis with it: the table, a
//! random row generator, a mixed write workload, dumps of a Redis database, and the
//! differences between them and `SELECT * FROM users`. Also the setup of the tests with a
//! private Redis and a sync JSON sink.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

use super::private_services::{start_redis, Service};
use super::rng::Rng;
use super::standalone::{wait_until, StandaloneProcess};

/// Writes a config with one task reading database `db` (only: other tests write to the same
/// server at the same time) from `start` into the given sinks (TOML `[[tasks.sinks]]` tables).
pub fn write_config(
    dir: &Path,
    task: &str,
    db: &str,
    start: &str,
    server_id: u32,
    sinks: &[String],
) -> PathBuf {
    let data_dir = dir.join("data");
    let data = data_dir.to_str().unwrap();
    assert!(
        !data.contains(['"', '\\']),
        "{data} cannot go in a TOML string"
    );
    let mut text = format!(
        "data_dir = \"{data}\"\n[http]\nlisten = \"127.0.0.1:0\"\n\n[[tasks]]\nname = \"{task}\"\n\
         checkpoint_interval_ms = 200\n\n\
         [tasks.source]\nurl = \"{url}\"\nserver_id = {server_id}\nstart = \"{start}\"\n\n\
         [tasks.filters]\ninclude = [\"{db}\\\\..*\"]\n",
        url = super::mysql_url(),
    );
    for sink in sinks {
        text.push_str("\n[[tasks.sinks]]\n");
        text.push_str(sink);
    }
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The test table: a BIGINT primary key and a few column types with exact text forms.
pub async fn create_users(root: &mut mysql_async::Conn, db: &str) {
    root.query_drop(format!(
        "CREATE TABLE `{db}`.users (
           id BIGINT NOT NULL PRIMARY KEY,
           name VARCHAR(64) NOT NULL,
           qty INT UNSIGNED NOT NULL,
           balance DECIMAL(12,2) NOT NULL,
           born DATE NULL,
           updated DATETIME(3) NOT NULL,
           note TEXT NULL,
           bin VARBINARY(16) NULL
         ) DEFAULT CHARSET=utf8mb4"
    ))
    .await
    .unwrap();
}

/// One row of `users` in Sluice's value forms (`docs/event-format.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub qty: u64,
    pub balance: String,
    pub born: Option<String>,
    pub updated: String,
    pub note: Option<String>,
    pub bin: Option<String>,
}

impl User {
    /// The row as the JSON sink stores it: the event's `after` object.
    pub fn json(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "qty": self.qty, "balance": self.balance,
            "born": self.born, "updated": self.updated, "note": self.note, "bin": self.bin,
        })
    }

    /// The row as the hash sink stores it: text values, NULL columns absent.
    pub fn hash(&self) -> BTreeMap<String, String> {
        let mut h = BTreeMap::new();
        h.insert("id".into(), self.id.to_string());
        h.insert("name".into(), self.name.clone());
        h.insert("qty".into(), self.qty.to_string());
        h.insert("balance".into(), self.balance.clone());
        h.insert("updated".into(), self.updated.clone());
        for (k, v) in [
            ("born", &self.born),
            ("note", &self.note),
            ("bin", &self.bin),
        ] {
            if let Some(v) = v {
                h.insert(k.into(), v.clone());
            }
        }
        h
    }
}

/// `SELECT * FROM users` with every value in the text form Sluice gives it.
pub async fn select_users(conn: &mut mysql_async::Conn, db: &str) -> BTreeMap<i64, User> {
    let rows: Vec<mysql_async::Row> = conn
        .query(format!(
            "SELECT id, name, qty, CAST(balance AS CHAR), CAST(born AS CHAR), \
             CAST(updated AS CHAR), note, TO_BASE64(bin) FROM `{db}`.users"
        ))
        .await
        .unwrap();
    rows.into_iter()
        .map(|mut r| {
            let user = User {
                id: r.take(0).unwrap(),
                name: r.take(1).unwrap(),
                qty: r.take(2).unwrap(),
                balance: r.take(3).unwrap(),
                born: r.take(4).unwrap(),
                updated: r.take(5).unwrap(),
                note: r.take(6).unwrap(),
                bin: r.take(7).unwrap(),
            };
            (user.id, user)
        })
        .collect()
}

/// The parameters of one generated row (id first), awkward text and NULLs included.
pub fn random_values(rng: &mut Rng, id: i64) -> mysql_async::Params {
    let names = [
        "Ann",
        "Bo \"quoted\"",
        "Zoë 😀",
        "a:b:{c}",
        "back\\slash",
        "",
    ];
    let name = format!(
        "{} {}",
        names[rng.below(names.len() as u64) as usize],
        rng.below(1000)
    );
    let born = (rng.below(4) != 0).then(|| {
        format!(
            "19{:02}-{:02}-{:02}",
            rng.below(100),
            1 + rng.below(12),
            1 + rng.below(28)
        )
    });
    let updated = format!(
        "2026-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        1 + rng.below(12),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1000)
    );
    let note = (rng.below(3) != 0).then(|| format!("note\n{}\t✓", rng.below(1_000_000)));
    let bin = (rng.below(3) != 0).then(|| {
        (0..rng.below(17))
            .map(|_| rng.below(256) as u8)
            .collect::<Vec<u8>>()
    });
    let balance = format!(
        "{}.{:02}",
        rng.below(1_000_000) as i64 - 500_000,
        rng.below(100)
    );
    mysql_async::Params::Positional(vec![
        id.into(),
        name.into(),
        rng.below(u64::from(u32::MAX)).into(),
        balance.into(),
        born.into(),
        updated.into(),
        note.into(),
        bin.into(),
    ])
}

pub const INSERT: &str =
    "INSERT INTO `{db}`.users (id, name, qty, balance, born, updated, note, bin) \
                      VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
pub const UPDATE: &str =
    "UPDATE `{db}`.users SET id = ?, name = ?, qty = ?, balance = ?, born = ?, \
                      updated = ?, note = ?, bin = ? WHERE id = ?";

/// Updates row `id` to new random values (and primary key `new_id`).
pub async fn update_row<Q: Queryable>(q: &mut Q, db: &str, rng: &mut Rng, id: i64, new_id: i64) {
    let mysql_async::Params::Positional(mut values) = random_values(rng, new_id) else {
        unreachable!("random_values gives positional parameters")
    };
    values.push(id.into());
    q.exec_drop(UPDATE.replace("{db}", db), values)
        .await
        .unwrap();
}

pub async fn insert_row<Q: Queryable>(q: &mut Q, db: &str, rng: &mut Rng, id: i64) {
    q.exec_drop(INSERT.replace("{db}", db), random_values(rng, id))
        .await
        .unwrap();
}

/// Everything in Redis database `db`: each key with its value, `GET` or `HGETALL`.
pub async fn dump_strings(con: &mut redis::aio::MultiplexedConnection) -> BTreeMap<String, String> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(con).await.unwrap();
    let mut out = BTreeMap::new();
    for key in keys {
        let value: Option<String> = redis::cmd("GET").arg(&key).query_async(con).await.unwrap();
        if let Some(v) = value {
            out.insert(key, v);
        }
    }
    out
}

pub async fn dump_hashes(
    con: &mut redis::aio::MultiplexedConnection,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(con).await.unwrap();
    let mut out = BTreeMap::new();
    for key in keys {
        let h: BTreeMap<String, String> = redis::cmd("HGETALL")
            .arg(&key)
            .query_async(con)
            .await
            .unwrap();
        out.insert(key, h);
    }
    out
}

/// What differs between the JSON sink's keys and the table (`None` when they agree).
pub fn json_diff(
    actual: &BTreeMap<String, String>,
    users: &BTreeMap<i64, User>,
    key: impl Fn(i64) -> String,
) -> Option<String> {
    let mut problems = Vec::new();
    for (id, user) in users {
        let k = key(*id);
        match actual.get(&k).map(|v| serde_json::from_str::<Value>(v)) {
            None => problems.push(format!("{k} is missing")),
            Some(Err(e)) => problems.push(format!("{k} is not JSON: {e}")),
            Some(Ok(v)) if v != user.json() => {
                problems.push(format!("{k} = {v}, the row is {}", user.json()))
            }
            Some(Ok(_)) => {}
        }
    }
    let expected: BTreeSet<String> = users.keys().map(|id| key(*id)).collect();
    for k in actual.keys().filter(|k| !expected.contains(*k)) {
        problems.push(format!("{k} has no row"));
    }
    summarize(problems)
}

pub fn hash_diff(
    actual: &BTreeMap<String, BTreeMap<String, String>>,
    users: &BTreeMap<i64, User>,
    key: impl Fn(i64) -> String,
) -> Option<String> {
    let mut problems = Vec::new();
    for (id, user) in users {
        let k = key(*id);
        match actual.get(&k) {
            None => problems.push(format!("{k} is missing")),
            Some(h) if *h != user.hash() => {
                problems.push(format!("{k} = {h:?}, the row is {:?}", user.hash()))
            }
            Some(_) => {}
        }
    }
    let expected: BTreeSet<String> = users.keys().map(|id| key(*id)).collect();
    for k in actual.keys().filter(|k| !expected.contains(*k)) {
        problems.push(format!("{k} has no row"));
    }
    summarize(problems)
}

pub fn summarize(problems: Vec<String>) -> Option<String> {
    if problems.is_empty() {
        return None;
    }
    let n = problems.len();
    let shown: Vec<String> = problems.into_iter().take(8).collect();
    Some(format!("{n} differences, e.g. {}", shown.join("; ")))
}

/// Commits one transaction of 1-4 random changes to `users`: inserts (half), updates, a
/// primary-key change (the old key must go) and deletes. `ids` are the rows there now; `next`
/// is the next unused id.
pub async fn mixed_transaction(
    conn: &mut mysql_async::Conn,
    db: &str,
    rng: &mut Rng,
    ids: &mut Vec<i64>,
    next: &mut i64,
) {
    let mut tx = conn.start_transaction(Default::default()).await.unwrap();
    for _ in 0..1 + rng.below(4) {
        match rng.below(10) {
            0..=4 => {
                insert_row(&mut tx, db, rng, *next).await;
                ids.push(*next);
                *next += 1;
            }
            5..=7 if !ids.is_empty() => {
                let id = ids[rng.below(ids.len() as u64) as usize];
                update_row(&mut tx, db, rng, id, id).await;
            }
            8 if !ids.is_empty() => {
                let i = rng.below(ids.len() as u64) as usize;
                update_row(&mut tx, db, rng, ids[i], *next).await;
                ids[i] = *next;
                *next += 1;
            }
            _ if !ids.is_empty() => {
                let id = ids.swap_remove(rng.below(ids.len() as u64) as usize);
                tx.exec_drop(format!("DELETE FROM `{db}`.users WHERE id = ?"), (id,))
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
    tx.commit().await.unwrap();
}

/// A private Redis, table `users` in a fresh database `sluice_test_NAME`, and a config with one
/// task from the binlog's end into a sync JSON sink (key `u:{pk}`, see [`sync_key`]) on it.
pub struct SyncJsonSetup {
    pub redis_server: Service,
    pub redis: redis::aio::MultiplexedConnection,
    pub root: mysql_async::Conn,
    pub db: String,
    pub config: PathBuf,
}

pub fn sync_key(id: i64) -> String {
    format!("u:{id}")
}

pub async fn sync_json_setup(dir: &Path, name: &str, server_id: u32) -> SyncJsonSetup {
    let redis_server = start_redis(dir);
    let url = format!("redis://127.0.0.1:{}/0", redis_server.port);
    // Replies may be slow on a busy machine right after the pause: not the 500 ms default.
    let patient =
        redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
    let redis = redis::Client::open(url.as_str())
        .expect("a Redis URL")
        .get_multiplexed_async_connection_with_config(&patient)
        .await
        .expect("the private Redis answers");
    let mut root = super::root_conn().await;
    let db = super::fresh_database(&mut root, name).await;
    create_users(&mut root, &db).await;
    let start = super::binlog_end(&mut root).await;
    let sink = format!(
        "type = \"redis\"\nname = \"cache\"\nurl = \"{url}\"\nmode = \"sync\"\nkey = \"u:{{pk}}\"\n"
    );
    let config = write_config(dir, name, &db, &start, server_id, &[sink]);
    SyncJsonSetup {
        redis_server,
        redis,
        root,
        db,
        config,
    }
}

/// [`mixed_transaction`]s one after the other (2-10 ms apart) until `stop`.
pub struct MixedWriter {
    pub stop: Arc<AtomicBool>,
    /// Transactions committed so far.
    pub transactions: Arc<AtomicU64>,
    /// Returns the number of ids used.
    pub task: tokio::task::JoinHandle<i64>,
}

impl MixedWriter {
    pub async fn start(db: &str, mut rng: Rng) -> MixedWriter {
        let mut conn = super::root_conn().await;
        let stop = Arc::new(AtomicBool::new(false));
        let transactions = Arc::new(AtomicU64::new(0));
        let (db, done, count) = (db.to_string(), stop.clone(), transactions.clone());
        let task = tokio::spawn(async move {
            let (mut ids, mut next) = (Vec::new(), 1);
            while !done.load(Ordering::SeqCst) {
                mixed_transaction(&mut conn, &db, &mut rng, &mut ids, &mut next).await;
                count.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2 + rng.below(8))).await;
            }
            next - 1
        });
        MixedWriter {
            stop,
            transactions,
            task,
        }
    }

    pub fn committed(&self) -> u64 {
        self.transactions.load(Ordering::SeqCst)
    }

    /// Stops the writer (bounded: 60 s); returns the number of ids used and of transactions.
    pub async fn finish(self) -> (i64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        let ids = tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("the writer stops")
            .expect("the writer did not panic");
        (ids, self.transactions.load(Ordering::SeqCst))
    }
}

/// Waits (up to `within`) until the sync JSON sink's Redis equals `users`, and checks it still
/// does half a second later (no late write undoes it). Returns how long the wait took.
pub async fn await_redis_equals_table(
    sluice: &mut StandaloneProcess,
    redis: &redis::aio::MultiplexedConnection,
    users: &BTreeMap<i64, User>,
    within: Duration,
    what: &str,
) -> Duration {
    let took = wait_until(sluice, within, what, || {
        let mut redis = redis.clone();
        async move { json_diff(&dump_strings(&mut redis).await, users, sync_key) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut redis = redis.clone();
    assert_eq!(
        json_diff(&dump_strings(&mut redis).await, users, sync_key),
        None,
        "{what}: Redis changed after it equalled the table"
    );
    took
}
