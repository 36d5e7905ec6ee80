//! The primitives the strategies are built from, chosen once by `cfg(loom)`.
//!
//! A model checker can only check what it can see. [loom] explores every interleaving of a
//! small concurrent program, but only of the operations that go through *its* types: a
//! `parking_lot` lock or a `std_semaphore::Semaphore` is invisible to it, so a strategy built on
//! them would look to loom like no synchronization at all. This module is the one switch:
//!
//! | name here                           | normal build                   | `--cfg loom`                   |
//! |-------------------------------------|--------------------------------|--------------------------------|
//! | [`ParkingMutex`], [`ParkingRwLock`] | `parking_lot::{Mutex, RwLock}` | loom's, with parking_lot's API |
//! | [`StdRwLock`]                       | `std::sync::RwLock`            | `loom::sync::RwLock`           |
//! | [`Semaphore`]                       | `std_semaphore::Semaphore`     | its algorithm on loom's types  |
//! | [`Mutex`], [`Condvar`], [`atomic`]  | `std::sync`                    | `loom::sync`                   |
//!
//! A normal build re-exports the real types, from the crates the strategies always used:
//! nothing is wrapped, nothing costs more, nothing behaves differently. Under `--cfg loom`
//! (never a feature, so it cannot leak into a normal build through feature unification) every
//! strategy is built on loom's primitives, and `synclog`'s loom model of the log takes its
//! atomics from [`atomic`] here, so the strategies and the log switch together.
//!
//! What loom checks is the *exclusion* each strategy promises (which sections may overlap) and
//! the happens-before edges its locks create. What it does not model is each real lock's
//! fairness: parking_lot's task-fair queue, std's writer preference and the semaphore's
//! OS-chosen wake-up order all become "loom may schedule any runnable thread". Exclusion is what
//! the log's correctness rests on; fairness only moves latency.
//!
//! Under `--cfg loom` the module also has `explore`, which runs a loom model and prints how
//! many interleavings it explored (both crates' `tests/loom.rs` use it).
//!
//! [loom]: https://docs.rs/loom

/// Atomics: `std::sync::atomic`, or `loom::sync::atomic` under `--cfg loom`.
#[cfg(loom)]
pub use loom::sync::atomic;
/// Atomics: `std::sync::atomic`, or `loom::sync::atomic` under `--cfg loom`.
#[cfg(not(loom))]
pub use std::sync::atomic;

#[cfg(loom)]
pub use loom::sync::{Condvar, Mutex, RwLock as StdRwLock};
#[cfg(not(loom))]
pub use std::sync::{Condvar, Mutex, RwLock as StdRwLock};

#[cfg(loom)]
pub use loom_parking::{ParkingMutex, ParkingRwLock};
#[cfg(not(loom))]
pub use parking_lot::{Mutex as ParkingMutex, RwLock as ParkingRwLock};

#[cfg(loom)]
pub use loom_semaphore::{Semaphore, SemaphoreGuard};
#[cfg(not(loom))]
pub use std_semaphore::Semaphore;

/// parking_lot's API (guards returned directly, no poisoning) over loom's locks, so the
/// `rwlock` and `mutex` strategies read the same under both builds.
#[cfg(loom)]
mod loom_parking {
    use loom::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

    /// `parking_lot::Mutex` as loom sees it: a loom `Mutex` that ignores poison.
    #[derive(Debug, Default)]
    pub struct ParkingMutex<T>(Mutex<T>);

    impl<T> ParkingMutex<T> {
        /// Blocks until the lock is free, then holds it until the guard drops.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            // parking_lot does not poison; a panicking section just releases the lock.
            self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }

    /// `parking_lot::RwLock` as loom sees it: a loom `RwLock` that ignores poison. Readers
    /// share and writers exclude, as in parking_lot; parking_lot's task-fair queue (a waiting
    /// writer holds back new readers) is not modelled.
    #[derive(Debug, Default)]
    pub struct ParkingRwLock<T>(RwLock<T>);

    impl<T> ParkingRwLock<T> {
        /// Shared access: blocks only while a writer holds the lock.
        pub fn read(&self) -> RwLockReadGuard<'_, T> {
            self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        /// Exclusive access: blocks while anybody holds the lock.
        pub fn write(&self) -> RwLockWriteGuard<'_, T> {
            self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }
}

/// `std_semaphore::Semaphore`, line for line, on loom's `Mutex` and `Condvar`.
///
/// `std-semaphore` 0.1 is the standard library's old semaphore: a `Mutex<isize>` count and a
/// `Condvar`. `acquire` waits while the count is ≤ 0 and then decrements it; `release`
/// increments it and calls `notify_one`. The same steps here, on loom's types, give loom the
/// semaphore's real synchronization: the count's mutex is the happens-before edge between one
/// section and the next, and a release wakes one waiter, whichever loom picks.
#[cfg(loom)]
mod loom_semaphore {
    use loom::sync::{Condvar, Mutex};

    /// A counting semaphore. Invariant: `count` is the number of free permits; it is never
    /// decremented below 0, because `acquire` waits until it is positive.
    #[derive(Debug)]
    pub struct Semaphore {
        count: Mutex<isize>,
        available: Condvar,
    }

    /// Holds one permit; returns it on drop (RAII, like `std_semaphore::SemaphoreGuard`).
    #[derive(Debug)]
    pub struct SemaphoreGuard<'a> {
        semaphore: &'a Semaphore,
    }

    impl Semaphore {
        /// A semaphore with `count` permits.
        pub fn new(count: isize) -> Semaphore {
            Semaphore { count: Mutex::new(count), available: Condvar::new() }
        }

        /// Waits for a permit and takes it.
        pub fn acquire(&self) {
            let mut count = self.count.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // A loop, not an `if`: another thread may take the permit between the notify and
            // this thread's wake-up.
            while *count <= 0 {
                count = self.available.wait(count).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            *count -= 1;
        }

        /// Returns a permit and wakes one waiter.
        pub fn release(&self) {
            *self.count.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += 1;
            self.available.notify_one();
        }

        /// Takes a permit for as long as the guard lives.
        pub fn access(&self) -> SemaphoreGuard<'_> {
            self.acquire();
            SemaphoreGuard { semaphore: self }
        }
    }

    impl Drop for SemaphoreGuard<'_> {
        fn drop(&mut self) {
            self.semaphore.release();
        }
    }
}

/// Runs `body` under [`loom::model`] with every interleaving loom's bounds allow, and prints
/// how many it explored (`loom: NAME: N interleavings …`, also when a check fails and unwinds,
/// so a `should_panic` test reports how far it had to look). Returns the count.
///
/// The preemption bound comes from `LOOM_MAX_PREEMPTIONS`, as in plain `loom::model`; if that
/// is unset it defaults to [`DEFAULT_MAX_PREEMPTIONS`], because an unbounded search of even
/// three threads can run for hours. The other `LOOM_*` variables work as loom documents them.
#[cfg(loom)]
pub fn explore(name: impl Into<String>, body: impl Fn() + Sync + Send + 'static) -> usize {
    explore_bounded(name, usize::MAX, body)
}

/// [`explore`] with the preemption bound held at or below `max_preemptions`, for a model whose
/// search at the usual bound runs too long to repeat on every test run (four threads: three
/// producers and a reader take over ten minutes at bound 3, two and a half at bound 2).
#[cfg(loom)]
pub fn explore_bounded(
    name: impl Into<String>,
    max_preemptions: usize,
    body: impl Fn() + Sync + Send + 'static,
) -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;

    /// Prints the count when dropped: after the search, or while a failed check unwinds.
    struct Report {
        name: String,
        bound: Option<usize>,
        iterations: Arc<AtomicUsize>,
    }
    impl Drop for Report {
        fn drop(&mut self) {
            let n = self.iterations.load(Relaxed);
            let bound = self.bound.map_or("none".to_string(), |b| b.to_string());
            let outcome = if std::thread::panicking() { "until a check failed" } else { "all passed" };
            let plural = if n == 1 { "" } else { "s" };
            eprintln!(
                "loom: {}: {n} interleaving{plural} explored, {outcome} (preemption bound {bound})",
                self.name
            );
        }
    }

    let mut builder = loom::model::Builder::new();
    builder.preemption_bound =
        Some(builder.preemption_bound.unwrap_or(DEFAULT_MAX_PREEMPTIONS).min(max_preemptions));
    // Counted outside loom (a std atomic): the count is about the search, not part of it.
    let iterations = Arc::new(AtomicUsize::new(0));
    let report =
        Report { name: name.into(), bound: builder.preemption_bound, iterations: Arc::clone(&iterations) };
    builder.check(move || {
        iterations.fetch_add(1, Relaxed);
        body();
    });
    let n = report.iterations.load(Relaxed);
    drop(report);
    n
}

/// The preemption bound [`explore`] uses when `LOOM_MAX_PREEMPTIONS` is unset.
#[cfg(loom)]
pub const DEFAULT_MAX_PREEMPTIONS: usize = 3;
