//! The integrity checker for what producers and consumers observed (`docs/violations.md`, section C).
//!
//! # Concept
//!
//! After the load stops and the final drain has read every topic from offset 0, [`check`]
//! walks the [`History`] once and answers, for every value of the run and every (topic, offset),
//! the questions Jepsen's queue and Kafka checkers ask: was every acknowledged value stored? was
//! any value delivered twice, or one offset seen holding two values? did consumers skip or go
//! back? Violations the consumer recorders found while the load ran (skips, watermarks,
//! undecodable payloads) are added to the same tally. The file and index kinds (sections A and
//! B) are the storage verifier's, not this module's.
//!
//! # Terms
//!
//! - *acked*: `end_send` recorded `Acked`; the value's *ack offset* is `base_offset + i`.
//! - *read*: delivered to a consumer during the load (not counting the drain).
//! - *drained*: found by the final drain in the value's own topic.
//! - *extent* of a topic: the largest of one past the highest drained offset, the highest high
//!   watermark any consumer saw, and one past the highest ack offset — the offsets that exist.
//! - A value that was never answered (begun, never ended) counts as Unknown.
//!
//! # Definitions implemented (one cause, one kind)
//!
//! Each acked value lands in at most one of `lost`, `lost_write`, `unseen`; each disagreement
//! about an offset is counted under the pair of observations it is between: ack vs ack
//! (`ack_offset_collision`), ack vs drain (`ack_offset_mismatch`, or `lost` when the value is
//! nowhere in the drain), and anything involving a consumer read or two drain records
//! (`inconsistent_offsets`). One race still shows as several kinds when it breaks several of
//! these facts (an overwrite loses one value *and* gives two acks the same offset).
//!
//! | kind | counted once per | when |
//! |---|---|---|
//! | `lost` | acked value | it is not in the drain |
//! | `lost_write` | acked value | drained, never read, and its ack offset ≤ the highest offset any consumer read in its topic |
//! | `unseen` (info) | acked value | drained, never read, ack offset above that (or the topic never read); 0 when no consumer ran |
//! | `unexpected` | record read / value | a consumer got a payload that does not decode, names a producer or seq outside the run, or sits in a topic its producer never writes (per record); or a value of the run whose send never began (per value) |
//! | `duplicated` | value | delivered at two different offsets: two consumer reads, a read and the drain, or twice in the drain |
//! | `recovered` (info) | value | read or drained, although its send ended Unknown |
//! | `aborted_read` | value | read or drained, although its send Failed |
//! | `inconsistent_offsets` | (topic, offset) | two consumers read different values there; or the drain found two; or a read differs from the drain; or a read differs from the one ack there |
//! | `corrupt_read` | (topic, offset) | skipped by a consumer or the drain after CorruptLog, below the topic's extent |
//! | `ack_offset_mismatch` | acked value | drained, but the drain found another value (or none) at its ack offset |
//! | `ack_offset_collision` | acked value | another value, earlier in (producer, seq) order, was acked at the same offset |
//! | `nonmonotonic_send` | acked value | its ack offset ≤ the ack offset of its producer's previous acked value (seq order, i.e. send order; inside a batch offsets rise by construction, so this counts requests) |
//! | `poll_skip` | fetch | it starts (first record, or requested offset when empty) past the consumer's last offset + 1 while last + 1 is below the highest watermark the consumer saw there (those offsets exist) |
//! | `nonmonotonic_poll` | fetch | it starts at or before the consumer's last offset |
//! | `int_poll_skip` | record pair | inside one answer, offset `b > a + 1` while `a + 1` is below the highest watermark seen |
//! | `int_nonmonotonic_poll` | record pair | inside one answer, offset `b ≤ a` |
//! | `read_beyond_hw` | record | its offset ≥ the high watermark of the answer it came in |
//! | `hw_regression` | fetch | its high watermark is below the one of the consumer's previous answer on that topic |
//!
//! After CorruptLog the consumer resumes at the next index-interval offset with its position
//! moved there, so a corrupt skip is `corrupt_read` and never also `poll_skip`. Undecodable
//! records met by the drain are left to the file scan (`payload_checksum`, `unknown_value`),
//! which sees the same bytes; `unexpected` is about consumers.
//!
//! The "first ack" at an offset is the one of the lowest (producer, seq); acks are associated
//! with offsets here, after the load, in a transient table of 8 bytes per message (see the
//! history's memory table), so the result does not depend on the load's thread timing.
//!
//! # On all cores
//!
//! `check` runs after the load, so it uses every core (rayon): the ack table is built and the
//! values are walked in tasks of `SEQS_PER_TASK` (8 192) seqs of one producer, the offsets in chunks
//! of `OFFSETS_PER_TASK` (65 536). The result is the one a single walk in (producer, seq) order, then
//! offset order, gives, examples included: the owner of an offset is the lowest value tag
//! entered there, whatever the order of entry, and the tasks' tallies are merged in walk order
//! ([`Violations::merge`] keeps the first examples).

use super::history::{
    CorruptRange, DrainRecorder, History, OffsetSlot, ProducerArrays, SendState, CONFLICT, DRAINED,
    DUPLICATED, NONE, VALUE_MASK,
};
use super::payload::ValueId;
use crate::violations::{Example, Section, ViolationKind, Violations};
use parking_lot::Mutex;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Offsets one task of the offset walk checks (a chunk of a topic's slots, 1 MiB of them).
const OFFSETS_PER_TASK: usize = 1 << 16;

/// Seqs of one producer one task of the value walk checks: with 8 producers, the tasks of one
/// block touch about 64 Ki offsets (1.5 MiB of offset slots and owner words), which stay cached.
const SEQS_PER_TASK: usize = 1 << 13;

/// Checks everything section C of `docs/violations.md` covers and returns the tally, with every
/// `Section::Observed` kind marked checked.
///
/// Call it after every producer has ended its sends and every consumer recorder has been
/// dropped; `drain` is the recorder of the final read, consumed here. Topic `t` is named
/// `topic_names[t]` in the examples (`topic-<t>` when the list is short). Whether consumers ran
/// is known to the history (any [`History::consumer`] call).
pub fn check(history: &History, drain: DrainRecorder<'_>, topic_names: &[String]) -> Violations {
    // Dropping the drain recorder hands its findings to the history.
    drop(drain);
    debug_assert_eq!(history.live_recorders(), 0, "drop every consumer recorder before check");
    let mut violations = Violations::new();
    violations.checked(Section::Observed);

    let observed = history.observed.lock();
    let overflow = history.overflow.lock();
    let ctx = Ctx { history, topic_names, owners: AckOwners::build(history), overflow: &overflow };
    observed.tally.add_to(&mut violations, &|t| ctx.topic_name(t));

    // Values: every acked value's fate, and what was read or drained against how it was sent.
    let shape = *history.shape();
    let mut ack_end = vec![0u64; shape.topics as usize];
    for (producer, found, end) in ctx.check_values(&observed.max_read_offset) {
        violations.merge(&found);
        let topic = shape.topic_of(producer) as usize;
        ack_end[topic] = ack_end[topic].max(end);
    }

    // Offsets: every (topic, offset) some consumer read, against the other reads, the drain
    // and the ack there. One task per chunk of a topic's offsets, merged in offset order.
    for (topic, slots) in history.topics.iter().enumerate() {
        let per_chunk: Vec<Violations> = slots
            .par_chunks(OFFSETS_PER_TASK)
            .enumerate()
            .map(|(chunk, slots)| {
                let mut found = Violations::new();
                let first = (chunk * OFFSETS_PER_TASK) as u64;
                for (i, slot) in slots.iter().enumerate() {
                    let (read, drain) = (slot.read.load(Relaxed), slot.drain.load(Relaxed));
                    ctx.check_offset(topic as u32, first + i as u64, read, drain, &mut found);
                }
                found
            })
            .collect();
        for found in &per_chunk {
            violations.merge(found);
        }
    }
    let mut extra: Vec<(u32, u64, u64, u64)> =
        overflow.iter().map(|(&(t, o), s)| (t, o, s.read.load(Relaxed), s.drain.load(Relaxed))).collect();
    extra.sort_unstable();
    for (topic, offset, read, drain) in extra {
        ctx.check_offset(topic, offset, read, drain, &mut violations);
    }

    // Corrupt reads: the union of skipped ranges, cut at each topic's extent.
    let extent: Vec<u64> = (0..shape.topics as usize)
        .map(|t| {
            let drained = observed.drain_end[t].unwrap_or(0);
            let watermark = observed.max_high_watermark[t].unwrap_or(0);
            drained.max(watermark).max(ack_end[t])
        })
        .collect();
    for range in merge_ranges(&observed.corrupt_ranges) {
        let end = range.end.min(extent.get(range.topic as usize).copied().unwrap_or(0));
        if end > range.start {
            let e = Example::detail(format!("offsets {}..{end} skipped after CorruptLog", range.start))
                .topic(&ctx.topic_name(range.topic))
                .offset(range.start);
            violations.add_many(ViolationKind::CorruptRead, end - range.start, e);
        }
    }
    violations
}

/// What `check` reads while it runs: the history, the ack owners it built, the overflow slots.
struct Ctx<'a> {
    history: &'a History,
    topic_names: &'a [String],
    owners: AckOwners,
    overflow: &'a HashMap<(u32, u64), OffsetSlot>,
}

/// One producer as `check_producer` sees it.
struct ProducerView {
    producer: u32,
    topic: u32,
    /// The highest offset any consumer read in the producer's topic during the load.
    max_read: Option<u64>,
    consumers_ran: bool,
}

/// One value of a producer: its id, its value-word tag and what became of it.
struct ValueView {
    value: ValueId,
    tag: u64,
    /// The offset it was first delivered at during the load.
    read_at: Option<u64>,
    drained: bool,
}

impl Ctx<'_> {
    /// Topic `t`'s name in examples (`topic-<t>` when the list is short).
    fn topic_name(&self, t: u32) -> String {
        self.topic_names.get(t as usize).cloned().unwrap_or_else(|| format!("topic-{t}"))
    }

    /// The (read, drain) value words at (topic, offset).
    fn words_at(&self, topic: u32, offset: u64) -> (u64, u64) {
        let dense = self
            .history
            .topics
            .get(topic as usize)
            .and_then(|slots| usize::try_from(offset).ok().and_then(|o| slots.get(o)));
        match dense.or_else(|| self.overflow.get(&(topic, offset))) {
            Some(slot) => (slot.read.load(Relaxed), slot.drain.load(Relaxed)),
            None => (0, 0),
        }
    }

    /// A value word in words: "producer 1 seq 7", "nothing", "… and another value".
    fn describe(&self, word: u64) -> String {
        match word & VALUE_MASK {
            0 => "nothing".to_string(),
            tag => {
                let v = self.history.value_id(tag - 1);
                let more = if word & CONFLICT != 0 { " and another value" } else { "" };
                format!("producer {} seq {}{more}", v.producer, v.seq)
            }
        }
    }

    fn example(&self, topic: u32, offset: Option<u64>, value: ValueId, detail: String) -> Example {
        let mut e = Example::detail(detail).topic(&self.topic_name(topic)).value(value.producer, value.seq);
        if let Some(o) = offset {
            e = e.offset(o);
        }
        e
    }

    /// Checks every value of every producer, in tasks of [`SEQS_PER_TASK`] seqs of one producer
    /// run on all cores; returns, per producer in order, its findings and one past the highest
    /// offset acked to it.
    ///
    /// The tasks run seq block by seq block across the producers, so the cores walk the offset
    /// tables (which producers' acks interleave) roughly front to back, each in its own region;
    /// the findings are merged per producer in seq order, so the examples kept are those one
    /// walk in (producer, seq) order would keep.
    fn check_values(&self, max_read: &[Option<u64>]) -> Vec<(u32, Violations, u64)> {
        let shape = self.history.shape();
        let producers = shape.producers as usize;
        let blocks =
            usize::try_from(shape.messages_per_producer).unwrap_or(usize::MAX).div_ceil(SEQS_PER_TASK);
        // Per producer, per block: the producer's last acked offset before the block.
        let previous: Vec<Vec<Option<u64>>> =
            self.history.producers.par_iter().map(|arrays| acks_before_blocks(arrays, blocks)).collect();
        let found: Vec<(Violations, u64)> = (0..blocks * producers)
            .into_par_iter()
            .map(|task| {
                let (block, producer) = (task / producers, task % producers);
                let topic = shape.topic_of(producer as u32);
                let view = ProducerView {
                    producer: producer as u32,
                    topic,
                    max_read: max_read[topic as usize],
                    consumers_ran: self.history.consumers_ran(),
                };
                let seqs = block * SEQS_PER_TASK
                    ..((block + 1) * SEQS_PER_TASK).min(self.history.producers[producer].ack.len());
                let mut found = Violations::new();
                let end = self.check_producer(&view, seqs, previous[producer][block], &mut found);
                (found, end)
            })
            .collect();
        (0..producers)
            .map(|producer| {
                let mut all = Violations::new();
                let mut ack_end = 0;
                for block in 0..blocks {
                    let (found, end) = &found[block * producers + producer];
                    all.merge(found);
                    ack_end = ack_end.max(*end);
                }
                (producer as u32, all, ack_end)
            })
            .collect()
    }

    /// Checks the values `seqs` of one producer, whose last acked offset before them was
    /// `previous_ack`; returns one past the highest offset acked to them.
    fn check_producer(
        &self,
        p: &ProducerView,
        seqs: std::ops::Range<usize>,
        mut previous_ack: Option<u64>,
        violations: &mut Violations,
    ) -> u64 {
        let shape = self.history.shape();
        let arrays = &self.history.producers[p.producer as usize];
        let (topic, mut ack_end) = (p.topic, 0u64);
        for seq in seqs {
            let first_read = arrays.first_read_offset[seq].load(Relaxed);
            let flags = arrays.flags[seq].load(Relaxed);
            let v = ValueView {
                value: ValueId { producer: p.producer, seq: seq as u64 },
                tag: u64::from(p.producer) * shape.messages_per_producer + seq as u64 + 1,
                read_at: (first_read != NONE).then_some(first_read),
                drained: flags & DRAINED != 0,
            };
            let read = v.read_at.is_some();
            let state = arrays.send_state(seq);
            if read && state == SendState::NotSent {
                let e = self.example(topic, v.read_at, v.value, "read but never sent".into());
                violations.add(ViolationKind::Unexpected, e);
            }
            if flags & DUPLICATED != 0 {
                let e = self.example(topic, v.read_at, v.value, "delivered at two offsets".into());
                violations.add(ViolationKind::Duplicated, e);
            }
            match state {
                SendState::Acked(offset) => {
                    ack_end = ack_end.max(offset.saturating_add(1));
                    self.check_acked(p, &v, offset, previous_ack, violations);
                    previous_ack = Some(offset);
                }
                SendState::Failed if read || v.drained => {
                    let detail = "read although its send failed".to_string();
                    violations
                        .add(ViolationKind::AbortedRead, self.example(topic, v.read_at, v.value, detail));
                }
                SendState::Unknown | SendState::Pending if read || v.drained => {
                    let detail = "read although its send ended unknown".to_string();
                    violations.add(ViolationKind::Recovered, self.example(topic, v.read_at, v.value, detail));
                }
                _ => {}
            }
        }
        ack_end
    }

    /// Checks one value acked at `offset`: its ack against the others, the drain and the reads.
    fn check_acked(
        &self,
        p: &ProducerView,
        v: &ValueView,
        offset: u64,
        previous_ack: Option<u64>,
        violations: &mut Violations,
    ) {
        let (topic, value) = (p.topic, v.value);
        let owner = self.owners.get(topic, offset);
        if owner & VALUE_MASK != v.tag {
            let detail = format!("offset already acknowledged to {}", self.describe(owner & VALUE_MASK));
            violations
                .add(ViolationKind::AckOffsetCollision, self.example(topic, Some(offset), value, detail));
        }
        if let Some(prev) = previous_ack.filter(|&prev| offset <= prev) {
            let detail = format!("acknowledged after offset {prev}");
            violations.add(ViolationKind::NonmonotonicSend, self.example(topic, Some(offset), value, detail));
        }
        if !v.drained {
            let detail = "acknowledged, absent from the drain".to_string();
            violations.add(ViolationKind::Lost, self.example(topic, Some(offset), value, detail));
            return;
        }
        let (_, drain_word) = self.words_at(topic, offset);
        if drain_word & VALUE_MASK != v.tag {
            let detail = format!("the drain found {} there", self.describe(drain_word));
            violations
                .add(ViolationKind::AckOffsetMismatch, self.example(topic, Some(offset), value, detail));
        }
        if p.consumers_ran && v.read_at.is_none() {
            if p.max_read.is_some_and(|m| offset <= m) {
                let detail =
                    format!("consumers read up to offset {} but never this", p.max_read.unwrap_or(0));
                violations.add(ViolationKind::LostWrite, self.example(topic, Some(offset), value, detail));
            } else {
                let detail = "acknowledged, read by no consumer during the load".to_string();
                violations.add(ViolationKind::Unseen, self.example(topic, Some(offset), value, detail));
            }
        }
    }

    /// Checks what consumers read at (topic, offset) against the other reads, the drain and
    /// the ack there.
    fn check_offset(&self, topic: u32, offset: u64, read: u64, drain: u64, violations: &mut Violations) {
        let ack = self.owners.get(topic, offset);
        let (r, d, a) = (read & VALUE_MASK, drain & VALUE_MASK, ack & VALUE_MASK);
        let disagree = read & CONFLICT != 0
            || drain & CONFLICT != 0
            || (r != 0 && d != 0 && r != d)
            || (r != 0 && a != 0 && ack & CONFLICT == 0 && r != a);
        if disagree {
            let detail = format!(
                "consumers read {}, the drain found {}, acked to {}",
                self.describe(read),
                self.describe(drain),
                self.describe(ack)
            );
            let mut e = Example::detail(detail).topic(&self.topic_name(topic)).offset(offset);
            if r != 0 {
                let v = self.history.value_id(r - 1);
                e = e.value(v.producer, v.seq);
            }
            violations.add(ViolationKind::InconsistentOffsets, e);
        }
    }
}

/// Sorts ranges and merges those of one topic that overlap or touch.
fn merge_ranges(ranges: &[CorruptRange]) -> Vec<CorruptRange> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut merged: Vec<CorruptRange> = Vec::with_capacity(sorted.len());
    for r in sorted {
        match merged.last_mut() {
            Some(m) if m.topic == r.topic && r.start <= m.end => m.end = m.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// Per block of [`SEQS_PER_TASK`] seqs of one producer: its last acked offset before the block.
fn acks_before_blocks(arrays: &ProducerArrays, blocks: usize) -> Vec<Option<u64>> {
    let mut previous = Vec::with_capacity(blocks);
    let mut last = None;
    for seq in 0..arrays.ack.len() {
        if seq % SEQS_PER_TASK == 0 {
            previous.push(last);
        }
        if let SendState::Acked(offset) = arrays.send_state(seq) {
            last = Some(offset);
        }
    }
    previous.resize(blocks, last);
    previous
}

/// Which value was acknowledged at each (topic, offset), built by `check` alone.
///
/// A word per offset in the value-word format of the history: the first acked value in
/// (producer, seq) order, `CONFLICT` when another value was acked there too. Since value tags
/// rise in (producer, seq) order, the first is the lowest tag, which makes the table the same
/// whatever order the acks are entered in: it is built on all cores, seq block by seq block.
struct AckOwners {
    /// Indexed by topic, then offset (the topic's capacity).
    dense: Vec<Vec<AtomicU64>>,
    /// Offsets at or past a topic's capacity.
    overflow: HashMap<(u32, u64), u64>,
}

impl AckOwners {
    fn build(history: &History) -> AckOwners {
        let shape = history.shape();
        let dense: Vec<Vec<AtomicU64>> = history
            .topics
            .iter()
            .map(|slots| (0..slots.len()).into_par_iter().map(|_| AtomicU64::new(0)).collect())
            .collect();
        let overflow = Mutex::new(HashMap::new());
        let producers = history.producers.len();
        let blocks =
            usize::try_from(shape.messages_per_producer).unwrap_or(usize::MAX).div_ceil(SEQS_PER_TASK);
        (0..blocks * producers).into_par_iter().for_each(|task| {
            let (block, producer) = (task / producers, task % producers);
            let arrays = &history.producers[producer];
            let topic = shape.topic_of(producer as u32);
            let end = ((block + 1) * SEQS_PER_TASK).min(arrays.ack.len());
            for seq in block * SEQS_PER_TASK..end {
                if let SendState::Acked(offset) = arrays.send_state(seq) {
                    let tag = producer as u64 * shape.messages_per_producer + seq as u64 + 1;
                    let slot = dense
                        .get(topic as usize)
                        .and_then(|w| usize::try_from(offset).ok().and_then(|o| w.get(o)));
                    match slot {
                        Some(word) => claim(word, tag),
                        None => {
                            let mut overflow = overflow.lock();
                            let word = overflow.entry((topic, offset)).or_insert(0);
                            let claimed = AtomicU64::new(*word);
                            claim(&claimed, tag);
                            *word = claimed.into_inner();
                        }
                    }
                }
            }
        });
        AckOwners { dense, overflow: overflow.into_inner() }
    }

    fn get(&self, topic: u32, offset: u64) -> u64 {
        self.dense
            .get(topic as usize)
            .and_then(|w| usize::try_from(offset).ok().and_then(|o| w.get(o)))
            .map(|word| word.load(Relaxed))
            .or_else(|| self.overflow.get(&(topic, offset)).copied())
            .unwrap_or(0)
    }
}

/// Enters the ack of the value tagged `tag` in an owner word: the lowest tag owns it,
/// `CONFLICT` marks a second one.
fn claim(word: &AtomicU64, tag: u64) {
    let Err(mut current) = word.compare_exchange(0, tag, Relaxed, Relaxed) else { return };
    loop {
        let owner = current & VALUE_MASK;
        let next = if owner == tag { current } else { owner.min(tag) | CONFLICT };
        if next == current {
            return;
        }
        match word.compare_exchange_weak(current, next, Relaxed, Relaxed) {
            Ok(_) => return,
            Err(now) => current = now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::{ConsumerRecorder, FetchOutcome, RunShape, SendOutcome};
    use crate::check::payload::encode_payload;
    use crate::violations::MAX_EXAMPLES;
    use proptest::prelude::*;
    use ViolationKind::*;

    const SEED: u64 = 42;
    const MESSAGE_BYTES: usize = 40;

    fn shape(producers: u32, topics: u32, messages_per_producer: u64) -> RunShape {
        RunShape { seed: SEED, producers, topics, messages_per_producer, message_bytes: MESSAGE_BYTES }
    }

    /// The payload of value (producer, seq).
    fn pl(producer: u32, seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        encode_payload(SEED, producer, seq, MESSAGE_BYTES, &mut out);
        out
    }

    /// Records one request of `count` messages from `first`, ended with `outcome`.
    fn send(h: &History, producer: u32, first: u64, count: u32, outcome: SendOutcome) {
        h.begin_send(producer, first, count);
        h.end_send(producer, first, count, outcome);
    }

    fn acked(base_offset: u64) -> SendOutcome {
        SendOutcome::Acked { base_offset }
    }

    /// Records a fetch of `topic` at `requested` answered with `records` and `hw`.
    fn fetch(
        c: &mut ConsumerRecorder<'_>,
        topic: u32,
        requested: u64,
        hw: u64,
        records: &[(u64, Vec<u8>)],
    ) -> u64 {
        let mut it = records.iter().map(|(o, p)| (*o, p.as_slice()));
        c.record_fetch(topic, requested, 0, 0, FetchOutcome::Records { high_watermark: hw, records: &mut it })
    }

    /// A log whose offset `i` holds `values[i]`.
    fn log(values: &[(u32, u64)]) -> Vec<(u64, Vec<u8>)> {
        values.iter().enumerate().map(|(o, &(p, s))| (o as u64, pl(p, s))).collect()
    }

    /// Drains `topics` (topic index → records) and checks.
    fn drain_and_check(h: &History, topics: &[Vec<(u64, Vec<u8>)>]) -> Violations {
        let mut d = h.drain();
        for (t, records) in topics.iter().enumerate() {
            for (o, p) in records {
                d.record(t as u32, *o, p);
            }
        }
        check(h, d, &[])
    }

    /// Asserts the exact count of every section C kind: those listed, and 0 for the rest.
    #[track_caller]
    fn assert_counts(v: &Violations, expected: &[(ViolationKind, u64)]) {
        for &kind in ViolationKind::ALL {
            if kind.section() != Section::Observed {
                assert_eq!(v.get(kind), None, "{kind} is not the checker's");
                continue;
            }
            let want = expected.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n);
            assert_eq!(v.get(kind), Some(want), "{kind}: examples {:?}", v.examples(kind));
        }
    }

    #[test]
    fn lost_counts_acked_values_missing_from_the_drain() {
        let h = History::new(shape(1, 1, 5));
        send(&h, 0, 0, 5, acked(0));
        // The broker acknowledged five but kept three.
        let v = drain_and_check(&h, &[log(&[(0, 0), (0, 1), (0, 2)])]);
        assert_counts(&v, &[(Lost, 2)]);
        let e = &v.examples(Lost)[0];
        assert_eq!(
            (e.topic.as_deref(), e.offset, e.producer, e.seq),
            (Some("topic-0"), Some(3), Some(0), Some(3))
        );
    }

    #[test]
    fn lost_write_counts_values_consumers_read_past_and_unseen_the_ones_above() {
        let h = History::new(shape(1, 1, 8));
        send(&h, 0, 0, 8, acked(0));
        let full = log(&(0..8).map(|s| (0, s)).collect::<Vec<_>>());
        {
            let mut c = h.consumer(0);
            let next = fetch(&mut c, 0, 0, 8, &full[0..3]);
            // The broker answers the fetch at 3 from offset 5: 3 and 4 are skipped.
            assert_eq!(fetch(&mut c, 0, next, 8, &full[5..6]), 6);
        }
        let v = drain_and_check(&h, &[full]);
        // 3 and 4 lie below offset 5, which was read; 6 and 7 lie above everything read.
        assert_counts(&v, &[(LostWrite, 2), (PollSkip, 1), (Unseen, 2)]);
    }

    #[test]
    fn unseen_and_lost_write_stay_zero_without_consumers() {
        let h = History::new(shape(2, 1, 3));
        send(&h, 0, 0, 3, acked(0));
        send(&h, 1, 0, 3, acked(3));
        let v = drain_and_check(&h, &[log(&[(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)])]);
        assert!(!h.consumers_ran());
        assert_counts(&v, &[]);
    }

    #[test]
    fn unexpected_counts_foreign_records_and_values_nobody_sent() {
        let h = History::new(shape(2, 2, 4));
        send(&h, 0, 0, 1, acked(0));
        let mut garbage = pl(0, 1);
        garbage[5] ^= 1;
        let mut other_run = Vec::new();
        encode_payload(SEED + 1, 0, 1, MESSAGE_BYTES, &mut other_run);
        let topic0 = vec![
            (0, pl(0, 0)),
            (1, garbage),   // checksum fails
            (2, other_run), // body of another seed
            (3, pl(9, 0)),  // producer 9 is not in the run
            (4, pl(1, 0)),  // producer 1 writes to topic 1, not 0
            (5, pl(0, 3)),  // in the run, but producer 0 never sent seq 3
        ];
        for consumer in 0..2 {
            let mut c = h.consumer(consumer);
            fetch(&mut c, 0, 0, 6, &topic0);
        }
        let v = drain_and_check(&h, &[topic0, vec![]]);
        // Two consumers × four foreign records, plus one value nobody sent (once per value);
        // the drain met the four foreign records once.
        assert_counts(&v, &[(Unexpected, 9), (ForeignRecord, 4)]);
        assert_eq!(h.operation_counts().drain_foreign_records, 4);
    }

    #[test]
    fn foreign_record_counts_drained_records_of_no_producer_even_without_consumers() {
        // A remote broker serving garbage to a run with no consumers: only the drain sees it.
        let h = History::new(shape(1, 1, 2));
        send(&h, 0, 0, 2, acked(0));
        let mut garbage = vec![0xAB; MESSAGE_BYTES];
        garbage[0] = 0;
        let topic0 = vec![(0, pl(0, 0)), (1, pl(0, 1)), (2, garbage), (3, pl(7, 0))];
        let v = drain_and_check(&h, &[topic0]);
        assert_counts(&v, &[(ForeignRecord, 2)]);
        assert!(!v.is_clean(), "a foreign record is an error, not informational");
        let e = &v.examples(ForeignRecord)[1];
        assert_eq!((e.offset, e.producer), (Some(3), Some(7)), "{e:?}");
        assert_eq!(h.operation_counts().drain_foreign_records, 2);
    }

    #[test]
    fn duplicated_counts_values_delivered_at_two_offsets() {
        let h = History::new(shape(1, 1, 4));
        send(&h, 0, 0, 1, acked(0));
        send(&h, 0, 1, 1, acked(1));
        send(&h, 0, 2, 1, acked(3));
        send(&h, 0, 3, 1, SendOutcome::Unknown);
        // Value 0 was stored again at offset 2 (and value 3 never made it).
        let topic = log(&[(0, 0), (0, 1), (0, 0), (0, 2)]);
        {
            let mut c = h.consumer(0);
            fetch(&mut c, 0, 0, 4, &topic);
        }
        let v = drain_and_check(&h, &[topic]);
        assert_counts(&v, &[(Duplicated, 1)]);
    }

    #[test]
    fn duplicated_counts_a_value_found_twice_by_the_drain_alone() {
        let h = History::new(shape(1, 1, 2));
        send(&h, 0, 0, 2, acked(0));
        let v = drain_and_check(&h, &[log(&[(0, 0), (0, 1), (0, 1)])]);
        assert_counts(&v, &[(Duplicated, 1)]);
    }

    #[test]
    fn recovered_counts_unknown_sends_that_were_read() {
        let h = History::new(shape(1, 1, 4));
        send(&h, 0, 0, 1, SendOutcome::Unknown); // stored: recovered
        send(&h, 0, 1, 1, SendOutcome::Unknown); // not stored: nothing
        h.begin_send(0, 2, 1); // never answered, stored: recovered
        send(&h, 0, 3, 1, acked(2));
        let topic = log(&[(0, 0), (0, 2), (0, 3)]);
        {
            let mut c = h.consumer(0);
            fetch(&mut c, 0, 0, 3, &topic);
        }
        let v = drain_and_check(&h, &[topic]);
        assert_counts(&v, &[(Recovered, 2)]);
        assert!(v.is_clean());
    }

    #[test]
    fn aborted_read_counts_failed_sends_that_were_read_or_drained() {
        let h = History::new(shape(1, 1, 4));
        send(&h, 0, 0, 2, SendOutcome::Failed); // both stored anyway
        send(&h, 0, 2, 1, SendOutcome::Failed); // correctly absent
        send(&h, 0, 3, 1, acked(2));
        let topic = log(&[(0, 0), (0, 1), (0, 3)]);
        {
            let mut c = h.consumer(0);
            fetch(&mut c, 0, 0, 3, &topic);
        }
        let v = drain_and_check(&h, &[topic]);
        assert_counts(&v, &[(AbortedRead, 2)]);
    }

    #[test]
    fn inconsistent_offsets_counts_offsets_seen_with_two_values() {
        let h = History::new(shape(1, 1, 5));
        // Offset 0: two consumers read different values there (neither send was answered).
        send(&h, 0, 0, 1, SendOutcome::Unknown);
        send(&h, 0, 1, 1, SendOutcome::Unknown);
        // Offset 1: value 2 is acked, read and drained there, but another consumer read value 3.
        send(&h, 0, 2, 1, acked(1));
        send(&h, 0, 3, 1, SendOutcome::Unknown);
        // Offset 2: a consumer read value 4, the drain finds value 1.
        send(&h, 0, 4, 1, SendOutcome::Unknown);
        {
            let mut a = h.consumer(0);
            fetch(&mut a, 0, 0, 3, &[(0, pl(0, 0)), (1, pl(0, 3)), (2, pl(0, 4))]);
            let mut b = h.consumer(1);
            fetch(&mut b, 0, 0, 2, &[(0, pl(0, 1)), (1, pl(0, 2))]);
        }
        let v = drain_and_check(&h, &[log(&[(0, 1), (0, 2), (0, 1)])]);
        // Value 1 is also drained at two offsets (0 and 2); values 0, 1, 3, 4 were read
        // although their sends were never answered.
        assert_counts(&v, &[(InconsistentOffsets, 3), (Duplicated, 1), (Recovered, 4)]);
    }

    #[test]
    fn corrupt_read_counts_distinct_skipped_offsets_that_exist() {
        let h = History::new(shape(1, 1, 230));
        send(&h, 0, 0, 150, acked(0));
        send(&h, 0, 150, 50, SendOutcome::Unknown);
        send(&h, 0, 200, 20, acked(200));
        send(&h, 0, 220, 10, SendOutcome::Unknown);
        let topic = log(&(0..230).map(|s| (0, s)).collect::<Vec<_>>());
        for consumer in 0..2 {
            let mut c = h.consumer(consumer);
            let next = fetch(&mut c, 0, 0, 230, &topic[..150]);
            let resume = c.record_fetch(0, next, 0, 0, FetchOutcome::CorruptLog);
            assert_eq!(resume, 200);
            assert_eq!(fetch(&mut c, 0, resume, 230, &topic[200..220]), 220);
        }
        let mut d = h.drain();
        for (o, p) in topic[..150].iter().chain(&topic[200..220]) {
            d.record(0, *o, p);
        }
        d.corrupt(0, 150, 50); // the same offsets the consumers skipped
        d.corrupt(0, 220, 80); // only 220..230 exist
        let v = check(&h, d, &["orders".to_string()]);
        assert_counts(&v, &[(CorruptRead, 60)]);
        assert_eq!(v.examples(CorruptRead)[0].topic.as_deref(), Some("orders"));
    }

    #[test]
    fn ack_offset_mismatch_counts_acks_pointing_at_other_values() {
        let h = History::new(shape(1, 1, 3));
        send(&h, 0, 0, 1, acked(0));
        send(&h, 0, 1, 1, acked(1));
        send(&h, 0, 2, 1, acked(2));
        // The broker stored the first two the other way round.
        let v = drain_and_check(&h, &[log(&[(0, 1), (0, 0), (0, 2)])]);
        assert_counts(&v, &[(AckOffsetMismatch, 2)]);
    }

    #[test]
    fn ack_offset_collision_counts_every_ack_after_the_first_at_an_offset() {
        let h = History::new(shape(3, 1, 1));
        // The unsynchronized race: three producers read the same next offset; the last
        // write wins the bytes.
        for p in 0..3 {
            send(&h, p, 0, 1, acked(0));
        }
        let v = drain_and_check(&h, &[log(&[(2, 0)])]);
        assert_counts(&v, &[(AckOffsetCollision, 2), (Lost, 2)]);
    }

    #[test]
    fn ack_offset_collision_counts_overlapping_batches() {
        let h = History::new(shape(2, 1, 3));
        send(&h, 0, 0, 3, acked(0)); // offsets 0, 1, 2
        send(&h, 1, 0, 2, acked(1)); // offsets 1, 2 again
        send(&h, 1, 2, 1, acked(3));
        let v = drain_and_check(&h, &[log(&[(0, 0), (0, 1), (0, 2), (1, 2), (1, 0), (1, 1)])]);
        // Producer 1's first two values are stored, but at 4 and 5, not where they were acked.
        assert_counts(&v, &[(AckOffsetCollision, 2), (AckOffsetMismatch, 2), (NonmonotonicSend, 0)]);
    }

    #[test]
    fn nonmonotonic_send_counts_acks_that_do_not_rise() {
        let h = History::new(shape(1, 1, 3));
        send(&h, 0, 0, 1, acked(2));
        send(&h, 0, 1, 1, acked(1));
        send(&h, 0, 2, 1, acked(0));
        let v = drain_and_check(&h, &[log(&[(0, 2), (0, 1), (0, 0)])]);
        assert_counts(&v, &[(NonmonotonicSend, 2)]);
    }

    #[test]
    fn poll_skip_counts_fetches_that_jump_over_existing_offsets() {
        let h = History::new(shape(1, 1, 10));
        send(&h, 0, 0, 10, acked(0));
        let topic = log(&(0..10).map(|s| (0, s)).collect::<Vec<_>>());
        {
            let mut skipper = h.consumer(0);
            let next = fetch(&mut skipper, 0, 0, 10, &topic[0..3]);
            let next = fetch(&mut skipper, 0, next, 10, &topic[5..10]); // 3, 4 skipped: counted
            assert_eq!(next, 10);
            // Past the end: 10 and 11 do not exist (watermark 10), so no skip.
            fetch(&mut skipper, 0, 12, 10, &[]);
            let mut reader = h.consumer(1);
            fetch(&mut reader, 0, 0, 10, &topic);
        }
        let v = drain_and_check(&h, &[topic]);
        assert_counts(&v, &[(PollSkip, 1)]);
    }

    #[test]
    fn nonmonotonic_poll_counts_fetches_that_go_back() {
        let h = History::new(shape(1, 1, 6));
        send(&h, 0, 0, 6, acked(0));
        let topic = log(&(0..6).map(|s| (0, s)).collect::<Vec<_>>());
        {
            let mut c = h.consumer(0);
            let next = fetch(&mut c, 0, 0, 6, &topic[0..4]);
            // Asked for 4, got 2.. again: back.
            let next = fetch(&mut c, 0, next, 6, &topic[2..6]);
            // Asked for 0 again: back.
            fetch(&mut c, 0, 0, 6, &[]);
            assert_eq!(next, 6);
        }
        let v = drain_and_check(&h, &[topic]);
        assert_counts(&v, &[(NonmonotonicPoll, 2)]);
    }

    #[test]
    fn int_poll_skip_counts_gaps_inside_one_answer() {
        let h = History::new(shape(1, 1, 5));
        send(&h, 0, 0, 5, acked(0));
        let topic = log(&(0..5).map(|s| (0, s)).collect::<Vec<_>>());
        {
            let mut c = h.consumer(0);
            let gappy = [topic[0].clone(), topic[1].clone(), topic[3].clone(), topic[4].clone()];
            assert_eq!(fetch(&mut c, 0, 0, 5, &gappy), 5);
            let mut reader = h.consumer(1);
            fetch(&mut reader, 0, 0, 5, &topic);
        }
        let v = drain_and_check(&h, &[topic]);
        assert_counts(&v, &[(IntPollSkip, 1)]);
    }

    #[test]
    fn int_nonmonotonic_poll_counts_offsets_that_repeat_or_fall_inside_one_answer() {
        let h = History::new(shape(1, 1, 4));
        send(&h, 0, 0, 4, acked(0));
        let topic = log(&(0..4).map(|s| (0, s)).collect::<Vec<_>>());
        {
            let t = &topic;
            let mut a = h.consumer(0);
            // 1 after 2 goes back (once); reading on from there is no skip.
            let back = [t[0].clone(), t[1].clone(), t[2].clone(), t[1].clone(), t[2].clone(), t[3].clone()];
            fetch(&mut a, 0, 0, 4, &back);
            let mut b = h.consumer(1);
            // 1 twice: a repeat.
            let repeat = [t[0].clone(), t[1].clone(), t[1].clone(), t[2].clone(), t[3].clone()];
            fetch(&mut b, 0, 0, 4, &repeat);
        }
        let v = drain_and_check(&h, &[topic]);
        assert_counts(&v, &[(IntNonmonotonicPoll, 2)]);
    }

    #[test]
    fn read_beyond_hw_counts_records_at_or_past_the_watermark() {
        let h = History::new(shape(1, 1, 5));
        send(&h, 0, 0, 5, acked(0));
        let topic = log(&(0..5).map(|s| (0, s)).collect::<Vec<_>>());
        {
            let mut c = h.consumer(0);
            let next = fetch(&mut c, 0, 0, 3, &topic[0..4]); // offset 3 with watermark 3
            fetch(&mut c, 0, next, 5, &topic[4..5]);
        }
        let v = drain_and_check(&h, &[topic]);
        assert_counts(&v, &[(ReadBeyondHw, 1)]);
    }

    #[test]
    fn hw_regression_counts_each_fall_of_the_watermark() {
        let h = History::new(shape(1, 1, 5));
        send(&h, 0, 0, 5, acked(0));
        let topic = log(&(0..5).map(|s| (0, s)).collect::<Vec<_>>());
        {
            let mut c = h.consumer(0);
            let next = fetch(&mut c, 0, 0, 5, &topic[0..3]);
            fetch(&mut c, 0, next, 3, &[]); // 5 → 3: a fall
            fetch(&mut c, 0, next, 4, &[]); // rising again is fine
            fetch(&mut c, 0, next, 3, &[]); // 4 → 3: another fall
            fetch(&mut c, 0, next, 5, &topic[3..5]);
        }
        let v = drain_and_check(&h, &[topic]);
        assert_counts(&v, &[(HwRegression, 2)]);
    }

    #[test]
    fn unseen_counts_acked_values_consumers_never_reached() {
        let h = History::new(shape(1, 2, 5));
        send(&h, 0, 0, 5, acked(0));
        let topic = log(&(0..5).map(|s| (0, s)).collect::<Vec<_>>());
        {
            let mut c = h.consumer(0);
            fetch(&mut c, 0, 0, 5, &topic[0..3]);
        }
        let v = drain_and_check(&h, &[topic, vec![]]);
        assert_counts(&v, &[(Unseen, 2)]);
        assert!(v.is_clean());
    }

    #[test]
    fn examples_name_the_topic_and_the_value() {
        let h = History::new(shape(1, 2, 2));
        send(&h, 0, 0, 2, acked(0));
        let mut d = h.drain();
        d.record(0, 0, &pl(0, 0));
        let v = check(&h, d, &["alpha".to_string(), "beta".to_string()]);
        assert_eq!(v.count(Lost), 1);
        let e = &v.examples(Lost)[0];
        assert_eq!(e.topic.as_deref(), Some("alpha"));
        assert_eq!((e.offset, e.producer, e.seq), (Some(1), Some(0), Some(1)));
    }

    #[test]
    fn offsets_past_a_topics_capacity_are_still_checked() {
        let h = History::new(shape(1, 1, 2));
        send(&h, 0, 0, 1, acked(1000));
        send(&h, 0, 1, 1, acked(1001));
        {
            let mut c = h.consumer(0);
            // A broken broker serves value 1 at 1000, where value 0 was acked.
            fetch(&mut c, 0, 1000, 1002, &[(1000, pl(0, 1))]);
        }
        let v = drain_and_check(&h, &[vec![(1000, pl(0, 0)), (1001, pl(0, 1))]]);
        // A first fetch at 1000 skips 0..1000 below the watermark; value 1 was read at 1000
        // and drained at 1001; offset 1000 was read with value 1 but acked and drained with 0;
        // value 0 was never read although offset 1000 was.
        assert_counts(&v, &[(PollSkip, 1), (Duplicated, 1), (InconsistentOffsets, 1), (LostWrite, 1)]);
    }

    /// A history whose violations spread over several value tasks of each producer and several
    /// offset chunks: every 4 001st value lost, every 16 411th offset read holding another value.
    fn history_across_tasks() -> (History, Vec<(u32, u64)>) {
        let per_producer = (SEQS_PER_TASK * 2).max(OFFSETS_PER_TASK / 3) as u64 + 500;
        let h = History::new(shape(3, 1, per_producer));
        let mut at = Vec::new(); // offset -> value
        for seq in 0..per_producer {
            for p in 0..3 {
                send(&h, p, seq, 1, acked(at.len() as u64));
                at.push((p, seq));
            }
        }
        assert!(at.len() > OFFSETS_PER_TASK, "two offset chunks at least");
        {
            let mut c = h.consumer(0);
            for (o, &(p, s)) in at.iter().enumerate() {
                let (p, s) = if o % 16411 == 16410 { ((p + 1) % 3, s) } else { (p, s) };
                fetch(&mut c, 0, o as u64, at.len() as u64, &[(o as u64, pl(p, s))]);
            }
        }
        let mut lost = Vec::new();
        let mut d = h.drain();
        for (o, &(p, s)) in at.iter().enumerate() {
            if (u64::from(p) * per_producer + s) % 4001 == 4000 {
                lost.push((p, s));
            } else {
                d.record(0, o as u64, &pl(p, s));
            }
        }
        drop(d);
        lost.sort_unstable();
        (h, lost)
    }

    #[test]
    fn the_tally_is_the_same_on_one_thread_and_on_many_examples_in_walk_order() {
        let (h, lost) = history_across_tasks();
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
            // A drain that reads nothing adds nothing: each check sees the same history.
            pool.install(|| check(&h, h.drain(), &[]))
        };
        let one = on(1);
        assert_eq!(one.count(Lost), lost.len() as u64);
        assert_eq!(one.count(InconsistentOffsets), (3 * h.shape().messages_per_producer + 1) / 16411);
        // Producer 0's lost values fall in three value tasks, the offsets in two chunks.
        assert!(lost.iter().filter(|(p, _)| *p == 0).count() >= MAX_EXAMPLES);
        // The examples a walk in (producer, seq) order keeps: the first lost values.
        let kept: Vec<(Option<u32>, Option<u64>)> =
            one.examples(Lost).iter().map(|e| (e.producer, e.seq)).collect();
        let first: Vec<(Option<u32>, Option<u64>)> =
            lost.iter().take(kept.len()).map(|&(p, s)| (Some(p), Some(s))).collect();
        assert_eq!(kept, first);
        let offsets: Vec<Option<u64>> = one.examples(InconsistentOffsets).iter().map(|e| e.offset).collect();
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offset order: {offsets:?}");
        assert!(offsets.last().copied().flatten() > Some(OFFSETS_PER_TASK as u64), "{offsets:?}");
        for threads in [2, 3, 4] {
            assert_eq!(on(threads), one, "{threads} threads");
        }
    }

    // ---- clean histories ----

    /// A correct single-node broker: per topic, the payloads in offset order.
    struct Broker {
        topics: Vec<Vec<Vec<u8>>>,
    }

    impl Broker {
        fn new(topics: u32) -> Self {
            Broker { topics: vec![Vec::new(); topics as usize] }
        }

        /// Sends the next `count` seqs of `producer` and ends them as `how` says.
        fn send(&mut self, h: &History, producer: u32, first: u64, count: u32, how: u8) {
            let topic = h.shape().topic_of(producer) as usize;
            h.begin_send(producer, first, count);
            let base = self.topics[topic].len() as u64;
            let store = how != 1 && how != 3; // 1: failed, 3: unknown and lost on the way
            if store {
                for seq in first..first + u64::from(count) {
                    self.topics[topic].push(pl(producer, seq));
                }
            }
            let outcome = match how {
                1 => SendOutcome::Failed,
                2 | 3 => SendOutcome::Unknown,
                _ => SendOutcome::Acked { base_offset: base },
            };
            h.end_send(producer, first, count, outcome);
        }

        /// A correct fetch of at most `max` records of `topic` from `from`.
        fn fetch(&self, c: &mut ConsumerRecorder<'_>, topic: u32, from: u64, max: usize) -> u64 {
            let log = &self.topics[topic as usize];
            let hw = log.len() as u64;
            let start = (from as usize).min(log.len());
            let end = start.saturating_add(max).min(log.len());
            let mut it = (start..end).map(|o| (o as u64, log[o].as_slice()));
            c.record_fetch(topic, from, 0, 0, FetchOutcome::Records { high_watermark: hw, records: &mut it })
        }

        fn drain_and_check(&self, h: &History) -> Violations {
            let mut d = h.drain();
            for (t, log) in self.topics.iter().enumerate() {
                for (o, p) in log.iter().enumerate() {
                    d.record(t as u32, o as u64, p);
                }
            }
            check(h, d, &[])
        }
    }

    /// Plays `steps` (each picks an actor and a size) against a correct broker, then lets
    /// every producer finish and every consumer read to the end; returns the check and the
    /// number of values whose unknown send was stored anyway.
    fn play_clean(
        producers: u32,
        topics: u32,
        per_producer: u64,
        consumers: u32,
        steps: &[(u8, u8, u8)],
    ) -> (Violations, u64) {
        let h = History::new(shape(producers, topics, per_producer));
        let mut broker = Broker::new(topics);
        let mut next_seq = vec![0u64; producers as usize];
        let mut recorders: Vec<(ConsumerRecorder<'_>, Vec<u64>)> =
            (0..consumers).map(|c| (h.consumer(c), vec![0; topics as usize])).collect();
        let mut recovered = 0;
        let mut send = |broker: &mut Broker, p: u32, size: u64, how: u8| {
            let first = next_seq[p as usize];
            let count = size.min(per_producer - first);
            if count > 0 {
                broker.send(&h, p, first, count as u32, how);
                next_seq[p as usize] += count;
                if how == 2 {
                    recovered += count;
                }
            }
        };
        for &(actor, size, how) in steps {
            let actor = u32::from(actor) % (producers + consumers);
            if actor < producers {
                // Mostly acknowledged; now and then failed or unknown.
                let how = match how % 16 {
                    0 => 1,
                    1 => 2,
                    2 => 3,
                    _ => 0,
                };
                send(&mut broker, actor, u64::from(size % 5) + 1, how);
            } else {
                let (c, positions) = &mut recorders[(actor - producers) as usize];
                let topic = u32::from(how) % topics;
                let at = positions[topic as usize];
                positions[topic as usize] = broker.fetch(c, topic, at, usize::from(size % 7) + 1);
            }
        }
        for p in 0..producers {
            send(&mut broker, p, per_producer, 0);
        }
        for (c, positions) in &mut recorders {
            for t in 0..topics {
                positions[t as usize] = broker.fetch(c, t, positions[t as usize], usize::MAX);
            }
        }
        drop(recorders);
        (broker.drain_and_check(&h), recovered)
    }

    #[test]
    fn a_clean_history_with_batches_topics_and_consumers_checks_clean() {
        let steps: Vec<(u8, u8, u8)> =
            (0..200u32).map(|i| ((i * 7 % 11) as u8, (i * 3) as u8, (i * 5 + 3) as u8)).collect();
        let (v, recovered) = play_clean(4, 3, 30, 3, &steps);
        assert_counts(&v, &[(Recovered, recovered)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn clean_histories_check_clean_in_any_interleaving(
            producers in 1u32..4, topics in 1u32..4, per_producer in 1u64..25, consumers in 0u32..4,
            steps in proptest::collection::vec(any::<(u8, u8, u8)>(), 0..120),
        ) {
            let (v, recovered) = play_clean(producers, topics, per_producer, consumers, &steps);
            for &kind in ViolationKind::ALL {
                if kind.section() == Section::Observed {
                    let want = if kind == Recovered { recovered } else { 0 };
                    prop_assert_eq!(v.get(kind), Some(want), "{}: {:?}", kind, v.examples(kind));
                }
            }
        }
    }

    #[test]
    fn concurrent_producers_and_consumers_record_a_clean_history() {
        use parking_lot::Mutex;
        const PRODUCERS: u32 = 4;
        const TOPICS: u32 = 2;
        const PER_PRODUCER: u64 = 2_000;
        let h = History::new(shape(PRODUCERS, TOPICS, PER_PRODUCER));
        let logs: Vec<Mutex<Vec<Vec<u8>>>> = (0..TOPICS).map(|_| Mutex::new(Vec::new())).collect();
        std::thread::scope(|s| {
            for p in 0..PRODUCERS {
                let (h, logs) = (&h, &logs);
                s.spawn(move || {
                    let topic = h.shape().topic_of(p) as usize;
                    let mut first = 0;
                    let mut batch = 1;
                    while first < PER_PRODUCER {
                        let count = batch.min(PER_PRODUCER - first);
                        let payloads: Vec<Vec<u8>> = (first..first + count).map(|s| pl(p, s)).collect();
                        h.begin_send(p, first, count as u32);
                        let base = {
                            let mut log = logs[topic].lock();
                            let base = log.len() as u64;
                            log.extend(payloads);
                            base
                        };
                        h.end_send(p, first, count as u32, SendOutcome::Acked { base_offset: base });
                        first += count;
                        batch = batch % 7 + 1;
                    }
                });
            }
            for c in 0..3 {
                let (h, logs) = (&h, &logs);
                s.spawn(move || {
                    let mut rec = h.consumer(c);
                    let mut positions = vec![0u64; TOPICS as usize];
                    let expected: Vec<u64> = (0..TOPICS).map(|t| h.shape().messages_in_topic(t)).collect();
                    while positions != expected {
                        for t in 0..TOPICS as usize {
                            let start = h.now_ns();
                            let (hw, records) = {
                                let log = logs[t].lock();
                                let from = positions[t] as usize;
                                let to = log.len().min(from + 50);
                                (log.len() as u64, log[from..to].to_vec())
                            };
                            let from = positions[t];
                            let mut it =
                                records.iter().enumerate().map(|(i, p)| (from + i as u64, p.as_slice()));
                            let outcome = FetchOutcome::Records { high_watermark: hw, records: &mut it };
                            let end = h.now_ns();
                            positions[t] = rec.record_fetch(t as u32, from, start, end, outcome);
                        }
                        std::thread::yield_now();
                    }
                });
            }
        });
        let mut d = h.drain();
        for (t, log) in logs.iter().enumerate() {
            for (o, p) in log.lock().iter().enumerate() {
                d.record(t as u32, o as u64, p);
            }
        }
        let v = check(&h, d, &[]);
        assert_counts(&v, &[]);
        let total = PRODUCERS as u64 * PER_PRODUCER;
        assert_eq!(h.consume_latency_us().len(), total, "every value timed once, at its first delivery");
        let counts = h.operation_counts();
        assert_eq!(counts.messages_acked, total);
        assert_eq!(counts.records_read, 3 * total);
        assert_eq!(counts.drain_records, total);
    }
}
