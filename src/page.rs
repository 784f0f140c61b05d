//! The HTML pages: `show --format html` (one activity: the plan with its reasons and the
//! charts) and `status --format html` (fitness / fatigue / form, readiness, the latest plan).
//! Each page is one self-contained file: inline CSS and SVG, no script, no font or image to
//! fetch, no link out. Light and dark follow the viewer's preference; print gets black on white.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use jiff::tz::TimeZone;

use crate::chart;
use crate::cli::Chart;
use crate::effort::{EffortClass, HrSource};
use crate::localtime;
use crate::model::{DaySignals, Flag, Morning, Verdict};
use crate::plan::Assessment;
use crate::render;
use crate::store::{Store, Stored};

const CSS: &str = "\
:root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --card: #f6f8fa; --line: #d0d7de; --accent: #16a34a; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --card: #161b22; --line: #30363d; --accent: #3fb950; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 960px; padding: 1.5rem; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, -apple-system, \"Segoe UI\", Roboto, \"DejaVu Sans\", sans-serif; }
h1 { font-size: 1.6rem; margin: 0 0 .4rem; }
h2 { font-size: 1.2rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1rem 0 .3rem; color: var(--muted); }
ul.facts { list-style: none; padding: 0; margin: 0; color: var(--muted); }
.ready { background: var(--card); border-left: 4px solid var(--accent); padding: .6rem 1rem; margin: 1rem 0; font-size: 1.1rem; }
.ready b { color: var(--accent); }
figure { margin: 1rem 0; background: var(--card); border-radius: 6px; padding: .5rem; break-inside: avoid; }
figure svg { width: 100%; height: auto; display: block; }
table.plan { border-collapse: collapse; width: 100%; }
table.plan td { vertical-align: top; padding: .35rem .5rem; border-top: 1px solid var(--line); }
table.plan td.when { white-space: nowrap; font-variant-numeric: tabular-nums; width: 10rem; }
.why { color: var(--muted); font-size: .92rem; }
table.days { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table.days th, table.days td { text-align: left; padding: .3rem .5rem; border-top: 1px solid var(--line); vertical-align: top; }
table.days th { color: var(--muted); font-weight: 600; }
table.days td:nth-child(-n+4) { white-space: nowrap; } table.days td[class^=\"verdict\"] { min-width: 12rem; }
.verdict-recovered { color: #16a34a; } .verdict-not_recovered { color: #dc2626; font-weight: 600; } .verdict-unknown { color: var(--muted); }
footer { margin-top: 2rem; color: var(--muted); font-size: .85rem; }
@media print { :root { --fg: #000; --muted: #333; --bg: #fff; --card: #fff; --line: #999; --accent: #000; } body { max-width: none; padding: 0; font-size: 11pt; } figure { padding: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
";

/// Escapes text for HTML content and attribute values.
#[must_use]
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A chart inline: the namespace attribute is implied in HTML (and is the only URL plotters
/// writes), so it goes; an id names the chart for tests and links.
fn figure(out: &mut String, id: &str, label: &str, svg: Result<String, chart::ChartError>) {
    match svg {
        Ok(svg) => {
            let svg = svg
                .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
                .replacen(
                    "<svg ",
                    &format!(
                        "<svg id=\"{id}\" role=\"img\" aria-label=\"{}\" ",
                        esc(label)
                    ),
                    1,
                );
            let _ = writeln!(out, "<figure>{svg}</figure>");
        }
        Err(e) => {
            let _ = writeln!(out, "<p class=\"why\">{}</p>", esc(&e.to_string()));
        }
    }
}

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{}</title>\n<style>\n{CSS}{}\n</style>\n</head>\n<body>\n",
        esc(title),
        chart::THEME_CSS
    );
}

fn foot(out: &mut String, tz: &TimeZone, now: DateTime<Utc>) {
    let _ = write!(
        out,
        "<footer>Made by recoverd on {} (times in {}). Not medical advice: if something hurts, \
         rest it and ask a doctor.</footer>\n</body>\n</html>\n",
        esc(&render::local_dated(now, tz, now)),
        esc(&crate::localtime::name(tz))
    );
}

fn ready_box(out: &mut String, a: &Assessment, tz: &TimeZone) {
    let _ = write!(out, "<div class=\"ready\">");
    for (i, (label, when)) in render::ready_lines(a, tz).into_iter().enumerate() {
        let br = if i > 0 { "<br>" } else { "" };
        let _ = write!(out, "{br}{}: <b>{}</b>", esc(label), esc(&when));
    }
    let _ = writeln!(out, "</div>");
}

/// The plan table, day by day, each item with its reason.
fn plan_table(out: &mut String, s: &Stored, a: &Assessment, tz: &TimeZone) {
    let _ = writeln!(out, "<h2>What to do, and why</h2>");
    let mut open = false;
    for (label, item) in render::timeline(s, a, tz) {
        if let Some(label) = label {
            if open {
                let _ = writeln!(out, "</table>");
            }
            let _ = writeln!(out, "<h3>{}</h3>\n<table class=\"plan\">", esc(&label));
            open = true;
        }
        let _ = writeln!(
            out,
            "<tr class=\"item {}\"><td class=\"when\">{}</td><td>{}<div class=\"why\">{}</div></td></tr>",
            item.tactic.as_str(),
            esc(&render::window(item, tz)),
            esc(&item.text),
            esc(&item.why)
        );
    }
    if open {
        let _ = writeln!(out, "</table>");
    }
}

/// Minutes after local midnight at the activity's start, on the watch's own clock (as `show`
/// gives the start), for the heart-rate chart's local-time axis.
fn start_clock(s: &Stored, tz: &TimeZone) -> f64 {
    let z = localtime::zoned(s.activity.start, &localtime::start_zone(&s.activity, tz));
    f64::from(z.hour()) * 60.0 + f64::from(z.minute()) + f64::from(z.second()) / 60.0
}

/// The charts of one activity: heart rate, time in zones, the plan.
fn activity_charts(
    out: &mut String,
    s: &Stored,
    a: &Assessment,
    tz: &TimeZone,
    now: DateTime<Utc>,
) {
    let _ = writeln!(out, "<h2>The plan at a glance</h2>");
    figure(
        out,
        "chart-plan",
        "Recovery plan timeline",
        chart::plan(a, s.activity.end, now, tz),
    );
    if a.effort.hr_source == HrSource::Stream && !s.activity.hr.is_empty() {
        let lthr = a.athlete.threshold_hr.value;
        let _ = writeln!(out, "<h2>The effort</h2>");
        figure(
            out,
            "chart-hr",
            "Heart rate over time with zones",
            chart::hr(&s.activity.hr, lthr, Some(start_clock(s, tz))),
        );
        figure(
            out,
            "chart-zones",
            "Time in each heart-rate zone",
            chart::zones(&s.activity.hr, lthr),
        );
    } else {
        let _ = writeln!(
            out,
            "<p class=\"why\">No heart-rate stream in this file: no heart-rate charts.</p>"
        );
    }
}

/// An activity's morning checks (MODEL.md §7) and the stored signals of the days they judged:
/// what its page's "Mornings" section and `--chart morning` draw. Empty until a morning of
/// its window has been judged.
#[derive(Debug, Clone, Default)]
pub struct Mornings {
    /// The window's mornings, oldest first.
    pub mornings: Vec<Morning>,
    /// The stored signals of those days.
    pub days: Vec<DaySignals>,
}

impl Mornings {
    /// The mornings of activity `id` and their days (one window: a few rows).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn of(store: &Store, id: i64) -> Result<Self, crate::store::StoreError> {
        let mornings = store.mornings_of(id)?;
        let days = match (mornings.first(), mornings.last()) {
            (Some(f), Some(l)) => store.days_in(f.day, l.day)?,
            _ => Vec::new(),
        };
        Ok(Self { mornings, days })
    }

    /// Whether `today` is inside the window (from its first morning until the local day of
    /// its final ready + 3).
    #[must_use]
    pub fn open_on(&self, today: NaiveDate, tz: &TimeZone) -> bool {
        match (self.mornings.first(), self.mornings.last()) {
            (Some(f), Some(l)) => {
                let until = localtime::day(l.ready_after, tz) + chrono::Duration::days(3);
                (f.day..=until.max(l.day)).contains(&today)
            }
            _ => false,
        }
    }
}

/// "53 bpm (+5 over 48)", "44 ms (11 under 55)": one signal against its normal mean.
fn against(value: f64, mean: Option<f64>, unit: &str) -> String {
    match mean {
        Some(m) => {
            let d = value.round() - m.round();
            if d > 0.0 {
                format!("{value:.0} {unit} (+{d:.0} over {m:.0})")
            } else if d < 0.0 {
                format!("{value:.0} {unit} ({:.0} under {m:.0})", -d)
            } else {
                format!("{value:.0} {unit} (at {m:.0})")
            }
        }
        None => format!("{value:.0} {unit}"),
    }
}

/// One morning's row of the table.
fn morning_row(out: &mut String, m: &Morning, day: Option<&DaySignals>, tz: &TimeZone) {
    let n = &m.normal;
    let rhr = day.and_then(|d| d.rhr).map_or_else(
        || "–".to_string(),
        |v| against(f64::from(v), n.rhr_mean, "bpm"),
    );
    let hrv = day.and_then(|d| d.hrv_rmssd_ms).map_or_else(
        || "–".to_string(),
        |v| against(v, n.ln_rmssd_mean.map(f64::exp), "ms"),
    );
    let feel = day.and_then(|d| d.feel).map_or_else(
        || "–".to_string(),
        |f| {
            let word = ["very sore", "sore", "normal", "fresh", "great"]
                .get(usize::from(f).saturating_sub(1))
                .copied()
                .unwrap_or_default();
            format!("{f} {word}")
        },
    );
    let flags: Vec<&str> = m
        .flags
        .iter()
        .map(|f| match f {
            Flag::RhrHigh => "resting HR high",
            Flag::HrvLow => "HRV low",
            Flag::FeelLow => "feeling sore",
            Flag::Persisting => "persisting fatigue: rest, and see a doctor if unwell",
        })
        .collect();
    let verdict = match m.verdict {
        Verdict::Recovered => "recovered".to_string(),
        Verdict::NotRecovered => format!("not recovered: {}", flags.join(", ")),
        Verdict::Unknown => "no usable signal".to_string(),
    };
    let ready = if m.ready_after > m.ready_before {
        format!("moved to {}", render::local_short(m.ready_after, tz))
    } else {
        render::local_short(m.ready_after, tz)
    };
    let v: &str = m.verdict.into();
    let _ = writeln!(
        out,
        "<tr class=\"morning\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td class=\"verdict-{v}\">{}</td><td>{}</td></tr>",
        m.day.format("%a %-d %b"),
        esc(&rhr),
        esc(&hrv),
        esc(&feel),
        esc(&verdict),
        esc(&ready)
    );
}

/// The "Mornings" section: the chart, and a table of the days with each signal against the
/// normal, the verdict and `ready` after it. Nothing until a morning has been judged.
fn mornings_section(out: &mut String, m: &Mornings, tz: &TimeZone) {
    if m.mornings.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2>Mornings</h2>");
    figure(
        out,
        "chart-morning",
        "Resting heart rate and HRV of each morning against your normal",
        chart::morning(&m.mornings, &m.days, tz),
    );
    let _ = writeln!(
        out,
        "<table class=\"days\">\n<tr><th>Morning</th><th>Resting HR</th><th>HRV (RMSSD)</th>\
         <th>Feel</th><th>Verdict</th><th>Ready</th></tr>"
    );
    for mo in &m.mornings {
        morning_row(out, mo, m.days.iter().find(|d| d.day == mo.day), tz);
    }
    let _ = writeln!(
        out,
        "</table>\n<p class=\"why\">Your normal is the mean ± SD of the 60 days before the effort \
         (at least 14 nights). A morning is not recovered when resting HR is at least max(SD, 3 bpm) \
         over it, HRV (judged as ln RMSSD) under mean − SD, or you feel sore (1–2); such a morning \
         at or after ready moves ready to 06:00 the next day, at most 3 times.</p>"
    );
}

/// `show --format html`: one activity's page, seen at `now`, with its mornings (if any).
#[must_use]
pub fn show_html(s: &Stored, mornings: &Mornings, tz: &TimeZone, now: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let Some(a) = &s.assessment else {
        head(&mut out, &format!("Activity {}", s.id));
        let _ = writeln!(
            out,
            "<h1>Activity {}</h1><p>Not assessed yet: run <code>recoverd replan</code>.</p>",
            s.id
        );
        foot(&mut out, tz, now);
        return out;
    };
    let title = render::headline(s, a);
    head(&mut out, &format!("{title} · recoverd"));
    let _ = writeln!(out, "<h1>{}</h1>\n<ul class=\"facts\">", esc(&title));
    for l in render::facts(s, a, tz) {
        let _ = writeln!(out, "<li>{}</li>", esc(&l));
    }
    let _ = writeln!(out, "</ul>");
    ready_box(&mut out, a, tz);
    mornings_section(&mut out, mornings, tz);
    activity_charts(&mut out, s, a, tz, now);
    plan_table(&mut out, s, a, tz);
    foot(&mut out, tz, now);
    out
}

/// `status --format html`: the status lines, the fitness chart and the latest hard effort's plan
/// (with its mornings while its window is open).
#[must_use]
pub fn status_html(
    status_text: &str,
    fitness_svg: Result<String, chart::ChartError>,
    latest: Option<(&Stored, &Mornings)>,
    tz: &TimeZone,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, "Status · recoverd");
    let _ = writeln!(out, "<h1>Status</h1>\n<div class=\"ready\">");
    for (i, l) in status_text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
    {
        let br = if i > 0 { "<br>" } else { "" };
        let _ = write!(out, "{br}{}", esc(l));
    }
    let _ = writeln!(out, "</div>");
    figure(
        &mut out,
        "chart-fitness",
        "Fitness, fatigue and form",
        fitness_svg,
    );
    if let Some((s, mornings)) = latest
        && let Some(a) = &s.assessment
    {
        let _ = writeln!(
            out,
            "<h2>Latest hard effort: {}</h2>",
            esc(&render::headline(s, a))
        );
        ready_box(&mut out, a, tz);
        if mornings.open_on(localtime::day(now, tz), tz) {
            mornings_section(&mut out, mornings, tz);
        }
        figure(
            &mut out,
            "chart-plan",
            "Recovery plan timeline",
            chart::plan(a, s.activity.end, now, tz),
        );
        plan_table(&mut out, s, a, tz);
    }
    foot(&mut out, tz, now);
    out
}

/// Days the status page's fitness chart covers.
pub const STATUS_DAYS: u32 = 90;

/// Stops [`Store::for_each_summary`] once the activities are older than the chart.
#[derive(Debug, thiserror::Error)]
#[error("older than the chart")]
struct Older;

/// Hard efforts and races that count for a local day on or after `from`, newest first; reads
/// summaries (no heart-rate streams) and stops at the first older activity.
///
/// # Errors
/// On SQLite failure.
pub fn marks_since(store: &Store, from: NaiveDate) -> anyhow::Result<Vec<chart::Mark>> {
    let mut marks = Vec::new();
    let walked = store.for_each_summary(None, |s| {
        let Some(a) = &s.assessment else {
            return Ok(());
        };
        if a.local_day < from {
            return Err(Older.into());
        }
        if a.race.is_some() || a.effort.class >= EffortClass::Hard {
            marks.push(chart::Mark {
                day: a.local_day,
                class: a.effort.class,
                race: a.race.is_some(),
            });
        }
        Ok(())
    });
    match walked {
        Err(e) if !e.is::<Older>() => Err(e),
        _ => Ok(marks),
    }
}

/// `status --format html` on stdout.
///
/// # Errors
/// On SQLite failure or a closed stdout.
pub fn print_status(store: &Store, tz: &TimeZone) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let text = crate::app::status_lines(store, tz, now)?;
    let today = localtime::day(now, tz);
    let from = today - chrono::Duration::days(i64::from(STATUS_DAYS));
    let marks = marks_since(store, from)?;
    let svg = chart::pmc(&store.daily_loads(None)?, &marks, today, STATUS_DAYS);
    let latest = match store.latest_hard()? {
        Some(id) => match store.load(id)? {
            Some(s) => Some((s, Mornings::of(store, id)?)),
            None => None,
        },
        None => None,
    };
    let page = status_html(&text, svg, latest.as_ref().map(|(s, m)| (s, m)), tz, now);
    std::io::stdout().lock().write_all(page.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `show --format svg --chart ...`: one chart with its theme, or why there is none.
///
/// # Errors
/// A sentence when the activity has no judgement or no heart-rate stream for the chart.
pub fn chart_svg(
    s: &Stored,
    mornings: &Mornings,
    which: Chart,
    tz: &TimeZone,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let Some(a) = &s.assessment else {
        return Err(format!(
            "activity {} is not assessed yet: run `recoverd replan`",
            s.id
        ));
    };
    let needs_stream = matches!(which, Chart::Hr | Chart::Zones);
    if needs_stream && (a.effort.hr_source != HrSource::Stream || s.activity.hr.is_empty()) {
        return Err(format!(
            "activity {} has no heart-rate stream, so no heart-rate chart: try `--chart plan`",
            s.id
        ));
    }
    if which == Chart::Morning && mornings.mornings.is_empty() {
        return Err(format!(
            "activity {} has no morning check yet (its window's mornings are judged from the \
             watch's night data and `recoverd feel`): try `--chart plan`",
            s.id
        ));
    }
    let lthr = a.athlete.threshold_hr.value;
    let svg = match which {
        Chart::Hr => chart::hr(&s.activity.hr, lthr, Some(start_clock(s, tz))),
        Chart::Zones => chart::zones(&s.activity.hr, lthr),
        Chart::Plan => chart::plan(a, s.activity.end, now, tz),
        Chart::Morning => chart::morning(&mornings.mornings, &mornings.days, tz),
    };
    svg.map(|svg| chart::themed(&svg))
        .map_err(|e| e.to_string())
}

/// The files the notification points at, in the data folder.
#[derive(Debug, Clone)]
pub struct PageFiles {
    /// The activity's page.
    pub html: PathBuf,
    /// The picture of the effort (heart rate, else the plan).
    pub png: PathBuf,
}

impl PageFiles {
    /// The page and picture of activity `id` in `dir`.
    #[must_use]
    pub fn of(dir: &Path, id: i64) -> Self {
        Self {
            html: dir.join(format!("activity-{id}.html")),
            png: dir.join(format!("activity-{id}.png")),
        }
    }

    /// Deletes both files where they exist (`forget`); a missing one is no error.
    ///
    /// # Errors
    /// When an existing file cannot be deleted.
    pub fn remove(&self) -> std::io::Result<()> {
        for f in [&self.html, &self.png] {
            match std::fs::remove_file(f) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

/// `recoverd render-page ID`, run by the service in a child process for each plan
/// notification: writes the activity's page and picture into the data folder's `pages/` and
/// exits, so that the fonts, trees and pixels of a render never stay in the service's memory.
/// It only reads the database (the service stays its one writer).
///
/// # Errors
/// An unknown activity, a database failure, or files that cannot be written.
pub fn render_command(cfg: &crate::config::Config, id: i64) -> anyhow::Result<ExitCode> {
    let store = Store::open(&cfg.database)?;
    let Some(s) = store.load(id)? else {
        anyhow::bail!("no activity {id} in {}", cfg.database.display());
    };
    let mornings = Mornings::of(&store, id)?;
    drop(store);
    write_files(&folder(cfg), &s, &mornings, &cfg.timezone, Utc::now())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes an activity's page and its picture into `dir` (created, mode 0700) as
/// `activity-ID.html` and `activity-ID.png`, replacing older ones. Rendered now, freed after.
///
/// # Errors
/// When the folder or a file cannot be written, or the picture cannot be made.
pub fn write_files(
    dir: &Path,
    s: &Stored,
    mornings: &Mornings,
    tz: &TimeZone,
    now: DateTime<Utc>,
) -> anyhow::Result<PageFiles> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let files = PageFiles::of(dir, s.id);
    let which = match &s.assessment {
        Some(a) if a.effort.hr_source == HrSource::Stream && !s.activity.hr.is_empty() => Chart::Hr,
        _ => Chart::Plan,
    };
    let svg = chart_svg(s, mornings, which, tz, now).map_err(anyhow::Error::msg)?;
    let png = crate::raster::png(&svg, 1.0)?;
    write_atomic(&files.png, &png)?;
    write_atomic(&files.html, show_html(s, mornings, tz, now).as_bytes())?;
    Ok(files)
}

/// Writes through a temporary file in the same folder, then renames it into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The folder for activity pages and pictures: `pages/` beside the database (the data folder).
#[must_use]
pub fn folder(cfg: &crate::config::Config) -> PathBuf {
    cfg.database
        .parent()
        .map_or_else(|| PathBuf::from("pages"), |d| d.join("pages"))
}
