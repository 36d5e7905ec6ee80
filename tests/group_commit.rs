//! Under `--fsync always` an acknowledgement is never sent before its offset is durable.
//!
//! Not timing: a sync hook records, at the moment each `fdatasync` returns, which offsets it
//! covered; every append then checks, as soon as it returns (the moment the broker would send
//! the ack), that a completed sync already covers its offset.

mod common;

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use synclog::storage::{FsyncPolicy, Log, LogConfig, LogError, SyncHook, SyncPoint};
use synclog::strategies::{RwLockSync, SyncStrategy};

fn acks_follow_durability<S: SyncStrategy>() {
    let durable_seen = Arc::new(AtomicU64::new(0));
    let syncs = Arc::new(AtomicU64::new(0));
    let hook = {
        let (durable_seen, syncs) = (durable_seen.clone(), syncs.clone());
        SyncHook(Arc::new(move |point| {
            if let SyncPoint::Done { covered } = point {
                durable_seen.fetch_max(covered, SeqCst);
                syncs.fetch_add(1, SeqCst);
            }
            Ok(())
        }))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig { fsync: FsyncPolicy::Always, sync_hook: Some(hook), ..LogConfig::default() };
    let log = Log::<S>::open(dir.path(), config).expect("open").0;
    const THREADS: u64 = 6;
    const APPENDS: u64 = 60;
    thread::scope(|s| {
        for t in 0..THREADS {
            let (log, durable_seen) = (&log, &durable_seen);
            s.spawn(move || {
                for i in 0..APPENDS {
                    let payload = common::tagged(t as u32, i, 40);
                    let (offset, last) = if i % 3 == 0 {
                        let base = log.append_batch(&[payload.clone(), payload]).expect("append");
                        (base, base + 1)
                    } else {
                        let o = log.append(&payload).expect("append");
                        (o, o)
                    };
                    // The ack would be sent now: a finished sync must already cover it.
                    let durable = durable_seen.load(SeqCst);
                    assert!(
                        last < durable,
                        "{}: offset {last} acknowledged, durable only below {durable}",
                        S::NAME
                    );
                    assert!(log.high_watermark() > offset, "the high watermark serves only durable records");
                }
            });
        }
    });
    let appends = THREADS * APPENDS;
    let n = syncs.load(SeqCst);
    assert!(n >= 1 && n <= appends, "{n} syncs for {appends} appends");
}

#[test]
fn under_fsync_always_no_ack_precedes_its_sync_rwlock() {
    acks_follow_durability::<RwLockSync>();
}

#[test]
fn under_fsync_always_no_ack_precedes_its_sync_semaphore() {
    acks_follow_durability::<synclog::strategies::SemaphoreSync>();
}

#[test]
fn under_fsync_never_nothing_is_synced_per_append() {
    let syncs = Arc::new(AtomicU64::new(0));
    let hook = {
        let syncs = syncs.clone();
        SyncHook(Arc::new(move |_| {
            syncs.fetch_add(1, SeqCst);
            Ok(())
        }))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig { sync_hook: Some(hook), ..LogConfig::default() };
    let log = Log::<RwLockSync>::open(dir.path(), config).expect("open").0;
    for i in 0..100 {
        log.append(&common::tagged(0, i, 30)).expect("append");
    }
    assert_eq!(syncs.load(SeqCst), 0);
    assert_eq!(log.high_watermark(), 100, "without fsync the watermark is the next offset");
}

#[test]
fn after_a_failed_sync_no_append_is_acknowledged_or_written() {
    // The third sync fails, as a device would. Its append gets the device's error; every append
    // after it is refused before writing a byte, so a restart finds nothing that a producer
    // was told had failed.
    let syncs = Arc::new(AtomicU64::new(0));
    let hook = {
        let syncs = syncs.clone();
        SyncHook(Arc::new(move |point| {
            if let SyncPoint::Start { .. } = point {
                if syncs.fetch_add(1, SeqCst) == 2 {
                    return Err(std::io::Error::other("injected: the disk failed"));
                }
            }
            Ok(())
        }))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig { fsync: FsyncPolicy::Always, sync_hook: Some(hook), ..LogConfig::default() };
    let log = Log::<RwLockSync>::open(dir.path(), config).expect("open").0;
    assert_eq!(log.append(b"one").expect("first sync"), 0);
    assert_eq!(log.append(b"two").expect("second sync"), 1);
    let failed = log.append(b"three").expect_err("the third sync fails");
    assert!(failed.to_string().contains("I/O error"), "{failed}");
    assert_eq!(log.high_watermark(), 2, "the failed append is never served");
    let end = log.end_position();
    for later in [b"four", b"five"] {
        let refused = log.append(later).expect_err("poisoned");
        assert!(matches!(refused, LogError::SyncFailed { .. }), "{refused}");
    }
    assert_eq!(log.next_offset(), 3, "nothing appended after the failure");
    assert_eq!(log.end_position(), end, "not a byte written after the failure");
    assert_eq!(syncs.load(SeqCst), 3, "no sync is trusted after a failed one");
}
