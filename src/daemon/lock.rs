//! The database's lock: one `recoverd run` per database.

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::app::UsageError;

/// Takes the lock file next to the database (`<db>.lock`, `flock`), holding this pid; held
/// until the process ends. A database folder that cannot be written yet is not an error here:
/// the service waits for it like for the database.
pub(super) fn lock_database(db: &Path) -> Result<Option<File>> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir);
    }
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(lock = %path.display(), error = %e, "cannot take the lock file; not guarding against a second `recoverd run`");
                return Ok(None);
            }
        }
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            let pid = if pid.is_empty() { "unknown" } else { pid };
            return Err(
                UsageError(format!("already running (pid {pid}) on {}", db.display())).into(),
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            tracing::warn!(lock = %path.display(), error = %e, "cannot lock; not guarding against a second `recoverd run`");
            return Ok(None);
        }
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = writeln!(file, "{}", std::process::id());
    Ok(Some(file))
}
