//! Lock statistics on a page (`--lock-stats`): from a run's rows to the page model, and the
//! model to HTML.
//!
//! What a run measured ([`crate::report::locks::LockRow`]) becomes a [`LockView`]: one table
//! row per section entered (acquisitions, contended share, wait p50/p99/p99.9/max, hold
//! p50/p99), one stacked bar per side for "where the time goes" (waiting for the lock, holding
//! it, outside it), and a note saying what window the figures cover and what counts as
//! contended. Fairness (per-actor throughput, Jain's index) is measured with or without lock
//! statistics and drawn as its own small table. A comparison gets one lock table row per timed
//! cell and one chart of every strategy's time; the demo gets Act 2's readers' wait share per
//! strategy in large type.

use super::charts::{self, Style};
use super::render::{duration, esc};
use super::{Callout, Callouts, FairnessRow, LockRow, LockView, TableView, TimeBar, TimeChart};
use crate::report::locks::{Fairness, LockRow as Measured, TimeShare};
use crate::report::rows::{Comparison, RunReport};
use crate::strategies::timed::SectionStats;
use std::fmt::Write as _;

fn row(section: &str, s: &SectionStats) -> LockRow {
    LockRow {
        section: section.to_string(),
        acquisitions: s.acquisitions,
        contended_share: s.contended_share,
        wait_p50_ns: s.wait_ns.p50 as f64,
        wait_p99_ns: s.wait_ns.p99 as f64,
        wait_p999_ns: s.wait_ns.p999 as f64,
        wait_max_ns: s.wait_ns.max as f64,
        hold_p50_ns: s.hold_ns.p50 as f64,
        hold_p99_ns: s.hold_ns.p99 as f64,
    }
}

fn bar(name: String, t: &TimeShare) -> TimeBar {
    TimeBar { name, wait: t.wait, hold: t.hold, outside: t.outside }
}

/// The producers' and (with consumers) the consumers' time of one run, each bar named
/// `prefix` + side + count.
fn time_bars(r: &RunReport, l: &Measured, prefix: &str) -> Vec<TimeBar> {
    let mut bars = vec![bar(format!("{prefix}producers ({})", r.producers), &l.producers)];
    if let Some(c) = &l.consumers {
        bars.push(bar(format!("{prefix}consumers ({})", r.consumers), c));
    }
    bars
}

/// The lock view of a run that measured its locks; `None` without `--lock-stats`.
pub fn lock_view(r: &RunReport) -> Option<LockView> {
    let l = r.lock.as_ref()?;
    if !takes_lock(r) {
        // As in the per-strategy tables, where none's lock columns read "—".
        return Some(LockView {
            note: format!(
                "Strategy {} takes no lock: there are no acquisitions, waits or holds to show.",
                r.strategy
            ),
            rows: Vec::new(),
            time: Vec::new(),
        });
    }
    let mut rows: Vec<LockRow> = [("write", &l.stats.write), ("read", &l.stats.read)]
        .into_iter()
        .filter(|(_, s)| s.acquisitions > 0)
        .map(|(name, s)| row(name, s))
        .collect();
    if rows.is_empty() {
        rows.push(row("write", &l.stats.write));
    }
    let note = format!(
        "Strategy {}, timed over {:.2} s from the first producer leaving its warm-up to the end of the load. \
         Contended: the acquire waited over {} ({}; a clock read costs {:.0} ns). Time shares: {}.",
        l.stats.strategy,
        l.window_s,
        duration(l.stats.contended_above_ns as f64),
        crate::report::locks::threshold_basis(&l.stats),
        l.stats.clock_ns,
        l.share_basis
    );
    Some(LockView { note, rows, time: time_bars(r, l, "") })
}

/// The fairness rows of a run (empty when it was not measured).
pub fn fairness_rows(f: Option<&Fairness>) -> Vec<FairnessRow> {
    let Some(f) = f else { return Vec::new() };
    let side = |side: &str, unit: &str, s: &crate::report::locks::Spread| FairnessRow {
        side: side.to_string(),
        unit: unit.to_string(),
        actors: s.per_actor.len(),
        min: s.min,
        max: s.max,
        jain: s.jain,
    };
    let mut rows = vec![side("producers", "msg/s", &f.producers)];
    if let Some(c) = &f.consumers {
        rows.push(side("consumers", "records/s", c));
    }
    rows
}

/// One row per cell of a comparison that ran with `--lock-stats`; `None` when none did.
pub fn compare_table(c: &Comparison) -> Option<TableView> {
    // Nine columns, the wait quantiles of a section in one cell, so the table fits a page's
    // width without a scrollbar.
    let header = [
        "strategy",
        "producers",
        "consumers",
        "write contended",
        "write wait p99 / p99.9 / max",
        "read contended",
        "read wait p99",
        "waiting / holding: producers, consumers",
        "Jain (producers)",
    ];
    let share = |t: Option<TimeShare>| {
        t.map_or("–".to_string(), |t| format!("{:.1}% / {:.1}%", t.wait * 100.0, t.hold * 100.0))
    };
    let rows: Vec<Vec<String>> = c
        .cells
        .iter()
        .filter_map(|cell| cell.report.lock.as_ref().map(|l| (&cell.report, l)))
        .map(|(r, l)| {
            let (w, rd) = (&l.stats.write, &l.stats.read);
            // `none` takes no lock: no lock figure at all, as in the demo's table, not "0.0%".
            let lock = |f: String| if takes_lock(r) { f } else { NO_LOCK.to_string() };
            // No read section entered (no consumer): no figure, not "0 ns".
            let read = |f: String| lock(if rd.acquisitions == 0 { "–".to_string() } else { f });
            vec![
                r.strategy.clone(),
                r.producers.to_string(),
                r.consumers.to_string(),
                write_contended(r),
                lock(format!(
                    "{} / {} / {}",
                    duration(w.wait_ns.p99 as f64),
                    duration(w.wait_ns.p999 as f64),
                    duration(w.wait_ns.max as f64)
                )),
                read(format!("{:.1}%", rd.contended_share * 100.0)),
                read(duration(rd.wait_ns.p99 as f64)),
                lock(format!("{}; {}", share(Some(l.producers)), share(l.consumers))),
                r.fairness
                    .as_ref()
                    .map_or("–".to_string(), |f| crate::report::locks::jain_cell(&f.producers)),
            ]
        })
        .collect();
    (!rows.is_empty()).then(|| TableView {
        title: "Lock statistics, per strategy and cell (--lock-stats)".to_string(),
        header: header.iter().map(|h| h.to_string()).collect(),
        rows,
    })
}

/// Where the time goes under each strategy of a comparison: its timed cell with the most
/// producers (then consumers). `None` when no cell was timed.
pub fn compare_time(c: &Comparison) -> Option<TimeChart> {
    let mut chosen: Vec<&RunReport> = Vec::new();
    // `none` takes no lock: the time inside its sections is no lock's (its table row says "—").
    for cell in c.cells.iter().filter(|cell| cell.report.lock.is_some() && takes_lock(&cell.report)) {
        let r = &cell.report;
        match chosen.iter_mut().find(|o| o.strategy == r.strategy) {
            Some(slot) if (r.producers, r.consumers) > (slot.producers, slot.consumers) => *slot = r,
            Some(_) => {}
            None => chosen.push(r),
        }
    }
    let bars: Vec<TimeBar> = chosen
        .iter()
        .filter_map(|r| r.lock.as_ref().map(|l| time_bars(r, l, &format!("{} ", r.strategy))))
        .flatten()
        .collect();
    (!bars.is_empty()).then(|| TimeChart {
        title: "Where the time goes, per strategy (the cell with the most producers)".to_string(),
        bars,
    })
}

/// Act 2 of the demo: each strategy's share of the readers' time spent waiting for the lock,
/// in large type, and the readers' and the writer's time as stacked bars. `None` without lock
/// statistics.
pub fn act_two(cost: &[RunReport]) -> Option<(Callouts, TimeChart)> {
    let timed: Vec<(&RunReport, &Measured)> =
        cost.iter().filter_map(|r| r.lock.as_ref().map(|l| (r, l))).collect();
    let items: Vec<Callout> = timed
        .iter()
        .filter_map(|(r, l)| {
            l.consumers.map(|c| Callout {
                label: r.strategy.clone(),
                value: format!("{:.0} %", c.wait * 100.0),
                detail: format!("holding it {:.0} %", c.hold * 100.0),
            })
        })
        .collect();
    if items.is_empty() {
        return None;
    }
    let readers = timed.first().map_or(0, |(r, _)| r.consumers);
    let callouts = Callouts {
        title: format!("Act 2: the share of the {readers} readers' time spent waiting for the lock"),
        items,
        note: "Measured in this run: each read section's wait, summed over the readers, out of readers × the load's \
               duration."
            .to_string(),
    };
    let bars = timed
        .iter()
        .flat_map(|(r, l)| {
            let mut bars = Vec::new();
            if let Some(c) = &l.consumers {
                bars.push(bar(format!("{} readers ({})", r.strategy, r.consumers), c));
            }
            bars.push(bar(
                format!("{} writer{} ({})", r.strategy, plural(r.producers), r.producers),
                &l.producers,
            ));
            bars
        })
        .collect();
    let chart = TimeChart { title: "Act 2: where the readers' and the writer's time goes".to_string(), bars };
    Some((callouts, chart))
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What a table shows for a lock figure a run has not got.
const NO_LOCK: &str = "—";

/// Whether `r`'s strategy takes a lock: `none` takes none, so it has no lock figures to show.
fn takes_lock(r: &RunReport) -> bool {
    crate::report::locks::takes_lock(&r.strategy)
}

/// The share of each strategy's appends that found the write section taken, for Act 1's table
/// and the comparison's lock table ("—" for `none`, which has no lock to find taken, and for a
/// run without lock statistics).
pub fn write_contended(r: &RunReport) -> String {
    match &r.lock {
        Some(l) if takes_lock(r) => format!("{:.1}%", l.stats.write.contended_share * 100.0),
        _ => NO_LOCK.to_string(),
    }
}

/// A run's lock section: the note, the table, and where the time goes.
pub fn render_view(h: &mut String, v: &LockView, style: Style) -> Result<(), String> {
    if v.rows.is_empty() {
        let _ = write!(
            h,
            "<section class=\"locks\"><h3>Lock statistics</h3><p class=\"note\">{}</p></section>",
            esc(&v.note)
        );
        return Ok(());
    }
    let _ = write!(
        h,
        "<section class=\"locks\"><h3>Lock statistics</h3><p class=\"note\">{}</p><div class=\"scroll\"><table \
         class=\"lock-table\"><tr><th>section</th><th>acquisitions</th><th>contended</th><th>wait p50</th><th>wait \
         p99</th><th>wait p99.9</th><th>wait max</th><th>hold p50</th><th>hold p99</th></tr>",
        esc(&v.note)
    );
    for r in &v.rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}%</td>",
            esc(&r.section),
            charts::human(r.acquisitions as f64),
            r.contended_share * 100.0
        );
        for ns in [r.wait_p50_ns, r.wait_p99_ns, r.wait_p999_ns, r.wait_max_ns, r.hold_p50_ns, r.hold_p99_ns]
        {
            let _ = write!(h, "<td class=\"num\">{}</td>", duration(ns));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></div>");
    if !v.time.is_empty() {
        time_figure(h, "lock-time", "Where the time goes", &v.time, style)?;
    }
    h.push_str("</section>");
    Ok(())
}

/// A "where the time goes" figure: the stacked bars and their legend.
pub fn time_figure(
    h: &mut String,
    name: &str,
    title: &str,
    bars: &[TimeBar],
    style: Style,
) -> Result<(), String> {
    let _ = write!(
        h,
        "<figure class=\"chart time\" data-chart=\"{name}\">{}<figcaption class=\"parts\">",
        charts::lock_time(title, bars, style)?
    );
    for (part, colour) in charts::TIME_PARTS {
        let _ = write!(h, "<span><i style=\"background:{colour}\"></i>{part}</span>");
    }
    // The shares in figures too: the bars' thin parts carry no label.
    h.push_str("</figcaption><ul class=\"shares\">");
    for b in bars {
        let _ = write!(
            h,
            "<li>{}: {:.1}% waiting, {:.1}% holding, {:.1}% outside</li>",
            esc(&b.name),
            b.wait * 100.0,
            b.hold * 100.0,
            b.outside * 100.0
        );
    }
    h.push_str("</ul></figure>");
    Ok(())
}

/// How evenly a run served its producers and consumers.
pub fn render_fairness(h: &mut String, rows: &[FairnessRow]) {
    if rows.is_empty() {
        return;
    }
    h.push_str(
        "<section class=\"fairness\"><h3>Fairness</h3><div class=\"scroll\"><table><tr><th>side</th><th>each, \
         slowest</th><th>each, fastest</th><th>Jain's index</th></tr>",
    );
    for r in rows {
        let window = if r.side == "producers" {
            crate::report::locks::PRODUCER_WINDOW
        } else {
            crate::report::locks::CONSUMER_WINDOW
        };
        // One actor has nothing to share out with: its rate, and no index.
        let jain = if r.actors == 1 {
            "— <small>(one alone)</small>".to_string()
        } else {
            format!("{:.3} <small>(1 = all equal, 1/{} = one got all)</small>", r.jain, r.actors)
        };
        let _ = write!(
            h,
            "<tr><td>{} ({}), {}{window}</td><td class=\"num\">{} {}</td><td class=\"num\">{} {}</td><td class=\"num\">{jain}</td></tr>",
            esc(&r.side),
            r.actors,
            if r.actors == 1 { "" } else { "each " },
            charts::human(r.min),
            esc(&r.unit),
            charts::human(r.max),
            esc(&r.unit),
        );
    }
    h.push_str("</table></div></section>");
}

/// Figures in large type.
pub fn render_callouts(h: &mut String, c: &Callouts) {
    let _ = write!(h, "<section id=\"callouts\"><h2>{}</h2><div class=\"items\">", esc(&c.title));
    for item in &c.items {
        let _ = write!(
            h,
            "<div class=\"callout\"><span class=\"label\">{}</span><span class=\"value\">{}</span><span \
             class=\"detail\">{}</span></div>",
            esc(&item.label),
            esc(&item.value),
            esc(&item.detail)
        );
    }
    let _ = writeln!(h, "</div><p class=\"note\">{}</p></section>", esc(&c.note));
}
