//! GPX reader. The gpx crate reads tracks and times; it drops `<extensions>`, where GPX keeps
//! heart rate, so a second, streaming quick-xml pass reads heart rate per track point, matched on
//! the namespace URI (Garmin TrackPointExtension v1/v2, cluetrust gpxdata, ...), never the prefix.
//! That pass also serves as the fallback for files the gpx crate rejects (a stray unbound prefix).

use chrono::{DateTime, Utc};
use quick_xml::events::BytesStart;
use quick_xml::name::ResolveResult;

use super::{IngestError, Parsed, name_marks_race, sanity, sport_from_text, xml};
use crate::model::{Activity, Device, Format, HrSample, WatchFigures, haversine_m, hr_summary};

/// Namespaces whose `hr` (or `heartrate`) element is a heart rate.
const HR_NAMESPACES: &[&str] = &[
    "http://www.garmin.com/xmlschemas/TrackPointExtension/v1",
    "http://www.garmin.com/xmlschemas/TrackPointExtension/v2",
    "http://www.cluetrust.com/XML/GPXDATA/1/0",
    "http://www.topografix.com/GPX/1/1",
    "http://www.topografix.com/GPX/1/0",
];

/// A gap longer than this between points counts as a pause, not moving time.
const PAUSE_S: f64 = 30.0;

/// One track point as the streaming pass saw it.
#[derive(Debug, Clone, Default)]
struct Point {
    time: Option<DateTime<Utc>>,
    lat: Option<f64>,
    lon: Option<f64>,
    hr: Option<f64>,
}

#[derive(Debug, Default)]
struct Scan {
    points: Vec<Point>,
    track_type: Option<String>,
    name: Option<String>,
    creator: Option<String>,
}

/// Reads a GPX document.
///
/// # Errors
/// [`IngestError`] for hostile, truncated or unreadable XML.
pub fn read(bytes: &[u8]) -> Result<Parsed, IngestError> {
    xml::guard(bytes)?;
    let mut warnings = Vec::new();
    let mut scan = scan(bytes, &mut warnings)?;
    // The gpx crate is the reference for tracks and times; the scan adds heart rate per point.
    // It holds the whole document (several times the file's size): a large file is read by
    // the streaming scan alone, which has the times and positions too.
    if bytes.len() as u64 > super::LARGE_FILE_BYTES {
        return build(scan, warnings);
    }
    match ::gpx::read(bytes) {
        Ok(doc) => {
            let pts: Vec<_> = doc
                .tracks
                .iter()
                .flat_map(|t| t.segments.iter().flat_map(|s| s.points.iter()))
                .collect();
            if pts.len() == scan.points.len() {
                for (p, w) in scan.points.iter_mut().zip(pts) {
                    let t: time::OffsetDateTime = match w.time {
                        Some(t) => t.into(),
                        None => {
                            p.time = None;
                            continue;
                        }
                    };
                    p.time = DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond());
                    let pt = w.point();
                    p.lon = Some(pt.x());
                    p.lat = Some(pt.y());
                }
            }
            if let Some(t) = doc.tracks.iter().find_map(|t| t.type_.clone()) {
                scan.track_type = Some(t);
            }
            if let Some(n) = doc.tracks.iter().find_map(|t| t.name.clone()) {
                scan.name = Some(n);
            }
        }
        Err(e) => warnings.push(format!(
            "the GPX is not strictly valid ({e}); read leniently"
        )),
    }
    build(scan, warnings)
}

fn scan(bytes: &[u8], warnings: &mut Vec<String>) -> Result<Scan, IngestError> {
    let mut w = Walk::default();
    xml::scan(bytes, "GPX", true, &mut w, warnings)?;
    Ok(w.out)
}

/// Where the streaming pass is in the document, and what it has found.
#[derive(Default)]
struct Walk {
    out: Scan,
    current: Option<Point>,
    text_target: Option<&'static str>,
}

impl xml::Handler for Walk {
    fn start(
        &mut self,
        ns: &ResolveResult<'_>,
        e: &BytesStart<'_>,
        stack: &[String],
    ) -> Result<(), IngestError> {
        let local = e.local_name().as_ref().to_string();
        if stack.is_empty() {
            self.out.creator = e
                .attributes()
                .flatten()
                .find(|a| a.key.local_name().as_ref() == "creator")
                .map(|a| a.value.to_string());
        }
        let parent = stack.last().map_or("", String::as_str);
        self.text_target = match local.as_str() {
            "trkpt" => {
                self.current = Some(point_from_attrs(e));
                None
            }
            "time" if self.current.is_some() && parent == "trkpt" => Some("time"),
            "hr" | "heartrate" if self.current.is_some() && is_hr_ns(ns) => Some("hr"),
            "type" if parent == "trk" => Some("type"),
            "name" if parent == "trk" => Some("name"),
            _ => None,
        };
        Ok(())
    }

    fn empty(&mut self, e: &BytesStart<'_>) -> Result<(), IngestError> {
        if e.local_name().as_ref() == "trkpt" {
            self.push(point_from_attrs(e))?;
        }
        Ok(())
    }

    fn text(&mut self, text: &str, _stack: &[String]) {
        match (self.text_target, self.current.as_mut()) {
            (Some("time"), Some(p)) => p.time = xml::parse_time(text),
            (Some("hr"), Some(p)) if p.hr.is_none() => {
                p.hr = text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0);
            }
            (Some("type"), _) => {
                self.out
                    .track_type
                    .get_or_insert_with(|| text.trim().to_string());
            }
            (Some("name"), _) => {
                self.out.name.get_or_insert_with(|| text.trim().to_string());
            }
            _ => {}
        }
    }

    fn end(&mut self, local: &str) -> Result<(), IngestError> {
        self.text_target = None;
        if local == "trkpt"
            && let Some(p) = self.current.take()
        {
            self.push(p)?;
        }
        Ok(())
    }

    fn has_data(&self) -> bool {
        !self.out.points.is_empty()
    }
}

impl Walk {
    fn push(&mut self, p: Point) -> Result<(), IngestError> {
        if self.out.points.len() >= sanity::MAX_POINTS {
            return Err(sanity::too_many_points("GPX"));
        }
        self.out.points.push(p);
        Ok(())
    }
}

fn is_hr_ns(ns: &ResolveResult<'_>) -> bool {
    match ns {
        ResolveResult::Bound(n) => HR_NAMESPACES.contains(&n.as_ref()),
        // A prefix nobody declared (seen in Strava exports): judge by the local name alone.
        ResolveResult::Unknown(_) | ResolveResult::Unbound => true,
    }
}

fn point_from_attrs(e: &BytesStart<'_>) -> Point {
    let mut p = Point::default();
    for a in e.attributes().flatten() {
        let v = a.value.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        match a.key.local_name().as_ref() {
            "lat" => p.lat = v.filter(|v| (-90.0..=90.0).contains(v)),
            "lon" => p.lon = v.filter(|v| (-180.0..=180.0).contains(v)),
            _ => {}
        }
    }
    p
}

/// What the timed points add up to.
struct Track {
    distance: f64,
    moving: f64,
    backwards: usize,
    hr: Vec<HrSample>,
}

/// Distance, moving time and the heart-rate stream along the timed points; points that go back
/// in time are left out (and counted).
fn track(timed: &[&Point], start: DateTime<Utc>) -> Track {
    let mut t = Track {
        distance: 0.0,
        moving: 0.0,
        backwards: 0,
        hr: Vec::new(),
    };
    let mut prev: Option<&Point> = None;
    for p in timed {
        let Some(at) = p.time else { continue };
        if let Some(q) = prev {
            let Some(qt) = q.time else { continue };
            let dt = sanity::seconds_between(qt, at);
            if dt < 0.0 {
                t.backwards += 1;
                continue;
            }
            if let (Some(a), Some(b), Some(c), Some(d)) = (q.lat, q.lon, p.lat, p.lon) {
                t.distance += haversine_m(a, b, c, d);
            }
            if dt <= PAUSE_S {
                t.moving += dt;
            }
        }
        if let Some(bpm) = p.hr.and_then(sanity::bpm_sample) {
            t.hr.push(HrSample {
                t: sanity::seconds_between(start, at),
                bpm,
            });
        }
        prev = Some(p);
    }
    t
}

fn build(scan: Scan, mut warnings: Vec<String>) -> Result<Parsed, IngestError> {
    if scan.points.is_empty() {
        return Ok(Parsed::Skipped(
            "GPX holds no track points: not a recorded activity".into(),
        ));
    }
    let timed: Vec<&Point> = scan.points.iter().filter(|p| p.time.is_some()).collect();
    let (Some(first), Some(last)) = (timed.first(), timed.last()) else {
        return Ok(Parsed::Skipped(
            "GPX track has no timestamps: a route or a plan, not a recorded activity".into(),
        ));
    };
    let (Some(start), Some(end)) = (first.time, last.time) else {
        return Ok(Parsed::Skipped("GPX track has no timestamps".into()));
    };
    if end < start {
        return Err(IngestError::damaged(
            "GPX track ends before it starts".into(),
        ));
    }
    let Track {
        distance,
        moving,
        backwards,
        hr,
    } = track(&timed, start);
    if backwards > 0 {
        warnings.push(format!(
            "{backwards} track points went back in time and were left out"
        ));
    }
    let (avg_hr, max_hr) =
        hr_summary(hr.iter().map(|s| s.bpm)).map_or((None, None), |(a, m)| (Some(a), Some(m)));
    let sport = scan
        .track_type
        .as_deref()
        .map_or_else(|| "generic".to_string(), sport_from_text);
    let marked_race = scan.name.as_deref().is_some_and(name_marks_race);
    let elapsed_s = sanity::seconds_between(start, end);
    Ok(Parsed::Activity(Box::new(Activity {
        format: Format::Gpx,
        sport,
        sub_sport: None,
        name: scan.name.filter(|n| !n.is_empty()),
        start,
        end,
        utc_offset_s: None,
        elapsed_s,
        moving_s: Some(moving),
        distance_m: (distance > 0.0).then_some(distance),
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
