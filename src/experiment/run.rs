//! One harness run: start a broker (or reach one), race producers and consumers against it,
//! drain every topic, verify the files, check the history, and report.
//!
//! The phases:
//! 1. **Set up.** An embedded broker on 127.0.0.1 (ephemeral port, a temporary data dir unless
//!    `--data-dir`), or the topics opened in-process (`--transport inproc`), or a remote broker
//!    (`--broker`), or a Kafka-protocol cluster (`--target kafka://HOST:PORT`, whose topics
//!    are created through Metadata before the load). Each topic the run will write gets a `run.json`, so `synclog verify` can
//!    later check its payloads too. Every connection is opened before the clock starts.
//!    Then every producer's payloads are encoded, all producers in parallel, before the clock
//!    starts (the `prepare` phase; see [`super::payloads`] for why and for the memory bound),
//!    and as much memory as the load will write is touched and freed, so the load's page
//!    cache does not wait for the host of a virtual machine to back it (see [`super::warm`]).
//! 2. **Load.** All producers and consumers start together at a barrier. Producer `p` sends its
//!    `messages / producers` unique payloads to topic `p % topics`, one or `--batch` per
//!    request, with up to `--in-flight` requests outstanding, never retrying. Consumer `c` reads
//!    topic `c % topics` from offset 0 with long polls until the producers are done and it has
//!    reached the final high watermark. The load ends at the last producer's last answer or a
//!    consumer's last read, whichever is later, as the threads themselves clocked it (see the
//!    `race` submodule): the run's length, the lock window and the consume rate end there.
//! 3. **Drain.** A fresh reader reads every topic from offset 0 to its end.
//! 4. **Verify and check.** The broker stops (files closed), the files are scanned (docs/violations.md
//!    A and B; skipped for a remote broker), and the history is checked (section C).
//!
//! Throughput counts the acknowledged messages after each producer's warm-up (the first
//! `--warmup-percent` of its own messages, sent and checked like the rest but not timed), over
//! the time from the first producer leaving its warm-up to the last producer's last
//! acknowledgement (open loop: see [`super::figures`]). Messages refused or left unanswered
//! are not counted; the report's `unacknowledged` says how many and the first error met.

use super::figures::{figures, open_loop_row, produce_rate, sync_figures};
use super::locks::{LockProbe, NoProbe, TopicsProbe};
use super::payloads::Preparation;
use super::transport::{
    ConsumerEndpoint, InprocTransport, KafkaTransport, ProducerEndpoint, TcpTransport, Transport,
};
use super::workers::drain_topic;
use crate::broker::{Broker, BrokerConfig};
use crate::check::history::{History, RunShape, CHECK_BYTES_PER_MESSAGE, HISTORY_BYTES_PER_MESSAGE};
use crate::check::runfile::{RunFile, RunPayloadCheck};
use crate::report::rows::{Phases, RunReport, TransportKind};
use crate::storage::FsyncMode;
use crate::storage::{verify_topic, AppendMode, LogConfig, RaceWindow, SyncTotals, Topics};
use crate::strategies::{StrategyKind, StrategyVisitor, SyncStrategy};
use crate::violations::{Section, Violations};
use anyhow::{bail, Context};
use race::{race, Race};
use rayon::prelude::*;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

mod race;

/// The widest `--race-window-us`: one second inside every append.
pub const MAX_RACE_WINDOW_US: u64 = 1_000_000;

/// The most `--messages` a run takes: 200 000 000. The history holds 41 bytes per message for the
/// whole run and 8 more while the check runs ([`HISTORY_BYTES_PER_MESSAGE`] and
/// [`CHECK_BYTES_PER_MESSAGE`], whatever `--message-bytes` is), so 200 000 000 × 49 B = 9.8 GB
/// (9.1 GiB) at the check's peak; the payloads encoded before the load take at most 1 GiB more
/// ([`PREPARED_BYTES_MAX`](super::payloads::PREPARED_BYTES_MAX): past it they are encoded during
/// the load), and the memory warm-up at most 2 GiB for a moment before it ([`super::warm`]):
/// at most about 12 GiB in all, which leaves half a 24 GiB machine to the broker, the operation logs and
/// the page cache. A larger count would be refused by the allocator (or panic) mid-setup.
pub const MAX_MESSAGES: u64 = 200_000_000;

/// The most `--in-flight` requests per producer: 65 536. Each producer keeps one
/// 16-byte entry per outstanding request (the broker answers a pipelined burst in order and caps
/// it only by its buffered bytes), and the window never needs more entries than the producer
/// has requests.
pub const MAX_IN_FLIGHT: u32 = 65_536;

/// The most `--producers`, and the most `--consumers`: 1024, the embedded broker's connection
/// cap (`broker --max-connections`' default; each producer and consumer has a connection of its
/// own). Each also keeps a thread, a latency histogram and up to 10 MiB of operations
/// ([`MAX_OPERATIONS_PER_ACTOR`](crate::check::history::MAX_OPERATIONS_PER_ACTOR) × 40 B).
pub const MAX_ACTORS: u32 = 1024;

/// The highest `--rate` (and `--rates` value): a billion messages per second, far past what any
/// run here reaches, and small enough to print as the number it is.
pub const MAX_RATE: f64 = 1e9;

/// Refuses a rate below 1 or above [`MAX_RATE`] messages per second (`flag` names it).
pub fn check_rate(flag: &str, rate: f64) -> anyhow::Result<()> {
    if !(rate.is_finite() && (1.0..=MAX_RATE).contains(&rate)) {
        bail!("{flag} must be from 1 to 1 000 000 000 messages per second, got {rate}");
    }
    Ok(())
}

/// Why `flag`, a setting of the embedded broker's log, is refused with `--broker` or `--target`.
pub fn remote_setting(flag: &str) -> String {
    format!(
        "{flag} sets the embedded broker's log: a remote broker or cluster keeps the settings it was started \
         with (synclog's: broker {flag}), so not with --broker or --target"
    )
}

/// Why `--data-dir` is refused beside `--broker` or `--target`.
const REMOTE_DATA_DIR: &str =
    "--data-dir keeps the embedded broker's data: a remote broker or cluster keeps its \
     own where it was started with it, so not with --broker or --target";

/// Everything a run is configured with (the `harness run` flags).
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub strategy: StrategyKind,
    pub producers: u32,
    pub consumers: u32,
    pub messages: u64,
    pub message_bytes: usize,
    /// `--message-bytes MIN..MAX`: the largest size (`message_bytes` is the smallest); each
    /// value's size is `check::payload::message_size` of it. `None`: every message is
    /// `message_bytes`.
    pub message_bytes_max: Option<usize>,
    pub batch: u32,
    pub in_flight: u32,
    pub topics: u32,
    pub transport: TransportKind,
    pub race_window_us: u64,
    /// Pair appenders up in the race window (a rendezvous): makes the race certain under `none`.
    pub force_race: bool,
    pub fsync: FsyncMode,
    pub fsync_interval_ms: u64,
    /// `--append`: what each append's write section covers (not with `--broker`/`--target`,
    /// whose broker decides).
    pub append: AppendMode,
    pub warmup_percent: u32,
    pub seed: u64,
    pub broker: Option<String>,
    /// A Kafka-protocol cluster, `kafka://HOST:PORT` (`--target`): the same load over the
    /// Kafka protocol, with the files out of reach as for `--broker`.
    pub target: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// `--rate`: open loop at this many messages per second in total, spread evenly over the
    /// producers; latency is timed from when each request was due. `None`: closed loop.
    pub rate: Option<f64>,
    /// Show a progress bar (only honoured on a terminal).
    pub progress: bool,
    /// Keep what the run's report page draws ([`RunReport::page`]): charts, timeline, violations.
    pub page: bool,
    /// `--lock-stats`: run the strategy wrapped in `Timed` and report its wait, hold and
    /// contention (in-process logs only: the embedded broker or `--transport inproc`). Off,
    /// the uninstrumented strategy runs.
    pub lock_stats: bool,
    /// The most bytes of payloads encoded before the load ([`super::payloads`]); past it they
    /// are encoded during the load. Not a flag: the default is
    /// [`PREPARED_BYTES_MAX`](super::payloads::PREPARED_BYTES_MAX), tests lower it.
    pub prepare_budget_bytes: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            strategy: StrategyKind::RwLock,
            producers: 8,
            consumers: 4,
            messages: 200_000,
            message_bytes: 100,
            message_bytes_max: None,
            batch: 1,
            in_flight: 1,
            topics: 1,
            transport: TransportKind::Tcp,
            race_window_us: 0,
            force_race: false,
            fsync: FsyncMode::Never,
            fsync_interval_ms: 1000,
            append: AppendMode::Whole,
            warmup_percent: 5,
            seed: 1,
            broker: None,
            target: None,
            data_dir: None,
            rate: None,
            progress: true,
            page: false,
            lock_stats: false,
            prepare_budget_bytes: super::payloads::PREPARED_BYTES_MAX,
        }
    }
}

impl RunConfig {
    /// Checks the flags against each other; the message says what to change.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.check_counts()?;
        if self.topics == 0 || self.topics > self.producers {
            bail!(
                "--topics must be between 1 and --producers ({}), since producer p writes topic p % topics",
                self.producers
            );
        }
        if self.messages == 0 || !self.messages.is_multiple_of(u64::from(self.producers)) {
            bail!(
                "--messages ({}) must be a positive multiple of --producers ({}): it is split evenly",
                self.messages,
                self.producers
            );
        }
        if self.message_bytes < crate::check::payload::PAYLOAD_OVERHEAD_BYTES {
            bail!("--message-bytes must be at least 20 (producer id, seq, body length and checksum take 20)");
        }
        if self.message_bytes_max.is_some_and(|max| max < self.message_bytes) {
            bail!("--message-bytes MIN..MAX needs MIN ≤ MAX");
        }
        if self.largest_message() > crate::storage::DEFAULT_MAX_MESSAGE_BYTES as usize {
            bail!(
                "--message-bytes must be at most {} (the broker's default --max-message-bytes)",
                crate::storage::DEFAULT_MAX_MESSAGE_BYTES
            );
        }
        if self.batch == 0 || self.in_flight == 0 {
            bail!("--batch and --in-flight must be at least 1");
        }
        if self.batch as usize > crate::protocol::MAX_PRODUCE_MESSAGES {
            bail!(
                "--batch must be at most {} (the messages one Produce request may carry)",
                crate::protocol::MAX_PRODUCE_MESSAGES
            );
        }
        if u64::from(self.batch) * self.largest_message() as u64 > 8 << 20 {
            bail!("--batch × --message-bytes must be at most 8 MiB (one request must fit a 16 MiB frame)");
        }
        if self.warmup_percent >= 100 {
            bail!("--warmup-percent must be below 100");
        }
        if self.lock_stats && (self.broker.is_some() || self.target.is_some()) {
            bail!("--lock-stats times the strategy of a log in this process: not with --broker or --target");
        }
        if let Some(broker) = &self.broker {
            if self.transport == TransportKind::Inproc {
                bail!("--broker needs --transport tcp");
            }
            super::transport::check_host_port(broker).map_err(|why| anyhow::anyhow!("--broker {why}"))?;
        }
        if self.race_window_us > MAX_RACE_WINDOW_US {
            bail!(
                "--race-window-us must be at most {MAX_RACE_WINDOW_US} (one second per append), got {}",
                self.race_window_us
            );
        }
        if let Some(target) = &self.target {
            if self.broker.is_some() {
                bail!("--broker and --target both name the system under test: give one");
            }
            if self.transport == TransportKind::Inproc {
                bail!("--target needs --transport tcp");
            }
            crate::kafka::client::bootstrap_address(target)?;
        }
        if let Some(rate) = self.rate {
            check_rate("--rate", rate)?;
        }
        self.check_remote_settings()
    }

    /// The counts whose size sets what the run allocates: producers, consumers, messages and
    /// the in-flight window, each within its bound.
    fn check_counts(&self) -> anyhow::Result<()> {
        if self.producers == 0 || self.producers > MAX_ACTORS {
            bail!(
                "--producers must be from 1 to {MAX_ACTORS} (the embedded broker's connection cap), got {}",
                self.producers
            );
        }
        if self.consumers > MAX_ACTORS {
            bail!(
                "--consumers must be at most {MAX_ACTORS} (the embedded broker's connection cap), got {}",
                self.consumers
            );
        }
        if self.messages > MAX_MESSAGES {
            bail!(
                "--messages must be at most {} (the history takes {} bytes per message), got {}",
                crate::report::table::thousands(MAX_MESSAGES),
                HISTORY_BYTES_PER_MESSAGE + CHECK_BYTES_PER_MESSAGE,
                self.messages
            );
        }
        // 0 is refused with --batch, below.
        if self.in_flight > MAX_IN_FLIGHT {
            bail!(
                "--in-flight must be at most {MAX_IN_FLIGHT} requests per producer, got {}",
                self.in_flight
            );
        }
        Ok(())
    }

    /// The settings of a log in this process, refused with a remote system (`--broker`,
    /// `--target`), which keeps its own: the forced race, and any append mode, fsync mode,
    /// fsync interval or race window but the defaults.
    fn check_remote_settings(&self) -> anyhow::Result<()> {
        if !self.remote() {
            return Ok(());
        }
        if self.force_race {
            bail!("--force-race pairs the appends of a log in this process: not with --broker or --target");
        }
        if self.append != AppendMode::Whole {
            bail!("{}", remote_setting("--append"));
        }
        if self.data_dir.is_some() {
            bail!("{REMOTE_DATA_DIR}");
        }
        let defaults = RunConfig::default();
        for (changed, flag) in [
            (self.fsync != defaults.fsync, "--fsync"),
            (self.fsync_interval_ms != defaults.fsync_interval_ms, "--fsync-interval-ms"),
            (self.race_window_us != defaults.race_window_us, "--race-window-us"),
        ] {
            if changed {
                bail!("{}", remote_setting(flag));
            }
        }
        Ok(())
    }

    /// The largest message of the run.
    pub fn largest_message(&self) -> usize {
        self.message_bytes_max.unwrap_or(self.message_bytes).max(self.message_bytes)
    }

    /// The mean message size (the middle of `MIN..MAX`, whose sizes are uniform).
    pub fn mean_message_bytes(&self) -> f64 {
        (self.message_bytes + self.largest_message()) as f64 / 2.0
    }

    /// The size of value `(producer, seq)`.
    pub fn size_of(&self, seed: u64, producer: u32, seq: u64) -> usize {
        crate::check::payload::message_size(seed, producer, seq, self.message_bytes, self.largest_message())
    }

    /// True when the system under test is not in this process (`--broker` or `--target`).
    pub(super) fn remote(&self) -> bool {
        self.broker.is_some() || self.target.is_some()
    }

    fn shape(&self) -> RunShape {
        RunShape {
            seed: self.seed,
            producers: self.producers,
            topics: self.topics,
            messages_per_producer: self.messages / u64::from(self.producers),
            message_bytes: self.message_bytes,
        }
    }

    fn race_window(&self) -> RaceWindow {
        if self.force_race {
            RaceWindow::rendezvous(2, Duration::from_millis(5))
        } else {
            RaceWindow::from_micros(self.race_window_us)
        }
    }
}

/// Runs the whole experiment described by `config`.
pub fn run(config: &RunConfig) -> anyhow::Result<RunReport> {
    let mut report = run_unsettled(config)?;
    // The page draws the final tally: the checker's and the files' violations.
    if let Some(draft) = &mut report.page {
        draft.settle(&report.violations);
    }
    Ok(report)
}

fn run_unsettled(config: &RunConfig) -> anyhow::Result<RunReport> {
    config.validate()?;
    if let Some(addr) = &config.broker {
        let addr: SocketAddr = addr
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve --broker {addr}"))?
            .next()
            .with_context(|| format!("--broker {addr} resolves to no address"))?;
        // One request before the run: a broker that is down, or a peer that does not speak the
        // protocol, stops the run here with its reason, not after a load of failed sends. Its
        // connection becomes the first producer's, so the check takes no slot of the broker's.
        let mut checked = crate::client::Client::connect(addr)?;
        checked.probe().with_context(|| format!("checking the broker at --broker {addr}"))?;
        let transport = TcpTransport { addr, spare: std::sync::Mutex::new(Some(checked)) };
        let mut report = load(config, &transport, None, &mut SyncTotals::default, &NoProbe)?;
        report.notes.push("--broker: the files are on the broker's machine, so sections A and B (log and index) were not checked".into());
        return Ok(report);
    }
    if let Some(target) = &config.target {
        return run_kafka(config, target);
    }
    config.strategy.visit_timed(config.lock_stats, Embedded(config))
}

/// A run against a Kafka-protocol cluster: the `--broker` run's shape over [`KafkaTransport`],
/// with the run's topics created (through Metadata) before any connection is timed.
fn run_kafka(config: &RunConfig, target: &str) -> anyhow::Result<RunReport> {
    let bootstrap = crate::kafka::client::bootstrap_address(target)?;
    let names = topic_names(config);
    let transport = KafkaTransport::prepare(&bootstrap, &names)
        .with_context(|| format!("cannot prepare the run's topics on {target}"))?;
    let mut report = load(config, &transport, Some(&names), &mut SyncTotals::default, &NoProbe)?;
    report.notes.push("--target: the files are on the cluster's machines, so sections A and B (log and index) were not checked".into());
    Ok(report)
}

/// A run against a broker (or topics) of strategy `S` in this process.
struct Embedded<'a>(&'a RunConfig);

impl StrategyVisitor for Embedded<'_> {
    type Output = anyhow::Result<RunReport>;

    fn visit<S: SyncStrategy>(self) -> anyhow::Result<RunReport> {
        let config = self.0;
        // The data dir: the user's, or a temporary one removed when this returns.
        let temp;
        let data_dir: &Path = match &config.data_dir {
            Some(d) => {
                std::fs::create_dir_all(d)
                    .with_context(|| format!("cannot create the data directory {}", d.display()))?;
                d
            }
            None => {
                temp = super::scratch::Scratch::new("synclog-harness-")
                    .context("cannot create a temporary data directory")?;
                temp.path()
            }
        };
        let names = topic_names(config);
        let shape = config.shape();
        // Written once the data dir is this run's (its lock taken when its topics are opened),
        // so a run refused a data dir in use leaves nothing in it.
        let write_run_files = || -> anyhow::Result<()> {
            for (t, name) in names.iter().enumerate() {
                let run_file = RunFile {
                    message_bytes_max: config.message_bytes_max,
                    ..RunFile::new(&shape, t as u32, S::NAME)
                };
                run_file.write(&data_dir.join(name)).with_context(|| {
                    format!("cannot write the run file of topic {name} in {}", data_dir.display())
                })?;
            }
            Ok(())
        };
        let log = LogConfig {
            fsync: config.fsync.policy(config.fsync_interval_ms),
            race_window: config.race_window(),
            append: config.append,
            ..LogConfig::default()
        };
        let mut report = match config.transport {
            TransportKind::Inproc => {
                let (topics, _) = Topics::<S>::open(data_dir, log)?;
                write_run_files()?;
                let transport = InprocTransport { topics: topics.clone() };
                let probe = TopicsProbe { topics: &topics, names: &names };
                let report = load(config, &transport, Some(&names), &mut || topics.sync_totals(), &probe)?;
                drop(transport);
                drop(topics);
                report
            }
            TransportKind::Tcp => {
                let broker = Broker::<S>::bind(BrokerConfig {
                    listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                    data_dir: data_dir.to_path_buf(),
                    fsync: log.fsync,
                    race_window: log.race_window.clone(),
                    append: log.append,
                    // Room for every connection the run opens (a producer's, a consumer's, the
                    // drain's per topic), past the broker's default cap at the largest counts.
                    max_connections: BrokerConfig::default().max_connections.max(
                        config.producers as usize + config.consumers as usize + config.topics as usize + 8,
                    ),
                    ..BrokerConfig::default()
                })?;
                write_run_files()?;
                let topics = broker.topics().clone();
                let handle = broker.spawn()?;
                let transport = TcpTransport::new(handle.addr());
                let probe = TopicsProbe { topics: &topics, names: &names };
                let report = load(config, &transport, Some(&names), &mut || topics.sync_totals(), &probe);
                handle.shutdown();
                drop(topics);
                report?
            }
        };
        // The broker is stopped and the files closed: scan them, log and index.
        let verify_started = Instant::now();
        let mut files = Violations::new();
        files.checked(Section::Log).checked(Section::Index);
        // One task per topic, on all cores; merged in topic order.
        let scans: Vec<Result<_, _>> = names
            .par_iter()
            .map(|name| {
                let dir = data_dir.join(name);
                let mut payloads = RunFile::read(&dir).map(RunPayloadCheck::new);
                let check = payloads.as_mut().map(|c| c as &mut dyn crate::storage::PayloadCheck);
                verify_topic(&dir, crate::storage::DEFAULT_MAX_MESSAGE_BYTES, check)
            })
            .collect();
        for scan in scans {
            files.merge(&scan?.violations);
        }
        report.violations.merge(&files);
        report.phases.verify_s = Some(verify_started.elapsed().as_secs_f64());
        report.examples = report.violations.examples_json();
        report.verdict = verdict(&report.violations).into();
        report.strategy = S::NAME.into();
        report.machine.data_dir_fs = super::ceiling::filesystem_of(data_dir);
        if config.data_dir.is_some() {
            report.notes.push(format!("data kept in {}", data_dir.display()));
        }
        Ok(report)
    }
}

fn verdict(v: &Violations) -> &'static str {
    if v.is_clean() {
        "clean"
    } else {
        "corrupted"
    }
}

/// `run-<id>-<n>`: unique per run, so a kept data dir can hold many runs.
fn topic_names(config: &RunConfig) -> Vec<String> {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let id = (nanos ^ config.seed.rotate_left(17) ^ u64::from(std::process::id())) & 0xFFFF_FFFF;
    (0..config.topics).map(|t| format!("run-{id:08x}-{t}")).collect()
}

/// Phases 2 and 3 (load and drain) and section C. `names` are the topic names (`None`: make
/// them up, for a remote broker). `syncs` reads the logs' sync totals so far.
fn load(
    config: &RunConfig,
    transport: &dyn Transport,
    names: Option<&[String]>,
    syncs: &mut dyn FnMut() -> SyncTotals,
    probe: &dyn LockProbe,
) -> anyhow::Result<RunReport> {
    let shape = config.shape();
    let names: std::borrow::Cow<[String]> =
        names.map_or_else(|| topic_names(config).into(), std::borrow::Cow::Borrowed);
    let names = &names[..];
    let warmup = shape.messages_per_producer * u64::from(config.warmup_percent) / 100;
    let history = History::with_warmup(shape, warmup);

    let (producers, consumers) = connect(config, transport)?;
    let preparation = Preparation::of_run(config, shape.seed, shape.messages_per_producer);
    let Race { timings, consumer_ends, started, finished, syncs, lock } =
        race(config, &history, names, producers, consumers, preparation.payloads(), warmup, syncs, probe);
    // The payloads are let go before the drain; what is left is the phase's time and any note.
    let (prepare_s, prepare_note) = preparation.finish(config, shape.total_messages());

    // Drain every topic from offset 0.
    let drain_started = Instant::now();
    let mut drain = history.drain();
    let mut notes: Vec<String> = prepare_note.into_iter().collect();
    drain_all(transport, names, &mut drain, &mut notes)?;
    let check_started = Instant::now();
    let violations = crate::check::checker::check(&history, drain, names);
    let phases = Phases {
        prepare_s,
        load_s: finished.saturating_duration_since(started).as_secs_f64(),
        drain_s: check_started.duration_since(drain_started).as_secs_f64(),
        verify_s: None,
        check_s: check_started.elapsed().as_secs_f64(),
    };
    let counts = history.operation_counts();
    let page = config.page.then(|| Box::new(crate::report::page::build::Draft::new(&history, names)));

    // Throughput: acknowledged messages after the warm-up over the producers' windows
    // (see `super::figures`).
    let mb = config.mean_message_bytes() / 1e6;
    let mut produce = figures(produce_rate(&timings), mb, &history.produce_latency_us());
    if !config.remote() {
        // The syncs are counted over the whole load, warm-up included: so is their time, from
        // the start to the last producer's last answer.
        let load_end = timings.iter().map(|t| t.end).max().unwrap_or(finished);
        let load_s = load_end.saturating_duration_since(started).as_secs_f64();
        sync_figures(&mut produce, syncs, shape.total_messages(), load_s);
    }
    let open_loop = config.rate.map(|rate| open_loop_row(rate, produce.msgs_per_s, &timings));
    let consume = (config.consumers > 0).then(|| {
        let end = consumer_ends.iter().flatten().max().copied().unwrap_or(finished);
        let secs = end.saturating_duration_since(started).as_secs_f64().max(1e-9);
        figures(counts.records_read as f64 / secs, mb, &history.consume_latency_us())
    });
    let unacknowledged = super::figures::unacknowledged(&counts, &timings);
    if let Some(u) = &unacknowledged {
        notes.push(super::figures::unacknowledged_note(u));
    }
    let lock = lock.map(|w| super::locks::lock_row(w, config.producers, config.consumers, config.transport));
    let fairness = Some(super::locks::fairness(&history, &timings, &consumer_ends, started));
    let local = !config.remote();
    Ok(RunReport {
        strategy: if config.remote() { "remote".into() } else { config.strategy.name().into() },
        producers: config.producers,
        consumers: config.consumers,
        messages: shape.total_messages(),
        message_bytes: config.message_bytes,
        message_bytes_max: config.message_bytes_max,
        batch: config.batch,
        in_flight: config.in_flight,
        topics: config.topics,
        transport: config.transport,
        // A remote system keeps its own settings: the report claims none of the embedded log's.
        fsync: local.then_some(config.fsync),
        // As the log uses it (`FsyncMode::policy` takes 0 as 1 ms).
        fsync_interval_ms: local.then_some(config.fsync_interval_ms.max(1)),
        race_window_us: local.then_some(config.race_window_us),
        force_race: config.force_race,
        append: local.then_some(config.append),
        open_loop,
        seed: config.seed,
        duration_s: finished.saturating_duration_since(started).as_secs_f64(),
        machine: super::ceiling::machine(),
        version: env!("CARGO_PKG_VERSION").into(),
        produce,
        consume,
        examples: violations.examples_json(),
        verdict: verdict(&violations).into(),
        unacknowledged,
        violations,
        lock,
        fairness,
        notes,
        phases,
        counts,
        page,
    })
}

/// Every producer's and consumer's connection, made before the clock starts.
#[allow(clippy::type_complexity)]
fn connect(
    config: &RunConfig,
    transport: &dyn Transport,
) -> anyhow::Result<(Vec<Box<dyn ProducerEndpoint>>, Vec<Box<dyn ConsumerEndpoint>>)> {
    let producers = (0..config.producers)
        .map(|_| transport.producer().map_err(anyhow::Error::msg).context("a producer cannot connect"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let consumers = (0..config.consumers)
        .map(|_| transport.consumer().map_err(anyhow::Error::msg).context("a consumer cannot connect"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((producers, consumers))
}

/// How many times the drain opens a fresh connection to go on with a topic whose fetches kept
/// failing (a broker at its connection cap refuses the drain until the producers' connections
/// are counted out), waiting 100 ms more each time.
const DRAIN_RECONNECTS: u32 = 5;

/// Reads every topic from offset 0 into the drain recorder, on one connection of its own.
fn drain_all(
    transport: &dyn Transport,
    names: &[String],
    drain: &mut crate::check::history::DrainRecorder<'_>,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let connect = || transport.consumer().map_err(anyhow::Error::msg).context("the drain cannot connect");
    let mut reader = connect()?;
    for (t, name) in names.iter().enumerate() {
        let (mut from, mut reconnects) = (0, 0);
        while let Err((offset, why)) = drain_topic(reader.as_mut(), t as u32, name, from, drain) {
            if reconnects == DRAIN_RECONNECTS {
                notes.push(format!("the drain of {name} stopped at offset {offset}: {why}"));
                break;
            }
            reconnects += 1;
            from = offset;
            thread::sleep(Duration::from_millis(100) * reconnects);
            reader = connect()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller of the library is held to the bounds and the remote refusals the harness's
    /// flags are.
    #[test]
    fn validate_refuses_counts_past_their_bounds_and_a_remote_systems_settings() {
        let remote = RunConfig { broker: Some("127.0.0.1:9".into()), ..RunConfig::default() };
        let cases = [
            (RunConfig { producers: 1, messages: MAX_MESSAGES + 1, ..RunConfig::default() }, "--messages"),
            (RunConfig { in_flight: MAX_IN_FLIGHT + 1, ..RunConfig::default() }, "--in-flight"),
            (RunConfig { producers: MAX_ACTORS + 1, ..RunConfig::default() }, "--producers"),
            (RunConfig { consumers: MAX_ACTORS + 1, ..RunConfig::default() }, "--consumers"),
            (RunConfig { fsync: FsyncMode::Always, ..remote.clone() }, "--fsync"),
            (RunConfig { fsync_interval_ms: 5, ..remote.clone() }, "--fsync-interval-ms"),
            (RunConfig { race_window_us: 5, ..remote.clone() }, "--race-window-us"),
            (RunConfig { append: AppendMode::Reserve, ..remote.clone() }, "--append"),
            (RunConfig { data_dir: Some("d".into()), ..remote.clone() }, "--data-dir"),
        ];
        for (config, flag) in cases {
            let e = config.validate().expect_err(flag).to_string();
            assert!(e.starts_with(flag), "{flag}: {e}");
        }
        remote.validate().expect("a remote run at the defaults");
        let at_bounds = RunConfig {
            producers: MAX_ACTORS,
            consumers: MAX_ACTORS,
            topics: 1,
            messages: MAX_MESSAGES - MAX_MESSAGES % u64::from(MAX_ACTORS),
            in_flight: MAX_IN_FLIGHT,
            ..RunConfig::default()
        };
        at_bounds.validate().expect("every count at its bound");
    }
}
