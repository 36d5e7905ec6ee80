//! `mutex`: the control. Exclusive like the semaphore, but cheap.
//!
//! Reads block reads here too, exactly as under `semaphore`. What differs is the cost: a
//! `parking_lot::Mutex` is one byte, locked with a compare-exchange and released with a store,
//! and only a contended release wakes anybody. Comparing `semaphore` with `mutex` separates
//! "reads block reads" (both do it) from "the semaphore is expensive" (only it is); comparing
//! `mutex` with `rwlock` shows what letting reads share is worth.
//!
//! Fairness: eventual fairness, as for parking_lot's RwLock: normally the lock may be barged by
//! a running thread, and after about 0.5 ms of unfair hand-overs it is handed over in FIFO order.

use crate::sync::ParkingMutex;
use crate::SyncStrategy;

/// A parking_lot mutex guarding no data (`()`): lock state only. (Under `--cfg loom`, a loom
/// mutex with the same API: see [`sync`](crate::sync).)
#[derive(Default)]
pub struct MutexSync(ParkingMutex<()>);

impl SyncStrategy for MutexSync {
    const NAME: &'static str = "mutex";

    fn read<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        let _guard = self.0.lock();
        critical_section()
    }

    fn write<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        let _guard = self.0.lock();
        critical_section()
    }
}
