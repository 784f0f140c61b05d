//! Charts as SVG, drawn with `plotters` on its SVG backend: heart rate over time with the zone
//! bands and the best 20-min window ([`hr`]), time in each zone ([`zones`]), the plan as a
//! timeline in the runner's local time ([`plan`]) and fitness / fatigue / form over 90 days
//! ([`pmc`]), and the morning check of a recovery window: resting HR and HRV against the
//! runner's normal band, each morning's verdict and the moved `ready` ([`morning`]). The numbers come from the pure model ([`crate::effort`]); this module only draws.
//!
//! Each function returns a bare SVG whose colours read on a white background; [`themed`] adds
//! the style that turns its black text light where the viewer prefers a dark scheme (the page
//! carries the same rules once, [`THEME_CSS`]).

mod hr;
mod morning;
mod plan;
mod pmc;
mod zones;

pub use hr::hr;
pub use morning::morning;
pub use plan::plan;
pub use pmc::{Mark, pmc};
pub use zones::zones;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::effort::EffortClass;

/// Drawing a chart failed (the SVG backend writes to a string, so in practice never).
#[derive(Debug, thiserror::Error)]
#[error("drawing the {chart} chart failed: {reason}")]
pub struct ChartError {
    chart: &'static str,
    reason: String,
}

impl ChartError {
    fn new(chart: &'static str, e: impl std::fmt::Display) -> Self {
        Self {
            chart,
            reason: e.to_string(),
        }
    }
}

/// The result of drawing one part of a chart.
type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Chart width in SVG pixels (the page scales it to its column).
pub const WIDTH: u32 = 900;

/// The text colour the charts write; [`THEME_CSS`] lightens exactly this colour in dark mode.
const INK: RGBColor = RGBColor(0x1f, 0x23, 0x28);
/// Axes and the grid: a mid grey that reads on white and on black.
const AXIS: RGBColor = RGBColor(0x80, 0x86, 0x8f);
/// The heart-rate line.
const LINE: RGBColor = RGBColor(0xd0, 0x30, 0x50);
/// The best 20-min window, and hard efforts on the fitness chart.
const BEST: RGBColor = RGBColor(0x8a, 0x5c, 0xf6);
/// Markers for `now`.
const NOW: RGBColor = RGBColor(0x06, 0x96, 0xd4);
/// Markers for `ready`.
const READY: RGBColor = RGBColor(0x16, 0xa3, 0x4a);

const FONT: &str = "sans-serif";

/// The CSS that keeps the charts legible in a dark scheme and in print.
pub const THEME_CSS: &str = "@media (prefers-color-scheme: dark) { svg text[fill=\"#1F2328\"] { fill: #e6edf3; } } \
@media print { svg text[fill=\"#1F2328\"] { fill: #000; } }";

/// A bare chart with [`THEME_CSS`] inside it, for `show --format svg`.
#[must_use]
pub fn themed(svg: &str) -> String {
    match svg.find('>') {
        Some(i) => format!("{}<style>{THEME_CSS}</style>{}", &svg[..=i], &svg[i + 1..]),
        None => svg.to_string(),
    }
}

/// The colour of a zone (MODEL.md §8), used translucent for bands and solid for bars.
#[must_use]
const fn zone_colour(c: EffortClass) -> RGBColor {
    match c {
        EffortClass::Easy => RGBColor(0x3b, 0x82, 0xf6),
        EffortClass::Moderate => RGBColor(0x10, 0xb9, 0x81),
        EffortClass::Hard => RGBColor(0xea, 0xb3, 0x08),
        EffortClass::VeryHard => RGBColor(0xf9, 0x73, 0x16),
        EffortClass::Max => RGBColor(0xdc, 0x26, 0x26),
    }
}

/// The zone's name on the charts.
#[must_use]
pub const fn zone_name(c: EffortClass) -> &'static str {
    match c {
        EffortClass::Easy => "easy",
        EffortClass::Moderate => "moderate",
        EffortClass::Hard => "hard",
        EffortClass::VeryHard => "very hard",
        EffortClass::Max => "max",
    }
}

/// The bpm range of each zone for a threshold HR: `(class, low, high)`, `None` for open ends.
#[must_use]
pub fn zone_bounds(threshold_hr: f64) -> [(EffortClass, Option<f64>, Option<f64>); 5] {
    let e = EffortClass::RATIO_EDGES.map(|r| r * threshold_hr);
    [
        (EffortClass::Easy, None, Some(e[0])),
        (EffortClass::Moderate, Some(e[0]), Some(e[1])),
        (EffortClass::Hard, Some(e[1]), Some(e[2])),
        (EffortClass::VeryHard, Some(e[2]), Some(e[3])),
        (EffortClass::Max, Some(e[3]), None),
    ]
}

fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&INK)
}

/// "1:05" from minutes.
fn hm(minutes: f64) -> String {
    let m = minutes.max(0.0).round() as i64;
    format!("{}:{:02}", m / 60, m % 60)
}

/// "+24 h", "+15.5 h": how far the mornings moved `ready`, to the tenth of an hour as
/// `show --json`'s `ready_moved_h`.
fn moved(h: f64) -> String {
    let h = (h * 10.0).round() / 10.0;
    if h.fract() == 0.0 {
        format!("+{h:.0} h")
    } else {
        format!("+{h:.1} h")
    }
}

/// "1 h 05 min" / "12 min" from seconds.
fn duration_words(s: f64) -> String {
    crate::render::duration(s)
}

/// A linear axis whose labels and grid lines fall exactly on the given values (local
/// midnights, week starts, zone rows) rather than on plotters' round numbers.
struct Keyed {
    inner: RangedCoordf64,
    keys: Vec<f64>,
}

impl Keyed {
    fn new(range: std::ops::Range<f64>, keys: Vec<f64>) -> Self {
        Self {
            inner: range.into(),
            keys,
        }
    }
}

impl Ranged for Keyed {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }
}
