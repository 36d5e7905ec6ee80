//! Crash test: the real `broker` binary, killed with SIGKILL at random moments while producers
//! write to it, restarted on the same data dir each time.
//!
//! # What each `--fsync` mode promises (`docs/format.md`, "Durability")
//!
//! | mode     | an ack means                                  | survives a killed process | survives a machine crash |
//! |----------|-----------------------------------------------|---------------------------|--------------------------|
//! | `always` | `fdatasync` covered the record before the ack | yes                       | yes (given an honest disk) |
//! | `interval` | `pwrite` returned; a syncer forces the file every `--fsync-interval-ms` | yes | all but the last interval |
//! | `never`  | `pwrite` returned: the record is in the page cache | yes                  | no: unsynced pages die with the machine |
//!
//! A SIGKILL ends the process, not the kernel: the page cache keeps every byte a completed
//! `pwrite` handed it and writes it back later. So under *both* modes a killed broker loses no
//! acknowledged message, and the same checks apply. What `always` adds — surviving power loss
//! or a kernel panic — cannot be shown by killing a process (that would take a VM reset or a
//! block device that drops unsynced writes, such as dm-flakey or LazyFS); this test does not
//! pretend to. The `never` test checks exactly the page-cache promise: a killed process loses
//! nothing the kernel has.
//!
//! # One cycle
//!
//! 1. start `broker --fsync MODE` on the data dir (it recovers at open), read every record from
//!    offset 0 over TCP and check:
//!    - the offsets are 0, 1, 2, … with no gap up to the high watermark;
//!    - every acknowledged message is present, with its payload, at the offset it was
//!      acknowledged with;
//!    - every stored payload was sent by some producer (acknowledged, or unknown because the
//!      kill came first), and none is stored twice;
//!    - everything read at the previous check is still there, unchanged (a prefix);
//! 2. stop it with SIGTERM (exit 0), then check the files with the library's `verify_topic`: no
//!    violation of any kind (no torn tail left, the index matches the log, every record's CRC
//!    good), the log ends exactly where the valid records end (where the crash state's valid
//!    records ended: the torn tail, if any, was truncated, and nothing else was), and
//!    `synclog verify` exits 0;
//! 3. start it again, run three producers (two send one message or a small batch per request
//!    and wait; one keeps four requests in flight), and SIGKILL the broker after a random
//!    20–150 ms (seeded: `SYNCLOG_CRASH_SEED`). Sends that were not answered are *unknown*:
//!    never retried, allowed to be present or absent. Under `interval`, every other kill lands
//!    for certain *inside a sync*: the broker is started with the storage's test hook
//!    `HOLD_INTERVAL_SYNC_ENV`, which holds the syncer inside its first sync covering a few
//!    records of this cycle (after it chose what to cover, before its `fdatasync`) and says so on
//!    stderr; the test waits for that line, then until producers were acknowledged both for
//!    records the held sync covers and for records past it (written while it is held), and only
//!    then kills;
//! 4. look at the files the kill left: only the damage a kill can cause is allowed — a
//!    `torn_tail` (a `pwrite` cut short) and `index_missing` (killed between the record's write
//!    and its index entry's). Every fourth cycle also appends a torn record by hand, so that the
//!    recovery of step 1 provably cuts one through the real binary (a kill rarely lands inside
//!    a small `pwrite`).

mod common;

use common::broker_process::{seed_from_env, stderr_tail, BrokerProcess, SplitMix64};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use synclog::client::{Client, ClientConfig, ClientError, Producer};
use synclog::protocol::ErrorCode;
use synclog::storage::topic::{FAIL_SYNC_ENV, HOLD_INTERVAL_SYNC_ENV};
use synclog::storage::{verify_topic, TopicReport, DEFAULT_MAX_MESSAGE_BYTES, INDEX_INTERVAL, LOG_FILE};
use synclog::violations::ViolationKind as K;

const TOPIC: &str = "crash";
const PRODUCERS: u32 = 3;
/// The producer that pipelines (the others send and wait).
const PIPELINED_PRODUCER: u32 = 2;
const PIPELINE_DEPTH: usize = 4;
/// No producer runs longer than this, even if a kill never came.
const PRODUCER_DEADLINE: Duration = Duration::from_secs(10);

#[test]
fn sigkill_under_fsync_always_loses_no_acknowledged_message() {
    let stats = crash_cycles("always", 24, seed_from_env("SYNCLOG_CRASH_SEED", 0x5EED_00A1));
    assert!(stats.kills >= 20);
}

#[test]
fn sigkill_under_fsync_interval_loses_no_acknowledged_message() {
    // `interval` acknowledges after the pwrite, like `never`, and syncs from a background
    // thread (every second by default): a kill mid-sync must lose nothing either. Four of the
    // eight kills land while the syncer is held inside a sync (cycles 0, 2, 4, 6).
    let stats = crash_cycles("interval", 8, seed_from_env("SYNCLOG_CRASH_SEED", 0x5EED_0011));
    assert_eq!(stats.kills_inside_sync, 4, "every other kill landed inside a sync");
    assert!(stats.acked_covered_by_held_sync > 0 && stats.acked_past_held_sync > 0, "{stats:?}");
}

#[test]
fn sigkill_under_fsync_never_loses_nothing_the_page_cache_has() {
    crash_cycles("never", 8, seed_from_env("SYNCLOG_CRASH_SEED", 0x5EED_000F));
}

#[test]
fn a_killed_broker_whose_sync_of_one_topic_failed_restarts_serving_only_durable_records_under_fsync_interval()
{
    killed_after_a_failed_sync("interval");
}

#[test]
fn a_killed_broker_whose_sync_of_one_topic_failed_restarts_serving_only_durable_records_under_fsync_always() {
    killed_after_a_failed_sync("always");
}

/// 1. A broker under `fsync` takes 150 records in each of a, b, c and stops cleanly (its close
///    syncs them: durable, with index entries 0 and 100).
/// 2. Restarted with the storage's test hook `FAIL_SYNC_ENV=b:151`, it is sent 100 more for
///    each (b's index gains entry 200). Every sync of b covering them fails: under `interval`
///    the syncer's (the 100 were acknowledged before it), under `always` the group commit's
///    (the 100 are refused, error 10). b then refuses appends and serves only its 150 durable
///    records, while a and c take more. SIGKILL: b's log.dat and index.dat are found cut back
///    (entries 0 and 100), and verify clean.
/// 3. The restart serves b's 150 durable records and nothing of the 100 it cut, and a's and
///    c's every record; b takes appends again.
fn killed_after_a_failed_sync(fsync: &str) {
    let base = tempfile::tempdir().expect("tempdir");
    let data_dir = base.path().join("data");
    let stderr_path = base.path().join("broker.stderr");
    let data = data_dir.to_str().expect("utf-8 path");
    let args = ["--data-dir", data, "--fsync", fsync, "--fsync-interval-ms", "20"];
    let record = |topic: &str, i: u64| format!("{topic}-{i}").into_bytes();
    let records =
        |topic: &str, from: u64, to: u64| -> Vec<Vec<u8>> { (from..to).map(|i| record(topic, i)).collect() };
    let produce = |client: &mut Client, topic: &str, from: u64, to: u64| {
        let batch = records(topic, from, to);
        client.produce(topic, batch.iter().map(Vec::as_slice))
    };

    let broker = BrokerProcess::start(&args, &stderr_path);
    let mut client = Client::connect(broker.addr).expect("connect");
    for topic in ["a", "b", "c"] {
        assert_eq!(produce(&mut client, topic, 0, 150).expect("produce"), 0);
    }
    assert!(broker.terminate().success());
    let durable_end = fs::metadata(data_dir.join("b").join(LOG_FILE)).expect("b's log.dat").len();

    let stderr_before = fs::metadata(&stderr_path).map_or(0, |m| m.len());
    let broker = BrokerProcess::start_with_env(&args, &[(FAIL_SYNC_ENV, "b:151")], &stderr_path);
    let mut client = Client::connect(broker.addr).expect("connect");
    for topic in ["a", "b", "c"] {
        let produced = produce(&mut client, topic, 150, 250);
        if fsync == "always" && topic == "b" {
            // Its sync failed, and cut b back, before the answer.
            let failed = produced.expect_err("never acknowledged: its sync failed");
            assert_eq!(failed.code(), Some(ErrorCode::Internal), "{failed}");
        } else {
            assert_eq!(produced.expect("acknowledged"), 150, "{topic}");
        }
    }
    // Under `interval` the syncer reports the failure after it cut b back (bounded: it runs
    // every 20 ms).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut waiting = fsync == "interval";
    while waiting {
        let text = fs::read(&stderr_path).expect("stderr");
        let text = String::from_utf8_lossy(&text[stderr_before as usize..]).into_owned();
        waiting = !text.contains("interval fsync of topic b failed, its log now refuses appends");
        for other in ["a", "c"] {
            assert!(!text.contains(&format!("fsync of topic {other} failed")), "only b's sync fails: {text}");
        }
        assert!(!waiting || Instant::now() < deadline, "b's sync never failed: {text}");
        thread::sleep(Duration::from_millis(5));
    }
    let refused = produce(&mut client, "b", 150, 151).expect_err("b refuses appends");
    assert_eq!(refused.code(), Some(ErrorCode::Internal), "{refused}");
    let b = served(&mut client, "b");
    assert_eq!(b.len(), 150, "b serves only its durable records");
    assert_eq!(b, records("b", 0, 150));
    for topic in ["a", "c"] {
        assert_eq!(produce(&mut client, topic, 250, 260).expect("a and c go on"), 250);
        let all = served(&mut client, topic);
        assert_eq!(all.len(), 260, "{topic} serves every record");
        assert_eq!(all, records(topic, 0, 260));
    }
    broker.kill();

    // What the kill left: b cut back, log and index; verify finds nothing wrong with it.
    let b_dir = data_dir.join("b");
    let index_bytes = fs::metadata(b_dir.join(synclog::storage::INDEX_FILE)).expect("b's index.dat").len();
    assert_eq!(
        index_bytes,
        2 * synclog::storage::INDEX_ENTRY_BYTES,
        "b's index holds entries 0 and 100 only"
    );
    assert_eq!(
        fs::metadata(b_dir.join(LOG_FILE)).expect("b's log.dat").len(),
        durable_end,
        "b's log is cut back"
    );
    let report = verify(&b_dir);
    assert!(report.violations.found().next().is_none(), "b after the kill: {}", describe(&report));
    assert_eq!(report.records, 150);

    let broker = BrokerProcess::start(&args, &stderr_path);
    let mut client = Client::connect(broker.addr).expect("connect");
    let b = served(&mut client, "b");
    assert_eq!(b.len(), 150, "the restart serves b's durable records only");
    assert_eq!(b, records("b", 0, 150));
    for topic in ["a", "c"] {
        let all = served(&mut client, topic);
        assert_eq!(all.len(), 260, "the restart serves all of {topic}");
        assert_eq!(all, records(topic, 0, 260));
    }
    assert_eq!(produce(&mut client, "b", 150, 151).expect("a restart clears the poison"), 150);
    assert!(broker.terminate().success());
}

/// Every payload `topic` serves, read from offset 0 up to the high watermark.
fn served(client: &mut Client, topic: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let fetched = client.fetch(topic, out.len() as u64, 10_000, 1 << 20, Duration::ZERO).expect("fetch");
        if fetched.records.is_empty() {
            assert_eq!(fetched.high_watermark, out.len() as u64, "{topic}: read up to the high watermark");
            return out;
        }
        out.extend(fetched.records.iter().map(|(_, p)| p.to_vec()));
    }
}

/// What producers were told and what they sent, over every cycle.
#[derive(Default)]
struct Ledger {
    /// Every acknowledged message, at its acknowledged offset.
    acked: BTreeMap<u64, Vec<u8>>,
    /// Every payload any producer wrote to a socket (acknowledged or unknown).
    sent: HashSet<Vec<u8>>,
    /// What the previous check read: it must survive every later crash.
    seen: Vec<(u64, Vec<u8>)>,
}

#[derive(Debug, Default)]
struct Stats {
    kills: u32,
    acked: u64,
    unknown: u64,
    /// Unknown sends found stored after the kill (informational).
    recovered: u64,
    /// Kills that left a torn tail by themselves.
    torn_by_kill: u32,
    /// Torn tails appended by the test.
    torn_injected: u32,
    /// Index entries a kill left unwritten (rebuilt by the next open).
    index_missing_by_kill: u64,
    records: u64,
    /// Kills that landed while the interval syncer was held inside a sync.
    kills_inside_sync: u32,
    /// Acknowledged messages of those cycles that the held sync covered (written before it
    /// started, never known synced) ...
    acked_covered_by_held_sync: u64,
    /// ... and written past what it covered, while it was held.
    acked_past_held_sync: u64,
}

fn crash_cycles(fsync: &str, kills: u32, seed: u64) -> Stats {
    let started = Instant::now();
    let base = tempfile::tempdir().expect("tempdir");
    let data_dir = base.path().join("data");
    let stderr_path = base.path().join("broker.stderr");
    let data = data_dir.to_str().expect("utf-8 path");
    // A short interval, so that kills land while the syncer runs too.
    let mut args = vec!["--data-dir", data, "--fsync", fsync, "--strategy", "rwlock"];
    if fsync == "interval" {
        args.extend(["--fsync-interval-ms", "20"]);
    }
    let mut rng = SplitMix64(seed);
    let mut ledger = Ledger::default();
    let mut stats = Stats::default();
    // Where the valid records ended in the state the last kill left (None before any topic).
    let mut valid_end_after_crash: Option<u64> = None;

    for cycle in 0..=kills {
        // 1-2. Restart: recovery runs before `listening on`; check what it serves, stop cleanly,
        // check the files.
        let broker = BrokerProcess::start(&args, &stderr_path);
        check_served(&broker, &mut ledger, &mut stats);
        let status = broker.terminate();
        assert!(status.success(), "a clean shutdown exits 0, got {status}");
        verify_clean(&data_dir, &ledger, valid_end_after_crash, &stderr_path);
        if cycle == kills {
            break;
        }

        // 3. Produce, and kill at a random moment, or (every other `interval` cycle) while the
        // syncer is held inside a sync that covers records of this cycle.
        let inside_sync = fsync == "interval" && cycle % 2 == 0;
        let (broker, kill_at) = if inside_sync {
            // The log holds exactly what the check read; hold the first sync that covers 1–60
            // records more.
            let covering = ledger.seen.len() as u64 + rng.in_range(1..=60);
            let env = [(HOLD_INTERVAL_SYNC_ENV, covering.to_string())];
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let stderr_before = fs::metadata(&stderr_path).map_or(0, |m| m.len());
            let broker = BrokerProcess::start_with_env(&args, &env, &stderr_path);
            (broker, KillAt::InsideSync { stderr_before })
        } else {
            (
                BrokerProcess::start(&args, &stderr_path),
                KillAt::After(Duration::from_millis(rng.in_range(20..=150))),
            )
        };
        let (outcomes, held) = produce_and_kill(broker, kill_at, &stderr_path, cycle, rng.next_u64());
        stats.kills += 1;
        if let Some(covered) = held {
            stats.kills_inside_sync += 1;
            let acked = outcomes.iter().flat_map(|o| o.acked.iter().map(|(offset, _)| *offset));
            let (below, past): (Vec<u64>, Vec<u64>) = acked.partition(|&o| o < covered);
            assert!(
                !below.is_empty() && !past.is_empty(),
                "cycle {cycle}: the kill came with acks on both sides of the held sync's {covered}"
            );
            stats.acked_covered_by_held_sync += below.len() as u64;
            stats.acked_past_held_sync += past.len() as u64;
        }
        for outcome in outcomes {
            assert!(
                outcome.broker_errors.is_empty(),
                "producer {} got answers a healthy broker never gives: {:?}",
                outcome.producer,
                outcome.broker_errors
            );
            stats.acked += outcome.acked.len() as u64;
            stats.unknown += (outcome.sent.len() - outcome.acked.len()) as u64;
            for (offset, payload) in outcome.acked {
                if let Some(earlier) = ledger.acked.insert(offset, payload.clone()) {
                    panic!(
                        "two acks for offset {offset}: {:?} and {:?}",
                        String::from_utf8_lossy(&earlier),
                        String::from_utf8_lossy(&payload)
                    );
                }
            }
            ledger.sent.extend(outcome.sent);
        }

        // 4. The state the kill left, before any recovery.
        let topic_dir = data_dir.join(TOPIC);
        if !topic_dir.join(LOG_FILE).exists() {
            continue; // killed before the first produce created the topic
        }
        let report = verify(&topic_dir);
        for (kind, n) in report.violations.found() {
            match kind {
                K::TornTail => stats.torn_by_kill += 1,
                K::IndexMissing => stats.index_missing_by_kill += n,
                _ => panic!("a kill cannot cause {}: {}", kind.name(), describe(&report)),
            }
        }
        if cycle % 4 == 3 {
            inject_torn_tail(&topic_dir, &report);
            stats.torn_injected += 1;
            let torn = verify(&topic_dir).violations.count(K::TornTail);
            assert_eq!(torn, 1, "verify sees the torn record the test appended");
        }
        valid_end_after_crash = Some(report.valid_end);
    }
    stats.records = ledger.seen.len() as u64;
    eprintln!(
        "crash test, --fsync {fsync}: {} kills, {} acked, {} unknown ({} of them stored), {} records; \
         torn tails: {} by a kill, {} injected; {} index entries missing after kills; \
         {} kills inside a held sync ({} acked messages it covered, {} acked past it); {:.1} s",
        stats.kills,
        stats.acked,
        stats.unknown,
        stats.recovered,
        stats.records,
        stats.torn_by_kill,
        stats.torn_injected,
        stats.index_missing_by_kill,
        stats.kills_inside_sync,
        stats.acked_covered_by_held_sync,
        stats.acked_past_held_sync,
        started.elapsed().as_secs_f64()
    );
    assert!(stats.acked > 0, "no producer was ever acknowledged: the test proved nothing");
    stats
}

/// Reads every record the restarted broker serves and checks it against the ledger.
fn check_served(broker: &BrokerProcess, ledger: &mut Ledger, stats: &mut Stats) {
    let mut client = Client::connect(broker.addr).expect("connect to the restarted broker");
    let mut records: Vec<(u64, Vec<u8>)> = Vec::new();
    loop {
        let from = records.len() as u64;
        let fetched = match client.fetch(TOPIC, from, 10_000, 1 << 20, Duration::ZERO) {
            Ok(f) => f,
            Err(e) if e.code() == Some(ErrorCode::UnknownTopic) => {
                assert!(
                    ledger.acked.is_empty(),
                    "the topic is gone, yet {} messages were acked",
                    ledger.acked.len()
                );
                return;
            }
            Err(e) => panic!("fetch from {from} after a restart failed: {e}\n{}", broker.stderr_tail()),
        };
        if fetched.records.is_empty() {
            assert_eq!(
                fetched.high_watermark, from,
                "a fetch at the high watermark, and only there, is empty"
            );
            break;
        }
        for (offset, payload) in fetched.records.iter() {
            assert_eq!(offset, records.len() as u64, "offsets are served in order with no gap");
            records.push((offset, payload.to_vec()));
        }
    }
    for (offset, payload) in &ledger.acked {
        match records.get(*offset as usize) {
            Some((_, stored)) if stored == payload => {}
            Some((_, stored)) => panic!(
                "offset {offset} was acknowledged for {:?} but holds {:?}",
                String::from_utf8_lossy(payload),
                String::from_utf8_lossy(stored)
            ),
            None => panic!(
                "offset {offset} ({:?}) was acknowledged but the log ends at {} after the restart",
                String::from_utf8_lossy(payload),
                records.len()
            ),
        }
    }
    let acked_values: HashSet<&Vec<u8>> = ledger.acked.values().collect();
    let mut stored = HashSet::new();
    for (offset, payload) in &records {
        assert!(
            ledger.sent.contains(payload),
            "offset {offset} holds {:?}, which no producer sent",
            String::from_utf8_lossy(payload)
        );
        assert!(stored.insert(payload), "{:?} is stored twice", String::from_utf8_lossy(payload));
    }
    assert!(
        records.starts_with(&ledger.seen),
        "records read before the last kill changed or vanished (read {} then, {} now)",
        ledger.seen.len(),
        records.len()
    );
    // Unknown sends that made it to the log before the kill (newly seen this time).
    stats.recovered +=
        records[ledger.seen.len()..].iter().filter(|(_, p)| !acked_values.contains(p)).count() as u64;
    ledger.seen = records;
}

/// After a clean stop: no violation at all, the torn tail (if any) cut and nothing else, and
/// `synclog verify` agrees.
fn verify_clean(data_dir: &Path, ledger: &Ledger, valid_end_after_crash: Option<u64>, stderr_path: &Path) {
    let topic_dir = data_dir.join(TOPIC);
    if topic_dir.join(LOG_FILE).exists() {
        let report = verify(&topic_dir);
        assert!(
            report.violations.found().next().is_none(),
            "after recovery and a clean stop the files hold no violation: {}\n{}",
            describe(&report),
            stderr_tail(stderr_path)
        );
        assert_eq!(report.log_bytes, report.valid_end, "the log ends where its valid records end");
        assert_eq!(report.records, ledger.seen.len() as u64, "the file holds exactly what was served");
        assert_eq!(
            report.index_entries,
            report.records.div_ceil(INDEX_INTERVAL),
            "one index entry per 100 records"
        );
        if let Some(valid_end) = valid_end_after_crash {
            assert_eq!(
                report.log_bytes, valid_end,
                "recovery cut exactly the torn tail: the log ends where the crash state's valid records ended"
            );
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_synclog"))
        .args(["verify", "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("run synclog verify");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("clean"),
        "synclog verify after recovery: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn verify(topic_dir: &Path) -> TopicReport {
    verify_topic(topic_dir, DEFAULT_MAX_MESSAGE_BYTES, None).expect("verify_topic reads the files")
}

fn describe(report: &TopicReport) -> String {
    let mut s =
        format!("{} records, {} of {} bytes valid:", report.records, report.valid_end, report.log_bytes);
    for (kind, n) in report.violations.found() {
        s.push_str(&format!(" {}={n}", kind.name()));
        for e in report.violations.examples(kind) {
            s.push_str(&format!(" [{e}]"));
        }
    }
    s
}

/// Appends what a `pwrite` cut short would leave: a record header claiming 1000 payload bytes
/// with only 100 of them behind it.
fn inject_torn_tail(topic_dir: &Path, report: &TopicReport) {
    let mut torn = Vec::new();
    torn.extend_from_slice(&report.records.to_be_bytes()); // the next offset
    torn.extend_from_slice(&1000u32.to_be_bytes());
    torn.extend_from_slice(&0u32.to_be_bytes()); // the CRC never got written
    torn.extend_from_slice(&[0x42; 100]);
    // Where the next record would have gone: right after the last good one (under `--fsync
    // always` the file goes on past it with preallocated zeros).
    let file = fs::OpenOptions::new().write(true).open(topic_dir.join(LOG_FILE)).expect("open log.dat");
    file.write_all_at(&torn, report.valid_end).expect("write a torn record");
}

/// One producer's view of one cycle.
struct Outcome {
    producer: u32,
    /// (offset, payload) of every acknowledged message.
    acked: Vec<(u64, Vec<u8>)>,
    /// Every payload written to the socket, acknowledged or not.
    sent: Vec<Vec<u8>>,
    /// Error answers from a live broker (there should be none).
    broker_errors: Vec<String>,
}

/// When a cycle's SIGKILL comes.
enum KillAt {
    /// This long after the producers start.
    After(Duration),
    /// Once the broker (started with `HOLD_INTERVAL_SYNC_ENV`) says its syncer is held inside a
    /// sync, and producers have been acknowledged for a record that sync covers and for one
    /// past it. Its stderr file held `stderr_before` bytes before it started.
    InsideSync { stderr_before: u64 },
}

/// The lowest and highest offsets acknowledged so far in a cycle, across producers.
struct AckedRange {
    lowest: AtomicU64,
    highest: AtomicU64,
}

impl AckedRange {
    fn note(&self, first: u64, last: u64) {
        self.lowest.fetch_min(first, Ordering::AcqRel);
        self.highest.fetch_max(last, Ordering::AcqRel);
    }
}

/// What the held syncer's line says it covers: the offsets below the number it ends with.
const HELD_LINE: &str = "the interval syncer is held inside its sync of ";

/// The offset below which the held sync covers, once the broker has written its whole line.
fn held_sync_covering(stderr_path: &Path, stderr_before: u64) -> Option<u64> {
    let text = fs::read(stderr_path).ok()?;
    let text = String::from_utf8_lossy(text.get(stderr_before as usize..)?).into_owned();
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n') && l.contains(HELD_LINE))
        .find_map(|l| l.trim_end().rsplit(' ').next()?.parse().ok())
}

/// Runs the producers against `broker`, SIGKILLs it as `kill_at` says, and returns what each
/// saw, with what the held sync covered when the kill landed inside one.
fn produce_and_kill(
    broker: BrokerProcess,
    kill_at: KillAt,
    stderr_path: &Path,
    cycle: u32,
    seed: u64,
) -> (Vec<Outcome>, Option<u64>) {
    let stop = AtomicBool::new(false);
    let acked = AckedRange { lowest: AtomicU64::new(u64::MAX), highest: AtomicU64::new(0) };
    let addr = broker.addr;
    thread::scope(|s| {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                s.spawn({
                    let (stop, acked) = (&stop, &acked);
                    move || produce(addr, cycle, p, seed, stop, acked)
                })
            })
            .collect();
        let held = match kill_at {
            KillAt::After(delay) => {
                thread::sleep(delay);
                None
            }
            KillAt::InsideSync { stderr_before } => {
                // Bounded: the syncer runs every 20 ms and producers are acked within
                // milliseconds; 8 s (less than a producer's deadline) means something is broken.
                let deadline = Instant::now() + Duration::from_secs(8);
                let covered = loop {
                    if let Some(covered) = held_sync_covering(stderr_path, stderr_before) {
                        break covered;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "the syncer never said it was held: {}",
                        broker.stderr_tail()
                    );
                    thread::sleep(Duration::from_millis(1));
                };
                while !(acked.lowest.load(Ordering::Acquire) < covered
                    && acked.highest.load(Ordering::Acquire) >= covered)
                {
                    assert!(
                        Instant::now() < deadline,
                        "no acks on both sides of the held sync's {covered}: lowest {}, highest {}",
                        acked.lowest.load(Ordering::Acquire),
                        acked.highest.load(Ordering::Acquire)
                    );
                    thread::sleep(Duration::from_millis(1));
                }
                Some(covered)
            }
        };
        broker.kill();
        stop.store(true, Ordering::Release);
        (producers.into_iter().map(|h| h.join().expect("producer thread")).collect(), held)
    })
}

/// Notes an error that a dead broker cannot explain: a dead broker shows as a failed or closed
/// connection, never as an error answer or a reply that does not fit.
fn record_error(e: ClientError, out: &mut Outcome) {
    if matches!(e, ClientError::Broker { .. } | ClientError::Unexpected(_)) {
        out.broker_errors.push(e.to_string());
    }
}

/// A unique payload; lengths vary so that records do not all line up alike.
fn payload(cycle: u32, producer: u32, seq: u64) -> Vec<u8> {
    let mut p = format!("c{cycle}-p{producer}-{seq}-").into_bytes();
    p.resize(p.len() + (seq * 7 % 61) as usize, b'x');
    p
}

/// Sends until the broker dies (or `stop`): producer `PIPELINED_PRODUCER` keeps
/// `PIPELINE_DEPTH` requests in flight, the others send one request and wait.
fn produce(
    addr: std::net::SocketAddr,
    cycle: u32,
    producer: u32,
    seed: u64,
    stop: &AtomicBool,
    acked_range: &AckedRange,
) -> Outcome {
    let mut out = Outcome { producer, acked: Vec::new(), sent: Vec::new(), broker_errors: Vec::new() };
    let config = ClientConfig {
        connect_timeout: Duration::from_secs(2),
        response_timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    };
    let Ok(client) = Client::connect_with(addr, config) else {
        return out; // killed before this producer got in
    };
    let mut rng = SplitMix64(seed ^ u64::from(producer) << 32);
    let mut seq = 0u64;
    let started = Instant::now();
    let mut next_batch = |rng: &mut SplitMix64| -> Vec<Vec<u8>> {
        // One message per request most of the time, a batch of 2-8 otherwise.
        let n = if rng.in_range(0..=2) == 0 { rng.in_range(2..=8) } else { 1 };
        (0..n)
            .map(|_| {
                seq += 1;
                payload(cycle, producer, seq)
            })
            .collect()
    };
    let running = || !stop.load(Ordering::Acquire) && started.elapsed() < PRODUCER_DEADLINE;

    if producer == PIPELINED_PRODUCER {
        let mut producer = Producer::pipelined(client, TOPIC, PIPELINE_DEPTH);
        let mut in_flight: VecDeque<Vec<Vec<u8>>> = VecDeque::new();
        while running() {
            let batch = next_batch(&mut rng);
            out.sent.extend(batch.iter().cloned());
            match producer.start(batch.iter().map(Vec::as_slice)) {
                Ok(done) => {
                    if let Some(ack) = done {
                        let acked = in_flight.pop_front().expect("an ack answers a request in flight");
                        assert_eq!(ack.count as usize, acked.len());
                        acked_range.note(ack.base_offset, ack.base_offset + u64::from(ack.count) - 1);
                        out.acked.extend((ack.base_offset..).zip(acked));
                    }
                    in_flight.push_back(batch);
                }
                Err(e) => {
                    record_error(e, &mut out);
                    break;
                }
            }
        }
    } else {
        let mut client = client;
        while running() {
            let batch = next_batch(&mut rng);
            out.sent.extend(batch.iter().cloned());
            match client.produce(TOPIC, batch.iter().map(Vec::as_slice)) {
                Ok(base_offset) => {
                    acked_range.note(base_offset, base_offset + batch.len() as u64 - 1);
                    out.acked.extend((base_offset..).zip(batch));
                }
                Err(e) => {
                    record_error(e, &mut out);
                    break;
                }
            }
        }
    }
    out
}
