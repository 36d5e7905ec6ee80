//! `harness demo`: the classroom demonstration, in two acts and under ten seconds.
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
//! Exit code: 0 when the story came out as taught (`none` corrupted, every lock clean), 3 when a
//! lock showed a violation (a bug), 1 when `none` never corrupted even at the widest window.

use super::run::{run, RunConfig, RunReport, TransportKind};
use crate::report::table::thousands;
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
}

/// Plays both acts, printing to `out`; returns the exit code.
pub fn demo(config: &DemoConfig, out: &mut impl Write) -> anyhow::Result<u8> {
    let base = RunConfig {
        data_dir: config.data_dir.clone(),
        progress: false,
        page: config.report.is_some(),
        ..RunConfig::default()
    };
    writeln!(out, "ACT 1 — the race: 8 producers append 20 000 messages to one topic over loopback TCP\n")?;
    let race = RunConfig { producers: 8, consumers: 1, messages: 20_000, warmup_percent: 0, ..base.clone() };
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
    let window = none.race_window_us;
    let mut reports = vec![none];
    for strategy in [StrategyKind::Mutex, StrategyKind::Semaphore, StrategyKind::RwLock] {
        reports.push(run(&RunConfig { strategy, race_window_us: window, ..race.clone() })?);
    }
    print_violation_table(&reports, out)?;
    let none = &reports[0];
    explain_race(none, out)?;

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
    let rate = |name: &str| {
        cost.iter()
            .find(|r| r.strategy == name)
            .and_then(|r| r.consume.as_ref())
            .map_or(0.0, |c| c.msgs_per_s)
    };
    writeln!(
        out,
        "\n  rwlock reads at {:.2}× the semaphore's rate and {:.2}× the mutex's. Readers share an rwlock;\n  under the semaphore and the mutex each read waits for the one before. This machine has {} cores,\n  so at most {} readers truly run at once: the gap grows on more cores. The semaphore also pays a\n  system call on every release, which is why it trails the mutex, the cheap exclusive control.",
        rate("rwlock") / rate("semaphore").max(1.0),
        rate("rwlock") / rate("mutex").max(1.0),
        none.machine.cpus,
        none.machine.cpus
    )?;

    if let Some(dir) = &config.report {
        let race: Vec<_> = reports
            .iter()
            .map(|r| (r.clone(), r.page.as_ref().map(|d| d.view().clone()).unwrap_or_default()))
            .collect();
        let page = crate::report::page::from_rows::demo_page(&race, &cost);
        let path = crate::report::page::write(&page, dir).map_err(anyhow::Error::msg)?;
        writeln!(out, "\n  classroom page: {}", path.display())?;
    }

    let locks_clean = reports[1..].iter().chain(&cost).all(RunReport::is_clean);
    let none_corrupted = !reports[0].is_clean();
    writeln!(out)?;
    Ok(if !locks_clean {
        writeln!(out, "result: a LOCKING strategy showed a violation — that is a bug; please report it")?;
        crate::cli::EXIT_VIOLATED
    } else if !none_corrupted {
        writeln!(out, "result: `none` stayed clean even with a {window} µs race window (a lucky or very slow machine); run again")?;
        crate::cli::EXIT_ERROR
    } else {
        writeln!(
            out,
            "result: as taught — without synchronization the log corrupted itself; every lock kept it clean"
        )?;
        if let Some(d) = &config.data_dir {
            let on_disk = reports[0]
                .violations
                .found()
                .any(|(k, _)| k.is_error() && k.section() != crate::violations::Section::Observed);
            if on_disk {
                writeln!(out, "        see the damage on disk: synclog verify --data-dir {}", d.display())?;
            } else {
                writeln!(
                    out,
                    "        this time the colliding records had equal lengths, so the files stayed well-formed\n        (synclog verify --data-dir {} finds them clean): the damage is in what producers were told",
                    d.display()
                )?;
            }
        }
        crate::cli::EXIT_OK
    })
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
    if v.count(ViolationKind::AckOffsetCollision) + v.count(ViolationKind::Lost) > 0 {
        writeln!(
            out,
            "  - two producers did steps 1–2 before either did 6–7, so both were acknowledged with the same offset and the\n    second write (4) landed on the first: {} acknowledged messages are gone (lost), {} acks collided.",
            thousands(v.count(ViolationKind::Lost)),
            thousands(v.count(ViolationKind::AckOffsetCollision))
        )?;
    }
    if v.count(ViolationKind::CorruptRecord) + v.count(ViolationKind::TornTail) > 0 {
        writeln!(
            out,
            "  - records of different lengths overlapped at one position and the longer end was stored last: the log holds bytes\n    that are no record ({} corrupt stretches), which the CRC exposes.",
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
