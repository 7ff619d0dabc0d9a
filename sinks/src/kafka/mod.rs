//! The Kafka sink (`type = "kafka"`): every event becomes a message, in one of the message
//! formats (`crate::formats`), in a topic named after its table. At-least-once: `commit`
//! returns only when the brokers acknowledged every message with `acks=all`, and a failed
//! delivery sends the task back to its checkpoint, so a consumer may see a message twice (with
//! the same source position) but never miss one.
//!
//! Partitioning (`partition_by`):
//! - `key` (default): the message key is the row's primary key (`Encoder::key`) and
//!   librdkafka's default partitioner hashes it, so each row's changes stay in order. Rows of a
//!   table without a primary key get the key `db.table` instead, which keeps that table's rows
//!   in order.
//! - `table`: the message key is the text `db.table`, hashed the same way: each table's
//!   changes stay in order. (A key rather than an explicit partition, so no metadata lookup is
//!   needed and the partition follows Kafka's own rules.)
//! - `single`: partition 0, with the format's key: one total order.
//!
//! Events without a table (begin, commit, DDL, incident; messages only in some formats) go only
//! to a fixed topic, without a key. With `schema_changes_topic`, DDL events go there instead,
//! whatever `topic` is, as each format's schema-change message (`crate::formats`), keyed by the
//! database the statement changes so that database's DDL stays in order on one partition.
//!
//! Files: `topic.rs` (the topic of an event), `messages.rs` (events to messages), `sink.rs`
//! (the producer and the `Sink`), `probe.rs` (the connection test of the manager's API).

mod delivery;
mod exactly_once;
mod messages;
mod murmur2;
mod owner_claim;
mod probe;
mod sink;
#[cfg(test)]
mod test_events;
mod topic;

pub use probe::probe_brokers;
pub use sink::KafkaSink;
