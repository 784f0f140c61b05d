//! The morning notification: what to say this morning, read from the store
//! ([`morning_notice`]: the recovery window today is in, today's verdict and signals, the plan's
//! items for today, the moved ready), and the sending, with buttons that record how the legs
//! feel ([`Desktop::announce_morning`]). The words come from [`crate::announce::morning`].

use chrono::{DateTime, Duration, NaiveDate, Utc};
use jiff::tz::TimeZone;

use super::{Desktop, within_timeout};
use crate::announce::morning::{self, MorningFacts};
use crate::localtime;
use crate::model::{Flag, Morning, Stored};
use crate::render;
use crate::store::{Store, StoreError};

/// Hard activities that ended longer ago than this have no open window left (the model's
/// longest recovery, three moves of a day and the three days after ready fit well inside).
const LOOKBACK_DAYS: i64 = 45;
/// Most plan items named for today.
const TODAY_ITEMS: usize = 4;

/// One morning notification to send: its local day and what it says.
#[derive(Debug, Clone)]
pub struct MorningNotice {
    /// The local day it is for (its buttons answer for this day).
    pub day: NaiveDate,
    /// What it says.
    pub facts: MorningFacts,
    /// The activity whose recovery window the day is in (its page is the default action).
    pub activity: Box<Stored>,
}

/// The morning notification due at `now`, when today is inside an open recovery window and
/// none was sent today; `None` otherwise. Reads only: the caller claims the day with
/// [`Store::record_morning_notice`] before sending, so that two triggers never both send.
///
/// # Errors
/// On database failure.
pub fn morning_notice(
    store: &Store,
    now: DateTime<Utc>,
    tz: &TimeZone,
) -> Result<Option<MorningNotice>, StoreError> {
    let today = localtime::day(now, tz);
    if store.morning_notice_sent(today)? {
        return Ok(None);
    }
    let Some(window) = window_on(store, today, now, tz)? else {
        return Ok(None);
    };
    let signals = store.days_in(today, today)?.into_iter().next();
    let judged = window.mornings.iter().find(|m| m.day == today);
    let facts = facts(&window, judged, signals.as_ref(), today, now, tz);
    Ok(Some(MorningNotice {
        day: today,
        facts,
        activity: Box::new(window.stored),
    }))
}

/// An activity's open recovery window and its morning checks so far.
struct Window {
    stored: Stored,
    mornings: Vec<Morning>,
    /// The model's ready, before any morning moved it.
    planned: DateTime<Utc>,
    /// The ready after the morning checks.
    ready: DateTime<Utc>,
}

/// The window `today` is judged in (MODEL.md §7): of the hard activities whose window — from
/// the local day after the end to the local day of the (moved) ready + 3 — holds today, the
/// latest start. Only the chosen activity is loaded with its stream.
fn window_on(
    store: &Store,
    today: NaiveDate,
    now: DateTime<Utc>,
    tz: &TimeZone,
) -> Result<Option<Window>, StoreError> {
    let from = now - Duration::days(LOOKBACK_DAYS);
    for h in store.hard_activities_ending(from, now)? {
        let mornings = store.mornings_of(h.id)?;
        let ready = mornings
            .iter()
            .map(|m| m.ready_after)
            .fold(h.model_ready, DateTime::max);
        let first = localtime::day(h.end, tz) + Duration::days(1);
        if !(first..=crate::morning::last_day(ready, tz)).contains(&today) {
            continue;
        }
        let Some(stored) = store.load(h.id)? else {
            continue;
        };
        return Ok(Some(Window {
            stored,
            mornings,
            planned: h.model_ready,
            ready,
        }));
    }
    Ok(None)
}

/// The words' inputs from the window, today's morning check and today's signals.
fn facts(
    w: &Window,
    judged: Option<&Morning>,
    signals: Option<&crate::model::DaySignals>,
    today: NaiveDate,
    now: DateTime<Utc>,
    tz: &TimeZone,
) -> MorningFacts {
    let act = &w.stored.activity;
    let race = w.stored.assessment.as_ref().and_then(|a| a.race);
    let activity = morning::activity_words(
        &render::title(act, race),
        &render::size(act),
        race.is_some(),
        act.name.as_deref(),
    );
    let persisting = judged.is_some_and(|m| m.flags.contains(&Flag::Persisting));
    MorningFacts {
        day_n: (today - localtime::activity_day(act, tz)).num_days(),
        activity,
        verdict: judged.map(|m| m.verdict),
        flags: judged.map(|m| m.flags.clone()).unwrap_or_default(),
        normal: judged.map(|m| m.normal).unwrap_or_default(),
        rhr: signals.and_then(|s| s.rhr),
        hrv_ms: signals.and_then(|s| s.hrv_rmssd_ms),
        feel: signals.and_then(|s| s.feel),
        today: today_items(&w.stored, today, now, tz),
        ready: render::local_short(w.ready, tz),
        ready_passed: now >= w.ready,
        planned: (w.ready > w.planned).then(|| render::local_short(w.planned, tz)),
        persisting,
    }
}

/// The plan's items whose span covers today and that are not over yet, as "when: what".
fn today_items(s: &Stored, today: NaiveDate, now: DateTime<Utc>, tz: &TimeZone) -> Vec<String> {
    let Some(a) = &s.assessment else {
        return Vec::new();
    };
    a.plan
        .iter()
        .filter(|i| {
            let end = i.end.max(i.start);
            localtime::day(i.start, tz) <= today && localtime::day(end, tz) >= today && end >= now
        })
        .take(TODAY_ITEMS)
        .map(|i| {
            let when = if localtime::day(i.start, tz) < today {
                format!("until {}", localtime::format(i.end, tz, "%a %H:%M"))
            } else {
                render::window(i, tz)
            };
            format!("{when}: {}", i.text)
        })
        .collect()
}

impl Desktop {
    /// Sends the morning notification: with the feel buttons where the server shows buttons,
    /// else with the command to answer in its text; its default action opens the activity's
    /// page. Only the service sends it (someone must stay to answer the buttons). Tried even
    /// after a plan notification failed (the notification server may have come up since: the
    /// service starts at login, often before it). The server's id of it, `None` when it was
    /// not sent.
    pub async fn announce_morning(&mut self, n: &MorningNotice, tz: &TimeZone) -> Option<u32> {
        if !self.enabled || !self.listen {
            return None;
        }
        let files = self.write_pages(&n.activity, tz).await;
        let sent = async {
            let clicks = self.clicks().await?;
            let (summary, body) = morning::text(&n.facts, !clicks.has_actions().await);
            clicks
                .notify_morning(
                    &summary,
                    &body,
                    n.day,
                    files.as_ref().map(|f| f.html.as_path()),
                )
                .await
                .map_err(|e| e.to_string())
        };
        match within_timeout(sent).await {
            Ok(id) => {
                tracing::info!(day = %n.day, id, "sent the morning notification");
                self.failed = false;
                Some(id)
            }
            Err(e) => {
                tracing::warn!(
                    day = %n.day,
                    "cannot send the morning notification ({e}); trying again later. Check that \
                     DBUS_SESSION_BUS_ADDRESS points at your session bus and a notification server runs"
                );
                // A connection whose server went away is made again next time.
                self.clicks = None;
                None
            }
        }
    }
}
