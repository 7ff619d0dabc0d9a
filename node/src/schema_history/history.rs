//! The versioned schema: a base schema at the position the history started, and every DDL
//! that changed it since, keyed by the position right after the DDL.
//!
//! Why a row decodes with the columns of its time: a version keyed by position `p` holds for
//! every event at or after `p` until the next version, because the binlog is totally ordered
//! and a DDL is its own transaction; rows written before a DDL lie before its end position and
//! so see the version before it. A restart from checkpoint `c` keeps the DDLs that end at or
//! before `c` and drops the rest, which the stream then meets, and applies, again.
//!
//! Only the statements are kept, not a schema per version: `at(p)` replays them over the base.
//! DDL is rare, and the replay runs only at start.

use serde::{Deserialize, Serialize};
use sluice_core::BinlogPosition;

use super::ddl;
use super::schema::Schema;
use super::HistoryError;

/// A DDL statement that changed the schema, where it ends and what it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedDdl {
    /// The position right after the statement: the version holds from here on.
    pub next: BinlogPosition,
    /// The statement's own position, for messages.
    pub at: BinlogPosition,
    /// The session's default database when it ran.
    pub database: String,
    pub sql: String,
}

/// The schema of every binlog position since the history started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaHistory {
    /// Where the base schema holds from.
    pub start: BinlogPosition,
    pub base: Schema,
    pub changes: Vec<RecordedDdl>,
    /// The schema after the last change.
    #[serde(skip)]
    current: Schema,
}

impl SchemaHistory {
    /// A history that starts with `base` at `start`.
    pub fn new(start: BinlogPosition, base: Schema) -> Self {
        SchemaHistory {
            start,
            current: base.clone(),
            base,
            changes: Vec::new(),
        }
    }

    /// The schema after the last DDL applied.
    pub fn current(&self) -> &Schema {
        &self.current
    }

    /// Applies a QUERY event's statement that ends at `next` (and starts at `at`). Returns
    /// whether the schema changed, so the caller knows to persist it. A statement at or
    /// before the last version is already in the history (a replay) and changes nothing.
    pub fn apply(
        &mut self,
        at: &BinlogPosition,
        next: &BinlogPosition,
        database: &str,
        sql: &str,
    ) -> Result<bool, HistoryError> {
        if self.changes.last().is_some_and(|last| *next <= last.next) {
            return Ok(false);
        }
        let changes = ddl::parse(sql, database).map_err(|e| HistoryError::Ddl {
            position: at.to_string(),
            statement: sql.to_string(),
            detail: e.detail,
        })?;
        if changes.is_empty() {
            return Ok(false);
        }
        for change in &changes {
            self.current.apply(change);
        }
        self.changes.push(RecordedDdl {
            next: next.clone(),
            at: at.clone(),
            database: database.to_string(),
            sql: sql.to_string(),
        });
        Ok(true)
    }

    /// The schema at `position`: the base with every DDL that ended at or before it.
    pub fn at(&self, position: &BinlogPosition) -> Result<Schema, HistoryError> {
        let mut schema = self.base.clone();
        for ddl in self.changes.iter().take_while(|d| d.next <= *position) {
            for change in &reparse(ddl)? {
                schema.apply(change);
            }
        }
        Ok(schema)
    }

    /// Recomputes the current schema with every change kept (after loading from a file).
    pub fn restore(&mut self) -> Result<(), HistoryError> {
        let mut schema = self.base.clone();
        for ddl in &self.changes {
            for change in &reparse(ddl)? {
                schema.apply(change);
            }
        }
        self.current = schema;
        Ok(())
    }

    /// Goes back to `position` (a restart from a checkpoint there): later DDLs are dropped,
    /// the stream will apply them again when it passes them.
    pub fn rewind_to(&mut self, position: &BinlogPosition) -> Result<(), HistoryError> {
        self.current = self.at(position)?;
        self.changes.retain(|d| d.next <= *position);
        Ok(())
    }
}

/// A recorded statement's changes (it parsed when recorded, so it parses again).
fn reparse(ddl: &RecordedDdl) -> Result<Vec<ddl::SchemaChange>, HistoryError> {
    ddl::parse(&ddl.sql, &ddl.database).map_err(|e| HistoryError::Ddl {
        position: ddl.at.to_string(),
        statement: ddl.sql.clone(),
        detail: e.detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::schema::TableDefinition;

    fn pos(p: u64) -> BinlogPosition {
        BinlogPosition::new("binlog.000001", p)
    }

    fn names(def: Option<&TableDefinition>) -> Vec<String> {
        def.map(|d| d.columns.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default()
    }

    fn history() -> SchemaHistory {
        let mut h = SchemaHistory::new(pos(4), Schema::default());
        h.apply(&pos(100), &pos(200), "db", "CREATE DATABASE db")
            .unwrap();
        h.apply(
            &pos(200),
            &pos(300),
            "db",
            "CREATE TABLE t (id INT PRIMARY KEY)",
        )
        .unwrap();
        h.apply(&pos(400), &pos(500), "db", "ALTER TABLE t ADD COLUMN a INT")
            .unwrap();
        h.apply(
            &pos(600),
            &pos(700),
            "db",
            "ALTER TABLE t RENAME COLUMN a TO b",
        )
        .unwrap();
        h.apply(&pos(800), &pos(900), "db", "ALTER TABLE t DROP COLUMN b")
            .unwrap();
        h
    }

    #[test]
    fn each_position_sees_the_columns_of_its_time() {
        let h = history();
        assert_eq!(
            names(h.at(&pos(250)).unwrap().definition("db", "t")),
            [""; 0]
        );
        assert_eq!(
            names(h.at(&pos(300)).unwrap().definition("db", "t")),
            ["id"]
        );
        assert_eq!(
            names(h.at(&pos(499)).unwrap().definition("db", "t")),
            ["id"]
        );
        assert_eq!(
            names(h.at(&pos(500)).unwrap().definition("db", "t")),
            ["id", "a"]
        );
        assert_eq!(
            names(h.at(&pos(700)).unwrap().definition("db", "t")),
            ["id", "b"]
        );
        assert_eq!(
            names(h.at(&pos(900)).unwrap().definition("db", "t")),
            ["id"]
        );
        assert_eq!(names(h.current().definition("db", "t")), ["id"]);
        assert_eq!(
            h.at(&pos(900))
                .unwrap()
                .definition("db", "t")
                .unwrap()
                .primary_key,
            [0]
        );
    }

    #[test]
    fn rewinding_drops_later_versions_and_replays_them() {
        let mut h = history();
        h.rewind_to(&pos(500)).unwrap();
        assert_eq!(h.changes.len(), 3);
        assert_eq!(names(h.current().definition("db", "t")), ["id", "a"]);
        // The stream passes the RENAME again: applied once more, as it was.
        assert!(h
            .apply(
                &pos(600),
                &pos(700),
                "db",
                "ALTER TABLE t RENAME COLUMN a TO b"
            )
            .unwrap());
        assert_eq!(names(h.current().definition("db", "t")), ["id", "b"]);
        // A statement at or before the last version is a replay: nothing changes.
        assert!(!h
            .apply(
                &pos(600),
                &pos(700),
                "db",
                "ALTER TABLE t RENAME COLUMN a TO b"
            )
            .unwrap());
    }

    #[test]
    fn statements_that_change_nothing_add_no_version() {
        let mut h = history();
        assert!(!h
            .apply(&pos(950), &pos(960), "db", "GRANT SELECT ON db.* TO x")
            .unwrap());
        assert!(!h
            .apply(&pos(960), &pos(970), "db", "TRUNCATE TABLE t")
            .unwrap());
        assert_eq!(h.changes.len(), 5);
    }

    #[test]
    fn an_unparseable_ddl_names_the_statement_and_its_position() {
        let mut h = history();
        let e = h
            .apply(
                &pos(950),
                &pos(990),
                "db",
                "ALTER TABLE t ADD COLUMN x INT NOT NULL WHAT EVER",
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("binlog.000001:950"), "{e}");
        assert!(
            e.contains("ALTER TABLE t ADD COLUMN x INT NOT NULL WHAT EVER"),
            "{e}"
        );
    }

    #[test]
    fn survives_json() {
        let h = history();
        let json = serde_json::to_string(&h).unwrap();
        let mut back: SchemaHistory = serde_json::from_str(&json).unwrap();
        back.restore().unwrap();
        assert_eq!(back.current(), h.current());
    }
}
