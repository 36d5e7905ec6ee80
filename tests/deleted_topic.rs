//! A topic deleted (Kafka DeleteTopics, on a broker started with `--delete-topics`) while
//! native connections that used it stay open, tried on the `broker` binary from outside: each
//! connection's next request looks the name up again. A produce recreates the topic and lands
//! in the new log, which every connection then reads; a fetch before that finds no topic; and
//! the deleted topic's files are no longer held open by the broker, not even by connections
//! idle since they used it.

mod common;

use common::broker_process::{kafka_addr_of, BrokerProcess};
use common::kafka_raw::Raw;
use kafka_protocol::messages::{ApiKey, DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use std::time::Duration;
use synclog::client::Client;
use synclog::kafka::code;
use synclog::protocol::ErrorCode;

/// DeleteTopics v3 of `name`: its error code.
fn delete_topic(raw: &mut Raw, name: &str) -> i16 {
    let names = vec![TopicName(StrBytes::from_string(name.to_string()))];
    let request = DeleteTopicsRequest::default().with_topic_names(names).with_timeout_ms(5000);
    let answer: DeleteTopicsResponse = raw.ask(ApiKey::DeleteTopics, 3, &request);
    answer.responses.first().map_or(-1, |r| r.error_code)
}

/// Every record of `topic` from offset 0, as (offset, payload).
fn records(client: &mut Client, topic: &str) -> Vec<(u64, Vec<u8>)> {
    let fetched = client.fetch(topic, 0, 1000, 1 << 20, Duration::ZERO).expect("fetch");
    fetched.records.iter().map(|(offset, payload)| (offset, payload.to_vec())).collect()
}

/// The broker's open files whose name ends in " (deleted)".
fn deleted_files_open(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the broker's fds")
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|target| target.ends_with("(deleted)"))
        .collect()
}

/// A broker in `dir/data` with a Kafka listener and `--delete-topics`: it, the file its stderr
/// goes to, and its arguments (to start it again).
fn broker_allowing_deletion(dir: &std::path::Path) -> (BrokerProcess, std::path::PathBuf, [String; 5]) {
    let stderr = dir.join("broker.stderr");
    let data = dir.join("data").to_str().expect("utf-8").to_string();
    let args = ["--data-dir", &data, "--kafka-listen", "127.0.0.1:0", "--delete-topics"].map(String::from);
    let broker = BrokerProcess::start(&args.each_ref().map(String::as_str), &stderr);
    (broker, stderr, args)
}

#[test]
fn a_connection_that_used_a_deleted_topic_produces_and_fetches_in_the_topic_of_that_name_now() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, stderr, args) = broker_allowing_deletion(dir.path());
    let mut producer = Client::connect(broker.addr).expect("connect");
    let mut consumer = Client::connect(broker.addr).expect("connect");
    assert_eq!(producer.produce("orders", [&b"before-1"[..]]).expect("produce"), 0);
    assert_eq!(records(&mut consumer, "orders"), [(0, b"before-1".to_vec())]);
    assert!(deleted_files_open(broker.pid()).is_empty());

    let mut admin = Raw::connect(&kafka_addr_of(&stderr));
    assert_eq!(delete_topic(&mut admin, "orders"), code::NONE);
    // The consumer's cached topic is gone: its fetch finds no topic, not the deleted log.
    let missing = consumer.fetch("orders", 0, 1000, 1 << 20, Duration::ZERO).expect_err("no topic");
    assert_eq!(missing.code(), Some(ErrorCode::UnknownTopic));

    // The producer's next produce creates the topic again and is its first record.
    assert_eq!(producer.produce("orders", [&b"after-1"[..]]).expect("produce"), 0);
    assert_eq!(producer.produce("orders", [&b"after-2"[..]]).expect("produce"), 1);
    let now = [(0, b"after-1".to_vec()), (1, b"after-2".to_vec())];
    assert_eq!(records(&mut Client::connect(broker.addr).expect("connect"), "orders"), now);
    assert_eq!(records(&mut producer, "orders"), now);
    assert_eq!(records(&mut consumer, "orders"), now);
    assert_eq!(producer.list_topics().expect("list"), [("orders".to_string(), 2)]);
    // Neither connection holds the deleted topic's files any more.
    assert_eq!(deleted_files_open(broker.pid()), Vec::<String>::new());

    // After a restart, the acknowledged records are all there.
    drop((producer, consumer, admin));
    assert!(broker.terminate().success());
    let broker = BrokerProcess::start(&args.each_ref().map(String::as_str), &stderr);
    let mut client = Client::connect(broker.addr).expect("connect");
    assert_eq!(records(&mut client, "orders"), now);
    drop(broker);
}

#[test]
fn connections_idle_since_they_used_a_deleted_topic_hold_none_of_its_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, stderr, _) = broker_allowing_deletion(dir.path());
    let mut producer = Client::connect(broker.addr).expect("connect");
    let mut consumer = Client::connect(broker.addr).expect("connect");
    // Enough records for an index entry, so the topic has both its files written.
    let payloads: Vec<Vec<u8>> = (0..150).map(|i| format!("before-{i}").into_bytes()).collect();
    assert_eq!(producer.produce("orders", payloads.iter().map(Vec::as_slice)).expect("produce"), 0);
    assert_eq!(records(&mut consumer, "orders").len(), 150);

    let mut admin = Raw::connect(&kafka_addr_of(&stderr));
    assert_eq!(delete_topic(&mut admin, "orders"), code::NONE);
    // Neither connection has sent a request since the deletion: the broker already holds none of
    // the deleted topic's files, so their disk space is given back without waiting on them.
    assert_eq!(deleted_files_open(broker.pid()), Vec::<String>::new());

    // Both connections still work, on the topic of that name now.
    let missing = consumer.fetch("orders", 0, 1000, 1 << 20, Duration::ZERO).expect_err("no topic");
    assert_eq!(missing.code(), Some(ErrorCode::UnknownTopic));
    assert_eq!(producer.produce("orders", [&b"after-1"[..]]).expect("produce"), 0);
    assert_eq!(records(&mut consumer, "orders"), [(0, b"after-1".to_vec())]);
    drop((producer, consumer, admin));
    drop(broker);
}
