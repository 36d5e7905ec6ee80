//! A record is one message as stored in a topic's `log.dat`:
//!
//! | bytes    | field (all integers big-endian)                       |
//! |----------|-------------------------------------------------------|
//! | 0..8     | offset: u64                                           |
//! | 8..12    | payload length `n`: u32                               |
//! | 12..16   | CRC-32C over bytes 0..12 followed by the payload: u32 |
//! | 16..16+n | payload                                               |
//!
//! Records follow each other with no padding, so the byte position of a record is the sum of
//! the sizes of all records before it. The CRC covers the offset and the length as well as the
//! payload: a record copied to the wrong place, or a header torn by a concurrent write, fails
//! its check just as a flipped payload byte does. That is what makes corruption *countable*.
//!
//! Encoding happens in two steps so that as little work as possible runs inside the log's write
//! section: [`RecordBatch::push`] copies payloads into place *before* the offset is known, and
//! CRCs each record as if its offset were 0; [`RecordBatch::assign_offsets`] then fills in the
//! offsets and corrects each CRC for its offset, in constant time whatever the payload's size.
//!
//! The correction rests on CRC being linear over GF(2): two messages of equal length that
//! differ only in their first 8 bytes (the offset) have CRCs that differ by the CRC-register
//! contribution of those 8 bytes, `L(o)` (a CRC of 8 bytes), carried past the `4 + n` bytes
//! that follow, which is a multiplication by `x^(8(4+n))` modulo the CRC-32C polynomial. So
//! `push` computes, outside the lock, the zero-offset CRC and that power of `x` (kept from the
//! previous record when the length repeats, as it does in a batch of equal messages), and the
//! write section does one 8-byte CRC and one 32-bit carry-less multiply per record. (The
//! crate's `crc32c_combine` builds its operator from scratch on every call, microseconds per
//! record, which is why it is not used.) The correction is linear in the offset's bits, so
//! once a length repeats, the batch keeps it as eight 256-entry tables, one per offset byte,
//! and correcting a record becomes eight lookups ([`OffsetCorrection`]); a batch reused by the
//! same thread (the log keeps one per thread) keeps its table, so a producer of equal
//! messages builds it once.

use crc32c::{crc32c, crc32c_append};

/// Bytes in a record header: offset (8) + length (4) + CRC (4).
pub const HEADER_BYTES: usize = 16;

/// The most memory, in bytes, [`RecordBatch::clear_and_shrink`] lets a batch keep for reuse:
/// room for coalesced runs of thousands of ordinary messages, so those never reallocate, while
/// a batch grown by an unusually large append gives its memory back.
pub const RETAINED_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// The decoded header of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// The offset the record claims.
    pub offset: u64,
    /// The payload length in bytes.
    pub payload_bytes: u32,
    /// The stored CRC-32C over the first 12 header bytes and the payload.
    pub crc: u32,
}

impl RecordHeader {
    /// Reads a header from the first [`HEADER_BYTES`] of `bytes`; `None` if there are fewer.
    pub fn parse(bytes: &[u8]) -> Option<RecordHeader> {
        let h: &[u8; HEADER_BYTES] = bytes.get(..HEADER_BYTES)?.try_into().ok()?;
        Some(RecordHeader {
            offset: u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]),
            payload_bytes: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            crc: u32::from_be_bytes([h[12], h[13], h[14], h[15]]),
        })
    }

    /// The record's whole size on disk, header included.
    pub fn record_bytes(&self) -> u64 {
        HEADER_BYTES as u64 + u64::from(self.payload_bytes)
    }

    /// Does the stored CRC match the first 12 bytes of `record` followed by `payload`?
    pub fn crc_matches(&self, record: &[u8], payload: &[u8]) -> bool {
        match record.get(..12) {
            Some(first12) => crc32c_append(crc32c(first12), payload) == self.crc,
            None => false,
        }
    }
}

/// Checks a whole record held in `bytes` (header then payload, possibly more bytes after it).
/// Returns the header when the length fits in `bytes`, is at most `max_payload_bytes`, and the
/// CRC matches.
pub fn check_record(bytes: &[u8], max_payload_bytes: u32) -> Option<RecordHeader> {
    let header = RecordHeader::parse(bytes)?;
    if header.payload_bytes > max_payload_bytes {
        return None;
    }
    let end = usize::try_from(header.record_bytes()).ok()?;
    let payload = bytes.get(HEADER_BYTES..end)?;
    header.crc_matches(bytes, payload).then_some(header)
}

/// Encodes one whole record (used by tests and tools; the log uses [`RecordBatch`]).
pub fn encode_record(offset: u64, payload: &[u8], out: &mut Vec<u8>) {
    let mut batch = RecordBatch::default();
    batch.push(payload);
    batch.assign_offsets(offset);
    out.extend_from_slice(batch.bytes());
}

/// One or more records, encoded back to back, waiting for their offsets.
///
/// Invariant: `bytes` holds `starts.len()` records; record `i` begins at `starts[i]`, and
/// `partial[i]` holds its CRC computed with offset 0 and the factor that carries an offset's
/// contribution past the rest of the record. Until `assign_offsets` runs, the offset and CRC
/// fields are zero.
#[derive(Debug, Default, Clone)]
pub struct RecordBatch {
    bytes: Vec<u8>,
    starts: Vec<usize>,
    /// (CRC with offset 0, `x^(8(4+n))` mod the polynomial) per record.
    partial: Vec<(u32, u32)>,
    /// For the last record pushed: its payload length, the CRC of its header with offset 0 and
    /// its factor, all three fixed by the length. Kept across [`clear`], so a reused batch (the
    /// log keeps one per thread) computes them once per length.
    ///
    /// [`clear`]: RecordBatch::clear
    last_length: Option<LengthConstants>,
    /// The offset correction as a table, built the second time a length is seen in a row.
    correction: Option<Box<OffsetCorrection>>,
}

/// What a record's length alone decides: the CRC of its first 12 bytes with offset 0, and
/// the factor `x^(8(4+n))`.
#[derive(Debug, Clone, Copy)]
struct LengthConstants {
    payload_len: usize,
    header_crc: u32,
    factor: u32,
}

/// The CRC correction for an offset, for records of one length, as eight 256-entry tables.
///
/// The correction, `L(o) · x^(8(4+n))`, is linear over GF(2) in the 64 bits of the offset `o`
/// (`L` is a CRC register run from zero, the multiply is by a constant), so it is the XOR of
/// the corrections of the offset's eight bytes taken alone: eight lookups per record instead
/// of an 8-byte CRC and a 32-step multiply. Building it takes 64 of those slow corrections and
/// 2 040 XORs, done once per thread and length.
#[derive(Debug, Clone)]
struct OffsetCorrection {
    factor: u32,
    /// `table[k][b]`: the correction of an offset whose big-endian byte `k` is `b`, others 0.
    table: [[u32; 256]; 8],
}

impl OffsetCorrection {
    fn new(factor: u32) -> OffsetCorrection {
        let mut table = [[0u32; 256]; 8];
        for (k, row) in table.iter_mut().enumerate() {
            let basis: [u32; 8] = std::array::from_fn(|bit| {
                let mut offset = [0u8; 8];
                offset[k] = 1 << bit;
                slow_correction(offset, factor)
            });
            for b in 1..256usize {
                row[b] = row[b & (b - 1)] ^ basis[b.trailing_zeros() as usize];
            }
        }
        OffsetCorrection { factor, table }
    }

    fn correction(&self, offset: [u8; 8]) -> u32 {
        offset.iter().zip(&self.table).fold(0, |acc, (&b, row)| acc ^ row[usize::from(b)])
    }
}

/// The register contribution of the 8 offset bytes alone (zero initial state, no final
/// inversion), carried past the `4 + n` bytes that follow them by multiplying with `factor`.
fn slow_correction(offset: [u8; 8], factor: u32) -> u32 {
    gf_mul(!crc32c_append(!0, &offset), factor)
}

/// The CRC-32C polynomial, bit-reflected (bit 31 is the coefficient of `x^0`).
const POLY: u32 = 0x82F6_3B78;

/// `a · b` modulo the CRC-32C polynomial, both bit-reflected. Branch-free shift and add.
fn gf_mul(mut a: u32, mut b: u32) -> u32 {
    let mut product = 0u32;
    for _ in 0..32 {
        product ^= a & ((b as i32) >> 31) as u32;
        b <<= 1;
        a = (a >> 1) ^ (POLY & (a & 1).wrapping_neg());
    }
    product
}

/// `x^(8 · bytes)` modulo the polynomial: what carries a CRC register past `bytes` zero bytes.
fn shift_factor(bytes: u64) -> u32 {
    let (mut result, mut square, mut e) = (1u32 << 31, 1u32 << 23, bytes); // 1 and x^8
    while e > 0 {
        if e & 1 == 1 {
            result = gf_mul(result, square);
        }
        square = gf_mul(square, square);
        e >>= 1;
    }
    result
}

impl RecordBatch {
    /// An empty batch with room for `records` records of `payload_bytes` each.
    pub fn with_capacity(records: usize, payload_bytes: usize) -> Self {
        RecordBatch {
            bytes: Vec::with_capacity(records * (HEADER_BYTES + payload_bytes)),
            starts: Vec::with_capacity(records),
            partial: Vec::with_capacity(records),
            ..RecordBatch::default()
        }
    }

    /// Appends a record for `payload` with its offset still unknown. The length must fit in a
    /// u32; the log checks its maximum message size before calling this.
    pub fn push(&mut self, payload: &[u8]) {
        let start = self.bytes.len();
        self.starts.push(start);
        self.bytes.extend_from_slice(&[0u8; 8]);
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(&len.to_be_bytes());
        self.bytes.extend_from_slice(&[0u8; 4]);
        self.bytes.extend_from_slice(payload);
        let LengthConstants { header_crc, factor, .. } = self.constants_for(payload.len());
        self.partial.push((crc32c_append(header_crc, payload), factor));
    }

    /// Pushes every payload in order (see [`push`](RecordBatch::push)), after reserving room
    /// for all of them at once.
    pub fn push_all<P: AsRef<[u8]>>(&mut self, payloads: &[P]) {
        let bytes =
            payloads.iter().fold(0usize, |sum, p| sum.saturating_add(HEADER_BYTES + p.as_ref().len()));
        // Only a hint: should it fail, the pushes below grow the buffers as they go.
        let _ = self.bytes.try_reserve(bytes);
        let _ = self.starts.try_reserve(payloads.len());
        let _ = self.partial.try_reserve(payloads.len());
        for p in payloads {
            self.push(p.as_ref());
        }
    }

    /// The last record's constants are reused when the length repeats (as in a batch of equal
    /// messages, or a reused batch of one), and on the first repeat the correction table for
    /// the length is built.
    fn constants_for(&mut self, payload_len: usize) -> LengthConstants {
        match self.last_length {
            Some(c) if c.payload_len == payload_len => {
                if self.correction.as_ref().is_none_or(|t| t.factor != c.factor) {
                    self.correction = Some(Box::new(OffsetCorrection::new(c.factor)));
                }
                c
            }
            _ => {
                let mut header = [0u8; 12];
                header[8..].copy_from_slice(&u32::try_from(payload_len).unwrap_or(u32::MAX).to_be_bytes());
                let c = LengthConstants {
                    payload_len,
                    header_crc: crc32c(&header),
                    factor: shift_factor(4 + payload_len as u64),
                };
                self.last_length = Some(c);
                c
            }
        }
    }

    /// Writes offsets `base_offset`, `base_offset + 1`, … into the headers and completes each
    /// record's CRC. This is the only part of encoding that must wait for the offset: per
    /// record, eight table lookups once its length repeated, else an 8-byte CRC and one
    /// multiply (module docs), whatever the payload's size.
    pub fn assign_offsets(&mut self, base_offset: u64) {
        for (i, (&start, &(zero_offset_crc, factor))) in self.starts.iter().zip(&self.partial).enumerate() {
            let offset = (base_offset + i as u64).to_be_bytes();
            let correction = match &self.correction {
                Some(table) if table.factor == factor => table.correction(offset),
                _ => slow_correction(offset, factor),
            };
            let crc = zero_offset_crc ^ correction;
            let record = &mut self.bytes[start..];
            record[0..8].copy_from_slice(&offset);
            record[12..16].copy_from_slice(&crc.to_be_bytes());
        }
    }

    /// The encoded records.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// `true` when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Byte position of record `i` inside the batch.
    pub fn start_of(&self, i: usize) -> usize {
        self.starts[i]
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.starts.clear();
        self.partial.clear();
    }

    /// Empties the batch, keeping its allocations only while together they take at most
    /// [`RETAINED_BATCH_BYTES`]; larger ones are given back. For a batch kept between appends
    /// (the log keeps one per thread), so that one large append does not leave its thread
    /// holding that much memory while it waits for the next.
    pub fn clear_and_shrink(&mut self) {
        self.clear();
        if self.capacity_bytes() > RETAINED_BATCH_BYTES {
            self.bytes = Vec::new();
            self.starts = Vec::new();
            self.partial = Vec::new();
        }
    }

    /// The memory the batch's buffers hold, in bytes, used or not.
    pub fn capacity_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.starts.capacity() * std::mem::size_of::<usize>()
            + self.partial.capacity() * std::mem::size_of::<(u32, u32)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_record_has_the_documented_layout() {
        let mut out = Vec::new();
        encode_record(0x0102_0304_0506_0708, b"hello", &mut out);
        assert_eq!(out.len(), HEADER_BYTES + 5);
        assert_eq!(&out[0..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&out[8..12], &[0, 0, 0, 5]);
        let crc = crc32c_append(crc32c(&out[0..12]), b"hello");
        assert_eq!(&out[12..16], &crc.to_be_bytes());
        assert_eq!(&out[16..], b"hello");
        let h = check_record(&out, 100).expect("valid");
        assert_eq!(h.offset, 0x0102_0304_0506_0708);
        assert_eq!(h.payload_bytes, 5);
    }

    #[test]
    fn batch_crcs_equal_direct_crcs_for_many_sizes() {
        for n in [0usize, 1, 7, 8, 9, 63, 64, 100, 1000, 4097] {
            let payload: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            let mut batch = RecordBatch::default();
            batch.push(&payload);
            batch.push(b"x");
            batch.assign_offsets(41);
            let b = batch.bytes();
            assert!(check_record(b, 10_000).is_some(), "size {n}");
            let second = &b[batch.start_of(1)..];
            assert_eq!(check_record(second, 10).map(|h| h.offset), Some(42));
        }
    }

    #[test]
    fn offset_corrected_crcs_equal_direct_crcs_at_any_offset_and_on_reassignment() {
        let offsets = [0u64, 1, 255, 256, 0x0102_0304_0506_0708, u64::MAX - 8];
        let sizes = [0usize, 1, 5, 100, 100, 100, 3, 4097];
        let mut batch = RecordBatch::default();
        for &n in &sizes {
            batch.push(&vec![0xA5u8 ^ n as u8; n]);
        }
        for base in offsets {
            batch.assign_offsets(base);
            for (i, &n) in sizes.iter().enumerate() {
                let record = &batch.bytes()[batch.start_of(i)..batch.start_of(i) + HEADER_BYTES + n];
                let mut direct = Vec::new();
                encode_record_directly(base + i as u64, &record[HEADER_BYTES..], &mut direct);
                assert_eq!(record, direct.as_slice(), "base {base}, record {i} ({n} bytes)");
            }
        }
    }

    /// The record format written out by hand, hashing the whole record: the reference.
    fn encode_record_directly(offset: u64, payload: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        let crc = crc32c_append(crc32c(&out[out.len() - 12..]), payload);
        out.extend_from_slice(&crc.to_be_bytes());
        out.extend_from_slice(payload);
    }

    #[test]
    fn the_correction_table_equals_the_slow_correction_for_every_byte_of_the_offset() {
        for n in [0u64, 100, 4097] {
            let factor = shift_factor(4 + n);
            let table = OffsetCorrection::new(factor);
            let mut offset = 0x9E37_79B9_7F4A_7C15u64;
            for _ in 0..1000 {
                offset = offset.rotate_left(7) ^ offset.wrapping_mul(0x2545_F491_4F6C_DD1D);
                let bytes = offset.to_be_bytes();
                assert_eq!(
                    table.correction(bytes),
                    slow_correction(bytes, factor),
                    "{n} bytes at {offset:#x}"
                );
            }
        }
    }

    #[test]
    fn a_reused_batch_of_one_stays_correct_when_the_length_changes() {
        let mut batch = RecordBatch::default();
        for (i, n) in [100usize, 100, 100, 7, 7, 100, 0, 0].into_iter().enumerate() {
            batch.clear();
            batch.push(&vec![i as u8; n]);
            batch.assign_offsets(1000 + i as u64);
            let mut direct = Vec::new();
            encode_record_directly(1000 + i as u64, &vec![i as u8; n], &mut direct);
            assert_eq!(batch.bytes(), direct.as_slice(), "append {i} ({n} bytes)");
        }
        assert!(batch.correction.is_some(), "a repeated length builds the table");
    }

    #[test]
    fn push_all_encodes_as_pushing_one_by_one() {
        let payloads: [&[u8]; 4] = [b"a", b"", b"ccc", b"a"];
        let (mut all, mut one_by_one) = (RecordBatch::default(), RecordBatch::default());
        all.push_all(&payloads);
        for p in payloads {
            one_by_one.push(p);
        }
        all.assign_offsets(77);
        one_by_one.assign_offsets(77);
        assert_eq!(all.bytes(), one_by_one.bytes());
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn clear_and_shrink_keeps_a_modest_batch_and_gives_back_a_large_one() {
        let mut batch = RecordBatch::default();
        // A coalesced run of ordinary messages: 10 000 of 100 bytes.
        batch.push_all(&vec![[5u8; 100]; 10_000]);
        let modest = batch.capacity_bytes();
        assert!(modest <= RETAINED_BATCH_BYTES, "{modest}");
        batch.clear_and_shrink();
        assert!(batch.is_empty() && batch.bytes().is_empty());
        assert_eq!(batch.capacity_bytes(), modest, "kept for reuse");

        // 300 000 empty messages: 16 bytes of header and 16 of bookkeeping each.
        batch.push_all(&[[0u8; 0]; 300_000]);
        assert!(batch.capacity_bytes() > RETAINED_BATCH_BYTES);
        batch.clear_and_shrink();
        assert!(batch.is_empty());
        assert_eq!(batch.capacity_bytes(), 0, "given back");
        // And still usable.
        batch.push(b"again");
        batch.assign_offsets(3);
        assert_eq!(check_record(batch.bytes(), 10).map(|h| h.offset), Some(3));
    }

    #[test]
    fn a_flipped_byte_anywhere_fails_the_check() {
        let mut out = Vec::new();
        encode_record(9, b"payload bytes", &mut out);
        for i in 0..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 0x40;
            assert!(check_record(&bad, 1 << 20).is_none(), "flip at byte {i} went unnoticed");
        }
    }

    #[test]
    fn short_or_oversized_records_fail() {
        let mut out = Vec::new();
        encode_record(1, b"abc", &mut out);
        assert!(check_record(&out[..out.len() - 1], 100).is_none());
        assert!(check_record(&out[..10], 100).is_none());
        assert!(check_record(&out, 2).is_none(), "length above the maximum");
        assert!(RecordHeader::parse(&out[..15]).is_none());
    }
}
