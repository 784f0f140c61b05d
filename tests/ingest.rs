//! Readers against generated fixtures (exact round trips) and against real device files (facts from
//! MANIFEST.tsv): the permissively licensed ones bundled in `tests/data/corpus` on every clone, and the
//! whole shared corpus where `../shared/corpus` (or `RECOVERD_CORPUS`) exists.

mod support;

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use recoverd::config;
use recoverd::ingest::{self, Parsed};
use recoverd::model::Activity;
use recoverd::pipeline::{self, Options};
use recoverd::store::{FileStatus, Store};
use support::{FitActivity, Sample};

const START: i64 = 1_776_675_731; // 2026-04-20T09:02:11Z

fn activity(bytes: &[u8]) -> Activity {
    match ingest::read_bytes(bytes) {
        Ok(Parsed::Activity(a)) => *a,
        other => panic!("expected an activity, got {other:?}"),
    }
}

#[test]
fn fit_1hz_run_round_trips_exactly() {
    let fa = FitActivity::segments(START, &[(10, 130), (20, 160)]);
    let a = activity(&fa.encode());
    assert_eq!(a.sport, "running");
    assert_eq!(a.start.timestamp(), START);
    assert_eq!(a.elapsed_s, f64::from(fa.span()));
    assert_eq!(a.utc_offset_s, Some(7200));
    assert_eq!(a.device.serial, Some(fa.serial));
    assert_eq!(a.hr.len(), fa.samples.len());
    for (got, want) in a.hr.iter().zip(&fa.samples) {
        assert_eq!(got.t, f64::from(want.t));
        assert_eq!(Some(got.bpm), want.hr.map(u16::from));
    }
    assert_eq!(a.distance_m, Some(fa.distance_m()));
}

#[test]
fn fit_run_with_pauses_keeps_the_gaps() {
    let mut fa = FitActivity::segments(START, &[]);
    // 10 min, a 5-min pause, 10 min.
    for t in (0..600).chain(900..1500) {
        fa.samples.push(Sample { t, hr: Some(150) });
    }
    fa.timer_s = Some(1200.0);
    let a = activity(&fa.encode());
    assert_eq!(a.hr.len(), 1200);
    assert_eq!(a.hr[600].t - a.hr[599].t, 301.0);
    assert_eq!(a.moving_s, Some(1200.0));
    assert_eq!(a.elapsed_s, 1499.0);
}

#[test]
fn chained_fit_keeps_both_parts_and_a_broken_second_part_keeps_the_first() {
    let first = FitActivity::segments(START, &[(5, 140)]).encode();
    let mut second_fa = FitActivity::segments(START, &[(5, 150)]);
    second_fa.samples.iter_mut().for_each(|s| s.t += 300);
    let second = second_fa.encode();
    let mut chained = first.clone();
    chained.extend(&second);
    let a = activity(&chained);
    assert_eq!(a.hr.len(), 600);
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    let mut broken = first;
    broken.extend(&second[..second.len() / 2]);
    let a = activity(&broken);
    assert_eq!(a.hr.len(), 300);
    assert!(
        a.warnings.iter().any(|w| w.contains("chained")),
        "{:?}",
        a.warnings
    );
}

#[test]
fn fit_cut_short_is_reported_as_incomplete() {
    let bytes = FitActivity::segments(START, &[(5, 140)]).encode();
    let cut = &bytes[..bytes.len() - 40];
    let err = ingest::read_bytes(cut)
        .err()
        .map(|e| (e.kind, e.message))
        .unwrap_or((ingest::FailureKind::Damaged, String::new()));
    assert_eq!(err.0, ingest::FailureKind::Truncated);
    assert!(
        err.1.contains("ends after") && err.1.contains("copy may still be running"),
        "{}",
        err.1
    );
}

#[test]
fn fit_hr_field_always_invalid_means_no_heart_rate() {
    let mut fa = FitActivity::segments(START, &[(30, 0)]);
    fa.samples.iter_mut().for_each(|s| s.hr = None);
    let a = activity(&fa.encode());
    assert!(a.hr.is_empty());
    assert_eq!(a.avg_hr, None);
    let mut zeros = FitActivity::segments(START, &[(30, 0)]);
    zeros.samples.iter_mut().for_each(|s| s.hr = Some(0));
    assert!(activity(&zeros.encode()).hr.is_empty());
}

#[test]
fn gpx_heart_rate_in_two_dialects_round_trips() {
    let hr: Vec<u8> = (0..600).map(|i| 120 + (i % 50) as u8).collect();
    let a = activity(support::gpx_two_dialects(START, &hr).as_bytes());
    assert_eq!(a.sport, "running");
    assert_eq!(a.hr.len(), hr.len());
    for (i, (got, want)) in a.hr.iter().zip(&hr).enumerate() {
        assert_eq!(got.t, i as f64);
        assert_eq!(got.bpm, u16::from(*want));
    }
    assert_eq!(a.start.timestamp(), START);
    assert_eq!(a.elapsed_s, 599.0);
}

#[test]
fn committed_fixtures_are_what_the_writers_make() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let made: Vec<(&str, Vec<u8>)> = vec![
        (
            "easy-45min.fit",
            FitActivity::segments(START, &[(45, 130)]).encode(),
        ),
        ("5k-race.fit", {
            let mut g = FitActivity::segments(START, &[(15, 130), (20, 176)]);
            g.speed = 5000.0 / 2100.0;
            g.encode()
        }),
        (
            "two-dialects.gpx",
            support::gpx_two_dialects(START, &[140; 120]).into_bytes(),
        ),
        (
            "tempo.tcx",
            support::tcx(START, "Running", &[158; 120]).into_bytes(),
        ),
    ];
    for (name, bytes) in made {
        let path = dir.join(name);
        if std::env::var_os("UPDATE_FIXTURES").is_some() {
            std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        }
        let on_disk = std::fs::read(&path).unwrap_or_default();
        assert!(
            on_disk == bytes,
            "fixtures/{name} is stale: run UPDATE_FIXTURES=1 cargo test"
        );
    }
}

/// One row of MANIFEST.tsv.
struct Row {
    file: String,
    has_hr: bool,
    avg_hr: Option<f64>,
    max_hr: Option<f64>,
    elapsed: Option<f64>,
    duration: Option<f64>,
    distance: Option<f64>,
    notes: String,
}

fn manifest(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap_or_else(|e| {
        panic!(
            "the corpus must be present at {} (RECOVERD_CORPUS): {e}",
            dir.display()
        )
    });
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (f, hr, avg, max, el, dur, dist, notes) = (
        col("file"),
        col("has_hr"),
        col("avg_hr"),
        col("max_hr"),
        col("session_elapsed_s"),
        col("duration_s"),
        col("distance_m"),
        col("notes"),
    );
    let num = |s: &str| s.trim().parse::<f64>().ok();
    lines
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| c.get(i).copied().unwrap_or_default();
            Row {
                file: get(f).to_string(),
                has_hr: get(hr) == "yes",
                avg_hr: num(get(avg)),
                max_hr: num(get(max)),
                elapsed: num(get(el)),
                duration: num(get(dur)),
                distance: num(get(dist)),
                notes: get(notes).to_string(),
            }
        })
        .collect()
}

fn test_config(db: &Path) -> config::Config {
    let mut cfg =
        config::load(Some(&db.with_extension("toml")), Some(db)).unwrap_or_else(|e| panic!("{e}"));
    cfg.notifications = false;
    cfg
}

#[test]
fn every_bundled_corpus_file_is_imported_with_the_manifest_facts_or_given_a_reason() {
    // The same run with its heart rate stripped is recognised as the same activity.
    import_every_file(&support::bundled_corpus(), &["tcxparser__no_hr.tcx"]);
}

#[test]
fn every_corpus_file_is_imported_with_the_manifest_facts_or_given_a_reason() {
    let Some(dir) = support::shared_corpus("every_corpus_file_is_imported") else {
        return;
    };
    // Known pairs of the same activity in two files are recognised.
    import_every_file(
        &dir,
        &[
            "sports-lib__runs_fit_6909950168-no-pause-records.fit",
            "sports-lib__runs_gpx_2067489619.gpx",
        ],
    );
}

/// Imports every file of `dir`'s manifest, checks the facts, then imports them all again: nothing is
/// added the second time. `duplicates` name files that hold an activity stored from another file.
fn import_every_file(dir: &Path, duplicates: &[&str]) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = tmp.path().join("corpus.db");
    let cfg = test_config(&db);
    let mut store = Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let mut report = Vec::new();
    let mut first: HashMap<String, FileStatus> = HashMap::new();
    for row in manifest(dir) {
        let path = dir.join(&row.file);
        let o = pipeline::process_file(&mut store, &cfg, &path, Options::default(), Utc::now())
            .pop()
            .unwrap_or_else(|| panic!("{}: no outcome", row.file));
        first.insert(row.file.clone(), o.status);
        match o.status {
            FileStatus::Imported => {
                let id = o.activity_id.unwrap_or_default();
                let s = store
                    .load(id)
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| panic!("{}: not stored", row.file));
                let a = &s.activity;
                // Elapsed: the session's total, else the record span.
                if let Some(want) = row.elapsed.or(row.duration) {
                    // The manifest rounds to whole seconds.
                    assert!(
                        (a.elapsed_s - want).abs() <= (0.01 * want).max(1.0),
                        "{}: elapsed {} vs {want}",
                        row.file,
                        a.elapsed_s
                    );
                }
                if let (Some(want), true) = (row.distance, a.format == recoverd::model::Format::Fit)
                {
                    let got = a.distance_m.unwrap_or(0.0);
                    assert!(
                        (got - want).abs() <= 0.01 * want,
                        "{}: distance {got} vs {want}",
                        row.file
                    );
                }
                if row.has_hr {
                    let (Some(avg), Some(max)) = (row.avg_hr, row.max_hr) else {
                        continue;
                    };
                    let got_avg = a.avg_hr.unwrap_or(0.0);
                    let got_max = a.max_hr.unwrap_or(0.0);
                    assert!(
                        (got_avg - avg).abs() <= 2.0,
                        "{}: avg HR {got_avg} vs {avg}",
                        row.file
                    );
                    assert!(
                        (got_max - max).abs() <= 1.0,
                        "{}: max HR {got_max} vs {max}",
                        row.file
                    );
                    assert!(!a.hr.is_empty(), "{}: heart-rate stream lost", row.file);
                } else if row.notes.contains("NO HR")
                    || row.notes.contains("no HR")
                    || row.notes.contains("always 0")
                {
                    assert!(a.hr.is_empty(), "{}: invented heart rate", row.file);
                }
                report.push(format!("imported  {} (activity {id})", row.file));
            }
            FileStatus::Skipped | FileStatus::Failed => {
                let reason = o.reason.clone().unwrap_or_default();
                assert!(
                    reason.len() > 10,
                    "{}: {:?} without a reason",
                    row.file,
                    o.status
                );
                // Only files the manifest calls non-activities or corrupt may be refused.
                let expected = row.notes.contains("CORRUPT")
                    || row.notes.contains("non-activity")
                    || row.notes.contains("no track points")
                    || row.notes.contains("no trkpt")
                    || row.notes.contains("no points");
                assert!(
                    expected,
                    "{}: {:?} ({reason}) but the manifest says: {}",
                    row.file, o.status, row.notes
                );
                report.push(format!("{:<9} {} — {reason}", o.status.as_str(), row.file));
            }
            FileStatus::Duplicate => report.push(format!(
                "duplicate {} (same as {:?})",
                row.file, o.duplicate_of
            )),
            FileStatus::Pending => panic!("{}: pending: {:?}", row.file, o.reason),
        }
    }
    println!("{}", report.join("\n"));
    // The second time, everything imported comes back as a duplicate and nothing is added.
    let before = store
        .activity_ids(None)
        .map(|v| v.len())
        .unwrap_or_default();
    for row in manifest(dir) {
        let o = pipeline::process_file(
            &mut store,
            &cfg,
            &dir.join(&row.file),
            Options::default(),
            Utc::now(),
        )
        .pop()
        .unwrap_or_else(|| panic!("{}: no outcome", row.file));
        if first.get(&row.file) == Some(&FileStatus::Imported) {
            assert_eq!(o.status, FileStatus::Duplicate, "{}", row.file);
        }
    }
    assert_eq!(
        store
            .activity_ids(None)
            .map(|v| v.len())
            .unwrap_or_default(),
        before
    );
    for dup in duplicates {
        assert_eq!(first.get(*dup), Some(&FileStatus::Duplicate), "{dup}");
    }
}

#[test]
fn one_bad_file_gives_exit_1_and_the_rest_are_imported() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let inbox = home.path().join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(
        inbox.join("a.fit"),
        FitActivity::segments(START, &[(30, 140)]).encode(),
    )
    .unwrap_or_default();
    std::fs::write(
        inbox.join("b.fit"),
        FitActivity::segments(START + 86_400, &[(30, 140)]).encode(),
    )
    .unwrap_or_default();
    std::fs::write(
        inbox.join("broken.FIT"),
        b"\x0e\x20this is not a fit file at all....",
    )
    .unwrap_or_default();
    let out = support::run(
        home.path(),
        &[
            "import",
            "--json",
            "--no-notify",
            inbox.to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(lines.len(), 3);
    let status = |name: &str| {
        lines
            .iter()
            .find(|v| v["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|v| v["status"].clone())
    };
    assert_eq!(status("a.fit"), Some("imported".into()));
    assert_eq!(status("b.fit"), Some("imported".into()));
    assert_eq!(status("broken.FIT"), Some("failed".into()));
    let reason = lines
        .iter()
        .find(|v| v["status"] == "failed")
        .and_then(|v| v["reason"].as_str())
        .unwrap_or_default();
    assert!(reason.contains("FIT"), "{reason}");
}

/// Heart rate per record as fitparser's full decode (the profile applied) gives it: the
/// reference our field-number reader must match exactly.
fn full_decode_record_hr(bytes: &[u8]) -> Option<Vec<(i64, u16)>> {
    use fitparser::Value;
    let decoded = std::panic::catch_unwind(|| fitparser::from_bytes(bytes))
        .ok()?
        .ok()?;
    let mut out: Vec<(i64, u16)> = Vec::new();
    let mut last: Option<i64> = None;
    for msg in decoded
        .iter()
        .filter(|m| m.kind() == fitparser::profile::MesgNum::Record)
    {
        let mut ts = None;
        let mut hr = None;
        for f in msg.fields() {
            match (f.name(), f.value()) {
                ("timestamp", Value::Timestamp(t)) => ts = Some(t.timestamp()),
                ("heart_rate", Value::UInt8(b)) => hr = Some(u16::from(*b)),
                _ => {}
            }
        }
        let Some(ts) = ts else { continue };
        if last.is_some_and(|l| ts < l) {
            continue;
        }
        last = Some(ts);
        if let Some(hr) = hr {
            out.push((ts, hr));
        }
    }
    Some(out)
}

#[test]
fn the_fast_fit_reader_agrees_with_the_full_decode_on_the_bundled_corpus() {
    fast_reader_agrees(&support::bundled_corpus(), 6);
}

#[test]
fn the_fast_fit_reader_agrees_with_the_full_decode_on_every_corpus_file() {
    if let Some(dir) = support::shared_corpus("the_fast_fit_reader_agrees") {
        fast_reader_agrees(&dir, 20);
    }
}

/// Compares our record reader with fitparser's full decode on every FIT file of `dir`'s manifest that
/// has record heart rate; at least `at_least` such files must be compared.
fn fast_reader_agrees(dir: &Path, at_least: usize) {
    let mut compared = 0;
    let mut samples = 0;
    for row in manifest(dir) {
        if !row.file.to_ascii_lowercase().ends_with(".fit") {
            continue;
        }
        let bytes = std::fs::read(dir.join(&row.file)).unwrap_or_default();
        let Ok(Parsed::Activity(a)) = ingest::read_bytes(&bytes) else {
            continue;
        };
        let Some(full) = full_decode_record_hr(&bytes) else {
            continue; // the full decode cannot read it (we keep what we can); nothing to compare
        };
        let full_plausible = full.iter().filter(|(_, b)| (30..=250).contains(b)).count();
        if full_plausible < 30 {
            continue; // heart rate from `hr` messages (swims) or none: not the record path
        }
        let start = a.start.timestamp();
        let ours: Vec<(i64, u16)> = a.hr.iter().map(|s| (start + s.t as i64, s.bpm)).collect();
        let theirs: Vec<(i64, u16)> = full.into_iter().filter(|(t, _)| *t >= start).collect();
        assert_eq!(ours.len(), theirs.len(), "{}: sample count", row.file);
        if let Some(i) = (0..ours.len()).find(|&i| ours[i] != theirs[i]) {
            panic!(
                "{}: sample {i} differs: ours {:?}, full decode {:?}",
                row.file, ours[i], theirs[i]
            );
        }
        compared += 1;
        samples += ours.len();
    }
    println!("{compared} files, {samples} heart-rate samples compared");
    assert!(
        compared >= at_least,
        "only {compared} FIT files of {} compared",
        dir.display()
    );
}

#[test]
fn a_copy_with_heart_rate_replaces_a_stored_copy_without() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    support::reference_config(home.path());
    let gpx = home.path().join("export-without-hr.gpx");
    std::fs::write(&gpx, support::gpx_two_dialects(START, &[0; 1200])).unwrap();
    let fit = home.path().join("watch.fit");
    std::fs::write(&fit, FitActivity::segments(START, &[(20, 150)]).encode()).unwrap();
    for p in [&gpx, &fit] {
        let out = support::run(
            home.path(),
            &["import", "--no-notify", p.to_str().unwrap_or_default()],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = support::run(home.path(), &["list", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["avg_hr"], 150, "{list:?}");
    let out = support::run(home.path(), &["files", "--json"]);
    let files: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let status = |name: &str| {
        files
            .iter()
            .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|f| {
                (
                    f["status"].clone(),
                    f["activity_id"].clone(),
                    f["duplicate_of"].clone(),
                )
            })
    };
    let id = list[0]["id"].clone();
    assert_eq!(
        status("watch.fit"),
        Some(("imported".into(), id.clone(), serde_json::Value::Null))
    );
    assert_eq!(
        status("export-without-hr.gpx"),
        Some(("duplicate".into(), serde_json::Value::Null, id))
    );
    // And the other way round, the copy without heart rate stays a duplicate.
    let out = support::run(
        home.path(),
        &["import", "--no-notify", gpx.to_str().unwrap_or_default()],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 imported, 1 duplicate"));
}
