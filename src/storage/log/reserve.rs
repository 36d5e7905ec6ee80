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
//!    parallel with every other appender's step 3; encode the index entries due in `[o, o + n)`;
//! 4. *(publish lock)* add the written range to the list of ranges written but not published;
//! 5. *(publish lock, still held)* publish: while some listed range starts at or below the
//!    watermark `published`, take the lowest, write its index entries, store
//!    `published_end = max(published_end, its end)`, then `published = max(published, its
//!    o + n)` (Release, then `SeqCst`); leave the lock and wake the appenders parked in step 6;
//! 6. wait until `published ≥ o + n` — published in step 5 by this appender, or by the one that
//!    published its predecessor (yielding the processor a few times, then parked); under
//!    `FsyncPolicy::Always` the append then waits for a sync as under `Whole`.
//!
//! Whoever holds the publish lock is the only publisher, so index entries are written and the
//! watermark raised in offset order. An appender whose predecessor is still writing does not
//! wait to publish its own range: it leaves it on the list, and the predecessor, once written,
//! publishes both. So a late appender (preempted between steps 2 and 4, say) holds the others up
//! only until it runs again, and its successors need no wake-up to publish, only to return.
//!
//! A reader loads `published` before `published_end` (Acquire), exactly as it loads
//! `next_offset` before `end_position` under `Whole`, so it never sees a reserved range whose
//! bytes are not all written: no hole and no torn record, whatever order the writes finish in.
//! A sync covers the records below `published` as loaded before its `fdatasync`.
//!
//! Under `none`, nothing excludes step 1–2 from another appender's: two appenders can reserve
//! the same offset and bytes (the lost update and the torn log of the module docs of
//! [`log`](super), found by the checker as under `Whole`). Step 5 publishes any range starting at
//! or below the watermark, not only at it, and only raises the watermark, so a race never
//! deadlocks the pipeline: every reserved `o` was stored as `o' + n'` by an appender that
//! reserved `o' < o`, whose range raises the watermark to `o` once published.
//!
//! ## The publish lock and the publish signal (deliberate exceptions)
//!
//! Two locks besides the strategy's sit on this path (after preallocation's, see
//! [`prealloc`](crate::storage::prealloc)); an append never holds either while it holds the
//! strategy's lock (only the cut after a failed sync holds the publish lock while it takes the
//! strategy's, and nothing takes them in the other order).
//! The publish lock (a mutex over the list of written ranges) is taken once per append, for a
//! few loads and stores and, every `INDEX_INTERVAL` records, an index write: it orders the
//! publications. The signal (a condition variable and its mutex) guards nothing but the sleep of
//! step 6: an appender whose range someone else must publish yields the processor up to
//! [`YIELDS`] times, then parks, and a publisher signals only when its `SeqCst` load of the
//! waiter count finds one parked.
//!
//! Why yield rather than spin: with more appenders than cores, the predecessor a waiter waits
//! for is most often not running, and a spin burns the very processor it needs; a yield hands
//! it over, and the wait ends as soon as the predecessor has written. Measured on the 2-core
//! machine (`cargo bench --bench append -- 'append/(raw-pwrite|reserve-single/mutex)/8$'`, four
//! alternating rounds): single messages reached 0.54–0.67 of the raw parallel `pwrite` rate
//! with a spin of 200 `spin_loop` hints before parking, 0.85–1.15 with 100 yields; and
//! `harness --transport inproc --producers 8 --consumers 0 --append reserve` went from 0.57–0.58 M
//! to 0.85–0.87 M messages/s (two alternating pairs).
//!
//! Why the list: an earlier version had each appender wait in turn for the watermark to reach its
//! own offset and then publish only its own range. With more appenders than cores every
//! publication then waited for its predecessor's wake-up, one after another: measured on the
//! 2-core machine (8 threads, `mutex`, 100-byte messages), single messages reached 0.03 M/s
//! against 0.4–0.5 M/s under `Whole`. With the list a woken appender has nothing left to do but
//! return (`harness --transport inproc --producers 8 --consumers 0 --append reserve`).
//!
//! A failed write (step 3) or index write (step 5) leaves a range that will never be
//! published: the log refuses appends from then on (until a restart), and the appenders waiting
//! behind it in step 6 return an error instead of waiting forever. Neither is acknowledged; a
//! restart's recovery cuts the log at the first record that is not whole. Unlike a failed sync
//! it does not stop syncs: the records published before it are whole, and under `always` are
//! still synced and acknowledged. A waiting appender that finds the log refusing appends does
//! not give up at once, though: an appender ahead of it, reserved before the failed
//! one, may still be writing, and would then publish it. From its reservation to the end of its
//! step 5 an appender is counted (inside the write section, so every appender ahead of a waiter
//! was counted before the waiter reserved); the waiter waits for the count to be zero, after
//! which every range that will ever be published is, and returns success if its own is among
//! them. So no producer is told an append failed whose record readers get, and a restart keeps
//! (under `always`, an append also counts as durable once a sync covered it, even if a later
//! sync failed before it looked). `tests/loom.rs` model-checks this with a failing write and two
//! other appenders under `mutex` (the model's, in `storage/model/reserve.rs`).
//!
//! A failed sync poisons the log and cuts it back to its last durable record (see
//! `Log::cut_to_durable`). Appenders that reserved before the poison may still be in step 3,
//! outside the write section: the cut first waits, outside the section too, until the count of
//! appenders between step 2 and the end of step 5 is zero (after an empty write section, so that a
//! reserver inside it has counted itself; later ones find the poison), then takes the publish
//! lock and cuts inside the section; from then on step 4 refuses a range at or past the cut
//! (under a locking strategy every appender ahead has passed step 5 by then; under `none` one
//! may not have). So no record is written past the cut and none is published after it: a
//! reader and a restart find only the durable records; a waiter published before the cut but
//! past the durable offset is told it failed. (A failed write cuts nothing: the ranges written
//! before it are still published, as they are whole on disk.)
//! `tests/loom.rs` model-checks this cut with two appenders under `mutex` (the model's, in
//! `storage/model/cut.rs`, mirrors it step for step).

use super::{Log, RecordBatch};
use crate::storage::error::{IoContext, LogError};
use crate::storage::index::INDEX_INTERVAL;
use crate::storage::race::RacePoint;
use crate::strategies::SyncStrategy;
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering::{Acquire, Release, SeqCst};
use std::sync::atomic::{AtomicU64, AtomicUsize};

/// How many times step 6 checks the watermark, yielding the processor after each look,
/// before parking.
const YIELDS: u32 = 100;

/// The list of written ranges (steps 4–5), and where appenders waiting for theirs to be
/// published (step 6) park, woken by each publication.
pub(crate) struct PublishSignal {
    /// Appenders parked or about to park. A publisher signals only when this is non-zero: it
    /// stores `published` and then loads this, a waiter increments this and then loads
    /// `published`, all `SeqCst`, so one of the two always sees the other.
    waiters: AtomicUsize,
    lock: parking_lot::Mutex<()>,
    published: parking_lot::Condvar,
    /// Ranges written (step 3) and not yet published, in no order; whoever holds this lock is
    /// the only publisher.
    pub(super) written: parking_lot::Mutex<Vec<Written>>,
    /// Appenders between their reservation (counted inside the write section) and the end of
    /// their step 5: what a cut after a failed sync waits for, so none writes past it, and what
    /// an appender waiting in a poisoned log waits for (see the module docs).
    writing: AtomicUsize,
    /// The offset a failed sync's cut went back to (`u64::MAX` before any cut): ranges from it
    /// on are never published. A failed write poisons the log without a cut, and the ranges
    /// written before it are still published.
    cut_at: AtomicU64,
}

impl Default for PublishSignal {
    fn default() -> Self {
        PublishSignal {
            waiters: AtomicUsize::new(0),
            lock: parking_lot::Mutex::new(()),
            published: parking_lot::Condvar::new(),
            written: parking_lot::Mutex::new(Vec::new()),
            writing: AtomicUsize::new(0),
            cut_at: AtomicU64::new(u64::MAX),
        }
    }
}

/// An appender between its reservation and the end of its step 5, uncounted when dropped.
pub(super) struct Writing<'a>(&'a AtomicUsize);

impl<'a> Writing<'a> {
    fn count(writing: &'a AtomicUsize) -> Writing<'a> {
        writing.fetch_add(1, SeqCst);
        Writing(writing)
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// Which listed range step 5 publishes next: the lowest starting at or below the watermark
/// (under an exclusive strategy, the one starting at it), by its index in `pending`. Shared with
/// the loom model's step 5.
pub(crate) fn next_to_publish<T>(pending: &[T], watermark: u64, offset: impl Fn(&T) -> u64) -> Option<usize> {
    let starts = pending.iter().map(offset).enumerate();
    starts.filter(|&(_, o)| o <= watermark).min_by_key(|&(_, o)| o).map(|(i, _)| i)
}

/// A reserved range whose bytes are written, waiting to be published.
pub(crate) struct Written {
    offset: u64,
    n: u64,
    /// The byte position just past its records.
    end: u64,
    /// Its index entries, encoded.
    index_entries: Vec<u8>,
}

impl<S: SyncStrategy> Log<S> {
    /// Steps 1–6 of the module docs; returns the first record's offset once published.
    pub(super) fn append_reserved(&self, batch: &mut RecordBatch) -> Result<u64, LogError> {
        let n = batch.len() as u64;
        let record_bytes = batch.bytes().len() as u64;
        // 1–2. The reservation counts this appender until `writing` is dropped: once its range
        // is handed over (and published, if it can be), or on any early return or panic.
        let (offset, position, writing) = self.strategy.write(|| self.reserve_section(n, record_bytes))?;
        self.config.race_window.at(RacePoint::Reserved { offset, position, record_bytes });
        batch.assign_offsets(offset); // 3.
        self.prealloc.ensure(&self.file, position + record_bytes);
        if let Err(e) = self.file.write_all_at(batch.bytes(), position).at(&self.log_path) {
            self.durability.write_failed();
            return Err(e);
        }
        self.prealloc.written(position + record_bytes);
        self.config.race_window.at(RacePoint::Written { offset, position, record_bytes });
        let mut index_entries = Vec::new();
        for entry in super::index_entries_due(batch, offset, position, INDEX_INTERVAL) {
            index_entries.extend_from_slice(&entry.to_bytes());
        }
        let written = Written { offset, n, end: position + record_bytes, index_entries };
        // 4–5. Counted until here: an appender waiting behind this one (step 6) that finds the
        // log poisoned waits for the count to be zero, after which its range is published or
        // never will be.
        let handed_over = self.publish_written(written);
        drop(writing);
        // 6. Also after a failed hand-over: this range may have been published before another's
        // index write failed (the error is then not this append's).
        match (self.wait_published(offset + n), handed_over) {
            (Ok(()), _) => Ok(offset),
            (Err(_), Err(e)) | (Err(e), Ok(())) => Err(e),
        }
    }

    /// Steps 4–5: hands the written range over, then publishes, in offset order, every range
    /// handed over that starts at or below the watermark — this one if its predecessors are
    /// published, and any written after it that were waiting for it.
    fn publish_written(&self, written: Written) -> Result<(), LogError> {
        let mut pending = self.publish_signal.written.lock();
        if written.offset >= self.publish_signal.cut_at.load(Acquire) {
            // A failed sync's cut passed this range: publishing it would show readers (and leave
            // a restart) records that were never durable.
            return Err(LogError::SyncFailed { path: self.log_path.clone() });
        }
        pending.push(written); // 4.
        let mut raised = false;
        loop {
            // Under the mutex only one thread publishes, so the watermark is ours to raise.
            let watermark = self.published.load(Acquire);
            let Some(i) = next_to_publish(&pending, watermark, |w| w.offset) else { break };
            let w = pending.swap_remove(i);
            if !w.index_entries.is_empty() {
                if let Err(e) = self.index.append_encoded(&w.index_entries) {
                    drop(pending);
                    self.durability.write_failed();
                    self.signal_published();
                    return Err(e);
                }
            }
            self.published_end.fetch_max(w.end, Release); // 5.
            self.published.fetch_max(w.offset + w.n, SeqCst);
            raised = true;
        }
        drop(pending);
        if raised {
            self.signal_published();
        }
        Ok(())
    }

    /// Step 6: returns once the watermark has passed `end_offset` (published by this appender
    /// or by whichever published after its predecessor), or the log is poisoned: a few yields,
    /// then parked on the publish signal (see "The publish signal" above).
    fn wait_published(&self, end_offset: u64) -> Result<(), LogError> {
        for _ in 0..YIELDS {
            if self.published.load(Acquire) >= end_offset {
                return Ok(());
            }
            std::thread::yield_now();
        }
        let poisoned = || LogError::SyncFailed { path: self.log_path.clone() };
        let signal = &self.publish_signal;
        signal.waiters.fetch_add(1, SeqCst);
        let mut parked = signal.lock.lock();
        let published = loop {
            if self.published.load(SeqCst) >= end_offset {
                break true;
            }
            if self.durability.refuses_appends() {
                break false;
            }
            // Bounded, so a poisoning (which does not signal) is noticed too.
            signal.published.wait_for(&mut parked, std::time::Duration::from_millis(1));
        };
        drop(parked);
        signal.waiters.fetch_sub(1, SeqCst);
        if published {
            return Ok(());
        }
        // Poisoned: an appender ahead of this one may still be writing, and publish this range
        // once it has (a failed write cuts nothing: the ranges before it are still published).
        // Every appender ahead reserved, and so was counted, before this one: once the count is
        // zero, whatever will ever be published is. After a failed sync, though, the cut takes
        // back everything past the durable offset, published or not.
        self.wait_for_count_zero();
        let kept = !self.durability.sync_failed() || end_offset <= self.durability.durable_offset();
        if self.published.load(SeqCst) >= end_offset && kept {
            Ok(())
        } else {
            Err(poisoned())
        }
    }

    /// Steps 1–2: the reservation, the only part inside the strategy's write section; counts
    /// the appender as writing (the returned guard uncounts it).
    fn reserve_section(&self, n: u64, record_bytes: u64) -> Result<(u64, u64, Writing<'_>), LogError> {
        if self.durability.refuses_appends() {
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
        Ok((offset, position, Writing::count(&self.publish_signal.writing)))
    }

    /// Before a cut after a failed sync (the log is poisoned, so no reservation succeeds any
    /// more): waits, outside the write section, until every appender that reserved before has
    /// finished its write and handed its range over, so that none writes past the cut. An empty write section first lets
    /// any reserver already inside it count itself. Readers and the other locks are not held
    /// meanwhile, however long a write on a failing device takes.
    pub(super) fn wait_for_writers(&self) {
        self.strategy.write(|| ());
        self.wait_for_count_zero();
    }

    /// Waits until no appender is between its reservation and the end of its step 5: a few
    /// yields, then 1 ms sleeps (a write on a failing device can take long).
    fn wait_for_count_zero(&self) {
        let mut looks = 0u32;
        while self.publish_signal.writing.load(SeqCst) > 0 {
            looks += 1;
            if looks < YIELDS {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }

    /// Before the cut's write section (the publish lock is taken before the strategy's, never
    /// the other way round, so a publisher stuck in an index write holds out no reader): the
    /// publish lock, held so that nothing is published during the cut, with the ranges written
    /// and not yet published dropped.
    pub(super) fn stop_publication(&self) -> parking_lot::MutexGuard<'_, Vec<Written>> {
        let mut pending = self.publish_signal.written.lock();
        pending.clear();
        pending
    }

    /// Inside the cut, with the publish lock held: no range from `offset` on is ever published
    /// (its appender finds the cut in step 4).
    pub(super) fn refuse_publication_from(&self, offset: u64) {
        self.publish_signal.cut_at.fetch_min(offset, Release);
    }

    /// After a publication: wakes the appenders parked in step 6, if any.
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
