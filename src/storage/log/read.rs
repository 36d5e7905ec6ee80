//! Reading a log: records from an offset, within a count and a byte limit.
//!
//! A read looks up the nearest index entry at or below its offset and scans forward from it.
//! The records before its offset (at most 99) are passed over by their headers alone, neither
//! their payloads read nor their CRCs checked (a record of a MiB skipped costs a few KiB of
//! reading, not a MiB and its CRC), as long as their headers hold every offset in turn up to
//! the one wanted and that record is whole; any header out of that run (damage, a torn record)
//! and the scan reads every record from the entry whole, so damage is found where a scan of
//! whole records finds it ([`skip_to`]). Then it copies records out, each read whole and its
//! CRC checked, until one of its limits ([`ReadLimit`]) is reached. The byte limit
//! counts each record as what it will cost where it goes: its payload plus
//! [`ReadLimit::bytes_per_record`], the framing a reply gives each record beside its payload
//! (the synclog Fetch reply's offset and length, a Kafka record's header). Counting the payload
//! alone would let a fetch of empty records take any number of them whatever its byte limit.
//! A read always returns at least one record when one is there below the high watermark, so
//! what it returns counts at most its byte limit plus one record.

use super::Log;
use crate::storage::error::LogError;
use crate::storage::index::IndexEntry;
use crate::storage::reader::WindowReader;
use crate::storage::record::HEADER_BYTES;
use crate::strategies::SyncStrategy;

/// What one read may return (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimit {
    /// The most records.
    pub records: u32,
    /// The most bytes, each record counted as its payload plus `bytes_per_record` (but at least
    /// one record whatever it counts).
    pub bytes: u32,
    /// What each record counts beside its payload.
    pub bytes_per_record: u32,
}

impl ReadLimit {
    /// What a record of `payload_bytes` counts against [`ReadLimit::bytes`].
    pub fn cost(&self, payload_bytes: usize) -> usize {
        payload_bytes.saturating_add(self.bytes_per_record as usize)
    }
}

/// Records read from a log: offsets and payloads, copied out of the file.
#[derive(Debug, Default, Clone)]
pub struct ReadBatch {
    /// The high watermark when the read ran: records below it may be served.
    pub high_watermark: u64,
    data: Vec<u8>,
    /// (offset, start in `data`, length) per record.
    records: Vec<(u64, usize, usize)>,
}

impl ReadBatch {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }
    /// `true` when no record was read.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    /// The records, as (offset, payload).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (u64, &[u8])> + '_ {
        self.records.iter().map(|&(o, s, l)| (o, &self.data[s..s + l]))
    }
    /// Sum of the payload sizes.
    pub fn payload_bytes(&self) -> usize {
        self.records.iter().map(|r| r.2).sum()
    }
    /// What the records count against `limit`'s bytes: their payloads plus
    /// [`ReadLimit::bytes_per_record`] each.
    pub fn counted_bytes(&self, limit: &ReadLimit) -> usize {
        self.records.iter().map(|r| limit.cost(r.2)).fold(0, usize::saturating_add)
    }
}

impl<S: SyncStrategy> Log<S> {
    /// Reads records from `offset`: at most `max_messages`, and at most `max_bytes` of payload
    /// (but always at least one record when one exists below the high watermark). For a read
    /// whose records go into a reply, [`Log::read_within`] counts each record's framing too.
    ///
    /// Reading at the high watermark returns no records; past the next offset is
    /// `OffsetOutOfRange`. A record that fails its length or CRC check is never served: the
    /// records before it are returned, or `Corrupt` if it is the first.
    pub fn read(&self, offset: u64, max_messages: u32, max_bytes: u32) -> Result<ReadBatch, LogError> {
        self.read_within(offset, ReadLimit { records: max_messages, bytes: max_bytes, bytes_per_record: 0 })
    }

    /// [`Log::read`] within `limit`: each record counts its payload plus
    /// `limit.bytes_per_record` against `limit.bytes`, so the records returned count at most
    /// `limit.bytes` plus one record.
    pub fn read_within(&self, offset: u64, limit: ReadLimit) -> Result<ReadBatch, LogError> {
        self.strategy.read(|| self.read_section(offset, limit))
    }

    fn read_section(&self, offset: u64, limit: ReadLimit) -> Result<ReadBatch, LogError> {
        // Offset before position: a reader that sees offset o also sees o's bytes.
        let (next, end) = self.visible();
        let high_watermark = self.high_watermark().min(next);
        let mut out = ReadBatch { high_watermark, ..ReadBatch::default() };
        if offset > next {
            return Err(LogError::OffsetOutOfRange { requested: offset, next });
        }
        if offset >= high_watermark || limit.records == 0 {
            return Ok(out);
        }
        let max = self.config.max_message_bytes;
        let mut reader = WindowReader::new(&self.file, &self.log_path, end);
        let (mut start, first, mut entry) =
            self.scan_start(&mut reader, self.index.lookup_numbered(offset)?, end)?;
        // Pass over the records before `offset` by their headers, if they hold every offset in
        // turn; the record reached must then be `offset`'s, whole.
        let mut position = skip_to(&mut reader, (start, first), offset, end, max)?.unwrap_or(start);
        let mut skipped = position != start;
        let mut counted = 0usize;
        while position < end {
            let record = reader.record(position, max)?;
            if std::mem::take(&mut skipped) && record.is_none_or(|h| h.offset != offset) {
                // It is not: read every record from the entry whole, as if none had been skipped.
                position = start;
                continue;
            }
            let header = match record {
                Some(h) => h,
                None if out.is_empty() => {
                    // Nothing served yet: the index entry the scan started at may be what is
                    // damaged (bytes that happen to read as a header with its offset). Scan
                    // once more from the entry before it, or byte 0, before calling the log
                    // corrupt; a record that is damaged is found there again.
                    if let Some(i) = entry.take() {
                        start = self.scan_start(&mut reader, self.index.numbered_before(i)?, end)?.0;
                        position = start;
                        continue;
                    }
                    return Err(LogError::Corrupt { offset, position });
                }
                None => break,
            };
            let size = header.record_bytes();
            if header.offset >= offset {
                if header.offset >= high_watermark {
                    if out.is_empty() {
                        // Out of order (damage, or a race under `none`): not the end of what
                        // may be served. In a healthy log the first record at or past
                        // `offset` is below the high watermark.
                        position += size;
                        continue;
                    }
                    break;
                }
                let len = header.payload_bytes as usize;
                let cost = limit.cost(len);
                if !out.is_empty() && counted.saturating_add(cost) > limit.bytes as usize {
                    break;
                }
                let bytes = reader.bytes(position + HEADER_BYTES as u64, len)?;
                out.records.push((header.offset, out.data.len(), len));
                out.data.extend_from_slice(bytes);
                counted = counted.saturating_add(cost);
                if out.records.len() >= limit.records as usize {
                    break;
                }
            }
            position += size;
        }
        if out.is_empty() {
            // Below the high watermark a log whose offsets run on in file order always has a
            // record at or past `offset`. An empty answer would leave a consumer asking again
            // for ever; this one names the damage instead.
            return Err(LogError::Missing { offset, high_watermark });
        }
        Ok(out)
    }

    /// Where a read starts scanning, as (position, the offset of the record there, the index
    /// entry's number): `found` (numbered, from [`SparseIndex::lookup_numbered`]) if it points
    /// inside the log at a record header holding the entry's offset. An entry that does not
    /// (damaged, or written by an unsynchronized append) is passed over for the one before it,
    /// and with none left the scan starts at byte 0: a damaged entry costs a longer scan, never
    /// a record skipped.
    ///
    /// [`SparseIndex::lookup_numbered`]: crate::storage::SparseIndex::lookup_numbered
    fn scan_start(
        &self,
        reader: &mut WindowReader<'_>,
        mut found: Option<(u64, IndexEntry)>,
        end: u64,
    ) -> Result<(u64, u64, Option<u64>), LogError> {
        let max = self.config.max_message_bytes;
        while let Some((i, e)) = found {
            if e.position < end && reader.header(e.position, max)?.is_some_and(|h| h.offset == e.offset) {
                return Ok((e.position, e.offset, Some(i)));
            }
            found = self.index.numbered_before(i)?;
        }
        Ok((0, 0, None))
    }
}

/// Where `offset`'s record lies, below `end`, if the records from `start` (the index entry's
/// position, whose record holds `first`) hold `first`, `first + 1`, … in turn up to it, as
/// their headers say: each passed over by its header's length alone, its payload neither read
/// nor checked. `None` at the first header that breaks the run (a damaged offset or length, a torn record, the
/// repeated offsets an unsynchronized log may hold, zeros): the caller then reads every record
/// from `start` whole, so damage is found where a scan of whole records finds it.
fn skip_to(
    reader: &mut WindowReader<'_>,
    (start, first): (u64, u64),
    offset: u64,
    end: u64,
    max: u32,
) -> Result<Option<u64>, LogError> {
    let (mut position, mut expected) = (start, first);
    while expected < offset {
        match reader.header(position, max)? {
            Some(h) if h.offset == expected => {
                position += h.record_bytes();
                expected += 1;
            }
            _ => return Ok(None),
        }
    }
    Ok((position < end).then_some(position))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LogConfig;
    use crate::strategies::RwLockSync;

    fn log_of(payloads: &[&[u8]]) -> (tempfile::TempDir, Log<RwLockSync>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, _) = Log::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("open");
        log.append_batch(payloads).expect("append");
        (dir, log)
    }

    fn within(log: &Log<RwLockSync>, records: u32, bytes: u32, bytes_per_record: u32) -> usize {
        log.read_within(0, ReadLimit { records, bytes, bytes_per_record }).expect("read").len()
    }

    #[test]
    fn empty_records_count_their_framing_against_the_byte_limit() {
        let (_dir, log) = log_of(&[b"".as_slice(); 1000]);
        // Payload alone: empty records cost nothing, so only the count stops the read.
        assert_eq!(log.read(0, 1000, 0).expect("read").len(), 1000);
        // 12 bytes each: at least one, then as many as fit.
        assert_eq!(within(&log, 1000, 0, 12), 1);
        assert_eq!(within(&log, 1000, 1, 12), 1);
        assert_eq!(within(&log, 1000, 24, 12), 2);
        assert_eq!(within(&log, 1000, 35, 12), 2);
        assert_eq!(within(&log, 1000, 120, 12), 10);
        assert_eq!(within(&log, 5, 120, 12), 5);
        assert_eq!(within(&log, 0, 120, 12), 0);
    }

    #[test]
    fn records_before_the_offset_are_skipped_by_their_headers_not_read_whole() {
        let mut payloads = vec![[b'x'; 1024].as_slice(); 99];
        payloads.push(b"y");
        let (dir, log) = log_of(&payloads);
        // Flip a payload byte of record 50: its CRC no longer matches.
        let file = std::fs::OpenOptions::new().write(true).open(dir.path().join("log.dat")).expect("log.dat");
        let record_bytes = (HEADER_BYTES + 1024) as u64;
        std::os::unix::fs::FileExt::write_all_at(&file, b"z", 50 * record_bytes + HEADER_BYTES as u64 + 7)
            .expect("flip");
        // Offset 99 is served: the 99 records before it, 50 among them, are passed over by their
        // headers, none read whole or checked.
        let batch = log.read(99, 10, u32::MAX).expect("offset 99 is intact");
        assert_eq!(batch.iter().collect::<Vec<_>>(), vec![(99, b"y".as_slice())]);
        // Record 50 itself, read whole, fails its check.
        assert!(matches!(log.read(50, 1, u32::MAX), Err(LogError::Corrupt { offset: 50, .. })));
        // A read from 49 serves 49 and stops before the record that fails.
        assert_eq!(log.read(49, 10, u32::MAX).expect("read").len(), 1);
    }

    #[test]
    fn a_damaged_header_before_the_offset_is_found_as_a_scan_of_whole_records_finds_it() {
        let mut payloads = vec![[b'x'; 100].as_slice(); 99];
        payloads.push(b"y");
        let record_bytes = (HEADER_BYTES + 100) as u64;
        // Record 50's offset with a bit flipped (it reads as 18, below 99: a skip would pass it), its
        // length one record longer (a skip by it would land on record 52, whole and valid),
        // and zeros in place of its header.
        let damages: [(u64, &[u8]); 3] =
            [(7, &[50 ^ 0x20]), (8, &(2 * 100 + 16u32).to_be_bytes()), (0, &[0; 16])];
        for (at, bytes) in damages {
            let (dir, log) = log_of(&payloads);
            let file =
                std::fs::OpenOptions::new().write(true).open(dir.path().join("log.dat")).expect("log.dat");
            std::os::unix::fs::FileExt::write_all_at(&file, bytes, 50 * record_bytes + at).expect("damage");
            // As before the skip: a read from the entry stops at record 50 with CorruptLog.
            let read = log.read(99, 10, u32::MAX);
            assert!(matches!(read, Err(LogError::Corrupt { offset: 99, .. })), "damage at +{at}: {read:?}");
            let read = log.read(40, 100, u32::MAX).expect("from 40");
            assert_eq!(read.iter().map(|(o, _)| o).collect::<Vec<_>>(), (40..50).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_batch_counts_its_payloads_and_its_framing() {
        let (_dir, log) = log_of(&[b"abc".as_slice(), b"", b"defgh"]);
        let limit = ReadLimit { records: 10, bytes: u32::MAX, bytes_per_record: 12 };
        let batch = log.read_within(0, limit).expect("read");
        assert_eq!((batch.len(), batch.payload_bytes()), (3, 8));
        assert_eq!(batch.counted_bytes(&limit), 8 + 3 * 12);
        // A limit one byte short of all three stops before the third.
        let short = ReadLimit { bytes: 8 + 3 * 12 - 1, ..limit };
        assert_eq!(log.read_within(0, short).expect("read").len(), 2);
    }
}
