//! The service's plan notifications with a default action: sent on one session-bus connection
//! that stays open for the service's life, with one task listening on it for `ActionInvoked`
//! (some servers send that signal only to the connection that sent the notification). A click
//! on one of our notifications opens its page with `xdg-open`. Memory is flat: one connection,
//! one task, and the last [`REMEMBERED`] notification ids with their pages.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use futures_lite::StreamExt as _;
use zbus::Variant as Value;

const NAME: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
/// Notifications whose click we still answer (older ones have long left the screen).
const REMEMBERED: usize = 32;

/// Our notification ids and the page each one opens.
type Pages = Arc<Mutex<VecDeque<(u32, PathBuf)>>>;

/// The connection plan notifications go out on, and the listener behind it.
#[derive(Debug)]
pub struct Clicks {
    conn: zbus::Connection,
    pages: Pages,
    /// The listening task; stopped when this goes (a new notifier after a reload makes its own).
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for Clicks {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Clicks {
    /// Connects to the session bus and starts listening for clicks. Call inside the runtime.
    ///
    /// # Errors
    /// When there is no session bus, or it refuses the match rule.
    pub async fn connect() -> zbus::Result<Self> {
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
        let pages: Pages = Arc::default();
        let listener = tokio::spawn(listen(conn.clone(), Arc::clone(&pages)));
        Ok(Self {
            conn,
            pages,
            listener,
        })
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
        let image = image.to_string_lossy();
        let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
        hints.insert("image-path", Value::from(image.as_ref()));
        hints.insert("urgency", Value::U8(1));
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
                    body,
                    vec!["default", "Open the plan"],
                    hints,
                    -1i32,
                ),
            )
            .await?;
        let id: u32 = reply.body().deserialize()?;
        let mut pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        if pages.len() >= REMEMBERED {
            pages.pop_front();
        }
        pages.push_back((id, page.to_path_buf()));
        Ok(id)
    }
}

/// Answers `ActionInvoked(id, "default")` for our ids until the connection closes.
async fn listen(conn: zbus::Connection, pages: Pages) {
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
        if action != "default" {
            continue;
        }
        let page = pages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, p)| p.clone());
        if let Some(page) = page {
            tokio::task::spawn_blocking(move || open_page(&page));
        }
    }
}

/// Opens a page with the desktop's handler for HTML (`xdg-open`).
fn open_page(page: &Path) {
    let status = std::process::Command::new("xdg-open")
        .arg(page)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {
            tracing::info!(page = %page.display(), "opened the activity's page");
        }
        Ok(s) => tracing::warn!(page = %page.display(), "xdg-open could not open the page ({s})"),
        Err(e) => tracing::warn!(
            page = %page.display(),
            "cannot run xdg-open to open the page ({e}); open it in a browser"
        ),
    }
}
