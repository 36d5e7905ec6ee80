//! `FsyncMode`, the `--fsync` flag's values, shared by the binaries and the experiment runner.

use crate::storage::FsyncPolicy;

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
            FsyncMode::Interval => {
                FsyncPolicy::Interval(std::time::Duration::from_millis(interval_ms.max(1)))
            }
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
