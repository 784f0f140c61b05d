//! `cargo bench --bench list [-- N]`: a store of N judged activities (default 3000; 1 Hz
//! heart-rate streams of 30 min to 4 h, as an import leaves them), then `recoverd list`,
//! `list --json`, `status` and `show` on it: wall time and peak RSS of each. `list` must not
//! load heart-rate streams, so its memory stays flat in N (target: under 30 MB at 3000).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use chrono::{Duration, TimeZone as _, Utc};
use recoverd::model::{Activity, Device, Format, HrSample, WatchFigures};
use recoverd::plan::{self, History};
use recoverd::store::{FileMeta, NewActivity, Store};

fn activity(i: usize) -> Activity {
    let secs = 1800 + ((i as u32).wrapping_mul(2_654_435_761) % 12_601);
    let start = Utc
        .timestamp_opt(1_717_228_800 - i as i64 * 86_400, 0)
        .single()
        .unwrap_or_default();
    let hr: Vec<HrSample> = (0..secs)
        .map(|t| HrSample {
            t: f64::from(t),
            bpm: 120 + (45 * t / secs) as u16 + ((t + i as u32) % 7) as u16,
        })
        .collect();
    Activity {
        format: Format::Fit,
        sport: "running".into(),
        sub_sport: None,
        name: None,
        start,
        end: start + Duration::seconds(i64::from(secs)),
        utc_offset_s: Some(7200),
        elapsed_s: f64::from(secs),
        moving_s: Some(f64::from(secs)),
        distance_m: Some(f64::from(secs) * 3.2),
        avg_hr: Some(142.0),
        max_hr: Some(172.0),
        avg_temperature_c: None,
        hr,
        legs: vec![],
        device: Device::default(),
        time_created: Some(start),
        watch: WatchFigures::default(),
        marked_race: false,
        warnings: vec![],
    }
}

fn fill(config: &Path, db: &Path, n: usize) {
    let cfg = recoverd::config::load(Some(config), Some(db)).unwrap_or_else(|e| panic!("{e}"));
    let mut store = Store::open(db).unwrap_or_else(|e| panic!("{e}"));
    let key = cfg.settings_key();
    let _ = store.begin_batch();
    for i in 0..n {
        let a = activity(i);
        let s = plan::evaluate(&a, &cfg.athlete, &History::default(), &cfg.timezone);
        let meta = FileMeta {
            path: format!("/bench/{i:05}.fit").into(),
            sha256: Some(format!("{i:064x}")),
            size: 1,
            mtime_ns: 1,
        };
        store
            .insert_activity(
                None,
                &meta,
                NewActivity {
                    activity: &a,
                    peak_10s_hr: recoverd::effort::peak_10s(&a.hr),
                },
                &s,
                &key,
                Utc::now(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
    }
    store.end_batch().unwrap_or_else(|e| panic!("{e}"));
}

fn measure(home: &Path, config: &Path, db: &Path, args: &[&str]) {
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_recoverd"))
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(db)
        .args(args)
        .env("HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let (ok, peak_kb) = common::wait_with_peak(&mut child);
    println!(
        "recoverd {:<14} {:>6.3} s  peak RSS {:>6.1} MB{}",
        args.join(" "),
        t.elapsed().as_secs_f64(),
        peak_kb as f64 / 1024.0,
        if ok { "" } else { "  (FAILED)" }
    );
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3000);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (config, db) = (tmp.path().join("config.toml"), tmp.path().join("r.db"));
    std::fs::write(&config, "timezone = \"Europe/Berlin\"\n").unwrap_or_else(|e| panic!("{e}"));
    let t = Instant::now();
    fill(&config, &db, n);
    let size = std::fs::metadata(&db).map_or(0, |m| m.len());
    println!(
        "{n} activities stored in {:.1} s; database {:.1} MB",
        t.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );
    for args in [
        &["list"][..],
        &["list", "--json"][..],
        &["list", "--limit", "20"][..],
        &["status"][..],
        &["show"][..],
    ] {
        measure(tmp.path(), &config, &db, args);
    }
}
