//! Configuration: defaults → `config.toml` → environment (`RECOVERD_CONFIG`, `RECOVERD_DB`) →
//! command-line flags, resolved once into [`Config`]. No other module reads the config file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::model::{AthleteSettings, Sex};

/// Default ignore patterns: partial downloads and sync tools' temporary names.
pub const DEFAULT_IGNORE: &[&str] = &["*.tmp", "*.part", ".syncthing.*", "~syncthing~*"];

/// A configuration problem: names the key or file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid or has an unknown key or bad value.
    #[error("config file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A config file named with `--config` or `RECOVERD_CONFIG` that does not exist.
    #[error(
        "the config file {0} does not exist: create it, or leave out --config and RECOVERD_CONFIG to use the defaults"
    )]
    Missing(PathBuf),
    /// No home folder to put defaults in.
    #[error("HOME is not set: set HOME, or give --config and --db")]
    NoHome,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    watch: Option<Vec<String>>,
    database: Option<String>,
    ignore: Option<Vec<String>>,
    poll_interval_s: Option<u64>,
    max_file_mb: Option<u64>,
    timezone: Option<String>,
    #[serde(default)]
    athlete: AthleteFile,
    #[serde(default)]
    notifications: NotificationsFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AthleteFile {
    max_hr: Option<u16>,
    resting_hr: Option<u16>,
    threshold_hr: Option<u16>,
    sex: Option<Sex>,
    birth_year: Option<i32>,
    weight_kg: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationsFile {
    enabled: Option<bool>,
    morning: Option<String>,
}

/// The morning notification's default local time.
pub const DEFAULT_MORNING: &str = "07:30";

/// The resolved configuration the program runs on.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file this came from (it may not exist).
    pub config_path: PathBuf,
    /// Folders watched recursively by `run`.
    pub watch: Vec<PathBuf>,
    /// The SQLite database.
    pub database: PathBuf,
    /// File-name patterns never read (`*` and `?` wildcards).
    pub ignore: Vec<String>,
    /// Poll interval for folders without inotify.
    pub poll_interval: Duration,
    /// Files larger than this are refused without being read.
    pub max_file_bytes: u64,
    /// The athlete's settings.
    pub athlete: AthleteSettings,
    /// Desktop notifications on or off.
    pub notifications: bool,
    /// Local time of the morning notification (`[notifications] morning = "HH:MM"`).
    pub morning: jiff::civil::Time,
    /// The runner's time zone: `timezone =`, else the system's (`$TZ` honoured).
    pub timezone: jiff::tz::TimeZone,
}

fn home() -> Result<PathBuf, ConfigError> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or(ConfigError::NoHome)
}

fn xdg(var: &str, fallback: &str) -> Result<PathBuf, ConfigError> {
    match std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
    {
        Some(p) if p.is_absolute() => Ok(p),
        _ => Ok(home()?.join(fallback)),
    }
}

/// Expands a leading `~` and every `$NAME` / `${NAME}` in a path from the config file, from the
/// environment, and insists on an absolute result. `key` names the setting in errors.
fn expand(key: &str, raw: &str) -> Result<PathBuf, String> {
    expand_with(key, raw, &|name| std::env::var(name).ok())
}

/// [`expand`] with the variables looked up in `var`.
fn expand_with(
    key: &str,
    raw: &str,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf, String> {
    let lookup = |name: &str| var(name).filter(|v| !v.is_empty());
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    if rest == "~" || rest.starts_with("~/") {
        let home = lookup("HOME").ok_or_else(|| {
            format!("{key} = \"{raw}\": HOME is not set, so `~` cannot be expanded")
        })?;
        out.push_str(&home);
        rest = &rest[1..];
    }
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("{key} = \"{raw}\": a `${{` has no closing `}}`"))?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "{key} = \"{raw}\": `$` must start a variable such as $HOME or ${{XDG_DATA_HOME}}"
            ));
        }
        let value = lookup(name).ok_or_else(|| {
            format!("{key} = \"{raw}\": the environment variable {name} is not set")
        })?;
        out.push_str(&value);
        rest = tail;
    }
    out.push_str(rest);
    let path = PathBuf::from(out);
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(format!(
            "{key} = \"{raw}\" is a relative path: write it from / or start it with ~/ or $HOME"
        ))
    }
}

/// The default config file path.
///
/// # Errors
/// [`ConfigError::NoHome`].
pub fn default_config_path() -> Result<PathBuf, ConfigError> {
    Ok(xdg("XDG_CONFIG_HOME", ".config")?
        .join("recoverd")
        .join("config.toml"))
}

/// Loads the configuration. `config` and `db` come from the flags or their environment variables.
///
/// # Errors
/// [`ConfigError`] naming the file and key.
pub fn load(config: Option<&Path>, db: Option<&Path>) -> Result<Config, ConfigError> {
    let path = match config {
        Some(p) => p.to_path_buf(),
        None => default_config_path()?,
    };
    let file = read_file(&path)?;
    let invalid = |message: String| ConfigError::Invalid {
        path: path.clone(),
        message,
    };
    let database = match (db, &file.database) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(p)) => expand("database", p).map_err(&invalid)?,
        (None, None) => xdg("XDG_DATA_HOME", ".local/share")?
            .join("recoverd")
            .join("recoverd.db"),
    };
    let watch = match &file.watch {
        Some(list) => list
            .iter()
            .map(|p| expand("watch", p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(&invalid)?,
        None => vec![home()?.join("Activities")],
    };
    let poll = file.poll_interval_s.unwrap_or(30);
    if !(1..=3600).contains(&poll) {
        return Err(invalid(format!(
            "poll_interval_s = {poll} is out of range: use 1 to 3600"
        )));
    }
    // 64 MB: three days of 1 Hz GPX with heart rate, ten of FIT; and read, parsed and hashed
    // well inside the service unit's MemoryMax=512M (see `cargo bench --bench memory`).
    let max_mb = file
        .max_file_mb
        .unwrap_or(crate::ingest::DEFAULT_MAX_FILE_MB);
    if !(1..=4096).contains(&max_mb) {
        return Err(invalid(format!(
            "max_file_mb = {max_mb} is out of range: use 1 to 4096"
        )));
    }
    let athlete = athlete(file.athlete, &invalid)?;
    Ok(Config {
        config_path: path.clone(),
        watch,
        database,
        ignore: file
            .ignore
            .unwrap_or_else(|| DEFAULT_IGNORE.iter().map(|s| (*s).to_string()).collect()),
        poll_interval: Duration::from_secs(poll),
        max_file_bytes: max_mb * 1024 * 1024,
        athlete,
        notifications: file.notifications.enabled.unwrap_or(true),
        morning: morning_time(
            file.notifications
                .morning
                .as_deref()
                .unwrap_or(DEFAULT_MORNING),
        )
        .map_err(&invalid)?,
        timezone: crate::localtime::resolve(file.timezone.as_deref()).map_err(invalid)?,
    })
}

/// The config file's settings; a missing file means all defaults.
fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A config file the user named (`--config`, `RECOVERD_CONFIG`) must exist: a typo must not
/// silently run on the defaults. (The default file may be missing.)
///
/// # Errors
/// [`ConfigError::Missing`] when it does not exist.
pub fn require_file(path: &Path) -> Result<(), ConfigError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ConfigError::Missing(path.to_path_buf()))
        }
        _ => Ok(()),
    }
}

/// The `[athlete]` table, checked for plausible values.
fn athlete(
    a: AthleteFile,
    invalid: &dyn Fn(String) -> ConfigError,
) -> Result<AthleteSettings, ConfigError> {
    let hr_ok = |key: &str, v: Option<u16>, lo: u16, hi: u16| match v {
        Some(x) if !(lo..=hi).contains(&x) => Err(invalid(format!(
            "athlete.{key} = {x} is not plausible: use {lo} to {hi} bpm"
        ))),
        _ => Ok(()),
    };
    hr_ok("max_hr", a.max_hr, 100, 250)?;
    hr_ok("resting_hr", a.resting_hr, 25, 120)?;
    hr_ok("threshold_hr", a.threshold_hr, 80, 240)?;
    if let (Some(rest), Some(max)) = (a.resting_hr, a.max_hr)
        && rest + 20 > max
    {
        return Err(invalid(format!(
            "athlete.resting_hr = {rest} must be well below athlete.max_hr = {max}"
        )));
    }
    if let (Some(lt), Some(max)) = (a.threshold_hr, a.max_hr)
        && lt > max
    {
        return Err(invalid(format!(
            "athlete.threshold_hr = {lt} is above athlete.max_hr = {max}"
        )));
    }
    if let Some(y) = a.birth_year.filter(|y| !(1900..=2100).contains(y)) {
        return Err(invalid(format!(
            "athlete.birth_year = {y} is not a year of birth"
        )));
    }
    if let Some(w) = a.weight_kg.filter(|w| !(30.0..=250.0).contains(w)) {
        return Err(invalid(format!(
            "athlete.weight_kg = {w} is not plausible: use 30 to 250"
        )));
    }
    Ok(AthleteSettings {
        max_hr: a.max_hr,
        resting_hr: a.resting_hr,
        threshold_hr: a.threshold_hr,
        sex: a.sex.unwrap_or_default(),
        birth_year: a.birth_year,
        weight_kg: a.weight_kg,
    })
}

/// `notifications.morning`: a local time as exactly `HH:MM` (00:00 to 23:59).
fn morning_time(raw: &str) -> Result<jiff::civil::Time, String> {
    let bad = || {
        format!(
            "notifications.morning = {raw:?} is not a time of day: use HH:MM from 00:00 to 23:59, \
             e.g. \"{DEFAULT_MORNING}\""
        )
    };
    let b = raw.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return Err(bad());
    }
    let two = |s: &[u8]| -> Option<i8> {
        match s {
            [a @ b'0'..=b'9', c @ b'0'..=b'9'] => i8::try_from((a - b'0') * 10 + (c - b'0')).ok(),
            _ => None,
        }
    };
    let (Some(h), Some(m)) = (two(&b[..2]), two(&b[3..])) else {
        return Err(bad());
    };
    jiff::civil::Time::new(h, m, 0, 0).map_err(|_| bad())
}

fn parse(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    })
}

impl Config {
    /// True when a file name matches an ignore pattern.
    #[must_use]
    pub fn ignored(&self, path: &Path) -> bool {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy()) else {
            return false;
        };
        self.ignore
            .iter()
            .any(|p| glob(p.as_bytes(), name.as_bytes()))
    }

    /// The watched folders that do not exist (yet): `run` and `doctor` name them.
    #[must_use]
    pub fn missing_watch_folders(&self) -> Vec<&Path> {
        self.watch
            .iter()
            .map(PathBuf::as_path)
            .filter(|w| !w.is_dir())
            .collect()
    }

    /// A key that changes when anything that affects the judgement changes.
    #[must_use]
    pub fn settings_key(&self) -> String {
        format!(
            "{} {}",
            serde_json::to_string(&self.athlete).unwrap_or_default(),
            crate::localtime::name(&self.timezone)
        )
    }
}

/// `*` and `?` wildcard match.
#[must_use]
pub fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn morning_time_is_hh_mm_and_an_error_names_the_key() {
        assert_eq!(
            morning_time("07:30").ok(),
            jiff::civil::Time::new(7, 30, 0, 0).ok()
        );
        assert_eq!(
            morning_time("23:59").ok(),
            jiff::civil::Time::new(23, 59, 0, 0).ok()
        );
        for bad in [
            "7:30", "24:00", "07:60", "07-30", "0730", " 07:30", "07:3x", "", "+7:30",
        ] {
            let e = morning_time(bad).err().unwrap_or_default();
            assert!(e.contains("notifications.morning"), "{bad}: {e}");
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[notifications]\nmorning = \"6.45\"\n").unwrap_or_default();
        let e = load(Some(&path), Some(&dir.path().join("x.db")))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("notifications.morning") && e.contains("6.45"),
            "{e}"
        );
        std::fs::write(&path, "").unwrap_or_default();
        let cfg = load(Some(&path), Some(&dir.path().join("x.db")));
        assert_eq!(
            cfg.ok().map(|c| c.morning),
            jiff::civil::Time::new(7, 30, 0, 0).ok()
        );
    }

    #[test]
    fn globs() {
        assert!(glob(b"*.tmp", b"a.fit.tmp"));
        assert!(glob(b".syncthing.*", b".syncthing.x.fit.tmp"));
        assert!(glob(b"~syncthing~*", b"~syncthing~x.fit.tmp"));
        assert!(!glob(b"*.tmp", b"a.fit"));
        assert!(glob(b"a?c", b"abc"));
    }

    #[test]
    fn a_zone_not_in_the_database_names_the_key() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("config.toml");
        let db = dir.path().join("r.db");
        std::fs::write(&path, "timezone = \"Mars/Olympus\"\n").unwrap();
        let err = load(Some(&path), Some(&db))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("timezone") && err.contains("Mars/Olympus"),
            "{err}"
        );
        std::fs::write(&path, "timezone = \"America/New_York\"\n").unwrap();
        let cfg = load(Some(&path), Some(&db)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.timezone.iana_name(), Some("America/New_York"));
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let err = parse(Path::new("/x/config.toml"), "[athlete]\nmax_hrr = 180\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("max_hrr") && err.contains("/x/config.toml"),
            "{err}"
        );
        let err = parse(Path::new("/x/c.toml"), "[athlete]\nsex = \"robot\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("robot") || err.contains("sex"), "{err}");
    }

    fn vars(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/runner".into()),
            "SYNC" => Some("/srv/sync".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn expanded(raw: &str) -> Result<PathBuf, String> {
        expand_with("watch", raw, &vars)
    }

    #[test]
    fn paths_expand_tilde_home_and_braced_variables() {
        assert_eq!(expanded("~"), Ok(PathBuf::from("/home/runner")));
        assert_eq!(
            expanded("~/Activities"),
            Ok(PathBuf::from("/home/runner/Activities"))
        );
        assert_eq!(
            expanded("$HOME/Sync/Garmin"),
            Ok(PathBuf::from("/home/runner/Sync/Garmin"))
        );
        assert_eq!(
            expanded("${SYNC}/watch-${HOME}x"),
            Ok(PathBuf::from("/srv/sync/watch-/home/runnerx"))
        );
        assert_eq!(
            expanded("/media/GARMIN"),
            Ok(PathBuf::from("/media/GARMIN"))
        );
        // `~` only at the start, and `~user` is not a home.
        assert_eq!(expanded("/a/~/b"), Ok(PathBuf::from("/a/~/b")));
    }

    #[test]
    fn unset_or_malformed_variables_are_errors_naming_the_key() {
        for raw in [
            "$NOPE/x",
            "${NOPE}/x",
            "${EMPTY}/x",
            "${SYNC/x",
            "/x/$/y",
            "/x/${}/y",
        ] {
            let err = expanded(raw).err().unwrap_or_default();
            assert!(
                err.starts_with("watch = ") && err.contains(raw),
                "{raw}: {err}"
            );
        }
        let err = expanded("${NOPE}/x").err().unwrap_or_default();
        assert!(err.contains("NOPE is not set"), "{err}");
        let no_home = expand_with("database", "~/db", &|_| None)
            .err()
            .unwrap_or_default();
        assert!(
            no_home.contains("database") && no_home.contains("HOME"),
            "{no_home}"
        );
    }

    #[test]
    fn relative_watch_path_is_an_error_naming_the_key() {
        for raw in ["Activities", "./Activities", "~user/Activities", "$SYNC"] {
            let got = expanded(raw);
            if raw == "$SYNC" {
                assert_eq!(got, Ok(PathBuf::from("/srv/sync")));
                continue;
            }
            let err = got.err().unwrap_or_default();
            assert!(
                err.contains("watch = ") && err.contains("relative path"),
                "{raw}: {err}"
            );
        }
    }

    #[test]
    fn explicit_missing_config_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let missing = dir.path().join("nope.toml");
        let err = require_file(&missing)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("nope.toml") && err.contains("does not exist"),
            "{err}"
        );
        std::fs::write(&missing, "").unwrap();
        assert!(require_file(&missing).is_ok());
    }

    #[test]
    fn relative_watch_in_a_file_names_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "watch = [\"Activities\"]\n").unwrap();
        let err = load(Some(&file), Some(&dir.path().join("db")))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("config.toml") && err.contains("watch = \"Activities\""),
            "{err}"
        );
    }

    #[test]
    fn missing_watch_folders_are_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("config.toml");
        let there = dir.path().join("there");
        std::fs::create_dir(&there).unwrap_or_default();
        let gone = dir.path().join("not-yet");
        std::fs::write(
            &file,
            format!(
                "watch = [\"{}\", \"{}\"]\n",
                there.display(),
                gone.display()
            ),
        )
        .unwrap_or_default();
        let cfg = load(Some(&file), Some(&dir.path().join("db"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.missing_watch_folders(), vec![gone.as_path()]);
    }
}
