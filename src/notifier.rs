//! Desktop notifications: one `org.freedesktop.Notifications.Notify` call on the session bus per
//! newly imported activity (notify-rust on its pure-Rust zbus backend), or one summary for a
//! backfill. The words come from [`crate::render::notification`]. A desktop without a bus or a
//! notification server costs one warning per run; nothing retries forever.

use chrono::{DateTime, Duration, Utc};
use jiff::tz::TimeZone;
use notify_rust::{Notification, Timeout, Urgency};

use crate::model::Stored;
use crate::render;

/// Activities that ended longer ago than this are history, not news.
pub const RECENT: i64 = 48;

/// Sends notifications; gives up for the rest of the run after the first failure.
#[derive(Debug)]
pub struct Desktop {
    enabled: bool,
    failed: bool,
}

impl Desktop {
    /// A notifier; `enabled = false` sends nothing.
    #[must_use]
    pub const fn new(enabled: bool) -> Self {
        Self {
            enabled,
            failed: false,
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
            self.send(&summary, &body).await;
        }
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
        self.send(&summary, &body).await;
    }

    async fn send(&mut self, summary: &str, body: &str) {
        if !self.enabled || self.failed {
            return;
        }
        let result = Notification::new()
            .appname("recoverd")
            .summary(summary)
            .body(body)
            .icon("emblem-default")
            .urgency(Urgency::Normal)
            .timeout(Timeout::Default)
            .show_async()
            .await;
        if let Err(e) = result {
            self.failed = true;
            tracing::warn!(
                error = %e,
                "cannot send desktop notifications ({e}); plans are still stored. Check that \
                 DBUS_SESSION_BUS_ADDRESS points at your session bus and a notification server runs"
            );
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
