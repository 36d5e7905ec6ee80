//! Filling a [`RunView`] from a checked run: its recorded operations and its violations.
//!
//! Everything here reads the checker's records (the history's per-operation log, the tally
//! of violations); nothing runs a workload. The runner adds what only it knows (the name, the
//! verdict sentence, headline figures and ceilings, lock statistics).
//!
//! - the timeline: one lane per producer and consumer, one bar per kept operation; bars of one
//!   outcome closer than one drawn unit ([`render::TIMELINE_WIDTH`] units span the run) are
//!   merged here already, so the model of a 10 M-message run holds at most a few thousand bars
//!   per lane, not one per request;
//! - throughput per 100 ms: messages acknowledged (produce) and records received (consume)
//!   by the windows their requests ended in, warm-up sends a series of their own;
//! - latency per 100 ms: p50, p99, p99.9 of the sends that ended in the window
//!   (an `hdrhistogram` per window), warm-up sends left out as in the run's latency figures;
//! - the scatter: every n-th acknowledged send, at most [`render::MAX_SCATTER`];
//! - for every example of every kind found, a zoomed window: the operations that touched the
//!   example's offset (a send acknowledged over it, a fetch that asked from or read over it) or
//!   sent its value, highlighted, with the other operations of their lanes around them. An
//!   example whose offset no kept operation touched gets the send acknowledged nearest to it.

use super::ViolationView;
use super::{
    render, Bar, ExampleView, Lane, LatencyWindow, Outcome, RunView, ScatterPoint, Series, Timeline,
};
use crate::check::history::{Actor, History, Operation, OperationKind, OperationOutcome};
use crate::violations::{Example, ViolationKind, Violations};
use hdrhistogram::Histogram;

/// Width of a throughput or latency window.
pub const WINDOW_NS: u64 = 100_000_000;

/// One kept operation and the lane it belongs to.
#[derive(Debug, Clone)]
struct Op {
    lane: usize,
    op: Operation,
}

/// A run's page view, its charts and timeline drawn from the history, waiting for the run's
/// final tally of violations (the checker's, merged with what a scan of the files found) to
/// draw their windows; [`Draft::settle`] does that and drops the operations it kept.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    view: RunView,
    names: Vec<String>,
    ops: Vec<Op>,
    topic_names: Vec<String>,
}

impl Draft {
    /// The charts and timeline of a checked history; `topic_names` maps its topic indexes to
    /// the names the examples use.
    pub fn new(history: &History, topic_names: &[String]) -> Draft {
        let (names, ops) = collect(history);
        let end_ns = ops.iter().map(|o| o.op.end_ns()).max().unwrap_or(0);
        let view = RunView {
            throughput: throughput(&ops, end_ns, history.warmup_messages_per_producer()),
            latency: latency(&ops, end_ns, history.warmup_messages_per_producer()),
            scatter: scatter(&ops),
            timeline: full_timeline(&names, &ops, end_ns),
            ..RunView::default()
        };
        Draft { view, names, ops, topic_names: topic_names.to_vec() }
    }

    /// Draws every kind found in `violations`, each example with its window, and frees the
    /// operations kept for that.
    pub fn settle(&mut self, violations: &Violations) {
        self.view.violations = ViolationKind::ALL
            .iter()
            .filter(|k| violations.count(**k) > 0)
            .map(|&kind| ViolationView {
                kind: kind.name().to_string(),
                definition: kind.meaning().to_string(),
                count: violations.count(kind),
                examples: violations
                    .examples(kind)
                    .iter()
                    .map(|ex| ExampleView {
                        text: ex.to_string(),
                        window: window(ex, &self.names, &self.ops, &self.topic_names),
                    })
                    .collect(),
            })
            .collect();
        self.ops = Vec::new();
    }

    /// The view as drawn so far.
    pub fn view(&self) -> &RunView {
        &self.view
    }
}

/// Fills the charts, the timeline and the violations of `run` from a checked history.
pub fn fill_from_history(
    run: &mut RunView,
    history: &History,
    violations: &Violations,
    topic_names: &[String],
) {
    let mut draft = Draft::new(history, topic_names);
    draft.settle(violations);
    let Draft { view, .. } = draft;
    run.throughput = view.throughput;
    run.latency = view.latency;
    run.scatter = view.scatter;
    run.timeline = view.timeline;
    run.violations = view.violations;
}

fn collect(history: &History) -> (Vec<String>, Vec<Op>) {
    let mut names: Vec<(Actor, String)> = Vec::new();
    let mut ops = Vec::new();
    history.for_each_operation(|actor, op| {
        let lane = match names.iter().position(|(a, _)| *a == actor) {
            Some(i) => i,
            None => {
                names.push((actor, actor.to_string()));
                names.len() - 1
            }
        };
        ops.push(Op { lane, op: *op });
    });
    // Lanes in order: producers, then consumers, each by number (the history hands actors over
    // in no particular order).
    let key = |a: &Actor| match *a {
        Actor::Producer(p) => (0, p),
        Actor::Consumer(c) => (1, c),
    };
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by_key(|&i| key(&names[i].0));
    let mut rank = vec![0; names.len()];
    for (new, &old) in order.iter().enumerate() {
        rank[old] = new;
    }
    for op in &mut ops {
        op.lane = rank[op.lane];
    }
    (order.into_iter().map(|i| names[i].1.clone()).collect(), ops)
}

fn outcome(op: &Operation) -> Outcome {
    match op.outcome {
        OperationOutcome::Ok => Outcome::Ok,
        OperationOutcome::Failed => Outcome::Failed,
        OperationOutcome::Unknown => Outcome::Unknown,
        OperationOutcome::Corrupt => Outcome::Corrupt,
    }
}

/// What a zoomed bar says about its operation.
fn label(op: &Operation) -> String {
    let off = |o: Option<u64>| o.map_or("-".to_string(), |o| o.to_string());
    match op.kind {
        OperationKind::Send => match (op.first_offset(), op.count) {
            (Some(o), 1) => format!("append seq {} → offset {o}", off(op.first_seq())),
            (Some(o), n) => {
                format!("append {n} from seq {} → offsets {o}..{}", off(op.first_seq()), o + u64::from(n) - 1)
            }
            (None, n) => format!(
                "append {n} from seq {} → {}",
                off(op.first_seq()),
                match op.outcome {
                    OperationOutcome::Failed => "failed (answered with an error)",
                    OperationOutcome::Unknown => "no answer",
                    _ => "no offset",
                }
            ),
        },
        OperationKind::Fetch => match op.outcome {
            // The history keeps no error kind, only that the fetch failed or went unanswered.
            OperationOutcome::Failed => {
                format!("fetch from {} → failed (answered with an error)", off(op.first_offset()))
            }
            OperationOutcome::Unknown => format!("fetch from {} → no answer", off(op.first_offset())),
            OperationOutcome::Corrupt => {
                format!(
                    "fetch from {} → corrupt log, hw {}",
                    off(op.first_offset()),
                    off(op.high_watermark())
                )
            }
            OperationOutcome::Ok => format!(
                "fetch from {} → {}, hw {}",
                off(op.first_offset()),
                crate::report::count(op.count, "record"),
                off(op.high_watermark())
            ),
        },
    }
}

fn windows(end_ns: u64) -> usize {
    (end_ns / WINDOW_NS + 1) as usize
}

/// Messages acknowledged and records read per window. Sends within each producer's first
/// `warmup` seqs are a series of their own, as the run's figures leave them out.
fn throughput(ops: &[Op], end_ns: u64, warmup: u64) -> Vec<Series> {
    let n = windows(end_ns);
    let mut produce = vec![0u64; n];
    let mut warming = vec![0u64; n];
    let mut consume = vec![0u64; n];
    for Op { op, .. } in ops {
        let w = ((op.end_ns() / WINDOW_NS) as usize).min(n - 1);
        match (op.kind, op.outcome) {
            (OperationKind::Send, OperationOutcome::Ok)
                if op.first_seq().is_some_and(|seq| seq >= warmup) =>
            {
                produce[w] += u64::from(op.count)
            }
            (OperationKind::Send, OperationOutcome::Ok) => warming[w] += u64::from(op.count),
            (OperationKind::Fetch, OperationOutcome::Ok) => consume[w] += u64::from(op.count),
            _ => {}
        }
    }
    let per_s = 1e9 / WINDOW_NS as f64;
    let series = |name: &str, counts: Vec<u64>| Series {
        name: name.to_string(),
        points: counts
            .iter()
            .enumerate()
            .map(|(i, c)| (i as f64 * WINDOW_NS as f64 / 1e9, *c as f64 * per_s))
            .collect(),
    };
    let mut out = vec![series("produce (acknowledged)", produce)];
    if let Some(last) = warming.iter().rposition(|c| *c > 0) {
        // Drawn down to zero once, not along the axis for the rest of the run.
        warming.truncate(last + 2);
        out.push(series("produce during warm-up (not timed)", warming));
    }
    if consume.iter().any(|c| *c > 0) {
        out.push(series("consume (records read)", consume));
    }
    out
}

/// The latency windows of the acknowledged sends past each producer's first `warmup` seqs (the
/// sends the run's own latency figures time).
fn latency(ops: &[Op], end_ns: u64, warmup: u64) -> Vec<LatencyWindow> {
    let n = windows(end_ns);
    let mut hists: Vec<Option<Histogram<u64>>> = (0..n).map(|_| None).collect();
    let timed = |op: &Operation| {
        op.kind == OperationKind::Send
            && op.outcome == OperationOutcome::Ok
            && op.first_seq().is_some_and(|seq| seq >= warmup)
    };
    for Op { op, .. } in ops.iter().filter(|o| timed(&o.op)) {
        let w = ((op.end_ns() / WINDOW_NS) as usize).min(n - 1);
        let h = hists[w].get_or_insert_with(|| Histogram::new(3).expect("3 significant figures"));
        // An auto-resizing histogram takes any value.
        h.record(u64::from(op.duration_ns)).ok();
    }
    hists
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let h = h.as_ref()?;
            let us = |q: f64| h.value_at_quantile(q) as f64 / 1e3;
            Some(LatencyWindow {
                t_s: i as f64 * WINDOW_NS as f64 / 1e9,
                p50_us: us(0.5),
                p99_us: us(0.99),
                p999_us: us(0.999),
            })
        })
        .collect()
}

fn scatter(ops: &[Op]) -> Vec<ScatterPoint> {
    let sends = ops.iter().filter(|o| o.op.kind == OperationKind::Send).count();
    let step = sends.div_ceil(render::MAX_SCATTER).max(1);
    ops.iter()
        .filter(|o| o.op.kind == OperationKind::Send)
        .step_by(step)
        .map(|Op { op, .. }| ScatterPoint {
            t_s: op.start_ns as f64 / 1e9,
            latency_us: f64::from(op.duration_ns) / 1e3,
            outcome: outcome(op),
        })
        .collect()
}

/// All lanes, bars of one outcome closer than one drawn unit merged.
fn full_timeline(names: &[String], ops: &[Op], end_ns: u64) -> Timeline {
    let unit = (end_ns / u64::from(render::TIMELINE_WIDTH)).max(1);
    let mut lanes: Vec<Lane> = names.iter().map(|n| Lane { name: n.clone(), bars: Vec::new() }).collect();
    for Op { lane, op } in ops {
        let bars = &mut lanes[*lane].bars;
        let o = outcome(op);
        if let Some(last) = bars.last_mut() {
            if last.outcome == o && op.start_ns <= last.end_ns + unit && op.start_ns >= last.start_ns {
                last.end_ns = last.end_ns.max(op.end_ns());
                continue;
            }
        }
        bars.push(Bar { start_ns: op.start_ns, end_ns: op.end_ns(), outcome: o, ..Bar::default() });
    }
    for lane in &mut lanes {
        lane.bars.sort_by_key(|b| b.start_ns);
    }
    Timeline { start_ns: 0, end_ns, lanes }
}

/// Whether `op` touched the example: its offset in its topic, or its value.
fn touches(op: &Operation, ex: &Example, lane_name: &str, topic: Option<u32>) -> bool {
    if let (Some(p), Some(seq), OperationKind::Send) = (ex.producer, ex.seq, op.kind) {
        if lane_name == Actor::Producer(p).to_string() {
            if let Some(first) = op.first_seq() {
                if (first..first + u64::from(op.count)).contains(&seq) {
                    return true;
                }
            }
        }
    }
    let (Some(offset), Some(first)) = (ex.offset, op.first_offset()) else { return false };
    if topic.is_some_and(|t| t != op.topic) {
        return false;
    }
    let span = u64::from(op.count.max(1));
    (first..first + span).contains(&offset)
}

/// The zoomed window around one example, or `None` when no kept operation relates to it.
fn window(ex: &Example, names: &[String], ops: &[Op], topic_names: &[String]) -> Option<Timeline> {
    let topic = ex.topic.as_ref().and_then(|t| topic_names.iter().position(|n| n == t)).map(|i| i as u32);
    let mut hits: Vec<usize> =
        (0..ops.len()).filter(|&i| touches(&ops[i].op, ex, &names[ops[i].lane], topic)).take(8).collect();
    if hits.is_empty() {
        let offset = ex.offset?;
        let nearest = (0..ops.len())
            .filter(|&i| ops[i].op.kind == OperationKind::Send && topic.is_none_or(|t| t == ops[i].op.topic))
            .filter_map(|i| ops[i].op.first_offset().map(|o| (o.abs_diff(offset), i)))
            .min()?;
        hits.push(nearest.1);
    }
    let start = hits.iter().map(|&i| ops[i].op.start_ns).min()?;
    let end = hits.iter().map(|&i| ops[i].op.end_ns()).max()?;
    let pad = ((end - start) / 2).max(20_000);
    let (from, to) = (start.saturating_sub(pad), end + pad);
    let mut lanes_used: Vec<usize> = hits.iter().map(|&i| ops[i].lane).collect();
    lanes_used.sort_unstable();
    lanes_used.dedup();
    let lanes = lanes_used
        .iter()
        .map(|&l| Lane {
            name: names[l].clone(),
            bars: (0..ops.len())
                .filter(|&i| ops[i].lane == l && ops[i].op.end_ns() >= from && ops[i].op.start_ns <= to)
                .map(|i| Bar {
                    start_ns: ops[i].op.start_ns,
                    end_ns: ops[i].op.end_ns(),
                    outcome: outcome(&ops[i].op),
                    highlight: hits.contains(&i),
                    label: label(&ops[i].op),
                })
                .collect(),
        })
        .collect();
    Some(Timeline { start_ns: from, end_ns: to, lanes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::{RunShape, SendOutcome};

    /// Producer 0 sends seqs 0..4 one at a time, seq `s` from `s` × 100 ms for 1 ms (seq 0
    /// and 1 in windows 0 and 1), each acknowledged.
    fn history(warmup: u64) -> History {
        let shape =
            RunShape { seed: 5, producers: 1, topics: 1, messages_per_producer: 4, message_bytes: 40 };
        let h = History::with_warmup(shape, warmup);
        for seq in 0..4 {
            let start = seq * WINDOW_NS;
            h.begin_send_at(0, seq, 1, start);
            h.end_send_at(0, seq, 1, SendOutcome::Acked { base_offset: seq }, start + 1_000_000);
        }
        h
    }

    fn windows_drawn(h: &History) -> Vec<f64> {
        Draft::new(h, &["t".to_string()]).view().latency.iter().map(|w| w.t_s).collect()
    }

    #[test]
    fn the_latency_windows_leave_out_warm_up_sends() {
        assert_eq!(windows_drawn(&history(0)), [0.0, 0.1, 0.2, 0.3], "no warm-up: every send");
        assert_eq!(windows_drawn(&history(2)), [0.2, 0.3], "seqs 0 and 1 are warm-up");
    }

    #[test]
    fn the_throughput_chart_draws_warm_up_sends_as_a_series_of_their_own() {
        // Each window's rate per series, in messages per second.
        let drawn = |warmup| {
            let draft = Draft::new(&history(warmup), &["t".to_string()]);
            draft
                .view()
                .throughput
                .iter()
                .map(|s| (s.name.clone(), s.points.iter().map(|p| p.1.round() as u64).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        };
        let none = drawn(0);
        assert_eq!(none.len(), 1, "no warm-up: one series, {none:?}");
        assert_eq!(none[0].1, [10, 10, 10, 10]);
        let two = drawn(2);
        assert_eq!(two.len(), 2, "{two:?}");
        assert_eq!(two[0].1, [0, 0, 10, 10], "timed sends: seqs 2 and 3");
        assert!(two[1].0.contains("warm-up"), "{}", two[1].0);
        assert_eq!(two[1].1, [10, 10, 0], "warm-up sends: seqs 0 and 1, then down to zero once");
    }
}
