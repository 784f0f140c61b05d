//! Pictures: the SVG charts of the reference sessions (structure snapshots), the PNG the
//! notification carries, and the HTML page rendered by a real browser (Debian's chromium,
//! headless, with a fresh profile and background networking off).

mod support;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

const START: i64 = 1_776_675_731; // Mon 2026-04-20 09:02:11Z

/// A reference session: name, (minutes, bpm) segments, speed in m/s.
type Reference = (&'static str, &'static [(u32, u8)], f64);

/// The reference sessions of tests/effort_plan.rs.
const REFERENCE: &[Reference] = &[
    ("easy-45", &[(45, 130)], 2.8),
    ("tempo-60", &[(60, 160)], 3.3),
    ("5k", &[(15, 130), (20, 176)], 5000.0 / 2100.0),
    ("10k", &[(42, 174)], 10_000.0 / 2520.0),
    ("half", &[(105, 166)], 21_097.5 / 6300.0),
    ("marathon", &[(210, 158)], 42_195.0 / 12_600.0),
];

/// A marathon whose heart rate drifts up over the race, as real ones do.
const MARATHON_DRIFT: &[(u32, u8)] = &[(15, 140), (60, 152), (60, 157), (55, 162), (20, 171)];

fn import(name: &str, segs: &[(u32, u8)], speed: f64) -> tempfile::TempDir {
    support::import_reference_run(START, name, segs, speed)
}

fn stdout(home: &Path, args: &[&str]) -> String {
    let out = support::run(home, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{e}"))
}

/// The structure of an SVG: how many of each element, and every text in order.
fn structure(svg: &str) -> String {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut texts = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if name.is_empty() {
            continue;
        }
        *counts.entry(name.clone()).or_default() += 1;
        if name == "text"
            && let (Some(a), Some(b)) = (rest.find('>'), rest.find("</text>"))
            && a < b
        {
            texts.push(rest[a + 1..b].trim().to_string());
        }
    }
    let mut out = String::new();
    for (k, v) in counts {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out.push_str("texts:\n");
    for t in texts {
        out.push_str(&format!("  {t}\n"));
    }
    out
}

/// The runner's 20 nights before activity `id` (stored as the wellness import stores them):
/// resting HR 46 and 50, ln RMSSD 3.9 and 4.1 in turn, so that the normal is MODEL.md §7's
/// vector (48 ± 2 bpm, 4.00 ± 0.10). Then the nights of its window up to today: still tired
/// before the predicted ready day (resting HR 52, RMSSD 47 ms, feel 2), the ready day's morning
/// the vector's (53, 44 ms, feel 3: not recovered, so ready moves to 06:00 the next day), a
/// recovered morning (49, 56 ms, feel 4), then a night without data. The runner's answers go in
/// with `recoverd feel`, which judges the window (the morning check itself, not a copy).
/// Returns the model's ready and the moved one, from the stored mornings.
fn judge_window(
    home: &Path,
    id: i64,
) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let db = home.join(".local/share/recoverd/recoverd.db");
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or_else(|e| panic!("{e}"));
    let store = recoverd::store::Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let s = store
        .load(id)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no activity {id}"));
    let planned = s
        .assessment
        .as_ref()
        .map(|a| a.recovery.ready)
        .unwrap_or_else(|| panic!("not assessed"));
    drop(store);
    let day = |t| recoverd::localtime::day(t, &tz);
    let (first, ready_day) = (
        day(s.activity.end).succ_opt().unwrap_or_default(),
        day(planned),
    );
    let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let insert = |d: chrono::NaiveDate, rhr: i64, ms: f64| {
        conn.execute(
            "INSERT OR REPLACE INTO days (day, rhr, rhr_source, rhr_monitoring, hrv_rmssd_ms, \
             hrv_source, updated_at) VALUES (?1, ?2, 'monitoring', ?2, ?3, 'hrv_status', '2026-01-01')",
            rusqlite::params![d.format("%Y-%m-%d").to_string(), rhr, ms],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    };
    let race_day = day(s.activity.start);
    for i in 1..=20 {
        let odd = i % 2 == 1;
        let ln: f64 = if odd { 3.9 } else { 4.1 };
        insert(
            race_day - chrono::Duration::days(i),
            if odd { 46 } else { 50 },
            ln.exp(),
        );
    }
    let today = day(chrono::Utc::now());
    let mut feels = Vec::new();
    let mut d = first;
    while d <= ready_day + chrono::Duration::days(1) && d <= today {
        let (rhr, ms, feel) = match (d - ready_day).num_days() {
            1 => (49, 56.0, 4),
            0 => (53, 44.0, 3),
            _ => (52, 47.0, 2),
        };
        insert(d, rhr, ms);
        feels.push((d, feel));
        d = d.succ_opt().unwrap_or_default();
    }
    drop(conn);
    for (d, feel) in feels {
        let date = d.format("%Y-%m-%d").to_string();
        stdout(home, &["feel", &feel.to_string(), "--date", &date]);
    }
    let store = recoverd::store::Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let mornings = store.mornings_of(id).unwrap_or_else(|e| panic!("{e}"));
    let (Some(f), Some(l)) = (mornings.first(), mornings.last()) else {
        panic!("no morning judged");
    };
    assert_eq!(f.ready_before, planned);
    (planned, l.ready_after)
}

#[test]
fn svg_charts_of_the_reference_sessions() {
    for &(name, segs, speed) in REFERENCE {
        let home = import(name, segs, speed);
        for chart in ["hr", "zones", "plan"] {
            let svg = stdout(home.path(), &["show", "--format", "svg", "--chart", chart]);
            assert!(svg.starts_with("<svg"), "{name} {chart}: {svg:.80}");
            assert!(svg.contains("prefers-color-scheme: dark"), "{name} {chart}");
            insta::assert_snapshot!(format!("{name}-{chart}"), structure(&svg));
        }
    }
}

#[test]
fn the_zone_chart_agrees_with_show() {
    // 15 min easy at 130 (< 0.90 × 168 = 151.2), 20 min max at 176 (≥ 1.03 × 168 = 173.0).
    let home = import("5k", &[(15, 130), (20, 176)], 5000.0 / 2100.0);
    let svg = stdout(
        home.path(),
        &["show", "--format", "svg", "--chart", "zones"],
    );
    let s = structure(&svg);
    assert!(s.contains("15 min · 43 %"), "{s}");
    assert!(s.contains("20 min · 57 %"), "{s}");
    // Zones in whole bpm as the watch shows them: 130 is easy (≤ 151), 176 is max (≥ 174).
    assert!(
        s.contains("easy ≤ 151 bpm") && s.contains("moderate 152–159 bpm"),
        "{s}"
    );
    assert!(
        s.contains("very hard 168–173 bpm") && s.contains("max ≥ 174 bpm"),
        "{s}"
    );
    let hr = stdout(home.path(), &["show", "--format", "svg", "--chart", "hr"]);
    let text = stdout(home.path(), &["show"]);
    assert!(text.contains("best 20 min at 105 % of threshold"), "{text}");
    assert!(structure(&hr).contains("best 20 min: 176 bpm (105 % of threshold)"));
}

#[test]
fn the_picture_is_a_png_of_the_chart_s_size() {
    let home = import("marathon", MARATHON_DRIFT, 42_195.0 / 12_600.0);
    let svg = stdout(home.path(), &["show", "--format", "svg", "--chart", "hr"]);
    let png = recoverd::raster::png(&svg, 1.0).unwrap_or_else(|e| panic!("{e}"));
    let pixmap = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((pixmap.width(), pixmap.height()), (900, 380));
    let png2 = recoverd::raster::png(&svg, 2.0).unwrap_or_else(|e| panic!("{e}"));
    let big = resvg::tiny_skia::Pixmap::decode_png(&png2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((big.width(), big.height()), (1800, 760));
    assert!(distinct_colours(&pixmap) > 20, "the picture is blank");
}

fn distinct_colours(p: &resvg::tiny_skia::Pixmap) -> usize {
    let mut seen = std::collections::HashSet::new();
    for px in p.pixels() {
        seen.insert((px.red(), px.green(), px.blue()));
        if seen.len() > 1000 {
            break;
        }
    }
    seen.len()
}

#[test]
fn show_html_is_one_self_contained_page() {
    let home = import("marathon", MARATHON_DRIFT, 42_195.0 / 12_600.0);
    let page = stdout(home.path(), &["show", "--format", "html"]);
    assert!(!page.to_lowercase().contains("http"), "a URL in the page");
    assert!(!page.contains("<script"), "a script in the page");
    assert!(!page.contains("<link") && !page.contains("@import") && !page.contains("url("));
    for id in ["chart-plan", "chart-hr", "chart-zones"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    assert!(page.contains("@media print") && page.contains("prefers-color-scheme: dark"));
    // The page shows the same ready time as `show`.
    let text = stdout(home.path(), &["show"]);
    let ready = text
        .lines()
        .find_map(|l| l.strip_prefix("Ready for hard training and racing: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(page.contains(ready), "{ready} not on the page");
    let status = stdout(home.path(), &["status", "--format", "html"]);
    assert!(!status.to_lowercase().contains("http"));
    assert!(status.contains("id=\"chart-fitness\"") && status.contains("id=\"chart-plan\""));
}

/// Chromium, where installed.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn headless(browser: &str, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn a_real_browser_renders_the_page_of_a_marathon() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("RECOVERD_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "RECOVERD_REQUIRE_BROWSER=1 but chromium is not installed"
        );
        let _ = writeln!(
            std::io::stderr(),
            "skipped: chromium is not installed (apt-get install chromium), the page is not rendered"
        );
        return;
    };
    let home = import("marathon", MARATHON_DRIFT, 42_195.0 / 12_600.0);
    judge_window(home.path(), 1);
    let page = stdout(home.path(), &["show", "--format", "html"]);
    assert!(!page.to_lowercase().contains("http"));
    let file = home.path().join("marathon.html");
    std::fs::write(&file, &page).unwrap_or_else(|e| panic!("{e}"));
    let url = format!("file://{}", file.display());

    let shot = home.path().join("page.png");
    let out = headless(browser, &home.path().join("profile-shot"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1000,3400")
        .arg(&url)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        shot.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("{e}"));
    let pixmap = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pixmap.width(), 1000);
    assert!(distinct_colours(&pixmap) > 50, "the rendered page is blank");

    let out = headless(browser, &home.path().join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let dom = String::from_utf8_lossy(&out.stdout);
    for id in ["chart-plan", "chart-hr", "chart-zones", "chart-morning"] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id} not in the DOM");
    }
    assert!(dom.contains("<h2>Mornings</h2>") && dom.contains("class=\"morning\""));
    assert!(
        dom.matches("<svg").count() >= 4,
        "charts missing from the DOM"
    );
    assert!(
        dom.contains("<polyline") || dom.contains("<path"),
        "no line drawn"
    );
    assert!(dom.contains("Ready for hard training and racing"));
}

#[test]
fn without_heart_rate_the_page_and_picture_show_the_plan() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    support::reference_config(home.path());
    let mut gpx = String::from(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" creator=\"test\" \
         xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><name>Long walk</name><trkseg>\n",
    );
    for i in 0..=600 {
        let t = chrono::DateTime::from_timestamp(START + i * 10, 0).unwrap_or_default();
        gpx.push_str(&format!(
            "<trkpt lat=\"{:.5}\" lon=\"13.40000\"><time>{}</time></trkpt>\n",
            52.5 + f64::from(i as u32) * 0.0002,
            t.format("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    gpx.push_str("</trkseg></trk></gpx>\n");
    let file = home.path().join("walk.gpx");
    std::fs::write(&file, gpx).unwrap_or_else(|e| panic!("{e}"));
    let out = support::run(
        home.path(),
        &["import", "--no-notify", file.to_str().unwrap_or_default()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No heart-rate chart to draw: a usage error that names the chart there is.
    let out = support::run(home.path(), &["show", "--format", "svg", "--chart", "hr"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--chart plan"));
    let plan = stdout(home.path(), &["show", "--format", "svg", "--chart", "plan"]);
    assert!(structure(&plan).contains("Recovery plan (Europe/Berlin time)"));
    let page = stdout(home.path(), &["show", "--format", "html"]);
    assert!(page.contains("id=\"chart-plan\"") && !page.contains("id=\"chart-hr\""));
    assert!(page.contains("No heart-rate stream"));
}

#[test]
fn the_service_s_renderer_writes_the_page_and_forget_deletes_it() {
    let home = import("marathon", MARATHON_DRIFT, 42_195.0 / 12_600.0);
    let pages = home.path().join(".local/share/recoverd/pages");
    // What the service runs, in a child process, for each plan notification.
    stdout(home.path(), &["render-page", "1"]);
    let (html, png) = (pages.join("activity-1.html"), pages.join("activity-1.png"));
    let page = std::fs::read_to_string(&html).unwrap_or_else(|e| panic!("{e}"));
    assert!(page.contains("id=\"chart-hr\""), "{page:.200}");
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{e}"));
    let pixmap = resvg::tiny_skia::Pixmap::decode_png(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((pixmap.width(), pixmap.height()), (900, 380));
    let other = pages.join("activity-12.html");
    std::fs::write(&other, "another activity's page").unwrap_or_else(|e| panic!("{e}"));
    // No activity 7: a failure that names it, and nothing written.
    let out = support::run(home.path(), &["render-page", "7"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no activity 7"));
    assert!(!pages.join("activity-7.png").exists());

    stdout(home.path(), &["forget", "1"]);
    assert!(
        !html.exists() && !png.exists(),
        "forget left the page files"
    );
    assert!(other.is_file(), "forget deleted another activity's page");
    // Forgetting again: the activity is gone, so a usage error; no file to trip over.
    assert_eq!(
        support::run(home.path(), &["forget", "1"]).status.code(),
        Some(2)
    );
}

#[test]
fn the_morning_chart_shows_the_signals_against_the_normal_and_the_moved_ready() {
    let home = import("marathon", MARATHON_DRIFT, 42_195.0 / 12_600.0);
    // Before any morning is judged: no chart, a usage error that names the one there is.
    let out = support::run(
        home.path(),
        &["show", "--format", "svg", "--chart", "morning"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no morning check yet"));
    let page = stdout(home.path(), &["show", "--format", "html"]);
    assert!(!page.contains("chart-morning") && !page.contains("<h2>Mornings</h2>"));

    let (planned, moved) = judge_window(home.path(), 1);
    assert!(
        moved - planned > chrono::Duration::hours(12),
        "{planned} {moved}"
    );
    let svg = stdout(
        home.path(),
        &["show", "--format", "svg", "--chart", "morning"],
    );
    assert!(svg.starts_with("<svg") && svg.contains("prefers-color-scheme: dark"));
    let s = structure(&svg);
    if let Some(dir) = std::env::var_os("PIC_DUMP") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::write(dir.join("morning.svg"), &svg).unwrap_or_default();
        let page = stdout(home.path(), &["show", "--format", "html"]);
        std::fs::write(dir.join("marathon.html"), page).unwrap_or_default();
        for c in ["hr", "zones", "plan"] {
            let svg = stdout(home.path(), &["show", "--format", "svg", "--chart", c]);
            std::fs::write(dir.join(format!("{c}.svg")), svg).unwrap_or_default();
        }
        std::fs::write(dir.join("show.txt"), stdout(home.path(), &["show"])).unwrap_or_default();
    }
    insta::assert_snapshot!("marathon-morning", s);
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or_else(|e| panic!("{e}"));
    let short = |t| recoverd::render::local_short(t, &tz);
    let moved_h = (moved - planned).num_seconds() as f64 / 3600.0;
    let moved_h = format!("+{:.1} h", (moved_h * 10.0).round() / 10.0);
    for want in [
        "normal 48 ± 2".to_string(),
        "high from 51".to_string(),
        "normal 49–60, low under 49".to_string(),
        "HR high".to_string(),
        "HRV low".to_string(),
        "sore".to_string(),
        "recovered".to_string(),
        "53".to_string(),
        "44".to_string(),
        format!("planned {}", short(planned)),
        format!("ready {} (moved {moved_h})", short(moved)),
    ] {
        assert!(s.contains(&want), "{want:?} not in the morning chart:\n{s}");
    }

    // The plan chart shows ready where the mornings put it, and where the model had it.
    let plan = structure(&stdout(
        home.path(),
        &["show", "--format", "svg", "--chart", "plan"],
    ));
    assert!(
        plan.contains(&format!("planned {}", short(planned))),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("ready {} (mornings: {moved_h})", short(moved))),
        "{plan}"
    );
    // The page: a Mornings section with the chart and a row per morning, signals against normal.
    let page = stdout(home.path(), &["show", "--format", "html"]);
    assert!(page.contains("<h2>Mornings</h2>") && page.contains("id=\"chart-morning\""));
    assert!(page.contains("53 bpm (+5 over 48)"), "{page}");
    assert!(page.contains("44 ms (11 under 55)"), "{page}");
    assert!(page.contains("not recovered: resting HR high, HRV low"));
    assert!(page.contains(&format!("moved to {}", short(moved))));
    assert!(!page.to_lowercase().contains("http"));
    // That window closed long ago: the status page does not show it.
    let status = stdout(home.path(), &["status", "--format", "html"]);
    assert!(!status.contains("chart-morning"));
}

#[test]
fn the_status_page_shows_the_mornings_of_an_open_window() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    support::reference_config(home.path());
    // A hard 10K that ended two days ago: its window is open today.
    let end = chrono::Utc::now().timestamp() - 2 * 86_400;
    let mut fa = support::FitActivity::segments(end - 42 * 60, &[(42, 174)]);
    fa.speed = 10_000.0 / 2520.0;
    let file = home.path().join("10k.fit");
    std::fs::write(&file, fa.encode()).unwrap_or_else(|e| panic!("{e}"));
    stdout(
        home.path(),
        &["import", "--no-notify", file.to_str().unwrap_or_default()],
    );
    judge_window(home.path(), 1);
    let status = stdout(home.path(), &["status", "--format", "html"]);
    if let Some(dir) = std::env::var_os("PIC_DUMP") {
        std::fs::write(std::path::Path::new(&dir).join("status.html"), &status).unwrap_or_default();
    }
    assert!(status.contains("id=\"chart-morning\"") && status.contains("<h2>Mornings</h2>"));
    assert!(status.contains("id=\"chart-fitness\"") && status.contains("id=\"chart-plan\""));
}
