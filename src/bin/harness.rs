//! `harness`: races producers and consumers against a synclog broker and checks integrity.

mod common;

use clap::{Args, Parser, Subcommand};
use common::{exit_code, EXIT_ERROR, EXIT_USAGE};
use std::path::PathBuf;
use std::process::ExitCode;
use synclog::experiment::outputs;
use synclog::experiment::run::RunConfig;
use synclog::experiment::Outcome;
use synclog::report::TransportKind;
use synclog::storage::{AppendMode, FsyncMode};
use synclog::strategies::StrategyKind;

/// Race many producers and consumers against a synclog broker, measure throughput and latency,
/// and prove or disprove integrity: every lost, duplicated, torn or misplaced message is found
/// and counted.
///
/// With no subcommand it runs `run`: `harness --strategy rwlock --producers 8` runs rwlock with
/// 8 producers and 4 consumers against an embedded broker on 127.0.0.1 (an ephemeral port and a
/// temporary data dir). Exit codes: 0 clean, 3 integrity violated, 1 error (a run whose sends
/// were not all acknowledged among them: it prints `verdict: incomplete`), 2 bad usage.
#[derive(Parser)]
#[command(name = "harness", version, about, long_about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// One run (the default): load, drain, verify, check, report. Throughput counts acknowledged
    /// messages; a run whose sends were not all acknowledged says `verdict: incomplete` and exits
    /// 1 (3 if a violation was found).
    Run(RunArgs),
    /// The matrix: strategies × producers × consumers, one fresh broker per cell, with the
    /// machine's ceilings measured in the same run; writes results.csv/json, SVG and PNG charts
    /// and summary.md into --out.
    ///
    /// Exit 0 when the whole matrix ran (violations under `none` are data), 3 if a locking
    /// strategy showed a violation, 1 if some run's sends were not all acknowledged (after
    /// writing every file).
    Compare(CompareArgs),
    /// The classroom demo: act 1 the race (none beside the locks), act 2 the cost of each lock,
    /// act 3 shrinking the critical section (rwlock with --append whole and reserve).
    ///
    /// Exit 0 when it came out as taught (none corrupted, every lock clean), 3 if a lock showed a
    /// violation (a bug), 1 if none never corrupted even at the widest race window tried.
    Demo {
        /// Keep every run's topics here; `synclog verify --data-dir DIR` then shows the damage.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Also write the classroom page, DIR/index.html: act 1's runs side by side with the
        /// collision drawn, act 2's cost as bars, in type large enough for a projector.
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        /// Lock statistics are on in the demo (act 1: how often the writers' section was
        /// contended; act 2: the readers' share of time waiting for the lock); this is the default.
        /// Act 3 times the lock either way: hold time is its subject. Not with --no-lock-stats
        /// (exit 2).
        #[arg(long, conflicts_with = "no_lock_stats")]
        lock_stats: bool,
        /// Run the plain strategies in acts 1 and 2, without lock statistics. Not with
        /// --lock-stats (exit 2).
        #[arg(long)]
        no_lock_stats: bool,
    },
    /// The lab: the read/write sweep, straight on the log in this process (no sockets, so the
    /// lock is the cost that matters).
    ///
    /// Threads share one log; each operation is a read (fetch --read-records records from a
    /// random offset: the read section's length) with probability --read-share %, else an
    /// append. Every combination of --strategies × --threads × --read-share × --read-records is
    /// a cell; each cell runs --repeat times for --cell-ms on a fresh, pre-filled log, and is
    /// reported with the median and the spread of its repeats. After each repeat the log is
    /// verified. Writes results.csv, results.json, summary.md (which lock wins each mix, by how
    /// much, and where a reader-writer lock starts to pay) and charts into --out, and with
    /// --report DIR a page to open in a browser, DIR/index.html.
    ///
    /// Exit 0 when the sweep ran and every locking strategy's logs verified clean, 3 if one did
    /// not.
    Lab(LabArgs),
}

/// The flags of `lab` (docs/cli.md).
#[derive(Args, Debug, Clone)]
struct LabArgs {
    /// Strategies, comma-separated (none may be added: it tears its log, and is never a winner).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "semaphore,rwlock,mutex")]
    strategies: Vec<StrategyKind>,
    /// Thread counts, comma-separated. More threads than cores shows how each lock parks.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    threads: Vec<u32>,
    /// Read shares in percent of operations, comma-separated (0: appends only; 100: reads only).
    #[arg(long, value_delimiter = ',', default_value = "0,50,90,99")]
    read_share: Vec<u32>,
    /// Records each read fetches, comma-separated: the read section's length (1 is short, a few
    /// hundred is long enough for overlapping readers to pay).
    #[arg(long, value_delimiter = ',', default_value = "1,256")]
    read_records: Vec<u32>,
    /// Payload bytes of each append (and of the pre-filled records): one size (100), or MIN..MAX
    /// for sizes drawn uniformly from the seed (64..4096).
    #[arg(long, default_value = "100")]
    message_bytes: synclog::experiment::lab::MessageBytes,
    /// How many times each cell runs, each on a fresh log; the report gives min, median and max.
    /// From 1 to 100.
    #[arg(long = "repeat", default_value_t = 3)]
    repeat: u32,
    /// How long each repeat of a cell runs, in milliseconds; from 1 to 60000 (a minute).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=MAX_MS))]
    cell_ms: u64,
    /// Records appended to each fresh log before a repeat, for reads to read (at least the
    /// longest --read-records, at most 1000000).
    #[arg(long, default_value_t = 20_000)]
    prefill: u64,
    /// Seed of the operation mix, the read offsets and the message sizes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write results.csv, results.json, summary.md and the charts.
    #[arg(long, default_value = "lab-out")]
    out: PathBuf,
    /// Criterion's directory, where `cargo bench --bench append` left its results: each
    /// strategy's append/single/<strategy>/1 figure is printed beside the lab's 1-thread, 0 %
    /// reads cell. Default: $CARGO_TARGET_DIR/criterion, else target/criterion.
    #[arg(long)]
    criterion_dir: Option<PathBuf>,
    /// Also write DIR/index.html: one self-contained page with the configuration, the machine,
    /// what the data says, the charts inline as SVG and the sweep as a table (open it in a
    /// browser; nothing is loaded from the network).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
}

fn lab(args: &LabArgs) -> anyhow::Result<u8> {
    use synclog::experiment::lab::{Bound, LabConfig};
    let config = LabConfig {
        strategies: args.strategies.clone(),
        threads: args.threads.clone(),
        read_shares: args.read_share.clone(),
        read_records: args.read_records.clone(),
        message_bytes: args.message_bytes,
        repeats: args.repeat,
        bound: Bound::Time(std::time::Duration::from_millis(args.cell_ms)),
        prefill_records: args.prefill,
        seed: args.seed,
    };
    if let Err(e) = check_lab_lists(args).map_err(anyhow::Error::msg).and_then(|()| config.validate()) {
        eprintln!("harness: {e:#}");
        return Ok(EXIT_USAGE);
    }
    // What the sweep will write, checked before its first cell.
    outputs::prepare_dir("--out", &args.out)?;
    if let Some(dir) = &args.report {
        outputs::prepare_dir("--report", dir)?;
    }
    let bar = indicatif::ProgressBar::new(config.cells().len() as u64);
    let mut result = synclog::experiment::lab::lab(&config, |done, _, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    let criterion_dir =
        args.criterion_dir.clone().unwrap_or_else(synclog::experiment::bench_figures::default_criterion_dir);
    let names: Vec<&str> = args.strategies.iter().map(|s| s.name()).collect();
    result.bench_append = synclog::experiment::bench_figures::append_single(&criterion_dir, &names);
    result.criterion_dir = criterion_dir.display().to_string();
    synclog::report::lab_summary::write_lab(&result, &args.out)?;
    println!(
        "lab: {}; results in {}",
        synclog::report::count(result.cells.len() as u64, "cell"),
        args.out.display()
    );
    for line in synclog::report::lab_summary::bench_lines(&result) {
        println!("{line}");
    }
    if let Some(dir) = &args.report {
        let page = synclog::report::page::lab::lab_page(&result).map_err(anyhow::Error::msg)?;
        let path = synclog::report::page::write(&page, dir).map_err(anyhow::Error::msg)?;
        println!("report page: {}", path.display());
    }
    let clean = synclog::experiment::lab::locks_clean(&result);
    Ok(exit_code(if clean { Outcome::Clean } else { Outcome::Violated }))
}

/// The flags of one run (docs/cli.md).
#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// How the log's critical sections are guarded.
    #[arg(long, value_enum, default_value_t = StrategyKind::RwLock)]
    strategy: StrategyKind,
    /// Producer threads, each with its own connection; from 1 to 1024.
    #[arg(long, default_value_t = 8)]
    producers: u32,
    /// Consumer threads reading from offset 0 (0 measures producing alone); at most 1024.
    #[arg(long, default_value_t = 4)]
    consumers: u32,
    #[command(flatten)]
    common: CommonArgs,
    /// Pair appenders up: each append waits between reading the offset and writing for a second
    /// appender to reach the same point (at most 5 ms), so that under `none` collisions are
    /// certain. One run only: compare does not take it.
    #[arg(long)]
    force_race: bool,
    /// Also write the report as one JSON object to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write the run's report page, DIR/index.html: one self-contained file with the
    /// figures, throughput and latency over time, every violation kind found with a zoomed
    /// timeline of each example, and the timeline of every request (open it in a browser).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
}

/// The flags of `compare`: lists where `run` takes one value.
#[derive(Args, Debug, Clone)]
struct CompareArgs {
    /// Strategies, comma-separated, each at most once. With --broker, one only: the remote
    /// broker runs its own --strategy, and each cell is labelled with this value.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "none,semaphore,rwlock,mutex,std-rwlock")]
    strategies: Vec<StrategyKind>,
    /// Producer counts, comma-separated, each at most once.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    producers: Vec<u32>,
    /// Consumer counts, comma-separated, each at most once.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    consumers: Vec<u32>,
    #[command(flatten)]
    common: CommonArgs,
    /// Where to write results.csv, results.json, the charts and summary.md.
    #[arg(long, default_value = "compare-out")]
    out: PathBuf,
    /// Also write the comparison's report page, DIR/index.html: every cell, and side by side a
    /// corrupted and a clean cell with their timelines and violations drawn.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Also run the performance-goal workloads and tabulate them in summary.md.
    #[arg(long)]
    goals: bool,
    /// With --goals: also run the peers a user would pick instead — Redis Streams (XADD) and NATS
    /// JetStream — on the goal workloads that name them, each on its own fresh server with its
    /// data on the same file system, driven by the same kind of client threads. Needs
    /// redis-server and nats-server installed (Debian packages of those names); a missing one is
    /// noted in summary.md.
    #[arg(long, requires = "goals")]
    peers: bool,
    /// How long each ceiling is measured, in milliseconds; from 10 to 60000 (a minute).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=MAX_MS))]
    ceiling_ms: u64,
    /// Open-loop latency curves: run every strategy at each of these total rates (messages per
    /// second, comma-separated), at the largest --producers value and the first --consumers
    /// value, each request timed from when it was due (see --rate; each from 1 to 1000000000).
    /// summary.md tabulates
    /// p50/p99/p99.9 against the rate achieved, names each strategy's saturation point, and
    /// latency_vs_rate.png draws it.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    rates: Vec<f64>,
    /// With --rates: a strategy holds a rate while its p99 stays under this many milliseconds
    /// (and it achieves 95 % of the rate); at least 1.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    p99_bound_ms: u64,
}

/// Flags shared by `run` and `compare`.
#[derive(Args, Debug, Clone)]
struct CommonArgs {
    /// Messages over all producers, split evenly: a multiple of --producers (compare: of every
    /// --producers value), at most 200000000 (the run's history takes 49 bytes per message).
    #[arg(long, default_value_t = 200_000)]
    messages: u64,
    /// The whole payload of each message, at least 20 bytes: one size (100), or MIN..MAX for
    /// sizes drawn uniformly per message from the seed (60..140). Under `none`, colliding
    /// appends of one size leave a well-formed file (the damage is lost messages); of different
    /// sizes they tear the log (bytes that are no record, index entries into a record).
    #[arg(long, default_value = "100", value_parser = parse_sizes, value_name = "BYTES|MIN..MAX")]
    message_bytes: (usize, Option<usize>),
    /// Messages per produce request.
    #[arg(long, default_value_t = 1)]
    batch: u32,
    /// Produce requests each producer keeps outstanding (pipelining); from 1 to 65536.
    #[arg(long, default_value_t = 1)]
    in_flight: u32,
    /// Topics; producer p writes topic p % topics, consumer c reads topic c % topics.
    #[arg(long, default_value_t = 1)]
    topics: u32,
    /// tcp: through a broker over loopback; inproc: straight on the log, no sockets.
    #[arg(long, value_enum, default_value_t = TransportKind::Tcp)]
    transport: TransportKind,
    /// Microseconds each append pauses between reading the offset and writing (widens the race);
    /// 0 (the default) to 1000000 (one second). Not with --broker or --target.
    #[arg(long, value_name = "N")]
    race_window_us: Option<u64>,
    /// When appends are forced to disk: never (the default), interval or always. Not with
    /// --broker or --target.
    #[arg(long, value_enum, value_name = "MODE")]
    fsync: Option<FsyncMode>,
    /// The interval for --fsync interval, 1000 by default; at least 1, as the broker's.
    /// Not with --broker or --target.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    fsync_interval_ms: Option<u64>,
    /// What each append's write section covers. whole: the offset, the write and the index, as
    /// the classic lesson has it (the default). reserve: only the reservation of an offset and a
    /// byte range; the bytes are written outside the section, in parallel, and published in
    /// offset order, so readers never see a hole (docs/format.md). Not with --broker or --target.
    #[arg(long, value_enum, value_name = "MODE")]
    append: Option<AppendMode>,
    /// The first percent of each producer's messages is sent and checked but not timed; below 100.
    #[arg(long, default_value_t = 5)]
    warmup_percent: u32,
    /// Open loop: send at this many messages per second in total, spread evenly over the
    /// producers, each request at its due time whatever the answers do (--in-flight still caps
    /// what is outstanding). Latency is timed from when each request was due, so a stall shows
    /// in every request it delayed instead of hiding (coordinated omission); the report says how
    /// far behind schedule the producers fell. From 1 to 1000000000. Without it, closed loop:
    /// each producer sends its next request when an answer frees a slot.
    #[arg(long, value_name = "MSGS_PER_S")]
    rate: Option<f64>,
    /// Seed of the payload bodies.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Use the synclog broker at HOST:PORT instead of an embedded one (the files are not checked).
    /// A value not of the form HOST:PORT is bad usage (exit 2); a name that does not resolve,
    /// or a broker that does not answer, is an error (exit 1).
    #[arg(long, value_name = "HOST:PORT")]
    broker: Option<String>,
    /// A Kafka-protocol cluster, kafka://HOST:PORT (synclog's --kafka-listen, Kafka, Redpanda):
    /// the same load over Produce v3 and Fetch v4; the files are not checked. The cluster must
    /// create topics on Metadata requests (auto-creation).
    #[arg(long, value_name = "kafka://HOST:PORT")]
    target: Option<String>,
    /// Keep the data here instead of a temporary directory. Not with --broker or --target
    /// (their data stays where that system keeps it).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Measure the lock itself: run the strategy wrapped in a timer and report, for read and
    /// write sections, acquisitions, the contended share, wait p50/p99/p99.9/max, hold p50/p99
    /// and each side's share of time waiting, holding and outside the lock (from the first
    /// producer leaving its warm-up to the end of the load). Costs about 60–100 ns per section
    /// (measured as stated in strategies/src/timed.rs); without it the plain strategy runs. Not
    /// with --broker or --target.
    #[arg(long)]
    lock_stats: bool,
}

impl CommonArgs {
    /// Refuses the embedded log's settings, when given, with a remote system (`--broker`,
    /// `--target`): it keeps the ones it was started with, and the report would claim others.
    fn check_remote(&self) -> Result<(), String> {
        if self.broker.is_none() && self.target.is_none() {
            return Ok(());
        }
        let given = [
            (self.fsync.is_some(), "--fsync"),
            (self.fsync_interval_ms.is_some(), "--fsync-interval-ms"),
            (self.race_window_us.is_some(), "--race-window-us"),
            (self.append.is_some(), "--append"),
        ];
        // `--data-dir` is refused by `RunConfig::validate`, which sees it just as it was given.
        match given.into_iter().find(|(given, _)| *given) {
            Some((_, flag)) => Err(synclog::experiment::run::remote_setting(flag)),
            None => Ok(()),
        }
    }

    /// A run configuration with these flags (strategy, producers and consumers at defaults).
    fn config(&self) -> anyhow::Result<RunConfig> {
        let c = self;
        let defaults = RunConfig::default();
        Ok(RunConfig {
            messages: c.messages,
            message_bytes: c.message_bytes.0,
            message_bytes_max: c.message_bytes.1,
            batch: c.batch,
            in_flight: c.in_flight,
            topics: c.topics,
            transport: c.transport,
            race_window_us: c.race_window_us.unwrap_or(defaults.race_window_us),
            fsync: c.fsync.unwrap_or(defaults.fsync),
            fsync_interval_ms: c.fsync_interval_ms.unwrap_or(defaults.fsync_interval_ms),
            append: c.append.unwrap_or(defaults.append),
            rate: c.rate,
            warmup_percent: c.warmup_percent,
            seed: c.seed,
            broker: c.broker.clone(),
            target: c.target.clone(),
            data_dir: c.data_dir.clone(),
            lock_stats: c.lock_stats,
            ..RunConfig::default()
        })
    }
}

impl RunArgs {
    fn config(&self) -> anyhow::Result<RunConfig> {
        Ok(RunConfig {
            strategy: self.strategy,
            producers: self.producers,
            consumers: self.consumers,
            force_race: self.force_race,
            page: self.report.is_some(),
            ..self.common.config()?
        })
    }
}

fn compare(args: &CompareArgs) -> anyhow::Result<u8> {
    if args.strategies.is_empty() || args.producers.is_empty() || args.consumers.is_empty() {
        anyhow::bail!("--strategies, --producers and --consumers each need at least one value");
    }
    if let Some(e) =
        args.rates.iter().find_map(|&r| synclog::experiment::run::check_rate("every --rates value", r).err())
    {
        eprintln!("harness: {e:#}");
        return Ok(EXIT_USAGE);
    }
    if let Err(e) = check_matrix(args).and_then(|()| args.common.check_remote()) {
        eprintln!("harness: {e}");
        return Ok(EXIT_USAGE);
    }
    let config = synclog::experiment::compare::CompareConfig {
        strategies: args.strategies.clone(),
        producers: args.producers.clone(),
        consumers: args.consumers.clone(),
        base: RunConfig { page: args.report.is_some(), ..args.common.config()? },
        out: args.out.clone(),
        report: args.report.clone(),
        goals: args.goals,
        peers: args.peers,
        ceiling_duration: std::time::Duration::from_millis(args.ceiling_ms),
        rates: args.rates.clone(),
        p99_bound_us: args.p99_bound_ms.saturating_mul(1000),
    };
    // Every cell's flags are checked before the first runs: a contradiction is bad usage.
    for &strategy in &config.strategies {
        for &producers in &config.producers {
            for &consumers in &config.consumers {
                let cell =
                    synclog::experiment::compare::cell_config(&config.base, strategy, producers, consumers);
                if let Err(e) = cell.validate() {
                    eprintln!("harness: {e:#}");
                    return Ok(EXIT_USAGE);
                }
            }
        }
    }
    // What the matrix will write, checked before its first cell.
    outputs::prepare_dir("--out", &config.out)?;
    if let Some(dir) = &config.report {
        outputs::prepare_dir("--report", dir)?;
    }
    if let Some(dir) = &config.base.data_dir {
        outputs::prepare_dir("--data-dir", dir)?;
    }
    // Unlocked: each line takes stderr for its own write, so an interrupt can still say what it removed.
    synclog::experiment::compare::compare(&config, &mut std::io::stderr()).map(exit_code)
}

fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let config = args.config()?;
    if let Err(e) = args.common.check_remote().map_err(anyhow::Error::msg).and_then(|()| config.validate()) {
        // Flags that contradict each other are bad usage (docs/cli.md): exit 2, like clap.
        eprintln!("harness: {e:#}");
        return Ok(EXIT_USAGE);
    }
    // What the run will write, checked before the load: a long run never ends unable to save.
    if let Some(path) = &args.json {
        outputs::probe_file("--json", path)?;
    }
    if let Some(dir) = &args.report {
        outputs::prepare_dir("--report", dir)?;
    }
    if let Some(dir) = &config.data_dir {
        outputs::prepare_dir("--data-dir", dir)?;
    }
    let report = synclog::experiment::run::run(&config)?;
    synclog::report::table::print_run(&report, &mut std::io::stdout().lock())?;
    if let Some(dir) = &args.report {
        let view = report.page.as_ref().map(|d| d.view().clone()).unwrap_or_default();
        let page = synclog::report::page::from_rows::run_page(&report, view, None);
        let path = synclog::report::page::write(&page, dir).map_err(anyhow::Error::msg)?;
        println!("report page: {}", path.display());
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report)?;
        std::fs::write(path, json)
            .map_err(|e| anyhow::anyhow!("--json {}: cannot write: {e}", path.display()))?;
    }
    // Integrity first (3); then a load not wholly acknowledged is an error (1), not a success.
    Ok(match (report.is_clean(), report.is_complete()) {
        (false, _) => exit_code(Outcome::Violated),
        (true, false) => EXIT_ERROR,
        (true, true) => exit_code(Outcome::Clean),
    })
}

fn demo(data_dir: &Option<PathBuf>, report: &Option<PathBuf>, no_lock_stats: bool) -> anyhow::Result<u8> {
    // What the demo will write, checked before its first act.
    if let Some(dir) = report {
        outputs::prepare_dir("--report", dir)?;
    }
    if let Some(dir) = data_dir {
        outputs::prepare_dir("--data-dir", dir)?;
    }
    let config = synclog::experiment::demo::DemoConfig {
        data_dir: data_dir.clone(),
        report: report.clone(),
        lock_stats: !no_lock_stats,
    };
    synclog::experiment::demo::demo(&config, &mut std::io::stdout().lock()).map(exit_code)
}

/// The longest --ceiling-ms and --cell-ms: a minute per measurement.
const MAX_MS: u64 = 60_000;

/// The first value `list` holds twice, if any.
fn twice<T: PartialEq + Copy>(list: &[T]) -> Option<T> {
    list.iter().enumerate().find(|(i, v)| list[..*i].contains(v)).map(|(_, v)| *v)
}

/// Refuses a strategy named twice in `--strategies`, and a count named twice in each of the
/// count lists (`(flag, values)`): a repeated cell would run twice and be reported as two.
fn check_lists(strategies: &[StrategyKind], counts: &[(&str, &[u32])]) -> Result<(), String> {
    if let Some(s) = twice(strategies) {
        return Err(format!("--strategies names {} twice: give each strategy once", s.name()));
    }
    for (flag, values) in counts {
        if let Some(n) = twice(values) {
            return Err(format!("{flag} names {n} twice: give each value once"));
        }
    }
    Ok(())
}

/// The lab's lists: each value at most once, as for compare's matrix.
fn check_lab_lists(args: &LabArgs) -> Result<(), String> {
    check_lists(
        &args.strategies,
        &[
            ("--threads", &args.threads),
            ("--read-share", &args.read_share),
            ("--read-records", &args.read_records),
        ],
    )
}

/// The matrix's lists: each value at most once (a repeated cell would run twice and be drawn
/// once), and one strategy with --broker (the remote broker runs its own, whatever the label).
fn check_matrix(args: &CompareArgs) -> Result<(), String> {
    check_lists(&args.strategies, &[("--producers", &args.producers), ("--consumers", &args.consumers)])?;
    if args.common.broker.is_some() && args.strategies.len() > 1 {
        return Err(format!(
            "--broker with {} --strategies values: the remote broker runs only the strategy it was started \
             with, so give one --strategies value (that broker's)",
            args.strategies.len()
        ));
    }
    Ok(())
}

/// `--message-bytes`: `N` or `MIN..MAX`.
fn parse_sizes(s: &str) -> Result<(usize, Option<usize>), String> {
    let number =
        |t: &str| t.trim().parse::<usize>().map_err(|e| format!("{t:?} is not a size in bytes: {e}"));
    match s.split_once("..") {
        None => Ok((number(s)?, None)),
        Some((min, max)) => {
            let (min, max) = (number(min)?, number(max)?);
            if min > max {
                return Err(format!("{min}..{max}: MIN must not exceed MAX"));
            }
            Ok((min, Some(max)))
        }
    }
}

/// On SIGINT or SIGTERM: stops the peer servers a compare started and removes the temporary
/// directories alive now (a run's data, a compare's scratch, a lab cell's log:
/// `synclog::experiment::scratch`), then ends the process
/// by that signal, as if it had not been caught (a shell sees 130 or 143, and a script running
/// the harness stops on Ctrl-C as it would have). A `--data-dir` is kept.
fn remove_scratch_on_interrupt() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("interrupt".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            // The servers first, so none writes into a directory being removed.
            let killed = synclog::experiment::scratch::kill_all();
            let done = synclog::experiment::scratch::remove_all();
            let dirs = if done.removed == 1 { "directory" } else { "directories" };
            let servers = match killed {
                0 => String::new(),
                1 => "stopped 1 peer server, ".to_string(),
                n => format!("stopped {n} peer servers, "),
            };
            eprintln!("harness: interrupted; {servers}removed {} temporary {dirs}", done.removed);
            for (dir, e) in &done.failed {
                eprintln!("harness: could not remove {}: {e}", dir.display());
            }
            let _ = signal_hook::low_level::emulate_default_handler(signal);
            std::process::exit(128 + signal);
        }
    })?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = remove_scratch_on_interrupt() {
        eprintln!(
            "harness: cannot catch SIGINT and SIGTERM ({e}); an interrupted run leaves its temporary data"
        );
    }
    let result = match &cli.command {
        None => run(&cli.run),
        Some(Command::Run(args)) => run(args),
        Some(Command::Compare(args)) => compare(args),
        Some(Command::Demo { data_dir, report, no_lock_stats, .. }) => demo(data_dir, report, *no_lock_stats),
        Some(Command::Lab(args)) => lab(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("harness: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
