//! The `harness` binary as a user runs it: flags, exit codes, the `--json` object of docs/cli.md,
//! a run against a separately started `broker`, and the classroom demo followed by
//! `synclog verify`.
//!
//! Exit codes (docs/cli.md): 0 success and clean, 3 integrity violated, 1 any other
//! error, 2 bad usage. Every child process is waited for with a deadline and killed by a guard
//! when a test fails or times out, so no run outlives its test; networking stays on 127.0.0.1.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");
const BROKER: &str = env!("CARGO_BIN_EXE_broker");
const SYNCLOG: &str = env!("CARGO_BIN_EXE_synclog");

/// How long one small run may take before the test gives up on it (generous: two shared cores).
const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// The 35 kinds of docs/violations.md, as the JSON names them: sections A and B (the files) first.
const FILE_KINDS: [&str; 16] = [
    "torn_tail",
    "corrupt_record",
    "offset_duplicate",
    "offset_gap",
    "offset_regression",
    "bad_base",
    "payload_checksum",
    "duplicate_value",
    "unknown_value",
    "index_size",
    "index_nonmonotonic",
    "index_dangling",
    "index_wrong_target",
    "index_missing",
    "index_extra",
    "index_stale",
];
const OBSERVED_KINDS: [&str; 19] = [
    "lost",
    "lost_write",
    "unexpected",
    "foreign_record",
    "duplicated",
    "recovered",
    "aborted_read",
    "inconsistent_offsets",
    "corrupt_read",
    "ack_offset_mismatch",
    "ack_offset_collision",
    "nonmonotonic_send",
    "poll_skip",
    "nonmonotonic_poll",
    "int_poll_skip",
    "int_nonmonotonic_poll",
    "unseen",
    "read_beyond_hw",
    "hw_regression",
];

/// The figures of `produce` and `consume` in the `--json` object.
const FIGURES: [&str; 10] = [
    "msgs_per_s",
    "mb_per_s",
    "p50_us",
    "p99_us",
    "p999_us",
    "max_us",
    "fsyncs_per_s",
    "msgs_per_fsync",
    "fsync_mean_us",
    "gather_mean_us",
];

/// A child process that is killed and reaped when dropped, whatever the test did.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Already exited: kill fails harmlessly; either way wait reaps it.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished process left.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn describe(&self) -> String {
        format!("exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Reads a pipe to its end on a thread of its own, so a chatty child never blocks on a full pipe.
fn collect(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Runs `program args` to its end, or panics (killing it) after `deadline`.
fn run_with_deadline(program: &str, args: &[&str], deadline: Duration) -> Finished {
    let mut child = KillOnDrop(
        Command::new(program)
            .args(args)
            // The progress bar is decided by the terminal test, not by whether CI is set.
            .env_remove("CI")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}")),
    );
    let stdout = collect(child.0.stdout.take().expect("piped stdout"));
    let stderr = collect(child.0.stderr.take().expect("piped stderr"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(started.elapsed() < deadline, "{program} {args:?} still running after {deadline:?}; killed");
        thread::sleep(Duration::from_millis(20));
    };
    let text =
        |h: thread::JoinHandle<Vec<u8>>| String::from_utf8_lossy(&h.join().expect("reader")).into_owned();
    Finished { code: status.code(), stdout: text(stdout), stderr: text(stderr) }
}

fn harness(args: &[&str]) -> Finished {
    run_with_deadline(HARNESS, args, RUN_DEADLINE)
}

/// Runs the harness with `args` and `--json` into a temporary file, asserts it exited 0, and
/// returns its output and the parsed report.
fn harness_json(args: &[&str]) -> (Finished, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("run.json");
    let mut all = args.to_vec();
    all.extend(["--json", json.to_str().expect("UTF-8 temp path")]);
    let out = harness(&all);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let report = read_json(&json);
    (out, report)
}

/// Reads and parses the `--json` file.
fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no {}: {e}", path.display()));
    // from_str accepts exactly one value (surrounding whitespace aside): one object per file.
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not one JSON value ({e}):\n{text}"));
    assert!(v.is_object(), "the report is an object:\n{text}");
    v
}

fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or_else(|| panic!("no field {key:?} in {v}"))
}

fn number(v: &Value, key: &str) -> f64 {
    field(v, key).as_f64().unwrap_or_else(|| panic!("{key:?} is not a number: {}", field(v, key)))
}

fn string<'a>(v: &'a Value, key: &str) -> &'a str {
    field(v, key).as_str().unwrap_or_else(|| panic!("{key:?} is not a string: {}", field(v, key)))
}

/// Asserts a figures object (`produce` or `consume`): every figure present, latencies ordered.
/// `fsyncs` says whether the fsync figures must be numbers (an embedded producer) or may be null.
fn assert_figures(f: &Value, side: &str, fsyncs: bool) {
    assert!(f.is_object(), "{side} is an object: {f}");
    for key in &FIGURES[..6] {
        assert!(number(f, key) >= 0.0, "{side}.{key}");
    }
    assert!(number(f, "msgs_per_s") > 0.0, "{side}.msgs_per_s");
    assert!(number(f, "p50_us") <= number(f, "p99_us"), "{side}: p50 ≤ p99");
    assert!(number(f, "p99_us") <= number(f, "p999_us"), "{side}: p99 ≤ p99.9");
    assert!(number(f, "p999_us") <= number(f, "max_us"), "{side}: p99.9 ≤ max");
    for key in &FIGURES[6..] {
        let v = field(f, key);
        assert!(v.is_number() || v.is_null(), "{side}.{key} is a number or null: {v}");
    }
    if fsyncs {
        number(f, "fsyncs_per_s");
    }
}

#[test]
fn a_clean_run_writes_every_design_field_to_json() {
    let (out, r) =
        harness_json(&["--strategy", "rwlock", "--producers", "4", "--consumers", "2", "--messages", "4000"]);
    assert!(out.stdout.contains("verdict: clean"), "{}", out.describe());

    assert_eq!(string(&r, "strategy"), "rwlock");
    for (key, expected) in [
        ("producers", 4.0),
        ("consumers", 2.0),
        ("messages", 4000.0),
        ("message_bytes", 100.0),
        ("batch", 1.0),
        ("in_flight", 1.0),
        ("topics", 1.0),
        ("fsync_interval_ms", 1000.0),
        ("race_window_us", 0.0),
        ("seed", 1.0),
    ] {
        assert_eq!(number(&r, key), expected, "{key}");
    }
    assert_eq!(string(&r, "transport"), "tcp");
    assert_eq!(string(&r, "fsync"), "never");
    assert!(number(&r, "duration_s") > 0.0);
    let machine = field(&r, "machine");
    assert!(number(machine, "cpus") >= 1.0);
    assert!(!string(machine, "kernel").is_empty());
    assert!(!string(machine, "data_dir_fs").is_empty());
    assert!(!string(&r, "version").is_empty());
    let phases = field(&r, "phases");
    for key in ["prepare_s", "load_s", "drain_s", "verify_s", "check_s"] {
        assert!(number(phases, key) >= 0.0, "phases.{key}");
    }
    assert!(number(phases, "load_s") > 0.0);
    assert!(number(phases, "prepare_s") > 0.0, "the payloads were encoded before the load");

    assert_figures(field(&r, "produce"), "produce", true);
    assert_figures(field(&r, "consume"), "consume", false);

    let violations = field(&r, "violations").as_object().expect("violations is an object");
    assert_eq!(violations.len(), 35, "every kind, no more: {violations:?}");
    for kind in FILE_KINDS.iter().chain(&OBSERVED_KINDS) {
        let n = violations.get(*kind).unwrap_or_else(|| panic!("no violations.{kind}"));
        assert_eq!(n.as_u64(), Some(0), "violations.{kind} is the number 0: {n}");
    }
    assert!(field(&r, "examples").is_object());
    assert_eq!(string(&r, "verdict"), "clean");
}

#[test]
fn no_consumers_writes_consume_null() {
    let (_, r) = harness_json(&["--producers", "2", "--consumers", "0", "--messages", "2000"]);
    assert_eq!(field(&r, "consume"), &Value::Null, "consume is null with no consumers");
    assert_figures(field(&r, "produce"), "produce", true);
    // `--fsync never`: nothing synced, so no time per sync either.
    assert_eq!(field(field(&r, "produce"), "fsync_mean_us"), &Value::Null);
    let violations = field(&r, "violations");
    for kind in ["lost_write", "poll_skip", "nonmonotonic_poll", "unseen", "read_beyond_hw", "hw_regression"]
    {
        assert_eq!(violations[kind].as_u64(), Some(0), "{kind}");
    }
}

#[test]
fn an_fsync_always_run_says_where_each_sync_went() {
    let (out, r) = harness_json(&[
        "--producers",
        "2",
        "--consumers",
        "0",
        "--messages",
        "400",
        "--fsync",
        "always",
        "--fsync-interval-ms",
        "7",
    ]);
    assert_eq!(number(&r, "fsync_interval_ms"), 7.0, "the interval given");
    assert!(
        out.stdout.contains("in fdatasync") && out.stdout.contains("gathering before it"),
        "{}",
        out.describe()
    );
    let produce = field(&r, "produce").clone();
    assert_figures(&produce, "produce", true);
    assert!(number(&produce, "fsyncs_per_s") > 0.0);
    // Every acknowledgement waited for a sync that covered it, and no sync can cover more than
    // the two producers' one request in flight each.
    let per_sync = number(&produce, "msgs_per_fsync");
    assert!((1.0..=2.0).contains(&per_sync), "{per_sync} messages per fsync");
    assert!(number(&produce, "fsync_mean_us") > 0.0, "a sync takes time");
    assert!(number(&produce, "gather_mean_us") >= 0.0);
}

/// A `broker` process on 127.0.0.1 with an ephemeral port, killed on drop.
struct BrokerProcess {
    _child: KillOnDrop,
    addr: String,
}

impl BrokerProcess {
    fn start(data_dir: &Path) -> BrokerProcess {
        BrokerProcess::start_with(data_dir, &[])
    }

    /// A broker with `extra` flags besides its address, strategy and data dir.
    fn start_with(data_dir: &Path, extra: &[&str]) -> BrokerProcess {
        let mut child = KillOnDrop(
            Command::new(BROKER)
                .args(["--listen", "127.0.0.1:0", "--strategy", "rwlock", "--data-dir"])
                .arg(data_dir)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start broker"),
        );
        // Read stdout on a thread so the wait for the first line can be bounded.
        let stdout = child.0.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep draining until the broker exits, so it never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(Ok(line))) => line,
            other => panic!("the broker printed no `listening on` line: {other:?}"),
        };
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        assert!(addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"), "a real port: {addr}");
        BrokerProcess { _child: child, addr }
    }
}

#[test]
fn a_run_against_a_separate_broker_does_not_check_the_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = BrokerProcess::start(&dir.path().join("broker-data"));
    let (out, r) = harness_json(&[
        "--broker",
        &broker.addr,
        "--producers",
        "4",
        "--consumers",
        "2",
        "--messages",
        "4000",
    ]);
    assert!(out.stdout.contains("not checked"), "stdout says the files were not checked:\n{}", out.stdout);
    let violations = field(&r, "violations");
    for kind in FILE_KINDS {
        assert_eq!(violations[kind], Value::Null, "{kind} cannot be checked through --broker");
    }
    for kind in OBSERVED_KINDS {
        assert_eq!(violations[kind].as_u64(), Some(0), "{kind} is checked through --broker");
    }
    assert_eq!(string(&r, "verdict"), "clean");
    // The broker's syncs are not visible from here: the figure is null, not 0.
    assert_figures(field(&r, "produce"), "produce", false);
    assert_eq!(field(field(&r, "produce"), "fsyncs_per_s"), &Value::Null);
    assert!(field(&r, "consume").is_object());
    // The broker syncs, pauses and appends as it was started: the report claims none of it.
    for key in ["fsync", "fsync_interval_ms", "race_window_us", "append"] {
        assert_eq!(field(&r, key), &Value::Null, "{key} is the remote broker's, unknown here");
    }
    let header = out.stdout.lines().next().unwrap_or_default();
    assert!(
        !header.contains("fsync never") && header.contains("as the remote system was started"),
        "the header claims no fsync mode: {header:?}"
    );
}

#[test]
fn the_forced_race_under_none_exits_3_corrupted() {
    let out = harness(&[
        "--strategy",
        "none",
        "--producers",
        "8",
        "--messages",
        "8000",
        "--force-race",
        "--transport",
        "inproc",
    ]);
    assert_eq!(out.code, Some(3), "{}", out.describe());
    assert!(out.stdout.contains("verdict: corrupted"), "{}", out.describe());
    assert!(out.stdout.contains("ack_offset_collision"), "{}", out.describe());
}

#[test]
fn a_forced_race_is_named_in_the_header_and_the_json_and_compare_refuses_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("run.json");
    let json_arg = json.to_str().expect("utf-8 path");
    let out = harness(&[
        "--strategy",
        "mutex",
        "--producers",
        "2",
        "--messages",
        "200",
        "--consumers",
        "0",
        "--force-race",
        "--transport",
        "inproc",
        "--json",
        json_arg,
    ]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("forced race"), "{}", out.describe());
    let value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json written")).expect("json");
    assert_eq!(value["force_race"], serde_json::Value::Bool(true), "{value}");
    let out = harness(&["compare", "--force-race", "--out", dir.path().to_str().expect("utf-8")]);
    assert_eq!(out.code, Some(2), "{}", out.describe());
    assert!(out.stderr.contains("--force-race"), "{}", out.describe());
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        &["--strategy", "rw-lock"][..],
        &["--producers", "x"],
        &["--transport", "udp"],
        &["--no-such-flag"],
        &["run", "--strategy"],
        &["compare", "--peers"],
    ] {
        let out = harness(args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.describe());
        assert!(!out.stderr.trim().is_empty(), "{args:?}: clap says what was wrong");
    }
}

#[test]
fn flags_that_contradict_exit_2_with_one_line() {
    for (args, flag) in [
        (&["--messages", "7", "--producers", "2"][..], "--messages"),
        (&["--message-bytes", "19", "--messages", "800"], "--message-bytes"),
        (&["--topics", "3", "--producers", "2", "--messages", "800"], "--topics"),
        (&["--batch", "65537", "--message-bytes", "20", "--messages", "800"], "--batch"),
        (&["--force-race", "--broker", "127.0.0.1:9", "--messages", "800"], "--force-race"),
    ] {
        let out = harness(args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.describe());
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line on stderr, got {lines:?}");
        assert!(lines[0].contains(flag), "{args:?}: the line names {flag}: {:?}", lines[0]);
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout: {:?}", out.stdout);
    }
}

#[test]
fn compare_and_lab_refuse_repeated_values_and_bounds_below_their_minimum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("out");
    let out_dir = out_dir.to_str().expect("utf-8");
    for (args, says) in [
        (
            &["compare", "--strategies", "rwlock,rwlock", "--out", out_dir][..],
            "--strategies names rwlock twice",
        ),
        (&["compare", "--producers", "1,1", "--out", out_dir], "--producers names 1 twice"),
        (&["compare", "--consumers", "0,2,0", "--out", out_dir], "--consumers names 0 twice"),
        (
            &["compare", "--broker", "127.0.0.1:9", "--strategies", "none,rwlock", "--out", out_dir],
            "one --strategies value",
        ),
        (&["compare", "--ceiling-ms", "0", "--out", out_dir], "--ceiling-ms"),
        (&["compare", "--p99-bound-ms", "0", "--rates", "1000", "--out", out_dir], "--p99-bound-ms"),
        (&["lab", "--cell-ms", "0", "--out", out_dir], "--cell-ms"),
        (
            &["lab", "--strategies", "rwlock,mutex,rwlock", "--out", out_dir],
            "--strategies names rwlock twice",
        ),
        (&["lab", "--threads", "2,1,2", "--out", out_dir], "--threads names 2 twice"),
        (&["lab", "--read-share", "50,50", "--out", out_dir], "--read-share names 50 twice"),
        (&["lab", "--read-records", "1,8,8", "--out", out_dir], "--read-records names 8 twice"),
        (&["lab", "--threads", "257", "--out", out_dir], "--threads takes counts from 1 to 256"),
    ] {
        let out = harness(args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.describe());
        assert!(out.stderr.contains(says), "{args:?}: stderr says {says:?}: {}", out.describe());
        assert!(!Path::new(out_dir).exists(), "{args:?}: refused before anything ran");
    }
}

#[test]
fn a_piped_run_prints_no_progress_bar() {
    let out = harness(&["--producers", "2", "--consumers", "1", "--messages", "4000"]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!text.contains('\r'), "a carriage return on {name}: {text:?}");
        assert!(!text.contains('\u{1b}'), "an escape sequence on {name}: {text:?}");
    }
    assert!(out.stdout.contains("verdict: clean"), "{}", out.describe());
}

/// The file kinds (sections A and B) in the demo's act 1 table. Lock columns are 0 in a demo
/// that came out as taught, so a row there is damage the `none` run left on disk. `torn_tail`
/// is left out: `synclog verify` counts it as informational.
fn file_damage_in_act_1(demo_stdout: &str) -> Vec<&str> {
    let act_1 = demo_stdout.split("ACT 2").next().unwrap_or_default();
    act_1
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|&kind| kind != "torn_tail" && FILE_KINDS.contains(&kind))
        .collect()
}

/// A duration as the demo prints it (`30 ns`, `15 µs`, `8.2 ms`, `1.05 s`), in nanoseconds.
fn printed_ns(value: &str, unit: &str) -> Option<f64> {
    let v: f64 = value.parse().ok()?;
    let scale = match unit {
        "ns" => 1.0,
        "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    Some(v * scale)
}

/// Act 3's table rows: (append mode, hold p50 ns, hold p99 ns, produce msg/s, verdict).
fn act_3_rows(demo_stdout: &str) -> Vec<(String, f64, f64, f64, String)> {
    let act_3 = demo_stdout.split("ACT 3").nth(1).unwrap_or_default();
    act_3
        .lines()
        .filter_map(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            if t.len() < 8 || !["whole", "reserve"].contains(&t[0]) {
                return None;
            }
            let (p50, p99) = (printed_ns(t[1], t[2])?, printed_ns(t[3], t[4])?);
            // t[5] is the waiting share; the rate is printed in groups of three digits.
            let rate: f64 = t[6..t.len() - 1].concat().parse().ok()?;
            Some((t[0].to_string(), p50, p99, rate, t[t.len() - 1].to_string()))
        })
        .collect()
}

/// Demo attempts at most: see the test below.
const DEMO_ATTEMPTS: usize = 4;

/// The error kinds `synclog verify` lists under the topic of the `none` run.
fn kinds_verify_names_for_none(verify_stdout: &str) -> Vec<&str> {
    // Every topic a `none` run wrote (the demo has more than one; verify lists them in name
    // order, so the damaged one need not come first), each topic's kinds indented under it.
    let mut kinds = Vec::new();
    let mut under_none = false;
    for line in verify_stdout.lines() {
        if !line.starts_with("  ") {
            under_none = line.contains("(a harness run under none)");
        } else if under_none {
            let kind = line.split_whitespace().next().unwrap_or_default();
            if kind != "torn_tail" && FILE_KINDS.contains(&kind) && !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    kinds
}

#[test]
fn the_demo_comes_out_as_taught_and_verify_sees_the_damage() {
    // The demo races `none` for real (no forced interleaving: that is its point), and whether
    // the race also damages the *files* is up to the race. Two appends that collide at one
    // position with payloads of one length leave a consistent log: the loss then shows only in
    // what producers saw (lost, ack_offset_collision), and verify rightly finds the files clean;
    // the demo then says so instead of pointing at verify. Index races, which verify does see,
    // come in most runs but not all (about 1 in 8 here). So each attempt checks that verify
    // agrees with the demo's own report of file damage, and the test plays the demo again (at
    // most DEMO_ATTEMPTS times) until one left damage on disk, where verify must exit 3, name
    // the damage under the none topic, and find every lock's topic clean. No attempt with
    // damage on disk fails the test: verify was never shown to see any.
    let dir = tempfile::tempdir().expect("temp dir");
    for attempt in 0..DEMO_ATTEMPTS {
        let data = dir.path().join(format!("demo-{attempt}"));
        let data_arg = data.to_str().expect("UTF-8 temp path");
        let out = run_with_deadline(HARNESS, &["demo", "--data-dir", data_arg], Duration::from_secs(300));
        assert_eq!(out.code, Some(0), "{}", out.describe());
        for needle in ["ACT 1", "ACT 2", "ACT 3", "Under reserve the lock was", "result: as taught"] {
            assert!(out.stdout.contains(needle), "no {needle:?} in the demo:\n{}", out.stdout);
        }
        // Act 3: both append modes clean, with hold times from the lock statistics and a rate.
        // Which hold is shorter is measured, not asserted (one preempted reservation can stretch
        // a short section); the prose the demo chose from the figures is checked in demo.rs.
        let rows = act_3_rows(&out.stdout);
        let modes: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(modes, ["whole", "reserve"], "act 3's rows:\n{}", out.stdout);
        for (mode, p50, p99, rate, verdict) in &rows {
            assert_eq!(verdict, "clean", "{mode}:\n{}", out.stdout);
            assert!(*p50 > 0.0 && p99 >= p50 && *rate > 0.0, "{mode}: {p50} {p99} {rate}:\n{}", out.stdout);
        }
        let on_disk = file_damage_in_act_1(&out.stdout);

        let verify = run_with_deadline(SYNCLOG, &["verify", "--data-dir", data_arg], RUN_DEADLINE);
        let raced: Vec<&str> =
            verify.stdout.lines().filter(|l| l.contains("(a harness run under none)")).collect();
        assert!(!raced.is_empty(), "verify names no topic of the none run:\n{}", verify.stdout);
        // The locks' topics are there too, and clean.
        for lock in ["mutex", "semaphore", "rwlock"] {
            let line = format!("(a harness run under {lock})");
            let lines: Vec<&str> = verify.stdout.lines().filter(|l| l.contains(&line)).collect();
            assert!(
                !lines.is_empty() && lines.iter().all(|l| l.ends_with(": clean")),
                "{lock}:\n{}",
                verify.stdout
            );
        }
        if on_disk.is_empty() {
            assert!(out.stdout.contains("the files stayed well-formed"), "{}", out.stdout);
            assert_eq!(
                verify.code,
                Some(0),
                "the demo saw no file damage, verify should agree:\n{}\n{}",
                out.stdout,
                verify.describe()
            );
            continue;
        }
        assert!(out.stdout.contains("see the damage on disk: synclog verify"), "{}", out.stdout);
        assert_eq!(
            verify.code,
            Some(3),
            "the demo saw {on_disk:?} on disk:\n{}\n{}",
            out.stdout,
            verify.describe()
        );
        assert!(raced.iter().any(|l| l.contains("CORRUPTED")), "{raced:?}");
        let named = kinds_verify_names_for_none(&verify.stdout);
        assert!(!named.is_empty(), "verify names no error kind under the none topic:\n{}", verify.stdout);
        for kind in on_disk {
            assert!(named.contains(&kind), "verify does not report {kind} under none:\n{}", verify.stdout);
        }
        return;
    }
    panic!("{DEMO_ATTEMPTS} demos in a row left the none topic's files intact: verify was never shown to see damage");
}

#[test]
fn compare_writes_results_charts_and_a_summary_beside_the_ceilings() {
    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().join("cmp");
    let out = out_path.to_str().unwrap();
    let args = [
        "compare",
        "--strategies",
        "none,rwlock",
        "--producers",
        "1,2",
        "--consumers",
        "0,1",
        "--messages",
        "2000",
        "--ceiling-ms",
        "50",
        "--out",
        out,
    ];
    let finished = harness(&args);
    // `none`'s violations are data: the matrix ran, so 0 unless a lock was violated.
    assert_eq!(finished.code, Some(0), "{}", finished.describe());

    let json = read_json(&out_path.join("results.json"));
    let cells = json["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 2 * 2 * 2, "strategies × producers × consumers");
    for cell in cells {
        let produce = number(&cell["produce"], "msgs_per_s");
        assert!(produce > 0.0, "{cell}");
        let loopback = number(&cell["ceilings"], "loopback_msgs_per_s");
        assert!(loopback > 0.0, "a ceiling measured in the same run: {cell}");
        let ratio = number(cell, "produce_ratio");
        assert!((ratio - produce / loopback).abs() < 1e-6 * ratio.max(1.0), "{cell}");
        if string(cell, "strategy") == "rwlock" {
            assert_eq!(string(cell, "verdict"), "clean", "{cell}");
        }
    }
    assert_eq!(json["goals"].as_array().map(Vec::len), Some(0), "no --goals, no goal rows");

    let csv = std::fs::read_to_string(out_path.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + cells.len(), "a header and one row per cell");
    let summary = std::fs::read_to_string(out_path.join("summary.md")).unwrap();
    for heading in ["## Ceilings measured in this run", "## The matrix", "## Integrity", "## Charts"] {
        assert!(summary.contains(heading), "summary.md lacks {heading}");
    }
    for chart in ["throughput", "consume_throughput", "latency", "violations"] {
        let png = std::fs::read(out_path.join(format!("{chart}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{chart}.png is a drawn PNG");
        let svg = std::fs::read_to_string(out_path.join(format!("{chart}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<text"), "{chart}.svg has text");
        assert!(summary.contains(&format!("({chart}.png)")), "summary.md shows {chart}");
    }
    assert!(!out_path.join("peers.png").exists(), "no peers chart without --peers");
}

#[test]
fn compare_refuses_contradicting_flags_before_its_first_cell_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("out");
    let out = harness(&[
        "compare",
        "--strategies",
        "rwlock",
        "--producers",
        "2",
        "--batch",
        "65537",
        "--message-bytes",
        "20",
        "--out",
        out_dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.code, Some(2), "{}", out.describe());
    assert!(out.stderr.contains("--batch"), "{}", out.describe());
    assert!(!out.stderr.contains("cell:"), "no cell ran: {}", out.describe());
    assert!(!out_dir.join("results.csv").exists());
}

#[test]
fn a_run_whose_sends_were_refused_counts_only_acknowledged_messages_and_exits_1() {
    // A broker that serves 2 connections: of 4 producers (connected in turn before the load),
    // the last two are refused, so their messages are never acknowledged.
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = BrokerProcess::start_with(&dir.path().join("broker-data"), &["--max-connections", "2"]);
    let json = dir.path().join("run.json");
    let out = harness(&[
        "--broker",
        &broker.addr,
        "--producers",
        "4",
        "--consumers",
        "0",
        "--messages",
        "400",
        "--json",
        json.to_str().expect("UTF-8 temp path"),
    ]);
    // Not an integrity violation (3), not a success (0): the load did not complete.
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(out.stdout.contains("200 acknowledged"), "{}", out.describe());
    assert!(
        out.stdout.contains("incomplete: 200 of 400 messages were not acknowledged"),
        "{}",
        out.describe()
    );
    assert!(out.stdout.contains("the rates above count acknowledged messages only"), "{}", out.describe());
    assert!(
        out.stdout.contains("verdict: incomplete (no violation found, but 200 of 400 messages"),
        "{}",
        out.describe()
    );
    assert!(!out.stdout.contains("verdict: clean"), "{}", out.describe());
    // The note names the first error: what the refused producer was told.
    let note = out.stdout.lines().find(|l| l.contains("note:") && l.contains("requests failed"));
    let note = note.unwrap_or_else(|| panic!("no note on the failed requests:\n{}", out.describe()));
    assert!(note.contains("the first error: producer "), "{note}");
    assert!(note.contains("maximum of 2 connections"), "the broker's own words: {note}");

    let r = read_json(&json);
    assert_eq!(string(&r, "verdict"), "clean", "the JSON verdict is integrity's");
    let u = field(&r, "unacknowledged");
    assert_eq!(number(u, "messages"), 200.0, "{u}");
    assert_eq!(number(u, "messages_failed") + number(u, "messages_unanswered"), 200.0, "{u}");
    assert!(string(u, "first_error").contains("maximum of 2 connections"), "{u}");
    // The refused producers acknowledged nothing: their rates are 0, not the speed of failing.
    let producers = field(field(&r, "fairness"), "producers");
    let rates: Vec<f64> = field(producers, "per_actor")
        .as_array()
        .expect("per_actor")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(rates.len(), 4, "{producers}");
    assert_eq!(
        rates.iter().filter(|&&x| x == 0.0).count(),
        2,
        "two producers got nothing acknowledged: {rates:?}"
    );
    assert_eq!(number(producers, "min"), 0.0);
    assert!(number(field(&r, "produce"), "msgs_per_s") > 0.0);
}

#[test]
fn a_comparison_with_a_cell_whose_sends_were_refused_writes_its_files_and_exits_1() {
    // As above: a broker serving 2 connections refuses 2 of the cell's 4 producers.
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = BrokerProcess::start_with(&dir.path().join("broker-data"), &["--max-connections", "2"]);
    let out_dir = dir.path().join("out");
    let out = harness(&[
        "compare",
        "--broker",
        &broker.addr,
        "--strategies",
        "rwlock",
        "--producers",
        "4",
        "--consumers",
        "0",
        "--messages",
        "400",
        "--ceiling-ms",
        "10",
        "--out",
        out_dir.to_str().expect("UTF-8 temp path"),
    ]);
    // Clean but incomplete: not 0, not 3.
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(out.stderr.contains("were not all acknowledged"), "{}", out.describe());
    let r = read_json(&out_dir.join("results.json"));
    let cell = &r["cells"][0];
    assert_eq!(string(cell, "verdict"), "clean", "{cell}");
    assert_eq!(number(field(cell, "unacknowledged"), "messages"), 200.0, "{cell}");
    assert!(out_dir.join("summary.md").exists(), "the files are written all the same");
}

/// Runs the harness where it should refuse at once: a short deadline, so a refusal that has
/// become a run fails quickly.
fn refused(args: &[&str]) -> Finished {
    run_with_deadline(HARNESS, args, Duration::from_secs(30))
}

/// Asserts `out` exited `code` with one stderr line naming each of `names`, and nothing ran.
fn assert_one_line(out: &Finished, code: i32, names: &[&str]) {
    assert_eq!(out.code, Some(code), "{}", out.describe());
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {}", out.describe());
    for name in names {
        assert!(lines[0].contains(name), "the line names {name}: {}", out.describe());
    }
    assert!(out.stdout.is_empty(), "nothing ran: {}", out.describe());
}

#[test]
fn compare_refuses_zero_producers_and_messages_its_producers_do_not_divide() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("out");
    let out_arg = out_dir.to_str().expect("utf-8");
    let quick = ["--strategies", "rwlock", "--ceiling-ms", "10", "--consumers", "0", "--out", out_arg];
    for (extra, flag) in [
        (&["--producers", "0", "--messages", "100"][..], "--producers"),
        (&["--producers", "1,0", "--messages", "100"], "--producers"),
        (&["--producers", "2", "--messages", "0"], "--messages"),
        (&["--producers", "3", "--messages", "100"], "--messages"),
        (&["--producers", "1,2,4", "--messages", "6"], "--messages"),
    ] {
        let mut args = vec!["compare"];
        args.extend(quick);
        args.extend(extra);
        let out = refused(&args);
        assert_one_line(&out, 2, &[flag]);
        assert!(!out_dir.join("results.csv").exists(), "{args:?}: no cell ran");
    }
}

#[test]
fn rates_and_race_windows_past_their_bounds_and_a_malformed_broker_exit_2() {
    for (args, flag) in [
        (&["--rate", "1e20", "--messages", "8"][..], "--rate"),
        (&["--rate", "0.5", "--messages", "8"], "--rate"),
        (&["--race-window-us", "99999999999", "--messages", "8"], "--race-window-us"),
        (&["--broker", "bad", "--messages", "8"], "--broker"),
        (&["--broker", "127.0.0.1:99999", "--messages", "8"], "--broker"),
        (&["compare", "--rates", "1000,1e20", "--out", "/nonexistent/never-written"], "--rates"),
    ] {
        assert_one_line(&refused(args), 2, &[flag]);
    }
}

#[test]
fn compare_does_not_take_force_race_and_demo_refuses_both_lock_stats_flags() {
    let help = refused(&["compare", "--help"]);
    assert_eq!(help.code, Some(0), "{}", help.describe());
    assert!(!help.stdout.contains("--force-race"), "compare --help offers --force-race:\n{}", help.stdout);
    let run_help = refused(&["run", "--help"]);
    assert!(run_help.stdout.contains("--force-race"), "{}", run_help.describe());
    let out = refused(&["compare", "--force-race", "--out", "/nonexistent/never-written"]);
    assert_eq!(out.code, Some(2), "{}", out.describe());
    assert!(out.stderr.contains("--force-race"), "{}", out.describe());
    for args in [["demo", "--lock-stats", "--no-lock-stats"], ["demo", "--no-lock-stats", "--lock-stats"]] {
        let out = refused(&args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.describe());
        assert!(
            out.stderr.contains("--lock-stats") && out.stderr.contains("--no-lock-stats"),
            "{}",
            out.describe()
        );
        assert!(!out.stdout.contains("ACT 1"), "{args:?}: the demo did not start: {}", out.describe());
    }
}

#[test]
fn an_output_path_that_cannot_be_written_is_named_before_anything_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A regular file: nothing can be created under it, and it is no directory.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let file_arg = file.to_str().expect("utf-8");
    let under = file.join("sub");
    let under_arg = under.to_str().expect("utf-8");
    let json = dir.path().join("no-such-dir").join("r.json");
    let json_arg = json.to_str().expect("utf-8");
    let small = ["--producers", "2", "--consumers", "0", "--messages", "200"];
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        ([&small[..], &["--data-dir", under_arg]].concat(), "--data-dir", under_arg),
        ([&small[..], &["--report", under_arg]].concat(), "--report", under_arg),
        // A run that would corrupt (exit 3) is refused before its load, not after.
        (
            [
                &small[..],
                &["--strategy", "none", "--force-race", "--transport", "inproc", "--json", json_arg],
            ]
            .concat(),
            "--json",
            json_arg,
        ),
        (
            vec![
                "compare",
                "--strategies",
                "rwlock",
                "--producers",
                "1",
                "--messages",
                "10",
                "--out",
                file_arg,
            ],
            "--out",
            file_arg,
        ),
        (
            vec![
                "lab",
                "--strategies",
                "mutex",
                "--threads",
                "1",
                "--read-share",
                "0",
                "--read-records",
                "1",
                "--repeat",
                "1",
                "--cell-ms",
                "5",
                "--prefill",
                "10",
                "--out",
                under_arg,
            ],
            "--out",
            under_arg,
        ),
        (vec!["demo", "--report", under_arg], "--report", under_arg),
    ];
    for (args, flag, path) in cases {
        let out = refused(&args);
        assert_one_line(&out, 1, &[flag, path]);
        assert!(!out.stderr.contains("cell:"), "{args:?}: no cell ran: {}", out.describe());
    }
    assert!(!json.exists());
    assert_eq!(std::fs::read(&file).expect("read"), b"x", "the file is left as it was");
}

/// What a huge count, a huge window or a huge duration asks for, refused with exit 2 before
/// anything is allocated or started: each case's stderr names the flag and its bound.
#[test]
fn counts_and_durations_past_their_bounds_exit_2_before_anything_is_allocated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("out");
    let out = out_dir.to_str().expect("utf-8");
    let max = "18446744073709551615";
    let lab = |extra: &[&'static str]| -> Vec<String> {
        let mut args = vec!["lab", "--out", out];
        args.extend(extra);
        args.into_iter().map(String::from).collect()
    };
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        // Was "capacity overflow" in the history's per-message arrays.
        (
            ["--messages", max, "--producers", "1", "--consumers", "0"].map(String::from).to_vec(),
            "--messages",
            "200 000 000",
        ),
        (
            ["--messages", "200000001", "--producers", "1"].map(String::from).to_vec(),
            "--messages",
            "200 000 000",
        ),
        (
            ["compare", "--messages", "400000000", "--producers", "1", "--out", out]
                .map(String::from)
                .to_vec(),
            "--messages",
            "200 000 000",
        ),
        // Was "memory allocation of 1600000000 bytes failed" for the in-flight window.
        (
            ["--messages", "80", "--producers", "2", "--consumers", "0", "--in-flight", "100000000"]
                .map(String::from)
                .to_vec(),
            "--in-flight",
            "65536",
        ),
        (["--in-flight", "65537", "--messages", "80"].map(String::from).to_vec(), "--in-flight", "65536"),
        (["--producers", "1025", "--messages", "1025"].map(String::from).to_vec(), "--producers", "1024"),
        (["--consumers", "1025", "--messages", "80"].map(String::from).to_vec(), "--consumers", "1024"),
        // Was accepted, and never finished.
        (["compare", "--ceiling-ms", max, "--out", out].map(String::from).to_vec(), "--ceiling-ms", "60000"),
        (
            ["compare", "--ceiling-ms", "60001", "--out", out].map(String::from).to_vec(),
            "--ceiling-ms",
            "60000",
        ),
        (lab(&["--cell-ms", "60001"]), "--cell-ms", "60000"),
        // Was accepted (4 GB written in 8 s, and on).
        (lab(&["--prefill", max]), "--prefill", "1000000"),
        (lab(&["--prefill", "1000001"]), "--prefill", "1000000"),
        (lab(&["--prefill", "1000000", "--message-bytes", "2000"]), "--prefill", "1 GiB"),
        (lab(&["--read-records", "20000", "--message-bytes", "1000"]), "--read-records", "16 MiB"),
        (lab(&["--repeat", "4294967295"]), "--repeat", "100"),
        // Was taken as 1 ms; refused, as the broker refuses it.
        (
            ["--fsync-interval-ms", "0", "--messages", "80"].map(String::from).to_vec(),
            "--fsync-interval-ms",
            "1",
        ),
    ];
    for (args, flag, bound) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = refused(&args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.describe());
        assert!(
            out.stderr.contains(flag) && out.stderr.contains(bound),
            "{args:?}: stderr names {flag} and its bound {bound}: {}",
            out.describe()
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing ran: {}", out.describe());
        assert!(!out_dir.exists(), "{args:?}: refused before anything was written");
    }
    // The bound itself is no refusal: 200 000 000 messages fail only the split over 3 producers.
    let at_bound = refused(&["--messages", "200000000", "--producers", "3"]);
    assert_one_line(&at_bound, 2, &["--messages", "multiple of --producers"]);
}

/// With `--broker` or `--target` the embedded log's settings are refused when given at all, even
/// at their defaults: the remote system keeps its own, and the report would claim these.
#[test]
fn a_remote_run_refuses_the_embedded_brokers_settings() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_dir = tmp.path().join("d");
    let data_dir = data_dir.to_str().expect("utf-8");
    for (args, flag) in [
        // Was run, and reported as `append: null`.
        (&["--broker", "127.0.0.1:9", "--append", "whole"][..], "--append"),
        (&["--target", "kafka://127.0.0.1:9", "--append", "reserve"], "--append"),
        // Was made, empty, and the run went on without it.
        (&["--broker", "127.0.0.1:9", "--data-dir", data_dir], "--data-dir"),
        (&["--broker", "127.0.0.1:9", "--fsync", "always", "--race-window-us", "5"][..], "--fsync"),
        (&["--broker", "127.0.0.1:9", "--fsync", "never"], "--fsync"),
        (&["--broker", "127.0.0.1:9", "--fsync-interval-ms", "5"], "--fsync-interval-ms"),
        (&["--broker", "127.0.0.1:9", "--race-window-us", "0"], "--race-window-us"),
        (&["--target", "kafka://127.0.0.1:9", "--race-window-us", "5"], "--race-window-us"),
        (&["--target", "kafka://127.0.0.1:9", "--fsync", "interval"], "--fsync"),
        (
            &[
                "compare",
                "--broker",
                "127.0.0.1:9",
                "--strategies",
                "rwlock",
                "--fsync",
                "always",
                "--out",
                "/nonexistent/x",
            ],
            "--fsync",
        ),
    ] {
        assert_one_line(&refused(args), 2, &[flag, "--broker or --target"]);
    }
    assert!(!tmp.path().join("d").exists(), "a refused --data-dir is not made");
}

/// Starts the harness with `args` and `TMPDIR` in `tmp`, waits until its temporary directory
/// `prefix*` appears there, sends it SIG`signal` and waits for it to end; returns how it ended
/// and its stderr.
fn interrupted(tmp: &Path, args: &[&str], prefix: &str, signal: &str) -> (std::process::ExitStatus, String) {
    // Killed if a check below fails: no harness left loading the machine for the next tests.
    let mut child = KillOnDrop(
        Command::new(HARNESS)
            .args(args)
            .env("TMPDIR", tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the harness"),
    );
    let deadline = Instant::now() + RUN_DEADLINE;
    while scratch_dirs(tmp, prefix).is_empty() {
        assert!(Instant::now() < deadline, "no temporary {prefix}* dir appeared");
        thread::sleep(Duration::from_millis(20));
    }
    let pid = child.0.id().to_string();
    assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().expect("kill").success());
    while child.0.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the harness {args:?} did not end after SIG{signal}");
        thread::sleep(Duration::from_millis(20));
    }
    let status = child.0.wait().expect("status");
    let mut stderr = String::new();
    child.0.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    (status, stderr)
}

/// The entries of `tmp` whose name starts with `prefix`.
fn scratch_dirs(tmp: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(tmp)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn an_interrupted_run_or_compare_removes_its_temporary_data_and_ends_by_the_signal() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let out = out.to_str().expect("utf-8");
    // One message a second: the run is still loading when the signal comes. The compare is
    // measuring its first ceilings.
    let run = ["--messages", "40", "--producers", "1", "--consumers", "0", "--rate", "1"];
    let compare = [
        "compare",
        "--strategies",
        "rwlock",
        "--producers",
        "1",
        "--consumers",
        "0",
        "--messages",
        "80",
        "--out",
        out,
    ];
    for (args, prefix, signal, number) in [
        (&run[..], "synclog-harness-", "INT", 2),
        (&run[..], "synclog-harness-", "TERM", 15),
        (&compare[..], "synclog-compare-", "INT", 2),
    ] {
        let (status, stderr) = interrupted(tmp.path(), args, prefix, signal);
        // Ended by the signal itself, so a shell sees 128 + its number and a script stops.
        assert_eq!(status.signal(), Some(number), "{args:?} SIG{signal}: {status:?} {stderr}");
        // A run has one temporary directory; a compare, its scratch and, once a cell has
        // started (on a slow machine), that cell's data dir too.
        let removed = if prefix == "synclog-harness-" { "removed 1 temporary directory" } else { "removed " };
        assert!(stderr.contains(&format!("harness: interrupted; {removed}")), "{stderr}");
        for prefix in [prefix, "synclog-harness-"] {
            assert_eq!(scratch_dirs(tmp.path(), prefix), Vec::<String>::new(), "{args:?}: the data is gone");
        }
    }
}

/// A peer that accepts connections and never answers (a listener nobody accepts from): a run
/// against it as `--broker` (a topic listing) or `--target` (ApiVersions) stops before its load,
/// within 10 s, with exit 1 and a line saying the peer did not answer; it neither waits the 60 s
/// a busy broker's answers get on every request nor reports a load of failed sends.
#[test]
fn a_silent_peer_stops_a_remote_run_before_its_load() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let target = format!("kafka://{addr}");
    let runs = [
        (vec!["--broker".to_string(), addr.clone()], "no answer to a topic listing within 10 s"),
        (vec!["--target".to_string(), target], "no answer to ApiVersions within 10 s"),
    ]
    .map(|(args, expected)| {
        thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).chain(["--messages", "1000"]).collect();
            (run_with_deadline(HARNESS, &args, Duration::from_secs(40)), expected)
        })
    });
    for run in runs {
        let (finished, expected) = run.join().expect("a run's thread");
        assert_eq!(finished.code, Some(1), "{}", finished.describe());
        assert_eq!(finished.stdout, "", "no report: {}", finished.describe());
        assert!(finished.stderr.contains(expected), "{}", finished.describe());
    }
    drop(listener);
}
