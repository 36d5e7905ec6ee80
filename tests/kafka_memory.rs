//! What small Kafka requests cost the broker in memory, measured from outside the `broker`
//! process.
//!
//! A Fetch of 63 bytes may be answered with 65 536 empty records of one partition. Reading
//! them takes 24 bytes each and encoding them in one batch took some 200 bytes each more
//! (13 MiB at once, for a reply of 0.6 MB): 16 connections fetching at once raised the
//! broker's peak resident memory by some 200 MB. Encoded in batches of
//! `SERVED_BATCH_RECORDS`, each connection's Fetch holds a few MiB.
//!
//! A Produce of 0.5 MB may carry 65 536 empty records. Decoded by the codec, they took some
//! 200 bytes each (13 MiB); decoded in place, each value a slice of the request, 32 bytes
//! (docs/protocol.md, "Memory per Kafka connection").

mod common;

use common::broker_process::start_with_kafka;
use common::kafka_raw::Raw;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
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

/// Connections producing at once, and the Produces each sends.
const PRODUCERS: usize = 16;
const PRODUCES: usize = 3;

#[test]
fn sixteen_connections_producing_65536_empty_records_at_once_hold_a_few_mib_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, kafka) = start_with_kafka(dir.path());
    let mut batch = Vec::new();
    records::encode_batch(0, -1, std::iter::repeat_n(b"".as_slice(), RECORDS), &mut batch).expect("encode");
    let partition = PartitionProduceData::default().with_index(0).with_records(Some(batch.into()));
    let request = ProduceRequest::default().with_acks(-1).with_timeout_ms(1000).with_topic_data(vec![
        TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_partition_data(vec![partition]),
    ]);
    let produce = |raw: &mut Raw| {
        let answer: ProduceResponse = raw.ask(ApiKey::Produce, 3, &request);
        assert_eq!(answer.responses[0].partition_responses[0].error_code, 0, "written");
    };
    // One Produce first, so what creating the topic and a first request set up is in the baseline.
    produce(&mut Raw::connect(&kafka));
    let baseline = broker.peak_kib();

    let mut raws: Vec<Raw> = (0..PRODUCERS).map(|_| Raw::connect(&kafka)).collect();
    let start = std::sync::Barrier::new(PRODUCERS);
    std::thread::scope(|s| {
        for raw in &mut raws {
            let (start, produce) = (&start, &produce);
            s.spawn(move || {
                start.wait();
                for _ in 0..PRODUCES {
                    produce(raw);
                }
            });
        }
    });
    let peak = broker.peak_kib();
    let mut client = synclog::client::Client::connect(broker.addr).expect("synclog client");
    let written = ((1 + PRODUCERS * PRODUCES) * RECORDS) as u64;
    let topics = client.list_topics().expect("topics");
    assert_eq!(topics, vec![("t".to_string(), written)], "every record written");
    eprintln!(
        "{PRODUCERS} connections × {PRODUCES} Produces of {RECORDS} empty records: \
         VmHWM {baseline} KiB before, {peak} KiB after"
    );
    // Per connection: the read buffer and the request's copy (0.5 MB each), the values (32
    // bytes a record, 2 MiB), the records encoded for the log (2 MiB) and the allocator's
    // slack: measured 7.3 MiB each here; bound 12 MiB. The codec's records took 20 MiB each.
    let bound_kib = PRODUCERS as u64 * 12 * 1024;
    assert!(
        peak <= baseline + bound_kib,
        "peak {peak} KiB, baseline {baseline} KiB: more than {bound_kib} KiB above for {PRODUCERS} Produces at once"
    );
}
