//! A file's journey: stat → known? → read and hash → parse → duplicate? → judge → store.
//!
//! [`process_paths`] is the one function both `import` and the `run` service call, for one file
//! or for years of history. Known files are answered from the store without reading them;
//! the rest are read and parsed on worker threads (zip archives member by member) and committed
//! by the calling thread, the one writer, in batched transactions. Afterwards judgements that
//! depend on history (observed max HR, fitness and fatigue) are brought up to date. It decides
//! nothing about notifications: it reports what happened, file by file, to a sink.

mod history;
pub mod inflight;
pub mod mornings;
mod triage;
pub mod walk;
mod workers;
mod writer;

pub use crate::ingest::content::{gunzip, parse_content};
pub use history::{Session, open_replanned, replan, replan_ids};

use triage::{interrupted, settled_before, strike_interrupted, triage_all};
use workers::{Queue, Reading, load_guarded, next_work};
use writer::Writer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::ingest::archive::Hint;
use crate::ingest::{IngestError, Limits, Parsed};
use crate::store::{FileMeta, FileStatus, Store, StoreError, WellnessRows};
use crate::wellness::{self, Point, Stamped, Wellness};

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

/// What happened to one file (its `import --json` line: see the `Serialize` impl).
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The path as given (`archive.zip/member` for an archive's member).
    pub path: String,
    /// What became of it.
    pub status: FileStatus,
    /// The new activity, when imported.
    pub activity_id: Option<i64>,
    /// The stored activity it repeats, when a duplicate.
    pub duplicate_of: Option<i64>,
    /// For a wellness file: the local days it added data to (empty for an activity, and for
    /// a wellness file that added nothing new). Serialized as `days` only for wellness files.
    pub days: Vec<chrono::NaiveDate>,
    /// The file is a wellness file (monitoring, HRV status): its JSON line carries `days`.
    pub wellness: bool,
    /// Why it was skipped, failed or left pending.
    pub reason: Option<String>,
    /// The failure may pass by itself (a copy still running, a locked database).
    pub transient: bool,
    /// The file was already known, unchanged: nothing was read.
    pub known: bool,
}

/// The JSON line of an [`Outcome`]: `days` in place of `activity_id` for a wellness file.
#[derive(serde::Serialize)]
struct OutcomeLine<'a> {
    path: &'a str,
    status: FileStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    activity_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    days: Option<&'a [chrono::NaiveDate]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate_of: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        OutcomeLine {
            path: &self.path,
            status: self.status,
            activity_id: self.activity_id,
            days: self.wellness.then_some(self.days.as_slice()),
            duplicate_of: self.duplicate_of,
            reason: self.reason.as_deref(),
        }
        .serialize(s)
    }
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
            days: Vec::new(),
            wellness: false,
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

/// A wellness file's values placed on local clocks: the watch's own offset where the file gave
/// one, else the runner's zone's offset at each instant.
fn wellness_rows(w: &Wellness, tz: &jiff::tz::TimeZone) -> WellnessRows {
    let offset_at = |ts: i64, own: Option<i32>| {
        own.or_else(|| {
            jiff::Timestamp::from_second(ts)
                .ok()
                .map(|t| tz.to_offset(t).seconds())
        })
        .unwrap_or(0)
    };
    let points = |v: &[Stamped]| -> Vec<Point> {
        v.iter()
            .map(|s| Point {
                ts: s.ts,
                bpm: s.value,
                utc_offset_s: offset_at(s.ts, s.utc_offset_s),
            })
            .collect()
    };
    let hrv = w.hrv.as_ref().and_then(|h| {
        let (ms, source) = h.rmssd()?;
        let at = h.ts.or(w.time_created)?;
        let day = wellness::hrv_day(w, offset_at(at, w.utc_offset_s))?;
        Some((day, ms, source))
    });
    WellnessRows {
        hr: points(&w.hr),
        watch_rhr: points(&w.watch_rhr),
        hrv,
    }
}

fn pending(path: &Path, e: &StoreError) -> Outcome {
    Outcome::pending_because(path, &e.to_string())
}
