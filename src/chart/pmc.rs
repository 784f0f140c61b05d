//! Fitness (CTL), fatigue (ATL) and form (TSB) over the last days (MODEL.md §5), with hard
//! efforts and races marked on the fatigue line.

use chrono::NaiveDate;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{AXIS, BEST, ChartError, Drawn, Keyed, WIDTH, text};
use crate::effort::{self, EffortClass};

const HEIGHT: u32 = 360;
const FITNESS: RGBColor = RGBColor(0x3b, 0x82, 0xf6);
const FATIGUE: RGBColor = RGBColor(0xec, 0x48, 0x99);
const FORM: RGBColor = RGBColor(0xea, 0x8a, 0x08);

/// A hard effort or race to mark: its local day, class and whether it was a race.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mark {
    /// The local day it counts for.
    pub day: NaiveDate,
    /// Its effort class.
    pub class: EffortClass,
    /// It was a race.
    pub race: bool,
}

/// The chart of the `days` days up to `today`, from the daily loads (HRSS per local day).
///
/// # Errors
/// When the SVG backend fails.
pub fn pmc(
    daily: &[(NaiveDate, f64)],
    marks: &[Mark],
    today: NaiveDate,
    days: u32,
) -> Result<String, ChartError> {
    let err = |e| ChartError::new("fitness", e);
    let from = today - chrono::Duration::days(i64::from(days));
    let series = effort::pmc_series(daily, from, today);
    let ([ctl, atl, tsb], (y0, y1)) = lines(&series, from);
    let x1 = f64::from(days);
    let weekly: Vec<f64> = (0..=days).rev().step_by(7).map(f64::from).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Fitness, fatigue and form, last {days} days"),
                text(18),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(Keyed::new(-0.5..x1 + 0.5, weekly), y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .bold_line_style(AXIS.mix(0.25))
            .light_line_style(TRANSPARENT)
            .axis_style(AXIS)
            .label_style(text(13))
            .axis_desc_style(text(14))
            .y_desc("load (HRSS per day, averaged)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_label_formatter(&|v: &f64| {
                (from + chrono::Duration::days(v.round() as i64))
                    .format("%-d %b")
                    .to_string()
            })
            .draw()
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, 0.0), (x1 + 0.5, 0.0)],
                AXIS.stroke_width(1),
            )))
            .map_err(err)?;
        for (data, colour, name) in [
            (ctl, FITNESS, "fitness (CTL)"),
            (atl, FATIGUE, "fatigue (ATL)"),
            (tsb, FORM, "form (TSB = CTL − ATL)"),
        ] {
            chart
                .draw_series(LineSeries::new(data, colour.stroke_width(3)))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
                });
        }
        draw_marks(&mut chart, &series, marks, from).map_err(err)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(TRANSPARENT)
            .border_style(AXIS.mix(0.5))
            .label_font(text(13))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// This chart's drawing context.
type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Keyed, RangedCoordf64>>;

const RACE: RGBColor = RGBColor(0xdc, 0x26, 0x26);

/// Hard efforts (dots) and races (triangles) on the fatigue line, with their legend entries.
fn draw_marks(
    chart: &mut Ctx<'_, '_>,
    series: &[(NaiveDate, Option<effort::Pmc>)],
    marks: &[Mark],
    from: NaiveDate,
) -> Drawn {
    let at = |m: &Mark| {
        series
            .iter()
            .find(|(d, _)| *d == m.day)
            .and_then(|(_, p)| p.map(|p| ((m.day - from).num_days() as f64, p.atl)))
    };
    let hard: Vec<(f64, f64)> = marks
        .iter()
        .filter(|m| !m.race && m.class >= EffortClass::Hard)
        .filter_map(at)
        .collect();
    let races: Vec<(f64, f64)> = marks.iter().filter(|m| m.race).filter_map(at).collect();
    chart
        .draw_series(hard.into_iter().map(|p| Circle::new(p, 5, BEST.filled())))?
        .label("hard effort")
        .legend(|(x, y)| Circle::new((x + 9, y), 5, BEST.filled()));
    chart
        .draw_series(
            races
                .into_iter()
                .map(|p| TriangleMarker::new(p, 9, RACE.filled())),
        )?
        .label("race")
        .legend(|(x, y)| TriangleMarker::new((x + 9, y), 7, RACE.filled()));
    Ok(())
}

/// A line's (day index, value) points.
type Points = Vec<(f64, f64)>;

/// Fitness, fatigue and form as (day index, value) points, and the value range to show (with
/// head room above the lines for the legend).
fn lines(
    series: &[(NaiveDate, Option<effort::Pmc>)],
    from: NaiveDate,
) -> ([Points; 3], (f64, f64)) {
    let pts = |f: fn(&effort::Pmc) -> f64| -> Vec<(f64, f64)> {
        series
            .iter()
            .filter_map(|(d, p)| p.as_ref().map(|p| ((*d - from).num_days() as f64, f(p))))
            .collect()
    };
    let (ctl, atl, tsb) = (pts(|p| p.ctl), pts(|p| p.atl), pts(effort::Pmc::tsb));
    let all = ctl.iter().chain(&atl).chain(&tsb).map(|p| p.1);
    let (lo, hi) = all.fold((0.0_f64, 10.0_f64), |(l, h), v| (l.min(v), h.max(v)));
    let range = (
        (lo / 10.0).floor() * 10.0 - 5.0,
        (hi * 1.5 / 10.0).ceil() * 10.0,
    );
    ([ctl, atl, tsb], range)
}
