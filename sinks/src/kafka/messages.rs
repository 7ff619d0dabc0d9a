//! Events to Kafka messages: topic, key, payload and (for `partition_by = "single"`) the
//! partition. Pure: the sink sends what this returns.

use std::sync::Arc;

use sluice_core::config::PartitionBy;
use sluice_core::{Event, EventKind, Op};

use super::topic::{BadTopic, Topics};
use crate::formats::{contexts, Encoder, MessageContext};

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Message {
    pub topic: Arc<str>,
    /// `None`: no key (only events without a table have none).
    pub key: Option<Vec<u8>>,
    /// `None`: a tombstone.
    pub payload: Option<Vec<u8>>,
    /// `Some(0)` for `partition_by = "single"`; `None` lets the partitioner hash the key.
    pub partition: Option<i32>,
    /// Where the event is in the source: the `sluice.position` header, so that consumers (and
    /// the exactly-once restart check) can tell a replay from a new event whatever the format.
    pub position: MessagePosition,
}

/// A message's place in the task's stream: strictly increasing from one message to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MessagePosition {
    pub file: Arc<str>,
    pub pos: u64,
    pub row: u32,
    /// 0 for the event's message, 1 for the tombstone after it.
    pub sub: u8,
}

/// The header naming a message's source position.
pub(super) const POSITION_HEADER: &str = "sluice.position";

impl MessagePosition {
    fn of(event: &Event, sub: u8) -> MessagePosition {
        MessagePosition {
            file: event.position.file.clone(),
            pos: event.position.pos,
            row: event.position.row,
            sub,
        }
    }

    /// The header text: `FILE:POS:ROW` (and `:1` for a tombstone).
    pub fn header(&self) -> String {
        let mut text = String::new();
        self.write_header(&mut text);
        text
    }

    /// Appends [`MessagePosition::header`] to `out` (the sink reuses one buffer).
    pub fn write_header(&self, out: &mut String) {
        let mut number = itoa::Buffer::new();
        out.push_str(&self.file);
        out.push(':');
        out.push_str(number.format(self.pos));
        out.push(':');
        out.push_str(number.format(self.row));
        if self.sub != 0 {
            out.push(':');
            out.push_str(number.format(self.sub));
        }
    }

    /// Reads [`MessagePosition::header`] back.
    pub fn parse(text: &str) -> Option<MessagePosition> {
        let mut parts = text.rsplitn(4, ':').collect::<Vec<_>>();
        parts.reverse();
        // `FILE:POS:ROW` splits from the right into at most 4 parts; with 4, either the first
        // is FILE and the last SUB, or the file name itself holds a colon.
        let (file, pos, row, sub) = match parts.as_slice() {
            [file, pos, row] => (*file, *pos, *row, "0"),
            [file, pos, row, sub] => match (pos.parse::<u64>(), row.parse::<u32>()) {
                (Ok(_), Ok(_)) if sub.parse::<u8>().is_ok() && !file.is_empty() => {
                    (*file, *pos, *row, *sub)
                }
                _ => return None,
            },
            _ => return None,
        };
        Some(MessagePosition {
            file: Arc::from(file),
            pos: pos.parse().ok()?,
            row: row.parse().ok()?,
            sub: sub.parse().ok()?,
        })
    }

    /// Stream order: binlog file (by its numeric suffix), offset, row, tombstone last.
    pub fn is_after(&self, other: &MessagePosition) -> bool {
        let within = (self.pos, self.row, self.sub) > (other.pos, other.row, other.sub);
        // Almost always the same file: compare without building positions.
        if self.file == other.file {
            return within;
        }
        let file = |f: &str| sluice_core::BinlogPosition::new(f, 0);
        let (a, b) = (file(&self.file), file(&other.file));
        a > b || (a == b && within)
    }
}

/// Turns events into messages for one sink.
pub(super) struct Messages {
    pub encoder: Encoder,
    pub topics: Topics,
    pub partition_by: PartitionBy,
    /// A tombstone after each delete of a row with a primary key.
    pub tombstones: bool,
    /// `schema_changes_topic`: where DDL events go, as the format's schema-change message
    /// keyed by database, instead of following `topics`.
    pub schema_changes: Option<Arc<str>>,
}

impl Messages {
    /// The messages of `events`, in order. `events` must hold whole transactions when the
    /// format needs them (the sink sees to that).
    pub fn build(&mut self, events: &[Event], now_ms: u64) -> Result<Vec<Message>, BadTopic> {
        let ctx = contexts(events, now_ms);
        let mut out = Vec::with_capacity(events.len());
        for (event, ctx) in events.iter().zip(&ctx) {
            if let Some(message) = self.schema_change(event, ctx) {
                out.push(message);
                continue;
            }
            let Some(topic) = self.topics.of(event)? else {
                continue;
            };
            let mut payload = Vec::new();
            if !self.encoder.encode(event, ctx, &mut payload) {
                continue;
            }
            let partition = (self.partition_by == PartitionBy::Single).then_some(0);
            let key = self.key(event);
            let tombstone = self.tombstones
                && matches!(&event.kind, EventKind::Row(r) if r.op == Op::Delete && !r.table.primary_key.is_empty());
            if tombstone {
                out.push(Message {
                    topic: topic.clone(),
                    key: key.clone(),
                    payload: Some(payload),
                    partition,
                    position: MessagePosition::of(event, 0),
                });
                out.push(Message {
                    topic,
                    key,
                    payload: None,
                    partition,
                    position: MessagePosition::of(event, 1),
                });
            } else {
                out.push(Message {
                    topic,
                    key,
                    payload: Some(payload),
                    partition,
                    position: MessagePosition::of(event, 0),
                });
            }
        }
        Ok(out)
    }

    /// With `schema_changes_topic`, the message of a DDL event there; `None` otherwise. Keyed
    /// by the database the statement changes, so each database's DDL stays in order on one
    /// partition (`partition_by = "single"` still means partition 0).
    fn schema_change(&self, event: &Event, ctx: &MessageContext) -> Option<Message> {
        let topic = self.schema_changes.as_ref()?;
        let mut payload = Vec::new();
        if !self.encoder.encode_schema_change(event, ctx, &mut payload) {
            return None;
        }
        let mut key = Vec::new();
        let key = self
            .encoder
            .schema_change_key(event, &mut key)
            .then_some(key);
        Some(Message {
            topic: topic.clone(),
            key,
            payload: Some(payload),
            partition: (self.partition_by == PartitionBy::Single).then_some(0),
            position: MessagePosition::of(event, 0),
        })
    }

    fn key(&self, event: &Event) -> Option<Vec<u8>> {
        let table_key = || match &event.kind {
            EventKind::Row(row) => {
                Some(format!("{}.{}", row.table.database, row.table.table).into_bytes())
            }
            _ => None,
        };
        if self.partition_by == PartitionBy::Table {
            return table_key();
        }
        let mut key = Vec::new();
        if self.encoder.key(event, &mut key) {
            Some(key)
        } else if self.partition_by == PartitionBy::Key {
            // No primary key: partition by table, which keeps the table's rows in order.
            table_key()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use sluice_core::config::TopicTemplate;

    use super::super::test_events::{begin, commit, ddl, delete, insert, table};
    use super::*;
    use crate::formats::Format;

    fn messages(format: Format, topic: &str, partition_by: PartitionBy) -> Messages {
        Messages {
            encoder: Encoder::new(format),
            topics: Topics::new(TopicTemplate::parse(topic).unwrap()),
            partition_by,
            tombstones: false,
            schema_changes: None,
        }
    }

    fn text(bytes: &Option<Vec<u8>>) -> Option<&str> {
        bytes.as_deref().map(|b| std::str::from_utf8(b).unwrap())
    }

    #[test]
    fn rows_are_keyed_by_primary_key_and_keyless_tables_by_name() {
        let mut m = messages(Format::Sluice, "t.{db}.{table}", PartitionBy::Key);
        let (users, log) = (table("shop", "users", true), table("shop", "log", false));
        let events = [begin(), insert(&users, 7), insert(&log, 1), commit(9)];
        let out = m.build(&events, 1).unwrap();
        // Begin and commit have no table, so no per-table topic.
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(&*out[0].topic, "t.shop.users");
        assert_eq!(
            text(&out[0].key),
            Some(r#"{"db":"shop","table":"users","pk":{"id":7}}"#)
        );
        assert_eq!(out[0].partition, None);
        assert_eq!(&*out[1].topic, "t.shop.log");
        assert_eq!(text(&out[1].key), Some("shop.log"));
        let mut reference = Vec::new();
        sluice_core::json::write_event(&mut reference, &events[1]);
        assert_eq!(out[0].payload, Some(reference));
    }

    #[test]
    fn table_and_single_partitioning() {
        let users = table("shop", "users", true);
        let events = [begin(), insert(&users, 7), commit(9)];
        let mut m = messages(Format::Sluice, "all", PartitionBy::Table);
        let out = m.build(&events, 1).unwrap();
        assert_eq!(out.len(), 3, "a fixed topic takes every event: {out:?}");
        assert_eq!(text(&out[0].key), None);
        assert_eq!(text(&out[1].key), Some("shop.users"));

        let mut m = messages(Format::DebeziumJson, "all", PartitionBy::Single);
        let out = m.build(&events, 1).unwrap();
        assert_eq!(out.len(), 1, "debezium has messages for rows only: {out:?}");
        assert_eq!(out[0].partition, Some(0));
        assert_eq!(text(&out[0].key), Some(r#"{"id":7}"#));
    }

    #[test]
    fn tombstones_follow_deletes_of_keyed_rows_only() {
        let mut m = messages(Format::DebeziumJson, "t.{db}.{table}", PartitionBy::Key);
        m.tombstones = true;
        let (users, log) = (table("shop", "users", true), table("shop", "log", false));
        let events = [begin(), delete(&users, 7), delete(&log, 1), commit(9)];
        let out = m.build(&events, 1).unwrap();
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(out[0].payload.is_some());
        assert_eq!(out[1].payload, None, "the tombstone");
        assert_eq!(out[1].key, out[0].key);
        assert!(out[1].position.is_after(&out[0].position));
        assert_eq!(out[1].position.header(), "b.000001:4:0:1");
        assert!(out[2].payload.is_some(), "no tombstone for a keyless table");
    }

    #[test]
    fn without_a_schema_changes_topic_ddl_follows_the_topic_as_before() {
        let ddl = ddl("shop", "ALTER TABLE orders ADD c INT");
        let mut m = messages(Format::Sluice, "t.{db}.{table}", PartitionBy::Key);
        assert!(m.build(std::slice::from_ref(&ddl), 1).unwrap().is_empty());
        let mut m = messages(Format::Sluice, "all", PartitionBy::Key);
        let out = m.build(std::slice::from_ref(&ddl), 1).unwrap();
        assert_eq!((out.len(), &*out[0].topic, &out[0].key), (1, "all", &None));
        let mut m = messages(Format::DebeziumJson, "all", PartitionBy::Key);
        assert!(m.build(&[ddl], 1).unwrap().is_empty());
    }

    #[test]
    fn ddl_goes_to_the_schema_changes_topic_in_every_format_keyed_by_database() {
        let users = table("shop", "users", true);
        let events = [
            ddl("shop", "CREATE TABLE users (id INT PRIMARY KEY, v TEXT)"),
            begin(),
            insert(&users, 7),
            commit(9),
            ddl("shop", "DROP DATABASE old_shop"),
        ];
        for format in Format::ALL {
            for topic in ["t.{db}.{table}", "all"] {
                let mut m = messages(format, topic, PartitionBy::Key);
                m.schema_changes = Some(Arc::from("t.ddl"));
                let out = m.build(&events, 1).unwrap();
                let ddl: Vec<_> = out.iter().filter(|m| &*m.topic == "t.ddl").collect();
                assert_eq!(ddl.len(), 2, "{format} {topic}: {out:?}");
                let keys: Vec<_> = ddl.iter().map(|m| text(&m.key).unwrap()).collect();
                if format == Format::DebeziumJson {
                    assert_eq!(
                        keys,
                        [
                            r#"{"databaseName":"shop"}"#,
                            r#"{"databaseName":"old_shop"}"#
                        ]
                    );
                } else {
                    assert_eq!(keys, ["shop", "old_shop"], "{format}");
                }
                // The row still goes to its own topic; DDL nowhere else.
                let rows: Vec<_> = out.iter().filter(|m| &*m.topic != "t.ddl").collect();
                let expected = if topic == "all" {
                    "all"
                } else {
                    "t.shop.users"
                };
                assert!(rows.iter().all(|m| &*m.topic == expected), "{out:?}");
                assert!(
                    rows.iter()
                        .all(|m| !text(&m.payload).unwrap_or("").contains("DROP DATABASE")),
                    "{format} {topic}: {rows:?}"
                );
            }
        }
        let mut m = messages(Format::MaxwellJson, "all", PartitionBy::Single);
        m.schema_changes = Some(Arc::from("t.ddl"));
        let out = m.build(&events[..1], 1).unwrap();
        assert_eq!(out[0].partition, Some(0));
        let body: serde_json::Value =
            serde_json::from_slice(out[0].payload.as_deref().unwrap()).unwrap();
        assert_eq!(body["type"], "table-create");
    }

    #[test]
    fn positions_read_back_and_order_by_file_number() {
        let p = MessagePosition::parse("mariadb-bin.000010:1234:5").unwrap();
        assert_eq!(
            (&*p.file, p.pos, p.row, p.sub),
            ("mariadb-bin.000010", 1234, 5, 0)
        );
        assert_eq!(MessagePosition::parse(&p.header()), Some(p.clone()));
        let t = MessagePosition::parse("mariadb-bin.000010:1234:5:1").unwrap();
        assert_eq!(t.sub, 1);
        assert!(t.is_after(&p) && !p.is_after(&t) && !p.is_after(&p));
        let earlier = MessagePosition::parse("mariadb-bin.000009:99999:0").unwrap();
        assert!(p.is_after(&earlier));
        assert_eq!(MessagePosition::parse("nonsense"), None);
        assert_eq!(MessagePosition::parse("f:x:1"), None);
    }
}
