//! The morning check (MODEL.md §7): is the runner actually recovering? From each local day's
//! signals (the night's resting HR and HRV, the runner's feel) and the runner's pre-activity
//! normal, a verdict per morning of a hard activity's recovery window, and `ready` moved a day
//! at a time by the mornings that say "not recovered".
//!
//! Pure: no files, database or clock. The time zone is an argument; "today" never matters
//! here, because a morning is judged only from the data stored for it.
//!
//! One decision beyond the design: `ready` moves at most to 06:00 local three days after the
//! model's ready day (MODEL.md §7's "at most 3 days"), which also bounds the moves to three. A
//! cap by the number of moves alone would let a later flag make `ready` earlier (moves used up
//! on consecutive days instead of spread out), which §7 forbids.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use jiff::tz::TimeZone;

use crate::localtime;
use crate::model::{DaySignals, Flag, Morning, Normal, Verdict};
use crate::plan::{Assessment, Tactic};

/// Days before the activity's local day that make the runner's normal.
pub const NORMAL_DAYS: i64 = 60;
/// Values a signal needs in those days to have a normal.
pub const MIN_VALUES: usize = 14;
/// Floor of the resting-HR SD, bpm.
pub const RHR_SD_FLOOR: f64 = 1.0;
/// Floor of the ln RMSSD SD.
pub const LN_RMSSD_SD_FLOOR: f64 = 0.05;
/// Resting HR is high at normal + max(σ, this), bpm.
pub const RHR_MARGIN_BPM: f64 = 3.0;
/// A feel at or below this is low.
pub const FEEL_LOW_MAX: u8 = 2;
/// `ready` moves at most this many days past the model's ready day (and so at most this often).
pub const MAX_MOVE_DAYS: i64 = 3;
/// The window stays open this many days after the local day of the (moved) `ready`.
pub const WINDOW_TAIL_DAYS: i64 = 3;

/// `d` moved by `n` days, held at the calendar's ends instead of overflowing.
#[must_use]
pub fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    d.checked_add_signed(Duration::days(n)).unwrap_or(if n < 0 {
        NaiveDate::MIN
    } else {
        NaiveDate::MAX
    })
}

/// `t` moved by `n` days, held at the clock's ends instead of overflowing.
#[must_use]
pub fn add_days_to(t: DateTime<Utc>, n: i64) -> DateTime<Utc> {
    t.checked_add_signed(Duration::days(n)).unwrap_or(if n < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Mean and sample SD (n − 1) with the SD floored, when there are enough values.
fn mean_sd(values: &[f64], floor: f64) -> Option<(f64, f64)> {
    if values.len() < MIN_VALUES {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let sd = var.sqrt();
    (mean.is_finite() && sd.is_finite()).then(|| (mean, sd.max(floor)))
}

/// ln of a night's RMSSD, when it is a usable value.
fn ln_rmssd(ms: Option<f64>) -> Option<f64> {
    ms.filter(|v| v.is_finite() && *v > 0.0).map(f64::ln)
}

/// The runner's normal before an activity on local day `activity_day`: the mean and SD of each
/// signal over `days` in [day − 60, day − 1] (other days given are ignored).
#[must_use]
pub fn normal(days: &[DaySignals], activity_day: NaiveDate) -> Normal {
    let from = add_days(activity_day, -NORMAL_DAYS);
    let before: Vec<&DaySignals> = days
        .iter()
        .filter(|d| d.day >= from && d.day < activity_day)
        .collect();
    let rhr: Vec<f64> = before.iter().filter_map(|d| d.rhr).map(f64::from).collect();
    let hrv: Vec<f64> = before
        .iter()
        .filter_map(|d| ln_rmssd(d.hrv_rmssd_ms))
        .collect();
    let rhr = mean_sd(&rhr, RHR_SD_FLOOR);
    let hrv = mean_sd(&hrv, LN_RMSSD_SD_FLOOR);
    Normal {
        rhr_mean: rhr.map(|r| r.0),
        rhr_sd: rhr.map(|r| r.1),
        ln_rmssd_mean: hrv.map(|h| h.0),
        ln_rmssd_sd: hrv.map(|h| h.1),
    }
}

/// One morning's verdict and the signals it raised (never [`Flag::Persisting`]: that is the
/// replay's word). A signal counts only with a normal to compare it to; feel needs none.
#[must_use]
pub fn judge(day: &DaySignals, normal: &Normal) -> (Verdict, Vec<Flag>) {
    let mut usable = 0;
    let mut flags = Vec::new();
    if let (Some(rhr), Some(mean), Some(sd)) = (day.rhr, normal.rhr_mean, normal.rhr_sd) {
        usable += 1;
        if f64::from(rhr) >= mean + sd.max(RHR_MARGIN_BPM) {
            flags.push(Flag::RhrHigh);
        }
    }
    if let (Some(ln), Some(mean), Some(sd)) = (
        ln_rmssd(day.hrv_rmssd_ms),
        normal.ln_rmssd_mean,
        normal.ln_rmssd_sd,
    ) {
        usable += 1;
        if ln < mean - sd {
            flags.push(Flag::HrvLow);
        }
    }
    if let Some(feel) = day.feel.filter(|f| (1..=5).contains(f)) {
        usable += 1;
        if feel <= FEEL_LOW_MAX {
            flags.push(Flag::FeelLow);
        }
    }
    let verdict = if !flags.is_empty() {
        Verdict::NotRecovered
    } else if usable > 0 {
        Verdict::Recovered
    } else {
        Verdict::Unknown
    };
    (verdict, flags)
}

/// A day with no signal at all.
#[must_use]
pub fn empty_day(day: NaiveDate) -> DaySignals {
    DaySignals {
        day,
        rhr: None,
        rhr_source: None,
        rhr_monitoring: None,
        rhr_watch: None,
        hrv_rmssd_ms: None,
        hrv_source: None,
        feel: None,
    }
}

/// What opens a window: a hard-or-harder activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The first morning judged: the local day after the activity's end.
    pub first_day: NaiveDate,
    /// The model's `ready` (after the race rules and the night rule).
    pub model_ready: DateTime<Utc>,
    /// The runner's normal before the activity.
    pub normal: Normal,
}

/// The replayed window: each judged morning with `ready` before and after it, and the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// The judged mornings, oldest first: every window day up to the last one with any signal
    /// (days without one are `unknown`), except days a later activity's window judges.
    pub mornings: Vec<Morning>,
    /// The final `ready`.
    pub ready: DateTime<Utc>,
    /// How many mornings moved `ready`.
    pub moves: u8,
    /// A not-recovered morning came when `ready` could move no further.
    pub persisting: bool,
}

/// The last day of a window whose `ready` is `ready`.
#[must_use]
pub fn last_day(ready: DateTime<Utc>, tz: &TimeZone) -> NaiveDate {
    add_days(localtime::day(ready, tz), WINDOW_TAIL_DAYS)
}

/// Whether local day `day` lies in the window of an activity that ended at `end` with (moved)
/// `ready`: from the day after the end to `ready`'s day + 3.
#[must_use]
pub fn in_window(end: DateTime<Utc>, ready: DateTime<Utc>, day: NaiveDate, tz: &TimeZone) -> bool {
    localtime::day(end, tz) < day && day <= last_day(ready, tz)
}

/// The latest `ready` the morning check can give for a model `ready`.
#[must_use]
pub fn latest_ready(model_ready: DateTime<Utc>, tz: &TimeZone) -> DateTime<Utc> {
    let cap = localtime::morning(add_days(localtime::day(model_ready, tz), MAX_MOVE_DAYS), tz);
    cap.max(model_ready)
}

/// Replays a window's mornings in order (so a night stored late is judged in its place): each
/// not-recovered morning on or after the local day of the current `ready` moves it to 06:00 the
/// next day, never earlier than it was and never past [`latest_ready`]; one that can move it no
/// further is marked [`Flag::Persisting`]. `days` are the stored days (any order; days outside
/// the window are ignored); `taken` are the day ranges (both ends included) that a later
/// activity's window judges instead.
#[must_use]
pub fn replay(
    w: &Window,
    days: &[DaySignals],
    taken: &[(NaiveDate, NaiveDate)],
    tz: &TimeZone,
) -> Replay {
    let by_day: BTreeMap<NaiveDate, &DaySignals> = days
        .iter()
        .filter(|d| d.day >= w.first_day)
        .map(|d| (d.day, d))
        .collect();
    let cap = latest_ready(w.model_ready, tz);
    let mut out = Replay {
        mornings: Vec::new(),
        ready: w.model_ready,
        moves: 0,
        persisting: false,
    };
    let Some(&last_data) = by_day.keys().next_back() else {
        return out;
    };
    let mut d = w.first_day;
    while d <= last_data && d <= last_day(out.ready, tz) {
        if !taken.iter().any(|(a, b)| *a <= d && d <= *b) {
            let signals = by_day
                .get(&d)
                .map_or_else(|| empty_day(d), |s| (*s).clone());
            let m = morning(&mut out, &signals, w, cap, tz);
            out.mornings.push(m);
        }
        let Some(next) = d.succ_opt() else { break };
        d = next;
    }
    out
}

/// Judges one morning and applies it to the replay's `ready`.
fn morning(
    out: &mut Replay,
    signals: &DaySignals,
    w: &Window,
    cap: DateTime<Utc>,
    tz: &TimeZone,
) -> Morning {
    let (verdict, mut flags) = judge(signals, &w.normal);
    let before = out.ready;
    let d = signals.day;
    if verdict == Verdict::NotRecovered && d >= localtime::day(before, tz) {
        let next = d
            .succ_opt()
            .map_or(cap, |n| localtime::morning(n, tz))
            .min(cap);
        // A move lands after this morning (else it would say "ready now" on a bad morning).
        if next > before && next > localtime::morning(d, tz) {
            out.ready = next;
            out.moves = out.moves.saturating_add(1);
        } else {
            flags.push(Flag::Persisting);
            out.persisting = true;
        }
    }
    debug_assert!(out.ready >= before, "a morning never makes ready earlier");
    Morning {
        day: d,
        verdict,
        flags,
        normal: w.normal,
        ready_before: before,
        ready_after: out.ready,
    }
}

/// What the morning check did to an activity's `ready`, as every view shows it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shift {
    /// The model's `ready`, before any morning.
    pub model_ready: DateTime<Utc>,
    /// Mornings that moved it.
    pub moves: u8,
    /// A not-recovered morning came when it could move no further.
    pub persisting: bool,
}

impl Shift {
    /// Hours the morning check added to `ready` (0 when none), to the tenth.
    #[must_use]
    pub fn moved_h(&self, ready: DateTime<Utc>) -> f64 {
        let h = (ready - self.model_ready).num_seconds().max(0) as f64 / 3600.0;
        (h * 10.0).round() / 10.0
    }
}

/// The plain word for persisting fatigue (§7).
pub const PERSISTING: &str = "Persisting fatigue: your mornings still say not recovered, and \
                              the morning check moves ready no further than 3 days past the \
                              predicted day. Rest, and see a doctor if you feel unwell.";

/// Shows the morning check's final `ready` in a stored judgement: `ready` and the plan's
/// return-to-training moment at it move to `ready_after` (never earlier), the model's time is
/// kept in [`Shift::model_ready`]. Calendar events keep their place in the plan (and so their
/// UIDs).
pub fn apply(a: &mut Assessment, ready_after: DateTime<Utc>, moves: u8, persisting: bool) {
    let model_ready = a
        .recovery
        .morning
        .map_or(a.recovery.ready, |s| s.model_ready);
    let ready = ready_after.max(model_ready);
    a.recovery.morning = Some(Shift {
        model_ready,
        moves,
        persisting,
    });
    if ready == a.recovery.ready {
        return;
    }
    a.recovery.ready = ready;
    for item in &mut a.plan {
        if item.tactic == Tactic::ReturnToTraining && item.start == model_ready {
            item.start = ready;
            item.end = ready;
            item.why = format!(
                "{} Moved by the morning check: {moves} not-recovered morning{} at or after the \
                 predicted ready time.",
                item.why,
                if moves == 1 { "" } else { "s" }
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC)
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn signals(d: NaiveDate, rhr: Option<u16>, hrv: Option<f64>, feel: Option<u8>) -> DaySignals {
        DaySignals {
            rhr,
            hrv_rmssd_ms: hrv,
            feel,
            ..empty_day(d)
        }
    }

    fn vector_normal() -> Normal {
        Normal {
            rhr_mean: Some(48.0),
            rhr_sd: Some(2.0),
            ln_rmssd_mean: Some(4.0),
            ln_rmssd_sd: Some(0.1),
        }
    }

    #[test]
    fn the_model_vector_moves_ready_to_six_the_next_morning() {
        // §7: normal RHR 48 ± 2, ln RMSSD 4.00 ± 0.10; the predicted ready day's morning RHR 53,
        // RMSSD 44 ms (ln 3.78), feel 3 → RHR high, HRV low → not recovered → 06:00 next day.
        let tz = berlin();
        let ready_day = day("2026-04-23");
        let morning_signals = signals(ready_day, Some(53), Some(44.0), Some(3));
        let (verdict, flags) = judge(&morning_signals, &vector_normal());
        assert_eq!(verdict, Verdict::NotRecovered);
        assert_eq!(flags, vec![Flag::RhrHigh, Flag::HrvLow]);
        let w = Window {
            first_day: day("2026-04-21"),
            model_ready: at("2026-04-23T07:33:40Z"),
            normal: vector_normal(),
        };
        let r = replay(&w, &[morning_signals], &[], &tz);
        assert_eq!(
            r.ready,
            at("2026-04-24T04:00:00Z"),
            "06:00 CEST on the 24th"
        );
        assert_eq!(r.moves, 1);
        assert!(!r.persisting);
        // The two days before it had no signal: unknown, and they moved nothing.
        let verdicts: Vec<Verdict> = r.mornings.iter().map(|m| m.verdict).collect();
        assert_eq!(
            verdicts,
            [Verdict::Unknown, Verdict::Unknown, Verdict::NotRecovered]
        );
        assert_eq!(r.mornings[2].ready_before, w.model_ready);
    }

    #[test]
    fn the_normal_is_the_sixty_days_before_with_fourteen_values_and_floors() {
        let race = day("2026-04-20");
        let mut days = Vec::new();
        for i in 1..=20 {
            let rhr = if i % 2 == 0 { 46 } else { 50 };
            days.push(signals(
                race - Duration::days(i),
                Some(rhr),
                Some(54.6),
                None,
            ));
        }
        // The race day itself and days older than 60 do not count.
        days.push(signals(race, Some(90), Some(5.0), None));
        days.push(signals(race - Duration::days(61), Some(90), None, None));
        let n = normal(&days, race);
        assert_eq!(n.rhr_mean, Some(48.0));
        let sd = n.rhr_sd.unwrap_or_default();
        assert!((sd - (80.0_f64 / 19.0).sqrt()).abs() < 1e-9, "{sd}");
        assert!((n.ln_rmssd_mean.unwrap_or_default() - 54.6_f64.ln()).abs() < 1e-9);
        assert_eq!(n.ln_rmssd_sd, Some(LN_RMSSD_SD_FLOOR), "floored");
        // Thirteen values: no normal, and the signal raises nothing.
        let n = normal(&days[..13], race);
        assert_eq!(n, Normal::default());
        let (v, flags) = judge(&signals(race, Some(70), Some(10.0), None), &n);
        assert_eq!((v, flags), (Verdict::Unknown, vec![]));
        // Feel needs no normal.
        let (v, flags) = judge(&signals(race, None, None, Some(2)), &n);
        assert_eq!((v, flags), (Verdict::NotRecovered, vec![Flag::FeelLow]));
        let (v, _) = judge(&signals(race, None, None, Some(3)), &n);
        assert_eq!(v, Verdict::Recovered);
    }

    #[test]
    fn rhr_needs_three_bpm_over_normal_even_with_a_small_sd() {
        let n = vector_normal();
        let d = day("2026-04-23");
        assert_eq!(
            judge(&signals(d, Some(50), None, None), &n).0,
            Verdict::Recovered
        );
        assert_eq!(
            judge(&signals(d, Some(51), None, None), &n).0,
            Verdict::NotRecovered
        );
    }

    #[test]
    fn three_bad_mornings_move_ready_three_days_and_a_fourth_is_persisting() {
        let tz = berlin();
        let w = Window {
            first_day: day("2026-04-21"),
            model_ready: at("2026-04-23T12:00:00Z"),
            normal: vector_normal(),
        };
        let bad = |d: &str| signals(day(d), None, None, Some(1));
        let days = [
            bad("2026-04-23"),
            bad("2026-04-24"),
            bad("2026-04-25"),
            bad("2026-04-26"),
        ];
        let r = replay(&w, &days[..3], &[], &tz);
        assert_eq!((r.moves, r.persisting), (3, false));
        assert_eq!(r.ready, at("2026-04-26T04:00:00Z"));
        let r = replay(&w, &days, &[], &tz);
        assert_eq!((r.moves, r.persisting), (3, true));
        assert_eq!(r.ready, at("2026-04-26T04:00:00Z"));
        let last = r
            .mornings
            .last()
            .map(|m| m.flags.clone())
            .unwrap_or_default();
        assert_eq!(last, vec![Flag::FeelLow, Flag::Persisting]);
        // A bad morning before the ready day moves nothing; days a later window takes are skipped.
        let r = replay(&w, &[bad("2026-04-22")], &[], &tz);
        assert_eq!((r.ready, r.moves), (w.model_ready, 0));
        let r = replay(&w, &days, &[(day("2026-04-23"), day("2026-04-30"))], &tz);
        assert_eq!((r.ready, r.moves), (w.model_ready, 0));
        assert_eq!(r.mornings.len(), 2);
    }

    #[test]
    fn a_bad_morning_past_the_last_possible_ready_moves_nothing_and_is_persisting() {
        // Ready at 01:02 on 1 Jan (a time the model never gives, but the replay must hold):
        // the cap is 06:00 on 4 Jan; a bad morning on 4 Jan would "move" ready to that very
        // morning, so it moves nothing and says persisting fatigue.
        let tz = berlin();
        let w = Window {
            first_day: day("2025-12-30"),
            model_ready: at("2026-01-01T00:02:00Z"),
            normal: Normal::default(),
        };
        let bad = |d: &str| signals(day(d), None, None, Some(1));
        let r = replay(&w, &[bad("2026-01-03"), bad("2026-01-04")], &[], &tz);
        assert_eq!(r.ready, at("2026-01-04T05:00:00Z"));
        assert_eq!((r.moves, r.persisting), (1, true));
    }

    #[test]
    fn no_data_in_the_window_judges_nothing() {
        let w = Window {
            first_day: day("2026-04-21"),
            model_ready: at("2026-04-23T12:00:00Z"),
            normal: vector_normal(),
        };
        let old = signals(day("2026-04-01"), Some(60), None, Some(1));
        let r = replay(&w, &[old], &[], &berlin());
        assert!(r.mornings.is_empty());
        assert_eq!(r.ready, w.model_ready);
    }

    /// A window's worth of days with random signals (some absent).
    fn arb_days(first: NaiveDate) -> impl Strategy<Value = Vec<DaySignals>> {
        proptest::collection::vec(
            (
                proptest::option::of(40u16..70),
                proptest::option::of(20.0f64..120.0),
                proptest::option::of(1u8..=5),
                any::<bool>(),
            ),
            0..14,
        )
        .prop_map(move |v| {
            v.into_iter()
                .enumerate()
                .filter(|(_, (_, _, _, keep))| *keep)
                .map(|(i, (rhr, hrv, feel, _))| {
                    signals(first + Duration::days(i as i64), rhr, hrv, feel)
                })
                .collect()
        })
    }

    fn arb_window() -> impl Strategy<Value = Window> {
        (0i64..2_000_000, any::<bool>(), any::<bool>()).prop_map(|(min, rhr, hrv)| {
            let model_ready = at("2026-01-01T00:00:00Z") + Duration::minutes(min);
            let first_day = localtime::day(model_ready, &berlin()) - Duration::days(2);
            let n = vector_normal();
            Window {
                first_day,
                model_ready,
                normal: Normal {
                    rhr_mean: n.rhr_mean.filter(|_| rhr),
                    rhr_sd: n.rhr_sd.filter(|_| rhr),
                    ln_rmssd_mean: n.ln_rmssd_mean.filter(|_| hrv),
                    ln_rmssd_sd: n.ln_rmssd_sd.filter(|_| hrv),
                },
            }
        })
    }

    fn window_and_days() -> impl Strategy<Value = (Window, Vec<DaySignals>)> {
        arb_window().prop_flat_map(|w| {
            let first = w.first_day;
            (Just(w), arb_days(first))
        })
    }

    proptest! {
        // No regression files beside the sources: a failure prints its case.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn a_verdict_never_moves_ready_earlier_nor_into_the_past((w, days) in window_and_days()) {
            let tz = berlin();
            let r = replay(&w, &days, &[], &tz);
            prop_assert!(r.ready >= w.model_ready);
            prop_assert!(r.ready <= latest_ready(w.model_ready, &tz));
            prop_assert!(r.moves <= 3);
            let mut moved = 0;
            for m in &r.mornings {
                prop_assert!(m.ready_after >= m.ready_before);
                if m.ready_after != m.ready_before {
                    moved += 1;
                    prop_assert_eq!(m.verdict, Verdict::NotRecovered);
                    prop_assert!(m.ready_after > localtime::morning(m.day, &tz));
                }
            }
            prop_assert_eq!(moved, r.moves);
        }

        #[test]
        fn adding_a_flag_never_makes_ready_earlier((w, days) in window_and_days(), pick in any::<prop::sample::Index>()) {
            let tz = berlin();
            let before = replay(&w, &days, &[], &tz).ready;
            let mut worse = days.clone();
            if !worse.is_empty() {
                let i = pick.index(worse.len());
                worse[i].feel = Some(1);
            }
            prop_assert!(replay(&w, &worse, &[], &tz).ready >= before);
        }

        #[test]
        fn no_signal_is_unknown(rhr in proptest::option::of(40u16..70), hrv in proptest::option::of(20.0f64..120.0)) {
            // Without a normal, the night's values are no signal; without feel, nothing is.
            let d = signals(day("2026-04-23"), rhr, hrv, None);
            prop_assert_eq!(judge(&d, &Normal::default()), (Verdict::Unknown, vec![]));
            prop_assert_eq!(judge(&empty_day(d.day), &vector_normal()).0, Verdict::Unknown);
        }
    }
}
