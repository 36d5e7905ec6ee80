//! The Kafka listener's connection handler: read a request, act on the topics, answer, repeat.
//!
//! It runs exactly like the synclog handler ([`super::handler`]): blocking
//! `std::net`, one thread per connection started by the broker's accept loop, the same
//! `Arc<Topics<S>>`, the same [`Connection`] with its frame limit and timeouts (Kafka frames
//! share synclog's 4-byte length prefix), replies in request order and flushed only when no
//! further request is already buffered.
//!
//! Each request goes through three steps:
//!
//! 1. **Triage** from the header's first eight bytes (api key, version, correlation id). An
//!    ApiVersions request of any version is answered (v0–v2 in its own version, a newer one in v0 with error 35, so the
//!    client falls back); any other api or version not in [`crate::kafka::SERVED_APIS`] is
//!    answered with its correlation id and error 35 UNSUPPORTED_VERSION alone, and the
//!    connection carries on.
//! 2. **Check, then decode.** The header and body are checked against their shapes
//!    ([`crate::kafka::shape`]) and only then decoded by the `kafka-protocol` crate. A request that
//!    fails closes the connection (Kafka brokers do the same: its bytes cannot be trusted).
//! 3. **Serve** on the topics; errors are answered per partition with Kafka's codes:
//!
//! | what happened                                  | Kafka error                            |
//! |------------------------------------------------|----------------------------------------|
//! | topic missing (Fetch, ListOffsets), partition ≠ 0 | UNKNOWN_TOPIC_OR_PARTITION (3)      |
//! | topic name breaks the naming rule              | INVALID_TOPIC_EXCEPTION (17)           |
//! | fetch offset negative or past the end          | OFFSET_OUT_OF_RANGE (1)                |
//! | stored record at the fetch offset fails its CRC | CORRUPT_MESSAGE (2) (synclog's CorruptLog) |
//! | produced batch bad (CRC, cut, magic ≠ 2, transactional, empty) | CORRUPT_MESSAGE (2)    |
//! | produced batch compressed                      | UNSUPPORTED_COMPRESSION_TYPE (76)      |
//! | a value over `--max-message-bytes`             | MESSAGE_TOO_LARGE (10)                 |
//! | acks not 0, 1 or −1                            | INVALID_REQUIRED_ACKS (21)             |
//! | a partition named twice, or more than [`MAX_PARTITIONS_PER_REQUEST`] in one request | INVALID_REQUEST (42), every partition |
//! | a topic to create past `--max-topics`          | POLICY_VIOLATION (44)                  |
//! | the log's files failed                         | KAFKA_STORAGE_ERROR (56)               |
//! | idempotent batch out of sequence, old epoch, unknown producer id | 45, 47, 59 ([`super::idempotence`]) |
//! | an idempotent batch's state entry could not be written | KAFKA_STORAGE_ERROR (56), nothing written |
//!
//! Group requests and InitProducerId are decoded and served in `super::kafka_groups`.
//!
//! Produce with `acks = 0` gets no response at all (Kafka's rule); with 1 or −1 it is answered
//! once the append (and, under `--fsync always`, its sync) is done — one broker is every
//! replica there is. A Fetch that finds no record waits up to `max_wait_ms` (at most
//! [`MAX_WAIT`]) on the topic's append signal, never holding the strategy's lock, after
//! flushing the replies to earlier requests.
//!
//! A Fetch reply is bounded before it is read: the request's `max_bytes`, capped by
//! `--max-fetch-bytes` and half the frame limit, is the budget over all its partitions; the
//! first partition with records is served at least one record even past it (Kafka's rule),
//! every later one only what fits what is left (a partition is not read at all once nothing
//! is), so a reply holds at most the budget plus one record.

use super::idempotence::BatchId;
use super::kafka_groups::{decode_group, serve_group, GroupRequest};
use super::producer_file::values_crc;
use super::shared::{chain, long_poll, Shared, TopicError, MAX_WAIT};
use crate::kafka::{
    code, decode, encode_frame, records, shape, Direction, KafkaError, MAX_PARTITIONS_PER_REQUEST,
    SERVED_APIS,
};
use crate::protocol::connection::{Connection, ConnectionError};
use crate::storage::{validate_topic_name, LogError, Topic};
use crate::strategies::SyncStrategy;
use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use std::collections::HashSet;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The node id of the one broker there is.
pub(super) const NODE_ID: i32 = 0;

/// ListOffsets' timestamp for the first offset.
const EARLIEST: i64 = -2;
/// ListOffsets' timestamp for the next offset (the high watermark).
const LATEST: i64 = -1;

/// The most records one partition of one Fetch returns (its byte budget usually stops first).
const MAX_RECORDS_PER_PARTITION: u32 = 100_000;

/// A request after triage: decoded, or to be answered UNSUPPORTED_VERSION.
enum Request {
    /// ApiVersions at `version` (answered in v0 whatever it is).
    ApiVersions {
        version: i16,
    },
    /// Metadata at a version (answered in the same version).
    Metadata(i16, MetadataRequest),
    Produce(ProduceRequest),
    /// ListOffsets at a version (answered in the same version).
    ListOffsets(i16, ListOffsetsRequest),
    Fetch(FetchRequest),
    /// A group api at a version (answered in the same version).
    Group(i16, GroupRequest),
    /// An api or version synclog does not speak.
    Unsupported {
        api_key: i16,
        version: i16,
    },
}

/// A request and the correlation id its answer carries.
struct Framed {
    correlation_id: i32,
    request: Request,
}

/// What one connection's requests need.
struct Session<'a, S: SyncStrategy> {
    shared: &'a Shared<S>,
    peer: String,
    /// The address Metadata tells clients to connect to.
    advertised: SocketAddr,
    /// Scratch space for encoding one response.
    out: Vec<u8>,
    /// Producer ids this connection was handed (InitProducerId), for its limit.
    producer_ids: u32,
}

/// Serves one Kafka connection until the peer closes, a bad frame, an I/O error, or shutdown.
pub(crate) fn handle_connection<S: SyncStrategy>(shared: &Shared<S>, stream: TcpStream) {
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
    let advertised = advertised_addr(shared.kafka_addr, &stream);
    let mut conn = match Connection::with_config(stream, shared.config.connection()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("synclog: kafka {peer}: cannot set up the connection: {e}");
            return;
        }
    };
    let mut session = Session { shared, peer, advertised, out: Vec::new(), producer_ids: 0 };
    loop {
        let framed = match conn.read_frame_with(triage) {
            Ok(Some(Ok(framed))) => framed,
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                session.log_close(&e);
                break;
            }
            Err(e) => {
                // EOF mid-frame and socket errors are the peer leaving; the rest deserve a line.
                if !matches!(e, ConnectionError::Closed { .. } | ConnectionError::Io(_)) {
                    session.log_close(&KafkaError::Connection(e));
                }
                break;
            }
        };
        if let Err(e) = serve(&mut session, &mut conn, framed) {
            session.log_close(&e);
            break;
        }
        if !conn.has_buffered_frame() && conn.flush().is_err() {
            break;
        }
    }
    let _ = conn.flush();
}

impl<S: SyncStrategy> Session<'_, S> {
    fn log_close(&self, e: &KafkaError) {
        if !self.shared.stopping.load(Ordering::Acquire) {
            eprintln!("synclog: kafka {}: closing the connection: {}", self.peer, chain(e));
        }
    }

    /// Queues one response: header v0 (the correlation id), then `body` at `version`.
    fn respond<T: Encodable>(
        &mut self,
        conn: &mut Connection,
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &T,
    ) -> Result<(), KafkaError> {
        self.out.clear();
        encode_frame(api, version, Direction::Response, &correlation_id.to_be_bytes(), body, &mut self.out)?;
        Ok(conn.write_frame_bytes(&self.out)?)
    }
}

/// Metadata advertises the listener's address, or, when it listens on every interface
/// (0.0.0.0 or ::), the address this client reached it on.
fn advertised_addr(listener: Option<SocketAddr>, stream: &TcpStream) -> SocketAddr {
    let local = stream.local_addr().ok();
    match (listener, local) {
        (Some(l), Some(local)) if l.ip().is_unspecified() => SocketAddr::new(local.ip(), l.port()),
        (Some(l), _) => l,
        (None, Some(local)) => local,
        (None, None) => SocketAddr::from(([127, 0, 0, 1], 9092)),
    }
}

/// Steps 1 and 2: reads the header, then checks and decodes what synclog serves.
fn triage(frame: &[u8]) -> Result<Framed, KafkaError> {
    let Some(&[k0, k1, v0, v1, c0, c1, c2, c3]) = frame.first_chunk::<8>() else {
        return Err(KafkaError::ShortFrame { size: frame.len() });
    };
    let api_key = i16::from_be_bytes([k0, k1]);
    let version = i16::from_be_bytes([v0, v1]);
    let correlation_id = i32::from_be_bytes([c0, c1, c2, c3]);
    let supported =
        SERVED_APIS.iter().find(|(k, min, max)| *k as i16 == api_key && (*min..=*max).contains(&version));
    let Some(&(api, _, _)) = supported else {
        let request = if api_key == ApiKey::ApiVersions as i16 {
            // Any version: a newer client learns from the v0 answer what to use instead.
            Request::ApiVersions { version }
        } else {
            Request::Unsupported { api_key, version }
        };
        return Ok(Framed { correlation_id, request });
    };
    // Every supported version uses request header v1: skip the client id, checked first.
    let header_bytes = shape::prefix(shape::REQUEST_HEADER_V1, frame)
        .map_err(|source| KafkaError::Shape { api, version, direction: Direction::Request, source })?;
    let body = Bytes::copy_from_slice(&frame[header_bytes..]);
    let request = match api {
        ApiKey::ApiVersions => Request::ApiVersions { version },
        ApiKey::Metadata => {
            let request_shape = match version {
                0 => shape::METADATA_V0_REQUEST,
                1..=3 => shape::METADATA_V1_REQUEST,
                _ => shape::METADATA_V4_REQUEST,
            };
            Request::Metadata(version, decode(api, version, Direction::Request, request_shape, body)?)
        }
        ApiKey::Produce => {
            Request::Produce(decode(api, version, Direction::Request, shape::PRODUCE_V3_REQUEST, body)?)
        }
        ApiKey::ListOffsets => {
            let request_shape = match version {
                1 => shape::LIST_OFFSETS_V1_REQUEST,
                _ => shape::LIST_OFFSETS_V2_REQUEST,
            };
            Request::ListOffsets(version, decode(api, version, Direction::Request, request_shape, body)?)
        }
        ApiKey::Fetch => {
            Request::Fetch(decode(api, version, Direction::Request, shape::FETCH_V4_REQUEST, body)?)
        }
        _ => match decode_group(api, version, body)? {
            Some(group) => Request::Group(version, group),
            None => Request::Unsupported { api_key, version },
        },
    };
    Ok(Framed { correlation_id, request })
}

/// Step 3: answers one request (queues the reply; the caller flushes).
fn serve<S: SyncStrategy>(
    session: &mut Session<'_, S>,
    conn: &mut Connection,
    framed: Framed,
) -> Result<(), KafkaError> {
    let id = framed.correlation_id;
    match framed.request {
        Request::ApiVersions { version } => {
            let body = api_versions(version);
            // A version this listener does not serve is answered in v0, which every client reads.
            let answer_version = if (0..=2).contains(&version) { version } else { 0 };
            session.respond(conn, ApiKey::ApiVersions, answer_version, id, &body)
        }
        Request::Metadata(version, request) => {
            let body = metadata(session, version, request);
            session.respond(conn, ApiKey::Metadata, version, id, &body)
        }
        Request::Produce(request) => {
            let acks = request.acks;
            let body = produce(session, request);
            // acks = 0: the producer asked for no answer, and waits for none.
            match acks {
                0 => Ok(()),
                _ => session.respond(conn, ApiKey::Produce, 3, id, &body),
            }
        }
        Request::ListOffsets(version, request) => {
            let body = list_offsets(session.shared, request);
            session.respond(conn, ApiKey::ListOffsets, version, id, &body)
        }
        Request::Fetch(request) => {
            let body = fetch(session.shared, conn, request);
            session.respond(conn, ApiKey::Fetch, 4, id, &body)
        }
        Request::Group(version, request) => {
            // JoinGroup and SyncGroup may wait for other members: answer earlier requests first.
            conn.flush()?;
            let ids = &mut session.producer_ids;
            serve_group(session.shared, session.advertised, version, id, request, ids, &mut session.out)?;
            Ok(conn.write_frame_bytes(&session.out)?)
        }
        Request::Unsupported { api_key, version } => {
            let api =
                ApiKey::try_from(api_key).map_or_else(|_| format!("api {api_key}"), |k| format!("{k:?}"));
            eprintln!(
                "synclog: kafka {}: {api} v{version} is not supported; answered UNSUPPORTED_VERSION",
                session.peer
            );
            // Response header v0 and the error code: every Kafka response body that has no
            // throttle time before it opens with its error code.
            let mut frame = [0u8; 10];
            frame[..4].copy_from_slice(&6i32.to_be_bytes());
            frame[4..8].copy_from_slice(&id.to_be_bytes());
            frame[8..].copy_from_slice(&code::UNSUPPORTED_VERSION.to_be_bytes());
            Ok(conn.write_frame_bytes(&frame)?)
        }
    }
}

/// ApiVersions: the served table; error 35 when asked in a version newer than 2.
fn api_versions(version: i16) -> ApiVersionsResponse {
    let error_code = if (0..=2).contains(&version) { code::NONE } else { code::UNSUPPORTED_VERSION };
    let api_keys = SERVED_APIS
        .iter()
        .map(|&(key, min, max)| {
            ApiVersion::default().with_api_key(key as i16).with_min_version(min).with_max_version(max)
        })
        .collect();
    ApiVersionsResponse::default().with_error_code(error_code).with_api_keys(api_keys)
}

/// Metadata: this broker, and each requested topic, created when missing (v4 and later:
/// only when the request allows it). Every topic is listed for an empty list in v0 and for a
/// null one from v1 on (where an empty list asks for none).
fn metadata<S: SyncStrategy>(
    session: &Session<'_, S>,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    let create = version < 4 || request.allow_auto_topic_creation;
    let every = match &request.topics {
        None => true,
        Some(t) => t.is_empty() && version == 0,
    };
    let names: Vec<String> = if every {
        session.shared.topics.list().into_iter().map(|(name, _)| name).collect()
    } else {
        request
            .topics
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| t.name)
            .map(|name| name.0.to_string())
            .collect()
    };
    let topics = names
        .into_iter()
        .map(|name| {
            let found = match create {
                true => session.shared.topic_or_create(&name),
                false => session
                    .shared
                    .topics
                    .get(&name)
                    .ok_or_else(|| LogError::UnknownTopic(name.clone()).into()),
            };
            let (error_code, partitions) = match found {
                Ok(_) => {
                    let partition = MetadataResponsePartition::default()
                        .with_partition_index(0)
                        .with_leader_id(BrokerId(NODE_ID))
                        .with_replica_nodes(vec![BrokerId(NODE_ID)])
                        .with_isr_nodes(vec![BrokerId(NODE_ID)]);
                    (code::NONE, vec![partition])
                }
                Err(e) => (topic_code(&e), Vec::new()),
            };
            MetadataResponseTopic::default()
                .with_name(Some(topic_name(name)))
                .with_error_code(error_code)
                .with_partitions(partitions)
        })
        .collect();
    let broker = MetadataResponseBroker::default()
        .with_node_id(BrokerId(NODE_ID))
        .with_host(StrBytes::from_string(session.advertised.ip().to_string()))
        .with_port(i32::from(session.advertised.port()));
    MetadataResponse::default()
        .with_brokers(vec![broker])
        .with_controller_id(BrokerId(NODE_ID))
        .with_topics(topics)
}

/// Produce: every partition's records appended contiguously; the answer per partition.
fn produce<S: SyncStrategy>(session: &Session<'_, S>, request: ProduceRequest) -> ProduceResponse {
    let acks_valid = matches!(request.acks, -1..=1);
    let valid = partitions_valid(
        request.topic_data.iter().flat_map(|t| t.partition_data.iter().map(|p| (&*t.name.0, p.index))),
    );
    let responses = request
        .topic_data
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partition_data
                .into_iter()
                .map(|data| {
                    let appended = match (valid, acks_valid) {
                        (false, _) => Err(code::INVALID_REQUEST),
                        (true, false) => Err(code::INVALID_REQUIRED_ACKS),
                        (true, true) => append(session, &topic.name, data.index, data.records),
                    };
                    let (error_code, base_offset) = match appended {
                        Ok(base) => (code::NONE, base as i64),
                        Err(code) => (code, -1),
                    };
                    PartitionProduceResponse::default()
                        .with_index(data.index)
                        .with_error_code(error_code)
                        .with_base_offset(base_offset)
                        .with_log_append_time_ms(-1)
                })
                .collect();
            TopicProduceResponse::default().with_name(topic.name).with_partition_responses(partitions)
        })
        .collect();
    ProduceResponse::default().with_responses(responses)
}

/// Appends one partition's records; the base offset, or the Kafka error code.
fn append<S: SyncStrategy>(
    session: &Session<'_, S>,
    topic: &str,
    partition: i32,
    records: Option<Bytes>,
) -> Result<u64, i16> {
    validate_topic_name(topic).map_err(|e| log_code(&e))?;
    if partition != 0 {
        return Err(code::UNKNOWN_TOPIC_OR_PARTITION);
    }
    let batches = records::decode_batches(records.unwrap_or_default()).map_err(|e| {
        eprintln!("synclog: kafka {}: produce to {topic} refused: {}", session.peer, chain(&e));
        records_code(&e)
    })?;
    if batches.is_empty() || batches.iter().any(|b| b.values.is_empty()) {
        return Err(code::CORRUPT_MESSAGE);
    }
    let max = session.shared.config.max_message_bytes;
    if batches.iter().flat_map(|b| &b.values).any(|v| v.len() > max as usize) {
        return Err(code::MESSAGE_TOO_LARGE);
    }
    let name = topic;
    let topic = session.shared.topic_or_create(topic).map_err(|e| topic_code(&e))?;
    if batches.iter().all(|b| b.producer_id < 0) {
        let values: Vec<Bytes> = batches.into_iter().flat_map(|b| b.values).collect();
        return topic.append_batch(&values).map_err(|e| log_code(&e));
    }
    // Idempotent batches, one by one: each written once (see super::idempotence).
    let mut first = None;
    for b in batches {
        let append = || topic.append_batch(&b.values).map_err(|e| log_code(&e));
        let base = match b.producer_id {
            ..0 => append()?,
            _ => {
                let id = BatchId {
                    topic: name,
                    producer_id: b.producer_id,
                    epoch: b.producer_epoch,
                    base_sequence: b.base_sequence,
                    records: b.values.len(),
                    values_crc: values_crc(b.values.iter().map(|v| &v[..])),
                };
                session.shared.producers.append_once(id, || topic.log.next_offset(), append)?
            }
        };
        first.get_or_insert(base);
    }
    first.ok_or(code::CORRUPT_MESSAGE)
}

/// ListOffsets: −2 (earliest) is 0, −1 (latest) the high watermark. synclog keeps no
/// timestamps, so no record is known to be at or after any other timestamp: offset −1, the
/// answer a Kafka broker gives when no record qualifies.
fn list_offsets<S: SyncStrategy>(shared: &Shared<S>, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let valid = partitions_valid(
        request.topics.iter().flat_map(|t| t.partitions.iter().map(|p| (&*t.name.0, p.partition_index))),
    );
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let found = shared.topics.get(&topic.name);
            let partitions = topic
                .partitions
                .into_iter()
                .map(|p| {
                    let answer = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1);
                    let (error_code, offset) = match &found {
                        _ if !valid => (code::INVALID_REQUEST, -1),
                        _ if validate_topic_name(&topic.name).is_err() => (code::INVALID_TOPIC_EXCEPTION, -1),
                        Some(t) if p.partition_index == 0 => match p.timestamp {
                            EARLIEST => (code::NONE, 0),
                            LATEST => (code::NONE, t.log.high_watermark() as i64),
                            _ => (code::NONE, -1),
                        },
                        _ => (code::UNKNOWN_TOPIC_OR_PARTITION, -1),
                    };
                    answer.with_error_code(error_code).with_offset(offset)
                })
                .collect();
            ListOffsetsTopicResponse::default().with_name(topic.name).with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// Fetch: each partition read from its offset within the byte budgets; when nothing at all
/// was found and no partition failed, wait up to `max_wait_ms` for an append and read again.
fn fetch<S: SyncStrategy>(shared: &Shared<S>, conn: &mut Connection, request: FetchRequest) -> FetchResponse {
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT);
    let (mut responses, found) = read_partitions(shared, &request);
    if found.records == 0 && !found.failed && !wait.is_zero() && request.min_bytes > 0 {
        // Answer earlier pipelined requests first, then wait without any lock.
        let _ = conn.flush();
        let waiting: Vec<(&Topic<S>, u64)> = found.waiting.iter().map(|(t, o)| (&**t, *o)).collect();
        long_poll(shared, &waiting, Instant::now() + wait);
        (responses, _) = read_partitions(shared, &request);
    }
    FetchResponse::default().with_responses(responses)
}

/// What one pass over a Fetch's partitions found.
struct Found<S: SyncStrategy> {
    /// Records served, over all partitions.
    records: usize,
    /// A partition answered with an error (a Fetch with an error does not wait).
    failed: bool,
    /// The topics and offsets that had nothing yet: what a long poll waits for.
    waiting: Vec<(Arc<Topic<S>>, u64)>,
}

fn read_partitions<S: SyncStrategy>(
    shared: &Shared<S>,
    request: &FetchRequest,
) -> (Vec<FetchableTopicResponse>, Found<S>) {
    let frame_budget = shared.config.fetch_budget() as usize;
    let mut budget = (request.max_bytes.max(1) as usize).min(frame_budget);
    let mut found = Found { records: 0, failed: false, waiting: Vec::new() };
    let valid = partitions_valid(
        request.topics.iter().flat_map(|t| t.partitions.iter().map(|p| (&*t.topic.0, p.partition))),
    );
    let mut responses = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let wanted = (p.partition_max_bytes.max(1) as usize).min(frame_budget);
            // Kafka's rule: the first records found are served even past the request's budget;
            // every later partition only within what is left of it.
            let first = found.records == 0;
            let max_bytes = if first { wanted } else { wanted.min(budget) };
            let read = match valid {
                true => read_partition(shared, &topic.topic, p.partition, p.fetch_offset, max_bytes, first),
                false => Err((code::INVALID_REQUEST, -1)),
            };
            match read {
                Ok(read) => {
                    budget = if read.overflowed { 0 } else { budget.saturating_sub(read.payload_bytes) };
                    found.records += read.served;
                    found.waiting.extend(read.waiting);
                    partitions.push(read.partition);
                }
                Err((error_code, high_watermark)) => {
                    found.failed = true;
                    partitions.push(
                        PartitionData::default()
                            .with_partition_index(p.partition)
                            .with_error_code(error_code)
                            .with_high_watermark(high_watermark)
                            .with_last_stable_offset(high_watermark)
                            .with_records(Some(Bytes::new())),
                    );
                }
            }
        }
        responses.push(
            FetchableTopicResponse::default().with_topic(topic.topic.clone()).with_partitions(partitions),
        );
    }
    (responses, found)
}

/// One partition's successful read.
struct Read<S: SyncStrategy> {
    partition: PartitionData,
    served: usize,
    payload_bytes: usize,
    /// The next record did not fit what was left of the request's budget: nothing was served
    /// and no later partition should be read.
    overflowed: bool,
    /// Set when nothing was there yet: the topic and offset to wait on.
    waiting: Option<(Arc<Topic<S>>, u64)>,
}

/// Reads one partition: its answer, or the error code and high watermark (−1 when there is
/// no such log) to answer instead.
fn read_partition<S: SyncStrategy>(
    shared: &Shared<S>,
    topic: &TopicName,
    partition: i32,
    offset: i64,
    max_bytes: usize,
    at_least_one: bool,
) -> Result<Read<S>, (i16, i64)> {
    validate_topic_name(topic).map_err(|e| (log_code(&e), -1))?;
    let found = shared.topics.get(topic).filter(|_| partition == 0);
    let log = found.ok_or((code::UNKNOWN_TOPIC_OR_PARTITION, -1))?;
    let failed = |error_code| (error_code, log.log.high_watermark() as i64);
    if offset < 0 {
        return Err(failed(code::OFFSET_OUT_OF_RANGE));
    }
    let offset = offset as u64;
    let limit = u32::try_from(max_bytes).unwrap_or(u32::MAX);
    // A read returns at least one record whatever its byte limit: with no room left, do not
    // read at all, and drop a lone record that does not fit (it is read once, then freed).
    let mut batch = match at_least_one || max_bytes > 0 {
        true => log.log.read(offset, MAX_RECORDS_PER_PARTITION, limit).map_err(|e| failed(log_code(&e)))?,
        false => log.log.read(offset, 0, 0).map_err(|e| failed(log_code(&e)))?,
    };
    let overflowed = !at_least_one && (max_bytes == 0 || batch.payload_bytes() > max_bytes);
    if overflowed {
        batch = log.log.read(offset, 0, 0).map_err(|e| failed(log_code(&e)))?;
    }
    let mut bytes = Vec::new();
    records::encode_stored(batch.iter(), &mut bytes).map_err(|e| {
        eprintln!("synclog: kafka: cannot encode records of {}: {}", &**topic, chain(&e));
        failed(code::UNKNOWN_SERVER_ERROR)
    })?;
    let high_watermark = batch.high_watermark as i64;
    let partition = PartitionData::default()
        .with_partition_index(partition)
        .with_error_code(code::NONE)
        .with_high_watermark(high_watermark)
        .with_last_stable_offset(high_watermark)
        .with_aborted_transactions(Some(Vec::new()))
        .with_records(Some(Bytes::from(bytes)));
    let waiting = (batch.is_empty() && !overflowed).then(|| (log.clone(), offset));
    Ok(Read { partition, served: batch.len(), payload_bytes: batch.payload_bytes(), overflowed, waiting })
}

/// Whether a request's partitions are acceptable: at most [`MAX_PARTITIONS_PER_REQUEST`], none
/// named twice. Checked before anything is read, created or appended.
fn partitions_valid<'a>(partitions: impl Iterator<Item = (&'a str, i32)>) -> bool {
    let mut seen = HashSet::new();
    for (i, p) in partitions.enumerate() {
        if i >= MAX_PARTITIONS_PER_REQUEST || !seen.insert(p) {
            return false;
        }
    }
    true
}

/// The Kafka error code for a topic that could not be had: past `--max-topics` is
/// POLICY_VIOLATION (44).
fn topic_code(e: &TopicError) -> i16 {
    match e {
        TopicError::Limit { .. } => code::POLICY_VIOLATION,
        TopicError::Log(e) => log_code(e),
    }
}

/// The Kafka error code for a storage error.
fn log_code(e: &LogError) -> i16 {
    match e {
        LogError::InvalidTopic { .. } => code::INVALID_TOPIC_EXCEPTION,
        LogError::UnknownTopic(_) => code::UNKNOWN_TOPIC_OR_PARTITION,
        LogError::MessageTooLarge { .. } => code::MESSAGE_TOO_LARGE,
        LogError::OffsetOutOfRange { .. } => code::OFFSET_OUT_OF_RANGE,
        LogError::Corrupt { .. } => code::CORRUPT_MESSAGE,
        LogError::OffsetsExhausted { .. } | LogError::Io { .. } | LogError::SyncFailed { .. } => {
            code::KAFKA_STORAGE_ERROR
        }
    }
}

/// The Kafka error code for a refused record batch.
fn records_code(e: &records::RecordsError) -> i16 {
    match e {
        records::RecordsError::Compressed { .. } => code::UNSUPPORTED_COMPRESSION_TYPE,
        _ => code::CORRUPT_MESSAGE,
    }
}

fn topic_name(name: String) -> TopicName {
    TopicName(StrBytes::from_string(name))
}
