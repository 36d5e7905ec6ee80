//! The page's charts as inline SVG strings, drawn with plotters: throughput over time, latency
//! percentiles over time, the sampled latency scatter, the cost bars of a lesson page, and
//! "where the time goes" (lock statistics) as stacked bars.
//! The timeline is not here: it is rects and lines, drawn in [`super::render`].

use super::{CostChart, LatencyWindow, Outcome, ScatterPoint, Series, TimeBar};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const FONT: &str = "sans-serif";

type Drawn = Result<String, String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Chart size and type size: larger type on a classroom page.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub size: (u32, u32),
    pub label: u32,
    pub caption: u32,
}

impl Style {
    pub fn new(classroom: bool) -> Style {
        if classroom {
            // plotters draws type at about 0.8 of the size asked: 32 is drawn at about 26 px.
            Style { size: (1000, 560), label: 32, caption: 36 }
        } else {
            Style { size: (900, 420), label: 20, caption: 24 }
        }
    }
}

/// Colours of the series lines, in order.
const LINE: [RGBColor; 4] =
    [RGBColor(0, 114, 178), RGBColor(0, 158, 115), RGBColor(213, 94, 0), RGBColor(204, 121, 167)];

fn hex(rgb: &str) -> RGBColor {
    let byte = |i: usize| u8::from_str_radix(rgb.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128);
    RGBColor(byte(1), byte(3), byte(5))
}

/// A compact number: 1234567 -> "1.23M".
pub fn human(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Messages per second per 100 ms window, one line per series; the legend in a row under the
/// plot, where it cannot cover a line.
pub fn throughput(series: &[Series], style: Style) -> Drawn {
    let x_max = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(0.1, f64::max);
    let y_max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(1.0, f64::max) * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, style.size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let keys: Vec<(String, RGBColor)> =
            series.iter().enumerate().map(|(i, s)| (s.name.clone(), LINE[i % LINE.len()])).collect();
        let (plot, under) = root.split_vertically(style.size.1 - legend_height(&keys, style));
        let mut chart = ChartBuilder::on(&plot)
            .caption("Throughput per 100 ms", (FONT, style.caption))
            .margin(15)
            .x_label_area_size(style.label * 3)
            .y_label_area_size(style.label * 5)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc("messages/s")
            .y_label_formatter(&|y| human(*y))
            .label_style((FONT, style.label))
            .axis_desc_style((FONT, style.label))
            .draw()
            .map_err(err)?;
        for (s, (_, col)) in series.iter().zip(&keys) {
            chart.draw_series(LineSeries::new(s.points.iter().copied(), col.stroke_width(3))).map_err(err)?;
            lone_point(&mut chart, &s.points, *col)?;
        }
        legend_row(&under, &keys, style)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A series of one point draws no line: it is drawn as a dot, so its key names something drawn
/// (a run shorter than one 100 ms window has one point per series).
fn lone_point<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    points: &[(f64, f64)],
    col: RGBColor,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    if let [p] = points {
        chart.draw_series(std::iter::once(Circle::new(*p, 5, col.filled()))).map_err(err)?;
    }
    Ok(())
}

/// Where each key of a legend under a line chart goes, as (x, row): left to right from the
/// plot's left edge, a new row when the next key would pass the chart's right edge.
fn legend_layout(keys: &[(String, RGBColor)], style: Style) -> Vec<(i32, u32)> {
    let left = (style.label * 5) as i32;
    let right = style.size.0 as i32 - 10;
    let (mut x, mut row) = (left, 0);
    let mut out = Vec::with_capacity(keys.len());
    for (name, _) in keys {
        // A character is about 0.6 of the type size wide.
        let text = (name.chars().count() as f64 * f64::from(style.label) * 0.6) as i32;
        if x > left && x + 36 + text > right {
            (x, row) = (left, row + 1);
        }
        out.push((x, row));
        x += 36 + text + 40;
    }
    out
}

/// Height of the legend rows under a line chart.
fn legend_height(keys: &[(String, RGBColor)], style: Style) -> u32 {
    let rows = legend_layout(keys, style).last().map_or(1, |&(_, row)| row + 1);
    style.label * 2 + (rows - 1) * style.label * 3 / 2
}

/// Draws the keys of a line chart in rows along `area`, the strip under the plot.
fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    keys: &[(String, RGBColor)],
    style: Style,
) -> Result<(), String> {
    legend_keys(area, keys, style, false)
}

/// Draws keys in rows along `area`: a line segment each, or a dot (`dots`, for a scatter).
fn legend_keys<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    keys: &[(String, RGBColor)],
    style: Style,
    dots: bool,
) -> Result<(), String> {
    for ((name, col), (x, row)) in keys.iter().zip(legend_layout(keys, style)) {
        let y = (style.label / 2 + row * style.label * 3 / 2) as i32;
        if dots {
            area.draw(&Circle::new((x + 14, y + 1), 6, col.filled())).map_err(err)?;
        } else {
            area.draw(&PathElement::new(vec![(x, y + 1), (x + 28, y + 1)], col.stroke_width(4)))
                .map_err(err)?;
        }
        let font = (FONT, style.label).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(name.clone(), (x + 36, y), font)).map_err(err)?;
    }
    Ok(())
}

/// Bounds of a logarithmic latency axis covering `values` (µs).
fn log_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| *v > 0.0).fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi <= 0.0 {
        return (1.0, 1000.0);
    }
    let lo = 10f64.powf(lo.log10().floor()).max(0.01);
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    (lo, hi)
}

/// p50, p99 and p99.9 produce latency per window, on a logarithmic axis, the legend under the
/// plot. The windows hold the acknowledged sends after each producer's warm-up (see
/// [`super::build`]), and the title says so.
pub fn latency(windows: &[LatencyWindow], style: Style) -> Drawn {
    let x_max = windows.iter().map(|w| w.t_s).fold(0.1, f64::max);
    let (lo, hi) = log_bounds(windows.iter().flat_map(|w| [w.p50_us, w.p99_us, w.p999_us]));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, style.size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let lines: [(&str, fn(&LatencyWindow) -> f64); 3] =
            [("p50", |w| w.p50_us), ("p99", |w| w.p99_us), ("p99.9", |w| w.p999_us)];
        let keys: Vec<(String, RGBColor)> =
            lines.iter().enumerate().map(|(i, (name, _))| (name.to_string(), LINE[i % LINE.len()])).collect();
        let (plot, under) = root.split_vertically(style.size.1 - legend_height(&keys, style));
        let mut chart = ChartBuilder::on(&plot)
            .caption("Produce latency per 100 ms, after warm-up", (FONT, style.caption))
            .margin(15)
            .x_label_area_size(style.label * 3)
            .y_label_area_size(style.label * 5)
            .build_cartesian_2d(0f64..x_max, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc("latency, µs (log)")
            .y_label_formatter(&|y| human(*y))
            .label_style((FONT, style.label))
            .axis_desc_style((FONT, style.label))
            .draw()
            .map_err(err)?;
        for ((_, get), (_, col)) in lines.iter().zip(&keys) {
            let points: Vec<(f64, f64)> =
                windows.iter().filter(|w| get(w) > 0.0).map(|w| (w.t_s, get(w))).collect();
            chart.draw_series(LineSeries::new(points.iter().copied(), col.stroke_width(3))).map_err(err)?;
            lone_point(&mut chart, &points, *col)?;
        }
        legend_row(&under, &keys, style)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Single request latencies against the time they were sent (in an open loop, their due time:
/// `due`), coloured by outcome; the key in a row under the plot, where it covers no point.
pub fn scatter(points: &[ScatterPoint], due: bool, style: Style) -> Drawn {
    let x_max = points.iter().map(|p| p.t_s).fold(0.1, f64::max);
    let (lo, hi) = log_bounds(points.iter().map(|p| p.latency_us));
    let keys: Vec<(String, RGBColor)> = Outcome::ALL
        .into_iter()
        .filter(|o| points.iter().any(|p| p.outcome == *o))
        .map(|o| (o.name().to_string(), hex(o.colour())))
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, style.size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot, under) = root.split_vertically(style.size.1 - legend_height(&keys, style));
        let mut chart = ChartBuilder::on(&plot)
            .caption(format!("Single requests ({} sampled)", points.len()), (FONT, style.caption))
            .margin(15)
            .x_label_area_size(style.label * 3)
            .y_label_area_size(style.label * 5)
            .build_cartesian_2d(0f64..x_max, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(if due {
                "due at (open loop), seconds since start"
            } else {
                "sent at, seconds since start"
            })
            .y_desc("latency, µs (log)")
            .y_label_formatter(&|y| human(*y))
            .label_style((FONT, style.label))
            .axis_desc_style((FONT, style.label))
            .draw()
            .map_err(err)?;
        for outcome in Outcome::ALL {
            let col = hex(outcome.colour());
            let mine: Vec<&ScatterPoint> = points.iter().filter(|p| p.outcome == outcome).collect();
            if mine.is_empty() {
                continue;
            }
            chart
                .draw_series(
                    mine.iter().map(|p| Circle::new((p.t_s, p.latency_us.max(lo)), 2, col.mix(0.6).filled())),
                )
                .map_err(err)?;
        }
        legend_keys(&under, &keys, style, true)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// One bar per run, labelled with its value.
pub fn cost(chart_model: &CostChart, style: Style) -> Drawn {
    let n = chart_model.bars.len().max(1) as i32;
    let y_max = chart_model.bars.iter().map(|b| b.1).fold(1e-9, f64::max) * 1.2;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, style.size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&chart_model.title, (FONT, style.caption))
            .margin(15)
            .x_label_area_size(style.label * 3)
            .y_label_area_size(style.label * 5)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..y_max)
            .map_err(err)?;
        let names: Vec<String> = chart_model.bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n as usize)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    usize::try_from(*i).ok().and_then(|i| names.get(i)).cloned().unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .y_desc(chart_model.unit.as_str())
            .y_label_formatter(&|y| human(*y))
            .label_style((FONT, style.label))
            .axis_desc_style((FONT, style.label))
            .draw()
            .map_err(err)?;
        for (i, (name, v)) in (0..).zip(chart_model.bars.iter()) {
            // A strategy's colour, as in every other chart; by position for other names.
            let col = match crate::report::charts::colour(name) {
                RGBColor(90, 90, 90) => LINE[i as usize % LINE.len()],
                known => known,
            };
            let bar = Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)],
                col.filled(),
            );
            chart.draw_series(std::iter::once(bar)).map_err(err)?;
            let label =
                Text::new(human(*v), (SegmentValue::CenterOf(i), *v + y_max * 0.06), (FONT, style.label));
            chart.draw_series(std::iter::once(label)).map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The parts of a "where the time goes" bar, left to right, and their colours (CSS hex): none
/// of them a strategy's colour ([`crate::report::charts::colour`]: red, orange, blue, green,
/// purple), so a bar chart of strategies beside this one does not read as waiting or holding.
pub const TIME_PARTS: [(&str, &str); 3] =
    [("waiting for the lock", "#222222"), ("holding it", "#17becf"), ("outside the lock", "#d0d0d0")];

/// One horizontal stacked bar per [`TimeBar`], first at the top: waiting, holding, outside, in
/// percent of the side's time, each part labelled with its share when there is room. The
/// legend is the figure's caption ([`TIME_PARTS`]).
pub fn lock_time(title: &str, bars: &[TimeBar], style: Style) -> Drawn {
    let n = bars.len().max(1);
    let band = style.label * 3;
    let height = style.caption * 2 + style.label * 4 + band * n as u32;
    let longest = bars.iter().map(|b| b.name.chars().count()).max().unwrap_or(8) as u32;
    let names: Vec<String> = bars.iter().rev().map(|b| b.name.clone()).collect();
    let y_labels = (longest * style.label * 6 / 10 + 20).clamp(80, style.size.0 / 2);
    // Pixels per percent of the plot (its width less the margins and the names).
    // The right margin leaves room for half the last tick's label ("100").
    let right = 15 + style.label * 2;
    let px = f64::from(style.size.0 - y_labels - 15 - right) / 100.0;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (style.size.0, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, style.caption))
            .margin(15)
            .margin_right(right)
            .x_label_area_size(style.label * 3)
            .y_label_area_size(y_labels)
            .build_cartesian_2d(0f64..100.0, 0f64..n as f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("share of the side's time, %")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_labels(2 * n + 1)
            .y_label_formatter(&|y| crate::report::charts::category_label(*y, 0.5, &names))
            .label_style((FONT, style.label))
            .axis_desc_style((FONT, style.label))
            .draw()
            .map_err(err)?;
        for (i, b) in bars.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let mut from = 0.0;
            for (share, (_, colour)) in [b.wait, b.hold, b.outside].into_iter().zip(TIME_PARTS) {
                let to = (from + share * 100.0).min(100.0);
                let col = hex(colour);
                let rect = Rectangle::new([(from, y + 0.15), (to, y + 0.85)], col.filled());
                chart.draw_series(std::iter::once(rect)).map_err(err)?;
                // A label where it fits (a character is about 0.6 of the type size wide).
                let text = format!("{:.0}%", share * 100.0);
                if (to - from) * px >= f64::from(style.label) * (0.6 * text.len() as f64 + 0.6) {
                    let ink = if colour == TIME_PARTS[0].1 { WHITE } else { BLACK };
                    let font =
                        (FONT, style.label).into_font().color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
                    let text = Text::new(text, ((from + to) / 2.0, y + 0.5), font);
                    chart.draw_series(std::iter::once(text)).map_err(err)?;
                }
                from = to;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_keys_wrap_onto_rows_that_stay_inside_the_chart() {
        let keys: Vec<(String, RGBColor)> =
            ["produce (acknowledged)", "produce during warm-up (not timed)", "consume (records read)"]
                .iter()
                .map(|n| (n.to_string(), BLACK))
                .collect();
        for style in [Style::new(false), Style::new(true)] {
            let layout = legend_layout(&keys, style);
            assert_eq!(layout.len(), keys.len());
            for ((name, _), (x, _)) in keys.iter().zip(&layout) {
                let right = x + 36 + (name.chars().count() as f64 * f64::from(style.label) * 0.6) as i32;
                assert!(right <= style.size.0 as i32, "{name} ends at {right} of {}", style.size.0);
            }
            let rows = layout.last().map_or(0, |&(_, row)| row + 1);
            assert!(rows >= 2, "three long keys need two rows at {} px: {layout:?}", style.size.0);
            assert!(legend_height(&keys, style) > legend_height(&keys[..1], style), "each row gets room");
        }
        let short: Vec<(String, RGBColor)> =
            ["p50", "p99", "p99.9"].iter().map(|n| (n.to_string(), BLACK)).collect();
        assert!(
            legend_layout(&short, Style::new(false)).iter().all(|&(_, row)| row == 0),
            "short keys: one row"
        );
    }
}
