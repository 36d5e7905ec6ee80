//! Idempotent Kafka producers: InitProducerId hands out producer ids, and Produce batches
//! carrying a producer id, epoch and base sequence are written once each.
//!
//! For each (topic, producer id) the broker keeps the producer's epoch and its last
//! [`REMEMBERED_BATCHES`] batches (first and last sequence, base offset), as Kafka does for the
//! five requests a producer may have in flight. A batch from that producer is then:
//!
//! | the batch                                         | answer                                   |
//! |---------------------------------------------------|------------------------------------------|
//! | its first sequence is a remembered batch's        | acknowledged again with that batch's base offset; nothing is written |
//! | the next sequence (last + 1), same epoch          | appended                                 |
//! | sequence 0 from a producer id not seen yet, or with a newer epoch | appended (a new producer, or a bumped epoch) |
//! | an older epoch                                    | INVALID_PRODUCER_EPOCH (47)              |
//! | any other sequence                                | OUT_OF_ORDER_SEQUENCE_NUMBER (45)        |
//! | a producer id this broker never handed out        | UNKNOWN_PRODUCER_ID (59)                 |
//!
//! The check, the append and the record of the batch happen under one lock, so two
//! connections of one producer cannot both append a retried batch (the price: idempotent
//! appends to every topic take turns; plain appends do not take this lock).
//!
//! **The state lives in memory only.** The log stores values, not producer ids or sequences,
//! so it cannot be rebuilt from the log, and it is not written elsewhere: after a broker
//! restart, a producer id handed out before it is answered UNKNOWN_PRODUCER_ID (59), so a
//! batch sent before the restart and retried after it is refused, never written twice, and the
//! producer must ask for a new id (kafka-python and the Java client do; what was refused is
//! theirs to resend, which may duplicate it). Producer ids are handed out from the clock
//! (milliseconds since the Unix epoch × 1000, then counting up), so a restarted broker does not
//! hand out an id it gave before unless the clock went back.
//!
//! Transactions are not served: InitProducerId with a transactional id is refused with
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53), and transactional batches with CORRUPT_MESSAGE.
//!
//! Memory is bounded: at most [`MAX_PRODUCERS`] (topic, producer) entries are kept; past it the
//! entry of the least recently used producer is forgotten (that producer's next retry of an old
//! batch is refused as out of order, never written twice).

use crate::kafka::code;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How many of a producer's last batches are remembered per topic.
pub const REMEMBERED_BATCHES: usize = 5;
/// The most (topic, producer id) entries kept.
pub const MAX_PRODUCERS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Remembered {
    first_sequence: i32,
    last_sequence: i32,
    base_offset: u64,
}

struct Producer {
    epoch: i16,
    batches: VecDeque<Remembered>,
    used: Instant,
}

/// The idempotent producers' state.
pub struct Producers {
    /// The first id handed out by this run of the broker.
    first_id: i64,
    next_id: AtomicI64,
    state: Mutex<HashMap<(String, i64), Producer>>,
}

/// What to do with one idempotent batch.
pub struct BatchId<'a> {
    pub topic: &'a str,
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
    pub records: usize,
}

impl Default for Producers {
    fn default() -> Self {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let first_id = now_ms.saturating_mul(1000);
        Producers { first_id, next_id: AtomicI64::new(first_id), state: Mutex::new(HashMap::new()) }
    }
}

impl Producers {
    /// InitProducerId: a fresh producer id, epoch 0.
    pub fn init(&self) -> (i64, i16) {
        (self.next_id.fetch_add(1, Ordering::Relaxed), 0)
    }

    /// Writes `batch` once: `append` runs only for a batch that is new and in order; the base
    /// offset (the original one for a retry), or the Kafka error code.
    pub fn append_once(
        &self,
        batch: BatchId<'_>,
        append: impl FnOnce() -> Result<u64, i16>,
    ) -> Result<u64, i16> {
        if !(self.first_id..self.next_id.load(Ordering::Relaxed)).contains(&batch.producer_id) {
            return Err(code::UNKNOWN_PRODUCER_ID);
        }
        let mut state = self.state.lock();
        let key = (batch.topic.to_owned(), batch.producer_id);
        let last_sequence = batch.base_sequence.wrapping_add(batch.records as i32 - 1);
        match state.get(&key) {
            Some(p) if batch.epoch < p.epoch => return Err(code::INVALID_PRODUCER_EPOCH),
            Some(p) if batch.epoch == p.epoch => {
                if let Some(seen) = p.batches.iter().find(|b| b.first_sequence == batch.base_sequence) {
                    return match seen.last_sequence == last_sequence {
                        true => Ok(seen.base_offset),
                        false => Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER),
                    };
                }
                let next = p.batches.back().map_or(0, |b| b.last_sequence.wrapping_add(1) & i32::MAX);
                if batch.base_sequence != next {
                    return Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER);
                }
            }
            _ if batch.base_sequence != 0 => return Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER),
            _ => {}
        }
        let base_offset = append()?;
        if !state.contains_key(&key) && state.len() >= MAX_PRODUCERS {
            if let Some(oldest) = state.iter().min_by_key(|(_, p)| p.used).map(|(k, _)| k.clone()) {
                state.remove(&oldest);
            }
        }
        let producer = state.entry(key).or_insert_with(|| Producer {
            epoch: batch.epoch,
            batches: VecDeque::new(),
            used: Instant::now(),
        });
        if producer.epoch != batch.epoch {
            producer.epoch = batch.epoch;
            producer.batches.clear();
        }
        producer.used = Instant::now();
        if producer.batches.len() == REMEMBERED_BATCHES {
            producer.batches.pop_front();
        }
        let remembered = Remembered { first_sequence: batch.base_sequence, last_sequence, base_offset };
        producer.batches.push_back(remembered);
        Ok(base_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(producer_id: i64, epoch: i16, base_sequence: i32, records: usize) -> BatchId<'static> {
        BatchId { topic: "t", producer_id, epoch, base_sequence, records }
    }

    #[test]
    fn a_retry_is_acknowledged_with_its_first_offset_and_a_gap_is_refused() {
        let producers = Producers::default();
        let (id, epoch) = producers.init();
        let mut next = 0u64;
        let mut append = |n: u64| {
            let base = next;
            next += n;
            Ok(base)
        };
        assert_eq!(producers.append_once(batch(id, epoch, 0, 3), || append(3)), Ok(0));
        assert_eq!(producers.append_once(batch(id, epoch, 3, 2), || append(2)), Ok(3));
        assert_eq!(producers.append_once(batch(id, epoch, 0, 3), || panic!("not written twice")), Ok(0));
        assert_eq!(producers.append_once(batch(id, epoch, 3, 2), || panic!("not written twice")), Ok(3));
        assert_eq!(
            producers.append_once(batch(id, epoch, 9, 1), || panic!("not written")),
            Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(producers.append_once(batch(id, epoch, 5, 1), || append(1)), Ok(5));
        assert_eq!(
            producers.append_once(batch(id, -1, 6, 1), || panic!("not written")),
            Err(code::INVALID_PRODUCER_EPOCH)
        );
        assert_eq!(
            producers.append_once(batch(id + 1000, 0, 0, 1), || panic!("not written")),
            Err(code::UNKNOWN_PRODUCER_ID)
        );
        assert_eq!(next, 6);
    }
}
