//! The service's view of the watched folders: each real folder under a root gets its own
//! non-recursive inotify watch, added by us and never through a link (a link to a folder may lead
//! anywhere, or loop), and every folder is listed right after its watch is added, so a file
//! created in between is seen by one or the other. Roots on filesystems where inotify sees
//! nothing (FUSE, NFS, SMB) are polled; missing roots are waited for. A root that appears, is
//! moved in or is mounted over is listed at once; folders that appear during a burst are listed
//! again once it calms down.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher as _};

use crate::config::Config;
use crate::pipeline::walk::{self, Entry};

use super::mounts::needs_polling;

/// Quiet time after the last new folder before the new folders are listed again.
const FRESH_RESCAN: Duration = Duration::from_secs(1);

/// Files found by a listing, to be settled and read.
pub trait Found {
    /// A file that may hold an activity.
    fn found(&mut self, path: PathBuf);
}

/// The watched folders.
pub struct Tree {
    watcher: notify::RecommendedWatcher,
    /// Roots watched with inotify, with the identity (device, inode) they had when watched.
    watched: HashMap<PathBuf, (u64, u64)>,
    polled: Vec<PathBuf>,
    missing: Vec<PathBuf>,
    /// Every folder with a watch of its own.
    dirs: HashSet<PathBuf>,
    /// Folders that appeared since the last quiet moment.
    fresh: HashSet<PathBuf>,
    fresh_due: Option<Instant>,
    last_poll: Option<Instant>,
}

impl Tree {
    /// No folder watched yet; call [`Tree::sync`].
    #[must_use]
    pub fn new(watcher: notify::RecommendedWatcher) -> Self {
        Self {
            watcher,
            watched: HashMap::new(),
            polled: Vec::new(),
            missing: Vec::new(),
            dirs: HashSet::new(),
            fresh: HashSet::new(),
            fresh_due: None,
            last_poll: None,
        }
    }

    /// Number of roots watched or polled.
    #[must_use]
    pub fn roots(&self) -> usize {
        self.watched.len() + self.polled.len()
    }

    /// Brings the roots in line with the config and the disk: roots that appeared, were moved in
    /// or mounted over are watched and listed at once; roots that went are forgotten.
    pub fn sync(&mut self, cfg: &Config, out: &mut dyn Found) {
        let mut polled = Vec::new();
        let mut missing = Vec::new();
        let mut keep = HashSet::new();
        for root in &cfg.watch {
            if !root.is_dir() && *root == default_root() {
                let _ = std::fs::create_dir_all(root);
            }
            let Some(id) = identity(root) else {
                if self.watched.contains_key(root) {
                    tracing::info!(root = %root.display(), "folder went away; watching for it to come back");
                }
                missing.push(root.clone());
                continue;
            };
            if needs_polling(root) {
                polled.push(root.clone());
                continue;
            }
            keep.insert(root.clone());
            if self.watched.get(root) == Some(&id) {
                continue;
            }
            // New, back, replaced or mounted over: what was watched there is gone.
            self.forget(root);
            self.watched.insert(root.clone(), id);
            tracing::info!(root = %root.display(), "watching");
            if !self.watch_tree(root, cfg, out) {
                self.watched.remove(root);
                polled.push(root.clone());
            }
        }
        let gone: Vec<PathBuf> = self
            .watched
            .keys()
            .filter(|r| !keep.contains(*r))
            .cloned()
            .collect();
        for root in gone {
            self.forget(&root);
            self.watched.remove(&root);
        }
        self.polled = polled;
        self.missing = missing;
    }

    /// Lists every root again (the kernel dropped events).
    pub fn rescan_all(&mut self, cfg: &Config, out: &mut dyn Found) {
        let roots: Vec<PathBuf> = self.watched.keys().cloned().collect();
        for root in roots {
            self.watch_tree(&root, cfg, out);
        }
        for root in &self.polled {
            scan(root, cfg, out);
        }
    }

    /// A folder appeared in a watched folder (created, moved in): watched and listed now, and
    /// listed again once the burst calms down.
    pub fn folder_appeared(&mut self, dir: &Path, cfg: &Config, out: &mut dyn Found) {
        if !self.under_watch(dir) || !is_real_dir(dir) {
            return;
        }
        self.watch_tree(dir, cfg, out);
        self.fresh.insert(dir.to_path_buf());
        self.fresh_due = Some(Instant::now() + FRESH_RESCAN);
    }

    /// A watched folder was removed or moved away: its watches (and its subfolders') go.
    pub fn folder_gone(&mut self, dir: &Path) {
        if self.dirs.contains(dir) {
            self.forget(dir);
        }
    }

    /// When the folders that appeared are due to be listed again.
    #[must_use]
    pub fn fresh_due(&self) -> Option<Instant> {
        self.fresh_due
    }

    /// Lists again the folders that appeared during the burst that just calmed down: closes
    /// any gap between a folder's creation and its watch.
    pub fn rescan_fresh(&mut self, cfg: &Config, out: &mut dyn Found) {
        self.fresh_due = None;
        let fresh: Vec<PathBuf> = self.fresh.drain().collect();
        // Listing a folder lists its subfolders: skip those under another fresh folder.
        for dir in &fresh {
            let nested = fresh.iter().any(|f| f != dir && dir.starts_with(f));
            if !nested && self.under_watch(dir) && is_real_dir(dir) {
                self.watch_tree(dir, cfg, out);
            }
        }
    }

    /// Roots polled (no inotify there), listed now.
    pub fn poll(&mut self, cfg: &Config, out: &mut dyn Found) {
        self.last_poll = Some(Instant::now());
        for root in &self.polled {
            scan(root, cfg, out);
        }
    }

    /// Only polled or missing roots cost wakeups; inotify roots cost none while idle.
    #[must_use]
    pub fn needs_polling(&self) -> bool {
        !self.polled.is_empty() || !self.missing.is_empty()
    }

    /// Time until the next poll.
    #[must_use]
    pub fn poll_due(&self, cfg: &Config) -> Duration {
        let interval = if self.polled.is_empty() {
            cfg.poll_interval.min(Duration::from_secs(5))
        } else {
            cfg.poll_interval
        };
        self.last_poll
            .map_or(interval, |t| interval.saturating_sub(t.elapsed()))
    }

    /// True when `path` is (or was) a configured root.
    #[must_use]
    pub fn is_root(cfg: &Config, path: &Path) -> bool {
        cfg.watch.iter().any(|r| r.starts_with(path))
    }

    /// True when the folder's parent has a watch of ours (events come only from those, but a
    /// folder renamed meanwhile may report a stale path).
    fn under_watch(&self, dir: &Path) -> bool {
        dir.parent().is_some_and(|p| self.dirs.contains(p)) || self.dirs.contains(dir)
    }

    /// Watches `top` and every real folder under it, each before listing it; queues the files.
    /// False when `top` itself cannot be watched (inotify limit).
    fn watch_tree(&mut self, top: &Path, cfg: &Config, out: &mut dyn Found) -> bool {
        let mut stack = vec![top.to_path_buf()];
        while let Some(dir) = stack.pop() {
            if !self.dirs.contains(&dir) {
                if let Err(e) = self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch with inotify (raise fs.inotify.max_user_watches?)");
                    if dir == top {
                        scan(top, cfg, out);
                        return false;
                    }
                    continue;
                }
                // inotify follows links: a folder swapped for a link meanwhile is dropped.
                if dir != top && !is_real_dir(&dir) {
                    let _ = self.watcher.unwatch(&dir);
                    continue;
                }
                self.dirs.insert(dir.clone());
            }
            list(&dir, cfg, out, &mut stack);
        }
        true
    }

    /// Drops the watches on `dir` and every folder under it.
    fn forget(&mut self, dir: &Path) {
        let under: Vec<PathBuf> = self
            .dirs
            .iter()
            .filter(|d| d.starts_with(dir))
            .cloned()
            .collect();
        for d in under {
            let _ = self.watcher.unwatch(&d);
            self.dirs.remove(&d);
        }
    }
}

/// True for a folder that is not a link.
fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Device and inode of a folder (following a root given as a link), `None` when it is none.
fn identity(root: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(root)
        .ok()
        .filter(std::fs::Metadata::is_dir)
        .map(|m| (m.dev(), m.ino()))
}

/// Queues every activity file under `dir` (no watches). A folder that cannot be listed is
/// passed over quietly: polled roots are listed again and again.
fn scan(dir: &Path, cfg: &Config, out: &mut dyn Found) {
    walk::walk(dir, cfg, &mut |p| out.found(p), &mut |_, _| {});
}

/// Queues one folder's activity files and pushes its real subfolders, with the link policy of
/// [`walk`]: a link to a folder is never walked, a link to a file is judged by the pipeline
/// (which refuses one leading out of the watched folders), special files are queued too, to be
/// answered.
fn list(dir: &Path, cfg: &Config, out: &mut dyn Found, subdirs: &mut Vec<PathBuf>) {
    for entry in walk::entries(dir, cfg).unwrap_or_default() {
        match entry {
            Entry::Folder(d) => subdirs.push(d),
            Entry::File(f) => out.found(f),
        }
    }
}

fn default_root() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join("Activities")
}
