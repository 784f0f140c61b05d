//! How hard was it: the effort and recovery model of `shared/science/MODEL.md`, as pure functions.
//!
//! Owns: resolving the athlete's physiology (with the source of each value), heart-rate cleaning
//! and integration (Banister TRIMP, HRSS, Edwards), the best-20-minute intensity ratio, the effort
//! class, the recovery window, and fitness / fatigue / form (ATL, CTL, TSB).
//! Must not touch: files, the database, the clock (`now` and history are arguments), logging.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::model::{Activity, HrSample, WatchFigures};

/// Version of this model; stored with every result so a change can trigger a recompute.
pub const MODEL_VERSION: u32 = 2;

/// Samples outside this range are not heart beats.
const HR_MIN: u16 = 30;
const HR_MAX: u16 = 250;
/// Longest time one sample may stand for, in seconds.
const MAX_DT_S: f64 = 10.0;
/// The intensity window, seconds.
const BEST_WINDOW_S: f64 = 20.0 * 60.0;
/// A stream must cover this share of moving time to be used as a stream.
const STREAM_COVERAGE: f64 = 0.6;
/// Above this TRIMP per hour the heart-rate data cannot be right (Runalyze's bound).
const IMPLAUSIBLE_TRIMP_PER_H: f64 = 400.0;
/// The longest recovery window we give (Garmin/Firstbeat's cap).
pub const MAX_RECOVERY_H: u32 = 96;

pub use crate::model::{AthleteSettings, Sex};

/// Where a physiology value came from.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Source {
    /// `[athlete]` in the config.
    Config,
    /// The watch's own setting in the file.
    Device,
    /// The highest 10-s mean seen across stored activities.
    Observed,
    /// A published formula (Tanaka, Karvonen 85 %).
    Formula,
    /// The model's default.
    Default,
}

impl Source {
    /// The lowercase name used in JSON and the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A value with where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sourced {
    /// The value, bpm.
    pub value: f64,
    /// Its source.
    pub source: Source,
}

/// The athlete's physiology as used for one activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Athlete {
    /// Maximum heart rate.
    pub max_hr: Sourced,
    /// Resting heart rate.
    pub resting_hr: Sourced,
    /// Lactate-threshold heart rate.
    pub threshold_hr: Sourced,
    /// Sex (Banister's b).
    pub sex: Sex,
    /// Body mass, kg, if known.
    pub weight_kg: Option<f64>,
    /// For an observed max HR: the two activities whose peaks confirmed it.
    #[serde(default)]
    pub max_hr_confirmed_by: Vec<Peak>,
    /// The highest peak of the last 365 days when it is above the max HR used and only one
    /// activity reached it (unconfirmed), bpm.
    #[serde(default)]
    pub unconfirmed_peak: Option<f64>,
    /// The highest peak of the last 365 days above the ceiling (an artefact, ignored), bpm.
    #[serde(default)]
    pub ignored_peak: Option<f64>,
}

/// One activity's highest 10-s rolling mean heart rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    /// The stored activity; `None` for the activity being judged before it has an id.
    pub id: Option<i64>,
    /// Its start.
    pub start: DateTime<Utc>,
    /// The peak, bpm.
    pub bpm: f64,
}

/// What the peaks of the last 365 days say about max HR (MODEL.md §1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeakCheck {
    /// The confirmed peak (the second-highest below the ceiling) and the two that reached it.
    pub observed: Option<(f64, [Peak; 2])>,
    /// The highest peak below the ceiling when only one activity reached it.
    pub unconfirmed: Option<f64>,
    /// The highest peak above the ceiling.
    pub ignored: Option<f64>,
}

/// Days of history a peak counts for.
const PEAK_WINDOW_DAYS: i64 = 365;

/// The ceiling above which a peak is an artefact: Tanaka + 25 with a birth year, else 220.
#[must_use]
pub fn peak_ceiling(birth_year: Option<i32>, year: i32) -> f64 {
    tanaka(birth_year, year).map_or(220.0, |t| t + 25.0)
}

fn tanaka(birth_year: Option<i32>, year: i32) -> Option<f64> {
    birth_year
        .filter(|&y| y > 1900 && y < year)
        .map(|y| 208.0 - 0.7 * f64::from(year - y))
}

/// §1's confirmed peak for an activity starting at `start`: among the peaks of activities that
/// started in the 365 days up to and including it (`peaks` may hold others; they are left out),
/// the second-highest at or below the ceiling. A later activity never counts.
#[must_use]
pub fn confirmed_peak(peaks: &[Peak], start: DateTime<Utc>, ceiling: f64) -> PeakCheck {
    let from = start - Duration::days(PEAK_WINDOW_DAYS);
    let mut window: Vec<Peak> = peaks
        .iter()
        .filter(|p| p.start >= from && p.start <= start && p.bpm.is_finite())
        .copied()
        .collect();
    let ignored = window
        .iter()
        .filter(|p| p.bpm > ceiling)
        .map(|p| p.bpm)
        .fold(None, |m: Option<f64>, b| Some(m.map_or(b, |m| m.max(b))));
    window.retain(|p| p.bpm <= ceiling);
    // Highest first; among equal peaks the earliest (the order never depends on reading order).
    window.sort_by(|a, b| b.bpm.total_cmp(&a.bpm).then(a.start.cmp(&b.start)));
    let observed = match window.as_slice() {
        [a, b, ..] => Some((b.bpm, [*a, *b])),
        _ => None,
    };
    let unconfirmed = match window.as_slice() {
        [a, b, ..] if a.bpm > b.bpm => Some(a.bpm),
        [a] => Some(a.bpm),
        _ => None,
    };
    PeakCheck {
        observed,
        unconfirmed,
        ignored,
    }
}

/// Max HR in §1's order, with the two activities that confirmed an observed value.
fn resolve_max_hr(
    cfg: &AthleteSettings,
    watch: &WatchFigures,
    peaks: &PeakCheck,
    year: i32,
) -> (Sourced, Vec<Peak>) {
    let fallback = tanaka(cfg.birth_year, year).map_or(
        Sourced {
            value: 190.0,
            source: Source::Default,
        },
        |t| Sourced {
            value: t,
            source: Source::Formula,
        },
    );
    if let Some(v) = cfg.max_hr {
        let value = f64::from(v);
        return (
            Sourced {
                value,
                source: Source::Config,
            },
            vec![],
        );
    }
    if let Some(v) = watch.max_hr.filter(|v| (100..=250).contains(v)) {
        let value = f64::from(v);
        return (
            Sourced {
                value,
                source: Source::Device,
            },
            vec![],
        );
    }
    // A confirmed peak only proves a lower bound: it can raise the estimate, never lower it.
    match peaks.observed {
        Some((o, by)) if o.round() > fallback.value => (
            Sourced {
                value: o.round(),
                source: Source::Observed,
            },
            by.to_vec(),
        ),
        _ => (fallback, vec![]),
    }
}

/// Resolves the athlete's physiology for an activity, in MODEL.md §1's order.
///
/// `peaks` is what the stored history says about observed heart rates (see [`confirmed_peak`]);
/// `year` is the activity's year (for the age in Tanaka's formula).
#[must_use]
pub fn resolve_athlete(
    cfg: &AthleteSettings,
    watch: &WatchFigures,
    peaks: &PeakCheck,
    year: i32,
) -> Athlete {
    let (max_hr, confirmed_by) = resolve_max_hr(cfg, watch, peaks, year);
    // Peaks that were not used are worth a word only when max HR is not the runner's or the
    // watch's own setting.
    let estimated = !matches!(max_hr.source, Source::Config | Source::Device);
    let resting_hr = if let Some(v) = cfg.resting_hr {
        Sourced {
            value: f64::from(v),
            source: Source::Config,
        }
    } else if let Some(v) = watch.resting_hr.filter(|&v| (25..=120).contains(&v)) {
        Sourced {
            value: f64::from(v),
            source: Source::Device,
        }
    } else {
        Sourced {
            value: 60.0,
            source: Source::Default,
        }
    };
    // Keep the reserve positive whatever a device wrote.
    let resting_hr = if resting_hr.value + 20.0 > max_hr.value {
        Sourced {
            value: (max_hr.value - 20.0).max(25.0),
            source: Source::Default,
        }
    } else {
        resting_hr
    };
    let karvonen = Sourced {
        value: resting_hr.value + 0.85 * (max_hr.value - resting_hr.value),
        source: Source::Formula,
    };
    let threshold_hr = if let Some(v) = cfg.threshold_hr {
        Sourced {
            value: f64::from(v),
            source: Source::Config,
        }
    } else if let Some(v) = watch
        .threshold_hr
        .filter(|&v| f64::from(v) > resting_hr.value && f64::from(v) <= max_hr.value)
    {
        Sourced {
            value: f64::from(v),
            source: Source::Device,
        }
    } else {
        karvonen
    };
    Athlete {
        max_hr,
        resting_hr,
        threshold_hr,
        sex: cfg.sex,
        weight_kg: cfg.weight_kg,
        max_hr_confirmed_by: confirmed_by,
        unconfirmed_peak: peaks
            .unconfirmed
            .filter(|p| estimated && p.round() > max_hr.value),
        ignored_peak: peaks
            .ignored
            .filter(|p| estimated && p.round() > max_hr.value),
    }
}

/// Which heart-rate data the load came from.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum HrSource {
    /// A stream covering ≥ 60 % of moving time.
    Stream,
    /// Only an average: `duration · x̄` in place of the sum (under-estimates intervals).
    Average,
    /// No heart rate: the class comes from moving time alone.
    None,
}

impl HrSource {
    /// The lowercase name used in JSON and the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The effort classes, in rising order.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EffortClass {
    /// HRSS < 25
    Easy,
    /// 25–50
    Moderate,
    /// 50–100
    Hard,
    /// 100–200
    VeryHard,
    /// ≥ 200
    Max,
}

impl EffortClass {
    /// Every class, easy to max.
    pub const ALL: [Self; 5] = [
        Self::Easy,
        Self::Moderate,
        Self::Hard,
        Self::VeryHard,
        Self::Max,
    ];

    /// The lower edges of the intensity classes above easy, as fractions of threshold HR
    /// (§3; the zones of §8): moderate, hard, very hard, max.
    pub const RATIO_EDGES: [f64; 4] = [0.90, 0.95, 1.00, 1.03];

    /// The snake_case name used in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Words for people ("very hard").
    #[must_use]
    pub const fn words(self) -> &'static str {
        match self {
            Self::Easy => "easy",
            Self::Moderate => "moderate",
            Self::Hard => "hard",
            Self::VeryHard => "very hard",
            Self::Max => "max",
        }
    }

    /// Parses [`EffortClass::as_str`].
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    /// Load class from HRSS (lower edges inclusive).
    #[must_use]
    pub fn from_hrss(hrss: f64) -> Self {
        match hrss {
            h if h >= 200.0 => Self::Max,
            h if h >= 100.0 => Self::VeryHard,
            h if h >= 50.0 => Self::Hard,
            h if h >= 25.0 => Self::Moderate,
            _ => Self::Easy,
        }
    }

    /// Intensity class from r = best 20-min mean HR / LTHR.
    #[must_use]
    pub fn from_ratio(r: f64) -> Self {
        match r {
            r if r >= 1.03 => Self::Max,
            r if r >= 1.00 => Self::VeryHard,
            r if r >= 0.95 => Self::Hard,
            r if r >= 0.90 => Self::Moderate,
            _ => Self::Easy,
        }
    }

    /// Class from moving time alone, when there is no heart rate.
    #[must_use]
    pub fn from_moving_s(s: f64) -> Self {
        match s / 60.0 {
            m if m >= 150.0 => Self::VeryHard,
            m if m >= 90.0 => Self::Hard,
            m if m >= 45.0 => Self::Moderate,
            _ => Self::Easy,
        }
    }

    /// The recovery floor in hours.
    #[must_use]
    pub const fn floor_hours(self) -> u32 {
        match self {
            Self::Hard => 24,
            Self::VeryHard => 48,
            Self::Max => 60,
            Self::Easy | Self::Moderate => 0,
        }
    }
}

/// The judgement of one activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Effort {
    /// Which heart-rate data the load came from.
    pub hr_source: HrSource,
    /// Banister TRIMP.
    pub trimp: Option<f64>,
    /// HRSS: TRIMP normalised so that one hour at threshold = 100.
    pub hrss: Option<f64>,
    /// Edwards' zone TRIMP.
    pub edwards: Option<f64>,
    /// Best 20-min time-weighted mean HR / LTHR.
    pub intensity_ratio: Option<f64>,
    /// The effort class.
    pub class: EffortClass,
    /// The heart-rate data failed the plausibility guard (TRIMP/h > 400); class from moving time.
    pub implausible: bool,
}

impl Effort {
    /// The training load this activity adds to the history (MODEL.md §5): HRSS, unless the
    /// heart-rate data failed the plausibility guard; `None` without heart rate.
    #[must_use]
    pub fn load(&self) -> Option<f64> {
        self.hrss.filter(|_| !self.implausible)
    }
}

/// A cleaned stream: (t, bpm) of plausible samples in time order.
fn clean(hr: &[HrSample]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(hr.len());
    for s in hr {
        if !(HR_MIN..=HR_MAX).contains(&s.bpm) || !s.t.is_finite() {
            continue;
        }
        if out.last().is_some_and(|&(t, _)| s.t < t) {
            continue;
        }
        out.push((s.t, f64::from(s.bpm)));
    }
    out
}

/// Fraction of heart-rate reserve, clamped to [0, 1].
fn reserve(hr: f64, a: &Athlete) -> f64 {
    let span = a.max_hr.value - a.resting_hr.value;
    if span <= 0.0 {
        return 0.0;
    }
    ((hr - a.resting_hr.value) / span).clamp(0.0, 1.0)
}

/// Banister weight of one minute at reserve fraction x (male a = 0.64; a cancels in HRSS).
fn banister(x: f64, b: f64) -> f64 {
    x * 0.64 * (b * x).exp()
}

/// TRIMP of one hour at threshold: HRSS's unit.
fn trimp_hour_at_threshold(a: &Athlete) -> f64 {
    60.0 * banister(reserve(a.threshold_hr.value, a), a.sex.b())
}

/// HRSS from TRIMP.
#[must_use]
pub fn hrss_from_trimp(trimp: f64, a: &Athlete) -> f64 {
    let unit = trimp_hour_at_threshold(a);
    if unit > 0.0 && trimp.is_finite() {
        (100.0 * trimp / unit).max(0.0)
    } else {
        0.0
    }
}

/// Stream integration: (TRIMP, Edwards, covered seconds).
fn integrate(stream: &[(f64, f64)], a: &Athlete) -> (f64, f64, f64) {
    let b = a.sex.b();
    let (mut trimp, mut edwards, mut covered) = (0.0, 0.0, 0.0);
    for w in stream.windows(2) {
        let dt = (w[1].0 - w[0].0).clamp(0.0, MAX_DT_S);
        let hr = w[1].1;
        trimp += dt / 60.0 * banister(reserve(hr, a), b);
        let pct = hr / a.max_hr.value;
        let weight = match pct {
            p if p >= 0.9 => 5.0,
            p if p >= 0.8 => 4.0,
            p if p >= 0.7 => 3.0,
            p if p >= 0.6 => 2.0,
            p if p >= 0.5 => 1.0,
            _ => 0.0,
        };
        edwards += dt / 60.0 * weight;
        covered += dt;
    }
    (trimp, edwards, covered)
}

/// Best time-weighted mean heart rate over any window of `window_s` seconds that the stream
/// covers. Each sample holds until the next one, for at most 10 s. Windows must be at least half
/// covered by samples. `None` when the stream spans less than the window.
#[must_use]
pub fn best_window_mean(hr: &[HrSample], window_s: f64) -> Option<f64> {
    best_mean(&clean(hr), window_s)
}

/// A cleaned stream as piecewise-constant segments `[start, end)` at a heart rate: each sample
/// holds until the next, for at most 10 s; the last holds as long as the one before it did.
fn segments(stream: &[(f64, f64)]) -> Vec<(f64, f64, f64)> {
    let mut segs: Vec<(f64, f64, f64)> = stream
        .windows(2)
        .map(|w| (w[0].0, w[0].0 + (w[1].0 - w[0].0).min(MAX_DT_S), w[0].1))
        .filter(|s| s.1 > s.0)
        .collect();
    if let (Some(prev), Some(&(t, hr))) = (segs.last().copied(), stream.last()) {
        segs.push((t, t + (prev.1 - prev.0), hr));
    }
    segs
}

/// The stream as the model weighs it (MODEL.md §3, §8): plausible samples as segments
/// `(start, end, bpm)`, each holding until the next sample for at most 10 s. Gaps stay gaps.
#[must_use]
pub fn held_segments(hr: &[HrSample]) -> Vec<(f64, f64, f64)> {
    segments(&clean(hr))
}

/// Seconds in each heart-rate zone (MODEL.md §8: the §3 intensity bands on the fraction of
/// threshold HR), easy to max, with the same sample weights as the best 20-min mean.
#[must_use]
pub fn time_in_zones(hr: &[HrSample], threshold_hr: f64) -> [(EffortClass, f64); 5] {
    let mut out = EffortClass::ALL.map(|c| (c, 0.0));
    if threshold_hr <= 0.0 || !threshold_hr.is_finite() {
        return out;
    }
    for (t0, t1, bpm) in held_segments(hr) {
        let zone = EffortClass::from_ratio(bpm / threshold_hr);
        if let Some(slot) = out.iter_mut().find(|(c, _)| *c == zone) {
            slot.1 += t1 - t0;
        }
    }
    out
}

/// The best 20-min window of a stream (§3): `(start_s, mean_bpm)`, or `None` when the stream
/// spans less than 20 min.
#[must_use]
pub fn best_20min(hr: &[HrSample]) -> Option<(f64, f64)> {
    best_window(&clean(hr), BEST_WINDOW_S)
}

/// The length of the §3 window, in seconds.
pub const BEST_WINDOW: f64 = BEST_WINDOW_S;

fn best_mean(stream: &[(f64, f64)], window_s: f64) -> Option<f64> {
    best_window(stream, window_s).map(|(_, mean)| mean)
}

/// The best window as `(start, mean)`.
fn best_window(stream: &[(f64, f64)], window_s: f64) -> Option<(f64, f64)> {
    let segs = segments(stream);
    let (first, last) = (segs.first()?, segs.last()?);
    if last.1 - first.0 < window_s - 1e-9 {
        return None;
    }
    // Prefix sums of covered time and HR·time at segment ends.
    let mut cum_t = Vec::with_capacity(segs.len() + 1);
    let mut cum_h = Vec::with_capacity(segs.len() + 1);
    cum_t.push(0.0);
    cum_h.push(0.0);
    for s in &segs {
        let d = s.1 - s.0;
        cum_t.push(cum_t.last().copied().unwrap_or(0.0) + d);
        cum_h.push(cum_h.last().copied().unwrap_or(0.0) + d * s.2);
    }
    // Integral of (covered, HR·covered) over (-inf, x], given i = the number of segments that
    // start before x.
    let upto = |i: usize, x: f64| -> (f64, f64) {
        if i == 0 {
            return (0.0, 0.0);
        }
        let s = segs[i - 1];
        let cut = (s.1 - x).max(0.0);
        (cum_t[i] - cut, cum_h[i] - cut * s.2)
    };
    // Candidate window starts: every segment start and every segment end minus the window.
    // Both lists ascend, so one merged sweep with two forward-only cursors visits them all.
    let mut best: Option<(f64, f64)> = None;
    let (mut i, mut j) = (0usize, 0usize);
    let (mut p0, mut p1) = (0usize, 0usize);
    while i < segs.len() || j < segs.len() {
        let from_start = segs.get(i).map(|s| s.0);
        let from_end = segs.get(j).map(|s| s.1 - window_s);
        let a = match (from_start, from_end) {
            (Some(x), Some(y)) if x <= y => {
                i += 1;
                x
            }
            (Some(x), None) => {
                i += 1;
                x
            }
            (_, Some(y)) => {
                j += 1;
                y
            }
            (None, None) => break,
        };
        if a < first.0 - 1e-9 || a + window_s > last.1 + 1e-9 {
            continue;
        }
        let b = a + window_s;
        while p0 < segs.len() && segs[p0].0 < a {
            p0 += 1;
        }
        if p1 < p0 {
            p1 = p0;
        }
        while p1 < segs.len() && segs[p1].0 < b {
            p1 += 1;
        }
        let (t0, h0) = upto(p0, a);
        let (t1, h1) = upto(p1, b);
        let covered = t1 - t0;
        if covered < window_s * 0.5 {
            continue;
        }
        let mean = (h1 - h0) / covered;
        if best.is_none_or(|(_, b)| mean > b) {
            best = Some((a, mean));
        }
    }
    best
}

/// The highest 10-s rolling mean of an activity's stream (for the observed max HR).
#[must_use]
pub fn peak_10s(hr: &[HrSample]) -> Option<f64> {
    best_window_mean(hr, 10.0)
}

/// The plausibility guard: TRIMP per hour above 400 cannot come from a real heart.
#[must_use]
pub fn implausible(trimp: f64, moving_s: f64) -> bool {
    !trimp.is_finite() || (moving_s > 0.0 && trimp / (moving_s / 3600.0) > IMPLAUSIBLE_TRIMP_PER_H)
}

/// Judges one activity's effort.
#[must_use]
pub fn assess(activity: &Activity, athlete: &Athlete) -> Effort {
    let moving_s = activity.duration_s().max(0.0);
    let stream = clean(&activity.hr);
    let (trimp_s, edwards_s, covered) = integrate(&stream, athlete);
    let (hr_source, trimp, edwards) = if moving_s > 0.0 && covered >= STREAM_COVERAGE * moving_s {
        (HrSource::Stream, Some(trimp_s), Some(edwards_s))
    } else if let Some(avg) = activity
        .avg_hr
        .filter(|h| (f64::from(HR_MIN)..=f64::from(HR_MAX)).contains(h))
    {
        let minutes = moving_s / 60.0;
        let trimp = minutes * banister(reserve(avg, athlete), athlete.sex.b());
        (HrSource::Average, Some(trimp), None)
    } else {
        (HrSource::None, None, None)
    };
    let hrss = trimp.map(|t| hrss_from_trimp(t, athlete));
    // A file spanning more than a week has wrong times (ingest keeps it, with a warning).
    let implausible = trimp.is_some_and(|t| implausible(t, moving_s))
        || activity.elapsed_s > crate::ingest::sanity::MAX_ELAPSED_S;
    let intensity_ratio = if hr_source == HrSource::Stream && moving_s >= BEST_WINDOW_S {
        best_mean(&stream, BEST_WINDOW_S).map(|m| m / athlete.threshold_hr.value)
    } else {
        None
    };
    let class = match hrss {
        Some(h) if !implausible => {
            let load = EffortClass::from_hrss(h);
            intensity_ratio.map_or(load, |r| load.max(EffortClass::from_ratio(r)))
        }
        _ => EffortClass::from_moving_s(moving_s),
    };
    Effort {
        hr_source,
        trimp,
        hrss,
        edwards,
        intensity_ratio,
        class,
        implausible,
    }
}

/// A long-race rule that applies (MODEL.md §4): only ever to a race.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LongRace {
    /// A running race of ≥ 150 min or ≥ 30 km: soreness ~3 days, easy running from 48 h, no
    /// hard session or race for 7 days.
    Marathon,
    /// A running race of ≥ 75 min at class ≥ very hard: 3 days easy-only (extrapolated from
    /// marathon data).
    HalfMarathon,
}

impl LongRace {
    /// Days of easy-only running after the finish.
    #[must_use]
    pub const fn easy_only_days(self) -> i64 {
        match self {
            Self::Marathon => 7,
            Self::HalfMarathon => 3,
        }
    }
}

/// When the athlete is ready again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// Hours from the end until ready for the next hard session.
    pub hours: u32,
    /// End + hours: the model's window.
    pub ready_at: DateTime<Utc>,
    /// End of the long-race easy-only window.
    pub easy_only_until: Option<DateTime<Utc>>,
    /// The long-race rule that applied.
    pub long_race: Option<LongRace>,
    /// Hours added because training load is high (§5), with TSB before and after.
    pub extension: Option<Extension>,
    /// The one "ready" (§4): the later of `ready_at` and the race rule's end, out of the night.
    /// Every view shows this.
    #[serde(default)]
    pub ready: DateTime<Utc>,
    /// Easy running from, where it is earlier than `ready` (long races), out of the night.
    #[serde(default)]
    pub easy_from: Option<DateTime<Utc>>,
    /// `ready` was moved out of the night to 06:00 local.
    #[serde(default)]
    pub moved_from_night: bool,
    /// What the morning check did to `ready` (MODEL.md §7): set when read from the store,
    /// never by the model, whose `ready` it keeps as `model_ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub morning: Option<crate::morning::Shift>,
}

/// A history-based lengthening of the recovery window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extension {
    /// Hours added.
    pub hours: u32,
    /// Form (TSB) after the activity.
    pub tsb: f64,
    /// Rest days that bring TSB back to −10.
    pub rest_days: u32,
}

/// `round(min(96, max(floor, 0.24 · HRSS)))`, half up; the class floor without heart rate.
#[must_use]
pub fn recovery_hours(effort: &Effort) -> u32 {
    let floor = f64::from(effort.class.floor_hours());
    let h = match effort.load() {
        Some(h) => (0.24 * h).max(floor).min(f64::from(MAX_RECOVERY_H)),
        _ => floor,
    };
    // Round half up; tiny float noise below .5 must not flip it.
    (h + 0.5 + 1e-9).floor() as u32
}

/// The long-race rule for a race, if any (never for a training run: marathoners run long weekly).
#[must_use]
pub fn long_race(activity: &Activity, effort: &Effort, is_race: bool) -> Option<LongRace> {
    if !is_race || activity.sport != "running" {
        return None;
    }
    let minutes = activity.duration_s() / 60.0;
    let km = activity.distance_m.unwrap_or(0.0) / 1000.0;
    if minutes >= 150.0 || km >= 30.0 {
        Some(LongRace::Marathon)
    } else if effort.class >= EffortClass::VeryHard && minutes >= 75.0 {
        Some(LongRace::HalfMarathon)
    } else {
        None
    }
}

/// Hours after the finish from which easy running is fine under a long-race rule.
const MARATHON_EASY_FROM_H: i64 = 48;

/// The recovery window, with the history extension when one applies, and the one `ready` in
/// the runner's zone.
#[must_use]
pub fn recovery(
    activity: &Activity,
    effort: &Effort,
    load: Option<&Pmc>,
    is_race: bool,
    tz: &TimeZone,
) -> Recovery {
    let base = recovery_hours(effort);
    let extension = if effort.class >= EffortClass::Hard {
        load.and_then(|pmc| extension(pmc, base))
    } else {
        None
    };
    let hours = extension.as_ref().map_or(base, |e| base + e.hours);
    let long_race = long_race(activity, effort, is_race);
    let ready_at = activity.end + Duration::hours(i64::from(hours));
    let easy_only_until = long_race.map(|l| activity.end + Duration::days(l.easy_only_days()));
    let latest = easy_only_until.map_or(ready_at, |u| u.max(ready_at));
    let ready = crate::localtime::out_of_the_night(latest, tz);
    let easy = match long_race {
        Some(LongRace::Marathon) => Some(activity.end + Duration::hours(MARATHON_EASY_FROM_H)),
        Some(LongRace::HalfMarathon) => Some(ready_at),
        None => None,
    };
    let easy_from = easy
        .map(|t| crate::localtime::out_of_the_night(t, tz))
        .filter(|t| *t < ready);
    Recovery {
        hours,
        ready_at,
        easy_only_until,
        long_race,
        extension,
        ready,
        easy_from,
        moved_from_night: ready != latest,
        morning: None,
    }
}

/// Fitness (CTL), fatigue (ATL) and form (TSB) on one day.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pmc {
    /// Acute training load (7-day).
    pub atl: f64,
    /// Chronic training load (42-day).
    pub ctl: f64,
    /// Days of history before the day (from the first day with load).
    pub history_days: i64,
}

impl Pmc {
    /// Form: CTL − ATL.
    #[must_use]
    pub fn tsb(&self) -> f64 {
        self.ctl - self.atl
    }

    /// One day: `X_d = X_{d−1} + (1 − e^(−1/N))·(load − X_{d−1})`.
    #[must_use]
    pub fn step(self, load: f64) -> Self {
        let la = 1.0 - (-1.0_f64 / 7.0).exp();
        let lc = 1.0 - (-1.0_f64 / 42.0).exp();
        Self {
            atl: self.atl + la * (load - self.atl),
            ctl: self.ctl + lc * (load - self.ctl),
            history_days: self.history_days + 1,
        }
    }
}

/// ATL/CTL at the end of `day` from daily loads (HRSS summed per local day), starting at zero on
/// the first day with load. `None` when there is no load on or before `day`.
#[must_use]
pub fn pmc_on(daily: &[(NaiveDate, f64)], day: NaiveDate) -> Option<Pmc> {
    let mut sorted: Vec<(NaiveDate, f64)> =
        daily.iter().copied().filter(|(d, _)| *d <= day).collect();
    sorted.sort_by_key(|(d, _)| *d);
    let first = sorted.first()?.0;
    let mut pmc = Pmc {
        atl: 0.0,
        ctl: 0.0,
        history_days: 0,
    };
    let mut i = 0;
    let mut d = first;
    while d <= day {
        let mut load = 0.0;
        while i < sorted.len() && sorted[i].0 == d {
            load += sorted[i].1;
            i += 1;
        }
        pmc = pmc.step(load);
        let Some(next) = d.succ_opt() else { break };
        d = next;
    }
    pmc.history_days = (day - first).num_days();
    Some(pmc)
}

/// Fitness, fatigue and form at the end of each day from `from` to `to` (inclusive), from daily
/// loads starting at zero on the first day with load; days before it have no value.
#[must_use]
pub fn pmc_series(
    daily: &[(NaiveDate, f64)],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<(NaiveDate, Option<Pmc>)> {
    let mut sorted: Vec<(NaiveDate, f64)> =
        daily.iter().copied().filter(|(d, _)| *d <= to).collect();
    sorted.sort_by_key(|(d, _)| *d);
    let mut out = Vec::new();
    let mut pmc: Option<Pmc> = None;
    let mut i = 0;
    let mut d = sorted.first().map_or(from, |f| f.0.min(from));
    while d <= to {
        let mut load = 0.0;
        let mut any = false;
        while i < sorted.len() && sorted[i].0 == d {
            load += sorted[i].1;
            any = true;
            i += 1;
        }
        if pmc.is_some() || any {
            let p = pmc.unwrap_or(Pmc {
                atl: 0.0,
                ctl: 0.0,
                history_days: 0,
            });
            pmc = Some(p.step(load));
        }
        if d >= from {
            out.push((d, pmc));
        }
        let Some(next) = d.succ_opt() else { break };
        d = next;
    }
    out
}

/// §5: with ≥ 42 days of history and TSB below −30 after a hard effort, add the rest days that
/// bring TSB back to −10, capped at 96 h in total.
#[must_use]
pub fn extension(pmc: &Pmc, base_hours: u32) -> Option<Extension> {
    if pmc.history_days < 42 || pmc.tsb() >= -30.0 || base_hours >= MAX_RECOVERY_H {
        return None;
    }
    let mut p = *pmc;
    let mut days = 0u32;
    while p.tsb() < -10.0 && days < 30 {
        p = p.step(0.0);
        days += 1;
    }
    let hours = (days * 24).min(MAX_RECOVERY_H - base_hours);
    (hours > 0).then(|| Extension {
        hours,
        tsb: pmc.tsb(),
        rest_days: days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::TimeZone;

    fn stream(segs: &[(u32, u16)]) -> Vec<HrSample> {
        let mut out = Vec::new();
        let mut t = 0.0;
        for &(n, bpm) in segs {
            for _ in 0..n {
                out.push(HrSample { t, bpm });
                t += 1.0;
            }
        }
        out
    }

    #[test]
    fn time_in_zones_uses_the_model_s_weights_and_edges() {
        // LTHR 168: edges 151.2, 159.6, 168, 173.04. 600 s at 150 (easy), 300 s at 160 (hard),
        // 300 samples at 168 (very hard, lower edge inclusive; the last holds 10 s over the 31-s gap
        // that follows), then 60 at 180.
        let mut hr = stream(&[(600, 150), (300, 160), (300, 168)]);
        hr.extend((0..60).map(|i| HrSample {
            t: 1230.0 + f64::from(i),
            bpm: 180,
        }));
        let z = time_in_zones(&hr, 168.0);
        let secs: Vec<f64> = z.iter().map(|(_, s)| *s).collect();
        assert_eq!(secs, vec![600.0, 0.0, 300.0, 309.0, 60.0]);
        assert_eq!(z[4].0, EffortClass::Max);
        // The total is the stream's covered time, as in the best 20-min mean.
        let held: f64 = held_segments(&hr).iter().map(|s| s.1 - s.0).sum();
        assert!((secs.iter().sum::<f64>() - held).abs() < 1e-9);
        // Samples outside 30–250 bpm are not counted; no threshold, no zones.
        assert_eq!(time_in_zones(&stream(&[(100, 0)]), 168.0)[0].1, 0.0);
        assert_eq!(time_in_zones(&hr, 0.0)[0].1, 0.0);
    }

    #[test]
    fn the_best_window_is_where_the_mean_is() {
        let hr = stream(&[(600, 140), (1200, 170), (600, 140)]);
        let (start, mean) = best_20min(&hr).unwrap_or_default();
        assert_eq!(start, 600.0);
        assert!((mean - 170.0).abs() < 1e-9);
        assert_eq!(best_window_mean(&hr, BEST_WINDOW), Some(mean));
        assert_eq!(best_20min(&stream(&[(600, 140)])), None);
    }

    #[test]
    fn pmc_series_ends_where_pmc_on_does() {
        let d = |n: i64| {
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default() + chrono::Duration::days(n)
        };
        let daily: Vec<(NaiveDate, f64)> = (0..60)
            .map(|n| (d(n * 2), 50.0))
            .chain([(d(121), 300.0)])
            .collect();
        let s = pmc_series(&daily, d(30), d(130));
        assert_eq!(s.len(), 101);
        assert_eq!(s.first().map(|p| p.0), Some(d(30)));
        for (day, p) in [&s[0], &s[91], &s[100]] {
            let want = pmc_on(&daily, *day);
            let (got, want) = (
                p.unwrap_or(Pmc {
                    atl: -1.0,
                    ctl: -1.0,
                    history_days: 0,
                }),
                want.unwrap_or(Pmc {
                    atl: -2.0,
                    ctl: -2.0,
                    history_days: 0,
                }),
            );
            assert!(
                (got.atl - want.atl).abs() < 1e-9 && (got.ctl - want.ctl).abs() < 1e-9,
                "{day}"
            );
        }
        // Before the first load there is no value.
        assert_eq!(pmc_series(&daily, d(-3), d(0))[0].1, None);
    }

    /// The window mean by brute force: every candidate start, integrals by binary search.
    fn best_mean_by_search(stream: &[(f64, f64)], window_s: f64) -> Option<f64> {
        let mut segs: Vec<(f64, f64, f64)> = stream
            .windows(2)
            .map(|w| (w[0].0, w[0].0 + (w[1].0 - w[0].0).min(MAX_DT_S), w[0].1))
            .filter(|s| s.1 > s.0)
            .collect();
        if let (Some(prev), Some(&(t, hr))) = (segs.last().copied(), stream.last()) {
            segs.push((t, t + (prev.1 - prev.0), hr));
        }
        let (first, last) = (*segs.first()?, *segs.last()?);
        if last.1 - first.0 < window_s - 1e-9 {
            return None;
        }
        let integral = |x: f64| -> (f64, f64) {
            segs.iter().fold((0.0, 0.0), |(t, h), s| {
                let d = (x.min(s.1) - s.0).max(0.0);
                (t + d, h + d * s.2)
            })
        };
        let mut best: Option<f64> = None;
        for a in segs
            .iter()
            .map(|s| s.0)
            .chain(segs.iter().map(|s| s.1 - window_s))
        {
            if a < first.0 - 1e-9 || a + window_s > last.1 + 1e-9 {
                continue;
            }
            let (t0, h0) = integral(a);
            let (t1, h1) = integral(a + window_s);
            if t1 - t0 < window_s * 0.5 {
                continue;
            }
            let mean = (h1 - h0) / (t1 - t0);
            best = Some(best.map_or(mean, |b: f64| b.max(mean)));
        }
        best
    }

    #[test]
    fn the_window_sweep_finds_what_brute_force_finds() {
        let mut seed = 0x2545_f491_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..300 {
            let n = 2 + (next() % 400) as usize;
            let mut t = 0.0;
            let stream: Vec<(f64, f64)> = (0..n)
                .map(|_| {
                    // Mostly 1 s steps, some gaps (pauses) and some repeated times.
                    t += match next() % 20 {
                        0 => 0.0,
                        1 => (next() % 120) as f64,
                        _ => 1.0 + (next() % 3) as f64,
                    };
                    (t, 60.0 + (next() % 130) as f64)
                })
                .collect();
            for w in [10.0, 60.0, 1200.0] {
                let fast = best_mean(&stream, w);
                let slow = best_mean_by_search(&stream, w);
                match (fast, slow) {
                    (Some(a), Some(b)) => {
                        assert!((a - b).abs() < 1e-6, "case {case} w {w}: {a} vs {b}")
                    }
                    (a, b) => assert_eq!(a.is_some(), b.is_some(), "case {case} w {w}"),
                }
            }
        }
    }

    fn reference() -> Athlete {
        let cfg = AthleteSettings {
            max_hr: Some(185),
            resting_hr: Some(50),
            threshold_hr: Some(168),
            sex: Sex::Male,
            ..AthleteSettings::default()
        };
        resolve_athlete(&cfg, &WatchFigures::default(), &PeakCheck::default(), 2026)
    }

    /// A 1 Hz stream at a constant HR per (minutes, bpm) segment.
    fn session(segments: &[(u32, u16)]) -> Activity {
        let mut hr = Vec::new();
        let mut t = 0.0;
        for &(min, bpm) in segments {
            for _ in 0..min * 60 {
                hr.push(HrSample { t, bpm });
                t += 1.0;
            }
        }
        let start = Utc
            .with_ymd_and_hms(2026, 4, 20, 9, 0, 0)
            .single()
            .unwrap_or_default();
        Activity::test_run(start, t, hr)
    }

    #[test]
    fn reference_runner_table() {
        let a = reference();
        type Case<'a> = (&'a str, &'a [(u32, u16)], f64, f64, f64, EffortClass, u32);
        let cases: &[Case<'_>] = &[
            (
                "easy",
                &[(45, 130)],
                53.23,
                29.61,
                0.774,
                EffortClass::Moderate,
                7,
            ),
            (
                "tempo",
                &[(60, 160)],
                149.52,
                83.17,
                0.952,
                EffortClass::Hard,
                24,
            ),
            (
                "5k",
                &[(15, 130), (20, 176)],
                89.43,
                49.74,
                1.048,
                EffortClass::Max,
                60,
            ),
            (
                "10k",
                &[(42, 174)],
                143.96,
                80.08,
                1.036,
                EffortClass::Max,
                60,
            ),
            (
                "half",
                &[(105, 166)],
                300.55,
                167.18,
                0.988,
                EffortClass::VeryHard,
                48,
            ),
            (
                "marathon",
                &[(210, 158)],
                499.49,
                277.85,
                0.940,
                EffortClass::Max,
                67,
            ),
        ];
        for &(name, segs, trimp, hrss, r, class, hours) in cases {
            let act = session(segs);
            let e = assess(&act, &a);
            assert_eq!(e.hr_source, HrSource::Stream, "{name}");
            assert!(
                (e.trimp.unwrap_or(0.0) - trimp).abs() <= 0.05,
                "{name}: TRIMP {:?}",
                e.trimp
            );
            assert!(
                (e.hrss.unwrap_or(0.0) - hrss).abs() <= 0.05,
                "{name}: HRSS {:?}",
                e.hrss
            );
            let got_r = e.intensity_ratio.unwrap_or(0.0);
            assert!((got_r - r).abs() < 0.0005, "{name}: r {got_r}");
            assert_eq!(e.class, class, "{name}");
            assert_eq!(recovery_hours(&e), hours, "{name}");
        }
    }

    #[test]
    fn banister_published_vector() {
        // fellrnr / Runalyze: male, HRmax 200, HRrest 40, 30 min at 130 → 31.80.
        let x: f64 = (130.0 - 40.0) / (200.0 - 40.0);
        let trimp = 30.0 * banister(x, Sex::Male.b());
        assert!((trimp - 31.80).abs() < 0.005, "{trimp}");
    }

    #[test]
    fn hrss_published_vectors() {
        let cfg = |lthr| AthleteSettings {
            max_hr: Some(190),
            resting_hr: Some(60),
            threshold_hr: lthr,
            sex: Sex::Male,
            ..AthleteSettings::default()
        };
        let a = resolve_athlete(
            &cfg(Some(163)),
            &WatchFigures::default(),
            &PeakCheck::default(),
            2026,
        );
        assert!((hrss_from_trimp(333.0, &a) - 239.09).abs() < 0.005);
        let a = resolve_athlete(
            &cfg(None),
            &WatchFigures::default(),
            &PeakCheck::default(),
            2026,
        );
        assert_eq!(a.threshold_hr.source, Source::Formula);
        assert!((hrss_from_trimp(333.0, &a) - 199.49).abs() < 0.005);
    }

    #[test]
    fn pmc_vector() {
        let steady = Pmc {
            atl: 50.0,
            ctl: 50.0,
            history_days: 100,
        };
        let p = steady.step(300.0);
        assert!((p.atl - 83.28).abs() < 0.005, "{}", p.atl);
        assert!((p.ctl - 55.88).abs() < 0.005, "{}", p.ctl);
        assert!((p.tsb() - -27.40).abs() < 0.005, "{}", p.tsb());
    }

    #[test]
    fn max_hr_sources_in_order() {
        let watch = WatchFigures {
            max_hr: Some(191),
            ..WatchFigures::default()
        };
        let mut cfg = AthleteSettings {
            max_hr: Some(185),
            ..AthleteSettings::default()
        };
        assert_eq!(
            resolve_athlete(&cfg, &watch, &observed(200.0), 2026)
                .max_hr
                .source,
            Source::Config
        );
        cfg.max_hr = None;
        assert_eq!(
            resolve_athlete(&cfg, &watch, &observed(200.0), 2026)
                .max_hr
                .value,
            191.0
        );
        let none = WatchFigures::default();
        cfg.birth_year = Some(1986); // age 40 → Tanaka 180
        let a = resolve_athlete(&cfg, &none, &observed(176.0), 2026);
        assert_eq!((a.max_hr.value, a.max_hr.source), (180.0, Source::Formula));
        let a = resolve_athlete(&cfg, &none, &observed(188.4), 2026);
        assert_eq!((a.max_hr.value, a.max_hr.source), (188.0, Source::Observed));
        cfg.birth_year = None;
        let a = resolve_athlete(&cfg, &none, &PeakCheck::default(), 2026);
        assert_eq!((a.max_hr.value, a.max_hr.source), (190.0, Source::Default));
        assert_eq!(
            (a.resting_hr.value, a.resting_hr.source),
            (60.0, Source::Default)
        );
    }

    #[test]
    fn no_heart_rate_falls_back_to_moving_time() {
        let mut act = session(&[(100, 0)]);
        act.hr.clear();
        let e = assess(&act, &reference());
        assert_eq!(e.hr_source, HrSource::None);
        assert_eq!(e.class, EffortClass::Hard);
        assert_eq!(recovery_hours(&e), 24);
    }

    #[test]
    fn average_only_uses_duration_times_reserve() {
        let mut act = session(&[(60, 160)]);
        act.hr.clear();
        act.avg_hr = Some(160.0);
        let e = assess(&act, &reference());
        assert_eq!(e.hr_source, HrSource::Average);
        let x: f64 = (160.0 - 50.0) / 135.0;
        let expected = 60.0 * x * 0.64 * (1.92 * x).exp();
        assert!((e.trimp.unwrap_or(0.0) - expected).abs() < 1e-9);
        assert_eq!(e.intensity_ratio, None);
    }

    #[test]
    fn implausibility_guard() {
        assert!(implausible(450.0, 3600.0));
        assert!(!implausible(399.0, 3600.0));
        assert!(implausible(f64::NAN, 3600.0));
        // With x clamped to [0, 1], a real stream stays below the bound (60 · 0.64 · e^1.92 ≈ 262/h).
        let e = assess(&session(&[(60, 240)]), &reference());
        assert!(!e.implausible);
    }

    #[test]
    fn load_is_hrss_unless_implausible_and_duration_is_moving_else_elapsed() {
        let mut e = assess(&session(&[(60, 150)]), &reference());
        assert!(e.hrss.is_some());
        assert_eq!(e.load(), e.hrss);
        e.implausible = true;
        assert_eq!(e.load(), None);
        let mut a = session(&[(60, 150)]);
        a.elapsed_s = 4000.0;
        a.moving_s = Some(3000.0);
        assert!((a.duration_s() - 3000.0).abs() < f64::EPSILON);
        a.moving_s = Some(0.0);
        assert!((a.duration_s() - 4000.0).abs() < f64::EPSILON);
        a.moving_s = None;
        assert!((a.duration_s() - 4000.0).abs() < f64::EPSILON);
    }

    fn observed(v: f64) -> PeakCheck {
        let p = Peak {
            id: Some(1),
            start: Utc::now(),
            bpm: v,
        };
        PeakCheck {
            observed: Some((v, [p, p])),
            ..PeakCheck::default()
        }
    }

    fn peaks(bpm: &[f64]) -> Vec<Peak> {
        let t0 = Utc
            .with_ymd_and_hms(2026, 1, 1, 8, 0, 0)
            .single()
            .unwrap_or_default();
        bpm.iter()
            .enumerate()
            .map(|(i, &b)| Peak {
                id: Some(i as i64 + 1),
                start: t0 + Duration::days(i as i64),
                bpm: b,
            })
            .collect()
    }

    #[test]
    fn confirmed_peak_vectors() {
        let last = |p: &[Peak]| p.last().map_or_else(Utc::now, |p| p.start);
        let p = peaks(&[178.0, 203.0, 181.0]);
        let c = confirmed_peak(&p, last(&p), 220.0);
        assert_eq!(c.observed.map(|o| o.0), Some(181.0));
        assert_eq!(
            c.observed.map(|o| [o.1[0].id, o.1[1].id]),
            Some([Some(2), Some(3)])
        );
        assert_eq!(c.unconfirmed, Some(203.0));
        let p = peaks(&[178.0, 231.0, 176.0]);
        let c = confirmed_peak(&p, last(&p), 220.0);
        assert_eq!(c.observed.map(|o| o.0), Some(176.0));
        assert_eq!(c.ignored, Some(231.0));
        let p = peaks(&[199.0]);
        assert_eq!(confirmed_peak(&p, last(&p), 220.0).observed, None);
        // A later activity never counts; one older than 365 days neither.
        let p = peaks(&[150.0, 200.0, 200.0]);
        assert_eq!(
            confirmed_peak(&p, p[1].start, 220.0).observed.map(|o| o.0),
            Some(150.0)
        );
        let mut p = peaks(&[200.0, 180.0, 170.0]);
        p[0].start -= Duration::days(400);
        assert_eq!(
            confirmed_peak(&p, p[2].start, 220.0).observed.map(|o| o.0),
            Some(170.0)
        );
        // The ceiling: Tanaka + 25 with a birth year (age 40 → 180 + 25), else 220.
        assert!((peak_ceiling(Some(1986), 2026) - 205.0).abs() < 1e-9);
        assert!((peak_ceiling(None, 2026) - 220.0).abs() < 1e-9);
        // Without a birth year: no observed value → the default.
        let a = resolve_athlete(
            &AthleteSettings::default(),
            &WatchFigures::default(),
            &confirmed_peak(&peaks(&[199.0]), Utc::now(), 220.0),
            2026,
        );
        assert_eq!(a.max_hr.source, Source::Default);
    }

    #[test]
    fn long_races_only_for_races() {
        let a = reference();
        let tz = jiff::tz::TimeZone::UTC;
        let act = session(&[(210, 158)]);
        let e = assess(&act, &a);
        let r = recovery(&act, &e, None, true, &tz);
        assert_eq!(r.long_race, Some(LongRace::Marathon));
        assert_eq!(r.easy_only_until, Some(act.end + Duration::days(7)));
        // Ready: the later of ready_at and the race rule (7 days), out of the night (12:30).
        assert_eq!(r.ready, act.end + Duration::days(7));
        assert_eq!(r.easy_from, Some(act.end + Duration::hours(48)));
        // The same run as training: no race rule, ready = ready_at.
        let r = recovery(&act, &e, None, false, &tz);
        assert_eq!((r.long_race, r.easy_from), (None, None));
        assert_eq!(r.ready, r.ready_at);
        let act = session(&[(105, 166)]);
        let e = assess(&act, &a);
        assert_eq!(
            recovery(&act, &e, None, true, &tz).long_race,
            Some(LongRace::HalfMarathon)
        );
        let act = session(&[(45, 130)]);
        let e = assess(&act, &a);
        assert_eq!(recovery(&act, &e, None, true, &tz).long_race, None);
    }

    #[test]
    fn extension_needs_history_and_deep_fatigue() {
        let d0 = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let mut daily: Vec<(NaiveDate, f64)> =
            (0..60).map(|i| (d0 + Duration::days(i), 40.0)).collect();
        let race_day = d0 + Duration::days(60);
        daily.push((race_day, 400.0));
        let pmc = pmc_on(&daily, race_day).unwrap_or(Pmc {
            atl: 0.0,
            ctl: 0.0,
            history_days: 0,
        });
        assert!(pmc.tsb() < -30.0, "{}", pmc.tsb());
        let ext = extension(&pmc, 67).unwrap_or(Extension {
            hours: 0,
            tsb: 0.0,
            rest_days: 0,
        });
        assert!(ext.hours > 0 && 67 + ext.hours <= MAX_RECOVERY_H);
        // The same day as a first activity: no history, no extension.
        let first = pmc_on(&[(race_day, 400.0)], race_day).unwrap_or(Pmc {
            atl: 0.0,
            ctl: 0.0,
            history_days: 0,
        });
        assert_eq!(extension(&first, 67), None);
    }

    #[test]
    fn empty_stream_is_none() {
        assert_eq!(best_window_mean(&[], 600.0), None);
        let mut act = session(&[(30, 0)]);
        act.moving_s = Some(1800.0);
        let e = assess(&act, &reference());
        assert_eq!(e.hr_source, HrSource::None);
    }
}
