//! The shipped unit under a real systemd user manager, installed the README's way, with its
//! sandbox checked from inside the running service's namespaces.
//!
//! Needs root, `systemd-nspawn` and a Debian root that can boot (built once by
//! `tests/systemd/root.sh`; `.ci/run` does it and sets `RECOVERD_SYSTEMD_ROOT`). Without that
//! variable the test says "skipped: …" and passes, so `cargo test` works on any clone.
//!
//! The container: booted with `systemd-nspawn --boot` on a throw-away overlay of the root, in a
//! cgroup v2 tree of its own (the host may have no systemd and a mixed v1/v2 cgroup layout). In it:
//! a lingering user `runner` with a user manager and session bus, a recording notification server
//! on that bus, this checkout's `recoverd` at `~/.cargo/bin/recoverd`, then
//! `recoverd install-service --enable` as that user.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ROOT_VAR: &str = "RECOVERD_SYSTEMD_ROOT";
const USER: &str = "runner";
const HOME: &str = "/home/runner";
/// The watchdog period set by the test's drop-in (the shipped unit says 60 s; waiting more than
/// one of those would add minutes to CI for the same check).
const WATCHDOG_S: u64 = 4;
/// Where the test mounts a "watch" after the service started.
const USB: &str = "/run/media/runner/GARMIN";

/// A booted container; powered off (or killed) and its cgroup removed on drop.
struct Container {
    nspawn: Child,
    cgroup: PathBuf,
    init: u32,
    log: PathBuf,
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn wait_for<T>(what: &str, secs: u64, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A cgroup v2 folder for the container: under the host's unified hierarchy when it is mixed.
fn cgroup_base() -> (PathBuf, bool) {
    let mixed = Path::new("/sys/fs/cgroup/unified/cgroup.procs");
    if mixed.exists() {
        (PathBuf::from("/sys/fs/cgroup/unified"), true)
    } else {
        (PathBuf::from("/sys/fs/cgroup"), false)
    }
}

impl Container {
    fn boot(root: &Path, stage: &Path, log: &Path) -> Self {
        let (base, mixed) = cgroup_base();
        let name = format!("recoverd-ci-{}", std::process::id());
        let cgroup = base.join(&name);
        std::fs::create_dir_all(&cgroup)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", cgroup.display()));
        // The shell moves itself into the new cgroup, then becomes nspawn.
        let script = format!(
            "echo $$ > {}/cgroup.procs && exec systemd-nspawn --boot --register=no --keep-unit \
             --volatile=overlay --bind-ro={}:/mnt/ci -D {} -M {name}",
            cgroup.display(),
            stage.display(),
            root.display()
        );
        let out = std::fs::File::create(log).unwrap_or_else(|e| panic!("{e}"));
        let err = out.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if mixed {
            cmd.env("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1");
        }
        let nspawn = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start systemd-nspawn: {e}"));
        let mut c = Container {
            nspawn,
            cgroup,
            init: 0,
            log: log.to_path_buf(),
        };
        c.init = wait_for("the container's init", 60, || c.find_init());
        // `degraded` exits non-zero but is booted (a container lacks some hardware units); an
        // empty answer means systemd does not listen yet.
        let booted = Instant::now() + Duration::from_secs(120);
        loop {
            let out = c.run_as_root("timeout 120 systemctl is-system-running --wait");
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if state == "running" || state == "degraded" {
                break;
            }
            assert!(
                Instant::now() < booted,
                "the container did not boot: {state} {}\n{}",
                text(&out),
                c.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        c
    }

    /// The process that is PID 1 inside the container, found by its cgroup and its PID there.
    fn find_init(&self) -> Option<u32> {
        let name = self.cgroup.file_name()?.to_string_lossy().into_owned();
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            if !cg.lines().any(|l| l.starts_with(&format!("0::/{name}/"))) {
                continue;
            }
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let nspid = status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .unwrap_or_default();
            // Once it is systemd: before its exec, nspawn is still setting up its namespaces.
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if nspid.len() >= 2 && nspid.last() == Some(&"1") && comm.trim() == "systemd" {
                return Some(pid);
            }
        }
        None
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Runs a shell command as root inside the container; its output.
    fn run_as_root(&self, cmd: &str) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.init.to_string(), "-a", "--"])
            .args(["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
            .args(["timeout", "120", "sh", "-c", cmd])
            .output()
            .unwrap_or_else(|e| panic!("cannot run nsenter: {e}"))
    }

    /// Like [`Self::run_as_root`], asserting success; stdout.
    fn root(&self, cmd: &str) -> String {
        let out = self.run_as_root(cmd);
        assert!(out.status.success(), "`{cmd}` failed: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a shell command as the user, with their session bus and runtime folder.
    fn run_as_user(&self, uid: u32, cmd: &str) -> Output {
        let inner = format!(
            "cd {HOME} && exec runuser -u {USER} -- env -i HOME={HOME} USER={USER} \
             PATH=/usr/bin:/bin XDG_RUNTIME_DIR=/run/user/{uid} \
             DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{uid}/bus sh -c '{}'",
            cmd.replace('\'', "'\\''")
        );
        self.run_as_root(&inner)
    }

    fn user(&self, uid: u32, cmd: &str) -> String {
        let out = self.run_as_user(uid, cmd);
        assert!(
            out.status.success(),
            "`{cmd}` as {USER} failed: {}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.init != 0 {
            let _ = self.run_as_root("systemctl poweroff --no-block");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if matches!(self.nspawn.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = std::fs::write(self.cgroup.join("cgroup.kill"), "1");
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
        remove_cgroup(&self.cgroup);
    }
}

/// Removes a cgroup folder tree, deepest first (only empty cgroups can go).
fn remove_cgroup(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup(&entry.path());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::remove_dir(dir).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `systemctl --user show` of the unit, as key → value.
fn show(c: &Container, uid: u32) -> std::collections::HashMap<String, String> {
    c.user(
        uid,
        "systemctl --user show -p ActiveState,SubState,MainPID,NRestarts,Result,ExecMainStatus,WatchdogUSec recoverd.service",
    )
    .lines()
    .filter_map(|l| l.split_once('='))
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn main_pid(c: &Container, uid: u32) -> u32 {
    show(c, uid)
        .get("MainPID")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

fn running(c: &Container, uid: u32) -> Option<u32> {
    let s = show(c, uid);
    let pid: u32 = s.get("MainPID")?.parse().ok()?;
    (s.get("ActiveState")? == "active" && s.get("SubState")? == "running" && pid != 0)
        .then_some(pid)
}

/// The mount table of a process, as (mount point, options, source root) triples.
fn mounts(c: &Container, pid: u32) -> Vec<(String, String, String)> {
    c.root(&format!("cat /proc/{pid}/mountinfo"))
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            Some((
                f.get(4)?.to_string(),
                f.get(5)?.to_string(),
                f.get(3)?.to_string(),
            ))
        })
        .collect()
}

fn last_mount<'a>(m: &'a [(String, String, String)], at: &str) -> &'a (String, String, String) {
    m.iter()
        .rev()
        .find(|(p, _, _)| p == at)
        .unwrap_or_else(|| panic!("no mount at {at} in the service's namespace"))
}

fn status_field(c: &Container, pid: u32, key: &str) -> String {
    c.root(&format!("grep '^{key}:' /proc/{pid}/status"))
        .split_once(':')
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

fn ns(c: &Container, pid: u32, kind: &str) -> String {
    c.root(&format!("readlink /proc/{pid}/ns/{kind}"))
        .trim()
        .to_string()
}

/// Copies what the container needs into a folder it sees read-only at /mnt/ci.
fn stage() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    // target/debug/deps/systemd_unit-… → target/debug/examples/notify_recorder
    let recorder = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("examples/notify_recorder"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("build the notification recorder first: cargo build --example notify_recorder")
        });
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/5k-race.fit");
    for (from, to) in [
        (PathBuf::from(env!("CARGO_BIN_EXE_recoverd")), "recoverd"),
        (recorder, "notify_recorder"),
        (fixture.with_file_name("easy-45min.fit"), "easy-45min.fit"),
        (fixture, "5k-race.fit"),
    ] {
        std::fs::copy(&from, dir.path().join(to))
            .unwrap_or_else(|e| panic!("cannot stage {}: {e}", from.display()));
    }
    // A run that ended half an hour ago: news, so its notification carries a picture.
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
        - 1800;
    let mut recent = support::FitActivity::segments(end - 40 * 60, &[(40, 168)]);
    recent.serial = 3_800_000_040;
    std::fs::write(dir.path().join("recent-run.fit"), recent.encode())
        .unwrap_or_else(|e| panic!("cannot stage the recent run: {e}"));
    dir
}

/// A recent run's notification carries a picture and a page written inside the sandbox by the
/// service's short-lived renderer (`recoverd render-page`, re-executed from the binary).
fn picture_inside_the_sandbox(c: &Container, uid: u32) {
    c.user(uid, "cp /mnt/ci/recent-run.fit ~/Activities/");
    let image = wait_for("the notification with a picture", 60, || {
        let out = c.run_as_user(uid, "cat ~/notifications.jsonl 2>/dev/null");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|n| n["image_path"].as_str().map(str::to_string))
    });
    let magic = c.user(uid, &format!("head -c 4 '{image}' | tail -c 3"));
    assert_eq!(magic, "PNG", "{image} is not a PNG");
    let page = image.replace(".png", ".html");
    let html = c.user(uid, &format!("head -c 15 '{page}'"));
    assert_eq!(html, "<!DOCTYPE html>", "{page}");
}

/// A lingering user with a running user manager; their uid.
fn lingering_user(c: &Container) -> u32 {
    c.root(&format!("useradd --create-home --shell /bin/sh {USER}"));
    c.root(&format!("loginctl enable-linger {USER}"));
    let uid: u32 = c
        .root(&format!("id -u {USER}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("uid: {e}"));
    wait_for("the user manager and its bus", 60, || {
        let up = c
            .run_as_root(&format!(
                "systemctl is-active user@{uid}.service && test -S /run/user/{uid}/bus"
            ))
            .status
            .success();
        up.then_some(())
    });
    let state = c
        .run_as_user(uid, "timeout 60 systemctl --user is-system-running --wait")
        .stdout;
    let state = String::from_utf8_lossy(&state).trim().to_string();
    assert!(
        state == "running" || state == "degraded",
        "user manager: {state}"
    );
    uid
}

#[test]
fn the_unit_runs_sandboxed_under_a_real_user_manager() {
    let Some(root) = std::env::var_os(ROOT_VAR).map(PathBuf::from) else {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the systemd user-manager test needs {ROOT_VAR} (a Debian root built by \
             tests/systemd/root.sh; .ci/run sets it up, as root)"
        );
        return;
    };
    assert!(
        root.join(".complete").is_file(),
        "{ROOT_VAR}={} is not a root built by tests/systemd/root.sh",
        root.display()
    );
    let stage = stage();
    let c = Container::boot(&root, stage.path(), &stage.path().join("nspawn.log"));
    // nspawn covers /proc/kmsg with a FIFO it has already deleted, and nothing can be mounted over
    // a deleted file: ProtectKernelLogs= would fail on that alone. A machine has no such mask.
    c.root("umount /proc/kmsg");
    let uid = lingering_user(&c);

    // A recording notification server on the user's session bus.
    c.user(
        uid,
        "systemd-run --user --unit=notify-recorder /mnt/ci/notify_recorder $HOME/notifications.jsonl",
    );
    wait_for("the notification server on the bus", 30, || {
        c.run_as_user(
            uid,
            "busctl --user status org.freedesktop.Notifications >/dev/null",
        )
        .status
        .success()
        .then_some(())
    });

    // The README's way: the binary where `cargo install` puts it, then install-service --enable.
    // Only the test's drop-in shortens the watchdog period.
    c.user(
        uid,
        &format!(
            "mkdir -p ~/.cargo/bin ~/.config/systemd/user/recoverd.service.d ~/.config/recoverd && \
             printf 'watch = [\"~/Activities\", \"{USB}/GARMIN/Activity\"]\\n' > ~/.config/recoverd/config.toml && \
             cp /mnt/ci/recoverd ~/.cargo/bin/recoverd && \
             printf '[Service]\\nWatchdogSec={WATCHDOG_S}\\n' > ~/.config/systemd/user/recoverd.service.d/ci-watchdog.conf"
        ),
    );
    let installed = c.run_as_user(uid, "~/.cargo/bin/recoverd install-service --enable");
    let journal = || {
        String::from_utf8_lossy(
            &c.run_as_user(uid, "journalctl --user -u recoverd --no-pager -o cat")
                .stdout,
        )
        .into_owned()
    };
    assert!(
        installed.status.success(),
        "install-service --enable failed: {}\n{}",
        text(&installed),
        journal()
    );
    let data = format!("{HOME}/.local/share/recoverd");
    assert_eq!(c.root(&format!("stat -c %a {data}")).trim(), "700");
    // The default watched folder too: the sandboxed service could not create it.
    c.user(uid, "test -d ~/Activities");

    // active (running): Type=notify, so READY=1 was sent.
    let pid = running(&c, uid).unwrap_or_else(|| panic!("not running: {:?}", show(&c, uid)));
    let s = show(&c, uid);
    assert_eq!(s["WatchdogUSec"], format!("{WATCHDOG_S}s"), "the drop-in");

    sandbox_is_applied(&c, uid, pid, &data);
    // `run` names the configured watch that is not mounted yet, in the journal.
    let said = journal();
    assert!(
        said.contains(&format!("{USB}/GARMIN/Activity does not exist yet")),
        "{said}"
    );

    // A FIT copied into the watched folder is imported, and announced on the session bus.
    c.user(uid, "cp /mnt/ci/5k-race.fit ~/Activities/");
    let listed = wait_for("the activity to be imported", 60, || {
        let out = c.run_as_user(uid, "~/.cargo/bin/recoverd list --json");
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).ok()?;
        (!list.is_empty()).then_some(list)
    });
    assert_eq!(listed.len(), 1, "{listed:?}");
    // A watch mounted after the service started (as a desktop mounts a USB watch) reaches the
    // service's own mount namespace (mount propagation into the sandbox).
    c.root(&format!(
        "mkdir -p {USB} && mount -t tmpfs -o uid={uid} watch {USB} && \
         runuser -u {USER} -- sh -c 'mkdir -p {USB}/GARMIN/Activity && \
         cp /mnt/ci/easy-45min.fit {USB}/GARMIN/Activity/'"
    ));
    let seen = c.run_as_root(&format!(
        "nsenter -t {} -m -S {uid} -G {uid} cat {USB}/GARMIN/Activity/easy-45min.fit | cmp - /mnt/ci/easy-45min.fit",
        running(&c, uid).unwrap_or(0)
    ));
    assert!(
        seen.status.success(),
        "the mounted watch is not visible in the service: {}",
        text(&seen)
    );
    let note = wait_for("the notification", 60, || {
        let out = c.run_as_user(uid, "cat ~/notifications.jsonl 2>/dev/null");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|n| n["app"] == "recoverd")
    });
    assert!(
        !note["summary"].as_str().unwrap_or_default().is_empty(),
        "{note}"
    );
    picture_inside_the_sandbox(&c, uid);

    // reload keeps the process.
    c.user(uid, "systemctl --user reload recoverd.service");
    assert_eq!(running(&c, uid), Some(pid), "reload changed the process");
    wait_for("the service to log the SIGHUP", 30, || {
        let out = c.run_as_user(uid, &format!("journalctl --user _PID={pid} -o cat"));
        String::from_utf8_lossy(&out.stdout)
            .contains("SIGHUP")
            .then_some(())
    });

    // kill -9 → restarted.
    let restarts: u32 = show(&c, uid)["NRestarts"].parse().unwrap_or(0);
    c.root(&format!("kill -9 {pid}"));
    let again = wait_for("the restart after kill -9", 60, || {
        running(&c, uid).filter(|p| *p != pid)
    });
    let now: u32 = show(&c, uid)["NRestarts"].parse().unwrap_or(0);
    assert_eq!(now, restarts + 1);

    // Still the same process after more than two watchdog periods: it pings the watchdog.
    std::thread::sleep(Duration::from_secs(WATCHDOG_S * 2 + 2));
    assert_eq!(running(&c, uid), Some(again), "{}", journal());
    assert_eq!(show(&c, uid)["NRestarts"], now.to_string());

    // stop ends it cleanly.
    c.user(uid, "systemctl --user stop recoverd.service");
    let s = show(&c, uid);
    assert_eq!(
        (s["ActiveState"].as_str(), s["Result"].as_str()),
        ("inactive", "success"),
        "{s:?}"
    );
    assert_eq!(main_pid(&c, uid), 0);

    missing_data_folder_is_one_sentence(&c, uid, &data);

    // Enabled: a fresh user manager (as at the next boot, lingering) starts it by itself, with no
    // ordering cycle against default.target.
    c.root(&format!("systemctl restart user@{uid}.service"));
    let started = wait_for("the service at the user manager's start", 60, || {
        running(&c, uid)
    });
    assert_ne!(started, 0);
    let journal = c.user(uid, "journalctl --user --no-pager -o cat");
    assert!(!journal.contains("ordering cycle"), "{journal}");

    let score = c.run_as_user(uid, "systemd-analyze security --user recoverd.service");
    let score = text(&score);
    let _ = writeln!(
        std::io::stderr(),
        "{}",
        score
            .lines()
            .find(|l| l.contains("Overall exposure"))
            .unwrap_or("no exposure level")
    );
}

/// Checks every promise of the README's threat model from inside the service's namespaces.
fn sandbox_is_applied(c: &Container, uid: u32, pid: u32, data: &str) {
    let manager: u32 = c
        .root(&format!(
            "systemctl show -p MainPID --value user@{uid}.service"
        ))
        .trim()
        .parse()
        .unwrap_or(0);
    assert_ne!(manager, 0);
    for kind in ["mnt", "net", "user", "uts"] {
        assert_ne!(
            ns(c, pid, kind),
            ns(c, manager, kind),
            "the service shares the user manager's {kind} namespace"
        );
    }
    // No network: only a loopback device in its network namespace.
    let devs = c.root(&format!("nsenter -t {pid} -n cat /proc/net/dev"));
    let devs: Vec<&str> = devs
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(devs, ["lo"]);

    // Home read-only, the data folder writable, for the user inside the service's mounts; the
    // same write to home works outside it.
    let inside = |cmd: &str| {
        c.run_as_root(&format!(
            "nsenter -t {pid} -m -S {uid} -G {uid} sh -c '{cmd}'"
        ))
    };
    let home_write = inside(&format!("touch {HOME}/probe"));
    assert!(
        !home_write.status.success() && text(&home_write).contains("Read-only file system"),
        "home is writable in the service: {}",
        text(&home_write)
    );
    assert!(
        inside(&format!("touch {data}/probe && rm {data}/probe"))
            .status
            .success(),
        "the data folder is not writable in the service"
    );
    assert!(
        inside(&format!("touch {HOME}/Activities/probe"))
            .status
            .code()
            .is_some_and(|c| c != 0),
        "the watched folder is writable in the service"
    );
    c.user(uid, "touch ~/probe && rm ~/probe");

    // ProtectSystem=strict, ProtectHome=read-only, ProtectKernelTunables=, ProtectControlGroups=:
    // read-only mounts; ReadWritePaths=: the data folder a writable one.
    let m = mounts(c, pid);
    let read_only = |at: &str| last_mount(&m, at).1.split(',').any(|o| o == "ro");
    for at in ["/", "/proc/sys", "/sys/fs/cgroup"] {
        assert!(read_only(at), "{at} is writable in the service");
    }
    assert!(!read_only(data), "the data folder is not a writable mount");
    // PrivateTmp=: its own /tmp. ProtectKernelLogs=: no kernel log.
    assert!(last_mount(&m, "/tmp").2.contains("systemd-private-"));
    assert!(last_mount(&m, "/proc/kmsg").2.contains("inaccessible"));
    // PrivateDevices=: a /dev of its own with only the pseudo devices.
    let devices = |prefix: &str| {
        c.root(&format!(
            "{prefix} find /dev -maxdepth 1 \\( -type c -o -type b \\) -printf '%f\\n' | sort"
        ))
    };
    let own = devices(&format!("nsenter -t {pid} -m"));
    let own: Vec<&str> = own.lines().collect();
    assert!(
        own.iter()
            .all(|d| ["full", "null", "random", "tty", "urandom", "zero"].contains(d)),
        "devices in the service: {own:?}"
    );
    let container = devices("");
    assert!(container.lines().count() > own.len(), "{container}");

    // No new privileges, a seccomp filter, no capabilities even in its bounding set.
    assert_eq!(status_field(c, pid, "NoNewPrivs"), "1");
    assert_eq!(status_field(c, pid, "Seccomp"), "2");
    assert_eq!(status_field(c, pid, "CapBnd"), "0000000000000000");

    // MemoryMax= where the user manager has the memory controller (a pure cgroup v2 machine).
    let cg = c
        .root(&format!("cat /proc/{pid}/cgroup"))
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        .unwrap_or_default();
    let max = c.run_as_root(&format!("cat /sys/fs/cgroup{cg}/memory.max"));
    if max.status.success() {
        assert_eq!(String::from_utf8_lossy(&max.stdout).trim(), "536870912");
    } else {
        let _ = writeln!(
            std::io::stderr(),
            "MemoryMax= not checked: this host gives the container's cgroup v2 tree no memory controller"
        );
    }
}

/// A unit started without its data folder says so in one sentence and is not restarted.
fn missing_data_folder_is_one_sentence(c: &Container, uid: u32, data: &str) {
    c.user(uid, &format!("mv {data} {data}.away"));
    let start = c.run_as_user(uid, "systemctl --user start recoverd.service");
    assert!(!start.status.success(), "started without its data folder");
    let s = show(c, uid);
    assert_eq!(s["ExecMainStatus"], "2", "{s:?}");
    // `failed`, not `activating (auto-restart)`: no restart loop.
    assert_eq!(s["ActiveState"], "failed", "{s:?}");
    let journal = c.user(uid, "journalctl --user -u recoverd --no-pager -o cat");
    let said: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("data folder"))
        .collect();
    assert_eq!(said.len(), 1, "{journal}");
    assert!(
        said[0].contains(data) && said[0].contains("install-service"),
        "{}",
        said[0]
    );
    assert!(!journal.contains("NAMESPACE"), "{journal}");
    c.user(uid, &format!("mv {data}.away {data}"));
}
