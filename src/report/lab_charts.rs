//! Charts of `harness lab`, drawn with plotters as SVG and PNG from its rows ([`Lab`]) alone.
//!
//! - `lab_throughput_r<N>` (one per read length N): operations per second against the read
//!   share on a logarithmic axis, one line per strategy (the median of the repeats, with a bar from the
//!   slowest to the fastest repeat), one panel per thread count;
//! - `lab_crossover`: which locking strategy wins each mix (rows: read length and threads;
//!   columns: read share), coloured by the winner, darker the wider its lead over the runner-up,
//!   with the lead written in the cell (marked ≈ and palest when the spreads of the repeats
//!   overlap).
//!
//! Legends are drawn in their own strip above the panels, never over the data.

use crate::report::charts::{colour, human, register_font};
use crate::report::lab_summary::{cores, win_label, win_marks, winners, Winner};
use crate::report::rows::{Lab, LabCell};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

const FONT: &str = "sans-serif";

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// One chart of the lab: its name, its size, and what it draws.
struct Planned {
    name: String,
    size: (u32, u32),
    /// `Some(N)`: the throughput of reads of N records; `None`: the crossover.
    records: Option<u32>,
}

/// Every chart `lab` has, in order.
fn plan(lab: &Lab) -> Vec<Planned> {
    let mut out: Vec<Planned> = sorted(lab.cells.iter().map(|c| c.read_records))
        .into_iter()
        .map(|records| Planned {
            name: format!("lab_throughput_r{records}"),
            size: (1300, 720),
            records: Some(records),
        })
        .collect();
    let rows = sorted(lab.cells.iter().map(|c| (c.read_records, c.threads))).len() as u32;
    out.push(Planned {
        name: "lab_crossover".to_string(),
        size: (1200, (260 + 70 * rows).max(420)),
        records: None,
    });
    out
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, lab: &Lab, chart: &Planned) -> DrawResult {
    match chart.records {
        Some(records) => throughput(root, lab, records),
        None => crossover(root, lab),
    }
}

/// Draws every chart of `lab` into `dir` as `<name>.svg` and `<name>.png`; returns the names.
pub fn draw_all(lab: &Lab, dir: &Path) -> Result<Vec<String>, String> {
    register_font();
    let mut names = Vec::new();
    for chart in plan(lab) {
        write_both(dir, &chart.name, chart.size, &|r| draw(r, lab, &chart), &|r| draw(r, lab, &chart))?;
        names.push(chart.name);
    }
    Ok(names)
}

/// Every chart of `lab` as `(name, SVG document)`, drawn in memory (the report page's).
pub fn svg_strings(lab: &Lab) -> Result<Vec<(String, String)>, String> {
    register_font();
    let mut out = Vec::new();
    for chart in plan(lab) {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, chart.size).into_drawing_area();
            draw(&root, lab, &chart)?;
            root.present().map_err(err)?;
        }
        out.push((chart.name, svg));
    }
    Ok(out)
}

fn write_both(
    dir: &Path,
    name: &str,
    size: (u32, u32),
    svg: &dyn Fn(&DrawingArea<SVGBackend, Shift>) -> DrawResult,
    png: &dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> DrawResult,
) -> DrawResult {
    let svg_path = dir.join(format!("{name}.svg"));
    let root = SVGBackend::new(&svg_path, size).into_drawing_area();
    svg(&root)?;
    root.present().map_err(err)?;
    let png_path = dir.join(format!("{name}.png"));
    let root = BitMapBackend::new(&png_path, size).into_drawing_area();
    png(&root)?;
    root.present().map_err(err)
}

fn sorted<T: Ord>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = values.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The strategies in the order they first appear.
fn strategies(lab: &Lab) -> Vec<String> {
    let mut s: Vec<String> = Vec::new();
    for c in &lab.cells {
        if !s.contains(&c.strategy) {
            s.push(c.strategy.clone());
        }
    }
    s
}

/// A legend strip: a swatch and a name per strategy, left to right.
fn legend_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    names: &[String],
    note: &str,
) -> DrawResult {
    let mut x = 30;
    for name in names {
        let col = colour(name);
        area.draw(&Rectangle::new([(x, 12), (x + 34, 28)], col.filled())).map_err(err)?;
        area.draw(&Text::new(name.clone(), (x + 42, 10), (FONT, 18))).map_err(err)?;
        x += 60 + 11 * name.len() as i32;
    }
    if !note.is_empty() {
        area.draw(&Text::new(
            note.to_string(),
            (x + 20, 12),
            (FONT, 15).into_font().color(&RGBColor(80, 80, 80)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

fn throughput<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, lab: &Lab, records: u32) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let cells: Vec<&LabCell> = lab.cells.iter().filter(|c| c.read_records == records).collect();
    let bytes = cells.first().map_or(String::new(), |c| {
        if c.message_bytes_min == c.message_bytes_max {
            format!("{} B", c.message_bytes_min)
        } else {
            format!("{}..{} B", c.message_bytes_min, c.message_bytes_max)
        }
    });
    let title = format!(
        "Throughput vs read share: reads of {records} record{} from random offsets, appends of {bytes}, {}",
        if records == 1 { "" } else { "s" },
        cores(lab.machine.cpus)
    );
    let (top, rest) = root.split_vertically(80);
    top.draw(&Text::new(title, (30, 8), (FONT, 24))).map_err(err)?;
    let (_, strip) = top.split_vertically(40);
    legend_strip(&strip, &strategies(lab), "dot: median of the repeats; bar: slowest to fastest")?;
    let threads = sorted(cells.iter().map(|c| c.threads));
    let shares = sorted(cells.iter().map(|c| c.read_share_percent));
    let panels = rest.split_evenly(grid(threads.len()));
    // Logarithmic: appends-only cells run far faster than read-heavy ones, and both must show.
    let max_y = cells.iter().map(|c| c.ops_per_s_max).fold(1.0, f64::max) * 1.5;
    let min_y = cells.iter().map(|c| c.ops_per_s_min).filter(|&v| v > 0.0).fold(max_y, f64::min) / 1.5;
    // Down to a whole decade, so the axis's ticks (decade-based) reach the slowest cells too.
    let min_y = 10f64.powf(min_y.max(1.0).log10().floor());
    for (panel, &t) in panels.iter().zip(&threads) {
        let n = shares.len().max(1) as f64;
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{t} thread{}", if t == 1 { "" } else { "s" }), (FONT, 20))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(80)
            // The ticks are exactly the labelled values: plotters' own log ticks repeat each
            // decade (the last light tick of one decade is the first bold tick of the next), and
            // a label drawn twice on itself looks bold.
            .build_cartesian_2d(
                -0.3f64..(n - 0.7),
                (min_y.max(1.0)..max_y).log_scale().with_key_points(grid_values(min_y.max(1.0), max_y)),
            )
            .map_err(err)?;
        let labels: Vec<String> = shares.iter().map(|s| format!("{s}")).collect();
        chart
            .configure_mesh()
            .x_desc("read share (% of operations)")
            .y_desc("operations per second (log)")
            .x_labels(shares.len().max(2))
            .x_label_formatter(&|x| category(*x, &labels))
            // Ticks at 1, 2 and 5 of each decade: every decade the data spans gets a few
            // labels, none crowd.
            .y_label_formatter(&|y| decade_label(*y))
            // The grid is drawn below, darker at each decade.
            .disable_y_mesh()
            .x_max_light_lines(0)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err)?;
        for y in grid_values(min_y.max(1.0), max_y) {
            let decade = (y.log10() - y.log10().round()).abs() < 1e-9;
            let style = if decade { BLACK.mix(0.3) } else { BLACK.mix(0.12) };
            chart.draw_series(LineSeries::new([(-0.3, y), (n - 0.7, y)], style)).map_err(err)?;
        }
        for strategy in strategies(lab) {
            let col = colour(&strategy);
            let mine: Vec<(usize, &LabCell)> = shares
                .iter()
                .enumerate()
                .filter_map(|(i, &s)| {
                    cells
                        .iter()
                        .find(|c| c.strategy == strategy && c.threads == t && c.read_share_percent == s)
                        .map(|c| (i, *c))
                })
                .collect();
            let points: Vec<(f64, f64)> = mine.iter().map(|&(i, c)| (i as f64, c.ops_per_s_median)).collect();
            chart.draw_series(LineSeries::new(points.clone(), col.stroke_width(2))).map_err(err)?;
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, col.filled()))).map_err(err)?;
            chart
                .draw_series(mine.iter().map(|&(i, c)| {
                    PathElement::new(
                        vec![(i as f64, c.ops_per_s_min), (i as f64, c.ops_per_s_max)],
                        col.stroke_width(2),
                    )
                }))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Panels: one row up to 3, else two rows.
fn grid(n: usize) -> (usize, usize) {
    if n <= 3 {
        (1, n.max(1))
    } else {
        (2, n.div_ceil(2))
    }
}

fn category(v: f64, names: &[String]) -> String {
    let i = v.round();
    if (v - i).abs() < 0.01 && i >= 0.0 {
        names.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// `c` mixed toward white: `strength` 1 is the colour itself, 0 is white.
fn shade(c: RGBColor, strength: f64) -> RGBColor {
    let mix = |v: u8| (255.0 - (255.0 - f64::from(v)) * strength).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

fn crossover<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, lab: &Lab) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let ws = winners(lab);
    let rows = sorted(ws.iter().map(|w| (w.mix.read_records, w.mix.threads)));
    let shares = sorted(ws.iter().map(|w| w.mix.read_share_percent));
    let (top, rest) = root.split_vertically(80);
    let title = format!(
        "Which lock wins each mix (median ops/s), and by how much over the next, {}",
        cores(lab.machine.cpus)
    );
    top.draw(&Text::new(title, (30, 8), (FONT, 24))).map_err(err)?;
    let (_, strip) = top.split_vertically(40);
    let names: Vec<String> = strategies(lab).into_iter().filter(|s| s != "none").collect();
    legend_strip(&strip, &names, &crossover_key(&ws))?;
    let (nx, ny) = (shares.len().max(1) as f64, rows.len().max(1) as f64);
    let mut chart = ChartBuilder::on(&rest)
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(190)
        .build_cartesian_2d(0f64..nx, 0f64..ny)
        .map_err(err)?;
    let xl: Vec<String> = shares.iter().map(|s| format!("{s} %")).collect();
    let yl: Vec<String> = rows.iter().map(|(r, t)| format!("{t} thr, {r} rec/read")).collect();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("read share (% of operations)")
        .y_desc("threads, records per read")
        .x_labels(2 * shares.len() + 1)
        .y_labels(2 * rows.len() + 1)
        .x_label_formatter(&|x| category(*x - 0.5, &xl))
        .y_label_formatter(&|y| category(*y - 0.5, &yl))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(err)?;
    for w in &ws {
        let (Some(x), Some(y)) = (
            shares.iter().position(|&s| s == w.mix.read_share_percent),
            rows.iter().position(|&r| r == (w.mix.read_records, w.mix.threads)),
        ) else {
            continue;
        };
        let (x, y) = (x as f64, y as f64);
        // A win that is not clear (within the repeats' spread, or not judged) is drawn palest.
        let strength = if w.clear { (0.25 + 0.75 * (w.margin - 1.0).clamp(0.0, 1.0)).min(1.0) } else { 0.15 };
        let fill = shade(colour(&w.strategy), strength);
        chart
            .draw_series(std::iter::once(Rectangle::new([(x, y), (x + 1.0, y + 1.0)], fill.filled())))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Rectangle::new([(x, y), (x + 1.0, y + 1.0)], WHITE.stroke_width(2))))
            .map_err(err)?;
        let ink = if strength > 0.6 { WHITE } else { BLACK };
        let style = (FONT, 17).into_font().color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
        let label = win_label(w);
        chart.draw_series(std::iter::once(Text::new(label, (x + 0.5, y + 0.5), style))).map_err(err)?;
    }
    Ok(())
}

/// The crossover chart's key: what the shades mean, and each mark its cells carry.
fn crossover_key(ws: &[Winner]) -> String {
    let mut key = vec!["darker: wider lead (×2 is full colour)"];
    key.extend(win_marks(ws));
    key.join("; ")
}

/// The label of a log-axis tick: the value at 1, 2 and 5 of its decade, nothing elsewhere.
/// The values a log axis from `min` to `max` is labelled at: 1, 2 and 5 of each decade.
fn grid_values(min: f64, max: f64) -> Vec<f64> {
    let mut values = Vec::new();
    let mut decade = 10f64.powf(min.log10().floor());
    while decade <= max {
        values.extend([1.0, 2.0, 5.0].iter().map(|m| m * decade).filter(|v| (min..=max).contains(v)));
        decade *= 10.0;
    }
    values
}

fn decade_label(y: f64) -> String {
    if y <= 0.0 {
        return String::new();
    }
    let mantissa = y / 10f64.powf(y.log10().floor());
    if [1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 0.01) {
        human(y)
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::{crossover_key, decade_label, grid_values, svg_strings, win_label, winners};
    use crate::report::rows::{Lab, LabCell, Machine};

    fn cell(strategy: &str, threads: u32, share: u32, ops: f64) -> LabCell {
        LabCell {
            strategy: strategy.into(),
            threads,
            read_share_percent: share,
            read_records: 1,
            message_bytes_min: 100,
            message_bytes_max: 100,
            repeats: 1,
            ops_per_s_min: ops,
            ops_per_s_median: ops,
            ops_per_s_max: ops,
            records_read_per_s_median: ops,
            reads: 1,
            appends: 1,
            measured_read_percent: 50.0,
            violations: 0,
        }
    }

    fn lab_of(cells: Vec<LabCell>) -> Lab {
        Lab {
            machine: Machine { cpus: 2, kernel: "test".into(), data_dir_fs: "ext4".into() },
            cell_ms: 30,
            prefill_records: 100,
            seed: 1,
            cells,
            runs: Vec::new(),
            criterion_dir: String::new(),
            bench_append: Vec::new(),
        }
    }

    #[test]
    fn each_throughput_panel_labels_a_decade_once() {
        let mut cells = Vec::new();
        for threads in [1, 2] {
            cells.push(cell("mutex", threads, 0, 1_200_000.0));
            cells.push(cell("mutex", threads, 99, 30_000.0));
        }
        let lab = lab_of(cells);
        let charts = svg_strings(&lab).unwrap();
        let (_, svg) = charts.iter().find(|(name, _)| name == "lab_throughput_r1").unwrap();
        // Two panels: each labels 100 k once (plotters' own log ticks labelled it twice).
        let labelled = |text: &str| svg.lines().filter(|l| l.trim() == text).count();
        assert_eq!(labelled("100 k"), 2, "{svg}");
        assert_eq!(labelled("1.0 M"), 2, "{svg}");
        assert_eq!(labelled("20 k"), 2, "{svg}");
    }

    #[test]
    fn the_crossover_key_explains_the_marks_its_cells_carry_and_no_other() {
        let lab = |repeats: u32, spread: [(f64, f64); 2]| {
            let cells = ["mutex", "rwlock"]
                .into_iter()
                .zip(spread)
                .map(|(s, (min, max))| LabCell {
                    repeats,
                    ops_per_s_min: min,
                    ops_per_s_max: max,
                    ops_per_s_median: (min + max) / 2.0,
                    ..cell(s, 2, 50, 0.0)
                })
                .collect();
            Lab { cells, ..lab_of(Vec::new()) }
        };
        // Once each: nothing is within a spread; the win is marked ? and the key says why.
        let once = winners(&lab(1, [(100.0, 100.0), (200.0, 200.0)]));
        assert_eq!(win_label(&once[0]), "? rwlock ×2.00");
        let key = crossover_key(&once);
        assert!(key.contains("?: ran once") && !key.contains('≈'), "{key}");
        // Three repeats, overlapping: ≈, and no ? in the key.
        let close = winners(&lab(3, [(90.0, 110.0), (100.0, 120.0)]));
        assert_eq!(win_label(&close[0]), "≈ rwlock ×1.10");
        let key = crossover_key(&close);
        assert!(key.contains("≈: within the repeats' spread") && !key.contains('?'), "{key}");
        // Three repeats, apart: no mark and no mark's explanation.
        let apart = winners(&lab(3, [(90.0, 110.0), (200.0, 220.0)]));
        assert_eq!(win_label(&apart[0]), "rwlock ×2.10");
        assert_eq!(crossover_key(&apart), "darker: wider lead (×2 is full colour)");
        // One lock alone: no lead to show.
        let alone = winners(&Lab { cells: vec![cell("mutex", 2, 50, 100.0)], ..lab_of(Vec::new()) });
        assert_eq!(win_label(&alone[0]), "mutex");
        assert!(crossover_key(&alone).contains("no ×: the only lock that ran"));
    }

    #[test]
    fn the_grid_lies_at_the_labelled_values_only() {
        let grid = grid_values(10_000.0, 1_500_000.0);
        assert_eq!(grid, vec![1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6]);
        assert!(grid.iter().all(|&y| !decade_label(y).is_empty()));
        assert_eq!(grid_values(30.0, 90.0), vec![50.0]);
    }
}
