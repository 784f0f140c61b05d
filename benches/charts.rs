//! `cargo bench --bench charts [-- RUNS]`: the charts of a 4-hour 1 Hz run (14 400 samples):
//! heart rate, time in zones and the plan as SVG, the HTML page, the notification's PNG, and the
//! morning chart of a 10-day window.
//! Median and worst wall time over RUNS (default 20). Target: the three charts well under
//! 100 ms together.

use std::time::Instant;

use chrono::{Duration, TimeZone as _, Utc};
use recoverd::model::{Activity, Device, Format, HrSample, WatchFigures};
use recoverd::plan::{self, History};
use recoverd::store::Stored;

fn four_hours() -> Activity {
    let secs = 4 * 3600u32;
    let start = Utc
        .timestamp_opt(1_776_675_731, 0)
        .single()
        .unwrap_or_default();
    let hr: Vec<HrSample> = (0..secs)
        .map(|t| HrSample {
            t: f64::from(t),
            bpm: 135 + (35 * t / secs) as u16 + (t % 11) as u16,
        })
        .collect();
    Activity {
        format: Format::Fit,
        sport: "running".into(),
        sub_sport: None,
        name: Some("Marathon".into()),
        start,
        end: start + Duration::seconds(i64::from(secs)),
        utc_offset_s: Some(7200),
        elapsed_s: f64::from(secs),
        moving_s: Some(f64::from(secs)),
        distance_m: Some(42_195.0),
        avg_hr: Some(155.0),
        max_hr: Some(180.0),
        avg_temperature_c: None,
        hr,
        legs: vec![],
        device: Device::default(),
        time_created: Some(start),
        watch: WatchFigures::default(),
        marked_race: true,
        warnings: vec![],
    }
}

/// Ten judged mornings after `end`: every other one not recovered, ready moved once.
fn window(
    end: chrono::DateTime<Utc>,
    tz: &jiff::tz::TimeZone,
) -> (
    Vec<recoverd::model::Morning>,
    Vec<recoverd::model::DaySignals>,
) {
    use recoverd::model::{DaySignals, Flag, Morning, Normal, Verdict};
    let first = recoverd::localtime::day(end, tz) + Duration::days(1);
    let normal = Normal {
        rhr_mean: Some(48.0),
        rhr_sd: Some(2.0),
        ln_rmssd_mean: Some(4.0),
        ln_rmssd_sd: Some(0.1),
    };
    let ready = end + Duration::hours(72);
    let (mut mornings, mut days) = (Vec::new(), Vec::new());
    for i in 0..10 {
        let day = first + Duration::days(i);
        let bad = i % 2 == 0;
        let after = if i == 4 {
            ready + Duration::hours(15)
        } else {
            ready
        };
        mornings.push(Morning {
            day,
            verdict: if bad {
                Verdict::NotRecovered
            } else {
                Verdict::Recovered
            },
            flags: if bad {
                vec![Flag::RhrHigh, Flag::HrvLow]
            } else {
                vec![]
            },
            normal,
            ready_before: if i > 4 { after } else { ready },
            ready_after: if i >= 4 {
                ready + Duration::hours(15)
            } else {
                ready
            },
        });
        days.push(DaySignals {
            day,
            rhr: Some(if bad { 53 } else { 48 }),
            rhr_source: None,
            rhr_monitoring: None,
            rhr_watch: None,
            hrv_rmssd_ms: Some(if bad { 44.0 } else { 55.0 }),
            hrv_source: None,
            feel: Some(3),
        });
    }
    (mornings, days)
}

fn time(label: &str, runs: usize, mut f: impl FnMut() -> usize) {
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "{label:<34} median {:>7.2} ms  worst {:>7.2} ms",
        ms[ms.len() / 2],
        ms[ms.len() - 1]
    );
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20)
        .max(1);
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or(jiff::tz::TimeZone::UTC);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, "timezone = \"Europe/Berlin\"\n[athlete]\nmax_hr = 185\nresting_hr = 50\nthreshold_hr = 168\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let cfg = recoverd::config::load(Some(&config), Some(&tmp.path().join("r.db")))
        .unwrap_or_else(|e| panic!("{e}"));
    let a = four_hours();
    let assessment = plan::evaluate(&a, &cfg.athlete, &History::default(), &tz);
    let lthr = assessment.athlete.threshold_hr.value;
    let now = a.end + Duration::hours(5);
    let s = Stored {
        id: 1,
        source_path: "/bench/marathon.fit".into(),
        sha256: "0".repeat(64),
        activity: a,
        assessment: Some(assessment),
        race_mark: None,
    };
    let (hr, ass) = (
        &s.activity.hr,
        s.assessment.as_ref().unwrap_or_else(|| panic!()),
    );
    println!("a 4-hour 1 Hz run: {} samples, {runs} runs each", hr.len());
    time("hr + zones + plan charts (SVG)", runs, || {
        let a = recoverd::chart::hr(hr, lthr, Some(11.0 * 60.0 + 2.0)).map_or(0, |s| s.len());
        let b = recoverd::chart::zones(hr, lthr).map_or(0, |s| s.len());
        let c = recoverd::chart::plan(ass, s.activity.end, now, &tz).map_or(0, |s| s.len());
        a + b + c
    });
    time("hr chart (SVG)", runs, || {
        recoverd::chart::hr(hr, lthr, Some(11.0 * 60.0 + 2.0)).map_or(0, |s| s.len())
    });
    time("show --format html (whole page)", runs, || {
        recoverd::page::show_html(&s, &recoverd::page::Mornings::default(), &tz, now).len()
    });
    let (mornings, days) = window(s.activity.end, &tz);
    time("morning chart, 10 days (SVG)", runs, || {
        recoverd::chart::morning(&mornings, &days, &tz).map_or(0, |s| s.len())
    });
    let svg = recoverd::chart::hr(hr, lthr, Some(11.0 * 60.0 + 2.0)).unwrap_or_default();
    time("notification picture (PNG)", runs, || {
        recoverd::raster::png(&svg, 1.0).map_or(0, |p| p.len())
    });
}
