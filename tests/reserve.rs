//! `AppendMode::Reserve`: only the reservation inside the write section, writes in parallel,
//! publication in offset order (see `synclog::storage::log::reserve`).
//!
//! - under every locking strategy and every fsync mode, concurrent appenders (single and
//!   batched) with concurrent readers lose nothing, readers never see a hole or a torn record,
//!   and the files verify clean;
//! - forced interleavings for the steps: a record written out of order stays invisible until its
//!   predecessor is published; a reader never sees past the watermark; two reservations forced
//!   together under `none` lose an update, as under `whole`; a failed sync cuts back and fails
//!   the appenders behind it instead of hanging them; a failed sync's cut waits for an appender
//!   still writing, and nothing is published or left on disk past it. (A failed write is injected
//!   in tests/failed_write.rs, by the process's file-size limit.)

mod common;

use common::{open, read_all, tagged, untag, within, HoldFirst};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};
use synclog::storage::{
    verify_topic, AppendMode, FsyncPolicy, Log, LogConfig, RacePoint, RaceWindow, SyncHook, SyncPoint,
    DEFAULT_MAX_MESSAGE_BYTES,
};
use synclog::strategies::{NoSync, RwLockSync, SyncStrategy};

const WRITERS: u32 = 6;
const APPENDS_PER_WRITER: u64 = 400;
const READERS: usize = 2;

fn reserve(fsync: FsyncPolicy) -> LogConfig {
    LogConfig { append: AppendMode::Reserve, fsync, ..LogConfig::default() }
}

fn concurrent_appends_in_every_fsync_mode<S: SyncStrategy>() {
    for fsync in [FsyncPolicy::Never, FsyncPolicy::Interval(Duration::from_millis(2)), FsyncPolicy::Always] {
        concurrent_appends::<S>(fsync);
    }
}
for_each_strategy!(concurrent_appends_in_every_fsync_mode, locking);

fn concurrent_appends<S: SyncStrategy>(fsync: FsyncPolicy) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (topics, _) = synclog::storage::Topics::<S>::open(dir.path(), reserve(fsync)).expect("open");
    let topic = topics.get_or_create("t").expect("topic");
    let log = &topic.log;
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        for w in 0..WRITERS {
            s.spawn(move || {
                let mut seq = 0;
                while seq < APPENDS_PER_WRITER {
                    if w % 2 == 0 {
                        log.append(&tagged(w, seq, 20 + (seq % 50) as usize)).expect("append");
                        seq += 1;
                    } else {
                        let n = (1 + seq % 37).min(APPENDS_PER_WRITER - seq);
                        let batch: Vec<Vec<u8>> = (seq..seq + n).map(|i| tagged(w, i, 30)).collect();
                        let base = log.append_batch(&batch).expect("append batch");
                        // Acknowledged means published: the batch reads back at once, whole.
                        let back = log.read(base, n as u32, u32::MAX).expect("read batch");
                        let got: Vec<(u64, (u32, u64))> = back.iter().map(|(o, p)| (o, untag(p))).collect();
                        let want: Vec<(u64, (u32, u64))> = (0..n).map(|i| (base + i, (w, seq + i))).collect();
                        assert_eq!(got, want, "{} {fsync:?}: batch not readable once acknowledged", S::NAME);
                        seq += n;
                    }
                }
            });
        }
        for _ in 0..READERS {
            let done = &done;
            s.spawn(move || {
                // Reads from where the last one ended: offsets dense, no error, no torn record.
                let mut next = 0u64;
                while !done.load(SeqCst) || next < log.high_watermark() {
                    let batch =
                        log.read(next, 500, 1 << 20).expect("a reader never meets a hole or torn record");
                    assert!(batch.high_watermark <= log.next_offset());
                    for (o, p) in batch.iter() {
                        assert_eq!(o, next, "{} {fsync:?}: offsets dense", S::NAME);
                        assert!(p.len() >= 12);
                        next += 1;
                    }
                    if batch.is_empty() {
                        thread::yield_now();
                    }
                }
            });
        }
        // The readers stop once every record is visible (bounded: 120 s is a hang).
        let deadline = Instant::now() + Duration::from_secs(120);
        while log.high_watermark() < WRITERS as u64 * APPENDS_PER_WRITER && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        done.store(true, SeqCst);
    });
    let total = WRITERS as u64 * APPENDS_PER_WRITER;
    let all = read_all(log);
    assert_eq!(all.len() as u64, total, "{} {fsync:?}", S::NAME);
    let seen: HashSet<(u32, u64)> = all.iter().map(|(_, p)| untag(p)).collect();
    assert_eq!(seen.len() as u64, total, "{} {fsync:?}: nothing lost or duplicated", S::NAME);
    drop(topic);
    drop(topics);
    let report = verify_topic(&dir.path().join("t"), DEFAULT_MAX_MESSAGE_BYTES, None).expect("verify");
    assert!(
        report.violations.is_clean(),
        "{} {fsync:?}: {:?}",
        S::NAME,
        report.violations.found().collect::<Vec<_>>()
    );
    assert_eq!((report.records, report.index_entries), (total, total / 100));
}

#[test]
fn a_record_written_out_of_order_stays_invisible_until_its_predecessor_is_published() {
    // Two appenders reserve offsets 0 and 1 (the section orders them). The one holding 0 is
    // held after its write until the one holding 1 has written too, and from there reads: the
    // log has two reservations and both records' bytes, yet the watermark is 0 and a read
    // returns nothing. Then 0 publishes, then 1, in that order.
    let log_cell: Arc<OnceLock<Arc<Log<RwLockSync>>>> = Arc::default();
    let second_written = Arc::new(AtomicBool::new(false));
    let seen_while_held = Arc::new(AtomicU64::new(u64::MAX));
    let hook = {
        let (log_cell, second_written, seen_while_held) =
            (log_cell.clone(), second_written.clone(), seen_while_held.clone());
        move |point: RacePoint| {
            if let RacePoint::Written { offset, .. } = point {
                if offset == 1 {
                    second_written.store(true, SeqCst);
                } else {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    while !second_written.load(SeqCst) && Instant::now() < deadline {
                        thread::yield_now();
                    }
                    let log = log_cell.get().expect("set");
                    assert_eq!(log.next_offset(), 2, "both reserved");
                    assert_eq!(log.unpublished(), 2, "neither published");
                    let read = log.read(0, 10, u32::MAX).expect("read");
                    seen_while_held.store(read.len() as u64 + 10 * read.high_watermark, SeqCst);
                }
            }
        }
    };
    let config = LogConfig { race_window: RaceWindow::Hook(Arc::new(hook)), ..reserve(FsyncPolicy::Never) };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(open::<RwLockSync>(dir.path(), config));
    assert!(log_cell.set(log.clone()).is_ok());
    let offsets: Vec<u64> = thread::scope(|s| {
        let a = s.spawn(|| log.append(&tagged(1, 0, 40)).expect("append"));
        let b = s.spawn(|| log.append(&tagged(2, 0, 60)).expect("append"));
        vec![a.join().expect("a"), b.join().expect("b")]
    });
    assert_eq!(
        seen_while_held.load(SeqCst),
        0,
        "no record and a watermark of 0 while offset 0 was unpublished"
    );
    let mut sorted = offsets.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 1]);
    assert_eq!(log.unpublished(), 0);
    assert_eq!(read_all(&log).len(), 2);
    // The hook holds the log (a cycle, fine for a test): verify the files with it open; nothing
    // is preallocated under `never`, so they are exactly what a close would leave.
    let report = verify_topic(dir.path(), DEFAULT_MAX_MESSAGE_BYTES, None).expect("verify");
    assert!(report.violations.is_clean(), "{:?}", report.violations.found().collect::<Vec<_>>());
}

#[test]
fn two_reservations_forced_together_under_none_lose_an_update() {
    // Both appenders load before either stores: the race of `whole`, now in the reservation.
    let config = LogConfig {
        race_window: RaceWindow::rendezvous(2, Duration::from_secs(20)),
        ..reserve(FsyncPolicy::Never)
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open::<NoSync>(dir.path(), config);
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| log.append(&tagged(1, 0, 40)).expect("append"));
        let b = s.spawn(|| log.append(&tagged(2, 0, 40)).expect("append"));
        (a.join().expect("a"), b.join().expect("b"))
    });
    assert_eq!((a, b), (0, 0), "both appends were acknowledged with the same offset");
    assert_eq!(log.next_offset(), 1, "one append vanished from the count");
    let back: Vec<(u64, (u32, u64))> = read_all(&log).iter().map(|(o, p)| (*o, untag(p))).collect();
    assert!(back == vec![(0, (1, 0))] || back == vec![(0, (2, 0))], "{back:?}");
}

#[test]
fn the_same_forced_collision_under_a_lock_reserves_two_offsets() {
    let config = LogConfig {
        race_window: RaceWindow::rendezvous(2, Duration::from_millis(200)),
        ..reserve(FsyncPolicy::Never)
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open::<RwLockSync>(dir.path(), config);
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| log.append(&tagged(1, 0, 40)).expect("append"));
        let b = s.spawn(|| log.append(&tagged(2, 0, 40)).expect("append"));
        (a.join().expect("a"), b.join().expect("b"))
    });
    assert!((a, b) == (0, 1) || (a, b) == (1, 0), "offsets {a}, {b}");
    assert_eq!(read_all(&log).len(), 2);
}

#[test]
fn under_fsync_always_a_reserved_append_is_acknowledged_only_once_durable() {
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
    let config = LogConfig { sync_hook: Some(hook), ..reserve(FsyncPolicy::Always) };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open::<RwLockSync>(dir.path(), config);
    thread::scope(|s| {
        for w in 0..4u32 {
            let (log, durable_seen) = (&log, &durable_seen);
            s.spawn(move || {
                for i in 0..60 {
                    let o = log.append(&tagged(w, i, 30)).expect("append");
                    let durable = durable_seen.load(SeqCst);
                    assert!(o < durable, "offset {o} acknowledged, durable only below {durable}");
                }
            });
        }
    });
    assert_eq!(log.high_watermark(), 240);
}

#[test]
fn a_failed_sync_under_reserve_cuts_back_and_fails_the_appenders_behind_it() {
    let syncs = Arc::new(AtomicU64::new(0));
    let hook = {
        let syncs = syncs.clone();
        SyncHook(Arc::new(move |_, point| {
            if let SyncPoint::Start { .. } = point {
                if syncs.fetch_add(1, SeqCst) == 1 {
                    return Err(std::io::Error::other("injected: the disk failed"));
                }
            }
            Ok(())
        }))
    };
    let config = LogConfig { sync_hook: Some(hook), ..reserve(FsyncPolicy::Always) };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open::<RwLockSync>(dir.path(), config);
    assert_eq!(log.append(b"one").expect("first sync"), 0);
    let end = log.end_position();
    assert!(log.append(b"two").is_err(), "the second sync fails");
    assert!(log.append(b"three").is_err(), "poisoned");
    assert_eq!((log.next_offset(), log.end_position(), log.high_watermark()), (1, end, 1));
    assert_eq!(log.unpublished(), 0, "the watermark is cut back with the log");
}

#[test]
fn a_failed_sync_waits_for_an_appender_still_writing_and_nothing_is_published_past_the_cut() {
    // A reserves offset 0 and is held after leaving the write section, before its write; B
    // reserves 1, writes and waits behind A. A sync then fails: its cut must wait for A's write
    // (else A would write past the cut and publish itself and B, records never durable), and
    // once A has written, neither is published, the log is empty and a restart finds nothing.
    // Threads are not scoped, so a cut that never ends fails the test instead of hanging it.
    let (hold, race) = HoldFirst::new();
    let failing = SyncHook(Arc::new(|_, point| match point {
        SyncPoint::Start { .. } => Err(std::io::Error::other("injected: the disk failed")),
        _ => Ok(()),
    }));
    let config = LogConfig { race_window: race, sync_hook: Some(failing), ..reserve(FsyncPolicy::Always) };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(open::<RwLockSync>(dir.path(), config));
    let (done, finished) = std::sync::mpsc::channel();
    let spawn = |name: &'static str, work: Box<dyn FnOnce(&Log<RwLockSync>) -> bool + Send>| {
        let (log, done) = (log.clone(), done.clone());
        thread::spawn(move || {
            let failed = work(&log);
            // Let go of the log before saying so: the test takes it back once all have ended.
            drop(log);
            let _ = done.send((name, failed));
        })
    };
    spawn("A", Box::new(|log| log.append(&tagged(1, 0, 40)).is_err()));
    assert!(hold.reserved(), "A reserved");
    spawn("B", Box::new(|log| log.append(&tagged(2, 0, 60)).is_err()));
    assert!(within(Duration::from_secs(20), || log.next_offset() == 2), "B reserved behind A");
    spawn("the sync", Box::new(|log| log.sync_data().is_err()));
    // The sync has failed and poisoned the log; a cut that does not wait for A would now finish
    // in microseconds, so give it every chance to, then let A write.
    assert!(within(Duration::from_secs(20), || log.sync_failed()), "the injected failure");
    thread::sleep(Duration::from_millis(300));
    // B waits for A too (an appender ahead of it is still writing); the sync, whose cut waits
    // for A, may not end either.
    let mut ended: Vec<(&str, bool)> = finished.try_iter().collect();
    assert!(
        ended.iter().all(|(name, _)| *name == "B"),
        "the cut went ahead while A, reserved before it, had not written: {ended:?}"
    );
    hold.release();
    while ended.len() < 3 {
        ended.push(finished.recv_timeout(Duration::from_secs(20)).expect("every thread ends"));
    }
    ended.sort();
    assert_eq!(ended, [("A", true), ("B", true), ("the sync", true)], "none acknowledged, the sync failed");
    assert_eq!((log.next_offset(), log.high_watermark(), log.unpublished()), (0, 0, 0));
    assert!(log.read(0, 10, u32::MAX).expect("read").is_empty(), "nothing published past the cut");
    // The race hook holds nothing of the log, so this is its last reference: closed here.
    let log = Arc::into_inner(log).expect("the threads have let go of the log");
    drop(log);
    let reopened = open::<RwLockSync>(dir.path(), reserve(FsyncPolicy::Always));
    assert_eq!(reopened.next_offset(), 0, "a restart finds no record that was never durable");
}
