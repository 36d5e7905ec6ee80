//! Storage: how a topic's messages live on disk.
//!
//! - [`record`]: the byte format of one message in `log.dat`, with its CRC;
//! - [`index`]: the sparse index in `index.dat`, one entry per 100 offsets, binary-searched;
//! - [`log`]: `Log<S>`, the append-only log guarded by a strategy, with recovery at open;
//! - [`durability`]: `--fsync` policies, the durable offset, and the sync of one log;
//! - [`group_commit`]: one `fdatasync` for every append waiting on it;
//! - [`prealloc`]: zero-filled space past the last record, so syncs need not grow the file;
//! - `reader`: a windowed forward reader over `log.dat` (recovery, reads, `verify`);
//! - [`race`]: the race window, where an append can be held to make the race visible;
//! - [`topic`]: topic names, the registry of topics under a data dir, long-poll signals;
//! - [`verify`]: the read-only checker (fsck) of the storage kinds in `docs/violations.md`;
//! - `model` (only under `--cfg loom`): the append/read protocol over in-memory storage, for loom.
//!
//! Positional file I/O (`pread`/`pwrite`) makes this module Unix-only (Linux and macOS).

pub mod durability;
pub mod error;
pub mod group_commit;
pub mod index;
pub mod log;
#[cfg(loom)]
pub mod model;
pub mod prealloc;
pub mod race;
mod reader;
pub mod record;
pub mod topic;
pub mod verify;

pub use durability::{FsyncMode, FsyncPolicy, SyncHook, SyncPoint, SyncTotals};
pub use error::LogError;
pub use index::{IndexEntry, SparseIndex, INDEX_ENTRY_BYTES, INDEX_INTERVAL};
pub use log::{
    AppendMode, Log, LogConfig, ReadBatch, ReadLimit, Recovery, DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_PREALLOCATE_BYTES, INDEX_FILE, LOG_FILE,
};
pub use race::{RaceHook, RacePoint, RaceWindow, Rendezvous};
pub use record::{RecordBatch, RecordHeader, HEADER_BYTES};
pub use topic::{validate_topic_name, Topic, Topics, Watch};
pub use verify::{verify_data_dir, verify_topic, PayloadCheck, PayloadVerdict, TopicReport};
