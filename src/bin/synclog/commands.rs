//! The client commands of `synclog` but `produce` (in `produce.rs`): each prints for a person and
//! returns when done.

use std::io::Write;
use synclog::protocol::ErrorCode;

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

/// `synclog consume`: prints records of `topic` from `from`; stops at the end of the topic (or
/// after `max` records) unless `follow` is set. Following a topic that does not exist yet waits
/// for its first message (as `tail -F` waits for a file), saying so once on stderr; without
/// `follow`, or once the topic has been found (it was deleted since, and a topic made again
/// under its name would not carry on from the offsets printed), an unknown topic is an error.
pub fn consume(
    broker: &str,
    topic: &str,
    from: u64,
    max: Option<u64>,
    follow: bool,
    format: OutputFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut client = synclog::client::Client::connect(broker)?;
    client.probe()?;
    let mut consumer = synclog::client::Consumer::new(client, topic, from);
    let mut printed = 0u64;
    let (mut waiting_told, mut found) = (false, false);
    loop {
        let wait = if follow { std::time::Duration::from_secs(1) } else { std::time::Duration::ZERO };
        let fetched = match consumer.poll(wait) {
            Err(e) if follow && !found && e.code() == Some(ErrorCode::UnknownTopic) => {
                if !waiting_told {
                    eprintln!("synclog: topic {topic} does not exist yet; waiting for it (--follow)");
                    waiting_told = true;
                }
                std::thread::sleep(wait);
                continue;
            }
            fetched => fetched?,
        };
        found = true;
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
        // Asked again, such a broker would answer the same: stop instead of asking for ever.
        anyhow::ensure!(
            at_end || !fetched.records.is_empty(),
            "the broker answered no records at offset {} below its high watermark {}",
            consumer.position,
            fetched.high_watermark
        );
        if max.is_some_and(|m| printed >= m) || (at_end && !follow) {
            return Ok(());
        }
    }
}

/// `synclog topics`: one line per topic with its next offset (its high watermark).
pub fn topics(broker: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let topics = synclog::client::Client::connect(broker)?.probe()?;
    if topics.is_empty() {
        writeln!(out, "no topics")?;
    }
    for (name, next) in topics {
        writeln!(out, "{name}\t{next}")?;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
