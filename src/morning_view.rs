//! The morning check for people and programs (MODEL.md §7, INTERFACE.md "Additions"): the
//! `days` table and JSON, a window's mornings in `show`, and today's verdict in `status`. Pure
//! formatting of stored data; the time zone is an argument.

use std::fmt::Write as _;

use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::model::{DaySignals, Flag, Morning, Normal, Verdict};
use crate::morning;

/// One judged morning with the signals it was judged on.
#[derive(Debug, Clone, PartialEq)]
pub struct MorningDay {
    /// The judgement.
    pub morning: Morning,
    /// The day's signals (all absent for a day with none stored).
    pub signals: DaySignals,
}

/// The mornings of a window with their days' signals (`days` may hold other days too).
#[must_use]
pub fn join(mornings: Vec<Morning>, days: &[DaySignals]) -> Vec<MorningDay> {
    mornings
        .into_iter()
        .map(|m| {
            let signals = days
                .iter()
                .find(|d| d.day == m.day)
                .cloned()
                .unwrap_or_else(|| morning::empty_day(m.day));
            MorningDay {
                morning: m,
                signals,
            }
        })
        .collect()
}

/// The words for a feel answer.
#[must_use]
pub fn feel_words(feel: u8) -> &'static str {
    match feel {
        1 => "very sore or exhausted",
        2 => "sore or tired",
        3 => "normal",
        4 => "fresh",
        5 => "great",
        _ => "unknown",
    }
}

/// "not recovered", "recovered", "unknown".
#[must_use]
pub fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::Recovered => "recovered",
        Verdict::NotRecovered => "not recovered",
        Verdict::Unknown => "unknown",
    }
}

/// The normal RMSSD in ms (e^μ), and its range e^(μ ± σ).
fn hrv_normal(n: &Normal) -> Option<(f64, f64, f64)> {
    let (mu, sd) = (n.ln_rmssd_mean?, n.ln_rmssd_sd?);
    Some((mu.exp(), (mu - sd).exp(), (mu + sd).exp()))
}

/// Each signal of a day against the normal: "resting HR 53 (normal 48 ± 2)", "HRV 44 ms
/// (normal 55 ms, 50–60)", "feel 3, normal".
#[must_use]
pub fn signal_parts(d: &DaySignals, n: &Normal) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(rhr) = d.rhr {
        out.push(match (n.rhr_mean, n.rhr_sd) {
            (Some(mean), Some(sd)) => format!("resting HR {rhr} (normal {mean:.0} ± {sd:.0})"),
            _ => format!("resting HR {rhr} (no normal yet: fewer than 14 nights before)"),
        });
    }
    if let Some(hrv) = d.hrv_rmssd_ms {
        out.push(match hrv_normal(n) {
            Some((mid, lo, hi)) => {
                format!("HRV {hrv:.0} ms (normal {mid:.0} ms, {lo:.0}–{hi:.0})")
            }
            None => format!("HRV {hrv:.0} ms (no normal yet: fewer than 14 nights before)"),
        });
    }
    if let Some(feel) = d.feel {
        out.push(format!("feel {feel}, {}", feel_words(feel)));
    }
    out
}

/// The signal flags as JSON names (persisting is its own key).
fn flag_names(flags: &[Flag]) -> Vec<&'static str> {
    flags
        .iter()
        .filter(|f| **f != Flag::Persisting)
        .map(|f| f.into())
        .collect()
}

fn round_to(v: Option<f64>, places: i32) -> Option<f64> {
    let k = 10f64.powi(places);
    v.filter(|v| v.is_finite()).map(|v| (v * k).round() / k)
}

/// The normal as JSON (INTERFACE.md).
#[must_use]
pub fn normal_json(n: &Normal) -> Value {
    json!({
        "rhr_mean": round_to(n.rhr_mean, 3),
        "rhr_sd": round_to(n.rhr_sd, 3),
        "ln_rmssd_mean": round_to(n.ln_rmssd_mean, 4),
        "ln_rmssd_sd": round_to(n.ln_rmssd_sd, 4),
    })
}

/// One `days --json` object: the day's signals, and the verdict and normal of the window that
/// judged it (`null` outside every window).
#[must_use]
pub fn day_json(d: &DaySignals, judged: Option<&(i64, Morning)>) -> Value {
    let m = judged.map(|(_, m)| m);
    json!({
        "day": d.day.format("%Y-%m-%d").to_string(),
        "rhr": d.rhr,
        "rhr_source": d.rhr_source.map(<&str>::from),
        "rhr_monitoring": round_to(d.rhr_monitoring, 1),
        "rhr_watch": d.rhr_watch,
        "hrv_rmssd_ms": round_to(d.hrv_rmssd_ms, 1),
        "hrv_source": d.hrv_source.map(<&str>::from),
        "feel": d.feel,
        "verdict": m.map(|m| <&str>::from(m.verdict)),
        "flags": m.map_or_else(Vec::new, |m| flag_names(&m.flags)),
        "persisting": m.is_some_and(|m| m.flags.contains(&Flag::Persisting)),
        "normal": m.map(|m| normal_json(&m.normal)),
        "activity_id": judged.map(|(id, _)| *id),
    })
}

/// The header of the `days` table, aligned with [`day_line`].
#[must_use]
pub fn days_header() -> String {
    format!(
        "{:<10}  {:<13} {:>5}  {:<16} {:<4}  {:<13} {:<24} {}",
        "DAY", "RESTING HR", "WATCH", "HRV", "FEEL", "VERDICT", "FLAGS", "NORMAL"
    )
}

/// One `days` row: resting HR with its source, the watch's own value beside it, HRV, feel, and
/// the verdict with the normal it was judged against.
#[must_use]
pub fn day_line(d: &DaySignals, judged: Option<&(i64, Morning)>) -> String {
    let dash = || "-".to_string();
    let rhr = d.rhr.map_or_else(dash, |r| {
        format!("{r} {}", d.rhr_source.map_or("", <&str>::from))
    });
    let hrv = d.hrv_rmssd_ms.map_or_else(dash, |h| {
        format!(
            "{h:.0} ms {}",
            d.hrv_source
                .map_or("", <&str>::from)
                .replace("hrv_status", "status")
                .replace("hrv_values", "values")
        )
    });
    let m = judged.map(|(_, m)| m);
    let mut flags = m.map_or_else(Vec::new, |m| flag_names(&m.flags)).join(",");
    if m.is_some_and(|m| m.flags.contains(&Flag::Persisting)) {
        flags.push_str(if flags.is_empty() {
            "persisting"
        } else {
            ",persisting"
        });
    }
    format!(
        "{:<10}  {:<13} {:>5}  {:<16} {:<4}  {:<13} {:<24} {}",
        d.day.format("%Y-%m-%d"),
        rhr,
        d.rhr_watch.map_or_else(dash, |w| w.to_string()),
        hrv,
        d.feel.map_or_else(dash, |f| f.to_string()),
        m.map_or("-", |m| verdict_words(m.verdict)),
        if flags.is_empty() { dash() } else { flags },
        m.map_or_else(String::new, |m| normal_words(&m.normal)),
    )
}

/// "HR 48 ± 2, HRV 55 ms (50–60)", or what is missing.
#[must_use]
pub fn normal_words(n: &Normal) -> String {
    if n.rhr_mean.is_none() && n.ln_rmssd_mean.is_none() {
        return "none yet (under 14 nights in the 60 days before)".to_string();
    }
    let rhr = match (n.rhr_mean, n.rhr_sd) {
        (Some(mean), Some(sd)) => format!("HR {mean:.0} ± {sd:.0}"),
        _ => "HR -".to_string(),
    };
    let hrv = hrv_normal(n).map_or_else(
        || "HRV -".to_string(),
        |(mid, lo, hi)| format!("HRV {mid:.0} ms ({lo:.0}–{hi:.0})"),
    );
    format!("{rhr}, {hrv}")
}

/// One morning as JSON for `show`'s `recovery.mornings`.
#[must_use]
pub fn morning_json(md: &MorningDay) -> Value {
    let (m, d) = (&md.morning, &md.signals);
    let t = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "day": m.day.format("%Y-%m-%d").to_string(),
        "verdict": <&str>::from(m.verdict),
        "flags": flag_names(&m.flags),
        "persisting": m.flags.contains(&Flag::Persisting),
        "rhr": d.rhr,
        "rhr_source": d.rhr_source.map(<&str>::from),
        "hrv_rmssd_ms": round_to(d.hrv_rmssd_ms, 1),
        "hrv_source": d.hrv_source.map(<&str>::from),
        "feel": d.feel,
        "normal": normal_json(&m.normal),
        "ready_before": t(m.ready_before),
        "ready_after": t(m.ready_after),
    })
}

/// Adds the window's mornings to a `show --format json` object as `recovery.mornings`.
pub fn add_to_show_json(v: &mut Value, days: &[MorningDay]) {
    if let Some(rec) = v.get_mut("recovery").and_then(Value::as_object_mut) {
        rec.insert(
            "mornings".into(),
            Value::Array(days.iter().map(morning_json).collect()),
        );
    }
}

/// One morning for people: "Thu 23 Apr  not recovered  resting HR 53 (normal 48 ± 2) · …",
/// and where it moved `ready`.
#[must_use]
pub fn morning_line(md: &MorningDay, tz: &TimeZone) -> String {
    let (m, d) = (&md.morning, &md.signals);
    let parts = signal_parts(d, &m.normal);
    let mut line = format!(
        "{:<10}  {:<13}  {}",
        m.day.format("%a %-d %b"),
        verdict_words(m.verdict),
        if parts.is_empty() {
            "no data".to_string()
        } else {
            parts.join(" · ")
        }
    );
    if m.ready_after > m.ready_before {
        let _ = write!(
            line,
            " → ready moved to {}",
            crate::render::local_short(m.ready_after, tz)
        );
    } else if m.flags.contains(&Flag::Persisting) {
        line.push_str(" → persisting fatigue");
    }
    line
}

/// The mornings section of `show --format text` (nothing when no morning was judged).
#[must_use]
pub fn mornings_text(days: &[MorningDay], tz: &TimeZone) -> String {
    let mut out = String::new();
    if days.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\nMorning check");
    for md in days {
        let _ = writeln!(out, "  {}", morning_line(md, tz));
    }
    out
}

/// The mornings section of `show --format markdown`.
#[must_use]
pub fn mornings_markdown(days: &[MorningDay], tz: &TimeZone) -> String {
    let mut out = String::new();
    if days.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\n## Morning check\n");
    for md in days {
        let _ = writeln!(out, "- {}", morning_line(md, tz));
    }
    out
}

/// `status`'s line on today's morning: the verdict and each signal against the normal.
#[must_use]
pub fn status_line(d: &DaySignals, judged: Option<&(i64, Morning)>) -> String {
    match judged {
        Some((_, m)) => {
            let parts = signal_parts(d, &m.normal);
            format!(
                "This morning: {}: {}.",
                verdict_words(m.verdict),
                parts.join(", ")
            )
        }
        None if d.rhr.is_none() && d.hrv_rmssd_ms.is_none() && d.feel.is_none() => {
            format!(
                "This morning: no data yet. How do your legs feel? {}",
                crate::announce::morning::ANSWER_HINT
            )
        }
        None => {
            let mut parts = Vec::new();
            parts.extend(d.rhr.map(|r| format!("resting HR {r}")));
            parts.extend(d.hrv_rmssd_ms.map(|h| format!("HRV {h:.0} ms")));
            parts.extend(d.feel.map(|f| format!("feel {f}, {}", feel_words(f))));
            format!(
                "This morning: {} (no recovery window open: nothing to judge).",
                parts.join(", ")
            )
        }
    }
}

/// `status --json`'s `morning`: today's signals, verdict and normal.
#[must_use]
pub fn status_json(d: &DaySignals, judged: Option<&(i64, Morning)>) -> Value {
    day_json(d, judged)
}
