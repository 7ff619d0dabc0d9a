//! Small state files (a task's checkpoint, its schema history): read if present, replaced
//! atomically and durably (temporary file, fsync, rename, fsync of the folder), so a crash
//! leaves either the old or the new content, never a torn one.

use std::io::Write;
use std::path::Path;

/// Which step of a replacement failed, and why.
#[derive(Debug)]
pub struct FileStepError {
    pub what: &'static str,
    pub source: std::io::Error,
}

/// The file's bytes; `None` when it does not exist.
pub fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, std::io::Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces the file's content with `bytes`, creating its folder if needed.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), FileStepError> {
    let step = |what: &'static str| move |source| FileStepError { what, source };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(step("cannot create the folder of"))?;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&tmp).map_err(step("cannot create"))?;
    file.write_all(bytes).map_err(step("cannot write"))?;
    file.sync_all().map_err(step("cannot sync"))?;
    std::fs::rename(&tmp, path).map_err(step("cannot replace"))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(step("cannot sync the folder of"))
}
