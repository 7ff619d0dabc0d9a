//! The file/stdout sink: events as JSON lines (Sluice's own event form, see
//! `docs/event-format.md`).

mod sink;

pub use sink::FileSink;
