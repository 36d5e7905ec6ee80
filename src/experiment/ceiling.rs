//! The machine's ceilings, measured in the same run as the figures they bound.
//!
//! A throughput figure means little alone on a shared 2-core machine; beside the limit of the
//! same machine, measured minutes apart under the same load, it reads as a fraction. Two
//! ceilings bound everything synclog does:
//!
//! - **raw positional writes**: `threads` threads each `pwrite` the bytes of `batch` records of
//!   `message_bytes` (header included) at positions handed out by a `fetch_add`: no strategy,
//!   no encoding, no index. An append can only be slower. When the workload has more threads
//!   than the machine has cores, the writes are measured a second time from as many threads as
//!   cores, and the ceiling is the better of the two (see [`writer_counts`]).
//! - **raw loopback round trips**: `threads` connections each send a frame the size of a
//!   Produce request and wait for a frame the size of its response from an echo server that
//!   does nothing else (one thread per connection, like the broker). A request over loopback
//!   can only be slower.
//!
//! Each runs for a fixed time (default 1 s) and reports messages per second (round trips ×
//! batch for the loopback one).
//!
//! Beside raw positional writes, **framed positional writes** ([`framed_pwrite`]) take the
//! on-disk format's own work apart from the lock's: each thread encodes its records exactly as
//! the log does (a [`RecordBatch`]: the 16-byte header, the offset, a CRC-32C over each
//! record), takes its offsets and position with one `fetch_add`, and writes them; still no
//! strategy, no index, no publication and no bookkeeping. An append pays all of this too, so
//! it bounds an append more tightly than raw writes, and the two side by side say what the
//! format costs and what is left to the log.
//!
//! Another bounds `--fsync always`: **raw syncs**, one thread writing a record's bytes into
//! zero-filled space (as the preallocated log does) and `fdatasync`ing after each, back to back:
//! the most syncs per second the device gives one writer. With `p` producers one request at a
//! time, a sync acknowledges at most `p` messages, so the acknowledgements are bounded by
//! `p × syncs per second`, the group-commit bound (see `reports/README.md`).
//!
//! Beside the limits, the machine itself: [`machine`] (cores, kernel) and [`filesystem_of`]
//! (the data dir's file system), named by every report.

pub use crate::report::rows::Ceilings;
use crate::report::rows::Machine;
use crate::storage::{RecordBatch, HEADER_BYTES};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Bytes a Produce response takes on the wire: length, correlation id, error, base offset, count.
const PRODUCE_RESPONSE_BYTES: usize = 4 + 4 + 2 + 8 + 4;

/// Runs a worker made by `worker(thread)` on each of `threads` threads for `duration`; returns
/// the operations done per second (each call of a worker returns how many it did). A worker
/// owns its state (a thread's reusable batch, say), so no thread shares one.
fn for_duration<W: FnMut() -> std::io::Result<u64>>(
    threads: usize,
    duration: Duration,
    worker: impl Fn(usize) -> W + Sync,
) -> std::io::Result<f64> {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let start = Barrier::new(threads + 1);
    let elapsed = thread::scope(|s| -> std::io::Result<Duration> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, done, start, worker) = (&stop, &done, &start, &worker);
                s.spawn(move || -> std::io::Result<()> {
                    // Made after the barrier, so a factory that panics cannot leave the others
                    // waiting at it (a batch's allocation is nothing beside the run).
                    start.wait();
                    let mut work = worker(t);
                    // One unit at least, however late this thread gets a processor: a
                    // ceiling is never 0 because a short window closed before it ran.
                    loop {
                        done.fetch_add(work()?, Ordering::Relaxed);
                        if stop.load(Ordering::Relaxed) {
                            break Ok(());
                        }
                    }
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().map_err(|_| std::io::Error::other("a ceiling thread panicked"))??;
        }
        Ok(t0.elapsed())
    })?;
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64())
}

/// The thread counts a write ceiling for a workload of `threads` threads is measured at, on a
/// machine of `cores`: the workload's own, and as many as the cores when it has more.
///
/// Positional writes into one file take that file's inode lock in the kernel, one writer at a
/// time, and writers beyond the cores spin on it or are switched out while holding it. So more
/// threads can write less: on the 2-core machine, in three alternating criterion rounds
/// (`cargo bench --bench append -- 'append/raw-pwrite-batch100/(1|2|8)$'`), batches of 100
/// from 8 threads reached 9.9, 7.6 and 7.4 M msg/s where 2 threads reached 11.4, 10.0 and
/// 9.0 M; and 8 threads appending batches of 100 under `--append reserve`, whose writers queue
/// in its reservation first, reached 1.00–1.16 of raw writes from 8 threads in six rounds. A
/// ceiling must bound what it is compared with, so it is the best of these counts.
fn writer_counts(threads: usize, cores: usize) -> Vec<usize> {
    let cores = cores.max(1);
    if threads > cores {
        vec![threads, cores]
    } else {
        vec![threads]
    }
}

/// The best rate `measure(threads)` reaches over the [`writer_counts`] of `threads` on a machine
/// of `cores`.
fn best_over_writer_counts(
    threads: usize,
    cores: usize,
    mut measure: impl FnMut(usize) -> std::io::Result<f64>,
) -> std::io::Result<f64> {
    let mut best = 0.0f64;
    for count in writer_counts(threads, cores) {
        best = best.max(measure(count)?);
    }
    Ok(best)
}

/// The machine's cores, as the write ceilings count them.
fn cores() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// Records per second that plain positional writes reach in `dir`, from `threads` threads or
/// from as many as the machine has cores, whichever writes more ([`writer_counts`]).
pub fn raw_pwrite(
    dir: &Path,
    threads: usize,
    message_bytes: usize,
    batch: usize,
    duration: Duration,
) -> std::io::Result<f64> {
    best_over_writer_counts(threads, cores(), |threads| {
        super::warm::for_writing_during(duration);
        with_scratch_file(&dir.join("ceiling-pwrite.dat"), |file| {
            let end = AtomicU64::new(0);
            let bytes = vec![0x5Au8; batch * (HEADER_BYTES + message_bytes)];
            for_duration(threads, duration, |_| {
                || {
                    let at = end.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    file.write_all_at(&bytes, at)?;
                    Ok(batch as u64)
                }
            })
        })
    })
}

/// Runs `measure` on a new file at `path`, removed afterwards whatever the outcome.
fn with_scratch_file<T>(
    path: &Path,
    measure: impl FnOnce(&File) -> std::io::Result<T>,
) -> std::io::Result<T> {
    let file = File::create(path)?;
    let result = measure(&file);
    drop(file);
    let _ = std::fs::remove_file(path);
    result
}

/// Records per second that positional writes of framed records reach in `dir`: each thread
/// encodes `batch` records of `message_bytes` as the log does (module docs), then writes them
/// at the offsets and position one `fetch_add` handed out; from `threads` threads or from as
/// many as the machine has cores, whichever writes more ([`writer_counts`]).
pub fn framed_pwrite(
    dir: &Path,
    threads: usize,
    message_bytes: usize,
    batch: usize,
    duration: Duration,
) -> std::io::Result<f64> {
    best_over_writer_counts(threads, cores(), |threads| {
        super::warm::for_writing_during(duration);
        with_scratch_file(&dir.join("ceiling-framed.dat"), |file| {
            write_framed(file, threads, message_bytes, batch, duration)
        })
    })
}

/// [`framed_pwrite`]'s loop, into `file` from its start.
fn write_framed(
    file: &File,
    threads: usize,
    message_bytes: usize,
    batch: usize,
    duration: Duration,
) -> std::io::Result<f64> {
    let next_offset = AtomicU64::new(0);
    let record_bytes = (HEADER_BYTES + message_bytes) as u64;
    let payload = vec![0x5Au8; message_bytes];
    for_duration(threads, duration, |_| {
        let mut records = RecordBatch::with_capacity(batch, message_bytes);
        let (next_offset, payload) = (&next_offset, &payload);
        move || {
            records.clear();
            for _ in 0..batch {
                records.push(payload);
            }
            let base = next_offset.fetch_add(batch as u64, Ordering::Relaxed);
            records.assign_offsets(base);
            file.write_all_at(records.bytes(), base * record_bytes)?;
            Ok(batch as u64)
        }
    })
}

/// `fdatasync`s per second that one thread reaches, each after one `pwrite` of `message_bytes`
/// (plus a header) into zero-filled space, in `dir`.
pub fn raw_fdatasync(dir: &Path, message_bytes: usize, duration: Duration) -> std::io::Result<f64> {
    with_scratch_file(&dir.join("ceiling-fdatasync.dat"), |file| {
        let record = vec![0x5Au8; HEADER_BYTES + message_bytes];
        // Enough zeros for any run (a sync takes tens of microseconds at the very least).
        let room = (duration.as_secs_f64() * 100_000.0).ceil() as u64 * record.len() as u64;
        // Written a MiB at a time: a long --ceiling-ms asks for hundreds of MB of room.
        let zeros = vec![0u8; 1 << 20];
        let mut at = 0;
        while at < room {
            let n = (room - at).min(zeros.len() as u64);
            file.write_all_at(&zeros[..n as usize], at)?;
            at += n;
        }
        file.sync_all()?;
        let end = AtomicU64::new(0);
        for_duration(1, duration, |_| {
            || {
                let at = end.fetch_add(record.len() as u64, Ordering::Relaxed) % room;
                file.write_all_at(&record, at)?;
                file.sync_data()?;
                Ok(1)
            }
        })
    })
}

/// The shape of traffic a ceiling is measured for: the same as the cell or goal row it bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Producer threads, one connection each.
    pub threads: usize,
    pub message_bytes: usize,
    /// Messages per request.
    pub batch: usize,
    /// Requests each connection keeps outstanding.
    pub in_flight: usize,
}

/// The shape of a run: its producers, message size, batch and in-flight.
pub fn shape_of(run: &super::run::RunConfig) -> Shape {
    Shape {
        threads: run.producers as usize,
        // Mixed sizes are uniform: the mean is the size of the bytes moved.
        message_bytes: run.mean_message_bytes().round() as usize,
        batch: run.batch as usize,
        in_flight: run.in_flight as usize,
    }
}

impl Shape {
    /// Bytes of one Produce request of this shape on the wire.
    fn request_bytes(&self) -> usize {
        let topic_bytes = 16;
        // length | api | version | correlation id | topic | count | count × (length | payload)
        4 + 6 + 2 + topic_bytes + 4 + self.batch * (4 + self.message_bytes)
    }
}

/// How the echo server answers; the ceiling is the best of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replies {
    /// Reads one request straight from the socket and writes its answer at once.
    EachAtOnce,
    /// Reads through a buffer and writes the answers queued so far only when no further whole
    /// request is buffered, as the broker does.
    Coalesced,
}

impl Replies {
    /// Every configuration a loopback ceiling tries.
    pub const ALL: [Replies; 2] = [Replies::EachAtOnce, Replies::Coalesced];

    pub fn name(self) -> &'static str {
        match self {
            Replies::EachAtOnce => "each answer at once",
            Replies::Coalesced => "answers coalesced",
        }
    }
}

/// What one echo configuration measured, and the concurrency it actually ran at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoRun {
    pub replies: Replies,
    pub msgs_per_s: f64,
    /// Connections the echo server accepted.
    pub connections: usize,
    /// Distinct client threads that sent requests.
    pub client_threads: usize,
    /// The most requests any connection had outstanding.
    pub in_flight: usize,
}

/// The loopback ceiling of a shape: the best of every configuration, and each run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopbackCeiling {
    pub msgs_per_s: f64,
    pub best: Replies,
    pub runs: Vec<EchoRun>,
}

/// Messages per second of request/response over loopback with the framing of a Produce of
/// `shape`, through an echo server that stores nothing: `shape.threads` client threads, one
/// connection each, each keeping `shape.in_flight` requests outstanding (the window is filled
/// before the clock starts, as a producer fills it), measured once per [`Replies`]
/// configuration; the best is the ceiling.
pub fn raw_loopback(shape: Shape, duration: Duration) -> std::io::Result<LoopbackCeiling> {
    let mut runs = Vec::new();
    for replies in Replies::ALL {
        runs.push(echo_run(shape, replies, duration)?);
    }
    let best = runs
        .iter()
        .copied()
        .reduce(|a, b| if b.msgs_per_s > a.msgs_per_s { b } else { a })
        .expect("at least one configuration");
    Ok(LoopbackCeiling { msgs_per_s: best.msgs_per_s, best: best.replies, runs })
}

/// One echo server answering `shape.threads` connections with `replies`.
fn echo_server(stream: TcpStream, replies: Replies, request_bytes: usize) {
    let _ = stream.set_nodelay(true);
    let reply = [0u8; PRODUCE_RESPONSE_BYTES];
    let mut frame = vec![0u8; request_bytes];
    match replies {
        Replies::EachAtOnce => {
            let mut stream = stream;
            while stream.read_exact(&mut frame).is_ok() && stream.write_all(&reply).is_ok() {}
        }
        Replies::Coalesced => {
            let Ok(reader) = stream.try_clone() else { return };
            let mut reader = BufReader::with_capacity(64 * 1024, reader);
            let mut writer = stream;
            let mut pending = Vec::new();
            while reader.read_exact(&mut frame).is_ok() {
                pending.extend_from_slice(&reply);
                if reader.buffer().len() < request_bytes {
                    if writer.write_all(&pending).is_err() {
                        return;
                    }
                    pending.clear();
                }
            }
        }
    }
}

/// One client connection: connects, fills its window, waits for the others, then answers each
/// reply with the next request until `stop`; counts the messages acknowledged into `done`.
struct EchoClient<'a> {
    shape: Shape,
    request: &'a [u8],
    ready: &'a Barrier,
    stop: &'a AtomicBool,
    done: &'a AtomicU64,
    most_in_flight: &'a AtomicUsize,
    threads: &'a parking_lot::Mutex<HashSet<thread::ThreadId>>,
}

impl EchoClient<'_> {
    fn run(&self, addr: std::net::SocketAddr) -> std::io::Result<()> {
        let connected = TcpStream::connect(addr).and_then(|c| {
            c.set_nodelay(true)?;
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            Ok(c)
        });
        // Whatever happened, the others are not kept waiting.
        let Ok(mut c) = connected else {
            self.ready.wait();
            return connected.map(drop);
        };
        self.threads.lock().insert(thread::current().id());
        // The window, filled before the clock starts; sent when the first answer is awaited.
        let mut out = self.request.repeat(self.shape.in_flight);
        self.most_in_flight.fetch_max(self.shape.in_flight, Ordering::Relaxed);
        let mut reply = [0u8; PRODUCE_RESPONSE_BYTES];
        // Replies are read through a buffer and the requests that answer them queued until no
        // whole reply is left to read, then sent in one write: the harness's producer does the
        // same, so with many requests in flight both make one system call per burst, not per
        // message, and the echo still bounds it.
        let mut replies = BufReader::with_capacity(64 * 1024, c.try_clone()?);
        self.ready.wait();
        while !self.stop.load(Ordering::Relaxed) {
            if replies.buffer().len() < PRODUCE_RESPONSE_BYTES && !out.is_empty() {
                c.write_all(&out)?;
                out.clear();
            }
            replies.read_exact(&mut reply)?;
            self.done.fetch_add(self.shape.batch as u64, Ordering::Relaxed);
            out.extend_from_slice(self.request);
        }
        Ok(())
    }
}

/// Measures one echo configuration for `duration`.
fn echo_run(shape: Shape, replies: Replies, duration: Duration) -> std::io::Result<EchoRun> {
    let request_bytes = shape.request_bytes();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let connections = shape.threads.max(1);
    let accepted = AtomicUsize::new(0);
    let (stop, done, most_in_flight) = (AtomicBool::new(false), AtomicU64::new(0), AtomicUsize::new(0));
    let threads = parking_lot::Mutex::new(HashSet::new());
    let ready = Barrier::new(connections + 1);
    let request = vec![0x5Au8; request_bytes];
    let client = EchoClient {
        shape,
        request: &request,
        ready: &ready,
        stop: &stop,
        done: &done,
        most_in_flight: &most_in_flight,
        threads: &threads,
    };
    thread::scope(|s| {
        // The echo server: one thread per connection, like the broker.
        let acceptor = s.spawn(|| {
            for stream in listener.incoming().take(connections) {
                let Ok(stream) = stream else { continue };
                accepted.fetch_add(1, Ordering::Relaxed);
                s.spawn(move || echo_server(stream, replies, request_bytes));
            }
        });
        let client = &client;
        let handles: Vec<_> = (0..connections).map(|_| s.spawn(move || client.run(addr))).collect();
        ready.wait();
        let t0 = Instant::now();
        thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let mut result = Ok(());
        for h in handles {
            let joined = h.join().map_err(|_| std::io::Error::other("a ceiling thread panicked"));
            result = result.and(joined.and_then(|r| r));
        }
        let elapsed = t0.elapsed();
        // A client that failed to connect leaves the acceptor waiting: connect in its place.
        let served = threads.lock().len();
        for _ in served..connections {
            let _ = TcpStream::connect(addr);
        }
        // Every connection is accepted by now: the count is final.
        acceptor.join().map_err(|_| std::io::Error::other("the echo acceptor panicked"))?;
        result.map(|()| EchoRun {
            replies,
            msgs_per_s: done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
            connections: accepted.load(Ordering::Relaxed),
            client_threads: threads.lock().len(),
            in_flight: most_in_flight.load(Ordering::Relaxed),
        })
    })
}

/// Measures both ceilings for `shape`.
pub fn measure(dir: &Path, shape: Shape, duration: Duration) -> std::io::Result<Ceilings> {
    let loopback = raw_loopback(shape, duration)?;
    Ok(Ceilings {
        threads: shape.threads,
        message_bytes: shape.message_bytes,
        batch: shape.batch,
        in_flight: shape.in_flight,
        pwrite_msgs_per_s: raw_pwrite(dir, shape.threads, shape.message_bytes, shape.batch, duration)?,
        loopback_msgs_per_s: loopback.msgs_per_s,
        loopback_configuration: loopback.best.name(),
    })
}

/// The machine: cores, kernel, and (filled in later) the data dir's file system.
pub fn machine() -> Machine {
    let cpus = cores();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .or_else(|_| {
            std::process::Command::new("uname")
                .arg("-r")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .unwrap_or_else(|_| "unknown".into());
    Machine { cpus, kernel, data_dir_fs: "unknown".into() }
}

/// The file system type holding `dir`, from /proc/mounts (Linux); "unknown" elsewhere.
pub fn filesystem_of(dir: &Path) -> String {
    let Ok(dir) = dir.canonicalize() else { return "unknown".into() };
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else { return "unknown".into() };
    mounts
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (_, mount, fs) = (f.next()?, f.next()?, f.next()?);
            dir.starts_with(mount).then(|| (mount.len(), fs.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown".into(), |(_, fs)| fs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ceilings_measure_something_and_clean_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shape = Shape { threads: 2, message_bytes: 100, batch: 10, in_flight: 1 };
        let c = measure(dir.path(), shape, Duration::from_millis(100)).expect("measure");
        assert!(c.pwrite_msgs_per_s > 0.0);
        assert!(c.loopback_msgs_per_s > 0.0);
        assert_eq!((c.threads, c.batch, c.in_flight), (2, 10, 1), "{c:?}");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "the scratch file was removed");
    }

    #[test]
    fn framed_writes_leave_records_back_to_back_with_their_offsets_and_crcs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = File::create(dir.path().join("framed")).expect("create");
        let rate = write_framed(&file, 2, 30, 4, Duration::from_millis(50)).expect("measure");
        assert!(rate > 0.0);
        let bytes = std::fs::read(dir.path().join("framed")).expect("read");
        let record = HEADER_BYTES + 30;
        assert!(bytes.len() >= 4 * record && bytes.len().is_multiple_of(4 * record), "{} bytes", bytes.len());
        for (i, r) in bytes.chunks(record).enumerate() {
            let header = crate::storage::record::check_record(r, 30).expect("a record whose CRC matches");
            assert_eq!((header.offset, header.payload_bytes), (i as u64, 30), "record {i}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
        assert!(framed_pwrite(dir.path(), 1, 30, 1, Duration::from_millis(10)).expect("measure") > 0.0);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1, "its scratch file was removed");
    }

    #[test]
    fn a_write_ceiling_is_the_best_of_the_workloads_threads_and_the_cores() {
        assert_eq!(writer_counts(8, 2), [8, 2]);
        assert_eq!(writer_counts(3, 2), [3, 2]);
        assert_eq!(writer_counts(2, 2), [2]);
        assert_eq!(writer_counts(1, 2), [1], "one thread's ceiling stays one thread's");
        assert_eq!(writer_counts(8, 16), [8]);
        assert_eq!(writer_counts(4, 0), [4, 1]);
        let mut asked = Vec::new();
        let fewer_faster = best_over_writer_counts(8, 2, |threads| {
            asked.push(threads);
            Ok(if threads == 2 { 5.0 } else { 3.0 })
        });
        assert_eq!((fewer_faster.expect("measured"), asked), (5.0, vec![8, 2]));
        let more_faster = best_over_writer_counts(8, 2, |threads| Ok(if threads == 8 { 7.0 } else { 3.0 }));
        assert_eq!(more_faster.expect("measured"), 7.0);
        let failed = best_over_writer_counts(8, 2, |threads| {
            if threads == 2 {
                Err(std::io::Error::other("disk full"))
            } else {
                Ok(1.0)
            }
        });
        assert!(failed.is_err(), "a failed measurement is not hidden by the other");
    }

    #[test]
    fn the_sync_ceiling_counts_syncs_and_cleans_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rate = raw_fdatasync(dir.path(), 100, Duration::from_millis(100)).expect("measure");
        // At least one sync finished, and no device syncs in under a microsecond.
        assert!(rate > 0.0 && rate < 1e6, "{rate} syncs/s");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "the scratch file was removed");
    }

    #[test]
    fn the_echo_ceiling_runs_at_the_concurrency_of_what_it_bounds() {
        // Three producers, four requests in flight each: three threads, three connections, and
        // four outstanding on each; one run per configuration; the ceiling is the best run.
        let shape = Shape { threads: 3, message_bytes: 100, batch: 2, in_flight: 4 };
        let ceiling = raw_loopback(shape, Duration::from_millis(30)).expect("measure");
        assert_eq!(ceiling.runs.len(), Replies::ALL.len());
        for (run, replies) in ceiling.runs.iter().zip(Replies::ALL) {
            assert_eq!(run.replies, replies);
            assert_eq!((run.connections, run.client_threads, run.in_flight), (3, 3, 4), "{run:?}");
        }
        let best = ceiling.runs.iter().map(|r| r.msgs_per_s).fold(f64::MIN, f64::max);
        assert_eq!(ceiling.msgs_per_s, best);
        assert!(ceiling.runs.iter().any(|r| r.replies == ceiling.best && r.msgs_per_s == best));
        // One producer, one at a time.
        let one = raw_loopback(Shape { threads: 1, in_flight: 1, ..shape }, Duration::from_millis(10))
            .expect("measure");
        assert!(one.runs.iter().all(|r| (r.connections, r.client_threads, r.in_flight) == (1, 1, 1)));
    }
}
