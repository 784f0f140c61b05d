//! The command-line surface (clap types only).

use std::io::Write;
use std::path::PathBuf;

use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};

/// Turns a finished run's FIT/GPX/TCX file into a tailored recovery plan.
#[derive(Debug, Parser)]
#[command(name = "recoverd", version, about)]
pub struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/recoverd/config.toml).
    #[arg(long, global = true, env = "RECOVERD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database file (default: $XDG_DATA_HOME/recoverd/recoverd.db).
    #[arg(long, global = true, env = "RECOVERD_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The service: watch the folders, process every complete new file, notify.
    Run,
    /// Process files and folders now (recursive; .fit .gpx .tcx, and .gz/.zip holding them).
    Import {
        /// One JSON object per line per input file.
        #[arg(long)]
        json: bool,
        /// Send no desktop notification.
        #[arg(long)]
        no_notify: bool,
        /// Read again files that failed before.
        #[arg(long)]
        retry_failed: bool,
        /// Files and folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Activities, newest first.
    List {
        /// One JSON array.
        #[arg(long)]
        json: bool,
        /// At most N activities.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// One activity with its effort and plan.
    Show {
        /// Activity id, or `latest`.
        #[arg(default_value = "latest")]
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The chart `--format svg` draws.
        #[arg(long, value_enum, default_value_t = Chart::Hr)]
        chart: Chart,
    },
    /// Now: latest hard effort, ready-at, fitness / fatigue / form.
    Status {
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Output format (`--json` is `--format json`).
        #[arg(long, value_enum, conflicts_with = "json")]
        format: Option<StatusFormat>,
    },
    /// Every file seen, with its status and reason.
    Files {
        /// Only files with this status.
        #[arg(long, value_enum)]
        status: Option<StatusFilter>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Recompute effort and plan for every stored activity.
    Replan,
    /// Say whether an activity was a race; re-plans it.
    Mark {
        /// Activity id (see `recoverd list`).
        id: i64,
        /// `race` or `training`.
        #[arg(value_enum)]
        what: MarkAs,
    },
    /// Delete an activity and its plan; its file is not imported again unless it changes.
    Forget {
        /// Activity id (see `recoverd list`).
        id: i64,
    },
    /// The morning check-in: how you feel today (or on --date).
    Feel {
        /// 1 very sore or exhausted, 2 sore or tired, 3 normal, 4 fresh, 5 great.
        #[arg(allow_hyphen_values = true)]
        n: String,
        /// The local day it is for, YYYY-MM-DD (default: today; never a future day).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
    },
    /// Per local day, newest first: resting HR, nightly HRV, feel, the morning verdict and the
    /// normal it was judged against.
    Days {
        /// One JSON array.
        #[arg(long)]
        json: bool,
        /// At most N days.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Write the systemd user unit for this binary.
    InstallService {
        /// Also enable and start it.
        #[arg(long)]
        enable: bool,
    },
    /// Check config, folders, database and the notification service.
    Doctor,
    /// Print a shell completion script (see the README for where to put it).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `recoverd man > recoverd.1`.
    Man,
    /// The service's picture maker: writes one activity's page and picture into the data
    /// folder and exits, so that the memory a render takes goes back to the system.
    #[command(hide = true)]
    RenderPage {
        /// Activity id.
        id: i64,
    },
}

/// Writes the completion script for `shell` to `out`.
///
/// # Errors
/// Writing to `out` failed (a closed pipe: an error, not a panic as `clap_complete::generate`).
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> std::io::Result<()> {
    use clap_complete::Generator as _;
    let mut cmd = Cli::command();
    cmd.set_bin_name("recoverd");
    cmd.build();
    shell.try_generate(&cmd, out).map_err(std::io::Error::other)
}

/// Writes the man page (recoverd(1), its commands listed) to `out`.
///
/// # Errors
/// Writing to `out` failed.
pub fn man(out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

/// `show` formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Day-by-day timeline.
    Text,
    /// Markdown.
    Markdown,
    /// JSON (INTERFACE.md).
    Json,
    /// iCalendar.
    Ics,
    /// A self-contained HTML page: the plan, its reasons and the charts.
    Html,
    /// One chart as SVG (`--chart`).
    Svg,
}

/// `show --format svg --chart` values.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Chart {
    /// Heart rate over time with the zones and the best 20 minutes.
    Hr,
    /// Time in each heart-rate zone.
    Zones,
    /// The plan as a timeline, with now and ready.
    Plan,
    /// The mornings of the recovery window: resting HR and HRV against your normal, the
    /// verdicts and the moved ready.
    Morning,
}

/// `status --format` values.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum StatusFormat {
    /// Lines of text.
    Text,
    /// JSON (as `--json`).
    Json,
    /// A self-contained HTML page with the fitness chart and the latest plan.
    Html,
}

/// `mark` values.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum MarkAs {
    /// It was a race: race rules and race words.
    Race,
    /// It was training, whatever its name or distance.
    Training,
}

/// `files --status` values.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum StatusFilter {
    /// Could not be read.
    Failed,
    /// Not activities.
    Skipped,
    /// Waiting.
    Pending,
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum as _;

    use super::*;

    /// The commands a user sees (not the service's hidden `render-page`).
    fn subcommands() -> Vec<String> {
        Cli::command()
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name().to_string())
            .collect()
    }

    #[test]
    fn completions_name_every_subcommand_in_every_shell() {
        let names = subcommands();
        assert!(names.contains(&"install-service".to_string()), "{names:?}");
        for shell in clap_complete::Shell::value_variants() {
            let mut out = Vec::new();
            completions(*shell, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            for name in &names {
                assert!(text.contains(name.as_str()), "{shell}: no {name}");
            }
        }
    }

    #[test]
    fn man_page_names_every_subcommand() {
        let mut out = Vec::new();
        man(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH recoverd 1"),
            "{text}"
        );
        assert!(text.contains(".SH SUBCOMMANDS"));
        // roff escapes '-' as "\-".
        for name in subcommands() {
            assert!(text.contains(&name.replace('-', "\\-")), "no {name}");
        }
    }
}
