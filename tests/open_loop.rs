//! Coordinated omission, from outside: a real broker on 127.0.0.1 whose write section stalls
//! once, raced by the harness closed-loop and open-loop (`--rate`).
//!
//! The broker is `Broker<StallOnce>`: [`StallOnce`], defined here, is a `SyncStrategy` that runs
//! `MutexSync`'s write section but sleeps [`STALL`] inside it at the [`STALL_AT`]-th write
//! section, holding the lock, so every producer's next append waits for it. The harness reaches
//! it as a `--broker` (`RunConfig::broker`), over TCP, with the same load both times.
//!
//! What the stall forces, whatever the machine's speed:
//! - Closed loop, each producer with one request in flight: the stall delays at most one
//!   request per producer (the one in the section, the ones waiting for it), and then the
//!   producers send on. It shows in the maximum but in at most `PRODUCERS` of `MESSAGES`
//!   latencies: under 1 %, so not in the p99.
//! - Open loop at `RATE` messages/s: every message due during the stall is sent after it ends
//!   and timed from when it was due, so the one due `d` ms into the stall waits at least
//!   `STALL - d`. The first 1 % of `MESSAGES` are due within `MESSAGES / 100 / RATE` s (20 ms)
//!   of the stall's start, so the p99 is at least `STALL - 20 ms`; the test allows `SLACK`.
//!   The producers' lag (requests sent after they were due) counts every request due during the
//!   stall, about `STALL × RATE` of them.
//!
//! The only assumption beyond the stall: outside it, fewer than 1 % of requests take as long as
//! `STALL - SLACK` (950 ms) on a loopback connection, which holds on a busy machine too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use synclog::broker::{Broker, BrokerConfig};
use synclog::experiment::run::{run, RunConfig};
use synclog::report::rows::RunReport;
use synclog::strategies::{MutexSync, SyncStrategy};

/// How long the one stalled write section sleeps.
const STALL: Duration = Duration::from_millis(1_000);
/// What the open-loop p99 may fall short of the stall by (the bound above is 20 ms).
const SLACK: Duration = Duration::from_millis(50);
/// Write sections before the stalled one (of `MESSAGES`): a quarter of the way in.
const STALL_AT: u64 = 500;
const PRODUCERS: u32 = 2;
const MESSAGES: u64 = 2_000;
/// Messages per second in total, open loop: the run lasts two seconds, far below what a
/// loopback broker takes (tens of thousands a second even in a debug build).
const RATE: f64 = 1_000.0;

/// Write sections run so far, by every `StallOnce` in the process (one per topic).
static WRITES: AtomicU64 = AtomicU64::new(0);

/// `MutexSync`, except that write section number [`STALL_AT`] (counted from [`WRITES`]'s
/// last reset) sleeps [`STALL`] while it holds the lock.
#[derive(Default)]
struct StallOnce(MutexSync);

impl SyncStrategy for StallOnce {
    const NAME: &'static str = "mutex-stall-once";

    fn read<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        self.0.read(critical_section)
    }

    fn write<R>(&self, critical_section: impl FnOnce() -> R) -> R {
        self.0.write(|| {
            if WRITES.fetch_add(1, Ordering::SeqCst) + 1 == STALL_AT {
                std::thread::sleep(STALL);
            }
            critical_section()
        })
    }
}

/// The same load against `broker`, closed loop (`rate: None`) or open loop; the stall counter
/// starts from zero for it.
fn stalled_run(broker: &str, rate: Option<f64>) -> RunReport {
    WRITES.store(0, Ordering::SeqCst);
    let report = run(&RunConfig {
        broker: Some(broker.into()),
        producers: PRODUCERS,
        consumers: 0,
        messages: MESSAGES,
        message_bytes: 64,
        batch: 1,
        in_flight: 1,
        // Every message timed: the stall falls in the measured part whatever the warm-up.
        warmup_percent: 0,
        rate,
        progress: false,
        ..RunConfig::default()
    })
    .expect("the run completes");
    assert_eq!(report.verdict, "clean", "a stall loses nothing: {:?}", report.violations);
    assert!(
        WRITES.load(Ordering::SeqCst) >= STALL_AT,
        "the broker ran the stalled section ({} write sections)",
        WRITES.load(Ordering::SeqCst)
    );
    report
}

#[test]
fn the_open_loop_p99_includes_a_stall_that_the_closed_loop_p99_hides() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::<StallOnce>::bind(BrokerConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: dir.path().to_path_buf(),
        ..BrokerConfig::default()
    })
    .expect("the broker binds 127.0.0.1");
    let handle = broker.spawn().expect("the broker starts");
    let addr = handle.addr().to_string();

    let closed = stalled_run(&addr, None);
    let open = stalled_run(&addr, Some(RATE));
    handle.shutdown();

    let (stall_us, slack_us) = (STALL.as_micros() as u64, SLACK.as_micros() as u64);
    println!(
        "stall {stall_us} µs: closed loop p99 {} µs, max {} µs; open loop p99 {} µs, max {} µs",
        closed.produce.p99_us, closed.produce.max_us, open.produce.p99_us, open.produce.max_us
    );
    // Closed loop: the stall is in the run (its maximum) but in too few requests for the p99.
    assert!(
        closed.produce.max_us >= stall_us,
        "the closed loop timed the stalled request: max {} µs",
        closed.produce.max_us
    );
    assert!(
        closed.produce.p99_us < stall_us - slack_us,
        "the closed-loop p99 leaves the stall out: p99 {} µs",
        closed.produce.p99_us
    );
    assert!(closed.open_loop.is_none(), "a closed-loop run keeps no schedule");

    // Open loop: the messages due during the stall are timed from when they were due.
    assert!(
        open.produce.p99_us >= stall_us - slack_us,
        "the open-loop p99 includes the stall: p99 {} µs (closed loop: {} µs)",
        open.produce.p99_us,
        closed.produce.p99_us
    );
    let lag = open.open_loop.as_ref().expect("an open-loop run reports its schedule");
    assert_eq!(lag.target_msgs_per_s, RATE);
    assert!(
        lag.max_behind_us >= stall_us - slack_us,
        "a request due at the stall's start was sent when it ended: {} µs behind",
        lag.max_behind_us
    );
    // About STALL × RATE = 1 000 of the 2 000 requests were due during the stall; a third of
    // that is a bound no schedule can miss.
    let due_in_stall = STALL.as_secs_f64() * RATE / MESSAGES as f64;
    assert!(
        lag.late_share >= due_in_stall / 3.0,
        "the requests due during the stall are counted late: {:.1} %",
        lag.late_share * 100.0
    );
}

#[test]
fn an_open_loop_that_keeps_its_schedule_achieves_the_rate_asked_not_more() {
    // 8 producers, 2 messages each, 8 messages per second in total: each producer's two are due
    // one second apart. Two messages take two intervals of the schedule, so the rate achieved
    // can reach 8, never more; over the one interval between the first and the last send it
    // would read 16.
    let report = run(&RunConfig {
        producers: 8,
        consumers: 0,
        messages: 16,
        warmup_percent: 0,
        rate: Some(8.0),
        transport: synclog::report::TransportKind::Inproc,
        progress: false,
        ..RunConfig::default()
    })
    .expect("the run completes");
    let open = report.open_loop.as_ref().expect("an open-loop run reports its schedule");
    assert_eq!(open.target_msgs_per_s, 8.0);
    assert_eq!(open.achieved_msgs_per_s, report.produce.msgs_per_s, "achieved is the produce figure");
    assert!(
        open.achieved_msgs_per_s > 0.0 && open.achieved_msgs_per_s <= 8.0 * (1.0 + 1e-9),
        "achieved {} msg/s of 8 asked",
        open.achieved_msgs_per_s
    );
}
