//! One truth at the runner's local time (issue 13): the same `ready` in every view, local hours
//! across a daylight-saving change, a single heart-rate spike that re-rates nothing, and races
//! told from training runs of the same length.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use serde_json::Value;
use support::FitActivity;

const START: i64 = 1_776_675_731; // Mon 2026-04-20 09:02:11Z

fn ok(out: &Output) -> &[u8] {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    &out.stdout
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(ok(out)).unwrap_or_else(|e| panic!("{e}"))
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(ok(out)).into_owned()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn import(home: &Path, file: &Path) {
    ok(&support::run(
        home,
        &["import", "--no-notify", file.to_str().unwrap_or_default()],
    ));
}

/// Runs the binary under a `TZ`, with no `timezone =` in the config.
fn run_tz(home: &Path, tz: &str, args: &[&str]) -> Output {
    Command::new(support::bin())
        .args(args)
        .env("HOME", home)
        .env("TZ", tz)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("RECOVERD_CONFIG")
        .env_remove("RECOVERD_DB")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn one_ready_in_every_view() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    support::reference_config(home.path());
    // A 5K at max effort: 60 h after 11:37 CEST ends at 23:37, so `ready` moves to 06:00.
    let mut fa = FitActivity::segments(START, &[(15, 130), (20, 176)]);
    fa.speed = 5000.0 / 2100.0;
    let file = home.path().join("5k.fit");
    std::fs::write(&file, fa.encode()).unwrap_or_else(|e| panic!("{e}"));
    import(home.path(), &file);

    let show = json(&support::run(home.path(), &["show", "--format", "json"]));
    let ready = time(&show["recovery"]["ready"]);
    assert_eq!(show["activity"]["is_race"], true);
    assert_eq!(show["activity"]["race_source"], "distance");
    assert!(
        show["recovery"]["moved_from_night"]
            .as_bool()
            .unwrap_or(false)
    );
    assert!(ready > time(&show["recovery"]["ready_at"]));
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or_else(|e| panic!("{e}"));
    let local = recoverd::render::local_short(ready, &tz);
    assert_eq!(local, "Thu 23 Apr 06:00");

    let list = json(&support::run(home.path(), &["list", "--json"]));
    assert_eq!(time(&list[0]["ready"]), ready);
    let status = json(&support::run(home.path(), &["status", "--json"]));
    assert_eq!(time(&status["latest_hard"]["ready"]), ready);

    let ics = text(&support::run(home.path(), &["show", "--format", "ics"]));
    let stamp = ready.format("DTSTART:%Y%m%dT%H%M%SZ").to_string();
    let event = ics
        .split("BEGIN:VEVENT")
        .filter(|e| e.contains("CATEGORIES:return_to_training"))
        .last()
        .unwrap_or_default();
    assert!(event.contains(&stamp), "{event}");
    // Multi-day items do not block the calendar; the ice bath does.
    for e in ics.split("BEGIN:VEVENT").skip(1) {
        let transparent = e.contains("TRANSP:TRANSPARENT");
        if e.contains("CATEGORIES:rest") || e.contains("CATEGORIES:foam_roller") {
            assert!(transparent, "{e}");
        }
        if e.contains("CATEGORIES:ice_bath") {
            assert!(e.contains("TRANSP:OPAQUE"), "{e}");
        }
    }

    let db = home.path().join(".local/share/recoverd/recoverd.db");
    let store = recoverd::store::Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let stored = store
        .load(1)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no activity 1"));
    let (_, body) =
        recoverd::render::notification(&stored, &tz).unwrap_or_else(|| panic!("no text"));
    assert!(body.contains(&local), "{body}");

    // The text views show the same local time, never `ready_at`.
    for args in [
        &["show"][..],
        &["show", "--format", "markdown"][..],
        &["status"][..],
    ] {
        let out = text(&support::run(home.path(), args));
        assert!(out.contains(&local), "{args:?}:\n{out}");
        assert!(!out.contains("23:37"), "{args:?} shows ready_at:\n{out}");
    }
    let list = text(&support::run(home.path(), &["list"]));
    assert!(list.starts_with("   ID  START"), "{list}");
    assert!(list.contains(&local), "{list}");
}

/// A GPX run of `minutes` at a constant heart rate, `km` long, with a track name.
fn gpx(name: &str, start: i64, minutes: u32, bpm: u16, km: f64) -> String {
    let n = minutes * 60;
    let step = km * 1000.0 / f64::from(n) / 111_195.0;
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"recoverd tests\" \
         xmlns=\"http://www.topografix.com/GPX/1/1\" \
         xmlns:gpxtpx=\"http://www.garmin.com/xmlschemas/TrackPointExtension/v1\">\n\
         <trk><name>{name}</name><type>running</type><trkseg>\n"
    );
    for i in 0..=n {
        let t = DateTime::from_timestamp(start + i64::from(i), 0).unwrap_or_default();
        s.push_str(&format!(
            "<trkpt lat=\"{:.7}\" lon=\"-74.0000000\"><time>{}</time><extensions>\
             <gpxtpx:TrackPointExtension><gpxtpx:hr>{bpm}</gpxtpx:hr></gpxtpx:TrackPointExtension>\
             </extensions></trkpt>\n",
            40.7 + f64::from(i) * step,
            t.format("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    s.push_str("</trkseg></trk>\n</gpx>\n");
    s
}

fn config_without_zone(home: &Path) {
    let dir = home.join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap_or_default();
    std::fs::write(
        dir.join("config.toml"),
        "[athlete]\nmax_hr = 185\nresting_hr = 50\nthreshold_hr = 168\nsex = \"male\"\n\
         [notifications]\nenabled = false\n",
    )
    .unwrap_or_default();
}

#[test]
fn a_half_marathon_before_the_march_change_in_new_york_hours() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    config_without_zone(home.path());
    // Sat 7 March 2026, 08:00 EST (13:00Z); 105 min at 166 → ends 09:45 EST. Clocks go
    // forward at 02:00 on Sunday 8 March.
    let start = 1_772_888_400;
    let file = home.path().join("half.gpx");
    std::fs::write(&file, gpx("City Half Marathon", start, 105, 166, 21.1))
        .unwrap_or_else(|e| panic!("{e}"));
    let ny = "America/New_York";
    ok(&run_tz(
        home.path(),
        ny,
        &["import", "--no-notify", file.to_str().unwrap_or_default()],
    ));
    let v = json(&run_tz(home.path(), ny, &["show", "--format", "json"]));
    assert_eq!(v["activity"]["is_race"], true);
    assert_eq!(v["recovery"]["long_race"], "half_marathon");
    // Three days easy-only: ready Tue 10 March 14:45Z, which is 10:45 EDT (not 09:45).
    assert_eq!(v["recovery"]["ready"], "2026-03-10T14:45:00Z");
    // Doses as numbers beside the words: 105 min → (1.0 − 0.4) × 1.75 h = 1.05 L → 1.3–1.6 L.
    let plan = v["plan"].as_array().cloned().unwrap_or_default();
    let hydrate = plan
        .iter()
        .find(|i| i["tactic"] == "hydrate")
        .unwrap_or_else(|| panic!("no hydrate item"));
    assert_eq!(hydrate["dose"]["litres"], serde_json::json!([1.3, 1.6]));
    assert!(
        hydrate["text"]
            .as_str()
            .unwrap_or_default()
            .contains("1.3–1.6 L")
    );
    let ice = plan
        .iter()
        .find(|i| i["tactic"] == "ice_bath")
        .unwrap_or_else(|| panic!("no ice bath"));
    assert_eq!(ice["dose"]["celsius"], serde_json::json!([11.0, 15.0]));
    let show = text(&run_tz(home.path(), ny, &["show"]));
    assert!(show.contains("Sat 7 Mar 2026, 08:00"), "{show}");
    assert!(
        show.contains("Ready for hard training and racing: Tue 10 Mar 10:45"),
        "{show}"
    );
    // Items before the change in EST, after it in EDT: the finish at 09:45, day 1 at 10:45.
    assert!(show.contains("\nNow\n  09:45–10:15"), "{show}");
    assert!(
        show.contains("\nTomorrow\n  10:45 → Tue 10:45 Easy, low-impact movement"),
        "{show}"
    );
    let list = json(&run_tz(home.path(), ny, &["list", "--json"]));
    assert_eq!(list[0]["ready"], v["recovery"]["ready"]);
    let status = text(&run_tz(home.path(), ny, &["status"]));
    assert!(status.contains("Tue 10 Mar"), "{status}");
}

#[test]
fn a_training_run_of_half_marathon_length_is_not_a_race() {
    // 100 min at 140 bpm over 21.5 km: hard, not very hard.
    let start = 1_772_888_400;
    for (name, race) in [("Sunday long run", false), ("City Half Marathon", true)] {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        support::reference_config(home.path());
        let file = home.path().join("long.gpx");
        std::fs::write(&file, gpx(name, start, 100, 140, 21.5)).unwrap_or_else(|e| panic!("{e}"));
        import(home.path(), &file);
        let v = json(&support::run(home.path(), &["show", "--format", "json"]));
        assert_eq!(v["effort"]["class"], "hard", "{name}");
        assert_eq!(v["activity"]["is_race"], race, "{name}");
        let show = text(&support::run(home.path(), &["show"]));
        let head = show.lines().next().unwrap_or_default().to_string();
        if race {
            assert_eq!(v["activity"]["race_source"], "name");
            assert!(head.starts_with("Half marathon, 21.5 km"), "{head}");
            assert!(show.contains("your half marathon"), "{show}");
        } else {
            assert_eq!(v["activity"]["race_source"], Value::Null);
            assert!(head.starts_with("Run, 21.5 km"), "{head}");
            assert!(show.contains("this 21.5 km run"), "{show}");
            assert!(
                !show.contains("half marathon") && !show.contains("finish-line"),
                "{show}"
            );
            assert_eq!(v["recovery"]["long_race"], Value::Null);
            assert_eq!(v["recovery"]["ready"], v["recovery"]["ready_at"]);
        }
        // The runner's word overrides the name.
        let marked = if race { "training" } else { "race" };
        ok(&support::run(home.path(), &["mark", "1", marked]));
        let v = json(&support::run(home.path(), &["show", "--format", "json"]));
        assert_eq!(v["activity"]["is_race"], !race, "{name} marked {marked}");
        assert_eq!(
            v["activity"]["race_source"],
            if race { Value::Null } else { "marked".into() }
        );
    }
}

#[test]
fn a_single_spike_re_rates_nothing() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap();
    // No max HR, no birth year: max HR is the default 190 or a confirmed peak above it.
    std::fs::write(
        dir.join("config.toml"),
        "[athlete]\nresting_hr = 50\nsex = \"male\"\n[notifications]\nenabled = false\n",
    )
    .unwrap_or_default();
    let day = 86_400;
    let write = |name: &str, fa: &FitActivity| {
        let p = home.path().join(name);
        std::fs::write(&p, fa.encode()).unwrap_or_else(|e| panic!("{e}"));
        p
    };
    // Three runs that reach 195 (confirmed from the second on), a week apart.
    for i in 0..3 {
        let mut fa = FitActivity::segments(START + i * 7 * day, &[(40, 150), (2, 195), (10, 150)]);
        fa.serial += i as u32;
        import(home.path(), &write(&format!("run{i}.fit"), &fa));
    }
    let before: Vec<Value> = (1..=3)
        .map(|id| {
            json(&support::run(
                home.path(),
                &["show", &id.to_string(), "--format", "json"],
            ))
        })
        .collect();
    assert_eq!(before[0]["athlete"]["max_hr"], 190);
    assert_eq!(before[2]["athlete"]["max_hr"], 195);
    assert_eq!(before[2]["athlete"]["sources"]["max_hr"], "observed");
    assert_eq!(
        before[2]["athlete"]["max_hr_confirmed_by"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // A file with one optical spike to 215 for 15 s, between the first and second runs.
    let mut spike = FitActivity::segments(START + 3 * day, &[(45, 150)]);
    spike.serial += 10;
    for s in spike.samples.iter_mut().skip(600).take(15) {
        s.hr = Some(215);
    }
    import(home.path(), &write("spike.fit", &spike));
    for (id, b) in (1..=3).zip(&before) {
        let a = json(&support::run(
            home.path(),
            &["show", &id.to_string(), "--format", "json"],
        ));
        assert_eq!(
            a["athlete"]["max_hr"], b["athlete"]["max_hr"],
            "activity {id}"
        );
        assert_eq!(a["effort"]["class"], b["effort"]["class"], "activity {id}");
        assert_eq!(a["effort"]["hrss"], b["effort"]["hrss"], "activity {id}");
    }
    // The spike is reported, not used.
    let spiked = json(&support::run(
        home.path(),
        &["show", "4", "--format", "json"],
    ));
    assert_eq!(spiked["athlete"]["unconfirmed_peak"], 215);
    let show = text(&support::run(home.path(), &["show", "4"]));
    assert!(
        show.contains("215 bpm") && show.contains("athlete.max_hr"),
        "{show}"
    );
    let status = text(&support::run(home.path(), &["status"]));
    assert!(status.contains("215 bpm"), "{status}");
    let doctor = support::run(home.path(), &["doctor"]);
    let doctor = String::from_utf8_lossy(&doctor.stdout);
    assert!(doctor.contains("max HR: A peak of 215 bpm"), "{doctor}");
}

#[test]
fn forget_removes_an_activity_and_its_file_stays_out() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    support::reference_config(home.path());
    let empty = text(&support::run(home.path(), &["list"]));
    assert!(empty.contains("No activities stored yet"), "{empty}");
    let fa = FitActivity::segments(START, &[(30, 140)]);
    let file = home.path().join("a.fit");
    std::fs::write(&file, fa.encode()).unwrap_or_else(|e| panic!("{e}"));
    import(home.path(), &file);
    ok(&support::run(home.path(), &["forget", "1"]));
    let list = json(&support::run(home.path(), &["list", "--json"]));
    assert_eq!(list, Value::Array(vec![]));
    // The same file again, even copied elsewhere: skipped as forgotten.
    let copy = home.path().join("copy.fit");
    std::fs::copy(&file, &copy).unwrap_or_else(|e| panic!("{e}"));
    for p in [&file, &copy] {
        let out = support::run(
            home.path(),
            &[
                "import",
                "--json",
                "--no-notify",
                p.to_str().unwrap_or_default(),
            ],
        );
        let line: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert_eq!(line["status"], "skipped", "{line}");
        assert!(
            line["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("forgotten")
        );
    }
    assert!(!support::run(home.path(), &["forget", "1"]).status.success());
}

#[test]
fn an_older_model_is_judged_again_once_from_the_stored_stream() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    support::reference_config(home.path());
    let fa = FitActivity::segments(START, &[(60, 160)]);
    let file = home.path().join("tempo.fit");
    std::fs::write(&file, fa.encode()).unwrap_or_else(|e| panic!("{e}"));
    import(home.path(), &file);
    std::fs::remove_file(&file).unwrap_or_else(|e| panic!("{e}"));
    // What version 1 stored: no `ready`, no race source, no local day in the judgement.
    let db = home.path().join(".local/share/recoverd/recoverd.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        let json: String = conn
            .query_row("SELECT json FROM assessments", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut v: Value = serde_json::from_str(&json).unwrap_or_default();
        for (k, f) in [("recovery", "ready"), ("recovery", "easy_from")] {
            v[k].as_object_mut().map(|o| o.remove(f));
        }
        v.as_object_mut().map(|o| o.remove("local_day"));
        conn.execute(
            "UPDATE assessments SET model_version = 1, json = ?1",
            [v.to_string()],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let first = support::run(home.path(), &["list", "--json"]);
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("recomputed"),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let list = json(&first);
    assert_eq!(time(&list[0]["ready"]), time(&list[0]["ready_at"]));
    let again = support::run(home.path(), &["list", "--json"]);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("recomputed"));
    assert_eq!(json(&again), list);
}

#[test]
fn an_evening_gpx_run_counts_for_its_local_day() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    config_without_zone(home.path());
    // Fri 6 March 2026, 21:30 EST = Sat 02:30Z: a GPX file has no offset of its own.
    let file = home.path().join("evening.gpx");
    std::fs::write(&file, gpx("Evening run", 1_772_850_600, 30, 140, 6.0))
        .unwrap_or_else(|e| panic!("{e}"));
    let ny = "America/New_York";
    ok(&run_tz(
        home.path(),
        ny,
        &["import", "--no-notify", file.to_str().unwrap_or_default()],
    ));
    let v = json(&run_tz(home.path(), ny, &["show", "--format", "json"]));
    assert_eq!(v["activity"]["start"], "2026-03-07T02:30:00Z");
    assert_eq!(v["activity"]["local_day"], "2026-03-06");
    let list = text(&run_tz(home.path(), ny, &["list"]));
    assert!(list.contains("2026-03-06 21:30"), "{list}");
}
