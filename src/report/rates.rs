//! Open-loop latency curves (`compare --rates`): each strategy driven at fixed rates, each
//! request timed from when it was due, so the curve rises where the strategy saturates instead
//! of hiding the queue (coordinated omission).
//!
//! - [`saturation`]: the highest rate a strategy held — p99 under the bound and at least 95 % of
//!   the rate achieved;
//! - [`section`]: the `summary.md` table and one sentence per strategy, from the points alone;
//! - [`agreement_section`]: per strategy, the closed-loop cell's p50/p99 beside the open-loop
//!   p50/p99 at the held rate nearest the closed-loop throughput, their ratios, and a sentence
//!   chosen from them (do the two instruments agree below saturation?);
//! - [`chart`]: p99 (and p50) latency against the throughput achieved, one curve per strategy,
//!   on a logarithmic latency axis.

use super::charts::{colour, draw_legend, err, human, DrawResult, FONT};
use super::count;
use super::rows::{Comparison, Figures, RatePoint};
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

/// Open-loop and closed-loop latencies "agree within noise" when their p50 ratio and their
/// p99 ratio are each within this factor either way: the allowance chosen for two single runs
/// on a shared machine (a threshold, not a measurement).
pub const AGREE_WITHIN: f64 = 1.5;

/// An open-loop point counts as "at the same throughput" as the closed loop when its achieved
/// rate is within this factor of the closed-loop throughput, either way.
pub const SAME_RATE_WITHIN: f64 = 1.5;

/// One strategy's closed loop and the open-loop point set beside it.
#[derive(Debug, Clone, Copy)]
pub struct Agreement<'a> {
    /// The closed-loop cell with the rate runs' producers and consumers.
    pub closed: &'a Figures,
    /// The held rate whose achieved throughput is nearest the closed-loop throughput.
    pub open: &'a RatePoint,
}

impl Agreement<'_> {
    /// Open-loop over closed-loop: (achieved rate, p50, p99).
    pub fn ratios(&self) -> (f64, f64, f64) {
        let r = |open: f64, closed: f64| open / closed.max(1e-9);
        (
            r(self.open.achieved_msgs_per_s, self.closed.msgs_per_s),
            r(self.open.p50_us.max(1) as f64, self.closed.p50_us.max(1) as f64),
            r(self.open.p99_us.max(1) as f64, self.closed.p99_us.max(1) as f64),
        )
    }
}

/// `strategy`'s closed loop and its nearest open-loop point below saturation, or why there is
/// none (the sentence `summary.md` prints instead).
pub fn agreement<'a>(c: &'a Comparison, strategy: &str) -> Result<Agreement<'a>, String> {
    let points: Vec<&RatePoint> = c.rate_points.iter().filter(|p| p.strategy == strategy).collect();
    let Some(first) = points.first() else {
        return Err(format!("{strategy}: no open-loop run."));
    };
    let (producers, consumers) = (first.producers, first.consumers);
    let Some(cell) = c.cells.iter().find(|cell| {
        cell.report.strategy == strategy
            && cell.report.producers == producers
            && cell.report.consumers == consumers
    }) else {
        return Err(format!(
            "{strategy}: no closed-loop cell ran with {} × {} (the rate runs' counts), so there is nothing to set beside the open loop.",
            count(producers, "producer"),
            count(consumers, "consumer")
        ));
    };
    let closed = &cell.report.produce;
    match nearest_held(&points, closed.msgs_per_s, c.p99_bound_us) {
        Some(open) => Ok(Agreement { closed, open }),
        None => Err(format!(
            "{strategy}: held none of the rates, so no open-loop point lies below saturation to set beside its closed loop ({} msg/s).",
            human(closed.msgs_per_s)
        )),
    }
}

/// Of `points`, the one held under `bound_us` whose achieved rate is nearest `msgs_per_s` (by
/// ratio, so 0.5× and 2× are as far).
pub fn nearest_held<'a>(points: &[&'a RatePoint], msgs_per_s: f64, bound_us: u64) -> Option<&'a RatePoint> {
    let distance = |p: &RatePoint| (p.achieved_msgs_per_s.max(1e-9) / msgs_per_s.max(1e-9)).ln().abs();
    points.iter().copied().filter(|p| held(p, bound_us)).min_by(|a, b| distance(a).total_cmp(&distance(b)))
}

/// The sentence for one strategy's [`Agreement`], chosen from its ratios.
fn agreement_sentence(strategy: &str, a: &Agreement<'_>) -> String {
    let (rate, p50, p99) = a.ratios();
    let at = format!(
        "{strategy}: at {} msg/s ({rate:.2}× its closed-loop {} msg/s) the open-loop p50 and p99 are {p50:.2}× and {p99:.2}× the closed-loop ones",
        human(a.open.achieved_msgs_per_s),
        human(a.closed.msgs_per_s)
    );
    let within = |x: f64, f: f64| x <= f && x >= 1.0 / f;
    if !within(rate, SAME_RATE_WITHIN) {
        format!(
            "{at}, but that is not the same throughput (not within ×{SAME_RATE_WITHIN}): the nearest rate held is too far from the closed loop's to compare; add a rate near {} msg/s to --rates.",
            human(a.closed.msgs_per_s)
        )
    } else if within(p50, AGREE_WITHIN) && within(p99, AGREE_WITHIN) {
        format!("{at}: they agree within ×{AGREE_WITHIN}, the allowance for single runs.")
    } else if p50.max(p99) > AGREE_WITHIN {
        higher_sentence(&at, p50, p99, a.open.late_share)
    } else {
        format!(
            "{at}: the open loop reports less than 1/{AGREE_WITHIN} of it: at this rate fewer requests overlap than in the closed loop, which keeps every producer's request outstanding all the time."
        )
    }
}

/// The open loop's quantiles above the closed loop's: late requests can raise a quantile `q`
/// only when more than `1 - q` of them were late, so the time queued behind the schedule is
/// named as the cause only for the quantiles that many late requests could reach.
fn higher_sentence(at: &str, p50: f64, p99: f64, late_share: f64) -> String {
    let late = format!("{:.1} %", late_share * 100.0);
    let unexplained: Vec<(&str, f64)> = [("p50", p50, 0.5), ("p99", p99, 0.01)]
        .into_iter()
        .filter(|&(_, ratio, needed)| ratio > AGREE_WITHIN && late_share <= needed)
        .map(|(name, _, needed)| (name, needed))
        .collect();
    let Some(&(name, needed)) = unexplained.first() else {
        return format!(
            "{at}: the open loop reports more than ×{AGREE_WITHIN} higher; {late} of its requests were sent late, and the time they queued behind their schedule is what the closed loop leaves out."
        );
    };
    let sent = if late_share == 0.0 {
        "none of its requests were sent late".to_string()
    } else if late_share * 1000.0 < 0.5 {
        "under 0.1 % of its requests were sent late".to_string()
    } else {
        format!("only {late} of its requests were sent late")
    };
    // The quantiles late requests could raise are named apart from the one they could not.
    let explained: Vec<&str> = [("p50", p50, 0.5), ("p99", p99, 0.01)]
        .into_iter()
        .filter(|&(_, ratio, needed)| ratio > AGREE_WITHIN && late_share > needed)
        .map(|(name, _, _)| name)
        .collect();
    let also = match explained.first() {
        Some(other) => format!(
            " (its {other}, which that many late requests can raise, is queueing behind the schedule)"
        ),
        None => String::new(),
    };
    format!(
        "{at}: the open loop reports more than ×{AGREE_WITHIN} higher, but {sent}, too few to raise its {name} (that takes more than {:.0} % sent late), so queueing behind the schedule does not account for its {name}; this run does not say what does{also}.",
        needed * 100.0
    )
}

/// The `summary.md` subsection setting each strategy's closed loop beside its open loop.
pub fn agreement_section(c: &Comparison) -> String {
    let mut s = String::new();
    let names = strategies(&c.rate_points);
    if names.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "
### Open loop against closed loop at the same throughput

Each strategy's closed-loop cell with the rate runs' producers and consumers, beside its open-loop run at the held rate (below saturation) whose achieved throughput is nearest the closed loop's. Both measured in this run.
"
    );
    let _ = writeln!(s, "| strategy | closed msg/s | closed p50 µs | closed p99 µs | open asked msg/s | open achieved msg/s | open p50 µs | open p99 µs | p50 open/closed | p99 open/closed |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut sentences = Vec::new();
    for strategy in names {
        match agreement(c, strategy) {
            Ok(a) => {
                let (_, p50, p99) = a.ratios();
                let _ = writeln!(
                    s,
                    "| {strategy} | {} | {} | {} | {} | {} | {} | {} | {p50:.2} | {p99:.2} |",
                    human(a.closed.msgs_per_s),
                    a.closed.p50_us,
                    a.closed.p99_us,
                    human(a.open.target_msgs_per_s),
                    human(a.open.achieved_msgs_per_s),
                    a.open.p50_us,
                    a.open.p99_us
                );
                sentences.push(agreement_sentence(strategy, &a));
            }
            Err(why) => {
                let _ = writeln!(s, "| {strategy} | — | — | — | — | — | — | — | — | — |");
                sentences.push(why);
            }
        }
    }
    let _ = writeln!(s);
    for sentence in sentences {
        let _ = writeln!(s, "- {sentence}");
    }
    s
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
                writeln!(
                    s,
                    "- {strategy}: held up to {} msg/s of the {} asked.",
                    human(rate),
                    count(asked as u64, "rate")
                )
            }
            None if asked == 1 => writeln!(s, "- {strategy}: did not hold the one rate asked."),
            None => writeln!(s, "- {strategy}: held none of the {asked} rates asked."),
        };
    }
    s.push_str(&agreement_section(c));
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
        // p50 also as hollow markers: one --rates value draws no line.
        chart.draw_series(p50.iter().map(|&xy| Circle::new(xy, 4, col.stroke_width(1)))).map_err(err)?;
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
            producers: 4,
            consumers: 0,
            target_msgs_per_s: target,
            achieved_msgs_per_s: achieved,
            p50_us: p99_us / 4,
            p99_us,
            p999_us: p99_us * 2,
            late_share: 0.0,
            verdict: "clean".into(),
            unacknowledged: 0,
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
        assert!(s.contains("- mutex: held up to 10 k msg/s of the 1 rate asked."), "{s}");
        assert!(s.contains("- rwlock: did not hold the one rate asked."), "{s}");
        assert!(s.contains("| mutex | 10 k | 10 k | 50 | 200 | 400 | 0.0 % | yes | clean |"), "{s}");
        assert!(
            s.contains("- mutex: no closed-loop cell ran with 4 producers × 0 consumers"),
            "without a closed-loop cell the agreement says why: {s}"
        );
        let empty = Comparison { rate_points: Vec::new(), ..c };
        assert_eq!(section(&empty), "", "no section without --rates");
    }

    #[test]
    fn the_open_loop_point_compared_is_the_held_one_nearest_the_closed_loop_throughput() {
        let points = [
            point("mutex", 5_000.0, 5_000.0, 200),
            point("mutex", 20_000.0, 19_500.0, 300),
            point("mutex", 30_000.0, 29_800.0, 50_000), // nearest, but over the bound
            point("mutex", 80_000.0, 31_000.0, 900),    // nearest, but fell short of its rate
        ];
        let refs: Vec<&RatePoint> = points.iter().collect();
        let nearest = nearest_held(&refs, 30_000.0, 10_000).expect("a held point");
        assert_eq!(nearest.target_msgs_per_s, 20_000.0);
        assert_eq!(nearest_held(&refs[2..], 30_000.0, 10_000), None, "nothing held");
    }

    #[test]
    fn the_agreement_sentence_follows_the_ratios() {
        let closed = Figures { msgs_per_s: 20_000.0, p50_us: 100, p99_us: 400, ..Figures::default() };
        let sentence = |open: &RatePoint| agreement_sentence("mutex", &Agreement { closed: &closed, open });
        let mut near = point("mutex", 18_000.0, 18_000.0, 480);
        near.p50_us = 110;
        assert!(sentence(&near).contains("1.10× and 1.20× the closed-loop ones: they agree within ×1.5"));
        let mut queued = near.clone();
        queued.p99_us = 4_000;
        queued.late_share = 0.12;
        assert!(
            sentence(&queued).contains("higher; 12.0 % of its requests were sent late"),
            "{}",
            sentence(&queued)
        );
        // None sent late: the time behind the schedule cannot be what raised the p99.
        queued.late_share = 0.0;
        let text = sentence(&queued);
        assert!(
            text.contains("higher, but none of its requests were sent late, too few to raise its p99")
                && !text.contains("is what the closed loop leaves out"),
            "{text}"
        );
        // A few late, under a twentieth of a percent: not "none".
        queued.late_share = 0.0004;
        let text = sentence(&queued);
        assert!(text.contains("but under 0.1 % of its requests were sent late"), "{text}");
        // A tenth late can raise the p99 but not the p50.
        let mut slow = near.clone();
        (slow.p50_us, slow.late_share) = (400, 0.1);
        let text = sentence(&slow);
        assert!(
            text.contains("but only 10.0 % of its requests were sent late, too few to raise its p50 (that takes more than 50 % sent late)"),
            "{text}"
        );
        // Whether the p99 was also higher decides whether the sentence names it apart.
        (slow.p99_us, slow.late_share) = (4_000, 0.1);
        let text = sentence(&slow);
        assert!(
            text.contains("does not account for its p50")
                && text.contains("(its p99, which that many late requests can raise"),
            "{text}"
        );
        let mut idle = near.clone();
        (idle.p50_us, idle.p99_us) = (30, 100);
        assert!(sentence(&idle).contains("fewer requests overlap"), "{}", sentence(&idle));
        let far = point("mutex", 2_000.0, 2_000.0, 400);
        assert!(sentence(&far).contains("not the same throughput"), "{}", sentence(&far));
    }
}
