//! The binlog source: reading binlog events from a file or a live server and decoding them
//! into Sluice events.

pub mod charset;
pub mod connection;
pub mod decoder;
pub mod fast_values;
pub mod file_reader;
pub mod frame;
pub mod json_diff;
pub mod jsonb;
pub mod lenenc;
pub mod mariadb_events;
pub mod payload;
pub mod preconditions;
pub mod row_decode;
pub mod schema;
pub mod schema_tracking;
pub mod table_map;
pub mod value_convert;

pub use connection::{BinlogSource, SourceSettings, StartPosition};
pub use decoder::{BinlogDecoder, EventSpan};
pub use file_reader::{BinlogFileReader, BinlogReader};
