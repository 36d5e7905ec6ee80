//! The broker: a TCP server that stores each topic in a `Log<S>`.
//!
//! Blocking `std::net`, one thread per connection, as the original system did: a strategy's
//! lock is held across a `pwrite`, and an async runtime would only add scheduler noise to what
//! the harness measures. The strategy is chosen once, at start-up (`Broker<S>` is generic), and
//! every connection's handler (see [`handler`]) shares one [`Topics`] registry.
//!
//! Limits (docs/protocol.md): at most `max_connections` connections at once (the next one
//! is answered TooManyConnections with correlation id 0 and closed; the cap is lowered at
//! start when the open-file limit cannot hold it, see [`limits`]); at most `max_topics`
//! topics (a Produce that would create one more is answered TooManyTopics); every frame's length is
//! checked against `max_frame_bytes` before anything is allocated; each frame must arrive
//! within `frame_timeout` of its first byte; a connection idle for `idle_timeout` is closed.
//!
//! Memory per connection, bounded: its thread's stack (256 KiB reserved), a read buffer that
//! grows only as a frame's bytes arrive, to at most `max_frame_bytes + 4`; replies waiting to
//! be flushed (64 KiB before a flush is forced, or one Fetch reply of at most
//! [`BrokerConfig::fetch_budget`] plus one record of at most `max_message_bytes`); and the
//! request being served (its messages decoded and encoded for the log: about one more frame,
//! plus bookkeeping for at most 65 536 messages; docs/protocol.md "Limits and timeouts").
//!
//! A panic in one connection's thread is caught and logged; it never takes the broker down.
//!
//! A second listener (`kafka_listen`, `--kafka-listen`) speaks the Kafka wire protocol on the
//! same registry (see [`kafka`], built on [`crate::kafka`]): its accept loop is this one, with
//! the Kafka handler in place of [`handler`], and its connections count towards the same `max_connections`
//! (one over the limit is closed without an answer: Kafka has no way to say why).
//!
//! Layers, each importing only those below it: this module (configuration, accept loops,
//! shutdown) → the two handlers, [`handler`] and [`kafka`] → `shared` (the registry handle,
//! the fetch byte budget, the long-poll wait both handlers use) → storage and the codecs.
//!
//! Shutdown: [`BrokerHandle::shutdown`] stops accepting, shuts down every open socket (each
//! handler's blocked read returns), joins the handlers and drops the registry, which syncs
//! every log (unless `--fsync never`) and closes its files.

mod config;
pub mod groups;
pub mod handler;
pub mod idempotence;
pub mod kafka;
mod kafka_groups;
pub mod limits;
mod log_limit;
pub mod producer_file;
mod shared;

pub use config::{BrokerConfig, DEFAULT_MAX_FETCH_BYTES};
use groups::Groups;
use idempotence::Producers;
use log_limit::RateLimited;
use shared::Shared;
pub use shared::MAX_WAIT;

use crate::protocol::connection::BufferBudget;
use crate::protocol::{encode_error_response, ErrorCode, LENGTH_PREFIX_BYTES};
use crate::storage::{LogError, Topics};
use crate::strategies::SyncStrategy;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Why a broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The data dir could not be opened or recovered.
    #[error("cannot open the data dir")]
    Storage(#[from] LogError),
    /// The consumer groups' committed offsets could not be read.
    #[error("cannot read the consumer groups' committed offsets in {dir}")]
    Groups {
        dir: std::path::PathBuf,
        #[source]
        source: io::Error,
    },
    /// The open-file limit leaves no descriptor for a single connection once the data dir's
    /// topics are open.
    #[error(
        "the open-file limit ({limit}, ulimit -n) leaves no room for a single connection: the data \
         dir's {topics} topics hold two files each and {reserved} are kept in reserve, and a \
         connection takes two; raise the limit (ulimit -n) or serve fewer topics from this data dir"
    )]
    FdLimit { limit: u64, topics: usize, reserved: u64 },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
}

/// A broker bound to its address, not yet serving.
pub struct Broker<S: SyncStrategy> {
    listener: TcpListener,
    /// The Kafka listener, when `kafka_listen` was given.
    kafka_listener: Option<TcpListener>,
    shared: Arc<Shared<S>>,
}

/// Which protocol an accept loop's connections speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Synclog,
    Kafka,
}

impl<S: SyncStrategy> Broker<S> {
    /// Opens (and recovers) the data dir and binds the listen address.
    pub fn bind(config: BrokerConfig) -> Result<Broker<S>, BrokerError> {
        let (topics, recoveries) = Topics::<S>::open(&config.data_dir, config.log())?;
        for (name, r) in recoveries.iter().filter(|(_, r)| r.repaired()) {
            eprintln!(
                "synclog: recovered topic {name}: cut {} bytes from the first torn or corrupt record on, dropped {} and rebuilt {} index entries; next offset {}",
                r.truncated_bytes, r.index_entries_dropped, r.index_entries_added, r.next_offset
            );
        }
        for (name, r) in recoveries.iter().filter(|(_, r)| r.records_out_of_order > 0) {
            eprintln!(
                "synclog: topic {name} holds records out of offset order after its last index entry ({} breaks in the run of offsets; left in place, run `synclog verify`); next offset {}, past the highest",
                r.records_out_of_order, r.next_offset
            );
        }
        for (name, r) in recoveries.iter().filter(|(_, r)| r.zero_tail_bytes > 0) {
            eprintln!(
                "synclog: topic {name} was not closed cleanly: cut {} bytes of preallocated zeros",
                r.zero_tail_bytes
            );
        }
        let listener = TcpListener::bind(config.listen)
            .map_err(|source| BrokerError::Bind { addr: config.listen, source })?;
        let kafka_listener = config
            .kafka_listen
            .map(|addr| TcpListener::bind(addr).map_err(|source| BrokerError::Bind { addr, source }))
            .transpose()?;
        let kafka_addr = match &kafka_listener {
            Some(l) => Some(l.local_addr().map_err(|source| BrokerError::Bind {
                addr: config.kafka_listen.unwrap_or(config.listen),
                source,
            })?),
            None => None,
        };
        let existing = topics.list().len();
        let fd_limit = limits::fd_limit();
        let plan = limits::plan(fd_limit, config.max_connections, config.max_topics, existing);
        if plan.max_connections == 0 {
            // A broker that refuses every client is of no use: stop before listening.
            let limit = fd_limit.unwrap_or(0);
            return Err(BrokerError::FdLimit { limit, topics: existing, reserved: limits::RESERVED_FDS });
        }
        for warning in &plan.warnings {
            eprintln!("synclog: warning: {warning}");
        }
        let groups = Groups::open(&config.data_dir, config.offsets_retention).map_err(|source| {
            BrokerError::Groups { dir: config.data_dir.join(groups::GROUPS_DIR), source }
        })?;
        let names: Vec<String> = topics.list().into_iter().map(|(name, _)| name).collect();
        let stored =
            |topic: &str, entry: &_| topics.get(topic).is_some_and(|t| idempotence::stored(&t.log, entry));
        let (producers, warnings) = Producers::open(&config.data_dir, config.log().fsync, &names, stored);
        for warning in &warnings {
            eprintln!("synclog: warning: idempotent producers: {warning}");
        }
        // Never less than one whole frame, so a frame the limit allows can always be read.
        let one_frame = (config.max_frame_bytes as usize).saturating_add(LENGTH_PREFIX_BYTES);
        let buffers = Arc::new(BufferBudget::new(config.max_buffered_bytes.max(one_frame)));
        let shared = Arc::new(Shared {
            topics,
            groups,
            producers,
            config,
            kafka_addr,
            stopping: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            max_connections: plan.max_connections,
            topic_count: AtomicUsize::new(existing),
            max_topics: plan.max_topics,
            creating: Mutex::new(()),
            buffers,
            sockets: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        Ok(Broker { listener, kafka_listener, shared })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The Kafka listener's address, if there is one (the real port when 0 was asked for).
    pub fn kafka_addr(&self) -> Option<SocketAddr> {
        self.shared.kafka_addr
    }

    /// The topic registry (the harness's in-process transport and tests read it directly).
    pub fn topics(&self) -> &Arc<Topics<S>> {
        &self.shared.topics
    }

    /// Serves on a background thread; the handle stops it.
    pub fn spawn(self) -> io::Result<BrokerHandle> {
        let addr = self.local_addr()?;
        let kafka_addr = self.kafka_addr();
        let shared: Arc<dyn Stoppable> = self.shared.clone();
        let thread = thread::Builder::new().name("synclog-accept".into()).spawn(move || self.serve())?;
        Ok(BrokerHandle { addr, kafka_addr, shared, thread: Some(thread) })
    }

    /// The accept loops (the Kafka one on a thread of its own): one handler thread per
    /// connection, until shutdown.
    pub fn serve(self) {
        let kafka = self.kafka_listener.and_then(|listener| {
            let shared = self.shared.clone();
            let spawned = thread::Builder::new()
                .name("synclog-kafka-accept".into())
                .spawn(move || accept_loop(&shared, &listener, Protocol::Kafka));
            match spawned {
                Ok(t) => Some(t),
                Err(e) => {
                    eprintln!("synclog: cannot start the Kafka listener's thread: {e}");
                    None
                }
            }
        });
        accept_loop(&self.shared, &self.listener, Protocol::Synclog);
        if let Some(t) = kafka {
            let _ = t.join();
        }
    }
}

/// One listener's accept loop: one handler thread per connection, until shutdown; then wakes
/// the handlers of every protocol and waits for its own.
fn accept_loop<S: SyncStrategy>(shared: &Arc<Shared<S>>, listener: &TcpListener, protocol: Protocol) {
    let mut handlers: Vec<JoinHandle<()>> = Vec::new();
    let mut reserve = limits::Reserve::new();
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::Acquire) {
            break;
        }
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) if limits::out_of_descriptors(&e) => {
                // Out of descriptors: free the reserve, take the waiting client and tell it.
                let refused =
                    reserve.released(|| listener.accept().map(|(s, _)| refuse(s, protocol, shared)));
                if refused.is_err() {
                    eprintln!("synclog: accept failed: {e}");
                    thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            Err(e) => {
                // A reset before accept, and the like: keep serving.
                eprintln!("synclog: accept failed: {e}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        handlers.retain(|h| !h.is_finished());
        if !shared.try_admit() {
            refuse(stream, protocol, shared);
            continue;
        }
        if let Some(h) = start_handler(shared, stream, protocol) {
            handlers.push(h);
        }
    }
    // Stopping: wake every handler blocked on its socket, then wait for ours.
    for socket in shared.sockets.lock().values() {
        let _ = socket.shutdown(std::net::Shutdown::Both);
    }
    for h in handlers {
        let _ = h.join();
    }
}

/// Refuses a connection at the cap (or out of descriptors): synclog clients get
/// TooManyConnections with correlation id 0; Kafka clients, whose protocol has no message
/// for it, a close (what a Kafka broker over `max.connections` does). Then closes.
fn refuse<S: SyncStrategy>(stream: TcpStream, protocol: Protocol, shared: &Shared<S>) {
    match protocol {
        Protocol::Synclog => {
            static REFUSED: RateLimited = RateLimited::new();
            REFUSED.log(|| {
                format!(
                    "synclog: a connection beyond --max-connections {} was answered TooManyConnections and closed",
                    shared.max_connections
                )
            });
            refuse_synclog(stream, shared.max_connections);
        }
        Protocol::Kafka => {
            static REFUSED: RateLimited = RateLimited::new();
            REFUSED.log(|| {
                format!(
                    "synclog: a Kafka connection beyond --max-connections {} was closed",
                    shared.max_connections
                )
            });
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn start_handler<S: SyncStrategy>(
    shared: &Arc<Shared<S>>,
    stream: TcpStream,
    protocol: Protocol,
) -> Option<JoinHandle<()>> {
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    match stream.try_clone() {
        Ok(clone) => {
            shared.sockets.lock().insert(id, clone);
        }
        Err(e) => {
            eprintln!("synclog: cannot track a connection: {e}");
            shared.release_connection();
            refuse(stream, protocol, shared);
            return None;
        }
    }
    let thread_shared = shared.clone();
    let name = match protocol {
        Protocol::Synclog => format!("synclog-conn-{id}"),
        Protocol::Kafka => format!("synclog-kafka-{id}"),
    };
    let spawned = thread::Builder::new().name(name).stack_size(256 * 1024).spawn(move || {
        let shared = thread_shared;
        // Whatever happens in the handler, the connection is counted out and forgotten.
        let _guard = ConnectionGuard { shared: &shared, id };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match protocol {
            Protocol::Synclog => handler::handle_connection(&shared, stream),
            Protocol::Kafka => kafka::handle_connection(&shared, stream),
        }));
        if outcome.is_err() {
            eprintln!("synclog: connection {id}: the handler panicked; the connection was closed");
        }
    });
    match spawned {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!("synclog: cannot start a connection thread: {e}");
            shared.release_connection();
            shared.sockets.lock().remove(&id);
            None
        }
    }
}

/// Counts a connection out when its handler ends, normally or by panic.
struct ConnectionGuard<'a, S: SyncStrategy> {
    shared: &'a Shared<S>,
    id: u64,
}

impl<S: SyncStrategy> Drop for ConnectionGuard<'_, S> {
    fn drop(&mut self) {
        self.shared.sockets.lock().remove(&self.id);
        self.shared.release_connection();
    }
}

/// Answers a connection over the limit with TooManyConnections (correlation id 0), then closes.
fn refuse_synclog(mut stream: TcpStream, max: usize) {
    let mut out = Vec::new();
    let connections = if max == 1 { "connection" } else { "connections" };
    let message = format!("the broker already serves its maximum of {max} {connections}; try again later");
    encode_error_response(0, ErrorCode::TooManyConnections, &message, &mut out);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(&out);
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Lets a handle stop a broker without knowing its strategy.
trait Stoppable: Send + Sync {
    fn stop(&self, addrs: &[SocketAddr]);
}

impl<S: SyncStrategy> Stoppable for Shared<S> {
    fn stop(&self, addrs: &[SocketAddr]) {
        if self.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        // Each accept loop is blocked in accept(): a connection of our own wakes it.
        for addr in addrs {
            let _ = TcpStream::connect_timeout(addr, Duration::from_secs(1));
        }
    }
}

/// A running broker.
pub struct BrokerHandle {
    addr: SocketAddr,
    kafka_addr: Option<SocketAddr>,
    shared: Arc<dyn Stoppable>,
    thread: Option<JoinHandle<()>>,
}

impl BrokerHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Kafka listener's address, if there is one.
    pub fn kafka_addr(&self) -> Option<SocketAddr> {
        self.kafka_addr
    }

    /// Stops accepting, closes every connection, waits for the handlers, and closes the logs.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        let addrs: Vec<SocketAddr> = std::iter::once(self.addr).chain(self.kafka_addr).collect();
        self.shared.stop(&addrs);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
