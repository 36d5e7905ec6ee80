//! `rwlock`: a reader-writer lock. Reads share; writes exclude everything.
//!
//! Many consumers may scan the log at once, and a producer's append waits until they are gone
//! and then runs alone. This is the original system's third version, with `parking_lot::RwLock`:
//! the lock word is one atomic, the uncontended paths are a compare-exchange and a release, and
//! waiting threads park in a global table rather than in the lock.
//!
//! Fairness: parking_lot's RwLock is *task-fair*. Once a writer is waiting, new readers queue
//! behind it, so a steady stream of consumers cannot starve a producer. It also uses "eventual
//! fairness": a lock that has been handed over unfairly for about 0.5 ms is handed over fairly.
//!
//! On a machine with two cores, at most two readers really run at once, so the advantage over an
//! exclusive lock is small there and grows with the cores.

use crate::sync::ParkingRwLock;
use crate::SyncStrategy;

/// A parking_lot reader-writer lock guarding no data (`()`): lock state only. (Under
/// `--cfg loom`, a loom reader-writer lock with the same API: see [`sync`](crate::sync).)
#[derive(Default)]
pub struct RwLockSync(ParkingRwLock<()>);

impl SyncStrategy for RwLockSync {
    const NAME: &'static str = "rwlock";

    fn read<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        let _shared = self.0.read();
        critical_section()
    }

    fn write<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        let _exclusive = self.0.write();
        critical_section()
    }
}
