//! Sluice's core: the event model, typed values, binlog positions and GTID sets, task
//! configuration with its validation, and the coordination contract between the manager and
//! the nodes. Pure data except `coordination`, whose ZooKeeper coordinator is the one I/O here.

pub mod config;
pub mod coordination;
pub mod event;
mod event_size;
pub mod filter;
pub mod json;
pub mod position;
pub mod snapshot_progress;
pub mod value;

pub use event::{
    ColumnSchema, Event, EventKind, EventPosition, Op, RowChange, RowImage, TableSchema,
    TableSchemaFields,
};
pub use position::{BinlogPosition, Gtid, GtidSet};
pub use value::Value;
