//! One run (or one lesson) as a single self-contained web page: `index.html`.
//!
//! The page is built in two steps. Whoever ran the experiment fills a [`Page`], a model made of
//! plain values (strings, numbers, bars); [`render`](fn@render) turns it into one HTML file with its charts
//! inline as SVG, its styles inline, no font, image or script loaded from anywhere (a
//! Content-Security-Policy forbids it), and one short script that only marks the page as loaded.
//! Nothing here knows how a run is made, so a page can be built from a test's hand-made model
//! as well as from a run.
//!
//! What a page shows, top to bottom:
//! - the configuration and the machine, the verdict, the headline figures beside their ceilings;
//! - throughput per 100 ms window, latency percentiles over time and a sampled scatter of single
//!   request latencies (as Jepsen's `rate` and `latency-raw` plots), lock statistics if measured
//!   (a table per section and "where the time goes" as stacked bars, [`locks`]), fairness;
//! - every violation kind found, its definition, and for each example a zoomed timeline of the
//!   operations around it;
//! - the timeline: one lane per producer and consumer, each request a bar from send to answer,
//!   coloured by outcome.
//!
//! Pages of several runs (a comparison, the demo) add tables, bars comparing the runs, figures in
//! large type and every run's lock time in one chart; the lab's page ([`lab`]) is made of
//! findings, its charts drawn elsewhere as SVG ([`Figure`]) and its sweep as a table.
//!
//! Size: the renderer bounds what it draws, whatever the model holds. The full timeline merges
//! bars closer than one pixel with the same outcome (at most [`render::TIMELINE_WIDTH`] rects
//! per lane), the scatter keeps at most [`render::MAX_SCATTER`] points, a zoomed window at most
//! [`render::MAX_WINDOW_BARS`] bars. With 64 lanes that stays near 4 MB in the worst case, and
//! far under it for the default run (8 producers, 1 consumer).

pub mod build;
mod charts;
pub mod from_rows;
pub mod lab;
pub mod locks;
pub mod render;

pub use render::{render, write};

/// Everything one page shows.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The page's heading, e.g. "synclog run: strategy none, 8 producers".
    pub title: String,
    /// One or two sentences under the heading.
    pub subtitle: String,
    /// Large type and fewer details, for a projector.
    pub classroom: bool,
    /// Named settings of the run (strategy, producers, messages, transport, ...).
    pub configuration: Vec<(String, String)>,
    /// The machine the run was measured on (cores, kernel, file system, ...).
    pub machine: Vec<(String, String)>,
    /// Sentences read from the data, listed under the setup ("What the data says").
    pub findings: Vec<String>,
    /// The runs the page shows; two or more are drawn side by side.
    pub runs: Vec<RunView>,
    /// One violation drawn large after the runs (the demo's collision), if any.
    pub spotlight: Option<Spotlight>,
    /// Tables after the runs (the demo's violations per strategy, a comparison's cells).
    pub tables: Vec<TableView>,
    /// A bar chart comparing the runs (the demo's "what it costs"), if any.
    pub cost: Option<CostChart>,
    /// Figures in large type after the cost (the demo's readers' wait share per strategy).
    pub callouts: Option<Callouts>,
    /// "Where the time goes" of several runs together, if measured.
    pub lock_time: Option<TimeChart>,
    /// Charts drawn elsewhere, inline after everything else (the lab's).
    pub figures: Vec<Figure>,
    /// Closing paragraphs (plain text; one per entry).
    pub notes: Vec<String>,
}

/// One run: its verdict, figures, charts, violations and timeline.
#[derive(Debug, Clone, Default)]
pub struct RunView {
    /// A short name shown above the run ("none", "Act 1: mutex", ...).
    pub name: String,
    pub verdict: Verdict,
    pub headlines: Vec<Headline>,
    /// Messages per second in consecutive 100 ms windows, one series per side (produce,
    /// consume); `points` are (seconds since start, messages/s).
    pub throughput: Vec<Series>,
    /// Latency percentiles per 100 ms window, of the sends after each producer's warm-up.
    pub latency: Vec<LatencyWindow>,
    /// Single request latencies, already sampled by whoever filled the model.
    pub scatter: Vec<ScatterPoint>,
    /// Lock statistics, when the run measured them (`--lock-stats`).
    pub locks: Option<LockView>,
    /// How evenly the producers and the consumers were served, when measured.
    pub fairness: Vec<FairnessRow>,
    /// Every violation kind found (count > 0), in report order.
    pub violations: Vec<ViolationView>,
    /// All lanes over the whole run.
    pub timeline: Timeline,
    /// An open-loop run: the history keeps each send's due time, not when it left, so the
    /// scatter and the timeline start each request at its due time and say so.
    pub open_loop: bool,
}

/// The run's verdict in one word and one sentence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// `true` when any error kind was found.
    pub corrupted: bool,
    /// "valid" or "corrupted", or another word the runner uses.
    pub word: String,
    /// One sentence: what was checked and what was found.
    pub sentence: String,
}

/// A headline figure and, when one was measured in the same run, the ceiling it is bounded by.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    pub label: String,
    pub value: f64,
    pub unit: String,
    pub ceiling: Option<Ceiling>,
}

/// A bound for a headline, measured in the same run.
#[derive(Debug, Clone, PartialEq)]
pub struct Ceiling {
    pub label: String,
    pub value: f64,
}

/// A line over time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub name: String,
    /// (seconds since the run started, value).
    pub points: Vec<(f64, f64)>,
}

/// Latency percentiles of the requests that ended in one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyWindow {
    /// The window's start, seconds since the run started.
    pub t_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
}

/// One request in the latency scatter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScatterPoint {
    /// When it was sent, seconds since the run started.
    pub t_s: f64,
    pub latency_us: f64,
    pub outcome: Outcome,
}

/// A run's lock statistics: the sections' figures and where the time went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LockView {
    /// What the figures cover and what "contended" means, in a sentence or two.
    pub note: String,
    /// One row per section that was entered.
    pub rows: Vec<LockRow>,
    /// One stacked bar per side (producers, consumers): waiting, holding, outside the lock.
    pub time: Vec<TimeBar>,
}

/// Lock statistics of one strategy and section (read or write).
#[derive(Debug, Clone, PartialEq)]
pub struct LockRow {
    /// "write", "read", or a strategy and section ("rwlock read").
    pub section: String,
    pub acquisitions: u64,
    /// Share of acquisitions that waited longer than an uncontended acquire, 0..=1.
    pub contended_share: f64,
    pub wait_p50_ns: f64,
    pub wait_p99_ns: f64,
    pub wait_p999_ns: f64,
    pub wait_max_ns: f64,
    pub hold_p50_ns: f64,
    pub hold_p99_ns: f64,
}

/// Shares of one side's time, each 0..=1, adding up to 1: one stacked bar of "where the time
/// goes".
#[derive(Debug, Clone, PartialEq)]
pub struct TimeBar {
    /// "producers (8)", "mutex readers (4)".
    pub name: String,
    /// Waiting to enter a section.
    pub wait: f64,
    /// Inside a section.
    pub hold: f64,
    /// Everything else.
    pub outside: f64,
}

/// Stacked bars of several runs drawn together (a comparison's strategies, the demo's Act 2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeChart {
    pub title: String,
    pub bars: Vec<TimeBar>,
}

/// How evenly one side's actors were served.
#[derive(Debug, Clone, PartialEq)]
pub struct FairnessRow {
    /// "producers", "consumers".
    pub side: String,
    /// "msg/s", "records/s".
    pub unit: String,
    pub actors: usize,
    pub min: f64,
    pub max: f64,
    /// Jain's fairness index: 1 when all are equal, 1/actors when one got everything.
    pub jain: f64,
}

/// A few figures in large type, one per run (the demo's readers' wait share per strategy).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Callouts {
    pub title: String,
    pub items: Vec<Callout>,
    /// A sentence under the figures: what they measure.
    pub note: String,
}

/// One figure in large type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Callout {
    /// "mutex".
    pub label: String,
    /// "62 %".
    pub value: String,
    /// A smaller line under the value ("holding it 21 %").
    pub detail: String,
}

/// A chart drawn elsewhere, as an SVG document (the lab's charts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figure {
    /// Its name, the `data-chart` attribute (`lab_crossover`).
    pub name: String,
    pub svg: String,
}

/// One violation kind found in the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViolationView {
    /// The kind's name as in `docs/violations.md` (`ack_offset_collision`).
    pub kind: String,
    /// Its one-line definition.
    pub definition: String,
    pub count: u64,
    pub examples: Vec<ExampleView>,
}

/// One example of a violation, with the operations around it when they are known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExampleView {
    /// The example in words ("topic t0, offset 41, producer 3 seq 17").
    pub text: String,
    /// The zoomed timeline around it; highlighted bars are the operations involved.
    pub window: Option<Timeline>,
}

/// Lanes of bars over a span of time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// The span drawn, ns since the run started.
    pub start_ns: u64,
    pub end_ns: u64,
    pub lanes: Vec<Lane>,
}

/// One producer's or consumer's requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lane {
    /// "producer 3", "consumer 0".
    pub name: String,
    /// In start order.
    pub bars: Vec<Bar>,
}

/// One request: sent at `start_ns`, answered (or given up) at `end_ns`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bar {
    pub start_ns: u64,
    pub end_ns: u64,
    pub outcome: Outcome,
    /// Part of a violation example: drawn with a thick outline.
    pub highlight: bool,
    /// Shown on the bar in a zoomed window and as its tooltip ("append -> offset 41").
    pub label: String,
}

/// How a request ended, which decides its colour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Acknowledged, or a fetch answered with records.
    #[default]
    Ok,
    /// Answered with an error.
    Failed,
    /// No answer.
    Unknown,
    /// A fetch answered CorruptLog.
    Corrupt,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Ok, Outcome::Failed, Outcome::Unknown, Outcome::Corrupt];

    /// The word in the legend.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Unknown => "no answer",
            Outcome::Corrupt => "corrupt read",
        }
    }

    /// Fill colour (colour-blind-safe Okabe–Ito palette), as CSS hex.
    pub fn colour(self) -> &'static str {
        match self {
            Outcome::Ok => "#56b4e9",
            Outcome::Failed => "#d55e00",
            Outcome::Unknown => "#e69f00",
            Outcome::Corrupt => "#cc79a7",
        }
    }
}

/// Bars compared across runs, e.g. the cost of each strategy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CostChart {
    pub title: String,
    pub unit: String,
    /// (run name, value); drawn in this order.
    pub bars: Vec<(String, f64)>,
}

/// A small table of text cells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableView {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One example drawn full width in large type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spotlight {
    pub title: String,
    /// What to look at, in a sentence or two.
    pub text: String,
    pub window: Timeline,
}
