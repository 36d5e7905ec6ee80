//! A forward reader over a log file, one `pread` per window rather than two per record; used by
//! recovery, reads and `verify`.

use super::error::{IoContext, LogError};
use super::record::{check_record, RecordHeader, HEADER_BYTES};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Reads a file through a window, so a forward scan costs one `pread` per window instead of two
/// per record. The window starts small (a fetch of a few records reads a few KiB) and doubles
/// with every refill up to a few hundred KiB (a long scan reads in large steps). Never reads at
/// or past `limit`.
pub(crate) struct WindowReader<'a> {
    file: &'a File,
    path: &'a Path,
    limit: u64,
    start: u64,
    buf: Vec<u8>,
    /// The size of the next refill.
    window: usize,
}

const FIRST_WINDOW_BYTES: usize = 8 * 1024;
const WINDOW_BYTES: usize = 256 * 1024;

impl<'a> WindowReader<'a> {
    pub(crate) fn new(file: &'a File, path: &'a Path, limit: u64) -> Self {
        WindowReader { file, path, limit, start: 0, buf: Vec::new(), window: FIRST_WINDOW_BYTES }
    }

    /// `len` bytes at `position`, or fewer if the limit comes first.
    pub(crate) fn bytes(&mut self, position: u64, len: usize) -> Result<&[u8], LogError> {
        self.bytes_through(position, len, None)
    }

    /// Like [`Self::bytes`]; a refill reads `window` bytes (at least `len`) where given, else the
    /// growing window.
    fn bytes_through(&mut self, position: u64, len: usize, window: Option<usize>) -> Result<&[u8], LogError> {
        let available = self.limit.saturating_sub(position).min(len as u64) as usize;
        let inside =
            position >= self.start && position + available as u64 <= self.start + self.buf.len() as u64;
        if !inside {
            let window = window.unwrap_or_else(|| {
                let grown = self.window;
                self.window = (self.window * 2).min(WINDOW_BYTES);
                grown
            });
            let want = self.limit.saturating_sub(position).min(available.max(window) as u64) as usize;
            self.buf.resize(want, 0);
            self.file.read_exact_at(&mut self.buf, position).at(self.path)?;
            self.start = position;
        }
        let from = (position - self.start) as usize;
        Ok(&self.buf[from..from + available])
    }

    /// The header of the record at `position` if the whole record is below the limit and its
    /// length is at most `max`, its CRC NOT checked: for a record that is skipped over, not read.
    /// A header outside the window refills it with [`FIRST_WINDOW_BYTES`] only, so skipping
    /// records of a MiB reads a few KiB of each, not each whole.
    pub(crate) fn header(&mut self, position: u64, max: u32) -> Result<Option<RecordHeader>, LogError> {
        let Some(header) =
            RecordHeader::parse(self.bytes_through(position, HEADER_BYTES, Some(FIRST_WINDOW_BYTES))?)
        else {
            return Ok(None);
        };
        if header.payload_bytes > max || position + header.record_bytes() > self.limit {
            return Ok(None);
        }
        Ok(Some(header))
    }

    /// The header of the record at `position` if the whole record is below the limit, its length
    /// is at most `max`, and its CRC matches.
    pub(crate) fn record(&mut self, position: u64, max: u32) -> Result<Option<RecordHeader>, LogError> {
        let Some(header) = RecordHeader::parse(self.bytes(position, HEADER_BYTES)?) else {
            return Ok(None);
        };
        if header.payload_bytes > max || position + header.record_bytes() > self.limit {
            return Ok(None);
        }
        let whole = self.bytes(position, header.record_bytes() as usize)?;
        Ok(check_record(whole, max))
    }
}
