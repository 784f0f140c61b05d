//! Desktop notifications: one `org.freedesktop.Notifications.Notify` call on the session bus per
//! newly imported activity (notify-rust on its pure-Rust zbus backend), or one summary for a
//! backfill. The words come from [`crate::render::notification`]. A desktop without a bus or a
//! notification server costs one warning per run; nothing retries forever. Each activity's
//! notification carries a picture of the effort (`image-path`, a PNG beside its HTML page in the
//! data folder); the service's also has a default action that opens the page, sent and
//! answered on one lasting connection ([`crate::click`]).

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use jiff::tz::TimeZone;
use notify_rust::{Notification, Timeout, Urgency};

use crate::click::Clicks;

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
    /// The service's listening connection, once a plan notification has been sent.
    clicks: Option<Clicks>,
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
            clicks: None,
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
        }
        let result = match files.filter(|_| self.listen) {
            Some(f) => self.send_with_click(summary, body, f).await,
            None => n.show_async().await.map(drop).map_err(|e| e.to_string()),
        };
        match result {
            Ok(()) => {}
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

impl Desktop {
    /// A plan notification whose click opens its page: sent on the service's one listening
    /// connection (see [`crate::click`]), made on first use.
    async fn send_with_click(
        &mut self,
        summary: &str,
        body: &str,
        files: &PageFiles,
    ) -> Result<(), String> {
        if self.clicks.is_none() {
            self.clicks = Some(Clicks::connect().await.map_err(|e| e.to_string())?);
        }
        match &self.clicks {
            Some(c) => c
                .notify(summary, body, &files.png, &files.html)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            None => Ok(()),
        }
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
