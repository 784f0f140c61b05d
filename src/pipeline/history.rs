//! The history judgements depend on (observed max HR, fitness and fatigue), kept in memory
//! for a run, and the replans that judge stored activities again.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Config;
use crate::effort;
use crate::model::Activity;
use crate::plan::{self, History};
use crate::store::{Store, StoreError};

/// What one run (an `import`, or a burst of files in the service) carries from file to file:
/// the history judgements are made against, and what was imported, to judge again afterwards
/// what later arrivals changed.
pub struct Session {
    pub(super) history: HistoryCache,
    pub(super) imported: Vec<(i64, DateTime<Utc>)>,
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

/// Days of loads before an activity's day that its fitness and fatigue are computed from: a
/// load older than this weighs e^(−1095/42) ≈ 5·10⁻¹² of its value in fitness, nothing that
/// shows. With peaks (which count for 365 days) it keeps each judgement's cost bounded whatever
/// the length of the history, so that a burst costs linear time in its size.
pub(super) const LOAD_WINDOW_DAYS: i64 = 1095;
/// Days a peak counts for (MODEL §1; [`effort::confirmed_peak`] picks them exactly).
pub(super) const PEAK_WINDOW_DAYS: i64 = 366;

/// The history judgements are made against, held in memory during a run, ordered by time so
/// that each judgement reads only the window it depends on.
pub(super) struct HistoryCache {
    /// Where each activity's peak and load are filed.
    of: HashMap<i64, Filed>,
    /// The peaks by (start, activity).
    peaks: BTreeMap<(DateTime<Utc>, i64), effort::Peak>,
    /// The loads by (local day, activity).
    loads: BTreeMap<(NaiveDate, i64), f64>,
}

/// Where one activity's peak and load are filed in a [`HistoryCache`].
#[derive(Clone, Copy)]
pub(super) struct Filed {
    peak_start: Option<DateTime<Utc>>,
    day: NaiveDate,
    load: Option<f64>,
}

impl HistoryCache {
    pub(super) fn load(store: &Store) -> Result<Self, StoreError> {
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
    pub(super) fn history(
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

    pub(super) fn add(&mut self, id: i64, a: &Activity, s: &plan::Assessment, peak: Option<f64>) {
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

    pub(super) fn set_peak(&mut self, id: i64, peak: Option<effort::Peak>) {
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

    pub(super) fn set_load(&mut self, id: i64, day: NaiveDate, load: Option<f64>) {
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
pub(super) fn reassess(
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
    let mut ends = Vec::new();
    for &id in ids {
        let Some(stored) = store.load(id)? else {
            continue;
        };
        ends.push(stored.activity.end);
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
    // A new `ready` moves the windows the mornings are judged in.
    super::mornings::refresh_activities(store, &ends, &cfg.timezone)?;
    Ok(n)
}

/// Opens the store and brings its judgements up to date (settings changed, an older model,
/// judgements a stopped import left to make again): what every command and the service do
/// first. A replan that fails is a warning, not an error: the judgements stay as they were
/// until the next open or `recoverd replan`, and the store is still usable.
///
/// # Errors
/// When the database cannot be opened.
pub fn open_replanned(cfg: &Config) -> Result<Store, StoreError> {
    let mut store = Store::open(&cfg.database)?;
    match replan(&mut store, cfg, false) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            activities = n,
            "settings changed: recomputed effort and plans"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "could not recompute judgements; `recoverd replan` will")
        }
    }
    Ok(store)
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
mod rejudge_tests {
    use super::super::Outcome;
    use super::super::writer::{Writer, writer_tests};
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
