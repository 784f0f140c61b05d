//! The runner's local time: instants shown in a time zone's rules for their own date (daylight
//! saving included), local calendar days, and the night rule of MODEL.md §4. Pure: the zone is
//! an argument (resolved once from the config or the system by [`crate::config`]).

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, ZonedDateTime as Zoned};

use crate::model::Activity;

/// Ready times from this local hour on are moved to the next morning.
const NIGHT_FROM_H: i8 = 22;
/// ... and before this hour to the same morning, at this hour.
const MORNING_H: i8 = 6;

/// A chrono instant as a jiff one (the model works in chrono; zones come from jiff).
fn timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp::from_millisecond(t.timestamp_millis()).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn utc(z: &Zoned) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(z.timestamp().as_millisecond())
        .single()
        .unwrap_or_default()
}

/// An instant in a zone.
#[must_use]
pub fn zoned(t: DateTime<Utc>, tz: &TimeZone) -> Zoned {
    timestamp(t).to_zoned_datetime(tz.clone())
}

/// The zone an activity's start is shown in: the file's own offset when it gives one (the watch
/// knew where it was), else the runner's zone.
#[must_use]
pub fn start_zone(a: &Activity, tz: &TimeZone) -> TimeZone {
    a.utc_offset_s
        .and_then(|s| Offset::from_seconds(s).ok())
        .map_or_else(|| tz.clone(), TimeZone::fixed)
}

/// The activity's start in [`start_zone`] with `pattern`, followed by the file's UTC offset when
/// that differs from the runner's zone at that instant (a run abroad), so that the start and the
/// plan's times, which are in the runner's zone, are not read as one clock.
#[must_use]
pub fn format_start(a: &Activity, tz: &TimeZone, pattern: &str) -> String {
    let own = start_zone(a, tz);
    let text = format(a.start, &own, pattern);
    let at = timestamp(a.start);
    let offset = own.to_offset(at);
    if offset == tz.to_offset(at) {
        text
    } else {
        format!("{text} (UTC{offset})")
    }
}

/// The local calendar day an activity counts for (§5): its start in [`start_zone`].
#[must_use]
pub fn activity_day(a: &Activity, tz: &TimeZone) -> NaiveDate {
    day(a.start, &start_zone(a, tz))
}

/// The local calendar day of an instant.
#[must_use]
pub fn day(t: DateTime<Utc>, tz: &TimeZone) -> NaiveDate {
    let d = zoned(t, tz).date();
    NaiveDate::from_ymd_opt(
        i32::from(d.year()),
        u32::try_from(d.month()).unwrap_or(1),
        u32::try_from(d.day()).unwrap_or(1),
    )
    .unwrap_or_default()
}

/// A chrono day as a jiff one (`None` outside jiff's years).
fn civil(d: NaiveDate) -> Option<jiff::civil::Date> {
    use chrono::Datelike as _;
    let m = i8::try_from(d.month()).ok()?;
    let dd = i8::try_from(d.day()).ok()?;
    let y = i16::try_from(d.year()).ok()?;
    jiff::civil::Date::new(y, m, dd).ok()
}

/// The first instant of a local calendar day (midnight, or the first valid time on a day whose
/// midnight a clock change skips).
#[must_use]
pub fn day_start(d: NaiveDate, tz: &TimeZone) -> DateTime<Utc> {
    let date = civil(d);
    date.and_then(|date| date.to_zoned_datetime(tz.clone()).ok())
        .map_or_else(
            || Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()),
            |z| utc(&z),
        )
}

/// §4's night rule: a time between 22:00 and 06:00 local is moved to 06:00 (the next morning
/// for times before midnight). Other times are kept.
#[must_use]
pub fn out_of_the_night(t: DateTime<Utc>, tz: &TimeZone) -> DateTime<Utc> {
    let z = zoned(t, tz);
    let h = z.hour();
    let date = if h >= NIGHT_FROM_H {
        z.date().tomorrow().ok()
    } else if h < MORNING_H {
        Some(z.date())
    } else {
        return t;
    };
    date.and_then(|d| d.at(MORNING_H, 0, 0, 0).to_zoned_datetime(tz.clone()).ok())
        .map_or(t, |m| utc(&m))
}

/// 06:00 local on day `d` (the morning check's "next morning"), by the zone's rules on that
/// date; a zone whose clock skips 06:00 that day gives the first valid time after it.
#[must_use]
pub fn morning(d: NaiveDate, tz: &TimeZone) -> DateTime<Utc> {
    let date = civil(d);
    date.and_then(|date| {
        date.at(MORNING_H, 0, 0, 0)
            .to_zoned_datetime(tz.clone())
            .ok()
    })
    .map_or_else(
        || day_start(d, tz) + chrono::Duration::hours(i64::from(MORNING_H)),
        |z| utc(&z),
    )
}

/// Formats an instant in a zone with a `strftime` pattern.
#[must_use]
pub fn format(t: DateTime<Utc>, tz: &TimeZone, pattern: &str) -> String {
    // The fallible form: a `Display` that fails would panic inside `to_string`.
    jiff::fmt::strtime::format(pattern, &zoned(t, tz)).unwrap_or_default()
}

/// A zone's name for people and for the settings key: the IANA name, else its offset.
#[must_use]
pub fn name(tz: &TimeZone) -> String {
    tz.iana_name()
        .map_or_else(|| format!("{tz:?}"), ToString::to_string)
}

/// The zone named in the config, else the system's (`$TZ` first, then `/etc/localtime`), else UTC.
///
/// # Errors
/// A sentence naming the zone when the name is not in the time-zone database.
pub fn resolve(configured: Option<&str>) -> Result<TimeZone, String> {
    match configured {
        Some(name) => TimeZone::get(name).map_err(|e| {
            format!("timezone = \"{name}\" is not a zone in the time-zone database ({e}); use a name like \"Europe/Berlin\"")
        }),
        None => Ok(TimeZone::try_system().unwrap_or(TimeZone::UTC)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn ny() -> TimeZone {
        TimeZone::get("America/New_York").unwrap_or(TimeZone::UTC)
    }

    #[test]
    fn a_start_abroad_names_its_offset() {
        let a = Activity {
            utc_offset_s: Some(7200),
            ..Activity::test_run(at("2026-07-04T13:00:00Z"), 3600.0, Vec::new())
        };
        // Recorded in Berlin (UTC+2 in July), read by a runner in New York: the offset is named.
        assert_eq!(format_start(&a, &ny(), "%H:%M"), "15:00 (UTC+02)");
        // Read in Berlin, the same clock: nothing added.
        let berlin = TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC);
        assert_eq!(format_start(&a, &berlin, "%H:%M"), "15:00");
    }

    #[test]
    fn the_morning_is_six_local_on_either_side_of_a_clock_change() {
        let tz = ny();
        let d = |m, dd| NaiveDate::from_ymd_opt(2026, m, dd).unwrap_or_default();
        assert_eq!(morning(d(3, 7), &tz), at("2026-03-07T11:00:00Z"));
        assert_eq!(morning(d(3, 8), &tz), at("2026-03-08T10:00:00Z"));
        assert_eq!(morning(d(11, 1), &tz), at("2026-11-01T11:00:00Z"));
    }

    #[test]
    fn night_times_move_to_six_local() {
        let tz = ny();
        // 03:24 EDT → 06:00 EDT the same day.
        assert_eq!(
            out_of_the_night(at("2026-05-20T07:24:00Z"), &tz),
            at("2026-05-20T10:00:00Z")
        );
        // 23:10 EDT → 06:00 the next day.
        assert_eq!(
            out_of_the_night(at("2026-05-20T03:10:00Z"), &tz),
            at("2026-05-20T10:00:00Z")
        );
        // 14:00 stays.
        let t = at("2026-05-20T18:00:00Z");
        assert_eq!(out_of_the_night(t, &tz), t);
        // Across the March change: 23:30 EST on Sat 7 March → 06:00 EDT on Sun 8 March.
        assert_eq!(
            out_of_the_night(at("2026-03-08T04:30:00Z"), &tz),
            at("2026-03-08T10:00:00Z")
        );
    }

    #[test]
    fn days_and_formats_follow_the_rules_of_each_date() {
        let tz = ny();
        assert_eq!(format(at("2026-03-07T14:00:00Z"), &tz, "%H:%M"), "09:00");
        assert_eq!(format(at("2026-03-09T14:00:00Z"), &tz, "%H:%M"), "10:00");
        assert_eq!(
            day(at("2026-03-08T03:00:00Z"), &tz),
            NaiveDate::from_ymd_opt(2026, 3, 7).unwrap_or_default()
        );
        assert!(resolve(Some("Mars/Olympus")).is_err());
        assert_eq!(name(&ny()), "America/New_York");
    }
}
