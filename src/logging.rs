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

/// Text from outside (a file name, a zip member's name) made safe for a terminal or a log line:
/// control characters (newlines, escape sequences) and bidirectional overrides are shown as
/// `\n`, `\u{1b}`… instead of acting. Plain text is returned as it is.
#[must_use]
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_printed_escaped() {
        assert_eq!(super::printable("run.fit"), "run.fit");
        assert_eq!(
            super::printable("a\nb\u{1b}[31m\u{202e}.fit"),
            "a\\nb\\u{1b}[31m\\u{202e}.fit"
        );
    }
}
