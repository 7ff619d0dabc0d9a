//! The sink's connection to Redis: a `ConnectionManager` (which reconnects by itself), reply
//! deadlines, and a fence that keeps commands in order across reconnects.
//!
//! Order: commands of one connection run in the order sent, so per-key order holds as long as
//! everything goes over one connection. Two things could break that, and both are handled:
//!
//! - A batch that timed out is retried. On a connection that is still up (Redis stalled, say
//!   SIGSTOP), the manager keeps it (a timeout is not a dropped connection), so the retry queues
//!   behind the first attempt on the same socket: Redis runs both, in order, and the commands
//!   are idempotent.
//! - After a reconnect, the old connection may still hold commands Redis has not read yet (a
//!   stalled server, a half-open link); read later, they would overwrite newer values. So before
//!   any data goes over a connection not yet confirmed, the sink sends a fence: `CLIENT SETNAME`,
//!   `CLIENT ID` and `CLIENT KILL ID <the previous connection> SKIPME yes`. Redis runs commands
//!   one at a time, so whatever the old connection still held either ran before the kill, ahead
//!   of every newer command, or never runs. The fence is also what tells the sink that Redis is
//!   reachable at start.
//!
//! The manager speaks RESP2 whatever the URL says: under RESP3 it may reconnect in the
//! background, after a disconnect push, without a failed request for the sink to notice.
//! `number_of_retries` is 0 and replies have no deadline of their own: the runner already
//! retries a failed batch with backoff and logs each attempt, and the deadline here scales with
//! the batch.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, Pipeline, ProtocolVersion, RedisError, Value};

use crate::SinkError;

/// How long one connection attempt (TCP, TLS, AUTH, SELECT) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The reply deadline of a batch: this much, plus [`PER_MIB`] per MiB sent.
const BASE_TIMEOUT: Duration = Duration::from_secs(2);
const PER_MIB: Duration = Duration::from_secs(1);

pub(super) struct Connection {
    sink: String,
    /// The URL with its password redacted, for messages.
    url: String,
    client: redis::Client,
    /// Built on first use, and again after a failure the manager does not recover from by
    /// itself (a refused AUTH or SELECT: it only reconnects after I/O errors).
    manager: Option<ConnectionManager>,
    /// `CLIENT SETNAME`: shows the sink in `CLIENT LIST`.
    client_name: String,
    /// Whether the manager's current connection passed the fence and carries no unconfirmed
    /// history: set by the fence, cleared by any failure.
    confirmed: bool,
    /// `CLIENT ID` of the last confirmed connection: the one to close at the next fence.
    last_id: Option<i64>,
    /// Whether the "cannot close the previous connection" warning was given already.
    warned_kill: bool,
}

impl Connection {
    /// Parses the URL; does not connect yet.
    pub(super) fn new(
        sink: &str,
        url: &str,
        redacted_url: String,
    ) -> Result<Connection, SinkError> {
        let error = |source| SinkError::Redis {
            sink: sink.to_string(),
            url: redacted_url.clone(),
            what: "the URL is not usable".into(),
            source,
        };
        let info = url.into_connection_info().map_err(error)?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP2);
        let client = redis::Client::open(info.set_redis_settings(settings)).map_err(error)?;
        let client_name: String = format!("sluice-{sink}")
            .chars()
            .map(|c| if c.is_ascii_graphic() { c } else { '_' })
            .collect();
        Ok(Connection {
            sink: sink.to_string(),
            url: redacted_url,
            client,
            manager: None,
            client_name,
            confirmed: false,
            last_id: None,
            warned_kill: false,
        })
    }

    /// Sends `pipe` and waits for every reply; a server error in any reply fails the batch.
    /// `bytes` (roughly what is sent) scales the deadline.
    pub(super) async fn send(&mut self, pipe: &Pipeline, bytes: usize) -> Result<(), SinkError> {
        if !self.confirmed {
            self.fence().await?;
        }
        let within = BASE_TIMEOUT + PER_MIB.mul_f64(bytes as f64 / (1 << 20) as f64);
        let mut manager = self.manager()?;
        let result = match tokio::time::timeout(within, pipe.exec_async(&mut manager)).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(within)),
        };
        result.map_err(|source| {
            self.confirmed = false;
            let n = pipe.len();
            let s = if n == 1 { "" } else { "s" };
            self.error(format!("a batch of {n} command{s} failed"), source)
        })
    }

    /// Confirms the current connection, closing the previous one (see the module docs).
    pub(super) async fn fence(&mut self) -> Result<(), SinkError> {
        let mut pipe = redis::pipe();
        pipe.cmd("CLIENT").arg("SETNAME").arg(&self.client_name);
        pipe.cmd("CLIENT").arg("ID");
        if let Some(old) = self.last_id {
            pipe.cmd("CLIENT")
                .arg("KILL")
                .arg("ID")
                .arg(old)
                .arg("SKIPME")
                .arg("yes");
        }
        // Server errors come back as values: a refused CLIENT KILL must not stop the sink.
        pipe.ignore_errors();
        let within = CONNECT_TIMEOUT + BASE_TIMEOUT;
        let mut attempt = 0;
        let replies = loop {
            attempt += 1;
            let mut manager = self.manager()?;
            let result =
                match tokio::time::timeout(within, pipe.query_async::<Vec<Value>>(&mut manager))
                    .await
                {
                    Ok(result) => result,
                    Err(_) => Err(timed_out(within)),
                };
            match result {
                Ok(replies) => break replies,
                // After a dropped connection the manager has just started a new one; a failed
                // earlier attempt may have been all this one saw (Redis back since). One more
                // try spares a whole backoff period of the runner.
                Err(source) if source.is_connection_dropped() && attempt == 1 => continue,
                Err(source) => {
                    if !source.is_io_error() {
                        // The manager would keep answering with this error: start afresh.
                        self.manager = None;
                    }
                    return Err(self.error("cannot reach it".into(), source));
                }
            }
        };
        let id = match replies.get(1) {
            Some(Value::Int(id)) => Some(*id),
            other => {
                self.warn_unfenced(&format!("CLIENT ID answered {other:?}"));
                None
            }
        };
        match replies.get(2) {
            Some(Value::Int(killed)) if *killed > 0 => tracing::info!(
                previous_client_id = self.last_id,
                "Closed the previous Redis connection, so commands it may still hold cannot \
                 run after newer ones."
            ),
            Some(Value::Int(_)) | None => {}
            Some(other) => self.warn_unfenced(&format!("CLIENT KILL answered {other:?}")),
        }
        if self.last_id.is_none() || id != self.last_id {
            tracing::info!(url = %self.url, client_id = id, "Connected to Redis.");
        }
        self.last_id = id;
        self.confirmed = true;
        Ok(())
    }

    fn manager(&mut self) -> Result<ConnectionManager, SinkError> {
        if let Some(manager) = &self.manager {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(None);
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|source| self.error("cannot set up the connection".into(), source))?;
        self.manager = Some(manager.clone());
        Ok(manager)
    }

    fn warn_unfenced(&mut self, answer: &str) {
        if !self.warned_kill {
            self.warned_kill = true;
            tracing::warn!(
                url = %self.url,
                answer,
                "Cannot close the previous Redis connection (the user may lack CLIENT ID / \
                 CLIENT KILL): after a reconnect, commands the old connection still holds could \
                 run after newer ones. Grant them for strict per-key order."
            );
        }
    }

    fn error(&self, what: String, source: RedisError) -> SinkError {
        SinkError::Redis {
            sink: self.sink.clone(),
            url: self.url.clone(),
            what,
            source,
        }
    }
}

fn timed_out(after: Duration) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no reply within {:.1} s", after.as_secs_f64()),
    ))
}
