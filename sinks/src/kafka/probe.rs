//! A Kafka sink's connection test: asks the brokers for their metadata with the sink's own
//! client settings (so SASL and TLS `properties` are tried too), and says whether its topic
//! exists. Sends nothing.

use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::metadata::Metadata;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;
use sluice_core::config::KafkaSinkConfig;

use crate::SinkError;

/// What the brokers said, e.g. `1 broker answered (0 at 127.0.0.1:19092); topic shop.orders
/// has 3 partitions`. Fails when no broker answers within `within`.
pub async fn probe_brokers(
    config: &KafkaSinkConfig,
    within: Duration,
) -> Result<String, SinkError> {
    let error = |what: String, source: KafkaError| SinkError::Kafka {
        sink: config.name().to_string(),
        topic: config.topic.clone(),
        what,
        source: Box::new(source),
    };
    let mut client_config = ClientConfig::new();
    for (key, value) in &config.properties {
        client_config.set(key, value);
    }
    client_config.set("bootstrap.servers", &config.brokers);
    let producer: BaseProducer = client_config
        .create()
        .map_err(|e| error("cannot create a client (check `properties`)".into(), e))?;
    // librdkafka's metadata call blocks: off the async workers.
    let metadata =
        tokio::task::spawn_blocking(move || producer.client().fetch_metadata(None, within))
            .await
            .unwrap_or(Err(KafkaError::Canceled))
            .map_err(|e| {
                error(
                    format!(
                    "no broker of `brokers` = {:?} answered within {} ms (check the addresses, \
                     that the brokers run, and the security `properties`)",
                    config.brokers,
                    within.as_millis()
                ),
                    e,
                )
            })?;
    Ok(describe(&metadata, &config.topic))
}

fn describe(metadata: &Metadata, topic: &str) -> String {
    let brokers: Vec<String> = metadata
        .brokers()
        .iter()
        .map(|b| format!("{} at {}:{}", b.id(), b.host(), b.port()))
        .collect();
    let s = if brokers.len() == 1 { "" } else { "s" };
    let mut text = format!(
        "{} broker{s} answered ({})",
        brokers.len(),
        brokers.join(", ")
    );
    // A template's topics depend on the tables: nothing to look up yet.
    if !topic.contains('{') {
        match metadata.topics().iter().find(|t| t.name() == topic) {
            Some(t) if t.error().is_none() => text.push_str(&format!(
                "; topic {topic} has {} partition(s)",
                t.partitions().len()
            )),
            _ => text.push_str(&format!(
                "; topic {topic} does not exist yet (the first message creates it if the \
                 brokers auto-create topics)"
            )),
        }
    }
    text
}
