//! Kafka's RecordBatch v2 (magic 2): how messages travel inside Produce and Fetch.
//!
//! A Produce request carries, per partition, a `records` byte string holding one record batch
//! (the broker refuses more, as Kafka does from Produce v3 on: `super::code::INVALID_RECORD`;
//! this module decodes any number); a Fetch response carries one or more. synclog stores none of this framing: a
//! batch's records are unpacked on the way in (each record's *value* becomes one synclog
//! message payload) and a batch is built afresh from the log on the way out. The
//! `kafka-protocol` crate encodes batches and decodes a Fetch response's; this module checks
//! every batch's bounds and CRC first (see [`super::shape`] for why), and decodes a Produce's
//! batches itself in that same walk, each value a slice of the request's bytes: the crate's
//! records take some 200 bytes each, ten times what a request of empty records takes.
//!
//! # The batch (all integers big-endian)
//!
//! | bytes    | field                                                            |
//! |----------|------------------------------------------------------------------|
//! | 0..8     | base offset: i64 (the first record's offset)                    |
//! | 8..12    | batch length: i32 (the bytes after this field)                   |
//! | 12..16   | partition leader epoch: i32                                      |
//! | 16       | magic: i8 = 2                                                    |
//! | 17..21   | CRC-32C of bytes 21..end: u32                                    |
//! | 21..23   | attributes: i16 (bits 0–2 compression, 3 timestamp type, 4 transactional, 5 control) |
//! | 23..27   | last offset delta: i32                                           |
//! | 27..35   | first timestamp: i64                                             |
//! | 35..43   | max timestamp: i64                                               |
//! | 43..51   | producer id: i64 (−1: none)                                      |
//! | 51..53   | producer epoch: i16                                              |
//! | 53..57   | base sequence: i32 (−1: none)                                    |
//! | 57..61   | record count: i32                                                |
//! | 61..end  | the records                                                      |
//!
//! Each record is varint-framed (zig-zag varints, as in protobuf): `length: varint`, then
//! `attributes: i8, timestamp delta: varlong, offset delta: varint, key length: varint (−1:
//! null), key, value length: varint (−1: null), value, header count: varint`, and per header
//! `key length: varint, key, value length: varint (−1: null), value`.
//!
//! # What synclog accepts and serves
//!
//! - Uncompressed batches only. A compressed batch is refused with
//!   [`RecordsError::Compressed`], which the broker answers UNSUPPORTED_COMPRESSION_TYPE (76):
//!   the producer is told to set `compression.type=none`. Every other fault (a bad CRC, a cut
//!   batch, a magic other than 2, a transactional or control batch) is CORRUPT_MESSAGE (2).
//! - Keys, headers and timestamps are accepted and dropped: only the value is stored, and a
//!   null value is stored as an empty payload.
//! - Batches served by Fetch hold the stored payloads as values, no key, no headers, and
//!   timestamp −1 (synclog keeps no timestamps), producer id −1 and base sequence −1.
//!
//! A Fetch response from a real Kafka broker may end with a *partial* batch (the broker cuts
//! its response at `max_bytes`); [`decode_fetched`] drops such a tail, as every Kafka client
//! does, and the next fetch reads it whole.

use bytes::Bytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
};
use std::error::Error;
use std::ops::Range;
use thiserror::Error;

/// Bytes of a batch before its first record.
pub const BATCH_HEADER_BYTES: usize = 61;

/// The most records the batches of one partition of a Produce may hold in all. Each decoded
/// value takes 32 bytes beside the request's bytes (it is a slice of them), and an empty
/// record takes 7 bytes on the wire: this bounds what one partition's batches decode to
/// (2 MiB), however small its records.
pub const MAX_RECORDS_PER_PARTITION: usize = 65_536;

/// The most bytes a record served by Fetch ([`encode_stored`]) takes in its batch beside its
/// value: length (at most 5), attributes (1), timestamp delta (1: every served record has
/// timestamp −1), offset delta (at most 5), key length (1: null), value length (at most 5),
/// header count (1). An empty record takes 7 to 19 bytes; a Fetch counts 19 for each record
/// against its byte budgets, so a reply's records take no more than the budget counts.
pub const SERVED_RECORD_OVERHEAD_BYTES: u32 = 19;

/// The bytes before the batch length field is counted: base offset and the length itself.
const LOG_OVERHEAD_BYTES: usize = 12;

/// Why record bytes were refused. Positions count from the start of the `records` field.
#[derive(Debug, Error)]
pub enum RecordsError {
    /// A batch (or a record in it) ends past the bytes given.
    #[error("the record batch at byte {position} is cut off")]
    Truncated {
        /// Where the batch begins.
        position: usize,
    },
    /// A magic byte other than 2: message sets v0 and v1 are not spoken here.
    #[error(
        "the record batch at byte {position} has magic {magic}; only RecordBatch v2 (magic 2) is supported"
    )]
    UnsupportedMagic {
        /// Where the batch begins.
        position: usize,
        /// The magic byte found.
        magic: i8,
    },
    /// The batch's CRC-32C does not match its bytes.
    #[error("the record batch at byte {position} fails its CRC-32C check (stored {stored:#010x}, computed {computed:#010x})")]
    Crc {
        /// Where the batch begins.
        position: usize,
        /// The CRC in the batch header.
        stored: u32,
        /// The CRC of the batch's bytes.
        computed: u32,
    },
    /// A compressed batch.
    #[error("the record batch at byte {position} is compressed with {codec}; synclog stores messages uncompressed: set compression.type=none")]
    Compressed {
        /// Where the batch begins.
        position: usize,
        /// gzip, snappy, lz4 or zstd.
        codec: &'static str,
    },
    /// Anything else out of place; `reason` says what.
    #[error("the record batch at byte {position} is malformed: {reason}")]
    Malformed {
        /// Where the batch begins.
        position: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A Produce's batches hold more records in all than [`MAX_RECORDS_PER_PARTITION`].
    #[error("the record batch at byte {position} takes the records past {limit}")]
    TooManyRecords {
        /// Where the batch begins.
        position: usize,
        /// The most records allowed.
        limit: usize,
    },
    /// The codec refused bytes that passed the bounds check.
    #[error("the record batches cannot be decoded")]
    Decode(#[source] Box<dyn Error + Send + Sync>),
    /// The codec could not encode a batch.
    #[error("a record batch cannot be encoded")]
    Encode(#[source] Box<dyn Error + Send + Sync>),
}

/// Encodes `values` as one uncompressed RecordBatch v2 whose records have the offsets
/// `base_offset, base_offset + 1, …`, appending it to `out`. Nothing is appended for no values.
///
/// A producer passes base offset 0 (the broker assigns offsets); the broker passes the offset
/// of the first stored record. `timestamp_ms` is every record's timestamp (−1: none).
pub fn encode_batch<'a>(
    base_offset: i64,
    timestamp_ms: i64,
    values: impl IntoIterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    let records: Vec<Record> = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            record(base_offset + i as i64, base_offset, timestamp_ms, Bytes::copy_from_slice(value))
        })
        .collect();
    encode(&records, out)
}

/// The fewest records [`encode_stored`] puts in one batch before it may start another.
/// Encoding builds some 200 bytes for each record of a batch: in batches of this size, a
/// Fetch of 65 536 empty records builds some 200 KiB at a time instead of 13 MiB at once.
pub const SERVED_BATCH_RECORDS: usize = 1024;

/// Like [`encode_batch`], for records whose offsets are given (the log's own, which under an
/// unsynchronized strategy may repeat or go backwards: they are served as stored).
///
/// The records go out in batches of at least [`SERVED_BATCH_RECORDS`], one after another
/// (as a Kafka broker serves a partition's batches). A new batch starts only once the records
/// of the current one took at least [`BATCH_HEADER_BYTES`] less than the
/// [`SERVED_RECORD_OVERHEAD_BYTES`] each is counted for: every header after the first is paid
/// for by that room, so the records and headers still take no more than the first header and
/// what the records are counted for.
pub fn encode_stored<'a>(
    records: impl IntoIterator<Item = (u64, &'a [u8])>,
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    let mut chunk: Vec<Record> = Vec::new();
    let (mut first, mut room) = (0i64, 0usize);
    for (offset, value) in records {
        if chunk.is_empty() {
            (first, room) = (offset as i64, 0);
        }
        let counted = value.len() + SERVED_RECORD_OVERHEAD_BYTES as usize;
        room += counted.saturating_sub(served_record_bytes_at_most(value.len()));
        chunk.push(record(offset as i64, first, -1, Bytes::copy_from_slice(value)));
        if chunk.len() >= SERVED_BATCH_RECORDS && room >= BATCH_HEADER_BYTES {
            encode(&chunk, out)?;
            chunk.clear();
        }
    }
    encode(&chunk, out)
}

/// The most bytes a served record with a value of `len` bytes takes in its batch, whatever
/// its offset delta (taken at a varint's longest, 5 bytes): length, attributes, timestamp
/// delta, offset delta, null key, value length, value, no headers.
fn served_record_bytes_at_most(len: usize) -> usize {
    let body = 1 + 1 + 5 + 1 + varint_bytes(len) + len + 1;
    varint_bytes(body) + body
}

/// Bytes of a zigzag varint holding `n` (a non-negative length).
fn varint_bytes(n: usize) -> usize {
    let zigzag = (n as u64) << 1;
    (64 - zigzag.leading_zeros() as usize).div_ceil(7).max(1)
}

/// One data record at `offset`, in a batch whose first record is at `first_offset`.
fn record(offset: i64, first_offset: i64, timestamp_ms: i64, value: Bytes) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        timestamp_type: TimestampType::Creation,
        offset,
        // The encoder keeps records in one batch while `offset - sequence` stays the same, and
        // derives the batch's base sequence from the first record's: counting from −1 at the
        // first offset gives one batch, with base sequence −1 ("no sequence") for a log whose
        // offsets ascend, whatever the offsets are.
        sequence: (offset as i32).wrapping_sub(first_offset as i32).wrapping_sub(1),
        timestamp: timestamp_ms,
        key: None,
        value: Some(value),
        headers: Default::default(),
    }
}

fn encode(records: &[Record], out: &mut Vec<u8>) -> Result<(), RecordsError> {
    if records.is_empty() {
        return Ok(());
    }
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(out, records.iter(), &options).map_err(|e| RecordsError::Encode(e.into()))
}

/// The values of every record in the batches of a Produce request, in order (a null value
/// is an empty payload). Every batch must be whole, uncompressed and a data batch.
pub fn decode_values(bytes: Bytes) -> Result<Vec<Bytes>, RecordsError> {
    Ok(decode_batches(bytes)?.into_iter().flat_map(|b| b.values).collect())
}

/// One produced batch: its producer fields and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducedBatch {
    /// The producer id (−1: not an idempotent producer).
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The first record's sequence number (−1: none).
    pub base_sequence: i32,
    /// The values, in order (a null value is an empty payload): slices of the request's bytes.
    pub values: Vec<Bytes>,
}

/// Like [`decode_values`], batch by batch with each batch's producer id, epoch and base
/// sequence (what an idempotent producer's retries are recognised by).
///
/// Decoded here, in the same walk that checks the bounds, not by the codec: each value is a
/// slice of `bytes` (no copy), so a partition's records take 32 bytes each beside the request
/// (2 MiB at [`MAX_RECORDS_PER_PARTITION`]), where the codec's records took some 200 bytes
/// each (13 MiB) for a request of under 0.5 MB.
pub fn decode_batches(bytes: Bytes) -> Result<Vec<ProducedBatch>, RecordsError> {
    let mut batches = Vec::new();
    check_batches(&bytes, Tail::Refuse, Some(&mut batches))?;
    Ok(batches)
}

/// The records of a Fetch response as (offset, value), skipping control records (transaction
/// markers) and a partial batch at the end.
pub fn decode_fetched(bytes: Bytes) -> Result<Vec<(i64, Bytes)>, RecordsError> {
    let whole = check_batches(&bytes, Tail::Drop, None)?;
    let mut records = Vec::new();
    for set in decode(bytes.slice(..whole))? {
        for record in set.records.into_iter().filter(|r| !r.control) {
            records.push((record.offset, record.value.unwrap_or_default()));
        }
    }
    Ok(records)
}

fn decode(mut bytes: Bytes) -> Result<Vec<kafka_protocol::records::RecordSet>, RecordsError> {
    RecordBatchDecoder::decode_all(&mut bytes).map_err(|e| RecordsError::Decode(e.into()))
}

/// What to do with a batch cut off at the end of the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// It is an error (a produce request).
    Refuse,
    /// Ignore it (a fetch response cut at its `max_bytes`).
    Drop,
}

/// Walks every batch's header and records within their bounds and checks each CRC; returns
/// the bytes taken by whole batches. Nothing is allocated before a batch's count is known to
/// fit its length, so a batch announcing 2³¹ records or headers in a few bytes is refused
/// before room is reserved for them. A produce request's batches may hold at most
/// [`MAX_RECORDS_PER_PARTITION`] records in all, checked from each batch's count before its
/// records are walked. With `found`, each batch's producer fields and values (slices of
/// `bytes`) are pushed to it as they are walked.
fn check_batches(
    bytes: &Bytes,
    tail: Tail,
    mut found: Option<&mut Vec<ProducedBatch>>,
) -> Result<usize, RecordsError> {
    let mut position = 0;
    let mut records = 0usize;
    while position < bytes.len() {
        let cut = |position| match tail {
            Tail::Refuse => Err(RecordsError::Truncated { position }),
            Tail::Drop => Ok(position),
        };
        let Some(header) = bytes.get(position..position + BATCH_HEADER_BYTES) else {
            return cut(position);
        };
        let field = |at: usize, n: usize| &header[at..at + n];
        let batch_length = i32::from_be_bytes(array(field(8, 4)));
        let malformed = |reason| RecordsError::Malformed { position, reason };
        if batch_length < (BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32 {
            return Err(malformed("its length is shorter than a batch header"));
        }
        let end = position + LOG_OVERHEAD_BYTES + batch_length as usize;
        if end > bytes.len() {
            return cut(position);
        }
        let magic = header[16] as i8;
        if magic != 2 {
            return Err(RecordsError::UnsupportedMagic { position, magic });
        }
        let stored = u32::from_be_bytes(array(field(17, 4)));
        let computed = crc32c::crc32c(&bytes[position + 21..end]);
        if stored != computed {
            return Err(RecordsError::Crc { position, stored, computed });
        }
        let attributes = i16::from_be_bytes(array(field(21, 2)));
        let codec = match attributes & 0x7 {
            0 => None,
            1 => Some("gzip"),
            2 => Some("snappy"),
            3 => Some("lz4"),
            4 => Some("zstd"),
            _ => return Err(malformed("it names an unknown compression codec")),
        };
        if let Some(codec) = codec {
            return Err(RecordsError::Compressed { position, codec });
        }
        if tail == Tail::Refuse && attributes & (1 << 4 | 1 << 5) != 0 {
            return Err(malformed("transactional and control batches are not supported"));
        }
        let count = i32::from_be_bytes(array(field(57, 4)));
        let first = position + BATCH_HEADER_BYTES;
        if count < 0 || count as usize > end - first {
            return Err(malformed("its record count does not fit its length"));
        }
        records += count as usize;
        if tail == Tail::Refuse && records > MAX_RECORDS_PER_PARTITION {
            return Err(RecordsError::TooManyRecords { position, limit: MAX_RECORDS_PER_PARTITION });
        }
        let mut batch = found.is_some().then(|| ProducedBatch {
            producer_id: i64::from_be_bytes(array(field(43, 8))),
            producer_epoch: i16::from_be_bytes(array(field(51, 2))),
            base_sequence: i32::from_be_bytes(array(field(53, 4))),
            values: Vec::with_capacity(count as usize),
        });
        let mut at = first;
        for _ in 0..count {
            let (next, value) =
                check_record(bytes, at, end).ok_or_else(|| malformed("a record does not fit the batch"))?;
            if let Some(batch) = &mut batch {
                batch.values.push(value.map_or_else(Bytes::new, |range| bytes.slice(range)));
            }
            at = next;
        }
        if at != end {
            return Err(malformed("bytes follow its last record"));
        }
        if let (Some(found), Some(batch)) = (found.as_deref_mut(), batch) {
            found.push(batch);
        }
        position = end;
    }
    Ok(position)
}

/// Checks the record at `at` lies within `batch_end`, and every count in it is possible;
/// returns where it ends and where its value lies (`None`: a null value).
fn check_record(bytes: &[u8], at: usize, batch_end: usize) -> Option<(usize, Option<Range<usize>>)> {
    let mut p = at;
    let length = varint(bytes, &mut p, batch_end)?;
    let end = p.checked_add(usize::try_from(length).ok()?)?;
    if end > batch_end {
        return None;
    }
    p = p.checked_add(1)?; // attributes
    varlong(bytes, &mut p, end)?; // timestamp delta
    varint(bytes, &mut p, end)?; // offset delta
    skip_sized(bytes, &mut p, end, true)?; // key
    let value = skip_sized(bytes, &mut p, end, true)?;
    let headers = varint(bytes, &mut p, end)?;
    if headers < 0 || headers as usize > end.saturating_sub(p) {
        return None;
    }
    for _ in 0..headers {
        skip_sized(bytes, &mut p, end, false)?; // header key
        skip_sized(bytes, &mut p, end, true)?; // header value
    }
    (p == end).then_some((end, value))
}

/// Skips a varint length and that many bytes, returning where they lie; −1 (null, returned as
/// `Some(None)`) only where `nullable`. `None`: the bytes do not fit.
fn skip_sized(bytes: &[u8], p: &mut usize, end: usize, nullable: bool) -> Option<Option<Range<usize>>> {
    match varint(bytes, p, end)? {
        -1 if nullable => Some(None),
        n if n < 0 => None,
        n => {
            let start = *p;
            *p = p.checked_add(n as usize).filter(|&next| next <= end)?;
            Some(Some(start..*p))
        }
    }
}

/// Reads a zig-zag varint of an int32 field below `end`: at most five bytes (as Kafka reads
/// them) and a value an i32 holds.
fn varint(bytes: &[u8], p: &mut usize, end: usize) -> Option<i64> {
    let value = zigzag(bytes, p, end, 5)?;
    i32::try_from(value).is_ok().then_some(value)
}

/// Reads a zig-zag varlong (an int64 field: the timestamp delta) below `end`: at most ten bytes.
fn varlong(bytes: &[u8], p: &mut usize, end: usize) -> Option<i64> {
    zigzag(bytes, p, end, 10)
}

/// Reads a zig-zag varint of at most `max_bytes` bytes below `end`.
fn zigzag(bytes: &[u8], p: &mut usize, end: usize, max_bytes: usize) -> Option<i64> {
    let mut raw: u64 = 0;
    for shift in (0..7 * max_bytes).step_by(7) {
        if *p >= end {
            return None;
        }
        let byte = *bytes.get(*p)?;
        *p += 1;
        raw |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    None
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(values: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_batch(0, 1_700_000_000_000, values.iter().copied(), &mut out).expect("encode");
        out
    }

    #[test]
    fn values_round_trip_through_one_batch() {
        let values: [&[u8]; 3] = [b"one", b"", b"three"];
        let bytes = batch(&values);
        assert_eq!(i32::from_be_bytes(array(&bytes[57..61])), 3, "one batch holds all three");
        let decoded = decode_values(Bytes::from(bytes)).expect("decode");
        assert_eq!(decoded, values.map(Bytes::from_static));
    }

    /// Records as a Kafka producer may send them: keys, headers, null values, and an
    /// idempotent producer's fields.
    fn produced(values: &[(Option<Vec<u8>>, Option<Vec<u8>>, usize)], producer: (i64, i16, i32)) -> Vec<u8> {
        let (producer_id, producer_epoch, base_sequence) = producer;
        let records: Vec<Record> = values
            .iter()
            .enumerate()
            .map(|(i, (key, value, headers))| Record {
                producer_id,
                producer_epoch,
                sequence: if base_sequence < 0 { -1 } else { base_sequence + i as i32 },
                key: key.clone().map(Bytes::from),
                value: value.clone().map(Bytes::from),
                headers: (0..*headers)
                    .map(|h| (h.to_string().into(), (h % 2 == 0).then(|| Bytes::from(vec![h as u8; h]))))
                    .collect(),
                ..record(i as i64, 0, 1_700_000_000_000, Bytes::new())
            })
            .collect();
        let mut out = Vec::new();
        encode(&records, &mut out).expect("encode");
        out
    }

    proptest::proptest! {
        /// The walk decodes what the codec decodes, and takes each value from the request's
        /// bytes without copying it.
        #[test]
        fn produced_batches_decode_as_the_codec_decodes_them_without_copying_values(
            batches in proptest::collection::vec(
                (
                    proptest::collection::vec(
                        (
                            proptest::option::of(proptest::collection::vec(0u8.., 0..20)),
                            proptest::option::of(proptest::collection::vec(0u8.., 0..300)),
                            0usize..4,
                        ),
                        1..20,
                    ),
                    (-1i64..3, -1i16..2, -1i32..1000),
                ),
                1..4,
            )
        ) {
            let mut bytes = Vec::new();
            for (values, producer) in &batches {
                bytes.extend(produced(values, *producer));
            }
            let bytes = Bytes::from(bytes);
            let walked = decode_batches(bytes.clone()).expect("walk");
            let coded = decode(bytes.clone()).expect("codec");
            proptest::prop_assert_eq!(walked.len(), coded.len());
            for (batch, set) in walked.iter().zip(&coded) {
                let first = &set.records[0];
                proptest::prop_assert_eq!(
                    (batch.producer_id, batch.producer_epoch, batch.base_sequence),
                    (first.producer_id, first.producer_epoch, first.sequence)
                );
                let values: Vec<Bytes> = set.records.iter().map(|r| r.value.clone().unwrap_or_default()).collect();
                proptest::prop_assert_eq!(&batch.values, &values);
                let within = bytes.as_ptr_range();
                for value in batch.values.iter().filter(|v| !v.is_empty()) {
                    proptest::prop_assert!(within.contains(&value.as_ptr()), "a slice of the request, not a copy");
                }
            }
        }
    }

    #[test]
    fn stored_records_keep_their_offsets_and_no_sequence() {
        let mut out = Vec::new();
        encode_stored([(7u64, b"a".as_slice()), (8, b"b")], &mut out).expect("encode");
        assert_eq!(i64::from_be_bytes(array(&out[0..8])), 7);
        assert_eq!(i32::from_be_bytes(array(&out[53..57])), -1, "base sequence");
        let fetched = decode_fetched(Bytes::from(out)).expect("decode");
        assert_eq!(fetched, vec![(7, Bytes::from_static(b"a")), (8, Bytes::from_static(b"b"))]);
    }

    #[test]
    fn many_stored_records_go_out_in_several_batches_that_read_back_whole() {
        let n = 3 * SERVED_BATCH_RECORDS as u64 + 5;
        let values: Vec<Vec<u8>> = (0..n).map(|i| vec![b'v'; (i % 300) as usize]).collect();
        let mut out = Vec::new();
        encode_stored((0..n).map(|i| (100 + i, values[i as usize].as_slice())), &mut out).expect("encode");
        // Each batch starts with its base offset and its length (of what follows it).
        let mut starts = Vec::new();
        let mut at = 0;
        while at < out.len() {
            starts.push(i64::from_be_bytes(array(&out[at..at + 8])));
            at += LOG_OVERHEAD_BYTES + i32::from_be_bytes(array(&out[at + 8..at + 12])) as usize;
        }
        assert_eq!(at, out.len(), "whole batches back to back");
        assert_eq!(
            starts,
            [100, 1124, 2148, 3172],
            "a batch per {SERVED_BATCH_RECORDS} records, the 5 left in a last one"
        );
        let fetched = decode_fetched(Bytes::from(out)).expect("decode");
        assert_eq!(fetched.len(), n as usize);
        for (i, (offset, value)) in fetched.iter().enumerate() {
            assert_eq!(*offset, 100 + i as i64);
            assert_eq!(value.as_ref(), values[i].as_slice());
        }
    }

    #[test]
    fn varint_lengths_change_at_each_seven_bits_of_the_zigzag_value() {
        // A zigzag varint of n holds 2n: 63 fits one byte, 64 needs two.
        for (n, bytes) in
            [(0, 1), (63, 1), (64, 2), (8191, 2), (8192, 3), ((1 << 20) - 1, 3), (1 << 20, 4), (1 << 27, 5)]
        {
            assert_eq!(varint_bytes(n), bytes, "{n}");
        }
    }

    #[test]
    fn a_served_record_takes_at_most_its_value_and_the_stated_overhead() {
        let overhead = SERVED_RECORD_OVERHEAD_BYTES as usize;
        let big = vec![7u8; 1 << 20];
        // Offset deltas and value lengths around every varint boundary, and far apart.
        for values in [vec![b"".as_slice(); 70_000], vec![&big[..]; 3], vec![&big[..200]; 20_000]] {
            let mut out = Vec::new();
            let n = values.len() as u64;
            let offsets = (0..n).map(|i| if i + 1 == n { i32::MAX as u64 } else { i });
            encode_stored(offsets.zip(values.iter().copied()), &mut out).expect("encode");
            let value_bytes: usize = values.iter().map(|v| v.len()).sum();
            let record_bytes = out.len() - BATCH_HEADER_BYTES;
            assert!(record_bytes <= value_bytes + values.len() * overhead, "{record_bytes}");
            assert!(record_bytes >= value_bytes + values.len() * 7, "{record_bytes}");
        }
    }

    #[test]
    fn a_flipped_byte_fails_the_crc() {
        let mut bytes = batch(&[b"payload"]);
        let last = bytes.len() - 3;
        bytes[last] ^= 1;
        assert!(matches!(decode_values(Bytes::from(bytes)), Err(RecordsError::Crc { position: 0, .. })));
    }

    #[test]
    fn a_compressed_batch_is_refused_by_name() {
        let mut bytes = batch(&[b"payload"]);
        bytes[22] |= 4; // zstd
        let crc = crc32c::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            decode_values(Bytes::from(bytes)),
            Err(RecordsError::Compressed { codec: "zstd", .. })
        ));
    }

    #[test]
    fn a_produce_past_the_record_cap_is_refused_and_a_fetch_is_not() {
        let empty = [b"".as_slice()];
        let at_cap = batch(&vec![b"".as_slice(); MAX_RECORDS_PER_PARTITION]);
        assert_eq!(
            decode_batches(Bytes::from(at_cap.clone())).expect("at the cap")[0].values.len(),
            MAX_RECORDS_PER_PARTITION
        );
        let mut over = at_cap;
        let second = over.len();
        over.extend_from_slice(&batch(&empty));
        assert!(matches!(
            decode_batches(Bytes::from(over.clone())),
            Err(RecordsError::TooManyRecords { position, limit: MAX_RECORDS_PER_PARTITION }) if position == second
        ));
        assert_eq!(
            decode_fetched(Bytes::from(over)).expect("a fetch is not capped").len(),
            MAX_RECORDS_PER_PARTITION + 1
        );
    }

    #[test]
    fn an_impossible_record_count_is_refused_before_decoding() {
        let mut bytes = batch(&[b"x"]);
        bytes[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(decode_values(Bytes::from(bytes)), Err(RecordsError::Malformed { .. })));
    }

    #[test]
    fn an_impossible_header_count_is_refused_before_decoding() {
        let mut bytes = batch(&[b"x"]);
        // The record: length, attributes, ts delta, offset delta, key -1, value 1 'x', headers.
        let headers_at = bytes.len() - 1;
        assert_eq!(bytes[headers_at], 0);
        bytes[headers_at] = 0x7e; // zig-zag 63 headers in a record with no bytes left
        let crc = crc32c::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(decode_values(Bytes::from(bytes)), Err(RecordsError::Malformed { .. })));
    }

    #[test]
    fn every_cut_of_a_batch_is_refused_in_a_request_and_dropped_in_a_fetch() {
        let mut bytes = batch(&[b"first"]);
        let whole = bytes.len();
        bytes.extend_from_slice(&batch(&[b"second", b"third"]));
        for cut in 1..bytes.len() {
            let part = Bytes::copy_from_slice(&bytes[..cut]);
            // Cut exactly after the first batch, the request is whole: one batch.
            assert_eq!(decode_values(part.clone()).is_ok(), cut == whole, "cut at {cut}");
            let fetched = decode_fetched(part).expect("a partial tail is dropped");
            assert_eq!(fetched.len(), if cut < whole { 0 } else { 1 }, "cut at {cut}");
        }
        assert_eq!(decode_fetched(Bytes::from(bytes)).expect("whole").len(), 3);
    }

    #[test]
    fn varints_follow_zig_zag() {
        for (bytes, value) in [(&[0x00][..], 0), (&[0x01], -1), (&[0x02], 1), (&[0xac, 0x02], 150)] {
            let mut p = 0;
            assert_eq!(varint(bytes, &mut p, bytes.len()), Some(value));
        }
        let mut p = 0;
        assert_eq!(varlong(&[0xff; 11], &mut p, 11), None, "more than ten bytes");
        // An int32 field: five bytes at most, as Kafka reads them, and within an i32. Six bytes
        // encoding −1 (a null) and a five-byte value past i32 are refused.
        let (mut p, mut q) = (0, 0);
        assert_eq!(varint(&[0x81, 0x80, 0x80, 0x80, 0x80, 0x00], &mut p, 6), None, "six bytes");
        assert_eq!(varint(&[0xfe, 0xff, 0xff, 0xff, 0x1f], &mut q, 5), None, "2^34 - 1 is not an i32");
        let mut p = 0;
        assert_eq!(varint(&[0xfe, 0xff, 0xff, 0xff, 0x0f], &mut p, 5), Some(i64::from(i32::MAX)));
        let mut p = 0;
        assert_eq!(varlong(&[0x81, 0x80, 0x80, 0x80, 0x80, 0x00], &mut p, 6), Some(-1), "a varlong may");
    }

    #[test]
    fn a_record_whose_value_length_takes_six_bytes_is_refused() {
        // One record: length, attributes, timestamp delta 0, offset delta 0, null key, then the
        // value length −1 (null) in six bytes, no headers.
        let body = [0x00, 0x00, 0x00, 0x01, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00];
        let mut record = vec![(body.len() as u8) << 1];
        record.extend_from_slice(&body);
        assert_eq!(check_record(&record, 0, record.len()), None);
        // The same with the length in one byte is a record with a null value.
        let body = [0x00, 0x00, 0x00, 0x01, 0x01, 0x00];
        let mut record = vec![(body.len() as u8) << 1];
        record.extend_from_slice(&body);
        assert_eq!(check_record(&record, 0, record.len()), Some((record.len(), None)));
    }
}
