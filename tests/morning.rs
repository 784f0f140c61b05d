//! The morning check end to end (issue 15): a generated hard race with 20 normal days before
//! it, in a real SQLite store through the real binary. A bad morning on the predicted ready day
//! moves `ready` once in `show`, `list`, `status` and the calendar (same UID); `feel` answers
//! through the command; three bad mornings and a fourth give persisting fatigue; nights stored
//! before the race is imported are judged when it arrives.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use jiff::tz::TimeZone;
use recoverd::model::DaySignals;
use recoverd::store::Store;
use serde_json::Value;
use support::FitActivity;

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

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC)
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn db(home: &Path) -> PathBuf {
    home.join(".local/share/recoverd/recoverd.db")
}

/// A 10K race (42 min at 174, 10.0 km: max effort, a race by its distance) ten days ago, so
/// that its whole window lies in the past and `feel --date` can reach every morning of it.
fn race_start() -> i64 {
    race_start_ago(10)
}

/// 07:00 UTC the given number of days ago.
fn race_start_ago(days: i64) -> i64 {
    let day = (Utc::now() - Duration::days(days)).date_naive();
    day.and_hms_opt(7, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp()
}

fn race_day() -> NaiveDate {
    recoverd::localtime::day(
        DateTime::from_timestamp(race_start(), 0).unwrap_or_default(),
        &berlin(),
    )
}

fn signals(day: NaiveDate, rhr: u16, hrv: f64) -> DaySignals {
    DaySignals {
        rhr: Some(rhr),
        rhr_source: Some(recoverd::model::RhrSource::Monitoring),
        hrv_rmssd_ms: Some(hrv),
        hrv_source: Some(recoverd::model::HrvSource::HrvStatus),
        ..recoverd::morning::empty_day(day)
    }
}

/// 20 normal nights before the race: resting HR 46/50 (48 ± 2.05), ln RMSSD 3.9/4.1.
fn store_normal_days(home: &Path) {
    std::fs::create_dir_all(home.join(".local/share/recoverd")).unwrap_or_default();
    let mut store = Store::open(&db(home)).unwrap_or_else(|e| panic!("{e}"));
    for i in 1..=20 {
        let (rhr, ln) = if i % 2 == 0 { (46, 3.9) } else { (50, 4.1) };
        let d = signals(race_day() - Duration::days(i), rhr, f64::exp(ln));
        store
            .put_signals(&d, Utc::now())
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

fn put_day(home: &Path, d: &DaySignals) {
    let mut store = Store::open(&db(home)).unwrap_or_else(|e| panic!("{e}"));
    store
        .put_signals(d, Utc::now())
        .unwrap_or_else(|e| panic!("{e}"));
}

fn import_race(home: &Path) {
    import_race_at(home, race_start());
}

fn import_race_at(home: &Path, start: i64) {
    let mut fa = FitActivity::segments(start, &[(42, 174)]);
    fa.speed = 10_000.0 / (42.0 * 60.0);
    let file = home.join("race.fit");
    std::fs::write(&file, fa.encode()).unwrap_or_else(|e| panic!("{e}"));
    ok(&support::run(
        home,
        &["import", "--no-notify", file.to_str().unwrap_or_default()],
    ));
}

fn new_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    support::reference_config(home.path());
    home
}

fn show(home: &Path) -> Value {
    json(&support::run(home, &["show", "latest", "--format", "json"]))
}

/// The return-to-training event of the calendar: (UID, DTSTART), with its SEQUENCE.
fn ready_event(home: &Path) -> (String, String) {
    let (uid, start, _) = ready_event_seq(home);
    (uid, start)
}

fn ready_event_seq(home: &Path) -> (String, String, String) {
    let ics = String::from_utf8_lossy(ok(&support::run(
        home,
        &["show", "latest", "--format", "ics"],
    )))
    .replace("\r\n ", "");
    let event = ics
        .split("BEGIN:VEVENT")
        .find(|e| e.contains("CATEGORIES:return_to_training") && e.contains("hard"))
        .unwrap_or_else(|| panic!("no ready event in {ics}"))
        .to_string();
    let field = |name: &str| {
        event
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    (field("UID:"), field("DTSTART:"), field("SEQUENCE:"))
}

fn ics_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn six_local(day: NaiveDate) -> DateTime<Utc> {
    recoverd::localtime::morning(day, &berlin())
}

#[test]
fn nights_stored_before_the_race_are_judged_when_it_arrives_and_ready_moves_in_every_view() {
    let home = new_home();
    let home = home.path();
    store_normal_days(home);
    // The model's ready for this race is race end + 60 h; its local day gets §7's vector night.
    // 1 Hz samples from 0 s: the last one, the end, at 42 min − 1 s.
    let end = DateTime::from_timestamp(race_start() + 42 * 60 - 1, 0).unwrap_or_default();
    let model_ready = recoverd::localtime::out_of_the_night(end + Duration::hours(60), &berlin());
    let ready_day = recoverd::localtime::day(model_ready, &berlin());
    put_day(home, &signals(ready_day, 53, 44.0));
    put_day(home, &signals(ready_day - Duration::days(1), 48, 55.0));
    import_race(home);

    let v = show(home);
    let rec = &v["recovery"];
    assert_eq!(v["effort"]["class"], "max");
    assert_eq!(time(&rec["model_ready"]), model_ready);
    let moved = six_local(ready_day + Duration::days(1));
    assert_eq!(time(&rec["ready"]), moved, "{rec}");
    let hours = (moved - model_ready).num_minutes() as f64 / 60.0;
    assert!((rec["ready_moved_h"].as_f64().unwrap_or_default() - hours).abs() < 0.06);
    let mornings = rec["mornings"].as_array().cloned().unwrap_or_default();
    let bad = mornings
        .iter()
        .find(|m| m["day"] == ready_day.to_string())
        .unwrap_or_else(|| panic!("no morning on {ready_day}: {rec}"));
    assert_eq!(bad["verdict"], "not_recovered");
    assert_eq!(bad["flags"], serde_json::json!(["rhr_high", "hrv_low"]));
    assert_eq!(bad["rhr"], 53);
    assert_eq!(bad["normal"]["rhr_mean"], 48.0);
    let before = mornings
        .iter()
        .find(|m| m["day"] == (ready_day - Duration::days(1)).to_string())
        .unwrap_or_else(|| panic!("no morning before: {rec}"));
    assert_eq!(before["verdict"], "recovered");

    let list = json(&support::run(home, &["list", "--json"]));
    assert_eq!(time(&list[0]["ready"]), moved);
    assert_eq!(list[0]["ready_moved_h"], rec["ready_moved_h"]);
    let status = json(&support::run(home, &["status", "--json"]));
    assert_eq!(time(&status["latest_hard"]["ready"]), moved);
    assert_eq!(status["latest_hard"]["ready_moved_h"], rec["ready_moved_h"]);
    let (_, start) = ready_event(home);
    assert_eq!(start, ics_time(moved));
    let text = String::from_utf8_lossy(ok(&support::run(home, &["show"]))).into_owned();
    assert!(text.contains("Morning check"), "{text}");
    assert!(text.contains("moved from"), "{text}");

    let days = json(&support::run(home, &["days", "--json"]));
    let d = days
        .as_array()
        .and_then(|a| a.iter().find(|d| d["day"] == ready_day.to_string()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(d["rhr_source"], "monitoring");
    assert_eq!(d["verdict"], "not_recovered");
    assert_eq!(d["normal"]["ln_rmssd_mean"], 4.0);
    // A day before the race is in no window: no verdict, no normal.
    let old = days
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(old["verdict"], Value::Null);
    assert_eq!(old["normal"], Value::Null);

    // Judged again as training (a re-plan): the same nights move it the same way.
    ok(&support::run(home, &["mark", "1", "training"]));
    assert_eq!(time(&show(home)["recovery"]["ready"]), moved);
    // Forgotten: its window goes, and its days are judged in none.
    ok(&support::run(home, &["forget", "1"]));
    let days = json(&support::run(home, &["days", "--json"]));
    assert!(
        days.as_array()
            .is_some_and(|a| a.iter().all(|d| d["verdict"].is_null())),
        "{days}"
    );
}

#[test]
fn status_gives_this_mornings_verdict_against_the_normal() {
    let home = new_home();
    let home = home.path();
    // Normal days before a race two days ago; today is inside its window.
    std::fs::create_dir_all(home.join(".local/share/recoverd")).unwrap_or_default();
    let start = race_start_ago(2);
    let race_day = recoverd::localtime::day(
        DateTime::from_timestamp(start, 0).unwrap_or_default(),
        &berlin(),
    );
    for i in 1..=20 {
        let rhr = if i % 2 == 0 { 46 } else { 50 };
        put_day(home, &signals(race_day - Duration::days(i), rhr, 55.0));
    }
    import_race_at(home, start);
    let text = String::from_utf8_lossy(ok(&support::run(home, &["status"]))).into_owned();
    assert!(text.contains("This morning: no data yet"), "{text}");
    ok(&support::run(home, &["feel", "2"]));
    let status = json(&support::run(home, &["status", "--json"]));
    let m = &status["morning"];
    assert_eq!(m["verdict"], "not_recovered", "{status}");
    assert_eq!(m["flags"], serde_json::json!(["feel_low"]));
    assert_eq!(m["feel"], 2);
    assert_eq!(m["normal"]["rhr_mean"], 48.0);
    let text = String::from_utf8_lossy(ok(&support::run(home, &["status"]))).into_owned();
    assert!(
        text.contains("This morning: not recovered: feel 2, sore or tired"),
        "{text}"
    );
}

#[test]
fn feel_through_the_command_moves_ready_once_then_persisting_after_three_days() {
    let home = new_home();
    let home = home.path();
    store_normal_days(home);
    import_race(home);
    let v = show(home);
    let model_ready = time(&v["recovery"]["ready"]);
    assert_eq!(v["recovery"]["ready_moved_h"], 0.0);
    let (uid, start) = ready_event(home);
    assert_eq!(start, ics_time(model_ready));
    let ready_day = recoverd::localtime::day(model_ready, &berlin());

    let feel =
        |day: NaiveDate, n: &str| support::run(home, &["feel", n, "--date", &day.to_string()]);
    let out = feel(ready_day, "2");
    let said = String::from_utf8_lossy(ok(&out)).into_owned();
    assert!(said.contains("not recovered"), "{said}");
    let v = show(home);
    let once = six_local(ready_day + Duration::days(1));
    assert_eq!(time(&v["recovery"]["ready"]), once);
    let (uid_after, start_after, sequence) = ready_event_seq(home);
    assert_eq!(uid_after, uid, "the moved ready replaces the old event");
    assert_eq!(start_after, ics_time(once));
    assert_eq!(sequence, "1", "a revision of the event");
    // A good answer the next morning keeps it.
    ok(&feel(ready_day + Duration::days(1), "4"));
    assert_eq!(time(&show(home)["recovery"]["ready"]), once);
    // Changed mind: bad after all, and the morning after it too → three moves in all; a
    // fourth bad morning cannot move it further: persisting fatigue, said plainly.
    for i in 1..=2 {
        ok(&feel(ready_day + Duration::days(i), "1"));
    }
    let v = show(home);
    let thrice = six_local(ready_day + Duration::days(3));
    assert_eq!(time(&v["recovery"]["ready"]), thrice);
    assert_eq!(v["recovery"]["persisting_fatigue"], false);
    ok(&feel(ready_day + Duration::days(3), "2"));
    let v = show(home);
    assert_eq!(time(&v["recovery"]["ready"]), thrice);
    assert_eq!(
        v["recovery"]["persisting_fatigue"], true,
        "{}",
        v["recovery"]
    );
    let text = String::from_utf8_lossy(ok(&support::run(home, &["show"]))).into_owned();
    assert!(text.contains("Persisting fatigue"), "{text}");
    let list = json(&support::run(home, &["list", "--json"]));
    assert_eq!(time(&list[0]["ready"]), thrice);
}

#[test]
fn feel_refuses_what_is_not_an_answer_and_the_future() {
    let home = new_home();
    let home = home.path();
    for bad in ["0", "6", "-1", "soso"] {
        let out = support::run(home, &["feel", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("1 to 5"), "{err}");
    }
    let tomorrow = (Utc::now() + Duration::days(2)).date_naive().to_string();
    let out = support::run(home, &["feel", "3", "--date", &tomorrow]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("future"));
    let out = support::run(home, &["feel", "3", "--date", "21/04/2026"]);
    assert_eq!(out.status.code(), Some(2));
    // Today, then the table and its JSON.
    ok(&support::run(home, &["feel", "3"]));
    let days = json(&support::run(home, &["days", "--json", "--limit", "5"]));
    assert_eq!(days[0]["feel"], 3);
    assert_eq!(days[0]["rhr"], Value::Null);
    assert_eq!(days[0]["verdict"], Value::Null);
    let text = String::from_utf8_lossy(ok(&support::run(home, &["days"]))).into_owned();
    assert!(text.starts_with("DAY"), "{text}");
}

#[test]
fn a_day_inside_two_windows_is_judged_in_the_later_activitys() {
    let home = new_home();
    let home = home.path();
    store_normal_days(home);
    let day_a = race_day();
    for i in 1..=6 {
        let d = DaySignals {
            feel: Some(3),
            ..recoverd::morning::empty_day(day_a + Duration::days(i))
        };
        put_day(home, &d);
    }
    // Two hard races two days apart; the later one is imported first (a backfill out of order).
    import_race_at(home, race_start_ago(8));
    import_race_at(home, race_start());
    let days = json(&support::run(home, &["days", "--json", "--limit", "6"]));
    let owner = |i: i64| {
        days.as_array()
            .and_then(|a| {
                a.iter()
                    .find(|d| d["day"] == (day_a + Duration::days(i)).to_string())
            })
            .map(|d| (d["activity_id"].clone(), d["verdict"].clone()))
            .unwrap_or_default()
    };
    let (later, earlier) = (Value::from(1), Value::from(2));
    assert_eq!(owner(1), (earlier.clone(), "recovered".into()), "{days}");
    assert_eq!(
        owner(2),
        (earlier, "recovered".into()),
        "the later race's own day"
    );
    for i in 3..=6 {
        assert_eq!(owner(i), (later.clone(), "recovered".into()), "{days}");
    }
    // Judged easier after all (a changed setting's re-plan): its window closes at the next
    // change to its days.
    let conn = rusqlite::Connection::open(db(home)).unwrap_or_else(|e| panic!("{e}"));
    conn.execute(
        "UPDATE assessments SET class = 'moderate' WHERE activity_id = 2",
        [],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    let first = (day_a + Duration::days(1)).to_string();
    ok(&support::run(home, &["feel", "3", "--date", &first]));
    let days = json(&support::run(home, &["days", "--json", "--limit", "6"]));
    let first = days
        .as_array()
        .and_then(|a| a.iter().find(|d| d["day"] == first))
        .cloned()
        .unwrap_or_default();
    assert_eq!(first["verdict"], Value::Null, "{days}");
}

/// The files of one night before local day `day`: monitoring heart rate from 23:00 to 06:00
/// (CET, the watch's +1 h) at `bpm`, and an HRV-status summary of `rmssd` ms.
fn night_files(dir: &Path, day: NaiveDate, bpm: u8, rmssd: f64) {
    let eve = (day - Duration::days(1))
        .and_hms_opt(22, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp();
    let hr = support::Monitoring::night(eve, 7 * 60, 60, |_| bpm);
    std::fs::write(dir.join(format!("{day}-monitoring.fit")), hr.encode())
        .unwrap_or_else(|e| panic!("{e}"));
    let morning = eve + 8 * 3600;
    let hrv = support::HrvStatus {
        created: morning,
        summary: Some((morning, Some(rmssd))),
        values: Vec::new(),
    };
    std::fs::write(dir.join(format!("{day}-hrv.fit")), hrv.encode())
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Writes the nights' monitoring and HRV-status files into `home/folder` and imports them.
fn import_nights(home: &Path, folder: &str, nights: &[(NaiveDate, u8, f64)]) {
    let dir = home.join(folder);
    std::fs::create_dir_all(&dir).unwrap_or_default();
    for &(day, bpm, rmssd) in nights {
        night_files(&dir, day, bpm, rmssd);
    }
    ok(&support::run(
        home,
        &["import", "--no-notify", dir.to_str().unwrap_or_default()],
    ));
}

/// Ordinary nights `days` before the race (resting HR 46/50, RMSSD 50/60 ms, alternating).
fn normal_nights(days: std::ops::RangeInclusive<i64>) -> Vec<(NaiveDate, u8, f64)> {
    days.map(|i| {
        let (bpm, rmssd) = if i % 2 == 0 { (46, 50.0) } else { (50, 60.0) };
        (race_day() - Duration::days(i), bpm, rmssd)
    })
    .collect()
}

#[test]
fn wellness_files_of_a_bad_night_on_the_ready_day_move_ready_once() {
    let home = new_home();
    let home = home.path();
    import_nights(home, "nights", &normal_nights(1..=20));
    import_race(home);
    let model_ready = time(&show(home)["recovery"]["ready"]);
    let ready_day = recoverd::localtime::day(model_ready, &berlin());
    import_nights(home, "bad", &[(ready_day, 56, 40.0)]);

    let v = show(home);
    assert_eq!(
        time(&v["recovery"]["ready"]),
        six_local(ready_day + Duration::days(1)),
        "{}",
        v["recovery"]
    );
    let days = json(&support::run(home, &["days", "--json", "--limit", "1"]));
    let d = &days[0];
    assert_eq!(d["day"], ready_day.to_string());
    assert_eq!(
        (d["rhr"].clone(), d["rhr_source"].clone()),
        (56.into(), "monitoring".into())
    );
    assert_eq!(d["hrv_source"], "hrv_status");
    assert_eq!(d["verdict"], "not_recovered");
    assert_eq!(d["flags"], serde_json::json!(["rhr_high", "hrv_low"]));
    assert_eq!(d["normal"]["rhr_mean"], 48.0);
}

#[test]
fn nights_before_the_race_stored_last_make_its_normal_and_judge_its_mornings_again() {
    let home = new_home();
    let home = home.path();
    import_race(home);
    let model_ready = time(&show(home)["recovery"]["ready"]);
    let ready_day = recoverd::localtime::day(model_ready, &berlin());
    import_nights(home, "bad", &[(ready_day, 56, 40.0)]);
    // No normal yet: the night's values are no signal.
    let v = show(home);
    assert_eq!(time(&v["recovery"]["ready"]), model_ready);
    let last = v["recovery"]["mornings"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["verdict"], "unknown", "{v}");
    // 20 nights six to eight weeks before the race arrive (an export synced late): the race's
    // normal exists now, and the ready day's night is judged against it.
    import_nights(home, "nights", &normal_nights(40..=59));
    assert_eq!(
        time(&show(home)["recovery"]["ready"]),
        six_local(ready_day + Duration::days(1))
    );
}
