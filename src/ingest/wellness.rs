//! Wellness FIT files: monitoring (`monitoring_a` 15, `monitoring_b` 32, `monitoring_daily` 28)
//! and HRV status (68). The FIT framing, CRC and segment checks are [`super::fit`]'s: its
//! reader hands each data message here once `file_id.type` names a wellness type.
//!
//! Read by field number, following the FIT SDK profile:
//! - `monitoring` (55): `heart_rate` (27, uint8) at `timestamp` (253) or `timestamp_16` (26),
//!   the latter resolved against the monitoring clock (the last full time of a 55 or 103, or the
//!   last resolved `timestamp_16`): `ts = last + ((ts16 − (last & 0xFFFF)) & 0xFFFF)`;
//! - `monitoring_info` (103): `local_timestamp` (0) − `timestamp` (253) = the watch's UTC offset;
//! - `monitoring_hr_data` (211): `current_day_resting_heart_rate` (1), never
//!   `resting_heart_rate` (0), which moves like a 7-day average;
//! - `hrv_status_summary` (370): `last_night_average` (1, uint16, ms × 128);
//! - `hrv_value` (371): `value` (0, uint16, ms × 128), with or without timestamps.
//!
//! Every value is range-checked; a file holds at most [`MAX_SAMPLES`] values.

use std::collections::HashMap;

use fitparser::Value;

use crate::wellness::{HR_RANGE, MAX_OFFSET_S, NightHrv, Stamped, Wellness, WellnessKind};

/// FIT `file_id.type` values read as wellness files.
pub const MONITORING_A: u64 = 15;
/// Daily monitoring summaries (same messages).
pub const MONITORING_DAILY: u64 = 28;
/// The monitoring files Garmin watches sync several times a day.
pub const MONITORING_B: u64 = 32;
/// HRV status.
pub const HRV_STATUS: u64 = 68;

/// Seconds between the Unix epoch and the FIT epoch.
const FIT_EPOCH: i64 = 631_065_600;
/// FIT timestamps below this are relative (seconds since power-on), not dates.
const FIT_MIN_ABSOLUTE: u32 = 0x1000_0000;
/// Most values kept from one file: a week of 1-Hz heart rate. A real monitoring file holds a
/// few hours at one a minute; past this the rest is left out with a warning.
pub const MAX_SAMPLES: usize = 7 * 86_400;
/// Values stamped further than this from the file's `time_created` (s) are a clock gone astray,
/// not data of this file: a monitoring file holds hours, a daily one a day.
const MAX_FROM_CREATED_S: i64 = 7 * 86_400;
/// HRV values (371) kept per file: a night has one per 5 min.
const MAX_HRV_VALUES: usize = 24 * 12 * 7;

/// The kind of wellness file a `file_id.type` names, when we read it.
#[must_use]
pub fn kind_of(file_type: u64) -> Option<WellnessKind> {
    match file_type {
        MONITORING_A | MONITORING_DAILY | MONITORING_B => Some(WellnessKind::Monitoring),
        HRV_STATUS => Some(WellnessKind::HrvStatus),
        _ => None,
    }
}

/// Collects a wellness file's values, message by message.
#[derive(Debug)]
pub struct Reader {
    kind: WellnessKind,
    /// The monitoring clock (FIT s) that `timestamp_16` values are resolved against: the last
    /// full time of a monitoring message (55) or `monitoring_info` (103), or a resolved
    /// `timestamp_16`. Other messages' times do not move it: a Garmin monitoring file
    /// interleaves events (21) stamped ahead of the samples around them, and resolving the
    /// next `timestamp_16` against such a time puts samples 18 h (65,536 s) into the future.
    last: Option<u32>,
    offset: Option<i32>,
    first_offset: Option<i32>,
    hr: Vec<Stamped>,
    watch_rhr: Vec<Stamped>,
    hrv: NightHrv,
    /// The last timestamp of a message 371, the night's stamp when nothing else gives one.
    last_value_ts: Option<i64>,
    dropped: usize,
    bad_offsets: usize,
    full: bool,
}

impl Reader {
    /// A reader for a file of this kind.
    #[must_use]
    pub fn new(kind: WellnessKind) -> Self {
        Self {
            kind,
            last: None,
            offset: None,
            first_offset: None,
            hr: Vec::new(),
            watch_rhr: Vec::new(),
            hrv: NightHrv::default(),
            last_value_ts: None,
            dropped: 0,
            bad_offsets: 0,
            full: false,
        }
    }

    /// One data message: its global number, raw fields, and its time from a `timestamp` field
    /// or a compressed-timestamp header (FIT s), as the framing found it.
    pub fn message(&mut self, global: u16, f: &HashMap<u8, Value>, ts: Option<u32>) {
        let ts = ts.filter(|&t| t >= FIT_MIN_ABSOLUTE);
        if ts.is_some() && matches!(global, 55 | 103) {
            self.last = ts;
        }
        match global {
            55 => self.monitoring(f, ts),
            103 => self.monitoring_info(f, ts),
            211 => self.hr_data(f, ts),
            370 => self.hrv_summary(f, ts),
            371 => {
                self.hrv_value(f);
                self.last_value_ts = ts.map(unix).or(self.last_value_ts);
            }
            _ => {}
        }
    }

    fn room(&mut self) -> bool {
        if self.hr.len() + self.watch_rhr.len() >= MAX_SAMPLES {
            self.full = true;
        }
        !self.full
    }

    fn monitoring(&mut self, f: &HashMap<u8, Value>, ts: Option<u32>) {
        let ts = ts.or_else(|| {
            let ts16 = field(f, 26).and_then(|v| u16::try_from(v).ok())?;
            let t = resolve_ts16(self.last?, ts16)?;
            self.last = Some(t);
            Some(t)
        });
        // 0 is the watch's "no reading" (off the wrist), not a value.
        let Some(bpm) = field(f, 27).filter(|&b| b != 0) else {
            return;
        };
        let Some(ts) = ts else {
            self.dropped += 1;
            return;
        };
        self.push_hr(ts, bpm);
    }

    fn push_hr(&mut self, ts: u32, bpm: u64) {
        if let Some(s) = self.stamped(ts, bpm) {
            self.hr.push(s);
        }
    }

    /// A heart rate (30–250 bpm, else counted as dropped) at FIT time `ts` with the watch's
    /// offset, while the file has room for it.
    fn stamped(&mut self, ts: u32, bpm: u64) -> Option<Stamped> {
        match u16::try_from(bpm).ok().filter(|b| HR_RANGE.contains(b)) {
            Some(value) if self.room() => Some(Stamped {
                ts: unix(ts),
                value,
                utc_offset_s: self.offset,
            }),
            Some(_) => None,
            None => {
                self.dropped += 1;
                None
            }
        }
    }

    fn monitoring_info(&mut self, f: &HashMap<u8, Value>, ts: Option<u32>) {
        let (Some(ts), Some(local)) = (ts, field(f, 0)) else {
            return;
        };
        let diff = i64::try_from(local).unwrap_or(i64::MAX) - i64::from(ts);
        // Whole minutes within ±14 h (a watch's clock is set to the minute).
        if diff.abs() <= i64::from(MAX_OFFSET_S) && diff % 60 == 0 {
            self.offset = i32::try_from(diff).ok();
            self.first_offset = self.first_offset.or(self.offset);
        } else {
            self.bad_offsets += 1;
        }
    }

    fn hr_data(&mut self, f: &HashMap<u8, Value>, ts: Option<u32>) {
        // 0: no value yet.
        let (Some(ts), Some(v)) = (ts, field(f, 1).filter(|&v| v != 0)) else {
            return;
        };
        if let Some(s) = self.stamped(ts, v) {
            self.watch_rhr.push(s);
        }
    }

    fn hrv_summary(&mut self, f: &HashMap<u8, Value>, ts: Option<u32>) {
        if let Some(ts) = ts {
            self.hrv.ts = Some(unix(ts));
        }
        if let Some(v) = field(f, 1).and_then(valid_hrv) {
            self.hrv.last_night_average = Some(v);
        }
    }

    fn hrv_value(&mut self, f: &HashMap<u8, Value>) {
        if self.hrv.values.len() >= MAX_HRV_VALUES {
            self.full = true;
            return;
        }
        if let Some(v) = field(f, 0).and_then(valid_hrv) {
            self.hrv.values.push(v);
        }
    }

    /// What the file held. Values read before the first `monitoring_info` take its offset.
    #[must_use]
    pub fn finish(self, time_created: Option<u32>) -> Wellness {
        let mut warnings = Vec::new();
        if self.full {
            warnings.push(format!(
                "the file holds more than {} values; the rest were left out",
                super::fit::group(MAX_SAMPLES as u64)
            ));
        }
        if self.dropped > 0 {
            warnings.push(format!(
                "{} values out of range or without a time were left out",
                self.dropped
            ));
        }
        if self.bad_offsets > 0 {
            warnings.push(
                "monitoring_info gave an impossible local time; the runner's zone is used".into(),
            );
        }
        let first_offset = self.first_offset;
        let time_created = time_created.filter(|&t| t >= FIT_MIN_ABSOLUTE).map(unix);
        let mut astray = 0usize;
        let mut fill = |mut v: Vec<Stamped>| {
            let before = v.len();
            v.retain(|s| time_created.is_none_or(|tc| (s.ts - tc).abs() <= MAX_FROM_CREATED_S));
            astray += before - v.len();
            for s in &mut v {
                s.utc_offset_s = s.utc_offset_s.or(first_offset);
            }
            v
        };
        let (hr, watch_rhr) = (fill(self.hr), fill(self.watch_rhr));
        if astray > 0 {
            warnings.push(format!(
                "{astray} values stamped more than a week from the file's creation were left out"
            ));
        }
        let mut hrv = self.hrv;
        if time_created.is_none() {
            hrv.ts = hrv.ts.or(self.last_value_ts);
        }
        let hrv = (self.kind == WellnessKind::HrvStatus).then_some(hrv);
        Wellness {
            hr,
            watch_rhr,
            hrv,
            utc_offset_s: first_offset,
            time_created,
            warnings,
        }
    }
}

/// A `timestamp_16` resolved against the last full time of the monitoring clock (FIT profile
/// rule). `None` past the end of FIT time.
#[must_use]
pub fn resolve_ts16(last: u32, ts16: u16) -> Option<u32> {
    let delta = u32::from(ts16.wrapping_sub((last & 0xFFFF) as u16));
    last.checked_add(delta)
}

/// A raw HRV value (ms × 128) when valid: 0xFFFF is FIT's invalid, 0 is no measurement.
fn valid_hrv(v: u64) -> Option<u16> {
    u16::try_from(v).ok().filter(|&v| v != 0 && v != u16::MAX)
}

fn unix(t: u32) -> i64 {
    i64::from(t) + FIT_EPOCH
}

/// An unsigned field value (the first of an array).
fn field(f: &HashMap<u8, Value>, n: u8) -> Option<u64> {
    fn uint(v: &Value) -> Option<u64> {
        match v {
            Value::UInt8(x) | Value::UInt8z(x) | Value::Byte(x) | Value::Enum(x) => {
                Some(u64::from(*x))
            }
            Value::UInt16(x) | Value::UInt16z(x) => Some(u64::from(*x)),
            Value::UInt32(x) | Value::UInt32z(x) => Some(u64::from(*x)),
            Value::UInt64(x) | Value::UInt64z(x) => Some(*x),
            Value::Array(a) => a.first().and_then(uint),
            _ => None,
        }
    }
    f.get(&n).and_then(uint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_16_rolls_over_from_the_last_full_time() {
        assert_eq!(resolve_ts16(0x1234_0010, 0x0020), Some(0x1234_0020));
        assert_eq!(resolve_ts16(0x1234_FFF0, 0x0005), Some(0x1235_0005));
        assert_eq!(resolve_ts16(0x1234_0010, 0x0010), Some(0x1234_0010));
        assert_eq!(resolve_ts16(u32::MAX, 0x0000), None);
    }

    #[test]
    fn offsets_are_sane_or_ignored() {
        let mut r = Reader::new(WellnessKind::Monitoring);
        let t = 0x4000_0000u32;
        let info = |local: u64| HashMap::from([(0u8, Value::UInt32(local as u32))]);
        r.message(103, &info(u64::from(t) + 3600), Some(t));
        assert_eq!(r.offset, Some(3600));
        r.message(103, &info(u64::from(t) + 15 * 3600), Some(t));
        r.message(103, &info(u64::from(t) + 61), Some(t));
        assert_eq!(r.offset, Some(3600), "bad values are ignored");
        let hr = HashMap::from([(27u8, Value::UInt8(55)), (26u8, Value::UInt16(0x10))]);
        r.message(55, &hr, None);
        let w = r.finish(None);
        assert_eq!(w.hr.len(), 1);
        assert_eq!(w.hr[0].utc_offset_s, Some(3600));
        assert_eq!(w.warnings.len(), 1, "{:?}", w.warnings);
    }

    #[test]
    fn values_stamped_far_from_the_files_creation_are_left_out() {
        let mut r = Reader::new(WellnessKind::Monitoring);
        let t = 0x4000_0000u32;
        let hr = |bpm: u8| HashMap::from([(27u8, Value::UInt8(bpm))]);
        r.message(55, &hr(50), Some(t + 3600));
        r.message(55, &hr(51), Some(t + 30 * 86_400));
        let w = r.finish(Some(t));
        assert_eq!(w.hr.len(), 1);
        assert_eq!(w.hr[0].value, 50);
        assert!(
            w.warnings.iter().any(|x| x.contains("a week")),
            "{:?}",
            w.warnings
        );
    }

    #[test]
    fn field_0_of_message_211_is_never_read() {
        let mut r = Reader::new(WellnessKind::Monitoring);
        let only0 = HashMap::from([(0u8, Value::UInt8(60))]);
        r.message(211, &only0, Some(0x4000_0000));
        let both = HashMap::from([(0u8, Value::UInt8(60)), (1u8, Value::UInt8(52))]);
        r.message(211, &both, Some(0x4000_0100));
        let w = r.finish(None);
        assert_eq!(w.watch_rhr.len(), 1);
        assert_eq!(w.watch_rhr[0].value, 52);
    }
}
