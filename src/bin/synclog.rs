//! `synclog`: a small client for a synclog broker, and the offline checker of a data dir.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use synclog::cli;
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
    /// Check a data dir's logs and indexes, read-only (fsck). Exit 0 clean, 3 corrupted, 1 error.
    ///
    /// Reports every kind of CHECKER.md sections A (log) and B (index); in topics the harness
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

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Verify { data_dir, topic, max_message_bytes } => {
            cli::verify(&data_dir, topic.as_deref(), max_message_bytes, &mut std::io::stdout().lock())
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("synclog: {e:#}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}
