//! Entry points shared by the binaries: each parses nothing, prints for a person, and returns
//! the process exit code (0 success and clean, 3 integrity violated, 1 any other error).

use crate::storage::verify_data_dir;
use crate::violations::ViolationKind;
use std::io::Write;
use std::path::Path;

/// Exit code: success and clean.
pub const EXIT_OK: u8 = 0;
/// Exit code: an error that is not an integrity violation.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: bad usage (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: integrity violated.
pub const EXIT_VIOLATED: u8 = 3;

/// `synclog verify`: checks every topic (or one) of a data dir, read-only, and prints what it
/// found. A torn tail is informational here (a crash leaves one and the next open cuts it).
pub fn verify(
    data_dir: &Path,
    topic: Option<&str>,
    max_message_bytes: u32,
    out: &mut impl Write,
) -> anyhow::Result<u8> {
    let reports = verify_data_dir(data_dir, topic, max_message_bytes, crate::check::payload_check_for)?;
    let mut bad_topics = 0;
    for r in &reports {
        let errors: Vec<(ViolationKind, u64)> =
            r.violations.found().filter(|&(k, _)| k.is_error() && k != ViolationKind::TornTail).collect();
        let torn = r.violations.count(ViolationKind::TornTail);
        let verdict = if errors.is_empty() { "clean" } else { "CORRUPTED" };
        writeln!(
            out,
            "topic {}{}: {} records, {} bytes, {} index entries: {verdict}{}",
            r.topic,
            crate::check::RunFile::read(&data_dir.join(&r.topic))
                .map(|run| format!(" (a harness run under {})", run.strategy))
                .unwrap_or_default(),
            r.records,
            r.log_bytes,
            r.index_entries,
            if torn > 0 { " (torn tail: the next open truncates it)" } else { "" }
        )?;
        for (kind, n) in r.violations.found() {
            writeln!(out, "  {:<22} {n:>10}  {}", kind.name(), kind.meaning())?;
            for e in r.violations.examples(kind) {
                writeln!(out, "  {:<22} {:>10}  e.g. {e}", "", "")?;
            }
        }
        if !errors.is_empty() {
            bad_topics += 1;
        }
    }
    if reports.is_empty() {
        writeln!(out, "no topics in {}: clean", data_dir.display())?;
    } else {
        writeln!(
            out,
            "verdict: {} ({} of {} topics corrupted)",
            if bad_topics == 0 { "clean" } else { "corrupted" },
            bad_topics,
            reports.len()
        )?;
    }
    Ok(if bad_topics == 0 { EXIT_OK } else { EXIT_VIOLATED })
}

pub use crate::storage::FsyncMode;

/// SIGINT and SIGTERM, caught from the moment [`Termination::catch`] returns. Before that, either
/// signal kills the process outright (the default action) and skips the clean shutdown.
pub struct Termination(signal_hook::iterator::Signals);

impl Termination {
    /// Starts catching SIGINT and SIGTERM. Call it *before* announcing that the process is ready
    /// (`listening on ADDR`): a supervisor may signal as soon as it reads the announcement.
    pub fn catch() -> anyhow::Result<Termination> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        Ok(Termination(signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?))
    }

    /// Blocks until SIGINT or SIGTERM arrives (returns at once if one arrived since `catch`).
    pub fn wait(mut self) {
        let _ = self.0.forever().next();
    }
}

/// How `synclog consume` prints each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// The payload as text, one per line (invalid UTF-8 shown with replacement characters).
    Text,
    /// `offset<TAB>hex bytes`, one per line.
    Hex,
    /// One JSON object per line: topic, offset, payload (text), hex.
    Json,
}

/// `synclog produce`: sends `messages`, or one message per line of `input` when there are none.
pub fn produce(
    broker: &str,
    topic: &str,
    messages: &[String],
    input: impl std::io::BufRead,
    out: &mut impl Write,
) -> anyhow::Result<u8> {
    let mut client = crate::client::Client::connect(broker)?;
    let mut sent = 0u64;
    let mut first = None;
    let mut last = 0;
    let mut send = |batch: &[Vec<u8>]| -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let base = client.produce(topic, batch.iter().map(Vec::as_slice))?;
        first.get_or_insert(base);
        last = base + batch.len() as u64 - 1;
        sent += batch.len() as u64;
        Ok(())
    };
    if messages.is_empty() {
        // One message per line, sent in batches so a large file does not cost a round trip each.
        let mut batch = Vec::new();
        for line in input.lines() {
            batch.push(line?.into_bytes());
            if batch.len() == 1000 {
                send(&batch)?;
                batch.clear();
            }
        }
        send(&batch)?;
    } else {
        let batch: Vec<Vec<u8>> = messages.iter().map(|m| m.clone().into_bytes()).collect();
        send(&batch)?;
    }
    match first {
        Some(first) => writeln!(out, "produced {sent} messages to {topic} at offsets {first}..={last}")?,
        None => writeln!(out, "nothing to produce")?,
    }
    Ok(EXIT_OK)
}

/// `synclog consume`: prints records of `topic` from `from`; stops at the end of the topic (or
/// after `max` records) unless `follow` is set.
pub fn consume(
    broker: &str,
    topic: &str,
    from: u64,
    max: Option<u64>,
    follow: bool,
    format: OutputFormat,
    out: &mut impl Write,
) -> anyhow::Result<u8> {
    let client = crate::client::Client::connect(broker)?;
    let mut consumer = crate::client::Consumer::new(client, topic, from);
    let mut printed = 0u64;
    loop {
        let wait = if follow { std::time::Duration::from_secs(1) } else { std::time::Duration::ZERO };
        let fetched = consumer.poll(wait)?;
        for (offset, payload) in fetched.records.iter() {
            if max.is_some_and(|m| printed >= m) {
                break;
            }
            match format {
                OutputFormat::Text => {
                    out.write_all(payload)?;
                    out.write_all(b"\n")?;
                }
                OutputFormat::Hex => writeln!(out, "{offset}\t{}", hex(payload))?,
                OutputFormat::Json => writeln!(
                    out,
                    "{}",
                    serde_json::json!({
                        "topic": topic,
                        "offset": offset,
                        "payload": String::from_utf8_lossy(payload),
                        "hex": hex(payload),
                    })
                )?,
            }
            printed += 1;
        }
        out.flush()?;
        let at_end = consumer.position >= fetched.high_watermark;
        if max.is_some_and(|m| printed >= m) || (at_end && !follow) {
            return Ok(EXIT_OK);
        }
    }
}

/// `synclog topics`: one line per topic with its next offset.
pub fn topics(broker: &str, out: &mut impl Write) -> anyhow::Result<u8> {
    let mut client = crate::client::Client::connect(broker)?;
    let topics = client.list_topics()?;
    if topics.is_empty() {
        writeln!(out, "no topics")?;
    }
    for (name, next) in topics {
        writeln!(out, "{name}\t{next}")?;
    }
    Ok(EXIT_OK)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
