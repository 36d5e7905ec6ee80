//! What both listeners' connection handlers share, and the serving steps they have in common:
//! the topic registry handle with the configuration and the counters that enforce the
//! connection and topic caps ([`Shared`]), and the long-poll wait on topics' append signals.
//! (The fetch byte budget is [`BrokerConfig::fetch_budget`].)
//!
//! The accept loops ([`super`]) build one [`Shared`] and hand it to every handler, synclog
//! ([`super::handler`]) or Kafka ([`super::kafka`]); the handlers import this module and
//! nothing above it.

use super::config::BrokerConfig;
use super::groups::Groups;
use super::idempotence::Producers;
use crate::storage::{validate_topic_name, LogError, Topic, Topics};
use crate::strategies::SyncStrategy;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::error::Error;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the connections share.
pub(crate) struct Shared<S: SyncStrategy> {
    pub(crate) topics: Arc<Topics<S>>,
    pub(crate) config: BrokerConfig,
    /// The Kafka listener's consumer groups and their committed offsets.
    pub(crate) groups: Groups,
    /// The Kafka listener's idempotent producers.
    pub(crate) producers: Producers,
    /// The Kafka listener's bound address (the real port when 0 was asked for), which its
    /// Metadata responses advertise; `None` without a Kafka listener.
    pub(crate) kafka_addr: Option<SocketAddr>,
    /// Set once by `shutdown`; checked by the accept loop and by long polls.
    pub(crate) stopping: AtomicBool,
    /// Open connections, for `max_connections`: reserved by the accept loop with
    /// compare-exchange ([`Shared::try_admit`]), released by the handler thread's guard (even
    /// when it panics).
    pub(crate) connections: AtomicUsize,
    /// The connection cap in force: `--max-connections`, or fewer when the descriptor limit
    /// cannot hold it (see [`super::limits`]).
    pub(crate) max_connections: usize,
    /// Open topics, for `max_topics`: reserved with compare-exchange before one is created.
    pub(crate) topic_count: AtomicUsize,
    /// The topic cap in force: `--max-topics`, or derived from the descriptor limit.
    pub(crate) max_topics: usize,
    /// Held while a missing topic is created, so that two requests creating the same topic
    /// reserve one slot, not two.
    pub(super) creating: Mutex<()>,
    /// A clone of every open socket, so `shutdown` can wake blocked handlers.
    pub(super) sockets: Mutex<HashMap<u64, TcpStream>>,
    pub(super) next_id: AtomicU64,
}

/// Why a topic could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TopicError {
    /// Creating it would pass `--max-topics`.
    #[error(
        "the broker already holds its maximum of {max} topics (--max-topics); produce to an existing topic"
    )]
    Limit { max: usize },
    /// The name, the files, or the directory failed.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl<S: SyncStrategy> Shared<S> {
    /// Reserves a connection slot if one is free (compare-exchange: two accept loops can never
    /// both take the last one). The caller releases it with [`Shared::release_connection`].
    pub(crate) fn try_admit(&self) -> bool {
        reserve(&self.connections, self.max_connections)
    }

    /// Gives back a slot [`Shared::try_admit`] reserved.
    pub(crate) fn release_connection(&self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }

    /// The topic named `name`, created when missing if a topic slot is free.
    pub(crate) fn topic_or_create(&self, name: &str) -> Result<Arc<Topic<S>>, TopicError> {
        if let Some(t) = self.topics.get(name) {
            return Ok(t);
        }
        validate_topic_name(name)?;
        let _creating = self.creating.lock();
        if let Some(t) = self.topics.get(name) {
            return Ok(t);
        }
        if !reserve(&self.topic_count, self.max_topics) {
            return Err(TopicError::Limit { max: self.max_topics });
        }
        self.topics.get_or_create(name).map_err(|e| {
            self.topic_count.fetch_sub(1, Ordering::AcqRel);
            TopicError::Log(e)
        })
    }
}

/// Takes one unit of `counter` if it is below `max`, atomically.
fn reserve(counter: &AtomicUsize, max: usize) -> bool {
    counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).is_ok()
}

/// The longest long poll the broker grants, whatever `max_wait_ms` asks.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Waits until one of the `waiting` topics' high watermark passes its offset, the deadline
/// passes, or the broker stops. Waits on the first topic's signal in slices (100 ms, or 10 ms
/// when several topics are waited for, so that an append to another is seen soon), so
/// shutdown never waits for a long poll. Holds no lock while it waits.
pub(super) fn long_poll<S: SyncStrategy>(
    shared: &Shared<S>,
    waiting: &[(&Topic<S>, u64)],
    deadline: Instant,
) {
    let Some((first, first_offset)) = waiting.first() else { return };
    let slice = Duration::from_millis(if waiting.len() == 1 { 100 } else { 10 });
    loop {
        if waiting.iter().any(|(t, offset)| t.log.high_watermark() > *offset)
            || Instant::now() >= deadline
            || shared.stopping.load(Ordering::Acquire)
        {
            return;
        }
        first.wait_for(*first_offset, (Instant::now() + slice).min(deadline));
    }
}

/// An error and its sources, joined with ": ".
pub(crate) fn chain(e: &dyn Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
