//! Errors of the node: each says what failed and names the thing, and says whether retrying
//! can help (transient) or the operator must act (definite).

/// An error of a binlog source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A binlog file could not be opened.
    #[error("{path}: {detail}")]
    Open { path: String, detail: String },

    /// An event could not be read or decoded.
    #[error("{path}: byte {offset}: {event_type}: {detail}")]
    BadEvent {
        path: String,
        offset: u64,
        event_type: String,
        detail: String,
    },

    /// The server could not be reached or refused the login.
    #[error("source {source_name}: cannot connect: {detail}")]
    Connect { source_name: String, detail: String },

    /// The replication stream broke (network, server restart).
    #[error("source {source_name}: replication stream lost near {position}: {detail}")]
    StreamLost {
        source_name: String,
        position: String,
        detail: String,
    },

    /// The server is not set up for row-based change capture, or the user lacks grants.
    #[error("source {source_name}: {failure}")]
    Precondition {
        source_name: String,
        failure: crate::source::preconditions::PreconditionFailure,
    },

    /// The resume point is no longer on the server.
    #[error(
        "source {source_name}: the resume position {position} is no longer on the server \
         ({detail}); the changes since then are lost to the binlog: take a new snapshot \
         or restart the task from a position the server still has (SHOW BINARY LOGS)"
    )]
    PositionPurged {
        source_name: String,
        position: String,
        detail: String,
    },

    /// The start or resume position is not where an event starts.
    #[error(
        "source {source_name}: the start position {position} is not the start of an event \
         ({detail}): start from a position SHOW BINLOG EVENTS lists, or from a checkpoint"
    )]
    BadStartPosition {
        source_name: String,
        position: String,
        detail: String,
    },

    /// A query the source needs failed.
    #[error("source {source_name}: {what}: {detail}")]
    Query {
        source_name: String,
        what: String,
        detail: String,
    },
}

impl SourceError {
    /// Whether retrying (with backoff) can help: lost connections can, bad data and
    /// misconfigured servers cannot.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SourceError::Connect { .. }
                | SourceError::StreamLost { .. }
                | SourceError::Query { .. }
        )
    }
}
