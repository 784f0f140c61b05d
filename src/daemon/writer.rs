//! The service's writer thread: the one place files are read, judged and stored, with
//! [`pipeline::ingest_paths`], the same steps `import` runs. Files that arrive together are one
//! burst: judged against one in-memory history, then, once no file came for [`BURST_GAP`], the
//! judgements later arrivals changed are made again once (linear in the burst, in any order) and
//! the burst is announced as [`crate::announce::notices`] decides ([`notifier::notices_for`]).
//!
//! The systemd watchdog is fed here, by the loop that does the work, as each file is answered
//! and while idle: a writer stuck on one file stops feeding it, and systemd restarts the service.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use tokio::sync::mpsc::UnboundedSender;

use crate::announce::Notice;
use crate::config::Config;
use crate::notifier::{self, MorningNotice};
use crate::pipeline::{self, Options, Outcome, Session};
use crate::store::{FileStatus, Store, Stored};

/// A button on a morning notification sent before a restart is answered this many days on.
const ANSWER_DAYS: i64 = 2;

/// A burst ends when no file came for this long.
pub const BURST_GAP: Duration = Duration::from_millis(1500);

/// What the writer thread is asked to do.
pub enum Job {
    /// Settled files to read and store.
    Files(Vec<PathBuf>),
    /// A new configuration (SIGHUP).
    Reload(Box<Config>),
    /// The morning notification's time came (or passed while the service was down): send
    /// today's, unless one was sent or today is outside every recovery window.
    Morning,
    /// The morning notification of this day could not be sent: give its claim back.
    MorningUnsent(NaiveDate),
    /// The morning notification of this day went out as the server's notification `id`.
    MorningSent(NaiveDate, u32),
    /// A morning notification's button: how the legs feel on that notification's day.
    Feel(crate::click::Answer),
}

/// What the writer thread reports back.
pub enum Done {
    /// One file's outcome.
    File(Outcome),
    /// The notifications of a burst, each with the activity it names.
    Announce(Vec<(Notice, Stored)>),
    /// Today's morning notification, its day already claimed in the store.
    Morning(Box<MorningNotice>),
}

/// Feeds the systemd watchdog, at most every quarter of its period.
pub struct Watchdog {
    every: Option<Duration>,
    last: Option<Instant>,
}

impl Watchdog {
    /// From `WATCHDOG_USEC`; does nothing when the watchdog is off.
    #[must_use]
    pub fn from_env() -> Self {
        Self {
            every: sd_notify::watchdog_enabled().map(|d| d / 4),
            last: None,
        }
    }

    /// Tells systemd the writer is alive.
    pub fn feed(&mut self) {
        let Some(every) = self.every else { return };
        if self.last.is_none_or(|t| t.elapsed() >= every) {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            self.last = Some(Instant::now());
        }
    }

    /// Longest the idle writer may wait before feeding again.
    fn idle_wait(&self) -> Duration {
        self.every.unwrap_or(Duration::from_secs(3600))
    }
}

/// The writer thread's state.
pub struct Writer {
    cfg: Config,
    store: Option<Store>,
    session: Option<Session>,
    arrived: Vec<i64>,
    done: UnboundedSender<Done>,
    stop: Arc<AtomicBool>,
    dog: Watchdog,
    /// The morning notification is to be sent once the burst in hand is judged.
    morning_due: bool,
}

/// The main loop is gone: the writer stops.
struct Hangup;

impl Writer {
    /// A writer; the store is opened on its thread.
    #[must_use]
    pub fn new(cfg: Config, done: UnboundedSender<Done>, stop: Arc<AtomicBool>) -> Self {
        Self {
            cfg,
            store: None,
            session: None,
            arrived: Vec::new(),
            done,
            stop,
            dog: Watchdog::from_env(),
            morning_due: false,
        }
    }

    /// Runs until the job channel closes or a stop is asked; the burst in hand is finished
    /// (judged again, not announced) and the WAL checkpointed.
    pub fn run(mut self, jobs: &Receiver<Job>) {
        self.store = open_store(&self.cfg);
        self.dog.feed();
        loop {
            let wait = if self.session.is_some() {
                BURST_GAP
            } else {
                self.dog.idle_wait()
            };
            let step = match jobs.recv_timeout(wait) {
                Ok(Job::Reload(c)) => {
                    self.cfg = *c;
                    Ok(())
                }
                Ok(Job::Files(paths)) => self.files(&paths),
                Ok(Job::Morning) => {
                    self.morning_due = true;
                    self.morning()
                }
                Ok(Job::MorningUnsent(day)) => {
                    self.release_morning(day);
                    Ok(())
                }
                Ok(Job::MorningSent(day, id)) => {
                    self.note_morning_id(day, id);
                    Ok(())
                }
                Ok(Job::Feel(answer)) => {
                    self.feel(answer);
                    Ok(())
                }
                Err(RecvTimeoutError::Timeout) => self.end_burst(true),
                Err(RecvTimeoutError::Disconnected) => Err(Hangup),
            };
            self.dog.feed();
            if step.is_err() || self.stop.load(Ordering::SeqCst) {
                break;
            }
        }
        let _ = self.end_burst(false);
        if let Some(Err(e)) = self.store.as_ref().map(Store::checkpoint) {
            tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
        }
    }

    fn files(&mut self, paths: &[PathBuf]) -> Result<(), Hangup> {
        if self.store.is_none() {
            self.store = open_store(&self.cfg);
        }
        let Some(store) = self.store.as_mut() else {
            let why = format!(
                "the database {} cannot be opened",
                self.cfg.database.display()
            );
            for p in paths {
                let o = Outcome::pending_because(p, &why);
                self.done.send(Done::File(o)).map_err(|_| Hangup)?;
            }
            return Ok(());
        };
        if self.session.is_none() {
            match Session::new(store) {
                Ok(s) => self.session = Some(s),
                Err(e) => {
                    for p in paths {
                        let o = Outcome::pending_because(p, &e.to_string());
                        self.done.send(Done::File(o)).map_err(|_| Hangup)?;
                    }
                    self.store = None;
                    return Ok(());
                }
            }
        }
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        let opts = if paths.len() > 1 {
            Options::all_cores(false)
        } else {
            Options::default()
        };
        let now = Utc::now();
        let mut sink = Sink {
            done: &self.done,
            stop: &self.stop,
            dog: &mut self.dog,
            arrived: &mut self.arrived,
            refused: false,
            hung_up: false,
            today: super::morning::night_over(now, &self.cfg.timezone),
            morning_due: &mut self.morning_due,
        };
        pipeline::ingest_paths(store, &self.cfg, paths, opts, now, session, &mut sink);
        let (refused, hung_up) = (sink.refused, sink.hung_up);
        if refused {
            // A connection opened read-only stays so after the fault is fixed: open afresh.
            self.store = None;
        }
        if hung_up { Err(Hangup) } else { Ok(()) }
    }

    /// The burst is over: judgements later arrivals changed are made again, once, and (unless
    /// stopping) what arrived is announced.
    fn end_burst(&mut self, announce: bool) -> Result<(), Hangup> {
        let Some(mut session) = self.session.take() else {
            return Ok(());
        };
        let arrived = std::mem::take(&mut self.arrived);
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        match session.refresh(store, &self.cfg) {
            Ok(0) => {}
            Ok(n) => tracing::info!(activities = n, "judged again with the files that arrived"),
            Err(e) => {
                tracing::warn!(error = %e, "could not update judgements; `recoverd replan` will")
            }
        }
        if !announce {
            return Ok(());
        }
        // What arrived may open today's window (a race synced late) or bring last night's data:
        // once the morning's time has passed, today's notification goes out if it has not.
        let now = Utc::now();
        self.morning_due |=
            now >= super::morning::today_at(now, self.cfg.morning, &self.cfg.timezone);
        if !arrived.is_empty() {
            match notifier::notices_for(store, &arrived, Utc::now()) {
                Ok(items) if items.is_empty() => {}
                Ok(items) => self.done.send(Done::Announce(items)).map_err(|_| Hangup)?,
                Err(e) => tracing::warn!(error = %e, "cannot load what to announce"),
            }
        }
        self.morning()
    }

    /// Sends today's morning notification when it is due and not sent (MODEL.md §7: at most one
    /// a local day inside a recovery window). Waits for the burst in hand to be judged first.
    /// The day is claimed in the store before the notification goes out, so that two triggers
    /// (the time, the night's data, a restart) never send two.
    fn morning(&mut self) -> Result<(), Hangup> {
        if !self.morning_due || self.session.is_some() {
            return Ok(());
        }
        self.morning_due = false;
        if !self.cfg.notifications {
            return Ok(());
        }
        if self.store.is_none() {
            self.store = open_store(&self.cfg);
        }
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        let now = Utc::now();
        let notice = match notifier::morning_notice(store, now, &self.cfg.timezone) {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read what to say this morning");
                return Ok(());
            }
        };
        match store.record_morning_notice(notice.day, Some(notice.activity.id), now, None) {
            Ok(true) => self
                .done
                .send(Done::Morning(Box::new(notice)))
                .map_err(|_| Hangup),
            Ok(false) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot record the morning notification; not sending it");
                Ok(())
            }
        }
    }

    /// Gives back the claim of a morning notification that could not be sent.
    fn release_morning(&mut self, day: NaiveDate) {
        if let Some(Err(e)) = self.store.as_mut().map(|s| s.release_morning_notice(day)) {
            tracing::warn!(%day, error = %e, "cannot give back the unsent morning notification's day");
        }
    }

    /// Notes the server's id of the morning notification sent, so that its buttons are
    /// answered after a restart too.
    fn note_morning_id(&mut self, day: NaiveDate, id: u32) {
        if let Some(Err(e)) = self
            .store
            .as_mut()
            .map(|s| s.set_morning_notice_id(day, id))
        {
            tracing::warn!(%day, error = %e, "cannot note the morning notification's id");
        }
    }

    /// Records a morning notification's button: the feel of its day, exactly as `recoverd
    /// feel` does, and that day judged again.
    fn feel(&mut self, answer: crate::click::Answer) {
        if self.store.is_none() {
            self.store = open_store(&self.cfg);
        }
        let Some(store) = self.store.as_mut() else {
            tracing::warn!(
                feel = answer.feel,
                "the database cannot be opened: the answer is lost; use `recoverd feel`"
            );
            return;
        };
        let now = Utc::now();
        let day = match answer.day {
            Some(d) => Some(d),
            None => store
                .morning_notice_day(answer.id, now - chrono::Duration::days(ANSWER_DAYS))
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot look up the notification answered");
                    None
                }),
        };
        // Not a morning notification of ours (or one too old to answer).
        let Some(day) = day else { return };
        let feel = answer.feel;
        match pipeline::mornings::record_feel(store, day, feel, now, &self.cfg.timezone) {
            Ok(()) => tracing::info!(%day, feel, "stored how the legs feel"),
            Err(e) => tracing::warn!(
                %day,
                feel,
                error = %e,
                "cannot store how the legs feel; use `recoverd feel`"
            ),
        }
    }
}

/// Forwards each outcome to the main loop, feeding the watchdog as files are answered.
struct Sink<'a> {
    done: &'a UnboundedSender<Done>,
    stop: &'a AtomicBool,
    dog: &'a mut Watchdog,
    arrived: &'a mut Vec<i64>,
    refused: bool,
    hung_up: bool,
    /// Today, once its night is over (from 04:00 local): its data calls for the morning
    /// notification.
    today: Option<NaiveDate>,
    morning_due: &'a mut bool,
}

impl pipeline::Sink for Sink<'_> {
    fn outcome(&mut self, o: Outcome) {
        self.dog.feed();
        self.refused |= o.status == FileStatus::Pending && o.transient;
        if o.status == FileStatus::Imported {
            self.arrived.extend(o.activity_id);
        }
        // Last night's data arrived: the morning notification once the burst is judged.
        if self.today.is_some_and(|d| o.days.contains(&d)) {
            *self.morning_due = true;
        }
        self.hung_up |= self.done.send(Done::File(o)).is_err();
    }

    fn stop(&self) -> bool {
        self.hung_up || self.stop.load(Ordering::SeqCst)
    }
}

/// Opens the store with its judgements up to date ([`pipeline::open_replanned`]); `None` (with
/// a warning) when it cannot be opened.
fn open_store(cfg: &Config) -> Option<Store> {
    match pipeline::open_replanned(cfg) {
        Ok(store) => Some(store),
        Err(e) => {
            tracing::warn!(
                "{e}: files wait until it can be written (check that {} is writable)",
                cfg.database.display()
            );
            None
        }
    }
}
