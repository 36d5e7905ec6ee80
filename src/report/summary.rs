//! `results.json`, `results.csv` and `summary.md` of a comparison, from the result rows alone.

use crate::report::charts::human;
use crate::report::rows::{Comparison, Goal, TransportKind};
use crate::violations::ViolationKind;
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

/// One row per cell; the violation kinds are columns.
pub fn csv(c: &Comparison) -> String {
    let mut out = String::from(
        "strategy,producers,consumers,messages,message_bytes,batch,in_flight,topics,transport,fsync,race_window_us,duration_s,\
produce_msgs_per_s,produce_mb_per_s,produce_p50_us,produce_p99_us,produce_p999_us,produce_max_us,\
consume_msgs_per_s,consume_p50_us,consume_p99_us,consume_p999_us,consume_max_us,\
pwrite_ceiling_msgs_per_s,loopback_ceiling_msgs_per_s,produce_ratio_to_ceiling,verdict",
    );
    for k in ViolationKind::ALL {
        let _ = write!(out, ",{}", k.name());
    }
    let _ = write!(out, ",{}", super::locks::CSV_HEADER);
    out.push('\n');
    for cell in &c.cells {
        let r = &cell.report;
        let p = &r.produce;
        let consume = r.consume.clone().unwrap_or_default();
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{:.3},{:.0},{:.2},{},{},{},{},{:.0},{},{},{},{},{:.0},{:.0},{:.3},{}",
            r.strategy,
            r.producers,
            r.consumers,
            r.messages,
            r.message_bytes,
            r.batch,
            r.in_flight,
            r.topics,
            if r.transport == TransportKind::Tcp { "tcp" } else { "inproc" },
            r.fsync.name(),
            r.race_window_us,
            r.duration_s,
            p.msgs_per_s,
            p.mb_per_s,
            p.p50_us,
            p.p99_us,
            p.p999_us,
            p.max_us,
            consume.msgs_per_s,
            consume.p50_us,
            consume.p99_us,
            consume.p999_us,
            consume.max_us,
            cell.ceilings.pwrite_msgs_per_s,
            cell.ceilings.loopback_msgs_per_s,
            cell.produce_ratio,
            r.verdict
        );
        for &k in ViolationKind::ALL {
            match r.violations.get(k) {
                Some(n) => {
                    let _ = write!(out, ",{n}");
                }
                None => out.push(','),
            }
        }
        out.push_str(&super::locks::csv_cells(r.lock.as_ref(), r.fairness.as_ref()));
        out.push('\n');
    }
    out
}

/// A goal row's verdict; a "yes" that could not be judged against every peer it names says so.
fn met_cell(g: &Goal) -> &'static str {
    match g.met {
        // A goal that is a multiple of a peer, with no peer run: nothing to judge it against.
        Some(true) if g.peers.is_empty() && g.peer_factor > 0.0 => "not measured",
        Some(true) if !g.peers_judged => "yes, but not against every peer named (not measured)",
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "—",
    }
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
            format!("{} {} ({:.2}×)", p.server, human(p.msgs_per_s), g.measured_msgs_per_s / p.msgs_per_s)
        })
        .collect::<Vec<_>>()
        .join("; ")
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
a 116-byte record into zero-filled space and calling `fdatasync` after each, back to back: {} \
syncs/s ({:.0} µs each). Group commit shares each sync among the appends that landed before it \
started; with producers sending one request at a time, a message that lands during a sync waits \
for that one and then its own, so the producers split into two groups that alternate and the \
acknowledgements are bounded near producers / 2 × syncs per second.\n",
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
            let bound = f64::from(g.producers) / 2.0 * raw;
            let _ = write!(
                s,
                "; the bound is about {} msg/s and synclog reached {} ({:.2} of it)",
                human(bound),
                human(g.measured_msgs_per_s),
                g.measured_msgs_per_s / bound.max(1.0)
            );
        }
        s.push(';');
    }
    s.pop();
    s.push('.');
    Some(s)
}

/// Says how the peers were measured, or, when they were not, quotes them and says how to.
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
same workload as the row (8 producer threads, one connection each, one 100-byte message per \
request, the same number in flight), each on a fresh server with its data on the same file \
system, driven by the same kind of client threads as synclog's producers; every acknowledged \
message was read back from the peer's stream afterwards:\n\n",
        );
        for (server, setting, durability) in &seen {
            let _ = writeln!(s, "- {server}: {setting} — durability: {durability}");
        }
    } else {
        s.push_str(
            "The peers were not measured in this run (`harness compare --goals --peers` measures \
them when redis-server and nats-server are installed). As measured on this kind of machine \
(2 cores, loopback, 100-byte messages, 8 clients) and quoted: Redis XADD ~89 k/s one at a time, \
~1.0 M/s with 100 pipelined, ~17 k/s and ~0.4 M/s with `appendfsync always`; NATS JetStream \
publish+ack ~57 k/s one at a time, ~0.2 M/s with 100 in flight.\n",
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
below sits beside a ceiling measured on this machine in this same run, so it reads as a fraction \
of what the hardware allowed.\n",
        c.machine.cpus,
        c.machine.kernel,
        c.cells.first().map_or("unknown", |cell| cell.report.machine.data_dir_fs.as_str()),
        c.duration_s
    );

    if !c.goals.is_empty() {
        goals_section(&mut s, c);
    }
    ceilings_section(&mut s, c);
    matrix_section(&mut s, c);
    costs_section(&mut s, c);
    integrity_section(&mut s, c);
    s.push_str(&super::locks::summary_section(c.cells.iter().map(|cell| &cell.report)));
    s.push_str(&super::rates::section(c));
    let _ = writeln!(s, "\n## Charts\n");
    for name in charts {
        let _ = writeln!(s, "![{name}]({name}.png)\n");
    }
    let _ = writeln!(s, "How to read them: see `reports/README.md`.");
    s
}

/// The performance goals, the peers and each goal's command.
fn goals_section(s: &mut String, c: &Comparison) {
    let _ = writeln!(s, "## Performance goals (rwlock, 100-byte messages, no consumers)\n");
    let _ = writeln!(
        s,
        "A ratio is given where the ceiling bounds the workload: pipelined rows have none (the \
echo ceiling waits for each answer before the next request).\n"
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
            human(g.measured_msgs_per_s),
            if g.ratio_to_ceiling.is_some() { human(g.ceiling_msgs_per_s) } else { "—".into() },
            g.ratio_to_ceiling.map_or("—".into(), |r| format!("{r:.2}")),
            g.target,
            met_cell(g),
            peer_cell(g),
            g.durability
        );
    }
    if let Some(original) = c.goals.iter().find(|g| g.target.contains("original")) {
        let _ = writeln!(
            s,
            "\nThe original Java system reached about 5 000 messages/s with 1–8 producers, one \
acknowledged message per request. On that workload (4 producers) synclog reached {} messages/s: \
{:.0}× the original.",
            human(original.measured_msgs_per_s),
            original.measured_msgs_per_s / 5_000.0
        );
    }
    let _ = writeln!(s, "\n{}", peers_paragraph(c));
    if let Some(bound) = sync_paragraph(c) {
        let _ = writeln!(s, "\n{bound}");
    }
    let _ = writeln!(s, "\nEach goal's workload, to run it alone:\n");
    for g in &c.goals {
        let _ = writeln!(s, "- {}: `{}`", g.name, g.workload);
    }
    let _ = writeln!(s);
}

/// The ceilings of every shape the matrix ran.
fn ceilings_section(s: &mut String, c: &Comparison) {
    let _ = writeln!(s, "## Ceilings measured in this run\n");
    let _ = writeln!(s, "| threads | message bytes | batch | raw pwrite msg/s | loopback echo msg/s |");
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|");
    let mut seen = Vec::new();
    for cell in &c.cells {
        let k = (cell.ceilings.threads, cell.ceilings.message_bytes, cell.ceilings.batch);
        if !seen.contains(&k) {
            seen.push(k);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                k.0,
                k.1,
                k.2,
                human(cell.ceilings.pwrite_msgs_per_s),
                human(cell.ceilings.loopback_msgs_per_s)
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
            "| {} | {} | {} | {} | {:.2} | {} | {} µs | {} µs | {} µs | {} | {} |",
            r.strategy,
            r.producers,
            r.consumers,
            human(r.produce.msgs_per_s),
            cell.produce_ratio,
            r.consume.as_ref().map_or("—".to_string(), |f| human(f.msgs_per_s)),
            r.produce.p50_us,
            r.produce.p99_us,
            r.produce.p999_us,
            r.violations.error_total(),
            r.verdict
        );
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
    let _ = writeln!(
        s,
        "\n`semaphore` (std-semaphore) signals a condition variable on every release, a system call \
even when nobody waits; `mutex` is exclusive too but costs a compare-exchange. Comparing the two \
separates \"exclusive\" from \"expensive\"; comparing `mutex` with `rwlock` shows what letting \
readers share is worth. With {} CPUs at most {} readers run at once, so the reader-writer \
advantage here is small and grows with the cores.",
        c.machine.cpus, c.machine.cpus
    );
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
            format!("- {} × {} producers: {}", cell.report.strategy, cell.report.producers, kinds.join(", "))
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
    use crate::report::rows::{PeerFigure, PeerKind};

    fn goal(measured: f64, peers: Vec<PeerFigure>, missing: Vec<String>) -> Goal {
        Goal {
            name: "loopback TCP, one at a time, fsync always, 8 producers".into(),
            workload: String::new(),
            producers: 8,
            batch: 1,
            in_flight: 1,
            measured_msgs_per_s: measured,
            ceiling_msgs_per_s: 100_000.0,
            ratio_to_ceiling: Some(measured / 100_000.0),
            target: String::new(),
            met: Some(false),
            durability: String::new(),
            fsyncs_per_s: None,
            msgs_per_fsync: None,
            peers,
            peers_missing: missing,
            peer_factor: 2.0,
            peers_judged: true,
            violations: 0,
        }
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
    fn a_yes_not_judged_against_every_named_peer_says_so() {
        let mut g = goal(90_000.0, vec![redis(20_000.0)], vec!["nats-server: exited".into()]);
        g.met = Some(true);
        assert_eq!(met_cell(&g), "yes");
        g.peers_judged = false;
        assert!(met_cell(&g).starts_with("yes, but not against every peer"), "{}", met_cell(&g));
        g.met = Some(false);
        assert_eq!(met_cell(&g), "**no**");
    }

    #[test]
    fn a_peer_goal_with_no_peer_measured_says_not_measured_never_yes() {
        let mut g = goal(90_000.0, vec![], vec![]);
        g.met = Some(true);
        g.peers_judged = false;
        assert_eq!(met_cell(&g), "not measured");
        let text = summary(
            &Comparison {
                cells: vec![],
                goals: vec![g],
                section_costs: vec![],
                fdatasync_ceiling_per_s: None,
                rate_points: Vec::new(),
                p99_bound_us: 10_000,
                machine: crate::report::rows::Machine {
                    cpus: 2,
                    kernel: "k".into(),
                    data_dir_fs: "ext4".into(),
                },
                duration_s: 1.0,
            },
            &[],
        );
        assert!(!text.contains("| yes |"), "{text}");
        assert!(text.contains("| not measured |"), "{text}");
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
    fn the_sync_bound_is_half_the_producers_times_the_raw_sync_rate() {
        let mut always = goal(16_000.0, vec![], vec![]);
        always.fsyncs_per_s = Some(4_000.0);
        always.msgs_per_fsync = Some(4.0);
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
            text.contains("the bound is about 20 k msg/s and synclog reached 16 k (0.80 of it)"),
            "{text}"
        );
        let without = Comparison { fdatasync_ceiling_per_s: None, ..c };
        assert_eq!(sync_paragraph(&without), None, "no raw sync rate, no bound");
    }
}
