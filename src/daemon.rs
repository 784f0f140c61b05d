//! `recoverd run`: the service's life on tokio. Reads top to bottom:
//! open the store → start the writer thread → watch the roots → reconcile what arrived while we
//! were down → `READY=1` → loop over file events, settle timers, signals and the watchdog →
//! finish the file in hand → checkpoint → `STOPPING=1`.
//!
//! The notify callback only forwards events into a channel. Files are processed on one writer
//! thread with [`pipeline::process_file`], the same function `import` uses. No domain logic or
//! SQL here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::Utc;
use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::config::{self, Config};
use crate::ingest;
use crate::notifier::Desktop;
use crate::pipeline::{self, Options, Outcome};
use crate::store::{FileStatus, Store};

/// Quiet time after a file's last event before it is read.
const QUIET: Duration = Duration::from_millis(300);
/// Re-check interval for a file still changing, or left pending by a database fault.
const RECHECK: Duration = Duration::from_secs(1);
/// First retry of a file the database refused (locked, read-only, full), doubling up to the max.
const RETRY_PENDING_FIRST: Duration = Duration::from_secs(2);
const RETRY_PENDING_MAX: Duration = Duration::from_secs(60);

/// What the writer thread is asked to do.
enum Job {
    Files(Vec<PathBuf>, Origin),
    Reload(Box<Config>),
}

/// What the writer thread reports back.
enum Done {
    /// One file's outcome, with the stored activity when it is to be announced on its own.
    File(Outcome, Box<Option<crate::store::Stored>>),
    /// Past activities imported by a scan: how many, and the latest of them.
    Backfill(usize, Box<Option<crate::store::Stored>>),
}

/// Why a file is processed: news (an event) or the start-up reconcile (may be history).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Origin {
    Event,
    Scan,
}

/// A file waiting to settle.
struct Candidate {
    due: Instant,
    complete: bool,
    last_stat: Option<(u64, i64)>,
    origin: Origin,
}

/// Runs the service until SIGTERM or SIGINT.
///
/// # Errors
/// When the database cannot be opened or the runtime cannot start.
pub fn run(cfg: Config) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(cfg))
}

#[allow(clippy::too_many_lines)]
async fn serve(mut cfg: Config) -> Result<()> {
    // 1. The store, on its own writer thread. A database that cannot be opened (read-only
    //    folder, full disk) does not stop the service: files wait, and it is tried again.
    let mut store = open_store(&cfg);
    let (job_tx, job_rx) = std::sync::mpsc::channel::<Job>();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let mut cfg = cfg.clone();
        std::thread::Builder::new()
            .name("recoverd-writer".into())
            .spawn(move || {
                while let Ok(job) = job_rx.recv() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    match job {
                        Job::Reload(c) => cfg = *c,
                        Job::Files(paths, origin) => {
                            if store.is_none() {
                                store = open_store(&cfg);
                            }
                            let sent = match store.as_mut() {
                                Some(s) => write_files(s, &cfg, &paths, origin, &done_tx, &stop),
                                None => unavailable(&cfg, &paths, &done_tx),
                            };
                            match sent {
                                Err(()) => break,
                                // Something was refused: open afresh next time (a connection
                                // opened read-only stays so after the fault is fixed).
                                Ok(true) => store = None,
                                Ok(false) => {}
                            }
                        }
                    }
                }
                if let Some(Err(e)) = store.as_ref().map(Store::checkpoint) {
                    tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
                }
            })?
    };

    // 2. The watcher: its callback only forwards.
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<notify::Result<Event>>();
    let mut watcher = notify::recommended_watcher(move |ev| {
        let _ = ev_tx.send(ev);
    })
    .context("cannot start the file watcher (inotify)")?;
    let mut roots = Roots::default();
    roots.sync(&cfg, &mut watcher);

    // 3. Reconcile: everything already in the roots (known files are recognised without parsing).
    let mut pending: HashMap<PathBuf, Candidate> = HashMap::new();
    for root in roots.present() {
        scan(&root, &cfg, &mut pending, Origin::Scan);
    }

    // 4. Ready.
    let mut counts = Counts::default();
    let _ = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("watching {} folder(s)", roots.watched.len())),
    ]);
    tracing::info!(roots = ?cfg.watch, "recoverd is watching");
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut watchdog_tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    let mut desktop = Desktop::service(&cfg);
    let mut retries: HashMap<PathBuf, Duration> = HashMap::new();

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut in_flight = 0usize;
    loop {
        let next_due = pending.values().map(|c| c.due).min();
        let sleep_until = next_due.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        let poll_due = roots.poll_due(&cfg);
        tokio::select! {
            _ = sigterm.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT: stopping"); break; }
            _ = sighup.recv() => {
                match config::load(Some(&cfg.config_path), Some(&cfg.database)) {
                    Ok(new) => {
                        cfg = new;
                        roots.sync(&cfg, &mut watcher);
                        desktop = Desktop::service(&cfg);
                        let _ = job_tx.send(Job::Reload(Box::new(cfg.clone())));
                        for root in roots.present() { scan(&root, &cfg, &mut pending, Origin::Scan); }
                        tracing::info!("SIGHUP: configuration reloaded");
                    }
                    Err(e) => tracing::warn!("SIGHUP: keeping the old configuration: {e}"),
                }
            }
            _ = watchdog_tick.tick(), if watchdog.is_some() => {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
            _ = tokio::time::sleep(poll_due), if roots.needs_polling() => {
                roots.sync(&cfg, &mut watcher);
                for root in roots.polled() { scan(&root, &cfg, &mut pending, Origin::Event); }
            }
            ev = ev_rx.recv() => {
                let Some(ev) = ev else { break };
                match ev {
                    Ok(ev) => on_event(&ev, &cfg, &mut pending, &mut roots, &mut watcher),
                    Err(e) => tracing::warn!(error = %e, "file watcher error; rescanning"),
                }
            }
            _ = tokio::time::sleep_until(sleep_until.into()), if next_due.is_some() => {
                let now = Instant::now();
                let due: Vec<PathBuf> = pending.iter().filter(|(_, c)| c.due <= now).map(|(p, _)| p.clone()).collect();
                let mut ready: [Vec<PathBuf>; 2] = [Vec::new(), Vec::new()];
                for path in due {
                    if let Some(origin) = settle(&path, &mut pending) {
                        ready[usize::from(origin == Origin::Scan)].push(path);
                    }
                }
                for (paths, origin) in ready.into_iter().zip([Origin::Event, Origin::Scan]) {
                    if !paths.is_empty() {
                        let n = paths.len();
                        if job_tx.send(Job::Files(paths, origin)).is_ok() {
                            in_flight += n;
                        }
                    }
                }
            }
            done = done_rx.recv() => {
                match done {
                    None => break,
                    Some(Done::File(o, stored)) => {
                        in_flight = in_flight.saturating_sub(1);
                        counts.add(&o);
                        log(&o);
                        if o.transient && o.status == FileStatus::Pending {
                            let retry = retries.entry(PathBuf::from(&o.path)).or_insert(RETRY_PENDING_FIRST);
                            pending.insert(PathBuf::from(&o.path), Candidate { due: Instant::now() + *retry, complete: true, last_stat: None, origin: Origin::Event });
                            *retry = (*retry * 2).min(RETRY_PENDING_MAX);
                        } else {
                            retries.remove(Path::new(&o.path));
                        }
                        if let Some(s) = *stored {
                            desktop.announce(&s, &cfg.timezone).await;
                        }
                        let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&counts.status(&o))]);
                    }
                    Some(Done::Backfill(n, latest)) => {
                        desktop.announce_backfill(n, latest.as_ref().as_ref(), &cfg.timezone).await;
                    }
                }
            }
        }
    }

    // 5. Stop: finish the file in hand, then checkpoint (on the writer thread).
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    stop.store(true, Ordering::SeqCst);
    drop(job_tx);
    drop(watcher);
    // A writer that died (a panic no per-file guard caught) is an error exit, so that systemd
    // restarts the service; the file it held is marked by the next run (see `inflight`).
    if !matches!(
        tokio::task::spawn_blocking(move || writer.join()).await,
        Ok(Ok(()))
    ) {
        anyhow::bail!(
            "the writer thread died; exiting with an error so that recoverd is restarted"
        );
    }
    tracing::info!("shut down cleanly");
    Ok(())
}

/// A settled candidate's origin, ready for the writer; `None` while it still changes (re-armed)
/// or when it is gone.
fn settle(path: &Path, pending: &mut HashMap<PathBuf, Candidate>) -> Option<Origin> {
    let mut c = pending.remove(path)?;
    let stat = pipeline::stat(path).ok()?; // gone (renamed away, deleted)
    if !c.complete && c.last_stat != Some(stat) {
        c.last_stat = Some(stat);
        c.due = Instant::now() + RECHECK;
        pending.insert(path.to_path_buf(), c);
        return None;
    }
    Some(c.origin)
}

/// Opens the store and brings judgements up to date; `None` (with a warning) when it cannot.
fn open_store(cfg: &Config) -> Option<Store> {
    match Store::open(&cfg.database) {
        Ok(mut store) => {
            match pipeline::replan(&mut store, cfg, false) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    activities = n,
                    "settings changed: recomputed effort and plans"
                ),
                Err(e) => tracing::warn!(error = %e, "could not recompute judgements"),
            }
            Some(store)
        }
        Err(e) => {
            tracing::warn!(
                "{e}: files wait until it can be written (check that {} is writable)",
                cfg.database.display()
            );
            None
        }
    }
}

/// Every file of a job stays pending: the database cannot be opened.
fn unavailable(
    cfg: &Config,
    paths: &[PathBuf],
    done: &mpsc::UnboundedSender<Done>,
) -> Result<bool, ()> {
    for p in paths {
        let o = pipeline::Outcome::pending_because(
            p,
            &format!("the database {} cannot be opened", cfg.database.display()),
        );
        done.send(Done::File(o, Box::new(None))).map_err(|_| ())?;
    }
    Ok(true)
}

/// Collects a job's outcomes; stops the job when the service is stopping.
struct WriterRun<'a> {
    outcomes: &'a mut Vec<Outcome>,
    stop: &'a AtomicBool,
}

impl pipeline::Sink for WriterRun<'_> {
    fn outcome(&mut self, o: Outcome) {
        self.outcomes.push(o);
    }

    fn stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The writer thread's work on settled files: [`pipeline::process_paths`], then what to
/// announce. News is announced file by file; a scan's past activities as one summary.
fn write_files(
    store: &mut Store,
    cfg: &Config,
    paths: &[PathBuf],
    origin: Origin,
    done: &mpsc::UnboundedSender<Done>,
    stop: &AtomicBool,
) -> Result<bool, ()> {
    let opts = if paths.len() > 1 {
        Options::all_cores(false)
    } else {
        Options::default()
    };
    let mut outcomes = Vec::new();
    let mut run = WriterRun {
        outcomes: &mut outcomes,
        stop,
    };
    pipeline::process_paths(store, cfg, paths, opts, Utc::now(), &mut run);
    let now = Utc::now();
    let refused = outcomes.iter().any(|o| o.status == FileStatus::Pending);
    let mut backfill = 0usize;
    let mut latest: Option<crate::store::Stored> = None;
    for o in outcomes {
        let mut stored = None;
        if let Some(s) = o.activity_id.and_then(|id| store.load(id).ok().flatten()) {
            if origin == Origin::Event || Desktop::is_recent(&s, now) {
                stored = Some(s);
            } else {
                backfill += 1;
                if latest
                    .as_ref()
                    .is_none_or(|l| l.activity.start < s.activity.start)
                {
                    latest = Some(s);
                }
            }
        }
        done.send(Done::File(o, Box::new(stored))).map_err(|_| ())?;
    }
    if backfill > 0 {
        done.send(Done::Backfill(backfill, Box::new(latest)))
            .map_err(|_| ())?;
    }
    Ok(refused)
}

fn on_event(
    ev: &Event,
    cfg: &Config,
    pending: &mut HashMap<PathBuf, Candidate>,
    roots: &mut Roots,
    watcher: &mut notify::RecommendedWatcher,
) {
    tracing::trace!(?ev, "event");
    if ev.need_rescan() {
        tracing::warn!("the kernel dropped file events; rescanning every folder");
        for root in roots.present() {
            scan(&root, cfg, pending, Origin::Event);
        }
        return;
    }
    let complete = matches!(
        ev.kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
    );
    // A change of permissions counts too: a file that could not be read is tried again.
    let changing = matches!(
        ev.kind,
        EventKind::Create(CreateKind::File | CreateKind::Any)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any | ModifyKind::Metadata(_))
    );
    if matches!(ev.kind, EventKind::Remove(_)) {
        // Deleting files is common; only a root that vanished (an unmounted watch) matters.
        if ev
            .paths
            .iter()
            .any(|p| cfg.watch.iter().any(|r| r.starts_with(p)))
        {
            roots.sync(cfg, watcher);
        }
        return;
    }
    let path = match ev.kind {
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => ev.paths.last(),
        _ => ev.paths.first(),
    };
    let Some(path) = path else { return };
    // `symlink_metadata`: a link to a folder is not walked (it may lead anywhere, or loop).
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        // A folder created or moved in: walk it (its files may give no events of their own).
        if matches!(
            ev.kind,
            EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(_))
        ) {
            scan(path, cfg, pending, Origin::Event);
        }
        return;
    }
    if !(complete || changing) || !wanted(path, cfg) {
        return;
    }
    let c = pending.entry(path.clone()).or_insert(Candidate {
        due: Instant::now() + QUIET,
        complete,
        last_stat: None,
        origin: Origin::Event,
    });
    c.due = Instant::now() + QUIET;
    c.complete = complete;
    c.origin = Origin::Event;
}

fn wanted(path: &Path, cfg: &Config) -> bool {
    ingest::has_activity_extension(path) && !cfg.ignored(path)
}

/// Queues every activity file under `dir`; known unchanged files cost a `stat` and a lookup.
fn scan(dir: &Path, cfg: &Config, pending: &mut HashMap<PathBuf, Candidate>, origin: Origin) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                stack.push(p);
            } else if wanted(&p, cfg) {
                // FIFOs, sockets and devices too: the writer's triage answers them (skipped,
                // never opened).
                pending.entry(p).or_insert(Candidate {
                    due: Instant::now(),
                    complete: false,
                    last_stat: None,
                    origin,
                });
            }
        }
    }
}

/// The configured roots: watched with inotify, polled (no inotify there), or missing for now.
#[derive(Default)]
struct Roots {
    watched: Vec<PathBuf>,
    polled: Vec<PathBuf>,
    missing: Vec<PathBuf>,
    last_poll: Option<Instant>,
}

impl Roots {
    /// Adds watches for roots that appeared, drops those that went.
    fn sync(&mut self, cfg: &Config, watcher: &mut notify::RecommendedWatcher) {
        let mut watched = Vec::new();
        let mut polled = Vec::new();
        let mut missing = Vec::new();
        for root in &cfg.watch {
            if !root.is_dir() {
                if *root == default_root() {
                    let _ = std::fs::create_dir_all(root);
                }
                if !root.is_dir() {
                    if self.watched.contains(root) {
                        let _ = watcher.unwatch(root);
                        tracing::info!(root = %root.display(), "folder went away; watching for it to come back");
                    }
                    missing.push(root.clone());
                    continue;
                }
            }
            if needs_polling(root) {
                polled.push(root.clone());
                continue;
            }
            if self.watched.contains(root) {
                watched.push(root.clone());
                continue;
            }
            match watcher.watch(root, RecursiveMode::Recursive) {
                Ok(()) => {
                    tracing::info!(root = %root.display(), "watching");
                    watched.push(root.clone());
                }
                Err(e) => {
                    tracing::warn!(root = %root.display(), error = %e, "cannot watch with inotify (raise fs.inotify.max_user_watches?); polling instead");
                    polled.push(root.clone());
                }
            }
        }
        for gone in self.watched.iter().filter(|r| !watched.contains(r)) {
            let _ = watcher.unwatch(gone);
        }
        self.watched = watched;
        self.polled = polled;
        self.missing = missing;
    }

    fn present(&self) -> Vec<PathBuf> {
        self.watched.iter().chain(&self.polled).cloned().collect()
    }

    fn polled(&mut self) -> Vec<PathBuf> {
        self.last_poll = Some(Instant::now());
        self.polled.clone()
    }

    /// Only polled or missing roots cost wakeups; inotify roots cost none while idle.
    fn needs_polling(&self) -> bool {
        !self.polled.is_empty() || !self.missing.is_empty()
    }

    fn poll_due(&self, cfg: &Config) -> Duration {
        let interval = if self.polled.is_empty() {
            cfg.poll_interval.min(Duration::from_secs(5))
        } else {
            cfg.poll_interval
        };
        self.last_poll
            .map_or(interval, |t| interval.saturating_sub(t.elapsed()))
    }
}

fn default_root() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join("Activities")
}

/// True for filesystems where inotify sees nothing useful (FUSE/gvfs MTP, NFS, SMB).
fn needs_polling(path: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let Ok(path) = path.canonicalize() else {
        return false;
    };
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mount), Some(fstype)) = (fields.get(4), fields.get(sep + 1)) else {
            continue;
        };
        let mount = mount.replace("\\040", " ");
        if path.starts_with(&mount) && best.as_ref().is_none_or(|(len, _)| mount.len() > *len) {
            best = Some((mount.len(), (*fstype).to_string()));
        }
    }
    best.is_some_and(|(_, t)| {
        t.starts_with("fuse") || matches!(t.as_str(), "nfs" | "nfs4" | "cifs" | "smb3" | "9p")
    })
}

#[derive(Default)]
struct Counts {
    imported: u64,
    duplicate: u64,
    skipped: u64,
    failed: u64,
    pending: u64,
}

impl Counts {
    fn add(&mut self, o: &Outcome) {
        match o.status {
            FileStatus::Imported => self.imported += 1,
            FileStatus::Duplicate => self.duplicate += 1,
            FileStatus::Skipped => self.skipped += 1,
            FileStatus::Failed => self.failed += 1,
            FileStatus::Pending => self.pending += 1,
        }
    }

    fn status(&self, last: &Outcome) -> String {
        let mut s = format!(
            "{} imported, {} duplicate, {} skipped, {} failed",
            self.imported, self.duplicate, self.skipped, self.failed
        );
        if last.status == FileStatus::Pending {
            s.push_str(&format!(
                "; waiting: {}",
                last.reason.as_deref().unwrap_or("")
            ));
        }
        s
    }
}

fn log(o: &Outcome) {
    let path = crate::logging::printable(&o.path);
    if o.known {
        tracing::debug!(path = %path, "unchanged, already known");
        return;
    }
    match o.status {
        FileStatus::Imported => tracing::info!(path = %path, id = o.activity_id, "imported"),
        FileStatus::Duplicate => tracing::info!(path = %path, of = o.duplicate_of, "duplicate"),
        FileStatus::Skipped => {
            tracing::info!(path = %path, "skipped: {}", o.reason.as_deref().unwrap_or(""))
        }
        FileStatus::Failed | FileStatus::Pending => {
            tracing::warn!(path = %path, "{}: {}", o.status.as_str(), o.reason.as_deref().unwrap_or(""));
        }
    }
}
