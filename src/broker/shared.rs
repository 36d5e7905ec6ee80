//! What both listeners' connection handlers share, and the serving steps they have in common:
//! the topic registry handle with the configuration and the connection count ([`Shared`]),
//! the fetch byte budget, and the long-poll wait on topics' append signals.
//!
//! The accept loops ([`super`]) build one [`Shared`] and hand it to every handler, synclog
//! ([`super::handler`]) or Kafka ([`super::kafka`]); the handlers import this module and
//! nothing above it.

use super::config::BrokerConfig;
use crate::storage::{Topic, Topics};
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
    /// The Kafka listener's bound address (the real port when 0 was asked for), which its
    /// Metadata responses advertise; `None` without a Kafka listener.
    pub(crate) kafka_addr: Option<SocketAddr>,
    /// Set once by `shutdown`; checked by the accept loop and by long polls.
    pub(crate) stopping: AtomicBool,
    /// Open connections, for `max_connections`. Incremented by the accept loop, decremented by
    /// the handler thread's guard (even when it panics).
    pub(crate) connections: AtomicUsize,
    /// A clone of every open socket, so `shutdown` can wake blocked handlers.
    pub(super) sockets: Mutex<HashMap<u64, TcpStream>>,
    pub(super) next_id: AtomicU64,
}

/// The longest long poll the broker grants, whatever `max_wait_ms` asks.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// How much of a frame a Fetch response may fill, leaving room for headers: half the frame
/// limit, so that one maximum-size record beyond `max_bytes` still fits.
pub(crate) fn fetch_byte_budget(max_frame_bytes: u32) -> u32 {
    max_frame_bytes / 2
}

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
