//! The self-checking payload every harness producer sends.
//!
//! Each message the load generator produces names its own origin and proves its own integrity,
//! so the checker can tell, from the bytes alone, which value it is looking at and whether those
//! bytes are the ones the producer wrote. A value is identified by `(producer_id, seq)`: producer
//! `p` sends `seq = 0, 1, 2, …`, and no two messages of a run share an identity.
//!
//! | bytes          | field (all integers big-endian)                         |
//! |----------------|---------------------------------------------------------|
//! | 0..4           | producer_id: u32                                        |
//! | 4..12          | seq: u64                                                |
//! | 12..16         | body_len `n`: u32, always `message_bytes − 20`          |
//! | 16..16+n       | body: `n` bytes, deterministic from (seed, producer, seq) |
//! | 16+n..20+n     | CRC-32C of bytes 0..16+n: u32                           |
//!
//! Invariants a decoder relies on:
//! - the total length is exactly `20 + body_len` (so `message_bytes ≥ 20`);
//! - the CRC covers every byte before it, so a flipped bit anywhere is a [`PayloadError::Checksum`];
//! - the body is a pure function of `(seed, producer, seq)`: a record whose CRC is right but whose
//!   body differs from the recomputed one was built by someone else (another run's seed, a bug
//!   that copies headers) and is a [`PayloadError::BodyMismatch`].
//!
//! The body is a SplitMix64 stream (Steele, Lea and Flood's generator, as in `java.util`'s
//! `SplittableRandom`) seeded by mixing the run seed with the producer and the sequence number.
//! Each step yields 8 bytes, written big-endian; a body whose length is not a multiple of 8 ends
//! with the first bytes of one more step. Encoding runs millions of times a second, so it
//! appends to the caller's buffer without allocating and fills the body a word at a time.

use thiserror::Error;

/// Bytes of a payload that are not body: producer (4), seq (8), body length (4), CRC (4).
pub const PAYLOAD_OVERHEAD_BYTES: usize = 20;

/// Byte position of the body length field.
const BODY_LEN_AT: usize = 12;
/// Byte position of the first body byte.
const BODY_AT: usize = 16;

/// The identity of one message of a run: who sent it and its place in that producer's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId {
    pub producer: u32,
    pub seq: u64,
}

/// Why a payload is not one the harness sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PayloadError {
    /// Too short for the fixed fields, or the body length field disagrees with the length.
    #[error("malformed payload of {length_bytes} bytes: {reason}")]
    Malformed { length_bytes: usize, reason: &'static str },
    /// The producer's CRC-32C over the payload does not match the one stored in it.
    #[error("payload checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum { stored: u32, computed: u32 },
    /// The CRC holds, but the body is not the one (seed, producer, seq) generate.
    #[error("payload of producer {producer} seq {seq} has a body this run never generated")]
    BodyMismatch { producer: u32, seq: u64 },
}

/// SplitMix64's increment (2^64 divided by the golden ratio, made odd).
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijective 64-bit mixer.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The body generator of one value. Its state is the SplitMix64 counter.
struct BodyStream {
    state: u64,
}

impl BodyStream {
    fn new(seed: u64, producer: u32, seq: u64) -> Self {
        // Mix each coordinate through the bijective mixer before combining, so that nearby
        // (producer, seq) pairs start far apart and (p, s) and (s, p) do not collide trivially.
        let state = mix64(seed ^ mix64(u64::from(producer).wrapping_add(GOLDEN_GAMMA)))
            ^ mix64(seq.wrapping_mul(GOLDEN_GAMMA).wrapping_add(1));
        BodyStream { state }
    }

    /// The next 8 body bytes, as a big-endian word.
    fn next_word(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }

    /// Fills `body` with the stream, 8 bytes at a time.
    fn fill(&mut self, body: &mut [u8]) {
        let mut chunks = body.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_word().to_be_bytes());
        }
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            let word = self.next_word().to_be_bytes();
            tail.copy_from_slice(&word[..tail.len()]);
        }
    }

    /// Whether `body` is exactly what [`fill`](Self::fill) would write, compared a word at a time.
    fn matches(&mut self, body: &[u8]) -> bool {
        let mut chunks = body.chunks_exact(8);
        for chunk in &mut chunks {
            if chunk != self.next_word().to_be_bytes() {
                return false;
            }
        }
        let tail = chunks.remainder();
        tail.is_empty() || tail == &self.next_word().to_be_bytes()[..tail.len()]
    }
}

/// The size of value `(producer, seq)` in a run of sizes `min..=max` (`--message-bytes
/// MIN..MAX`): uniform over the range, decided by the seed alone, so the checker and `verify`
/// recompute it. `min` when `max <= min`.
pub fn message_size(seed: u64, producer: u32, seq: u64, min: usize, max: usize) -> usize {
    if max <= min {
        return min;
    }
    // splitmix64 of the value's identity: cheap, and every bit of the input moves the output.
    let mut z = seed ^ (u64::from(producer) << 40) ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let span = (max - min) as u64 + 1;
    min + (z % span) as usize
}

/// Appends the payload of value `(producer, seq)` to `out`: exactly `message_bytes` bytes.
///
/// No allocation happens beyond growing `out` (reuse one buffer per producer and it never
/// does after the first call).
///
/// # Panics
/// If `message_bytes` is below [`PAYLOAD_OVERHEAD_BYTES`] or the body would not fit a `u32`
/// (the CLI rejects both before any message is made).
pub fn encode_payload(seed: u64, producer: u32, seq: u64, message_bytes: usize, out: &mut Vec<u8>) {
    assert!(
        message_bytes >= PAYLOAD_OVERHEAD_BYTES,
        "a payload needs at least {PAYLOAD_OVERHEAD_BYTES} bytes, got {message_bytes}"
    );
    let body_len = message_bytes - PAYLOAD_OVERHEAD_BYTES;
    let body_len_u32 =
        u32::try_from(body_len).unwrap_or_else(|_| panic!("body of {body_len} bytes exceeds u32"));
    let start = out.len();
    // One resize, then every field is written in place: no temporary buffers.
    out.resize(start + message_bytes, 0);
    let payload = &mut out[start..];
    payload[0..4].copy_from_slice(&producer.to_be_bytes());
    payload[4..12].copy_from_slice(&seq.to_be_bytes());
    payload[BODY_LEN_AT..BODY_AT].copy_from_slice(&body_len_u32.to_be_bytes());
    let crc_at = BODY_AT + body_len;
    BodyStream::new(seed, producer, seq).fill(&mut payload[BODY_AT..crc_at]);
    let crc = crc32c::crc32c(&payload[..crc_at]);
    payload[crc_at..].copy_from_slice(&crc.to_be_bytes());
}

/// Reads a payload back: which value it is, or why it is not one this run (`seed`) sent.
///
/// Checks, in order: length and body length (Malformed), the CRC (Checksum), the body
/// (BodyMismatch). Never panics, whatever the bytes.
pub fn decode_payload(seed: u64, bytes: &[u8]) -> Result<ValueId, PayloadError> {
    let length_bytes = bytes.len();
    if length_bytes < PAYLOAD_OVERHEAD_BYTES {
        return Err(PayloadError::Malformed {
            length_bytes,
            reason: "shorter than the 20 bytes of fixed fields",
        });
    }
    let body_len = be_u32(&bytes[BODY_LEN_AT..BODY_AT]) as usize;
    if body_len != length_bytes - PAYLOAD_OVERHEAD_BYTES {
        return Err(PayloadError::Malformed {
            length_bytes,
            reason: "body length field disagrees with the payload length",
        });
    }
    let crc_at = BODY_AT + body_len;
    let stored = be_u32(&bytes[crc_at..]);
    let computed = crc32c::crc32c(&bytes[..crc_at]);
    if stored != computed {
        return Err(PayloadError::Checksum { stored, computed });
    }
    let producer = be_u32(&bytes[0..4]);
    let seq = u64::from_be_bytes([
        bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11],
    ]);
    if !BodyStream::new(seed, producer, seq).matches(&bytes[BODY_AT..crc_at]) {
        return Err(PayloadError::BodyMismatch { producer, seq });
    }
    Ok(ValueId { producer, seq })
}

/// A big-endian u32 from the first four bytes of `b` (callers pass slices of length ≥ 4).
fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encoded(seed: u64, producer: u32, seq: u64, message_bytes: usize) -> Vec<u8> {
        let mut out = Vec::new();
        encode_payload(seed, producer, seq, message_bytes, &mut out);
        out
    }

    /// The body as docs/format.md spells it out, written from that text alone.
    #[test]
    fn the_body_is_the_stream_docs_format_md_spells_out() {
        fn mix(mut z: u64) -> u64 {
            z ^= z >> 30;
            z = z.wrapping_mul(0xBF58476D1CE4E5B9);
            z ^= z >> 27;
            z = z.wrapping_mul(0x94D049BB133111EB);
            z ^ (z >> 31)
        }
        let gamma: u64 = 0x9E3779B97F4A7C15;
        let cases: [(u64, u32, u64, usize); 3] = [(0, 0, 0, 100), (42, 7, 123_456, 37), (u64::MAX, 9, 1, 20)];
        for (seed, producer, seq, message_bytes) in cases {
            let mut state = mix(seed ^ mix(u64::from(producer).wrapping_add(gamma)))
                ^ mix(seq.wrapping_mul(gamma).wrapping_add(1));
            let mut body = Vec::new();
            while body.len() < message_bytes - 20 {
                state = state.wrapping_add(gamma);
                body.extend_from_slice(&mix(state).to_be_bytes());
            }
            body.truncate(message_bytes - 20);
            let payload = encoded(seed, producer, seq, message_bytes);
            assert_eq!(
                &payload[16..message_bytes - 4],
                &body[..],
                "seed {seed}, producer {producer}, seq {seq}"
            );
        }
    }

    #[test]
    fn payloads_round_trip_at_every_body_alignment() {
        for message_bytes in [20, 21, 27, 28, 29, 36, 100, 1000] {
            let bytes = encoded(7, 3, 12345, message_bytes);
            assert_eq!(bytes.len(), message_bytes);
            assert_eq!(decode_payload(7, &bytes), Ok(ValueId { producer: 3, seq: 12345 }));
        }
    }

    #[test]
    fn encode_appends_and_fields_sit_where_the_table_says() {
        let mut out = vec![0xAA; 3];
        encode_payload(1, 0x0102_0304, 0x05, 30, &mut out);
        assert_eq!(out.len(), 33);
        assert_eq!(&out[..3], &[0xAA; 3]);
        let p = &out[3..];
        assert_eq!(&p[0..4], &[1, 2, 3, 4]);
        assert_eq!(&p[4..12], &[0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&p[12..16], &[0, 0, 0, 10]);
        assert_eq!(u32::from_be_bytes([p[26], p[27], p[28], p[29]]), crc32c::crc32c(&p[..26]));
    }

    #[test]
    fn bodies_differ_between_values_and_seeds() {
        let a = encoded(1, 0, 0, 100);
        let b = encoded(1, 0, 1, 100);
        let c = encoded(1, 1, 0, 100);
        let d = encoded(2, 0, 0, 100);
        assert_ne!(a[16..96], b[16..96]);
        assert_ne!(a[16..96], c[16..96]);
        assert_ne!(a[16..96], d[16..96]);
        assert_eq!(a, encoded(1, 0, 0, 100), "deterministic");
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = encoded(9, 2, 77, 64);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            let err = decode_payload(9, &bad).unwrap_err();
            if (BODY_LEN_AT..BODY_AT).contains(&i) {
                assert!(matches!(err, PayloadError::Malformed { .. }), "byte {i}: {err:?}");
            } else {
                assert!(matches!(err, PayloadError::Checksum { .. }), "byte {i}: {err:?}");
            }
        }
    }

    #[test]
    fn a_wrong_body_with_a_recomputed_crc_is_a_body_mismatch() {
        let mut bad = encoded(9, 2, 77, 64);
        bad[20] ^= 1;
        let crc = crc32c::crc32c(&bad[..60]);
        bad[60..].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(decode_payload(9, &bad), Err(PayloadError::BodyMismatch { producer: 2, seq: 77 }));
        // Another run's payload (other seed) is well-formed but not ours either.
        let other_run = encoded(10, 2, 77, 64);
        assert_eq!(decode_payload(9, &other_run), Err(PayloadError::BodyMismatch { producer: 2, seq: 77 }));
    }

    #[test]
    fn short_and_inconsistent_lengths_are_malformed() {
        assert!(matches!(decode_payload(0, &[]), Err(PayloadError::Malformed { length_bytes: 0, .. })));
        assert!(matches!(decode_payload(0, &[0; 19]), Err(PayloadError::Malformed { .. })));
        let mut longer = encoded(0, 0, 0, 40);
        longer.push(0);
        assert!(matches!(decode_payload(0, &longer), Err(PayloadError::Malformed { length_bytes: 41, .. })));
        let shorter = &encoded(0, 0, 0, 40)[..39];
        assert!(matches!(decode_payload(0, shorter), Err(PayloadError::Malformed { .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200), seed: u64) {
            let _ = decode_payload(seed, &bytes);
        }

        #[test]
        fn decode_never_panics_on_damaged_payloads(
            seed: u64, producer: u32, seq: u64, body in 0usize..80, at: usize, xor in 1u8..,
            cut in 0usize..100,
        ) {
            let mut bytes = encoded(seed, producer, seq, 20 + body);
            let i = at % bytes.len();
            bytes[i] ^= xor;
            prop_assert!(decode_payload(seed, &bytes).is_err());
            let keep = cut.min(bytes.len());
            let _ = decode_payload(seed, &bytes[..keep]);
        }

        #[test]
        fn any_value_round_trips(seed: u64, producer: u32, seq: u64, body in 0usize..300) {
            let bytes = encoded(seed, producer, seq, 20 + body);
            prop_assert_eq!(decode_payload(seed, &bytes), Ok(ValueId { producer, seq }));
        }
    }

    #[test]
    fn message_sizes_cover_the_range_and_are_recomputable() {
        let sizes: Vec<usize> = (0..2000).map(|seq| message_size(9, 1, seq, 60, 140)).collect();
        assert!(sizes.iter().all(|s| (60..=140).contains(s)));
        assert_eq!(sizes.iter().min(), Some(&60), "the smallest size is drawn");
        assert_eq!(sizes.iter().max(), Some(&140), "the largest size is drawn");
        assert_eq!(message_size(9, 1, 17, 60, 140), sizes[17], "the same value, the same size");
        assert_ne!(
            (0..50).map(|q| message_size(9, 1, q, 60, 140)).collect::<Vec<_>>(),
            (0..50).map(|q| message_size(10, 1, q, 60, 140)).collect::<Vec<_>>(),
            "another seed, other sizes"
        );
        assert_eq!(message_size(9, 1, 17, 100, 100), 100);
    }
}
