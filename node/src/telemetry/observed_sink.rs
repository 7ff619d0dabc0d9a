//! A sink wrapped so that every write, flush and commit is counted, timed and recorded in the
//! status, whoever calls it: the pipeline's retry loop stays free of telemetry.
//!
//! Every method of [`Sink`] is forwarded explicitly, the ones with default bodies too: a
//! default here would hide the inner sink's own answer (`keeps_checkpoint` above all). A method
//! added to the trait must be forwarded here as well.

use std::time::{Duration, Instant};

use sluice_core::Event;
use sluice_sinks::{Sink, SinkCheckpoint, SinkError};

use super::metrics::{SinkMetrics, SinkOp};
use super::status::{now_ms, StatusBoard};

/// A sink and what reports on it.
pub struct ObservedSink {
    inner: Box<dyn Sink>,
    task: String,
    metrics: SinkMetrics,
    board: StatusBoard,
}

impl ObservedSink {
    pub fn new(
        inner: Box<dyn Sink>,
        task: String,
        metrics: SinkMetrics,
        board: StatusBoard,
    ) -> Self {
        ObservedSink {
            inner,
            task,
            metrics,
            board,
        }
    }

    /// Records how `op`, started at `started`, ended.
    fn record(&self, op: SinkOp, started: Instant, result: &Result<(), SinkError>) {
        let name = self.inner.name();
        let op_metrics = self.metrics.op(op);
        match result {
            Ok(()) => {
                op_metrics.duration.observe(started.elapsed().as_secs_f64());
                self.metrics.up.set(1);
                let ended = self
                    .board
                    .update(&self.task, |t| t.sink(name).succeeded(now_ms()))
                    .flatten();
                if let Some(outage) = ended {
                    tracing::info!(
                        sink = name,
                        seconds = outage.seconds,
                        failed_attempts = outage.failed_attempts,
                        "Sink `{name}` recovered after {:.1} s and {} failed attempts.",
                        outage.seconds,
                        outage.failed_attempts
                    );
                }
            }
            Err(e) => {
                op_metrics.failures.inc();
                self.metrics.up.set(0);
                self.board
                    .update(&self.task, |t| t.sink(name).failed(e.to_string(), now_ms()));
            }
        }
    }
}

/// How long a write may wait for its sink before the wait itself is reported.
const STALL_AFTER: Duration = Duration::from_secs(5);

/// Awaits `op`; every `after` it is still waiting (a stalled broker or server that neither
/// answers nor fails: librdkafka, say, keeps retrying for `message.timeout.ms`), logs a
/// warning and marks the sink failing in the status, so an outage shows while it lasts. The
/// success that ends it then logs the recovery as for any failure.
async fn stall_watch<F>(
    op: F,
    name: &str,
    task: &str,
    board: &StatusBoard,
    after: Duration,
) -> Result<(), SinkError>
where
    F: std::future::Future<Output = Result<(), SinkError>>,
{
    tokio::pin!(op);
    let started = Instant::now();
    loop {
        tokio::select! {
            result = &mut op => return result,
            _ = tokio::time::sleep(after) => {
                let waited = started.elapsed().as_secs_f64();
                let message = format!(
                    "sink {name}: has waited {waited:.0} s for the sink to acknowledge what it \
                     was given (still waiting; nothing is dropped)"
                );
                tracing::warn!(sink = name, waited_s = waited, "Sink `{name}` has not acknowledged what it was given for {waited:.0} s; still waiting.");
                board.update(task, |t| t.sink(name).failed(message, now_ms()));
            }
        }
    }
}

#[async_trait::async_trait]
impl Sink for ObservedSink {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn write(&mut self, events: &[Event]) -> Result<(), SinkError> {
        let started = Instant::now();
        let name = self.inner.name().to_string();
        let write = self.inner.write(events);
        let result = stall_watch(write, &name, &self.task, &self.board, STALL_AFTER).await;
        if result.is_ok() {
            self.metrics.events.inc_by(events.len() as u64);
        }
        self.record(SinkOp::write, started, &result);
        result
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        let started = Instant::now();
        let name = self.inner.name().to_string();
        let flush = self.inner.flush();
        let result = stall_watch(flush, &name, &self.task, &self.board, STALL_AFTER).await;
        self.record(SinkOp::flush, started, &result);
        result
    }

    async fn commit(&mut self, checkpoint: &SinkCheckpoint) -> Result<(), SinkError> {
        let started = Instant::now();
        let name = self.inner.name().to_string();
        let commit = self.inner.commit(checkpoint);
        let result = stall_watch(commit, &name, &self.task, &self.board, STALL_AFTER).await;
        self.record(SinkOp::commit, started, &result);
        result
    }

    fn keeps_checkpoint(&self) -> bool {
        self.inner.keeps_checkpoint()
    }

    async fn stored_checkpoint(&mut self) -> Result<Option<SinkCheckpoint>, SinkError> {
        self.inner.stored_checkpoint().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::Metrics;
    use crate::telemetry::status::SinkState;

    /// Fails its first `failures` writes, then succeeds.
    struct Flaky {
        failures: u32,
    }

    #[async_trait::async_trait]
    impl Sink for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        async fn write(&mut self, _: &[Event]) -> Result<(), SinkError> {
            if self.failures == 0 {
                return Ok(());
            }
            self.failures -= 1;
            Err(SinkError::Io {
                sink: "flaky".into(),
                what: "write".into(),
                source: std::io::Error::other("disk unplugged"),
            })
        }
        async fn flush(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
        fn keeps_checkpoint(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn a_write_that_hangs_shows_as_failing_until_it_completes() {
        let board = StatusBoard::default();
        board.add_task("t", &["slow"]);
        let slow = async {
            tokio::time::sleep(Duration::from_millis(120)).await;
            Ok(())
        };
        let result = stall_watch(slow, "slow", "t", &board, Duration::from_millis(50)).await;
        assert!(result.is_ok());
        let s = &board.snapshot()[0].sinks[0];
        assert_eq!(
            s.state,
            SinkState::Failing,
            "the success is recorded by the caller"
        );
        assert_eq!(s.consecutive_failures, 2);
        let message = &s.last_error.as_ref().unwrap().message;
        assert!(message.contains("still waiting"), "{message}");
    }

    #[tokio::test]
    async fn failures_and_the_recovery_reach_the_status_and_the_metrics() {
        let metrics = Metrics::new();
        let board = StatusBoard::default();
        board.add_task("t", &["flaky"]);
        let handles = metrics.sink("t", "flaky");
        let mut sink = ObservedSink::new(
            Box::new(Flaky { failures: 2 }),
            "t".into(),
            handles.clone(),
            board.clone(),
        );
        assert!(sink.keeps_checkpoint(), "forwarded, not the trait default");
        assert!(sink.write(&[]).await.is_err());
        assert!(sink.write(&[]).await.is_err());
        let s = &board.snapshot()[0].sinks[0];
        assert_eq!(s.state, SinkState::Failing);
        assert_eq!(s.consecutive_failures, 2);
        let message = &s.last_error.as_ref().unwrap().message;
        assert!(message.contains("disk unplugged"), "{message}");
        assert_eq!(handles.up.get(), 0);
        assert_eq!(handles.op(SinkOp::write).failures.get(), 2);

        sink.write(&[]).await.unwrap();
        let s = &board.snapshot()[0].sinks[0];
        assert_eq!(s.state, SinkState::Ok);
        assert_eq!(s.last_outage.as_ref().unwrap().failed_attempts, 2);
        assert_eq!(handles.up.get(), 1);
    }
}
