//! `synclog`: a small client for a synclog broker, and the offline checker of a data dir.

mod commands;
#[path = "../common/mod.rs"]
mod common;

use clap::{Parser, Subcommand};
use commands::OutputFormat;
use std::path::PathBuf;
use std::process::ExitCode;
use synclog::storage::DEFAULT_MAX_MESSAGE_BYTES;

/// Produce to and consume from a synclog broker, list its topics, or verify a data dir.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send messages to a topic (created if missing); with no MESSAGE, one per line of stdin.
    Produce {
        /// The broker's address, HOST:PORT (another form is bad usage, exit 2; a name that does
        /// not resolve or a broker that does not answer is an error, exit 1).
        #[arg(long, default_value = "127.0.0.1:7070", value_parser = host_port)]
        broker: String,
        /// The topic: 1-249 of [A-Za-z0-9._-].
        #[arg(long)]
        topic: String,
        /// The messages; none means: read stdin, one message per line.
        messages: Vec<String>,
    },
    /// Print a topic's messages from an offset: to the end, or forever with --follow.
    Consume {
        /// The broker's address, HOST:PORT (another form is bad usage, exit 2; a name that does
        /// not resolve or a broker that does not answer is an error, exit 1).
        #[arg(long, default_value = "127.0.0.1:7070", value_parser = host_port)]
        broker: String,
        /// The topic.
        #[arg(long)]
        topic: String,
        /// The first offset to print.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Stop after this many messages.
        #[arg(long)]
        max: Option<u64>,
        /// Keep waiting for new messages (long poll) instead of stopping at the end.
        #[arg(long)]
        follow: bool,
        /// How to print each message.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// List the broker's topics with their next offsets.
    Topics {
        /// The broker's address, HOST:PORT (another form is bad usage, exit 2; a name that does
        /// not resolve or a broker that does not answer is an error, exit 1).
        #[arg(long, default_value = "127.0.0.1:7070", value_parser = host_port)]
        broker: String,
    },
    /// Check a data dir's logs and indexes, read-only (fsck). Exit 0 clean, 3 corrupted, 1 error.
    ///
    /// Reports every kind of docs/violations.md sections A (log) and B (index); in topics the harness
    /// wrote (they hold a run.json) also the payload kinds. A torn tail is reported but not
    /// counted as corruption: a crash leaves one, and the next open truncates it.
    Verify {
        /// The broker's data directory.
        #[arg(long, default_value = "./synclog-data")]
        data_dir: PathBuf,
        /// Only this topic.
        #[arg(long)]
        topic: Option<String>,
        /// The largest payload a valid record may hold (the broker's --max-message-bytes).
        #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_BYTES)]
        max_message_bytes: u32,
    },
}

/// `--broker`: `HOST:PORT`, checked for its form (not resolved) so that a malformed value is
/// bad usage.
fn host_port(s: &str) -> Result<String, String> {
    synclog::experiment::transport::check_host_port(s).map(|()| s.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut stdout = std::io::stdout().lock();
    let result = match args.command {
        Command::Produce { broker, topic, messages } => {
            commands::produce(&broker, &topic, &messages, std::io::stdin().lock(), &mut stdout)
                .map(|()| common::EXIT_OK)
        }
        Command::Consume { broker, topic, from, max, follow, format } => {
            commands::consume(&broker, &topic, from, max, follow, format, &mut stdout)
                .map(|()| common::EXIT_OK)
        }
        Command::Topics { broker } => commands::topics(&broker, &mut stdout).map(|()| common::EXIT_OK),
        Command::Verify { data_dir, topic, max_message_bytes } => {
            synclog::experiment::verify::verify(&data_dir, topic.as_deref(), max_message_bytes, &mut stdout)
                .map(common::exit_code)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("synclog: {e:#}");
            ExitCode::from(common::EXIT_ERROR)
        }
    }
}
