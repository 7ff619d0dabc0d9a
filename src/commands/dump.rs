//! `sluice dump`: decoded events as JSON lines, from a binlog file or a live server.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use sluice_core::{BinlogPosition, GtidSet};
use sluice_node::source::{
    BinlogDecoder, BinlogFileReader, BinlogSource, SourceSettings, StartPosition,
};

#[derive(Args)]
pub struct DumpArgs {
    /// A binlog file to read offline.
    #[arg(long, conflicts_with = "source", required_unless_present = "source")]
    file: Option<PathBuf>,
    /// A server to stream from: mysql://USER:PASS@HOST:PORT
    #[arg(long)]
    source: Option<String>,
    /// Start at FILE:POS (default: where the server's binlog ends now).
    #[arg(long, conflicts_with = "gtid")]
    from: Option<String>,
    /// Start after this GTID set (MySQL uuid:1-5 or MariaDB 0-1-42).
    #[arg(long)]
    gtid: Option<String>,
    /// Stop once the stream reaches FILE:POS.
    #[arg(long)]
    until: Option<String>,
    /// Server id to register as a replica with.
    #[arg(long, default_value_t = 4_001_001)]
    server_id: u32,
    /// Write events here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Print `events=N seconds=T` (row events and elapsed time) on stderr at the end.
    #[arg(long)]
    stats: bool,
}

pub fn run(args: DumpArgs) -> anyhow::Result<ExitCode> {
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create output file {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let started = Instant::now();
    let rows = match (&args.file, &args.source) {
        (Some(path), _) => dump_file(path, &mut out)?,
        (None, Some(url)) => dump_source(&args, url, &mut out)?,
        (None, None) => bail!("give --file PATH or --source URL"),
    };
    out.flush().context("cannot write the output")?;
    if args.stats {
        eprintln!(
            "events={rows} seconds={:.3}",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `events` as JSON lines, encoding each into `line` (kept by the caller so its
/// allocation is reused).
fn write_events(
    out: &mut impl Write,
    line: &mut Vec<u8>,
    events: &[sluice_core::Event],
) -> anyhow::Result<u64> {
    let mut rows = 0;
    for event in events {
        if matches!(event.kind, sluice_core::EventKind::Row(_)) {
            rows += 1;
        }
        line.clear();
        sluice_core::json::write_event(line, event);
        line.push(b'\n');
        out.write_all(line).context("cannot write the output")?;
    }
    Ok(rows)
}

fn dump_file(path: &std::path::Path, out: &mut impl Write) -> anyhow::Result<u64> {
    let mut reader = BinlogFileReader::open(path)?;
    let mut decoder = BinlogDecoder::new(&reader.file_name());
    let mut events = Vec::new();
    let mut line = Vec::new();
    let mut rows = 0;
    while let Some(raw) = reader.next_event()? {
        events.clear();
        decoder
            .decode(&raw.event, raw.span, &mut events)
            .map_err(|e| reader.decode_error(&raw, e))?;
        rows += write_events(out, &mut line, &events)?;
    }
    Ok(rows)
}

/// `host:port` of a source URL, to name it in messages without its credentials.
fn source_name(url: &str) -> String {
    let redacted = sluice_core::config::redact_url(url);
    let after_scheme = redacted
        .split_once("://")
        .map_or(redacted.as_str(), |(_, r)| r);
    let authority = after_scheme
        .split(['/', '?'])
        .next()
        .unwrap_or(after_scheme);
    authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .to_string()
}

fn dump_source(args: &DumpArgs, url: &str, out: &mut impl Write) -> anyhow::Result<u64> {
    let start = match (&args.from, &args.gtid) {
        (Some(p), _) => StartPosition::Binlog(
            BinlogPosition::parse(p).map_err(|e| anyhow::anyhow!("--from: {e}"))?,
        ),
        (None, Some(g)) => {
            StartPosition::Gtid(GtidSet::parse(g).map_err(|e| anyhow::anyhow!("--gtid: {e}"))?)
        }
        (None, None) => StartPosition::Current,
    };
    let until = match &args.until {
        Some(p) => Some(BinlogPosition::parse(p).map_err(|e| anyhow::anyhow!("--until: {e}"))?),
        None => None,
    };
    let settings = SourceSettings {
        name: source_name(url),
        url: url.to_string(),
        server_id: args.server_id,
        start,
        until,
        heartbeat: Duration::from_secs(1),
        max_backoff: Duration::from_secs(10),
        retry_at_start: false,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut source = BinlogSource::open(settings).await?;
        let mut events = Vec::new();
        let mut line = Vec::new();
        let mut rows = 0;
        let mut flushed = Instant::now();
        loop {
            events.clear();
            let more = source.next_events(&mut events).await?;
            rows += write_events(out, &mut line, &events)?;
            if !more {
                break;
            }
            // A live stream is read by people and pipes: output reaches them within 100 ms
            // while events flow, and at the next heartbeat (1 s) on an idle server.
            if flushed.elapsed() >= Duration::from_millis(100) {
                out.flush().context("cannot write the output")?;
                flushed = Instant::now();
            }
        }
        Ok(rows)
    })
}
