//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod broker_process;
pub mod kafka_broker;
pub mod kafka_raw;

use synclog::storage::{Log, LogConfig};
use synclog::strategies::SyncStrategy;

/// Runs a generic test body once for every strategy, as one `#[test]` per strategy, so a
/// failure names the strategy.
#[macro_export]
macro_rules! for_each_strategy {
    ($body:ident) => {
        $crate::for_each_strategy!(@tests $body, none NoSync, semaphore SemaphoreSync, rwlock RwLockSync,
            mutex MutexSync, std_rwlock StdRwLockSync);
    };
    ($body:ident, locking) => {
        $crate::for_each_strategy!(@tests $body, semaphore SemaphoreSync, rwlock RwLockSync, mutex MutexSync,
            std_rwlock StdRwLockSync);
    };
    (@tests $body:ident, $($test:ident $strategy:ident),+) => {
        mod $body {
            use synclog::strategies::*;
            $(
                #[test]
                fn $test() {
                    super::$body::<$strategy>();
                }
            )+
        }
    };
}

/// Opens a log in `dir` with `config`, panicking with the error (tests only).
pub fn open<S: SyncStrategy>(dir: &std::path::Path, config: LogConfig) -> Log<S> {
    Log::<S>::open(dir, config).expect("open log").0
}

/// A payload naming its writer and sequence number, padded to `len` bytes (≥ 12).
pub fn tagged(writer: u32, seq: u64, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(len);
    p.extend_from_slice(&writer.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.resize(len.max(12), (seq % 251) as u8);
    p
}

/// Reads a tagged payload back.
pub fn untag(p: &[u8]) -> (u32, u64) {
    let w = u32::from_be_bytes(p[0..4].try_into().expect("4 bytes"));
    let s = u64::from_be_bytes(p[4..12].try_into().expect("8 bytes"));
    (w, s)
}

/// Reads the whole log from offset 0 as (offset, payload) pairs.
pub fn read_all<S: SyncStrategy>(log: &Log<S>) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut next = 0;
    loop {
        let batch = log.read(next, 1000, 1 << 20).expect("read");
        if batch.is_empty() {
            return out;
        }
        for (o, p) in batch.iter() {
            out.push((o, p.to_vec()));
            next = o + 1;
        }
    }
}

/// Whether `condition` holds within `patience` (looked at between yields).
pub fn within(patience: std::time::Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + patience;
    while !condition() && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    condition()
}

/// Holds the appender of offset 0 under `AppendMode::Reserve` after its reservation, before
/// its write, until released (for at most 20 s).
pub struct HoldFirst {
    reserved: std::sync::Arc<std::sync::atomic::AtomicBool>,
    release: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HoldFirst {
    /// The hold, and the race window that does it (for `LogConfig::race_window`).
    pub fn new() -> (HoldFirst, synclog::storage::RaceWindow) {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        use std::sync::Arc;
        let hold = HoldFirst {
            reserved: Arc::new(AtomicBool::new(false)),
            release: Arc::new(AtomicBool::new(false)),
        };
        let (reserved, release) = (hold.reserved.clone(), hold.release.clone());
        let race = move |point: synclog::storage::RacePoint| {
            if let synclog::storage::RacePoint::Reserved { offset: 0, .. } = point {
                reserved.store(true, SeqCst);
                assert!(
                    within(std::time::Duration::from_secs(20), || release.load(SeqCst)),
                    "A was never released"
                );
            }
        };
        (hold, synclog::storage::RaceWindow::Hook(Arc::new(race)))
    }

    /// Whether the appender of offset 0 has reserved and is held (waiting up to 20 s).
    pub fn reserved(&self) -> bool {
        within(std::time::Duration::from_secs(20), || self.reserved.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Lets it write.
    pub fn release(&self) {
        self.release.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
