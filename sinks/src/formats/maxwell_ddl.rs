//! `maxwell-json` DDL messages: what Maxwell writes with `output_ddl`, for the sink's
//! `schema_changes_topic`.
//!
//! `{"type":"table-alter","database":…,"table":…,"ts":<binlog milliseconds>,"sql":…,
//! "position":"FILE:POS"}`, fields in Maxwell's order. `type` is Maxwell's: `database-create`,
//! `database-alter`, `database-drop`, `table-create`, `table-alter` (also `RENAME TABLE` and
//! `CREATE`/`DROP INDEX`, which Maxwell reports as alters of the table) and `table-drop`.
//! Statements Maxwell has no type for get one so that no DDL goes unreported: `table-truncate`
//! for `TRUNCATE` (rows vanish without deletes, which a consumer must know) and `ddl` for the
//! rest (`CREATE VIEW`, `GRANT`, …). `table` is left out of database statements and of `ddl`, as
//! Maxwell leaves it out of database statements. `ts` is in milliseconds, as in Maxwell's DDL
//! messages (its row messages have seconds); `position` is where the binlog continues after the
//! statement, as Maxwell's.
//!
//! Left out: `def` and `old`, the table (or database) definition after and before the change.
//! Maxwell builds them from its own schema store; Sluice's DDL event carries the statement only.

use sluice_core::{Event, EventKind};

use super::canal_ddl::DatabaseDdl;
use super::json_text::{write_str, write_u64};
use super::schema_change::{Target, TargetKind};

/// Appends Maxwell's DDL message for the DDL `event`, whose `sql` changes `target`.
pub(crate) fn encode(event: &Event, target: &Target, out: &mut Vec<u8>) {
    let EventKind::Ddl { sql, next, .. } = &event.kind else {
        return;
    };
    let kind = maxwell_type(target.kind);
    out.extend_from_slice(br#"{"type":"#);
    write_str(out, kind);
    out.extend_from_slice(br#","database":"#);
    write_str(out, &target.database);
    if let (TargetKind::Table(_), Some(table)) = (target.kind, &target.table) {
        out.extend_from_slice(br#","table":"#);
        write_str(out, table);
    }
    out.extend_from_slice(br#","ts":"#);
    write_u64(out, event.position.ts_ms);
    out.extend_from_slice(br#","sql":"#);
    write_str(out, sql);
    out.extend_from_slice(br#","position":"#);
    write_str(out, &format!("{}:{}", next.file, next.pos));
    out.push(b'}');
}

/// Maxwell's `type` for a statement (see the module docs).
fn maxwell_type(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Database(DatabaseDdl::Create) => "database-create",
        TargetKind::Database(DatabaseDdl::Alter) => "database-alter",
        TargetKind::Database(DatabaseDdl::Drop) => "database-drop",
        TargetKind::Table("CREATE") => "table-create",
        TargetKind::Table("ERASE") => "table-drop",
        TargetKind::Table("TRUNCATE") => "table-truncate",
        TargetKind::Table(_) => "table-alter",
        TargetKind::Other => "ddl",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::schema_change::target;
    use crate::formats::test_support::{ddl, parse, text};

    fn message(sql: &str) -> String {
        let event = ddl(sql);
        let mut out = Vec::new();
        encode(&event, &target("inventory", sql), &mut out);
        parse(&out);
        text(&out).to_string()
    }

    /// The shape of Maxwell's documented `table-alter` message, `old` and `def` aside.
    #[test]
    fn an_alter_is_a_table_alter_of_its_table() {
        assert_eq!(
            message("alter table test.e add column foo int"),
            concat!(
                r#"{"type":"table-alter","database":"test","table":"e","ts":1589373560000,"#,
                r#""sql":"alter table test.e add column foo int","#,
                r#""position":"mysql-bin.000003:900"}"#
            )
        );
    }

    #[test]
    fn each_statement_gets_maxwells_type() {
        for (sql, kind, table) in [
            ("CREATE TABLE t (id INT)", "table-create", Some("t")),
            ("DROP TABLE IF EXISTS t", "table-drop", Some("t")),
            ("RENAME TABLE a TO b", "table-alter", Some("a")),
            ("CREATE INDEX i ON t (c)", "table-alter", Some("t")),
            ("TRUNCATE TABLE t", "table-truncate", Some("t")),
            ("CREATE DATABASE crm", "database-create", None),
            (
                "ALTER SCHEMA crm COLLATE utf8mb4_bin",
                "database-alter",
                None,
            ),
            ("DROP DATABASE crm", "database-drop", None),
            ("CREATE VIEW v AS SELECT 1", "ddl", None),
        ] {
            let json = parse(message(sql).as_bytes());
            assert_eq!(json["type"], kind, "{sql}");
            assert_eq!(json["table"].as_str(), table, "{sql}");
            assert!(json.get("def").is_none() && json.get("old").is_none());
        }
        let json = parse(message("DROP DATABASE crm").as_bytes());
        assert_eq!(json["database"], "crm");
    }
}
