//! `harness compare`: the matrix of strategies × producers × consumers, one fresh broker and data
//! dir per cell, beside the machine's ceilings measured in the same run.
//!
//! It writes straight into `--out`: `results.json` and `results.csv` (one row per cell: the
//! run's JSON fields), the charts (`throughput`, `latency`, `violations`, each as SVG and PNG)
//! and `summary.md`. With `--goals` it also runs the performance-goal workloads (rwlock, 100-byte
//! messages) and tabulates each figure against its goal and its ceiling.
//!
//! Exit code: 0 when the whole matrix ran (violations under `none` are data, not failure); 3 if a
//! locking strategy showed a violation.

use super::ceiling;
use super::run::{run, RunConfig};
use super::Outcome;
use crate::report::count;
use crate::report::rows::{Ceilings, Cell, Comparison, RatePoint, RunReport, SectionCost, TransportKind};
use crate::strategies::{StrategyKind, StrategyVisitor, SyncStrategy};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to compare.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    pub strategies: Vec<StrategyKind>,
    pub producers: Vec<u32>,
    pub consumers: Vec<u32>,
    /// Every other run flag, applied to each cell (its strategy, producers and consumers are
    /// replaced by the cell's).
    pub base: RunConfig,
    pub out: PathBuf,
    /// Also write the comparison's report page here (`index.html`); the cells then keep
    /// what their pages draw (set `base.page`).
    pub report: Option<PathBuf>,
    /// Also run the performance-goal workloads.
    pub goals: bool,
    /// Also run the peers (Redis, NATS JetStream) on the goal workloads that name them.
    pub peers: bool,
    /// How long each ceiling is measured.
    pub ceiling_duration: Duration,
    /// `--rates`: open-loop runs of every strategy at each of these total rates (messages per
    /// second), at the largest `--producers` value and the first `--consumers` value.
    pub rates: Vec<f64>,
    /// `--p99-bound-ms`, in µs: the p99 under which a strategy is said to hold a rate.
    pub p99_bound_us: u64,
}

/// Runs the matrix and writes every file into `config.out`; `Violated` when a locking strategy
/// showed a violation.
pub fn compare(config: &CompareConfig, log: &mut impl Write) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    super::outputs::prepare_dir("--out", &config.out)?;
    let scratch = super::scratch::Scratch::new("synclog-compare-")?;
    let mut ceilings_cache: Vec<Ceilings> = Vec::new();
    let mut ceilings_for = |shape: ceiling::Shape, log: &mut dyn Write| -> anyhow::Result<Ceilings> {
        let found = ceilings_cache.iter().find(|c| {
            c.threads == shape.threads
                && c.message_bytes == shape.message_bytes
                && c.batch == shape.batch
                && c.in_flight == shape.in_flight
        });
        if let Some(c) = found {
            return Ok(*c);
        }
        writeln!(
            log,
            "measuring ceilings: {}, {} B, batch {}, {} in flight",
            count(shape.threads as u64, "thread"),
            shape.message_bytes,
            shape.batch,
            shape.in_flight
        )?;
        let c = ceiling::measure(scratch.path(), shape, config.ceiling_duration)?;
        ceilings_cache.push(c);
        Ok(c)
    };

    let mut cells = Vec::new();
    for &strategy in &config.strategies {
        for &producers in &config.producers {
            for &consumers in &config.consumers {
                let cell = cell_config(&config.base, strategy, producers, consumers);
                writeln!(
                    log,
                    "cell: {strategy} × {} × {}",
                    count(producers, "producer"),
                    count(consumers, "consumer")
                )?;
                let report = run(&cell)?;
                let ceilings = ceilings_for(ceiling::shape_of(&cell), log)?;
                cells.push(make_cell(report, ceilings));
            }
        }
    }
    let fdatasync_ceiling_per_s = if config.goals {
        writeln!(log, "measuring the sync ceiling")?;
        // The goals' message size.
        Some(ceiling::raw_fdatasync(scratch.path(), 100, config.ceiling_duration)?)
    } else {
        None
    };
    let goals = match fdatasync_ceiling_per_s {
        Some(syncs) => super::goals::run_goals(config, scratch.path(), &mut ceilings_for, syncs, log)?,
        None => Vec::new(),
    };
    let section_costs = StrategyKind::ALL.iter().map(|k| k.visit(MeasureSection)).collect();
    let rate_points = rate_points(config, log)?;
    let comparison = Comparison {
        cells,
        goals,
        section_costs,
        fdatasync_ceiling_per_s,
        rate_points,
        p99_bound_us: config.p99_bound_us,
        machine: super::ceiling::machine(),
        duration_s: started.elapsed().as_secs_f64(),
    };
    crate::report::write_comparison(&comparison, &config.out)?;
    writeln!(log, "wrote {}", config.out.display())?;
    if let Some(dir) = &config.report {
        let page = crate::report::page::from_rows::compare_page(&comparison);
        let path = crate::report::page::write(&page, dir).map_err(anyhow::Error::msg)?;
        writeln!(log, "report page: {}", path.display())?;
    }
    let outcome = outcome(&comparison);
    if outcome == Outcome::Incomplete {
        writeln!(
            log,
            "some runs' sends were not all acknowledged: their rates count only those that were \
             (results.json: `unacknowledged`)"
        )?;
    }
    Ok(outcome)
}

/// `--rates`: one open-loop run per strategy and rate, each in a data directory of its own.
fn rate_points(config: &CompareConfig, log: &mut impl Write) -> anyhow::Result<Vec<RatePoint>> {
    let producers = config.producers.iter().copied().max().unwrap_or(1);
    let consumers = config.consumers.first().copied().unwrap_or(0);
    let mut points = Vec::new();
    for &strategy in &config.strategies {
        for &rate in &config.rates {
            let mut cell = cell_config(&config.base, strategy, producers, consumers);
            cell.rate = Some(rate);
            cell.data_dir = cell.data_dir.map(|d| d.with_extension(format!("rate{rate:.0}")));
            writeln!(log, "open loop: {strategy} × {producers} producers at {rate:.0} msg/s")?;
            let r = run(&cell)?;
            let late_share = r.open_loop.as_ref().map_or(0.0, |o| o.late_share);
            points.push(RatePoint {
                strategy: r.strategy.clone(),
                producers,
                consumers,
                target_msgs_per_s: rate,
                achieved_msgs_per_s: r.produce.msgs_per_s,
                p50_us: r.produce.p50_us,
                p99_us: r.produce.p99_us,
                p999_us: r.produce.p999_us,
                late_share,
                verdict: r.verdict.clone(),
                unacknowledged: r.unacknowledged.as_ref().map_or(0, |u| u.messages),
            });
        }
    }
    Ok(points)
}

/// `Violated` when a locking strategy showed a violation, in a cell or in a goal run (every goal
/// runs rwlock); violations under `none` are data. Otherwise `Incomplete` when some run's sends
/// were not all acknowledged (under any strategy: a refused or unanswered send is no race).
pub fn outcome(c: &Comparison) -> Outcome {
    let cell_violated =
        c.cells.iter().any(|c| c.report.strategy != StrategyKind::None.name() && !c.report.is_clean());
    let goal_violated = c.goals.iter().any(|g| g.violations > 0);
    let rate_violated =
        c.rate_points.iter().any(|p| p.strategy != StrategyKind::None.name() && p.verdict != "clean");
    let incomplete = c.cells.iter().any(|c| !c.report.is_complete())
        || c.goals.iter().any(|g| g.unacknowledged > 0)
        || c.rate_points.iter().any(|p| p.unacknowledged > 0);
    if cell_violated || goal_violated || rate_violated {
        Outcome::Violated
    } else if incomplete {
        Outcome::Incomplete
    } else {
        Outcome::Clean
    }
}

/// One cell's run: `base` with the cell's strategy and counts, and (with `--data-dir`) a
/// directory of its own under it. `--messages` is kept as given: [`RunConfig::validate`]
/// refuses a cell whose producers do not divide it, as it refuses a run.
pub fn cell_config(base: &RunConfig, strategy: StrategyKind, producers: u32, consumers: u32) -> RunConfig {
    RunConfig {
        strategy,
        producers,
        consumers,
        progress: false,
        topics: base.topics.min(producers),
        data_dir: base
            .data_dir
            .as_ref()
            .map(|d| d.join(format!("{}-{producers}p-{consumers}c", strategy.name()))),
        ..base.clone()
    }
}

fn make_cell(report: RunReport, ceilings: Ceilings) -> Cell {
    let ceiling = match report.transport {
        TransportKind::Tcp => ceilings.loopback_msgs_per_s,
        TransportKind::Inproc => ceilings.pwrite_msgs_per_s,
    };
    let produce_ratio = report.produce.msgs_per_s / ceiling.max(1.0);
    Cell { report, ceilings, produce_ratio }
}

/// Times uncontended critical sections of one strategy (1 M of each kind).
struct MeasureSection;

impl StrategyVisitor for MeasureSection {
    type Output = SectionCost;
    fn visit<S: SyncStrategy>(self) -> SectionCost {
        const N: u32 = 1_000_000;
        let s = S::default();
        let mut x = 0u64;
        let t = Instant::now();
        for i in 0..N {
            x = s.write(|| x.wrapping_add(u64::from(i)));
        }
        let write_ns = t.elapsed().as_nanos() as f64 / f64::from(N);
        let t = Instant::now();
        for i in 0..N {
            x = s.read(|| x ^ u64::from(i));
        }
        let read_ns = t.elapsed().as_nanos() as f64 / f64::from(N);
        std::hint::black_box(x);
        SectionCost { strategy: S::NAME.into(), write_ns, read_ns }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cell_keeps_its_data_in_a_directory_of_its_own() {
        let base = RunConfig { data_dir: Some("/tmp/kept".into()), ..RunConfig::default() };
        let a = cell_config(&base, StrategyKind::Mutex, 2, 0);
        let b = cell_config(&base, StrategyKind::Mutex, 4, 0);
        let c = cell_config(&base, StrategyKind::RwLock, 2, 0);
        assert_ne!(a.data_dir, b.data_dir);
        assert_ne!(a.data_dir, c.data_dir);
        assert!(a.data_dir.as_ref().is_some_and(|d| d.starts_with("/tmp/kept")));
        assert_eq!(cell_config(&RunConfig::default(), StrategyKind::Mutex, 2, 0).data_dir, None);
    }

    #[test]
    fn a_violation_or_an_unacknowledged_send_in_a_goal_run_fails_the_comparison() {
        let goal = crate::report::rows::Goal {
            name: String::new(),
            strategy: "rwlock".into(),
            workload: String::new(),
            producers: 8,
            batch: 1,
            in_flight: 1,
            measured_msgs_per_s: 1.0,
            ceiling_msgs_per_s: 1.0,
            ratio_to_ceiling: None,
            ceiling_kind: "loopback echo".into(),
            alternating: None,
            target: String::new(),
            met: Some(false),
            durability: String::new(),
            fsyncs_per_s: None,
            msgs_per_fsync: None,
            fsync_mean_us: None,
            gather_mean_us: None,
            peers: vec![],
            peers_missing: vec![],
            peer_factor: 0.0,
            peers_judged: true,
            lock_stats_cost: None,
            violations: 0,
            unacknowledged: 0,
        };
        let mut c = Comparison {
            cells: vec![],
            goals: vec![goal],
            section_costs: vec![],
            fdatasync_ceiling_per_s: None,
            rate_points: Vec::new(),
            p99_bound_us: 10_000,
            machine: super::super::ceiling::machine(),
            duration_s: 1.0,
        };
        assert_eq!(outcome(&c), Outcome::Clean);
        c.goals[0].unacknowledged = 2;
        assert_eq!(outcome(&c), Outcome::Incomplete);
        // Integrity comes first.
        c.goals[0].violations = 3;
        assert_eq!(outcome(&c), Outcome::Violated);
    }
}
