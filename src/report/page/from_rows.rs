//! Pages from result rows: a harness run's page and the demo's classroom page.
//!
//! The rows ([`RunReport`]) give what a run measured (configuration, figures, verdict); the
//! [`RunView`] filled by [`super::build`] from the run's history gives the charts, the timeline and
//! the violations drawn. Ceilings come from the caller, measured in the same run, or are left out.
//! Lock statistics and fairness come from the rows too ([`super::locks`]).

use super::{locks, Ceiling, CostChart, Headline, Page, RunView, Spotlight, TableView, Verdict};
use crate::report::rows::{Cell, Comparison, RunReport, TransportKind};

/// The run's settings, as the page lists them.
pub fn configuration(r: &RunReport) -> Vec<(String, String)> {
    let mut rows = vec![
        ("strategy", r.strategy.clone()),
        ("transport", format!("{:?}", r.transport).to_lowercase()),
        ("producers", r.producers.to_string()),
        ("consumers", r.consumers.to_string()),
        ("messages", r.messages.to_string()),
        ("message bytes", r.message_bytes.to_string()),
        ("batch", r.batch.to_string()),
        ("in flight", r.in_flight.to_string()),
        ("topics", r.topics.to_string()),
        ("fsync", format!("{:?}", r.fsync).to_lowercase()),
        ("seed", r.seed.to_string()),
        ("duration", format!("{:.2} s", r.duration_s)),
    ];
    if r.race_window_us > 0 {
        rows.push(("race window", format!("{} µs", r.race_window_us)));
    }
    rows.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The machine, as the page lists it.
pub fn machine(r: &RunReport) -> Vec<(String, String)> {
    vec![
        ("cores".to_string(), r.machine.cpus.to_string()),
        ("kernel".to_string(), r.machine.kernel.clone()),
        ("data dir file system".to_string(), r.machine.data_dir_fs.clone()),
        ("synclog".to_string(), r.version.clone()),
    ]
}

/// The verdict word and a sentence naming the kinds found.
pub fn verdict(r: &RunReport) -> Verdict {
    let errors: Vec<String> =
        r.violations.found().filter(|(k, _)| k.is_error()).map(|(k, n)| format!("{k} ({n})")).collect();
    let mut sentence = if errors.is_empty() {
        format!("every checked kind is clean over {} messages", r.messages)
    } else {
        format!(
            "{} kind{} of violation: {}",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            errors.join(", ")
        )
    };
    if let Some(u) = &r.unacknowledged {
        sentence.push_str(&format!(
            "; but the run is incomplete: {} of {} messages were not acknowledged (the first error: {}), and the rates count acknowledged messages only",
            u.messages, r.messages, u.first_error
        ));
    }
    Verdict { corrupted: !r.is_clean(), word: r.verdict.clone(), sentence }
}

/// Produce (and consume) throughput and latency; `ceiling` bounds produce throughput.
pub fn headlines(r: &RunReport, ceiling: Option<Ceiling>) -> Vec<Headline> {
    let h = |label: &str, value: f64, unit: &str, ceiling: Option<Ceiling>| Headline {
        label: label.to_string(),
        value,
        unit: unit.to_string(),
        ceiling,
    };
    let mut rows = vec![
        h("produce throughput", r.produce.msgs_per_s, "msg/s", ceiling),
        h("produce latency p50", r.produce.p50_us as f64, "µs", None),
        h("produce latency p99", r.produce.p99_us as f64, "µs", None),
    ];
    if let Some(c) = &r.consume {
        rows.push(h("consume throughput", c.msgs_per_s, "msg/s", None));
        rows.push(h("consume latency p99", c.p99_us as f64, "µs", None));
    }
    rows
}

/// `view` completed with the row's name, verdict, headlines, lock statistics and fairness.
pub fn complete(r: &RunReport, mut view: RunView, ceiling: Option<Ceiling>) -> RunView {
    view.name = r.strategy.clone();
    view.verdict = verdict(r);
    view.headlines = headlines(r, ceiling);
    view.locks = locks::lock_view(r);
    view.fairness = locks::fairness_rows(r.fairness.as_ref());
    view
}

/// The page of one harness run.
pub fn run_page(r: &RunReport, view: RunView, ceiling: Option<Ceiling>) -> Page {
    Page {
        title: format!("synclog run: {} — {}", r.strategy, r.verdict),
        subtitle: format!(
            "{} producers and {} consumers, {} messages of {} B over {}",
            r.producers,
            r.consumers,
            r.messages,
            r.message_bytes,
            format!("{:?}", r.transport).to_lowercase()
        ),
        configuration: configuration(r),
        machine: machine(r),
        runs: vec![complete(r, view, ceiling)],
        notes: r.notes.clone(),
        ..Page::default()
    }
}

/// The classroom page of `harness demo`: Act 1's `none` run beside the first lock's, the
/// violations of every act-1 strategy in a table (with how often appends found the lock taken,
/// when timed), and Act 2's read rates as bars; with lock statistics, Act 2's readers' wait
/// share per strategy in large type and where their time went.
pub fn demo_page(race: &[(RunReport, RunView)], cost: &[RunReport]) -> Page {
    let mut runs: Vec<RunView> =
        race.iter().take(2).map(|(r, v)| classroom_view(complete(r, v.clone(), None))).collect();
    for run in &mut runs {
        run.headlines.retain(|h| h.label == "produce throughput" || h.label == "produce latency p99");
    }
    for (i, run) in runs.iter_mut().enumerate() {
        run.name = format!("Act 1{}: {}", if i == 0 { " — no lock" } else { " — with a lock" }, run.name);
    }
    let kinds: Vec<_> = crate::violations::ViolationKind::ALL
        .iter()
        .copied()
        .filter(|k| k.is_error() && race.iter().any(|(r, _)| r.violations.count(*k) > 0))
        .collect();
    // One column per strategy, one row per kind (as the terminal prints it): four columns fit
    // a projector, where a column per kind would not.
    let mut header = vec![String::new()];
    header.extend(race.iter().map(|(r, _)| r.strategy.clone()));
    let mut rows: Vec<Vec<String>> = kinds
        .iter()
        .map(|k| {
            let mut row = vec![k.name().to_string()];
            row.extend(race.iter().map(|(r, _)| r.violations.count(*k).to_string()));
            row
        })
        .collect();
    if race.iter().any(|(r, _)| r.lock.is_some()) {
        let mut row = vec!["appends that found the lock taken".to_string()];
        row.extend(race.iter().map(|(r, _)| locks::write_contended(r)));
        rows.push(row);
    }
    let mut verdicts = vec!["verdict".to_string()];
    verdicts.extend(race.iter().map(|(r, _)| r.verdict.clone()));
    rows.push(verdicts);
    let (callouts, lock_time) = locks::act_two(cost).unzip();
    let first = race.first().map(|(r, _)| r);
    let spotlight = race.first().and_then(|(_, v)| collision(v));
    Page {
        title: "Why a log needs a lock".to_string(),
        spotlight,
        subtitle: first.map_or_else(String::new, |r| {
            format!(
                "Act 1: {} producers append {} messages to one topic at once. Act 2: one writer, four readers — what each lock costs.",
                r.producers, r.messages
            )
        }),
        classroom: true,
        configuration: first.map(demo_configuration).unwrap_or_default(),
        machine: first.map(|r| vec![("cores".to_string(), r.machine.cpus.to_string())]).unwrap_or_default(),
        runs,
        tables: vec![TableView { title: "Act 1: violations found, per strategy".to_string(), header, rows }],
        cost: (!cost.is_empty()).then(|| CostChart {
            title: "Act 2: records read per second by 4 consumers (higher is better)".to_string(),
            unit: "records/s".to_string(),
            bars: cost.iter().map(|r| (r.strategy.clone(), r.consume.as_ref().map_or(0.0, |c| c.msgs_per_s))).collect(),
        }),
        callouts,
        lock_time,
        notes: vec![
            "Without a lock, two appends that run at the same time read the same end of the log and \
             both write there: each producer is told the same offset, and one message is gone. The \
             bars outlined in black are those two appends."
                .to_string(),
            "Under a lock the same appends wait for each other: nothing is lost, and the cost is the wait."
                .to_string(),
        ],
        ..Page::default()
    }
}

fn demo_configuration(r: &RunReport) -> Vec<(String, String)> {
    vec![
        ("producers".to_string(), r.producers.to_string()),
        ("messages".to_string(), r.messages.to_string()),
        ("transport".to_string(), format!("{:?}", r.transport).to_lowercase()),
    ]
}

/// The first example, under `none`, of two appends told the same offset (or, failing that, of a
/// lost message), drawn large.
fn collision(v: &RunView) -> Option<Spotlight> {
    let pick = |kind: &str| {
        v.violations
            .iter()
            .find(|k| k.kind == kind)
            .and_then(|k| k.examples.iter().find(|e| e.window.is_some()))
    };
    let (kind, ex) = [("ack_offset_collision", "Two appends, one offset"), ("lost", "A lost message")]
        .into_iter()
        .find_map(|(kind, title)| pick(kind).map(|ex| (title, ex)))?;
    Some(Spotlight {
        title: format!("Act 1, zoomed in: {kind}"),
        text: format!(
            "{}. Each bar is one request, from the moment it was sent to its answer; the outlined bars are the \
             requests this example involves, each labelled with the offset the broker answered.",
            ex.text
        ),
        window: ex.window.clone()?,
    })
}

/// A run view for a projector: one example per kind, no scatter, no lock or fairness tables
/// (the lesson's tables and callouts carry those).
fn classroom_view(mut v: RunView) -> RunView {
    for k in &mut v.violations {
        k.examples.truncate(1);
    }
    v.scatter.clear();
    v.locks = None;
    v.fairness.clear();
    v
}

/// The page of `harness compare`: every cell in a table, produce throughput per strategy at the
/// largest producer count as bars, and side by side the first corrupted and the first clean
/// cell at that count (with their charts and timelines, when the cells kept them).
pub fn compare_page(c: &Comparison) -> Page {
    let header =
        ["strategy", "producers", "consumers", "produce msg/s", "ratio to ceiling", "produce p99", "verdict"];
    let rows = c
        .cells
        .iter()
        .map(|cell| {
            let r = &cell.report;
            vec![
                r.strategy.clone(),
                r.producers.to_string(),
                r.consumers.to_string(),
                super::charts::human(r.produce.msgs_per_s),
                if crate::report::rows::Ceilings::failed_to_bound(cell.produce_ratio) {
                    format!("{:.2} (a ceiling that failed to bound)", cell.produce_ratio)
                } else {
                    format!("{:.2}", cell.produce_ratio)
                },
                format!("{} µs", r.produce.p99_us),
                r.verdict.clone(),
            ]
        })
        .collect();
    let most = c.cells.iter().map(|cell| cell.report.producers).max().unwrap_or(0);
    let at_most: Vec<&Cell> = c.cells.iter().filter(|cell| cell.report.producers == most).collect();
    let mut bars: Vec<(String, f64)> = Vec::new();
    for cell in &at_most {
        if !bars.iter().any(|b| b.0 == cell.report.strategy) {
            bars.push((cell.report.strategy.clone(), cell.report.produce.msgs_per_s));
        }
    }
    let shown = [
        at_most.iter().find(|cell| !cell.report.is_clean()),
        at_most.iter().find(|cell| cell.report.is_clean()),
    ];
    let runs = shown
        .into_iter()
        .flatten()
        .map(|cell| {
            let ceiling = Ceiling {
                label: ceiling_label(cell),
                value: cell.report.produce.msgs_per_s / cell.produce_ratio.max(1e-12),
            };
            let view = cell.report.page.as_ref().map(|d| d.view().clone()).unwrap_or_default();
            complete(&cell.report, view, Some(ceiling))
        })
        .collect();
    let first = c.cells.first().map(|cell| &cell.report);
    Page {
        title: "synclog compare: strategies side by side".to_string(),
        subtitle: format!(
            "{} cells, {:.1} s in all; ratios are to ceilings measured in the same run",
            c.cells.len(),
            c.duration_s
        ),
        // The settings all cells share (strategy, producers, consumers and duration vary).
        configuration: first
            .map(configuration)
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !["strategy", "producers", "consumers", "duration"].contains(&k.as_str()))
            .collect(),
        machine: first.map(machine).unwrap_or_default(),
        runs,
        tables: std::iter::once(TableView {
            title: "Every cell".to_string(),
            header: header.iter().map(|h| h.to_string()).collect(),
            rows,
        })
        .chain(locks::compare_table(c))
        .collect(),
        lock_time: locks::compare_time(c),
        cost: (!bars.is_empty()).then(|| CostChart {
            title: format!("Produce throughput at {most} producers"),
            unit: "msg/s".to_string(),
            bars,
        }),
        ..Page::default()
    }
}

fn ceiling_label(cell: &Cell) -> String {
    match cell.report.transport {
        TransportKind::Tcp => "loopback echo".to_string(),
        TransportKind::Inproc => "raw positional writes".to_string(),
    }
}
