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
//! separates "exclusive" from "expensive". What the act concludes is chosen from the run's read
//! rates and, when the lock is timed, the readers' waiting shares (see [`act_two_prose`]): a
//! mechanism the run did not time is given as the design's.
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
use crate::report::locks::{ns, shown_ns, TimeShare};
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
    let rows: Vec<ReadFigures> = cost
        .iter()
        .map(|r| ReadFigures {
            strategy: r.strategy.as_str(),
            reads_per_s: r.consume.as_ref().map_or(0.0, |c| c.msgs_per_s),
            readers: r.lock.as_ref().and_then(|l| l.consumers),
        })
        .collect();
    print_read_waits(&cost, out)?;
    let cpus = cost.first().map_or(1, |r| r.machine.cpus);
    writeln!(out, "\n{}", act_two_prose(&rows, cpus))?;
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
    /// What one read of the lock statistics' clock cost in this run (nanoseconds; 0 when
    /// not measured): a hold median at or below it is at the timer's resolution.
    pub clock_ns: f64,
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
            clock_ns: r.lock.as_ref().map_or(0.0, |l| l.stats.clock_ns),
        }
    }
}

/// What Act 3 concludes, chosen from the measured figures of `whole` and `reserve`: the hold
/// ratio of the two medians as printed beside it (so the sentence's arithmetic checks out; a
/// bound when reserve's median is within one clock read, the timer's resolution), and whether
/// the shorter hold bought throughput in this run, with the producers' waiting shares; causes
/// this run did not time are labelled as possible, never given as measured.
pub fn act_three_prose(whole: &ShrinkFigures, reserve: &ShrinkFigures, cpus: usize) -> String {
    let (whole_ns, reserve_ns) = (shown_ns(whole.hold_p50_ns), shown_ns(reserve.hold_p50_ns));
    // At or below one clock read the median is the timer's resolution, not the section's length:
    // the section took at most about one clock read, so the ratio is a lower bound.
    // The clock read as printed (one decimal), so the bound's arithmetic checks out too.
    let clock = (reserve.clock_ns * 10.0).round() / 10.0;
    let at_resolution = clock > 0.0 && reserve_ns as f64 <= clock;
    let hold = whole_ns as f64 / if at_resolution { clock } else { reserve_ns.max(1) as f64 };
    // The ratio as printed: whole numbers from 10 up, two decimals below; a bound rounded down.
    let shown = match (hold >= 10.0, at_resolution) {
        (true, false) => thousands(hold.round() as u64),
        (true, true) => thousands(hold.floor() as u64),
        (false, false) => format!("{hold:.2}"),
        (false, true) => format!("{:.2}", (hold * 100.0).floor() / 100.0),
    };
    let shorter = hold >= 10.0 || shown != "1.00" && hold > 1.0;
    let mut s = if shorter && at_resolution {
        format!(
            "  Under reserve the lock was held at least {shown}× shorter at the median ({} against {}; {} is within one\n  clock read of {clock:.1} ns, the timer's resolution, so the bound takes the section as one clock read long): the write\n  of each batch left the section, only the reservation of its offsets and bytes stayed.",
            ns(reserve.hold_p50_ns),
            ns(whole.hold_p50_ns),
            ns(reserve.hold_p50_ns),
        )
    } else if shorter {
        format!(
            "  Under reserve the lock was held {shown}× shorter at the median ({} against {}): the write of each batch\n  left the section, only the reservation of its offsets and bytes stayed.",
            ns(reserve.hold_p50_ns),
            ns(whole.hold_p50_ns)
        )
    } else {
        format!(
            "  Under reserve the lock was not held shorter in this run ({} against {} at the median). Possible causes,\n  not measured apart here: a preempted holder, or the clock reads around a very short section.",
            ns(reserve.hold_p50_ns),
            ns(whole.hold_p50_ns)
        )
    };
    let (rate, order) = shown_ratio(reserve.msgs_per_s, whole.msgs_per_s);
    let waits = format!(
        "\n  The producers waited {} of their time for the lock, against {} under whole.",
        pct(reserve.waiting),
        pct(whole.waiting)
    );
    let cores = crate::report::count(cpus as u64, "core");
    s.push_str(&match (order, shorter) {
        (Order::Faster, _) => format!(
            "\n  Producing ran {rate}× whole's rate.{waits}{}",
            if reserve.waiting < whole.waiting && shorter {
                "\n  (By design, the batches' writes overlap outside the lock instead of queueing behind it.)"
            } else {
                ""
            }
        ),
        (Order::Level, true) => format!(
            "\n  Producing ran at about whole's rate ({rate}×): the shorter hold bought no throughput here.{waits}\n  Possible causes, not timed here: each append still waits until the records before its own are published,\n  and on {cores} few writes run at once anyway."
        ),
        (Order::Level, false) => format!("\n  Producing ran at about whole's rate ({rate}×).{waits}"),
        (Order::Slower, true) => format!(
            "\n  But reserve was not faster in this run ({rate}× whole's rate), although its hold was shorter.{waits}\n  Possible causes, not timed here: on {cores}, each append then waits until the records before its own are\n  written and published (the in-order publication), and takes the publish lock."
        ),
        (Order::Slower, false) => format!("\n  Reserve was slower in this run too ({rate}× whole's rate).{waits}"),
    });
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

/// One strategy's row in Act 2, as measured: its read rate and, when the lock was timed, where
/// the readers' time went (waiting for the lock, holding it, outside it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadFigures<'a> {
    pub strategy: &'a str,
    /// Records read per second by all consumers.
    pub reads_per_s: f64,
    /// The readers' shares of their time; `None` under `--no-lock-stats`.
    pub readers: Option<TimeShare>,
}

/// How `a` compares with `b`, decided on the ratio as printed (two decimals), so that the word
/// beside a ratio never contradicts it: within 5 % (0.95× to 1.04× as printed, a gap one run's
/// noise can make on a shared machine) is "about" level, 0.996 prints as 1.00 and is level.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Order {
    Faster,
    Level,
    Slower,
}

/// `a / b` as printed, and the order that printed value shows.
fn shown_ratio(a: f64, b: f64) -> (String, Order) {
    let shown = format!("{:.2}", a / b.max(1.0));
    let order = match shown.parse::<f64>().unwrap_or(0.0) {
        r if r >= 1.05 => Order::Faster,
        r if r >= 0.95 => Order::Level,
        _ => Order::Slower,
    };
    (shown, order)
}

/// A share as printed beside it (`83.9%`).
fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// What Act 2 concludes, chosen from the measured figures: every comparison it states is the
/// ordering of this run's read rates (as printed), and the reason given for it is the readers'
/// measured waiting share when the lock was timed and agrees with the ordering; a mechanism the
/// run did not measure is labelled as the design's.
pub fn act_two_prose(rows: &[ReadFigures], cpus: usize) -> String {
    let find = |name: &str| rows.iter().find(|r| r.strategy == name).copied().unwrap_or_default();
    let rw = find("rwlock");
    let exclusive = [("semaphore", find("semaphore")), ("mutex", find("mutex"))];
    let versus = |(name, e): &(&str, ReadFigures)| match shown_ratio(rw.reads_per_s, e.reads_per_s) {
        (r, Order::Faster) => format!("{r}× the {name}'s rate"),
        (r, Order::Level) => format!("about the {name}'s rate ({r}×)"),
        (r, Order::Slower) => format!("{r}× the {name}'s rate (slower)"),
    };
    let mut s = format!("  rwlock read at {} and {}.", versus(&exclusive[0]), versus(&exclusive[1]));
    let orders = exclusive.map(|(_, e)| shown_ratio(rw.reads_per_s, e.reads_per_s).1);
    let timed = rw.readers.zip(exclusive[0].1.readers).zip(exclusive[1].1.readers);
    match timed {
        Some(((r, sem), mutex)) => {
            s.push_str(&read_waits_prose(r, [("semaphore", sem), ("mutex", mutex)], orders))
        }
        None => {
            if orders.iter().all(|&o| o == Order::Slower) {
                s.push_str("\n  The exclusive locks read faster here: readers sharing the rwlock did not pay off in this run.");
            }
            s.push_str("\n  The lock was not timed (--no-lock-stats), so these rates are all this run measured, not why they differ.");
            if orders.contains(&Order::Faster) {
                s.push_str("\n  (The design's reason an rwlock can read faster: readers share it, while under the semaphore and the\n  mutex each read waits for the one before.)");
            }
        }
    }
    let (cores, readers) =
        (crate::report::count(cpus as u64, "core"), crate::report::count(cpus as u64, "reader"));
    s.push_str(&format!(
        "\n  This machine has {cores}, so at most {readers} run at once; that a shared lock gains more on more cores\n  is what the design predicts, not what this run measured."
    ));
    let (r, order) = shown_ratio(exclusive[0].1.reads_per_s, exclusive[1].1.reads_per_s);
    s.push_str(&match order {
        Order::Slower => format!(
            "\n  The semaphore read slower than the mutex in this run ({r}× its rate). A possible cause, not timed here:\n  by design its release makes a system call every time, the mutex's does not."
        ),
        Order::Level => format!("\n  The semaphore read at about the mutex's rate in this run ({r}×)."),
        Order::Faster => format!("\n  The semaphore read faster than the mutex in this run ({r}× its rate)."),
    });
    s
}

/// Act 2's reason for the ordering, from the readers' waiting shares (`rw` against each
/// exclusive lock, `orders` the rwlock's read rate against theirs): a smaller wait is given as
/// the reason only where the rwlock read faster and its readers waited less; where it read
/// faster although they waited as much or more, the sentence says where the time went instead.
fn read_waits_prose(rw: TimeShare, exclusive: [(&str, TimeShare); 2], orders: [Order; 2]) -> String {
    let mut s = String::new();
    // "Less" needs a margin: shares within a tenth of each other (41.4% against 41.9%) are
    // about as large, and decided on the printed values.
    let shown = |t: TimeShare| (t.wait * 1000.0).round() as i64;
    let less = |a: TimeShare, b: TimeShare| shown(a) < shown(b) && a.wait < 0.9 * b.wait;
    let (less, not_less): (Vec<_>, Vec<_>) = exclusive
        .iter()
        .zip(orders)
        .filter(|(_, o)| *o == Order::Faster)
        .map(|(e, _)| *e)
        .partition(|(_, e)| less(rw, *e));
    if !less.is_empty() {
        let against: Vec<String> =
            less.iter().map(|(n, e)| format!("{} under the {n}", pct(e.wait))).collect();
        s.push_str(&format!(
            "\n  Where the rwlock read faster, its readers also waited less for the lock: {} of their time against\n  {}.\n  That fits the design: readers share an rwlock, while under an exclusive lock each read waits for the one before.",
            pct(rw.wait),
            against.join(" and ")
        ));
    }
    for (name, e) in not_less {
        let larger = if shown(rw) > shown(e) && 0.9 * rw.wait > e.wait {
            "a larger share"
        } else {
            "about as large a share"
        };
        s.push_str(&format!(
            "\n  The rwlock read faster than the {name} although its readers spent {larger} of their time waiting for\n  the lock ({} against {}), so waiting does not explain the gap here. Where the time went instead: its\n  readers held the lock {} of their time against {} under the {name}, and were outside it {} against {}.",
            pct(rw.wait),
            pct(e.wait),
            pct(rw.hold),
            pct(e.hold),
            pct(rw.outside),
            pct(e.outside)
        ));
    }
    let slower: Vec<_> =
        exclusive.iter().zip(orders).filter(|(_, o)| *o == Order::Slower).map(|(e, _)| *e).collect();
    if !slower.is_empty() {
        let names: Vec<&str> = slower.iter().map(|(n, _)| *n).collect();
        let against: Vec<String> =
            slower.iter().map(|(n, e)| format!("{} under the {n}", pct(e.wait))).collect();
        s.push_str(&format!(
            "\n  The rwlock read slower than the {}: its readers waited {} of their time for the lock,\n  against {}.",
            names.join(" and the "),
            pct(rw.wait),
            against.join(" and ")
        ));
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
    // True of every collision the checker counts: two producers that both read the same end, or
    // one producer's two requests after a stale store (6–7) moved the end back between them.
    let race = "  - appends raced between reading the log's end (steps 1–2) and storing the new one (6–7):\n    two were acknowledged with the same offset";
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
    use super::{act_three_prose, act_two_prose, lost_prose, ReadFigures, ShrinkFigures, TimeShare};

    #[test]
    fn act_three_follows_the_measured_figures() {
        let whole = ShrinkFigures {
            hold_p50_ns: 15_000,
            hold_p99_ns: 61_000,
            waiting: 0.4,
            msgs_per_s: 800_000.0,
            clock_ns: 0.0,
        };
        let faster = ShrinkFigures {
            hold_p50_ns: 30,
            hold_p99_ns: 300,
            waiting: 0.0,
            msgs_per_s: 1_200_000.0,
            clock_ns: 0.0,
        };
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

    /// Figures for Act 3: whole held `whole_ns` at the median and produced 1 M msg/s; reserve held
    /// `reserve_ns` and produced `rate` M msg/s; one clock read cost `clock_ns`.
    fn shrink(whole_ns: u64, reserve_ns: u64, rate: f64, clock_ns: f64) -> (ShrinkFigures, ShrinkFigures) {
        let whole = ShrinkFigures {
            hold_p50_ns: whole_ns,
            hold_p99_ns: whole_ns * 4,
            waiting: 0.6,
            msgs_per_s: 1_000_000.0,
            clock_ns,
        };
        let reserve =
            ShrinkFigures { hold_p50_ns: reserve_ns, waiting: 0.1, msgs_per_s: rate * 1e6, ..whole };
        (whole, reserve)
    }

    #[test]
    fn act_three_prints_a_small_hold_ratio_with_its_decimals() {
        // 1.25× used to print as "1× shorter".
        let (whole, reserve) = shrink(1_250, 1_000, 1.2, 15.0);
        let text = act_three_prose(&whole, &reserve, 2);
        assert!(text.contains("held 1.25× shorter at the median (1 µs against 1.25 µs)"), "{text}");
        assert!(!text.contains(" 1× shorter"), "{text}");
        // A ratio that prints as 1.00 is no shorter hold.
        let (whole, reserve) = shrink(1_004, 1_000, 1.0, 15.0);
        let level = act_three_prose(&whole, &reserve, 2);
        assert!(level.contains("not held shorter"), "{level}");
        assert!(!level.contains("shorter hold"), "{level}");
    }

    #[test]
    fn act_three_claims_no_shorter_hold_when_the_hold_was_not_shorter() {
        // Level rate: the old text said "not held shorter" and then "the shorter hold bought no
        // throughput".
        let (whole, reserve) = shrink(1_000, 2_000, 1.0, 15.0);
        let level = act_three_prose(&whole, &reserve, 2);
        assert!(
            level.contains("not held shorter") && level.contains("about whole's rate (1.00×)"),
            "{level}"
        );
        assert!(!level.contains("shorter hold"), "{level}");
        // Slower: the old text said "the hold is shorter, but".
        let (whole, reserve) = shrink(1_000, 2_000, 0.5, 15.0);
        let slower = act_three_prose(&whole, &reserve, 2);
        assert!(slower.contains("slower in this run too (0.50× whole's rate)"), "{slower}");
        assert!(!slower.contains("hold is shorter") && !slower.contains("hold was shorter"), "{slower}");
    }

    #[test]
    fn act_three_bounds_a_hold_at_the_timer_s_resolution() {
        // 10 ns is below one clock read (15 ns): the old text printed "1 140× shorter".
        let (whole, reserve) = shrink(11_400, 10, 1.4, 15.0);
        let text = act_three_prose(&whole, &reserve, 2);
        assert!(text.contains("held at least 760× shorter at the median (10 ns against 11.4 µs"), "{text}");
        assert!(text.contains("timer's resolution"), "{text}");
        assert!(!text.contains("1 140×"), "{text}");
        // A bound is rounded down, from the clock read as printed: 12.1 µs over 11.4 ns is 1 061.4.
        let (whole, reserve) = shrink(12_100, 10, 0.8, 11.43);
        let bound = act_three_prose(&whole, &reserve, 2);
        assert!(
            bound.contains("held at least 1 061× shorter") && bound.contains("clock read of 11.4 ns"),
            "{bound}"
        );
        // Above one clock read the ratio is the printed medians' own.
        let (whole, reserve) = shrink(11_400, 20, 1.4, 15.0);
        let exact = act_three_prose(&whole, &reserve, 2);
        assert!(exact.contains("held 570× shorter at the median (20 ns against 11.4 µs)"), "{exact}");
    }

    #[test]
    fn act_three_labels_the_causes_it_did_not_measure() {
        let (whole, reserve) = shrink(15_000, 30, 0.5, 15.0);
        let slower = act_three_prose(&whole, &reserve, 2);
        assert!(slower.contains("Possible causes, not timed here: on 2 cores"), "{slower}");
        assert!(!slower.contains("cost more than the write lock did"), "{slower}");
        assert!(
            slower.contains(
                "The producers waited 10.0% of their time for the lock, against 60.0% under whole."
            ),
            "{slower}"
        );
        let (whole, reserve) = shrink(15_000, 30, 1.0, 15.0);
        let level = act_three_prose(&whole, &reserve, 2);
        assert!(level.contains("Possible causes, not timed here"), "{level}");
        let (whole, reserve) = shrink(15_000, 30, 1.5, 15.0);
        let faster = act_three_prose(&whole, &reserve, 2);
        assert!(!faster.contains("writes overlapped instead"), "{faster}");
        assert!(faster.contains("(By design, the batches' writes overlap outside the lock"), "{faster}");
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
        // A collision can be one producer's two requests (a stale store moved the end back
        // between them), so the race is not told as two producers'.
        assert!(!torn.contains("two producers") && torn.contains("appends raced between reading"), "{torn}");
    }

    /// Act 2's rows: mutex, semaphore, rwlock reads per second, each with its readers' waiting
    /// share (`None`: not timed; the holding share is a tenth of the waiting one's complement).
    fn reads(rates: [f64; 3], waits: Option<[f64; 3]>) -> Vec<ReadFigures<'static>> {
        ["mutex", "semaphore", "rwlock"]
            .iter()
            .enumerate()
            .map(|(i, &strategy)| ReadFigures {
                strategy,
                reads_per_s: rates[i],
                readers: waits.map(|w| {
                    let hold = (1.0 - w[i]) / 10.0;
                    TimeShare { wait: w[i], hold, outside: 1.0 - w[i] - hold }
                }),
            })
            .collect()
    }

    #[test]
    fn act_two_follows_the_measured_ordering() {
        let taught = act_two_prose(&reads([100.0, 50.0, 300.0], Some([0.5, 0.6, 0.1])), 2);
        assert!(taught.contains("3.00× the mutex's rate."), "{taught}");
        assert!(
            taught.contains("its readers also waited less for the lock: 10.0% of their time against\n  60.0% under the semaphore and 50.0% under the mutex."),
            "{taught}"
        );
        assert!(
            taught.contains("The semaphore read slower than the mutex in this run (0.50× its rate)"),
            "{taught}"
        );
        // The reverse ordering: the prose must not claim what this run did not show.
        let reversed = act_two_prose(&reads([300.0, 400.0, 100.0], Some([0.3, 0.2, 0.6])), 2);
        assert!(reversed.contains("(slower)"), "{reversed}");
        assert!(!reversed.contains("waited less"), "{reversed}");
        assert!(
            reversed.contains(
                "The rwlock read slower than the semaphore and the mutex: its readers waited 60.0%"
            ),
            "{reversed}"
        );
        assert!(reversed.contains("The semaphore read faster than the mutex"), "{reversed}");
        // Between them: only the lock it beat is named as beaten.
        let between = act_two_prose(&reads([421.0, 111.0, 131.0], Some([0.5, 0.6, 0.3])), 2);
        assert!(between.contains("against\n  60.0% under the semaphore."), "{between}");
        assert!(between.contains("The rwlock read slower than the mutex:"), "{between}");
    }

    #[test]
    fn act_two_does_not_put_a_faster_rwlock_down_to_less_waiting_when_its_readers_waited_more() {
        // The audit's run: rwlock read 1.22× the semaphore's rate and 2.05× the mutex's, while
        // its readers waited 83.9% of their time and the semaphore's 9.4%.
        let text = act_two_prose(&reads([100.0, 168.0, 205.0], Some([0.5, 0.094, 0.839])), 2);
        assert!(
            text.contains("rwlock read at 1.22× the semaphore's rate and 2.05× the mutex's rate."),
            "{text}"
        );
        assert!(!text.contains("Readers share an rwlock; under the semaphore"), "{text}");
        assert!(text.contains("The rwlock read faster than the semaphore although its readers spent a larger share of their time waiting for\n  the lock (83.9% against 9.4%)"), "{text}");
        assert!(text.contains("Where the time went instead"), "{text}");
        assert!(text.contains("The rwlock read faster than the mutex although"), "{text}");
    }

    #[test]
    fn act_two_does_not_call_a_wait_within_a_tenth_less() {
        // A run of this machine: rwlock readers waited 41.4%, the mutex's 41.9%.
        let text = act_two_prose(&reads([863.0, 693.0, 1_219.0], Some([0.419, 0.035, 0.414])), 2);
        assert!(!text.contains("waited less"), "{text}");
        assert!(
            text.contains(
                "The rwlock read faster than the mutex although its readers spent about as large a share"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "The rwlock read faster than the semaphore although its readers spent a larger share"
            ),
            "{text}"
        );
    }

    #[test]
    fn act_two_without_lock_statistics_says_only_what_the_rates_show() {
        let text = act_two_prose(&reads([100.0, 50.0, 300.0], None), 2);
        assert!(!text.contains("Readers share an rwlock; under the semaphore"), "{text}");
        assert!(
            text.contains("not timed (--no-lock-stats), so these rates are all this run measured"),
            "{text}"
        );
        assert!(text.contains("(The design's reason an rwlock can read faster"), "{text}");
        let lost = act_two_prose(&reads([300.0, 400.0, 100.0], None), 2);
        assert!(lost.contains("The exclusive locks read faster here"), "{lost}");
        assert!(!lost.contains("design's reason"), "{lost}");
    }

    #[test]
    fn act_two_labels_predictions_and_mechanisms_as_the_design_s() {
        let lost = act_two_prose(&reads([300.0, 400.0, 100.0], Some([0.3, 0.2, 0.6])), 2);
        assert!(!lost.contains("at once: a shared lock gains more on more cores."), "{lost}");
        assert!(lost.contains("is what the design predicts, not what this run measured"), "{lost}");
        // A faster semaphore did not only keep up, and its system call was never timed.
        assert!(!lost.contains("kept up"), "{lost}");
        assert!(!lost.contains("despite its system call"), "{lost}");
        let slower = act_two_prose(&reads([400.0, 300.0, 100.0], Some([0.3, 0.2, 0.6])), 2);
        assert!(!slower.contains("it pays a system call"), "{slower}");
        assert!(slower.contains("A possible cause, not timed here"), "{slower}");
    }

    #[test]
    fn act_two_words_a_ratio_by_its_printed_value() {
        // 0.996 prints as 1.00: neither slower nor faster.
        let text = act_two_prose(&reads([200.0, 1_000.0, 996.0], Some([0.5, 0.4, 0.3])), 2);
        assert!(text.contains("about the semaphore's rate (1.00×)"), "{text}");
        assert!(!text.contains("1.00× the semaphore's rate (slower)"), "{text}");
        assert!(!text.contains("The rwlock read slower than the semaphore"), "{text}");
        let level = act_two_prose(&reads([1_000.0, 996.0, 100.0], Some([0.5, 0.4, 0.3])), 2);
        assert!(
            level.contains("The semaphore read at about the mutex's rate in this run (1.00×)."),
            "{level}"
        );
    }
}
