//! The recorded history of a harness run: what every producer sent and was told, what every
//! consumer read, and what the final drain found — kept dense enough to check ten million
//! messages in well under 2 GiB.
//!
//! # Concept
//!
//! Jepsen checks a queue by recording every operation and then asking, of the whole history,
//! questions such as "was every acknowledged value read?" and "did one offset hold two values?".
//! This module is that recording, shaped for a Kafka-style log. Every value of a run is known in
//! advance: producer `p` sends `seq = 0 .. messages_per_producer`, in order, all to topic
//! `p % topics`, in requests of one or more consecutive seqs (batches) that are never retried.
//! So every value has a dense *value index* `p × messages_per_producer + seq`, and every topic
//! has a known *capacity* (the number of values sent to it), which bounds the offsets a correct
//! broker can assign. Both facts let the history be a handful of flat arrays instead of maps.
//!
//! Three kinds of recorder write into the [`History`]:
//! - producers call [`History::begin_send`] and [`History::end_send`] around each request;
//! - each consumer thread owns a [`ConsumerRecorder`] ([`History::consumer`]) and calls
//!   [`ConsumerRecorder::record_fetch`] after each fetch; the recorder checks the fetch against
//!   the consumer's own earlier fetches (skips, regressions, watermarks) on the spot;
//! - once the load has stopped, one [`DrainRecorder`] ([`History::drain`]) records a final read
//!   of every topic from offset 0.
//!
//! The integrity checker (`checker.rs`) then reads the arrays once, after the load, on all cores.
//!
//! # Memory: why arrays, and the bytes per message
//!
//! A `HashMap<(u32, u64), u64>` entry is 24 bytes plus a control byte, and the table is kept
//! between 7/16 and 7/8 full, so each fact costs 29–57 bytes, and 2× that for a moment while
//! the table grows; the checker needs about six facts per message (send time, outcome, first
//! read, and per offset the read, drained and acked values), so maps would take 170–340 bytes
//! per message, and per-entry `String`s or `Vec`s far more. Dense arrays indexed by value
//! index and by offset cost only their words:
//!
//! | array (one element per …)          | type        | bytes |
//! |------------------------------------|-------------|-------|
//! | send start, per value              | `AtomicU64` | 8     |
//! | send outcome / acked offset, per value | `AtomicU64` | 8  |
//! | first offset delivered during the load, per value | `AtomicU64` | 8 |
//! | flags (duplicated, drained), per value | `AtomicU8` | 1    |
//! | read word, per topic offset        | `AtomicU64` | 8     |
//! | drain word, per topic offset       | `AtomicU64` | 8     |
//! | **held for the whole run**         |             | **41** ([`HISTORY_BYTES_PER_MESSAGE`]) |
//! | ack owner, per topic offset, only while `check` runs | `u64` | 8 ([`CHECK_BYTES_PER_MESSAGE`]) |
//!
//! Since the topics' capacities add up to the number of messages, a run of 10 million messages
//! needs 10 M × 49 B = 490 MB ≈ 0.46 GiB at its peak (the check), whatever `--message-bytes` is.
//! The per-operation log adds at most [`MAX_OPERATIONS_PER_ACTOR`] × 40 B = 10 MiB per producer
//! or consumer (see [`Operation`]); latency histograms are a few tens of KiB each.
//!
//! # Word formats
//!
//! Per value (`ProducerArrays`), all indexed by `seq`:
//!
//! | word                 | value                  | meaning                                   |
//! |----------------------|------------------------|-------------------------------------------|
//! | `send_start_ns`      | `u64::MAX`             | the send has not begun                    |
//! |                      | `t`                    | the request carrying it was sent at `t` ns |
//! | `ack`                | `u64::MAX`             | no answer recorded (yet)                  |
//! |                      | `u64::MAX − 1`         | answered with an error (Failed)           |
//! |                      | `u64::MAX − 2`         | the answer never came (Unknown)           |
//! |                      | `o ≤ u64::MAX − 3`     | acknowledged at offset `o`                |
//! | `first_read_offset`  | `u64::MAX` or `o`      | never delivered to a consumer / first delivered at `o` |
//! | `flags`              | bit 0 `DUPLICATED`     | delivered at two different offsets (load or drain) |
//! |                      | bit 1 `DRAINED`        | found by the final drain                  |
//!
//! Per topic offset (`OffsetSlot`), one *value word* for consumer reads and one for the drain:
//!
//! | bits   | field                                                           |
//! |--------|-----------------------------------------------------------------|
//! | 63     | `CONFLICT`: a second, different value was seen at this offset   |
//! | 0..63  | value index + 1 of the first value seen here, 0 when none       |
//!
//! # Invariants
//!
//! - A value word only moves 0 → first value → first value | CONFLICT: the first value seen
//!   wins a compare-and-swap and is never overwritten, so concurrent consumers agree on it.
//! - `first_read_offset` likewise moves once, from "none" to the offset of the first delivery;
//!   the consumer that wins that swap is the one that records the value's consume latency, so each
//!   value is timed exactly once ("its first delivery to a consumer").
//! - Every atomic is accessed `Relaxed`: each word is a self-contained fact, no reader infers one
//!   word from another while threads run, and `check` runs after every recorder has been joined
//!   (thread join is the happens-before edge that publishes everything).
//! - Offsets at or past a topic's capacity cannot come from a correct broker; the few a broken
//!   one might return go to a small overflow map (locked, off the fast path) so that they are
//!   still checked rather than dropped.
//!
//! # Per-operation log
//!
//! Each send and fetch leaves an [`Operation`] of 40 bytes in its actor's own `Vec` (a
//! producer's behind that producer's uncontended mutex, a consumer's inside its recorder). With
//! `--batch 1` and consumers tailing the producers, operations can number several times the
//! messages, so each actor keeps the first [`OPERATIONS_KEPT_IN_FULL`] operations, then only
//! *notable* ones (a failed, unknown or corrupt outcome, or a fetch in which the recorder found a
//! violation), up to [`MAX_OPERATIONS_PER_ACTOR`]; the rest are only counted
//! ([`OperationCounts::operations_dropped`]). The counts themselves are exact.

mod operation;
mod recorder;
mod tally;

use operation::NO_OFFSET;
pub use operation::{
    Actor, FetchOutcome, Operation, OperationCounts, OperationKind, OperationOutcome, RunShape, SendOutcome,
};
use recorder::Cursor;
pub use recorder::{ConsumerRecorder, DrainRecorder};
pub(super) use tally::{RawExample, Tally};

use super::payload::{decode_payload, ValueId};
use crate::storage::INDEX_INTERVAL;
use crate::violations::ViolationKind;
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// Bytes the history holds per message for the whole run (see the module docs' table).
pub const HISTORY_BYTES_PER_MESSAGE: u64 = 8 + 8 + 8 + 1 + 8 + 8;

/// Bytes per message that `check` allocates while it runs (the ack-owner table), then frees.
pub const CHECK_BYTES_PER_MESSAGE: u64 = 8;

/// How many operations each actor keeps regardless of their outcome.
pub const OPERATIONS_KEPT_IN_FULL: usize = 1 << 16;

/// The most operations one actor keeps (the rest are counted only): 10 MiB of [`Operation`]s.
pub const MAX_OPERATIONS_PER_ACTOR: usize = 1 << 18;

/// Where a consumer resumes after a fetch at `requested_offset` was answered CorruptLog: the
/// next multiple of the storage's sparse-index interval ([`INDEX_INTERVAL`]) past it (`150 → 200`, `200 → 300`). The offsets in between are
/// skipped and counted as `corrupt_read`.
pub fn corrupt_resume_offset(requested_offset: u64) -> u64 {
    (requested_offset / INDEX_INTERVAL).saturating_add(1).saturating_mul(INDEX_INTERVAL)
}

// ---- word encodings (see the module docs' tables) ----

/// `send_start_ns`: the send has not begun. `first_read_offset`: never delivered.
pub(super) const NONE: u64 = u64::MAX;
/// `ack`: no answer recorded.
const ACK_PENDING: u64 = u64::MAX;
/// `ack`: answered with an error.
const ACK_FAILED: u64 = u64::MAX - 1;
/// `ack`: the answer never came.
const ACK_UNKNOWN: u64 = u64::MAX - 2;
/// The largest offset an ack can record; larger ones (from a broken broker) are clamped to it.
const MAX_ACK_OFFSET: u64 = u64::MAX - 3;

/// `flags`: the value was delivered at two different offsets.
pub(super) const DUPLICATED: u8 = 1;
/// `flags`: the final drain found the value.
pub(super) const DRAINED: u8 = 2;

/// Value word: a second, different value was seen at this offset.
pub(super) const CONFLICT: u64 = 1 << 63;
/// Value word: the bits holding value index + 1.
pub(super) const VALUE_MASK: u64 = !CONFLICT;

/// Records `value_index` in a value word: the first value wins, a different later one sets
/// `CONFLICT`.
pub(super) fn associate(word: &AtomicU64, value_index: u64) {
    let tag = value_index + 1;
    if let Err(current) = word.compare_exchange(0, tag, Relaxed, Relaxed) {
        if current & VALUE_MASK != tag && current & CONFLICT == 0 {
            word.fetch_or(CONFLICT, Relaxed);
        }
    }
}

/// The state of one value's send, decoded from its `send_start_ns` and `ack` words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SendState {
    NotSent,
    /// Begun, never ended: treated like Unknown by the checker.
    Pending,
    Failed,
    Unknown,
    Acked(u64),
}

impl SendState {
    fn decode(send_start_ns: u64, ack: u64) -> SendState {
        match (send_start_ns, ack) {
            (NONE, ACK_PENDING) => SendState::NotSent,
            (_, ACK_PENDING) => SendState::Pending,
            (_, ACK_FAILED) => SendState::Failed,
            (_, ACK_UNKNOWN) => SendState::Unknown,
            (_, offset) => SendState::Acked(offset),
        }
    }
}

/// The per-value arrays of one producer, indexed by seq.
pub(super) struct ProducerArrays {
    /// When the request carrying each seq was sent (`NONE`: not yet).
    pub(super) send_start_ns: Vec<AtomicU64>,
    /// How each seq's send ended (see the word table).
    pub(super) ack: Vec<AtomicU64>,
    /// The offset each seq was first delivered at during the load (`NONE`: never).
    pub(super) first_read_offset: Vec<AtomicU64>,
    /// `DUPLICATED | DRAINED`.
    pub(super) flags: Vec<AtomicU8>,
    /// This producer's operations and produce latency. Only its own thread(s) lock it.
    log: Mutex<ActorLog>,
}

impl ProducerArrays {
    pub(super) fn send_state(&self, seq: usize) -> SendState {
        SendState::decode(self.send_start_ns[seq].load(Relaxed), self.ack[seq].load(Relaxed))
    }
}

/// What was seen at one (topic, offset).
#[derive(Default)]
pub(super) struct OffsetSlot {
    /// The value(s) consumers read here during the load.
    pub(super) read: AtomicU64,
    /// The value(s) the final drain read here.
    pub(super) drain: AtomicU64,
}

/// An operation log: kept operations, exact counts and a latency histogram.
struct ActorLog {
    operations: Vec<Operation>,
    counts: OperationCounts,
    latency_us: Histogram<u64>,
}

impl ActorLog {
    fn new() -> Self {
        ActorLog {
            operations: Vec::new(),
            counts: OperationCounts::default(),
            latency_us: latency_histogram(),
        }
    }

    /// Keeps `op` if the policy of the module docs allows, else counts it as dropped.
    fn push(&mut self, op: Operation, notable: bool) {
        let len = self.operations.len();
        if len < MAX_OPERATIONS_PER_ACTOR && (len < OPERATIONS_KEPT_IN_FULL || notable) {
            self.operations.push(op);
        } else {
            self.counts.operations_dropped += 1;
        }
    }
}

/// An empty auto-resizing latency histogram with 3 significant figures.
fn latency_histogram() -> Histogram<u64> {
    // Bounded explicitly: `saturating_record` clamps to the highest trackable value instead of
    // growing the histogram, so an auto-resizing `Histogram::new` would clamp every latency to
    // its initial 2 048 µs. One hour in microseconds covers any run; 3 significant figures.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid hdrhistogram bounds and precision")
}

/// Offsets `[start, end)` of `topic` skipped after a CorruptLog answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct CorruptRange {
    pub(super) topic: u32,
    pub(super) start: u64,
    pub(super) end: u64,
}

/// What recorders hand back when they are dropped, for the checker and the report.
pub(super) struct Observed {
    /// Violations the consumer recorders found on the spot.
    pub(super) tally: Tally,
    /// Per topic: the highest offset any consumer read during the load.
    pub(super) max_read_offset: Vec<Option<u64>>,
    /// Per topic: the highest high watermark any consumer saw.
    pub(super) max_high_watermark: Vec<Option<u64>>,
    /// Per topic: one past the highest offset the drain received.
    pub(super) drain_end: Vec<Option<u64>>,
    /// Offsets skipped after CorruptLog, by consumers and the drain (may overlap).
    pub(super) corrupt_ranges: Vec<CorruptRange>,
    consume_latency_us: Histogram<u64>,
    consumer_logs: Vec<(u32, Vec<Operation>)>,
    /// Records each consumer read during the load, by consumer number.
    records_read_by: Vec<(u32, u64)>,
    counts: OperationCounts,
}

/// The recorded history of one run. `Sync`: share it by reference (or `Arc`) with every
/// producer and consumer thread.
pub struct History {
    shape: RunShape,
    /// Seqs below this are warm-up: checked like the rest, but not timed.
    warmup_messages_per_producer: u64,
    /// The clock's zero: all `*_ns` values are nanoseconds since this instant.
    started: Instant,
    /// Indexed by producer id.
    pub(super) producers: Vec<ProducerArrays>,
    /// Indexed by topic, then offset; each topic's length is its capacity.
    pub(super) topics: Vec<Vec<OffsetSlot>>,
    /// Slots for offsets at or past a topic's capacity (only a broken broker produces them).
    pub(super) overflow: Mutex<HashMap<(u32, u64), OffsetSlot>>,
    /// Set once any consumer recorder has been made.
    consumers_ran: AtomicBool,
    /// Consumer and drain recorders made and not yet dropped (merged).
    live_recorders: AtomicUsize,
    pub(super) observed: Mutex<Observed>,
}

impl History {
    /// An empty history for a run of `shape`, its clock starting now.
    ///
    /// # Panics
    /// If `shape.topics` is 0, `shape.message_bytes` is below 20, or the arrays cannot be
    /// addressed on this platform.
    pub fn new(shape: RunShape) -> History {
        History::with_warmup(shape, 0)
    }

    /// Like [`new`](Self::new), for a run whose first `warmup_messages_per_producer` seqs of
    /// each producer are warm-up: recorded and checked like the rest, but left out of the
    /// latency histograms.
    pub fn with_warmup(shape: RunShape, warmup_messages_per_producer: u64) -> History {
        assert!(shape.topics > 0, "a run needs at least one topic");
        assert!(
            shape.message_bytes >= super::payload::PAYLOAD_OVERHEAD_BYTES,
            "message_bytes must be at least 20"
        );
        let per_producer = to_len(shape.messages_per_producer);
        let producers = (0..shape.producers)
            .map(|_| ProducerArrays {
                send_start_ns: atomics(per_producer, NONE),
                ack: atomics(per_producer, ACK_PENDING),
                first_read_offset: atomics(per_producer, NONE),
                flags: (0..per_producer).map(|_| AtomicU8::new(0)).collect(),
                log: Mutex::new(ActorLog::new()),
            })
            .collect();
        let topics = (0..shape.topics)
            .map(|t| (0..to_len(shape.messages_in_topic(t))).map(|_| OffsetSlot::default()).collect())
            .collect();
        let per_topic = shape.topics as usize;
        History {
            shape,
            warmup_messages_per_producer,
            started: Instant::now(),
            producers,
            topics,
            overflow: Mutex::new(HashMap::new()),
            consumers_ran: AtomicBool::new(false),
            live_recorders: AtomicUsize::new(0),
            observed: Mutex::new(Observed {
                tally: Tally::default(),
                max_read_offset: vec![None; per_topic],
                max_high_watermark: vec![None; per_topic],
                drain_end: vec![None; per_topic],
                corrupt_ranges: Vec::new(),
                consume_latency_us: latency_histogram(),
                consumer_logs: Vec::new(),
                records_read_by: Vec::new(),
                counts: OperationCounts::default(),
            }),
        }
    }

    /// The run's shape.
    pub fn shape(&self) -> &RunShape {
        &self.shape
    }

    /// How many seqs of each producer are warm-up: sends of lower seqs are left out of the
    /// latency figures.
    pub fn warmup_messages_per_producer(&self) -> u64 {
        self.warmup_messages_per_producer
    }

    /// Nanoseconds since the history was made: the one clock all recorders use.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// Records that producer `producer` is about to send seqs `first_seq .. first_seq + count`
    /// in one request; returns the send time (ns) to keep for the request's latency.
    pub fn begin_send(&self, producer: u32, first_seq: u64, count: u32) -> u64 {
        self.begin_send_at(producer, first_seq, count, self.now_ns())
    }

    /// [`begin_send`](Self::begin_send) with the send time given: an open-loop producer gives
    /// the time the request was *due*, so its latency includes any time it fell behind
    /// schedule (no coordinated omission). `start_ns` is on this history's clock
    /// ([`now_ns`](Self::now_ns)) and not after now.
    pub fn begin_send_at(&self, producer: u32, first_seq: u64, count: u32, start_ns: u64) -> u64 {
        if let Some(arrays) = self.producers.get(producer as usize) {
            for seq in self.seqs(first_seq, count) {
                arrays.send_start_ns[seq].store(start_ns, Relaxed);
            }
        } else {
            debug_assert!(false, "begin_send for producer {producer}, outside the run");
        }
        start_ns
    }

    /// Records how the request begun by [`begin_send`](Self::begin_send) with the same
    /// `first_seq` and `count` ended. Call it exactly once per request (a send is never retried).
    pub fn end_send(&self, producer: u32, first_seq: u64, count: u32, outcome: SendOutcome) {
        self.end_send_at(producer, first_seq, count, outcome, self.now_ns());
    }

    /// [`end_send`](Self::end_send) with the answer's time given (on this history's clock, not
    /// before the request's start): a producer that reads the clock for its own tally passes
    /// that reading instead of the history taking another.
    pub fn end_send_at(&self, producer: u32, first_seq: u64, count: u32, outcome: SendOutcome, end_ns: u64) {
        let Some(arrays) = self.producers.get(producer as usize) else {
            debug_assert!(false, "end_send for producer {producer}, outside the run");
            return;
        };
        for (i, seq) in self.seqs(first_seq, count).enumerate() {
            let word = match outcome {
                // Message i of the request was stored at base_offset + i.
                SendOutcome::Acked { base_offset } => {
                    base_offset.saturating_add(i as u64).min(MAX_ACK_OFFSET)
                }
                SendOutcome::Failed => ACK_FAILED,
                SendOutcome::Unknown => ACK_UNKNOWN,
            };
            arrays.ack[seq].store(word, Relaxed);
        }
        let start_ns = usize::try_from(first_seq)
            .ok()
            .and_then(|s| arrays.send_start_ns.get(s))
            .map(|w| w.load(Relaxed))
            .filter(|&t| t != NONE)
            .unwrap_or(end_ns);
        let (outcome_kind, first_offset) = match outcome {
            SendOutcome::Acked { base_offset } => (OperationOutcome::Ok, base_offset),
            SendOutcome::Failed => (OperationOutcome::Failed, NO_OFFSET),
            SendOutcome::Unknown => (OperationOutcome::Unknown, NO_OFFSET),
        };
        let op = Operation {
            start_ns,
            first_offset,
            seq_or_high_watermark: first_seq,
            duration_ns: u32::try_from(end_ns.saturating_sub(start_ns)).unwrap_or(u32::MAX),
            count,
            topic: self.shape.topic_of(producer),
            kind: OperationKind::Send,
            outcome: outcome_kind,
        };
        let mut log = arrays.log.lock();
        let counts = &mut log.counts;
        let messages = u64::from(count);
        match outcome {
            SendOutcome::Acked { .. } => {
                counts.sends_acked += 1;
                counts.messages_acked += messages;
            }
            SendOutcome::Failed => {
                counts.sends_failed += 1;
                counts.messages_failed += messages;
            }
            SendOutcome::Unknown => {
                counts.sends_unknown += 1;
                counts.messages_unknown += messages;
            }
        }
        if outcome_kind == OperationOutcome::Ok && first_seq >= self.warmup_messages_per_producer {
            log.latency_us.saturating_record(end_ns.saturating_sub(start_ns) / 1_000);
        }
        log.push(op, outcome_kind != OperationOutcome::Ok);
    }

    /// A recorder for consumer `consumer`, to be owned by that consumer's thread. It hands its
    /// findings to the history when dropped; drop every recorder before `check`.
    pub fn consumer(&self, consumer: u32) -> ConsumerRecorder<'_> {
        self.consumers_ran.store(true, Relaxed);
        self.live_recorders.fetch_add(1, Relaxed);
        let topics = self.shape.topics as usize;
        ConsumerRecorder {
            history: self,
            consumer,
            cursors: vec![Cursor::default(); topics],
            tally: Tally::default(),
            log: ActorLog::new(),
            corrupt_ranges: Vec::new(),
        }
    }

    /// The recorder of the final drain. Make it once the load has stopped (every consumer
    /// recorder dropped): the drain's findings are compared with the load's.
    pub fn drain(&self) -> DrainRecorder<'_> {
        self.live_recorders.fetch_add(1, Relaxed);
        let topics = self.shape.topics as usize;
        DrainRecorder {
            history: self,
            end: vec![None; topics],
            corrupt_ranges: Vec::new(),
            counts: OperationCounts::default(),
            tally: Tally::default(),
        }
    }

    /// Whether any consumer recorder was made (a run with `--consumers 0` makes none).
    pub fn consumers_ran(&self) -> bool {
        self.consumers_ran.load(Relaxed)
    }

    /// Recorders made and not yet dropped.
    pub(super) fn live_recorders(&self) -> usize {
        self.live_recorders.load(Relaxed)
    }

    /// Produce latency in µs, one entry per acknowledged request after the warm-up.
    pub fn produce_latency_us(&self) -> Histogram<u64> {
        let mut total = latency_histogram();
        for p in &self.producers {
            // Auto-resizing histograms cannot fail to add.
            total.add(&p.log.lock().latency_us).ok();
        }
        total
    }

    /// Consume latency in µs, one entry per value after the warm-up: from the start of its
    /// send to the end of the fetch that first delivered it to any consumer. Complete once
    /// every consumer recorder has been dropped.
    pub fn consume_latency_us(&self) -> Histogram<u64> {
        self.observed.lock().consume_latency_us.clone()
    }

    /// Records each consumer read, by consumer number, sorted (exact; complete once every
    /// consumer recorder has been dropped).
    pub fn records_read_per_consumer(&self) -> Vec<(u32, u64)> {
        let mut by = self.observed.lock().records_read_by.clone();
        by.sort_unstable();
        by
    }

    /// Exact operation totals over producers, dropped consumers and the drain.
    pub fn operation_counts(&self) -> OperationCounts {
        let mut counts = self.observed.lock().counts;
        for p in &self.producers {
            counts.merge(&p.log.lock().counts);
        }
        counts
    }

    /// Calls `visit` for every kept operation, actor by actor, each actor's in recording order.
    pub fn for_each_operation(&self, mut visit: impl FnMut(Actor, &Operation)) {
        for (id, p) in self.producers.iter().enumerate() {
            for op in &p.log.lock().operations {
                visit(Actor::Producer(id as u32), op);
            }
        }
        for (consumer, ops) in &self.observed.lock().consumer_logs {
            for op in ops {
                visit(Actor::Consumer(*consumer), op);
            }
        }
    }

    /// The heap this history holds now: its arrays, overflow slots and operation logs
    /// (histograms, a few KiB each, left out).
    pub fn heap_bytes(&self) -> u64 {
        let word = 8u64;
        let mut bytes = 0u64;
        for p in &self.producers {
            bytes += (p.send_start_ns.capacity() + p.ack.capacity() + p.first_read_offset.capacity()) as u64
                * word;
            bytes += p.flags.capacity() as u64;
            bytes += (p.log.lock().operations.capacity() * std::mem::size_of::<Operation>()) as u64;
        }
        for t in &self.topics {
            bytes += (t.capacity() * std::mem::size_of::<OffsetSlot>()) as u64;
        }
        bytes += (self.overflow.lock().capacity() * (std::mem::size_of::<OffsetSlot>() + 16)) as u64;
        let observed = self.observed.lock();
        for (_, ops) in &observed.consumer_logs {
            bytes += (ops.capacity() * std::mem::size_of::<Operation>()) as u64;
        }
        bytes
    }

    /// The seqs of a request, clamped to the run's (a request outside it records nothing).
    fn seqs(&self, first_seq: u64, count: u32) -> std::ops::Range<usize> {
        let end = first_seq.saturating_add(u64::from(count)).min(self.shape.messages_per_producer);
        let start = first_seq.min(end);
        to_len(start)..to_len(end)
    }

    /// The value index of `id` if it is a value of this run sent to `topic`.
    pub(super) fn value_index(&self, id: ValueId, topic: u32) -> Option<u64> {
        (id.producer < self.shape.producers
            && id.seq < self.shape.messages_per_producer
            && self.shape.topic_of(id.producer) == topic)
            .then(|| u64::from(id.producer) * self.shape.messages_per_producer + id.seq)
    }

    /// The value a value index names.
    pub(super) fn value_id(&self, value_index: u64) -> ValueId {
        let m = self.shape.messages_per_producer.max(1);
        ValueId { producer: (value_index / m) as u32, seq: value_index % m }
    }

    /// Runs `f` on the slot of (topic, offset): a dense one, or an overflow one made on demand.
    pub(super) fn with_slot<R>(&self, topic: u32, offset: u64, f: impl FnOnce(&OffsetSlot) -> R) -> R {
        let dense = self
            .topics
            .get(topic as usize)
            .and_then(|slots| usize::try_from(offset).ok().and_then(|o| slots.get(o)));
        match dense {
            Some(slot) => f(slot),
            None => f(self.overflow.lock().entry((topic, offset)).or_default()),
        }
    }

    /// Records that `value_index` (of `producer`, `seq`) was delivered at (topic, offset).
    /// Returns whether this was the value's first delivery during the load.
    fn deliver(&self, value: ValueId, value_index: u64, topic: u32, offset: u64) -> bool {
        let arrays = &self.producers[value.producer as usize];
        let seq = value.seq as usize;
        let first = match arrays.first_read_offset[seq].compare_exchange(NONE, offset, Relaxed, Relaxed) {
            Ok(_) => true,
            Err(earlier) => {
                if earlier != offset {
                    arrays.flags[seq].fetch_or(DUPLICATED, Relaxed);
                }
                false
            }
        };
        self.with_slot(topic, offset, |slot| associate(&slot.read, value_index));
        first
    }
}

/// A vector of `len` atomics holding `value`.
fn atomics(len: usize, value: u64) -> Vec<AtomicU64> {
    (0..len).map(|_| AtomicU64::new(value)).collect()
}

/// A count as a vector length.
fn to_len(n: u64) -> usize {
    usize::try_from(n).unwrap_or_else(|_| panic!("{n} elements cannot be addressed on this platform"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_histograms_keep_latencies_far_above_two_milliseconds() {
        let mut h = latency_histogram();
        h.saturating_record(5_000_000); // 5 s
        h.saturating_record(40);
        assert!(h.max() >= 4_990_000, "max {} µs: the histogram clamped", h.max());
        assert!(h.value_at_quantile(0.25) <= 41);
    }
    use crate::check::payload::encode_payload;

    fn shape(producers: u32, topics: u32, messages_per_producer: u64) -> RunShape {
        RunShape { seed: 5, producers, topics, messages_per_producer, message_bytes: 40 }
    }

    #[test]
    fn corrupt_reads_resume_at_the_next_interval_offset() {
        assert_eq!(corrupt_resume_offset(0), 100);
        assert_eq!(corrupt_resume_offset(99), 100);
        assert_eq!(corrupt_resume_offset(100), 200);
        assert_eq!(corrupt_resume_offset(150), 200);
        assert_eq!(corrupt_resume_offset(u64::MAX), u64::MAX);
    }

    #[test]
    fn topics_get_their_producers_round_robin() {
        let s = shape(5, 2, 10);
        assert_eq!((0..5).map(|p| s.topic_of(p)).collect::<Vec<_>>(), [0, 1, 0, 1, 0]);
        assert_eq!(s.messages_in_topic(0), 30);
        assert_eq!(s.messages_in_topic(1), 20);
        assert_eq!(s.messages_in_topic(2), 0);
        assert_eq!(s.total_messages(), 50);
    }

    #[test]
    fn the_clock_is_monotonic_and_sends_are_timed_with_it() {
        let h = History::new(shape(1, 1, 4));
        let a = h.now_ns();
        let start = h.begin_send(0, 0, 2);
        let b = h.now_ns();
        assert!(a <= start && start <= b);
        assert_eq!(h.producers[0].send_start_ns[1].load(Relaxed), start);
        assert_eq!(h.producers[0].send_start_ns[2].load(Relaxed), NONE);
    }

    #[test]
    fn send_outcomes_are_recorded_per_message() {
        let h = History::new(shape(1, 1, 6));
        for (first, outcome) in
            [(0, SendOutcome::Acked { base_offset: 10 }), (2, SendOutcome::Failed), (4, SendOutcome::Unknown)]
        {
            h.begin_send(0, first, 2);
            h.end_send(0, first, 2, outcome);
        }
        let p = &h.producers[0];
        let states: Vec<SendState> = (0..6).map(|s| p.send_state(s)).collect();
        assert_eq!(
            states,
            [
                SendState::Acked(10),
                SendState::Acked(11),
                SendState::Failed,
                SendState::Failed,
                SendState::Unknown,
                SendState::Unknown
            ]
        );
        let counts = h.operation_counts();
        assert_eq!((counts.sends_acked, counts.sends_failed, counts.sends_unknown), (1, 1, 1));
        assert_eq!(counts.messages_acked, 2);
        let mut ops = Vec::new();
        h.for_each_operation(|actor, op| ops.push((actor, *op)));
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].0, Actor::Producer(0));
        assert_eq!(ops[0].1.first_offset(), Some(10));
        assert_eq!(ops[1].1.first_seq(), Some(2));
        assert_eq!(ops[1].1.outcome, OperationOutcome::Failed);
        assert_eq!(h.produce_latency_us().len(), 1, "only acknowledged requests are timed");
    }

    #[test]
    fn value_words_keep_the_first_value_and_flag_a_different_one() {
        let w = AtomicU64::new(0);
        associate(&w, 7);
        associate(&w, 7);
        assert_eq!(w.load(Relaxed), 8);
        associate(&w, 9);
        assert_eq!(w.load(Relaxed), 8 | CONFLICT);
        associate(&w, 10);
        assert_eq!(w.load(Relaxed), 8 | CONFLICT);
    }

    #[test]
    fn a_consumer_recorder_times_first_deliveries_and_logs_its_fetches() {
        let h = History::with_warmup(shape(1, 1, 4), 1);
        let mut payloads = Vec::new();
        for seq in 0..4 {
            let mut p = Vec::new();
            encode_payload(5, 0, seq, 40, &mut p);
            payloads.push(p);
        }
        h.begin_send(0, 0, 4);
        h.end_send(0, 0, 4, SendOutcome::Acked { base_offset: 0 });
        {
            let mut c = h.consumer(3);
            let now = h.now_ns();
            let mut it = payloads.iter().enumerate().map(|(o, p)| (o as u64, p.as_slice()));
            let next =
                c.record_fetch(0, 0, now, now, FetchOutcome::Records { high_watermark: 4, records: &mut it });
            assert_eq!(next, 4);
            let again = c.record_fetch(0, 4, now, now, FetchOutcome::Error);
            assert_eq!(again, 4);
            let resume = c.record_fetch(0, 4, now, now, FetchOutcome::CorruptLog);
            assert_eq!(resume, 100);
            assert_eq!(h.live_recorders(), 1);
        }
        assert_eq!(h.live_recorders(), 0);
        assert!(h.consumers_ran());
        // Seq 0 is warm-up: three of four values timed.
        assert_eq!(h.consume_latency_us().len(), 3);
        let counts = h.operation_counts();
        assert_eq!((counts.fetches_ok, counts.fetches_failed, counts.fetches_corrupt), (1, 1, 1));
        assert_eq!(counts.records_read, 4);
        let mut fetches = Vec::new();
        h.for_each_operation(|actor, op| {
            if actor == Actor::Consumer(3) {
                fetches.push(*op)
            }
        });
        assert_eq!(fetches.len(), 3);
        assert_eq!(fetches[0].high_watermark(), Some(4));
        assert_eq!(fetches[0].count, 4);
        assert_eq!(fetches[2].outcome, OperationOutcome::Corrupt);
        assert_eq!(h.observed.lock().corrupt_ranges, [CorruptRange { topic: 0, start: 4, end: 100 }]);
    }

    #[test]
    fn operation_logs_keep_notable_operations_past_the_full_window_and_stop_at_the_cap() {
        let mut log = ActorLog::new();
        let op = Operation {
            start_ns: 0,
            first_offset: 0,
            seq_or_high_watermark: 0,
            duration_ns: 0,
            count: 1,
            topic: 0,
            kind: OperationKind::Send,
            outcome: OperationOutcome::Ok,
        };
        for _ in 0..OPERATIONS_KEPT_IN_FULL + 10 {
            log.push(op, false);
        }
        assert_eq!(log.operations.len(), OPERATIONS_KEPT_IN_FULL);
        assert_eq!(log.counts.operations_dropped, 10);
        for _ in 0..MAX_OPERATIONS_PER_ACTOR {
            log.push(op, true);
        }
        assert_eq!(log.operations.len(), MAX_OPERATIONS_PER_ACTOR);
        assert_eq!(log.counts.operations_dropped, 10 + OPERATIONS_KEPT_IN_FULL as u64);
    }

    #[test]
    fn heap_bytes_match_the_per_message_figure() {
        // 1 M messages is quick to build; the figure scales linearly (every array is per
        // message), so this pins the constant the 10 M estimate below relies on.
        let s =
            RunShape { seed: 1, producers: 8, topics: 3, messages_per_producer: 125_000, message_bytes: 100 };
        let h = History::new(s);
        let arrays = s.total_messages() * HISTORY_BYTES_PER_MESSAGE;
        assert_eq!(h.heap_bytes(), arrays);
        assert_eq!(std::mem::size_of::<OffsetSlot>(), 16);
    }

    #[test]
    fn ten_million_messages_fit_well_under_two_gib() {
        let s = RunShape {
            seed: 1,
            producers: 8,
            topics: 1,
            messages_per_producer: 1_250_000,
            message_bytes: 100,
        };
        assert_eq!(s.total_messages(), 10_000_000);
        // 8 producers + 8 consumers, their operation logs at the cap.
        let peak = s.peak_heap_bytes(16);
        assert!(peak < 1 << 30, "peak {peak} bytes");
        assert_eq!(s.total_messages() * (HISTORY_BYTES_PER_MESSAGE + CHECK_BYTES_PER_MESSAGE), 490_000_000);
    }
}
