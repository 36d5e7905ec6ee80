//! The data dir belongs to one process at a time, and holds nothing but topics: tried on the
//! `broker` and `harness` binaries from outside. A second broker (or a harness) on a data dir a
//! broker has open is refused at start, before it serves or writes anything, and the first
//! broker carries on; a data dir holding a directory that is no topic (someone else's files)
//! is refused and nothing is written into it.

mod common;

use common::broker_process::BrokerProcess;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use synclog::client::Client;

/// Runs `program` with `args` to its end (at most 60 s) with no input.
fn run_to_end(program: &str, args: &[&str]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{program} {args:?} did not end within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn a_second_process_on_a_data_dir_in_use_is_refused_and_the_first_carries_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8");
    let broker = BrokerProcess::start(&["--data-dir", data], &dir.path().join("broker.stderr"));
    let mut client = Client::connect(broker.addr).expect("connect");
    assert_eq!(client.produce("orders", [&b"first"[..]]).expect("produce"), 0);

    let second = run_to_end(env!("CARGO_BIN_EXE_broker"), &["--listen", "127.0.0.1:0", "--data-dir", data]);
    let said = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "a second broker on the data dir: {said}");
    assert!(said.contains("in use by another synclog process"), "{said}");
    assert!(second.stdout.is_empty(), "it never listened: {:?}", String::from_utf8_lossy(&second.stdout));

    let args = ["--data-dir", data, "--producers", "1", "--consumers", "0", "--messages", "10"];
    let harness = run_to_end(env!("CARGO_BIN_EXE_harness"), &args);
    let said = String::from_utf8_lossy(&harness.stderr);
    assert_ne!(harness.status.code(), Some(0), "a harness on the data dir: {said}");
    assert!(said.contains("in use by another synclog process"), "{said}");

    // The first broker was never disturbed: its topic holds its one record, and it appends on.
    assert_eq!(client.produce("orders", [&b"second"[..]]).expect("produce"), 1);
    assert_eq!(client.list_topics().expect("list"), [("orders".to_string(), 2)]);
    // Once it is gone, the data dir is free for the next one.
    drop(client);
    assert!(broker.terminate().success());
    let broker = BrokerProcess::start(&["--data-dir", data], &dir.path().join("broker.stderr"));
    let mut client = Client::connect(broker.addr).expect("connect");
    assert_eq!(client.list_topics().expect("list"), [("orders".to_string(), 2)]);
}

#[test]
fn a_data_dir_holding_a_directory_that_is_no_topic_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("home");
    std::fs::create_dir_all(data.join("project/src")).expect("mkdir");
    std::fs::write(data.join("project/notes.txt"), b"mine").expect("write");
    let out = run_to_end(
        env!("CARGO_BIN_EXE_broker"),
        &["--listen", "127.0.0.1:0", "--data-dir", data.to_str().expect("utf-8")],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("is not a topic directory"), "{said}");
    let mut left: Vec<_> =
        std::fs::read_dir(data.join("project")).expect("ls").map(|e| e.expect("entry").file_name()).collect();
    left.sort();
    assert_eq!(left, ["notes.txt", "src"], "nothing was written into it");
}
