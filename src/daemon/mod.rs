//! `recoverd run`: the service's life on tokio. Reads top to bottom:
//! take over SIGTERM, SIGINT and SIGHUP (before anything is logged) → say which watched folders
//! do not exist yet → take the database's lock → start the writer thread (`writer.rs`) → watch the roots and
//! list what arrived while we were down (`watch.rs`) → `READY=1` → loop over file events,
//! settle timers, signals, the morning notification's time (`morning.rs`) and the writer's
//! reports → on SIGTERM, let the writer finish the file
//! in hand for a few seconds at most → `STOPPING=1`.
//!
//! The notify callback only forwards events into a channel. No domain logic or SQL here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use notify::Event;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;

use crate::config::{self, Config};
use crate::notifier::Desktop;
use crate::pipeline::{self, Outcome};
use crate::store::FileStatus;
use counts::{Counts, log};
use events::Action;
use lock::lock_database;
use mounts::MountWatch;
use settle::{Candidate, Pending, QUIET, settle};
use watch::Tree;
use writer::{Done, Job, Writer};

mod counts;
mod events;
mod lock;
mod morning;
mod mounts;
mod settle;
mod watch;
mod writer;

/// First retry of a file the database refused (locked, read-only, full), doubling up to the max.
const RETRY_PENDING_FIRST: Duration = Duration::from_secs(2);
const RETRY_PENDING_MAX: Duration = Duration::from_secs(60);
/// Longest a stop waits for the writer to finish the file in hand.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs the service until SIGTERM or SIGINT; the exit code is
/// [`crate::install::EXIT_NO_DATA_DIR`] when the data folder cannot be created (see
/// [`crate::install::before_run`]).
///
/// # Errors
/// When another `recoverd run` holds the database ([`crate::app::UsageError`]: exit 2), the runtime cannot
/// start, or the writer thread died (so that systemd restarts the service).
pub fn run(cfg: Config) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        // The handlers first: a stop asked for while the service starts (as soon as it has
        // said anything) is a clean stop, not a death by the signal's default action.
        let signals = Signals::install()?;
        if let Some(code) = crate::install::before_run(&cfg) {
            return Ok(code);
        }
        let _lock = lock_database(&cfg.database)?;
        // A database from a newer recoverd never heals by waiting: say so once and exit 2 (the
        // unit does not restart on 2). Every other failure to open is retried by the writer.
        if let Err(newer @ crate::store::StoreError::Newer { .. }) =
            crate::store::Store::open(&cfg.database)
        {
            tracing::error!("the database {}: {newer}", cfg.database.display());
            return Ok(ExitCode::from(2));
        }
        serve(cfg, signals).await.map(|()| ExitCode::SUCCESS)
    })
}

/// The signals the service answers, taken over from their default actions.
struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    fn install() -> Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

/// The main loop's state.
struct Service {
    cfg: Config,
    tree: Tree,
    pending: Pending,
    retries: HashMap<PathBuf, Duration>,
    counts: Counts,
    desktop: Desktop,
    jobs: std::sync::mpsc::Sender<Job>,
    /// When the writer is next asked for the morning notification (may be past: at once).
    morning_due: chrono::DateTime<chrono::Utc>,
    /// Morning notifications not sent on that day, each tried again [`morning::RETRY`] later.
    morning_retries: (Option<chrono::NaiveDate>, u32),
}

async fn serve(cfg: Config, mut signals: Signals) -> Result<()> {
    // 1. The writer thread; it opens the store (a database that cannot be opened does not stop
    //    the service: files wait, and it is tried again).
    let (job_tx, job_rx) = std::sync::mpsc::channel::<Job>();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let w = Writer::new(cfg.clone(), done_tx, Arc::clone(&stop));
        std::thread::Builder::new()
            .name("recoverd-writer".into())
            .spawn(move || w.run(&job_rx))?
    };
    // 2. The watcher (its callback only forwards), then everything already in the roots.
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<notify::Result<Event>>();
    let watcher = notify::recommended_watcher(move |ev| {
        let _ = ev_tx.send(ev);
    })
    .context("cannot start the file watcher (inotify)")?;
    let mut svc = Service {
        desktop: Desktop::service(&cfg, feel_sink(&job_tx)),
        tree: Tree::new(watcher),
        pending: Pending::default(),
        retries: HashMap::new(),
        counts: Counts::default(),
        jobs: job_tx,
        // Past the time today and not sent yet (the service was down): caught up at once.
        morning_due: morning::today_at(chrono::Utc::now(), cfg.morning, &cfg.timezone),
        morning_retries: (None, 0),
        cfg,
    };
    svc.tree.sync(&svc.cfg, &mut svc.pending);
    let mut mounts = MountWatch::open();
    // 3. Ready.
    let _ = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("watching {} folder(s)", svc.tree.roots())),
    ]);
    tracing::info!(roots = ?svc.cfg.watch, "recoverd is watching");
    svc.desktop.listen_now().await;
    let writer_died = loop {
        let next_due = svc.pending.0.values().map(|c| c.due).min();
        let sleep_until = next_due.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        let fresh_due = svc.tree.fresh_due();
        let poll_due = svc.tree.poll_due(&svc.cfg);
        tokio::select! {
            _ = signals.term.recv() => { tracing::info!("SIGTERM: stopping"); break false; }
            _ = signals.int.recv() => { tracing::info!("SIGINT: stopping"); break false; }
            _ = signals.hup.recv() => svc.reload(),
            _ = tokio::time::sleep(poll_due), if svc.tree.needs_polling() => {
                svc.tree.sync(&svc.cfg, &mut svc.pending);
                svc.tree.poll(&svc.cfg, &mut svc.pending);
            }
            () = mounts.changed() => svc.tree.sync(&svc.cfg, &mut svc.pending),
            _ = tokio::time::sleep_until(fresh_due.unwrap_or(sleep_until).into()), if fresh_due.is_some() => {
                svc.tree.rescan_fresh(&svc.cfg, &mut svc.pending);
            }
            ev = ev_rx.recv() => match ev {
                None => break true,
                Some(Ok(ev)) => svc.on_event(&ev),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "file watcher error; rescanning");
                    svc.tree.rescan_all(&svc.cfg, &mut svc.pending);
                }
            },
            _ = tokio::time::sleep_until(sleep_until.into()), if next_due.is_some() => svc.dispatch_due(),
            () = tokio::time::sleep(morning::wait(svc.morning_due, chrono::Utc::now())) => svc.morning_tick(),
            done = done_rx.recv() => match done {
                None => break true,
                Some(d) => svc.on_done(d).await,
            },
        }
    };
    stop_writer(svc, &stop, writer, writer_died).await
}

/// Stops: the writer finishes the file in hand (and the burst's judgements) and checkpoints,
/// for [`STOP_GRACE`] at most; a writer stuck on a file is left behind (the process ends).
/// A writer that died on its own is an error, so that systemd restarts the service.
async fn stop_writer(
    svc: Service,
    stop: &AtomicBool,
    writer: std::thread::JoinHandle<()>,
    died: bool,
) -> Result<()> {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    stop.store(true, Ordering::SeqCst);
    drop(svc);
    let deadline = Instant::now() + STOP_GRACE;
    while !writer.is_finished() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !writer.is_finished() {
        tracing::warn!("the writer is stuck on a file; stopping without it");
        return Ok(());
    }
    // A writer that died (a panic no per-file guard caught) is an error exit, so that systemd
    // restarts the service; the file it held is marked by the next run (see `inflight`).
    if writer.join().is_err() || died {
        anyhow::bail!(
            "the writer thread died; exiting with an error so that recoverd is restarted"
        );
    }
    tracing::info!("shut down cleanly");
    Ok(())
}

impl Service {
    /// SIGHUP: reads the configuration again; a bad one keeps the old.
    fn reload(&mut self) {
        match config::load(Some(&self.cfg.config_path), Some(&self.cfg.database)) {
            Ok(new) => {
                self.cfg = new;
                self.tree.sync(&self.cfg, &mut self.pending);
                self.desktop.reconfigure(&self.cfg);
                let _ = self.jobs.send(Job::Reload(Box::new(self.cfg.clone())));
                // A new time (or zone) counts from today: one already passed is caught up.
                self.morning_due =
                    morning::today_at(chrono::Utc::now(), self.cfg.morning, &self.cfg.timezone);
                self.tree.rescan_all(&self.cfg, &mut self.pending);
                tracing::info!("SIGHUP: configuration reloaded");
            }
            Err(e) => tracing::warn!("SIGHUP: keeping the old configuration: {e}"),
        }
    }

    /// The wall clock reached the morning notification's time: the writer sends it if today
    /// is in a recovery window and none went out yet; the next one is tomorrow's.
    fn morning_tick(&mut self) {
        let now = chrono::Utc::now();
        if now < self.morning_due {
            return;
        }
        let _ = self.jobs.send(Job::Morning);
        self.morning_due = morning::next_after(now, self.cfg.morning, &self.cfg.timezone);
        tracing::debug!(next = %self.morning_due, "morning notification asked for");
    }

    /// A report from the writer: a file's outcome, or what to announce.
    async fn on_done(&mut self, done: Done) {
        match done {
            Done::File(o) => self.on_outcome(&o),
            Done::Announce(items) => {
                self.desktop
                    .announce_notices(&items, &self.cfg.timezone)
                    .await;
            }
            Done::Morning(n) => {
                let sent = self.desktop.announce_morning(&n, &self.cfg.timezone).await;
                self.morning_sent(n.day, sent);
            }
        }
    }

    /// After a morning notification: one that could not be sent gives its day back and is
    /// tried again a little later, a few times a day at most.
    fn morning_sent(&mut self, day: chrono::NaiveDate, sent: Option<u32>) {
        if let Some(id) = sent {
            let _ = self.jobs.send(Job::MorningSent(day, id));
            return;
        }
        let _ = self.jobs.send(Job::MorningUnsent(day));
        if self.morning_retries.0 != Some(day) {
            self.morning_retries = (Some(day), 0);
        }
        if self.morning_retries.1 < morning::MAX_RETRIES {
            self.morning_retries.1 += 1;
            self.morning_due = self.morning_due.min(chrono::Utc::now() + morning::RETRY);
        }
    }

    /// Sends the settled files to the writer, as one job.
    fn dispatch_due(&mut self) {
        let now = Instant::now();
        let due: Vec<PathBuf> = self
            .pending
            .0
            .iter()
            .filter(|(_, c)| c.due <= now)
            .map(|(p, _)| p.clone())
            .collect();
        let ready: Vec<PathBuf> = due
            .into_iter()
            .filter(|p| settle(p, &mut self.pending))
            .collect();
        if !ready.is_empty() {
            let _ = self.jobs.send(Job::Files(ready));
        }
    }

    fn on_outcome(&mut self, o: &Outcome) {
        self.counts.add(o);
        log(o);
        if o.transient && o.status == FileStatus::Pending {
            let path = PathBuf::from(&o.path);
            let retry = self
                .retries
                .entry(path.clone())
                .or_insert(RETRY_PENDING_FIRST);
            let c = Candidate {
                due: Instant::now() + *retry,
                complete: true,
                last_stat: None,
            };
            self.pending.0.insert(path, c);
            *retry = (*retry * 2).min(RETRY_PENDING_MAX);
        } else {
            self.retries.remove(Path::new(&o.path));
        }
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&self.counts.status(o))]);
    }

    fn on_event(&mut self, ev: &Event) {
        tracing::trace!(?ev, "event");
        let view = OnDisk { cfg: &self.cfg };
        for action in events::classify(ev, &view) {
            self.apply(action);
        }
    }

    /// Takes one action an event called for.
    fn apply(&mut self, action: Action) {
        match action {
            Action::RescanAll => {
                tracing::warn!("the kernel dropped file events; rescanning every folder");
                self.tree.rescan_all(&self.cfg, &mut self.pending);
            }
            Action::Forget(path) => self.tree.folder_gone(&path),
            Action::SyncRoots => self.tree.sync(&self.cfg, &mut self.pending),
            Action::ScanFolder(dir) => {
                self.tree
                    .folder_appeared(&dir, &self.cfg, &mut self.pending)
            }
            Action::Settle { path, complete } => {
                let c = self.pending.0.entry(path).or_insert(Candidate {
                    due: Instant::now() + QUIET,
                    complete,
                    last_stat: None,
                });
                c.due = Instant::now() + QUIET;
                c.complete = complete;
            }
        }
    }
}

/// Where the morning notification's buttons go: to the writer thread, which owns the store.
fn feel_sink(jobs: &std::sync::mpsc::Sender<Job>) -> crate::click::FeelSink {
    let jobs = jobs.clone();
    Arc::new(move |answer| {
        let _ = jobs.send(Job::Feel(answer));
    })
}

/// The paths of an event as they are on disk and in the configuration.
struct OnDisk<'a> {
    cfg: &'a Config,
}

impl events::View for OnDisk<'_> {
    fn is_dir(&self, path: &Path) -> bool {
        // `symlink_metadata`: a link to a folder is not walked.
        std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
    }

    fn is_root(&self, path: &Path) -> bool {
        Tree::is_root(self.cfg, path)
    }

    fn wanted(&self, path: &Path) -> bool {
        pipeline::walk::wanted(path, self.cfg)
    }
}
