//! Timed sections: [`Timed<S>`] measures the strategy `S` itself — how often its sections were
//! acquired, how long each caller waited to get in, how long it stayed — per thread, separately
//! for read and write sections, the figures a lock profiler (`perf lock contention`, mutrace)
//! reports.
//!
//! `Timed<S>` is itself a [`SyncStrategy`] with `S`'s name, so the log, the broker and the
//! harness run it unchanged: turn it on by choosing the type, through
//! [`StrategyKind::visit_timed`](crate::StrategyKind::visit_timed) with `timed = true`. Off,
//! the plain `S` runs: not a branch, not a clock read, zero cost. Read the figures with
//! [`SyncStrategy::lock_snapshot`] (`None` for an untimed strategy), merge snapshots of several
//! logs with [`LockSnapshot::merge`], and turn one into the serializable [`LockStats`].
//!
//! ## What is measured
//!
//! For every section: **wait**, from the call to the moment the section starts (the time spent
//! acquiring, blocked or not); **hold**, from the start of the section to its end (the release
//! itself is not included). Each goes into an HDR histogram (nanoseconds, 2 significant
//! digits) after the section is left, never inside it. An acquisition is **contended** when its
//! wait exceeded what an uncontended acquire of the same strategy takes: that threshold is
//! measured once per strategy and process (four times the 99th percentile of 2 000 acquires on
//! a fresh lock with no other thread, kept between 1 µs and 10 µs: below 1 µs a timer interrupt
//! landing between two clock reads would count a lone thread as contended; a real contended
//! wait lasts at least a holder's section plus a wake-up, microseconds).
//!
//! ## Where it is kept
//!
//! Each thread records into its own slot, found by a per-thread index (taken once per thread
//! from a process-wide counter) modulo [`SLOTS`]; slots are padded to a cache line each
//! (`crossbeam::utils::CachePadded`) so that two threads recording never share a line. A slot is
//! a small mutex (uncontended: only its own thread takes it, except when more than [`SLOTS`]
//! threads share slots, or a snapshot is read) around that thread's histograms, created on the
//! thread's first section and labelled with the thread's name. A snapshot clones every slot.
//!
//! ## The clock and what it costs
//!
//! `quanta::Clock::raw`: the CPU's time-stamp counter (`rdtsc`), scaled to nanoseconds only when
//! a sample is recorded, outside the section; three reads per section. Measured on the 2-core
//! development machine (release build, 5 M calls, a scratch program): `std::time::Instant::now`
//! 38–39 ns, `quanta::Clock::raw` 15 ns. With `Instant`, a timed uncontended parking_lot
//! `mutex` section cost 161–166 ns against 23 ns plain (about 140 ns added: three clock reads,
//! the slot's uncontended mutex, two histogram records); with quanta, 83–127 ns against 24–27
//! ns plain (about 60 ns added, 100 in the noisiest round), for a `rwlock` read 82–104 ns
//! against 23–26 ns. A single thread's uncontended acquires counted as contended (interrupts
//! landing between two clock reads): 0.0035 % of 5 M.
//! `cargo bench --bench append -- section/` measures plain and `timed-` rows side by side, and
//! [`LockStats::clock_ns`] reports the clock's cost measured in the run itself. So the instrument
//! costs on the order of 100 ns per section: small beside a contended wait (microseconds) or an
//! append (a `pwrite`, a microsecond or more), which is what the statistics are for, but not
//! beside an uncontended 5 ns lock: a timed run's throughput is never compared with an untimed
//! run's as if the instrument were free.

use crate::SyncStrategy;
use crossbeam::utils::CachePadded;
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Per-thread slots in one [`Timed`] strategy.
pub const SLOTS: usize = 128;

/// The histograms' highest trackable value: one minute, in nanoseconds.
const MAX_NS: u64 = 60_000_000_000;

/// A strategy `S` whose sections are timed (see the module docs).
pub struct Timed<S: SyncStrategy> {
    inner: S,
    clock: &'static quanta::Clock,
    slots: Box<[CachePadded<Mutex<Option<Box<Slot>>>>]>,
    /// A wait above this many nanoseconds counts as contended.
    contended_ns: u64,
}

impl<S: SyncStrategy> Default for Timed<S> {
    fn default() -> Self {
        Timed::with_threshold(calibration::<S>().contended_ns)
    }
}

impl<S: SyncStrategy> Timed<S> {
    /// A timed `S` that counts a wait above `contended_ns` nanoseconds as contended, instead of
    /// the measured uncontended acquire.
    pub fn with_threshold(contended_ns: u64) -> Self {
        Timed::with_clock(clock(), contended_ns)
    }

    /// A timed `S` that reads `clock` (say, `quanta::Clock::mock()`'s, so that a test decides
    /// how long every wait and hold lasts) and counts a wait above `contended_ns` as contended.
    pub fn with_clock(clock: &'static quanta::Clock, contended_ns: u64) -> Self {
        Timed {
            inner: S::default(),
            clock,
            slots: (0..SLOTS).map(|_| CachePadded::new(Mutex::new(None))).collect(),
            contended_ns,
        }
    }

    /// The strategy being timed.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Forgets everything recorded so far (say, after a warm-up).
    pub fn reset(&self) {
        for slot in self.slots.iter() {
            *slot.lock() = None;
        }
    }

    /// Every thread's figures so far.
    pub fn snapshot(&self) -> LockSnapshot {
        let mut threads = BTreeMap::new();
        for slot in self.slots.iter() {
            if let Some(s) = slot.lock().as_deref() {
                merge_into(&mut threads, &s.label(), &s.read, &s.write);
            }
        }
        LockSnapshot { strategy: S::NAME, contended_ns: self.contended_ns, threads }
    }

    fn record(&self, kind: Kind, called: u64, entered: u64, left: u64) {
        let wait = self.clock.delta_as_nanos(called, entered);
        let hold = self.clock.delta_as_nanos(entered, left);
        let index = THREAD_INDEX.with(|i| *i);
        let mut slot = self.slots[index % SLOTS].lock();
        let slot = slot.get_or_insert_with(|| Box::new(Slot::new(index)));
        if slot.first_thread != index && !slot.others.contains(&index) {
            slot.others.push(index);
        }
        let section = match kind {
            Kind::Read => &mut slot.read,
            Kind::Write => &mut slot.write,
        };
        section.record(wait, hold, wait > self.contended_ns);
    }
}

impl<S: SyncStrategy> SyncStrategy for Timed<S> {
    const NAME: &'static str = S::NAME;
    const EXCLUSIVE_WRITES: bool = S::EXCLUSIVE_WRITES;

    fn read<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        let called = self.clock.raw();
        let (result, entered, left) = self.inner.read(|| {
            let entered = self.clock.raw();
            let result = critical_section();
            (result, entered, self.clock.raw())
        });
        self.record(Kind::Read, called, entered, left);
        result
    }

    fn write<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        let called = self.clock.raw();
        let (result, entered, left) = self.inner.write(|| {
            let entered = self.clock.raw();
            let result = critical_section();
            (result, entered, self.clock.raw())
        });
        self.record(Kind::Write, called, entered, left);
        result
    }

    fn lock_snapshot(&self) -> Option<LockSnapshot> {
        Some(self.snapshot())
    }

    fn reset_lock_stats(&self) {
        self.reset();
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Read,
    Write,
}

/// The clock every timed strategy reads: `quanta`'s, the CPU's time-stamp counter where it is
/// usable (calibrated against the monotonic clock once per process), else the monotonic clock.
fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's index, taken once from a process-wide counter.
    static THREAD_INDEX: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
}

/// One thread's (or, past [`SLOTS`] threads, a few threads') figures.
struct Slot {
    /// The name of the first thread that recorded here, or `thread-<index>`.
    name: String,
    first_thread: usize,
    /// Other thread indices that share this slot.
    others: Vec<usize>,
    read: Section,
    write: Section,
}

impl Slot {
    fn new(index: usize) -> Slot {
        let name = std::thread::current().name().map_or_else(|| format!("thread-{index}"), str::to_string);
        Slot { name, first_thread: index, others: Vec::new(), read: Section::new(), write: Section::new() }
    }

    fn label(&self) -> String {
        if self.others.is_empty() {
            self.name.clone()
        } else {
            format!("{} (+{} threads sharing its slot)", self.name, self.others.len())
        }
    }
}

/// The histograms of one kind of section (read or write).
#[derive(Clone)]
struct Section {
    wait: Histogram<u64>,
    hold: Histogram<u64>,
    contended: u64,
}

impl Section {
    fn new() -> Section {
        let histogram = || Histogram::new_with_bounds(1, MAX_NS, 2).expect("valid histogram bounds");
        Section { wait: histogram(), hold: histogram(), contended: 0 }
    }

    fn record(&mut self, wait_ns: u64, hold_ns: u64, contended: bool) {
        self.wait.saturating_record(wait_ns.max(1));
        self.hold.saturating_record(hold_ns.max(1));
        self.contended += u64::from(contended);
    }

    fn merge(&mut self, other: &Section) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.wait.add(&other.wait);
        let _ = self.hold.add(&other.hold);
        self.contended += other.contended;
    }

    fn stats(&self) -> SectionStats {
        let acquisitions = self.wait.len();
        SectionStats {
            acquisitions,
            contended: self.contended,
            contended_share: if acquisitions == 0 {
                0.0
            } else {
                self.contended as f64 / acquisitions as f64
            },
            wait_ns: Quantiles::of(&self.wait),
            hold_ns: Quantiles::of(&self.hold),
        }
    }
}

fn merge_into(
    threads: &mut BTreeMap<String, (Section, Section)>,
    label: &str,
    read: &Section,
    write: &Section,
) {
    let entry = threads.entry(label.to_string()).or_insert_with(|| (Section::new(), Section::new()));
    entry.0.merge(read);
    entry.1.merge(write);
}

/// Every thread's histograms from one or more timed strategies, mergeable.
#[derive(Clone)]
pub struct LockSnapshot {
    strategy: &'static str,
    contended_ns: u64,
    /// By thread label: (read, write).
    threads: BTreeMap<String, (Section, Section)>,
}

impl LockSnapshot {
    /// Adds `other`'s figures (another topic's log, say): the same thread's go together.
    pub fn merge(&mut self, other: &LockSnapshot) {
        for (label, (read, write)) in &other.threads {
            merge_into(&mut self.threads, label, read, write);
        }
        self.contended_ns = self.contended_ns.max(other.contended_ns);
    }

    /// The figures, per thread and over all threads.
    pub fn stats(&self) -> LockStats {
        let (mut read, mut write) = (Section::new(), Section::new());
        let threads = self
            .threads
            .iter()
            .map(|(label, (r, w))| {
                read.merge(r);
                write.merge(w);
                ThreadStats { thread: label.clone(), read: r.stats(), write: w.stats() }
            })
            .collect();
        LockStats {
            strategy: self.strategy.to_string(),
            clock: "quanta::Clock::raw",
            clock_ns: calibration_clock_ns(),
            contended_above_ns: self.contended_ns,
            read: read.stats(),
            write: write.stats(),
            threads,
        }
    }
}

/// Lock statistics of one strategy in one run, ready to serialize.
#[derive(Debug, Clone, Serialize)]
pub struct LockStats {
    /// The strategy's name (`rwlock`).
    pub strategy: String,
    /// The clock the figures were taken with.
    pub clock: &'static str,
    /// What one clock read costs, measured once in this process (nanoseconds): the fastest
    /// of 20 batches of 1 000 reads, so that a batch slowed by a preemption does not count.
    pub clock_ns: f64,
    /// A wait above this (nanoseconds) counted as contended: 4 × the p99 of uncontended acquires
    /// measured in this process, clamped to [max(1 µs, two clock reads), 10 µs] (or as a test
    /// set it).
    pub contended_above_ns: u64,
    /// Read sections over all threads.
    pub read: SectionStats,
    /// Write sections over all threads.
    pub write: SectionStats,
    /// Per thread, by thread name.
    pub threads: Vec<ThreadStats>,
}

/// One thread's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadStats {
    /// The thread's name (`producer-3`), or `thread-<n>` for an unnamed thread.
    pub thread: String,
    /// Its read sections.
    pub read: SectionStats,
    /// Its write sections.
    pub write: SectionStats,
}

/// Figures for one kind of section.
#[derive(Debug, Clone, Serialize)]
pub struct SectionStats {
    /// Sections entered.
    pub acquisitions: u64,
    /// Of those, how many waited longer than the contended threshold (`contended_above_ns`).
    pub contended: u64,
    /// `contended / acquisitions` (0 when there were none).
    pub contended_share: f64,
    /// From the call to the start of the section.
    pub wait_ns: Quantiles,
    /// From the start of the section to its end.
    pub hold_ns: Quantiles,
}

/// A histogram summarized, in nanoseconds (at the histogram's 2 significant digits).
#[derive(Debug, Clone, Serialize)]
pub struct Quantiles {
    /// The sum of all values (approximately: each value at its bucket's resolution).
    pub total: u64,
    /// The mean.
    pub mean: f64,
    /// The median.
    pub p50: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The 99.9th percentile.
    pub p999: u64,
    /// The largest value.
    pub max: u64,
}

impl Quantiles {
    fn of(h: &Histogram<u64>) -> Quantiles {
        if h.is_empty() {
            return Quantiles { total: 0, mean: 0.0, p50: 0, p99: 0, p999: 0, max: 0 };
        }
        Quantiles {
            total: (h.mean() * h.len() as f64) as u64,
            mean: h.mean(),
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// What one strategy's uncontended acquire and the clock cost here, measured once.
#[derive(Clone, Copy)]
struct Calibration {
    contended_ns: u64,
}

/// Batches of clock reads timed to measure one read's cost, and the reads in each.
const CLOCK_BATCHES: u32 = 20;
const CLOCK_READS_PER_BATCH: u32 = 1_000;

/// The cost of one clock read in nanoseconds, measured once per process: the fastest of
/// [`CLOCK_BATCHES`] batches of [`CLOCK_READS_PER_BATCH`] reads (see [`clock_cost_ns`]).
fn calibration_clock_ns() -> f64 {
    static COST: OnceLock<f64> = OnceLock::new();
    *COST.get_or_init(|| {
        let clock = clock();
        let batches = (0..CLOCK_BATCHES).map(|_| {
            let start = Instant::now();
            for _ in 0..CLOCK_READS_PER_BATCH {
                std::hint::black_box(clock.raw());
            }
            start.elapsed().as_nanos() as f64 / f64::from(CLOCK_READS_PER_BATCH)
        });
        clock_cost_ns(batches)
    })
}

/// One clock read's cost from several batches' per-read means: the smallest. A batch during
/// which the thread was preempted or interrupted (the process's other threads run meanwhile)
/// only comes out slower, never faster, so the fastest batch is the read's own cost; a mean
/// over all reads would carry one preemption's milliseconds into the figure. 0 with no batch.
fn clock_cost_ns(per_read_ns: impl IntoIterator<Item = f64>) -> f64 {
    per_read_ns.into_iter().filter(|x| x.is_finite()).reduce(f64::min).unwrap_or(0.0)
}

/// The largest contended threshold (nanoseconds): four times an uncontended acquire's p99 is
/// cut to it.
pub const CONTENDED_CAP_NS: u64 = 10_000;

/// The smallest contended threshold (nanoseconds) with a clock read costing `clock_ns`: 1 µs,
/// or two clock reads when they cost more.
pub fn contended_floor_ns(clock_ns: f64) -> u64 {
    ((2.0 * clock_ns).ceil() as u64).max(1_000)
}

/// The contended threshold for `S`, measured once per strategy and process: four times the
/// 99th percentile of uncontended waits on a fresh lock, clamped to [1 µs, 10 µs].
fn calibration<S: SyncStrategy>() -> Calibration {
    static BY_NAME: OnceLock<Mutex<BTreeMap<&'static str, Calibration>>> = OnceLock::new();
    let map = BY_NAME.get_or_init(|| Mutex::new(BTreeMap::new()));
    if let Some(c) = map.lock().get(S::NAME) {
        return *c;
    }
    let clock_ns = calibration_clock_ns();
    let (lock, source) = (S::default(), clock());
    let mut waits = Histogram::<u64>::new_with_bounds(1, MAX_NS, 2).expect("valid histogram bounds");
    for i in 0..2_000 {
        let called = source.raw();
        let entered = if i % 2 == 0 { lock.write(|| source.raw()) } else { lock.read(|| source.raw()) };
        waits.saturating_record(source.delta_as_nanos(called, entered).max(1));
    }
    let floor = contended_floor_ns(clock_ns);
    let c = Calibration { contended_ns: (4 * waits.value_at_quantile(0.99)).clamp(floor, CONTENDED_CAP_NS) };
    map.lock().insert(S::NAME, c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preempted_batch_does_not_inflate_the_clock_cost() {
        // Nineteen batches at 13-16 ns a read and one that was preempted for 8 ms: its mean
        // (8 µs a read) would have made the mean of all reads 417 ns.
        let mut batches = vec![15.0, 14.2, 13.1, 16.0, 13.9];
        batches.extend(std::iter::repeat_n(14.5, 14));
        batches.insert(7, 8_000.0);
        assert_eq!(clock_cost_ns(batches.iter().copied()), 13.1);
        assert_eq!(clock_cost_ns([8_000.0, 20.0]), 20.0);
        assert_eq!(clock_cost_ns([f64::NAN, 12.0]), 12.0);
        assert_eq!(clock_cost_ns([]), 0.0);
    }

    #[test]
    fn the_measured_clock_cost_is_not_above_a_timed_uncontended_wait() {
        // Each wait is timed with two clock reads, so an uncontended wait this process measures
        // takes at least about one read: the clock's cost cannot sit far above it. HDR keeps 2
        // significant digits and a wait can be interrupted too, hence the slack; a mean inflated by preemption (hundreds of ns
        // beside waits of tens) fails this.
        let timed = Timed::<crate::MutexSync>::with_threshold(1_000);
        for _ in 0..2_000 {
            timed.write(|| ());
        }
        let stats = timed.snapshot().stats();
        let smallest = stats.write.wait_ns.p50 as f64;
        assert!(stats.clock_ns > 0.0);
        assert!(
            stats.clock_ns <= smallest * 2.0 + 20.0,
            "clock {} ns, wait p50 {smallest} ns",
            stats.clock_ns
        );
    }
}
