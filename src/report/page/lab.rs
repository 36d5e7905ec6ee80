//! The page of `harness lab --report DIR`: the sweep's configuration and machine, what the data
//! says (the sentences of `summary.md`, each chosen from the numbers, and the lab set beside
//! `cargo bench`, whose figures are labelled as quoted from criterion's files), the lab's charts inline as
//! SVG (drawn in memory, never embedded from a file), and the sweep as a table: one row per mix
//! (threads, read length, read share), one column per strategy with its median ops/s and the
//! spread of its repeats, and the mix's winner among the locking strategies.
//!
//! The lab measures no ceiling (it runs straight on the log, with nothing to bound it by), so
//! the table gives each strategy's figures as measured and compares them within each mix.

use super::{Figure, Page, TableView};
use crate::report::charts::human;
use crate::report::lab_summary::{
    bench_lines, cores, mixes, quotes_bench, reading, win_label, win_marks, winners,
};
use crate::report::rows::{Lab, LabCell};

/// Every distinct value of `values`, in first-seen order, joined by commas.
fn list<T: PartialEq + ToString>(values: impl Iterator<Item = T>) -> String {
    let mut seen: Vec<T> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn configuration(lab: &Lab) -> Vec<(String, String)> {
    let cells = &lab.cells;
    let bytes = cells.first().map_or(String::new(), |c| {
        if c.message_bytes_min == c.message_bytes_max {
            format!("{} B", c.message_bytes_min)
        } else {
            format!("{}..{} B", c.message_bytes_min, c.message_bytes_max)
        }
    });
    let rows = [
        ("strategies", list(cells.iter().map(|c| c.strategy.clone()))),
        ("threads", list(cells.iter().map(|c| c.threads))),
        ("read share, %", list(cells.iter().map(|c| c.read_share_percent))),
        ("records per read", list(cells.iter().map(|c| c.read_records))),
        ("message bytes", bytes),
        ("repeats per cell", list(cells.iter().map(|c| c.repeats))),
        (
            "each repeat",
            if lab.cell_ms > 0 {
                format!("{} ms", lab.cell_ms)
            } else {
                "a fixed number of operations".into()
            },
        ),
        ("pre-filled records", lab.prefill_records.to_string()),
        ("seed", lab.seed.to_string()),
        ("cells", cells.len().to_string()),
    ];
    rows.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A number with its unit kept on the same line ("245 k", non-breaking).
fn figure(v: f64) -> String {
    human(v).replace(' ', "\u{a0}")
}

/// A cell's figures: "1.2 M (1.1 M–1.3 M)", and its violations when it had any.
fn figures(c: &LabCell) -> String {
    let mut s =
        format!("{} ({}–{})", figure(c.ops_per_s_median), figure(c.ops_per_s_min), figure(c.ops_per_s_max));
    if c.violations > 0 {
        s.push_str(&format!(", {}", crate::report::count(c.violations, "violation")));
    }
    s
}

/// The sweep: one row per mix, one column per strategy, then the winner.
fn sweep(lab: &Lab) -> TableView {
    let strategies: Vec<String> = {
        let mut s: Vec<String> = Vec::new();
        for c in &lab.cells {
            if !s.contains(&c.strategy) {
                s.push(c.strategy.clone());
            }
        }
        s
    };
    let ws = winners(lab);
    let mut header: Vec<String> =
        ["threads", "records per read", "read share"].iter().map(|h| h.to_string()).collect();
    header.extend(strategies.iter().map(|s| format!("{s} ops/s")));
    let marks = win_marks(&ws);
    header.push(match marks.is_empty() {
        true => "winner, × over the next".to_string(),
        false => format!("winner, × over the next ({})", marks.join("; ")),
    });
    let rows = mixes(lab)
        .into_iter()
        .map(|(mix, cells)| {
            let mut row = vec![
                mix.threads.to_string(),
                mix.read_records.to_string(),
                format!("{} %", mix.read_share_percent),
            ];
            for s in &strategies {
                row.push(cells.iter().find(|c| &c.strategy == s).map_or("–".to_string(), |c| figures(c)));
            }
            row.push(ws.iter().find(|w| w.mix == mix).map_or("–".to_string(), win_label));
            row
        })
        .collect();
    let repeats = lab.cells.iter().map(|c| c.repeats).max().unwrap_or(0);
    TableView {
        title: format!(
            "The sweep: reads + appends per second, median of {repeats} repeat{} (slowest–fastest)",
            if repeats == 1 { "" } else { "s" }
        ),
        header,
        rows,
    }
}

/// The lab's page, its charts drawn in memory.
pub fn lab_page(lab: &Lab) -> Result<Page, String> {
    let figures = crate::report::lab_charts::svg_strings(lab)?
        .into_iter()
        .map(|(name, svg)| Figure { name, svg })
        .collect();
    let m = &lab.machine;
    Ok(Page {
        title: "synclog lab: reads against appends, straight on the log".to_string(),
        subtitle: format!(
            "{} on {}, no sockets: the lock is the cost that matters. {}; the lab measures no ceiling, so \
             strategies are compared within each mix.",
            crate::report::count(lab.cells.len() as u64, "cell"),
            cores(m.cpus),
            if quotes_bench(lab) {
                "Every figure was measured in this sweep except cargo bench's, which the findings \
                 that give it label as quoted from criterion's files"
            } else {
                "Every figure was measured in this sweep"
            }
        ),
        configuration: configuration(lab),
        machine: vec![
            ("cores".to_string(), m.cpus.to_string()),
            ("kernel".to_string(), m.kernel.clone()),
            ("data dir file system".to_string(), m.data_dir_fs.clone()),
        ],
        // The bench lines are Markdown: their code spans read as plain text here.
        findings: reading(lab)
            .into_iter()
            .chain(bench_lines(lab).iter().map(|l| l.replace('`', "")))
            .collect(),
        figures,
        tables: vec![sweep(lab)],
        ..Page::default()
    })
}

#[cfg(test)]
mod tests {
    use super::lab_page;
    use crate::report::rows::{BenchFigure, Lab, LabCell, Machine};

    #[test]
    fn a_quoted_bench_figure_is_labelled_and_the_subtitle_says_so() {
        let cell = LabCell {
            strategy: "mutex".into(),
            threads: 1,
            read_share_percent: 0,
            read_records: 1,
            message_bytes_min: 100,
            message_bytes_max: 100,
            repeats: 2,
            ops_per_s_min: 1.9e6,
            ops_per_s_median: 2e6,
            ops_per_s_max: 2.1e6,
            records_read_per_s_median: 0.0,
            reads: 0,
            appends: 10,
            measured_read_percent: 0.0,
            violations: 0,
        };
        let mut lab = Lab {
            machine: Machine { cpus: 2, kernel: "k".into(), data_dir_fs: "ext4".into() },
            cell_ms: 30,
            prefill_records: 100,
            seed: 1,
            cells: vec![cell],
            runs: Vec::new(),
            criterion_dir: "target/criterion".into(),
            bench_append: Vec::new(),
        };
        let page = lab_page(&lab).expect("a page");
        assert!(page.subtitle.contains("Every figure was measured in this sweep;"), "{}", page.subtitle);
        lab.bench_append.push(BenchFigure {
            strategy: "mutex".into(),
            bench_id: "append/single/mutex/1".into(),
            message_bytes: 100,
            msgs_per_s: 2e6,
            msgs_per_s_low: 1.9e6,
            msgs_per_s_high: 2.1e6,
            estimate: "slope".into(),
            file: String::new(),
            measured_at: "2026-01-01 00:00".into(),
        });
        let page = lab_page(&lab).expect("a page");
        assert!(page.subtitle.contains("except cargo bench's"), "{}", page.subtitle);
        let quoted =
            page.findings.iter().find(|f| f.contains("append/single/mutex/1")).expect("the bench line");
        assert!(quoted.contains("quoted from criterion's files, not measured by this sweep"), "{quoted}");
    }
}
