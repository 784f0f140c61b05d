//! `cargo bench --bench burst [-- N]`: a burst of N small activity files (15 min at 1 Hz, one a
//! day; default 3000) written into the folder of a running release service, newest first and
//! oldest first, and the same files given to `recoverd import`. Reports, for each, the wall time
//! until every file is answered and the CPU seconds the process spent (the service's once it is
//! idle again, the history refresh included). A burst costs linear time in its size in any
//! order: the three are expected within 1.5× of each other.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3000);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = tmp.path().join("files");
    let _ = std::fs::create_dir_all(&src);
    // File i starts i days before 2024-06-01: name order is newest first.
    let mut files = Vec::with_capacity(n);
    for i in 0..n {
        let start = 1_717_228_800 - i as i64 * 86_400;
        let bytes = common::realistic_fit(start, 900, 3_900_000_000 + i as u32, i as u32);
        let p = src.join(format!("{i:05}.fit"));
        let _ = std::fs::write(&p, bytes);
        files.push(p);
    }
    println!(
        "{n} files, on {} cores",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    let newest = service_burst(&tmp.path().join("newest"), &files, n);
    println!(
        "service, newest first: {:.2} s to answer every file, {:.2} s until idle, {:.2} CPU s",
        newest.answered, newest.idle, newest.cpu
    );
    let mut reversed = files.clone();
    reversed.reverse();
    let oldest = service_burst(&tmp.path().join("oldest"), &reversed, n);
    println!(
        "service, oldest first: {:.2} s to answer every file, {:.2} s until idle, {:.2} CPU s",
        oldest.answered, oldest.idle, oldest.cpu
    );
    let import = import(&tmp.path().join("import"), &src);
    println!("import:                {import:.2} s (judgements made again included)");
    // Like for like: until the history judgements are up to date, in both.
    let walls = [newest.idle, oldest.idle, import];
    let max = walls.iter().copied().fold(f64::MIN, f64::max);
    let min = walls.iter().copied().fold(f64::MAX, f64::min);
    let ratio = max / min;
    println!(
        "slowest / fastest: {ratio:.2}× ({})",
        if ratio <= 1.5 {
            "within 1.5×"
        } else {
            "OVER 1.5×"
        }
    );
}

fn recoverd(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_recoverd"));
    cmd.env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// What one burst into the service cost.
struct Burst {
    /// Wall seconds until every file has a final row.
    answered: f64,
    /// Wall seconds until the service was idle again (the judgements made again after the
    /// burst included), less the 1.5 s quiet that ends a burst.
    idle: f64,
    /// CPU seconds of the service for the burst.
    cpu: f64,
}

/// Copies the files into a running service's folder in the given order and measures it.
fn service_burst(home: &Path, files: &[PathBuf], n: usize) -> Burst {
    let watch = common::home_with_config(home);
    let mut child = recoverd(home)
        .arg("run")
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = child.id();
    let db = home.join(".local/share/recoverd/recoverd.db");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !db.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    let cpu0 = common::cpu_seconds(pid).unwrap_or(0.0);
    let t = Instant::now();
    for f in files {
        if let Some(name) = f.file_name() {
            let _ = std::fs::copy(f, watch.join(name));
        }
    }
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("{e}"));
    let answered = || -> usize {
        conn.query_row(
            "SELECT COUNT(*) FROM files WHERE status != 'pending'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_or(0, |v| usize::try_from(v).unwrap_or(0))
    };
    while answered() < n {
        if t.elapsed() > Duration::from_secs(900) {
            eprintln!("only {} of {n} answered after 900 s", answered());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let wall = t.elapsed().as_secs_f64();
    // Idle again: no CPU spent for 2 s (the refresh after the burst included).
    let mut last = common::cpu_seconds(pid).unwrap_or(0.0);
    let mut busy_until = t.elapsed().as_secs_f64();
    let mut quiet = 0;
    while quiet < 20 {
        std::thread::sleep(Duration::from_millis(100));
        let now = common::cpu_seconds(pid).unwrap_or(0.0);
        if now - last > 0.0 {
            busy_until = t.elapsed().as_secs_f64();
            quiet = 0;
        } else {
            quiet += 1;
        }
        last = now;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    Burst {
        answered: wall,
        idle: (busy_until - 1.5).max(wall),
        cpu: last - cpu0,
    }
}

/// `recoverd import` of the folder into a fresh database: wall seconds.
fn import(home: &Path, src: &Path) -> f64 {
    common::home_with_config(home);
    let t = Instant::now();
    let status = recoverd(home).arg("import").arg(src).status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("import failed");
    }
    t.elapsed().as_secs_f64()
}
