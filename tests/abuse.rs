//! Abuse test: the real `broker` binary against a connection flood, slow-loris peers and
//! garbage, all at once, while a well-behaved producer and consumer keep working.
//!
//! The broker runs with `--max-connections 256 --frame-timeout-ms 1000 --max-frame-bytes 16384`
//! (a short frame timeout keeps the test short; a 16 KiB frame limit makes the memory bound
//! below a useful number). In order:
//!
//! 1. a well-behaved producer and consumer connect and make one round trip each; the broker's
//!    resident memory then is the *baseline*;
//! 2. 200 slow-loris connections each send a valid 4-byte length prefix (a 64-byte frame) and
//!    then one byte a second: 2 + 200 ≤ 256, so all are admitted, and the broker must close each
//!    one `--frame-timeout-ms` after its first byte (here: within 1 s + 4 s of slack, never
//!    before 1 s), without an answer;
//! 3. at the same time, 50 garbage clients connect again and again (until 2 s after the flood
//!    below is over), each time sending random bytes (pure noise, a plausible length prefix
//!    with random bytes behind it, or a valid header with a random api, version and body): the
//!    broker answers or closes, never crashes;
//! 4. and 2 000 more connections arrive from 20 threads. Every one is either refused — an
//!    error-9 frame (TooManyConnections) with correlation id 0, then EOF — or admitted (it
//!    answers a ListTopics); the flood holds its admitted connections open until all are
//!    classified, so at most 256 − 2 can be admitted and at least 1 746 must be refused.
//!
//! Throughout, the pair produces one message and reads it back, in a loop: every reply correct
//! and each within 5 s (a liveness bound, not a performance target). At the end the broker is
//! still running, its handler threads go back to the baseline once the abusers are gone, and
//! SIGTERM stops it with exit 0.
//!
//! # The memory bound
//!
//! Refused connections cost nothing lasting (the accept thread answers and closes them). Each
//! admitted connection costs, from the code:
//!
//! | what | bytes | where |
//! |---|---|---|
//! | its thread's stack | 256 KiB reserved, resident only as deep as it is used | `broker/mod.rs`, `stack_size(256 * 1024)` |
//! | the read buffer | 16 KiB at first; grows at most to `max_frame_bytes + 4` = 16 KiB + 4 here | `connection.rs`, `INITIAL_READ_BUFFER_BYTES` |
//! | replies waiting to be flushed | ≤ 64 KiB before a flush is forced | `connection.rs`, `WRITE_BUFFER_FLUSH_BYTES` |
//! | serving one request of ≤ F = 16 KiB | ≤ 16 F = 256 KiB: the decoded messages and their ends (3 F), the payload slices (4 F), the thread's record batch with 16-byte headers (6 F), a fetch's records and reply (3 F) | `handler.rs`, `log.rs` |
//!
//! so at most 592 KiB per connection, and the bound asserted is
//! `baseline + 256 × 592 KiB + 32 MiB` (the 32 MiB for the allocator's per-thread arenas and
//! glibc's cache of exited threads' stacks) ≈ baseline + 180 MiB, whatever the 2 000 extra
//! connections and the garbage send. The peak is read from `VmHWM` in `/proc/<pid>/status`
//! (on other systems: the largest `ps -o rss=` sample).
//!
//! Why not the default 16 MiB frame limit: the read buffer is sized to the frame a peer
//! *announces*, as soon as its 4-byte length prefix arrives, and stays so until the frame
//! completes or times out. With the default limit, 4 bytes from a peer commit 16 MiB of
//! resident memory for up to the frame timeout, so the bound becomes
//! `max_connections × 16 MiB` and more (4 GiB at 256 connections, 16 GiB at the default
//! 1024): the frame limit, not the connection count, dominates the worst case.
//!
//! # File descriptors
//!
//! This process holds about 2 300 sockets at once: the test raises its own soft
//! `RLIMIT_NOFILE` to at least 3 000 and fails, naming the limit, if the hard limit does not
//! allow that. The broker does not inherit it: it runs under a stock `ulimit -n 1024` (soft and
//! hard), where 256 connections (two descriptors each), its topics and its reserve fit.

mod common;

use common::broker_process::{seed_from_env, BrokerProcess, SplitMix64};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};
use synclog::client::{Client, ClientConfig};
use synclog::protocol::{peek_frame_bytes, Api, ErrorCode, Request, Response, ResponseBody};

const MAX_CONNECTIONS: usize = 256;
const FRAME_TIMEOUT: Duration = Duration::from_millis(1000);
const MAX_FRAME_BYTES: usize = 16 * 1024;
const FLOOD: usize = 2000;
const FLOOD_THREADS: usize = 20;
const SLOW_LORIS: usize = 200;
const GARBAGE: usize = 50;
/// Each of the pair's round trips must be answered within this.
const ROUND_TRIP_BOUND: Duration = Duration::from_secs(5);
/// A slow-loris connection must be closed within `FRAME_TIMEOUT` plus this.
const SLOW_LORIS_SLACK: Duration = Duration::from_secs(4);
/// How long one flood connect may take (several SYN retransmissions).
const FLOOD_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a flood connection may stay silent before it is asked whether it was admitted.
const FLOOD_QUIET: Duration = Duration::from_secs(2);
/// The garbage keeps coming this long after the flood has closed its connections.
const GARBAGE_AFTER_FLOOD: Duration = Duration::from_secs(2);
/// The broker's own open-file limit, soft and hard: a stock system's, not this process's raised one.
const BROKER_FD_LIMIT: u64 = 1024;
/// File descriptors this process needs at once (the sockets above, plus room for the rest).
const FDS_NEEDED: u64 = 3000;

/// Per admitted connection (see the module docs).
const STACK_BYTES: u64 = 256 * 1024;
const READ_BUFFER_BYTES: u64 = MAX_FRAME_BYTES as u64 + 4;
const WRITE_BUFFER_BYTES: u64 = 64 * 1024;
const REQUEST_BYTES: u64 = 16 * MAX_FRAME_BYTES as u64;
const PER_CONNECTION_BYTES: u64 = STACK_BYTES + READ_BUFFER_BYTES + WRITE_BUFFER_BYTES + REQUEST_BYTES;
const ALLOCATOR_SLACK_BYTES: u64 = 32 * 1024 * 1024;

#[test]
fn a_flood_slow_loris_and_garbage_never_stop_a_well_behaved_pair() {
    ensure_fd_limit(FDS_NEEDED);
    let seed = seed_from_env("SYNCLOG_ABUSE_SEED", 0xAB05_E000);
    let started = Instant::now();
    let base = tempfile::tempdir().expect("tempdir");
    let data_dir = base.path().join("data");
    let stderr_path = base.path().join("broker.stderr");
    let mut broker = BrokerProcess::start_with_fd_limit(
        &[
            "--data-dir",
            data_dir.to_str().expect("utf-8 path"),
            "--max-connections",
            &MAX_CONNECTIONS.to_string(),
            "--frame-timeout-ms",
            &FRAME_TIMEOUT.as_millis().to_string(),
            "--max-frame-bytes",
            &MAX_FRAME_BYTES.to_string(),
        ],
        BROKER_FD_LIMIT,
        &stderr_path,
    );
    let addr = broker.addr;
    let pid = broker.pid();

    // 1. The well-behaved pair, first; then the baseline.
    let mut pair = Pair::connect(addr);
    pair.round().expect("the first round trip, before any abuse");
    let baseline = memory(pid).expect("read the broker's memory");

    let Abuse { pair_report, lorises, floods, garbage, samples, abuse } = abuse(addr, seed, pid, pair);
    let peak = memory(pid).expect("read the broker's memory");

    // The broker survived, and says nothing about a panic.
    assert!(broker.is_running(), "the broker died during the abuse:\n{}", broker.stderr_tail());
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(!stderr.contains("panicked"), "a handler panicked:\n{}", broker.stderr_tail());
    // Each slow-loris (and each cut-off garbage frame) was closed by the frame timeout, and the
    // broker says so in its log.
    let frame_timeouts = stderr.matches("a frame did not complete within 1000 ms").count();
    assert!(frame_timeouts >= SLOW_LORIS, "only {frame_timeouts} frame timeouts in the broker's log");

    // The pair kept working throughout.
    let pair_report = pair_report.unwrap_or_else(|e| panic!("the well-behaved pair failed: {e}"));
    let during = pair_report.finished.iter().filter(|&&t| t >= abuse.0 && t <= abuse.1).count();
    assert!(during > 0, "the pair completed no round trip while the abuse ran");

    let slowest_loris = assert_lorises_timed_out(&lorises);

    let (refused, admitted) = assert_flood_refused_or_admitted(&floods);

    // Garbage: answered or closed (counted only), and the broker kept serving.
    let g = garbage.iter().fold(GarbageReport::default(), |a, b| a.plus(b));
    assert!(g.answered > 0, "no garbage connection was ever answered: {g:?}");

    let (peak_kib, bound_kib) = assert_memory_and_threads_bounded(pid, &baseline, &peak, &samples);

    eprintln!(
        "abuse: pair {} round trips ({during} during the abuse), slowest {:?}; slow-loris {SLOW_LORIS} closed, \
         slowest {slowest_loris:?}; flood {FLOOD}: {refused} refused (error 9), {admitted} admitted; garbage \
         {} connections: {} answered, {} closed unanswered, {} left open by the broker, {} refused (error 9), \
         {} connect errors; broker memory: baseline {} KiB, peak {peak_kib} KiB ({:.0} KiB over baseline, {:.0} KiB \
         per allowed connection), bound {bound_kib} KiB; threads: baseline {:?}, peak {:?}; {:.1} s",
        pair_report.finished.len(),
        pair_report.slowest,
        g.connections,
        g.answered,
        g.closed_silently,
        g.left_open,
        g.refused,
        g.connect_errors,
        baseline.rss_kib,
        peak_kib as f64 - baseline.rss_kib as f64,
        (peak_kib as f64 - baseline.rss_kib as f64) / MAX_CONNECTIONS as f64,
        baseline.threads,
        samples.threads,
        started.elapsed().as_secs_f64()
    );

    let status = broker.terminate();
    assert!(status.success(), "SIGTERM after the abuse: the broker exits 0, got {status}");
}

/// What the abusers and the pair found, and when the abuse ran.
struct Abuse {
    pair_report: Result<PairReport, String>,
    lorises: Vec<LorisConn>,
    floods: Vec<FloodReport>,
    garbage: Vec<GarbageReport>,
    samples: Memory,
    abuse: (Instant, Instant),
}

/// Runs the pair and the memory sampler while the slow-loris, the garbage and the flood (steps
/// 2 to 4) hit the broker at `addr` (process `pid`); stops everything once the abusers are done.
fn abuse(addr: SocketAddr, seed: u64, pid: u32, pair: Pair) -> Abuse {
    let stop_pair = AtomicBool::new(false);
    let stop_garbage = AtomicBool::new(false);
    let stop_sampler = AtomicBool::new(false);
    let barrier = Barrier::new(FLOOD_THREADS);
    thread::scope(|s| {
        // Whatever panics below, the loops stop, so the scope can end and the panic be seen.
        let _stop_all = SetOnDrop(vec![&stop_pair, &stop_garbage, &stop_sampler]);
        let sampler = s.spawn(|| sample(pid, &stop_sampler));
        let pair_thread = s.spawn(|| pair.run(&stop_pair));

        // 2. Slow-loris: connected (and admitted) before anyone else competes for a slot.
        let abuse_started = Instant::now();
        let loris = SlowLoris::connect(addr, SLOW_LORIS);
        let loris_thread = s.spawn(move || loris.trickle_until_closed());

        // 3-4. Garbage and the flood, at once.
        let garbage_threads: Vec<_> = (0..GARBAGE)
            .map(|g| {
                let stop = &stop_garbage;
                s.spawn(move || garbage_client(addr, seed ^ (g as u64) << 40, stop))
            })
            .collect();
        let flood_threads: Vec<_> = (0..FLOOD_THREADS)
            .map(|_| {
                let barrier = &barrier;
                s.spawn(move || flood(addr, FLOOD / FLOOD_THREADS, barrier))
            })
            .collect();

        let floods: Vec<FloodReport> =
            flood_threads.into_iter().map(|h| h.join().expect("flood thread")).collect();
        let lorises = loris_thread.join().expect("slow-loris thread");
        // The flood has let go of its admitted connections: the garbage now meets free slots.
        thread::sleep(GARBAGE_AFTER_FLOOD);
        stop_garbage.store(true, Ordering::Release);
        let garbage: Vec<GarbageReport> =
            garbage_threads.into_iter().map(|h| h.join().expect("garbage thread")).collect();
        let abuse = (abuse_started, Instant::now());
        stop_pair.store(true, Ordering::Release);
        let pair_report = pair_thread.join().expect("pair thread");
        stop_sampler.store(true, Ordering::Release);
        let samples = sampler.join().expect("sampler thread");
        Abuse { pair_report, lorises, floods, garbage, samples, abuse }
    })
}

/// Each slow-loris was closed by the frame timeout, not answered, not early; returns the
/// slowest close.
fn assert_lorises_timed_out(lorises: &[LorisConn]) -> Duration {
    // Slow-loris: closed by the frame timeout, not answered, not early.
    for (i, l) in lorises.iter().enumerate() {
        assert!(l.answer.is_empty(), "slow-loris {i} got an answer: {:?}", l.answer);
        let closed = l.closed_after.unwrap_or_else(|| {
            panic!("slow-loris {i} is still open {:?} after its first byte", SLOW_LORIS_SLACK + FRAME_TIMEOUT)
        });
        assert!(
            closed <= FRAME_TIMEOUT + SLOW_LORIS_SLACK,
            "slow-loris {i} was closed {closed:?} after its first byte, later than the frame timeout allows"
        );
        assert!(
            closed >= FRAME_TIMEOUT - Duration::from_millis(50),
            "slow-loris {i} was closed {closed:?} after its first byte, before the frame timeout"
        );
    }
    lorises.iter().filter_map(|l| l.closed_after).max().unwrap_or_default()
}

/// Each flood connection was refused with error 9 and correlation id 0, or admitted within the
/// limit; returns (refused, admitted).
fn assert_flood_refused_or_admitted(floods: &[FloodReport]) -> (usize, usize) {
    // The flood: refused with error 9 and correlation id 0, or admitted within the limit.
    let failures: Vec<&String> = floods.iter().flat_map(|f| &f.failures).collect();
    assert!(
        failures.is_empty(),
        "{} flood connections misbehaved, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let refused: usize = floods.iter().map(|f| f.refused).sum();
    let admitted: usize = floods.iter().map(|f| f.admitted).sum();
    assert_eq!(refused + admitted, FLOOD);
    assert!(
        admitted <= MAX_CONNECTIONS - 2,
        "{admitted} flood connections were admitted at once besides the pair: the limit is {MAX_CONNECTIONS}"
    );
    (refused, admitted)
}

/// The broker's peak memory stays under the bound computed from the code, its threads under one
/// per allowed connection, and every handler thread ends once the clients left; returns (peak,
/// bound) in KiB.
fn assert_memory_and_threads_bounded(
    pid: u32,
    baseline: &Memory,
    peak: &Memory,
    samples: &Memory,
) -> (u64, u64) {
    // Memory: the peak stays under the bound computed from the code.
    let bound_kib =
        baseline.rss_kib + (MAX_CONNECTIONS as u64 * PER_CONNECTION_BYTES + ALLOCATOR_SLACK_BYTES) / 1024;
    let peak_kib = peak.hwm_kib.max(samples.rss_kib);
    assert!(
        peak_kib <= bound_kib,
        "the broker's peak resident memory {peak_kib} KiB exceeds the bound {bound_kib} KiB \
         (baseline {} KiB + {MAX_CONNECTIONS} × {} KiB + {} KiB)",
        baseline.rss_kib,
        PER_CONNECTION_BYTES / 1024,
        ALLOCATOR_SLACK_BYTES / 1024
    );
    // Threads: one per admitted connection, so the limit bounds them too (a few may be exiting).
    if let (Some(base_threads), Some(peak_threads)) = (baseline.threads, samples.threads) {
        assert!(
            peak_threads <= base_threads + MAX_CONNECTIONS as u64 + 32,
            "{peak_threads} threads at the peak: more than one per allowed connection"
        );
        // Every abuser is gone now (the pair too): every handler thread must end.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut now_threads = u64::MAX;
        while Instant::now() < deadline {
            now_threads = memory(pid).and_then(|m| m.threads).unwrap_or(u64::MAX);
            if now_threads + 2 <= base_threads {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        assert!(
            now_threads + 2 <= base_threads,
            "{now_threads} broker threads remain after every client left ({base_threads} with the pair connected)"
        );
    }
    (peak_kib, bound_kib)
}

/// Sets every flag when dropped (also while unwinding).
struct SetOnDrop<'a>(Vec<&'a AtomicBool>);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        for flag in &self.0 {
            flag.store(true, Ordering::Release);
        }
    }
}

/// Raises this process's soft limit on open files to at least `needed` (the broker, started
/// afterwards, inherits it), or fails saying which limit is too low.
fn ensure_fd_limit(needed: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft >= needed {
        return;
    }
    let hard = limit.maximum.unwrap_or(u64::MAX);
    assert!(
        hard >= needed,
        "the abuse test needs {needed} open files ({FLOOD} + {SLOW_LORIS} + {GARBAGE} client sockets at \
         once in the test process), but the hard limit (`ulimit -Hn`) is {hard}. Raise it (as root: \
         `ulimit -Hn 8192`, or `nofile` in /etc/security/limits.conf), then rerun scripts/test.sh"
    );
    let raised = Rlimit { current: Some(needed.max(8192).min(hard)), maximum: limit.maximum };
    setrlimit(Resource::Nofile, raised).expect("raise the soft limit on open files");
}

// ---------------------------------------------------------------------------------------------
// Memory and threads of the broker process

#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    /// Resident now.
    rss_kib: u64,
    /// The most ever resident (on Linux `VmHWM`; elsewhere the same as `rss_kib`).
    hwm_kib: u64,
    /// Threads now, where the system says.
    threads: Option<u64>,
}

#[cfg(target_os = "linux")]
fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(Memory { rss_kib: field("VmRSS:")?, hwm_kib: field("VmHWM:")?, threads: field("Threads:") })
}

#[cfg(not(target_os = "linux"))]
fn memory(pid: u32) -> Option<Memory> {
    let out = std::process::Command::new("ps").args(["-o", "rss=", "-p", &pid.to_string()]).output().ok()?;
    let rss_kib = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some(Memory { rss_kib, hwm_kib: rss_kib, threads: None })
}

/// Samples the broker every 10 ms until `stop`; returns the largest values seen.
fn sample(pid: u32, stop: &AtomicBool) -> Memory {
    let mut peak = Memory::default();
    while !stop.load(Ordering::Acquire) {
        if let Some(m) = memory(pid) {
            peak.rss_kib = peak.rss_kib.max(m.rss_kib);
            peak.hwm_kib = peak.hwm_kib.max(m.hwm_kib);
            peak.threads = match (peak.threads, m.threads) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        thread::sleep(Duration::from_millis(10));
    }
    peak
}

// ---------------------------------------------------------------------------------------------
// The well-behaved pair

const PAIR_TOPIC: &str = "well-behaved";

struct Pair {
    producer: Client,
    consumer: Client,
    /// What the producer was acknowledged, in offset order (only the pair writes this topic).
    sent: Vec<(u64, Vec<u8>)>,
    /// The consumer's next offset.
    position: u64,
}

struct PairReport {
    /// When each round trip finished.
    finished: Vec<Instant>,
    /// The slowest single request.
    slowest: Duration,
}

impl Pair {
    fn connect(addr: SocketAddr) -> Pair {
        // A reply that takes longer than the bound surfaces as an error.
        let config = ClientConfig { response_timeout: ROUND_TRIP_BOUND, ..ClientConfig::default() };
        Pair {
            producer: Client::connect_with(addr, config).expect("the producer connects"),
            consumer: Client::connect_with(addr, config).expect("the consumer connects"),
            sent: Vec::new(),
            position: 0,
        }
    }

    /// Produces one message and reads until the consumer has it; returns the slowest request.
    fn round(&mut self) -> Result<Duration, String> {
        let payload = format!("well-behaved message {}", self.sent.len()).into_bytes();
        let t = Instant::now();
        let offset =
            self.producer.produce(PAIR_TOPIC, [payload.as_slice()]).map_err(|e| format!("produce: {e}"))?;
        let mut slowest = t.elapsed();
        if offset != self.sent.len() as u64 {
            return Err(format!("produce acknowledged offset {offset}, expected {}", self.sent.len()));
        }
        self.sent.push((offset, payload));
        while self.position <= offset {
            let t = Instant::now();
            let fetched = self
                .consumer
                .fetch(PAIR_TOPIC, self.position, 100, 1 << 20, Duration::from_millis(1000))
                .map_err(|e| format!("fetch from {}: {e}", self.position))?;
            slowest = slowest.max(t.elapsed());
            for (o, p) in fetched.records.iter() {
                match self.sent.get(o as usize) {
                    Some((_, sent)) if o == self.position && sent == p => self.position += 1,
                    _ => return Err(format!("fetch at {} returned offset {o} = {p:?}", self.position)),
                }
            }
        }
        if slowest > ROUND_TRIP_BOUND {
            return Err(format!("a request took {slowest:?}, more than {ROUND_TRIP_BOUND:?}"));
        }
        Ok(slowest)
    }

    fn run(mut self, stop: &AtomicBool) -> Result<PairReport, String> {
        let mut report = PairReport { finished: Vec::new(), slowest: Duration::ZERO };
        while !stop.load(Ordering::Acquire) {
            report.slowest = report.slowest.max(self.round()?);
            report.finished.push(Instant::now());
            thread::sleep(Duration::from_millis(5));
        }
        Ok(report)
    }
}

// ---------------------------------------------------------------------------------------------
// Slow-loris

struct SlowLoris {
    conns: Vec<LorisConn>,
}

struct LorisConn {
    stream: TcpStream,
    /// Taken just before the first byte was written: the broker's frame clock starts later.
    first_byte_at: Instant,
    last_byte_at: Instant,
    /// How long after the first byte the broker closed the connection.
    closed_after: Option<Duration>,
    /// Whatever the broker sent (it should send nothing).
    answer: Vec<u8>,
}

impl SlowLoris {
    /// Connects `n` sockets, each sending a length prefix for a 64-byte frame.
    fn connect(addr: SocketAddr, n: usize) -> SlowLoris {
        let conns = (0..n)
            .map(|i| {
                let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                    .unwrap_or_else(|e| panic!("slow-loris {i} cannot connect: {e}"));
                stream.set_nodelay(true).expect("nodelay");
                let first_byte_at = Instant::now();
                stream.write_all(&64u32.to_be_bytes()).expect("send the length prefix");
                stream.set_nonblocking(true).expect("nonblocking");
                LorisConn {
                    stream,
                    first_byte_at,
                    last_byte_at: first_byte_at,
                    closed_after: None,
                    answer: Vec::new(),
                }
            })
            .collect();
        SlowLoris { conns }
    }

    /// One byte a second on every open connection, until the broker has closed them all (or
    /// well past the time it should have).
    fn trickle_until_closed(mut self) -> Vec<LorisConn> {
        let give_up = Instant::now() + FRAME_TIMEOUT + SLOW_LORIS_SLACK + Duration::from_secs(1);
        while Instant::now() < give_up && self.conns.iter().any(|c| c.closed_after.is_none()) {
            for c in self.conns.iter_mut().filter(|c| c.closed_after.is_none()) {
                let mut buf = [0u8; 256];
                match c.stream.read(&mut buf) {
                    Ok(0) => c.closed_after = Some(c.first_byte_at.elapsed()),
                    Ok(n) => c.answer.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if c.last_byte_at.elapsed() >= Duration::from_secs(1) {
                            // A write to a closed socket fails; the next read then says so.
                            let _ = c.stream.write(&[0x2a]);
                            c.last_byte_at = Instant::now();
                        }
                    }
                    Err(_) => c.closed_after = Some(c.first_byte_at.elapsed()),
                }
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.conns
    }
}

// ---------------------------------------------------------------------------------------------
// The flood

#[derive(Default)]
struct FloodReport {
    refused: usize,
    admitted: usize,
    failures: Vec<String>,
}

/// Connects `n` sockets, sends nothing, and classifies each: refused (an error-9 frame with
/// correlation id 0, then EOF) or admitted (silent, and answers a ListTopics). Admitted sockets
/// stay open until every flood thread has classified its own (`barrier`).
fn flood(addr: SocketAddr, n: usize, barrier: &Barrier) -> FloodReport {
    let mut report = FloodReport::default();
    let mut conns: Vec<(TcpStream, Vec<u8>, bool)> = Vec::with_capacity(n);
    for _ in 0..n {
        // A full accept queue drops the SYN and the kernel retries after 1, 2, 4 s: a broker
        // that accepts slowly (2 busy cores) makes a connect slow, not failed.
        match TcpStream::connect_timeout(&addr, FLOOD_CONNECT_TIMEOUT) {
            Ok(stream) => {
                stream.set_nonblocking(true).expect("nonblocking");
                conns.push((stream, Vec::new(), false));
            }
            Err(e) => report.failures.push(format!("connect: {e}")),
        }
    }
    // A refused connection is answered and closed at once: read until EOF, or until it has
    // been quiet long enough to be presumed admitted.
    let quiet_until = Instant::now() + FLOOD_QUIET;
    while Instant::now() < quiet_until && conns.iter().any(|c| !c.2) {
        for (stream, received, eof) in conns.iter_mut().filter(|c| !c.2) {
            let mut buf = [0u8; 512];
            match stream.read(&mut buf) {
                Ok(0) => *eof = true,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => {
                    report.failures.push(format!("reading a flood connection: {e}"));
                    *eof = true;
                }
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    for (stream, received, eof) in &mut conns {
        if !*eof && received.is_empty() {
            // Silent: admitted, if it answers a request.
            match ask_list_topics(stream) {
                Ok(Response { correlation_id: 1, body: ResponseBody::Topics(_) }) => report.admitted += 1,
                Ok(r) if is_refusal(&r) => report.refused += 1, // refused late: the answer was on its way
                Ok(r) => {
                    report.failures.push(format!("a silent flood connection answered ListTopics with {r:?}"))
                }
                Err(e) => report.failures.push(format!("a silent flood connection: {e}")),
            }
            continue;
        }
        if !*eof {
            // Part of an answer and no EOF yet: wait for the rest.
            stream.set_nonblocking(false).expect("blocking");
            stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
            if let Err(e) = stream.read_to_end(received) {
                report.failures.push(format!("no EOF after a refusal: {e}"));
                continue;
            }
        }
        match Response::decode(Api::ListTopics.as_u8(), received) {
            Ok((r, used)) if is_refusal(&r) && used == received.len() => report.refused += 1,
            other => {
                report.failures.push(format!("a refused connection got {other:?} ({} bytes)", received.len()))
            }
        }
    }
    barrier.wait();
    report
}

fn is_refusal(r: &Response) -> bool {
    matches!(&r.body, ResponseBody::Error { code: ErrorCode::TooManyConnections, message } if !message.is_empty())
        && r.correlation_id == 0
}

/// Sends ListTopics (correlation id 1) and reads one response.
fn ask_list_topics(stream: &mut TcpStream) -> Result<Response, String> {
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(ROUND_TRIP_BOUND)).map_err(|e| e.to_string())?;
    let mut request = Vec::new();
    Request::ListTopics.encode(1, &mut request).map_err(|e| e.to_string())?;
    stream.write_all(&request).map_err(|e| format!("send ListTopics: {e}"))?;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Ok(Some(frame_bytes)) = peek_frame_bytes(&received, u32::MAX) {
            if received.len() >= frame_bytes {
                return Response::decode(Api::ListTopics.as_u8(), &received)
                    .map(|(r, _)| r)
                    .map_err(|e| format!("undecodable answer: {e}"));
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => return Err(format!("EOF after {} bytes of an answer", received.len())),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("reading the answer to ListTopics: {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Garbage

#[derive(Debug, Default, Clone, Copy)]
struct GarbageReport {
    connections: u64,
    /// The broker sent something back (an error frame, mostly).
    answered: u64,
    /// The broker closed without a word (a frame cut off by the frame timeout).
    closed_silently: u64,
    /// Still open when the client gave up waiting (whole frames answered, then idle).
    left_open: u64,
    /// Refused with error 9 (the garbage reconnects while the flood holds the slots).
    refused: u64,
    connect_errors: u64,
}

impl GarbageReport {
    fn plus(self, o: &GarbageReport) -> GarbageReport {
        GarbageReport {
            connections: self.connections + o.connections,
            answered: self.answered + o.answered,
            closed_silently: self.closed_silently + o.closed_silently,
            left_open: self.left_open + o.left_open,
            refused: self.refused + o.refused,
            connect_errors: self.connect_errors + o.connect_errors,
        }
    }
}

/// Random bytes, in one of three shapes.
fn garbage_bytes(rng: &mut SplitMix64) -> Vec<u8> {
    let mut out = Vec::new();
    match rng.in_range(0..=2) {
        // Pure noise: the first four bytes are a length prefix, nearly always too large.
        0 => {
            out.resize(rng.in_range(1..=2048) as usize, 0);
            rng.fill(&mut out);
        }
        // A plausible length prefix, then random bytes: fewer than announced (the frame timeout
        // ends it) or more (the rest is read as the next frame).
        1 => {
            let announced = rng.in_range(0..=1024);
            out.extend_from_slice(&(announced as u32).to_be_bytes());
            let mut body = vec![0; rng.in_range(0..=2 * announced) as usize];
            rng.fill(&mut body);
            out.extend_from_slice(&body);
        }
        // Whole frames with a valid-looking header: api 0-3, version 0-1, random body.
        _ => {
            for _ in 0..rng.in_range(1..=4) {
                let mut body = vec![0; rng.in_range(0..=256) as usize];
                rng.fill(&mut body);
                out.extend_from_slice(&(6 + body.len() as u32).to_be_bytes());
                out.push(rng.in_range(0..=3) as u8);
                out.push(rng.in_range(0..=1) as u8);
                out.extend_from_slice(&(rng.next_u64() as u32).to_be_bytes());
                out.extend_from_slice(&body);
            }
        }
    }
    out
}

/// Connects, sends garbage, reads whatever comes back until the broker closes (or 2 s of
/// silence), and again, until `stop`.
fn garbage_client(addr: SocketAddr, seed: u64, stop: &AtomicBool) -> GarbageReport {
    let mut rng = SplitMix64(seed);
    let mut report = GarbageReport::default();
    while !stop.load(Ordering::Acquire) {
        let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(s) => s,
            Err(_) => {
                report.connect_errors += 1;
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        report.connections += 1;
        // The broker may close before all of it is read; that is its right.
        let _ = stream.write_all(&garbage_bytes(&mut rng));
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        let closed = loop {
            match stream.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break false,
                Err(_) => break true, // reset: closed
            }
        };
        let refused = Response::decode(Api::ListTopics.as_u8(), &received).is_ok_and(|(r, _)| is_refusal(&r));
        match (refused, received.is_empty(), closed) {
            (true, _, _) => report.refused += 1,
            (false, false, _) => report.answered += 1,
            (false, true, true) => report.closed_silently += 1,
            (false, true, false) => report.left_open += 1,
        }
        // Refused: back off a little, or the refusals alone keep the accept loop busy.
        thread::sleep(Duration::from_millis(if refused { 200 } else { 20 }));
    }
    report
}
