//! What the server must offer before Sluice streams from it, each checked by name so that the
//! operator is told exactly which setting or grant is missing and how to fix it.

use std::fmt;

use mysql_async::prelude::Queryable;

/// The server flavour: it decides how GTIDs are requested and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Mysql,
    Mariadb,
}

/// A failed precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreconditionFailure {
    BinlogDisabled,
    BinlogFormat { actual: String },
    RowImage { actual: String },
    MissingGrant { grant: &'static str, grants: String },
    LoginRefused { detail: String },
}

impl fmt::Display for PreconditionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreconditionFailure::BinlogDisabled => write!(
                f,
                "binary logging is off (log_bin=0): start the server with log_bin enabled"
            ),
            PreconditionFailure::BinlogFormat { actual } => write!(
                f,
                "binlog_format is {actual}, but change capture needs ROW: set \
                 binlog_format=ROW in the server config (SET GLOBAL only affects new sessions)"
            ),
            PreconditionFailure::RowImage { actual } => write!(
                f,
                "binlog_row_image is {actual}, but Sluice needs FULL to deliver whole rows: \
                 set binlog_row_image=FULL"
            ),
            PreconditionFailure::LoginRefused { detail } => write!(
                f,
                "the server refused the login ({detail}): check the user and password in the \
                 source URL, and that the user may connect from this host"
            ),
            PreconditionFailure::MissingGrant { grant, grants } => write!(
                f,
                "the user lacks the {grant} privilege (its grants: {grants}): run GRANT \
                 REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO the user"
            ),
        }
    }
}

/// What the checks learnt of the server.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub flavor: Flavor,
    pub version: String,
    /// Whether TABLE_MAP events carry column names (`binlog_row_metadata=FULL`).
    pub full_row_metadata: bool,
    pub server_id: u32,
    /// Whether events carry a CRC32 checksum (`binlog_checksum=CRC32`).
    pub checksum: bool,
}

/// Why the checks could not run or failed.
#[derive(Debug)]
pub enum CheckError {
    Failed(PreconditionFailure),
    Query(mysql_async::Error),
}

impl From<mysql_async::Error> for CheckError {
    fn from(e: mysql_async::Error) -> Self {
        CheckError::Query(e)
    }
}

/// Runs every check, in the order an operator would fix them.
pub async fn check(conn: &mut mysql_async::Conn) -> Result<ServerInfo, CheckError> {
    let version: String = conn
        .query_first("SELECT VERSION()")
        .await?
        .unwrap_or_default();
    let flavor = if version.to_ascii_lowercase().contains("mariadb") {
        Flavor::Mariadb
    } else {
        Flavor::Mysql
    };
    let (log_bin, format, image, server_id): (String, String, String, u32) = conn
        .query_first(
            "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image, \
             @@GLOBAL.server_id",
        )
        .await?
        .unwrap_or_default();
    if !(log_bin == "1" || log_bin.eq_ignore_ascii_case("on")) {
        return Err(CheckError::Failed(PreconditionFailure::BinlogDisabled));
    }
    if !format.eq_ignore_ascii_case("ROW") {
        return Err(CheckError::Failed(PreconditionFailure::BinlogFormat {
            actual: format,
        }));
    }
    if !image.eq_ignore_ascii_case("FULL") {
        return Err(CheckError::Failed(PreconditionFailure::RowImage {
            actual: image,
        }));
    }
    check_grants(conn).await?;
    // binlog_row_metadata exists on MySQL >= 8.0.1 and MariaDB >= 10.5; older servers lack it.
    let metadata: Option<String> = conn
        .query_first("SELECT @@GLOBAL.binlog_row_metadata")
        .await
        .unwrap_or(None);
    let checksum: Option<String> = conn
        .query_first("SELECT @@GLOBAL.binlog_checksum")
        .await
        .unwrap_or(None);
    Ok(ServerInfo {
        checksum: checksum.is_some_and(|c| c.eq_ignore_ascii_case("CRC32")),
        flavor,
        version,
        full_row_metadata: metadata.is_some_and(|m| m.eq_ignore_ascii_case("FULL")),
        server_id,
    })
}

async fn check_grants(conn: &mut mysql_async::Conn) -> Result<(), CheckError> {
    let grants: Vec<String> = conn.query("SHOW GRANTS FOR CURRENT_USER()").await?;
    let global: Vec<String> = grants
        .iter()
        .filter(|g| g.contains(" ON *.* "))
        .map(|g| g.to_ascii_uppercase())
        .collect();
    let has = |names: &[&str]| {
        global
            .iter()
            .any(|g| g.contains("ALL PRIVILEGES") || names.iter().any(|n| g.contains(n)))
    };
    let summary = || {
        grants
            .iter()
            .map(|g| g.split(" IDENTIFIED BY").next().unwrap_or(g).to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    if !has(&["REPLICATION SLAVE", "REPLICATION REPLICA"]) {
        return Err(CheckError::Failed(PreconditionFailure::MissingGrant {
            grant: "REPLICATION SLAVE",
            grants: summary(),
        }));
    }
    // MariaDB 10.5+ calls REPLICATION CLIENT `BINLOG MONITOR`; SUPER implies it on older ones.
    if !has(&["REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"]) {
        return Err(CheckError::Failed(PreconditionFailure::MissingGrant {
            grant: "REPLICATION CLIENT",
            grants: summary(),
        }));
    }
    Ok(())
}
