//! Years of history in one go: generated Strava and Garmin exports, zips inside zips, and a zip
//! bomb, through the real binary.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use support::FitActivity;

/// 2024-03-03 09:00 UTC: long past, so a backfill.
const START: i64 = 1_709_456_400;
const DAY: i64 = 86_400;

fn home_with(config: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap_or_default();
    std::fs::write(
        dir.join("config.toml"),
        format!("{config}\n[notifications]\nenabled = false\n"),
    )
    .unwrap_or_default();
    home
}

/// `import --json` outcomes: status counts, and reasons by path.
fn import(home: &Path, path: &Path) -> (HashMap<String, usize>, Vec<serde_json::Value>, String) {
    let p = path.to_string_lossy().into_owned();
    let out = support::run(home, &["import", "--json", &p]);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut counts = HashMap::new();
    for r in &rows {
        *counts
            .entry(r["status"].as_str().unwrap_or("?").to_string())
            .or_insert(0) += 1;
    }
    (
        counts,
        rows,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn count(c: &HashMap<String, usize>, status: &str) -> usize {
    c.get(status).copied().unwrap_or(0)
}

fn list(home: &Path) -> Vec<serde_json::Value> {
    let out = support::run(home, &["list", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// The Strava bulk-export layout: `activities/` of compressed FIT, GPX and TCX files,
/// `activities.csv` naming them, and `routes/`.
fn strava_members() -> Vec<(String, Vec<u8>)> {
    let run = FitActivity::segments(START, &[(10, 140), (30, 165)]).encode();
    let mut ride = FitActivity::segments(START + DAY, &[(45, 130)]);
    ride.sport = 2;
    ride.serial = 3_900_000_002;
    let gpx = support::gpx_two_dialects(START + 2 * DAY, &[150; 1200]);
    let tcx = support::tcx(START + 3 * DAY, "Running", &[155; 1500]);
    let csv = "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Elapsed Time,Distance,Filename\n\
        101,\"Mar 3, 2024, 9:00:00 AM\",\"Spring 10k race, \"\"PB\"\"\",Run,\"first line\nsecond line\",2400,10.0,activities/101.fit.gz\n\
        102,\"Mar 4, 2024, 9:00:00 AM\",Easy spin,Ride,,2700,25.0,activities/102.fit.gz\n\
        103,\"Mar 5, 2024, 9:00:00 AM\",Hill repeats,Run,,1200,4.0,activities/103.gpx.gz\n\
        104,\"Mar 6, 2024, 9:00:00 AM\",Tempo,Run,,1500,5.0,activities/104.tcx.gz\n\
        105,\"Mar 7, 2024, 9:00:00 AM\",Yoga,Yoga,,3600,0,\n";
    vec![
        ("activities.csv".into(), csv.as_bytes().to_vec()),
        ("activities/101.fit.gz".into(), support::gzip(&run)),
        (
            "activities/102.fit.gz".into(),
            support::gzip(&ride.encode()),
        ),
        (
            "activities/103.gpx.gz".into(),
            support::gzip(gpx.as_bytes()),
        ),
        (
            "activities/104.tcx.gz".into(),
            support::gzip(tcx.as_bytes()),
        ),
        (
            "routes/1.gpx".into(),
            support::gpx_two_dialects(START, &[0; 5]).into_bytes(),
        ),
        ("profile.csv".into(), b"Athlete ID\n1\n".to_vec()),
        ("media/photo.jpg".into(), vec![0xFF, 0xD8, 0xFF]),
    ]
}

fn check_strava_import(home: &Path) {
    let mut by_name: HashMap<String, serde_json::Value> = HashMap::new();
    for a in list(home) {
        let id = a["id"].as_i64().unwrap_or_default().to_string();
        let show = support::run(home, &["show", &id, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap_or_default();
        let name = v["activity"]["name"].as_str().unwrap_or("").to_string();
        by_name.insert(name, v["activity"].clone());
    }
    assert_eq!(by_name.len(), 4, "{:?}", by_name.keys());
    assert_eq!(by_name["Spring 10k race, \"PB\""]["sport"], "running");
    assert_eq!(by_name["Easy spin"]["sport"], "cycling");
    assert_eq!(by_name["Hill repeats"]["sport"], "running");
    assert_eq!(by_name["Tempo"]["sport"], "running");
}

#[test]
fn a_strava_export_zip_is_imported_with_names_and_types_and_routes_skipped() {
    let home = home_with("");
    let members = strava_members();
    let borrowed: Vec<(&str, Vec<u8>)> = members
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let zip = home.path().join("export_12345.zip");
    std::fs::write(&zip, support::zip(&borrowed)).unwrap();

    let (c, rows, err) = import(home.path(), &zip);
    assert_eq!(count(&c, "imported"), 4, "{rows:?}\n{err}");
    assert_eq!(count(&c, "skipped"), 1, "{rows:?}");
    assert_eq!(c.values().sum::<usize>(), 5, "{rows:?}");
    let route = rows
        .iter()
        .find(|r| r["status"] == "skipped")
        .unwrap_or_else(|| panic!("no skipped row"));
    assert!(
        route["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("export_12345.zip/routes/1.gpx")),
        "{route}"
    );
    assert!(
        route["reason"]
            .as_str()
            .is_some_and(|r| r.contains("route")),
        "{route}"
    );
    assert!(
        err.contains("4 imported, 0 duplicate, 1 skipped, 0 failed"),
        "{err}"
    );
    check_strava_import(home.path());

    // Unchanged: answered from the store, nothing added.
    let (c, rows, _) = import(home.path(), &zip);
    assert_eq!(count(&c, "duplicate"), 4, "{rows:?}");
    assert_eq!(count(&c, "skipped"), 1, "{rows:?}");
    assert_eq!(list(home.path()).len(), 4);
}

#[test]
fn an_unpacked_strava_export_folder_gets_the_same_names() {
    let home = home_with("");
    let root = home.path().join("strava");
    for (name, bytes) in strava_members() {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap_or(&root)).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let (c, rows, _) = import(home.path(), &root);
    assert_eq!(count(&c, "imported"), 4, "{rows:?}");
    assert_eq!(count(&c, "skipped"), 1, "{rows:?}");
    check_strava_import(home.path());
}

#[test]
fn a_garmin_export_skips_non_activity_fit_files_inside_nested_zips() {
    let home = home_with("");
    // Uploaded files: 3 activities among 17 monitoring and sleep files, in a zip in a zip.
    let mut inner: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..20i64 {
        let mut fa = FitActivity::segments(START + i * DAY, &[(20, 120 + i as u8)]);
        fa.serial = 3_900_001_000 + i as u32;
        let bytes = fa.encode();
        let (name, bytes) = match i % 7 {
            0 => (format!("{i}_ACTIVITY.fit"), bytes),
            1..=4 => (
                format!("{i}_WELLNESS.fit"),
                support::with_file_type(&bytes, 32),
            ),
            5 => (
                format!("{i}_SLEEP.fit"),
                support::with_file_type(&bytes, 49),
            ),
            _ => (
                format!("{i}_METRICS.fit"),
                support::with_file_type(&bytes, 15),
            ),
        };
        inner.push((name, bytes));
    }
    let inner_ref: Vec<(&str, Vec<u8>)> =
        inner.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let part = support::zip(&inner_ref);
    let outer = support::zip(&[
        (
            "DI_CONNECT/DI-Connect-Fitness/user_summarizedActivities.json",
            b"[]".to_vec(),
        ),
        (
            "DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip",
            part,
        ),
        (
            "DI_CONNECT/DI-Connect-User/user_profile.json",
            b"{}".to_vec(),
        ),
    ]);
    let zip = home.path().join("garmin-export.zip");
    std::fs::write(&zip, outer).unwrap();

    let (c, rows, err) = import(home.path(), &zip);
    assert_eq!(count(&c, "imported"), 3, "{rows:?}\n{err}");
    assert_eq!(count(&c, "skipped"), 17, "{rows:?}");
    assert_eq!(c.values().sum::<usize>(), 20);
    for r in rows.iter().filter(|r| r["status"] == "skipped") {
        let reason = r["reason"].as_str().unwrap_or("");
        assert!(reason.contains("not an activity"), "{r}");
        let path = r["path"].as_str().unwrap_or("");
        assert!(
            path.contains(
                "garmin-export.zip/DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip/"
            ),
            "{path}"
        );
    }
    assert!(rows.iter().any(|r| {
        r["reason"]
            .as_str()
            .is_some_and(|s| s.contains("monitoring_b"))
    }));
    // The files command names archive and member.
    let out = support::run(home.path(), &["files", "--status", "skipped"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("UploadedFiles_0-_Part1.zip/1_WELLNESS.fit")
    );
}

#[test]
fn a_zip_bomb_is_refused_within_a_100_mb_memory_limit_and_the_rest_is_imported() {
    let home = home_with("max_file_mb = 16");
    let zeros = vec![0u8; 300 * 1024 * 1024];
    let good = FitActivity::segments(START, &[(30, 150)]).encode();
    // A member that declares 300 MB, a gzip member that expands to 300 MB, and a zip inside.
    let inner = support::zip(&[("activities/inner.fit", zeros.clone())]);
    let outer = support::zip(&[
        ("activities/bomb.fit", zeros.clone()),
        ("activities/bomb.fit.gz", support::gzip(&zeros)),
        ("activities/nested.zip", inner),
        ("activities/good.fit", good),
    ]);
    drop(zeros);
    let zip = home.path().join("bomb.zip");
    std::fs::write(&zip, outer).unwrap();

    // Address space is not capped (threads reserve it freely); the data segment is: every heap
    // allocation counts. Reading any member whole would pass the cap: the read would fail for
    // want of memory (or the process abort), and the reason would not name the limit.
    let out = Command::new("prlimit")
        .arg("--data=100000000")
        .arg(support::bin())
        .args(["import", "--json"])
        .arg(&zip)
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap_or_else(|e| panic!("prlimit: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let failed: Vec<_> = rows.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(failed.len(), 3, "{rows:?}\n{stderr}");
    for r in failed {
        let reason = r["reason"].as_str().unwrap_or("");
        assert!(reason.contains("16 MB limit"), "{r}");
    }
    assert_eq!(
        rows.iter().filter(|r| r["status"] == "imported").count(),
        1,
        "{rows:?}"
    );
}

#[test]
fn a_parallel_backfill_judges_history_as_one_file_at_a_time_in_order_does() {
    // 16 runs over 60 days; two in the middle reach a heart rate no other does, which raises
    // the observed max HR once the second confirms it (MODEL.md §1), for it and what follows,
    // never for what came before. No [athlete] config: max HR comes from history.
    let mut files = Vec::new();
    for i in 0..16i64 {
        let hr = if i == 7 || i == 11 {
            196
        } else {
            140 + (i % 4) as u8 * 6
        };
        let mut fa = FitActivity::segments(START + i * 4 * DAY, &[(10, 130), (35, hr)]);
        fa.serial = 3_900_100_000 + i as u32;
        files.push((format!("run{i:02}.fit"), fa.encode()));
    }
    let all = home_with("");
    let dir = all.path().join("history");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let (c, rows, err) = import(all.path(), &dir);
    assert_eq!(count(&c, "imported"), 16, "{rows:?}\n{err}");

    let one_by_one = home_with("");
    for (name, bytes) in &files {
        let p = one_by_one.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let (c, _, err) = import(one_by_one.path(), &p);
        assert_eq!(count(&c, "imported"), 1, "{err}");
    }
    let judged = |home: &Path| -> Vec<serde_json::Value> {
        list(home)
            .into_iter()
            .map(|a| {
                let id = a["id"].as_i64().unwrap_or_default().to_string();
                let out = support::run(home, &["show", &id, "--format", "json"]);
                let mut v: serde_json::Value =
                    serde_json::from_slice(&out.stdout).unwrap_or_default();
                // Ids follow the order of reading; the confirming activities' starts do not.
                if let Some(by) = v["athlete"]["max_hr_confirmed_by"].as_array_mut() {
                    by.iter_mut()
                        .for_each(|p| p["id"] = serde_json::Value::Null);
                }
                serde_json::json!({
                    "start": v["activity"]["start"], "athlete": v["athlete"],
                    "effort": v["effort"], "recovery": v["recovery"],
                })
            })
            .collect()
    };
    let (a, b) = (judged(all.path()), judged(one_by_one.path()));
    assert_eq!(a.len(), 16);
    assert_eq!(a, b);
    // Each judgement uses the peaks confirmed up to its own start, not what was known when the
    // file happened to be read (`list` is newest first: run 15 is a[0], run 11 is a[4]).
    for (i, v) in a.iter().rev().enumerate() {
        let (max, source) = if i >= 11 {
            (196, "observed")
        } else {
            (190, "default")
        };
        assert_eq!(v["athlete"]["max_hr"], max, "run {i}: {v}");
        assert_eq!(v["athlete"]["sources"]["max_hr"], source, "run {i}: {v}");
    }
    let status = |home: &Path| {
        let out = support::run(home, &["status", "--json"]);
        let mut v = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap_or_default();
        v["latest_hard"]["id"] = serde_json::Value::Null; // ids follow the order of reading
        v
    };
    assert_eq!(status(all.path()), status(one_by_one.path()));
}
