//! A file sink's connection test: whether its folder takes a new file (or, if the folder does
//! not exist yet, whether the sink could create it). Leaves nothing behind.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sluice_core::config::FileSinkConfig;

use crate::SinkError;

/// What was found, e.g. `folder /var/lib/sluice is writable`.
pub async fn probe_folder(config: &FileSinkConfig) -> Result<String, SinkError> {
    if config.path == "-" {
        return Ok("writes to the standard output".into());
    }
    let path = PathBuf::from(&config.path);
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |what: String, source| SinkError::Io {
        sink: config.name.clone().unwrap_or_else(|| "file".into()),
        what,
        source,
    };
    // The sink creates missing folders: try the nearest one that exists.
    let mut existing = folder.as_path();
    while !tokio::fs::try_exists(existing).await.unwrap_or(false) {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => break,
        }
    }
    try_write(existing)
        .await
        .map_err(|e| io(format!("folder {} is not writable", existing.display()), e))?;
    if existing == folder {
        Ok(format!("folder {} is writable", folder.display()))
    } else {
        Ok(format!(
            "folder {} does not exist yet; the sink creates it in {} (writable)",
            folder.display(),
            existing.display()
        ))
    }
}

/// Creates and removes a probe file in `folder`; its name is unique so that concurrent tests
/// of sinks in one folder do not collide.
async fn try_write(folder: &Path) -> std::io::Result<()> {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let probe = folder.join(format!(".sluice-probe-{}-{n}", std::process::id()));
    tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .await?;
    tokio::fs::remove_file(&probe).await
}
