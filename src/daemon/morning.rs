//! When the morning notification is due: the next local `[notifications] morning` time, by the
//! zone's rules on each date (daylight saving included). The main loop wakes at most every
//! [`MAX_SLEEP`] and compares with the wall clock, so a machine that slept through the morning
//! (a suspended laptop: the monotonic timers stop) sends it as soon as it wakes.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use jiff::civil::Time;
use jiff::tz::TimeZone;

use crate::localtime;

/// Longest sleep between two looks at the wall clock.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);
/// A morning notification that could not be sent is tried again this much later ...
pub const RETRY: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// ... this many times a day at most (an hour).
pub const MAX_RETRIES: u32 = 12;

/// The instant of `at` local time on the local day of `now` (in the past when that time has
/// passed today: the service then catches up at once). A time a clock change skips is the
/// first valid time after the gap; one it repeats, the first of the two.
#[must_use]
pub fn today_at(now: DateTime<Utc>, at: Time, tz: &TimeZone) -> DateTime<Utc> {
    at_on(localtime::zoned(now, tz).date(), at, tz).unwrap_or(now)
}

/// The first instant after `now` at `at` local time.
#[must_use]
pub fn next_after(now: DateTime<Utc>, at: Time, tz: &TimeZone) -> DateTime<Utc> {
    let mut date = localtime::zoned(now, tz).date();
    for _ in 0..3 {
        if let Some(t) = at_on(date, at, tz).filter(|t| *t > now) {
            return t;
        }
        let Ok(next) = date.tomorrow() else { break };
        date = next;
    }
    now + chrono::Duration::days(1)
}

fn at_on(date: jiff::civil::Date, at: Time, tz: &TimeZone) -> Option<DateTime<Utc>> {
    let z = date.to_datetime(at).to_zoned_datetime(tz.clone()).ok()?;
    DateTime::<Utc>::from_timestamp_millis(z.timestamp().as_millisecond())
}

/// The night's data counts for the morning notification from this local hour on (before,
/// the night is not over: a sync at 02:00 would judge half a night; MODEL.md §7 takes the
/// watch's own resting HR from 04:00 too).
pub const NIGHT_OVER_H: i8 = 4;

/// Today's local day when its night is over ([`NIGHT_OVER_H`]), else `None`.
#[must_use]
pub fn night_over(now: DateTime<Utc>, tz: &TimeZone) -> Option<NaiveDate> {
    (localtime::zoned(now, tz).hour() >= NIGHT_OVER_H).then(|| localtime::day(now, tz))
}

/// How long to sleep before looking at the clock again for a notification due at `due`.
#[must_use]
pub fn wait(due: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (due - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .min(MAX_SLEEP)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap_or_else(|e| panic!("{e}"))
    }

    fn hm(h: i8, m: i8) -> Time {
        Time::new(h, m, 0, 0).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn seven_thirty_local_across_the_clock_changes() {
        let tz = berlin();
        // Winter: UTC+1.
        assert_eq!(
            next_after(utc("2026-01-10T12:00:00Z"), hm(7, 30), &tz),
            utc("2026-01-11T06:30:00Z")
        );
        // Saturday evening before the spring change (29 March 2026): Sunday 07:30 is UTC+2.
        assert_eq!(
            next_after(utc("2026-03-28T20:00:00Z"), hm(7, 30), &tz),
            utc("2026-03-29T05:30:00Z")
        );
        // Before the autumn change (25 October 2026): Sunday 07:30 is UTC+1 again.
        assert_eq!(
            next_after(utc("2026-10-24T20:00:00Z"), hm(7, 30), &tz),
            utc("2026-10-25T06:30:00Z")
        );
        // 02:30 does not exist on the spring change: the first time after the gap.
        assert_eq!(
            next_after(utc("2026-03-28T20:00:00Z"), hm(2, 30), &tz),
            utc("2026-03-29T01:30:00Z")
        );
    }

    #[test]
    fn the_night_is_over_from_four_local() {
        let tz = berlin();
        assert_eq!(night_over(utc("2026-05-20T01:59:00Z"), &tz), None);
        assert_eq!(
            night_over(utc("2026-05-20T02:00:00Z"), &tz),
            NaiveDate::from_ymd_opt(2026, 5, 20)
        );
        assert_eq!(
            night_over(utc("2026-05-20T21:59:00Z"), &tz),
            NaiveDate::from_ymd_opt(2026, 5, 20)
        );
        assert_eq!(night_over(utc("2026-05-20T22:30:00Z"), &tz), None);
    }

    #[test]
    fn today_is_in_the_past_once_the_time_has_passed_and_next_is_tomorrow() {
        let tz = berlin();
        let now = utc("2026-05-20T08:00:00Z"); // 10:00 local
        assert_eq!(today_at(now, hm(7, 30), &tz), utc("2026-05-20T05:30:00Z"));
        assert_eq!(next_after(now, hm(7, 30), &tz), utc("2026-05-21T05:30:00Z"));
        // Exactly at the time: the next one is tomorrow's.
        assert_eq!(
            next_after(utc("2026-05-20T05:30:00Z"), hm(7, 30), &tz),
            utc("2026-05-21T05:30:00Z")
        );
        assert_eq!(wait(utc("2026-05-21T05:30:00Z"), now), MAX_SLEEP);
        assert_eq!(wait(utc("2026-05-20T05:30:00Z"), now), Duration::ZERO);
        assert_eq!(
            wait(utc("2026-05-20T08:00:10Z"), now),
            Duration::from_secs(10)
        );
    }
}
