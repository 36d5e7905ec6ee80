//! The Kafka listener's limits on what one request may name, and on what consumer groups may
//! keep, tried from outside as a hostile client would: each is enforced before the resource is
//! spent and answered as docs/protocol.md says.
//!
//! - **Arrays.** Requests whose arrays hold more than `MAX_ELEMENTS_PER_REQUEST` elements in
//!   all (16 MB of empty Metadata topic names, a Fetch or Produce naming a million partitions)
//!   close the connection before they are decoded: the broker's peak resident memory stays
//!   within a stated bound of its baseline, and the listener serves the next client. At the cap
//!   exactly, the request is answered, element by element.
//! - **Partitions per request.** Metadata naming more than `MAX_PARTITIONS_PER_REQUEST`
//!   topics, and ListOffsets, OffsetCommit, OffsetFetch naming more partitions, are answered
//!   INVALID_REQUEST for each, and nothing is created or committed.
//! - **Records per partition.** A Produce whose batches for one partition hold more than
//!   `MAX_RECORDS_PER_PARTITION` records is answered RECORD_LIST_TOO_LARGE and nothing is
//!   written; at the cap, every record is.
//! - **Fetch budgets over empty records.** Eight topics of 65 536 empty records each: a
//!   Fetch naming all eight serves records only within its `max_bytes` and
//!   `partition_max_bytes`, each record counting its value plus 19 bytes, and at least one
//!   record: with budgets of 1 byte, exactly one record (not half a million); with 64 KiB,
//!   64 KiB / 19 of them. The reply's record batches hold at most the budget plus one record
//!   and a batch header per partition served, and the broker's peak resident memory stays
//!   within what docs/protocol.md states for one Kafka connection.
//! - **Group ids.** Every group id of 1 to 255 bytes commits, and reads its offset back after
//!   a restart of the `broker` binary (the offsets file's name stays under 255 bytes).
//! - **Committed offsets.** One group's, then all groups' committed offsets stop at their byte
//!   bounds with POLICY_VIOLATION; what is kept is kept, and can still be moved.

mod common;

use common::broker_process::{kafka_addr_of, BrokerProcess};
use common::kafka_broker::Embedded;
use common::kafka_raw::{exchange, idempotent_batch, metadata_of_empty_names, request_frame, Raw};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use synclog::broker::groups::{
    committed_bytes, Committed, MAX_COMMITTED_BYTES, MAX_COMMITTED_BYTES_PER_GROUP, MAX_GROUP_ID_BYTES,
    MAX_OFFSET_METADATA_BYTES,
};
use synclog::kafka::records::{self, BATCH_HEADER_BYTES, SERVED_RECORD_OVERHEAD_BYTES};
use synclog::kafka::{code, MAX_ELEMENTS_PER_REQUEST, MAX_PARTITIONS_PER_REQUEST};
use synclog::protocol::{DEFAULT_MAX_FRAME_BYTES, MAX_PRODUCE_MESSAGES};

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

/// A body with one topic `t` and `count` partitions of `partition_bytes` zero bytes each,
/// after `before` (the fields that precede the topics).
fn one_topic_with(before: &[u8], count: usize, partition_bytes: usize) -> Vec<u8> {
    let mut body = before.to_vec();
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&1i16.to_be_bytes());
    body.push(b't');
    body.extend_from_slice(&(count as i32).to_be_bytes());
    body.resize(body.len() + count * partition_bytes, 0);
    body
}

/// A broker process started with `args`, its Kafka listener's address, and a topic `t`
/// holding one message.
fn broker_with_topic_t(args: &[&str], stderr: &std::path::Path) -> (BrokerProcess, String) {
    let broker = BrokerProcess::start(args, stderr);
    let kafka = kafka_addr_of(stderr);
    let mut client = synclog::kafka::client::KafkaClient::connect(&kafka).expect("kafka client");
    client.produce("t", &[b"x".as_slice()]).expect("produce");
    (broker, kafka)
}

#[test]
fn requests_past_the_element_cap_close_the_connection_before_they_are_decoded() {
    assert_eq!(MAX_ELEMENTS_PER_REQUEST, 10_000, "the cap README and docs/protocol.md state");
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = dir.path().join("broker.stderr");
    let data = dir.path().join("data");
    let args = ["--data-dir", data.to_str().expect("utf-8"), "--kafka-listen", "127.0.0.1:0"];
    let (broker, kafka) = broker_with_topic_t(&args, &stderr);
    let baseline = broker.peak_kib();

    // Each just under the 16 MiB frame limit, as the real attacks were.
    let room = (16 << 20) - 64;
    let metadata = request_frame(3, 0, &metadata_of_empty_names((room - 4) / 2));
    // Fetch v4: replica, max wait, min bytes, max bytes, isolation; partitions of 16 bytes.
    let mut fetch_head: Vec<u8> = [-1i32, 0, 1, 1 << 20].iter().flat_map(|v| v.to_be_bytes()).collect();
    fetch_head.push(0);
    let fetch = request_frame(1, 4, &one_topic_with(&fetch_head, (room - 32) / 16, 16));
    // Produce v3: null transactional id, acks, timeout; partitions of 8 bytes (index, records
    // length 0).
    let mut produce_head: Vec<u8> = [-1i16, 1].iter().flat_map(|v| v.to_be_bytes()).collect();
    produce_head.extend_from_slice(&1000i32.to_be_bytes());
    let produce = request_frame(0, 3, &one_topic_with(&produce_head, (room - 32) / 8, 8));
    // ListOffsets v1: replica; partitions of 12 bytes.
    let list = request_frame(2, 1, &one_topic_with(&(-1i32).to_be_bytes(), (room - 32) / 12, 12));
    for (name, request) in
        [("Metadata", &metadata), ("Fetch", &fetch), ("Produce", &produce), ("ListOffsets", &list)]
    {
        assert!(request.len() > 15 << 20, "{name}: {} bytes", request.len());
        assert_eq!(exchange(&kafka, request), None, "{name} with millions of elements is not answered");
    }
    let peak = broker.peak_kib();
    eprintln!("element cap: VmHWM {baseline} KiB before, {peak} KiB after four 16 MiB requests");
    // The read buffer (one frame, grown in steps) and nothing like the codec's 40-fold.
    let bound_kib = 64 * 1024;
    assert!(
        peak <= baseline + bound_kib,
        "peak {peak} KiB, baseline {baseline} KiB: more than {bound_kib} KiB above"
    );

    // At the cap exactly, a Metadata is answered topic by topic (INVALID_REQUEST: past the
    // topics cap); one element more closes the connection.
    let answer = exchange(&kafka, &request_frame(3, 0, &metadata_of_empty_names(MAX_ELEMENTS_PER_REQUEST)))
        .expect("an answer at the cap");
    let response =
        MetadataResponse::decode(&mut bytes::Bytes::from(answer[4..].to_vec()), 0).expect("decode");
    assert_eq!(response.topics.len(), MAX_ELEMENTS_PER_REQUEST);
    assert!(response.topics.iter().all(|t| t.error_code == code::INVALID_REQUEST));
    assert_eq!(
        exchange(&kafka, &request_frame(3, 0, &metadata_of_empty_names(MAX_ELEMENTS_PER_REQUEST + 1))),
        None
    );
    // The listener and the topic are unharmed.
    let mut client = synclog::kafka::client::KafkaClient::connect(&kafka).expect("kafka client");
    assert_eq!(client.produce("t", &[b"y".as_slice()]).expect("produce"), 1);
    let log = std::fs::read_to_string(&stderr).expect("stderr");
    assert!(log.contains("array elements in all"), "the close is logged: {log}");
}

#[test]
fn requests_naming_more_than_the_partition_cap_are_refused_element_by_element() {
    assert_eq!(MAX_PARTITIONS_PER_REQUEST, 1000, "the cap README and docs/protocol.md state");
    let broker = Embedded::start();
    broker.topics.get_or_create("t").expect("topic");
    let mut raw = Raw::connect(&broker.kafka());
    let over = MAX_PARTITIONS_PER_REQUEST + 1;

    // Metadata: every topic refused, none created; at the cap, all created.
    let names = |prefix: &str, n: usize| -> Vec<MetadataRequestTopic> {
        (0..n)
            .map(|i| MetadataRequestTopic::default().with_name(Some(TopicName(s(&format!("{prefix}{i}"))))))
            .collect()
    };
    let answer: MetadataResponse =
        raw.ask(ApiKey::Metadata, 1, &MetadataRequest::default().with_topics(Some(names("over", over))));
    assert_eq!(answer.topics.len(), over);
    assert!(answer.topics.iter().all(|t| t.error_code == code::INVALID_REQUEST && t.partitions.is_empty()));
    assert!(broker.topics.get("over0").is_none(), "no topic is created");
    let answer: MetadataResponse = raw.ask(
        ApiKey::Metadata,
        1,
        &MetadataRequest::default().with_topics(Some(names("at", MAX_PARTITIONS_PER_REQUEST))),
    );
    assert!(answer.topics.iter().all(|t| t.error_code == code::NONE));
    assert!(broker.topics.get("at999").is_some());

    // ListOffsets.
    let partitions =
        (0..over as i32).map(|p| ListOffsetsPartition::default().with_partition_index(p).with_timestamp(-1));
    let request = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
        ListOffsetsTopic::default().with_name(TopicName(s("t"))).with_partitions(partitions.collect()),
    ]);
    let answer: ListOffsetsResponse = raw.ask(ApiKey::ListOffsets, 1, &request);
    assert_eq!(answer.topics[0].partitions.len(), over);
    assert!(answer.topics[0].partitions.iter().all(|p| p.error_code == code::INVALID_REQUEST));

    // OffsetCommit: nothing committed, not even partition 0.
    let partitions = (0..over as i32)
        .map(|p| OffsetCommitRequestPartition::default().with_partition_index(p).with_committed_offset(5));
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(partitions.collect())]);
    let answer: OffsetCommitResponse = raw.ask(ApiKey::OffsetCommit, 7, &request);
    assert_eq!(answer.topics[0].partitions.len(), over);
    assert!(answer.topics[0].partitions.iter().all(|p| p.error_code == code::INVALID_REQUEST));

    // OffsetFetch, after a commit within the cap.
    let partition = OffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(5);
    let request = request.with_topics(vec![OffsetCommitRequestTopic::default()
        .with_name(TopicName(s("t")))
        .with_partitions(vec![partition])]);
    let answer: OffsetCommitResponse = raw.ask(ApiKey::OffsetCommit, 7, &request);
    assert_eq!(answer.topics[0].partitions[0].error_code, code::NONE);
    let fetch = |n: i32| {
        OffsetFetchRequest::default().with_group_id(GroupId(s("g"))).with_topics(Some(vec![
            OffsetFetchRequestTopic::default()
                .with_name(TopicName(s("t")))
                .with_partition_indexes((0..n).collect()),
        ]))
    };
    let answer: OffsetFetchResponse = raw.ask(ApiKey::OffsetFetch, 5, &fetch(over as i32));
    assert!(answer.topics[0]
        .partitions
        .iter()
        .all(|p| p.error_code == code::INVALID_REQUEST && p.committed_offset == -1));
    let answer: OffsetFetchResponse = raw.ask(ApiKey::OffsetFetch, 5, &fetch(1));
    assert_eq!(
        (answer.topics[0].partitions[0].error_code, answer.topics[0].partitions[0].committed_offset),
        (code::NONE, 5)
    );

    // Produce: every partition refused, nothing appended, not even to partition 0.
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    let mut one_record = Vec::new();
    synclog::kafka::records::encode_batch(0, -1, [b"x".as_slice()], &mut one_record).expect("encode");
    let records: bytes::Bytes = one_record.into();
    let partitions = (0..over as i32)
        .map(|p| PartitionProduceData::default().with_index(p).with_records(Some(records.clone())));
    let request = ProduceRequest::default().with_acks(-1).with_timeout_ms(1000).with_topic_data(vec![
        TopicProduceData::default().with_name(TopicName(s("t"))).with_partition_data(partitions.collect()),
    ]);
    let answer: ProduceResponse = raw.ask(ApiKey::Produce, 3, &request);
    let answered = &answer.responses[0].partition_responses;
    assert_eq!(answered.len(), over);
    assert!(answered.iter().all(|p| p.error_code == code::INVALID_REQUEST), "{:?}", answered.first());
    assert_eq!(broker.topics.get("t").expect("t").log.next_offset(), 0, "nothing appended");
}

#[test]
fn an_offset_fetch_naming_a_partition_twice_is_refused_without_its_metadata() {
    let broker = Embedded::start();
    broker.topics.get_or_create("t").expect("topic");
    let mut raw = Raw::connect(&broker.kafka());
    let metadata = "m".repeat(4096);
    assert_eq!(commit(&mut raw, "g", &[("t".into(), 5, &metadata)]), vec![code::NONE]);
    let mut fetch = |topics: Vec<Vec<i32>>| {
        let topics = topics
            .into_iter()
            .map(|p| {
                OffsetFetchRequestTopic::default().with_name(TopicName(s("t"))).with_partition_indexes(p)
            })
            .collect();
        let request = OffsetFetchRequest::default().with_group_id(GroupId(s("g"))).with_topics(Some(topics));
        let answer: OffsetFetchResponse = raw.ask(ApiKey::OffsetFetch, 5, &request);
        answer.topics.into_iter().flat_map(|t| t.partitions).collect::<Vec<_>>()
    };
    // Partition 0 a thousand times in one topic entry (4 KB asking for 4 MB of metadata), or
    // twice over two entries of the same topic: refused, every partition, no metadata.
    for asked in [vec![vec![0; MAX_PARTITIONS_PER_REQUEST]], vec![vec![0], vec![0]]] {
        let named = asked.iter().map(Vec::len).sum::<usize>();
        let answers = fetch(asked);
        assert_eq!(answers.len(), named);
        assert!(answers.iter().all(|p| p.error_code == code::INVALID_REQUEST
            && p.committed_offset == -1
            && p.metadata.as_deref().is_none_or(str::is_empty)));
    }
    // Named once, it is served with its metadata.
    let answers = fetch(vec![vec![0]]);
    assert_eq!((answers[0].error_code, answers[0].committed_offset), (code::NONE, 5));
    assert_eq!(answers[0].metadata.as_deref(), Some(metadata.as_str()));
}

/// OffsetCommit v7 of `offsets` as (topic, offset, metadata) for a group without members: the
/// error code of each.
fn commit(raw: &mut Raw, group: &str, offsets: &[(String, i64, &str)]) -> Vec<i16> {
    let topics = offsets
        .iter()
        .map(|(topic, offset, metadata)| {
            let partition = OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(*offset)
                .with_committed_metadata(Some(s(metadata)));
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(topic)))
                .with_partitions(vec![partition])
        })
        .collect();
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(topics);
    let answer: OffsetCommitResponse = raw.ask(ApiKey::OffsetCommit, 7, &request);
    answer.topics.iter().map(|t| t.partitions[0].error_code).collect()
}

/// OffsetFetch v5 of every committed topic of `group`: how many, and their offsets' sum.
fn committed(raw: &mut Raw, group: &str) -> (usize, i64) {
    let request = OffsetFetchRequest::default().with_group_id(GroupId(s(group))).with_topics(None);
    let answer: OffsetFetchResponse = raw.ask(ApiKey::OffsetFetch, 5, &request);
    let offsets: Vec<i64> = answer.topics.iter().map(|t| t.partitions[0].committed_offset).collect();
    (offsets.len(), offsets.iter().sum())
}

#[test]
fn every_group_id_up_to_255_bytes_commits_and_reads_back_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = dir.path().join("broker.stderr");
    let data = dir.path().join("data");
    let args = ["--data-dir", data.to_str().expect("utf-8"), "--kafka-listen", "127.0.0.1:0"];
    let (broker, kafka) = broker_with_topic_t(&args, &stderr);
    // Lengths around every boundary, and two longest ids that share their first 254 bytes.
    let mut ids: Vec<String> =
        [1, 100, 101, 125, 126, 127, 200, 254, MAX_GROUP_ID_BYTES].iter().map(|&n| "g".repeat(n)).collect();
    ids.push(format!("{}h", "g".repeat(MAX_GROUP_ID_BYTES - 1)));
    ids.push("ü".repeat(MAX_GROUP_ID_BYTES / 2));
    let mut raw = Raw::connect(&kafka);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            commit(&mut raw, id, &[("t".into(), i as i64, "")]),
            vec![code::NONE],
            "group id of {} bytes",
            id.len()
        );
    }
    assert!(broker.terminate().success());
    let files: Vec<String> = std::fs::read_dir(data.join("@groups"))
        .expect("the groups dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    assert_eq!(files.len(), ids.len(), "one file per group: {files:?}");
    assert!(files.iter().all(|f| f.len() < 255 && f.ends_with(".json")), "{files:?}");

    std::fs::write(&stderr, b"").expect("clear the stderr file");
    let broker = BrokerProcess::start(&args, &stderr);
    let mut raw = Raw::connect(&kafka_addr_of(&stderr));
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(committed(&mut raw, id), (1, i as i64), "group id of {} bytes", id.len());
        // A second commit goes to a journal beside the same group's snapshot.
        assert_eq!(commit(&mut raw, id, &[("t".into(), 100 + i as i64, "")]), vec![code::NONE]);
    }
    let files: Vec<String> = std::fs::read_dir(data.join("@groups"))
        .expect("the groups dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    assert_eq!(files.len(), 2 * ids.len(), "a snapshot and a journal per group: {files:?}");
    for f in files.iter().filter_map(|f| f.strip_suffix(".journal")) {
        assert!(f.len() + ".journal".len() < 255 && files.contains(&format!("{f}.json")), "{files:?}");
    }
    assert!(broker.terminate().success());
    // The too-long id is still refused.
    std::fs::write(&stderr, b"").expect("clear the stderr file");
    let broker = BrokerProcess::start(&args, &stderr);
    let mut raw = Raw::connect(&kafka_addr_of(&stderr));
    assert_eq!(committed(&mut raw, &ids[8]), (1, 108));
    let too_long = "g".repeat(MAX_GROUP_ID_BYTES + 1);
    assert_eq!(commit(&mut raw, &too_long, &[("t".into(), 1, "")]), vec![code::INVALID_GROUP_ID]);
    drop(broker);
}

#[test]
fn committed_offsets_stop_at_their_byte_bounds_and_what_is_kept_can_still_move() {
    let broker = Embedded::start();
    let metadata = "m".repeat(MAX_OFFSET_METADATA_BYTES);
    let cost =
        |topic: &str| committed_bytes(topic, &Committed { offset: 0, metadata: Some(metadata.clone()) });
    // Topics c000, c001, …: each offset with full metadata counts the same.
    let per_group = MAX_COMMITTED_BYTES_PER_GROUP / cost("c000");
    let topics: Vec<String> = (0..per_group + 8).map(|i| format!("c{i:03}")).collect();
    for t in &topics {
        broker.topics.get_or_create(t).expect("topic");
    }
    let mut raw = Raw::connect(&broker.kafka());
    let offsets: Vec<(String, i64, &str)> =
        topics.iter().map(|t| (t.clone(), 1, metadata.as_str())).collect();

    // One group: the offsets that fit are committed, the rest refused alone.
    let codes = commit(&mut raw, "g0", &offsets);
    assert!(codes[..per_group].iter().all(|&c| c == code::NONE));
    assert!(codes[per_group..].iter().all(|&c| c == code::POLICY_VIOLATION), "{:?}", &codes[per_group..]);
    assert_eq!(committed(&mut raw, "g0"), (per_group, per_group as i64));
    // A kept offset still moves (it counts no more).
    assert_eq!(commit(&mut raw, "g0", &[(topics[0].clone(), 7, metadata.as_str())]), vec![code::NONE]);
    assert_eq!(committed(&mut raw, "g0"), (per_group, per_group as i64 + 6));

    // All groups: full groups until the total is reached, then nothing new fits anywhere.
    let groups = MAX_COMMITTED_BYTES / (per_group * cost("c000"));
    for g in 1..groups {
        let codes = commit(&mut raw, &format!("g{g}"), &offsets[..per_group]);
        assert!(codes.iter().all(|&c| c == code::NONE), "group {g}");
    }
    // What room the full groups leave, another group takes.
    let left = (MAX_COMMITTED_BYTES - groups * per_group * cost("c000")) / cost("c000");
    let codes = commit(&mut raw, "filler", &offsets[..left]);
    assert!(codes.iter().all(|&c| c == code::NONE), "the room left: {left} offsets");
    let codes = commit(&mut raw, "last", &offsets[..2]);
    assert_eq!(codes, vec![code::POLICY_VIOLATION; 2], "past the total");
    assert_eq!(committed(&mut raw, "last"), (0, 0));
    assert_eq!(
        commit(&mut raw, "g1", &[(topics[1].clone(), 9, metadata.as_str())]),
        vec![code::NONE],
        "kept ones move"
    );
    assert_eq!(committed(&mut raw, "g1"), (per_group, per_group as i64 + 8));
}

#[test]
fn a_partitions_batches_past_the_record_cap_are_refused_before_they_are_decoded() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use synclog::kafka::records::{self, MAX_RECORDS_PER_PARTITION};
    assert_eq!(MAX_RECORDS_PER_PARTITION, 65_536, "the cap README and docs/protocol.md state");
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    let init =
        InitProducerIdRequest::default().with_transactional_id(None).with_transaction_timeout_ms(60_000);
    let id = raw.ask::<_, InitProducerIdResponse>(ApiKey::InitProducerId, 1, &init).producer_id.0;
    let mut produce = |records: Vec<u8>| -> (i16, i64) {
        let partition = PartitionProduceData::default().with_index(0).with_records(Some(records.into()));
        let request = ProduceRequest::default().with_acks(-1).with_timeout_ms(1000).with_topic_data(vec![
            TopicProduceData::default().with_name(TopicName(s("tiny"))).with_partition_data(vec![partition]),
        ]);
        let answer: ProduceResponse = raw.ask(ApiKey::Produce, 3, &request);
        let p = &answer.responses[0].partition_responses[0];
        (p.error_code, p.base_offset)
    };
    let batch = |n: usize| {
        let mut out = Vec::new();
        records::encode_batch(0, -1, std::iter::repeat_n(b"".as_slice(), n), &mut out).expect("encode");
        out
    };
    // One record past the cap, over two batches: refused whole, nothing written.
    let mut over = batch(MAX_RECORDS_PER_PARTITION);
    over.extend_from_slice(&batch(1));
    assert_eq!(produce(over), (code::RECORD_LIST_TOO_LARGE, -1));
    assert_eq!(broker.topics.get("tiny").map_or(0, |t| t.log.high_watermark()), 0);
    // Two batches within the cap, plain or an idempotent producer's: one batch per partition
    // (Kafka's rule for Produce v3+), nothing written.
    let two = [batch(1), batch(1)].concat();
    assert_eq!(produce(two), (code::INVALID_RECORD, -1));
    let two = [idempotent_batch(id, 0, 0, &[b"a"]), idempotent_batch(id, 0, 1, &[b"b"])].concat();
    assert_eq!(produce(two), (code::INVALID_RECORD, -1));
    assert_eq!(broker.topics.get("tiny").map_or(0, |t| t.log.high_watermark()), 0);
    // One batch one record past the cap: refused as well.
    assert_eq!(produce(batch(MAX_RECORDS_PER_PARTITION + 1)), (code::RECORD_LIST_TOO_LARGE, -1));
    // The refused batches left the producer's state alone: its sequence 0 is still next.
    assert_eq!(produce(idempotent_batch(id, 0, 0, &[b"a"])), (code::NONE, 0));
    // At the cap: written, after that one record.
    assert_eq!(produce(batch(MAX_RECORDS_PER_PARTITION)), (code::NONE, 1));
    assert_eq!(
        broker.topics.get("tiny").expect("topic").log.high_watermark(),
        MAX_RECORDS_PER_PARTITION as u64 + 1
    );
}

/// Topics of empty records for the Fetch budget test, and how many records each holds.
const EMPTY_TOPICS: usize = 8;
const EMPTY_RECORDS: usize = MAX_PRODUCE_MESSAGES;

/// A Fetch v4 from offset 0 of every topic in `topics` with these budgets: per partition, the
/// error code and the records' bytes; and every record served.
fn fetch_all(
    raw: &mut Raw,
    topics: &[String],
    max_bytes: i32,
    partition_max_bytes: i32,
) -> (Vec<(i16, usize)>, Vec<(i64, bytes::Bytes)>) {
    let topics = topics
        .iter()
        .map(|t| {
            FetchTopic::default().with_topic(TopicName(s(t))).with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(partition_max_bytes)])
        })
        .collect();
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(max_bytes)
        .with_topics(topics);
    let answer: FetchResponse = raw.ask(ApiKey::Fetch, 4, &request);
    let mut partitions = Vec::new();
    let mut served = Vec::new();
    for p in answer.responses.iter().flat_map(|t| &t.partitions) {
        let bytes = p.records.clone().unwrap_or_default();
        partitions.push((p.error_code, bytes.len()));
        served.extend(records::decode_fetched(bytes).expect("whole batches"));
    }
    (partitions, served)
}

#[test]
fn a_fetch_over_empty_records_is_bounded_by_its_budgets_plus_one_record() {
    assert_eq!(SERVED_RECORD_OVERHEAD_BYTES, 19, "what README and docs/protocol.md count per record");
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = dir.path().join("broker.stderr");
    let data = dir.path().join("data");
    let args = ["--data-dir", data.to_str().expect("utf-8"), "--kafka-listen", "127.0.0.1:0"];
    let (broker, kafka) = broker_with_topic_t(&args, &stderr);
    let topics: Vec<String> = (0..EMPTY_TOPICS).map(|i| format!("empty{i}")).collect();
    let mut client = synclog::client::Client::connect(broker.addr).expect("synclog client");
    for t in &topics {
        client.produce(t, std::iter::repeat_n(b"".as_slice(), EMPTY_RECORDS)).expect("produce");
    }
    let baseline = broker.peak_kib();
    let mut raw = Raw::connect(&kafka);
    let per_record = SERVED_RECORD_OVERHEAD_BYTES as usize;
    // (max_bytes, partition_max_bytes, records served): each record counts 19 bytes, and the
    // first one is served whatever the budgets.
    let cases = [
        (1, 1, 1),
        (0, 0, 1),
        (1, 1 << 20, 1),
        (1 << 20, 1, 1),
        (64 << 10, 64 << 10, (64 << 10) / per_record),
        (64 << 10, 1 << 20, (64 << 10) / per_record),
    ];
    for (max_bytes, partition_max_bytes, expected) in cases {
        let (partitions, served) = fetch_all(&mut raw, &topics, max_bytes, partition_max_bytes);
        let case = format!("max_bytes {max_bytes}, partition_max_bytes {partition_max_bytes}");
        assert_eq!(partitions.len(), EMPTY_TOPICS, "{case}");
        assert!(partitions.iter().all(|(e, _)| *e == code::NONE), "{case}: {partitions:?}");
        assert_eq!(served.len(), expected, "{case}");
        assert!(served.iter().all(|(_, v)| v.is_empty()), "{case}");
        // The records' bytes: at most the budget plus one record, and a header per batch.
        let batches = partitions.iter().filter(|(_, b)| *b > 0).count();
        let record_bytes: usize =
            partitions.iter().map(|(_, b)| b).sum::<usize>() - batches * BATCH_HEADER_BYTES;
        let budget = max_bytes.max(1) as usize;
        assert!(record_bytes <= budget + per_record, "{case}: {record_bytes} bytes of records");
    }
    // The largest budgets a request can ask for: 8 MiB (half the frame limit) over all
    // partitions, 1 MiB each: about 440 000 records, and the memory one connection may hold.
    let (partitions, served) = fetch_all(&mut raw, &topics, i32::MAX, 1 << 20);
    assert_eq!(served.len(), EMPTY_TOPICS * ((1 << 20) / per_record), "{partitions:?}");
    let peak = broker.peak_kib();
    eprintln!("Fetch over empty records: VmHWM {baseline} KiB before, {peak} KiB after");
    // docs/protocol.md: a Kafka connection serving a request holds at most about three frames
    // and 25 MiB.
    let bound_kib = 3 * u64::from(DEFAULT_MAX_FRAME_BYTES) / 1024 + 25 * 1024;
    assert!(
        peak <= baseline + bound_kib,
        "peak {peak} KiB, baseline {baseline} KiB: more than {bound_kib} KiB above"
    );
}

/// DeleteTopics v3 of `names`: each topic's error code, in order.
fn delete_topics(raw: &mut Raw, names: &[&str]) -> Vec<i16> {
    let names = names.iter().map(|n| TopicName(StrBytes::from_string(n.to_string()))).collect();
    let request = DeleteTopicsRequest::default().with_topic_names(names).with_timeout_ms(5000);
    let answer: DeleteTopicsResponse = raw.ask(ApiKey::DeleteTopics, 3, &request);
    answer.responses.iter().map(|r| r.error_code).collect()
}

#[test]
fn delete_topics_frees_their_files_and_slots_only_on_a_broker_that_allows_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = dir.path().join("broker.stderr");
    let data = dir.path().join("data");
    let args =
        ["--data-dir", data.to_str().expect("utf-8"), "--kafka-listen", "127.0.0.1:0", "--max-topics", "3"];
    // "t", "a" and "b" take every slot.
    let (broker, kafka) = broker_with_topic_t(&args, &stderr);
    let mut client = synclog::client::Client::connect(broker.addr).expect("connect");
    for topic in ["a", "b"] {
        client.produce(topic, [&b"old"[..]]).expect("produce");
    }
    let refused = client.produce("c", [&b"x"[..]]).expect_err("no slot left");
    assert_eq!(refused.code(), Some(synclog::protocol::ErrorCode::TooManyTopics));
    let mut raw = Raw::connect(&kafka);
    assert_eq!(delete_topics(&mut raw, &["a"]), [code::TOPIC_DELETION_DISABLED], "off by default");
    assert!(data.join("a").join("log.dat").exists(), "nothing deleted");
    assert!(broker.terminate().success());

    let with_delete = [&args[..], &["--delete-topics"]].concat();
    std::fs::write(&stderr, b"").expect("clear the stderr file");
    let broker = BrokerProcess::start(&with_delete, &stderr);
    let mut raw = Raw::connect(&kafka_addr_of(&stderr));
    let too_many: Vec<String> = (0..=MAX_PARTITIONS_PER_REQUEST).map(|_| "a".to_string()).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert!(delete_topics(&mut raw, &too_many).iter().all(|&c| c == code::INVALID_REQUEST));
    assert_eq!(
        delete_topics(&mut raw, &["a", "a", "missing", "../t"]),
        [
            code::NONE,
            code::UNKNOWN_TOPIC_OR_PARTITION,
            code::UNKNOWN_TOPIC_OR_PARTITION,
            code::UNKNOWN_TOPIC_OR_PARTITION
        ]
    );
    let left: Vec<String> = std::fs::read_dir(&data)
        .expect("data dir")
        .flatten()
        .map(|e| e.file_name().into_string().expect("utf-8"))
        .collect();
    assert!(!left.iter().any(|n| n == "a" || n.starts_with("@deleting-")), "{left:?}");
    // Its slot is free, and "a" created again starts empty.
    let mut client = synclog::client::Client::connect(broker.addr).expect("connect");
    assert_eq!(client.produce("c", [&b"x"[..]]).expect("a slot was freed"), 0);
    let refused = client.produce("a", [&b"new"[..]]).expect_err("c took the freed slot");
    assert_eq!(refused.code(), Some(synclog::protocol::ErrorCode::TooManyTopics));
    assert_eq!(delete_topics(&mut raw, &["c"]), [code::NONE]);
    assert_eq!(client.produce("a", [&b"new"[..]]).expect("produce"), 0, "a fresh log");
    assert!(broker.terminate().success());
    // After a restart: "a" holds its new record alone, "t" and "b" are untouched.
    std::fs::write(&stderr, b"").expect("clear the stderr file");
    let broker = BrokerProcess::start(&with_delete, &stderr);
    let mut client = synclog::client::Client::connect(broker.addr).expect("connect");
    let listed = client.list_topics().expect("list");
    assert_eq!(listed, [("a".to_string(), 1), ("b".to_string(), 1), ("t".to_string(), 1)]);
    drop(broker);
}
