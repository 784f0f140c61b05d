//! `recoverd run` on a real folder with real inotify events, the real binary and a real
//! `NOTIFY_SOCKET`.

mod support;

use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use support::{Service, files_json, fit, setup, wait_imported};

#[test]
fn ready_chunked_write_syncthing_rename_and_restart() {
    let (home, watch) = setup();
    let sock_path = home.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap_or_else(|e| panic!("{e}"));
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap_or_default();
    let svc = Service::start(home.path(), Some(&sock_path));
    let mut buf = [0u8; 4096];
    let n = sock
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no sd_notify message: {e}"));
    let msg = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(msg.contains("READY=1"), "{msg}");

    // A file written in chunks over 2 s is imported once, after it is complete.
    let bytes = fit(0);
    let path = watch.join("chunked.fit");
    {
        let mut f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        for chunk in bytes.chunks(bytes.len() / 4 + 1) {
            f.write_all(chunk).unwrap_or_default();
            f.flush().unwrap_or_default();
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    let files = wait_imported(home.path(), 1, 15);
    let chunked: Vec<_> = files
        .iter()
        .filter(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("chunked.fit"))
        })
        .collect();
    assert_eq!(chunked.len(), 1, "{files:?}");
    assert_eq!(chunked[0]["status"], "imported", "{files:?}");

    // Syncthing: write a temp name, then rename into place. The temp name is never read.
    let tmp = watch.join(".syncthing.synced.fit.tmp");
    std::fs::write(&tmp, fit(1)).unwrap();
    std::fs::rename(&tmp, watch.join("synced.fit")).unwrap_or_default();
    let files = wait_imported(home.path(), 2, 15);
    assert!(
        files.iter().any(|f| f["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/synced.fit"))
            && f["status"] == "imported"),
        "{files:?}"
    );
    assert!(
        !files.iter().any(|f| f["path"]
            .as_str()
            .is_some_and(|p| p.contains(".syncthing."))),
        "{files:?}"
    );

    // SIGTERM: a clean stop.
    assert_eq!(svc.stop(), Some(0));

    // Files added while the service was stopped are imported at the next start.
    std::fs::write(watch.join("offline.fit"), fit(2)).unwrap();
    let svc = Service::start(home.path(), None);
    let files = wait_imported(home.path(), 3, 20);
    assert_eq!(
        files.iter().filter(|f| f["status"] == "imported").count(),
        3,
        "{files:?}"
    );
    assert_eq!(files.len(), 3, "each file once: {files:?}");
    assert_eq!(svc.stop(), Some(0));
}

#[test]
fn many_files_at_once_each_imported_once() {
    let (home, watch) = setup();
    let svc = Service::start(home.path(), None);
    std::thread::sleep(Duration::from_millis(500));
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    for i in 0..200 {
        std::fs::write(staging.join(format!("a{i:03}.fit")), fit(i)).unwrap();
    }
    // Moving a whole folder in gives one event for the folder and none for its files.
    std::fs::rename(&staging, watch.join("batch")).unwrap_or_default();
    let files = wait_imported(home.path(), 200, 60);
    assert_eq!(
        files.iter().filter(|f| f["status"] == "imported").count(),
        200
    );
    assert_eq!(files.len(), 200);
    let out = support::run(home.path(), &["list", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(list.len(), 200);
    assert_eq!(svc.stop(), Some(0));
}

#[test]
fn sigterm_in_the_middle_of_a_burst_then_a_restart_imports_every_file_once() {
    const BURST: usize = 240;
    let (home, watch) = setup();
    let svc = Service::start(home.path(), None);
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..BURST {
        std::fs::write(watch.join(format!("b{i:03}.fit")), fit(i as i64)).unwrap();
    }
    // Stop while the burst is being read and stored.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while files_json(home.path()).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(svc.stop(), Some(0), "a clean exit on SIGTERM");
    // Nothing half-written: every stored row is final and has its activity.
    let files = files_json(home.path());
    let done = files.len();
    assert!(
        done < BURST,
        "SIGTERM came after the burst ({done} files stored)"
    );
    for f in &files {
        assert_eq!(f["status"], "imported", "{f}");
        assert!(f["activity_id"].is_i64(), "{f}");
    }
    let out = support::run(home.path(), &["list", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(list.len(), done, "an activity per imported file");

    let svc = Service::start(home.path(), None);
    let files = wait_imported(home.path(), BURST, 90);
    assert_eq!(files.len(), BURST, "each file once");
    assert!(files.iter().all(|f| f["status"] == "imported"), "{files:?}");
    let out = support::run(home.path(), &["list", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(list.len(), BURST);
    assert_eq!(svc.stop(), Some(0));
}

#[test]
fn sighup_reloads_the_watched_folders() {
    let (home, watch) = setup();
    let svc = Service::start(home.path(), None);
    std::thread::sleep(Duration::from_millis(500));
    let second = home.path().join("phone-export");
    std::fs::create_dir_all(&second).unwrap();
    std::fs::write(
        home.path().join(".config/recoverd/config.toml"),
        format!(
            "watch = [\"{}\", \"{}\"]\n[notifications]\nenabled = false\n",
            watch.display(),
            second.display()
        ),
    )
    .unwrap_or_default();
    svc.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(second.join("from-phone.fit"), fit(5)).unwrap();
    let files = wait_imported(home.path(), 1, 15);
    assert!(
        files.iter().any(|f| f["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("phone-export/from-phone.fit"))
            && f["status"] == "imported"),
        "{files:?}"
    );
    assert_eq!(svc.stop(), Some(0));
}

/// Socket inodes of a process (from /proc/PID/fd).
fn socket_inodes(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            l.to_string_lossy()
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect()
}

/// The inode column of /proc/net/<table> files.
fn inodes_in(table: &str) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/net/{table}"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // tcp/udp: inode is column 9; unix: column 6.
            if table == "unix" {
                cols.get(6)
            } else {
                cols.get(9)
            }
            .map(|s| (*s).to_string())
        })
        .collect()
}

#[test]
fn the_service_opens_no_network_socket() {
    let (home, watch) = setup();
    let svc = Service::start(home.path(), None);
    std::fs::write(watch.join("one.fit"), fit(9)).unwrap();
    let _ = wait_imported(home.path(), 1, 15);
    let pid = svc.child.id();
    let sockets = socket_inodes(pid);
    let network: Vec<String> = ["tcp", "tcp6", "udp", "udp6", "raw", "raw6"]
        .iter()
        .flat_map(|t| inodes_in(t))
        .collect();
    let unix = inodes_in("unix");
    for s in &sockets {
        assert!(!network.contains(s), "socket {s} is a network socket");
        assert!(unix.contains(s), "socket {s} is not AF_UNIX");
    }
    assert_eq!(svc.stop(), Some(0));
}
