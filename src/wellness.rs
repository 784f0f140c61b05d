//! What a wellness file holds, and the night's signals computed from it (MODEL.md §7). Pure: no
//! I/O, no clock; the runner's zone enters only as per-sample offsets resolved by the caller.
//!
//! Local time is the watch's own: each sample carries the UTC offset the watch gave (FIT
//! message 103), or the runner's zone's offset at that instant where it gave none. A night
//! is judged on that clock, exactly like an activity's start.

use chrono::{NaiveDate, NaiveDateTime, Timelike as _};

use crate::model::HrvSource;

/// Heart rates outside this range (bpm) are not heart rates of a resting runner's night.
pub const HR_RANGE: std::ops::RangeInclusive<u16> = 30..=250;
/// The largest UTC offset a watch can give (seconds).
pub const MAX_OFFSET_S: i32 = 14 * 3600;
/// A night's window opens at this local hour on the day before...
pub const NIGHT_FROM_H: u32 = 20;
/// ... and closes at this local hour on the day itself.
pub const NIGHT_TO_H: u32 = 10;
/// The watch's value counts when stamped on the day at or after this local hour.
pub const WATCH_FROM_H: u32 = 4;
/// A night's samples must span this long (s) to give a resting HR.
pub const MIN_SPAN_S: i64 = 3 * 3600;
/// A sample holds until the next one, at most this long (s).
pub const MAX_HOLD_S: i64 = 600;
/// The averaging window (s) ...
pub const WINDOW_S: i64 = 1800;
/// ... counted when at least this much of it (s) is covered.
pub const MIN_COVER_S: i64 = 900;

/// The kind of wellness file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WellnessKind {
    /// FIT monitoring (`monitoring_a`, `monitoring_b`, `monitoring_daily`).
    Monitoring,
    /// FIT HRV status (type 68).
    HrvStatus,
}

/// A timed value as read: UTC seconds since 1970, the value, and the watch's offset when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamped {
    /// UTC, seconds since 1970.
    pub ts: i64,
    /// The value (bpm).
    pub value: u16,
    /// The watch's UTC offset (s) at that time, when the file gave it.
    pub utc_offset_s: Option<i32>,
}

/// A heart-rate value placed on the watch's clock (offset resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// UTC, seconds since 1970.
    pub ts: i64,
    /// Beats per minute.
    pub bpm: u16,
    /// The UTC offset (s) of the local clock the value is judged on.
    pub utc_offset_s: i32,
}

impl Point {
    /// The local date and time of this point.
    #[must_use]
    pub fn local(&self) -> Option<NaiveDateTime> {
        local_time(self.ts, self.utc_offset_s)
    }
}

/// The night's HRV as an HRV-status file gives it (raw values, ms × 128).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NightHrv {
    /// The time that names the night (UTC s): message 370's, else, in a file without
    /// `time_created`, the last message 371's.
    pub ts: Option<i64>,
    /// Message 370 field 1 `last_night_average`, raw (valid values only).
    pub last_night_average: Option<u16>,
    /// Message 371 field 0 values, raw (valid values only).
    pub values: Vec<u16>,
}

impl NightHrv {
    /// The night's RMSSD (ms) and where it came from: `last_night_average`, else the mean of
    /// the 5-min values. `None` when the file holds neither.
    #[must_use]
    pub fn rmssd(&self) -> Option<(f64, HrvSource)> {
        if let Some(v) = self.last_night_average {
            return Some((f64::from(v) / 128.0, HrvSource::HrvStatus));
        }
        if self.values.is_empty() {
            return None;
        }
        let sum: f64 = self.values.iter().map(|&v| f64::from(v)).sum();
        Some((sum / self.values.len() as f64 / 128.0, HrvSource::HrvValues))
    }
}

/// What one wellness file holds, every value range-checked by the reader.
#[derive(Debug, Clone, PartialEq)]
pub struct Wellness {
    /// Message 55 heart rates (30–250 bpm), in file order.
    pub hr: Vec<Stamped>,
    /// Message 211 field 1 `current_day_resting_heart_rate` values.
    pub watch_rhr: Vec<Stamped>,
    /// Messages 370/371 (HRV-status files).
    pub hrv: Option<NightHrv>,
    /// The watch's UTC offset (message 103), when it gave a sane one.
    pub utc_offset_s: Option<i32>,
    /// `file_id.time_created` (UTC s).
    pub time_created: Option<i64>,
    /// What was odd about the file.
    pub warnings: Vec<String>,
}

impl Wellness {
    /// True when the file holds none of the values we store.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hr.is_empty()
            && self.watch_rhr.is_empty()
            && self.hrv.as_ref().is_none_or(|h| h.rmssd().is_none())
    }
    /// True when every value is within the ranges the reader promises: heart rates 30–250 bpm,
    /// offsets within ±14 h, HRV raw values neither 0 nor 0xFFFF. For tests and fuzzing.
    #[must_use]
    pub fn is_sane(&self) -> bool {
        let offset_ok = |o: Option<i32>| o.is_none_or(|o| o.abs() <= MAX_OFFSET_S);
        let hrv_ok = |v: &u16| *v != 0 && *v != u16::MAX;
        self.hr
            .iter()
            .chain(&self.watch_rhr)
            .all(|s| HR_RANGE.contains(&s.value) && offset_ok(s.utc_offset_s))
            && offset_ok(self.utc_offset_s)
            && self.hrv.as_ref().is_none_or(|h| {
                h.last_night_average.iter().all(hrv_ok) && h.values.iter().all(hrv_ok)
            })
    }
}

/// The local date and time of UTC seconds `ts` at `offset_s`.
#[must_use]
pub fn local_time(ts: i64, offset_s: i32) -> Option<NaiveDateTime> {
    let local = ts.checked_add(i64::from(offset_s))?;
    chrono::DateTime::from_timestamp(local, 0).map(|t| t.naive_utc())
}

/// The local day whose night a heart-rate sample at `p` belongs to: its own day before
/// 10:00, the next day from 20:00, none in between.
#[must_use]
pub fn night_of(p: &Point) -> Option<NaiveDate> {
    let t = p.local()?;
    match t.hour() {
        h if h < NIGHT_TO_H => Some(t.date()),
        h if h >= NIGHT_FROM_H => t.date().succ_opt(),
        _ => None,
    }
}

/// The local day a watch value belongs to: its own.
#[must_use]
pub fn day_of(p: &Point) -> Option<NaiveDate> {
    p.local().map(|t| t.date())
}

/// UTC seconds of local midnight starting `d`, as if at UTC (offsets are added by callers).
fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
}

/// The UTC range (inclusive) that holds every sample whose local time, at any sane offset,
/// falls into the night before `d`: what to read from the store to judge that night.
#[must_use]
pub fn night_search_range(d: NaiveDate) -> (i64, i64) {
    let m = midnight(d);
    let from = m - i64::from(24 - NIGHT_FROM_H) * 3600;
    let to = m + i64::from(NIGHT_TO_H) * 3600;
    (from - i64::from(MAX_OFFSET_S), to + i64::from(MAX_OFFSET_S))
}

/// The UTC range (inclusive) that holds every value stamped on local day `d` at any sane offset.
#[must_use]
pub fn day_search_range(d: NaiveDate) -> (i64, i64) {
    let m = midnight(d);
    (
        m - i64::from(MAX_OFFSET_S),
        m + 86_400 + i64::from(MAX_OFFSET_S),
    )
}

/// The resting heart rate of the night before `d` (MODEL.md §7): the lowest time-weighted
/// 30-min mean of the samples between 20:00 local on d−1 and 10:00 local on d, when those span
/// at least 3 h. Each sample (30–250 bpm) holds until the next, at most 10 min; windows start at
/// each sample and count when at least 15 of their 30 min are covered. `points` may hold
/// samples outside the night, in any order.
#[must_use]
pub fn night_rhr(d: NaiveDate, points: &[Point]) -> Option<f64> {
    let from = d.pred_opt()?.and_hms_opt(NIGHT_FROM_H, 0, 0)?;
    let to = d.and_hms_opt(NIGHT_TO_H, 0, 0)?;
    // On the watch's clock: (local seconds, UTC seconds, bpm).
    let mut night: Vec<(i64, i64, u16)> = points
        .iter()
        .filter(|p| HR_RANGE.contains(&p.bpm))
        .filter_map(|p| {
            let t = p.local()?;
            (t >= from && t < to).then(|| (t.and_utc().timestamp(), p.ts, p.bpm))
        })
        .collect();
    night.sort_unstable_by_key(|s| s.1);
    night.dedup_by_key(|s| s.1);
    let first = night.first()?;
    let last = night.last()?;
    if last.1 - first.1 < MIN_SPAN_S {
        return None;
    }
    let night_end = to.and_utc().timestamp();
    // Each sample's hold on the UTC axis: [start, end) with its bpm.
    let holds: Vec<(i64, i64, f64)> = night
        .iter()
        .enumerate()
        .map(|(i, &(local, ts, bpm))| {
            let next = night.get(i + 1).map_or(i64::MAX, |n| n.1);
            let until_end = night_end - local; // never hold past 10:00 local
            let len = (next - ts).min(MAX_HOLD_S).min(until_end).max(0);
            (ts, ts + len, f64::from(bpm))
        })
        .collect();
    lowest_window_mean(&holds)
}

/// The lowest mean over windows of [`WINDOW_S`] starting at each hold's start, counting a window
/// when [`MIN_COVER_S`] of it is covered. Holds are sorted and disjoint. Linear: prefix sums
/// of whole holds and a pointer to the first hold that does not fit whole.
fn lowest_window_mean(holds: &[(i64, i64, f64)]) -> Option<f64> {
    let mut cover = vec![0i64; holds.len() + 1];
    let mut weighted = vec![0f64; holds.len() + 1];
    for (i, &(a, b, bpm)) in holds.iter().enumerate() {
        cover[i + 1] = cover[i] + (b - a);
        weighted[i + 1] = weighted[i] + (b - a) as f64 * bpm;
    }
    let mut best: Option<f64> = None;
    let mut k = 0usize; // first hold that does not end inside the window
    for (i, &(start, _, _)) in holds.iter().enumerate() {
        let end = start + WINDOW_S;
        k = k.max(i);
        while k < holds.len() && holds[k].1 <= end {
            k += 1;
        }
        let mut c = cover[k] - cover[i];
        let mut w = weighted[k] - weighted[i];
        if let Some(&(a, b, bpm)) = holds.get(k)
            && a < end
        {
            let part = b.min(end) - a;
            c += part;
            w += part as f64 * bpm;
        }
        if c >= MIN_COVER_S {
            let mean = w / c as f64;
            best = Some(best.map_or(mean, |b| b.min(mean)));
        }
    }
    best
}

/// The watch's resting heart rate for `d`: message 211 field 1 last stamped on day `d` at or
/// after 04:00 local. `points` may hold values of other days, in any order.
#[must_use]
pub fn watch_rhr(d: NaiveDate, points: &[Point]) -> Option<u16> {
    points
        .iter()
        .filter(|p| HR_RANGE.contains(&p.bpm))
        .filter(|p| {
            p.local()
                .is_some_and(|t| t.date() == d && t.hour() >= WATCH_FROM_H)
        })
        .max_by_key(|p| p.ts)
        .map(|p| p.bpm)
}

/// Rounds half up (53.5 → 54), as §7's `rhr` is stored.
#[must_use]
pub fn round_half_up(v: f64) -> Option<u16> {
    let r = (v + 0.5).floor();
    (r.is_finite() && (0.0..=f64::from(u16::MAX)).contains(&r)).then_some(r as u16)
}

/// The local day an HRV-status file's night belongs to: the day of message 370's timestamp,
/// else of the file's creation, on the given offset.
#[must_use]
pub fn hrv_day(w: &Wellness, utc_offset_s: i32) -> Option<NaiveDate> {
    let ts = w.hrv.as_ref().and_then(|h| h.ts).or(w.time_created)?;
    local_time(ts, utc_offset_s).map(|t| t.date())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    /// `n` samples every `step` s from local time `start_local` at offset `off`, bpm `f(i)`.
    fn samples(
        start_local: &str,
        n: usize,
        step: i64,
        off: i32,
        f: impl Fn(usize) -> u16,
    ) -> Vec<Point> {
        let t0 = NaiveDateTime::parse_from_str(start_local, "%Y-%m-%d %H:%M")
            .unwrap_or_default()
            .and_utc()
            .timestamp()
            - i64::from(off);
        (0..n)
            .map(|i| Point {
                ts: t0 + i as i64 * step,
                bpm: f(i),
                utc_offset_s: off,
            })
            .collect()
    }

    #[test]
    fn a_flat_night_gives_its_rate_and_the_lowest_half_hour_wins() {
        // 23:00 → 07:00 local every minute at 60, with 30 minutes at 50 from 03:00.
        let pts = samples("2026-04-20 23:00", 480, 60, 3600, |i| {
            if (240..270).contains(&i) { 50 } else { 60 }
        });
        let r = night_rhr(day("2026-04-21"), &pts);
        assert_eq!(r, Some(50.0));
        assert_eq!(night_rhr(day("2026-04-22"), &pts), None, "another night");
    }

    #[test]
    fn a_short_night_gives_nothing() {
        let pts = samples("2026-04-21 01:00", 170, 60, 0, |_| 50);
        assert_eq!(night_rhr(day("2026-04-21"), &pts), None, "2 h 49 min < 3 h");
        let pts = samples("2026-04-21 01:00", 181, 60, 0, |_| 50);
        assert_eq!(night_rhr(day("2026-04-21"), &pts), Some(50.0));
    }

    #[test]
    fn samples_hold_at_most_ten_minutes_and_windows_need_fifteen_covered() {
        // Every 20 min: each holds 10 min, so a 30-min window covers 10 or 20 min.
        let pts = samples("2026-04-21 00:00", 12, 1200, 0, |i| {
            if i == 5 { 40 } else { 60 }
        });
        // Window from sample 5 (40 bpm): covers 10 (at 40) + 10 (at 60) = 20 min ≥ 15 → mean 50.
        assert_eq!(night_rhr(day("2026-04-21"), &pts), Some(50.0));
        // Every 30 min: each window covers only 10 min → none counts.
        let pts = samples("2026-04-21 00:00", 12, 1800, 0, |_| 50);
        assert_eq!(night_rhr(day("2026-04-21"), &pts), None);
    }

    #[test]
    fn the_night_is_judged_on_the_watch_clock() {
        // 21:00–01:00 local at +2 h is 19:00–23:00 UTC: the night before the 21st.
        let pts = samples("2026-04-20 21:00", 240, 60, 7200, |_| 55);
        assert_eq!(night_rhr(day("2026-04-21"), &pts), Some(55.0));
        let p = pts[0];
        assert_eq!(night_of(&p), Some(day("2026-04-21")));
        let noon = samples("2026-04-21 12:00", 1, 60, 7200, |_| 55);
        assert_eq!(night_of(&noon[0]), None);
        let morning = samples("2026-04-21 09:59", 1, 60, 7200, |_| 55);
        assert_eq!(night_of(&morning[0]), Some(day("2026-04-21")));
    }

    #[test]
    fn out_of_range_samples_are_ignored_and_the_window_is_time_weighted() {
        let mut pts = samples("2026-04-21 00:00", 300, 60, 0, |_| 60);
        pts.extend(samples("2026-04-21 02:00", 1, 60, 0, |_| 20)); // below 30: dropped
        assert_eq!(night_rhr(day("2026-04-21"), &pts), Some(60.0));
        // 5 min at 40 then 25 min at 70 (one sample every 5 min): 10 min holds, time-weighted.
        let pts = samples("2026-04-21 00:00", 60, 300, 0, |i| {
            if i == 10 { 40 } else { 70 }
        });
        let r = night_rhr(day("2026-04-21"), &pts).unwrap_or_default();
        assert!((r - 65.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn the_watch_value_is_the_last_stamped_after_four() {
        let mut pts = samples("2026-04-21 01:00", 1, 60, 3600, |_| 90);
        pts.extend(samples("2026-04-21 05:00", 1, 60, 3600, |_| 52));
        pts.extend(samples("2026-04-21 23:00", 1, 60, 3600, |_| 50));
        pts.extend(samples("2026-04-22 00:30", 1, 60, 3600, |_| 70));
        assert_eq!(watch_rhr(day("2026-04-21"), &pts), Some(50));
        assert_eq!(
            watch_rhr(day("2026-04-22"), &pts),
            None,
            "00:30 is before 04:00"
        );
        assert_eq!(day_of(&pts[3]), Some(day("2026-04-22")));
    }

    #[test]
    fn rounding_is_half_up() {
        assert_eq!(round_half_up(53.5), Some(54));
        assert_eq!(round_half_up(53.49), Some(53));
        assert_eq!(round_half_up(f64::NAN), None);
    }

    #[test]
    fn hrv_prefers_the_night_average_and_scales_by_128() {
        let mut h = NightHrv {
            ts: None,
            last_night_average: Some(44 * 128),
            values: vec![40 * 128, 50 * 128],
        };
        assert_eq!(h.rmssd(), Some((44.0, HrvSource::HrvStatus)));
        h.last_night_average = None;
        assert_eq!(h.rmssd(), Some((45.0, HrvSource::HrvValues)));
        h.values.clear();
        assert_eq!(h.rmssd(), None);
    }

    #[test]
    fn search_ranges_hold_the_night_at_any_offset() {
        let d = day("2026-04-21");
        let (a, b) = night_search_range(d);
        for off in [-MAX_OFFSET_S, 0, MAX_OFFSET_S] {
            for p in samples("2026-04-20 20:00", 841, 60, off, |_| 50) {
                assert!(p.ts >= a && p.ts <= b);
            }
        }
        let (a, b) = day_search_range(d);
        assert!(a < b);
    }
}
