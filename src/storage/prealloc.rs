//! Preallocation: zero-filled space kept ready past a log's last record.
//!
//! Under `FsyncPolicy::Always`, every acknowledgement waits for an `fdatasync`, and an append
//! that makes the file longer makes that sync commit a file-system journal transaction too (the
//! new size is metadata the data cannot be read back without). So, as Kafka does with
//! `log.preallocate`, the log keeps zero-filled space ready past its last record
//! ([`LogConfig::preallocate_bytes`](super::LogConfig::preallocate_bytes), 8 MiB at a time):
//! records overwrite zeros inside the file, and a sync only has to write the data. The zeros are
//! written (not just reserved with `fallocate`, whose unwritten extents would need converting,
//! in the journal again) by whichever append first needs them. If they cannot be written (a
//! full disk), the log simply stops preallocating. Opening a log writes none. A clean close cuts
//! the file back to its last record; after a crash the zeros are still there, and the next open
//! cuts them (reported as [`Recovery::zero_tail_bytes`](super::Recovery::zero_tail_bytes)), as
//! `verify` reports them as a `torn_tail`.
//!
//! ## The one lock besides the strategy's (a deliberate exception)
//!
//! Growing takes a small mutex of its own, inside the append, once per step (8 MiB) and never
//! otherwise: the fast path is one atomic load. It is kept on purpose. Zeros are only ever
//! written at or past the space already handed out, so they never land on a record *whatever
//! the strategy*: under `none`, two appenders can both find the space short, and without the
//! mutex the second could write zeros over a record the first had already placed in the space
//! it grew. Under every exclusive strategy the mutex is never contended (only one appender is
//! ever inside the write section), so it costs an uncontended acquire per 8 MiB. Off under
//! `never` and `interval`, and when the step is 0.

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};

/// The zero-filled space past a log's records, and where a clean close cuts the file.
pub(crate) struct Preallocation {
    /// How much to grow at a time; 0 when not preallocating.
    step: u64,
    /// The file's length: zeros past the records when preallocating, else unused.
    allocated_end: AtomicU64,
    /// Serializes growing (see the module docs).
    grow: parking_lot::Mutex<()>,
    /// The end of the furthest record ever written (`fetch_max`), where a clean close cuts the
    /// zeros: under `none`, the log's end position can move backwards past a record.
    written_end: AtomicU64,
    /// Set when writing zeros failed (a full disk, say): the log goes on without preallocating.
    failed: AtomicBool,
}

impl Preallocation {
    /// Preallocation in steps of `step` bytes (0: none).
    pub(crate) fn new(step: u64) -> Self {
        Preallocation {
            step,
            allocated_end: AtomicU64::new(0),
            grow: parking_lot::Mutex::new(()),
            written_end: AtomicU64::new(0),
            failed: AtomicBool::new(false),
        }
    }

    /// Whether this log preallocates at all.
    pub(crate) fn enabled(&self) -> bool {
        self.step > 0
    }

    /// After recovery: the records end at `end`, and so does the file.
    pub(crate) fn recovered(&self, end: u64) {
        self.written_end.store(end, Release);
        self.allocated_end.store(end, Release);
    }

    /// Makes sure zero-filled space reaches past `end`: one more step of zeros past `end`,
    /// written only at or past the space already handed out. Preallocation only makes syncs
    /// cheaper, so if the zeros cannot be written the log stops preallocating and the append
    /// goes on as it would without it.
    pub(crate) fn ensure(&self, file: &File, end: u64) {
        if self.step == 0 || end < self.allocated_end.load(Acquire) || self.failed.load(Relaxed) {
            return;
        }
        use std::os::unix::fs::FileExt;
        let _grow = self.grow.lock();
        let from = self.allocated_end.load(Acquire);
        if end < from {
            return; // another append grew it meanwhile
        }
        let to = end + self.step;
        let zeros = vec![0u8; (to - from) as usize];
        match file.write_all_at(&zeros, from) {
            Ok(()) => self.allocated_end.store(to, Release),
            Err(_) => self.failed.store(true, Relaxed),
        }
    }

    /// A record now ends at `end`.
    pub(crate) fn written(&self, end: u64) {
        if self.step > 0 {
            self.written_end.fetch_max(end, Release);
        }
    }

    /// Where a clean close cuts the file, given the log's end position: past every record ever
    /// written. `None` when not preallocating (nothing to cut).
    pub(crate) fn close_at(&self, end_position: u64) -> Option<u64> {
        self.enabled().then(|| self.written_end.load(Acquire).max(end_position))
    }
}
