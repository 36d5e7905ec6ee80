//! Phase 2 of a run, the load: every producer and consumer started together at a barrier, and
//! the end of the load taken from their own clocks.
//!
//! The load starts when the first thread leaves the barrier, and ends at the last producer's
//! last answer, or at the end of the last fetch through which a consumer read (or skipped)
//! anything, whichever is later: the moment the last of them did its last piece of work. The
//! thread that waits for them is not asked, so no poll interval pads the run's length, the
//! lock window, the time shares built on it or the consume rate. The last producer to finish
//! tells the consumers (the `producing` flag) and wakes the waiting thread itself. The
//! consumers' closing fetches, which only confirm that nothing is left, fall after the end
//! (their few read sections are still in the lock's counts, read once every thread is done).

use super::RunConfig;
use crate::check::history::History;
use crate::experiment::locks::{LockProbe, LockWindow};
use crate::experiment::payloads::Prepared;
use crate::experiment::transport::{ConsumerEndpoint, ProducerEndpoint};
use crate::experiment::workers::{consume, produce, ProducerTiming, Schedule};
use crate::storage::SyncTotals;
use crossbeam::utils::CachePadded;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Barrier, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How often the progress bar is redrawn while the producers run.
const PROGRESS_EVERY: Duration = Duration::from_millis(50);

/// What phase 2 (the load) leaves behind.
pub(super) struct Race {
    pub(super) timings: Vec<ProducerTiming>,
    /// Per consumer: the end of its last fetch that read or skipped anything (`None`: none did).
    pub(super) consumer_ends: Vec<Option<Instant>>,
    /// When the first thread left the start barrier.
    pub(super) started: Instant,
    /// The end of the load: the last producer's last answer or the last consumer's last read,
    /// whichever is later (see [`load_end`]).
    pub(super) finished: Instant,
    /// The logs' syncs during the load, and what they took.
    pub(super) syncs: SyncTotals,
    /// `--lock-stats`: the strategy's figures from the first warm-up end to the end of the load.
    pub(super) lock: Option<LockWindow>,
}

/// The end of the load: the latest of the producers' last answers and the consumers' last
/// reads; `started` if there were none.
fn load_end(timings: &[ProducerTiming], consumer_ends: &[Option<Instant>], started: Instant) -> Instant {
    timings.iter().map(|t| t.end).chain(consumer_ends.iter().flatten().copied()).max().unwrap_or(started)
}

/// Counts the producers out as their threads end (normally or not): the last one clears
/// `producing`, so the consumers stop, and wakes the thread waiting for the producers.
struct CountOut<'a> {
    remaining: &'a AtomicUsize,
    producing: &'a AtomicBool,
    wake: mpsc::Sender<()>,
}

impl Drop for CountOut<'_> {
    fn drop(&mut self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.producing.store(false, Ordering::Release);
            let _ = self.wake.send(());
        }
    }
}

/// Phase 2: starts every producer and consumer together at a barrier and waits for them.
#[allow(clippy::too_many_arguments)]
pub(super) fn race(
    config: &RunConfig,
    history: &History,
    names: &[String],
    producers: Vec<Box<dyn ProducerEndpoint>>,
    consumers: Vec<Box<dyn ConsumerEndpoint>>,
    prepared: Option<&[Prepared]>,
    warmup: u64,
    syncs: &mut dyn FnMut() -> SyncTotals,
    probe: &dyn LockProbe,
) -> Race {
    let shape = config.shape();
    let progress = progress_bar(config, shape.total_messages());
    // One count per producer, each on a cache line of its own: a shared counter would move
    // between the cores on every request of every producer. The progress bar sums them.
    let sent: Vec<CachePadded<AtomicU64>> = (0..producers.len()).map(|_| CachePadded::default()).collect();
    let producing = AtomicBool::new(true);
    let remaining = AtomicUsize::new(producers.len());
    let (wake, woken) = mpsc::channel();
    let start = Barrier::new(producers.len() + consumers.len() + 1);
    let syncs_before = syncs();
    // The lock's figures cover what the throughput does: from the first producer leaving its
    // warm-up (the statistics are reset then) to the end of the load.
    let warm_at = OnceLock::new();
    let on_warm = || {
        warm_at.get_or_init(|| {
            probe.reset();
            Instant::now()
        });
    };
    let (timings, consumer_ends, started) = thread::scope(|s| {
        let producer_threads: Vec<_> = producers
            .into_iter()
            .enumerate()
            .map(|(p, endpoint)| {
                let (start, sent, on_warm) = (&start, &*sent[p], &on_warm);
                let count_out = CountOut { remaining: &remaining, producing: &producing, wake: wake.clone() };
                s.spawn(move || {
                    let _count_out = count_out;
                    start.wait();
                    let left = Instant::now();
                    // Open loop: this producer's even share of --rate, from the common start.
                    let schedule = config
                        .rate
                        .map(|rate| Schedule::new(history.now_ns(), rate / f64::from(config.producers)));
                    let topic = &names[shape.topic_of(p as u32) as usize];
                    let prepared = prepared.map(|all| &all[p]);
                    let timing = produce(
                        config, history, p as u32, prepared, topic, endpoint, warmup, sent, schedule, on_warm,
                    );
                    (left, timing)
                })
            })
            .collect();
        drop(wake);
        let consumer_threads: Vec<_> = consumers
            .into_iter()
            .enumerate()
            .map(|(c, endpoint)| {
                let (start, producing) = (&start, &producing);
                s.spawn(move || {
                    start.wait();
                    let left = Instant::now();
                    (left, consume(history, c as u32, c as u32 % shape.topics, names, endpoint, producing))
                })
            })
            .collect();
        start.wait();
        let started = Instant::now();
        // Woken by the last producer (or, should every producer thread be gone without it, by
        // the channel closing); the bar is redrawn meanwhile. The end is not read here.
        while let Err(RecvTimeoutError::Timeout) = woken.recv_timeout(PROGRESS_EVERY) {
            if let Some(bar) = &progress {
                bar.set_position(sent.iter().map(|n| n.load(Ordering::Relaxed)).sum());
            }
        }
        join(producer_threads, consumer_threads, started)
    });
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    let syncs = syncs().since(syncs_before);
    let finished = load_end(&timings, &consumer_ends, started);
    let lock = probe.snapshot().map(|snapshot| LockWindow {
        snapshot,
        from: warm_at.get().copied().unwrap_or(started),
        to: finished,
    });
    Race { timings, consumer_ends, started, finished, syncs, lock }
}

/// Every producer's timing and consumer's last read, once their threads end, and the start:
/// the first moment a thread left the barrier (the waiting thread's own reading, `started`,
/// may come later than the producers it released, on a machine with few cores).
#[allow(clippy::type_complexity)]
fn join(
    producers: Vec<thread::ScopedJoinHandle<'_, (Instant, ProducerTiming)>>,
    consumers: Vec<thread::ScopedJoinHandle<'_, (Instant, Option<Instant>)>>,
    mut started: Instant,
) -> (Vec<ProducerTiming>, Vec<Option<Instant>>, Instant) {
    let mut timings = Vec::with_capacity(producers.len());
    for t in producers {
        let (left, timing) = t.join().expect("producer thread");
        started = started.min(left);
        timings.push(timing);
    }
    let mut consumer_ends = Vec::with_capacity(consumers.len());
    for t in consumers {
        let (left, end) = t.join().expect("consumer thread");
        started = started.min(left);
        consumer_ends.push(end);
    }
    (timings, consumer_ends, started)
}

fn progress_bar(config: &RunConfig, total: u64) -> Option<indicatif::ProgressBar> {
    let on_terminal = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !config.progress || !on_terminal {
        return None;
    }
    use crate::report::table::thousands;
    use indicatif::ProgressState;
    use std::fmt::Write;
    let bar = indicatif::ProgressBar::new(total);
    // Counts and the rate grouped as the report groups them (1 234 567), not indicatif's own
    // "1,234,567" and "30,079.373/s".
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} producing [{bar:40}] {sent}/{all} messages ({rate} msg/s, {eta} left)",
    ) {
        let style = style
            .with_key("sent", |s: &ProgressState, w: &mut dyn Write| {
                let _ = w.write_str(&thousands(s.pos()));
            })
            .with_key("all", |s: &ProgressState, w: &mut dyn Write| {
                let _ = w.write_str(&thousands(s.len().unwrap_or(0)));
            })
            .with_key("rate", |s: &ProgressState, w: &mut dyn Write| {
                let _ = w.write_str(&thousands(s.per_sec().round() as u64));
            });
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::locks::{lock_row, TopicsProbe};
    use crate::experiment::transport::{InprocTransport, Transport};
    use crate::report::rows::TransportKind;
    use crate::storage::{LogConfig, Topics};
    use crate::strategies::{RwLockSync, Timed};

    /// A short in-process race of 4 producers and `consumers` consumers under a timed rwlock.
    fn short_race(consumers: u32) -> Race {
        let config = RunConfig {
            producers: 4,
            consumers,
            messages: 4_000,
            transport: TransportKind::Inproc,
            lock_stats: true,
            progress: false,
            ..RunConfig::default()
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let (topics, _) = Topics::<Timed<RwLockSync>>::open(dir.path(), LogConfig::default()).expect("open");
        let transport = InprocTransport { topics: topics.clone() };
        let names = vec!["race-0".to_string()];
        let shape = config.shape();
        let warmup = shape.messages_per_producer * u64::from(config.warmup_percent) / 100;
        let history = History::with_warmup(shape, warmup);
        let producers = (0..config.producers).map(|_| transport.producer().expect("producer")).collect();
        let consumers = (0..config.consumers).map(|_| transport.consumer().expect("consumer")).collect();
        let probe = TopicsProbe { topics: &topics, names: &names };
        race(
            &config,
            &history,
            &names,
            producers,
            consumers,
            None,
            warmup,
            &mut || topics.sync_totals(),
            &probe,
        )
    }

    #[test]
    fn the_load_ends_at_the_last_producers_last_answer_not_at_a_poll() {
        // Four producers finish 4 000 in-process appends in a few milliseconds; the load used to
        // end where a 50 ms poll noticed, padding the run's length and the lock window.
        let r = short_race(0);
        let last_answer = r.timings.iter().map(|t| t.end).max().expect("producers");
        assert_eq!(r.finished, last_answer, "without consumers the load ends at the last answer");
        let lock = r.lock.as_ref().expect("a timed strategy");
        assert_eq!(lock.to, last_answer, "the lock window ends where the load does");
        // The start is the first thread's leaving the barrier, so a producer's warm-up ends
        // after it.
        assert!(r.started <= lock.from, "the load starts before any warm-up ends");
        // It starts when the first producer left its warm-up, before any producer's timed window.
        let first_timed = r.timings.iter().filter_map(|t| t.acks.window.map(|w| w.0)).min().expect("acks");
        assert!(lock.from <= first_timed, "the window starts at the first warm-up end");
        let row = lock_row(
            LockWindow { snapshot: lock.snapshot.clone(), from: lock.from, to: lock.to },
            4,
            0,
            TransportKind::Inproc,
        );
        let span = last_answer.saturating_duration_since(lock.from).as_secs_f64();
        assert_eq!(row.window_s, span, "the shares are over the producers' own span");
    }

    #[test]
    fn with_consumers_the_load_ends_at_the_last_piece_of_work() {
        let r = short_race(2);
        let last_answer = r.timings.iter().map(|t| t.end).max().expect("producers");
        let last_read = r.consumer_ends.iter().flatten().max().copied().expect("the consumers read");
        assert_eq!(r.finished, last_answer.max(last_read));
        assert_eq!(r.lock.as_ref().map(|l| l.to), Some(r.finished));
    }
}
