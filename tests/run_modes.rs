//! The run modes beside the default, from outside the process:
//!
//! - `--append reserve`: the `harness` binary runs the same checked load with only the
//!   reservation inside the write section (in process and through its embedded broker), says so
//!   in its header and its JSON, and the real `broker` binary serves it to a `harness --broker`
//!   run whose drain finds every acknowledged message. The storage-level proofs (no hole, no torn
//!   record, every fsync mode, forced interleavings) are in `tests/reserve.rs`.
//! - `--rate` (open loop): the JSON carries the `open_loop` object with its fields typed, the text
//!   report its line, and a closed-loop run has `open_loop: null`. That a stall is timed in every
//!   request it delayed is tested on the producer itself (`experiment::workers`' tests) and
//!   through a real broker whose write section stalls (`tests/open_loop.rs`).

mod common;

use common::broker_process::BrokerProcess;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

fn harness(args: &[&str]) -> Output {
    Command::new(HARNESS).args(args).env_remove("CI").output().expect("the harness binary runs")
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("the --json file exists"))
        .expect("the --json file parses")
}

/// One small reserve run over `transport`; returns its JSON after checking exit 0 and the header.
fn reserve_run(transport: &str, strategy: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let data = dir.path().join("data");
    let out = harness(&[
        "--strategy",
        strategy,
        "--producers",
        "4",
        "--consumers",
        "2",
        "--messages",
        "4000",
        "--batch",
        "10",
        "--transport",
        transport,
        "--append",
        "reserve",
        "--data-dir",
        data.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "a reserve run under {strategy} is clean: {}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().next().unwrap_or("").contains("append reserve"),
        "the header names the mode: {stdout}"
    );
    read_json(&json)
}

#[test]
fn a_reserve_run_in_process_is_clean_and_named_in_the_json() {
    let json = reserve_run("inproc", "mutex");
    assert_eq!(json["append"], "reserve");
    assert_eq!(json["verdict"], "clean");
    assert_eq!(json["violations"]["lost"], 0);
}

#[test]
fn a_reserve_run_through_the_embedded_broker_is_clean() {
    let json = reserve_run("tcp", "rwlock");
    assert_eq!(json["append"], "reserve");
    assert_eq!(json["verdict"], "clean");
    // The files were scanned (an embedded broker): section A was counted, not null.
    assert_eq!(json["violations"]["corrupt_record"], 0);
}

#[test]
fn the_default_mode_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = harness(&[
        "--transport",
        "inproc",
        "--producers",
        "2",
        "--consumers",
        "0",
        "--messages",
        "200",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let json = read_json(&json);
    assert_eq!(json["append"], "whole");
    assert!(json["open_loop"].is_null(), "a closed-loop run has no open_loop object");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("append reserve"));
}

#[test]
fn a_broker_started_with_append_reserve_serves_a_clean_remote_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = BrokerProcess::start(
        &["--strategy", "mutex", "--append", "reserve", "--data-dir", data.to_str().unwrap()],
        &dir.path().join("broker.stderr"),
    );
    let json = dir.path().join("run.json");
    let addr = broker.addr.to_string();
    let out = harness(&[
        "--broker",
        &addr,
        "--producers",
        "4",
        "--consumers",
        "1",
        "--messages",
        "2000",
        "--in-flight",
        "4",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}\nbroker: {}", describe(&out), broker.stderr_tail());
    let json = read_json(&json);
    assert_eq!(json["verdict"], "clean");
    assert_eq!(json["violations"]["lost"], 0);
    assert_eq!(json["violations"]["ack_offset_collision"], 0);
    // The run was served in the mode asked for: the broker says which at start.
    let said = broker.stderr_tail();
    assert!(said.contains("strategy mutex, append reserve, fsync never, listening on"), "{said}");
}

#[test]
fn append_with_a_remote_broker_is_bad_usage() {
    let out = harness(&["--broker", "127.0.0.1:9", "--append", "reserve", "--messages", "8"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--append"), "{}", describe(&out));
}

#[test]
fn an_open_loop_run_reports_its_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = harness(&[
        "--transport",
        "inproc",
        "--producers",
        "2",
        "--consumers",
        "1",
        "--messages",
        "2000",
        "--rate",
        "4000",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("open loop: asked 4 000 msg/s"),
        "{}",
        describe(&out)
    );
    let json = read_json(&json);
    let o = &json["open_loop"];
    assert_eq!(o["target_msgs_per_s"].as_f64(), Some(4000.0));
    assert!(o["achieved_msgs_per_s"].as_f64().is_some_and(|r| r > 0.0), "{o}");
    assert!(o["late_share"].as_f64().is_some_and(|s| (0.0..=1.0).contains(&s)), "{o}");
    assert_eq!(o["late_after_us"].as_u64(), Some(1000));
    assert!(o["max_behind_us"].is_u64(), "{o}");
    // Paced: 2 000 messages at 4 000/s cannot finish in much under half a second.
    assert!(json["duration_s"].as_f64().is_some_and(|d| d >= 0.4), "{}", json["duration_s"]);
}

#[test]
fn a_rate_below_one_is_bad_usage() {
    let out = harness(&["--transport", "inproc", "--rate", "0", "--messages", "8"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate"), "{}", describe(&out));
}

#[test]
fn compare_with_rates_writes_the_open_loop_curves() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = harness(&[
        "compare",
        "--strategies",
        "mutex,rwlock",
        "--producers",
        "2",
        "--consumers",
        "0",
        "--messages",
        "1000",
        "--transport",
        "inproc",
        "--ceiling-ms",
        "20",
        "--rates",
        "2000,8000",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let summary = std::fs::read_to_string(out_dir.join("summary.md")).unwrap();
    assert!(summary.contains("## Open-loop latency (`--rates`)"), "{summary}");
    for strategy in ["mutex", "rwlock"] {
        assert!(
            summary.contains(&format!("- {strategy}: held")),
            "a saturation sentence for {strategy}: {summary}"
        );
    }
    let json = read_json(&out_dir.join("results.json"));
    let points = json["rate_points"].as_array().expect("rate_points");
    assert_eq!(points.len(), 4, "two strategies × two rates");
    assert!(points.iter().all(|p| p["p99_us"].is_u64() && p["achieved_msgs_per_s"].is_f64()));
    let png = std::fs::metadata(out_dir.join("latency_vs_rate.png")).expect("the chart is drawn");
    assert!(png.len() > 10_000, "a chart, not an empty file");
}

#[test]
fn a_rate_list_with_zero_is_bad_usage() {
    let out = harness(&["compare", "--rates", "1000,0", "--out", "/nonexistent/never-written"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

/// `--message-bytes MIN..MAX` with `--force-race` (appenders paired inside the write section)
/// under `strategy`: the run's JSON, and `verify`'s verdict on its files.
fn mixed_sizes_run(strategy: &str, force_race: bool) -> (Value, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let data = dir.path().join("data");
    let mut args = vec![
        "--strategy",
        strategy,
        "--transport",
        "inproc",
        "--producers",
        "2",
        "--consumers",
        "0",
        "--messages",
        "200",
        "--message-bytes",
        "60..140",
        "--data-dir",
        data.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    if force_race {
        args.push("--force-race");
    }
    let out = harness(&args);
    let verify = Command::new(env!("CARGO_BIN_EXE_synclog"))
        .args(["verify", "--data-dir", data.to_str().unwrap()])
        .output()
        .expect("synclog verify runs");
    assert!(out.status.code().is_some_and(|c| c == 0 || c == 3), "{}", describe(&out));
    (read_json(&json), verify)
}

#[test]
fn mixed_sizes_are_checked_value_by_value_and_a_lock_keeps_them_clean() {
    let (json, verify) = mixed_sizes_run("mutex", false);
    assert_eq!(json["message_bytes"], 60);
    assert_eq!(json["message_bytes_max"], 140);
    assert_eq!(json["verdict"], "clean", "{json}");
    // verify recomputes each value's size from run.json: a wrong size would be unknown_value.
    assert_eq!(verify.status.code(), Some(0), "{}", describe(&verify));
}

#[test]
fn colliding_appends_of_different_sizes_tear_the_log_on_disk() {
    let (json, verify) = mixed_sizes_run("none", true);
    let v = &json["violations"];
    let torn = v["corrupt_record"].as_u64().unwrap() + v["torn_tail"].as_u64().unwrap();
    assert!(
        torn > 0,
        "100 forced collisions of records 60 to 140 bytes long leave bytes that are no record: {v}"
    );
    assert_eq!(verify.status.code(), Some(3), "verify sees the torn log: {}", describe(&verify));
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(said.contains("corrupt_record") || said.contains("torn_tail"), "{said}");
}

#[test]
fn a_size_range_upside_down_is_bad_usage() {
    let out = harness(&["--transport", "inproc", "--message-bytes", "140..60", "--messages", "8"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}
