use super::*;
use crate::protocol::frame::{Api, MessageSet, Request, ResponseBody, REQUEST_HEADER_BYTES};
use std::net::{Shutdown, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

/// A connected pair on 127.0.0.1: the server side wrapped, the client side raw.
fn pair(config: ConnectionConfig) -> (Connection, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (Connection::with_config(server, config).expect("wrap"), client)
}

fn short_timeouts() -> ConnectionConfig {
    ConnectionConfig {
        max_frame_bytes: 1024 * 1024,
        idle_timeout: Some(Duration::from_secs(10)),
        frame_timeout: Some(Duration::from_millis(200)),
        write_timeout: Some(Duration::from_secs(10)),
    }
}

fn request_bytes(correlation_id: u32, request: Request) -> Vec<u8> {
    let mut out = Vec::new();
    RequestFrame { correlation_id, request }.encode(&mut out).expect("encodable");
    out
}

fn produce(payload: &[u8]) -> Request {
    Request::Produce { topic: "t".into(), messages: [payload].into_iter().collect::<MessageSet>() }
}

#[test]
fn an_announced_frame_is_not_allocated_before_its_bytes_arrive() {
    let config = ConnectionConfig { max_frame_bytes: 16 * 1024 * 1024, ..short_timeouts() };
    let (mut server, mut client) = pair(config);
    // Announce 16 MiB, send 10 bytes of it, then go quiet.
    client.write_all(&(16 * 1024 * 1024u32 - 1).to_be_bytes()).expect("prefix");
    client.write_all(&[0u8; 10]).expect("some body");
    assert!(matches!(server.read_request(), Err(ConnectionError::FrameTimeout { .. })));
    assert!(server.buffer.len() <= 256 * 1024, "{} bytes in use for 14 received", server.buffer.len());
    // Not reserved either: what is allocated is what the buffer holds, not the announced size.
    assert!(
        server.buffer.capacity() <= 256 * 1024,
        "{} bytes allocated for 14 received",
        server.buffer.capacity()
    );
}

#[test]
fn pipelined_requests_are_read_back_in_order() {
    let (mut server, mut client) = pair(short_timeouts());
    let mut burst = Vec::new();
    for correlation_id in 1..=3 {
        burst.extend(request_bytes(correlation_id, produce(&[correlation_id as u8; 10])));
    }
    client.write_all(&burst).expect("send");
    client.shutdown(Shutdown::Write).expect("shutdown");
    for correlation_id in 1..=3 {
        let frame = server.read_request().expect("read").expect("a frame");
        assert_eq!(frame.correlation_id, correlation_id);
        assert_eq!(frame.request, produce(&[correlation_id as u8; 10]));
    }
    assert!(server.read_request().expect("clean EOF").is_none());
}

#[test]
fn raw_frames_hand_out_their_bodies_and_keep_the_next_frame_whole() {
    let (mut server, mut client) = pair(short_timeouts());
    let mut burst = Vec::new();
    for body in [b"first".as_slice(), b"", b"third frame"] {
        burst.extend_from_slice(&(body.len() as u32).to_be_bytes());
        burst.extend_from_slice(body);
    }
    // A synclog request after the raw frames: the buffer is still at a frame boundary.
    burst.extend(request_bytes(9, produce(b"after")));
    client.write_all(&burst).expect("send");
    client.shutdown(Shutdown::Write).expect("shutdown");
    for expected in [b"first".as_slice(), b"", b"third frame"] {
        let body = server.read_frame_with(<[u8]>::to_vec).expect("read").expect("a frame");
        assert_eq!(body, expected);
    }
    assert_eq!(server.read_request().expect("read").expect("a frame").correlation_id, 9);
    assert!(server.read_frame_with(<[u8]>::len).expect("clean EOF").is_none());
}

#[test]
fn eof_before_any_frame_is_a_clean_close() {
    let (mut server, client) = pair(short_timeouts());
    drop(client);
    assert!(server.read_request().expect("clean EOF").is_none());
}

#[test]
fn eof_in_the_middle_of_a_frame_is_closed() {
    let (mut server, mut client) = pair(short_timeouts());
    let bytes = request_bytes(1, produce(b"payload"));
    client.write_all(&bytes[..bytes.len() - 3]).expect("send");
    drop(client);
    match server.read_request() {
        Err(ConnectionError::Closed { received_bytes }) => {
            assert_eq!(received_bytes, bytes.len() - 3)
        }
        other => panic!("expected Closed, got {other:?}"),
    }
}

#[test]
fn eof_inside_the_length_prefix_is_closed() {
    let (mut server, mut client) = pair(short_timeouts());
    client.write_all(&[0, 0]).expect("send");
    drop(client);
    assert!(matches!(server.read_request(), Err(ConnectionError::Closed { received_bytes: 2 })));
}

#[test]
fn a_half_sent_frame_times_out() {
    let (mut server, mut client) = pair(short_timeouts());
    let bytes = request_bytes(1, produce(b"payload"));
    client.write_all(&bytes[..6]).expect("send");
    // `client` stays open: only the frame timeout can end the wait.
    match server.read_request() {
        Err(ConnectionError::FrameTimeout { received_bytes, .. }) => {
            assert_eq!(received_bytes, 6)
        }
        other => panic!("expected FrameTimeout, got {other:?}"),
    }
    drop(client);
}

#[test]
fn a_frame_trickled_one_byte_at_a_time_is_cut_off_by_the_frame_timeout() {
    let (mut server, mut client) = pair(short_timeouts());
    // 20 ms a byte: the whole frame would take over 2 s, ten times the 200 ms budget,
    // though each single byte arrives well within it.
    let bytes = request_bytes(1, produce(&[7; 100]));
    let stop = AtomicBool::new(false);
    let result = thread::scope(|scope| {
        scope.spawn(|| {
            for byte in &bytes {
                if stop.load(Ordering::Relaxed) || client.write_all(&[*byte]).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
        });
        let result = server.read_request();
        stop.store(true, Ordering::Relaxed);
        result
    });
    match result {
        Err(ConnectionError::FrameTimeout { received_bytes, .. }) => {
            assert!(received_bytes < bytes.len(), "{received_bytes}")
        }
        other => panic!("expected FrameTimeout, got {other:?}"),
    }
}

#[test]
fn a_silent_peer_hits_the_idle_timeout() {
    let config = ConnectionConfig { idle_timeout: Some(Duration::from_millis(200)), ..short_timeouts() };
    let (mut server, client) = pair(config);
    assert!(matches!(server.read_request(), Err(ConnectionError::IdleTimeout { .. })));
    drop(client);
}

#[test]
fn an_oversized_frame_is_reported_from_its_prefix_before_the_body_arrives() {
    let config = ConnectionConfig {
        max_frame_bytes: 1024,
        frame_timeout: Some(Duration::from_secs(10)),
        ..short_timeouts()
    };
    let (mut server, mut client) = pair(config);
    // Announce 1 MiB and send only the header; the socket stays open, so waiting for the
    // body would end in a FrameTimeout ten seconds later, not FrameTooLarge.
    client.write_all(&[0, 0x10, 0, 0, 0, 0, 0, 0, 0, 1]).expect("send");
    let error = server.read_request().expect_err("too large");
    assert!(matches!(error, ConnectionError::FrameTooLarge { size: 0x10_0000, max: 1024 }), "{error:?}");
    assert!(server.buffer.len() <= 1024 + LENGTH_PREFIX_BYTES);
    let answer = error.answer().expect("answered");
    assert_eq!(answer.correlation_id, 0);
    assert!(matches!(answer.body, ResponseBody::Error { code: ErrorCode::FrameTooLarge, .. }));
    assert!(!error.keeps_connection());
    drop(client);
}

#[test]
fn a_bad_frame_is_skipped_and_answered_with_its_correlation_id() {
    let (mut server, mut client) = pair(short_timeouts());
    let mut unknown_api = Vec::new();
    unknown_api.extend_from_slice(&(REQUEST_HEADER_BYTES as u32 + 3).to_be_bytes());
    unknown_api.extend_from_slice(&[9, 0, 0, 0, 0, 7, 1, 2, 3]);
    client.write_all(&unknown_api).expect("send");
    client.write_all(&request_bytes(8, Request::ListTopics)).expect("send");
    let error = server.read_request().expect_err("unknown api");
    assert!(error.keeps_connection());
    match &error {
        ConnectionError::Decode { correlation_id, error } => {
            assert_eq!(*correlation_id, Some(7));
            assert_eq!(*error, ProtocolError::UnsupportedVersion { api: 9, version: 0 });
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    let answer = error.answer().expect("answered");
    assert_eq!(answer.correlation_id, 7);
    assert!(matches!(answer.body, ResponseBody::Error { code: ErrorCode::UnsupportedVersion, .. }));
    let next = server.read_request().expect("read").expect("a frame");
    assert_eq!(next.correlation_id, 8);
}

#[test]
fn requests_and_responses_round_trip_without_explicit_flushes() {
    let (server, client) = pair(short_timeouts());
    let mut client = Connection::with_config(client, short_timeouts()).expect("wrap");
    thread::scope(|scope| {
        scope.spawn(move || {
            let mut server = server;
            // Answer until the client leaves. The reply is flushed by the next
            // `read_request`, before it blocks.
            while let Some(frame) = server.read_request().expect("read") {
                let response = Response {
                    correlation_id: frame.correlation_id,
                    body: ResponseBody::Topics(vec![("t".into(), 3)]),
                };
                server.write_response(&response).expect("write");
            }
        });
        for correlation_id in 0..3 {
            let request = RequestFrame { correlation_id, request: Request::ListTopics };
            client.write_request(&request).expect("write");
            let response = client.read_response(Api::ListTopics.as_u8()).expect("read").expect("a response");
            assert_eq!(response.correlation_id, correlation_id);
            assert_eq!(response.body, ResponseBody::Topics(vec![("t".into(), 3)]));
        }
        drop(client);
    });
}

#[test]
fn a_malformed_response_reports_its_correlation_id() {
    let (mut server, client) = pair(short_timeouts());
    let mut client = Connection::with_config(client, short_timeouts()).expect("wrap");
    // A Produced body is 12 bytes; this one is 3.
    server.write_frame_bytes(&[0, 0, 0, 9, 0, 0, 0, 5, 0, 0, 1, 2, 3]).expect("write");
    server.flush().expect("flush");
    match client.read_response(Api::Produce.as_u8()) {
        Err(ConnectionError::Decode { correlation_id: Some(5), error: ProtocolError::Malformed(_) }) => {}
        other => panic!("expected a Decode error for correlation id 5, got {other:?}"),
    }
}

#[test]
fn the_read_buffer_grows_only_to_the_frame_it_holds() {
    let (mut server, mut client) = pair(short_timeouts());
    let bytes = request_bytes(1, produce(&[1; 100_000]));
    thread::scope(|scope| {
        scope.spawn(|| client.write_all(&bytes).expect("send"));
        let frame = server.read_request().expect("read").expect("a frame");
        assert_eq!(frame.request, produce(&[1; 100_000]));
    });
    assert!(server.buffer.len() <= bytes.len(), "{}", server.buffer.len());
}

#[test]
fn a_large_read_buffer_mostly_handed_out_keeps_only_what_it_still_holds() {
    let config = ConnectionConfig { max_frame_bytes: 4 * 1024 * 1024, ..short_timeouts() };
    let (mut server, _client) = pair(config);
    let first = request_bytes(1, produce(&[7; 2 * 1024 * 1024]));
    let second = request_bytes(2, produce(b"next"));
    // A buffer grown for a large frame, holding it and the start of the next one, as a read
    // would leave it.
    server.buffer = vec![0; 3 * 1024 * 1024];
    let held = first.len() + 5;
    server.buffer[..first.len()].copy_from_slice(&first);
    server.buffer[first.len()..held].copy_from_slice(&second[..5]);
    server.filled_end = held;
    let frame = server.read_request().expect("read").expect("the large frame");
    assert_eq!(frame.request, produce(&[7; 2 * 1024 * 1024]));
    assert_eq!(server.buffer.len(), INITIAL_READ_BUFFER_BYTES, "cut down to what it holds");
    assert_eq!((server.read_position, server.filled_end), (0, 5));
    assert_eq!(&server.buffer[..5], &second[..5]);
    // The rest of the next frame completes it as usual.
    server.buffer[5..second.len()].copy_from_slice(&second[5..]);
    server.filled_end = second.len();
    assert_eq!(server.read_request().expect("read").expect("a frame").request, produce(b"next"));
}

#[test]
fn a_large_read_buffer_still_mostly_held_is_kept() {
    let config = ConnectionConfig { max_frame_bytes: 4 * 1024 * 1024, ..short_timeouts() };
    let (mut server, _client) = pair(config);
    let small = request_bytes(1, produce(b"small"));
    let large = request_bytes(2, produce(&[7; 2 * 1024 * 1024]));
    server.buffer = vec![0; 3 * 1024 * 1024];
    server.buffer[..small.len()].copy_from_slice(&small);
    server.buffer[small.len()..small.len() + 1000].copy_from_slice(&large[..1000]);
    server.filled_end = small.len() + 1000;
    assert_eq!(server.read_request().expect("read").expect("a frame").request, produce(b"small"));
    // 1000 bytes held of 3 MiB: at most half, so the buffer is cut down.
    assert_eq!(server.buffer.len(), INITIAL_READ_BUFFER_BYTES);

    // Held bytes over half of a large buffer stay where they are, with no copy.
    server.buffer = vec![0; 3 * 1024 * 1024];
    server.read_position = 0;
    server.buffer[..small.len()].copy_from_slice(&small);
    server.buffer[small.len()..small.len() + large.len()].copy_from_slice(&large);
    server.filled_end = small.len() + large.len();
    assert_eq!(server.read_request().expect("read").expect("a frame").request, produce(b"small"));
    assert_eq!(server.buffer.len(), 3 * 1024 * 1024);
    assert_eq!(server.read_position, small.len());
    assert_eq!(
        server.read_request().expect("read").expect("a frame").request,
        produce(&[7; 2 * 1024 * 1024])
    );
    assert_eq!(server.buffer.len(), INITIAL_READ_BUFFER_BYTES, "given back once empty");
}

#[test]
fn has_buffered_frame_sees_only_whole_frames() {
    let (mut server, _client) = pair(short_timeouts());
    assert!(!server.has_buffered_frame());
    let bytes = request_bytes(1, Request::ListTopics);
    // Place bytes in the buffer as a read would, so the test does not depend on how TCP
    // splits them.
    fn place(server: &mut Connection, bytes: &[u8]) {
        let end = server.filled_end + bytes.len();
        server.buffer[server.filled_end..end].copy_from_slice(bytes);
        server.filled_end = end;
    }
    place(&mut server, &bytes[..bytes.len() - 1]);
    assert!(!server.has_buffered_frame());
    place(&mut server, &bytes[bytes.len() - 1..]);
    assert!(server.has_buffered_frame());
    place(&mut server, &bytes[..3]);
    assert!(server.read_request().expect("read").is_some());
    assert!(!server.has_buffered_frame(), "three bytes of a prefix are not a frame");
}

#[test]
fn frames_read_in_place_come_whole_with_whether_another_whole_frame_is_behind() {
    let (mut server, _client) = pair(short_timeouts());
    let first = request_bytes(1, produce(b"one"));
    let second = request_bytes(2, Request::ListTopics);
    // Placed as reads would leave them: the first frame, the second, then 3 bytes of a third.
    let mut held = first.clone();
    held.extend_from_slice(&second);
    held.extend_from_slice(&second[..3]);
    server.buffer[..held.len()].copy_from_slice(&held);
    server.filled_end = held.len();
    let read = |server: &mut Connection| {
        server.read_frame_in_place(|frame, more| (frame.to_vec(), more)).expect("read").expect("a frame")
    };
    assert_eq!(read(&mut server), (first, true));
    assert_eq!(read(&mut server), (second.clone(), false), "three bytes of a prefix are not a frame");
    // What was read in place decodes as `read_request` decodes it.
    let decoded = decode_request(&second, server.config.max_frame_bytes).expect("decodes");
    assert_eq!(decoded, RequestFrame { correlation_id: 2, request: Request::ListTopics });
    let garbage = [0, 0, 0, 6, 9, 0, 0, 0, 0, 5];
    assert!(matches!(
        decode_request(&garbage, server.config.max_frame_bytes),
        Err(ConnectionError::Decode { correlation_id: Some(5), .. })
    ));
}

#[test]
fn connection_errors_that_end_the_connection_are_not_answered() {
    let closed = ConnectionError::Closed { received_bytes: 1 };
    let idle = ConnectionError::IdleTimeout { timeout: Duration::from_secs(1) };
    assert!(closed.answer().is_none() && !closed.keeps_connection());
    assert!(idle.answer().is_none() && !idle.keeps_connection());
}

#[test]
fn a_peer_that_reads_nothing_is_given_up_on_once_the_buffers_take_nothing_more() {
    let timeout = Duration::from_millis(500);
    let config = ConnectionConfig { write_timeout: Some(timeout), ..short_timeouts() };
    // The client never reads: 64 MiB cannot fit the sockets' buffers, however they grow.
    let (conn, _client) = pair(config);
    let started = Instant::now();
    let result = conn.write_through(&vec![7u8; 64 << 20]);
    let took = started.elapsed();
    assert!(
        matches!(result, Err(ConnectionError::WriteTimeout { timeout: t }) if t == timeout),
        "{result:?}"
    );
    assert!(took >= timeout, "gave up after {took:?}, before the timeout");
    // One to about three timeouts while the buffers grow (measured: 3.4 s at 1 s); never a hang.
    assert!(took < 10 * timeout, "gave up only after {took:?}");
}

#[test]
fn a_peer_that_reads_steadily_is_served_however_long_the_reply_takes() {
    let timeout = Duration::from_millis(500);
    let config = ConnectionConfig { write_timeout: Some(timeout), ..short_timeouts() };
    let (conn, mut client) = pair(config);
    let total = 8 << 20;
    // 64 KiB every 50 ms: about 1.3 MB/s, so the 8 MiB take well over the timeout to drain,
    // and a write blocked behind the megabytes queued ahead of it may wait longer than the
    // timeout while the reader reads all along.
    let reader = thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        let mut read = 0;
        while read < total {
            match client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
            thread::sleep(Duration::from_millis(50));
        }
        read
    });
    let started = Instant::now();
    let result = conn.write_through(&vec![7u8; total]);
    let took = started.elapsed();
    assert!(result.is_ok(), "a steady reader was cut off after {took:?}: {result:?}");
    assert_eq!(reader.join().expect("no panic"), total, "every byte arrived");
    assert!(took > timeout, "the reply took {took:?}, not longer than the timeout: the test proves nothing");
}
