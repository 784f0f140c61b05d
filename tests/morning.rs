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
    let ten_days_ago = Utc::now() - Duration::days(10);
    let day = ten_days_ago.date_naive();
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
    let mut fa = FitActivity::segments(race_start(), &[(42, 174)]);
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

/// The return-to-training event of the calendar: (UID, DTSTART).
fn ready_event(home: &Path) -> (String, String) {
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
    (field("UID:"), field("DTSTART:"))
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
    let status = json(&support::run(home, &["status", "--json"]));
    assert_eq!(time(&status["latest_hard"]["ready"]), moved);
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
    let (uid_after, start_after) = ready_event(home);
    assert_eq!(uid_after, uid, "the moved ready replaces the old event");
    assert_eq!(start_after, ics_time(once));
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
