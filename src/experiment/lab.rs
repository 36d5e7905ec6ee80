//! The lab: the read/write sweep, straight on `Log<S>` with no sockets, so that the lock is the
//! cost that matters.
//!
//! A *cell* is one strategy under one mix: `threads` threads each draw, per operation, a read
//! with probability `read_share_percent` % (fetch `read_records` records from a random offset of
//! the pre-filled part of the log: the read section's length) or else an append of a
//! `message_bytes`-sized payload. Every repeat of a cell runs on a fresh log in a temporary
//! directory, pre-filled with `prefill_records` records so reads have something to read, and is
//! bounded by time (`cell_ms`) or, in tests, by a number of operations per thread. After a
//! repeat the log is closed and verified (`synclog verify`'s check); under a locking strategy it
//! must be clean.
//!
//! Every random draw comes from a generator seeded by (`seed`, repeat, thread), so a cell bounded
//! by operations makes the same choices every time. Threads start together behind a barrier.

use crate::report::rows::{Lab, LabCell, LabRun};
use crate::storage::verify::verify_topic;
use crate::storage::{Log, LogConfig};
use crate::strategies::{StrategyKind, StrategyVisitor, SyncStrategy};
use anyhow::Context as _;
use std::str::FromStr;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// The payload sizes appended: one size, or a seeded uniform draw from `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageBytes {
    pub min: usize,
    pub max: usize,
}

impl MessageBytes {
    /// The largest payload the lab appends (its logs accept up to this).
    pub const LIMIT: usize = 1 << 20;

    /// One size.
    pub fn fixed(bytes: usize) -> Self {
        MessageBytes { min: bytes, max: bytes }
    }
}

impl FromStr for MessageBytes {
    type Err = String;
    /// `100` (one size) or `64..4096` (uniform between both, inclusive).
    fn from_str(s: &str) -> Result<Self, String> {
        let number = |t: &str| {
            t.trim().parse::<usize>().map_err(|_| format!("'{t}' is not a byte count (e.g. 100 or 64..4096)"))
        };
        let (min, max) = match s.split_once("..") {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(s)?, number(s)?),
        };
        if min == 0 || min > max || max > Self::LIMIT {
            return Err(format!("message sizes must satisfy 1 <= MIN <= MAX <= {}, got {s}", Self::LIMIT));
        }
        Ok(MessageBytes { min, max })
    }
}

impl std::fmt::Display for MessageBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}..{}", self.min, self.max)
        }
    }
}

/// What bounds one repeat of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Run for this long (the sweep).
    Time(Duration),
    /// Each thread does exactly this many operations (tests: the same choices every time).
    OpsPerThread(u64),
}

/// One cell's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellSpec {
    pub strategy: StrategyKind,
    pub threads: u32,
    pub read_share_percent: u32,
    pub read_records: u32,
    pub message_bytes: MessageBytes,
}

/// The most records a fresh log is pre-filled with (`--prefill`): 1 000 000, fifty times the
/// default of 20 000. Reads only need the longest read's worth; the pre-fill is written again
/// before every repeat of every cell (100 MB each at the default 100-byte payloads), so a larger
/// one would make the sweep a disk-filling job rather than a lock measurement.
pub const MAX_PREFILL_RECORDS: u64 = 1_000_000;

/// The most bytes of payloads a pre-fill may write (`--prefill` × the largest
/// `--message-bytes`): 1 GiB per fresh log.
pub const MAX_PREFILL_BYTES: u64 = 1 << 30;

/// The most bytes of payloads one read may copy out (`--read-records` × the largest
/// `--message-bytes`): 16 MiB, so 256 threads reading at once hold at most 4 GiB.
pub const MAX_READ_BYTES: u64 = 16 << 20;

/// The most repeats of a cell (`--repeat`): 100, enough for a median and its spread.
pub const MAX_REPEATS: u32 = 100;

/// The sweep: every combination of the lists, each repeated.
#[derive(Debug, Clone)]
pub struct LabConfig {
    pub strategies: Vec<StrategyKind>,
    pub threads: Vec<u32>,
    pub read_shares: Vec<u32>,
    pub read_records: Vec<u32>,
    pub message_bytes: MessageBytes,
    pub repeats: u32,
    pub bound: Bound,
    pub prefill_records: u64,
    pub seed: u64,
}

impl LabConfig {
    /// Refuses lists and values the sweep cannot run.
    pub fn validate(&self) -> anyhow::Result<()> {
        let lists = [self.strategies.is_empty(), self.threads.is_empty(), self.read_shares.is_empty()];
        if lists.into_iter().any(|empty| empty) || self.read_records.is_empty() {
            anyhow::bail!("--strategies, --threads, --read-share and --read-records each need a value");
        }
        if let Some(s) = self.read_shares.iter().find(|&&s| s > 100) {
            anyhow::bail!("--read-share is a percentage (0 to 100), got {s}");
        }
        if self.threads.contains(&0) || self.threads.iter().any(|&t| t > 256) {
            anyhow::bail!("--threads takes counts from 1 to 256");
        }
        if self.read_records.contains(&0) {
            anyhow::bail!("--read-records must be at least 1");
        }
        let longest = u64::from(*self.read_records.iter().max().unwrap_or(&1));
        if self.prefill_records < longest {
            anyhow::bail!(
                "--prefill ({}) must be at least the longest read ({longest})",
                self.prefill_records
            );
        }
        if self.prefill_records > MAX_PREFILL_RECORDS {
            anyhow::bail!(
                "--prefill must be at most {MAX_PREFILL_RECORDS} records, got {}",
                self.prefill_records
            );
        }
        let largest = self.message_bytes.max as u64;
        if self.prefill_records.saturating_mul(largest) > MAX_PREFILL_BYTES {
            anyhow::bail!(
                "--prefill × the largest --message-bytes must be at most 1 GiB ({MAX_PREFILL_BYTES} bytes)"
            );
        }
        if longest.saturating_mul(largest) > MAX_READ_BYTES {
            anyhow::bail!(
                "--read-records × the largest --message-bytes must be at most 16 MiB ({MAX_READ_BYTES} bytes), what one read copies"
            );
        }
        if self.repeats == 0 || self.repeats > MAX_REPEATS {
            anyhow::bail!("--repeat must be from 1 to {MAX_REPEATS}, got {}", self.repeats);
        }
        Ok(())
    }

    /// Every cell, in the order the sweep runs and reports them.
    pub fn cells(&self) -> Vec<CellSpec> {
        let mut cells = Vec::new();
        for &read_records in &self.read_records {
            for &threads in &self.threads {
                for &read_share_percent in &self.read_shares {
                    for &strategy in &self.strategies {
                        let message_bytes = self.message_bytes;
                        cells.push(CellSpec {
                            strategy,
                            threads,
                            read_share_percent,
                            read_records,
                            message_bytes,
                        });
                    }
                }
            }
        }
        cells
    }
}

/// What one thread did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    reads: u64,
    appends: u64,
    records_read: u64,
}

/// Runs one repeat of `cell` on a fresh log: pre-fill, race, close, verify.
pub fn run_cell(
    cell: &CellSpec,
    bound: Bound,
    prefill_records: u64,
    seed: u64,
    repeat: u32,
) -> anyhow::Result<LabRun> {
    cell.strategy.visit(CellVisit { cell, bound, prefill_records, seed, repeat })
}

struct CellVisit<'a> {
    cell: &'a CellSpec,
    bound: Bound,
    prefill_records: u64,
    seed: u64,
    repeat: u32,
}

impl StrategyVisitor for CellVisit<'_> {
    type Output = anyhow::Result<LabRun>;

    fn visit<S: SyncStrategy>(self) -> anyhow::Result<LabRun> {
        let cell = self.cell;
        let dir = super::scratch::Scratch::new("synclog-lab-")
            .context("creating the cell's temporary directory")?;
        let config = LogConfig { max_message_bytes: MessageBytes::LIMIT as u32, ..LogConfig::default() };
        let log = Log::<S>::open(dir.path(), config).context("opening the cell's log")?.0;
        let payload = vec![0x5a_u8; cell.message_bytes.max];
        let mut rng = fastrand::Rng::with_seed(self.seed ^ 0x9e37_79b9_7f4a_7c15);
        // In batches of 100 records: one write section and one write each.
        let mut left = self.prefill_records;
        while left > 0 {
            let n = left.min(100);
            let batch: Vec<&[u8]> = (0..n).map(|_| &payload[..size(&mut rng, cell.message_bytes)]).collect();
            log.append_batch(&batch).context("pre-filling the log")?;
            left -= n;
        }
        let threads = cell.threads as usize;
        let barrier = Barrier::new(threads + 1);
        let tallies = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (log, barrier, payload) = (&log, &barrier, &payload);
                    let seed = thread_seed(self.seed, self.repeat, t);
                    let max_offset = self.prefill_records - u64::from(cell.read_records);
                    scope.spawn(move || {
                        barrier.wait();
                        let start = Instant::now();
                        let tally = worker(log, cell, self.bound, seed, max_offset, payload);
                        tally.map(|t| (t, start, Instant::now()))
                    })
                })
                .collect();
            barrier.wait();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a lab thread panicked"))))
                .collect::<Vec<_>>()
        });
        drop(log);
        // The cell's time is from the first thread's start to the last one's end, as the threads
        // saw them (the thread that spawned them may be descheduled meanwhile).
        let mut total = Tally::default();
        let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
        for t in tallies {
            let (t, start, end) = t?;
            total.reads += t.reads;
            total.appends += t.appends;
            total.records_read += t.records_read;
            first = Some(first.map_or(start, |f| f.min(start)));
            last = Some(last.map_or(end, |l| l.max(end)));
        }
        let seconds = match (first, last) {
            (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
            _ => 0.0,
        };
        let report =
            verify_topic(dir.path(), MessageBytes::LIMIT as u32, None).context("verifying the cell's log")?;
        let violations = report.violations.found().map(|(_, n)| n).sum();
        let ops = total.reads + total.appends;
        Ok(LabRun {
            strategy: cell.strategy.name().to_string(),
            threads: cell.threads,
            read_share_percent: cell.read_share_percent,
            read_records: cell.read_records,
            repeat: self.repeat,
            reads: total.reads,
            appends: total.appends,
            records_read: total.records_read,
            seconds,
            ops_per_s: if seconds > 0.0 { ops as f64 / seconds } else { 0.0 },
            violations,
        })
    }
}

/// The seed of one thread of one repeat: distinct streams, reproducible.
fn thread_seed(seed: u64, repeat: u32, thread: usize) -> u64 {
    seed.wrapping_mul(0x100_0000_01b3) ^ (u64::from(repeat) << 32) ^ thread as u64
}

/// A payload size drawn from `m`.
fn size(rng: &mut fastrand::Rng, m: MessageBytes) -> usize {
    if m.min == m.max {
        m.min
    } else {
        rng.usize(m.min..=m.max)
    }
}

/// One thread's loop: draw read or append, do it, until the bound.
fn worker<S: SyncStrategy>(
    log: &Log<S>,
    cell: &CellSpec,
    bound: Bound,
    seed: u64,
    max_offset: u64,
    payload: &[u8],
) -> anyhow::Result<Tally> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut tally = Tally::default();
    let deadline = match bound {
        Bound::Time(d) => Some(Instant::now() + d),
        Bound::OpsPerThread(_) => None,
    };
    let mut done = 0u64;
    loop {
        match (bound, deadline) {
            (Bound::OpsPerThread(n), _) if done >= n => break,
            // Checking the clock every 16 operations keeps it off the measured path.
            (_, Some(d)) if done.is_multiple_of(16) && Instant::now() >= d => break,
            _ => {}
        }
        done += 1;
        if rng.u32(0..100) < cell.read_share_percent {
            let offset = rng.u64(0..=max_offset);
            tally.reads += 1;
            match log.read(offset, cell.read_records, u32::MAX) {
                Ok(batch) => tally.records_read += batch.len() as u64,
                // Under `none` a read may meet a log that concurrent appends tore: data, not a
                // failure of the lab (the verification after the repeat counts the damage).
                Err(_) if !S::EXCLUSIVE_WRITES => {}
                Err(e) => return Err(anyhow::Error::new(e).context("a lab read failed")),
            }
        } else {
            log.append(&payload[..size(&mut rng, cell.message_bytes)]).context("a lab append failed")?;
            tally.appends += 1;
        }
    }
    Ok(tally)
}

/// The median of `values`: the middle one of an odd count, the mean of the two middle ones of
/// an even count; 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The spread of a cell's repeats, as its row.
pub fn summarize(cell: &CellSpec, runs: &[LabRun]) -> LabCell {
    let mut ops: Vec<f64> = runs.iter().map(|r| r.ops_per_s).collect();
    ops.sort_by(f64::total_cmp);
    let records_read_per_s: Vec<f64> =
        runs.iter().map(|r| if r.seconds > 0.0 { r.records_read as f64 / r.seconds } else { 0.0 }).collect();
    let reads: u64 = runs.iter().map(|r| r.reads).sum();
    let appends: u64 = runs.iter().map(|r| r.appends).sum();
    let total = (reads + appends).max(1);
    LabCell {
        strategy: cell.strategy.name().to_string(),
        threads: cell.threads,
        read_share_percent: cell.read_share_percent,
        read_records: cell.read_records,
        message_bytes_min: cell.message_bytes.min,
        message_bytes_max: cell.message_bytes.max,
        repeats: runs.len() as u32,
        ops_per_s_min: ops.first().copied().unwrap_or(0.0),
        ops_per_s_median: median(&ops),
        ops_per_s_max: ops.last().copied().unwrap_or(0.0),
        records_read_per_s_median: median(&records_read_per_s),
        reads,
        appends,
        measured_read_percent: 100.0 * reads as f64 / total as f64,
        violations: runs.iter().map(|r| r.violations).sum(),
    }
}

/// Runs the whole sweep. `progress` is called after each cell with (done, total, the row).
pub fn lab(config: &LabConfig, mut progress: impl FnMut(usize, usize, &LabCell)) -> anyhow::Result<Lab> {
    config.validate()?;
    let specs = config.cells();
    let mut cells = Vec::with_capacity(specs.len());
    let mut runs = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let mut cell_runs = Vec::with_capacity(config.repeats as usize);
        for repeat in 0..config.repeats {
            cell_runs.push(run_cell(spec, config.bound, config.prefill_records, config.seed, repeat)?);
        }
        let row = summarize(spec, &cell_runs);
        progress(i + 1, specs.len(), &row);
        cells.push(row);
        runs.extend(cell_runs);
    }
    let cell_ms = match config.bound {
        Bound::Time(d) => d.as_millis() as u64,
        Bound::OpsPerThread(_) => 0,
    };
    // Every repeat's log lives in a temporary directory under the system's temporary directory.
    let mut machine = super::ceiling::machine();
    machine.data_dir_fs = super::ceiling::filesystem_of(&std::env::temp_dir());
    Ok(Lab {
        machine,
        cell_ms,
        prefill_records: config.prefill_records,
        seed: config.seed,
        cells,
        runs,
        criterion_dir: String::new(),
        bench_append: Vec::new(),
    })
}

/// `true` when every locking strategy's logs verified clean (`none` may tear its log: data).
pub fn locks_clean(lab: &Lab) -> bool {
    lab.cells.iter().all(|c| c.strategy == StrategyKind::None.name() || c.violations == 0)
}
