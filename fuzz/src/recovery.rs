//! `recover_log`: arbitrary files through `verify`, `Log::open` (recovery), reads, an append and
//! reopens.
//!
//! `docs/format.md`, "Recovery": *Open: check the last index entry points at a valid record (else drop
//! entries back to one that does), scan forward from it validating length and CRC, truncate a
//! torn or corrupt tail, append missing index entries, restore the next offset … Damage before
//! the last index entry is not repaired at open: `verify` reports it, and a fetch never serves
//! a record failing its CRC.* From that, for **any** pair of files:
//!
//! 1. `verify` (before and after) and `open` return `Ok` and never panic: bytes on disk are data,
//!    not a program's invariants.
//! 2. Recovery only cuts: the log afterwards is a prefix of the log before, exactly
//!    `end_position` long; the index is a whole-entry prefix of the index before plus the
//!    entries it added, each naming a valid record at an interval offset; the [`Recovery`]
//!    report counts exactly that.
//! 3. The tail is clean: the last index entry (if any) names a valid record with its offset,
//!    and valid records follow each other from it to exactly the end of the log; the next
//!    offset is one past the highest of their offsets (the last one's, in a healthy log). The
//!    bytes cut off did not start with a valid record.
//! 4. Recovery is idempotent: a second open repairs nothing and restores the same next offset
//!    and end position.
//! 5. A read never serves a record that fails its CRC: every record served is, byte for byte, a
//!    valid record in the log, with an offset at or past the one asked for and below the high
//!    watermark; below the next offset it serves at least one record or fails, and only with
//!    `Corrupt` or `Missing` (damage); at the next offset it returns nothing, past it
//!    `OffsetOutOfRange`.
//! 6. An append after recovery lands at the end, gets the next offset, and survives a reopen
//!    that repairs nothing. When the next offset is `u64::MAX` (the last record claims
//!    `u64::MAX - 1` or `u64::MAX`) there is no offset left to give: the append is refused with
//!    `OffsetsExhausted` and writes nothing.
//!
//! And for files that `verify` finds clean (no violation at all): the open repairs nothing,
//! the next offset is the number of records, reads from offset 0 return every record in order,
//! the appended record reads back, and `verify` still finds the files clean after the append.
//!
//! A log whose *last index entry* points at a valid record nested inside another record's
//! payload is recovered from that inner record on, as the sentence above says, and the outer
//! record is cut; no check here pretends otherwise.

use crate::image::LogImage;
use std::collections::HashMap;
use std::fs;
use std::path::Path;
use synclog::storage::record::{check_record, encode_record};
use synclog::storage::{
    IndexEntry, Log, LogConfig, LogError, RecordHeader, Recovery, HEADER_BYTES, INDEX_ENTRY_BYTES,
    INDEX_FILE, INDEX_INTERVAL, LOG_FILE,
};
use synclog::strategies::RwLockSync;

/// `max_messages` and `max_bytes` of the reads from offset 0: small enough that a log takes
/// several rounds and a large payload meets the "at least one record" rule, large enough that
/// a log with no index (each round scans from byte 0) stays fast.
const READ_MESSAGES: u32 = 100;
const READ_BYTES: u32 = 4096;

/// The payload appended after recovery.
const APPENDED: &[u8] = b"appended after recovery";

/// Runs every check on one input.
pub fn check_recover_log(data: &[u8]) {
    let image = LogImage::from_fuzz_input(data);
    let scratch = scratch_dir();
    let topic = scratch.path().join("topic");
    fs::create_dir(&topic).expect("create the topic directory");
    fs::write(topic.join(LOG_FILE), &image.log).expect("write log.dat");
    fs::write(topic.join(INDEX_FILE), &image.index).expect("write index.dat");
    check_topic(&topic, &image);
}

/// A temporary directory, in memory (`/dev/shm`) where there is one: recovery syncs the files
/// it repairs, and a disk would make that the cost of every input.
fn scratch_dir() -> tempfile::TempDir {
    match tempfile::Builder::new().prefix("synclog-fuzz-").tempdir_in("/dev/shm") {
        Ok(dir) => dir,
        Err(_) => tempfile::tempdir().expect("create a temporary directory"),
    }
}

fn config(image: &LogImage) -> LogConfig {
    LogConfig { max_message_bytes: image.max_message_bytes, ..LogConfig::default() }
}

fn open(topic: &Path, image: &LogImage) -> (Log<RwLockSync>, Recovery) {
    match Log::<RwLockSync>::open(topic, config(image)) {
        Ok(opened) => opened,
        Err(error) => panic!("open must recover any files, but failed: {error}"),
    }
}

fn check_topic(topic: &Path, image: &LogImage) {
    let max = image.max_message_bytes;
    let before = synclog::storage::verify_topic(topic, max, None).expect("verify reads any files");
    let clean = before.violations.is_clean();

    // 1–3: the first open, and what it left on disk.
    let (log, recovery) = open(topic, image);
    let (next, end) = (log.next_offset(), log.end_position());
    let log_after = fs::read(topic.join(LOG_FILE)).expect("read log.dat");
    let index_after = fs::read(topic.join(INDEX_FILE)).expect("read index.dat");
    check_only_cut(image, &recovery, &log_after, &index_after, next, end);
    check_clean_tail(image, &log_after, &index_after, next);
    if clean {
        assert!(!recovery.repaired(), "a log verify finds clean was repaired: {recovery:?}");
        assert_eq!(next, before.records, "the next offset of a clean log is its record count");
    }
    drop(log);

    // 4: a second open finds nothing to do.
    let (log, again) = open(topic, image);
    assert!(!again.repaired(), "a second open repaired again: {again:?} after {recovery:?}");
    assert_eq!((log.next_offset(), log.end_position()), (next, end), "a second open moved the end");

    // 5: reads.
    check_reads(&log, &log_after, image, next, clean);

    // 6: an append.
    let Some(after_append) = next.checked_add(1) else {
        let refused = log.append(APPENDED);
        assert!(matches!(refused, Err(LogError::OffsetsExhausted { .. })), "append at u64::MAX: {refused:?}");
        assert_eq!(
            fs::read(topic.join(LOG_FILE)).expect("read log.dat"),
            log_after,
            "a refused append wrote"
        );
        return;
    };
    let offset = log.append(APPENDED).expect("an append after recovery succeeds");
    assert_eq!(offset, next, "the append got the next offset");
    let mut expected = log_after.clone();
    encode_record(offset, APPENDED, &mut expected);
    assert_eq!(
        fs::read(topic.join(LOG_FILE)).expect("read log.dat"),
        expected,
        "the append landed at the end"
    );
    match log.read(offset, 1, 0) {
        Ok(batch) => {
            // Only the appended offset is below the high watermark and at or past `offset`.
            let served: Vec<(u64, &[u8])> = batch.iter().collect();
            assert!(served.iter().all(|&(o, _)| o == offset), "read at {offset} served {served:?}");
            if clean {
                assert_eq!(served, [(offset, APPENDED)], "the appended record reads back");
            }
        }
        Err(LogError::Corrupt { .. }) if !clean => {}
        Err(error) => panic!("reading the appended record failed: {error}"),
    }
    drop(log);
    let (log, third) = open(topic, image);
    assert!(!third.repaired(), "the open after an append repaired: {third:?}");
    assert_eq!(log.next_offset(), after_append);
    drop(log);

    let after = synclog::storage::verify_topic(topic, max, None).expect("verify reads any files");
    if clean {
        assert!(after.violations.is_clean(), "a clean log is not clean after an append: {after:?}");
    }
}

/// 2: the files after open are the files before, cut, plus the index entries recovery added.
fn check_only_cut(
    image: &LogImage,
    recovery: &Recovery,
    log_after: &[u8],
    index_after: &[u8],
    next: u64,
    end: u64,
) {
    assert_eq!(recovery.next_offset, next);
    assert_eq!(recovery.log_bytes_before, image.log.len() as u64);
    assert_eq!(log_after.len() as u64, end, "log.dat ends where the valid log ends");
    assert!(image.log.starts_with(log_after), "recovery changed log bytes instead of cutting them");
    assert_eq!(recovery.truncated_bytes, image.log.len() as u64 - end);

    let entry_bytes = INDEX_ENTRY_BYTES as usize;
    assert_eq!(index_after.len() % entry_bytes, 0, "a partial index entry survived the open");
    let entries_after = (index_after.len() / entry_bytes) as u64;
    let added = recovery.index_entries_added;
    let kept = entries_after.checked_sub(added).expect("no more entries added than there are");
    let kept_bytes = kept as usize * entry_bytes;
    assert!(kept_bytes <= image.index.len(), "the index grew by more than the entries added");
    assert_eq!(&index_after[..kept_bytes], &image.index[..kept_bytes], "kept entries changed");
    let partial = u64::from(image.index.len() % entry_bytes != 0);
    let whole_before = (image.index.len() / entry_bytes) as u64;
    assert_eq!(recovery.index_entries_dropped, whole_before - kept + partial);
    for entry in entries(&index_after[kept_bytes..]) {
        assert_eq!(entry.offset % INDEX_INTERVAL, 0, "an added entry is off the interval: {entry:?}");
        let header = record_at(log_after, entry.position, image.max_message_bytes);
        assert_eq!(header.map(|h| h.offset), Some(entry.offset), "an added entry names no record");
    }
}

/// 3: from the last index entry, valid records run to the end, and nothing valid was cut.
fn check_clean_tail(image: &LogImage, log_after: &[u8], index_after: &[u8], next: u64) {
    let max = image.max_message_bytes;
    let start = match entries(index_after).last() {
        Some(last) => {
            let header = record_at(log_after, last.position, max);
            assert_eq!(header.map(|h| h.offset), Some(last.offset), "the last index entry {last:?}");
            last.position
        }
        None => 0,
    };
    let (records, chain_end) = chain(log_after, start, max);
    assert_eq!(chain_end, log_after.len() as u64, "records from the last index entry stop short");
    let expected_next = match records.iter().map(|&(offset, _)| offset).max() {
        Some(highest) => highest.checked_add(1).unwrap_or(highest),
        None => 0,
    };
    assert_eq!(next, expected_next, "the next offset is one past the highest offset from the last index entry on");
    if log_after.len() < image.log.len() {
        let cut = record_at(&image.log, log_after.len() as u64, max);
        assert_eq!(cut, None, "recovery cut a valid record off the tail");
    }
}

/// 5: what reads serve.
fn check_reads(log: &Log<RwLockSync>, log_after: &[u8], image: &LogImage, next: u64, clean: bool) {
    let stored = valid_records(log_after, image.max_message_bytes);
    let mut served_all = Vec::new();
    let mut requested = 0u64;
    // Each round asks past the greatest offset served so far, so rounds ≤ distinct offsets.
    while requested < next {
        let batch = match log.read(requested, READ_MESSAGES, READ_BYTES) {
            Ok(batch) => batch,
            Err(LogError::Corrupt { .. } | LogError::Missing { .. }) if !clean => break,
            Err(error) => panic!("read at {requested} (next offset {next}) failed: {error}"),
        };
        assert_eq!(batch.high_watermark, next);
        assert!(batch.len() <= READ_MESSAGES as usize, "a read served more than max_messages");
        let mut greatest = requested;
        for (offset, payload) in batch.iter() {
            assert!(offset >= requested && offset < next, "read at {requested} served offset {offset}");
            let mut record = Vec::with_capacity(payload.len() + HEADER_BYTES);
            encode_record(offset, payload, &mut record);
            let header = RecordHeader::parse(&record).expect("an encoded record has a header");
            let same_header = stored.get(&(header.offset, header.payload_bytes, header.crc));
            let is_stored = same_header
                .is_some_and(|positions| positions.iter().any(|&at| payload_at(log_after, at) == payload));
            assert!(is_stored, "a read served offset {offset}, which is no valid record in the log");
            greatest = greatest.max(offset);
            served_all.push((offset, payload.to_vec()));
        }
        assert!(!batch.is_empty(), "a read at {requested} below the next offset {next} was empty");
        requested = greatest + 1;
    }
    if clean {
        let (records, _) = chain(log_after, 0, image.max_message_bytes);
        let expected: Vec<(u64, Vec<u8>)> = records
            .iter()
            .map(|&(offset, position)| (offset, payload_at(log_after, position).to_vec()))
            .collect();
        assert_eq!(served_all, expected, "reads from 0 of a clean log return every record in order");
    }
    match log.read(next, 1, 0) {
        Ok(batch) => assert!(batch.is_empty(), "a read at the next offset served records"),
        Err(error) => panic!("a read at the next offset {next} failed: {error}"),
    }
    if let Some(past) = next.checked_add(1) {
        assert!(matches!(log.read(past, 1, 0), Err(LogError::OffsetOutOfRange { .. })));
    }
}

/// The positions of every valid record in `log`, wherever it starts (at a record boundary or
/// not), by header: a read may serve any of them, and nothing else.
fn valid_records(log: &[u8], max: u32) -> HashMap<(u64, u32, u32), Vec<u64>> {
    let mut records: HashMap<_, Vec<u64>> = HashMap::new();
    for position in 0..log.len() as u64 {
        if let Some(header) = record_at(log, position, max) {
            records.entry((header.offset, header.payload_bytes, header.crc)).or_default().push(position);
        }
    }
    records
}

fn entries(index: &[u8]) -> impl DoubleEndedIterator<Item = IndexEntry> + '_ {
    index
        .chunks_exact(INDEX_ENTRY_BYTES as usize)
        .filter_map(|chunk| chunk.try_into().ok().map(IndexEntry::from_bytes))
}

/// The header of the valid record at `position`, if one is there whole.
fn record_at(log: &[u8], position: u64, max: u32) -> Option<RecordHeader> {
    let from = usize::try_from(position).ok()?;
    check_record(log.get(from..)?, max)
}

fn payload_at(log: &[u8], position: u64) -> &[u8] {
    let header = record_at(log, position, u32::MAX).expect("a record");
    let from = position as usize + HEADER_BYTES;
    &log[from..from + header.payload_bytes as usize]
}

/// The valid records that follow each other from `position`, as (offset, position), and where
/// the last of them ends.
fn chain(log: &[u8], mut position: u64, max: u32) -> (Vec<(u64, u64)>, u64) {
    let mut records = Vec::new();
    while let Some(header) = record_at(log, position, max) {
        records.push((header.offset, position));
        position += header.record_bytes();
    }
    (records, position)
}
