//! Memory touched just before a timed window that writes files, so that window does not pay
//! for memory the machine has to find first.
//!
//! On a virtual machine whose host takes back the memory the guest frees (a balloon with free
//! page reporting, as on the 2-core machines this project is measured on), a page the guest's
//! kernel hands out after a while unused costs a fault in the host as well as in the guest on
//! its first touch. A run that appends a gigabyte to a fresh file takes a gigabyte of new page
//! cache during its timed load; whether those pages were still backed by the host decided the
//! run's figure. Measured there (`harness --transport inproc --producers 8 --consumers 0
//! --batch 100 --append reserve --strategy mutex --messages 8000000`, 928 MB of records), five
//! pairs alternating without and with this warm-up: without, 3.3, 8.5, 14.1, 14.3 and 9.2 M
//! msg/s; with, 14.2, 13.8, 13.7, 14.2 and 14.0 M msg/s, for 0.35–0.45 s more in `prepare`.
//!
//! So before a timed window that writes about `bytes` to files, [`warm`] writes one byte into
//! every page of `bytes` of fresh memory and frees it: the kernel's free lists then hold pages
//! the host has just backed, and the window's page cache is taken from them. It changes
//! nothing in what is measured, only how much of the host's work lands in it; the ceilings a
//! run is compared with are warmed the same way ([`super::ceiling`]), and so are the peers'
//! runs ([`super::peers`]). Up to [`WARM_BYTES_MAX`], and never more than a quarter of the
//! memory the kernel reports available (`MemAvailable`, on Linux), so a warm-up beside a run's
//! prepared payloads cannot exhaust the machine. Runs against a remote broker are not warmed
//! (its page cache may be another machine's), and neither is `harness lab`, whose cells compare
//! strategies with one another, not with a ceiling.

use std::time::{Duration, Instant};

/// The most memory one warm-up touches (2 GiB).
pub const WARM_BYTES_MAX: u64 = 2 << 30;

/// Bytes per page as the warm-up steps through them (the smallest page of the platforms
/// synclog runs on; touching more often than needed costs nothing that matters).
const PAGE_BYTES: usize = 4096;

/// Touches every page of `min(bytes, WARM_BYTES_MAX)` bytes of fresh memory, then frees it;
/// returns the seconds it took.
pub fn warm(bytes: u64) -> f64 {
    let started = Instant::now();
    let len = warm_len(bytes);
    let mut memory = vec![0u8; len];
    for i in (0..len).step_by(PAGE_BYTES) {
        memory[i] = 1;
    }
    std::hint::black_box(&memory);
    drop(memory);
    started.elapsed().as_secs_f64()
}

/// How many bytes [`warm`] touches for a request of `bytes`.
fn warm_len(bytes: u64) -> usize {
    bounded(bytes, available_bytes())
}

/// `bytes`, at most [`WARM_BYTES_MAX`] and a quarter of `available` (when known).
fn bounded(bytes: u64, available: Option<u64>) -> usize {
    let bound = available.map_or(WARM_BYTES_MAX, |a| WARM_BYTES_MAX.min(a / 4));
    usize::try_from(bytes.min(bound)).unwrap_or(usize::MAX)
}

/// The memory the kernel reports available (`MemAvailable` in `/proc/meminfo`), in bytes;
/// `None` where there is no such file.
fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Bytes per second a write ceiling is warmed for ([`for_writing_during`]): twice the 1.9 GB/s
/// raw batched writes reached on the machine measured, so a ceiling's file does not outgrow its
/// warm-up there (a ceiling of 1 s is warmed up to [`WARM_BYTES_MAX`]).
pub const WRITE_BYTES_PER_S: f64 = 4e9;

/// [`warm`]s as much memory as writing for `duration` at [`WRITE_BYTES_PER_S`] takes in page
/// cache (up to [`WARM_BYTES_MAX`]); returns the seconds it took.
pub fn for_writing_during(duration: Duration) -> f64 {
    warm(writing_bytes(duration))
}

/// Bytes written in `duration` at [`WRITE_BYTES_PER_S`].
fn writing_bytes(duration: Duration) -> u64 {
    (WRITE_BYTES_PER_S * duration.as_secs_f64()) as u64
}

/// Bytes that `messages` records of `message_bytes` take in a log (headers included).
pub fn log_bytes(messages: u64, message_bytes: f64) -> u64 {
    (messages as f64 * (crate::storage::HEADER_BYTES as f64 + message_bytes)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warm_up_covers_what_is_written_up_to_its_bound() {
        assert_eq!(bounded(12_345, None), 12_345);
        assert_eq!(bounded(3 << 30, None), 2 << 30);
        assert_eq!(bounded(u64::MAX, None), 2 << 30);
        // A quarter of what is available, when that is less.
        assert_eq!(bounded(3 << 30, Some(4 << 30)), 1 << 30);
        assert_eq!(bounded(3 << 30, Some(24 << 30)), 2 << 30);
        assert_eq!(bounded(100, Some(0)), 0);
        if cfg!(target_os = "linux") {
            let available = available_bytes().expect("MemAvailable on Linux");
            assert!(available > 0);
            assert!(warm_len(u64::MAX) as u64 <= available / 4);
        }
        assert_eq!(writing_bytes(Duration::from_millis(500)), 2_000_000_000);
        assert_eq!(log_bytes(10, 100.0), 10 * (crate::storage::HEADER_BYTES as u64 + 100));
        assert_eq!(log_bytes(0, 100.0), 0);
        // A small warm-up runs (and frees its memory) without failing.
        warm(1 << 20);
    }
}
