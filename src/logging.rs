//! Logging to stderr: plain (no colours, no timestamps) under systemd, where journald adds them.

use tracing::Level;

/// Sets up the global subscriber. `-v` raises, `-q` lowers the level.
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => Level::ERROR,
        (false, 0) => Level::INFO,
        (false, 1) => Level::DEBUG,
        _ => Level::TRACE,
    };
    let under_systemd =
        std::env::var_os("JOURNAL_STREAM").is_some() || std::env::var_os("INVOCATION_ID").is_some();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(tty && !under_systemd);
    if under_systemd || !tty {
        builder.without_time().init();
    } else {
        builder.init();
    }
}
