//! What the binaries share: the exit codes of docs/cli.md, the mapping from an experiment's
//! [`Outcome`] to one, and catching SIGINT/SIGTERM. Each binary uses part of it.
#![allow(dead_code)]

use synclog::experiment::Outcome;

/// Exit code: success and clean.
pub const EXIT_OK: u8 = 0;
/// Exit code: an error that is not an integrity violation.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: bad usage (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: integrity violated.
pub const EXIT_VIOLATED: u8 = 3;

/// The exit code of an outcome: 0 clean, 3 violated, 1 a demo that did not come out as taught.
pub fn exit_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Clean => EXIT_OK,
        Outcome::Violated => EXIT_VIOLATED,
        Outcome::NotAsTaught | Outcome::Incomplete => EXIT_ERROR,
    }
}

/// SIGINT and SIGTERM, caught from the moment [`Termination::catch`] returns. Before that, either
/// signal kills the process outright (the default action) and skips the clean shutdown.
pub struct Termination(signal_hook::iterator::Signals);

impl Termination {
    /// Starts catching SIGINT and SIGTERM. Call it *before* announcing that the process is ready
    /// (`listening on ADDR`): a supervisor may signal as soon as it reads the announcement.
    pub fn catch() -> anyhow::Result<Termination> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        Ok(Termination(signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?))
    }

    /// Blocks until SIGINT or SIGTERM arrives (returns at once if one arrived since `catch`).
    pub fn wait(mut self) {
        let _ = self.0.forever().next();
    }
}
