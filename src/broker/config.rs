//! What a broker is started with: addresses, storage, and the limits every connection obeys.

use crate::protocol::connection::{ConnectionConfig, DEFAULT_MAX_BUFFERED_BYTES};
use crate::protocol::DEFAULT_MAX_FRAME_BYTES;
use crate::storage::{AppendMode, FsyncPolicy, LogConfig, RaceWindow, DEFAULT_MAX_MESSAGE_BYTES};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `--max-fetch-bytes` by default: 8 MiB (half the default frame limit).
pub const DEFAULT_MAX_FETCH_BYTES: u32 = 8 * 1024 * 1024;

/// Everything a broker is started with; the defaults are those docs/protocol.md and docs/cli.md state.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Where to listen (`--listen`); port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where to listen for Kafka clients (`--kafka-listen`), if at all; port 0 picks a free
    /// port, which Metadata then advertises.
    pub kafka_listen: Option<SocketAddr>,
    /// Where topics live (`--data-dir`).
    pub data_dir: PathBuf,
    /// `--fsync` and `--fsync-interval-ms`.
    pub fsync: FsyncPolicy,
    /// `--race-window-us` (or a forced interleaving in tests).
    pub race_window: RaceWindow,
    /// `--append`: what each append's write section covers.
    pub append: AppendMode,
    /// `--max-frame-bytes`.
    pub max_frame_bytes: u32,
    /// `--max-message-bytes`.
    pub max_message_bytes: u32,
    /// `--max-connections` (lowered at start when the descriptor limit cannot hold it).
    pub max_connections: usize,
    /// `--max-topics`: `None` derives it from the descriptor limit (see [`super::limits`]).
    pub max_topics: Option<usize>,
    /// `--max-fetch-bytes`: the most record bytes one Fetch reply carries (either protocol),
    /// whatever it asks, plus at most one record; never more than half `max_frame_bytes`.
    pub max_fetch_bytes: u32,
    /// `--max-buffered-bytes`: what the read buffers of all connections (both listeners) may
    /// take together beyond their first 16 KiB each; at least `max_frame_bytes` + 4.
    pub max_buffered_bytes: usize,
    /// `--frame-timeout-ms`.
    pub frame_timeout: Duration,
    /// `--idle-timeout-ms`.
    pub idle_timeout: Duration,
    /// `--offsets-retention-ms`: how long a Kafka consumer group without members keeps its
    /// committed offsets (see [`super::groups`]).
    pub offsets_retention: Duration,
    /// `--delete-topics`: whether the Kafka listener's DeleteTopics deletes (else it is
    /// answered TOPIC_DELETION_DISABLED).
    pub delete_topics: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            kafka_listen: None,
            data_dir: PathBuf::from("./synclog-data"),
            fsync: FsyncPolicy::Never,
            race_window: RaceWindow::Off,
            append: AppendMode::Whole,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_connections: 1024,
            max_topics: None,
            max_fetch_bytes: DEFAULT_MAX_FETCH_BYTES,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            frame_timeout: Duration::from_millis(10_000),
            idle_timeout: Duration::from_millis(600_000),
            offsets_retention: super::groups::DEFAULT_OFFSETS_RETENTION,
            delete_topics: false,
        }
    }
}

impl BrokerConfig {
    /// The per-connection limits derived from this configuration.
    pub fn connection(&self) -> ConnectionConfig {
        ConnectionConfig {
            max_frame_bytes: self.max_frame_bytes,
            idle_timeout: Some(self.idle_timeout),
            frame_timeout: Some(self.frame_timeout),
            write_timeout: Some(self.frame_timeout.max(Duration::from_secs(1))),
        }
    }

    /// The most record bytes one Fetch reply may carry before its one extra record: the
    /// smaller of `--max-fetch-bytes` and half the frame limit (room for one maximum-size
    /// record beyond it, and the headers).
    pub fn fetch_budget(&self) -> u32 {
        self.max_fetch_bytes.min(self.max_frame_bytes / 2)
    }

    /// The configuration every log is opened with.
    pub fn log(&self) -> LogConfig {
        LogConfig {
            fsync: self.fsync,
            max_message_bytes: self.max_message_bytes,
            race_window: self.race_window.clone(),
            append: self.append,
            sync_hook: None,
            ..LogConfig::default()
        }
    }
}
