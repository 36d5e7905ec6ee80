//! `verify`: a read-only check of a topic's files (fsck), reporting the storage kinds of `docs/violations.md` (sections A and B).
//!
//! **A. The log**, scanned from byte 0 record by record, the way Kafka's recovery reads a
//! segment: a header (offset, length, CRC), then the payload. Where Kafka would stop at the
//! first bad record, the checker *resynchronizes*: it tries each later byte position until a
//! header whose length fits and whose CRC verifies, so it can say how many good records follow
//! the damage. One cause is one count:
//! - fewer than 16 bytes after the last record, a plausible length running past the end of
//!   the file with no good record after it, or nothing but zero bytes from a bad header — or
//!   from the end of the bad record it claims — to the end of the file (the preallocated space
//!   of a log not closed cleanly, maybe with a torn record in it): one `torn_tail`. (A whole
//!   record damaged in place just before such zeros is indistinguishable from a torn one, and is
//!   counted as the torn tail too; recovery cuts both alike);
//! - a length above the maximum message size, a CRC mismatch, or a length past the end with
//!   good records after it: one `corrupt_record` per damaged stretch (the resync skips the rest of that stretch);
//! - over the good records in file order: `bad_base` if the first offset is not 0, then for each
//!   record `offset_duplicate` (= previous), `offset_gap` (> previous + 1) or
//!   `offset_regression` (< previous);
//! - in topics the harness wrote (with a [`PayloadCheck`]): `payload_checksum`,
//!   `duplicate_value` and `unknown_value`.
//!
//! **B. The index**, compared with what a rebuild from the log would write: `index_size` once if
//! the file is not whole entries; `index_nonmonotonic` for each entry whose offset or position
//! is not above its predecessor's; then for each entry the first that applies of `index_stale`
//! (at or past the end of the last good record), `index_dangling` (inside the log but not at a
//! record boundary), `index_extra` (offset off the interval) and `index_wrong_target` (the record
//! there has another offset); and `index_missing` for each multiple of 100 held by a good record
//! that no entry names.
//!
//! Nothing here writes: verify opens both files read-only and never takes a strategy's lock, so
//! it may run beside a live broker (it then sees a moment's snapshot, possibly mid-append).

use super::error::{IoContext, LogError};
use super::index::{IndexEntry, INDEX_ENTRY_BYTES, INDEX_INTERVAL};
use super::log::{INDEX_FILE, LOG_FILE};
use super::reader::WindowReader;
use super::record::{RecordHeader, HEADER_BYTES};
use super::topic::validate_topic_name;
use crate::violations::{Example, Section, ViolationKind as K, Violations};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

/// What a payload checker says of one stored payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadVerdict {
    /// A payload the producer `producer` sent as `seq`, seen for the first time.
    Ok { producer: u32, seq: u64 },
    /// The record's CRC passed but the producer's own checksum fails.
    Checksum,
    /// A well-formed payload that no producer of the run sent.
    Unknown,
    /// A payload already stored at an earlier offset.
    Duplicate { producer: u32, seq: u64 },
}

/// Checks payloads of a topic the harness wrote (it knows the seed, producers and sizes).
/// `Send`: [`verify_data_dir`] scans topics on all cores, each with its own check.
pub trait PayloadCheck: Send {
    /// Judges one payload, in file order.
    fn check(&mut self, payload: &[u8]) -> PayloadVerdict;
}

/// The result of verifying one topic.
#[derive(Debug, Clone)]
pub struct TopicReport {
    /// The topic's name.
    pub topic: String,
    /// Sections A and B (the payload kinds only when a payload check ran).
    pub violations: Violations,
    /// Good records found (including after a resync).
    pub records: u64,
    /// Bytes in `log.dat`.
    pub log_bytes: u64,
    /// Where the last good record ends.
    pub valid_end: u64,
    /// Whole entries in `index.dat`.
    pub index_entries: u64,
}

/// Verifies the topic stored in `topic_dir`. `max_message_bytes` is the largest length a
/// valid header may claim; `payloads` checks the payload kinds when given.
pub fn verify_topic(
    topic_dir: &Path,
    max_message_bytes: u32,
    payloads: Option<&mut dyn PayloadCheck>,
) -> Result<TopicReport, LogError> {
    let topic = topic_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut v = Violations::new();
    v.checked(Section::Index);
    for &kind in K::ALL.iter().filter(|k| k.section() == Section::Log) {
        let payload_kind = matches!(kind, K::PayloadChecksum | K::DuplicateValue | K::UnknownValue);
        if !payload_kind || payloads.is_some() {
            v.check_kind(kind);
        }
    }

    let log_path = topic_dir.join(LOG_FILE);
    let (records, log_bytes) = match open_regular(&log_path) {
        Ok(file) => {
            let log_bytes = file.metadata().at(&log_path)?.len();
            let scan = scan_log(&file, &log_path, log_bytes, max_message_bytes, &topic, payloads, &mut v)?;
            (scan, log_bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (LogScan::default(), 0),
        Err(e) => return Err(LogError::io(&log_path, e)),
    };
    let valid_end = records.valid_end;
    let index_entries = check_index(&topic_dir.join(INDEX_FILE), &records, valid_end, &topic, &mut v)?;
    Ok(TopicReport {
        topic,
        violations: v,
        records: records.positions.len() as u64,
        log_bytes,
        valid_end,
        index_entries,
    })
}

/// The good records of a log, in file order.
#[derive(Default)]
struct LogScan {
    positions: Vec<u64>,
    offsets: Vec<u64>,
    valid_end: u64,
    /// Where each damaged stretch starts (a record boundary: the end of the good record before
    /// it, or byte 0), in order.
    damaged: Vec<u64>,
}

/// What the scan found at one position.
enum Found {
    /// A whole record with a matching CRC.
    Good(RecordHeader),
    /// A record that fails its check, for this reason.
    Bad(RecordHeader, &'static str),
    /// The end of what can be scanned (a torn tail was reported, or no header parses).
    End,
}

/// One forward scan over `log.dat`, reporting into `v`.
struct Scan<'a, 'p> {
    reader: WindowReader<'a>,
    log_bytes: u64,
    max: u32,
    topic: &'a str,
    payloads: Option<&'p mut dyn PayloadCheck>,
    v: &'a mut Violations,
}

fn scan_log(
    file: &File,
    path: &Path,
    log_bytes: u64,
    max: u32,
    topic: &str,
    payloads: Option<&mut dyn PayloadCheck>,
    v: &mut Violations,
) -> Result<LogScan, LogError> {
    let reader = WindowReader::new(file, path, log_bytes);
    let mut s = Scan { reader, log_bytes, max, topic, payloads, v };
    let mut scan = LogScan::default();
    // Each damaged stretch: (position, bytes skipped, good records before it, why).
    let mut damage: Vec<(u64, u64, u64, &'static str)> = Vec::new();
    let mut position = 0u64;
    while position < log_bytes {
        let header = match s.at(position)? {
            Found::End => break,
            Found::Bad(header, why) => {
                if s.zero_tail(position, &header)? {
                    break;
                }
                let resume = resync(&mut s.reader, position, log_bytes, max)?.unwrap_or(log_bytes);
                damage.push((position, resume - position, scan.positions.len() as u64, why));
                position = resume;
                continue;
            }
            Found::Good(header) => header,
        };
        s.check_offset(scan.offsets.last().copied(), header.offset, position);
        s.check_payload(&header, position)?;
        scan.positions.push(position);
        scan.offsets.push(header.offset);
        position += header.record_bytes();
        scan.valid_end = position;
    }
    let total = scan.positions.len() as u64;
    scan.damaged = damage.iter().map(|d| d.0).collect();
    for (position, skipped, before, why) in damage {
        s.v.add(
            K::CorruptRecord,
            Example::detail(format!(
                "{why}; {skipped} bytes skipped, {} good records follow",
                total - before
            ))
            .topic(topic)
            .position(position),
        );
    }
    Ok(scan)
}

impl Scan<'_, '_> {
    /// Classifies the bytes at `position`, reporting a torn tail where the scan ends on one.
    fn at(&mut self, position: u64) -> Result<Found, LogError> {
        let (log_bytes, max, topic) = (self.log_bytes, self.max, self.topic);
        let remaining = log_bytes - position;
        if remaining < HEADER_BYTES as u64 {
            self.v.add(
                K::TornTail,
                Example::detail(format!("{remaining} bytes after the last record"))
                    .topic(topic)
                    .position(position),
            );
            return Ok(Found::End);
        }
        let Some(header) = RecordHeader::parse(self.reader.bytes(position, HEADER_BYTES)?) else {
            return Ok(Found::End);
        };
        Ok(if header.payload_bytes > max {
            Found::Bad(header, "impossible length")
        } else if position + header.record_bytes() > log_bytes {
            // A length that runs past the end is a torn tail only if nothing good follows; with
            // good records after it, it is damage inside the file.
            if resync(&mut self.reader, position, log_bytes, max)?.is_none() {
                self.v.add(
                    K::TornTail,
                    Example::detail(format!(
                        "a {}-byte record runs {} bytes past the end",
                        header.record_bytes(),
                        position + header.record_bytes() - log_bytes
                    ))
                    .topic(topic)
                    .offset(header.offset)
                    .position(position),
                );
                return Ok(Found::End);
            }
            Found::Bad(header, "length runs past the end of the file")
        } else if self.reader.record(position, max)?.is_none() {
            Found::Bad(header, "CRC mismatch")
        } else {
            Found::Good(header)
        })
    }

    /// Only zeros from `position` on, or one bad record and only zeros after it: the
    /// preallocated space of a log that was not closed cleanly (`--fsync always`), maybe with
    /// the record a crash tore in it. Its next open cuts both. Reported as a torn tail, not
    /// damage. (Without preallocation no zeros follow the last record: never taken.)
    fn zero_tail(&mut self, position: u64, header: &RecordHeader) -> Result<bool, LogError> {
        let log_bytes = self.log_bytes;
        let claimed_end = position + header.record_bytes();
        let zeros_from = if zeros_to_end(&mut self.reader, position, log_bytes)? {
            position
        } else if claimed_end < log_bytes && zeros_to_end(&mut self.reader, claimed_end, log_bytes)? {
            claimed_end
        } else {
            return Ok(false);
        };
        let torn = if zeros_from > position {
            format!("a {}-byte record that fails its check, then ", header.record_bytes())
        } else {
            String::new()
        };
        self.v.add(
            K::TornTail,
            Example::detail(format!(
                "{torn}{} zero bytes to the end (preallocated space of a log not closed cleanly)",
                log_bytes - zeros_from
            ))
            .topic(self.topic)
            .position(position),
        );
        Ok(true)
    }

    /// A good record's offset against the previous good one's.
    fn check_offset(&mut self, previous: Option<u64>, offset: u64, position: u64) {
        let topic = self.topic;
        match previous {
            None if offset != 0 => self.v.add(
                K::BadBase,
                Example::detail("the first record's offset is not 0")
                    .topic(topic)
                    .offset(offset)
                    .position(position),
            ),
            None => {}
            Some(prev) if offset == prev => self
                .v
                .add(K::OffsetDuplicate, Example::default().topic(topic).offset(offset).position(position)),
            Some(prev) if offset < prev => self.v.add(
                K::OffsetRegression,
                Example::detail(format!("follows offset {prev}"))
                    .topic(topic)
                    .offset(offset)
                    .position(position),
            ),
            // `offset > prev` here. Subtracting rather than writing `prev + 1`: a file may hold a
            // record claiming offset `u64::MAX`, and the one after it must not overflow.
            Some(prev) if offset - prev > 1 => self.v.add(
                K::OffsetGap,
                Example::detail(format!("{} offsets missing after {prev}", offset - prev - 1))
                    .topic(topic)
                    .offset(offset)
                    .position(position),
            ),
            Some(_) => {}
        }
    }

    /// A good record's payload against the run's producers, when a payload check was given.
    fn check_payload(&mut self, header: &RecordHeader, position: u64) -> Result<(), LogError> {
        let Some(check) = self.payloads.as_deref_mut() else { return Ok(()) };
        let payload = self.reader.bytes(position + HEADER_BYTES as u64, header.payload_bytes as usize)?;
        // The example is built only for a violation: a clean record allocates nothing.
        let (topic, offset) = (self.topic, header.offset);
        let at = || Example::default().topic(topic).offset(offset).position(position);
        match check.check(payload) {
            PayloadVerdict::Ok { .. } => {}
            PayloadVerdict::Checksum => self.v.add(K::PayloadChecksum, at()),
            PayloadVerdict::Unknown => self.v.add(K::UnknownValue, at()),
            PayloadVerdict::Duplicate { producer, seq } => {
                self.v.add(K::DuplicateValue, at().value(producer, seq))
            }
        }
        Ok(())
    }
}

/// Whether every byte from `position` to `log_bytes` is zero.
fn zeros_to_end(reader: &mut WindowReader<'_>, position: u64, log_bytes: u64) -> Result<bool, LogError> {
    const CHUNK: u64 = 64 * 1024;
    let mut at = position;
    while at < log_bytes {
        let n = (log_bytes - at).min(CHUNK);
        if reader.bytes(at, n as usize)?.iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += n;
    }
    Ok(true)
}

/// The first byte position after `position` where a whole valid record starts, if any.
fn resync(
    reader: &mut WindowReader<'_>,
    position: u64,
    log_bytes: u64,
    max: u32,
) -> Result<Option<u64>, LogError> {
    let mut next = position + 1;
    while next + HEADER_BYTES as u64 <= log_bytes {
        if reader.record(next, max)?.is_some() {
            return Ok(Some(next));
        }
        next += 1;
    }
    Ok(None)
}

/// Opens `path` for reading if it is a regular file. Anything else is an error, not opened: a
/// FIFO's open would wait for a writer for ever, and a device could be read without end.
fn open_regular(path: &Path) -> std::io::Result<File> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    File::open(path)
}

fn check_index(
    path: &Path,
    scan: &LogScan,
    valid_end: u64,
    topic: &str,
    v: &mut Violations,
) -> Result<u64, LogError> {
    let mut bytes = Vec::new();
    match open_regular(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).at(path)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(LogError::io(path, e)),
    }
    if !(bytes.len() as u64).is_multiple_of(INDEX_ENTRY_BYTES) {
        v.add(
            K::IndexSize,
            Example::detail(format!("{} bytes, not a multiple of 16", bytes.len())).topic(topic),
        );
    }
    let entries: Vec<IndexEntry> = bytes
        .chunks_exact(INDEX_ENTRY_BYTES as usize)
        .filter_map(|c| c.try_into().ok().map(IndexEntry::from_bytes))
        .collect();
    let mut named = HashSet::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        named.insert(e.offset);
        let at = || Example::default().topic(topic).offset(e.offset).position(e.position);
        if i > 0 {
            let prev = entries[i - 1];
            if e.offset <= prev.offset || e.position <= prev.position {
                v.add(
                    K::IndexNonmonotonic,
                    at().with_detail(format!("entry {i} follows ({}, {})", prev.offset, prev.position)),
                );
            }
        }
        if e.position >= valid_end {
            v.add(
                K::IndexStale,
                at().with_detail(format!(
                    "entry {i} points past the last valid record (which ends at byte {valid_end})"
                )),
            );
            continue;
        }
        match scan.positions.binary_search(&e.position) {
            // An entry naming a record the scan found damaged is at a record boundary: the
            // damage is counted once, as `corrupt_record`.
            Err(_) if scan.damaged.binary_search(&e.position).is_ok() => {}
            Err(_) => v.add(K::IndexDangling, at().with_detail(format!("entry {i} points inside a record"))),
            Ok(_) if e.offset % INDEX_INTERVAL != 0 => v.add(
                K::IndexExtra,
                at().with_detail(format!("entry {i} is off the interval of {INDEX_INTERVAL}")),
            ),
            Ok(r) if scan.offsets[r] != e.offset => v.add(
                K::IndexWrongTarget,
                at().with_detail(format!("entry {i}: the record there has offset {}", scan.offsets[r])),
            ),
            Ok(_) => {}
        }
    }
    let due: BTreeSet<u64> = scan.offsets.iter().copied().filter(|o| o % INDEX_INTERVAL == 0).collect();
    for offset in due {
        if !named.contains(&offset) {
            v.add(
                K::IndexMissing,
                Example::detail("no index entry for this interval offset").topic(topic).offset(offset),
            );
        }
    }
    Ok(entries.len() as u64)
}

/// Verifies every topic under `data_dir` (or only `only`), reported in name order; the topics
/// are scanned on all cores, one task each (the first error in name order is returned).
/// `payload_check` is asked for a checker for each topic directory (the harness's `run.json`
/// makes one).
pub fn verify_data_dir(
    data_dir: &Path,
    only: Option<&str>,
    max_message_bytes: u32,
    payload_check: impl Fn(&Path) -> Option<Box<dyn PayloadCheck>> + Sync,
) -> Result<Vec<TopicReport>, LogError> {
    let meta = fs::metadata(data_dir).at(data_dir)?;
    if !meta.is_dir() {
        return Err(LogError::io(data_dir, std::io::Error::other("not a directory")));
    }
    let mut names = Vec::new();
    if let Some(t) = only {
        validate_topic_name(t)?;
        if !data_dir.join(t).is_dir() {
            return Err(LogError::UnknownTopic(t.to_string()));
        }
        names.push(t.to_string());
    } else {
        for entry in fs::read_dir(data_dir).at(data_dir)? {
            let entry = entry.at(data_dir)?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            if entry.path().is_dir() && validate_topic_name(&name).is_ok() {
                names.push(name);
            }
        }
        names.sort();
    }
    let reports: Vec<Result<TopicReport, LogError>> = names
        .par_iter()
        .map(|name| {
            let dir = data_dir.join(name);
            let mut check = payload_check(&dir);
            let check = check.as_mut().map(|c| c.as_mut() as &mut dyn PayloadCheck);
            verify_topic(&dir, max_message_bytes, check)
        })
        .collect();
    reports.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::record::encode_record;

    /// Found by the `recover_log` fuzz target: the offset check computed `prev + 1`, which
    /// overflowed (a panic in debug builds, a wrong `offset_gap` in release ones) when a record
    /// claiming offset `u64::MAX` was followed by another.
    #[test]
    fn a_record_after_offset_u64_max_is_a_regression_not_an_overflow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = Vec::new();
        for (offset, payload) in [(0, &b"a"[..]), (u64::MAX, b"b"), (5, b"c"), (u64::MAX, b"d")] {
            encode_record(offset, payload, &mut log);
        }
        fs::write(dir.path().join(LOG_FILE), &log).expect("write log.dat");
        fs::write(dir.path().join(INDEX_FILE), IndexEntry { offset: 0, position: 0 }.to_bytes())
            .expect("write index.dat");
        let report = verify_topic(dir.path(), 1024, None).expect("verify");
        assert_eq!(report.records, 4);
        let found: Vec<(K, u64)> = report.violations.found().collect();
        assert_eq!(found, [(K::OffsetGap, 2), (K::OffsetRegression, 1)]);
    }
}
