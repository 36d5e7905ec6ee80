//! The peers a user would pick instead of synclog for a single-node log — Redis Streams and NATS
//! JetStream — measured on this machine, with their data on the same file system, on the same
//! workload shape, in the same run as synclog's own figures (`harness compare --goals --peers`).
//!
//! The servers are the installed `redis-server` and `nats-server` (Debian packages of those
//! names; `scripts/compare.sh` installs them). Each measurement starts its own server on a free
//! loopback port with its data in a fresh directory, so nothing is shared between runs.
//!
//! The load comes from the same kind of client as synclog's producers, so the client side costs
//! the same on both: `producers` threads, one connection each, every thread keeping `in_flight`
//! requests outstanding (1 = one at a time; more = pipelined, written in bursts) until it has its
//! share of `messages` acknowledged. One request carries one message of `message_bytes` bytes:
//!
//! - Redis: `XADD bench * f <message>`; acknowledged by the entry id. `--fsync always` runs
//!   Redis with `appendonly yes, appendfsync always` (one fsync per event-loop pass, before the
//!   replies go out: Redis's own group commit); `never` with `appendfsync no` (written to the
//!   page cache before the reply, like synclog's `never`); in both, with automatic AOF rewrites
//!   off (`auto-aof-rewrite-percentage 0`), so no rewrite child forks mid-run.
//! - NATS: a JetStream publish to a file-backed stream, acknowledged by its `{"stream","seq"}`
//!   reply. JetStream 2.9 has no per-message fsync; its file store syncs on a timer, so NATS runs
//!   only beside the `never` rows.
//!
//! Every message is distinct (producer and sequence number encoded as in synclog's own runs), and
//! afterwards every entry of the stream is read back ([`readback`]): a run whose peer does not
//! hold exactly the acknowledged values, each once, is an error, not a figure.

pub mod readback;

use crate::check::payload::PAYLOAD_OVERHEAD_BYTES;
use crate::experiment::payloads::Prepared;
use crate::experiment::scratch::Spawned;
pub use crate::report::rows::{PeerFigure, PeerKind};
use crate::storage::FsyncMode;
use readback::{Acknowledged, ReadBackCheck, PEER_SEED};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to accept connections, and a reply to arrive.
const START_TIMEOUT: Duration = Duration::from_secs(10);
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// The stream (Redis key, NATS stream and subject) every peer run writes to.
const STREAM: &str = "bench";

impl PeerKind {
    /// The server binary looked up on `PATH`, and the Debian package that installs it.
    pub fn server(self) -> (&'static str, &'static str) {
        match self {
            PeerKind::Redis => ("redis-server", "redis-server"),
            PeerKind::Nats => ("nats-server", "nats-server"),
        }
    }

    /// Whether this peer can be run with the given durability.
    pub fn supports(self, fsync: FsyncMode) -> bool {
        match self {
            PeerKind::Redis => fsync != FsyncMode::Interval,
            PeerKind::Nats => fsync == FsyncMode::Never,
        }
    }
}

/// The workload a peer runs: the shape of one of synclog's goal rows.
#[derive(Debug, Clone, Copy)]
pub struct PeerWorkload {
    pub producers: u32,
    pub in_flight: u32,
    pub messages: u64,
    pub message_bytes: usize,
    pub fsync: FsyncMode,
}

/// Why a peer has no figure.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{binary} is not installed (apt-get install {package})")]
    NotInstalled { binary: &'static str, package: &'static str },
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn failed(message: impl Into<String>) -> PeerError {
    PeerError::Failed(message.into())
}

/// Runs `workload` against a fresh `peer` server whose data lives under `scratch`.
pub fn measure(peer: PeerKind, workload: &PeerWorkload, scratch: &Path) -> Result<PeerFigure, PeerError> {
    if !peer.supports(workload.fsync) {
        return Err(failed(format!("{peer:?} has no setting matching --fsync {}", workload.fsync.name())));
    }
    if workload.producers == 0 || workload.in_flight == 0 || workload.messages < u64::from(workload.producers)
    {
        return Err(failed("a peer run needs producers, in-flight and messages ≥ 1 each"));
    }
    if workload.message_bytes < PAYLOAD_OVERHEAD_BYTES {
        return Err(failed(format!("a peer run needs messages of at least {PAYLOAD_OVERHEAD_BYTES} bytes")));
    }
    let (binary, package) = peer.server();
    let binary_path = find_on_path(binary).ok_or(PeerError::NotInstalled { binary, package })?;
    let dir = crate::experiment::scratch::Scratch::new_in(&format!("synclog-peer-{binary}-"), scratch)?;
    let server = Server::start(peer, &binary_path, dir.path(), workload.fsync)?;
    let version = server_version(&binary_path, peer);
    let protocol: &dyn Protocol = match peer {
        PeerKind::Redis => &Redis,
        PeerKind::Nats => &Nats,
    };
    protocol.prepare(server.port)?;
    // A warm-up first, untimed, as synclog's own runs have (a tenth, at least one each); its
    // values come first in each producer's sequence, the timed run's after them.
    let warm_up =
        PeerWorkload { messages: (workload.messages / 10).max(u64::from(workload.producers)), ..*workload };
    let warm_per_producer = drive(protocol, server.port, &warm_up, 0)?.0;
    // Memory warmed as for synclog's runs (super::warm): for the payloads encoded next, and
    // for what the peer keeps of them (its file, and Redis's in-memory stream), with room.
    super::warm::warm(4 * super::warm::log_bytes(workload.messages, workload.message_bytes as f64));
    let (per_producer, rate) = drive(protocol, server.port, workload, warm_per_producer)?;
    let acked =
        Acknowledged { producers: workload.producers, per_producer: warm_per_producer + per_producer };
    let mut check = ReadBackCheck::new(acked);
    match peer {
        PeerKind::Redis => readback::redis(server.port, &mut check)?,
        PeerKind::Nats => readback::nats(server.port, &mut check)?,
    }
    let found = check.finish();
    if !found.is_exact() {
        return Err(failed(format!(
            "{version} acknowledged {} distinct messages, but reading its stream back found {} entries: \
{} missing, {} stored twice, {} never sent (e.g. {})",
            u64::from(acked.producers) * acked.per_producer,
            found.read,
            found.missing,
            found.duplicated,
            found.foreign,
            found.example.as_deref().unwrap_or("-")
        )));
    }
    let (setting, durability) = match (peer, workload.fsync) {
        (PeerKind::Redis, FsyncMode::Always) => {
            ("XADD, appendonly yes, appendfsync always", "fsync before the replies of each event-loop pass")
        }
        (PeerKind::Redis, _) => {
            ("XADD, appendonly yes, appendfsync no", "page cache (written before the reply)")
        }
        (PeerKind::Nats, _) => {
            ("JetStream publish + ack, file storage", "file store, synced on a timer (JetStream default)")
        }
    };
    Ok(PeerFigure {
        peer,
        server: version,
        setting: setting.into(),
        msgs_per_s: rate,
        durability: durability.into(),
    })
}

fn find_on_path(binary: &str) -> Option<PathBuf> {
    find_in(std::env::var_os("PATH")?.to_str()?, binary)
}

/// The first `dir/binary` that is a file, for `dir` in the colon-separated `path`.
fn find_in(path: &str, binary: &str) -> Option<PathBuf> {
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(binary))
        .find(|candidate| candidate.is_file())
}

fn server_version(binary: &Path, peer: PeerKind) -> String {
    let name = match peer {
        PeerKind::Redis => "Redis",
        PeerKind::Nats => "NATS",
    };
    let out = Command::new(binary).arg("--version").output().ok();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    // "Redis server v=7.0.15 sha=…" / "nats-server: v2.9.10"
    let version = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("v=").or_else(|| w.strip_prefix('v')))
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()));
    match version {
        Some(v) => format!("{name} {v}"),
        None => name.to_string(),
    }
}

/// A peer server on a loopback port, killed when dropped (or when the harness is interrupted:
/// [`Spawned`]).
struct Server {
    child: Spawned,
    port: u16,
}

impl Server {
    /// Starts the server on a free port; on another if the port was taken between its picking
    /// and the server's bind (by anything else on the machine), up to three ports in all.
    fn start(peer: PeerKind, binary: &Path, dir: &Path, fsync: FsyncMode) -> Result<Server, PeerError> {
        let mut tries = 1;
        loop {
            match Server::start_on(free_port()?, peer, binary, dir, fsync) {
                Err((_, true)) if tries < 3 => tries += 1,
                started => return started.map_err(|(e, _)| e),
            }
        }
    }

    /// Starts the server on `port`; an error says too whether the port was taken.
    fn start_on(
        port: u16,
        peer: PeerKind,
        binary: &Path,
        dir: &Path,
        fsync: FsyncMode,
    ) -> Result<Server, (PeerError, bool)> {
        let mut command = Command::new(binary);
        match peer {
            PeerKind::Redis => {
                let appendfsync = if fsync == FsyncMode::Always { "always" } else { "no" };
                command.args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", ""]);
                command.args(["--appendonly", "yes", "--appendfsync", appendfsync, "--daemonize", "no"]);
                // No automatic AOF rewrite: it would fork a child mid-run (costing the run
                // memory and a core the other systems do not pay) that a kill of the server
                // does not stop.
                command.args(["--auto-aof-rewrite-percentage", "0"]);
                command.arg("--dir").arg(dir);
            }
            PeerKind::Nats => {
                command.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js"]);
                command.arg("-sd").arg(dir);
            }
        }
        // The server's own output goes to a file beside its data, quoted if it fails to start.
        let log_path = dir.join("server.log");
        let io = |e: std::io::Error| (PeerError::from(e), false);
        let log = std::fs::File::create(&log_path).map_err(io)?;
        let out = log.try_clone().map_err(io)?;
        let child = Spawned::spawn(command.stdin(Stdio::null()).stdout(out).stderr(log)).map_err(io)?;
        let server = Server { child, port };
        let deadline = Instant::now() + START_TIMEOUT;
        // Ready once it says so in its log: a connection alone could reach another listener
        // that took the port, while this server is still failing to bind it.
        let ready = match peer {
            PeerKind::Redis => "Ready to accept connections",
            PeerKind::Nats => "Server is ready",
        };
        loop {
            let output = std::fs::read_to_string(&log_path).unwrap_or_default();
            let exited = server.child.try_wait().map_err(io)?;
            if exited.is_none() && output.contains(ready) && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if exited.is_some() || Instant::now() > deadline {
                let taken =
                    exited.is_some() && output.to_ascii_lowercase().contains("address already in use");
                let mut tail: Vec<&str> = output.lines().rev().take(5).collect();
                tail.reverse();
                let how = match exited {
                    Some(status) => format!("exited ({status})"),
                    None => "did not say it was ready within 10 s".to_string(),
                };
                let why = format!("{} {how} on port {port}: {}", binary.display(), tail.join(" | "));
                return Err((failed(why), taken));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A peer's wire protocol, as much of it as the benchmark uses.
trait Protocol: Sync {
    /// Opens a client connection, past any greeting.
    fn connect(&self, port: u16, client: u32) -> Result<TcpStream, PeerError> {
        let _ = client;
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        Ok(stream)
    }
    /// Sets the server up before the producers start (creates the stream).
    fn prepare(&self, port: u16) -> Result<(), PeerError>;
    /// Appends one publish of `message` for `client` to `out`.
    fn publish(&self, client: u32, message: &[u8], out: &mut Vec<u8>);
    /// Parses what `input` starts with: `Some((consumed, Reply))` for a whole item, `None` when
    /// more bytes are needed.
    fn parse(&self, input: &[u8]) -> Result<Option<(usize, Reply)>, PeerError>;
}

/// One item read from a peer.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// A publish was acknowledged.
    Ack,
    /// Not an acknowledgement; to be answered with these bytes (NATS `PING` → `PONG`), if any.
    Other(Option<&'static [u8]>),
}

/// Every producer thread: connect, wait for the others, publish its share keeping `in_flight`
/// outstanding, each message the distinct value `(producer, first_seq + n)`. Returns the
/// messages each producer had acknowledged, and messages per second over all producers.
fn drive(
    protocol: &dyn Protocol,
    port: u16,
    w: &PeerWorkload,
    first_seq: u64,
) -> Result<(u64, f64), PeerError> {
    let per_producer = w.messages / u64::from(w.producers);
    let start = Barrier::new(w.producers as usize + 1);
    let elapsed = thread::scope(|s| -> Result<Duration, PeerError> {
        let handles: Vec<_> = (0..w.producers)
            .map(|client| {
                let start = &start;
                let seqs = first_seq..first_seq + per_producer;
                s.spawn(move || -> Result<(), PeerError> {
                    let stream = protocol.connect(port, client);
                    // Encoded before the clock starts, as the harness's producers do.
                    let payloads = Prepared::encode(PEER_SEED, client, seqs.clone(), |_| w.message_bytes);
                    start.wait();
                    produce(protocol, stream?, client, &payloads, seqs, w)
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        let mut result = Ok(());
        for h in handles {
            let joined = h.join().map_err(|_| failed("a peer producer thread panicked"))?;
            result = result.and(joined);
        }
        result.map(|()| t0.elapsed())
    })?;
    let acked = per_producer * u64::from(w.producers);
    Ok((per_producer, acked as f64 / elapsed.as_secs_f64()))
}

/// One producer: sends the values `seqs` of `client` (encoded beforehand in `payloads`),
/// `w.in_flight` outstanding, until every one is acknowledged.
fn produce(
    protocol: &dyn Protocol,
    mut stream: TcpStream,
    client: u32,
    payloads: &Prepared,
    seqs: std::ops::Range<u64>,
    w: &PeerWorkload,
) -> Result<(), PeerError> {
    let total = seqs.end - seqs.start;
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut out = Vec::new();
    let mut messages = payloads.messages(seqs.clone());
    let mut input = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    while acked < total {
        while sent < total && sent - acked < u64::from(w.in_flight) {
            let message = messages.next().expect("a payload for every value sent");
            protocol.publish(client, message, &mut out);
            sent += 1;
        }
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(failed(format!("the server closed the connection after {acked} of {total} acks")));
        }
        input.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while let Some((used, reply)) = protocol.parse(&input[at..])? {
            at += used;
            match reply {
                Reply::Ack => acked += 1,
                Reply::Other(Some(answer)) => out.extend_from_slice(answer),
                Reply::Other(None) => {}
            }
        }
        input.drain(..at);
    }
    Ok(())
}

/// Reads from `stream` until `parse` yields an item that `want` accepts; returns it.
fn request<T>(
    stream: &mut TcpStream,
    mut want: impl FnMut(&[u8]) -> Result<Option<(usize, Option<T>)>, PeerError>,
) -> Result<T, PeerError> {
    let mut input = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let mut at = 0;
        while let Some((used, item)) = want(&input[at..])? {
            at += used;
            if let Some(item) = item {
                return Ok(item);
            }
        }
        input.drain(..at);
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(failed("the server closed the connection before answering"));
        }
        input.extend_from_slice(&chunk[..n]);
    }
}

/// The position just past the first CRLF, if any.
fn line_end(input: &[u8]) -> Option<usize> {
    input.windows(2).position(|w| w == b"\r\n").map(|i| i + 2)
}

/// Redis's RESP protocol: arrays of bulk strings out, one reply per command in.
struct Redis;

/// One RESP reply: its length in bytes and, for integers, the value.
#[derive(Debug, PartialEq, Eq)]
enum Resp {
    Bulk,
    Simple,
    Integer(i64),
}

impl Redis {
    fn command(parts: &[&[u8]], out: &mut Vec<u8>) {
        out.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
        for part in parts {
            out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Parses one reply of the kinds XADD and PING answer with.
    fn reply(input: &[u8]) -> Result<Option<(usize, Resp)>, PeerError> {
        let Some(end) = line_end(input) else { return Ok(None) };
        if end < 3 {
            return Err(failed("Redis sent an empty line"));
        }
        let line =
            std::str::from_utf8(&input[1..end - 2]).map_err(|_| failed("Redis sent a non-UTF-8 line"))?;
        match input[0] {
            b'+' => Ok(Some((end, Resp::Simple))),
            b':' => {
                let value = line.parse().map_err(|_| failed(format!("Redis sent a bad integer {line:?}")))?;
                Ok(Some((end, Resp::Integer(value))))
            }
            b'$' => {
                let len: i64 =
                    line.parse().map_err(|_| failed(format!("Redis sent a bad length {line:?}")))?;
                // `$-1` is the null reply: nothing was stored.
                let len = usize::try_from(len).map_err(|_| failed("Redis answered with a null reply"))?;
                let total = end + len + 2;
                Ok((input.len() >= total).then_some((total, Resp::Bulk)))
            }
            b'-' => Err(failed(format!("Redis answered an error: {line}"))),
            other => Err(failed(format!("Redis sent an unexpected reply type {:?}", other as char))),
        }
    }
}

impl Protocol for Redis {
    fn prepare(&self, port: u16) -> Result<(), PeerError> {
        let mut stream = self.connect(port, 0)?;
        let mut out = Vec::new();
        Redis::command(&[b"PING"], &mut out);
        stream.write_all(&out)?;
        request(&mut stream, |input| Ok(Redis::reply(input)?.map(|(n, r)| (n, Some(r)))))?;
        Ok(())
    }

    fn publish(&self, _client: u32, message: &[u8], out: &mut Vec<u8>) {
        Redis::command(&[b"XADD", STREAM.as_bytes(), b"*", b"f", message], out);
    }

    fn parse(&self, input: &[u8]) -> Result<Option<(usize, Reply)>, PeerError> {
        match Redis::reply(input)? {
            Some((n, Resp::Bulk)) => Ok(Some((n, Reply::Ack))),
            Some((_, other)) => Err(failed(format!("Redis answered XADD with {other:?}"))),
            None => Ok(None),
        }
    }
}

/// NATS's text protocol, with JetStream's request/reply API on top.
struct Nats;

/// One NATS protocol item.
#[derive(Debug, PartialEq, Eq)]
enum NatsItem<'a> {
    /// `MSG subject sid [reply] len` and its payload.
    Msg {
        subject: &'a str,
        payload: &'a [u8],
    },
    Ping,
    /// `INFO`, `PONG`, `+OK`.
    Other,
}

impl Nats {
    fn item(input: &[u8]) -> Result<Option<(usize, NatsItem<'_>)>, PeerError> {
        let Some(end) = line_end(input) else { return Ok(None) };
        let line =
            std::str::from_utf8(&input[..end - 2]).map_err(|_| failed("NATS sent a non-UTF-8 line"))?;
        let mut words = line.split_ascii_whitespace();
        match words.next().map(str::to_ascii_uppercase).as_deref() {
            Some("MSG") => {
                let args: Vec<&str> = words.collect();
                let (Some(subject), Some(len)) = (args.first(), args.last()) else {
                    return Err(failed(format!("NATS sent a bad MSG line {line:?}")));
                };
                let len: usize =
                    len.parse().map_err(|_| failed(format!("NATS sent a bad MSG line {line:?}")))?;
                if input.len() < end + len + 2 {
                    return Ok(None);
                }
                Ok(Some((end + len + 2, NatsItem::Msg { subject, payload: &input[end..end + len] })))
            }
            Some("PING") => Ok(Some((end, NatsItem::Ping))),
            Some("-ERR") => Err(failed(format!("NATS answered an error: {line}"))),
            _ => Ok(Some((end, NatsItem::Other))),
        }
    }

    fn inbox(client: u32) -> String {
        format!("_INBOX.synclog.{client}")
    }

    /// Sends one JetStream API request on a fresh connection and returns the JSON answer.
    fn api(
        &self,
        port: u16,
        subject: &str,
        body: &str,
        wait: Duration,
    ) -> Result<serde_json::Value, PeerError> {
        let mut stream = self.connect(port, u32::MAX)?;
        stream.set_read_timeout(Some(wait))?;
        let inbox = Nats::inbox(u32::MAX);
        stream.write_all(format!("PUB {subject} {inbox} {}\r\n{body}\r\n", body.len()).as_bytes())?;
        let payload = request(&mut stream, |input| {
            Ok(Nats::item(input)?.map(|(n, item)| match item {
                NatsItem::Msg { payload, .. } => (n, Some(payload.to_vec())),
                _ => (n, None),
            }))
        })?;
        let value: serde_json::Value =
            serde_json::from_slice(&payload).map_err(|e| failed(format!("JetStream sent bad JSON: {e}")))?;
        if let Some(error) = value.get("error") {
            return Err(failed(format!("JetStream answered {subject} with {error}")));
        }
        Ok(value)
    }
}

impl Protocol for Nats {
    fn connect(&self, port: u16, client: u32) -> Result<TcpStream, PeerError> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        // The server greets with one INFO line (and sends nothing more before CONNECT).
        request(&mut stream, |input| {
            let Some(end) = line_end(input) else { return Ok(None) };
            if input.starts_with(b"INFO") {
                Ok(Some((end, Some(()))))
            } else {
                let line = String::from_utf8_lossy(&input[..end]).into_owned();
                Err(failed(format!("NATS greeted with {line:?}, not INFO")))
            }
        })?;
        let hello = r#"{"verbose":false,"pedantic":false,"echo":false,"name":"synclog-peer"}"#;
        let inbox = Nats::inbox(client);
        stream.write_all(format!("CONNECT {hello}\r\nSUB {inbox} 1\r\nPING\r\n").as_bytes())?;
        // PONG answers our PING once CONNECT and SUB are processed.
        request(&mut stream, |input| {
            let Some(end) = line_end(input) else { return Ok(None) };
            match &input[..end] {
                b"PONG\r\n" => Ok(Some((end, Some(())))),
                line if line.starts_with(b"-ERR") => Err(failed(format!(
                    "NATS refused the connection: {}",
                    String::from_utf8_lossy(line).trim()
                ))),
                _ => Ok(Some((end, None))),
            }
        })?;
        Ok(stream)
    }

    fn prepare(&self, port: u16) -> Result<(), PeerError> {
        let config = format!(r#"{{"name":"{STREAM}","subjects":["{STREAM}"],"storage":"file"}}"#);
        // JetStream may still be starting up: retry briefly while it answers nothing.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let wait = Duration::from_millis(500);
            match self.api(port, &format!("$JS.API.STREAM.CREATE.{STREAM}"), &config, wait) {
                Ok(_) => return Ok(()),
                Err(PeerError::Io(e))
                    if Instant::now() < deadline
                        && matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn publish(&self, client: u32, message: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(
            format!("PUB {STREAM} {} {}\r\n", Nats::inbox(client), message.len()).as_bytes(),
        );
        out.extend_from_slice(message);
        out.extend_from_slice(b"\r\n");
    }

    fn parse(&self, input: &[u8]) -> Result<Option<(usize, Reply)>, PeerError> {
        Ok(match Nats::item(input)? {
            None => None,
            Some((n, NatsItem::Ping)) => Some((n, Reply::Other(Some(b"PONG\r\n")))),
            Some((n, NatsItem::Other)) => Some((n, Reply::Other(None))),
            Some((n, NatsItem::Msg { payload, .. })) => {
                if payload.windows(7).any(|w| w == b"\"error\"") {
                    return Err(failed(format!(
                        "JetStream refused a publish: {}",
                        String::from_utf8_lossy(payload)
                    )));
                }
                Some((n, Reply::Ack))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        Redis.publish(0, b"hello", &mut out);
        assert_eq!(out, b"*5\r\n$4\r\nXADD\r\n$5\r\nbench\r\n$1\r\n*\r\n$1\r\nf\r\n$5\r\nhello\r\n");
    }

    #[test]
    fn redis_replies_parse_only_when_whole() {
        let ack = b"$15\r\n1700000000000-0\r\n";
        for cut in 0..ack.len() {
            assert_eq!(Redis.parse(&ack[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(Redis.parse(ack).unwrap(), Some((ack.len(), Reply::Ack)));
        assert_eq!(Redis::reply(b":42\r\n").unwrap(), Some((5, Resp::Integer(42))));
        let err = Redis.parse(b"-ERR wrong\r\n").unwrap_err().to_string();
        assert!(err.contains("ERR wrong"), "{err}");
        assert!(Redis.parse(b":1\r\n").is_err(), "an integer is not an XADD acknowledgement");
        assert!(Redis.parse(b"$-1\r\n").is_err(), "a null reply stored nothing");
        assert!(Redis.parse(b"\r\n").is_err(), "an empty line is an error, not a panic");
    }

    #[test]
    fn nats_items_parse_only_when_whole() {
        let body = r#"{"stream":"bench","seq":17}"#;
        let ack = format!("MSG _INBOX.synclog.3 1 {}\r\n{body}\r\n", body.len()).into_bytes();
        let ack = ack.as_slice();
        for cut in 0..ack.len() {
            assert_eq!(Nats.parse(&ack[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(Nats.parse(ack).unwrap(), Some((ack.len(), Reply::Ack)));
        assert_eq!(Nats.parse(b"PING\r\n").unwrap(), Some((6, Reply::Other(Some(b"PONG\r\n")))));
        assert_eq!(Nats.parse(b"+OK\r\n").unwrap(), Some((5, Reply::Other(None))));
        let body = r#"{"error":{"code":503,"err_code":10039}}"#;
        let refused = format!("MSG _INBOX.synclog.0 1 {}\r\n{body}\r\n", body.len());
        assert!(Nats.parse(refused.as_bytes()).is_err());
        assert!(Nats.parse(b"-ERR 'Authorization Violation'\r\n").is_err());
    }

    #[test]
    fn nats_publishes_carry_the_reply_inbox_and_the_length() {
        let mut out = Vec::new();
        Nats.publish(3, b"hi", &mut out);
        assert_eq!(out, b"PUB bench _INBOX.synclog.3 2\r\nhi\r\n");
    }

    #[test]
    fn a_missing_server_is_named_with_its_package() {
        let w = PeerWorkload {
            producers: 1,
            in_flight: 1,
            messages: 1,
            message_bytes: 10,
            fsync: FsyncMode::Never,
        };
        let scratch = tempfile::tempdir().unwrap();
        // Look the binary up on an empty PATH, without touching the process environment.
        assert_eq!(find_in("", "redis-server"), None);
        assert_eq!(find_in("/nonexistent:/bin", "sh"), Some(PathBuf::from("/bin/sh")));
        assert!(PeerKind::Nats.supports(FsyncMode::Never) && !PeerKind::Nats.supports(FsyncMode::Always));
        let err = measure(PeerKind::Nats, &PeerWorkload { fsync: FsyncMode::Always, ..w }, scratch.path());
        assert!(err.unwrap_err().to_string().contains("no setting"));
    }

    /// A port taken by another listener before the server binds it: the server exits, and
    /// the start says the port was taken (so another is tried), although the listener there
    /// answers a connection.
    #[test]
    fn a_peer_whose_port_was_taken_is_not_mistaken_for_the_listener_there() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        for peer in [PeerKind::Redis, PeerKind::Nats] {
            let (name, _) = peer.server();
            let binary = find_on_path(name).unwrap_or_else(|| panic!("{name} (scripts/test.sh installs it)"));
            let scratch = tempfile::tempdir().unwrap();
            match Server::start_on(port, peer, &binary, scratch.path(), FsyncMode::Never) {
                Err((e, taken)) => assert!(taken, "{peer:?}: {e}"),
                Ok(_) => panic!("{peer:?} started on a port another listener holds"),
            }
        }
        drop(taken);
    }
}
