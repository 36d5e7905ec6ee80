//! `results.json`, `results.csv` and `summary.md` of `harness lab`, from its rows ([`Lab`])
//! alone. Every sentence of the summary that interprets the data is chosen from the measured
//! numbers: which strategy wins each mix and by how much, where the reader-writer lock starts to
//! win, and whether the goals of the sweep showed on this machine.

use crate::report::charts::human;
use crate::report::rows::{BenchFigure, Lab, LabCell};
use crate::report::summary::cut;
use std::fmt::Write as _;
use std::path::Path;

/// Writes every file of a lab sweep into `dir`; returns the chart names.
pub fn write_lab(lab: &Lab, dir: &Path) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("results.json"), serde_json::to_vec_pretty(lab)?)?;
    std::fs::write(dir.join("results.csv"), csv(lab)?)?;
    let charts = super::lab_charts::draw_all(lab, dir)
        .map_err(|e| anyhow::anyhow!("drawing the lab's charts failed: {e}"))?;
    std::fs::write(dir.join("summary.md"), summary(lab, &charts))?;
    Ok(charts)
}

/// One row per cell (its repeats summarized), with a header naming every field.
pub fn csv(lab: &Lab) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for cell in &lab.cells {
        w.serialize(cell)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("writing the CSV: {e}"))?;
    Ok(String::from_utf8(bytes)?)
}

/// A mix: everything of a cell but its strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mix {
    pub read_records: u32,
    pub threads: u32,
    pub read_share_percent: u32,
    pub message_bytes: (usize, usize),
}

impl Mix {
    fn of(c: &LabCell) -> Mix {
        Mix {
            read_records: c.read_records,
            threads: c.threads,
            read_share_percent: c.read_share_percent,
            message_bytes: (c.message_bytes_min, c.message_bytes_max),
        }
    }
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} thread{}, {} % reads of {} record{}",
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            self.read_share_percent,
            self.read_records,
            if self.read_records == 1 { "" } else { "s" }
        )
    }
}

/// Which locking strategy won a mix (median ops/s), and by how much over the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Winner {
    pub mix: Mix,
    pub strategy: String,
    pub ops_per_s: f64,
    pub runner_up: Option<String>,
    /// The winner's median over the runner-up's (1.0 with no runner-up).
    pub margin: f64,
    /// The winner's slowest repeat beat the runner-up's fastest: the spreads do not overlap.
    /// False without a runner-up, and false when either ran once (no spread to compare).
    pub clear: bool,
    /// Both the winner and its runner-up ran at least twice, so their spreads were measured.
    pub spread_measured: bool,
}

/// Every mix, in order, with the cells of it that ran.
pub fn mixes(lab: &Lab) -> Vec<(Mix, Vec<&LabCell>)> {
    let mut out: Vec<(Mix, Vec<&LabCell>)> = Vec::new();
    for cell in &lab.cells {
        let mix = Mix::of(cell);
        match out.iter_mut().find(|(m, _)| *m == mix) {
            Some((_, cells)) => cells.push(cell),
            None => out.push((mix, vec![cell])),
        }
    }
    out.sort_by_key(|(m, _)| *m);
    out
}

/// The winner of each mix among the locking strategies (`none` is left out: its speed is
/// bought with a corrupted log).
pub fn winners(lab: &Lab) -> Vec<Winner> {
    let mut out = Vec::new();
    for (mix, cells) in mixes(lab) {
        let mut locks: Vec<&LabCell> = cells.into_iter().filter(|c| c.strategy != "none").collect();
        locks.sort_by(|a, b| b.ops_per_s_median.total_cmp(&a.ops_per_s_median));
        let Some(best) = locks.first() else { continue };
        let second = locks.get(1);
        out.push(Winner {
            mix,
            strategy: best.strategy.clone(),
            ops_per_s: best.ops_per_s_median,
            runner_up: second.map(|c| c.strategy.clone()),
            margin: second.map_or(1.0, |s| ratio(best.ops_per_s_median, s.ops_per_s_median)),
            clear: second
                .is_some_and(|s| best.repeats >= 2 && s.repeats >= 2 && best.ops_per_s_min > s.ops_per_s_max),
            spread_measured: second.is_some_and(|s| best.repeats >= 2 && s.repeats >= 2),
        });
    }
    out
}

/// A mix's winner as the chart and the page write it: the winner and its lead over the next
/// lock, marked ≈ when the repeats' spreads overlap and ? when one of the two ran once (no
/// spread to judge by); the winner alone when it was the only lock that ran.
pub fn win_label(w: &Winner) -> String {
    if w.runner_up.is_none() {
        return w.strategy.clone();
    }
    let mark = match (w.spread_measured, w.clear) {
        (false, _) => "? ",
        (true, false) => "≈ ",
        (true, true) => "",
    };
    format!("{mark}{} ×{}", w.strategy, beside(w.margin, 1.0))
}

/// What each mark [`win_label`] put on one of `ws` means: only the marks that appear.
pub fn win_marks(ws: &[Winner]) -> Vec<&'static str> {
    let led = || ws.iter().filter(|w| w.runner_up.is_some());
    let mut marks = Vec::new();
    if led().any(|w| w.spread_measured && !w.clear) {
        marks.push("≈: within the repeats' spread");
    }
    if led().any(|w| !w.spread_measured) {
        marks.push("?: ran once, no spread to judge by");
    }
    if ws.iter().any(|w| w.runner_up.is_none()) {
        marks.push("no ×: the only lock that ran");
    }
    marks
}

/// `x` cut (not rounded) to two decimals, or as many more (up to six) as it takes to show it
/// above `bound` when it is: 1.497 is "1.49", and 1.004 beside a bound of 1 is "1.004", never
/// "1.00", so a printed figure falls on the side of the bound the sentence says.
pub fn beside(x: f64, bound: f64) -> String {
    let mut shown = cut(x, 2);
    for digits in 3..=6 {
        if !(x > bound && shown.parse::<f64>().is_ok_and(|v| v <= bound)) {
            break;
        }
        shown = cut(x, digits);
    }
    shown
}

pub(super) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::INFINITY
    }
}

pub(super) fn median_of<'a>(cells: &[&'a LabCell], strategy: &str) -> Option<&'a LabCell> {
    cells.iter().copied().find(|c| c.strategy == strategy)
}

/// For each (read records, threads): the smallest read share at which `rwlock` beats `mutex`
/// clearly (its slowest repeat above mutex's fastest), if any share did.
pub fn crossovers(lab: &Lab) -> Vec<((u32, u32), Option<u32>)> {
    let mut out: Vec<((u32, u32), Option<u32>)> = Vec::new();
    for (mix, cells) in mixes(lab) {
        let (Some(rw), Some(mx)) = (median_of(&cells, "rwlock"), median_of(&cells, "mutex")) else {
            continue;
        };
        let key = (mix.read_records, mix.threads);
        let wins = rw.ops_per_s_min > mx.ops_per_s_max;
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, first)) => {
                if wins && first.is_none() {
                    *first = Some(mix.read_share_percent);
                }
            }
            None => out.push((key, wins.then_some(mix.read_share_percent))),
        }
    }
    out
}

/// "1 core", "2 cores".
pub fn cores(n: usize) -> String {
    super::count(n as u64, "core")
}

/// The payload sizes the cells appended: "100-byte payloads", or "30..300-byte payloads (each
/// size drawn uniformly)".
pub fn payloads(lab: &Lab) -> String {
    let mut sizes: Vec<(usize, usize)> =
        lab.cells.iter().map(|c| (c.message_bytes_min, c.message_bytes_max)).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let drawn = sizes.iter().any(|(min, max)| min != max);
    let list: Vec<String> = sizes
        .iter()
        .map(|&(min, max)| if min == max { min.to_string() } else { format!("{min}..{max}") })
        .collect();
    format!("{}-byte payloads{}", list.join(", "), if drawn { " (each size drawn uniformly)" } else { "" })
}

/// `summary.md`: machine, the data's reading, the goal check, the winners and every cell.
pub fn summary(lab: &Lab, charts: &[String]) -> String {
    let mut s = String::from("# The lab: reads against appends, straight on the log\n\n");
    let m = &lab.machine;
    let _ = writeln!(
        s,
        "Machine: **{}**, kernel {}, logs on {}. Each cell ran {} on a fresh log pre-filled with {} records \
(seed {}), its appends of {}; ops/s counts reads and appends, and is the median of the repeats (with an even count, the mean of the two middle \
ones), with the slowest and fastest beside it.\n",
        cores(m.cpus),
        m.kernel,
        m.data_dir_fs,
        if lab.cell_ms > 0 {
            format!("for {} ms per repeat", lab.cell_ms)
        } else {
            "a fixed number of operations".into()
        },
        lab.prefill_records,
        lab.seed,
        payloads(lab)
    );
    s.push_str("## What the data says\n\n");
    for line in reading(lab) {
        let _ = writeln!(s, "- {line}");
    }
    s.push_str("\n## Goal check\n\n");
    super::lab_goals::section(&mut s, lab);
    s.push_str("\n## The lab against `cargo bench` (one thread, appends only)\n\n");
    bench_section(&mut s, lab);
    s.push_str("\n## The winner of each mix (locking strategies)\n\n");
    s.push_str("| threads | read records | read share | winner | median ops/s | × over | runner-up | spreads apart |\n");
    s.push_str("|---:|---:|---:|---|---:|---:|---|---|\n");
    for w in winners(lab) {
        let _ = writeln!(
            s,
            "| {} | {} | {} % | {} | {} | {} | {} | {} |",
            w.mix.threads,
            w.mix.read_records,
            w.mix.read_share_percent,
            w.strategy,
            human(w.ops_per_s),
            beside(w.margin, 1.0),
            w.runner_up.as_deref().unwrap_or("—"),
            match (&w.runner_up, w.spread_measured, w.clear) {
                (None, _, _) => "—",
                (Some(_), false, _) => "— (one repeat)",
                (Some(_), true, true) => "yes",
                (Some(_), true, false) => "no",
            }
        );
    }
    s.push_str("\n## Every cell\n\n");
    s.push_str("| strategy | threads | read records | read share | ops/s median | min | max | reads measured | violations |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for c in &lab.cells {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} % | {} | {} | {} | {:.1} % | {} |",
            c.strategy,
            c.threads,
            c.read_records,
            c.read_share_percent,
            human(c.ops_per_s_median),
            human(c.ops_per_s_min),
            human(c.ops_per_s_max),
            c.measured_read_percent,
            c.violations
        );
    }
    if !charts.is_empty() {
        s.push_str("\n## Charts\n\n");
        for name in charts {
            let _ = writeln!(s, "![{name}]({name}.png)");
        }
    }
    s
}

/// The teaching point, every clause picked from the numbers: one sentence per line (the
/// summary's bullets, the report page's findings).
pub fn reading(lab: &Lab) -> Vec<String> {
    let mut lines = Vec::new();
    let s = &mut lines;
    let ws = winners(lab);
    win_lines(s, lab, &ws);
    if lab.cells.iter().all(|c| c.repeats >= 2) {
        crossover_lines(s, lab);
    }
    if let Some(line) = overlap_line(lab) {
        s.push(line);
    }
    let tore: u64 = lab.cells.iter().filter(|c| c.strategy == "none").map(|c| c.violations).sum();
    let locks_dirty: u64 = lab.cells.iter().filter(|c| c.strategy != "none").map(|c| c.violations).sum();
    let mut integrity = Vec::new();
    if lab.cells.iter().any(|c| c.strategy != "none") {
        integrity.push(if locks_dirty == 0 {
            "every locking strategy's logs verified clean after every repeat".to_string()
        } else {
            format!("the locking strategies' logs showed {} (a bug)", super::count(locks_dirty, "violation"))
        });
    }
    if lab.cells.iter().any(|c| c.strategy == "none") {
        integrity.push(format!("none's logs showed {}", super::count(tore, "violation")));
    }
    if !integrity.is_empty() {
        s.push(format!("Integrity: {}.", integrity.join("; ")));
    }
    lines
}

/// The winners' sentences: who won how many mixes, how many wins are clear, the widest clear
/// win. Each is said only when the run measured it: a tally needs a mix with two locking
/// strategies, "clear" needs two repeats of each, "the widest" needs a clear win.
fn win_lines(s: &mut Vec<String>, lab: &Lab, ws: &[Winner]) {
    let contested: Vec<&Winner> = ws.iter().filter(|w| w.runner_up.is_some()).collect();
    let mut names: Vec<&str> = ws.iter().map(|w| w.strategy.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if ws.is_empty() {
        s.push("No locking strategy ran, so no mix has a winner among them.".into());
        return;
    }
    if contested.is_empty() {
        s.push(format!(
            "Only {} ran among the locking strategies, so no mix had a rival to beat and there is no winner to name.",
            names.join(" and ")
        ));
        return;
    }
    let tally: Vec<String> = names
        .iter()
        .map(|n| format!("{n} {}", contested.iter().filter(|w| w.strategy == *n).count()))
        .collect();
    s.push(format!(
        "On this machine ({}), the locking strategies won {} as follows: {}.",
        cores(lab.machine.cpus),
        if contested.len() == 1 {
            "the one mix".to_string()
        } else {
            format!("the {} mixes", contested.len())
        },
        tally.join(", ")
    ));
    if !contested.iter().all(|w| w.spread_measured) {
        s.push(format!(
            "{}: a single repeat measures no spread and cannot tell a lead from noise (--repeat 2 or more).",
            if contested.iter().any(|w| w.spread_measured) {
                "Some cells ran once, and no win involving one is called clear"
            } else {
                "Each cell ran once, so no win is called clear"
            }
        ));
    }
    let judged: Vec<&&Winner> = contested.iter().filter(|w| w.spread_measured).collect();
    let clear = judged.iter().filter(|w| w.clear).count();
    let rest = judged.len() - clear;
    let what = "the winner's slowest repeat above the runner-up's fastest";
    match (judged.len(), clear) {
        (0, _) => {}
        (1, 1) => s.push(format!("The one win with repeats to compare is clear ({what}).")),
        (1, _) => s.push(
            "The one win with repeats to compare is within the spread of the repeats and says little on its own."
                .into(),
        ),
        (n, _) => s.push(format!(
            "{clear} of the {n} wins with repeats to compare {} clear ({what}){}.",
            if clear == 1 { "is" } else { "are" },
            match rest {
                0 => String::new(),
                1 => "; the other is within the spread of the repeats and says little on its own".into(),
                _ => format!("; the other {rest} are within the spread of the repeats and say little on their own"),
            }
        )),
    }
    if let Some(w) = judged.iter().filter(|w| w.clear).max_by(|a, b| a.margin.total_cmp(&b.margin)) {
        s.push(format!(
            "The widest clear win: {} at {}, {}× {} ({} ops/s).",
            w.strategy,
            w.mix,
            beside(w.margin, 1.0),
            w.runner_up.as_deref().unwrap_or_default(),
            human(w.ops_per_s)
        ));
    }
}

/// Per (read records, threads): the share where rwlock first beats mutex clearly.
fn crossover_lines(s: &mut Vec<String>, lab: &Lab) {
    for ((records, threads), first) in crossovers(lab) {
        let head = format!(
            "Reads of {records} record{}, {threads} thread{}",
            if records == 1 { "" } else { "s" },
            if threads == 1 { "" } else { "s" }
        );
        s.push(match first {
            Some(share) => format!(
                "{head}: rwlock first beats mutex clearly (its slowest repeat above mutex's fastest) at {share} % reads."
            ),
            None => format!("{head}: rwlock never beats mutex clearly at the shares swept."),
        });
    }
}

/// The largest lead of a reader-writer lock over an exclusive one in any mix where readers
/// could overlap (some reads, more than one thread): (mix, reader-writer strategy, exclusive
/// strategy, the ratio of their medians).
pub fn best_rw_over_exclusive(lab: &Lab) -> Option<(Mix, String, String, f64)> {
    let mut best: Option<(Mix, String, String, f64)> = None;
    let overlapping = mixes(lab).into_iter().filter(|(m, _)| m.threads > 1 && m.read_share_percent > 0);
    for (mix, cells) in overlapping {
        for rw in ["rwlock", "std-rwlock"] {
            let Some(r) = median_of(&cells, rw) else { continue };
            for ex in ["mutex", "semaphore"] {
                let Some(e) = median_of(&cells, ex) else { continue };
                let lead = ratio(r.ops_per_s_median, e.ops_per_s_median);
                if lead.is_finite() && best.as_ref().is_none_or(|b| lead > b.3) {
                    best = Some((mix, rw.to_string(), ex.to_string(), lead));
                }
            }
        }
    }
    best
}

/// What the core count bounds (how many readers run at once, not the reader-writer lock's lead)
/// and, chosen from the run's largest lead of a reader-writer lock over an exclusive one, whether
/// that lead went past what overlapping readers alone could explain.
fn overlap_line(lab: &Lab) -> Option<String> {
    let cpus = lab.machine.cpus;
    let (mix, rw, ex, lead) = best_rw_over_exclusive(lab)?;
    let head = if cpus == 1 {
        "With 1 core, at most 1 reader runs at once.".to_string()
    } else {
        format!("With {cpus} cores, at most {cpus} readers run at once.")
    };
    let extra = if ex == "semaphore" { ", and a system call per release" } else { "" };
    let lead_past_cores = beside(lead, cpus as f64);
    let lead_past_one = beside(lead, 1.0);
    Some(if lead > cpus as f64 {
        format!(
            "{head} Overlap alone accounts for up to {cpus}× an exclusive lock's rate, yet {rw} \
reached {lead_past_cores}× the {ex} (medians, {mix}): the rest is what the {ex} costs besides lost overlap, \
its hand-offs between threads (a wait and a wake-up){extra}, which readers under {rw} skip."
        )
    } else if lead > 1.0 {
        format!(
            "{head} {rw}'s largest lead over an exclusive lock with readers able to overlap was {lead_past_one}× \
the {ex} (medians, {mix}), within the {cpus}× overlap alone could give."
        )
    } else {
        format!(
            "{head} {rw} never beat an exclusive lock's median where readers could overlap: its best was \
{lead_past_one}× the {ex} ({mix})."
        )
    })
}

/// The lab's 1-thread, 0 % reads cell of each strategy (the first, if several read lengths).
fn append_only_cells(lab: &Lab) -> Vec<&LabCell> {
    let mut out: Vec<&LabCell> = Vec::new();
    for c in lab.cells.iter().filter(|c| c.threads == 1 && c.read_share_percent == 0) {
        if !out.iter().any(|o| o.strategy == c.strategy) {
            out.push(c);
        }
    }
    out
}

/// One line per strategy setting its lab cell beside `cargo bench`'s figure (or saying how to
/// get it), each clause chosen from the two: printed by `harness lab` and in `summary.md`.
pub fn bench_lines(lab: &Lab) -> Vec<String> {
    let cells = append_only_cells(lab);
    if cells.is_empty() {
        return vec!["The sweep has no 1-thread, 0 % reads cell to set beside `cargo bench`'s append \
figure: add 1 to --threads and 0 to --read-share."
            .into()];
    }
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    for cell in cells {
        let Some(bench) = lab.bench_append.iter().find(|b| b.strategy == cell.strategy) else {
            missing.push(cell.strategy.as_str());
            continue;
        };
        lines.push(bench_line(cell, bench));
    }
    if !missing.is_empty() {
        lines.push(format!(
            "No `cargo bench` figure for {} in {}: measure it with `{}`, then run `harness lab` again.",
            missing.join(", "),
            if lab.criterion_dir.is_empty() { "criterion's directory" } else { &lab.criterion_dir },
            bench_command(&missing)
        ));
    }
    lines
}

/// The `cargo bench` command that measures `strategies`' one-thread appends (short).
fn bench_command(strategies: &[&str]) -> String {
    format!(
        "cargo bench --bench append -- 'append/single/({})/1$' --warm-up-time 1 --measurement-time 3",
        strategies.join("|")
    )
}

fn bench_line(cell: &LabCell, bench: &BenchFigure) -> String {
    let ratio = cell.ops_per_s_median / bench.msgs_per_s.max(1e-9);
    let head = format!(
        "{}: the lab's 1 thread, 0 % reads: {} ops/s (repeats {}–{}); `cargo bench --bench append`'s \
{} ({} estimate, measured {}; {QUOTED}): {} msg/s (95 % interval {}–{}); lab/bench {ratio:.2}",
        cell.strategy,
        human(cell.ops_per_s_median),
        human(cell.ops_per_s_min),
        human(cell.ops_per_s_max),
        bench.bench_id,
        bench.estimate,
        bench.measured_at,
        human(bench.msgs_per_s),
        human(bench.msgs_per_s_low),
        human(bench.msgs_per_s_high)
    );
    let same_size =
        cell.message_bytes_min == bench.message_bytes && cell.message_bytes_max == bench.message_bytes;
    let overlap = cell.ops_per_s_min <= bench.msgs_per_s_high && bench.msgs_per_s_low <= cell.ops_per_s_max;
    if !same_size {
        format!(
            "{head}: not the same workload (the lab appended {}..{} bytes, the bench {} bytes); run the \
lab with --message-bytes {} to compare.",
            cell.message_bytes_min, cell.message_bytes_max, bench.message_bytes, bench.message_bytes
        )
    } else if overlap {
        format!("{head}: the two instruments agree (the lab's repeats and the bench's interval overlap).")
    } else {
        format!(
            "{head}: the two differ by more than both spreads; they ran at different times on a shared \
machine, so run both back to back before reading more into it."
        )
    }
}

/// How a `cargo bench` figure is labelled wherever it is printed.
pub const QUOTED: &str = "quoted from criterion's files, not measured by this sweep";

/// Whether [`bench_lines`] quote any `cargo bench` figure (some strategy's 1-thread, 0 % reads
/// cell has one beside it).
pub fn quotes_bench(lab: &Lab) -> bool {
    append_only_cells(lab).iter().any(|c| lab.bench_append.iter().any(|b| b.strategy == c.strategy))
}

/// The lines of [`bench_lines`] as a section.
fn bench_section(s: &mut String, lab: &Lab) {
    let _ = writeln!(s, "`cargo bench`'s figure is {QUOTED}; its time is when the bench wrote it.\n");
    for line in bench_lines(lab) {
        let _ = writeln!(s, "- {line}");
    }
}

/// A lab of `cells` on a `cpus`-core machine, for the lab reports' tests.
#[cfg(test)]
pub(crate) fn test_lab(cpus: usize, cells: Vec<LabCell>) -> Lab {
    Lab {
        machine: crate::report::rows::Machine { cpus, kernel: "test".into(), data_dir_fs: "ext4".into() },
        cell_ms: 30,
        prefill_records: 1000,
        seed: 1,
        cells,
        runs: Vec::new(),
        criterion_dir: String::new(),
        bench_append: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::reading;
    use crate::report::rows::{Lab, LabCell};

    fn cell(strategy: &str, threads: u32, share: u32, ops: f64) -> LabCell {
        LabCell {
            strategy: strategy.into(),
            threads,
            read_share_percent: share,
            read_records: 256,
            message_bytes_min: 100,
            message_bytes_max: 100,
            repeats: 2,
            ops_per_s_min: ops * 0.95,
            ops_per_s_median: ops,
            ops_per_s_max: ops * 1.05,
            records_read_per_s_median: ops * 256.0,
            reads: u64::from(share),
            appends: u64::from(100 - share),
            measured_read_percent: f64::from(share),
            violations: 0,
        }
    }

    /// 4 threads at 99 % reads, rwlock at `rwlock` ops/s against 10 k for both exclusive locks;
    /// and 1 thread appending, where rwlock leads the semaphore 5× (no reader to overlap).
    fn lab(cpus: usize, rwlock: f64) -> Lab {
        let cells = vec![
            cell("semaphore", 4, 99, 10_000.0),
            cell("rwlock", 4, 99, rwlock),
            cell("mutex", 4, 99, 10_000.0),
            cell("semaphore", 1, 0, 10_000.0),
            cell("rwlock", 1, 0, 50_000.0),
            cell("mutex", 1, 0, 50_000.0),
        ];
        super::test_lab(cpus, cells)
    }

    fn overlap_line(lines: &[String]) -> &str {
        lines
            .iter()
            .find(|l| l.contains("run at once") || l.contains("runs at once"))
            .expect("the overlap line")
    }

    fn with(cells: Vec<LabCell>) -> Lab {
        Lab { cells, ..lab(2, 10_000.0) }
    }

    #[test]
    fn one_repeat_calls_no_win_clear() {
        let once = |s: &str, ops: f64| LabCell {
            repeats: 1,
            ops_per_s_min: ops,
            ops_per_s_max: ops,
            ..cell(s, 1, 0, ops)
        };
        let text = reading(&with(vec![once("mutex", 630_000.0), once("rwlock", 622_000.0)])).join("\n");
        assert!(text.contains("won the one mix as follows: mutex 1."), "{text}");
        assert!(text.contains("Each cell ran once") && !text.contains("clear ("), "{text}");
        assert!(!text.contains("widest") && !text.contains("the rest"), "{text}");
        assert!(!text.contains("rwlock first beats") && !text.contains("never beats"), "{text}");
    }

    #[test]
    fn one_locking_strategy_has_no_runner_up_to_beat() {
        let text = reading(&with(vec![cell("rwlock", 1, 0, 332_000.0)])).join("\n");
        assert!(text.contains("Only rwlock ran among the locking strategies"), "{text}");
        assert!(!text.contains("won the") && !text.contains("the next") && !text.contains("clear"), "{text}");
    }

    #[test]
    fn only_none_names_no_winner() {
        let text =
            reading(&with(vec![LabCell { violations: 1, ..cell("none", 1, 0, 900_000.0) }])).join("\n");
        assert!(text.contains("No locking strategy ran"), "{text}");
        assert!(!text.contains("won the") && !text.contains("as follows: ."), "{text}");
        assert!(text.contains("Integrity: none's logs showed 1 violation."), "{text}");
        assert!(!text.contains("every locking strategy"), "{text}");
    }

    #[test]
    fn two_repeats_apart_make_a_clear_win() {
        let text =
            reading(&with(vec![cell("mutex", 1, 0, 50_000.0), cell("rwlock", 1, 0, 10_000.0)])).join("\n");
        assert!(text.contains("The one win with repeats to compare is clear"), "{text}");
        assert!(
            text.contains("The widest clear win: mutex at 1 thread, 0 % reads of 256 records, 5.00× rwlock"),
            "{text}"
        );
    }

    #[test]
    fn a_lead_above_the_core_count_never_reads_as_bounded_by_it() {
        let lines = reading(&lab(2, 24_700.0));
        let text = lines.join("\n");
        assert!(!text.contains("at best"), "{text}");
        assert!(!text.contains("within the 2×"), "{text}");
        let line = overlap_line(&lines);
        assert!(line.contains("yet rwlock reached 2.47× the mutex"), "{line}");
        assert!(line.contains("4 threads, 99 % reads") && line.contains("besides lost overlap"), "{line}");
    }

    #[test]
    fn a_figure_past_its_bound_never_prints_as_the_bound() {
        // 2.004× on 2 cores is past what overlap explains: it must not print "2.00×".
        let lines = reading(&lab(2, 20_040.0));
        let line = overlap_line(&lines);
        assert!(line.contains("yet rwlock reached 2.004× the mutex"), "{line}");
        // 0.999× never beat the exclusive lock, and does not print as 1.00×.
        let lines = reading(&lab(2, 9_990.0));
        assert!(overlap_line(&lines).contains("its best was 0.99× the"), "{lines:?}");
        assert_eq!(super::beside(1.497, 1.0), "1.49");
        assert_eq!(super::beside(1.0004, 1.0), "1.0004");
        assert_eq!(super::beside(1.0, 1.0), "1.00");
    }

    #[test]
    fn a_lead_within_the_core_count_is_said_to_be_within_it() {
        let lines = reading(&lab(2, 15_000.0));
        let line = overlap_line(&lines);
        assert!(line.contains("1.50×") && line.contains("within the 2×"), "{line}");
        assert!(!line.contains("besides lost overlap"), "{line}");
        let lines = reading(&lab(2, 8_000.0));
        assert!(overlap_line(&lines).contains("never beat"), "{lines:?}");
        let lines = reading(&lab(1, 24_700.0));
        assert!(overlap_line(&lines).starts_with("With 1 core, at most 1 reader runs at once."));
    }
}
