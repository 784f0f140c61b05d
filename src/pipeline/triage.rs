//! Triage, on the writer thread before anything is read: known files are answered from the
//! store, links out of the watched folders and special files are skipped, the files dead
//! processes were working on are marked.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::writer::record;
use super::{Options, Outcome, Sink, Task, is_archive, pending, size_mtime, stat};
use crate::config::Config;
use crate::ingest::archive::{self};
use crate::ingest::{self};
use crate::pipeline::inflight;
use crate::store::{FileMeta, FileStatus, Store};

/// Triage of every path (known files answered at once, the rest become tasks); the number of
/// answers to expect is reported. `None` when told to stop.
pub(super) fn triage_all(
    store: &mut Store,
    cfg: &Config,
    paths: &[PathBuf],
    opts: Options,
    now: DateTime<Utc>,
    report: &std::cell::RefCell<&mut dyn Sink>,
    stop_now: &dyn Fn() -> bool,
) -> Option<(Vec<Task>, Vec<FileMeta>)> {
    let mut tasks = Vec::new();
    let mut expected = 0usize;
    let mut archives: Vec<FileMeta> = Vec::new();
    for path in paths {
        if stop_now() {
            return None;
        }
        match triage(store, cfg, path, opts, now) {
            Triage::Known(outcomes) => {
                expected += outcomes.len();
                for o in outcomes {
                    report.borrow_mut().outcome(o);
                }
            }
            Triage::Read(task) => {
                expected += match &task {
                    Task::File(_) => 1,
                    Task::Archive(meta) => {
                        archives.push(meta.clone());
                        // Opened here only to count (its central directory); read later.
                        ingest::open_regular(path)
                            .ok()
                            .and_then(|f| archive::count_members(std::io::BufReader::new(f)))
                            .map_or(1, |n| n.max(1))
                    }
                };
                tasks.push(task);
            }
        }
    }
    report.borrow_mut().planned(expected);
    Some((tasks, archives))
}

/// The mtime (ns) at or before which a FIT file cut short is stored for what it holds.
pub(super) fn settled_before(opts: Options, now: DateTime<Utc>) -> Option<i64> {
    let d = i64::try_from(opts.cut_short_after?.as_nanos()).ok()?;
    now.timestamp_nanos_opt()?.checked_sub(d)
}

pub(super) enum Triage {
    Known(Vec<Outcome>),
    Read(Task),
}

pub(super) fn triage(
    store: &mut Store,
    cfg: &Config,
    path: &Path,
    opts: Options,
    now: DateTime<Utc>,
) -> Triage {
    // One `lstat` answers both "a link?" and, for a plain file, size and mtime.
    let lstat = std::fs::symlink_metadata(path);
    let is_link = lstat.as_ref().is_ok_and(|m| m.file_type().is_symlink());
    if is_link && let Some(target) = link_out_of_roots(path, &cfg.watch) {
        let reason = format!(
            "a link to {}, outside the watched folders: not followed",
            target.display()
        );
        return skipped(store, path, -1, reason, now);
    }
    let md = if is_link {
        std::fs::metadata(path)
    } else {
        lstat
    };
    let (size, mtime_ns) = match md {
        // A FIFO, socket or device (or a link to one) is never opened: opening or reading it
        // could block the writer for good.
        Ok(md) => match ingest::special_kind(&md.file_type()) {
            Some(kind) => {
                let reason = format!("{kind}, not a regular file: not read");
                return skipped(store, path, size_mtime(&md).1, reason, now);
            }
            None => size_mtime(&md),
        },
        Err(e) => {
            let mut o = Outcome::new(path, FileStatus::Failed);
            o.reason = Some(format!("cannot read the file: {e}"));
            o.transient = true;
            return Triage::Known(vec![o]);
        }
    };
    let meta = FileMeta {
        path: path.to_path_buf(),
        sha256: None,
        size,
        mtime_ns,
    };
    if is_archive(path) {
        match store.archive_known(path, size, mtime_ns) {
            Ok(true) if !opts.retry_failed => {
                if let Ok(rows) = store.members(path) {
                    let outcomes: Vec<Outcome> = rows
                        .iter()
                        .filter_map(|r| known_outcome(&r.path, r, opts))
                        .collect();
                    if outcomes.len() == rows.len() {
                        return Triage::Known(outcomes);
                    }
                }
            }
            Ok(_) => {}
            Err(e) => return Triage::Known(vec![pending(path, &e)]),
        }
        return Triage::Read(Task::Archive(meta));
    }
    match store.file(path) {
        Ok(Some(row)) if row.size == Some(size) && row.mtime_ns == Some(mtime_ns) => {
            if let Some(o) = known_outcome(path, &row, opts) {
                return Triage::Known(vec![o]);
            }
        }
        Ok(_) => {}
        Err(e) => return Triage::Known(vec![pending(path, &e)]),
    }
    Triage::Read(Task::File(meta))
}

/// A path answered as skipped without being opened (a link out of the roots, a special file).
pub(super) fn skipped(
    store: &mut Store,
    path: &Path,
    mtime_ns: i64,
    reason: String,
    now: DateTime<Utc>,
) -> Triage {
    let meta = FileMeta {
        path: path.to_path_buf(),
        sha256: None,
        size: 0,
        mtime_ns,
    };
    Triage::Known(vec![record(
        store,
        &meta,
        FileStatus::Skipped,
        Some(reason),
        now,
    )])
}

/// For a symbolic link (`path` is one) inside a watched folder: its target, when that lies outside every
/// watched folder (a link planted to make the service read elsewhere). `None` otherwise.
pub(super) fn link_out_of_roots(path: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
    let canon: Vec<PathBuf> = roots.iter().filter_map(|r| r.canonicalize().ok()).collect();
    let parent = path.parent()?.canonicalize().ok()?;
    if !canon.iter().any(|r| parent.starts_with(r)) {
        return None; // not in a watched folder: a path the user gave `import`
    }
    let target = std::fs::read_link(path).ok()?;
    let target = parent.join(target);
    match target.canonicalize() {
        Ok(t) if canon.iter().any(|r| t.starts_with(r)) => None,
        Ok(t) => Some(t),
        Err(_) => Some(target),
    }
}

/// The start of the reason recorded for a file a process died working on.
pub(super) const INTERRUPTED: &str = "recoverd stopped while working on this file";

/// Marks the files dead processes were working on (see [`inflight`]): pending, read once more;
/// failed when it happens again to the same, unchanged file, so that a file that kills recoverd
/// (out of memory, say) cannot make a restarted service die over and over.
pub(super) fn strike_interrupted(store: &mut Store, db: Option<&Path>, now: DateTime<Utc>) {
    for path in inflight::recover(db) {
        let Ok((size, mtime_ns)) = stat(&path) else {
            continue; // gone, or an archive's member (its archive is read again whole)
        };
        let again = store.file(&path).ok().flatten().is_some_and(|r| {
            r.status == FileStatus::Pending
                && r.size == Some(size)
                && r.mtime_ns == Some(mtime_ns)
                && r.reason
                    .as_deref()
                    .is_some_and(|w| w.starts_with(INTERRUPTED))
        });
        let meta = FileMeta {
            path,
            sha256: None,
            size,
            mtime_ns,
        };
        let (status, reason) = if again {
            (
                FileStatus::Failed,
                format!(
                    "{INTERRUPTED}, twice (too large for its memory limit, or a fault in a reader): \
                     not tried again until it changes (`recoverd import --retry-failed` forces it)"
                ),
            )
        } else {
            (
                FileStatus::Pending,
                format!("{INTERRUPTED}; it is tried once more"),
            )
        };
        tracing::warn!(path = %crate::logging::printable(&meta.path.to_string_lossy()), "{reason}");
        let _ = store.record_file(&meta, status, Some(&reason), None, now);
    }
}

/// The files a dead process was working on, not yet read again.
pub(super) fn interrupted(store: &Store) -> std::collections::HashSet<PathBuf> {
    store
        .files(Some(FileStatus::Pending))
        .unwrap_or_default()
        .into_iter()
        .filter(|r| {
            r.reason
                .as_deref()
                .is_some_and(|w| w.starts_with(INTERRUPTED))
        })
        .map(|r| r.path)
        .collect()
}

pub(super) fn known_outcome(
    path: &Path,
    row: &crate::store::FileRow,
    opts: Options,
) -> Option<Outcome> {
    let mut o = Outcome::new(path, row.status);
    o.known = true;
    match row.status {
        FileStatus::Imported => {
            o.status = FileStatus::Duplicate;
            o.duplicate_of = row.activity_id;
            o.wellness = row.days.is_some();
        }
        FileStatus::Duplicate => o.duplicate_of = row.duplicate_of,
        FileStatus::Skipped => o.reason.clone_from(&row.reason),
        FileStatus::Failed if !opts.retry_failed => o.reason.clone_from(&row.reason),
        FileStatus::Failed | FileStatus::Pending => return None,
    }
    Some(o)
}
