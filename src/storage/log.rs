//! `Log<S>`: one topic's append-only commit log, guarded by the strategy `S`.
//!
//! A topic directory holds two files: `log.dat`, the records back to back (see
//! [`record`](super::record)), and `index.dat`, the sparse index (see [`index`](super::index)).
//! Every record gets the next offset, 0, 1, 2, …; a consumer reads "from offset N" by looking up
//! the nearest index entry at or below N and scanning forward, within a count and a byte limit
//! that counts each record's payload plus the framing its reply gives it ([`ReadLimit`]).
//!
//! ## State and invariants
//!
//! The log's shared state is two counters in `AtomicU64` and two files written with positional
//! I/O (`pwrite`/`pread`), so no operation is ever a data race, whatever the strategy:
//! - `next_offset`: the offset the next record gets = the number of records appended;
//! - `end_position`: the byte length of the valid log = where the next record goes.
//!
//! Under an exclusive write strategy, `log.dat[0..end_position]` holds exactly the records
//! `0..next_offset` in order, and the index has an entry for every multiple of 100 below
//! `next_offset`. A writer stores `end_position` *before* `next_offset` (both Release), and a
//! reader loads `next_offset` *before* `end_position` (both Acquire), so a reader that sees an
//! offset also sees the bytes of its record.
//!
//! ## The honest race
//!
//! An append is a split check-then-act, on purpose:
//!
//! 1. load `next_offset` → `o`;
//! 2. load `end_position` → `p`;
//! 3. (the race window: `--race-window-us`, a rendezvous in tests)
//! 4. write the record(s), with offset `o`, at byte `p` (one `pwrite` for a whole batch);
//! 5. write an index entry for each multiple of 100 among `o .. o + n` (naming that record's
//!    first byte), in the next index slot(s);
//! 6. store `end_position = p + len`;
//! 7. store `next_offset = o + n`.
//!
//! The strategy's write section wraps all seven steps. Under `NoSync` nothing does, and two
//! producers A and B can interleave like this:
//!
//! **Lost update.** A1 A2 B1 B2 (both load `o`, `p`) A4 B4 (B's record overwrites A's at `p`)
//! A6 A7 B6 B7 (both store `o + 1`). Both producers are acknowledged with offset `o`; A's
//! message is gone, and the next append gets `o + 1` as if only one had happened.
//!
//! **Torn log.** As above, but A's record is longer than B's: A4 writes `p..p+a`, B4 then writes
//! `p..p+b` with `b < a`, B6 stores `p + b`, and A6 stores `p + a` last. The file now holds B's
//! record followed by the tail of A's: bytes that are no record at all. A scan from byte 0 hits
//! a header whose CRC fails (`corrupt_record`), and an index entry written by A may point into
//! the middle of it (`index_dangling`).
//!
//! **Index into nothing.** If B6 stores `p + b` last instead, the next append writes at `p + b`,
//! but an index entry that A wrote for offset `o` may already name a record that was overwritten
//! (`index_wrong_target`).
//!
//! There is no `fetch_add`, no mutex hidden here, and no `unsafe`: the race is logical, never
//! undefined behaviour, and every strategy but `none` closes it by running steps 1–7 alone.
//!
//! ## Shrinking the section: `AppendMode::Reserve`
//!
//! Steps 1–7 put the write itself (step 4) inside the lock, so appends are serialized on the
//! file. With [`LogConfig::append`] set to [`AppendMode::Reserve`], the write section covers
//! only the reservation, and the bytes are written outside it, in parallel, then published in
//! offset order; see [`reserve`] for its numbered steps and what readers see.
//!
//! ## Durability and preallocation
//!
//! With `FsyncPolicy::Always` an append returns only after `fdatasync` covered its bytes, and
//! reads serve only up to the *durable* offset (the high watermark); the sync runs after the
//! write section, never while the strategy's lock is held, and one sync covers every append
//! waiting on it (see [`durability`](super::durability) and
//! [`group_commit`](super::group_commit)). Under `Always` the log also keeps zero-filled space
//! past its last record so that a sync need not commit a new file size (see
//! [`prealloc`](super::prealloc)). Growing that space takes a lock of its own on the append
//! path: a deliberate exception, once per extension, explained there. The others, each after
//! the write section and explained in its module: group commit's mutex under `Always`, and the
//! publish lock under `AppendMode::Reserve` (`log/reserve.rs`).
//!
//! ## Opening and recovery
//!
//! [`Log::open`] checks that the last index entry points at a valid record with the offset it
//! names (else drops entries back to one that does), scans forward from there validating each
//! record's length and CRC, appends index entries missing for the records it scanned, truncates
//! a torn or corrupt tail and restores `next_offset`. A missing or empty index means a scan from byte 0. Damage before the
//! last index entry is not repaired (`verify` reports it; a read never serves a record that
//! fails its CRC). A damaged log whose last record claims offset `u64::MAX` has no next offset:
//! it stays at `u64::MAX`, and an append that would need an offset past it is refused
//! ([`LogError::OffsetsExhausted`]) rather than wrapping around to 0.

mod read;
pub mod reserve;

pub use read::{ReadBatch, ReadLimit};

use super::durability::{Durability, FsyncPolicy, SyncHook, SyncTotals};
use super::error::{IoContext, LogError};
use super::index::{IndexEntry, SparseIndex, INDEX_ENTRY_BYTES, INDEX_INTERVAL};
use super::prealloc::Preallocation;
use super::race::{RacePoint, RaceWindow};
use super::reader::WindowReader;
use super::record::{RecordBatch, RecordHeader};
use crate::strategies::SyncStrategy;
use std::cell::RefCell;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};

/// Name of the record file in a topic directory.
pub const LOG_FILE: &str = "log.dat";
/// Name of the index file in a topic directory.
pub const INDEX_FILE: &str = "index.dat";
/// The default largest payload a log accepts (1 MiB, the broker's `--max-message-bytes`).
pub const DEFAULT_MAX_MESSAGE_BYTES: u32 = 1 << 20;

/// What an append's write section covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppendMode {
    /// Steps 1–7 of the module docs, the write included, inside the write section (the
    /// classic lesson: which lock).
    #[default]
    #[value(
        help = "the offset, the write and the index all inside the write section (the classic lesson: which lock)"
    )]
    Whole,
    /// Only the reservation of an offset and a byte range inside the write section; the bytes
    /// are written outside it, in parallel, and published in offset order (see
    /// [`reserve`]; the lesson after: what the lock guards).
    #[value(
        help = "only the reservation of an offset and a byte range inside the write section; the bytes are written outside it, in parallel, and published in offset order (the lesson after: what the lock guards)"
    )]
    Reserve,
}

impl AppendMode {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            AppendMode::Whole => "whole",
            AppendMode::Reserve => "reserve",
        }
    }
}

/// How a log is opened.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// When appends are forced to disk.
    pub fsync: FsyncPolicy,
    /// The largest payload accepted, and the largest length a valid record header may claim.
    pub max_message_bytes: u32,
    /// What an append does between its loads and its write.
    pub race_window: RaceWindow,
    /// Called around every `fdatasync` (tests count and hold syncs with it).
    pub sync_hook: Option<SyncHook>,
    /// Under `FsyncPolicy::Always`, the largest extension of zero-filled space past the last
    /// record (0: none); see [`prealloc`](super::prealloc). Other policies never preallocate.
    pub preallocate_bytes: u64,
    /// What the write section covers: the whole append (default) or only the reservation.
    /// Independent of the strategy (`--append whole|reserve`).
    pub append: AppendMode,
}

/// The default of [`LogConfig::preallocate_bytes`]: 8 MiB, the largest extension of zeros.
pub const DEFAULT_PREALLOCATE_BYTES: u64 = 8 << 20;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            fsync: FsyncPolicy::Never,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            race_window: RaceWindow::Off,
            sync_hook: None,
            preallocate_bytes: DEFAULT_PREALLOCATE_BYTES,
            append: AppendMode::Whole,
        }
    }
}

/// What [`Log::open`] found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes of `log.dat` before recovery.
    pub log_bytes_before: u64,
    /// Bytes cut from the end of `log.dat`: from the first record that is torn (runs past the
    /// end) or corrupt (an impossible length, a CRC mismatch) to the end.
    pub truncated_bytes: u64,
    /// Zero bytes cut from the end of `log.dat`: the preallocated space of a log that was not
    /// closed cleanly (see [`prealloc`](super::prealloc)). Not damage.
    pub zero_tail_bytes: u64,
    /// Index entries dropped because they did not point at a valid record (or were partial).
    pub index_entries_dropped: u64,
    /// Index entries written because the scan found records without them.
    pub index_entries_added: u64,
    /// Records validated by the forward scan.
    pub records_scanned: u64,
    /// Breaks in the run of offsets found by the forward scan: records whose offset is not one
    /// past the record before (the first: not the index entry's offset, or 0 from byte 0), so a
    /// stray record in the middle counts twice (itself, and the record after it). Left in place:
    /// `synclog verify` names them, and the next offset is past the highest one scanned.
    pub records_out_of_order: u64,
    /// The next offset after recovery.
    pub next_offset: u64,
}

impl Recovery {
    /// `true` if recovery changed either file.
    pub fn repaired(&self) -> bool {
        self.truncated_bytes > 0 || self.index_entries_dropped > 0 || self.index_entries_added > 0
    }
}

/// A topic's log: records in `log.dat`, a sparse index in `index.dat`, guarded by `S`.
///
/// The teaching core is the strategy, the two files and the two counters; durability and
/// preallocation are delegated to their own types ([`durability`](super::durability),
/// [`prealloc`](super::prealloc)).
pub struct Log<S: SyncStrategy> {
    /// The strategy's lock state only; the data is below.
    strategy: S,
    file: File,
    index: SparseIndex,
    /// The offset the next record gets. Loaded and stored, never `fetch_add`ed (see the docs).
    next_offset: AtomicU64,
    /// The byte length of the valid log. Stored before `next_offset` by a writer.
    end_position: AtomicU64,
    /// Under `AppendMode::Reserve`: records below this offset are written and indexed, so
    /// readers and syncs may see them (the publish watermark). Unused under `Whole`.
    published: AtomicU64,
    /// Under `AppendMode::Reserve`: the byte end of the published records. Stored before
    /// `published`.
    published_end: AtomicU64,
    /// Under `Reserve`: the ranges written and not yet published, and where appenders park until
    /// theirs is.
    publish_signal: reserve::PublishSignal,
    /// The durable offset, the sync count and group commit.
    durability: Durability,
    /// Zero-filled space past the records (only under `FsyncPolicy::Always`).
    prealloc: Preallocation,
    dir: PathBuf,
    log_path: PathBuf,
    /// Set once recovery finished: only then do the counters describe the file, and only then
    /// may a close cut it.
    recovered: bool,
    config: LogConfig,
}

thread_local! {
    /// A reusable encoding buffer per thread, so an append allocates nothing (kept modest).
    static BATCH: RefCell<RecordBatch> = RefCell::new(RecordBatch::default());
}

impl<S: SyncStrategy> Log<S> {
    /// Opens the log in `dir` (creating the directory and files if missing) and recovers it.
    pub fn open(dir: &Path, config: LogConfig) -> Result<(Log<S>, Recovery), LogError> {
        fs::create_dir_all(dir).at(dir)?;
        let log_path = dir.join(LOG_FILE);
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log_path)
            .at(&log_path)?;
        let index = SparseIndex::open(&dir.join(INDEX_FILE))?;
        let step = if config.fsync == FsyncPolicy::Always { config.preallocate_bytes } else { 0 };
        let mut log = Log {
            strategy: S::default(),
            file,
            index,
            next_offset: AtomicU64::new(0),
            end_position: AtomicU64::new(0),
            published: AtomicU64::new(0),
            published_end: AtomicU64::new(0),
            publish_signal: reserve::PublishSignal::default(),
            durability: Durability::new(config.fsync, config.sync_hook.clone()),
            prealloc: Preallocation::new(step),
            dir: dir.to_path_buf(),
            log_path,
            recovered: false,
            config,
        };
        let recovery = log.recover()?;
        Ok((log, recovery))
    }

    /// The recovery described in the module docs. Runs before the log is shared.
    fn recover(&mut self) -> Result<Recovery, LogError> {
        let log_bytes = self.file.metadata().at(&self.log_path)?.len();
        let mut rec = Recovery { log_bytes_before: log_bytes, ..Recovery::default() };
        let max = self.config.max_message_bytes;

        // A partial trailing index entry is cut first.
        let index_bytes = self.index.file_bytes()?;
        let mut entries = index_bytes / INDEX_ENTRY_BYTES;
        if index_bytes % INDEX_ENTRY_BYTES != 0 {
            rec.index_entries_dropped += 1;
        }

        // Walk back from the last entry to one that names a valid record with its offset.
        let mut start = None;
        while entries > 0 {
            let e = self.index.entry(entries - 1)?;
            if let Some(header) = self.record_at(e.position, log_bytes, max)? {
                if header.offset == e.offset {
                    start = Some(e);
                    break;
                }
            }
            entries -= 1;
            rec.index_entries_dropped += 1;
        }
        self.index.truncate(entries)?;

        // Scan forward, validating each record; the first bad one ends the valid log.
        let mut position = start.map_or(0, |e| e.position);
        // The highest offset scanned, not the last: a record out of order at the tail (damage,
        // or an unsynchronized append) must not have an offset after it handed out again.
        let mut highest: Option<u64> = None;
        let mut expected = start.map_or(0, |e| e.offset);
        let mut last_indexed = start.map(|e| e.offset);
        let mut missing = Vec::new();
        let mut reader = WindowReader::new(&self.file, &self.log_path, log_bytes);
        while let Some(header) = reader.record(position, max)? {
            if header.offset != expected {
                rec.records_out_of_order += 1;
            }
            // Index entries are added only while the offsets run on one by one: an entry past a
            // break would make the next open scan from it, past the record that broke the run,
            // and restore another next offset.
            let in_run = rec.records_out_of_order == 0;
            if in_run && header.offset % INDEX_INTERVAL == 0 && last_indexed.is_none_or(|l| header.offset > l)
            {
                missing.extend_from_slice(&IndexEntry { offset: header.offset, position }.to_bytes());
                last_indexed = Some(header.offset);
            }
            expected = header.offset.saturating_add(1);
            highest = highest.max(Some(header.offset));
            position += header.record_bytes();
            rec.records_scanned += 1;
        }
        if !missing.is_empty() {
            rec.index_entries_added = missing.len() as u64 / INDEX_ENTRY_BYTES;
            self.index.append_encoded(&missing)?;
        }
        if position < log_bytes {
            // Zeros are the preallocated space only where this policy makes them; elsewhere
            // (and for a torn tail that happens to be zero bytes) the tail is torn.
            if self.prealloc.enabled() && self.all_zero(position, log_bytes)? {
                rec.zero_tail_bytes = log_bytes - position;
            } else {
                rec.truncated_bytes = log_bytes - position;
            }
            self.file.set_len(position).at(&self.log_path)?;
        }
        self.prealloc.recovered(position);
        if rec.repaired() || rec.zero_tail_bytes > 0 {
            self.file.sync_data().at(&self.log_path)?;
            self.index.sync()?;
        }
        // Preallocation starts with the first append, not here: opening a broker with many
        // topics writes nothing.
        self.recovered = true;
        // Past the highest offset scanned (see `highest`). Saturating: a damaged log may end
        // with a record claiming offset u64::MAX, which has no successor. The next offset then
        // stays u64::MAX, and appends are refused (`OffsetsExhausted`) instead of wrapping
        // around to offset 0.
        let next = highest.map_or(0, |o| o.saturating_add(1));
        rec.next_offset = next;
        self.end_position.store(position, Release);
        self.next_offset.store(next, Release);
        self.published_end.store(position, Release);
        self.published.store(next, Release);
        // Whatever survived a restart is as durable as it will get.
        self.durability.recovered(next);
        Ok(rec)
    }

    /// Whether `log.dat[from..to]` is all zero bytes.
    fn all_zero(&self, from: u64, to: u64) -> Result<bool, LogError> {
        let mut buf = vec![0u8; 1 << 20];
        let mut at = from;
        while at < to {
            let n = (to - at).min(buf.len() as u64) as usize;
            self.file.read_exact_at(&mut buf[..n], at).at(&self.log_path)?;
            if buf[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            at += n as u64;
        }
        Ok(true)
    }

    /// The valid header at `position`, if a whole record with a matching CRC is there.
    fn record_at(&self, position: u64, log_bytes: u64, max: u32) -> Result<Option<RecordHeader>, LogError> {
        WindowReader::new(&self.file, &self.log_path, log_bytes).record(position, max)
    }

    /// The strategy guarding this log.
    pub fn strategy(&self) -> &S {
        &self.strategy
    }

    /// The topic directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The offset the next record will get.
    pub fn next_offset(&self) -> u64 {
        self.next_offset.load(Acquire)
    }

    /// The byte length of the valid log.
    pub fn end_position(&self) -> u64 {
        self.end_position.load(Acquire)
    }

    /// The offset below which records may be served: the durable offset under
    /// `FsyncPolicy::Always`, else the next offset.
    pub fn high_watermark(&self) -> u64 {
        self.durability.high_watermark(self.visible().0)
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Appends one message; returns its offset.
    pub fn append(&self, payload: &[u8]) -> Result<u64, LogError> {
        self.append_batch(std::slice::from_ref(&payload))
    }

    /// Appends messages contiguously with one positional write; returns the first one's offset.
    /// An empty batch appends nothing and returns the next offset.
    pub fn append_batch<P: AsRef<[u8]>>(&self, payloads: &[P]) -> Result<u64, LogError> {
        let max = self.config.max_message_bytes;
        for p in payloads {
            let size = p.as_ref().len();
            if size > max as usize {
                return Err(LogError::MessageTooLarge { size, max });
            }
        }
        if payloads.is_empty() {
            return Ok(self.next_offset());
        }
        BATCH.with(|cell| {
            // A reentrant call on this thread (never done by the broker) gets its own buffer.
            let mut own;
            let mut borrowed = cell.try_borrow_mut();
            let batch: &mut RecordBatch = match borrowed.as_deref_mut() {
                Ok(b) => b,
                Err(_) => {
                    own = RecordBatch::default();
                    &mut own
                }
            };
            batch.clear();
            // Copy the payloads and CRC them (as if at offset 0) before taking the lock: inside
            // it only the offsets and a constant-time CRC correction per record remain.
            batch.push_all(payloads);
            let appended = self.append_encoded(batch);
            // The thread may now wait long for its next append: keep only a modest buffer.
            batch.clear_and_shrink();
            appended
        })
    }

    /// Appends the records encoded in `batch` and, under `FsyncPolicy::Always`, waits until
    /// they are durable.
    fn append_encoded(&self, batch: &mut RecordBatch) -> Result<u64, LogError> {
        // After a failed sync nothing can be promised durable: refuse before writing, so a
        // restart does not find (and serve) messages whose producers were told they failed.
        if self.durability.refuses_appends() {
            return Err(LogError::SyncFailed { path: self.log_path.clone() });
        }
        let base = match self.config.append {
            AppendMode::Whole => self.strategy.write(|| self.append_section(batch))?,
            AppendMode::Reserve => self.append_reserved(batch)?,
        };
        if self.durability.always() {
            // Outside the write section: other appenders go on while this one waits, and
            // join the same sync if they land before it starts (group commit).
            let bytes = batch.bytes().len() as u64;
            let waited = self.durability.wait_durable(bytes, || self.sync_data(), &self.log_path);
            // A sync that failed after another had covered these records: they are durable,
            // and the cut that follows the failure keeps them.
            if let Err(e) = waited {
                if self.durability.durable_offset() < base + batch.len() as u64 {
                    return Err(e);
                }
            }
        }
        Ok(base)
    }

    /// What readers and syncs may see, as (next offset, end position), the offset loaded
    /// first: under `Whole` the log's counters, under `Reserve` the publish watermark.
    fn visible(&self) -> (u64, u64) {
        match self.config.append {
            AppendMode::Whole => (self.next_offset.load(Acquire), self.end_position.load(Acquire)),
            AppendMode::Reserve => (self.published.load(Acquire), self.published_end.load(Acquire)),
        }
    }

    /// Steps 1–7 of the module docs. Runs inside the strategy's write section.
    fn append_section(&self, batch: &mut RecordBatch) -> Result<u64, LogError> {
        // An append that passed the check above while a failed sync was being cut back must
        // not write past the cut (see `cut_to_durable`).
        if self.durability.refuses_appends() {
            return Err(LogError::SyncFailed { path: self.log_path.clone() });
        }
        let offset = self.next_offset.load(Acquire); // 1. check …
        let position = self.end_position.load(Acquire); // 2.
        let n = batch.len() as u64;
        // Only a damaged log (records claiming offsets near u64::MAX) runs out of offsets.
        let Some(end_offset) = offset.checked_add(n) else {
            return Err(LogError::OffsetsExhausted { next: offset, count: n });
        };
        let record_bytes = batch.bytes().len() as u64;
        self.config.race_window.at(RacePoint::Loaded { offset, position, record_bytes }); // 3.
        batch.assign_offsets(offset);
        // Preallocation (module docs): inside the section, but not one of the race's steps; it
        // never writes below the space already handed out, so never on a record.
        self.prealloc.ensure(&self.file, position + record_bytes);
        self.file.write_all_at(batch.bytes(), position).at(&self.log_path)?; // 4. … act
        self.prealloc.written(position + record_bytes);

        // 5. An index entry for each multiple of the interval inside [offset, end_offset).
        let mut due = index_entries_due(batch, offset, position, INDEX_INTERVAL).peekable();
        if due.peek().is_some() {
            let mut entries = Vec::with_capacity(16);
            for entry in due {
                entries.extend_from_slice(&entry.to_bytes());
            }
            self.index.append_encoded(&entries)?;
        }
        self.config.race_window.at(RacePoint::Written { offset, position, record_bytes });
        self.end_position.store(position + record_bytes, Release); // 6.
        self.next_offset.store(end_offset, Release); // 7.
        Ok(offset)
    }

    /// Forces everything written so far to disk (`fdatasync`) and raises the durable offset.
    pub fn sync_data(&self) -> Result<(), LogError> {
        // Everything stored before this load was written before it: the sync covers it.
        let covered = self.visible().0;
        let result = self.durability.sync_file(&self.file, &self.log_path, covered);
        if result.is_err() {
            // The error that matters is the sync's; a cut that fails too leaves the records
            // for recovery, as a crash would.
            let _ = self.cut_to_durable();
        }
        result
    }

    /// After a failed sync: cuts `log.dat` and the index back to the last durable record, so
    /// that neither a reader nor a restart finds records that were never durable (under
    /// `always` their producers were told the append failed). Runs inside the write section:
    /// appends already in it finish first, and any after it find the poison and write nothing.
    /// Under `Reserve`, whose writes run outside the section, it first waits (outside the
    /// section) for the appenders that reserved before the poison to finish writing, and holds
    /// the publish lock, so none writes past the cut and none is published after it (they find
    /// the poison).
    /// Under `none` nothing excludes appenders, and the cut races with them like everything else.
    fn cut_to_durable(&self) -> Result<(), LogError> {
        self.wait_for_writers();
        let _no_publication = self.stop_publication();
        self.strategy.write(|| {
            let durable = self.durability.durable_offset();
            self.refuse_publication_from(durable);
            let end = self.end_position.load(Acquire);
            if durable >= self.next_offset.load(Acquire) {
                return Ok(());
            }
            let cut = self.position_of(durable, end)?;
            let mut keep = self.index.len();
            while keep > 0 && self.index.entry(keep - 1)?.offset >= durable {
                keep -= 1;
            }
            self.index.truncate(keep)?;
            self.file.set_len(cut).at(&self.log_path)?;
            self.prealloc.recovered(cut);
            self.end_position.store(cut, Release);
            self.next_offset.store(durable, Release);
            self.published_end.store(cut, Release);
            self.published.store(durable, Release);
            Ok(())
        })
    }

    /// The byte position of the record with offset `target` (or of the first record at or past
    /// it, or of the first invalid one) scanning from the index, within `end`.
    fn position_of(&self, target: u64, end: u64) -> Result<u64, LogError> {
        let mut position = match self.index.lookup(target)? {
            Some(e) if e.position < end => e.position,
            _ => 0,
        };
        let mut reader = WindowReader::new(&self.file, &self.log_path, end);
        while position < end {
            match reader.record(position, self.config.max_message_bytes)? {
                Some(h) if h.offset < target => position += h.record_bytes(),
                _ => break,
            }
        }
        Ok(position)
    }

    /// Whether a sync of this log has failed: from then on it refuses appends (until a restart).
    pub fn sync_failed(&self) -> bool {
        self.durability.sync_failed()
    }

    /// Whether the log refuses appends (until a restart): a sync has failed, or under
    /// `AppendMode::Reserve` a write has.
    pub fn refuses_appends(&self) -> bool {
        self.durability.refuses_appends()
    }

    /// How many appends are parked waiting for another's sync right now (`FsyncPolicy::Always`).
    pub fn sync_waiters(&self) -> usize {
        self.durability.waiting()
    }

    /// How many times the file was forced to disk ([`Log::sync_data`] and group commit's
    /// syncs), and what that took.
    pub fn sync_totals(&self) -> SyncTotals {
        self.durability.sync_totals()
    }
}

impl<S: SyncStrategy> Drop for Log<S> {
    fn drop(&mut self) {
        // A clean close cuts the preallocated zeros and leaves the data on disk whatever the
        // policy; errors here have nowhere to go, and the next open recovers anyway.
        // Only after a finished recovery: a failed one leaves the counters at 0, and the file
        // must then stay exactly as it was found.
        if let Some(end) = self.prealloc.close_at(self.end_position.load(Acquire)).filter(|_| self.recovered)
        {
            let _ = self.file.set_len(end);
        }
        if self.config.fsync != FsyncPolicy::Never {
            let _ = self.file.sync_data();
        }
    }
}

/// Step 5's index entries for `batch`, encoded with its first offset `offset` and written at
/// byte `position`: one for each multiple of `interval` among `offset..offset + batch.len()`,
/// naming that record's first byte. `Log` passes [`INDEX_INTERVAL`]; the loom model of the
/// append (`storage::model`, compiled only under `--cfg loom`) shares this arithmetic with a
/// smaller interval, so that a few records cross it.
pub(crate) fn index_entries_due(
    batch: &RecordBatch,
    offset: u64,
    position: u64,
    interval: u64,
) -> impl Iterator<Item = IndexEntry> + '_ {
    // Checked: near u64::MAX (a damaged log) there may be no next multiple.
    let end = offset.saturating_add(batch.len() as u64);
    let first = offset.checked_next_multiple_of(interval).filter(|&d| d < end);
    std::iter::successors(first, move |&d| d.checked_add(interval).filter(|&d| d < end)).map(move |due| {
        IndexEntry { offset: due, position: position + batch.start_of((due - offset) as usize) as u64 }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::record::{encode_record, HEADER_BYTES, RETAINED_BATCH_BYTES};
    use crate::strategies::RwLockSync;

    /// A topic directory holding records with these offsets (payload `b"x"`), and no index.
    fn topic_with(offsets: &[u64]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = Vec::new();
        for &offset in offsets {
            encode_record(offset, b"x", &mut log);
        }
        fs::write(dir.path().join(LOG_FILE), &log).expect("write log.dat");
        dir
    }

    fn open(dir: &Path) -> (Log<RwLockSync>, Recovery) {
        Log::open(dir, LogConfig::default()).expect("open")
    }

    #[test]
    fn the_threads_record_buffer_stays_modest_after_a_large_append() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, _) = open(dir.path());
        let capacity = || BATCH.with(|b| b.borrow().capacity_bytes());
        // Batches of 100 messages of 100 bytes reuse one buffer.
        log.append_batch(&vec![[1u8; 100]; 100]).expect("append");
        let reused = capacity();
        assert!(reused > 0);
        log.append_batch(&vec![[2u8; 100]; 100]).expect("append");
        assert_eq!(capacity(), reused, "the same buffer, not a new one");
        // 300 000 empty messages need some 9 MiB to encode, given back once written.
        assert_eq!(log.append_batch(&[[0u8; 0]; 300_000]).expect("append"), 200);
        assert!(capacity() <= RETAINED_BATCH_BYTES, "{} bytes kept", capacity());
        assert_eq!(log.next_offset(), 300_200);
        assert_eq!(log.end_position(), 200 * 116 + 300_000 * HEADER_BYTES as u64);
    }

    /// Found by the `recover_log` fuzz target: recovery computed `last offset + 1`, which
    /// overflowed (a panic in debug builds; in release the log wrapped to offset 0).
    #[test]
    fn a_log_ending_at_offset_u64_max_opens_and_refuses_appends() {
        let dir = topic_with(&[0, u64::MAX]);
        let (log, recovery) = open(dir.path());
        assert_eq!((recovery.records_scanned, recovery.truncated_bytes), (2, 0), "nothing is cut");
        assert_eq!(log.next_offset(), u64::MAX);
        let end = log.end_position();
        let refused = log.append(b"y");
        assert!(
            matches!(refused, Err(LogError::OffsetsExhausted { next: u64::MAX, count: 1 })),
            "{refused:?}"
        );
        assert_eq!(
            (log.next_offset(), log.end_position()),
            (u64::MAX, end),
            "a refused append writes nothing"
        );
        let served: Vec<u64> = log.read(0, 10, u32::MAX).expect("read").iter().map(|(o, _)| o).collect();
        assert_eq!(served, [0], "the record at u64::MAX is at the high watermark, never served");
    }

    /// Appends near the top of the offset space take the offsets there are, up to u64::MAX - 1
    /// (whose successor, the next offset, is u64::MAX), then are refused whole; the index
    /// arithmetic (the next multiple of 100) must not overflow on the way.
    #[test]
    fn appends_use_the_last_offsets_then_are_refused() {
        let top_entry = u64::MAX - u64::MAX % INDEX_INTERVAL; // the greatest multiple of 100
        let dir = topic_with(&[top_entry - 2]);
        let (log, _) = open(dir.path());
        assert_eq!(log.append_batch(&[b"a", b"b", b"c"]).expect("room for three"), top_entry - 1);
        let left = u64::MAX - log.next_offset();
        let too_many = vec![b"d"; left as usize + 1];
        let refused = log.append_batch(&too_many);
        assert!(matches!(refused, Err(LogError::OffsetsExhausted { .. })), "{refused:?}");
        assert_eq!(log.append_batch(&too_many[1..]).expect("exactly the offsets left"), top_entry + 2);
        assert_eq!(log.next_offset(), u64::MAX);
        assert!(matches!(log.append(b"e"), Err(LogError::OffsetsExhausted { next: u64::MAX, count: 1 })));
        assert_eq!(log.index.entry(0).expect("entry").offset, top_entry, "the top multiple is indexed");
        drop(log);
        let (log, recovery) = open(dir.path());
        assert!(!recovery.repaired(), "{recovery:?}");
        assert_eq!(log.next_offset(), u64::MAX);
    }
}
