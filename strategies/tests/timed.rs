//! `Timed<S>`: the wrapper's figures under forced schedules.
//!
//! The schedules are forced through `Gate`, a reader-writer lock that counts calls *before*
//! acquiring: a thread holding the section waits until the other has called (so the other's
//! clock has started), then holds on for a known time. The other's wait is then at least that
//! time by construction, whatever the machine's load.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};
use synclog_strategies::{MutexSync, StrategyKind, StrategyVisitor, SyncStrategy, Timed};

#[derive(Default)]
struct Gate {
    lock: parking_lot::RwLock<()>,
    read_calls: AtomicUsize,
    write_calls: AtomicUsize,
}

impl SyncStrategy for Gate {
    const NAME: &'static str = "gate";
    fn read<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        self.read_calls.fetch_add(1, SeqCst);
        let _held = self.lock.read();
        critical_section()
    }
    fn write<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        self.write_calls.fetch_add(1, SeqCst);
        let _held = self.lock.write();
        critical_section()
    }
}

const HOLD: Duration = Duration::from_millis(30);

/// Waits (bounded) until `calls` reaches `n`.
fn until(calls: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while calls.load(SeqCst) < n && Instant::now() < deadline {
        thread::yield_now();
    }
    assert!(calls.load(SeqCst) >= n, "the other thread never called");
}

#[test]
fn a_reader_waiting_behind_a_writer_reports_that_wait() {
    let timed = Timed::<Gate>::default();
    let entered = AtomicUsize::new(0);
    let reader_elapsed = thread::scope(|s| {
        s.spawn(|| {
            timed.write(|| {
                entered.store(1, SeqCst);
                until(&timed.inner().read_calls, 1);
                thread::sleep(HOLD);
            })
        });
        until(&entered, 1);
        let reader = s.spawn(|| {
            let t = Instant::now();
            timed.read(|| ());
            t.elapsed()
        });
        reader.join().expect("reader")
    });
    let stats = timed.snapshot().stats();
    assert_eq!((stats.read.acquisitions, stats.write.acquisitions), (1, 1));
    let wait = stats.read.wait_ns.max;
    // 2 significant digits: a recorded value may read up to 1 % low.
    let hold_ns = HOLD.as_nanos() as u64;
    assert!(wait >= hold_ns * 99 / 100, "the reader waited at least the writer's hold: {wait} ns");
    assert!(
        wait <= reader_elapsed.as_nanos() as u64 * 101 / 100,
        "and no longer than its whole call: {wait} ns > {reader_elapsed:?}"
    );
    assert!(stats.write.hold_ns.max >= hold_ns * 99 / 100, "the writer's hold covers its sleep");
    assert_eq!(stats.read.contended, 1);
    assert_eq!(stats.write.contended, 0, "the writer found the lock free");
}

/// The mock clock [`Ticking`] advances; one per test process, set by the test that uses it.
static MOCK: std::sync::OnceLock<(&'static quanta::Clock, std::sync::Arc<quanta::Mock>)> =
    std::sync::OnceLock::new();

fn mock() -> &'static (&'static quanta::Clock, std::sync::Arc<quanta::Mock>) {
    MOCK.get_or_init(|| {
        let (clock, mock) = quanta::Clock::mock();
        (Box::leak(Box::new(clock)), mock)
    })
}

/// A lock whose every acquire takes, on the mock clock, the number of nanoseconds in `ACQUIRE`
/// (the sections below last `HOLD_NS`): time passes only when the schedule says so.
#[derive(Default)]
struct Ticking(parking_lot::Mutex<()>);

static ACQUIRE: AtomicUsize = AtomicUsize::new(0);
const HOLD_NS: u64 = 250;

impl SyncStrategy for Ticking {
    const NAME: &'static str = "ticking";
    fn read<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        self.write(critical_section)
    }
    fn write<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        let _held = self.0.lock();
        mock().1.increment(ACQUIRE.load(SeqCst) as u64);
        critical_section()
    }
}

#[test]
fn one_thread_alone_is_never_contended() {
    // The clock is the mock's: no interrupt or preemption can lengthen a wait, so an
    // uncontended acquire (900 ns here, under the 1 000 ns threshold) is never counted, and one
    // acquire made to last past the threshold is, exactly once.
    let timed = Timed::<Ticking>::with_clock(mock().0, 1_000);
    ACQUIRE.store(900, SeqCst);
    let section = || mock().1.increment(HOLD_NS);
    for _ in 0..1_000 {
        timed.write(section);
        timed.read(section);
    }
    let stats = timed.snapshot().stats();
    assert_eq!((stats.read.acquisitions, stats.write.acquisitions), (1_000, 1_000));
    assert_eq!((stats.read.contended, stats.write.contended), (0, 0));
    assert_eq!(stats.write.contended_share, 0.0);
    // 2 significant digits: a recorded value reads back up to 1 % high.
    assert!((900..=909).contains(&stats.write.wait_ns.max), "{:?}", stats.write.wait_ns);
    assert!((HOLD_NS..=HOLD_NS + 2).contains(&stats.read.hold_ns.p50), "{:?}", stats.read.hold_ns);
    assert_eq!(stats.threads.len(), 1);
    ACQUIRE.store(1_001, SeqCst);
    timed.write(section);
    let stats = timed.snapshot().stats();
    assert_eq!((stats.read.contended, stats.write.contended), (0, 1));
}

#[test]
fn two_threads_made_to_collide_are_contended_and_labelled_by_name() {
    let timed = Timed::<Gate>::default();
    let entered = AtomicUsize::new(0);
    thread::scope(|s| {
        let (timed, entered) = (&timed, &entered);
        thread::Builder::new()
            .name("writer-a".into())
            .spawn_scoped(s, move || {
                timed.write(|| {
                    entered.store(1, SeqCst);
                    until(&timed.inner().write_calls, 2);
                    thread::sleep(HOLD);
                })
            })
            .expect("spawn");
        until(entered, 1);
        thread::Builder::new()
            .name("writer-b".into())
            .spawn_scoped(s, move || timed.write(|| ()))
            .expect("spawn");
    });
    let stats = timed.snapshot().stats();
    assert_eq!(stats.write.acquisitions, 2);
    assert_eq!(stats.write.contended, 1, "writer-b waited for writer-a");
    assert_eq!(stats.write.contended_share, 0.5);
    let by_name: Vec<(&str, u64, u64)> =
        stats.threads.iter().map(|t| (t.thread.as_str(), t.write.acquisitions, t.write.contended)).collect();
    assert_eq!(by_name, [("writer-a", 1, 0), ("writer-b", 1, 1)]);
    // A snapshot merged with itself doubles every count, thread by thread.
    let mut merged = timed.snapshot();
    merged.merge(&timed.snapshot());
    assert_eq!(merged.stats().write.acquisitions, 4);
    assert_eq!(merged.stats().threads.len(), 2);
    timed.reset();
    assert_eq!(timed.snapshot().stats().write.acquisitions, 0);
}

#[test]
fn stats_serialize_with_typed_fields() {
    let timed = Timed::<MutexSync>::default();
    timed.write(|| ());
    let json = serde_json::to_value(timed.lock_snapshot().expect("timed").stats()).expect("serialize");
    assert_eq!(json["strategy"], "mutex");
    assert!(json["clock"].is_string());
    assert!(json["clock_ns"].is_f64());
    assert!(json["contended_above_ns"].is_u64());
    for kind in ["read", "write"] {
        let section = &json[kind];
        assert!(section["acquisitions"].is_u64() && section["contended"].is_u64(), "{kind}");
        assert!(section["contended_share"].is_f64(), "{kind}");
        for q in ["wait_ns", "hold_ns"] {
            for field in ["total", "p50", "p99", "p999", "max"] {
                assert!(section[q][field].is_u64(), "{kind}.{q}.{field}");
            }
            assert!(section[q]["mean"].is_f64(), "{kind}.{q}.mean");
        }
    }
    assert_eq!(json["write"]["acquisitions"], 1);
    assert!(json["threads"][0]["thread"].is_string());
}

#[test]
fn visit_timed_wraps_only_when_asked_and_keeps_the_name() {
    struct Probe;
    impl StrategyVisitor for Probe {
        type Output = (&'static str, bool);
        fn visit<S: SyncStrategy>(self) -> (&'static str, bool) {
            let s = S::default();
            s.write(|| ());
            (S::NAME, s.lock_snapshot().is_some())
        }
    }
    for kind in StrategyKind::ALL {
        assert_eq!(kind.visit_timed(false, Probe), (kind.name(), false));
        assert_eq!(kind.visit_timed(true, Probe), (kind.name(), true));
    }
    assert!(MutexSync::default().lock_snapshot().is_none());
}
