//! The broker: a TCP server that stores each topic in a `Log<S>`.
//!
//! Blocking `std::net`, one thread per connection, as the original system did: a strategy's
//! lock is held across a `pwrite`, and an async runtime would only add scheduler noise to what
//! the harness measures. The strategy is chosen once, at start-up (`Broker<S>` is generic), and
//! every connection's handler (see [`handler`]) shares one [`Topics`] registry.
//!
//! Limits (DESIGN.md "Protocol"): at most `max_connections` connections at once (the next one
//! is answered TooManyConnections with correlation id 0 and closed); every frame's length is
//! checked against `max_frame_bytes` before anything is allocated; each frame must arrive
//! within `frame_timeout` of its first byte; a connection idle for `idle_timeout` is closed.
//! A panic in one connection's thread is caught and logged; it never takes the broker down.
//!
//! Shutdown: [`BrokerHandle::shutdown`] stops accepting, shuts down every open socket (each
//! handler's blocked read returns), joins the handlers and drops the registry, which syncs
//! every log (unless `--fsync never`) and closes its files.

pub mod handler;

use crate::protocol::connection::ConnectionConfig;
use crate::protocol::{encode_error_response, ErrorCode, DEFAULT_MAX_FRAME_BYTES};
use crate::storage::{FsyncPolicy, LogConfig, LogError, RaceWindow, Topics, DEFAULT_MAX_MESSAGE_BYTES};
use crate::strategies::SyncStrategy;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Everything a broker is started with; the defaults are DESIGN.md's.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Where to listen (`--listen`); port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where topics live (`--data-dir`).
    pub data_dir: PathBuf,
    /// `--fsync` and `--fsync-interval-ms`.
    pub fsync: FsyncPolicy,
    /// `--race-window-us` (or a forced interleaving in tests).
    pub race_window: RaceWindow,
    /// `--max-frame-bytes`.
    pub max_frame_bytes: u32,
    /// `--max-message-bytes`.
    pub max_message_bytes: u32,
    /// `--max-connections`.
    pub max_connections: usize,
    /// `--frame-timeout-ms`.
    pub frame_timeout: Duration,
    /// `--idle-timeout-ms`.
    pub idle_timeout: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            data_dir: PathBuf::from("./synclog-data"),
            fsync: FsyncPolicy::Never,
            race_window: RaceWindow::Off,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_connections: 1024,
            frame_timeout: Duration::from_millis(10_000),
            idle_timeout: Duration::from_millis(600_000),
        }
    }
}

impl BrokerConfig {
    /// The per-connection limits derived from this configuration.
    pub fn connection(&self) -> ConnectionConfig {
        ConnectionConfig {
            max_frame_bytes: self.max_frame_bytes,
            idle_timeout: Some(self.idle_timeout),
            frame_timeout: Some(self.frame_timeout),
            write_timeout: Some(self.frame_timeout.max(Duration::from_secs(1))),
        }
    }

    /// The configuration every log is opened with.
    pub fn log(&self) -> LogConfig {
        LogConfig {
            fsync: self.fsync,
            max_message_bytes: self.max_message_bytes,
            race_window: self.race_window.clone(),
            sync_hook: None,
        }
    }
}

/// Why a broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The data dir could not be opened or recovered.
    #[error("cannot open the data dir")]
    Storage(#[from] LogError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
}

/// What the connections share.
pub(crate) struct Shared<S: SyncStrategy> {
    pub(crate) topics: Arc<Topics<S>>,
    pub(crate) config: BrokerConfig,
    /// Set once by `shutdown`; checked by the accept loop and by long polls.
    pub(crate) stopping: AtomicBool,
    /// Open connections, for `max_connections`. Incremented by the accept loop, decremented by
    /// the handler thread's guard (even when it panics).
    pub(crate) connections: AtomicUsize,
    /// A clone of every open socket, so `shutdown` can wake blocked handlers.
    sockets: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

/// A broker bound to its address, not yet serving.
pub struct Broker<S: SyncStrategy> {
    listener: TcpListener,
    shared: Arc<Shared<S>>,
}

impl<S: SyncStrategy> Broker<S> {
    /// Opens (and recovers) the data dir and binds the listen address.
    pub fn bind(config: BrokerConfig) -> Result<Broker<S>, BrokerError> {
        let (topics, recoveries) = Topics::<S>::open(&config.data_dir, config.log())?;
        for (name, r) in recoveries.iter().filter(|(_, r)| r.repaired()) {
            eprintln!(
                "synclog: recovered topic {name}: cut {} torn bytes, dropped {} and rebuilt {} index entries; next offset {}",
                r.truncated_bytes, r.index_entries_dropped, r.index_entries_added, r.next_offset
            );
        }
        let listener = TcpListener::bind(config.listen)
            .map_err(|source| BrokerError::Bind { addr: config.listen, source })?;
        let shared = Arc::new(Shared {
            topics,
            config,
            stopping: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            sockets: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        Ok(Broker { listener, shared })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The topic registry (the harness's in-process transport and tests read it directly).
    pub fn topics(&self) -> &Arc<Topics<S>> {
        &self.shared.topics
    }

    /// Serves on a background thread; the handle stops it.
    pub fn spawn(self) -> io::Result<BrokerHandle> {
        let addr = self.local_addr()?;
        let shared: Arc<dyn Stoppable> = self.shared.clone();
        let thread = thread::Builder::new().name("synclog-accept".into()).spawn(move || self.serve())?;
        Ok(BrokerHandle { addr, shared, thread: Some(thread) })
    }

    /// The accept loop: one handler thread per connection, until shutdown.
    pub fn serve(self) {
        let mut handlers: Vec<JoinHandle<()>> = Vec::new();
        for stream in self.listener.incoming() {
            if self.shared.stopping.load(Ordering::Acquire) {
                break;
            }
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    // Running out of file descriptors, a reset before accept: keep serving.
                    eprintln!("synclog: accept failed: {e}");
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            handlers.retain(|h| !h.is_finished());
            if self.shared.connections.load(Ordering::Acquire) >= self.shared.config.max_connections {
                refuse(stream, self.shared.config.max_connections);
                continue;
            }
            if let Some(h) = self.start_handler(stream) {
                handlers.push(h);
            }
        }
        // Stopping: wake every handler blocked on its socket, then wait for them.
        for socket in self.shared.sockets.lock().values() {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
        for h in handlers {
            let _ = h.join();
        }
    }

    fn start_handler(&self, stream: TcpStream) -> Option<JoinHandle<()>> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        match stream.try_clone() {
            Ok(clone) => {
                self.shared.sockets.lock().insert(id, clone);
            }
            Err(e) => {
                eprintln!("synclog: cannot track a connection: {e}");
                return None;
            }
        }
        self.shared.connections.fetch_add(1, Ordering::AcqRel);
        let shared = self.shared.clone();
        let spawned = thread::Builder::new().name(format!("synclog-conn-{id}")).stack_size(256 * 1024).spawn(
            move || {
                // Whatever happens in the handler, the connection is counted out and forgotten.
                let _guard = ConnectionGuard { shared: &shared, id };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    handler::handle_connection(&shared, stream)
                }));
                if outcome.is_err() {
                    eprintln!("synclog: connection {id}: the handler panicked; the connection was closed");
                }
            },
        );
        match spawned {
            Ok(h) => Some(h),
            Err(e) => {
                eprintln!("synclog: cannot start a connection thread: {e}");
                self.shared.connections.fetch_sub(1, Ordering::AcqRel);
                self.shared.sockets.lock().remove(&id);
                None
            }
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
        self.shared.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers a connection over the limit with TooManyConnections (correlation id 0), then closes.
fn refuse(mut stream: TcpStream, max: usize) {
    let mut out = Vec::new();
    let message = format!("the broker already serves its maximum of {max} connections; try again later");
    encode_error_response(0, ErrorCode::TooManyConnections, &message, &mut out);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(&out);
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Lets a handle stop a broker without knowing its strategy.
trait Stoppable: Send + Sync {
    fn stop(&self, addr: SocketAddr);
}

impl<S: SyncStrategy> Stoppable for Shared<S> {
    fn stop(&self, addr: SocketAddr) {
        if self.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        // The accept loop is blocked in accept(): a connection of our own wakes it.
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    }
}

/// A running broker.
pub struct BrokerHandle {
    addr: SocketAddr,
    shared: Arc<dyn Stoppable>,
    thread: Option<JoinHandle<()>>,
}

impl BrokerHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every connection, waits for the handlers, and closes the logs.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.shared.stop(self.addr);
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
