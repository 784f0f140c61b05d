//! Keeps the stored morning checks current: after a wellness file, a `feel`, or a change to a
//! hard activity, the windows that hold the changed days are judged again (MODEL.md §7) with
//! the pure `crate::morning` core, and their ready moves replayed.
//!
//! The windows near the changed days are all judged again, newest activity first, so that a
//! day inside several windows is judged in the latest activity's (whose window is known by
//! then) and every replay starts from the stored days: a night stored late, or a hard race
//! imported after the nights it covers, is judged in its place. The final `ready` is not stored
//! apart: views read it from the `mornings` rows (`ready_after_ms`), see `store::activities`.

use chrono::{DateTime, NaiveDate, Utc};
use jiff::tz::TimeZone;

use crate::localtime;
use crate::model::DaySignals;
use crate::morning::{self, Window};
use crate::store::{HardActivity, Store, StoreError};

/// How far from a changed day a window can reach: a hard activity's window ends at most this
/// many days after the activity (recovery 96 h with a history extension, a marathon's 7 days,
/// 3 days of moves and 3 more of window), and so does the one of a later activity that takes
/// days from it. Generous: judging a window again that did not change costs a few queries.
const REACH_DAYS: i64 = 30;

/// Judges again every recovery window that holds one of `days`, or whose normal (the 60 days
/// before its activity) does.
///
/// # Errors
/// On SQLite failure.
pub fn refresh(store: &mut Store, days: &[NaiveDate], tz: &TimeZone) -> Result<(), StoreError> {
    let (Some(&lo), Some(&hi)) = (days.iter().min(), days.iter().max()) else {
        return Ok(());
    };
    let from = localtime::day_start(morning::add_days(lo, -REACH_DAYS), tz);
    let to = localtime::day_start(morning::add_days(hi, morning::NORMAL_DAYS + 1), tz);
    judge_windows(store, from, to, Some(days), tz)
}

/// Judges again the windows an activity that ended at each of `ends` opens, or opened before
/// it was judged again, forgotten or replaced, and those next to them.
///
/// # Errors
/// On SQLite failure.
pub fn refresh_activities(
    store: &mut Store,
    ends: &[DateTime<Utc>],
    tz: &TimeZone,
) -> Result<(), StoreError> {
    let (Some(&lo), Some(&hi)) = (ends.iter().min(), ends.iter().max()) else {
        return Ok(());
    };
    judge_windows(
        store,
        morning::add_days_to(lo, -REACH_DAYS),
        morning::add_days_to(hi, REACH_DAYS),
        None,
        tz,
    )
}

/// Whether a changed day can change an activity's mornings: it lies in the widest window the
/// activity can have, or in the days its normal is made of.
fn touches(a: &HardActivity, days: &[NaiveDate], tz: &TimeZone) -> bool {
    let first = morning::add_days(localtime::day(a.end, tz), 1);
    let last = morning::last_day(morning::latest_ready(a.model_ready, tz), tz);
    let normal = (
        morning::add_days(a.local_day, -morning::NORMAL_DAYS),
        morning::add_days(a.local_day, -1),
    );
    days.iter()
        .any(|d| (first..=last).contains(d) || (normal.0..=normal.1).contains(d))
}

/// Judges the windows of the hard activities that end in [`from`, `to`) and of those that end
/// up to [`REACH_DAYS`] later (whose windows take days from them), newest first, in one
/// transaction; with `changed`, only when a changed day can change one of them.
fn judge_windows(
    store: &mut Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    changed: Option<&[NaiveDate]>,
    tz: &TimeZone,
) -> Result<(), StoreError> {
    let to = morning::add_days_to(to, REACH_DAYS);
    // Without a stored day in reach every window is empty, and so are its stored mornings.
    let (first, last) = (
        // An activity's local day is its start's: up to a week before its end.
        morning::add_days(localtime::day(from, tz), -morning::NORMAL_DAYS - 7),
        morning::add_days(localtime::day(to, tz), REACH_DAYS),
    );
    let days = store.days_in(first, last)?;
    if days.is_empty() {
        return Ok(());
    }
    let activities = store.hard_activities_ending(from, to)?;
    if changed.is_some_and(|days| !activities.iter().any(|a| touches(a, days, tz))) {
        return Ok(());
    }
    let own_batch = !store.in_batch();
    if own_batch {
        store.begin_batch()?;
    }
    let result = judge_all(store, from, to, &activities, &days, tz);
    if own_batch {
        if result.is_err() {
            // Nothing half-done: the batch is dropped with the error.
            let _ = store.rollback_batch();
        } else {
            store.end_batch()?;
        }
    }
    result
}

/// The work of [`judge_windows`], newest activity first, each window without the days the
/// later ones took.
fn judge_all(
    store: &mut Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    activities: &[HardActivity],
    days: &[DaySignals],
    tz: &TimeZone,
) -> Result<(), StoreError> {
    store.clear_mornings_of_easier(from, to)?;
    let mut taken: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for a in activities {
        taken.extend(judge_window(store, a, days, &taken, tz)?);
    }
    Ok(())
}

/// The stored days from `from` to `to` (both included) of `days`, which are oldest first.
fn between(days: &[DaySignals], from: NaiveDate, to: NaiveDate) -> &[DaySignals] {
    let lo = days.partition_point(|d| d.day < from);
    let hi = days.partition_point(|d| d.day <= to).max(lo);
    &days[lo..hi]
}

/// Judges one activity's window against `days` (the stored days in reach, oldest first) and
/// the days later windows took; returns its span, which it takes from earlier ones.
fn judge_window(
    store: &mut Store,
    a: &HardActivity,
    days: &[DaySignals],
    taken: &[(NaiveDate, NaiveDate)],
    tz: &TimeZone,
) -> Result<Option<(NaiveDate, NaiveDate)>, StoreError> {
    let Some(first_day) = localtime::day(a.end, tz).succ_opt() else {
        return Ok(None);
    };
    let before = between(
        days,
        morning::add_days(a.local_day, -morning::NORMAL_DAYS),
        morning::add_days(a.local_day, -1),
    );
    let w = Window {
        first_day,
        model_ready: a.model_ready,
        normal: morning::normal(before, a.local_day),
    };
    let last = morning::last_day(morning::latest_ready(a.model_ready, tz), tz);
    let r = morning::replay(&w, between(days, first_day, last), taken, tz);
    store.replace_mornings(a.id, &r.mornings)?;
    Ok(Some((first_day, morning::last_day(r.ready, tz))))
}

/// Records the runner's answer for local day `day` (1 very sore … 5 great) and judges that
/// morning again: what `recoverd feel` and the morning notification's buttons both call.
///
/// # Errors
/// On SQLite failure, or a value outside 1–5.
pub fn record_feel(
    store: &mut Store,
    day: NaiveDate,
    feel: u8,
    now: DateTime<Utc>,
    tz: &TimeZone,
) -> Result<(), StoreError> {
    store.set_feel(day, feel, now)?;
    refresh(store, &[day], tz)
}

/// The judged mornings of an activity's window with their days' signals, oldest first.
///
/// # Errors
/// On SQLite failure.
pub fn window_of(
    store: &Store,
    activity_id: i64,
) -> Result<Vec<crate::morning_view::MorningDay>, StoreError> {
    let mornings = store.mornings_of(activity_id)?;
    let (Some(first), Some(last)) = (
        mornings.first().map(|m| m.day),
        mornings.last().map(|m| m.day),
    ) else {
        return Ok(Vec::new());
    };
    let days = store.days_in(first, last)?;
    Ok(crate::morning_view::join(mornings, &days))
}

/// A day's signals (all absent when none is stored) and the morning check that judged it, with
/// the activity whose window it was in.
///
/// # Errors
/// On SQLite failure.
pub fn day_of(
    store: &Store,
    day: NaiveDate,
) -> Result<
    (
        crate::model::DaySignals,
        Option<(i64, crate::model::Morning)>,
    ),
    StoreError,
> {
    let signals = store
        .days_in(day, day)?
        .pop()
        .unwrap_or_else(|| morning::empty_day(day));
    Ok((signals, store.morning_on(day)?))
}
