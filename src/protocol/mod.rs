//! The wire protocol: how clients and the broker talk over TCP.
//!
//! Kafka's shape, cut down: a client sends *request frames*, each naming an api (Produce,
//! Fetch, ListTopics) and carrying a correlation id of its choice; the broker answers each with
//! a *response frame* carrying the same correlation id, in request order. A client may pipeline
//! (send several requests before reading the replies).
//!
//! Three layers, as in mini-redis:
//! - [`frame`] (sans-IO): requests and responses as values, encoded into and decoded from byte
//!   slices; it never touches a socket, so every malformed case is a unit test.
//! - [`connection`]: a [`Connection`] over a `TcpStream` that buffers reads until a whole frame
//!   is present, buffers writes until a burst of replies is ready, and enforces the limits and
//!   timeouts below.
//! - the broker and the client (other modules) see only [`RequestFrame`]s and [`Response`]s.
//!
//! # Frames
//!
//! All integers are big-endian. `string` = `u16 length | UTF-8 bytes`; `bytes` =
//! `u32 length | bytes`. Every frame opens with the number of bytes that follow the prefix.
//!
//! Request:
//!
//! | bytes    | field                                  |
//! |----------|----------------------------------------|
//! | 0..4     | length: u32 (bytes after this field)   |
//! | 4        | api: u8 (0 Produce, 1 Fetch, 2 ListTopics) |
//! | 5        | version: u8 (always 0)                 |
//! | 6..10    | correlation_id: u32                    |
//! | 10..     | body (below)                           |
//!
//! Response (carries no api: a client decodes it knowing which request it answers):
//!
//! | bytes    | field                                  |
//! |----------|----------------------------------------|
//! | 0..4     | length: u32 (bytes after this field)   |
//! | 4..8     | correlation_id: u32                    |
//! | 8..10    | error: u16 (0 none, else an [`ErrorCode`]) |
//! | 10..     | body: the api's body when error = 0, else one `string` saying what was wrong |
//!
//! Bodies (version 0):
//!
//! | api          | request body                                                   | response body                                              |
//! |--------------|----------------------------------------------------------------|------------------------------------------------------------|
//! | 0 Produce    | `topic: string, count: u32, count × bytes`                     | `base_offset: u64, count: u32`                             |
//! | 1 Fetch      | `topic: string, offset: u64, max_messages: u32, max_bytes: u32, max_wait_ms: u32` | `high_watermark: u64, count: u32, count × (offset: u64, bytes)` |
//! | 2 ListTopics | empty                                                          | `count: u32, count × (topic: string, next_offset: u64)`    |
//!
//! # Errors, limits and timeouts
//!
//! A frame whose length prefix exceeds `--max-frame-bytes` (default 16 MiB, checked from the
//! prefix before anything is allocated) is answered with FrameTooLarge and correlation id 0,
//! then the connection is closed; so are TooManyConnections and BuffersFull. A frame cut off
//! by EOF or by the frame timeout (all of a frame's bytes must arrive within
//! `--frame-timeout-ms` of its first byte) is closed without an answer, as is a connection idle
//! for `--idle-timeout-ms`. Every
//! other error (malformed body, unknown api or version, and the broker's own InvalidTopic,
//! UnknownTopic, …) is answered with the request's correlation id, and the connection carries
//! on with the next frame. The codec checks only lengths, counts and UTF-8; topic names are
//! validated by storage. A Produce carries at most [`MAX_PRODUCE_MESSAGES`] (65 536) messages;
//! a larger count is Malformed, judged before anything is reserved for the messages.

pub mod connection;
pub mod error;
pub mod frame;

pub use connection::{Connection, ConnectionConfig, ConnectionError};
pub use error::{DecodeError, ErrorCode, ProtocolError};
pub use frame::{
    encode_error_response, encode_produce_request, encode_records_response, peek_frame_bytes, Api,
    MessageSet, Messages, ProduceRef, RecordSet, Records, Request, RequestFrame, Response, ResponseBody,
    DEFAULT_MAX_FRAME_BYTES, FETCH_RECORD_OVERHEAD_BYTES, LENGTH_PREFIX_BYTES, MAX_PRODUCE_MESSAGES,
    REQUEST_HEADER_BYTES, RESPONSE_HEADER_BYTES, VERSION,
};
