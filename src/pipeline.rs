//! One file's journey: stat → known? → read and hash → duplicate? → parse → judge → store.
//! [`process_file`] is the one function both `import` and the `run` service call. Synchronous;
//! `now` is an argument. It decides nothing about notifications: it reports what happened.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::effort;
use crate::ingest::{self, FailureKind, IngestError, Limits, Parsed, Sniffed};
use crate::model::Activity;
use crate::plan::{self, History};
use crate::store::{FileMeta, FileStatus, Store, StoreError};

/// Options of one run over files.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Read again files that failed before, even unchanged.
    pub retry_failed: bool,
}

/// What happened to one file.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    /// The path as given.
    pub path: String,
    /// What became of it.
    pub status: FileStatus,
    /// The new activity, when imported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<i64>,
    /// The stored activity it repeats, when a duplicate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<i64>,
    /// Why it was skipped, failed or left pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The failure may pass by itself (a copy still running, a locked database).
    #[serde(skip)]
    pub transient: bool,
    /// The file was already known, unchanged: nothing was read.
    #[serde(skip)]
    pub known: bool,
}

impl Outcome {
    fn new(path: &Path, status: FileStatus) -> Self {
        Self {
            path: path.to_string_lossy().into_owned(),
            status,
            activity_id: None,
            duplicate_of: None,
            reason: None,
            transient: false,
            known: false,
        }
    }
}

/// Size and mtime (ns) of a file.
///
/// # Errors
/// The I/O error from `stat`.
pub fn stat(path: &Path) -> std::io::Result<(u64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok((m.len(), m.mtime() * 1_000_000_000 + m.mtime_nsec()))
}

/// Processes one file end to end.
pub fn process_file(
    store: &mut Store,
    cfg: &Config,
    path: &Path,
    opts: Options,
    now: DateTime<Utc>,
) -> Outcome {
    let (size, mtime_ns) = match stat(path) {
        Ok(s) => s,
        Err(e) => {
            let mut o = Outcome::new(path, FileStatus::Failed);
            o.reason = Some(format!("cannot read the file: {e}"));
            return o;
        }
    };
    match store.file(path) {
        Ok(Some(row)) if row.size == Some(size) && row.mtime_ns == Some(mtime_ns) => {
            if let Some(o) = known_outcome(path, &row, opts) {
                return o;
            }
        }
        Ok(_) => {}
        Err(e) => return pending(path, &e),
    }
    let mut meta = FileMeta {
        path: path.to_path_buf(),
        sha256: None,
        size,
        mtime_ns,
    };
    let limits = Limits {
        max_file_bytes: cfg.max_file_bytes,
    };
    let bytes = match ingest::read_path(path, limits) {
        Ok(b) => b,
        Err(e) => return failed(store, &meta, &e, now),
    };
    meta.sha256 = Some(bytes.sha256.clone());
    // Same content seen before: no need to parse it again.
    match store.activity_by_sha(&bytes.sha256) {
        Ok(Some(id)) => return duplicate(store, &meta, id, now),
        Ok(None) => {}
        Err(e) => return pending(path, &e),
    }
    if !opts.retry_failed
        && let Ok(Some((FileStatus::Skipped, reason))) = store.status_by_sha(&bytes.sha256)
    {
        return record(store, &meta, FileStatus::Skipped, reason, now);
    }
    let parsed = match parse_content(&bytes.bytes, limits) {
        Ok(p) => p,
        Err(e) => return failed(store, &meta, &e, now),
    };
    match parsed {
        Parsed::Skipped(reason) => record(store, &meta, FileStatus::Skipped, Some(reason), now),
        Parsed::Activity(activity) => import_activity(store, cfg, &meta, &activity, now),
    }
}

fn known_outcome(path: &Path, row: &crate::store::FileRow, opts: Options) -> Option<Outcome> {
    let mut o = Outcome::new(path, row.status);
    o.known = true;
    match row.status {
        FileStatus::Imported => {
            o.status = FileStatus::Duplicate;
            o.duplicate_of = row.activity_id;
        }
        FileStatus::Duplicate => o.duplicate_of = row.duplicate_of,
        FileStatus::Skipped => o.reason.clone_from(&row.reason),
        FileStatus::Failed if !opts.retry_failed => o.reason.clone_from(&row.reason),
        FileStatus::Failed | FileStatus::Pending => return None,
    }
    Some(o)
}

/// Parses content, opening gzip transparently (bounded by the size limit).
///
/// # Errors
/// [`IngestError`].
pub fn parse_content(bytes: &[u8], limits: Limits) -> Result<Parsed, IngestError> {
    match ingest::sniff(bytes) {
        Sniffed::Gzip => {
            let inner = gunzip(bytes, limits)?;
            if matches!(ingest::sniff(&inner), Sniffed::Gzip | Sniffed::Zip) {
                return Err(IngestError {
                    kind: FailureKind::Damaged,
                    message: "a compressed file inside a compressed file is not an activity".into(),
                });
            }
            ingest::read_bytes(&inner)
        }
        Sniffed::Zip => Err(IngestError {
            kind: FailureKind::Damaged,
            message: "zip archives are read by `recoverd import`, member by member".into(),
        }),
        _ => ingest::read_bytes(bytes),
    }
}

/// Decompresses gzip, refusing output past the size limit (a gzip bomb).
///
/// # Errors
/// [`IngestError`] when damaged or too large.
pub fn gunzip(bytes: &[u8], limits: Limits) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limits.max_file_bytes + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError {
            kind: if e.kind() == std::io::ErrorKind::UnexpectedEof {
                FailureKind::Truncated
            } else {
                FailureKind::Damaged
            },
            message: format!("the gzip data is damaged or cut short: {e}"),
        })?;
    if out.len() as u64 > limits.max_file_bytes {
        return Err(IngestError {
            kind: FailureKind::TooLarge,
            message: format!(
                "the gzip data expands past the {} MB limit (max_file_mb); refused",
                limits.max_file_bytes / (1024 * 1024)
            ),
        });
    }
    Ok(out)
}

/// The judgement of an activity against what the store holds.
///
/// # Errors
/// On database failure.
pub fn assess(
    store: &Store,
    cfg: &Config,
    a: &Activity,
    id: Option<i64>,
) -> Result<plan::Assessment, StoreError> {
    let stored = store.observed_max_hr()?;
    let own = effort::peak_10s(&a.hr);
    let observed_max_hr = match (stored, own) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    let history = History {
        observed_max_hr,
        daily_loads: store.daily_loads(id)?,
    };
    Ok(plan::evaluate(a, &cfg.athlete, &history))
}

fn import_activity(
    store: &mut Store,
    cfg: &Config,
    meta: &FileMeta,
    activity: &Activity,
    now: DateTime<Utc>,
) -> Outcome {
    match store.find_same_activity(activity) {
        Ok(Some(id)) => return duplicate(store, meta, id, now),
        Ok(None) => {}
        Err(e) => return pending(&meta.path, &e),
    }
    let assessment = match assess(store, cfg, activity, None) {
        Ok(a) => a,
        Err(e) => return pending(&meta.path, &e),
    };
    match store.insert_activity(meta, activity, &assessment, &cfg.settings_key(), now) {
        Ok(id) => {
            let mut o = Outcome::new(&meta.path, FileStatus::Imported);
            o.activity_id = Some(id);
            o
        }
        Err(e) => pending(&meta.path, &e),
    }
}

fn duplicate(store: &mut Store, meta: &FileMeta, id: i64, now: DateTime<Utc>) -> Outcome {
    if let Err(e) = store.record_file(meta, FileStatus::Duplicate, None, Some(id), now) {
        return pending(&meta.path, &e);
    }
    let mut o = Outcome::new(&meta.path, FileStatus::Duplicate);
    o.duplicate_of = Some(id);
    o
}

fn record(
    store: &mut Store,
    meta: &FileMeta,
    status: FileStatus,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Outcome {
    if let Err(e) = store.record_file(meta, status, reason.as_deref(), None, now) {
        return pending(&meta.path, &e);
    }
    let mut o = Outcome::new(&meta.path, status);
    o.reason = reason;
    o
}

fn failed(store: &mut Store, meta: &FileMeta, e: &IngestError, now: DateTime<Utc>) -> Outcome {
    let mut o = record(
        store,
        meta,
        FileStatus::Failed,
        Some(e.message.clone()),
        now,
    );
    o.transient = o.transient || matches!(e.kind, FailureKind::Truncated | FailureKind::Unreadable);
    o
}

fn pending(path: &Path, e: &StoreError) -> Outcome {
    let mut o = Outcome::new(path, FileStatus::Pending);
    o.reason = Some(format!("not stored yet: {e}; it will be tried again"));
    o.transient = true;
    o
}

/// Recomputes every judgement made with other settings or an older model, from the stored
/// streams (not the files). Returns how many were recomputed.
///
/// # Errors
/// On database failure.
pub fn replan(store: &mut Store, cfg: &Config, all: bool) -> Result<usize, StoreError> {
    let key = cfg.settings_key();
    let ids = if all {
        store.activity_ids()?
    } else {
        store.stale_assessments(&key)?
    };
    let mut n = 0;
    for id in ids {
        let Some(stored) = store.load(id)? else {
            continue;
        };
        let assessment = assess(store, cfg, &stored.activity, Some(id))?;
        store.save_assessment(id, &stored.activity, &assessment, &key)?;
        n += 1;
    }
    Ok(n)
}
