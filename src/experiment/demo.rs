//! `harness demo`: the classroom demonstration, in three acts and a few seconds each.
//!
//! **Act 1, the race.** The same write-heavy workload (8 producers appending to one topic over
//! loopback) under `none`, `mutex`, `semaphore` and `rwlock`, violations side by side. `none`
//! corrupts the log; every lock keeps it clean. If `none` happens to come out clean (the natural
//! race window is a few hundred nanoseconds), the demo widens the window itself and says so.
//!
//! **Act 2, the cost.** A read-heavy workload (1 producer, 4 consumers reading everything) under
//! `mutex`, `semaphore` and `rwlock`: consumers share the log under a reader-writer lock and
//! queue behind each other under the exclusive ones. On two cores at most two readers run at
//! once, so the gap is modest here and grows with the cores; `mutex` is the control that
//! separates "exclusive" from "expensive".
//!
//! **Act 3, shrink the critical section.** What the lock guards matters more than which lock it
//! is. The same write-only workload (8 producers appending batches of 100 in-process) under
//! `rwlock` twice: `--append whole`, where the write section wraps the whole append, the
//! positional write included, and `--append reserve`, where it covers only the reservation of an
//! offset and a byte range (the writes run outside it, in parallel, and are published in offset
//! order; see `storage::log::reserve`). The lock is always timed in this act, since its subject
//! is the hold time: write-section hold p50/p99, the producers' share of time waiting for the
//! lock and the produce rate, side by side, then what this run's figures say.
//!
//! Exit code: 0 when the story came out as taught (`none` corrupted, every lock clean in every
//! act), 3 when a lock showed a violation (a bug), 1 when `none` never corrupted even at the
//! widest window.

use super::run::{run, RunConfig};
use super::Outcome;
use crate::report::locks::{ns, shown_ns};
use crate::report::rows::{RunReport, TransportKind};
use crate::report::table::thousands;
use crate::storage::AppendMode;
use crate::strategies::StrategyKind;
use crate::violations::ViolationKind;
use std::io::Write;
use std::path::PathBuf;

/// Race windows tried in act 1, widest last (µs).
const WINDOWS_US: [u64; 3] = [0, 20, 200];

/// How the demo is set up.
#[derive(Debug, Clone, Default)]
pub struct DemoConfig {
    /// Keep every run's topics here (then `synclog verify --data-dir` shows the damage).
    pub data_dir: Option<PathBuf>,
    /// Write the classroom page here (`index.html`).
    pub report: Option<PathBuf>,
    /// Time the locks (`--lock-stats`; on unless `--no-lock-stats`): act 1 then says how often
    /// the writers' section was contended, act 2 how much of the readers' time went to waiting.
    pub lock_stats: bool,
}

/// Plays the three acts, printing to `out`; `Clean` when the story came out as taught.
pub fn demo(config: &DemoConfig, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let base = RunConfig {
        data_dir: config.data_dir.clone(),
        progress: false,
        page: config.report.is_some(),
        lock_stats: config.lock_stats,
        ..RunConfig::default()
    };
    if config.lock_stats {
        writeln!(out, "(lock statistics on: every lock section is timed: a clock read before, at and after it; --no-lock-stats runs them plain)\n")?;
    }
    let reports = act_one(&base, out)?;
    let cost = act_two(&base, out)?;
    let shrink = act_three(&base, out)?;
    if let Some(dir) = &config.report {
        let race: Vec<_> = reports
            .iter()
            .map(|r| (r.clone(), r.page.as_ref().map(|d| d.view().clone()).unwrap_or_default()))
            .collect();
        let page = crate::report::page::from_rows::demo_page(&race, &cost);
        let path = crate::report::page::write(&page, dir).map_err(anyhow::Error::msg)?;
        writeln!(out, "\n  classroom page: {}", path.display())?;
    }
    let window = reports[0].race_window_us.unwrap_or(0);
    let locks_clean = reports[1..].iter().chain(&cost).chain(&shrink).all(RunReport::is_clean);
    let none_corrupted = !reports[0].is_clean();
    writeln!(out)?;
    Ok(if !locks_clean {
        writeln!(out, "result: a LOCKING strategy showed a violation — that is a bug; please report it")?;
        Outcome::Violated
    } else if !none_corrupted {
        writeln!(out, "result: `none` stayed clean even with a {window} µs race window (a lucky or very slow machine); run again")?;
        Outcome::NotAsTaught
    } else {
        writeln!(
            out,
            "result: as taught — without synchronization the log corrupted itself; every lock kept it clean"
        )?;
        if let Some(d) = &config.data_dir {
            see_the_damage(&reports[0], d, out)?;
        }
        Outcome::Clean
    })
}

/// Act 1: `none` (its race window widened until it corrupts, up to the widest), then each lock
/// at the same window. The first report is `none`'s.
fn act_one(base: &RunConfig, out: &mut impl Write) -> anyhow::Result<Vec<RunReport>> {
    writeln!(
        out,
        "ACT 1 — the race: 8 producers append 20 000 messages of 60 to 140 bytes to one topic over loopback TCP,\n  while 1 consumer reads it from offset 0\n"
    )?;
    // Mixed sizes: two colliding appends of different lengths tear the log itself, so the files
    // show the damage (`synclog verify`), not only the lost messages.
    let race = RunConfig {
        producers: 8,
        consumers: 1,
        messages: 20_000,
        message_bytes: 60,
        message_bytes_max: Some(140),
        warmup_percent: 0,
        ..base.clone()
    };
    let mut none = None;
    for window in WINDOWS_US {
        let r = run(&RunConfig { strategy: StrategyKind::None, race_window_us: window, ..race.clone() })?;
        let corrupted = !r.is_clean();
        if window > 0 {
            writeln!(out, "  (no corruption showed at a narrower window: the demo widened the race window to {window} µs)")?;
        }
        none = Some(r);
        if corrupted {
            break;
        }
    }
    let none = none.expect("at least one window was tried");
    let window = none.race_window_us.unwrap_or(0);
    let mut reports = vec![none];
    for strategy in [StrategyKind::Mutex, StrategyKind::Semaphore, StrategyKind::RwLock] {
        reports.push(run(&RunConfig { strategy, race_window_us: window, ..race.clone() })?);
    }
    print_violation_table(&reports, out)?;
    print_write_contention(&reports[1..], out)?;
    explain_race(&reports[0], out)?;
    Ok(reports)
}

/// Act 2: the read-heavy workload under each lock, a table, and what this run's ordering says.
fn act_two(base: &RunConfig, out: &mut impl Write) -> anyhow::Result<Vec<RunReport>> {
    writeln!(out, "\nACT 2 — the cost: 1 producer writes 40 000 messages while 4 consumers read all of them (in-process)\n")?;
    let read_heavy = RunConfig {
        producers: 1,
        consumers: 4,
        messages: 40_000,
        transport: TransportKind::Inproc,
        ..base.clone()
    };
    let mut cost = Vec::new();
    for strategy in [StrategyKind::Mutex, StrategyKind::Semaphore, StrategyKind::RwLock] {
        cost.push(run(&RunConfig { strategy, ..read_heavy.clone() })?);
    }
    writeln!(
        out,
        "  {:<10} {:>16} {:>16} {:>14}  verdict",
        "strategy", "consume msg/s", "produce msg/s", "consume p99"
    )?;
    for r in &cost {
        let c = r.consume.clone().unwrap_or_default();
        writeln!(
            out,
            "  {:<10} {:>16} {:>16} {:>14}  {}",
            r.strategy,
            thousands(c.msgs_per_s as u64),
            thousands(r.produce.msgs_per_s as u64),
            crate::report::table::micros(c.p99_us),
            r.verdict
        )?;
    }
    let rates: Vec<(&str, f64)> = cost
        .iter()
        .map(|r| (r.strategy.as_str(), r.consume.as_ref().map_or(0.0, |c| c.msgs_per_s)))
        .collect();
    print_read_waits(&cost, out)?;
    let cpus = cost.first().map_or(1, |r| r.machine.cpus);
    writeln!(out, "\n{}", act_two_prose(&rates, cpus))?;
    Ok(cost)
}

/// Act 3: the same write-only workload under `rwlock` with `--append whole` and `--append
/// reserve`, the lock timed, a table, and what this run's figures say.
fn act_three(base: &RunConfig, out: &mut impl Write) -> anyhow::Result<Vec<RunReport>> {
    writeln!(
        out,
        "\nACT 3 — shrink the critical section: 8 producers append 200 000 messages of 100 B in batches of 100 under rwlock\n        (in-process), once with the write inside the lock (--append whole), once with only the reservation inside it (--append reserve)\n"
    )?;
    let shrink = RunConfig {
        strategy: StrategyKind::RwLock,
        producers: 8,
        consumers: 0,
        messages: 200_000,
        message_bytes: 100,
        batch: 100,
        transport: TransportKind::Inproc,
        // Hold time is this act's subject: the lock is timed even under --no-lock-stats.
        lock_stats: true,
        // The classroom page shows acts 1 and 2 only.
        page: false,
        ..base.clone()
    };
    let mut runs = Vec::new();
    for append in [AppendMode::Whole, AppendMode::Reserve] {
        runs.push(run(&RunConfig { append, ..shrink.clone() })?);
    }
    writeln!(
        out,
        "  {:<10} {:>10} {:>10} {:>18} {:>16}  verdict",
        "append", "hold p50", "hold p99", "producers waiting", "produce msg/s"
    )?;
    let figures: Vec<ShrinkFigures> = runs.iter().map(ShrinkFigures::of).collect();
    for (r, f) in runs.iter().zip(&figures) {
        writeln!(
            out,
            "  {:<10} {:>10} {:>10} {:>17.1}% {:>16}  {}",
            r.append.map_or("remote", |a| a.name()),
            ns(f.hold_p50_ns),
            ns(f.hold_p99_ns),
            f.waiting * 100.0,
            thousands(f.msgs_per_s as u64),
            r.verdict
        )?;
    }
    let cpus = runs.first().map_or(1, |r| r.machine.cpus);
    writeln!(out, "  (hold: the write section, from entering it to leaving it; waiting: the producers' summed wait for the lock, a share of 8 × the load)")?;
    writeln!(out, "\n{}", act_three_prose(&figures[0], &figures[1], cpus))?;
    Ok(runs)
}

/// One row of Act 3, as measured: the write section's hold, the producers' waiting share and
/// the produce rate (zeros if the run had no lock statistics).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ShrinkFigures {
    /// Write-section hold time, median (nanoseconds).
    pub hold_p50_ns: u64,
    /// Write-section hold time, 99th percentile (nanoseconds).
    pub hold_p99_ns: u64,
    /// The producers' summed wait for the lock, a share of producers × the load window.
    pub waiting: f64,
    /// Messages produced per second.
    pub msgs_per_s: f64,
}

impl ShrinkFigures {
    fn of(r: &RunReport) -> ShrinkFigures {
        let (hold, waiting) =
            r.lock.as_ref().map_or((None, 0.0), |l| (Some(&l.stats.write.hold_ns), l.producers.wait));
        ShrinkFigures {
            hold_p50_ns: hold.map_or(0, |h| h.p50),
            hold_p99_ns: hold.map_or(0, |h| h.p99),
            waiting,
            msgs_per_s: r.produce.msgs_per_s,
        }
    }
}

/// What Act 3 concludes, chosen from the measured figures of `whole` and `reserve`: the hold
/// ratio of the two medians as printed beside it (so the sentence's arithmetic checks out), and
/// whether the shorter hold bought throughput in this run (and if not, why not), never a fixed
/// claim.
pub fn act_three_prose(whole: &ShrinkFigures, reserve: &ShrinkFigures, cpus: usize) -> String {
    let hold = shown_ns(whole.hold_p50_ns) as f64 / shown_ns(reserve.hold_p50_ns).max(1) as f64;
    let rate = reserve.msgs_per_s / whole.msgs_per_s.max(1.0);
    let mut s = if hold > 1.0 {
        format!(
            "  Under reserve the lock was held {}× shorter at the median ({} against {}): the write of each batch\n  left the section, only the reservation of its offsets and bytes stayed.",
            thousands(hold.round() as u64),
            ns(reserve.hold_p50_ns),
            ns(whole.hold_p50_ns)
        )
    } else {
        format!(
            "  Under reserve the lock was not held shorter in this run ({} against {} at the median): the reservation\n  itself was slowed (a preempted holder, or the clock reads around a very short section).",
            ns(reserve.hold_p50_ns),
            ns(whole.hold_p50_ns)
        )
    };
    if rate >= 1.05 {
        s.push_str(&format!(
            "\n  Producing ran {rate:.2}× whole's rate: the batches' writes overlapped instead of queueing behind the lock."
        ));
    } else if rate >= 0.95 {
        s.push_str(&format!(
            "\n  Producing ran at about whole's rate ({rate:.2}×): the shorter hold bought no throughput here, since each append\n  still waits until the records before its own are published, and on {cpus} cores few writes run at once anyway."
        ));
    } else {
        s.push_str(&format!(
            "\n  But reserve was not faster in this run ({rate:.2}× whole's rate): the hold is shorter, but each append then waits\n  until the records before its own are written and published (the in-order publication), and on {cpus} cores\n  that wait, and the publish lock, cost more than the write lock did."
        ));
    }
    s
}

/// Act 1 with lock statistics: how often each lock's write section (the append) found another
/// writer inside, and how long the waits were, in this run.
fn print_write_contention(locks: &[RunReport], out: &mut impl Write) -> anyhow::Result<()> {
    let rows: Vec<_> = locks.iter().filter_map(|r| r.lock.as_ref().map(|l| (r, l))).collect();
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n  How often a writer found the append section taken (this run, timed locks):")?;
    for (r, l) in rows {
        let w = &l.stats.write;
        writeln!(
            out,
            "  {:<10} {:>5.1}% of {} appends contended; wait p50 {}, p99 {}, max {}",
            r.strategy,
            w.contended_share * 100.0,
            thousands(w.acquisitions),
            ns(w.wait_ns.p50),
            ns(w.wait_ns.p99),
            ns(w.wait_ns.max)
        )?;
    }
    Ok(())
}

/// Act 2 with lock statistics: the share of the readers' time spent waiting for the lock, and
/// the writer's, under each strategy, in this run.
fn print_read_waits(cost: &[RunReport], out: &mut impl Write) -> anyhow::Result<()> {
    let rows: Vec<_> = cost.iter().filter_map(|r| r.lock.as_ref().map(|l| (r, l))).collect();
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n  Where the readers' time went (this run, timed locks; shares of 4 readers × the load):"
    )?;
    for (r, l) in rows {
        let (read, c) = (&l.stats.read, l.consumers.unwrap_or(l.producers));
        writeln!(
            out,
            "  {:<10} readers {:>5.1}% waiting for the lock, {:>5.1}% holding it; read wait p99 {}, {:.1}% of reads contended; the writer waited {:.1}% of its time",
            r.strategy,
            c.wait * 100.0,
            c.hold * 100.0,
            ns(read.wait_ns.p99),
            read.contended_share * 100.0,
            l.producers.wait * 100.0
        )?;
    }
    Ok(())
}

/// What Act 2 concludes, chosen from the measured consume rates (strategy, reads per second):
/// every comparison it states is the ordering this run measured, never a fixed sentence.
pub fn act_two_prose(rates: &[(&str, f64)], cpus: usize) -> String {
    let rate = |name: &str| rates.iter().find(|(n, _)| *n == name).map_or(0.0, |&(_, r)| r);
    let (rw, sem, mutex) = (rate("rwlock"), rate("semaphore"), rate("mutex"));
    let versus = |a: f64, b: f64, b_name: &str| {
        let ratio = a / b.max(1.0);
        if ratio >= 1.0 {
            format!("{ratio:.2}× the {b_name}'s rate")
        } else {
            format!("{ratio:.2}× the {b_name}'s rate (slower)")
        }
    };
    let mut s =
        format!("  rwlock read at {} and {}.", versus(rw, sem, "semaphore"), versus(rw, mutex, "mutex"));
    if rw >= sem.max(mutex) {
        s.push_str(
            "\n  Readers share an rwlock; under the semaphore and the mutex each read waits for the one before.",
        );
    } else if rw < sem.min(mutex) {
        s.push_str(
            "\n  Here the exclusive locks kept up: readers sharing the rwlock did not pay off in this run\n  (the writer's re-acquisitions, and the few cores, can hold readers back).",
        );
    } else {
        // Between the two: it beat one exclusive lock and not the other.
        let (ahead, behind) = if mutex > sem { ("mutex", "semaphore") } else { ("semaphore", "mutex") };
        s.push_str(&format!(
            "\n  Here the {ahead} kept up and the {behind} did not: sharing the rwlock beat the {behind}, not the {ahead}\n  (the writer's re-acquisitions, and the few cores, can hold readers back)."
        ));
    }
    s.push_str(&format!(
        "\n  This machine has {cpus} cores, so at most {cpus} readers truly run at once: a shared lock gains more on more cores."
    ));
    if sem < mutex {
        s.push_str(
            "\n  The semaphore trailed the mutex in this run: it pays a system call on every release, the mutex does not.",
        );
    } else {
        s.push_str(
            "\n  The semaphore kept up with the mutex in this run, despite its system call on every release.",
        );
    }
    s
}

/// Where to see Act 1's damage on disk, or why the files stayed well-formed.
fn see_the_damage(none: &RunReport, dir: &std::path::Path, out: &mut impl Write) -> std::io::Result<()> {
    let on_disk = none
        .violations
        .found()
        .any(|(k, _)| k.is_error() && k.section() != crate::violations::Section::Observed);
    if on_disk {
        writeln!(out, "        see the damage on disk: synclog verify --data-dir {}", dir.display())
    } else {
        writeln!(
            out,
            "        this time the colliding records had equal lengths, so the files stayed well-formed\n        (synclog verify --data-dir {} finds them clean): the damage is in what producers were told",
            dir.display()
        )
    }
}

fn print_violation_table(reports: &[RunReport], out: &mut impl Write) -> std::io::Result<()> {
    write!(out, "  {:<24}", "")?;
    for r in reports {
        write!(out, " {:>11}", r.strategy)?;
    }
    writeln!(out)?;
    let kinds: Vec<ViolationKind> = ViolationKind::ALL
        .iter()
        .copied()
        .filter(|&k| k.is_error() && reports.iter().any(|r| r.violations.count(k) > 0))
        .collect();
    for kind in &kinds {
        write!(out, "  {:<24}", kind.name())?;
        for r in reports {
            write!(out, " {:>11}", thousands(r.violations.count(*kind)))?;
        }
        writeln!(out)?;
    }
    if kinds.is_empty() {
        writeln!(out, "  (no violation of any kind in any column)")?;
    }
    write!(out, "  {:<24}", "produce msg/s")?;
    for r in reports {
        write!(out, " {:>11}", thousands(r.produce.msgs_per_s as u64))?;
    }
    writeln!(out)?;
    write!(out, "  {:<24}", "verdict")?;
    for r in reports {
        write!(out, " {:>11}", r.verdict)?;
    }
    writeln!(out)
}

/// Two lines on what the `none` column shows, in the steps of the log's module docs.
fn explain_race(none: &RunReport, out: &mut impl Write) -> std::io::Result<()> {
    let v = &none.violations;
    if v.is_clean() {
        return writeln!(out, "\n  `none` stayed clean this time.");
    }
    writeln!(out, "\n  What happened under `none` (an append is: 1 load offset, 2 load end, 4 write, 6 store end, 7 store offset):")?;
    let (lost, collided) = (v.count(ViolationKind::Lost), v.count(ViolationKind::AckOffsetCollision));
    if lost + collided > 0 {
        writeln!(out, "{}", lost_prose(lost, collided, v.count(ViolationKind::CorruptRead)))?;
    }
    if v.count(ViolationKind::CorruptRecord) + v.count(ViolationKind::TornTail) > 0 {
        writeln!(
            out,
            "  - writes (4) overlapped without lining up: the log holds bytes that are no whole record ({} corrupt stretches),\n    which the CRC exposes.",
            thousands(v.count(ViolationKind::CorruptRecord) + v.count(ViolationKind::TornTail))
        )?;
    }
    let index = [
        ViolationKind::IndexNonmonotonic,
        ViolationKind::IndexDangling,
        ViolationKind::IndexWrongTarget,
        ViolationKind::IndexMissing,
        ViolationKind::IndexStale,
    ]
    .iter()
    .map(|&k| v.count(k))
    .sum::<u64>();
    if index > 0 {
        writeln!(
            out,
            "  - the sparse index raced too (its slot counter is another load–store pair): {} bad entries.",
            thousands(index)
        )?;
    }
    Ok(())
}

/// `n` and the noun, singular or plural (`1 ack`, `2 acks`).
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// Act 1's line on the `none` run's lost messages and colliding acks, claiming no more than the
/// counts allow. A colliding ack (one after the first at an offset) lets at most one message be
/// overwritten, so collisions explain at most `collided` of the `lost`; the rest is put down to
/// the stretches the readers skipped as corrupt (`corrupt_read` offsets, torn by overlapping
/// writes) only when it fits within them, and otherwise left without a cause.
fn lost_prose(lost: u64, collided: u64, corrupt_read: u64) -> String {
    let gone = |n: u64| {
        if n == 1 {
            "1 acknowledged message is gone (lost)".to_string()
        } else {
            format!("{} acknowledged messages are gone (lost)", thousands(n))
        }
    };
    let acks = count(collided, "ack", "acks");
    let race = "  - two producers did steps 1–2 before either did 6–7, so both were acknowledged with the same offset";
    if collided == 0 {
        let rest = if lost <= corrupt_read {
            format!(
                ":\n    they fit within the {} the readers skipped as corrupt (torn by overlapping writes)",
                count(corrupt_read, "offset", "offsets")
            )
        } else {
            String::new()
        };
        return format!("  - {}, although no two acks shared an offset{rest}.", gone(lost));
    }
    if lost == 0 {
        return format!(
            "{race}:\n    {acks} collided, yet no acknowledged message is missing from the final log."
        );
    }
    if lost <= collided {
        return format!(
            "{race} and the\n    second write (4) landed on the first: {}, {acks} collided.",
            gone(lost)
        );
    }
    let rest = lost - collided;
    let cause = if rest <= corrupt_read {
        format!(
            "the other {} within the {}\n    the readers skipped as corrupt (torn by overlapping writes)",
            count(rest, "fits", "fit"),
            count(corrupt_read, "offset", "offsets")
        )
    } else {
        format!("the other {} lost otherwise", count(rest, "was", "were"))
    };
    format!(
        "{race} and the\n    second write (4) landed on the first: {acks} collided, so collisions lost at most {}.\n    {}: {cause}.",
        count(collided, "message", "messages"),
        gone(lost)
    )
}

#[cfg(test)]
mod tests {
    use super::{act_three_prose, act_two_prose, lost_prose, ShrinkFigures};

    #[test]
    fn act_three_follows_the_measured_figures() {
        let whole =
            ShrinkFigures { hold_p50_ns: 15_000, hold_p99_ns: 61_000, waiting: 0.4, msgs_per_s: 800_000.0 };
        let faster =
            ShrinkFigures { hold_p50_ns: 30, hold_p99_ns: 300, waiting: 0.0, msgs_per_s: 1_200_000.0 };
        let taught = act_three_prose(&whole, &faster, 2);
        assert!(taught.contains("500× shorter at the median (30 ns against 15 µs)"), "{taught}");
        assert!(taught.contains("1.50× whole's rate"), "{taught}");
        assert!(!taught.contains("not faster"), "{taught}");
        // A run where reserve lost: the prose says so, and why.
        let slower = ShrinkFigures { msgs_per_s: 400_000.0, ..faster };
        let honest = act_three_prose(&whole, &slower, 2);
        assert!(honest.contains("not faster in this run (0.50× whole's rate)"), "{honest}");
        assert!(honest.contains("in-order publication"), "{honest}");
        let level = act_three_prose(&whole, &ShrinkFigures { msgs_per_s: 810_000.0, ..faster }, 2);
        assert!(level.contains("about whole's rate (1.01×)"), "{level}");
        let longer = act_three_prose(&whole, &ShrinkFigures { hold_p50_ns: 20_000, ..faster }, 2);
        assert!(longer.contains("not held shorter"), "{longer}");
        // The ratio is that of the printed medians: 14.84 µs prints as 14.8 µs, and 14.8 µs
        // over 20 ns is 740 (the unrounded 742 did not match the figures beside it).
        let whole = ShrinkFigures { hold_p50_ns: 14_840, ..whole };
        let reserve = ShrinkFigures { hold_p50_ns: 20, ..faster };
        let ratio = act_three_prose(&whole, &reserve, 2);
        assert!(ratio.contains("740× shorter at the median (20 ns against 14.8 µs)"), "{ratio}");
        let wide = act_three_prose(&ShrinkFigures { hold_p50_ns: 23_300, ..whole }, &reserve, 2);
        assert!(wide.contains("1 165× shorter at the median (20 ns against 23.3 µs)"), "{wide}");
    }

    #[test]
    fn the_lost_messages_are_put_down_to_collisions_only_as_far_as_they_go() {
        // The audit's run: 1 806 lost, 1 297 collisions, 509 offsets skipped as corrupt.
        let torn = lost_prose(1_806, 1_297, 509);
        assert!(torn.contains("1 297 acks collided, so collisions lost at most 1 297 messages."), "{torn}");
        assert!(torn.contains("1 806 acknowledged messages are gone (lost): the other 509 fit within the 509 offsets\n    the readers skipped as corrupt"), "{torn}");
        assert!(!torn.contains("gone (lost), 1 297 acks collided"), "{torn}");
        // More lost than collisions and corrupt offsets together: no cause claimed for the rest.
        let unexplained = lost_prose(1_491, 750, 700);
        assert!(unexplained.contains("the other 741 were lost otherwise."), "{unexplained}");
        assert!(!unexplained.contains("skipped as corrupt"), "{unexplained}");
        // As many collisions as lost messages or more: the collisions can account for all.
        let covered = lost_prose(1_000, 1_200, 50);
        assert!(
            covered.contains("1 000 acknowledged messages are gone (lost), 1 200 acks collided."),
            "{covered}"
        );
        assert!(lost_prose(1, 1, 0).contains("1 acknowledged message is gone (lost), 1 ack collided."));
        // No collision at all: the loss is not put down to one.
        let none = lost_prose(12, 0, 40);
        assert!(none.contains("12 acknowledged messages are gone (lost), although no two acks shared an offset:\n    they fit within the 40 offsets"), "{none}");
        assert!(!none.contains("same offset"), "{none}");
        assert!(!lost_prose(12, 0, 3).contains("fit within"));
        assert!(lost_prose(0, 3, 0).contains("3 acks collided, yet no acknowledged message is missing"));
    }

    #[test]
    fn act_two_follows_the_measured_ordering() {
        let taught = act_two_prose(&[("mutex", 100.0), ("semaphore", 50.0), ("rwlock", 300.0)], 2);
        assert!(taught.contains("3.00× the mutex's rate."), "{taught}");
        assert!(taught.contains("Readers share an rwlock"), "{taught}");
        assert!(taught.contains("The semaphore trailed the mutex"), "{taught}");
        // The reverse ordering: the prose must not claim what this run did not show.
        let reversed = act_two_prose(&[("mutex", 300.0), ("semaphore", 400.0), ("rwlock", 100.0)], 2);
        assert!(reversed.contains("(slower)"), "{reversed}");
        assert!(!reversed.contains("Readers share an rwlock"), "{reversed}");
        assert!(!reversed.contains("trailed"), "{reversed}");
        assert!(reversed.contains("kept up with the mutex"), "{reversed}");
        assert!(reversed.contains("the exclusive locks kept up"), "{reversed}");
        // Between them: only the lock that was ahead is said to have kept up.
        let between = act_two_prose(&[("mutex", 421.0), ("semaphore", 111.0), ("rwlock", 131.0)], 2);
        assert!(!between.contains("the exclusive locks kept up"), "{between}");
        assert!(between.contains("Here the mutex kept up and the semaphore did not"), "{between}");
        assert!(!between.contains("Readers share an rwlock"), "{between}");
    }
}
