//! `install-service` and the config checks a runner meets when installing: the data folder, the
//! binary the unit runs, explicit config files, path expansion errors, missing watch folders.
//! (The unit under a real user manager: `tests/systemd_unit.rs`.)

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs the binary with an isolated HOME and only the system folders on PATH (plus `extra`).
fn recoverd(home: &Path, path_extra: Option<&Path>, args: &[&str]) -> Output {
    let path = match path_extra {
        Some(dir) => format!("{}:/usr/bin:/bin", dir.display()),
        None => "/usr/bin:/bin".to_string(),
    };
    Command::new(support::bin())
        .args(args)
        .env("HOME", home)
        .env("PATH", path)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("RECOVERD_CONFIG")
        .env_remove("RECOVERD_DB")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run recoverd: {e}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn unit(home: &Path) -> String {
    std::fs::read_to_string(home.join(".config/systemd/user/recoverd.service")).unwrap_or_default()
}

fn exec_start(home: &Path) -> String {
    unit(home)
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn install_service_creates_the_data_folder_0700_and_warns_about_a_build_folder() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = recoverd(home.path(), None, &["install-service"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let data = home.path().join(".local/share/recoverd");
    let mode = std::fs::metadata(&data)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o700);
    assert!(
        home.path().join("Activities").is_dir(),
        "the default watch folder"
    );
    // The test binary lives in target/: the unit would run it, and says so.
    let bin = support::bin()
        .canonicalize()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        exec_start(home.path()),
        format!("ExecStart={} run", bin.display())
    );
    let err = stderr(&out);
    assert!(
        err.contains("warning") && err.contains("build folder") && err.contains("cargo install"),
        "{err}"
    );
    assert!(
        unit(home.path()).contains(&format!("ReadWritePaths=-{}\n", data.display())),
        "{}",
        unit(home.path())
    );
    // Nothing enabled without --enable: the lines to do it are printed.
    assert!(String::from_utf8_lossy(&out.stdout).contains("systemctl --user enable --now"));
}

#[test]
fn install_service_prefers_an_installed_binary_and_keeps_an_explicit_config() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bin_dir = home.path().join(".cargo/bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let installed = bin_dir.join("recoverd");
    std::fs::copy(support::bin(), &installed).unwrap_or_else(|e| panic!("{e}"));
    let config = home.path().join("elsewhere.toml");
    std::fs::write(&config, "database = \"$HOME/data/runs.db\"\n").unwrap();
    let out = recoverd(
        home.path(),
        Some(&bin_dir),
        &["--config", &config.display().to_string(), "install-service"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    // The database comes from the config file, so only --config is carried.
    assert_eq!(
        exec_start(home.path()),
        format!(
            "ExecStart={} --config {} run",
            installed.display(),
            config.display()
        )
    );
    let data = home.path().join("data");
    assert!(data.is_dir());
    assert!(unit(home.path()).contains(&format!("ReadWritePaths=-{}\n", data.display())));
}

#[test]
fn an_explicit_config_that_does_not_exist_is_an_error() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let missing = home.path().join("typo.toml");
    let out = recoverd(
        home.path(),
        None,
        &["--config", &missing.display().to_string(), "status"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("typo.toml") && err.contains("does not exist"),
        "{err}"
    );
    // The default file may be missing: defaults.
    let out = recoverd(home.path(), None, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_relative_watch_path_or_an_unset_variable_is_an_error_naming_the_key() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap();
    for (watch, says) in [
        ("Activities", "relative path"),
        (
            "${RECOVERD_TEST_UNSET_VAR}/x",
            "RECOVERD_TEST_UNSET_VAR is not set",
        ),
    ] {
        std::fs::write(dir.join("config.toml"), format!("watch = [\"{watch}\"]\n"))
            .unwrap_or_default();
        let out = recoverd(home.path(), None, &["doctor"]);
        assert_eq!(out.status.code(), Some(2), "{watch}");
        let err = stderr(&out);
        assert!(
            err.contains("config.toml")
                && err.contains(&format!("watch = \"{watch}\""))
                && err.contains(says),
            "{err}"
        );
    }
}

#[test]
fn run_and_doctor_name_watch_folders_that_do_not_exist_yet() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(home.path().join("there")).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "watch = [\"~/there\", \"$HOME/GARMIN/Activity\"]\n[notifications]\nenabled = false\n",
    )
    .unwrap_or_default();
    let missing = home.path().join("GARMIN/Activity");

    let out = recoverd(home.path(), None, &["doctor"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains(&format!("{} does not exist yet", missing.display())),
        "{said}"
    );

    let log = home.path().join("run.log");
    let service = support::Service::start_with(home.path(), None, Some(&log), false);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("does not exist yet") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(service.stop(), Some(0));
    let named: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("does not exist yet"))
        .collect();
    assert_eq!(named.len(), 1, "{text}");
    assert!(named[0].contains(&missing.display().to_string()), "{text}");
}

#[test]
fn install_service_warns_when_the_database_sits_directly_in_home() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join(".config/recoverd");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "database = \"~/recoverd.db\"\n").unwrap();
    let out = recoverd(home.path(), None, &["install-service"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("folder of its own"), "{err}");
}
