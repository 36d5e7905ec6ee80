//! A buffered connection: frames in, frames out, over one blocking `TcpStream`.
//!
//! The codec in [`frame`](super::frame) turns bytes into values but never touches a socket;
//! this module is the other half. A [`Connection`] owns the socket and two buffers:
//!
//! - a **read buffer** that collects bytes until it holds one whole frame. TCP is a byte stream:
//!   one `read()` may return half a frame, or three frames and a bit of a fourth. The buffer
//!   keeps whatever arrived, hands out one whole frame at a time, and keeps the rest for the
//!   next call — so a burst of pipelined requests costs one system call, not one per request.
//! - a **write buffer** that collects encoded replies and goes out in one `write()` when the
//!   connection would otherwise wait for the peer (or when it grows past 64 KiB). A burst of
//!   pipelined requests thus gets its burst of replies in one system call as well.
//!
//! Used on both sides: the broker calls [`Connection::read_request`] (or
//! [`Connection::read_frame_in_place`], to serve a request where it lies in the buffer) and
//! [`Connection::write_response`]; the client calls [`Connection::write_request`] and
//! [`Connection::read_response`].
//!
//! # Invariants
//!
//! - `buffer[read_position..filled_end]` are bytes received and not yet handed out; they always
//!   begin at a frame boundary. Bytes before `read_position` are consumed and may be
//!   overwritten.
//! - The read buffer grows only to hold the frame being read, so it never exceeds
//!   `max(16 KiB, max_frame_bytes + 4)`, and that limit is checked from the 4-byte length prefix
//!   *before* growing: a peer announcing 4 GiB costs nothing.
//! - A read buffer over 1 MiB is given back once it is empty, and cut down to the bytes it
//!   still holds once those are at most half of it. The frames handed out from it (which a
//!   caller may still hold, decoded) and the buffer itself thus take at most about twice the
//!   buffer's largest size together.
//! - A broker's connections share a [`BufferBudget`] (`--max-buffered-bytes`): every growth of a
//!   read buffer past its first 16 KiB is taken from it before the allocation, and given back
//!   when the buffer shrinks or the connection closes ([`budget`]).
//! - Nothing is buffered for writing when the connection blocks in `read()`: every read that
//!   must wait on the socket first flushes the write buffer. A peer waiting for our replies
//!   before it sends more can therefore never deadlock with us.
//!
//! # Timeouts (docs/protocol.md, limits)
//!
//! Two clocks guard a blocking read, so that a slow or silent peer holds a thread for a bounded
//! time only:
//!
//! | clock           | starts                          | on expiry                     |
//! |-----------------|---------------------------------|-------------------------------|
//! | `idle_timeout`  | when no byte of a frame is held | [`ConnectionError::IdleTimeout`]  |
//! | `frame_timeout` | at a frame's first byte         | [`ConnectionError::FrameTimeout`] |
//!
//! The frame clock is *not* reset by each byte: every read is given only the time that remains
//! of the frame's budget (`set_read_timeout(frame_timeout - elapsed)`), so a slow-loris peer
//! sending one byte a second is cut off `frame_timeout` after its first byte, however steadily
//! it trickles. Writes get `write_timeout`, so a peer that stops reading cannot block us forever
//! either: a `write()` that gets no byte accepted within it ends the connection (see
//! `write_within`).

mod budget;

pub use budget::{BufferBudget, DEFAULT_MAX_BUFFERED_BYTES};

use super::error::{ErrorCode, ProtocolError};
use super::frame::{peek_frame_bytes, RequestFrame, Response, DEFAULT_MAX_FRAME_BYTES, LENGTH_PREFIX_BYTES};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The read buffer's starting size: room for a burst of small pipelined requests per `read()`.
pub const INITIAL_READ_BUFFER_BYTES: usize = 16 * 1024;

/// The write buffer is sent once it holds this much, even if the connection is not about to
/// wait: this bounds the memory a long burst of replies takes.
pub const WRITE_BUFFER_FLUSH_BYTES: usize = 64 * 1024;

/// The read buffer grows by at least this much, and to at most about twice the bytes held.
const GROWTH_STEP_BYTES: usize = 64 * 1024;

/// A buffer that grew past this for one large frame is given back once it is empty again, so
/// an idle connection does not keep a 16 MiB buffer alive; a read buffer this large is also cut
/// down to the bytes it still holds once at most half of it is still held.
const SHRINK_ABOVE_BYTES: usize = 1024 * 1024;

/// The socket refuses a zero timeout (it would mean "none"), so shorter ones are rounded up.
const MIN_SOCKET_TIMEOUT: Duration = Duration::from_millis(1);

/// Limits and timeouts of one connection (docs/protocol.md, limits); `None` disables a timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// The largest length prefix accepted (`--max-frame-bytes`); a larger one is
    /// [`ConnectionError::FrameTooLarge`], reported before the body is read.
    pub max_frame_bytes: u32,
    /// How long the connection may wait between frames (`--idle-timeout-ms`). On a client this
    /// is how long it waits for a response to begin, so it must exceed any long-poll wait.
    pub idle_timeout: Option<Duration>,
    /// How long all of a frame's bytes may take to arrive, counted from its first byte
    /// (`--frame-timeout-ms`).
    pub frame_timeout: Option<Duration>,
    /// How long one blocked `write()` may wait for the peer to make room.
    pub write_timeout: Option<Duration>,
}

impl Default for ConnectionConfig {
    /// The broker's defaults: 16 MiB frames, 600 s idle, 10 s per frame, 10 s per write.
    fn default() -> ConnectionConfig {
        ConnectionConfig {
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            idle_timeout: Some(Duration::from_secs(600)),
            frame_timeout: Some(Duration::from_secs(10)),
            write_timeout: Some(Duration::from_secs(10)),
        }
    }
}

/// Why a connection could not deliver a frame.
///
/// Only [`ConnectionError::Decode`] leaves the connection usable (the bad frame has been
/// skipped); after any other error, answer if [`ConnectionError::answer`] says so, then close.
#[derive(Debug, Error)]
pub enum ConnectionError {
    /// The peer closed the connection in the middle of a frame. Closed without an answer.
    #[error(
        "the peer closed the connection in the middle of a frame ({received_bytes} bytes of it received)"
    )]
    Closed {
        /// How many bytes of the unfinished frame had arrived.
        received_bytes: usize,
    },

    /// No frame began within the idle timeout. Closed without an answer.
    #[error("no frame began within the idle timeout of {} ms", timeout.as_millis())]
    IdleTimeout {
        /// The idle timeout that expired.
        timeout: Duration,
    },

    /// A frame began but did not complete within the frame timeout. Closed without an answer.
    #[error("a frame did not complete within {} ms of its first byte ({received_bytes} bytes received)", timeout.as_millis())]
    FrameTimeout {
        /// The frame timeout that expired.
        timeout: Duration,
        /// How many bytes of the frame had arrived.
        received_bytes: usize,
    },

    /// The length prefix exceeds `max_frame_bytes`; the body was not read. A broker answers
    /// FrameTooLarge with correlation id 0 (see [`ConnectionError::answer`]), then closes:
    /// the rest of the stream cannot be trusted to be at a frame boundary.
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The length prefix.
        size: u32,
        /// The connection's `max_frame_bytes`.
        max: u32,
    },

    /// Reading the frame would take the read buffers of the connections sharing a
    /// [`BufferBudget`] past its limit; nothing was allocated for it. A broker answers
    /// BuffersFull with correlation id 0, then closes: the frame's body was not read.
    #[error(
        "the broker's read buffers are full: {wanted} more bytes for this frame would pass the \
         {limit} bytes all connections may buffer together (--max-buffered-bytes); try again later"
    )]
    BuffersFull {
        /// What the growth asked for.
        wanted: usize,
        /// The shared limit.
        limit: usize,
    },

    /// A whole frame arrived but does not decode. The connection has already skipped it and
    /// stays usable: answer with `correlation_id.unwrap_or(0)` and read on.
    #[error("cannot decode the frame with correlation id {correlation_id:?}")]
    Decode {
        /// The frame's correlation id, when the frame was long enough to hold one.
        correlation_id: Option<u32>,
        /// What was wrong with it.
        #[source]
        error: ProtocolError,
    },

    /// A value could not be encoded (a topic over 65535 bytes, …); nothing was written.
    #[error("cannot encode the frame")]
    Encode(#[source] ProtocolError),

    /// A write got no byte accepted within the write timeout: the peer stopped reading.
    #[error("the peer stopped reading: a write made no progress within {} ms", timeout.as_millis())]
    WriteTimeout {
        /// The write timeout that expired.
        timeout: Duration,
    },

    /// The socket failed.
    #[error("I/O error on the connection")]
    Io(#[from] io::Error),
}

impl ConnectionError {
    /// The error response a broker sends for this error, or `None` when the connection is to
    /// be closed without an answer (EOF, timeouts, I/O).
    ///
    /// FrameTooLarge is answered with correlation id 0 (docs/protocol.md); a decode error with the
    /// frame's own correlation id, or 0 when the frame was too short to hold one.
    pub fn answer(&self) -> Option<Response> {
        match self {
            ConnectionError::FrameTooLarge { .. } => {
                Some(Response::error(0, ErrorCode::FrameTooLarge, self.to_string()))
            }
            ConnectionError::BuffersFull { .. } => {
                Some(Response::error(0, ErrorCode::BuffersFull, self.to_string()))
            }
            ConnectionError::Decode { correlation_id, error } => {
                Some(Response::error(correlation_id.unwrap_or(0), error.code(), error.to_string()))
            }
            _ => None,
        }
    }

    /// True when the connection can carry on after this error: only a decode error, whose
    /// frame has been skipped whole.
    pub fn keeps_connection(&self) -> bool {
        matches!(self, ConnectionError::Decode { .. })
    }
}

/// One TCP connection carrying protocol frames, with a read buffer and a write buffer.
#[derive(Debug)]
pub struct Connection {
    /// The socket. Reads and writes both go through it directly; the buffering is ours.
    stream: TcpStream,
    /// Received bytes. `buffer.len()` is its allocated, zero-initialized size (reads go into
    /// `buffer[filled_end..]`), never more than `max(INITIAL_READ_BUFFER_BYTES,
    /// max_frame_bytes + 4)`.
    buffer: Vec<u8>,
    /// Where the first frame not yet handed out begins; always a frame boundary.
    read_position: usize,
    /// One past the last received byte; `read_position <= filled_end <= buffer.len()`.
    filled_end: usize,
    /// When the first byte of the frame at `read_position` arrived; `None` exactly when no
    /// byte of it has (`read_position == filled_end`).
    frame_started_at: Option<Instant>,
    /// When the most recent `read()` that returned bytes returned.
    last_read_at: Instant,
    /// The read timeout currently set on the socket, kept so that an unchanged timeout costs no
    /// `setsockopt` system call.
    socket_read_timeout: Option<Duration>,
    /// Encoded frames not yet sent, in order. Encoders append to it in place (no copy through
    /// an intermediate buffer), which is why this is a `Vec` and not a `BufWriter`.
    write_buffer: Vec<u8>,
    /// The limits and timeouts.
    config: ConnectionConfig,
    /// The budget this connection's read buffer grows from, if it shares one, and the bytes it
    /// holds of it: `buffer.len()` beyond [`INITIAL_READ_BUFFER_BYTES`].
    budget: Option<Arc<BufferBudget>>,
    taken_bytes: usize,
}

impl Connection {
    /// Wraps an accepted or connected socket with the default limits and timeouts.
    pub fn new(stream: TcpStream) -> io::Result<Connection> {
        Connection::with_config(stream, ConnectionConfig::default())
    }

    /// Wraps a socket with the given limits and timeouts.
    ///
    /// Turns Nagle's algorithm off (`TCP_NODELAY`): the connection already batches its writes,
    /// and Nagle would hold a lone reply back until the peer's delayed ACK, some 40 ms.
    pub fn with_config(stream: TcpStream, config: ConnectionConfig) -> io::Result<Connection> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(config.write_timeout.map(socket_timeout))?;
        // Start from a known state, so `socket_read_timeout` tells the truth.
        stream.set_read_timeout(None)?;
        // No frame will ever need more than the limit, so neither does the first buffer.
        let frame_limit_bytes = (config.max_frame_bytes as usize).saturating_add(LENGTH_PREFIX_BYTES);
        Ok(Connection {
            stream,
            buffer: vec![0; INITIAL_READ_BUFFER_BYTES.min(frame_limit_bytes)],
            read_position: 0,
            filled_end: 0,
            frame_started_at: None,
            last_read_at: Instant::now(),
            socket_read_timeout: None,
            write_buffer: Vec::new(),
            config,
            budget: None,
            taken_bytes: 0,
        })
    }

    /// Makes every later growth of the read buffer past [`INITIAL_READ_BUFFER_BYTES`] come from
    /// `budget`, shared with other connections (a broker's, `--max-buffered-bytes`).
    pub fn share_budget(&mut self, budget: Arc<BufferBudget>) {
        self.settle_budget(0);
        self.budget = Some(budget);
        self.settle_budget(self.buffer.len());
    }

    /// The socket, e.g. for `peer_addr()` or `shutdown()`.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// The limits and timeouts in force.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// Changes the idle timeout for the reads that follow: a client waits a shorter time for a
    /// new connection's first answer than for later ones.
    pub fn set_idle_timeout(&mut self, idle_timeout: Option<Duration>) {
        self.config.idle_timeout = idle_timeout;
    }

    /// Server side: reads the next request.
    ///
    /// `Ok(None)` on a clean EOF (the peer closed between frames). On
    /// [`ConnectionError::Decode`] the bad frame has been skipped and the connection can be
    /// read again; every other error ends the connection. Flushes pending replies before it
    /// blocks.
    pub fn read_request(&mut self) -> Result<Option<RequestFrame>, ConnectionError> {
        let Some(frame_bytes) = self.fill_frame()? else {
            return Ok(None);
        };
        let frame = &self.buffer[self.read_position..self.read_position + frame_bytes];
        let decoded = decode_request(frame, self.config.max_frame_bytes);
        // Skip the frame whatever became of it: a bad frame is answered, never re-read.
        self.consume(frame_bytes);
        decoded.map(Some)
    }

    /// Server side: hands the next whole frame (length prefix included) to `with_frame` where
    /// it lies in the read buffer, with whether a further whole frame is already buffered
    /// behind it, then consumes it whatever `with_frame` made of it; [`decode_request`] decodes
    /// it as [`read_request`](Connection::read_request) would. For serving a request in place,
    /// its payloads borrowed from the buffer. `Ok(None)` on a clean EOF.
    pub fn read_frame_in_place<R>(
        &mut self,
        with_frame: impl FnOnce(&[u8], bool) -> R,
    ) -> Result<Option<R>, ConnectionError> {
        let Some(frame_bytes) = self.fill_frame()? else {
            return Ok(None);
        };
        let (frame, behind) = self.buffer[self.read_position..self.filled_end].split_at(frame_bytes);
        let more = matches!(
            peek_frame_bytes(behind, self.config.max_frame_bytes),
            Ok(Some(next_bytes)) if behind.len() >= next_bytes
        );
        let result = with_frame(frame, more);
        self.consume(frame_bytes);
        Ok(Some(result))
    }

    /// Client side: reads the next response, decoding it as an answer to `api` (the request's
    /// [`Api`](super::Api) byte; a response does not say which api it answers).
    ///
    /// `Ok(None)` when the broker closed the connection between responses. Flushes pending
    /// requests before it blocks, so `write_request` then `read_response` needs no `flush`.
    pub fn read_response(&mut self, api: u8) -> Result<Option<Response>, ConnectionError> {
        let Some(frame_bytes) = self.fill_frame()? else {
            return Ok(None);
        };
        let frame = &self.buffer[self.read_position..self.read_position + frame_bytes];
        let decoded = Response::decode(api, frame);
        // A response opens with its correlation id (bytes 4..8), readable even when the rest
        // is not: the client can tell which request the garbage was meant to answer.
        let correlation_id = frame
            .get(LENGTH_PREFIX_BYTES..LENGTH_PREFIX_BYTES + 4)
            .and_then(|bytes| bytes.try_into().ok())
            .map(u32::from_be_bytes);
        self.consume(frame_bytes);
        match decoded {
            Ok((response, _)) => Ok(Some(response)),
            Err(error) => Err(ConnectionError::Decode { correlation_id, error }),
        }
    }

    /// Reads the next frame without decoding it and hands its body (the bytes after the length
    /// prefix) to `with_body`.
    ///
    /// For protocols that share this framing — a 4-byte big-endian length, then that many bytes
    /// — but not the codec: the Kafka listener and client (see `crate::kafka`) get the same
    /// limits and timeouts as the synclog protocol. `Ok(None)` on a clean EOF; the frame is
    /// consumed whatever `with_body` makes of it.
    pub fn read_frame_with<R>(
        &mut self,
        with_body: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, ConnectionError> {
        let Some(frame_bytes) = self.fill_frame()? else {
            return Ok(None);
        };
        let start = self.read_position + LENGTH_PREFIX_BYTES;
        let result = with_body(&self.buffer[start..self.read_position + frame_bytes]);
        self.consume(frame_bytes);
        Ok(Some(result))
    }

    /// True when a further whole frame is already in the read buffer, so the next
    /// `read_request` / `read_response` returns without touching the socket.
    ///
    /// A broker serving pipelined requests flushes only when this is false: the replies to a
    /// whole burst then leave in one `write()`. (The read methods flush before they block in
    /// any case; this lets a broker flush *before* slow work, such as a long poll.)
    pub fn has_buffered_frame(&self) -> bool {
        let buffered = &self.buffer[self.read_position..self.filled_end];
        matches!(
            peek_frame_bytes(buffered, self.config.max_frame_bytes),
            Ok(Some(frame_bytes)) if buffered.len() >= frame_bytes
        )
    }

    /// Client side: queues a request. Sent at the next flush, read, or when the write buffer
    /// is full.
    pub fn write_request(&mut self, frame: &RequestFrame) -> Result<(), ConnectionError> {
        self.write_with(|out| frame.encode(out))
    }

    /// Server side: queues a response. Sent at the next flush, read, or when the write buffer
    /// is full.
    pub fn write_response(&mut self, response: &Response) -> Result<(), ConnectionError> {
        self.write_with(|out| response.encode(out))
    }

    /// Queues bytes that already hold one or more whole, encoded frames.
    pub fn write_frame_bytes(&mut self, frames: &[u8]) -> Result<(), ConnectionError> {
        self.write_buffer.extend_from_slice(frames);
        self.flush_if_full()
    }

    /// Queues whatever `encode` appends to the write buffer, e.g.
    /// `conn.write_with(|out| encode_records_response(id, hw, records, out))`: the frame is
    /// encoded in place, with no intermediate buffer.
    ///
    /// `encode` must append whole frames; if it fails, whatever it appended is removed.
    pub fn write_with(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), ProtocolError>,
    ) -> Result<(), ConnectionError> {
        let before = self.write_buffer.len();
        if let Err(error) = encode(&mut self.write_buffer) {
            self.write_buffer.truncate(before);
            return Err(ConnectionError::Encode(error));
        }
        self.flush_if_full()
    }

    /// Sends everything queued, in one `write()` when the socket takes it all at once.
    pub fn flush(&mut self) -> Result<(), ConnectionError> {
        if self.write_buffer.is_empty() {
            return Ok(());
        }
        let written = write_within(&self.stream, &self.write_buffer, self.config.write_timeout);
        // Whatever happened, these bytes are done with: after an error, how much of them the
        // peer got is unknown, so the connection is unusable anyway.
        self.write_buffer.clear();
        if self.write_buffer.capacity() > SHRINK_ABOVE_BYTES {
            self.write_buffer = Vec::new();
        }
        written
    }

    /// Writes `bytes` straight to the socket, past the write buffer (which must be empty, or
    /// flushed first), under the write timeout.
    pub fn write_through(&self, bytes: &[u8]) -> Result<(), ConnectionError> {
        write_within(&self.stream, bytes, self.config.write_timeout)
    }

    /// Sends the write buffer once it holds [`WRITE_BUFFER_FLUSH_BYTES`].
    fn flush_if_full(&mut self) -> Result<(), ConnectionError> {
        if self.write_buffer.len() >= WRITE_BUFFER_FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Reads until the read buffer holds one whole frame at `read_position`, and returns its
    /// size (length prefix included). `Ok(None)` on EOF with no byte of a frame held.
    fn fill_frame(&mut self) -> Result<Option<usize>, ConnectionError> {
        loop {
            let buffered = &self.buffer[self.read_position..self.filled_end];
            // How many bytes, from `read_position`, the buffer must hold before we can go on:
            // the prefix first, then the whole frame it announces.
            let needed_bytes = match peek_frame_bytes(buffered, self.config.max_frame_bytes) {
                Ok(Some(frame_bytes)) if buffered.len() >= frame_bytes => return Ok(Some(frame_bytes)),
                Ok(Some(frame_bytes)) => frame_bytes,
                Ok(None) => LENGTH_PREFIX_BYTES,
                // Judged from the prefix alone: nothing was allocated for the body, and
                // nothing more is read.
                Err(ProtocolError::FrameTooLarge { size, max }) => {
                    return Err(ConnectionError::FrameTooLarge { size, max })
                }
                Err(error) => return Err(ConnectionError::Decode { correlation_id: None, error }),
            };
            self.make_room(needed_bytes)?;
            if !self.read_more()? {
                // EOF. Between frames it is the peer's way of saying goodbye; inside one, the
                // frame is lost and nobody is left to answer.
                let received_bytes = self.filled_end - self.read_position;
                return match received_bytes {
                    0 => Ok(None),
                    _ => Err(ConnectionError::Closed { received_bytes }),
                };
            }
        }
    }

    /// Makes sure `buffer[read_position..]` can hold `needed_bytes`.
    fn make_room(&mut self, needed_bytes: usize) -> Result<(), ConnectionError> {
        if self.read_position + needed_bytes <= self.buffer.len() {
            return Ok(());
        }
        // Slide the unfinished frame to the front: everything before it was handed out. This
        // copies only a partial frame, and only when the buffer's tail is too short for it.
        self.buffer.copy_within(self.read_position..self.filled_end, 0);
        self.filled_end -= self.read_position;
        self.read_position = 0;
        // Grow towards the frame's size (checked against the limit), but never to more than
        // about twice what has actually arrived: a peer that announces 16 MiB and sends 4 bytes
        // must not make us allocate 16 MiB (1 000 such peers would take 16 GiB).
        if needed_bytes > self.buffer.len() {
            let held = self.filled_end;
            let grow_to = needed_bytes.min(self.buffer.len().max(held + GROWTH_STEP_BYTES) * 2);
            if !self.settle_budget(grow_to) {
                let limit = self.budget.as_ref().map_or(0, |b| b.limit());
                return Err(ConnectionError::BuffersFull { wanted: grow_to - self.buffer.len(), limit });
            }
            self.buffer.resize(grow_to, 0);
        }
        Ok(())
    }

    /// Brings the bytes taken from the shared budget to what a read buffer of `buffer_bytes`
    /// needs: takes the difference before a growth (`false`, nothing taken, if the budget
    /// cannot cover it) and gives it back after a shrink. Always `true` without a budget.
    fn settle_budget(&mut self, buffer_bytes: usize) -> bool {
        let Some(budget) = &self.budget else { return true };
        let needed = buffer_bytes.saturating_sub(INITIAL_READ_BUFFER_BYTES);
        if needed > self.taken_bytes {
            if !budget.take(needed - self.taken_bytes) {
                return false;
            }
        } else {
            budget.give_back(self.taken_bytes - needed);
        }
        self.taken_bytes = needed;
        true
    }

    /// One `read()` from the socket into the free tail of the buffer, under the timeout that
    /// applies now. `Ok(false)` on EOF.
    fn read_more(&mut self) -> Result<bool, ConnectionError> {
        // We are about to wait for the peer, who may be waiting for our replies first.
        self.flush()?;
        let frame_in_progress = self.read_position < self.filled_end;
        loop {
            // Recomputed on every attempt: after an interrupted read less time remains.
            let timeout = self.read_timeout(frame_in_progress)?;
            self.set_socket_read_timeout(timeout)?;
            // `fill_frame` asked for room for more than is held, so this slice is not empty
            // and `Ok(0)` below can only mean EOF.
            let free = &mut self.buffer[self.filled_end..];
            debug_assert!(!free.is_empty());
            match self.stream.read(free) {
                Ok(0) => return Ok(false),
                Ok(read_bytes) => {
                    let now = Instant::now();
                    if !frame_in_progress {
                        // The first bytes of a frame: its clock starts now.
                        self.frame_started_at = Some(now);
                    }
                    self.last_read_at = now;
                    self.filled_end += read_bytes;
                    return Ok(true);
                }
                // A signal arrived before any byte: just try again.
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if is_timeout(&error) => {
                    return Err(self.timeout_error(frame_in_progress).unwrap_or(
                        // The socket timed out although we set no timeout: report it as is.
                        ConnectionError::Io(error),
                    ));
                }
                Err(error) => return Err(ConnectionError::Io(error)),
            }
        }
    }

    /// The read timeout for the next `read()`: the idle timeout between frames, what remains
    /// of the frame timeout inside one. Fails with `FrameTimeout` when nothing remains.
    fn read_timeout(&self, frame_in_progress: bool) -> Result<Option<Duration>, ConnectionError> {
        if !frame_in_progress {
            return Ok(self.config.idle_timeout);
        }
        let Some(frame_timeout) = self.config.frame_timeout else {
            return Ok(None);
        };
        // The frame's budget is counted from its first byte, never from the latest one.
        let started_at = self.frame_started_at.unwrap_or(self.last_read_at);
        match frame_timeout.checked_sub(started_at.elapsed()) {
            Some(remaining) if !remaining.is_zero() => Ok(Some(remaining)),
            _ => Err(self.frame_timeout_error(frame_timeout)),
        }
    }

    /// The error for a read that timed out, `None` if no timeout was set.
    fn timeout_error(&self, frame_in_progress: bool) -> Option<ConnectionError> {
        if frame_in_progress {
            self.config.frame_timeout.map(|timeout| self.frame_timeout_error(timeout))
        } else {
            self.config.idle_timeout.map(|timeout| ConnectionError::IdleTimeout { timeout })
        }
    }

    fn frame_timeout_error(&self, timeout: Duration) -> ConnectionError {
        ConnectionError::FrameTimeout { timeout, received_bytes: self.filled_end - self.read_position }
    }

    /// Sets the socket's read timeout, skipping the system call when it is already set.
    fn set_socket_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = timeout.map(socket_timeout);
        if timeout != self.socket_read_timeout {
            self.stream.set_read_timeout(timeout)?;
            self.socket_read_timeout = timeout;
        }
        Ok(())
    }

    /// Hands the frame at `read_position` out: the next frame starts after it.
    fn consume(&mut self, frame_bytes: usize) {
        self.read_position += frame_bytes;
        if self.read_position == self.filled_end {
            // Nothing held: start again at the front, so no copy is ever needed for the next
            // frame, and give back a buffer that one large frame made large.
            self.read_position = 0;
            self.filled_end = 0;
            self.frame_started_at = None;
            if self.buffer.len() > SHRINK_ABOVE_BYTES {
                self.buffer = vec![0; INITIAL_READ_BUFFER_BYTES];
                self.settle_budget(self.buffer.len());
            }
        } else {
            // The next frame's first bytes are already here. They came with the latest read or
            // an earlier one, so starting its clock at the latest read is generous only by the
            // time spent serving the frames before it.
            self.frame_started_at = Some(self.last_read_at);
            let held = self.filled_end - self.read_position;
            if self.buffer.len() > SHRINK_ABOVE_BYTES && held <= self.buffer.len() / 2 {
                // A large buffer mostly handed out: keep only what it still holds (the frames
                // handed out may still be in use, decoded, beside it).
                let mut kept = vec![0; held.max(INITIAL_READ_BUFFER_BYTES)];
                kept[..held].copy_from_slice(&self.buffer[self.read_position..self.filled_end]);
                self.buffer = kept;
                self.settle_budget(self.buffer.len());
                self.read_position = 0;
                self.filled_end = held;
            }
        }
    }
}

impl Drop for Connection {
    /// Gives the read buffer's share of the budget back.
    fn drop(&mut self) {
        self.settle_budget(0);
    }
}

/// Decodes one whole request frame as [`Connection::read_request`] does: a frame that does not
/// decode is [`ConnectionError::Decode`], with its correlation id when it has one.
pub fn decode_request(frame: &[u8], max_frame_bytes: u32) -> Result<RequestFrame, ConnectionError> {
    match RequestFrame::decode(frame, max_frame_bytes) {
        Ok((request, _)) => Ok(request),
        Err(error) => {
            Err(ConnectionError::Decode { correlation_id: error.correlation_id, error: error.error })
        }
    }
}

/// Writes all of `bytes` under the socket's send timeout, `timeout`: a `write()` call that
/// gets no byte accepted within it ends the connection ([`ConnectionError::WriteTimeout`]).
/// A call that ran out of time after some bytes were accepted returns them, and the next call
/// gets the timeout afresh: a peer that reads steadily is served however long a reply takes to
/// drain through deep socket buffers, and one that stopped reading is given up on once the
/// kernel's buffers, which grow for a while, take nothing more (one to about three timeouts).
/// A blocked call alone cannot tell the two apart: the bytes queued ahead of it may take a
/// steady reader longer than the timeout to drain.
fn write_within(stream: &TcpStream, bytes: &[u8], timeout: Option<Duration>) -> Result<(), ConnectionError> {
    let mut stream = stream;
    stream.write_all(bytes).map_err(|error| match (is_timeout(&error), timeout) {
        (true, Some(timeout)) => ConnectionError::WriteTimeout { timeout },
        _ => ConnectionError::Io(error),
    })
}

/// True for the errors a socket timeout produces: `WouldBlock` (`EAGAIN`) on Unix, `TimedOut`
/// on other platforms.
fn is_timeout(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// A timeout the socket accepts: `set_read_timeout(Some(0))` is an error, so round up.
fn socket_timeout(timeout: Duration) -> Duration {
    timeout.max(MIN_SOCKET_TIMEOUT)
}

#[cfg(test)]
mod tests;
