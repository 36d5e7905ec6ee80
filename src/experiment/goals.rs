//! The performance-goal workloads of `harness compare --goals`: rwlock, 100-byte messages, no
//! consumers. The table is data ([`GOALS`]); [`run_goals`] runs each row, its ceiling and (with
//! `--peers`) its peers, and judges the row against its `Bar`.

use super::ceiling::Shape;
use super::compare::CompareConfig;
use super::peers::{self, PeerWorkload};
use super::run::{run, RunConfig};
use crate::report::quoted::ORIGINAL_MSGS_PER_S;
use crate::report::rows::{
    median, AlternatingRuns, Ceilings, Goal, LockStatsCost, PeerFigure, PeerKind, RunReport, TransportKind,
};
use crate::storage::{AppendMode, FsyncMode};
use crate::strategies::StrategyKind;
use std::io::Write;
use std::path::Path;

/// One goal row: its workload (the rest of the run's flags come from the comparison's base) and
/// what it must reach.
#[derive(Debug, Clone, Copy)]
pub struct GoalSpec {
    pub name: &'static str,
    /// The strategy: rwlock on every goal row; another only on a row reported beside one.
    pub strategy: StrategyKind,
    pub producers: u32,
    pub batch: u32,
    pub in_flight: u32,
    pub messages: u64,
    pub transport: TransportKind,
    pub fsync: FsyncMode,
    /// `--append`: the whole append in the write section, or only its reservation.
    pub append: AppendMode,
    pub target: &'static str,
    /// Messages per second (0: none).
    pub absolute: f64,
    /// Of the ceiling (0: none).
    pub fraction: f64,
    /// What the rate is divided by.
    pub ceiling: GoalCeiling,
    /// Runs of the workload, each followed by a fresh measurement of the ceiling; the row is
    /// judged on the medians (1: one run, against the ceiling measured once per shape).
    pub repeats: u32,
    /// The peers run on this workload, and the multiple of the fastest that synclog must reach.
    /// A peer not measured in this run leaves that part of the goal unjudged: no quoted figure
    /// stands in for it.
    pub peers: &'static [PeerKind],
    pub peer_factor: f64,
}

/// What a goal row's rate is divided by, each measured in the same run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoalCeiling {
    /// The loopback echo at the row's threads, batch and requests in flight (TCP rows).
    Echo,
    /// Raw positional writes from as many threads as producers, or as many as the machine has
    /// cores when that writes more, the row's batch.
    Pwrite,
    /// Raw positional writes from one thread, the row's batch: the fair ceiling of a write that
    /// the lock serializes (several threads writing one file are no faster in the kernel).
    PwriteOneThread,
    /// Positional writes of records framed as the log frames them (header, offset, CRC-32C),
    /// from as many threads as producers (or cores, as for `Pwrite`), the row's batch: what the
    /// on-disk format allows an append, with no lock, index or bookkeeping.
    Framed,
    /// producers × the raw `fdatasync` rate: one request at a time under `--fsync always`, no
    /// more than every producer's message in each sync, and syncs back to back (see
    /// summary.md's paragraph on syncs).
    GroupCommit,
}

impl GoalCeiling {
    pub fn name(self) -> &'static str {
        match self {
            GoalCeiling::Echo => "loopback echo",
            GoalCeiling::Pwrite => "raw pwrite",
            GoalCeiling::PwriteOneThread => "one thread's raw pwrite",
            GoalCeiling::Framed => "framed pwrite",
            GoalCeiling::GroupCommit => "group-commit bound",
        }
    }
}

const NO_PEERS: &[PeerKind] = &[];
const BOTH: &[PeerKind] = &[PeerKind::Redis, PeerKind::Nats];
const REDIS: &[PeerKind] = &[PeerKind::Redis];

/// A row over loopback TCP, fsync never, one message at a time, no goal: the rows below change
/// what they need.
const TCP: GoalSpec = GoalSpec {
    name: "",
    strategy: StrategyKind::RwLock,
    producers: 8,
    batch: 1,
    in_flight: 1,
    messages: 0,
    transport: TransportKind::Tcp,
    fsync: FsyncMode::Never,
    append: AppendMode::Whole,
    target: "",
    absolute: 0.0,
    fraction: 0.0,
    ceiling: GoalCeiling::Echo,
    repeats: 1,
    peers: NO_PEERS,
    peer_factor: 0.0,
};

/// The goal table.
pub const GOALS: &[GoalSpec] = &[
    GoalSpec {
        name: "in-process, batch of 100, 8 producers",
        batch: 100,
        messages: 8_000_000,
        transport: TransportKind::Inproc,
        target: "≥ 8 M msg/s and ≥ 0.85 × raw batched pwrite (medians of 3 runs alternating with it)",
        repeats: 3,
        absolute: 8e6,
        fraction: 0.85,
        ceiling: GoalCeiling::Pwrite,
        ..TCP
    },
    GoalSpec {
        name: "in-process, batch of 100, 8 producers, --append reserve",
        batch: 100,
        messages: 8_000_000,
        transport: TransportKind::Inproc,
        append: AppendMode::Reserve,
        target: "≥ 8 M msg/s and ≥ 0.85 × raw batched pwrite (medians of 3 runs alternating with it)",
        repeats: 3,
        absolute: 8e6,
        fraction: 0.85,
        ceiling: GoalCeiling::Pwrite,
        ..TCP
    },
    GoalSpec {
        name: "in-process, batch of 100, 8 producers, --append reserve, against framed writes",
        batch: 100,
        messages: 8_000_000,
        transport: TransportKind::Inproc,
        append: AppendMode::Reserve,
        target: "(reported beside the row above; no goal: the same workload against writes of records framed as the log frames them, medians of 3 runs alternating with its ceiling)",
        repeats: 3,
        ceiling: GoalCeiling::Framed,
        ..TCP
    },
    GoalSpec {
        name: "in-process, one message per append, 8 producers",
        messages: 800_000,
        transport: TransportKind::Inproc,
        target: "≥ 0.85 × raw pwrite (medians of 3 runs alternating with it)",
        repeats: 3,
        fraction: 0.85,
        ceiling: GoalCeiling::Pwrite,
        ..TCP
    },
    GoalSpec {
        name: "in-process, one message per append, 8 producers, --append reserve",
        messages: 800_000,
        transport: TransportKind::Inproc,
        append: AppendMode::Reserve,
        target: "≥ 0.85 × raw pwrite (medians of 3 runs alternating with it)",
        repeats: 3,
        fraction: 0.85,
        ceiling: GoalCeiling::Pwrite,
        ..TCP
    },
    GoalSpec {
        name: "in-process, one message per append, 8 producers, against one thread's writes",
        messages: 800_000,
        transport: TransportKind::Inproc,
        target: "≥ 0.85 × one thread's raw pwrite (what a serialized write can reach; medians of 3 runs alternating with it)",
        repeats: 3,
        fraction: 0.85,
        ceiling: GoalCeiling::PwriteOneThread,
        ..TCP
    },
    GoalSpec {
        name: "in-process, one message per append, 1 producer, against one thread's writes",
        producers: 1,
        messages: 800_000,
        transport: TransportKind::Inproc,
        target: "(reported beside the row above; no goal: the same append with no second thread, medians of 3 runs alternating with its ceiling)",
        repeats: 3,
        ceiling: GoalCeiling::PwriteOneThread,
        ..TCP
    },
    GoalSpec {
        name: "in-process, one message per append, 1 producer, against one thread's framed writes",
        producers: 1,
        messages: 800_000,
        transport: TransportKind::Inproc,
        target: "(reported beside the row above; no goal: the same workload against one thread writing records framed as the log frames them, medians of 3 runs alternating with its ceiling)",
        repeats: 3,
        ceiling: GoalCeiling::Framed,
        ..TCP
    },
    GoalSpec {
        name: "in-process, one message per append, 8 producers, std-rwlock, against one thread's writes",
        strategy: StrategyKind::StdRwLock,
        messages: 800_000,
        transport: TransportKind::Inproc,
        target: "(reported beside the rwlock rows; no goal: std's RwLock in place of parking_lot's, medians of 3 runs alternating with its ceiling)",
        repeats: 3,
        ceiling: GoalCeiling::PwriteOneThread,
        ..TCP
    },
    GoalSpec {
        name: "loopback TCP, one message per request, 8 producers",
        messages: 400_000,
        target: "≥ 0.85 × loopback echo (medians of 3 runs alternating with the echo), and ahead of Redis and NATS",
        fraction: 0.85,
        repeats: 3,
        peers: BOTH,
        peer_factor: 1.0,
        ..TCP
    },
    GoalSpec {
        name: "loopback TCP, batch of 100, 8 producers",
        batch: 100,
        messages: 8_000_000,
        target: "≥ 4 M msg/s",
        absolute: 4e6,
        ..TCP
    },
    GoalSpec {
        name: "loopback TCP, one message per request, 4 producers (the original's workload)",
        producers: 4,
        messages: 200_000,
        target: "above the original's rate (quoted, not measured: see \"Quoted figures\")",
        absolute: ORIGINAL_MSGS_PER_S,
        ..TCP
    },
    GoalSpec {
        name: "loopback TCP, 100 in flight, single messages, fsync never, 8 producers",
        in_flight: 100,
        messages: 2_000_000,
        target: "≥ 1.2 M msg/s, and ahead of Redis and NATS",
        absolute: 1.2e6,
        peers: BOTH,
        peer_factor: 1.0,
        ..TCP
    },
    GoalSpec {
        name: "loopback TCP, one at a time, fsync always, 8 producers",
        messages: 80_000,
        fsync: FsyncMode::Always,
        target: "≥ 0.85 × producers / 2 × the raw sync rate, which is 0.425 × the group-commit bound (medians of 3 runs alternating with the raw sync rate), and ahead of Redis AOF-always",
        fraction: 0.425,
        repeats: 3,
        ceiling: GoalCeiling::GroupCommit,
        peers: REDIS,
        peer_factor: 1.0,
        ..TCP
    },
    GoalSpec {
        name: "loopback TCP, 100 in flight, fsync always, 8 producers",
        in_flight: 100,
        messages: 800_000,
        fsync: FsyncMode::Always,
        target: "≥ 0.5 M msg/s, and ahead of Redis AOF-always",
        absolute: 5e5,
        peers: REDIS,
        peer_factor: 1.0,
        ..TCP
    },
    GoalSpec {
        name: "loopback TCP, batch of 100, fsync always, 8 producers",
        batch: 100,
        messages: 4_000_000,
        fsync: FsyncMode::Always,
        target: "(reported beside the others; no goal)",
        ..TCP
    },
];

impl GoalSpec {
    /// The run of this row: `base`'s other flags, rwlock, 100-byte messages, one topic, no
    /// consumers, an embedded broker in a temporary data dir.
    pub fn run_config(&self, base: &RunConfig) -> RunConfig {
        RunConfig {
            strategy: self.strategy,
            consumers: 0,
            message_bytes: 100,
            topics: 1,
            progress: false,
            data_dir: None,
            broker: None,
            target: None,
            race_window_us: 0,
            force_race: false,
            producers: self.producers,
            batch: self.batch,
            in_flight: self.in_flight,
            messages: self.messages,
            transport: self.transport,
            fsync: self.fsync,
            append: self.append,
            ..base.clone()
        }
    }

    fn bar(&self) -> Bar {
        Bar { absolute: self.absolute, fraction: self.fraction, peer_factor: self.peer_factor }
    }
}

/// Whether a row's peer goal was judged: every peer it names was measured in this run.
fn peers_judged(spec: &GoalSpec, measured: usize) -> bool {
    measured == spec.peers.len()
}

/// Finds (or measures) the ceilings of a shape: producers, message bytes, batch, in-flight.
pub type CeilingsFor<'a> = dyn FnMut(Shape, &mut dyn Write) -> anyhow::Result<Ceilings> + 'a;

/// Runs every row of [`GOALS`]. `fdatasync_per_s` is the raw sync rate measured in this run
/// (the group-commit bound's factor).
pub fn run_goals(
    config: &CompareConfig,
    scratch: &Path,
    ceilings_for: &mut CeilingsFor<'_>,
    fdatasync_per_s: f64,
    log: &mut dyn Write,
) -> anyhow::Result<Vec<Goal>> {
    let mut goals = Vec::new();
    for spec in GOALS {
        writeln!(log, "goal: {}", spec.name)?;
        let run_config = spec.run_config(&config.base);
        let mut seen = Seen::default();
        let report = seen.run(&run_config)?;
        let shape = super::ceiling::shape_of(&run_config);
        let ceiling = match spec.ceiling {
            GoalCeiling::Echo => ceilings_for(shape, log)?.loopback_msgs_per_s,
            GoalCeiling::Pwrite => ceilings_for(shape, log)?.pwrite_msgs_per_s,
            GoalCeiling::PwriteOneThread => {
                ceilings_for(Shape { threads: 1, ..shape }, log)?.pwrite_msgs_per_s
            }
            GoalCeiling::GroupCommit => f64::from(spec.producers) * fdatasync_per_s,
            GoalCeiling::Framed => framed(scratch, shape, config)?,
        };
        let first = report.produce.msgs_per_s;
        let alternating = alternate(spec, &run_config, first, ceiling, config, scratch, &mut seen, log)?;
        let (peer_figures, peers_missing) = run_peers(config, scratch, &run_config, spec.peers, log)?;
        let mut goal = goal_row(spec, &run_config, &report, ceiling, peer_figures, peers_missing);
        if let Some(runs) = alternating {
            goal.measured_msgs_per_s = median(&runs.msgs_per_s);
            goal.ceiling_msgs_per_s = median(&runs.ceiling_msgs_per_s);
            goal.ratio_to_ceiling = Some(goal.measured_msgs_per_s / goal.ceiling_msgs_per_s.max(1.0));
            let fastest_peer = goal.peers.iter().map(|p| p.msgs_per_s).reduce(f64::max);
            let ratio = goal.ratio_to_ceiling.unwrap_or(0.0);
            goal.met = spec.bar().met(goal.measured_msgs_per_s, ratio, fastest_peer, report.is_clean());
            goal.alternating = Some(runs);
        }
        goal.lock_stats_cost = lock_stats_cost(&run_config, &goal, &mut seen, log)?;
        goal.violations = seen.violations;
        goal.unacknowledged = seen.unacknowledged;
        if seen.violations > 0 {
            goal.met = Some(false);
        }
        goals.push(goal);
    }
    Ok(goals)
}

/// What every run of one goal row found, its repeats and lock-statistics runs included: a
/// violation or an unanswered send in any of them counts, not only in the first.
#[derive(Default)]
struct Seen {
    violations: u64,
    unacknowledged: u64,
}

impl Seen {
    fn run(&mut self, config: &RunConfig) -> anyhow::Result<RunReport> {
        let report = run(config)?;
        self.violations += report.violations.error_total();
        self.unacknowledged += report.unacknowledged.as_ref().map_or(0, |u| u.messages);
        Ok(report)
    }
}

/// A row with `repeats` > 1: after the first run and its ceiling, each further run is followed
/// by a fresh measurement of its ceiling (the echo of the same shape, the raw sync rate, raw
/// positional writes from the row's threads, or the cores when that writes more, or from one,
/// or framed ones), so load that comes and goes falls on both sides.
#[allow(clippy::too_many_arguments)]
fn alternate(
    spec: &GoalSpec,
    run_config: &RunConfig,
    first: f64,
    first_ceiling: f64,
    config: &CompareConfig,
    scratch: &Path,
    seen: &mut Seen,
    log: &mut dyn Write,
) -> anyhow::Result<Option<AlternatingRuns>> {
    let shape = super::ceiling::shape_of(run_config);
    let fresh_ceiling = || -> anyhow::Result<f64> {
        Ok(match spec.ceiling {
            GoalCeiling::Echo => super::ceiling::raw_loopback(shape, config.ceiling_duration)?.msgs_per_s,
            GoalCeiling::GroupCommit => {
                let syncs = super::ceiling::raw_fdatasync(scratch, 100, config.ceiling_duration)?;
                f64::from(spec.producers) * syncs
            }
            GoalCeiling::Pwrite | GoalCeiling::PwriteOneThread => {
                let threads = if spec.ceiling == GoalCeiling::Pwrite { shape.threads } else { 1 };
                super::ceiling::raw_pwrite(
                    scratch,
                    threads,
                    shape.message_bytes,
                    shape.batch,
                    config.ceiling_duration,
                )?
            }
            GoalCeiling::Framed => framed(scratch, shape, config)?,
        })
    };
    if spec.repeats <= 1 {
        return Ok(None);
    }
    let mut runs = AlternatingRuns { msgs_per_s: vec![first], ceiling_msgs_per_s: vec![first_ceiling] };
    for _ in 1..spec.repeats {
        runs.msgs_per_s.push(seen.run(run_config)?.produce.msgs_per_s);
        runs.ceiling_msgs_per_s.push(fresh_ceiling()?);
    }
    writeln!(
        log,
        "  medians of {} runs alternating with the {}: {:.2} of it",
        spec.repeats,
        spec.ceiling.name(),
        median(&runs.msgs_per_s) / median(&runs.ceiling_msgs_per_s).max(1.0)
    )?;
    Ok(Some(runs))
}

/// The framed-write ceiling of `shape`, measured now.
fn framed(scratch: &Path, shape: Shape, config: &CompareConfig) -> std::io::Result<f64> {
    super::ceiling::framed_pwrite(
        scratch,
        shape.threads,
        shape.message_bytes,
        shape.batch,
        config.ceiling_duration,
    )
}

/// With `--lock-stats`, a TCP row runs five more times, alternately without and with the
/// timing wrapper (off, on, off, on, off): with the goal's own run, three of each, and the ratio
/// of the medians is what measuring the lock costs on that workload. In-process rows are left
/// out: there the lock is most of each append, and the wrapper's clock reads are the cost itself.
fn lock_stats_cost(
    run_config: &RunConfig,
    goal: &Goal,
    seen: &mut Seen,
    log: &mut dyn Write,
) -> anyhow::Result<Option<LockStatsCost>> {
    if !run_config.lock_stats || run_config.transport != TransportKind::Tcp {
        return Ok(None);
    }
    let mut cost =
        LockStatsCost { with_msgs_per_s: vec![goal.measured_msgs_per_s], without_msgs_per_s: vec![] };
    for i in 0..5 {
        let instrumented = i % 2 == 1;
        let rate =
            seen.run(&RunConfig { lock_stats: instrumented, ..run_config.clone() })?.produce.msgs_per_s;
        if instrumented { &mut cost.with_msgs_per_s } else { &mut cost.without_msgs_per_s }.push(rate);
    }
    writeln!(log, "  with ÷ without lock statistics, medians of 3 alternating runs: {:.2}", cost.ratio())?;
    Ok(Some(cost))
}

/// The row of one goal from its run, its ceiling and its peers.
fn goal_row(
    spec: &GoalSpec,
    run: &RunConfig,
    report: &crate::report::rows::RunReport,
    ceiling: f64,
    peer_figures: Vec<PeerFigure>,
    peers_missing: Vec<String>,
) -> Goal {
    let measured = report.produce.msgs_per_s;
    let ratio = measured / ceiling.max(1.0);
    let fastest_peer = peer_figures.iter().map(|p| p.msgs_per_s).reduce(f64::max);
    let met = spec.bar().met(measured, ratio, fastest_peer, report.is_clean());
    let peers_judged = peers_judged(spec, peer_figures.len());
    let always = run.fsync == FsyncMode::Always;
    Goal {
        name: spec.name.into(),
        strategy: run.strategy.name().into(),
        producers: run.producers,
        batch: run.batch,
        in_flight: run.in_flight,
        workload: format!(
            "harness --strategy {} --transport {} --producers {} --consumers 0 --batch {} --in-flight {} --messages {} --fsync {}{}",
            run.strategy.name(),
            if run.transport == TransportKind::Tcp { "tcp" } else { "inproc" },
            run.producers,
            run.batch,
            run.in_flight,
            run.messages,
            run.fsync.name(),
            if run.append == AppendMode::Reserve { " --append reserve" } else { "" }
        ),
        measured_msgs_per_s: measured,
        ceiling_msgs_per_s: ceiling,
        ceiling_kind: spec.ceiling.name().into(),
        ratio_to_ceiling: Some(ratio),
        alternating: None,
        target: spec.target.into(),
        met,
        durability: durability(run.fsync).into(),
        fsyncs_per_s: report.produce.fsyncs_per_s.filter(|_| always),
        msgs_per_fsync: report.produce.msgs_per_fsync.filter(|_| always),
        fsync_mean_us: report.produce.fsync_mean_us.filter(|_| always),
        gather_mean_us: report.produce.gather_mean_us.filter(|_| always),
        peers: peer_figures,
        peers_missing,
        peer_factor: spec.peer_factor,
        peers_judged,
        // Filled in by `run_goals` from every run of the row.
        violations: 0,
        unacknowledged: 0,
        lock_stats_cost: None,
    }
}

/// What a goal row must reach.
#[derive(Debug, Clone, Copy)]
struct Bar {
    /// Messages per second (0: none).
    absolute: f64,
    /// Of the ceiling (0: none).
    fraction: f64,
    /// Of the fastest peer measured (0: none).
    peer_factor: f64,
}

impl Bar {
    /// Whether a clean run reached every part of the bar: `Some(false)` when a part judged in
    /// this run was missed (or the run was not clean), `Some(true)` when every part was judged
    /// and reached, `None` when there is no goal or a part could not be judged (a peer goal
    /// with no peer measured: nothing quoted stands in for it).
    fn met(&self, measured: f64, ratio: f64, fastest_peer: Option<f64>, clean: bool) -> Option<bool> {
        let has_goal = self.absolute > 0.0 || self.fraction > 0.0 || self.peer_factor > 0.0;
        if !has_goal {
            return None;
        }
        let judged = clean && measured >= self.absolute && ratio >= self.fraction;
        match fastest_peer {
            _ if !judged => Some(false),
            Some(peer) => Some(measured >= self.peer_factor * peer),
            None if self.peer_factor > 0.0 => None,
            None => Some(true),
        }
    }
}

/// Runs each of `kinds` on `run`'s workload when `--peers` asks for it; a peer that cannot run
/// (not installed, no matching durability) is noted, not fatal.
fn run_peers(
    config: &CompareConfig,
    scratch: &Path,
    run: &RunConfig,
    kinds: &[PeerKind],
    log: &mut dyn Write,
) -> anyhow::Result<(Vec<PeerFigure>, Vec<String>)> {
    let (mut figures, mut missing) = (Vec::new(), Vec::new());
    for &kind in kinds {
        let name = kind.server().0;
        if !config.peers {
            continue; // not asked for: summary.md says how to ask
        }
        let workload = PeerWorkload {
            producers: run.producers,
            in_flight: run.in_flight,
            messages: run.messages,
            message_bytes: run.message_bytes,
            fsync: run.fsync,
        };
        writeln!(log, "  peer: {name}")?;
        match peers::measure(kind, &workload, scratch) {
            Ok(figure) => figures.push(figure),
            Err(e) => {
                writeln!(log, "  peer {name} has no figure: {e}")?;
                missing.push(format!("{name}: {e}"));
            }
        }
    }
    Ok((figures, missing))
}

fn durability(fsync: FsyncMode) -> &'static str {
    match fsync {
        FsyncMode::Never => "page cache (survives a killed process, not a machine crash)",
        FsyncMode::Interval => "fdatasync every interval",
        FsyncMode::Always => "fdatasync before every ack",
    }
}

#[cfg(test)]
mod tests {
    use super::{peers_judged, Bar, GOALS};

    #[test]
    fn a_peer_goal_with_no_peer_measured_is_not_judged_by_any_quoted_figure() {
        let twice = GOALS
            .iter()
            .find(|g| g.ceiling == super::GoalCeiling::GroupCommit)
            .expect("the fsync-always row");
        assert_eq!(twice.absolute, 0.0, "no quoted figure stands in for Redis");
        assert!(!twice.target.contains(" k"), "no quoted rate in the target: {}", twice.target);
        assert!(!peers_judged(twice, 0));
        assert!(peers_judged(twice, twice.peers.len()));
        // However fast synclog was, an unmeasured Redis judges nothing.
        assert_eq!(twice.bar().met(1e9, 1.0, None, true), None);
        // A miss on a part judged in this run is still a miss.
        assert_eq!(twice.bar().met(1e9, 1.0, None, false), Some(false));
    }

    #[test]
    fn a_peer_goal_is_judged_against_the_peer_measured_in_the_same_run() {
        let twice = Bar { absolute: 0.0, fraction: 0.0, peer_factor: 2.0 };
        assert_eq!(twice.met(16_000.0, 0.1, Some(20_000.0), true), Some(false));
        assert_eq!(twice.met(41_000.0, 0.1, Some(20_000.0), true), Some(true));
        assert_eq!(twice.met(30_000.0, 0.1, Some(15_000.0), true), Some(true));
        // A violation fails any goal.
        assert_eq!(twice.met(41_000.0, 0.1, Some(20_000.0), false), Some(false));
    }

    #[test]
    fn every_part_of_a_bar_must_hold() {
        // "≥ 0.85 × echo, and ahead of Redis and NATS".
        let ahead = Bar { absolute: 0.0, fraction: 0.85, peer_factor: 1.0 };
        assert_eq!(ahead.met(90_000.0, 0.9, Some(80_000.0), true), Some(true));
        assert_eq!(ahead.met(90_000.0, 0.8, Some(80_000.0), true), Some(false));
        assert_eq!(ahead.met(75_000.0, 0.9, Some(80_000.0), true), Some(false));
        // Without the peers: a missed ratio is a miss, a reached one is not a "yes".
        assert_eq!(ahead.met(90_000.0, 0.8, None, true), Some(false));
        assert_eq!(ahead.met(90_000.0, 0.9, None, true), None);
        let floor = Bar { absolute: 5e5, fraction: 0.0, peer_factor: 1.0 };
        assert_eq!(floor.met(4e5, 0.0, Some(3e5), true), Some(false));
        let plain = Bar { absolute: 4e6, fraction: 0.0, peer_factor: 0.0 };
        assert_eq!(plain.met(5e6, 0.0, None, true), Some(true));
        let none = Bar { absolute: 0.0, fraction: 0.0, peer_factor: 0.0 };
        assert_eq!(none.met(1.0, 0.0, None, true), None);
    }
}
