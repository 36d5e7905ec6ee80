//! `none`: no synchronization at all.
//!
//! Both `read` and `write` just call the closure. That is memory-safe, because the log keeps its
//! shared state in atomics and writes with positional I/O, so nothing here is a data race. It is
//! *logically* wrong: two appends can both load the same end position and offset, then both
//! write there (see the numbered interleavings in `synclog::storage::log`). This is the
//! baseline the original system shipped as its fast-but-corrupt version.

use crate::SyncStrategy;

/// Calls every critical section directly: no exclusion, no cost, no correctness.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSync;

impl SyncStrategy for NoSync {
    const NAME: &'static str = "none";
    const EXCLUSIVE_WRITES: bool = false;

    #[inline]
    fn read<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        critical_section()
    }

    #[inline]
    fn write<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        critical_section()
    }
}
