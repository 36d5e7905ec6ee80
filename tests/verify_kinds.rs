//! `verify`, one kind at a time: every kind of `docs/violations.md` sections A and B, each from a topic
//! whose `log.dat` and `index.dat` are built here byte by byte, so the number of violations is
//! known before verify runs.
//!
//! Each test asserts the *whole* list `violations.found()`, not just the kind under test: verify
//! promises "one cause, one kind", and a second kind appearing (or the right kind counted twice)
//! is as much a failure as a miss. Where one piece of damage is documented to count under two
//! kinds (a record lost mid-log leaves an `offset_gap`; an index entry can be out of order *and*
//! point at the wrong record), the test says so next to the assertion.
//!
//! The hand-made files follow the format of `storage::record` and `storage::index`:
//!
//! | file        | unit             | bytes (big-endian)                                    |
//! |-------------|------------------|-------------------------------------------------------|
//! | `log.dat`   | record           | offset u64, length `n` u32, CRC-32C u32, `n` payload  |
//! | `index.dat` | entry            | offset u64, position u64 (one per offset % 100 == 0)  |
//!
//! The last tests run the real `synclog verify` binary for its exit codes: 0 clean (a torn tail
//! alone is informational there), 3 corrupted, 1 any other error.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use synclog::storage::record::encode_record;
use synclog::storage::{
    verify_data_dir, verify_topic, IndexEntry, LogError, PayloadCheck, PayloadVerdict, TopicReport,
    DEFAULT_MAX_MESSAGE_BYTES, HEADER_BYTES, INDEX_FILE, LOG_FILE,
};
use synclog::violations::{Section, ViolationKind as K};

/// The largest payload a valid header may claim in these tests (small, so an "impossible"
/// length is easy to write and its boundary easy to see).
const MAX: u32 = 1024;

/// The name of the topic directory every test builds.
const TOPIC: &str = "t";

/// The payload of the record for `offset` in a well-formed log: a sent value of producer 0 in
/// the marker format of [`MarkerCheck`], padded by `offset % 13` bytes so records differ in length.
fn payload(offset: u64) -> Vec<u8> {
    value(0, offset, (offset % 13) as usize)
}

/// A payload [`MarkerCheck`] takes as the value `(producer, seq)`: `v`, producer, seq, padding.
fn value(producer: u32, seq: u64, padding: usize) -> Vec<u8> {
    let mut p = vec![b'v'];
    p.extend_from_slice(&producer.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.resize(p.len() + padding, b'.');
    p
}

/// One topic's two files, built byte by byte.
///
/// Invariant: `positions[i]` is the byte position in `log` of the `i`-th piece appended with
/// [`HandMade::record`] or [`HandMade::raw`], valid or not, in append order.
#[derive(Default)]
struct HandMade {
    log: Vec<u8>,
    index: Vec<u8>,
    positions: Vec<u64>,
}

impl HandMade {
    /// Records `0..n` with [`payload`], and an index entry for each multiple of 100: what a
    /// clean shutdown of a well-behaved log leaves.
    fn clean(n: u64) -> HandMade {
        let mut t = HandMade::default();
        for offset in 0..n {
            let position = t.record(offset, &payload(offset));
            if offset % 100 == 0 {
                t.entry(offset, position);
            }
        }
        t
    }

    /// Appends a valid record; returns its byte position.
    fn record(&mut self, offset: u64, payload: &[u8]) -> u64 {
        let mut bytes = Vec::new();
        encode_record(offset, payload, &mut bytes);
        self.raw(&bytes)
    }

    /// Appends valid records with [`payload`] for each offset, in the order given.
    fn records(&mut self, offsets: &[u64]) {
        for &offset in offsets {
            self.record(offset, &payload(offset));
        }
    }

    /// Appends bytes as they are (damage, a torn record); returns their byte position.
    fn raw(&mut self, bytes: &[u8]) -> u64 {
        let position = self.end();
        self.positions.push(position);
        self.log.extend_from_slice(bytes);
        position
    }

    /// Appends one index entry.
    fn entry(&mut self, offset: u64, position: u64) {
        self.index.extend_from_slice(&IndexEntry { offset, position }.to_bytes());
    }

    /// The log's length so far: where the next piece goes.
    fn end(&self) -> u64 {
        self.log.len() as u64
    }

    /// Writes `log.dat` and `index.dat` into `<base>/t` and returns that topic directory.
    fn write(&self, base: &Path) -> PathBuf {
        let dir = base.join(TOPIC);
        fs::create_dir_all(&dir).expect("mkdir topic");
        fs::write(dir.join(LOG_FILE), &self.log).expect("write log.dat");
        fs::write(dir.join(INDEX_FILE), &self.index).expect("write index.dat");
        dir
    }
}

/// A record for `offset` whose last payload byte is flipped after encoding: a plausible length
/// that fits in the file, and a CRC that fails.
fn bad_crc(offset: u64, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_record(offset, payload, &mut bytes);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    bytes
}

/// A bare header for `offset` claiming `payload_bytes` (the CRC field is left zero).
fn header(offset: u64, payload_bytes: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_BYTES);
    h.extend_from_slice(&offset.to_be_bytes());
    h.extend_from_slice(&payload_bytes.to_be_bytes());
    h.extend_from_slice(&[0u8; 4]);
    h
}

fn verify(dir: &Path) -> TopicReport {
    verify_topic(dir, MAX, None).expect("verify")
}

fn found(report: &TopicReport) -> Vec<(K, u64)> {
    report.violations.found().collect()
}

/// The example kept for the `i`-th violation of `kind`, as (offset, position).
fn at(report: &TopicReport, kind: K, i: usize) -> (Option<u64>, Option<u64>) {
    let e = &report.violations.examples(kind)[i];
    (e.offset, e.position)
}

fn detail(report: &TopicReport, kind: K, i: usize) -> &str {
    &report.violations.examples(kind)[i].detail
}

/// The payload kinds, which verify checks only with a [`PayloadCheck`].
const PAYLOAD_KINDS: [K; 3] = [K::PayloadChecksum, K::DuplicateValue, K::UnknownValue];

/// Asserts that every kind of sections A and B was checked (`Some`), the payload kinds only if
/// `payloads_checked`, and no kind of section C.
fn assert_checked(report: &TopicReport, payloads_checked: bool) {
    for &kind in K::ALL {
        let checked = match kind.section() {
            Section::Log if PAYLOAD_KINDS.contains(&kind) => payloads_checked,
            Section::Log | Section::Index => true,
            Section::Observed => false,
        };
        assert_eq!(report.violations.get(kind).is_some(), checked, "{kind}");
    }
}

// ---------------------------------------------------------------------------------------------
// Clean topics
// ---------------------------------------------------------------------------------------------

#[test]
fn a_clean_hand_made_log_of_250_records_with_3_index_entries_verifies_clean() {
    let base = tempfile::tempdir().expect("tempdir");
    let t = HandMade::clean(250);
    assert_eq!(t.index.len(), 3 * 16, "entries for 0, 100 and 200");
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![]);
    assert_checked(&report, false);
    for &kind in K::ALL.iter().filter(|k| k.section() != Section::Observed) {
        if !PAYLOAD_KINDS.contains(&kind) {
            assert_eq!(report.violations.get(kind), Some(0), "{kind}");
        }
    }
    assert_eq!(report.topic, TOPIC);
    assert_eq!((report.records, report.index_entries), (250, 3));
    assert_eq!((report.log_bytes, report.valid_end), (t.end(), t.end()));

    // With a payload check that knows every value, the payload kinds are checked and 0 too.
    let mut check = MarkerCheck::default();
    let report = verify_topic(&dir, MAX, Some(&mut check)).expect("verify");
    assert_checked(&report, true);
    for &kind in K::ALL.iter().filter(|k| k.section() != Section::Observed) {
        assert_eq!(report.violations.get(kind), Some(0), "{kind}");
    }
    assert_eq!(check.judged, 250);
}

#[test]
fn an_empty_topic_dir_without_files_verifies_clean() {
    let base = tempfile::tempdir().expect("tempdir");
    let dir = base.path().join(TOPIC);
    fs::create_dir(&dir).expect("mkdir");

    let report = verify(&dir);
    assert_eq!(found(&report), vec![]);
    assert_checked(&report, false);
    assert_eq!((report.records, report.log_bytes, report.valid_end, report.index_entries), (0, 0, 0, 0));
}

// ---------------------------------------------------------------------------------------------
// A. The log
// ---------------------------------------------------------------------------------------------

#[test]
fn fewer_than_16_bytes_after_the_last_record_are_one_torn_tail() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::clean(3);
    let mut next = Vec::new();
    encode_record(3, &payload(3), &mut next);
    let torn_at = t.raw(&next[..10]);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::TornTail, 1)]);
    assert_eq!(at(&report, K::TornTail, 0), (None, Some(torn_at)));
    assert!(detail(&report, K::TornTail, 0).contains("10 bytes after the last record"));
    assert_eq!((report.records, report.valid_end, report.log_bytes), (3, torn_at, torn_at + 10));
}

#[test]
fn a_length_running_past_the_end_of_the_file_is_one_torn_tail() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::clean(3);
    // Record 3 with a 30-byte payload (46 bytes in all), cut after 20 bytes: its whole header
    // is there and claims a length that is plausible but runs 26 bytes past the end.
    let mut next = Vec::new();
    encode_record(3, &[b'x'; 30], &mut next);
    let torn_at = t.raw(&next[..20]);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::TornTail, 1)]);
    assert_eq!(at(&report, K::TornTail, 0), (Some(3), Some(torn_at)));
    assert!(detail(&report, K::TornTail, 0).contains("runs 26 bytes past the end"));
    assert_eq!((report.records, report.valid_end), (3, torn_at));
}

#[test]
fn a_plausible_length_past_the_end_with_good_records_after_it_is_corrupt_not_torn() {
    // A stray header mid-file (say, the tail of an overwritten record read as a header) whose
    // length is below the maximum but runs past the end of the file. Good records follow it,
    // so these are not "the bytes after the last good record" (`docs/violations.md`'s torn_tail): it is
    // damage inside the file, one `corrupt_record`, and the resync finds the 50 records after
    // it. The index entry for 200 names one of them, so it is neither stale nor anything else.
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::default();
    let mut stray = None;
    for offset in 0..250 {
        if offset == 200 {
            stray = Some(t.raw(&header(200, 100_000)));
        }
        let position = t.record(offset, &payload(offset));
        if offset % 100 == 0 {
            t.entry(offset, position);
        }
    }
    assert!(t.end() < 100_000, "the claimed length runs past the end");
    let dir = t.write(base.path());

    let report = verify_topic(&dir, DEFAULT_MAX_MESSAGE_BYTES, None).expect("verify");
    assert_eq!(found(&report), vec![(K::CorruptRecord, 1)]);
    assert_eq!(at(&report, K::CorruptRecord, 0), (None, stray));
    let d = detail(&report, K::CorruptRecord, 0);
    assert!(d.contains("16 bytes skipped, 50 good records follow"), "{d}");
    assert_eq!((report.records, report.valid_end), (250, t.end()));
}

#[test]
fn at_the_tail_a_length_of_max_is_torn_but_a_length_above_max_is_corrupt() {
    let base = tempfile::tempdir().expect("tempdir");

    // A header alone, claiming exactly the maximum: plausible, so the record was torn.
    let mut t = HandMade::clean(3);
    let tail = t.raw(&header(3, MAX));
    let report = verify(&t.write(&base.path().join("max")));
    assert_eq!(found(&report), vec![(K::TornTail, 1)]);
    assert_eq!(at(&report, K::TornTail, 0), (Some(3), Some(tail)));

    // One more byte of length is impossible: corrupt, even though it also runs past the end.
    let mut t = HandMade::clean(3);
    let tail = t.raw(&header(3, MAX + 1));
    let report = verify(&t.write(&base.path().join("above")));
    assert_eq!(found(&report), vec![(K::CorruptRecord, 1)]);
    assert_eq!(at(&report, K::CorruptRecord, 0), (None, Some(tail)));
    let d = detail(&report, K::CorruptRecord, 0);
    assert!(d.contains("impossible length") && d.contains("0 good records follow"), "{d}");
}

#[test]
fn an_impossible_length_is_one_corrupt_record_and_the_scan_resyncs_after_it() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::default();
    t.records(&[0, 1]);
    // A stray header claiming more than the maximum, between records 1 and 2.
    let bad = t.raw(&header(2, MAX + 1));
    t.records(&[2, 3, 4]);
    t.entry(0, 0);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::CorruptRecord, 1)]);
    assert_eq!(at(&report, K::CorruptRecord, 0), (None, Some(bad)));
    let d = detail(&report, K::CorruptRecord, 0);
    assert!(d.contains("impossible length"), "{d}");
    assert!(d.contains("16 bytes skipped, 3 good records follow"), "{d}");
    assert_eq!((report.records, report.valid_end), (5, t.end()));
}

#[test]
fn a_crc_mismatch_is_one_corrupt_record_and_the_scan_resyncs_after_it() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::default();
    t.records(&[0, 1]);
    // A damaged copy of record 2, followed by the good record 2: offsets stay contiguous.
    let damaged = bad_crc(2, &payload(2));
    let bad = t.raw(&damaged);
    t.records(&[2, 3, 4]);
    t.entry(0, 0);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::CorruptRecord, 1)]);
    assert_eq!(at(&report, K::CorruptRecord, 0), (None, Some(bad)));
    let d = detail(&report, K::CorruptRecord, 0);
    let want = format!("CRC mismatch; {} bytes skipped, 3 good records follow", damaged.len());
    assert!(d.contains(&want), "{d}");
    assert_eq!(report.records, 5);
}

#[test]
fn a_record_damaged_in_place_is_one_corrupt_record_plus_the_gap_it_leaves() {
    // Offsets are checked over the *good* records (verify's docs): losing record 2 leaves
    // 1 → 3, a gap of one, so this damage shows under two kinds, each counted once.
    let base = tempfile::tempdir().expect("tempdir");
    let t = HandMade::clean(6);
    let mut bytes = t.log.clone();
    let p2 = t.positions[2];
    bytes[p2 as usize + HEADER_BYTES] ^= 0x40; // the first payload byte of record 2
    let t = HandMade { log: bytes, ..t };
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::CorruptRecord, 1), (K::OffsetGap, 1)]);
    assert_eq!(at(&report, K::CorruptRecord, 0), (None, Some(p2)));
    assert!(detail(&report, K::CorruptRecord, 0).contains("3 good records follow"));
    assert_eq!(at(&report, K::OffsetGap, 0), (Some(3), Some(t.positions[3])));
    assert!(detail(&report, K::OffsetGap, 0).contains("1 offsets missing after 1"));
}

#[test]
fn two_separate_damaged_stretches_are_two_corrupt_records() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::default();
    t.records(&[0, 1]);
    let first = t.raw(&bad_crc(2, &payload(2)));
    t.records(&[2, 3]);
    let second = t.raw(&header(4, u32::MAX));
    t.records(&[4, 5]);
    t.entry(0, 0);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::CorruptRecord, 2)]);
    assert_eq!(at(&report, K::CorruptRecord, 0), (None, Some(first)));
    assert_eq!(at(&report, K::CorruptRecord, 1), (None, Some(second)));
    // Every good record after a stretch counts for it, including those past a later stretch.
    let (d0, d1) = (detail(&report, K::CorruptRecord, 0), detail(&report, K::CorruptRecord, 1));
    assert!(d0.starts_with("CRC mismatch") && d0.contains("4 good records follow"), "{d0}");
    assert!(d1.starts_with("impossible length") && d1.contains("2 good records follow"), "{d1}");
    assert_eq!(report.records, 6);
}

#[test]
fn adjacent_damaged_records_are_one_stretch() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::default();
    t.records(&[0, 1]);
    // Three bad things back to back, no good record between them: one damaged stretch.
    let start = t.raw(&bad_crc(2, &payload(2)));
    t.raw(&header(3, MAX + 1));
    t.raw(&[0xAB; 100]);
    let skipped = t.end() - start;
    t.records(&[2, 3]);
    t.entry(0, 0);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::CorruptRecord, 1)]);
    assert_eq!(at(&report, K::CorruptRecord, 0), (None, Some(start)));
    let d = detail(&report, K::CorruptRecord, 0);
    assert!(d.contains(&format!("{skipped} bytes skipped, 2 good records follow")), "{d}");
}

#[test]
fn an_offset_equal_to_the_previous_is_an_offset_duplicate() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::default();
    t.records(&[0, 1, 1, 2, 3, 3, 4]);
    t.entry(0, 0);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::OffsetDuplicate, 2)]);
    assert_eq!(at(&report, K::OffsetDuplicate, 0), (Some(1), Some(t.positions[2])));
    assert_eq!(at(&report, K::OffsetDuplicate, 1), (Some(3), Some(t.positions[5])));
}

#[test]
fn an_offset_more_than_one_past_the_previous_is_an_offset_gap() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::default();
    t.records(&[0, 1, 5, 6, 9]);
    t.entry(0, 0);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::OffsetGap, 2)]);
    assert_eq!(at(&report, K::OffsetGap, 0), (Some(5), Some(t.positions[2])));
    assert_eq!(at(&report, K::OffsetGap, 1), (Some(9), Some(t.positions[4])));
    assert!(detail(&report, K::OffsetGap, 0).contains("3 offsets missing after 1"));
    assert!(detail(&report, K::OffsetGap, 1).contains("2 offsets missing after 6"));
}

#[test]
fn an_offset_below_the_previous_is_an_offset_regression() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::default();
    // 1 after 2 goes back; 2, 3, 4 then follow it one by one; 0 after 4 goes back again.
    t.records(&[0, 1, 2, 1, 2, 3, 4, 0]);
    t.entry(0, 0);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::OffsetRegression, 2)]);
    assert_eq!(at(&report, K::OffsetRegression, 0), (Some(1), Some(t.positions[3])));
    assert_eq!(at(&report, K::OffsetRegression, 1), (Some(0), Some(t.positions[7])));
    assert!(detail(&report, K::OffsetRegression, 0).contains("follows offset 2"));
    assert!(detail(&report, K::OffsetRegression, 1).contains("follows offset 4"));
}

#[test]
fn a_first_offset_other_than_0_is_a_bad_base() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::default();
    // 5, 6, 7: no interval offset, so an empty index is the right one.
    t.records(&[5, 6, 7]);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::BadBase, 1)]);
    assert_eq!(at(&report, K::BadBase, 0), (Some(5), Some(0)));
    assert_eq!(report.index_entries, 0);
}

// ---------------------------------------------------------------------------------------------
// A. The payload kinds, with a test `PayloadCheck`
// ---------------------------------------------------------------------------------------------

/// A payload check that reads a marker byte, as the harness's checker reads its message
/// format: `v` + producer (u32) + seq (u64) is a value some producer sent (a duplicate when
/// seen before), `c` is a payload whose own checksum fails, and anything else was never sent.
#[derive(Default)]
struct MarkerCheck {
    /// Every (producer, seq) judged `Ok` so far.
    seen: HashSet<(u32, u64)>,
    /// How many payloads verify asked about.
    judged: usize,
}

impl PayloadCheck for MarkerCheck {
    fn check(&mut self, payload: &[u8]) -> PayloadVerdict {
        self.judged += 1;
        match payload {
            [b'v', rest @ ..] if rest.len() >= 12 => {
                let producer = u32::from_be_bytes(rest[0..4].try_into().expect("4 bytes"));
                let seq = u64::from_be_bytes(rest[4..12].try_into().expect("8 bytes"));
                if self.seen.insert((producer, seq)) {
                    PayloadVerdict::Ok { producer, seq }
                } else {
                    PayloadVerdict::Duplicate { producer, seq }
                }
            }
            [b'c', ..] => PayloadVerdict::Checksum,
            _ => PayloadVerdict::Unknown,
        }
    }
}

/// Offsets 0..9 in order, the payload kinds at known offsets: checksum at 2 and 6, unknown at
/// 4, duplicates of (1, 1) at 5 and of (2, 0) at 7.
fn payload_topic() -> HandMade {
    let mut t = HandMade::default();
    let payloads: [Vec<u8>; 9] = [
        value(1, 0, 3),
        value(1, 1, 0),
        b"c: the producer's checksum fails".to_vec(),
        value(2, 0, 5),
        b"?? nobody sent this".to_vec(),
        value(1, 1, 0),
        b"c again".to_vec(),
        value(2, 0, 5),
        value(2, 1, 1),
    ];
    for (offset, p) in payloads.iter().enumerate() {
        t.record(offset as u64, p);
    }
    t.entry(0, 0);
    t
}

#[test]
fn a_payload_check_counts_each_verdict_at_its_offset() {
    let base = tempfile::tempdir().expect("tempdir");
    let t = payload_topic();
    let dir = t.write(base.path());

    let mut check = MarkerCheck::default();
    let report = verify_topic(&dir, MAX, Some(&mut check)).expect("verify");
    assert_eq!(found(&report), vec![(K::PayloadChecksum, 2), (K::DuplicateValue, 2), (K::UnknownValue, 1)]);
    assert_checked(&report, true);
    assert_eq!(check.judged, 9, "each record judged once");
    let p = &t.positions;
    assert_eq!(at(&report, K::PayloadChecksum, 0), (Some(2), Some(p[2])));
    assert_eq!(at(&report, K::PayloadChecksum, 1), (Some(6), Some(p[6])));
    assert_eq!(at(&report, K::UnknownValue, 0), (Some(4), Some(p[4])));
    assert_eq!(at(&report, K::DuplicateValue, 0), (Some(5), Some(p[5])));
    assert_eq!(at(&report, K::DuplicateValue, 1), (Some(7), Some(p[7])));
    let dups = report.violations.examples(K::DuplicateValue);
    assert_eq!((dups[0].producer, dups[0].seq), (Some(1), Some(1)));
    assert_eq!((dups[1].producer, dups[1].seq), (Some(2), Some(0)));
}

#[test]
fn without_a_payload_check_the_payload_kinds_are_not_checked() {
    let base = tempfile::tempdir().expect("tempdir");
    let dir = payload_topic().write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![]);
    assert_checked(&report, false);
    for kind in PAYLOAD_KINDS {
        assert_eq!(report.violations.get(kind), None, "{kind}");
    }
    assert_eq!(report.violations.get(K::TornTail), Some(0));
}

#[test]
fn payloads_of_damaged_records_are_never_judged() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::default();
    t.records(&[0, 1]);
    // A damaged record that would be a checksum failure if its payload were judged.
    t.raw(&bad_crc(2, b"c: would fail its checksum"));
    t.records(&[2, 3]);
    t.entry(0, 0);
    let dir = t.write(base.path());

    let mut check = MarkerCheck::default();
    let report = verify_topic(&dir, MAX, Some(&mut check)).expect("verify");
    assert_eq!(found(&report), vec![(K::CorruptRecord, 1)]);
    assert_eq!(report.violations.get(K::PayloadChecksum), Some(0));
    assert_eq!(check.judged, 4, "only the good records");
}

// ---------------------------------------------------------------------------------------------
// B. The index (over a clean log of 250 records at positions `p`)
// ---------------------------------------------------------------------------------------------

/// A clean log of 250 records with the index left for the test to write.
fn log_of_250() -> HandMade {
    let mut t = HandMade::clean(250);
    t.index.clear();
    t
}

#[test]
fn an_index_that_is_not_whole_entries_is_one_index_size() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::clean(250);
    t.index.extend_from_slice(&[0u8; 7]);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::IndexSize, 1)]);
    assert!(detail(&report, K::IndexSize, 0).contains("55 bytes"));
    assert_eq!(report.index_entries, 3, "the whole entries are still read");
}

#[test]
fn a_repeated_index_entry_is_index_nonmonotonic_once_per_entry() {
    // Offset and position both fail to increase, but an entry is counted once; each copy
    // still names the right record, so no other kind applies.
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = log_of_250();
    let p = t.positions.clone();
    for (offset, position) in [(0, p[0]), (0, p[0]), (100, p[100]), (100, p[100]), (200, p[200])] {
        t.entry(offset, position);
    }
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::IndexNonmonotonic, 2)]);
    assert_eq!(at(&report, K::IndexNonmonotonic, 0), (Some(0), Some(p[0])));
    assert_eq!(at(&report, K::IndexNonmonotonic, 1), (Some(100), Some(p[100])));
    assert!(detail(&report, K::IndexNonmonotonic, 1).contains("entry 3 follows (100,"));
}

#[test]
fn an_index_offset_that_does_not_increase_is_index_nonmonotonic() {
    // Entry 2 repeats offset 100 at a later position (record 101's): the order check counts
    // it, and, separately (verify checks order between entries, then each entry against the
    // log), the record there has another offset.
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = log_of_250();
    let p = t.positions.clone();
    for (offset, position) in [(0, p[0]), (100, p[100]), (100, p[101]), (200, p[200])] {
        t.entry(offset, position);
    }
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::IndexNonmonotonic, 1), (K::IndexWrongTarget, 1)]);
    assert_eq!(at(&report, K::IndexNonmonotonic, 0), (Some(100), Some(p[101])));
    assert_eq!(at(&report, K::IndexWrongTarget, 0), (Some(100), Some(p[101])));
}

#[test]
fn an_index_position_that_does_not_increase_is_index_nonmonotonic() {
    // Entry 2's offset grows but its position repeats entry 1's; as above, the record there
    // (offset 100) is also the wrong target for offset 200.
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = log_of_250();
    let p = t.positions.clone();
    for (offset, position) in [(0, p[0]), (100, p[100]), (200, p[100])] {
        t.entry(offset, position);
    }
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::IndexNonmonotonic, 1), (K::IndexWrongTarget, 1)]);
    assert_eq!(at(&report, K::IndexNonmonotonic, 0), (Some(200), Some(p[100])));
    assert_eq!(at(&report, K::IndexWrongTarget, 0), (Some(200), Some(p[100])));
}

#[test]
fn an_index_position_inside_a_record_is_index_dangling() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = log_of_250();
    let p = t.positions.clone();
    for (offset, position) in [(0, p[0]), (100, p[100] + 3), (200, p[200] + 1)] {
        t.entry(offset, position);
    }
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::IndexDangling, 2)]);
    assert_eq!(at(&report, K::IndexDangling, 0), (Some(100), Some(p[100] + 3)));
    assert_eq!(at(&report, K::IndexDangling, 1), (Some(200), Some(p[200] + 1)));
}

#[test]
fn an_index_position_at_a_record_with_another_offset_is_index_wrong_target() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = log_of_250();
    let p = t.positions.clone();
    for (offset, position) in [(0, p[0]), (100, p[101]), (200, p[199])] {
        t.entry(offset, position);
    }
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::IndexWrongTarget, 2)]);
    assert_eq!(at(&report, K::IndexWrongTarget, 0), (Some(100), Some(p[101])));
    assert_eq!(at(&report, K::IndexWrongTarget, 1), (Some(200), Some(p[199])));
    assert!(detail(&report, K::IndexWrongTarget, 0).contains("the record there has offset 101"));
}

#[test]
fn an_interval_offset_without_an_entry_is_index_missing() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = log_of_250();
    t.entry(0, 0);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::IndexMissing, 2)]);
    assert_eq!(at(&report, K::IndexMissing, 0), (Some(100), None));
    assert_eq!(at(&report, K::IndexMissing, 1), (Some(200), None));

    // No index file at all: every interval offset is missing, and the size is fine (0 bytes).
    fs::remove_file(dir.join(INDEX_FILE)).expect("rm index");
    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::IndexMissing, 3)]);
    assert_eq!(report.index_entries, 0);
}

#[test]
fn an_entry_off_the_interval_is_index_extra() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = log_of_250();
    let p = t.positions.clone();
    for offset in [0, 50, 100, 200, 201] {
        t.entry(offset, p[offset as usize]);
    }
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::IndexExtra, 2)]);
    assert_eq!(at(&report, K::IndexExtra, 0), (Some(50), Some(p[50])));
    assert_eq!(at(&report, K::IndexExtra, 1), (Some(201), Some(p[201])));
}

#[test]
fn entries_at_or_past_the_end_of_the_last_good_record_are_index_stale() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::clean(250);
    let end = t.end();
    t.entry(300, end); // exactly at the end: where the next record would go
    t.entry(400, end + 1000);
    let dir = t.write(base.path());

    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::IndexStale, 2)]);
    assert_eq!(at(&report, K::IndexStale, 0), (Some(300), Some(end)));
    assert_eq!(at(&report, K::IndexStale, 1), (Some(400), Some(end + 1000)));

    // Without a log, every entry is stale (and only stale: the empty log needs no entry).
    fs::remove_file(dir.join(LOG_FILE)).expect("rm log");
    let report = verify(&dir);
    assert_eq!(found(&report), vec![(K::IndexStale, 5)]);
}

// ---------------------------------------------------------------------------------------------
// verify_data_dir
// ---------------------------------------------------------------------------------------------

#[test]
fn verify_data_dir_on_a_missing_dir_is_an_io_error() {
    let base = tempfile::tempdir().expect("tempdir");
    let missing = base.path().join("missing");
    let result = verify_data_dir(&missing, None, MAX, |_| None);
    assert!(matches!(result, Err(LogError::Io { ref path, .. }) if path == &missing), "{result:?}");
}

#[test]
fn verify_data_dir_on_an_empty_dir_returns_no_reports() {
    let base = tempfile::tempdir().expect("tempdir");
    let reports = verify_data_dir(base.path(), None, MAX, |_| None).expect("verify");
    assert!(reports.is_empty());
}

#[test]
fn verify_data_dir_refuses_an_invalid_topic_name() {
    let base = tempfile::tempdir().expect("tempdir");
    let result = verify_data_dir(base.path(), Some("../x"), MAX, |_| None);
    assert!(matches!(result, Err(LogError::InvalidTopic { ref name, .. }) if name == "../x"), "{result:?}");
}

#[test]
fn verify_data_dir_on_an_unknown_topic_is_unknown_topic() {
    let base = tempfile::tempdir().expect("tempdir");
    HandMade::clean(3).write(base.path());
    let result = verify_data_dir(base.path(), Some("nope"), MAX, |_| None);
    assert!(matches!(result, Err(LogError::UnknownTopic(ref name)) if name == "nope"), "{result:?}");
}

#[test]
fn verify_data_dir_reports_topics_in_name_order_with_their_own_payload_check() {
    let base = tempfile::tempdir().expect("tempdir");
    for name in ["b", "a"] {
        let t = payload_topic();
        let dir = t.write(base.path());
        fs::rename(&dir, base.path().join(name)).expect("rename");
    }
    // Neither a file nor a directory with an invalid topic name is a topic.
    fs::write(base.path().join("notes.txt"), b"not a topic").expect("write");
    fs::create_dir(base.path().join("not a topic")).expect("mkdir");

    // Only topic "b" gets a payload check (the harness makes one where it finds run.json).
    let reports = verify_data_dir(base.path(), None, MAX, |dir| {
        (dir.file_name().and_then(|n| n.to_str()) == Some("b"))
            .then(|| Box::new(MarkerCheck::default()) as Box<dyn PayloadCheck>)
    })
    .expect("verify");
    let names: Vec<&str> = reports.iter().map(|r| r.topic.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(found(&reports[0]), vec![]);
    assert_eq!(reports[0].violations.get(K::PayloadChecksum), None);
    assert_eq!(
        found(&reports[1]),
        vec![(K::PayloadChecksum, 2), (K::DuplicateValue, 2), (K::UnknownValue, 1)]
    );

    // `only` picks one topic.
    let only = verify_data_dir(base.path(), Some("b"), MAX, |_| None).expect("verify");
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].topic, "b");
}

// ---------------------------------------------------------------------------------------------
// The `synclog verify` binary
// ---------------------------------------------------------------------------------------------

fn synclog_verify(data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synclog"))
        .arg("verify")
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run synclog")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn synclog_verify_exits_3_and_names_the_kind_on_corruption() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::default();
    t.records(&[0, 1]);
    t.raw(&bad_crc(2, &payload(2)));
    t.records(&[2, 3]);
    t.entry(0, 0);
    t.write(base.path());

    let out = synclog_verify(base.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("corrupt_record"), "{text}");
    assert!(text.contains("verdict: corrupted (1 of 1 topic corrupted)"), "{text}");
}

#[test]
fn synclog_verify_exits_0_on_a_clean_dir() {
    let base = tempfile::tempdir().expect("tempdir");
    HandMade::clean(250).write(base.path());

    let out = synclog_verify(base.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("topic t: 250 records"), "{text}");
    assert!(text.contains("verdict: clean"), "{text}");
}

#[test]
fn synclog_verify_exits_1_with_a_one_line_error_on_a_missing_dir() {
    let base = tempfile::tempdir().expect("tempdir");
    let out = synclog_verify(&base.path().join("missing"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("synclog: "), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn synclog_verify_prints_a_torn_tail_but_exits_0() {
    let base = tempfile::tempdir().expect("tempdir");
    let mut t = HandMade::clean(3);
    t.raw(&header(3, 30)[..10]);
    t.write(base.path());

    let out = synclog_verify(base.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("torn_tail"), "{text}");
    assert!(text.contains("verdict: clean"), "{text}");
}
