//! How synclog guards its critical sections.
//!
//! A commit log has two kinds of critical section: a *write* section (an append: read the next
//! offset and the end position, write the record, publish the new end and offset) and a *read*
//! section (a fetch: find a position through the index, read records up to the end). A
//! [`SyncStrategy`] decides how those sections may overlap. It holds **lock state only, never
//! data**: the log owns its files and counters, and this crate knows nothing about logs. That
//! split (lock_api's rule) is enforced by the compiler: this crate cannot see a log.
//!
//! | CLI name     | type              | reads vs reads | reads vs writes | writes vs writes |
//! |--------------|-------------------|----------------|-----------------|------------------|
//! | `none`       | [`NoSync`]        | overlap        | overlap (!)     | overlap (!)      |
//! | `semaphore`  | [`SemaphoreSync`] | exclude        | exclude         | exclude          |
//! | `rwlock`     | [`RwLockSync`]    | overlap        | exclude         | exclude          |
//! | `mutex`      | [`MutexSync`]     | exclude        | exclude         | exclude          |
//! | `std-rwlock` | [`StdRwLockSync`] | overlap        | exclude         | exclude          |
//!
//! Critical sections are closures (`strategy.write(|| { … })`) rather than guards: the section
//! is visible in the source, there is no guard to drop by mistake (`let _ = lock.write();`
//! releases at once), and the trait needs no generic associated types. The trait is not
//! object-safe on purpose: `Log<S>` is generic, every strategy is monomorphized, and a program
//! chooses once through [`StrategyKind::visit`].
//!
//! Costs, measured on a 2-core machine (uncontended acquire + release): a parking_lot lock is an
//! atomic compare-exchange and a release store, a few nanoseconds; `std-semaphore` takes a
//! `std::sync::Mutex` *and* signals a `Condvar` on every release, a system call even when nobody
//! waits (hundreds of nanoseconds). `cargo bench --bench append -- section/` measures every strategy.
//!
//! Timing: [`Timed<S>`](timed::Timed) wraps any strategy and records, per thread, how long
//! callers waited for and held its sections (see [`timed`]); off, nothing of it runs.
//!
//! Model checking: built with `RUSTFLAGS="--cfg loom"`, every strategy is made of loom's
//! primitives instead (the switch is the [`sync`] module), so `tests/loom.rs` here and in
//! `synclog` can let loom explore the interleavings of sections under each strategy
//! (`scripts/loom.sh` runs them). A normal build is untouched by this.

#![forbid(unsafe_code)]

mod kind;
mod mutex;
mod none;
mod rwlock;
mod semaphore;
mod std_rwlock;
pub mod sync;
pub mod timed;

pub use kind::{StrategyKind, StrategyVisitor};
pub use mutex::MutexSync;
pub use none::NoSync;
pub use rwlock::RwLockSync;
pub use semaphore::SemaphoreSync;
pub use std_rwlock::StdRwLockSync;
pub use timed::{LockSnapshot, LockStats, Quantiles, SectionStats, ThreadStats, Timed};

/// How the log guards its critical sections. Holds lock state only, never the data.
///
/// `read` runs a section that only observes shared state; `write` runs one that changes it. A
/// strategy promises some exclusion between sections (see the table in the crate docs); `NoSync`
/// promises none, which is memory-safe (the log's state is atomics and positional file I/O) but
/// logically wrong.
pub trait SyncStrategy: Default + Send + Sync + 'static {
    /// The name used on the command line and in reports (`rwlock`, `semaphore`, …).
    const NAME: &'static str;

    /// Does this strategy keep two write sections from overlapping? `false` only for `NoSync`.
    const EXCLUSIVE_WRITES: bool = true;

    /// Runs `critical_section` as a reader: it may overlap other readers if the strategy allows.
    fn read<R>(&self, critical_section: impl FnOnce() -> R) -> R;

    /// Runs `critical_section` as a writer: under every strategy but `NoSync`, nothing else runs
    /// inside a section of the same strategy value meanwhile.
    fn write<R>(&self, critical_section: impl FnOnce() -> R) -> R;

    /// The lock statistics recorded so far: `Some` only for a [`Timed`] strategy.
    fn lock_snapshot(&self) -> Option<LockSnapshot> {
        None
    }

    /// Forgets the lock statistics recorded so far (after a warm-up, say); nothing untimed.
    fn reset_lock_stats(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Barrier;
    use std::thread;
    use std::time::Duration;

    /// Counts how many threads are inside a section at once; returns the highest count seen.
    fn max_concurrency<S: SyncStrategy>(readers: usize, writers: usize, rounds: usize) -> usize {
        let strategy = S::default();
        let inside = AtomicUsize::new(0);
        let writers_inside = AtomicUsize::new(0);
        let max_seen = AtomicUsize::new(0);
        let overlap_with_writer = AtomicUsize::new(0);
        let start = Barrier::new(readers + writers);
        thread::scope(|s| {
            for i in 0..readers + writers {
                let is_writer = i < writers;
                let (strategy, inside, writers_inside, max_seen, overlap, start) =
                    (&strategy, &inside, &writers_inside, &max_seen, &overlap_with_writer, &start);
                s.spawn(move || {
                    start.wait();
                    for _ in 0..rounds {
                        let body = || {
                            let now = inside.fetch_add(1, SeqCst) + 1;
                            if is_writer {
                                writers_inside.fetch_add(1, SeqCst);
                            }
                            max_seen.fetch_max(now, SeqCst);
                            // Stay inside long enough that overlaps happen if they are allowed.
                            thread::sleep(Duration::from_micros(200));
                            if writers_inside.load(SeqCst) > 0 && inside.load(SeqCst) > 1 {
                                overlap.fetch_add(1, SeqCst);
                            }
                            if is_writer {
                                writers_inside.fetch_sub(1, SeqCst);
                            }
                            inside.fetch_sub(1, SeqCst);
                        };
                        if is_writer {
                            strategy.write(body)
                        } else {
                            strategy.read(body)
                        }
                    }
                });
            }
        });
        if S::EXCLUSIVE_WRITES {
            assert_eq!(
                overlap_with_writer.load(SeqCst),
                0,
                "{}: a writer overlapped another section",
                S::NAME
            );
        }
        max_seen.load(SeqCst)
    }

    #[test]
    fn exclusive_strategies_never_overlap_any_sections() {
        assert_eq!(max_concurrency::<SemaphoreSync>(3, 2, 20), 1);
        assert_eq!(max_concurrency::<MutexSync>(3, 2, 20), 1);
    }

    #[test]
    fn reader_writer_locks_exclude_writers_from_everything() {
        // Writers alone: never more than one inside.
        assert_eq!(max_concurrency::<RwLockSync>(0, 4, 20), 1);
        assert_eq!(max_concurrency::<StdRwLockSync>(0, 4, 20), 1);
        // Mixed: the assertion inside `max_concurrency` checks no writer overlapped anything.
        max_concurrency::<RwLockSync>(3, 2, 20);
        max_concurrency::<StdRwLockSync>(3, 2, 20);
    }

    /// Readers that hold the section until a second reader has arrived: only possible if the
    /// strategy lets readers share. A bounded wait keeps the exclusive strategies from hanging.
    fn readers_can_share<S: SyncStrategy>() -> bool {
        let strategy = S::default();
        let arrived = AtomicUsize::new(0);
        let shared = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    strategy.read(|| {
                        arrived.fetch_add(1, SeqCst);
                        // Wait (bounded) for the other reader to be inside too.
                        for _ in 0..200 {
                            if arrived.load(SeqCst) == 2 {
                                shared.fetch_add(1, SeqCst);
                                break;
                            }
                            thread::sleep(Duration::from_millis(1));
                        }
                    })
                });
            }
        });
        shared.load(SeqCst) == 2
    }

    #[test]
    fn reads_share_under_reader_writer_locks_and_none() {
        assert!(readers_can_share::<RwLockSync>());
        assert!(readers_can_share::<StdRwLockSync>());
        assert!(readers_can_share::<NoSync>());
    }

    #[test]
    fn reads_block_reads_under_semaphore_and_mutex() {
        assert!(!readers_can_share::<SemaphoreSync>());
        assert!(!readers_can_share::<MutexSync>());
    }

    #[test]
    fn no_sync_lets_writers_overlap() {
        // Two writers that each wait (bounded) for the other inside the section: both see the
        // other only if writes overlap.
        let strategy = NoSync;
        let inside = AtomicUsize::new(0);
        let saw_other = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    strategy.write(|| {
                        inside.fetch_add(1, SeqCst);
                        for _ in 0..2000 {
                            if inside.load(SeqCst) == 2 {
                                saw_other.fetch_add(1, SeqCst);
                                break;
                            }
                            thread::sleep(Duration::from_millis(1));
                        }
                    })
                });
            }
        });
        assert_eq!(saw_other.load(SeqCst), 2);
    }

    #[test]
    fn sections_return_their_value_and_can_nest_across_strategies() {
        let a = RwLockSync::default();
        let b = SemaphoreSync::default();
        assert_eq!(a.write(|| b.read(|| 7)), 7);
        assert_eq!(a.read(|| a.read(|| 8)), 8);
    }

    #[test]
    fn a_panicking_section_releases_the_lock() {
        fn check<S: SyncStrategy>() {
            let s = S::default();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                s.write(|| panic!("boom"));
            }));
            assert!(r.is_err());
            // If the lock leaked, this would hang; the test harness would time out.
            assert_eq!(s.write(|| 1), 1, "{}", S::NAME);
            assert_eq!(s.read(|| 2), 2, "{}", S::NAME);
        }
        check::<SemaphoreSync>();
        check::<RwLockSync>();
        check::<MutexSync>();
        check::<StdRwLockSync>();
    }
}
