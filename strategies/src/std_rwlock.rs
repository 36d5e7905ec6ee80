//! `std-rwlock`: the standard library's reader-writer lock, for comparison with parking_lot's.
//!
//! On Linux, `std::sync::RwLock` is a futex-based lock in the standard library itself. Its
//! policy prefers writers: once a writer waits, new readers block, so writers are not starved,
//! and unlike parking_lot it never hands the lock over in FIFO order. It is also *poisoning*: a
//! panic inside a section marks the lock poisoned. The lock guards no data here (`()`), so a
//! poisoned lock protects nothing that could be half-updated, and this strategy ignores poison.

use crate::sync::StdRwLock;
use crate::SyncStrategy;

/// A `std::sync::RwLock` guarding no data (`()`): lock state only. (Under `--cfg loom`,
/// `loom::sync::RwLock`: see [`sync`](crate::sync).)
#[derive(Default)]
pub struct StdRwLockSync(StdRwLock<()>);

impl SyncStrategy for StdRwLockSync {
    const NAME: &'static str = "std-rwlock";

    fn read<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        // The lock holds `()`, so poisoning carries no meaning: take the guard either way.
        let _shared = self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        critical_section()
    }

    fn write<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        let _exclusive = self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        critical_section()
    }
}
