//! The plan as a timeline over the days, in the runner's local time: one row per tactic, each
//! item a bar (a dot for a moment), with `now`, easy running and the one `ready` marked.

use chrono::{DateTime, Utc};
use jiff::tz::TimeZone;
use plotters::prelude::*;

use super::{AXIS, ChartError, Drawn, FONT, HPos, Keyed, NOW, Pos, READY, VPos, WIDTH, text};

/// The easy-running marker.
const EASY: RGBColor = RGBColor(0x0d, 0x94, 0x88);
/// The model's ready, where the morning check moved it.
const PLANNED: RGBColor = RGBColor(0x80, 0x86, 0x8f);
use crate::localtime;
use crate::plan::{Assessment, Tactic};

/// Short row names.
const fn tactic_name(t: Tactic) -> &'static str {
    match t {
        Tactic::KeepMoving => "Keep moving",
        Tactic::IceBath => "Ice bath",
        Tactic::Hydrate => "Drink",
        Tactic::HealthyEating => "Eat",
        Tactic::Compression => "Compression",
        Tactic::Elevation => "Legs up",
        Tactic::LightMassage => "Light massage",
        Tactic::FoamRoller => "Foam roller",
        Tactic::Rest => "Rest",
        Tactic::ReturnToTraining => "Training",
    }
}

const fn tactic_colour(t: Tactic) -> RGBColor {
    match t {
        Tactic::KeepMoving | Tactic::ReturnToTraining => RGBColor(0x16, 0xa3, 0x4a),
        Tactic::IceBath => RGBColor(0x0e, 0xa5, 0xe9),
        Tactic::Hydrate => RGBColor(0x3b, 0x82, 0xf6),
        Tactic::HealthyEating => RGBColor(0xea, 0xb3, 0x08),
        Tactic::Compression | Tactic::Elevation => RGBColor(0x8b, 0x5c, 0xf6),
        Tactic::LightMassage | Tactic::FoamRoller => RGBColor(0xec, 0x48, 0x99),
        Tactic::Rest => RGBColor(0x80, 0x86, 0x8f),
    }
}

/// Hours from `origin` to `t`.
fn hours(t: DateTime<Utc>, origin: DateTime<Utc>) -> f64 {
    (t - origin).num_milliseconds() as f64 / 3_600_000.0
}

/// Key points on the time axis: local midnights, and local noons when the span is short.
fn ticks(origin: DateTime<Utc>, x0: f64, x1: f64, tz: &TimeZone) -> Vec<f64> {
    let from = origin + chrono::Duration::seconds((x0 * 3600.0) as i64);
    let mut day = localtime::day(from, tz);
    let mut out = Vec::new();
    for _ in 0..60 {
        let midnight = hours(localtime::day_start(day, tz), origin);
        if midnight > x1 {
            break;
        }
        if midnight >= x0 {
            out.push(midnight);
        }
        if x1 - x0 <= 24.0 * 4.0 {
            let noon = midnight + 12.0;
            if (x0..=x1).contains(&noon) {
                out.push(noon);
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    out
}

/// The plan of one assessed activity that ended at `end`, seen at `now`, in zone `tz`.
///
/// # Errors
/// When the SVG backend fails.
pub fn plan(
    a: &Assessment,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    tz: &TimeZone,
) -> Result<String, ChartError> {
    let err = |e| ChartError::new("plan", e);
    let rows = rows(a);
    let n = rows.len().max(1) as f64;
    let ready = hours(a.recovery.ready, end);
    let last = a
        .plan
        .iter()
        .map(|i| hours(i.end.max(i.start), end))
        .fold(ready, f64::max);
    let first = a
        .plan
        .iter()
        .map(|i| hours(i.start, end))
        .fold(0.0, f64::min);
    let (x0, x1) = (first - 2.0, last + 8.0);
    let keys = ticks(end, x0, x1, tz);
    let height = 110 + 30 * rows.len().max(1) as u32;
    let zone = localtime::name(tz);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("Recovery plan ({zone} time)"), text(18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(110)
            .build_cartesian_2d(
                Keyed::new(x0..x1, keys),
                Keyed::new(-0.6..n - 0.4, (0..rows.len()).map(|i| i as f64).collect()),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .bold_line_style(AXIS.mix(0.3))
            .light_line_style(TRANSPARENT)
            .axis_style(AXIS)
            .label_style(text(13))
            .x_label_formatter(&|h: &f64| {
                // To the nearest minute: `end` may carry a fraction of a second.
                let t = end + chrono::Duration::seconds((h * 3600.0).round() as i64 + 30);
                if localtime::zoned(t, tz).hour() == 0 {
                    localtime::format(t, tz, "%a %-d %b")
                } else {
                    localtime::format(t, tz, "%H:%M")
                }
            })
            .y_label_formatter(&|y: &f64| {
                let i = (n - 1.0 - y).round().max(0.0) as usize;
                rows.get(i)
                    .map(|t| tactic_name(*t))
                    .unwrap_or_default()
                    .to_string()
            })
            .draw()
            .map_err(err)?;
        items(&mut chart, a, &rows, end).map_err(err)?;
        let span = Span { x0, x1, n };
        markers(&mut chart, &span, a, (end, now), tz).map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// This chart's drawing context.
type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Keyed, Keyed>>;

/// The plotted area: hours `x0..x1`, `n` rows.
struct Span {
    x0: f64,
    x1: f64,
    n: f64,
}

/// Each plan item on its tactic's row: a bar, or a dot for a moment.
fn items(chart: &mut Ctx<'_, '_>, a: &Assessment, rows: &[Tactic], end: DateTime<Utc>) -> Drawn {
    let n = rows.len().max(1) as f64;
    for item in &a.plan {
        let row = rows.iter().position(|r| *r == item.tactic).unwrap_or(0) as f64;
        let y = n - 1.0 - row;
        let (s, e) = (hours(item.start, end), hours(item.end, end));
        let c = tactic_colour(item.tactic);
        if e - s >= 0.25 {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(s, y - 0.3), (e, y + 0.3)],
                c.mix(0.85).filled(),
            )))?;
        } else {
            chart.draw_series(std::iter::once(Circle::new((s, y), 6, c.filled())))?;
        }
    }
    Ok(())
}

/// A marker line's label, before it is placed.
struct Label {
    x: f64,
    colour: RGBColor,
    text: String,
    top: bool,
}

/// Plot width in pixels, near enough for placing labels (the chart less its y labels and margins).
const PLOT_PX: f64 = (WIDTH - 110 - 24) as f64;

/// `ready` (with the model's time, dashed, where the mornings moved it), easy running and
/// `now`: the lines, then their labels placed so that none covers another.
fn markers(
    chart: &mut Ctx<'_, '_>,
    span: &Span,
    a: &Assessment,
    (end, now): (DateTime<Utc>, DateTime<Utc>),
    tz: &TimeZone,
) -> Drawn {
    let short = |t| crate::render::local_short(t, tz);
    let mut labels = Vec::new();
    let mut ready_text = format!("ready {}", short(a.recovery.ready));
    if let Some(shift) = a.recovery.morning
        && a.recovery.ready > shift.model_ready
    {
        let moved_h = shift.moved_h(a.recovery.ready);
        ready_text.push_str(&format!(" (mornings: {})", super::moved(moved_h)));
        let x = hours(shift.model_ready, end);
        line(chart, span, x, PLANNED, true)?;
        labels.push(Label {
            x,
            colour: PLANNED,
            text: format!("planned {}", short(shift.model_ready)),
            top: false,
        });
    }
    let ready = hours(a.recovery.ready, end);
    line(chart, span, ready, READY, false)?;
    labels.insert(
        0,
        Label {
            x: ready,
            colour: READY,
            text: ready_text,
            top: true,
        },
    );
    if let Some(easy) = a.recovery.easy_from {
        let x = hours(easy, end);
        line(chart, span, x, EASY, false)?;
        let text = format!("easy running {}", short(easy));
        labels.push(Label {
            x,
            colour: EASY,
            text,
            top: false,
        });
    }
    let x = hours(now, end);
    line(chart, span, x, NOW, false)?;
    labels.push(Label {
        x,
        colour: NOW,
        text: format!("now {}", short(now)),
        top: true,
    });
    place_labels(chart, span, labels)
}

/// A vertical marker line at hour `x` (dashed for the model's moved ready); nothing outside.
fn line(chart: &mut Ctx<'_, '_>, span: &Span, x: f64, colour: RGBColor, dashed: bool) -> Drawn {
    if !(span.x0..=span.x1).contains(&x) {
        return Ok(());
    }
    let points = vec![(x, -0.6), (x, span.n - 0.4)];
    if dashed {
        chart.draw_series(std::iter::once(plotters::element::DashedPathElement::new(
            points,
            5,
            4,
            colour.stroke_width(2),
        )))?;
    } else {
        chart.draw_series(std::iter::once(PathElement::new(
            points,
            colour.stroke_width(2),
        )))?;
    }
    Ok(())
}

/// Draws each label (in order of importance) beside its line, at its preferred edge (top or
/// foot) and on the side where it fits; where that would cover a label already placed, it tries
/// the other side, then the other edge.
fn place_labels(chart: &mut Ctx<'_, '_>, span: &Span, labels: Vec<Label>) -> Drawn {
    let per_px = (span.x1 - span.x0) / PLOT_PX;
    let mut placed: Vec<(bool, f64, f64)> = Vec::new();
    for l in labels {
        if !(span.x0..=span.x1).contains(&l.x) {
            continue;
        }
        let w = (l.text.chars().count() as f64 * 7.2 + 8.0) * per_px;
        let extent = |right: bool| {
            if right {
                (l.x, l.x + w)
            } else {
                (l.x - w, l.x)
            }
        };
        let fits = |right: bool| {
            let (a, b) = extent(right);
            a >= span.x0 && b <= span.x1
        };
        let free = |top: bool, right: bool| {
            let (a, b) = extent(right);
            placed
                .iter()
                .all(|&(t, pa, pb)| t != top || b <= pa || a >= pb)
        };
        let first = fits(true);
        let choice = [
            (l.top, first),
            (l.top, !first),
            (!l.top, first),
            (!l.top, !first),
        ]
        .into_iter()
        .find(|&(top, right)| fits(right) && free(top, right))
        .unwrap_or((l.top, first));
        let (a, b) = extent(choice.1);
        placed.push((choice.0, a, b));
        label(chart, span, &l, choice)?;
    }
    Ok(())
}

/// One label at the top or the foot of its line, extending right or left of it.
fn label(chart: &mut Ctx<'_, '_>, span: &Span, l: &Label, (top, right): (bool, bool)) -> Drawn {
    chart.draw_series(std::iter::once(
        EmptyElement::at((l.x, if top { span.n - 0.4 } else { -0.6 }))
            + Text::new(
                l.text.clone(),
                (if right { 4 } else { -4 }, 0),
                (FONT, 13).into_font().color(&l.colour).pos(Pos::new(
                    if right { HPos::Left } else { HPos::Right },
                    if top { VPos::Top } else { VPos::Bottom },
                )),
            ),
    ))?;
    Ok(())
}

/// One row per tactic, in the order the plan first names them.
fn rows(a: &Assessment) -> Vec<Tactic> {
    let mut rows: Vec<Tactic> = Vec::new();
    for i in &a.plan {
        if !rows.contains(&i.tactic) {
            rows.push(i.tactic);
        }
    }
    rows
}
