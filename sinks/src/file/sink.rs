//! Appends JSON lines to a file (fsync'd on flush) or writes them to stdout.
//!
//! After a crash a file may end in a partial line (the process died mid-write); on open the
//! sink cuts the file back to its last complete line, so the output stays valid JSON lines and
//! the replayed events follow whole.
//!
//! Writes go through `spawn_blocking` with the buffer moved in and back (tokio's own file and
//! stdout handles copy every buffer into theirs first: 4% of a snapshot's CPU went to that).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use sluice_core::config::FileSinkConfig;
use sluice_core::Event;

use crate::{Sink, SinkError};

#[derive(Clone)]
enum Target {
    Stdout,
    File {
        file: Arc<std::fs::File>,
        path: PathBuf,
    },
}

impl Target {
    /// Writes `bytes` whole (blocking).
    fn write_all(&self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Target::Stdout => std::io::stdout().lock().write_all(bytes),
            Target::File { file, .. } => (&**file).write_all(bytes),
        }
    }

    /// Makes what was written durable (blocking): flushed for stdout, fsync'd for a file.
    fn sync(&self) -> std::io::Result<()> {
        match self {
            Target::Stdout => std::io::stdout().lock().flush(),
            Target::File { file, .. } => file.sync_data(),
        }
    }
}

/// The file/stdout sink.
pub struct FileSink {
    name: String,
    target: Target,
    buffer: Vec<u8>,
}

impl FileSink {
    /// Opens the sink's file (creating it), repairing a partial last line.
    pub async fn open(config: &FileSinkConfig) -> Result<FileSink, SinkError> {
        let name = config.name.clone().unwrap_or_else(|| "file".into());
        let target = if config.path == "-" {
            Target::Stdout
        } else {
            let path = PathBuf::from(&config.path);
            let io = |what: &str, source| SinkError::Io {
                sink: name.clone(),
                what: format!("{what} {}", path.display()),
                source,
            };
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| io("cannot create the folder of", e))?;
            }
            repair_partial_line(&path)
                .await
                .map_err(|e| io("cannot repair the end of", e))?;
            let file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .await
                .map_err(|e| io("cannot open", e))?
                .into_std()
                .await;
            Target::File {
                file: Arc::new(file),
                path,
            }
        };
        Ok(FileSink {
            name,
            target,
            buffer: Vec::with_capacity(1 << 20),
        })
    }

    fn io_error(&self, what: &str, source: std::io::Error) -> SinkError {
        let place = match &self.target {
            Target::Stdout => "stdout".to_string(),
            Target::File { path, .. } => path.display().to_string(),
        };
        SinkError::Io {
            sink: self.name.clone(),
            what: format!("{what} {place}"),
            source,
        }
    }
}

/// Cuts a file back to just after its last newline.
async fn repair_partial_line(path: &std::path::Path) -> std::io::Result<()> {
    let data = match tokio::fs::read(path).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let keep = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if keep < data.len() {
        tracing::warn!(path = %path.display(), dropped_bytes = data.len() - keep, "Cutting a partial last line left by a crash; its event will be written again.");
        let file = tokio::fs::OpenOptions::new().write(true).open(path).await?;
        file.set_len(keep as u64).await?;
        file.sync_all().await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&mut self, events: &[Event]) -> Result<(), SinkError> {
        for event in events {
            sluice_core::json::write_event(&mut self.buffer, event);
            self.buffer.push(b'\n');
        }
        if self.buffer.len() >= 1 << 20 {
            self.write_out().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.write_out().await?;
        let target = self.target.clone();
        let result = tokio::task::spawn_blocking(move || target.sync())
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        result.map_err(|e| self.io_error("cannot flush", e))
    }
}

impl FileSink {
    async fn write_out(&mut self) -> Result<(), SinkError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let (target, buffer) = (self.target.clone(), std::mem::take(&mut self.buffer));
        let (buffer, result) = tokio::task::spawn_blocking(move || {
            let result = target.write_all(&buffer);
            (buffer, result)
        })
        .await
        .map_err(|e| self.io_error("cannot write to", std::io::Error::other(e)))?;
        // On failure the buffer is kept, so a retried flush writes the same bytes again.
        self.buffer = buffer;
        result.map_err(|e| self.io_error("cannot write to", e))?;
        self.buffer.clear();
        Ok(())
    }
}
