//! The recorders: one per consumer thread and one for the final drain. Each checks what it
//! is given against its own earlier observations and hands its findings to the [`History`]
//! when dropped.

use super::*;

/// One consumer's position and view of one topic.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cursor {
    /// The offset of the last record consumed (or the offset before a resume point).
    /// `None` before the first record: the next expected offset is then 0.
    last_offset: Option<u64>,
    /// The high watermark of the latest answer.
    last_high_watermark: Option<u64>,
    /// The highest high watermark seen: offsets below it exist.
    max_high_watermark: Option<u64>,
    /// The highest offset read.
    max_read_offset: Option<u64>,
}

impl Cursor {
    /// The offset the consumer should read next if nothing is skipped.
    fn expected(&self) -> u64 {
        self.last_offset.map_or(0, |o| o.saturating_add(1))
    }
}

/// Records one consumer's fetches and checks each against the consumer's own earlier ones.
/// Owned by the consumer's thread; hands everything to the [`History`] when dropped.
pub struct ConsumerRecorder<'h> {
    pub(super) history: &'h History,
    pub(super) consumer: u32,
    /// Indexed by topic.
    pub(super) cursors: Vec<Cursor>,
    pub(super) tally: Tally,
    pub(super) log: ActorLog,
    pub(super) corrupt_ranges: Vec<CorruptRange>,
}

impl ConsumerRecorder<'_> {
    /// The consumer id this recorder was made for.
    pub fn consumer(&self) -> u32 {
        self.consumer
    }

    /// Records a fetch of `topic` at `requested_offset`, sent at `start_ns` and answered at
    /// `end_ns` (both from [`History::now_ns`]); returns the offset to fetch next:
    /// - records: one past the last record returned (the requested offset when none were);
    /// - CorruptLog: [`corrupt_resume_offset`], and the offsets skipped count as `corrupt_read`;
    /// - error: the requested offset again.
    pub fn record_fetch(
        &mut self,
        topic: u32,
        requested_offset: u64,
        start_ns: u64,
        end_ns: u64,
        outcome: FetchOutcome<'_, '_>,
    ) -> u64 {
        let Some(&cursor) = self.cursors.get(topic as usize) else {
            debug_assert!(false, "fetch of topic {topic}, outside the run");
            return requested_offset;
        };
        let violations_before = self.tally.total();
        let (outcome_kind, high_watermark, count, next_offset, cursor) = match outcome {
            FetchOutcome::Records { high_watermark, records } => {
                let (cursor, count, next) =
                    self.record_records(topic, cursor, requested_offset, end_ns, high_watermark, records);
                (OperationOutcome::Ok, high_watermark, count, next, cursor)
            }
            FetchOutcome::CorruptLog => {
                let resume = corrupt_resume_offset(requested_offset);
                self.corrupt_ranges.push(CorruptRange { topic, start: requested_offset, end: resume });
                // The skipped offsets are corrupt_read, not a poll skip: move the position.
                let cursor = Cursor { last_offset: Some(resume - 1), ..cursor };
                (OperationOutcome::Corrupt, NO_OFFSET, 0, resume, cursor)
            }
            FetchOutcome::Error => (OperationOutcome::Failed, NO_OFFSET, 0, requested_offset, cursor),
        };
        self.cursors[topic as usize] = cursor;
        let counts = &mut self.log.counts;
        match outcome_kind {
            OperationOutcome::Ok => counts.fetches_ok += 1,
            OperationOutcome::Corrupt => counts.fetches_corrupt += 1,
            _ => counts.fetches_failed += 1,
        }
        let op = Operation {
            start_ns,
            first_offset: requested_offset,
            seq_or_high_watermark: high_watermark,
            duration_ns: u32::try_from(end_ns.saturating_sub(start_ns)).unwrap_or(u32::MAX),
            count,
            topic,
            kind: OperationKind::Fetch,
            outcome: outcome_kind,
        };
        let notable = outcome_kind != OperationOutcome::Ok || self.tally.total() > violations_before;
        self.log.push(op, notable);
        next_offset
    }

    /// Checks and records the records of one answer; returns the updated cursor, the number
    /// of records and the next offset to fetch.
    fn record_records(
        &mut self,
        topic: u32,
        mut cursor: Cursor,
        requested_offset: u64,
        end_ns: u64,
        high_watermark: u64,
        records: &mut dyn Iterator<Item = (u64, &[u8])>,
    ) -> (Cursor, u32, u64) {
        if let Some(previous) = cursor.last_high_watermark {
            if high_watermark < previous {
                self.tally.add(ViolationKind::HwRegression, || {
                    RawExample::at(topic, high_watermark).detail(format!(
                        "consumer {} saw the high watermark fall from {previous}",
                        self.consumer
                    ))
                });
            }
        }
        cursor.last_high_watermark = Some(high_watermark);
        let known_hw = cursor.max_high_watermark.map_or(high_watermark, |m| m.max(high_watermark));
        cursor.max_high_watermark = Some(known_hw);

        let expected = cursor.expected();
        let mut previous: Option<u64> = None;
        let mut count = 0u32;
        for (offset, payload) in records {
            match previous {
                None => self.check_fetch_start(topic, expected, offset, known_hw),
                Some(prev) if offset <= prev => self.tally.add(ViolationKind::IntNonmonotonicPoll, || {
                    RawExample::at(topic, offset).detail(format!("offset {offset} after {prev} in one fetch"))
                }),
                Some(prev) if offset > prev + 1 && prev + 1 < known_hw => {
                    self.tally.add(ViolationKind::IntPollSkip, || {
                        RawExample::at(topic, prev + 1)
                            .detail(format!("one fetch jumped from {prev} to {offset}"))
                    })
                }
                Some(_) => {}
            }
            if offset >= high_watermark {
                self.tally.add(ViolationKind::ReadBeyondHw, || {
                    RawExample::at(topic, offset)
                        .detail(format!("returned with high watermark {high_watermark}"))
                });
            }
            self.record_delivery(topic, offset, payload, end_ns);
            cursor.max_read_offset = Some(cursor.max_read_offset.map_or(offset, |m| m.max(offset)));
            previous = Some(offset);
            count = count.saturating_add(1);
        }
        match previous {
            Some(last) => {
                cursor.last_offset = Some(last);
                (cursor, count, last.saturating_add(1))
            }
            None => {
                // An empty answer still moves the consumer to where it asked to be.
                self.check_fetch_start(topic, expected, requested_offset, known_hw);
                cursor.last_offset = requested_offset.checked_sub(1);
                (cursor, 0, requested_offset)
            }
        }
    }

    /// Compares where a fetch started (its first record, or the requested offset when it
    /// returned none) with where the consumer left off.
    fn check_fetch_start(&mut self, topic: u32, expected: u64, start: u64, known_hw: u64) {
        if start > expected && expected < known_hw {
            self.tally.add(ViolationKind::PollSkip, || {
                RawExample::at(topic, expected)
                    .detail(format!("next fetch started at {start}, expected {expected}"))
            });
        } else if start < expected {
            self.tally.add(ViolationKind::NonmonotonicPoll, || {
                RawExample::at(topic, start)
                    .detail(format!("next fetch started at {start}, expected {expected}"))
            });
        }
    }

    /// Decodes one delivered record and records the value in the shared arrays.
    fn record_delivery(&mut self, topic: u32, offset: u64, payload: &[u8], end_ns: u64) {
        self.log.counts.records_read += 1;
        let history = self.history;
        let id = match decode_payload(history.shape.seed, payload) {
            Ok(id) => id,
            Err(e) => {
                self.tally
                    .add(ViolationKind::Unexpected, || RawExample::at(topic, offset).detail(e.to_string()));
                return;
            }
        };
        let Some(value_index) = history.value_index(id, topic) else {
            self.tally.add(ViolationKind::Unexpected, || {
                RawExample::at(topic, offset).value(id).detail("not a value this run sends to this topic")
            });
            return;
        };
        if history.deliver(id, value_index, topic, offset) && id.seq >= history.warmup_messages_per_producer {
            let sent_ns =
                history.producers[id.producer as usize].send_start_ns[id.seq as usize].load(Relaxed);
            if sent_ns != NONE {
                self.log.latency_us.saturating_record(end_ns.saturating_sub(sent_ns) / 1_000);
            }
        }
    }
}

impl Drop for ConsumerRecorder<'_> {
    fn drop(&mut self) {
        let mut observed = self.history.observed.lock();
        observed.tally.merge(&self.tally);
        for (t, cursor) in self.cursors.iter().enumerate() {
            max_into(&mut observed.max_read_offset[t], cursor.max_read_offset);
            max_into(&mut observed.max_high_watermark[t], cursor.max_high_watermark);
        }
        observed.corrupt_ranges.extend_from_slice(&self.corrupt_ranges);
        observed.consume_latency_us.add(&self.log.latency_us).ok();
        observed.counts.merge(&self.log.counts);
        observed.records_read_by.push((self.consumer, self.log.counts.records_read));
        let ops = std::mem::take(&mut self.log.operations);
        observed.consumer_logs.push((self.consumer, ops));
        self.history.live_recorders.fetch_sub(1, Relaxed);
    }
}

/// `slot = max(slot, value)` over options.
fn max_into(slot: &mut Option<u64>, value: Option<u64>) {
    if let Some(v) = value {
        *slot = Some(slot.map_or(v, |s| s.max(v)));
    }
}

/// Records the final read of every topic from offset 0: the log as the broker serves it after
/// the load. Hands its findings to the [`History`] when dropped (or passed to `check`).
pub struct DrainRecorder<'h> {
    pub(super) history: &'h History,
    /// Per topic: one past the highest offset received.
    pub(super) end: Vec<Option<u64>>,
    pub(super) corrupt_ranges: Vec<CorruptRange>,
    pub(super) counts: OperationCounts,
    /// `foreign_record`s found.
    pub(super) tally: Tally,
}

impl DrainRecorder<'_> {
    /// Records that the drain read `payload` at (topic, offset).
    pub fn record(&mut self, topic: u32, offset: u64, payload: &[u8]) {
        let history = self.history;
        let Some(end) = self.end.get_mut(topic as usize) else {
            debug_assert!(false, "drain of topic {topic}, outside the run");
            return;
        };
        max_into(end, Some(offset.saturating_add(1)));
        self.counts.drain_records += 1;
        let decoded = decode_payload(history.shape.seed, payload);
        let value =
            decoded.as_ref().ok().and_then(|&id| history.value_index(id, topic).map(|index| (id, index)));
        let Some((id, value_index)) = value else {
            self.counts.drain_foreign_records += 1;
            self.tally.add(ViolationKind::ForeignRecord, || match decoded {
                Ok(id) => {
                    RawExample::at(topic, offset).value(id).detail("not a value this run sends to this topic")
                }
                Err(e) => RawExample::at(topic, offset).detail(e.to_string()),
            });
            return;
        };
        let arrays = &history.producers[id.producer as usize];
        let seq = id.seq as usize;
        let before = arrays.flags[seq].fetch_or(DRAINED, Relaxed);
        let first_read = arrays.first_read_offset[seq].load(Relaxed);
        // Found twice by the drain, or elsewhere than where consumers first got it.
        if before & DRAINED != 0 || (first_read != NONE && first_read != offset) {
            arrays.flags[seq].fetch_or(DUPLICATED, Relaxed);
        }
        history.with_slot(topic, offset, |slot| associate(&slot.drain, value_index));
    }

    /// Records that the drain's fetch of `topic` at `offset` was answered CorruptLog and it
    /// skipped `skipped` offsets (to [`corrupt_resume_offset`], normally).
    pub fn corrupt(&mut self, topic: u32, offset: u64, skipped: u64) {
        self.corrupt_ranges.push(CorruptRange { topic, start: offset, end: offset.saturating_add(skipped) });
    }
}

impl Drop for DrainRecorder<'_> {
    fn drop(&mut self) {
        let mut observed = self.history.observed.lock();
        for (t, end) in self.end.iter().enumerate() {
            max_into(&mut observed.drain_end[t], *end);
        }
        observed.corrupt_ranges.extend_from_slice(&self.corrupt_ranges);
        observed.counts.merge(&self.counts);
        observed.tally.merge(&self.tally);
        self.history.live_recorders.fetch_sub(1, Relaxed);
    }
}
