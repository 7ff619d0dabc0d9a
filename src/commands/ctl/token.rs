//! Where `sluice ctl login` keeps the token: `$XDG_CONFIG_HOME/sluice/token`, else
//! `~/.config/sluice/token`, readable by its owner only (0600, folder 0700).

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use super::error::CtlError;

/// The token file's path, if a home (or config) folder is known.
pub fn token_path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
        })?;
    Some(config.join("sluice").join("token"))
}

/// The saved token, if there is one.
pub fn read_token() -> Result<Option<String>, CtlError> {
    let Some(path) = token_path() else {
        return Ok(None);
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CtlError::Failed(format!(
            "reading the saved token {}: {e}",
            path.display()
        ))),
    }
}

/// Saves `token` (replacing any earlier one), mode 0600; returns where.
pub fn save_token(token: &str) -> Result<PathBuf, CtlError> {
    let path = token_path().ok_or_else(|| {
        CtlError::Failed(
            "cannot save the token: neither HOME nor XDG_CONFIG_HOME is set (use --print and \
             SLUICE_TOKEN instead)"
                .into(),
        )
    })?;
    let failed = |what: &str, e: std::io::Error| {
        CtlError::Failed(format!(
            "saving the token to {}: {what}: {e}",
            path.display()
        ))
    };
    if let Some(dir) = path.parent() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| failed("creating its folder", e))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| failed("opening it", e))?;
    // A file that existed before keeps its mode through open: tighten it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| failed("setting its mode to 0600", e))?;
    writeln!(file, "{token}").map_err(|e| failed("writing it", e))?;
    Ok(path)
}

/// Removes the saved token; returns its path if there was one.
pub fn forget_token() -> Result<Option<PathBuf>, CtlError> {
    let Some(path) = token_path() else {
        return Ok(None);
    };
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(Some(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CtlError::Failed(format!(
            "removing the saved token {}: {e}",
            path.display()
        ))),
    }
}
