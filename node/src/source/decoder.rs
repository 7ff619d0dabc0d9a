//! The binlog decoder: turns a sequence of binlog events into Sluice events.
//!
//! It tracks what a replica must: the current binlog file (ROTATE), the table definitions
//! (TABLE_MAP), the transaction in progress (GTID / BEGIN ... XID / COMMIT) and each row's index
//! in it. It knows nothing of where events come from: the file reader and the live connection
//! both feed it, with each event's byte span in its binlog file.
//!
//! Positions: every emitted event carries the offset of the binlog event it came from; a
//! `Commit` (and a DDL, which is its own transaction) carries `next`, the offset right after
//! the transaction. Events inside a TRANSACTION_PAYLOAD take the payload event's span, so a
//! resume after a compressed transaction starts after the whole payload.

use std::collections::HashMap;
use std::sync::Arc;

use mysql_common::binlog::consts::EventType;
use mysql_common::binlog::events::{
    Event, EventData, GtidEvent, QueryEvent, RotateEvent, RowsEventData, TableMapEvent,
};
use sluice_core::position::{Gtid, MysqlGtid, Uuid};
use sluice_core::{BinlogPosition, EventKind, EventPosition, Op, RowChange};

use super::mariadb_events as mariadb;
use super::row_decode::decode_rows;
use super::schema::TableDefinition;
use super::table_map::TableDecoder;

/// The event types the decoder parses (XID and MariaDB's are read by hand).
const USED_EVENT_TYPES: &[EventType] = &[
    EventType::ROTATE_EVENT,
    EventType::QUERY_EVENT,
    EventType::TABLE_MAP_EVENT,
    EventType::WRITE_ROWS_EVENT_V1,
    EventType::UPDATE_ROWS_EVENT_V1,
    EventType::DELETE_ROWS_EVENT_V1,
    EventType::WRITE_ROWS_EVENT,
    EventType::UPDATE_ROWS_EVENT,
    EventType::DELETE_ROWS_EVENT,
    EventType::PARTIAL_UPDATE_ROWS_EVENT,
    EventType::GTID_EVENT,
    EventType::ANONYMOUS_GTID_EVENT,
    EventType::GTID_TAGGED_LOG_EVENT,
    EventType::INCIDENT_EVENT,
];

/// Where an event lies in its binlog file: `start` is its first byte, `end` the next event's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSpan {
    pub start: u64,
    pub end: u64,
}

/// Why one event could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct DecodeError {
    pub detail: String,
}

impl DecodeError {
    fn new(detail: impl Into<String>) -> Self {
        DecodeError {
            detail: detail.into(),
        }
    }
}

/// A table id's decoder, and the TABLE_MAP bytes it was built from (to skip rebuilding it for
/// the identical TABLE_MAP that precedes every transaction on the table).
struct CachedTable {
    raw: Vec<u8>,
    decoder: Arc<TableDecoder>,
}

/// Turns binlog events into Sluice events. One per stream.
pub struct BinlogDecoder {
    file: Arc<str>,
    tables: HashMap<u64, CachedTable>,
    definitions: HashMap<(String, String), Arc<TableDefinition>>,
    gtid: Option<Arc<Gtid>>,
    in_transaction: bool,
    row_index: u32,
    /// The span of the TRANSACTION_PAYLOAD whose inner events are being decoded.
    payload: Option<EventSpan>,
}

impl BinlogDecoder {
    /// A decoder for a stream starting in binlog `file`.
    pub fn new(file: &str) -> Self {
        BinlogDecoder {
            file: Arc::from(file),
            tables: HashMap::new(),
            definitions: HashMap::new(),
            gtid: None,
            in_transaction: false,
            row_index: 0,
            payload: None,
        }
    }

    /// The binlog file the decoder is in.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Whether a transaction has begun and not yet committed.
    pub fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// Number of row events of the current transaction emitted so far.
    pub fn rows_in_transaction(&self) -> u32 {
        self.row_index
    }

    /// For a TABLE_MAP event of a table whose column names the event does not carry and for
    /// which no definition is known: the (database, table) to look up in information_schema.
    pub fn table_needing_definition(&self, event: &Event) -> Option<(String, String)> {
        if event.header().event_type_raw() != EventType::TABLE_MAP_EVENT as u8 {
            return None;
        }
        let tme = event.read_event::<TableMapEvent<'_>>().ok()?;
        let has_names = tme.iter_optional_meta().any(|f| {
            matches!(
                f,
                Ok(mysql_common::binlog::events::OptionalMetadataField::ColumnName(_))
            )
        });
        let key = (
            tme.database_name().into_owned(),
            tme.table_name().into_owned(),
        );
        (!has_names && !self.definitions.contains_key(&key)).then_some(key)
    }

    /// Records a table's definition from information_schema.
    pub fn set_definition(&mut self, database: &str, table: &str, def: TableDefinition) {
        self.definitions
            .insert((database.into(), table.into()), Arc::new(def));
        // Table ids are reused per definition; drop cached decoders so they pick it up.
        self.tables.clear();
    }

    /// Moves to binlog `file` (a ROTATE the caller decoded itself).
    pub fn rotate_to(&mut self, file: &str) {
        if *file != *self.file {
            self.file = Arc::from(file);
            self.tables.clear();
        }
    }

    /// Forgets every table definition (after DDL), so they are read again. All of them: a
    /// statement can name any database, whatever its session's default one.
    pub fn forget_definitions(&mut self) {
        self.definitions.clear();
        self.tables.clear();
    }

    /// Decodes one event, appending what it means to `out`.
    pub fn decode(
        &mut self,
        event: &Event,
        span: EventSpan,
        out: &mut Vec<sluice_core::Event>,
    ) -> Result<(), DecodeError> {
        let header = event.header();
        let type_raw = header.event_type_raw();
        // Events inside a transaction payload have no position of their own.
        let span = match self.payload {
            Some(p) if header.log_pos() == 0 => p,
            _ => {
                self.payload = None;
                span
            }
        };
        let position = |me: &Self, row: u32| EventPosition {
            file: me.file.clone(),
            pos: span.start,
            gtid: me.gtid.clone(),
            row,
            server_id: header.server_id(),
            ts_ms: u64::from(header.timestamp()) * 1000,
        };

        match type_raw {
            mariadb::GTID => {
                let ev = mariadb::parse_gtid(event.data(), header.server_id())
                    .map_err(|e| DecodeError::new(e.to_string()))?;
                self.start_group(Some(Gtid::Mariadb(ev.gtid)));
                if !ev.is_standalone() {
                    self.begin(position(self, 0), out);
                }
                return Ok(());
            }
            mariadb::GTID_LIST => {
                mariadb::parse_gtid_list(event.data())
                    .map_err(|e| DecodeError::new(e.to_string()))?;
                return Ok(());
            }
            mariadb::BINLOG_CHECKPOINT => {
                mariadb::parse_binlog_checkpoint(event.data())
                    .map_err(|e| DecodeError::new(e.to_string()))?;
                return Ok(());
            }
            mariadb::ANNOTATE_ROWS | mariadb::START_ENCRYPTION => return Ok(()),
            t if (mariadb::FIRST_COMPRESSED..=mariadb::LAST_COMPRESSED).contains(&t) => {
                return Err(DecodeError::new(format!(
                    "MariaDB compressed event (type {t}) is not supported: set \
                     log_bin_compress=OFF on the server"
                )));
            }
            _ => {}
        }

        if type_raw == EventType::XID_EVENT as u8 {
            // Pre-GA 5.1/5.2 servers wrote XID events with extra bytes after the 8-byte xid,
            // which mysql_common refuses; the xid itself is always first.
            let Some(xid) = event.data().get(..8) else {
                return Err(DecodeError::new("XID event shorter than its 8-byte xid"));
            };
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(xid);
            let next = BinlogPosition::new(&*self.file, span.end);
            let pos = position(self, 0);
            self.commit(Some(u64::from_le_bytes(bytes)), next, pos, out);
            return Ok(());
        }
        if type_raw == super::frame::PRE_GA_ROWS {
            // Nothing can decode these rows; the stream has a gap here, said as an incident.
            out.push(sluice_core::Event {
                position: position(self, 0),
                kind: EventKind::Incident {
                    message: format!(
                        "undecodable row event of development server {}: row events of MySQL \
                         5.1.0-5.1.15 and 5.2.0-5.2.2 carry no column metadata",
                        event.fde().server_version().trim_end_matches(['\0', ' '])
                    ),
                },
            });
            return Ok(());
        }
        if type_raw == EventType::TRANSACTION_PAYLOAD_EVENT as u8 {
            // Its events follow (the reader unpacks them) and take its position.
            self.payload = Some(span);
            return Ok(());
        }
        // Only the events Sluice uses are parsed: the others (format, statement-replication
        // helpers, heartbeats, GTID bookkeeping) carry nothing to emit, and some of their
        // parsers trust counts in the data (PREVIOUS_GTIDS pre-allocates whatever it says).
        match EventType::try_from(type_raw) {
            Ok(t) if USED_EVENT_TYPES.contains(&t) => {}
            Ok(_) => return Ok(()),
            // An event type neither MySQL nor MariaDB defines: skip it, as a replica does for
            // events flagged ignorable, but say so.
            Err(_) => {
                tracing::warn!(
                    event_type = type_raw,
                    file = %self.file,
                    pos = span.start,
                    "Skipping a binlog event of unknown type."
                );
                return Ok(());
            }
        }
        let data = match event.read_data() {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(()),
            Err(e) => return Err(DecodeError::new(e.to_string())),
        };

        match data {
            EventData::RotateEvent(rotate) => self.rotate(&rotate),
            EventData::GtidEvent(gtid) => self.start_group(Some(mysql_gtid(&gtid))),
            EventData::AnonymousGtidEvent(_) => self.start_group(None),
            EventData::QueryEvent(query) => self.query(&query, span, position(self, 0), out),
            EventData::TableMapEvent(tme) => self.table_map(event, &tme)?,
            EventData::RowsEvent(rows) => self.rows(&rows, &position, out)?,
            EventData::IncidentEvent(incident) => {
                let kind = match incident.incident_type() {
                    Ok(t) => format!("{t:?}"),
                    Err(e) => format!("type {}", e.0),
                };
                out.push(sluice_core::Event {
                    position: position(self, 0),
                    kind: EventKind::Incident {
                        message: format!("{kind}: {}", incident.message()),
                    },
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn rotate(&mut self, rotate: &RotateEvent<'_>) {
        // Table ids are only valid within one binlog file: rotate_to forgets them.
        self.rotate_to(&rotate.name());
    }

    fn start_group(&mut self, gtid: Option<Gtid>) {
        self.gtid = gtid.map(Arc::new);
        self.in_transaction = false;
        self.row_index = 0;
    }

    fn begin(&mut self, position: EventPosition, out: &mut Vec<sluice_core::Event>) {
        self.in_transaction = true;
        self.row_index = 0;
        out.push(sluice_core::Event {
            position,
            kind: EventKind::Begin,
        });
    }

    fn commit(
        &mut self,
        xid: Option<u64>,
        next: BinlogPosition,
        position: EventPosition,
        out: &mut Vec<sluice_core::Event>,
    ) {
        out.push(sluice_core::Event {
            position,
            kind: EventKind::Commit { xid, next },
        });
        self.in_transaction = false;
        self.row_index = 0;
        self.gtid = None;
    }

    fn query(
        &mut self,
        query: &QueryEvent<'_>,
        span: EventSpan,
        position: EventPosition,
        out: &mut Vec<sluice_core::Event>,
    ) {
        let sql = query.query();
        let trimmed = sql.trim();
        let next = BinlogPosition::new(&*self.file, span.end);
        if trimmed.eq_ignore_ascii_case("BEGIN") || trimmed.eq_ignore_ascii_case("XA START") {
            if !self.in_transaction {
                self.begin(position, out);
            }
        } else if trimmed.eq_ignore_ascii_case("COMMIT") || trimmed.eq_ignore_ascii_case("ROLLBACK")
        {
            // A ROLLBACK in the binlog ends a group whose non-transactional changes stay.
            self.commit(None, next, position, out);
        } else if self.in_transaction {
            // Statements logged inside a row transaction (SAVEPOINT, statement-based DML
            // under binlog_format=MIXED): no rows to emit; the transaction goes on.
            tracing::debug!(file = %self.file, pos = span.start, "Skipping a statement inside a transaction.");
        } else {
            let database = query.schema().into_owned();
            self.forget_definitions();
            out.push(sluice_core::Event {
                position,
                kind: EventKind::Ddl {
                    database,
                    sql: sql.into_owned(),
                    next,
                },
            });
            self.gtid = None;
        }
    }

    fn table_map(&mut self, event: &Event, tme: &TableMapEvent<'_>) -> Result<(), DecodeError> {
        let id = tme.table_id();
        if let Some(cached) = self.tables.get(&id) {
            if cached.raw == event.data() {
                return Ok(());
            }
        }
        let key = (
            tme.database_name().into_owned(),
            tme.table_name().into_owned(),
        );
        let definition = self.definitions.get(&key).map(Arc::as_ref);
        let mariadb = event.fde().server_version().contains("MariaDB");
        let decoder = TableDecoder::new(tme, definition, mariadb)
            .map_err(|e| DecodeError::new(format!("table map of `{}`.`{}`: {e}", key.0, key.1)))?;
        self.tables.insert(
            id,
            CachedTable {
                raw: event.data().to_vec(),
                decoder: Arc::new(decoder),
            },
        );
        Ok(())
    }

    fn rows(
        &mut self,
        rows: &RowsEventData<'_>,
        position: &dyn Fn(&Self, u32) -> EventPosition,
        out: &mut Vec<sluice_core::Event>,
    ) -> Result<(), DecodeError> {
        let (op, partial) = match rows {
            RowsEventData::WriteRowsEvent(_) | RowsEventData::WriteRowsEventV1(_) => {
                (Op::Create, false)
            }
            RowsEventData::UpdateRowsEvent(_) | RowsEventData::UpdateRowsEventV1(_) => {
                (Op::Update, false)
            }
            RowsEventData::PartialUpdateRowsEvent(_) => (Op::Update, true),
            RowsEventData::DeleteRowsEvent(_) | RowsEventData::DeleteRowsEventV1(_) => {
                (Op::Delete, false)
            }
        };
        let raw = rows;
        let Some(table) = self.tables.get(&raw.table_id()).map(|t| t.decoder.clone()) else {
            // The dummy rows event that only carries the end-of-statement flag.
            if raw.table_id() == 0x00ff_ffff {
                return Ok(());
            }
            return Err(DecodeError::new(format!(
                "rows event for table id {} without a preceding TABLE_MAP (starting a stream in \
                 the middle of a transaction?)",
                raw.table_id()
            )));
        };
        if !self.in_transaction {
            // Row events outside BEGIN/COMMIT (seen in old or hand-edited binlogs) still get
            // a transaction frame so consumers see the same shape everywhere.
            let pos = position(self, 0);
            self.begin(pos, out);
        }
        decode_rows(raw, &table, partial, |before, after| {
            let pos = position(self, self.row_index);
            self.row_index += 1;
            out.push(sluice_core::Event {
                position: pos,
                kind: EventKind::Row(RowChange {
                    op,
                    table: table.schema.clone(),
                    before,
                    after,
                }),
            });
        })
        .map_err(|e| {
            DecodeError::new(format!(
                "rows of `{}`.`{}`: {e}",
                table.schema.database, table.schema.table
            ))
        })
    }
}

fn mysql_gtid(ev: &GtidEvent) -> Gtid {
    Gtid::Mysql(MysqlGtid {
        uuid: Uuid(ev.sid()),
        tag: ev.tag().map(|t| t.to_string()),
        gno: ev.gno(),
    })
}
