//! `install-service`: the systemd user unit for this binary, and the checks `run` makes before it
//! starts under that unit (data folder, watched folders).

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};

use crate::config::{self, Config};

/// `run`'s exit code when its data folder is missing and cannot be made: a config error, as for
/// a bad config file (2). The unit's `RestartPreventExitStatus=`, so systemd does not restart it
/// in a loop when restarting cannot help.
pub const EXIT_NO_DATA_DIR: u8 = 2;

/// The unit file shipped in `systemd/`, with this binary's command line and the database folder
/// filled in.
///
/// # Errors
/// When a path cannot be written in a unit file (not UTF-8, or a line break in it).
pub fn unit_text(binary: &Path, args: &[(&str, &Path)], db_dir: &Path) -> Result<String> {
    let mut exec = vec![exec_word(binary)?];
    for (flag, path) in args {
        exec.push((*flag).to_string());
        exec.push(exec_word(path)?);
    }
    exec.push("run".into());
    let rw = format!("-{}", unit_path(db_dir)?);
    Ok(include_str!("../systemd/recoverd.service")
        .lines()
        .map(|l| {
            if l.starts_with("ExecStart=") {
                format!("ExecStart={}", exec.join(" "))
            } else if l.starts_with("ReadWritePaths=") {
                format!("ReadWritePaths={}", quoted(&rw))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n")
}

/// A path as unit-file text: `%` specifiers escaped; refused when it cannot be written at all.
fn unit_path(p: &Path) -> Result<String> {
    let Some(s) = p.to_str() else {
        bail!(
            "{} is not valid UTF-8: a unit file cannot name it",
            p.display()
        );
    };
    if s.contains(['\n', '\r']) {
        bail!("{s:?} has a line break: a unit file cannot name it");
    }
    if !p.is_absolute() {
        bail!("{s} is not an absolute path: a unit file needs one");
    }
    Ok(s.replace('%', "%%"))
}

/// One word of `ExecStart=`: like [`unit_path`], with `$` escaped too, quoted when needed.
fn exec_word(p: &Path) -> Result<String> {
    Ok(quoted(&unit_path(p)?.replace('$', "$$")))
}

/// Double-quotes a word holding white space, quotes or backslashes (systemd's unquoting rules).
fn quoted(s: &str) -> String {
    if s.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '\\')) {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s.to_string()
    }
}

/// True when the path runs through a cargo build folder (`…/target/debug/recoverd`).
fn in_build_folder(p: &Path) -> bool {
    p.components()
        .any(|c| matches!(c, Component::Normal(n) if n == "target"))
}

/// The binary the unit should run: this one, unless it sits in a build folder and an installed
/// `recoverd` is on `PATH` (then that one, so `cargo clean` cannot break the service).
fn installed_binary() -> Result<PathBuf> {
    let this = std::env::current_exe().context("cannot find this binary's path")?;
    let this = this.canonicalize().unwrap_or(this);
    if !in_build_folder(&this) {
        return Ok(this);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.is_absolute())
        .map(|d| d.join("recoverd"))
        .filter_map(|b| b.canonicalize().ok())
        .find(|b| b.is_file() && !in_build_folder(b));
    if let Some(installed) = on_path {
        eprintln!(
            "note: this binary is in a build folder; the unit runs the installed {}",
            installed.display()
        );
        return Ok(installed);
    }
    eprintln!(
        "warning: the unit's ExecStart points into a build folder ({}): `cargo clean` or a rebuild \
         breaks the service; install it with `cargo install --path .` and run \
         `~/.cargo/bin/recoverd install-service` instead",
        this.display()
    );
    Ok(this)
}

/// Creates a folder and its missing parents with mode 0700 (owner only).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// The folder that holds the database (and its WAL files): the one folder the unit may write.
fn data_dir(cfg: &Config) -> Result<PathBuf> {
    let db = std::path::absolute(&cfg.database)
        .with_context(|| format!("cannot resolve {}", cfg.database.display()))?;
    Ok(db
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf))
}

/// Creates `~/Activities` when it is watched and missing: the service's sandbox cannot (home is
/// read-only there), and INTERFACE promises the default folder exists.
fn create_default_watch_folder(cfg: &Config) -> Result<()> {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return Ok(());
    };
    let default = home.join("Activities");
    if cfg.watch.contains(&default) && !default.exists() {
        std::fs::create_dir_all(&default)
            .with_context(|| format!("cannot create {}", default.display()))?;
        println!("created {}", default.display());
    }
    Ok(())
}

/// True for a data folder that would open far more than the database to writing: `/` or home.
fn too_wide(db_dir: &Path) -> bool {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    db_dir == Path::new("/") || home.is_some_and(|h| h == db_dir)
}

/// `--config` / `--db` for the unit's command line when this run did not use the defaults.
fn explicit_args(cfg: &Config) -> Result<Vec<(&'static str, PathBuf)>> {
    let mut args = Vec::new();
    let default_config = config::default_config_path()?;
    let config_path = std::path::absolute(&cfg.config_path)?;
    let from_file = if config_path == default_config {
        config::load(None, None)
    } else {
        args.push(("--config", config_path.clone()));
        config::load(Some(&config_path), None)
    };
    let database = std::path::absolute(&cfg.database)?;
    if from_file.map(|c| c.database).ok().as_ref() != Some(&database) {
        args.push(("--db", database));
    }
    Ok(args)
}

/// `install-service`: creates the data folder (0700), writes
/// `~/.config/systemd/user/recoverd.service`, and with `enable` enables and (re)starts it.
///
/// # Errors
/// When the folder or unit cannot be written or systemctl fails.
pub fn install_service(cfg: &Config, enable: bool) -> Result<ExitCode> {
    let binary = installed_binary()?;
    let db_dir = data_dir(cfg)?;
    if too_wide(&db_dir) {
        eprintln!(
            "warning: the database's folder {} is the folder the unit lets the service write: \
             put the database in a folder of its own (`database =` in the config)",
            db_dir.display()
        );
    }
    create_private_dir(&db_dir).with_context(|| format!("cannot create {}", db_dir.display()))?;
    create_default_watch_folder(cfg)?;
    let args = explicit_args(cfg)?;
    let args: Vec<(&str, &Path)> = args.iter().map(|(f, p)| (*f, p.as_path())).collect();
    let text = unit_text(&binary, &args, &db_dir)?;
    let dir = config::default_config_path()?
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        .join("systemd/user");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let unit = dir.join("recoverd.service");
    std::fs::write(&unit, text).with_context(|| format!("cannot write {}", unit.display()))?;
    println!("wrote {}", unit.display());
    if !enable {
        println!("to start it now and at every login:");
        println!("  systemctl --user daemon-reload");
        println!("  systemctl --user enable --now recoverd.service");
        return Ok(ExitCode::SUCCESS);
    }
    // `restart` rather than `enable --now`, so a reinstall (new binary, new unit) takes effect.
    let steps: [&[&str]; 3] = [
        &["--user", "daemon-reload"],
        &["--user", "enable", "recoverd.service"],
        &["--user", "restart", "recoverd.service"],
    ];
    for args in steps {
        let status = std::process::Command::new("systemctl")
            .args(args)
            .status()
            .context("cannot run systemctl")?;
        if !status.success() {
            bail!(
                "`systemctl {}` failed: see `journalctl --user -u recoverd`",
                args.join(" ")
            );
        }
    }
    println!("recoverd is enabled and running: `systemctl --user status recoverd`");
    Ok(ExitCode::SUCCESS)
}

/// What `run` checks before it starts: names the watched folders that do not exist yet, and
/// makes sure the data folder exists. Under the unit's sandbox the data folder cannot be created
/// (home is read-only there), so a missing one is said in one sentence and `run` exits with
/// [`EXIT_NO_DATA_DIR`] instead of failing later.
#[must_use]
pub fn before_run(cfg: &Config) -> Option<ExitCode> {
    for w in cfg.missing_watch_folders() {
        tracing::warn!(
            "watch folder {} does not exist yet: it is picked up when it appears",
            w.display()
        );
    }
    let db_dir = data_dir(cfg).ok()?;
    if db_dir.is_dir() {
        return None;
    }
    match create_private_dir(&db_dir) {
        Ok(()) => None,
        Err(e) => {
            eprintln!(
                "recoverd: the data folder {} does not exist and cannot be created here ({e}): \
                 run `recoverd install-service` (or `mkdir -m 700 {}`), then \
                 `systemctl --user restart recoverd`",
                db_dir.display(),
                db_dir.display()
            );
            Some(ExitCode::from(EXIT_NO_DATA_DIR))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(binary: &str, args: &[(&str, &str)], db: &str) -> String {
        let args: Vec<(&str, &Path)> = args.iter().map(|(f, p)| (*f, Path::new(p))).collect();
        unit_text(Path::new(binary), &args, Path::new(db)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn line<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(key)).collect()
    }

    #[test]
    fn unit_runs_this_binary_and_may_write_only_the_data_folder() {
        let text = unit(
            "/home/r/.cargo/bin/recoverd",
            &[],
            "/home/r/.local/share/recoverd",
        );
        assert_eq!(
            line(&text, "ExecStart="),
            ["ExecStart=/home/r/.cargo/bin/recoverd run"]
        );
        // `-`: a missing folder is not a namespace error; `run` says what is wrong instead.
        assert_eq!(
            line(&text, "ReadWritePaths="),
            ["ReadWritePaths=-/home/r/.local/share/recoverd"]
        );
        // A user manager applies the sandbox only inside a user namespace of the service's own;
        // without one, an empty bounding set or a private /dev stops the unit from starting.
        assert_eq!(line(&text, "PrivateUsers="), ["PrivateUsers=yes"]);
        assert_eq!(
            line(&text, "CapabilityBoundingSet="),
            ["CapabilityBoundingSet="]
        );
        assert_eq!(
            line(&text, "RestartPreventExitStatus="),
            [format!("RestartPreventExitStatus={EXIT_NO_DATA_DIR}").as_str()]
        );
        // Options a user service cannot have applied are absent, not decoration.
        for key in ["ProtectProc=", "ProcSubset=", "AmbientCapabilities="] {
            assert!(line(&text, key).is_empty(), "{key} in the unit");
        }
    }

    #[test]
    fn unit_escapes_specifiers_variables_and_spaces() {
        let text = unit(
            "/home/r/my bin/100%/$x/recoverd",
            &[("--config", "/home/r/c c/config.toml")],
            "/home/r/da ta%",
        );
        assert_eq!(
            line(&text, "ExecStart="),
            [
                "ExecStart=\"/home/r/my bin/100%%/$$x/recoverd\" --config \"/home/r/c c/config.toml\" run"
            ]
        );
        assert_eq!(
            line(&text, "ReadWritePaths="),
            ["ReadWritePaths=\"-/home/r/da ta%%\""]
        );
    }

    #[test]
    fn unit_refuses_paths_it_cannot_name() {
        let bad = unit_text(Path::new("/a/b\nc"), &[], Path::new("/d"));
        assert!(bad.is_err());
        let relative = unit_text(Path::new("recoverd"), &[], Path::new("/d"));
        assert!(relative.is_err());
    }

    #[test]
    fn build_folders_are_recognised() {
        assert!(in_build_folder(Path::new(
            "/src/recoverd/target/debug/recoverd"
        )));
        assert!(in_build_folder(Path::new("/x/target/release/recoverd")));
        assert!(!in_build_folder(Path::new("/home/r/.cargo/bin/recoverd")));
        assert!(!in_build_folder(Path::new("/home/r/targets/recoverd")));
    }

    #[test]
    fn private_dir_is_created_0700_with_parents() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("a/b/recoverd");
        create_private_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&dir)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o700);
        // Again: no error when it exists.
        assert!(create_private_dir(&dir).is_ok());
    }
}
