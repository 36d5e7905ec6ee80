//! A state-machine test of the storage: random sequences of appends, batches, reads and reopens
//! run against `Log<RwLockSync>` in a temporary directory and against a model that is just a
//! `Vec` of payloads, compared after every step.
//!
//! What is compared:
//! - `Append` and `AppendBatch` return the model's length as the (first) offset; an empty batch
//!   appends nothing and returns the next offset;
//! - `Read(offset, max_messages, max_bytes)`: past the end is `OffsetOutOfRange { requested,
//!   next }`; at the end, or with `max_messages` 0, no records; otherwise the records from
//!   `offset`, at most `max_messages`, adding records while the payload total stays within
//!   `max_bytes` but always at least one (checked explicitly too, with tiny `max_bytes`);
//! - `Reopen` drops the log and opens the directory again: recovery repairs nothing, scans only
//!   the records after the last index entry, and restores the next offset;
//! - after every step, `next_offset` equals the model's length.
//!
//! Payloads are 0–299 bytes and batches up to 150 records, so a run crosses several index
//! intervals (100) and reads start from index entries as well as from offset 0.

use proptest::prelude::*;
use proptest::sample::Index;
use synclog::storage::{Log, LogConfig, LogError, INDEX_INTERVAL};
use synclog::strategies::RwLockSync;

/// Where a read starts, relative to the log as it is when the read runs (the operations are
/// generated before anything is appended, so absolute offsets would mostly miss).
#[derive(Debug, Clone)]
enum ReadAt {
    /// Any offset from 0 to the next offset, inclusive.
    Within(Index),
    /// Exactly the next offset: no records.
    End,
    /// This many offsets past the next offset: out of range.
    PastEnd(u64),
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    AppendBatch(Vec<Vec<u8>>),
    Read { at: ReadAt, max_messages: u32, max_bytes: u32 },
    Reopen,
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..300)
}

fn op() -> impl Strategy<Value = Op> {
    let read_at = prop_oneof![
        6 => any::<Index>().prop_map(ReadAt::Within),
        1 => Just(ReadAt::End),
        1 => (1..3u64).prop_map(ReadAt::PastEnd),
    ];
    // Tiny byte limits (below one payload) as often as roomy ones, so "at least one record"
    // and "stop before the limit" are both exercised.
    let max_bytes = prop_oneof![0..=20u32, 0..=5_000u32];
    let max_messages = prop_oneof![1 => Just(0u32), 8 => 1..=250u32];
    prop_oneof![
        4 => payload().prop_map(Op::Append),
        3 => prop::collection::vec(payload(), 0..=150).prop_map(Op::AppendBatch),
        4 => (read_at, max_messages, max_bytes)
            .prop_map(|(at, max_messages, max_bytes)| Op::Read { at, max_messages, max_bytes }),
        1 => Just(Op::Reopen),
    ]
}

/// What a read of the model returns: the records `Log::read` must return, by its contract.
fn model_read(model: &[Vec<u8>], offset: u64, max_messages: u32, max_bytes: u32) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut payload_bytes = 0;
    for (o, p) in model.iter().enumerate().skip(offset as usize) {
        if out.len() >= max_messages as usize
            || (!out.is_empty() && payload_bytes + p.len() > max_bytes as usize)
        {
            break;
        }
        payload_bytes += p.len();
        out.push((o as u64, p.clone()));
    }
    out
}

/// Runs `ops` against the log and the model, comparing after each step.
fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let open = || Log::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("open");
    let (mut log, first) = open();
    prop_assert!(!first.repaired());
    let mut model: Vec<Vec<u8>> = Vec::new();

    for (step, op) in ops.into_iter().enumerate() {
        let next = model.len() as u64;
        match op {
            Op::Append(payload) => {
                prop_assert_eq!(log.append(&payload).expect("append"), next, "step {}", step);
                model.push(payload);
            }
            Op::AppendBatch(payloads) => {
                prop_assert_eq!(log.append_batch(&payloads).expect("append_batch"), next, "step {}", step);
                model.extend(payloads);
            }
            Op::Read { at, max_messages, max_bytes } => {
                let offset = match at {
                    ReadAt::Within(i) => i.index(model.len() + 1) as u64,
                    ReadAt::End => next,
                    ReadAt::PastEnd(k) => next + k,
                };
                match log.read(offset, max_messages, max_bytes) {
                    Err(LogError::OffsetOutOfRange { requested, next: reported }) => {
                        prop_assert!(offset > next, "step {}: {} is not past the end {}", step, offset, next);
                        prop_assert_eq!((requested, reported), (offset, next), "step {}", step);
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("step {step}: read failed: {e}"))),
                    Ok(batch) => {
                        prop_assert!(offset <= next, "step {}: read past the end {} succeeded", step, next);
                        prop_assert_eq!(batch.high_watermark, next, "step {}", step);
                        let got: Vec<(u64, Vec<u8>)> = batch.iter().map(|(o, p)| (o, p.to_vec())).collect();
                        if offset < next && max_messages > 0 {
                            prop_assert!(!got.is_empty(), "step {}: no record though one exists", step);
                        }
                        prop_assert_eq!(
                            got,
                            model_read(&model, offset, max_messages, max_bytes),
                            "step {}",
                            step
                        );
                    }
                }
            }
            Op::Reopen => {
                drop(log);
                let recovery;
                (log, recovery) = open();
                prop_assert!(!recovery.repaired(), "step {}: a clean reopen repaired {:?}", step, recovery);
                prop_assert_eq!(recovery.next_offset, next, "step {}", step);
                // Recovery starts at the last index entry (the greatest multiple of the interval
                // below `next`) and scans only the records from there on.
                let last_indexed =
                    next.checked_sub(1).map_or(0, |last| last / INDEX_INTERVAL * INDEX_INTERVAL);
                prop_assert_eq!(recovery.records_scanned, next - last_indexed, "step {}", step);
            }
        }
        prop_assert_eq!(log.next_offset(), model.len() as u64, "step {}: next offset", step);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_log_behaves_like_a_vec_of_payloads(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}
