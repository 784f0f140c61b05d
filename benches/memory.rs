//! `cargo bench --bench memory [-- MB]`: peak RSS of `recoverd import` for the largest file
//! allowed (`max_file_mb`, 64 by default), as a FIT and as a GPX, against the unit's
//! `MemoryMax=512M`. The FIT holds 1 Hz records with every common field; the GPX track points
//! with elevation, time and heart rate. Both are larger than a week of recording, so they are
//! refused after reading: the peak is that of reading and parsing them whole.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

fn main() {
    let mb: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(64);
    let target = mb * 1024 * 1024 - 4096;
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));

    // FIT: realistic records are 29 bytes each.
    let secs = u32::try_from(target / 29).unwrap_or(u32::MAX);
    let fit = common::realistic_fit(1_717_228_800, secs, 3_900_000_001, 7);
    let fit_path = tmp.path().join("largest.fit");
    let _ = std::fs::write(&fit_path, &fit);
    let gpx_path = tmp.path().join("largest.gpx");
    let gpx_bytes = write_gpx(&gpx_path, target);

    // Hostile forms, as small per sample as each format allows: FIT records of two bytes
    // (compressed timestamp, heart rate), GPX points of eight (`<trkpt/>`).
    let dense_fit = dense_fit(target);
    let dense_fit_path = tmp.path().join("dense.fit");
    let _ = std::fs::write(&dense_fit_path, &dense_fit);
    let dense_gpx_path = tmp.path().join("dense.gpx");
    let mut g = b"<?xml version=\"1.0\"?><gpx version=\"1.1\"><trk><trkseg>".to_vec();
    while (g.len() as u64) < target - 64 {
        g.extend_from_slice(b"<trkpt/>");
    }
    g.extend_from_slice(b"</trkseg></trk></gpx>");
    let _ = std::fs::write(&dense_gpx_path, &g);

    println!("max_file_mb = {mb}; unit MemoryMax = 512 MB");
    for (what, path, size) in [
        ("FIT", &fit_path, fit.len() as u64),
        ("GPX", &gpx_path, gpx_bytes),
        (
            "FIT of 2-byte records",
            &dense_fit_path,
            dense_fit.len() as u64,
        ),
        ("GPX of empty points", &dense_gpx_path, g.len() as u64),
    ] {
        let (answer, peak_kb) = import(tmp.path(), path, mb);
        println!(
            "{what} {:.1} MB: peak RSS {:.1} MB  ({answer})",
            size as f64 / 1_048_576.0,
            peak_kb as f64 / 1024.0
        );
    }
}

/// A FIT activity of about `target` bytes: one full timestamp, then records of a compressed
/// timestamp header and a heart rate byte.
fn dense_fit(target: u64) -> Vec<u8> {
    let ts0: u32 = 1_100_000_000;
    let mut d = Vec::new();
    common::support::file_id(&mut d, 3_900_000_002, ts0);
    common::support::def(&mut d, 1, 20, &[(253, 4, 0x86), (3, 1, 0x02)]);
    d.push(1);
    d.extend(ts0.to_le_bytes());
    d.push(150);
    common::support::def(&mut d, 2, 20, &[(3, 1, 0x02)]);
    let mut off = 0u8;
    while (d.len() as u64) < target - 64 {
        off = (off + 1) & 0x1F;
        d.push(0x80 | (2 << 5) | off);
        d.push(150);
    }
    common::support::frame(&d)
}

/// A GPX track of about `target` bytes; returns its size.
fn write_gpx(path: &Path, target: u64) -> u64 {
    let Ok(f) = std::fs::File::create(path) else {
        return 0;
    };
    let mut w = std::io::BufWriter::new(f);
    let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"bench\" xmlns=\"http://www.topografix.com/GPX/1/1\" xmlns:ns3=\"http://www.garmin.com/xmlschemas/TrackPointExtension/v1\">\n<trk><name>Long</name><type>running</type><trkseg>\n";
    let _ = w.write_all(head.as_bytes());
    let mut written = head.len() as u64;
    let start = 1_717_228_800i64;
    let mut i = 0i64;
    while written + 200 < target {
        let t = chrono::DateTime::from_timestamp(start + i, 0).unwrap_or_default();
        let line = format!(
            "<trkpt lat=\"{:.7}\" lon=\"{:.7}\"><ele>{:.1}</ele><time>{}</time><extensions><ns3:TrackPointExtension><ns3:hr>{}</ns3:hr></ns3:TrackPointExtension></extensions></trkpt>\n",
            46.0 + (i % 100_000) as f64 * 1e-5,
            14.0 + (i % 77_777) as f64 * 1e-5,
            300.0 + (i % 500) as f64 / 10.0,
            t.format("%Y-%m-%dT%H:%M:%SZ"),
            120 + i % 60
        );
        let _ = w.write_all(line.as_bytes());
        written += line.len() as u64;
        i += 1;
    }
    let tail = "</trkseg></trk>\n</gpx>\n";
    let _ = w.write_all(tail.as_bytes());
    let _ = w.flush();
    written + tail.len() as u64
}

/// `recoverd import` of one file into a fresh database; (its answer, peak RSS in kB).
fn import(tmp: &Path, file: &Path, mb: u64) -> (String, u64) {
    let home = tmp.join(format!("home-{}", file.display().to_string().len()));
    let cfg = home.join(".config/recoverd");
    let _ = std::fs::create_dir_all(&cfg);
    let _ = std::fs::write(
        cfg.join("config.toml"),
        format!("max_file_mb = {mb}\n[notifications]\nenabled = false\n"),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_recoverd"))
        .args(["import", "--json", "--no-notify"])
        .arg(file)
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("RECOVERD_CONFIG")
        .env_remove("RECOVERD_DB")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run recoverd: {e}"));
    let (_, peak) = common::wait_with_peak(&mut child);
    let out = child
        .wait_with_output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let answer = serde_json::from_str::<serde_json::Value>(&out)
        .map(|v| {
            format!(
                "{}: {}",
                v["status"].as_str().unwrap_or("?"),
                v["reason"].as_str().unwrap_or("")
            )
        })
        .unwrap_or(out);
    (answer, peak)
}
