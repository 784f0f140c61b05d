//! Bad input and faults: mutants of every format, XML bombs, SIGKILL at random moments, a
//! read-only or locked database, links out of the watched folders, unreadable files and names
//! that are not UTF-8.

mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use recoverd::ingest::{Limits, Parsed};
use recoverd::pipeline;
use support::{FitActivity, Service, files_json, fit, setup, wait_imported};

/// A small deterministic generator (xorshift64*), so a failing mutant can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Parses one input and checks the outcome has an answer: an activity, a skip with a reason,
/// or a failure with a reason; and that it took under a second.
fn answer(bytes: &[u8], what: &str) -> &'static str {
    let t = Instant::now();
    let r = pipeline::parse_content(bytes, Limits::default());
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "{what}: took {took:?}");
    match r {
        Ok(Parsed::Activity(a)) => {
            let year = 366.0 * 86_400.0;
            assert!(
                a.elapsed_s.is_finite() && (0.0..=year).contains(&a.elapsed_s),
                "{what}"
            );
            assert!(a.distance_m.is_none_or(f64::is_finite), "{what}");
            assert!(a.moving_s.is_none_or(f64::is_finite), "{what}");
            assert!(
                a.avg_hr.is_none_or(|h| h <= 250.0),
                "{what}: {:?}",
                a.avg_hr
            );
            assert!(
                a.max_hr.is_none_or(|h| h <= 255.0),
                "{what}: {:?}",
                a.max_hr
            );
            assert!(a.hr.iter().all(|s| s.t.is_finite()), "{what}");
            "imported"
        }
        Ok(Parsed::Skipped(reason)) => {
            assert!(
                !reason.trim().is_empty(),
                "{what}: skipped without a reason"
            );
            "skipped"
        }
        Ok(Parsed::Wellness(w)) => {
            assert!(w.is_sane(), "{what}: {w:?}");
            "imported"
        }
        Err(e) => {
            assert!(
                !e.message.trim().is_empty(),
                "{what}: failed without a reason"
            );
            "failed"
        }
    }
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        if m.is_empty() {
            break;
        }
        match rng.below(7) {
            // A number made extreme (huge, negative, NaN, infinite, a type's limits).
            5 | 6 => extreme(rng, &mut m),
            // Bit flips.
            0 | 1 => {
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(m.len());
                    m[i] ^= 1 << rng.below(8);
                }
            }
            // A random byte value (0, 0xFF, or any).
            2 => {
                let i = rng.below(m.len());
                m[i] = [0u8, 0xFF, rng.next() as u8][rng.below(3)];
            }
            // Splice: a run of the file copied over another place.
            3 => {
                let len = 1 + rng.below(64.min(m.len()));
                let from = rng.below(m.len() - len + 1);
                let to = rng.below(m.len() - len + 1);
                let run = m[from..from + len].to_vec();
                m[to..to + len].copy_from_slice(&run);
            }
            // Insert or delete a run.
            _ => {
                let at = rng.below(m.len());
                if rng.below(2) == 0 {
                    let len = 1 + rng.below(32);
                    let run: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                    m.splice(at..at, run);
                } else {
                    let end = (at + 1 + rng.below(32)).min(m.len());
                    m.drain(at..end);
                }
            }
        }
    }
    m
}

/// Replaces a number with an extreme value: in XML, a run of digits (with its sign, point and
/// exponent) by text such as `1e309` or `NaN`; in binary, 1, 2, 4 or 8 bytes by a limit of an
/// integer type or the bits of NaN or an infinity.
fn extreme(rng: &mut Rng, m: &mut Vec<u8>) {
    const TEXT: &[&str] = &[
        "1e15",
        "1e300",
        "1e309",
        "-1e300",
        "-1",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "0",
        "18446744073709551616",
        "1e10",
        "-0",
        "4294967295",
    ];
    let number = |c: u8| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-');
    if m.first() == Some(&b'<') {
        let from = rng.below(m.len());
        let Some(start) = (from..m.len()).find(|&i| m[i].is_ascii_digit()) else {
            return;
        };
        let start = (0..start)
            .rev()
            .take_while(|&i| number(m[i]))
            .last()
            .unwrap_or(start);
        let end = (start..m.len()).find(|&i| !number(m[i])).unwrap_or(m.len());
        let v = TEXT[rng.below(TEXT.len())].as_bytes().to_vec();
        m.splice(start..end, v);
    } else {
        let width = [1usize, 2, 4, 8][rng.below(4)].min(m.len());
        let at = rng.below(m.len() - width + 1);
        let patterns: [[u8; 8]; 7] = [
            [0xFF; 8],
            [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            [0, 0, 0, 0, 0, 0, 0, 0x80],
            f64::NAN.to_le_bytes(),
            f64::INFINITY.to_le_bytes(),
            f32::NEG_INFINITY
                .to_le_bytes()
                .repeat(2)
                .try_into()
                .unwrap_or([0; 8]),
        ];
        let p = patterns[rng.below(patterns.len())];
        m[at..at + width].copy_from_slice(&p[8 - width..]);
    }
}

#[test]
fn every_truncation_and_ten_thousand_mutants_get_an_answer_without_panic_or_hang() {
    let fit = FitActivity::segments(support::SERVICE_START, &[(3, 130), (2, 160)]).encode();
    let gpx = support::gpx_two_dialects(support::SERVICE_START, &[150; 120]).into_bytes();
    let tcx = support::tcx(support::SERVICE_START, "Running", &[150; 120]).into_bytes();

    // The FIT file cut at every byte.
    let mut seen = std::collections::HashMap::new();
    for n in 0..=fit.len() {
        *seen
            .entry(answer(&fit[..n], &format!("FIT cut at {n}")))
            .or_insert(0) += 1;
    }
    assert_eq!(
        seen.get("imported"),
        Some(&1),
        "only the whole file is whole: {seen:?}"
    );

    // Random mutants of each format, gzipped too now and then.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut total = 0;
    for (name, base) in [("FIT", &fit), ("GPX", &gpx), ("TCX", &tcx)] {
        let mut outcomes = std::collections::HashMap::new();
        for i in 0..3_400 {
            let m = mutate(&mut rng, base);
            let m = if i % 50 == 0 { support::gzip(&m) } else { m };
            *outcomes
                .entry(answer(&m, &format!("{name} mutant {i}")))
                .or_insert(0) += 1;
            total += 1;
        }
        println!("{name}: {outcomes:?}");
        assert!(
            outcomes.contains_key("failed"),
            "{name}: no mutant failed? {outcomes:?}"
        );
    }
    assert!(total >= 10_000);
}

/// XML that expands (billion laughs), reaches outside (external entity) or nests absurdly.
fn xml_bombs() -> Vec<(&'static str, Vec<u8>)> {
    let mut laughs =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE gpx [\n<!ENTITY l0 \"lol\">\n");
    for i in 1..=10 {
        laughs.push_str(&format!(
            "<!ENTITY l{i} \"{}\">\n",
            format!("&l{};", i - 1).repeat(10)
        ));
    }
    laughs.push_str("]>\n<gpx version=\"1.1\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><name>&l10;</name></trk></gpx>\n");
    let external = "<?xml version=\"1.0\"?>\n<!DOCTYPE TrainingCenterDatabase [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<TrainingCenterDatabase xmlns=\"http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2\"><Activities><Activity Sport=\"Running\"><Id>&x;</Id></Activity></Activities></TrainingCenterDatabase>\n";
    let depth = 200_000;
    let mut nested = String::from(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><trkseg><trkpt lat=\"1\" lon=\"1\"><extensions>",
    );
    nested.push_str(&"<a>".repeat(depth));
    nested.push_str(&"</a>".repeat(depth));
    nested.push_str("</extensions></trkpt></trkseg></trk></gpx>\n");
    vec![
        ("laughs.gpx", laughs.into_bytes()),
        ("external.tcx", external.as_bytes().to_vec()),
        ("nested.gpx", nested.into_bytes()),
    ]
}

#[test]
fn xml_bombs_are_refused_within_a_100_mb_memory_limit() {
    for (name, bytes) in xml_bombs() {
        assert_eq!(answer(&bytes, name), "failed", "{name}");
    }
    // Through the binary, its data segment capped at 100 MB: an expanded entity or a parser
    // stack per nesting level would not fit.
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join("bombs");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in xml_bombs() {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let out = Command::new("prlimit")
        .arg("--data=100000000")
        .arg(support::bin())
        .args(["import", "--json", "--no-notify"])
        .arg(&dir)
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap_or_else(|e| panic!("prlimit: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    for r in &rows {
        assert_eq!(r["status"], "failed", "{r}");
        let reason = r["reason"].as_str().unwrap_or("");
        assert!(
            reason.contains("DOCTYPE") || reason.contains("nests elements"),
            "the reason says why: {r}"
        );
    }
}

#[test]
fn sigkill_at_random_moments_during_a_burst_loses_nothing_and_repeats_nothing() {
    let (home, watch) = setup();
    for i in 0..100 {
        let mut fa = FitActivity::segments(support::SERVICE_START + i * 3_600, &[(15, 140)]);
        fa.serial = 3_700_000_000 + i as u32;
        std::fs::write(watch.join(format!("k{i:03}.fit")), fa.encode()).unwrap();
    }
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..20 {
        let svc = Service::start(home.path(), None);
        std::thread::sleep(Duration::from_millis(300 + rng.below(1_700) as u64));
        svc.kill();
    }
    let svc = Service::start(home.path(), None);
    let files = wait_imported(home.path(), 100, 90);
    assert_eq!(svc.stop(), Some(0));
    assert_eq!(files.len(), 100, "{files:?}");
    assert!(files.iter().all(|f| f["status"] == "imported"), "{files:?}");
    let ids: std::collections::HashSet<i64> = files
        .iter()
        .filter_map(|f| f["activity_id"].as_i64())
        .collect();
    assert_eq!(ids.len(), 100, "one activity per file");
    let out = support::run(home.path(), &["list", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(list.len(), 100);
    let out = support::run(home.path(), &["doctor"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("integrity ok"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn wait_for_log(path: &Path, needle: &str, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if log_of(path).contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn a_read_only_database_folder_leaves_files_pending_until_it_is_writable() {
    use std::os::unix::fs::PermissionsExt;
    let (home, watch) = setup();
    // Create the database, then close it (the WAL and shared-memory files go with the last
    // connection), then take write permission away from its folder.
    support::give_to_unprivileged(home.path());
    let out = support::run_unprivileged(home.path(), &["status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db_dir = home.path().join(".local/share/recoverd");
    std::fs::set_permissions(&db_dir, std::fs::Permissions::from_mode(0o500)).unwrap();

    let log = home.path().join("service.log");
    let svc = Service::start_with(home.path(), None, Some(&log), true);
    std::thread::sleep(Duration::from_millis(500));
    let path = watch.join("while-read-only.fit");
    std::fs::write(&path, fit(0)).unwrap();
    support::give_to_unprivileged(&path);
    assert!(
        wait_for_log(&log, "pending", 15),
        "no pending outcome logged:\n{}",
        log_of(&log)
    );
    let mut svc = svc;
    assert!(svc.child_running(), "the service keeps running");

    std::fs::set_permissions(&db_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(
        wait_for_log(&log, "imported", 30),
        "not imported once writable:\n{}",
        log_of(&log)
    );
    assert_eq!(svc.stop(), Some(0));
    println!("{}", log_of(&log));
    let out = support::run_unprivileged(home.path(), &["files", "--json"]);
    let files: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["status"], "imported");
}

#[test]
fn a_database_locked_by_another_connection_leaves_files_pending_then_imports_them() {
    let (home, watch) = setup();
    let log = home.path().join("service.log");
    let svc = Service::start_with(home.path(), None, Some(&log), false);
    let db = home.path().join(".local/share/recoverd/recoverd.db");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !db.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch("BEGIN EXCLUSIVE")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(watch.join("while-locked.fit"), fit(1)).unwrap();
    // The service waits out its 5 s busy timeout, then leaves the file pending.
    assert!(
        wait_for_log(&log, "pending", 20),
        "no pending outcome logged:\n{}",
        log_of(&log)
    );
    conn.execute_batch("ROLLBACK")
        .unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    let files = wait_imported(home.path(), 1, 30);
    assert_eq!(svc.stop(), Some(0));
    println!("{}", log_of(&log));
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["status"], "imported", "{files:?}");
}

#[test]
fn links_out_of_the_watched_folders_are_not_followed_and_links_within_are() {
    let (home, watch) = setup();
    let outside = home.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.fit"), fit(2)).unwrap();
    std::fs::create_dir_all(watch.join("real")).unwrap();
    std::fs::write(watch.join("real/inside.fit"), fit(3)).unwrap();
    let svc = Service::start(home.path(), None);
    std::thread::sleep(Duration::from_millis(500));
    std::os::unix::fs::symlink(outside.join("secret.fit"), watch.join("planted.fit"))
        .unwrap_or_default();
    std::os::unix::fs::symlink(&outside, watch.join("planted-folder")).unwrap_or_default();
    std::os::unix::fs::symlink("real/inside.fit", watch.join("alias.fit")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut files = files_json(home.path());
    while files.len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        files = files_json(home.path());
    }
    assert_eq!(svc.stop(), Some(0));
    let by_name = |n: &str| {
        files
            .iter()
            .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with(n)))
            .cloned()
            .unwrap_or_else(|| panic!("{n} not answered: {files:?}"))
    };
    let planted = by_name("/planted.fit");
    assert_eq!(planted["status"], "skipped", "{planted}");
    assert!(
        planted["reason"]
            .as_str()
            .is_some_and(|r| r.contains("outside the watched folders")),
        "{planted}"
    );
    assert_eq!(by_name("/inside.fit")["status"], "imported");
    assert_eq!(by_name("/alias.fit")["status"], "duplicate");
    assert!(
        !files.iter().any(|f| f["path"]
            .as_str()
            .is_some_and(|p| p.contains("secret") || p.contains("planted-folder"))),
        "{files:?}"
    );
    let out = support::run(home.path(), &["list", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(list.len(), 1, "only the file inside was read");
}

#[test]
fn an_unreadable_file_is_reported_and_imported_once_it_can_be_read() {
    use std::os::unix::fs::PermissionsExt;
    let (home, watch) = setup();
    support::give_to_unprivileged(home.path());
    let log = home.path().join("service.log");
    let svc = Service::start_with(home.path(), None, Some(&log), true);
    std::thread::sleep(Duration::from_millis(500));
    let path = watch.join("locked-away.fit");
    std::fs::write(&path, fit(4)).unwrap();
    support::give_to_unprivileged(&path);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    assert!(
        wait_for_log(&log, "ermission denied", 15),
        "no permission failure logged:\n{}",
        log_of(&log)
    );
    let out = support::run_unprivileged(home.path(), &["files", "--status", "failed"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("locked-away.fit") && listed.contains("permissions"),
        "{listed}"
    );
    // A chmod is a change: it is read again.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        wait_for_log(&log, "imported", 15),
        "not imported after chmod:\n{}",
        log_of(&log)
    );
    assert_eq!(svc.stop(), Some(0));
    println!("{}", log_of(&log));
}

#[test]
fn names_that_are_not_utf8_work_in_import_and_in_the_service() {
    let (home, watch) = setup();
    let name = OsStr::from_bytes(b"Lauf-\xe4\xf6\xfc-latin1.fit");
    let svc = Service::start(home.path(), None);
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(watch.join(name), fit(6)).unwrap();
    let files = wait_imported(home.path(), 1, 15);
    assert_eq!(svc.stop(), Some(0));
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["status"], "imported");
    assert!(
        files[0]["path"]
            .as_str()
            .is_some_and(|p| p.contains("Lauf-\u{fffd}")),
        "{files:?}"
    );
    // import: a folder holding another such name.
    let dir = home.path().join(OsStr::from_bytes(b"Ordner-\xff"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(OsStr::from_bytes(b"\xfe.fit")), fit(7)).unwrap();
    let out = Command::new(support::bin())
        .arg("import")
        .arg(&dir)
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 imported"), "{err}");
    // Known by its exact bytes: the second time it is not read again.
    let out = Command::new(support::bin())
        .arg("import")
        .arg(&dir)
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 imported, 1 duplicate"));
}

/// Imports one file through the binary, checks it succeeds without a line of `ERROR` output,
/// and returns `show --format json` of it.
fn import_quietly(name: &str, bytes: &[u8]) -> serde_json::Value {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = home.path().join(name);
    std::fs::write(&path, bytes).unwrap_or_default();
    let out = support::run(
        home.path(),
        &["import", "--no-notify", path.to_str().unwrap_or_default()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("ERROR"), "{err}");
    let out = support::run(home.path(), &["show", "--format", "json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

#[test]
fn a_malformed_field_definition_is_read_without_a_line_of_output_per_message() {
    // The record definition's heart_rate (1 byte) declared as uint16: fitparser reads it as a
    // byte array and would print an error line for each such definition.
    let fa = FitActivity::segments(support::SERVICE_START, &[(20, 150)]);
    let good = fa.encode();
    let mut data = good[14..good.len() - 2].to_vec();
    // header 14 | file_id definition 21 | file_id data 14 | record definition: 6 + (253,4,86)
    // → heart_rate's base type byte.
    assert_eq!(&data[35 + 9..35 + 12], &[3, 1, 0x02]);
    data[35 + 11] = 0x84;
    let bad = support::frame(&data);
    let v = import_quietly("odd-definition.fit", &bad);
    assert_eq!(
        v["activity"]["avg_hr"], 150,
        "the byte is still read as heart rate: {v}"
    );
}

#[test]
fn a_developer_field_whose_size_does_not_divide_keeps_the_framing() {
    // A field_description (206) says developer field 0 is a sint32, and the record definition
    // gives it 9 bytes: read in 4-byte steps it would take 12 and lose every later message.
    let ts0: u32 = 1_100_000_000;
    let mut d = Vec::new();
    d.extend([0x40, 0, 0, 0, 0, 2, 0, 1, 0x00, 4, 4, 0x86]); // file_id: type, time_created
    d.push(0x00);
    d.push(4);
    d.extend(ts0.to_le_bytes());
    d.extend([0x42, 0, 0, 206, 0, 3, 0, 1, 0x02, 1, 1, 0x02, 2, 1, 0x02]); // field_description
    d.extend([0x02, 0, 0, 0x85]);
    // record: timestamp, heart_rate, and developer field 0 of 9 bytes
    d.extend([0x61, 0, 0, 20, 0, 2, 253, 4, 0x86, 3, 1, 0x02, 1, 0, 9, 0]);
    for t in 0..600u32 {
        d.push(0x01);
        d.extend((ts0 + t).to_le_bytes());
        d.push(150);
        d.extend([0x11; 9]);
    }
    let bytes = support::frame(&d);
    let v = import_quietly("dev-field.fit", &bytes);
    assert_eq!(
        v["activity"]["elapsed_s"], 599,
        "every record was read: {v}"
    );
}
