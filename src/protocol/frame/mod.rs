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
//!   make the decoder reserve more than a small multiple of its own size. A Produce's message
//!   count is also checked against [`MAX_PRODUCE_MESSAGES`] first: what the broker keeps per
//!   message (a position, a slice, a record header) is many times the 4 bytes a message takes
//!   on the wire, so the count, not the frame size, bounds that memory.
//! - A frame must be used up exactly: trailing bytes after the body are `Malformed`.
//! - Encoding is canonical: `decode(encode(x)) == x` for every request within the limits above,
//!   and a frame that decodes re-encodes to the same bytes.
//!
//! The layouts themselves are in the [module docs](super).

use super::error::{DecodeError, ErrorCode, ProtocolError};
use std::fmt;
use wire::{
    be_u32, encode_frame, put_bytes, put_counted, put_request_header, put_response_header, put_string, Reader,
};

mod sets;
mod wire;

pub use sets::{MessageSet, Messages, RecordSet, Records};

/// Bytes of the `length: u32` prefix that opens every frame.
pub const LENGTH_PREFIX_BYTES: usize = 4;
/// Bytes of a request's header after the length prefix: `api: u8 | version: u8 | correlation_id: u32`.
pub const REQUEST_HEADER_BYTES: usize = 6;
/// Bytes of a response's header after the length prefix: `correlation_id: u32 | error: u16`.
pub const RESPONSE_HEADER_BYTES: usize = 6;
/// Bytes a Fetch response gives each record beside its payload: `offset: u64` and the
/// payload's `u32` length. A Fetch's `max_bytes` counts each record as its payload plus these.
pub const FETCH_RECORD_OVERHEAD_BYTES: u32 = 12;
/// The only version of every api this codec speaks.
pub const VERSION: u8 = 0;
/// The broker's default `--max-frame-bytes`: the largest length prefix accepted (16 MiB).
pub const DEFAULT_MAX_FRAME_BYTES: u32 = 16 * 1024 * 1024;
/// The most messages one Produce request may carry; a larger `count` is `Malformed`, judged
/// from the count before anything is reserved for the messages.
pub const MAX_PRODUCE_MESSAGES: usize = 65_536;

/// Which operation a request asks for: the frame's `api` byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Api {
    /// 0: append messages to a topic, creating it when missing.
    Produce = 0,
    /// 1: read records of a topic from an offset.
    Fetch = 1,
    /// 2: list every topic with its high watermark.
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

    /// The api's name as docs/protocol.md spells it (`"ListTopics"`).
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
        /// At most this many bytes of records as the reply carries them: each record's payload
        /// plus its 12 bytes of offset and length ([`FETCH_RECORD_OVERHEAD_BYTES`]), except that
        /// one record is returned even if it alone is larger.
        max_bytes: u32,
        /// How long to wait for new records when `offset` is the high watermark (long poll).
        max_wait_ms: u32,
    },
    /// List every topic and its high watermark (its next offset once every append in flight is
    /// acknowledged).
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
            let (topic, count) = produce_head(&mut reader)?;
            let payload_bytes = reader.remaining().saturating_sub(4 * count);
            let mut messages = MessageSet::with_capacity(count, payload_bytes);
            for _ in 0..count {
                messages.push(reader.bytes("Produce message")?);
            }
            Request::Produce { topic: topic.to_owned(), messages }
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

/// A Produce body's topic and message count, with the checks every decode of it makes: the count
/// fits the bytes left (each message takes at least its 4-byte length) and
/// [`MAX_PRODUCE_MESSAGES`].
fn produce_head<'a>(reader: &mut Reader<'a>) -> Result<(&'a str, usize), ProtocolError> {
    let topic = reader.str("Produce topic")?;
    let count = reader.count("Produce message", 4)?;
    if count > MAX_PRODUCE_MESSAGES {
        return Err(ProtocolError::Malformed(format!(
            "Produce message count {count} exceeds the limit of {MAX_PRODUCE_MESSAGES} messages a request"
        )));
    }
    Ok((topic, count))
}

/// A Produce request read in place: its topic and payloads borrowed from the frame's bytes, so a
/// broker can append them without first copying them into a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceRef<'a> {
    /// The request's correlation id.
    pub correlation_id: u32,
    /// The topic named.
    pub topic: &'a str,
    /// The payloads, in order.
    pub messages: Vec<&'a [u8]>,
}

impl<'a> ProduceRef<'a> {
    /// `frame` (one whole frame, length prefix included) as a Produce request, when it is a
    /// well-formed one: the same checks as [`RequestFrame::decode`]. `None` for any other frame,
    /// whose decode (by [`RequestFrame::decode`]) says what it is or what is wrong with it.
    pub fn decode(frame: &'a [u8], max_frame_bytes: u32) -> Option<ProduceRef<'a>> {
        if peek_frame_bytes(frame, max_frame_bytes).ok()?? != frame.len() {
            return None;
        }
        let header = frame.get(LENGTH_PREFIX_BYTES..LENGTH_PREFIX_BYTES + REQUEST_HEADER_BYTES)?;
        if header[..2] != [Api::Produce.as_u8(), VERSION] {
            return None;
        }
        let correlation_id = be_u32(&header[2..]);
        let mut reader = Reader::new(&frame[LENGTH_PREFIX_BYTES + REQUEST_HEADER_BYTES..]);
        let (topic, count) = produce_head(&mut reader).ok()?;
        let mut messages = Vec::with_capacity(count);
        for _ in 0..count {
            messages.push(reader.bytes("Produce message").ok()?);
        }
        reader.finish(Api::Produce.name()).ok()?;
        Some(ProduceRef { correlation_id, topic, messages })
    }
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// The broker's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The correlation id of the request answered (0 for FrameTooLarge, BuffersFull and
    /// TooManyConnections, which are answered before the request is read).
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
    /// Answer to ListTopics: every topic with its high watermark.
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

#[cfg(test)]
mod tests;
