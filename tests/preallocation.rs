//! Preallocation under `--fsync always` (storage::log, "Preallocation"): zero-filled space past
//! the last record while the log is open, cut back on a clean close, cut by recovery after a
//! crash (and reported by verify as a torn tail, not as damage), and never written over a
//! record, whatever the strategy and however small the step.

mod common;

use std::path::Path;
use std::thread;
use synclog::storage::{verify_topic, FsyncPolicy, Log, LogConfig, DEFAULT_MAX_MESSAGE_BYTES, LOG_FILE};
use synclog::strategies::{RwLockSync, SyncStrategy};
use synclog::violations::ViolationKind as K;

/// A step smaller than one batch, so that appends grow the space again and again.
const STEP: u64 = 300;

fn config(step: u64) -> LogConfig {
    LogConfig { fsync: FsyncPolicy::Always, preallocate_bytes: step, ..LogConfig::default() }
}

fn file_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(LOG_FILE)).expect("log.dat").len()
}

fn found(dir: &Path) -> Vec<(K, u64)> {
    verify_topic(dir, DEFAULT_MAX_MESSAGE_BYTES, None).expect("verify").violations.found().collect()
}

/// Appends `n` tagged messages of 40 bytes (some in batches of 3); returns the bytes they take.
fn fill(log: &Log<RwLockSync>, n: u64) -> u64 {
    let mut appended = 0;
    while appended < n {
        if appended % 4 == 0 && appended + 3 <= n {
            let batch: Vec<Vec<u8>> = (appended..appended + 3).map(|i| common::tagged(0, i, 40)).collect();
            log.append_batch(&batch).expect("append");
            appended += 3;
        } else {
            log.append(&common::tagged(0, appended, 40)).expect("append");
            appended += 1;
        }
    }
    log.end_position()
}

fn assert_all_readable(log: &Log<RwLockSync>, n: u64) {
    let batch = log.read(0, u32::MAX, u32::MAX).expect("read");
    assert_eq!(batch.len() as u64, n);
    for (i, (offset, payload)) in batch.iter().enumerate() {
        assert_eq!(offset, i as u64);
        assert_eq!(payload, common::tagged(0, i as u64, 40).as_slice(), "offset {offset}");
    }
}

#[test]
fn an_open_log_keeps_zeros_ahead_and_a_clean_close_cuts_them() {
    let dir = tempfile::tempdir().unwrap();
    let (log, recovery) = Log::<RwLockSync>::open(dir.path(), config(STEP)).expect("open");
    assert_eq!(recovery.zero_tail_bytes, 0);
    assert!(file_len(dir.path()) >= STEP, "zeros are ready before the first append");
    let end = fill(&log, 100);
    let len = file_len(dir.path());
    assert!(len > end && len <= end + STEP + 3 * 56, "{len} bytes in the file for {end} of records");
    assert_all_readable(&log, 100);
    drop(log);
    assert_eq!(file_len(dir.path()), end, "a clean close leaves exactly the records");
    assert!(found(dir.path()).is_empty(), "{:?}", found(dir.path()));
    let (log, recovery) = Log::<RwLockSync>::open(dir.path(), config(STEP)).expect("reopen");
    assert!(!recovery.repaired() && recovery.zero_tail_bytes == 0, "{recovery:?}");
    assert_all_readable(&log, 100);
}

#[test]
fn after_a_crash_the_zeros_are_a_torn_tail_to_verify_and_cut_by_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::<RwLockSync>::open(dir.path(), config(4096)).expect("open");
    let end = fill(&log, 50);
    // A crash: the process ends without the close that cuts the zeros.
    std::mem::forget(log);
    let len = file_len(dir.path());
    assert!(len > end, "the zeros are still there");
    assert_eq!(found(dir.path()), vec![(K::TornTail, 1)], "zeros after the records are no damage");

    let (log, recovery) = Log::<RwLockSync>::open(dir.path(), config(4096)).expect("recover");
    assert_eq!(recovery.zero_tail_bytes, len - end);
    assert_eq!(recovery.truncated_bytes, 0, "{recovery:?}");
    assert!(!recovery.repaired(), "{recovery:?}");
    assert_eq!(log.next_offset(), 50);
    assert_all_readable(&log, 50);
    drop(log);
    assert!(found(dir.path()).is_empty());
}

#[test]
fn a_torn_record_before_the_zeros_is_still_cut_as_torn() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::<RwLockSync>::open(dir.path(), config(4096)).expect("open");
    let end = fill(&log, 20);
    std::mem::forget(log);
    // The start of the next record, torn by the crash: its header (offset 20, 40 bytes, a CRC)
    // and 10 of its 40 payload bytes; the zeros follow.
    let mut torn = Vec::new();
    torn.extend_from_slice(&20u64.to_be_bytes());
    torn.extend_from_slice(&40u32.to_be_bytes());
    torn.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    torn.extend_from_slice(&[0xAB; 10]);
    let file = std::fs::OpenOptions::new().write(true).open(dir.path().join(LOG_FILE)).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &torn, end).unwrap();
    let len = file_len(dir.path());
    assert_eq!(found(dir.path()), vec![(K::TornTail, 1)], "a record torn in preallocated space");
    let (log, recovery) = Log::<RwLockSync>::open(dir.path(), config(4096)).expect("recover");
    assert_eq!((recovery.truncated_bytes, recovery.zero_tail_bytes), (len - end, 0), "{recovery:?}");
    assert_all_readable(&log, 20);
}

fn zeros_never_land_on_a_record<S: SyncStrategy>() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::<S>::open(dir.path(), config(64)).expect("open");
    const THREADS: u32 = 4;
    const APPENDS: u64 = 150;
    thread::scope(|s| {
        for t in 0..THREADS {
            let log = &log;
            s.spawn(move || {
                for i in 0..APPENDS {
                    log.append(&common::tagged(t, i, 24 + (i % 7) as usize * 9)).expect("append");
                }
            });
        }
    });
    let n = log.next_offset();
    assert_eq!(n, u64::from(THREADS) * APPENDS);
    let batch = log.read(0, u32::MAX, u32::MAX).expect("read");
    assert_eq!(batch.len() as u64, n, "{}: every record reads back", S::NAME);
    drop(log);
    assert!(found(dir.path()).is_empty(), "{}: {:?}", S::NAME, found(dir.path()));
}

for_each_strategy!(zeros_never_land_on_a_record, locking);
