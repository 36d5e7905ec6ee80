//! The Kafka listener, tested with a real client (kcat, i.e. librdkafka), with synclog's own
//! Kafka client, and with hand-made bad frames; and the harness driving it over `--target`.
//!
//! Every test starts an embedded broker with both listeners on 127.0.0.1 port 0. kcat must be
//! installed (`scripts/test.sh` installs the Debian package); when it is missing the kcat tests
//! fail and say so, they never skip. Every kcat run has a deadline and is killed by a guard.

mod common;

use bytes::Bytes;
use common::kafka_broker::Embedded;
use common::kafka_raw::idempotent_batch;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, RequestHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use synclog::kafka::client::KafkaClient;
use synclog::kafka::{code, records};

/// How long any one kcat run may take.
const KCAT_DEADLINE: Duration = Duration::from_secs(60);

/// kcat's path, or a failure naming it and `scripts/test.sh`.
fn kcat() -> PathBuf {
    let found = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("kcat")).find(|p| p.is_file()));
    found.unwrap_or_else(|| {
        panic!(
            "kcat is not installed, and the Kafka tests need it: run scripts/test.sh (it installs the Debian package kcat) or `apt-get install kcat`"
        )
    })
}

/// Kills a child process that is still running when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs kcat with `args`, feeding `stdin`, and returns its output; fails past the deadline.
fn run_kcat(args: &[&str], stdin: &[u8]) -> Output {
    run_with_deadline(Command::new(kcat()), args, stdin)
}

/// Runs `command` with `args`, feeding `stdin`, and returns its output; fails past the
/// deadline or on a failed exit.
fn run_with_deadline(mut command: Command, args: &[&str], stdin: &[u8]) -> Output {
    let child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kcat");
    let mut guard = KillOnDrop(child);
    let mut input = guard.0.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    // Drain both pipes on threads, so a chatty kcat never blocks on a full pipe.
    let mut stdout = guard.0.stdout.take().expect("stdout");
    let mut stderr = guard.0.stderr.take().expect("stderr");
    let out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + KCAT_DEADLINE;
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("wait for kcat") {
            break status;
        }
        assert!(Instant::now() < deadline, "{args:?} did not finish within {KCAT_DEADLINE:?}");
        thread::sleep(Duration::from_millis(20));
    };
    writer.join().expect("stdin writer");
    let output = Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    };
    assert!(
        output.status.success(),
        "{args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// kcat consuming `topic` from the beginning to its end, one payload per line.
fn kcat_consume(broker: &str, topic: &str) -> Vec<u8> {
    run_kcat(
        &["-b", broker, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%s\\n", "-m", "10", "-q"],
        b"",
    )
    .stdout
}

#[test]
fn kcat_produces_1000_messages_and_consumes_them_back_byte_for_byte() {
    let broker = Embedded::start();
    let lines: Vec<String> =
        (0..1000).map(|i| format!("message {i:04} ünïcødé\t{}|", "x".repeat(i % 97))).collect();
    let input = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    run_kcat(&["-b", &broker.kafka(), "-P", "-t", "kcat-1000", "-m", "10"], input.as_bytes());

    // What the log holds: the broker assigned offsets 0..1000, one message per line.
    let stored = broker.payloads("kcat-1000");
    assert_eq!(stored.len(), 1000);
    for (line, payload) in lines.iter().zip(&stored) {
        assert_eq!(payload.as_slice(), line.as_bytes());
    }
    // What kcat reads back from offset 0.
    assert_eq!(String::from_utf8_lossy(&kcat_consume(&broker.kafka(), "kcat-1000")), input);
}

#[test]
fn kcat_lists_the_topics_and_the_listener_it_must_reconnect_to() {
    let broker = Embedded::start();
    let mut client = broker.synclog();
    client.produce("listed-a", [b"1".as_slice()]).expect("produce");
    client.produce("listed-b", [b"2".as_slice()]).expect("produce");
    let out = run_kcat(&["-b", &broker.kafka(), "-L", "-m", "10"], b"");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("topic \"listed-a\" with 1 partitions"), "{listing}");
    assert!(listing.contains("topic \"listed-b\" with 1 partitions"), "{listing}");
    assert!(listing.contains(&format!("broker 0 at {}", broker.kafka())), "{listing}");
}

#[test]
fn a_synclog_message_is_read_by_kcat_and_a_kcat_message_by_synclog() {
    let broker = Embedded::start();
    let mut client = broker.synclog();
    assert_eq!(client.produce("both", [b"from synclog".as_slice()]).expect("produce"), 0);
    assert_eq!(kcat_consume(&broker.kafka(), "both"), b"from synclog\n");

    run_kcat(&["-b", &broker.kafka(), "-P", "-t", "both", "-m", "10"], b"from kcat\n");
    let fetched = client.fetch("both", 0, 10, 1 << 20, Duration::ZERO).expect("fetch");
    let records: Vec<(u64, &[u8])> = fetched.records.iter().collect();
    assert_eq!(records, vec![(0, b"from synclog".as_slice()), (1, b"from kcat".as_slice())]);
}

#[test]
fn the_kafka_client_produces_fetches_and_lists_offsets() {
    let broker = Embedded::start();
    let mut kafka = KafkaClient::connect(&broker.kafka()).expect("connect");
    let metadata = kafka.metadata(&["k".to_string()]).expect("metadata creates the topic");
    assert_eq!(metadata.topics[0].error_code, code::NONE);
    assert!(broker.topics.get("k").is_some());
    assert_eq!(kafka.produce("k", &[b"a".as_slice(), b"", b"c"]).expect("produce"), 0);
    assert_eq!(kafka.produce("k", &[b"d".as_slice()]).expect("produce"), 3);
    assert_eq!(broker.payloads("k"), vec![b"a".to_vec(), vec![], b"c".to_vec(), b"d".to_vec()]);

    let fetched = kafka.fetch("k", 1, 1 << 20, Duration::ZERO).expect("fetch");
    assert_eq!(fetched.high_watermark, 4);
    let values: Vec<(i64, &[u8])> = fetched.records.iter().map(|(o, v)| (*o, v.as_ref())).collect();
    assert_eq!(values, vec![(1, b"".as_slice()), (2, b"c"), (3, b"d")]);
    assert!(kafka.fetch("k", 4, 1 << 20, Duration::ZERO).expect("at the end").records.is_empty());

    assert_eq!(kafka.list_offsets("k", -2).expect("earliest"), 0);
    assert_eq!(kafka.list_offsets("k", -1).expect("latest"), 4);
    assert_eq!(kafka.list_offsets("k", 1_700_000_000_000).expect("by time"), -1, "no timestamps are kept");
}

#[test]
fn fetch_errors_are_kafkas_codes() {
    let broker = Embedded::start();
    let mut kafka = KafkaClient::connect(&broker.kafka()).expect("connect");
    kafka.produce("e", &[b"x".as_slice()]).expect("produce");
    let code_of = |r: Result<synclog::kafka::client::Fetched, synclog::kafka::KafkaError>| {
        r.expect_err("an error").code().expect("a broker error code")
    };
    assert_eq!(code_of(kafka.fetch("e", 2, 1024, Duration::ZERO)), code::OFFSET_OUT_OF_RANGE);
    assert_eq!(code_of(kafka.fetch("e", -1, 1024, Duration::ZERO)), code::OFFSET_OUT_OF_RANGE);
    assert_eq!(code_of(kafka.fetch("missing", 0, 1024, Duration::ZERO)), code::UNKNOWN_TOPIC_OR_PARTITION);
    assert_eq!(code_of(kafka.fetch("bad/name", 0, 1024, Duration::ZERO)), code::INVALID_TOPIC_EXCEPTION);
    assert_eq!(
        kafka.list_offsets("missing", -1).expect_err("unknown").code(),
        Some(code::UNKNOWN_TOPIC_OR_PARTITION)
    );
}

#[test]
fn a_fetch_at_the_end_waits_for_the_next_append_without_blocking_it() {
    let broker = Embedded::start();
    let mut kafka = KafkaClient::connect(&broker.kafka()).expect("connect");
    kafka.produce("poll", &[b"first".as_slice()]).expect("produce");
    let kafka_addr = broker.kafka();
    let started = Instant::now();
    let fetched = thread::scope(|s| {
        let waiter = s.spawn(|| kafka.fetch("poll", 1, 1024, Duration::from_secs(20)));
        thread::sleep(Duration::from_millis(200));
        KafkaClient::connect(&kafka_addr)
            .expect("connect")
            .produce("poll", &[b"second".as_slice()])
            .expect("produce");
        waiter.join().expect("join")
    })
    .expect("fetch");
    assert!(started.elapsed() < Duration::from_secs(15), "the long poll woke on the append");
    assert_eq!(fetched.records, vec![(1, Bytes::from_static(b"second"))]);
    // With nothing coming, the wait ends at max_wait_ms with no records.
    let started = Instant::now();
    let empty = kafka.fetch("poll", 2, 1024, Duration::from_millis(300)).expect("fetch");
    assert!(empty.records.is_empty() && started.elapsed() >= Duration::from_millis(250));
}

// --- hand-made frames ------------------------------------------------------------------------

/// A raw connection for sending frames no well-behaved client would.
struct Raw(TcpStream);

impl Raw {
    fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        Raw(stream)
    }

    /// Sends a request header v1 and `body` as one frame.
    fn send(&mut self, api_key: i16, version: i16, correlation_id: i32, body: &[u8]) {
        let mut frame = Vec::new();
        frame.extend_from_slice(&api_key.to_be_bytes());
        frame.extend_from_slice(&version.to_be_bytes());
        frame.extend_from_slice(&correlation_id.to_be_bytes());
        frame.extend_from_slice(&4i16.to_be_bytes());
        frame.extend_from_slice(b"test");
        frame.extend_from_slice(body);
        let mut bytes = (frame.len() as i32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&frame);
        self.0.write_all(&bytes).expect("send");
    }

    /// The next response frame's body (after the length), or `None` if the broker closed.
    fn receive(&mut self) -> Option<Vec<u8>> {
        let mut length = [0u8; 4];
        if self.0.read_exact(&mut length).is_err() {
            return None;
        }
        let mut body = vec![0u8; i32::from_be_bytes(length) as usize];
        self.0.read_exact(&mut body).ok()?;
        Some(body)
    }

    /// True when the broker closed the connection without an answer, within the read timeout
    /// (EOF, or a reset when it closed with our bytes unread).
    fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.0.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

fn i16_at(bytes: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[test]
fn unsupported_apis_and_versions_get_error_35_and_the_connection_stays_open() {
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    for (api_key, version, id) in [(10, 3, 1), (0, 9, 2), (999, 0, 3), (1, 11, 4), (22, 2, 6)] {
        raw.send(api_key, version, id, &[]);
        let answer = raw.receive().expect("an answer");
        assert_eq!(
            (i32_at(&answer, 0), i16_at(&answer, 4)),
            (id, code::UNSUPPORTED_VERSION),
            "api {api_key}"
        );
    }
    // The same connection still serves ApiVersions v0.
    raw.send(18, 0, 5, &[]);
    let answer = raw.receive().expect("ApiVersions");
    assert_eq!(
        (i32_at(&answer, 0), i16_at(&answer, 4), i32_at(&answer, 6)),
        (5, code::NONE, synclog::kafka::SERVED_APIS.len() as i32)
    );
}

#[test]
fn a_newer_api_versions_is_answered_in_v0_with_error_35_and_the_supported_ranges() {
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    raw.send(18, 3, 7, &[0, 0, 0]); // a flexible body: what librdkafka sends first
    let answer = raw.receive().expect("answer");
    assert_eq!((i32_at(&answer, 0), i16_at(&answer, 4)), (7, code::UNSUPPORTED_VERSION));
    let count = i32_at(&answer, 6) as usize;
    let ranges: Vec<(i16, i16, i16)> = (0..count)
        .map(|i| {
            let at = 10 + 6 * i;
            (i16_at(&answer, at), i16_at(&answer, at + 2), i16_at(&answer, at + 4))
        })
        .collect();
    assert_eq!(
        ranges,
        vec![
            (0, 3, 3),
            (1, 4, 4),
            (2, 1, 2),
            (3, 0, 4),
            (8, 2, 7),
            (9, 1, 5),
            (10, 0, 2),
            (11, 0, 5),
            (12, 0, 3),
            (13, 0, 3),
            (14, 0, 3),
            (18, 0, 2),
            (22, 0, 1),
            (20, 1, 3)
        ]
    );
    assert_eq!(answer.len(), 10 + 6 * count);
}

#[test]
fn an_impossible_array_count_closes_the_connection_and_the_listener_lives_on() {
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    // Metadata v0 claiming 2^31 - 1 topics in one byte: refused before any allocation.
    raw.send(3, 0, 1, &[0x7f, 0xff, 0xff, 0xff, 0x00]);
    assert!(raw.is_closed());
    // A frame announcing 2 GiB closes the connection from its length prefix alone.
    let mut raw = Raw::connect(&broker.kafka());
    raw.0.write_all(&[0x7f, 0xff, 0xff, 0xff, 0, 18]).expect("send");
    assert!(raw.is_closed());
    // A frame too short for a header.
    let mut raw = Raw::connect(&broker.kafka());
    raw.0.write_all(&[0, 0, 0, 3, 0, 18, 0]).expect("send");
    assert!(raw.is_closed());
    // The listener and the topics are unharmed.
    let mut kafka = KafkaClient::connect(&broker.kafka()).expect("connect");
    assert_eq!(kafka.produce("alive", &[b"yes".as_slice()]).expect("produce"), 0);
}

/// A Produce v3 request for partition `partition` of `topic` with `records` and `acks`.
fn produce_request(topic: &str, partition: i32, records: Vec<u8>, acks: i16) -> Vec<u8> {
    let request = ProduceRequest::default().with_acks(acks).with_timeout_ms(1000).with_topic_data(vec![
        TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(Bytes::from(records)))]),
    ]);
    let mut body = Vec::new();
    request.encode(&mut body, 3).expect("encode");
    body
}

/// Sends a Produce v3 and returns its partition's (error code, base offset).
fn raw_produce(raw: &mut Raw, id: i32, body: &[u8]) -> (i16, i64) {
    raw.send(0, 3, id, body);
    let answer = raw.receive().expect("answer");
    assert_eq!(i32_at(&answer, 0), id);
    let response = ProduceResponse::decode(&mut Bytes::from(answer[4..].to_vec()), 3).expect("decode");
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn batch(values: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    records::encode_batch(0, -1, values.iter().copied(), &mut out).expect("encode");
    out
}

#[test]
fn bad_batches_are_refused_with_the_code_that_says_why() {
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    assert_eq!(
        raw_produce(&mut raw, 1, &produce_request("b", 0, batch(&[b"ok".as_slice()]), -1)),
        (code::NONE, 0)
    );

    let mut compressed = batch(&[b"zip".as_slice()]);
    compressed[22] |= 1; // gzip
    let crc = crc32c::crc32c(&compressed[21..]);
    compressed[17..21].copy_from_slice(&crc.to_be_bytes());
    let answer = raw_produce(&mut raw, 2, &produce_request("b", 0, compressed, -1));
    assert_eq!(answer.0, code::UNSUPPORTED_COMPRESSION_TYPE);

    let mut flipped = batch(&[b"flip".as_slice()]);
    let last = flipped.len() - 2;
    flipped[last] ^= 0x20;
    assert_eq!(raw_produce(&mut raw, 3, &produce_request("b", 0, flipped, 1)).0, code::CORRUPT_MESSAGE);

    assert_eq!(raw_produce(&mut raw, 4, &produce_request("b", 0, Vec::new(), 1)).0, code::CORRUPT_MESSAGE);
    assert_eq!(
        raw_produce(&mut raw, 5, &produce_request("b", 1, batch(&[b"p1".as_slice()]), 1)).0,
        code::UNKNOWN_TOPIC_OR_PARTITION
    );
    assert_eq!(
        raw_produce(&mut raw, 6, &produce_request("b", 0, batch(&[b"a".as_slice()]), 2)).0,
        code::INVALID_REQUIRED_ACKS
    );
    let big = vec![7u8; (1 << 20) + 1];
    assert_eq!(
        raw_produce(&mut raw, 7, &produce_request("b", 0, batch(&[&big]), 1)).0,
        code::MESSAGE_TOO_LARGE
    );
    assert_eq!(
        raw_produce(&mut raw, 8, &produce_request("../x", 0, batch(&[b"a".as_slice()]), 1)).0,
        code::INVALID_TOPIC_EXCEPTION
    );
    // Nothing refused reached the log.
    assert_eq!(broker.payloads("b"), vec![b"ok".to_vec()]);
}

#[test]
fn acks_zero_is_never_answered() {
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    raw.send(0, 3, 1, &produce_request("quiet", 0, batch(&[b"fire".as_slice(), b"forget"]), 0));
    raw.send(18, 0, 2, &[]);
    // The first answer on the connection is the ApiVersions one.
    assert_eq!(i32_at(&raw.receive().expect("answer"), 0), 2);
    assert_eq!(broker.payloads("quiet"), vec![b"fire".to_vec(), b"forget".to_vec()]);
}

#[test]
fn request_headers_are_checked_like_bodies() {
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    // Metadata v0 whose client id claims 100 bytes of a 2-byte remainder.
    let mut frame = Vec::new();
    frame.extend_from_slice(&3i16.to_be_bytes());
    frame.extend_from_slice(&0i16.to_be_bytes());
    frame.extend_from_slice(&1i32.to_be_bytes());
    frame.extend_from_slice(&100i16.to_be_bytes());
    frame.extend_from_slice(&[0, 0]);
    let header = RequestHeader::decode(&mut Bytes::from(frame.clone()), 1);
    assert!(header.is_err(), "the codec agrees it is malformed");
    let mut bytes = (frame.len() as i32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&frame);
    raw.0.write_all(&bytes).expect("send");
    assert!(raw.is_closed());
}

// --- the binaries --------------------------------------------------------------------------

#[test]
fn the_broker_binary_opens_the_kafka_listener_and_logs_it_to_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let child = Command::new(env!("CARGO_BIN_EXE_broker"))
        .args(["--listen", "127.0.0.1:0", "--kafka-listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start broker");
    let mut guard = KillOnDrop(child);
    let stderr = guard.0.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("synclog broker: kafka listener on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let kafka_addr = rx.recv_timeout(Duration::from_secs(30)).expect("the Kafka address on stderr");
    let mut kafka = KafkaClient::connect(&kafka_addr).expect("connect");
    let metadata = kafka.metadata(&["bin".to_string()]).expect("metadata");
    let advertised = format!("{}:{}", &*metadata.brokers[0].host, metadata.brokers[0].port);
    assert_eq!(advertised, kafka_addr, "Metadata advertises the real port");
    let _ = guard.0.kill();
    let _ = guard.0.wait();
    let mut stdout = String::new();
    guard.0.stdout.take().expect("stdout").read_to_string(&mut stdout).expect("read stdout");
    assert_eq!(stdout.lines().count(), 1, "exactly one stdout line: {stdout:?}");
    assert!(stdout.starts_with("listening on 127.0.0.1:"), "{stdout:?}");
}

#[test]
fn the_harness_over_kafka_reports_a_clean_run() {
    let broker = Embedded::start();
    let target = format!("kafka://{}", broker.kafka());
    let child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["--target", &target, "--producers", "2", "--consumers", "1", "--messages", "2000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start harness");
    let mut guard = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the harness did not finish within two minutes");
        thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    guard.0.stdout.take().expect("stdout").read_to_string(&mut out).expect("stdout");
    let mut err = String::new();
    guard.0.stderr.take().expect("stderr").read_to_string(&mut err).expect("stderr");
    assert!(status.success(), "harness exited {status}:\n{out}\n{err}");
    assert!(out.contains("verdict: clean"), "{out}");
    assert!(out.contains("2 000 acknowledged, 0 failed, 0 unanswered"), "{out}");
    // The run's topic holds exactly the 2 000 messages, written through the Kafka listener.
    let run_topics: Vec<(String, u64)> =
        broker.topics.list().into_iter().filter(|(name, _)| name.starts_with("run-")).collect();
    assert_eq!(run_topics.len(), 1, "{run_topics:?}");
    assert_eq!(run_topics[0].1, 2000);
}

/// kafka-python (`pip install kafka-python`; `scripts/test.sh` installs it when missing)
/// without a pinned `api_version`: it infers the broker's version from ApiVersions (Metadata
/// v4: Kafka 0.11), so it sends RecordBatch v2 by itself, on its defaults: idempotence on
/// (InitProducerId, then batches with a producer id and sequences).
const KAFKA_PYTHON: &str = r#"
import sys
from kafka import KafkaProducer, KafkaConsumer
broker = sys.argv[1]
p = KafkaProducer(bootstrap_servers=broker)
print("api_version", ".".join(map(str, p.config["api_version"])))
futures = [p.send("python", str(i).encode()) for i in range(1000)]
p.flush(timeout=30)
offsets = [f.get(timeout=30).offset for f in futures]
assert offsets == list(range(1000)), offsets[:10]
c = KafkaConsumer("python", bootstrap_servers=broker, auto_offset_reset="earliest", consumer_timeout_ms=3000)
values = [m.value for m in c]
assert values == [str(i).encode() for i in range(1000)], len(values)
print("consumed", len(values))
"#;

#[test]
fn kafka_python_infers_a_modern_broker_and_produces_and_consumes_record_batches() {
    let broker = Embedded::start();
    let output = run_with_deadline(Command::new("python3"), &["-c", KAFKA_PYTHON, &broker.kafka()], b"");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("api_version 0.11"), "{stdout}");
    assert!(stdout.contains("consumed 1000"), "{stdout}");
    let expected: Vec<Vec<u8>> = (0..1000).map(|i: i32| i.to_string().into_bytes()).collect();
    assert_eq!(broker.payloads("python"), expected);
}

/// Metadata v1–v4 as Kafka defines them: from v1 a null list asks for every topic and an
/// empty one for none; from v4 a missing topic is created only when the request allows it.
#[test]
fn metadata_versions_1_to_4_follow_kafkas_list_and_creation_rules() {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::{MetadataRequest, MetadataResponse};
    let broker = Embedded::start();
    broker.synclog().produce("existing", [b"x".as_slice()]).expect("produce");
    let mut raw = Raw::connect(&broker.kafka());
    let mut ask = |version: i16, request: MetadataRequest, id: i32| -> MetadataResponse {
        let mut body = Vec::new();
        request.encode(&mut body, version).expect("encode");
        raw.send(3, version, id, &body);
        let answer = raw.receive().expect("an answer");
        assert_eq!(i32_at(&answer, 0), id);
        MetadataResponse::decode(&mut Bytes::from(answer[4..].to_vec()), version).expect("decode")
    };
    let names = |r: &MetadataResponse| -> Vec<(String, i16)> {
        r.topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default(), t.error_code))
            .collect()
    };
    let every = ask(1, MetadataRequest::default().with_topics(None), 1);
    assert_eq!(names(&every), vec![("existing".to_string(), code::NONE)]);
    assert_eq!(every.controller_id.0, 0);
    assert!(names(&ask(1, MetadataRequest::default().with_topics(Some(vec![])), 2)).is_empty());
    let named =
        |n: &str| MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(n.into()))));
    let forbid = MetadataRequest::default()
        .with_topics(Some(vec![named("absent")]))
        .with_allow_auto_topic_creation(false);
    let refused = ask(4, forbid, 3);
    assert_eq!(names(&refused), vec![("absent".to_string(), code::UNKNOWN_TOPIC_OR_PARTITION)]);
    assert!(broker.topics.get("absent").is_none(), "not created when the request does not allow it");
    let allowed = MetadataRequest::default()
        .with_topics(Some(vec![named("made")]))
        .with_allow_auto_topic_creation(true);
    assert_eq!(names(&ask(4, allowed, 4)), vec![("made".to_string(), code::NONE)]);
    assert!(broker.topics.get("made").is_some());
}

// --- idempotent producers ---------------------------------------------------------------------

/// InitProducerId v1 by hand: (error code, producer id, epoch).
fn init_producer_id(raw: &mut Raw, id: i32, transactional_id: Option<&str>) -> (i16, i64, i16) {
    use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, TransactionalId};
    let request = InitProducerIdRequest::default()
        .with_transactional_id(transactional_id.map(|t| TransactionalId(StrBytes::from_string(t.into()))))
        .with_transaction_timeout_ms(60_000);
    let mut body = Vec::new();
    request.encode(&mut body, 1).expect("encode");
    raw.send(22, 1, id, &body);
    let answer = raw.receive().expect("answer");
    assert_eq!(i32_at(&answer, 0), id);
    let r = InitProducerIdResponse::decode(&mut Bytes::from(answer[4..].to_vec()), 1).expect("decode");
    (r.error_code, r.producer_id.0, r.producer_epoch)
}

#[test]
fn an_idempotent_batch_sent_twice_is_stored_once_and_a_gap_is_refused() {
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    let (error, producer, epoch) = init_producer_id(&mut raw, 1, None);
    assert_eq!((error, epoch), (code::NONE, 0));
    let first = idempotent_batch(producer, epoch, 0, &[b"a", b"b"]);
    assert_eq!(raw_produce(&mut raw, 2, &produce_request("idem", 0, first.clone(), 1)), (code::NONE, 0));
    // The retry: same producer, same sequence. Acknowledged with its first offset, not written.
    assert_eq!(raw_produce(&mut raw, 3, &produce_request("idem", 0, first, 1)), (code::NONE, 0));
    let gap = idempotent_batch(producer, epoch, 5, &[b"skipped ahead"]);
    assert_eq!(
        raw_produce(&mut raw, 4, &produce_request("idem", 0, gap, 1)).0,
        code::OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    let next = idempotent_batch(producer, epoch, 2, &[b"c"]);
    assert_eq!(raw_produce(&mut raw, 5, &produce_request("idem", 0, next, 1)), (code::NONE, 2));
    assert_eq!(broker.payloads("idem"), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    // A second producer gets another id; transactions are refused with a Kafka error.
    let (_, other, _) = init_producer_id(&mut raw, 6, None);
    assert_ne!(other, producer);
    let (error, ..) = init_producer_id(&mut raw, 7, Some("txn"));
    assert_eq!(error, code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    let stranger = idempotent_batch(other + 1_000_000, 0, 0, &[b"x"]);
    assert_eq!(
        raw_produce(&mut raw, 8, &produce_request("idem", 0, stranger, 1)).0,
        code::UNKNOWN_PRODUCER_ID
    );
    assert_eq!(broker.payloads("idem").len(), 3);
}

/// A Kafka connection the broker closed is not used again, as a native one is not: the request
/// that found it closed fails, and every later one fails at once, unsent.
#[test]
fn a_failed_kafka_connection_sends_nothing_more() {
    let mut broker = Embedded::start();
    let mut kafka = KafkaClient::connect(&broker.kafka()).expect("connect");
    kafka.produce("f", &[b"x".as_slice()]).expect("produce");
    broker.handle.take().expect("running").shutdown();
    let gone = kafka.produce("f", &[b"y".as_slice()]).expect_err("the broker has stopped");
    assert!(kafka.failed().is_some(), "the connection is failed after: {gone}");
    let began = Instant::now();
    match kafka.produce("f", &[b"z".as_slice()]) {
        Err(synclog::kafka::KafkaError::Broken { why }) => assert!(!why.is_empty()),
        other => panic!("{other:?}"),
    }
    assert!(began.elapsed() < Duration::from_secs(1), "no wait on a failed connection");
}
