//! `install-service`: the systemd user unit for this binary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::config::{self, Config};

/// The unit file shipped in `systemd/`, with this binary's path and database folder filled in.
#[must_use]
pub fn unit_text(binary: &Path, db_dir: &Path) -> String {
    include_str!("../systemd/recoverd.service")
        .lines()
        .map(|l| {
            if l.starts_with("ExecStart=") {
                format!("ExecStart={} run", binary.display())
            } else if l.starts_with("ReadWritePaths=") {
                format!("ReadWritePaths={}", db_dir.display())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// `install-service`: writes `~/.config/systemd/user/recoverd.service`.
///
/// # Errors
/// When the unit cannot be written or systemctl fails.
pub fn install_service(cfg: &Config, enable: bool) -> Result<ExitCode> {
    let binary = std::env::current_exe().context("cannot find this binary's path")?;
    let binary = binary.canonicalize().unwrap_or(binary);
    let db_dir = cfg
        .database
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::fs::create_dir_all(&db_dir)
        .with_context(|| format!("cannot create {}", db_dir.display()))?;
    let dir = config::default_config_path()?
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        .join("systemd/user");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let unit = dir.join("recoverd.service");
    std::fs::write(&unit, unit_text(&binary, &db_dir))
        .with_context(|| format!("cannot write {}", unit.display()))?;
    println!("wrote {}", unit.display());
    let steps: [&[&str]; 2] = [
        &["--user", "daemon-reload"],
        &["--user", "enable", "--now", "recoverd.service"],
    ];
    if enable {
        for args in steps {
            let status = std::process::Command::new("systemctl")
                .args(args)
                .status()
                .context("cannot run systemctl")?;
            if !status.success() {
                anyhow::bail!("`systemctl {}` failed", args.join(" "));
            }
        }
        println!("recoverd is enabled and running: `systemctl --user status recoverd`");
    } else {
        println!("to start it now and at every login:");
        for args in steps {
            println!("  systemctl {}", args.join(" "));
        }
    }
    Ok(ExitCode::SUCCESS)
}
