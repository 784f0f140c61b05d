//! `cargo bench --bench wellness [-- DAYS]`: wellness files cost what they hold, not the history.
//! A watch syncs a monitoring file every two hours (12 a day, heart rate every minute). With
//! DAYS days of them already stored (default 365), one more day's 12 files are imported, each
//! on its own as the service does, and timed against the same 12 files into an empty database.
//! Storing a file inserts its samples and judges again only the nights it touched, from those
//! nights' samples: the two are expected within 1.5× of each other. Then the same 12 files
//! again (known, unchanged): answered without reading them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::support::{Monitoring, TimeForm};

/// 2024-06-01T00:00:00Z.
const DAY0: i64 = 1_717_200_000;

/// Day `d`'s 12 files: two hours each, a heart rate a minute, the watch's value at 06:00.
fn day_files(dir: &Path, d: i64) -> Vec<PathBuf> {
    let _ = std::fs::create_dir_all(dir);
    (0..12)
        .map(|k| {
            let from = DAY0 + d * 86_400 + k * 7200;
            let mut m = Monitoring::night(from, 120, 60, |i| 50 + ((i as i64 + k + d) % 17) as u8);
            m.time_form = TimeForm::Ts16;
            if k == 3 {
                m.rhr = vec![(from + 3600, 55, 51)];
            }
            let p = dir.join(format!("{d:04}_{k:02}_WELLNESS.fit"));
            let _ = std::fs::write(&p, m.encode());
            p
        })
        .collect()
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

/// Imports each file with its own `import` (as the service stores each sync): total seconds.
fn one_by_one(home: &Path, files: &[PathBuf]) -> f64 {
    let t = Instant::now();
    for f in files {
        let ok = recoverd(home)
            .args(["import", "--no-notify"])
            .arg(f)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("import of {} failed", f.display());
        }
    }
    t.elapsed().as_secs_f64()
}

fn main() {
    let days: i64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(365);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let history = tmp.path().join("history");
    for d in 0..days {
        day_files(&history, d);
    }
    let new_day = day_files(&tmp.path().join("new"), days);
    let full = tmp.path().join("full");
    common::home_with_config(&full);
    let t = Instant::now();
    let _ = recoverd(&full)
        .args(["import", "--no-notify"])
        .arg(&history)
        .status();
    println!(
        "{} files ({days} days) imported in {:.2} s",
        days * 12,
        t.elapsed().as_secs_f64()
    );
    let with_history = one_by_one(&full, &new_day);
    let empty = tmp.path().join("empty");
    common::home_with_config(&empty);
    let without = one_by_one(&empty, &new_day);
    let again = one_by_one(&full, &new_day);
    println!(
        "12 new files, one import each: {with_history:.3} s after {days} days, {without:.3} s into an empty database"
    );
    println!("the same 12 again (known):      {again:.3} s");
    let ratio = with_history / without.max(1e-9);
    println!(
        "history / empty: {ratio:.2}× ({})",
        if ratio <= 1.5 {
            "within 1.5×"
        } else {
            "OVER 1.5×"
        }
    );
}
