//! The morning notification from the running service, on a real private D-Bus with a
//! notification server (tests/support/notifyd.rs): sent once a local day inside a recovery
//! window, whatever triggers it; its buttons store how the legs feel for that day; a server
//! without buttons gets the command in the text; a click whose `xdg-open` is missing opens the
//! page through the desktop portal.
//!
//! The service runs on the real clock, so the data is placed relative to now, in a fixed-offset
//! zone where it is about noon (far from midnight, past any morning time but the test's own).

#[path = "support/notifyd.rs"]
mod notifyd;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{NaiveDate, Timelike as _, Utc};
use notifyd::{Server, click, serve, start_bus};
use support::FitActivity;

/// A fixed-offset zone (IANA `Etc/GMT±N`) where it is now between 11:00 and 13:00, and its
/// offset in hours.
fn noon_zone() -> (String, i64) {
    let off = 12 - i64::from(Utc::now().hour());
    // `Etc/GMT-5` is UTC+5 (POSIX signs).
    let name = match off {
        0 => "Etc/GMT".to_string(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    };
    (name, off)
}

fn today(off_h: i64) -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(off_h)).date_naive()
}

struct Home {
    dir: tempfile::TempDir,
    watch: PathBuf,
    off_h: i64,
}

impl Home {
    /// A runner's home watching `watch`, in the noon zone, the morning notification at
    /// `morning` local.
    fn new(morning: &str) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let watch = dir.path().join("watch");
        std::fs::create_dir_all(&watch).unwrap_or_default();
        let (zone, off_h) = noon_zone();
        let conf = dir.path().join(".config/recoverd");
        std::fs::create_dir_all(&conf).unwrap_or_default();
        std::fs::write(
            conf.join("config.toml"),
            format!(
                "watch = [\"{}\"]\ntimezone = \"{zone}\"\n[notifications]\nmorning = \"{morning}\"\n\
                 [athlete]\nmax_hr = 185\nresting_hr = 50\nthreshold_hr = 168\nsex = \"male\"\n",
                watch.display()
            ),
        )
        .unwrap_or_default();
        Self { dir, watch, off_h }
    }

    /// A home whose morning time is 6 hours after now on its clock: only the night's data
    /// can send today's morning notification.
    fn morning_hours_away() -> Self {
        let (_, off_h) = noon_zone();
        let later = (Utc::now() + chrono::Duration::hours(off_h + 6)).format("%H:%M");
        Self::new(&later.to_string())
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A 10K race that ended `days` days ago (a hard effort: it opens a recovery window).
    fn race(&self, days: i64) {
        let end = Utc::now().timestamp() - days * 86_400 - 600;
        let mut race = FitActivity::segments(end - 42 * 60, &[(42, 174)]);
        race.speed = 10_000.0 / 2520.0;
        std::fs::write(self.watch.join("race.fit"), race.encode()).unwrap_or_default();
    }

    /// `recoverd run` on the bus, with `PATH` as given (the default: the test's own).
    fn start(&self, bus: &str, path: Option<&Path>) -> support::Service {
        let mut cmd = Command::new(support::bin());
        cmd.arg("run")
            .env("HOME", self.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .env("RUST_LOG", "recoverd=debug")
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(self.path().join("service.log"))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            );
        if let Some(p) = path {
            cmd.env("PATH", p);
        }
        support::Service {
            child: cmd.spawn().unwrap_or_else(|e| panic!("{e}")),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("service.log")).unwrap_or_default()
    }

    /// The feel stored for `day`, as `recoverd days --json` shows it.
    fn feel(&self, day: NaiveDate) -> Option<i64> {
        let out = support::run(self.path(), &["days", "--json", "--limit", "10"]);
        let days: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).ok()?;
        days.iter()
            .find(|d| d["day"] == day.format("%Y-%m-%d").to_string())
            .and_then(|d| d["feel"].as_i64())
    }

    async fn wait_feel(&self, day: NaiveDate) -> Option<i64> {
        for _ in 0..100 {
            if let Some(f) = self.feel(day) {
                return Some(f);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

/// Stops the service (SIGTERM) off the runtime's threads.
async fn stop(svc: support::Service) -> Option<i32> {
    tokio::task::spawn_blocking(move || svc.stop())
        .await
        .ok()
        .flatten()
}

fn morning_calls(calls: &[notifyd::Call]) -> Vec<notifyd::Call> {
    calls
        .iter()
        .filter(|c| c.summary.starts_with("Day "))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_morning_notification_a_day_whose_button_stores_the_feel_of_that_day() {
    let bus = start_bus();
    let server = Server {
        actions: true,
        ..Server::default()
    };
    let conn = serve(&bus, server.clone()).await;
    // The morning time has passed (it is about noon): the service catches up as it starts.
    let home = Home::new("00:00");
    home.race(2);
    let svc = home.start(&bus.address, None);
    let calls = server.wait_calls(2, 30).await;
    assert_eq!(calls.len(), 2, "{calls:?}\n{}", home.log());
    assert_eq!(calls[0].summary, "Imported 1 past activity");
    let morning = &calls[1];
    assert_eq!(
        morning.summary, "Day 2 after your 10K race: how do your legs feel?",
        "{morning:?}"
    );
    assert!(
        morning
            .body
            .contains("Ready for hard training and racing: ")
            && morning.body.ends_with("How do your legs feel?")
            && !morning.body.contains("recoverd feel"),
        "{}",
        morning.body
    );
    assert_eq!(
        morning.action_keys(),
        ["default", "very_sore", "sore", "normal", "fresh"],
        "{:?}",
        morning.actions
    );
    let labels: Vec<&str> = morning
        .actions
        .iter()
        .skip(1)
        .step_by(2)
        .map(String::as_str)
        .collect();
    assert_eq!(
        labels,
        ["Open the plan", "Very sore", "Sore", "Normal", "Fresh"]
    );

    // A second trigger the same day (a reload recomputes the time, already passed): nothing.
    svc.signal("HUP");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.calls().len(), 2, "{:?}", server.calls());
    assert!(home.log().contains("SIGHUP"), "{}", home.log());

    // "Sore" (after the reload too) → feel 2 for the notification's day.
    click(&conn, morning.id, "sore").await;
    assert_eq!(
        home.wait_feel(today(home.off_h)).await,
        Some(2),
        "{}",
        home.log()
    );
    assert_eq!(stop(svc).await, Some(0));

    // Nor after a restart: the day is recorded in the database.
    let svc = home.start(&bus.address, None);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let calls = server.calls();
    // The notification still on screen answers after the restart too: "Normal" → 3.
    click(&conn, morning.id, "normal").await;
    let mut feel = None;
    for _ in 0..100 {
        feel = home.feel(today(home.off_h));
        if feel == Some(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(feel, Some(3), "{}", home.log());
    assert_eq!(stop(svc).await, Some(0));
    assert_eq!(morning_calls(&calls).len(), 1, "{calls:?}\n{}", home.log());
    assert_eq!(calls.len(), 2, "{calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_buttons_gets_the_command_in_the_text() {
    let bus = start_bus();
    let server = Server::default();
    let _conn = serve(&bus, server.clone()).await;
    let home = Home::new("00:00");
    home.race(3);
    let svc = home.start(&bus.address, None);
    let calls = server.wait_calls(2, 30).await;
    assert_eq!(stop(svc).await, Some(0));
    let mornings = morning_calls(&calls);
    assert_eq!(mornings.len(), 1, "{calls:?}\n{}", home.log());
    assert!(
        mornings[0].summary.starts_with("Day 3 after your 10K race"),
        "{}",
        mornings[0].summary
    );
    assert!(
        mornings[0]
            .body
            .ends_with("Answer with `recoverd feel N` (1 very sore … 5 great)."),
        "{}",
        mornings[0].body
    );
    assert!(mornings[0].actions.is_empty(), "{:?}", mornings[0].actions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_window_no_morning_notification_and_none_before_its_time() {
    let bus = start_bus();
    let server = Server {
        actions: true,
        ..Server::default()
    };
    let _conn = serve(&bus, server.clone()).await;
    // A race that ended two days ago, but the morning time is still hours away.
    let home = Home::morning_hours_away();
    home.race(2);
    let svc = home.start(&bus.address, None);
    let calls = server.wait_calls(1, 30).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls_after = server.calls();
    assert_eq!(stop(svc).await, Some(0));
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls_after.len(), 1, "{calls_after:?}\n{}", home.log());
    assert_eq!(calls[0].summary, "Imported 1 past activity");

    // Its window has closed (the race was 30 days ago): nothing, even past the time.
    let bus = start_bus();
    let server = Server {
        actions: true,
        ..Server::default()
    };
    let _conn = serve(&bus, server.clone()).await;
    let home = Home::new("00:00");
    home.race(30);
    let svc = home.start(&bus.address, None);
    let calls = server.wait_calls(1, 30).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls_after = server.calls();
    assert_eq!(stop(svc).await, Some(0));
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls_after.len(), 1, "{calls_after:?}\n{}", home.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_xdg_open_a_click_opens_the_page_through_the_desktop_portal() {
    let bus = start_bus();
    let server = Server {
        actions: true,
        ..Server::default()
    };
    let conn = serve(&bus, server.clone()).await;
    let portal = notifyd::Portal::default();
    let _portal_conn = notifyd::serve_portal(&bus, portal.clone()).await;
    let home = Home::new("00:00");
    home.race(2);
    // A PATH with no xdg-open on it.
    let empty = home.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap_or_default();
    let svc = home.start(&bus.address, Some(&empty));
    let calls = server.wait_calls(2, 30).await;
    let mornings = morning_calls(&calls);
    assert_eq!(mornings.len(), 1, "{calls:?}\n{}", home.log());
    click(&conn, mornings[0].id, "default").await;
    let mut uris = Vec::new();
    for _ in 0..100 {
        uris = portal.uris.lock().map(|u| u.clone()).unwrap_or_default();
        if !uris.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stop(svc).await, Some(0));
    assert_eq!(uris.len(), 1, "{}", home.log());
    let page = home.path().join(".local/share/recoverd/pages");
    assert!(
        uris[0].starts_with(&format!("file://{}/", page.display())) && uris[0].ends_with(".html"),
        "{uris:?}"
    );
    let file = PathBuf::from(uris[0].trim_start_matches("file://"));
    assert!(file.is_file(), "{file:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_morning_notification_that_could_not_be_sent_is_sent_by_the_next_start() {
    let bus = start_bus();
    // No notification server yet (the service started at login before the desktop's).
    let home = Home::new("00:00");
    home.race(2);
    let svc = home.start(&bus.address, None);
    for _ in 0..200 {
        if home.log().contains("cannot send the morning notification") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stop(svc).await, Some(0));
    assert!(
        home.log().contains("cannot send the morning notification"),
        "{}",
        home.log()
    );
    // The server is up now: the next start sends today's morning notification.
    let server = Server {
        actions: true,
        ..Server::default()
    };
    let _conn = serve(&bus, server.clone()).await;
    let svc = home.start(&bus.address, None);
    let calls = server.wait_calls(1, 30).await;
    assert_eq!(stop(svc).await, Some(0));
    assert_eq!(morning_calls(&calls).len(), 1, "{calls:?}\n{}", home.log());
}

/// Unix seconds of local `hh:mm` on `day` in a zone `off_h` hours from UTC.
fn local_unix(day: NaiveDate, hh: u32, mm: u32, off_h: i64) -> i64 {
    day.and_hms_opt(hh, mm, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp()
        - off_h * 3600
}

/// The night before `day`'s morning as a watch writes it, on the watch's clock (`off_h`): a
/// monitoring file with heart rate every minute from 23:00 to 06:30 at `rhr`, and an HRV-status
/// file with last night's average `hrv` ms.
fn night_files(dir: &Path, day: NaiveDate, rhr: u8, hrv: f64, off_h: i64) {
    let from = local_unix(day - chrono::Duration::days(1), 23, 0, off_h);
    let mut mon = support::Monitoring::night(from, 450, 60, |_| rhr);
    mon.utc_offset_s = i32::try_from(off_h * 3600).ok();
    let hrv_file = support::HrvStatus {
        created: local_unix(day, 6, 35, off_h),
        summary: Some((local_unix(day, 6, 30, off_h), Some(hrv))),
        values: Vec::new(),
    };
    let name = day.format("%Y-%m-%d");
    std::fs::write(dir.join(format!("{name}-monitoring.fit")), mon.encode()).unwrap_or_default();
    std::fs::write(dir.join(format!("{name}-hrv.fit")), hrv_file.encode()).unwrap_or_default();
}

fn cli_json(home: &Path, args: &[&str]) -> serde_json::Value {
    let out = support::run(home, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn local_day_of(rfc3339: &serde_json::Value, off_h: i64) -> NaiveDate {
    chrono::DateTime::parse_from_rfc3339(rfc3339.as_str().unwrap_or_default())
        .map(|t| (t.with_timezone(&Utc) + chrono::Duration::hours(off_h)).date_naive())
        .unwrap_or_default()
}

/// Waits until `n` files are answered `imported`.
async fn wait_imported(home: &Path, n: usize) -> Vec<serde_json::Value> {
    let home = home.to_path_buf();
    tokio::task::spawn_blocking(move || support::wait_imported(&home, n, 60))
        .await
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_race_three_nights_and_a_click_end_to_end() {
    let bus = start_bus();
    let server = Server {
        actions: true,
        ..Server::default()
    };
    let conn = serve(&bus, server.clone()).await;
    // The morning time is hours away: only the night's data can send today's notification.
    let home = Home::morning_hours_away();
    let off_h = home.off_h;
    let today = today(off_h);
    // The race four days ago; its ready (66 h after a 10K at max effort, out of the night) is
    // 06:00 on the third day after; the nights of the 2nd, 3rd and 4th mornings after it are
    // normal, bad and good.
    let race_day = today - chrono::Duration::days(4);
    home.race(4);
    // 20 normal nights before it (resting HR 46/50, HRV 49/60 ms): the runner's normal.
    for i in 1..=20 {
        let (rhr, hrv) = if i % 2 == 0 { (46, 49.4) } else { (50, 60.3) };
        night_files(
            &home.watch,
            race_day - chrono::Duration::days(i),
            rhr,
            hrv,
            off_h,
        );
    }
    let svc = home.start(&bus.address, None);
    let files = wait_imported(home.path(), 41).await;
    assert_eq!(
        files.iter().filter(|f| f["status"] == "imported").count(),
        41,
        "{files:?}\n{}",
        home.log()
    );
    let show = cli_json(home.path(), &["show", "latest", "--format", "json"]);
    let planned = local_day_of(&show["recovery"]["ready"], off_h);
    assert_eq!(planned, race_day + chrono::Duration::days(3), "{show}");

    // The three nights, each synced on its own.
    let nights = [(2, 48, 55.0), (3, 56, 40.0), (4, 48, 56.0)];
    for (n, (after, rhr, hrv)) in nights.iter().enumerate() {
        night_files(
            &home.watch,
            race_day + chrono::Duration::days(*after),
            *rhr,
            *hrv,
            off_h,
        );
        wait_imported(home.path(), 41 + 2 * (n + 1)).await;
    }
    let calls = server.wait_calls(2, 30).await;
    let mornings = morning_calls(&calls);
    assert_eq!(mornings.len(), 1, "{calls:?}\n{}", home.log());
    let morning = &mornings[0];
    assert_eq!(
        morning.summary, "Day 4 after your 10K race: recovered",
        "{}",
        morning.body
    );
    assert!(
        morning
            .body
            .starts_with("Resting HR 48, at your normal; HRV 56 ms, ")
            && morning.body.contains("(moved from ")
            && morning.body.ends_with("How do your legs feel?"),
        "{}",
        morning.body
    );

    // A later sync of the same night (another monitoring file): no second notification.
    let mut again = support::Monitoring::night(local_unix(today, 6, 31, off_h), 30, 60, |_| 60);
    again.utc_offset_s = i32::try_from(off_h * 3600).ok();
    std::fs::write(home.watch.join("later.fit"), again.encode()).unwrap_or_default();
    wait_imported(home.path(), 48).await;

    // "Fresh" stores feel 4 for today; today stays recovered.
    click(&conn, morning.id, "fresh").await;
    assert_eq!(home.wait_feel(today).await, Some(4), "{}", home.log());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = server.calls();
    assert_eq!(stop(svc).await, Some(0));
    assert_eq!(morning_calls(&calls).len(), 1, "{calls:?}");

    let days = cli_json(home.path(), &["days", "--json", "--limit", "5"]);
    let verdict = |d: NaiveDate| {
        days.as_array()
            .and_then(|a| {
                a.iter()
                    .find(|v| v["day"] == d.format("%Y-%m-%d").to_string())
            })
            .map(|v| (v["verdict"].clone(), v["feel"].clone()))
            .unwrap_or_default()
    };
    assert_eq!(
        verdict(race_day + chrono::Duration::days(2)).0,
        "recovered",
        "{days}"
    );
    assert_eq!(
        verdict(race_day + chrono::Duration::days(3)).0,
        "not_recovered",
        "{days}"
    );
    assert_eq!(verdict(today), ("recovered".into(), 4.into()), "{days}");
    let show = cli_json(home.path(), &["show", "latest", "--format", "json"]);
    assert_eq!(
        local_day_of(&show["recovery"]["ready"], off_h),
        today,
        "ready moved once, to 06:00 today: {show}"
    );
    let moved = show["recovery"]["ready_moved_h"]
        .as_f64()
        .unwrap_or_default();
    assert!(moved > 0.0 && moved <= 24.0, "{show}");
    // The page the morning notification opens, written by the service's renderer child at that
    // moment, shows the window's mornings.
    let id = show["id"].as_i64().unwrap_or_default();
    let page = home
        .path()
        .join(format!(".local/share/recoverd/pages/activity-{id}.html"));
    let html = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
    assert!(
        html.contains("<h2>Mornings</h2>") && html.contains("id=\"chart-morning\""),
        "{html:.400}"
    );
}
