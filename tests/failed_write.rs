//! A write the device refuses, for real: the process's file-size limit (`RLIMIT_FSIZE`, as
//! `ulimit -f` sets it) is lowered so that a record crossing it is written in part and then
//! refused (EFBIG; SIGXFSZ is caught so it does not end the process). The limit is the whole
//! process's, so this binary holds one test, which runs its cases one after another.
//!
//! - `AppendMode::Whole`: the append that crosses the limit fails, stores nothing and moves
//!   nothing; every append acknowledged before it is read back, and after a restart too (the
//!   part written is cut by recovery).
//! - `AppendMode::Reserve`, under `FsyncPolicy::Never` and `Always`: A reserves offset 0 and is
//!   held before its write; C reserves 1, writes and waits behind A; E reserves 2 and its write
//!   fails, after which the log refuses appends (but still syncs). C must not be told its append
//!   failed while A, still writing, is yet to publish it: once A has written, A and C are
//!   acknowledged and read back, E is not, and a restart finds A and C. Under `Always` the
//!   preallocated zeros fail too (C's and E's, racing): none may land on C's record.

mod common;

use common::{open, read_all, tagged, untag, within, HoldFirst};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use synclog::storage::{AppendMode, FsyncPolicy, LogConfig};
use synclog::strategies::RwLockSync;

/// A record's bytes: a 16-byte header and the payload.
const PAYLOAD: usize = 100;
const RECORD: u64 = 16 + PAYLOAD as u64;
/// Room for two whole records and part of a third.
const LIMIT: u64 = 2 * RECORD + RECORD / 2;

#[test]
fn a_write_the_device_refuses_fails_its_own_append_and_no_acknowledged_one() {
    let caught = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGXFSZ, caught.clone()).expect("catch SIGXFSZ");
    whole_mode_refuses_the_append_past_the_limit_only();
    assert!(caught.swap(false, SeqCst), "the limit was reached (SIGXFSZ)");
    for fsync in [FsyncPolicy::Never, FsyncPolicy::Always] {
        reserve_mode_publishes_what_a_predecessor_still_writing_completes(fsync);
        assert!(caught.swap(false, SeqCst), "{fsync:?}: the limit was reached (SIGXFSZ)");
    }
}

/// Runs `work` with files limited to `LIMIT` bytes, then lifts the limit again (also if it
/// panics, so the test's own report can still be written to a file).
fn with_file_limit<T>(work: impl FnOnce() -> T) -> T {
    struct Lift(Rlimit);
    impl Drop for Lift {
        fn drop(&mut self) {
            let _ = setrlimit(Resource::Fsize, self.0);
        }
    }
    let before = getrlimit(Resource::Fsize);
    setrlimit(Resource::Fsize, Rlimit { current: Some(LIMIT), maximum: before.maximum })
        .expect("lower the limit");
    let _lift = Lift(before);
    work()
}

fn whole_mode_refuses_the_append_past_the_limit_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config =
        || LogConfig { append: AppendMode::Whole, fsync: FsyncPolicy::Never, ..LogConfig::default() };
    let log = open::<RwLockSync>(dir.path(), config());
    let results: Vec<Result<u64, String>> = with_file_limit(|| {
        (0..4).map(|i| log.append(&tagged(1, i, PAYLOAD)).map_err(|e| e.to_string())).collect()
    });
    assert_eq!(&results[..2], [Ok(0), Ok(1)], "{results:?}");
    assert!(results[2..].iter().all(Result::is_err), "past the limit every append fails: {results:?}");
    assert!(!log.refuses_appends(), "a failed write under whole leaves the log taking appends");
    assert_eq!(
        (log.next_offset(), log.end_position()),
        (2, 2 * RECORD),
        "nothing moved past the acknowledged"
    );
    assert_eq!(seqs(&read_all(&log)), [0, 1]);
    drop(log);
    let reopened = open::<RwLockSync>(dir.path(), config());
    assert_eq!(
        seqs(&read_all(&reopened)),
        [0, 1],
        "a restart keeps the acknowledged and cuts the part written"
    );
}

fn reserve_mode_publishes_what_a_predecessor_still_writing_completes(fsync: FsyncPolicy) {
    let (hold, race) = HoldFirst::new();
    let config = move || LogConfig { append: AppendMode::Reserve, fsync, ..LogConfig::default() };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(open::<RwLockSync>(dir.path(), LogConfig { race_window: race, ..config() }));
    let (done, finished) = mpsc::channel();
    let spawn = |name: &'static str, seq: u64| {
        let (log, done) = (log.clone(), done.clone());
        // Not scoped, so an append that never returns fails the test instead of hanging it.
        thread::spawn(move || {
            let result = log.append(&tagged(1, seq, PAYLOAD)).map_err(|e| e.to_string());
            // Let go of the log before saying so: the test takes it back once both have ended.
            drop(log);
            let _ = done.send((name, result));
        })
    };
    let ended = with_file_limit(|| {
        spawn("A", 0);
        assert!(hold.reserved(), "A reserved");
        spawn("C", 1);
        assert!(within(Duration::from_secs(20), || log.next_offset() == 2), "C reserved behind A");
        // E, in this thread: its record crosses the limit.
        let e = log.append(&tagged(1, 2, PAYLOAD));
        assert!(e.is_err(), "E's write crossed the limit: {e:?}");
        let (refuses, sync_failed) = (log.refuses_appends(), log.sync_failed());
        assert!(refuses && !sync_failed, "a failed write under reserve refuses appends, syncs go on");
        // C, written and waiting for A, must not give up now: A may yet publish it. Give it
        // every chance to, then let A write.
        thread::sleep(Duration::from_millis(300));
        let early: Vec<_> = finished.try_iter().collect();
        assert!(early.is_empty(), "an append ended while A, reserved before it, had not written: {early:?}");
        hold.release();
        let mut ended: Vec<_> =
            (0..2).map(|_| finished.recv_timeout(Duration::from_secs(20)).expect("A and C end")).collect();
        ended.sort();
        ended
    });
    assert_eq!(ended, [("A", Ok(0)), ("C", Ok(1))], "both acknowledged: both are published");
    assert_eq!(seqs(&read_all(&log)), [0, 1], "A and C read back, E not");
    assert!(log.append(&tagged(1, 3, PAYLOAD)).is_err(), "the poisoned log takes no more appends");
    let log = Arc::into_inner(log).expect("the threads have let go of the log");
    drop(log);
    let reopened = open::<RwLockSync>(dir.path(), config());
    assert_eq!(seqs(&read_all(&reopened)), [0, 1], "a restart finds A and C, and cuts E's part");
}

/// The sequence numbers of tagged records.
fn seqs(records: &[(u64, Vec<u8>)]) -> Vec<u64> {
    records.iter().map(|(_, p)| untag(p).1).collect()
}
