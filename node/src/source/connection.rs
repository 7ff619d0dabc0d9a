//! The live source: Sluice connects to MySQL/MariaDB as a replica and streams its binlog.
//!
//! Resuming without gap or duplicate: the source remembers `resume`, the position right after
//! the last transaction it emitted in full, and how much of the current transaction it has
//! emitted (its BEGIN and N rows). When the connection drops it reconnects with backoff, asks
//! for the binlog from `resume` (the start of the interrupted transaction, so TABLE_MAP and GTID
//! events are seen again) and drops the BEGIN and the first N rows it already emitted. The
//! binlog is immutable, so the transaction replays byte for byte and the stream continues
//! exactly where it broke.

use std::time::Duration;

use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::BinlogStream;
use mysql_async::{BinlogStreamRequest, Conn, Opts};
use mysql_common::binlog::consts::EventType;
use sluice_core::{BinlogPosition, Event, EventKind, GtidSet};

use super::decoder::{BinlogDecoder, EventSpan};
use super::frame;
use super::preconditions::{self, CheckError, Flavor, ServerInfo};
use super::schema;
use super::schema_tracking::SchemaTracking;
use crate::error::SourceError;
use crate::schema_history::HistoryStore;

/// Where a stream starts.
#[derive(Debug, Clone, PartialEq)]
pub enum StartPosition {
    /// Where the server's binlog ends now (`SHOW MASTER STATUS`).
    Current,
    /// The oldest binlog the server still has.
    Earliest,
    /// A file and offset.
    Binlog(BinlogPosition),
    /// After every transaction of a GTID set (MySQL `uuid:1-5` or MariaDB `0-1-42`).
    Gtid(GtidSet),
}

/// How to reach and read one source.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// A name for messages and logs (the task name, or the host).
    pub name: String,
    /// `mysql://user:password@host:port[?require_ssl=true&verify_ca=false]`.
    pub url: String,
    /// The replica server id Sluice registers with; unique among the server's replicas.
    pub server_id: u32,
    pub start: StartPosition,
    /// Stop once the stream reaches this position.
    pub until: Option<BinlogPosition>,
    /// How often the server sends a heartbeat when idle; three missed ones mean a dead link.
    pub heartbeat: Duration,
    /// The longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// Whether a server that cannot be reached at start is retried (a task: yes, it may be
    /// restarting) or reported at once (an interactive `dump`).
    pub retry_at_start: bool,
}

/// What of the current transaction was already emitted, to drop on replay after a reconnect.
#[derive(Debug, Default, Clone, Copy)]
struct Emitted {
    begin: bool,
    rows: u32,
}

/// A live binlog stream that reconnects by itself.
pub struct BinlogSource {
    settings: SourceSettings,
    opts: Opts,
    info: ServerInfo,
    stream: Option<BinlogStream>,
    schema_conn: Option<Conn>,
    /// The task's schema history, when the binlog lacks column names and the caller keeps one.
    schema: Option<SchemaTracking>,
    decoder: BinlogDecoder,
    resume: BinlogPosition,
    emitted: Emitted,
    skip: Emitted,
    done: bool,
    scratch: Vec<Event>,
    reconnects: u64,
    /// Binlog bytes received (whole events, headers included), for the metrics.
    bytes_read: u64,
    /// Events read since the stream was (re)opened: a bad first event points at the start
    /// position.
    events_since_connect: u64,
    /// The wait before the next reconnection attempt; reset once events flow again.
    backoff: Duration,
}

impl BinlogSource {
    /// Connects, checks the server's preconditions and the start position, and opens the stream.
    /// Transient failures are retried with backoff when `retry_at_start` is set.
    pub async fn open(settings: SourceSettings) -> Result<Self, SourceError> {
        let mut backoff = Duration::from_millis(200);
        loop {
            match Self::open_once(settings.clone()).await {
                Err(e) if e.is_transient() && settings.retry_at_start => {
                    tracing::warn!(source = %settings.name, error = %e, retry_in_ms = backoff.as_millis() as u64, "Cannot start streaming yet; retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(settings.max_backoff);
                }
                other => return other,
            }
        }
    }

    async fn open_once(settings: SourceSettings) -> Result<Self, SourceError> {
        let opts = Opts::from_url(&settings.url).map_err(|e| SourceError::Connect {
            source_name: settings.name.clone(),
            detail: format!("bad source URL: {e}"),
        })?;
        let mut conn = connect(&settings.name, &opts).await?;
        let info = check_preconditions(&settings.name, &mut conn).await?;
        let start = resolve_start(&settings, &mut conn, &info).await?;
        let file = match &start {
            Resolved::Binlog(p) => p.file.clone(),
            Resolved::Gtid(_) => String::new(),
        };
        let stream = open_stream(&settings, conn, &info, &start).await?;
        let resume = match &start {
            Resolved::Binlog(p) => p.clone(),
            Resolved::Gtid(_) => BinlogPosition::new("", 4),
        };
        tracing::info!(source = %settings.name, server = %info.version, start = ?start, "Streaming the binlog.");
        Ok(BinlogSource {
            decoder: BinlogDecoder::new(&file),
            settings,
            opts,
            info,
            stream: Some(stream),
            schema_conn: None,
            schema: None,
            resume,
            emitted: Emitted::default(),
            skip: Emitted::default(),
            done: false,
            scratch: Vec::new(),
            reconnects: 0,
            bytes_read: 0,
            events_since_connect: 0,
            backoff: Duration::from_millis(100),
        })
    }

    /// Decodes tables with the schema history kept in `store` (from the start position on)
    /// instead of their current definitions, and keeps it up to date with the DDL passed.
    /// Without effect when the server writes column names into the binlog itself.
    pub async fn track_schema(&mut self, store: HistoryStore) -> Result<(), SourceError> {
        if self.info.full_row_metadata {
            return Ok(());
        }
        let name = self.settings.name.clone();
        let resume = self.resume.clone();
        let conn = self.schema_conn().await?;
        let tracking = SchemaTracking::open(&name, store, conn, &resume).await;
        if tracking.is_err() {
            self.schema_conn = None;
        }
        self.schema = Some(tracking?);
        Ok(())
    }

    /// What the server is.
    pub fn server(&self) -> &ServerInfo {
        &self.info
    }

    /// The position after the last transaction emitted in full.
    pub fn resume_position(&self) -> &BinlogPosition {
        &self.resume
    }

    /// How many times the stream was re-established.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// How many binlog bytes were received (whole events, headers included).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Appends the next decoded events to `out`. Returns `Ok(false)` once `until` is reached.
    /// Transient failures are retried here with backoff; what comes back is definite.
    pub async fn next_events(&mut self, out: &mut Vec<Event>) -> Result<bool, SourceError> {
        if self.done {
            return Ok(false);
        }
        loop {
            let result = match self.stream.is_some() {
                true => self.read_one(out).await,
                false => self.reconnect().await.map(|()| true),
            };
            match result {
                Ok(more) => {
                    if self.events_since_connect > 0 {
                        self.backoff = Duration::from_millis(100);
                    }
                    return Ok(more);
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!(source = %self.settings.name, error = %e, retry_in_ms = self.backoff.as_millis() as u64, "Source failed; reconnecting.");
                    if let Some(stream) = self.stream.take() {
                        drop(stream);
                    }
                    tokio::time::sleep(self.backoff).await;
                    // Kept across calls until events flow again, so a stream that fails right
                    // after every reconnect backs off instead of hammering the server.
                    self.backoff = (self.backoff * 2).min(self.settings.max_backoff);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn reconnect(&mut self) -> Result<(), SourceError> {
        let mut conn = connect(&self.settings.name, &self.opts).await?;
        self.info = check_preconditions(&self.settings.name, &mut conn).await?;
        let start = Resolved::Binlog(self.resume.clone());
        check_binlog_position(&self.settings.name, &mut conn, &self.resume).await?;
        let stream = open_stream(&self.settings, conn, &self.info, &start).await?;
        self.stream = Some(stream);
        self.events_since_connect = 0;
        // Replay the interrupted transaction from its start, dropping what was emitted.
        self.skip = self.emitted;
        self.emitted = Emitted::default();
        self.decoder = BinlogDecoder::new(&self.resume.file);
        self.reconnects += 1;
        tracing::info!(source = %self.settings.name, resume = %self.resume, skip_rows = self.skip.rows, "Reconnected to the source.");
        Ok(())
    }

    async fn read_one(&mut self, out: &mut Vec<Event>) -> Result<bool, SourceError> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(true);
        };
        let wait = self.settings.heartbeat * 3;
        let lost = |detail: String, me: &Self| SourceError::StreamLost {
            source_name: me.settings.name.clone(),
            position: format!("{}:{}", me.decoder.file(), me.resume.pos),
            detail,
        };
        let event = match tokio::time::timeout(wait, stream.next()).await {
            Err(_) => {
                return Err(lost(
                    format!("no event or heartbeat for {} s", wait.as_secs()),
                    self,
                ))
            }
            Ok(None) => return Err(lost("the server closed the stream".into(), self)),
            Ok(Some(Err(e))) => return Err(self.stream_error(e)),
            Ok(Some(Ok(event))) => event,
        };
        if let Err(e) = frame::verify_checksum(&event) {
            // Definite either way: the first event after connecting failing means the start
            // position is not an event boundary; a later one, that the binlog is damaged.
            if self.events_since_connect == 0 {
                return Err(SourceError::BadStartPosition {
                    source_name: self.settings.name.clone(),
                    position: self.resume.to_string(),
                    detail: e.to_string(),
                });
            }
            return Err(SourceError::BadEvent {
                path: format!("source {}: {}", self.settings.name, self.decoder.file()),
                offset: u64::from(event.header().log_pos())
                    .saturating_sub(u64::from(event.header().event_size())),
                event_type: super::file_reader::event_type_name(event.header().event_type_raw()),
                detail: e.to_string(),
            });
        }
        // The ROTATE and FORMAT_DESCRIPTION a stream opens with are the server's, not the
        // binlog's at the start position.
        let opening = matches!(
            event.header().event_type_raw(),
            t if t == EventType::ROTATE_EVENT as u8 || t == EventType::FORMAT_DESCRIPTION_EVENT as u8
        );
        if !opening {
            self.events_since_connect += 1;
        }

        let header = event.header();
        self.bytes_read += u64::from(header.event_size());
        let end = u64::from(header.log_pos());
        let span = if end == 0 {
            EventSpan {
                start: self.resume.pos,
                end: self.resume.pos,
            }
        } else {
            EventSpan {
                start: end.saturating_sub(u64::from(header.event_size())),
                end,
            }
        };
        if header.event_type_raw() == EventType::ROTATE_EVENT as u8 {
            // Decoded here rather than by the decoder: the fake ROTATE that opens a stream comes
            // before the FORMAT_DESCRIPTION, so the reader does not know yet that its last 4
            // bytes are a CRC32 and not part of the file name. A ROTATE also moves the resume
            // point to the new file's offset it names (4), not the old file's.
            let data = event.data();
            let strip = if event.checksum().is_none() && self.info.checksum {
                4
            } else {
                0
            };
            let name_end = data.len().saturating_sub(strip);
            if let (Some(pos), Some(name)) = (data.get(..8), data.get(8..name_end)) {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(pos);
                let name = String::from_utf8_lossy(name).into_owned();
                self.decoder.rotate_to(&name);
                if !self.decoder.in_transaction() {
                    self.resume = BinlogPosition::new(name, u64::from_le_bytes(bytes).max(4));
                }
            }
            return Ok(true);
        }
        if let Some((db, table)) = self.decoder.table_needing_definition(&event) {
            match self.schema.as_ref().and_then(|s| s.definition(&db, &table)) {
                Some(def) => self.decoder.set_definition(&db, &table, def),
                None => self.load_definition(&db, &table).await?,
            }
        }
        self.scratch.clear();
        if let Err(e) = self.decoder.decode(&event, span, &mut self.scratch) {
            return Err(SourceError::BadEvent {
                path: format!("source {}: {}", self.settings.name, self.decoder.file()),
                offset: span.start,
                event_type: super::file_reader::event_type_name(header.event_type_raw()),
                detail: e.to_string(),
            });
        }
        // Outside a transaction every event boundary is a safe resume point (heartbeats and
        // GTID bookkeeping included), which keeps `resume` fresh on an idle or filtered stream.
        // It only ever moves forward: the FORMAT_DESCRIPTION replayed at a stream's start
        // carries an older offset.
        if end != 0
            && !self.decoder.in_transaction()
            && !starts_group(header.event_type_raw())
            && self.decoder.file() == self.resume.file
            && end > self.resume.pos
        {
            self.resume.pos = end;
        }
        if let Some(schema) = self.schema.as_mut() {
            for ev in &self.scratch {
                schema.apply(ev).await?;
            }
        }
        for ev in self.scratch.drain(..) {
            match &ev.kind {
                EventKind::Begin if self.skip.begin => self.skip.begin = false,
                EventKind::Begin => {
                    self.emitted.begin = true;
                    out.push(ev);
                }
                EventKind::Row(_) if self.skip.rows > 0 => self.skip.rows -= 1,
                EventKind::Row(_) => {
                    self.emitted.rows += 1;
                    out.push(ev);
                }
                EventKind::Incident { message } => {
                    return Err(SourceError::BadEvent {
                        path: format!("source {}: {}", self.settings.name, self.decoder.file()),
                        offset: span.start,
                        event_type: "INCIDENT_EVENT".into(),
                        detail: format!(
                            "the server logged an incident ({message}): changes may be missing \
                             from the binlog here; resynchronise the affected tables, then \
                             restart the task from a position after it"
                        ),
                    });
                }
                EventKind::Commit { next, .. } | EventKind::Ddl { next, .. } => {
                    self.resume = next.clone();
                    self.emitted = Emitted::default();
                    self.skip = Emitted::default();
                    out.push(ev);
                }
            }
        }
        if let Some(until) = &self.settings.until {
            if end != 0 && BinlogPosition::new(self.decoder.file(), end) >= *until {
                self.done = true;
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn stream_error(&self, e: mysql_async::Error) -> SourceError {
        if let mysql_async::Error::Server(ref s) = e {
            // 1236: ER_MASTER_FATAL_ERROR_READING_BINLOG: a position inside an event, or a
            // purged file / GTID not in the binlog.
            if s.code == 1236
                && (s.message.contains("middle of event") || s.message.contains("bogus data"))
            {
                return SourceError::BadStartPosition {
                    source_name: self.settings.name.clone(),
                    position: self.resume.to_string(),
                    detail: s.message.clone(),
                };
            }
            if s.code == 1236 {
                return SourceError::PositionPurged {
                    source_name: self.settings.name.clone(),
                    position: self.resume.to_string(),
                    detail: s.message.clone(),
                };
            }
        }
        // A position inside an event that the server does not catch itself: it reads some
        // bytes there as an event length and sends a "packet" no client accepts. Before the
        // first event from a position, that is the position's fault, not the network's.
        let text = e.to_string();
        if self.events_since_connect == 0 && text.contains("larger than max_allowed_packet") {
            return SourceError::BadStartPosition {
                source_name: self.settings.name.clone(),
                position: self.resume.to_string(),
                detail: format!("the first event read from there is not an event ({text})"),
            };
        }
        SourceError::StreamLost {
            source_name: self.settings.name.clone(),
            position: self.resume.to_string(),
            detail: text,
        }
    }

    /// The connection for information_schema, opened on first use.
    async fn schema_conn(&mut self) -> Result<&mut Conn, SourceError> {
        let conn = match self.schema_conn.take() {
            Some(conn) => conn,
            None => connect(&self.settings.name, &self.opts).await?,
        };
        Ok(self.schema_conn.insert(conn))
    }

    async fn load_definition(&mut self, db: &str, table: &str) -> Result<(), SourceError> {
        let conn = self.schema_conn().await?;
        match schema::load_definition(conn, db, table).await {
            Ok(Some(def)) => self.decoder.set_definition(db, table, def),
            Ok(None) => self.decoder.set_definition(db, table, Default::default()),
            Err(e) => {
                self.schema_conn = None;
                return Err(SourceError::Query {
                    source_name: self.settings.name.clone(),
                    what: format!(
                        "reading the definition of `{db}`.`{table}` from information_schema"
                    ),
                    detail: e.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// GTID events open a transaction (MySQL's BEGIN comes after them): the resume point stays
/// before them.
fn starts_group(event_type: u8) -> bool {
    const GTID: u8 = EventType::GTID_EVENT as u8;
    const ANONYMOUS_GTID: u8 = EventType::ANONYMOUS_GTID_EVENT as u8;
    const GTID_TAGGED: u8 = EventType::GTID_TAGGED_LOG_EVENT as u8;
    matches!(
        event_type,
        GTID | ANONYMOUS_GTID | GTID_TAGGED | super::mariadb_events::GTID
    )
}

/// A start position resolved against the server.
#[derive(Debug, Clone)]
enum Resolved {
    Binlog(BinlogPosition),
    Gtid(GtidSet),
}

/// Opens a connection; a refused login is a definite precondition failure, the rest transient.
pub(crate) async fn connect(name: &str, opts: &Opts) -> Result<Conn, SourceError> {
    Conn::new(opts.clone()).await.map_err(|e| match &e {
        // 1045: access denied; 1044: no access to database. Retrying cannot fix a login.
        mysql_async::Error::Server(s) if s.code == 1045 || s.code == 1044 => {
            SourceError::Precondition {
                source_name: name.to_string(),
                failure: preconditions::PreconditionFailure::LoginRefused {
                    detail: s.message.clone(),
                },
            }
        }
        _ => SourceError::Connect {
            source_name: name.to_string(),
            detail: e.to_string(),
        },
    })
}

/// Runs the server checks of `preconditions.rs`, as source errors naming `name`.
pub(crate) async fn check_preconditions(
    name: &str,
    conn: &mut Conn,
) -> Result<ServerInfo, SourceError> {
    preconditions::check(conn).await.map_err(|e| match e {
        CheckError::Failed(failure) => SourceError::Precondition {
            source_name: name.to_string(),
            failure,
        },
        CheckError::Query(e) => SourceError::Query {
            source_name: name.to_string(),
            what: "checking the server's settings and grants".into(),
            detail: e.to_string(),
        },
    })
}

fn query_err(name: &str, what: &str) -> impl Fn(mysql_async::Error) -> SourceError {
    let (name, what) = (name.to_string(), what.to_string());
    move |e| SourceError::Query {
        source_name: name.clone(),
        what: what.clone(),
        detail: e.to_string(),
    }
}

/// `SHOW BINARY LOGS`: the files the server has, oldest first, with their sizes.
async fn binary_logs(name: &str, conn: &mut Conn) -> Result<Vec<(String, u64)>, SourceError> {
    let rows: Vec<mysql_async::Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(query_err(name, "listing binary logs"))?;
    Ok(rows
        .into_iter()
        .filter_map(|mut r| Some((r.take::<String, _>(0)?, r.take::<u64, _>(1)?)))
        .collect())
}

async fn check_binlog_position(
    name: &str,
    conn: &mut Conn,
    position: &BinlogPosition,
) -> Result<(), SourceError> {
    let logs = binary_logs(name, conn).await?;
    let purged = |detail: String| SourceError::PositionPurged {
        source_name: name.to_string(),
        position: position.to_string(),
        detail,
    };
    match logs.iter().find(|(f, _)| *f == position.file) {
        Some((_, size)) if position.pos <= *size => Ok(()),
        Some((_, size)) => Err(purged(format!(
            "{} is only {size} bytes long",
            position.file
        ))),
        None => Err(purged(format!(
            "the server's oldest binlog is {}",
            logs.first().map_or("(none)", |(f, _)| f.as_str())
        ))),
    }
}

async fn resolve_start(
    settings: &SourceSettings,
    conn: &mut Conn,
    info: &ServerInfo,
) -> Result<Resolved, SourceError> {
    let name = settings.name.as_str();
    match &settings.start {
        StartPosition::Current => {
            let row: Option<mysql_async::Row> = conn
                .query_first("SHOW MASTER STATUS")
                .await
                .map_err(query_err(name, "reading SHOW MASTER STATUS"))?;
            let mut row = row.ok_or_else(|| SourceError::Precondition {
                source_name: name.to_string(),
                failure: preconditions::PreconditionFailure::BinlogDisabled,
            })?;
            let file: String = row.take(0).unwrap_or_default();
            let pos: u64 = row.take(1).unwrap_or(4);
            Ok(Resolved::Binlog(BinlogPosition::new(file, pos)))
        }
        StartPosition::Earliest => {
            let logs = binary_logs(name, conn).await?;
            let (file, _) = logs
                .into_iter()
                .next()
                .ok_or_else(|| SourceError::Precondition {
                    source_name: name.to_string(),
                    failure: preconditions::PreconditionFailure::BinlogDisabled,
                })?;
            Ok(Resolved::Binlog(BinlogPosition::new(file, 4)))
        }
        StartPosition::Binlog(p) => {
            check_binlog_position(name, conn, p).await?;
            Ok(Resolved::Binlog(p.clone()))
        }
        StartPosition::Gtid(set) => {
            match (set, info.flavor) {
                (GtidSet::Mariadb(_), Flavor::Mariadb) => {}
                (GtidSet::Mysql(requested), Flavor::Mysql) => {
                    let purged: String = conn
                        .query_first("SELECT @@GLOBAL.gtid_purged")
                        .await
                        .map_err(query_err(name, "reading gtid_purged"))?
                        .unwrap_or_default();
                    let purged: GtidSet =
                        purged.parse().unwrap_or(GtidSet::Mysql(Default::default()));
                    if let GtidSet::Mysql(purged) = purged {
                        if !purged.is_subset_of(requested) {
                            return Err(SourceError::PositionPurged {
                                source_name: name.to_string(),
                                position: set.to_string(),
                                detail: format!("the server has purged {purged}"),
                            });
                        }
                    }
                }
                _ => {
                    return Err(SourceError::Query {
                        source_name: name.to_string(),
                        what: "starting from a GTID set".into(),
                        detail: format!(
                            "{set} is not a GTID set of this server's kind ({:?})",
                            info.flavor
                        ),
                    })
                }
            }
            Ok(Resolved::Gtid(set.clone()))
        }
    }
}

async fn open_stream(
    settings: &SourceSettings,
    mut conn: Conn,
    info: &ServerInfo,
    start: &Resolved,
) -> Result<BinlogStream, SourceError> {
    let name = settings.name.as_str();
    let heartbeat_ns = settings
        .heartbeat
        .as_nanos()
        .min(u128::from(u32::MAX) * 1_000_000);
    conn.query_drop(format!("SET @master_heartbeat_period = {heartbeat_ns}"))
        .await
        .map_err(query_err(name, "setting the heartbeat period"))?;
    if info.flavor == Flavor::Mariadb {
        // Capability 4 (GTID): the server sends its GTID events instead of fake BEGINs.
        conn.query_drop("SET @mariadb_slave_capability = 4")
            .await
            .map_err(query_err(name, "announcing MariaDB replica capabilities"))?;
    }
    let mut request = BinlogStreamRequest::new(settings.server_id);
    let file_bytes;
    match start {
        Resolved::Binlog(p) => {
            file_bytes = p.file.clone().into_bytes();
            request = request.with_filename(&file_bytes).with_pos(p.pos);
        }
        Resolved::Gtid(GtidSet::Mariadb(list)) => {
            conn.query_drop(format!(
                "SET @slave_connect_state = '{list}', @slave_gtid_strict_mode = 1"
            ))
            .await
            .map_err(query_err(name, "setting the MariaDB GTID start state"))?;
            request = request.with_pos(4u64);
        }
        Resolved::Gtid(GtidSet::Mysql(set)) => {
            let mut sids = Vec::new();
            for (uuid, tag, intervals) in set.iter() {
                let mut sid = mysql_async::Sid::new(uuid.0);
                if let Some(tag) = tag {
                    let tag = mysql_common::packets::Tag::new(tag.to_string()).map_err(|e| {
                        SourceError::Query {
                            source_name: name.to_string(),
                            what: "starting from a GTID set".into(),
                            detail: format!("GTID tag {tag:?}: {e}"),
                        }
                    })?;
                    sid = sid.with_tag(tag);
                }
                for &(a, b) in intervals {
                    // GnoInterval is half-open: [start, end).
                    sid = sid.with_interval(mysql_async::GnoInterval::new(a, b + 1));
                }
                sids.push(sid);
            }
            request = request.with_gtid().with_gtid_set(sids);
        }
    }
    conn.get_binlog_stream(request)
        .await
        .map_err(|e| SourceError::StreamLost {
            source_name: name.to_string(),
            position: format!("{start:?}"),
            detail: e.to_string(),
        })
}
