//! Blocking clients: a [`Client`] speaks every api over one connection; a [`Producer`] sends
//! one message or a batch per request, optionally keeping several requests in flight; a
//! [`Consumer`] reads a topic from an offset and can follow it with long polls.
//!
//! Errors are typed: a broker's refusal arrives as [`ClientError::Broker`] with the broker's
//! code and its message, so a caller can tell "unknown topic" from "connection lost".

use crate::protocol::connection::{Connection, ConnectionConfig, ConnectionError};
use crate::protocol::{encode_produce_request, Api, ErrorCode, RecordSet, Request, ResponseBody};
use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;
use thiserror::Error;

/// What went wrong talking to a broker.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The broker could not be reached.
    #[error("cannot connect to {addr}")]
    Connect {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// The connection failed or was closed mid-frame.
    #[error("connection to the broker failed")]
    Connection(#[from] ConnectionError),
    /// Nothing answered [`Client::probe`]'s topic listing within
    /// [`ClientConfig::probe_timeout`]: a broker answers one at once, whatever its load (it
    /// takes no log's lock), so this is what a server that accepts connections and does not
    /// speak the protocol does.
    #[error(
        "no answer to a topic listing within {} s (is the peer a synclog broker's native port?)",
        waited.as_secs_f64()
    )]
    Silent { waited: Duration },
    /// The broker closed the connection before answering; `first` when no request on this
    /// connection had been answered yet (what a server that does not speak the protocol does).
    #[error("the broker closed the connection before answering")]
    Closed { first: bool },
    /// The broker answered with an error.
    #[error("the broker answered {code}: {message}")]
    Broker { code: ErrorCode, message: String },
    /// The broker answered something that does not fit the request.
    #[error("unexpected answer from the broker: {0}")]
    Unexpected(String),
    /// The connection failed earlier (its first failure is `why`): nothing more is sent on it,
    /// and the requests in flight on it when it failed get no answer.
    #[error("not sent: the connection to the broker failed earlier ({why})")]
    Broken { why: String },
    /// The connection failed (its first failure is `why`) while this request was in flight: it
    /// got no answer and may or may not have been carried out.
    #[error("no answer: the connection to the broker failed ({why})")]
    Unanswered { why: String },
}

impl ClientError {
    /// The broker's error code, if this is a broker's refusal.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Records returned by a fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The broker's high watermark when it answered.
    pub high_watermark: u64,
    /// The records, in offset order.
    pub records: RecordSet,
}

/// How a client connects; the defaults suit a broker on loopback.
#[derive(Debug, Clone, Copy)]
pub struct ClientConfig {
    /// How long to wait for the TCP connection.
    pub connect_timeout: Duration,
    /// The largest response accepted.
    pub max_frame_bytes: u32,
    /// How long to wait for a response to begin (must exceed any long poll).
    pub response_timeout: Duration,
    /// How long [`Client::probe`] waits for its topic listing to be answered: a broker answers
    /// one at once, so a peer silent this long is not one ([`ClientError::Silent`]).
    pub probe_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(5),
            max_frame_bytes: crate::protocol::DEFAULT_MAX_FRAME_BYTES,
            response_timeout: Duration::from_secs(60),
            probe_timeout: PROBE_TIMEOUT,
        }
    }
}

/// How long [`Client::probe`] waits for an answer with the default configuration.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection to a broker, speaking every api. Requests may be pipelined: `send_*` queues
/// a request and returns its correlation id; `receive` reads the next reply in request order.
pub struct Client {
    conn: Connection,
    next_id: u32,
    /// Requests sent and not yet answered, oldest first: (correlation id, api).
    pending: VecDeque<(u32, Api)>,
    /// Whether any response has been read on this connection.
    answered: bool,
    config: ClientConfig,
    /// The connection's first failure, once it failed: a failed write, a timeout, a close, a
    /// reply out of order or a refusal of the whole connection. Every later request fails at
    /// once.
    failed: Option<String>,
}

impl Client {
    /// Connects to `addr` (`host:port`) with the default configuration.
    pub fn connect(addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<Client, ClientError> {
        Client::connect_with(addr, ClientConfig::default())
    }

    /// Connects to `addr` with `config`.
    pub fn connect_with(
        addr: impl ToSocketAddrs + std::fmt::Debug,
        config: ClientConfig,
    ) -> Result<Client, ClientError> {
        let name = format!("{addr:?}").trim_matches('"').to_string();
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|source| ClientError::Connect { addr: name.clone(), source })?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the address resolved to nothing");
        for a in addrs {
            match TcpStream::connect_timeout(&a, config.connect_timeout) {
                Ok(stream) => {
                    let conn = Connection::with_config(
                        stream,
                        ConnectionConfig {
                            max_frame_bytes: config.max_frame_bytes,
                            idle_timeout: Some(config.response_timeout),
                            frame_timeout: Some(config.response_timeout),
                            write_timeout: Some(config.response_timeout),
                        },
                    )
                    .map_err(|source| ClientError::Connect { addr: name.clone(), source })?;
                    return Ok(Client {
                        conn,
                        next_id: 1,
                        pending: VecDeque::new(),
                        answered: false,
                        config,
                        failed: None,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(ClientError::Connect { addr: name, source: last })
    }

    /// The underlying connection's socket.
    pub fn stream(&self) -> &TcpStream {
        self.conn.stream()
    }

    /// Requests sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Why the connection failed, if it did: no request is sent on it any more.
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    fn refuse_if_failed(&self) -> Result<(), ClientError> {
        match &self.failed {
            Some(why) => Err(ClientError::Broken { why: why.clone() }),
            None => Ok(()),
        }
    }

    /// Marks the connection failed by `error` (the first failure is kept) and returns it.
    fn fail(&mut self, error: ClientError) -> ClientError {
        self.failed.get_or_insert_with(|| crate::broker::handler::chain(&error));
        error
    }

    /// A write that failed may leave the stream cut mid-frame: the connection is failed. A
    /// request that could not be encoded was taken back whole, and the connection goes on.
    fn written<T>(&mut self, result: Result<T, ConnectionError>) -> Result<T, ClientError> {
        result.map_err(|e| match e {
            ConnectionError::Encode(_) => e.into(),
            e => self.fail(e.into()),
        })
    }

    /// Checks that the peer is a broker: a topic listing, which a broker answers at once
    /// whatever its load, must be answered within [`ClientConfig::probe_timeout`]; returns the
    /// listing. A silent peer is [`ClientError::Silent`], and the connection is failed.
    pub fn probe(&mut self) -> Result<Vec<(String, u64)>, ClientError> {
        let patience = self.config.probe_timeout.min(self.config.response_timeout);
        self.conn.set_idle_timeout(Some(patience));
        let listed = self.list_topics();
        self.conn.set_idle_timeout(Some(self.config.response_timeout));
        match listed {
            Err(ClientError::Connection(ConnectionError::IdleTimeout { .. })) => {
                let silent = ClientError::Silent { waited: patience };
                self.failed = Some(silent.to_string());
                Err(silent)
            }
            listed => listed,
        }
    }

    fn next_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Queues a request (sent at the next `flush` or `receive`); returns its correlation id.
    pub fn send(&mut self, request: &Request) -> Result<u32, ClientError> {
        self.refuse_if_failed()?;
        let id = self.next_id();
        let written = self.conn.write_with(|out| request.encode(id, out));
        self.written(written)?;
        self.pending.push_back((id, request.api()));
        Ok(id)
    }

    /// Queues a Produce of `messages` to `topic` without copying them into a request value.
    pub fn send_produce<'a>(
        &mut self,
        topic: &str,
        messages: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<u32, ClientError> {
        self.refuse_if_failed()?;
        let id = self.next_id();
        let written = self.conn.write_with(|out| encode_produce_request(id, topic, messages, out));
        self.written(written)?;
        self.pending.push_back((id, Api::Produce));
        Ok(id)
    }

    /// Sends everything queued.
    pub fn flush(&mut self) -> Result<(), ClientError> {
        self.refuse_if_failed()?;
        let flushed = self.conn.flush();
        self.written(flushed)
    }

    /// Reads the reply to the oldest request in flight; returns its correlation id and body.
    /// A broker's error reply is `Err(ClientError::Broker { .. })`. After a failure of the
    /// connection itself (anything but a broker's answer to this request), the connection is
    /// [`failed`](Client::failed): the requests still in flight fail at once with
    /// [`ClientError::Unanswered`], and every later one is not sent ([`ClientError::Broken`]).
    pub fn receive(&mut self) -> Result<(u32, ResponseBody), ClientError> {
        let Some((id, api)) = self.pending.pop_front() else {
            return Err(ClientError::Unexpected("receive() with no request in flight".into()));
        };
        if let Some(why) = &self.failed {
            return Err(ClientError::Unanswered { why: why.clone() });
        }
        match self.read_reply(id, api) {
            Err(e @ ClientError::Broker { .. }) if self.failed.is_none() => Err(e),
            Err(e) => Err(self.fail(e)),
            answered => answered,
        }
    }

    /// The reply to request `id`; a refusal of the whole connection (correlation id 0) marks
    /// the connection failed.
    fn read_reply(&mut self, id: u32, api: Api) -> Result<(u32, ResponseBody), ClientError> {
        let first = !self.answered;
        let response = self.conn.read_response(api.as_u8())?.ok_or(ClientError::Closed { first })?;
        self.answered = true;
        if response.correlation_id != id {
            // Id 0 answers come before any request is read (TooManyConnections, FrameTooLarge,
            // BuffersFull), and the broker then closes the connection.
            if let (0, ResponseBody::Error { code, message }) = (response.correlation_id, &response.body) {
                let refused = ClientError::Broker { code: *code, message: message.clone() };
                self.failed = Some(refused.to_string());
                return Err(refused);
            }
            return Err(ClientError::Unexpected(format!(
                "reply for correlation id {} while waiting for {id}",
                response.correlation_id
            )));
        }
        match response.body {
            ResponseBody::Error { code, message } => Err(ClientError::Broker { code, message }),
            body => Ok((id, body)),
        }
    }

    /// Produces `messages` to `topic` and waits: returns the first message's offset.
    pub fn produce<'a>(
        &mut self,
        topic: &str,
        messages: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<u64, ClientError> {
        self.send_produce(topic, messages)?;
        match self.receive()?.1 {
            ResponseBody::Produced { base_offset, .. } => Ok(base_offset),
            other => Err(ClientError::Unexpected(format!("{other:?} in answer to Produce"))),
        }
    }

    /// Fetches from `offset`; waits up to `max_wait` for records if there are none yet.
    pub fn fetch(
        &mut self,
        topic: &str,
        offset: u64,
        max_messages: u32,
        max_bytes: u32,
        max_wait: Duration,
    ) -> Result<Fetched, ClientError> {
        let max_wait_ms = u32::try_from(max_wait.as_millis()).unwrap_or(u32::MAX);
        self.send(&Request::Fetch {
            topic: topic.to_string(),
            offset,
            max_messages,
            max_bytes,
            max_wait_ms,
        })?;
        match self.receive()?.1 {
            ResponseBody::Records { high_watermark, records } => Ok(Fetched { high_watermark, records }),
            other => Err(ClientError::Unexpected(format!("{other:?} in answer to Fetch"))),
        }
    }

    /// Lists every topic with its high watermark.
    pub fn list_topics(&mut self) -> Result<Vec<(String, u64)>, ClientError> {
        self.send(&Request::ListTopics)?;
        match self.receive()?.1 {
            ResponseBody::Topics(t) => Ok(t),
            other => Err(ClientError::Unexpected(format!("{other:?} in answer to ListTopics"))),
        }
    }
}

/// Sends to one topic: one message or a batch per request, with up to `max_in_flight`
/// requests outstanding.
pub struct Producer {
    client: Client,
    topic: String,
    max_in_flight: usize,
    /// Message counts of the requests in flight, oldest first.
    counts: VecDeque<u32>,
}

/// An acknowledged Produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The request's correlation id.
    pub correlation_id: u32,
    /// The first message's offset.
    pub base_offset: u64,
    /// How many messages the request carried.
    pub count: u32,
}

impl Producer {
    /// A producer for `topic` with one request in flight at a time.
    pub fn new(client: Client, topic: impl Into<String>) -> Producer {
        Producer::pipelined(client, topic, 1)
    }

    /// A producer keeping up to `max_in_flight` requests outstanding (at least 1).
    pub fn pipelined(client: Client, topic: impl Into<String>, max_in_flight: usize) -> Producer {
        Producer { client, topic: topic.into(), max_in_flight: max_in_flight.max(1), counts: VecDeque::new() }
    }

    /// Sends one message and waits for its offset.
    pub fn send(&mut self, message: &[u8]) -> Result<u64, ClientError> {
        self.send_batch([message])
    }

    /// Sends messages as one request and waits for the first one's offset (they are
    /// contiguous). Any earlier pipelined requests are completed first and their acks dropped.
    pub fn send_batch<'a>(
        &mut self,
        messages: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<u64, ClientError> {
        while !self.counts.is_empty() {
            self.complete()?;
        }
        self.client.produce(&self.topic, messages)
    }

    /// Pipelined: queues a request. If `max_in_flight` requests are already outstanding, first
    /// waits for the oldest and returns its ack (or its error).
    pub fn start<'a>(
        &mut self,
        messages: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Option<Ack>, ClientError> {
        let done = if self.counts.len() >= self.max_in_flight { Some(self.complete()?) } else { None };
        let mut count = 0u32;
        let counted = messages.into_iter().inspect(|_| count += 1);
        self.client.send_produce(&self.topic, counted)?;
        self.counts.push_back(count);
        self.client.flush()?;
        Ok(done)
    }

    /// Pipelined: waits for the oldest outstanding request.
    pub fn complete(&mut self) -> Result<Ack, ClientError> {
        let count = self.counts.pop_front().unwrap_or(0);
        let (correlation_id, body) = self.client.receive()?;
        match body {
            ResponseBody::Produced { base_offset, count: acked } if acked == count => {
                Ok(Ack { correlation_id, base_offset, count })
            }
            other => Err(ClientError::Unexpected(format!("{other:?} for a Produce of {count} messages"))),
        }
    }

    /// Requests outstanding.
    pub fn in_flight(&self) -> usize {
        self.counts.len()
    }

    /// The connection, for lower-level use.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Reads one topic in offset order, from a starting offset.
pub struct Consumer {
    client: Client,
    topic: String,
    /// The next offset to fetch.
    pub position: u64,
    /// At most this many records per fetch.
    pub max_messages: u32,
    /// At most this many bytes of records per fetch, each counted as its payload plus 12 bytes
    /// of offset and length (as the broker counts them).
    pub max_bytes: u32,
}

impl Consumer {
    /// A consumer of `topic` starting at `from`.
    pub fn new(client: Client, topic: impl Into<String>, from: u64) -> Consumer {
        Consumer { client, topic: topic.into(), position: from, max_messages: 1000, max_bytes: 1 << 20 }
    }

    /// Fetches the next records, waiting up to `max_wait` if there are none yet, and advances
    /// the position past the last one returned.
    pub fn poll(&mut self, max_wait: Duration) -> Result<Fetched, ClientError> {
        let fetched =
            self.client.fetch(&self.topic, self.position, self.max_messages, self.max_bytes, max_wait)?;
        if let Some(&last) = fetched.records.offsets().last() {
            self.position = last + 1;
        }
        Ok(fetched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Response;
    use std::net::TcpListener;
    use std::time::Instant;

    /// A server that answers `answers` ListTopics requests and then closes the connection.
    fn closing_after(answers: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut conn = Connection::new(stream).expect("connection");
            for _ in 0..answers {
                let frame = conn.read_request().expect("a request").expect("not closed");
                let answer =
                    Response { correlation_id: frame.correlation_id, body: ResponseBody::Topics(vec![]) };
                conn.write_response(&answer).and_then(|()| conn.flush()).expect("answer");
            }
            // Read the next request, then close without answering it.
            let _ = conn.read_request();
        });
        addr
    }

    #[test]
    fn a_close_says_whether_the_connection_had_answered_anything() {
        let mut never = Client::connect(closing_after(0)).expect("connect");
        assert!(matches!(never.list_topics(), Err(ClientError::Closed { first: true })));
        let mut once = Client::connect(closing_after(1)).expect("connect");
        assert_eq!(once.list_topics().expect("the first answer"), vec![]);
        assert!(matches!(once.list_topics(), Err(ClientError::Closed { first: false })));
    }

    /// A listener nobody accepts from: the kernel completes connections and holds what is sent.
    fn silent() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        (listener, addr)
    }

    #[test]
    fn a_silent_peer_fails_the_probe_after_its_timeout_and_the_connection_with_it() {
        let (_listener, addr) = silent();
        let config = ClientConfig { probe_timeout: Duration::from_millis(200), ..ClientConfig::default() };
        let mut client = Client::connect_with(addr, config).expect("connect");
        let began = Instant::now();
        match client.probe() {
            Err(ClientError::Silent { waited }) => assert_eq!(waited, Duration::from_millis(200)),
            other => panic!("{other:?}"),
        }
        assert!(began.elapsed() < Duration::from_secs(30), "not the response timeout");
        // The connection has failed: the next request is not sent, and fails at once.
        let again = Instant::now();
        match client.list_topics() {
            Err(ClientError::Broken { why }) => {
                assert!(why.contains("no answer to a topic listing"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        // Sent, it would wait for the response timeout (60 s).
        assert!(again.elapsed() < Duration::from_secs(30), "no second wait");
    }

    #[test]
    fn a_probe_answered_leaves_the_response_timeout_for_every_later_request() {
        let config = ClientConfig { probe_timeout: Duration::from_secs(5), ..ClientConfig::default() };
        let mut client = Client::connect_with(closing_after(1), config).expect("connect");
        assert_eq!(client.probe().expect("the first answer"), vec![]);
        assert_eq!(client.conn.config().idle_timeout, Some(ClientConfig::default().response_timeout));
        assert_eq!(client.failed(), None);
    }

    #[test]
    fn a_refusal_of_the_whole_connection_fails_it_and_a_refusal_of_one_request_does_not() {
        // Answers the first request with a refusal of its own (UnknownTopic), then the next with
        // a correlation id 0 refusal of the connection (TooManyConnections), then closes.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut conn = Connection::new(stream).expect("connection");
            for (n, code) in [ErrorCode::UnknownTopic, ErrorCode::TooManyConnections].into_iter().enumerate()
            {
                let frame = conn.read_request().expect("a request").expect("not closed");
                let id = if n == 0 { frame.correlation_id } else { 0 };
                let body = ResponseBody::Error { code, message: "no".into() };
                conn.write_response(&Response { correlation_id: id, body })
                    .and_then(|()| conn.flush())
                    .expect("answer");
            }
        });
        let mut client = Client::connect(addr).expect("connect");
        assert_eq!(client.list_topics().err().and_then(|e| e.code()), Some(ErrorCode::UnknownTopic));
        assert_eq!(client.failed(), None, "one request refused, the connection goes on");
        assert_eq!(client.list_topics().err().and_then(|e| e.code()), Some(ErrorCode::TooManyConnections));
        assert!(
            client.failed().is_some_and(|why| why.contains("TooManyConnections")),
            "{:?}",
            client.failed()
        );
        assert!(matches!(client.list_topics(), Err(ClientError::Broken { .. })));
    }
}
