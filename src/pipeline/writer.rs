//! The single writer: batched transactions, and the import/duplicate/failed policy decided
//! inside them.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

use super::history::{HistoryCache, Session};
use super::workers::crashed;
use super::{BATCH_FILES, BATCH_TIME, Loaded, Outcome, pending, stat};
use crate::config::Config;
use crate::effort;
use crate::ingest::archive::Hint;
use crate::ingest::{self, FailureKind, IngestError, Parsed};
use crate::model::Activity;
use crate::pipeline::{inflight, mornings};
use crate::plan::{self};
use crate::store::{FileMeta, FileStatus, Store, StoreError};
use crate::wellness::Wellness;

/// The single writer: commits loaded files, batching them into transactions. Every decision
/// about a file (known content? the same activity as a stored one?) is taken inside the write
/// transaction (`BEGIN IMMEDIATE`), so processes sharing the database store each activity once.
pub(super) struct Writer<'a> {
    pub(super) store: &'a mut Store,
    pub(super) cfg: &'a Config,
    pub(super) now: DateTime<Utc>,
    pub(super) session: &'a mut Session,
    pub(super) batching: bool,
    pub(super) batch: Vec<Outcome>,
    pub(super) batch_started: Instant,
    /// Imports of the open batch, moved to the session once committed.
    pub(super) uncommitted: Vec<(i64, DateTime<Utc>)>,
    pub(super) slot: inflight::Slot,
    pub(super) cut_short_after: Option<Duration>,
    /// Days the open batch's wellness files added data to: their mornings are judged again
    /// when it is committed.
    pub(super) wellness_days: BTreeSet<NaiveDate>,
    /// Ends of the open batch's new or replacing hard activities: each opens a window over
    /// nights that may already be stored, judged once when the batch is committed.
    pub(super) hard_ends: Vec<DateTime<Utc>>,
}

impl<'a> Writer<'a> {
    pub(super) fn new(
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
            wellness_days: BTreeSet::new(),
            hard_ends: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, loaded: Loaded, sink: &mut dyn FnMut(Outcome)) {
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
    pub(super) fn flush(&mut self, sink: &mut dyn FnMut(Outcome)) {
        self.refresh_mornings();
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

    /// Judges again, once per batch and inside it, the mornings of the days the batch's wellness
    /// files added data to and of the windows its hard activities open: committed with them,
    /// before their outcomes are reported.
    fn refresh_mornings(&mut self) {
        let tz = &self.cfg.timezone;
        let ends = std::mem::take(&mut self.hard_ends);
        if let Err(e) = mornings::refresh_activities(self.store, &ends, tz) {
            tracing::warn!(error = %e, "cannot judge the mornings after these activities; the next change will");
        }
        if self.wellness_days.is_empty() {
            return;
        }
        let days: Vec<NaiveDate> = std::mem::take(&mut self.wellness_days)
            .into_iter()
            .collect();
        if let Err(e) = mornings::refresh(self.store, &days, tz) {
            tracing::warn!(error = %e, "could not judge the mornings again; `recoverd replan` will");
        }
    }

    /// [`Writer::commit`] under the per-file guard. A panic while judging or storing fails this
    /// file alone: its savepoint was rolled back as the panic unwound through it.
    pub(super) fn commit_guarded(&mut self, loaded: Loaded) -> Outcome {
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

    pub(super) fn commit(&mut self, loaded: Loaded) -> Outcome {
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
            Ok(Parsed::Wellness(w)) => self.import_wellness(&meta, &w),
        }
    }

    /// Stores a wellness file's values (see [`Store::store_wellness`]), records the file as
    /// imported with the days it added, and judges those days' mornings again. The same
    /// content again is a duplicate.
    pub(super) fn import_wellness(&mut self, meta: &FileMeta, w: &Wellness) -> Outcome {
        if let Some(sha) = &meta.sha256 {
            match self.store.wellness_file_by_sha(sha) {
                Ok(Some(first)) => return self.same_wellness(meta, &first),
                Ok(None) => {}
                Err(e) => return self.store_fault(meta, &e),
            }
        }
        let rows = super::wellness_rows(w, &self.cfg.timezone);
        let days = match self.store.store_wellness(&rows, self.now) {
            Ok(days) => days,
            Err(e) => return self.store_fault(meta, &e),
        };
        if let Err(e) = self.store.record_wellness_file(meta, Some(&days), self.now) {
            return self.store_fault(meta, &e);
        }
        self.wellness_days.extend(days.iter().copied());
        let mut o = Outcome::new(&meta.path, FileStatus::Imported);
        o.wellness = true;
        o.days = days;
        o.reason = (!w.warnings.is_empty()).then(|| w.warnings.join("; "));
        o
    }

    /// A wellness file whose content was imported from `first`: the same path read again keeps
    /// its row; any other path is a duplicate.
    fn same_wellness(&mut self, meta: &FileMeta, first: &Path) -> Outcome {
        let mut o = Outcome::new(&meta.path, FileStatus::Duplicate);
        o.wellness = true;
        if first == meta.path {
            o.known = true;
            if let Err(e) = self.store.record_wellness_file(meta, None, self.now) {
                return self.store_fault(meta, &e);
            }
            return o;
        }
        let why = format!(
            "the same wellness file as {}, already imported",
            crate::logging::printable(&first.to_string_lossy())
        );
        if let Err(e) =
            self.store
                .record_file(meta, FileStatus::Duplicate, Some(&why), None, self.now)
        {
            return pending(&meta.path, &e);
        }
        o.reason = Some(why);
        o
    }

    /// A file whose activity `id` is stored: the file that gave it, read again (touched,
    /// rewritten), keeps its row; any other file is its duplicate.
    pub(super) fn same_as(&mut self, meta: &FileMeta, id: i64) -> Outcome {
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

    pub(super) fn import_activity(&mut self, meta: &FileMeta, activity: &Activity) -> Outcome {
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
                // A hard effort opens a window over nights that may already be stored.
                if assessment.effort.class >= crate::effort::EffortClass::Hard
                    || replacing.is_some()
                {
                    self.hard_ends.push(activity.end);
                }
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
    pub(super) fn goes_further(&self, id: i64, a: &Activity) -> bool {
        self.store
            .cut_short_elapsed(id, ingest::fit::CUT_SHORT)
            .ok()
            .flatten()
            .is_some_and(|stored| a.elapsed_s > stored + 1.0)
    }

    /// A database error on one file: pending when it may pass (locked, full, read-only), else
    /// `failed` with its reason, so that it is not tried again forever.
    pub(super) fn store_fault(&mut self, meta: &FileMeta, e: &StoreError) -> Outcome {
        if e.is_transient() {
            return pending(&meta.path, e);
        }
        let reason = format!("cannot be stored: {e}");
        record(self.store, meta, FileStatus::Failed, Some(reason), self.now)
    }
}

/// An export's index knows better than the file what the user called the activity.
pub(super) fn apply_hint(a: &mut Activity, hint: Hint) {
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

pub(super) fn duplicate(
    store: &mut Store,
    meta: &FileMeta,
    id: i64,
    now: DateTime<Utc>,
) -> Outcome {
    if let Err(e) = store.record_file(meta, FileStatus::Duplicate, None, Some(id), now) {
        return pending(&meta.path, &e);
    }
    let mut o = Outcome::new(&meta.path, FileStatus::Duplicate);
    o.duplicate_of = Some(id);
    o
}

pub(super) fn record(
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

pub(super) fn failed(
    store: &mut Store,
    meta: &FileMeta,
    e: &IngestError,
    now: DateTime<Utc>,
) -> Outcome {
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

#[cfg(test)]
pub(super) mod writer_tests {
    use super::*;
    use crate::model::HrSample;
    use chrono::TimeZone as _;
    use std::path::PathBuf;

    pub(in crate::pipeline) fn activity(elapsed_s: f64) -> Activity {
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
            elapsed_s,
            ..Activity::test_run(start, 1800.0, hr)
        }
    }

    pub(in crate::pipeline) fn loaded(path: &str, sha: &str, a: Activity) -> Loaded {
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
