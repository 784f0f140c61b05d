//! Hostile input, round two: numeric extremes in every field of every format, special files,
//! names with control characters, a database from a newer recoverd, and files cut short.
//! Each case that once crashed or hung recoverd is reproduced here first.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use recoverd::ingest::{Limits, Parsed};
use recoverd::model::Activity;
use recoverd::pipeline;
use support::{FitActivity, def, file_id, frame};

const WEEK_S: f64 = 7.0 * 86_400.0;
const YEAR_S: f64 = 366.0 * 86_400.0;

/// What a reader may hand on: every number finite and real; a span over a week (a device with a
/// wrong clock) only with a warning that says so.
fn assert_sane(a: &Activity, what: &str) {
    assert!(
        a.elapsed_s.is_finite() && (0.0..=YEAR_S).contains(&a.elapsed_s),
        "{what}: elapsed {}",
        a.elapsed_s
    );
    if a.elapsed_s > WEEK_S {
        assert!(
            a.warnings.iter().any(|w| w.contains("more than a week")),
            "{what}: {:?}",
            a.warnings
        );
    }
    let wall = (a.end - a.start).num_milliseconds() as f64 / 1000.0;
    assert!((0.0..=YEAR_S).contains(&wall), "{what}: start→end {wall}");
    for (name, v) in [
        ("moving", a.moving_s),
        ("distance", a.distance_m),
        ("temperature", a.avg_temperature_c),
    ] {
        assert!(v.is_none_or(f64::is_finite), "{what}: {name} {v:?}");
    }
    assert!(
        a.moving_s.is_none_or(|m| (0.0..=YEAR_S).contains(&m)),
        "{what}"
    );
    assert!(
        a.distance_m.is_none_or(|d| d > 0.0 && d <= 5_000_000.0),
        "{what}: distance {:?}",
        a.distance_m
    );
    assert!(
        a.avg_hr.is_none_or(|v| v <= 250.0),
        "{what}: avg HR {:?}",
        a.avg_hr
    );
    for (name, v) in [("avg", a.avg_hr), ("max", a.max_hr)] {
        assert!(
            v.is_none_or(|v| v.is_finite() && v > 0.0 && v <= 255.0),
            "{what}: {name} HR {v:?}"
        );
    }
    assert!(
        a.hr.iter()
            .all(|s| s.t.is_finite() && s.t >= 0.0 && s.t <= YEAR_S),
        "{what}: a sample outside the activity"
    );
    for leg in &a.legs {
        assert!(leg.elapsed_s.is_finite() && leg.elapsed_s >= 0.0, "{what}");
        assert!(leg.distance_m.is_none_or(f64::is_finite), "{what}");
    }
}

/// Parses (no panic may escape: the test itself would fail) and checks the answer.
fn answer(bytes: &[u8], what: &str) -> Result<Activity, String> {
    match pipeline::parse_content(bytes, Limits::default()) {
        Ok(Parsed::Activity(a)) => {
            assert_sane(&a, what);
            Ok(*a)
        }
        Ok(Parsed::Skipped(r)) => {
            assert!(!r.trim().is_empty(), "{what}");
            Err(r)
        }
        Ok(Parsed::Wellness(w)) => {
            assert!(w.is_sane(), "{what}: {w:?}");
            Err("a wellness file".into())
        }
        Err(e) => {
            assert!(!e.message.trim().is_empty(), "{what}");
            Err(e.message)
        }
    }
}

/// Text forms of extreme numbers, as a hostile file would write them.
const EXTREMES: &[&str] = &[
    "1e15",
    "1e300",
    "1e309",
    "-1e300",
    "-1",
    "-0",
    "0",
    "inf",
    "-inf",
    "NaN",
    "nan",
    "Infinity",
    "1e-320",
    "18446744073709551616",
    "4294967296",
    "65536",
    "255",
    "1e10",
    "",
];

fn tcx_with(total_time: &str, lap_distance: &str, point_distance: &str, hr: &str) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\"?>\n<TrainingCenterDatabase xmlns=\"http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2\"><Activities><Activity Sport=\"Running\"><Id>2026-04-20T09:00:00Z</Id>\
         <Lap StartTime=\"2026-04-20T09:00:00Z\"><TotalTimeSeconds>{total_time}</TotalTimeSeconds><DistanceMeters>{lap_distance}</DistanceMeters><Calories>{hr}</Calories><Track>"
    );
    for i in 0..120 {
        s.push_str(&format!(
            "<Trackpoint><Time>2026-04-20T09:{:02}:{:02}Z</Time><AltitudeMeters>{hr}</AltitudeMeters><DistanceMeters>{point_distance}</DistanceMeters><HeartRateBpm><Value>{hr}</Value></HeartRateBpm></Trackpoint>",
            i / 60,
            i % 60
        ));
    }
    s.push_str("</Track></Lap></Activity></Activities></TrainingCenterDatabase>\n");
    s
}

#[test]
fn tcx_durations_of_1e15_1e300_inf_and_nan_are_refused_with_a_reason() {
    for v in ["1e15", "1e300", "inf", "-1e300", "NaN", "-5"] {
        let r = answer(tcx_with(v, "360", "3", "150").as_bytes(), v);
        let why = r.err().unwrap_or_default();
        assert!(why.contains("not a real activity"), "{v}: {why}");
    }
    let why = answer(tcx_with("1e15", "360", "3", "150").as_bytes(), "1e15")
        .err()
        .unwrap_or_default();
    assert!(why.contains("1e15 s"), "{why}");
    // The same file with a real lap time is an activity.
    assert!(answer(tcx_with("119", "360", "3", "150").as_bytes(), "ok").is_ok());
}

#[test]
fn tcx_heart_rate_1e10_and_distance_1e309_are_not_stored_as_facts() {
    let a = answer(tcx_with("119", "360", "3", "1e10").as_bytes(), "hr 1e10");
    if let Ok(a) = a {
        assert_eq!(a.avg_hr, None, "no plausible sample: no average");
    }
    let mut mixed = tcx_with("119", "360", "3", "150");
    mixed = mixed.replacen("<Value>150</Value>", "<Value>1e10</Value>", 3);
    let a = answer(mixed.as_bytes(), "three samples of 1e10").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.avg_hr, Some(150.0));
    assert_eq!(a.max_hr, Some(150.0));
    for d in ["1e309", "inf", "1e300", "-1e300", "NaN"] {
        let a = answer(tcx_with("119", d, d, "150").as_bytes(), d)
            .unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!(a.distance_m, None, "{d}");
    }
}

#[test]
fn every_numeric_field_of_tcx_and_gpx_takes_every_extreme_without_panic() {
    let mut answered = 0;
    for &v in EXTREMES {
        for fields in [
            [v, "360", "3", "150"],
            ["119", v, "3", "150"],
            ["119", "360", v, "150"],
            ["119", "360", "3", v],
        ] {
            let _ = answer(
                tcx_with(fields[0], fields[1], fields[2], fields[3]).as_bytes(),
                &format!("TCX {fields:?}"),
            );
            answered += 1;
        }
        for field in 0..4 {
            let _ = answer(
                gpx_with(field, v).as_bytes(),
                &format!("GPX field {field} = {v}"),
            );
            answered += 1;
        }
    }
    assert_eq!(answered, EXTREMES.len() * 8);
}

/// A GPX track of 120 points with `v` in one numeric field (0 lat, 1 lon, 2 ele, 3 hr).
fn gpx_with(field: usize, v: &str) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" creator=\"t\" xmlns=\"http://www.topografix.com/GPX/1/1\" xmlns:ns3=\"http://www.garmin.com/xmlschemas/TrackPointExtension/v1\"><trk><type>running</type><trkseg>",
    );
    for i in 0..120 {
        let mut f = [
            format!("{:.6}", 46.0 + f64::from(i) * 0.00003),
            "14.0".to_string(),
            "500".to_string(),
            "150".to_string(),
        ];
        if i % 7 == 3 {
            f[field] = v.to_string();
        }
        s.push_str(&format!(
            "<trkpt lat=\"{}\" lon=\"{}\"><ele>{}</ele><time>2026-04-20T09:{:02}:{:02}Z</time><extensions><ns3:TrackPointExtension><ns3:hr>{}</ns3:hr></ns3:TrackPointExtension></extensions></trkpt>",
            f[0],
            f[1],
            f[2],
            i / 60,
            i % 60,
            f[3]
        ));
    }
    s.push_str("</trkseg></trk></gpx>\n");
    s
}

// ---- FIT ----

/// FIT base types: (number, size).
const BASE_TYPES: &[(u8, u8)] = &[
    (0x00, 1),
    (0x01, 1),
    (0x02, 1),
    (0x83, 2),
    (0x84, 2),
    (0x85, 4),
    (0x86, 4),
    (0x07, 1),
    (0x88, 4),
    (0x89, 8),
    (0x0A, 1),
    (0x8B, 2),
    (0x8C, 4),
    (0x0D, 1),
    (0x8E, 8),
    (0x8F, 8),
    (0x90, 8),
];

/// Extreme values of a base type, little-endian: its maximum, maximum − 1 (the largest valid),
/// minimum, zero, −1, and for floats NaN, ±infinity and the largest finite value.
fn extremes_of(base: u8, size: u8) -> Vec<Vec<u8>> {
    let n = usize::from(size);
    let le = |v: u64| v.to_le_bytes()[..n].to_vec();
    match base {
        0x88 => [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            -f32::MAX,
            0.0,
        ]
        .iter()
        .map(|v| v.to_le_bytes().to_vec())
        .collect(),
        0x89 => [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            -f64::MAX,
            1e15,
        ]
        .iter()
        .map(|v| v.to_le_bytes().to_vec())
        .collect(),
        _ => {
            let max = if n == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            };
            let signed_min = 1u64 << (8 * n - 1);
            vec![
                le(max),
                le(max - 1),
                le(signed_min),
                le(signed_min - 1),
                le(0),
                le(1),
            ]
        }
    }
}

/// A FIT activity: file_id, 600 records (timestamp, heart_rate, distance, temperature), a
/// session and an activity message, with `field` of message `global` (18 session, 20 record) of
/// base type `base` set to `value`.
fn fit_with(global: u16, field: u8, base: u8, value: &[u8]) -> Vec<u8> {
    let ts0: u32 = 1_100_000_000;
    let mut d = Vec::new();
    file_id(&mut d, 3_900_000_009, ts0);
    let size = u8::try_from(value.len()).unwrap_or(1);
    let mut rec: Vec<(u8, u8, u8)> =
        vec![(253, 4, 0x86), (3, 1, 0x02), (5, 4, 0x86), (13, 1, 0x01)];
    let mut ses: Vec<(u8, u8, u8)> = vec![
        (253, 4, 0x86),
        (2, 4, 0x86),
        (5, 1, 0x00),
        (7, 4, 0x86),
        (8, 4, 0x86),
        (9, 4, 0x86),
        (16, 1, 0x02),
        (17, 1, 0x02),
        (57, 1, 0x01),
        (24, 1, 0x02),
    ];
    let target = if global == 20 { &mut rec } else { &mut ses };
    if let Some(f) = target.iter_mut().find(|f| f.0 == field) {
        *f = (field, size, base);
    }
    let put = |out: &mut Vec<u8>,
               fields: &[(u8, u8, u8)],
               normal: &dyn Fn(u8) -> Vec<u8>,
               g: u16,
               i: usize| {
        for &(n, _, _) in fields {
            if g == global && n == field && (g == 18 || i % 50 == 7) {
                out.extend(value);
            } else {
                out.extend(normal(n));
            }
        }
    };
    def(&mut d, 1, 20, &rec);
    for i in 0..600u32 {
        d.push(1);
        let normal = |n: u8| match n {
            253 => (ts0 + i).to_le_bytes().to_vec(),
            3 => vec![150],
            5 => (i * 300).to_le_bytes().to_vec(),
            _ => vec![18],
        };
        put(&mut d, &rec, &normal, 20, i as usize);
    }
    def(&mut d, 2, 18, &ses);
    d.push(2);
    let normal = |n: u8| match n {
        253 => (ts0 + 599).to_le_bytes().to_vec(),
        2 => ts0.to_le_bytes().to_vec(),
        5 => vec![1],
        7 | 8 => 599_000u32.to_le_bytes().to_vec(),
        9 => 179_700u32.to_le_bytes().to_vec(),
        16 | 17 => vec![150],
        57 => vec![18],
        _ => vec![30],
    };
    put(&mut d, &ses, &normal, 18, 0);
    def(&mut d, 3, 34, &[(253, 4, 0x86), (5, 4, 0x86)]);
    d.push(3);
    d.extend((ts0 + 599).to_le_bytes());
    d.extend((ts0 + 599 + 7200).to_le_bytes());
    frame(&d)
}

#[test]
fn every_fit_base_type_with_extreme_values_in_every_field_we_read_gets_a_sane_answer() {
    let fields: &[(u16, u8)] = &[
        (20, 253),
        (20, 3),
        (20, 5),
        (20, 13),
        (18, 253),
        (18, 2),
        (18, 5),
        (18, 7),
        (18, 8),
        (18, 9),
        (18, 16),
        (18, 17),
        (18, 57),
        (18, 24),
    ];
    let mut outcomes = std::collections::HashMap::new();
    for &(global, field) in fields {
        for &(base, size) in BASE_TYPES {
            for v in extremes_of(base, size) {
                let what = format!("message {global} field {field} base {base:#x} = {v:?}");
                let ok = answer(&fit_with(global, field, base, &v), &what).is_ok();
                *outcomes.entry(ok).or_insert(0) += 1;
            }
        }
    }
    println!("FIT extremes (imported?): {outcomes:?}");
    assert!(outcomes.contains_key(&true), "{outcomes:?}");
}

/// A FIT session declaring an elapsed time of `elapsed_ms` (as a uint64 field).
fn fit_session_elapsed(elapsed_ms: u64) -> Vec<u8> {
    fit_with(18, 7, 0x8F, &elapsed_ms.to_le_bytes())
}

#[test]
fn a_fit_session_with_a_huge_elapsed_time_is_refused_not_a_panic() {
    for ms in [
        u64::MAX - 1,
        1 << 60,
        1_000_000_000_000_000,
        400 * 86_400_000,
    ] {
        let why = answer(&fit_session_elapsed(ms), &format!("elapsed {ms} ms"))
            .err()
            .unwrap_or_default();
        assert!(why.contains("not a real activity"), "{ms}: {why}");
    }
    assert!(answer(&fit_session_elapsed(599_000), "ten minutes").is_ok());
    // Eight days (a watch with a wrong clock): kept as the file says, with a warning; the effort
    // model marks it implausible (see the batch test).
    let a = answer(&fit_session_elapsed(8 * 86_400_000), "eight days")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(a.warnings.iter().any(|w| w.contains("more than a week")));
}

#[test]
fn a_fit_spanning_1998_to_2126_is_not_stored_as_a_million_hours() {
    let mut d = Vec::new();
    let t0: u32 = 0x1000_0000; // 1998
    file_id(&mut d, 3_900_000_010, t0);
    def(&mut d, 1, 20, &[(253, 4, 0x86), (3, 1, 0x02)]);
    for ts in [t0, t0 + 1, t0 + 2, u32::MAX - 2] {
        d.push(1);
        d.extend(ts.to_le_bytes());
        d.push(150);
    }
    let why = answer(&frame(&d), "1998–2126").err().unwrap_or_default();
    assert!(why.contains("not a real activity"), "{why}");
}

#[test]
fn nan_durations_never_reach_the_database() {
    // `NaN` as the only duration a TCX without track points has.
    let s = "<?xml version=\"1.0\"?><TrainingCenterDatabase><Activities><Activity Sport=\"Running\"><Lap StartTime=\"2026-04-20T09:00:00Z\"><TotalTimeSeconds>NaN</TotalTimeSeconds><AverageHeartRateBpm><Value>150</Value></AverageHeartRateBpm></Lap></Activity></Activities></TrainingCenterDatabase>";
    let why = answer(s.as_bytes(), "NaN lap").err().unwrap_or_default();
    assert!(why.contains("NaN s is not a real activity"), "{why}");
}

// ---- Through the binary ----

fn run_with_deadline(home: &Path, args: &[&str], secs: u64) -> std::process::Output {
    let mut child = Command::new(support::bin())
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("RECOVERD_CONFIG")
        .env_remove("RECOVERD_DB")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(secs);
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("recoverd {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn a_hostile_file_in_a_batch_fails_alone_and_the_rest_is_stored() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, v) in ["1e15", "1e300", "inf", "-1e300", "NaN"].iter().enumerate() {
        std::fs::write(
            dir.join(format!("a{i}.tcx")),
            tcx_with(v, "360", "3", "150"),
        )
        .unwrap_or_default();
    }
    std::fs::write(dir.join("b.fit"), fit_session_elapsed(u64::MAX - 1)).unwrap();
    std::fs::write(dir.join("c.tcx"), tcx_with("119", "1e309", "3", "1e10")).unwrap();
    std::fs::write(dir.join("d.fit"), support::fit(0)).unwrap();
    std::fs::write(dir.join("e.fit"), fit_session_elapsed(8 * 86_400_000)).unwrap();
    let out = run_with_deadline(
        home.path(),
        &[
            "import",
            "--json",
            "--no-notify",
            dir.to_str().unwrap_or_default(),
        ],
        60,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "failures make exit 1, not 101: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 9, "one answer per file: {lines:?}");
    let failed = lines.iter().filter(|l| l["status"] == "failed").count();
    assert_eq!(failed, 6, "{lines:?}");
    // Nothing implausible was stored: the listing shows real numbers.
    let list = support::run(home.path(), &["list", "--json"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(!text.contains("inf") && !text.contains("NaN"), "{text}");
    let list: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap_or_default();
    assert_eq!(list.len(), 3, "{text}");
    // Eight days: stored as the file says, but marked, its load not counted.
    let id = lines
        .iter()
        .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with("e.fit")))
        .and_then(|l| l["activity_id"].as_i64())
        .unwrap_or_else(|| panic!("{lines:?}"));
    let show = support::run(home.path(), &["show", &id.to_string(), "--format", "json"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("\"implausible\": true"), "{text}");
    assert!(text.contains("more than a week"), "{text}");
}

// ---- Special files ----

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn import_of_a_fifo_a_link_to_one_and_a_folder_holding_one_answers_each_without_hanging() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    mkfifo(&dir.join("pipe.fit"));
    let _ = std::os::unix::fs::symlink(dir.join("pipe.fit"), dir.join("link.gpx"));
    std::fs::write(dir.join("run.fit"), support::fit(1)).unwrap();
    // Given by name: the FIFO alone.
    let out = run_with_deadline(
        home.path(),
        &[
            "import",
            "--json",
            "--no-notify",
            dir.join("pipe.fit").to_str().unwrap_or_default(),
        ],
        30,
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], "skipped", "{lines:?}");
    assert!(
        lines[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("named pipe")),
        "{lines:?}"
    );
    // The folder: the FIFO, the link to it and the real file each get an answer.
    let out = run_with_deadline(
        home.path(),
        &[
            "import",
            "--json",
            "--no-notify",
            dir.to_str().unwrap_or_default(),
        ],
        30,
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let status = |name: &str| {
        lines
            .iter()
            .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|l| l["status"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(status("pipe.fit").as_deref(), Some("skipped"));
    assert_eq!(status("link.gpx").as_deref(), Some("skipped"));
    assert_eq!(status("run.fit").as_deref(), Some("imported"));
}

#[test]
fn a_fifo_in_a_watched_folder_is_skipped_and_later_files_are_still_imported() {
    let (home, watch) = support::setup();
    mkfifo(&watch.join("early.fit"));
    let svc = support::Service::start(home.path(), None);
    std::thread::sleep(Duration::from_millis(500));
    mkfifo(&watch.join("late.fit"));
    let _ = std::os::unix::fs::symlink(watch.join("late.fit"), watch.join("link.fit"));
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(watch.join("run.fit"), support::fit(2)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut files = Vec::new();
    while Instant::now() < deadline && files.len() < 4 {
        std::thread::sleep(Duration::from_millis(200));
        files = support::files_json(home.path());
    }
    // A later file still gets in: the writer is not stuck on the FIFO.
    std::fs::write(watch.join("run2.fit"), support::fit(3)).unwrap();
    let files2 = support::wait_imported(home.path(), 2, 60);
    assert_eq!(svc.stop(), Some(0), "SIGTERM stops it");
    assert_eq!(
        files2.iter().filter(|f| f["status"] == "imported").count(),
        2,
        "{files2:?}"
    );
    let imported = files.iter().filter(|f| f["status"] == "imported").count();
    assert_eq!(imported, 1, "{files:?}");
    let skipped: Vec<_> = files
        .iter()
        .filter(|f| f["status"] == "skipped")
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(skipped.iter().any(|p| p.ends_with("late.fit")), "{files:?}");
    assert!(
        skipped.iter().any(|p| p.ends_with("early.fit")),
        "{files:?}"
    );
    assert!(skipped.iter().any(|p| p.ends_with("link.fit")), "{files:?}");
}

#[test]
fn zip_members_with_escaping_names_are_answered_not_dropped() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let zip = support::zip(&[
        ("../evil.fit", support::fit(3)),
        ("/abs.fit", support::fit(4)),
        ("ok/run.fit", support::fit(5)),
    ]);
    let path = home.path().join("export.zip");
    std::fs::write(&path, zip).unwrap();
    let out = run_with_deadline(
        home.path(),
        &[
            "import",
            "--json",
            "--no-notify",
            path.to_str().unwrap_or_default(),
        ],
        30,
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    // `/abs.fit` is read as `abs.fit`, inside the archive; `../evil.fit` is not read.
    let skipped: Vec<_> = lines.iter().filter(|l| l["status"] == "skipped").collect();
    assert_eq!(skipped.len(), 1, "{lines:?}");
    assert!(
        skipped.iter().all(|l| l["reason"]
            .as_str()
            .is_some_and(|r| r.contains("outside the archive"))),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l["path"].as_str().unwrap_or_default().contains("..")),
        "{lines:?}"
    );
    assert!(!home.path().join("evil.fit").exists());
}

// ---- Small ----

#[test]
fn a_database_from_a_newer_recoverd_is_refused_and_doctor_fails() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let run = support::run(home.path(), &["list"]);
    assert!(run.status.success());
    let db = home.path().join(".local/share/recoverd/recoverd.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        conn.pragma_update(None, "user_version", 999)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = support::run(home.path(), &["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL") && text.contains("newer recoverd"),
        "{text}"
    );
    let f = home.path().join("a.fit");
    std::fs::write(&f, support::fit(0)).unwrap();
    let out = support::run(
        home.path(),
        &["import", "--no-notify", f.to_str().unwrap_or_default()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    // Not a fault that passes: the user must choose (exit 2, one sentence naming the file).
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("schema version is 999"), "{err}");
    assert!(err.contains(db.to_str().unwrap_or_default()), "{err}");
    // The service too: it does not wait for a file that will never heal.
    let out = support::run(home.path(), &["run"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("schema version is 999"), "{err}");
    // Untouched: still the newer version.
    let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap_or_default();
    assert_eq!(v, 999);
}

#[test]
fn names_with_control_characters_are_printed_escaped() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let name = "evil\n\u{1b}[2Jline\rtwo\u{7}.fit";
    let f = home.path().join(name);
    std::fs::write(&f, b"not a fit file at all").unwrap();
    let out = run_with_deadline(
        home.path(),
        &["import", "--no-notify", f.to_str().unwrap_or_default()],
        30,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{7}') && !err.contains('\r'),
        "{err:?}"
    );
    assert!(
        err.contains("evil\\n\\u{1b}[2Jline\\rtwo\\u{7}.fit"),
        "{err:?}"
    );
    let out = support::run(home.path(), &["files"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "one line per file: {text:?}");
    assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
    assert!(text.contains("evil\\n"), "{text:?}");
}

// ---- Bounded reads ----

#[test]
fn a_huge_sparse_activities_csv_is_read_bounded_under_a_memory_limit() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let export = home.path().join("export");
    std::fs::create_dir_all(export.join("activities")).unwrap();
    std::fs::write(export.join("activities/1.fit"), support::fit(6)).unwrap();
    // 8 GB of nothing after a real header and row: read whole it could not fit.
    let csv =
        std::fs::File::create(export.join("activities.csv")).unwrap_or_else(|e| panic!("{e}"));
    use std::io::Write as _;
    let mut w = std::io::BufWriter::new(&csv);
    let _ = writeln!(w, "Activity ID,Activity Name,Activity Type,Filename");
    let _ = writeln!(w, "1,Morning parkrun,Run,activities/1.fit");
    let _ = w.flush();
    drop(w);
    csv.set_len(8 << 30).unwrap_or_default();
    let cmd = format!(
        "ulimit -v {}; exec \"$0\" import --json --no-notify \"$1\"",
        400 * 1024
    );
    let mut child = Command::new("sh")
        .args(["-c", &cmd])
        .arg(support::bin())
        .arg(&export)
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("RECOVERD_CONFIG")
        .env_remove("RECOVERD_DB")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(120);
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], "imported", "{lines:?} {err}");
    let show = support::run(home.path(), &["show", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap_or_default();
    assert_eq!(
        v["activity"]["name"], "Morning parkrun",
        "the index was read: {v}"
    );
}

// ---- A file that kills recoverd ----

/// Leaves a slot as a process that died while holding `held` would have.
fn dead_slot(db: &Path, n: u32, held: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let slot = db.with_file_name(format!(".recoverd-reading.{}.0", 4_194_400 + n));
    std::fs::write(slot, held.as_os_str().as_bytes()).unwrap_or_default();
}

#[test]
fn a_file_two_processes_died_on_is_failed_before_it_is_read_again() {
    use recoverd::store::{FileStatus, Store};
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = tmp.path().join("recoverd.db");
    let mut cfg = recoverd::config::load(Some(&db.with_extension("toml")), Some(&db))
        .unwrap_or_else(|e| panic!("{e}"));
    cfg.notifications = false;
    let mut store = Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let killer = tmp.path().join("killer.fit");
    std::fs::write(&killer, support::fit(1)).unwrap();
    let other = tmp.path().join("other.fit");
    std::fs::write(&other, support::fit(2)).unwrap();
    let now = chrono::Utc::now();
    let opts = pipeline::Options::default();
    let status = |store: &Store| {
        store
            .file(&killer)
            .ok()
            .flatten()
            .map(|r| (r.status, r.reason))
    };

    // First death: marked, and read again (first, alone) by the next run.
    dead_slot(&db, 1, &killer);
    let mut outcomes = Vec::new();
    pipeline::process_paths(
        &mut store,
        &cfg,
        std::slice::from_ref(&other),
        opts,
        now,
        &mut outcomes,
    );
    let (s, reason) = status(&store).unwrap_or((FileStatus::Imported, None));
    assert_eq!(s, FileStatus::Pending, "{reason:?}");
    assert!(reason.is_some_and(|r| r.contains("stopped while working on this file")));

    // Second death on the same, unchanged file: failed, with the reason, and not read again.
    dead_slot(&db, 2, &killer);
    let mut outcomes = Vec::new();
    pipeline::process_paths(
        &mut store,
        &cfg,
        &[other.clone(), killer.clone()],
        opts,
        now,
        &mut outcomes,
    );
    let o = outcomes
        .iter()
        .find(|o| o.path == killer.to_string_lossy())
        .unwrap_or_else(|| panic!("{outcomes:?}"));
    assert_eq!(o.status, FileStatus::Failed, "{o:?}");
    assert!(
        o.reason.as_deref().is_some_and(|r| r.contains("twice")),
        "{o:?}"
    );
    // No slot is left behind by these runs.
    let left = std::fs::read_dir(tmp.path())
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".recoverd-reading")
                })
                .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0);

    // A single death, then a clean read: imported as usual.
    let third = tmp.path().join("third.fit");
    std::fs::write(&third, support::fit(3)).unwrap();
    dead_slot(&db, 3, &third);
    let mut outcomes = Vec::new();
    pipeline::process_paths(
        &mut store,
        &cfg,
        &[other, third.clone()],
        opts,
        now,
        &mut outcomes,
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o.path == third.to_string_lossy() && o.status == FileStatus::Imported),
        "{outcomes:?}"
    );
}

// ---- A FIT file cut short (issue 13) ----

/// A 40-minute FIT activity, and the same cut after its first two thirds.
fn whole_and_cut(day: i64) -> (Vec<u8>, Vec<u8>) {
    let whole = FitActivity::segments(
        support::SERVICE_START + day * 86_400,
        &[(20, 140), (20, 160)],
    )
    .encode();
    let cut = whole[..whole.len() * 2 / 3].to_vec();
    (whole, cut)
}

fn set_mtime_ago(path: &Path, secs: u64) {
    let f = std::fs::File::options()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{e}"));
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(secs))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn import_stores_a_fit_cut_short_with_a_warning_and_a_longer_copy_replaces_it() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (whole, cut) = whole_and_cut(0);
    let cut_path = home.path().join("cut.fit");
    std::fs::write(&cut_path, &cut).unwrap();
    let out = run_with_deadline(
        home.path(),
        &[
            "import",
            "--json",
            "--no-notify",
            cut_path.to_str().unwrap_or_default(),
        ],
        30,
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], "imported", "{lines:?}");
    let show = support::run(home.path(), &["show", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap_or_default();
    let partial = v["activity"]["elapsed_s"].as_f64().unwrap_or_default();
    assert!((1000.0..2400.0).contains(&partial), "{v}");
    assert!(
        v.to_string().contains("cut short"),
        "the warning is kept: {v}"
    );

    let whole_path = home.path().join("whole.fit");
    std::fs::write(&whole_path, &whole).unwrap();
    let out = run_with_deadline(
        home.path(),
        &[
            "import",
            "--json",
            "--no-notify",
            whole_path.to_str().unwrap_or_default(),
        ],
        30,
    );
    let lines = json_lines(&out);
    assert_eq!(lines[0]["status"], "imported", "{lines:?}");
    assert!(
        lines[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("cut short")),
        "{lines:?}"
    );
    let list = support::run(home.path(), &["list", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap_or_default();
    assert_eq!(list.len(), 1, "one activity, not two: {list:?}");
    let show = support::run(home.path(), &["show", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap_or_default();
    assert!(
        v["activity"]["elapsed_s"].as_f64().unwrap_or_default() > 2300.0,
        "{v}"
    );
    // The cut copy again is a duplicate of the whole one now, not a replacement.
    let out = run_with_deadline(
        home.path(),
        &[
            "import",
            "--json",
            "--no-notify",
            "--retry-failed",
            cut_path.to_str().unwrap_or_default(),
        ],
        30,
    );
    assert_eq!(json_lines(&out)[0]["status"], "duplicate");
}

#[test]
fn the_service_stores_a_fit_cut_short_once_it_has_not_changed_for_ten_minutes() {
    let (home, watch) = support::setup();
    let (_, old_cut) = whole_and_cut(0);
    let (_, fresh_cut) = whole_and_cut(1);
    let old = watch.join("old.fit");
    std::fs::write(&old, old_cut).unwrap();
    set_mtime_ago(&old, 11 * 60);
    let svc = support::Service::start(home.path(), None);
    let files = support::wait_imported(home.path(), 1, 60);
    assert!(
        files.iter().any(
            |f| f["path"].as_str().is_some_and(|p| p.ends_with("old.fit"))
                && f["status"] == "imported"
        ),
        "{files:?}"
    );
    // A fresh one waits: pending, not failed, not stored.
    let fresh = watch.join("fresh.fit");
    std::fs::write(&fresh, fresh_cut).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let files = support::files_json(home.path());
    assert_eq!(
        files.iter().filter(|f| f["status"] == "imported").count(),
        1,
        "{files:?}"
    );
    let waiting = files
        .iter()
        .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with("fresh.fit")));
    assert!(
        waiting.is_some_and(|f| f["status"] == "pending"
            && f["reason"]
                .as_str()
                .is_some_and(|r| r.contains("10 minutes"))),
        "{files:?}"
    );
    // Ten minutes later (its mtime moved back: the change of metadata wakes the service).
    set_mtime_ago(&fresh, 11 * 60);
    let files = support::wait_imported(home.path(), 2, 60);
    assert_eq!(svc.stop(), Some(0));
    assert_eq!(
        files.iter().filter(|f| f["status"] == "imported").count(),
        2,
        "{files:?}"
    );
}

/// A GPX of about `mb` MB (one point a second, with heart rate).
fn big_gpx(path: &Path, mb: usize) {
    use std::io::Write as _;
    let f = std::fs::File::create(path).unwrap_or_else(|e| panic!("{e}"));
    let mut w = std::io::BufWriter::new(f);
    let _ = w.write_all(b"<?xml version=\"1.0\"?><gpx version=\"1.1\" creator=\"t\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><trkseg>\n");
    let mut written = 0;
    let mut i = 0i64;
    while written < mb << 20 {
        let t = chrono::DateTime::from_timestamp(support::SERVICE_START + i, 0).unwrap_or_default();
        let line = format!(
            "<trkpt lat=\"46.{:06}\" lon=\"14.0\"><ele>500</ele><time>{}</time></trkpt>\n",
            i % 1_000_000,
            t.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let _ = w.write_all(line.as_bytes());
        written += line.len();
        i += 1;
    }
    let _ = w.write_all(b"</trkseg></trk></gpx>\n");
}

/// Starts `recoverd import FILE`, and kills it (SIGKILL, as the kernel's OOM killer would) as soon
/// as its slot says it is reading `file`. True when it was caught in the act.
fn kill_while_reading(home: &Path, file: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let db_dir = home.join(".local/share/recoverd");
    let mut child = Command::new(support::bin())
        .args(["import", "--no-notify"])
        .arg(file)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("RECOVERD_CONFIG")
        .env_remove("RECOVERD_DB")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut caught = false;
    while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        // A slot of this process (not its claim on a dead one's).
        let slot = format!(".recoverd-reading.{}.", child.id());
        let holding = std::fs::read_dir(&db_dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.file_name().to_string_lossy().starts_with(&slot)
                    && std::fs::read(e.path()).is_ok_and(|b| b == file.as_os_str().as_bytes())
            });
        if holding {
            let _ = child.kill();
            caught = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    caught
}

#[test]
fn a_file_that_kills_import_twice_is_failed_and_answered_without_being_read_again() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let big = home.path().join("big.gpx");
    big_gpx(&big, 40);
    // The database exists first (the slot lives beside it).
    assert!(support::run(home.path(), &["list"]).status.success());
    assert!(kill_while_reading(home.path(), &big), "first death");
    assert!(
        kill_while_reading(home.path(), &big),
        "second death: read again, alone"
    );
    let out = run_with_deadline(
        home.path(),
        &[
            "import",
            "--json",
            "--no-notify",
            big.to_str().unwrap_or_default(),
        ],
        60,
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], "failed", "{lines:?}");
    assert!(
        lines[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("twice")),
        "{lines:?}"
    );
    // Changed, it is read again.
    big_gpx(&big, 1);
    let out = run_with_deadline(
        home.path(),
        &[
            "import",
            "--json",
            "--no-notify",
            big.to_str().unwrap_or_default(),
        ],
        60,
    );
    assert_eq!(
        json_lines(&out)[0]["status"],
        "imported",
        "{:?}",
        json_lines(&out)
    );
}
