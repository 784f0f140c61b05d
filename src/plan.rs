//! The recovery plan: the article's tactics, dosed by the evidence in `shared/science/MODEL.md`
//! §6 and timed from the finish. Pure: the activity, its effort and the athlete go in, a list of
//! timed items comes out. Also [`evaluate`], which runs the whole judgement for one activity.
//!
//! Must not touch: files, the database, the clock, logging.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::effort::{
    self, Athlete, AthleteSettings, Effort, EffortClass, HrSource, LongRace, Recovery,
};
use crate::model::Activity;

/// The article's tactics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tactic {
    /// Walk it off; easy non-impact movement later.
    KeepMoving,
    /// Cold-water immersion.
    IceBath,
    /// Water and salt, not beer.
    Hydrate,
    /// Real food: carbohydrate and protein.
    HealthyEating,
    /// Compression socks or tights.
    Compression,
    /// Legs up above the heart.
    Elevation,
    /// Light massage.
    LightMassage,
    /// Gentle foam rolling, later.
    FoamRoller,
    /// Time: the only real cure.
    Rest,
    /// When hard training (or easy running) can resume.
    ReturnToTraining,
}

impl Tactic {
    /// The id used in JSON and the database.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::KeepMoving => "keep_moving",
            Self::IceBath => "ice_bath",
            Self::Hydrate => "hydrate",
            Self::HealthyEating => "healthy_eating",
            Self::Compression => "compression",
            Self::Elevation => "elevation",
            Self::LightMassage => "light_massage",
            Self::FoamRoller => "foam_roller",
            Self::Rest => "rest",
            Self::ReturnToTraining => "return_to_training",
        }
    }

    /// Parses [`Tactic::as_str`].
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "keep_moving" => Self::KeepMoving,
            "ice_bath" => Self::IceBath,
            "hydrate" => Self::Hydrate,
            "healthy_eating" => Self::HealthyEating,
            "compression" => Self::Compression,
            "elevation" => Self::Elevation,
            "light_massage" => Self::LightMassage,
            "foam_roller" => Self::FoamRoller,
            "rest" => Self::Rest,
            "return_to_training" => Self::ReturnToTraining,
            _ => return None,
        })
    }
}

/// One timed step of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanItem {
    /// Which tactic.
    pub tactic: Tactic,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When its window closes (equal to `start` for a moment in time).
    pub end: DateTime<Utc>,
    /// What to do, one sentence with the dose.
    pub text: String,
    /// Why, one line.
    pub why: String,
}

/// A recognised race distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RaceKind {
    /// 5 km
    FiveK,
    /// 10 km
    TenK,
    /// 21.1 km
    Half,
    /// 42.2 km
    Marathon,
    /// Marked as a race by the file, at another distance.
    Other,
}

impl RaceKind {
    /// Words for people.
    #[must_use]
    pub const fn words(self) -> &'static str {
        match self {
            Self::FiveK => "5K",
            Self::TenK => "10K",
            Self::Half => "half marathon",
            Self::Marathon => "marathon",
            Self::Other => "race",
        }
    }
}

/// Race detection: a running activity at class ≥ hard whose distance is within 3 % of a
/// standard race distance, or that the file marks as a race.
#[must_use]
pub fn race_kind(activity: &Activity, class: EffortClass) -> Option<RaceKind> {
    if activity.sport != "running" || class < EffortClass::Hard {
        return None;
    }
    let d = activity.distance_m.unwrap_or(0.0);
    let near = |target: f64| (d - target).abs() <= 0.03 * target;
    let kind = if near(5_000.0) {
        Some(RaceKind::FiveK)
    } else if near(10_000.0) {
        Some(RaceKind::TenK)
    } else if near(21_097.5) {
        Some(RaceKind::Half)
    } else if near(42_195.0) {
        Some(RaceKind::Marathon)
    } else {
        None
    };
    kind.or(activity.marked_race.then_some(RaceKind::Other))
}

/// What the stored history says, for the judgement of one activity.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Highest 10-s rolling mean heart rate across stored activities (this one included).
    pub observed_max_hr: Option<f64>,
    /// HRSS per local day for the other stored activities.
    pub daily_loads: Vec<(NaiveDate, f64)>,
}

/// Everything we judge about one activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The physiology used.
    pub athlete: Athlete,
    /// The effort.
    pub effort: Effort,
    /// The recovery window.
    pub recovery: Recovery,
    /// Whether this was a race, and which.
    pub race: Option<RaceKind>,
    /// The plan.
    pub plan: Vec<PlanItem>,
}

/// Judges one activity: physiology, effort, recovery window (with the history extension) and plan.
#[must_use]
pub fn evaluate(activity: &Activity, settings: &AthleteSettings, history: &History) -> Assessment {
    let athlete = effort::resolve_athlete(
        settings,
        &activity.watch,
        history.observed_max_hr,
        activity.start.year(),
    );
    let eff = effort::assess(activity, &athlete);
    let day = effort::local_day(activity.start, activity.utc_offset_s);
    let mut loads = history.daily_loads.clone();
    if let Some(h) = eff.hrss.filter(|_| !eff.implausible) {
        loads.push((day, h));
    }
    let pmc = effort::pmc_on(&loads, day);
    let recovery = effort::recovery(activity, &eff, pmc.as_ref());
    let race = race_kind(activity, eff.class);
    let plan = build(activity, &eff, &recovery, race, &athlete);
    Assessment {
        athlete,
        effort: eff,
        recovery,
        race,
        plan,
    }
}

/// True for strength work, after which cold water blunts adaptation.
fn is_strength(activity: &Activity) -> bool {
    activity.sport == "training"
        || activity
            .sub_sport
            .as_deref()
            .is_some_and(|s| s.contains("strength"))
}

/// Litres of fluid: 1.25–1.5 × estimated sweat loss (1.0 L/h, 1.5 L/h above 25 °C).
#[must_use]
pub fn fluid_litres(moving_s: f64, temperature_c: Option<f64>) -> (f64, f64) {
    let rate = if temperature_c.is_some_and(|t| t > 25.0) {
        1.5
    } else {
        1.0
    };
    let loss = rate * moving_s.max(0.0) / 3600.0;
    let round = |v: f64| (v * 10.0).round() / 10.0;
    (round(1.25 * loss), round(1.5 * loss))
}

/// Builds the plan (MODEL.md §6).
#[must_use]
pub fn build(
    activity: &Activity,
    eff: &Effort,
    recovery: &Recovery,
    race: Option<RaceKind>,
    athlete: &Athlete,
) -> Vec<PlanItem> {
    let end = activity.end;
    let at = |h: f64| end + Duration::seconds((h * 3600.0).round() as i64);
    let class = eff.class;
    let hard = class >= EffortClass::Hard;
    let what = race.map_or_else(
        || "this session".to_string(),
        |r| format!("your {}", r.words()),
    );
    let moving_s = activity
        .moving_s
        .filter(|m| *m > 0.0)
        .unwrap_or(activity.elapsed_s);
    let long = moving_s >= 150.0 * 60.0;
    let mut items = Vec::new();
    let mut push = |tactic, start, end, text: String, why: &str| {
        items.push(PlanItem {
            tactic,
            start,
            end,
            text,
            why: why.to_string(),
        });
    };

    push(
        Tactic::KeepMoving,
        at(0.0),
        at(0.5),
        "Walk for 10–15 minutes to cool down; don't sit down straight away.".into(),
        "Light movement right after helps you recover and eases stiffness (Dupuy 2018).",
    );
    if hard && !is_strength(activity) {
        push(
            Tactic::IceBath,
            at(0.0),
            at(3.0),
            "Ice bath: 10–15 min at about 13 °C (55 °F), as soon as you can.".into(),
            "Cold water at 11–15 °C for 10–15 min eases soreness after hard endurance efforts \
             (Machado 2016); it still helps if it waits a few hours.",
        );
    }
    let (lo, hi) = fluid_litres(moving_s, activity.avg_temperature_c);
    let hydrate_h = if long { 12.0 } else { 4.0 };
    let hot = activity.avg_temperature_c.is_some_and(|t| t > 25.0);
    let drink = if hi < 0.5 {
        "Drink a glass or two of water".to_string()
    } else {
        format!("Drink {lo:.1}–{hi:.1} L of water over the next {hydrate_h:.0} hours")
    };
    let salt = if hard || long || hot {
        ", with something salty or an electrolyte drink"
    } else {
        ""
    };
    let beer = if hard {
        " No beer (4 % or more) until you have rehydrated."
    } else {
        ""
    };
    push(
        Tactic::Hydrate,
        at(0.0),
        at(hydrate_h),
        format!("{drink}{salt}.{beer}"),
        if hot {
            "You sweated about 1.5 L an hour in the heat; replace 125–150 % of it (ACSM 2007). \
             Drinks of 4 % alcohol or more slow rehydration (Shirreffs 1997)."
        } else {
            "You lost about 1 L of sweat an hour; replace 125–150 % of it (ACSM 2007). \
             Drinks of 4 % alcohol or more slow rehydration (Shirreffs 1997)."
        },
    );
    if class >= EffortClass::Moderate {
        let text = match athlete.weight_kg.filter(|w| (30.0..=250.0).contains(w)) {
            Some(kg) => format!(
                "Eat real food: {:.0}–{:.0} g of carbohydrate an hour for the next 4 hours, and \
                 {:.0}–{:.0} g of protein within 2 hours.",
                1.0 * kg,
                1.2 * kg,
                0.25 * kg,
                0.3 * kg
            ),
            None => {
                "Eat a real meal with carbohydrate and some protein within the next few hours, \
                     not finish-line junk."
                    .into()
            }
        };
        push(
            Tactic::HealthyEating,
            at(0.0),
            at(4.0),
            text,
            "1.0–1.2 g/kg of carbohydrate an hour for 4 h and 0.25–0.3 g/kg of protein refill \
             you fastest (ACSM/AND/DC 2016).",
        );
    }
    if hard {
        let until = if class == EffortClass::Max {
            48.0
        } else {
            24.0
        };
        push(
            Tactic::Compression,
            at(1.0),
            at(until),
            "Wear compression socks or tights.".into(),
            "May ease soreness and fatigue (Hill 2014); it does not speed strength recovery.",
        );
        push(
            Tactic::Elevation,
            at(2.0),
            at(24.0),
            "Lie down with your feet above your heart for 10–20 minutes.".into(),
            "For comfort and swelling; the evidence is thin but the risk is nil.",
        );
        push(
            Tactic::LightMassage,
            at(2.0),
            at(48.0),
            "A light massage is fine; nothing deep today.".into(),
            "Light massage eases soreness and fatigue (Dupuy 2018); deep work can add damage.",
        );
        push(
            Tactic::KeepMoving,
            at(24.0),
            at(72.0),
            "Easy, low-impact movement for 20–40 minutes: walk, cycle or swim.".into(),
            "Active recovery reduces soreness more than lying still (Dupuy 2018).",
        );
        let from = if class == EffortClass::Hard {
            24.0
        } else {
            48.0
        };
        push(
            Tactic::FoamRoller,
            at(from),
            at(120.0),
            "Gentle foam rolling, a few minutes per muscle, once the worst soreness has passed."
                .into(),
            "Rolling reduces soreness at 24–72 h (Zhou 2024); wait while you are very sore.",
        );
    }
    let soreness_h: f64 = match class {
        EffortClass::Easy => 8.0,
        EffortClass::Moderate => 24.0,
        EffortClass::Hard => 48.0,
        EffortClass::VeryHard | EffortClass::Max => 72.0,
    };
    let rest_h = soreness_h.max(f64::from(recovery.hours));
    let rest_text = if hard {
        format!(
            "Rest and sleep well: after {what}, soreness peaks 24–72 hours out. Time is what heals."
        )
    } else {
        "Sleep well tonight; that is all the recovery this needs.".into()
    };
    push(
        Tactic::Rest,
        at(0.0),
        at(rest_h),
        rest_text,
        "Muscle soreness peaks 24–72 h after a hard effort and fades within 5–7 days (Cheung 2003).",
    );

    let estimated = if eff.hr_source == HrSource::None {
        " (estimated from moving time: no heart rate)"
    } else {
        ""
    };
    let ext_why = recovery.extension.as_ref().map(|e| {
        format!(
            " Your recent training load is high (form {:.0}), so {} rest day{} were added.",
            e.tsb,
            e.rest_days,
            if e.rest_days == 1 { "" } else { "s" }
        )
    });
    let base_why = format!(
        "{} h from the load of {what}{estimated}; 96 h at most.{}",
        recovery.hours,
        ext_why.unwrap_or_default()
    );
    match (recovery.long_race, recovery.easy_only_until) {
        (Some(kind), Some(until)) => {
            let easy_from = if kind == LongRace::Marathon {
                at(48.0)
            } else {
                recovery.ready_at.min(until)
            };
            push(
                Tactic::ReturnToTraining,
                easy_from,
                easy_from,
                "Easy running is fine from now if nothing hurts; no hard sessions or races yet."
                    .into(),
                &format!(
                    "{base_why} Easy running from 48 h does not slow recovery after a marathon \
                     (Martínez-Navarro 2021)."
                ),
            );
            let why = match kind {
                LongRace::Marathon => {
                    "Muscle damage markers settle by day 6 and aerobic capacity is back by day 7 \
                     after a marathon (Bernat-Adell 2021)."
                }
                LongRace::HalfMarathon => {
                    "About 3 days of easy running, extrapolated from marathon recovery data: no \
                     study of the half marathon exists."
                }
            };
            push(
                Tactic::ReturnToTraining,
                until.max(recovery.ready_at),
                until.max(recovery.ready_at),
                "Ready for hard training and racing again.".into(),
                why,
            );
        }
        _ => {
            push(
                Tactic::ReturnToTraining,
                recovery.ready_at,
                recovery.ready_at,
                "Ready for a hard session again.".into(),
                &base_why,
            );
        }
    }
    items.sort_by_key(|i| (i.start, i.tactic == Tactic::ReturnToTraining, i.end));
    items
}

/// When hard training can resume: the end of the easy-only window for long races, else `ready_at`.
#[must_use]
pub fn hard_training_from(recovery: &Recovery) -> DateTime<Utc> {
    recovery
        .easy_only_until
        .map_or(recovery.ready_at, |u| u.max(recovery.ready_at))
}
