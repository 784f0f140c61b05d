//! Heart rate over time, on the zone bands of MODEL.md §8, with the best 20-min window marked.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{
    AXIS, BEST, ChartError, Drawn, FONT, HPos, INK, Keyed, LINE, Pos, VPos, WIDTH, hm, text,
    zone_bounds, zone_colour, zone_name,
};
use crate::effort;

/// This chart's drawing context.
type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Keyed, RangedCoordf64>>;
use crate::model::HrSample;

const HEIGHT: u32 = 380;
/// At most this many points on the line: one per pixel or so, whatever the stream's length.
const POINTS: f64 = 900.0;
/// A gap longer than this (seconds) breaks the line.
const GAP_S: f64 = 60.0;

/// The line as runs of (minutes, bpm): time-weighted means over equal buckets of the held
/// stream (the model's weighting), broken where the stream has a gap.
fn line(segs: &[(f64, f64, f64)], t0: f64, span: f64) -> Vec<Vec<(f64, f64)>> {
    let bucket = (span / POINTS).max(1.0);
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    let (mut acc_t, mut acc_h, mut cur) = (0.0, 0.0, f64::NAN);
    let mut last_end = f64::NAN;
    let flush = |run: &mut Vec<(f64, f64)>, cur: f64, t: f64, h: f64| {
        if t > 0.0 {
            run.push(((cur + 0.5) * bucket / 60.0, h / t));
        }
    };
    for &(a, b, bpm) in segs {
        let (a, b) = (a - t0, b - t0);
        if last_end.is_finite() && a - last_end > GAP_S {
            flush(&mut run, cur, acc_t, acc_h);
            (acc_t, acc_h) = (0.0, 0.0);
            runs.push(std::mem::take(&mut run));
        }
        last_end = b;
        let k = (a / bucket).floor();
        if k != cur {
            flush(&mut run, cur, acc_t, acc_h);
            (acc_t, acc_h, cur) = (0.0, 0.0, k);
        }
        acc_t += b - a;
        acc_h += (b - a) * bpm;
    }
    flush(&mut run, cur, acc_t, acc_h);
    runs.push(run);
    runs.retain(|r| !r.is_empty());
    runs
}

/// Ticks on the time axis (minutes) at a round step: 5, 10, 15, 30 or 60 min.
fn time_ticks(minutes: f64) -> Vec<f64> {
    let step = [5.0, 10.0, 15.0, 30.0, 60.0]
        .into_iter()
        .find(|s| minutes / s <= 10.0)
        .unwrap_or(60.0 * (minutes / 600.0).ceil().max(1.0));
    (0..=((minutes / step) as u32))
        .map(|i| f64::from(i) * step)
        .collect()
}

/// Ticks of the local-clock axis (minutes after local midnight, from `c0` for `minutes`): on
/// the clock's round steps, so 11:00, 11:30 … rather than 11:02, 11:32 ….
fn clock_ticks(c0: f64, minutes: f64) -> Vec<f64> {
    let step = time_ticks(minutes).get(1).copied().unwrap_or(60.0);
    let first = (c0 / step).ceil() * step;
    (0..=((minutes / step) as u32) + 1)
        .map(|i| first + f64::from(i) * step)
        .filter(|m| *m <= c0 + minutes)
        .collect()
}

/// "11:30" from minutes after local midnight (past midnight it goes on at 00:00).
fn clock(m: f64) -> String {
    let m = (m.round() as i64).rem_euclid(24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The heart-rate chart of one activity: `threshold_hr` places the zone bands; `start_clock`
/// (minutes after local midnight at the start, on the watch's clock) adds the local time of day
/// along the top.
///
/// # Errors
/// When the SVG backend fails.
pub fn hr(
    stream: &[HrSample],
    threshold_hr: f64,
    start_clock: Option<f64>,
) -> Result<String, ChartError> {
    let err = |e| ChartError::new("heart-rate", e);
    let segs = effort::held_segments(stream);
    let t0 = 0.0;
    let end = segs.last().map_or(60.0, |s| s.1).max(60.0);
    let (lo, hi) = segs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), s| {
            (l.min(s.2), h.max(s.2))
        });
    let lthr = if threshold_hr.is_finite() && threshold_hr > 0.0 {
        threshold_hr
    } else {
        160.0
    };
    let y0 = ((lo.min(0.8 * lthr) - 5.0) / 10.0).floor().max(3.0) * 10.0;
    let y1 = ((hi.max(1.08 * lthr) + 5.0) / 10.0).ceil().min(26.0) * 10.0;
    let x1 = end / 60.0;
    let c0 = start_clock.filter(|c| c.is_finite()).unwrap_or(0.0);
    let best = effort::best_20min(stream);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .caption("Heart rate, with the zones of your threshold", text(18))
            .margin(12)
            .margin_right(84)
            .x_label_area_size(44)
            .top_x_label_area_size(if start_clock.is_some() { 40 } else { 0 })
            .y_label_area_size(56)
            .build_cartesian_2d(Keyed::new(0.0..x1, time_ticks(x1)), y0..y1)
            .map_err(err)?
            .set_secondary_coord(Keyed::new(c0..c0 + x1, clock_ticks(c0, x1)), y0..y1);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .axis_style(AXIS)
            .label_style(text(13))
            .axis_desc_style(text(14))
            .x_desc("time since the start (h:mm)")
            .y_desc("heart rate (bpm)")
            .x_label_formatter(&|m| hm(*m))
            .y_label_formatter(&|b| format!("{b:.0}"))
            .draw()
            .map_err(err)?;
        if start_clock.is_some() {
            chart
                .configure_secondary_axes()
                .axis_style(AXIS)
                .label_style(text(13))
                .axis_desc_style(text(14))
                .x_desc("local time")
                .x_label_formatter(&|m| clock(*m))
                .y_labels(0)
                .draw()
                .map_err(err)?;
        }
        bands(&mut chart, lthr, (x1, y0, y1)).map_err(err)?;
        if let Some((start, mean)) = best {
            best_window(&mut chart, (start - t0) / 60.0, mean, lthr, (x1, y0, y1)).map_err(err)?;
        }
        for run in line(&segs, t0, end - t0) {
            chart
                .draw_series(LineSeries::new(run, LINE.stroke_width(2)))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The zone bands, with their names in the margin right of the plot (never under the line).
fn bands(chart: &mut Ctx<'_, '_>, lthr: f64, (x1, y0, y1): (f64, f64, f64)) -> Drawn {
    for (class, low, high) in zone_bounds(lthr) {
        let (a, b) = (low.unwrap_or(y0).max(y0), high.unwrap_or(y1).min(y1));
        if b <= a {
            continue;
        }
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, a), (x1, b)],
            zone_colour(class).mix(0.22).filled(),
        )))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((x1, (a + b) / 2.0))
                + Text::new(
                    zone_name(class),
                    (6, 0),
                    text(12).pos(Pos::new(HPos::Left, VPos::Center)),
                ),
        ))?;
    }
    Ok(())
}

/// The best 20-min window from minute `a`: shaded, its mean as a bar, and a label.
fn best_window(
    chart: &mut Ctx<'_, '_>,
    a: f64,
    mean: f64,
    lthr: f64,
    (x1, y0, y1): (f64, f64, f64),
) -> Drawn {
    let b = a + effort::BEST_WINDOW / 60.0;
    chart.draw_series([
        Rectangle::new([(a, y0), (b, y1)], BEST.mix(0.18).filled()),
        Rectangle::new([(a, y0), (b, y1)], BEST.stroke_width(2)),
    ])?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(a, mean), (b, mean)],
        BEST.stroke_width(3),
    )))?;
    let right = b > x1 * 0.7;
    chart.draw_series(std::iter::once(
        EmptyElement::at((if right { a } else { b }, y1))
            + Text::new(
                format!(
                    "best 20 min: {mean:.0} bpm ({:.0} % of threshold)",
                    mean / lthr * 100.0
                ),
                (if right { -6 } else { 6 }, 6),
                (FONT, 13).into_font().color(&INK).pos(Pos::new(
                    if right { HPos::Right } else { HPos::Left },
                    VPos::Top,
                )),
            ),
    ))?;
    Ok(())
}
