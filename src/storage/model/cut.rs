//! A failed sync in the model: [`ModelLog::sync`], [`ModelLog::fail_sync`] and the cut.
//!
//! [`ModelLog::sync`] stands for a sync that succeeds (the durable offset rises to the visible
//! next offset) and [`ModelLog::fail_sync`] for one whose `fdatasync` fails, as `Log::sync_data`
//! then runs: the log is poisoned (no reservation succeeds, and step 4 refuses a range at or past
//! the cut), then cut back to the durable offset as `Log::cut_to_durable` does: an empty write
//! section, a wait until no appender is counted between its reservation and the end of its step
//! 5, the publish lock with the unpublished ranges dropped, and, inside the write section,
//! the file, the index and the four counters set back. A waiter in step 6 that finds the poison
//! waits for the count to be zero too, and succeeds only if its range was published and is below
//! the durable offset. Two differences: the real waiter notices the poison within the 1 ms its
//! wait is bounded by, where the model's is woken by the poisoning (a timed wait is not
//! something loom can explore); and the real count is an atomic that the waits poll, yielding
//! and then sleeping, where the model's is a counter under a mutex with a condition variable
//! signalled when it reaches zero (loom took every turn of a polling loop for a path of its
//! own, and gave the search up as a spin lock). A failed *write* (the other poison, which cuts
//! nothing) is in `model/reserve.rs`.

use super::ModelLog;
use crate::strategies::sync::atomic::Ordering::{Acquire, Release, SeqCst};
use crate::strategies::SyncStrategy;

impl<S: SyncStrategy> ModelLog<S> {
    /// The end of an appender's count (`Writing`'s drop), waking the waits for it to be zero.
    pub(super) fn uncount_writer(&self) {
        let mut writing = self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *writing -= 1;
        if *writing == 0 {
            self.writers_done.notify_all();
        }
    }

    /// `Log::wait_for_count_zero`: until no appender is between its reservation and the end of
    /// its step 5.
    pub(super) fn wait_for_count_zero(&self) {
        let mut writing = self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while *writing > 0 {
            writing = self.writers_done.wait(writing).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// A sync that succeeds (`Log::sync_data`): everything visible before it becomes durable.
    pub fn sync(&self) {
        let covered = self.visible().0;
        self.durable.fetch_max(covered, Release);
    }

    /// A sync whose `fdatasync` fails (`Log::sync_data`): the log is poisoned, then cut back to
    /// its durable records (`Log::cut_to_durable`). The appenders parked in step 6 are woken
    /// here; the real ones notice the poison within the 1 ms their wait is bounded by.
    pub fn fail_sync(&self) {
        self.poisoned.store(true, SeqCst);
        self.signal_waiters();
        self.cut_to_durable();
    }

    /// `Log::cut_to_durable`: an empty write section (a reserver inside it counts itself), the
    /// wait for the count to be zero, the publish lock (the unpublished ranges dropped), then,
    /// inside the write section, the refusal of every range from the durable offset on and the
    /// cut of the file, the index and the counters back to it.
    fn cut_to_durable(&self) {
        self.sync.write(|| ());
        self.wait_for_count_zero();
        let mut no_publication = self.written.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        no_publication.clear();
        self.sync.write(|| {
            let durable = self.durable.load(Acquire);
            self.cut_at.fetch_min(durable, Release);
            let end = self.end_position.load(Acquire);
            if durable >= self.next_offset.load(Acquire) {
                return;
            }
            let cut = self.position_of(durable, end);
            let mut keep = self.index.len();
            while keep > 0 && self.index.entry(keep - 1).offset >= durable {
                keep -= 1;
            }
            self.index.truncate(keep);
            self.file.set_len(cut);
            self.end_position.store(cut, Release);
            self.next_offset.store(durable, Release);
            self.published_end.store(cut, Release);
            self.published.store(durable, Release);
        });
    }

    /// `Log::position_of`: the byte position of the record with offset `target` (or of the
    /// first at or past it, or of the first invalid one), scanning from the index, within `end`.
    fn position_of(&self, target: u64, end: u64) -> u64 {
        let mut position = match self.index.lookup(target) {
            Some(e) if e.position < end => e.position,
            _ => 0,
        };
        while position < end {
            match self.record(position, end) {
                Some((h, _)) if h.offset < target => position += h.record_bytes(),
                _ => break,
            }
        }
        position
    }
}
