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

use common::broker_process::{start_with_kafka, BrokerProcess};
use common::kafka_raw::{exchange, metadata_of_empty_names, request_frame};
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

#[test]
fn a_kafka_metadata_of_8_million_empty_names_costs_the_broker_one_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, kafka) = start_with_kafka(dir.path());
    // Warm-up: the same refusal, one element past the cap (20 KB).
    let past = request_frame(3, 0, &metadata_of_empty_names(MAX_ELEMENTS_PER_REQUEST + 1));
    assert_eq!(exchange(&kafka, &past), None, "a Metadata past the element cap is not answered");
    let baseline = broker.peak_kib();

    // Just under the 16 MiB frame limit: 8 388 574 empty names.
    let request = request_frame(3, 0, &metadata_of_empty_names((DEFAULT_MAX_FRAME_BYTES as usize - 64) / 2));
    assert!(request.len() as u64 > 15 * 1024 * 1024);
    assert_eq!(exchange(&kafka, &request), None, "a Metadata past the element cap is not answered");
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
