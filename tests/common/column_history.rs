//! The column-history workload of the schema-history tests: a table whose columns are added,
//! renamed and dropped between row changes, and what each row event must then say (the
//! columns the table had when the row was written, though information_schema shows only the
//! final `(id, remark)`).

use serde_json::{json, Value};

/// Creates table `t` (a qualified name) with its first shape, `(id, name)`.
pub fn create_table(t: &str) -> String {
    format!("CREATE TABLE {t} (id INT PRIMARY KEY, name VARCHAR(20))")
}

/// The first row, written before any DDL.
pub fn first_row(t: &str) -> String {
    format!("INSERT INTO {t} VALUES (1, 'a')")
}

/// After the first row: ADD COLUMN, then a row change after each DDL.
pub fn add_column(t: &str) -> String {
    format!("ALTER TABLE {t} ADD COLUMN note VARCHAR(10) AFTER id")
}

/// What follows [`add_column`]: the rename and the drop, each followed by a row change (the
/// first statement is the row change after the ADD COLUMN).
pub fn after_add_column(t: &str) -> [String; 5] {
    [
        format!("INSERT INTO {t} VALUES (2, 'n2', 'b')"),
        format!("ALTER TABLE {t} RENAME COLUMN note TO remark"),
        format!("UPDATE {t} SET name = 'c' WHERE id = 2"),
        format!("ALTER TABLE {t} DROP COLUMN name"),
        format!("DELETE FROM {t} WHERE id = 1"),
    ]
}

/// What each row event must say: op, before and after image.
pub fn expected_rows() -> [(&'static str, Value, Value); 4] {
    [
        // Before ADD COLUMN: two columns.
        ("c", Value::Null, json!({"id": 1, "name": "a"})),
        // After ADD COLUMN note AFTER id.
        (
            "c",
            Value::Null,
            json!({"id": 2, "note": "n2", "name": "b"}),
        ),
        // After RENAME COLUMN note TO remark.
        (
            "u",
            json!({"id": 2, "remark": "n2", "name": "b"}),
            json!({"id": 2, "remark": "n2", "name": "c"}),
        ),
        // After DROP COLUMN name.
        ("d", json!({"id": 1, "remark": null}), Value::Null),
    ]
}

/// Checks `rows` (Sluice events) against `expected`, one for one.
pub fn check_rows(rows: &[Value], expected: &[(&str, Value, Value)]) {
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    for (row, (op, before, after)) in rows.iter().zip(expected) {
        assert_eq!(row["op"], *op, "{row:#}");
        assert_eq!(row["before"], *before, "{row:#}");
        assert_eq!(row["after"], *after, "{row:#}");
        assert_eq!(row["pk"], json!(["id"]), "{row:#}");
    }
}
