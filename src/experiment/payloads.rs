//! A producer's payloads, encoded before the clock starts.
//!
//! Encoding a payload (its body stream and its CRC, see [`crate::check::payload`]) is the
//! load generator's own work, and in process it costs about as much CPU as the append it
//! feeds: profiled on `--transport inproc --batch 100`, the encoding took a fifth of the load
//! phase's samples and its CRC another tenth, on the same two cores as the log. Done inside
//! the timed window, that work would be counted against the system under test, and its
//! ceilings (raw writes of ready bytes, an echo of a ready request) never pay it. So each
//! producer's payloads are encoded before the start barrier, all producers in parallel on
//! rayon's pool, into one buffer per producer; the load sends slices of it. The time this
//! takes is reported as its own phase (`prepare`).
//!
//! Memory: the payloads of a run, plus eight bytes per message for where each ends (and, for a
//! moment after them, the memory warm-up of [`super::warm`], at most 2 GiB and a quarter of what
//! is available). Above
//! [`PREPARED_BYTES_MAX`] the payloads are encoded during the load instead, as each request
//! is built, and the run's notes say so.

use super::run::RunConfig;
use crate::check::payload::encode_payload;
use rayon::prelude::*;
use std::ops::Range;
use std::time::Instant;

/// The most bytes a run's payloads may take when encoded before the load (1 GiB).
pub const PREPARED_BYTES_MAX: u64 = 1 << 30;

/// One producer's payloads, `seqs.start..seqs.end`, back to back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    first_seq: u64,
    bytes: Vec<u8>,
    /// `ends[i]`: where the payload of `first_seq + i` ends in `bytes`.
    ends: Vec<usize>,
}

impl Prepared {
    /// Encodes the values `(producer, seq)` for every `seq` in `seqs`, each of `size(seq)` bytes.
    pub fn encode(seed: u64, producer: u32, seqs: Range<u64>, size: impl Fn(u64) -> usize) -> Prepared {
        let mut prepared = Prepared::default();
        prepared.refill(seed, producer, seqs, size);
        prepared
    }

    /// Replaces these payloads with those of `seqs`, keeping the buffers' capacity (a producer
    /// encoding during the load refills one per request).
    pub fn refill(&mut self, seed: u64, producer: u32, seqs: Range<u64>, size: impl Fn(u64) -> usize) {
        let count = seqs.end.saturating_sub(seqs.start) as usize;
        let total: usize = seqs.clone().map(&size).sum();
        self.bytes.clear();
        self.ends.clear();
        self.bytes.reserve(total);
        self.ends.reserve(count);
        self.first_seq = seqs.start;
        for seq in seqs {
            encode_payload(seed, producer, seq, size(seq), &mut self.bytes);
            self.ends.push(self.bytes.len());
        }
    }

    /// The payloads of `seqs`, in order. Panics if any of them was not prepared.
    pub fn messages(&self, seqs: Range<u64>) -> impl Iterator<Item = &[u8]> + '_ {
        seqs.map(move |seq| {
            let i = (seq - self.first_seq) as usize;
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.bytes[start..self.ends[i]]
        })
    }
}

/// Bytes that encoding `messages` payloads of at most `largest` bytes beforehand may take:
/// the payloads, and where each ends.
pub fn prepared_bytes(messages: u64, largest: usize) -> u64 {
    messages.saturating_mul(largest as u64 + std::mem::size_of::<usize>() as u64)
}

/// Every producer's payloads, encoded in parallel, if they fit in `budget` bytes (see
/// [`prepared_bytes`]); `None` when they do not, and they are to be encoded during the load.
pub fn prepare(
    seed: u64,
    producers: u32,
    per_producer: u64,
    largest: usize,
    budget: u64,
    size: impl Fn(u32, u64) -> usize + Sync,
) -> Option<Vec<Prepared>> {
    if prepared_bytes(per_producer.saturating_mul(u64::from(producers)), largest) > budget {
        return None;
    }
    Some(
        (0..producers)
            .into_par_iter()
            .map(|p| Prepared::encode(seed, p, 0..per_producer, |s| size(p, s)))
            .collect(),
    )
}

/// The prepare phase of a run: its payloads (none when over the run's budget), and how long
/// encoding them and warming memory for the load took.
pub(super) struct Preparation {
    payloads: Option<Vec<Prepared>>,
    seconds: f64,
}

impl Preparation {
    /// Encodes the run's payloads, `per_producer` for each producer, if they fit in
    /// `config.prepare_budget_bytes`; then warms as much memory as the run's records will take
    /// in its logs ([`super::warm`]).
    pub(super) fn of_run(config: &RunConfig, seed: u64, per_producer: u64) -> Preparation {
        let started = Instant::now();
        let payloads = prepare(
            seed,
            config.producers,
            per_producer,
            config.largest_message(),
            config.prepare_budget_bytes,
            |p, s| config.size_of(seed, p, s),
        );
        let messages = per_producer * u64::from(config.producers);
        if !config.remote() {
            super::warm::warm(super::warm::log_bytes(messages, config.mean_message_bytes()));
        }
        Preparation { payloads, seconds: started.elapsed().as_secs_f64() }
    }

    /// Every producer's payloads, in producer order, or `None`: encode during the load.
    pub(super) fn payloads(&self) -> Option<&[Prepared]> {
        self.payloads.as_deref()
    }

    /// Lets the payloads go; returns the phase's seconds and,
    /// when the payloads were left to the load, the note the run prints about it.
    pub(super) fn finish(self, config: &RunConfig, total_messages: u64) -> (f64, Option<String>) {
        const MIB: f64 = (1u64 << 20) as f64;
        let note = self.payloads.is_none().then(|| {
            format!(
                "payloads encoded during the load, so the producers' encoding is timed with the system: {:.1} MiB of them would exceed the {:.1} MiB held for encoding them before the clock starts",
                prepared_bytes(total_messages, config.largest_message()) as f64 / MIB,
                config.prepare_budget_bytes as f64 / MIB
            )
        });
        (self.seconds, note)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::payload::{decode_payload, message_size, ValueId};

    #[test]
    fn prepared_payloads_are_the_bytes_encoded_during_a_load() {
        let size = |p: u32, s: u64| message_size(9, p, s, 20, 140);
        let all = prepare(9, 3, 250, 140, PREPARED_BYTES_MAX, size).expect("fits");
        assert_eq!(all.len(), 3);
        for (p, prepared) in all.iter().enumerate() {
            let p = p as u32;
            let got: Vec<&[u8]> = prepared.messages(0..250).collect();
            assert_eq!(got.len(), 250);
            for (seq, bytes) in got.into_iter().enumerate() {
                let seq = seq as u64;
                let mut inline = Vec::new();
                encode_payload(9, p, seq, size(p, seq), &mut inline);
                assert_eq!(bytes, &inline[..], "producer {p} seq {seq}");
                assert_eq!(decode_payload(9, bytes), Ok(ValueId { producer: p, seq }));
            }
        }
        // A batch from the middle is the same slices.
        let middle: Vec<&[u8]> = all[1].messages(100..103).collect();
        let whole: Vec<&[u8]> = all[1].messages(0..250).collect();
        assert_eq!(middle, whole[100..103].to_vec());
    }

    #[test]
    fn payloads_over_the_budget_are_left_to_the_load() {
        let size = |_: u32, _: u64| 100;
        let needed = prepared_bytes(8 * 1000, 100);
        assert_eq!(needed, 8000 * (100 + std::mem::size_of::<usize>() as u64));
        assert!(prepare(1, 8, 1000, 100, needed - 1, size).is_none());
        assert_eq!(prepare(1, 8, 1000, 100, needed, size).map(|v| v.len()), Some(8));
    }
}
