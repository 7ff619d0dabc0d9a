//! Schema-change messages: what a Kafka sink with `schema_changes_topic` sends for each DDL
//! event, in its format, and the message's key.
//!
//! - `sluice`: the DDL event in Sluice's form, as on any other topic.
//! - `canal-json`: Canal's `isDdl: true` message, as on any other topic.
//! - `debezium-json`: Debezium's schema-change record ([`super::debezium_ddl`]).
//! - `maxwell-json`: Maxwell's DDL message ([`super::maxwell_ddl`]).
//!
//! The key is the database the statement changes ([`target`]), so one database's DDL stays in
//! order on one partition: the name as text, or Debezium's `{"databaseName":…}` key for
//! `debezium-json`. A statement that names no database, run without a default database (`GRANT`
//! from a bare session), has no key.

use sluice_core::{Event, EventKind};

use super::canal_ddl::{classify, classify_database, DatabaseDdl};
use super::context::MessageContext;
use super::{canal_json, debezium_ddl, maxwell_ddl, sluice, DebeziumOptions, Format};

/// What a DDL statement changes, as far as its leading words tell (see `canal_ddl.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The database the statement changes: the one it names (`CREATE DATABASE d`) or qualifies
    /// its table with (`ALTER TABLE d.t`), else the session's default database.
    pub database: String,
    /// The (first) table a table statement names; `None` for other statements.
    pub table: Option<String>,
    pub kind: TargetKind,
}

/// The kind of a DDL statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetKind {
    /// `CREATE`, `ALTER` or `DROP DATABASE`.
    Database(DatabaseDdl),
    /// A table statement, by its Canal type (`CREATE`, `ALTER`, `ERASE`, `TRUNCATE`, `RENAME`,
    /// `CINDEX`, `DINDEX`).
    Table(&'static str),
    /// Anything else (`CREATE VIEW`, `GRANT`, …).
    Other,
}

/// What `sql`, run with the default database `session`, changes.
pub(crate) fn target(session: &str, sql: &str) -> Target {
    if let Some((kind, name)) = classify_database(sql) {
        return Target {
            database: if name.is_empty() {
                session.to_string()
            } else {
                name
            },
            table: None,
            kind: TargetKind::Database(kind),
        };
    }
    let ddl = classify(sql);
    if ddl.kind == "QUERY" {
        return Target {
            database: session.to_string(),
            table: None,
            kind: TargetKind::Other,
        };
    }
    Target {
        database: ddl.database.unwrap_or_else(|| session.to_string()),
        table: Some(ddl.table),
        kind: TargetKind::Table(ddl.kind),
    }
}

/// Appends the schema-change message of a DDL event in `format`; `false` (nothing written) for
/// other events.
pub(crate) fn encode(
    format: Format,
    debezium: &DebeziumOptions,
    event: &Event,
    ctx: &MessageContext,
    out: &mut Vec<u8>,
) -> bool {
    let EventKind::Ddl { database, sql, .. } = &event.kind else {
        return false;
    };
    match format {
        Format::Sluice => sluice::encode(event, out),
        Format::CanalJson => canal_json::encode(event, ctx, out),
        Format::DebeziumJson => {
            debezium_ddl::encode(event, &target(database, sql), ctx, debezium, out);
            true
        }
        Format::MaxwellJson => {
            maxwell_ddl::encode(event, &target(database, sql), out);
            true
        }
    }
}

/// Appends the key of a DDL event's schema-change message: the database it changes. `false`
/// (no key) for other events and for statements that name no database.
pub(crate) fn key(
    format: Format,
    debezium: &DebeziumOptions,
    event: &Event,
    out: &mut Vec<u8>,
) -> bool {
    let EventKind::Ddl { database, sql, .. } = &event.kind else {
        return false;
    };
    let target = target(database, sql);
    if target.database.is_empty() {
        return false;
    }
    match format {
        Format::DebeziumJson => debezium_ddl::key(&target.database, debezium, out),
        Format::Sluice | Format::CanalJson | Format::MaxwellJson => {
            out.extend_from_slice(target.database.as_bytes())
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{begin, ddl, text};

    fn target_of(session: &str, sql: &str) -> (String, Option<String>, TargetKind) {
        let t = target(session, sql);
        (t.database, t.table, t.kind)
    }

    #[test]
    fn the_target_database_is_the_named_one_else_the_sessions() {
        let s = |x: &str| x.to_string();
        assert_eq!(
            target_of("shop", "ALTER TABLE orders ADD c INT"),
            (s("shop"), Some(s("orders")), TargetKind::Table("ALTER"))
        );
        assert_eq!(
            target_of("", "CREATE TABLE `crm`.`people` (id INT)"),
            (s("crm"), Some(s("people")), TargetKind::Table("CREATE"))
        );
        assert_eq!(
            target_of("shop", "DROP DATABASE IF EXISTS old_shop"),
            (s("old_shop"), None, TargetKind::Database(DatabaseDdl::Drop))
        );
        assert_eq!(
            target_of("shop", "ALTER DATABASE CHARACTER SET utf8mb4"),
            (s("shop"), None, TargetKind::Database(DatabaseDdl::Alter))
        );
        assert_eq!(
            target_of("shop", "CREATE VIEW v AS SELECT 1"),
            (s("shop"), None, TargetKind::Other)
        );
    }

    #[test]
    fn every_format_has_a_message_for_ddl_and_none_for_other_events() {
        let ctx = MessageContext::at(5);
        let options = DebeziumOptions::default();
        for format in Format::ALL {
            let mut out = Vec::new();
            assert!(encode(
                format,
                &options,
                &ddl("DROP TABLE t"),
                &ctx,
                &mut out
            ));
            serde_json::from_slice::<serde_json::Value>(&out).expect("JSON");
            let mut none = Vec::new();
            assert!(!encode(format, &options, &begin(), &ctx, &mut none));
            assert!(!key(format, &options, &begin(), &mut none));
            assert!(none.is_empty(), "{format}");
        }
    }

    #[test]
    fn the_key_is_the_database_and_debeziums_own_for_debezium() {
        let options = DebeziumOptions::default();
        let event = ddl("ALTER TABLE `crm`.people ADD c INT");
        for (format, expected) in [
            (Format::Sluice, "crm"),
            (Format::CanalJson, "crm"),
            (Format::MaxwellJson, "crm"),
            (Format::DebeziumJson, r#"{"databaseName":"crm"}"#),
        ] {
            let mut out = Vec::new();
            assert!(key(format, &options, &event, &mut out));
            assert_eq!(text(&out), expected, "{format}");
        }
        let mut bare = ddl("GRANT ALL ON *.* TO u");
        if let EventKind::Ddl { database, .. } = &mut bare.kind {
            database.clear();
        }
        let mut out = Vec::new();
        assert!(!key(Format::Sluice, &options, &bare, &mut out));
        assert!(out.is_empty());
    }
}
