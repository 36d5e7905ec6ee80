//! The Kafka listener's Fetch: each partition read from its offset within the byte budgets
//! (see [`super::kafka`]'s module docs for the rules), and the long poll when nothing is there.
//!
//! Every record counts against the budgets what it takes in the reply: its value plus
//! [`records::SERVED_RECORD_OVERHEAD_BYTES`], the most its framing in a record batch takes. An
//! empty record so costs 19 bytes, never nothing: a Fetch with tiny budgets over many topics of
//! empty records gets one record, not every record of every partition it names.

use super::{log_code, partitions_valid};
use crate::broker::shared::{chain, long_poll, Shared, MAX_WAIT};
use crate::kafka::{code, records};
use crate::protocol::connection::Connection;
use crate::storage::{validate_topic_name, ReadLimit, Topic};
use crate::strategies::SyncStrategy;
use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most records one partition of one Fetch returns (its byte budget usually stops first):
/// a Produce's cap. The read takes 24 bytes for each record beside its value (1.5 MiB at the
/// cap), and [`records::encode_stored`] encodes them in batches of at least
/// [`records::SERVED_BATCH_RECORDS`], so the crate's encoder, which builds some 200 bytes for
/// each record, holds some 200 KiB at a time, not 13 MiB; all is freed before the next
/// partition is read.
const MAX_RECORDS_PER_FETCH_PARTITION: u32 = records::MAX_RECORDS_PER_PARTITION as u32;

/// Fetch: each partition read from its offset within the byte budgets; when nothing at all
/// was found and no partition failed, wait up to `max_wait_ms` for an append and read again.
pub(super) fn fetch<S: SyncStrategy>(
    shared: &Shared<S>,
    conn: &mut Connection,
    request: FetchRequest,
) -> FetchResponse {
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
            // Kafka's rule: the first record found is served even past the budgets; every
            // other record only within what is left of them.
            let first = found.records == 0;
            let max_bytes = wanted.min(budget);
            let read = match valid {
                true => read_partition(shared, &topic.topic, p.partition, p.fetch_offset, max_bytes, first),
                false => Err((code::INVALID_REQUEST, -1)),
            };
            match read {
                Ok(read) => {
                    budget = if read.overflowed { 0 } else { budget.saturating_sub(read.counted_bytes) };
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
    /// What the records served count against the budgets (values and framing).
    counted_bytes: usize,
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
    let limit = ReadLimit {
        records: MAX_RECORDS_PER_FETCH_PARTITION,
        bytes: u32::try_from(max_bytes).unwrap_or(u32::MAX),
        bytes_per_record: records::SERVED_RECORD_OVERHEAD_BYTES,
    };
    // A read returns at least one record whatever its byte limit: with no room left, do not
    // read at all, and drop a lone record that does not fit (it is read once, then freed).
    let mut batch = match at_least_one || max_bytes > 0 {
        true => log.log.read_within(offset, limit).map_err(|e| failed(log_code(&e)))?,
        false => log.log.read(offset, 0, 0).map_err(|e| failed(log_code(&e)))?,
    };
    let overflowed = !at_least_one && (max_bytes == 0 || batch.counted_bytes(&limit) > max_bytes);
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
    let counted_bytes = batch.counted_bytes(&limit);
    Ok(Read { partition, served: batch.len(), counted_bytes, overflowed, waiting })
}
