//! Output for people and programs: `show` as text, markdown, JSON and iCalendar; `list` rows.
//! Pure formatting of stored data: the local-time offset is an argument.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, FixedOffset, Timelike, Utc};
use serde_json::{Value, json};

use crate::effort::HrSource;
use crate::model::Activity;
use crate::plan::{self, Assessment, PlanItem, RaceKind, Tactic};
use crate::store::Stored;

/// The athlete's local offset for an activity: the file's own, else the given fallback.
#[must_use]
pub fn offset_for(a: &Activity, fallback: FixedOffset) -> FixedOffset {
    a.utc_offset_s
        .and_then(FixedOffset::east_opt)
        .unwrap_or(fallback)
}

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
        None => duration(a.moving_s.unwrap_or(a.elapsed_s)),
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

/// "Wed 22 Apr 07:30" in the athlete's local time: with the date, since recovery can end a week
/// or more later, and "Mon 14:32" read on a Monday means today.
#[must_use]
pub fn local_short(t: DateTime<Utc>, off: FixedOffset) -> String {
    t.with_timezone(&off).format("%a %-d %b %H:%M").to_string()
}

/// The day label of an item in the timeline.
fn day_label(item: &PlanItem, finish: DateTime<Utc>, off: FixedOffset) -> String {
    let start = item.start.with_timezone(&off);
    let fin = finish.with_timezone(&off);
    let days = (start.date_naive() - fin.date_naive()).num_days();
    if item.start - finish < Duration::minutes(60) {
        "Now".into()
    } else if days == 0 {
        if start.hour() >= 17 {
            "Tonight".into()
        } else {
            "Later today".into()
        }
    } else if days == 1 {
        "Tomorrow".into()
    } else {
        start.format("%A %-d %b").to_string()
    }
}

fn window(item: &PlanItem, off: FixedOffset) -> String {
    let s = item.start.with_timezone(&off);
    let e = item.end.with_timezone(&off);
    if item.end <= item.start {
        s.format("%H:%M").to_string()
    } else if s.date_naive() == e.date_naive() {
        format!("{}–{}", s.format("%H:%M"), e.format("%H:%M"))
    } else {
        format!("{} → {}", s.format("%H:%M"), e.format("%a %H:%M"))
    }
}

fn headline(s: &Stored, a: &Assessment) -> String {
    let act = &s.activity;
    format!(
        "{}, {}: {} effort",
        title(act, a.race),
        size(act),
        a.effort.class.words()
    )
}

fn facts(s: &Stored, a: &Assessment, off: FixedOffset) -> Vec<String> {
    let act = &s.activity;
    let mut lines = vec![format!(
        "{} · {} · {}",
        act.start.with_timezone(&off).format("%a %-d %b %Y, %H:%M"),
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
    if let Some(min) = act.watch.recovery_time_min {
        lines.push(format!(
            "Your watch says {} h of recovery; ours is {} h.",
            (f64::from(min) / 60.0).round(),
            a.recovery.hours
        ));
    }
    lines
}

/// `show --format text`: a day-by-day timeline in the athlete's local time.
#[must_use]
pub fn show_text(s: &Stored, off: FixedOffset) -> String {
    let Some(a) = &s.assessment else {
        return format!(
            "Activity {}: not assessed yet (run `recoverd replan`).\n",
            s.id
        );
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(s, a));
    for l in facts(s, a, off) {
        let _ = writeln!(out, "  {l}");
    }
    for (label, item) in timeline(s, a, off) {
        if let Some(label) = label {
            let _ = writeln!(out, "\n{label}");
        }
        let _ = writeln!(out, "  {:<17} {}", window(item, off), item.text);
    }
    let _ = writeln!(out);
    if a.recovery.easy_only_until.is_some() {
        let _ = writeln!(out, "Easy running from: {}", local_short(easy_from(a), off));
    }
    let _ = writeln!(
        out,
        "Ready for hard training: {}",
        local_short(plan::hard_training_from(&a.recovery), off)
    );
    out
}

/// The plan items in order, each with its day label when it opens a new day group.
fn timeline<'a>(
    s: &Stored,
    a: &'a Assessment,
    off: FixedOffset,
) -> impl Iterator<Item = (Option<String>, &'a PlanItem)> {
    let end = s.activity.end;
    let mut last = String::new();
    a.plan.iter().map(move |item| {
        let label = day_label(item, end, off);
        let new = (label != last).then(|| label.clone());
        last = label;
        (new, item)
    })
}

fn easy_from(a: &Assessment) -> DateTime<Utc> {
    a.plan
        .iter()
        .find(|i| i.tactic == Tactic::ReturnToTraining)
        .map_or(a.recovery.ready_at, |i| i.start)
}

/// `show --format markdown`.
#[must_use]
pub fn show_markdown(s: &Stored, off: FixedOffset) -> String {
    let Some(a) = &s.assessment else {
        return format!("# Activity {}\n\nNot assessed yet.\n", s.id);
    };
    let mut out = format!("# {}\n\n", headline(s, a));
    for l in facts(s, a, off) {
        let _ = writeln!(out, "- {l}");
    }
    for (label, item) in timeline(s, a, off) {
        if let Some(label) = label {
            let _ = writeln!(out, "\n## {label}\n");
        }
        let _ = writeln!(
            out,
            "- **{}** {} — _{}_",
            window(item, off),
            item.text,
            item.why
        );
    }
    let _ = writeln!(
        out,
        "\n**Ready for hard training:** {}",
        local_short(plan::hard_training_from(&a.recovery), off)
    );
    out
}

/// `show --format json` (INTERFACE.md).
#[must_use]
pub fn show_json(s: &Stored) -> Value {
    let act = &s.activity;
    let a = s.assessment.as_ref();
    let is_race = a.map(|a| a.race.is_some());
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
            "is_race": is_race,
            "device": {"manufacturer": act.device.manufacturer, "product": act.device.product},
            "legs": act.legs,
            "warnings": act.warnings,
        },
        "athlete": a.map(|a| json!({
            "max_hr": a.athlete.max_hr.value.round() as i64,
            "resting_hr": a.athlete.resting_hr.value.round() as i64,
            "threshold_hr": (a.athlete.threshold_hr.value * 10.0).round() / 10.0,
            "sex": a.athlete.sex.as_str(),
            "weight_kg": a.athlete.weight_kg,
            "sources": {
                "max_hr": a.athlete.max_hr.source.as_str(),
                "resting_hr": a.athlete.resting_hr.source.as_str(),
                "threshold_hr": a.athlete.threshold_hr.source.as_str(),
            }
        })),
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
        "recovery": a.map(|a| json!({
            "hours": a.recovery.hours,
            "ready_at": rfc3339(a.recovery.ready_at),
            "easy_only_until": a.recovery.easy_only_until.map(rfc3339),
            "long_race": a.recovery.long_race,
            "extension": a.recovery.extension,
        })),
        "plan": a.map(|a| a.plan.iter().map(|i| json!({
            "tactic": i.tactic.as_str(),
            "start": rfc3339(i.start),
            "end": rfc3339(i.end),
            "text": i.text,
            "why": i.why,
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
    json!({
        "id": s.id,
        "start": rfc3339(act.start),
        "sport": act.sport,
        "elapsed_s": act.elapsed_s.round() as i64,
        "distance_m": act.distance_m.map(|d| (d * 10.0).round() / 10.0),
        "avg_hr": act.avg_hr.map(|h| h.round() as i64),
        "class": s.assessment.as_ref().map(|a| a.effort.class.as_str()),
        "ready_at": s.assessment.as_ref().map(|a| rfc3339(a.recovery.ready_at)),
    })
}

/// One `list` text line.
#[must_use]
pub fn list_line(s: &Stored, off: FixedOffset) -> String {
    let act = &s.activity;
    let class = s
        .assessment
        .as_ref()
        .map_or("-", |a| a.effort.class.as_str());
    format!(
        "{:>5}  {}  {:<11} {:>9} {:>12} {:>5}  {:<9} {}",
        s.id,
        act.start.with_timezone(&off).format("%Y-%m-%d %H:%M"),
        act.sport,
        act.distance_m
            .map_or_else(|| "-".into(), |d| format!("{:.1} km", d / 1000.0)),
        duration(act.elapsed_s),
        act.avg_hr.map_or_else(|| "-".into(), |h| format!("{h:.0}")),
        class,
        s.assessment.as_ref().map_or_else(String::new, |a| format!(
            "ready {}",
            local_short(a.recovery.ready_at, off)
        ))
    )
}

/// `show --format ics`: one event per plan item, with a reminder for those that start later.
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
    for (i, item) in a.plan.iter().enumerate() {
        let end = if item.end > item.start {
            item.end
        } else {
            item.start + Duration::minutes(30)
        };
        let mut ev = vec![
            "BEGIN:VEVENT".to_string(),
            format!(
                "UID:recoverd-{}-{}-{}@localhost",
                &s.sha256[..s.sha256.len().min(16)],
                s.id,
                i
            ),
            format!("DTSTAMP:{stamp}"),
            format!("DTSTART:{}", ics_time(item.start)),
            format!("DTEND:{}", ics_time(end)),
            format!("SUMMARY:{}", ics_escape(&item.text)),
            format!("DESCRIPTION:{}", ics_escape(&item.why)),
            format!("CATEGORIES:{}", item.tactic.as_str()),
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
        for line in ev {
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
pub fn notification(s: &Stored, off: FixedOffset) -> Option<(String, String)> {
    let a = s.assessment.as_ref()?;
    let summary = headline(s, a);
    let mut body = Vec::new();
    let hard_from = plan::hard_training_from(&a.recovery);
    body.push(format!(
        "Ready for hard training: {}",
        local_short(hard_from, off)
    ));
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
