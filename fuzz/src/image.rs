//! A topic directory's two files (`log.dat`, `index.dat`) built from one fuzz input.
//!
//! Random bytes almost never hold a record whose CRC-32C matches, so a fuzzer fed raw files would
//! test little more than "the first header is bad". The input therefore has two modes, chosen by
//! the flags byte that opens it:
//!
//! | bytes | field                                                                     |
//! |-------|---------------------------------------------------------------------------|
//! | 0     | flags: bit 0 [`PROGRAM`], bit 1 [`SMALL_MAX`], bit 2 [`NO_AUTO_INDEX`]    |
//! | raw mode (bit 0 clear):                                                           |
//! | 1..3  | `log_bytes: u16` (big-endian): how many of the following bytes are the log |
//! | 3..   | `log.dat` (the first `log_bytes`, or all if fewer), then `index.dat`       |
//! | program mode (bit 0 set):                                                         |
//! | 1..   | a sequence of [`Op`]s, each an opcode byte and its operands                |
//!
//! A program writes valid records (with correct CRCs and consecutive offsets, and the index
//! entries a log would write for them), then damages them: garbage, torn tails, flipped bytes,
//! offsets that jump or reach `u64::MAX`, index entries that point anywhere, partial entries,
//! and records nested inside other records' payloads. An op whose operands are cut off by the
//! end of the input ends the program. The files are capped at [`MAX_LOG_BYTES`] and
//! [`MAX_INDEX_BYTES`] so that one input stays fast (verify's resynchronizing scan is quadratic
//! in the worst case).

use synclog::storage::record::encode_record;
use synclog::storage::{IndexEntry, DEFAULT_MAX_MESSAGE_BYTES, HEADER_BYTES, INDEX_INTERVAL};

/// Flag: the input after the flags byte is a program of [`Op`]s, not the raw files.
pub const PROGRAM: u8 = 0x01;
/// Flag: open and verify with `max_message_bytes` = [`SMALL_MAX_MESSAGE_BYTES`] instead of the
/// default 1 MiB, so that a header with an impossible length is easy to reach.
pub const SMALL_MAX: u8 = 0x02;
/// Flag (program mode): records do not get the index entries a log would write for them.
pub const NO_AUTO_INDEX: u8 = 0x04;

/// The maximum message size under [`SMALL_MAX`].
pub const SMALL_MAX_MESSAGE_BYTES: u32 = 64;
/// A program never grows the log past this.
pub const MAX_LOG_BYTES: usize = 16 * 1024;
/// A program never grows the index past this.
pub const MAX_INDEX_BYTES: usize = 4 * 1024;

/// The two files of a topic, and the maximum message size to open them with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogImage {
    /// The bytes of `log.dat`.
    pub log: Vec<u8>,
    /// The bytes of `index.dat`.
    pub index: Vec<u8>,
    /// `LogConfig::max_message_bytes` and verify's `max_message_bytes`.
    pub max_message_bytes: u32,
}

/// One step of a program. The opcode is the op's first byte modulo the number of ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// 0, `len: u8`, `len` bytes: a valid record with the next offset and this payload.
    Append(Vec<u8>),
    /// 1, `count: u8`, `payload_bytes: u8`: `count` valid records with consecutive offsets,
    /// each payload `payload_bytes` copies of its offset's low byte.
    Run { count: u8, payload_bytes: u8 },
    /// 2, `offset: u64`: the next record gets this offset (a gap, a regression, `u64::MAX`).
    SetOffset(u64),
    /// 3, `len: u8`, `len` bytes: bytes appended to the log that are no record.
    Garbage(Vec<u8>),
    /// 4, `n: u8`: cuts `n` bytes off the end of the log (a torn tail).
    Truncate(u8),
    /// 5, `position: u16`, `mask: u8`: XORs the log byte at `position % len` with `mask`
    /// (a mask of 0 means 0xFF, so the op always changes the byte).
    Flip { position: u16, mask: u8 },
    /// 6, `record: u8`, `shift: i8`: an index entry naming record `record % count` written so
    /// far, with its offset, at its position moved by `shift` bytes (0: a correct entry).
    IndexRecord { record: u8, shift: i8 },
    /// 7, `offset: u64`, `position: u64`: an arbitrary index entry.
    IndexEntry { offset: u64, position: u64 },
    /// 8, `len: u8`, `len % 16` bytes: bytes appended to the index (a partial entry).
    IndexGarbage(Vec<u8>),
    /// 9, `bytes: u8`: a valid record whose payload is a copy of the log's last `bytes` bytes,
    /// so that the log holds a record inside a record.
    Nest(u8),
}

/// A program remembers at most this many record positions (for [`Op::IndexRecord`]); nested
/// copies would otherwise multiply them.
const MAX_RECORDS: usize = 4096;

/// How many opcodes there are.
const OPS: u8 = 10;

impl Op {
    /// Appends this op's bytes to a program.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Op::Append(payload) => {
                out.push(0);
                push_short_bytes(out, payload);
            }
            Op::Run { count, payload_bytes } => out.extend_from_slice(&[1, *count, *payload_bytes]),
            Op::SetOffset(offset) => {
                out.push(2);
                out.extend_from_slice(&offset.to_be_bytes());
            }
            Op::Garbage(bytes) => {
                out.push(3);
                push_short_bytes(out, bytes);
            }
            Op::Truncate(n) => out.extend_from_slice(&[4, *n]),
            Op::Flip { position, mask } => {
                out.push(5);
                out.extend_from_slice(&position.to_be_bytes());
                out.push(*mask);
            }
            Op::IndexRecord { record, shift } => out.extend_from_slice(&[6, *record, shift.to_be_bytes()[0]]),
            Op::IndexEntry { offset, position } => {
                out.push(7);
                out.extend_from_slice(&IndexEntry { offset: *offset, position: *position }.to_bytes());
            }
            Op::IndexGarbage(bytes) => {
                let bytes = &bytes[..bytes.len().min(15)];
                out.push(8);
                push_short_bytes(out, bytes);
            }
            Op::Nest(bytes) => out.extend_from_slice(&[9, *bytes]),
        }
    }

    /// Reads the next op from `input`, `None` at its end or when operands are cut off.
    fn decode(input: &mut Input<'_>) -> Option<Op> {
        Some(match input.u8()? % OPS {
            0 => Op::Append(input.short_bytes()?.to_vec()),
            1 => Op::Run { count: input.u8()?, payload_bytes: input.u8()? },
            2 => Op::SetOffset(u64::from_be_bytes(input.array()?)),
            3 => Op::Garbage(input.short_bytes()?.to_vec()),
            4 => Op::Truncate(input.u8()?),
            5 => Op::Flip { position: u16::from_be_bytes(input.array()?), mask: input.u8()? },
            6 => Op::IndexRecord { record: input.u8()?, shift: i8::from_be_bytes(input.array()?) },
            7 => Op::IndexEntry {
                offset: u64::from_be_bytes(input.array()?),
                position: u64::from_be_bytes(input.array()?),
            },
            8 => {
                let len = input.u8()? % 16;
                Op::IndexGarbage(input.take(usize::from(len))?.to_vec())
            }
            _ => Op::Nest(input.u8()?),
        })
    }
}

/// `len: u8 | bytes`, cut to 255 bytes.
fn push_short_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(255)];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

/// A cursor over the input's bytes.
struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let taken = self.rest.get(..len)?;
        self.rest = &self.rest[len..];
        Some(taken)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    fn short_bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u8()?;
        self.take(usize::from(len))
    }
}

/// A program's state while it writes the files.
struct Writer {
    log: Vec<u8>,
    index: Vec<u8>,
    /// (offset, position) of the records written (nested ones included, cut ones dropped), at
    /// most [`MAX_RECORDS`].
    records: Vec<(u64, u64)>,
    /// The offset the next record gets; wraps after `u64::MAX`, as a broken log may.
    next_offset: u64,
    auto_index: bool,
}

impl Writer {
    /// Writes one valid record, with the index entry a log would write for it.
    fn record(&mut self, payload: &[u8]) {
        if self.log.len() + HEADER_BYTES + payload.len() > MAX_LOG_BYTES {
            return;
        }
        let (offset, position) = (self.next_offset, self.log.len() as u64);
        encode_record(offset, payload, &mut self.log);
        if self.records.len() < MAX_RECORDS {
            self.records.push((offset, position));
        }
        if self.auto_index && offset % INDEX_INTERVAL == 0 {
            self.index_bytes(&IndexEntry { offset, position }.to_bytes());
        }
        self.next_offset = offset.wrapping_add(1);
    }

    fn index_bytes(&mut self, bytes: &[u8]) {
        if self.index.len() + bytes.len() <= MAX_INDEX_BYTES {
            self.index.extend_from_slice(bytes);
        }
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Append(payload) => self.record(&payload),
            Op::Run { count, payload_bytes } => {
                for _ in 0..count {
                    let payload = vec![self.next_offset as u8; usize::from(payload_bytes)];
                    self.record(&payload);
                }
            }
            Op::SetOffset(offset) => self.next_offset = offset,
            Op::Garbage(bytes) => {
                if self.log.len() + bytes.len() <= MAX_LOG_BYTES {
                    self.log.extend_from_slice(&bytes);
                }
            }
            Op::Truncate(n) => {
                self.log.truncate(self.log.len().saturating_sub(usize::from(n)));
                let len = self.log.len() as u64;
                self.records.retain(|&(_, position)| position < len);
            }
            Op::Flip { position, mask } => {
                if !self.log.is_empty() {
                    let at = usize::from(position) % self.log.len();
                    self.log[at] ^= if mask == 0 { 0xFF } else { mask };
                }
            }
            Op::IndexRecord { record, shift } => {
                if !self.records.is_empty() {
                    let (offset, position) = self.records[usize::from(record) % self.records.len()];
                    let position = position.wrapping_add_signed(i64::from(shift));
                    self.index_bytes(&IndexEntry { offset, position }.to_bytes());
                }
            }
            Op::IndexEntry { offset, position } => {
                self.index_bytes(&IndexEntry { offset, position }.to_bytes());
            }
            Op::IndexGarbage(bytes) => self.index_bytes(&bytes),
            Op::Nest(bytes) => {
                let from = self.log.len().saturating_sub(usize::from(bytes));
                let payload = self.log[from..].to_vec();
                let outer = self.log.len() as u64;
                self.record(&payload);
                // The records that started in the copied bytes now start inside the new one too.
                if self.log.len() as u64 > outer {
                    let copied_from = from as u64;
                    let inner: Vec<(u64, u64)> = self
                        .records
                        .iter()
                        .filter(|&&(_, p)| p >= copied_from && p < outer)
                        .map(|&(o, p)| (o, p - copied_from + outer + HEADER_BYTES as u64))
                        .collect();
                    let room = MAX_RECORDS.saturating_sub(self.records.len());
                    self.records.extend(inner.into_iter().take(room));
                }
            }
        }
    }
}

impl LogImage {
    /// The files an input describes (see the module docs).
    pub fn from_fuzz_input(data: &[u8]) -> LogImage {
        let (&flags, rest) = data.split_first().unwrap_or((&0, &[]));
        let max_message_bytes =
            if flags & SMALL_MAX != 0 { SMALL_MAX_MESSAGE_BYTES } else { DEFAULT_MAX_MESSAGE_BYTES };
        if flags & PROGRAM == 0 {
            let (log_bytes, files) = match rest.split_first_chunk::<2>() {
                Some((prefix, files)) => (usize::from(u16::from_be_bytes(*prefix)), files),
                None => (rest.len(), rest),
            };
            let (log, index) = files.split_at(log_bytes.min(files.len()));
            return LogImage { log: log.to_vec(), index: index.to_vec(), max_message_bytes };
        }
        let mut writer = Writer {
            log: Vec::new(),
            index: Vec::new(),
            records: Vec::new(),
            next_offset: 0,
            auto_index: flags & NO_AUTO_INDEX == 0,
        };
        let mut input = Input { rest };
        while let Some(op) = Op::decode(&mut input) {
            writer.run(op);
        }
        LogImage { log: writer.log, index: writer.index, max_message_bytes }
    }

    /// The fuzz input for raw files (the inverse of [`LogImage::from_fuzz_input`] in raw mode).
    pub fn raw_input(flags: u8, log: &[u8], index: &[u8]) -> Vec<u8> {
        let log_bytes = u16::try_from(log.len()).expect("a seed's log fits a u16 length");
        let mut input = vec![flags & !PROGRAM];
        input.extend_from_slice(&log_bytes.to_be_bytes());
        input.extend_from_slice(log);
        input.extend_from_slice(index);
        input
    }

    /// The fuzz input for a program.
    pub fn program_input(flags: u8, ops: &[Op]) -> Vec<u8> {
        let mut input = vec![flags | PROGRAM];
        for op in ops {
            op.encode(&mut input);
        }
        input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_input_splits_at_the_log_length() {
        let input = LogImage::raw_input(0, b"log bytes", b"index");
        let image = LogImage::from_fuzz_input(&input);
        assert_eq!(image.log, b"log bytes");
        assert_eq!(image.index, b"index");
        assert_eq!(image.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES);
    }

    #[test]
    fn every_op_decodes_to_itself() {
        let ops = vec![
            Op::Append(b"abc".to_vec()),
            Op::Run { count: 3, payload_bytes: 2 },
            Op::SetOffset(u64::MAX),
            Op::Garbage(vec![1, 2]),
            Op::Truncate(7),
            Op::Flip { position: 300, mask: 0x40 },
            Op::IndexRecord { record: 1, shift: -3 },
            Op::IndexEntry { offset: 100, position: 1600 },
            Op::IndexGarbage(vec![9; 5]),
            Op::Nest(20),
        ];
        let input = LogImage::program_input(0, &ops);
        let mut cursor = Input { rest: &input[1..] };
        let decoded: Vec<Op> = std::iter::from_fn(|| Op::decode(&mut cursor)).collect();
        assert_eq!(decoded, ops);
    }

    #[test]
    fn a_run_writes_records_and_their_index_entries() {
        let image = LogImage::from_fuzz_input(&LogImage::program_input(
            SMALL_MAX,
            &[Op::Run { count: 101, payload_bytes: 4 }],
        ));
        assert_eq!(image.log.len(), 101 * (HEADER_BYTES + 4));
        assert_eq!(image.max_message_bytes, SMALL_MAX_MESSAGE_BYTES);
        let expected: Vec<u8> = [(0, 0), (100, 100 * 20)]
            .iter()
            .flat_map(|&(offset, position)| IndexEntry { offset, position }.to_bytes())
            .collect();
        assert_eq!(image.index, expected);
    }
}
