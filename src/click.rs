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

/// The runner's answer from a morning notification's button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The server's id of the notification clicked.
    pub id: u32,
    /// Its local day, when this connection sent it (else the store knows it by `id`: one
    /// sent before a restart).
    pub day: Option<NaiveDate>,
    /// 1 very sore … 4 fresh.
    pub feel: u8,
}

/// Where the runner's answers from the buttons go.
pub type FeelSink = Arc<dyn Fn(Answer) + Send + Sync>;

/// What a click on one of our notifications answers.
#[derive(Debug, Clone, Default)]
struct Target {
    /// The page its default action opens.
    page: Option<PathBuf>,
    /// The local day its feel buttons answer for (the morning notification).
    day: Option<NaiveDate>,
}

/// What the notification server can show.
#[derive(Debug, Clone, Copy, Default)]
struct Caps {
    /// Action buttons ("actions").
    actions: bool,
    /// The body is read as markup ("body-markup"): `&`, `<` and `>` are escaped.
    markup: bool,
}

/// Our notification ids and what each one answers.
type Targets = Arc<Mutex<VecDeque<(u32, Target)>>>;

/// The connection notifications with actions go out on, and the listener behind it.
pub struct Clicks {
    conn: zbus::Connection,
    targets: Targets,
    /// What the server can show, asked once, when the first notification goes out.
    caps: tokio::sync::OnceCell<Caps>,
    /// The listening task; stopped when this goes (a new notifier after a reload makes its own).
    listener: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Clicks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clicks")
            .field("caps", &self.caps.get())
            .finish_non_exhaustive()
    }
}

impl Drop for Clicks {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Clicks {
    /// Connects to the session bus and starts listening for clicks (also on notifications a
    /// previous run sent); a feel button's answer goes to `feel`. Needs no notification server
    /// yet. Call inside the runtime.
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
        let targets: Targets = Arc::default();
        let listener = tokio::spawn(listen(conn.clone(), Arc::clone(&targets), feel));
        Ok(Self {
            conn,
            targets,
            caps: tokio::sync::OnceCell::new(),
            listener,
        })
    }

    /// Whether the server shows action buttons (asked once per connection).
    pub async fn has_actions(&self) -> bool {
        self.caps().await.actions
    }

    async fn caps(&self) -> Caps {
        *self
            .caps
            .get_or_init(|| async {
                let caps = capabilities(&self.conn).await;
                Caps {
                    actions: caps.iter().any(|c| c == "actions"),
                    markup: caps.iter().any(|c| c == "body-markup"),
                }
            })
            .await
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
        if self.has_actions().await {
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
        let body = if self.caps().await.markup {
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
async fn listen(conn: zbus::Connection, targets: Targets, answers: Option<FeelSink>) {
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
        if action == "default" {
            if let Some(page) = target.and_then(|t| t.page) {
                tokio::spawn(open_page(conn.clone(), page));
            }
        } else if let (Some(feel), Some(sink)) = (feel_of_action(&action), answers.as_ref()) {
            // No day: not sent on this connection, maybe a morning notification sent before a
            // restart, which the store knows by its id.
            let day = target.and_then(|t| t.day);
            tracing::info!(id, ?day, feel, "the runner answered a morning notification");
            sink(Answer { id, day, feel });
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
