//! Model checking the strategies themselves with loom: what each one lets overlap.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release -p synclog-strategies --test loom`
//! (`scripts/loom.sh` does, with a bounded number of preemptions). Under `--cfg loom` every
//! strategy is built on loom's primitives (see `synclog_strategies::sync`), so loom sees each
//! lock and explores every interleaving of the sections below, within the preemption bound.
//!
//! Readers run on their own threads, spawned after the writers and joined last. loom's DPOR
//! compares each access only with the *last* dependent access to the same object, so a reader
//! that comes first in loom's default schedule can be left there: in `synclog`'s log model, a
//! reader on the main thread (reading before it joined the producers) saw an empty log in every
//! one of 5 312 executions. Placed last, a reader's accesses race the writes before it, and loom
//! moves it before, between and after them.
//!
//! The shared state inside the sections is loom atomics used with `Relaxed` loads and stores,
//! split on purpose like the log's counters: relaxed accesses create no happens-before edge of
//! their own, so whatever ordering the checks rely on must come from the strategy's lock.
//!
//! - writers exclude each other: two `write` sections each do `load; store(v + 1)`; the total is
//!   2 in every interleaving under a locking strategy, and loom finds the lost update under
//!   `NoSync` (a `should_panic` test, so the check is known to bite);
//! - a reader never sees half a write section: a writer stores `a = 1` then `b = 1`, a reader
//!   loads both and must see `(0, 0)` or `(1, 1)`;
//! - readers share under the reader-writer locks: two readers each wait, inside the section,
//!   until the other has arrived, which completes under `rwlock`, `std-rwlock` and `none` only
//!   because both get in; under `semaphore` and `mutex` a reader is always alone in its section
//!   (and the same check, run under `rwlock`, fails: loom does let its readers overlap).
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use synclog_strategies::sync::explore;
use synclog_strategies::{MutexSync, NoSync, RwLockSync, SemaphoreSync, StdRwLockSync, SyncStrategy};

/// Two writers each increment a counter with a split load-then-store inside `write`.
fn writers_exclude_each_other<S: SyncStrategy>() {
    explore(format!("{}: writers exclude each other", S::NAME), || {
        let strategy = Arc::new(S::default());
        let counter = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let (strategy, counter) = (Arc::clone(&strategy), Arc::clone(&counter));
                thread::spawn(move || {
                    strategy.write(|| {
                        let v = counter.load(Relaxed);
                        counter.store(v + 1, Relaxed);
                    })
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        // Joining made both writers' stores visible here; only their overlap can lose one.
        assert_eq!(counter.load(Relaxed), 2, "{}: lost update between two write sections", S::NAME);
    });
}

/// A writer stores `a = 1` then `b = 1`; a concurrent reader must see both or neither.
fn a_reader_never_sees_half_a_write_section<S: SyncStrategy>() {
    explore(format!("{}: a reader never sees half a write section", S::NAME), || {
        let strategy = Arc::new(S::default());
        let a = Arc::new(AtomicUsize::new(0));
        let b = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (strategy, a, b) = (Arc::clone(&strategy), Arc::clone(&a), Arc::clone(&b));
            thread::spawn(move || {
                strategy.write(|| {
                    a.store(1, Relaxed);
                    b.store(1, Relaxed);
                })
            })
        };
        let reader = {
            let (strategy, a, b) = (Arc::clone(&strategy), Arc::clone(&a), Arc::clone(&b));
            thread::spawn(move || strategy.read(|| (a.load(Relaxed), b.load(Relaxed))))
        };
        writer.join().expect("writer");
        let seen = reader.join().expect("reader");
        assert!(seen == (0, 0) || seen == (1, 1), "{}: reader saw half a write section: {seen:?}", S::NAME);
    });
}

/// Two readers that each wait inside `read` until both have arrived: completes only if the
/// strategy lets readers share. (Under an exclusive strategy every thread would end up blocked;
/// loom reports that as a deadlock, but its panic then aborts the test process while unwinding
/// through loom's guards, so exclusive strategies are checked by `readers_exclude_each_other`.)
fn readers_share<S: SyncStrategy>() {
    explore(format!("{}: readers share", S::NAME), || {
        let strategy = Arc::new(S::default());
        // (readers inside, signalled on each arrival): a condition variable rather than a spin,
        // so loom has no busy loop to unroll.
        let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (strategy, arrived) = (Arc::clone(&strategy), Arc::clone(&arrived));
                thread::spawn(move || {
                    strategy.read(|| {
                        let (count, changed) = &*arrived;
                        let mut inside = count.lock().expect("arrivals");
                        *inside += 1;
                        changed.notify_all();
                        while *inside < 2 {
                            inside = changed.wait(inside).expect("arrivals");
                        }
                    })
                })
            })
            .collect();
        for r in readers {
            r.join().expect("reader");
        }
    });
}

/// Two readers, each checking inside `read` that it is alone there.
fn readers_exclude_each_other<S: SyncStrategy>() {
    explore(format!("{}: readers exclude each other", S::NAME), || {
        let strategy = Arc::new(S::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (strategy, inside) = (Arc::clone(&strategy), Arc::clone(&inside));
                thread::spawn(move || {
                    strategy.read(|| {
                        let others = inside.fetch_add(1, SeqCst);
                        assert_eq!(others, 0, "{}: two readers inside at once", S::NAME);
                        inside.fetch_sub(1, SeqCst);
                    })
                })
            })
            .collect();
        for r in readers {
            r.join().expect("reader");
        }
    });
}

#[test]
fn semaphore_writers_exclude_each_other() {
    writers_exclude_each_other::<SemaphoreSync>();
}

#[test]
fn rwlock_writers_exclude_each_other() {
    writers_exclude_each_other::<RwLockSync>();
}

#[test]
fn mutex_writers_exclude_each_other() {
    writers_exclude_each_other::<MutexSync>();
}

#[test]
fn std_rwlock_writers_exclude_each_other() {
    writers_exclude_each_other::<StdRwLockSync>();
}

#[test]
#[should_panic(expected = "lost update")]
fn none_loses_an_update_between_writers() {
    writers_exclude_each_other::<NoSync>();
}

#[test]
fn semaphore_readers_never_see_half_a_write() {
    a_reader_never_sees_half_a_write_section::<SemaphoreSync>();
}

#[test]
fn rwlock_readers_never_see_half_a_write() {
    a_reader_never_sees_half_a_write_section::<RwLockSync>();
}

#[test]
fn mutex_readers_never_see_half_a_write() {
    a_reader_never_sees_half_a_write_section::<MutexSync>();
}

#[test]
fn std_rwlock_readers_never_see_half_a_write() {
    a_reader_never_sees_half_a_write_section::<StdRwLockSync>();
}

#[test]
#[should_panic(expected = "half a write section")]
fn none_lets_a_reader_see_half_a_write() {
    a_reader_never_sees_half_a_write_section::<NoSync>();
}

#[test]
fn rwlock_readers_share() {
    readers_share::<RwLockSync>();
}

#[test]
fn std_rwlock_readers_share() {
    readers_share::<StdRwLockSync>();
}

#[test]
fn none_readers_share() {
    readers_share::<NoSync>();
}

#[test]
fn semaphore_readers_exclude_each_other() {
    readers_exclude_each_other::<SemaphoreSync>();
}

#[test]
fn mutex_readers_exclude_each_other() {
    readers_exclude_each_other::<MutexSync>();
}

/// The exclusion check above bites: under a reader-writer lock loom finds both readers inside.
#[test]
#[should_panic(expected = "two readers inside at once")]
fn rwlock_readers_are_not_excluded() {
    readers_exclude_each_other::<RwLockSync>();
}
