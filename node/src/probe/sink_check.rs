//! One sink's connection test, bounded in time, as the API reports it.

use std::time::Duration;

use sluice_core::config::SinkConfig;
use sluice_manager::probe::{CheckOutcome, SinkCheck};
use sluice_sinks::{file, kafka, redis, SinkError};

/// Tries the sink's service within `within`: Kafka's brokers answer a metadata request, Redis
/// answers PING (after AUTH), a file sink's folder takes a new file.
pub async fn check_sink(sink: &SinkConfig, within: Duration) -> SinkCheck {
    let (kind, tried) = match sink {
        SinkConfig::Kafka(k) => {
            // librdkafka's own deadline, a little inside ours so its error is the one reported.
            let inner = within.saturating_sub(Duration::from_millis(500));
            (
                "kafka",
                bounded(kafka::probe_brokers(k, inner), within).await,
            )
        }
        SinkConfig::Redis(r) => (
            "redis",
            bounded(redis::probe_redis(r, within), within).await,
        ),
        SinkConfig::File(f) => ("file", bounded(file::probe_folder(f), within).await),
    };
    let outcome = match tried {
        Ok(detail) => CheckOutcome::passed(detail),
        Err(error) => CheckOutcome::failed(error),
    };
    SinkCheck {
        name: sink.name().to_string(),
        kind: kind.to_string(),
        outcome,
    }
}

async fn bounded(
    check: impl std::future::Future<Output = Result<String, SinkError>>,
    within: Duration,
) -> Result<String, String> {
    match tokio::time::timeout(within, check).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", within.as_millis())),
    }
}
