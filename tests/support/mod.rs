//! Test support: a small FIT writer and a GPX writer that produce activity files with a known
//! heart-rate profile, plus helpers to run the real binary.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Seconds between the Unix epoch and the FIT epoch.
pub const FIT_EPOCH: i64 = 631_065_600;

/// FIT CRC-16.
pub fn crc16(bytes: &[u8]) -> u16 {
    const T: [u16; 16] = [
        0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401, 0xA001, 0x6C00, 0x7800,
        0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
    ];
    let mut crc = 0u16;
    for &b in bytes {
        let mut tmp = T[(crc & 0xF) as usize];
        crc = (crc >> 4) & 0x0FFF;
        crc = crc ^ tmp ^ T[(b & 0xF) as usize];
        tmp = T[(crc & 0xF) as usize];
        crc = (crc >> 4) & 0x0FFF;
        crc = crc ^ tmp ^ T[((b >> 4) & 0xF) as usize];
    }
    crc
}

/// One sample of a generated activity: seconds from the start, heart rate (None = no reading).
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub t: u32,
    pub hr: Option<u8>,
}

/// A generated FIT activity.
#[derive(Clone, Debug)]
pub struct FitActivity {
    /// Unix seconds of the start.
    pub start: i64,
    /// FIT sport enum (1 = running, 2 = cycling).
    pub sport: u8,
    pub samples: Vec<Sample>,
    /// Metres per second, for record distance.
    pub speed: f64,
    pub serial: u32,
    /// Local UTC offset in seconds, written as activity.local_timestamp − timestamp.
    pub utc_offset_s: i32,
    /// Timer (moving) time; defaults to the sample span.
    pub timer_s: Option<f64>,
}

impl FitActivity {
    /// A 1 Hz stream with a constant HR per (minutes, bpm) segment.
    pub fn segments(start: i64, segs: &[(u32, u8)]) -> Self {
        let mut samples = Vec::new();
        let mut t = 0;
        for &(min, bpm) in segs {
            for _ in 0..min * 60 {
                samples.push(Sample { t, hr: Some(bpm) });
                t += 1;
            }
        }
        Self {
            start,
            sport: 1,
            samples,
            speed: 3.0,
            serial: 3_900_000_001,
            utc_offset_s: 7200,
            timer_s: None,
        }
    }

    pub fn span(&self) -> u32 {
        self.samples.last().map_or(0, |s| s.t)
    }

    pub fn distance_m(&self) -> f64 {
        (f64::from(self.span()) * self.speed * 100.0).round() / 100.0
    }

    /// Encodes the file.
    pub fn encode(&self) -> Vec<u8> {
        let ts0 = u32::try_from(self.start - FIT_EPOCH).unwrap_or(0);
        let mut data = Vec::new();
        file_id(&mut data, self.serial, ts0);
        // record (global 20) as local 1: timestamp, heart_rate, distance
        def(
            &mut data,
            1,
            20,
            &[(253, 4, 0x86), (3, 1, 0x02), (5, 4, 0x86)],
        );
        for s in &self.samples {
            data.push(1);
            data.extend((ts0 + s.t).to_le_bytes());
            data.push(s.hr.unwrap_or(0xFF));
            let d = (f64::from(s.t) * self.speed * 100.0).round() as u32;
            data.extend(d.to_le_bytes());
        }
        let span = self.span();
        let elapsed = f64::from(span);
        let timer = self.timer_s.unwrap_or(elapsed);
        let hrs: Vec<u8> = self.samples.iter().filter_map(|s| s.hr).collect();
        let avg = if hrs.is_empty() {
            0xFF
        } else {
            (hrs.iter().map(|&h| u32::from(h)).sum::<u32>() / hrs.len() as u32) as u8
        };
        let max = hrs.iter().copied().max().unwrap_or(0xFF);
        // session (global 18) as local 2
        def(
            &mut data,
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
                (16, 1, 0x02),
                (17, 1, 0x02),
            ],
        );
        data.push(2);
        data.extend((ts0 + span).to_le_bytes());
        data.extend(ts0.to_le_bytes());
        data.push(self.sport);
        data.push(0);
        data.extend(((elapsed * 1000.0) as u32).to_le_bytes());
        data.extend(((timer * 1000.0) as u32).to_le_bytes());
        data.extend(((self.distance_m() * 100.0).round() as u32).to_le_bytes());
        data.push(avg);
        data.push(max);
        // activity (global 34) as local 3: timestamp, local_timestamp
        def(&mut data, 3, 34, &[(253, 4, 0x86), (5, 4, 0x86)]);
        data.push(3);
        data.extend((ts0 + span).to_le_bytes());
        data.extend(((i64::from(ts0 + span) + i64::from(self.utc_offset_s)) as u32).to_le_bytes());
        frame(&data)
    }
}

/// A file_id (global 0) as local 0: an activity by a Garmin Forerunner with this serial, created
/// at `ts0` (FIT seconds).
pub fn file_id(out: &mut Vec<u8>, serial: u32, ts0: u32) {
    def(
        out,
        0,
        0,
        &[
            (0, 1, 0x00),
            (1, 2, 0x84),
            (2, 2, 0x84),
            (3, 4, 0x8C),
            (4, 4, 0x86),
        ],
    );
    out.push(0);
    out.push(4);
    out.extend(1u16.to_le_bytes());
    out.extend(3113u16.to_le_bytes());
    out.extend(serial.to_le_bytes());
    out.extend(ts0.to_le_bytes());
}

/// A definition message: local type, global message, (field, size, base type) per field.
pub fn def(out: &mut Vec<u8>, local: u8, global: u16, fields: &[(u8, u8, u8)]) {
    out.push(0x40 | local);
    out.push(0);
    out.push(0);
    out.extend(global.to_le_bytes());
    out.push(fields.len() as u8);
    for &(n, size, base) in fields {
        out.extend([n, size, base]);
    }
}

/// Wraps data messages in a 14-byte header and the trailing CRC.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let mut out = vec![14u8, 0x20];
    out.extend(2132u16.to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(b".FIT");
    let hcrc = crc16(&out);
    out.extend(hcrc.to_le_bytes());
    out.extend(data);
    let crc = crc16(&out);
    out.extend(crc.to_le_bytes());
    out
}

/// A GPX track with heart rate in two extension dialects, alternating per point: Garmin
/// TrackPointExtension v2 under the `ns3` prefix, and cluetrust `gpxdata:hr`.
pub fn gpx_two_dialects(start: i64, hr: &[u8]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"recoverd tests\" \
         xmlns=\"http://www.topografix.com/GPX/1/1\" \
         xmlns:ns3=\"http://www.garmin.com/xmlschemas/TrackPointExtension/v2\" \
         xmlns:gpxdata=\"http://www.cluetrust.com/XML/GPXDATA/1/0\">\n<trk><name>Test run</name><type>running</type><trkseg>\n",
    );
    for (i, h) in hr.iter().enumerate() {
        let t = chrono::DateTime::from_timestamp(start + i as i64, 0).unwrap_or_default();
        let lat = 46.0 + i as f64 * 0.00003;
        let ext = if i % 2 == 0 {
            format!("<ns3:TrackPointExtension><ns3:hr>{h}</ns3:hr></ns3:TrackPointExtension>")
        } else {
            format!("<gpxdata:hr>{h}</gpxdata:hr>")
        };
        s.push_str(&format!(
            "<trkpt lat=\"{lat:.6}\" lon=\"14.000000\"><ele>500</ele><time>{}</time><extensions>{ext}</extensions></trkpt>\n",
            t.format("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    s.push_str("</trkseg></trk>\n</gpx>\n");
    s
}

/// The built binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_recoverd"))
}

/// Runs the binary with an isolated HOME and the given config and database.
pub fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("RECOVERD_CONFIG")
        .env_remove("RECOVERD_DB")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run recoverd: {e}"))
}

/// The permissively licensed real device files bundled with the tests (see its NOTICE.md).
pub fn bundled_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus")
}

/// The whole shared corpus (`RECOVERD_CORPUS`, else `../shared/corpus`), or `None` after printing one
/// line saying that `test` is skipped. Set `RECOVERD_REQUIRE_CORPUS=1` (CI does) to fail instead.
pub fn shared_corpus(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("RECOVERD_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
        PathBuf::from,
    );
    if dir.join("MANIFEST.tsv").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("RECOVERD_REQUIRE_CORPUS").is_none(),
        "RECOVERD_REQUIRE_CORPUS is set but there is no corpus at {}",
        dir.display()
    );
    // Written to stderr directly, not with eprintln!, so that the test harness does not capture it.
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: no corpus at {} (set RECOVERD_CORPUS); the bundled files in tests/data/corpus were tested",
        dir.display()
    );
    None
}

/// A new home with the reference runner's config, into which a generated 1 Hz FIT run
/// (`segs`: minutes at a heart rate, from `start`, at `speed` m/s) has been imported.
pub fn import_reference_run(
    start: i64,
    name: &str,
    segs: &[(u32, u8)],
    speed: f64,
) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reference_config(home.path());
    let mut fa = FitActivity::segments(start, segs);
    fa.speed = speed;
    let file = home.path().join(format!("{name}.fit"));
    std::fs::write(&file, fa.encode()).unwrap_or_else(|e| panic!("{e}"));
    let out = run(
        home.path(),
        &["import", "--no-notify", file.to_str().unwrap_or_default()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    home
}

/// Writes the reference runner's config (MODEL.md) into `home`.
pub fn reference_config(home: &Path) -> PathBuf {
    let dir = home.join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap_or_default();
    let p = dir.join("config.toml");
    std::fs::write(&p, "timezone = \"Europe/Berlin\"\n\n[athlete]\nmax_hr = 185\nresting_hr = 50\nthreshold_hr = 168\nsex = \"male\"\n\n[notifications]\nenabled = false\n")
        .unwrap_or_default();
    p
}

/// A TCX activity with one lap and heart rate per point (1 Hz).
pub fn tcx(start: i64, sport: &str, hr: &[u8]) -> String {
    let t = |s: i64| {
        chrono::DateTime::from_timestamp(start + s, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TrainingCenterDatabase xmlns=\"http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2\">\n<Activities><Activity Sport=\"{sport}\"><Id>{}</Id>\n<Lap StartTime=\"{}\"><TotalTimeSeconds>{}</TotalTimeSeconds><DistanceMeters>{}</DistanceMeters><Track>\n",
        t(0),
        t(0),
        hr.len().saturating_sub(1),
        hr.len() * 3
    );
    for (i, h) in hr.iter().enumerate() {
        s.push_str(&format!(
            "<Trackpoint><Time>{}</Time><DistanceMeters>{}</DistanceMeters><HeartRateBpm><Value>{h}</Value></HeartRateBpm></Trackpoint>\n",
            t(i as i64),
            i * 3
        ));
    }
    s.push_str("</Track></Lap></Activity></Activities>\n</TrainingCenterDatabase>\n");
    s
}

/// gzip of the bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap_or_default();
    enc.finish().unwrap_or_default()
}

/// A zip archive (deflate) of (name, bytes) members.
pub fn zip(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write as _;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, bytes) in members {
        w.start_file(*name, opts)
            .unwrap_or_else(|e| panic!("zip {name}: {e}"));
        w.write_all(bytes).unwrap_or_default();
    }
    w.finish()
        .unwrap_or_else(|e| panic!("zip: {e}"))
        .into_inner()
}

/// The same FIT file with another `file_id.type` (15 monitoring_a, 32 monitoring_b, 49 sleep...).
pub fn with_file_type(fit: &[u8], file_type: u8) -> Vec<u8> {
    // header (14) + file_id definition (6 + 5 × 3) + data message header (1) → the type byte.
    let mut data = fit[14..fit.len() - 2].to_vec();
    data[22] = file_type;
    frame(&data)
}

// ---- The service as a child process, and its folders ----

/// Start of the activities the service tests write (2026-04-20).
pub const SERVICE_START: i64 = 1_776_675_731;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The uid the permission tests run recoverd as when the tests run as root (nobody).
pub const UNPRIVILEGED: u32 = 65_534;

/// True when the tests run as root, for whom file permissions do not apply.
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Under root, makes the command run as nobody.
pub fn as_unprivileged(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    if is_root() {
        cmd.uid(UNPRIVILEGED).gid(UNPRIVILEGED);
    }
}

/// Under root, gives a tree to nobody (so that `as_unprivileged` processes own it).
pub fn give_to_unprivileged(path: &Path) {
    if !is_root() {
        return;
    }
    let _ = std::os::unix::fs::chown(path, Some(UNPRIVILEGED), Some(UNPRIVILEGED));
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        for e in std::fs::read_dir(path).into_iter().flatten().flatten() {
            give_to_unprivileged(&e.path());
        }
    }
}

/// Runs the binary like [`run`], as nobody under root.
pub fn run_unprivileged(home: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("RECOVERD_CONFIG")
        .env_remove("RECOVERD_DB")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    as_unprivileged(&mut cmd);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run recoverd: {e}"))
}

/// `recoverd run` as a child process.
pub struct Service {
    pub child: Child,
}

impl Service {
    pub fn start(home: &Path, notify_socket: Option<&Path>) -> Self {
        Self::start_with(home, notify_socket, None, false)
    }

    /// Starts it, optionally logging to a file (stderr) and, when the tests run as root, as an
    /// unprivileged user (so that file permissions apply to it).
    pub fn start_with(
        home: &Path,
        notify_socket: Option<&Path>,
        log: Option<&Path>,
        unprivileged: bool,
    ) -> Self {
        let mut cmd = Command::new(bin());
        cmd.arg("run")
            .env("HOME", home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdout(Stdio::null())
            .stderr(match log.and_then(|l| std::fs::File::create(l).ok()) {
                Some(f) => Stdio::from(f),
                None => Stdio::null(),
            });
        if unprivileged {
            as_unprivileged(&mut cmd);
        }
        if let Some(s) = notify_socket {
            cmd.env("NOTIFY_SOCKET", s);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start recoverd run: {e}"));
        Self { child }
    }

    /// SIGTERM, then the exit code (None when it did not stop within 20 s).
    pub fn stop(mut self) -> Option<i32> {
        self.signal("TERM");
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

impl Service {
    /// Sends a signal by name (TERM, HUP, KILL).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status();
    }

    /// True while the process has not exited.
    pub fn child_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL and reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn setup() -> (tempfile::TempDir, PathBuf) {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let watch = home.path().join("watch");
    std::fs::create_dir_all(&watch).unwrap_or_default();
    watch_config(home.path(), &watch);
    (home, watch)
}

/// Writes a config into `home` that watches `watch` (which need not exist) with notifications off.
pub fn watch_config(home: &Path, watch: &Path) {
    let dir = home.join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap_or_default();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "watch = [\"{}\"]\n[notifications]\nenabled = false\n",
            watch.display()
        ),
    )
    .unwrap_or_default();
}

pub fn files_json(home: &Path) -> Vec<serde_json::Value> {
    let out = run(home, &["files", "--json"]);
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap_or_default()
}

pub fn wait_imported(home: &Path, n: usize, secs: u64) -> Vec<serde_json::Value> {
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

pub fn fit(day: i64) -> Vec<u8> {
    FitActivity::segments(SERVICE_START + day * 86_400, &[(20, 140)]).encode()
}

// ---- Wellness FIT files (monitoring, HRV status), written as the FIT SDK profile defines them ----

/// A file_id (global 0) as local 0 of the given `file_id.type` (32 monitoring_b, 68 hrv_status...),
/// by a Garmin watch with this serial, created at `ts0` (FIT seconds).
pub fn file_id_of_type(out: &mut Vec<u8>, file_type: u8, serial: u32, ts0: u32) {
    file_id(out, serial, ts0);
    // The type byte of the data message just written: after the 21-byte definition.
    let at = out.len() - 13;
    out[at] = file_type;
}

/// How a monitoring file stamps its heart rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeForm {
    /// Every message 55 with a full `timestamp` (253).
    Full,
    /// The first with `timestamp`, the rest with `timestamp_16` (field 26), as Garmin writes.
    Ts16,
    /// Compressed-timestamp headers (5-bit offset) where the gap allows, else a full timestamp.
    Compressed,
}

/// A generated monitoring file (FIT `monitoring_b`).
#[derive(Clone, Debug)]
pub struct Monitoring {
    /// `file_id.type` (32 monitoring_b; 15 monitoring_a and 28 monitoring_daily carry the same).
    pub file_type: u8,
    /// Unix seconds of `time_created`.
    pub created: i64,
    /// The watch's UTC offset, written as monitoring_info (103) local_timestamp − timestamp.
    pub utc_offset_s: Option<i32>,
    /// (unix seconds, bpm) as message 55 field 27 `heart_rate`.
    pub hr: Vec<(i64, u8)>,
    /// (unix seconds, field 0 `resting_heart_rate`, field 1 `current_day_resting_heart_rate`)
    /// as message 211.
    pub rhr: Vec<(i64, u8, u8)>,
    pub time_form: TimeForm,
    /// (before heart rate number i, unix seconds): an event (21) with a full timestamp written
    /// among the samples, as Garmin files interleave them (often stamped ahead of the samples).
    pub events: Vec<(usize, i64)>,
}

impl Monitoring {
    /// A night of heart rate every `step` s from `from` (unix) for `n` samples, bpm from `f(i)`.
    pub fn night(from: i64, n: usize, step: i64, f: impl Fn(usize) -> u8) -> Self {
        Self {
            file_type: 32,
            created: from,
            utc_offset_s: Some(3600),
            hr: (0..n).map(|i| (from + i as i64 * step, f(i))).collect(),
            rhr: Vec::new(),
            time_form: TimeForm::Ts16,
            events: Vec::new(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let fit = |t: i64| u32::try_from(t - FIT_EPOCH).unwrap_or(0);
        let mut data = Vec::new();
        file_id_of_type(&mut data, self.file_type, 3_999_000_001, fit(self.created));
        if let Some(off) = self.utc_offset_s {
            // monitoring_info (103) as local 4: timestamp, local_timestamp (field 0).
            def(&mut data, 4, 103, &[(253, 4, 0x86), (0, 4, 0x86)]);
            data.push(4);
            data.extend(fit(self.created).to_le_bytes());
            data.extend(fit(self.created + i64::from(off)).to_le_bytes());
        }
        // monitoring (55): local 1 heart rate only (compressed header), local 2 with timestamp,
        // local 3 with timestamp_16 (field 26, uint16).
        def(&mut data, 1, 55, &[(27, 1, 0x02)]);
        def(&mut data, 2, 55, &[(253, 4, 0x86), (27, 1, 0x02)]);
        def(&mut data, 3, 55, &[(26, 2, 0x84), (27, 1, 0x02)]);
        // event (21) as local 6: timestamp, event (0, enum), event_type (1, enum).
        def(
            &mut data,
            6,
            21,
            &[(253, 4, 0x86), (0, 1, 0x00), (1, 1, 0x00)],
        );
        let mut last: Option<u32> = None;
        for (i, &(t, bpm)) in self.hr.iter().enumerate() {
            for &(_, at) in self.events.iter().filter(|e| e.0 == i) {
                data.push(6);
                data.extend(fit(at).to_le_bytes());
                data.extend([0, 3]); // timer, marker
            }
            let ts = fit(t);
            match (self.time_form, last) {
                (TimeForm::Ts16, Some(_)) => {
                    data.push(3);
                    data.extend(((ts & 0xFFFF) as u16).to_le_bytes());
                }
                (TimeForm::Compressed, Some(l)) if ts >= l && ts - l < 32 => {
                    data.push(0x80 | (1 << 5) | (ts & 0x1F) as u8);
                }
                _ => {
                    data.push(2);
                    data.extend(ts.to_le_bytes());
                }
            }
            data.push(bpm);
            last = Some(ts);
        }
        // monitoring_hr_data (211) as local 5: timestamp, resting_heart_rate, current_day_resting.
        def(
            &mut data,
            5,
            211,
            &[(253, 4, 0x86), (0, 1, 0x02), (1, 1, 0x02)],
        );
        for &(t, f0, f1) in &self.rhr {
            data.push(5);
            data.extend(fit(t).to_le_bytes());
            data.push(f0);
            data.push(f1);
        }
        frame(&data)
    }
}

/// A generated HRV-status file (FIT type 68): `hrv_status_summary` (370) and `hrv_value` (371)
/// exactly as the FIT SDK profile defines them: uint16 fields in ms with scale 128.
#[derive(Clone, Debug)]
pub struct HrvStatus {
    /// Unix seconds of `time_created`.
    pub created: i64,
    /// Message 370's timestamp (unix) and `last_night_average` in ms (None: 0xFFFF, invalid);
    /// no message 370 when `None`.
    pub summary: Option<(i64, Option<f64>)>,
    /// Message 371 `value`s in ms, with their timestamps when `Some`.
    pub values: Vec<(Option<i64>, f64)>,
}

impl HrvStatus {
    pub fn encode(&self) -> Vec<u8> {
        let fit = |t: i64| u32::try_from(t - FIT_EPOCH).unwrap_or(0);
        let raw = |ms: f64| (ms * 128.0).round() as u16;
        let mut data = Vec::new();
        file_id_of_type(&mut data, 68, 3_999_000_002, fit(self.created));
        if let Some((t, avg)) = self.summary {
            // 253 timestamp; 0 weekly_average, 1 last_night_average, 2 last_night_5_min_high,
            // 3 baseline_low_upper, 4 baseline_balanced_lower, 5 baseline_balanced_upper (uint16,
            // ms × 128); 6 status (enum hrv_status).
            def(
                &mut data,
                1,
                370,
                &[
                    (253, 4, 0x86),
                    (0, 2, 0x84),
                    (1, 2, 0x84),
                    (2, 2, 0x84),
                    (3, 2, 0x84),
                    (4, 2, 0x84),
                    (5, 2, 0x84),
                    (6, 1, 0x00),
                ],
            );
            data.push(1);
            data.extend(fit(t).to_le_bytes());
            data.extend(raw(50.0).to_le_bytes());
            data.extend(avg.map_or(0xFFFF, raw).to_le_bytes());
            data.extend(raw(70.0).to_le_bytes());
            data.extend(raw(40.0).to_le_bytes());
            data.extend(raw(45.0).to_le_bytes());
            data.extend(raw(60.0).to_le_bytes());
            data.push(3); // balanced
        }
        def(&mut data, 2, 371, &[(253, 4, 0x86), (0, 2, 0x84)]);
        def(&mut data, 3, 371, &[(0, 2, 0x84)]);
        for &(t, ms) in &self.values {
            match t {
                Some(t) => {
                    data.push(2);
                    data.extend(fit(t).to_le_bytes());
                }
                None => data.push(3),
            }
            data.extend(raw(ms).to_le_bytes());
        }
        frame(&data)
    }
}
