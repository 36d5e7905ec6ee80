//! The plain types of a history: the run's shape, how a send or fetch ended, and the
//! operations each actor's log keeps.

use super::{CHECK_BYTES_PER_MESSAGE, HISTORY_BYTES_PER_MESSAGE, MAX_OPERATIONS_PER_ACTOR};
use std::fmt;

/// The size of a run, fixed before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunShape {
    /// The payload seed (`--seed`): bodies are generated from it.
    pub seed: u64,
    /// Producers, numbered `0..producers`.
    pub producers: u32,
    /// Topics, numbered `0..topics`; producer `p` writes to topic `p % topics`.
    pub topics: u32,
    /// Each producer sends `seq = 0..messages_per_producer`.
    pub messages_per_producer: u64,
    /// The whole payload (≥ 20 bytes).
    pub message_bytes: usize,
}

impl RunShape {
    /// The topic producer `producer` writes to.
    pub fn topic_of(&self, producer: u32) -> u32 {
        producer % self.topics.max(1)
    }

    /// How many producers write to `topic`.
    pub fn producers_of_topic(&self, topic: u32) -> u32 {
        let topics = self.topics.max(1);
        if topic >= topics {
            return 0;
        }
        self.producers / topics + u32::from(topic < self.producers % topics)
    }

    /// How many messages are sent to `topic`: the highest offset a correct broker assigns
    /// there, plus one.
    pub fn messages_in_topic(&self, topic: u32) -> u64 {
        u64::from(self.producers_of_topic(topic)).saturating_mul(self.messages_per_producer)
    }

    /// Messages over all producers.
    pub fn total_messages(&self) -> u64 {
        u64::from(self.producers).saturating_mul(self.messages_per_producer)
    }

    /// The heap a [`History`](super::History) of this shape holds at its peak (during `check`), counting the
    /// per-operation logs of `actors` producers and consumers at their cap.
    pub fn peak_heap_bytes(&self, actors: u32) -> u64 {
        let per_message = HISTORY_BYTES_PER_MESSAGE + CHECK_BYTES_PER_MESSAGE;
        let log_bytes = (MAX_OPERATIONS_PER_ACTOR * std::mem::size_of::<Operation>()) as u64;
        self.total_messages().saturating_mul(per_message) + u64::from(actors).saturating_mul(log_bytes)
    }
}

/// How a produce request ended. A send is never retried, so every request ends exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Acknowledged: message `i` of the request was stored at `base_offset + i`.
    Acked { base_offset: u64 },
    /// Answered with an error: none of the messages should ever be read.
    Failed,
    /// No answer (timeout, connection lost): the messages may or may not be stored.
    Unknown,
}

/// What a fetch returned, as the consumer received it.
pub enum FetchOutcome<'i, 'p> {
    /// Records (possibly none) and the high watermark the broker sent with them.
    Records { high_watermark: u64, records: &'i mut dyn Iterator<Item = (u64, &'p [u8])> },
    /// Error 8 CorruptLog: the first record at the requested offset fails its CRC.
    CorruptLog,
    /// Any other error, or no answer: the consumer retries the same offset.
    Error,
}

/// Which side an operation was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    Send,
    Fetch,
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationOutcome {
    /// A send acknowledged, or a fetch answered with records (possibly none).
    Ok,
    /// Answered with an error (for a fetch: any error but CorruptLog).
    Failed,
    /// A send that got no answer.
    Unknown,
    /// A fetch answered CorruptLog.
    Corrupt,
}

/// Who performed an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    Producer(u32),
    Consumer(u32),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Producer(p) => write!(f, "producer {p}"),
            Actor::Consumer(c) => write!(f, "consumer {c}"),
        }
    }
}

/// One send or fetch, in 40 bytes. The actor is not stored: each actor has its own log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// When the request was sent, ns since the run started.
    pub start_ns: u64,
    /// Send: the acknowledged base offset. Fetch: the requested offset. `u64::MAX` when none.
    pub(super) first_offset: u64,
    /// Send: the first seq of the request. Fetch: the high watermark answered (`u64::MAX`: none).
    pub(super) seq_or_high_watermark: u64,
    /// How long the request took, ns (saturates at `u32::MAX`, about 4.3 s).
    pub duration_ns: u32,
    /// Send: messages in the request. Fetch: records returned.
    pub count: u32,
    /// The topic index.
    pub topic: u32,
    pub kind: OperationKind,
    pub outcome: OperationOutcome,
}

const _: () = assert!(std::mem::size_of::<Operation>() == 40);

/// "No offset" / "no watermark" in an [`Operation`].
pub(super) const NO_OFFSET: u64 = u64::MAX;

impl Operation {
    /// When the answer came (or the request was given up), ns since the run started.
    pub fn end_ns(&self) -> u64 {
        self.start_ns.saturating_add(u64::from(self.duration_ns))
    }

    /// The acknowledged base offset of a send, or the requested offset of a fetch.
    pub fn first_offset(&self) -> Option<u64> {
        (self.first_offset != NO_OFFSET).then_some(self.first_offset)
    }

    /// The first seq of a send (`None` for a fetch).
    pub fn first_seq(&self) -> Option<u64> {
        (self.kind == OperationKind::Send).then_some(self.seq_or_high_watermark)
    }

    /// The high watermark a fetch was answered with (`None` for a send or an error).
    pub fn high_watermark(&self) -> Option<u64> {
        (self.kind == OperationKind::Fetch && self.seq_or_high_watermark != NO_OFFSET)
            .then_some(self.seq_or_high_watermark)
    }
}

/// Exact totals of what happened, however many operations the logs kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OperationCounts {
    pub sends_acked: u64,
    pub sends_failed: u64,
    pub sends_unknown: u64,
    pub messages_acked: u64,
    pub messages_failed: u64,
    pub messages_unknown: u64,
    pub fetches_ok: u64,
    pub fetches_corrupt: u64,
    pub fetches_failed: u64,
    /// Records consumers received during the load (every delivery, duplicates included).
    pub records_read: u64,
    /// Records the final drain received.
    pub drain_records: u64,
    /// Drained records that are not a value of this run in this topic, each also counted as
    /// `foreign_record` (in an embedded run the file scan's `unknown_value` /
    /// `payload_checksum` see the same bytes from the file).
    pub drain_foreign_records: u64,
    /// Operations counted but not kept in the logs (see the module docs).
    pub operations_dropped: u64,
}

impl OperationCounts {
    pub(super) fn merge(&mut self, o: &OperationCounts) {
        self.sends_acked += o.sends_acked;
        self.sends_failed += o.sends_failed;
        self.sends_unknown += o.sends_unknown;
        self.messages_acked += o.messages_acked;
        self.messages_failed += o.messages_failed;
        self.messages_unknown += o.messages_unknown;
        self.fetches_ok += o.fetches_ok;
        self.fetches_corrupt += o.fetches_corrupt;
        self.fetches_failed += o.fetches_failed;
        self.records_read += o.records_read;
        self.drain_records += o.drain_records;
        self.drain_foreign_records += o.drain_foreign_records;
        self.operations_dropped += o.operations_dropped;
    }
}
