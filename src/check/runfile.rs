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
//!
//! # What verify allocates from these files
//! `run.json` is read only if it holds at most [`MAX_RUN_FILE_BYTES`]. The sizes it declares are
//! not trusted: the dense bitmap is made only when it costs at most an eighth of the topic's
//! `log.dat` (a genuine run's log holds at least 40 bytes, header and payload, per value, so its
//! bitmap is at most 1/320 of the log) plus [`DENSE_FLOOR_BYTES`], and never more than
//! [`MAX_DENSE_BYTES`]. Past that, values judged `Ok` are remembered in a hash set instead,
//! which grows by one entry per distinct record `verify` has read, never by what the file claims.

use super::history::RunShape;
use super::payload::{decode_payload, message_size, PayloadError};
use crate::storage::{PayloadCheck, PayloadVerdict};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

/// The file name inside a topic directory.
pub const RUN_FILE: &str = "run.json";

/// The most bytes a `run.json` may hold; a larger one is not read (the harness writes about 200).
pub const MAX_RUN_FILE_BYTES: u64 = 64 * 1024;

/// The dense duplicate bitmap is always allowed this much, whatever the log's size.
pub const DENSE_FLOOR_BYTES: u64 = 1 << 20;

/// The dense duplicate bitmap never exceeds this (2 G values of one run).
pub const MAX_DENSE_BYTES: u64 = 256 << 20;

/// The description of the run that wrote a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFile {
    pub seed: u64,
    pub producers: u32,
    pub message_bytes: usize,
    /// `--message-bytes MIN..MAX`: the largest size (`message_bytes` is then the smallest);
    /// absent for one size. Each value's size is [`message_size`] of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_bytes_max: Option<usize>,
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
            message_bytes_max: None,
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

    /// Reads `run.json` from `topic_dir`, if there is a readable one of at most
    /// [`MAX_RUN_FILE_BYTES`].
    pub fn read(topic_dir: &Path) -> Option<RunFile> {
        let file = std::fs::File::open(topic_dir.join(RUN_FILE)).ok()?;
        let mut bytes = Vec::new();
        file.take(MAX_RUN_FILE_BYTES + 1).read_to_end(&mut bytes).ok()?;
        if bytes.len() as u64 > MAX_RUN_FILE_BYTES {
            return None;
        }
        serde_json::from_slice(&bytes).ok()
    }
}

/// Judges payloads against a run file. Invariant: a value is in `seen` once it has been
/// judged `Ok`.
pub struct RunPayloadCheck {
    run: RunFile,
    seen: Seen,
}

/// The values judged `Ok` so far.
enum Seen {
    /// Bit `seq` of `bits[producer]`: the run's declared size was small enough.
    Dense(Vec<Vec<u64>>),
    /// (producer, seq): one entry per distinct value read.
    Sparse(HashSet<(u32, u64)>),
}

impl RunPayloadCheck {
    /// A checker for a run the caller wrote itself: dense up to [`MAX_DENSE_BYTES`].
    pub fn new(run: RunFile) -> RunPayloadCheck {
        RunPayloadCheck::with_dense_limit(run, MAX_DENSE_BYTES)
    }

    /// A checker for the topic whose `log.dat` holds `log_bytes`: the bitmap may take an
    /// eighth of it plus [`DENSE_FLOOR_BYTES`] (see the module docs).
    pub fn for_log(run: RunFile, log_bytes: u64) -> RunPayloadCheck {
        RunPayloadCheck::with_dense_limit(run, (log_bytes / 8).saturating_add(DENSE_FLOOR_BYTES))
    }

    /// Dense when the bitmap and its per-producer vectors take at most `limit` bytes.
    fn with_dense_limit(run: RunFile, limit: u64) -> RunPayloadCheck {
        let words = run.messages_per_producer.div_ceil(64);
        let per_producer = words.saturating_mul(8).saturating_add(std::mem::size_of::<Vec<u64>>() as u64);
        let dense_bytes = per_producer.saturating_mul(u64::from(run.producers));
        let seen = match usize::try_from(words) {
            Ok(words) if dense_bytes <= limit.min(MAX_DENSE_BYTES) => {
                Seen::Dense(vec![vec![0u64; words]; run.producers as usize])
            }
            _ => Seen::Sparse(HashSet::new()),
        };
        RunPayloadCheck { run, seen }
    }

    /// Whether the bitmap is dense (for tests and the docs' claim).
    pub fn is_dense(&self) -> bool {
        matches!(self.seen, Seen::Dense(_))
    }

    /// Marks the value seen; returns whether it already was.
    fn mark(&mut self, producer: u32, seq: u64) -> bool {
        match &mut self.seen {
            Seen::Dense(bits) => {
                let (word, bit) = ((seq / 64) as usize, seq % 64);
                let slot = &mut bits[producer as usize][word];
                let was = *slot & (1 << bit) != 0;
                *slot |= 1 << bit;
                was
            }
            Seen::Sparse(set) => !set.insert((producer, seq)),
        }
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
            && payload.len()
                == message_size(
                    self.run.seed,
                    id.producer,
                    id.seq,
                    self.run.message_bytes,
                    self.run.message_bytes_max.unwrap_or(0),
                )
            && id.producer % self.run.topics.max(1) == self.run.topic_index;
        if !sent_here {
            return PayloadVerdict::Unknown;
        }
        if self.mark(id.producer, id.seq) {
            return PayloadVerdict::Duplicate { producer: id.producer, seq: id.seq };
        }
        PayloadVerdict::Ok { producer: id.producer, seq: id.seq }
    }
}

/// A payload checker for `topic_dir` if it holds a `run.json` (used by `synclog verify`).
pub fn payload_check_for(topic_dir: &Path) -> Option<Box<dyn PayloadCheck>> {
    let run = RunFile::read(topic_dir)?;
    let log_bytes = std::fs::metadata(topic_dir.join(crate::storage::LOG_FILE)).map_or(0, |m| m.len());
    Some(Box::new(RunPayloadCheck::for_log(run, log_bytes)))
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
            message_bytes_max: None,
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
    fn a_mixed_size_run_accepts_each_value_at_its_own_size_only() {
        let mixed = RunFile { message_bytes: 30, message_bytes_max: Some(90), ..run() };
        let mut c = RunPayloadCheck::new(mixed);
        let own = message_size(7, 1, 5, 30, 90);
        assert_eq!(c.check(&payload(1, 5, own)), PayloadVerdict::Ok { producer: 1, seq: 5 });
        let own6 = message_size(7, 1, 6, 30, 90);
        let wrong = if own6 < 90 { own6 + 1 } else { own6 - 1 };
        assert_eq!(
            c.check(&payload(1, 6, wrong)),
            PayloadVerdict::Unknown,
            "a size in the range, not the value's own"
        );
        // The field is absent from a one-size run's file, and an older file without it reads.
        assert!(!serde_json::to_string(&run()).unwrap().contains("message_bytes_max"));
    }

    #[test]
    fn run_files_round_trip_through_a_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(payload_check_for(dir.path()).is_none());
        run().write(dir.path()).expect("write");
        assert_eq!(RunFile::read(dir.path()), Some(run()));
        assert!(payload_check_for(dir.path()).is_some());
    }

    #[test]
    fn declared_sizes_past_the_log_give_the_same_verdicts_from_a_set() {
        let huge = RunFile { producers: u32::MAX, messages_per_producer: u64::MAX, ..run() };
        let mut c = RunPayloadCheck::for_log(huge, 1 << 30);
        assert!(!c.is_dense(), "2^96 bits are not allocated for a 1 GiB log");
        assert_eq!(c.check(&payload(1, 5, 40)), PayloadVerdict::Ok { producer: 1, seq: 5 });
        assert_eq!(c.check(&payload(1, 5, 40)), PayloadVerdict::Duplicate { producer: 1, seq: 5 });
        assert_eq!(c.check(&payload(5, 1 << 40, 40)), PayloadVerdict::Ok { producer: 5, seq: 1 << 40 });
        assert_eq!(c.check(&payload(2, 5, 40)), PayloadVerdict::Unknown, "producer 2 writes topic 0");
        // A bitmap over the log's eighth plus the floor is refused; one under it is made.
        let big = RunFile { producers: 1, messages_per_producer: 8 * (DENSE_FLOOR_BYTES + 1024), ..run() };
        assert!(!RunPayloadCheck::for_log(big.clone(), 0).is_dense());
        assert!(RunPayloadCheck::for_log(big, 8 * 4096).is_dense());
        assert!(RunPayloadCheck::for_log(run(), 0).is_dense(), "a real run's bitmap fits the floor");
    }

    #[test]
    fn an_oversized_run_file_is_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut json = serde_json::to_vec(&run()).expect("json");
        json.pop(); // the closing brace: pad the object with whitespace past the cap
        json.resize(MAX_RUN_FILE_BYTES as usize, b' ');
        json.push(b'}');
        std::fs::write(dir.path().join(RUN_FILE), &json).expect("write");
        assert_eq!(RunFile::read(dir.path()), None, "{} bytes is one past the cap", json.len());
        json.truncate(json.len() - 2);
        json.push(b'}');
        std::fs::write(dir.path().join(RUN_FILE), &json).expect("write");
        assert_eq!(RunFile::read(dir.path()), Some(run()), "{} bytes is within it", json.len());
    }
}
