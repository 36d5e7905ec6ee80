//! Open-loop latency curves (`compare --rates`): each strategy driven at fixed rates, each
//! request timed from when it was due, so the curve rises where the strategy saturates instead
//! of hiding the queue (coordinated omission).
//!
//! - [`saturation`]: the highest rate a strategy held — p99 under the bound and at least 95 % of
//!   the rate achieved;
//! - [`section`]: the `summary.md` table and one sentence per strategy, from the points alone;
//! - [`chart`]: p99 (and p50) latency against the throughput achieved, one curve per strategy,
//!   on a logarithmic latency axis.

use super::charts::{colour, draw_legend, err, human, DrawResult, FONT};
use super::rows::{Comparison, RatePoint};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Write;

/// A rate is held when at least this share of it was achieved (and p99 stayed under the bound).
pub const HELD_SHARE: f64 = 0.95;

/// Whether `p` held its rate under `bound_us`.
pub fn held(p: &RatePoint, bound_us: u64) -> bool {
    p.p99_us <= bound_us && p.achieved_msgs_per_s >= HELD_SHARE * p.target_msgs_per_s
}

/// The highest target rate `strategy` held, if any.
pub fn saturation(points: &[RatePoint], strategy: &str, bound_us: u64) -> Option<f64> {
    points
        .iter()
        .filter(|p| p.strategy == strategy && held(p, bound_us))
        .map(|p| p.target_msgs_per_s)
        .fold(None, |best: Option<f64>, r| Some(best.map_or(r, |b| b.max(r))))
}

/// The strategies of `points`, in first-seen order.
fn strategies(points: &[RatePoint]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for p in points {
        if !out.contains(&p.strategy.as_str()) {
            out.push(&p.strategy);
        }
    }
    out
}

/// The `summary.md` section; empty without `--rates`.
pub fn section(c: &Comparison) -> String {
    let mut s = String::new();
    if c.rate_points.is_empty() {
        return s;
    }
    let bound_ms = c.p99_bound_us as f64 / 1000.0;
    let _ = writeln!(
        s,
        "\n## Open-loop latency (`--rates`)\n\nEach request was due at a fixed time and is timed from then, \
so a strategy that falls behind shows it in its latency. A rate is held when p99 stays under \
{bound_ms} ms and at least {:.0} % of it is achieved.\n",
        HELD_SHARE * 100.0
    );
    let _ = writeln!(s, "| strategy | asked msg/s | achieved msg/s | p50 µs | p99 µs | p99.9 µs | sent late | held | verdict |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---|---|");
    for p in &c.rate_points {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {:.1} % | {} | {} |",
            p.strategy,
            human(p.target_msgs_per_s),
            human(p.achieved_msgs_per_s),
            p.p50_us,
            p.p99_us,
            p.p999_us,
            p.late_share * 100.0,
            if held(p, c.p99_bound_us) { "yes" } else { "no" },
            p.verdict
        );
    }
    let _ = writeln!(s);
    for strategy in strategies(&c.rate_points) {
        let asked = c.rate_points.iter().filter(|p| p.strategy == strategy).count();
        let _ = match saturation(&c.rate_points, strategy, c.p99_bound_us) {
            Some(rate) => {
                writeln!(s, "- {strategy}: held up to {} msg/s of the {asked} rates asked.", human(rate))
            }
            None => writeln!(s, "- {strategy}: held none of the {asked} rates asked."),
        };
    }
    s
}

/// p99 (solid) and p50 (dashed) latency against the achieved rate, one colour per strategy.
pub fn chart<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Comparison) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let points = &c.rate_points;
    let max_x = points.iter().map(|p| p.achieved_msgs_per_s).fold(1.0, f64::max) * 1.25;
    let max_y = points.iter().map(|p| p.p99_us.max(1) as f64).fold(10.0, f64::max) * 3.0;
    let mut chart = ChartBuilder::on(root)
        .caption("Open-loop latency against throughput achieved (log scale)", (FONT, 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..max_x, (1f64..max_y).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("messages/s achieved")
        .y_desc("latency from due time (µs)")
        .x_label_formatter(&|x| human(*x))
        .y_label_formatter(&|y| human(*y))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(err)?;
    let bound = c.p99_bound_us.max(1) as f64;
    let bound_colour = RGBColor(200, 0, 0);
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, bound), (max_x, bound)],
            10,
            6,
            bound_colour.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("p99 bound {} ms", c.p99_bound_us as f64 / 1000.0))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], bound_colour.stroke_width(2)));
    for strategy in strategies(points) {
        let col = colour(strategy);
        let mut curve: Vec<&RatePoint> = points.iter().filter(|p| p.strategy == strategy).collect();
        curve.sort_by(|a, b| a.target_msgs_per_s.total_cmp(&b.target_msgs_per_s));
        let p99: Vec<(f64, f64)> =
            curve.iter().map(|p| (p.achieved_msgs_per_s, p.p99_us.max(1) as f64)).collect();
        let p50: Vec<(f64, f64)> =
            curve.iter().map(|p| (p.achieved_msgs_per_s, p.p50_us.max(1) as f64)).collect();
        chart
            .draw_series(LineSeries::new(p99.clone(), col.stroke_width(3)))
            .map_err(err)?
            .label(format!("{strategy} p99"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3)));
        chart.draw_series(p99.iter().map(|&xy| Circle::new(xy, 4, col.filled()))).map_err(err)?;
        chart
            .draw_series(DashedLineSeries::new(p50, 6, 4, col.stroke_width(1)))
            .map_err(err)?
            .label(format!("{strategy} p50"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(1)));
    }
    // Past saturation the achieved rate falls back: the lower right stays empty.
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(strategy: &str, target: f64, achieved: f64, p99_us: u64) -> RatePoint {
        RatePoint {
            strategy: strategy.into(),
            target_msgs_per_s: target,
            achieved_msgs_per_s: achieved,
            p50_us: p99_us / 4,
            p99_us,
            p999_us: p99_us * 2,
            late_share: 0.0,
            verdict: "clean".into(),
        }
    }

    #[test]
    fn saturation_is_the_highest_rate_held_under_the_bound() {
        let points = vec![
            point("mutex", 10_000.0, 10_000.0, 200),
            point("mutex", 20_000.0, 19_900.0, 900),
            point("mutex", 40_000.0, 39_000.0, 50_000), // p99 over the bound
            point("mutex", 80_000.0, 41_000.0, 400),    // fell short of the rate
            point("rwlock", 10_000.0, 5_000.0, 100),
        ];
        assert_eq!(saturation(&points, "mutex", 10_000), Some(20_000.0));
        assert_eq!(saturation(&points, "rwlock", 10_000), None, "half the rate is not holding it");
        assert_eq!(saturation(&points, "mutex", 100_000), Some(40_000.0), "a looser bound holds more");
    }

    #[test]
    fn the_section_names_each_strategys_saturation_from_the_points() {
        let c = Comparison {
            cells: Vec::new(),
            goals: Vec::new(),
            section_costs: Vec::new(),
            fdatasync_ceiling_per_s: None,
            rate_points: vec![
                point("mutex", 10_000.0, 10_000.0, 200),
                point("rwlock", 10_000.0, 2_000.0, 90_000),
            ],
            p99_bound_us: 10_000,
            machine: crate::report::rows::Machine { cpus: 2, kernel: "k".into(), data_dir_fs: "ext4".into() },
            duration_s: 1.0,
        };
        let s = section(&c);
        assert!(s.contains("- mutex: held up to 10 k msg/s of the 1 rates asked."), "{s}");
        assert!(s.contains("- rwlock: held none of the 1 rates asked."), "{s}");
        assert!(s.contains("| mutex | 10 k | 10 k | 50 | 200 | 400 | 0.0 % | yes | clean |"), "{s}");
        let empty = Comparison { rate_points: Vec::new(), ..c };
        assert_eq!(section(&empty), "", "no section without --rates");
    }
}
