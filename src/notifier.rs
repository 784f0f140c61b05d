//! Desktop notifications: one `org.freedesktop.Notifications.Notify` call on the session bus per
//! newly imported activity (notify-rust on its pure-Rust zbus backend), or one summary for a
//! backfill. The words come from [`crate::render::notification`]. A desktop without a bus or a
//! notification server costs one warning per run; nothing retries forever. Each activity's
//! notification carries a picture of the effort (`image-path`, a PNG beside its HTML page in the
//! data folder); the service's also has a default action that opens the page, sent and
//! answered on one lasting connection ([`crate::click`]). The service also sends the morning
//! notification ([`morning`]): at most one a local day inside a recovery window, with buttons
//! that record how the legs feel.

use std::path::PathBuf;

use jiff::tz::TimeZone;
use notify_rust::{Notification, Timeout, Urgency};

use chrono::Utc;

use crate::announce::Notice;
use crate::click::{Clicks, FeelSink};
use crate::config::Config;
use crate::model::Stored;
use crate::page::{self, PageFiles};
use crate::render;
use crate::store::{Store, StoreError};

/// Longest wait for the notification server's answer to one notification.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub mod morning;

pub use morning::{MorningNotice, morning_notice};

/// Sends notifications; gives up for the rest of the run after the first failure.
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
    /// Where the morning notification's buttons send the runner's answer (the service).
    feel: Option<FeelSink>,
    /// The service renders in a child process; `None`: in this process (`import`).
    renderer: Option<Renderer>,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop")
            .field("enabled", &self.enabled)
            .field("failed", &self.failed)
            .field("pages", &self.pages)
            .field("listen", &self.listen)
            .field("clicks", &self.clicks)
            .field("renderer", &self.renderer)
            .finish_non_exhaustive()
    }
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
            feel: None,
            renderer: None,
        }
    }

    /// The configuration changed (SIGHUP): on or off, the pages' folder; the connection that
    /// answers the buttons of notifications already on screen is kept.
    pub fn reconfigure(&mut self, cfg: &Config) {
        self.enabled = cfg.notifications;
        self.failed = false;
        self.pages = Some(page::folder(cfg));
        if self.renderer.is_some() {
            self.renderer = Some(Renderer::new(cfg));
        }
        if !self.enabled {
            self.clicks = None;
        }
    }

    /// The service's notifier: each plan notification carries a picture of the effort, and a
    /// click on it (its default action) opens the activity's page from the data folder; the
    /// morning notification's buttons send the runner's answer to `feel`.
    #[must_use]
    pub fn service(cfg: &Config, feel: FeelSink) -> Self {
        Self {
            pages: Some(page::folder(cfg)),
            listen: true,
            feel: Some(feel),
            renderer: Some(Renderer::new(cfg)),
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

    /// Sends what [`crate::announce::notices`] decided for one burst, each notice with the stored
    /// activity it names.
    pub async fn announce_notices(&mut self, items: &[(Notice, Stored)], tz: &TimeZone) {
        for (notice, stored) in items {
            match *notice {
                Notice::Activity(_) => self.announce(stored, tz).await,
                Notice::Recent { count, .. } => {
                    self.announce_summary(count, "recent", stored, tz).await;
                }
                Notice::Past { count, .. } => {
                    self.announce_summary(count, "past", stored, tz).await;
                }
            }
        }
    }

    /// Announces one new activity.
    pub async fn announce(&mut self, stored: &Stored, tz: &TimeZone) {
        if let Some((summary, body)) = render::notification(stored, tz) {
            let files = self.pages(stored, tz).await;
            self.send(&summary, &body, files.as_ref()).await;
        }
    }

    /// Writes the activity's page and picture, rendered now and freed after (the service's in
    /// a child process, see [`Renderer`]); a failure costs the picture, not the notification.
    async fn pages(&self, stored: &Stored, tz: &TimeZone) -> Option<PageFiles> {
        if !self.enabled || self.failed {
            return None;
        }
        self.write_pages(stored, tz).await
    }

    /// Writes the activity's page and picture into the pages' folder, when there is one.
    async fn write_pages(&self, stored: &Stored, tz: &TimeZone) -> Option<PageFiles> {
        let dir = self.pages.as_ref()?;
        let made = match &self.renderer {
            Some(r) => r.render(stored.id, dir).await,
            // A new activity: its window's first morning is still to come.
            None => page::write_files(dir, stored, &page::Mornings::default(), tz, Utc::now()),
        };
        made.map_err(|e| {
            tracing::warn!(
                folder = %dir.display(),
                "cannot write the activity's page and picture ({e}); the notification is text only"
            );
        })
        .ok()
    }

    /// Announces `count` activities (`kind`: "recent" or "past") with one notification that
    /// names the latest.
    async fn announce_summary(&mut self, count: usize, kind: &str, latest: &Stored, tz: &TimeZone) {
        let summary = format!(
            "Imported {count} {kind} activit{}",
            if count == 1 { "y" } else { "ies" }
        );
        let body = render::notification(latest, tz).map_or_else(
            || "Fitness and form are up to date.".to_string(),
            |(s, _)| format!("Latest: {s}\nFitness and form are up to date."),
        );
        self.send(&summary, &body, None).await;
    }

    async fn send(&mut self, summary: &str, body: &str, files: Option<&PageFiles>) {
        if !self.enabled || self.failed {
            return;
        }
        let mut note = Notification::new();
        note.appname("recoverd")
            .summary(summary)
            .body(body)
            .icon("emblem-default")
            .urgency(Urgency::Normal)
            .timeout(Timeout::Default);
        if let Some(f) = files {
            note.image_path(&f.png.to_string_lossy());
        }
        // A notification server that never answers must not hold the service (nor a stop).
        let sent = async {
            match files.filter(|_| self.listen) {
                Some(f) => self.send_with_click(summary, body, f).await,
                None => note.show_async().await.map(drop).map_err(|e| e.to_string()),
            }
        };
        let result = within_timeout(sent).await;
        self.give_up_on(result);
    }

    /// After a failed send, says so once and sends nothing more this run.
    fn give_up_on(&mut self, result: Result<(), String>) {
        if let Err(e) = result {
            self.failed = true;
            tracing::warn!(
                error = %e,
                "cannot send desktop notifications ({e}); plans are still stored. Check that \
                 DBUS_SESSION_BUS_ADDRESS points at your session bus and a notification server runs"
            );
        }
    }

    /// Listens for clicks from the start (the service): the buttons of a morning notification a
    /// previous run sent are answered too. Without a session bus, it is tried again when a
    /// notification goes out.
    pub async fn listen_now(&mut self) {
        if !self.enabled || !self.listen {
            return;
        }
        // Short: the loop (and a stop) waits for it; the bus daemon answers at once.
        let wait = std::time::Duration::from_secs(2);
        if let Ok(Err(e)) = tokio::time::timeout(wait, self.clicks()).await {
            tracing::debug!("not listening for clicks yet: {e}");
        }
    }

    /// The service's one listening connection, made on first use.
    async fn clicks(&mut self) -> Result<&Clicks, String> {
        if self.clicks.is_none() {
            let c = Clicks::connect(self.feel.clone())
                .await
                .map_err(|e| e.to_string())?;
            self.clicks = Some(c);
        }
        self.clicks
            .as_ref()
            .ok_or_else(|| "no session bus connection".to_string())
    }

    /// A plan notification whose click opens its page: sent on the service's one listening
    /// connection (see [`crate::click`]), made on first use.
    async fn send_with_click(
        &mut self,
        summary: &str,
        body: &str,
        files: &PageFiles,
    ) -> Result<(), String> {
        self.clicks()
            .await?
            .notify(summary, body, &files.png, &files.html)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// Waits [`SEND_TIMEOUT`] at most for a send.
async fn within_timeout<T>(sent: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    match tokio::time::timeout(SEND_TIMEOUT, sent).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer from the notification server within {} s",
            SEND_TIMEOUT.as_secs()
        )),
    }
}

/// Longest wait for the child that renders one activity's page and picture.
const RENDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Renders pages and pictures in a short-lived child process, `recoverd render-page ID` (this
/// very binary, through `/proc/self/exe`, so an upgrade on disk cannot mix versions). The
/// bundled font, the SVG tree, the pixels and the allocator's arenas they grew all go back to
/// the system when the child exits: the service's idle memory stays what it was before the
/// first picture.
#[derive(Debug, Clone)]
struct Renderer {
    /// The config file, passed on only where it exists (else the child finds the same default).
    config: Option<PathBuf>,
    database: PathBuf,
}

impl Renderer {
    fn new(cfg: &Config) -> Self {
        Self {
            config: cfg.config_path.is_file().then(|| cfg.config_path.clone()),
            database: cfg.database.clone(),
        }
    }

    /// Runs the child for activity `id`; the files it wrote in `dir`.
    async fn render(&self, id: i64, dir: &std::path::Path) -> anyhow::Result<PageFiles> {
        let mut cmd = tokio::process::Command::new("/proc/self/exe");
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        cmd.arg("--db")
            .arg(&self.database)
            .args(["--quiet", "render-page", &id.to_string()])
            .env_remove("NOTIFY_SOCKET")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(RENDER_TIMEOUT, cmd.output())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "the renderer took longer than {} s",
                    RENDER_TIMEOUT.as_secs()
                )
            })??;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            let why = why.lines().last().unwrap_or_default();
            anyhow::bail!("the renderer failed ({}): {why}", out.status);
        }
        Ok(PageFiles::of(dir, id))
    }
}

/// What to announce for the activities stored together (an `import`, a burst in the service),
/// as [`crate::announce::notices`] decides from their end times, each notice with the stored
/// activity it names: the one path from stored ids to notifications, for `import` and `run`.
///
/// # Errors
/// On database failure.
pub fn notices_for(
    store: &Store,
    ids: &[i64],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(Notice, Stored)>, StoreError> {
    let mut arrived = Vec::with_capacity(ids.len());
    for &id in ids {
        if let Some(end) = store.activity_end(id)? {
            arrived.push((id, end));
        }
    }
    with_activities(store, &crate::announce::notices(&arrived, now))
}

/// Each notice with the stored activity it names (a notice whose activity is gone is dropped).
///
/// # Errors
/// On database failure.
fn with_activities(store: &Store, notices: &[Notice]) -> Result<Vec<(Notice, Stored)>, StoreError> {
    let mut out = Vec::with_capacity(notices.len());
    for &n in notices {
        if let Some(s) = store.load(n.id())? {
            out.push((n, s));
        }
    }
    Ok(out)
}

/// The notification server's name and version, or why there is none (for `doctor`), and
/// whether it shows the morning notification's buttons. Blocking: call it outside an async
/// runtime.
///
/// # Errors
/// A sentence saying why no server answered.
pub fn server_information() -> Result<String, String> {
    let info = notify_rust::get_server_information().map_err(|e| e.to_string())?;
    let buttons = match notify_rust::get_capabilities() {
        Ok(caps) if caps.iter().any(|c| c == "actions") => "shows buttons",
        _ => "shows no buttons: the morning notification says to answer with `recoverd feel N`",
    };
    Ok(format!(
        "{} {} ({}), spec {}; {buttons}",
        info.name, info.version, info.vendor, info.spec_version
    ))
}
