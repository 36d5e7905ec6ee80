//! `results.json`, `results.csv` and `summary.md` of a comparison, from the result rows alone.

use crate::report::charts::human;
use crate::report::count;
use crate::report::rows::{median, Ceilings, Comparison, Goal, LockStatsCost, RunReport};
use crate::report::table::thousands;
use std::fmt::Write as _;
use std::path::Path;

/// Writes every file of a comparison into `dir`.
pub fn write_comparison(c: &Comparison, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("results.json"), serde_json::to_vec_pretty(c)?)?;
    std::fs::write(dir.join("results.csv"), csv(c))?;
    let charts =
        super::charts::draw_all(c, dir).map_err(|e| anyhow::anyhow!("drawing the charts failed: {e}"))?;
    std::fs::write(dir.join("summary.md"), summary(c, &charts))?;
    Ok(())
}

pub use super::compare_csv::csv;

/// A goal row's verdict. A goal that names a peer not measured in this run is "not measured",
/// never "yes": no quoted figure judges it.
fn met_cell(g: &Goal) -> &'static str {
    let peer_unjudged = g.peer_factor > 0.0 && !g.peers_judged;
    match g.met {
        Some(false) => "**no**",
        Some(true) | None if peer_unjudged && g.peers.is_empty() => "not measured",
        Some(true) | None if peer_unjudged => "not measured against every peer named",
        Some(true) => "yes",
        None => "—",
    }
}

/// A ratio to a ceiling, flagged when it is above 1.
fn ratio_cell(ratio: f64) -> String {
    flagged(ratio, format!("{ratio:.2}"))
}

/// `shown`, a ratio as printed, flagged when the ratio is above 1.
fn flagged(ratio: f64, shown: String) -> String {
    if Ceilings::failed_to_bound(ratio) {
        format!("{shown} (a ceiling that failed to bound)")
    } else {
        shown
    }
}

/// `x` with `digits` decimals, cut rather than rounded (0.8496 → "0.84"), so a figure below a
/// target of as many decimals never prints as the target. Cut from ten printed decimals, so a
/// binary value just under its decimal (0.29 is 0.28999…) keeps its digits.
pub fn cut(x: f64, digits: usize) -> String {
    let long = format!("{x:.10}");
    match long.split_once('.') {
        Some((whole, fraction)) if digits > 0 => format!("{whole}.{}", &fraction[..digits.min(10)]),
        Some((whole, _)) => whole.to_string(),
        None => long,
    }
}

/// A rate as [`human`] writes it, cut rather than rounded: 7.99 M is "7.9 M", never "8.0 M".
pub fn human_cut(v: f64) -> String {
    if v >= 1e6 {
        format!("{} M", cut(v / 1e6, 1))
    } else if v >= 1e4 {
        format!("{} k", cut(v / 1e3, 0))
    } else if v >= 1e3 {
        let k = cut(v / 1e3, 1);
        format!("{} k", k.strip_suffix(".0").unwrap_or(&k))
    } else {
        cut(v, 0)
    }
}

/// A ratio printed with two decimals, or as many more as it takes (up to six) for a ratio
/// below 1 not to print as 1.00.
fn below_one(x: f64) -> String {
    let mut shown = format!("{x:.2}");
    for digits in 3..=6 {
        if !(x < 1.0 && shown.starts_with("1.")) {
            break;
        }
        shown = format!("{x:.digits$}");
    }
    shown
}

/// A goal row's peer figures: `Redis 7.0.15 68 k (1.29×)`, or why there are none.
fn peer_cell(g: &Goal) -> String {
    if g.peers.is_empty() {
        // A row that names peers has a peer goal.
        return if g.peer_factor > 0.0 { "not measured".into() } else { "—".into() };
    }
    g.peers
        .iter()
        .map(|p| {
            format!(
                "{} {} ({}×)",
                p.server,
                human(p.msgs_per_s),
                cut(g.measured_msgs_per_s / p.msgs_per_s, 2)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The in-process single-message rows against one thread's raw pwrite, one producer beside
/// many: one producer shows what the append costs beyond its write with no lock contention;
/// the drop from it to many producers is what sharing the lock cost. `None` without both rows.
fn serialized_write_paragraph(c: &Comparison) -> Option<String> {
    let one_thread: Vec<&Goal> = c
        .goals
        .iter()
        .filter(|g| {
            g.ceiling_kind == "one thread's raw pwrite" && g.batch == 1 && g.ratio_to_ceiling.is_some()
        })
        .collect();
    let alone = one_thread.iter().find(|g| g.producers == 1 && g.strategy == "rwlock")?;
    let many = one_thread
        .iter()
        .filter(|g| g.producers > 1 && g.strategy == "rwlock")
        .max_by_key(|g| g.producers)?;
    let (r1, rn) = (alone.ratio_to_ceiling?, many.ratio_to_ceiling?);
    // Printed cut, as the goals table prints them (0.625 is "0.62" there and here), and compared
    // as printed (hundredths), so no sentence sets two equal figures against each other.
    let (r1, rn) = (cut(r1, 2), cut(rn, 2));
    let hundredths = |r: &str| r.parse::<f64>().map(|v| (v * 100.0).round() as i64).unwrap_or(0);
    let mut s = format!(
        "A write the lock serializes, taken apart: one producer alone, with nobody to contend \
with, reached {r1} of one thread's raw pwrite. The raw loop only writes; an append also frames \
its record (header, CRC), keeps the index and publishes, and the harness reads the clock twice \
and records the history the checker reads, for every message. {} producers reached {rn}",
        many.producers
    );
    if hundredths(&rn) < hundredths(&r1) {
        let _ = write!(
            s,
            ": the drop from {r1} to {rn} is what sharing the lock among {} threads cost on {} \
cores.",
            many.producers, c.machine.cpus
        );
    } else {
        s.push_str(": no lower than one producer, so in this run sharing the lock cost nothing measurable.");
    }
    let others = one_thread.iter().filter(|g| g.producers == many.producers && g.strategy != "rwlock");
    for (o, ro) in others.filter_map(|o| Some((o, cut(o.ratio_to_ceiling?, 2)))) {
        let _ = write!(
            s,
            " With `{}` in place of `rwlock` (parking_lot's), the same {} producers reached {ro}",
            o.strategy, o.producers
        );
        let (ours, theirs) = (hundredths(&rn), hundredths(&ro));
        s.push_str(match (theirs.cmp(&ours), o.strategy == "std-rwlock") {
            // Only another reader-writer lock is the same kind of lock implemented otherwise.
            (std::cmp::Ordering::Greater, true) => {
                ": which implementation of the lock, not only which kind, decides what sharing it costs."
            }
            (std::cmp::Ordering::Greater, false) => ", above `rwlock` in this run.",
            (std::cmp::Ordering::Equal, _) => ", the same as `rwlock` to two decimals in this run.",
            (std::cmp::Ordering::Less, _) => ", below `rwlock` in this run.",
        });
    }
    Some(s)
}

/// What the on-disk format costs beside the lock: each row against framed writes, with the raw
/// writes of the same workload and threads (its pair: the same command against raw pwrite from
/// as many threads or as many as the cores, or from one for one producer). The split uses the
/// framed row's own runs, so its parts add up: framed ÷ raw ceilings `f`, append ÷ framed `a`,
/// append ÷ raw `f × a`.
fn format_cost_paragraph(c: &Comparison) -> Option<String> {
    let lines: Vec<String> = c
        .goals
        .iter()
        .filter(|g| g.ceiling_kind == "framed pwrite")
        .filter_map(|framed| {
            let raw = c.goals.iter().find(|r| {
                r.workload == framed.workload
                    && (r.ceiling_kind == "raw pwrite"
                        || (r.ceiling_kind == "one thread's raw pwrite" && r.producers == 1))
            })?;
            let a = framed.ratio_to_ceiling?;
            let f = framed.ceiling_msgs_per_s / raw.ceiling_msgs_per_s.max(1.0);
            let mut line = format!(
                "- {}: the framed writes reached {f:.2} of the {} and the append {a:.2} of the framed writes",
                raw.name, raw.ceiling_kind
            );
            line.push_str(&if f >= 1.0 {
                ": the format cost nothing measurable in this run.".to_string()
            } else if a >= 1.0 {
                format!(
                    ", so as far as this run can tell the append's whole distance from raw writes \
({:.2} of their rate) was the format's own work.",
                    1.0 - f
                )
            } else {
                format!(
                    ", so {:.2} of raw writes. Of the distance ({:.2} of their rate), the format's own \
work accounts for {:.2}, and the log's locking, index and publication with the harness's bookkeeping \
for the remaining {:.2}.",
                    f * a,
                    1.0 - f * a,
                    1.0 - f,
                    f * (1.0 - a)
                )
            });
            Some(line)
        })
        .collect();
    (!lines.is_empty()).then(|| {
        format!(
            "What the on-disk format costs, apart from the lock: rows marked \"against framed writes\" \
ran the workload of the row above them against positional writes of records framed exactly as the \
log frames them (the 16-byte header, the offset and a CRC-32C over each record), from the same \
threads (or as many as the cores, as the raw writes), with no lock, no index and no bookkeeping; \
medians.\n\n{}",
            lines.join("\n")
        )
    })
}

/// What bounds the `--fsync always` rows: the device's sync rate, measured in the same run.
fn sync_paragraph(c: &Comparison) -> Option<String> {
    let raw = c.fdatasync_ceiling_per_s?;
    let rows: Vec<&Goal> = c.goals.iter().filter(|g| g.fsyncs_per_s.is_some()).collect();
    if rows.is_empty() {
        return None;
    }
    let mut s = format!(
        "Under `--fsync always` the device sets the pace. Measured in this run, one thread writing \
a {}-byte record into zero-filled space and calling `fdatasync` after each, back to back: {} \
syncs/s ({:.0} µs each). Group commit shares each sync among the appends that landed before it \
started. With producers sending one request at a time, no sync can acknowledge more than one \
message per producer, so the acknowledgements are bounded by producers × syncs per second: the \
group-commit bound. A message that lands during a sync must wait for the next one; left alone, \
the producers would split into two groups taking turns, near half the bound, so while syncs \
carry little (at most 16 KiB) each sync's leader first waits (at most twice the last sync's \
time) for the producers the last sync acknowledged to be back; the messages per sync below show \
how many each one covered.\n",
        crate::storage::HEADER_BYTES + 100,
        human(raw),
        1e6 / raw.max(1.0)
    );
    for g in rows {
        let syncs = g.fsyncs_per_s.unwrap_or(0.0);
        let _ = write!(
            s,
            "\n- {}: {} syncs/s ({:.2} of the raw rate), {:.1} messages per sync",
            g.name,
            human(syncs),
            syncs / raw.max(1.0),
            g.msgs_per_fsync.unwrap_or(0.0)
        );
        if g.batch == 1 && g.in_flight == 1 {
            // A row judged against the bound carries its own (the median of fresh measurements).
            let bound = if g.ceiling_kind == "group-commit bound" {
                g.ceiling_msgs_per_s
            } else {
                f64::from(g.producers) * raw
            };
            // As the goals table prints them (the bound rounded, the rate cut), so the two agree.
            // "Above it" is decided on the printed ratio, and then both figures are printed
            // whole (10 000 and 10 990 would both read "10 k"), with a decimal if even that
            // does not tell them apart.
            let measured = g.measured_msgs_per_s;
            let ratio = cut(measured / bound.max(1.0), 2);
            let above = measured > bound && ratio != "1.00";
            let (mut bound_shown, mut reached_shown) = (human(bound), human_cut(measured));
            if above {
                bound_shown = thousands(bound.round() as u64);
                reached_shown = thousands(measured as u64);
                if bound_shown == reached_shown {
                    (bound_shown, reached_shown) = (format!("{bound:.1}"), cut(measured, 1));
                }
            }
            let _ = write!(
                s,
                "; the bound is about {bound_shown} msg/s and synclog reached {reached_shown} ({ratio} of it{})",
                if above { ": above it, so the bound did not hold in this run" } else { "" }
            );
        }
        if let Some(parts) = sync_cycle(g, raw) {
            s.push_str(&parts);
        }
        s.push(';');
    }
    s.pop();
    s.push('.');
    Some(s)
}

/// Where one sync's cycle went (one topic, so syncs run one after another): the time inside
/// `fdatasync` beside the raw sync's, the leader's gather, and what is left of the cycle, from
/// one sync's end to the next leader's arrival. `None` without the sync times (an older run).
fn sync_cycle(g: &Goal, raw: f64) -> Option<String> {
    let (syncs, sync_us, gather_us) = (g.fsyncs_per_s?, g.fsync_mean_us?, g.gather_mean_us?);
    if syncs <= 0.0 {
        return None;
    }
    let cycle_us = 1e6 / syncs;
    let rest_us = cycle_us - sync_us - gather_us;
    let mut s = format!(
        "; of each sync's cycle ({:.0} µs), {:.0} µs inside `fdatasync` (the raw sync: {:.0} µs), \
{:.0} µs gathering",
        cycle_us,
        sync_us,
        1e6 / raw.max(1.0),
        gather_us
    );
    if rest_us >= 0.0 {
        let _ = write!(s, " and {rest_us:.0} µs from a sync's end to the next leader's arrival");
    }
    let _ = write!(s, ": the device was busy {:.0} % of the time", (sync_us / cycle_us * 100.0).min(100.0));
    Some(s)
}

/// Says how the peers were measured, or, when they were not, how to measure them.
fn peers_paragraph(c: &Comparison) -> String {
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for p in c.goals.iter().flat_map(|g| &g.peers) {
        let key = (p.server.clone(), p.setting.clone(), p.durability.clone());
        if !seen.contains(&key) {
            seen.push(key);
        }
    }
    let missing: Vec<&String> = c.goals.iter().flat_map(|g| &g.peers_missing).collect();
    let mut s = String::new();
    if !seen.is_empty() {
        s.push_str(
            "The peers a user would pick instead were measured in this run, on this machine, on the \
same workload as the row (the same producer threads, one connection each, one 100-byte message \
per request, the same number in flight), each on a fresh server with its data on the same file \
system. Every message sent to a peer was distinct, and afterwards every entry of the peer's \
stream was read back: the values stored had to be exactly the values acknowledged, none \
missing, none twice:\n\n",
        );
        for (server, setting, durability) in &seen {
            let _ = writeln!(s, "- {server}: {setting} — durability: {durability}");
        }
    } else {
        s.push_str(
            "The peers were not measured in this run (`harness compare --goals --peers` measures \
them when redis-server and nats-server are installed), so every goal that names a peer says \
\"not measured\".\n",
        );
    }
    // Why a peer that was asked for has no figure (one not asked for is said above).
    if !missing.is_empty() {
        let mut reasons: Vec<&String> = Vec::new();
        for m in missing {
            if !reasons.contains(&m) {
                reasons.push(m);
            }
        }
        let _ = writeln!(
            s,
            "\nNot measured: {}.",
            reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("; ")
        );
    }
    s.push_str("\nDurability differs per row: see the last column.");
    s
}

/// The Markdown summary: machine, ceilings, the matrix with ratios, goals, lock costs.
pub fn summary(c: &Comparison, charts: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# synclog comparison\n");
    let _ = writeln!(
        s,
        "Machine: {} CPUs, kernel {}, data on {}. The whole comparison took {:.0} s. Every figure \
below was measured on this machine in this run{}. Each produce throughput sits beside the \
ceilings of its shape measured in the same run, so it reads as a fraction of what the hardware \
allowed (consuming has no ceiling); a ratio above 1 is marked as a ceiling that failed to bound.\n",
        c.machine.cpus,
        c.machine.kernel,
        c.cells.first().map_or("unknown", |cell| cell.report.machine.data_dir_fs.as_str()),
        c.duration_s,
        if c.goals.is_empty() {
            ""
        } else {
            ", except in the last section, \"Quoted figures (not measured in this run)\", which names \
the source of each"
        }
    );

    if !c.goals.is_empty() {
        goals_section(&mut s, c);
    }
    ceilings_section(&mut s, c);
    matrix_section(&mut s, c);
    unbounded_section(&mut s, c);
    costs_section(&mut s, c);
    integrity_section(&mut s, c);
    s.push_str(&super::locks::summary_section(c.cells.iter().map(|cell| &cell.report)));
    s.push_str(&super::rates::section(c));
    if !c.goals.is_empty() {
        let _ = writeln!(s);
        super::quoted::section(&mut s, c);
    }
    let _ = writeln!(s, "\n## Charts\n");
    for name in charts {
        let _ = writeln!(s, "![{name}]({name}.png)\n");
    }
    let _ = writeln!(s, "How to read them: see `reports/README.md`.");
    s
}

/// The performance goals, the peers and each goal's command.
fn goals_section(s: &mut String, c: &Comparison) {
    let _ = writeln!(
        s,
        "## Performance goals (rwlock unless a row names another, 100-byte messages, no consumers)\n"
    );
    let _ = writeln!(
        s,
        "Each ratio is the measured rate over the ceiling named beside it, of the same shape \
(producer threads, batch, requests in flight) and measured in this run: the loopback echo for TCP \
rows, raw positional writes for in-process rows (from as many threads as producers or as many as \
the machine has cores, whichever wrote more, or from one thread, the fair ceiling of a write the \
lock serializes, or framed: records encoded as the log encodes them, see below), and for the one-at-a-time \
`--fsync always` row the group-commit bound, producers × the raw sync rate (see below).\n"
    );
    let _ = writeln!(
        s,
        "| goal | measured msg/s | ceiling msg/s | ratio | target | met | peers in this run (synclog ÷ peer) | durability |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---|---|---|---|");
    for g in &c.goals {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            g.name,
            human_cut(g.measured_msgs_per_s),
            if g.ratio_to_ceiling.is_some() {
                format!("{} ({})", human(g.ceiling_msgs_per_s), g.ceiling_kind)
            } else {
                "—".into()
            },
            g.ratio_to_ceiling.map_or("—".into(), |r| flagged(r, cut(r, 3))),
            g.target,
            met_cell(g),
            peer_cell(g),
            g.durability
        );
    }
    let _ = writeln!(
        s,
        "\nThe measured rates, ratios and multiples of a peer in this table are cut, not rounded, to \
the digits shown, so a row that missed its target never shows the target's figure."
    );
    if let Some(runs) = alternating_paragraph(c) {
        let _ = writeln!(s, "\n{runs}");
    }
    let _ = writeln!(s, "\n{}", peers_paragraph(c));
    if let Some(cost) = lock_stats_cost(c) {
        let _ = writeln!(s, "\n{cost}");
    }
    if let Some(serialized) = serialized_write_paragraph(c) {
        let _ = writeln!(s, "\n{serialized}");
    }
    if let Some(format) = format_cost_paragraph(c) {
        let _ = writeln!(s, "\n{format}");
    }
    if let Some(bound) = sync_paragraph(c) {
        let _ = writeln!(s, "\n{bound}");
    }
    let _ = writeln!(s, "\nEach goal's workload, to run it alone:\n");
    for g in &c.goals {
        let _ = writeln!(s, "- {}: `{}`", g.name, g.workload);
    }
    let _ = writeln!(s);
}

/// The rows judged on medians of runs alternating with their ceiling: every figure.
fn alternating_paragraph(c: &Comparison) -> Option<String> {
    let figures = |v: &[f64]| v.iter().map(|&x| human(x)).collect::<Vec<_>>().join(", ");
    // synclog's runs are cut, as their median is, so the median is always one of them as printed.
    let cut_figures = |v: &[f64]| v.iter().map(|&x| human_cut(x)).collect::<Vec<_>>().join(", ");
    let lines: Vec<String> = c
        .goals
        .iter()
        .filter_map(|g| g.alternating.as_ref().map(|runs| (g, runs)))
        .map(|(g, runs)| {
            format!(
                "- {}: synclog {} msg/s; the {} after each: {} msg/s; medians {} and {}, {}.",
                g.name,
                cut_figures(&runs.msgs_per_s),
                g.ceiling_kind,
                figures(&runs.ceiling_msgs_per_s),
                human_cut(g.measured_msgs_per_s),
                human(g.ceiling_msgs_per_s),
                cut(g.ratio_to_ceiling.unwrap_or(0.0), 3)
            )
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(format!(
        "Rows judged on medians: the workload ran several times, each run followed by a fresh \
measurement of its ceiling, so load that came and went on the machine fell on both sides; the \
row shows the two medians.\n\n{}",
        lines.join("\n")
    ))
}

/// With `--lock-stats`: each TCP goal run alternately with and without the timing wrapper.
fn lock_stats_cost(c: &Comparison) -> Option<String> {
    let rows: Vec<(&Goal, &LockStatsCost)> =
        c.goals.iter().filter_map(|g| g.lock_stats_cost.as_ref().map(|cost| (g, cost))).collect();
    if rows.is_empty() {
        return None;
    }
    let mut s = String::from(
        "What measuring the lock costs: each TCP goal ran three times with the lock statistics on \
(the goal's own run among them) and three times without, alternately; medians.\n\n\
| goal | with lock statistics msg/s | without msg/s | with ÷ without |\n|---|---:|---:|---:|\n",
    );
    for (g, cost) in &rows {
        let with = median(&cost.with_msgs_per_s);
        let without = median(&cost.without_msgs_per_s);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            g.name,
            human(with),
            human(without),
            below_one(cost.ratio())
        );
    }
    let worst = rows.iter().map(|(_, cost)| cost.ratio()).fold(f64::INFINITY, f64::min);
    let lost = ((1.0 - worst) * 100.0 - 1e-9).ceil();
    let reading = if worst >= 1.0 {
        "no TCP goal ran slower with the timing on.".to_string()
    } else {
        format!("the timing cost at most {lost:.0} % of the throughput on any TCP goal.")
    };
    let _ = write!(s, "\nThe lowest ratio in this run is {}: {reading}", below_one(worst));
    Some(s)
}

/// The ceilings of every shape the matrix ran.
fn ceilings_section(s: &mut String, c: &Comparison) {
    let _ = writeln!(s, "## Ceilings measured in this run\n");
    let _ = writeln!(
        s,
        "Each at the concurrency of the cells it bounds: as many threads (and loopback connections) \
as producers, the same batch and requests in flight; the write ceiling, when there are more \
producers than cores, is the better of that and as many threads as cores (writers beyond the \
cores contend on the file's lock in the kernel and can write less). The echo ceiling is the best of its \
configurations (the echo server answering each request at once, or coalescing its answers as \
the broker does); the last column names the best. Consumers are not part of a ceiling.\n"
    );
    let _ = writeln!(
        s,
        "| threads | message bytes | batch | in flight | raw pwrite msg/s | loopback echo msg/s | best echo |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---|");
    let mut seen = Vec::new();
    for cell in &c.cells {
        let k = &cell.ceilings;
        if !seen.contains(&(k.threads, k.message_bytes, k.batch, k.in_flight)) {
            seen.push((k.threads, k.message_bytes, k.batch, k.in_flight));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                k.threads,
                k.message_bytes,
                k.batch,
                k.in_flight,
                human(k.pwrite_msgs_per_s),
                human(k.loopback_msgs_per_s),
                k.loopback_configuration
            );
        }
    }
}

/// One row per cell.
fn matrix_section(s: &mut String, c: &Comparison) {
    let _ = writeln!(s, "\n## The matrix\n");
    let _ = writeln!(
        s,
        "| strategy | producers | consumers | produce msg/s | ratio to ceiling | consume msg/s | p50 | p99 | p99.9 | violations | verdict |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for cell in &c.cells {
        let r = &cell.report;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} µs | {} µs | {} µs | {} | {} |",
            r.strategy,
            r.producers,
            r.consumers,
            human(r.produce.msgs_per_s),
            ratio_cell(cell.produce_ratio),
            r.consume.as_ref().map_or("—".to_string(), |f| human(f.msgs_per_s)),
            r.produce.p50_us,
            r.produce.p99_us,
            r.produce.p999_us,
            r.violations.error_total(),
            r.verdict
        );
    }
}

/// What tells a comparison's cells apart: "rwlock × 2 producers × 1 consumer".
fn cell_name(r: &RunReport) -> String {
    format!("{} × {} × {}", r.strategy, count(r.producers, "producer"), count(r.consumers, "consumer"))
}

/// Every cell and goal whose ratio to its ceiling is above 1, said in words: a ceiling that did
/// not bound what it was measured for is no ceiling, and its ratios read as nothing.
fn unbounded_section(s: &mut String, c: &Comparison) {
    let mut rows: Vec<String> = c
        .cells
        .iter()
        .filter(|cell| Ceilings::failed_to_bound(cell.produce_ratio))
        .map(|cell| format!("- {}: {:.2} of its ceiling", cell_name(&cell.report), cell.produce_ratio))
        .collect();
    for g in &c.goals {
        if let Some(r) = g.ratio_to_ceiling.filter(|&r| Ceilings::failed_to_bound(r)) {
            rows.push(format!("- goal \"{}\": {r:.2} of its ceiling", g.name));
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n**A ceiling that failed to bound.** These rates exceeded the ceiling measured for their \
shape in this run, so that ceiling did not bound them (noise on a shared machine, or a cost the \
ceiling does not model); their ratios say nothing about headroom:\n"
    );
    for r in rows {
        let _ = writeln!(s, "{r}");
    }
}

/// The uncontended cost of one critical section per strategy.
fn costs_section(s: &mut String, c: &Comparison) {
    let _ = writeln!(s, "\n## What one uncontended critical section costs\n");
    let _ = writeln!(s, "| strategy | write section (ns) | read section (ns) |");
    let _ = writeln!(s, "|---|---:|---:|");
    for cost in &c.section_costs {
        let _ = writeln!(s, "| {} | {:.1} | {:.1} |", cost.strategy, cost.write_ns, cost.read_ns);
    }
    let _ = write!(
        s,
        "\n`semaphore` (std-semaphore) signals a condition variable on every release, a system call \
even when nobody waits; `mutex` is exclusive too but costs a compare-exchange. Comparing the two \
separates \"exclusive\" from \"expensive\"."
    );
    // Readers share only where there were readers: both locks must have run with consumers.
    let read_by = |strategy: &str| {
        c.cells.iter().any(|cell| cell.report.strategy == strategy && cell.report.consumers > 0)
    };
    if read_by("mutex") && read_by("rwlock") {
        let _ = write!(
            s,
            " Comparing `mutex` with `rwlock` in the cells with consumers shows what letting readers \
share is worth. With {} CPUs at most {} readers run at once, which bounds what sharing can gain \
on this machine.",
            c.machine.cpus, c.machine.cpus
        );
    }
    let _ = writeln!(s);
}

/// Which cells showed violations.
fn integrity_section(s: &mut String, c: &Comparison) {
    let violated: Vec<String> = c
        .cells
        .iter()
        .filter(|cell| !cell.report.is_clean())
        .map(|cell| {
            let kinds: Vec<String> = cell
                .report
                .violations
                .found()
                .filter(|(k, _)| k.is_error())
                .map(|(k, n)| format!("{} {n}", k.name()))
                .collect();
            format!("- {}: {}", cell_name(&cell.report), kinds.join(", "))
        })
        .collect();
    let _ = writeln!(s, "\n## Integrity\n");
    if violated.is_empty() {
        let _ = writeln!(s, "Every cell is clean.");
    } else {
        let _ = writeln!(s, "Cells with violations (expected only under `none`):\n");
        for v in violated {
            let _ = writeln!(s, "{v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::rows::{AlternatingRuns, Cell, PeerFigure, PeerKind};

    fn goal(measured: f64, peers: Vec<PeerFigure>, missing: Vec<String>) -> Goal {
        Goal {
            name: "loopback TCP, one at a time, fsync always, 8 producers".into(),
            strategy: "rwlock".into(),
            workload: String::new(),
            producers: 8,
            batch: 1,
            in_flight: 1,
            measured_msgs_per_s: measured,
            ceiling_msgs_per_s: 100_000.0,
            ratio_to_ceiling: Some(measured / 100_000.0),
            ceiling_kind: "loopback echo".into(),
            alternating: None,
            target: String::new(),
            met: Some(false),
            durability: String::new(),
            fsyncs_per_s: None,
            msgs_per_fsync: None,
            fsync_mean_us: None,
            gather_mean_us: None,
            peers,
            peers_missing: missing,
            peer_factor: 2.0,
            peers_judged: true,
            lock_stats_cost: None,
            violations: 0,
            unacknowledged: 0,
        }
    }

    #[test]
    fn the_cost_of_lock_statistics_is_printed_only_where_measured() {
        let plain = goal(16_000.0, vec![], vec![]);
        assert_eq!(lock_stats_cost(&comparison(vec![], vec![plain.clone()])), None);
        let cost = LockStatsCost {
            with_msgs_per_s: vec![16_000.0, 9_000.0, 17_000.0],
            without_msgs_per_s: vec![20_000.0, 30_000.0, 19_000.0],
        };
        let timed = Goal { lock_stats_cost: Some(cost), ..plain };
        let text = lock_stats_cost(&comparison(vec![], vec![timed])).expect("a measured cost");
        assert!(text.contains("| 16 k | 20 k | 0.80 |"), "{text}");
        assert!(
            text.contains("lowest ratio in this run is 0.80")
                && text.contains("at most 20 % of the throughput"),
            "{text}"
        );
    }

    #[test]
    fn a_row_judged_on_medians_prints_every_run_and_names_its_ceiling() {
        let plain = goal(16_000.0, vec![], vec![]);
        assert_eq!(alternating_paragraph(&comparison(vec![], vec![plain.clone()])), None);
        let runs = AlternatingRuns {
            msgs_per_s: vec![60_000.0, 50_000.0, 70_000.0],
            ceiling_msgs_per_s: vec![120_000.0, 100_000.0, 140_000.0],
        };
        let judged = Goal {
            measured_msgs_per_s: 60_000.0,
            ceiling_msgs_per_s: 120_000.0,
            ratio_to_ceiling: Some(0.5),
            alternating: Some(runs),
            ..plain
        };
        let text = alternating_paragraph(&comparison(vec![], vec![judged.clone()])).expect("a paragraph");
        assert!(text.contains("synclog 60 k, 50 k, 70 k msg/s"), "{text}");
        assert!(text.contains("the loopback echo after each: 120 k, 100 k, 140 k msg/s"), "{text}");
        assert!(text.contains("medians 60 k and 120 k, 0.500."), "{text}");
        let table = summary(&comparison(vec![], vec![judged.clone()]), &[]);
        assert!(table.contains("| 120 k (loopback echo) | 0.500 |"), "{table}");
        // The median is one of the runs, and prints as that run does (both cut): 8.96 M is
        // "8.9 M" in the list as in the medians, not "9.0 M" beside "8.9 M".
        let runs = AlternatingRuns {
            msgs_per_s: vec![8_962_612.0, 8_300_000.0, 9_900_000.0],
            ceiling_msgs_per_s: vec![11_700_000.0, 9_300_000.0, 12_100_000.0],
        };
        let close = Goal { measured_msgs_per_s: 8_962_612.0, alternating: Some(runs), ..judged };
        let text = alternating_paragraph(&comparison(vec![], vec![close])).expect("a paragraph");
        assert!(
            text.contains("synclog 8.9 M, 8.3 M, 9.9 M msg/s") && text.contains("medians 8.9 M"),
            "{text}"
        );
    }

    fn redis(rate: f64) -> PeerFigure {
        PeerFigure {
            peer: PeerKind::Redis,
            server: "Redis 7.0.15".into(),
            setting: "XADD, appendonly yes, appendfsync always".into(),
            msgs_per_s: rate,
            durability: "fsync".into(),
        }
    }

    #[test]
    fn a_peer_cell_gives_each_peer_and_synclogs_multiple_of_it() {
        assert_eq!(peer_cell(&goal(16_000.0, vec![redis(20_000.0)], vec![])), "Redis 7.0.15 20 k (0.80×)");
        assert_eq!(peer_cell(&goal(16_000.0, vec![], vec![])), "not measured");
        let no_peer_goal = Goal { peer_factor: 0.0, ..goal(16_000.0, vec![], vec![]) };
        assert_eq!(peer_cell(&no_peer_goal), "—");
    }

    #[test]
    fn a_goal_not_judged_against_every_named_peer_is_never_a_yes() {
        let mut g = goal(90_000.0, vec![redis(20_000.0)], vec!["nats-server: exited".into()]);
        g.met = Some(true);
        assert_eq!(met_cell(&g), "yes");
        g.peers_judged = false;
        assert_eq!(met_cell(&g), "not measured against every peer named");
        g.met = Some(false);
        assert_eq!(met_cell(&g), "**no**");
    }

    fn comparison(cells: Vec<Cell>, goals: Vec<Goal>) -> Comparison {
        Comparison {
            cells,
            goals,
            section_costs: vec![],
            fdatasync_ceiling_per_s: None,
            rate_points: Vec::new(),
            p99_bound_us: 10_000,
            machine: crate::report::rows::Machine { cpus: 2, kernel: "k".into(), data_dir_fs: "ext4".into() },
            duration_s: 1.0,
        }
    }

    /// Every rate a quoted figure of this file prints.
    const QUOTED: [&str; 7] = ["5 000", "83 k", "573 k", "23 k", "382 k", "55 k", "227 k"];

    #[test]
    fn a_summary_with_no_redis_measured_says_not_measured_and_quotes_only_in_its_section() {
        // The fsync-always row (≥ 2 × Redis) and the original's row, with no peer run: the
        // goal's verdict is None (goals.rs judges nothing against an unmeasured peer).
        let mut always = goal(90_000.0, vec![], vec![]);
        always.met = None;
        always.peers_judged = false;
        let mut original = goal(87_000.0, vec![], vec![]);
        original.name = "loopback TCP, one message per request, 4 producers (the original's workload)".into();
        original.target = "above the original's rate (quoted, not measured: see \"Quoted figures\")".into();
        original.peer_factor = 0.0;
        original.met = Some(true);
        let text = summary(&comparison(vec![], vec![always, original]), &[]);
        let (measured, quoted) =
            text.split_once("## Quoted figures (not measured in this run)").expect("{text}");
        let redis_row = measured.lines().find(|l| l.contains("fsync always, 8 producers |")).expect("{text}");
        assert!(redis_row.contains("| not measured |") && !redis_row.contains("| yes |"), "{redis_row}");
        for figure in QUOTED {
            assert!(!measured.contains(figure), "{figure:?} outside the quoted section:\n{measured}");
        }
        // The quoted section names each figure's source and sets this run's rate beside it.
        assert!(quoted.contains("about 5 000 messages/s") && quoted.contains("issue 5"), "{quoted}");
        assert!(quoted.contains("this run measured 87 k messages/s, 17× the quoted figure"), "{quoted}");
        assert!(quoted.contains("573 k with 100 in flight") && quoted.contains("7155d03"), "{quoted}");
    }

    #[test]
    fn peers_measured_in_the_run_are_not_quoted_again() {
        let mut g = goal(90_000.0, vec![redis(20_000.0)], vec![]);
        g.met = Some(true);
        let text = summary(&comparison(vec![], vec![g]), &[]);
        let (_, quoted) = text.split_once("## Quoted figures").expect("{text}");
        assert!(!quoted.contains("7155d03"), "{quoted}");
        assert!(text.contains("| yes | Redis 7.0.15 20 k (4.50×) |"), "{text}");
    }

    fn cell(produce: f64, ceiling: f64) -> Cell {
        use crate::report::rows::{Figures, RunReport};
        let report = RunReport {
            strategy: "rwlock".into(),
            consumers: 0,
            messages: 1000,
            message_bytes: 100,
            produce: Figures { msgs_per_s: produce, ..Figures::default() },
            ..RunReport::sample()
        };
        let ceilings = Ceilings {
            threads: 1,
            message_bytes: 100,
            batch: 1,
            in_flight: 1,
            pwrite_msgs_per_s: 1e6,
            loopback_msgs_per_s: ceiling,
            loopback_configuration: "answers coalesced",
        };
        Cell { report, ceilings, produce_ratio: produce / ceiling }
    }

    #[test]
    fn a_ratio_above_one_is_flagged_as_a_ceiling_that_failed_to_bound() {
        let text = summary(&comparison(vec![cell(18_000.0, 17_000.0)], vec![]), &[]);
        assert!(text.contains("| 1.06 (a ceiling that failed to bound) |"), "{text}");
        assert!(text.contains("**A ceiling that failed to bound.**"), "{text}");
        assert!(text.contains("- rwlock × 1 producer × 0 consumers: 1.06 of its ceiling"), "{text}");
        let bounded = summary(&comparison(vec![cell(16_000.0, 17_000.0)], vec![]), &[]);
        assert!(bounded.contains("| 0.94 |") && !bounded.contains("(a ceiling that failed"), "{bounded}");
        assert!(!bounded.contains("**A ceiling that failed to bound.**"), "{bounded}");
        // The ceilings table says at what concurrency the echo ran and which configuration won.
        assert!(text.contains("| 1 | 100 | 1 | 1 | 1.0 M | 17 k | answers coalesced |"), "{text}");
    }

    #[test]
    fn why_an_asked_for_peer_is_missing_is_printed_even_when_none_was_measured() {
        let mut g = goal(16_000.0, vec![], vec!["redis-server: exited (status 1): port in use".into()]);
        g.peers_judged = false;
        let c = Comparison {
            cells: vec![],
            goals: vec![g],
            section_costs: vec![],
            fdatasync_ceiling_per_s: None,
            rate_points: Vec::new(),
            p99_bound_us: 10_000,
            machine: crate::report::rows::Machine { cpus: 2, kernel: "k".into(), data_dir_fs: "ext4".into() },
            duration_s: 1.0,
        };
        let text = peers_paragraph(&c);
        assert!(text.contains("Not measured: redis-server: exited (status 1): port in use."), "{text}");
        // Peers not asked for leave no reasons: nothing failed.
        let mut quiet = c.clone();
        quiet.goals[0].peers_missing.clear();
        let text = peers_paragraph(&quiet);
        assert!(!text.contains("Not measured") && text.contains("--goals --peers"), "{text}");
    }

    #[test]
    fn a_serialized_write_is_taken_apart_into_one_producer_and_many() {
        let row = |producers: u32, measured: f64| {
            let mut g = goal(measured, vec![], vec![]);
            g.producers = producers;
            g.batch = 1;
            g.ceiling_kind = "one thread's raw pwrite".into();
            g.ceiling_msgs_per_s = 1_000_000.0;
            g.ratio_to_ceiling = Some(measured / 1_000_000.0);
            g
        };
        let mut std_rwlock = row(8, 560_000.0);
        std_rwlock.strategy = "std-rwlock".into();
        let c = comparison(vec![], vec![row(8, 450_000.0), row(1, 620_000.0), std_rwlock.clone()]);
        let text = serialized_write_paragraph(&c).expect("both rows");
        assert!(
            text.contains("With `std-rwlock` in place of `rwlock` (parking_lot's), the same 8 producers reached 0.56: which implementation"),
            "{text}"
        );
        assert!(text.contains("one producer alone, with nobody to contend with, reached 0.62"), "{text}");
        assert!(
            text.contains("8 producers reached 0.45: the drop from 0.62 to 0.45 is what sharing the lock among 8 threads cost on 2 cores."),
            "{text}"
        );
        let level = comparison(vec![], vec![row(8, 630_000.0), row(1, 620_000.0), std_rwlock]);
        let text = serialized_write_paragraph(&level).expect("both rows");
        assert!(text.contains("8 producers reached 0.63: no lower than one producer"), "{text}");
        assert!(text.contains("reached 0.56, below `rwlock` in this run."), "{text}");
        let one_row = comparison(vec![], vec![row(8, 450_000.0)]);
        assert_eq!(serialized_write_paragraph(&one_row), None, "no one-producer row, no paragraph");
    }

    #[test]
    fn the_serialized_write_compares_figures_as_printed_and_names_kinds_apart() {
        let row = |strategy: &str, producers: u32, ratio: f64| {
            let mut g = goal(ratio * 1e6, vec![], vec![]);
            (g.strategy, g.producers, g.batch) = (strategy.into(), producers, 1);
            g.ceiling_kind = "one thread's raw pwrite".into();
            g.ceiling_msgs_per_s = 1e6;
            g.ratio_to_ceiling = Some(ratio);
            g
        };
        // 0.6249 and 0.6201 both print 0.62: no drop "from 0.62 to 0.62".
        let c = comparison(vec![], vec![row("rwlock", 1, 0.6249), row("rwlock", 8, 0.6201)]);
        let text = serialized_write_paragraph(&c).expect("both rows");
        assert!(
            !text.contains("the drop from") && text.contains("0.62: no lower than one producer"),
            "{text}"
        );
        // std-rwlock at 0.4549 and rwlock at 0.4501 both print 0.45: not "which implementation".
        let c = comparison(
            vec![],
            vec![row("rwlock", 1, 0.62), row("rwlock", 8, 0.4501), row("std-rwlock", 8, 0.4549)],
        );
        let text = serialized_write_paragraph(&c).expect("both rows");
        assert!(
            text.contains("reached 0.45, the same as `rwlock` to two decimals")
                && !text.contains("which implementation"),
            "{text}"
        );
        // A mutex is another kind of lock, not another implementation of the same one.
        let c =
            comparison(vec![], vec![row("rwlock", 1, 0.62), row("rwlock", 8, 0.45), row("mutex", 8, 0.56)]);
        let text = serialized_write_paragraph(&c).expect("both rows");
        assert!(
            text.contains("With `mutex` in place of `rwlock` (parking_lot's), the same 8 producers reached 0.56, above `rwlock`")
                && !text.contains("not only which kind"),
            "{text}"
        );
    }

    #[test]
    fn a_goal_that_missed_never_prints_its_target() {
        assert_eq!(
            (cut(0.8496, 2), cut(0.29, 2), cut(1.497, 2), cut(0.8496, 3)),
            ("0.84".into(), "0.29".into(), "1.49".into(), "0.849".into())
        );
        assert_eq!(
            (human_cut(7.99e6), human_cut(8e6), human_cut(68_999.0), human_cut(1_299.0)),
            ("7.9 M".into(), "8.0 M".into(), "68 k".into(), "1.2 k".into())
        );
        let mut g = goal(7.99e6, vec![], vec![]);
        (g.ceiling_msgs_per_s, g.ratio_to_ceiling, g.peer_factor) = (9.404e6, Some(0.8496), 0.0);
        g.target = "≥ 8 M msg/s and ≥ 0.85 × raw batched pwrite".into();
        let text = summary(&comparison(vec![], vec![g]), &[]);
        let row = text.lines().find(|l| l.contains("≥ 8 M msg/s")).expect("the goal row");
        assert!(
            row.contains("| 7.9 M | 9.4 M (loopback echo) | 0.849 |") && row.contains("| **no** |"),
            "{row}"
        );
        assert!(!row.contains("8.0 M") && !row.contains("0.85 |"), "{row}");
    }

    #[test]
    fn a_timing_cost_below_one_never_prints_as_one() {
        let cost = LockStatsCost { with_msgs_per_s: vec![99_600.0], without_msgs_per_s: vec![100_000.0] };
        let g = Goal { lock_stats_cost: Some(cost), ..goal(16_000.0, vec![], vec![]) };
        let text = lock_stats_cost(&comparison(vec![], vec![g])).expect("a measured cost");
        assert!(
            text.contains("| 0.996 |")
                && text.contains("lowest ratio in this run is 0.996: the timing cost at most 1 %"),
            "{text}"
        );
        assert!(!text.contains("1.00"), "{text}");
    }

    #[test]
    fn cells_differing_only_in_consumers_read_apart_and_readers_sharing_needs_readers() {
        use crate::report::rows::RunReport;
        use crate::violations::{Example, ViolationKind};
        let torn = |consumers: u32| {
            let mut r = RunReport { strategy: "none".into(), producers: 2, consumers, ..RunReport::sample() };
            r.violations.add(ViolationKind::Duplicated, Example::detail("x"));
            r
        };
        let mut c = Comparison::sample(vec![torn(0), torn(1)]);
        let text = summary(&c, &[]);
        assert!(text.contains("- none × 2 producers × 0 consumers: duplicated 1"), "{text}");
        assert!(text.contains("- none × 2 producers × 1 consumer: duplicated 1"), "{text}");
        assert!(!text.contains("letting readers share"), "neither mutex nor rwlock ran: {text}");
        assert!(text.contains("Each produce throughput sits beside the ceilings"), "{text}");
        let ran = |strategy: &str, consumers: u32| RunReport {
            strategy: strategy.into(),
            consumers,
            ..RunReport::sample()
        };
        c = Comparison::sample(vec![ran("mutex", 0), ran("rwlock", 0)]);
        assert!(!summary(&c, &[]).contains("letting readers share"), "no consumers, no readers");
        c = Comparison::sample(vec![ran("mutex", 1), ran("rwlock", 2)]);
        assert!(summary(&c, &[]).contains("letting readers share"));
    }

    #[test]
    fn the_format_cost_splits_the_distance_from_raw_writes() {
        let row = |ceiling_kind: &str, measured: f64, ceiling: f64| {
            let mut g = goal(measured, vec![], vec![]);
            g.name = format!("reserve against {ceiling_kind}");
            g.workload = "harness --append reserve".into();
            g.ceiling_kind = ceiling_kind.into();
            g.ceiling_msgs_per_s = ceiling;
            g.ratio_to_ceiling = Some(measured / ceiling);
            g
        };
        let raw = || row("raw pwrite", 7e6, 10e6);
        let c = comparison(vec![], vec![raw(), row("framed pwrite", 7.2e6, 8e6)]);
        let text = format_cost_paragraph(&c).expect("a pair");
        assert!(
            text.contains("- reserve against raw pwrite: the framed writes reached 0.80 of the raw pwrite and the append 0.90 of the framed writes, so 0.72 of raw writes. Of the distance (0.28 of their rate), the format's own work accounts for 0.20, and the log's locking, index and publication with the harness's bookkeeping for the remaining 0.08."),
            "{text}"
        );
        let level = comparison(vec![], vec![raw(), row("framed pwrite", 7e6, 6.5e6)]);
        let text = format_cost_paragraph(&level).expect("a pair");
        assert!(text.contains("the append 1.08 of the framed writes, so as far as this run can tell the append's whole distance from raw writes (0.35 of their rate) was the format's own work."), "{text}");
        let free = comparison(vec![], vec![raw(), row("framed pwrite", 7e6, 10.5e6)]);
        assert!(format_cost_paragraph(&free).expect("a pair").contains("the format cost nothing measurable"));
        let mut other = row("framed pwrite", 7.2e6, 8e6);
        other.workload = "harness --append whole".into();
        assert_eq!(
            format_cost_paragraph(&comparison(vec![], vec![raw(), other])),
            None,
            "no row of the same workload"
        );
        // Eight producers' workload pairs with raw writes from eight threads, not from one.
        let mut one_thread = row("one thread's raw pwrite", 7e6, 20e6);
        one_thread.producers = 8;
        let c = comparison(vec![], vec![one_thread.clone(), raw(), row("framed pwrite", 7.2e6, 8e6)]);
        assert!(format_cost_paragraph(&c).expect("a pair").contains("0.80 of the raw pwrite"));
        assert_eq!(
            format_cost_paragraph(&comparison(vec![], vec![one_thread, row("framed pwrite", 7.2e6, 8e6)])),
            None
        );
    }

    #[test]
    fn the_sync_bound_is_the_producers_times_the_raw_sync_rate() {
        let mut always = goal(16_000.0, vec![], vec![]);
        always.fsyncs_per_s = Some(4_000.0);
        always.msgs_per_fsync = Some(4.0);
        always.fsync_mean_us = Some(150.0);
        always.gather_mean_us = Some(40.0);
        let c = Comparison {
            cells: vec![],
            goals: vec![always],
            section_costs: vec![],
            fdatasync_ceiling_per_s: Some(5_000.0),
            rate_points: Vec::new(),
            p99_bound_us: 10_000,
            machine: crate::report::rows::Machine { cpus: 2, kernel: "k".into(), data_dir_fs: "ext4".into() },
            duration_s: 1.0,
        };
        let text = sync_paragraph(&c).expect("an always row");
        assert!(text.contains("5 k syncs/s (200 µs each)"), "{text}");
        assert!(text.contains("4 k syncs/s (0.80 of the raw rate), 4.0 messages per sync"), "{text}");
        assert!(
            text.contains("the bound is about 40 k msg/s and synclog reached 16 k (0.40 of it)"),
            "{text}"
        );
        // 4 000 syncs/s: a 250 µs cycle, 150 in the sync, 40 gathering, 60 left.
        assert!(
            text.contains(
                "of each sync's cycle (250 µs), 150 µs inside `fdatasync` (the raw sync: 200 µs), 40 µs \
gathering and 60 µs from a sync's end to the next leader's arrival: the device was busy 60 % of the time"
            ),
            "{text}"
        );
        let mut above = c.clone();
        above.goals[0].measured_msgs_per_s = 48_000.0;
        let text = sync_paragraph(&above).expect("an always row");
        assert!(text.contains("(1.20 of it: above it, so the bound did not hold in this run)"), "{text}");
        // Past the bound by less than the printed ratio shows: 1.00, no "above".
        above.goals[0].measured_msgs_per_s = 40_300.0;
        let text = sync_paragraph(&above).expect("an always row");
        assert!(
            text.contains("the bound is about 40 k msg/s and synclog reached 40 k (1.00 of it)"),
            "{text}"
        );
        // Past it by 2 %, where both figures read 40 k: printed whole, and said to be above.
        above.goals[0].measured_msgs_per_s = 40_990.0;
        let text = sync_paragraph(&above).expect("an always row");
        assert!(
            text.contains("the bound is about 40 000 msg/s and synclog reached 40 990 (1.02 of it: above it"),
            "{text}"
        );
        // A bound the table rounds up (39 600 is "40 k" there) reads the same here.
        let mut rounded = c.clone();
        rounded.goals[0].ceiling_msgs_per_s = 39_600.0;
        rounded.goals[0].ceiling_kind = "group-commit bound".into();
        let text = sync_paragraph(&rounded).expect("an always row");
        assert!(text.contains("the bound is about 40 k msg/s"), "{text}");
        let without = Comparison { fdatasync_ceiling_per_s: None, ..c };
        assert_eq!(sync_paragraph(&without), None, "no raw sync rate, no bound");
    }
}
