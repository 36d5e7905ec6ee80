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

/// When a producer got its last answer, what it got acknowledged after its warm-up and over
/// which window, and (open loop) how far behind its schedule it fell.
pub(super) struct ProducerTiming {
    /// When it got its last answer, acknowledgement or not.
    pub(super) end: Instant,
    pub(super) lag: Lag,
    /// What was acknowledged after the warm-up, over which window, and what was not.
    pub(super) acks: Acks,
}

/// A producer's answers: the acknowledged messages after its warm-up (what its rate counts),
/// the window they are counted over, and the requests that were not acknowledged.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Acks {
    /// Messages after the warm-up (seq ≥ warm-up) that were acknowledged.
    pub(super) timed_messages: u64,
    /// The window the rate is counted over: from leaving the warm-up (closed loop) or the
    /// first timed message's due time (open loop), to the later of the last acknowledgement and
    /// (open loop) the end of the schedule; `None` when no timed message was acknowledged.
    pub(super) window: Option<(Instant, Instant)>,
    /// Requests refused by the broker, never sent (their connection had failed) or left
    /// unanswered.
    pub(super) errors: u64,
    /// The first of them: when, and what the endpoint said.
    pub(super) first_error: Option<(Instant, String)>,
}

impl Acks {
    /// This producer's acknowledged messages per second over its window (0 with none).
    pub(super) fn rate(&self) -> f64 {
        match self.window {
            Some((from, to)) => {
                self.timed_messages as f64 / to.saturating_duration_since(from).as_secs_f64().max(1e-9)
            }
            None => 0.0,
        }
    }
}

/// What a producer learns as its answers come: builds its [`Acks`].
struct AckTally {
    warmup: u64,
    /// Where the timed window starts, once known.
    from: Option<Instant>,
    /// When the last timed message was acknowledged, on the history's clock (ns).
    last_ack_ns: Option<u64>,
    /// One reading of both clocks, to turn the history's times into instants.
    anchor: (Instant, u64),
    acks: Acks,
}

impl AckTally {
    /// Records the answer to the request of seqs `first .. first + n`, come at `end_ns` on the
    /// history's clock; returns the outcome the history keeps.
    fn answer(&mut self, first: u64, n: u32, completion: Completion, end_ns: u64) -> SendOutcome {
        let (outcome, why) = match completion {
            Completion::Acked(base_offset) => {
                let timed = u64::from(n) - self.warmup.saturating_sub(first).min(u64::from(n));
                if timed > 0 {
                    self.acks.timed_messages += timed;
                    self.last_ack_ns = Some(end_ns);
                }
                return SendOutcome::Acked { base_offset };
            }
            Completion::Failed(why) => (SendOutcome::Failed, why),
            Completion::Unknown(why) => (SendOutcome::Unknown, why),
        };
        self.error(why);
        outcome
    }

    /// The producer leaves its warm-up now: tells `on_warm`, and (closed loop) the timed window
    /// starts.
    fn leave_warmup(&mut self, on_warm: &(dyn Fn() + Sync)) {
        on_warm();
        self.from.get_or_insert_with(Instant::now);
    }

    /// Counts a request that was not acknowledged, keeping the first reason.
    fn error(&mut self, why: String) {
        self.acks.errors += 1;
        if self.acks.first_error.is_none() {
            self.acks.first_error = Some((Instant::now(), why));
        }
    }

    /// The tally, the window closed at the last acknowledgement or `schedule_end`, the later.
    fn finish(mut self, schedule_end: Option<Instant>) -> Acks {
        if let (Some(from), Some(last_ns)) = (self.from, self.last_ack_ns) {
            let last = instant_of(self.anchor, last_ns);
            self.acks.window = Some((from, schedule_end.map_or(last, |end| end.max(last))));
        }
        self.acks
    }
}

/// Maps a time on the history's clock (ns) to an [`Instant`], from one reading of both.
fn instant_of(anchor: (Instant, u64), ns: u64) -> Instant {
    let (at, at_ns) = anchor;
    if ns >= at_ns {
        at + Duration::from_nanos(ns - at_ns)
    } else {
        at.checked_sub(Duration::from_nanos(at_ns - ns)).unwrap_or(at)
    }
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

/// The entries a producer's in-flight window reserves: `--in-flight`, but never more than the
/// producer has requests (`messages` in requests of `batch`), however large `--in-flight` is.
fn window_capacity(messages: u64, batch: u32, in_flight: u32) -> usize {
    let requests = messages.div_ceil(u64::from(batch.max(1)));
    requests.min(u64::from(in_flight)) as usize
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
    let mut window: VecDeque<(u64, u32)> =
        VecDeque::with_capacity(window_capacity(total, config.batch, config.in_flight));
    let anchor = (Instant::now(), history.now_ns());
    let mut tally = AckTally { warmup, from: None, last_ack_ns: None, anchor, acks: Acks::default() };
    // Open loop: the timed window starts when the first timed message was due.
    tally.from = schedule.map(|s| instant_of(anchor, s.due_ns(warmup)));
    let mut warm = warmup == 0;
    if warm {
        tally.leave_warmup(on_warm);
    }
    let finish_one = |endpoint: &mut Box<dyn ProducerEndpoint>,
                      window: &mut VecDeque<(u64, u32)>,
                      tally: &mut AckTally| {
        if let Some((first, n)) = window.pop_front() {
            let completion = endpoint.finish();
            // One clock reading for the history's latency and the tally's window.
            let end_ns = history.now_ns();
            let outcome = tally.answer(first, n, completion, end_ns);
            history.end_send_at(producer, first, n, outcome, end_ns);
            sent.fetch_add(u64::from(n), Ordering::Relaxed);
        }
    };
    // Each request's payloads as slices, of `prepared` into one list kept across requests.
    let mut slices: Vec<&[u8]> = Vec::with_capacity(batch as usize);
    let mut inline_slices: Vec<&[u8]>;
    let mut seq = 0;
    while seq < total {
        let n = batch.min(total - seq) as u32;
        if window.len() >= config.in_flight as usize {
            finish_one(&mut endpoint, &mut window, &mut tally);
        }
        let seqs = seq..seq + u64::from(n);
        let messages: &[&[u8]] = match prepared {
            Some(prepared) => {
                slices.clear();
                slices.extend(prepared.messages(seqs));
                &slices
            }
            None => {
                inline
                    .refill(shape.seed, producer, seqs.clone(), |s| config.size_of(shape.seed, producer, s));
                inline_slices = inline.messages(seqs).collect();
                &inline_slices
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
        match endpoint.start(topic, messages) {
            Ok(()) => window.push_back((seq, n)),
            Err(why) => {
                // The request may not have left; it is never retried.
                tally.error(why);
                history.end_send(producer, seq, n, SendOutcome::Unknown);
                sent.fetch_add(u64::from(n), Ordering::Relaxed);
            }
        }
        seq += u64::from(n);
        if !warm && seq >= warmup {
            warm = true;
            tally.leave_warmup(on_warm);
        }
    }
    while !window.is_empty() {
        finish_one(&mut endpoint, &mut window, &mut tally);
    }
    let end = Instant::now();
    // Open loop: n messages take n intervals of the schedule, so a producer that kept it
    // achieves its share of the rate exactly.
    let schedule_end = schedule.map(|s| instant_of(anchor, s.due_ns(total)));
    ProducerTiming { end, lag, acks: tally.finish(schedule_end) }
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
/// Returns when its last fetch that moved it forward (records read, or a corrupt stretch
/// skipped) ended, `None` if none did: its work ends there, not after the fetches (long polls
/// among them) that only found nothing more to read.
pub(super) fn consume(
    history: &History,
    consumer: u32,
    topic: u32,
    names: &[String],
    mut endpoint: Box<dyn ConsumerEndpoint>,
    producing: &AtomicBool,
) -> Option<Instant> {
    let mut recorder = history.consumer(consumer);
    let name = &names[topic as usize];
    let mut offset = 0u64;
    let mut errors_after_done = 0;
    let mut done_at: Option<Instant> = None;
    let mut last_read: Option<Instant> = None;
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
        if next != offset || any {
            last_read = Some(Instant::now());
        }
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
    last_read
}

/// Reads a topic from `from` to its end into the drain recorder, skipping corrupt stretches.
/// `Err((offset, why))`: it stopped at `offset` after three failed fetches in a row.
pub(super) fn drain_topic(
    reader: &mut dyn ConsumerEndpoint,
    topic: u32,
    name: &str,
    from: u64,
    drain: &mut crate::check::history::DrainRecorder<'_>,
) -> Result<(), (u64, String)> {
    let mut offset = from;
    let mut failures = 0;
    loop {
        match reader.fetch(name, offset, 10_000, 4 << 20, Duration::ZERO) {
            Fetch::Records { high_watermark, records } => {
                failures = 0;
                let mut any = false;
                for (o, payload) in records {
                    drain.record(topic, o, payload);
                    offset = offset.max(o + 1);
                    any = true;
                }
                if !any || offset >= high_watermark {
                    return Ok(());
                }
            }
            Fetch::Corrupt => {
                let resume = corrupt_resume_offset(offset);
                drain.corrupt(topic, offset, resume - offset);
                offset = resume;
            }
            Fetch::OutOfRange => return Ok(()),
            Fetch::Failed(why) => {
                failures += 1;
                if failures >= 3 {
                    return Err((offset, why));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::RunShape;

    #[test]
    fn the_in_flight_window_reserves_no_more_than_the_producer_has_requests() {
        // 40 messages one per request: 40 entries, not the 100 000 000 asked.
        assert_eq!(window_capacity(40, 1, 100_000_000), 40);
        // 40 messages in requests of 16: 3 requests.
        assert_eq!(window_capacity(40, 16, 65_536), 3);
        // Fewer in flight than requests: --in-flight.
        assert_eq!(window_capacity(1_000, 1, 8), 8);
        assert_eq!(window_capacity(0, 1, 8), 0);
    }

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
        // (scheduler hiccups of the same length, on a busy machine, could add a few, and are
        // allowed: the open loop below times 19 or more).
        let (closed, closed_lag) = stalled_run(|_| None);
        assert!(closed >= 1, "closed loop: the stalled request itself is timed with the stall");
        assert!(
            closed <= 5,
            "closed loop: only the stalled request (and a few hiccups at most), not {closed}"
        );
        assert_eq!(closed_lag, Lag::default(), "a closed-loop producer keeps no schedule");

        // Open loop at 1 000 messages/s: the 200 ms stall makes the next requests late too, and
        // each of them is timed from when it was due. The requests due during the stall wait
        // at least 200 - (k ms) for k = 1.. so the 20 due first (and the stalled one) still wait
        // 90 % of it or more; 19 leaves the histogram's rounding at the 180 ms edge room.
        let (open, lag) = stalled_run(|h| Some(Schedule::new(h.now_ns(), 1_000.0)));
        assert!(
            open >= 19,
            "open loop: the requests due in the stall's first 20 ms are each timed with 90 % of it or more ({open} against {closed} closed)"
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
