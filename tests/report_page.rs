//! The run report page (`index.html`), opened as a person would: in headless Chromium.
//!
//! Pages are rendered from hand-built models (a clean run, and a corrupted one where two
//! overlapping appends got the same offset and one message was lost), then Chromium dumps the
//! DOM after scripts ran and takes a screenshot. Checked: the charts, the timeline and one zoomed
//! example per violation kind are in the DOM; the page's script ran without error and the
//! browser loaded no resource; the screenshot has many colours (not blank); a page for a
//! default-sized run stays under 5 MiB.
//!
//! Needs Debian's `chromium` (scripts/test.sh installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use synclog::check::history::{History, RunShape, SendOutcome};
use synclog::check::{check, encode_payload};
use synclog::report::page::{
    self, Bar, Ceiling, ExampleView, Headline, Lane, LatencyWindow, Outcome, Page, RunView, ScatterPoint,
    Series, Timeline, Verdict, ViolationView,
};

const MS: u64 = 1_000_000;

/// A deterministic pseudo-random sequence (xorshift), so models differ bar to bar but not run to run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Lanes of back-to-back requests: `producers` sending, one consumer fetching, over `span_ns`.
fn lanes(producers: u32, per_lane: u64, span_ns: u64) -> Vec<Lane> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::new();
    for lane in 0..=producers {
        let name = if lane < producers { format!("producer {lane}") } else { "consumer 0".to_string() };
        let step = span_ns / per_lane.max(1);
        let bars = (0..per_lane)
            .map(|i| {
                let start = i * step + rng.next() % (step / 4 + 1);
                let len = step / 3 + rng.next() % (step / 2 + 1);
                Bar { start_ns: start, end_ns: start + len, ..Bar::default() }
            })
            .collect();
        out.push(Lane { name, bars });
    }
    out
}

fn run_view(name: &str, producers: u32, per_lane: u64) -> RunView {
    let span = 2_000 * MS;
    let windows = 20;
    let rate = |i: u64| 40_000.0 + (i % 5) as f64 * 3_000.0;
    let throughput = vec![
        Series { name: "produce".into(), points: (0..windows).map(|i| (i as f64 / 10.0, rate(i))).collect() },
        Series {
            name: "consume".into(),
            points: (0..windows).map(|i| (i as f64 / 10.0, rate(i) * 0.9)).collect(),
        },
    ];
    let latency = (0..windows)
        .map(|i| LatencyWindow {
            t_s: i as f64 / 10.0,
            p50_us: 60.0 + i as f64,
            p99_us: 400.0,
            p999_us: 1500.0,
        })
        .collect();
    let mut rng = Rng(7);
    let scatter = (0..per_lane * u64::from(producers))
        .map(|i| ScatterPoint {
            t_s: i as f64 * 2.0 / (per_lane * u64::from(producers)) as f64,
            latency_us: 30.0 + (rng.next() % 2000) as f64,
            outcome: if i % 997 == 0 { Outcome::Unknown } else { Outcome::Ok },
        })
        .collect();
    RunView {
        name: name.into(),
        verdict: Verdict { corrupted: false, word: "valid".into(), sentence: "every check passed".into() },
        headlines: vec![Headline {
            label: "produce throughput".into(),
            value: 45_000.0,
            unit: "msg/s".into(),
            ceiling: Some(Ceiling { label: "loopback echo".into(), value: 120_000.0 }),
        }],
        throughput,
        latency,
        scatter,
        timeline: Timeline { start_ns: 0, end_ns: span, lanes: lanes(producers, per_lane, span) },
        ..RunView::default()
    }
}

fn page_with(run: RunView) -> Page {
    Page {
        title: format!("synclog run: {}", run.name),
        subtitle: "8 producers over TCP, 1 consumer".into(),
        configuration: vec![("strategy".into(), run.name.clone()), ("producers".into(), "8".into())],
        machine: vec![("cores".into(), "2".into())],
        runs: vec![run],
        ..Page::default()
    }
}

fn clean_page() -> Page {
    page_with(run_view("rwlock", 8, 400))
}

/// Two appends from producers 2 and 5 overlap in time and are both acknowledged at offset 41;
/// the message of producer 5 is lost.
fn corrupted_page() -> Page {
    let mut run = run_view("none", 8, 400);
    run.verdict =
        Verdict { corrupted: true, word: "corrupted".into(), sentence: "2 kinds of violation".into() };
    let at = 700 * MS;
    let collide = |p: u32, start: u64, end: u64| Bar {
        start_ns: at + start,
        end_ns: at + end,
        outcome: Outcome::Ok,
        highlight: true,
        label: format!("producer {p}: append -> offset 41"),
    };
    for (p, bar) in [(2usize, collide(2, 0, 90_000)), (5, collide(5, 20_000, 110_000))] {
        run.timeline.lanes[p].bars.push(bar);
        run.timeline.lanes[p].bars.sort_by_key(|b| b.start_ns);
    }
    let window = |lanes: &[usize]| Timeline {
        start_ns: at - 100_000,
        end_ns: at + 250_000,
        lanes: lanes
            .iter()
            .map(|&l| {
                let src = &run.timeline.lanes[l];
                let bars = src
                    .bars
                    .iter()
                    .filter(|b| b.end_ns >= at - 100_000 && b.start_ns <= at + 250_000)
                    .cloned();
                Lane { name: src.name.clone(), bars: bars.collect() }
            })
            .collect(),
    };
    run.violations = vec![
        ViolationView {
            kind: "ack_offset_collision".into(),
            definition: "two acknowledgements returned the same offset".into(),
            count: 1,
            examples: vec![ExampleView {
                text: "topic t0, offset 41: producer 2 seq 17 and producer 5 seq 9".into(),
                window: Some(window(&[2, 5])),
            }],
        },
        ViolationView {
            kind: "lost".into(),
            definition: "acknowledged, but absent from the final drain".into(),
            count: 1,
            examples: vec![ExampleView {
                text: "producer 5 seq 9, acked at offset 41".into(),
                window: Some(window(&[2, 5, 8])),
            }],
        },
    ];
    page_with(run)
}

/// Runs Chromium headless on `file` with `extra` arguments; returns stdout. Fails the test
/// with the missing tool's name when Chromium is not installed; kills it after 90 s.
fn chromium(file: &Path, extra: &[&str]) -> String {
    use std::os::unix::process::CommandExt;
    let profile = tempfile::tempdir().expect("temp dir");
    // In a process group of its own, killed whole at the end: a helper process still holding
    // stdout after the main one has exited would otherwise keep the read below waiting.
    let mut child = Command::new("chromium")
        .process_group(0)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run chromium ({e}): install it with 'apt-get install chromium'"));
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let group = rustix::process::Pid::from_raw(child.id() as i32).expect("a positive pid");
    let finished = loop {
        if child.try_wait().expect("wait").is_some() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    let _ = child.wait();
    assert!(finished, "chromium did not finish within 90 s on {}", file.display());
    reader.join().expect("reader").expect("chromium stdout")
}

fn write(page: &Page, dir: &Path) -> PathBuf {
    page::write(page, dir).expect("page written")
}

/// The DOM after the page's script ran.
fn dom(file: &Path) -> String {
    let dom = chromium(file, &["--dump-dom"]);
    assert!(
        dom.contains("data-script=\"ok\""),
        "the page's script did not run: {}",
        &dom[..dom.len().min(400)]
    );
    assert!(!dom.contains("data-script-error"), "script error in the page");
    assert!(dom.contains("data-resources=\"0\""), "the page loaded resources");
    for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "url(http"] {
        assert!(!dom.contains(attr), "the page refers to the network ({attr})");
    }
    dom
}

/// Takes a screenshot and returns how many distinct colours it has.
fn screenshot_colours(file: &Path, png_out: &Path) -> usize {
    let arg = format!("--screenshot={}", png_out.display());
    chromium(file, &[&arg, "--window-size=1400,2400", "--hide-scrollbars"]);
    let decoder = png::Decoder::new(std::fs::File::open(png_out).expect("screenshot written"));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let channels = info.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    for px in buf[..info.buffer_size()].chunks(channels) {
        colours.insert(px.to_vec());
    }
    colours.len()
}

/// With `SYNCLOG_KEEP_PAGES=DIR`, copies the page and its screenshot to `DIR/<name>.{html,png}`
/// for a person to look at.
fn keep(dir: &Path, name: &str) {
    if let Some(out) = std::env::var_os("SYNCLOG_KEEP_PAGES") {
        let out = PathBuf::from(out);
        std::fs::create_dir_all(&out).expect("keep dir");
        let page = [dir.join("index.html"), dir.join("report/index.html")].into_iter().find(|p| p.exists());
        std::fs::copy(page.expect("a page"), out.join(format!("{name}.html"))).expect("page copied");
        std::fs::copy(dir.join(format!("{name}.png")), out.join(format!("{name}.png"))).expect("png copied");
    }
}

fn count(dom: &str, needle: &str) -> usize {
    dom.matches(needle).count()
}

#[test]
fn clean_page_has_charts_and_timeline_and_no_violation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(&clean_page(), dir.path());
    let dom = dom(&file);
    for chart in ["throughput", "latency", "scatter"] {
        assert!(dom.contains(&format!("data-chart=\"{chart}\"")), "no {chart} chart");
    }
    assert_eq!(count(&dom, "data-charts=\"3\""), 1, "the script counted another number of charts");
    assert!(dom.contains("class=\"timeline\"") && dom.contains("data-lanes=\"9\""), "no 9-lane timeline");
    assert!(dom.contains("No violation found"));
    assert_eq!(count(&dom, "class=\"example\""), 0);
    let colours = screenshot_colours(&file, &dir.path().join("clean.png"));
    keep(dir.path(), "clean");
    assert!(colours > 50, "screenshot looks blank: {colours} colours");
}

#[test]
fn corrupted_page_zooms_on_each_violation_kind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(&corrupted_page(), dir.path());
    let dom = dom(&file);
    assert!(dom.contains("class=\"verdict corrupted\""));
    for kind in ["ack_offset_collision", "lost"] {
        let zoom = format!("<figure class=\"example\" data-kind=\"{kind}\">");
        let at = dom.find(&zoom).unwrap_or_else(|| panic!("no example of {kind}"));
        let end = at + dom[at..].find("</figure>").expect("figure closed");
        assert!(dom[at..end].contains("class=\"timeline zoomed\""), "no zoomed timeline for {kind}");
        assert!(
            dom[at..end].contains("producer 5: append -&gt; offset 41"),
            "{kind}'s window lacks the collision"
        );
    }
    // Both colliding appends are drawn highlighted, in the full timeline and in both windows.
    assert_eq!(count(&dom, "<rect class=\"hl\""), 6);
    let colours = screenshot_colours(&file, &dir.path().join("corrupted.png"));
    keep(dir.path(), "corrupted");
    assert!(colours > 50, "screenshot looks blank: {colours} colours");
}

#[test]
fn default_sized_run_page_stays_under_5_mib() {
    // The default harness run: 200 000 messages from 8 producers, batch 1, and a consumer.
    let html = page::render(&page_with(run_view("rwlock", 8, 25_000))).expect("rendered");
    assert!(html.len() < 5 << 20, "page is {} bytes", html.len());
    assert!(html.contains("data-lanes=\"9\""));
}

#[test]
fn text_from_the_model_is_escaped() {
    let mut p = clean_page();
    p.title = "<script>alert(1)</script>".into();
    let html = page::render(&p).expect("rendered");
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

/// A real history, checked: producers 0 and 1 send seq 0 at once and both are told offset 0;
/// the drain finds producer 0's value there, so producer 1's is lost.
fn checked_collision() -> RunView {
    let shape = RunShape { seed: 1, producers: 2, topics: 1, messages_per_producer: 2, message_bytes: 64 };
    let history = History::new(shape);
    history.begin_send(0, 0, 1);
    history.begin_send(1, 0, 1);
    history.end_send(0, 0, 1, SendOutcome::Acked { base_offset: 0 });
    history.end_send(1, 0, 1, SendOutcome::Acked { base_offset: 0 });
    history.begin_send(0, 1, 1);
    history.end_send(0, 1, 1, SendOutcome::Acked { base_offset: 1 });
    history.begin_send(1, 1, 1);
    history.end_send(1, 1, 1, SendOutcome::Acked { base_offset: 2 });
    let mut drain = history.drain();
    for (offset, (p, seq)) in [(0, (0, 0)), (1, (0, 1)), (2, (1, 1))] {
        let mut payload = Vec::new();
        encode_payload(shape.seed, p, seq, shape.message_bytes, &mut payload);
        drain.record(0, offset, &payload);
    }
    let topics = vec!["t0".to_string()];
    let violations = check(&history, drain, &topics);
    let mut run = RunView { name: "none".into(), ..RunView::default() };
    run.verdict =
        Verdict { corrupted: !violations.is_clean(), word: "corrupted".into(), sentence: String::new() };
    page::build::fill_from_history(&mut run, &history, &violations, &topics);
    run
}

#[test]
fn a_checked_collision_is_drawn_as_two_overlapping_appends() {
    let run = checked_collision();
    let kinds: Vec<&str> = run.violations.iter().map(|v| v.kind.as_str()).collect();
    assert!(kinds.contains(&"ack_offset_collision") && kinds.contains(&"lost"), "kinds found: {kinds:?}");
    let collision = run.violations.iter().find(|v| v.kind == "ack_offset_collision").expect("collision");
    let window = collision.examples[0].window.as_ref().expect("a zoomed window");
    let hl: Vec<(&str, &Bar)> = window
        .lanes
        .iter()
        .flat_map(|l| l.bars.iter().filter(|b| b.highlight).map(move |b| (l.name.as_str(), b)))
        .collect();
    assert_eq!(hl.len(), 2, "highlighted: {hl:?}");
    assert_ne!(hl[0].0, hl[1].0, "the two appends are in two lanes");
    assert!(
        hl[0].1.start_ns < hl[1].1.end_ns && hl[1].1.start_ns < hl[0].1.end_ns,
        "the appends overlap in time"
    );
    assert!(hl.iter().all(|(_, b)| b.label.contains("offset 0")), "{hl:?}");

    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(&page_with(run.clone()), dir.path());
    let dom = dom(&file);
    for kind in &kinds {
        let zoom = format!("<figure class=\"example\" data-kind=\"{kind}\">");
        let at = dom.find(&zoom).unwrap_or_else(|| panic!("no example of {kind}"));
        let end = at + dom[at..].find("</figure>").expect("figure closed");
        assert!(dom[at..end].contains("class=\"timeline zoomed\""), "no zoomed timeline for {kind}");
    }
}

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

/// Runs `harness` with `args`; returns its stdout and exit code.
fn harness(args: &[&str]) -> (String, i32) {
    let out = Command::new(HARNESS).args(args).output().expect("harness runs");
    (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.code().unwrap_or(-1))
}

/// Every kind in the page's violation sections has an example with a zoomed timeline.
fn assert_zoom_per_kind(dom: &str) -> usize {
    let mut kinds = 0;
    for part in dom.split("<details class=\"kind\"").skip(1) {
        let kind = part.split("data-kind=\"").nth(1).and_then(|s| s.split('"').next()).expect("a kind");
        let section = part.split("<details class=\"kind\"").next().unwrap_or(part);
        assert!(section.contains("class=\"timeline zoomed\""), "no zoomed example of {kind}");
        kinds += 1;
    }
    kinds
}

#[test]
fn a_default_clean_run_writes_its_page() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report");
    let (stdout, code) = harness(&["--strategy", "mutex", "--report", report.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{stdout}");
    let file = report.join("index.html");
    assert!(stdout.contains(&format!("report page: {}", file.display())), "{stdout}");
    let size = std::fs::metadata(&file).expect("page written").len();
    assert!(size < 5 << 20, "the default run's page is {size} bytes");
    let dom = dom(&file);
    assert!(dom.contains("data-charts=\"3\""), "throughput, latency and scatter charts");
    assert!(dom.contains("class=\"verdict valid\"") && dom.contains("No violation found"));
    assert!(dom.contains("data-lanes=\"12\""), "8 producers and 4 consumers in the timeline");
    // Run without --lock-stats: no lock section, no "where the time goes".
    assert!(
        !dom.contains("class=\"locks\"") && !dom.contains("data-chart=\"lock-time"),
        "lock statistics drawn"
    );
    assert!(dom.contains("class=\"fairness\""), "fairness is measured in every run");
    assert!(screenshot_colours(&file, &dir.path().join("run-clean.png")) > 50);
    keep(dir.path(), "run-clean");
}

#[test]
fn a_corrupted_none_run_zooms_on_every_kind_found() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report");
    let args =
        ["--strategy", "none", "--producers", "8", "--consumers", "1", "--messages", "8000", "--force-race"];
    let (stdout, code) = harness(&[&args[..], &["--report", report.to_str().expect("utf-8 path")]].concat());
    assert_eq!(code, 3, "a forced race under none is corrupted: {stdout}");
    let file = report.join("index.html");
    let dom = dom(&file);
    assert!(dom.contains("class=\"verdict corrupted\""));
    let kinds = assert_zoom_per_kind(&dom);
    assert!(kinds >= 1, "no violation kind drawn");
    assert!(dom.contains("<rect class=\"hl\""), "no highlighted operation");
    assert!(screenshot_colours(&file, &dir.path().join("run-corrupted.png")) > 50);
    keep(dir.path(), "run-corrupted");
}

#[test]
fn the_demo_writes_the_classroom_page() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report");
    let (stdout, code) = harness(&["demo", "--report", report.to_str().expect("utf-8 path")]);
    let file = report.join("index.html");
    assert!(stdout.contains(&format!("classroom page: {}", file.display())), "{stdout}");
    let dom = dom(&file);
    assert!(dom.contains("class=\"classroom\""));
    assert!(dom.contains("class=\"runs n2\""), "act 1 side by side");
    assert!(dom.contains("data-chart=\"cost\""), "act 2's cost");
    // Lock statistics are on in the demo: Act 2's readers' wait share per strategy in large
    // type, where their time went, and Act 1's contended appends.
    let at = dom.find("<section id=\"callouts\">").expect("act 2's wait shares");
    let callouts = &dom[at..at + dom[at..].find("</section>").expect("section closed")];
    for strategy in ["mutex", "semaphore", "rwlock"] {
        assert!(
            callouts.contains(&format!("<span class=\"label\">{strategy}</span>")),
            "no {strategy} callout"
        );
    }
    assert_eq!(count(callouts, "<span class=\"value\">"), 3);
    assert!(dom.contains("data-chart=\"lock-time-runs\""), "act 2's time chart");
    assert!(dom.contains("appends that found the lock taken"));
    if code == 0 {
        // `none` corrupted: its collision is drawn large.
        let at = dom.find("<section id=\"spotlight\">").expect("the collision drawn");
        assert!(dom[at..].contains("class=\"timeline zoomed\""));
    }
    assert!(screenshot_colours(&file, &dir.path().join("demo.png")) > 50);
    keep(dir.path(), "demo");
}

/// The lock section of a page: from `<section class="locks">` to its end.
fn lock_section(dom: &str) -> &str {
    let at = dom.find("<section class=\"locks\">").expect("a lock section");
    &dom[at..at + dom[at..].find("</section>").expect("section closed")]
}

/// The rows of the lock table, each as its cells' text.
fn lock_rows(section: &str) -> Vec<Vec<String>> {
    let table = section.split("<table class=\"lock-table\">").nth(1).expect("a lock table");
    let table = &table[..table.find("</table>").expect("table closed")];
    table
        .split("<tr>")
        .filter(|r| r.contains("<td"))
        .map(|r| {
            r.split("<td")
                .skip(1)
                .map(|c| c.split('>').nth(1).unwrap_or("").split('<').next().unwrap_or("").to_string())
                .collect()
        })
        .collect()
}

#[test]
fn a_run_with_lock_stats_draws_its_lock_table_and_where_the_time_goes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report");
    let args = [
        "--strategy",
        "rwlock",
        "--producers",
        "2",
        "--consumers",
        "1",
        "--messages",
        "4000",
        "--lock-stats",
    ];
    let (stdout, code) = harness(&[&args[..], &["--report", report.to_str().expect("utf-8 path")]].concat());
    assert_eq!(code, 0, "{stdout}");
    let file = report.join("index.html");
    let dom = dom(&file);
    let section = lock_section(&dom);
    let rows = lock_rows(section);
    let sections: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(sections, ["write", "read"], "a row per section entered: {rows:?}");
    for row in &rows {
        assert_eq!(row.len(), 9, "section, acquisitions, contended, 4 waits, 2 holds: {row:?}");
        assert!(row[2].ends_with('%'), "contended share: {row:?}");
        assert!(row[3..]
            .iter()
            .all(|c| c.ends_with("ns") || c.ends_with("µs") || c.ends_with("ms") || c.ends_with(" s")));
    }
    // Where the time goes: one stacked bar per side, drawn inline, with its legend.
    let chart = section.find("data-chart=\"lock-time\"").map(|at| &section[at..]).expect("the time chart");
    assert!(chart.contains("<svg") && chart.contains("producers (2)") && chart.contains("consumers (1)"));
    assert!(chart.contains("waiting for the lock") && chart.contains("outside the lock"));
    assert!(dom.contains("data-charts=\"4\""), "throughput, latency, scatter and the lock time chart");
    assert!(screenshot_colours(&file, &dir.path().join("run-locks.png")) > 50);
    keep(dir.path(), "run-locks");
}

#[test]
fn the_compare_page_has_a_lock_table_per_strategy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, report) = (dir.path().join("out"), dir.path().join("report"));
    let args = [
        "compare",
        "--strategies",
        "mutex,rwlock",
        "--producers",
        "2",
        "--consumers",
        "1",
        "--messages",
        "2000",
        "--lock-stats",
        "--ceiling-ms",
        "20",
    ];
    let paths = ["--out", out.to_str().expect("utf-8"), "--report", report.to_str().expect("utf-8")];
    let (stdout, code) = harness(&[&args[..], &paths[..]].concat());
    assert_eq!(code, 0, "{stdout}");
    let dom = dom(&report.join("index.html"));
    let at = dom.find("Lock statistics, per strategy and cell").expect("the lock table");
    let table = &dom[at..at + dom[at..].find("</table>").expect("table closed")];
    for strategy in ["mutex", "rwlock"] {
        assert!(table.contains(&format!("<tr><td>{strategy}</td>")), "no {strategy} row");
    }
    let at = dom.find("data-chart=\"lock-time-runs\"").expect("where the time goes, per strategy");
    let chart = &dom[at..at + dom[at..].find("</figure>").expect("figure closed")];
    assert!(chart.contains("mutex producers (2)") && chart.contains("rwlock consumers (1)"));
    assert!(screenshot_colours(&report.join("index.html"), &dir.path().join("compare.png")) > 50);
    keep(dir.path(), "compare");
}

#[test]
fn the_lab_writes_a_page_with_its_sweep_and_charts_inline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, report) = (dir.path().join("out"), dir.path().join("report"));
    let args = [
        "lab",
        "--strategies",
        "mutex,rwlock",
        "--threads",
        "1,2",
        "--read-share",
        "0,90",
        "--read-records",
        "1",
        "--repeat",
        "2",
        "--cell-ms",
        "5",
        "--prefill",
        "100",
    ];
    let paths = ["--out", out.to_str().expect("utf-8"), "--report", report.to_str().expect("utf-8")];
    let (stdout, code) = harness(&[&args[..], &paths[..]].concat());
    assert_eq!(code, 0, "{stdout}");
    let file = report.join("index.html");
    assert!(stdout.contains(&format!("report page: {}", file.display())), "{stdout}");
    let dom = dom(&file);
    // The configuration and the machine.
    assert!(dom.contains("<dt>strategies</dt><dd>mutex, rwlock</dd>") && dom.contains("<dt>cores</dt>"));
    // The charts inline, as SVG: a throughput chart for the one read length, and the crossover.
    for chart in ["lab_throughput_r1", "lab_crossover"] {
        let at = dom.find(&format!("data-chart=\"{chart}\"")).unwrap_or_else(|| panic!("no {chart}"));
        assert!(
            dom[at..].trim_start_matches(|c| c != '>').get(1..5) == Some("<svg"),
            "{chart} is not inline SVG"
        );
    }
    assert!(!dom.contains(".png"), "no chart embedded by path");
    // The sweep: one row per mix (2 threads × 2 shares), a column per strategy with its spread.
    let at = dom.find("<section class=\"table\">").expect("the sweep table");
    let table = &dom[at..at + dom[at..].find("</table>").expect("table closed")];
    assert!(table.contains("<th>mutex ops/s</th>") && table.contains("<th>rwlock ops/s</th>"));
    assert_eq!(count(table, "<tr>") - 1, 4, "a row per mix");
    assert!(table.contains("–"), "each figure with its slowest and fastest repeat");
    assert!(dom.contains("<section id=\"findings\">"), "what the data says");
    assert!(screenshot_colours(&file, &dir.path().join("lab.png")) > 50);
    keep(dir.path(), "lab");
}
