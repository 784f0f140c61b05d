//! Time in each heart-rate zone (MODEL.md §8) as horizontal bars.

use plotters::prelude::*;

use super::{
    AXIS, ChartError, HPos, Keyed, Pos, VPos, WIDTH, duration_words, text, zone_bounds,
    zone_colour, zone_name,
};
use crate::effort::{self, EffortClass};
use crate::model::HrSample;

const HEIGHT: u32 = 250;

/// A zone's name and its range in whole bpm, as a watch shows heart rate: a zone holds the
/// readings from `low` (included) to `high` (excluded), so with a threshold of 168 easy is
/// "≤ 151" (151 < 151.2) and moderate "152–159".
fn zone_label(class: EffortClass, low: Option<f64>, high: Option<f64>) -> String {
    let first = |l: f64| l.ceil();
    let last = |h: f64| h.ceil() - 1.0;
    match (low, high) {
        (None, Some(h)) => format!("{} ≤ {:.0}", zone_name(class), last(h)),
        (Some(l), Some(h)) => format!("{} {:.0}–{:.0}", zone_name(class), first(l), last(h)),
        (Some(l), None) => format!("{} ≥ {:.0}", zone_name(class), first(l)),
        (None, None) => zone_name(class).to_string(),
    }
}

/// Time in zones for one activity's stream and threshold HR.
///
/// # Errors
/// When the SVG backend fails.
pub fn zones(stream: &[HrSample], threshold_hr: f64) -> Result<String, ChartError> {
    let err = |e| ChartError::new("time-in-zone", e);
    let secs = effort::time_in_zones(stream, threshold_hr);
    let total: f64 = secs.iter().map(|(_, s)| s).sum();
    let bounds = zone_bounds(threshold_hr);
    let labels: Vec<String> = bounds
        .iter()
        .map(|&(c, l, h)| format!("{} bpm", zone_label(c, l, h)))
        .collect();
    let x1 = (secs.iter().map(|(_, s)| *s).fold(0.0, f64::max) / 60.0 * 1.35).max(10.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .caption("Time in each zone", text(18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(170)
            .build_cartesian_2d(
                0.0..x1,
                Keyed::new(-0.5..4.5, vec![0.0, 1.0, 2.0, 3.0, 4.0]),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .bold_line_style(AXIS.mix(0.25))
            .light_line_style(TRANSPARENT)
            .axis_style(AXIS)
            .label_style(text(13))
            .axis_desc_style(text(14))
            .x_desc("minutes")
            .y_label_formatter(&|y: &f64| {
                let i = y.round().clamp(0.0, 4.0) as usize;
                labels.get(4 - i).cloned().unwrap_or_default()
            })
            .x_label_formatter(&|m| format!("{m:.0}"))
            .draw()
            .map_err(err)?;
        for (i, &(class, s)) in secs.iter().enumerate() {
            let y = 4.0 - i as f64;
            let m = s / 60.0;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y - 0.32), (m, y + 0.32)],
                    zone_colour(class).filled(),
                )))
                .map_err(err)?;
            let pct = if total > 0.0 { s / total * 100.0 } else { 0.0 };
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((m, y))
                        + Text::new(
                            format!("{} · {pct:.0} %", duration_words(s)),
                            (6, 0),
                            text(13).pos(Pos::new(HPos::Left, VPos::Center)),
                        ),
                ))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}
