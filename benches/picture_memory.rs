//! `cargo bench --bench picture_memory [-- N]`: the service's resident memory (VmRSS from
//! /proc/PID/status) idle, then after 1 and after N (default 10) plan notifications with a
//! picture, on a private D-Bus session bus (`dbus-daemon`) with a notification server in this
//! process. Each activity is a 1-hour 1 Hz run ending in the last two days, written into the
//! watched folder one at a time; the next is written once the previous one's notification
//! arrived. `RECOVERD_BIN` measures another build (e.g. target/debug/recoverd).

mod common;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use common::support::FitActivity;

/// The pictures each notification pointed at (`image-path`).
#[derive(Clone, Default)]
struct Server {
    images: Arc<Mutex<Vec<Option<String>>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        _summary: String,
        _body: String,
        _actions: Vec<String>,
        hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let image = hints
            .get("image-path")
            .and_then(|v| v.try_clone().ok())
            .and_then(|v| String::try_from(v).ok());
        let mut images = self.images.lock().unwrap_or_else(PoisonError::into_inner);
        images.push(image);
        u32::try_from(images.len()).unwrap_or(u32::MAX)
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "bench".into(),
            "recoverd".into(),
            "1.0".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_bus() -> (Reaped, String) {
    let mut child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("dbus-daemon is needed: {e}"));
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    (Reaped(child), line.trim().to_string())
}

fn rss_kb(pid: u32) -> u64 {
    common::status_kb(pid, "VmRSS:").unwrap_or(0)
}

async fn wait_for(server: &Server, n: usize) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let images = server
            .images
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if images.len() >= n {
            return images[n - 1].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no notification {n} within 60 s");
}

fn write_config(home: &Path, watch: &Path) {
    let dir = home.join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap_or_default();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "watch = [\"{}\"]\ntimezone = \"Europe/Berlin\"\n[athlete]\nmax_hr = 185\n\
             resting_hr = 50\nthreshold_hr = 168\n",
            watch.display()
        ),
    )
    .unwrap_or_default();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10)
        .max(1);
    let bin = std::env::var("RECOVERD_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_recoverd").to_string());
    let (_bus, address) = start_bus();
    let server = Server::default();
    let _conn = zbus::connection::Builder::address(address.as_str())
        .name("org.freedesktop.Notifications")
        .serve_at("/org/freedesktop/Notifications", server.clone())
        .build()
        .await
        .unwrap_or_else(|e| panic!("cannot serve on the private bus: {e}"));

    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let home = tmp.path();
    let watch = home.join("watch");
    std::fs::create_dir_all(&watch).unwrap_or_default();
    write_config(home, &watch);
    let svc = Reaped(
        Command::new(&bin)
            .arg("run")
            .env("HOME", home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin}: {e}")),
    );
    let pid = svc.0.id();
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("{bin}");
    println!("idle after start:            VmRSS {:>6} kB", rss_kb(pid));

    let now = chrono::Utc::now().timestamp();
    for i in 0..n {
        // One-hour runs, 3 h apart, the last ending 30 min ago.
        let end = now - 1800 - 3 * 3600 * (n - 1 - i) as i64;
        let mut run = FitActivity::segments(end - 3600, &[(20, 140), (30, 158), (10, 172)]);
        run.serial = 3_700_000_000 + i as u32;
        std::fs::write(watch.join(format!("run-{i:02}.fit")), run.encode()).unwrap_or_default();
        let image = wait_for(&server, i + 1).await;
        assert!(
            image.as_deref().is_some_and(|p| Path::new(p).is_file()),
            "notification {} without a picture: {image:?}",
            i + 1
        );
        if i == 0 || i + 1 == n {
            tokio::time::sleep(Duration::from_secs(3)).await;
            println!(
                "after {:>2} picture notification{}: VmRSS {:>6} kB",
                i + 1,
                if i == 0 { " " } else { "s" },
                rss_kb(pid)
            );
        }
    }
    println!(
        "peak (VmHWM):                      {:>6} kB",
        common::status_kb(pid, "VmHWM:").unwrap_or(0)
    );
}
