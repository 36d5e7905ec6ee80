//! The charts of `compare --lock-stats`, drawn from the result rows alone:
//!
//! - `lock_time`, "where the time goes": per strategy, the producers' and the consumers' time
//!   as stacked bars, waiting for the lock / holding it / outside it (the cell with the most
//!   producers of each strategy);
//! - `lock_wait`: the wait for the lock per strategy, write and read sections, at p50, p99,
//!   p99.9 and max on a logarithmic axis (the same cells).

use super::charts::{category_label, colour, draw_legend, err, DrawResult, FONT};
use super::count;
use crate::report::locks::{takes_lock, LockRow, TimeShare};
use crate::report::rows::{Comparison, RunReport};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Where a part of a stacked bar starts and ends, as shares.
type Span = fn(&TimeShare) -> (f64, f64);

/// Per strategy that takes a lock, the timed cell with the most producers (then consumers).
/// `none` takes none: the time inside its sections is no lock's, so it has no bar or line.
fn timed_cells(c: &Comparison) -> Vec<(&RunReport, &LockRow)> {
    let mut out: Vec<(&RunReport, &LockRow)> = Vec::new();
    for cell in &c.cells {
        let r = &cell.report;
        let Some(l) = r.lock.as_ref().filter(|_| takes_lock(&r.strategy)) else { continue };
        match out.iter_mut().find(|(o, _)| o.strategy == r.strategy) {
            Some(slot) if (r.producers, r.consumers) > (slot.0.producers, slot.0.consumers) => *slot = (r, l),
            Some(_) => {}
            None => out.push((r, l)),
        }
    }
    out
}

/// `true` when some cell of a strategy that takes a lock ran with `--lock-stats`.
pub fn any(c: &Comparison) -> bool {
    !timed_cells(c).is_empty()
}

/// Stacked bars: one per strategy and side, wait / hold / outside in percent.
pub fn time<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Comparison) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let mut rows: Vec<(String, TimeShare)> = Vec::new();
    for (r, l) in timed_cells(c) {
        rows.push((format!("{}, {}", r.strategy, count(r.producers, "producer")), l.producers));
        if let Some(cs) = l.consumers {
            rows.push((format!("{}, {}", r.strategy, count(r.consumers, "consumer")), cs));
        }
    }
    let n = rows.len().max(1) as f64;
    let parts: [(&str, RGBColor, Span); 3] = [
        ("waiting for the lock", RGBColor(214, 39, 40), |t| (0.0, t.wait)),
        ("holding it", RGBColor(255, 187, 120), |t| (t.wait, t.wait + t.hold)),
        ("outside it", RGBColor(190, 190, 190), |t| (t.wait + t.hold, 1.0)),
    ];
    // Every bar reaches 100 %: the legend has its own strip below the chart, clear of them.
    let height = root.dim_in_pixel().1;
    let (plot, strip) = root.split_vertically(height.saturating_sub(50));
    let mut x = 300;
    for (label, col, _) in &parts {
        strip.draw(&Rectangle::new([(x, 14), (x + 18, 30)], col.filled())).map_err(err)?;
        strip.draw(&Text::new(label.to_string(), (x + 26, 12), (FONT, 18))).map_err(err)?;
        x += 60 + 10 * label.len() as i32;
    }
    let mut chart = ChartBuilder::on(&plot)
        .caption("Where the time goes: waiting for the lock, holding it, outside it", (FONT, 22))
        .margin(30)
        .margin_bottom(0)
        .x_label_area_size(50)
        .y_label_area_size(260)
        .build_cartesian_2d(0f64..100.0, 0f64..n)
        .map_err(err)?;
    let names: Vec<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_max_light_lines(0)
        .x_desc("share of the side's time (threads × window), %")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_labels(rows.len() * 2 + 1)
        .y_label_formatter(&|y| category_label(*y, 0.5, &names))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(err)?;
    for (_, col, span) in parts {
        let bars = rows.iter().enumerate().map(move |(i, (_, t))| {
            let (from, to) = span(t);
            Rectangle::new([(from * 100.0, i as f64 + 0.15), (to * 100.0, i as f64 + 0.85)], col.filled())
        });
        chart.draw_series(bars).map_err(err)?;
    }
    Ok(())
}

/// Wait quantiles per strategy and section on a log axis.
pub fn wait<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Comparison) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let cells = timed_cells(c);
    let quantiles = ["p50", "p99", "p99.9", "max"];
    let max_ns = cells
        .iter()
        .flat_map(|(_, l)| [l.stats.write.wait_ns.max, l.stats.read.wait_ns.max])
        .max()
        .unwrap_or(1)
        .max(1_000) as f64
        * 3.0;
    let mut chart = ChartBuilder::on(root)
        .caption("Wait for the lock (solid: write sections, dashed: read sections; log scale)", (FONT, 22))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.2f64..3.2, (5f64..max_ns).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(4 * 2 + 1)
        .x_label_formatter(&|x| category_label(*x, 0.0, &quantiles))
        .y_desc("wait")
        .y_label_formatter(&|y| super::locks::ns(*y as u64))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(err)?;
    for (r, l) in cells {
        let col = colour(&r.strategy);
        for (section, dashed) in [(&l.stats.write, false), (&l.stats.read, true)] {
            if section.acquisitions == 0 {
                continue;
            }
            let q = &section.wait_ns;
            let points: Vec<(f64, f64)> = [q.p50, q.p99, q.p999, q.max]
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as f64, (v as f64).max(5.0)))
                .collect();
            let style = col.stroke_width(if dashed { 2 } else { 3 });
            let series = if dashed {
                chart.draw_series(DashedLineSeries::new(points.clone(), 8, 6, style)).map_err(err)?
            } else {
                chart.draw_series(LineSeries::new(points.clone(), style)).map_err(err)?
            };
            let kind = if dashed { "read" } else { "write" };
            series.label(format!("{} {kind}", r.strategy)).legend(move |(x, y)| {
                // Read sections: a broken stroke, as drawn.
                let w = if dashed { 10 } else { 18 };
                PathElement::new([(x, y), (x + w, y)], col.stroke_width(3))
            });
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, col.filled()))).map_err(err)?;
        }
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)
}
