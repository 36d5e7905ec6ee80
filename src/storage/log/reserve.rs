//! `AppendMode::Reserve`: the write section covers only the reservation.
//!
//! The shape of PostgreSQL's WAL insertion (reserve space under a short lock, copy in
//! parallel, wait for predecessors) and of Aeron's log buffers (reserve, write, publish in
//! order). An append of `n` records of `len` bytes in all:
//!
//! 1. *(write section)* load `next_offset` → `o` and `end_position` → `p`;
//! 2. *(write section; the race window is here, between the loads and the stores)* store
//!    `end_position = p + len`, then `next_offset = o + n`, and leave the section;
//! 3. fill in the offsets and CRCs, and write the records at byte `p` (one `pwrite`), in
//!    parallel with every other appender's step 3;
//! 4. wait until the publish watermark `published` reaches `o`: every record before ours is
//!    written and published (spinning briefly, then yielding);
//! 5. write the index entries due in `[o, o + n)`, in offset order because only the appender at
//!    the watermark is here;
//! 6. store `published_end = p + len`, then `published = o + n` (Release; `fetch_max`, see
//!    below) — the records are now visible to readers and to group commit; under
//!    `FsyncPolicy::Always` the append then waits for a sync as under `Whole`.
//!
//! A reader loads `published` before `published_end` (Acquire), exactly as it loads
//! `next_offset` before `end_position` under `Whole`, so it never sees a reserved range whose
//! bytes are not all written: no hole and no torn record, whatever order the writes finish in.
//! A sync covers the records below `published` as loaded before its `fdatasync`.
//!
//! Under `none`, nothing excludes step 1–2 from another appender's: two appenders can reserve
//! the same offset and bytes (the lost update and the torn log of the module docs of
//! [`log`](super), found by the checker as under `Whole`). Step 4 waits for `published >= o`
//! rather than `== o`, and step 6 only raises the watermark, so a race never deadlocks the
//! pipeline: every reserved `o` was stored as `o' + n'` by an appender that reserved `o' < o`
//! and so itself gets past step 4 and raises the watermark to `o`.
//!
//! ## The publish signal (the second deliberate exception)
//!
//! An appender in step 4 spins briefly, then parks on a condition variable that every
//! publication signals when someone is parked. With more appenders than cores, spinning (or
//! yielding) waiters took the CPU from the very predecessor they waited for: measured, 8
//! threads on this 2-core machine appended 4 to 10 times slower than under `Whole`. The condition
//! variable's mutex is the second lock on an append path besides the strategy's (after
//! preallocation's, see [`prealloc`](crate::storage::prealloc)), taken only by a parked waiter and
//! by a publisher that finds one; it guards nothing but the sleep, never log data, and it is
//! never held while the strategy's lock is.
//!
//! Still not fast enough: measured on the 2-core machine (8 threads, `mutex`, 100-byte
//! messages, a scratch program over `Log::append_batch`), batches of 100 reach 1.3–2.2 M/s
//! against 2.5–3.2 M/s under `Whole`, and single messages 0.03 M/s against 0.39–0.48 M/s:
//! every single append waits for its predecessor's wake-up, and `notify_all` wakes every parked
//! appender for each publication. The known remedies, not built yet: the appender at the
//! watermark also publishes the ranges already written after its own (so a waiter rarely has to
//! be woken at all), and waking only the appender whose turn it is.
//!
//! A failed write (step 3) leaves a range that will never be published: it poisons the log as
//! a failed sync does, and the appenders waiting behind it in step 4 return that error instead
//! of waiting forever. Neither is acknowledged; a restart's recovery cuts the log at the first
//! record that is not whole.

use super::{Log, RecordBatch};
use crate::storage::error::{IoContext, LogError};
use crate::storage::index::INDEX_INTERVAL;
use crate::storage::race::RacePoint;
use crate::strategies::SyncStrategy;
use std::os::unix::fs::FileExt;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Acquire, Release, SeqCst};

/// How many times step 4 checks the watermark before parking.
const SPINS: u32 = 200;

/// Where appenders waiting for their turn (step 4) park, and are woken by each publication.
#[derive(Default)]
pub(crate) struct PublishSignal {
    /// Appenders parked or about to park. A publisher signals only when this is non-zero: it
    /// stores `published` and then loads this, a waiter increments this and then loads
    /// `published`, all `SeqCst`, so one of the two always sees the other.
    waiters: AtomicUsize,
    lock: parking_lot::Mutex<()>,
    published: parking_lot::Condvar,
}

impl<S: SyncStrategy> Log<S> {
    /// Steps 1–6 of the module docs; returns the first record's offset once published.
    pub(super) fn append_reserved(&self, batch: &mut RecordBatch) -> Result<u64, LogError> {
        let n = batch.len() as u64;
        let record_bytes = batch.bytes().len() as u64;
        let (offset, position) = self.strategy.write(|| self.reserve_section(n, record_bytes))?; // 1–2.
        batch.assign_offsets(offset); // 3.
        self.prealloc.ensure(&self.file, position + record_bytes);
        if let Err(e) = self.file.write_all_at(batch.bytes(), position).at(&self.log_path) {
            self.durability.poison();
            return Err(e);
        }
        self.prealloc.written(position + record_bytes);
        self.config.race_window.at(RacePoint::Written { offset, position, record_bytes });
        self.wait_turn(offset)?; // 4.
        let mut due = super::index_entries_due(batch, offset, position, INDEX_INTERVAL).peekable(); // 5.
        if due.peek().is_some() {
            let mut entries = Vec::with_capacity(16);
            for entry in due {
                entries.extend_from_slice(&entry.to_bytes());
            }
            self.index.append_encoded(&entries)?;
        }
        self.published_end.fetch_max(position + record_bytes, Release); // 6.
        self.published.fetch_max(offset + n, SeqCst);
        self.signal_published();
        Ok(offset)
    }

    /// Steps 1–2: the reservation, the only part inside the strategy's write section.
    fn reserve_section(&self, n: u64, record_bytes: u64) -> Result<(u64, u64), LogError> {
        if self.durability.is_poisoned() {
            return Err(LogError::SyncFailed { path: self.log_path.clone() });
        }
        let offset = self.next_offset.load(Acquire); // 1.
        let position = self.end_position.load(Acquire);
        let Some(end_offset) = offset.checked_add(n) else {
            return Err(LogError::OffsetsExhausted { next: offset, count: n });
        };
        self.config.race_window.at(RacePoint::Loaded { offset, position, record_bytes });
        self.end_position.store(position + record_bytes, Release); // 2.
        self.next_offset.store(end_offset, Release);
        Ok((offset, position))
    }

    /// Step 4: waits until every record before `offset` is published, or the log is poisoned:
    /// a short spin, then parked on the publish signal (see "The publish signal" above).
    fn wait_turn(&self, offset: u64) -> Result<(), LogError> {
        let poisoned = || LogError::SyncFailed { path: self.log_path.clone() };
        for _ in 0..SPINS {
            if self.published.load(Acquire) >= offset {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        let signal = &self.publish_signal;
        signal.waiters.fetch_add(1, SeqCst);
        let mut parked = signal.lock.lock();
        let result = loop {
            if self.published.load(SeqCst) >= offset {
                break Ok(());
            }
            if self.durability.is_poisoned() {
                break Err(poisoned());
            }
            // Bounded, so a poisoning (which does not signal) is noticed too.
            signal.published.wait_for(&mut parked, std::time::Duration::from_millis(1));
        };
        drop(parked);
        signal.waiters.fetch_sub(1, SeqCst);
        result
    }

    /// Step 6's last part: wakes the appenders parked in step 4, if any.
    fn signal_published(&self) {
        let signal = &self.publish_signal;
        if signal.waiters.load(SeqCst) > 0 {
            let _held = signal.lock.lock();
            signal.published.notify_all();
        }
    }

    /// Offsets reserved but not yet published (under `AppendMode::Reserve`; 0 under `Whole`).
    pub fn unpublished(&self) -> u64 {
        self.next_offset.load(Acquire).saturating_sub(self.published.load(Acquire))
    }
}
