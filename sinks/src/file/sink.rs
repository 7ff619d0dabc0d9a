//! Appends JSON lines to a file (fsync'd on flush) or writes them to stdout.
//!
//! After a crash a file may end in a partial line (the process died mid-write); on open the
//! sink cuts the file back to its last complete line, so the output stays valid JSON lines and
//! the replayed events follow whole.

use std::path::PathBuf;

use sluice_core::config::FileSinkConfig;
use sluice_core::Event;
use tokio::io::AsyncWriteExt;

use crate::{Sink, SinkError};

enum Target {
    Stdout(tokio::io::Stdout),
    File {
        file: tokio::fs::File,
        path: PathBuf,
    },
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
            Target::Stdout(tokio::io::stdout())
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
                .map_err(|e| io("cannot open", e))?;
            Target::File { file, path }
        };
        Ok(FileSink {
            name,
            target,
            buffer: Vec::with_capacity(1 << 20),
        })
    }

    fn io_error(&self, what: &str, source: std::io::Error) -> SinkError {
        let place = match &self.target {
            Target::Stdout(_) => "stdout".to_string(),
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
        let result = match &mut self.target {
            Target::Stdout(out) => out.flush().await,
            Target::File { file, .. } => match file.flush().await {
                Ok(()) => file.sync_data().await,
                Err(e) => Err(e),
            },
        };
        result.map_err(|e| self.io_error("cannot flush", e))
    }
}

impl FileSink {
    async fn write_out(&mut self) -> Result<(), SinkError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let result = match &mut self.target {
            Target::Stdout(out) => out.write_all(&self.buffer).await,
            Target::File { file, .. } => file.write_all(&self.buffer).await,
        };
        // On failure the buffer is kept, so a retried flush writes the same bytes again.
        result.map_err(|e| self.io_error("cannot write to", e))?;
        self.buffer.clear();
        Ok(())
    }
}
