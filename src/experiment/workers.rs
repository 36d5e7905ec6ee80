//! The threads of a run: a producer, a consumer, and the drain's reader of one topic. Each
//! records what it did in the run's history; none of them judges it.

use super::payloads::Prepared;
use super::run::RunConfig;
use super::transport::{Completion, ConsumerEndpoint, Fetch, ProducerEndpoint};
use crate::check::history::{corrupt_resume_offset, FetchOutcome, History, SendOutcome};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// When a producer left its warm-up and when it got its last answer, and (open loop) how far
/// behind its schedule it fell.
pub(super) struct ProducerTiming {
    pub(super) warm: Instant,
    pub(super) end: Instant,
    pub(super) lag: Lag,
}

/// How far an open-loop producer fell behind its schedule: the time from when a request was
/// due to when it was sent (a full `--in-flight` window, or a slow answer, delays it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Lag {
    /// Requests sent.
    pub(super) requests: u64,
    /// Requests sent more than [`LATE_NS`] after they were due.
    pub(super) late: u64,
    /// The longest delay, ns.
    pub(super) max_ns: u64,
}

/// A request sent this long after it was due counts as late.
pub(super) const LATE_NS: u64 = 1_000_000;

/// An open-loop producer's timetable (`--rate`): request `seq` is due at `t0 + seq / rate`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Schedule {
    /// The history clock's time of seq 0, ns.
    t0_ns: u64,
    /// This producer's share of `--rate`, messages per second.
    per_s: f64,
}

impl Schedule {
    pub(super) fn new(t0_ns: u64, per_s: f64) -> Schedule {
        Schedule { t0_ns, per_s: per_s.max(1e-3) }
    }

    /// When the request starting at `seq` is due, on the history's clock.
    pub(super) fn due_ns(&self, seq: u64) -> u64 {
        self.t0_ns.saturating_add((seq as f64 * 1e9 / self.per_s) as u64)
    }
}

/// Waits until `due_ns` on `history`'s clock (sleeping, then yielding for the last stretch);
/// returns how late it is now, ns (0 when on time).
fn wait_until(history: &History, due_ns: u64) -> u64 {
    loop {
        let now = history.now_ns();
        if now >= due_ns {
            return now - due_ns;
        }
        let ahead = due_ns - now;
        if ahead > 200_000 {
            thread::sleep(Duration::from_nanos(ahead - 100_000));
        } else {
            thread::yield_now();
        }
    }
}

/// One producer: its messages in requests of `--batch`, `--in-flight` outstanding. With a
/// `schedule` (open loop, `--rate`) each request waits until it is due, and its latency is
/// timed from when it was due, not from when it was sent. Its payloads are sliced from
/// `prepared` (encoded before the clock started, see [`super::payloads`]) or, when the run's
/// were too many to hold, encoded as each request is built.
#[allow(clippy::too_many_arguments)]
pub(super) fn produce(
    config: &RunConfig,
    history: &History,
    producer: u32,
    prepared: Option<&Prepared>,
    topic: &str,
    mut endpoint: Box<dyn ProducerEndpoint>,
    warmup: u64,
    sent: &AtomicU64,
    schedule: Option<Schedule>,
    on_warm: &(dyn Fn() + Sync),
) -> ProducerTiming {
    let mut lag = Lag::default();
    let shape = history.shape();
    let total = shape.messages_per_producer;
    let batch = u64::from(config.batch);
    // Without prepared payloads, each request's are encoded here, into buffers kept across
    // requests.
    let mut inline = Prepared::default();
    let mut window: VecDeque<(u64, u32)> = VecDeque::with_capacity(config.in_flight as usize);
    let mut warm = if warmup == 0 {
        on_warm();
        Some(Instant::now())
    } else {
        None
    };
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
        let seqs = seq..seq + u64::from(n);
        let messages: Vec<&[u8]> = match prepared {
            Some(prepared) => prepared.messages(seqs).collect(),
            None => {
                inline
                    .refill(shape.seed, producer, seqs.clone(), |s| config.size_of(shape.seed, producer, s));
                inline.messages(seqs).collect()
            }
        };
        match schedule {
            None => {
                history.begin_send(producer, seq, n);
            }
            Some(schedule) => {
                let due = schedule.due_ns(seq);
                let late = wait_until(history, due);
                lag.requests += 1;
                lag.late += u64::from(late > LATE_NS);
                lag.max_ns = lag.max_ns.max(late);
                history.begin_send_at(producer, seq, n, due);
            }
        }
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
            on_warm();
            warm = Some(Instant::now());
        }
    }
    while !window.is_empty() {
        finish_one(&mut endpoint, &mut window);
    }
    let end = Instant::now();
    ProducerTiming { warm: warm.unwrap_or(end), end, lag }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::RunShape;

    /// Answers every request at once, except request `stall_at`, whose answer takes `stall`.
    struct StallOnce {
        started: u64,
        finished: u64,
        stall_at: u64,
        stall: Duration,
    }

    impl ProducerEndpoint for StallOnce {
        fn start(&mut self, _topic: &str, messages: &[&[u8]]) -> Result<(), String> {
            self.started += messages.len() as u64;
            Ok(())
        }
        fn finish(&mut self) -> Completion {
            if self.finished == self.stall_at {
                thread::sleep(self.stall);
            }
            self.finished += 1;
            Completion::Acked(self.finished - 1)
        }
    }

    const REQUESTS: u64 = 400;
    const STALL: Duration = Duration::from_millis(200);

    /// One producer sends REQUESTS single-message requests, one in flight, to an endpoint that
    /// stalls once for STALL; returns (requests timed at STALL or more, the producer's lag).
    fn stalled_run(schedule: impl FnOnce(&History) -> Option<Schedule>) -> (u64, Lag) {
        let shape =
            RunShape { seed: 1, producers: 1, topics: 1, messages_per_producer: REQUESTS, message_bytes: 32 };
        let history = History::new(shape);
        let config =
            RunConfig { producers: 1, messages: REQUESTS, message_bytes: 32, ..RunConfig::default() };
        let endpoint = Box::new(StallOnce { started: 0, finished: 0, stall_at: 10, stall: STALL });
        let schedule = schedule(&history);
        let timing =
            produce(&config, &history, 0, None, "t", endpoint, 0, &AtomicU64::new(0), schedule, &|| ());
        let latency = history.produce_latency_us();
        let stalled = latency.count_between(STALL.as_micros() as u64 * 9 / 10, u64::MAX);
        (stalled, timing.lag)
    }

    #[test]
    fn closed_loop_times_a_stall_once_and_open_loop_in_every_request_it_delayed() {
        // Closed loop: the stall delays the sender, so only the stalled request is timed long
        // (a scheduler hiccup of the same length could add one; the comparison below allows it).
        let (closed, closed_lag) = stalled_run(|_| None);
        assert!(closed >= 1, "closed loop: the stalled request itself is timed with the stall");
        assert_eq!(closed_lag, Lag::default(), "a closed-loop producer keeps no schedule");

        // Open loop at 1 000 messages/s: the 200 ms stall makes the next requests late too, and
        // each of them is timed from when it was due. The requests due during the stall wait
        // at least 200 - (k ms) for k = 1.. so about 20 of them still wait 90 % of it or more.
        let (open, lag) = stalled_run(|h| Some(Schedule::new(h.now_ns(), 1_000.0)));
        assert!(
            open >= closed + 9,
            "open loop: the requests due during the stall are timed with it ({open} against {closed} closed)"
        );
        assert_eq!(lag.requests, REQUESTS);
        assert!(lag.late >= 100, "the requests due during the stall were sent late ({})", lag.late);
        assert!(
            lag.max_ns >= STALL.as_nanos() as u64 * 9 / 10,
            "the worst delay is the stall ({} ns)",
            lag.max_ns
        );
    }

    #[test]
    fn a_schedule_spaces_requests_by_the_producers_share_of_the_rate() {
        let s = Schedule::new(1_000, 500.0);
        assert_eq!(s.due_ns(0), 1_000);
        assert_eq!(s.due_ns(1), 1_000 + 2_000_000);
        assert_eq!(s.due_ns(500), 1_000 + 1_000_000_000);
    }
}
