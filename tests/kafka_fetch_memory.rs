//! What a small Kafka Fetch costs the broker in memory, measured from outside the `broker`
//! process: a Fetch of 63 bytes may be answered with 65 536 empty records of one partition.
//! Reading them takes 24 bytes each and encoding them in one batch took some 200 bytes each
//! more (13 MiB at once, for a reply of 0.6 MB): 16 connections fetching at once raised the
//! broker's peak resident memory by some 200 MB. Encoded in batches of
//! `SERVED_BATCH_RECORDS`, each connection's Fetch holds a few MiB (docs/protocol.md, "Memory
//! per Kafka connection").

mod common;

use common::broker_process::start_with_kafka;
use common::kafka_raw::Raw;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use synclog::kafka::records;

/// Records in the topic: one partition's cap for a Fetch.
const RECORDS: usize = records::MAX_RECORDS_PER_PARTITION;
/// Connections fetching at once, and the Fetches each sends.
const CONNECTIONS: usize = 16;
const FETCHES: usize = 3;

/// A Fetch v4 of topic `t` from offset 0 with the largest budgets a client can ask for: the
/// records served and the bytes of their batches.
fn fetch_everything(raw: &mut Raw) -> (usize, usize) {
    let topic =
        FetchTopic::default().with_topic(TopicName(StrBytes::from_static_str("t"))).with_partitions(vec![
            FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(i32::MAX),
        ]);
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(i32::MAX)
        .with_topics(vec![topic]);
    let answer: FetchResponse = raw.ask(ApiKey::Fetch, 4, &request);
    let bytes = answer.responses[0].partitions[0].records.clone().unwrap_or_default();
    let len = bytes.len();
    (records::decode_fetched(bytes).expect("whole batches").len(), len)
}

#[test]
fn sixteen_connections_fetching_65536_empty_records_at_once_hold_a_few_mib_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, kafka) = start_with_kafka(dir.path());
    let mut client = synclog::client::Client::connect(broker.addr).expect("synclog client");
    client.produce("t", std::iter::repeat_n(b"".as_slice(), RECORDS)).expect("produce");
    // One Fetch first, so what any first request sets up once is in the baseline.
    let (served, _) = fetch_everything(&mut Raw::connect(&kafka));
    assert_eq!(served, RECORDS);
    let baseline = broker.peak_kib();

    let mut raws: Vec<Raw> = (0..CONNECTIONS).map(|_| Raw::connect(&kafka)).collect();
    let start = std::sync::Barrier::new(CONNECTIONS);
    let reply_bytes: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = raws
            .iter_mut()
            .map(|raw| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    let mut bytes = 0;
                    for _ in 0..FETCHES {
                        let (served, len) = fetch_everything(raw);
                        assert_eq!(served, RECORDS, "every record, in whole batches");
                        bytes = len;
                    }
                    bytes
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("no panic")).collect()
    });
    let peak = broker.peak_kib();
    let reply_kib = reply_bytes[0] as u64 / 1024;
    eprintln!(
        "{CONNECTIONS} connections × {FETCHES} Fetches of {RECORDS} empty records ({reply_kib} KiB each): \
         VmHWM {baseline} KiB before, {peak} KiB after"
    );
    // Per connection: the read (24 bytes a record, 1.5 MiB), a batch being encoded (some
    // 200 KiB), the reply (twice, as built and as framed) and the allocator's slack: 4 MiB.
    // One batch of every record took 13 MiB more.
    let bound_kib = CONNECTIONS as u64 * 4 * 1024;
    assert!(
        peak <= baseline + bound_kib,
        "peak {peak} KiB, baseline {baseline} KiB: more than {bound_kib} KiB above for {CONNECTIONS} Fetches at once"
    );
}
