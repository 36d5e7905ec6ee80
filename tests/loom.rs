//! Model checking the log's append/read protocol with loom, under every strategy.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test loom` (`scripts/loom.sh` does,
//! with a bounded number of preemptions). The log here is `synclog::storage::model::ModelLog`:
//! the same steps 1–7 as `Log::append_section` and the same read as `Log::read_section`, over
//! an in-memory file of loom atomics (loom cannot model files; the module docs say what is
//! mirrored and what is shared). Under `--cfg loom` the strategies are built on loom's locks.
//!
//! The workload: producer A appends one record (8-byte payload), producer B appends a batch of
//! two (empty and 16-byte payloads), and a reader reads from offset 0 and then from offset 2.
//! With an index entry every 2 offsets, whichever producer goes second writes the entry for
//! offset 2, and if that is B, the entry points inside its batch. For every locking strategy, in
//! every interleaving loom explores:
//! - the offsets are distinct and dense: A gets 0 and B 1–2, or B gets 0–1 and A 2;
//! - nothing is lost: the log ends with 3 records holding exactly the payloads appended;
//! - the concurrent reader never sees a torn, partial or missing record: each read returns
//!   exactly the final log's records from its offset up to the high watermark it saw (or, from
//!   offset 2, `OffsetOutOfRange` while the log is shorter), never an error, and the second read
//!   never sees a shorter log than the first;
//! - afterwards a read from each offset returns the rest of the log, byte and count limits hold,
//!   and the log and its index pass `ModelLog::verify` (the records tile the file, one index
//!   entry per interval, each naming its record).
//!
//! A second workload, three producers of one record each, checks that the offsets 0, 1, 2 are
//! handed out once each in all six orders.
//!
//! Both workloads also run with `AppendMode::Reserve` (only the reservation in the write
//! section; outside it the write, then under the publish lock the listing of the written range
//! and the publication of every listed range the watermark has reached, in offset order, then the
//! wait for the append's own range to be published). The same checks then say that the offsets
//! stay dense and nothing is lost although the writes overlap, and that a reader never sees a
//! hole or a record reserved but not yet published or whole (it would read zeros or a torn record
//! and get `Corrupt`, or records not in the final log): in the interleavings where B's batch,
//! reserved after A's record, is written first, the reader must still stop before it. They add
//! that everything reserved was published and that every range was published exactly at the
//! watermark (publication in offset order, no wake-up lost). The reserve path costs loom far more
//! interleavings than steps 1–7 (the writes and the publications overlap: about 200 000 to
//! 300 000 for two producers and a reader, 96 000 for three producers, against about 3 000 for
//! `Whole`), so two producers and a reader run under every lock, and three producers under
//! `mutex` only: what differs between the locks is which sections exclude which, and that is
//! checked under `Whole` for each of them and in `strategies/tests/loom.rs`. Three producers and
//! a reader together run under `mutex` at a preemption bound of at most 2 (639 768
//! interleavings, under two minutes; at bound 3 the search ran past ten minutes).
//!
//! A third workload lets a sync fail while two producers append, on a log whose first record
//! a sync made durable (`ModelLog::fail_sync`, mirroring `Log::cut_to_durable`): under
//! `Reserve` (`mutex`) and `Whole` (`rwlock`), the log must end cut back to that record exactly,
//! with no byte left past the cut by an appender still writing, every append either refused with
//! the sync's error or given a distinct offset past the durable one, and no thread left waiting.
//!
//! A fourth workload lets a write fail under `Reserve` (`mutex`): producer F's write is refused
//! after its record's first word while A and C append (`ModelLog::append_failing_write`): the
//! appends acknowledged must be exactly the offsets below F's, each served with its payload,
//! every other append refused, and nobody left waiting, so that no producer is told an append
//! failed whose record is served (a waiter behind an appender still writing must wait for it).
//!
//! For `NoSync` the same model must fail, and loom must find how: the lost update (two appends
//! acknowledged with one offset), a log left failing verify, and a reader that gets a torn
//! record are each a `should_panic` test; under `Reserve` the lost update and the failing log
//! too (the reservation is itself a load–store pair, so it races like steps 1–7). With a single producer, though, `NoSync` must pass
//! the reader checks: that test alone rests on the counters' Release/Acquire orderings rather
//! than on a lock.
//!
//! The reader runs on its own thread, spawned after the producers and joined last. loom's DPOR
//! compares each access only with the *last* dependent access to the same object; with the
//! reader on the main thread, reading before it joined the producers, loom never once ran the
//! read after an append (an empty log in all 5 312 executions). Placed last in loom's default
//! schedule, the reader's loads race the producers' stores before them, and loom moves the read
//! before, between and after the appends (all five possible results of the first read occur).
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use synclog::storage::model::{ModelBatch, ModelLog, ModelRecords};
use synclog::storage::{AppendMode, LogError};
use synclog::strategies::sync::{explore, explore_bounded};
use synclog::strategies::{MutexSync, NoSync, RwLockSync, SemaphoreSync, StdRwLockSync, SyncStrategy};

const A: &[u8] = &[0xAA; 8];
const B0: &[u8] = &[];
const B1: &[u8] = &[0xBB; 16];
/// Every record is 16 header bytes + its payload; the three together.
const CAPACITY_BYTES: usize = 3 * 16 + 8 + 16;
/// Small enough that three records cross it (the real log's is 100).
const INDEX_INTERVAL: u64 = 2;

/// The payload each offset must hold, given which producer went first.
fn expected_log(a_offset: u64, b_offset: u64) -> ModelRecords {
    let mut log = vec![(a_offset, A.to_vec()), (b_offset, B0.to_vec()), (b_offset + 1, B1.to_vec())];
    log.sort();
    log
}

/// Checks one read that ran concurrently with the appends, given the final log: it served
/// exactly the records from `offset` below the high watermark it saw, as they are in the final
/// log (nothing torn, nothing missing), or it was out of range because the log was shorter
/// then. Returns the log's length as that read saw it.
fn check_concurrent_read(name: &str, expected: &[(u64, Vec<u8>)], offset: u64, read: ReadResult) -> u64 {
    match read {
        Ok(ModelBatch { high_watermark, records }) => {
            let wanted = expected.get(offset as usize..high_watermark as usize);
            assert!(
                high_watermark >= offset && wanted == Some(&records[..]),
                "{name}: read from {offset} below {high_watermark}: {records:?}; final log {expected:?}"
            );
            high_watermark
        }
        Err(LogError::OffsetOutOfRange { requested, next }) => {
            assert!(requested == offset && next < offset, "{name}: {offset} out of range of {next}");
            next
        }
        Err(e) => panic!("{name}: the reader got an error: {e}"),
    }
}

type ReadResult = Result<ModelBatch, LogError>;

/// A reader thread: a read from offset 0, then one from offset 2 (through the index entry for
/// offset 2, if one exists by then).
fn spawn_reader<S: SyncStrategy>(log: &Arc<ModelLog<S>>) -> thread::JoinHandle<(ReadResult, ReadResult)> {
    let log = Arc::clone(log);
    thread::spawn(move || (log.read(0, 10, 1024), log.read(2, 10, 1024)))
}

/// The checks of the module docs on a log whose appends and reader have all been joined.
fn check_final<S: SyncStrategy>(
    log: &ModelLog<S>,
    expected: &[(u64, Vec<u8>)],
    reads: (ReadResult, ReadResult),
) {
    let name = S::NAME;
    assert_eq!(log.next_offset(), 3, "{name}: next offset after three records");
    let first = check_concurrent_read(name, expected, 0, reads.0);
    let second = check_concurrent_read(name, expected, 2, reads.1);
    assert!(
        first <= second,
        "{name}: a later read saw a shorter log ({second}) than an earlier one ({first})"
    );

    for from in 0..=3u64 {
        let rest = log.read(from, 10, 1024).expect("read after the threads joined");
        assert_eq!(rest, ModelBatch { high_watermark: 3, records: expected[from as usize..].to_vec() });
    }
    // One record even when it alone is over the byte limit; never more than asked for.
    assert_eq!(log.read(1, 10, 0).expect("read").records, expected[1..2], "{name}");
    assert_eq!(log.read(0, 2, 1024).expect("read").records, expected[..2], "{name}");
    assert!(matches!(log.read(4, 10, 1024), Err(LogError::OffsetOutOfRange { requested: 4, next: 3 })));
    if let Err(problem) = log.verify() {
        panic!("{name}: the log fails verify: {problem}");
    }
}

/// The name a model run prints: the strategy, and `reserve` when that is the append mode.
fn model_name<S: SyncStrategy>(append: AppendMode, workload: &str) -> String {
    match append {
        AppendMode::Whole => format!("{}: {workload}", S::NAME),
        AppendMode::Reserve => format!("{} reserve: {workload}", S::NAME),
    }
}

/// Under `Reserve`, everything reserved was published, each publication at its own offset.
fn check_published<S: SyncStrategy>(log: &ModelLog<S>) {
    assert_eq!(log.published(), log.next_offset(), "{}: reserved but never published", S::NAME);
    assert_eq!(log.publications_out_of_order(), 0, "{}: publication out of offset order", S::NAME);
}

/// Two producers and a reader, with every check of the module docs.
fn two_producers_and_a_reader<S: SyncStrategy>(append: AppendMode) {
    explore(model_name::<S>(append, "two producers and a reader"), move || {
        let log = Arc::new(ModelLog::<S>::new(CAPACITY_BYTES, INDEX_INTERVAL).with_append(append));
        let a = {
            let log = Arc::clone(&log);
            thread::spawn(move || log.append(A))
        };
        let b = {
            let log = Arc::clone(&log);
            thread::spawn(move || log.append_batch(&[B0, B1]))
        };
        let reader = spawn_reader(&log);
        let (a_offset, b_offset) = (a.join().expect("producer A"), b.join().expect("producer B"));
        let reads = reader.join().expect("reader");

        assert!(
            (a_offset, b_offset) == (0, 1) || (a_offset, b_offset) == (2, 0),
            "{}: lost update: A got offset {a_offset}, B got {b_offset}",
            S::NAME
        );
        check_published(&log);
        check_final(&log, &expected_log(a_offset, b_offset), reads);
    });
}

/// Three producer threads, producer `i` appending one record of eight bytes `i`.
fn spawn_three_producers<S: SyncStrategy>(log: &Arc<ModelLog<S>>) -> Vec<thread::JoinHandle<(u64, u8)>> {
    (0..3u8)
        .map(|i| {
            let log = Arc::clone(log);
            thread::spawn(move || (log.append(&[i; 8]), i))
        })
        .collect()
}

/// Joins the three producers; each got its own offset of 0, 1, 2. Returns (offset, producer),
/// in offset order.
fn join_three_producers<S: SyncStrategy>(producers: Vec<thread::JoinHandle<(u64, u8)>>) -> Vec<(u64, u8)> {
    let mut offsets: Vec<(u64, u8)> = producers.into_iter().map(|p| p.join().expect("producer")).collect();
    offsets.sort();
    let got: Vec<u64> = offsets.iter().map(|&(o, _)| o).collect();
    assert_eq!(got, [0, 1, 2], "{}: lost update: offsets {offsets:?}", S::NAME);
    offsets
}

/// Three producers of one record each, no reader: every offset handed out once.
fn three_producers<S: SyncStrategy>(append: AppendMode) {
    explore(model_name::<S>(append, "three producers"), move || {
        let log = Arc::new(ModelLog::<S>::new(3 * (16 + 8), INDEX_INTERVAL).with_append(append));
        let producers = spawn_three_producers(&log);
        let offsets = join_three_producers::<S>(producers);
        let records = log.read(0, 10, 1024).expect("read after the producers joined").records;
        let expected: ModelRecords = offsets.iter().map(|&(o, i)| (o, vec![i; 8])).collect();
        assert_eq!(records, expected, "{}", S::NAME);
        check_published(&log);
        if let Err(problem) = log.verify() {
            panic!("{}: the log fails verify: {problem}", S::NAME);
        }
    });
}

#[test]
fn semaphore_appends_are_dense_and_reads_whole() {
    two_producers_and_a_reader::<SemaphoreSync>(AppendMode::Whole);
}

#[test]
fn rwlock_appends_are_dense_and_reads_whole() {
    two_producers_and_a_reader::<RwLockSync>(AppendMode::Whole);
}

#[test]
fn mutex_appends_are_dense_and_reads_whole() {
    two_producers_and_a_reader::<MutexSync>(AppendMode::Whole);
}

#[test]
fn std_rwlock_appends_are_dense_and_reads_whole() {
    two_producers_and_a_reader::<StdRwLockSync>(AppendMode::Whole);
}

#[test]
fn semaphore_three_producers_get_distinct_offsets() {
    three_producers::<SemaphoreSync>(AppendMode::Whole);
}

#[test]
fn rwlock_three_producers_get_distinct_offsets() {
    three_producers::<RwLockSync>(AppendMode::Whole);
}

#[test]
fn mutex_three_producers_get_distinct_offsets() {
    three_producers::<MutexSync>(AppendMode::Whole);
}

#[test]
fn std_rwlock_three_producers_get_distinct_offsets() {
    three_producers::<StdRwLockSync>(AppendMode::Whole);
}

#[test]
fn rwlock_reserve_appends_are_dense_and_reads_whole() {
    two_producers_and_a_reader::<RwLockSync>(AppendMode::Reserve);
}

#[test]
fn semaphore_reserve_appends_are_dense_and_reads_whole() {
    two_producers_and_a_reader::<SemaphoreSync>(AppendMode::Reserve);
}

#[test]
fn mutex_reserve_appends_are_dense_and_reads_whole() {
    two_producers_and_a_reader::<MutexSync>(AppendMode::Reserve);
}

#[test]
fn std_rwlock_reserve_appends_are_dense_and_reads_whole() {
    two_producers_and_a_reader::<StdRwLockSync>(AppendMode::Reserve);
}

#[test]
fn mutex_reserve_three_producers_publish_in_order() {
    three_producers::<MutexSync>(AppendMode::Reserve);
}

/// Three producers of one record each and a reader, under `Reserve`: the reader's two reads
/// only ever return published records, whole and in offset order, with no gap before them.
/// Four threads: searched at a preemption bound of at most 2 (639 768 interleavings, under two
/// minutes here; bound 3 ran past ten).
fn three_producers_and_a_reader<S: SyncStrategy>() {
    let name = model_name::<S>(AppendMode::Reserve, "three producers and a reader");
    explore_bounded(name, 2, move || {
        let log = Arc::new(ModelLog::<S>::new(3 * (16 + 8), INDEX_INTERVAL).with_append(AppendMode::Reserve));
        let producers = spawn_three_producers(&log);
        let reader = spawn_reader(&log);
        let offsets = join_three_producers::<S>(producers);
        let expected: ModelRecords = offsets.iter().map(|&(o, i)| (o, vec![i; 8])).collect();
        check_published(&log);
        check_final(&log, &expected, reader.join().expect("reader"));
    });
}

#[test]
fn mutex_reserve_three_producers_and_a_reader_read_only_what_is_published() {
    three_producers_and_a_reader::<MutexSync>();
}

/// One producer and a reader under `NoSync`: with no second writer there is no race, and the
/// counters' orderings alone (the writer stores `end_position` before `next_offset`, Release;
/// the reader loads `next_offset` before `end_position`, Acquire) keep the reader from ever
/// seeing a record it cannot read whole. This is the one test here that leans on the memory
/// orderings rather than on a lock: swap steps 6 and 7, or the reader's two loads, and it fails.
#[test]
fn none_with_one_producer_never_tears_a_read() {
    explore("none: one producer and a reader", || {
        let log = Arc::new(ModelLog::<NoSync>::new(CAPACITY_BYTES, INDEX_INTERVAL));
        let producer = {
            let log = Arc::clone(&log);
            thread::spawn(move || (log.append(A), log.append_batch(&[B0, B1])))
        };
        let reader = spawn_reader(&log);
        let offsets = producer.join().expect("producer");
        let reads = reader.join().expect("reader");
        assert_eq!(offsets, (0, 1));
        check_final(&log, &expected_log(0, 1), reads);
    });
}

/// Two producers of one record each under `NoSync`: loom finds both loading the same offset.
#[test]
#[should_panic(expected = "lost update")]
fn none_loses_an_update() {
    explore("none: lost update", || {
        let log = Arc::new(ModelLog::<NoSync>::new(2 * (16 + 8), INDEX_INTERVAL));
        let a = {
            let log = Arc::clone(&log);
            thread::spawn(move || log.append(A))
        };
        let b = log.append(&[0xBB; 8]);
        let a = a.join().expect("producer A");
        assert_ne!(a, b, "lost update: both appends were acknowledged with offset {a}");
    });
}

/// Producers of different lengths under `NoSync`: loom finds an interleaving that leaves a log
/// `verify` rejects (a torn tail, a duplicated offset or an index entry into nothing).
#[test]
#[should_panic(expected = "fails verify")]
fn none_leaves_a_log_that_fails_verify() {
    explore("none: log fails verify", || {
        let log = Arc::new(ModelLog::<NoSync>::new(CAPACITY_BYTES, INDEX_INTERVAL));
        let a = {
            let log = Arc::clone(&log);
            thread::spawn(move || log.append(A))
        };
        log.append(B1);
        a.join().expect("producer A");
        if let Err(problem) = log.verify() {
            panic!("none: the log fails verify: {problem}");
        }
    });
}

/// A reader racing two `NoSync` producers: loom finds it reading a record while a producer that
/// loaded a stale position overwrites it, so the reader gets a torn record (`Corrupt`).
#[test]
#[should_panic(expected = "the reader")]
fn none_lets_a_reader_see_a_torn_record() {
    explore("none: torn read", || {
        let log = Arc::new(ModelLog::<NoSync>::new(CAPACITY_BYTES, INDEX_INTERVAL));
        let producers: Vec<_> = [A, B1]
            .into_iter()
            .map(|payload| {
                let log = Arc::clone(&log);
                thread::spawn(move || log.append(payload))
            })
            .collect();
        let reader = spawn_reader(&log);
        for p in producers {
            p.join().expect("producer");
        }
        let (from_0, from_2) = reader.join().expect("reader");
        // A record that fails its CRC is never served, so a torn one shows up as an error.
        if let Err(e) = from_0.and(from_2) {
            panic!("none: the reader got an error: {e}");
        }
    });
}

/// Two producers of one record each under `NoSync` and `Reserve`: the reservation is a load and
/// a store with nothing between them and another appender's, so loom finds both reserving the
/// same offset (and, here, the same bytes) and both acknowledged with it.
#[test]
#[should_panic(expected = "lost update")]
fn none_reserve_loses_an_update() {
    explore("none reserve: lost update", || {
        let log =
            Arc::new(ModelLog::<NoSync>::new(2 * (16 + 8), INDEX_INTERVAL).with_append(AppendMode::Reserve));
        let a = {
            let log = Arc::clone(&log);
            thread::spawn(move || log.append(A))
        };
        let b = log.append(&[0xBB; 8]);
        let a = a.join().expect("producer A");
        assert_ne!(a, b, "lost update: both appends were acknowledged with offset {a}");
    });
}

/// Producers of different lengths under `NoSync` and `Reserve`: loom finds a reservation race
/// that leaves a log `verify` rejects (overlapping writes, a torn tail, or a watermark that
/// covers bytes no record tiles).
#[test]
#[should_panic(expected = "fails verify")]
fn none_reserve_leaves_a_log_that_fails_verify() {
    explore("none reserve: log fails verify", || {
        let log = Arc::new(
            ModelLog::<NoSync>::new(CAPACITY_BYTES, INDEX_INTERVAL).with_append(AppendMode::Reserve),
        );
        let a = {
            let log = Arc::clone(&log);
            thread::spawn(move || log.append(A))
        };
        log.append(B1);
        a.join().expect("producer A");
        if let Err(problem) = log.verify() {
            panic!("none reserve: the log fails verify: {problem}");
        }
    });
}

/// A sync that fails while two appenders are reserving and writing, on a log whose first record
/// a sync made durable: the log is poisoned and cut back to that record (`Log::cut_to_durable`).
/// In every interleaving: nothing is left past the cut (an appender that reserved before the
/// poison and wrote after the cut would leave its bytes there: the cut must wait until every
/// counted appender has written, and an empty write section first lets one still inside its
/// reservation count itself), the log holds exactly the durable record and passes `verify`
/// (nothing published past the cut), no appender waits forever, and each append either got a
/// distinct offset past the durable one or the sync's error. The model's waiters are woken by
/// the poisoning, where the real ones look every millisecond (see the model's docs).
fn a_failed_sync_cuts_back_to_the_durable_records<S: SyncStrategy>(append: AppendMode) {
    let name = model_name::<S>(append, "a failed sync cuts back");
    explore(name, move || {
        let log = Arc::new(ModelLog::<S>::new(CAPACITY_BYTES, INDEX_INTERVAL).with_append(append));
        assert_eq!(log.append(A), 0);
        log.sync();
        let durable_end = (16 + A.len()) as u64;
        let appenders: Vec<_> = [B0, A]
            .into_iter()
            .map(|payload| {
                let log = Arc::clone(&log);
                thread::spawn(move || log.try_append(payload))
            })
            .collect();
        let syncer = {
            let log = Arc::clone(&log);
            thread::spawn(move || log.fail_sync())
        };
        let results: Vec<Result<u64, LogError>> =
            appenders.into_iter().map(|h| h.join().expect("appender")).collect();
        syncer.join().expect("syncer");

        let name = S::NAME;
        assert_eq!(
            log.file().first_nonzero_from(durable_end),
            None,
            "{name}: bytes (at, value) left past the cut at {durable_end}; appends {results:?}"
        );
        assert_eq!((log.next_offset(), log.end_position()), (1, durable_end), "{name}: not cut back");
        log.verify().unwrap_or_else(|problem| panic!("{name}: after the cut: {problem}"));
        let rest = log.read(0, 10, 1024).expect("read after the cut");
        assert_eq!(rest.records, vec![(0, A.to_vec())], "{name}: the durable record, alone");
        let mut offsets = Vec::new();
        for result in &results {
            match result {
                Ok(offset) => offsets.push(*offset),
                Err(LogError::SyncFailed { .. }) => {}
                Err(e) => panic!("{name}: an append failed otherwise than by the sync: {e}"),
            }
        }
        offsets.sort();
        offsets.dedup();
        assert!(
            offsets.len() == results.iter().filter(|r| r.is_ok()).count() && offsets.iter().all(|&o| o >= 1),
            "{name}: appends acknowledged with {results:?}"
        );
    });
}

#[test]
fn mutex_reserve_a_failed_sync_cuts_back_to_the_durable_records() {
    a_failed_sync_cuts_back_to_the_durable_records::<MutexSync>(AppendMode::Reserve);
}

#[test]
fn rwlock_whole_a_failed_sync_cuts_back_to_the_durable_records() {
    a_failed_sync_cuts_back_to_the_durable_records::<RwLockSync>(AppendMode::Whole);
}

/// A write the device refuses, under `Reserve` (`mutex`): producer F's write fails after the
/// first word of its record, while A and C append around it, on an empty log. In every
/// interleaving: F's range and everything reserved after it is never published, everything
/// reserved before it is (its appenders publish it, whole, and are told so); so the appends
/// acknowledged are exactly the offsets below F's, each holding its payload, and every other
/// append gets the log's refusal. No appender is told it failed while its record is served (a
/// waiter behind a predecessor still writing waits for it), and none waits forever.
fn a_failed_write_fails_its_own_append_and_no_acknowledged_one<S: SyncStrategy>() {
    let name = model_name::<S>(AppendMode::Reserve, "a failed write");
    explore(name, move || {
        let log =
            Arc::new(ModelLog::<S>::new(CAPACITY_BYTES, INDEX_INTERVAL).with_append(AppendMode::Reserve));
        let appenders: Vec<_> = [A, B0]
            .into_iter()
            .map(|payload| {
                let log = Arc::clone(&log);
                thread::spawn(move || (payload, log.try_append(payload)))
            })
            .collect();
        let failing = {
            let log = Arc::clone(&log);
            thread::spawn(move || log.append_failing_write(B1))
        };
        let results: Vec<(&[u8], Result<u64, LogError>)> =
            appenders.into_iter().map(|h| h.join().expect("appender")).collect();
        let (failed_at, error) = failing.join().expect("failing appender");

        let name = S::NAME;
        let failed_at =
            failed_at.unwrap_or_else(|| panic!("{name}: the failing write was not reserved: {error}"));
        assert!(matches!(error, LogError::Io { .. }), "{name}: the failed write got {error}");
        assert_eq!(
            log.published(),
            failed_at,
            "{name}: published up to the failed write; appends {results:?}"
        );
        let mut acknowledged: Vec<(u64, Vec<u8>)> = Vec::new();
        for (payload, result) in &results {
            match result {
                Ok(offset) => acknowledged.push((*offset, payload.to_vec())),
                Err(LogError::SyncFailed { .. }) => {}
                Err(e) => panic!("{name}: an append failed otherwise than by the refusal: {e}"),
            }
        }
        acknowledged.sort();
        let offsets: Vec<u64> = acknowledged.iter().map(|(o, _)| *o).collect();
        assert_eq!(
            offsets,
            (0..failed_at).collect::<Vec<_>>(),
            "{name}: acknowledged offsets, with the write of {failed_at} failed; appends {results:?}"
        );
        let read = log.read(0, 10, 1024).expect("read after the threads joined");
        assert_eq!(
            read,
            ModelBatch { high_watermark: failed_at, records: acknowledged },
            "{name}: the log serves exactly the acknowledged records"
        );
        for i in 0..log.index().len() {
            let entry = log.index().entry(i);
            assert!(entry.offset < failed_at, "{name}: index entry {entry:?} past the published records");
            let from_entry = log.read(entry.offset, 1, 1024).expect("read at an index entry");
            assert_eq!(from_entry.records.first().map(|r| r.0), Some(entry.offset), "{name}: {entry:?}");
        }
        assert!(log.try_append(A).is_err(), "{name}: an append after the failed write was accepted");
    });
}

#[test]
fn mutex_reserve_a_failed_write_fails_its_own_append_and_no_acknowledged_one() {
    a_failed_write_fails_its_own_append_and_no_acknowledged_one::<MutexSync>();
}
