//! What the service watches and when it answers, with the real binary and real inotify: links to
//! folders are never walked, folders that appear holding files are listed at once, a deep tree
//! copied in is answered whole, a second `run` on the database refuses to start, and SIGTERM
//! stops even while a file blocks the writer.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{Service, files_json, fit, setup, wait_imported};

/// Waits until the service has taken its lock (it is then watching within moments).
fn wait_started(home: &Path) {
    let lock = home.join(".local/share/recoverd/recoverd.db.lock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&lock)
        .unwrap_or_default()
        .is_empty()
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(700));
}

fn paths(files: &[serde_json::Value]) -> Vec<String> {
    files
        .iter()
        .filter_map(|f| f["path"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_linked_outside_folder_is_never_walked_even_for_files_created_later() {
    let (home, watch) = setup();
    let outside = home.path().join("outside");
    std::fs::create_dir_all(outside.join("deeper")).unwrap_or_default();
    std::fs::write(outside.join("before.fit"), fit(0)).unwrap_or_default();
    let linked_at_start = watch.join("linked");
    std::os::unix::fs::symlink(&outside, &linked_at_start).unwrap_or_default();
    let svc = Service::start(home.path(), None);
    wait_started(home.path());
    // A second link made while it runs, then files created behind both links.
    std::os::unix::fs::symlink(&outside, watch.join("linked-later")).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(outside.join("later.fit"), fit(1)).unwrap_or_default();
    std::fs::write(outside.join("deeper/later2.fit"), fit(2)).unwrap_or_default();
    // A real file after them: once it is answered, the others had their chance.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(watch.join("inside.fit"), fit(3)).unwrap_or_default();
    let files = wait_imported(home.path(), 1, 20);
    std::thread::sleep(Duration::from_secs(2));
    let files = if files.len() == 1 {
        files_json(home.path())
    } else {
        files
    };
    assert_eq!(svc.stop(), Some(0));
    let p = paths(&files);
    assert_eq!(p.len(), 1, "only the real file: {p:?}");
    assert!(p[0].ends_with("/watch/inside.fit"), "{p:?}");
}

#[test]
fn a_watched_folder_moved_into_place_holding_files_is_listed_at_once() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let watch = home.path().join("watch");
    support::watch_config(home.path(), &watch);
    let svc = Service::start(home.path(), None);
    wait_started(home.path());
    let staging = home.path().join("staging");
    std::fs::create_dir_all(staging.join("sub")).unwrap_or_default();
    for i in 0..10 {
        let name = if i % 2 == 0 {
            format!("a{i}.fit")
        } else {
            format!("sub/a{i}.fit")
        };
        std::fs::write(staging.join(name), fit(i)).unwrap_or_default();
    }
    std::fs::rename(&staging, &watch).unwrap_or_default();
    let files = wait_imported(home.path(), 10, 30);
    assert_eq!(
        files.iter().filter(|f| f["status"] == "imported").count(),
        10,
        "{files:?}"
    );
    // Files written into it afterwards are seen by its watches.
    std::fs::write(watch.join("sub/after.fit"), fit(20)).unwrap_or_default();
    let files = wait_imported(home.path(), 11, 20);
    assert_eq!(svc.stop(), Some(0));
    assert_eq!(files.len(), 11, "{files:?}");
}

#[test]
fn a_deep_tree_copied_in_is_answered_file_by_file() {
    const LEVELS: usize = 30;
    const PER_LEVEL: usize = 10;
    let (home, watch) = setup();
    let staging = home.path().join("tree");
    let mut dir = staging.clone();
    for level in 0..LEVELS {
        dir = dir.join(format!("l{level:02}"));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        for i in 0..PER_LEVEL {
            let n = (level * PER_LEVEL + i) as i64;
            std::fs::write(dir.join(format!("f{n:03}.fit")), fit(n)).unwrap_or_default();
        }
    }
    let svc = Service::start(home.path(), None);
    wait_started(home.path());
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(&staging)
        .arg(watch.join("copied"))
        .status();
    assert!(status.is_ok_and(|s| s.success()));
    let files = wait_imported(home.path(), LEVELS * PER_LEVEL, 120);
    assert_eq!(svc.stop(), Some(0));
    assert_eq!(
        files.iter().filter(|f| f["status"] == "imported").count(),
        LEVELS * PER_LEVEL,
        "every file of the tree"
    );
}

#[test]
fn a_second_run_on_the_same_database_refuses_to_start() {
    let (home, _watch) = setup();
    let svc = Service::start(home.path(), None);
    wait_started(home.path());
    let out = support::run(home.path(), &["run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pid = svc.child.id();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("already running (pid {pid})")),
        "{stderr}"
    );
    assert_eq!(svc.stop(), Some(0));
    // Once it stopped, the lock is free again.
    let svc = Service::start(home.path(), None);
    std::thread::sleep(Duration::from_secs(1));
    let mut svc = svc;
    assert!(svc.child_running(), "a run after the first stopped starts");
    assert_eq!(svc.stop(), Some(0));
}

#[test]
fn sigterm_stops_the_service_while_a_fifo_sits_in_the_watched_folder() {
    let (home, watch) = setup();
    let svc = Service::start(home.path(), None);
    wait_started(home.path());
    let fifo = watch.join("pipe.fit");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()));
    // Touch it so that it is read (or refused), then a real file behind it.
    std::fs::write(watch.join("after.fit"), fit(1)).unwrap_or_default();
    std::thread::sleep(Duration::from_secs(2));
    assert!(svc.stop().is_some(), "stopped within the wait");
}

#[test]
fn a_filesystem_mounted_over_the_watched_folder_is_listed_at_once() {
    let (home, watch) = setup();
    let staging = home.path().join("card");
    std::fs::create_dir_all(staging.join("GARMIN/Activity")).unwrap_or_default();
    for i in 0..5 {
        std::fs::write(staging.join(format!("GARMIN/Activity/m{i}.fit")), fit(i))
            .unwrap_or_default();
    }
    let svc = Service::start(home.path(), None);
    wait_started(home.path());
    let mounted = std::process::Command::new("mount")
        .arg("--bind")
        .arg(&staging)
        .arg(&watch)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: mounting needs root (CAP_SYS_ADMIN)");
        return;
    }
    let files = wait_imported(home.path(), 5, 30);
    std::fs::write(watch.join("GARMIN/Activity/m9.fit"), fit(9)).unwrap_or_default();
    let after = wait_imported(home.path(), 6, 20);
    assert_eq!(svc.stop(), Some(0));
    let _ = std::process::Command::new("umount").arg(&watch).status();
    assert_eq!(
        files.iter().filter(|f| f["status"] == "imported").count(),
        5,
        "{files:?}"
    );
    assert_eq!(
        after.len(),
        6,
        "files written after the mount are seen: {after:?}"
    );
}

/// `recoverd run` with `NOTIFY_SOCKET` and a 2-s watchdog; returns it and the socket.
fn start_with_watchdog(home: &Path) -> (Service, std::os::unix::net::UnixDatagram) {
    let sock_path = home.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap_or_else(|e| panic!("{e}"));
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap_or_default();
    let mut cmd = std::process::Command::new(support::bin());
    cmd.arg("run")
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "2000000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let svc = Service {
        child: cmd.spawn().unwrap_or_else(|e| panic!("{e}")),
    };
    (svc, sock)
}

/// `WATCHDOG=1` messages received over `secs` seconds.
fn feeds_during(sock: &std::os::unix::net::UnixDatagram, secs: u64) -> usize {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut feeds = 0;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf)
            && String::from_utf8_lossy(&buf[..n]).contains("WATCHDOG=1")
        {
            feeds += 1;
        }
    }
    feeds
}

#[test]
fn the_watchdog_is_fed_only_while_the_writer_answers_files() {
    let (home, watch) = setup();
    let (svc, sock) = start_with_watchdog(home.path());
    assert!(feeds_during(&sock, 3) >= 2, "fed while idle");
    // A FIFO: either refused with a reason (the writer goes on, and keeps feeding), or it
    // blocks the writer's read, and then the watchdog must starve so systemd restarts it.
    let fifo = watch.join("pipe.fit");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()));
    // What was sent before the FIFO was read (it settles in about 1.3 s) is left unread.
    feeds_during(&sock, 3);
    let feeds = feeds_during(&sock, 4);
    let answered = files_json(home.path())
        .iter()
        .any(|f| f["path"].as_str().is_some_and(|p| p.ends_with("pipe.fit")));
    assert!(svc.stop().is_some(), "SIGTERM stops it either way");
    if answered {
        assert!(feeds >= 2, "answered, so still fed ({feeds})");
    } else {
        assert_eq!(
            feeds, 0,
            "a writer stuck on a file must not feed the watchdog"
        );
    }
}

#[test]
fn a_watched_folder_renamed_keeps_its_files_seen_under_the_new_name() {
    let (home, watch) = setup();
    std::fs::create_dir_all(watch.join("a/b")).unwrap_or_default();
    let svc = Service::start(home.path(), None);
    wait_started(home.path());
    std::fs::write(watch.join("a/b/one.fit"), fit(1)).unwrap_or_default();
    wait_imported(home.path(), 1, 20);
    std::fs::rename(watch.join("a"), watch.join("c")).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(watch.join("c/b/two.fit"), fit(2)).unwrap_or_default();
    let files = wait_imported(home.path(), 2, 20);
    assert_eq!(svc.stop(), Some(0));
    let p = paths(&files);
    assert!(p.iter().any(|p| p.ends_with("/watch/c/b/two.fit")), "{p:?}");
    assert!(
        !p.iter().any(|p| p.ends_with("/watch/a/b/two.fit")),
        "{p:?}"
    );
}
