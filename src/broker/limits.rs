//! File descriptors: how many connections and topics the broker can really hold.
//!
//! Every admitted connection holds two descriptors (its socket, and the clone `shutdown` uses
//! to wake its handler); every open topic holds two (`log.dat` and `index.dat`). The broker
//! also needs a few of its own: stdio, the listeners, the data dir, a reserve descriptor per
//! accept loop, and the brief socket of a connection being refused. A connection cap that the
//! descriptor limit cannot hold is no cap at all: `accept` fails with EMFILE first, and
//! clients wait in the backlog without an answer.
//!
//! So, at start (as Redis does with `maxclients`):
//!
//! 1. the binary raises the soft `RLIMIT_NOFILE` to the hard one ([`raise_fd_limit`]);
//! 2. [`plan`] splits what the soft limit allows, less [`RESERVED_FDS`], between topics and
//!    connections: `--max-topics` when given, else a quarter of the descriptors (at most
//!    [`DEFAULT_MAX_TOPICS`]); the rest to connections, lowering `--max-connections` with a
//!    logged warning when it does not fit.
//!
//! Should descriptors still run out (another process's files, a topic directory being
//! created), each accept loop keeps one reserve descriptor: on EMFILE it releases it, accepts
//! the waiting connection, answers it TooManyConnections and closes it, then takes the reserve
//! again — a client is refused, never left in silence.

use std::fs::File;
use std::io;

/// Descriptors kept out of the connection and topic budgets: stdio, listeners, the data dir,
/// reserve descriptors, connections being refused, and slack.
pub const RESERVED_FDS: u64 = 64;
/// Descriptors per admitted connection (its socket and the clone `shutdown` uses).
pub const FDS_PER_CONNECTION: u64 = 2;
/// Descriptors per open topic (`log.dat` and `index.dat`).
pub const FDS_PER_TOPIC: u64 = 2;
/// `--max-topics` when not given and the descriptor limit allows it.
pub const DEFAULT_MAX_TOPICS: usize = 10_000;

/// The limit on open files now: the soft one, or `None` where there is none to read.
pub fn fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Raises this process's soft limit on open files to its hard limit (capped at 1 << 20, what
/// an "unlimited" hard limit becomes). Returns the soft limit now in force.
pub fn raise_fd_limit() -> io::Result<Option<u64>> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        let target = limit.maximum.unwrap_or(1 << 20).min(1 << 20);
        if limit.current.is_some_and(|soft| soft < target) {
            setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: limit.maximum })?;
        }
        Ok(getrlimit(Resource::Nofile).current)
    }
    #[cfg(not(unix))]
    {
        Ok(None)
    }
}

/// What the descriptor limit allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The connection cap in force (`--max-connections`, or fewer).
    pub max_connections: usize,
    /// The topic cap in force (`--max-topics`, or derived).
    pub max_topics: usize,
    /// Why a requested limit was lowered, for the log; empty when nothing was.
    pub warnings: Vec<String>,
}

/// Splits the soft limit `fd_limit` (`None`: no limit known) between `existing` open topics,
/// up to `max_topics` topics (`None`: derived) and up to `max_connections` connections.
pub fn plan(
    fd_limit: Option<u64>,
    max_connections: usize,
    max_topics: Option<usize>,
    existing: usize,
) -> Plan {
    let mut warnings = Vec::new();
    let Some(limit) = fd_limit else {
        return Plan { max_connections, max_topics: max_topics.unwrap_or(DEFAULT_MAX_TOPICS), warnings };
    };
    let available = limit.saturating_sub(RESERVED_FDS);
    let topic_share = (available / 4 / FDS_PER_TOPIC) as usize;
    let mut topics = max_topics.unwrap_or(topic_share.min(DEFAULT_MAX_TOPICS));
    // Topics already open hold their descriptors whatever the cap.
    let topic_fds = |topics: usize| topics.max(existing) as u64 * FDS_PER_TOPIC;
    if topic_fds(topics) > available / 2 && max_topics.is_some() {
        let lowered = topic_share.max(1);
        warnings.push(format!(
            "--max-topics {topics} needs {} of the {limit} open files allowed (ulimit -n); lowered to {lowered}",
            topic_fds(topics)
        ));
        topics = lowered;
    }
    let fit = (available.saturating_sub(topic_fds(topics)) / FDS_PER_CONNECTION) as usize;
    let connections = if max_connections > fit {
        warnings.push(format!(
            "--max-connections {max_connections} needs {} open files, but the limit is {limit} \
             (ulimit -n) and {} go to topics and {RESERVED_FDS} are reserved; lowered to {fit}",
            max_connections as u64 * FDS_PER_CONNECTION,
            topic_fds(topics),
        ));
        fit
    } else {
        max_connections
    };
    Plan { max_connections: connections, max_topics: topics, warnings }
}

/// One descriptor held back so that, out of descriptors, an accept loop can still accept a
/// connection and refuse it.
pub(super) struct Reserve(Option<File>);

impl Reserve {
    pub(super) fn new() -> Reserve {
        Reserve(open_reserve())
    }

    /// Runs `f` with the reserve descriptor released, then takes it again.
    pub(super) fn released<T>(&mut self, f: impl FnOnce() -> T) -> T {
        self.0 = None;
        let out = f();
        self.0 = open_reserve();
        out
    }
}

fn open_reserve() -> Option<File> {
    File::open(if cfg!(unix) { "/dev/null" } else { "NUL" }).ok()
}

/// Whether `e` is "this process (or the system) has no descriptor left".
pub(super) fn out_of_descriptors(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            rustix::io::Errno::from_io_error(e),
            Some(rustix::io::Errno::MFILE | rustix::io::Errno::NFILE)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stock_limit_of_1024_lowers_the_default_connection_cap() {
        let p = plan(Some(1024), 1024, None, 0);
        // 960 descriptors: a quarter to topics (120 topics), the rest to 360 connections.
        assert_eq!(p.max_topics, 120);
        assert_eq!(p.max_connections, 360);
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("lowered to 360"), "{:?}", p.warnings);
        let used = RESERVED_FDS + 120 * FDS_PER_TOPIC + 360 * FDS_PER_CONNECTION;
        assert!(used <= 1024);
    }

    #[test]
    fn a_raised_limit_keeps_the_requested_caps() {
        let p = plan(Some(1 << 20), 1024, None, 0);
        assert_eq!(p, Plan { max_connections: 1024, max_topics: DEFAULT_MAX_TOPICS, warnings: vec![] });
        assert_eq!(plan(Some(1 << 20), 1024, Some(7), 0).max_topics, 7);
    }

    #[test]
    fn topics_already_open_are_counted_against_the_connections() {
        let without = plan(Some(1024), 10_000, Some(10), 0).max_connections;
        let with = plan(Some(1024), 10_000, Some(10), 100).max_connections;
        assert_eq!(without - with, 90);
    }

    #[test]
    fn an_explicit_topic_cap_that_does_not_fit_is_lowered() {
        let p = plan(Some(1024), 10, Some(100_000), 0);
        assert_eq!(p.max_topics, 120);
        assert!(p.warnings[0].contains("--max-topics"), "{:?}", p.warnings);
    }
}
