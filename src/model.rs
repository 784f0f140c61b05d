//! Plain domain data shared by every module: an activity as read from a file, its heart-rate
//! stream and the figures the watch wrote about it, the athlete's settings, and a stored
//! activity with its judgement ([`Stored`], what `render` and `notifier` show). No parser,
//! database or runtime types here.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::plan::Assessment;

/// The container format a file was read from.
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
pub enum Format {
    /// Garmin/ANT Flexible and Interoperable Data Transfer.
    Fit,
    /// GPS Exchange Format 1.0 / 1.1.
    Gpx,
    /// Garmin Training Center XML.
    Tcx,
}

impl Format {
    /// The lowercase name used in the database and in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the name written by [`Format::as_str`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        name.parse().ok()
    }
}

/// One heart-rate sample: seconds since the activity's start and beats per minute.
///
/// The stream is kept as the device wrote it (zeros and spikes included); cleaning is the
/// effort model's job, so a change of model can recompute from the stored stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HrSample {
    /// Seconds since [`Activity::start`]; never negative, non-decreasing along a stream.
    pub t: f64,
    /// Heart rate in beats per minute, as recorded.
    pub bpm: u16,
}

/// One leg of a multisport activity (a FIT session).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Leg {
    /// Sport of the leg (`running`, `cycling`, `transition`, ...).
    pub sport: String,
    /// Sub-sport where the file names one.
    pub sub_sport: Option<String>,
    /// Start of the leg.
    pub start: DateTime<Utc>,
    /// Elapsed seconds of the leg.
    pub elapsed_s: f64,
    /// Distance of the leg in metres.
    pub distance_m: Option<f64>,
}

/// Figures the watch itself computed or stored, shown beside ours and used as fallbacks for the
/// athlete's physiology.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchFigures {
    /// `zones_target.max_heart_rate`.
    pub max_hr: Option<u16>,
    /// `zones_target.threshold_heart_rate`.
    pub threshold_hr: Option<u16>,
    /// `user_profile.resting_heart_rate`.
    pub resting_hr: Option<u16>,
    /// The watch's own recovery time in minutes (event 38, or Garmin message 140 field 9).
    pub recovery_time_min: Option<u32>,
    /// `session.total_training_effect` (1.0–5.0).
    pub total_training_effect: Option<f64>,
}

/// The recording device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Maker (`garmin`, `polar_electro`, `suunto`, ...).
    pub manufacturer: Option<String>,
    /// Product name or number.
    pub product: Option<String>,
    /// Serial number of the device (FIT `file_id.serial_number`).
    pub serial: Option<u32>,
}

/// An activity as read from one file: what every later stage works from.
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    /// Container format of the source.
    pub format: Format,
    /// Sport (`running`, `cycling`, `swimming`, `multisport`, ...); `generic` when unknown.
    pub sport: String,
    /// Sub-sport (`treadmill`, `trail`, `indoor_cycling`, ...).
    pub sub_sport: Option<String>,
    /// A name from the file or an export's index (Strava `activities.csv`).
    pub name: Option<String>,
    /// Start in UTC.
    pub start: DateTime<Utc>,
    /// End in UTC.
    pub end: DateTime<Utc>,
    /// The local UTC offset in seconds where the file gives it.
    pub utc_offset_s: Option<i32>,
    /// Elapsed (wall-clock) seconds.
    pub elapsed_s: f64,
    /// Timer (moving) seconds, pauses excluded.
    pub moving_s: Option<f64>,
    /// Distance in metres.
    pub distance_m: Option<f64>,
    /// Average heart rate: the mean of the plausible samples, else the device's session average.
    pub avg_hr: Option<f64>,
    /// Maximum heart rate: the highest plausible sample, else the device's session maximum.
    pub max_hr: Option<f64>,
    /// Average temperature in °C where the file records it.
    pub avg_temperature_c: Option<f64>,
    /// The heart-rate stream, in time order.
    pub hr: Vec<HrSample>,
    /// Legs of a multisport activity (empty for a single-sport one).
    pub legs: Vec<Leg>,
    /// The recording device.
    pub device: Device,
    /// FIT `file_id.time_created` (with the serial number, the identity used to spot re-exports).
    pub time_created: Option<DateTime<Utc>>,
    /// The watch's own figures.
    pub watch: WatchFigures,
    /// The file marks the activity as a race.
    pub marked_race: bool,
    /// Things a person may want to know about how the file was read (kept data after damage, ...).
    pub warnings: Vec<String>,
}

/// Sex as the model uses it: it sets the Banister exponent b.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Default,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Sex {
    /// b = 1.92
    Male,
    /// b = 1.67
    Female,
    /// b = 1.795, the mean of the two
    #[default]
    Unspecified,
}

impl Sex {
    /// Banister's exponent b.
    #[must_use]
    pub const fn b(self) -> f64 {
        match self {
            Self::Male => 1.92,
            Self::Female => 1.67,
            Self::Unspecified => 1.795,
        }
    }

    /// The config / JSON name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What the user configured under `[athlete]`; every value optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AthleteSettings {
    /// Maximum heart rate, bpm.
    pub max_hr: Option<u16>,
    /// Resting heart rate, bpm.
    pub resting_hr: Option<u16>,
    /// Lactate-threshold heart rate, bpm.
    pub threshold_hr: Option<u16>,
    /// Sex, for Banister's b.
    pub sex: Sex,
    /// Year of birth, for Tanaka's max-HR formula.
    pub birth_year: Option<i32>,
    /// Body mass, kg, for food doses.
    pub weight_kg: Option<f64>,
}

/// A stored activity with its id and judgement.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Row id.
    pub id: i64,
    /// Source path.
    pub source_path: String,
    /// Content hash.
    pub sha256: String,
    /// The activity (with its stream).
    pub activity: Activity,
    /// The judgement, if computed.
    pub assessment: Option<Assessment>,
    /// The runner said it was a race (`true`) or training (`false`) with `recoverd mark`.
    pub race_mark: Option<bool>,
}

/// Builds activities for unit tests.
#[cfg(test)]
impl Activity {
    /// A running activity read from a FIT file: it starts at `start` and lasts `elapsed_s`
    /// (moving the whole time), with the stream `hr` and nothing else known. Tests change the
    /// fields they are about with struct-update syntax.
    pub(crate) fn test_run(start: DateTime<Utc>, elapsed_s: f64, hr: Vec<HrSample>) -> Self {
        #[allow(clippy::cast_possible_truncation)]
        let end = start + chrono::Duration::milliseconds((elapsed_s * 1000.0) as i64);
        Self {
            format: Format::Fit,
            sport: "running".into(),
            sub_sport: None,
            name: None,
            start,
            end,
            utc_offset_s: None,
            elapsed_s,
            moving_s: Some(elapsed_s),
            distance_m: None,
            avg_hr: None,
            max_hr: None,
            avg_temperature_c: None,
            hr,
            legs: vec![],
            device: Device::default(),
            time_created: None,
            watch: WatchFigures::default(),
            marked_race: false,
            warnings: vec![],
        }
    }
}

impl Activity {
    /// How long the activity lasted for the model: the timer (moving) time when the file gives
    /// a positive one, else the elapsed time.
    #[must_use]
    pub fn duration_s(&self) -> f64 {
        self.moving_s.filter(|m| *m > 0.0).unwrap_or(self.elapsed_s)
    }
}

/// Two reads start at most this far apart to be the same activity (with [`same_activity`]).
pub const SAME_START_WINDOW_S: i64 = 60;

/// The duplicate rule for an activity read from another file (a re-export, another device's copy)
/// against a stored one that starts within [`SAME_START_WINDOW_S`]: the same sport (or either
/// unknown, `generic`) and an elapsed time within 5 % of the longer. (The same FIT device serial
/// and creation time also make it the same: that is an identity the store looks up.)
#[must_use]
pub fn same_activity(a: &Activity, stored_sport: &str, stored_elapsed_s: f64) -> bool {
    let same_sport = stored_sport == a.sport || stored_sport == "generic" || a.sport == "generic";
    let longer = stored_elapsed_s.max(a.elapsed_s);
    same_sport && (stored_elapsed_s - a.elapsed_s).abs() <= 0.05 * longer
}

/// Sample-based heart-rate summary as recorded: the plain mean and the maximum of the non-zero
/// samples (0 is how devices write "no reading"). Cleaning for the effort model is stricter.
#[must_use]
pub fn hr_summary(bpm: impl IntoIterator<Item = u16>) -> Option<(f64, f64)> {
    let mut n = 0u32;
    let mut sum = 0.0;
    let mut max = 0u16;
    for b in bpm.into_iter().filter(|&b| b > 0) {
        n += 1;
        sum += f64::from(b);
        max = max.max(b);
    }
    (n > 0).then(|| (sum / f64::from(n), f64::from(max)))
}

/// Great-circle distance in metres between two WGS84 points (haversine).
#[must_use]
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const R: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sport: &str, elapsed_s: f64) -> Activity {
        let start = DateTime::from_timestamp(1_717_228_800, 0).unwrap();
        Activity {
            sport: sport.into(),
            end: start,
            moving_s: None,
            ..Activity::test_run(start, elapsed_s, vec![])
        }
    }

    #[test]
    fn same_activity_is_same_sport_and_elapsed_within_five_percent() {
        let a = run("running", 3600.0);
        assert!(same_activity(&a, "running", 3780.0));
        assert!(same_activity(&a, "generic", 3500.0));
        assert!(!same_activity(&a, "running", 3800.0));
        assert!(!same_activity(&a, "cycling", 3600.0));
        assert!(same_activity(&run("generic", 3600.0), "cycling", 3600.0));
    }
}

/// Where a day's resting heart rate came from (MODEL.md §7).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum RhrSource {
    /// The lowest 30-min mean of the night's monitoring heart rate (message 55).
    Monitoring,
    /// The watch's own `current_day_resting_heart_rate` (message 211 field 1).
    Watch,
}

/// Where a night's HRV came from (MODEL.md §7).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum HrvSource {
    /// Message 370 `last_night_average`.
    HrvStatus,
    /// The mean of the night's message-371 5-min values.
    HrvValues,
}

/// One local day's signals: the night before its morning, and the runner's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct DaySignals {
    /// The local calendar day (its morning).
    pub day: NaiveDate,
    /// Resting heart rate of the night, bpm.
    pub rhr: Option<u16>,
    /// Where `rhr` came from.
    pub rhr_source: Option<RhrSource>,
    /// The monitoring value (lowest 30-min mean), when the night had enough samples.
    pub rhr_monitoring: Option<f64>,
    /// The watch's own value for the day (message 211 field 1), shown beside ours.
    pub rhr_watch: Option<u16>,
    /// The night's RMSSD in ms.
    pub hrv_rmssd_ms: Option<f64>,
    /// Where `hrv_rmssd_ms` came from.
    pub hrv_source: Option<HrvSource>,
    /// The runner's answer, 1 very sore … 5 great.
    pub feel: Option<u8>,
}

/// A morning's verdict (MODEL.md §7).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Verdict {
    /// At least one signal, none raised.
    Recovered,
    /// At least one signal raised.
    NotRecovered,
    /// No usable signal.
    Unknown,
}

/// A raised signal (MODEL.md §7).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Flag {
    /// Resting HR at or above normal + max(σ, 3 bpm).
    RhrHigh,
    /// ln RMSSD below normal − σ.
    HrvLow,
    /// Feel 1 or 2.
    FeelLow,
    /// Not recovered at or after a `ready` that can move no further (3 days past the model's):
    /// persisting fatigue, said plainly.
    Persisting,
}

/// The runner's pre-activity normal: mean and SD of each signal over the 60 days before the
/// activity that opened the window (`None` with fewer than 14 values).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Normal {
    /// Mean resting HR, bpm.
    pub rhr_mean: Option<f64>,
    /// SD of resting HR, bpm (floored at 1).
    pub rhr_sd: Option<f64>,
    /// Mean ln RMSSD (ms).
    pub ln_rmssd_mean: Option<f64>,
    /// SD of ln RMSSD (floored at 0.05).
    pub ln_rmssd_sd: Option<f64>,
}

/// One day's morning check inside an activity's recovery window.
#[derive(Debug, Clone, PartialEq)]
pub struct Morning {
    /// The local day judged.
    pub day: NaiveDate,
    /// The verdict.
    pub verdict: Verdict,
    /// The signals raised.
    pub flags: Vec<Flag>,
    /// The normal it was judged against.
    pub normal: Normal,
    /// `ready` before this morning's verdict.
    pub ready_before: DateTime<Utc>,
    /// `ready` after it (later only when not recovered and the day is at/after ready).
    pub ready_after: DateTime<Utc>,
}
