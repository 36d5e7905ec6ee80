//! `broker`: the standalone synclog server.

mod common;

use clap::Parser;
use common as cli;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use synclog::broker::{Broker, BrokerConfig};
use synclog::storage::FsyncMode;
use synclog::storage::{AppendMode, RaceWindow};
use synclog::strategies::{StrategyKind, StrategyVisitor, SyncStrategy};

/// Serve synclog topics over TCP: each topic an append-only log with a sparse index, guarded
/// by the synchronization strategy you choose.
///
/// Prints exactly one line, `listening on ADDR`, to stdout once it accepts connections (with
/// port 0, the real port); logs go to stderr. Stops cleanly on Ctrl-C or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = "broker", version, about, long_about)]
struct Args {
    /// The address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: SocketAddr,
    /// Also serve the same topics to Kafka clients (kcat, librdkafka, …) on this address;
    /// port 0 picks a free one (logged to stderr, and advertised by Metadata).
    #[arg(long, value_name = "ADDR")]
    kafka_listen: Option<SocketAddr>,
    /// Where topics are stored, one directory each (created if missing).
    #[arg(long, default_value = "./synclog-data")]
    data_dir: PathBuf,
    /// How critical sections are guarded.
    #[arg(long, value_enum, default_value_t = StrategyKind::RwLock)]
    strategy: StrategyKind,
    /// When appends are forced to disk: never (page cache, like Kafka), every interval, or
    /// before every acknowledgement.
    #[arg(long, value_enum, default_value_t = FsyncMode::Never)]
    fsync: FsyncMode,
    /// The interval for --fsync interval (at least 1).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    fsync_interval_ms: u64,
    /// Microseconds each append pauses between reading the offset and writing (widens the race);
    /// at most 1000000 (one second).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(..=1_000_000))]
    race_window_us: u64,
    /// What each append's write section covers. whole: the offset, the write and the index, as
    /// the classic lesson has it (the default). reserve: only the reservation of an offset and a
    /// byte range; the bytes are written outside the section, in parallel, and published in
    /// offset order, so readers never see a hole (docs/format.md).
    #[arg(long, value_enum, default_value_t = AppendMode::Whole)]
    append: AppendMode,
    /// The largest frame accepted, checked before anything is allocated (at least 1).
    #[arg(long, default_value_t = 16_777_216, value_parser = clap::value_parser!(u32).range(1..))]
    max_frame_bytes: u32,
    /// The largest message accepted (at least 1).
    #[arg(long, default_value_t = 1_048_576, value_parser = clap::value_parser!(u32).range(1..))]
    max_message_bytes: u32,
    /// Connections beyond this get error 9 (TooManyConnections) and are closed. Each takes two
    /// open files: at start the broker raises its soft open-file limit to the hard one and,
    /// if that still cannot hold this many (with the topics), lowers it and logs a warning.
    /// At least 1.
    #[arg(long, default_value_t = 1024, value_parser = at_least_one)]
    max_connections: usize,
    /// A Produce (or Kafka Metadata) that would create a topic beyond this many gets error 11
    /// (TooManyTopics; Kafka: POLICY_VIOLATION); existing topics keep working. Default: a
    /// quarter of the open-file limit's room, two files per topic, at most 10000. At least 1.
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    max_topics: Option<usize>,
    /// The most record bytes one Fetch reply carries (either protocol), whatever it asks, plus
    /// at most one record; never more than half --max-frame-bytes.
    #[arg(long, default_value_t = synclog::broker::DEFAULT_MAX_FETCH_BYTES)]
    max_fetch_bytes: u32,
    /// What the read buffers of all connections (both listeners) may hold together beyond
    /// their first 16 KiB each. A frame that would take them past it is answered 12
    /// (BuffersFull; Kafka: the connection closes) and its connection closed, before anything
    /// is allocated for it. At least --max-frame-bytes + 4 (exit 2 below).
    #[arg(long, default_value_t = synclog::protocol::connection::DEFAULT_MAX_BUFFERED_BYTES)]
    max_buffered_bytes: usize,
    /// All of a frame's bytes must arrive within this of its first byte (at least 1).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    frame_timeout_ms: u64,
    /// A connection idle this long between frames is closed (at least 1).
    #[arg(long, default_value_t = 600_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// How long a Kafka consumer group with no members keeps its committed offsets, counted
    /// from its last commit or from when its last member left, whichever came later, and at the
    /// earliest from the broker's start (Kafka's offsets.retention.minutes; default 7 days). Expired groups are deleted, files and all,
    /// and give their slot among the 1000 groups back.
    #[arg(long, default_value_t = 604_800_000)]
    offsets_retention_ms: u64,
    /// Let Kafka admin clients delete topics (DeleteTopics: `kafka-topics.sh --delete`), files
    /// and all, which frees their --max-topics slots. Off by default: any client could then
    /// delete any topic. Without it DeleteTopics is answered TOPIC_DELETION_DISABLED (73).
    #[arg(long)]
    delete_topics: bool,
}

/// The configuration to serve, and the `--fsync` mode it came from (for the start-up line).
struct Serve(BrokerConfig, FsyncMode);

impl StrategyVisitor for Serve {
    type Output = anyhow::Result<()>;
    fn visit<S: SyncStrategy>(self) -> anyhow::Result<()> {
        let settings = format!("append {}, fsync {}", self.0.append.name(), self.1.name());
        let broker = Broker::<S>::bind(self.0)?;
        let addr = broker.local_addr()?;
        let kafka_addr = broker.kafka_addr();
        let handle = broker.spawn()?;
        // Catch the signals before the announcement: a supervisor that sends SIGTERM as soon as
        // it reads `listening on` must get a clean shutdown, not the default action's death.
        let termination = cli::Termination::catch()?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {addr}")?;
        stdout.flush()?;
        eprintln!("synclog broker: strategy {}, {settings}, listening on {addr}", S::NAME);
        if let Some(kafka_addr) = kafka_addr {
            eprintln!("synclog broker: kafka listener on {kafka_addr}");
        }
        termination.wait();
        eprintln!("synclog broker: stopping");
        handle.shutdown();
        Ok(())
    }
}

/// A count of at least 1 (a limit of 0 would refuse every request).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("0 would refuse everything it counts: give at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Every connection and topic holds descriptors: take all the system allows before sizing
    // the caps from it (Broker::bind lowers --max-connections if even that is too few).
    if let Err(e) = synclog::broker::limits::raise_fd_limit() {
        eprintln!("broker: warning: cannot raise the open-file limit: {e}");
    }
    let one_frame = u64::from(args.max_frame_bytes) + 4;
    if (args.max_buffered_bytes as u64) < one_frame {
        eprintln!(
            "broker: --max-buffered-bytes {} is below one whole frame (--max-frame-bytes + 4 = {one_frame})",
            args.max_buffered_bytes
        );
        return ExitCode::from(cli::EXIT_USAGE);
    }
    let config = BrokerConfig {
        listen: args.listen,
        kafka_listen: args.kafka_listen,
        data_dir: args.data_dir,
        fsync: args.fsync.policy(args.fsync_interval_ms),
        race_window: RaceWindow::from_micros(args.race_window_us),
        append: args.append,
        max_frame_bytes: args.max_frame_bytes,
        max_message_bytes: args.max_message_bytes,
        max_connections: args.max_connections,
        max_topics: args.max_topics,
        max_fetch_bytes: args.max_fetch_bytes,
        max_buffered_bytes: args.max_buffered_bytes,
        frame_timeout: Duration::from_millis(args.frame_timeout_ms),
        idle_timeout: Duration::from_millis(args.idle_timeout_ms),
        offsets_retention: Duration::from_millis(args.offsets_retention_ms),
        delete_topics: args.delete_topics,
    };
    match args.strategy.visit(Serve(config, args.fsync)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("broker: {e:#}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}
