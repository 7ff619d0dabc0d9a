//! Which topic an event goes to: the config's template rendered for the event's table, once per
//! table (a lookup per row after that, no allocation).

use std::collections::HashMap;
use std::sync::Arc;

use sluice_core::config::{check_topic_name, TopicTemplate};
use sluice_core::{Event, EventKind};

/// A rendered topic that Kafka would refuse (a database or table name with a character topics
/// cannot hold): the row cannot be sent as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BadTopic {
    /// `db.table`.
    pub table: String,
    pub topic: String,
    pub detail: String,
}

/// Topic routing with a per-table cache.
pub(super) struct Topics {
    template: TopicTemplate,
    /// database -> table -> topic. Two levels so a lookup borrows the event's names.
    cache: HashMap<String, HashMap<String, Arc<str>>>,
}

impl Topics {
    pub fn new(template: TopicTemplate) -> Topics {
        Topics {
            template,
            cache: HashMap::new(),
        }
    }

    /// The topic of `event`, or `None` when it has none: events without a table (begin,
    /// commit, DDL, incident) go only to a fixed topic, since a per-table topic cannot say
    /// which table they belong to.
    pub fn of(&mut self, event: &Event) -> Result<Option<Arc<str>>, BadTopic> {
        let EventKind::Row(row) = &event.kind else {
            return Ok(self
                .template
                .is_fixed()
                .then(|| Arc::from(self.template.render("", "").as_str())));
        };
        let (db, table) = (&row.table.database, &row.table.table);
        if let Some(topic) = self
            .cache
            .get(db.as_str())
            .and_then(|t| t.get(table.as_str()))
        {
            return Ok(Some(topic.clone()));
        }
        let topic = self.template.render(db, table);
        check_topic_name(&topic).map_err(|detail| BadTopic {
            table: format!("{db}.{table}"),
            topic: topic.clone(),
            detail,
        })?;
        let topic: Arc<str> = Arc::from(topic.as_str());
        self.cache
            .entry(db.clone())
            .or_default()
            .insert(table.clone(), topic.clone());
        Ok(Some(topic))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_events::{begin, insert, table};
    use super::*;

    #[test]
    fn rows_go_to_their_tables_topic_and_boundaries_only_to_a_fixed_one() {
        let mut topics = Topics::new(TopicTemplate::parse("cdc.{db}.{table}").unwrap());
        let event = insert(&table("inventory", "products", true), 1);
        assert_eq!(
            topics.of(&event).unwrap().as_deref(),
            Some("cdc.inventory.products")
        );
        // Cached: the same Arc comes back.
        let (a, b) = (topics.of(&event).unwrap(), topics.of(&event).unwrap());
        assert!(Arc::ptr_eq(&a.unwrap(), &b.unwrap()));
        assert_eq!(topics.of(&begin()).unwrap(), None);

        let mut fixed = Topics::new(TopicTemplate::parse("events").unwrap());
        assert_eq!(fixed.of(&begin()).unwrap().as_deref(), Some("events"));
        assert_eq!(fixed.of(&event).unwrap().as_deref(), Some("events"));
    }

    #[test]
    fn a_table_name_kafka_refuses_is_reported() {
        let mut topics = Topics::new(TopicTemplate::parse("{db}.{table}").unwrap());
        let event = insert(&table("shop", "order lines", true), 1);
        let bad = topics.of(&event).unwrap_err();
        assert_eq!(bad.table, "shop.order lines");
        assert_eq!(bad.topic, "shop.order lines");
        assert!(bad.detail.contains("' ' cannot be"), "{bad:?}");
    }
}
