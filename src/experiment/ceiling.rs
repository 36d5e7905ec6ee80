//! The machine's ceilings, measured in the same run as the figures they bound.
//!
//! A throughput figure means little alone on a shared 2-core machine; beside the limit of the
//! same machine, measured minutes apart under the same load, it reads as a fraction. Two
//! ceilings bound everything synclog does:
//!
//! - **raw positional writes**: `threads` threads each `pwrite` the bytes of `batch` records of
//!   `message_bytes` (header included) at positions handed out by a `fetch_add`: no strategy,
//!   no encoding, no index. An append can only be slower.
//! - **raw loopback round trips**: `threads` connections each send a frame the size of a
//!   Produce request and wait for a frame the size of its response from an echo server that
//!   does nothing else (one thread per connection, like the broker). A request over loopback
//!   can only be slower.
//!
//! Each runs for a fixed time (default 1 s) and reports messages per second (round trips ×
//! batch for the loopback one).
//!
//! A third bounds `--fsync always`: **raw syncs**, one thread writing a record's bytes into
//! zero-filled space (as the preallocated log does) and `fdatasync`ing after each, back to back:
//! the most syncs per second the device gives one writer. Group commit acknowledges at most the
//! messages that landed during one sync with the next, so with `p` producers one request at a
//! time, each waits for up to two syncs and the acknowledgements are bounded near
//! `p / 2 × syncs per second` (see `reports/README.md`).

pub use crate::report::rows::Ceilings;
use crate::storage::HEADER_BYTES;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Bytes a Produce response takes on the wire: length, correlation id, error, base offset, count.
const PRODUCE_RESPONSE_BYTES: usize = 4 + 4 + 2 + 8 + 4;

/// Runs `work(thread)` on `threads` threads for `duration`; returns the operations done per
/// second (each call of `work` returns how many it did).
fn for_duration(
    threads: usize,
    duration: Duration,
    work: impl Fn(usize) -> std::io::Result<u64> + Sync,
) -> std::io::Result<f64> {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let start = Barrier::new(threads + 1);
    let elapsed = thread::scope(|s| -> std::io::Result<Duration> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, done, start, work) = (&stop, &done, &start, &work);
                s.spawn(move || -> std::io::Result<()> {
                    start.wait();
                    while !stop.load(Ordering::Relaxed) {
                        done.fetch_add(work(t)?, Ordering::Relaxed);
                    }
                    Ok(())
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

/// Records per second that plain positional writes reach in `dir`.
pub fn raw_pwrite(
    dir: &Path,
    threads: usize,
    message_bytes: usize,
    batch: usize,
    duration: Duration,
) -> std::io::Result<f64> {
    let path = dir.join("ceiling-pwrite.dat");
    let file = File::create(&path)?;
    let end = AtomicU64::new(0);
    let bytes = vec![0x5Au8; batch * (HEADER_BYTES + message_bytes)];
    let rate = for_duration(threads, duration, |_| {
        let at = end.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        file.write_all_at(&bytes, at)?;
        Ok(batch as u64)
    });
    drop(file);
    let _ = std::fs::remove_file(&path);
    rate
}

/// `fdatasync`s per second that one thread reaches, each after one `pwrite` of `message_bytes`
/// (plus a header) into zero-filled space, in `dir`.
pub fn raw_fdatasync(dir: &Path, message_bytes: usize, duration: Duration) -> std::io::Result<f64> {
    let path = dir.join("ceiling-fdatasync.dat");
    let file = File::create(&path)?;
    let record = vec![0x5Au8; HEADER_BYTES + message_bytes];
    // Enough zeros for any run (a sync takes tens of microseconds at the very least).
    let room = (duration.as_secs_f64() * 100_000.0).ceil() as u64 * record.len() as u64;
    file.write_all_at(&vec![0u8; room as usize], 0)?;
    file.sync_all()?;
    let end = AtomicU64::new(0);
    let rate = for_duration(1, duration, |_| {
        let at = end.fetch_add(record.len() as u64, Ordering::Relaxed) % room;
        file.write_all_at(&record, at)?;
        file.sync_data()?;
        Ok(1)
    });
    drop(file);
    let _ = std::fs::remove_file(&path);
    rate
}

/// Messages per second of request/response over loopback with the framing of a Produce of
/// `batch` messages of `message_bytes`, through an echo server that stores nothing.
pub fn raw_loopback(
    threads: usize,
    message_bytes: usize,
    batch: usize,
    duration: Duration,
) -> std::io::Result<f64> {
    let topic_bytes = 16;
    // length | api | version | correlation id | topic | count | count × (length | payload)
    let request_bytes = 4 + 6 + 2 + topic_bytes + 4 + batch * (4 + message_bytes);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        // The echo server: one thread per connection, read a whole frame, answer a small one.
        s.spawn(|| {
            for stream in listener.incoming().take(threads) {
                let Ok(mut stream) = stream else { continue };
                let stop = &stop;
                s.spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let mut frame = vec![0u8; request_bytes];
                    let reply = vec![0u8; PRODUCE_RESPONSE_BYTES];
                    while !stop.load(Ordering::Relaxed) {
                        if stream.read_exact(&mut frame).is_err() || stream.write_all(&reply).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let mut clients = Vec::with_capacity(threads);
        for _ in 0..threads {
            let c = TcpStream::connect(addr)?;
            c.set_nodelay(true)?;
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            clients.push(parking_lot::Mutex::new(c));
        }
        let request = vec![0x5Au8; request_bytes];
        let rate = for_duration(threads, duration, |t| {
            let mut c = clients[t].lock();
            let mut reply = [0u8; PRODUCE_RESPONSE_BYTES];
            c.write_all(&request)?;
            c.read_exact(&mut reply)?;
            Ok(batch as u64)
        });
        stop.store(true, Ordering::Relaxed);
        // Closing the clients ends the server threads.
        drop(clients);
        rate
    })
}

/// Measures both ceilings for `threads` threads, `message_bytes` and `batch`.
pub fn measure(
    dir: &Path,
    threads: usize,
    message_bytes: usize,
    batch: usize,
    duration: Duration,
) -> std::io::Result<Ceilings> {
    Ok(Ceilings {
        threads,
        message_bytes,
        batch,
        pwrite_msgs_per_s: raw_pwrite(dir, threads, message_bytes, batch, duration)?,
        loopback_msgs_per_s: raw_loopback(threads, message_bytes, batch, duration)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ceilings_measure_something_and_clean_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = measure(dir.path(), 2, 100, 10, Duration::from_millis(100)).expect("measure");
        assert!(c.pwrite_msgs_per_s > 0.0);
        assert!(c.loopback_msgs_per_s > 0.0);
        // Batches of 10: every operation counted 10 messages.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "the scratch file was removed");
    }

    #[test]
    fn the_sync_ceiling_counts_syncs_and_cleans_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rate = raw_fdatasync(dir.path(), 100, Duration::from_millis(100)).expect("measure");
        // At least one sync finished, and no device syncs in under a microsecond.
        assert!(rate > 0.0 && rate < 1e6, "{rate} syncs/s");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "the scratch file was removed");
    }
}
