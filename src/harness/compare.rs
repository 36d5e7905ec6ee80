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

use super::ceiling::{self, Ceilings};
use super::peers::{self, PeerFigure, PeerKind, PeerWorkload};
use super::run::{run, RunConfig, RunReport, TransportKind};
use crate::cli::FsyncMode;
use crate::strategies::{StrategyKind, StrategyVisitor, SyncStrategy};
use serde::Serialize;
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
}

/// One cell of the matrix: the run and the ceilings of its shape.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    #[serde(flatten)]
    pub report: RunReport,
    pub ceilings: Ceilings,
    /// The cell's produce rate over the ceiling of its transport (loopback for tcp, positional
    /// writes for inproc).
    pub produce_ratio: f64,
}

/// A performance goal and what the run reached.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub name: String,
    pub workload: String,
    pub producers: u32,
    pub batch: u32,
    pub in_flight: u32,
    pub measured_msgs_per_s: f64,
    pub ceiling_msgs_per_s: f64,
    /// `None` for pipelined rows: the echo ceiling is one request at a time, no fair bound.
    pub ratio_to_ceiling: Option<f64>,
    pub target: String,
    /// `None` for a row reported without a goal.
    pub met: Option<bool>,
    pub durability: String,
    /// Syncs per second and messages acknowledged per sync (`--fsync always` rows).
    pub fsyncs_per_s: Option<f64>,
    pub msgs_per_fsync: Option<f64>,
    /// The peers run on the same workload in this run (with `--peers`).
    pub peers: Vec<PeerFigure>,
    /// Why a peer named by this row and asked for (`--peers`) has no figure (not installed,
    /// failed).
    pub peers_missing: Vec<String>,
    /// synclog must reach this multiple of the fastest peer measured (0: no peer goal).
    pub peer_factor: f64,
    /// Whether `met` covers the row's peer goal: every peer it names was measured (or, for a
    /// goal that is a multiple of a peer, the quoted stand-in judged it). `false` means `met`
    /// speaks for the other parts of the goal only.
    pub peers_judged: bool,
}

/// Cost of one uncontended critical section, per strategy.
#[derive(Debug, Clone, Serialize)]
pub struct SectionCost {
    pub strategy: String,
    pub write_ns: f64,
    pub read_ns: f64,
}

/// Everything `compare` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub cells: Vec<Cell>,
    pub goals: Vec<Goal>,
    pub section_costs: Vec<SectionCost>,
    /// `fdatasync`s per second one thread reached back to back (measured with `--goals`).
    pub fdatasync_ceiling_per_s: Option<f64>,
    pub machine: super::run::Machine,
    pub duration_s: f64,
}

/// Runs the matrix and writes every file into `config.out`; returns the exit code.
pub fn compare(config: &CompareConfig, log: &mut impl Write) -> anyhow::Result<u8> {
    let started = Instant::now();
    std::fs::create_dir_all(&config.out)?;
    let scratch = tempfile::Builder::new().prefix("synclog-compare-").tempdir()?;
    let mut ceilings_cache: Vec<Ceilings> = Vec::new();
    let mut ceilings_for =
        |producers: u32, message_bytes: usize, batch: u32, log: &mut dyn Write| -> anyhow::Result<Ceilings> {
            let found = ceilings_cache.iter().find(|c| {
                c.threads == producers as usize
                    && c.message_bytes == message_bytes
                    && c.batch == batch as usize
            });
            if let Some(c) = found {
                return Ok(*c);
            }
            writeln!(log, "measuring ceilings: {producers} threads, {message_bytes} B, batch {batch}")?;
            let c = ceiling::measure(
                scratch.path(),
                producers as usize,
                message_bytes,
                batch as usize,
                config.ceiling_duration,
            )?;
            ceilings_cache.push(c);
            Ok(c)
        };

    let mut cells = Vec::new();
    for &strategy in &config.strategies {
        for &producers in &config.producers {
            for &consumers in &config.consumers {
                let cell =
                    RunConfig { strategy, producers, consumers, progress: false, ..config.base.clone() };
                // --messages is a total: round it to a multiple of this cell's producers.
                let cell = RunConfig {
                    messages: (cell.messages / u64::from(producers)).max(1) * u64::from(producers),
                    topics: cell.topics.min(producers),
                    ..cell
                };
                writeln!(log, "cell: {strategy} × {producers} producers × {consumers} consumers")?;
                let report = run(&cell)?;
                let ceilings = ceilings_for(producers, cell.message_bytes, cell.batch, log)?;
                cells.push(make_cell(report, ceilings));
            }
        }
    }
    let goals =
        if config.goals { run_goals(config, scratch.path(), &mut ceilings_for, log)? } else { Vec::new() };
    let section_costs = StrategyKind::ALL.iter().map(|k| k.visit(MeasureSection)).collect();
    let fdatasync_ceiling_per_s = if config.goals {
        writeln!(log, "measuring the sync ceiling")?;
        // The goals' message size.
        Some(ceiling::raw_fdatasync(scratch.path(), 100, config.ceiling_duration)?)
    } else {
        None
    };
    let comparison = Comparison {
        cells,
        goals,
        section_costs,
        fdatasync_ceiling_per_s,
        machine: super::run::machine(),
        duration_s: started.elapsed().as_secs_f64(),
    };
    crate::report::write_comparison(&comparison, &config.out)?;
    writeln!(log, "wrote {}", config.out.display())?;
    if let Some(dir) = &config.report {
        let page = crate::report::page::from_rows::compare_page(&comparison);
        let path = crate::report::page::write(&page, dir).map_err(anyhow::Error::msg)?;
        writeln!(log, "report page: {}", path.display())?;
    }
    let lock_violated = comparison
        .cells
        .iter()
        .any(|c| c.report.strategy != StrategyKind::None.name() && !c.report.is_clean());
    Ok(if lock_violated { crate::cli::EXIT_VIOLATED } else { crate::cli::EXIT_OK })
}

fn make_cell(report: RunReport, ceilings: Ceilings) -> Cell {
    let ceiling = match report.transport {
        TransportKind::Tcp => ceilings.loopback_msgs_per_s,
        TransportKind::Inproc => ceilings.pwrite_msgs_per_s,
    };
    let produce_ratio = report.produce.msgs_per_s / ceiling.max(1.0);
    Cell { report, ceilings, produce_ratio }
}

type CeilingsFor<'a> = dyn FnMut(u32, usize, u32, &mut dyn Write) -> anyhow::Result<Ceilings> + 'a;

/// The goal workloads of the benchmarks issue: rwlock, 100-byte messages, no consumers.
fn run_goals(
    config: &CompareConfig,
    scratch: &std::path::Path,
    ceilings_for: &mut CeilingsFor<'_>,
    log: &mut dyn Write,
) -> anyhow::Result<Vec<Goal>> {
    let base = RunConfig {
        strategy: StrategyKind::RwLock,
        consumers: 0,
        message_bytes: 100,
        topics: 1,
        progress: false,
        data_dir: None,
        broker: None,
        target: None,
        race_window_us: 0,
        force_race: false,
        fsync: FsyncMode::Never,
        ..config.base.clone()
    };
    struct Spec {
        name: &'static str,
        run: RunConfig,
        target: &'static str,
        /// (absolute messages/s, fraction of the ceiling); either may be 0 for "none".
        absolute: f64,
        fraction: f64,
        /// Compare against the positional-write ceiling instead of the loopback one.
        pwrite: bool,
        /// The peers run on this workload, and the multiple of the fastest that synclog must
        /// reach. When none of them could be measured, `absolute` stands in (from the quoted
        /// figures) for the rows whose goal is a multiple of a peer.
        peers: &'static [PeerKind],
        peer_factor: f64,
        /// Whether `absolute` is only the stand-in for a peer figure.
        absolute_is_stand_in: bool,
    }
    const NO_PEERS: &[PeerKind] = &[];
    const BOTH: &[PeerKind] = &[PeerKind::Redis, PeerKind::Nats];
    const REDIS: &[PeerKind] = &[PeerKind::Redis];
    let specs = [
        Spec {
            name: "in-process, batch of 100, 8 producers",
            run: RunConfig {
                producers: 8,
                batch: 100,
                messages: 8_000_000,
                transport: TransportKind::Inproc,
                ..base.clone()
            },
            target: "≥ 8 M msg/s and ≥ 0.85 × raw batched pwrite",
            absolute: 8e6,
            fraction: 0.85,
            pwrite: true,
            peers: NO_PEERS,
            peer_factor: 0.0,
            absolute_is_stand_in: false,
        },
        Spec {
            name: "in-process, one message per append, 8 producers",
            run: RunConfig {
                producers: 8,
                batch: 1,
                messages: 800_000,
                transport: TransportKind::Inproc,
                ..base.clone()
            },
            target: "≥ 0.85 × raw pwrite",
            absolute: 0.0,
            fraction: 0.85,
            pwrite: true,
            peers: NO_PEERS,
            peer_factor: 0.0,
            absolute_is_stand_in: false,
        },
        Spec {
            name: "loopback TCP, one message per request, 8 producers",
            run: RunConfig { producers: 8, batch: 1, messages: 400_000, ..base.clone() },
            target: "≥ 0.85 × loopback echo, and ahead of Redis and NATS",
            absolute: 0.0,
            fraction: 0.85,
            pwrite: false,
            peers: BOTH,
            peer_factor: 1.0,
            absolute_is_stand_in: false,
        },
        Spec {
            name: "loopback TCP, batch of 100, 8 producers",
            run: RunConfig { producers: 8, batch: 100, messages: 8_000_000, ..base.clone() },
            target: "≥ 4 M msg/s",
            absolute: 4e6,
            fraction: 0.0,
            pwrite: false,
            peers: NO_PEERS,
            peer_factor: 0.0,
            absolute_is_stand_in: false,
        },
        Spec {
            name: "loopback TCP, one message per request, 4 producers (the original's workload)",
            run: RunConfig { producers: 4, batch: 1, messages: 200_000, ..base.clone() },
            target: "a multiple of the original's ~5 000 msg/s",
            absolute: 5_000.0,
            fraction: 0.0,
            pwrite: false,
            peers: NO_PEERS,
            peer_factor: 0.0,
            absolute_is_stand_in: false,
        },
        Spec {
            name: "loopback TCP, 100 in flight, single messages, fsync never, 8 producers",
            run: RunConfig { producers: 8, batch: 1, in_flight: 100, messages: 2_000_000, ..base.clone() },
            target: "≥ 1.2 M msg/s, and ahead of Redis and NATS",
            absolute: 1.2e6,
            fraction: 0.0,
            pwrite: false,
            peers: BOTH,
            peer_factor: 1.0,
            absolute_is_stand_in: false,
        },
        Spec {
            name: "loopback TCP, one at a time, fsync always, 8 producers",
            run: RunConfig {
                producers: 8,
                batch: 1,
                messages: 80_000,
                fsync: FsyncMode::Always,
                ..base.clone()
            },
            target: "≥ 2 × Redis AOF-always on the same workload (34 k msg/s from the quoted ~17 k when Redis is not measured)",
            absolute: 34_000.0,
            fraction: 0.0,
            pwrite: false,
            peers: REDIS,
            peer_factor: 2.0,
            absolute_is_stand_in: true,
        },
        Spec {
            name: "loopback TCP, 100 in flight, fsync always, 8 producers",
            run: RunConfig {
                producers: 8,
                batch: 1,
                in_flight: 100,
                messages: 800_000,
                fsync: FsyncMode::Always,
                ..base.clone()
            },
            target: "≥ 0.5 M msg/s, and ahead of Redis AOF-always",
            absolute: 5e5,
            fraction: 0.0,
            pwrite: false,
            peers: REDIS,
            peer_factor: 1.0,
            absolute_is_stand_in: false,
        },
        Spec {
            name: "loopback TCP, batch of 100, fsync always, 8 producers",
            run: RunConfig {
                producers: 8,
                batch: 100,
                messages: 4_000_000,
                fsync: FsyncMode::Always,
                ..base.clone()
            },
            target: "(reported beside the others; no goal)",
            absolute: 0.0,
            fraction: 0.0,
            pwrite: false,
            peers: NO_PEERS,
            peer_factor: 0.0,
            absolute_is_stand_in: false,
        },
    ];
    let mut goals = Vec::new();
    for spec in specs {
        writeln!(log, "goal: {}", spec.name)?;
        let report = run(&spec.run)?;
        let c = ceilings_for(spec.run.producers, spec.run.message_bytes, spec.run.batch, log)?;
        let ceiling = if spec.pwrite { c.pwrite_msgs_per_s } else { c.loopback_msgs_per_s };
        let measured = report.produce.msgs_per_s;
        let ratio = measured / ceiling.max(1.0);
        let (peer_figures, peers_missing) = run_peers(config, scratch, &spec.run, spec.peers, log)?;
        let fastest_peer = peer_figures.iter().map(|p| p.msgs_per_s).reduce(f64::max);
        let bar = Bar {
            absolute: spec.absolute,
            fraction: spec.fraction,
            peer_factor: spec.peer_factor,
            absolute_is_stand_in: spec.absolute_is_stand_in,
        };
        let met = bar.met(measured, ratio, fastest_peer, report.is_clean());
        let peers_judged =
            peer_figures.len() == spec.peers.len() || (spec.absolute_is_stand_in && peer_figures.is_empty());
        let ratio = (spec.run.in_flight == 1).then_some(ratio);
        goals.push(Goal {
            name: spec.name.into(),
            producers: spec.run.producers,
            batch: spec.run.batch,
            in_flight: spec.run.in_flight,
            workload: format!(
                "harness --strategy rwlock --transport {} --producers {} --consumers 0 --batch {} --in-flight {} --messages {} --fsync {}",
                if spec.run.transport == TransportKind::Tcp { "tcp" } else { "inproc" },
                spec.run.producers,
                spec.run.batch,
                spec.run.in_flight,
                spec.run.messages,
                spec.run.fsync.name()
            ),
            measured_msgs_per_s: measured,
            ceiling_msgs_per_s: ceiling,
            ratio_to_ceiling: ratio,
            target: spec.target.into(),
            met,
            durability: durability(spec.run.fsync).into(),
            fsyncs_per_s: report.produce.fsyncs_per_s.filter(|_| spec.run.fsync == FsyncMode::Always),
            msgs_per_fsync: report.produce.msgs_per_fsync.filter(|_| spec.run.fsync == FsyncMode::Always),
            peers: peer_figures,
            peers_missing,
            peer_factor: spec.peer_factor,
            peers_judged,
        });
    }
    Ok(goals)
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
    /// `absolute` only stands in for the peer figure when no peer was measured.
    absolute_is_stand_in: bool,
}

impl Bar {
    /// `None` for a row without a goal; else whether a clean run reached every part of the bar.
    fn met(&self, measured: f64, ratio: f64, fastest_peer: Option<f64>, clean: bool) -> Option<bool> {
        let has_goal = self.absolute > 0.0 || self.fraction > 0.0 || self.peer_factor > 0.0;
        let absolute = if self.absolute_is_stand_in && fastest_peer.is_some() { 0.0 } else { self.absolute };
        has_goal.then(|| {
            clean
                && measured >= absolute
                && ratio >= self.fraction
                && fastest_peer.is_none_or(|peer| measured >= self.peer_factor * peer)
        })
    }
}

/// Runs each of `kinds` on `run`'s workload when `--peers` asks for it; a peer that cannot run
/// (not installed, no matching durability) is noted, not fatal.
fn run_peers(
    config: &CompareConfig,
    scratch: &std::path::Path,
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
    use super::Bar;

    #[test]
    fn a_peer_goal_is_judged_against_the_peer_measured_in_the_same_run() {
        // "≥ 2 × Redis", with 34 k standing in for an unmeasured Redis.
        let twice = Bar { absolute: 34_000.0, fraction: 0.0, peer_factor: 2.0, absolute_is_stand_in: true };
        assert_eq!(twice.met(16_000.0, 0.1, Some(20_000.0), true), Some(false));
        assert_eq!(twice.met(41_000.0, 0.1, Some(20_000.0), true), Some(true));
        // Measured beats the stand-in: 30 k is 2 × a measured 15 k though below 34 k.
        assert_eq!(twice.met(30_000.0, 0.1, Some(15_000.0), true), Some(true));
        assert_eq!(twice.met(30_000.0, 0.1, None, true), Some(false));
        assert_eq!(twice.met(41_000.0, 0.1, None, true), Some(true));
        // A violation fails any goal.
        assert_eq!(twice.met(41_000.0, 0.1, Some(20_000.0), false), Some(false));
    }

    #[test]
    fn every_part_of_a_bar_must_hold() {
        // "≥ 0.85 × echo, and ahead of Redis and NATS": the absolute stays when not a stand-in.
        let ahead = Bar { absolute: 0.0, fraction: 0.85, peer_factor: 1.0, absolute_is_stand_in: false };
        assert_eq!(ahead.met(90_000.0, 0.9, Some(80_000.0), true), Some(true));
        assert_eq!(ahead.met(90_000.0, 0.8, Some(80_000.0), true), Some(false));
        assert_eq!(ahead.met(75_000.0, 0.9, Some(80_000.0), true), Some(false));
        let floor = Bar { absolute: 5e5, fraction: 0.0, peer_factor: 1.0, absolute_is_stand_in: false };
        assert_eq!(floor.met(4e5, 0.0, Some(3e5), true), Some(false));
        let none = Bar { absolute: 0.0, fraction: 0.0, peer_factor: 0.0, absolute_is_stand_in: false };
        assert_eq!(none.met(1.0, 0.0, None, true), None);
    }
}
