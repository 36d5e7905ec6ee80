//! Durability: when appended records are forced to disk, and what a reader may see meanwhile.
//!
//! - [`FsyncPolicy`] (the storage's view) and [`FsyncMode`] (the command line's `--fsync`);
//! - `Durability`: one log's durable offset, sync counters ([`SyncTotals`]), sync hook and
//!   group commit (see [`group_commit`](super::group_commit)). The log calls it; its syncs
//!   never run inside the write section or while the strategy's lock is held (only its poison
//!   flag and durable offset are read there; a failed sync's cut-back, `Log::cut_to_durable`,
//!   takes the write section).
//!
//! With `FsyncPolicy::Always` an append returns only after `fdatasync` covered its bytes, and
//! reads serve only up to the *durable* offset (the high watermark); one sync covers every
//! append waiting on it (group commit). `Interval` is driven from outside (the topic registry's
//! syncer calls [`Log::sync_data`](super::Log::sync_data)); `Never` leaves it to the page cache,
//! as Kafka does by default: a killed process loses nothing the kernel has.

use super::error::{IoContext, LogError};
use super::group_commit::GroupCommit;
use std::fmt;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Release, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When appended records are forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// Never: the page cache decides (Kafka's default).
    #[default]
    Never,
    /// Every so often, from a background syncer.
    Interval(Duration),
    /// Before every acknowledgement.
    Always,
}

/// `--fsync never|interval|always`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncMode {
    /// Never force: the page cache decides (a killed process loses nothing the kernel has).
    Never,
    /// Force every `--fsync-interval-ms` from a background syncer.
    Interval,
    /// Force before every acknowledgement.
    Always,
}

impl FsyncMode {
    /// The storage policy, with the interval for `interval`.
    pub fn policy(self, interval_ms: u64) -> FsyncPolicy {
        match self {
            FsyncMode::Never => FsyncPolicy::Never,
            FsyncMode::Interval => FsyncPolicy::Interval(Duration::from_millis(interval_ms.max(1))),
            FsyncMode::Always => FsyncPolicy::Always,
        }
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            FsyncMode::Never => "never",
            FsyncMode::Interval => "interval",
            FsyncMode::Always => "always",
        }
    }
}

/// Where a sync is, for [`SyncHook`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPoint {
    /// About to call `fdatasync`; it will cover every record below `covered`.
    Start { covered: u64 },
    /// `fdatasync` returned; records below `covered` are durable.
    Done { covered: u64 },
}

/// A callback at each [`SyncPoint`], given the path of the `log.dat` being synced (tests use it
/// to count and to hold syncs, of one topic or of all). An error returned at `Start` stands for
/// the device failing that sync: the log reports it exactly as a failed `fdatasync` (tests
/// inject disk failures with it, into one topic's log or into every one).
#[derive(Clone)]
pub struct SyncHook(pub Arc<dyn Fn(&Path, SyncPoint) -> std::io::Result<()> + Send + Sync>);

impl fmt::Debug for SyncHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SyncHook")
    }
}

/// What forcing a log to disk has cost so far, for reports: how many syncs, the time spent
/// inside `fdatasync`, and the time group-commit leaders spent gathering before theirs (see
/// [`group_commit`](super::group_commit), "Gathering"). Under one-request-at-a-time load the
/// three tell where each sync's cycle goes: the device, the wait for the producers, and the
/// rest (the turnaround from one sync's end to the next leader's arrival).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncTotals {
    pub syncs: u64,
    /// Time inside `fdatasync`, summed over syncs (a sync hook's time is not included).
    pub syncing: Duration,
    /// Time leaders waited for appends to gather before their sync, summed.
    pub gathering: Duration,
}

impl SyncTotals {
    /// What was spent between `earlier` and `self` (two readings of the same logs).
    pub fn since(self, earlier: SyncTotals) -> SyncTotals {
        SyncTotals {
            syncs: self.syncs.saturating_sub(earlier.syncs),
            syncing: self.syncing.saturating_sub(earlier.syncing),
            gathering: self.gathering.saturating_sub(earlier.gathering),
        }
    }
}

impl std::iter::Sum for SyncTotals {
    fn sum<I: Iterator<Item = SyncTotals>>(iter: I) -> SyncTotals {
        iter.fold(SyncTotals::default(), |a, b| SyncTotals {
            syncs: a.syncs + b.syncs,
            syncing: a.syncing + b.syncing,
            gathering: a.gathering + b.gathering,
        })
    }
}

/// One log's durability state: what has been forced to disk, and the group commit that forces it.
pub(crate) struct Durability {
    policy: FsyncPolicy,
    hook: Option<SyncHook>,
    /// Records below this offset are on disk (raised with `fetch_max` after each sync, outside
    /// the write section). Served as the high watermark under `FsyncPolicy::Always`.
    durable_offset: AtomicU64,
    /// How many times the file was forced to disk (for fsyncs per second in reports).
    syncs: AtomicU64,
    /// Nanoseconds spent inside `fdatasync`, over those syncs.
    sync_ns: AtomicU64,
    /// Shares one `fdatasync` among the appends waiting for durability (`FsyncPolicy::Always`).
    commit: GroupCommit,
    /// Under `Reserve`: a write (or index write) failed, leaving a range that is never
    /// published. The log refuses appends from then on, but syncs go on: the records published
    /// before it are whole, and may still be made durable and acknowledged.
    write_failed: AtomicBool,
}

impl Durability {
    pub(crate) fn new(policy: FsyncPolicy, hook: Option<SyncHook>) -> Self {
        Durability {
            policy,
            hook,
            durable_offset: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            sync_ns: AtomicU64::new(0),
            commit: GroupCommit::default(),
            write_failed: AtomicBool::new(false),
        }
    }

    /// Whether every acknowledgement waits for a sync.
    pub(crate) fn always(&self) -> bool {
        self.policy == FsyncPolicy::Always
    }

    /// After recovery: whatever survived a restart is as durable as it will get.
    pub(crate) fn recovered(&self, next_offset: u64) {
        self.durable_offset.store(next_offset, Release);
    }

    /// Marks the log as refusing appends after a write that can never be published (under
    /// `Reserve`); unlike a failed sync, it leaves syncs going.
    pub(crate) fn write_failed(&self) {
        self.write_failed.store(true, SeqCst);
    }

    /// Whether the log refuses appends: a sync has failed (nothing appended from now on can be
    /// promised durable), or under `Reserve` a write has.
    pub(crate) fn refuses_appends(&self) -> bool {
        self.write_failed.load(SeqCst) || self.commit.is_poisoned()
    }

    /// Whether a sync has failed (the log is, or will be, cut back to its durable offset).
    pub(crate) fn sync_failed(&self) -> bool {
        self.commit.is_poisoned()
    }

    /// Forces `file` to disk; the records below `covered` were all written before this call.
    /// A failure (or an earlier one) poisons the log, whatever the policy: no sync is trusted
    /// after a failed one, and the caller cuts the file back to the durable offset.
    pub(crate) fn sync_file(&self, file: &File, path: &Path, covered: u64) -> Result<(), LogError> {
        if self.sync_failed() {
            return Err(LogError::SyncFailed { path: path.to_path_buf() });
        }
        let result = self.try_sync_file(file, path, covered);
        if result.is_err() {
            self.commit.poison();
        }
        result
    }

    fn try_sync_file(&self, file: &File, path: &Path, covered: u64) -> Result<(), LogError> {
        if let Some(SyncHook(hook)) = &self.hook {
            hook(path, SyncPoint::Start { covered }).at(path)?;
        }
        let began = Instant::now();
        file.sync_data().at(path)?;
        let took = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.sync_ns.fetch_add(took, Release);
        self.syncs.fetch_add(1, Release);
        if let Some(SyncHook(hook)) = &self.hook {
            hook(path, SyncPoint::Done { covered }).at(path)?;
        }
        self.durable_offset.fetch_max(covered, Release);
        Ok(())
    }

    /// Returns once a sync that started after this call covered the caller's records, `bytes`
    /// of them (group commit), running `sync` itself when no other is in progress.
    pub(crate) fn wait_durable(
        &self,
        bytes: u64,
        sync: impl Fn() -> Result<(), LogError>,
        path: &Path,
    ) -> Result<(), LogError> {
        self.commit.wait_durable_bytes(bytes, sync, || LogError::SyncFailed { path: path.to_path_buf() })
    }

    /// Records below this offset are on disk.
    pub(crate) fn durable_offset(&self) -> u64 {
        self.durable_offset.load(Acquire)
    }

    /// How many appends are parked waiting for another's sync right now.
    pub(crate) fn waiting(&self) -> usize {
        self.commit.waiting()
    }

    /// How many times the file was forced to disk, and what that took.
    pub(crate) fn sync_totals(&self) -> SyncTotals {
        SyncTotals {
            syncs: self.syncs.load(Acquire),
            syncing: Duration::from_nanos(self.sync_ns.load(Acquire)),
            gathering: self.commit.gathering(),
        }
    }

    /// The offset below which records may be served, given the log's next offset: the durable
    /// offset under `FsyncPolicy::Always`, else the next offset.
    pub(crate) fn high_watermark(&self, next_offset: u64) -> u64 {
        match self.policy {
            FsyncPolicy::Always => self.durable_offset.load(Acquire),
            _ => next_offset,
        }
    }
}
