//! Under `--fsync always` an acknowledgement is never sent before its offset is durable.
//!
//! Not timing: a sync hook records, at the moment each `fdatasync` returns, which offsets it
//! covered; every append then checks, as soon as it returns (the moment the broker would send
//! the ack), that a completed sync already covers its offset.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use synclog::storage::{
    FsyncPolicy, Log, LogConfig, LogError, SyncHook, SyncPoint, SyncTotals, Topics, INDEX_ENTRY_BYTES,
    INDEX_FILE, LOG_FILE,
};
use synclog::strategies::{RwLockSync, SyncStrategy};

/// Appends under `--fsync always` from six threads, each checking the moment its append returns
/// (when the broker sends the ack) that a completed sync already covers its offset.
fn under_fsync_always_no_ack_precedes_its_sync<S: SyncStrategy>() {
    let durable_seen = Arc::new(AtomicU64::new(0));
    let syncs = Arc::new(AtomicU64::new(0));
    let hook = {
        let (durable_seen, syncs) = (durable_seen.clone(), syncs.clone());
        SyncHook(Arc::new(move |_, point| {
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

for_each_strategy!(under_fsync_always_no_ack_precedes_its_sync, locking);

#[test]
fn under_fsync_never_nothing_is_synced_per_append() {
    let syncs = Arc::new(AtomicU64::new(0));
    let hook = {
        let syncs = syncs.clone();
        SyncHook(Arc::new(move |_, _| {
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
    // The third sync fails, as a device would. Its append (60 records, crossing index entry
    // 200) gets the device's error, and the log and its index are cut back to the last durable
    // record; every append after it is refused before writing a byte, so a restart finds
    // nothing that a producer was told had failed.
    let syncs = Arc::new(AtomicU64::new(0));
    let hook = {
        let syncs = syncs.clone();
        SyncHook(Arc::new(move |_, point| {
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
    assert_eq!(log.append_batch(&payloads("x", 0, 150)).expect("first sync"), 0);
    assert_eq!(log.append(b"two").expect("second sync"), 150);
    let durable_end = log.end_position();
    let failed = log.append_batch(&payloads("x", 151, 60)).expect_err("the third sync fails");
    assert!(failed.to_string().contains("I/O error"), "{failed}");
    assert_eq!(log.high_watermark(), 151, "the failed append is never served");
    assert!(log.sync_failed());
    assert_eq!(log.next_offset(), 151, "the failed append is cut back");
    assert_eq!(log.end_position(), durable_end, "to the end of the last durable record");
    let index_entries =
        std::fs::metadata(dir.path().join(INDEX_FILE)).expect("index.dat").len() / INDEX_ENTRY_BYTES;
    assert_eq!(index_entries, 2, "the index is cut back too: entries 0 and 100, not 200");
    for later in [b"four", b"five"] {
        let refused = log.append(later).expect_err("poisoned");
        assert!(matches!(refused, LogError::SyncFailed { .. }), "{refused}");
    }
    assert_eq!(log.next_offset(), 151, "nothing appended after the failure");
    assert_eq!(log.end_position(), durable_end, "not a byte written after the failure");
    assert!(log.sync_data().is_err(), "a later sync is refused too");
    assert_eq!(syncs.load(SeqCst), 3, "no sync is trusted after a failed one");
    let file_len = std::fs::metadata(dir.path().join(LOG_FILE)).expect("log.dat").len();
    assert!(file_len <= durable_end, "log.dat holds nothing past the durable records ({file_len} bytes)");
    drop(log);
    let (log, _) = Log::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("reopen");
    let served: Vec<Vec<u8>> = common::read_all(&log).into_iter().map(|(_, p)| p).collect();
    let mut durable = payloads("x", 0, 150);
    durable.push(b"two".to_vec());
    assert_eq!(served.len(), 151, "a restart serves only what was durable");
    assert_eq!(served, durable);
}

#[test]
fn a_panicking_sync_hook_fails_every_waiting_append_and_hangs_nobody() {
    // The first sync's hook waits until two more appends are parked behind it, then panics.
    // The leader's append panics (its thread's result is an Err); the two parked appends are
    // woken with SyncFailed instead of parking forever; the log refuses appends from then on.
    let log_cell: Arc<std::sync::OnceLock<Arc<Log<RwLockSync>>>> = Arc::default();
    // Whether the two appends were parked when the hook panicked (else they could have been
    // refused later, without ever waiting on the panicking sync).
    let both_parked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hook = {
        let (log_cell, both_parked) = (log_cell.clone(), both_parked.clone());
        SyncHook(Arc::new(move |_, point| {
            if let SyncPoint::Start { .. } = point {
                let log = log_cell.get().expect("set before the first append");
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
                while log.sync_waiters() < 2 && std::time::Instant::now() < deadline {
                    thread::yield_now();
                }
                both_parked.store(log.sync_waiters() >= 2, SeqCst);
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
    assert!(both_parked.load(SeqCst), "both appends were parked behind the sync when it panicked");
    for w in waiters {
        let result = w.join().expect("a waiter never panics");
        assert!(matches!(result, Err(LogError::SyncFailed { .. })), "{result:?}");
    }
    assert!(log.sync_failed());
    assert!(matches!(log.append(b"later"), Err(LogError::SyncFailed { .. })));
    assert_eq!(log.high_watermark(), 0, "nothing was ever durable, nothing is served");
}

/// Every call a sync hook saw, in order: the topic, the point, and whether it failed that sync.
type Seen = Arc<Mutex<Vec<(String, SyncPoint, bool)>>>;

/// A hook that fails, as a failing device would, every sync of topic `bad`'s log that covers
/// `fail_from` records or more, and lets every other sync through (other topics', and `bad`'s
/// of fewer records); it notes each call in `seen`.
fn failing_one_topic(bad: &'static str, fail_from: u64, seen: Seen) -> SyncHook {
    SyncHook(Arc::new(move |path, point| {
        let topic = path.parent().and_then(|d| d.file_name()).and_then(|n| n.to_str()).unwrap_or("?");
        let fail = topic == bad && matches!(point, SyncPoint::Start { covered } if covered >= fail_from);
        seen.lock().expect("no panic holds it").push((topic.to_string(), point, fail));
        if fail {
            return Err(std::io::Error::other("injected: the disk failed"));
        }
        Ok(())
    }))
}

/// The topics of these tests; `b`, the one whose syncs fail, sorts between the others, so that
/// a topic is synced after the failure as well as before it.
const TOPICS: [&str; 3] = ["a", "b", "c"];
/// Records each topic gets before the failing sync: synced, durable, two index entries (0, 100).
const DURABLE: u64 = 150;
/// Records each topic gets then, before the sync that fails for `b` (one more index entry, 200).
const MORE: u64 = 100;

/// `count` payloads of `topic`, numbered from `from`.
fn payloads(topic: &str, from: u64, count: u64) -> Vec<Vec<u8>> {
    (from..from + count).map(|i| format!("{topic}-{i}").into_bytes()).collect()
}

/// Index entries in the topic's `index.dat`, and the length of its `log.dat`.
fn files_of(dir: &Path, topic: &str) -> (u64, u64) {
    let len = |f: &str| std::fs::metadata(dir.join(topic).join(f)).expect("topic file").len();
    (len(INDEX_FILE) / INDEX_ENTRY_BYTES, len(LOG_FILE))
}

/// Checks `b` after its failed sync: poisoned, `log.dat` and `index.dat` cut back to its durable
/// records (`durable_end` bytes, entries 0 and 100), nothing served past them, appends refused
/// without a byte written.
fn check_cut_back(topics: &Topics<RwLockSync>, dir: &Path, durable_end: u64) {
    let b = topics.get("b").expect("topic b");
    assert!(b.log.sync_failed(), "b's failed sync poisons b");
    assert_eq!((b.log.next_offset(), b.log.end_position()), (DURABLE, durable_end), "b is cut back");
    assert_eq!(files_of(dir, "b"), (2, durable_end), "b's index and log files are cut back");
    let served: Vec<Vec<u8>> = common::read_all(&b.log).into_iter().map(|(_, p)| p).collect();
    assert_eq!(served, payloads("b", 0, DURABLE), "b serves its durable records, and only those");
    assert!(matches!(b.log.append(b"z"), Err(LogError::SyncFailed { .. })));
    assert_eq!(files_of(dir, "b"), (2, durable_end), "the refused append wrote nothing");
}

/// Checks that `name` goes on after `b`'s failure: not poisoned, nothing cut (three index
/// entries), and it takes one more append.
fn check_goes_on(topics: &Topics<RwLockSync>, dir: &Path, name: &str) {
    let t = topics.get(name).expect("topic");
    assert!(!t.log.sync_failed(), "{name} is not poisoned by b's failure");
    assert_eq!(t.log.next_offset(), DURABLE + MORE, "{name}: nothing cut");
    assert_eq!(files_of(dir, name).0, 3, "{name}: its index keeps entries 0, 100 and 200");
    assert_eq!(t.log.append(format!("{name}-later").as_bytes()).expect("appends go on"), DURABLE + MORE);
}

/// The topics' `Start`s in `seen` from index `from` on, with whether each failed.
fn starts(seen: &Seen, from: usize) -> Vec<(String, bool)> {
    let seen = seen.lock().expect("no panic holds it");
    seen[from..]
        .iter()
        .filter(|(_, p, _)| matches!(p, SyncPoint::Start { .. }))
        .map(|(t, _, failed)| (t.clone(), *failed))
        .collect()
}

/// Whether `seen` holds, from index `from` on, a completed sync of `topic` covering `covered`.
fn synced(seen: &Seen, from: usize, topic: &str, covered: u64) -> bool {
    let seen = seen.lock().expect("no panic holds it");
    seen[from..].iter().any(|(t, p, _)| t == topic && *p == SyncPoint::Done { covered })
}

/// Waits (bounded: 20 s is a hang, not a slow machine) until `done()`; panics with `what`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "never happened: {what}");
        thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn a_failed_sync_poisons_and_cuts_back_its_topic_only_and_sync_all_attempts_every_topic() {
    // An interval too long to fire during the test: `sync_all` is called by hand. Round one
    // syncs all three topics; round two fails `b`'s sync only. `c` (after `b`) is attempted
    // all the same; `b` is poisoned and its log and index cut back to its durable records;
    // `a` and `c` go on, and the next round syncs them (and refuses `b` without a sync).
    let seen = Seen::default();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        fsync: FsyncPolicy::Interval(std::time::Duration::from_secs(3600)),
        sync_hook: Some(failing_one_topic("b", DURABLE + 1, seen.clone())),
        ..LogConfig::default()
    };
    let (topics, _) = Topics::<RwLockSync>::open(dir.path(), config).expect("open");
    for name in TOPICS {
        let t = topics.get_or_create(name).expect("create");
        t.log.append_batch(&payloads(name, 0, DURABLE)).expect("interval acknowledges before syncing");
    }
    let durable_end = topics.get("b").expect("b").log.end_position();
    topics.sync_all().expect("round one syncs every topic");
    for name in TOPICS {
        topics.get(name).expect("topic").log.append_batch(&payloads(name, DURABLE, MORE)).expect("append");
        assert_eq!(files_of(dir.path(), name).0, 3, "{name}: index entries 0, 100, 200");
    }

    let round_two = seen.lock().expect("no panic holds it").len();
    let failed = topics.sync_all().expect_err("b's sync fails");
    assert!(failed.to_string().contains("I/O error"), "{failed}");
    assert_eq!(
        starts(&seen, round_two),
        [("a".to_string(), false), ("b".to_string(), true), ("c".to_string(), false)],
        "every topic is attempted, c after b failed"
    );
    for name in ["a", "c"] {
        assert!(synced(&seen, round_two, name, DURABLE + MORE), "{name} is synced in the same round");
    }
    check_cut_back(&topics, dir.path(), durable_end);
    for name in ["a", "c"] {
        check_goes_on(&topics, dir.path(), name);
    }

    let round_three = seen.lock().expect("no panic holds it").len();
    let refused = topics.sync_all().expect_err("b refuses its sync");
    assert!(matches!(refused, LogError::SyncFailed { .. }), "{refused}");
    assert_eq!(
        starts(&seen, round_three),
        [("a".to_string(), false), ("c".to_string(), false)],
        "b is never synced again (no sync is trusted after a failed one); a and c are"
    );
    for name in ["a", "c"] {
        assert!(synced(&seen, round_three, name, DURABLE + MORE + 1), "{name}'s later append is synced");
    }
}

#[test]
fn the_interval_syncer_attempts_every_topic_and_a_failed_sync_poisons_and_cuts_back_its_topic_only() {
    // The same through the syncer thread (every 5 ms), not `sync_all`: once it has synced all
    // three topics, `b`'s syncs of more records fail. The syncer's next call after `b`'s failed
    // one is `c`'s sync in the same round; `b` is poisoned and cut back (log and index) and
    // never attempted again; `a` and `c` go on, and the syncer keeps syncing them.
    let seen = Seen::default();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        fsync: FsyncPolicy::Interval(std::time::Duration::from_millis(5)),
        sync_hook: Some(failing_one_topic("b", DURABLE + 1, seen.clone())),
        ..LogConfig::default()
    };
    let (topics, _) = Topics::<RwLockSync>::open(dir.path(), config).expect("open");
    for name in TOPICS {
        let t = topics.get_or_create(name).expect("create");
        t.log.append_batch(&payloads(name, 0, DURABLE)).expect("interval acknowledges before syncing");
    }
    let durable_end = topics.get("b").expect("b").log.end_position();
    wait_until("the syncer syncs every topic's first records", || {
        TOPICS.iter().all(|name| synced(&seen, 0, name, DURABLE))
    });
    for name in TOPICS {
        topics.get(name).expect("topic").log.append_batch(&payloads(name, DURABLE, MORE)).expect("append");
    }
    // The syncer poisons b as its sync fails and cuts it back just after, on its own thread.
    let b = topics.get("b").expect("b");
    wait_until("b is poisoned and cut back", || b.log.sync_failed() && b.log.next_offset() == DURABLE);
    wait_until("the syncer goes on to c after b failed", || {
        let starts = starts(&seen, 0);
        let failed = starts.iter().position(|(_, failed)| *failed);
        failed.is_some_and(|i| starts.len() > i + 1)
    });
    let after = starts(&seen, 0);
    let failed = after.iter().position(|(_, failed)| *failed).expect("b's failed sync");
    assert_eq!(
        after[failed + 1],
        ("c".to_string(), false),
        "the syncer's next sync after b's failure is c's"
    );
    check_cut_back(&topics, dir.path(), durable_end);
    for name in ["a", "c"] {
        check_goes_on(&topics, dir.path(), name);
    }
    wait_until("the syncer syncs a's and c's later appends", || {
        ["a", "c"].iter().all(|name| synced(&seen, 0, name, DURABLE + MORE + 1))
    });
    let b_attempts = starts(&seen, 0).iter().filter(|(t, failed)| t == "b" && *failed).count();
    assert_eq!(b_attempts, 1, "one failed attempt of b, no retries");
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
        SyncHook(Arc::new(move |_, point| {
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
