//! The effort model and the plan, end to end through the real binary on generated reference
//! sessions, plus properties over generated activities.

mod support;

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use recoverd::effort::{self, AthleteSettings, EffortClass, HrSource, Sex};
use recoverd::model::{Activity, Device, Format, HrSample, WatchFigures};
use recoverd::plan::{self, History, Tactic};

const START: i64 = 1_776_675_731; // Mon 2026-04-20 09:02:11Z

/// (name, segments, speed m/s, HRSS, class, hours)
type Reference = (
    &'static str,
    &'static [(u32, u8)],
    f64,
    f64,
    &'static str,
    u64,
);
const REFERENCE: &[Reference] = &[
    ("easy-45", &[(45, 130)], 2.8, 29.61, "moderate", 7),
    ("tempo-60", &[(60, 160)], 3.3, 83.17, "hard", 24),
    (
        "5k",
        &[(15, 130), (20, 176)],
        5000.0 / 2100.0,
        49.74,
        "max",
        60,
    ),
    ("10k", &[(42, 174)], 10_000.0 / 2520.0, 80.08, "max", 60),
    (
        "half",
        &[(105, 166)],
        21_097.5 / 6300.0,
        167.18,
        "very_hard",
        48,
    ),
    (
        "marathon",
        &[(210, 158)],
        42_195.0 / 12_600.0,
        277.85,
        "max",
        67,
    ),
];

fn import_reference(
    name: &str,
    segs: &[(u32, u8)],
    speed: f64,
) -> (tempfile::TempDir, serde_json::Value) {
    let home = support::import_reference_run(START, name, segs, speed);
    let out = support::run(home.path(), &["show", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    (home, v)
}

#[test]
fn reference_sessions_through_import_and_show_json() {
    for &(name, segs, speed, hrss, class, hours) in REFERENCE {
        let (_home, v) = import_reference(name, segs, speed);
        let got = v["effort"]["hrss"].as_f64().unwrap_or(-1.0);
        assert!((got - hrss).abs() <= 0.06, "{name}: hrss {got} vs {hrss}");
        assert_eq!(v["effort"]["class"], class, "{name}");
        assert_eq!(v["effort"]["hr_source"], "stream", "{name}");
        assert_eq!(v["recovery"]["hours"].as_u64(), Some(hours), "{name}");
        assert_eq!(v["athlete"]["sources"]["max_hr"], "config");
        let end =
            chrono::DateTime::parse_from_rfc3339(v["activity"]["end"].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"));
        let ready = chrono::DateTime::parse_from_rfc3339(
            v["recovery"]["ready_at"].as_str().unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (ready - end).num_hours(),
            i64::try_from(hours).unwrap_or(0),
            "{name}"
        );
        let tactics: Vec<&str> = v["plan"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["tactic"].as_str()).collect())
            .unwrap_or_default();
        let has = |t: &str| tactics.contains(&t);
        assert_eq!(has("ice_bath"), class != "moderate", "{name}: {tactics:?}");
        if name == "marathon" {
            for t in [
                "keep_moving",
                "ice_bath",
                "hydrate",
                "healthy_eating",
                "compression",
                "elevation",
                "light_massage",
                "foam_roller",
                "rest",
                "return_to_training",
            ] {
                assert!(has(t), "marathon plan lacks {t}");
            }
            assert_eq!(v["activity"]["is_race"], true);
            assert!(v["recovery"]["easy_only_until"].is_string());
        }
    }
}

#[test]
fn plan_text_and_markdown_snapshots() {
    for &(name, segs, speed, _, _, _) in REFERENCE {
        let (home, _) = import_reference(name, segs, speed);
        for format in ["text", "markdown"] {
            let out = support::run(home.path(), &["show", "--format", format]);
            assert!(out.status.success());
            insta::assert_snapshot!(
                format!("{name}-{format}"),
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

#[test]
fn ics_has_one_event_per_item_and_parses() {
    let (home, v) = import_reference("marathon", &[(210, 158)], 42_195.0 / 12_600.0);
    let out = support::run(home.path(), &["show", "--format", "ics"]);
    let ics = String::from_utf8_lossy(&out.stdout).to_string();
    let items = v["plan"].as_array().map_or(0, Vec::len);
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), items);
    assert_eq!(ics.matches("END:VEVENT").count(), items);
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
    assert!(ics.contains("BEGIN:VALARM"), "later items carry a reminder");
    // Every content line fits in 75 octets (folded lines start with a space).
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "unfolded line: {line}");
    }
    // A real iCalendar parser, when Python's `icalendar` is installed (CI installs it).
    let py = std::process::Command::new("python3")
        .args(["-c", "import sys, icalendar; c = icalendar.Calendar.from_ical(sys.stdin.read()); print(len(c.walk('VEVENT')))"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Ok(mut child) = py {
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write as _;
            let _ = stdin.write_all(ics.as_bytes());
        }
        if let Ok(out) = child.wait_with_output() {
            if out.status.success() {
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout).trim(),
                    items.to_string()
                );
            } else if std::env::var_os("CI").is_some() {
                panic!(
                    "python3 icalendar could not parse the calendar (is python3-icalendar installed?)"
                );
            }
        }
    }
}

fn activity(sport: &str, sub: Option<&str>, hr: &[(u32, u16)], distance: Option<f64>) -> Activity {
    let mut samples = Vec::new();
    let mut t = 0.0;
    for &(secs, bpm) in hr {
        for _ in 0..secs {
            samples.push(HrSample { t, bpm });
            t += 1.0;
        }
    }
    let start = Utc.timestamp_opt(START, 0).single().unwrap_or_default();
    Activity {
        format: Format::Fit,
        sport: sport.into(),
        sub_sport: sub.map(Into::into),
        name: None,
        start,
        end: start + Duration::seconds(t as i64),
        utc_offset_s: Some(3600),
        elapsed_s: t,
        moving_s: Some(t),
        distance_m: distance,
        avg_hr: None,
        max_hr: None,
        avg_temperature_c: None,
        hr: samples,
        legs: vec![],
        device: Device::default(),
        time_created: None,
        watch: WatchFigures::default(),
        marked_race: false,
        warnings: vec![],
    }
}

fn reference() -> AthleteSettings {
    AthleteSettings {
        max_hr: Some(185),
        resting_hr: Some(50),
        threshold_hr: Some(168),
        sex: Sex::Male,
        ..AthleteSettings::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn hrss_is_finite_nonnegative_and_rises_with_hr_and_duration(
        segs in prop::collection::vec((30u32..900, 30u16..231), 1..6),
        bump in 1u16..20,
        extra in 60u32..1800,
    ) {
        let s = reference();
        let a = activity("running", None, &segs, None);
        let ath = effort::resolve_athlete(&s, &WatchFigures::default(), &effort::PeakCheck::default(), 2026);
        let e = effort::assess(&a, &ath);
        if let Some(h) = e.hrss { prop_assert!(h.is_finite() && h >= 0.0); }
        // Higher heart rate everywhere → no less load.
        let hotter: Vec<(u32, u16)> = segs.iter().map(|&(d, b)| (d, b.saturating_add(bump))).collect();
        let e2 = effort::assess(&activity("running", None, &hotter, None), &ath);
        if let (Some(a1), Some(a2), HrSource::Stream, HrSource::Stream) = (e.hrss, e2.hrss, e.hr_source, e2.hr_source) {
            prop_assert!(a2 + 1e-9 >= a1, "{a2} < {a1}");
        }
        // Longer at the last heart rate → no less load.
        let mut longer = segs.clone();
        if let Some(last) = longer.last_mut() { last.0 += extra; }
        let e3 = effort::assess(&activity("running", None, &longer, None), &ath);
        if let (Some(a1), Some(a3), HrSource::Stream, HrSource::Stream) = (e.hrss, e3.hrss, e.hr_source, e3.hr_source) {
            prop_assert!(a3 + 1e-9 >= a1);
        }
    }

    #[test]
    fn class_never_falls_as_hrss_rises(a in 0.0f64..400.0, b in 0.0f64..400.0) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(EffortClass::from_hrss(lo) <= EffortClass::from_hrss(hi));
    }

    #[test]
    fn empty_or_invalid_streams_have_no_heart_rate(bad in prop::collection::vec((1u32..600, prop_oneof![0u16..30, 251u16..300]), 0..5)) {
        let a = activity("running", None, &bad, None);
        let ath = effort::resolve_athlete(&reference(), &WatchFigures::default(), &effort::PeakCheck::default(), 2026);
        prop_assert_eq!(effort::assess(&a, &ath).hr_source, HrSource::None);
    }

    #[test]
    fn plan_rules_hold(
        segs in prop::collection::vec((60u32..3600, 60u16..200), 1..4),
        sport in prop_oneof![Just("running"), Just("cycling"), Just("swimming"), Just("training")],
        strength in any::<bool>(),
        weight in prop::option::of(45.0f64..110.0),
        km in prop::option::of(1.0f64..50.0),
    ) {
        let sub = strength.then_some("strength_training");
        let a = activity(sport, sub, &segs, km.map(|k| k * 1000.0));
        let mut s = reference();
        s.weight_kg = weight;
        let result = plan::evaluate(&a, &s, &History::default(), &jiff::tz::TimeZone::UTC);
        let class = result.effort.class;
        let items = &result.plan;
        let has = |t: Tactic| items.iter().any(|i| i.tactic == t);
        if class <= EffortClass::Moderate {
            prop_assert!(!has(Tactic::IceBath) && !has(Tactic::Compression) && !has(Tactic::LightMassage));
        }
        if sport == "training" || strength {
            prop_assert!(!has(Tactic::IceBath));
        }
        for i in items {
            prop_assert!(i.end >= i.start && i.start >= a.end, "{:?}", i.tactic);
            prop_assert!(!i.text.is_empty() && !i.why.is_empty());
            if weight.is_none() { prop_assert!(!i.text.contains(" g ")); }
        }
        let min_roll = if class == EffortClass::Hard { 24 } else { 48 };
        for i in items.iter().filter(|i| i.tactic == Tactic::FoamRoller) {
            prop_assert!(i.start - a.end >= Duration::hours(min_roll));
        }
        prop_assert!(has(Tactic::Hydrate) && has(Tactic::Rest) && has(Tactic::ReturnToTraining));
        // No cool-down walk after a session under 20 minutes.
        let minutes = a.moving_s.unwrap_or(a.elapsed_s) / 60.0;
        let cool_down = items.iter().any(|i| i.tactic == Tactic::KeepMoving && i.start == a.end);
        prop_assert_eq!(cool_down, minutes >= 20.0);
        // No finish-line talk and no race words after training.
        if result.race.is_none() {
            for i in items {
                let race_words = ["your 5K", "your 10K", "your half", "your marathon", "your race"];
                prop_assert!(!i.text.contains("finish-line"), "{}", i.text);
                prop_assert!(race_words.iter().all(|w| !i.text.contains(w) && !i.why.contains(w)), "{}", i.text);
            }
        }
        // The one ready never comes before the recovery window closes.
        prop_assert!(result.recovery.ready >= result.recovery.ready_at);
    }
}

#[test]
fn changing_athlete_settings_recomputes_from_the_stored_stream() {
    let (home, before) = import_reference("tempo-60", &[(60, 160)], 3.3);
    // The file is gone; only the stored stream remains.
    std::fs::remove_file(home.path().join("tempo-60.fit")).unwrap_or_default();
    let cfg = home.path().join(".config/recoverd/config.toml");
    std::fs::write(&cfg, "[athlete]\nmax_hr = 185\nresting_hr = 50\nthreshold_hr = 150\nsex = \"male\"\n[notifications]\nenabled = false\n")
        .unwrap_or_default();
    let out = support::run(home.path(), &["show", "--format", "json"]);
    let after: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(after["athlete"]["threshold_hr"].as_f64(), Some(150.0));
    let (b, a) = (
        before["effort"]["hrss"].as_f64().unwrap_or(0.0),
        after["effort"]["hrss"].as_f64().unwrap_or(0.0),
    );
    assert!(a > b, "a lower threshold must raise HRSS: {b} → {a}");
    assert_eq!(
        after["effort"]["class"], "max",
        "160 bpm is 107 % of a 150 threshold"
    );
    // Nothing changed since: nothing is recomputed (the stored judgement is byte-for-byte the same).
    let again = support::run(home.path(), &["show", "--format", "json"]);
    assert_eq!(again.stdout, out.stdout);
}

#[test]
fn notification_snapshots_for_each_reference_session() {
    for &(name, segs, speed, _, _, _) in REFERENCE {
        let (home, _) = import_reference(name, segs, speed);
        let db = home.path().join(".local/share/recoverd/recoverd.db");
        let store = recoverd::store::Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
        let id = store
            .newest_ids(Some(1))
            .ok()
            .and_then(|ids| ids.first().copied())
            .unwrap_or_else(|| panic!("{name}: nothing stored"));
        let stored = store
            .load(id)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("{name}: cannot load"));
        // The runner's zone (the reference config's): CEST on these dates, as the file says.
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or_else(|e| panic!("{e}"));
        let (summary, body) = recoverd::render::notification(&stored, &tz)
            .unwrap_or_else(|| panic!("{name}: no notification"));
        assert!(
            body.lines().count() <= 5,
            "{name}: a few short lines\n{body}"
        );
        insta::assert_snapshot!(
            format!("{name}-notification"),
            format!("{summary}\n---\n{body}")
        );
    }
}
