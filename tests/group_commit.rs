//! Under `--fsync always` an acknowledgement is never sent before its offset is durable.
//!
//! Not timing: a sync hook records, at the moment each `fdatasync` returns, which offsets it
//! covered; every append then checks, as soon as it returns (the moment the broker would send
//! the ack), that a completed sync already covers its offset.

mod common;

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use synclog::storage::{
    FsyncPolicy, Log, LogConfig, LogError, SyncHook, SyncPoint, SyncTotals, Topics, LOG_FILE,
};
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
    // What the reports read: exactly the syncs the hook saw, each of which took some time.
    let totals = log.sync_totals();
    assert_eq!(totals.syncs, n, "{}: the log counts every sync", S::NAME);
    assert!(totals.syncing > std::time::Duration::ZERO, "{}: time inside fdatasync", S::NAME);
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
    assert_eq!(log.sync_totals(), SyncTotals::default(), "no sync, no sync time, no gathering");
    assert_eq!(log.high_watermark(), 100, "without fsync the watermark is the next offset");
}

#[test]
fn after_a_failed_sync_no_append_is_acknowledged_or_written() {
    // The third sync fails, as a device would. Its append gets the device's error, and the log
    // is cut back to the last durable record; every append after it is refused before writing
    // a byte, so a restart finds nothing that a producer was told had failed.
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
    let durable_end = log.end_position();
    let failed = log.append(b"three").expect_err("the third sync fails");
    assert!(failed.to_string().contains("I/O error"), "{failed}");
    assert_eq!(log.high_watermark(), 2, "the failed append is never served");
    assert!(log.sync_failed());
    assert_eq!(log.next_offset(), 2, "the failed append is cut back");
    assert_eq!(log.end_position(), durable_end, "to the end of the last durable record");
    for later in [b"four", b"five"] {
        let refused = log.append(later).expect_err("poisoned");
        assert!(matches!(refused, LogError::SyncFailed { .. }), "{refused}");
    }
    assert_eq!(log.next_offset(), 2, "nothing appended after the failure");
    assert_eq!(log.end_position(), durable_end, "not a byte written after the failure");
    assert!(log.sync_data().is_err(), "a later sync is refused too");
    assert_eq!(syncs.load(SeqCst), 3, "no sync is trusted after a failed one");
    let file_len = std::fs::metadata(dir.path().join(LOG_FILE)).expect("log.dat").len();
    assert!(file_len <= durable_end, "log.dat holds nothing past the durable records ({file_len} bytes)");
    drop(log);
    let (log, _) = Log::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("reopen");
    let served: Vec<Vec<u8>> =
        log.read(0, 10, u32::MAX).expect("read").iter().map(|(_, p)| p.to_vec()).collect();
    assert_eq!(served, [b"one".to_vec(), b"two".to_vec()], "a restart serves only what was durable");
}

#[test]
fn a_panicking_sync_hook_fails_every_waiting_append_and_hangs_nobody() {
    // The first sync's hook waits until two more appends are parked behind it, then panics.
    // The leader's append panics (its thread's result is an Err); the two parked appends are
    // woken with SyncFailed instead of parking forever; the log refuses appends from then on.
    let log_cell: Arc<std::sync::OnceLock<Arc<Log<RwLockSync>>>> = Arc::default();
    let hook = {
        let log_cell = log_cell.clone();
        SyncHook(Arc::new(move |point| {
            if let SyncPoint::Start { .. } = point {
                let log = log_cell.get().expect("set before the first append");
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
                while log.sync_waiters() < 2 && std::time::Instant::now() < deadline {
                    thread::yield_now();
                }
                panic!("injected: the sync hook panicked");
            }
            Ok(())
        }))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig { fsync: FsyncPolicy::Always, sync_hook: Some(hook), ..LogConfig::default() };
    let log = Arc::new(Log::<RwLockSync>::open(dir.path(), config).expect("open").0);
    assert!(log_cell.set(log.clone()).is_ok());
    let leader = {
        let log = log.clone();
        thread::spawn(move || log.append(b"leader"))
    };
    // The others start once the leader is inside its sync (it is the only appender so far).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while log.next_offset() == 0 && std::time::Instant::now() < deadline {
        thread::yield_now();
    }
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let log = log.clone();
            thread::spawn(move || log.append(b"waiter"))
        })
        .collect();
    assert!(leader.join().is_err(), "the panic reaches the leader's caller");
    for w in waiters {
        let result = w.join().expect("a waiter never panics");
        assert!(matches!(result, Err(LogError::SyncFailed { .. })), "{result:?}");
    }
    assert!(log.sync_failed());
    assert!(matches!(log.append(b"later"), Err(LogError::SyncFailed { .. })));
    assert_eq!(log.high_watermark(), 0, "nothing was ever durable, nothing is served");
}

/// A hook that fails every sync's start, counting the attempts.
fn failing_hook(attempts: Arc<AtomicU64>) -> SyncHook {
    SyncHook(Arc::new(move |point| {
        if let SyncPoint::Start { .. } = point {
            attempts.fetch_add(1, SeqCst);
            return Err(std::io::Error::other("injected: the disk failed"));
        }
        Ok(())
    }))
}

#[test]
fn a_failing_sync_under_interval_poisons_each_topic_and_sync_all_attempts_every_one() {
    // An interval too long to fire during the test: `sync_all` is called by hand. Both topics'
    // syncs fail; both are attempted; each log is cut back to its last durable record (none:
    // nothing was ever synced) and refuses appends, as under `always`.
    let attempts = Arc::new(AtomicU64::new(0));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        fsync: FsyncPolicy::Interval(std::time::Duration::from_secs(3600)),
        sync_hook: Some(failing_hook(attempts.clone())),
        ..LogConfig::default()
    };
    let (topics, _) = Topics::<RwLockSync>::open(dir.path(), config).expect("open");
    for name in ["a", "b"] {
        let t = topics.get_or_create(name).expect("create");
        t.log.append_batch(&[b"x".as_slice(), b"y"]).expect("interval acknowledges before syncing");
    }
    let failed = topics.sync_all().expect_err("the syncs fail");
    assert!(failed.to_string().contains("I/O error"), "{failed}");
    assert_eq!(attempts.load(SeqCst), 2, "the second topic is attempted after the first failed");
    for name in ["a", "b"] {
        let t = topics.get(name).expect("topic");
        assert!(t.log.sync_failed(), "{name}");
        assert_eq!((t.log.next_offset(), t.log.end_position()), (0, 0), "{name}: cut back");
        assert!(matches!(t.log.append(b"z"), Err(LogError::SyncFailed { .. })), "{name}");
    }
}

#[test]
fn the_interval_syncer_poisons_a_topic_whose_sync_fails() {
    let attempts = Arc::new(AtomicU64::new(0));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        fsync: FsyncPolicy::Interval(std::time::Duration::from_millis(5)),
        sync_hook: Some(failing_hook(attempts.clone())),
        ..LogConfig::default()
    };
    let (topics, _) = Topics::<RwLockSync>::open(dir.path(), config).expect("open");
    let t = topics.get_or_create("t").expect("create");
    t.log.append(b"x").expect("append");
    // Bounded: the syncer fires every 5 ms; 20 s is a hang, not a slow machine. The syncer
    // poisons the log as its sync fails and cuts the log back just after, on its own thread:
    // wait for both, then check each.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !(t.log.sync_failed() && t.log.next_offset() == 0) && std::time::Instant::now() < deadline {
        thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(t.log.sync_failed(), "the syncer's failed sync poisons the log");
    assert_eq!(t.log.next_offset(), 0, "cut back to the last durable record");
    assert!(matches!(t.log.append(b"y"), Err(LogError::SyncFailed { .. })));
    assert_eq!(t.log.next_offset(), 0, "the refused append wrote nothing");
    // The syncer does not retry a poisoned log.
    let seen = attempts.load(SeqCst);
    assert_eq!(seen, 1, "one failed attempt, no retries");
}

#[test]
fn under_fsync_always_concurrent_readers_never_read_past_the_durable_offset() {
    // The hook records the durable offset when each sync returns (before the log raises its
    // own). Readers fetch from random offsets while four writers append; every record a reader
    // is served, and the high watermark it reports, must be below what a completed sync covered
    // by the time the read returns. Serving the next offset instead would fail at once.
    let durable_seen = Arc::new(AtomicU64::new(0));
    let hook = {
        let durable_seen = durable_seen.clone();
        SyncHook(Arc::new(move |point| {
            if let SyncPoint::Done { covered } = point {
                durable_seen.fetch_max(covered, SeqCst);
            }
            Ok(())
        }))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig { fsync: FsyncPolicy::Always, sync_hook: Some(hook), ..LogConfig::default() };
    let log = Log::<RwLockSync>::open(dir.path(), config).expect("open").0;
    let writers_done = std::sync::atomic::AtomicUsize::new(0);
    let reads = AtomicU64::new(0);
    thread::scope(|s| {
        for w in 0..4u32 {
            let (log, writers_done) = (&log, &writers_done);
            s.spawn(move || {
                for i in 0..150 {
                    log.append(&common::tagged(w, i, 30)).expect("append");
                }
                writers_done.fetch_add(1, SeqCst);
            });
        }
        for r in 0..3u64 {
            let (log, durable_seen, writers_done, reads) = (&log, &durable_seen, &writers_done, &reads);
            s.spawn(move || {
                let mut x = r + 1;
                while writers_done.load(SeqCst) < 4 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let from = (x >> 33) % (log.next_offset() + 1);
                    let batch = match log.read(from, 50, u32::MAX) {
                        Ok(b) => b,
                        Err(LogError::OffsetOutOfRange { .. }) => continue,
                        Err(e) => panic!("read: {e}"),
                    };
                    let durable = durable_seen.load(SeqCst);
                    assert!(
                        batch.high_watermark <= durable,
                        "watermark {} > durable {durable}",
                        batch.high_watermark
                    );
                    for (offset, _) in batch.iter() {
                        assert!(offset < durable, "offset {offset} served, durable only below {durable}");
                    }
                    reads.fetch_add(1, SeqCst);
                }
            });
        }
    });
    assert!(reads.load(SeqCst) > 0, "the readers ran while the writers appended");
    assert_eq!(log.next_offset(), 600);
}
