//! The sparse index: where to start reading for a given offset.
//!
//! A log holds millions of records of different sizes, so "where is offset 1 234 567?" cannot be
//! computed; it has to be looked up. Kafka does not index every record: it keeps a *sparse*
//! index, one entry per interval, and scans forward from the nearest entry. synclog writes one
//! entry for every offset divisible by [`INDEX_INTERVAL`] (0, 100, 200, …) to `index.dat`:
//!
//! | bytes | field (big-endian)                                  |
//! |-------|-----------------------------------------------------|
//! | 0..8  | offset: u64                                         |
//! | 8..16 | position: u64, byte position of that record in `log.dat` |
//!
//! Entries are appended in offset order, so both columns strictly increase and a lookup is a
//! binary search for the greatest entry whose offset is ≤ the target; the caller then scans the
//! log forward from that entry's position, reading at most `INDEX_INTERVAL - 1` records it does
//! not want. The file is read with positional reads (`pread`): the page cache keeps it in memory,
//! and no in-memory copy needs a lock.
//!
//! Invariant (under an exclusive write strategy): the first `entries` × 16 bytes of the file are
//! entries; entry `i` describes offset `i × 100`; `entries` only grows while the log is open,
//! but for the cut after a failed sync (inside the write section); recovery may shrink it before
//! the log is shared.

use super::error::{IoContext, LogError};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};

/// One index entry is written for every offset divisible by this (part of the format).
pub const INDEX_INTERVAL: u64 = 100;

/// Bytes per index entry.
pub const INDEX_ENTRY_BYTES: u64 = 16;

/// One entry of `index.dat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// The offset of the record the entry points at.
    pub offset: u64,
    /// The byte position of that record's first byte in `log.dat`.
    pub position: u64,
}

impl IndexEntry {
    /// Encodes the entry as 16 big-endian bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.offset.to_be_bytes());
        b[8..].copy_from_slice(&self.position.to_be_bytes());
        b
    }

    /// Decodes 16 big-endian bytes.
    pub fn from_bytes(b: &[u8; 16]) -> IndexEntry {
        let mut offset = [0u8; 8];
        let mut position = [0u8; 8];
        offset.copy_from_slice(&b[..8]);
        position.copy_from_slice(&b[8..]);
        IndexEntry { offset: u64::from_be_bytes(offset), position: u64::from_be_bytes(position) }
    }
}

/// `index.dat`, opened for positional reads and writes.
pub struct SparseIndex {
    file: File,
    path: PathBuf,
    /// How many whole entries the file holds. Loaded and stored (never `fetch_add`ed) by one
    /// writer at a time: inside the log's write section under `AppendMode::Whole`, like the
    /// log's own counters (under `NoSync` it races too), under the publish lock under `Reserve`.
    entries: AtomicU64,
}

impl SparseIndex {
    /// Opens (creating if missing) the index at `path`. Whole entries only are counted; a
    /// partial trailing entry is left for recovery to cut.
    pub fn open(path: &Path) -> Result<SparseIndex, LogError> {
        let file = File::options().read(true).write(true).create(true).truncate(false).open(path).at(path)?;
        let bytes = file.metadata().at(path)?.len();
        Ok(SparseIndex { file, path: path.to_path_buf(), entries: AtomicU64::new(bytes / INDEX_ENTRY_BYTES) })
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.entries.load(Acquire)
    }

    /// `true` when the index has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads entry `i` (no bounds check against `len`: the caller decides what exists).
    pub fn entry(&self, i: u64) -> Result<IndexEntry, LogError> {
        let mut b = [0u8; 16];
        self.file.read_exact_at(&mut b, i * INDEX_ENTRY_BYTES).at(&self.path)?;
        Ok(IndexEntry::from_bytes(&b))
    }

    /// The entry with the greatest offset ≤ `target` among the first `len()` entries, by binary
    /// search; `None` when there is none (start reading at byte 0).
    pub fn lookup(&self, target: u64) -> Result<Option<IndexEntry>, LogError> {
        Ok(self.lookup_numbered(target)?.map(|(_, e)| e))
    }

    /// [`SparseIndex::lookup`] with the entry's number, so a caller that finds the entry
    /// damaged can step back to the one before it.
    pub fn lookup_numbered(&self, target: u64) -> Result<Option<(u64, IndexEntry)>, LogError> {
        // Invariant of the loop: entries [0, lo) have offset ≤ target; entries [hi, n) have
        // offset > target. When lo == hi, entry lo − 1 is the answer.
        let (mut lo, mut hi) = (0, self.len());
        let mut best = None;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.entry(mid)?;
            if e.offset <= target {
                best = Some((mid, e));
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(best)
    }

    /// Entry `i - 1` with its number, or `None` before entry 0: the step back from a damaged
    /// entry found by [`SparseIndex::lookup_numbered`].
    pub fn numbered_before(&self, i: u64) -> Result<Option<(u64, IndexEntry)>, LogError> {
        match i.checked_sub(1) {
            Some(before) => Ok(Some((before, self.entry(before)?))),
            None => Ok(None),
        }
    }

    /// Appends `new` entries (already encoded, 16 bytes each) after the current last entry.
    ///
    /// Split like the log's append: load the count, write at that slot, store the new count.
    /// The caller holds the strategy's write section (`AppendMode::Whole`) or the publish lock
    /// (`Reserve`); under `NoSync` with `Whole` two appenders can write the same slot.
    pub fn append_encoded(&self, encoded: &[u8]) -> Result<(), LogError> {
        let n = self.entries.load(Acquire);
        self.file.write_all_at(encoded, n * INDEX_ENTRY_BYTES).at(&self.path)?;
        self.entries.store(n + encoded.len() as u64 / INDEX_ENTRY_BYTES, Release);
        Ok(())
    }

    /// Cuts the index to its first `entries` entries (recovery, before the log is shared; and
    /// the cut after a failed sync, inside the write section).
    pub fn truncate(&self, entries: u64) -> Result<(), LogError> {
        self.file.set_len(entries * INDEX_ENTRY_BYTES).at(&self.path)?;
        self.entries.store(entries, Release);
        Ok(())
    }

    /// Forces the index to disk.
    pub fn sync(&self) -> Result<(), LogError> {
        self.file.sync_data().at(&self.path)
    }

    /// The file's length in bytes (including a partial trailing entry).
    pub fn file_bytes(&self) -> Result<u64, LogError> {
        Ok(self.file.metadata().at(&self.path)?.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_with(entries: &[(u64, u64)]) -> (tempfile::TempDir, SparseIndex) {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = SparseIndex::open(&dir.path().join("index.dat")).expect("open");
        let mut bytes = Vec::new();
        for &(offset, position) in entries {
            bytes.extend_from_slice(&IndexEntry { offset, position }.to_bytes());
        }
        index.append_encoded(&bytes).expect("append");
        (dir, index)
    }

    #[test]
    fn lookup_finds_the_greatest_entry_at_or_below_the_target() {
        let entries: Vec<(u64, u64)> = (0..50).map(|i| (i * 100, i * 11_600)).collect();
        let (_dir, index) = index_with(&entries);
        assert_eq!(index.len(), 50);
        let at = |t| index.lookup(t).expect("lookup").map(|e| e.offset);
        assert_eq!(at(0), Some(0), "at 0");
        assert_eq!(at(1), Some(0), "just after the first entry");
        assert_eq!(at(99), Some(0), "just before a boundary");
        assert_eq!(at(100), Some(100), "at a boundary");
        assert_eq!(at(101), Some(100));
        assert_eq!(at(2_550), Some(2_500), "between");
        assert_eq!(at(4_900), Some(4_900), "at the last entry");
        assert_eq!(at(4_999), Some(4_900), "at the end");
        assert_eq!(at(1_000_000), Some(4_900), "past the end");
        assert_eq!(index.lookup(2_550).expect("lookup").map(|e| e.position), Some(25 * 11_600));
    }

    #[test]
    fn lookup_in_an_empty_index_or_below_the_first_entry_is_none() {
        let (_dir, empty) = index_with(&[]);
        assert_eq!(empty.lookup(5).expect("lookup"), None);
        let (_dir, late) = index_with(&[(100, 50)]);
        assert_eq!(late.lookup(99).expect("lookup"), None);
        assert_eq!(late.lookup(100).expect("lookup").map(|e| e.position), Some(50));
    }

    #[test]
    fn entries_round_trip_and_truncate() {
        let (_dir, index) = index_with(&[(0, 0), (100, 1600)]);
        assert_eq!(index.entry(1).expect("entry"), IndexEntry { offset: 100, position: 1600 });
        index.truncate(1).expect("truncate");
        assert_eq!(index.len(), 1);
        assert_eq!(index.file_bytes().expect("len"), 16);
        assert_eq!(index.lookup(150).expect("lookup").map(|e| e.offset), Some(0));
    }
}
