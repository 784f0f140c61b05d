//! `recoverd completions SHELL` and `recoverd man` print from the binary, needing no config.

use std::process::Command;

#[test]
fn completions_and_man_page_name_the_commands() {
    let recoverd = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_recoverd"))
            .args(args)
            // Neither reads the config or the database: missing ones must not matter.
            .env("RECOVERD_CONFIG", "/nonexistent/recoverd.toml")
            .env("RECOVERD_DB", "/nonexistent/recoverd.db")
            .output()
            .expect("run recoverd");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    for shell in ["bash", "zsh", "fish"] {
        let (ok, text) = recoverd(&["completions", shell]);
        assert!(ok, "completions {shell}");
        for cmd in ["import", "show", "install-service", "completions", "man"] {
            assert!(text.contains(cmd), "{shell} completions lack {cmd}");
        }
    }
    let (ok, man) = recoverd(&["man"]);
    assert!(ok);
    assert!(man.contains(".TH recoverd 1"), "{man}");
    for cmd in ["import", "show", "install\\-service", "replan"] {
        assert!(man.contains(cmd), "the man page lacks {cmd}");
    }
    let (ok, _) = recoverd(&["completions", "tcsh"]);
    assert!(!ok, "an unknown shell is refused");
}
