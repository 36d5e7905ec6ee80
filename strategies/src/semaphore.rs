//! `semaphore`: one permit, taken by readers and writers alike.
//!
//! This is the original system's safe version: a counting semaphore created with a single
//! permit. Every section, read or write, calls `access()`, which blocks until the permit is free
//! and hands back an RAII guard that returns it on drop. With one permit the semaphore is a
//! mutual-exclusion lock, so it is correct, but **reads block reads**: a consumer scanning the
//! log holds up every other consumer, although none of them changes anything.
//!
//! Fairness: `std_semaphore::Semaphore` is a `std::sync::Mutex<isize>` plus a `Condvar`. A
//! release increments the count and calls `notify_one`; which waiter wins is up to the OS
//! scheduler, so there is no FIFO order and no writer preference. Cost: the release signals the
//! condition variable every time, a system call even when nobody waits, which is why this
//! strategy is slower than `mutex` even without contention.

use crate::sync::Semaphore;
use crate::SyncStrategy;

/// A semaphore with exactly one permit. Invariant: the permit count is 1 when no section runs
/// and 0 while one does; it never goes below 0 because every `access()` waits for the permit.
/// (Under `--cfg loom`, the same algorithm on loom's `Mutex` and `Condvar`: see
/// [`sync`](crate::sync).)
pub struct SemaphoreSync(Semaphore);

impl Default for SemaphoreSync {
    fn default() -> Self {
        // One permit: at most one section of any kind at a time.
        SemaphoreSync(Semaphore::new(1))
    }
}

impl SyncStrategy for SemaphoreSync {
    const NAME: &'static str = "semaphore";

    fn read<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        // Readers take the same single permit as writers: this is what makes reads block reads.
        let _permit = self.0.access();
        critical_section()
    }

    fn write<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        let _permit = self.0.access();
        critical_section()
    }
}
