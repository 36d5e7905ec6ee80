//! Reading a peer's stream back after a run, every entry, and comparing the values it holds with
//! the values the producers had acknowledged.
//!
//! Every message a peer run sends is distinct: producer `p`'s message number `s` is
//! [`encode_payload`](crate::check::encode_payload)`(PEER_SEED, p, s, …)`, so a stored entry names
//! the value it is. A producer stops only once every message it sent was acknowledged (else the
//! run fails), so the acknowledged values are exactly `(p, s)` for `p < producers`,
//! `s < per_producer`. [`ReadBackCheck`] takes the stored entries one by one and counts the
//! values missing, stored twice, or never sent (garbled, or not this run's).

use super::{failed, Nats, PeerError, Protocol, Redis, REPLY_TIMEOUT, STREAM};
use crate::check::decode_payload;
use std::io::{BufRead, BufReader, Read, Write};

/// The seed of every peer run's payloads.
pub const PEER_SEED: u64 = 0x5EE2_5EED;

/// Entries asked for per read-back request.
const PAGE: usize = 1000;

/// The values a peer run acknowledged: seqs `0..per_producer` of each producer `0..producers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acknowledged {
    pub producers: u32,
    pub per_producer: u64,
}

/// What a read-back found against [`Acknowledged`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadBack {
    /// Entries read from the stream.
    pub read: u64,
    /// Acknowledged values not in the stream.
    pub missing: u64,
    /// Entries holding a value already read.
    pub duplicated: u64,
    /// Entries holding no value this run sent (garbled, or another run's).
    pub foreign: u64,
    /// The first problem met, to quote.
    pub example: Option<String>,
}

impl ReadBack {
    /// The stream holds exactly the acknowledged values, each once.
    pub fn is_exact(&self) -> bool {
        self.missing == 0 && self.duplicated == 0 && self.foreign == 0
    }
}

/// Checks stored entries, one at a time, against what was acknowledged.
pub struct ReadBackCheck {
    acked: Acknowledged,
    /// `seen[p][s]`: value `(p, s)` was read.
    seen: Vec<Vec<bool>>,
    found: ReadBack,
}

impl ReadBackCheck {
    pub fn new(acked: Acknowledged) -> ReadBackCheck {
        let per_producer = usize::try_from(acked.per_producer).unwrap_or(usize::MAX);
        ReadBackCheck {
            acked,
            seen: vec![vec![false; per_producer]; acked.producers as usize],
            found: ReadBack::default(),
        }
    }

    /// One stored entry.
    pub fn entry(&mut self, payload: &[u8]) {
        self.found.read += 1;
        let id = match decode_payload(PEER_SEED, payload) {
            Ok(id) if id.producer < self.acked.producers && id.seq < self.acked.per_producer => id,
            Ok(id) => {
                return self
                    .problem(Problem::Foreign, format!("value {}:{} was never sent", id.producer, id.seq))
            }
            Err(e) => return self.problem(Problem::Foreign, format!("an entry is no value sent: {e}")),
        };
        let seen = &mut self.seen[id.producer as usize][id.seq as usize];
        if *seen {
            return self
                .problem(Problem::Duplicated, format!("value {}:{} is stored twice", id.producer, id.seq));
        }
        *seen = true;
    }

    fn problem(&mut self, kind: Problem, example: String) {
        match kind {
            Problem::Foreign => self.found.foreign += 1,
            Problem::Duplicated => self.found.duplicated += 1,
        }
        self.found.example.get_or_insert(example);
    }

    /// The verdict, once every entry was given.
    pub fn finish(mut self) -> ReadBack {
        for (producer, seqs) in self.seen.iter().enumerate() {
            for (seq, _) in seqs.iter().enumerate().filter(|(_, seen)| !**seen) {
                self.found.missing += 1;
                self.found
                    .example
                    .get_or_insert_with(|| format!("acknowledged value {producer}:{seq} is not stored"));
            }
        }
        self.found
    }
}

enum Problem {
    Foreign,
    Duplicated,
}

/// One RESP value, as much as XRANGE answers with.
enum Resp {
    Bulk(Vec<u8>),
    Array(Vec<Resp>),
    Other,
}

/// Reads one whole RESP value from `r`.
fn read_resp(r: &mut impl BufRead) -> Result<Resp, PeerError> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.len() < 3 || !line.ends_with(b"\r\n") {
        return Err(failed("Redis closed the connection or sent a broken line during the read-back"));
    }
    let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
    let number = || text.parse::<i64>().map_err(|_| failed(format!("Redis sent a bad length {text:?}")));
    match line[0] {
        b'*' => {
            let n = number()?.max(0);
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(read_resp(r)?);
            }
            Ok(Resp::Array(items))
        }
        b'$' => {
            let Ok(len) = usize::try_from(number()?) else { return Ok(Resp::Other) };
            let mut bytes = vec![0u8; len + 2];
            r.read_exact(&mut bytes)?;
            bytes.truncate(len);
            Ok(Resp::Bulk(bytes))
        }
        b'-' => Err(failed(format!("Redis answered an error: {text}"))),
        _ => Ok(Resp::Other),
    }
}

/// Reads every entry of Redis's stream in pages (`XRANGE` from just past the last id read).
pub(super) fn redis(port: u16, check: &mut ReadBackCheck) -> Result<(), PeerError> {
    let stream = Redis.connect(port, 0)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    let mut start = b"-".to_vec();
    let page = PAGE.to_string();
    loop {
        let mut out = Vec::new();
        let command: [&[u8]; 6] = [b"XRANGE", STREAM.as_bytes(), &start, b"+", b"COUNT", page.as_bytes()];
        Redis::command(&command, &mut out);
        writer.write_all(&out)?;
        let Resp::Array(entries) = read_resp(&mut reader)? else {
            return Err(failed("Redis answered XRANGE with something else than an array"));
        };
        if entries.is_empty() {
            return Ok(());
        }
        for entry in entries {
            // [id, [field, value]]
            let Resp::Array(mut parts) = entry else {
                return Err(failed("Redis sent an XRANGE entry that is no array"));
            };
            let (Some(Resp::Array(mut fields)), Some(Resp::Bulk(id))) = (parts.pop(), parts.pop()) else {
                return Err(failed("Redis sent an XRANGE entry without an id and fields"));
            };
            match fields.pop() {
                Some(Resp::Bulk(value)) if fields.len() == 1 => check.entry(&value),
                _ => return Err(failed("Redis sent an XRANGE entry without exactly one field")),
            }
            start = [b"(".as_slice(), &id].concat();
        }
    }
}

/// The JetStream consumer the read-back pulls from.
const READER: &str = "readback";
/// The client number whose inbox the read-back's messages arrive at.
const READER_CLIENT: u32 = u32::MAX - 1;

/// Reads every message of the JetStream stream through a pull consumer, a page at a time.
pub(super) fn nats(port: u16, check: &mut ReadBackCheck) -> Result<(), PeerError> {
    let info = Nats.api(port, &format!("$JS.API.STREAM.INFO.{STREAM}"), "", REPLY_TIMEOUT)?;
    let mut remaining = info
        .pointer("/state/messages")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| failed(format!("JetStream's stream info has no message count: {info}")))?;
    let config = format!(
        r#"{{"stream_name":"{STREAM}","config":{{"durable_name":"{READER}","deliver_policy":"all","ack_policy":"none","max_waiting":1}}}}"#
    );
    Nats.api(port, &format!("$JS.API.CONSUMER.DURABLE.CREATE.{STREAM}.{READER}"), &config, REPLY_TIMEOUT)?;
    let stream = Nats.connect(port, READER_CLIENT)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    let inbox = Nats::inbox(READER_CLIENT);
    while remaining > 0 {
        let batch = remaining.min(PAGE as u64);
        let body = format!(r#"{{"batch":{batch}}}"#);
        let next = format!("$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{READER}");
        writer.write_all(format!("PUB {next} {inbox} {}\r\n{body}\r\n", body.len()).as_bytes())?;
        let mut got = 0;
        while got < batch {
            let mut line = Vec::new();
            reader.read_until(b'\n', &mut line)?;
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            let words: Vec<&str> = text.split_ascii_whitespace().collect();
            match words.first().map(|w| w.to_ascii_uppercase()).as_deref() {
                Some("MSG") => {
                    let len = words.last().and_then(|l| l.parse::<usize>().ok());
                    let len = len.ok_or_else(|| failed(format!("NATS sent a bad MSG line {text:?}")))?;
                    let mut payload = vec![0u8; len + 2];
                    reader.read_exact(&mut payload)?;
                    payload.truncate(len);
                    check.entry(&payload);
                    got += 1;
                }
                Some("PING") => writer.write_all(b"PONG\r\n")?,
                None if line.is_empty() => {
                    return Err(failed("NATS closed the connection during the read-back"))
                }
                // A status (no messages, timeout) comes as HMSG: the stream has fewer than it said.
                Some("HMSG") | Some("-ERR") => {
                    return Err(failed(format!("JetStream answered the read-back with {text:?}")));
                }
                _ => {}
            }
        }
        remaining -= batch;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_arrays_of_bulk_strings_read_whole() {
        let bytes = b"*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nhi\r\n".to_vec();
        let Resp::Array(entries) = read_resp(&mut bytes.as_slice()).unwrap() else { panic!("an array") };
        let Resp::Array(parts) = &entries[0] else { panic!("an entry") };
        assert!(matches!(&parts[0], Resp::Bulk(id) if id == b"1-0"));
        assert!(read_resp(&mut b"-ERR no\r\n".as_slice()).is_err());
        assert!(read_resp(&mut b"".as_slice()).is_err(), "a closed connection is an error, not a panic");
    }
}
