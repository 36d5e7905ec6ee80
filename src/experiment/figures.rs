//! The figures of one run, from what its producers left ([`ProducerTiming`]) and the logs'
//! sync totals: the produce rate, the open-loop row, the sync figures, and what was not
//! acknowledged.
//!
//! Every rate counts **acknowledged** messages only: a request the broker refused or left
//! unanswered moved nothing into the log that the run can vouch for, and a producer whose
//! requests all failed fast must not look like the fastest. Each producer's window runs from
//! leaving its warm-up (closed loop) or its first timed message's due time (open loop) to its
//! last acknowledgement; in the open loop, to the end of its schedule if that is later (n
//! messages due one interval apart take n intervals, so a producer that kept the schedule
//! achieves exactly its share of `--rate`). The run's rate is the sum of the acknowledged timed
//! messages over the union of the windows: the first one's start to the last one's end.

use super::workers::{ProducerTiming, LATE_NS};
use crate::check::OperationCounts;
use crate::report::rows::{Figures, OpenLoop, Unacknowledged};
use crate::storage::SyncTotals;
use hdrhistogram::Histogram;

/// Acknowledged messages after the warm-up per second, over the producers' windows together;
/// 0 when none was acknowledged.
pub(super) fn produce_rate(timings: &[ProducerTiming]) -> f64 {
    let messages: u64 = timings.iter().map(|t| t.acks.timed_messages).sum();
    let from = timings.iter().filter_map(|t| t.acks.window.map(|w| w.0)).min();
    let to = timings.iter().filter_map(|t| t.acks.window.map(|w| w.1)).max();
    match (from, to) {
        (Some(from), Some(to)) => {
            messages as f64 / to.saturating_duration_since(from).as_secs_f64().max(1e-9)
        }
        _ => 0.0,
    }
}

/// The open-loop row: the rate asked, the rate achieved (the produce figure), and how far
/// behind schedule the producers fell (summed over producers; the worst delay of any).
pub(super) fn open_loop_row(rate: f64, achieved: f64, timings: &[ProducerTiming]) -> OpenLoop {
    let requests: u64 = timings.iter().map(|t| t.lag.requests).sum();
    let late: u64 = timings.iter().map(|t| t.lag.late).sum();
    let max_ns = timings.iter().map(|t| t.lag.max_ns).max().unwrap_or(0);
    OpenLoop {
        target_msgs_per_s: rate,
        achieved_msgs_per_s: achieved,
        late_share: late as f64 / requests.max(1) as f64,
        late_after_us: LATE_NS / 1000,
        max_behind_us: max_ns / 1000,
    }
}

/// What was not acknowledged, with the earliest error any producer met (`None` when every
/// message was acknowledged).
pub(super) fn unacknowledged(counts: &OperationCounts, timings: &[ProducerTiming]) -> Option<Unacknowledged> {
    let messages = counts.messages_failed + counts.messages_unknown;
    if messages == 0 && counts.sends_failed + counts.sends_unknown == 0 {
        return None;
    }
    let first = timings
        .iter()
        .enumerate()
        .filter_map(|(p, t)| t.acks.first_error.as_ref().map(|(at, why)| (*at, p, why)))
        .min_by_key(|(at, _, _)| *at);
    let first_error = match first {
        Some((_, p, why)) => format!("producer {p}: {why}"),
        None => "no error text was kept".into(),
    };
    Some(Unacknowledged {
        messages,
        requests_failed: counts.sends_failed,
        messages_failed: counts.messages_failed,
        requests_unanswered: counts.sends_unknown,
        messages_unanswered: counts.messages_unknown,
        first_error,
    })
}

/// The run's note on what was not acknowledged: the counts and the first error.
pub(super) fn unacknowledged_note(u: &Unacknowledged) -> String {
    format!(
        "{} requests failed and {} got no answer ({} and {} messages); the first error: {}",
        u.requests_failed, u.requests_unanswered, u.messages_failed, u.messages_unanswered, u.first_error
    )
}

/// Syncs per second, messages per sync, and a sync's mean time and gather, from syncs and
/// messages counted over the same `secs` (the whole load, warm-up included).
pub(super) fn sync_figures(produce: &mut Figures, syncs: SyncTotals, messages: u64, secs: f64) {
    let n = syncs.syncs;
    let per_sync = |total: f64| (n > 0).then(|| total / n as f64);
    produce.fsyncs_per_s = Some(n as f64 / secs.max(1e-9));
    produce.msgs_per_fsync = per_sync(messages as f64);
    produce.fsync_mean_us = per_sync(syncs.syncing.as_secs_f64() * 1e6);
    produce.gather_mean_us = per_sync(syncs.gathering.as_secs_f64() * 1e6);
}

pub(super) fn figures(msgs_per_s: f64, mb_per_message: f64, latency: &Histogram<u64>) -> Figures {
    Figures {
        msgs_per_s,
        mb_per_s: msgs_per_s * mb_per_message,
        p50_us: latency.value_at_quantile(0.50),
        p99_us: latency.value_at_quantile(0.99),
        p999_us: latency.value_at_quantile(0.999),
        max_us: latency.max(),
        ..Figures::default() // the sync figures: see `sync_figures`
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::workers::{Acks, Lag};
    use std::time::{Duration, Instant};

    #[test]
    fn syncs_are_divided_by_the_time_they_were_counted_over() {
        // 100 syncs over a 2 s load (warm-up included), 1 000 messages; 15 ms inside the syncs
        // and 5 ms gathering before them.
        let mut f = Figures::default();
        let syncs = SyncTotals {
            syncs: 100,
            syncing: Duration::from_millis(15),
            gathering: Duration::from_millis(5),
        };
        sync_figures(&mut f, syncs, 1_000, 2.0);
        assert_eq!((f.fsyncs_per_s, f.msgs_per_fsync), (Some(50.0), Some(10.0)));
        assert_eq!((f.fsync_mean_us, f.gather_mean_us), (Some(150.0), Some(50.0)));
        let mut none = Figures::default();
        sync_figures(&mut none, SyncTotals::default(), 1_000, 2.0);
        assert_eq!((none.fsyncs_per_s, none.msgs_per_fsync), (Some(0.0), None));
        assert_eq!((none.fsync_mean_us, none.gather_mean_us), (None, None));
    }

    fn timing(
        at: Instant,
        acked: u64,
        window_s: Option<(f64, f64)>,
        error: Option<(f64, &str)>,
    ) -> ProducerTiming {
        let s = |secs: f64| at + Duration::from_secs_f64(secs);
        ProducerTiming {
            end: s(10.0),
            lag: Lag::default(),
            acks: Acks {
                timed_messages: acked,
                window: window_s.map(|(a, b)| (s(a), s(b))),
                errors: u64::from(error.is_some()),
                first_error: error.map(|(t, why)| (s(t), why.to_string())),
            },
        }
    }

    #[test]
    fn only_acknowledged_messages_count_and_refused_producers_add_no_window() {
        let at = Instant::now();
        // One producer acknowledged 1 000 messages over 2 s; another had all its requests
        // refused at once (no acknowledged message, no window).
        let timings =
            [timing(at, 1_000, Some((0.0, 2.0)), None), timing(at, 0, None, Some((0.001, "refused")))];
        assert!((produce_rate(&timings) - 500.0).abs() < 1e-6, "{}", produce_rate(&timings));
        assert_eq!(timings[1].acks.rate(), 0.0);
        assert_eq!(produce_rate(&timings[1..]), 0.0, "nothing acknowledged: no rate");
        let counts = OperationCounts {
            sends_failed: 1,
            messages_failed: 1,
            sends_unknown: 9,
            messages_unknown: 9,
            ..OperationCounts::default()
        };
        let u = unacknowledged(&counts, &timings).expect("some were not acknowledged");
        assert_eq!((u.messages, u.requests_failed, u.requests_unanswered), (10, 1, 9));
        assert_eq!(u.first_error, "producer 1: refused");
        assert!(unacknowledged_note(&u).contains("producer 1: refused"), "{}", unacknowledged_note(&u));
        assert_eq!(unacknowledged(&OperationCounts::default(), &timings), None);
    }

    #[test]
    fn the_earliest_error_of_any_producer_is_the_one_named() {
        let at = Instant::now();
        let timings = [timing(at, 0, None, Some((2.0, "late"))), timing(at, 0, None, Some((1.0, "early")))];
        let counts = OperationCounts { sends_unknown: 2, messages_unknown: 2, ..OperationCounts::default() };
        assert_eq!(
            unacknowledged(&counts, &timings).map(|u| u.first_error),
            Some("producer 1: early".into())
        );
    }
}
