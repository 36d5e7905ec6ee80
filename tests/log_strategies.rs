//! One generic body per property, run for every strategy.
//!
//! Locking strategies must lose nothing and corrupt nothing under heavy concurrency. `NoSync`
//! must be *shown* to race, but never by hoping a race happens: the interleavings are forced
//! with a rendezvous (or a scripted hook) in the race window, each wait bounded so that a
//! locking strategy, which cannot let a second appender in, simply times out and goes on.

mod common;

use common::{open, read_all, tagged, untag};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};
use synclog::storage::{verify_topic, LogConfig, LogError, RacePoint, RaceWindow, DEFAULT_MAX_MESSAGE_BYTES};
use synclog::strategies::SyncStrategy;
use synclog::violations::ViolationKind as K;

const WRITERS: u32 = 8;
const APPENDS_PER_WRITER: u64 = 10_000;
const READERS: usize = 4;

/// 8 writers × 10 000 appends (half single, half in batches) with 4 readers following along.
fn concurrent_appends_are_never_lost<S: SyncStrategy>() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open::<S>(dir.path(), LogConfig::default());
    let done = AtomicBool::new(false);
    let start = Barrier::new(WRITERS as usize + READERS);
    let torn_reads = AtomicU64::new(0);
    thread::scope(|s| {
        for w in 0..WRITERS {
            let (log, start) = (&log, &start);
            s.spawn(move || {
                start.wait();
                let mut seq = 0;
                while seq < APPENDS_PER_WRITER {
                    if w % 2 == 0 {
                        // Single appends, with sizes varying so records have different lengths.
                        log.append(&tagged(w, seq, 20 + (seq % 50) as usize)).expect("append");
                        seq += 1;
                    } else {
                        let n = (1 + seq % 37).min(APPENDS_PER_WRITER - seq);
                        let batch: Vec<Vec<u8>> = (seq..seq + n).map(|i| tagged(w, i, 30)).collect();
                        let base = log.append_batch(&batch).expect("append batch");
                        // A batch's records get contiguous offsets; check them right away.
                        let back = log.read(base, n as u32, u32::MAX).expect("read batch");
                        let got: Vec<(u64, (u32, u64))> = back.iter().map(|(o, p)| (o, untag(p))).collect();
                        let want: Vec<(u64, (u32, u64))> = (0..n).map(|i| (base + i, (w, seq + i))).collect();
                        assert_eq!(got, want, "{}: batch not contiguous", S::NAME);
                        seq += n;
                    }
                }
            });
        }
        for _ in 0..READERS {
            let (log, start, done, torn_reads) = (&log, &start, &done, &torn_reads);
            s.spawn(move || {
                start.wait();
                let mut next = 0u64;
                loop {
                    let finished = done.load(SeqCst);
                    match log.read(next, 500, 1 << 20) {
                        Ok(batch) => {
                            for (o, p) in batch.iter() {
                                assert_eq!(o, next, "{}: a reader saw offsets out of order", S::NAME);
                                assert!(p.len() >= 12, "{}: short payload", S::NAME);
                                next = o + 1;
                            }
                        }
                        Err(LogError::Corrupt { .. }) => {
                            torn_reads.fetch_add(1, SeqCst);
                        }
                        Err(e) => panic!("{}: read failed: {e}", S::NAME),
                    }
                    if finished && next == log.next_offset() {
                        break;
                    }
                }
            });
        }
        // Wait for the writers in a second scope-less way: poll the offset (bounded).
        let deadline = Instant::now() + Duration::from_secs(120);
        while log.next_offset() < u64::from(WRITERS) * APPENDS_PER_WRITER && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        done.store(true, SeqCst);
    });
    assert_eq!(torn_reads.load(SeqCst), 0, "{}: a reader saw a torn record", S::NAME);
    let total = u64::from(WRITERS) * APPENDS_PER_WRITER;
    assert_eq!(log.next_offset(), total, "{}: offsets are not dense", S::NAME);

    // Every appended message is read back exactly once, at dense offsets.
    let all = read_all(&log);
    assert_eq!(all.len() as u64, total);
    let mut seen = HashSet::with_capacity(all.len());
    for (i, (o, p)) in all.iter().enumerate() {
        assert_eq!(*o, i as u64);
        assert!(seen.insert(untag(p)), "{}: {:?} read twice", S::NAME, untag(p));
    }
    for w in 0..WRITERS {
        for seq in 0..APPENDS_PER_WRITER {
            assert!(seen.contains(&(w, seq)), "{}: ({w}, {seq}) lost", S::NAME);
        }
    }
    drop(log);
    let report = verify_topic(dir.path(), DEFAULT_MAX_MESSAGE_BYTES, None).expect("verify");
    assert!(report.violations.is_clean(), "{}: {:?}", S::NAME, report.violations.found().collect::<Vec<_>>());
    assert_eq!(report.records, total);
    assert_eq!(report.index_entries, total / 100);
}
for_each_strategy!(concurrent_appends_are_never_lost, locking);

/// Two appenders held together in the race window, both after their loads.
fn rendezvous_config<S: SyncStrategy>() -> LogConfig {
    // Under a locking strategy the second appender cannot arrive, so the first waits briefly.
    let wait = if S::EXCLUSIVE_WRITES { Duration::from_millis(200) } else { Duration::from_secs(20) };
    LogConfig { race_window: RaceWindow::rendezvous(2, wait), ..LogConfig::default() }
}

/// The lost update: both appenders load the same offset and position, both write there.
fn forced_collision_loses_an_append_only_without_a_lock<S: SyncStrategy>() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open::<S>(dir.path(), rendezvous_config::<S>());
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| log.append(&tagged(1, 0, 40)).expect("append"));
        let b = s.spawn(|| log.append(&tagged(2, 0, 40)).expect("append"));
        (a.join().expect("a"), b.join().expect("b"))
    });
    let back: Vec<(u64, (u32, u64))> = read_all(&log).iter().map(|(o, p)| (*o, untag(p))).collect();
    if S::EXCLUSIVE_WRITES {
        assert!((a, b) == (0, 1) || (a, b) == (1, 0), "{}: offsets {a}, {b}", S::NAME);
        assert_eq!(back.len(), 2, "{}", S::NAME);
        assert_eq!(back.iter().map(|r| r.1 .0).collect::<HashSet<_>>(), HashSet::from([1, 2]));
        assert_eq!(log.next_offset(), 2);
    } else {
        assert_eq!((a, b), (0, 0), "both appends were acknowledged with the same offset");
        assert_eq!(log.next_offset(), 1, "one append vanished from the count");
        // Exactly one of the two messages survived: the one written second.
        assert!(back == vec![(0, (1, 0))] || back == vec![(0, (2, 0))], "{back:?}");
    }
}
for_each_strategy!(forced_collision_loses_an_append_only_without_a_lock);

/// The torn log: a long record A and a short record B collide; B writes over A's head, then A
/// stores its (longer) end last, leaving A's tail in the log as bytes that are no record.
///
/// The script: both load (rendezvous) → A writes → B writes → B stores → A stores. Every wait
/// is bounded, so under a lock the script degrades to "A, then B" and the log stays clean.
fn forced_torn_write_is_reported_by_verify_only_without_a_lock<S: SyncStrategy>() {
    const A_BYTES: u64 = 16 + 200;
    let wait = if S::EXCLUSIVE_WRITES { Duration::from_millis(200) } else { Duration::from_secs(20) };
    let loaded = Arc::new(synclog::storage::Rendezvous::new(2, wait));
    let a_written = Arc::new(AtomicBool::new(false));
    let b_done = Arc::new(AtomicBool::new(false));
    let wait_for = move |flag: &AtomicBool| {
        let deadline = Instant::now() + wait;
        while !flag.load(SeqCst) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
    };
    let hook = {
        let (loaded, a_written, b_done) = (loaded.clone(), a_written.clone(), b_done.clone());
        move |point: RacePoint| match point {
            RacePoint::Loaded { record_bytes, .. } => {
                loaded.arrive();
                if record_bytes != A_BYTES {
                    wait_for(&a_written); // B writes after A
                }
            }
            RacePoint::Written { record_bytes, .. } if record_bytes == A_BYTES => {
                a_written.store(true, SeqCst);
                wait_for(&b_done); // A stores after B
            }
            // Under `whole` there is no separate reservation.
            RacePoint::Written { .. } | RacePoint::Reserved { .. } => {}
        }
    };
    let config = LogConfig { race_window: RaceWindow::Hook(Arc::new(hook)), ..LogConfig::default() };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open::<S>(dir.path(), config);
    thread::scope(|s| {
        // A's payload is 0xFF bytes: read as a header, its tail claims an impossible length.
        let a = s.spawn(|| log.append(&[0xFF; 200]).expect("append A"));
        let b = s.spawn(|| {
            let o = log.append(&tagged(2, 0, 50)).expect("append B");
            b_done.store(true, SeqCst);
            o
        });
        (a.join().expect("a"), b.join().expect("b"))
    });
    // A later, uncontended append lands after the damage.
    let c = log.append(&tagged(3, 0, 50)).expect("append C");
    let report = verify_topic(dir.path(), DEFAULT_MAX_MESSAGE_BYTES, None).expect("verify");
    let found: Vec<(K, u64)> = report.violations.found().collect();
    if S::EXCLUSIVE_WRITES {
        assert_eq!(found, vec![], "{}", S::NAME);
        assert_eq!(c, 2);
        assert_eq!(read_all(&log).len(), 3);
    } else {
        // B's record at byte 0, then 150 bytes of A's tail, then C: one damaged stretch with one
        // good record after it, and two index entries both naming offset 0.
        assert_eq!(found, vec![(K::CorruptRecord, 1), (K::IndexNonmonotonic, 1)]);
        let example = &report.violations.examples(K::CorruptRecord)[0];
        assert_eq!(example.position, Some(16 + 50));
        assert!(example.detail.contains("1 good records follow"), "{}", example.detail);
        assert_eq!(c, 1, "C got the offset both A and B stored");
        // A read serves B, stops before the damage, and never serves A's tail as a record.
        let first = log.read(0, 10, 1 << 20).expect("read");
        assert_eq!(first.iter().map(|(o, p)| (o, untag(p))).collect::<Vec<_>>(), vec![(0, (2, 0))]);
        assert!(matches!(log.read(1, 10, 1 << 20), Err(LogError::Corrupt { .. })));
    }
}
for_each_strategy!(forced_torn_write_is_reported_by_verify_only_without_a_lock);

/// The same collision, batched: both batches get the same base offset without a lock.
fn forced_batch_collision<S: SyncStrategy>() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open::<S>(dir.path(), rendezvous_config::<S>());
    let batch = |w: u32| (0..10).map(|i| tagged(w, i, 30)).collect::<Vec<_>>();
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| log.append_batch(&batch(1)).expect("a"));
        let b = s.spawn(|| log.append_batch(&batch(2)).expect("b"));
        (a.join().expect("a"), b.join().expect("b"))
    });
    if S::EXCLUSIVE_WRITES {
        assert!((a, b) == (0, 10) || (a, b) == (10, 0), "{}: {a} {b}", S::NAME);
        assert_eq!(read_all(&log).len(), 20);
    } else {
        assert_eq!((a, b), (0, 0));
        assert_eq!(read_all(&log).len(), 10, "one whole batch was overwritten");
    }
}
for_each_strategy!(forced_batch_collision);
