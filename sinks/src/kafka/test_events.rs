//! Small events for the Kafka sink's unit tests.

use std::sync::Arc;

use sluice_core::{
    BinlogPosition, ColumnSchema, Event, EventKind, EventPosition, Op, RowChange, RowImage,
    TableSchema, Value,
};

/// `db.table` with an int `id` (the primary key when `pk`) and a text `v`.
pub(crate) fn table(db: &str, name: &str, pk: bool) -> Arc<TableSchema> {
    let column = |name: &str, type_name: &str| ColumnSchema {
        name: name.into(),
        type_name: type_name.into(),
    };
    Arc::new(TableSchema::new(
        db,
        name,
        vec![column("id", "int"), column("v", "varchar(10)")],
        if pk { vec![0] } else { vec![] },
    ))
}

fn event(kind: EventKind) -> Event {
    Event {
        position: EventPosition {
            file: Arc::from("b.000001"),
            pos: 4,
            gtid: None,
            row: 0,
            server_id: 1,
            ts_ms: 0,
        },
        kind,
    }
}

pub(crate) fn insert(table: &Arc<TableSchema>, id: i64) -> Event {
    event(EventKind::Row(RowChange {
        op: Op::Create,
        table: table.clone(),
        before: None,
        after: Some(RowImage(vec![
            Some(Value::Int(id)),
            Some(Value::Text("x".into())),
        ])),
    }))
}

pub(crate) fn delete(table: &Arc<TableSchema>, id: i64) -> Event {
    event(EventKind::Row(RowChange {
        op: Op::Delete,
        table: table.clone(),
        before: Some(RowImage(vec![
            Some(Value::Int(id)),
            Some(Value::Text("x".into())),
        ])),
        after: None,
    }))
}

pub(crate) fn begin() -> Event {
    event(EventKind::Begin)
}

pub(crate) fn commit(xid: u64) -> Event {
    event(EventKind::Commit {
        xid: Some(xid),
        next: BinlogPosition::new("b.000001", 500),
    })
}

pub(crate) fn ddl(database: &str, sql: &str) -> Event {
    event(EventKind::Ddl {
        database: database.into(),
        sql: sql.into(),
        next: BinlogPosition::new("b.000001", 600),
    })
}
