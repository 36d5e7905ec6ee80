//! The rows a report is made of: what one run measured ([`RunReport`]), one cell of a comparison
//! ([`Cell`]), a goal row ([`Goal`]) and a whole comparison ([`Comparison`]). The experiment
//! runner fills them; the report reads them. Their JSON form is the `--json` object and
//! `results.json` described in docs/cli.md.

use crate::check::OperationCounts;
use crate::storage::{AppendMode, FsyncMode};
use crate::violations::Violations;
use serde::Serialize;

/// How the load reaches the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// Over loopback TCP to a broker (embedded unless --broker).
    Tcp,
    /// Straight on the log in this process: no sockets, no codec.
    Inproc,
}

/// Throughput and latency of one side (produce or consume).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Figures {
    pub msgs_per_s: f64,
    pub mb_per_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    /// Produce only: fsyncs per second over the load, warm-up included: from its start to the
    /// last producer's last answer (null for a remote broker).
    // Written as `null`, never left out: docs/cli.md lists both fsync figures in every `produce`
    // (and `consume` has "the same figures"), so a reader of the JSON can rely on the keys.
    pub fsyncs_per_s: Option<f64>,
    /// Produce only: messages per fsync (null when nothing was synced).
    pub msgs_per_fsync: Option<f64>,
    /// Produce only: the mean time one `fdatasync` took, in µs (null when nothing was synced).
    pub fsync_mean_us: Option<f64>,
    /// Produce only: the mean time a group-commit leader waited for appends to gather before
    /// its sync, in µs, over all syncs (0 when none gathered; null when nothing was synced).
    pub gather_mean_us: Option<f64>,
}

/// The wall time of each phase of a run, in seconds: the payloads' encoding, the load
/// (producers and consumers racing), the drain (a fresh reader reading every topic), the scan
/// of the files (`verify`) and the check of the history.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Phases {
    /// Encoding every producer's payloads before the load (unless they were left to it, see
    /// `experiment::payloads`), then warming as much memory as the load will write
    /// (`experiment::warm`).
    pub prepare_s: f64,
    pub load_s: f64,
    pub drain_s: f64,
    /// `None` (JSON `null`) when the files were out of reach: a remote broker or cluster.
    pub verify_s: Option<f64>,
    pub check_s: f64,
}

/// An open-loop run (`--rate`): every request is due at a fixed time, and its latency is timed
/// from then, so a stall shows in the latency of every request it delayed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpenLoop {
    /// `--rate`: messages per second asked, all producers together.
    pub target_msgs_per_s: f64,
    /// Messages per second achieved over the timed window (the `produce` figure).
    pub achieved_msgs_per_s: f64,
    /// The share of requests sent more than `late_after_us` after they were due.
    pub late_share: f64,
    /// The lateness threshold, µs.
    pub late_after_us: u64,
    /// The longest any request waited past its due time before it was sent, µs.
    pub max_behind_us: u64,
}

/// The messages of a run that were never acknowledged: refused by the broker or never sent (a
/// producer's requests after its connection failed), or left without an answer (a broken
/// connection, a timeout). Not an integrity violation (a send is never
/// retried, and the checker knows these may or may not have been stored), but the load did not
/// complete: the rates count acknowledged messages only.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Unacknowledged {
    /// Messages not acknowledged (failed and unanswered).
    pub messages: u64,
    /// Requests that failed and stored nothing (the broker refused them, or they were never sent
    /// because the producer's connection had failed), and their messages.
    pub requests_failed: u64,
    pub messages_failed: u64,
    /// Requests that got no answer, and their messages.
    pub requests_unanswered: u64,
    pub messages_unanswered: u64,
    /// The first error met, as the producer saw it (which producer, and what it was told).
    pub first_error: String,
}

/// The machine a run ran on.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Machine {
    pub cpus: usize,
    pub kernel: String,
    pub data_dir_fs: String,
}

/// Everything a run found: the `--json` object of docs/cli.md, plus what the table prints.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub strategy: String,
    pub producers: u32,
    pub consumers: u32,
    pub messages: u64,
    pub message_bytes: usize,
    /// `--message-bytes MIN..MAX`: the largest size (`message_bytes` is then the smallest);
    /// `null` for one size.
    pub message_bytes_max: Option<usize>,
    pub batch: u32,
    pub in_flight: u32,
    pub topics: u32,
    pub transport: TransportKind,
    /// `--fsync`, `--fsync-interval-ms` (as the log used it: 0 is taken as 1), `--race-window-us`
    /// and `--append`: what the embedded broker or in-process log was run with; `None` (`null`)
    /// with `--broker` or `--target`, whose system keeps its own settings, unknown to the harness.
    pub fsync: Option<FsyncMode>,
    pub fsync_interval_ms: Option<u64>,
    pub race_window_us: Option<u64>,
    /// `--force-race`: appenders paired up inside a 5 ms window, each waiting inside the lock.
    pub force_race: bool,
    /// `--append`: `whole` or `reserve` (`None` for a remote system, as above).
    pub append: Option<AppendMode>,
    /// `--rate` (open loop): the schedule and how far the producers fell behind it; `null` for
    /// a closed-loop run.
    pub open_loop: Option<OpenLoop>,
    pub seed: u64,
    /// Seconds of the load phase (as `phases.load_s`).
    pub duration_s: f64,
    pub machine: Machine,
    pub version: String,
    pub produce: Figures,
    pub consume: Option<Figures>,
    pub violations: Violations,
    pub examples: serde_json::Value,
    pub verdict: String,
    /// Messages never acknowledged, with the first error; `null` when every message was.
    pub unacknowledged: Option<Unacknowledged>,
    /// `--lock-stats`: the strategy's own wait, hold and contention; `null` without it.
    pub lock: Option<crate::report::locks::LockRow>,
    /// Per-producer and per-consumer throughput, min, max and Jain's index.
    pub fairness: Option<crate::report::locks::Fairness>,
    /// Things a reader should know (files not checked, errors met during the run).
    pub notes: Vec<String>,
    /// How long the load, the drain, the file scan and the check took.
    pub phases: Phases,
    /// Acknowledged, failed and unknown sends, reads, … (exact totals).
    #[serde(skip)]
    pub counts: OperationCounts,
    /// With `RunConfig::page`: the charts, timeline and violation windows of the report page.
    #[serde(skip)]
    pub page: Option<Box<crate::report::page::build::Draft>>,
}

impl RunReport {
    /// `true` when no error kind was counted.
    pub fn is_clean(&self) -> bool {
        self.violations.is_clean()
    }

    /// `true` when every message sent was acknowledged.
    pub fn is_complete(&self) -> bool {
        self.unacknowledged.is_none()
    }
}

/// Both ceilings for one workload shape.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Ceilings {
    /// Threads (= producers) used.
    pub threads: usize,
    pub message_bytes: usize,
    pub batch: usize,
    /// Requests each loopback connection kept outstanding (the cell's `--in-flight`).
    pub in_flight: usize,
    /// Records per second of plain positional writes, from `threads` threads or from as many
    /// as the machine has cores when that wrote more.
    pub pwrite_msgs_per_s: f64,
    /// Messages per second of loopback request/response (round trips × batch): the best of the
    /// echo server's configurations, at the same threads, connections and in-flight.
    pub loopback_msgs_per_s: f64,
    /// The echo configuration that reached `loopback_msgs_per_s`.
    pub loopback_configuration: &'static str,
}

impl Ceilings {
    /// Whether a ratio to this ceiling is above 1: the ceiling failed to bound what it was
    /// measured for (noise on a shared machine, or a shape it does not model).
    pub fn failed_to_bound(ratio: f64) -> bool {
        ratio > 1.0
    }
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
    /// The strategy (`rwlock` on every row with a goal).
    pub strategy: String,
    pub workload: String,
    pub producers: u32,
    pub batch: u32,
    pub in_flight: u32,
    pub measured_msgs_per_s: f64,
    pub ceiling_msgs_per_s: f64,
    /// What the ceiling is: "loopback echo", "raw pwrite", "one thread's raw pwrite", "framed
    /// pwrite" or "group-commit bound".
    pub ceiling_kind: String,
    /// The measured rate over the ceiling of the same shape (threads, batch, in-flight).
    pub ratio_to_ceiling: Option<f64>,
    /// Rows judged on the median of several runs, each followed by a fresh measurement of its
    /// ceiling: every figure, in the order measured (`None`: one run).
    pub alternating: Option<AlternatingRuns>,
    pub target: String,
    /// `Some(true)` when every part of the goal was judged in this run and reached,
    /// `Some(false)` when a part judged in this run was missed (or the run had a violation),
    /// `None` for a row without a goal or whose peer goal could not be judged (no peer
    /// measured: no quoted figure stands in for it).
    pub met: Option<bool>,
    pub durability: String,
    /// Syncs per second and messages acknowledged per sync (`--fsync always` rows).
    pub fsyncs_per_s: Option<f64>,
    pub msgs_per_fsync: Option<f64>,
    /// The mean time of one of those syncs and the mean gather before it, in µs.
    pub fsync_mean_us: Option<f64>,
    pub gather_mean_us: Option<f64>,
    /// The peers run on the same workload in this run (with `--peers`).
    pub peers: Vec<PeerFigure>,
    /// Why a peer named by this row and asked for (`--peers`) has no figure (not installed,
    /// failed).
    pub peers_missing: Vec<String>,
    /// synclog must reach this multiple of the fastest peer measured (0: no peer goal).
    pub peer_factor: f64,
    /// Whether every peer the row names was measured in this run. `false` means the peer part
    /// of the goal is "not measured" whatever `met` says of the other parts.
    pub peers_judged: bool,
    /// Integrity violations (error kinds) counted over every run of the row (its repeats and
    /// the lock-statistics runs included); any fails `compare` (exit 3).
    pub violations: u64,
    /// Messages not acknowledged over every run of the row; any makes `compare` exit 1.
    pub unacknowledged: u64,
    /// With `--lock-stats`, on TCP rows: what measuring the lock cost on this workload.
    /// `None` when not measured.
    pub lock_stats_cost: Option<LockStatsCost>,
}

/// A goal workload run several times, alternately with its ceiling, so that a change in the
/// machine's load between the two moves both: the row's figures are the medians.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlternatingRuns {
    /// Messages per second of each run of the workload, in the order run.
    pub msgs_per_s: Vec<f64>,
    /// The ceiling measured after each run, in the same order.
    pub ceiling_msgs_per_s: Vec<f64>,
}

/// The same goal workload run alternately without and with the timing wrapper (three runs
/// each, the goal's own run counted among the instrumented ones), so one noisy run cannot make
/// the cost.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LockStatsCost {
    /// Messages per second of each instrumented run, in the order run.
    pub with_msgs_per_s: Vec<f64>,
    /// Messages per second of each uninstrumented run, in the order run.
    pub without_msgs_per_s: Vec<f64>,
}

impl LockStatsCost {
    /// Median instrumented rate over median uninstrumented rate (1: free; 0.9: a tenth lost).
    pub fn ratio(&self) -> f64 {
        median(&self.with_msgs_per_s) / median(&self.without_msgs_per_s).max(1.0)
    }
}

/// The median of a few figures (the upper one of an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
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
    /// `compare --rates`: one open-loop run per strategy and rate (empty without it).
    pub rate_points: Vec<RatePoint>,
    /// `compare --p99-bound-ms`, in µs: a strategy holds a rate while its p99 stays under this.
    pub p99_bound_us: u64,
    pub machine: Machine,
    pub duration_s: f64,
}

/// One open-loop run of `compare --rates`: a strategy at a target rate, and what it achieved.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RatePoint {
    pub strategy: String,
    /// The run's producers and consumers (the closed-loop cell with the same counts is the one
    /// `summary.md` sets beside it).
    pub producers: u32,
    pub consumers: u32,
    pub target_msgs_per_s: f64,
    pub achieved_msgs_per_s: f64,
    /// Produce latency from each request's due time, µs.
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    /// The share of requests sent more than 1 ms after they were due.
    pub late_share: f64,
    /// The run's verdict (`clean` or `corrupted`).
    pub verdict: String,
    /// Messages the run sent that were not acknowledged; any makes `compare` exit 1.
    pub unacknowledged: u64,
}

/// Which peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerKind {
    Redis,
    Nats,
}

/// What one peer reached.
#[derive(Debug, Clone, Serialize)]
pub struct PeerFigure {
    pub peer: PeerKind,
    /// The server and its version, e.g. `Redis 7.0.15`.
    pub server: String,
    /// What the figure was measured with, e.g. `XADD, appendfsync always`.
    pub setting: String,
    pub msgs_per_s: f64,
    pub durability: String,
}

/// One cell of the lab (`harness lab`): a strategy under one mix of reads and appends, run
/// `repeats` times on a fresh log each, summarized by its spread. One row of `results.csv`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LabCell {
    pub strategy: String,
    pub threads: u32,
    /// The share of operations that are reads, in percent (the rest are appends).
    pub read_share_percent: u32,
    /// Records each read fetches from its random offset: the read section's length.
    pub read_records: u32,
    /// The smallest and largest payload appended (equal for a single size).
    pub message_bytes_min: usize,
    pub message_bytes_max: usize,
    pub repeats: u32,
    /// Operations (reads + appends) per second: the slowest repeat, the median of the repeats
    /// (an even count: the mean of the two middle ones) and the fastest repeat.
    pub ops_per_s_min: f64,
    pub ops_per_s_median: f64,
    pub ops_per_s_max: f64,
    /// The median of the repeats' records read per second (an even count: the mean of the two
    /// middle ones).
    pub records_read_per_s_median: f64,
    /// Reads and appends done, summed over the repeats.
    pub reads: u64,
    pub appends: u64,
    /// The share of reads actually drawn, in percent of the operations done.
    pub measured_read_percent: f64,
    /// Violations `verify` found in the logs after the repeats, summed (0 under every lock).
    pub violations: u64,
}

/// One repeat of a lab cell, as measured (the JSON's `runs`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LabRun {
    pub strategy: String,
    pub threads: u32,
    pub read_share_percent: u32,
    pub read_records: u32,
    pub repeat: u32,
    pub reads: u64,
    pub appends: u64,
    pub records_read: u64,
    pub seconds: f64,
    pub ops_per_s: f64,
    pub violations: u64,
}

/// A whole lab sweep: `results.json` of `harness lab` (docs/cli.md).
#[derive(Debug, Clone, Serialize)]
pub struct Lab {
    pub machine: Machine,
    /// How long each repeat of a cell ran, in milliseconds.
    pub cell_ms: u64,
    /// Records appended to each fresh log before a repeat starts, for reads to read.
    pub prefill_records: u64,
    /// Seed of the operation mix, the read offsets and the message sizes.
    pub seed: u64,
    pub cells: Vec<LabCell>,
    pub runs: Vec<LabRun>,
    /// Where `harness lab` looked for `cargo bench --bench append`'s results (criterion's
    /// directory), and what it found there: one figure per strategy of the sweep that has one.
    pub criterion_dir: String,
    pub bench_append: Vec<BenchFigure>,
}

/// One `cargo bench --bench append` figure, read from criterion's files: quoted beside the lab's
/// 1-thread, 0 % reads cell, never measured by the lab itself.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BenchFigure {
    pub strategy: String,
    /// The benchmark's id, `append/single/<strategy>/1`: one thread appending 100-byte messages.
    pub bench_id: String,
    pub message_bytes: usize,
    /// Messages per second from criterion's estimate of the time per message, and from the ends
    /// of its 95 % confidence interval.
    pub msgs_per_s: f64,
    pub msgs_per_s_low: f64,
    pub msgs_per_s_high: f64,
    /// Which of criterion's estimates: `slope` (its headline, when it fitted one) or `mean`.
    pub estimate: String,
    /// The `estimates.json` read, and when it was written (UTC): when the bench measured.
    pub file: String,
    pub measured_at: String,
}

#[cfg(test)]
impl RunReport {
    /// A clean run for tests to adjust: mutex, 1 producer, 1 consumer, 800 messages of 60 bytes
    /// over TCP, closed loop, 1 000 msg/s produced with a p99 of 2.8 ms.
    pub(crate) fn sample() -> RunReport {
        RunReport {
            strategy: "mutex".into(),
            producers: 1,
            consumers: 1,
            messages: 800,
            message_bytes: 60,
            message_bytes_max: None,
            batch: 1,
            in_flight: 1,
            topics: 1,
            transport: TransportKind::Tcp,
            fsync: Some(FsyncMode::Never),
            fsync_interval_ms: Some(1),
            race_window_us: Some(0),
            force_race: false,
            append: Some(AppendMode::Whole),
            seed: 1,
            duration_s: 1.0,
            machine: Machine { cpus: 2, kernel: "k".into(), data_dir_fs: "ext4".into() },
            version: "0".into(),
            produce: Figures { msgs_per_s: 1000.0, p99_us: 2800, ..Figures::default() },
            consume: None,
            violations: Default::default(),
            examples: serde_json::Value::Null,
            verdict: "clean".into(),
            unacknowledged: None,
            lock: None,
            fairness: None,
            notes: vec![],
            counts: Default::default(),
            page: None,
            open_loop: None,
            phases: Phases::default(),
        }
    }
}

#[cfg(test)]
impl Comparison {
    /// A comparison of `reports`, one cell each, with a loopback ceiling of 100 000 msg/s and a
    /// positional-write ceiling of 1 M msg/s, for tests to adjust.
    pub(crate) fn sample(reports: Vec<RunReport>) -> Comparison {
        let ceilings = Ceilings {
            threads: 1,
            message_bytes: 60,
            batch: 1,
            in_flight: 1,
            pwrite_msgs_per_s: 1e6,
            loopback_msgs_per_s: 1e5,
            loopback_configuration: "",
        };
        Comparison {
            cells: reports.into_iter().map(|report| Cell { report, ceilings, produce_ratio: 0.01 }).collect(),
            goals: vec![],
            section_costs: vec![],
            fdatasync_ceiling_per_s: None,
            rate_points: vec![],
            p99_bound_us: 0,
            machine: Machine { cpus: 2, kernel: "k".into(), data_dir_fs: "ext4".into() },
            duration_s: 1.0,
        }
    }
}
