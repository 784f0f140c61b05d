//! Wellness files (FIT monitoring and HRV status) through the real binary: real watch files,
//! generated ones written as the FIT SDK profile defines them, duplicates, archives, and the
//! per-day signals of MODEL.md §7.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use recoverd::ingest::{self, Parsed};
use support::{FIT_EPOCH, HrvStatus, Monitoring, TimeForm};

/// 2026-04-20T22:00:00Z: 23:00 local at +1 h, the evening before the night of 2026-04-21.
const EVENING: i64 = 1_776_722_400;

fn home(extra: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("config.toml"),
        format!("timezone = \"Europe/Copenhagen\"\n{extra}[notifications]\nenabled = false\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    home
}

/// `import --json` of the paths: one parsed line per file.
fn import(home: &Path, paths: &[&Path]) -> Vec<serde_json::Value> {
    let mut args = vec!["import", "--json", "--no-notify"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap_or_default()));
    let out = support::run(home, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{e}"));
    p
}

/// One stored day: rhr, rhr_source, rhr_monitoring, rhr_watch, hrv_rmssd_ms, hrv_source, feel.
#[derive(Debug, Clone, PartialEq)]
struct Day {
    rhr: Option<i64>,
    rhr_source: Option<String>,
    rhr_monitoring: Option<f64>,
    rhr_watch: Option<i64>,
    hrv: Option<f64>,
    hrv_source: Option<String>,
    feel: Option<i64>,
}

fn db(home: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(home.join(".local/share/recoverd/recoverd.db"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn days(home: &Path) -> BTreeMap<String, Day> {
    let c = db(home);
    let mut stmt = c
        .prepare(
            "SELECT day, rhr, rhr_source, rhr_monitoring, rhr_watch, hrv_rmssd_ms, hrv_source, feel
             FROM days",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            Day {
                rhr: r.get(1)?,
                rhr_source: r.get(2)?,
                rhr_monitoring: r.get(3)?,
                rhr_watch: r.get(4)?,
                hrv: r.get(5)?,
                hrv_source: r.get(6)?,
                feel: r.get(7)?,
            },
        ))
    })
    .unwrap_or_else(|e| panic!("{e}"))
    .filter_map(Result::ok)
    .collect()
}

fn days_of(line: &serde_json::Value) -> Vec<String> {
    line["days"]
        .as_array()
        .unwrap_or_else(|| panic!("no days in {line}"))
        .iter()
        .map(|d| d.as_str().unwrap_or_default().to_string())
        .collect()
}

/// A night at 60 bpm every minute from 23:00 to 07:00 local (+1 h), with 30 min at 48 from 03:00.
fn night(form: TimeForm) -> Monitoring {
    let mut m = Monitoring::night(EVENING, 480, 60, |i| {
        if (240..270).contains(&i) { 48 } else { 60 }
    });
    m.time_form = form;
    m.rhr = vec![(EVENING + 7 * 3600, 55, 51)];
    m
}

#[test]
fn a_generated_night_gives_its_resting_hr_whatever_the_timestamp_form() {
    for form in [TimeForm::Full, TimeForm::Ts16, TimeForm::Compressed] {
        let home = home("");
        let mut m = night(form);
        if form == TimeForm::Compressed {
            // Every 20 s, so that compressed headers (5-bit offsets) carry most samples.
            m = Monitoring::night(EVENING, 1440, 20, |i| {
                if (720..810).contains(&i) { 48 } else { 60 }
            });
            m.time_form = form;
        }
        let f = write(home.path(), "night.fit", &m.encode());
        let lines = import(home.path(), &[&f]);
        assert_eq!(lines[0]["status"], "imported", "{form:?}: {}", lines[0]);
        assert!(lines[0].get("activity_id").is_none(), "{}", lines[0]);
        assert_eq!(days_of(&lines[0]), ["2026-04-21"], "{form:?}");
        let d = &days(home.path())["2026-04-21"];
        assert_eq!(d.rhr_monitoring, Some(48.0), "{form:?}: {d:?}");
        assert_eq!(d.rhr, Some(48));
        assert_eq!(d.rhr_source.as_deref(), Some("monitoring"));
        if form != TimeForm::Compressed {
            assert_eq!(d.rhr_watch, Some(51), "field 1, never field 0 (55)");
        }
    }
}

#[test]
fn timestamp_16_is_resolved_across_its_rollover() {
    // 0xFFFF s ≈ 18.2 h: a night whose 16-bit stamps wrap mid-way still reads in order.
    let fit_evening = u32::try_from(EVENING - FIT_EPOCH).unwrap_or(0);
    let to_wrap = i64::from(0x1_0000 - (fit_evening & 0xFFFF)); // seconds until the wrap
    let start = EVENING + (to_wrap % 86_400) - 4 * 3600; // 4 h before a wrap
    let m = Monitoring::night(start, 480, 60, |_| 52);
    let w = match ingest::read_bytes(&m.encode()) {
        Ok(Parsed::Wellness(w)) => w,
        other => panic!("{other:?}"),
    };
    let ts: Vec<i64> = w.hr.iter().map(|s| s.ts).collect();
    let want: Vec<i64> = m.hr.iter().map(|h| h.0).collect();
    assert_eq!(ts, want);
}

#[test]
fn events_stamped_ahead_of_the_samples_do_not_move_the_timestamp_16_clock() {
    // As in the real corpus: an event stamped 40 min after the samples around it.
    let mut m = Monitoring::night(EVENING, 480, 60, |_| 52);
    m.events = vec![
        (100, EVENING + 100 * 60 + 2400),
        (300, EVENING + 3 * 86_400),
    ];
    let Ok(Parsed::Wellness(w)) = ingest::read_bytes(&m.encode()) else {
        panic!("not read as wellness");
    };
    let ts: Vec<i64> = w.hr.iter().map(|s| s.ts).collect();
    let want: Vec<i64> = m.hr.iter().map(|h| h.0).collect();
    assert_eq!(ts, want);
}

#[test]
fn without_monitoring_info_the_runner_zone_places_the_night() {
    let home = home("");
    let mut m = night(TimeForm::Ts16);
    m.utc_offset_s = None; // Europe/Copenhagen in April: +2 h
    let f = write(home.path(), "night.fit", &m.encode());
    let lines = import(home.path(), &[&f]);
    assert_eq!(days_of(&lines[0]), ["2026-04-21"]);
    let offsets: Vec<i64> = db(home.path())
        .prepare("SELECT DISTINCT utc_offset_s FROM monitoring_hr")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_default();
    assert_eq!(offsets, [7200]);
}

#[test]
fn the_same_file_is_a_duplicate_and_overlapping_samples_add_nothing() {
    let home = home("");
    let m = night(TimeForm::Ts16);
    let a = write(home.path(), "a.fit", &m.encode());
    let b = write(home.path(), "b.fit", &m.encode());
    // The second half of the night again, in a file of its own (another sha256).
    let mut half = m.clone();
    half.hr.drain(..240);
    half.created += 1;
    let c = write(home.path(), "c.fit", &half.encode());
    // a and b are read on two workers: either may come first.
    let lines = import(home.path(), &[&a, &b]);
    let status = |name: &str| {
        lines
            .iter()
            .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .unwrap_or_else(|| panic!("{name}: {lines:?}"))
            .clone()
    };
    let (la, lb) = (status("/a.fit"), status("/b.fit"));
    let (first, dup, first_name) = if la["status"] == "imported" {
        (la, lb, "a.fit")
    } else {
        (lb, la, "b.fit")
    };
    assert_eq!(first["status"], "imported", "{lines:?}");
    assert_eq!(days_of(&first), ["2026-04-21"]);
    assert_eq!(dup["status"], "duplicate", "{dup}");
    assert!(
        dup["reason"]
            .as_str()
            .is_some_and(|r| r.contains(first_name)),
        "{dup}"
    );
    let lines = import(home.path(), &[&c]);
    assert_eq!(lines[0]["status"], "imported");
    assert_eq!(days_of(&lines[0]), Vec::<String>::new(), "nothing new");
    let a = if first_name == "a.fit" { a } else { b };
    // The same path again, unchanged (known), then rewritten with the same content: its row
    // keeps the days it added.
    let again = import(home.path(), &[&a]);
    assert_eq!(again[0]["status"], "duplicate");
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&a, m.encode()).unwrap_or_else(|e| panic!("{e}"));
    let again = import(home.path(), &[&a]);
    assert_eq!(again[0]["status"], "duplicate");
    let files = support::files_json(home.path());
    let row = files
        .iter()
        .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with(first_name)))
        .unwrap_or_else(|| panic!("{files:?}"));
    assert_eq!(row["status"], "imported");
    assert_eq!(row["days"], serde_json::json!(["2026-04-21"]));
    let text = support::run(home.path(), &["files"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("wellness: 2026-04-21"));
}

#[test]
fn a_night_split_over_files_is_judged_whole_and_feel_is_kept() {
    let home = home("");
    let m = night(TimeForm::Ts16);
    let (mut first, mut second) = (m.clone(), m.clone());
    first.hr.truncate(150); // 23:00–01:30: under 3 h alone
    first.rhr.clear();
    second.hr.drain(..150);
    let f1 = write(home.path(), "1.fit", &first.encode());
    import(home.path(), &[&f1]);
    let d = &days(home.path())["2026-04-21"];
    assert_eq!(d.rhr_monitoring, None, "2.5 h is too short: {d:?}");
    db(home.path())
        .execute("UPDATE days SET feel = 2 WHERE day = '2026-04-21'", [])
        .unwrap_or_else(|e| panic!("{e}"));
    let f2 = write(home.path(), "2.fit", &second.encode());
    let lines = import(home.path(), &[&f2]);
    assert_eq!(days_of(&lines[0]), ["2026-04-21"]);
    let d = &days(home.path())["2026-04-21"];
    assert_eq!(d.rhr_monitoring, Some(48.0), "{d:?}");
    assert_eq!(d.feel, Some(2), "feel is never overwritten");
}

#[test]
fn wellness_files_import_from_gzip_and_zip() {
    let home = home("");
    let bytes = night(TimeForm::Ts16).encode();
    let gz = write(home.path(), "n.fit.gz", &support::gzip(&bytes));
    let mut other = night(TimeForm::Full);
    other.hr.iter_mut().for_each(|h| h.0 += 86_400);
    other.created += 86_400;
    let zip = write(
        home.path(),
        "export.zip",
        &support::zip(&[("WELLNESS/1_WELLNESS.fit", other.encode())]),
    );
    let lines = import(home.path(), &[&gz, &zip]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().all(|l| l["status"] == "imported"), "{lines:?}");
    assert_eq!(days(home.path()).len(), 2);
}

#[test]
fn sleep_and_other_types_stay_skipped_with_their_type() {
    let home = home("");
    let mut m = night(TimeForm::Ts16);
    m.file_type = 49;
    let f = write(home.path(), "sleep.fit", &m.encode());
    let lines = import(home.path(), &[&f]);
    assert_eq!(lines[0]["status"], "skipped");
    assert!(
        lines[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("sleep")),
        "{}",
        lines[0]
    );
    for t in [15, 28] {
        m.file_type = t;
        let bytes = m.encode();
        assert!(
            matches!(ingest::read_bytes(&bytes), Ok(Parsed::Wellness(_))),
            "type {t}"
        );
    }
}

// ---- HRV status (type 68) ----

/// 2026-04-21T04:30:00Z, 06:30 local at +2 h: the morning message 370 is stamped with.
const MORNING: i64 = EVENING + 6 * 3600 + 1800;

#[test]
fn hrv_status_written_per_the_sdk_profile_round_trips() {
    let f = HrvStatus {
        created: MORNING,
        summary: Some((MORNING, Some(44.0))),
        values: vec![(Some(MORNING - 3600), 40.0), (None, 48.5)],
    };
    let bytes = f.encode();
    // The FIT SDK profile as fitparser's decoder applies it: names, scale 128, units.
    let records = fitparser::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let field = |kind: &str, name: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r.kind().to_string() == kind)
            .flat_map(|r| r.fields().iter().filter(|f| f.name() == name))
            .map(|f| format!("{} {}", f.value(), f.units()))
            .collect()
    };
    assert_eq!(field("hrv_status_summary", "last_night_average"), ["44 ms"]);
    assert_eq!(field("hrv_value", "value"), ["40 ms", "48.5 ms"]);
    // Our reader: raw ms × 128.
    let Ok(Parsed::Wellness(w)) = ingest::read_bytes(&bytes) else {
        panic!("not read as wellness");
    };
    let h = w.hrv.unwrap_or_default();
    assert_eq!(h.last_night_average, Some(44 * 128));
    assert_eq!(h.values, [40 * 128, 48 * 128 + 64]);
    assert_eq!(h.ts, Some(MORNING));
    // Only 5-min values, in a file without time_created: their time names the night.
    let bare = HrvStatus {
        created: FIT_EPOCH,
        summary: None,
        values: vec![(Some(MORNING - 600), 40.0), (None, 42.0)],
    };
    let Ok(Parsed::Wellness(w)) = ingest::read_bytes(&bare.encode()) else {
        panic!("not read as wellness");
    };
    assert_eq!(w.time_created, None);
    assert_eq!(w.hrv.and_then(|h| h.ts), Some(MORNING - 600));
}

#[test]
fn hrv_per_night_prefers_the_summary_and_falls_back_to_the_values() {
    let home = home("");
    let values_only = HrvStatus {
        created: MORNING,
        summary: Some((MORNING + 86_400, None)), // last_night_average invalid (0xFFFF)
        values: vec![(None, 40.0), (None, 50.0)],
    };
    let a = write(home.path(), "a.fit", &values_only.encode());
    let full = HrvStatus {
        created: MORNING,
        summary: Some((MORNING, Some(44.0))),
        values: vec![],
    };
    let b = write(home.path(), "b.fit", &full.encode());
    let lines = import(home.path(), &[&a, &b]);
    let of = |name: &str| {
        let line = lines
            .iter()
            .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .unwrap_or_else(|| panic!("{name}: {lines:?}"));
        days_of(line)
    };
    assert_eq!(of("/a.fit"), ["2026-04-22"], "{lines:?}");
    assert_eq!(of("/b.fit"), ["2026-04-21"]);
    let d = days(home.path());
    assert_eq!(d["2026-04-22"].hrv, Some(45.0));
    assert_eq!(d["2026-04-22"].hrv_source.as_deref(), Some("hrv_values"));
    assert_eq!(d["2026-04-21"].hrv, Some(44.0));
    assert_eq!(d["2026-04-21"].hrv_source.as_deref(), Some("hrv_status"));
    assert_eq!(d["2026-04-21"].rhr, None);
    // The values of a night that has its summary do not replace it.
    let later = HrvStatus {
        created: MORNING + 60,
        summary: None,
        values: vec![(Some(MORNING), 80.0)],
    };
    let c = write(home.path(), "c.fit", &later.encode());
    let lines = import(home.path(), &[&c]);
    assert_eq!(days_of(&lines[0]), Vec::<String>::new());
    assert_eq!(days(home.path())["2026-04-21"].hrv, Some(44.0));
}

// ---- Real files ----

/// Per local day, the last message-211 field 1 stamped at or after 04:00 local, from the
/// corpus manifest (every value with its timestamp; the offset is the file's).
fn watch_values_after_four(manifest: &Path) -> HashMap<String, (i64, i64)> {
    let text = std::fs::read_to_string(manifest).unwrap_or_default();
    let mut last: HashMap<String, (i64, i64)> = HashMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(off), Some(values)) = (cols.get(9), cols.get(11)) else {
            continue;
        };
        let off: i64 = off.parse().unwrap_or(0);
        for v in values.split(';').filter(|v| !v.is_empty()) {
            let Some((ts, vals)) = v.split_once('=') else {
                continue;
            };
            let Some(f1) = vals.split('/').nth(1).and_then(|x| x.parse::<i64>().ok()) else {
                continue;
            };
            let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) else {
                continue;
            };
            let local = t.timestamp() + off;
            let Some(lt) = chrono::DateTime::from_timestamp(local, 0) else {
                continue;
            };
            if lt.format("%H").to_string().as_str() < "04" {
                continue;
            }
            let day = lt.format("%Y-%m-%d").to_string();
            let e = last.entry(day).or_insert((i64::MIN, 0));
            if t.timestamp() >= e.0 {
                *e = (t.timestamp(), f1);
            }
        }
    }
    last
}

/// Imports a folder of real wellness files; checks every file imported and that our watch value
/// per day is the manifest's last field 1 after 04:00. Returns (day, ours, DAYS.tsv's last
/// field 1) for the comparison of our monitoring value against the watch.
fn import_real(dir: &Path) -> Vec<(String, Option<f64>, Option<i64>, i64)> {
    let home = home("");
    let lines = import(home.path(), &[dir]);
    let fits = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "fit"))
                .count()
        })
        .unwrap_or(0);
    assert!(fits > 0);
    assert_eq!(lines.len(), fits);
    for l in &lines {
        assert_eq!(l["status"], "imported", "{l}");
    }
    let stored = days(home.path());
    let want = watch_values_after_four(&dir.join("MANIFEST.tsv"));
    assert!(!want.is_empty());
    for (day, (_, f1)) in &want {
        let got = stored.get(day).and_then(|d| d.rhr_watch);
        assert_eq!(
            got,
            Some(*f1),
            "{day}: the watch's field 1 last stamped after 04:00"
        );
    }
    let tsv = std::fs::read_to_string(dir.join("DAYS.tsv")).unwrap_or_default();
    tsv.lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let last: i64 = c.get(1)?.parse().ok()?;
            let d = stored.get(*c.first()?)?;
            if want.contains_key(c[0]) {
                // The day's last field 1 (Garmin's SDK decode) is stamped after 04:00 local.
                assert_eq!(d.rhr_watch, Some(last), "{}: DAYS.tsv", c[0]);
            }
            Some((c[0].to_string(), d.rhr_monitoring, d.rhr_watch, last))
        })
        .collect()
}

/// Prints how our monitoring value compares with the watch's (for the notes).
fn report(what: &str, rows: &[(String, Option<f64>, Option<i64>, i64)]) {
    let diffs: Vec<f64> = rows
        .iter()
        .filter_map(|(_, m, _, last)| m.map(|m| m - *last as f64))
        .collect();
    let n = diffs.len();
    let mean = diffs.iter().sum::<f64>() / n.max(1) as f64;
    let mean_abs = diffs.iter().map(|d| d.abs()).sum::<f64>() / n.max(1) as f64;
    let max = diffs.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    let watch_eq = rows
        .iter()
        .filter(|(_, _, w, last)| *w == Some(*last))
        .count();
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "{what}: {} days in DAYS.tsv; rhr_watch = DAYS.tsv last field 1 on {watch_eq}; \
         rhr_monitoring − watch on {n} days: mean {mean:+.2}, mean |diff| {mean_abs:.2}, max |diff| {max:.2} bpm",
        rows.len()
    );
    for (d, m, w, last) in rows {
        let _ = writeln!(
            std::io::stderr(),
            "  {d} monitoring {m:?} watch {w:?} DAYS.tsv {last}"
        );
    }
}

#[test]
fn the_bundled_real_wellness_files_import_and_match_the_watch() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wellness");
    let rows = import_real(&dir);
    report("bundled", &rows);
    // The three nights the four days hold whole.
    let whole: Vec<_> = rows
        .iter()
        .filter(|r| r.1.is_some())
        .map(|r| r.0.as_str())
        .collect();
    for d in ["2022-11-02", "2022-11-03", "2022-11-04"] {
        assert!(whole.contains(&d), "{d}: {rows:?}");
    }
    for (d, m, _, _) in &rows {
        assert!(m.is_none_or(|m| (35.0..=90.0).contains(&m)), "{d}: {m:?}");
    }
}

#[test]
fn the_whole_wellness_corpus_imports() {
    let Some(corpus) = support::shared_corpus("the_whole_wellness_corpus_imports") else {
        return;
    };
    let rows = import_real(&corpus.join("wellness"));
    report("corpus", &rows);
    assert!(rows.len() >= 70, "{}", rows.len());
    assert!(rows.iter().filter(|r| r.1.is_some()).count() >= 60);
}

// ---- Hostile input ----

/// What a reader answers for `bytes`: never a panic; a wellness answer within its ranges.
fn answer(bytes: &[u8], what: &str) -> &'static str {
    match recoverd::pipeline::parse_content(bytes, ingest::Limits::default()) {
        Ok(Parsed::Wellness(w)) => {
            assert!(w.is_sane(), "{what}: {w:?}");
            "wellness"
        }
        Ok(Parsed::Activity(_)) => "activity",
        Ok(Parsed::Skipped(r)) => {
            assert!(!r.trim().is_empty(), "{what}");
            "skipped"
        }
        Err(e) => {
            assert!(!e.message.trim().is_empty(), "{what}");
            "failed"
        }
    }
}

#[test]
fn mutated_real_wellness_files_get_an_answer_never_a_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wellness");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "fit"));
    files.sort();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut outcomes: HashMap<&str, usize> = HashMap::new();
    for f in files.iter().take(12) {
        let base = std::fs::read(f).unwrap_or_default();
        for _ in 0..150 {
            let mut b = base.clone();
            for _ in 0..1 + next() % 4 {
                // Past the header: the messages themselves (the header's own checks are tested
                // with the activity reader).
                let at = 14 + (next() as usize) % (b.len().saturating_sub(16).max(1));
                b[at] = match next() % 4 {
                    0 => 0,
                    1 => 0xFF,
                    _ => next() as u8,
                };
            }
            *outcomes
                .entry(answer(&b, &f.display().to_string()))
                .or_default() += 1;
        }
    }
    println!("mutated wellness files: {outcomes:?}");
    assert!(
        outcomes.get("wellness").is_some_and(|&n| n > 100),
        "{outcomes:?}"
    );
}

#[test]
fn extreme_wellness_values_are_range_checked() {
    let mut m = night(TimeForm::Ts16);
    for (i, h) in m.hr.iter_mut().enumerate().take(12) {
        h.1 = [0, 1, 29, 251, 254, 255][i % 6];
    }
    m.rhr = vec![
        (EVENING, 255, 255),
        (EVENING + 60, 60, 0),
        (EVENING + 120, 60, 251),
    ];
    for offset in [15 * 3600, -15 * 3600, 61, i32::MAX / 2] {
        m.utc_offset_s = Some(offset);
        let Ok(Parsed::Wellness(w)) = ingest::read_bytes(&m.encode()) else {
            panic!("offset {offset}");
        };
        assert!(w.is_sane());
        assert_eq!(w.utc_offset_s, None, "{offset}: not a UTC offset");
        assert_eq!(w.hr.len(), 480 - 12);
        assert!(w.watch_rhr.is_empty(), "{:?}", w.watch_rhr);
        assert!(
            w.warnings
                .iter()
                .any(|x| x.contains("impossible local time"))
        );
    }
    let hrv = HrvStatus {
        created: MORNING,
        summary: Some((MORNING, Some(0.0))),
        values: vec![(None, 0.0), (None, 511.98)],
    };
    let Ok(Parsed::Wellness(w)) = ingest::read_bytes(&hrv.encode()) else {
        panic!("hrv");
    };
    let h = w.hrv.unwrap_or_default();
    assert_eq!(h.last_night_average, None, "0 is no measurement");
    assert_eq!(h.values, [65_533]);
}

// ---- The service ----

#[test]
fn the_service_stores_a_synced_monitoring_file_with_its_days() {
    let (home, watch) = support::setup();
    let svc = support::Service::start(home.path(), None);
    let lock = home.path().join(".local/share/recoverd/recoverd.db.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(&lock)
        .unwrap_or_default()
        .is_empty()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(700));
    // As a sync writes it: a temporary name, then renamed into place.
    let tmp = watch.join(".1_WELLNESS.fit.part");
    std::fs::write(&tmp, night(TimeForm::Ts16).encode()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(&tmp, watch.join("1_WELLNESS.fit")).unwrap_or_else(|e| panic!("{e}"));
    let files = support::wait_imported(home.path(), 1, 20);
    assert_eq!(svc.stop(), Some(0));
    let row = files
        .iter()
        .find(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/1_WELLNESS.fit"))
        })
        .unwrap_or_else(|| panic!("{files:?}"));
    assert_eq!(row["status"], "imported", "{row}");
    assert_eq!(row["days"], serde_json::json!(["2026-04-21"]));
    assert_eq!(days(home.path())["2026-04-21"].rhr, Some(48));
}
