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
    assert_eq!(error, DecodeError::without_header(ProtocolError::FrameTooLarge { size: u32::MAX, max: MAX }));
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
    assert!(matches!(&error.error, ProtocolError::Malformed(text) if text.contains("count")), "{error:?}");
    assert_eq!(error.correlation_id, Some(80));
    assert_eq!(error.frame_bytes, Some(bytes.len()));
}

/// A Produce body to topic "t" with `count` empty messages.
fn empty_messages_body(count: u32) -> Vec<u8> {
    let mut body = vec![0, 1, b't'];
    body.extend_from_slice(&count.to_be_bytes());
    body.resize(body.len() + 4 * count as usize, 0);
    body
}

#[test]
fn a_produce_at_the_message_limit_decodes_and_one_past_it_is_malformed() {
    let at = raw_request(Api::Produce.as_u8(), 0, 86, &empty_messages_body(MAX_PRODUCE_MESSAGES as u32));
    let (frame, used) = RequestFrame::decode(&at, MAX).expect("at the limit");
    assert_eq!(used, at.len());
    assert!(
        matches!(&frame.request, Request::Produce { messages, .. } if messages.len() == MAX_PRODUCE_MESSAGES)
    );

    let past =
        raw_request(Api::Produce.as_u8(), 0, 87, &empty_messages_body(MAX_PRODUCE_MESSAGES as u32 + 1));
    let error = RequestFrame::decode(&past, MAX).expect_err("past the limit");
    assert!(
        matches!(&error.error, ProtocolError::Malformed(text) if text.contains("65536") && text.contains("limit")),
        "{error:?}"
    );
    assert_eq!(error.correlation_id, Some(87));
    assert_eq!(error.frame_bytes, Some(past.len()), "the frame is skipped whole");
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
    assert!(matches!(&error.error, ProtocolError::Malformed(text) if text.contains("trailing")), "{error:?}");
    assert_eq!(error.correlation_id, Some(84));
    assert_eq!(error.frame_bytes, Some(bytes.len()));
}

#[test]
fn a_topic_that_is_not_utf8_is_malformed() {
    let body = [0, 2, 0xC3, 0x28, 0, 0, 0, 0];
    let bytes = raw_request(Api::Produce.as_u8(), 0, 85, &body);
    let error = RequestFrame::decode(&bytes, MAX).expect_err("bad UTF-8");
    assert!(matches!(&error.error, ProtocolError::Malformed(text) if text.contains("UTF-8")), "{error:?}");
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
    assert_eq!(Response::decode(3, &bytes), Err(ProtocolError::UnsupportedVersion { api: 3, version: 0 }));
}

#[test]
fn a_response_decoded_as_the_wrong_api_is_malformed() {
    let bytes = encode_response(&Response {
        correlation_id: 1,
        body: ResponseBody::Produced { base_offset: 0, count: 1 },
    });
    assert!(matches!(Response::decode(Api::ListTopics.as_u8(), &bytes), Err(ProtocolError::Malformed(_))));
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

/// What `ProduceRef::decode` must agree with: the owned decode's Produce, as borrowed parts.
fn owned_produce(bytes: &[u8]) -> Option<(u32, String, Vec<Vec<u8>>)> {
    match RequestFrame::decode(bytes, MAX) {
        Ok((RequestFrame { correlation_id, request: Request::Produce { topic, messages } }, used))
            if used == bytes.len() =>
        {
            Some((correlation_id, topic, messages.iter().map(<[u8]>::to_vec).collect()))
        }
        _ => None,
    }
}

fn borrowed_produce(bytes: &[u8]) -> Option<(u32, String, Vec<Vec<u8>>)> {
    ProduceRef::decode(bytes, MAX)
        .map(|p| (p.correlation_id, p.topic.to_owned(), p.messages.iter().map(|m| m.to_vec()).collect()))
}

#[test]
fn a_produce_read_in_place_agrees_with_the_owned_decode_and_refuses_anything_else() {
    for frame in sample_requests() {
        let bytes = encode_request(frame.correlation_id, frame.request.clone());
        assert_eq!(borrowed_produce(&bytes), owned_produce(&bytes), "{frame:?}");
        assert_eq!(borrowed_produce(&bytes).is_some(), frame.request.api() == Api::Produce);
        // Only one whole frame: a frame with the next one's bytes behind it, or cut short, is not.
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        assert_eq!(ProduceRef::decode(&two, MAX), None);
        assert_eq!(ProduceRef::decode(&bytes[..bytes.len() - 1], MAX), None);
    }
    // A limit below the frame's length refuses it, as the owned decode does.
    let bytes = encode_request(7, sample_requests()[0].request.clone());
    assert_eq!(ProduceRef::decode(&bytes, bytes.len() as u32 - 5), None);
    assert!(ProduceRef::decode(&bytes, bytes.len() as u32 - 4).is_some());
    // One past the message limit is malformed for both.
    let over = raw_request(0, VERSION, 3, &empty_messages_body(MAX_PRODUCE_MESSAGES as u32 + 1));
    assert_eq!((borrowed_produce(&over), owned_produce(&over)), (None, None));
}

proptest! {
    /// Whatever bytes follow a valid header, the in-place read of a Produce accepts exactly what
    /// the owned decode accepts as a Produce, with the same parts.
    #[test]
    fn a_produce_read_in_place_accepts_exactly_the_owned_decodes_produce(
        api in 0u8..4,
        correlation_id: u32,
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let bytes = raw_request(api, VERSION, correlation_id, &body);
        prop_assert_eq!(borrowed_produce(&bytes), owned_produce(&bytes));
    }

    #[test]
    fn every_produce_frame_reads_in_place_as_it_decodes(correlation_id: u32, request in arb_request()) {
        let bytes = encode_request(correlation_id, request);
        prop_assert_eq!(borrowed_produce(&bytes), owned_produce(&bytes));
    }

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
