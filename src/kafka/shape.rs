//! Wire shapes: a bounds check that every Kafka message passes before the codec decodes it.
//!
//! # Why the codec needs a guard
//!
//! The `kafka-protocol` crate decodes an array by reading its element count and calling
//! `Vec::with_capacity(count)` *before* it decodes a single element. The count is whatever the
//! peer wrote: eight bytes announcing a Metadata request with 2³¹ − 1 topics ask the allocator
//! for some 150 GiB, and a failed allocation aborts the process — it is not a panic that a
//! connection thread could catch. (The crate's maintainers know; fixes were still under review
//! when this was written.) One bad client must never take the broker down, and one hostile
//! server must never take the harness down, so nothing reaches the codec unchecked.
//!
//! # What the check does
//!
//! A *shape* is a message's field layout for one version, written as the Kafka protocol guide
//! writes it, for example Metadata v0's request: `[topics: STRING]`. [`check`] walks the bytes
//! along the shape without building anything:
//!
//! - a `STRING` or `BYTES` length must be −1 (null) or fit in the bytes that remain;
//! - an `ARRAY` count must be −1 (null) or at most the bytes that remain — every Kafka element
//!   takes at least one byte on the wire, so a larger count cannot be a real message — and
//!   then each element is walked in turn;
//! - the message must end exactly where the shape ends.
//!
//! A message that passes has only real elements, so the codec's allocations are bounded by the
//! frame (itself checked against `max_frame_bytes` before it was read). The walk allocates
//! nothing and recurses only as deep as the static shapes nest (three levels).
//!
//! That bound is still some 40 times the frame: the codec builds a struct of 50–150 bytes for
//! each element, and an empty topic name takes two bytes on the wire. So [`check_limited`]
//! also caps the elements of all the message's arrays together (every array at every depth
//! counts, a null or empty one none): the count that would pass the cap is refused as it is
//! read, before the walk goes on and long before anything is decoded. The broker checks every
//! request this way (`crate::kafka::MAX_ELEMENTS_PER_REQUEST`); a client reading a response
//! from a real Kafka cluster, which may list any number of topics, does not.
//!
//! Only the non-flexible versions synclog speaks are described here (no compact arrays, no
//! tagged fields). The record batches inside Produce and Fetch are `BYTES` to this walk; their
//! own check lives in [`super::records`].

use thiserror::Error;

/// One field of a non-flexible Kafka message (all integers big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// INT8: one byte.
    Int8,
    /// INT16: two bytes.
    Int16,
    /// INT32: four bytes.
    Int32,
    /// INT64: eight bytes.
    Int64,
    /// STRING or NULLABLE_STRING: an INT16 length (−1: null), then that many UTF-8 bytes.
    String,
    /// BYTES or NULLABLE_BYTES (records): an INT32 length (−1: null), then that many bytes.
    Bytes,
    /// ARRAY: an INT32 count (−1: null), then that many elements of the given shape.
    Array(&'static [Field]),
}

use Field::{Array, Bytes, Int16, Int32, Int64, Int8, String};

/// Why a message does not fit its shape. Positions count from the start of the checked bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShapeError {
    /// The bytes end inside a field.
    #[error("the message ends inside a field at byte {position}")]
    Truncated {
        /// Where the field that does not fit begins.
        position: usize,
    },
    /// A length or count below −1.
    #[error("a length of {length} at byte {position}")]
    NegativeLength {
        /// Where the length is.
        position: usize,
        /// The length read.
        length: i32,
    },
    /// An array count larger than the bytes that follow it.
    #[error("an array at byte {position} claims {count} elements but only {remaining} bytes follow")]
    ImpossibleCount {
        /// Where the count is.
        position: usize,
        /// The count read.
        count: i32,
        /// The bytes after the count.
        remaining: usize,
    },
    /// The arrays hold more elements in all than the check allows.
    #[error("an array at byte {position} takes the message past {limit} array elements in all")]
    TooManyElements {
        /// Where the count that passes the limit is.
        position: usize,
        /// The most elements allowed.
        limit: usize,
    },
    /// Bytes left over after the last field.
    #[error("{extra} unexpected bytes after the end of the message")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
}

/// The request header v1 that every request synclog serves begins with: api key, api
/// version, correlation id, client id.
pub const REQUEST_HEADER_V1: &[Field] = &[Int16, Int16, Int32, String];

/// ApiVersions v0 request: no fields.
pub const API_VERSIONS_V0_REQUEST: &[Field] = &[];
/// ApiVersions v0 response: error code, `[api key, min version, max version]`.
pub const API_VERSIONS_V0_RESPONSE: &[Field] = &[Int16, Array(&[Int16, Int16, Int16])];

/// Metadata v0 request: `[topic name]` (empty: every topic).
pub const METADATA_V0_REQUEST: &[Field] = &[Array(&[String])];
/// Metadata v0 response: `[node id, host, port]`, then `[error, name, [error, partition,
/// leader, [replica], [in-sync replica]]]`.
pub const METADATA_V0_RESPONSE: &[Field] = &[
    Array(&[Int32, String, Int32]),
    Array(&[Int16, String, Array(&[Int16, Int32, Int32, Array(&[Int32]), Array(&[Int32])])]),
];

/// Metadata v1–v3 request: `[topic name]`, null for every topic (empty: none).
pub const METADATA_V1_REQUEST: &[Field] = &[Array(&[String])];
/// Metadata v4 request: `[topic name]` (null: every topic), allow auto topic creation.
pub const METADATA_V4_REQUEST: &[Field] = &[Array(&[String]), Int8];

/// Produce v3 request: transactional id, acks, timeout, `[topic, [partition, records]]`.
pub const PRODUCE_V3_REQUEST: &[Field] = &[String, Int16, Int32, Array(&[String, Array(&[Int32, Bytes])])];
/// Produce v3 response: `[topic, [partition, error, base offset, log append time]]`, throttle.
pub const PRODUCE_V3_RESPONSE: &[Field] = &[Array(&[String, Array(&[Int32, Int16, Int64, Int64])]), Int32];

/// ListOffsets v1 request: replica id, `[topic, [partition, timestamp]]`.
pub const LIST_OFFSETS_V1_REQUEST: &[Field] = &[Int32, Array(&[String, Array(&[Int32, Int64])])];
/// ListOffsets v2 request: replica id, isolation level, `[topic, [partition, timestamp]]`.
pub const LIST_OFFSETS_V2_REQUEST: &[Field] = &[Int32, Int8, Array(&[String, Array(&[Int32, Int64])])];
/// ListOffsets v1 response: `[topic, [partition, error, timestamp, offset]]`.
pub const LIST_OFFSETS_V1_RESPONSE: &[Field] = &[Array(&[String, Array(&[Int32, Int16, Int64, Int64])])];

/// Fetch v4 request: replica id, max wait, min bytes, max bytes, isolation level,
/// `[topic, [partition, fetch offset, partition max bytes]]`.
pub const FETCH_V4_REQUEST: &[Field] =
    &[Int32, Int32, Int32, Int32, Int8, Array(&[String, Array(&[Int32, Int64, Int32])])];
/// Fetch v4 response: throttle, `[topic, [partition, error, high watermark, last stable
/// offset, [aborted producer id, first offset], records]]`.
pub const FETCH_V4_RESPONSE: &[Field] =
    &[Int32, Array(&[String, Array(&[Int32, Int16, Int64, Int64, Array(&[Int64, Int64]), Bytes])])];

/// FindCoordinator v0 request: group id.
pub const FIND_COORDINATOR_V0_REQUEST: &[Field] = &[String];
/// FindCoordinator v1–v2 request: key, key type.
pub const FIND_COORDINATOR_V1_REQUEST: &[Field] = &[String, Int8];

/// A member's protocols in JoinGroup: `[name, metadata]`.
const PROTOCOLS: Field = Array(&[String, Bytes]);
/// JoinGroup v0 request: group, session timeout, member, protocol type, protocols.
pub const JOIN_GROUP_V0_REQUEST: &[Field] = &[String, Int32, String, String, PROTOCOLS];
/// JoinGroup v1–v4 request: group, session timeout, rebalance timeout, member, protocol type,
/// protocols.
pub const JOIN_GROUP_V1_REQUEST: &[Field] = &[String, Int32, Int32, String, String, PROTOCOLS];
/// JoinGroup v5 request: as v1, with the group instance id after the member id.
pub const JOIN_GROUP_V5_REQUEST: &[Field] = &[String, Int32, Int32, String, String, String, PROTOCOLS];

/// SyncGroup's assignments: `[member, assignment]`.
const ASSIGNMENTS: Field = Array(&[String, Bytes]);
/// SyncGroup v0–v2 request: group, generation, member, assignments.
pub const SYNC_GROUP_V0_REQUEST: &[Field] = &[String, Int32, String, ASSIGNMENTS];
/// SyncGroup v3 request: group, generation, member, group instance id, assignments.
pub const SYNC_GROUP_V3_REQUEST: &[Field] = &[String, Int32, String, String, ASSIGNMENTS];

/// Heartbeat v0–v2 request: group, generation, member.
pub const HEARTBEAT_V0_REQUEST: &[Field] = &[String, Int32, String];
/// Heartbeat v3 request: group, generation, member, group instance id.
pub const HEARTBEAT_V3_REQUEST: &[Field] = &[String, Int32, String, String];

/// LeaveGroup v0–v2 request: group, member.
pub const LEAVE_GROUP_V0_REQUEST: &[Field] = &[String, String];
/// LeaveGroup v3 request: group, `[member, group instance id]`.
pub const LEAVE_GROUP_V3_REQUEST: &[Field] = &[String, Array(&[String, String])];

/// OffsetCommit v2–v4 request: group, generation, member, retention time, `[topic,
/// [partition, offset, metadata]]`.
pub const OFFSET_COMMIT_V2_REQUEST: &[Field] =
    &[String, Int32, String, Int64, Array(&[String, Array(&[Int32, Int64, String])])];
/// OffsetCommit v5 request: as v2 without the retention time.
pub const OFFSET_COMMIT_V5_REQUEST: &[Field] =
    &[String, Int32, String, Array(&[String, Array(&[Int32, Int64, String])])];
/// OffsetCommit v6 request: as v5, with the leader epoch after each offset.
pub const OFFSET_COMMIT_V6_REQUEST: &[Field] =
    &[String, Int32, String, Array(&[String, Array(&[Int32, Int64, Int32, String])])];
/// OffsetCommit v7 request: as v6, with the group instance id after the member id.
pub const OFFSET_COMMIT_V7_REQUEST: &[Field] =
    &[String, Int32, String, String, Array(&[String, Array(&[Int32, Int64, Int32, String])])];

/// OffsetFetch v1–v5 request: group, `[topic, [partition]]` (null from v2: every topic).
pub const OFFSET_FETCH_V1_REQUEST: &[Field] = &[String, Array(&[String, Array(&[Int32])])];

/// DeleteTopics v1–v3 request: `[topic name]`, timeout (v0, the same shape, is not served:
/// the `kafka-protocol` crate no longer decodes it).
pub const DELETE_TOPICS_V1_REQUEST: &[Field] = &[Array(&[String]), Int32];

/// InitProducerId v0–v1 request: transactional id, transaction timeout.
pub const INIT_PRODUCER_ID_V0_REQUEST: &[Field] = &[String, Int32];

/// Checks that `bytes` is exactly one message of `shape`.
pub fn check(shape: &[Field], bytes: &[u8]) -> Result<(), ShapeError> {
    check_limited(shape, bytes, usize::MAX)
}

/// Checks that `bytes` is exactly one message of `shape` whose arrays hold at most
/// `max_elements` elements in all.
pub fn check_limited(shape: &[Field], bytes: &[u8], max_elements: usize) -> Result<(), ShapeError> {
    let mut elements = Elements { left: max_elements, limit: max_elements };
    let end = walk(shape, bytes, 0, &mut elements)?;
    match bytes.len() - end {
        0 => Ok(()),
        extra => Err(ShapeError::TrailingBytes { extra }),
    }
}

/// Checks that `bytes` begins with a message of `shape`; returns its length (a request
/// header, which the body follows).
pub fn prefix(shape: &[Field], bytes: &[u8]) -> Result<usize, ShapeError> {
    walk(shape, bytes, 0, &mut Elements { left: usize::MAX, limit: usize::MAX })
}

/// The array elements a walk may still meet.
struct Elements {
    left: usize,
    limit: usize,
}

/// Walks `shape` from `position`; returns where it ends.
fn walk(
    shape: &[Field],
    bytes: &[u8],
    mut position: usize,
    elements: &mut Elements,
) -> Result<usize, ShapeError> {
    for field in shape {
        position = match *field {
            Int8 => skip(bytes, position, 1)?,
            Int16 => skip(bytes, position, 2)?,
            Int32 => skip(bytes, position, 4)?,
            Int64 => skip(bytes, position, 8)?,
            String => {
                let length = i16::from_be_bytes(fixed(bytes, position)?);
                sized(bytes, position, 2, i32::from(length))?
            }
            Bytes => sized(bytes, position, 4, i32::from_be_bytes(fixed(bytes, position)?))?,
            Array(element) => {
                let count = i32::from_be_bytes(fixed(bytes, position)?);
                let mut next = position + 4;
                let remaining = bytes.len() - next;
                if count < -1 {
                    return Err(ShapeError::NegativeLength { position, length: count });
                }
                // The guard itself: a count the remaining bytes cannot hold never reaches the
                // codec's `with_capacity` (and never drives this loop either).
                if count > 0 && count as usize > remaining {
                    return Err(ShapeError::ImpossibleCount { position, count, remaining });
                }
                let count = count.max(0) as usize;
                elements.left = elements
                    .left
                    .checked_sub(count)
                    .ok_or(ShapeError::TooManyElements { position, limit: elements.limit })?;
                for _ in 0..count {
                    next = walk(element, bytes, next, elements)?;
                }
                next
            }
        };
    }
    Ok(position)
}

/// The `N` bytes at `position`.
fn fixed<const N: usize>(bytes: &[u8], position: usize) -> Result<[u8; N], ShapeError> {
    bytes
        .get(position..position + N)
        .and_then(|b| b.try_into().ok())
        .ok_or(ShapeError::Truncated { position })
}

/// The position after `n` bytes at `position`.
fn skip(bytes: &[u8], position: usize, n: usize) -> Result<usize, ShapeError> {
    match position.checked_add(n) {
        Some(end) if end <= bytes.len() => Ok(end),
        _ => Err(ShapeError::Truncated { position }),
    }
}

/// The position after a length prefix of `prefix` bytes holding `length`, and its data.
fn sized(bytes: &[u8], position: usize, prefix: usize, length: i32) -> Result<usize, ShapeError> {
    match length {
        -1 => skip(bytes, position, prefix),
        n if n < -1 => Err(ShapeError::NegativeLength { position, length: n }),
        n => skip(bytes, position, prefix + n as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i32s(values: &[i32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    #[test]
    fn a_metadata_request_with_two_topics_fits_its_shape() {
        let mut bytes = i32s(&[2]);
        for name in ["a", "bc"] {
            bytes.extend_from_slice(&(name.len() as i16).to_be_bytes());
            bytes.extend_from_slice(name.as_bytes());
        }
        assert_eq!(check(METADATA_V0_REQUEST, &bytes), Ok(()));
    }

    #[test]
    fn a_count_larger_than_the_bytes_left_is_refused_before_any_element() {
        // The eight-byte attack: a Metadata request announcing 54 million topics.
        let bytes = [0x03, 0x3c, 0x0c, 0x00, 0xb6];
        assert!(matches!(
            check(METADATA_V0_REQUEST, &bytes),
            Err(ShapeError::ImpossibleCount { position: 0, count: 0x033c_0c00, remaining: 1 })
        ));
        let bytes = i32s(&[i32::MAX]);
        assert!(matches!(check(METADATA_V0_REQUEST, &bytes), Err(ShapeError::ImpossibleCount { .. })));
    }

    #[test]
    fn null_arrays_and_strings_are_accepted_and_lower_lengths_refused() {
        assert_eq!(check(METADATA_V0_REQUEST, &i32s(&[-1])), Ok(()));
        assert!(matches!(
            check(METADATA_V0_REQUEST, &i32s(&[-2])),
            Err(ShapeError::NegativeLength { length: -2, .. })
        ));
        let mut bytes = i32s(&[1]);
        bytes.extend_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(check(METADATA_V0_REQUEST, &bytes), Ok(()));
        let mut bytes = i32s(&[1]);
        bytes.extend_from_slice(&(-5i16).to_be_bytes());
        assert!(matches!(check(METADATA_V0_REQUEST, &bytes), Err(ShapeError::NegativeLength { .. })));
    }

    #[test]
    fn a_string_running_past_the_end_is_truncated() {
        let mut bytes = i32s(&[1]);
        bytes.extend_from_slice(&10i16.to_be_bytes());
        bytes.extend_from_slice(b"short");
        assert_eq!(check(METADATA_V0_REQUEST, &bytes), Err(ShapeError::Truncated { position: 4 }));
    }

    #[test]
    fn bytes_after_the_shape_are_refused() {
        let mut bytes = i32s(&[0]);
        bytes.push(7);
        assert_eq!(check(METADATA_V0_REQUEST, &bytes), Err(ShapeError::TrailingBytes { extra: 1 }));
    }

    #[test]
    fn the_element_cap_counts_every_array_and_refuses_the_count_that_passes_it() {
        // Two topics, each with two partitions: six elements in all.
        let mut bytes = i32s(&[-1]);
        bytes.extend_from_slice(&i32s(&[2]));
        for _ in 0..2 {
            bytes.extend_from_slice(&1i16.to_be_bytes());
            bytes.push(b't');
            bytes.extend_from_slice(&i32s(&[2, 0]));
            bytes.extend_from_slice(&(-1i64).to_be_bytes());
            bytes.extend_from_slice(&i32s(&[1]));
            bytes.extend_from_slice(&(-1i64).to_be_bytes());
        }
        assert_eq!(check_limited(LIST_OFFSETS_V1_REQUEST, &bytes, 6), Ok(()));
        // With room for five, the second topic's partition count is refused: replica id (4),
        // topic count (4), the first topic's name (3), count (4) and partitions (2 × 12), name (3).
        assert_eq!(
            check_limited(LIST_OFFSETS_V1_REQUEST, &bytes, 5),
            Err(ShapeError::TooManyElements { position: 4 + 4 + 3 + 4 + 24 + 3, limit: 5 })
        );
        // Millions of empty names are refused at the count, before any is walked.
        let mut bytes = i32s(&[1_000_000]);
        bytes.resize(4 + 2_000_000, 0);
        assert_eq!(check(METADATA_V0_REQUEST, &bytes), Ok(()));
        assert_eq!(
            check_limited(METADATA_V0_REQUEST, &bytes, 10_000),
            Err(ShapeError::TooManyElements { position: 0, limit: 10_000 })
        );
        // Null and empty arrays count nothing.
        assert_eq!(check_limited(METADATA_V0_REQUEST, &i32s(&[-1]), 0), Ok(()));
        assert_eq!(check_limited(METADATA_V0_REQUEST, &i32s(&[0]), 0), Ok(()));
    }

    #[test]
    fn every_truncation_of_a_fetch_request_is_refused() {
        // replica, max wait, min bytes, max bytes, isolation, one topic "t" with one partition.
        let mut bytes = i32s(&[-1, 500, 1, 1 << 20]);
        bytes.push(0);
        bytes.extend_from_slice(&i32s(&[1]));
        bytes.extend_from_slice(&1i16.to_be_bytes());
        bytes.push(b't');
        bytes.extend_from_slice(&i32s(&[1, 0]));
        bytes.extend_from_slice(&42i64.to_be_bytes());
        bytes.extend_from_slice(&i32s(&[1 << 20]));
        assert_eq!(check(FETCH_V4_REQUEST, &bytes), Ok(()));
        for cut in 0..bytes.len() {
            assert!(check(FETCH_V4_REQUEST, &bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
