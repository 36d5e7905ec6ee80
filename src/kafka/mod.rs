//! The Kafka wire protocol: message shapes, record batches, error codes and a client for the
//! harness; the broker's Kafka listener ([`crate::broker::kafka`]) serves with them.
//!
//! Users who outgrow one machine move to Kafka itself. This module lets synclog meet them
//! there: `broker --kafka-listen ADDR` opens a listener that real Kafka clients (kcat,
//! librdkafka, the Java client with the versions below) can produce to and consume from, on the
//! *same* topics and logs as the synclog protocol; and `harness --target kafka://HOST:PORT`
//! drives any Kafka-protocol cluster with the same workload and the same integrity checker.
//!
//! # The protocol in one page
//!
//! Kafka frames look like synclog's: `length: i32` (the bytes after it), then the message.
//! A request opens with a header naming what it is; a response opens with the correlation id
//! of the request it answers (responses come back in request order on one connection).
//!
//! | request header v1 (all integers big-endian) | response header v0        |
//! |---------------------------------------------|---------------------------|
//! | api key: i16                                | correlation id: i32       |
//! | api version: i16                            |                           |
//! | correlation id: i32                         |                           |
//! | client id: i16 length (−1: null) + UTF-8    |                           |
//!
//! Every api has numbered versions; a client first asks which ones the broker speaks
//! (ApiVersions) and then uses the highest version both sides know. synclog speaks the versions
//! below — enough for an idempotent producer and a consumer in a group:
//!
//! | api (key)        | version | what synclog does with it                                           |
//! |------------------|---------|---------------------------------------------------------------------|
//! | Produce (0)      | 3       | appends every record's value to partition 0, contiguously; acks 0, 1 and −1 |
//! | Fetch (1)        | 4       | serves partition 0 from an offset as RecordBatch v2 (each of 1 024 records or more, but the last); long-polls up to `max_wait_ms` |
//! | ListOffsets (2)  | 1–2     | timestamp −2 (earliest) is offset 0, −1 (latest) the high watermark |
//! | Metadata (3)     | 0–4     | this one broker (node 0) leads partition 0 of every topic; creates a requested topic that is missing (v4: only when the request allows it) |
//! | ApiVersions (18) | 0–2     | the table above; a newer version is answered in v0 with error 35 |
//! | InitProducerId (22) | 0–1  | a producer id for an idempotent producer ([`crate::broker::idempotence`]) |
//! | FindCoordinator (10), JoinGroup (11), SyncGroup (14), Heartbeat (12), LeaveGroup (13), OffsetCommit (8), OffsetFetch (9) | 0–2, 0–5, 0–3, 0–3, 0–3, 2–7, 1–5 | consumer groups with durable committed offsets ([`crate::broker::groups`]) |
//!
//! The exact fields of each message are in [`shape`], the record batch in [`records`].
//!
//! # Invariants
//!
//! - **One log, two doors.** A Kafka message's value is stored as a synclog message payload
//!   and the broker assigns the offsets, so a message produced with kcat is consumed with
//!   `synclog consume` at the same offset, and the other way round.
//! - **One partition.** Each topic is a single log, so each topic has exactly partition 0;
//!   any other partition is UNKNOWN_TOPIC_OR_PARTITION (3).
//! - **Nothing unchecked reaches the codec.** The `kafka-protocol` crate encodes and decodes
//!   (varints, CRC-32C, every message but a Produce's record batches, which [`records`] walks
//!   and decodes itself), but its decoders trust element counts; so each frame's
//!   length is checked against the broker's `--max-frame-bytes` before it is read, and each
//!   message against its shape before it is decoded ([`shape`], [`records`]); a request's
//!   arrays may hold at most [`MAX_ELEMENTS_PER_REQUEST`] elements in all.
//! - **No surprises for a client.** An api or version not in the table is answered with its
//!   correlation id and error 35 (UNSUPPORTED_VERSION) and the connection stays open; a frame
//!   that cannot be parsed at all closes the connection, as a Kafka broker does. Neither
//!   ever panics or hangs the listener.
//!
//! # Not supported
//!
//! Compression (a compressed batch is refused with UNSUPPORTED_COMPRESSION_TYPE, 76),
//! transactions (a transactional id or batch is refused), static group membership, the KIP-848 consumer protocol and the admin
//! apis, flexible versions, more than one partition per topic, timestamps (records are served
//! with timestamp −1), and TLS or SASL.

pub mod client;
pub mod records;
pub mod shape;

use crate::protocol::connection::ConnectionError;
use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};
use std::error::Error;
use thiserror::Error;

pub use records::RecordsError;
pub use shape::ShapeError;

/// The apis and version ranges the broker's Kafka listener serves, as `(api, min, max)`: what
/// its ApiVersions advertises. Metadata up to v4 tells a client's version inference (kafka-python,
/// librdkafka) that the broker speaks Kafka 0.11's RecordBatch v2.
/// The group apis stop at their last version before Kafka's flexible encoding.
pub const SERVED_APIS: [(ApiKey, i16, i16); 14] = [
    (ApiKey::Produce, 3, 3),
    (ApiKey::Fetch, 4, 4),
    (ApiKey::ListOffsets, 1, 2),
    (ApiKey::Metadata, 0, 4),
    (ApiKey::OffsetCommit, 2, 7),
    (ApiKey::OffsetFetch, 1, 5),
    (ApiKey::FindCoordinator, 0, 2),
    (ApiKey::JoinGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 3),
    (ApiKey::LeaveGroup, 0, 3),
    (ApiKey::SyncGroup, 0, 3),
    (ApiKey::ApiVersions, 0, 2),
    (ApiKey::InitProducerId, 0, 1),
    (ApiKey::DeleteTopics, 1, 3),
];

/// The apis and versions synclog's own client speaks, as `(api, version)`; each is within
/// [`SERVED_APIS`].
pub const SUPPORTED_APIS: [(ApiKey, i16); 5] = [
    (ApiKey::Produce, 3),
    (ApiKey::Fetch, 4),
    (ApiKey::ListOffsets, 1),
    (ApiKey::Metadata, 0),
    (ApiKey::ApiVersions, 0),
];

/// The most partitions (over all topics) one Produce, Fetch, ListOffsets, OffsetCommit or
/// OffsetFetch may name, and the most topics one Metadata may name. Every partition (Metadata:
/// every topic) of a request naming more is answered INVALID_REQUEST (42) and none is served;
/// so is every partition of a Produce, Fetch or ListOffsets naming one partition twice.
pub const MAX_PARTITIONS_PER_REQUEST: usize = 1000;

/// The most array elements (topics, partitions, protocols, members, … at every depth, counted
/// together) one request may hold. A request holding more is refused by its shape check as
/// the count that passes the cap is read, before anything is decoded, and closes the
/// connection: its answer would have to list each element, and most of the apis have no
/// error for the request as a whole. Ten times [`MAX_PARTITIONS_PER_REQUEST`], so a request
/// past that cap but within this one is still answered element by element.
pub const MAX_ELEMENTS_PER_REQUEST: usize = 10 * MAX_PARTITIONS_PER_REQUEST;

/// The Kafka error codes synclog answers with (Kafka's numbers, stable across versions).
pub mod code {
    use kafka_protocol::error::ResponseError;

    /// No error.
    pub const NONE: i16 = 0;
    /// The offset is past the end of the log (or negative).
    pub const OFFSET_OUT_OF_RANGE: i16 = ResponseError::OffsetOutOfRange.code();
    /// A record batch fails its CRC or is malformed; or the stored record at the fetch
    /// offset fails its CRC (synclog's CorruptLog).
    pub const CORRUPT_MESSAGE: i16 = ResponseError::CorruptMessage.code();
    /// The topic does not exist, or the partition is not 0.
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = ResponseError::UnknownTopicOrPartition.code();
    /// A record value is larger than the broker's `--max-message-bytes`.
    pub const MESSAGE_TOO_LARGE: i16 = ResponseError::MessageTooLarge.code();
    /// The topic name breaks the naming rule (1–249 of `[A-Za-z0-9._-]`, not `.` or `..`).
    pub const INVALID_TOPIC_EXCEPTION: i16 = ResponseError::InvalidTopicException.code();
    /// Produce `acks` other than 0, 1 or −1.
    pub const INVALID_REQUIRED_ACKS: i16 = ResponseError::InvalidRequiredAcks.code();
    /// An api or version that is not in [`super::SERVED_APIS`].
    pub const UNSUPPORTED_VERSION: i16 = ResponseError::UnsupportedVersion.code();
    /// The log's files failed.
    pub const KAFKA_STORAGE_ERROR: i16 = ResponseError::KafkaStorageError.code();
    /// DeleteTopics on a broker started without `--delete-topics`.
    pub const TOPIC_DELETION_DISABLED: i16 = ResponseError::TopicDeletionDisabled.code();
    /// A compressed record batch.
    pub const UNSUPPORTED_COMPRESSION_TYPE: i16 = ResponseError::UnsupportedCompressionType.code();
    /// A Produce or Metadata that would create a topic past the broker's `--max-topics`.
    pub const POLICY_VIOLATION: i16 = ResponseError::PolicyViolation.code();
    /// A request naming one partition twice, or more partitions than
    /// [`super::MAX_PARTITIONS_PER_REQUEST`].
    pub const INVALID_REQUEST: i16 = ResponseError::InvalidRequest.code();
    /// A committed offset's metadata over the broker's limit.
    pub const OFFSET_METADATA_TOO_LARGE: i16 = ResponseError::OffsetMetadataTooLarge.code();
    /// The broker is stopping while a group request waits.
    pub const COORDINATOR_NOT_AVAILABLE: i16 = ResponseError::CoordinatorNotAvailable.code();
    /// A FindCoordinator for a key type other than a group (0).
    pub const NOT_COORDINATOR: i16 = ResponseError::NotCoordinator.code();
    /// A generation other than the group's current one.
    pub const ILLEGAL_GENERATION: i16 = ResponseError::IllegalGeneration.code();
    /// A member whose protocol type or protocols share nothing with the group's.
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = ResponseError::InconsistentGroupProtocol.code();
    /// An empty group id, or one past the length limit.
    pub const INVALID_GROUP_ID: i16 = ResponseError::InvalidGroupId.code();
    /// A member id the group does not hold (or a group that does not exist).
    pub const UNKNOWN_MEMBER_ID: i16 = ResponseError::UnknownMemberId.code();
    /// A session timeout outside the broker's range.
    pub const INVALID_SESSION_TIMEOUT: i16 = ResponseError::InvalidSessionTimeout.code();
    /// The group is rebalancing: rejoin.
    pub const REBALANCE_IN_PROGRESS: i16 = ResponseError::RebalanceInProgress.code();
    /// A group that already holds its most members.
    pub const GROUP_MAX_SIZE_REACHED: i16 = ResponseError::GroupMaxSizeReached.code();
    /// An idempotent batch whose sequence is not the next one expected.
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = ResponseError::OutOfOrderSequenceNumber.code();
    /// An idempotent batch from an epoch older than the producer's.
    pub const INVALID_PRODUCER_EPOCH: i16 = ResponseError::InvalidProducerEpoch.code();
    /// An idempotent batch from a producer id the broker never gave out.
    pub const UNKNOWN_PRODUCER_ID: i16 = ResponseError::UnknownProducerId.code();
    /// A Produce whose batches for one partition hold more than
    /// [`super::records::MAX_RECORDS_PER_PARTITION`] records.
    pub const RECORD_LIST_TOO_LARGE: i16 = ResponseError::RecordListTooLarge.code();
    /// A Produce partition whose records hold more than one batch (Kafka's rule for Produce v3
    /// and later: exactly one batch per partition).
    pub const INVALID_RECORD: i16 = ResponseError::InvalidRecord.code();
    /// A transactional id: transactions are not supported.
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 =
        ResponseError::TransactionalIdAuthorizationFailed.code();
    /// Anything else.
    pub const UNKNOWN_SERVER_ERROR: i16 = ResponseError::UnknownServerError.code();

    /// Kafka's name for an error code, for messages a person reads.
    pub fn name(code: i16) -> String {
        match ResponseError::try_from_code(code) {
            None => "NONE".into(),
            Some(ResponseError::Unknown(c)) => format!("error {c}"),
            Some(e) => format!("{e:?} ({code})"),
        }
    }
}

/// Whether a message is a request or a response (for error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Request => "request",
            Direction::Response => "response",
        })
    }
}

/// A Kafka message that could not be read or written.
#[derive(Debug, Error)]
pub enum KafkaError {
    /// A frame too short to hold its header.
    #[error("a Kafka frame of {size} bytes is too short for its header")]
    ShortFrame {
        /// The frame's length.
        size: usize,
    },
    /// A message that does not fit its shape (see [`shape`]).
    #[error("malformed Kafka {api:?} v{version} {direction}")]
    Shape {
        api: ApiKey,
        version: i16,
        direction: Direction,
        #[source]
        source: ShapeError,
    },
    /// The codec refused a message that fits its shape.
    #[error("cannot decode Kafka {api:?} v{version} {direction}")]
    Decode {
        api: ApiKey,
        version: i16,
        direction: Direction,
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
    /// The codec could not encode a message (a string over 32 767 bytes, …).
    #[error("cannot encode Kafka {api:?} v{version} {direction}")]
    Encode {
        api: ApiKey,
        version: i16,
        direction: Direction,
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
    /// Record batches that were refused (see [`records`]).
    #[error(transparent)]
    Records(#[from] RecordsError),
    /// The connection failed: I/O, a timeout, a frame over the limit.
    #[error("the Kafka connection failed")]
    Connection(#[from] ConnectionError),
    /// A client could not connect.
    #[error("cannot connect to the Kafka broker at {addr}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// A `--target` that is not `kafka://HOST:PORT`.
    #[error("{target:?} is not a Kafka target: write kafka://HOST:PORT")]
    BadTarget { target: String },
    /// The broker closed the connection before answering.
    #[error("the Kafka broker closed the connection before answering {api:?}")]
    Closed { api: ApiKey },
    /// Nothing answered the first request (ApiVersions) within `waited`: a server that accepts
    /// connections and does not speak Kafka.
    #[error(
        "no answer to ApiVersions within {} s of connecting (is the peer a Kafka broker?)",
        waited.as_secs_f64()
    )]
    Silent { waited: std::time::Duration },
    /// The connection failed earlier (its first failure is `why`): this request was not sent.
    #[error("not sent: the Kafka connection failed earlier ({why})")]
    Broken { why: String },
    /// The connection failed (its first failure is `why`) while this request was in flight: it
    /// got no answer and may or may not have been carried out.
    #[error("no answer: the Kafka connection failed ({why})")]
    Unanswered { why: String },
    /// A response for another request than the oldest one outstanding.
    #[error("the Kafka broker answered correlation id {received} where {expected} was due")]
    CorrelationMismatch { expected: i32, received: i32 },
    /// The broker does not speak a version the client needs.
    #[error("the Kafka broker does not support {api:?} v{version}, which synclog needs")]
    NotAdvertised { api: ApiKey, version: i16 },
    /// The broker answered with an error code.
    #[error("the Kafka broker answered {api:?} with {}", code::name(*code))]
    Broker { api: ApiKey, code: i16 },
    /// A topic that could not be made ready for a run.
    #[error("topic {topic} is not available: {reason}")]
    TopicUnavailable { topic: String, reason: String },
}

impl KafkaError {
    /// The Kafka error code the broker answered with, if that is what this is.
    pub fn code(&self) -> Option<i16> {
        match self {
            KafkaError::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Checks `bytes` against `shape`, then decodes a `T` at `version`.
pub(crate) fn decode<T: Decodable>(
    api: ApiKey,
    version: i16,
    direction: Direction,
    shape: &[shape::Field],
    mut bytes: Bytes,
) -> Result<T, KafkaError> {
    shape::check(shape, &bytes).map_err(|source| KafkaError::Shape { api, version, direction, source })?;
    T::decode(&mut bytes, version).map_err(|e| KafkaError::Decode {
        api,
        version,
        direction,
        source: e.into(),
    })
}

/// Checks a request body against `shape`, at most [`MAX_ELEMENTS_PER_REQUEST`] array elements
/// in all, and only then copies and decodes it as a `T` at `version`.
pub(crate) fn decode_request<T: Decodable>(
    api: ApiKey,
    version: i16,
    shape: &[shape::Field],
    body: &[u8],
) -> Result<T, KafkaError> {
    let direction = Direction::Request;
    shape::check_limited(shape, body, MAX_ELEMENTS_PER_REQUEST).map_err(|source| KafkaError::Shape {
        api,
        version,
        direction,
        source,
    })?;
    T::decode(&mut Bytes::copy_from_slice(body), version).map_err(|e| KafkaError::Decode {
        api,
        version,
        direction,
        source: e.into(),
    })
}

/// Appends one frame to `out`: the length prefix, `header` (already encoded), then `body` at
/// `version`. On error nothing is appended.
pub(crate) fn encode_frame<T: Encodable>(
    api: ApiKey,
    version: i16,
    direction: Direction,
    header: &[u8],
    body: &T,
    out: &mut Vec<u8>,
) -> Result<(), KafkaError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(header);
    if let Err(e) = body.encode(out, version) {
        out.truncate(start);
        return Err(KafkaError::Encode { api, version, direction, source: e.into() });
    }
    let length = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&length.to_be_bytes());
    Ok(())
}
