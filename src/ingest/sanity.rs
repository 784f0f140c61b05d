//! The last word on what a reader found: every number an [`Activity`] carries is checked here
//! before anything downstream (the effort model, the database, the views) sees it.
//!
//! A time span that no recording can have (non-finite, negative, longer than a year) refuses
//! the file: the duration is what every judgement rests on. One longer than a week is kept as
//! the file says (devices with a wrong clock write such files) but marked: a warning here, and
//! the effort model judges it implausible, so its load never counts. Figures that are only
//! decoration or have a fallback (distance, a watch's session averages, temperature) are left
//! out with a warning. Readers use [`span`] and [`offset`] for their own date arithmetic, so a hostile value
//! is an error with a reason there too, never a panic.

use chrono::{DateTime, TimeDelta, Utc};

use super::IngestError;
use crate::model::Activity;

/// Longest real activity: a week (a multi-day ultra fits; a clock error does not). Longer
/// ones are kept as the file says, marked implausible.
pub const MAX_ELAPSED_S: f64 = 7.0 * 86_400.0;
/// Longest span a file may claim at all: a year. Beyond it (1e15 s, 1998 to 2126) it is refused.
pub const MAX_SPAN_S: f64 = 366.0 * 86_400.0;
/// Highest heart rate a person reaches; above it a value is a sensor or file error.
pub const MAX_HR_BPM: f64 = 250.0;
/// Lowest heart rate taken as a reading (below it: "no reading" or a sensor error).
pub const MIN_HR_BPM: f64 = 30.0;
/// Farthest a week-long activity can go: 5,000 km (the 7-day cycling and running records are
/// below it; a watch's figure beyond it is an error).
pub const MAX_DISTANCE_M: f64 = 5_000_000.0;
/// Fastest average speed taken as real: 100 m/s (360 km/h).
pub const MAX_SPEED_M_S: f64 = 100.0;
/// Most track points read from one GPX or TCX: a week at 1 Hz with room to spare. A file with
/// more is not one activity; the cap bounds the reader's memory whatever the file holds.
pub const MAX_POINTS: usize = 1_000_000;

/// The error for a file with more than [`MAX_POINTS`] points.
#[must_use]
pub fn too_many_points(format: &str) -> IngestError {
    IngestError::damaged(format!(
        "the {format} holds more than {MAX_POINTS} track points, more than a week at 1 Hz: \
         not one real activity; refused"
    ))
}

/// A number of seconds as a time span, when it is one an activity can have.
///
/// # Errors
/// An [`IngestError`] naming the value ("duration 1e15 s is not a real activity").
pub fn span(seconds: f64, what: &str) -> Result<TimeDelta, IngestError> {
    if !seconds.is_finite() || !(0.0..=MAX_SPAN_S).contains(&seconds) {
        return Err(IngestError::damaged(format!(
            "{what} {} is not a real activity (more than a year, negative or not a number); refused",
            seconds_text(seconds)
        )));
    }
    // Within a year: the millisecond count fits an i64 with room to spare.
    Ok(TimeDelta::milliseconds((seconds * 1000.0).round() as i64))
}

/// `t + seconds`, checked: `None` when the result is not a representable date.
#[must_use]
pub fn offset(t: DateTime<Utc>, seconds: f64) -> Option<DateTime<Utc>> {
    if !seconds.is_finite() || seconds.abs() > 1e12 {
        return None;
    }
    t.checked_add_signed(TimeDelta::try_milliseconds(
        (seconds * 1000.0).round() as i64
    )?)
}

/// Seconds from `a` to `b` (negative when `b` is earlier), checked.
#[must_use]
pub fn seconds_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b.timestamp_millis() as f64 - a.timestamp_millis() as f64) / 1000.0
}

fn seconds_text(s: f64) -> String {
    if s.is_nan() {
        "NaN s".into()
    } else if s.is_infinite() {
        format!("{}infinite s", if s < 0.0 { "minus " } else { "" })
    } else if s.abs() >= 1e7 {
        format!("{s:e} s")
    } else {
        format!("{s:.0} s")
    }
}

/// A heart rate a person can have.
#[must_use]
pub fn plausible_hr(bpm: f64) -> bool {
    bpm.is_finite() && (MIN_HR_BPM..=MAX_HR_BPM).contains(&bpm)
}

/// A heart rate value read from text or a field, as a sample value: `None` when not a finite
/// positive number; values too high for a `u16` saturate (and are then far above 250, so the
/// model drops them).
#[must_use]
pub fn bpm_sample(value: f64) -> Option<u16> {
    if !value.is_finite() || value <= 0.0 {
        return None;
    }
    Some(if value >= f64::from(u16::MAX) {
        u16::MAX
    } else {
        value.round() as u16
    })
}

/// Checks and, where a figure is only decoration, cleans what a reader produced.
///
/// # Errors
/// [`IngestError`] when the activity's time span is not one an activity can have.
pub fn check(mut a: Activity) -> Result<Activity, IngestError> {
    let elapsed = span(a.elapsed_s, "duration")?;
    let wall = seconds_between(a.start, a.end);
    span(wall, "the time from start to end,")?;
    if a.start.checked_add_signed(elapsed).is_none() {
        return Err(IngestError::damaged(
            "the activity's end is past the last representable date; refused".into(),
        ));
    }
    let mut notes = Vec::new();
    if a.elapsed_s > MAX_ELAPSED_S {
        notes.push(format!(
            "the file spans {:.1} days, more than a week: its times are wrong, and its effort \
             is not counted",
            a.elapsed_s / 86_400.0
        ));
    }
    clean_moving(&mut a, &mut notes);
    clean_distance(&mut a, &mut notes);
    clean_hr(&mut a, &mut notes);
    if a.avg_temperature_c
        .is_some_and(|t| !(-60.0..=70.0).contains(&t))
    {
        notes.push(format!(
            "temperature {:?} °C is not real; left out",
            a.avg_temperature_c.unwrap_or_default()
        ));
        a.avg_temperature_c = None;
    }
    clean_legs(&mut a, &mut notes);
    clean_watch(&mut a);
    if a.utc_offset_s.is_some_and(|o| o.abs() > 14 * 3600) {
        a.utc_offset_s = None;
    }
    a.warnings.extend(notes);
    Ok(a)
}

fn clean_moving(a: &mut Activity, notes: &mut Vec<String>) {
    if let Some(m) = a.moving_s
        && (!m.is_finite() || !(0.0..=MAX_SPAN_S).contains(&m))
    {
        notes.push(format!(
            "moving time {} is not real; left out",
            seconds_text(m)
        ));
        a.moving_s = None;
    }
}

fn clean_distance(a: &mut Activity, notes: &mut Vec<String>) {
    let Some(d) = a.distance_m else { return };
    let limit = MAX_DISTANCE_M.min(a.elapsed_s.max(1.0) * MAX_SPEED_M_S);
    if !d.is_finite() || d <= 0.0 || d > limit {
        notes.push(format!(
            "distance {} m is not real for {} of activity; left out",
            if d.is_finite() {
                format!("{d:.0}")
            } else {
                format!("{d}")
            },
            seconds_text(a.elapsed_s)
        ));
        a.distance_m = None;
    }
}

/// Highest value a heart-rate field holds as recorded (FIT's and ANT+'s 8-bit field; 255 is
/// "invalid"). Larger values (1e10 in a TCX) are not readings at all.
const MAX_RECORDED_BPM: f64 = 255.0;

/// The stream keeps what the device wrote (the model drops implausible samples), but samples
/// must lie inside the recording. The maximum shown is that of the recorded samples (as
/// [`crate::model::hr_summary`] takes them) without values no heart-rate field can hold; an
/// average above 250 bpm is not a heart's and is left out.
fn clean_hr(a: &mut Activity, notes: &mut Vec<String>) {
    let before = a.hr.len();
    a.hr.retain(|s| s.t.is_finite() && (0.0..=MAX_SPAN_S).contains(&s.t));
    if a.hr.len() < before {
        notes.push(format!(
            "{} heart-rate samples lay outside the recording and were left out",
            before - a.hr.len()
        ));
    }
    let recorded = |v: f64| v.is_finite() && v > 0.0 && v <= MAX_RECORDED_BPM;
    let impossible =
        a.hr.iter()
            .filter(|s| f64::from(s.bpm) > MAX_RECORDED_BPM)
            .count();
    if impossible > 0 || [a.avg_hr, a.max_hr].iter().flatten().any(|&v| !recorded(v)) {
        if impossible > 0 {
            notes.push(format!(
                "{impossible} heart-rate samples above {MAX_RECORDED_BPM:.0} bpm are not readings; \
                 not counted"
            ));
        }
        let summary = crate::model::hr_summary(
            a.hr.iter()
                .map(|s| s.bpm)
                .filter(|&b| f64::from(b) <= MAX_RECORDED_BPM),
        );
        let (avg, max) = summary.map_or((None, None), |(avg, max)| (Some(avg), Some(max)));
        a.avg_hr = avg.or(a.avg_hr.filter(|&v| recorded(v)));
        a.max_hr = max.or(a.max_hr.filter(|&v| recorded(v)));
    }
    if let Some(avg) = a.avg_hr.filter(|&v| v > MAX_HR_BPM) {
        notes.push(format!(
            "an average heart rate of {avg:.0} bpm is not a heart's; left out"
        ));
        a.avg_hr = None;
    }
    if a.avg_hr.zip(a.max_hr).is_some_and(|(avg, max)| avg > max) {
        a.avg_hr = None;
    }
}

fn clean_legs(a: &mut Activity, notes: &mut Vec<String>) {
    let mut bad = 0usize;
    for leg in &mut a.legs {
        if !leg.elapsed_s.is_finite() || !(0.0..=MAX_SPAN_S).contains(&leg.elapsed_s) {
            leg.elapsed_s = 0.0;
            bad += 1;
        }
        if leg
            .distance_m
            .is_some_and(|d| !d.is_finite() || !(0.0..=MAX_DISTANCE_M).contains(&d))
        {
            leg.distance_m = None;
            bad += 1;
        }
    }
    if bad > 0 {
        notes.push(format!(
            "{bad} figures of the legs were not real and were left out"
        ));
    }
}

fn clean_watch(a: &mut Activity) {
    let w = &mut a.watch;
    for v in [&mut w.max_hr, &mut w.threshold_hr, &mut w.resting_hr] {
        if v.is_some_and(|b| !plausible_hr(f64::from(b))) {
            *v = None;
        }
    }
    if w.total_training_effect
        .is_some_and(|t| !t.is_finite() || !(0.0..=5.0).contains(&t))
    {
        w.total_training_effect = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_refuse_what_no_activity_has() {
        for s in [
            1e15,
            1e300,
            f64::INFINITY,
            -1e300,
            f64::NAN,
            -1.0,
            367.0 * 86_400.0,
        ] {
            let e = span(s, "duration").err();
            assert!(
                e.as_ref()
                    .is_some_and(|e| e.message.contains("not a real activity")),
                "{s}: {e:?}"
            );
        }
        assert_eq!(
            span(3600.5, "duration").ok(),
            Some(TimeDelta::milliseconds(3_600_500))
        );
        assert!(
            span(27.0 * 86_400.0, "duration").is_ok(),
            "kept, marked by `check`"
        );
        assert!(
            span(1e15, "duration")
                .err()
                .is_some_and(|e| e.message.contains("duration 1e15 s"))
        );
    }

    #[test]
    fn offsets_are_checked() {
        let t = DateTime::<Utc>::MAX_UTC;
        assert!(offset(t, 10.0).is_none());
        assert!(offset(t, f64::NAN).is_none());
        assert!(offset(DateTime::<Utc>::MIN_UTC, -1e300).is_none());
        assert!(offset(DateTime::<Utc>::UNIX_EPOCH, 1.5).is_some());
    }

    #[test]
    fn heart_rate_samples_saturate() {
        assert_eq!(bpm_sample(1e10), Some(u16::MAX));
        assert_eq!(bpm_sample(f64::NAN), None);
        assert_eq!(bpm_sample(-3.0), None);
        assert_eq!(bpm_sample(149.6), Some(150));
    }
}
