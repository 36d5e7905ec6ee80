//! A request refused from its counts costs the broker one frame: the bytes it read, never what
//! decoding them would have built. Measured from outside, on the `broker` binary: the growth of
//! its peak resident memory (`VmHWM`) over one such request, after a small request of the same
//! kind warmed the same path up.
//!
//! The bound is one frame (16 MiB at the default `--max-frame-bytes`) plus [`SLACK_KIB`]: the
//! connection's read buffer holds the frame, zero-filled as it grows; the slack is for what
//! serving any connection touches besides (its handler thread's stack and small buffers, the
//! allocator's bookkeeping; measured here: a few KiB). It is an eighth of a frame, so a second copy of the frame, or any
//! decoding of its elements (the Metadata's 8 million names would take some 1.4 GB, the
//! Produce's 4 million messages a quarter of a gigabyte), fails the test.

mod common;

use common::broker_process::{kafka_addr_of, BrokerProcess};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use synclog::client::Client;
use synclog::kafka::MAX_ELEMENTS_PER_REQUEST;
use synclog::protocol::{ErrorCode, DEFAULT_MAX_FRAME_BYTES, MAX_PRODUCE_MESSAGES};

/// One frame at the default `--max-frame-bytes`, in KiB.
const FRAME_KIB: u64 = DEFAULT_MAX_FRAME_BYTES as u64 / 1024;
/// What serving one request may take besides its frame (module docs): 2 MiB.
const SLACK_KIB: u64 = 2 * 1024;

/// Checks that the broker's peak grew by at most one frame and the slack over `baseline`.
fn assert_one_frame(what: &str, broker: &BrokerProcess, baseline: u64) {
    let peak = broker.peak_kib();
    let grew = peak.saturating_sub(baseline);
    eprintln!(
        "{what}: VmHWM {baseline} KiB before, {peak} KiB after: {grew} KiB for one {FRAME_KIB} KiB frame"
    );
    assert!(
        grew <= FRAME_KIB + SLACK_KIB,
        "{what}: the peak grew by {grew} KiB, more than one frame ({FRAME_KIB} KiB) and {SLACK_KIB} KiB"
    );
}

/// One Kafka request frame: header v1 (null client id), then `body`.
fn kafka_frame(api_key: i16, version: i16, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(body.len() + 14);
    frame.extend_from_slice(&((body.len() + 10) as i32).to_be_bytes());
    frame.extend_from_slice(&api_key.to_be_bytes());
    frame.extend_from_slice(&version.to_be_bytes());
    frame.extend_from_slice(&7i32.to_be_bytes());
    frame.extend_from_slice(&(-1i16).to_be_bytes());
    frame.extend_from_slice(body);
    frame
}

/// A Metadata v0 request naming `count` empty topic names.
fn metadata_of_empty_names(count: usize) -> Vec<u8> {
    let mut body = (count as i32).to_be_bytes().to_vec();
    body.resize(4 + 2 * count, 0);
    kafka_frame(3, 0, &body)
}

/// Sends `request` on a new connection and expects the broker to close it unanswered.
fn closed_unanswered(addr: &str, request: &[u8]) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    if let Err(e) = stream.write_all(request) {
        assert!(matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe), "{e}");
        return;
    }
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the broker answered a request past the element cap: {other:?}"),
    }
}

#[test]
fn a_kafka_metadata_of_8_million_empty_names_costs_the_broker_one_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = dir.path().join("broker.stderr");
    let data = dir.path().join("data");
    let args = ["--data-dir", data.to_str().expect("utf-8"), "--kafka-listen", "127.0.0.1:0"];
    let broker = BrokerProcess::start(&args, &stderr);
    let kafka = kafka_addr_of(&stderr);
    // Warm-up: the same refusal, one element past the cap (20 KB).
    closed_unanswered(&kafka, &metadata_of_empty_names(MAX_ELEMENTS_PER_REQUEST + 1));
    let baseline = broker.peak_kib();

    // Just under the 16 MiB frame limit: 8 388 574 empty names.
    let request = metadata_of_empty_names((DEFAULT_MAX_FRAME_BYTES as usize - 64) / 2);
    assert!(request.len() as u64 > 15 * 1024 * 1024);
    closed_unanswered(&kafka, &request);
    assert_one_frame("Metadata of 8 million empty names", &broker, baseline);
    // The listener serves on.
    let mut client = synclog::kafka::client::KafkaClient::connect(&kafka).expect("kafka client");
    assert_eq!(client.produce("t", &[b"x".as_slice()]).expect("produce"), 0);
}

#[test]
fn a_produce_of_4_million_empty_messages_costs_the_broker_one_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let broker =
        BrokerProcess::start(&["--data-dir", data.to_str().expect("utf-8")], &dir.path().join("stderr"));
    let mut client = Client::connect(broker.addr).expect("connect");
    assert_eq!(client.produce("amp", [b"x".as_slice()]).expect("produce"), 0);
    // Warm-up: the same refusal, one message past the cap (256 KiB).
    let past = client.produce("amp", std::iter::repeat_n(&[][..], MAX_PRODUCE_MESSAGES + 1));
    assert_eq!(past.expect_err("past the cap").code(), Some(ErrorCode::Malformed));
    let baseline = broker.peak_kib();

    // 16 777 195 bytes: topic, count, and 4 194 294 empty messages.
    let count = DEFAULT_MAX_FRAME_BYTES as usize / 4 - 10;
    let refused = client.produce("amp", std::iter::repeat_n(&[][..], count)).expect_err("over the cap");
    assert_eq!(refused.code(), Some(ErrorCode::Malformed), "{refused}");
    assert_one_frame("Produce of 4 million empty messages", &broker, baseline);
    // The connection carries on, and nothing was appended.
    assert_eq!(client.produce("amp", [b"y".as_slice()]).expect("produce"), 1);
}
