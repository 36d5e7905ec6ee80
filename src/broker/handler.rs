//! One connection's handler: read a request, act on the topics, answer, repeat.
//!
//! Replies go out in request order. A pipelining client may have several requests buffered;
//! the handler flushes its replies only when no further whole request is already buffered, so
//! a burst of requests is answered with one `write()`. Before a long poll blocks, pending
//! replies are flushed, so an earlier request is never held hostage by a later wait.
//!
//! A Produce with no further whole request buffered behind it (a client with one request in
//! flight, the common case) is served in place: its payloads are read straight out of the
//! connection's read buffer into the log's records, with no decoded copy of the request between
//! (one copy of the payloads fewer per request, and fewer allocations). It gets exactly the checks,
//! errors and answer a decoded one gets; a Produce followed by more requests is decoded and
//! starts a run, as above.
//!
//! Errors a client can act on are answered and the connection carries on (InvalidTopic,
//! UnknownTopic, MessageTooLarge, OffsetOutOfRange, CorruptLog, Malformed, UnsupportedVersion);
//! a lost framing (FrameTooLarge) or a full read budget (BuffersFull) is answered with
//! correlation id 0 and closes; EOF mid-frame
//! and timeouts close silently.

use super::log_limit::RateLimited;
use super::shared::{long_poll, Shared, TopicError, MAX_WAIT};
// Also the name other modules know it by (`crate::broker::handler::chain`).
pub(crate) use super::shared::chain;
use crate::protocol::connection::{decode_request, Connection, ConnectionError};
use crate::protocol::{
    encode_records_response, ErrorCode, ProduceRef, Request, RequestFrame, Response, ResponseBody,
    FETCH_RECORD_OVERHEAD_BYTES,
};
use crate::storage::{validate_topic_name, LogError, ReadBatch, ReadLimit, Topic};
use crate::strategies::SyncStrategy;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// A connection closed for a bad frame or a failed reply: a line a client can cause as fast
/// as it can connect, so at most one a second ([`RateLimited`]). Timeouts are not counted here.
static CLOSED: RateLimited = RateLimited::new();

/// Serves one connection until the peer closes, an unrecoverable error, or shutdown.
pub(crate) fn handle_connection<S: SyncStrategy>(shared: &Shared<S>, stream: TcpStream) {
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
    let mut conn = match Connection::with_config(stream, shared.config.connection()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("synclog: {peer}: cannot set up the connection: {e}");
            return;
        }
    };
    conn.share_budget(shared.buffers.clone());
    // The topic this connection used last: producers and consumers stick to one topic, and the
    // registry's shared lock is then taken once, not per request (see [`TopicCache`]).
    let mut cached = TopicCache::default();
    // A frame read ahead while gathering a run of Produce requests, to be served next.
    let mut carry: Option<Result<Option<RequestFrame>, ConnectionError>> = None;
    // The line saying why a timed-out connection was closed, written after it is.
    let mut timed_out: Option<String> = None;
    loop {
        let next = match carry.take() {
            Some(next) => next.map(|frame| frame.map(Incoming::Frame)),
            None => read_next(shared, &mut conn, &mut cached),
        };
        let incoming = match next {
            Ok(Some(incoming)) => incoming,
            Ok(None) => break,
            Err(e) => {
                if let Some(answer) = e.answer() {
                    if conn.write_response(&answer).and_then(|()| conn.flush()).is_err() {
                        break;
                    }
                }
                if e.keeps_connection() {
                    continue;
                }
                if !matches!(e, ConnectionError::Closed { .. } | ConnectionError::Io(_))
                    && !shared.stopping.load(Ordering::Acquire)
                {
                    let line = || format!("synclog: {peer}: closing the connection: {}", chain(&e));
                    if matches!(e, ConnectionError::FrameTimeout { .. } | ConnectionError::IdleTimeout { .. })
                    {
                        // A timed-out client held its slot for the whole timeout: these lines
                        // come at most `--max-connections` per timeout, so each is written,
                        // once the connection is closed.
                        timed_out = Some(line());
                    } else {
                        CLOSED.log(line);
                    }
                }
                break;
            }
        };
        let served = match incoming {
            Incoming::Answered(response) => conn.write_response(&response),
            Incoming::Frame(frame) => match frame.request {
                Request::Produce { .. } => {
                    let (run, after) = gather_produce_run(&mut conn, frame);
                    carry = after;
                    serve_produce_run(shared, &mut conn, &mut cached, run)
                }
                _ => serve(shared, &mut conn, &mut cached, frame),
            },
        };
        if let Err(e) = served {
            if !shared.stopping.load(Ordering::Acquire) {
                CLOSED.log(|| format!("synclog: {peer}: closing the connection: {}", chain(&e)));
            }
            break;
        }
        if !conn.has_buffered_frame() && conn.flush().is_err() {
            break;
        }
    }
    let _ = conn.flush();
    drop(conn);
    if let Some(line) = timed_out {
        eprintln!("{line}");
    }
}

/// The next request read: a Produce already served in place, with its answer to queue, or a
/// frame to serve.
enum Incoming {
    Answered(Response),
    Frame(RequestFrame),
}

/// Reads the next request. A Produce with no further whole frame buffered behind it (a client
/// with one request in flight) is served in place: its payloads go from the read buffer into
/// the log's records, with no decoded copy between. Any other frame is decoded and returned,
/// and a Produce followed by more frames starts a run ([`gather_produce_run`]).
fn read_next<S: SyncStrategy>(
    shared: &Shared<S>,
    conn: &mut Connection,
    cached: &mut TopicCache<S>,
) -> Result<Option<Incoming>, ConnectionError> {
    let max_frame_bytes = conn.config().max_frame_bytes;
    let read = conn.read_frame_in_place(|frame, more| {
        match (!more).then(|| ProduceRef::decode(frame, max_frame_bytes)).flatten() {
            Some(p) => Ok(Incoming::Answered(respond(
                p.correlation_id,
                produce_one(shared, cached, p.topic, &p.messages),
            ))),
            None => decode_request(frame, max_frame_bytes).map(Incoming::Frame),
        }
    })?;
    read.transpose()
}

/// Produce, for one request read in place: the checks and the append of
/// [`serve_produce_run`] for a run of one.
fn produce_one<S: SyncStrategy>(
    shared: &Shared<S>,
    cached: &mut TopicCache<S>,
    topic: &str,
    messages: &[&[u8]],
) -> Result<ResponseBody, Failure> {
    produce_checks(topic, messages.iter().copied(), shared.config.max_message_bytes)?;
    let base_offset = produce_topic(shared, cached, topic)?.append_batch(messages).map_err(failure)?;
    Ok(ResponseBody::Produced { base_offset, count: messages.len() as u32 })
}

/// What every Produce is checked for before its topic is looked up: a valid topic name and no
/// payload over `max` bytes.
fn produce_checks<'a>(
    topic: &str,
    mut messages: impl Iterator<Item = &'a [u8]>,
    max: u32,
) -> Result<(), Failure> {
    validate_topic_name(topic).map_err(failure)?;
    match messages.find(|p| p.len() > max as usize) {
        Some(big) => Err(failure(LogError::MessageTooLarge { size: big.len(), max })),
        None => Ok(()),
    }
}

/// The topic a Produce appends to: the cached one while it is [`usable`], else looked up or
/// created (and cached).
fn produce_topic<S: SyncStrategy>(
    shared: &Shared<S>,
    cached: &mut TopicCache<S>,
    topic: &str,
) -> Result<Arc<Topic<S>>, Failure> {
    match cached.get(topic) {
        Some(t) => Ok(t),
        None => Ok(cached.keep(shared.topic_or_create(topic).map_err(topic_failure)?)),
    }
}

/// Answers one request (queues the reply; the caller flushes).
fn serve<S: SyncStrategy>(
    shared: &Shared<S>,
    conn: &mut Connection,
    cached: &mut TopicCache<S>,
    frame: RequestFrame,
) -> Result<(), ConnectionError> {
    let id = frame.correlation_id;
    match &frame.request {
        Request::Produce { .. } => serve_produce_run(shared, conn, cached, vec![frame]),
        &Request::Fetch { ref topic, offset, max_messages, max_bytes, max_wait_ms } => {
            let wait = Duration::from_millis(u64::from(max_wait_ms)).min(MAX_WAIT);
            let max_bytes = max_bytes.min(shared.config.fetch_budget());
            match fetch(shared, conn, cached, topic, offset, max_messages, max_bytes, wait) {
                Ok(batch) => conn
                    .write_with(|out| encode_records_response(id, batch.high_watermark, batch.iter(), out)),
                Err((code, message)) => conn.write_response(&Response::error(id, code, message)),
            }
        }
        Request::ListTopics => conn.write_response(&Response {
            correlation_id: id,
            body: ResponseBody::Topics(shared.topics.list()),
        }),
    }
}

type Failure = (ErrorCode, String);

fn respond(correlation_id: u32, body: Result<ResponseBody, Failure>) -> Response {
    match body {
        Ok(body) => Response { correlation_id, body },
        Err((code, message)) => Response::error(correlation_id, code, message),
    }
}

/// A run of coalesced Produce requests stops growing once it holds this many messages, each
/// request counted as at least one (so a run of empty requests is bounded too). With the last
/// request's messages, a run holds fewer than this plus
/// [`MAX_PRODUCE_MESSAGES`](crate::protocol::MAX_PRODUCE_MESSAGES).
const MAX_COALESCED_MESSAGES: usize = 10_000;

/// Reads ahead: `first` and every Produce to the same topic already waiting, whole, in the
/// read buffer (a pipelining client's burst). Returns the run and the first frame (or error)
/// that does not belong to it, to be served next.
fn gather_produce_run(
    conn: &mut Connection,
    first: RequestFrame,
) -> (Vec<RequestFrame>, Option<Result<Option<RequestFrame>, ConnectionError>>) {
    let Request::Produce { topic, messages } = &first.request else {
        return (vec![first], None);
    };
    let topic = topic.clone();
    let mut total = messages.len().max(1);
    let mut run = vec![first];
    while total < MAX_COALESCED_MESSAGES && conn.has_buffered_frame() {
        match conn.read_request() {
            Ok(Some(frame)) => match &frame.request {
                Request::Produce { topic: t, messages } if *t == topic => {
                    total += messages.len().max(1);
                    run.push(frame);
                }
                _ => return (run, Some(Ok(Some(frame)))),
            },
            other => return (run, Some(other)),
        }
    }
    (run, None)
}

/// Produce, for one request or a run of consecutive requests to one topic: validate each,
/// create the topic if missing, and append the messages of every valid request in ONE write
/// section (one positional write), each request's messages contiguous. Replies go out in
/// request order, each with its own base offset.
fn serve_produce_run<S: SyncStrategy>(
    shared: &Shared<S>,
    conn: &mut Connection,
    cached: &mut TopicCache<S>,
    run: Vec<RequestFrame>,
) -> Result<(), ConnectionError> {
    let max = shared.config.max_message_bytes;
    // Per request: Ok(message count) if it may be appended, or why not.
    let mut verdicts: Vec<Result<usize, Failure>> = Vec::with_capacity(run.len());
    // Every payload appended, as slices of the decoded requests (sized once: a run holds at
    // most some 75 000 messages, see `MAX_COALESCED_MESSAGES`).
    let messages = run.iter().map(|f| match &f.request {
        Request::Produce { messages, .. } => messages.len(),
        _ => 0,
    });
    let mut payloads: Vec<&[u8]> = Vec::with_capacity(messages.sum());
    for frame in &run {
        let Request::Produce { topic, messages } = &frame.request else {
            verdicts.push(Err((ErrorCode::Internal, "not a Produce request".into())));
            continue;
        };
        let verdict = produce_checks(topic, messages.iter(), max).map(|()| messages.len());
        if verdict.is_ok() {
            payloads.extend(messages.iter());
        }
        verdicts.push(verdict);
    }
    let appended: Result<u64, Failure> = if verdicts.iter().any(Result::is_ok) {
        let Some(Request::Produce { topic, .. }) = run.first().map(|f| &f.request) else {
            return Ok(());
        };
        produce_topic(shared, cached, topic).and_then(|t| t.append_batch(&payloads).map_err(failure))
    } else {
        Ok(0)
    };
    let mut next = 0u64;
    for (frame, verdict) in run.iter().zip(verdicts) {
        let body = match (verdict, &appended) {
            (Ok(count), Ok(base)) => {
                let base_offset = base + next;
                next += count as u64;
                Ok(ResponseBody::Produced { base_offset, count: count as u32 })
            }
            (Ok(_), Err(e)) => Err(e.clone()),
            (Err(e), _) => Err(e),
        };
        conn.write_response(&respond(frame.correlation_id, body))?;
    }
    Ok(())
}

/// The most records one native Fetch reply carries, whatever its `max_messages` asks.
pub const MAX_FETCH_RECORDS: u32 = 100_000;

/// Fetch: read from the offset up to `max_messages` records but never more than
/// [`MAX_FETCH_RECORDS`], at most `max_bytes` of records as the reply carries them (each its
/// payload plus [`FETCH_RECORD_OVERHEAD_BYTES`]) and at least one; at the high watermark,
/// long-poll up to `wait` for new records.
#[allow(clippy::too_many_arguments)]
fn fetch<S: SyncStrategy>(
    shared: &Shared<S>,
    conn: &mut Connection,
    cached: &mut TopicCache<S>,
    topic: &str,
    offset: u64,
    max_messages: u32,
    max_bytes: u32,
    wait: Duration,
) -> Result<ReadBatch, Failure> {
    validate_topic_name(topic).map_err(failure)?;
    let topic = match cached.get(topic) {
        Some(t) => t,
        None => cached.keep(
            shared.topics.get(topic).ok_or_else(|| failure(LogError::UnknownTopic(topic.to_string())))?,
        ),
    };
    // Each record counts what it takes in the reply: its payload, its offset and its length.
    let limit = ReadLimit {
        records: max_messages.min(MAX_FETCH_RECORDS),
        bytes: max_bytes,
        bytes_per_record: FETCH_RECORD_OVERHEAD_BYTES,
    };
    let batch = topic.log.read_within(offset, limit).map_err(failure)?;
    if !batch.is_empty() || wait.is_zero() || limit.records == 0 {
        return Ok(batch);
    }
    // Nothing yet: answer earlier pipelined requests first, then wait without any lock.
    let _ = conn.flush();
    long_poll(shared, &[(&topic, offset)], Instant::now() + wait);
    topic.log.read_within(offset, limit).map_err(failure)
}

/// The topic a connection used last, held weakly: between requests a connection holds no topic
/// alive, so a topic deleted while a client sits idle has its files closed (and its disk space
/// given back) when the deletion drops the registry's hold, not at the client's next request or
/// its close. A request holds its topic (a strong [`Arc`]) only while it is served.
struct TopicCache<S: SyncStrategy>(Option<Weak<Topic<S>>>);

impl<S: SyncStrategy> Default for TopicCache<S> {
    fn default() -> Self {
        TopicCache(None)
    }
}

impl<S: SyncStrategy> TopicCache<S> {
    /// The cached topic if it is still alive and [`usable`] for `name`.
    fn get(&self, name: &str) -> Option<Arc<Topic<S>>> {
        self.0.as_ref()?.upgrade().filter(|t| usable(t, name))
    }

    /// Caches `topic` (weakly) and hands it back.
    fn keep(&mut self, topic: Arc<Topic<S>>) -> Arc<Topic<S>> {
        self.0 = Some(Arc::downgrade(&topic));
        topic
    }
}

/// Whether a cached topic may serve a request to `name`: it is the one of that name and was
/// not deleted since it was cached. A deleted topic is never reused: its appends would be
/// acknowledged and then lost with its files, and its reads would serve a log nobody else sees.
fn usable<S: SyncStrategy>(topic: &Topic<S>, name: &str) -> bool {
    topic.name == name && !topic.is_deleted()
}

/// The wire error for a topic that could not be had.
fn topic_failure(e: TopicError) -> Failure {
    match e {
        TopicError::Limit { .. } => (ErrorCode::TooManyTopics, chain(&e)),
        TopicError::Log(e) => failure(e),
    }
}

/// The wire error for a storage error, with a message a person can act on.
fn failure(e: LogError) -> Failure {
    let code = match &e {
        LogError::InvalidTopic { .. } => ErrorCode::InvalidTopic,
        LogError::UnknownTopic(_) => ErrorCode::UnknownTopic,
        LogError::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
        LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        LogError::Corrupt { .. } | LogError::Missing { .. } => ErrorCode::CorruptLog,
        LogError::OffsetsExhausted { .. }
        | LogError::Io { .. }
        | LogError::SyncFailed { .. }
        | LogError::DataDirInUse { .. }
        | LogError::NotATopicDir { .. } => ErrorCode::Internal,
    };
    (code, chain(&e))
}
