//! Exactly once across processes: `import`s running at once on one database, and a file read
//! again after `touch`, with the real binary and real SQLite (WAL).

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::{FitActivity, gpx_two_dialects};

const RUNS: i64 = 60;
const START: i64 = 1_767_225_600; // 2026-01-01

/// Each run as FIT in `fit/` and as GPX (no device serial) in `gpx/`.
fn write_runs(home: &Path) {
    for dir in ["fit", "gpx"] {
        std::fs::create_dir_all(home.join(dir)).unwrap_or_default();
    }
    for i in 0..RUNS {
        let start = START + i * 86_400;
        let mut fa = FitActivity::segments(start, &[(15, 135), (5, 160)]);
        fa.serial = 3_500_000_000 + i as u32;
        std::fs::write(home.join(format!("fit/run{i:03}.fit")), fa.encode()).unwrap_or_default();
        let hr: Vec<u8> = fa.samples.iter().filter_map(|s| s.hr).collect();
        std::fs::write(
            home.join(format!("gpx/run{i:03}.gpx")),
            gpx_two_dialects(start, &hr),
        )
        .unwrap_or_default();
    }
}

fn import_at_once(home: &Path, args: &[&[&str]]) {
    let children: Vec<_> = args
        .iter()
        .map(|a| {
            Command::new(support::bin())
                .arg("import")
                .args(*a)
                .current_dir(home)
                .env("HOME", home)
                .env_remove("XDG_CONFIG_HOME")
                .env_remove("XDG_DATA_HOME")
                .env_remove("DBUS_SESSION_BUS_ADDRESS")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    for mut c in children {
        let _ = c.wait();
    }
}

fn list_len(home: &Path) -> usize {
    let out = support::run(home, &["list", "--json", "--limit", "100000"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    list.len()
}

#[test]
fn two_imports_of_the_same_runs_as_fit_and_gpx_store_each_run_once() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    support::reference_config(home.path());
    write_runs(home.path());
    // Each format by its own process, and both formats by two processes in opposite orders.
    import_at_once(
        home.path(),
        &[&["fit"], &["gpx"], &["gpx", "fit"], &["fit", "gpx"]],
    );
    let files = support::files_json(home.path());
    assert_eq!(files.len(), 2 * RUNS as usize, "{files:?}");
    for f in &files {
        assert!(
            f["status"] == "imported" || f["status"] == "duplicate",
            "every file final, none pending: {f}"
        );
    }
    assert_eq!(list_len(home.path()), RUNS as usize, "one activity per run");
    let imported = files.iter().filter(|f| f["status"] == "imported").count();
    assert_eq!(imported, RUNS as usize, "{files:?}");
}

#[test]
fn the_same_file_imported_by_two_processes_at_once_is_stored_once_and_final() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    support::reference_config(home.path());
    write_runs(home.path());
    for i in 0..5 {
        let f = format!("fit/run{i:03}.fit");
        import_at_once(home.path(), &[&[&f], &[&f], &[&f]]);
    }
    let files = support::files_json(home.path());
    assert_eq!(files.len(), 5, "{files:?}");
    assert!(files.iter().all(|f| f["status"] == "imported"), "{files:?}");
    assert_eq!(list_len(home.path()), 5);
}

#[test]
fn a_touched_file_read_again_keeps_its_own_row() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    support::reference_config(home.path());
    write_runs(home.path());
    let path = home.path().join("fit/run000.fit");
    let out = support::run(home.path(), &["import", &path.to_string_lossy()]);
    assert!(out.status.success(), "{out:?}");
    // `touch`: a new mtime, the same content; then the content rewritten with a new mtime.
    let bytes = std::fs::read(&path).unwrap_or_default();
    let f = std::fs::File::options().write(true).open(&path);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    assert!(f.and_then(|f| f.set_modified(later)).is_ok());
    let out = support::run(home.path(), &["import", &path.to_string_lossy()]);
    assert!(out.status.success(), "{out:?}");
    std::fs::write(&path, &bytes).unwrap_or_default();
    let out = support::run(home.path(), &["import", &path.to_string_lossy()]);
    assert!(out.status.success(), "{out:?}");
    let files = support::files_json(home.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["status"], "imported", "{files:?}");
    assert!(files[0]["activity_id"].is_i64(), "{files:?}");
    assert!(files[0]["duplicate_of"].is_null(), "{files:?}");
    assert_eq!(list_len(home.path()), 1);
}

#[test]
fn the_service_and_an_import_at_once_store_each_run_once() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_runs(home.path());
    let watch = home.path().join("watch");
    std::fs::create_dir_all(&watch).unwrap_or_default();
    support::watch_config(home.path(), &watch);
    let svc = support::Service::start(home.path(), None);
    std::thread::sleep(std::time::Duration::from_secs(1));
    // The FIT copies arrive in the watched folder while `import` reads the GPX copies.
    let importer = std::thread::spawn({
        let home = home.path().to_path_buf();
        move || import_at_once(&home, &[&["gpx"]])
    });
    for i in 0..RUNS {
        let name = format!("run{i:03}.fit");
        let _ = std::fs::copy(home.path().join("fit").join(&name), watch.join(&name));
    }
    let _ = importer.join();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut files = support::files_json(home.path());
    while files.len() < 2 * RUNS as usize && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        files = support::files_json(home.path());
    }
    assert_eq!(svc.stop(), Some(0));
    assert_eq!(files.len(), 2 * RUNS as usize, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f["status"] == "imported" || f["status"] == "duplicate"),
        "{files:?}"
    );
    assert_eq!(list_len(home.path()), RUNS as usize, "one activity per run");
}
