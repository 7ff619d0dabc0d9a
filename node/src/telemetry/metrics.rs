//! The Prometheus metrics of a node: every metric Sluice exports is defined here, once, with its
//! help text (the contract is `docs/metrics.md`).
//!
//! Crate: `prometheus-client`, the Prometheus project's own Rust client for the OpenMetrics
//! format. It keeps metrics in an explicit registry (no process-global state, so tests and
//! several nodes in one process stay apart) and types label sets as structs, so a metric cannot
//! be given the wrong labels.
//!
//! Labels are low-cardinality: the task name, the sink name and the operation. The pipeline
//! fetches its handles once per task and sink ([`Metrics::task`], [`Metrics::sink`]); updating
//! one is an atomic add, never a lookup.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabels {
    task: String,
    sink: String,
}

/// What a sink was asked to do.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values are the variant names
pub enum SinkOp {
    /// Taking a batch.
    write,
    /// Making what was written durable.
    flush,
    /// Making what was written durable together with the resume position (a flush for most
    /// sinks, the transaction commit for Kafka exactly-once).
    commit,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkOpLabels {
    task: String,
    sink: String,
    op: SinkOp,
}

type GaugeF64 = Gauge<f64, AtomicU64>;

/// Every metric family of a node.
pub struct Metrics {
    registry: Registry,
    source_events: Family<TaskLabels, Counter>,
    source_bytes: Family<TaskLabels, Counter>,
    source_reconnects: Family<TaskLabels, Counter>,
    delivered_events: Family<TaskLabels, Counter>,
    checkpoints: Family<TaskLabels, Counter>,
    checkpoint_time: Family<TaskLabels, Gauge>,
    lag: Family<TaskLabels, GaugeF64>,
    queue_batches: Family<TaskLabels, Gauge>,
    queue_bytes: Family<TaskLabels, Gauge>,
    sink_events: Family<SinkLabels, Counter>,
    sink_up: Family<SinkLabels, Gauge>,
    sink_failures: Family<SinkOpLabels, Counter>,
    sink_duration: Family<SinkOpLabels, Histogram>,
}

/// One task's metric handles.
#[derive(Clone)]
pub struct TaskMetrics {
    pub source_events: Counter,
    pub source_bytes: Counter,
    pub source_reconnects: Counter,
    pub delivered_events: Counter,
    pub checkpoints: Counter,
    pub checkpoint_time: Gauge,
    pub lag: GaugeF64,
    pub queue_batches: Gauge,
    pub queue_bytes: Gauge,
}

/// One sink's metric handles.
#[derive(Clone)]
pub struct SinkMetrics {
    pub events: Counter,
    pub up: Gauge,
    write: OpMetrics,
    flush: OpMetrics,
    commit: OpMetrics,
}

/// The handles of one operation of one sink.
#[derive(Clone)]
pub struct OpMetrics {
    pub failures: Counter,
    pub duration: Histogram,
}

impl SinkMetrics {
    pub fn op(&self, op: SinkOp) -> &OpMetrics {
        match op {
            SinkOp::write => &self.write,
            SinkOp::flush => &self.flush,
            SinkOp::commit => &self.commit,
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry holding every Sluice metric, with no series yet.
    pub fn new() -> Metrics {
        fn reg<M>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M
        where
            M: prometheus_client::registry::Metric + Clone,
        {
            registry.register(name, help, metric.clone());
            metric
        }
        let mut r = Registry::default();
        let sink_duration = Family::<SinkOpLabels, Histogram>::new_with_constructor(
            // 1 ms to ~65 s: a local file write up to a broker's delivery timeout.
            || Histogram::new(exponential_buckets(0.001, 2.0, 17)),
        );
        // The encoder appends `_total` to counters and a `.` to help texts.
        Metrics {
            source_events: reg(
                &mut r,
                "sluice_source_events",
                "Events decoded from the binlog (before filtering)",
                Family::default(),
            ),
            source_bytes: reg(
                &mut r,
                "sluice_source_bytes",
                "Binlog bytes received (whole events)",
                Family::default(),
            ),
            source_reconnects: reg(
                &mut r,
                "sluice_source_reconnects",
                "Times the binlog stream was re-established",
                Family::default(),
            ),
            delivered_events: reg(
                &mut r,
                "sluice_delivered_events",
                "Events (after filtering) that every sink took",
                Family::default(),
            ),
            checkpoints: reg(
                &mut r,
                "sluice_checkpoints",
                "Checkpoints written",
                Family::default(),
            ),
            checkpoint_time: reg(
                &mut r,
                "sluice_checkpoint_timestamp_seconds",
                "When the last checkpoint was written (Unix time)",
                Family::default(),
            ),
            lag: reg(
                &mut r,
                "sluice_lag_seconds",
                "Delivery time minus binlog time of the last delivered event",
                Family::default(),
            ),
            queue_batches: reg(
                &mut r,
                "sluice_queue_batches",
                "Event batches queued between source and sinks",
                Family::default(),
            ),
            queue_bytes: reg(
                &mut r,
                "sluice_queue_bytes",
                "Estimated bytes of the events queued or being delivered",
                Family::default(),
            ),
            sink_events: reg(
                &mut r,
                "sluice_sink_events",
                "Events a sink accepted",
                Family::default(),
            ),
            sink_up: reg(
                &mut r,
                "sluice_sink_up",
                "1 while the sink's last operation succeeded, 0 while failing",
                Family::default(),
            ),
            sink_failures: reg(
                &mut r,
                "sluice_sink_failures",
                "Failed sink operations (each is retried)",
                Family::default(),
            ),
            sink_duration: reg(
                &mut r,
                "sluice_sink_duration_seconds",
                "Time of one successful sink operation",
                sink_duration,
            ),
            registry: r,
        }
    }

    /// The handles of task `task`; its series appear (at zero) from now on.
    pub fn task(&self, task: &str) -> TaskMetrics {
        let l = TaskLabels {
            task: task.to_string(),
        };
        TaskMetrics {
            source_events: self.source_events.get_or_create_owned(&l),
            source_bytes: self.source_bytes.get_or_create_owned(&l),
            source_reconnects: self.source_reconnects.get_or_create_owned(&l),
            delivered_events: self.delivered_events.get_or_create_owned(&l),
            checkpoints: self.checkpoints.get_or_create_owned(&l),
            checkpoint_time: self.checkpoint_time.get_or_create_owned(&l),
            lag: self.lag.get_or_create_owned(&l),
            queue_batches: self.queue_batches.get_or_create_owned(&l),
            queue_bytes: self.queue_bytes.get_or_create_owned(&l),
        }
    }

    /// The handles of sink `sink` of task `task`.
    pub fn sink(&self, task: &str, sink: &str) -> SinkMetrics {
        let l = SinkLabels {
            task: task.to_string(),
            sink: sink.to_string(),
        };
        let op = |op| {
            let l = SinkOpLabels {
                task: task.to_string(),
                sink: sink.to_string(),
                op,
            };
            OpMetrics {
                failures: self.sink_failures.get_or_create_owned(&l),
                duration: self.sink_duration.get_or_create_owned(&l),
            }
        };
        SinkMetrics {
            events: self.sink_events.get_or_create_owned(&l),
            up: self.sink_up.get_or_create_owned(&l),
            write: op(SinkOp::write),
            flush: op(SinkOp::flush),
            commit: op(SinkOp::commit),
        }
    }

    /// Every metric in the OpenMetrics text format (which Prometheus reads).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_series_with_its_labels() {
        let m = Metrics::new();
        let t = m.task("orders");
        t.source_events.inc_by(3);
        t.lag.set(1.5);
        let s = m.sink("orders", "kafka-main");
        s.up.set(1);
        s.events.inc_by(2);
        s.op(SinkOp::write).duration.observe(0.004);
        let text = m.encode().unwrap();
        for line in [
            "sluice_source_events_total{task=\"orders\"} 3",
            "sluice_lag_seconds{task=\"orders\"} 1.5",
            "sluice_sink_events_total{task=\"orders\",sink=\"kafka-main\"} 2",
            "sluice_sink_up{task=\"orders\",sink=\"kafka-main\"} 1",
            "sluice_sink_failures_total{task=\"orders\",sink=\"kafka-main\",op=\"flush\"} 0",
            "sluice_sink_duration_seconds_count{task=\"orders\",sink=\"kafka-main\",op=\"write\"} 1",
            "sluice_queue_bytes{task=\"orders\"} 0",
        ] {
            assert!(text.contains(line), "no {line:?} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
