//! Settling: a file is read once it has been quiet, or closed after writing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::watch::Found;
use crate::pipeline::{self};

/// Quiet time after a file's last event before it is read.
pub(super) const QUIET: Duration = Duration::from_millis(300);
/// Re-check interval for a file still changing.
pub(super) const RECHECK: Duration = Duration::from_secs(1);

/// A file waiting to settle.
pub(super) struct Candidate {
    pub(super) due: Instant,
    pub(super) complete: bool,
    pub(super) last_stat: Option<(u64, i64)>,
}

/// Files waiting to settle, by path.
#[derive(Default)]
pub(super) struct Pending(pub(super) HashMap<PathBuf, Candidate>);

impl Found for Pending {
    fn found(&mut self, path: PathBuf) {
        self.0.entry(path).or_insert(Candidate {
            due: Instant::now(),
            complete: false,
            last_stat: None,
        });
    }
}

/// True when a candidate has settled and is to be read; false while it still changes
/// (re-armed) or when it is gone.
pub(super) fn settle(path: &Path, pending: &mut Pending) -> bool {
    let Some(mut c) = pending.0.remove(path) else {
        return false;
    };
    let Ok(stat) = pipeline::stat(path) else {
        return false; // gone (renamed away, deleted)
    };
    if !c.complete && c.last_stat != Some(stat) {
        c.last_stat = Some(stat);
        c.due = Instant::now() + RECHECK;
        pending.0.insert(path.to_path_buf(), c);
        return false;
    }
    true
}
