//! The message formats of the Kafka sink: Sluice's own and three that existing consumers of
//! other CDC tools already parse: `canal-json` (Alibaba Canal's flat message), `debezium-json`
//! (Debezium's MySQL change events) and `maxwell-json` (Maxwell's rows). `docs/formats.md`
//! describes each message and value mapping and where Sluice differs from the tool it imitates.
//!
//! Pure code: an [`Encoder`] appends one event's message (and, separately, its Kafka key) to a
//! caller's buffer and does no I/O. What the event itself does not say (the time now, a row's
//! transaction XID and whether it is the transaction's last row) the sink passes in a
//! [`MessageContext`]; [`contexts`] computes them for a run of events, and a sink for a format
//! that [needs whole transactions](Format::needs_whole_transactions) holds rows back until
//! [`complete_len`] says their commit has arrived.
//!
//! Which events make messages: in Sluice's form, all of them. In the foreign formats, each row
//! change makes one message; transaction boundaries and incidents make none; DDL makes a
//! message only in `canal-json` (`isDdl: true`). Separately, every format has a schema-change
//! message for each DDL event ([`Encoder::encode_schema_change`], see [`schema_change`]), which
//! a Kafka sink with `schema_changes_topic` sends there instead.
//!
//! Keys: the row's primary key, in each format's value form (Debezium's `{"id":1}`, Maxwell's
//! `{"database":…,"table":…,"pk.id":1}`, and `{db/database, table, pk:{…}}` for Sluice and
//! Canal, which have no key of their own). Rows of tables without a primary key and non-row
//! events have no key (`null`); the sink is to partition such rows by table (`database.table`),
//! which keeps each table's rows in order.

mod canal_ddl;
mod canal_json;
mod canal_values;
mod column_type;
mod context;
mod debezium_ddl;
mod debezium_json;
mod debezium_schema;
mod debezium_values;
mod json_text;
mod maxwell_ddl;
mod maxwell_json;
mod row_parts;
mod schema_change;
mod sluice;
mod temporal;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod validity_tests;

use std::fmt;
use std::str::FromStr;

use sluice_core::Event;

pub use context::{complete_len, contexts, MessageContext};
pub use debezium_json::DebeziumOptions;

/// A message format, as named in configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `sluice`: Sluice's own event form (`docs/event-format.md`).
    Sluice,
    /// `canal-json`: Alibaba Canal's flat message.
    CanalJson,
    /// `debezium-json`: Debezium's MySQL connector change events.
    DebeziumJson,
    /// `maxwell-json`: Maxwell's row messages.
    MaxwellJson,
}

impl Format {
    /// Every format, in the order of [`Format::NAMES`].
    pub const ALL: [Format; 4] = [
        Format::Sluice,
        Format::CanalJson,
        Format::DebeziumJson,
        Format::MaxwellJson,
    ];

    /// The configuration names, in the order of [`Format::ALL`].
    pub const NAMES: [&'static str; 4] = ["sluice", "canal-json", "debezium-json", "maxwell-json"];

    /// The format's configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Sluice => Format::NAMES[0],
            Format::CanalJson => Format::NAMES[1],
            Format::DebeziumJson => Format::NAMES[2],
            Format::MaxwellJson => Format::NAMES[3],
        }
    }

    /// Whether a row's message depends on the rest of its transaction (Maxwell's `xid` and
    /// `commit`), so the sink must hold a transaction's rows until its commit arrives.
    pub fn needs_whole_transactions(self) -> bool {
        self == Format::MaxwellJson
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of [`Format::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown message format {given:?}: the formats are \"sluice\", \"canal-json\", \
     \"debezium-json\" and \"maxwell-json\""
)]
pub struct UnknownFormat {
    pub given: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat { given: s.into() })
    }
}

/// Encodes events into messages and keys of one format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoder {
    format: Format,
    debezium: DebeziumOptions,
}

impl Encoder {
    /// An encoder with default settings (for Debezium: server name `sluice`, no schemas).
    pub fn new(format: Format) -> Encoder {
        Encoder {
            format,
            debezium: DebeziumOptions::default(),
        }
    }

    /// Sets the Debezium settings (ignored by the other formats).
    pub fn with_debezium(mut self, options: DebeziumOptions) -> Encoder {
        self.debezium = options;
        self
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Appends the message for `event` to `out` and returns `true`, or returns `false` and
    /// leaves `out` untouched when the format has no message for this event.
    #[must_use]
    pub fn encode(&self, event: &Event, ctx: &MessageContext, out: &mut Vec<u8>) -> bool {
        match self.format {
            Format::Sluice => sluice::encode(event, out),
            Format::CanalJson => canal_json::encode(event, ctx, out),
            Format::DebeziumJson => debezium_json::encode(event, ctx, &self.debezium, out),
            Format::MaxwellJson => maxwell_json::encode(event, ctx, out),
        }
    }

    /// Appends the schema-change message of a DDL event (for a sink's schema-change topic) to
    /// `out` and returns `true`; returns `false` and leaves `out` untouched for other events.
    /// Every format has one, also those whose [`encode`](Encoder::encode) has none for DDL.
    #[must_use]
    pub fn encode_schema_change(
        &self,
        event: &Event,
        ctx: &MessageContext,
        out: &mut Vec<u8>,
    ) -> bool {
        schema_change::encode(self.format, &self.debezium, event, ctx, out)
    }

    /// Appends the key of a DDL event's schema-change message (the database the statement
    /// changes) to `out` and returns `true`; returns `false` and leaves `out` untouched for
    /// other events and for statements that name no database.
    #[must_use]
    pub fn schema_change_key(&self, event: &Event, out: &mut Vec<u8>) -> bool {
        schema_change::key(self.format, &self.debezium, event, out)
    }

    /// Appends the Kafka key of `event`'s message to `out` and returns `true`, or returns
    /// `false` and leaves `out` untouched when the message has no key (`null`): non-row events
    /// and rows of tables without a primary key, which the sink partitions by table.
    #[must_use]
    pub fn key(&self, event: &Event, out: &mut Vec<u8>) -> bool {
        match self.format {
            Format::Sluice => sluice::key(event, out),
            Format::CanalJson => canal_json::key(event, out),
            Format::DebeziumJson => debezium_json::key(event, &self.debezium, out),
            Format::MaxwellJson => maxwell_json::key(event, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_from_their_config_names() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
            assert_eq!(format.to_string(), format.name());
        }
        let err = "canal".parse::<Format>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown message format \"canal\": the formats are \"sluice\", \"canal-json\", \
             \"debezium-json\" and \"maxwell-json\""
        );
        assert!("Canal-JSON".parse::<Format>().is_err());
        assert!(Format::MaxwellJson.needs_whole_transactions());
        assert!(!Format::CanalJson.needs_whole_transactions());
    }
}
