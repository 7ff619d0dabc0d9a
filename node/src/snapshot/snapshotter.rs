//! Drives one task's snapshot beside its binlog stream: before each read of the stream, when
//! no chunk is in flight, it writes a low mark, reads the next chunk, writes a high mark and
//! hands the chunk to the [`Window`]; after each read it merges the events through the window
//! and records in the [`ProgressLedger`] where each delivered chunk ended.
//!
//! A snapshot reads either the tables the task's config selects (the initial snapshot) or the
//! tables an on-demand request names ([`SnapshotScope`]); the scope rides in every progress
//! record, so a resumed snapshot reads the same tables.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mysql_async::Opts;
use sluice_core::config::{FiltersConfig, TaskConfig};
use sluice_core::coordination::SnapshotStatusReport;
use sluice_core::filter::EventFilter;
use sluice_core::Event;

use super::chunk_reader::ChunkReader;
use super::discovery::{discover, SnapshotTable};
use super::error::SnapshotError;
use super::progress::{ProgressLedger, SnapshotProgress};
use super::watermark::WatermarkWriter;
use super::window::{PendingChunk, Window};

/// Which tables a snapshot reads, and for whom.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotScope {
    /// The on-demand request it serves; `None`: the task's initial snapshot.
    pub request: Option<u64>,
    /// Exactly these `db.table` names (among those the filters include); `None`: every table
    /// the config selects.
    pub tables: Option<Vec<String>>,
}

impl SnapshotScope {
    /// The scope a checkpoint's progress was taken in.
    pub fn of(progress: &SnapshotProgress) -> Self {
        SnapshotScope {
            request: progress.request,
            tables: progress.tables.clone(),
        }
    }
}

/// One task's running snapshot.
pub struct Snapshotter {
    scope: SnapshotScope,
    tables: Vec<Arc<SnapshotTable>>,
    /// Where the next chunk starts; `None` once every table is read.
    next: Option<SnapshotProgress>,
    reader: ChunkReader,
    marks: WatermarkWriter,
    window: Window,
    ledger: Arc<ProgressLedger>,
    chunk_rows: u32,
    /// Makes this run's marks unique, so marks of a crashed run replayed from the binlog are
    /// never taken for this run's.
    run: String,
    chunks: u64,
    /// Rows this run read, for the status.
    rows: u64,
}

impl Snapshotter {
    /// Finds the tables and opens the snapshot's connections. `from`: where to continue (a
    /// checkpoint's progress, whose scope wins), or `None` to start `scope`'s first table.
    pub async fn open(
        task: &TaskConfig,
        url: &str,
        from: Option<SnapshotProgress>,
        scope: SnapshotScope,
        ledger: Arc<ProgressLedger>,
    ) -> Result<Self, SnapshotError> {
        let scope = from.as_ref().map_or(scope, SnapshotScope::of);
        let opts = Opts::from_url(url).map_err(|e| SnapshotError::Connect {
            detail: format!("bad source URL: {e}"),
        })?;
        let config = &task.snapshot;
        let (signal_db, signal_table) =
            config
                .signal_table_parts()
                .ok_or_else(|| SnapshotError::Query {
                    what: "reading `snapshot.signal_table`".into(),
                    detail: "it is not `DATABASE.TABLE` (the config check refuses this)".into(),
                })?;
        let marks = WatermarkWriter::open(&opts, signal_db, signal_table, &task.name).await?;
        let reader = ChunkReader::open(&opts).await?;
        let compile = |filters: &FiltersConfig| {
            EventFilter::new(filters).map_err(|e| SnapshotError::Query {
                what: "compiling the table patterns".into(),
                detail: e.to_string().trim_end().to_string(),
            })
        };
        let filter = compile(&task.filters)?;
        // A request names its tables exactly; `snapshot.tables` narrows the initial one.
        let only = compile(&FiltersConfig {
            include: if scope.tables.is_some() {
                Vec::new()
            } else {
                config.tables.clone()
            },
            ..FiltersConfig::default()
        })?;
        let mut conn =
            mysql_async::Conn::new(opts.clone())
                .await
                .map_err(|e| SnapshotError::Connect {
                    detail: e.to_string(),
                })?;
        let tables: Vec<Arc<SnapshotTable>> =
            discover(&mut conn, &filter, &only, (signal_db, signal_table))
                .await?
                .into_iter()
                .filter(|t| {
                    scope
                        .tables
                        .as_ref()
                        .is_none_or(|names| names.contains(&format!("{}.{}", t.database, t.table)))
                })
                .map(Arc::new)
                .collect();
        drop(conn);
        let next = match from {
            Some(p) => resume_point(&tables, p, &scope),
            None => tables.first().map(|t| start_of(t, &scope)),
        };
        tracing::info!(
            tables = tables.len(),
            from = ?next.as_ref().map(|p| format!("{}.{}", p.database, p.table)),
            "Snapshotting the tables while streaming the binlog."
        );
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(Snapshotter {
            scope,
            tables,
            next,
            reader,
            marks,
            window: Window::new(signal_db, signal_table),
            ledger,
            chunk_rows: config.chunk_rows,
            run: format!("{nanos:x}"),
            chunks: 0,
            rows: 0,
        })
    }

    /// Whether every table is read and the last chunk was merged into the stream.
    pub fn is_done(&self) -> bool {
        self.next.is_none() && self.window.is_idle()
    }

    /// What the status shows of this snapshot while it runs.
    pub fn status(&self) -> Option<SnapshotStatusReport> {
        let at = self.next.as_ref()?;
        let done = self
            .tables
            .iter()
            .take_while(|t| {
                (t.database.as_str(), t.table.as_str()) < (at.database.as_str(), at.table.as_str())
            })
            .count();
        Some(SnapshotStatusReport {
            request: self.scope.request,
            table: format!("{}.{}", at.database, at.table),
            tables_done: done,
            tables_total: self.tables.len(),
            rows: self.rows,
        })
    }

    /// Where the next chunk starts; `None` once every table is read.
    pub fn next_chunk(&self) -> Option<&SnapshotProgress> {
        self.next.as_ref()
    }

    /// Reads the next chunk between two marks, unless one is in flight or all are read.
    pub async fn step(&mut self) -> Result<(), SnapshotError> {
        if !self.window.is_idle() {
            return Ok(());
        }
        let Some(at) = self.next.take() else {
            return Ok(());
        };
        let Some(index) = self
            .tables
            .iter()
            .position(|t| t.database == at.database && t.table == at.table)
        else {
            self.next = resume_point(&self.tables, at, &self.scope);
            return Ok(());
        };
        let table = self.tables[index].clone();
        self.chunks += 1;
        let low = format!("{}:{}:low", self.run, self.chunks);
        let high = format!("{}:{}:high", self.run, self.chunks);
        self.marks.write(&low).await?;
        let chunk = self
            .reader
            .read(&table, at.after.as_deref(), self.chunk_rows)
            .await?;
        self.marks.write(&high).await?;
        self.rows += chunk.rows.len() as u64;
        let full = chunk.rows.len() >= self.chunk_rows as usize;
        let next = match (full, chunk.last_key) {
            (true, Some(key)) => Some(SnapshotProgress {
                after: Some(key),
                ..at
            }),
            _ => {
                tracing::info!(table = %format!("`{}`.`{}`", table.database, table.table),
                    "Snapshot read the whole table.");
                self.tables.get(index + 1).map(|t| start_of(t, &self.scope))
            }
        };
        self.next = next.clone();
        self.window.expect(PendingChunk {
            low,
            high,
            table,
            rows: chunk.rows,
            next,
        });
        Ok(())
    }

    /// Merges the chunk in flight into `events` and records where a delivered chunk ended.
    pub fn merge(&mut self, events: &mut Vec<Event>) {
        if let Some((at, next)) = self.window.merge(events) {
            if next.is_none() {
                tracing::info!("Snapshot complete: every table was read.");
            }
            self.ledger.record(at, next);
        }
    }
}

fn start_of(table: &SnapshotTable, scope: &SnapshotScope) -> SnapshotProgress {
    SnapshotProgress {
        database: table.database.clone(),
        table: table.table.clone(),
        after: None,
        request: scope.request,
        tables: scope.tables.clone(),
    }
}

/// Where `progress` continues among `tables` (sorted): its table, or the first after it when
/// that table is gone.
fn resume_point(
    tables: &[Arc<SnapshotTable>],
    progress: SnapshotProgress,
    scope: &SnapshotScope,
) -> Option<SnapshotProgress> {
    let name = (progress.database.as_str(), progress.table.as_str());
    if tables
        .iter()
        .any(|t| (t.database.as_str(), t.table.as_str()) == name)
    {
        return Some(progress);
    }
    tables
        .iter()
        .find(|t| (t.database.as_str(), t.table.as_str()) > name)
        .map(|t| start_of(t, scope))
}
