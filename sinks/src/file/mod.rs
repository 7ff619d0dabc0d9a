//! The file/stdout sink: events as JSON lines (Sluice's own event form, see
//! `docs/event-format.md`).

mod probe;
mod sink;

pub use probe::probe_folder;
pub use sink::FileSink;
