//! The source's connection test: connect and log in, then the checks a task runs before it
//! streams (binlog on, ROW format, FULL row image, replication grants), and where the binlog
//! ends now. Opens no replication stream.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use sluice_core::config::TaskConfig;
use sluice_manager::probe::CheckOutcome;

use super::{mysql_url, source_label};
use crate::error::SourceError;
use crate::source::connection::{check_preconditions, connect};
use crate::source::preconditions::{Flavor, ServerInfo};

/// Connects as the task would, within `within`.
pub async fn check_source(task: &TaskConfig, within: Duration) -> CheckOutcome {
    let label = source_label(task);
    match tokio::time::timeout(within, inspect(task, &label)).await {
        Ok(Ok(detail)) => CheckOutcome::passed(detail),
        Ok(Err(e)) => CheckOutcome::failed(e.to_string()),
        Err(_) => CheckOutcome::failed(format!(
            "source {label}: no answer within {} ms (connecting, logging in and reading the \
             server's settings): check the host, the port and the firewall",
            within.as_millis()
        )),
    }
}

async fn inspect(task: &TaskConfig, label: &str) -> Result<String, SourceError> {
    let opts = Opts::from_url(&mysql_url(task)).map_err(|e| SourceError::Connect {
        source_name: label.to_string(),
        detail: format!("bad source URL: {e}"),
    })?;
    let mut conn = connect(label, &opts).await?;
    let info = check_preconditions(label, &mut conn).await?;
    if info.server_id == task.source.server_id {
        return Err(SourceError::Query {
            source_name: label.to_string(),
            what: "comparing server ids".into(),
            detail: format!(
                "source.server_id {} is the server's own server_id: give the task another, \
                 unique among the server's replicas",
                task.source.server_id
            ),
        });
    }
    let end = binlog_end(&mut conn).await;
    let _ = conn.disconnect().await;
    Ok(describe(&info, end.as_deref()))
}

/// `SHOW MASTER STATUS` as `FILE:POS`; `None` if the server does not say.
async fn binlog_end(conn: &mut Conn) -> Option<String> {
    let mut row: mysql_async::Row = conn.query_first("SHOW MASTER STATUS").await.ok()??;
    let file: String = row.take(0)?;
    let pos: u64 = row.take(1)?;
    Some(format!("{file}:{pos}"))
}

/// E.g. `MariaDB 10.11.9, binlog ROW, row image FULL, row metadata FULL, checksum CRC32,
/// server_id 1, binlog end mysql-bin.000003:1234`.
fn describe(info: &ServerInfo, end: Option<&str>) -> String {
    let flavor = match info.flavor {
        Flavor::Mariadb => "MariaDB",
        Flavor::Mysql => "MySQL",
    };
    let version = info.version.split('-').next().unwrap_or(&info.version);
    let metadata = if info.full_row_metadata {
        "FULL"
    } else {
        "MINIMAL (column names are read from information_schema)"
    };
    let checksum = if info.checksum { "CRC32" } else { "none" };
    let mut text = format!(
        "{flavor} {version}, binlog ROW, row image FULL, row metadata {metadata}, checksum \
         {checksum}, server_id {}",
        info.server_id
    );
    if let Some(end) = end {
        text.push_str(&format!(", binlog end {end}"));
    }
    text
}
