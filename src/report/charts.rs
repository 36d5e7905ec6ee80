//! Charts of a comparison, drawn with plotters as SVG and PNG from the result rows alone.
//!
//! - `throughput`: produce messages/s against producers, one line per strategy, with the
//!   loopback (or positional-write) ceiling measured in the same run as a dashed line;
//! - `consume_throughput`: the same for consumers (when the matrix had consumers);
//! - `latency`: produce latency percentiles (p50, p99, p99.9) per strategy at the largest
//!   producer count, on a logarithmic axis;
//! - `violations`: the count of each violation kind per strategy, summed over the matrix;
//! - `latency_vs_rate` (with `--rates`): see [`super::rates`];
//! - `lock_time` and `lock_wait` (with `--lock-stats`): see [`super::lock_charts`];
//! - `peers` (with `--goals --peers`): synclog beside Redis and NATS JetStream on each goal
//!   workload they ran, with the row's ceiling: the loopback echo, or the group-commit bound
//!   for fsync always one request at a time.
//!
//! Text is drawn with a bundled font (DejaVu Sans, `assets/fonts/`), so charts render the
//! same on a machine with no font packages.

use crate::report::count;
use crate::report::rows::{Cell, Comparison, PeerKind, TransportKind};
use crate::violations::ViolationKind;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::Once;

pub(super) const FONT: &str = "sans-serif";
const SIZE: (u32, u32) = (1000, 600);

/// The colour of each strategy, stable across charts.
pub(super) fn colour(strategy: &str) -> RGBColor {
    match strategy {
        "none" => RGBColor(214, 39, 40),
        "semaphore" => RGBColor(255, 127, 14),
        "rwlock" => RGBColor(31, 119, 180),
        "mutex" => RGBColor(44, 160, 44),
        "std-rwlock" => RGBColor(148, 103, 189),
        _ => RGBColor(90, 90, 90),
    }
}

/// Registers the bundled font as plotters' "sans-serif" (once). Anything drawing with plotters
/// in this process, criterion's HTML-report plots included, needs it: the `ab_glyph` text
/// backend knows no system fonts.
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_err() {
            eprintln!("synclog: the bundled font did not load; charts will have no text");
        }
    });
}

pub(super) type DrawResult = Result<(), String>;

pub(super) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws every chart of `c` into `dir`, as `<name>.svg` and `<name>.png`. Returns the names.
pub fn draw_all(c: &Comparison, dir: &Path) -> Result<Vec<String>, String> {
    register_font();
    let mut names = Vec::new();
    let mut both = |name: &str,
                    draw: &dyn Fn(&DrawingArea<SVGBackend, Shift>) -> DrawResult,
                    draw_png: &dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> DrawResult|
     -> DrawResult {
        let svg = dir.join(format!("{name}.svg"));
        let png = dir.join(format!("{name}.png"));
        {
            let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
            draw(&root)?;
            root.present().map_err(err)?;
        }
        {
            let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
            draw_png(&root)?;
            root.present().map_err(err)?;
        }
        names.push(name.to_string());
        Ok(())
    };
    both("throughput", &|r| throughput(r, c, false), &|r| throughput(r, c, false))?;
    if c.cells.iter().any(|cell| cell.report.consumers > 0) {
        both("consume_throughput", &|r| throughput(r, c, true), &|r| throughput(r, c, true))?;
    }
    both("latency", &|r| latency(r, c), &|r| latency(r, c))?;
    both("violations", &|r| violations(r, c), &|r| violations(r, c))?;
    if c.goals.iter().any(|g| !g.peers.is_empty()) {
        both("peers", &|r| peers(r, c), &|r| peers(r, c))?;
    }
    if super::lock_charts::any(c) {
        both("lock_time", &|r| super::lock_charts::time(r, c), &|r| super::lock_charts::time(r, c))?;
        both("lock_wait", &|r| super::lock_charts::wait(r, c), &|r| super::lock_charts::wait(r, c))?;
    }
    if !c.rate_points.is_empty() {
        both("latency_vs_rate", &|r| super::rates::chart(r, c), &|r| super::rates::chart(r, c))?;
    }
    Ok(names)
}

fn strategies(c: &Comparison) -> Vec<String> {
    let mut s: Vec<String> = Vec::new();
    for cell in &c.cells {
        if !s.contains(&cell.report.strategy) {
            s.push(cell.report.strategy.clone());
        }
    }
    s
}

fn producer_counts(c: &Comparison) -> Vec<u32> {
    let mut p: Vec<u32> = c.cells.iter().map(|cell| cell.report.producers).collect();
    p.sort_unstable();
    p.dedup();
    p
}

/// The cells drawn in a per-producer chart: for each (strategy, producers), the one with the
/// most consumers when `consume`, else the one with the fewest (producing measured alone).
fn pick<'a>(c: &'a Comparison, strategy: &str, producers: u32, consume: bool) -> Option<&'a Cell> {
    let matching =
        c.cells.iter().filter(|cell| cell.report.strategy == strategy && cell.report.producers == producers);
    if consume {
        matching.max_by_key(|cell| cell.report.consumers)
    } else {
        matching.min_by_key(|cell| cell.report.consumers)
    }
}

/// The consumer counts of the cells a per-producer chart draws (at `producers` only, when
/// given), for its caption: "no consumers", "2 consumers", "0 or 2 consumers".
fn consumers_drawn(c: &Comparison, only: Option<u32>, consume: bool) -> String {
    let mut counts: Vec<u32> = strategies(c)
        .iter()
        .flat_map(|s| {
            producer_counts(c)
                .into_iter()
                .filter(|&p| only.is_none_or(|o| o == p))
                .filter_map(move |p| pick(c, s, p, consume).map(|cell| cell.report.consumers))
        })
        .collect();
    counts.sort_unstable();
    counts.dedup();
    match counts.as_slice() {
        [0] => "no consumers".to_string(),
        [n] => count(*n, "consumer"),
        many => {
            let list: Vec<String> = many.iter().map(ToString::to_string).collect();
            format!("{} consumers", list.join(" or "))
        }
    }
}

fn throughput<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &Comparison,
    consume: bool,
) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let producers = producer_counts(c);
    let first = c.cells.first().map(|cell| &cell.report);
    let (bytes, batch, transport) =
        first.map_or((100, 1, TransportKind::Tcp), |r| (r.message_bytes, r.batch, r.transport));
    let over = match transport {
        TransportKind::Tcp => "loopback TCP",
        TransportKind::Inproc => "in-process",
    };
    let rate = |cell: &Cell| {
        if consume {
            cell.report.consume.as_ref().map_or(0.0, |f| f.msgs_per_s)
        } else {
            cell.report.produce.msgs_per_s
        }
    };
    let ceiling = |cell: &Cell| match cell.report.transport {
        TransportKind::Tcp => cell.ceilings.loopback_msgs_per_s,
        TransportKind::Inproc => cell.ceilings.pwrite_msgs_per_s,
    };
    let max_y = c
        .cells
        .iter()
        .map(|cell| rate(cell).max(if consume { 0.0 } else { ceiling(cell) }))
        .fold(1.0, f64::max)
        * 1.15;
    let readers = consumers_drawn(c, None, consume);
    let caption = if consume {
        format!("Consume throughput vs producers ({readers}, {bytes} B messages, batch {batch}, {over})")
    } else {
        format!("Produce throughput vs producers ({readers}, {bytes} B messages, batch {batch}, {over})")
    };
    let n = producers.len().max(1) as f64;
    let ceiling_name = match (consume, transport) {
        (true, _) => None,
        (false, TransportKind::Tcp) => Some("ceiling: loopback echo, same framing"),
        (false, TransportKind::Inproc) => Some("ceiling: raw positional writes"),
    };
    let mut keys: Vec<Key> =
        strategies(c).into_iter().map(|s| Key { colour: colour(&s), name: s, mark: Mark::Line }).collect();
    keys.extend(ceiling_name.map(|name| Key { name: name.to_string(), colour: BLACK, mark: Mark::Dashed }));
    // The legend under the plot: every line may run anywhere in the plot area.
    let plot = legend_under(root, &keys)?;
    let mut chart = ChartBuilder::on(&plot)
        .caption(caption, (FONT, 24))
        .margin(20)
        .margin_bottom(0)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.3f64..(n - 0.7), 0f64..max_y)
        .map_err(err)?;
    let labels = producers.clone();
    chart
        .configure_mesh()
        .x_desc("producers")
        .y_desc("messages per second")
        .x_labels(producers.len().max(2))
        .x_label_formatter(&|x| category_label(*x, 0.0, &labels))
        .y_label_formatter(&|y| human(*y))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(err)?;
    for strategy in strategies(c) {
        let col = colour(&strategy);
        let points: Vec<(f64, f64)> = producers
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| pick(c, &strategy, p, consume).map(|cell| (i as f64, rate(cell))))
            .collect();
        chart.draw_series(LineSeries::new(points.clone(), col.stroke_width(3))).map_err(err)?;
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, col.filled()))).map_err(err)?;
    }
    if ceiling_name.is_some() {
        let points: Vec<(f64, f64)> = producers
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| {
                c.cells.iter().find(|cell| cell.report.producers == p).map(|cell| (i as f64, ceiling(cell)))
            })
            .collect();
        // Each ceiling also as a hollow marker: one --producers value draws no line.
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 5, BLACK.stroke_width(2)))).map_err(err)?;
        chart.draw_series(DashedLineSeries::new(points, 8, 6, BLACK.stroke_width(2))).map_err(err)?;
    }
    Ok(())
}

/// One key of a legend under a chart: a mark in the series' colour, drawn as the series is,
/// and its name.
struct Key {
    name: String,
    colour: RGBColor,
    mark: Mark,
}

/// How a key's series is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Line,
    Dashed,
    /// A filled block, for bars.
    Block,
}

/// Height of one row of keys under a chart, pixels.
const KEY_ROW: u32 = 28;
/// A key's line, and the gap from it to the name.
const KEY_LINE: i32 = 28;
const KEY_GAP: i32 = 8;
/// Space between two keys of a row.
const KEY_SPACING: u32 = 32;

/// The keys (by width) of each row of a legend `width` pixels wide: left to right, a new row
/// when the next key would not fit (a key wider than a row gets a row of its own).
fn key_rows(widths: &[u32], width: u32) -> Vec<std::ops::Range<usize>> {
    let mut rows = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, &w) in widths.iter().enumerate() {
        if i > start && used + KEY_SPACING + w > width {
            rows.push(start..i);
            (start, used) = (i, 0);
        }
        used += if i > start { KEY_SPACING + w } else { w };
    }
    if start < widths.len() {
        rows.push(start..widths.len());
    }
    rows
}

/// Draws `keys` in centred rows along the bottom of `root`, clear of the plot; returns the area
/// above them, for the plot.
fn legend_under<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    keys: &[Key],
) -> Result<DrawingArea<DB, Shift>, String> {
    let style = TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let (width, height) = root.dim_in_pixel();
    let widths = keys
        .iter()
        .map(|k| root.estimate_text_size(&k.name, &style).map(|(w, _)| (KEY_LINE + KEY_GAP) as u32 + w))
        .collect::<Result<Vec<u32>, _>>()
        .map_err(err)?;
    let rows = key_rows(&widths, width.saturating_sub(40));
    let (plot, strip) = root.split_vertically(height.saturating_sub(KEY_ROW * rows.len() as u32 + 12));
    for (r, row) in rows.into_iter().enumerate() {
        let used: u32 = widths[row.clone()].iter().sum::<u32>() + KEY_SPACING * (row.len() as u32 - 1);
        let mut x = (width.saturating_sub(used) / 2) as i32;
        let y = (KEY_ROW * r as u32 + KEY_ROW / 2) as i32;
        for (k, w) in keys[row.clone()].iter().zip(&widths[row]) {
            // A dashed key: three dashes, as the dashed series is drawn.
            let dashes = match k.mark {
                Mark::Line => vec![(0, KEY_LINE)],
                Mark::Dashed => vec![(0, 7), (11, 18), (22, KEY_LINE)],
                Mark::Block => vec![],
            };
            for (from, to) in dashes {
                let line = PathElement::new(vec![(x + from, y), (x + to, y)], k.colour.stroke_width(3));
                strip.draw(&line).map_err(err)?;
            }
            if k.mark == Mark::Block {
                let block = Rectangle::new([(x + 7, y - 7), (x + KEY_LINE - 7, y + 7)], k.colour.filled());
                strip.draw(&block).map_err(err)?;
            }
            strip
                .draw(&Text::new(k.name.clone(), (x + KEY_LINE + KEY_GAP, y), style.clone()))
                .map_err(err)?;
            x += (*w + KEY_SPACING) as i32;
        }
    }
    Ok(plot)
}

fn latency<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Comparison) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let max_p = producer_counts(c).last().copied().unwrap_or(1);
    let rows: Vec<(String, [u64; 3])> = strategies(c)
        .into_iter()
        .filter_map(|s| {
            pick(c, &s, max_p, false).map(|cell| {
                let f = &cell.report.produce;
                (s, [f.p50_us.max(1), f.p99_us.max(1), f.p999_us.max(1)])
            })
        })
        .collect();
    let max_y = rows.iter().flat_map(|(_, v)| v.iter().copied()).max().unwrap_or(10) as f64 * 3.0;
    let n = rows.len().max(1) as f64;
    let shades = [("p50", 1.0), ("p99", 0.6), ("p99.9", 0.3)];
    // The legend under the plot: the tallest bar may stand anywhere, the first one included.
    let keys: Vec<Key> = shades
        .iter()
        .map(|&(name, alpha)| Key { name: name.to_string(), colour: key_grey(alpha), mark: Mark::Block })
        .collect();
    let plot = legend_under(root, &keys)?;
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!(
                "Produce latency per request, {}, {} (log scale)",
                count(max_p, "producer"),
                consumers_drawn(c, Some(max_p), false)
            ),
            (FONT, 24),
        )
        .margin(20)
        .margin_bottom(0)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..n, (1f64..max_y).log_scale())
        .map_err(err)?;
    let names: Vec<String> = rows.iter().map(|(s, _)| s.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("strategy")
        .y_desc("latency (µs)")
        .x_labels(rows.len() * 2 + 1)
        .x_label_formatter(&|x| category_label(*x, 0.5, &names))
        .y_label_formatter(&|y| human(*y))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(err)?;
    for (k, (_, alpha)) in shades.iter().enumerate() {
        let bars: Vec<Rectangle<(f64, f64)>> = rows
            .iter()
            .enumerate()
            .map(|(i, (s, v))| {
                let x0 = i as f64 + 0.15 + k as f64 * 0.23;
                Rectangle::new([(x0, 1.0), (x0 + 0.2, v[k] as f64)], colour(s).mix(*alpha).filled())
            })
            .collect();
        chart.draw_series(bars).map_err(err)?;
    }
    Ok(())
}

/// The key of a quantile's bars: dark grey at the bars' opacity, over white.
fn key_grey(alpha: f64) -> RGBColor {
    let v = (60.0 * alpha + 255.0 * (1.0 - alpha)).round() as u8;
    RGBColor(v, v, v)
}

fn violations<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Comparison) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let strategies = strategies(c);
    let kinds: Vec<ViolationKind> = ViolationKind::ALL
        .iter()
        .copied()
        .filter(|&k| k.is_error() && c.cells.iter().any(|cell| cell.report.violations.count(k) > 0))
        .collect();
    let total = |s: &str, k: ViolationKind| -> u64 {
        c.cells
            .iter()
            .filter(|cell| cell.report.strategy == s)
            .map(|cell| cell.report.violations.count(k))
            .sum()
    };
    let caption = "Violations per kind, summed over the matrix (log scale; locks should show none)";
    if kinds.is_empty() {
        root.draw(&Text::new("No violation of any kind in any cell.", (300, 280), (FONT, 28)))
            .map_err(err)?;
        root.draw(&Text::new(caption, (120, 30), (FONT, 22))).map_err(err)?;
        return Ok(());
    }
    let max_y = kinds
        .iter()
        .flat_map(|&k| strategies.iter().map(move |s| (s, k)))
        .map(|(s, k)| total(s, k))
        .max()
        .unwrap_or(1) as f64
        * 30.0; // room on the right for the legend
    let n = kinds.len() as f64;
    // Horizontal bars: kinds down the side, where their names have room.
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FONT, 22))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(200)
        // From 0.5, so that a count of 1 still draws a bar.
        .build_cartesian_2d((0.5f64..max_y.max(10.0)).log_scale(), 0f64..n)
        .map_err(err)?;
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("violations (count, log scale)")
        .y_labels(kinds.len() * 2 + 1)
        .y_label_formatter(&|y| category_label(*y, 0.5, &names))
        .x_label_formatter(&|x| if *x < 1.0 { String::new() } else { human(*x) })
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(err)?;
    let height = 0.8 / strategies.len().max(1) as f64;
    for (j, s) in strategies.iter().enumerate() {
        let col = colour(s);
        let bars: Vec<Rectangle<(f64, f64)>> = kinds
            .iter()
            .enumerate()
            .filter(|&(_, &k)| total(s, k) > 0)
            .map(|(i, &k)| {
                let y0 = i as f64 + 0.1 + j as f64 * height;
                Rectangle::new([(0.5, y0), (total(s, k) as f64, y0 + height * 0.9)], col.filled())
            })
            .collect();
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(s.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], col.filled()));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// The peers chart's ceiling series: the row's own ceiling.
const CEILING_SERIES: &str = "ceiling (loopback echo; group-commit bound under fsync always)";

/// One goal row of the peers chart: its label and (series, messages/s) bars.
fn peer_rows(c: &Comparison) -> Vec<(String, Vec<(&'static str, f64)>)> {
    c.goals
        .iter()
        .filter(|g| !g.peers.is_empty())
        .map(|g| {
            let label =
                g.name.trim_start_matches("loopback TCP, ").trim_end_matches(", 8 producers").to_string();
            let mut bars = vec![("synclog (rwlock)", g.measured_msgs_per_s)];
            for p in &g.peers {
                let series = match p.peer {
                    PeerKind::Redis => "Redis Streams",
                    PeerKind::Nats => "NATS JetStream",
                };
                bars.push((series, p.msgs_per_s));
            }
            if g.ratio_to_ceiling.is_some() {
                // One series, so no row has an empty slot: the fsync-always row's ceiling is
                // the group-commit bound, the others' the loopback echo.
                bars.push((CEILING_SERIES, g.ceiling_msgs_per_s));
            }
            (label, bars)
        })
        .rev() // the first goal on top
        .collect()
}

fn series_colour(series: &str) -> RGBColor {
    match series {
        "synclog (rwlock)" => colour("rwlock"),
        "Redis Streams" => RGBColor(200, 60, 50),
        "NATS JetStream" => RGBColor(23, 170, 190),
        _ => RGBColor(150, 150, 150),
    }
}

fn peers<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Comparison) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let rows = peer_rows(c);
    let series = ["synclog (rwlock)", "Redis Streams", "NATS JetStream", CEILING_SERIES];
    let max_x = rows.iter().flat_map(|(_, b)| b.iter().map(|&(_, v)| v)).fold(10.0, f64::max) * 3.0;
    let min_x = rows.iter().flat_map(|(_, b)| b.iter().map(|&(_, v)| v)).fold(max_x, f64::min) / 3.0;
    // One empty band above the rows holds the legend, clear of every bar.
    let n = rows.len().max(1) as f64 + 1.0;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "synclog and its peers, same workload, same machine, same run (8 producers, 100 B)",
            (FONT, 22),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(330)
        .build_cartesian_2d((min_x.max(1.0)..max_x).log_scale(), 0f64..n)
        .map_err(err)?;
    let names: Vec<&str> = rows.iter().map(|(l, _)| l.as_str()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("acknowledged messages per second (log scale)")
        .y_labels(rows.len() * 2 + 3)
        .y_label_formatter(&|y| category_label(*y, 0.5, &names))
        .x_label_formatter(&|x| human(*x))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(err)?;
    let height = 0.8 / series.len() as f64;
    for (j, name) in series.iter().enumerate() {
        let col = series_colour(name);
        let bars: Vec<Rectangle<(f64, f64)>> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, b))| b.iter().find(|(s, _)| s == name).map(|&(_, v)| (i, v)))
            .map(|(i, v)| {
                // The first series on top of its band.
                let y0 = i as f64 + 0.9 - (j as f64 + 1.0) * height;
                Rectangle::new([(min_x.max(1.0), y0), (v, y0 + height * 0.9)], col.filled())
            })
            .collect();
        if bars.is_empty() {
            continue;
        }
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], col.filled()));
        let values: Vec<(f64, f64)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, b))| b.iter().find(|(s, _)| s == name).map(|&(_, v)| (i as f64, v)))
            .collect();
        chart
            .draw_series(values.into_iter().map(|(i, v)| {
                let y = i + 0.9 - (j as f64 + 1.0) * height + height * 0.45;
                Text::new(
                    format!(" {}", human(v)),
                    (v, y),
                    TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
                )
            }))
            .map_err(err)?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// The legend box every chart uses, at `position`.
pub(super) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// The label of a categorical axis at `v`: category `i` sits at `i + offset` (0 for points on the
/// tick, 0.5 for bars centred in their band); ticks between categories get no label.
pub(super) fn category_label(v: f64, offset: f64, names: &[impl ToString]) -> String {
    let i = (v - offset).round();
    if (v - offset - i).abs() < 0.01 && i >= 0.0 {
        names.get(i as usize).map_or(String::new(), ToString::to_string)
    } else {
        String::new()
    }
}

/// 1 234 567 → "1.2 M"; 12 345 → "12 k"; 1 234 → "1.2 k"; 1 000 → "1 k".
pub fn human(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1} M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0} k", v / 1e3)
    } else if v >= 1e3 {
        // One decimal below 10 k, so axis ticks 1 000 and 1 200 read "1 k" and "1.2 k".
        let k = format!("{:.1}", v / 1e3);
        format!("{} k", k.strip_suffix(".0").unwrap_or(&k))
    } else {
        format!("{v:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::rows::RunReport;

    #[test]
    fn thousands_keep_a_decimal_so_ticks_differ() {
        assert_eq!(human(1_000.0), "1 k");
        assert_eq!(human(1_200.0), "1.2 k");
        assert_eq!(human(1_500.0), "1.5 k");
        assert_eq!(human(12_345.0), "12 k");
        assert_eq!(human(1_234_567.0), "1.2 M");
        assert_eq!(human(800.0), "800");
    }

    #[test]
    fn keys_fill_a_row_then_wrap() {
        assert_eq!(key_rows(&[100, 100, 100], 240), [0..2, 2..3]);
        assert_eq!(key_rows(&[100, 100, 100], 400), vec![std::ops::Range { start: 0, end: 3 }]);
        assert_eq!(key_rows(&[300, 50], 240), [0..1, 1..2], "a key wider than a row has its own");
        assert!(key_rows(&[], 240).is_empty());
    }

    /// The `y` of the first `<text>` of `svg` that reads `label`.
    fn text_y(svg: &str, label: &str) -> f64 {
        let element = svg
            .split("<text")
            .skip(1)
            .find(|e| {
                e.split_once('>').and_then(|(_, rest)| rest.split_once("</text>")).map(|(t, _)| t.trim())
                    == Some(label)
            })
            .unwrap_or_else(|| panic!("no text {label:?}"));
        let y = element.find(" y=\"").expect("a y attribute") + 4;
        element[y..].split('"').next().and_then(|v| v.parse().ok()).expect("a number")
    }

    #[test]
    fn the_throughput_legend_sits_under_the_plot() {
        register_font();
        let reports = ["none", "semaphore", "rwlock", "mutex", "std-rwlock"]
            .iter()
            .flat_map(|s| {
                [1, 2, 4, 8].map(|p| RunReport {
                    strategy: s.to_string(),
                    producers: p,
                    ..RunReport::sample()
                })
            })
            .collect();
        let c = Comparison::sample(reports);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            throughput(&root, &c, false).expect("drawn");
            root.present().expect("presented");
        }
        // The x axis's description is under the axis; every key is under that.
        let axis = text_y(&svg, "producers");
        for key in ["none", "std-rwlock", "ceiling: loopback echo, same framing"] {
            let y = text_y(&svg, key);
            assert!(y > axis && y < f64::from(SIZE.1), "{key} at y {y}, the axis description at {axis}");
        }
    }
}
