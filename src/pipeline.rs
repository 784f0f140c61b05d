//! A file's journey: stat → known? → read and hash → parse → duplicate? → judge → store.
//!
//! [`process_paths`] is the one function both `import` and the `run` service call, for one file
//! or for years of history. Known files are answered from the store without reading them;
//! the rest are read and parsed on worker threads (zip archives member by member) and committed
//! by the calling thread, the one writer, in batched transactions. Afterwards judgements that
//! depend on history (observed max HR, fitness and fatigue) are brought up to date. It decides
//! nothing about notifications: it reports what happened, file by file, to a sink.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Config;
use crate::effort;
use crate::inflight;
use crate::ingest::archive::{self, Hint, Members, StravaIndex};
use crate::ingest::{self, FailureKind, IngestError, Limits, Parsed, Sniffed};
use crate::model::Activity;
use crate::plan::{self, History};
use crate::store::{FileMeta, FileStatus, Store, StoreError};

/// How long a FIT file cut short must stay unchanged before the service stores what it holds:
/// long enough for any copy or sync to have resumed.
pub const CUT_SHORT_SETTLE: Duration = Duration::from_secs(600);

/// Files committed per transaction during a batch import.
const BATCH_FILES: usize = 64;
/// Longest a batch stays open.
const BATCH_TIME: Duration = Duration::from_millis(250);

/// Options of one run over files.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Read again files that failed before, even unchanged.
    pub retry_failed: bool,
    /// Threads that read and parse (1: all on the calling thread).
    pub workers: usize,
    /// A FIT file cut short is stored for what it holds (with a warning) once it has not
    /// changed for this long; until then it is pending. `None`: never, it fails until it
    /// changes. The service keeps [`CUT_SHORT_SETTLE`]; `import` stores it at once.
    pub cut_short_after: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            retry_failed: false,
            workers: 1,
            cut_short_after: Some(CUT_SHORT_SETTLE),
        }
    }
}

impl Options {
    /// One worker per core.
    #[must_use]
    pub fn all_cores(retry_failed: bool) -> Self {
        Self {
            retry_failed,
            workers: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            ..Self::default()
        }
    }

    /// FIT files cut short are stored for what they hold at once (`import`: the user chose
    /// the file).
    #[must_use]
    pub fn storing_cut_short_at_once(self) -> Self {
        Self {
            cut_short_after: Some(Duration::ZERO),
            ..self
        }
    }
}

/// What happened to one file.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    /// The path as given (`archive.zip/member` for an archive's member).
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
    /// A file left pending for a reason outside it (the database cannot be opened).
    #[must_use]
    pub fn pending_because(path: &Path, why: &str) -> Self {
        let mut o = Self::new(path, FileStatus::Pending);
        o.reason = Some(format!("not stored yet: {why}; it will be tried again"));
        o.transient = true;
        o
    }

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
    std::fs::metadata(path).map(|m| size_mtime(&m))
}

fn size_mtime(m: &std::fs::Metadata) -> (u64, i64) {
    use std::os::unix::fs::MetadataExt;
    (m.len(), m.mtime() * 1_000_000_000 + m.mtime_nsec())
}

/// True for names of zip archives.
fn is_archive(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// What to do with one path, decided on the writer thread before anything is read.
enum Task {
    File(FileMeta),
    Archive(FileMeta),
}

/// One unit for a worker: a file to read, an archive member already read, or a result.
enum Work {
    File(FileMeta, Hint),
    Bytes(FileMeta, Vec<u8>, Hint),
    Ready(Loaded),
}

/// A file read and parsed, waiting for the writer.
struct Loaded {
    meta: FileMeta,
    hint: Hint,
    result: Result<Parsed, IngestError>,
}

/// Where a run reports to, and how it is told to stop.
pub trait Sink {
    /// How many files to expect, once known (for progress).
    fn planned(&mut self, _files: usize) {}
    /// One file's (or archive member's) final outcome.
    fn outcome(&mut self, outcome: Outcome);
    /// True when the run must stop: the files in hand are finished and committed, the rest are
    /// left for the next run.
    fn stop(&self) -> bool {
        false
    }
}

/// Collects outcomes into a vector.
impl Sink for Vec<Outcome> {
    fn outcome(&mut self, outcome: Outcome) {
        self.push(outcome);
    }
}

/// Processes files and archives end to end and reports each file (or member) to the sink once
/// its outcome is final: committed, or pending because the database refused it. Afterwards the
/// judgements that depend on history are brought up to date.
pub fn process_paths(
    store: &mut Store,
    cfg: &Config,
    paths: &[PathBuf],
    opts: Options,
    now: DateTime<Utc>,
    report: &mut dyn Sink,
) {
    let mut session = match Session::new(store) {
        Ok(s) => s,
        Err(e) => {
            for p in paths {
                report.outcome(pending(p, &e));
            }
            return;
        }
    };
    ingest_paths(store, cfg, paths, opts, now, &mut session, report);
    if let Err(e) = session.refresh(store, cfg) {
        tracing::warn!(error = %e, "could not update judgements after the import; `recoverd replan` will");
    }
}

/// [`process_paths`] without the history refresh: what it imports is judged against the
/// session's history and recorded in it, so that one [`Session::refresh`] after many calls (a
/// burst of files in the service) judges again what later arrivals changed, once.
pub fn ingest_paths(
    store: &mut Store,
    cfg: &Config,
    paths: &[PathBuf],
    opts: Options,
    now: DateTime<Utc>,
    session: &mut Session,
    report: &mut dyn Sink,
) {
    // Files a dead process was working on are marked before anything is read again, and read
    // first, each alone: a death while one is read alone is that file's doing.
    strike_interrupted(store, store.file_path().as_deref(), now);
    let suspects = if paths.len() > 1 {
        interrupted(store)
    } else {
        std::collections::HashSet::new()
    };
    if suspects.is_empty() {
        return process_batch(store, cfg, paths, opts, now, session, report);
    }
    let (alone, rest): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.iter().cloned().partition(|p| suspects.contains(p));
    let one = Options { workers: 1, ..opts };
    for path in &alone {
        if report.stop() {
            return;
        }
        process_batch(
            store,
            cfg,
            std::slice::from_ref(path),
            one,
            now,
            session,
            report,
        );
    }
    process_batch(store, cfg, &rest, opts, now, session, report);
}

/// [`ingest_paths`] without the look back at dead processes.
fn process_batch(
    store: &mut Store,
    cfg: &Config,
    paths: &[PathBuf],
    opts: Options,
    now: DateTime<Utc>,
    session: &mut Session,
    report: &mut dyn Sink,
) {
    let halt = AtomicBool::new(false);
    let report = std::cell::RefCell::new(report);
    // Asked between files; the workers see its answer through `halt`.
    let stop_now = || {
        if report.borrow().stop() {
            halt.store(true, Ordering::SeqCst);
        }
        halt.load(Ordering::SeqCst)
    };
    let limits = limits_of(cfg);
    let db = store.file_path();
    // 1. Triage on this thread: known files cost a stat and a lookup.
    let Some((tasks, archives)) = triage_all(store, cfg, paths, opts, now, &report, &stop_now)
    else {
        return;
    };
    if tasks.is_empty() {
        return;
    }
    let mut writer = Writer {
        cut_short_after: opts.cut_short_after,
        ..Writer::new(store, cfg, now, session, tasks.len() > 1, db.as_deref())
    };
    let queue = Mutex::new(Queue::new(tasks, limits));
    let limits = Reading {
        limits,
        settled: settled_before(opts, now),
    };
    let mut unsettled: Vec<String> = Vec::new();
    let mut emit = |o: Outcome| {
        if o.status == FileStatus::Pending {
            unsettled.push(o.path.clone());
        }
        report.borrow_mut().outcome(o);
    };
    // 2. Read and parse: on this thread for one file, else on worker threads.
    let workers = opts.workers.clamp(1, 64);
    if workers == 1 || paths.len() == 1 && archives.is_empty() {
        let mut slot = inflight::Slot::new(db.as_deref());
        while let Some(work) = next_work(&queue, &halt) {
            writer.push(load_guarded(work, limits, &mut slot), &mut emit);
            if stop_now() {
                break;
            }
        }
    } else {
        let shared = Shared {
            queue: &queue,
            halt: &halt,
            db: db.as_deref(),
            reading: limits,
        };
        read_on_workers(workers, &shared, &mut writer, &mut emit, &stop_now);
    }
    writer.flush(&mut emit);
    // 3. Archives whose every member has a final status are not opened again while unchanged.
    record_settled_archives(writer.store, &archives, &unsettled, now);
}

fn record_settled_archives(
    store: &mut Store,
    archives: &[FileMeta],
    unsettled: &[String],
    now: DateTime<Utc>,
) {
    for meta in archives {
        let prefix = format!("{}/", meta.path.to_string_lossy());
        if !unsettled
            .iter()
            .any(|p| p.starts_with(&prefix) || *p == prefix[..prefix.len() - 1])
        {
            let _ = store.record_archive(&meta.path, meta.size, meta.mtime_ns, now);
        }
    }
}

/// Triage of every path (known files answered at once, the rest become tasks); the number of
/// answers to expect is reported. `None` when told to stop.
fn triage_all(
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
fn settled_before(opts: Options, now: DateTime<Utc>) -> Option<i64> {
    let d = i64::try_from(opts.cut_short_after?.as_nanos()).ok()?;
    now.timestamp_nanos_opt()?.checked_sub(d)
}

/// What the worker threads share.
struct Shared<'a> {
    queue: &'a Mutex<Queue>,
    halt: &'a AtomicBool,
    db: Option<&'a Path>,
    reading: Reading,
}

/// Reads and parses on `workers` threads, committing on this one as results arrive. What the
/// workers have read is committed even when stopping; they take no more.
fn read_on_workers(
    workers: usize,
    shared: &Shared<'_>,
    writer: &mut Writer<'_>,
    emit: &mut dyn FnMut(Outcome),
    stop_now: &dyn Fn() -> bool,
) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Loaded>(workers * 4);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            scope.spawn(move || {
                let mut slot = inflight::Slot::new(shared.db);
                while let Some(work) = next_work(shared.queue, shared.halt) {
                    if tx
                        .send(load_guarded(work, shared.reading, &mut slot))
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        drop(tx);
        loop {
            match rx.recv_timeout(BATCH_TIME) {
                Ok(loaded) => writer.push(loaded, emit),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => writer.flush(emit),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
            stop_now();
        }
    });
}

/// The reading limits a configuration sets.
fn limits_of(cfg: &Config) -> Limits {
    Limits {
        max_file_bytes: cfg.max_file_bytes,
    }
}

/// [`process_paths`] for one path on the calling thread: one outcome for a file, one per member
/// for an archive.
pub fn process_file(
    store: &mut Store,
    cfg: &Config,
    path: &Path,
    opts: Options,
    now: DateTime<Utc>,
) -> Vec<Outcome> {
    let mut out = Vec::new();
    process_paths(
        store,
        cfg,
        &[path.to_path_buf()],
        Options { workers: 1, ..opts },
        now,
        &mut out,
    );
    out
}

enum Triage {
    Known(Vec<Outcome>),
    Read(Task),
}

fn triage(
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
fn skipped(
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
fn link_out_of_roots(path: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
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

/// The tasks, expanded into work one item at a time (archives member by member), shared by
/// the workers behind a mutex: memory stays bounded whatever the number of files.
struct Queue {
    tasks: std::vec::IntoIter<Task>,
    members: Option<(Members, i64)>,
    limits: Limits,
    strava: HashMap<PathBuf, Option<Arc<StravaIndex>>>,
}

impl Queue {
    fn new(tasks: Vec<Task>, limits: Limits) -> Self {
        Self {
            tasks: tasks.into_iter(),
            members: None,
            limits,
            strava: HashMap::new(),
        }
    }

    fn next(&mut self) -> Option<Work> {
        loop {
            if let Some((members, mtime_ns)) = &mut self.members {
                if let Some(m) = members.next() {
                    let meta = FileMeta {
                        path: m.path,
                        sha256: None,
                        size: m.size,
                        mtime_ns: *mtime_ns,
                    };
                    return Some(match m.bytes {
                        _ if m.skipped.is_some() => Work::Ready(Loaded {
                            meta,
                            hint: m.hint,
                            result: Ok(Parsed::Skipped(m.skipped.unwrap_or_default())),
                        }),
                        _ if m.hint.route => Work::Ready(Loaded {
                            meta,
                            hint: m.hint,
                            result: Ok(Parsed::Skipped(ROUTE.into())),
                        }),
                        Ok(bytes) => Work::Bytes(meta, bytes, m.hint),
                        Err(e) => Work::Ready(Loaded {
                            meta,
                            hint: m.hint,
                            result: Err(e),
                        }),
                    });
                }
                self.members = None;
            }
            match self.tasks.next()? {
                Task::File(meta) => {
                    let hint = self.hint_for(&meta.path);
                    if hint.route {
                        return Some(Work::Ready(Loaded {
                            meta,
                            hint,
                            result: Ok(Parsed::Skipped(ROUTE.into())),
                        }));
                    }
                    return Some(Work::File(meta, hint));
                }
                Task::Archive(meta) => match ingest::open_regular(&meta.path).and_then(|f| {
                    Members::open(std::io::BufReader::new(f), &meta.path, self.limits)
                }) {
                    Ok(m) => self.members = Some((m, meta.mtime_ns)),
                    Err(e) => {
                        return Some(Work::Ready(Loaded {
                            meta,
                            hint: Hint::default(),
                            result: Err(e),
                        }));
                    }
                },
            }
        }
    }

    /// The Strava `activities.csv` hint for a file in an unpacked export folder.
    fn hint_for(&mut self, path: &Path) -> Hint {
        let Some((root, rel)) = archive::strava_root(path) else {
            return Hint::default();
        };
        let index = self
            .strava
            .entry(root.clone())
            .or_insert_with(|| StravaIndex::read_file(&root.join("activities.csv")).map(Arc::new));
        index
            .as_ref()
            .and_then(|i| i.hint(&rel))
            .unwrap_or_default()
    }
}

const ROUTE: &str = "a planned route in a Strava export, not a recorded activity";

fn next_work(queue: &Mutex<Queue>, halt: &AtomicBool) -> Option<Work> {
    if halt.load(Ordering::SeqCst) {
        return None;
    }
    queue.lock().ok()?.next()
}

/// [`load`] under the per-file guard: the file is recorded as in hand while it is read and
/// parsed, and a panic in either is this file's failure, not the run's.
/// What a worker needs to read a file: the limits, and the mtime (ns) at or before which a FIT
/// file cut short is stored for what it holds.
#[derive(Clone, Copy)]
struct Reading {
    limits: Limits,
    settled: Option<i64>,
}

fn load_guarded(work: Work, limits: Reading, slot: &mut inflight::Slot) -> Loaded {
    /// Held while a large file is read and parsed: one at a time (memory, not speed).
    static LARGE: Mutex<()> = Mutex::new(());
    let (meta, size) = match &work {
        Work::File(m, _) => (m.clone(), m.size),
        Work::Bytes(m, b, _) => (m.clone(), b.len() as u64),
        Work::Ready(l) => (l.meta.clone(), 0),
    };
    let _large = (size > ingest::LARGE_FILE_BYTES).then(|| {
        LARGE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    });
    slot.hold(&meta.path);
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(work, limits)))
        .unwrap_or_else(|panic| Loaded {
            meta,
            hint: Hint::default(),
            result: Err(IngestError::damaged(crashed("reading", &panic))),
        });
    slot.clear();
    loaded
}

/// The reason given for a file whose step panicked (a bug in recoverd or a library, found by
/// this file): it is failed, not tried again until it changes.
fn crashed(step: &str, panic: &Box<dyn std::any::Any + Send>) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!(
        "recoverd hit an internal error {step} this file ({what}); it is not tried again until it changes"
    )
}

/// The start of the reason recorded for a file a process died working on.
const INTERRUPTED: &str = "recoverd stopped while working on this file";

/// Marks the files dead processes were working on (see [`inflight`]): pending, read once more;
/// failed when it happens again to the same, unchanged file, so that a file that kills recoverd
/// (out of memory, say) cannot make a restarted service die over and over.
fn strike_interrupted(store: &mut Store, db: Option<&Path>, now: DateTime<Utc>) {
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
fn interrupted(store: &Store) -> std::collections::HashSet<PathBuf> {
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

/// Reads, hashes and parses: no store, no clock; runs on any thread.
fn load(work: Work, reading: Reading) -> Loaded {
    let Reading { limits, settled } = reading;
    let settled = |meta: &FileMeta| settled.is_some_and(|t| meta.mtime_ns <= t);
    match work {
        Work::Ready(l) => l,
        Work::File(mut meta, hint) => match ingest::read_path(&meta.path, limits) {
            Ok(b) => {
                meta.sha256 = Some(b.sha256);
                let result = parse_or_salvage(&b.bytes, limits, settled(&meta));
                Loaded { meta, hint, result }
            }
            Err(e) => Loaded {
                meta,
                hint,
                result: Err(e),
            },
        },
        Work::Bytes(mut meta, bytes, hint) => {
            meta.sha256 = Some(ingest::sha256_hex(&bytes));
            let result = parse_or_salvage(&bytes, limits, settled(&meta));
            Loaded { meta, hint, result }
        }
    }
}

/// [`parse_content`], and for a FIT file cut short: what it holds when `settled` (no more is
/// coming), else a [`FailureKind::CutShort`] error that says when it will be stored.
fn parse_or_salvage(bytes: &[u8], limits: Limits, settled: bool) -> Result<Parsed, IngestError> {
    match parse_content(bytes, limits) {
        Err(e)
            if e.kind == FailureKind::Truncated
                && ingest::sniff(bytes) == Sniffed::Format(crate::model::Format::Fit) =>
        {
            if settled {
                ingest::read_cut_short(bytes)
            } else {
                Err(IngestError {
                    kind: FailureKind::CutShort,
                    message: e.message,
                })
            }
        }
        other => other,
    }
}

/// What one run (an `import`, or a burst of files in the service) carries from file to file:
/// the history judgements are made against, and what was imported, to judge again afterwards
/// what later arrivals changed.
pub struct Session {
    history: HistoryCache,
    imported: Vec<(i64, DateTime<Utc>)>,
}

impl Session {
    /// A session on the history stored now.
    ///
    /// # Errors
    /// On database failure.
    pub fn new(store: &Store) -> Result<Self, StoreError> {
        Ok(Self {
            history: HistoryCache::load(store)?,
            imported: Vec::new(),
        })
    }

    /// After imports: activities judged before older ones arrived, or before a higher heart
    /// rate was seen, are judged again, oldest first, once (as noted in the store with the
    /// imports, by this session or a run that stopped before it got here). Returns how many were.
    ///
    /// # Errors
    /// On database failure.
    pub fn refresh(&mut self, store: &mut Store, cfg: &Config) -> Result<usize, StoreError> {
        let imported = std::mem::take(&mut self.imported);
        let Some((mark, redo)) = store.rejudge_ids()? else {
            return Ok(0);
        };
        // The newest activity alone was judged with everything before it.
        let only_newest = redo.len() == 1 && imported.len() == 1 && redo[0] == imported[0].0;
        let n = if only_newest {
            0
        } else {
            reassess(store, cfg, &redo, &mut self.history)?
        };
        store.clear_rejudge(mark)?;
        Ok(n)
    }
}

/// The single writer: commits loaded files, batching them into transactions. Every decision
/// about a file (known content? the same activity as a stored one?) is taken inside the write
/// transaction (`BEGIN IMMEDIATE`), so processes sharing the database store each activity once.
struct Writer<'a> {
    store: &'a mut Store,
    cfg: &'a Config,
    now: DateTime<Utc>,
    session: &'a mut Session,
    batching: bool,
    batch: Vec<Outcome>,
    batch_started: Instant,
    /// Imports of the open batch, moved to the session once committed.
    uncommitted: Vec<(i64, DateTime<Utc>)>,
    slot: inflight::Slot,
    cut_short_after: Option<Duration>,
}

impl<'a> Writer<'a> {
    fn new(
        store: &'a mut Store,
        cfg: &'a Config,
        now: DateTime<Utc>,
        session: &'a mut Session,
        batching: bool,
        db: Option<&Path>,
    ) -> Self {
        Self {
            store,
            cfg,
            now,
            session,
            batching,
            batch: Vec::new(),
            batch_started: Instant::now(),
            uncommitted: Vec::new(),
            slot: inflight::Slot::new(db),
            cut_short_after: None,
        }
    }

    fn push(&mut self, loaded: Loaded, sink: &mut dyn FnMut(Outcome)) {
        if !self.store.in_batch() {
            // No decision outside the write lock: a file that cannot take it waits.
            if let Err(e) = self.store.begin_batch() {
                sink(pending(&loaded.meta.path, &e));
                return;
            }
            self.batch_started = Instant::now();
        }
        let o = self.commit_guarded(loaded);
        self.batch.push(o);
        if !self.batching
            || self.batch.len() >= BATCH_FILES
            || self.batch_started.elapsed() >= BATCH_TIME
        {
            self.flush(sink);
        }
    }

    /// Commits the open batch and reports its outcomes; when the commit fails, none of them was
    /// stored and all are pending.
    fn flush(&mut self, sink: &mut dyn FnMut(Outcome)) {
        if let Err(e) = self.store.end_batch() {
            self.uncommitted.clear();
            for o in &mut self.batch {
                *o = pending(Path::new(&o.path), &e);
            }
            if let Ok(h) = HistoryCache::load(self.store) {
                self.session.history = h;
            }
        }
        self.session.imported.append(&mut self.uncommitted);
        for o in self.batch.drain(..) {
            sink(o);
        }
    }

    /// [`Writer::commit`] under the per-file guard. A panic while judging or storing fails this
    /// file alone: its savepoint was rolled back as the panic unwound through it.
    fn commit_guarded(&mut self, loaded: Loaded) -> Outcome {
        let meta = loaded.meta.clone();
        self.slot.hold(&meta.path);
        let o = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.commit(loaded)))
            .unwrap_or_else(|panic| {
                let e = IngestError::damaged(crashed("judging or storing", &panic));
                failed(self.store, &meta, &e, self.now)
            });
        self.slot.clear();
        o
    }

    fn commit(&mut self, loaded: Loaded) -> Outcome {
        let Loaded { meta, hint, result } = loaded;
        if let Some(sha) = &meta.sha256 {
            // Same content seen before: a duplicate whatever the parse said.
            match self.store.activity_by_sha(sha) {
                Ok(Some(id)) => return self.same_as(&meta, id),
                Ok(None) => {}
                Err(e) => return self.store_fault(&meta, &e),
            }
            match self.store.is_forgotten(sha) {
                Ok(true) => {
                    let why =
                        "forgotten with `recoverd forget`: not imported again unless it changes";
                    return record(
                        self.store,
                        &meta,
                        FileStatus::Skipped,
                        Some(why.into()),
                        self.now,
                    );
                }
                Ok(false) => {}
                Err(e) => return pending(&meta.path, &e),
            }
        }
        match result {
            // Cut short and still growing: a copy in progress, read again when it settles.
            Err(e)
                if matches!(e.kind, FailureKind::Truncated | FailureKind::CutShort)
                    && stat(&meta.path).is_ok_and(|s| s != (meta.size, meta.mtime_ns)) =>
            {
                Outcome::pending_because(&meta.path, "the file is still being written")
            }
            Err(e) if e.kind == FailureKind::CutShort && self.cut_short_after.is_some() => {
                // Recorded, so that `files` shows what it waits for.
                let minutes = self
                    .cut_short_after
                    .unwrap_or_default()
                    .as_secs()
                    .div_ceil(60);
                let reason = format!(
                    "{}; what it holds is stored if it does not change for {minutes} minutes",
                    e.message
                );
                let mut o = record(
                    self.store,
                    &meta,
                    FileStatus::Pending,
                    Some(reason),
                    self.now,
                );
                o.transient = true;
                o
            }
            Err(e) => failed(self.store, &meta, &e, self.now),
            Ok(Parsed::Skipped(reason)) => record(
                self.store,
                &meta,
                FileStatus::Skipped,
                Some(reason),
                self.now,
            ),
            Ok(Parsed::Activity(mut activity)) => {
                apply_hint(&mut activity, hint);
                self.import_activity(&meta, &activity)
            }
        }
    }

    /// A file whose activity `id` is stored: the file that gave it, read again (touched,
    /// rewritten), keeps its row; any other file is its duplicate.
    fn same_as(&mut self, meta: &FileMeta, id: i64) -> Outcome {
        let own = match self.store.file(&meta.path) {
            Ok(row) => {
                row.is_some_and(|r| r.status == FileStatus::Imported && r.activity_id == Some(id))
            }
            Err(e) => return self.store_fault(meta, &e),
        };
        if !own {
            return duplicate(self.store, meta, id, self.now);
        }
        if let Err(e) = self.store.record_reread(meta, id, self.now) {
            return self.store_fault(meta, &e);
        }
        let mut o = Outcome::new(&meta.path, FileStatus::Duplicate);
        o.duplicate_of = Some(id);
        o.known = true;
        o
    }

    fn import_activity(&mut self, meta: &FileMeta, activity: &Activity) -> Outcome {
        let same = match self
            .store
            .find_same_activity(activity, crate::model::same_activity)
        {
            Ok(same) => same,
            Err(e) => return self.store_fault(meta, &e),
        };
        // The same activity again is kept as a duplicate, unless this copy has the heart rate the
        // stored one lacks (a GPX export without it came first), or the stored one was cut short
        // and this copy goes further: then it replaces it.
        let (replacing, why) = match same.map(|id| (id, self.store.hr_samples(id))) {
            None => (None, ""),
            Some((id, Ok(Some(0)))) if !activity.hr.is_empty() => (Some(id), "had no heart rate"),
            Some((id, Ok(_))) if self.goes_further(id, activity) => (Some(id), "was cut short"),
            Some((id, Ok(_))) => return self.same_as(meta, id),
            Some((_, Err(e))) => return self.store_fault(meta, &e),
        };
        let peak = effort::peak_10s(&activity.hr);
        let history = self
            .session
            .history
            .history(replacing, None, activity.start);
        let assessment = plan::evaluate(activity, &self.cfg.athlete, &history, &self.cfg.timezone);
        match self.store.insert_activity(
            replacing,
            meta,
            crate::store::NewActivity {
                activity,
                peak_10s_hr: peak,
            },
            &assessment,
            &self.cfg.settings_key(),
            self.now,
        ) {
            Ok(id) => {
                // A peak or a load counts only for what starts after it.
                if let Err(e) = self.store.note_rejudge_from(Some(activity.start)) {
                    tracing::warn!(error = %e, "cannot note the judgements to make again; `recoverd replan` will");
                }
                self.session.history.add(id, activity, &assessment, peak);
                self.uncommitted.push((id, activity.start));
                let mut o = Outcome::new(&meta.path, FileStatus::Imported);
                o.activity_id = Some(id);
                o.reason =
                    replacing.map(|id| format!("replaces activity {id}'s copy, which {why}"));
                o
            }
            // Stored meanwhile under the same content: a duplicate, not a fault.
            Err(e) if e.is_unique_violation() => match meta
                .sha256
                .as_deref()
                .map(|sha| self.store.activity_by_sha(sha))
            {
                Some(Ok(Some(id))) => self.same_as(meta, id),
                _ => self.store_fault(meta, &e),
            },
            Err(e) => self.store_fault(meta, &e),
        }
    }

    /// True when stored activity `id` was read from a FIT file cut short and `a` lasts longer.
    fn goes_further(&self, id: i64, a: &Activity) -> bool {
        self.store
            .cut_short_elapsed(id, ingest::fit::CUT_SHORT)
            .ok()
            .flatten()
            .is_some_and(|stored| a.elapsed_s > stored + 1.0)
    }

    /// A database error on one file: pending when it may pass (locked, full, read-only), else
    /// `failed` with its reason, so that it is not tried again forever.
    fn store_fault(&mut self, meta: &FileMeta, e: &StoreError) -> Outcome {
        if e.is_transient() {
            return pending(&meta.path, e);
        }
        let reason = format!("cannot be stored: {e}");
        record(self.store, meta, FileStatus::Failed, Some(reason), self.now)
    }
}

/// Days of loads before an activity's day that its fitness and fatigue are computed from: a
/// load older than this weighs e^(−1095/42) ≈ 5·10⁻¹² of its value in fitness, nothing that
/// shows. With peaks (which count for 365 days) it keeps each judgement's cost bounded whatever
/// the length of the history, so that a burst costs linear time in its size.
const LOAD_WINDOW_DAYS: i64 = 1095;
/// Days a peak counts for (MODEL §1; [`effort::confirmed_peak`] picks them exactly).
const PEAK_WINDOW_DAYS: i64 = 366;

/// The history judgements are made against, held in memory during a run, ordered by time so
/// that each judgement reads only the window it depends on.
struct HistoryCache {
    /// Where each activity's peak and load are filed.
    of: HashMap<i64, Filed>,
    /// The peaks by (start, activity).
    peaks: BTreeMap<(DateTime<Utc>, i64), effort::Peak>,
    /// The loads by (local day, activity).
    loads: BTreeMap<(NaiveDate, i64), f64>,
}

/// Where one activity's peak and load are filed in a [`HistoryCache`].
#[derive(Clone, Copy)]
struct Filed {
    peak_start: Option<DateTime<Utc>>,
    day: NaiveDate,
    load: Option<f64>,
}

impl HistoryCache {
    fn load(store: &Store) -> Result<Self, StoreError> {
        let mut cache = Self {
            of: HashMap::new(),
            peaks: BTreeMap::new(),
            loads: BTreeMap::new(),
        };
        for (id, day, load) in store.loads()? {
            cache.set_load(id, day, load);
        }
        for p in store.peaks()? {
            if let Some(id) = p.id {
                cache.set_peak(id, Some(p));
            }
        }
        Ok(cache)
    }

    /// The history for judging an activity that starts at `start`, everything stored but
    /// `except` (itself): the peaks of the year before it, the loads of the window before it,
    /// and a zero load on the first day of all when that lies before the window (so that the
    /// length of the history stays exact).
    fn history(
        &self,
        except: Option<i64>,
        marked_race: Option<bool>,
        start: DateTime<Utc>,
    ) -> History {
        let not_self = |id: i64| Some(id) != except;
        let peak_from = start - chrono::Duration::days(PEAK_WINDOW_DAYS);
        let peaks = self
            .peaks
            .range((peak_from, i64::MIN)..=(start, i64::MAX))
            .filter(|((_, id), _)| not_self(*id))
            .map(|(_, p)| *p)
            .collect();
        // The local day may differ from the UTC date by one; `pmc_on` takes what it needs.
        let day = start.date_naive();
        let upto = day.succ_opt().unwrap_or(day);
        let from = day - chrono::Duration::days(LOAD_WINDOW_DAYS);
        let mut daily_loads: Vec<(NaiveDate, f64)> = Vec::new();
        if let Some(((first, _), _)) = self
            .loads
            .iter()
            .find(|((_, id), _)| not_self(*id))
            .filter(|((d, _), _)| *d < from)
        {
            daily_loads.push((*first, 0.0));
        }
        daily_loads.extend(
            self.loads
                .range((from, i64::MIN)..=(upto, i64::MAX))
                .filter(|((_, id), _)| not_self(*id))
                .map(|((d, _), l)| (*d, *l)),
        );
        History {
            peaks,
            daily_loads,
            marked_race,
        }
    }

    fn add(&mut self, id: i64, a: &Activity, s: &plan::Assessment, peak: Option<f64>) {
        self.set_peak(
            id,
            peak.map(|bpm| effort::Peak {
                id: Some(id),
                start: a.start,
                bpm,
            }),
        );
        let load = s.effort.hrss.filter(|_| !s.effort.implausible);
        self.set_load(id, s.local_day, load);
    }

    fn set_peak(&mut self, id: i64, peak: Option<effort::Peak>) {
        let filed = self.of.entry(id).or_insert(Filed {
            peak_start: None,
            day: NaiveDate::MIN,
            load: None,
        });
        if let Some(old) = filed.peak_start.take() {
            self.peaks.remove(&(old, id));
        }
        if let Some(p) = peak {
            filed.peak_start = Some(p.start);
            self.peaks.insert((p.start, id), p);
        }
    }

    fn set_load(&mut self, id: i64, day: NaiveDate, load: Option<f64>) {
        let filed = self.of.entry(id).or_insert(Filed {
            peak_start: None,
            day,
            load: None,
        });
        if filed.load.is_some() {
            self.loads.remove(&(filed.day, id));
        }
        filed.day = day;
        filed.load = load;
        if let Some(l) = load {
            self.loads.insert((day, id), l);
        }
    }
}

/// Judges the given activities again (oldest first), in one transaction.
fn reassess(
    store: &mut Store,
    cfg: &Config,
    ids: &[i64],
    history: &mut HistoryCache,
) -> Result<usize, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let key = cfg.settings_key();
    store.begin_batch()?;
    let mut n = 0;
    for &id in ids {
        let Some(stored) = store.load(id)? else {
            continue;
        };
        let peak = effort::peak_10s(&stored.activity.hr);
        let assessment = plan::evaluate(
            &stored.activity,
            &cfg.athlete,
            &history.history(Some(id), stored.race_mark, stored.activity.start),
            &cfg.timezone,
        );
        if let Err(e) = store.save_assessment(id, &stored.activity, &assessment, &key) {
            let _ = store.end_batch();
            return Err(e);
        }
        history.add(id, &stored.activity, &assessment, peak);
        n += 1;
    }
    store.end_batch()?;
    Ok(n)
}

/// An export's index knows better than the file what the user called the activity.
fn apply_hint(a: &mut Activity, hint: Hint) {
    if let Some(name) = hint.name {
        a.marked_race |= ingest::name_marks_race(&name);
        a.name = Some(name);
    }
    if let Some(sport) = hint.sport
        && sport != "generic"
        && a.sport != "multisport"
    {
        a.sport = sport;
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
    // A file we could not read says nothing about its content: stored without an mtime, it is
    // tried again whenever it is seen (after a chmod, say), not only when it changes.
    let meta = if e.kind == FailureKind::Unreadable {
        &FileMeta {
            mtime_ns: -1,
            ..meta.clone()
        }
    } else {
        meta
    };
    let mut o = record(
        store,
        meta,
        FileStatus::Failed,
        Some(e.message.clone()),
        now,
    );
    o.transient = o.transient
        || matches!(
            e.kind,
            FailureKind::Truncated | FailureKind::CutShort | FailureKind::Unreadable
        );
    o
}

fn pending(path: &Path, e: &StoreError) -> Outcome {
    Outcome::pending_because(path, &e.to_string())
}

/// Recomputes every judgement made with other settings or an older model (or all), from the
/// stored streams, not the files, oldest first. Returns how many were recomputed.
///
/// # Errors
/// On database failure.
pub fn replan(store: &mut Store, cfg: &Config, all: bool) -> Result<usize, StoreError> {
    let ids = if all {
        store.activity_ids(None)?
    } else {
        store.stale_assessments(&cfg.settings_key())?
    };
    // Judgements imports left to make again (a run stopped before its refresh).
    let rejudge = store.rejudge_ids()?;
    if ids.is_empty() && rejudge.is_none() {
        return Ok(0);
    }
    let mut history = HistoryCache::load(store)?;
    let mut n = reassess(store, cfg, &ids, &mut history)?;
    if let Some((mark, redo)) = rejudge {
        if !all {
            n += reassess(store, cfg, &redo, &mut history)?;
        }
        store.clear_rejudge(mark)?;
    }
    Ok(n)
}

#[cfg(test)]
mod history_tests {
    use super::*;
    use chrono::TimeZone as _;

    fn empty() -> HistoryCache {
        HistoryCache {
            of: HashMap::new(),
            peaks: BTreeMap::new(),
            loads: BTreeMap::new(),
        }
    }

    #[test]
    fn the_load_window_changes_no_fitness_that_shows_and_keeps_the_history_length() {
        let mut cache = empty();
        let first = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default();
        let mut all = Vec::new();
        for i in 0..1500i64 {
            let day = first + chrono::Duration::days(i * 2);
            let load = 40.0 + (i % 7) as f64 * 15.0;
            cache.set_load(i, day, Some(load));
            all.push((day, load));
        }
        let day = first + chrono::Duration::days(2998);
        let start = day.and_hms_opt(9, 0, 0).unwrap_or_default().and_utc();
        let windowed = cache.history(Some(1499), None, start).daily_loads;
        assert!(
            windowed.len() < 600,
            "bounded by the window: {}",
            windowed.len()
        );
        let full: Vec<_> = all[..1499].to_vec();
        let (a, b) = (
            effort::pmc_on(&full, day).map(|p| (p.ctl, p.atl, p.history_days)),
            effort::pmc_on(&windowed, day).map(|p| (p.ctl, p.atl, p.history_days)),
        );
        let ((ca, aa, ha), (cb, ab, hb)) = (a.unwrap_or_default(), b.unwrap_or_default());
        assert!(
            (ca - cb).abs() < 1e-9 && (aa - ab).abs() < 1e-9,
            "{a:?} {b:?}"
        );
        assert_eq!(ha, hb);
        // An activity judged again on another day, or without a load, moves its load.
        cache.set_load(5, day, None);
        assert!(!cache.loads.keys().any(|(_, id)| *id == 5));
    }

    #[test]
    fn the_peaks_given_are_those_the_confirmed_peak_reads() {
        let mut cache = empty();
        let t0 = Utc
            .with_ymd_and_hms(2024, 1, 1, 9, 0, 0)
            .single()
            .unwrap_or_default();
        let mut all = Vec::new();
        for i in 0..600i64 {
            let p = effort::Peak {
                id: Some(i),
                start: t0 + chrono::Duration::days(i * 2),
                bpm: 170.0 + (i % 23) as f64,
            };
            cache.set_peak(i, Some(p));
            all.push(p);
        }
        let start = t0 + chrono::Duration::days(900);
        let given = cache.history(None, None, start).peaks;
        assert!(given.len() < 200, "a year of peaks: {}", given.len());
        assert_eq!(
            effort::confirmed_peak(&given, start, 200.0),
            effort::confirmed_peak(&all, start, 200.0)
        );
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;
    use crate::model::{Device, Format, HrSample, WatchFigures};
    use chrono::TimeZone as _;

    pub(super) fn activity(elapsed_s: f64) -> Activity {
        let start = Utc
            .with_ymd_and_hms(2026, 4, 20, 9, 0, 0)
            .single()
            .unwrap_or_default();
        let hr = (0..1800)
            .map(|i| HrSample {
                t: f64::from(i),
                bpm: 150,
            })
            .collect();
        Activity {
            format: Format::Fit,
            sport: "running".into(),
            sub_sport: None,
            name: None,
            start,
            end: start + chrono::Duration::seconds(1800),
            utc_offset_s: None,
            elapsed_s,
            moving_s: Some(1800.0),
            distance_m: None,
            avg_hr: None,
            max_hr: None,
            avg_temperature_c: None,
            hr,
            legs: vec![],
            device: Device::default(),
            time_created: None,
            watch: WatchFigures::default(),
            marked_race: false,
            warnings: vec![],
        }
    }

    pub(super) fn loaded(path: &str, sha: &str, a: Activity) -> Loaded {
        Loaded {
            meta: FileMeta {
                path: PathBuf::from(path),
                sha256: Some(sha.into()),
                size: 1,
                mtime_ns: 1,
            },
            hint: Hint::default(),
            result: Ok(Parsed::Activity(Box::new(a))),
        }
    }

    fn commit_all(store: &mut Store, items: Vec<Loaded>) -> Vec<Outcome> {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cfg_path = tmp.path().join("config.toml");
        std::fs::write(&cfg_path, "[notifications]\nenabled = false\n").unwrap_or_default();
        let cfg = crate::config::load(Some(&cfg_path), Some(&tmp.path().join("x.db")))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut session = Session::new(store).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        let mut writer = Writer::new(store, &cfg, Utc::now(), &mut session, true, None);
        for l in items {
            writer.push(l, &mut |o| out.push(o));
        }
        writer.flush(&mut |o| out.push(o));
        out
    }

    #[test]
    fn a_constraint_that_will_not_heal_is_failed_with_its_reason_not_pending() {
        let mut store = Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let out = commit_all(
            &mut store,
            vec![loaded("/nan.fit", "aa", activity(f64::NAN))],
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, FileStatus::Failed, "{:?}", out[0]);
        assert!(!out[0].transient);
        assert!(
            out[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("cannot be stored")),
            "{:?}",
            out[0]
        );
        let row = store.file(Path::new("/nan.fit")).ok().flatten();
        assert_eq!(row.map(|r| r.status), Some(FileStatus::Failed));
    }

    #[test]
    fn the_same_activity_twice_in_one_batch_is_stored_once() {
        let mut store = Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let out = commit_all(
            &mut store,
            vec![
                loaded("/a.fit", "aa", activity(1800.0)),
                loaded("/b.fit", "aa", activity(1800.0)),
                loaded("/c.gpx", "cc", activity(1790.0)),
            ],
        );
        let statuses: Vec<_> = out.iter().map(|o| o.status).collect();
        assert_eq!(
            statuses,
            vec![
                FileStatus::Imported,
                FileStatus::Duplicate,
                FileStatus::Duplicate
            ]
        );
        assert_eq!(store.activity_ids(None).map(|v| v.len()).ok(), Some(1));
    }
}

#[cfg(test)]
mod rejudge_tests {
    use super::*;

    #[test]
    fn judgements_left_to_make_again_are_noted_with_the_imports_and_made_at_the_next_replan() {
        let mut store = Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cfg_path = tmp.path().join("config.toml");
        std::fs::write(&cfg_path, "[notifications]\nenabled = false\n").unwrap_or_default();
        let cfg = crate::config::load(Some(&cfg_path), Some(&tmp.path().join("x.db")))
            .unwrap_or_else(|e| panic!("{e}"));
        // Newest first, as a burst may come; the run stops before its refresh.
        let mut session = Session::new(&store).unwrap_or_else(|e| panic!("{e}"));
        {
            let mut writer = Writer::new(&mut store, &cfg, Utc::now(), &mut session, true, None);
            let mut sink = |_o: Outcome| {};
            for (i, sha) in ["a", "b", "c"].iter().enumerate() {
                let mut a = writer_tests::activity(1800.0);
                a.start -= chrono::Duration::days(i as i64 * 3);
                a.end -= chrono::Duration::days(i as i64 * 3);
                writer.push(
                    writer_tests::loaded(&format!("/{sha}.fit"), sha, a),
                    &mut sink,
                );
            }
            writer.flush(&mut sink);
        }
        drop(session);
        let noted = store.rejudge_ids().ok().flatten().map(|(_, ids)| ids.len());
        assert_eq!(noted, Some(3), "the oldest import's start and all after it");
        assert_eq!(replan(&mut store, &cfg, false).ok(), Some(3));
        assert!(
            store.rejudge_ids().ok().flatten().is_none(),
            "cleared once made"
        );
        assert_eq!(replan(&mut store, &cfg, false).ok(), Some(0));
    }
}

/// Judges the given activities again, in this order, against everything stored (after
/// `recoverd mark` or `recoverd forget`).
///
/// # Errors
/// On database failure.
pub fn replan_ids(store: &mut Store, cfg: &Config, ids: &[i64]) -> Result<usize, StoreError> {
    let mut history = HistoryCache::load(store)?;
    reassess(store, cfg, ids, &mut history)
}
