//! `run.json`: what the harness leaves in each topic directory it wrote.
//!
//! `synclog verify` treats payloads as opaque bytes, except in a topic that holds a `run.json`:
//! from the seed, the producer count and the message size it can recompute every payload a
//! producer of that run could have sent, and so count `payload_checksum` (the record's CRC is
//! fine but the producer's own checksum is not), `unknown_value` (a well-formed payload no
//! producer of the run sent to this topic) and `duplicate_value` (one value stored twice).
//!
//! Duplicate detection keeps one bit per (producer, seq): a run of 10 million messages costs
//! 1.25 MB here.

use super::history::RunShape;
use super::payload::{decode_payload, PayloadError};
use crate::storage::{PayloadCheck, PayloadVerdict};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file name inside a topic directory.
pub const RUN_FILE: &str = "run.json";

/// The description of the run that wrote a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFile {
    pub seed: u64,
    pub producers: u32,
    pub message_bytes: usize,
    /// How many topics the run wrote; producer `p` writes to topic `p % topics`.
    pub topics: u32,
    /// Which of them this directory is.
    pub topic_index: u32,
    pub messages_per_producer: u64,
    pub strategy: String,
}

impl RunFile {
    /// The run file for topic `topic_index` of a run of this shape.
    pub fn new(shape: &RunShape, topic_index: u32, strategy: &str) -> RunFile {
        RunFile {
            seed: shape.seed,
            producers: shape.producers,
            message_bytes: shape.message_bytes,
            topics: shape.topics,
            topic_index,
            messages_per_producer: shape.messages_per_producer,
            strategy: strategy.to_string(),
        }
    }

    /// Writes `run.json` into `topic_dir`.
    pub fn write(&self, topic_dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(topic_dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(topic_dir.join(RUN_FILE), json)
    }

    /// Reads `run.json` from `topic_dir`, if there is a readable one.
    pub fn read(topic_dir: &Path) -> Option<RunFile> {
        let bytes = std::fs::read(topic_dir.join(RUN_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// Judges payloads against a run file. Invariant: bit `seq` of `seen[producer]` is set once
/// that value has been judged `Ok`.
pub struct RunPayloadCheck {
    run: RunFile,
    seen: Vec<Vec<u64>>,
}

impl RunPayloadCheck {
    pub fn new(run: RunFile) -> RunPayloadCheck {
        let words = run.messages_per_producer.div_ceil(64) as usize;
        let seen = vec![vec![0u64; words]; run.producers as usize];
        RunPayloadCheck { run, seen }
    }
}

impl PayloadCheck for RunPayloadCheck {
    fn check(&mut self, payload: &[u8]) -> PayloadVerdict {
        let id = match decode_payload(self.run.seed, payload) {
            Ok(id) => id,
            Err(PayloadError::Checksum { .. }) => return PayloadVerdict::Checksum,
            Err(_) => return PayloadVerdict::Unknown,
        };
        let sent_here = id.producer < self.run.producers
            && id.seq < self.run.messages_per_producer
            && payload.len() == self.run.message_bytes
            && id.producer % self.run.topics.max(1) == self.run.topic_index;
        if !sent_here {
            return PayloadVerdict::Unknown;
        }
        let (word, bit) = ((id.seq / 64) as usize, id.seq % 64);
        let slot = &mut self.seen[id.producer as usize][word];
        if *slot & (1 << bit) != 0 {
            return PayloadVerdict::Duplicate { producer: id.producer, seq: id.seq };
        }
        *slot |= 1 << bit;
        PayloadVerdict::Ok { producer: id.producer, seq: id.seq }
    }
}

/// A payload checker for `topic_dir` if it holds a `run.json` (used by `synclog verify`).
pub fn payload_check_for(topic_dir: &Path) -> Option<Box<dyn PayloadCheck>> {
    RunFile::read(topic_dir).map(|run| Box::new(RunPayloadCheck::new(run)) as Box<dyn PayloadCheck>)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::payload::encode_payload;

    fn run() -> RunFile {
        RunFile {
            seed: 7,
            producers: 4,
            message_bytes: 40,
            topics: 2,
            topic_index: 1,
            messages_per_producer: 100,
            strategy: "rwlock".into(),
        }
    }

    fn payload(producer: u32, seq: u64, bytes: usize) -> Vec<u8> {
        let mut out = Vec::new();
        encode_payload(7, producer, seq, bytes, &mut out);
        out
    }

    #[test]
    fn verdicts_follow_the_run() {
        let mut c = RunPayloadCheck::new(run());
        assert_eq!(c.check(&payload(1, 5, 40)), PayloadVerdict::Ok { producer: 1, seq: 5 });
        assert_eq!(c.check(&payload(1, 5, 40)), PayloadVerdict::Duplicate { producer: 1, seq: 5 });
        assert_eq!(c.check(&payload(3, 99, 40)), PayloadVerdict::Ok { producer: 3, seq: 99 });
        assert_eq!(c.check(&payload(2, 5, 40)), PayloadVerdict::Unknown, "producer 2 writes topic 0");
        assert_eq!(c.check(&payload(5, 5, 40)), PayloadVerdict::Unknown, "no producer 5");
        assert_eq!(c.check(&payload(1, 100, 40)), PayloadVerdict::Unknown, "seq past the run");
        assert_eq!(c.check(&payload(1, 6, 41)), PayloadVerdict::Unknown, "wrong size");
        let mut bad = payload(1, 7, 40);
        bad[30] ^= 1;
        assert_eq!(c.check(&bad), PayloadVerdict::Checksum);
        assert_eq!(c.check(b"hello"), PayloadVerdict::Unknown);
    }

    #[test]
    fn run_files_round_trip_through_a_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(payload_check_for(dir.path()).is_none());
        run().write(dir.path()).expect("write");
        assert_eq!(RunFile::read(dir.path()), Some(run()));
        assert!(payload_check_for(dir.path()).is_some());
    }
}
