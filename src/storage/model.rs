//! A loom model of [`Log`](super::Log)'s append and read protocol, over in-memory storage.
//!
//! Compiled only under `--cfg loom` (`scripts/loom.sh`; the tests are in `tests/loom.rs`).
//! loom explores every interleaving of a small concurrent program, but it sees only operations
//! on its own types, and it cannot model files. So this module keeps the log's protocol and
//! replaces its storage:
//!
//! | real [`Log`](super::Log)              | here                                             |
//! |---------------------------------------|--------------------------------------------------|
//! | `next_offset`, `end_position`         | the same, as loom `AtomicU64`s                   |
//! | `log.dat` via `pwrite`/`pread`        | [`ModelFile`]: 8-byte words, loom atomics        |
//! | `index.dat` + its `entries` counter   | [`ModelIndex`]: slots of loom atomics + counter  |
//! | the strategy `S`                      | the same `S`, on loom's locks under `--cfg loom` |
//! | `INDEX_INTERVAL` = 100                | a constructor argument (the tests use 2)         |
//!
//! The atomics come from `synclog_strategies::sync::atomic`, the switch that also puts the
//! strategies on loom's locks. The index is loaded and stored like
//! [`SparseIndex`](super::SparseIndex): load the entry count, write the slots, store the count.
//!
//! The file's words are `Relaxed` on purpose: file bytes carry no happens-before edge of their
//! own, so everything a reader may conclude about them has to come from the `Release` stores
//! and `Acquire` loads of the counters (and from the strategy's lock), exactly as in the real
//! log. A write of several words is not atomic either: a reader racing with it can see some new
//! words and some old ones, which is what a torn record is.
//!
//! ## The protocol, mirrored
//!
//! [`ModelLog::append_batch`] runs the **same** steps 1–7 as `Log::append_section` (see the
//! numbered race in [`log`](super::log)), in the same order and with the same orderings:
//! load `next_offset` (Acquire), load `end_position` (Acquire), [race window: here every
//! interleaving loom tries], write the records at that position, append the due index entries
//! (load the entry count, write the slots, store the count), store `end_position` (Release),
//! store `next_offset` (Release); never a `fetch_add`. [`ModelLog::read`] mirrors
//! `Log::read_section`: load `next_offset`, then `end_position`, look the start position up in
//! the index (an entry whose position holds no header with its offset is passed over for the
//! one before; a bad record met before any is served sends the scan once more from the entry
//! before the one it started at), then scan forward serving only records whose length and CRC
//! check, passing over records at or past the high watermark until one is served; a read below
//! the high watermark that serves nothing is `Missing`. (The real read's passing over of the
//! records before the offset by their headers alone is not mirrored: the model reads each
//! whole.) The steps are
//! mirrored rather than shared because `Log`, `SparseIndex` and the log's window reader are
//! written against `File` (positional I/O, `set_len`, `sync_data`, recovery): making them
//! generic over their storage, with their atomics switched to loom's, would reshape the
//! production log for the sake of a test. What *is* shared is everything below the protocol:
//! the record encoding ([`RecordBatch`]), the record check ([`check_record`]), the index-entry
//! arithmetic of step 5 and the errors. A change to `Log::append_section`,
//! `Log::read_section`, the reserve path or `Log::cut_to_durable` must be made here too.
//!
//! ## The reserve path, mirrored
//!
//! With [`ModelLog::with_append`]`(`[`AppendMode::Reserve`]`)` an append runs steps 1–6 of
//! [`reserve`](super::log::reserve) instead, as `Log::append_reserved` does: inside `S::write`
//! only the reservation (load `next_offset` and `end_position`, Acquire; store the advanced
//! `end_position`, then `next_offset`, Release); outside it the write, then under the publish
//! lock the listing of the written range and the publication of every listed range at or below
//! the watermark, lowest first (its due index entries, then `published_end` and `published`,
//! each a `fetch_max`, the second `SeqCst`), then the wait until the watermark passes the
//! append's own range. Reads load `published` before `published_end`, as `Log::visible` does
//! under `Reserve`.
//!
//! Step 6 looks at the watermark once and then parks on a condition variable that every
//! publication signals, as the real log does after its yields (one look and no yield: loom would
//! explore every turn of a longer loop, each a path of its own). Two simplifications: the model's
//! waiters park without the real log's 1 ms bound, so a lost wake-up would be a deadlock loom
//! reports; and its publishers always signal, where the real one signals only when its `SeqCst`
//! load of the waiter count finds a waiter. That count and the watermark form a `SeqCst`
//! handshake (each side stores its own, then loads the other's), which loom cannot check: it
//! treats `SeqCst` as `AcqRel`, under which both loads may miss, and would report a lost wake-up
//! that `SeqCst` rules out. The handshake only decides *whether* a publisher takes the lock to
//! signal; what a woken waiter then sees is the watermark, which the model has in full. The
//! model also counts publications of a range that did not start exactly at the watermark
//! ([`ModelLog::publications_out_of_order`]): under an exclusive strategy there must be none.
//!
//! ## A failed sync or write, mirrored
//!
//! [`ModelLog::sync`] and [`ModelLog::fail_sync`] (in `model/cut.rs`, whose docs say what is
//! mirrored) stand for a sync that succeeds and one that fails, with the cut back to the
//! durable records that follows; [`ModelLog::append_failing_write`] (in `model/reserve.rs`, with
//! the rest of the reserve path) for an append under `Reserve` whose write the device refuses.
//!
//! Left out, because they are not part of the race: the `--race-window-us` pause (loom tries
//! every pause), the wait for durability under `FsyncPolicy::Always` (the high watermark is
//! `next_offset`, as under `FsyncPolicy::Never`) and recovery at open.
//!
//! ## Limits of the model
//!
//! The file is a fixed number of 8-byte words, and writes must start and end on a word, so
//! payload lengths must be multiples of 8 (every record is then 16 + 8k bytes long and starts
//! on a word). Reads may start anywhere, because a torn header can claim any length. Checking
//! stays cheap for loom only with a handful of short records: the tests use two or three
//! appends of 0–16 bytes.

use super::error::LogError;
use super::index::IndexEntry;
use super::log::{index_entries_due, AppendMode};
use super::record::{check_record, RecordBatch, RecordHeader, HEADER_BYTES};

mod cut;
mod reserve;
use crate::strategies::sync::atomic::{
    AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release, Ordering::SeqCst,
};
use crate::strategies::sync::{Condvar, Mutex};
use crate::strategies::SyncStrategy;

/// Bytes per word of a [`ModelFile`].
pub const WORD_BYTES: usize = 8;

/// `log.dat` as loom sees it: a fixed array of 8-byte words.
///
/// Invariant: word `i` holds bytes `8i..8i + 8` of the file (big-endian); a word never written
/// reads as zeros. Every access is `Relaxed`, so the words synchronize nothing by themselves.
pub struct ModelFile {
    words: Vec<AtomicU64>,
}

impl ModelFile {
    /// A file of `capacity_bytes` (rounded up to a word), all zeros.
    pub fn new(capacity_bytes: usize) -> ModelFile {
        ModelFile { words: (0..capacity_bytes.div_ceil(WORD_BYTES)).map(|_| AtomicU64::new(0)).collect() }
    }

    /// The positional write (`pwrite`): `bytes` at byte `position`, one word at a time, so a
    /// concurrent reader can see it half done. Both ends must be word-aligned.
    pub fn write_at(&self, bytes: &[u8], position: u64) {
        assert!(
            position % WORD_BYTES as u64 == 0 && bytes.len() % WORD_BYTES == 0,
            "the model file is made of {WORD_BYTES}-byte words: writes (so payloads) must be multiples of it"
        );
        let first = (position / WORD_BYTES as u64) as usize;
        for (i, chunk) in bytes.chunks_exact(WORD_BYTES).enumerate() {
            let word = self.words.get(first + i).expect("the model file is full: give it more capacity");
            let mut b = [0u8; WORD_BYTES];
            b.copy_from_slice(chunk);
            word.store(u64::from_be_bytes(b), Relaxed);
        }
    }

    /// `set_len(len)` of a file never grown past its capacity: every word from byte `len` (a
    /// word boundary) on reads as zeros again, as a truncated and re-extended file would.
    fn set_len(&self, len: u64) {
        for word in self.words.iter().skip(len as usize / WORD_BYTES) {
            word.store(0, Relaxed);
        }
    }

    /// The first word at or past byte `position` (a word boundary) that is not zero, as
    /// (byte, value): what a write past the end of the log left.
    pub fn first_nonzero_from(&self, position: u64) -> Option<(u64, u64)> {
        let first = position as usize / WORD_BYTES;
        self.words.iter().enumerate().skip(first).find_map(|(i, w)| {
            let v = w.load(Relaxed);
            (v != 0).then_some(((i * WORD_BYTES) as u64, v))
        })
    }

    /// The positional read (`pread`): `len` bytes from byte `position`, any alignment. Bytes past
    /// the capacity read as zeros (only a torn header could ask for them).
    pub fn read_at(&self, position: u64, len: usize) -> Vec<u8> {
        let start = position as usize;
        let first = start / WORD_BYTES;
        let last = (start + len).div_ceil(WORD_BYTES);
        let mut bytes = Vec::with_capacity((last - first) * WORD_BYTES);
        for i in first..last {
            let word = self.words.get(i).map_or(0, |w| w.load(Relaxed));
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        let skip = start - first * WORD_BYTES;
        bytes[skip..skip + len].to_vec()
    }
}

/// `index.dat` and [`SparseIndex`](super::SparseIndex)'s entry counter, as loom sees them.
///
/// Invariant (under an exclusive write strategy): slots `0..entries` hold the entries for the
/// multiples of the interval below `next_offset`, in order. Slots are `Relaxed` like the file;
/// `entries` is loaded (Acquire) and stored (Release) inside the write section, never
/// `fetch_add`ed, exactly as `SparseIndex::append_encoded` does, so under `NoSync` it races too.
pub struct ModelIndex {
    entries: AtomicU64,
    /// (offset, position) per slot.
    slots: Vec<(AtomicU64, AtomicU64)>,
}

impl ModelIndex {
    fn new(capacity: usize) -> ModelIndex {
        ModelIndex {
            entries: AtomicU64::new(0),
            slots: (0..capacity).map(|_| (AtomicU64::new(0), AtomicU64::new(0))).collect(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.entries.load(Acquire)
    }

    /// `true` when the index has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i` (zeros if never written), as `SparseIndex::entry` reads it.
    pub fn entry(&self, i: u64) -> IndexEntry {
        match self.slots.get(i as usize) {
            Some((offset, position)) => {
                IndexEntry { offset: offset.load(Relaxed), position: position.load(Relaxed) }
            }
            None => IndexEntry { offset: 0, position: 0 },
        }
    }

    /// `SparseIndex::append_encoded`: load the count, write the slots after it, store the count.
    fn append(&self, new: &[IndexEntry]) {
        let n = self.entries.load(Acquire);
        for (i, e) in new.iter().enumerate() {
            let (offset, position) =
                self.slots.get(n as usize + i).expect("the model index is full: give it more capacity");
            offset.store(e.offset, Relaxed);
            position.store(e.position, Relaxed);
        }
        self.entries.store(n + new.len() as u64, Release);
    }

    /// `SparseIndex::truncate`: keep the first `keep` entries.
    fn truncate(&self, keep: u64) {
        self.entries.store(keep, Release);
    }

    /// `SparseIndex::lookup`: the entry with the greatest offset ≤ `target` among the first
    /// `len()`, by the same binary search.
    pub fn lookup(&self, target: u64) -> Option<IndexEntry> {
        self.lookup_numbered(target).map(|(_, e)| e)
    }

    /// `SparseIndex::lookup_numbered`: [`ModelIndex::lookup`] with the entry's number.
    pub fn lookup_numbered(&self, target: u64) -> Option<(u64, IndexEntry)> {
        // Entries [0, lo) have offset ≤ target; entries [hi, n) have offset > target.
        let (mut lo, mut hi) = (0, self.len());
        let mut best = None;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.entry(mid);
            if e.offset <= target {
                best = Some((mid, e));
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        best
    }
}

/// Records as (offset, payload), in offset order.
pub type ModelRecords = Vec<(u64, Vec<u8>)>;

/// What a [`ModelLog::read`] returns: [`ReadBatch`](super::ReadBatch)'s contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelBatch {
    /// The high watermark the read saw (here always the `next_offset` it loaded).
    pub high_watermark: u64,
    /// The records served.
    pub records: ModelRecords,
}

/// `Log<S>`'s protocol over a [`ModelFile`] and a [`ModelIndex`], guarded by `S`.
pub struct ModelLog<S: SyncStrategy> {
    /// Lock state only, as in `Log`.
    sync: S,
    file: ModelFile,
    index: ModelIndex,
    /// Every offset divisible by this gets an index entry (the real log's is 100).
    index_interval: u64,
    /// The largest payload, and the largest length a valid record header may claim.
    max_message_bytes: u32,
    /// The offset the next record gets. Loaded and stored, never `fetch_add`ed.
    next_offset: AtomicU64,
    /// The byte length of the valid log. Stored before `next_offset` by a writer.
    end_position: AtomicU64,
    /// What the write section covers: steps 1–7, or only the reservation.
    append: AppendMode,
    /// Under `Reserve`: the publish watermark, every offset below it written and indexed.
    published: AtomicU64,
    /// Under `Reserve`: the byte length of the published records. Raised before `published`.
    published_end: AtomicU64,
    /// Under `Reserve`: publications that found the watermark anywhere but at their own offset.
    /// Touched only when that happens, so it adds no step to a correct run.
    out_of_order: AtomicU64,
    /// Under `Reserve`: the ranges written and not yet published (steps 4–5), under the
    /// publish lock.
    written: Mutex<Vec<ModelWritten>>,
    /// Under `Reserve`: where step 6 parks and each publication signals (`PublishSignal`).
    signal_lock: Mutex<()>,
    signal: Condvar,
    /// Set by a failed sync ([`ModelLog::fail_sync`]; `Durability`'s poison): from then on no
    /// append is accepted.
    poisoned: AtomicBool,
    /// Set by a failed write under `Reserve` ([`ModelLog::append_failing_write`];
    /// `Durability::write_failed`): from then on no append is accepted, and nothing is cut.
    write_failed: AtomicBool,
    /// The offset below which every record was covered by a sync that succeeded
    /// ([`ModelLog::sync`]; `Durability::durable_offset`).
    durable: AtomicU64,
    /// Under `Reserve`: appenders between their reservation and the end of their step 5
    /// (`PublishSignal::writing`), and where a wait for it to be zero parks (see "A failed
    /// sync, mirrored").
    writing: Mutex<u64>,
    writers_done: Condvar,
    /// Under `Reserve`: the offset a failed sync's cut went back to (`u64::MAX` before any);
    /// step 4 refuses a range from it on (`PublishSignal::cut_at`).
    cut_at: AtomicU64,
}

/// A reserved range whose bytes are written, waiting to be published (`reserve::Written`).
struct ModelWritten {
    offset: u64,
    n: u64,
    end: u64,
    due: Vec<IndexEntry>,
}

impl<S: SyncStrategy> ModelLog<S> {
    /// An empty log with room for `capacity_bytes` of records (at least the sum of every record
    /// a test appends: under `NoSync` a write can still land no further than that) and an index
    /// entry every `index_interval` offsets.
    pub fn new(capacity_bytes: usize, index_interval: u64) -> ModelLog<S> {
        assert!(index_interval > 0, "the index interval must be positive");
        ModelLog {
            sync: S::default(),
            file: ModelFile::new(capacity_bytes),
            // Each append writes at most one entry per record, and a record is ≥ 16 bytes.
            index: ModelIndex::new(capacity_bytes / HEADER_BYTES + 1),
            index_interval,
            max_message_bytes: 1024,
            next_offset: AtomicU64::new(0),
            end_position: AtomicU64::new(0),
            append: AppendMode::Whole,
            published: AtomicU64::new(0),
            published_end: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            written: Mutex::new(Vec::new()),
            signal_lock: Mutex::new(()),
            signal: Condvar::new(),
            poisoned: AtomicBool::new(false),
            write_failed: AtomicBool::new(false),
            durable: AtomicU64::new(0),
            writing: Mutex::new(0),
            writers_done: Condvar::new(),
            cut_at: AtomicU64::new(u64::MAX),
        }
    }

    /// The same log appending in mode `append` (`Whole`, the default, or `Reserve`).
    pub fn with_append(self, append: AppendMode) -> ModelLog<S> {
        ModelLog { append, ..self }
    }

    /// Under `Reserve`, the publish watermark (else `next_offset`).
    pub fn published(&self) -> u64 {
        self.visible().0
    }

    /// Under `Reserve`, how many publications found the watermark below or past their own first
    /// offset (two appenders given one offset, or a record published before its predecessor).
    pub fn publications_out_of_order(&self) -> u64 {
        self.out_of_order.load(Acquire)
    }

    /// `Log::visible`: what readers may see, as (next offset, end position), offset first.
    fn visible(&self) -> (u64, u64) {
        match self.append {
            AppendMode::Whole => (self.next_offset.load(Acquire), self.end_position.load(Acquire)),
            AppendMode::Reserve => (self.published.load(Acquire), self.published_end.load(Acquire)),
        }
    }

    /// The offset the next record will get.
    pub fn next_offset(&self) -> u64 {
        self.next_offset.load(Acquire)
    }

    /// The byte length of the valid log.
    pub fn end_position(&self) -> u64 {
        self.end_position.load(Acquire)
    }

    /// The index, for checks after the threads are joined.
    pub fn index(&self) -> &ModelIndex {
        &self.index
    }

    /// The file, for checks after the threads are joined.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// Appends one message; returns its offset.
    pub fn append(&self, payload: &[u8]) -> u64 {
        self.append_batch(&[payload])
    }

    /// Appends one message, or fails after a failed sync ([`ModelLog::fail_sync`]).
    pub fn try_append(&self, payload: &[u8]) -> Result<u64, LogError> {
        self.try_append_batch(&[payload])
    }

    /// [`ModelLog::try_append_batch`] on a log no sync has failed on, which accepts every append.
    pub fn append_batch(&self, payloads: &[&[u8]]) -> u64 {
        self.try_append_batch(payloads).expect("only a failed sync makes the model refuse an append")
    }

    /// `Log::append_batch`: encode outside the section, then steps 1–7 inside `S::write`
    /// (`Whole`) or the reserve path (`Reserve`).
    /// Returns the first offset (the next offset for an empty batch).
    pub fn try_append_batch(&self, payloads: &[&[u8]]) -> Result<u64, LogError> {
        if payloads.is_empty() {
            return Ok(self.next_offset());
        }
        let mut batch = RecordBatch::default();
        for p in payloads {
            assert!(p.len() <= self.max_message_bytes as usize, "payload too large for the model");
            batch.push(p);
        }
        match self.append {
            AppendMode::Whole => self.sync.write(|| self.append_section(&mut batch)),
            AppendMode::Reserve => self.append_reserved(&mut batch),
        }
    }

    /// What an append gets once a sync or a write has failed.
    fn poison_error() -> LogError {
        LogError::SyncFailed { path: "model".into() }
    }

    /// `Durability::refuses_appends`: a write or a sync has failed.
    fn refuses(&self) -> bool {
        self.write_failed.load(SeqCst) || self.poisoned.load(SeqCst)
    }

    /// Steps 1–7 of `Log::append_section`, in its order and with its orderings.
    fn append_section(&self, batch: &mut RecordBatch) -> Result<u64, LogError> {
        // As `Log::append_section`: an append after a failed sync writes nothing.
        if self.refuses() {
            return Err(Self::poison_error());
        }
        let offset = self.next_offset.load(Acquire); // 1. check …
        let position = self.end_position.load(Acquire); // 2.
        let n = batch.len() as u64;
        let record_bytes = batch.bytes().len() as u64;
        // 3. The race window: nothing to do, loom schedules the other threads here as it likes.
        batch.assign_offsets(offset);
        self.file.write_at(batch.bytes(), position); // 4. … act

        // 5. The same entries `Log` computes, at the model's interval.
        let due: Vec<IndexEntry> = index_entries_due(batch, offset, position, self.index_interval).collect();
        if !due.is_empty() {
            self.index.append(&due);
        }
        self.end_position.store(position + record_bytes, Release); // 6.
        self.next_offset.store(offset + n, Release); // 7.
        Ok(offset)
    }

    /// `Log::read`: records from `offset` inside `S::read`; at most `max_messages`, at most
    /// `max_bytes` of payload but at least one record when one exists. At the end: no records;
    /// past it: `OffsetOutOfRange`; a first record failing its checks: `Corrupt`.
    pub fn read(&self, offset: u64, max_messages: u32, max_bytes: u32) -> Result<ModelBatch, LogError> {
        self.sync.read(|| self.read_section(offset, max_messages, max_bytes))
    }

    /// `Log::read_section`, step for step.
    fn read_section(&self, offset: u64, max_messages: u32, max_bytes: u32) -> Result<ModelBatch, LogError> {
        // Offset before position: a reader that sees offset o also sees o's bytes.
        let (next, end) = self.visible();
        // No durability in the model: the high watermark is the next offset.
        let high_watermark = next;
        let mut out = ModelRecords::new();
        if offset > next {
            return Err(LogError::OffsetOutOfRange { requested: offset, next });
        }
        if offset >= high_watermark || max_messages == 0 {
            return Ok(ModelBatch { high_watermark, records: out });
        }
        let (mut position, mut entry) = self.scan_start(self.index.lookup_numbered(offset), end);
        let mut payload_bytes = 0usize;
        while position < end {
            let (header, record) = match self.record(position, end) {
                Some(found) => found,
                None if out.is_empty() => {
                    // As the real read: once more from the entry before the one started at.
                    if let Some(i) = entry.take() {
                        let before = i.checked_sub(1).map(|b| (b, self.index.entry(b)));
                        position = self.scan_start(before, end).0;
                        continue;
                    }
                    return Err(LogError::Corrupt { offset, position });
                }
                None => break,
            };
            if header.offset >= offset {
                if header.offset >= high_watermark {
                    if out.is_empty() {
                        position += header.record_bytes();
                        continue;
                    }
                    break;
                }
                let len = header.payload_bytes as usize;
                if !out.is_empty() && payload_bytes + len > max_bytes as usize {
                    break;
                }
                out.push((header.offset, record[HEADER_BYTES..].to_vec()));
                payload_bytes += len;
                if out.len() >= max_messages as usize {
                    break;
                }
            }
            position += header.record_bytes();
        }
        if out.is_empty() {
            return Err(LogError::Missing { offset, high_watermark });
        }
        Ok(ModelBatch { high_watermark, records: out })
    }

    /// `Log::scan_start`: (position, entry number) of `found` or the nearest entry before it
    /// whose position holds a header with its offset; byte 0 with none left.
    fn scan_start(&self, mut found: Option<(u64, IndexEntry)>, end: u64) -> (u64, Option<u64>) {
        while let Some((i, e)) = found {
            if e.position < end && self.header_at(e.position, end).is_some_and(|h| h.offset == e.offset) {
                return (e.position, Some(i));
            }
            found = i.checked_sub(1).map(|before| (before, self.index.entry(before)));
        }
        (0, None)
    }

    /// `WindowReader::header`: the header at `position` if its length is at most the maximum
    /// and the whole record lies below `limit`, its CRC not checked.
    fn header_at(&self, position: u64, limit: u64) -> Option<RecordHeader> {
        let available = limit.saturating_sub(position).min(HEADER_BYTES as u64) as usize;
        let header = RecordHeader::parse(&self.file.read_at(position, available))?;
        let fits =
            header.payload_bytes <= self.max_message_bytes && position + header.record_bytes() <= limit;
        fits.then_some(header)
    }

    /// `WindowReader::record`: the record at `position` if its header is whole below `limit`,
    /// its length at most the maximum, the whole record below `limit` and its CRC right.
    /// Returns the header and the record's bytes (header included).
    fn record(&self, position: u64, limit: u64) -> Option<(RecordHeader, Vec<u8>)> {
        let available = limit.saturating_sub(position).min(HEADER_BYTES as u64) as usize;
        let mut record = self.file.read_at(position, available);
        let header = RecordHeader::parse(&record)?;
        if header.payload_bytes > self.max_message_bytes || position + header.record_bytes() > limit {
            return None;
        }
        // Header and payload are loaded once each: every load is a step loom interleaves.
        record.extend(self.file.read_at(position + HEADER_BYTES as u64, header.payload_bytes as usize));
        check_record(&record, self.max_message_bytes).map(|h| (h, record))
    }

    /// A full check, for after the threads are joined (what `synclog verify` checks on disk):
    /// the records tile `0..end_position` exactly, with offsets `0..next_offset` in order and
    /// valid CRCs, and the index holds exactly one entry per multiple of the interval below
    /// `next_offset`, each naming its record's position; under `Reserve`, everything reserved
    /// is published. Returns the first problem found.
    pub fn verify(&self) -> Result<(), String> {
        let (next, end) = (self.next_offset(), self.end_position());
        if self.visible() != (next, end) {
            return Err(format!("published {:?}, but reserved up to {:?}", self.visible(), (next, end)));
        }
        let mut position = 0;
        let mut positions = Vec::new();
        while position < end {
            let expected = positions.len() as u64;
            let Some((header, _)) = self.record(position, end) else {
                return Err(format!("torn log: no valid record at byte {position} (end {end})"));
            };
            if header.offset != expected {
                return Err(format!(
                    "record at byte {position} has offset {}, expected {expected}",
                    header.offset
                ));
            }
            positions.push(position);
            position += header.record_bytes();
        }
        if positions.len() as u64 != next {
            return Err(format!("{} records in 0..{end}, but next_offset is {next}", positions.len()));
        }
        let due: Vec<IndexEntry> = (0..next)
            .step_by(self.index_interval as usize)
            .map(|o| IndexEntry { offset: o, position: positions[o as usize] })
            .collect();
        let entries: Vec<IndexEntry> = (0..self.index.len()).map(|i| self.index.entry(i)).collect();
        if entries != due {
            return Err(format!("index {entries:?}, expected {due:?}"));
        }
        Ok(())
    }
}
