//! Drives one task's snapshot beside its binlog stream: a producer on a thread of its own
//! reads the chunks between their marks, several at once, ahead of the stream; after each read
//! of the stream the events are merged through the [`Window`], the [`Frontier`] follows which
//! part of the key space is delivered, and the [`ProgressLedger`] records where it moved.
//!
//! A snapshot reads either the tables the task's config selects (the initial snapshot) or the
//! tables an on-demand request names ([`SnapshotScope`]); the scope rides in every progress
//! record, so a resumed snapshot reads the same tables.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use mysql_async::Opts;
use sluice_core::config::{FiltersConfig, TaskConfig};
use sluice_core::coordination::SnapshotStatusReport;
use sluice_core::filter::EventFilter;
use sluice_core::Event;

use super::discovery::{discover, SnapshotTable};
use super::error::SnapshotError;
use super::frontier::Frontier;
use super::producer::{resume_point, ChunkPlan, ProducerState};
use super::producer_thread::{ProducerThread, SignalTable};
use super::progress::{ProgressLedger, SnapshotProgress};
use super::window::{MergeError, Window};

/// How many chunks, beyond one per reader, may be announced and not yet delivered: read chunks
/// waiting for their high mark in the binlog while every reader reads the next. More did not
/// read faster (bench/snapshot.sh) and only held more rows in memory.
const CHUNKS_WAITING: usize = 2;

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
    /// Where the snapshot started (`None`: nothing to read).
    first: Option<SnapshotProgress>,
    window: Window,
    frontier: Frontier,
    ledger: Arc<ProgressLedger>,
    producer: Option<ProducerThread>,
    state: Arc<Mutex<ProducerState>>,
}

impl Snapshotter {
    /// Finds the tables, opens the snapshot's connections and starts reading. `from`: where
    /// to continue (a checkpoint's progress, whose scope wins), or `None` to start `scope`'s
    /// first table.
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
        let first = match from {
            Some(p) => resume_point(&tables, p, &scope),
            None => tables.first().map(|t| start_of(t, &scope)),
        };
        tracing::info!(
            tables = tables.len(),
            from = ?first.as_ref().map(|p| format!("{}.{}", p.database, p.table)),
            "Snapshotting the tables while streaming the binlog."
        );
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let state = Arc::new(Mutex::new(ProducerState {
            next: first.clone(),
            rows: 0,
        }));
        let (announce, announced) = tokio::sync::mpsc::unbounded_channel();
        // Where the first chunk starts, as a table index and a key.
        let start = first.as_ref().and_then(|p| {
            let table = tables
                .iter()
                .position(|t| t.database == p.database && t.table == p.table)?;
            Some((table, p.after.clone()))
        });
        let plan = ChunkPlan {
            tables: tables.clone(),
            start: start.clone(),
            scope: scope.clone(),
            chunk_rows: config.chunk_rows,
            run: format!("{nanos:x}"),
            state: state.clone(),
        };
        let signal = SignalTable {
            database: signal_db.to_string(),
            table: signal_table.to_string(),
            task: task.name.clone(),
        };
        // An exactly-once sink commits the progress with the rows it covers, and that progress
        // is one position in key order: chunks delivered out of order (several readers) would
        // be committed with a progress short of them and sent again after a crash.
        let readers = if task.has_exactly_once_sink() {
            1
        } else {
            config.readers.max(1) as usize
        };
        let plan_tables = tables.len();
        let producer = ProducerThread::start(
            opts,
            signal,
            plan,
            readers,
            announce,
            readers + CHUNKS_WAITING,
        )
        .await?;
        Ok(Snapshotter {
            scope,
            tables,
            first,
            window: Window::new(signal_db, signal_table, announced),
            frontier: Frontier::new(start, plan_tables),
            ledger,
            producer: Some(producer),
            state,
        })
    }

    fn state(&self) -> ProducerState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether every table is read and the last chunk was merged into the stream.
    pub fn is_done(&mut self) -> bool {
        self.producer.is_none() && self.window.is_idle()
    }

    /// What the status shows of this snapshot while it runs.
    pub fn status(&self) -> Option<SnapshotStatusReport> {
        let state = self.state();
        let at = state.next.as_ref()?;
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
            rows: state.rows,
        })
    }

    /// Where the snapshot starts; `None` when there is nothing to read.
    pub fn next_chunk(&self) -> Option<&SnapshotProgress> {
        self.first.as_ref()
    }

    /// Reports the producer's failure, if it failed; notes when it read everything.
    pub async fn step(&mut self) -> Result<(), SnapshotError> {
        if let Some(outcome) = self.producer.as_mut().and_then(ProducerThread::outcome) {
            self.producer = None;
            outcome?;
        }
        Ok(())
    }

    /// Merges the chunks in flight into `events` and records where each delivered chunk
    /// ended.
    pub async fn merge(&mut self, events: &mut Vec<Event>) -> Result<(), SnapshotError> {
        let delivered = match self.window.merge(events).await {
            Ok(delivered) => delivered,
            Err(MergeError::Chunk(e)) => return Err(e),
            Err(MergeError::ProducerGone) => {
                // The producer dropped a chunk's rows: it failed; its error says why.
                if let Some(producer) = self.producer.take() {
                    producer.finish().await?;
                }
                return Err(SnapshotError::Query {
                    what: "reading chunks".into(),
                    detail: "the chunk reader stopped before a chunk's rows were read".into(),
                });
            }
        };
        for (at, span) in delivered {
            if self.frontier.delivered(span) {
                let progress = self.progress();
                if progress.is_none() {
                    tracing::info!("Snapshot complete: every table was read.");
                }
                self.ledger.record(at, progress);
            }
        }
        Ok(())
    }
}

impl Snapshotter {
    /// Where the snapshot continues after the delivered prefix (`None`: complete).
    fn progress(&self) -> Option<SnapshotProgress> {
        let (table, after) = self.frontier.at()?;
        let table = self.tables.get(*table)?;
        Some(SnapshotProgress {
            after: after.clone(),
            ..start_of(table, &self.scope)
        })
    }
}

pub(crate) fn start_of(table: &SnapshotTable, scope: &SnapshotScope) -> SnapshotProgress {
    SnapshotProgress {
        database: table.database.clone(),
        table: table.table.clone(),
        after: None,
        request: scope.request,
        tables: scope.tables.clone(),
    }
}
