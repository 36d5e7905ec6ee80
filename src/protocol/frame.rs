//! Frames: requests and responses as values, and their bytes. No sockets (sans-IO).
//!
//! A decoder here takes a byte slice that may hold part of a frame, one frame, or several, and
//! answers with the first frame and the number of bytes it used (`(value, consumed)`), or with
//! [`ProtocolError::Incomplete`] when the slice holds less than a whole frame. The caller owns
//! the buffer and the socket (see [`Connection`](super::Connection)); this module never reads,
//! writes, or waits, so every case can be tested from a byte literal.
//!
//! Invariants the decoders keep, so that a hostile peer cannot make them misbehave:
//!
//! - The length prefix is checked against the receiver's limit from its 4 bytes alone, before
//!   anything is allocated or more bytes are awaited ([`peek_frame_bytes`]).
//! - Nothing but `Incomplete` is reported until the whole frame is in the buffer; from then on,
//!   running out of bytes *inside* the frame is `Malformed`, never `Incomplete`.
//! - Every `count` is checked against the bytes that remain in the frame (each item takes at
//!   least its fixed-size fields) *before* capacity is reserved for it, so a frame can never
//!   make the decoder reserve more than a small multiple of its own size.
//! - A frame must be used up exactly: trailing bytes after the body are `Malformed`.
//! - Encoding is canonical: `decode(encode(x)) == x`, and a frame that decodes re-encodes to the
//!   same bytes.
//!
//! The layouts themselves are in the [module docs](super).

use super::error::{DecodeError, ErrorCode, ProtocolError};
use std::fmt;
use std::ops::Index;

/// Bytes of the `length: u32` prefix that opens every frame.
pub const LENGTH_PREFIX_BYTES: usize = 4;
/// Bytes of a request's header after the length prefix: `api: u8 | version: u8 | correlation_id: u32`.
pub const REQUEST_HEADER_BYTES: usize = 6;
/// Bytes of a response's header after the length prefix: `correlation_id: u32 | error: u16`.
pub const RESPONSE_HEADER_BYTES: usize = 6;
/// The only version of every api this codec speaks.
pub const VERSION: u8 = 0;
/// The broker's default `--max-frame-bytes`: the largest length prefix accepted (16 MiB).
pub const DEFAULT_MAX_FRAME_BYTES: u32 = 16 * 1024 * 1024;

/// Which operation a request asks for: the frame's `api` byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Api {
    /// 0: append messages to a topic, creating it when missing.
    Produce = 0,
    /// 1: read records of a topic from an offset.
    Fetch = 1,
    /// 2: list every topic with its next offset.
    ListTopics = 2,
}

impl Api {
    /// The api for an `api` byte, `None` for one this codec does not know.
    pub fn from_u8(api: u8) -> Option<Api> {
        match api {
            0 => Some(Api::Produce),
            1 => Some(Api::Fetch),
            2 => Some(Api::ListTopics),
            _ => None,
        }
    }

    /// The `api` byte on the wire.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The api's name as DESIGN.md spells it (`"ListTopics"`).
    pub fn name(self) -> &'static str {
        match self {
            Api::Produce => "Produce",
            Api::Fetch => "Fetch",
            Api::ListTopics => "ListTopics",
        }
    }
}

impl From<Api> for u8 {
    fn from(api: Api) -> u8 {
        api.as_u8()
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The size of the first frame in `buf`, length prefix included, from its prefix alone.
///
/// `Ok(None)` while fewer than 4 bytes are present; `Err(FrameTooLarge)` as soon as the prefix
/// announces more than `max_frame_bytes`, whatever follows it. Works for requests and
/// responses alike: both open with the same prefix.
pub fn peek_frame_bytes(buf: &[u8], max_frame_bytes: u32) -> Result<Option<usize>, ProtocolError> {
    let Some((prefix, _)) = buf.split_first_chunk::<LENGTH_PREFIX_BYTES>() else {
        return Ok(None);
    };
    let length = u32::from_be_bytes(*prefix);
    if length > max_frame_bytes {
        return Err(ProtocolError::FrameTooLarge { size: length, max: max_frame_bytes });
    }
    // Saturating: on a 16- or 32-bit target a huge length simply stays incomplete.
    Ok(Some((length as usize).saturating_add(LENGTH_PREFIX_BYTES)))
}

// ---------------------------------------------------------------------------------------------
// MessageSet and RecordSet
// ---------------------------------------------------------------------------------------------

/// An ordered set of message payloads stored compactly: all payload bytes in one buffer and the
/// end position of each payload in another.
///
/// Two allocations whatever the number of messages, where a `Vec<Vec<u8>>` would make one per
/// message: at millions of messages per second the allocator would otherwise dominate.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct MessageSet {
    /// Every payload, back to back, in order.
    bytes: Vec<u8>,
    /// `ends[i]` is the end of payload `i` in `bytes`; payload `i` starts where payload `i - 1`
    /// ends (payload 0 at 0). Non-decreasing, and the last one equals `bytes.len()`, so the
    /// representation is canonical and the derived equality compares payloads.
    ends: Vec<usize>,
}

impl MessageSet {
    /// An empty set.
    pub fn new() -> MessageSet {
        MessageSet::default()
    }

    /// An empty set with room for `messages` payloads totalling `total_bytes`.
    pub fn with_capacity(messages: usize, total_bytes: usize) -> MessageSet {
        MessageSet { bytes: Vec::with_capacity(total_bytes), ends: Vec::with_capacity(messages) }
    }

    /// Appends one payload (a copy of `payload`).
    pub fn push(&mut self, payload: &[u8]) {
        self.bytes.extend_from_slice(payload);
        self.ends.push(self.bytes.len());
    }

    /// The number of payloads.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the set holds no payload.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The sum of the payload lengths.
    pub fn total_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Payload `index`, `None` past the end.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        Some(&self.bytes[start..end])
    }

    /// The payloads in order.
    pub fn iter(&self) -> Messages<'_> {
        Messages { set: self, front: 0, back: self.ends.len() }
    }

    /// Every payload back to back, without the boundaries between them.
    pub fn concatenated_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Removes every payload, keeping the allocations for reuse.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}

impl Index<usize> for MessageSet {
    type Output = [u8];

    /// Payload `index`; panics past the end, as slice indexing does.
    fn index(&self, index: usize) -> &[u8] {
        match self.get(index) {
            Some(payload) => payload,
            None => panic!("message index {index} out of range for a set of {}", self.len()),
        }
    }
}

impl fmt::Debug for MessageSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: AsRef<[u8]>> Extend<T> for MessageSet {
    fn extend<I: IntoIterator<Item = T>>(&mut self, payloads: I) {
        for payload in payloads {
            self.push(payload.as_ref());
        }
    }
}

impl<T: AsRef<[u8]>> FromIterator<T> for MessageSet {
    fn from_iter<I: IntoIterator<Item = T>>(payloads: I) -> MessageSet {
        let mut set = MessageSet::new();
        set.extend(payloads);
        set
    }
}

impl From<Vec<Vec<u8>>> for MessageSet {
    fn from(payloads: Vec<Vec<u8>>) -> MessageSet {
        let total_bytes = payloads.iter().map(Vec::len).sum();
        let mut set = MessageSet::with_capacity(payloads.len(), total_bytes);
        set.extend(payloads);
        set
    }
}

impl<'a> IntoIterator for &'a MessageSet {
    type Item = &'a [u8];
    type IntoIter = Messages<'a>;

    fn into_iter(self) -> Messages<'a> {
        self.iter()
    }
}

/// The payloads of a [`MessageSet`] in order (from [`MessageSet::iter`]).
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    set: &'a MessageSet,
    /// The next payload `next()` yields.
    front: usize,
    /// One past the payload `next_back()` yields; `front <= back` always.
    back: usize,
}

impl<'a> Iterator for Messages<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front == self.back {
            return None;
        }
        let payload = self.set.get(self.front);
        self.front += 1;
        payload
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.back - self.front;
        (remaining, Some(remaining))
    }
}

impl DoubleEndedIterator for Messages<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        self.set.get(self.back)
    }
}

impl ExactSizeIterator for Messages<'_> {}

/// Records as a fetch returns them: each payload with its offset, stored as a [`MessageSet`]
/// beside a vector of offsets.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct RecordSet {
    /// `offsets[i]` is the offset of `messages[i]`; always as long as `messages`.
    offsets: Vec<u64>,
    messages: MessageSet,
}

/// The `(offset, payload)` pairs of a [`RecordSet`] in order (from [`RecordSet::iter`]).
pub type Records<'a> = std::iter::Zip<std::iter::Copied<std::slice::Iter<'a, u64>>, Messages<'a>>;

impl RecordSet {
    /// An empty set.
    pub fn new() -> RecordSet {
        RecordSet::default()
    }

    /// An empty set with room for `records` records whose payloads total `total_bytes`.
    pub fn with_capacity(records: usize, total_bytes: usize) -> RecordSet {
        RecordSet {
            offsets: Vec::with_capacity(records),
            messages: MessageSet::with_capacity(records, total_bytes),
        }
    }

    /// Appends one record (a copy of `payload`).
    pub fn push(&mut self, offset: u64, payload: &[u8]) {
        self.offsets.push(offset);
        self.messages.push(payload);
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// True when the set holds no record.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The sum of the payload lengths.
    pub fn total_bytes(&self) -> usize {
        self.messages.total_bytes()
    }

    /// Record `index` as `(offset, payload)`, `None` past the end.
    pub fn get(&self, index: usize) -> Option<(u64, &[u8])> {
        Some((*self.offsets.get(index)?, self.messages.get(index)?))
    }

    /// The records in order, as `(offset, payload)`.
    pub fn iter(&self) -> Records<'_> {
        self.offsets.iter().copied().zip(self.messages.iter())
    }

    /// The offsets alone.
    pub fn offsets(&self) -> &[u64] {
        &self.offsets
    }

    /// The payloads alone.
    pub fn messages(&self) -> &MessageSet {
        &self.messages
    }

    /// Removes every record, keeping the allocations for reuse.
    pub fn clear(&mut self) {
        self.offsets.clear();
        self.messages.clear();
    }
}

impl fmt::Debug for RecordSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: AsRef<[u8]>> Extend<(u64, T)> for RecordSet {
    fn extend<I: IntoIterator<Item = (u64, T)>>(&mut self, records: I) {
        for (offset, payload) in records {
            self.push(offset, payload.as_ref());
        }
    }
}

impl<T: AsRef<[u8]>> FromIterator<(u64, T)> for RecordSet {
    fn from_iter<I: IntoIterator<Item = (u64, T)>>(records: I) -> RecordSet {
        let mut set = RecordSet::new();
        set.extend(records);
        set
    }
}

impl<'a> IntoIterator for &'a RecordSet {
    type Item = (u64, &'a [u8]);
    type IntoIter = Records<'a>;

    fn into_iter(self) -> Records<'a> {
        self.iter()
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// What a client asks the broker (version 0 of each api).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Append `messages` to `topic`, contiguously, creating the topic when missing.
    Produce {
        /// The topic; the codec checks only that it is UTF-8 (names are validated by storage).
        topic: String,
        /// The payloads, in the order they are to be appended.
        messages: MessageSet,
    },
    /// Read records of `topic` from `offset`.
    Fetch {
        /// The topic.
        topic: String,
        /// The first offset wanted.
        offset: u64,
        /// At most this many records.
        max_messages: u32,
        /// At most this many payload bytes, except that one record is returned even if it alone
        /// is larger.
        max_bytes: u32,
        /// How long to wait for new records when `offset` is the high watermark (long poll).
        max_wait_ms: u32,
    },
    /// List every topic and its next offset.
    ListTopics,
}

impl Request {
    /// The api this request belongs to.
    pub fn api(&self) -> Api {
        match self {
            Request::Produce { .. } => Api::Produce,
            Request::Fetch { .. } => Api::Fetch,
            Request::ListTopics => Api::ListTopics,
        }
    }

    /// Appends this request as one whole frame (length prefix included) to `out`.
    ///
    /// Fails only when a value cannot be represented (a topic over 65535 bytes, a message or a
    /// frame over 4 GiB); `out` is then left as it was.
    pub fn encode(&self, correlation_id: u32, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        match self {
            Request::Produce { topic, messages } => {
                encode_produce_request(correlation_id, topic, messages, out)
            }
            Request::Fetch { topic, offset, max_messages, max_bytes, max_wait_ms } => {
                encode_frame(out, |out| {
                    put_request_header(out, Api::Fetch, correlation_id);
                    put_string(out, topic, "topic")?;
                    out.extend_from_slice(&offset.to_be_bytes());
                    out.extend_from_slice(&max_messages.to_be_bytes());
                    out.extend_from_slice(&max_bytes.to_be_bytes());
                    out.extend_from_slice(&max_wait_ms.to_be_bytes());
                    Ok(())
                })
            }
            Request::ListTopics => encode_frame(out, |out| {
                put_request_header(out, Api::ListTopics, correlation_id);
                Ok(())
            }),
        }
    }
}

/// A request together with the correlation id its response will carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFrame {
    /// Chosen by the client; the broker copies it into the response.
    pub correlation_id: u32,
    /// What is asked.
    pub request: Request,
}

impl RequestFrame {
    /// Appends this frame (length prefix included) to `out`; see [`Request::encode`].
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        self.request.encode(self.correlation_id, out)
    }

    /// Decodes the first request frame in `buf`, returning it and the bytes it used.
    ///
    /// Checks, in this order:
    /// 1. fewer than 4 bytes: `Incomplete`;
    /// 2. length prefix above `max_frame_bytes`: `FrameTooLarge`, from the prefix alone;
    /// 3. fewer bytes than the whole frame: `Incomplete` (nothing else is judged yet);
    /// 4. frame shorter than the 6-byte header: `Malformed`;
    /// 5. unknown api or version: `UnsupportedVersion`;
    /// 6. a body that does not parse or has bytes left over: `Malformed`.
    ///
    /// From step 3 on the error carries the frame's size, and from step 5 on (and in step 3
    /// once those bytes are present) its correlation id, so the caller can answer the request
    /// and skip exactly this frame.
    pub fn decode(buf: &[u8], max_frame_bytes: u32) -> Result<(RequestFrame, usize), DecodeError> {
        let frame_bytes = match peek_frame_bytes(buf, max_frame_bytes) {
            Ok(Some(frame_bytes)) => frame_bytes,
            Ok(None) => return Err(DecodeError::without_header(ProtocolError::Incomplete)),
            Err(error) => return Err(DecodeError::without_header(error)),
        };
        let header_end = LENGTH_PREFIX_BYTES + REQUEST_HEADER_BYTES;
        let correlation_id = match buf.get(LENGTH_PREFIX_BYTES + 2..header_end) {
            Some(bytes) if frame_bytes >= header_end => Some(be_u32(bytes)),
            _ => None,
        };
        let fail = |error| DecodeError { correlation_id, frame_bytes: Some(frame_bytes), error };
        let Some(frame) = buf.get(LENGTH_PREFIX_BYTES..frame_bytes) else {
            return Err(fail(ProtocolError::Incomplete));
        };
        let (Some(correlation_id), Some(&[api, version])) = (correlation_id, frame.get(..2)) else {
            return Err(fail(ProtocolError::Malformed(format!(
                "frame length {} is shorter than the {REQUEST_HEADER_BYTES}-byte request header",
                frame.len()
            ))));
        };
        let api = match Api::from_u8(api) {
            Some(known) if version == VERSION => known,
            _ => return Err(fail(ProtocolError::UnsupportedVersion { api, version })),
        };
        let request = decode_request_body(api, &frame[REQUEST_HEADER_BYTES..]).map_err(fail)?;
        Ok((RequestFrame { correlation_id, request }, frame_bytes))
    }
}

impl DecodeError {
    fn without_header(error: ProtocolError) -> DecodeError {
        DecodeError { correlation_id: None, frame_bytes: None, error }
    }
}

/// Appends a Produce request straight from payload slices, without building a [`MessageSet`].
pub fn encode_produce_request<'a>(
    correlation_id: u32,
    topic: &str,
    messages: impl IntoIterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    encode_frame(out, |out| {
        put_request_header(out, Api::Produce, correlation_id);
        put_string(out, topic, "topic")?;
        put_counted(out, messages, "message count", |out, payload| put_bytes(out, payload, "message"))
    })
}

fn decode_request_body(api: Api, body: &[u8]) -> Result<Request, ProtocolError> {
    let mut reader = Reader::new(body);
    let request = match api {
        Api::Produce => {
            let topic = reader.string("Produce topic")?;
            // Each message takes at least its 4-byte length.
            let count = reader.count("Produce message", 4)?;
            let payload_bytes = reader.remaining().saturating_sub(4 * count);
            let mut messages = MessageSet::with_capacity(count, payload_bytes);
            for _ in 0..count {
                messages.push(reader.bytes("Produce message")?);
            }
            Request::Produce { topic, messages }
        }
        Api::Fetch => Request::Fetch {
            topic: reader.string("Fetch topic")?,
            offset: reader.u64("Fetch offset")?,
            max_messages: reader.u32("Fetch max_messages")?,
            max_bytes: reader.u32("Fetch max_bytes")?,
            max_wait_ms: reader.u32("Fetch max_wait_ms")?,
        },
        Api::ListTopics => Request::ListTopics,
    };
    reader.finish(api.name())?;
    Ok(request)
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// The broker's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The correlation id of the request answered (0 for FrameTooLarge and
    /// TooManyConnections, which are answered before any request is read).
    pub correlation_id: u32,
    /// The answer.
    pub body: ResponseBody,
}

/// What a response says: one success body per api, or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// Answer to Produce: the messages got offsets `base_offset .. base_offset + count`.
    Produced {
        /// The offset of the first message.
        base_offset: u64,
        /// How many messages were appended.
        count: u32,
    },
    /// Answer to Fetch.
    Records {
        /// The offset the next appended record will get (the durable one under `--fsync always`).
        high_watermark: u64,
        /// The records, in offset order.
        records: RecordSet,
    },
    /// Answer to ListTopics: every topic with its next offset.
    Topics(Vec<(String, u64)>),
    /// Any request failed; `message` says what was wrong in words a person can act on.
    Error {
        /// What kind of failure.
        code: ErrorCode,
        /// What exactly; at most 65535 bytes are sent.
        message: String,
    },
}

impl Response {
    /// An error response.
    pub fn error(correlation_id: u32, code: ErrorCode, message: impl Into<String>) -> Response {
        Response { correlation_id, body: ResponseBody::Error { code, message: message.into() } }
    }

    /// Appends this response as one whole frame (length prefix included) to `out`.
    ///
    /// Fails only when a value cannot be represented (a topic over 65535 bytes, a frame over
    /// 4 GiB); `out` is then left as it was. An error message over 65535 bytes is cut at a
    /// character boundary instead.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        let correlation_id = self.correlation_id;
        match &self.body {
            ResponseBody::Produced { base_offset, count } => encode_frame(out, |out| {
                put_response_header(out, correlation_id);
                out.extend_from_slice(&base_offset.to_be_bytes());
                out.extend_from_slice(&count.to_be_bytes());
                Ok(())
            }),
            ResponseBody::Records { high_watermark, records } => {
                encode_records_response(correlation_id, *high_watermark, records, out)
            }
            ResponseBody::Topics(topics) => encode_frame(out, |out| {
                put_response_header(out, correlation_id);
                put_counted(out, topics, "topic count", |out, (topic, next_offset)| {
                    put_string(out, topic, "topic")?;
                    out.extend_from_slice(&next_offset.to_be_bytes());
                    Ok(())
                })
            }),
            ResponseBody::Error { code, message } => {
                encode_error_response(correlation_id, *code, message, out);
                Ok(())
            }
        }
    }

    /// Decodes the first response frame in `buf`, returning it and the bytes it used.
    ///
    /// A response carries no api, so the caller says which request it answers (`api`, the
    /// request's [`Api`] byte). An error response (error field ≠ 0) decodes whatever `api` is;
    /// a success response to an unknown api is `UnsupportedVersion { api, version: 0 }`.
    /// `Incomplete` until the whole frame is present. The length prefix is not limited here:
    /// a [`Connection`](super::Connection) checks it against its own limit before buffering.
    pub fn decode(api: u8, buf: &[u8]) -> Result<(Response, usize), ProtocolError> {
        let frame_bytes = peek_frame_bytes(buf, u32::MAX)?.ok_or(ProtocolError::Incomplete)?;
        let frame = buf.get(LENGTH_PREFIX_BYTES..frame_bytes).ok_or(ProtocolError::Incomplete)?;
        if frame.len() < RESPONSE_HEADER_BYTES {
            return Err(ProtocolError::Malformed(format!(
                "frame length {} is shorter than the {RESPONSE_HEADER_BYTES}-byte response header",
                frame.len()
            )));
        }
        let mut reader = Reader::new(frame);
        let correlation_id = reader.u32("correlation_id")?;
        let error = reader.u16("error")?;
        let body = match (ErrorCode::from_u16(error), Api::from_u8(api)) {
            (Some(code), _) => ResponseBody::Error { code, message: reader.string("error message")? },
            (None, Some(api)) => decode_response_body(api, &mut reader)?,
            (None, None) => return Err(ProtocolError::UnsupportedVersion { api, version: VERSION }),
        };
        reader.finish("response")?;
        Ok((Response { correlation_id, body }, frame_bytes))
    }
}

fn decode_response_body(api: Api, reader: &mut Reader<'_>) -> Result<ResponseBody, ProtocolError> {
    Ok(match api {
        Api::Produce => ResponseBody::Produced {
            base_offset: reader.u64("Produce base_offset")?,
            count: reader.u32("Produce count")?,
        },
        Api::Fetch => {
            let high_watermark = reader.u64("Fetch high_watermark")?;
            // Each record takes at least its 8-byte offset and 4-byte length.
            let count = reader.count("Fetch record", 12)?;
            let payload_bytes = reader.remaining().saturating_sub(12 * count);
            let mut records = RecordSet::with_capacity(count, payload_bytes);
            for _ in 0..count {
                let offset = reader.u64("Fetch record offset")?;
                records.push(offset, reader.bytes("Fetch record")?);
            }
            ResponseBody::Records { high_watermark, records }
        }
        Api::ListTopics => {
            // Each topic takes at least its 2-byte length and 8-byte next offset.
            let count = reader.count("ListTopics topic", 10)?;
            let mut topics = Vec::with_capacity(count);
            for _ in 0..count {
                let topic = reader.string("ListTopics topic")?;
                topics.push((topic, reader.u64("ListTopics next_offset")?));
            }
            ResponseBody::Topics(topics)
        }
    })
}

/// Appends a Fetch response straight from `(offset, payload)` pairs, so a broker can encode
/// records as it reads them without building a [`RecordSet`] first.
pub fn encode_records_response<'a>(
    correlation_id: u32,
    high_watermark: u64,
    records: impl IntoIterator<Item = (u64, &'a [u8])>,
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    encode_frame(out, |out| {
        put_response_header(out, correlation_id);
        out.extend_from_slice(&high_watermark.to_be_bytes());
        put_counted(out, records, "record count", |out, (offset, payload)| {
            out.extend_from_slice(&offset.to_be_bytes());
            put_bytes(out, payload, "record")
        })
    })
}

/// Appends an error response. Infallible: a `message` over 65535 bytes is cut at the last
/// character boundary that fits.
pub fn encode_error_response(correlation_id: u32, code: ErrorCode, message: &str, out: &mut Vec<u8>) {
    let mut message_bytes = message.len().min(usize::from(u16::MAX));
    while !message.is_char_boundary(message_bytes) {
        message_bytes -= 1;
    }
    let message = &message.as_bytes()[..message_bytes];
    // Header, then a string: 2-byte length and the bytes. At most 65543, so it fits a u32.
    let length = (RESPONSE_HEADER_BYTES + 2 + message.len()) as u32;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&correlation_id.to_be_bytes());
    out.extend_from_slice(&code.as_u16().to_be_bytes());
    out.extend_from_slice(&(message.len() as u16).to_be_bytes());
    out.extend_from_slice(message);
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------------------------

/// Runs `body` to append a frame's contents after a placeholder length prefix, then writes the
/// real length. On failure, `out` is truncated back to where it was.
fn encode_frame(
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), ProtocolError>,
) -> Result<(), ProtocolError> {
    let start = out.len();
    out.extend_from_slice(&[0; LENGTH_PREFIX_BYTES]);
    let result = body(out).and_then(|()| {
        let length = out.len() - start - LENGTH_PREFIX_BYTES;
        u32::try_from(length).map_err(|_| too_long("frame", length, u32::MAX.into()))
    });
    match result {
        Ok(length) => {
            out[start..start + LENGTH_PREFIX_BYTES].copy_from_slice(&length.to_be_bytes());
            Ok(())
        }
        Err(error) => {
            out.truncate(start);
            Err(error)
        }
    }
}

/// Appends a `u32` count followed by each item, patching the count once the items are known.
fn put_counted<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    field: &'static str,
    mut put_item: impl FnMut(&mut Vec<u8>, T) -> Result<(), ProtocolError>,
) -> Result<(), ProtocolError> {
    let count_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut count = 0usize;
    for item in items {
        put_item(out, item)?;
        count += 1;
    }
    let count = u32::try_from(count).map_err(|_| too_long(field, count, u32::MAX.into()))?;
    out[count_at..count_at + 4].copy_from_slice(&count.to_be_bytes());
    Ok(())
}

fn put_request_header(out: &mut Vec<u8>, api: Api, correlation_id: u32) {
    out.push(api.as_u8());
    out.push(VERSION);
    out.extend_from_slice(&correlation_id.to_be_bytes());
}

fn put_response_header(out: &mut Vec<u8>, correlation_id: u32) {
    out.extend_from_slice(&correlation_id.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
}

/// `string`: `u16 length | UTF-8`.
fn put_string(out: &mut Vec<u8>, value: &str, field: &'static str) -> Result<(), ProtocolError> {
    let length = u16::try_from(value.len()).map_err(|_| too_long(field, value.len(), u16::MAX.into()))?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(value.as_bytes());
    Ok(())
}

/// `bytes`: `u32 length | bytes`.
fn put_bytes(out: &mut Vec<u8>, value: &[u8], field: &'static str) -> Result<(), ProtocolError> {
    let length = u32::try_from(value.len()).map_err(|_| too_long(field, value.len(), u32::MAX.into()))?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(value);
    Ok(())
}

fn too_long(field: &'static str, len_bytes: usize, max_bytes: u64) -> ProtocolError {
    ProtocolError::FieldTooLong { field, len_bytes: len_bytes as u64, max_bytes }
}

fn be_u32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |value, &byte| (value << 8) | u32::from(byte))
}

// ---------------------------------------------------------------------------------------------
// Decoding helper
// ---------------------------------------------------------------------------------------------

/// A cursor over one whole frame's bytes. Running out of bytes here is `Malformed`, never
/// `Incomplete`: the caller only builds a reader once the whole frame is present.
struct Reader<'a> {
    /// The bytes not yet read.
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(frame: &'a [u8]) -> Reader<'a> {
        Reader { rest: frame }
    }

    fn remaining(&self) -> usize {
        self.rest.len()
    }

    fn take(&mut self, len_bytes: usize, what: &str) -> Result<&'a [u8], ProtocolError> {
        if self.rest.len() < len_bytes {
            return Err(ProtocolError::Malformed(format!(
                "{what} needs {len_bytes} bytes but only {} remain in the frame",
                self.rest.len()
            )));
        }
        let (taken, rest) = self.rest.split_at(len_bytes);
        self.rest = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ProtocolError> {
        let Some((array, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(ProtocolError::Malformed(format!(
                "{what} needs {N} bytes but only {} remain in the frame",
                self.rest.len()
            )));
        };
        self.rest = rest;
        Ok(*array)
    }

    fn u16(&mut self, what: &str) -> Result<u16, ProtocolError> {
        self.array(what).map(u16::from_be_bytes)
    }

    fn u32(&mut self, what: &str) -> Result<u32, ProtocolError> {
        self.array(what).map(u32::from_be_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, ProtocolError> {
        self.array(what).map(u64::from_be_bytes)
    }

    /// `string`: `u16 length | UTF-8`.
    fn string(&mut self, what: &str) -> Result<String, ProtocolError> {
        let length = self.u16(what)?;
        let bytes = self.take(usize::from(length), what)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(error) => Err(ProtocolError::Malformed(format!("{what} is not valid UTF-8 ({error})"))),
        }
    }

    /// `bytes`: `u32 length | bytes`.
    fn bytes(&mut self, what: &str) -> Result<&'a [u8], ProtocolError> {
        let length = self.u32(what)?;
        self.take(length as usize, what)
    }

    /// A `u32` count of items that take at least `min_item_bytes` each, checked against the
    /// bytes that remain before anyone reserves room for that many.
    fn count(&mut self, what: &str, min_item_bytes: usize) -> Result<usize, ProtocolError> {
        let count = self.u32(what)? as usize;
        match count.checked_mul(min_item_bytes) {
            Some(needed) if needed <= self.rest.len() => Ok(count),
            _ => Err(ProtocolError::Malformed(format!(
                "{what} count {count} needs at least {} bytes but only {} remain in the frame",
                (count as u64) * (min_item_bytes as u64),
                self.rest.len()
            ))),
        }
    }

    /// Succeeds only when every byte was read.
    fn finish(&self, what: &str) -> Result<(), ProtocolError> {
        match self.rest.len() {
            0 => Ok(()),
            trailing => {
                Err(ProtocolError::Malformed(format!("{trailing} trailing bytes after the {what} body")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: u32 = DEFAULT_MAX_FRAME_BYTES;

    fn encode_request(correlation_id: u32, request: Request) -> Vec<u8> {
        let mut out = Vec::new();
        RequestFrame { correlation_id, request }.encode(&mut out).expect("encodable");
        out
    }

    fn encode_response(response: &Response) -> Vec<u8> {
        let mut out = Vec::new();
        response.encode(&mut out).expect("encodable");
        out
    }

    /// A frame from raw parts: length prefix computed, header and body given.
    fn raw_request(api: u8, version: u8, correlation_id: u32, body: &[u8]) -> Vec<u8> {
        let mut frame = Vec::new();
        frame.extend_from_slice(&((REQUEST_HEADER_BYTES + body.len()) as u32).to_be_bytes());
        frame.push(api);
        frame.push(version);
        frame.extend_from_slice(&correlation_id.to_be_bytes());
        frame.extend_from_slice(body);
        frame
    }

    fn sample_requests() -> Vec<RequestFrame> {
        vec![
            RequestFrame {
                correlation_id: 1,
                request: Request::Produce {
                    topic: "orders".into(),
                    messages: MessageSet::from(vec![b"a".to_vec(), Vec::new(), b"ccc".to_vec()]),
                },
            },
            RequestFrame {
                correlation_id: 0,
                request: Request::Produce { topic: String::new(), messages: MessageSet::new() },
            },
            RequestFrame {
                correlation_id: u32::MAX,
                request: Request::Fetch {
                    topic: "tópico".into(),
                    offset: u64::MAX - 1,
                    max_messages: 100,
                    max_bytes: 1 << 20,
                    max_wait_ms: 500,
                },
            },
            RequestFrame { correlation_id: 42, request: Request::ListTopics },
        ]
    }

    fn sample_responses() -> Vec<(Api, Response)> {
        vec![
            (
                Api::Produce,
                Response { correlation_id: 1, body: ResponseBody::Produced { base_offset: 300, count: 3 } },
            ),
            (
                Api::Fetch,
                Response {
                    correlation_id: 2,
                    body: ResponseBody::Records {
                        high_watermark: 12,
                        records: [(10, &b"ten"[..]), (11, b"")].into_iter().collect(),
                    },
                },
            ),
            (
                Api::Fetch,
                Response {
                    correlation_id: 3,
                    body: ResponseBody::Records { high_watermark: 0, records: RecordSet::new() },
                },
            ),
            (
                Api::ListTopics,
                Response {
                    correlation_id: 4,
                    body: ResponseBody::Topics(vec![("a".into(), 0), ("b.c-d_e".into(), 7)]),
                },
            ),
            (Api::Fetch, Response::error(5, ErrorCode::OffsetOutOfRange, "offset 9 is past 7")),
        ]
    }

    #[test]
    fn every_sample_request_round_trips() {
        for frame in sample_requests() {
            let mut bytes = Vec::new();
            frame.encode(&mut bytes).expect("encodable");
            let (decoded, consumed) = RequestFrame::decode(&bytes, MAX).expect("decodable");
            assert_eq!(decoded, frame);
            assert_eq!(consumed, bytes.len());
        }
    }

    #[test]
    fn every_sample_response_round_trips() {
        for (api, response) in sample_responses() {
            let bytes = encode_response(&response);
            let (decoded, consumed) = Response::decode(api.as_u8(), &bytes).expect("decodable");
            assert_eq!(decoded, response);
            assert_eq!(consumed, bytes.len());
        }
    }

    #[test]
    fn produce_request_has_the_documented_layout() {
        let messages = MessageSet::from(vec![b"hi".to_vec()]);
        let bytes = encode_request(7, Request::Produce { topic: "t".into(), messages });
        #[rustfmt::skip]
        let expected = [
            0, 0, 0, 19,       // length: bytes after this field
            0, 0,              // api 0 Produce, version 0
            0, 0, 0, 7,        // correlation id
            0, 1, b't',        // topic: string
            0, 0, 0, 1,        // count
            0, 0, 0, 2, b'h', b'i', // bytes
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn records_response_has_the_documented_layout() {
        let mut bytes = Vec::new();
        encode_records_response(9, 6, [(5, &b"x"[..])], &mut bytes).expect("encodable");
        #[rustfmt::skip]
        let expected = [
            0, 0, 0, 31,              // length
            0, 0, 0, 9,               // correlation id
            0, 0,                     // error: none
            0, 0, 0, 0, 0, 0, 0, 6,   // high watermark
            0, 0, 0, 1,               // count
            0, 0, 0, 0, 0, 0, 0, 5,   // offset
            0, 0, 0, 1, b'x',         // bytes
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn every_proper_prefix_of_a_request_is_incomplete() {
        for frame in sample_requests() {
            let mut bytes = Vec::new();
            frame.encode(&mut bytes).expect("encodable");
            for end in 0..bytes.len() {
                let error = RequestFrame::decode(&bytes[..end], MAX).expect_err("a proper prefix");
                assert_eq!(error.error, ProtocolError::Incomplete, "prefix of {end} bytes");
                let expected_frame_bytes = (end >= LENGTH_PREFIX_BYTES).then_some(bytes.len());
                assert_eq!(error.frame_bytes, expected_frame_bytes);
            }
        }
    }

    #[test]
    fn every_proper_prefix_of_a_response_is_incomplete() {
        for (api, response) in sample_responses() {
            let bytes = encode_response(&response);
            for end in 0..bytes.len() {
                assert_eq!(
                    Response::decode(api.as_u8(), &bytes[..end]),
                    Err(ProtocolError::Incomplete),
                    "prefix of {end} bytes"
                );
            }
        }
    }

    #[test]
    fn decode_consumes_exactly_one_of_two_buffered_frames() {
        let mut bytes = encode_request(1, Request::ListTopics);
        let first_bytes = bytes.len();
        bytes.extend(encode_request(2, Request::ListTopics));
        let (first, consumed) = RequestFrame::decode(&bytes, MAX).expect("decodable");
        assert_eq!((first.correlation_id, consumed), (1, first_bytes));
        let (second, _) = RequestFrame::decode(&bytes[consumed..], MAX).expect("decodable");
        assert_eq!(second.correlation_id, 2);
    }

    #[test]
    fn a_buffer_shorter_than_the_length_prefix_is_incomplete_without_a_header() {
        let error = RequestFrame::decode(&[0, 0, 1], MAX).expect_err("too short");
        assert_eq!(error, DecodeError::without_header(ProtocolError::Incomplete));
    }

    #[test]
    fn a_frame_shorter_than_the_request_header_is_malformed_and_skippable() {
        // Length 5: api, version and three of the correlation id's four bytes.
        let bytes = [0, 0, 0, 5, 0, 0, 0, 0, 7];
        let error = RequestFrame::decode(&bytes, MAX).expect_err("short header");
        assert!(matches!(error.error, ProtocolError::Malformed(_)), "{error:?}");
        assert_eq!(error.correlation_id, None);
        assert_eq!(error.frame_bytes, Some(bytes.len()));
    }

    #[test]
    fn a_zero_length_frame_is_malformed() {
        let error = RequestFrame::decode(&[0, 0, 0, 0], MAX).expect_err("empty frame");
        assert!(matches!(error.error, ProtocolError::Malformed(_)), "{error:?}");
        assert_eq!(error.frame_bytes, Some(4));
    }

    #[test]
    fn a_four_gib_length_prefix_is_too_large_from_the_prefix_alone() {
        let error = RequestFrame::decode(&[0xFF; 4], MAX).expect_err("too large");
        assert_eq!(
            error,
            DecodeError::without_header(ProtocolError::FrameTooLarge { size: u32::MAX, max: MAX })
        );
        assert_eq!(error.error.code(), ErrorCode::FrameTooLarge);
    }

    #[test]
    fn a_length_prefix_equal_to_the_limit_is_accepted() {
        let bytes = encode_request(3, Request::ListTopics);
        let limit = (bytes.len() - LENGTH_PREFIX_BYTES) as u32;
        assert!(RequestFrame::decode(&bytes, limit).is_ok());
        let error = RequestFrame::decode(&bytes, limit - 1).expect_err("one over");
        assert_eq!(error.error, ProtocolError::FrameTooLarge { size: limit, max: limit - 1 });
    }

    #[test]
    fn an_unknown_api_is_unsupported_and_keeps_its_correlation_id() {
        let bytes = raw_request(9, 0, 77, b"whatever");
        let error = RequestFrame::decode(&bytes, MAX).expect_err("unknown api");
        assert_eq!(error.error, ProtocolError::UnsupportedVersion { api: 9, version: 0 });
        assert_eq!(error.correlation_id, Some(77));
        assert_eq!(error.frame_bytes, Some(bytes.len()));
    }

    #[test]
    fn an_unknown_version_is_unsupported_and_keeps_its_correlation_id() {
        let bytes = raw_request(Api::ListTopics.as_u8(), 1, 78, b"");
        let error = RequestFrame::decode(&bytes, MAX).expect_err("unknown version");
        assert_eq!(error.error, ProtocolError::UnsupportedVersion { api: 2, version: 1 });
        assert_eq!(error.correlation_id, Some(78));
    }

    #[test]
    fn an_unknown_api_is_judged_only_once_the_whole_frame_is_present() {
        let bytes = raw_request(9, 0, 79, b"body");
        let error = RequestFrame::decode(&bytes[..bytes.len() - 1], MAX).expect_err("partial");
        assert_eq!(error.error, ProtocolError::Incomplete);
        assert_eq!(error.correlation_id, Some(79));
    }

    #[test]
    fn a_message_count_larger_than_the_bytes_that_follow_is_malformed() {
        // Topic "t", then a count of a billion messages and one 1-byte message.
        let body = [0, 1, b't', 0x3B, 0x9A, 0xCA, 0x00, 0, 0, 0, 1, b'x'];
        let bytes = raw_request(Api::Produce.as_u8(), 0, 80, &body);
        let error = RequestFrame::decode(&bytes, MAX).expect_err("count too large");
        assert!(
            matches!(&error.error, ProtocolError::Malformed(text) if text.contains("count")),
            "{error:?}"
        );
        assert_eq!(error.correlation_id, Some(80));
        assert_eq!(error.frame_bytes, Some(bytes.len()));
    }

    #[test]
    fn a_message_longer_than_the_bytes_that_follow_is_malformed() {
        let body = [0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 9, b'x'];
        let bytes = raw_request(Api::Produce.as_u8(), 0, 81, &body);
        let error = RequestFrame::decode(&bytes, MAX).expect_err("message too long");
        assert!(matches!(error.error, ProtocolError::Malformed(_)), "{error:?}");
        assert_eq!(error.correlation_id, Some(81));
    }

    #[test]
    fn a_topic_longer_than_the_bytes_that_follow_is_malformed() {
        let bytes = raw_request(Api::Fetch.as_u8(), 0, 82, &[0, 200, b'a']);
        let error = RequestFrame::decode(&bytes, MAX).expect_err("topic too long");
        assert!(matches!(error.error, ProtocolError::Malformed(_)), "{error:?}");
    }

    #[test]
    fn a_fetch_body_cut_short_is_malformed() {
        let mut body = vec![0, 1, b't'];
        body.extend_from_slice(&5u64.to_be_bytes());
        let bytes = raw_request(Api::Fetch.as_u8(), 0, 83, &body);
        let error = RequestFrame::decode(&bytes, MAX).expect_err("fields missing");
        assert!(matches!(error.error, ProtocolError::Malformed(_)), "{error:?}");
        assert_eq!(error.correlation_id, Some(83));
    }

    #[test]
    fn trailing_bytes_after_the_body_are_malformed() {
        let bytes = raw_request(Api::ListTopics.as_u8(), 0, 84, b"junk");
        let error = RequestFrame::decode(&bytes, MAX).expect_err("trailing garbage");
        assert!(
            matches!(&error.error, ProtocolError::Malformed(text) if text.contains("trailing")),
            "{error:?}"
        );
        assert_eq!(error.correlation_id, Some(84));
        assert_eq!(error.frame_bytes, Some(bytes.len()));
    }

    #[test]
    fn a_topic_that_is_not_utf8_is_malformed() {
        let body = [0, 2, 0xC3, 0x28, 0, 0, 0, 0];
        let bytes = raw_request(Api::Produce.as_u8(), 0, 85, &body);
        let error = RequestFrame::decode(&bytes, MAX).expect_err("bad UTF-8");
        assert!(
            matches!(&error.error, ProtocolError::Malformed(text) if text.contains("UTF-8")),
            "{error:?}"
        );
        assert_eq!(error.correlation_id, Some(85));
    }

    #[test]
    fn an_error_response_decodes_whatever_the_api() {
        let response = Response::error(6, ErrorCode::from_u16(100).expect("non-zero"), "new");
        let bytes = encode_response(&response);
        for api in [0, 1, 2, 200] {
            assert_eq!(Response::decode(api, &bytes), Ok((response.clone(), bytes.len())));
        }
    }

    #[test]
    fn a_success_response_to_an_unknown_api_is_unsupported() {
        let bytes = encode_response(&Response { correlation_id: 1, body: ResponseBody::Topics(Vec::new()) });
        assert_eq!(
            Response::decode(3, &bytes),
            Err(ProtocolError::UnsupportedVersion { api: 3, version: 0 })
        );
    }

    #[test]
    fn a_response_decoded_as_the_wrong_api_is_malformed() {
        let bytes = encode_response(&Response {
            correlation_id: 1,
            body: ResponseBody::Produced { base_offset: 0, count: 1 },
        });
        assert!(matches!(
            Response::decode(Api::ListTopics.as_u8(), &bytes),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn a_record_count_larger_than_the_bytes_that_follow_is_malformed() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&((RESPONSE_HEADER_BYTES + 12) as u32).to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 1, 0, 0]); // correlation id 1, no error
        bytes.extend_from_slice(&0u64.to_be_bytes()); // high watermark
        bytes.extend_from_slice(&u32::MAX.to_be_bytes()); // count, and no records
        assert!(matches!(Response::decode(Api::Fetch.as_u8(), &bytes), Err(ProtocolError::Malformed(_))));
    }

    #[test]
    fn a_response_shorter_than_its_header_is_malformed() {
        assert!(matches!(Response::decode(0, &[0, 0, 0, 2, 0, 0]), Err(ProtocolError::Malformed(_))));
    }

    #[test]
    fn a_topic_too_long_for_its_length_field_fails_to_encode_and_leaves_out_unchanged() {
        let mut out = vec![1, 2, 3];
        let request = Request::Fetch {
            topic: "x".repeat(70_000),
            offset: 0,
            max_messages: 1,
            max_bytes: 1,
            max_wait_ms: 0,
        };
        assert_eq!(
            request.encode(1, &mut out),
            Err(ProtocolError::FieldTooLong { field: "topic", len_bytes: 70_000, max_bytes: 65_535 })
        );
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn an_error_message_too_long_is_cut_at_a_character_boundary() {
        // 'é' is two bytes, so 65535 falls inside one: the cut must step back to 65534.
        let message = "é".repeat(40_000);
        let bytes = encode_response(&Response::error(1, ErrorCode::Internal, message));
        let (decoded, _) = Response::decode(0, &bytes).expect("decodable");
        match decoded.body {
            ResponseBody::Error { message, .. } => assert_eq!(message.len(), 65_534),
            other => panic!("expected an error body, got {other:?}"),
        }
    }

    #[test]
    fn a_message_set_stores_payloads_in_order() {
        let mut set = MessageSet::new();
        assert!(set.is_empty());
        set.push(b"one");
        set.push(b"");
        set.push(b"three");
        assert_eq!(set.len(), 3);
        assert_eq!(set.total_bytes(), 8);
        assert_eq!(set.get(0), Some(&b"one"[..]));
        assert_eq!(set.get(1), Some(&b""[..]));
        assert_eq!(&set[2], b"three");
        assert_eq!(set.get(3), None);
        assert_eq!(set.iter().collect::<Vec<_>>(), [&b"one"[..], b"", b"three"]);
        assert_eq!(set.iter().next_back(), Some(&b"three"[..]));
        assert_eq!(set.iter().len(), 3);
        assert_eq!(set, MessageSet::from(vec![b"one".to_vec(), Vec::new(), b"three".to_vec()]));
        set.clear();
        assert!(set.is_empty());
        assert_eq!(set.total_bytes(), 0);
    }

    #[test]
    fn a_record_set_pairs_offsets_with_payloads() {
        let mut records = RecordSet::new();
        records.push(4, b"four");
        records.push(5, b"");
        assert_eq!(records.len(), 2);
        assert_eq!(records.get(1), Some((5, &b""[..])));
        assert_eq!(records.offsets(), [4, 5]);
        assert_eq!(records.total_bytes(), 4);
        assert_eq!(records.iter().collect::<Vec<_>>(), [(4, &b"four"[..]), (5, b"")]);
    }

    fn arb_messages() -> impl Strategy<Value = MessageSet> {
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..8).prop_map(MessageSet::from)
    }

    fn arb_request() -> impl Strategy<Value = Request> {
        prop_oneof![
            (".{0,20}", arb_messages()).prop_map(|(topic, messages)| Request::Produce { topic, messages }),
            (".{0,20}", any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
                |(topic, offset, max_messages, max_bytes, max_wait_ms)| {
                    Request::Fetch { topic, offset, max_messages, max_bytes, max_wait_ms }
                }
            ),
            Just(Request::ListTopics),
        ]
    }

    fn arb_response() -> impl Strategy<Value = (Api, ResponseBody)> {
        prop_oneof![
            (any::<u64>(), any::<u32>()).prop_map(|(base_offset, count)| {
                (Api::Produce, ResponseBody::Produced { base_offset, count })
            }),
            (
                any::<u64>(),
                prop::collection::vec((any::<u64>(), prop::collection::vec(any::<u8>(), 0..40)), 0..8)
            )
                .prop_map(|(high_watermark, records)| {
                    let records = records.into_iter().collect();
                    (Api::Fetch, ResponseBody::Records { high_watermark, records })
                }),
            prop::collection::vec((".{0,20}", any::<u64>()), 0..8)
                .prop_map(|topics| (Api::ListTopics, ResponseBody::Topics(topics))),
            (0u8..3, 1u16.., ".{0,40}").prop_map(|(api, code, message)| {
                let code = ErrorCode::from_u16(code).unwrap_or(ErrorCode::Internal);
                let api = Api::from_u8(api).unwrap_or(Api::Produce);
                (api, ResponseBody::Error { code, message })
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_request_frame_round_trips(correlation_id: u32, request in arb_request()) {
            let frame = RequestFrame { correlation_id, request };
            let mut bytes = Vec::new();
            frame.encode(&mut bytes).expect("encodable");
            prop_assert_eq!(RequestFrame::decode(&bytes, MAX), Ok((frame, bytes.len())));
        }

        #[test]
        fn every_response_round_trips(correlation_id: u32, (api, body) in arb_response()) {
            let response = Response { correlation_id, body };
            let bytes = encode_response(&response);
            prop_assert_eq!(Response::decode(api.as_u8(), &bytes), Ok((response, bytes.len())));
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoders(
            bytes in prop::collection::vec(any::<u8>(), 0..64),
            max in any::<u32>(),
            api in any::<u8>(),
        ) {
            let _ = RequestFrame::decode(&bytes, max);
            let _ = Response::decode(api, &bytes);
        }

        /// Random bodies behind a valid header reach the body parsers; whatever decodes must
        /// re-encode to exactly the bytes it came from (the encoding is canonical).
        #[test]
        fn arbitrary_bodies_decode_canonically_or_fail_cleanly(
            api in 0u8..4,
            correlation_id: u32,
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let bytes = raw_request(api, VERSION, correlation_id, &body);
            match RequestFrame::decode(&bytes, MAX) {
                Ok((frame, consumed)) => {
                    prop_assert_eq!(consumed, bytes.len());
                    let mut again = Vec::new();
                    frame.encode(&mut again).expect("encodable");
                    prop_assert_eq!(again, bytes);
                }
                Err(error) => {
                    prop_assert_eq!(error.correlation_id, Some(correlation_id));
                    prop_assert_eq!(error.frame_bytes, Some(bytes.len()));
                    prop_assert_ne!(error.error, ProtocolError::Incomplete);
                }
            }
            let mut response = Vec::new();
            response.extend_from_slice(&((RESPONSE_HEADER_BYTES + body.len()) as u32).to_be_bytes());
            response.extend_from_slice(&correlation_id.to_be_bytes());
            response.extend_from_slice(&[0, 0]);
            response.extend_from_slice(&body);
            if let Ok((decoded, _)) = Response::decode(api, &response) {
                prop_assert_eq!(encode_response(&decoded), response);
            }
        }
    }
}
