//! Desktop notifications on a real, private D-Bus session bus (`dbus-daemon`), served by a small
//! `org.freedesktop.Notifications` implementation inside the test that records every call.

#[path = "support/notifyd.rs"]
mod notifyd;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use notifyd::{Bus, Server, start_bus};
use support::FitActivity;

fn import(home: &Path, bus: &str, args: &[&str]) -> std::process::Output {
    Command::new(support::bin())
        .arg("import")
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Serves `org.freedesktop.Notifications` on the bus, recording every call.
async fn serve(bus: &Bus) -> (Server, zbus::Connection) {
    serve_as(bus, Server::default()).await
}

async fn serve_as(bus: &Bus, server: Server) -> (Server, zbus::Connection) {
    let conn = notifyd::serve(bus, server.clone()).await;
    (server, conn)
}

/// The reference runner's config, notifications on, watching `watch` when given.
fn write_config(home: &Path, watch: Option<&Path>) {
    let dir = home.join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap_or_default();
    let watch = watch.map_or(String::new(), |w| {
        format!("watch = [\"{}\"]\n", w.display())
    });
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "{watch}[athlete]\nmax_hr = 185\nresting_hr = 50\nthreshold_hr = 168\nsex = \"male\"\n"
        ),
    )
    .unwrap_or_default();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_notify_per_new_activity_none_for_duplicates_one_for_a_backfill() {
    let bus = start_bus();
    let (server, _conn) = serve(&bus).await;

    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_config(home.path(), None);
    let now = chrono::Utc::now().timestamp();
    // A 10K race that ended an hour ago.
    let mut race = FitActivity::segments(now - 3600 - 42 * 60, &[(42, 174)]);
    race.speed = 10_000.0 / 2520.0;
    let race_path = home.path().join("race.fit");
    std::fs::write(&race_path, race.encode()).unwrap();
    let out = import(
        home.path(),
        &bus.address,
        &[race_path.to_str().unwrap_or_default()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = server.calls.lock().map(|c| c.clone()).unwrap_or_default();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].app, "recoverd");
    assert_eq!(calls[0].summary, "10K race, 10.0 km: max effort");
    let lines: Vec<&str> = calls[0].body.lines().collect();
    assert!(
        lines[0].starts_with("Ready for hard training and racing: "),
        "{}",
        calls[0].body
    );
    assert!(
        calls[0].body.contains("Walk for 10–15 minutes") && calls[0].body.contains("Ice bath"),
        "{}",
        calls[0].body
    );
    // A picture of the effort, written beside the database; no click to answer after import.
    let png = calls[0].image_path.clone().unwrap_or_default();
    assert!(
        png.starts_with(
            &*home
                .path()
                .join(".local/share/recoverd/pages")
                .to_string_lossy()
        ) && std::fs::read(&png).is_ok_and(|b| b.starts_with(b"\x89PNG")),
        "image-path {png:?}"
    );
    assert!(calls[0].actions.is_empty(), "{:?}", calls[0].actions);

    // The same file again: a duplicate, no notification.
    let copy = home.path().join("race-copy.fit");
    std::fs::copy(&race_path, &copy).unwrap();
    let out = import(
        home.path(),
        &bus.address,
        &[copy.to_str().unwrap_or_default()],
    );
    assert!(out.status.success());
    assert_eq!(server.calls.lock().map(|c| c.len()).unwrap_or_default(), 1);

    // A backfill of three old runs: one summary notification.
    let old = home.path().join("old");
    std::fs::create_dir_all(&old).unwrap();
    for i in 0..3 {
        let fa = FitActivity::segments(now - (30 + i) * 86_400, &[(40, 140)]);
        std::fs::write(old.join(format!("old{i}.fit")), fa.encode()).unwrap();
    }
    let out = import(
        home.path(),
        &bus.address,
        &[old.to_str().unwrap_or_default()],
    );
    assert!(out.status.success());
    let calls = server.calls.lock().map(|c| c.clone()).unwrap_or_default();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1].summary, "Imported 3 past activities");

    // doctor names the server.
    let out = Command::new(support::bin())
        .arg("doctor")
        .env("HOME", home.path())
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("test-notifyd 1.0"), "{text}");
    // This server shows no buttons: the morning notification will say how to answer.
    assert!(text.contains("shows no buttons"), "{text}");
}

#[test]
fn without_a_bus_import_succeeds_with_one_warning() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_config(home.path(), None);
    let now = chrono::Utc::now().timestamp();
    for i in 0..2 {
        let fa = FitActivity::segments(now - 7200 - i * 4000, &[(30, 150)]);
        std::fs::write(home.path().join(format!("r{i}.fit")), fa.encode()).unwrap();
    }
    let out = import(
        home.path(),
        "unix:path=/nonexistent/bus",
        &[home.path().to_str().unwrap_or_default()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("cannot send desktop notifications").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("2 imported"), "{stderr}");
}

/// Waits until the server has recorded `n` calls (or the timeout passes); returns them all.
async fn wait_calls(server: &Server, n: usize, secs: u64) -> Vec<notifyd::Call> {
    server.wait_calls(n, secs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_notifies_each_new_activity_once_and_a_start_up_backfill_once() {
    let bus = start_bus();
    let (server, server_conn) = serve(&bus).await;

    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let watch = home.path().join("watch");
    std::fs::create_dir_all(&watch).unwrap();
    write_config(home.path(), Some(&watch));
    // History already in the folder when the service starts: one summary, not one each.
    let now = chrono::Utc::now().timestamp();
    for i in 0..4 {
        let mut fa = FitActivity::segments(now - (20 + i) * 86_400, &[(40, 140)]);
        fa.serial = 3_600_000_000 + i as u32;
        std::fs::write(watch.join(format!("old{i}.fit")), fa.encode()).unwrap();
    }
    // xdg-open as the desktop has it, here a script that writes down what it was asked to open.
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_default();
    std::fs::write(
        bin.join("xdg-open"),
        "#!/bin/sh\nprintf '%s\\n' \"$1\" > \"$HOME/opened\"\n",
    )
    .unwrap_or_default();
    std::fs::set_permissions(
        bin.join("xdg-open"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap_or_default();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut svc = Command::new(support::bin())
        .arg("run")
        .env("HOME", home.path())
        .env("PATH", path)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let calls = wait_calls(&server, 1, 20).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].summary, "Imported 4 past activities");

    // A race synced now: one notification with its plan.
    let mut race = FitActivity::segments(now - 1800 - 42 * 60, &[(42, 174)]);
    race.speed = 10_000.0 / 2520.0;
    let bytes = race.encode();
    std::fs::write(watch.join("race.fit"), &bytes).unwrap();
    let calls = wait_calls(&server, 2, 20).await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1].app, "recoverd");
    assert_eq!(calls[1].summary, "10K race, 10.0 km: max effort");
    assert!(
        calls[1]
            .body
            .starts_with("Ready for hard training and racing: ")
            && calls[1].body.contains("Ice bath"),
        "{}",
        calls[1].body
    );
    // It carries a picture of the effort and opens the activity's page when clicked.
    let png = calls[1].image_path.clone().unwrap_or_default();
    let picture = std::fs::read(&png).unwrap_or_else(|e| panic!("image-path {png:?}: {e}"));
    assert!(
        picture.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{png} is not a PNG"
    );
    assert_eq!(
        calls[1].actions.first().map(String::as_str),
        Some("default")
    );
    let page = Path::new(&png).with_extension("html");
    assert!(page.is_file(), "no page beside {png}");
    notifyd::click(&server_conn, calls[1].id, "default").await;
    let opened = home.path().join("opened");
    for _ in 0..100 {
        if opened.is_file() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let opened = std::fs::read_to_string(&opened).unwrap_or_default();
    assert_eq!(
        opened.trim(),
        page.to_string_lossy(),
        "xdg-open was not asked for the page"
    );

    // The same activity under another name: a duplicate, no notification.
    std::fs::write(watch.join("race-again.fit"), &bytes).unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let calls = server.calls.lock().map(|c| c.clone()).unwrap_or_default();
    assert_eq!(calls.len(), 2, "{calls:?}");

    let _ = Command::new("kill")
        .args(["-TERM", &svc.id().to_string()])
        .status();
    let _ = svc.wait();
    let out = support::run(home.path(), &["files", "--json"]);
    let files: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(
        files.iter().any(|f| f["status"] == "duplicate"
            && f["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("race-again.fit"))),
        "{files:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_old_files_copied_in_while_running_give_one_notification() {
    let bus = start_bus();
    let (server, _conn) = serve(&bus).await;
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let watch = home.path().join("watch");
    std::fs::create_dir_all(&watch).unwrap_or_default();
    write_config(home.path(), Some(&watch));
    let mut svc = Command::new(support::bin())
        .arg("run")
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // A folder of 200 old activities, copied in file by file (as `cp -r` does).
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    for i in 0..200i64 {
        let mut fa = FitActivity::segments(now - (3 + i) * 86_400, &[(30, 140)]);
        fa.serial = 3_700_000_000 + i as u32;
        std::fs::write(staging.join(format!("old{i:03}.fit")), fa.encode()).unwrap_or_default();
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let status = Command::new("cp")
        .args(["-r"])
        .arg(&staging)
        .arg(watch.join("export"))
        .status();
    assert!(status.is_ok_and(|s| s.success()));
    let calls = wait_calls(&server, 1, 60).await;
    // Nothing more comes once the burst is announced.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let calls_after = server.calls.lock().map(|c| c.clone()).unwrap_or_default();
    let _ = Command::new("kill")
        .args(["-TERM", &svc.id().to_string()])
        .status();
    let _ = svc.wait();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls_after.len(), 1, "{calls_after:?}");
    assert_eq!(calls[0].summary, "Imported 200 past activities");
    let files = support::files_json(home.path());
    assert_eq!(
        files.iter().filter(|f| f["status"] == "imported").count(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_server_that_never_answers_does_not_hold_a_stop() {
    let bus = start_bus();
    let stuck = Server {
        stuck: true,
        ..Server::default()
    };
    let (server, _conn) = serve_as(&bus, stuck).await;
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let watch = home.path().join("watch");
    std::fs::create_dir_all(&watch).unwrap_or_default();
    write_config(home.path(), Some(&watch));
    let mut cmd = Command::new(support::bin());
    cmd.arg("run")
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let svc = support::Service {
        child: cmd.spawn().unwrap_or_else(|e| panic!("{e}")),
    };
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let now = chrono::Utc::now().timestamp();
    let fa = FitActivity::segments(now - 3 * 3600, &[(30, 150)]);
    std::fs::write(watch.join("today.fit"), fa.encode()).unwrap_or_default();
    // The notification is sent and left unanswered; then SIGTERM.
    let calls = wait_calls(&server, 1, 20).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let code = tokio::task::spawn_blocking(move || svc.stop())
        .await
        .ok()
        .flatten();
    assert_eq!(code, Some(0), "it stopped");
}
