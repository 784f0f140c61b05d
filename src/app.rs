//! Command dispatch: maps each subcommand to calls into `pipeline`, `store`, `render` and
//! `daemon`. No domain math and no SQL here.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use chrono::{FixedOffset, Local, Offset, Utc};

use crate::announce;
use crate::cli::{Cli, Command, Format, StatusFilter};
use crate::config::{self, Config};
use crate::effort::{self, EffortClass};
use crate::ingest;
use crate::notifier::{self, Desktop};
use crate::pipeline::{self, Options, Outcome};
use crate::render;
use crate::store::{FileStatus, Store, Stored};

/// A failure the user caused (usage or config): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs one command; the returned code is the process's exit code.
///
/// # Errors
/// Anything that stops the command; `main` prints it once.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let cfg = config::load(cli.config.as_deref(), cli.db.as_deref())
        .map_err(|e| UsageError(e.to_string()))?;
    match cli.command {
        Command::Run => crate::daemon::run(cfg).map(|()| ExitCode::SUCCESS),
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
            Options::all_cores(retry_failed),
        ),
        Command::List { json, limit } => list(&cfg, json, limit),
        Command::Show { id, format } => show(&cfg, &id, format),
        Command::Status { json } => status(&cfg, json),
        Command::Files { status, json } => files(&cfg, status, json),
        Command::Replan => {
            let mut store = open(&cfg)?;
            let n = pipeline::replan(&mut store, &cfg, true)?;
            eprintln!("recomputed {n} activities");
            Ok(ExitCode::SUCCESS)
        }
        Command::InstallService { enable } => crate::daemon::install_service(&cfg, enable),
        Command::Doctor => Ok(doctor(&cfg)),
    }
}

/// Opens the store and brings judgements up to date with the current `[athlete]` settings.
fn open(cfg: &Config) -> Result<Store> {
    let mut store = Store::open(&cfg.database)
        .with_context(|| format!("check that {} is writable", cfg.database.display()))?;
    let n = pipeline::replan(&mut store, cfg, false)?;
    if n > 0 {
        tracing::info!(
            activities = n,
            "settings changed: recomputed effort and plans"
        );
    }
    Ok(store)
}

/// The machine's local offset now, for activities whose file gives none.
fn local_offset() -> FixedOffset {
    Local::now().offset().fix()
}

/// Every activity file under the given paths (recursive), in a stable order.
fn collect(paths: &[PathBuf], cfg: &Config) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, cfg, &mut out);
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn walk(dir: &Path, cfg: &Config, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        tracing::warn!(path = %dir.display(), "cannot read folder");
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&path, cfg, out);
        } else if (ft.is_file() || ft.is_symlink() && path.is_file())
            && ingest::has_activity_extension(&path)
            && !cfg.ignored(&path)
        {
            // A link to a file is read (the folder was chosen by hand); links to folders are not
            // walked, they may loop.
            out.push(path);
        }
    }
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
        announce(&store, &new_ids)?;
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

/// One notification per recent new activity; one summary for the past ones.
fn announce(store: &Store, new_ids: &[i64]) -> Result<()> {
    let mut arrived = Vec::with_capacity(new_ids.len());
    for &id in new_ids {
        if let Some(end) = store.activity_end(id)? {
            arrived.push((id, end));
        }
    }
    let items = notifier::with_activities(store, &announce::notices(&arrived, Utc::now()))?;
    if items.is_empty() {
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(Desktop::new(true).announce_notices(&items, local_offset()));
    Ok(())
}

fn log_outcome(o: &Outcome) {
    match o.status {
        FileStatus::Imported => tracing::debug!(path = %o.path, id = o.activity_id, "imported"),
        FileStatus::Duplicate => tracing::debug!(path = %o.path, of = o.duplicate_of, "duplicate"),
        FileStatus::Skipped => {
            tracing::debug!(path = %o.path, reason = o.reason.as_deref().unwrap_or(""), "skipped");
        }
        FileStatus::Failed | FileStatus::Pending => tracing::warn!(
            path = %o.path,
            "{}: {}",
            o.status.as_str(),
            o.reason.as_deref().unwrap_or("")
        ),
    }
}

fn list(cfg: &Config, json: bool, limit: Option<u32>) -> Result<ExitCode> {
    let store = open(cfg)?;
    let mut rows = Vec::new();
    for id in store.newest_ids(limit)? {
        if let Some(s) = store.load(id)? {
            rows.push(s);
        }
    }
    let mut out = std::io::stdout().lock();
    if json {
        let arr: Vec<_> = rows.iter().map(render::list_json).collect();
        serde_json::to_writer_pretty(&mut out, &arr)?;
        writeln!(out)?;
    } else {
        for s in &rows {
            writeln!(
                out,
                "{}",
                render::list_line(s, render::offset_for(&s.activity, local_offset()))
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(cfg: &Config, id: &str, format: Format) -> Result<ExitCode> {
    let store = open(cfg)?;
    let id = if id == "latest" {
        match store.newest_ids(Some(1))?.first() {
            Some(&id) => id,
            None => bail!(UsageError(
                "no activities stored yet: import some with `recoverd import PATH`".into()
            )),
        }
    } else {
        id.parse::<i64>()
            .map_err(|_| UsageError(format!("`{id}` is not an activity id or `latest`")))?
    };
    let Some(s) = store.load(id)? else {
        bail!(UsageError(format!("no activity {id}: see `recoverd list`")));
    };
    let off = render::offset_for(&s.activity, local_offset());
    let mut out = std::io::stdout().lock();
    match format {
        Format::Text => write!(out, "{}", render::show_text(&s, off))?,
        Format::Markdown => write!(out, "{}", render::show_markdown(&s, off))?,
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&render::show_json(&s))?
        )?,
        Format::Ics => write!(out, "{}", render::show_ics(&s))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn status(cfg: &Config, json: bool) -> Result<ExitCode> {
    let store = open(cfg)?;
    let now = Utc::now();
    let mut latest_hard: Option<Stored> = None;
    for id in store.newest_ids(None)? {
        if let Some(s) = store.load(id)?
            && s.assessment
                .as_ref()
                .is_some_and(|a| a.effort.class >= EffortClass::Hard)
        {
            latest_hard = Some(s);
            break;
        }
    }
    let today = now.with_timezone(&local_offset()).date_naive();
    let pmc = effort::pmc_on(&store.daily_loads(None)?, today);
    let (atl, ctl) = pmc.map_or((0.0, 0.0), |p| (p.atl, p.ctl));
    let hard = latest_hard
        .as_ref()
        .and_then(|s| s.assessment.as_ref().map(|a| (s, a)));
    let mut out = std::io::stdout().lock();
    if json {
        let v = serde_json::json!({
            "latest_hard": hard.map(|(s, a)| serde_json::json!({
                "id": s.id,
                "start": s.activity.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "sport": s.activity.sport,
                "class": a.effort.class.as_str(),
                "ready_at": a.recovery.ready_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "hard_training_from": crate::plan::hard_training_from(&a.recovery).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })),
            "ready": hard.is_none_or(|(_, a)| crate::plan::hard_training_from(&a.recovery) <= now),
            "fitness": round1(ctl),
            "fatigue": round1(atl),
            "form": round1(ctl - atl),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        match hard {
            Some((s, a)) => {
                let off = render::offset_for(&s.activity, local_offset());
                let from = crate::plan::hard_training_from(&a.recovery);
                writeln!(
                    out,
                    "Latest hard effort: {} ({} effort), {}",
                    render::title(&s.activity, a.race),
                    a.effort.class.words(),
                    s.activity.start.with_timezone(&off).format("%a %-d %b")
                )?;
                if from <= now {
                    writeln!(
                        out,
                        "Ready for hard training: yes, since {}",
                        render::local_short(from, off)
                    )?;
                } else {
                    writeln!(
                        out,
                        "Ready for hard training: {}",
                        render::local_short(from, off)
                    )?;
                }
            }
            None => writeln!(out, "No hard effort stored: ready for hard training.")?,
        }
        writeln!(
            out,
            "Fitness (CTL) {ctl:.0} · fatigue (ATL) {atl:.0} · form (TSB) {:.0}",
            ctl - atl
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
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
                serde_json::json!({
                    "path": r.display, "status": r.status.as_str(), "reason": r.reason,
                    "sha256": r.sha256, "size": r.size, "activity_id": r.activity_id,
                    "duplicate_of": r.duplicate_of, "seen_at": r.seen_at,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&arr)?)?;
    } else {
        for r in &rows {
            let extra = match (r.status, r.activity_id, r.duplicate_of) {
                (FileStatus::Imported, Some(id), _) => format!("activity {id}"),
                (FileStatus::Duplicate, _, Some(id)) => format!("same as activity {id}"),
                _ => r.reason.clone().unwrap_or_default(),
            };
            writeln!(out, "{:<9} {}  {}", r.status.as_str(), r.display, extra)?;
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
