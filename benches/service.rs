//! `cargo bench --bench service [-- IDLE_SECONDS]` (or `bench/service`): the release service on
//! a real folder. Measures the time from a file's last write (close) to its row committed in
//! SQLite, over 50 files written one after another, then the service's CPU time and RSS over
//! an idle period (default 60 s).

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let idle: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(60);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let home = tmp.path();
    let watch = common::home_with_config(home);
    let mut child = Command::new(env!("CARGO_BIN_EXE_recoverd"))
        .arg("run")
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = child.id();
    let db = home.join(".local/share/recoverd/recoverd.db");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !db.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("{e}"));
    let imported = || -> i64 {
        conn.query_row(
            "SELECT COUNT(*) FROM files WHERE status = 'imported'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(-1)
    };

    let mut latencies = Vec::new();
    for i in 0..50u32 {
        let bytes = common::realistic_fit(
            1_717_228_800 + i64::from(i) * 86_400,
            1800,
            3_800_000_000 + i,
            i,
        );
        let path = watch.join(format!("run-{i:02}.fit"));
        {
            let mut f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
            for chunk in bytes.chunks(16 * 1024) {
                let _ = f.write_all(chunk);
            }
        } // closed: the last write is done
        let written = Instant::now();
        let want = i64::from(i) + 1;
        while imported() < want {
            if written.elapsed() > Duration::from_secs(30) {
                eprintln!("file {i} was not imported within 30 s");
                let _ = child.kill();
                std::process::exit(1);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        latencies.push(written.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "last write → row committed, 50 files: median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        common::percentile(&latencies, 0.5),
        common::percentile(&latencies, 0.95),
        latencies.last().copied().unwrap_or(f64::NAN)
    );

    std::thread::sleep(Duration::from_secs(2));
    let cpu0 = common::cpu_seconds(pid).unwrap_or(f64::NAN);
    std::thread::sleep(Duration::from_secs(idle));
    let cpu1 = common::cpu_seconds(pid).unwrap_or(f64::NAN);
    let rss = common::status_kb(pid, "VmRSS:").unwrap_or(0);
    println!(
        "idle {idle} s: CPU {:.2} s ({:.3} %), RSS {:.1} MB",
        cpu1 - cpu0,
        (cpu1 - cpu0) / idle as f64 * 100.0,
        rss as f64 / 1024.0
    );
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
}
