//! Recovery at open, and what verify says before it: truncated logs, flipped bytes, lost or
//! damaged indexes. Reopening never panics, keeps every record before the damage, cuts a torn or
//! corrupt tail and rebuilds the index; damage before the last index entry is reported, never
//! served.

mod common;

use common::broker_process::BrokerProcess;
use common::{open, read_all, tagged, untag};
use std::fs;
use std::path::Path;
use synclog::client::Client;
use synclog::protocol::ErrorCode;
use synclog::storage::{
    verify_topic, LogConfig, LogError, Recovery, DEFAULT_MAX_MESSAGE_BYTES, INDEX_FILE, LOG_FILE,
};
use synclog::strategies::RwLockSync;
use synclog::violations::ViolationKind as K;

const RECORDS: u64 = 250;

/// Record `i` has a payload of 20 + i % 13 bytes, so records differ in length.
fn payload(i: u64) -> Vec<u8> {
    tagged(0, i, 20 + (i % 13) as usize)
}

/// Writes 250 records (index entries at 0, 100, 200) and returns each record's byte position.
fn build(dir: &Path) -> Vec<u64> {
    let log = open::<RwLockSync>(dir, LogConfig::default());
    let mut positions = Vec::new();
    for i in 0..RECORDS {
        positions.push(log.end_position());
        assert_eq!(log.append(&payload(i)).expect("append"), i);
    }
    positions.push(log.end_position());
    positions
}

fn copy_topic(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for f in [LOG_FILE, INDEX_FILE] {
        fs::copy(from.join(f), to.join(f)).expect("copy");
    }
}

fn reopen(dir: &Path) -> (synclog::storage::Log<RwLockSync>, Recovery) {
    synclog::storage::Log::<RwLockSync>::open(dir, LogConfig::default())
        .expect("reopen never fails on damage")
}

fn found(dir: &Path) -> Vec<(K, u64)> {
    verify_topic(dir, DEFAULT_MAX_MESSAGE_BYTES, None).expect("verify").violations.found().collect()
}

fn assert_prefix_intact(log: &synclog::storage::Log<RwLockSync>, records: u64) {
    let all = read_all(log);
    assert_eq!(all.len() as u64, records);
    for (i, (o, p)) in all.iter().enumerate() {
        assert_eq!((*o, untag(p)), (i as u64, (0, i as u64)));
        assert_eq!(p, &payload(i as u64));
    }
}

#[test]
fn truncating_at_every_byte_of_the_last_records_recovers_the_whole_records_before() {
    let base = tempfile::tempdir().expect("tempdir");
    let original = base.path().join("original");
    let positions = build(&original);
    // Every byte position from the start of record 195 to the end (crossing the last entry, 200).
    let from = positions[195];
    let end = positions[RECORDS as usize];
    for cut in from..end {
        let dir = base.path().join(format!("cut-{cut}"));
        copy_topic(&original, &dir);
        let f = fs::OpenOptions::new().write(true).open(dir.join(LOG_FILE)).expect("open");
        f.set_len(cut).expect("truncate");
        drop(f);
        let whole = positions.iter().filter(|&&p| p <= cut).count() as u64 - 1;
        let at_boundary = positions.contains(&cut);
        // Before recovery, verify names the damage: a torn tail unless the cut fell between
        // records; and the index entry for 200 is stale if record 200 was cut.
        let before = found(&dir);
        let mut expected = Vec::new();
        if !at_boundary {
            expected.push((K::TornTail, 1));
        }
        if whole <= 200 {
            expected.push((K::IndexStale, 1));
        }
        assert_eq!(before, expected, "cut at byte {cut}");

        let (log, recovery) = reopen(&dir);
        assert_eq!(recovery.next_offset, whole, "cut at byte {cut}");
        assert_eq!(recovery.truncated_bytes, cut - positions[whole as usize]);
        assert_eq!(log.next_offset(), whole);
        assert_prefix_intact(&log, whole);
        // The log goes on from there.
        assert_eq!(log.append(b"after recovery").expect("append"), whole);
        drop(log);
        assert_eq!(found(&dir), vec![], "after recovery, cut at byte {cut}");
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}

#[test]
fn flipping_a_byte_in_the_tail_truncates_from_that_record() {
    let base = tempfile::tempdir().expect("tempdir");
    let original = base.path().join("original");
    let positions = build(&original);
    // A byte in the header and one in the payload of each of the last three records.
    for r in (RECORDS - 3)..RECORDS {
        for within in [3u64, 9, 14, 17] {
            let dir = base.path().join(format!("flip-{r}-{within}"));
            copy_topic(&original, &dir);
            let path = dir.join(LOG_FILE);
            let mut bytes = fs::read(&path).expect("read");
            bytes[(positions[r as usize] + within) as usize] ^= 0x5A;
            fs::write(&path, &bytes).expect("write");

            let before = found(&dir);
            assert!(
                before.contains(&(K::CorruptRecord, 1)) || before.contains(&(K::TornTail, 1)),
                "record {r} byte {within}: {before:?}"
            );
            let (log, recovery) = reopen(&dir);
            assert_eq!(recovery.next_offset, r, "record {r} byte {within}");
            assert_prefix_intact(&log, r);
            drop(log);
            assert_eq!(found(&dir), vec![], "after recovery");
        }
    }
}

#[test]
fn a_deleted_or_truncated_or_garbled_index_is_rebuilt_from_the_log() {
    let base = tempfile::tempdir().expect("tempdir");
    let original = base.path().join("original");
    build(&original);
    let damage: [(&str, fn(&Path)); 4] = [
        ("deleted", |p| fs::remove_file(p).expect("rm")),
        ("emptied", |p| fs::write(p, b"").expect("write")),
        ("cut mid-entry", |p| {
            let f = fs::OpenOptions::new().write(true).open(p).expect("open");
            f.set_len(16 + 7).expect("truncate");
        }),
        ("garbled last entry", |p| {
            let mut b = fs::read(p).expect("read");
            let n = b.len();
            b[n - 3] ^= 0xFF; // the position of entry 200 now points into the middle of a record
            fs::write(p, b).expect("write");
        }),
    ];
    for (what, damage) in damage {
        let dir = base.path().join(what.replace(' ', "-"));
        copy_topic(&original, &dir);
        damage(&dir.join(INDEX_FILE));
        let before = found(&dir);
        assert!(!before.is_empty(), "{what}: verify saw nothing");
        let (log, recovery) = reopen(&dir);
        assert_eq!(recovery.next_offset, RECORDS, "{what}");
        assert!(recovery.index_entries_added > 0, "{what}: {recovery:?}");
        assert_prefix_intact(&log, RECORDS);
        drop(log);
        assert_eq!(found(&dir), vec![], "{what}: after recovery");
        let index = fs::read(dir.join(INDEX_FILE)).expect("index");
        assert_eq!(index.len(), 3 * 16, "{what}: entries for 0, 100, 200");
    }
}

#[test]
fn a_byte_flipped_before_the_last_index_entry_is_reported_and_never_served() {
    let base = tempfile::tempdir().expect("tempdir");
    let dir = base.path().join("t");
    let positions = build(&dir);
    let path = dir.join(LOG_FILE);
    let mut bytes = fs::read(&path).expect("read");
    bytes[(positions[150] + 20) as usize] ^= 0x01; // a payload byte of record 150
    fs::write(&path, &bytes).expect("write");

    // Resync finds record 151 right after the damaged one: 99 good records follow.
    let report = verify_topic(&dir, DEFAULT_MAX_MESSAGE_BYTES, None).expect("verify");
    let kinds: Vec<(K, u64)> = report.violations.found().collect();
    assert_eq!(kinds, vec![(K::CorruptRecord, 1), (K::OffsetGap, 1)]);
    let example = &report.violations.examples(K::CorruptRecord)[0];
    assert_eq!(example.position, Some(positions[150]));
    assert!(example.detail.contains("99 good records follow"), "{}", example.detail);

    // Open does not repair damage before the last index entry (200).
    let (log, recovery) = reopen(&dir);
    assert_eq!(recovery.next_offset, RECORDS);
    assert!(!recovery.repaired());
    // A read stops before the bad record, and a read starting at it is refused.
    let batch = log.read(140, 100, u32::MAX).expect("read");
    assert_eq!(batch.iter().map(|(o, _)| o).collect::<Vec<_>>(), (140..150).collect::<Vec<_>>());
    assert!(matches!(log.read(150, 10, u32::MAX), Err(LogError::Corrupt { offset: 150, .. })));
    // A read from the record after it is served: only its payload was damaged, and the records a
    // read passes over to reach its offset are passed over by their headers. Past the next index
    // entry, reads work too.
    assert_eq!(log.read(151, 1, u32::MAX).expect("read").iter().next().map(|(o, _)| o), Some(151));
    assert_eq!(log.read(200, 1, u32::MAX).expect("read").iter().next().map(|(o, _)| o), Some(200));
}

#[test]
fn a_broker_answers_corrupt_log_8_to_a_fetch_starting_at_a_record_that_fails_its_crc() {
    // The same damage (a payload byte of record 150), served by the `broker` binary over the
    // native protocol: a fetch starting at 150 is answered error 8 (CorruptLog) and the
    // connection serves on; a fetch from 140 stops before it; past the next index entry (200)
    // fetches work again.
    let base = tempfile::tempdir().expect("tempdir");
    let data_dir = base.path().join("data");
    let positions = build(&data_dir.join("t"));
    let path = data_dir.join("t").join(LOG_FILE);
    let mut bytes = fs::read(&path).expect("read");
    bytes[(positions[150] + 20) as usize] ^= 0x01;
    fs::write(&path, &bytes).expect("write");

    let args = ["--data-dir", data_dir.to_str().expect("utf-8")];
    let broker = BrokerProcess::start(&args, &base.path().join("broker.stderr"));
    let mut client = Client::connect(broker.addr).expect("connect");
    let wait = std::time::Duration::ZERO;
    for (max_messages, max_bytes) in [(10, u32::MAX), (1, 1)] {
        let refused =
            client.fetch("t", 150, max_messages, max_bytes, wait).expect_err("a read starting at 150");
        let code = refused.code().expect("an error answer from the broker");
        assert_eq!((code, code.as_u16()), (ErrorCode::CorruptLog, 8), "{refused}");
    }
    let fetched = client.fetch("t", 140, 100, u32::MAX, wait).expect("a read from 140");
    let served: Vec<(u64, Vec<u8>)> = fetched.records.iter().map(|(o, p)| (o, p.to_vec())).collect();
    assert_eq!(served, (140..150).map(|i| (i, payload(i))).collect::<Vec<_>>(), "stops before 150");
    let fetched = client.fetch("t", 200, 1, u32::MAX, wait).expect("a read from 200");
    assert_eq!(fetched.records.iter().next().map(|(o, p)| (o, p.to_vec())), Some((200, payload(200))));
    assert!(broker.terminate().success());
}

#[test]
fn reading_follows_the_index_at_boundaries_and_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path());
    let log = open::<RwLockSync>(dir.path(), LogConfig::default());
    for start in [0, 1, 99, 100, 101, 150, 199, 200, 249] {
        let b = log.read(start, 3, u32::MAX).expect("read");
        let offsets: Vec<u64> = b.iter().map(|(o, _)| o).collect();
        let want: Vec<u64> = (start..(start + 3).min(RECORDS)).collect();
        assert_eq!(offsets, want, "from {start}");
        assert_eq!(b.high_watermark, RECORDS);
    }
    assert!(log.read(RECORDS, 10, u32::MAX).expect("at the end").is_empty());
    assert!(matches!(
        log.read(RECORDS + 1, 10, u32::MAX),
        Err(LogError::OffsetOutOfRange { requested: 251, next: 250 })
    ));
    // max_bytes limits the batch, but one record is always returned.
    assert_eq!(log.read(0, 100, 1).expect("read").len(), 1);
    assert_eq!(log.read(0, 100, 2 * 20 + 1).expect("read").len(), 2);
    assert_eq!(log.read(0, 0, u32::MAX).expect("read").len(), 0);
}

#[test]
fn a_clean_reopen_loses_nothing_and_appends_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path());
    let (log, recovery) = reopen(dir.path());
    assert!(!recovery.repaired(), "{recovery:?}");
    assert_eq!(recovery.next_offset, RECORDS);
    assert!(recovery.records_scanned <= 100, "the scan starts at the last index entry");
    assert_prefix_intact(&log, RECORDS);
    assert_eq!(log.append_batch(&[payload(250), payload(251)]).expect("append"), 250);
    drop(log);
    assert_eq!(found(dir.path()), vec![]);
    let (log, _) = reopen(dir.path());
    assert_eq!(log.next_offset(), 252);
}

#[test]
fn an_empty_or_missing_data_dir_and_messages_over_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = dir.path().join("new-topic");
    let config = LogConfig { max_message_bytes: 10, ..LogConfig::default() };
    let log = open::<RwLockSync>(&topic, config);
    assert_eq!(log.next_offset(), 0);
    assert!(log.read(0, 10, 100).expect("read").is_empty());
    assert!(matches!(log.append(&[0u8; 11]), Err(LogError::MessageTooLarge { size: 11, max: 10 })));
    assert!(matches!(log.append_batch(&[&[0u8; 1][..], &[0u8; 11]]), Err(LogError::MessageTooLarge { .. })));
    assert_eq!(log.next_offset(), 0, "a refused batch appends nothing");
    assert_eq!(log.append(&[0u8; 10]).expect("append"), 0);
    assert_eq!(found(&topic), vec![]);
}

/// The bytes of record `r` of a log `build` wrote.
fn record_bytes(dir: &Path, positions: &[u64], r: usize) -> Vec<u8> {
    fs::read(dir.join(LOG_FILE)).expect("read")[positions[r] as usize..positions[r + 1] as usize].to_vec()
}

/// Records out of offset order at the tail, whole and with valid CRCs (damage, or appends under
/// `none`): recovery keeps them, logs them, and hands out no offset the log already holds; a
/// read from the tail is answered with records, never with none below the high watermark.
#[test]
fn records_out_of_order_at_the_tail_are_kept_and_their_offsets_not_handed_out_again() {
    let base = tempfile::tempdir().expect("tempdir");
    let original = base.path().join("original");
    let positions = build(&original);

    // A copy of record 10 after the last record: the records after 10 are not given up.
    let stray = base.path().join("stray");
    copy_topic(&original, &stray);
    let copy = record_bytes(&original, &positions, 10);
    let mut bytes = fs::read(stray.join(LOG_FILE)).expect("read");
    bytes.extend_from_slice(&copy);
    fs::write(stray.join(LOG_FILE), &bytes).expect("write");
    let (log, recovery) = reopen(&stray);
    assert_eq!((recovery.next_offset, recovery.records_out_of_order), (RECORDS, 1), "{recovery:?}");
    let served: Vec<u64> = log.read(200, 100, u32::MAX).expect("read").iter().map(|(o, _)| o).collect();
    assert_eq!(served, (200..RECORDS).collect::<Vec<_>>(), "the records after the stray one's offset");
    assert_eq!(log.append(b"next").expect("append"), RECORDS, "no offset the log holds is given again");
    drop(log);

    // The last two records swapped: both kept, both served, and the next offset is past both.
    let swapped = base.path().join("swapped");
    copy_topic(&original, &swapped);
    let (last, before) = (RECORDS as usize - 1, RECORDS as usize - 2);
    let mut bytes = fs::read(swapped.join(LOG_FILE)).expect("read");
    bytes.truncate(positions[before] as usize);
    bytes.extend_from_slice(&record_bytes(&original, &positions, last));
    bytes.extend_from_slice(&record_bytes(&original, &positions, before));
    fs::write(swapped.join(LOG_FILE), &bytes).expect("write");
    let (log, recovery) = reopen(&swapped);
    assert_eq!((recovery.next_offset, recovery.records_out_of_order), (RECORDS, 2), "{recovery:?}");
    let served: Vec<u64> =
        log.read(before as u64, 10, u32::MAX).expect("read").iter().map(|(o, _)| o).collect();
    assert_eq!(served, [last as u64, before as u64], "in file order, each with its own offset");
    assert_eq!(log.append(b"next").expect("append"), RECORDS);
}

/// An index entry before the last (which recovery does not check) naming another record, or
/// pointing inside one: a read passes over it for the entry before, and serves the offset asked
/// for, neither skipping records nor blaming the log.
#[test]
fn an_index_entry_naming_the_wrong_record_or_none_is_passed_over_by_reads() {
    let base = tempfile::tempdir().expect("tempdir");
    let original = base.path().join("original");
    let positions = build(&original);
    // (case, the entry damaged, the position it is given, reads from): entry 1 names offset 100.
    // Byte 1 holds bytes that read as a header claiming offset 0 (the rest of record 0's zero
    // offset, then its length's zero high byte), so entry 0 there is trusted, and the read that
    // fails from it tries again from byte 0.
    let cases = [
        ("wrong record", 1, positions[105], [100, 104, 150]),
        ("inside a record", 1, positions[100] + 5, [100, 104, 150]),
        ("a byte off", 0, 1, [0, 50, 99]),
    ];
    for (case, entry, position, reads) in cases {
        let dir = base.path().join(case.replace(' ', "-"));
        copy_topic(&original, &dir);
        let mut index = fs::read(dir.join(INDEX_FILE)).expect("read index");
        let at = entry * 16 + 8;
        index[at..at + 8].copy_from_slice(&position.to_be_bytes());
        fs::write(dir.join(INDEX_FILE), &index).expect("write index");
        let (log, recovery) = reopen(&dir);
        assert_eq!(recovery.next_offset, RECORDS, "{case}");
        for from in reads {
            let first = log.read(from, 1, u32::MAX).expect(case).iter().next().map(|(o, p)| (o, p.to_vec()));
            assert_eq!(first, Some((from, payload(from))), "{case}: read from {from}");
        }
    }
}

/// A record in the middle replaced by a whole one claiming an offset far past the log's end: a
/// read from before it stops there, and a read of the offset it hid serves the records after it
/// (each with its own offset), so it hides nothing. And a log whose records from 150 on were
/// overwritten, while it was open, by copies of an earlier record: a read of 150 finds no record
/// at or past it below the high watermark, and is refused (`Missing`, CorruptLog over the wire)
/// rather than answered with no records, which a consumer below the high watermark would ask
/// again for ever.
#[test]
fn a_read_of_an_offset_the_log_lacks_below_its_high_watermark_is_refused_not_answered_empty() {
    let base = tempfile::tempdir().expect("tempdir");
    let dir = base.path().join("far");
    let positions = build(&dir);
    let mut far = Vec::new();
    synclog::storage::record::encode_record(1_000_000, &payload(150), &mut far);
    let mut bytes = fs::read(dir.join(LOG_FILE)).expect("read");
    bytes[positions[150] as usize..positions[151] as usize].copy_from_slice(&far);
    fs::write(dir.join(LOG_FILE), &bytes).expect("write");
    let (log, _) = reopen(&dir);
    let offsets =
        |from| -> Vec<u64> { log.read(from, 200, u32::MAX).expect("read").iter().map(|(o, _)| o).collect() };
    assert_eq!(offsets(140), (140..150).collect::<Vec<_>>(), "a read stops before the record past the end");
    assert_eq!(offsets(150), (151..RECORDS).collect::<Vec<_>>(), "the records after it are served");
    drop(log);

    // Equal records, so copies of one tile the file.
    let dir = base.path().join("copies");
    let log = open::<RwLockSync>(&dir, LogConfig::default());
    for i in 0..RECORDS {
        assert_eq!(log.append(&tagged(0, i, 20)).expect("append"), i);
    }
    let record = 16 + 20;
    let mut bytes = fs::read(dir.join(LOG_FILE)).expect("read");
    let copy = bytes[10 * record..11 * record].to_vec();
    for slot in bytes[150 * record..].chunks_exact_mut(record) {
        slot.copy_from_slice(&copy);
    }
    fs::write(dir.join(LOG_FILE), &bytes).expect("write");
    match log.read(150, 10, u32::MAX) {
        Err(LogError::Missing { offset: 150, high_watermark }) => assert_eq!(high_watermark, RECORDS),
        other => panic!("a read of 150: {other:?}"),
    }
}

/// A damaged record that an index entry names: the damage is one `corrupt_record` (with the gap
/// it leaves among the good records' offsets), and the entry, at a record boundary, is not also
/// counted as pointing inside a record.
#[test]
fn an_index_entry_naming_a_damaged_record_is_not_counted_as_dangling() {
    let base = tempfile::tempdir().expect("tempdir");
    let dir = base.path().join("t");
    let positions = build(&dir);
    let path = dir.join(LOG_FILE);
    let mut bytes = fs::read(&path).expect("read");
    bytes[(positions[100] + 20) as usize] ^= 0x01; // a payload byte of record 100, which entry 1 names
    fs::write(&path, &bytes).expect("write");
    assert_eq!(found(&dir), vec![(K::CorruptRecord, 1), (K::OffsetGap, 1)]);
}

/// `verify` refuses a log or index that is not a regular file (a FIFO here, whose open would
/// wait for a writer for ever) with an error naming it.
#[test]
fn verify_refuses_a_log_that_is_not_a_regular_file_instead_of_waiting_on_it() {
    let base = tempfile::tempdir().expect("tempdir");
    let dir = base.path().join("t");
    build(&dir);
    for file in [LOG_FILE, INDEX_FILE] {
        let copy = base.path().join(format!("fifo-{file}"));
        copy_topic(&dir, &copy);
        fs::remove_file(copy.join(file)).expect("rm");
        let made = std::process::Command::new("mkfifo").arg(copy.join(file)).status().expect("mkfifo");
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let target = copy.clone();
        std::thread::spawn(move || {
            let _ = tx.send(verify_topic(&target, DEFAULT_MAX_MESSAGE_BYTES, None).map(|_| ()));
        });
        let result = rx.recv_timeout(std::time::Duration::from_secs(20)).expect("verify answered, not hung");
        let error = result.expect_err("a FIFO is not a log").to_string();
        assert!(error.contains(file), "{file}: {error}");
    }
}

/// After a break in the run of offsets at the tail (a record claiming offset 250 after 0–99,
/// then 100 and 101), recovery adds no index entry past the break: an entry for 100 would make
/// the next open scan from it, past the 250, and restore 102 where the first open said 251.
/// Every reopen restores the same next offset and repairs nothing more.
#[test]
fn reopening_after_a_break_in_the_offsets_restores_the_same_next_offset_every_time() {
    let base = tempfile::tempdir().expect("tempdir");
    let dir = base.path().join("t");
    let log = open::<RwLockSync>(&dir, LogConfig::default());
    for i in 0..100 {
        log.append(&payload(i)).expect("append");
    }
    drop(log);
    let mut bytes = fs::read(dir.join(LOG_FILE)).expect("read");
    for offset in [250, 100, 101] {
        synclog::storage::record::encode_record(offset, &payload(offset), &mut bytes);
    }
    fs::write(dir.join(LOG_FILE), &bytes).expect("write");
    let (log, first) = reopen(&dir);
    assert_eq!(
        (first.next_offset, first.records_out_of_order, first.index_entries_added),
        (251, 2, 0),
        "{first:?}"
    );
    drop(log);
    let (log, second) = reopen(&dir);
    assert_eq!(second.next_offset, 251, "{second:?}");
    assert!(!second.repaired(), "{second:?}");
    assert_eq!(log.append(b"next").expect("append"), 251);
}
