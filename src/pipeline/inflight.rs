//! Which file each thread is reading, parsing or judging, kept on disk beside the database, so
//! that a file that kills recoverd (out of memory, a stack overflow: nothing a panic guard can
//! catch) is found by the next run and does not kill it again and again.
//!
//! Each reading thread holds one slot file, `.recoverd-reading.<pid>.<n>` in the database's
//! folder, holding the path it works on (empty between files). A clean run removes its slots.
//! A later run finds the slots of processes that no longer exist: the paths in them were being
//! worked on when their process died. [`recover`] hands those paths back, once (a slot is
//! claimed by renaming it, so two processes never both count it).

use std::ffi::OsString;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const PREFIX: &str = ".recoverd-reading.";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One thread's record of the file in its hands. Writes are best effort: when the folder is not
/// writable the slot does nothing (the guard is lost, the work is not).
#[derive(Debug)]
pub struct Slot {
    file: Option<(File, PathBuf)>,
    holding: bool,
}

impl Slot {
    /// A new slot beside the database `db` (`None`: an in-memory database, no slot).
    #[must_use]
    pub fn new(db: Option<&Path>) -> Self {
        let file = db.and_then(|db| {
            let dir = db.parent().filter(|d| !d.as_os_str().is_empty())?;
            let name = format!(
                "{PREFIX}{}.{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let path = dir.join(name);
            File::create(&path).ok().map(|f| (f, path))
        });
        Self {
            file,
            holding: false,
        }
    }

    /// Records that `path` is now in this thread's hands.
    pub fn hold(&mut self, path: &Path) {
        if let Some((f, _)) = &mut self.file {
            let bytes = path.as_os_str().as_bytes();
            let _ = f.set_len(0);
            let _ = f.write_all_at(bytes, 0);
            self.holding = true;
        }
    }

    /// Records that the file in hand is finished.
    pub fn clear(&mut self) {
        if self.holding
            && let Some((f, _)) = &mut self.file
        {
            let _ = f.set_len(0);
            let _ = f.flush();
            self.holding = false;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((_, path)) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The paths that were in the hands of processes that have died, from their slots beside the
/// database `db`; each slot is claimed and removed, so each death is counted once.
#[must_use]
pub fn recover(db: Option<&Path>) -> Vec<PathBuf> {
    let Some(dir) = db
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
    else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = dead_owner(&name) else {
            continue;
        };
        // Claimed by renaming: of two processes recovering at once, one wins. A claim left by a
        // process that died before it finished is claimed again.
        let claimed = dir.join(format!("{PREFIX}claimed.{pid}.{}", std::process::id()));
        if std::fs::rename(e.path(), &claimed).is_err() {
            continue;
        }
        let held = std::fs::read(&claimed).unwrap_or_default();
        let _ = std::fs::remove_file(&claimed);
        if !held.is_empty() && held.len() <= 64 * 1024 {
            out.push(PathBuf::from(OsString::from_vec(held)));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// For a slot (`<pid>.<n>`) whose process no longer exists, or a claim on one
/// (`claimed.<pid>.<claimer>`) whose claimer no longer exists: the pid of the slot's process.
fn dead_owner(name: &std::ffi::OsStr) -> Option<u32> {
    let rest = name.to_str()?.strip_prefix(PREFIX)?;
    let (pid, owner) = match rest.strip_prefix("claimed.") {
        Some(claim) => {
            let (pid, claimer) = claim.split_once('.')?;
            (pid.parse::<u32>().ok()?, claimer.parse::<u32>().ok()?)
        }
        None => {
            let (pid, n) = rest.split_once('.')?;
            n.parse::<usize>().ok()?;
            let pid = pid.parse::<u32>().ok()?;
            (pid, pid)
        }
    };
    if owner == std::process::id() || Path::new("/proc").join(owner.to_string()).exists() {
        return None;
    }
    Some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_process_slot_is_recovered_once_and_a_clean_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("recoverd.db");
        {
            let mut s = Slot::new(Some(&db));
            s.hold(Path::new("/a/run\nnew.fit"));
            s.clear();
        }
        assert!(recover(Some(&db)).is_empty());
        // A slot left by a process that is gone (pid beyond pid_max).
        let slot = dir.path().join(format!("{PREFIX}4294967.0"));
        std::fs::write(&slot, b"/w/big.fit").unwrap();
        std::fs::write(dir.path().join(format!("{PREFIX}4294968.1")), b"").unwrap();
        assert_eq!(recover(Some(&db)), vec![PathBuf::from("/w/big.fit")]);
        assert!(recover(Some(&db)).is_empty(), "counted once");
        // A claim whose claimer died before it finished is taken again.
        let claim = dir.path().join(format!("{PREFIX}claimed.4294967.4294969"));
        std::fs::write(&claim, b"/w/big.fit").unwrap();
        assert_eq!(recover(Some(&db)), vec![PathBuf::from("/w/big.fit")]);
        assert_eq!(
            std::fs::read_dir(dir.path())
                .map(Iterator::count)
                .unwrap_or(9),
            0
        );
        // While held, our own slot is not taken for a dead one's.
        let mut s = Slot::new(Some(&db));
        s.hold(Path::new("/w/x.fit"));
        assert!(recover(Some(&db)).is_empty());
    }
}
