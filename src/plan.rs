//! The recovery plan: the article's tactics, dosed by the evidence in `shared/science/MODEL.md`
//! §6 and timed from the finish. Pure: the activity, its effort and the athlete go in, a list of
//! timed items comes out. Also [`evaluate`], which runs the whole judgement for one activity,
//! and [`race`], which says whether an activity was a race (MODEL.md §4).
//!
//! Must not touch: files, the database, the clock, logging.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::effort::{
    self, Athlete, AthleteSettings, Effort, EffortClass, HrSource, LongRace, Peak, Recovery,
};
use crate::localtime;
use crate::model::Activity;

/// The article's tactics.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
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
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses [`Tactic::as_str`].
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// The amounts a plan item names, for programs (`show --json` → `dose`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dose {
    /// Litres to drink, low and high.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub litres: Option<[f64; 2]>,
    /// Grams of carbohydrate per hour, low and high.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carb_g_per_h: Option<[f64; 2]>,
    /// Grams of protein, low and high.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protein_g: Option<[f64; 2]>,
    /// Minutes, low and high.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<[f64; 2]>,
    /// Water temperature, °C, low and high.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub celsius: Option<[f64; 2]>,
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
    /// The amounts in the text, where it names some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<Dose>,
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
    /// A race at another distance.
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

/// Who said an activity was a race (MODEL.md §4).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RaceSource {
    /// A race word in its name.
    Name,
    /// The file or an export's index flags it.
    Export,
    /// A run within ±3 % of a race distance at class ≥ very hard.
    Distance,
    /// The runner: `recoverd mark ID race`.
    Marked,
}

impl RaceSource {
    /// The JSON name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Race words in a name, in several languages (§4): whole words only.
const RACE_WORDS: &[&str] = &[
    "race",
    "marathon",
    "half",
    "halfmarathon",
    "halbmarathon",
    "parkrun",
    "5k",
    "10k",
    "15k",
    "lauf",
    "carrera",
    "course",
    "maraton",
    "maratona",
];

/// The race distances of §4, metres.
const RACE_DISTANCES: &[(f64, RaceKind)] = &[
    (5_000.0, RaceKind::FiveK),
    (10_000.0, RaceKind::TenK),
    (21_097.5, RaceKind::Half),
    (42_195.0, RaceKind::Marathon),
];

fn words(name: &str) -> impl Iterator<Item = String> + '_ {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// True when a name has a race word.
#[must_use]
pub fn name_is_race(name: &str) -> bool {
    words(name).any(|w| RACE_WORDS.contains(&w.as_str()))
}

fn kind_by_distance(a: &Activity) -> Option<RaceKind> {
    let d = a.distance_m.filter(|d| d.is_finite())?;
    RACE_DISTANCES
        .iter()
        .find(|(target, _)| (d - target).abs() <= 0.03 * target)
        .map(|&(_, k)| k)
}

fn kind_by_name(a: &Activity) -> RaceKind {
    let w: Vec<String> = a
        .name
        .as_deref()
        .map(|n| words(n).collect())
        .unwrap_or_default();
    let has = |x: &str| w.iter().any(|v| v == x);
    if has("half") || has("halfmarathon") || has("halbmarathon") {
        RaceKind::Half
    } else if has("marathon") || has("maraton") || has("maratona") {
        RaceKind::Marathon
    } else if has("10k") {
        RaceKind::TenK
    } else if has("5k") || has("parkrun") {
        RaceKind::FiveK
    } else {
        RaceKind::Other
    }
}

/// Whether an activity was a race, which, and who said so. `marked` is the runner's word
/// (`recoverd mark`), which overrides everything else.
#[must_use]
pub fn race(
    a: &Activity,
    class: EffortClass,
    marked: Option<bool>,
) -> Option<(RaceKind, RaceSource)> {
    let source = match marked {
        Some(false) => return None,
        Some(true) => RaceSource::Marked,
        None if a.name.as_deref().is_some_and(name_is_race) => RaceSource::Name,
        None if a.marked_race => RaceSource::Export,
        None if a.sport == "running"
            && class >= EffortClass::VeryHard
            && kind_by_distance(a).is_some() =>
        {
            RaceSource::Distance
        }
        None => return None,
    };
    let kind = kind_by_distance(a).unwrap_or_else(|| kind_by_name(a));
    Some((kind, source))
}

/// What the stored history says, for the judgement of one activity.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// 10-s peaks of stored activities (others than this one); the window is chosen here.
    pub peaks: Vec<Peak>,
    /// HRSS per local day for the other stored activities.
    pub daily_loads: Vec<(NaiveDate, f64)>,
    /// The runner said it was a race (`true`) or training (`false`).
    pub marked_race: Option<bool>,
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
    /// Who said it was a race.
    #[serde(default)]
    pub race_source: Option<RaceSource>,
    /// The local calendar day it counts for in daily loads (§5).
    #[serde(default)]
    pub local_day: NaiveDate,
    /// The plan.
    pub plan: Vec<PlanItem>,
}

/// Judges one activity in the runner's time zone: physiology, effort, race, recovery window
/// (with the history extension and the one `ready`) and plan.
#[must_use]
pub fn evaluate(
    activity: &Activity,
    settings: &AthleteSettings,
    history: &History,
    tz: &TimeZone,
) -> Assessment {
    let year = activity.start.year();
    let mut peaks = history.peaks.clone();
    if let Some(bpm) = effort::peak_10s(&activity.hr) {
        peaks.push(Peak {
            id: None,
            start: activity.start,
            bpm,
        });
    }
    let check = effort::confirmed_peak(
        &peaks,
        activity.start,
        effort::peak_ceiling(settings.birth_year, year),
    );
    let athlete = effort::resolve_athlete(settings, &activity.watch, &check, year);
    let eff = effort::assess(activity, &athlete);
    let day = localtime::activity_day(activity, tz);
    let mut loads = history.daily_loads.clone();
    if let Some(h) = eff.load() {
        loads.push((day, h));
    }
    let pmc = effort::pmc_on(&loads, day);
    let race = race(activity, eff.class, history.marked_race);
    let recovery = effort::recovery(activity, &eff, pmc.as_ref(), race.is_some(), tz);
    let plan = build(activity, &eff, &recovery, race.map(|r| r.0), &athlete);
    Assessment {
        athlete,
        effort: eff,
        recovery,
        race: race.map(|r| r.0),
        race_source: race.map(|r| r.1),
        local_day: day,
        plan,
    }
}

/// MODEL.md §6's doses, one place.
mod dose {
    /// Cool-down walk, minutes; none after a session shorter than `COOL_DOWN_FROM_MIN`.
    pub const COOL_DOWN_MIN: [f64; 2] = [10.0, 15.0];
    pub const COOL_DOWN_FROM_MIN: f64 = 20.0;
    /// Easy non-impact movement on days 1–2, minutes.
    pub const MOVEMENT_MIN: [f64; 2] = [20.0, 40.0];
    /// Cold-water immersion: minutes and °C, within this many hours.
    pub const ICE_MIN: [f64; 2] = [10.0, 15.0];
    pub const ICE_C: [f64; 2] = [11.0, 15.0];
    pub const ICE_WITHIN_H: f64 = 3.0;
    /// Sweat, L/h (hot: mean temperature above `HOT_C`); intake on the way for sessions of
    /// `INTAKE_FROM_MIN` or more, L/h.
    pub const SWEAT_L_PER_H: f64 = 1.0;
    pub const SWEAT_HOT_L_PER_H: f64 = 1.5;
    pub const HOT_C: f64 = 25.0;
    pub const INTAKE_L_PER_H: f64 = 0.4;
    pub const INTAKE_FROM_MIN: f64 = 60.0;
    /// Deficit bounds: at least this; at most 3 % of body mass, else 2.5 L.
    pub const DEFICIT_MIN_L: f64 = 0.3;
    pub const DEFICIT_CAP_SHARE: f64 = 0.03;
    pub const DEFICIT_CAP_L: f64 = 2.5;
    /// Replace 125–150 % of the deficit.
    pub const REPLACE: [f64; 2] = [1.25, 1.5];
    /// Hydrate window, hours (the long one from `LONG_MIN`).
    pub const HYDRATE_H: f64 = 4.0;
    pub const HYDRATE_LONG_H: f64 = 12.0;
    pub const LONG_MIN: f64 = 150.0;
    /// Food: g carbohydrate per kg per hour for 4 h; g protein per kg within 2 h.
    pub const CARB_G_PER_KG_H: [f64; 2] = [1.0, 1.2];
    pub const PROTEIN_G_PER_KG: [f64; 2] = [0.25, 0.3];
    pub const EAT_H: f64 = 4.0;
    /// Compression 1–24 h (48 h after a max effort); elevation 2–24 h; massage 2–48 h.
    pub const COMPRESSION_H: [f64; 2] = [1.0, 24.0];
    pub const COMPRESSION_MAX_END_H: f64 = 48.0;
    pub const ELEVATION_H: [f64; 2] = [2.0, 24.0];
    pub const MASSAGE_H: [f64; 2] = [2.0, 48.0];
    /// Foam roller from 48 h (24 h after a hard effort) to 5 days.
    pub const ROLLER_FROM_H: f64 = 48.0;
    pub const ROLLER_HARD_FROM_H: f64 = 24.0;
    pub const ROLLER_TO_H: f64 = 120.0;
    /// Movement on days 1–2 after a hard effort.
    pub const MOVEMENT_H: [f64; 2] = [24.0, 72.0];
}

/// §6's fluid deficit in litres: sweat less what was drunk on the way, at least 0.3 L, capped at
/// 3 % of body mass (else 2.5 L).
#[must_use]
pub fn fluid_deficit(moving_s: f64, temperature_c: Option<f64>, weight_kg: Option<f64>) -> f64 {
    let hours = moving_s.max(0.0) / 3600.0;
    let sweat = if temperature_c.is_some_and(|t| t > dose::HOT_C) {
        dose::SWEAT_HOT_L_PER_H
    } else {
        dose::SWEAT_L_PER_H
    };
    let intake = if hours * 60.0 >= dose::INTAKE_FROM_MIN {
        dose::INTAKE_L_PER_H
    } else {
        0.0
    };
    let cap = weight_kg
        .filter(|w| (30.0..=250.0).contains(w))
        .map_or(dose::DEFICIT_CAP_L, |w| dose::DEFICIT_CAP_SHARE * w);
    ((sweat - intake) * hours).max(dose::DEFICIT_MIN_L).min(cap)
}

/// Litres to drink: 1.25–1.5 × the deficit, rounded to 0.1 L.
#[must_use]
pub fn fluid_litres(deficit_l: f64) -> (f64, f64) {
    // The epsilon keeps 2.175 (1.74 × 1.25, stored as 2.17499…) rounding up as on paper.
    let round = |v: f64| ((v * 10.0) + 1e-6).round() / 10.0;
    (
        round(dose::REPLACE[0] * deficit_l),
        round(dose::REPLACE[1] * deficit_l),
    )
}

/// What a plan is built from.
struct Ctx<'a> {
    activity: &'a Activity,
    eff: &'a Effort,
    recovery: &'a Recovery,
    race: Option<RaceKind>,
    athlete: &'a Athlete,
    moving_s: f64,
}

impl Ctx<'_> {
    fn at(&self, h: f64) -> DateTime<Utc> {
        self.activity.end + Duration::seconds((h * 3600.0).round() as i64)
    }

    fn hard(&self) -> bool {
        self.eff.class >= EffortClass::Hard
    }

    fn long(&self) -> bool {
        self.moving_s >= dose::LONG_MIN * 60.0
    }

    fn hot(&self) -> bool {
        self.activity
            .avg_temperature_c
            .is_some_and(|t| t > dose::HOT_C)
    }

    /// "your half marathon" for a race; "this 21.5 km run" for anything else.
    fn what(&self) -> String {
        if let Some(r) = self.race {
            return format!("your {}", r.words());
        }
        let noun = match self.activity.sport.as_str() {
            "running" => "run",
            "cycling" => "ride",
            "swimming" => "swim",
            "walking" => "walk",
            "hiking" => "hike",
            _ => "session",
        };
        match self.activity.distance_m.filter(|d| *d >= 100.0) {
            Some(d) => format!("this {:.1} km {noun}", d / 1000.0),
            None => format!("this {noun}"),
        }
    }

    fn item(&self, tactic: Tactic, from_h: f64, to_h: f64, text: String, why: &str) -> PlanItem {
        PlanItem {
            tactic,
            start: self.at(from_h),
            end: self.at(to_h),
            text,
            why: why.to_string(),
            dose: None,
        }
    }
}

/// Builds the plan (MODEL.md §6): one function per tactic.
#[must_use]
pub fn build(
    activity: &Activity,
    eff: &Effort,
    recovery: &Recovery,
    race: Option<RaceKind>,
    athlete: &Athlete,
) -> Vec<PlanItem> {
    let moving_s = activity.duration_s();
    let c = Ctx {
        activity,
        eff,
        recovery,
        race,
        athlete,
        moving_s,
    };
    let mut items: Vec<PlanItem> = Vec::new();
    items.extend(keep_moving(&c));
    items.extend(ice_bath(&c));
    items.push(hydrate(&c));
    items.extend(healthy_eating(&c));
    items.extend(compression(&c));
    items.extend(elevation(&c));
    items.extend(light_massage(&c));
    items.extend(foam_roller(&c));
    items.push(rest(&c));
    items.extend(return_to_training(&c));
    items.sort_by_key(|i| (i.start, i.tactic == Tactic::ReturnToTraining, i.end));
    items
}

fn keep_moving(c: &Ctx<'_>) -> Vec<PlanItem> {
    let mut out = Vec::new();
    if c.moving_s >= dose::COOL_DOWN_FROM_MIN * 60.0 {
        let [lo, hi] = dose::COOL_DOWN_MIN;
        let mut item = c.item(
            Tactic::KeepMoving,
            0.0,
            0.5,
            format!("Walk for {lo:.0}–{hi:.0} minutes to cool down; don't sit down straight away."),
            "Light movement right after helps you recover and eases stiffness (Dupuy 2018).",
        );
        item.dose = Some(Dose {
            minutes: Some([lo, hi]),
            ..Dose::default()
        });
        out.push(item);
    }
    if c.hard() {
        let [lo, hi] = dose::MOVEMENT_MIN;
        let [from, to] = dose::MOVEMENT_H;
        out.push(c.item(
            Tactic::KeepMoving,
            from,
            to,
            format!("Easy, low-impact movement for {lo:.0}–{hi:.0} minutes: walk, cycle or swim."),
            "Active recovery reduces soreness more than lying still (Dupuy 2018).",
        ));
    }
    out
}

/// True for strength work, after which cold water blunts adaptation.
fn is_strength(activity: &Activity) -> bool {
    activity.sport == "training"
        || activity
            .sub_sport
            .as_deref()
            .is_some_and(|s| s.contains("strength"))
}

fn ice_bath(c: &Ctx<'_>) -> Option<PlanItem> {
    if !c.hard() || is_strength(c.activity) {
        return None;
    }
    let ([m0, m1], [c0, c1]) = (dose::ICE_MIN, dose::ICE_C);
    let mut item = c.item(
        Tactic::IceBath,
        0.0,
        dose::ICE_WITHIN_H,
        format!("Ice bath: {m0:.0}–{m1:.0} min at about 13 °C (55 °F), as soon as you can."),
        "Cold water at 11–15 °C for 10–15 min eases soreness after hard endurance efforts \
         (Machado 2016); it still helps if it waits a few hours.",
    );
    item.dose = Some(Dose {
        minutes: Some([m0, m1]),
        celsius: Some([c0, c1]),
        ..Dose::default()
    });
    Some(item)
}

fn hydrate(c: &Ctx<'_>) -> PlanItem {
    let deficit = fluid_deficit(
        c.moving_s,
        c.activity.avg_temperature_c,
        c.athlete.weight_kg,
    );
    let (lo, hi) = fluid_litres(deficit);
    let hours = if c.long() {
        dose::HYDRATE_LONG_H
    } else {
        dose::HYDRATE_H
    };
    let text = format!(
        "Drink {lo:.1}–{hi:.1} L over the next {hours:.0} hours, with something salty or an \
         electrolyte drink; no beer (4 % or more) until you have rehydrated. To be exact, weigh \
         yourself before and after and drink 1.25–1.5 L per kg lost."
    );
    let sweat = if c.hot() {
        "about 1.5 L of sweat an hour in the heat"
    } else {
        "about 1 L of sweat an hour"
    };
    let drunk = if c.moving_s >= dose::INTAKE_FROM_MIN * 60.0 {
        ", less about 0.4 L an hour drunk on the way"
    } else {
        ""
    };
    let why = format!(
        "You are about {deficit:.1} L short ({sweat}{drunk}); replacing 125–150 % of it \
         rehydrates you (ACSM 2007). Drinks of 4 % alcohol or more slow that (Shirreffs 1997)."
    );
    let mut item = c.item(Tactic::Hydrate, 0.0, hours, text, &why);
    item.dose = Some(Dose {
        litres: Some([lo, hi]),
        ..Dose::default()
    });
    item
}

fn healthy_eating(c: &Ctx<'_>) -> Option<PlanItem> {
    if c.eff.class < EffortClass::Moderate {
        return None;
    }
    let weight = c.athlete.weight_kg.filter(|w| (30.0..=250.0).contains(w));
    let carb = weight.map(|kg| dose::CARB_G_PER_KG_H.map(|g| (g * kg).round()));
    let protein = weight.map(|kg| dose::PROTEIN_G_PER_KG.map(|g| (g * kg).round()));
    let text = match (carb, protein) {
        (Some([c0, c1]), Some([p0, p1])) => format!(
            "Eat real food: {c0:.0}–{c1:.0} g of carbohydrate an hour for the next 4 hours, and \
             {p0:.0}–{p1:.0} g of protein within 2 hours."
        ),
        _ if c.race.is_some() => "Eat a real meal with carbohydrate and some protein within the \
                                  next few hours, not finish-line junk."
            .into(),
        _ => "Eat a real meal with carbohydrate and some protein within the next few hours.".into(),
    };
    let mut item = c.item(
        Tactic::HealthyEating,
        0.0,
        dose::EAT_H,
        text,
        "1.0–1.2 g/kg of carbohydrate an hour for 4 h and 0.25–0.3 g/kg of protein refill \
         you fastest (ACSM/AND/DC 2016).",
    );
    item.dose = weight.map(|_| Dose {
        carb_g_per_h: carb,
        protein_g: protein,
        ..Dose::default()
    });
    Some(item)
}

fn compression(c: &Ctx<'_>) -> Option<PlanItem> {
    let [from, mut to] = dose::COMPRESSION_H;
    if c.eff.class == EffortClass::Max {
        to = dose::COMPRESSION_MAX_END_H;
    }
    c.hard().then(|| {
        c.item(
            Tactic::Compression,
            from,
            to,
            "Wear compression socks or tights.".into(),
            "May ease soreness and fatigue (Hill 2014); it does not speed strength recovery.",
        )
    })
}

fn elevation(c: &Ctx<'_>) -> Option<PlanItem> {
    let [from, to] = dose::ELEVATION_H;
    c.hard().then(|| {
        c.item(
            Tactic::Elevation,
            from,
            to,
            "Lie down with your feet above your heart for 10–20 minutes.".into(),
            "For comfort and swelling; the evidence is thin but the risk is nil.",
        )
    })
}

fn light_massage(c: &Ctx<'_>) -> Option<PlanItem> {
    let [from, to] = dose::MASSAGE_H;
    c.hard().then(|| {
        c.item(
            Tactic::LightMassage,
            from,
            to,
            "A light massage is fine; nothing deep today.".into(),
            "Light massage eases soreness and fatigue (Dupuy 2018); deep work can add damage.",
        )
    })
}

fn foam_roller(c: &Ctx<'_>) -> Option<PlanItem> {
    let from = if c.eff.class == EffortClass::Hard {
        dose::ROLLER_HARD_FROM_H
    } else {
        dose::ROLLER_FROM_H
    };
    c.hard().then(|| {
        c.item(
            Tactic::FoamRoller,
            from,
            dose::ROLLER_TO_H,
            "Gentle foam rolling, a few minutes per muscle, once the worst soreness has passed."
                .into(),
            "Rolling reduces soreness at 24–72 h (Zhou 2024); wait while you are very sore.",
        )
    })
}

fn rest(c: &Ctx<'_>) -> PlanItem {
    let soreness_h: f64 = match c.eff.class {
        EffortClass::Easy => 8.0,
        EffortClass::Moderate => 24.0,
        EffortClass::Hard => 48.0,
        EffortClass::VeryHard | EffortClass::Max => 72.0,
    };
    let rest_h = soreness_h.max(f64::from(c.recovery.hours));
    let text = if c.hard() {
        format!(
            "Rest and sleep well: after {}, soreness peaks 24–72 hours out. Time is what heals.",
            c.what()
        )
    } else {
        "Sleep well tonight; that is all the recovery this needs.".into()
    };
    let why = if c.hard() {
        "Muscle soreness peaks 24–72 h after a hard effort and fades within 5–7 days (Cheung 2003)."
    } else {
        "Sleep is when the body repairs; a session like this needs no more than a good night."
    };
    c.item(Tactic::Rest, 0.0, rest_h, text, why)
}

/// Why `ready` is when it is: the load, any extension, the night rule.
fn ready_why(c: &Ctx<'_>) -> String {
    let r = c.recovery;
    let estimated = if c.eff.hr_source == HrSource::None {
        " (estimated from moving time: no heart rate)"
    } else {
        ""
    };
    let ext = r.extension.as_ref().map_or_else(String::new, |e| {
        format!(
            " Your recent training load is high (form {:.0} after it; {} rest day{} bring it back \
             to −10), so {} h were added.",
            e.tsb,
            e.rest_days,
            if e.rest_days == 1 { "" } else { "s" },
            e.hours
        )
    });
    let night = if r.moved_from_night {
        " Moved out of the night to 06:00."
    } else {
        ""
    };
    format!(
        "{} h from the load of {}{estimated}; 96 h at most.{ext}{night}",
        r.hours - r.extension.as_ref().map_or(0, |e| e.hours),
        c.what()
    )
}

fn return_to_training(c: &Ctx<'_>) -> Vec<PlanItem> {
    let r = c.recovery;
    let moment = |t: DateTime<Utc>, text: &str, why: String| PlanItem {
        tactic: Tactic::ReturnToTraining,
        start: t,
        end: t,
        text: text.to_string(),
        why,
        dose: None,
    };
    let mut out = Vec::new();
    if let Some(easy) = r.easy_from {
        let why = if r.long_race == Some(LongRace::Marathon) {
            "Easy running from 48 h does not slow recovery after a marathon \
             (Martínez-Navarro 2021)."
                .to_string()
        } else {
            format!(
                "{} Easy running only for the first days after a half marathon.",
                ready_why(c)
            )
        };
        out.push(moment(
            easy,
            "Easy running is fine from now if nothing hurts; no hard sessions or races yet.",
            why,
        ));
    }
    let why = match r.long_race {
        Some(LongRace::Marathon) => format!(
            "{} Muscle damage markers settle by day 6 and aerobic capacity is back by day 7 \
             after a marathon (Bernat-Adell 2021).",
            ready_why(c)
        ),
        Some(LongRace::HalfMarathon) => format!(
            "{} Then about 3 days of easy running, extrapolated from marathon recovery data: \
             no study of the half marathon exists.",
            ready_why(c)
        ),
        None => ready_why(c),
    };
    let text = if c.race.is_some() {
        "Ready for hard training and racing again."
    } else {
        "Ready for a hard session again."
    };
    out.push(moment(r.ready, text, why));
    out
}

/// When hard training and racing can resume: the one `ready` (§4).
#[must_use]
pub const fn hard_training_from(recovery: &Recovery) -> DateTime<Utc> {
    recovery.ready
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fluid_deficit_vectors() {
        // Marathon 3 h 24 min, no temperature → 2.04 L → 2.6–3.1 L.
        let d = fluid_deficit(3.4 * 3600.0, None, None);
        assert!((d - 2.04).abs() < 1e-9, "{d}");
        assert_eq!(fluid_litres(d), (2.6, 3.1));
        // 45 min easy → 0.75 L → 0.9–1.1 L.
        let d = fluid_deficit(45.0 * 60.0, None, None);
        assert!((d - 0.75).abs() < 1e-9, "{d}");
        assert_eq!(fluid_litres(d), (0.9, 1.1));
        // Half 1 h 36 min at 28 °C, 58 kg → 1.76 L capped at 1.74 L → 2.2–2.6 L.
        let d = fluid_deficit(96.0 * 60.0, Some(28.0), Some(58.0));
        assert!((d - 1.74).abs() < 1e-9, "{d}");
        assert_eq!(fluid_litres(d), (2.2, 2.6));
        // Short sessions still get 0.3 L; with no weight the cap is 2.5 L.
        assert!((fluid_deficit(600.0, None, None) - 0.3).abs() < 1e-9);
        assert!((fluid_deficit(8.0 * 3600.0, Some(30.0), None) - 2.5).abs() < 1e-9);
    }

    fn run(km: f64, name: Option<&str>, flagged: bool) -> Activity {
        let start = DateTime::<Utc>::default();
        Activity {
            format: crate::model::Format::Gpx,
            name: name.map(Into::into),
            distance_m: Some(km * 1000.0),
            marked_race: flagged,
            ..Activity::test_run(start, 6000.0, vec![])
        }
    }

    #[test]
    fn races_and_who_said_so() {
        use EffortClass::{Hard, VeryHard};
        // Distance: within ±3 % and very hard or harder.
        assert_eq!(race(&run(21.5, None, false), Hard, None), None);
        assert_eq!(
            race(&run(21.5, None, false), VeryHard, None),
            Some((RaceKind::Half, RaceSource::Distance))
        );
        assert_eq!(race(&run(22.0, None, false), VeryHard, None), None);
        assert_eq!(
            race(&run(10.2, None, false), EffortClass::Max, None),
            Some((RaceKind::TenK, RaceSource::Distance))
        );
        // The name, whatever the class.
        assert_eq!(
            race(&run(21.5, Some("City Half Marathon"), false), Hard, None),
            Some((RaceKind::Half, RaceSource::Name))
        );
        assert_eq!(
            race(&run(8.0, Some("Spring race"), false), Hard, None),
            Some((RaceKind::Other, RaceSource::Name))
        );
        // The file's flag; the runner's word over everything.
        assert_eq!(
            race(&run(15.0, None, true), Hard, None),
            Some((RaceKind::Other, RaceSource::Export))
        );
        assert_eq!(
            race(
                &run(21.1, Some("City Half Marathon"), true),
                VeryHard,
                Some(false)
            ),
            None
        );
        assert_eq!(
            race(&run(12.0, None, false), Hard, Some(true)),
            Some((RaceKind::Other, RaceSource::Marked))
        );
        // Not a run: no distance rule.
        let mut ride = run(42.2, None, false);
        ride.sport = "cycling".into();
        assert_eq!(race(&ride, EffortClass::Max, None), None);
    }

    #[test]
    fn race_words_are_whole_words() {
        assert!(name_is_race("City Half Marathon"));
        assert!(name_is_race("Saturday parkrun"));
        assert!(name_is_race("Berliner Lauf"));
        assert!(!name_is_race("Easy run, embraced the rain"));
        assert!(!name_is_race("Racetrack laps"));
    }
}
