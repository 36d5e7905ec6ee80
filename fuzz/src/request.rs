//! `decode_request`: arbitrary bytes through `RequestFrame::decode` and `Response::decode`.
//!
//! What must hold for any input (docs/protocol.md, and the invariants in the module docs
//! of `synclog::protocol::frame`):
//!
//! 1. Neither decoder panics, and neither reserves memory out of proportion to the input (the
//!    fuzzer's `-rss_limit_mb` catches that).
//! 2. A frame that decodes used exactly `4 + length` bytes, no more than it was given, and
//!    re-encodes to exactly those bytes (encoding is canonical); decoding the re-encoded bytes
//!    gives the same frame, and any shorter prefix of them is `Incomplete`.
//! 3. A request frame that is rejected for anything but `Incomplete` or `FrameTooLarge` still
//!    says how many bytes it spans (all of them present) and, when its header was there, its
//!    correlation id, so the broker can answer it and skip exactly it. Decoding a pipelined
//!    stream that way always makes progress.
//! 4. `FrameTooLarge` is judged from the 4-byte prefix alone.

use synclog::protocol::{
    Api, ProtocolError, RequestFrame, Response, DEFAULT_MAX_FRAME_BYTES, LENGTH_PREFIX_BYTES,
    REQUEST_HEADER_BYTES,
};

/// A small frame limit, so that `FrameTooLarge` is reached by short inputs as well.
pub const SMALL_MAX_FRAME_BYTES: u32 = 64;

/// Runs every check on one input.
pub fn check_decode_request(data: &[u8]) {
    for max_frame_bytes in [DEFAULT_MAX_FRAME_BYTES, SMALL_MAX_FRAME_BYTES] {
        check_request_stream(data, max_frame_bytes);
    }
    // `Api::from_u8` knows 0..=2; 3 is the first unknown api.
    for api in 0..=3 {
        check_response(api, data);
    }
}

/// The length prefix of the frame at the start of `data`, if its 4 bytes are there.
fn length_prefix(data: &[u8]) -> Option<u32> {
    data.first_chunk::<LENGTH_PREFIX_BYTES>().map(|prefix| u32::from_be_bytes(*prefix))
}

/// Decodes `data` as the broker's connection would: frame after frame, skipping each rejected
/// one, until the buffer holds less than a frame or a frame is too large (the broker closes).
fn check_request_stream(data: &[u8], max_frame_bytes: u32) {
    let mut rest = data;
    loop {
        let used = match RequestFrame::decode(rest, max_frame_bytes) {
            Ok((frame, used)) => {
                check_decoded_request(rest, max_frame_bytes, &frame, used);
                used
            }
            Err(error) => {
                let prefix = length_prefix(rest);
                match error.error {
                    ProtocolError::Incomplete => {
                        if let (Some(prefix), Some(frame_bytes)) = (prefix, error.frame_bytes) {
                            assert_eq!(frame_bytes, prefix as usize + LENGTH_PREFIX_BYTES);
                            assert!(frame_bytes > rest.len(), "Incomplete although the frame is all there");
                            assert_eq!(error.correlation_id, correlation_id(rest, frame_bytes));
                        } else {
                            assert!(rest.len() < LENGTH_PREFIX_BYTES, "Incomplete with a length prefix");
                        }
                        return;
                    }
                    ProtocolError::FrameTooLarge { size, max } => {
                        assert_eq!((Some(size), max), (prefix, max_frame_bytes));
                        assert!(size > max, "FrameTooLarge for a length within the limit");
                        assert_eq!((error.frame_bytes, error.correlation_id), (None, None));
                        return;
                    }
                    ProtocolError::UnsupportedVersion { .. } | ProtocolError::Malformed(_) => {
                        let frame_bytes = error.frame_bytes.expect("a rejected frame says its size");
                        let prefix = prefix.expect("a rejected frame has a length prefix");
                        assert_eq!(frame_bytes, prefix as usize + LENGTH_PREFIX_BYTES);
                        assert!(frame_bytes <= rest.len(), "a frame was judged before it was whole");
                        let expected_id = correlation_id(rest, frame_bytes);
                        assert_eq!(error.correlation_id, expected_id, "the correlation id to answer with");
                        if let ProtocolError::UnsupportedVersion { api, version } = error.error {
                            assert_eq!([api, version], [rest[4], rest[5]]);
                            assert!(Api::from_u8(api).is_none() || version != 0);
                        }
                        frame_bytes
                    }
                    ProtocolError::FieldTooLong { .. } => panic!("the decoder reported an encoder error"),
                }
            }
        };
        assert!(used > 0, "a decoder step used no bytes");
        rest = &rest[used..];
    }
}

/// The correlation id a decode error should carry: bytes 6..10, when the frame is long enough
/// to hold a request header and those bytes are in the buffer.
fn correlation_id(data: &[u8], frame_bytes: usize) -> Option<u32> {
    let id = data.get(LENGTH_PREFIX_BYTES + 2..)?.first_chunk::<4>()?;
    (frame_bytes >= LENGTH_PREFIX_BYTES + REQUEST_HEADER_BYTES).then(|| u32::from_be_bytes(*id))
}

fn check_decoded_request(data: &[u8], max_frame_bytes: u32, frame: &RequestFrame, used: usize) {
    let prefix = length_prefix(data).expect("a decoded frame has a length prefix");
    assert!(prefix <= max_frame_bytes);
    assert_eq!(used, prefix as usize + LENGTH_PREFIX_BYTES, "bytes used = 4 + length");
    assert!(used <= data.len());
    assert_eq!(frame.request.api().as_u8(), data[LENGTH_PREFIX_BYTES]);

    let mut encoded = Vec::with_capacity(used);
    frame.encode(&mut encoded).expect("a decoded frame re-encodes");
    assert_eq!(encoded, &data[..used], "re-encoding gives the bytes decoded (canonical encoding)");
    let (again, used_again) = RequestFrame::decode(&encoded, max_frame_bytes).expect("decodes again");
    assert_eq!((&again, used_again), (frame, used));
    let cut = RequestFrame::decode(&encoded[..used - 1], max_frame_bytes).expect_err("cut frame");
    assert!(cut.is_incomplete(), "a frame missing its last byte is Incomplete, got {cut:?}");
}

fn check_response(api: u8, data: &[u8]) {
    match Response::decode(api, data) {
        Ok((response, used)) => {
            let prefix = length_prefix(data).expect("a decoded response has a length prefix");
            assert_eq!(used, prefix as usize + LENGTH_PREFIX_BYTES);
            assert!(used <= data.len());
            let mut encoded = Vec::with_capacity(used);
            response.encode(&mut encoded).expect("a decoded response re-encodes");
            assert_eq!(encoded, &data[..used], "re-encoding gives the bytes decoded (canonical encoding)");
            let (again, used_again) = Response::decode(api, &encoded).expect("decodes again");
            assert_eq!((&again, used_again), (&response, used));
            let cut = Response::decode(api, &encoded[..used - 1]).expect_err("cut response");
            assert_eq!(cut, ProtocolError::Incomplete);
        }
        Err(ProtocolError::Incomplete) => match length_prefix(data) {
            Some(prefix) => assert!(prefix as usize + LENGTH_PREFIX_BYTES > data.len()),
            None => assert!(data.len() < LENGTH_PREFIX_BYTES),
        },
        Err(ProtocolError::UnsupportedVersion { api: unknown, version }) => {
            assert_eq!((unknown, version), (api, 0));
            assert!(Api::from_u8(api).is_none(), "UnsupportedVersion for a known api");
        }
        Err(ProtocolError::Malformed(_)) => {
            let prefix = length_prefix(data).expect("a malformed response has a length prefix");
            assert!(prefix as usize + LENGTH_PREFIX_BYTES <= data.len(), "judged before it was whole");
        }
        Err(other) => panic!("Response::decode returned {other:?}, which it never should"),
    }
}
