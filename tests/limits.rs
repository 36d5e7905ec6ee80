//! The broker's limits, tried from outside its process as a careless or hostile client would:
//! each one is enforced before the resource is spent and answered with a documented error.
//!
//! - **Descriptors.** A broker started under a stock `ulimit -n 1024` (soft and hard) with the
//!   default flags cannot hold `--max-connections 1024` (two descriptors each): it lowers the
//!   cap and logs a warning, and 1 100 clients connecting at once are each either served (a
//!   ListTopics answered) or refused with error 9 and a close, within a bound; none is left
//!   in silence.
//! - **Fetch amplification (Kafka).** A Fetch naming one partition 3 000 times against a topic
//!   holding a 1 MiB record is answered INVALID_REQUEST for every partition, without reading;
//!   a Fetch of three topics holding 1 MiB each with `max_bytes` 1 serves the first record
//!   only; the broker's peak resident memory (`VmHWM`) stays under a stated bound.
//! - **Fetch budgets over empty records (synclog).** A Fetch's `max_bytes` counts each record
//!   as the reply carries it (its payload plus 12 bytes of offset and length), so over 65 536
//!   empty records `max_bytes` 0 or 1 gets one record and 1 200 gets a hundred: the reply is
//!   at most its budget plus one record beside its header, not every record there is.
//! - **Topic flood.** Under `--max-topics 5` the sixth topic is refused (synclog: error 11
//!   TooManyTopics; Kafka Metadata: POLICY_VIOLATION), nothing is created on disk for it, and
//!   the existing topics keep working.
//! - **Produce amplification.** A Produce of the largest frame the defaults allow, all of it
//!   empty messages (4 194 294 of them, 4 bytes each on the wire but far more in memory), is
//!   answered Malformed (1) before anything is reserved for its messages, and the connection
//!   carries on; a Produce of `MAX_PRODUCE_MESSAGES` is appended, one more is refused and
//!   appends nothing; bursts of empty Produce requests are each answered, in order. A Produce
//!   at the cap filling a whole frame is appended too. In both cases the broker's peak resident
//!   memory stays within two frames and 8 MiB of its baseline.

mod common;

use bytes::Bytes;
use common::broker_process::{kafka_addr_of, BrokerProcess};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};
use synclog::client::Client;
use synclog::kafka::client::KafkaClient;
use synclog::kafka::{code, records};
use synclog::protocol::{
    encode_produce_request, peek_frame_bytes, Api, ErrorCode, Request, Response, ResponseBody,
    DEFAULT_MAX_FRAME_BYTES, FETCH_RECORD_OVERHEAD_BYTES, LENGTH_PREFIX_BYTES, MAX_PRODUCE_MESSAGES,
    RESPONSE_HEADER_BYTES,
};
use synclog::storage::{Log, LogConfig};
use synclog::strategies::RwLockSync;

/// Clients connecting at once in the descriptor test.
const CLIENTS: usize = 1100;
/// The broker's open-file limit there (soft and hard), a stock system's.
const STOCK_FD_LIMIT: u64 = 1024;
/// Each client must be served or refused within this of starting to connect (a liveness
/// bound: several SYN retransmissions on a busy 2-core machine, not a performance target).
const CLIENT_BOUND: Duration = Duration::from_secs(45);

/// A data dir whose topics leave the open-file limit no room for a single connection: the broker
/// stops at start with an error naming the limit (exit 1), rather than listening and refusing
/// every client with error 9. 100 topics hold 200 descriptors; under `ulimit -n 256`, with 64 in
/// reserve, none is left for a connection.
#[test]
fn a_limit_that_holds_the_topics_but_no_connection_stops_the_broker_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    for i in 0..100 {
        Log::<RwLockSync>::open(&data.join(format!("t{i}")), LogConfig::default()).expect("make a topic");
    }
    let script = "ulimit -n 256 && exec \"$@\"";
    let mut broker = std::process::Command::new("bash")
        .args(["-c", script, "bash", env!("CARGO_BIN_EXE_broker"), "--listen", "127.0.0.1:0"])
        .args(["--data-dir", data.to_str().expect("utf-8")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the broker");
    let deadline = Instant::now() + Duration::from_secs(60);
    while broker.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = broker.kill();
            panic!(
                "the broker was still running after 60 s: it started under a limit that holds no connection"
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    let out = broker.wait_with_output().expect("output");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(!stdout.contains("listening on"), "it listened: {stdout}");
    assert!(
        stderr.contains("open-file limit (256, ulimit -n) leaves no room for a single connection")
            && stderr.contains("100 topics"),
        "stderr: {stderr}"
    );
}

#[test]
fn under_a_stock_fd_limit_each_of_1100_clients_is_served_or_refused_with_error_9() {
    raise_own_fd_limit(CLIENTS as u64 + 500);
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = dir.path().join("broker.stderr");
    let data = dir.path().join("data");
    let broker = BrokerProcess::start_with_fd_limit(
        &["--data-dir", data.to_str().expect("utf-8")],
        STOCK_FD_LIMIT,
        &stderr,
    );
    let addr = broker.addr;
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let barrier = barrier.clone();
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let started = Instant::now();
                    let (outcome, stream) = client(addr);
                    let elapsed = started.elapsed();
                    // Hold an admitted connection until every client is classified.
                    barrier.wait();
                    drop(stream);
                    (outcome, elapsed)
                })
                .expect("spawn a client thread")
        })
        .collect();
    barrier.wait();
    let mut served = 0;
    let mut refused = 0;
    let mut failures = Vec::new();
    for c in clients {
        let (outcome, elapsed) = c.join().expect("client thread");
        match outcome {
            Ok(true) => served += 1,
            Ok(false) => refused += 1,
            Err(e) => failures.push(e),
        }
        if elapsed > CLIENT_BOUND {
            failures.push(format!("a client took {elapsed:?}"));
        }
    }
    let log = broker.stderr_tail();
    eprintln!(
        "{CLIENTS} clients under ulimit -n {STOCK_FD_LIMIT}: {served} served, {refused} refused with error 9"
    );
    assert!(
        failures.is_empty(),
        "{} of {CLIENTS} clients failed, e.g. {:?}\nbroker: {log}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(served + refused, CLIENTS);
    assert!(log.contains("--max-connections 1024 needs") && log.contains("lowered to"), "no warning: {log}");
    // What the descriptor limit allows: (1024 - 64 reserved - 240 for 120 topics) / 2.
    assert!(served <= 360, "{served} served: more than the descriptors can hold");
    assert!(served > 0 && refused >= CLIENTS - 360, "served {served}, refused {refused}");
    // Each refusal a client can cause is logged, at most once a second (docs/protocol.md).
    let whole_log = std::fs::read_to_string(&stderr).expect("the broker's stderr");
    assert!(whole_log.contains("was answered TooManyConnections and closed"), "no refusal logged: {log}");
    // The broker is still there for the next client.
    let mut c = Client::connect(addr).expect("connect after the flood");
    assert!(c.list_topics().is_ok());
}

/// One client: `Ok(true)` served, `Ok(false)` refused with error 9 and a close, or what went wrong.
fn client(addr: SocketAddr) -> (Result<bool, String>, Option<TcpStream>) {
    let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(30)) {
        Ok(s) => s,
        Err(e) => return (Err(format!("connect: {e}")), None),
    };
    // A refused client is told at once; a silent one is admitted and answers ListTopics.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let mut received = Vec::new();
    let mut buf = [0u8; 512];
    match stream.read(&mut buf) {
        Ok(0) => return (Err("closed without an answer".into()), None),
        Ok(n) => received.extend_from_slice(&buf[..n]),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Err(e) => return (Err(format!("read: {e}")), None),
    }
    if received.is_empty() {
        let mut request = Vec::new();
        Request::ListTopics.encode(1, &mut request).expect("encode");
        if let Err(e) = stream.write_all(&request) {
            return (Err(format!("send ListTopics: {e}")), None);
        }
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    loop {
        if let Ok(Some(n)) = peek_frame_bytes(&received, u32::MAX) {
            if received.len() >= n {
                break;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => return (Err(format!("EOF after {} bytes", received.len())), None),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => return (Err(format!("reading the answer: {e}")), None),
        }
    }
    match Response::decode(Api::ListTopics.as_u8(), &received) {
        Ok((Response { correlation_id: 1, body: ResponseBody::Topics(_) }, _)) => (Ok(true), Some(stream)),
        Ok((
            Response {
                correlation_id: 0,
                body: ResponseBody::Error { code: ErrorCode::TooManyConnections, .. },
            },
            _,
        )) => {
            // Refused: then closed.
            let mut rest = Vec::new();
            match stream.read_to_end(&mut rest) {
                Ok(_) => (Ok(false), None),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => (Ok(false), None),
                Err(e) => (Err(format!("no close after error 9: {e}")), None),
            }
        }
        other => (Err(format!("unexpected answer {other:?}")), None),
    }
}

/// Raises this process's soft open-file limit to at least `needed` (its clients' sockets).
fn raise_own_fd_limit(needed: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_none_or(|soft| soft >= needed) {
        return;
    }
    let hard = limit.maximum.unwrap_or(u64::MAX);
    assert!(hard >= needed, "this test needs {needed} open files; the hard limit (`ulimit -Hn`) is {hard}");
    setrlimit(Resource::Nofile, Rlimit { current: Some(needed.max(4096).min(hard)), maximum: limit.maximum })
        .expect("raise the soft limit on open files");
}

/// A Fetch v4 naming `partitions` as (topic, partition), each from offset 0 with 1 MiB, and
/// `max_bytes` for the whole request; the answer's (topic, error, records bytes) per partition.
fn fetch(addr: SocketAddr, partitions: &[(&str, i32)], max_bytes: i32) -> Vec<(String, i16, usize)> {
    let topics = partitions
        .iter()
        .map(|(t, p)| {
            FetchTopic::default().with_topic(TopicName(StrBytes::from_string((*t).into()))).with_partitions(
                vec![FetchPartition::default()
                    .with_partition(*p)
                    .with_fetch_offset(0)
                    .with_partition_max_bytes(1 << 20)],
            )
        })
        .collect();
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(max_bytes)
        .with_topics(topics);
    let mut frame = Vec::new();
    frame.extend_from_slice(&1i16.to_be_bytes());
    frame.extend_from_slice(&4i16.to_be_bytes());
    frame.extend_from_slice(&7i32.to_be_bytes());
    frame.extend_from_slice(&(-1i16).to_be_bytes());
    request.encode(&mut frame, 4).expect("encode");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    stream.write_all(&(frame.len() as i32).to_be_bytes()).expect("send");
    stream.write_all(&frame).expect("send");
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).expect("an answer");
    let mut body = vec![0u8; i32::from_be_bytes(length) as usize];
    stream.read_exact(&mut body).expect("the whole answer");
    assert_eq!(&body[..4], &7i32.to_be_bytes());
    let response = FetchResponse::decode(&mut Bytes::from(body[4..].to_vec()), 4).expect("decode");
    response
        .responses
        .into_iter()
        .flat_map(|t| {
            let name = t.topic.0.to_string();
            t.partitions
                .into_iter()
                .map(move |p| (name.clone(), p.error_code, p.records.map_or(0, |r| r.len())))
        })
        .collect()
}

#[test]
fn a_kafka_fetch_is_bounded_before_it_is_built() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = dir.path().join("broker.stderr");
    let data = dir.path().join("data");
    let broker = BrokerProcess::start(
        &["--data-dir", data.to_str().expect("utf-8"), "--kafka-listen", "127.0.0.1:0"],
        &stderr,
    );
    let kafka: SocketAddr = kafka_addr_of(&stderr).parse().expect("the Kafka address");
    let mut client = KafkaClient::connect(&kafka.to_string()).expect("kafka client");
    let big = vec![0x5au8; (1 << 20) - 1024];
    for topic in ["big0", "big1", "big2"] {
        client.produce(topic, &[big.as_slice()]).expect("produce 1 MiB");
    }
    let baseline = broker.peak_kib();

    // One partition named 3 000 times: every partition refused, none read.
    let answer = fetch(kafka, &vec![("big0", 0); 3000], 64 << 20);
    assert_eq!(answer.len(), 3000);
    assert!(
        answer.iter().all(|(_, e, bytes)| *e == code::INVALID_REQUEST && *bytes == 0),
        "{:?}",
        &answer[..3]
    );
    // More partitions than the cap, all distinct: refused the same way.
    let names: Vec<String> = (0..1001).map(|i| format!("t{i}")).collect();
    let many: Vec<(&str, i32)> = names.iter().map(|n| (n.as_str(), 0)).collect();
    assert!(fetch(kafka, &many, 1 << 20).iter().all(|(_, e, _)| *e == code::INVALID_REQUEST));

    // Three topics of 1 MiB each and max_bytes 1: the first record only.
    let answer = fetch(kafka, &[("big0", 0), ("big1", 0), ("big2", 0)], 1);
    assert_eq!(answer.iter().map(|(_, e, _)| *e).collect::<Vec<_>>(), vec![code::NONE; 3]);
    assert!(answer[0].2 >= big.len(), "the first partition gets its record past max_bytes");
    assert_eq!((answer[1].2, answer[2].2), (0, 0), "later partitions only within max_bytes");
    let batch = records::decode_fetched(Bytes::from(vec![])).expect("empty decodes");
    assert!(batch.is_empty());

    // Peak memory: the baseline plus a few 1 MiB records being read and encoded, never 3 000.
    let peak = broker.peak_kib();
    eprintln!("Kafka fetch amplification: VmHWM {baseline} KiB before, {peak} KiB after");
    let bound_kib = 64 * 1024;
    assert!(
        peak <= baseline + bound_kib,
        "peak {peak} KiB, baseline {baseline} KiB: more than {bound_kib} KiB above"
    );
    // The listener still serves.
    assert_eq!(client.list_offsets("big0", -1).expect("list offsets"), 1);
}

/// What one connection may hold while a Produce is served, above the broker's baseline: two
/// frames at the default `--max-frame-bytes`, and 8 MiB for the per-message bookkeeping of at
/// most `MAX_PRODUCE_MESSAGES` messages and the allocator's slack.
const PRODUCE_BOUND_KIB: u64 = 2 * (DEFAULT_MAX_FRAME_BYTES as u64 / 1024) + 8 * 1024;

/// A broker with the default limits in a fresh data directory, and a client connected to it
/// that has produced one message to `topic` (so the baseline includes a served connection).
fn broker_with_one_message(dir: &tempfile::TempDir, topic: &str) -> (BrokerProcess, Client) {
    let data = dir.path().join("data");
    let broker =
        BrokerProcess::start(&["--data-dir", data.to_str().expect("utf-8")], &dir.path().join("stderr"));
    let mut client = Client::connect(broker.addr).expect("connect");
    assert_eq!(client.produce(topic, [b"x".as_slice()]).expect("produce"), 0);
    (broker, client)
}

#[test]
fn a_produce_of_millions_of_empty_messages_is_refused_before_its_memory_is_spent() {
    assert_eq!(MAX_PRODUCE_MESSAGES, 65_536, "the cap README and docs/protocol.md state");
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, mut c) = broker_with_one_message(&dir, "amp");
    let baseline = broker.peak_kib();

    // 16 777 195 bytes: topic, count, and 4 194 294 empty messages.
    let count = (DEFAULT_MAX_FRAME_BYTES as usize) / 4 - 10;
    let refused = c.produce("amp", std::iter::repeat_n(&[][..], count)).expect_err("over the cap");
    assert_eq!(refused.code(), Some(ErrorCode::Malformed), "{refused}");
    assert!(refused.to_string().contains(&MAX_PRODUCE_MESSAGES.to_string()), "{refused}");

    // The connection carries on: at the cap appended, one past it refused and nothing appended.
    assert_eq!(c.produce("amp", std::iter::repeat_n(&[][..], MAX_PRODUCE_MESSAGES)).expect("at the cap"), 1);
    let past = c.produce("amp", std::iter::repeat_n(&b"y"[..], MAX_PRODUCE_MESSAGES + 1)).expect_err("past");
    assert_eq!(past.code(), Some(ErrorCode::Malformed), "{past}");
    let next = 1 + MAX_PRODUCE_MESSAGES as u64;
    assert_eq!(c.list_topics().expect("list"), vec![("amp".to_string(), next)]);

    // Bursts of empty Produce requests, pipelined: each answered, in order, none appending.
    for _ in 0..20 {
        let ids: Vec<u32> =
            (0..5_000).map(|_| c.send_produce("amp", std::iter::empty()).expect("queue")).collect();
        c.flush().expect("send");
        for id in ids {
            let (answered, body) = c.receive().expect("an answer");
            assert_eq!(answered, id);
            assert_eq!(body, ResponseBody::Produced { base_offset: next, count: 0 });
        }
    }

    let peak = broker.peak_kib();
    eprintln!("Produce amplification: VmHWM {baseline} KiB before, {peak} KiB after");
    assert!(
        peak <= baseline + PRODUCE_BOUND_KIB,
        "peak {peak} KiB, baseline {baseline} KiB: more than {PRODUCE_BOUND_KIB} KiB above"
    );
}

#[test]
fn a_produce_at_the_message_cap_filling_a_frame_stays_within_two_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, mut c) = broker_with_one_message(&dir, "full");
    let baseline = broker.peak_kib();

    // As many messages as allowed, as large as one frame allows: 65 536 of 250 bytes.
    let size = (DEFAULT_MAX_FRAME_BYTES as usize - 64) / MAX_PRODUCE_MESSAGES - 4;
    let payload = vec![0x5a; size];
    assert_eq!(
        c.produce("full", std::iter::repeat_n(payload.as_slice(), MAX_PRODUCE_MESSAGES)).expect("appended"),
        1
    );
    let fetched = c.fetch("full", MAX_PRODUCE_MESSAGES as u64, 10, 1 << 20, Duration::ZERO).expect("fetch");
    assert_eq!(fetched.records.get(0), Some((MAX_PRODUCE_MESSAGES as u64, payload.as_slice())));

    let peak = broker.peak_kib();
    eprintln!("Produce of a full frame at the cap: VmHWM {baseline} KiB before, {peak} KiB after");
    assert!(
        peak <= baseline + PRODUCE_BOUND_KIB,
        "peak {peak} KiB, baseline {baseline} KiB: more than {PRODUCE_BOUND_KIB} KiB above"
    );
}

#[test]
fn a_topic_flood_stops_at_max_topics_and_existing_topics_keep_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = dir.path().join("broker.stderr");
    let data = dir.path().join("data");
    let broker = BrokerProcess::start(
        &["--data-dir", data.to_str().expect("utf-8"), "--kafka-listen", "127.0.0.1:0", "--max-topics", "5"],
        &stderr,
    );
    let kafka: SocketAddr = kafka_addr_of(&stderr).parse().expect("the Kafka address");
    let mut c = Client::connect(broker.addr).expect("connect");
    for i in 0..5 {
        assert_eq!(c.produce(&format!("t{i}"), [b"x".as_slice()]).expect("within the cap"), 0);
    }
    for i in 5..50 {
        let e = c.produce(&format!("t{i}"), [b"x".as_slice()]).expect_err("past the cap");
        assert_eq!(e.code(), Some(ErrorCode::TooManyTopics), "{e}");
    }
    // Existing topics keep working, on the same connection.
    assert_eq!(c.produce("t0", [b"y".as_slice()]).expect("an existing topic"), 1);
    // A Kafka Metadata naming 100 new topics creates none of them.
    let mut k = KafkaClient::connect(&kafka.to_string()).expect("kafka client");
    let wanted: Vec<String> = (100..200).map(|i| format!("k{i}")).collect();
    let meta = k.metadata(&wanted).expect("metadata");
    assert!(meta.topics.iter().all(|t| t.error_code == code::POLICY_VIOLATION), "{:?}", meta.topics.first());
    let dirs = std::fs::read_dir(&data).expect("data dir").flatten().filter(|e| e.path().is_dir()).count();
    assert_eq!(dirs, 5, "only the five topics within the cap exist on disk");
    assert_eq!(c.list_topics().expect("list").len(), 5);
}

#[test]
fn a_synclog_fetch_carries_at_most_max_fetch_bytes_plus_one_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = dir.path().join("broker.stderr");
    let data = dir.path().join("data");
    let broker = BrokerProcess::start(
        &["--data-dir", data.to_str().expect("utf-8"), "--max-fetch-bytes", "1000"],
        &stderr,
    );
    let mut c = Client::connect(broker.addr).expect("connect");
    let small = [7u8; 400];
    let messages: Vec<&[u8]> = vec![&small[..]; 10];
    c.produce("capped", messages).expect("produce");
    // Asking for 1 MB gets what --max-fetch-bytes allows: two 400-byte records (a third would pass 1000).
    let fetched = c.fetch("capped", 0, 100, 1_000_000, Duration::ZERO).expect("fetch");
    assert_eq!(fetched.records.len(), 2);
    assert_eq!(fetched.high_watermark, 10);
    // A record larger than the budget is still served, alone: one record past it at most.
    let big = [9u8; 5000];
    c.produce("capped", [&big[..], &big[..]]).expect("produce");
    let fetched = c.fetch("capped", 10, 100, 1_000_000, Duration::ZERO).expect("fetch");
    assert_eq!(fetched.records.len(), 1);
    assert_eq!(fetched.records.total_bytes(), 5000);
}

/// Sends a synclog Fetch of `topic` from offset 0 on `stream`: the whole reply frame, and the
/// records it carries.
fn raw_fetch(stream: &mut TcpStream, topic: &str, max_bytes: u32) -> (usize, usize) {
    let request = Request::Fetch {
        topic: topic.to_string(),
        offset: 0,
        max_messages: u32::MAX,
        max_bytes,
        max_wait_ms: 0,
    };
    let mut frame = Vec::new();
    request.encode(1, &mut frame).expect("encode");
    stream.write_all(&frame).expect("send");
    let mut received = vec![0u8; LENGTH_PREFIX_BYTES];
    stream.read_exact(&mut received).expect("a length prefix");
    let frame_bytes = peek_frame_bytes(&received, u32::MAX).expect("a length").expect("whole prefix");
    received.resize(frame_bytes, 0);
    stream.read_exact(&mut received[LENGTH_PREFIX_BYTES..]).expect("the whole reply");
    match Response::decode(Api::Fetch.as_u8(), &received) {
        Ok((Response { correlation_id: 1, body: ResponseBody::Records { records, .. } }, _)) => {
            (frame_bytes, records.len())
        }
        other => panic!("not records: {other:?}"),
    }
}

#[test]
fn a_synclog_fetch_of_empty_records_carries_at_most_its_budget_plus_one_record() {
    assert_eq!(FETCH_RECORD_OVERHEAD_BYTES, 12, "what README and docs/protocol.md count per record");
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, mut c) = broker_with_one_message(&dir, "one");
    c.produce("empty", std::iter::repeat_n(&[][..], MAX_PRODUCE_MESSAGES)).expect("produce");
    let mut stream = TcpStream::connect(broker.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let per_record = FETCH_RECORD_OVERHEAD_BYTES as usize;
    // The reply's header: length prefix, correlation id and error, high watermark, count.
    let header = LENGTH_PREFIX_BYTES + RESPONSE_HEADER_BYTES + 8 + 4;
    for (max_bytes, expected) in [(0, 1), (1, 1), (12, 1), (23, 1), (24, 2), (1200, 100), (1211, 100)] {
        let (frame_bytes, records) = raw_fetch(&mut stream, "empty", max_bytes);
        assert_eq!(records, expected, "max_bytes {max_bytes}");
        assert_eq!(frame_bytes, header + records * per_record, "max_bytes {max_bytes}");
        assert!(frame_bytes <= header + max_bytes as usize + per_record, "max_bytes {max_bytes}");
    }
    // A budget larger than all of them gets all of them.
    let (_, records) = raw_fetch(&mut stream, "empty", u32::MAX);
    assert_eq!(records, MAX_PRODUCE_MESSAGES);
}

/// Reads until EOF (or a reset) and returns what arrived.
fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) => {
                panic!("the connection was neither answered nor closed: {e} ({} bytes read)", got.len())
            }
        }
    }
}

#[test]
fn frames_being_read_on_all_connections_together_stay_within_max_buffered_bytes() {
    // One frame of room in all: a 4 MiB frame limit and a budget of one such frame.
    const FRAME: usize = 4 * 1024 * 1024;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (frame, budget) = (FRAME.to_string(), (FRAME + 4).to_string());
    let args = ["--data-dir", data.to_str().expect("utf-8"), "--max-frame-bytes", &frame];
    let args = [&args[..], &["--max-buffered-bytes", &budget, "--frame-timeout-ms", "60000"]].concat();
    let broker = BrokerProcess::start(&args, &dir.path().join("stderr"));
    let baseline = broker.peak_kib();

    // A: a Produce of four messages of 1 040 000 bytes (a frame 34 KiB short of the limit), all
    // but its last 16 bytes sent, so its connection's buffer grows to the whole frame and waits
    // for the rest; under 50 KiB of the budget is left.
    let payload = vec![0x5a; 1_040_000];
    let mut request = Vec::new();
    encode_produce_request(1, "big", std::iter::repeat_n(payload.as_slice(), 4), &mut request)
        .expect("encode");
    let (head, tail) = request.split_at(request.len() - 16);
    let mut a = TcpStream::connect(broker.addr).expect("connect A");
    a.write_all(head).expect("send A's frame but its tail");
    // Wait until nearly all of it was read: the buffer grows in steps as bytes arrive, and only
    // past its last step before the whole frame is all but 98 KiB of the budget taken, less
    // than B's first growth (128 KiB). A lower mark let B in while A's buffer was a step short.
    let read_kib = head.len() as u64 / 1024 - 64;
    let deadline = Instant::now() + Duration::from_secs(20);
    while broker.peak_kib() < baseline + read_kib {
        assert!(Instant::now() < deadline, "the broker never read A's frame");
        thread::sleep(Duration::from_millis(10));
    }

    // B: a frame that needs more room than the budget has left is refused before anything is
    // allocated for it: answered 12 BuffersFull with correlation id 0, then closed.
    let mut b = TcpStream::connect(broker.addr).expect("connect B");
    b.write_all(&(1024u32 * 1024).to_be_bytes()).expect("B's prefix");
    b.write_all(&[0, 0, 0, 0, 0, 7, 0, 0]).expect("B's first bytes");
    let answer = read_to_close(&mut b);
    assert!(answer.len() >= 10, "B got an answer: {answer:?}");
    assert_eq!(&answer[4..8], &[0, 0, 0, 0], "correlation id 0");
    assert_eq!(u16::from_be_bytes([answer[8], answer[9]]), ErrorCode::BuffersFull.as_u16());
    assert!(String::from_utf8_lossy(&answer).contains("--max-buffered-bytes"), "{answer:?}");

    // A is still served once the rest arrives.
    a.write_all(tail).expect("A's tail");
    let mut c = Client::connect(broker.addr).expect("connect");
    let mut reply = [0u8; 10];
    a.read_exact(&mut reply).expect("A's answer");
    assert_eq!(u16::from_be_bytes([reply[8], reply[9]]), 0, "A's Produce was appended");
    assert_eq!(c.list_topics().expect("list"), vec![("big".to_string(), 4)]);

    // A's buffer, given back once its frame was served, makes room for another whole frame.
    assert_eq!(c.produce("big", std::iter::repeat_n(payload.as_slice(), 3)).expect("room again"), 4);
    let peak = broker.peak_kib();
    eprintln!("buffered frames: VmHWM {baseline} KiB before, {peak} KiB after");
    assert!(peak <= baseline + PRODUCE_BOUND_KIB, "peak {peak} KiB, baseline {baseline} KiB");
}
