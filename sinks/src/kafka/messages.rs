//! Events to Kafka messages: topic, key, payload and (for `partition_by = "single"`) the
//! partition. Pure: the sink sends what this returns.

use std::sync::Arc;

use sluice_core::config::PartitionBy;
use sluice_core::{Event, EventKind};

use super::topic::{BadTopic, Topics};
use crate::formats::{contexts, Encoder};

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Message {
    pub topic: Arc<str>,
    /// `None`: no key (only events without a table have none).
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    /// `Some(0)` for `partition_by = "single"`; `None` lets the partitioner hash the key.
    pub partition: Option<i32>,
}

/// Turns events into messages for one sink.
pub(super) struct Messages {
    pub encoder: Encoder,
    pub topics: Topics,
    pub partition_by: PartitionBy,
}

impl Messages {
    /// The messages of `events`, in order. `events` must hold whole transactions when the
    /// format needs them (the sink sees to that).
    pub fn build(&mut self, events: &[Event], now_ms: u64) -> Result<Vec<Message>, BadTopic> {
        let ctx = contexts(events, now_ms);
        let mut out = Vec::with_capacity(events.len());
        for (event, ctx) in events.iter().zip(&ctx) {
            let Some(topic) = self.topics.of(event)? else {
                continue;
            };
            let mut payload = Vec::new();
            if !self.encoder.encode(event, ctx, &mut payload) {
                continue;
            }
            out.push(Message {
                topic,
                key: self.key(event),
                payload,
                partition: (self.partition_by == PartitionBy::Single).then_some(0),
            });
        }
        Ok(out)
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

    use super::super::test_events::{begin, commit, insert, table};
    use super::*;
    use crate::formats::Format;

    fn messages(format: Format, topic: &str, partition_by: PartitionBy) -> Messages {
        Messages {
            encoder: Encoder::new(format),
            topics: Topics::new(TopicTemplate::parse(topic).unwrap()),
            partition_by,
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
        assert_eq!(out[0].payload, reference);
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
}
