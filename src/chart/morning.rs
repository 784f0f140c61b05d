//! The morning check of one recovery window (MODEL.md §7): each morning's resting heart rate
//! and HRV against the runner's normal band (mean ± SD of the 60 days before the activity,
//! shaded), each day's verdict, and `ready` as planned and as the mornings moved it, in the
//! runner's local time. HRV is judged on ln RMSSD and drawn in ms (the band is e^(μ ± σ), so its
//! lower edge is exactly where "HRV low" starts).

use chrono::{DateTime, NaiveDate, Utc};
use jiff::tz::TimeZone;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{AXIS, ChartError, Drawn, FONT, HPos, INK, Keyed, Pos, READY, VPos, WIDTH, text};
use crate::localtime;
use crate::model::{DaySignals, Flag, Morning, Normal, Verdict};

const HEIGHT: u32 = 590;
/// Top of the resting-HR panel, the HRV panel and the verdict strip (below the title).
const BREAKS: [u32; 2] = [228, 410];
/// Space for the y labels, the same in every panel so that the days line up.
const Y_LABELS: u32 = 56;
/// The normal band and mean line.
const BAND: RGBColor = RGBColor(0x3b, 0x82, 0xf6);
/// A signal inside its normal.
const OK: RGBColor = RGBColor(0x16, 0xa3, 0x4a);
/// A raised signal, and a "not recovered" morning.
const RAISED: RGBColor = RGBColor(0xdc, 0x26, 0x26);
/// A morning without a usable signal, and the planned (unmoved) ready.
const UNKNOWN: RGBColor = RGBColor(0x80, 0x86, 0x8f);
/// The signals' line between mornings.
const TRACE: RGBColor = RGBColor(0x59, 0x63, 0x6e);

/// This chart's panels' drawing context.
type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Keyed, RangedCoordf64>>;

/// The chart of one activity's window: its `mornings` (oldest first, as stored) and the stored
/// `days` signals around them, in zone `tz`.
///
/// # Errors
/// When there is no morning to draw, or the SVG backend fails.
pub fn morning(
    mornings: &[Morning],
    days: &[DaySignals],
    tz: &TimeZone,
) -> Result<String, ChartError> {
    let err = |e: DrawingAreaErrorKind<std::io::Error>| ChartError::new("morning", e);
    let (Some(first), Some(last)) = (mornings.first(), mornings.last()) else {
        return Err(ChartError::new(
            "morning",
            "no morning of this window has been judged yet",
        ));
    };
    let w = Window::new(first, last, tz);
    let signals = Signals::of(&w, mornings, days);
    let normal = first.normal;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let root = root
            .titled(
                &format!(
                    "Mornings after the effort, against your normal ({} time)",
                    localtime::name(tz)
                ),
                text(18),
            )
            .map_err(err)?;
        let (top, rest) = root.split_vertically(BREAKS[0] - 28);
        let (mid, strip) = rest.split_vertically(BREAKS[1] - BREAKS[0]);
        rhr_panel(&top, &w, &signals, &normal).map_err(err)?;
        hrv_panel(&mid, &w, &signals, &normal).map_err(err)?;
        verdict_strip(&strip, &w, mornings, tz).map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The days drawn: from the first morning to the later of the last morning and the final
/// ready, as indices from `from` (day i spans i − 0.5 … i + 0.5).
struct Window {
    from: NaiveDate,
    n: usize,
    /// `ready` before the first morning (the model's) and after the last.
    planned: DateTime<Utc>,
    ready: DateTime<Utc>,
    /// Where the ready times fall on the day axis.
    planned_x: f64,
    ready_x: f64,
}

impl Window {
    fn new(first: &Morning, last: &Morning, tz: &TimeZone) -> Self {
        let from = first.day;
        let ready_day = localtime::day(last.ready_after, tz);
        let to = last
            .day
            .max(ready_day)
            .min(from + chrono::Duration::days(60));
        let x = |t: DateTime<Utc>| {
            let d = localtime::day(t, tz);
            let into = (t - localtime::day_start(d, tz)).num_minutes() as f64 / 1440.0;
            (d - from).num_days() as f64 - 0.5 + into.clamp(0.0, 1.0)
        };
        Self {
            from,
            n: usize::try_from((to - from).num_days() + 1)
                .unwrap_or(1)
                .max(1),
            planned: first.ready_before,
            ready: last.ready_after,
            planned_x: x(first.ready_before),
            ready_x: x(last.ready_after),
        }
    }

    fn x0(&self) -> f64 {
        -0.5
    }

    fn x1(&self) -> f64 {
        self.n as f64 - 0.5
    }

    fn index(&self, d: NaiveDate) -> Option<f64> {
        let i = (d - self.from).num_days();
        (0..self.n as i64).contains(&i).then_some(i as f64)
    }

    fn axis(&self) -> Keyed {
        Keyed::new(
            self.x0()..self.x1(),
            (0..self.n).map(|i| i as f64).collect(),
        )
    }
}

/// One signal's value on a day, and whether that morning raised it.
#[derive(Clone, Copy)]
struct Point {
    x: f64,
    value: f64,
    raised: bool,
}

/// The window's resting HR (bpm) and HRV (RMSSD, ms) per day.
struct Signals {
    rhr: Vec<Point>,
    hrv: Vec<Point>,
}

impl Signals {
    fn of(w: &Window, mornings: &[Morning], days: &[DaySignals]) -> Self {
        let raised =
            |d: NaiveDate, f: Flag| mornings.iter().any(|m| m.day == d && m.flags.contains(&f));
        let mut out = Self {
            rhr: Vec::new(),
            hrv: Vec::new(),
        };
        for d in days {
            let Some(x) = w.index(d.day) else { continue };
            if let Some(v) = d.rhr {
                out.rhr.push(Point {
                    x,
                    value: f64::from(v),
                    raised: raised(d.day, Flag::RhrHigh),
                });
            }
            if let Some(v) = d.hrv_rmssd_ms.filter(|v| v.is_finite() && *v > 0.0) {
                out.hrv.push(Point {
                    x,
                    value: v,
                    raised: raised(d.day, Flag::HrvLow),
                });
            }
        }
        out
    }
}

/// A value range holding every given value, padded, never empty.
fn span(values: impl Iterator<Item = f64>, pad: f64, fallback: (f64, f64)) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if lo > hi {
        return fallback;
    }
    ((lo - pad).floor(), (hi + pad).ceil().max(lo + 1.0))
}

/// Resting heart rate against mean ± SD, with the flag line at mean + max(SD, 3 bpm).
fn rhr_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    w: &Window,
    s: &Signals,
    normal: &Normal,
) -> Drawn {
    let band = normal.rhr_mean.zip(normal.rhr_sd);
    let flag = band.map(|(m, sd)| m + sd.max(3.0));
    let extra = band.map_or(vec![], |(m, sd)| vec![m - sd, m + sd]);
    let (y0, y1) = span(
        s.rhr.iter().map(|p| p.value).chain(extra).chain(flag),
        3.0,
        (40.0, 70.0),
    );
    let mut chart = panel(area, w, (y0, y1), "resting HR (bpm)")?;
    if let Some((m, sd)) = band {
        normal_band(
            &mut chart,
            w,
            (m - sd, m, m + sd),
            format!("normal {m:.0} ± {sd:.0}"),
        )?;
    }
    if let Some(f) = flag {
        flag_line(&mut chart, w, f, format!("high from {f:.0}"))?;
    }
    points(&mut chart, &s.rhr, |v| format!("{v:.0}"))?;
    what_is_missing(
        &mut chart,
        w,
        y1,
        s.rhr.is_empty(),
        band.is_none(),
        "resting heart rate",
    )
}

/// HRV in ms against e^(mean ± SD) of ln RMSSD; "low" below the band.
fn hrv_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    w: &Window,
    s: &Signals,
    normal: &Normal,
) -> Drawn {
    let band = normal
        .ln_rmssd_mean
        .zip(normal.ln_rmssd_sd)
        .map(|(m, sd)| ((m - sd).exp(), m.exp(), (m + sd).exp()));
    let extra = band.map_or(vec![], |(lo, _, hi)| vec![lo, hi]);
    let (y0, y1) = span(
        s.hrv.iter().map(|p| p.value).chain(extra),
        5.0,
        (20.0, 80.0),
    );
    let mut chart = panel(area, w, (y0.max(0.0), y1), "HRV, RMSSD (ms)")?;
    if let Some((lo, m, hi)) = band {
        normal_band(
            &mut chart,
            w,
            (lo, m, hi),
            format!("normal {lo:.0}–{hi:.0}, low under {lo:.0}"),
        )?;
    }
    points(&mut chart, &s.hrv, |v| format!("{v:.0}"))?;
    what_is_missing(&mut chart, w, y1, s.hrv.is_empty(), band.is_none(), "HRV")
}

/// One signal's panel: days across (no labels: the verdict strip has them), values up.
fn panel<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    w: &Window,
    (y0, y1): (f64, f64),
    desc: &str,
) -> Result<Ctx<'a, 'b>, DrawingAreaErrorKind<std::io::Error>> {
    let mut chart = ChartBuilder::on(area)
        .margin_left(12)
        .margin_right(24)
        .margin_top(8)
        .x_label_area_size(0)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(w.axis(), y0..y1)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .bold_line_style(AXIS.mix(0.25))
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .label_style(text(13))
        .axis_desc_style(text(13))
        .y_desc(desc)
        .y_labels(5)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    ready_lines(&mut chart, w, (y0, y1))?;
    Ok(chart)
}

/// The normal band (low … high shaded, the mean as a line) and its label.
fn normal_band(
    chart: &mut Ctx<'_, '_>,
    w: &Window,
    (lo, mean, hi): (f64, f64, f64),
    label: String,
) -> Drawn {
    chart.draw_series([Rectangle::new(
        [(w.x0(), lo), (w.x1(), hi)],
        BAND.mix(0.16).filled(),
    )])?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(w.x0(), mean), (w.x1(), mean)],
        BAND.mix(0.7).stroke_width(1),
    )))?;
    chart.draw_series(std::iter::once(
        EmptyElement::at((w.x0(), hi))
            + Text::new(
                label,
                (4, 2),
                (FONT, 12)
                    .into_font()
                    .color(&INK)
                    .pos(Pos::new(HPos::Left, VPos::Top)),
            ),
    ))?;
    Ok(())
}

/// The value from which a signal counts as raised (dashed), labelled at the right.
fn flag_line(chart: &mut Ctx<'_, '_>, w: &Window, y: f64, label: String) -> Drawn {
    chart.draw_series(std::iter::once(plotters::element::DashedPathElement::new(
        vec![(w.x0(), y), (w.x1(), y)],
        6,
        4,
        RAISED.mix(0.8).stroke_width(1),
    )))?;
    chart.draw_series(std::iter::once(
        EmptyElement::at((w.x1(), y))
            + Text::new(
                label,
                (-4, -2),
                (FONT, 12)
                    .into_font()
                    .color(&RAISED)
                    .pos(Pos::new(HPos::Right, VPos::Bottom)),
            ),
    ))?;
    Ok(())
}

/// The mornings' values: a thin line between consecutive days, a dot each (red when that
/// morning raised the signal), and the value above it.
fn points(chart: &mut Ctx<'_, '_>, pts: &[Point], label: impl Fn(f64) -> String) -> Drawn {
    for pair in pts.windows(2) {
        if pair[1].x - pair[0].x <= 1.0 {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(pair[0].x, pair[0].value), (pair[1].x, pair[1].value)],
                TRACE.mix(0.6).stroke_width(1),
            )))?;
        }
    }
    for p in pts {
        let c = if p.raised { RAISED } else { OK };
        chart.draw_series([Circle::new((p.x, p.value), 5, c.filled())])?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((p.x, p.value))
                + Text::new(
                    label(p.value),
                    (0, -9),
                    (FONT, 13)
                        .into_font()
                        .color(&INK)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                ),
        ))?;
    }
    Ok(())
}

/// A sentence where a panel has nothing (or no normal) to show.
/// A panel's note when it has no values, or values but no normal to judge them against.
fn what_is_missing(
    chart: &mut Ctx<'_, '_>,
    w: &Window,
    y1: f64,
    no_values: bool,
    no_normal: bool,
    signal: &str,
) -> Drawn {
    if no_values {
        note(chart, w, y1, &format!("no {signal} for these nights"))
    } else if no_normal {
        note(
            chart,
            w,
            y1,
            "no normal yet: 14 nights before the effort are needed",
        )
    } else {
        Ok(())
    }
}

fn note(chart: &mut Ctx<'_, '_>, w: &Window, y1: f64, msg: &str) -> Drawn {
    chart.draw_series(std::iter::once(
        EmptyElement::at(((w.x0() + w.x1()) / 2.0, y1))
            + Text::new(
                msg.to_string(),
                (0, 22),
                text(13).pos(Pos::new(HPos::Center, VPos::Top)),
            ),
    ))?;
    Ok(())
}

/// The planned ready (dashed grey, only when the mornings moved it) and the ready now (green).
fn ready_lines(chart: &mut Ctx<'_, '_>, w: &Window, (y0, y1): (f64, f64)) -> Drawn {
    if w.ready_x > w.planned_x + 1e-6 && (w.x0()..=w.x1()).contains(&w.planned_x) {
        chart.draw_series(std::iter::once(plotters::element::DashedPathElement::new(
            vec![(w.planned_x, y0), (w.planned_x, y1)],
            5,
            4,
            UNKNOWN.stroke_width(2),
        )))?;
    }
    if (w.x0()..=w.x1()).contains(&w.ready_x) {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(w.ready_x, y0), (w.ready_x, y1)],
            READY.stroke_width(2),
        )))?;
    }
    Ok(())
}

/// The verdict of each morning (a green dot, a red triangle with the raised signals, or a grey
/// ring), the day names, and the ready labels.
fn verdict_strip(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    w: &Window,
    mornings: &[Morning],
    tz: &TimeZone,
) -> Drawn {
    let mut chart = ChartBuilder::on(area)
        .margin_left(12)
        .margin_right(24)
        .margin_bottom(8)
        .x_label_area_size(28)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(w.axis(), 0.0..1.0)?;
    let from = w.from;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .bold_line_style(AXIS.mix(0.25))
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .label_style(text(13))
        .y_labels(0)
        .axis_desc_style(text(13))
        .y_desc("verdict")
        .x_label_formatter(&|x: &f64| {
            (from + chrono::Duration::days(x.round() as i64))
                .format("%a %-d %b")
                .to_string()
        })
        .draw()?;
    ready_lines(&mut chart, w, (0.0, 1.0))?;
    let words = w.n <= 12;
    for m in mornings {
        let Some(x) = w.index(m.day) else { continue };
        verdict_mark(&mut chart, x, m, words)?;
    }
    ready_labels(&mut chart, w, tz)?;
    Ok(())
}

/// The words under a morning's mark: the raised signals, one a line.
fn verdict_words(m: &Morning) -> Vec<&'static str> {
    match m.verdict {
        Verdict::Recovered => vec!["recovered"],
        Verdict::Unknown => vec!["no signal"],
        Verdict::NotRecovered => m
            .flags
            .iter()
            .map(|f| match f {
                Flag::RhrHigh => "HR high",
                Flag::HrvLow => "HRV low",
                Flag::FeelLow => "sore",
                Flag::Persisting => "persisting",
            })
            .collect(),
    }
}

/// A morning's verdict: its mark and, when there is room, its words.
fn verdict_mark(chart: &mut Ctx<'_, '_>, x: f64, m: &Morning, words: bool) -> Drawn {
    let at = (x, 0.78);
    let colour = match m.verdict {
        Verdict::Recovered => {
            chart.draw_series([Circle::new(at, 7, OK.filled())])?;
            OK
        }
        Verdict::NotRecovered => {
            chart.draw_series([TriangleMarker::new(at, 9, RAISED.filled())])?;
            RAISED
        }
        Verdict::Unknown => {
            chart.draw_series([Circle::new(at, 6, UNKNOWN.stroke_width(2))])?;
            UNKNOWN
        }
    };
    if !words {
        return Ok(());
    }
    for (line, word) in (0..).zip(verdict_words(m)) {
        chart.draw_series(std::iter::once(
            EmptyElement::at((x, 0.64))
                + Text::new(
                    word,
                    (0, 14 * line),
                    (FONT, 12)
                        .into_font()
                        .color(&colour)
                        .pos(Pos::new(HPos::Center, VPos::Top)),
                ),
        ))?;
    }
    Ok(())
}

/// "ready Wed 22 Apr 06:00 (moved +24 h)" by the green line at the foot of the strip;
/// "planned …" by the grey one at its top (above the verdict marks).
fn ready_labels(chart: &mut Ctx<'_, '_>, w: &Window, tz: &TimeZone) -> Drawn {
    let short = |t| crate::render::local_short(t, tz);
    let moved_h = (w.ready - w.planned).num_seconds() as f64 / 3600.0;
    let mut labels = Vec::new();
    if moved_h > 0.0 {
        labels.push((
            w.planned_x,
            UNKNOWN,
            format!("planned {}", short(w.planned)),
            0.98,
        ));
        labels.push((
            w.ready_x,
            READY,
            format!("ready {} (moved {})", short(w.ready), super::moved(moved_h)),
            0.02,
        ));
    } else {
        labels.push((w.ready_x, READY, format!("ready {}", short(w.ready)), 0.02));
    }
    for (x, colour, label, y) in labels {
        if !(w.x0()..=w.x1()).contains(&x) {
            continue;
        }
        let right = x > w.x0() + (w.x1() - w.x0()) * 0.6;
        chart.draw_series(std::iter::once(
            EmptyElement::at((x, y))
                + Text::new(
                    label,
                    (if right { -4 } else { 4 }, 0),
                    (FONT, 12).into_font().color(&colour).pos(Pos::new(
                        if right { HPos::Right } else { HPos::Left },
                        if y > 0.5 { VPos::Top } else { VPos::Bottom },
                    )),
                ),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    fn morning(
        day: NaiveDate,
        verdict: Verdict,
        before: DateTime<Utc>,
        after: DateTime<Utc>,
    ) -> Morning {
        Morning {
            day,
            verdict,
            flags: vec![],
            normal: Normal::default(),
            ready_before: before,
            ready_after: after,
        }
    }

    #[test]
    fn no_morning_is_an_error_not_an_empty_chart() {
        let e = super::morning(&[], &[], &berlin()).unwrap_err();
        assert!(e.to_string().contains("no morning"), "{e}");
    }

    #[test]
    fn without_signals_or_normal_each_panel_says_so() {
        let d = NaiveDate::from_ymd_opt(2026, 4, 21).unwrap();
        let ready = Utc.with_ymd_and_hms(2026, 4, 22, 12, 0, 0).unwrap();
        let m = [morning(d, Verdict::Unknown, ready, ready)];
        let svg = super::morning(&m, &[], &berlin()).unwrap();
        assert!(svg.contains("no resting heart rate for these nights"));
        assert!(svg.contains("no HRV for these nights"));
        assert!(svg.contains("no signal"));
        assert!(svg.contains("ready Wed 22 Apr 14:00") && !svg.contains("planned"));
        // A signal without a normal (fewer than 14 nights before): the value, and why no band.
        let day = DaySignals {
            day: d,
            rhr: Some(52),
            rhr_source: None,
            rhr_monitoring: None,
            rhr_watch: None,
            hrv_rmssd_ms: Some(f64::NAN),
            hrv_source: None,
            feel: None,
        };
        let svg = super::morning(&m, &[day], &berlin()).unwrap();
        assert!(svg.contains("\n52\n</text>"), "{svg}");
        assert!(svg.contains("no normal yet"));
        assert!(
            svg.contains("no HRV for these nights"),
            "a NaN HRV is no value"
        );
    }

    #[test]
    fn a_ready_far_away_does_not_make_a_chart_of_years() {
        let d = NaiveDate::from_ymd_opt(2026, 4, 21).unwrap();
        let before = Utc.with_ymd_and_hms(2026, 4, 22, 12, 0, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2031, 1, 1, 6, 0, 0).unwrap();
        let m = [morning(d, Verdict::NotRecovered, before, after)];
        let svg = super::morning(&m, &[], &berlin()).unwrap();
        assert!(svg.len() < 200_000, "{} bytes", svg.len());
        assert!(svg.contains("planned Wed 22 Apr 14:00"), "{svg}");
    }
}
