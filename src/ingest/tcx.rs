//! TCX (Garmin Training Center XML) reader: activities, laps and track points with
//! `HeartRateBpm`; no GPS needed. Streaming quick-xml, with the same guards as the GPX reader.

use chrono::{DateTime, Utc};
use quick_xml::events::BytesStart;
use quick_xml::name::ResolveResult;

use super::{IngestError, Parsed, sanity, sport_from_text, xml};
use crate::model::{Activity, Device, Format, HrSample, WatchFigures, hr_summary};

#[derive(Default)]
struct Scan {
    sport: Option<String>,
    laps_time_s: f64,
    laps_distance_m: f64,
    lap_starts: Vec<DateTime<Utc>>,
    points: Vec<(DateTime<Utc>, Option<f64>)>,
    last_distance: Option<f64>,
    creator: Option<String>,
    notes: Option<String>,
}

/// Reads a TCX document (the first activity in it).
///
/// # Errors
/// [`IngestError`] for hostile, truncated or unreadable XML.
pub fn read(bytes: &[u8]) -> Result<Parsed, IngestError> {
    xml::guard(bytes)?;
    // Some exporters put white space before the XML declaration, which strict parsers refuse.
    let start = bytes
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(0);
    let bytes = &bytes[start..];
    let mut w = Walk::default();
    let mut warnings = Vec::new();
    xml::scan(bytes, "TCX", false, &mut w, &mut warnings)?;
    if w.activities == 0 {
        return Ok(Parsed::Skipped(
            "TCX holds no activity (a course or workout file)".into(),
        ));
    }
    if w.activities > 1 {
        warnings.push(format!(
            "the TCX holds {} activities; only the first was read",
            w.activities
        ));
    }
    build(w.scan, warnings)
}

/// Where the reader is in the document, and what it has found.
#[derive(Default)]
struct Walk {
    scan: Scan,
    activities: usize,
    /// The track point being read: its time and heart rate.
    point: Option<(Option<DateTime<Utc>>, Option<f64>)>,
}

impl xml::Handler for Walk {
    fn start(
        &mut self,
        _ns: &ResolveResult<'_>,
        e: &BytesStart<'_>,
        _stack: &[String],
    ) -> Result<(), IngestError> {
        let attr = |name: &str| {
            e.attributes()
                .flatten()
                .find(|a| a.key.local_name().as_ref() == name)
                .map(|a| a.value.to_string())
        };
        match e.local_name().as_ref() {
            "Activity" => {
                self.activities += 1;
                if self.activities == 1 {
                    self.scan.sport = attr("Sport");
                }
            }
            "Lap" if self.activities == 1 => {
                if let Some(t) = attr("StartTime").and_then(|v| xml::parse_time(&v)) {
                    self.scan.lap_starts.push(t);
                }
            }
            "Trackpoint" if self.activities == 1 => self.point = Some((None, None)),
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, text: &str, stack: &[String]) {
        if self.activities != 1 {
            return;
        }
        let parent = stack.last().map_or("", String::as_str);
        let grand = stack
            .len()
            .checked_sub(2)
            .and_then(|i| stack.get(i))
            .map_or("", String::as_str);
        let number = || text.trim().parse::<f64>().ok();
        let scan = &mut self.scan;
        match (grand, parent) {
            ("Trackpoint", "Time") => {
                if let Some(p) = self.point.as_mut() {
                    p.0 = xml::parse_time(text);
                }
            }
            ("HeartRateBpm", "Value") => {
                if let Some(p) = self.point.as_mut() {
                    p.1 = number().filter(|v| v.is_finite() && *v > 0.0);
                }
            }
            ("Trackpoint", "DistanceMeters") => {
                if let Some(d) = number() {
                    scan.last_distance = Some(d);
                }
            }
            // Summed as written: a hostile value (1e15, NaN) is refused by `build`.
            ("Lap", "TotalTimeSeconds") => scan.laps_time_s += number().unwrap_or(0.0),
            ("Lap", "DistanceMeters") => scan.laps_distance_m += number().unwrap_or(0.0),
            ("Activity", "Notes") => scan.notes = Some(text.trim().to_string()),
            ("Creator", "Name") => scan.creator = Some(text.trim().to_string()),
            _ => {}
        }
    }

    fn end(&mut self, local: &str) -> Result<(), IngestError> {
        if local == "Trackpoint"
            && let Some((Some(t), hr)) = self.point.take()
        {
            if self.scan.points.len() >= sanity::MAX_POINTS {
                return Err(sanity::too_many_points("TCX"));
            }
            self.scan.points.push((t, hr));
        }
        Ok(())
    }

    fn has_data(&self) -> bool {
        !self.scan.points.is_empty()
    }
}

/// The heart-rate stream from the track points, and how many went back in time (left out).
fn stream(points: &[(DateTime<Utc>, Option<f64>)], start: DateTime<Utc>) -> (Vec<HrSample>, usize) {
    let mut hr = Vec::new();
    let mut backwards = 0usize;
    let mut prev: Option<DateTime<Utc>> = None;
    for &(t, bpm) in points {
        if prev.is_some_and(|p| t < p) {
            backwards += 1;
            continue;
        }
        prev = Some(t);
        if let Some(bpm) = bpm.and_then(sanity::bpm_sample) {
            hr.push(HrSample {
                t: sanity::seconds_between(start, t).max(0.0),
                bpm,
            });
        }
    }
    (hr, backwards)
}

fn build(scan: Scan, mut warnings: Vec<String>) -> Result<Parsed, IngestError> {
    let first_point = scan.points.first().map(|p| p.0);
    let last_point = scan.points.last().map(|p| p.0);
    let start = match (scan.lap_starts.iter().min().copied(), first_point) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).ok_or_else(|| {
            IngestError::damaged(
                "the TCX activity has no lap start and no timed track point".into(),
            )
        })?,
    };
    // The laps' total time is checked before it is added to a date (1e15 s would overflow it).
    let laps_time = sanity::span(scan.laps_time_s, "lap time (TotalTimeSeconds)")?;
    let laps_end = start.checked_add_signed(laps_time).ok_or_else(|| {
        IngestError::damaged("the TCX laps end past the last representable date".into())
    })?;
    let end = last_point.unwrap_or(start).max(laps_end);
    let span = sanity::seconds_between;
    let elapsed_s = match (first_point, last_point) {
        (Some(a), Some(b)) if b > a => span(a, b),
        _ => scan.laps_time_s,
    };
    let (hr, backwards) = stream(&scan.points, start);
    if backwards > 0 {
        warnings.push(format!(
            "{backwards} track points went back in time and were left out"
        ));
    }
    let (avg_hr, max_hr) =
        hr_summary(hr.iter().map(|s| s.bpm)).map_or((None, None), |(a, m)| (Some(a), Some(m)));
    let distance = if scan.laps_distance_m > 0.0 {
        Some(scan.laps_distance_m)
    } else {
        scan.last_distance
    };
    let sport = scan
        .sport
        .as_deref()
        .map_or_else(|| "generic".to_string(), sport_from_text);
    let marked_race = scan.notes.as_deref().is_some_and(super::name_marks_race);
    Ok(Parsed::Activity(Box::new(Activity {
        format: Format::Tcx,
        sport,
        sub_sport: None,
        name: scan.notes.filter(|n| !n.is_empty()),
        start,
        end,
        utc_offset_s: None,
        elapsed_s,
        moving_s: (scan.laps_time_s > 0.0).then_some(scan.laps_time_s),
        distance_m: distance.filter(|d| *d > 0.0),
        avg_hr,
        max_hr,
        avg_temperature_c: None,
        hr,
        legs: Vec::new(),
        device: Device {
            manufacturer: scan.creator,
            product: None,
            serial: None,
        },
        time_created: None,
        watch: WatchFigures::default(),
        marked_race,
        warnings,
    })))
}
