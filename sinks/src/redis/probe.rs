//! A Redis sink's connection test: connects (TLS and AUTH as the URL says), sends PING and
//! reads the server's version. Writes nothing.

use std::time::Duration;

use redis::{ErrorKind, RedisError};
use sluice_core::config::RedisSinkConfig;

use crate::SinkError;

/// What Redis said, e.g. `Redis 7.0.15 answered PING`. Fails when it does not answer within
/// `within`, refuses the login, or answers PING with something else.
pub async fn probe_redis(config: &RedisSinkConfig, within: Duration) -> Result<String, SinkError> {
    let error = |what: &str, source: RedisError| SinkError::Redis {
        sink: config.name().to_string(),
        url: config.redacted_url(),
        what: what.to_string(),
        source,
    };
    let client =
        redis::Client::open(config.url.as_str()).map_err(|e| error("the URL is not usable", e))?;
    let talk = async {
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| error("cannot connect and log in", e))?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| error("PING failed", e))?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        Ok::<_, SinkError>((pong, info))
    };
    let (pong, info) = tokio::time::timeout(within, talk).await.map_err(|_| {
        error(
            &format!("no answer within {} ms", within.as_millis()),
            RedisError::from((ErrorKind::Io, "timed out")),
        )
    })??;
    if pong != "PONG" {
        return Err(error(
            "PING was not answered with PONG",
            RedisError::from((ErrorKind::Parse, "unexpected reply", pong)),
        ));
    }
    let version = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(str::trim)
        .unwrap_or("(version unknown)");
    Ok(format!("Redis {version} answered PING"))
}
