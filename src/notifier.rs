//! Desktop notifications: one `org.freedesktop.Notifications.Notify` call on the session bus per
//! newly imported activity (notify-rust on its pure-Rust zbus backend), or one summary for a
//! backfill. The words come from [`crate::render::notification`]. A desktop without a bus or a
//! notification server costs one warning per run; nothing retries forever.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use jiff::tz::TimeZone;
use notify_rust::{Notification, NotificationHandle, Timeout, Urgency};

use crate::config::Config;
use crate::page::{self, PageFiles};
use crate::render;
use crate::store::Stored;

/// Activities that ended longer ago than this are history, not news.
pub const RECENT: i64 = 48;

/// Sends notifications; gives up for the rest of the run after the first failure.
#[derive(Debug)]
pub struct Desktop {
    enabled: bool,
    failed: bool,
    /// Where activity pages and pictures go; `None`: text-only notifications.
    pages: Option<PathBuf>,
    /// Offer the default action (open the page) and listen for it: only a process that stays
    /// up to answer the click (the service) does.
    listen: bool,
}

impl Desktop {
    /// A notifier; `enabled = false` sends nothing.
    #[must_use]
    pub const fn new(enabled: bool) -> Self {
        Self {
            enabled,
            failed: false,
            pages: None,
            listen: false,
        }
    }

    /// The service's notifier: each plan notification carries a picture of the effort, and a
    /// click on it (its default action) opens the activity's page from the data folder.
    #[must_use]
    pub fn service(cfg: &Config) -> Self {
        Self {
            pages: Some(page::folder(cfg)),
            listen: true,
            ..Self::new(cfg.notifications)
        }
    }

    /// Pictures and pages in `dir` (for `import`: no default action, nobody stays to answer).
    #[must_use]
    pub fn with_pages(self, dir: PathBuf) -> Self {
        Self {
            pages: Some(dir),
            ..self
        }
    }

    /// True when the activity ended recently enough to be announced on its own.
    #[must_use]
    pub fn is_recent(stored: &Stored, now: DateTime<Utc>) -> bool {
        now - stored.activity.end <= Duration::hours(RECENT)
    }

    /// Announces one new activity.
    pub async fn announce(&mut self, stored: &Stored, tz: &TimeZone) {
        if let Some((summary, body)) = render::notification(stored, tz) {
            let files = self.pages(stored, tz);
            self.send(&summary, &body, files.as_ref()).await;
        }
    }

    /// Writes the activity's page and picture, rendered now and freed after; a failure costs
    /// the picture, not the notification.
    fn pages(&self, stored: &Stored, tz: &TimeZone) -> Option<PageFiles> {
        if !self.enabled || self.failed {
            return None;
        }
        let dir = self.pages.as_ref()?;
        page::write_files(dir, stored, tz, Utc::now())
            .map_err(|e| {
                tracing::warn!(
                    folder = %dir.display(),
                    "cannot write the activity's page and picture ({e}); the notification is text only"
                );
            })
            .ok()
    }

    /// Announces a backfill of `count` past activities with one notification.
    pub async fn announce_backfill(
        &mut self,
        count: usize,
        latest: Option<&Stored>,
        tz: &TimeZone,
    ) {
        if count == 0 {
            return;
        }
        let summary = format!(
            "Imported {count} past activit{}",
            if count == 1 { "y" } else { "ies" }
        );
        let body = latest
            .and_then(|s| render::notification(s, tz))
            .map_or_else(
                || "Fitness and form are up to date.".to_string(),
                |(s, _)| format!("Latest: {s}\nFitness and form are up to date."),
            );
        self.send(&summary, &body, None).await;
    }

    async fn send(&mut self, summary: &str, body: &str, files: Option<&PageFiles>) {
        if !self.enabled || self.failed {
            return;
        }
        let mut n = Notification::new();
        n.appname("recoverd")
            .summary(summary)
            .body(body)
            .icon("emblem-default")
            .urgency(Urgency::Normal)
            .timeout(Timeout::Default);
        if let Some(f) = files {
            n.image_path(&f.png.to_string_lossy());
            if self.listen {
                n.action("default", "Open the plan");
            }
        }
        match n.show_async().await {
            Ok(handle) => {
                if let Some(f) = files.filter(|_| self.listen) {
                    open_on_click(handle, f.html.clone());
                }
            }
            Err(e) => {
                self.failed = true;
                tracing::warn!(
                    error = %e,
                    "cannot send desktop notifications ({e}); plans are still stored. Check that \
                     DBUS_SESSION_BUS_ADDRESS points at your session bus and a notification server runs"
                );
            }
        }
    }
}

/// Listens for `ActionInvoked` on this notification's own connection (some servers send it
/// only there) and opens the page on its default action. The wait ends when the notification
/// is clicked or closed, or the runtime that carries the connection stops; it runs on a small
/// thread of its own, since notify-rust's wait blocks.
fn open_on_click(handle: NotificationHandle, page: PathBuf) {
    let rt = tokio::runtime::Handle::try_current().ok();
    let spawned = std::thread::Builder::new()
        .name("recoverd-click".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let _guard = rt.as_ref().map(tokio::runtime::Handle::enter);
            handle.wait_for_action(|action| {
                if action == "default" {
                    open_page(&page);
                }
            });
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot wait for a click on the notification: {e}");
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
            tracing::info!(page = %page.display(), "opened the activity's page")
        }
        Ok(s) => tracing::warn!(page = %page.display(), "xdg-open could not open the page ({s})"),
        Err(e) => tracing::warn!(
            page = %page.display(),
            "cannot run xdg-open to open the page ({e}); open it in a browser"
        ),
    }
}

/// The notification server's name and version, or why there is none (for `doctor`). Blocking:
/// call it outside an async runtime.
///
/// # Errors
/// A sentence saying why no server answered.
pub fn server_information() -> Result<String, String> {
    notify_rust::get_server_information()
        .map(|i| {
            format!(
                "{} {} ({}), spec {}",
                i.name, i.version, i.vendor, i.spec_version
            )
        })
        .map_err(|e| e.to_string())
}
