//! What can go wrong in the storage layer, in the log's own terms.

use std::io;
use std::path::PathBuf;
use thiserror::Error;

/// An error from a log, its index or the topic directory.
#[derive(Debug, Error)]
pub enum LogError {
    /// The file system failed; the source says how.
    #[error("I/O error on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The record at `offset` (byte `position` of the log) fails its length or CRC check.
    #[error("the record for offset {offset} at byte {position} is corrupt (length or CRC check failed); run `synclog verify`")]
    Corrupt { offset: u64, position: u64 },
    /// A read found no record at or past `offset` below the high watermark, which a log whose
    /// offsets run 0, 1, 2, … in file order always has: the log is damaged (a record out of
    /// offset order, or missing).
    #[error("offset {offset} is not in the log below its high watermark {high_watermark}: the log is damaged (records missing or out of offset order); run `synclog verify`")]
    Missing { offset: u64, high_watermark: u64 },
    /// A read asked for an offset past the end of the log.
    #[error("offset {requested} is past the end of the log (next offset is {next})")]
    OffsetOutOfRange { requested: u64, next: u64 },
    /// A message larger than the configured maximum.
    #[error("a message of {size} bytes is larger than the maximum of {max} bytes")]
    MessageTooLarge { size: usize, max: u32 },
    /// An append of `count` records at offset `next` would need an offset past `u64::MAX`.
    /// Only a damaged log gets here: one whose records claim offsets that high.
    #[error("no offsets left: {count} records at offset {next} would pass the largest offset u64::MAX; the log is damaged, run `synclog verify`")]
    OffsetsExhausted { next: u64, count: u64 },
    /// A topic name that is not 1–249 of `[A-Za-z0-9._-]`, or is `.` or `..`.
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopic { name: String, reason: &'static str },
    /// An earlier `fdatasync` of this log failed, so no append since can be promised durable
    /// (`--fsync always`), or under `--append reserve` an earlier write failed, leaving a
    /// range that is never published. Restart the broker: recovery checks what actually
    /// reached the file.
    #[error("an earlier fdatasync or write of {path} failed: appends can no longer be acknowledged; restart the broker (recovery checks what reached the disk)")]
    SyncFailed { path: PathBuf },
    /// A read of a topic that does not exist.
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    /// Another process (a broker, a harness) has the data dir open: it holds the lock on
    /// `lock`. Two writers of one data dir would hand out the same offsets.
    #[error("the data dir is in use by another synclog process (it holds the lock on {lock}); stop it or pick another --data-dir")]
    DataDirInUse { lock: PathBuf },
    /// A directory in the data dir named like a topic that holds none of a topic's files but
    /// other files: the data dir is not one synclog made (a home directory, say), and nothing
    /// is written to it.
    #[error("{path} is not a topic directory (it holds none of a topic's files, and other files); is the data dir the right one? a synclog data dir holds only topic directories")]
    NotATopicDir { path: PathBuf },
}

impl LogError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> LogError {
        LogError::Io { path: path.into(), source }
    }
}

/// Adds a path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T, LogError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T, LogError> {
        self.map_err(|source| LogError::io(path, source))
    }
}
