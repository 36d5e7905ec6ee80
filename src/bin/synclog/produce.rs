//! `synclog produce`: the messages given as arguments in one request, or stdin's lines in
//! batches.
//!
//! Stdin is read one batch ahead of the broker: a batch (at most [`BATCH_LINES`] lines and about
//! [`BATCH_BYTES`] bytes) is sent only once every line of it was read and found to be UTF-8, so a
//! bad line stops the command before any line after the last acknowledged batch is sent. The
//! connection is opened when the first batch is ready, not before stdin is read, and before each
//! later batch it is checked without blocking: a connection the broker closed meanwhile (idle past
//! its `--idle-timeout-ms`) is replaced by a new one, which cannot duplicate anything since that
//! batch had not been sent.
//!
//! When a batch fails after others were acknowledged, the error says how many messages were
//! acknowledged, at which offsets and from which stdin lines, and what happened to the batch
//! that failed, so that the rest can be sent again without duplicating what was stored.

use anyhow::{anyhow, Context};
use std::io::{BufRead, ErrorKind, Write};
use std::net::TcpStream;
use std::ops::RangeInclusive;
use synclog::client::{Client, ClientError};
use synclog::protocol::ErrorCode;

/// The most stdin lines one Produce request carries.
pub const BATCH_LINES: usize = 1000;
/// A batch is sent once its lines hold this many bytes, so that a request stays far below the
/// broker's default `--max-frame-bytes` (16 MiB) whatever the lengths of the lines.
pub const BATCH_BYTES: usize = 1 << 20;

/// `synclog produce`: sends `messages`, or one message per line of `input` when there are none;
/// prints what was acknowledged.
pub fn produce(
    broker: &str,
    topic: &str,
    messages: &[String],
    input: impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut sender = Sender { broker, topic, client: None, acked: Acked::default() };
    if messages.is_empty() {
        sender.send_stdin(input)?;
    } else {
        let batch: Vec<&[u8]> = messages.iter().map(|m| m.as_bytes()).collect();
        let base = sender.connection()?.produce(topic, batch.iter().copied()).map_err(|e| {
            // As for a batch of stdin lines: only a refusal made before anything was appended
            // stores none of them.
            let stored_none = matches!(e, ClientError::Broker { code, .. } if stores_none(code));
            let them = if batch.len() == 1 {
                "the message was not acknowledged: it"
            } else {
                "the messages were not acknowledged: they"
            };
            match stored_none {
                false => anyhow::Error::new(e).context(format!("{them} may or may not be stored")),
                true => e.into(),
            }
        })?;
        sender.acked.add(base, batch.len() as u64);
    }
    let acked = &sender.acked;
    if acked.messages == 0 {
        writeln!(out, "nothing to produce")?;
    } else {
        writeln!(out, "produced {} to {topic} at {}", messages_word(acked.messages), acked.offsets())?;
    }
    Ok(())
}

/// What the broker acknowledged so far: how many messages, and their offset ranges in order
/// (adjacent ranges merged; another producer's messages can fall between two batches).
#[derive(Default)]
struct Acked {
    messages: u64,
    ranges: Vec<RangeInclusive<u64>>,
}

impl Acked {
    fn add(&mut self, base: u64, count: u64) {
        let last = base + count - 1;
        self.messages += count;
        match self.ranges.last_mut() {
            Some(range) if range.end().checked_add(1) == Some(base) => *range = *range.start()..=last,
            _ => self.ranges.push(base..=last),
        }
    }

    /// `offset 7`, `offsets 0..=999`, `offsets 0..=999 and 1100..=1199`, or for many ranges
    /// their count and bounds.
    fn offsets(&self) -> String {
        let shown: Vec<String> = self
            .ranges
            .iter()
            .map(|r| {
                if r.start() == r.end() {
                    r.start().to_string()
                } else {
                    format!("{}..={}", r.start(), r.end())
                }
            })
            .collect();
        match shown.len() {
            1 if self.messages == 1 => format!("offset {}", shown[0]),
            0..=3 => format!("offsets {}", shown.join(" and ")),
            n => format!(
                "offsets in {n} ranges from {} to {} (other producers' messages between them)",
                self.ranges[0].start(),
                self.ranges[n - 1].end()
            ),
        }
    }

    /// What was acknowledged before a failure, for its error message.
    fn before_failure(&self) -> String {
        match self.messages {
            0 => "nothing was acknowledged".to_string(),
            1 => {
                format!("1 message, from stdin line 1, was acknowledged first, at {}", self.offsets())
            }
            n => format!(
                "{n} messages, from stdin lines 1..={n}, were acknowledged first, at {}",
                self.offsets()
            ),
        }
    }
}

fn messages_word(n: u64) -> String {
    if n == 1 {
        "1 message".to_string()
    } else {
        format!("{n} messages")
    }
}

/// Stdin lines read and not yet sent: lines `first_line..first_line + lines.len()`.
struct Batch {
    first_line: u64,
    lines: Vec<Vec<u8>>,
    bytes: usize,
}

impl Batch {
    /// "it" or "they", for the lines of the batch.
    fn pronoun(&self) -> &'static str {
        if self.lines.len() == 1 {
            "it"
        } else {
            "they"
        }
    }

    /// "was" or "were", for the lines of the batch.
    fn were(&self) -> &'static str {
        if self.lines.len() == 1 {
            "was"
        } else {
            "were"
        }
    }

    /// `stdin line N` or `stdin lines FIRST..=LAST`.
    fn line_numbers(&self) -> String {
        match self.lines.len() as u64 {
            1 => format!("stdin line {}", self.first_line),
            n => format!("stdin lines {}..={}", self.first_line, self.first_line + n - 1),
        }
    }
}

/// The connection (opened when the first batch is ready) and what it got acknowledged.
struct Sender<'a> {
    broker: &'a str,
    topic: &'a str,
    client: Option<Client>,
    acked: Acked,
}

impl Sender<'_> {
    /// The connection to send the next batch on: the open one, or a new one when the broker
    /// has closed it; the first is probed ([`Client::probe`]), so a peer that is no broker is
    /// named within its 10 s, before anything is sent.
    fn connection(&mut self) -> Result<&mut Client, ClientError> {
        let client = match self.client.take() {
            Some(client) if !closed_by_peer(client.stream()) => client,
            Some(_) => Client::connect(self.broker)?,
            None => {
                let mut client = Client::connect(self.broker)?;
                client.probe()?;
                client
            }
        };
        Ok(self.client.insert(client))
    }

    /// Reads `input` line by line and sends it in batches; on any failure, says what was
    /// acknowledged before it.
    fn send_stdin(&mut self, mut input: impl BufRead) -> anyhow::Result<()> {
        let mut batch = Batch { first_line: 1, lines: Vec::new(), bytes: 0 };
        let mut buffer = Vec::new();
        loop {
            let number = batch.first_line + batch.lines.len() as u64;
            buffer.clear();
            let read = input.read_until(b'\n', &mut buffer);
            let read =
                read.with_context(|| self.unsent(&batch, format!("cannot read stdin line {number}")))?;
            if read == 0 {
                break;
            }
            if buffer.last() == Some(&b'\n') {
                buffer.pop();
                if buffer.last() == Some(&b'\r') {
                    buffer.pop();
                }
            }
            if std::str::from_utf8(&buffer).is_err() {
                return Err(anyhow!(self.unsent(&batch, format!("stdin line {number} is not UTF-8"))));
            }
            batch.bytes += buffer.len();
            batch.lines.push(std::mem::take(&mut buffer));
            if batch.lines.len() == BATCH_LINES || batch.bytes >= BATCH_BYTES {
                self.send_batch(&batch)?;
                batch = Batch { first_line: number + 1, lines: Vec::new(), bytes: 0 };
            }
        }
        if !batch.lines.is_empty() {
            self.send_batch(&batch)?;
        }
        Ok(())
    }

    /// The message for a failure before `batch` was sent.
    fn unsent(&self, batch: &Batch, what: String) -> String {
        let pending = if batch.lines.is_empty() {
            String::new()
        } else {
            format!(" ({}, read before it, {} not sent)", batch.line_numbers(), batch.were())
        };
        format!("{what}{pending}; {}", self.acked.before_failure())
    }

    /// Sends one batch and waits for its acknowledgement.
    fn send_batch(&mut self, batch: &Batch) -> anyhow::Result<()> {
        let topic = self.topic;
        let sent = self.connection().map_err(|e| (e, false)).and_then(|client| {
            client.produce(topic, batch.lines.iter().map(Vec::as_slice)).map_err(|e| (e, true))
        });
        match sent {
            Ok(base) => {
                self.acked.add(base, batch.lines.len() as u64);
                Ok(())
            }
            Err((e, connected)) => {
                let what = match &e {
                    _ if !connected => format!("{} {} not sent", batch.line_numbers(), batch.were()),
                    ClientError::Broker { code, message } => refusal(batch, *code, message),
                    _ => format!(
                        "{} got no acknowledgement: {} may or may not be stored",
                        batch.line_numbers(),
                        batch.pronoun()
                    ),
                };
                let context = format!("{what}; {}", self.acked.before_failure());
                Err(anyhow::Error::new(e).context(context))
            }
        }
    }
}

/// Whether a Produce refused with `code` stored none of its messages: the codes a broker
/// answers before it appends anything.
fn stores_none(code: ErrorCode) -> bool {
    use ErrorCode::*;
    matches!(
        code,
        Malformed
            | UnsupportedVersion
            | FrameTooLarge
            | InvalidTopic
            | MessageTooLarge
            | TooManyConnections
            | TooManyTopics
            | BuffersFull
    )
}

/// What a broker's refusal of `batch` means. The codes a broker answers before it appends
/// anything store none of the batch; after an Internal error (a failed write or sync, say) the
/// batch may be stored in part or whole. A MessageTooLarge refusal names the first line over
/// the limit the broker states ("… the maximum of N bytes").
fn refusal(batch: &Batch, code: ErrorCode, message: &str) -> String {
    let lines = batch.line_numbers();
    let none = if batch.lines.len() == 1 { "it" } else { "them" };
    let maybe = batch.pronoun();
    let refused = if stores_none(code) {
        format!("the broker refused {lines} and stored none of {none}")
    } else {
        format!("the broker refused {lines}: {maybe} may or may not be stored")
    };
    let max = message
        .rsplit("maximum of ")
        .next()
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|_| code == ErrorCode::MessageTooLarge);
    let Some(max) = max else { return refused };
    match batch.lines.iter().position(|line| line.len() > max) {
        Some(i) => format!(
            "{refused} (stdin line {} has {} bytes, more than its maximum of {max})",
            batch.first_line + i as u64,
            batch.lines[i].len()
        ),
        None => refused,
    }
}

/// True when the broker has closed this connection or it failed: a read would find EOF or an
/// error, or the broker sent something unasked. Checked without blocking, between requests,
/// when nothing is due from the broker. A broker closes a connection idle past its
/// `--idle-timeout-ms` without a word.
fn closed_by_peer(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let open = matches!(stream.peek(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock);
    stream.set_nonblocking(false).is_err() || !open
}
