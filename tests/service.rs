//! `recoverd run` on a real folder with real inotify events, the real binary and a real
//! `NOTIFY_SOCKET`.

mod support;

use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::FitActivity;

const START: i64 = 1_776_675_731;

struct Service {
    child: Child,
}

impl Service {
    fn start(home: &Path, notify_socket: Option<&Path>) -> Self {
        let mut cmd = Command::new(support::bin());
        cmd.arg("run")
            .env("HOME", home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(s) = notify_socket {
            cmd.env("NOTIFY_SOCKET", s);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start recoverd run: {e}"));
        Self { child }
    }

    fn stop(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        None
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let watch = home.path().join("watch");
    std::fs::create_dir_all(&watch).unwrap_or_default();
    let dir = home.path().join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap_or_default();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "watch = [\"{}\"]\n[notifications]\nenabled = false\n",
            watch.display()
        ),
    )
    .unwrap_or_default();
    (home, watch)
}

fn files_json(home: &Path) -> Vec<serde_json::Value> {
    let out = support::run(home, &["files", "--json"]);
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap_or_default()
}

fn wait_imported(home: &Path, n: usize, secs: u64) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let files = files_json(home);
        if files.iter().filter(|f| f["status"] == "imported").count() >= n
            || Instant::now() > deadline
        {
            return files;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn fit(day: i64) -> Vec<u8> {
    FitActivity::segments(START + day * 86_400, &[(20, 140)]).encode()
}

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
    std::fs::write(&tmp, fit(1)).unwrap_or_default();
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
    std::fs::write(watch.join("offline.fit"), fit(2)).unwrap_or_default();
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
    std::fs::create_dir_all(&staging).unwrap_or_default();
    for i in 0..200 {
        std::fs::write(staging.join(format!("a{i:03}.fit")), fit(i)).unwrap_or_default();
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
