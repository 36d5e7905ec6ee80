//! The locks' own figures in a run's report (`--lock-stats`): how often the strategy's sections
//! were contended, how long callers waited and held them, what share of the producers' and
//! consumers' time that was, and how evenly the producers and consumers were served (Jain's
//! fairness index). The runner fills [`LockRow`] and [`Fairness`]; [`print_locks`] writes them
//! under a run's text report.

use crate::report::table::thousands;
use crate::strategies::timed::{contended_floor_ns, LockStats, SectionStats, CONTENDED_CAP_NS};
use serde::Serialize;
use std::io::{self, Write};

/// The lock statistics of one run (`lock` in the JSON; `null` without `--lock-stats`).
#[derive(Debug, Clone, Serialize)]
pub struct LockRow {
    /// The window the figures cover, seconds: from the first producer leaving its warm-up to
    /// the end of the load (the drain and the checks are not in it).
    pub window_s: f64,
    /// What the time shares are measured against, in words.
    pub share_basis: String,
    /// Write sections (appends) against the producers' time.
    pub producers: TimeShare,
    /// Read sections (fetches) against the consumers' time; `null` without consumers.
    pub consumers: Option<TimeShare>,
    /// Every figure of the timed strategy: threshold, clock cost, read and write sections,
    /// per thread.
    pub stats: LockStats,
}

/// Shares of one side's time, each in 0..=1, adding up to 1.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct TimeShare {
    /// Waiting to enter a section.
    pub wait: f64,
    /// Inside a section.
    pub hold: f64,
    /// Everything else (outside the lock: encoding, the network, the client, the checker's
    /// recording).
    pub outside: f64,
}

impl TimeShare {
    /// The shares of `wait_ns` and `hold_ns` summed over a side, out of `side_ns` (threads ×
    /// window); clamped so that the three add up to 1.
    pub fn of(wait_ns: u64, hold_ns: u64, side_ns: f64) -> TimeShare {
        if side_ns <= 0.0 {
            return TimeShare { wait: 0.0, hold: 0.0, outside: 1.0 };
        }
        let wait = (wait_ns as f64 / side_ns).min(1.0);
        let hold = (hold_ns as f64 / side_ns).min(1.0 - wait);
        TimeShare { wait, hold, outside: 1.0 - wait - hold }
    }
}

/// How evenly a run served its producers and consumers (`fairness` in the JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Fairness {
    /// Each producer's messages per second over its own timed window (warm-up end to last ack).
    pub producers: Spread,
    /// Each consumer's records per second from the start to its own last read; `null` without
    /// consumers.
    pub consumers: Option<Spread>,
}

/// Per-actor throughputs, their extremes and Jain's index.
#[derive(Debug, Clone, Serialize)]
pub struct Spread {
    pub per_actor: Vec<f64>,
    pub min: f64,
    pub max: f64,
    /// Jain's fairness index, see [`jain`].
    pub jain: f64,
}

impl Spread {
    /// The spread of `per_actor` (empty: all zero, index 1).
    pub fn of(per_actor: Vec<f64>) -> Spread {
        let min = per_actor.iter().copied().fold(f64::INFINITY, f64::min);
        let max = per_actor.iter().copied().fold(0.0, f64::max);
        Spread { min: if min.is_finite() { min } else { 0.0 }, max, jain: jain(&per_actor), per_actor }
    }
}

/// Whether a strategy takes a lock: `none` takes none, so it has no lock figures to show
/// (its sections are timed all the same: the time inside them is not a lock's).
pub fn takes_lock(strategy: &str) -> bool {
    strategy != "none"
}

/// Jain's fairness index (Jain, Chiu and Hawe, 1984): `(Σx)² / (n·Σx²)`. 1 when every `x` is
/// equal; `1/n` when one actor got everything; in between, the share of actors served
/// "equally" in effect. An empty or all-zero list is taken as fair (1).
pub fn jain(xs: &[f64]) -> f64 {
    let sum: f64 = xs.iter().sum();
    let squares: f64 = xs.iter().map(|x| x * x).sum();
    if xs.is_empty() || squares == 0.0 {
        return 1.0;
    }
    sum * sum / (xs.len() as f64 * squares)
}

/// Nanoseconds, shortened to three significant figures, rounded: 850 ns, 1.5 µs, 14.8 µs,
/// 148 µs, 1.23 ms, 2.5 s. A ratio of two printed figures is then within half a percent of the
/// ratio of the values; [`shown_ns`] gives the value as printed, for a ratio printed beside them.
pub fn ns(n: u64) -> String {
    let shown = shown_ns(n);
    let (scale, unit) = match shown {
        0..1_000 => return format!("{shown} ns"),
        1_000..1_000_000 => (1e3, "µs"),
        1_000_000..1_000_000_000 => (1e6, "ms"),
        _ => (1e9, "s"),
    };
    let digits = format!("{:.2}", shown as f64 / scale);
    let digits = digits.trim_end_matches('0').trim_end_matches('.');
    format!("{digits} {unit}")
}

/// `n` nanoseconds rounded to three significant figures (half up): the value [`ns`] prints.
pub fn shown_ns(n: u64) -> u64 {
    let mut factor = 1u64;
    while n / factor >= 1_000 {
        factor *= 10;
    }
    if factor == 1 {
        return n;
    }
    (n / factor + u64::from(n % factor >= factor / 2)).saturating_mul(factor)
}

fn section_row(out: &mut impl Write, side: &str, s: &SectionStats) -> io::Result<()> {
    writeln!(
        out,
        "  {side:<6} {:>11} acquisitions, {:>5.1}% contended   wait p50 {:>7}  p99 {:>7}  p99.9 {:>7}  max {:>7}   hold p50 {:>7}  p99 {:>7}",
        thousands(s.acquisitions),
        s.contended_share * 100.0,
        ns(s.wait_ns.p50),
        ns(s.wait_ns.p99),
        ns(s.wait_ns.p999),
        ns(s.wait_ns.max),
        ns(s.hold_ns.p50),
        ns(s.hold_ns.p99),
    )
}

fn share_row(out: &mut impl Write, side: &str, s: &TimeShare) -> io::Result<()> {
    writeln!(
        out,
        "  {side:<9} time: {:>5.1}% waiting for the lock, {:>5.1}% holding it, {:>5.1}% outside it",
        s.wait * 100.0,
        s.hold * 100.0,
        s.outside * 100.0
    )
}

/// One side's spread: `window` says what each actor's rate is measured over. A single actor
/// has nothing to share out with, so its line gives its rate and no fairness index.
fn spread_row(out: &mut impl Write, side: &str, unit: &str, window: &str, s: &Spread) -> io::Result<()> {
    if s.per_actor.len() == 1 {
        return writeln!(
            out,
            "  {side:<9} {unit}, {window}: {} (one alone)",
            thousands(s.max.round() as u64)
        );
    }
    writeln!(
        out,
        "  {side:<9} {unit} each, each {window}: min {} max {}, Jain's fairness index {:.3} (1 = all equal, 1/{} = one got all)",
        thousands(s.min.round() as u64),
        thousands(s.max.round() as u64),
        s.jain,
        s.per_actor.len()
    )
}

/// What counted as contended and why that figure: four times an uncontended acquire's p99,
/// kept between a floor (1 µs, or two clock reads when they cost more) and a 10 µs cap, with
/// which of the three set the threshold. A threshold at a bound means four times the p99 reached
/// it (the raw p99 is not kept), so the bound is named as the one that applied.
pub fn threshold_basis(stats: &LockStats) -> String {
    let floor = contended_floor_ns(stats.clock_ns);
    let applied = if stats.contended_above_ns >= CONTENDED_CAP_NS {
        format!("here 4 × the p99 reached the {} cap, which applied", ns(CONTENDED_CAP_NS))
    } else if stats.contended_above_ns <= floor {
        format!("here 4 × the p99 was at or below the {} floor, which applied", ns(floor))
    } else {
        "here 4 × the p99 itself, inside both bounds".to_string()
    };
    format!(
        "4 × an uncontended acquire's p99 measured in this process, kept within {}–{}: {applied}",
        ns(floor),
        ns(CONTENDED_CAP_NS)
    )
}

/// What each producer's rate is measured over: its own timed window, so the producers' rates
/// can add up to more than the run's total (which is over the whole load).
pub const PRODUCER_WINDOW: &str = "over its own sending time";

/// What each consumer's rate is measured over: from the start to its own last read.
pub const CONSUMER_WINDOW: &str = "from the start to its own last read";

/// The lock and fairness lines of a run's text report (nothing when both are absent).
pub fn print_locks(
    lock: Option<&LockRow>,
    fairness: Option<&Fairness>,
    out: &mut impl Write,
) -> io::Result<()> {
    match lock {
        // `none` takes no lock: its sections are timed, but no figure of them is a lock's.
        Some(l) if !takes_lock(&l.stats.strategy) => {
            writeln!(
                out,
                "  lock ({}): takes no lock, so there are no lock figures to show",
                l.stats.strategy
            )?;
        }
        Some(l) => {
            writeln!(
                out,
                "  lock ({}): {:.2} s after warm-up; contended = waited over {} ({}; a clock read costs {:.0} ns)",
                l.stats.strategy,
                l.window_s,
                ns(l.stats.contended_above_ns),
                threshold_basis(&l.stats),
                l.stats.clock_ns
            )?;
            section_row(out, "write", &l.stats.write)?;
            if l.stats.read.acquisitions > 0 {
                section_row(out, "read", &l.stats.read)?;
            }
            share_row(out, "producers", &l.producers)?;
            if let Some(c) = &l.consumers {
                share_row(out, "consumers", c)?;
            }
            writeln!(out, "  ({})", l.share_basis)?;
        }
        None => {}
    }
    if let Some(f) = fairness {
        spread_row(out, "producers", "msg/s", PRODUCER_WINDOW, &f.producers)?;
        if let Some(c) = &f.consumers {
            spread_row(out, "consumers", "records/s", CONSUMER_WINDOW, c)?;
        }
    }
    Ok(())
}

/// The lock and fairness columns of `results.csv`, after the violation kinds (empty cells
/// without `--lock-stats`; fairness is always measured).
pub const CSV_HEADER: &str = "lock_contended_above_ns,\
write_acquisitions,write_contended_share,write_wait_p50_ns,write_wait_p99_ns,write_wait_p999_ns,write_wait_max_ns,write_hold_p50_ns,write_hold_p99_ns,\
read_acquisitions,read_contended_share,read_wait_p50_ns,read_wait_p99_ns,read_wait_p999_ns,read_wait_max_ns,read_hold_p50_ns,read_hold_p99_ns,\
producers_wait_share,producers_hold_share,producers_outside_share,consumers_wait_share,consumers_hold_share,consumers_outside_share,\
producers_min_msgs_per_s,producers_max_msgs_per_s,producers_jain,consumers_min_msgs_per_s,consumers_max_msgs_per_s,consumers_jain";

/// One row's cells for [`CSV_HEADER`]'s columns.
pub fn csv_cells(lock: Option<&LockRow>, fairness: Option<&Fairness>) -> Vec<String> {
    let mut cells: Vec<String> = Vec::new();
    match lock {
        Some(l) => {
            cells.push(l.stats.contended_above_ns.to_string());
            for s in [&l.stats.write, &l.stats.read] {
                cells.push(s.acquisitions.to_string());
                if s.acquisitions == 0 {
                    // No section entered (a read section without consumers): no share, no
                    // wait or hold to give, so empty fields rather than 0.
                    cells.extend(std::iter::repeat_n(String::new(), 7));
                    continue;
                }
                cells.push(format!("{:.6}", s.contended_share));
                for v in [
                    s.wait_ns.p50,
                    s.wait_ns.p99,
                    s.wait_ns.p999,
                    s.wait_ns.max,
                    s.hold_ns.p50,
                    s.hold_ns.p99,
                ] {
                    cells.push(v.to_string());
                }
            }
            for t in [Some(l.producers), l.consumers] {
                match t {
                    Some(t) => cells.extend([t.wait, t.hold, t.outside].map(|x| format!("{x:.4}"))),
                    None => cells.extend([String::new(), String::new(), String::new()]),
                }
            }
        }
        None => cells.extend(std::iter::repeat_n(String::new(), 23)),
    }
    for spread in [fairness.map(|f| &f.producers), fairness.and_then(|f| f.consumers.as_ref())] {
        match spread {
            Some(s) => {
                // No index for a single actor, as the tables and the report say.
                let jain = if s.per_actor.len() == 1 { String::new() } else { format!("{:.4}", s.jain) };
                cells.extend([format!("{:.0}", s.min), format!("{:.0}", s.max), jain])
            }
            None => cells.extend([String::new(), String::new(), String::new()]),
        }
    }
    cells
}

/// A side's Jain index for a table cell: "—" for a single actor, who had nobody to share with.
pub fn jain_cell(s: &Spread) -> String {
    if s.per_actor.len() == 1 {
        "— (one alone)".to_string()
    } else {
        format!("{:.3}", s.jain)
    }
}

/// The `summary.md` section: one row per cell that ran with `--lock-stats`, and the fairness
/// of every cell. Empty when no cell has lock statistics.
pub fn summary_section<'a>(cells: impl Iterator<Item = &'a crate::report::rows::RunReport>) -> String {
    let rows: Vec<_> = cells.filter_map(|r| r.lock.as_ref().map(|l| (r, l))).collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## The locks themselves (--lock-stats)\n\n\
Measured in each cell from the first producer leaving its warm-up to the end of the load. \
Contended: the acquire waited longer than the threshold (4 × an uncontended acquire's p99, measured in \
this process, kept within 1 µs and 10 µs; the floor is two clock reads when they cost more than 1 µs). Time shares: write sections over producers × window, read sections over consumers × window. \
`none` takes no lock: \"—\" in its lock columns.\n\n\
| strategy | producers | consumers | write contended | write wait p99 | write wait max | read contended | read wait p99 | read wait max | producers waiting / holding | consumers waiting / holding | Jain (producers) |\n\
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (r, l) in rows {
        let (w, rd) = (&l.stats.write, &l.stats.read);
        let share = |t: Option<TimeShare>| {
            t.map_or("–".to_string(), |t| format!("{:.1}% / {:.1}%", t.wait * 100.0, t.hold * 100.0))
        };
        // `none` takes no lock: "—" in the lock columns (its figures stay in results.csv).
        let lock = |f: String| if takes_lock(&r.strategy) { f } else { "—".to_string() };
        // No read section entered (no consumer): no figure, not "0.0%" and "0 ns".
        let read = |f: String| lock(if rd.acquisitions == 0 { "–".to_string() } else { f });
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.strategy,
            r.producers,
            r.consumers,
            lock(format!("{:.1}%", w.contended_share * 100.0)),
            lock(ns(w.wait_ns.p99)),
            lock(ns(w.wait_ns.max)),
            read(format!("{:.1}%", rd.contended_share * 100.0)),
            read(ns(rd.wait_ns.p99)),
            read(ns(rd.wait_ns.max)),
            lock(share(Some(l.producers))),
            lock(share(l.consumers)),
            r.fairness.as_ref().map_or("–".to_string(), |f| jain_cell(&f.producers)),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_is_one_for_equal_counts_and_drops_as_they_diverge() {
        assert_eq!(jain(&[5.0, 5.0, 5.0, 5.0]), 1.0);
        let slight = jain(&[5.0, 5.0, 5.0, 4.0]);
        let wide = jain(&[5.0, 5.0, 5.0, 1.0]);
        assert!(slight < 1.0 && wide < slight, "{slight} {wide}");
        // One actor served, three starved: 1/n.
        assert!((jain(&[9.0, 0.0, 0.0, 0.0]) - 0.25).abs() < 1e-12);
        // Scale does not matter.
        assert!((jain(&[1.0, 3.0]) - jain(&[100.0, 300.0])).abs() < 1e-12);
        assert_eq!(jain(&[]), 1.0);
    }

    #[test]
    fn durations_keep_three_significant_figures_rounded() {
        assert_eq!(ns(0), "0 ns");
        assert_eq!(ns(850), "850 ns");
        assert_eq!(ns(999), "999 ns");
        assert_eq!(ns(1_000), "1 µs");
        assert_eq!(ns(1_500), "1.5 µs");
        assert_eq!(ns(1_234), "1.23 µs");
        // 14.84 µs was printed "14 µs" (truncated): a ratio beside it did not match.
        assert_eq!(ns(14_840), "14.8 µs");
        assert_eq!(ns(14_850), "14.9 µs");
        assert_eq!(ns(99_960), "100 µs");
        assert_eq!(ns(148_400), "148 µs");
        assert_eq!(ns(999_600), "1 ms");
        assert_eq!(ns(1_234_567), "1.23 ms");
        assert_eq!(ns(2_500_000_000), "2.5 s");
        assert_eq!(ns(123_456_000_000), "123 s");
        assert_eq!(shown_ns(14_840), 14_800);
        assert_eq!(shown_ns(14_850), 14_900);
        assert_eq!(shown_ns(20), 20);
        assert_eq!(shown_ns(u64::MAX), 18_400_000_000_000_000_000);
    }

    fn lock_row(strategy: &str, contended_above_ns: u64, read_acquisitions: u64) -> LockRow {
        use crate::strategies::timed::Quantiles;
        let q = Quantiles { total: 7, mean: 7.0, p50: 7, p99: 70, p999: 700, max: 7_000 };
        let section = |acquisitions| SectionStats {
            acquisitions,
            contended: 0,
            contended_share: 0.0,
            wait_ns: q.clone(),
            hold_ns: q.clone(),
        };
        LockRow {
            window_s: 1.0,
            share_basis: "basis".into(),
            producers: TimeShare { wait: 0.0, hold: 0.076, outside: 0.924 },
            consumers: None,
            stats: LockStats {
                strategy: strategy.into(),
                clock: "",
                clock_ns: 20.0,
                contended_above_ns,
                read: section(read_acquisitions),
                write: section(3_801),
                threads: vec![],
            },
        }
    }

    fn printed(lock: Option<&LockRow>, fairness: Option<&Fairness>) -> String {
        let mut out = Vec::new();
        print_locks(lock, fairness, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn none_prints_no_lock_figures() {
        let text = printed(Some(&lock_row("none", 1_000, 0)), None);
        assert!(text.contains("lock (none): takes no lock"), "{text}");
        assert!(!text.contains("acquisitions") && !text.contains("holding it"), "{text}");
        let text = printed(Some(&lock_row("mutex", 1_000, 0)), None);
        assert!(text.contains("3 801 acquisitions") && text.contains("7.6% holding it"), "{text}");
        assert!(!text.contains("  read "), "no read section entered, no read row: {text}");
    }

    #[test]
    fn the_threshold_names_its_clamp_and_which_bound_applied() {
        let at_cap = threshold_basis(&lock_row("mutex", 10_000, 0).stats);
        assert!(
            at_cap.contains("kept within 1 µs–10 µs") && at_cap.contains("reached the 10 µs cap"),
            "{at_cap}"
        );
        let at_floor = threshold_basis(&lock_row("mutex", 1_000, 0).stats);
        assert!(at_floor.contains("at or below the 1 µs floor"), "{at_floor}");
        let inside = threshold_basis(&lock_row("mutex", 2_400, 0).stats);
        assert!(inside.contains("4 × the p99 itself"), "{inside}");
        let text = printed(Some(&lock_row("rwlock", 10_000, 0)), None);
        assert!(
            text.contains("waited over 10 µs (4 × an uncontended acquire's p99") && text.contains("cap"),
            "{text}"
        );
    }

    #[test]
    fn a_read_section_never_entered_leaves_its_csv_fields_empty() {
        let cells = csv_cells(Some(&lock_row("rwlock", 1_000, 0)), None);
        assert_eq!(cells.len(), CSV_HEADER.split(',').count());
        let header: Vec<&str> = CSV_HEADER.split(',').collect();
        let at = |name: &str| &cells[header.iter().position(|h| *h == name).unwrap()];
        assert_eq!(at("read_acquisitions"), "0");
        for name in ["read_contended_share", "read_wait_p99_ns", "read_hold_p99_ns"] {
            assert_eq!(at(name), "", "{name}");
        }
        assert_eq!(at("write_wait_p99_ns"), "70");
        let entered = csv_cells(Some(&lock_row("rwlock", 1_000, 5)), None);
        assert_eq!(entered[header.iter().position(|h| *h == "read_wait_p99_ns").unwrap()], "70");
        // A single producer has no Jain index in the CSV either; two have one.
        let one = Fairness { producers: Spread::of(vec![20_037.0]), consumers: None };
        let cells = csv_cells(None, Some(&one));
        assert_eq!(cells[header.iter().position(|h| *h == "producers_jain").unwrap()], "");
        assert_eq!(cells[header.iter().position(|h| *h == "producers_min_msgs_per_s").unwrap()], "20037");
        let two = Fairness { producers: Spread::of(vec![5.0, 5.0]), consumers: None };
        let cells = csv_cells(None, Some(&two));
        assert_eq!(cells[header.iter().position(|h| *h == "producers_jain").unwrap()], "1.0000");
    }

    #[test]
    fn producer_rates_say_their_window_and_one_producer_gets_no_index() {
        let one = Fairness { producers: Spread::of(vec![20_037.0]), consumers: None };
        let text = printed(None, Some(&one));
        assert!(text.contains("msg/s, over its own sending time: 20 037 (one alone)"), "{text}");
        assert!(!text.contains("Jain") && !text.contains("1/1"), "{text}");
        let two = Fairness {
            producers: Spread::of(vec![20_037.0, 9_000.0]),
            consumers: Some(Spread::of(vec![5.0, 5.0])),
        };
        let text = printed(None, Some(&two));
        assert!(
            text.contains("msg/s each, each over its own sending time: min 9 000 max 20 037, Jain"),
            "{text}"
        );
        assert!(text.contains("records/s each, each from the start to its own last read"), "{text}");
    }

    #[test]
    fn a_single_producer_gets_no_index_in_the_table() {
        let mut r = crate::report::rows::RunReport::sample();
        r.lock = Some(lock_row("mutex", 1_000, 0));
        r.fairness = Some(Fairness { producers: Spread::of(vec![900.0]), consumers: None });
        let text = summary_section(std::iter::once(&r));
        assert!(text.contains("| — (one alone) |") && !text.contains("| 1.000 |"), "{text}");
        assert!(text.contains("| – | – | – |"), "no read section entered, no read figures: {text}");
    }

    #[test]
    fn spread_and_shares_add_up() {
        let s = Spread::of(vec![10.0, 30.0]);
        assert_eq!((s.min, s.max), (10.0, 30.0));
        assert!((s.jain - 0.8).abs() < 1e-12);
        let t = TimeShare::of(250, 500, 1_000.0);
        assert_eq!((t.wait, t.hold, t.outside), (0.25, 0.5, 0.25));
        // Sums past the side's time (threads overlapping the window's ends) are clamped.
        let t = TimeShare::of(900, 500, 1_000.0);
        assert_eq!(t.wait, 0.9);
        assert!((t.hold - 0.1).abs() < 1e-12 && t.outside.abs() < 1e-12, "{t:?}");
    }
}
