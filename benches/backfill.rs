//! `cargo bench --bench backfill [-- N]` (or `bench/backfill N`): N generated activity FIT files
//! (1 Hz, 30 min to 4 h; default 300). Measures (a) fitparser::from_bytes alone on one thread,
//! the naive floor, and (b) `recoverd import` of the same files into a fresh database.

mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // BACKFILL_KEEP=DIR keeps the generated files there (to profile an import by hand).
    let dir = std::env::var_os("BACKFILL_KEEP")
        .map_or_else(|| tmp.path().join("activities"), std::path::PathBuf::from);
    let total = common::generate(&dir, n);
    let mb = total as f64 / 1e6;
    println!(
        "{n} files, {mb:.1} MB, on {} cores",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );

    // (a) The floor: every file through fitparser::from_bytes, one thread, nothing else.
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    let t = Instant::now();
    let mut messages = 0usize;
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        messages += fitparser::from_bytes(&bytes).map_or(0, |m| m.len());
    }
    let a = t.elapsed().as_secs_f64();
    println!(
        "(a) fitparser::from_bytes, 1 thread: {a:.2} s  {:.0} files/s  {:.1} MB/s  ({messages} messages)",
        n as f64 / a,
        mb / a
    );

    // (b) recoverd import into a fresh database.
    let home = tmp.path().join("home");
    let _ = std::fs::create_dir_all(&home);
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_recoverd"))
        .args(["import", "--no-notify"])
        .arg(&dir)
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let (ok, peak_kb) = common::wait_with_peak(&mut child);
    let b = t.elapsed().as_secs_f64();
    let mut summary = String::new();
    if let Some(mut err) = child.stderr.take() {
        use std::io::Read as _;
        let _ = err.read_to_string(&mut summary);
    }
    println!(
        "(b) recoverd import: {b:.2} s  {:.0} files/s  {:.1} MB/s  peak RSS {:.1} MB  ({})",
        n as f64 / b,
        mb / b,
        peak_kb as f64 / 1024.0,
        summary.lines().last().unwrap_or("").trim()
    );
    println!("ratio (a)/(b): {:.2}", a / b);
    if !ok {
        eprintln!("recoverd import did not succeed:\n{summary}");
        std::process::exit(1);
    }
}
