//! One connection's handler: read a request, act on the topics, answer, repeat.
//!
//! Replies go out in request order. A pipelining client may have several requests buffered;
//! the handler flushes its replies only when no further whole request is already buffered, so
//! a burst of requests is answered with one `write()`. Before a long poll blocks, pending
//! replies are flushed, so an earlier request is never held hostage by a later wait.
//!
//! Errors a client can act on are answered and the connection carries on (InvalidTopic,
//! UnknownTopic, MessageTooLarge, OffsetOutOfRange, CorruptLog, Malformed, UnsupportedVersion);
//! a lost framing (FrameTooLarge) is answered with correlation id 0 and closes; EOF mid-frame
//! and timeouts close silently.

use super::Shared;
use crate::protocol::connection::{Connection, ConnectionError};
use crate::protocol::{encode_records_response, ErrorCode, Request, RequestFrame, Response, ResponseBody};
use crate::storage::{validate_topic_name, LogError, ReadBatch, Topic};
use crate::strategies::SyncStrategy;
use std::error::Error;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The longest long poll the broker grants, whatever `max_wait_ms` asks.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// How much of a frame a Fetch response may fill, leaving room for headers: half the frame
/// limit, so that one maximum-size record beyond `max_bytes` still fits.
pub(crate) fn fetch_byte_budget(max_frame_bytes: u32) -> u32 {
    max_frame_bytes / 2
}

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
    loop {
        let frame = match conn.read_request() {
            Ok(Some(frame)) => frame,
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
                    eprintln!("synclog: {peer}: closing the connection: {}", chain(&e));
                }
                break;
            }
        };
        if let Err(e) = serve(shared, &mut conn, frame) {
            if !shared.stopping.load(Ordering::Acquire) {
                eprintln!("synclog: {peer}: closing the connection: {}", chain(&e));
            }
            break;
        }
        if !conn.has_buffered_frame() && conn.flush().is_err() {
            break;
        }
    }
    let _ = conn.flush();
}

/// Answers one request (queues the reply; the caller flushes).
fn serve<S: SyncStrategy>(
    shared: &Shared<S>,
    conn: &mut Connection,
    frame: RequestFrame,
) -> Result<(), ConnectionError> {
    let id = frame.correlation_id;
    match frame.request {
        Request::Produce { topic, messages } => {
            let body = produce(shared, &topic, messages.iter());
            conn.write_response(&respond(id, body))
        }
        Request::Fetch { topic, offset, max_messages, max_bytes, max_wait_ms } => {
            let wait = Duration::from_millis(u64::from(max_wait_ms)).min(MAX_WAIT);
            let max_bytes = max_bytes.min(fetch_byte_budget(shared.config.max_frame_bytes));
            match fetch(shared, conn, &topic, offset, max_messages, max_bytes, wait) {
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

/// Produce: validate, create the topic if missing, append all messages contiguously.
fn produce<'a, S: SyncStrategy>(
    shared: &Shared<S>,
    topic: &str,
    messages: impl ExactSizeIterator<Item = &'a [u8]>,
) -> Result<ResponseBody, Failure> {
    validate_topic_name(topic).map_err(failure)?;
    let count = messages.len();
    let payloads: Vec<&[u8]> = messages.collect();
    let max = shared.config.max_message_bytes;
    if let Some(big) = payloads.iter().find(|p| p.len() > max as usize) {
        return Err(failure(LogError::MessageTooLarge { size: big.len(), max }));
    }
    let topic = shared.topics.get_or_create(topic).map_err(failure)?;
    let base_offset = topic.append_batch(&payloads).map_err(failure)?;
    Ok(ResponseBody::Produced { base_offset, count: count as u32 })
}

/// Fetch: read from the offset; at the high watermark, long-poll up to `wait` for new records.
fn fetch<S: SyncStrategy>(
    shared: &Shared<S>,
    conn: &mut Connection,
    topic: &str,
    offset: u64,
    max_messages: u32,
    max_bytes: u32,
    wait: Duration,
) -> Result<ReadBatch, Failure> {
    validate_topic_name(topic).map_err(failure)?;
    let topic = shared.topics.get(topic).ok_or_else(|| failure(LogError::UnknownTopic(topic.to_string())))?;
    let max_messages = max_messages.min(100_000);
    let batch = topic.log.read(offset, max_messages, max_bytes).map_err(failure)?;
    if !batch.is_empty() || wait.is_zero() || max_messages == 0 {
        return Ok(batch);
    }
    // Nothing yet: answer earlier pipelined requests first, then wait without any lock.
    let _ = conn.flush();
    long_poll(shared, &topic, offset, Instant::now() + wait);
    topic.log.read(offset, max_messages, max_bytes).map_err(failure)
}

/// Waits until the topic's high watermark passes `offset`, the deadline passes, or the broker
/// stops (checked every 100 ms, so shutdown never waits for a long poll).
fn long_poll<S: SyncStrategy>(shared: &Shared<S>, topic: &Topic<S>, offset: u64, deadline: Instant) {
    loop {
        let slice = (Instant::now() + Duration::from_millis(100)).min(deadline);
        if topic.wait_for(offset, slice)
            || Instant::now() >= deadline
            || shared.stopping.load(Ordering::Acquire)
        {
            return;
        }
    }
}

/// The wire error for a storage error, with a message a person can act on.
fn failure(e: LogError) -> Failure {
    let code = match &e {
        LogError::InvalidTopic { .. } => ErrorCode::InvalidTopic,
        LogError::UnknownTopic(_) => ErrorCode::UnknownTopic,
        LogError::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
        LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        LogError::Corrupt { .. } => ErrorCode::CorruptLog,
        LogError::Io { .. } => ErrorCode::Internal,
    };
    (code, chain(&e))
}

/// An error and its sources, joined with ": ".
pub(crate) fn chain(e: &dyn Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
