//! Pages from result rows: a harness run's page and the demo's classroom page.
//!
//! The rows ([`RunReport`]) give what a run measured (configuration, figures, verdict); the
//! [`RunView`] filled by [`super::build`] from the run's history gives the charts, the timeline and
//! the violations drawn. Ceilings come from the caller, measured in the same run, or are left out.
//! Lock statistics and fairness come from the rows too ([`super::locks`]).

use super::{locks, Ceiling, CostChart, ExampleView, Headline, Page, RunView, Spotlight, TableView, Verdict};
use crate::report::count;
use crate::report::rows::{Cell, Comparison, RunReport, TransportKind};

/// A setting of the system under test that a run against `--broker` or `--target` does not know.
const REMOTE: &str = "the remote system's own";

/// The run's settings, as the page lists them: every one that shapes the figures (a size
/// range, the append mode, an open loop's rate, a forced race).
pub fn configuration(r: &RunReport) -> Vec<(String, String)> {
    let mut rows = vec![
        ("strategy", r.strategy.clone()),
        ("append", r.append.map_or(REMOTE, |a| a.name()).to_string()),
        ("transport", format!("{:?}", r.transport).to_lowercase()),
        ("producers", r.producers.to_string()),
        ("consumers", r.consumers.to_string()),
        ("messages", r.messages.to_string()),
        ("message bytes", message_bytes(r)),
        ("batch", r.batch.to_string()),
        ("in flight", r.in_flight.to_string()),
        ("topics", r.topics.to_string()),
        ("fsync", r.fsync.map_or(REMOTE, |f| f.name()).to_string()),
        ("seed", r.seed.to_string()),
        ("duration", format!("{:.2} s", r.duration_s)),
    ];
    rows.push(("load", load(r)));
    if r.force_race {
        rows.push((
            "race",
            "forced: appenders paired in a 5 ms window, each waiting inside the lock".to_string(),
        ));
    } else if let Some(window) = r.race_window_us.filter(|&w| w > 0) {
        rows.push(("race window", format!("{window} µs")));
    }
    rows.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// "60" for one size, "60..140" for a range.
fn message_bytes(r: &RunReport) -> String {
    match r.message_bytes_max {
        Some(max) if max != r.message_bytes => format!("{}..{max}", r.message_bytes),
        _ => r.message_bytes.to_string(),
    }
}

/// Closed loop, or the open loop's rate and how its latencies are timed.
fn load(r: &RunReport) -> String {
    match &r.open_loop {
        Some(o) => format!(
            "open loop at {} msg/s (achieved {}); latencies timed from each request's due time; {:.1}% sent over {} µs late",
            super::charts::human(o.target_msgs_per_s),
            super::charts::human(o.achieved_msgs_per_s),
            o.late_share * 100.0,
            o.late_after_us
        ),
        None => "closed loop (each producer sends when an answer frees a slot)".to_string(),
    }
}

/// The subtitle of a run page: who ran, what was sent, and the settings that change how the
/// figures read.
fn subtitle(r: &RunReport) -> String {
    let mut s = format!(
        "{} and {}, {} of {} B over {}",
        count(r.producers, "producer"),
        count(r.consumers, "consumer"),
        count(r.messages, "message"),
        message_bytes(r),
        format!("{:?}", r.transport).to_lowercase()
    );
    if let Some(append) = r.append.filter(|&a| a != crate::storage::AppendMode::Whole) {
        s.push_str(&format!(", append {}", append.name()));
    }
    if let Some(o) = &r.open_loop {
        s.push_str(&format!(
            ", open loop at {} msg/s (latency timed from each request's due time)",
            super::charts::human(o.target_msgs_per_s)
        ));
    }
    if r.force_race {
        s.push_str(", race forced (appenders paired in a 5 ms window)");
    }
    s
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
    view.open_loop = r.open_loop.is_some();
    view
}

/// The page of one harness run.
pub fn run_page(r: &RunReport, view: RunView, ceiling: Option<Ceiling>) -> Page {
    Page {
        title: format!("synclog run: {} — {}", r.strategy, r.verdict),
        subtitle: subtitle(r),
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
/// share per strategy in large type and where their time went. The notes under Act 1 are chosen
/// from the run: what the spotlighted example shows and what the checker counted under `none`,
/// and whether each lock stayed clean and produced below `none`'s rate.
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
    let spotlight_note = spotlight.as_ref().map_or_else(String::new, |s| {
        format!(" The bars outlined in black in the zoomed picture are {}.", outlined_words(&s.window))
    });
    Page {
        title: "Why a log needs a lock".to_string(),
        spotlight,
        subtitle: first.map_or_else(String::new, |r| {
            format!(
                "Act 1: {} append {} to one topic at once. Act 2: one writer, four readers — what each lock costs.",
                count(r.producers, "producer"),
                count(r.messages, "message")
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
        notes: first
            .map(|none| {
                let shown = race.first().and_then(|(_, v)| spotlighted(v));
                let locked: Vec<&RunReport> = race.iter().skip(1).map(|(r, _)| r).collect();
                vec![format!("{}{spotlight_note}", race_note(none, shown)), lock_note(none, &locked)]
            })
            .unwrap_or_default(),
        ..Page::default()
    }
}

/// The values an example names, in its order: `producer P seq S` pairs (the example's own value
/// first, then, for a collision, the value acknowledged at that offset before it).
fn values_named(text: &str) -> Vec<(u32, u64)> {
    text.match_indices("producer ")
        .filter_map(|(i, m)| {
            let mut words = text[i + m.len()..].split([' ', ',']);
            let producer = words.next()?.parse().ok()?;
            (words.next()? == "seq").then_some(())?;
            Some((producer, words.next()?.parse().ok()?))
        })
        .collect()
}

/// Act 1's note on `none`: what the spotlighted example shows (two producers told one offset,
/// one producer told the same offset twice, or a lost message), then what the checker counted.
fn race_note(none: &RunReport, shown: Option<(&str, &ExampleView)>) -> String {
    use crate::violations::ViolationKind::{AckOffsetCollision, Lost};
    let v = &none.violations;
    if v.is_clean() {
        return "Without a lock, none stayed clean in this run: no two appends were told one offset and no message was lost."
            .to_string();
    }
    let example = shown.map(|(kind, ex)| {
        let offset =
            ex.text.split(", ").find_map(|p| p.strip_prefix("offset ")).unwrap_or("(not recorded)");
        let values = values_named(&ex.text);
        match (kind, &values[..]) {
            ("ack_offset_collision", &[(p, s), (q, r), ..]) if p == q && none.in_flight == 1 => format!(
                "producer {p} was told offset {offset} for seq {r} and again for seq {s}, although it sent each request \
                 only after the one before was answered: the log's next offset went back between the two, as it can \
                 when an append that read it earlier stores it after a later one (a load and a store, not one step)"
            ),
            ("ack_offset_collision", &[(p, s), (q, r), ..]) if p == q => {
                format!("producer {p} was told offset {offset} for seq {r} and again for seq {s}")
            }
            ("ack_offset_collision", &[(p, s), (q, r), ..]) => format!(
                "producer {q} seq {r} and producer {p} seq {s} were told the same offset, {offset}: two appends that run \
                 at the same time can read the same end of the log and both write there"
            ),
            ("ack_offset_collision", _) => format!("two appends were told the same offset, {offset}"),
            (_, &[(p, s), ..]) => format!(
                "producer {p} seq {s} was acknowledged at offset {offset} and is missing from the final log"
            ),
            _ => format!("an acknowledged message ({}) is missing from the final log", ex.text),
        }
    });
    let (lost, collided) = (v.count(Lost), v.count(AckOffsetCollision));
    let counted = if lost + collided == 0 {
        "the checker counted no repeated offset and no lost message (the table lists what it found)"
            .to_string()
    } else {
        format!(
            "the checker counted {} naming an offset already acknowledged (each can cost at most one \
             message) and {} missing from the final log (lost)",
            thousands_of(collided, "ack"),
            thousands_of(lost, "acknowledged message")
        )
    };
    match example {
        Some(e) => format!("Without a lock, in the example shown, {e}. Over the run {counted}."),
        None => format!("Without a lock, {counted}."),
    }
}

/// `n` (in thousands, as the rates beside it) and the noun, plural unless `n` is 1.
fn thousands_of(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", crate::report::table::thousands(n), if n == 1 { "" } else { "s" })
}

/// Whether `a` is below `b` as their ratio is printed (two decimals): 0.996 prints as 1.00, level.
fn below(a: f64, b: f64) -> bool {
    format!("{:.2}", a / b.max(1.0)).parse::<f64>().is_ok_and(|r| r < 1.0)
}

/// Act 1's note on the locks: which kept every message, and whether waiting for each other cost
/// them throughput against `none`'s, as this run measured.
fn lock_note(none: &RunReport, locked: &[&RunReport]) -> String {
    if locked.is_empty() {
        return String::new();
    }
    let names = |rs: &[&RunReport]| rs.iter().map(|r| r.strategy.as_str()).collect::<Vec<_>>().join(", ");
    let rate = |r: &RunReport| crate::report::table::thousands(r.produce.msgs_per_s as u64);
    let figures = |rs: &[&RunReport]| {
        rs.iter().map(|r| format!("{} {} msg/s", r.strategy, rate(r))).collect::<Vec<_>>().join(", ")
    };
    let (clean, broken): (Vec<&RunReport>, Vec<_>) = locked.iter().partition(|r| r.is_clean());
    let mut s = "Under a lock the same appends wait for each other".to_string();
    if !clean.is_empty() {
        s.push_str(&format!(": under {} nothing was lost (clean)", names(&clean)));
    }
    if !broken.is_empty() {
        s.push_str(&format!("; {} showed violations (a bug)", names(&broken)));
    }
    let (slower, not_slower): (Vec<&RunReport>, Vec<_>) =
        locked.iter().partition(|r| below(r.produce.msgs_per_s, none.produce.msgs_per_s));
    if !slower.is_empty() {
        s.push_str(&format!(
            ". Waiting cost throughput here: {} against none's {} msg/s",
            figures(&slower),
            rate(none)
        ));
    }
    if !not_slower.is_empty() {
        s.push_str(&format!(
            ". Waiting cost no throughput this run could measure: {} against none's {} msg/s",
            figures(&not_slower),
            rate(none)
        ));
    }
    s.push('.');
    s
}

fn demo_configuration(r: &RunReport) -> Vec<(String, String)> {
    vec![
        ("producers".to_string(), r.producers.to_string()),
        ("messages".to_string(), r.messages.to_string()),
        ("transport".to_string(), format!("{:?}", r.transport).to_lowercase()),
    ]
}

/// The example [`collision`] draws: the first, under `none`, of two appends told the same offset
/// (or, failing that, of a lost message) that has a window, with its kind.
fn spotlighted(v: &RunView) -> Option<(&'static str, &ExampleView)> {
    let pick = |kind: &str| {
        v.violations
            .iter()
            .find(|k| k.kind == kind)
            .and_then(|k| k.examples.iter().find(|e| e.window.is_some()))
    };
    ["ack_offset_collision", "lost"].into_iter().find_map(|kind| pick(kind).map(|ex| (kind, ex)))
}

/// The example of [`spotlighted`], drawn large.
fn collision(v: &RunView) -> Option<Spotlight> {
    let (kind, ex) = spotlighted(v)?;
    let title = if kind == "lost" { "A lost message" } else { "Two appends, one offset" };
    let window = ex.window.clone()?;
    Some(Spotlight {
        title: format!("Act 1, zoomed in: {title}"),
        text: format!(
            "{}. Each bar is one request, from the moment it was sent to its answer; outlined are {}.",
            ex.text,
            outlined_words(&window)
        ),
        window,
    })
}

/// What the outlined bars of a zoomed window are, in words: the appends (labelled with the
/// offsets the broker answered) and the fetches (labelled with the records they returned).
fn outlined_words(window: &super::Timeline) -> String {
    let outlined = window.lanes.iter().flat_map(|l| &l.bars).filter(|b| b.highlight);
    let (appends, fetches) =
        outlined.fold((0, 0), |(a, f), b| if b.label.starts_with("fetch") { (a, f + 1) } else { (a + 1, f) });
    let mut parts = Vec::new();
    if appends > 0 {
        parts.push(match appends {
            1 => "the append this example involves, labelled with the offset the broker answered".to_string(),
            n => format!(
                "the {n} appends this example involves, each labelled with the offset the broker answered"
            ),
        });
    }
    if fetches > 0 {
        parts.push(match fetches {
            1 => "the consumer's fetch that read that offset, labelled with what it returned".to_string(),
            n => {
                format!("the {n} consumer fetches that read that offset, each labelled with what it returned")
            }
        });
    }
    if parts.is_empty() {
        "no bars (the example's requests fell outside the kept history)".to_string()
    } else {
        parts.join(", and ")
    }
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
/// largest producer count as bars, and one under the other the first corrupted and the first
/// clean cell at that count, each named by its strategy and counts (with their charts and timelines, when the cells kept them).
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
                super::render::figure(r.produce.p99_us as f64, "µs"),
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
            let mut view = complete(&cell.report, view, Some(ceiling));
            view.name = cell_name(&cell.report);
            view
        })
        .collect();
    let first = c.cells.first().map(|cell| &cell.report);
    Page {
        title: "synclog compare: strategies side by side".to_string(),
        subtitle: format!(
            "{}, {:.1} s in all; ratios are to ceilings measured in the same run",
            count(c.cells.len() as u64, "cell"),
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

/// A comparison's cell by its strategy and counts: "mutex × 2 producers × 1 consumer".
fn cell_name(r: &RunReport) -> String {
    format!("{} × {} × {}", r.strategy, count(r.producers, "producer"), count(r.consumers, "consumer"))
}

fn ceiling_label(cell: &Cell) -> String {
    match cell.report.transport {
        TransportKind::Tcp => "loopback echo".to_string(),
        TransportKind::Inproc => "raw positional writes".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::rows::OpenLoop;
    use crate::storage::AppendMode;

    fn report() -> RunReport {
        RunReport::sample()
    }

    fn setting(r: &RunReport, key: &str) -> Option<String> {
        configuration(r).into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    #[test]
    fn a_size_range_an_open_loop_reserve_and_a_forced_race_reach_the_page() {
        let mut r = report();
        r.message_bytes_max = Some(140);
        r.append = Some(AppendMode::Reserve);
        r.force_race = true;
        r.open_loop = Some(OpenLoop {
            target_msgs_per_s: 20_000.0,
            achieved_msgs_per_s: 19_500.0,
            late_share: 0.01,
            late_after_us: 1000,
            max_behind_us: 3000,
        });
        assert_eq!(setting(&r, "message bytes").as_deref(), Some("60..140"));
        assert_eq!(setting(&r, "append").as_deref(), Some("reserve"));
        let load = setting(&r, "load").expect("the load's shape");
        assert!(load.starts_with("open loop at 20.0k msg/s") && load.contains("due time"), "{load}");
        assert!(setting(&r, "race").expect("the forced race").starts_with("forced"));
        let page = run_page(&r, RunView::default(), None);
        let s = &page.subtitle;
        assert!(s.starts_with("1 producer and 1 consumer, 800 messages of 60..140 B over tcp"), "{s}");
        assert!(
            s.contains("append reserve")
                && s.contains("open loop at 20.0k msg/s")
                && s.contains("race forced"),
            "{s}"
        );
    }

    #[test]
    fn a_closed_loop_run_says_so_and_names_no_race() {
        let mut r = report();
        r.producers = 2;
        r.consumers = 0;
        assert!(setting(&r, "load").expect("the load's shape").starts_with("closed loop"));
        assert_eq!(setting(&r, "message bytes").as_deref(), Some("60"));
        assert!(setting(&r, "race").is_none() && setting(&r, "race window").is_none());
        let s = run_page(&r, RunView::default(), None).subtitle;
        assert!(
            s.starts_with("2 producers and 0 consumers, 800 messages of 60 B") && !s.contains("reserve"),
            "{s}"
        );
    }

    fn timed(r: &mut RunReport, contended_share: f64) {
        use crate::report::locks::{LockRow, TimeShare};
        use crate::strategies::timed::{LockStats, Quantiles, SectionStats};
        let q = Quantiles { total: 0, mean: 0.0, p50: 0, p99: 0, p999: 0, max: 0 };
        let section = |acquisitions| SectionStats {
            acquisitions,
            contended: 0,
            contended_share,
            wait_ns: q.clone(),
            hold_ns: q.clone(),
        };
        let share = TimeShare { wait: 0.0, hold: 0.0, outside: 1.0 };
        r.lock = Some(LockRow {
            window_s: 1.0,
            share_basis: String::new(),
            producers: share,
            consumers: None,
            stats: LockStats {
                strategy: r.strategy.clone(),
                clock: "",
                clock_ns: 0.0,
                contended_above_ns: 0,
                read: section(0),
                write: section(10),
                threads: vec![],
            },
        });
    }

    #[test]
    fn none_has_no_lock_to_find_taken() {
        let mut r = report();
        timed(&mut r, 0.25);
        assert_eq!(locks::write_contended(&r), "25.0%");
        r.strategy = "none".into();
        assert_eq!(locks::write_contended(&r), "—", "none has no lock");
    }

    #[test]
    fn the_zoomed_caption_names_what_is_outlined() {
        use crate::report::page::{Bar, Lane, Timeline};
        let bar = |label: &str| Bar { highlight: true, label: label.into(), ..Bar::default() };
        let w = Timeline {
            start_ns: 0,
            end_ns: 1,
            lanes: vec![
                Lane { name: "producer 0".into(), bars: vec![bar("append seq 1 → offset 294")] },
                Lane { name: "producer 1".into(), bars: vec![bar("append seq 9 → offset 294")] },
                Lane { name: "consumer 0".into(), bars: vec![bar("fetch from 294 → 13 records, hw 307")] },
            ],
        };
        let words = outlined_words(&w);
        assert!(words.starts_with("the 2 appends this example involves"), "{words}");
        assert!(words.contains("and the consumer's fetch that read that offset"), "{words}");
    }

    #[test]
    fn none_s_own_section_shows_no_lock_table() {
        let mut r = report();
        r.strategy = "none".into();
        timed(&mut r, 0.25);
        let view = locks::lock_view(&r).expect("timed");
        assert!(view.rows.is_empty() && view.time.is_empty(), "{view:?}");
        let mut h = String::new();
        locks::render_view(&mut h, &view, super::super::charts::Style::new(false)).unwrap();
        assert!(h.contains("takes no lock") && !h.contains("acquisitions</th>"), "{h}");
    }

    #[test]
    fn a_cell_without_reads_shows_no_read_wait() {
        let mut r = report();
        timed(&mut r, 0.25);
        let c = Comparison::sample(vec![r]);
        let t = locks::compare_table(&c).expect("a timed cell");
        let row = &t.rows[0];
        let at = |h: &str| t.header.iter().position(|x| x.contains(h)).unwrap_or_else(|| panic!("no {h}"));
        assert_eq!(row[at("read contended")], "–");
        assert_eq!(row[at("read wait")], "–");
        assert_eq!(row[at("write contended")], "25.0%");
        let page = compare_page(&c);
        assert_eq!(page.runs[0].name, "mutex × 1 producer × 1 consumer");
    }

    #[test]
    fn none_has_no_lock_figures_in_the_compare_table() {
        let mut with_lock = report();
        timed(&mut with_lock, 0.25);
        let mut none = with_lock.clone();
        none.strategy = "none".into();
        if let Some(l) = none.lock.as_mut() {
            l.stats.strategy = "none".into();
            l.stats.read.acquisitions = 5;
        }
        let t = locks::compare_table(&Comparison::sample(vec![with_lock, none])).expect("timed cells");
        assert_eq!(t.rows.len(), 2);
        let at = |h: &str| t.header.iter().position(|x| x.contains(h)).unwrap_or_else(|| panic!("no {h}"));
        let (mutex, none) = (&t.rows[0], &t.rows[1]);
        assert_eq!(mutex[at("write contended")], "25.0%");
        assert_eq!(none[0], "none");
        assert!(none.iter().all(|cell| !cell.contains('%')), "no percentage for none: {none:?}");
        for h in ["write contended", "write wait", "read contended", "read wait", "waiting / holding"] {
            assert_eq!(none[at(h)], "—", "{h}: none takes no lock");
        }
    }

    #[test]
    fn none_has_no_bar_in_where_the_time_goes_and_no_lock_figures_in_the_summary() {
        let mut with_lock = report();
        timed(&mut with_lock, 0.25);
        let mut none = with_lock.clone();
        none.strategy = "none".into();
        let both = Comparison::sample(vec![with_lock, none.clone()]);
        let bars = locks::compare_time(&both).expect("the mutex cell is timed");
        assert!(!bars.bars.is_empty());
        assert!(bars.bars.iter().all(|b| b.name.starts_with("mutex")), "no bar for none");
        let only_none = Comparison::sample(vec![none]);
        assert!(locks::compare_time(&only_none).is_none(), "none alone: no chart");
        assert!(!crate::report::lock_charts::any(&only_none), "none alone: no lock charts drawn");
        assert!(crate::report::lock_charts::any(&both));
        let summary = crate::report::locks::summary_section(both.cells.iter().map(|c| &c.report));
        let row = |name: &str| {
            summary
                .lines()
                .find(|l| l.starts_with(&format!("| {name} |")))
                .unwrap_or_else(|| panic!("no {name} row"))
        };
        assert!(row("mutex").contains("25.0%"), "{}", row("mutex"));
        assert!(!row("none").contains('%'), "no lock figure for none: {}", row("none"));
        assert_eq!(row("none").matches('—').count(), 8, "{}", row("none"));
    }

    #[test]
    fn a_cell_is_named_by_strategy_and_counts() {
        let mut r = report();
        r.producers = 2;
        r.consumers = 0;
        assert_eq!(cell_name(&r), "mutex × 2 producers × 0 consumers");
    }
    /// Act 1 of a demo: `none` with `lost` lost messages and `collided` colliding acks, its view
    /// spotlighting one example of `kind` with `text`; then a mutex run producing `mutex_rate`.
    fn act_one(
        kind: &str,
        text: &str,
        lost: u64,
        collided: u64,
        mutex_rate: f64,
    ) -> Vec<(RunReport, RunView)> {
        use crate::report::page::{ExampleView, Timeline, ViolationView};
        use crate::violations::{Example, ViolationKind};
        let mut none = report();
        none.strategy = "none".into();
        none.produce.msgs_per_s = 53_825.0;
        none.violations.add_many(ViolationKind::Lost, lost, Example::default());
        none.violations.add_many(ViolationKind::AckOffsetCollision, collided, Example::default());
        none.verdict = "corrupted".into();
        let view = RunView {
            violations: vec![ViolationView {
                kind: kind.into(),
                count: 1,
                examples: vec![ExampleView { text: text.into(), window: Some(Timeline::default()) }],
                ..ViolationView::default()
            }],
            ..RunView::default()
        };
        let mut mutex = report();
        mutex.produce.msgs_per_s = mutex_rate;
        vec![(none, view), (mutex, RunView::default())]
    }

    #[test]
    fn the_race_note_fits_a_collision_of_one_producer_s_own_requests() {
        // The audit's example: one producer told the same offset for two consecutive requests.
        let race = act_one(
            "ack_offset_collision",
            "topic t, offset 3542, producer 0 seq 398, offset already acknowledged to producer 0 seq 397",
            0,
            12,
            54_057.0,
        );
        let note = &demo_page(&race, &[]).notes[0];
        assert!(!note.contains("each producer is told the same offset"), "{note}");
        assert!(!note.contains("one message is gone"), "{note}");
        assert!(note.contains("producer 0 was told offset 3542 for seq 397 and again for seq 398"), "{note}");
        assert!(note.contains("the log's next offset went back between the two"), "{note}");
        assert!(note.contains("12 acks naming an offset already acknowledged (each can cost at most one message) and 0 acknowledged messages missing"), "{note}");
    }

    #[test]
    fn the_race_note_names_two_producers_only_when_the_example_has_two() {
        let race = act_one(
            "ack_offset_collision",
            "topic t, offset 294, producer 1 seq 9, offset already acknowledged to producer 0 seq 1",
            3,
            5,
            40_000.0,
        );
        let note = &demo_page(&race, &[]).notes[0];
        assert!(
            note.contains("producer 0 seq 1 and producer 1 seq 9 were told the same offset, 294"),
            "{note}"
        );
        assert!(note.contains("3 acknowledged messages missing from the final log (lost)"), "{note}");
        let lost = act_one(
            "lost",
            "topic t, offset 17, producer 2 seq 5, acknowledged, absent from the drain",
            1,
            0,
            40_000.0,
        );
        let note = &demo_page(&lost, &[]).notes[0];
        assert!(
            note.contains("producer 2 seq 5 was acknowledged at offset 17 and is missing from the final log"),
            "{note}"
        );
        assert!(!note.contains("same offset"), "{note}");
    }

    #[test]
    fn the_lock_note_says_the_wait_cost_throughput_only_when_it_did() {
        // The audit's run: mutex produced 54 057 msg/s against none's 53 825.
        let race = act_one("lost", "offset 1, producer 0 seq 1", 1, 0, 54_057.0);
        let note = &demo_page(&race, &[]).notes[1];
        assert!(!note.contains("the cost is the wait"), "{note}");
        assert!(note.contains("under mutex nothing was lost (clean)"), "{note}");
        assert!(
            note.contains("Waiting cost no throughput this run could measure: mutex 54 057 msg/s against none's 53 825 msg/s"),
            "{note}"
        );
        let race = act_one("lost", "offset 1, producer 0 seq 1", 1, 0, 40_000.0);
        let note = &demo_page(&race, &[]).notes[1];
        assert!(
            note.contains("Waiting cost throughput here: mutex 40 000 msg/s against none's 53 825 msg/s"),
            "{note}"
        );
    }
}
