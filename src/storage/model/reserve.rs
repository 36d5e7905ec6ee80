//! The reserve path in the model: [`ModelLog::append_reserved`] (steps 1–6 of
//! `Log::append_reserved`, see "The reserve path, mirrored" in the parent module) and an append
//! whose write the device refuses, [`ModelLog::append_failing_write`].
//!
//! A failed write, mirrored. `Log::append_reserved` whose `pwrite` fails (a full device, the
//! file-size limit) has written part of its record, if anything; it makes the log refuse appends
//! (`Durability::write_failed`) and returns its error, and its range is never published. Nothing
//! is cut: the ranges reserved before it are whole once written, and their appenders still
//! publish them (and the ranges behind them that wait on the list: up to the failed one). A
//! waiter in step 6 that finds the log refusing appends waits until no appender is counted
//! (every one ahead of it reserved, so was counted, before it), then succeeds if its range was
//! published. So no append is told it failed while its record is served, and none succeeds whose
//! record is not. One difference, as for a failed sync (`model/cut.rs`): the model's failing
//! appender wakes the parked waiters, where the real ones notice within the 1 ms their wait is
//! bounded by. A failed index write in step 5 (the other way a range is never published) is not
//! modelled: it refuses appends the same way, from inside the publish lock.

use super::{ModelLog, ModelWritten};
use crate::storage::error::LogError;
use crate::storage::index::IndexEntry;
use crate::storage::log::index_entries_due;
use crate::storage::log::reserve::next_to_publish;
use crate::storage::record::RecordBatch;
use crate::strategies::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use crate::strategies::SyncStrategy;
use std::io;

impl<S: SyncStrategy> ModelLog<S> {
    /// Steps 1–6 of `Log::append_reserved` (module docs of [`reserve`](crate::storage::log::reserve)).
    pub(super) fn append_reserved(&self, batch: &mut RecordBatch) -> Result<u64, LogError> {
        let n = batch.len() as u64;
        let record_bytes = batch.bytes().len() as u64;
        let (offset, position) = self.reserve(n, record_bytes)?;
        batch.assign_offsets(offset); // 3.
        self.file.write_at(batch.bytes(), position);
        let due: Vec<IndexEntry> = index_entries_due(batch, offset, position, self.index_interval).collect();
        let handed_over = self.publish_written(ModelWritten { offset, n, end: position + record_bytes, due }); // 4–5.
        self.uncount_writer();
        match (self.wait_published(offset + n), handed_over) {
            // 6.
            (Ok(()), _) => Ok(offset),
            (Err(_), Err(e)) | (Err(e), Ok(())) => Err(e),
        }
    }

    /// Steps 4–5, as `Log::publish_written`: under the publish lock, refuse a range a failed
    /// sync's cut passed, else list the range, then publish every listed range starting at or
    /// below the watermark, lowest first.
    pub(super) fn publish_written(&self, written: ModelWritten) -> Result<(), LogError> {
        let mut pending = self.written.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if written.offset >= self.cut_at.load(Acquire) {
            return Err(Self::poison_error());
        }
        pending.push(written); // 4.
        loop {
            let watermark = self.published.load(Acquire);
            let Some(i) = next_to_publish(&pending, watermark, |w| w.offset) else { break };
            let w = pending.swap_remove(i);
            if w.offset != watermark {
                self.out_of_order.fetch_add(1, Relaxed);
            }
            if !w.due.is_empty() {
                self.index.append(&w.due); // 5.
            }
            self.published_end.fetch_max(w.end, Release);
            self.published.fetch_max(w.offset + w.n, SeqCst);
        }
        drop(pending);
        // Always signalled here (see "The reserve path, mirrored").
        self.signal_waiters();
        Ok(())
    }

    /// Wakes every appender parked in step 6.
    pub(super) fn signal_waiters(&self) {
        let _held = self.signal_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.signal.notify_all();
    }

    /// Step 6, as `Log::wait_published`: one look at the watermark (the real log's yielding loop,
    /// cut to one turn), then parked on the signal until it passes `end_offset` or the log
    /// refuses appends (a failed sync or write). Then: wait until no appender is counted (every
    /// one ahead of this one has handed its range over), and succeed only if the range was
    /// published and, after a failed sync, is below the durable offset (the cut keeps it).
    fn wait_published(&self, end_offset: u64) -> Result<(), LogError> {
        if self.published.load(Acquire) >= end_offset {
            return Ok(());
        }
        let mut parked = self.signal_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let published = loop {
            if self.published.load(SeqCst) >= end_offset {
                break true;
            }
            if self.refuses() {
                break false;
            }
            parked = self.signal.wait(parked).unwrap_or_else(|poisoned| poisoned.into_inner());
        };
        drop(parked);
        if published {
            return Ok(());
        }
        self.wait_for_count_zero();
        // After a failed write nothing is cut: what was published stays. After a failed sync
        // the cut takes back everything past the durable offset.
        let kept = !self.poisoned.load(Acquire) || end_offset <= self.durable.load(Acquire);
        if self.published.load(SeqCst) >= end_offset && kept {
            Ok(())
        } else {
            Err(Self::poison_error())
        }
    }

    /// Steps 1–2, as `Log::reserve_section`: inside `S::write`, refused if the log refuses
    /// appends, else load `next_offset` and `end_position` (Acquire), store the advanced
    /// `end_position`, then `next_offset` (Release), and count the appender.
    fn reserve(&self, n: u64, record_bytes: u64) -> Result<(u64, u64), LogError> {
        self.sync.write(|| {
            if self.refuses() {
                return Err(Self::poison_error());
            }
            let offset = self.next_offset.load(Acquire); // 1.
            let position = self.end_position.load(Acquire);
            self.end_position.store(position + record_bytes, Release); // 2.
            self.next_offset.store(offset + n, Release);
            // Counted inside the section, as `Log::reserve_section` does (its `Writing` guard).
            *self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += 1;
            Ok((offset, position))
        })
    }

    /// `Log::append_reserved` under `Reserve` whose write (step 3) the device refuses after the
    /// record's first word: the log then refuses appends, the parked waiters are woken, the
    /// appender is uncounted and gets the write's error. Returns the offset whose write failed
    /// (`None` if the reservation itself was refused) and the error.
    pub fn append_failing_write(&self, payload: &[u8]) -> (Option<u64>, LogError) {
        assert!(payload.len() <= self.max_message_bytes as usize, "payload too large for the model");
        let mut batch = RecordBatch::default();
        batch.push(payload);
        let (offset, position) = match self.reserve(1, batch.bytes().len() as u64) {
            Ok(reserved) => reserved,
            Err(e) => return (None, e),
        };
        batch.assign_offsets(offset); // 3., in part
        self.file.write_at(&batch.bytes()[..super::WORD_BYTES], position);
        self.write_failed.store(true, SeqCst);
        self.signal_waiters();
        self.uncount_writer();
        let error = io::Error::other("model: the device refused the write");
        (Some(offset), LogError::Io { path: "model".into(), source: error })
    }
}
