//! `--lock-stats` in the runner: reaching the timed strategy of every topic a run writes
//! ([`LockProbe`]), resetting it when the first producer leaves its warm-up, reading it when
//! the load ends, and turning the figures and the per-actor counts into the report's
//! [`LockRow`] and [`Fairness`].

use super::workers::ProducerTiming;
use crate::check::history::History;
use crate::report::locks::{Fairness, LockRow, Spread, TimeShare};
use crate::report::rows::TransportKind;
use crate::storage::Topics;
use crate::strategies::{LockSnapshot, SyncStrategy};
use std::time::Instant;

/// The strategy's statistics as the runner sees them.
pub(super) trait LockProbe: Sync {
    /// Forgets what was recorded (the warm-up).
    fn reset(&self);
    /// Everything recorded since, merged over topics; `None` when the strategy is not timed.
    fn snapshot(&self) -> Option<LockSnapshot>;
}

/// No statistics: an untimed strategy, a remote broker or cluster.
pub(super) struct NoProbe;

impl LockProbe for NoProbe {
    fn reset(&self) {}
    fn snapshot(&self) -> Option<LockSnapshot> {
        None
    }
}

/// The topics `names` of a registry in this process (the in-process log or the embedded
/// broker's).
pub(super) struct TopicsProbe<'a, S: SyncStrategy> {
    pub topics: &'a Topics<S>,
    pub names: &'a [String],
}

impl<S: SyncStrategy> LockProbe for TopicsProbe<'_, S> {
    fn reset(&self) {
        for name in self.names {
            if let Some(t) = self.topics.get(name) {
                t.log.strategy().reset_lock_stats();
            }
        }
    }

    fn snapshot(&self) -> Option<LockSnapshot> {
        let mut merged: Option<LockSnapshot> = None;
        for name in self.names {
            let Some(snapshot) = self.topics.get(name).and_then(|t| t.log.strategy().lock_snapshot()) else {
                continue;
            };
            match &mut merged {
                Some(m) => m.merge(&snapshot),
                None => merged = Some(snapshot),
            }
        }
        merged
    }
}

/// What the load leaves for the lock row: the snapshot, and the window it covers.
pub(super) struct LockWindow {
    pub snapshot: LockSnapshot,
    pub from: Instant,
    pub to: Instant,
}

/// The report's lock row: the figures, and each side's time shares over the window.
pub(super) fn lock_row(w: LockWindow, producers: u32, consumers: u32, transport: TransportKind) -> LockRow {
    let stats = w.snapshot.stats();
    let window_ns = w.to.saturating_duration_since(w.from).as_nanos() as f64;
    let side = |threads: u32, s: &crate::strategies::SectionStats| {
        TimeShare::of(s.wait_ns.total, s.hold_ns.total, f64::from(threads) * window_ns)
    };
    let share_basis = match transport {
        TransportKind::Inproc => "in process: write sections' summed wait and hold over producers × window, read sections' over consumers × window; the producers and consumers are the threads that take the lock".to_string(),
        TransportKind::Tcp => "over TCP, broker side: the broker's write sections' summed wait and hold over producers × window, read sections' over consumers × window; outside = the broker outside the lock, the network and the client (each client has one request in flight per --in-flight)".to_string(),
    };
    LockRow {
        window_s: window_ns / 1e9,
        share_basis,
        producers: side(producers, &stats.write),
        consumers: (consumers > 0).then(|| side(consumers, &stats.read)),
        stats,
    }
}

/// Each producer's acknowledged messages per second over its own timed window (0 for one
/// that had none acknowledged: see [`super::figures`]), each consumer's records per second
/// from the start to its last read (`consumer_ends`; 0 for one that read nothing).
pub(super) fn fairness(
    history: &History,
    timings: &[ProducerTiming],
    consumer_ends: &[Option<Instant>],
    started: Instant,
) -> Fairness {
    let producers = timings.iter().map(|t| t.acks.rate());
    let consumers: Vec<f64> = history
        .records_read_per_consumer()
        .iter()
        .map(|&(c, n)| {
            let end = consumer_ends.get(c as usize).copied().flatten().unwrap_or(started);
            n as f64 / end.saturating_duration_since(started).as_secs_f64().max(1e-9)
        })
        .collect();
    Fairness {
        producers: Spread::of(producers.collect()),
        consumers: (!consumers.is_empty()).then(|| Spread::of(consumers)),
    }
}
