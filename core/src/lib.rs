//! Sluice's core: the event model, typed values, binlog positions and GTID sets, and task
//! configuration with its validation. Knows no I/O library; everything here is pure data.

pub mod config;
pub mod event;
pub mod filter;
pub mod json;
pub mod position;
pub mod value;

pub use event::{
    ColumnSchema, Event, EventKind, EventPosition, Op, RowChange, RowImage, TableSchema,
    TableSchemaFields,
};
pub use position::{BinlogPosition, Gtid, GtidSet};
pub use value::Value;
