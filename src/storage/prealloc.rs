//! Preallocation: zero-filled space kept ready past a log's last record.
//!
//! Under `FsyncPolicy::Always`, every acknowledgement waits for an `fdatasync`, and an append
//! that makes the file longer makes that sync commit a file-system journal transaction too (the
//! new size is metadata the data cannot be read back without). So, as Kafka does with
//! `log.preallocate`, the log keeps zero-filled space ready past its last record: records
//! overwrite zeros inside the file, and a sync only has to write the data. The zeros are
//! written (not just reserved with `fallocate`, whose unwritten extents would need converting,
//! in the journal again) by whichever append first needs them. If they cannot be written (a
//! full disk), the log simply stops preallocating. Opening a log writes none. A clean close cuts
//! the file back to its last record; after a crash the zeros are still there, and the next open
//! cuts them (reported as [`Recovery::zero_tail_bytes`](super::Recovery::zero_tail_bytes)), as
//! `verify` reports them as a `torn_tail`.
//!
//! ## How much: geometric growth, capped
//!
//! The space grows geometrically ([`extent`]): a log's first extent is [`FIRST_EXTENT_BYTES`]
//! (64 KiB), and each later one is as large as the log's records so far (the file doubles),
//! capped at [`LogConfig::preallocate_bytes`](super::LogConfig::preallocate_bytes) (8 MiB by
//! default). So the zeros past a log's records are never more than the larger of 64 KiB and the
//! records' own size: a log takes at most twice its records plus 64 KiB. A fixed 8 MiB step
//! did not bound this: a client's tiny record must not cost megabytes of disk, and one 1-byte
//! message on each of `--max-topics` new topics made the broker write 8 MiB per topic, tens of
//! GB from a few kilobytes of requests. A busy log still grows by the full step once its
//! records pass it, after 8 extensions (64 KiB, 64 KiB, 128 KiB, … 4 MiB): a file-size change
//! per extension, among thousands of syncs.
//!
//! ## Preallocation's lock (a deliberate exception)
//!
//! Growing takes a small mutex of its own, inside the append, once per extension and never
//! otherwise: the fast path is one atomic load. It is kept on purpose. Zeros are only ever
//! written at or past the space already handed out, so they never land on a record *whatever
//! the strategy*: under `none`, two appenders can both find the space short, and without the
//! mutex the second could write zeros over a record the first had already placed in the space
//! it grew. Under every exclusive strategy the mutex is never contended (only one appender is
//! ever inside the write section), so it costs an uncontended acquire per extension (per 8 MiB
//! once a log is past 8 MiB). Off under `never` and `interval`, and when the step is 0.

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};

/// A log's first extent of zeros: 64 KiB (or the step, if smaller). See the module docs.
pub const FIRST_EXTENT_BYTES: u64 = 64 << 10;

/// How many zeros to write past `end`, the end of a log's records, growing in steps capped at
/// `step`: as many as the records themselves (the file doubles), at least
/// [`FIRST_EXTENT_BYTES`], at most `step`.
pub fn extent(end: u64, step: u64) -> u64 {
    end.max(FIRST_EXTENT_BYTES).min(step)
}

/// The zero-filled space past a log's records, and where a clean close cuts the file.
pub(crate) struct Preallocation {
    /// The most to grow at a time (see [`extent`]); 0 when not preallocating.
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
    /// Preallocation in extents of at most `step` bytes (0: none).
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

    /// Makes sure zero-filled space reaches past `end`: one more [`extent`] of zeros past `end`,
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
        // Looked at again under the lock: after another append's zeros failed, `from` is no
        // longer past the space handed out, and zeros written from it could land on records
        // written since (under `Reserve`, appenders write outside the section).
        if self.failed.load(Relaxed) {
            return;
        }
        let to = end + extent(end, self.step);
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

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: u64 = 8 << 20;
    const KIB: u64 = 1 << 10;

    #[test]
    fn extents_start_small_double_with_the_records_and_stop_at_the_step() {
        // The first extent: 64 KiB, whatever the first record's size below it.
        assert_eq!(extent(17, STEP), 64 * KIB);
        assert_eq!(extent(64 * KIB, STEP), 64 * KIB);
        // Then as large as the records: the file doubles.
        assert_eq!(extent(64 * KIB + 17, STEP), 64 * KIB + 17);
        assert_eq!(extent(3 << 20, STEP), 3 << 20);
        // Capped at the step.
        assert_eq!(extent(8 << 20, STEP), STEP);
        assert_eq!(extent(100 << 20, STEP), STEP);
        // A step below the first extent is the extent.
        assert_eq!(extent(17, 300), 300);
        assert_eq!(extent(1 << 20, 300), 300);
    }

    #[test]
    fn the_file_grows_from_64_kib_doubling_up_to_the_step() {
        let file = tempfile::tempfile().expect("a temporary file");
        let len = || file.metadata().expect("metadata").len();
        let prealloc = Preallocation::new(STEP);
        prealloc.ensure(&file, 17);
        assert_eq!(len(), 17 + 64 * KIB, "the first record: 64 KiB of zeros past it");
        prealloc.ensure(&file, 1000);
        assert_eq!(len(), 17 + 64 * KIB, "inside the space: nothing written");
        // Appends that reach the end of the space each double the file, until its records
        // pass the step; from then on it grows by the step.
        let first = 17 + 64 * KIB;
        let mut lens = vec![len()];
        for _ in 0..10 {
            prealloc.ensure(&file, len());
            lens.push(len());
        }
        let doubling: Vec<u64> = (0..8).map(|i| first << i).collect();
        assert_eq!(lens[..8], doubling, "{lens:?}");
        assert!(first << 7 > STEP, "by then the records are past the step");
        assert!(lens[7..].windows(2).all(|w| w[1] - w[0] == STEP), "{lens:?}");
    }
}
