//! The harness run, called as a library: `synclog::check::run::run(&RunConfig { .. })`.
//!
//! What these tests hold the run to (docs/cli.md, docs/violations.md):
//!
//! 1. Every locking strategy comes out clean over both transports, with several topics,
//!    batches and pipelining, and the embedded run checks every one of the 35 kinds (none is
//!    left `None`, "not checked"). The topics end holding exactly `messages` records.
//! 2. `consumers: 0` measures producing alone: no consume figures, the consumer kinds 0.
//! 3. Under `none` the race is forced, never hoped for: `force_race` puts a rendezvous in the
//!    race window, so two appenders always load the same offset and end. The run must then
//!    report acknowledgements that collided and acknowledged messages that were lost.
//! 4. Flags that contradict each other are refused with a message naming the flag.
//! 5. `data_dir` keeps the topics, each with its `run.json`, and `synclog verify` on that dir
//!    agrees with the run (3 after the forced race, 0 after a lock).
//!
//! Runs stay small (4 000–8 000 messages) so the whole file takes seconds on two shared cores.

use std::path::Path;
use synclog::experiment::run::{run, RunConfig};
use synclog::experiment::verify::verify;
use synclog::experiment::Outcome::{self, Clean as EXIT_OK, Violated as EXIT_VIOLATED};
use synclog::report::rows::{RunReport, TransportKind};
use synclog::storage::DEFAULT_MAX_MESSAGE_BYTES;
use synclog::strategies::StrategyKind;
use synclog::violations::ViolationKind as K;

/// The kinds only consumers can produce (docs/violations.md: 0 with `--consumers 0`).
const CONSUMER_KINDS: [K; 9] = [
    K::LostWrite,
    K::Unexpected,
    K::PollSkip,
    K::NonmonotonicPoll,
    K::IntPollSkip,
    K::IntNonmonotonicPoll,
    K::ReadBeyondHw,
    K::HwRegression,
    K::Unseen,
];

/// A small multi-topic workload: 4 producers on 2 topics, 2 consumers (one per topic),
/// 4 messages per request, 3 requests in flight per producer.
fn small(strategy: StrategyKind, transport: TransportKind) -> RunConfig {
    RunConfig {
        strategy,
        transport,
        producers: 4,
        consumers: 2,
        topics: 2,
        messages: 4_000,
        message_bytes: 100,
        batch: 4,
        in_flight: 3,
        progress: false,
        ..RunConfig::default()
    }
}

/// Runs `config`, panicking with the error (tests only).
fn run_ok(config: &RunConfig) -> RunReport {
    run(config).unwrap_or_else(|e| panic!("run {config:?} failed: {e:#}"))
}

/// Asserts a clean run that checked every kind and stored exactly what it sent.
fn assert_clean_and_complete(r: &RunReport, config: &RunConfig) {
    let context = format!("{} over {:?}", r.strategy, r.transport);
    assert_eq!(K::ALL.len(), 35, "docs/violations.md names 35 kinds");
    for &kind in K::ALL {
        assert_eq!(r.violations.get(kind), Some(0), "{context}: {kind} should be checked and 0");
    }
    assert!(r.is_clean(), "{context}: {:?}", r.violations);
    assert_eq!(r.verdict, "clean", "{context}");
    assert_eq!(r.strategy, config.strategy.name(), "{context}");
    assert_eq!(r.messages, config.messages, "{context}");
    assert_eq!(r.counts.messages_acked, config.messages, "{context}: every send acknowledged");
    assert_eq!(r.counts.messages_failed + r.counts.messages_unknown, 0, "{context}");
    assert_eq!(r.counts.drain_records, config.messages, "{context}: the drain holds exactly the messages");
    assert_eq!(r.counts.drain_foreign_records, 0, "{context}");
    if config.consumers > 0 {
        // Every consumer reads its whole topic: with one consumer per topic, each message once.
        assert_eq!(r.counts.records_read, config.messages, "{context}: consumers read everything");
        assert!(r.consume.is_some(), "{context}: consume figures");
    }
    assert!(r.produce.msgs_per_s > 0.0, "{context}: produce throughput");
    assert!(r.produce.p50_us <= r.produce.p99_us && r.produce.p99_us <= r.produce.max_us, "{context}");
    assert!(r.notes.is_empty(), "{context}: unexpected notes {:?}", r.notes);
}

fn clean_run(strategy: StrategyKind, transport: TransportKind) {
    let config = small(strategy, transport);
    let report = run_ok(&config);
    assert_clean_and_complete(&report, &config);
}

#[test]
fn semaphore_is_clean_over_tcp() {
    clean_run(StrategyKind::Semaphore, TransportKind::Tcp);
}

#[test]
fn semaphore_is_clean_in_process() {
    clean_run(StrategyKind::Semaphore, TransportKind::Inproc);
}

#[test]
fn rwlock_is_clean_over_tcp() {
    clean_run(StrategyKind::RwLock, TransportKind::Tcp);
}

#[test]
fn rwlock_is_clean_in_process() {
    clean_run(StrategyKind::RwLock, TransportKind::Inproc);
}

#[test]
fn mutex_is_clean_over_tcp() {
    clean_run(StrategyKind::Mutex, TransportKind::Tcp);
}

#[test]
fn mutex_is_clean_in_process() {
    clean_run(StrategyKind::Mutex, TransportKind::Inproc);
}

#[test]
fn std_rwlock_is_clean_over_tcp() {
    clean_run(StrategyKind::StdRwLock, TransportKind::Tcp);
}

#[test]
fn std_rwlock_is_clean_in_process() {
    clean_run(StrategyKind::StdRwLock, TransportKind::Inproc);
}

#[test]
fn one_message_per_request_on_one_topic_is_clean() {
    // The defaults' shape (batch 1, in flight 1, one topic, more consumers than topics).
    let config = RunConfig {
        batch: 1,
        in_flight: 1,
        topics: 1,
        consumers: 3,
        ..small(StrategyKind::RwLock, TransportKind::Tcp)
    };
    let r = run_ok(&config);
    for &kind in K::ALL {
        assert_eq!(r.violations.get(kind), Some(0), "{kind}");
    }
    assert_eq!(r.counts.drain_records, config.messages);
    assert_eq!(r.counts.messages_acked, config.messages);
    // Three consumers on one topic: each reads all of it.
    assert_eq!(r.counts.records_read, 3 * config.messages);
}

fn producing_alone(transport: TransportKind) {
    let config = RunConfig { consumers: 0, ..small(StrategyKind::RwLock, transport) };
    let r = run_ok(&config);
    assert!(r.consume.is_none(), "no consumers, no consume figures: {:?}", r.consume);
    for kind in CONSUMER_KINDS {
        assert_eq!(r.violations.get(kind), Some(0), "{kind} with no consumers");
    }
    assert_eq!(r.violations.get(K::Unseen), Some(0));
    assert_eq!(r.counts.records_read, 0);
    assert_clean_and_complete(&r, &config);
}

/// Payloads past the memory budget are encoded during the load: the run is as clean and as
/// complete, and its notes say why. Within the budget they are encoded beforehand, and the
/// `prepare` phase has a time (either way it also warms memory for the load).
#[test]
fn payloads_over_the_budget_are_encoded_during_the_load_and_the_run_says_so() {
    for transport in [TransportKind::Inproc, TransportKind::Tcp] {
        let config = RunConfig {
            message_bytes: 40,
            message_bytes_max: Some(140),
            ..small(StrategyKind::RwLock, transport)
        };
        let prepared = run_ok(&config);
        assert_clean_and_complete(&prepared, &config);
        assert!(prepared.phases.prepare_s > 0.0, "{transport:?}: {:?}", prepared.phases);

        let inline = RunConfig { prepare_budget_bytes: 1000, ..config.clone() };
        let mut r = run_ok(&inline);
        // Nothing encoded beforehand, but the memory warm-up before the load is timed.
        assert!(r.phases.prepare_s > 0.0, "{transport:?}: {:?}", r.phases);
        assert_eq!(r.notes.len(), 1, "{transport:?}: {:?}", r.notes);
        let note = r.notes.remove(0);
        assert!(note.starts_with("payloads encoded during the load"), "{note}");
        assert!(note.contains("would exceed the 0.0 MiB held"), "{note}");
        assert_clean_and_complete(&r, &inline);
    }
}

#[test]
fn no_consumers_means_no_consume_figures_over_tcp() {
    producing_alone(TransportKind::Tcp);
}

#[test]
fn no_consumers_means_no_consume_figures_in_process() {
    producing_alone(TransportKind::Inproc);
}

/// `none` with the rendezvous in the race window: 8 producers on one topic, so appenders are
/// always there to pair up, and every pair loads the same offset and end before either stores.
fn forced_race(transport: TransportKind) -> RunConfig {
    RunConfig {
        strategy: StrategyKind::None,
        transport,
        producers: 8,
        consumers: 1,
        topics: 1,
        messages: 8_000,
        force_race: true,
        progress: false,
        ..RunConfig::default()
    }
}

fn assert_race_reported(r: &RunReport) {
    let v = &r.violations;
    assert!(!r.is_clean(), "the forced race went unnoticed over {:?}", r.transport);
    assert_eq!(r.verdict, "corrupted");
    assert_eq!(r.strategy, "none");
    // Two appenders met in the window: both were acknowledged with one offset, and the second
    // write landed on the first, so an acknowledged message is gone.
    assert!(v.count(K::AckOffsetCollision) > 0, "ack_offset_collision: {v:?}");
    assert!(v.count(K::Lost) > 0, "lost: {v:?}");
    assert!(!v.examples(K::AckOffsetCollision).is_empty(), "a collision comes with an example");
    // Every send was answered (the race is logical, not a crash), but the drain holds fewer.
    assert_eq!(r.counts.messages_acked, r.messages);
    assert!(r.counts.drain_records < r.messages, "drain {} of {}", r.counts.drain_records, r.messages);
    // Every kind was still checked.
    for &kind in K::ALL {
        assert!(v.get(kind).is_some(), "{kind} not checked");
    }
}

#[test]
fn forced_race_under_none_is_reported_in_process() {
    assert_race_reported(&run_ok(&forced_race(TransportKind::Inproc)));
}

#[test]
fn forced_race_under_none_is_reported_over_tcp() {
    assert_race_reported(&run_ok(&forced_race(TransportKind::Tcp)));
}

/// Asserts `config` is refused with a message that names `flag`.
fn assert_refused(config: RunConfig, flag: &str) {
    let config = RunConfig { progress: false, ..config };
    let err = match run(&config) {
        Ok(r) => panic!("{config:?} ran (verdict {}), but should be refused naming {flag}", r.verdict),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains(flag), "the error {err:?} does not name {flag}");
    assert!(config.validate().is_err(), "validate() agrees with run()");
}

#[test]
fn messages_not_a_multiple_of_producers_is_refused() {
    assert_refused(RunConfig { messages: 4_001, producers: 4, ..RunConfig::default() }, "--messages");
    assert_refused(RunConfig { messages: 7, producers: 2, ..RunConfig::default() }, "--messages");
    assert_refused(RunConfig { messages: 0, producers: 2, ..RunConfig::default() }, "--messages");
}

#[test]
fn message_bytes_below_twenty_is_refused() {
    assert_refused(RunConfig { message_bytes: 19, messages: 800, ..RunConfig::default() }, "--message-bytes");
    assert_refused(RunConfig { message_bytes: 0, messages: 800, ..RunConfig::default() }, "--message-bytes");
    // 20 is the payload's own overhead, and allowed.
    let ok = RunConfig { message_bytes: 20, ..RunConfig::default() };
    assert!(ok.validate().is_ok(), "{:?}", ok.validate());
}

#[test]
fn more_topics_than_producers_is_refused() {
    assert_refused(RunConfig { topics: 3, producers: 2, messages: 800, ..RunConfig::default() }, "--topics");
    assert_refused(RunConfig { topics: 0, producers: 2, messages: 800, ..RunConfig::default() }, "--topics");
}

/// The topic folders a run left in `dir`, sorted.
fn topic_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(dir)
        .expect("read the data dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// `synclog verify` on `dir`, as the library entry point: (exit code, printed text).
fn verify_dir(dir: &Path) -> (Outcome, String) {
    let mut out = Vec::new();
    let code = verify(dir, None, DEFAULT_MAX_MESSAGE_BYTES, &mut out).expect("verify runs");
    (code, String::from_utf8(out).expect("verify prints UTF-8"))
}

#[test]
fn a_kept_data_dir_holds_the_topics_and_verify_agrees_with_the_run() {
    let root = tempfile::tempdir().expect("temp dir");

    // A locking strategy: two topics kept, each with its run.json, and verify finds them clean.
    let locked_dir = root.path().join("rwlock");
    let locked =
        RunConfig { data_dir: Some(locked_dir.clone()), ..small(StrategyKind::RwLock, TransportKind::Tcp) };
    let r = run_ok(&locked);
    assert!(r.is_clean(), "{:?}", r.violations);
    assert!(
        r.notes.iter().any(|n| n.contains(&locked_dir.display().to_string())),
        "the report says where the data is: {:?}",
        r.notes
    );
    let dirs = topic_dirs(&locked_dir);
    assert_eq!(dirs.len(), 2, "one folder per topic: {dirs:?}");
    for d in &dirs {
        let name = d.file_name().and_then(|n| n.to_str()).expect("a UTF-8 topic name");
        assert!(name.starts_with("run-"), "harness topics are named after the run: {name}");
        for file in ["run.json", "log.dat", "index.dat"] {
            assert!(d.join(file).is_file(), "{} has no {file}", d.display());
        }
        let run_json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("run.json")).expect("read run.json"))
                .expect("run.json is JSON");
        assert!(run_json.is_object(), "{run_json}");
    }
    let (code, text) = verify_dir(&locked_dir);
    assert_eq!(code, EXIT_OK, "verify after rwlock:\n{text}");
    assert!(text.contains("(a harness run under rwlock)"), "{text}");

    // The forced race under none: the files themselves are damaged, and verify says so.
    let raced_dir = root.path().join("none");
    let raced = RunConfig { data_dir: Some(raced_dir.clone()), ..forced_race(TransportKind::Inproc) };
    let r = run_ok(&raced);
    assert!(!r.is_clean());
    let dirs = topic_dirs(&raced_dir);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert!(dirs[0].join("run.json").is_file());
    let (code, text) = verify_dir(&raced_dir);
    assert_eq!(code, EXIT_VIOLATED, "verify after the forced race under none:\n{text}");
    assert!(text.contains("(a harness run under none)") && text.contains("CORRUPTED"), "{text}");

    // A second run into the same dir adds its own topics and leaves the first run's alone.
    run_ok(&locked);
    assert_eq!(topic_dirs(&locked_dir).len(), 4);
    assert_eq!(verify_dir(&locked_dir).0, EXIT_OK);
}

#[test]
fn verify_does_not_size_its_memory_from_a_crafted_run_file() {
    // A real run's topic, whose run.json then claims 2^32 - 1 producers of 2^64 - 1 messages:
    // a bitmap sized from that would need 2^96 bits. The real `synclog verify` binary must
    // still judge the topic, from what the log holds.
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("crafted");
    let config =
        RunConfig { data_dir: Some(dir.clone()), ..small(StrategyKind::Mutex, TransportKind::Inproc) };
    assert!(run_ok(&config).is_clean());
    for topic in topic_dirs(&dir) {
        let path = topic.join("run.json");
        let mut run: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read run.json")).expect("run.json is JSON");
        run["producers"] = serde_json::json!(u32::MAX);
        run["messages_per_producer"] = serde_json::json!(u64::MAX);
        std::fs::write(&path, serde_json::to_vec(&run).expect("json")).expect("write run.json");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_synclog"))
        .arg("verify")
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .expect("start synclog verify");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "verify on a crafted run.json:\n{text}\n{err}");
    assert!(text.contains("(a harness run under mutex)"), "the run file was still used:\n{text}");
    assert!(!text.contains("CORRUPTED"), "{text}");
}
