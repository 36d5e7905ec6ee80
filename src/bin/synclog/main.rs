//! `synclog`: a small client for a synclog broker, and the offline checker of a data dir.
//!
//! Bad input is refused before anything is sent: a `--broker` not of the form `HOST:PORT`, a
//! topic name the broker would refuse, a `--max-message-bytes` of 0 are bad usage (exit 2).
//! Stdout is named in its errors; a closed stdout pipe (`synclog consume … | head -1`) ends the
//! command quietly with exit 0.

mod commands;
#[path = "../common/mod.rs"]
mod common;
mod produce;

use clap::{Parser, Subcommand};
use commands::OutputFormat;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use synclog::storage::DEFAULT_MAX_MESSAGE_BYTES;

/// The client of a synclog broker (its native protocol, the broker's --listen port) and the
/// offline checker of its data dir.
///
/// produce sends messages to a topic, from the arguments or one per line of stdin; consume prints
/// a topic's messages from an offset; topics lists the broker's topics; verify checks a data dir's
/// logs and indexes read-only. `synclog COMMAND --help` describes each command's flags.
///
/// Exit codes: 0 success (for verify: clean), 1 an error (one line on stderr), 2 bad usage (a
/// flag or value refused before anything is sent), 3 integrity violated (verify). docs/cli.md
/// has the details.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send messages to a topic (created if missing); with no MESSAGE, one per line of stdin.
    ///
    /// Stdin's lines (each UTF-8) go in batches of at most 1000 lines and about 1 MiB, each sent
    /// once all its lines were read. On an error, one line says how many messages were
    /// acknowledged, from which stdin lines and at which offsets, and which line or batch failed
    /// and why (docs/cli.md).
    Produce {
        /// The broker's address, HOST:PORT (another form is bad usage, exit 2; a name that does
        /// not resolve or a broker that does not answer is an error, exit 1).
        #[arg(long, default_value = "127.0.0.1:7070", value_parser = host_port)]
        broker: String,
        /// The topic: 1-249 of [A-Za-z0-9._-], not . or .. (another name is bad usage, exit 2).
        #[arg(long, value_parser = topic_name)]
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
        /// The topic: 1-249 of [A-Za-z0-9._-], not . or .. (another name is bad usage, exit 2).
        #[arg(long, value_parser = topic_name)]
        topic: String,
        /// The first offset to print.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Stop after this many messages.
        #[arg(long)]
        max: Option<u64>,
        /// Keep waiting for new messages (long poll) instead of stopping at the end; a topic that
        /// does not exist yet is waited for (without --follow it is an error, exit 1).
        #[arg(long)]
        follow: bool,
        /// How to print each message.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// List the broker's topics with their next offsets (high watermarks: under --fsync always,
    /// the offset below which records are durable).
    Topics {
        /// The broker's address, HOST:PORT (another form is bad usage, exit 2; a name that does
        /// not resolve or a broker that does not answer is an error, exit 1).
        #[arg(long, default_value = "127.0.0.1:7070", value_parser = host_port)]
        broker: String,
    },
    /// Check a data dir's logs and indexes, read-only (fsck). Exit 0 clean, 3 corrupted, 1 error,
    /// 2 bad usage.
    ///
    /// Reports every kind of docs/violations.md sections A (log) and B (index); in topics the harness
    /// wrote (they hold a run.json) also the payload kinds. A torn tail is reported but not
    /// counted as corruption: a crash leaves one, and the next open truncates it.
    Verify {
        /// The broker's data directory.
        #[arg(long, default_value = "./synclog-data")]
        data_dir: PathBuf,
        /// Only this topic (a name the broker would refuse is bad usage, exit 2).
        #[arg(long, value_parser = topic_name)]
        topic: Option<String>,
        /// The largest payload a valid record may hold: the broker's --max-message-bytes, and
        /// like it at least 1 (0 is bad usage, exit 2).
        #[arg(
            long,
            default_value_t = DEFAULT_MAX_MESSAGE_BYTES,
            value_parser = clap::value_parser!(u32).range(1..)
        )]
        max_message_bytes: u32,
    },
}

/// `--broker`: `HOST:PORT`, checked for its form (not resolved) so that a malformed value is
/// bad usage.
fn host_port(s: &str) -> Result<String, String> {
    synclog::experiment::transport::check_host_port(s).map(|()| s.to_string())
}

/// `--topic`: a name the broker accepts (the library's own check), so that another is bad usage
/// refused before connecting.
fn topic_name(s: &str) -> Result<String, String> {
    synclog::storage::validate_topic_name(s).map(|()| s.to_string()).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut stdout = NamedStdout(io::stdout().lock());
    let result = run(args.command, &mut stdout).and_then(|code| {
        stdout.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        // A reader that went away (`synclog consume … | head -1`) wanted no more: not an error.
        Err(e) if stdout_error(&e).is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) => {
            ExitCode::from(common::EXIT_OK)
        }
        Err(e) => {
            let hint = if undecodable_reply(&e) {
                " (is this the broker's native port? a Kafka listener, --kafka-listen, answers differently)"
            } else {
                ""
            };
            eprintln!("synclog: {e:#}{hint}");
            ExitCode::from(common::EXIT_ERROR)
        }
    }
}

fn run(command: Command, stdout: &mut impl Write) -> anyhow::Result<u8> {
    Ok(match command {
        Command::Produce { broker, topic, messages } => {
            produce::produce(&broker, &topic, &messages, io::stdin().lock(), stdout)?;
            common::EXIT_OK
        }
        Command::Consume { broker, topic, from, max, follow, format } => {
            commands::consume(&broker, &topic, from, max, follow, format, stdout)?;
            common::EXIT_OK
        }
        Command::Topics { broker } => {
            commands::topics(&broker, stdout)?;
            common::EXIT_OK
        }
        Command::Verify { data_dir, topic, max_message_bytes } => common::exit_code(
            synclog::experiment::verify::verify(&data_dir, topic.as_deref(), max_message_bytes, stdout)?,
        ),
    })
}

/// Stdout, whose failed writes say so: "cannot write to stdout: No space left on device", not a
/// bare I/O error that could be the network's.
struct NamedStdout<W>(W);

/// A write to stdout that failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to stdout: {0}")]
struct StdoutError(io::Error);

impl<W: Write> Write for NamedStdout<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(|e| io::Error::new(e.kind(), StdoutError(e)))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(|e| io::Error::new(e.kind(), StdoutError(e)))
    }
}

/// The failed stdout write behind `e`, if that is what it is.
fn stdout_error(e: &anyhow::Error) -> Option<&io::Error> {
    e.chain().find_map(|cause| {
        Some(&cause.downcast_ref::<io::Error>()?.get_ref()?.downcast_ref::<StdoutError>()?.0)
    })
}

/// True when `e` comes from a reply that does not decode as the native protocol, or from a
/// connection closed before any answer: what a Kafka listener (or any other server) does with a
/// native request (a Produce draws an answer, a topic listing a close).
fn undecodable_reply(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<synclog::protocol::ConnectionError>(),
            Some(synclog::protocol::ConnectionError::Decode { .. })
        ) || matches!(
            cause.downcast_ref::<synclog::client::ClientError>(),
            Some(synclog::client::ClientError::Closed { first: true })
        )
    })
}
