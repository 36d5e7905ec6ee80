//! The text report of one harness run: what ran, throughput and latency, every violation kind
//! with a few examples, and the verdict.

use crate::report::count;
use crate::report::rows::{Figures, Phases, RunReport};
use crate::storage::AppendMode;
use crate::violations::{Section, ViolationKind, Violations};
use std::io::{self, Write};

/// Groups digits by thousands: 1234567 → "1 234 567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Microseconds, shortened: 950 µs, 1.2 ms, 3.4 s.
pub fn micros(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

/// A phase's duration: milliseconds under a second (a short check reads "3.2 ms", not
/// "0.00 s"), else seconds.
pub fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn figures_row(out: &mut impl Write, side: &str, f: &Figures) -> io::Result<()> {
    writeln!(
        out,
        "  {side:<8} {:>12} msg/s {:>9.1} MB/s   p50 {:>9}  p99 {:>9}  p99.9 {:>9}  max {:>9}",
        thousands(f.msgs_per_s.round() as u64),
        f.mb_per_s,
        micros(f.p50_us),
        micros(f.p99_us),
        micros(f.p999_us),
        micros(f.max_us)
    )
}

/// "  phases: prepare 0.41 s, load 12.31 s, drain 120.4 ms, verify 3.40 s, check 810.2 ms"
/// (verify "not run" for a remote broker).
fn phases_row(out: &mut impl Write, p: &Phases) -> io::Result<()> {
    let verify = p.verify_s.map_or_else(|| "not run".to_string(), seconds);
    writeln!(
        out,
        "  phases: prepare {}, load {}, drain {}, verify {verify}, check {}",
        seconds(p.prepare_s),
        seconds(p.load_s),
        seconds(p.drain_s),
        seconds(p.check_s)
    )
}

/// Prints the report of one run.
pub fn print_run(r: &RunReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "synclog harness: strategy {}{}, {}, {}, {} messages of {} B, batch {}, in flight {}, {}, {:?} transport, {}{}",
        r.strategy,
        if r.append == Some(AppendMode::Reserve) { " (append reserve: only the reservation inside the lock)" } else { "" },
        count(r.producers, "producer"),
        count(r.consumers, "consumer"),
        thousands(r.messages),
        match r.message_bytes_max {
            Some(max) if max != r.message_bytes => format!("{}..{max}", r.message_bytes),
            _ => r.message_bytes.to_string(),
        },
        r.batch,
        r.in_flight,
        count(r.topics, "topic"),
        r.transport,
        match r.fsync {
            Some(fsync) => format!("fsync {}", fsync.name()),
            None => "fsync and race window as the remote system was started".to_string(),
        },
        if r.force_race {
            ", forced race (appenders paired in a 5 ms window)".to_string()
        } else if let Some(window) = r.race_window_us.filter(|&w| w > 0) {
            format!(", race window {window} µs")
        } else {
            String::new()
        }
    )
    .map(|()| ())?;
    writeln!(
        out,
        "  ran {:.2} s on {} cpus, kernel {}, data on {}",
        r.duration_s, r.machine.cpus, r.machine.kernel, r.machine.data_dir_fs
    )?;
    writeln!(out)?;
    figures_row(out, "produce", &r.produce)?;
    if let Some(c) = &r.consume {
        figures_row(out, "consume", c)?;
    }
    if let Some(o) = &r.open_loop {
        writeln!(
            out,
            "  open loop: asked {} msg/s, achieved {} msg/s; {:.1}% of requests sent over {} µs late, the latest {} (latency timed from when each was due)",
            thousands(o.target_msgs_per_s.round() as u64),
            thousands(o.achieved_msgs_per_s.round() as u64),
            o.late_share * 100.0,
            o.late_after_us,
            micros(o.max_behind_us)
        )?;
    }
    if let (Some(per_s), Some(per_fsync)) = (r.produce.fsyncs_per_s, r.produce.msgs_per_fsync) {
        write!(out, "  fsync    {per_s:>12.0} /s    {per_fsync:>9.1} messages per fsync")?;
        if let (Some(sync), Some(gather)) = (r.produce.fsync_mean_us, r.produce.gather_mean_us) {
            write!(
                out,
                "; each {} in fdatasync, {} gathering before it",
                micros(sync.round() as u64),
                micros(gather.round() as u64)
            )?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "  sends: {} acknowledged, {} failed, {} unanswered; consumers read {} records, the drain {}",
        thousands(r.counts.messages_acked),
        thousands(r.counts.messages_failed),
        thousands(r.counts.messages_unknown),
        thousands(r.counts.records_read),
        thousands(r.counts.drain_records)
    )?;
    phases_row(out, &r.phases)?;
    print_locks_and_fairness(r, out)?;
    writeln!(out)?;
    print_violations(r, out)?;
    for note in &r.notes {
        writeln!(out, "  note: {note}")?;
    }
    let Some(u) = &r.unacknowledged else {
        return writeln!(out, "verdict: {}", r.verdict);
    };
    let of = format!("{} of {} messages", thousands(u.messages), thousands(r.messages));
    writeln!(
        out,
        "  incomplete: {of} were not acknowledged ({} requests failed, not stored: refused by the broker or never sent on a connection that had failed; {} unanswered); the rates above count acknowledged messages only",
        thousands(u.requests_failed),
        thousands(u.requests_unanswered),
    )?;
    if r.is_clean() {
        writeln!(out, "verdict: incomplete (no violation found, but {of} were not acknowledged)")
    } else {
        writeln!(out, "verdict: {}", r.verdict)
    }
}

/// The lock and fairness lines. Consumers that read nothing have nothing to share out, so
/// their line says that instead of an index (Jain's index of all zeros would read "all equal").
fn print_locks_and_fairness(r: &RunReport, out: &mut impl Write) -> io::Result<()> {
    let mut fairness = r.fairness.clone();
    let idle_consumers = fairness.as_mut().and_then(|f| {
        let idle = f.consumers.as_ref().is_some_and(|c| c.max <= 0.0);
        if idle {
            f.consumers.take()
        } else {
            None
        }
    });
    crate::report::locks::print_locks(r.lock.as_ref(), fairness.as_ref(), out)?;
    if let Some(c) = idle_consumers {
        writeln!(
            out,
            "  consumers records/s each: {} read nothing, so there was nothing to share out (no fairness index)",
            if c.per_actor.len() == 1 { "the consumer".to_string() } else { format!("all {}", c.per_actor.len()) }
        )?;
    }
    Ok(())
}

fn print_violations(r: &RunReport, out: &mut impl Write) -> io::Result<()> {
    let v = &r.violations;
    let checked = ViolationKind::ALL.iter().filter(|&&k| v.get(k).is_some()).count();
    let (errors, informational): (Vec<(ViolationKind, u64)>, Vec<_>) =
        v.found().partition(|(k, _)| k.is_error());
    if errors.is_empty() {
        writeln!(out, "  integrity: no violation of the {checked} kinds checked")?;
    } else {
        writeln!(
            out,
            "  integrity: {} of violation ({checked} kinds checked)",
            crate::report::count(errors.len() as u64, "kind")
        )?;
    }
    for (section, title) in [
        (Section::Log, "log file"),
        (Section::Index, "sparse index"),
        (Section::Observed, "producers and consumers"),
    ] {
        let rows: Vec<_> = errors.iter().filter(|(k, _)| k.section() == section).collect();
        if rows.is_empty() {
            continue;
        }
        writeln!(out, "  {title}:")?;
        kind_rows(v, &rows, out)?;
    }
    if !informational.is_empty() {
        // Not violations: counted beside them because they explain other figures.
        writeln!(out, "  informational, not violations:")?;
        kind_rows(v, &informational.iter().collect::<Vec<_>>(), out)?;
    }
    Ok(())
}

/// One line per kind found (its meaning says "(informational)" for a kind that is no error),
/// with up to two examples.
fn kind_rows(v: &Violations, rows: &[&(ViolationKind, u64)], out: &mut impl Write) -> io::Result<()> {
    for (kind, n) in rows {
        writeln!(out, "    {:<22} {:>9}  {}", kind.name(), thousands(*n), kind.meaning())?;
        for e in v.examples(*kind).iter().take(2) {
            writeln!(out, "    {:<22} {:>9}  e.g. {e}", "", "")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(r: &RunReport) -> String {
        let mut out = Vec::new();
        print_run(r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_informational_kind_is_no_violation_and_says_so_once() {
        let mut r = RunReport::sample();
        r.violations.checked(Section::Observed);
        r.violations.add_many(ViolationKind::Unseen, 200, crate::violations::Example::detail("x"));
        let text = printed(&r);
        assert!(text.contains("integrity: no violation of the"), "{text}");
        assert!(text.contains("informational, not violations:"), "{text}");
        assert_eq!(text.matches("(informational)").count(), 1, "{text}");
        r.violations.add(ViolationKind::Duplicated, crate::violations::Example::detail("y"));
        let text = printed(&r);
        assert!(text.contains("integrity: 1 kind of violation ("), "{text}");
    }

    #[test]
    fn consumers_that_read_nothing_get_no_fairness_index() {
        use crate::report::locks::{Fairness, Spread};
        let mut r = RunReport::sample();
        r.fairness = Some(Fairness {
            producers: Spread::of(vec![100.0, 90.0]),
            consumers: Some(Spread::of(vec![0.0, 0.0])),
        });
        let text = printed(&r);
        assert!(text.contains("all 2 read nothing, so there was nothing to share out"), "{text}");
        assert_eq!(text.matches("Jain's fairness index").count(), 1, "{text}");
    }

    #[test]
    fn numbers_are_grouped_and_durations_shortened() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1 000");
        assert_eq!(thousands(1_234_567), "1 234 567");
        assert_eq!(micros(950), "950 µs");
        assert_eq!(micros(1_250), "1.2 ms");
        assert_eq!(micros(3_400_000), "3.40 s");
    }
}
