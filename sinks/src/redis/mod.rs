//! The Redis sink (`type = "redis"`): keeps Redis keys true to the source rows, for
//! application caches.
//!
//! - `invalidate` mode deletes the key of every changed row (both keys when an update changes
//!   the key), so the application reloads it from the database.
//! - `sync` mode writes each row under its key, as a JSON object (`SET`) or a hash (`HSET`),
//!   with an optional TTL, and deletes the key of a deleted row.
//!
//! Keys come from a template (`{db}:{table}:{pk}`, `user:{email}`, ...) resolved once per table.
//! Per-key order is the binlog's: commands go in event order over one connection, and a
//! reconnect is fenced (`connection.rs`). Begin, commit and DDL events are ignored.
//!
//! Files: `key_template.rs` (keys), `encode.rs` (values and rows as bytes), `commands.rs`
//! (events to commands), `connection.rs` (Redis, deadlines, the fence), `sink.rs` (the `Sink`),
//! `probe.rs` (the connection test of the manager's API).

mod commands;
mod connection;
mod encode;
mod key_template;
mod probe;
mod sink;

pub use probe::probe_redis;
pub use sink::RedisSink;
