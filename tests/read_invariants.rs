//! What a read of a healthy log returns while appenders and syncs run, under every locking
//! strategy, both append modes and every fsync policy, with and without a sync that fails
//! (which cuts the log back to its durable records while the readers read).
//!
//! A healthy log's offsets run 0, 1, 2, … in file order, so a read below the high watermark
//! always finds a record at or past its offset: it must never be answered with no records, nor
//! refused as damaged (`Missing`, `Corrupt`), and what it returns starts at its offset and runs
//! on one by one. The only error a reader may get is `OffsetOutOfRange`, after a failed sync cut
//! the log back below an offset it had seen. Each run is bounded by counts (appends per
//! appender, reads per reader), not by time; what interleavings it meets varies from run to
//! run, but every one of them must keep these rules.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use synclog::storage::{AppendMode, FsyncPolicy, Log, LogConfig, LogError, SyncHook, SyncPoint};
use synclog::strategies::{MutexSync, RwLockSync, SemaphoreSync, StdRwLockSync, SyncStrategy};

const APPENDERS: u64 = 4;
const READERS: u64 = 3;
const READS: u64 = 3_000;

/// One run: `APPENDERS` threads appending single messages and batches of three, `READERS`
/// threads reading from random offsets up to the high watermark with random limits, at least
/// `READS` each and on until the appenders are done; the sync numbered `fail_sync` (if any)
/// fails.
fn run<S: SyncStrategy>(append: AppendMode, fsync: FsyncPolicy, fail_sync: Option<u64>) {
    let name = format!("{} {append:?} {fsync:?}, failed sync {fail_sync:?}", S::NAME);
    let dir = tempfile::tempdir().expect("tempdir");
    let syncs = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&syncs);
    let hook = SyncHook(Arc::new(move |_, point| match point {
        SyncPoint::Start { .. } if Some(counted.fetch_add(1, SeqCst)) == fail_sync => {
            Err(std::io::Error::other("a sync the test fails"))
        }
        _ => Ok(()),
    }));
    let config = LogConfig { fsync, append, sync_hook: Some(hook), ..LogConfig::default() };
    let log = Log::<S>::open(dir.path(), config).expect("open").0;
    // Under `always` every acknowledgement waits for a sync: fewer appends keep the run short.
    let appends = if fsync == FsyncPolicy::Always { 150 } else { 1_500 };
    let appending = AtomicU64::new(APPENDERS);
    thread::scope(|s| {
        for t in 0..APPENDERS {
            let (log, name, appending) = (&log, &name, &appending);
            s.spawn(move || {
                for i in 0..appends {
                    let payload = vec![b'a' + t as u8; ((t * 7 + i * 13) % 50) as usize];
                    let appended = match i % 5 {
                        0 => log.append_batch(&[&payload[..], &payload, &payload]),
                        _ => log.append(&payload),
                    };
                    match appended {
                        // The leader of the failed sync gets its I/O error, the others the poison.
                        Ok(_) | Err(LogError::SyncFailed { .. }) => {}
                        Err(LogError::Io { .. }) if log.sync_failed() => {}
                        Err(e) => panic!("{name}: an append failed otherwise than by the sync: {e}"),
                    }
                    // Under `interval` the appenders drive the syncs here, as the broker's syncer would.
                    if matches!(fsync, FsyncPolicy::Interval(_)) && t == 0 && i % 50 == 0 {
                        let _ = log.sync_data();
                    }
                }
                appending.fetch_sub(1, SeqCst);
            });
        }
        for r in 0..READERS {
            let (log, name, appending) = (&log, &name, &appending);
            s.spawn(move || {
                let mut x = r * 7919 + 1;
                let mut reads = 0;
                // At least `READS`, and on while the appenders append (their counts bound it).
                while reads < READS || appending.load(SeqCst) > 0 {
                    reads += 1;
                    // xorshift: a cheap spread of offsets and limits, the same every run.
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let seen = log.high_watermark();
                    let offset = x % (seen + 1);
                    let (records, bytes) = ((x >> 20) as u32 % 4, (x >> 30) as u32 % 60);
                    match log.read(offset, records, bytes) {
                        Ok(batch) => {
                            let offsets: Vec<u64> = batch.iter().map(|(o, _)| o).collect();
                            assert!(
                                records == 0 || offset >= batch.high_watermark || !offsets.is_empty(),
                                "{name}: no records from {offset} below the high watermark {}",
                                batch.high_watermark
                            );
                            assert!(
                                offsets.iter().enumerate().all(|(k, &o)| o == offset + k as u64),
                                "{name}: a read from {offset} returned {offsets:?}"
                            );
                        }
                        Err(LogError::OffsetOutOfRange { .. }) if log.sync_failed() => {}
                        Err(e) => panic!("{name}: a read from {offset} (high watermark {seen}) failed: {e}"),
                    }
                }
            });
        }
    });
    if fail_sync.is_some_and(|n| syncs.load(SeqCst) > n) {
        assert!(log.sync_failed(), "{name}: the failed sync poisons the log");
    }
}

fn every_mode<S: SyncStrategy>() {
    for append in [AppendMode::Whole, AppendMode::Reserve] {
        run::<S>(append, FsyncPolicy::Never, None);
        for fsync in [FsyncPolicy::Always, FsyncPolicy::Interval(Duration::from_millis(1))] {
            run::<S>(append, fsync, None);
            run::<S>(append, fsync, Some(20));
        }
    }
}

#[test]
fn reads_of_a_healthy_log_are_whole_and_never_empty_below_the_high_watermark_under_mutex() {
    every_mode::<MutexSync>();
}

#[test]
fn reads_of_a_healthy_log_are_whole_and_never_empty_below_the_high_watermark_under_rwlock() {
    every_mode::<RwLockSync>();
}

#[test]
fn reads_of_a_healthy_log_are_whole_and_never_empty_below_the_high_watermark_under_semaphore() {
    every_mode::<SemaphoreSync>();
}

#[test]
fn reads_of_a_healthy_log_are_whole_and_never_empty_below_the_high_watermark_under_std_rwlock() {
    every_mode::<StdRwLockSync>();
}
