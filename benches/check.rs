//! The checker's own time: `check/clean/<messages>` checks the history of a clean run of 8
//! producers on one topic (every message acknowledged and drained, the producers' acks
//! interleaved in the topic as a locked log interleaves them), built once, outside the timing.
//!
//! The run's check time (`phases.check_s` of a harness report) is this plus nothing: the load
//! and the drain are over when `check` starts. `cargo bench --bench check` checks 10 million
//! messages (about 0.6 GiB of history); `SYNCLOG_BENCH_CHECK_MESSAGES=N` picks another size.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use synclog::check::history::{History, RunShape, SendOutcome};
use synclog::check::{check, encode_payload};

const PRODUCERS: u32 = 8;
const MESSAGE_BYTES: usize = 40;
const SEED: u64 = 1;

/// The requests of a clean run: (producer, first seq, count, base offset), batches of 1 to 7
/// messages, producers taking turns at the log.
fn schedule(per_producer: u64) -> Vec<(u32, u64, u64, u64)> {
    let mut requests = Vec::new();
    let (mut next, mut offset, mut turn) = (vec![0u64; PRODUCERS as usize], 0u64, 0u64);
    while next.iter().any(|&n| n < per_producer) {
        let p = (turn % u64::from(PRODUCERS)) as u32;
        let first = next[p as usize];
        let count = (turn % 7 + 1).min(per_producer - first);
        if count > 0 {
            requests.push((p, first, count, offset));
            next[p as usize] += count;
            offset += count;
        }
        turn += 1;
    }
    requests
}

/// A clean history: every request acknowledged, the drain finding each value at its offset.
fn clean_history(messages: u64) -> History {
    let per_producer = messages / u64::from(PRODUCERS);
    let shape = RunShape {
        seed: SEED,
        producers: PRODUCERS,
        topics: 1,
        messages_per_producer: per_producer,
        message_bytes: MESSAGE_BYTES,
    };
    let history = History::new(shape);
    let requests = schedule(per_producer);
    for &(p, first, count, base) in &requests {
        history.begin_send(p, first, count as u32);
        history.end_send(p, first, count as u32, SendOutcome::Acked { base_offset: base });
    }
    let mut drain = history.drain();
    let mut payload = Vec::new();
    for &(p, first, count, base) in &requests {
        for i in 0..count {
            payload.clear();
            encode_payload(SEED, p, first + i, MESSAGE_BYTES, &mut payload);
            drain.record(0, base + i, &payload);
        }
    }
    drop(drain);
    history
}

fn checker(c: &mut Criterion) {
    let messages = std::env::var("SYNCLOG_BENCH_CHECK_MESSAGES")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(10_000_000);
    let history = clean_history(messages);
    let names = vec!["bench-topic".to_string()];
    let mut group = c.benchmark_group("check");
    group.throughput(Throughput::Elements(messages));
    group.bench_with_input(BenchmarkId::new("clean", messages), &messages, |b, _| {
        // A drain that reads nothing adds nothing: each check sees the same history.
        b.iter(|| check(&history, history.drain(), &names).is_clean())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .sample_size(10);
    targets = checker
}
// criterion_main!, plus the bundled font that criterion's plots need (see report::charts).
fn main() {
    synclog::report::charts::register_font();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
