//! Command dispatch: maps each subcommand to calls into `pipeline`, `store`, `render` and
//! `daemon`. No domain math and no SQL here.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use jiff::tz::TimeZone;

use crate::cli::{Chart, Cli, Command, Format, MarkAs, StatusFilter, StatusFormat};
use crate::config::{self, Config};
use crate::effort;
use crate::localtime;
use crate::logging::printable;
use crate::morning_view;
use crate::notifier::{self, Desktop};
use crate::pipeline::{self, Options, Outcome, walk};
use crate::render;
use crate::store::{FileStatus, Store, StoreError, Stored};

/// A failure the user caused (usage or config): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs one command; the returned code is the process's exit code.
///
/// # Errors
/// Anything that stops the command; `main` prints it once.
pub fn run(cli: Cli) -> Result<ExitCode> {
    // Generated from the command-line definition alone: no config needed (nor read).
    match cli.command {
        Command::Completions { shell } => {
            crate::cli::completions(shell, &mut std::io::stdout().lock())?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Man => {
            crate::cli::man(&mut std::io::stdout().lock())?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    if let Some(file) = &cli.config {
        config::require_file(file).map_err(|e| UsageError(e.to_string()))?;
    }
    let cfg = config::load(cli.config.as_deref(), cli.db.as_deref())
        .map_err(|e| UsageError(e.to_string()))?;
    match cli.command {
        Command::Run => crate::daemon::run(cfg),
        Command::Import {
            json,
            no_notify,
            retry_failed,
            paths,
        } => import(
            &cfg,
            &paths,
            json,
            !no_notify,
            Options::all_cores(retry_failed).storing_cut_short_at_once(),
        ),
        Command::List { json, limit } => list(&cfg, json, limit),
        Command::Show { id, format, chart } => show(&cfg, &id, format, chart),
        Command::Status { json, format } => match format {
            Some(StatusFormat::Html) => crate::page::print_status(&open(&cfg)?, &cfg.timezone),
            Some(StatusFormat::Json) => status(&cfg, true),
            Some(StatusFormat::Text) | None => status(&cfg, json),
        },
        Command::Files { status, json } => files(&cfg, status, json),
        Command::Replan => {
            let mut store = open(&cfg)?;
            let n = pipeline::replan(&mut store, &cfg, true)?;
            eprintln!("recomputed {n} activities");
            Ok(ExitCode::SUCCESS)
        }
        Command::Mark { id, what } => mark(&cfg, id, what),
        Command::Forget { id } => forget(&cfg, id),
        Command::Feel { n, date } => feel(&cfg, &n, date.as_deref()),
        Command::Days { json, limit } => days(&cfg, json, limit),
        Command::InstallService { enable } => crate::install::install_service(&cfg, enable),
        Command::Doctor => Ok(doctor(&cfg)),
        Command::RenderPage { id } => crate::page::render_command(&cfg, id),
        Command::Completions { .. } | Command::Man => Ok(ExitCode::SUCCESS),
    }
}

/// Opens the store with its judgements up to date ([`pipeline::open_replanned`]).
fn open(cfg: &Config) -> Result<Store> {
    pipeline::open_replanned(cfg).map_err(|e| match e {
        // Not a fault that passes: the user must pick another file or another binary (exit 2).
        newer @ StoreError::Newer { .. } => anyhow::Error::new(UsageError(format!(
            "the database {}: {newer}",
            cfg.database.display()
        ))),
        other => anyhow::Error::new(other)
            .context(format!("check that {} is writable", cfg.database.display())),
    })
}

/// Every activity file under the given paths, in a stable order: a folder (or a link to one
/// given by name) is walked with [`walk::walk`]'s link policy; a file given by name is taken
/// as it is.
fn collect(paths: &[PathBuf], cfg: &Config) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk::walk(p, cfg, &mut |f| out.push(f), &mut |dir, e| {
                tracing::warn!(path = %dir.display(), error = %e, "cannot read folder");
            });
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn import(
    cfg: &Config,
    paths: &[PathBuf],
    json: bool,
    notify: bool,
    opts: Options,
) -> Result<ExitCode> {
    for p in paths {
        if !p.exists() {
            return Err(UsageError(format!("{} does not exist", p.display())).into());
        }
    }
    let mut store = open(cfg)?;
    let files = collect(paths, cfg);
    let started = std::time::Instant::now();
    let mut run = ImportRun {
        progress: Progress::new(files.len()),
        counts: [0; 5],
        new_ids: Vec::new(),
        json,
        write_error: None,
    };
    pipeline::process_paths(&mut store, cfg, &files, opts, Utc::now(), &mut run);
    run.progress.finish();
    if let Some(e) = run.write_error {
        return Err(e.into());
    }
    let (counts, new_ids) = (run.counts, run.new_ids);
    let count = |s: FileStatus| counts[s as usize];
    let (imported, failed, pending) = (
        count(FileStatus::Imported),
        count(FileStatus::Failed),
        count(FileStatus::Pending),
    );
    eprintln!(
        "{imported} imported, {} duplicate, {} skipped, {failed} failed{} in {:.1} s",
        count(FileStatus::Duplicate),
        count(FileStatus::Skipped),
        if pending > 0 {
            format!(", {pending} pending")
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    );
    if notify && cfg.notifications && imported > 0 {
        announce(&store, &new_ids, &cfg.timezone, crate::page::folder(cfg))?;
    }
    Ok(if failed + pending > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// An import's sink: counts, new activities, `--json` lines and progress.
struct ImportRun {
    progress: Progress,
    counts: [usize; 5],
    new_ids: Vec<i64>,
    json: bool,
    write_error: Option<std::io::Error>,
}

impl pipeline::Sink for ImportRun {
    fn planned(&mut self, files: usize) {
        self.progress.planned(files);
    }

    fn outcome(&mut self, o: Outcome) {
        self.counts[o.status as usize] += 1;
        self.new_ids.extend(o.activity_id);
        self.progress.done(&o);
        if self.json && self.write_error.is_none() {
            let mut out = std::io::stdout().lock();
            if let Err(e) = serde_json::to_writer(&mut out, &o)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
            {
                self.write_error = Some(e);
            }
        }
    }
}

/// Progress of an import: a bar on a terminal; otherwise a log line every few seconds. Each
/// failure is logged as it happens, with its reason.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: usize,
    failed: usize,
    started: std::time::Instant,
    last_line: std::time::Instant,
}

impl Progress {
    fn new(total: usize) -> Self {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = (tty && total > 1).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} files · {per_sec} · ETA {eta} · {msg}",
            ) {
                bar.set_style(style);
            }
            bar.set_message("0 failed");
            bar
        });
        let now = std::time::Instant::now();
        Self {
            bar,
            total,
            done: 0,
            failed: 0,
            started: now,
            last_line: now,
        }
    }

    fn planned(&mut self, n: usize) {
        self.total = n.max(self.total);
        if let Some(bar) = &self.bar {
            bar.set_length(self.total as u64);
        }
    }

    fn done(&mut self, o: &Outcome) {
        self.done += 1;
        self.total = self.total.max(self.done);
        if matches!(o.status, FileStatus::Failed | FileStatus::Pending) {
            self.failed += 1;
        }
        match &self.bar {
            Some(bar) => {
                bar.set_length(self.total as u64);
                bar.inc(1);
                bar.set_message(format!("{} failed", self.failed));
                bar.suspend(|| log_outcome(o));
            }
            None => {
                log_outcome(o);
                if self.last_line.elapsed() >= std::time::Duration::from_secs(5) {
                    self.last_line = std::time::Instant::now();
                    let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
                    tracing::info!(
                        "{} of {} files, {rate:.0} files/s, {} failed so far",
                        self.done,
                        self.total,
                        self.failed
                    );
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What [`crate::announce::notices`] decides for the activities an import stored.
fn announce(store: &Store, new_ids: &[i64], tz: &TimeZone, pages: PathBuf) -> Result<()> {
    let items = notifier::notices_for(store, new_ids, Utc::now())?;
    if items.is_empty() {
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(
        Desktop::new(true)
            .with_pages(pages)
            .announce_notices(&items, tz),
    );
    Ok(())
}

fn log_outcome(o: &Outcome) {
    let path = printable(&o.path);
    match o.status {
        FileStatus::Imported => tracing::debug!(path = %path, id = o.activity_id, "imported"),
        FileStatus::Duplicate => tracing::debug!(path = %path, of = o.duplicate_of, "duplicate"),
        FileStatus::Skipped => {
            tracing::debug!(path = %path, reason = o.reason.as_deref().unwrap_or(""), "skipped");
        }
        FileStatus::Failed | FileStatus::Pending => tracing::warn!(
            path = %path,
            "{}: {}",
            o.status.as_str(),
            o.reason.as_deref().unwrap_or("")
        ),
    }
}

/// Said when the store holds nothing yet.
const EMPTY_STORE: &str = "No activities stored yet: copy activity files (.fit, .gpx, .tcx) into a \
                           watched folder while `recoverd run` runs, or import them with \
                           `recoverd import PATH`.";

/// `list`: one row per activity, streamed from the store without heart-rate streams.
fn list(cfg: &Config, json: bool, limit: Option<u32>) -> Result<ExitCode> {
    let store = open(cfg)?;
    let now = Utc::now();
    let mut out = std::io::stdout().lock();
    let mut n = 0usize;
    if json {
        write!(out, "[")?;
    }
    store.for_each_summary(limit, |s| {
        if json {
            let sep = if n == 0 { "\n  " } else { ",\n  " };
            write!(
                out,
                "{sep}{}",
                serde_json::to_string(&render::list_json(&s))?
            )?;
        } else {
            if n == 0 {
                writeln!(out, "{}", render::list_header())?;
            }
            writeln!(out, "{}", render::list_line(&s, &cfg.timezone, now))?;
        }
        n += 1;
        Ok(())
    })?;
    if json {
        writeln!(out, "{}]", if n == 0 { "" } else { "\n" })?;
    } else if n == 0 {
        writeln!(out, "{EMPTY_STORE}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The activity an id argument names (`latest` or a number).
fn resolve_id(store: &Store, id: &str) -> Result<i64> {
    if id == "latest" {
        return match store.newest_ids(Some(1))?.first() {
            Some(&id) => Ok(id),
            None => bail!(UsageError(EMPTY_STORE.into())),
        };
    }
    id.parse::<i64>()
        .map_err(|_| UsageError(format!("`{id}` is not an activity id or `latest`")).into())
}

fn show(cfg: &Config, id: &str, format: Format, chart: Chart) -> Result<ExitCode> {
    let store = open(cfg)?;
    let id = resolve_id(&store, id)?;
    let Some(s) = store.load(id)? else {
        bail!(UsageError(format!("no activity {id}: see `recoverd list`")));
    };
    let tz = &cfg.timezone;
    let mornings = pipeline::mornings::window_of(&store, id)?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Text => {
            let section = morning_view::mornings_text(&mornings, tz);
            write!(out, "{}", render::show_text(&s, &section, tz))?;
        }
        Format::Markdown => {
            let section = morning_view::mornings_markdown(&mornings, tz);
            write!(out, "{}", render::show_markdown(&s, &section, tz))?;
        }
        Format::Json => {
            let mut v = render::show_json(&s);
            morning_view::add_to_show_json(&mut v, &mornings);
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Ics => write!(out, "{}", render::show_ics(&s))?,
        Format::Html => {
            let mornings = crate::page::Mornings::of(&store, id)?;
            write!(
                out,
                "{}",
                crate::page::show_html(&s, &mornings, tz, Utc::now())
            )?;
        }
        Format::Svg => match crate::page::chart_svg(
            &s,
            &crate::page::Mornings::of(&store, id)?,
            chart,
            tz,
            Utc::now(),
        ) {
            Ok(svg) => writeln!(out, "{svg}")?,
            Err(why) => bail!(UsageError(why)),
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// `mark ID race|training`: the runner's word, then that activity judged again.
fn mark(cfg: &Config, id: i64, what: MarkAs) -> Result<ExitCode> {
    let mut store = open(cfg)?;
    if !store.set_race_mark(id, Some(what == MarkAs::Race))? {
        bail!(UsageError(format!("no activity {id}: see `recoverd list`")));
    }
    pipeline::replan_ids(&mut store, cfg, &[id])?;
    if let Some(s) = store.load(id)?
        && let Some(a) = &s.assessment
    {
        println!(
            "Activity {id} is now {}: {}. Ready for hard training and racing: {}.",
            if what == MarkAs::Race {
                "a race"
            } else {
                "training"
            },
            render::title(&s.activity, a.race),
            render::local_short(a.recovery.ready, &cfg.timezone)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `forget ID`: the activity and its plan go; its file is remembered as forgotten.
fn forget(cfg: &Config, id: i64) -> Result<ExitCode> {
    let mut store = open(cfg)?;
    let Some(s) = store.load(id)? else {
        bail!(UsageError(format!("no activity {id}: see `recoverd list`")));
    };
    store.forget(id, Utc::now())?;
    // Its page and picture (written for the notification) go with it.
    let pages = crate::page::PageFiles::of(&crate::page::folder(cfg), id);
    if let Err(e) = pages.remove() {
        tracing::warn!("cannot delete the page of activity {id} ({e}); delete it by hand");
    }
    // Later activities were judged with this one's load and peak in their history.
    let later = store.activity_ids(Some(s.activity.start))?;
    pipeline::replan_ids(&mut store, cfg, &later)?;
    // The days its window judged go back to the windows before it.
    pipeline::mornings::refresh_activities(&mut store, &[s.activity.end], &cfg.timezone)?;
    println!(
        "Forgot activity {id} ({}); its file {} will not be imported again unless it changes.",
        render::size(&s.activity),
        s.source_path
    );
    Ok(ExitCode::SUCCESS)
}

fn status(cfg: &Config, json: bool) -> Result<ExitCode> {
    let store = open(cfg)?;
    let now = Utc::now();
    let tz = &cfg.timezone;
    let mut out = std::io::stdout().lock();
    if !json {
        if store.newest_ids(Some(1))?.is_empty() {
            writeln!(out, "{EMPTY_STORE}")?;
        } else {
            write!(out, "{}", status_lines(&store, tz, now)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let hard = match store.latest_hard()? {
        Some(id) => store.load(id)?,
        None => None,
    };
    let hard = hard.and_then(|s| s.assessment.clone().map(|a| (s, a)));
    let today = localtime::day(now, tz);
    let pmc = effort::pmc_on(&store.daily_loads(None)?, today);
    let mut v = status_json(hard.as_ref().map(|(s, a)| (s, a)), pmc, now);
    let morning = today_morning(&store, hard.as_ref().map(|(s, a)| (s, a)), tz, now)?
        .map(|(d, judged)| morning_view::status_json(&d, judged.as_ref()));
    if let Some(obj) = v.as_object_mut() {
        obj.insert("morning".into(), morning.into());
    }
    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    Ok(ExitCode::SUCCESS)
}

/// Today's signals and morning check, when there is anything to say: a signal stored, a
/// verdict, or today inside the latest hard effort's open window (then it asks for `feel`).
type TodayMorning = (
    crate::model::DaySignals,
    Option<(i64, crate::model::Morning)>,
);

fn today_morning(
    store: &Store,
    hard: Option<(&Stored, &crate::plan::Assessment)>,
    tz: &TimeZone,
    now: DateTime<Utc>,
) -> Result<Option<TodayMorning>> {
    let today = localtime::day(now, tz);
    let (signals, judged) = pipeline::mornings::day_of(store, today)?;
    let open = hard.is_some_and(|(s, a)| {
        crate::morning::in_window(s.activity.end, a.recovery.ready, today, tz)
    });
    Ok((open || has_signal(&signals) || judged.is_some()).then_some((signals, judged)))
}

/// Whether a day holds any signal.
fn has_signal(d: &crate::model::DaySignals) -> bool {
    d.rhr.is_some() || d.hrv_rmssd_ms.is_some() || d.feel.is_some()
}

/// The earliest day `feel --date` takes (no watch recorded nights before it).
const FEEL_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The feel answers, for messages.
const FEEL_SCALE: &str = "1 very sore or exhausted, 2 sore or tired, 3 normal, 4 fresh, 5 great";

/// `feel N [--date]`: the runner's answer for a day, then that morning judged again.
fn feel(cfg: &Config, n: &str, date: Option<&str>) -> Result<ExitCode> {
    let value = match n.trim().parse::<i64>() {
        Ok(v @ 1..=5) => u8::try_from(v).unwrap_or(3),
        _ => bail!(UsageError(format!(
            "`{}` is not a feel: give a number from 1 to 5 ({FEEL_SCALE})",
            printable(n)
        ))),
    };
    let tz = &cfg.timezone;
    let now = Utc::now();
    let today = localtime::day(now, tz);
    let day = match date {
        None => today,
        Some(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
            UsageError(format!(
                "--date `{}` is not a day: write it as YYYY-MM-DD, e.g. {today}",
                printable(text)
            ))
        })?,
    };
    if day < FEEL_FROM {
        bail!(UsageError(format!(
            "{day} is too far back: give a day from {FEEL_FROM} on"
        )));
    }
    if day > today {
        bail!(UsageError(format!(
            "{day} is in the future (today is {today}): say how you feel on the day itself"
        )));
    }
    let mut store = open(cfg)?;
    pipeline::mornings::record_feel(&mut store, day, value, now, tz)?;
    let mut line = format!(
        "Feel {value} ({}) stored for {}.",
        morning_view::feel_words(value),
        day.format("%a %-d %b %Y")
    );
    if let Some((id, m)) = store.morning_on(day)? {
        let _ = std::fmt::Write::write_fmt(
            &mut line,
            format_args!(" Morning check: {}", morning_view::verdict_words(m.verdict)),
        );
        if let Some(a) = store.load(id)?.and_then(|s| s.assessment) {
            let (label, when) = render::ready_lines(&a, tz).pop().unwrap_or_default();
            let _ = std::fmt::Write::write_fmt(
                &mut line,
                format_args!("; {}: {when}", label.to_lowercase()),
            );
        }
        if !line.ends_with('.') {
            line.push('.');
        }
    }
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

/// `days [--json] [--limit N]`: newest first, each with the verdict of the window that judged it.
fn days(cfg: &Config, json: bool, limit: Option<u32>) -> Result<ExitCode> {
    let store = open(cfg)?;
    let limit = limit.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let rows = store.latest_days(limit)?;
    let mut out = std::io::stdout().lock();
    if json {
        let mut arr = Vec::with_capacity(rows.len());
        for d in &rows {
            arr.push(morning_view::day_json(d, store.morning_on(d.day)?.as_ref()));
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&arr)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        writeln!(
            out,
            "No days stored yet: your watch's monitoring and HRV files are read from the watched \
             folders (or `recoverd import`), and `recoverd feel N` records how you feel."
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{}", morning_view::days_header())?;
    for d in &rows {
        let judged = store.morning_on(d.day)?;
        writeln!(out, "{}", morning_view::day_line(d, judged.as_ref()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `status`'s lines for people (also the head of `status --format html`).
///
/// # Errors
/// On SQLite failure.
pub fn status_lines(store: &Store, tz: &TimeZone, now: DateTime<Utc>) -> Result<String> {
    let hard = match store.latest_hard()? {
        Some(id) => store.load(id)?,
        None => None,
    };
    let hard = hard.and_then(|s| s.assessment.clone().map(|a| (s, a)));
    let today = localtime::day(now, tz);
    let pmc = effort::pmc_on(&store.daily_loads(None)?, today);
    let mut text = status_text(
        hard.as_ref().map(|(s, a)| (s, a)),
        pmc,
        newest_peak_warning(store),
        tz,
        now,
    );
    if let Some((signals, judged)) =
        today_morning(store, hard.as_ref().map(|(s, a)| (s, a)), tz, now)?
    {
        text.push_str(&morning_view::status_line(&signals, judged.as_ref()));
        text.push('\n');
    }
    Ok(text)
}

fn status_json(
    hard: Option<(&Stored, &crate::plan::Assessment)>,
    pmc: Option<effort::Pmc>,
    now: DateTime<Utc>,
) -> serde_json::Value {
    let t = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (atl, ctl) = pmc.map_or((0.0, 0.0), |p| (p.atl, p.ctl));
    serde_json::json!({
        "latest_hard": hard.map(|(s, a)| serde_json::json!({
            "id": s.id,
            "start": t(s.activity.start),
            "sport": s.activity.sport,
            "is_race": a.race.is_some(),
            "class": a.effort.class.as_str(),
            "ready_at": t(a.recovery.ready_at),
            "ready": t(a.recovery.ready),
            "easy_from": a.recovery.easy_from.map(t),
            "hard_training_from": t(a.recovery.ready),
            "ready_moved_h": crate::render::ready_moved_h(a),
        })),
        "ready": hard.is_none_or(|(_, a)| a.recovery.ready <= now),
        "fitness": round1(ctl),
        "fatigue": round1(atl),
        "form": round1(ctl - atl),
        "history_days": pmc.map(|p| p.history_days),
    })
}

/// Days of history before fitness (CTL, a 42-day average) means much.
const SETTLED_DAYS: i64 = 42;

fn status_text(
    hard: Option<(&Stored, &crate::plan::Assessment)>,
    pmc: Option<effort::Pmc>,
    peak_warning: Option<String>,
    tz: &TimeZone,
    now: DateTime<Utc>,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    match hard {
        Some((s, a)) => {
            let start_tz = localtime::start_zone(&s.activity, tz);
            let _ = writeln!(
                out,
                "Latest hard effort: {}, {} ({} effort), {}",
                render::title(&s.activity, a.race),
                render::size(&s.activity),
                a.effort.class.words(),
                render::local_dated(s.activity.start, &start_tz, now)
            );
            let ready = a.recovery.ready;
            let easy = a.recovery.easy_from.unwrap_or(s.activity.end);
            if ready <= now {
                let _ = writeln!(
                    out,
                    "Ready for hard training and racing: yes, since {}",
                    render::local_dated(ready, tz, now)
                );
            } else {
                let _ = writeln!(
                    out,
                    "Ready for hard training and racing: {}",
                    render::local_dated(ready, tz, now)
                );
                if easy <= now {
                    let _ = writeln!(out, "Easy running: fine now, if nothing hurts");
                } else {
                    let _ = writeln!(
                        out,
                        "Easy running: from {}",
                        render::local_dated(easy, tz, now)
                    );
                }
            }
        }
        None => {
            let _ = writeln!(out, "No hard effort stored: ready for hard training.");
        }
    }
    if let Some(w) = peak_warning {
        let _ = writeln!(out, "{w}");
    }
    let (atl, ctl, days) = pmc.map_or((0.0, 0.0, 0), |p| (p.atl, p.ctl, p.history_days));
    let _ = writeln!(
        out,
        "Fitness (CTL) {ctl:.0} · fatigue (ATL) {atl:.0} · form (TSB) {:.0}",
        ctl - atl
    );
    if days < SETTLED_DAYS {
        let _ = writeln!(
            out,
            "(These rest on {days} day{} of history; fitness and fatigue settle after {SETTLED_DAYS} days.)",
            if days == 1 { "" } else { "s" }
        );
    }
    out
}

/// What the newest activity's judgement says about a higher, unused peak (MODEL.md §1).
fn newest_peak_warning(store: &Store) -> Option<String> {
    let mut warning = None;
    let _ = store.for_each_summary(Some(1), |s| {
        warning = s
            .assessment
            .as_ref()
            .and_then(|a| render::peak_warnings(&a.athlete));
        Ok(())
    });
    warning
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// What `files` says of an imported wellness file: the days it added data to.
fn wellness_days(r: &crate::store::FileRow) -> String {
    match r.days.as_deref() {
        Some([]) | None => "wellness: no new data".into(),
        Some(days) => {
            let days: Vec<String> = days.iter().map(ToString::to_string).collect();
            format!("wellness: {}", days.join(", "))
        }
    }
}

fn files(cfg: &Config, status: Option<StatusFilter>, json: bool) -> Result<ExitCode> {
    let store = open(cfg)?;
    let status = status.map(|s| match s {
        StatusFilter::Failed => FileStatus::Failed,
        StatusFilter::Skipped => FileStatus::Skipped,
        StatusFilter::Pending => FileStatus::Pending,
    });
    let rows = store.files(status)?;
    let mut out = std::io::stdout().lock();
    if json {
        let arr: Vec<_> = rows
            .iter()
            .map(|r| {
                let mut v = serde_json::json!({
                    "path": r.display, "status": r.status.as_str(), "reason": r.reason,
                    "sha256": r.sha256, "size": r.size, "activity_id": r.activity_id,
                    "duplicate_of": r.duplicate_of, "seen_at": r.seen_at,
                });
                if let Some(days) = &r.days {
                    v["days"] = serde_json::json!(days);
                }
                v
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&arr)?)?;
    } else if rows.is_empty() {
        writeln!(
            out,
            "No files {}yet.",
            status.map_or_else(|| "seen ".to_string(), |s| format!("{} ", s.as_str()))
        )?;
    } else {
        for r in &rows {
            let extra = match (r.status, r.activity_id, r.duplicate_of) {
                (FileStatus::Imported, Some(id), _) => format!("activity {id}"),
                (FileStatus::Imported, None, _) if r.days.is_some() => wellness_days(r),
                (FileStatus::Duplicate, _, Some(id)) => format!("same as activity {id}"),
                _ => r.reason.clone().unwrap_or_default(),
            };
            writeln!(
                out,
                "{:<9} {}  {}",
                r.status.as_str(),
                printable(&r.display),
                printable(&extra)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per check; exit 1 when one fails.
fn doctor(cfg: &Config) -> ExitCode {
    let mut ok = true;
    let mut line = |good: bool, text: String| {
        ok &= good;
        println!("{} {text}", if good { "ok  " } else { "FAIL" });
    };
    line(
        true,
        format!(
            "config: {}{}",
            cfg.config_path.display(),
            if cfg.config_path.exists() {
                ""
            } else {
                " (not present: defaults)"
            }
        ),
    );
    for w in &cfg.watch {
        if w.is_dir() {
            line(true, format!("watch folder {}", w.display()));
        } else {
            line(
                true,
                format!(
                    "watch folder {} does not exist yet: it is picked up when it appears",
                    w.display()
                ),
            );
        }
    }
    match Store::open(&cfg.database) {
        Ok(store) => {
            let check = store.integrity_check().unwrap_or_else(|e| e.to_string());
            line(
                check == "ok",
                format!("database {}: integrity {check}", cfg.database.display()),
            );
            if let Some(w) = newest_peak_warning(&store) {
                line(true, format!("max HR: {w}"));
            }
        }
        Err(e) => line(false, format!("database: {e}")),
    }
    if cfg.notifications {
        match notifier::server_information() {
            Ok(info) => line(true, format!("notification server: {info}")),
            Err(e) => line(false, format!("notification server: none ({e})")),
        }
    } else {
        line(true, "notifications: off in the config".into());
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
