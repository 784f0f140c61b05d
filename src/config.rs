//! Configuration: defaults → `config.toml` → environment (`RECOVERD_CONFIG`, `RECOVERD_DB`) →
//! command-line flags, resolved once into [`Config`]. No other module reads the config file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::effort::{AthleteSettings, Sex};

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
}

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

/// Expands a leading `~/`.
fn expand(p: &str) -> Result<PathBuf, ConfigError> {
    if p == "~" {
        return home();
    }
    match p.strip_prefix("~/") {
        Some(rest) => Ok(home()?.join(rest)),
        None => Ok(PathBuf::from(p)),
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
    let file = match std::fs::read_to_string(&path) {
        Ok(text) => parse(&path, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let invalid = |message: String| ConfigError::Invalid {
        path: path.clone(),
        message,
    };
    let database = match (db, &file.database) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(p)) => expand(p)?,
        (None, None) => xdg("XDG_DATA_HOME", ".local/share")?
            .join("recoverd")
            .join("recoverd.db"),
    };
    let watch = match &file.watch {
        Some(list) => list
            .iter()
            .map(|p| expand(p))
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![home()?.join("Activities")],
    };
    let poll = file.poll_interval_s.unwrap_or(30);
    if !(1..=3600).contains(&poll) {
        return Err(invalid(format!(
            "poll_interval_s = {poll} is out of range: use 1 to 3600"
        )));
    }
    let max_mb = file.max_file_mb.unwrap_or(256);
    if !(1..=4096).contains(&max_mb) {
        return Err(invalid(format!(
            "max_file_mb = {max_mb} is out of range: use 1 to 4096"
        )));
    }
    let a = file.athlete;
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
    Ok(Config {
        config_path: path.clone(),
        watch,
        database,
        ignore: file
            .ignore
            .unwrap_or_else(|| DEFAULT_IGNORE.iter().map(|s| (*s).to_string()).collect()),
        poll_interval: Duration::from_secs(poll),
        max_file_bytes: max_mb * 1024 * 1024,
        athlete: AthleteSettings {
            max_hr: a.max_hr,
            resting_hr: a.resting_hr,
            threshold_hr: a.threshold_hr,
            sex: a.sex.unwrap_or_default(),
            birth_year: a.birth_year,
            weight_kg: a.weight_kg,
        },
        notifications: file.notifications.enabled.unwrap_or(true),
        timezone: crate::localtime::resolve(file.timezone.as_deref()).map_err(invalid)?,
    })
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
        std::fs::write(&path, "timezone = \"Mars/Olympus\"\n").unwrap_or_default();
        let err = load(Some(&path), Some(&db))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("timezone") && err.contains("Mars/Olympus"),
            "{err}"
        );
        std::fs::write(&path, "timezone = \"America/New_York\"\n").unwrap_or_default();
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
}
