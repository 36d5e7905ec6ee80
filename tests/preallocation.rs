//! Preallocation under `--fsync always` (storage::log, "Preallocation"): zero-filled space past
//! the last record while the log is open, cut back on a clean close, cut by recovery after a
//! crash (and reported by verify as a torn tail, not as damage), and never written over a
//! record, whatever the strategy and however small the step.

mod common;

use common::broker_process::BrokerProcess;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use synclog::client::Client;
use synclog::storage::{RacePoint, RaceWindow, INDEX_FILE};
use synclog::strategies::NoSync;

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
    assert_eq!(file_len(dir.path()), 0, "opening writes nothing: the first append preallocates");
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

#[test]
fn a_close_under_none_keeps_a_record_that_end_position_moved_back_past() {
    // The honest race: appenders A (a long record) and B (a short one) load the same position;
    // B stores its end last, so `end_position` moves back to B's end while A's bytes reach
    // further. The clean close must cut after A's bytes, not at `end_position`.
    let dir = tempfile::tempdir().unwrap();
    let loaded = Arc::new(Barrier::new(2));
    let a_done = Arc::new(AtomicBool::new(false));
    let armed = Arc::new(AtomicBool::new(true));
    let hook = {
        let (loaded, a_done, armed) = (loaded.clone(), a_done.clone(), armed.clone());
        move |point: RacePoint| {
            if !armed.load(SeqCst) {
                return;
            }
            match point {
                RacePoint::Loaded { .. } => {
                    loaded.wait();
                }
                // B, the short one, stores its end only after A is done.
                RacePoint::Written { record_bytes, .. } if record_bytes < 100 => {
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while !a_done.load(SeqCst) && Instant::now() < deadline {
                        std::thread::yield_now();
                    }
                }
                _ => {}
            }
        }
    };
    let config = LogConfig { race_window: RaceWindow::Hook(Arc::new(hook)), ..config(4096) };
    let (log, _) = Log::<NoSync>::open(dir.path(), config).unwrap();
    std::thread::scope(|s| {
        let b = s.spawn(|| log.append(&[b'b'; 20]).unwrap());
        let a = s.spawn(|| log.append(&[b'a'; 200]).unwrap());
        assert_eq!(a.join().unwrap(), 0);
        a_done.store(true, SeqCst);
        assert_eq!(b.join().unwrap(), 0, "both were acknowledged with offset 0: the lost update");
    });
    armed.store(false, SeqCst);
    let (a_end, b_end) = (16 + 200, 16 + 20);
    assert_eq!(log.end_position(), b_end, "end_position moved back to B's end");
    drop(log);
    assert_eq!(file_len(dir.path()), a_end, "the close cut after A's bytes, not at end_position");
}

/// A clean `always` log of `records` 20-byte messages, its index then cut to 64 entries so that
/// the next open must write index entries again. Returns the length of log.dat.
fn log_needing_index_repair(topic: &Path, records: u64) -> u64 {
    let (log, _) = Log::<RwLockSync>::open(topic, config(4096)).expect("open");
    for i in 0..records {
        log.append(&common::tagged(0, i, 20)).expect("append");
    }
    drop(log);
    let index = std::fs::OpenOptions::new().write(true).open(topic.join(INDEX_FILE)).unwrap();
    index.set_len(64 * 16).unwrap();
    file_len(topic)
}

#[test]
fn a_recovery_that_fails_leaves_the_log_as_it_found_it() {
    // The repair of the index needs more than the 1 KiB a file may grow to here, so opening the
    // topic fails and the broker exits with an error — and log.dat must be untouched (a close
    // after a failed recovery must not cut anything).
    let data = tempfile::tempdir().unwrap();
    let topic = data.path().join("t");
    let len = log_needing_index_repair(&topic, 10_000);
    assert!(len > 100_000);
    let status = std::process::Command::new("bash")
        .args(["-c", "ulimit -f 1 && trap '' XFSZ && shift && exec \"$@\"", "bash", "x"])
        .arg(env!("CARGO_BIN_EXE_broker"))
        .args(["--listen", "127.0.0.1:0", "--fsync", "always", "--data-dir"])
        .arg(data.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run the broker");
    assert_eq!(status.code(), Some(1), "the broker cannot open the topic: {status:?}");
    assert_eq!(file_len(&topic), len, "log.dat is as it was");
    // With room again, the same log opens, repairs its index and serves every record.
    let (log, recovery) = Log::<RwLockSync>::open(&topic, config(4096)).expect("open with room");
    assert!(recovery.index_entries_added > 0 && recovery.truncated_bytes == 0, "{recovery:?}");
    assert_eq!(log.next_offset(), 10_000);
}

#[test]
fn when_the_zeros_do_not_fit_the_log_goes_on_without_them() {
    // Files may grow to 64 KiB only: the first extent of zeros (64 KiB past the first record)
    // cannot be written, and the broker must go on storing and acknowledging messages without
    // preallocating.
    let data = tempfile::tempdir().unwrap();
    let stderr = data.path().join("broker.stderr");
    let dir = data.path().join("data");
    let args = ["--fsync", "always", "--data-dir", dir.to_str().unwrap()];
    let broker = BrokerProcess::start_with_file_limit(&args, 64, &stderr);
    let mut client = Client::connect(broker.addr).expect("connect");
    let payloads: Vec<Vec<u8>> = (0..200).map(|i| common::tagged(0, i, 100)).collect();
    for (i, p) in payloads.iter().enumerate() {
        let offset = client.produce("t", [p.as_slice()]).unwrap_or_else(|e| panic!("produce {i}: {e}"));
        assert_eq!(offset, i as u64);
    }
    let fetched = client.fetch("t", 0, 1000, 1 << 20, Duration::ZERO).expect("fetch");
    assert_eq!(fetched.records.len(), 200, "every acknowledged message is served");
    drop(client);
    assert!(broker.terminate().success());
    let topic = dir.join("t");
    assert_eq!(file_len(&topic), 200 * (16 + 100), "exactly the records, no zeros left");
    assert!(found(&topic).is_empty(), "{:?}", found(&topic));
}

/// The bytes of every file under `dir` (apparent sizes, what the broker wrote).
fn bytes_under(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() { bytes_under(&entry.path()) } else { meta.len() };
    }
    total
}

#[test]
fn a_tiny_message_on_each_of_many_new_topics_costs_kilobytes_of_disk_not_megabytes() {
    // A client must not make the broker write far more than it sent: one 1-byte message on each
    // of 20 new topics may leave at most the first extent (64 KiB) of zeros past each record,
    // plus the topic's other small files. (With 8 MiB of zeros from a log's first append, these
    // 20 bytes of payload cost 160 MiB, and `--max-topics` of them tens of GB.)
    const TOPICS: u64 = 20;
    const FIRST_EXTENT: u64 = 64 << 10;
    const RECORD: u64 = 16 + 1;
    const OTHER_FILES: u64 = 4 << 10; // index.dat (one 16-byte entry) and anything else
    let data = tempfile::tempdir().unwrap();
    let stderr = data.path().join("broker.stderr");
    let dir = data.path().join("data");
    let broker = BrokerProcess::start(&["--fsync", "always", "--data-dir", dir.to_str().unwrap()], &stderr);
    let mut client = Client::connect(broker.addr).expect("connect");
    for t in 0..TOPICS {
        let offset = client.produce(&format!("tiny-{t}"), [&b"x"[..]]).expect("produce");
        assert_eq!(offset, 0);
    }
    // Measured while the broker runs (acknowledged: synced, zeros written): a clean close
    // would cut the zeros.
    for t in 0..TOPICS {
        let len = file_len(&dir.join(format!("tiny-{t}")));
        assert!(len > RECORD, "tiny-{t}: the preallocated zeros are there to be counted ({len} bytes)");
        assert!(len <= RECORD + FIRST_EXTENT, "tiny-{t}: {len} bytes of log.dat for a {RECORD}-byte record");
    }
    let total = bytes_under(&dir);
    let bound = TOPICS * (RECORD + FIRST_EXTENT + OTHER_FILES);
    eprintln!("{total} bytes under the data dir for {TOPICS} one-byte messages (bound {bound})");
    assert!(
        total <= bound,
        "{total} bytes under the data dir for {TOPICS} one-byte messages (at most {bound})"
    );
    drop(client);
    assert!(broker.terminate().success(), "{}", common::broker_process::stderr_tail(&stderr));
    for t in 0..TOPICS {
        assert_eq!(
            file_len(&dir.join(format!("tiny-{t}"))),
            RECORD,
            "tiny-{t}: a clean close cuts the zeros"
        );
    }
}
