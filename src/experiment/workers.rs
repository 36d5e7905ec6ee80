//! The threads of a run: a producer, a consumer, and the drain's reader of one topic. Each
//! records what it did in the run's history; none of them judges it.

use super::run::RunConfig;
use super::transport::{Completion, ConsumerEndpoint, Fetch, ProducerEndpoint};
use crate::check::history::{corrupt_resume_offset, FetchOutcome, History, SendOutcome};
use crate::check::payload::encode_payload;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// When a producer left its warm-up and when it got its last answer.
pub(super) struct ProducerTiming {
    pub(super) warm: Instant,
    pub(super) end: Instant,
}

/// One producer: its messages in requests of `--batch`, `--in-flight` outstanding.
pub(super) fn produce(
    config: &RunConfig,
    history: &History,
    producer: u32,
    topic: &str,
    mut endpoint: Box<dyn ProducerEndpoint>,
    warmup: u64,
    sent: &AtomicU64,
) -> ProducerTiming {
    let shape = history.shape();
    let total = shape.messages_per_producer;
    let batch = u64::from(config.batch);
    let mut buf = Vec::with_capacity(config.batch as usize * config.message_bytes);
    let mut window: VecDeque<(u64, u32)> = VecDeque::with_capacity(config.in_flight as usize);
    let mut warm = if warmup == 0 { Some(Instant::now()) } else { None };
    let finish_one = |endpoint: &mut Box<dyn ProducerEndpoint>, window: &mut VecDeque<(u64, u32)>| {
        if let Some((first, n)) = window.pop_front() {
            let outcome = match endpoint.finish() {
                Completion::Acked(base_offset) => SendOutcome::Acked { base_offset },
                Completion::Failed => SendOutcome::Failed,
                Completion::Unknown => SendOutcome::Unknown,
            };
            history.end_send(producer, first, n, outcome);
            sent.fetch_add(u64::from(n), Ordering::Relaxed);
        }
    };
    let mut seq = 0;
    while seq < total {
        let n = batch.min(total - seq) as u32;
        if window.len() >= config.in_flight as usize {
            finish_one(&mut endpoint, &mut window);
        }
        buf.clear();
        for s in seq..seq + u64::from(n) {
            encode_payload(shape.seed, producer, s, config.message_bytes, &mut buf);
        }
        let messages: Vec<&[u8]> = buf.chunks(config.message_bytes).collect();
        history.begin_send(producer, seq, n);
        match endpoint.start(topic, &messages) {
            Ok(()) => window.push_back((seq, n)),
            Err(_) => {
                // The request may not have left; it is never retried.
                history.end_send(producer, seq, n, SendOutcome::Unknown);
                sent.fetch_add(u64::from(n), Ordering::Relaxed);
            }
        }
        seq += u64::from(n);
        if warm.is_none() && seq >= warmup {
            warm = Some(Instant::now());
        }
    }
    while !window.is_empty() {
        finish_one(&mut endpoint, &mut window);
    }
    let end = Instant::now();
    ProducerTiming { warm: warm.unwrap_or(end), end }
}

/// Records one fetch's outcome in the consumer's recorder; returns (next offset, high
/// watermark if answered, records returned).
fn record(
    recorder: &mut crate::check::history::ConsumerRecorder<'_>,
    topic: u32,
    offset: u64,
    start_ns: u64,
    end_ns: u64,
    fetch: Fetch<'_>,
) -> (u64, Option<u64>, bool) {
    match fetch {
        Fetch::Records { high_watermark, mut records } => {
            let mut any = false;
            let mut iter = std::iter::from_fn(|| {
                let r = records.next();
                any |= r.is_some();
                r
            });
            let next = recorder.record_fetch(
                topic,
                offset,
                start_ns,
                end_ns,
                FetchOutcome::Records { high_watermark, records: &mut iter },
            );
            (next, Some(high_watermark), any)
        }
        Fetch::Corrupt => {
            (recorder.record_fetch(topic, offset, start_ns, end_ns, FetchOutcome::CorruptLog), None, false)
        }
        Fetch::OutOfRange | Fetch::Failed(_) => {
            (recorder.record_fetch(topic, offset, start_ns, end_ns, FetchOutcome::Error), None, false)
        }
    }
}

/// One consumer: reads its topic from 0 until the producers are done and it has caught up.
pub(super) fn consume(
    history: &History,
    consumer: u32,
    topic: u32,
    names: &[String],
    mut endpoint: Box<dyn ConsumerEndpoint>,
    producing: &AtomicBool,
) -> Instant {
    let mut recorder = history.consumer(consumer);
    let name = &names[topic as usize];
    let mut offset = 0u64;
    let mut errors_after_done = 0;
    let mut done_at: Option<Instant> = None;
    loop {
        let done = !producing.load(Ordering::Acquire);
        if done && done_at.is_none() {
            done_at = Some(Instant::now());
        }
        let wait = if done { Duration::ZERO } else { Duration::from_millis(100) };
        let start_ns = history.now_ns();
        let fetch = endpoint.fetch(name, offset, 1000, 1 << 20, wait);
        let end_ns = history.now_ns();
        let (next, high_watermark, any) = record(&mut recorder, topic, offset, start_ns, end_ns, fetch);
        offset = next;
        match high_watermark {
            // A fetch started after the producers finished saw the final watermark.
            Some(hw) if done && !any && offset >= hw => break,
            Some(_) => errors_after_done = 0,
            None if done => {
                errors_after_done += 1;
                if errors_after_done > 3 {
                    break;
                }
            }
            None => thread::sleep(Duration::from_millis(1)),
        }
        // However broken the log, a consumer gives up a minute after the producers finished.
        if done_at.is_some_and(|t| t.elapsed() > Duration::from_secs(60)) {
            break;
        }
    }
    drop(recorder);
    Instant::now()
}

/// Reads a topic from 0 to its end into the drain recorder, skipping corrupt stretches.
pub(super) fn drain_topic(
    reader: &mut dyn ConsumerEndpoint,
    topic: u32,
    name: &str,
    drain: &mut crate::check::history::DrainRecorder<'_>,
    notes: &mut Vec<String>,
) {
    let mut offset = 0u64;
    let mut failures = 0;
    loop {
        match reader.fetch(name, offset, 10_000, 4 << 20, Duration::ZERO) {
            Fetch::Records { high_watermark, records } => {
                let mut any = false;
                for (o, payload) in records {
                    drain.record(topic, o, payload);
                    offset = offset.max(o + 1);
                    any = true;
                }
                if !any || offset >= high_watermark {
                    break;
                }
            }
            Fetch::Corrupt => {
                let resume = corrupt_resume_offset(offset);
                drain.corrupt(topic, offset, resume - offset);
                offset = resume;
            }
            Fetch::OutOfRange => break,
            Fetch::Failed(why) => {
                failures += 1;
                if failures >= 3 {
                    notes.push(format!("the drain of {name} stopped at offset {offset}: {why}"));
                    break;
                }
            }
        }
    }
}
