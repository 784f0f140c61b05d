//! Output for people and programs: `show` as text, markdown, JSON and iCalendar; `list` rows;
//! the notification text. Pure formatting of stored data: the time zone is an argument, and
//! every view shows the one `ready` the model stored (MODEL.md §4).

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::effort::{Athlete, HrSource};
use crate::localtime;
use crate::model::{Activity, Stored};
use crate::plan::{Assessment, PlanItem, RaceKind, Tactic};

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// "Marathon", "10K race", "Run", "Ride", ...
#[must_use]
pub fn title(a: &Activity, race: Option<RaceKind>) -> String {
    if let Some(r) = race {
        return match r {
            RaceKind::FiveK => "5K race".into(),
            RaceKind::TenK => "10K race".into(),
            RaceKind::Half => "Half marathon".into(),
            RaceKind::Marathon => "Marathon".into(),
            RaceKind::Other => "Race".into(),
        };
    }
    match a.sport.as_str() {
        "running" => "Run",
        "cycling" => "Ride",
        "swimming" => "Swim",
        "walking" => "Walk",
        "hiking" => "Hike",
        "rowing" => "Row",
        "multisport" => "Multisport",
        "training" => "Strength session",
        _ => "Workout",
    }
    .to_string()
}

/// "42.2 km" or "1 h 05 min".
#[must_use]
pub fn size(a: &Activity) -> String {
    match a.distance_m.filter(|d| *d >= 100.0) {
        Some(d) => format!("{:.1} km", d / 1000.0),
        None => duration(a.duration_s()),
    }
}

/// "3 h 31 min", "45 min".
#[must_use]
pub fn duration(s: f64) -> String {
    let m = (s / 60.0).round() as i64;
    if m >= 60 {
        format!("{} h {:02} min", m / 60, m % 60)
    } else {
        format!("{m} min")
    }
}

/// "Wed 22 Apr 07:30" in the runner's zone, by the zone's rules on that date: with the date,
/// since recovery can end a week or more later, and "Mon 14:32" read on a Monday means today.
#[must_use]
pub fn local_short(t: DateTime<Utc>, tz: &TimeZone) -> String {
    localtime::format(t, tz, "%a %-d %b %H:%M")
}

/// [`local_short`] with the year when it is not the year of `now` ("Tue 3 Dec 2024 09:00").
#[must_use]
pub fn local_dated(t: DateTime<Utc>, tz: &TimeZone, now: DateTime<Utc>) -> String {
    if localtime::format(t, tz, "%Y") == localtime::format(now, tz, "%Y") {
        local_short(t, tz)
    } else {
        localtime::format(t, tz, "%a %-d %b %Y %H:%M")
    }
}

/// The day label of an item in the timeline.
fn day_label(item: &PlanItem, finish: DateTime<Utc>, tz: &TimeZone) -> String {
    let days = (localtime::day(item.start, tz) - localtime::day(finish, tz)).num_days();
    if item.start - finish < Duration::minutes(60) {
        "Now".into()
    } else if days == 0 {
        if localtime::zoned(item.start, tz).hour() >= 17 {
            "Tonight".into()
        } else {
            "Later today".into()
        }
    } else if days == 1 {
        "Tomorrow".into()
    } else {
        localtime::format(item.start, tz, "%A %-d %b")
    }
}

/// An item's local time window ("14:00–17:00", "14:00 → Tue 09:00").
#[must_use]
pub fn window(item: &PlanItem, tz: &TimeZone) -> String {
    let hm = |t| localtime::format(t, tz, "%H:%M");
    if item.end <= item.start {
        hm(item.start)
    } else if localtime::day(item.start, tz) == localtime::day(item.end, tz) {
        format!("{}–{}", hm(item.start), hm(item.end))
    } else {
        format!(
            "{} → {}",
            hm(item.start),
            localtime::format(item.end, tz, "%a %H:%M")
        )
    }
}

/// "Marathon, 42.2 km: max effort".
#[must_use]
pub fn headline(s: &Stored, a: &Assessment) -> String {
    let act = &s.activity;
    format!(
        "{}, {}: {} effort",
        title(act, a.race),
        size(act),
        a.effort.class.words()
    )
}

/// A word on a higher peak that was not used for max HR (MODEL.md §1), for `show` and `status`.
#[must_use]
pub fn peak_warnings(ath: &Athlete) -> Option<String> {
    let set = "set athlete.max_hr in the config if you know yours";
    if let Some(p) = ath.ignored_peak {
        return Some(format!(
            "A peak of {p:.0} bpm was ignored as a sensor artefact (above the plausible ceiling); {set}."
        ));
    }
    ath.unconfirmed_peak.map(|p| {
        format!(
            "A peak of {p:.0} bpm was seen once in the last 365 days and is not used until a \
             second activity confirms it; {set}."
        )
    })
}

/// The facts under the headline: when, how long, heart rate and load, physiology used.
#[must_use]
pub fn facts(s: &Stored, a: &Assessment, tz: &TimeZone) -> Vec<String> {
    let act = &s.activity;
    let mut lines = vec![format!(
        "{} · {} · {}",
        localtime::format_start(act, tz, "%a %-d %b %Y, %H:%M"),
        duration(act.elapsed_s),
        act.distance_m
            .map_or_else(|| "no distance".into(), |d| format!("{:.2} km", d / 1000.0))
    )];
    let e = &a.effort;
    match e.hr_source {
        HrSource::None => lines
            .push("No heart rate in the file: the effort is estimated from moving time.".into()),
        src => {
            let avg = act
                .avg_hr
                .map_or_else(String::new, |h| format!("avg HR {h:.0} bpm, "));
            lines.push(format!(
                "{avg}HRSS {:.0}{}{}",
                e.hrss.unwrap_or(0.0),
                e.intensity_ratio.map_or_else(String::new, |r| format!(
                    ", best 20 min at {:.0} % of threshold",
                    r * 100.0
                )),
                if src == HrSource::Average {
                    " (from the average heart rate only)"
                } else {
                    ""
                }
            ));
        }
    }
    lines.push(format!(
        "Max HR {:.0} ({}), resting {:.0} ({}), threshold {:.0} ({})",
        a.athlete.max_hr.value,
        a.athlete.max_hr.source.as_str(),
        a.athlete.resting_hr.value,
        a.athlete.resting_hr.source.as_str(),
        a.athlete.threshold_hr.value,
        a.athlete.threshold_hr.source.as_str()
    ));
    lines.extend(peak_warnings(&a.athlete));
    if let Some(min) = act.watch.recovery_time_min {
        lines.push(format!(
            "Your watch says {} h of recovery; ours is {} h to ready.",
            (f64::from(min) / 60.0).round(),
            (a.recovery.ready - act.end).num_minutes().max(0) / 60
        ));
    }
    lines
}

/// The closing lines of every text view: the one `ready`, and easy running where it differs.
#[must_use]
pub fn ready_lines(a: &Assessment, tz: &TimeZone) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(easy) = a.recovery.easy_from {
        out.push(("Easy running from", local_short(easy, tz)));
    }
    let mut ready = local_short(a.recovery.ready, tz);
    if let Some(shift) = a.recovery.morning {
        if shift.moves > 0 {
            let _ = write!(
                ready,
                " (moved from {} by the morning check)",
                local_short(shift.model_ready, tz)
            );
        }
        if shift.persisting {
            let _ = write!(ready, ". {}", crate::morning::PERSISTING);
        }
    }
    out.push(("Ready for hard training and racing", ready));
    out
}

/// `show --format text`: a day-by-day timeline in the runner's local time, each item with its
/// reason under it, then `mornings` (the morning check's section, see `morning_view`).
#[must_use]
pub fn show_text(s: &Stored, mornings: &str, tz: &TimeZone) -> String {
    let Some(a) = &s.assessment else {
        return format!(
            "Activity {}: not assessed yet (run `recoverd replan`).\n",
            s.id
        );
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(s, a));
    for l in facts(s, a, tz) {
        let _ = writeln!(out, "  {l}");
    }
    for (label, item) in timeline(s, a, tz) {
        if let Some(label) = label {
            let _ = writeln!(out, "\n{label}");
        }
        let _ = writeln!(out, "  {:<17} {}", window(item, tz), item.text);
        let _ = writeln!(out, "  {:<17} ↳ {}", "", item.why);
    }
    out.push_str(mornings);
    let _ = writeln!(out);
    for (label, when) in ready_lines(a, tz) {
        let _ = writeln!(out, "{label}: {when}");
    }
    out
}

/// The plan items in order, each with its day label when it opens a new day group.
pub fn timeline<'a>(
    s: &Stored,
    a: &'a Assessment,
    tz: &'a TimeZone,
) -> impl Iterator<Item = (Option<String>, &'a PlanItem)> {
    let end = s.activity.end;
    let mut last = String::new();
    a.plan.iter().map(move |item| {
        let label = day_label(item, end, tz);
        let new = (label != last).then(|| label.clone());
        last = label;
        (new, item)
    })
}

/// `show --format markdown`, with `mornings` (the morning check's section) before `ready`.
#[must_use]
pub fn show_markdown(s: &Stored, mornings: &str, tz: &TimeZone) -> String {
    let Some(a) = &s.assessment else {
        return format!("# Activity {}\n\nNot assessed yet.\n", s.id);
    };
    let mut out = format!("# {}\n\n", headline(s, a));
    for l in facts(s, a, tz) {
        let _ = writeln!(out, "- {l}");
    }
    for (label, item) in timeline(s, a, tz) {
        if let Some(label) = label {
            let _ = writeln!(out, "\n## {label}\n");
        }
        let _ = writeln!(
            out,
            "- **{}** {} — _{}_",
            window(item, tz),
            item.text,
            item.why
        );
    }
    out.push_str(mornings);
    let _ = writeln!(out);
    for (label, when) in ready_lines(a, tz) {
        let _ = writeln!(out, "**{label}:** {when}  ");
    }
    out
}

fn athlete_json(s: &Stored, a: &Assessment) -> Value {
    let ath = &a.athlete;
    let confirmed: Vec<Value> = ath
        .max_hr_confirmed_by
        .iter()
        .map(|p| json!({"id": p.id.unwrap_or(s.id), "start": rfc3339(p.start), "peak_10s_hr": p.bpm.round() as i64}))
        .collect();
    json!({
        "max_hr": ath.max_hr.value.round() as i64,
        "resting_hr": ath.resting_hr.value.round() as i64,
        "threshold_hr": (ath.threshold_hr.value * 10.0).round() / 10.0,
        "sex": ath.sex.as_str(),
        "weight_kg": ath.weight_kg,
        "sources": {
            "max_hr": ath.max_hr.source.as_str(),
            "resting_hr": ath.resting_hr.source.as_str(),
            "threshold_hr": ath.threshold_hr.source.as_str(),
        },
        "max_hr_confirmed_by": (!confirmed.is_empty()).then_some(confirmed),
        "unconfirmed_peak": ath.unconfirmed_peak.map(|p| p.round() as i64),
        "ignored_peak": ath.ignored_peak.map(|p| p.round() as i64),
    })
}

fn recovery_json(a: &Assessment) -> Value {
    let r = &a.recovery;
    json!({
        "hours": r.hours,
        "ready_at": rfc3339(r.ready_at),
        "ready": rfc3339(r.ready),
        "easy_from": r.easy_from.map(rfc3339),
        "easy_only_until": r.easy_only_until.map(rfc3339),
        "long_race": r.long_race,
        "extension": r.extension,
        "moved_from_night": r.moved_from_night,
        "model_ready": rfc3339(r.morning.map_or(r.ready, |m| m.model_ready)),
        "ready_moved_h": ready_moved_h(a),
        "persisting_fatigue": r.morning.is_some_and(|m| m.persisting),
    })
}

/// Hours the morning check added to `ready` (0 when none).
pub(crate) fn ready_moved_h(a: &Assessment) -> f64 {
    a.recovery
        .morning
        .map_or(0.0, |m| m.moved_h(a.recovery.ready))
}

/// `show --format json` (INTERFACE.md, with its Additions).
#[must_use]
pub fn show_json(s: &Stored) -> Value {
    let act = &s.activity;
    let a = s.assessment.as_ref();
    json!({
        "id": s.id,
        "source": {"path": s.source_path, "format": act.format.as_str(), "sha256": s.sha256},
        "activity": {
            "sport": act.sport,
            "sub_sport": act.sub_sport,
            "name": act.name,
            "start": rfc3339(act.start),
            "end": rfc3339(act.end),
            "utc_offset_s": act.utc_offset_s,
            "elapsed_s": act.elapsed_s.round() as i64,
            "moving_s": act.moving_s.map(|m| m.round() as i64),
            "distance_m": act.distance_m.map(|d| (d * 10.0).round() / 10.0),
            "avg_hr": act.avg_hr.map(|h| h.round() as i64),
            "max_hr": act.max_hr.map(|h| h.round() as i64),
            "is_race": a.map(|a| a.race.is_some()),
            "race_source": a.and_then(|a| a.race_source).map(|r| r.as_str()),
            "local_day": a.map(|a| a.local_day.format("%Y-%m-%d").to_string()),
            "device": {"manufacturer": act.device.manufacturer, "product": act.device.product},
            "legs": act.legs,
            "warnings": act.warnings,
        },
        "athlete": a.map(|a| athlete_json(s, a)),
        "effort": a.map(|a| json!({
            "hr_source": a.effort.hr_source.as_str(),
            "trimp": a.effort.trimp.map(round1),
            "hrss": a.effort.hrss.map(round1),
            "edwards": a.effort.edwards.map(round1),
            "intensity_ratio": a.effort.intensity_ratio.map(|r| (r * 1000.0).round() / 1000.0),
            "class": a.effort.class.as_str(),
            "implausible": a.effort.implausible,
            "estimated_without_hr": a.effort.hr_source == HrSource::None,
            "device_recovery_hours": act.watch.recovery_time_min.map(|m| (f64::from(m) / 60.0).round() as i64),
            "device_training_effect": act.watch.total_training_effect,
        })),
        "recovery": a.map(recovery_json),
        "plan": a.map(|a| a.plan.iter().map(|i| json!({
            "tactic": i.tactic.as_str(),
            "start": rfc3339(i.start),
            "end": rfc3339(i.end),
            "text": i.text,
            "why": i.why,
            "dose": i.dose,
        })).collect::<Vec<_>>()),
    })
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// One `list --json` object.
#[must_use]
pub fn list_json(s: &Stored) -> Value {
    let act = &s.activity;
    let a = s.assessment.as_ref();
    json!({
        "id": s.id,
        "start": rfc3339(act.start),
        "sport": act.sport,
        "name": act.name,
        "elapsed_s": act.elapsed_s.round() as i64,
        "distance_m": act.distance_m.map(|d| (d * 10.0).round() / 10.0),
        "avg_hr": act.avg_hr.map(|h| h.round() as i64),
        "class": a.map(|a| a.effort.class.as_str()),
        "is_race": a.map(|a| a.race.is_some()),
        "ready_at": a.map(|a| rfc3339(a.recovery.ready_at)),
        "ready": a.map(|a| rfc3339(a.recovery.ready)),
        "easy_from": a.and_then(|a| a.recovery.easy_from).map(rfc3339),
        "ready_moved_h": a.map(ready_moved_h),
    })
}

/// The header row of `list`, aligned with [`list_line`].
#[must_use]
pub fn list_header() -> String {
    format!(
        "{:>5}  {:<16}  {:<13} {:>9} {:>12} {:>5}  {:<9} {}",
        "ID", "START", "ACTIVITY", "DISTANCE", "TIME", "HR", "EFFORT", "READY"
    )
}

/// One `list` text line: start in the file's own offset where it has one, `ready` in the zone.
#[must_use]
pub fn list_line(s: &Stored, tz: &TimeZone, now: DateTime<Utc>) -> String {
    let act = &s.activity;
    let a = s.assessment.as_ref();
    let class = a.map_or("-", |a| a.effort.class.as_str());
    let what = title(act, a.and_then(|a| a.race));
    format!(
        "{:>5}  {:<16}  {:<13} {:>9} {:>12} {:>5}  {:<9} {}",
        s.id,
        localtime::format(act.start, &localtime::start_zone(act, tz), "%Y-%m-%d %H:%M"),
        what,
        act.distance_m
            .map_or_else(|| "-".into(), |d| format!("{:.1} km", d / 1000.0)),
        duration(act.elapsed_s),
        act.avg_hr.map_or_else(|| "-".into(), |h| format!("{h:.0}")),
        class,
        a.map_or_else(String::new, |a| local_dated(a.recovery.ready, tz, now))
    )
}

/// Items lasting this long or more are all-day background in a calendar, not busy time.
const TRANSPARENT_FROM_H: i64 = 24;

/// `sequence` counts the event's revisions (RFC 5545 §3.8.7.4): the morning check's moves of
/// the ready event, so that a calendar replaces the event of the same UID.
fn ics_event(s: &Stored, stamp: &str, i: usize, item: &PlanItem, sequence: u8) -> Vec<String> {
    let end = if item.end > item.start {
        item.end
    } else {
        item.start + Duration::minutes(30)
    };
    let transparent = item.end - item.start >= Duration::hours(TRANSPARENT_FROM_H);
    let mut ev = vec![
        "BEGIN:VEVENT".to_string(),
        format!(
            "UID:recoverd-{}-{}-{}@localhost",
            &s.sha256[..s.sha256.len().min(16)],
            s.id,
            i
        ),
        format!("DTSTAMP:{stamp}"),
        format!("SEQUENCE:{sequence}"),
        format!("DTSTART:{}", ics_time(item.start)),
        format!("DTEND:{}", ics_time(end)),
        format!("SUMMARY:{}", ics_escape(&item.text)),
        format!("DESCRIPTION:{}", ics_escape(&item.why)),
        format!("CATEGORIES:{}", item.tactic.as_str()),
        format!(
            "TRANSP:{}",
            if transparent { "TRANSPARENT" } else { "OPAQUE" }
        ),
    ];
    if item.start - s.activity.end >= Duration::hours(1) {
        ev.extend([
            "BEGIN:VALARM".to_string(),
            "ACTION:DISPLAY".to_string(),
            "TRIGGER:-PT0M".to_string(),
            format!("DESCRIPTION:{}", ics_escape(&item.text)),
            "END:VALARM".to_string(),
        ]);
    }
    ev.push("END:VEVENT".to_string());
    ev
}

/// `show --format ics`: one event per plan item, with a reminder for those that start later.
/// The `return_to_training` event at `ready` is the same time every other view shows.
#[must_use]
pub fn show_ics(s: &Stored) -> String {
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//recoverd//recovery plan//EN\r\nCALSCALE:GREGORIAN\r\n",
    );
    let Some(a) = &s.assessment else {
        out.push_str("END:VCALENDAR\r\n");
        return out;
    };
    let stamp = ics_time(s.activity.end);
    let moves = a.recovery.morning.map_or(0, |m| m.moves);
    for (i, item) in a.plan.iter().enumerate() {
        let moved = item.tactic == Tactic::ReturnToTraining && item.start == a.recovery.ready;
        let sequence = if moved { moves } else { 0 };
        for line in ics_event(s, &stamp, i, item, sequence) {
            out.push_str(&ics_fold(&line));
        }
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

fn ics_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn ics_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// Folds a content line at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character.
fn ics_fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        let w = c.len_utf8();
        if width + w > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += w;
    }
    out.push_str("\r\n");
    out
}

/// The notification for one new activity: (summary, body), from stored data only.
#[must_use]
pub fn notification(s: &Stored, tz: &TimeZone) -> Option<(String, String)> {
    let a = s.assessment.as_ref()?;
    let summary = headline(s, a);
    let mut body: Vec<String> = ready_lines(a, tz)
        .into_iter()
        .rev()
        .map(|(label, when)| format!("{label}: {when}"))
        .collect();
    let now: Vec<&PlanItem> = a
        .plan
        .iter()
        .filter(|i| i.start - s.activity.end < Duration::hours(1) && i.tactic != Tactic::Rest)
        .take(3)
        .collect();
    for i in now {
        body.push(format!("• {}", i.text));
    }
    if a.effort.hr_source == HrSource::None {
        body.push("(No heart rate: estimated from moving time.)".into());
    }
    Some((summary, body.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn dates_outside_this_year_carry_the_year() {
        let tz = TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC);
        let now = at("2026-11-29T12:00:00Z");
        assert_eq!(
            local_dated(at("2026-04-20T12:00:00Z"), &tz, now),
            "Mon 20 Apr 14:00"
        );
        assert_eq!(
            local_dated(at("2024-12-03T08:00:00Z"), &tz, now),
            "Tue 3 Dec 2024 09:00"
        );
    }
}
