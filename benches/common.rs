//! Shared by the benches: realistic FIT files and a child process's resource use.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

#[path = "../tests/support/mod.rs"]
pub mod support;

use support::{FIT_EPOCH, def};

/// A running FIT file as a Garmin watch writes it: 1 Hz records with position, distance,
/// speed, altitude, heart rate, cadence and temperature, then a session and an activity.
pub fn realistic_fit(start: i64, secs: u32, serial: u32, seed: u32) -> Vec<u8> {
    let ts0 = u32::try_from(start - FIT_EPOCH).unwrap_or(0);
    let mut d = Vec::new();
    support::file_id(&mut d, serial, ts0);
    // record: timestamp, lat, long, distance, enhanced_speed, enhanced_altitude, heart_rate,
    // cadence, fractional_cadence, temperature
    def(
        &mut d,
        1,
        20,
        &[
            (253, 4, 0x86),
            (0, 4, 0x85),
            (1, 4, 0x85),
            (5, 4, 0x86),
            (73, 4, 0x86),
            (78, 4, 0x86),
            (3, 1, 0x02),
            (4, 1, 0x02),
            (53, 1, 0x02),
            (13, 1, 0x01),
        ],
    );
    let mut dist = 0.0f64;
    for t in 0..=secs {
        let phase = f64::from(t) / f64::from(secs.max(1));
        let hr = 120.0 + 45.0 * phase + 5.0 * ((f64::from(t + seed) / 37.0).sin());
        let speed = 3.2 + 0.3 * ((f64::from(t + seed) / 53.0).cos());
        dist += speed;
        d.push(1);
        d.extend((ts0 + t).to_le_bytes());
        d.extend((554_000_000i32 + (t * 40) as i32).to_le_bytes());
        d.extend((167_000_000i32 + (t * 25) as i32).to_le_bytes());
        d.extend(((dist * 100.0) as u32).to_le_bytes());
        d.extend(((speed * 1000.0) as u32).to_le_bytes());
        d.extend((((300.0 + 20.0 * phase) * 5.0 + 2500.0) as u32).to_le_bytes());
        d.push(hr as u8);
        d.push(85);
        d.push(64);
        d.push(18);
    }
    def(
        &mut d,
        2,
        18,
        &[
            (253, 4, 0x86),
            (2, 4, 0x86),
            (5, 1, 0x00),
            (6, 1, 0x00),
            (7, 4, 0x86),
            (8, 4, 0x86),
            (9, 4, 0x86),
        ],
    );
    d.push(2);
    d.extend((ts0 + secs).to_le_bytes());
    d.extend(ts0.to_le_bytes());
    d.push(1);
    d.push(0);
    d.extend((secs.saturating_mul(1000)).to_le_bytes());
    d.extend((secs.saturating_mul(1000)).to_le_bytes());
    d.extend(((dist * 100.0) as u32).to_le_bytes());
    def(&mut d, 3, 34, &[(253, 4, 0x86), (5, 4, 0x86)]);
    d.push(3);
    d.extend((ts0 + secs).to_le_bytes());
    d.extend((ts0 + secs + 3600).to_le_bytes());
    support::frame(&d)
}

/// Writes `n` activities, 30 min to 4 h, one a day back from 2024-06-01; returns total bytes.
pub fn generate(dir: &Path, n: usize) -> u64 {
    let _ = std::fs::create_dir_all(dir);
    let mut total = 0;
    for i in 0..n {
        let secs = 1800 + ((i as u32 * 2_654_435_761u32) % (12_600 + 1));
        let start = 1_717_228_800 - i as i64 * 86_400;
        let bytes = realistic_fit(start, secs, 3_900_000_000 + i as u32, i as u32);
        total += bytes.len() as u64;
        let _ = std::fs::write(dir.join(format!("{i:05}.fit")), bytes);
    }
    total
}

/// CPU seconds (user + system) of a process, from /proc.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// A field of /proc/PID/status in kB (VmRSS, VmHWM).
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Waits for a child, sampling its peak RSS (VmHWM) every 5 ms; returns (exit ok, peak kB).
pub fn wait_with_peak(child: &mut std::process::Child) -> (bool, u64) {
    let pid = child.id();
    let mut peak = 0;
    loop {
        if let Some(kb) = status_kb(pid, "VmHWM:") {
            peak = peak.max(kb);
        }
        match child.try_wait() {
            Ok(Some(status)) => return (status.success(), peak),
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return (false, peak),
        }
    }
}

/// Percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A home with a config watching `home/watch`, notifications off.
pub fn home_with_config(home: &Path) -> std::path::PathBuf {
    let watch = home.join("watch");
    let cfg = home.join(".config/recoverd");
    let _ = std::fs::create_dir_all(&watch);
    let _ = std::fs::create_dir_all(&cfg);
    let _ = std::fs::write(
        cfg.join("config.toml"),
        format!(
            "watch = [\"{}\"]\n[notifications]\nenabled = false\n",
            watch.display()
        ),
    );
    watch
}
