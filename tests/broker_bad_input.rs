//! Bad input over a real socket: what a broker does with a client that lies about lengths,
//! speaks HTTP, sends noise, stops mid-frame, names topics that are paths, asks for offsets
//! that do not exist, or opens too many connections (docs/protocol.md).
//!
//! Every test runs an embedded broker on 127.0.0.1 (port 0, a temporary data dir, small
//! limits), abuses it over raw `TcpStream`s with frames built by hand where the client library
//! would refuse to build them, and asserts the documented answer:
//!
//! | abuse                                     | answer                                          |
//! |-------------------------------------------|-------------------------------------------------|
//! | length prefix over `max_frame_bytes`      | FrameTooLarge (3), correlation id 0, then close |
//! | frame cut off by EOF or the frame timeout | close, no answer                                |
//! | unknown api or version                    | UnsupportedVersion (2), its correlation id      |
//! | body that does not parse                  | Malformed (1), its correlation id               |
//! | topic that is not a name                  | InvalidTopic (4), nothing on disk               |
//! | message over `max_message_bytes`          | MessageTooLarge (6), nothing appended           |
//! | fetch of a missing topic / past the end   | UnknownTopic (5) / OffsetOutOfRange (7)         |
//! | too many connections                      | TooManyConnections (9), correlation id 0, close |
//! | a peer that stops reading its replies     | everyone else served, the same topic included   |
//!
//! Errors answered with the request's correlation id keep the connection: each such test sends
//! a valid request after the bad one on the same socket. And in every test a well-behaved
//! client on its own connection produces and reads back before, during and after the abuse:
//! one bad client never harms another.
//!
//! Every read has a deadline (`PATIENCE`), so a broker that neither answers nor closes fails a
//! test instead of hanging it; loops are bounded in count.

use std::collections::BTreeSet;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};
use synclog::broker::{Broker, BrokerConfig, BrokerHandle};
use synclog::client::{Client, ClientConfig, ClientError};
use synclog::protocol::{
    encode_produce_request, Api, ErrorCode, Request, RequestFrame, Response, ResponseBody,
    LENGTH_PREFIX_BYTES, REQUEST_HEADER_BYTES,
};
use synclog::storage::LOG_FILE;
use synclog::strategies::RwLockSync;

/// The broker's limits in these tests: small, so that crossing them is cheap.
const MAX_CONNECTIONS: usize = 8;
const FRAME_TIMEOUT: Duration = Duration::from_millis(300);
const MAX_MESSAGE_BYTES: u32 = 1000;
const MAX_FRAME_BYTES: u32 = 64 * 1024;

/// The longest any one read in these tests waits. A broker that should have answered or closed
/// by then has failed.
const PATIENCE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// An embedded broker, a well-behaved client, and raw frames
// ---------------------------------------------------------------------------------------------

/// A broker on 127.0.0.1 with its data dir in `root/data`. `root` is the data dir's parent, so
/// a test can see whether anything escaped the data dir. Stopped, and `root` removed, on drop
/// (fields drop in order: the broker first).
struct TestBroker {
    handle: BrokerHandle,
    data_dir: PathBuf,
    root: tempfile::TempDir,
}

impl TestBroker {
    /// A broker with this file's small limits.
    fn start() -> TestBroker {
        TestBroker::start_with(|_| {})
    }

    /// A broker with this file's limits, adjusted by `adjust`.
    fn start_with(adjust: impl FnOnce(&mut BrokerConfig)) -> TestBroker {
        let root = tempfile::tempdir().expect("temp dir");
        let data_dir = root.path().join("data");
        let mut config = BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.clone(),
            max_frame_bytes: MAX_FRAME_BYTES,
            max_message_bytes: MAX_MESSAGE_BYTES,
            max_connections: MAX_CONNECTIONS,
            frame_timeout: FRAME_TIMEOUT,
            ..BrokerConfig::default()
        };
        adjust(&mut config);
        let handle = Broker::<RwLockSync>::bind(config).expect("bind").spawn().expect("spawn");
        TestBroker { handle, data_dir, root }
    }

    fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// A client on a new connection, whose reads give up after `PATIENCE` doubled (long polls
    /// in these tests ask for at most 10 s and are woken well before).
    fn client(&self) -> Client {
        let config = ClientConfig {
            response_timeout: 2 * PATIENCE + Duration::from_secs(2),
            ..ClientConfig::default()
        };
        Client::connect_with(self.addr(), config).expect("connect")
    }

    /// A well-behaved client on its own connection and its own topic.
    fn good_client(&self) -> GoodClient {
        GoodClient { client: self.client(), topic: "well-behaved".into(), sent: Vec::new() }
    }

    /// Every path under the data dir's parent (the data dir included), relative to it.
    fn tree(&self) -> BTreeSet<PathBuf> {
        let mut paths = BTreeSet::new();
        let mut pending = vec![self.root.path().to_path_buf()];
        // Bounded: these trees hold a handful of topics.
        for _ in 0..10_000 {
            let Some(dir) = pending.pop() else { break };
            for entry in fs::read_dir(&dir).expect("read dir") {
                let path = entry.expect("dir entry").path();
                if path.is_dir() {
                    pending.push(path.clone());
                }
                paths.insert(path.strip_prefix(self.root.path()).expect("under root").to_path_buf());
            }
        }
        paths
    }
}

/// A client that does everything right: each [`GoodClient::check`] produces one message and
/// reads the whole topic back, asserting offsets and payloads, so a test can show at any moment
/// that the broker still serves others correctly.
struct GoodClient {
    client: Client,
    topic: String,
    /// Every payload acknowledged so far; payload `i` is at offset `i`.
    sent: Vec<Vec<u8>>,
}

impl GoodClient {
    /// Produces one message labelled `moment` and checks the topic holds exactly what was sent.
    fn check(&mut self, moment: &str) {
        let payload = format!("{moment} #{}", self.sent.len()).into_bytes();
        let offset = self
            .client
            .produce(&self.topic, [payload.as_slice()])
            .unwrap_or_else(|e| panic!("{moment}: the well-behaved producer failed: {e}"));
        assert_eq!(offset, self.sent.len() as u64, "{moment}: the well-behaved producer's offset");
        self.sent.push(payload);
        let fetched = self
            .client
            .fetch(&self.topic, 0, 1000, 1 << 20, Duration::ZERO)
            .unwrap_or_else(|e| panic!("{moment}: the well-behaved consumer failed: {e}"));
        assert_eq!(fetched.high_watermark, self.sent.len() as u64, "{moment}: high watermark");
        let read: Vec<(u64, &[u8])> = fetched.records.iter().collect();
        let expected: Vec<(u64, &[u8])> =
            self.sent.iter().enumerate().map(|(i, p)| (i as u64, p.as_slice())).collect();
        assert_eq!(read, expected, "{moment}: the well-behaved consumer read");
    }
}

/// A raw connection: reads and writes give up after `PATIENCE`.
fn raw(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, PATIENCE).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("read timeout");
    stream.set_write_timeout(Some(PATIENCE)).expect("write timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// A request frame built by hand: any api and version byte, any body, a correct length prefix.
fn raw_frame(api: u8, version: u8, correlation_id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((REQUEST_HEADER_BYTES + body.len()) as u32).to_be_bytes());
    out.extend_from_slice(&[api, version]);
    out.extend_from_slice(&correlation_id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A valid request frame, from the library's encoder.
fn frame(correlation_id: u32, request: Request) -> Vec<u8> {
    let mut out = Vec::new();
    RequestFrame { correlation_id, request }.encode(&mut out).expect("encodable");
    out
}

/// A valid Produce frame of `messages` to `topic`.
fn produce_frame(correlation_id: u32, topic: &str, messages: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_produce_request(correlation_id, topic, messages.iter().copied(), &mut out).expect("encodable");
    out
}

/// A valid Fetch frame that does not wait.
fn fetch_frame(correlation_id: u32, topic: &str, offset: u64, max_messages: u32) -> Vec<u8> {
    let request =
        Request::Fetch { topic: topic.into(), offset, max_messages, max_bytes: 1 << 20, max_wait_ms: 0 };
    frame(correlation_id, request)
}

/// A protocol `string`: `u16 length | bytes`.
fn wire_string(s: &[u8]) -> Vec<u8> {
    let mut out = (s.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(s);
    out
}

/// Reads one response frame and decodes it as an answer to `api`; panics on EOF, on a timeout,
/// and on a response that does not decode.
fn read_response(stream: &mut TcpStream, api: Api) -> Response {
    let mut prefix = [0u8; LENGTH_PREFIX_BYTES];
    stream.read_exact(&mut prefix).expect("a response frame within the patience");
    let length = u32::from_be_bytes(prefix) as usize;
    assert!(length <= 2 * MAX_FRAME_BYTES as usize, "a response announcing {length} bytes");
    let mut bytes = prefix.to_vec();
    bytes.resize(LENGTH_PREFIX_BYTES + length, 0);
    stream.read_exact(&mut bytes[LENGTH_PREFIX_BYTES..]).expect("the whole response frame");
    let (response, used) = Response::decode(api.as_u8(), &bytes).expect("a decodable response");
    assert_eq!(used, bytes.len());
    response
}

/// Asserts `response` is the error `code` answering `correlation_id`; returns its message,
/// which must say something.
fn assert_error(response: &Response, correlation_id: u32, code: ErrorCode) -> String {
    match &response.body {
        ResponseBody::Error { code: got, message } => {
            assert_eq!((response.correlation_id, *got), (correlation_id, code), "{message}");
            assert!(!message.trim().is_empty(), "an error response must say what was wrong");
            message.clone()
        }
        other => panic!("expected {code} for correlation id {correlation_id}, got {other:?}"),
    }
}

/// Asserts the broker closed `stream` without sending anything (more): the next read sees EOF,
/// or a reset when the broker closed with bytes of ours still unread. A read that times out
/// means the broker kept the connection open.
fn assert_closed_without_answer(stream: &mut TcpStream) {
    let mut buffer = [0u8; 64];
    match stream.read(&mut buffer) {
        Ok(0) => {}
        Ok(n) => panic!("expected a close, got {n} more bytes: {:?}", &buffer[..n]),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {}
        Err(e) => panic!("expected a close within {PATIENCE:?}, got: {e}"),
    }
}

/// `len` bytes of a fixed xorshift sequence: noise that is the same on every run.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Frames the broker cannot trust: answered with correlation id 0 and closed
// ---------------------------------------------------------------------------------------------

#[test]
fn a_4_gib_length_prefix_is_refused_and_closed() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    // Several at once: had the broker allocated what each announces, it would not survive.
    let mut abusers: Vec<TcpStream> = (0..4).map(|_| raw(broker.addr())).collect();
    for stream in &mut abusers {
        stream.write_all(&u32::MAX.to_be_bytes()).expect("send the prefix");
    }
    good.check("during");
    for stream in &mut abusers {
        // The answer comes from the prefix alone: no body follows, and waiting for one would
        // have ended in the frame timeout's silent close instead.
        let message = assert_error(&read_response(stream, Api::Produce), 0, ErrorCode::FrameTooLarge);
        assert!(message.contains("4294967295"), "the message names the announced size: {message}");
        assert_closed_without_answer(stream);
    }
    good.check("after");
}

#[test]
fn an_http_request_is_read_as_a_huge_length_prefix_and_refused() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut stream = raw(broker.addr());
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    good.check("during");
    let message = assert_error(&read_response(&mut stream, Api::Produce), 0, ErrorCode::FrameTooLarge);
    // "GET " read as a big-endian u32.
    assert_eq!(u32::from_be_bytes(*b"GET "), 0x4745_5420);
    assert!(message.contains(&0x4745_5420u32.to_string()), "{message}");
    assert_closed_without_answer(&mut stream);
    good.check("after");
}

#[test]
fn garbage_bytes_get_a_documented_error_or_a_close() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    for seed in 1..=8u64 {
        // Three shapes of noise. As it comes, its first four bytes announce far more than
        // `MAX_FRAME_BYTES`. With two zero bytes in front, a frame longer than the noise, which
        // never completes. With three, a short frame of noise, then more noise.
        let mut bytes = noise(seed, 512);
        let zeroes = match seed % 4 {
            2 => 2,
            0 => 3,
            _ => 0,
        };
        bytes[..zeroes].fill(0);
        let mut stream = raw(broker.addr());
        // The broker may close before it has read everything: a failed write is allowed.
        let _ = stream.write_all(&bytes);
        // Read the answers until the close. At most 512 / 10 frames fit in the noise.
        let mut codes = Vec::new();
        for _ in 0..=512 / (LENGTH_PREFIX_BYTES + REQUEST_HEADER_BYTES) {
            let mut prefix = [0u8; LENGTH_PREFIX_BYTES];
            match stream.read(&mut prefix[..1]) {
                Ok(0) => break,
                Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
                    break
                }
                Err(e) => panic!("seed {seed}: neither an answer nor a close within {PATIENCE:?}: {e}"),
                Ok(_) => {}
            }
            stream.read_exact(&mut prefix[1..]).expect("the rest of the length prefix");
            let mut response = prefix.to_vec();
            response.resize(LENGTH_PREFIX_BYTES + u32::from_be_bytes(prefix) as usize, 0);
            stream.read_exact(&mut response[LENGTH_PREFIX_BYTES..]).expect("the whole response");
            // An error response decodes whatever the api; a success one would fail here.
            let (response, _) = Response::decode(u8::MAX, &response).expect("an error response");
            match response.body {
                ResponseBody::Error { code, .. } => codes.push(code),
                other => panic!("seed {seed}: {other:?} in answer to noise"),
            }
        }
        use ErrorCode::{FrameTooLarge, Malformed, UnsupportedVersion};
        match zeroes {
            // Refused from its prefix, then closed.
            0 => assert_eq!(codes, [FrameTooLarge], "seed {seed}"),
            // Cut off by the frame timeout: closed without an answer.
            2 => assert_eq!(codes, [], "seed {seed}"),
            // The short frame is answered as a bad request; the noise after it is refused.
            _ => {
                let (last, bad_requests) = codes.split_last().expect("answers");
                assert_eq!(*last, FrameTooLarge, "seed {seed}: {codes:?}");
                assert!(!bad_requests.is_empty(), "seed {seed}: {codes:?}");
                assert!(
                    bad_requests.iter().all(|c| matches!(c, Malformed | UnsupportedVersion)),
                    "seed {seed}: {codes:?}"
                );
            }
        }
        good.check(&format!("after noise {seed}"));
    }
    // Noise inside well-framed requests: each frame is answered with its own correlation id
    // and the connection carries on.
    let mut stream = raw(broker.addr());
    for i in 0..16u32 {
        let api = (i % 4) as u8; // Produce, Fetch, ListTopics, and one that does not exist.
        let body = noise(100 + u64::from(i), 1 + (i as usize * 7) % 60);
        stream.write_all(&raw_frame(api, 0, 500 + i, &body)).expect("send");
        let response = read_response(&mut stream, Api::Produce);
        let code = match response.body {
            ResponseBody::Error { code, .. } => code,
            other => panic!("frame {i}: {other:?} in answer to noise"),
        };
        let expected = if api == 3 { ErrorCode::UnsupportedVersion } else { ErrorCode::Malformed };
        assert_eq!((response.correlation_id, code), (500 + i, expected), "frame {i}");
    }
    stream.write_all(&frame(600, Request::ListTopics)).expect("send");
    let response = read_response(&mut stream, Api::ListTopics);
    assert_eq!(response.correlation_id, 600);
    assert_eq!(response.body, ResponseBody::Topics(vec![(good.topic.clone(), good.sent.len() as u64)]));
    good.check("after");
}

// ---------------------------------------------------------------------------------------------
// Frames cut off: closed without an answer
// ---------------------------------------------------------------------------------------------

#[test]
fn a_frame_cut_in_half_then_silence_is_closed_after_the_frame_timeout() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut stream = raw(broker.addr());
    let bytes = produce_frame(1, "half", &[&[7u8; 100]]);
    let started = Instant::now();
    stream.write_all(&bytes[..bytes.len() / 2]).expect("send half");
    good.check("during");
    assert_closed_without_answer(&mut stream);
    let waited = started.elapsed();
    // The clock starts at the frame's first byte, after `started`; the socket's timer may
    // round, so allow a third off. The upper bound is `PATIENCE`, enforced by the read.
    assert!(waited >= FRAME_TIMEOUT * 2 / 3, "closed after {waited:?}, before the frame timeout");
    let topics = good.client.list_topics().expect("list");
    assert!(topics.iter().all(|(name, _)| name != "half"), "half a Produce created its topic: {topics:?}");
    good.check("after");
}

#[test]
fn a_frame_cut_in_half_then_eof_is_closed_without_an_answer() {
    // A frame timeout far beyond `PATIENCE`: only the EOF can explain a close within it.
    let broker = TestBroker::start_with(|config| config.frame_timeout = Duration::from_secs(60));
    let mut good = broker.good_client();
    good.check("before");
    let mut stream = raw(broker.addr());
    let bytes = produce_frame(1, "half", &[&[7u8; 100]]);
    stream.write_all(&bytes[..bytes.len() / 2]).expect("send half");
    good.check("during");
    stream.shutdown(Shutdown::Write).expect("shutdown write");
    assert_closed_without_answer(&mut stream);
    let topics = good.client.list_topics().expect("list");
    assert!(topics.iter().all(|(name, _)| name != "half"), "half a Produce created its topic: {topics:?}");
    good.check("after");
}

// ---------------------------------------------------------------------------------------------
// Bad requests in whole frames: answered with their correlation id, connection kept
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unknown_api_or_version_is_unsupported_and_the_connection_stays_usable() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut stream = raw(broker.addr());
    let produce_body = {
        let mut body = wire_string(b"versions");
        body.extend_from_slice(&1u32.to_be_bytes());
        body.extend_from_slice(&3u32.to_be_bytes());
        body.extend_from_slice(b"one");
        body
    };

    // Api 9, one request at a time; then a valid request on the same socket.
    stream.write_all(&raw_frame(9, 0, 901, b"whatever")).expect("send");
    assert_error(&read_response(&mut stream, Api::Produce), 901, ErrorCode::UnsupportedVersion);
    stream.write_all(&frame(902, Request::ListTopics)).expect("send");
    let response = read_response(&mut stream, Api::ListTopics);
    assert_eq!(response.correlation_id, 902);
    assert!(matches!(response.body, ResponseBody::Topics(_)), "{response:?}");

    // A valid Produce body under version 1: refused, and not appended.
    stream.write_all(&raw_frame(Api::Produce.as_u8(), 1, 903, &produce_body)).expect("send");
    assert_error(&read_response(&mut stream, Api::Produce), 903, ErrorCode::UnsupportedVersion);
    good.check("during");
    stream.write_all(&raw_frame(Api::Produce.as_u8(), 0, 904, &produce_body)).expect("send");
    let response = read_response(&mut stream, Api::Produce);
    assert_eq!(
        response,
        Response { correlation_id: 904, body: ResponseBody::Produced { base_offset: 0, count: 1 } }
    );

    // The same, pipelined in one write: the answers come back in order.
    let mut burst = raw_frame(200, 0, 905, b"");
    burst.extend(raw_frame(Api::Produce.as_u8(), 0, 906, &produce_body));
    burst.extend(raw_frame(Api::Fetch.as_u8(), 7, 907, b""));
    burst.extend(raw_frame(Api::Produce.as_u8(), 0, 908, &produce_body));
    stream.write_all(&burst).expect("send");
    assert_error(&read_response(&mut stream, Api::Produce), 905, ErrorCode::UnsupportedVersion);
    let response = read_response(&mut stream, Api::Produce);
    assert_eq!(
        response,
        Response { correlation_id: 906, body: ResponseBody::Produced { base_offset: 1, count: 1 } }
    );
    assert_error(&read_response(&mut stream, Api::Fetch), 907, ErrorCode::UnsupportedVersion);
    let response = read_response(&mut stream, Api::Produce);
    assert_eq!(
        response,
        Response { correlation_id: 908, body: ResponseBody::Produced { base_offset: 2, count: 1 } }
    );
    good.check("after");
}

#[test]
fn a_produce_count_larger_than_its_messages_is_malformed_and_the_connection_stays_usable() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut stream = raw(broker.addr());
    let produce_body = |count: u32, messages: &[&[u8]], tail: &[u8]| {
        let mut body = wire_string(b"counted");
        body.extend_from_slice(&count.to_be_bytes());
        for m in messages {
            body.extend_from_slice(&(m.len() as u32).to_be_bytes());
            body.extend_from_slice(m);
        }
        body.extend_from_slice(tail);
        body
    };
    let bad_bodies = [
        // Three announced, one present.
        produce_body(3, &[b"x"], b""),
        // Four billion announced, none present: refused before room is made for them.
        produce_body(u32::MAX, &[], b""),
        // One announced whose length (1000) runs past the end of the frame.
        produce_body(1, &[], &[0, 0, 3, 232, b'a', b'b', b'c']),
    ];
    for (i, body) in bad_bodies.iter().enumerate() {
        let correlation_id = 1001 + i as u32;
        stream.write_all(&raw_frame(Api::Produce.as_u8(), 0, correlation_id, body)).expect("send");
        let message =
            assert_error(&read_response(&mut stream, Api::Produce), correlation_id, ErrorCode::Malformed);
        assert!(message.contains("malformed"), "{message}");
        good.check(&format!("during {i}"));
    }
    // The connection still works, and nothing of the bad requests was appended.
    stream.write_all(&produce_frame(1100, "counted", &[b"first"])).expect("send");
    let response = read_response(&mut stream, Api::Produce);
    assert_eq!(
        response,
        Response { correlation_id: 1100, body: ResponseBody::Produced { base_offset: 0, count: 1 } }
    );
    good.check("after");
}

#[test]
fn invalid_topic_names_are_refused_for_produce_and_fetch_and_touch_no_file() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let before = broker.tree();
    assert!(before.contains(Path::new("data/well-behaved")), "{before:?}");
    let too_long = "t".repeat(250);
    let names = ["../escape", ".", "..", "", too_long.as_str(), "a/b", "/tmp/abs", "a\0b", "sp ace"];
    let mut client = broker.client();
    for name in names {
        match client.produce(name, [&b"x"[..]]) {
            Err(ClientError::Broker { code: ErrorCode::InvalidTopic, .. }) => {}
            other => panic!("Produce to {name:?}: expected InvalidTopic, got {other:?}"),
        }
        match client.fetch(name, 0, 10, 1024, Duration::ZERO) {
            Err(ClientError::Broker { code: ErrorCode::InvalidTopic, .. }) => {}
            other => panic!("Fetch of {name:?}: expected InvalidTopic, got {other:?}"),
        }
        good.check(&format!("during {name:?}"));
    }
    assert_eq!(broker.tree(), before, "an invalid topic name reached the file system");
    let topics = client.list_topics().expect("list");
    assert_eq!(topics, [(good.topic.clone(), good.sent.len() as u64)]);
    // The limit is 249: that many is a name, on the same connection.
    let longest = "t".repeat(249);
    assert_eq!(client.produce(&longest, [&b"x"[..]]).expect("249 characters are a name"), 0);
    assert!(broker.data_dir.join(&longest).is_dir());
    good.check("after");
}

#[test]
fn a_message_over_max_message_bytes_is_refused_and_nothing_is_appended() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut client = broker.client();
    assert_eq!(client.produce("big", [&b"a"[..], b"b", b"c"]).expect("produce"), 0);
    let log_file = broker.data_dir.join("big").join(LOG_FILE);
    let log_bytes = fs::metadata(&log_file).expect("log file").len();
    let too_big = vec![b'x'; MAX_MESSAGE_BYTES as usize + 1];
    let small = b"small".to_vec();
    // Alone, and as the second message of a batch whose first would fit: all or nothing.
    for batch in [vec![too_big.as_slice()], vec![small.as_slice(), too_big.as_slice()]] {
        match client.produce("big", batch.iter().copied()) {
            Err(ClientError::Broker { code: ErrorCode::MessageTooLarge, .. }) => {}
            other => panic!("expected MessageTooLarge, got {other:?}"),
        }
        good.check("during");
        assert_eq!(client.list_topics().expect("list")[0], ("big".to_string(), 3), "next offset moved");
        assert_eq!(fs::metadata(&log_file).expect("log file").len(), log_bytes, "bytes were appended");
    }
    // Refused before the topic is created: a new topic gets no directory.
    match client.produce("fresh", [too_big.as_slice()]) {
        Err(ClientError::Broker { code: ErrorCode::MessageTooLarge, .. }) => {}
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    assert!(!broker.data_dir.join("fresh").exists(), "a refused Produce created its topic");
    // Exactly the limit is accepted, at the next offset.
    let at_limit = vec![b'y'; MAX_MESSAGE_BYTES as usize];
    assert_eq!(client.produce("big", [at_limit.as_slice()]).expect("at the limit"), 3);
    let fetched = client.fetch("big", 0, 10, 1 << 20, Duration::ZERO).expect("fetch");
    let read: Vec<(u64, &[u8])> = fetched.records.iter().collect();
    assert_eq!(read, [(0, &b"a"[..]), (1, b"b"), (2, b"c"), (3, at_limit.as_slice())]);
    good.check("after");
}

// ---------------------------------------------------------------------------------------------
// Fetch at and past the end
// ---------------------------------------------------------------------------------------------

#[test]
fn a_fetch_past_the_high_watermark_is_out_of_range() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut client = broker.client();
    client.produce("t", [&b"zero"[..], b"one"]).expect("produce");
    for offset in [3, 1000, u64::MAX] {
        match client.fetch("t", offset, 10, 1024, Duration::from_millis(200)) {
            Err(ClientError::Broker { code: ErrorCode::OffsetOutOfRange, .. }) => {}
            other => panic!("fetch at {offset} past the high watermark 2: got {other:?}"),
        }
        good.check("during");
    }
    // The same connection still reads.
    let fetched = client.fetch("t", 1, 10, 1024, Duration::ZERO).expect("fetch");
    assert_eq!(fetched.records.iter().collect::<Vec<_>>(), [(1, &b"one"[..])]);
    good.check("after");
}

#[test]
fn a_fetch_at_the_high_watermark_waits_then_returns_no_records() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut client = broker.client();
    client.produce("t", [&b"zero"[..], b"one"]).expect("produce");
    let started = Instant::now();
    let fetched = client.fetch("t", 2, 10, 1024, Duration::from_millis(200)).expect("fetch at the hw");
    let waited = started.elapsed();
    assert!(fetched.records.is_empty(), "{:?}", fetched.records);
    assert_eq!(fetched.high_watermark, 2);
    // It waited (most of) its 200 ms, and not unboundedly. Only the lower bound matters: a
    // broker that ignored max_wait_ms would answer at once.
    assert!(waited >= Duration::from_millis(150), "answered after {waited:?}, without waiting");
    assert!(waited < PATIENCE, "answered after {waited:?}");
    good.check("after");
}

#[test]
fn a_fetch_at_the_high_watermark_wakes_early_when_another_client_produces() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut producer = broker.client();
    let mut consumer = broker.client();
    producer.produce("t", [&b"zero"[..]]).expect("produce");
    let started = Instant::now();
    let fetched = thread::scope(|scope| {
        let waiting =
            scope.spawn(|| consumer.fetch("t", 1, 10, 1024, Duration::from_secs(10)).expect("long poll"));
        // Give the fetch time to start waiting. Not needed for correctness: had the record
        // arrived first, the fetch would return it at once, which passes just the same.
        thread::sleep(Duration::from_millis(100));
        good.check("during");
        assert_eq!(producer.produce("t", [&b"wake"[..]]).expect("produce"), 1);
        waiting.join().expect("the consumer thread")
    });
    let waited = started.elapsed();
    assert_eq!(fetched.records.iter().collect::<Vec<_>>(), [(1, &b"wake"[..])]);
    assert!(waited < PATIENCE, "the long poll was not woken by the produce: {waited:?}");
    good.check("after");
}

#[test]
fn a_fetch_of_an_unknown_topic_is_unknown_topic() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let before = broker.tree();
    let mut client = broker.client();
    for _ in 0..2 {
        match client.fetch("never-produced", 0, 10, 1024, Duration::from_millis(100)) {
            Err(ClientError::Broker { code: ErrorCode::UnknownTopic, message }) => {
                assert!(message.contains("never-produced"), "{message}")
            }
            other => panic!("expected UnknownTopic, got {other:?}"),
        }
        good.check("during");
    }
    // A fetch creates nothing; the connection still works.
    assert_eq!(broker.tree(), before);
    assert_eq!(client.list_topics().expect("list"), [(good.topic.clone(), good.sent.len() as u64)]);
    good.check("after");
}

// ---------------------------------------------------------------------------------------------
// Too many connections
// ---------------------------------------------------------------------------------------------

#[test]
fn connections_beyond_max_connections_are_refused_then_accepted_again_when_others_leave() {
    let broker = TestBroker::start();
    // The well-behaved client holds one of the slots throughout, so exactly
    // MAX_CONNECTIONS - 1 of the crowd fit.
    let mut good = broker.good_client();
    good.check("before");
    let mut crowd: Vec<TcpStream> = (0..2 * MAX_CONNECTIONS).map(|_| raw(broker.addr())).collect();
    // Each asks something; an accepted one gets its answer, a refused one the unsolicited
    // TooManyConnections (written at accept, before our request was read) and then a close.
    let mut accepted = Vec::new();
    let mut refused = 0;
    for (i, stream) in crowd.iter_mut().enumerate() {
        let correlation_id = 1 + i as u32;
        // A refused connection may be closed already: its write can fail.
        let _ = stream.write_all(&produce_frame(correlation_id, "crowd", &[format!("{i}").as_bytes()]));
        let response = read_response(stream, Api::Produce);
        match response.body {
            ResponseBody::Produced { count: 1, .. } => {
                assert_eq!(response.correlation_id, correlation_id);
                accepted.push(i);
            }
            _ => {
                assert_error(&response, 0, ErrorCode::TooManyConnections);
                assert_closed_without_answer(stream);
                refused += 1;
            }
        }
    }
    assert_eq!((accepted.len(), refused), (MAX_CONNECTIONS - 1, MAX_CONNECTIONS + 1), "{accepted:?}");
    good.check("during");
    // The accepted ones all work, and their messages are all there, each once.
    for &i in &accepted {
        crowd[i].write_all(&frame(5000 + i as u32, Request::ListTopics)).expect("send");
        let response = read_response(&mut crowd[i], Api::ListTopics);
        assert_eq!(response.correlation_id, 5000 + i as u32);
        match response.body {
            ResponseBody::Topics(topics) => {
                assert!(topics.contains(&("crowd".to_string(), accepted.len() as u64)), "{topics:?}")
            }
            other => panic!("{other:?}"),
        }
    }
    drop(crowd);
    // Once the broker has noticed the crowd leave, as many new connections fit again. It
    // notices promptly but not instantly: retry a refused one, within a deadline.
    let deadline = Instant::now() + PATIENCE;
    let mut newcomers = Vec::new();
    for attempt in 0..500 {
        if newcomers.len() == MAX_CONNECTIONS - 1 {
            break;
        }
        assert!(Instant::now() < deadline, "only {} new connections accepted", newcomers.len());
        let mut client = broker.client();
        match client.list_topics() {
            Ok(_) => newcomers.push(client),
            Err(ClientError::Broker { code: ErrorCode::TooManyConnections, .. }) => {
                thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("attempt {attempt}: {e}"),
        }
    }
    assert_eq!(newcomers.len(), MAX_CONNECTIONS - 1);
    for client in &mut newcomers {
        client.produce("crowd", [&b"again"[..]]).expect("a newcomer produces");
    }
    good.check("after");
}

// ---------------------------------------------------------------------------------------------
// Pipelining
// ---------------------------------------------------------------------------------------------

#[test]
fn pipelined_produces_are_answered_in_order_with_contiguous_offsets() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut stream = raw(broker.addr());
    // 100 requests of 1, 2 or 3 messages, all written before any reply is read.
    let counts: Vec<u32> = (0..100).map(|i| 1 + i % 3).collect();
    let mut burst = Vec::new();
    for (i, &count) in counts.iter().enumerate() {
        let messages: Vec<Vec<u8>> = (0..count).map(|m| format!("{i}.{m}").into_bytes()).collect();
        let slices: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        burst.extend(produce_frame(i as u32 + 1, "piped", &slices));
    }
    stream.write_all(&burst).expect("send the burst");
    good.check("during");
    let mut next_offset = 0u64;
    for (i, &count) in counts.iter().enumerate() {
        let response = read_response(&mut stream, Api::Produce);
        let expected = ResponseBody::Produced { base_offset: next_offset, count };
        assert_eq!((response.correlation_id, response.body), (i as u32 + 1, expected), "reply {i}");
        next_offset += u64::from(count);
    }
    // Every message is where its reply said.
    let mut client = broker.client();
    let fetched = client.fetch("piped", 0, 1000, 1 << 20, Duration::ZERO).expect("fetch");
    let expected: Vec<(u64, Vec<u8>)> = counts
        .iter()
        .enumerate()
        .flat_map(|(i, &count)| (0..count).map(move |m| format!("{i}.{m}").into_bytes()))
        .enumerate()
        .map(|(offset, payload)| (offset as u64, payload))
        .collect();
    let read: Vec<(u64, Vec<u8>)> = fetched.records.iter().map(|(o, p)| (o, p.to_vec())).collect();
    assert_eq!(read, expected);
    good.check("after");
}

#[test]
fn a_fetch_pipelined_behind_produces_sees_them() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut stream = raw(broker.addr());
    let mut burst = Vec::new();
    burst.extend(produce_frame(1, "behind", &[b"a"]));
    burst.extend(produce_frame(2, "behind", &[b"b", b"c"]));
    burst.extend(produce_frame(3, "behind", &[b"d"]));
    burst.extend(fetch_frame(4, "behind", 0, 100));
    burst.extend(produce_frame(5, "behind", &[b"e"]));
    burst.extend(fetch_frame(6, "behind", 4, 100));
    stream.write_all(&burst).expect("send the burst");
    good.check("during");
    for (id, base_offset, count) in [(1, 0, 1), (2, 1, 2), (3, 3, 1)] {
        let response = read_response(&mut stream, Api::Produce);
        assert_eq!(
            response,
            Response { correlation_id: id, body: ResponseBody::Produced { base_offset, count } }
        );
    }
    let records = |response: Response, id: u32| match response.body {
        ResponseBody::Records { high_watermark, records } if response.correlation_id == id => {
            (high_watermark, records.iter().map(|(o, p)| (o, p.to_vec())).collect::<Vec<_>>())
        }
        other => panic!("reply {}: {other:?}", response.correlation_id),
    };
    let (high_watermark, read) = records(read_response(&mut stream, Api::Fetch), 4);
    assert_eq!(high_watermark, 4);
    let expected: Vec<(u64, Vec<u8>)> =
        [b"a", b"b", b"c", b"d"].iter().enumerate().map(|(o, p)| (o as u64, p.to_vec())).collect();
    assert_eq!(read, expected);
    let response = read_response(&mut stream, Api::Produce);
    assert_eq!(
        response,
        Response { correlation_id: 5, body: ResponseBody::Produced { base_offset: 4, count: 1 } }
    );
    assert_eq!(records(read_response(&mut stream, Api::Fetch), 6), (5, vec![(4, b"e".to_vec())]));
    good.check("after");
}

#[test]
fn a_long_poll_first_sends_the_replies_pipelined_before_it() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut stream = raw(broker.addr());
    // A Produce to one topic, then a long poll on another topic where nothing will arrive.
    let mut burst = produce_frame(1, "first", &[b"m"]);
    let poll = Request::Fetch {
        topic: "first".into(),
        offset: 1,
        max_messages: 10,
        max_bytes: 1024,
        max_wait_ms: 3000,
    };
    burst.extend(frame(2, poll));
    let started = Instant::now();
    stream.write_all(&burst).expect("send");
    // The Produce's reply must not wait for the poll: it comes well before the 3 s are up.
    let response = read_response(&mut stream, Api::Produce);
    let replied_after = started.elapsed();
    assert_eq!(
        response,
        Response { correlation_id: 1, body: ResponseBody::Produced { base_offset: 0, count: 1 } }
    );
    assert!(
        replied_after < Duration::from_millis(2500),
        "the reply waited for the long poll: {replied_after:?}"
    );
    good.check("during");
    let response = read_response(&mut stream, Api::Fetch);
    assert_eq!(response.correlation_id, 2);
    assert!(
        matches!(&response.body, ResponseBody::Records { high_watermark: 1, records } if records.is_empty()),
        "{response:?}"
    );
    good.check("after");
}

#[test]
fn a_frame_shorter_than_its_header_is_malformed_and_skipped() {
    let broker = TestBroker::start();
    let mut good = broker.good_client();
    good.check("before");
    let mut stream = raw(broker.addr());
    // Length 0, then length 2: neither holds a correlation id, so the answer carries 0.
    for short in [&[0u8, 0, 0, 0][..], &[0, 0, 0, 2, 0xAB, 0xCD]] {
        stream.write_all(short).expect("send");
        assert_error(&read_response(&mut stream, Api::Produce), 0, ErrorCode::Malformed);
        good.check("during");
    }
    // The next frame is read from the right place.
    stream.write_all(&produce_frame(7, "short", &[b"ok"])).expect("send");
    let response = read_response(&mut stream, Api::Produce);
    assert_eq!(
        response,
        Response { correlation_id: 7, body: ResponseBody::Produced { base_offset: 0, count: 1 } }
    );
    good.check("after");
}

#[test]
fn a_client_that_stops_reading_harms_no_one() {
    // Large frames, so a few hundred Fetch replies (about 0.5 MiB each) are far more than the
    // socket buffers between us hold: the broker's writes to this client must stall.
    const FETCHES: u32 = 200;
    let broker = TestBroker::start_with(|config| config.max_frame_bytes = 1 << 20);
    let mut good = broker.good_client();
    good.check("before");
    let mut client = broker.client();
    let payload = vec![b'w'; MAX_MESSAGE_BYTES as usize];
    for _ in 0..2 {
        client.produce("wide", std::iter::repeat_n(payload.as_slice(), 300)).expect("produce");
    }
    let mut stream = raw(broker.addr());
    let mut burst = Vec::new();
    for correlation_id in 0..FETCHES {
        let request = Request::Fetch {
            topic: "wide".into(),
            offset: 0,
            max_messages: 1000,
            max_bytes: 1 << 20,
            max_wait_ms: 0,
        };
        burst.extend(frame(correlation_id, request));
    }
    stream.write_all(&burst).expect("send the fetches");
    // While its handler is stuck writing to a peer that does not read, the broker serves
    // everyone else, on the same topic too: no lock is held across a socket write.
    for moment in 0..3u64 {
        thread::sleep(Duration::from_millis(500));
        good.check(&format!("during {moment}"));
        let started = Instant::now();
        assert_eq!(
            client.produce("wide", [payload.as_slice()]).expect("produce to the topic being fetched"),
            600 + moment
        );
        assert!(
            started.elapsed() < PATIENCE,
            "a produce waited {:?} behind the stalled fetch",
            started.elapsed()
        );
    }
    // Whether the broker has given up on it by now (its write timeout counts from the last
    // progress, and a stalled socket still trickles for a while) or is still writing, what
    // does arrive is whole replies in request order, cut off only by a close. Bounded by the
    // reply count and by `PATIENCE` per read.
    let mut replies = 0;
    while replies < FETCHES {
        let mut header = [0u8; LENGTH_PREFIX_BYTES + 6];
        match stream.read_exact(&mut header) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                break
            }
            Err(e) => panic!("after {replies} replies, neither more nor a close: {e}"),
        }
        let length = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as u64;
        let correlation_id = u32::from_be_bytes(header[4..8].try_into().expect("4 bytes"));
        assert_eq!((correlation_id, &header[8..10]), (replies, &[0u8, 0][..]), "reply {replies}");
        assert!(length <= 1 << 20, "reply {replies} announces {length} bytes");
        // Skip the body, without buffering half a megabyte per reply.
        let body = length - 6;
        let skipped = std::io::copy(&mut (&mut stream).take(body), &mut std::io::sink());
        match skipped {
            Ok(n) if n == body => replies += 1,
            Ok(_) => break,
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => break,
            Err(e) => panic!("in reply {replies}: {e}"),
        }
    }
    drop(stream);
    good.check("after");
    let fetched = client.fetch("wide", 600, 10, 1 << 20, Duration::ZERO).expect("fetch");
    assert_eq!(fetched.records.offsets(), [600, 601, 602]);
}
