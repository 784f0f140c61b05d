//! The morning notification's words (MODEL.md §7, INTERFACE.md "Additions"): which day after
//! the activity, the verdict with each signal against the runner's normal, what to do today,
//! and the (possibly moved) ready time. Pure: plain inputs, text out; the service gathers the
//! inputs ([`crate::daemon`]) and sends the text ([`crate::notifier`]).

use crate::model::{Flag, Normal, Verdict};

/// The buttons of the morning notification: (action key, label, the feel it records).
pub const FEEL_ACTIONS: [(&str, &str, u8); 4] = [
    ("very_sore", "Very sore", 1),
    ("sore", "Sore", 2),
    ("normal", "Normal", 3),
    ("fresh", "Fresh", 4),
];

/// The feel an action key records (1 very sore … 4 fresh), or `None` for any other key.
#[must_use]
pub fn feel_of_action(action: &str) -> Option<u8> {
    FEEL_ACTIONS
        .iter()
        .find(|(key, _, _)| *key == action)
        .map(|&(_, _, n)| n)
}

/// Added to the text where the notification server shows no buttons.
pub const ANSWER_HINT: &str = "Answer with `recoverd feel N` (1 very sore … 5 great).";

/// What the morning notification says, from stored data only.
#[derive(Debug, Clone, PartialEq)]
pub struct MorningFacts {
    /// Days since the activity's local day (1: the day after).
    pub day_n: i64,
    /// "10K race", "Berlin Marathon", "12.3 km run": see [`activity_words`].
    pub activity: String,
    /// Today's verdict, when the morning was judged.
    pub verdict: Option<Verdict>,
    /// The signals raised today.
    pub flags: Vec<Flag>,
    /// The normal today was judged against.
    pub normal: Normal,
    /// Last night's resting HR, bpm.
    pub rhr: Option<u16>,
    /// Last night's RMSSD, ms.
    pub hrv_ms: Option<f64>,
    /// The runner's answer for today, when already given.
    pub feel: Option<u8>,
    /// The plan's items for today, each as "time: what to do".
    pub today: Vec<String>,
    /// The ready time in local time ("Wed 22 Apr 06:00").
    pub ready: String,
    /// The ready time has come (a recovered morning before it is "on track", not "recovered").
    pub ready_passed: bool,
    /// The planned ready in local time, when the morning check moved it later.
    pub planned: Option<String>,
    /// Not recovered on a 4th morning at or after ready: rest, and see a doctor if unwell.
    pub persisting: bool,
}

/// How an activity is named in "Day N after your …": the race's own name or its race words for
/// a race, else its size and kind in lower case ("12.3 km run", "1 h 05 min ride").
#[must_use]
pub fn activity_words(title: &str, size: &str, race: bool, name: Option<&str>) -> String {
    if race {
        let own = name
            .map(|n| n.chars().filter(|c| !c.is_control()).collect::<String>())
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty() && n.chars().count() <= 48);
        return own.unwrap_or_else(|| lower_first(title));
    }
    format!("{size} {}", title.to_lowercase())
}

/// "Marathon" → "marathon", "10K race" stays.
fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_lowercase().chain(c).collect::<String>()
    })
}

/// The summary and body of the morning notification; `hint` adds [`ANSWER_HINT`] (a server
/// without buttons).
#[must_use]
pub fn text(f: &MorningFacts, hint: bool) -> (String, String) {
    let state = match f.verdict {
        Some(Verdict::NotRecovered) => "not recovered yet",
        Some(Verdict::Recovered) if f.ready_passed => "recovered",
        Some(Verdict::Recovered) => "on track",
        Some(Verdict::Unknown) | None => "how do your legs feel?",
    };
    let summary = format!("Day {} after your {}: {state}", f.day_n, f.activity);
    let mut body = Vec::new();
    let signals = signal_words(f);
    if signals.is_empty() {
        body.push("No night data from your watch this morning.".to_string());
    } else {
        body.push(format!("{}.", capitalise(&signals.join("; "))));
    }
    if f.persisting {
        body.push(crate::morning::PERSISTING.to_string());
    }
    if !f.today.is_empty() {
        body.push("Today:".to_string());
        body.extend(f.today.iter().map(|t| format!("• {t}")));
    } else if f.verdict == Some(Verdict::NotRecovered) {
        body.push("Today: keep it easy (rest, or easy running only).".to_string());
    }
    let moved = f.planned.as_ref().map_or_else(String::new, |p| {
        format!(" (moved from {p} by your mornings)")
    });
    body.push(format!(
        "Ready for hard training and racing: {}{moved}",
        f.ready
    ));
    body.push(match f.feel {
        Some(n) => format!("You said your legs feel {} today.", feel_words(n)),
        None => "How do your legs feel?".to_string(),
    });
    if hint {
        body.push(ANSWER_HINT.to_string());
    }
    (summary, body.join("\n"))
}

/// "resting HR 53, +5 over your normal 48", "HRV 44 ms, under your normal 55 ms".
fn signal_words(f: &MorningFacts) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(rhr) = f.rhr {
        out.push(match f.normal.rhr_mean.filter(|m| m.is_finite()) {
            Some(mean) => {
                let normal = mean.round();
                let diff = f64::from(rhr) - normal;
                if diff >= 0.5 {
                    format!("resting HR {rhr}, +{diff:.0} over your normal {normal:.0}")
                } else if diff <= -0.5 {
                    format!(
                        "resting HR {rhr}, {:.0} under your normal {normal:.0}",
                        -diff
                    )
                } else {
                    format!("resting HR {rhr}, at your normal")
                }
            }
            None => {
                format!("resting HR {rhr} (no normal yet: it needs 14 nights before the activity)")
            }
        });
    }
    if let Some(hrv) = f.hrv_ms.filter(|v| v.is_finite() && *v > 0.0) {
        out.push(
            match f
                .normal
                .ln_rmssd_mean
                .map(f64::exp)
                .filter(|m| m.is_finite())
            {
                Some(normal) => {
                    let side = if f.flags.contains(&Flag::HrvLow) || hrv.round() < normal.round() {
                        "under"
                    } else if hrv.round() > normal.round() {
                        "over"
                    } else {
                        "at"
                    };
                    format!("HRV {hrv:.0} ms, {side} your normal {normal:.0} ms")
                }
                None => format!("HRV {hrv:.0} ms (no normal yet)"),
            },
        );
    }
    if f.flags.contains(&Flag::FeelLow) {
        out.push("your legs are sore".to_string());
    }
    out
}

fn feel_words(n: u8) -> &'static str {
    match n {
        1 => "very sore",
        2 => "sore",
        3 => "normal",
        4 => "fresh",
        _ => "great",
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().chain(c).collect::<String>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MODEL.md §7's vector: normal RHR 48 ± 2, ln RMSSD 4.00 ± 0.10; RHR 53, RMSSD 44 ms.
    fn vector() -> MorningFacts {
        MorningFacts {
            day_n: 2,
            activity: activity_words("10K race", "10.0 km", true, None),
            verdict: Some(Verdict::NotRecovered),
            flags: vec![Flag::RhrHigh, Flag::HrvLow],
            normal: Normal {
                rhr_mean: Some(48.0),
                rhr_sd: Some(2.0),
                ln_rmssd_mean: Some(4.0),
                ln_rmssd_sd: Some(0.1),
            },
            rhr: Some(53),
            hrv_ms: Some(44.0),
            feel: None,
            today: vec!["all day: Easy walking or an easy spin only".to_string()],
            ready: "Thu 23 Apr 06:00".to_string(),
            ready_passed: false,
            planned: Some("Wed 22 Apr 14:00".to_string()),
            persisting: false,
        }
    }

    #[test]
    fn the_vector_morning_names_the_day_the_numbers_today_and_the_moved_ready() {
        let (summary, body) = text(&vector(), false);
        assert_eq!(summary, "Day 2 after your 10K race: not recovered yet");
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(
            lines[0],
            "Resting HR 53, +5 over your normal 48; HRV 44 ms, under your normal 55 ms."
        );
        assert_eq!(lines[1], "Today:");
        assert_eq!(lines[2], "• all day: Easy walking or an easy spin only");
        assert_eq!(
            lines[3],
            "Ready for hard training and racing: Thu 23 Apr 06:00 (moved from Wed 22 Apr 14:00 by \
             your mornings)"
        );
        assert_eq!(lines[4], "How do your legs feel?");
        assert!(!body.contains("recoverd feel"));
    }

    #[test]
    fn without_buttons_the_text_says_how_to_answer() {
        let (_, body) = text(&vector(), true);
        assert!(body.ends_with(ANSWER_HINT), "{body}");
    }

    #[test]
    fn without_any_data_it_still_asks_how_the_legs_feel() {
        let f = MorningFacts {
            verdict: None,
            flags: vec![],
            rhr: None,
            hrv_ms: None,
            planned: None,
            today: vec![],
            activity: activity_words("Run", "12.3 km", false, Some("Morning Run")),
            ..vector()
        };
        let (summary, body) = text(&f, false);
        assert_eq!(
            summary,
            "Day 2 after your 12.3 km run: how do your legs feel?"
        );
        assert_eq!(
            body,
            "No night data from your watch this morning.\n\
             Ready for hard training and racing: Thu 23 Apr 06:00\nHow do your legs feel?"
        );
    }

    #[test]
    fn recovered_at_and_under_normal_and_without_a_normal() {
        let f = MorningFacts {
            verdict: Some(Verdict::Recovered),
            flags: vec![],
            rhr: Some(46),
            hrv_ms: Some(54.6),
            ..vector()
        };
        let (summary, body) = text(&f, false);
        assert!(summary.ends_with(": on track"), "before ready: {summary}");
        let (summary, _) = text(
            &MorningFacts {
                ready_passed: true,
                ..f.clone()
            },
            false,
        );
        assert!(summary.ends_with(": recovered"), "{summary}");
        assert!(
            body.starts_with(
                "Resting HR 46, 2 under your normal 48; HRV 55 ms, at your normal 55 ms."
            ),
            "{body}"
        );
        let f = MorningFacts {
            normal: Normal::default(),
            verdict: Some(Verdict::Unknown),
            feel: Some(2),
            ..f
        };
        let (_, body) = text(&f, false);
        assert!(
            body.contains("resting HR 46 (no normal yet")
                || body.contains("Resting HR 46 (no normal yet"),
            "{body}"
        );
        assert!(body.contains("HRV 55 ms (no normal yet)"), "{body}");
        assert!(
            body.ends_with("You said your legs feel sore today."),
            "{body}"
        );
    }

    #[test]
    fn a_bad_morning_past_the_plan_still_says_what_to_do_today() {
        let f = MorningFacts {
            today: vec![],
            ..vector()
        };
        let (_, body) = text(&f, false);
        assert!(
            body.contains("\nToday: keep it easy (rest, or easy running only).\n"),
            "{body}"
        );
    }

    #[test]
    fn persisting_fatigue_is_said_plainly() {
        let f = MorningFacts {
            persisting: true,
            ..vector()
        };
        let (_, body) = text(&f, false);
        assert!(body.contains(crate::morning::PERSISTING), "{body}");
        assert!(body.contains("see a doctor"), "{body}");
    }

    #[test]
    fn race_names_race_words_only_for_races() {
        assert_eq!(
            activity_words("Marathon", "42.2 km", true, None),
            "marathon"
        );
        assert_eq!(
            activity_words("Marathon", "42.2 km", true, Some(" Berlin Marathon\n")),
            "Berlin Marathon"
        );
        assert_eq!(
            activity_words("Run", "21.1 km", false, Some("Half marathon")),
            "21.1 km run"
        );
        assert_eq!(
            activity_words("Ride", "1 h 05 min", false, None),
            "1 h 05 min ride"
        );
    }

    #[test]
    fn actions_record_one_to_four() {
        assert_eq!(feel_of_action("very_sore"), Some(1));
        assert_eq!(feel_of_action("sore"), Some(2));
        assert_eq!(feel_of_action("normal"), Some(3));
        assert_eq!(feel_of_action("fresh"), Some(4));
        assert_eq!(feel_of_action("default"), None);
        assert_eq!(feel_of_action("great"), None);
    }
}
