//! In-process appends and reads, generic over the strategy.
//!
//! - `append/single/<strategy>/<threads>`: 100-byte messages, one `pwrite` each;
//! - `append/batch100/<strategy>/<threads>`: batches of 100 × 100 bytes, one `pwrite` per batch;
//! - `append/reserve-single/<strategy>/<threads>` and `append/reserve-batch100/…`: the same
//!   under `AppendMode::Reserve` (only the reservation inside the write section), for `mutex`
//!   and `rwlock`;
//! - `append/raw-pwrite/<threads>` and `append/raw-pwrite-batch100/<threads>`: the ceiling, the
//!   same bytes written with plain `write_all_at` and a `fetch_add` for the position: no
//!   strategy, no record encoding, no index;
//! - `append/framed-pwrite/<threads>` and `append/framed-pwrite-batch100/<threads>`: the same
//!   writes of records encoded as the log encodes them (a `RecordBatch` per thread: header,
//!   offset, CRC-32C), offsets and position from one `fetch_add`: what the on-disk format costs
//!   without a strategy or an index, a tighter ceiling for the appends;
//! - `read_heavy/<strategy>/<readers>`: one writer appending while N readers fetch 100 records
//!   at random offsets; throughput counts reads. A reader-writer lock lets readers share here,
//!   the semaphore and the mutex do not;
//! - `fetch_random/<strategy>`: one reader, fetch via the index at random offsets;
//! - `section/<read|write>/<strategy>`: one thread entering and leaving an empty section, the
//!   uncontended cost of the strategy alone; `section/<read|write>/timed-<strategy>`: the same
//!   through `Timed<S>` (lock statistics on), so the difference is the instrument's overhead.
//!
//! Multi-threaded runs use `iter_custom` and a `Barrier`, so the clock covers only the time all
//! threads were working. The write benches start each sample on a fresh file (see
//! `in_fresh_dir`). Element counts are messages.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};
use synclog::experiment::warm;
use synclog::storage::{AppendMode, Log, LogConfig, RecordBatch, HEADER_BYTES};
use synclog::strategies::*;

const MESSAGE_BYTES: usize = 100;
const THREADS: [usize; 4] = [1, 2, 4, 8];

/// Runs `per_thread(i, n)` on `threads` threads, each doing `n` operations; returns the time from
/// the common start to the last finish.
fn timed_threads(threads: usize, total: u64, per_thread: impl Fn(usize, u64) + Sync) -> Duration {
    let start = Barrier::new(threads + 1);
    let per = total.div_ceil(threads as u64);
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (start, per_thread) = (&start, &per_thread);
                s.spawn(move || {
                    start.wait();
                    per_thread(i, per);
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        for h in handles {
            h.join().expect("bench thread");
        }
        t0.elapsed()
    })
}

/// Runs one sample that appends `messages` records in a data dir of its own, deleted
/// afterwards (outside the clock). A file that grew through every sample would pass the
/// kernel's dirty-page threshold within a few seconds, and the later samples would time
/// writeback to the disk instead of appends to the page cache (measured: the raw batched
/// ceiling fell from 6.5 M to 3.1 M msg/s when the measurement ran 4 s instead of 1 s); each of
/// `harness`'s runs starts fresh the same way. Before the clock, as much memory as the sample
/// will write is warmed (`synclog::experiment::warm`), as `harness` does before a load.
fn in_fresh_dir(messages: u64, sample: impl FnOnce(&Path) -> Duration) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    warm::warm(warm::log_bytes(messages, MESSAGE_BYTES as f64));
    sample(dir.path())
}

fn append_single<S: SyncStrategy>(c: &mut Criterion, mode: AppendMode) {
    let mut group = c.benchmark_group(group_name("append/single", mode));
    group.throughput(Throughput::Elements(1));
    for threads in THREADS {
        let payload = [7u8; MESSAGE_BYTES];
        group.bench_with_input(BenchmarkId::new(S::NAME, threads), &threads, |b, &threads| {
            b.iter_custom(|iters| {
                in_fresh_dir(iters, |dir| {
                    let log = Log::<S>::open(dir, config(mode)).expect("open").0;
                    timed_threads(threads, iters, |_, n| {
                        for _ in 0..n {
                            log.append(&payload).expect("append");
                        }
                    })
                })
            })
        });
    }
    group.finish();
}

/// `append/<kind>` under `whole`, `append/reserve-<kind>` under `reserve`.
fn group_name(name: &str, mode: AppendMode) -> String {
    match mode {
        AppendMode::Whole => name.to_string(),
        AppendMode::Reserve => name.replacen("append/", "append/reserve-", 1),
    }
}

fn config(mode: AppendMode) -> LogConfig {
    LogConfig { append: mode, ..LogConfig::default() }
}

fn append_batch<S: SyncStrategy>(c: &mut Criterion, mode: AppendMode) {
    let mut group = c.benchmark_group(group_name("append/batch100", mode));
    group.throughput(Throughput::Elements(100));
    for threads in THREADS {
        let batch = vec![[7u8; MESSAGE_BYTES]; 100];
        group.bench_with_input(BenchmarkId::new(S::NAME, threads), &threads, |b, &threads| {
            b.iter_custom(|iters| {
                in_fresh_dir(iters * 100, |dir| {
                    let log = Log::<S>::open(dir, config(mode)).expect("open").0;
                    timed_threads(threads, iters, |_, n| {
                        for _ in 0..n {
                            log.append_batch(&batch).expect("append");
                        }
                    })
                })
            })
        });
    }
    group.finish();
}

/// The ceiling: the same bytes with plain positional writes and no strategy at all.
fn raw_pwrite(c: &mut Criterion) {
    for (name, records) in [("append/raw-pwrite", 1usize), ("append/raw-pwrite-batch100", 100)] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(records as u64));
        for threads in THREADS {
            let bytes = vec![7u8; records * (MESSAGE_BYTES + 16)];
            group.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, &threads| {
                b.iter_custom(|iters| {
                    in_fresh_dir(iters * records as u64, |dir| {
                        let file = File::create(dir.join("raw.dat")).expect("create");
                        let end = AtomicU64::new(0);
                        timed_threads(threads, iters, |_, n| {
                            for _ in 0..n {
                                let at = end.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                                file.write_all_at(&bytes, at).expect("write");
                            }
                        })
                    })
                })
            });
        }
        group.finish();
    }
}

/// The format's ceiling: records encoded as the log encodes them, then plain positional writes,
/// no strategy and no index.
fn framed_pwrite(c: &mut Criterion) {
    for (name, records) in [("append/framed-pwrite", 1usize), ("append/framed-pwrite-batch100", 100)] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(records as u64));
        for threads in THREADS {
            let payload = [7u8; MESSAGE_BYTES];
            group.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, &threads| {
                b.iter_custom(|iters| {
                    in_fresh_dir(iters * records as u64, |dir| {
                        let file = File::create(dir.join("framed.dat")).expect("create");
                        let next_offset = AtomicU64::new(0);
                        timed_threads(threads, iters, |_, n| {
                            let mut batch = RecordBatch::with_capacity(records, MESSAGE_BYTES);
                            for _ in 0..n {
                                batch.clear();
                                for _ in 0..records {
                                    batch.push(&payload);
                                }
                                let base = next_offset.fetch_add(records as u64, Ordering::Relaxed);
                                batch.assign_offsets(base);
                                let at = base * (MESSAGE_BYTES + HEADER_BYTES) as u64;
                                file.write_all_at(batch.bytes(), at).expect("write");
                            }
                        })
                    })
                })
            });
        }
        group.finish();
    }
}

fn read_heavy<S: SyncStrategy>(c: &mut Criterion) {
    let mut group = c.benchmark_group("read_heavy");
    group.throughput(Throughput::Elements(1));
    for readers in [1usize, 2, 4] {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::<S>::open(dir.path(), LogConfig::default()).expect("open").0;
        let batch = vec![[7u8; MESSAGE_BYTES]; 100];
        for _ in 0..1000 {
            log.append_batch(&batch).expect("fill");
        }
        group.bench_with_input(BenchmarkId::new(S::NAME, readers), &readers, |b, &readers| {
            b.iter_custom(|iters| {
                let stop = AtomicBool::new(false);
                thread::scope(|s| {
                    // One writer appends for as long as the readers read.
                    s.spawn(|| {
                        while !stop.load(Ordering::Relaxed) {
                            log.append(&[1u8; MESSAGE_BYTES]).expect("append");
                        }
                    });
                    let took = timed_threads(readers, iters, |i, n| {
                        let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ i as u64;
                        for _ in 0..n {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            let offset = x % 99_000;
                            let got = log.read(offset, 100, 1 << 20).expect("read");
                            assert_eq!(got.len(), 100);
                        }
                    });
                    stop.store(true, Ordering::Relaxed);
                    took
                })
            })
        });
    }
    group.finish();
}

fn fetch_random<S: SyncStrategy>(c: &mut Criterion) {
    let mut group = c.benchmark_group("fetch_random");
    group.throughput(Throughput::Elements(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::<S>::open(dir.path(), LogConfig::default()).expect("open").0;
    let batch = vec![[7u8; MESSAGE_BYTES]; 100];
    for _ in 0..1000 {
        log.append_batch(&batch).expect("fill");
    }
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    group.bench_function(BenchmarkId::new(S::NAME, 1), |b| {
        b.iter(|| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            log.read(x % 100_000, 1, 1 << 20).expect("read")
        })
    });
    group.finish();
}

/// An empty read and write section on one thread: what the strategy alone costs, uncontended.
fn section<S: SyncStrategy>(c: &mut Criterion, label: &str) {
    let strategy = S::default();
    let mut group = c.benchmark_group("section");
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("read", label), |b| {
        b.iter(|| strategy.read(|| std::hint::black_box(1)))
    });
    group.bench_function(BenchmarkId::new("write", label), |b| {
        b.iter(|| strategy.write(|| std::hint::black_box(1)))
    });
    group.finish();
}

fn all(c: &mut Criterion) {
    section::<NoSync>(c, "none");
    section::<SemaphoreSync>(c, "semaphore");
    section::<RwLockSync>(c, "rwlock");
    section::<MutexSync>(c, "mutex");
    section::<StdRwLockSync>(c, "std-rwlock");
    section::<Timed<RwLockSync>>(c, "timed-rwlock");
    section::<Timed<MutexSync>>(c, "timed-mutex");
    raw_pwrite(c);
    framed_pwrite(c);
    append_single::<NoSync>(c, AppendMode::Whole);
    append_single::<SemaphoreSync>(c, AppendMode::Whole);
    append_single::<RwLockSync>(c, AppendMode::Whole);
    append_single::<MutexSync>(c, AppendMode::Whole);
    append_single::<StdRwLockSync>(c, AppendMode::Whole);
    append_batch::<NoSync>(c, AppendMode::Whole);
    append_batch::<SemaphoreSync>(c, AppendMode::Whole);
    append_batch::<RwLockSync>(c, AppendMode::Whole);
    append_batch::<MutexSync>(c, AppendMode::Whole);
    append_batch::<StdRwLockSync>(c, AppendMode::Whole);
    append_single::<MutexSync>(c, AppendMode::Reserve);
    append_single::<RwLockSync>(c, AppendMode::Reserve);
    append_batch::<MutexSync>(c, AppendMode::Reserve);
    append_batch::<RwLockSync>(c, AppendMode::Reserve);
    read_heavy::<SemaphoreSync>(c);
    read_heavy::<RwLockSync>(c);
    read_heavy::<MutexSync>(c);
    read_heavy::<StdRwLockSync>(c);
    fetch_random::<RwLockSync>(c);
    fetch_random::<SemaphoreSync>(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = all
}
// criterion_main!, plus the bundled font that criterion's plots need (see report::charts).
fn main() {
    synclog::report::charts::register_font();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
