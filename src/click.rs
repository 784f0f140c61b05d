//! The service's notifications with actions: sent on one session-bus connection that stays open
//! for the service's life, with one task listening on it for `ActionInvoked` (some servers send
//! that signal only to the connection that sent the notification). A click on a plan
//! notification (its `default` action) opens the activity's page with `xdg-open`, or through
//! the desktop portal's `OpenURI` where `xdg-open` is missing or fails; a button on the morning
//! notification (`very_sore` … `fresh`) records how the legs feel for that notification's day.
//! The server's capabilities are asked once per connection: a server without "actions" shows
//! no buttons, and the morning text then says how to answer instead. Memory is flat: one
//! connection, one task, and the last `REMEMBERED` notification ids with what they answer.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDate;
use futures_lite::StreamExt as _;
use zbus::Variant as Value;

use crate::announce::morning::{FEEL_ACTIONS, feel_of_action};

const NAME: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
const PORTAL: &str = "org.freedesktop.portal.Desktop";
const PORTAL_PATH: &str = "/org/freedesktop/portal/desktop";
const OPEN_URI: &str = "org.freedesktop.portal.OpenURI";
/// Notifications whose click we still answer (older ones have long left the screen).
const REMEMBERED: usize = 32;

/// Where the runner's answer from a button goes: (the notification's local day, feel 1–4).
pub type FeelSink = Arc<dyn Fn(NaiveDate, u8) + Send + Sync>;

/// What a click on one of our notifications answers.
#[derive(Debug, Clone, Default)]
struct Target {
    /// The page its default action opens.
    page: Option<PathBuf>,
    /// The local day its feel buttons answer for (the morning notification).
    day: Option<NaiveDate>,
}

/// Our notification ids and what each one answers.
type Targets = Arc<Mutex<VecDeque<(u32, Target)>>>;

/// The connection notifications with actions go out on, and the listener behind it.
pub struct Clicks {
    conn: zbus::Connection,
    targets: Targets,
    /// The server said it shows action buttons ("actions" in `GetCapabilities`).
    actions: bool,
    /// The server reads the body as markup ("body-markup"): `&`, `<` and `>` are escaped.
    markup: bool,
    /// The listening task; stopped when this goes (a new notifier after a reload makes its own).
    listener: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Clicks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clicks")
            .field("actions", &self.actions)
            .finish_non_exhaustive()
    }
}

impl Drop for Clicks {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Clicks {
    /// Connects to the session bus, asks the notification server whether it shows action
    /// buttons, and starts listening for clicks; a feel button's answer goes to `feel`. Call
    /// inside the runtime.
    ///
    /// # Errors
    /// When there is no session bus, or it refuses the match rule.
    pub async fn connect(feel: Option<FeelSink>) -> zbus::Result<Self> {
        let conn = zbus::Connection::session().await?;
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface(NAME)
            .member("ActionInvoked")
            .build()?;
        zbus::fdo::DBusProxy::new(&conn)
            .await?
            .add_match_rule(rule)
            .await?;
        let caps = capabilities(&conn).await;
        let actions = caps.iter().any(|c| c == "actions");
        let markup = caps.iter().any(|c| c == "body-markup");
        let targets: Targets = Arc::default();
        let listener = tokio::spawn(listen(conn.clone(), Arc::clone(&targets), feel));
        Ok(Self {
            conn,
            targets,
            actions,
            markup,
            listener,
        })
    }

    /// Whether the server shows action buttons.
    #[must_use]
    pub const fn has_actions(&self) -> bool {
        self.actions
    }

    /// Sends one notification with a picture and a default action that opens `page`.
    ///
    /// # Errors
    /// When the notification server does not answer.
    pub async fn notify(
        &self,
        summary: &str,
        body: &str,
        image: &Path,
        page: &Path,
    ) -> zbus::Result<u32> {
        let target = Target {
            page: Some(page.to_path_buf()),
            day: None,
        };
        let actions = ["default", "Open the plan"];
        self.send(summary, body, &actions, Some(image), target)
            .await
    }

    /// Sends the morning notification of `day`: buttons `very_sore` … `fresh` that record how
    /// the legs feel, and a default action that opens `page` where there is one (no actions at
    /// all where the server shows none: its text says how to answer instead).
    ///
    /// # Errors
    /// When the notification server does not answer.
    pub async fn notify_morning(
        &self,
        summary: &str,
        body: &str,
        day: NaiveDate,
        page: Option<&Path>,
    ) -> zbus::Result<u32> {
        let mut actions: Vec<&str> = Vec::with_capacity(10);
        if self.actions {
            if page.is_some() {
                actions.extend(["default", "Open the plan"]);
            }
            for (key, label, _) in FEEL_ACTIONS {
                actions.extend([key, label]);
            }
        }
        let target = Target {
            page: page.map(Path::to_path_buf),
            day: Some(day),
        };
        self.send(summary, body, &actions, None, target).await
    }

    async fn send(
        &self,
        summary: &str,
        body: &str,
        actions: &[&str],
        image: Option<&Path>,
        target: Target,
    ) -> zbus::Result<u32> {
        let image = image.map(|i| i.to_string_lossy());
        let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
        if let Some(image) = &image {
            hints.insert("image-path", Value::from(image.as_ref()));
        }
        hints.insert("urgency", Value::U8(1));
        let body = if self.markup {
            escape_markup(body)
        } else {
            body.to_string()
        };
        let reply = self
            .conn
            .call_method(
                Some(NAME),
                PATH,
                Some(NAME),
                "Notify",
                &(
                    "recoverd",
                    0u32,
                    "emblem-default",
                    summary,
                    body.as_str(),
                    actions,
                    hints,
                    -1i32,
                ),
            )
            .await?;
        let id: u32 = reply.body().deserialize()?;
        let mut targets = self.targets.lock().unwrap_or_else(PoisonError::into_inner);
        if targets.len() >= REMEMBERED {
            targets.pop_front();
        }
        targets.push_back((id, target));
        Ok(id)
    }
}

/// The server's capabilities (empty, with a warning, when it cannot say).
async fn capabilities(conn: &zbus::Connection) -> Vec<String> {
    let reply = conn
        .call_method(Some(NAME), PATH, Some(NAME), "GetCapabilities", &())
        .await;
    match reply.and_then(|r| r.body().deserialize::<Vec<String>>()) {
        Ok(caps) => caps,
        Err(e) => {
            tracing::warn!(
                "the notification server did not say what it can show ({e}); sending without buttons"
            );
            Vec::new()
        }
    }
}

/// Answers `ActionInvoked` for our ids until the connection closes.
async fn listen(conn: zbus::Connection, targets: Targets, feel: Option<FeelSink>) {
    let mut stream = zbus::MessageStream::from(&conn);
    while let Some(msg) = stream.next().await {
        let Ok(msg) = msg else { continue };
        let header = msg.header();
        if header.message_type() != zbus::message::Type::Signal
            || header
                .member()
                .is_none_or(|m| m.as_str() != "ActionInvoked")
        {
            continue;
        }
        let Ok((id, action)) = msg.body().deserialize::<(u32, String)>() else {
            continue;
        };
        let target = targets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, t)| t.clone());
        let Some(target) = target else { continue };
        if action == "default" {
            if let Some(page) = target.page {
                tokio::spawn(open_page(conn.clone(), page));
            }
        } else if let (Some(n), Some(day), Some(sink)) =
            (feel_of_action(&action), target.day, feel.as_ref())
        {
            tracing::info!(%day, feel = n, "the runner answered the morning notification");
            sink(day, n);
        }
    }
}

/// Opens a page with the desktop's handler for HTML: `xdg-open`, else the desktop portal.
async fn open_page(conn: zbus::Connection, page: PathBuf) {
    let shown = page.display().to_string();
    let run = {
        let page = page.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("xdg-open")
                .arg(page)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
        })
        .await
    };
    let why = match run {
        Ok(Ok(s)) if s.success() => {
            tracing::info!(page = %shown, "opened the activity's page");
            return;
        }
        Ok(Ok(s)) => format!("xdg-open could not open it ({s})"),
        Ok(Err(e)) => format!("cannot run xdg-open ({e})"),
        Err(e) => format!("cannot run xdg-open ({e})"),
    };
    match open_with_portal(&conn, &page).await {
        Ok(()) => {
            tracing::info!(page = %shown, "{why}; opened the page through the desktop portal")
        }
        Err(e) => tracing::warn!(
            page = %shown,
            "{why}, and the desktop portal did not open it ({e}); open it in a browser"
        ),
    }
}

/// Asks the desktop portal (`org.freedesktop.portal.OpenURI.OpenURI`) to open a file URI.
async fn open_with_portal(conn: &zbus::Connection, page: &Path) -> zbus::Result<()> {
    let uri = file_uri(page);
    let options: HashMap<&str, Value<'_>> = HashMap::new();
    conn.call_method(
        Some(PORTAL),
        PORTAL_PATH,
        Some(OPEN_URI),
        "OpenURI",
        &("", uri.as_str(), options),
    )
    .await
    .map(drop)
}

/// The body as text in a server's markup: `&`, `<` and `>` escaped.
fn escape_markup(body: &str) -> String {
    body.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `file://` and the absolute path, each byte outside RFC 3986's unreserved set and `/`
/// percent-encoded.
fn file_uri(path: &Path) -> String {
    use std::fmt::Write as _;
    use std::os::unix::ffi::OsStrExt as _;
    let mut out = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape_markup("HR < 150 & rest > 8 h"),
            "HR &lt; 150 &amp; rest &gt; 8 h"
        );
    }

    #[test]
    fn file_uris_are_percent_encoded() {
        assert_eq!(
            file_uri(Path::new(
                "/home/ana/.local/share/recoverd/pages/12 Lauf ü.html"
            )),
            "file:///home/ana/.local/share/recoverd/pages/12%20Lauf%20%C3%BC.html"
        );
    }
}
