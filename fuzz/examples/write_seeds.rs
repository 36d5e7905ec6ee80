//! Writes the committed seed corpus, `fuzz/corpus/<target>/<name>.bin`:
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example write_seeds
//! ```
//!
//! Seeds are built with synclog's own encoders (and, for `recover_log`, the input format of
//! `synclog_fuzz::image`), so they start the fuzzer at valid frames and valid logs instead of at
//! random bytes. Each is run through its target's checks before it is written.

use std::fs;
use std::path::Path;
use synclog::protocol::{
    encode_error_response, encode_records_response, ErrorCode, MessageSet, Request, RequestFrame, Response,
    ResponseBody,
};
use synclog::storage::record::encode_record;
use synclog::storage::IndexEntry;
use synclog_fuzz::image::{LogImage, Op, NO_AUTO_INDEX, SMALL_MAX};

fn request(correlation_id: u32, request: Request) -> Vec<u8> {
    let mut out = Vec::new();
    RequestFrame { correlation_id, request }.encode(&mut out).expect("a seed request encodes");
    out
}

/// A request frame from raw parts, for the ones the encoder refuses to write.
fn raw_request(api: u8, version: u8, correlation_id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = ((6 + body.len()) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&[api, version]);
    out.extend_from_slice(&correlation_id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn decode_request_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let produce = request(
        1,
        Request::Produce {
            topic: "orders".into(),
            messages: MessageSet::from(vec![b"first".to_vec(), Vec::new(), b"third message".to_vec()]),
        },
    );
    let fetch = request(
        2,
        Request::Fetch {
            topic: "orders".into(),
            offset: 100,
            max_messages: 10,
            max_bytes: 4096,
            max_wait_ms: 50,
        },
    );
    let list_topics = request(3, Request::ListTopics);
    let mut produced = Vec::new();
    Response { correlation_id: 1, body: ResponseBody::Produced { base_offset: 7, count: 3 } }
        .encode(&mut produced)
        .expect("encodes");
    let mut records = Vec::new();
    let batch: [(u64, &[u8]); 2] = [(100, b"first"), (101, b"")];
    encode_records_response(2, 102, batch, &mut records).expect("encodes");
    let mut topics = Vec::new();
    Response {
        correlation_id: 3,
        body: ResponseBody::Topics(vec![("orders".into(), 102), ("t.2".into(), 0)]),
    }
    .encode(&mut topics)
    .expect("encodes");
    let mut error = Vec::new();
    encode_error_response(4, ErrorCode::UnknownTopic, "unknown topic \"nope\"", &mut error);

    let mut pipelined = produce.clone();
    pipelined.extend_from_slice(&fetch);
    pipelined.extend_from_slice(&list_topics);
    // A Produce whose count (1000) is larger than the bytes that follow.
    let mut bad_count = vec![0, 1, b't'];
    bad_count.extend_from_slice(&1000u32.to_be_bytes());
    vec![
        ("produce", produce.clone()),
        ("fetch", fetch),
        ("list_topics", list_topics),
        ("pipelined", pipelined),
        ("truncated_produce", produce[..produce.len() - 3].to_vec()),
        ("unknown_api", raw_request(7, 0, 9, b"body")),
        ("unknown_version", raw_request(0, 1, 9, &[])),
        ("produce_count_too_large", raw_request(0, 0, 5, &bad_count)),
        ("frame_too_large", vec![0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 1]),
        ("response_produced", produced),
        ("response_records", records),
        ("response_topics", topics),
        ("response_error", error),
    ]
}

fn recover_log_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut log = Vec::new();
    for (offset, payload) in [(0, &b"zero"[..]), (1, b"one"), (2, b"two, a longer payload")] {
        encode_record(offset, payload, &mut log);
    }
    let index = IndexEntry { offset: 0, position: 0 }.to_bytes();
    vec![
        ("raw_valid_log_and_index", LogImage::raw_input(0, &log, &index)),
        ("raw_torn_log", LogImage::raw_input(0, &log[..log.len() - 9], &index)),
        ("raw_partial_index_entry", LogImage::raw_input(0, &log, &index[..7])),
        ("raw_empty", vec![0]),
        ("program_clean_250", LogImage::program_input(0, &[Op::Run { count: 250, payload_bytes: 8 }])),
        (
            "program_torn_tail",
            LogImage::program_input(
                0,
                &[Op::Run { count: 120, payload_bytes: 4 }, Op::Append(b"torn".to_vec()), Op::Truncate(5)],
            ),
        ),
        (
            "program_damage_before_last_index",
            LogImage::program_input(
                0,
                &[Op::Run { count: 150, payload_bytes: 4 }, Op::Flip { position: 40, mask: 0x10 }],
            ),
        ),
        (
            "program_bad_index",
            LogImage::program_input(
                NO_AUTO_INDEX,
                &[
                    Op::Run { count: 5, payload_bytes: 2 },
                    Op::IndexRecord { record: 2, shift: 3 },
                    Op::IndexEntry { offset: 100, position: 9_999 },
                    Op::IndexGarbage(vec![0xAB; 7]),
                ],
            ),
        ),
        (
            "program_small_max",
            LogImage::program_input(
                SMALL_MAX,
                &[
                    Op::Append(vec![b'a'; 40]),
                    Op::Append(vec![b'b'; 100]),
                    Op::Append(b"after an impossible length".to_vec()),
                ],
            ),
        ),
        (
            "program_offset_jumps",
            LogImage::program_input(
                0,
                &[
                    Op::Append(b"0".to_vec()),
                    Op::SetOffset(7),
                    Op::Append(b"gap".to_vec()),
                    Op::SetOffset(3),
                    Op::Append(b"regression".to_vec()),
                    Op::Garbage(b"no record".to_vec()),
                    Op::Run { count: 2, payload_bytes: 1 },
                ],
            ),
        ),
        (
            // Regression seed: offsets at the top of the u64 range overflowed verify and open.
            "program_offsets_near_u64_max",
            LogImage::program_input(
                0,
                &[
                    Op::Append(b"0".to_vec()),
                    Op::SetOffset(u64::MAX - 101),
                    Op::Run { count: 2, payload_bytes: 3 },
                    Op::SetOffset(u64::MAX),
                    Op::Append(b"max".to_vec()),
                    Op::Append(b"wrapped to 0".to_vec()),
                ],
            ),
        ),
        (
            "program_nested_record",
            LogImage::program_input(
                0,
                &[
                    Op::Append(b"outer".to_vec()),
                    Op::Nest(21),
                    Op::Garbage(vec![0; 3]),
                    Op::IndexRecord { record: 2, shift: 0 },
                ],
            ),
        ),
    ]
}

fn write(dir: &Path, seeds: Vec<(&'static str, Vec<u8>)>, check: fn(&[u8])) {
    fs::create_dir_all(dir).expect("create the corpus directory");
    for (name, bytes) in seeds {
        check(&bytes);
        let path = dir.join(format!("{name}.bin"));
        fs::write(&path, &bytes).expect("write a seed");
        println!("{:>6} bytes  {}", bytes.len(), path.display());
    }
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    write(
        &corpus.join("decode_request"),
        decode_request_seeds(),
        synclog_fuzz::request::check_decode_request,
    );
    write(&corpus.join("recover_log"), recover_log_seeds(), synclog_fuzz::recovery::check_recover_log);
}
