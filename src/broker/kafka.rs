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
//! | a partition's batches hold over [`records::MAX_RECORDS_PER_PARTITION`] records | RECORD_LIST_TOO_LARGE (18) |
//! | a partition's records hold more than one batch (Kafka's rule for Produce v3+) | INVALID_RECORD (87) |
//! | a transactional id                             | TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53), every partition |
//! | acks not 0, 1 or −1                            | INVALID_REQUIRED_ACKS (21)             |
//! | a partition named twice, or more than [`MAX_PARTITIONS_PER_REQUEST`] in one request | INVALID_REQUEST (42), every partition |
//! | a topic to create past `--max-topics`          | POLICY_VIOLATION (44)                  |
//! | the log's files failed                         | KAFKA_STORAGE_ERROR (56)               |
//! | DeleteTopics without `--delete-topics`         | TOPIC_DELETION_DISABLED (73), every topic |
//! | idempotent batch out of sequence, old epoch, unknown producer id | 45, 47, 59 ([`super::idempotence`]) |
//! | an idempotent batch's state entry could not be written | KAFKA_STORAGE_ERROR (56), nothing written |
//!
//! Group requests and InitProducerId are decoded and served in `super::kafka_groups`;
//! DeleteTopics in `admin`.
//!
//! Produce with `acks = 0` gets no response at all (Kafka's rule); with 1 or −1 it is answered
//! once the append (and, under `--fsync always`, its sync) is done — one broker is every
//! replica there is. A Fetch that finds no record waits up to `max_wait_ms` (at most
//! [`super::shared::MAX_WAIT`]) on the topic's append signal, never holding the strategy's lock, after
//! flushing the replies to earlier requests.
//!
//! A Fetch reply is bounded before it is read: the request's `max_bytes`, capped by
//! `--max-fetch-bytes` and half the frame limit, is the budget over all its partitions, and a
//! partition's `partition_max_bytes` (capped the same way) its own. Every record counts its
//! value plus [`records::SERVED_RECORD_OVERHEAD_BYTES`] (19, the most its framing in a record
//! batch takes), so empty records are not free. The first record found is served even past
//! both (Kafka's rule); every other only if it fits what is left (a partition is not read at
//! all once nothing is), so a reply's records take at most the budget plus one record.

mod admin;
mod fetch;

use super::idempotence::BatchId;
use super::kafka_groups::{decode_group, serve_group, GroupRequest};
use super::log_limit::RateLimited;
use super::producer_file::values_crc;
use super::shared::{chain, Shared, TopicError};
use crate::kafka::{
    code, decode_request, encode_frame, records, shape, Direction, KafkaError, MAX_PARTITIONS_PER_REQUEST,
    SERVED_APIS,
};
use crate::protocol::connection::{Connection, ConnectionError, WRITE_BUFFER_FLUSH_BYTES};
use crate::storage::{validate_topic_name, LogError};
use crate::strategies::SyncStrategy;
use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, DeleteTopicsRequest, FetchRequest, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use std::collections::HashSet;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;

/// Log lines a client can cause, each kind at most once a second ([`super::log_limit`]): a
/// connection closed for a bad request, an unsupported api or version, refused record batches.
static CLOSED: RateLimited = RateLimited::new();
static UNSUPPORTED: RateLimited = RateLimited::new();
static REFUSED_RECORDS: RateLimited = RateLimited::new();

/// The node id of the one broker there is.
pub(super) const NODE_ID: i32 = 0;

/// The capacity the reply buffer keeps between replies; a larger reply's room is given back.
const REPLY_BUFFER_KEEP_BYTES: usize = 64 * 1024;

/// ListOffsets' timestamp for the first offset.
const EARLIEST: i64 = -2;
/// ListOffsets' timestamp for the next offset (the high watermark).
const LATEST: i64 = -1;

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
    /// DeleteTopics at a version (answered in the same version).
    DeleteTopics(i16, DeleteTopicsRequest),
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
    /// Scratch space for encoding one response; keeps at most [`REPLY_BUFFER_KEEP_BYTES`]
    /// while the connection waits for its next request.
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
    conn.share_budget(shared.buffers.clone());
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
        if !conn.has_buffered_frame() {
            if conn.flush().is_err() {
                break;
            }
            // Idle until the next request: keep only modest reply room. Replies in a burst
            // reuse one buffer, so a consumer's run of large Fetch replies does not re-grow it.
            session.out.shrink_to(REPLY_BUFFER_KEEP_BYTES);
        }
    }
    let _ = conn.flush();
}

impl<S: SyncStrategy> Session<'_, S> {
    fn log_close(&self, e: &KafkaError) {
        if !self.shared.stopping.load(Ordering::Acquire) {
            CLOSED.log(|| format!("synclog: kafka {}: closing the connection: {}", self.peer, chain(e)));
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
        self.send(conn)
    }

    /// Sends the reply encoded in `out`, then gives back what `out` grew past
    /// [`REPLY_BUFFER_KEEP_BYTES`]. A small reply is queued behind the earlier ones; a larger
    /// one is sent from `out` itself once they are flushed, so it is never held twice.
    fn send(&mut self, conn: &mut Connection) -> Result<(), KafkaError> {
        let sent = if self.out.len() <= WRITE_BUFFER_FLUSH_BYTES {
            conn.write_frame_bytes(&self.out)
        } else {
            conn.flush().and_then(|()| conn.write_through(&self.out))
        };
        self.out.clear();
        Ok(sent?)
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
    // Checked in place; copied only once it passed (see `decode_request`).
    let body = &frame[header_bytes..];
    let request = match api {
        ApiKey::ApiVersions => Request::ApiVersions { version },
        ApiKey::Metadata => {
            let request_shape = match version {
                0 => shape::METADATA_V0_REQUEST,
                1..=3 => shape::METADATA_V1_REQUEST,
                _ => shape::METADATA_V4_REQUEST,
            };
            Request::Metadata(version, decode_request(api, version, request_shape, body)?)
        }
        ApiKey::Produce => Request::Produce(decode_request(api, version, shape::PRODUCE_V3_REQUEST, body)?),
        ApiKey::ListOffsets => {
            let request_shape = match version {
                1 => shape::LIST_OFFSETS_V1_REQUEST,
                _ => shape::LIST_OFFSETS_V2_REQUEST,
            };
            Request::ListOffsets(version, decode_request(api, version, request_shape, body)?)
        }
        ApiKey::Fetch => Request::Fetch(decode_request(api, version, shape::FETCH_V4_REQUEST, body)?),
        ApiKey::DeleteTopics => Request::DeleteTopics(
            version,
            decode_request(api, version, shape::DELETE_TOPICS_V1_REQUEST, body)?,
        ),
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
            let body = fetch::fetch(session.shared, conn, request);
            session.respond(conn, ApiKey::Fetch, 4, id, &body)
        }
        Request::DeleteTopics(version, request) => {
            let body = admin::delete_topics(session.shared, request);
            session.respond(conn, ApiKey::DeleteTopics, version, id, &body)
        }
        Request::Group(version, request) => {
            // JoinGroup and SyncGroup may wait for other members: answer earlier requests first.
            conn.flush()?;
            let ids = &mut session.producer_ids;
            serve_group(session.shared, session.advertised, version, id, request, ids, &mut session.out)?;
            session.send(conn)
        }
        Request::Unsupported { api_key, version } => {
            let api =
                ApiKey::try_from(api_key).map_or_else(|_| format!("api {api_key}"), |k| format!("{k:?}"));
            UNSUPPORTED.log(|| {
                format!(
                    "synclog: kafka {}: {api} v{version} is not supported; answered UNSUPPORTED_VERSION",
                    session.peer
                )
            });
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
/// null one from v1 on (where an empty list asks for none). A request naming more than
/// [`MAX_PARTITIONS_PER_REQUEST`] topics has each answered INVALID_REQUEST, none created.
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
    let too_many = request.topics.as_ref().is_some_and(|t| t.len() > MAX_PARTITIONS_PER_REQUEST);
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
            let found = match (too_many, create) {
                (true, _) => Err(code::INVALID_REQUEST),
                (false, true) => session.shared.topic_or_create(&name).map_err(|e| topic_code(&e)),
                (false, false) => session.shared.topics.get(&name).ok_or(code::UNKNOWN_TOPIC_OR_PARTITION),
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
                Err(error_code) => (error_code, Vec::new()),
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

/// Produce: every partition's records appended contiguously; the answer per partition. A
/// transactional id refuses every partition (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as
/// InitProducerId does): transactions are not served.
fn produce<S: SyncStrategy>(session: &Session<'_, S>, request: ProduceRequest) -> ProduceResponse {
    let acks_valid = matches!(request.acks, -1..=1);
    let transactional = request.transactional_id.is_some();
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
                    let appended = match (valid, transactional, acks_valid) {
                        (false, _, _) => Err(code::INVALID_REQUEST),
                        (true, true, _) => Err(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
                        (true, false, false) => Err(code::INVALID_REQUIRED_ACKS),
                        (true, false, true) => append(session, &topic.name, data.index, data.records),
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
        REFUSED_RECORDS
            .log(|| format!("synclog: kafka {}: produce to {topic} refused: {}", session.peer, chain(&e)));
        records_code(&e)
    })?;
    if batches.is_empty() || batches.iter().any(|b| b.values.is_empty()) {
        return Err(code::CORRUPT_MESSAGE);
    }
    // Kafka's rule for Produce v3+: one batch per partition. Each idempotent batch costs a
    // write of the producers' state (a sync under `--fsync always`), so without the rule one
    // request of 20 000 one-record batches cost 20 000 of them.
    let Ok([b]) = <[_; 1]>::try_from(batches) else {
        return Err(code::INVALID_RECORD);
    };
    let max = session.shared.config.max_message_bytes;
    if b.values.iter().any(|v| v.len() > max as usize) {
        return Err(code::MESSAGE_TOO_LARGE);
    }
    let name = topic;
    let topic = session.shared.topic_or_create(topic).map_err(|e| topic_code(&e))?;
    let append = || topic.append_batch(&b.values).map_err(|e| log_code(&e));
    if b.producer_id < 0 {
        return append();
    }
    // An idempotent producer's batch: written once (see super::idempotence).
    let id = BatchId {
        topic: name,
        producer_id: b.producer_id,
        epoch: b.producer_epoch,
        base_sequence: b.base_sequence,
        records: b.values.len(),
        values_crc: values_crc(b.values.iter().map(|v| &v[..])),
    };
    session.shared.producers.append_once(id, || topic.log.next_offset(), append)
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

/// Whether a request's partitions are acceptable: at most [`MAX_PARTITIONS_PER_REQUEST`], none
/// named twice. Checked before anything is read, created or appended.
pub(super) fn partitions_valid<'a>(partitions: impl Iterator<Item = (&'a str, i32)>) -> bool {
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
        LogError::Corrupt { .. } | LogError::Missing { .. } => code::CORRUPT_MESSAGE,
        LogError::OffsetsExhausted { .. }
        | LogError::Io { .. }
        | LogError::SyncFailed { .. }
        | LogError::DataDirInUse { .. }
        | LogError::NotATopicDir { .. } => code::KAFKA_STORAGE_ERROR,
    }
}

/// The Kafka error code for a refused record batch.
fn records_code(e: &records::RecordsError) -> i16 {
    match e {
        records::RecordsError::Compressed { .. } => code::UNSUPPORTED_COMPRESSION_TYPE,
        records::RecordsError::TooManyRecords { .. } => code::RECORD_LIST_TOO_LARGE,
        _ => code::CORRUPT_MESSAGE,
    }
}

fn topic_name(name: String) -> TopicName {
    TopicName(StrBytes::from_string(name))
}
