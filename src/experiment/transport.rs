//! How the load generator reaches the log: over TCP to a broker, straight to `Topic<S>`, or
//! over the Kafka protocol to any Kafka-protocol cluster.
//!
//! Producers and consumers are written once, against two small traits. A [`ProducerEndpoint`]
//! is pipelined by construction: `start` sends a request and `finish` takes the oldest answer,
//! so `--in-flight N` is just "start N before the first finish". The in-process endpoint does
//! the append inside `start` and queues the result, so the same loop drives both.

use crate::client::{Client, ClientError};
use crate::kafka::client::{prepare_topics, KafkaClient};
use crate::kafka::{code as kafka_code, KafkaError};
use crate::protocol::{ErrorCode, ResponseBody};
use crate::storage::{LogError, Topic, Topics};
use crate::strategies::SyncStrategy;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The answer to one produce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// Stored at `base_offset ..`.
    Acked(u64),
    /// Refused by the broker; the string says why (the broker's error, as the client saw it).
    Failed(String),
    /// No answer: the connection broke or timed out; the string says what happened.
    Unknown(String),
}

/// One producer's connection.
pub trait ProducerEndpoint: Send {
    /// Sends a produce request of `messages` to `topic`. `Err` means the request may not have
    /// left: the caller records it as unknown (a send is never retried).
    fn start(&mut self, topic: &str, messages: &[&[u8]]) -> Result<(), String>;
    /// The answer to the oldest request started and not yet finished.
    fn finish(&mut self) -> Completion;
}

/// What one fetch returned.
pub enum Fetch<'a> {
    /// Records (maybe none) and the high watermark sent with them.
    Records { high_watermark: u64, records: Box<dyn Iterator<Item = (u64, &'a [u8])> + 'a> },
    /// The first record at the offset fails its CRC (error 8).
    Corrupt,
    /// Past the end of the log (error 7).
    OutOfRange,
    /// Anything else; the string says what.
    Failed(String),
}

/// One consumer's connection.
pub trait ConsumerEndpoint: Send {
    /// Reads from `offset`, waiting up to `wait` when there is nothing yet.
    fn fetch(
        &mut self,
        topic: &str,
        offset: u64,
        max_messages: u32,
        max_bytes: u32,
        wait: Duration,
    ) -> Fetch<'_>;
}

/// Makes endpoints; shared by all threads of a run.
pub trait Transport: Send + Sync {
    /// A new producer connection.
    fn producer(&self) -> Result<Box<dyn ProducerEndpoint>, String>;
    /// A new consumer connection.
    fn consumer(&self) -> Result<Box<dyn ConsumerEndpoint>, String>;
}

// --- TCP ----------------------------------------------------------------------------------

/// Checks that `addr` has the form `HOST:PORT` (a name or an address, then a port from 0 to
/// 65535; an IPv6 address in brackets) without resolving it: a value of another form is bad
/// usage, while a name that does not resolve, or a broker that does not answer, is found when
/// the run connects. The error says what is wrong with it.
pub fn check_host_port(addr: &str) -> Result<(), String> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(format!("{addr:?} is not HOST:PORT (e.g. 127.0.0.1:7070): it has no port"));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!("{addr:?} is not HOST:PORT: the port {port:?} is not a number from 0 to 65535"));
    }
    let bracketed = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
    if host.is_empty() || (host.contains(':') && !bracketed) {
        return Err(format!(
            "{addr:?} is not HOST:PORT: the host {host:?} is empty or an IPv6 address without brackets ([::1]:7070)"
        ));
    }
    Ok(())
}

/// A synclog broker at `addr`.
pub struct TcpTransport {
    pub addr: SocketAddr,
    /// A connection already open (the one a remote run checked the broker with), handed to the
    /// first producer, so that the check takes no connection slot of its own.
    pub spare: std::sync::Mutex<Option<Client>>,
}

impl TcpTransport {
    /// The broker at `addr`, every endpoint on a connection of its own.
    pub fn new(addr: SocketAddr) -> TcpTransport {
        TcpTransport { addr, spare: std::sync::Mutex::new(None) }
    }
}

impl Transport for TcpTransport {
    fn producer(&self) -> Result<Box<dyn ProducerEndpoint>, String> {
        let spare = self.spare.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let client = match spare {
            Some(client) => client,
            None => Client::connect(self.addr).map_err(|e| crate::broker::handler::chain(&e))?,
        };
        Ok(Box::new(TcpProducer { client, unsent: 0 }))
    }

    fn consumer(&self) -> Result<Box<dyn ConsumerEndpoint>, String> {
        let client = Client::connect(self.addr).map_err(|e| crate::broker::handler::chain(&e))?;
        Ok(Box::new(TcpConsumer { addr: self.addr, client, records: None, retry: Retry::default() }))
    }
}

struct TcpProducer {
    client: Client,
    /// Requests started after the connection failed, so never sent: each finishes as failed
    /// (not stored), after the requests that were in flight when it failed.
    unsent: usize,
}

impl ProducerEndpoint for TcpProducer {
    fn start(&mut self, topic: &str, messages: &[&[u8]]) -> Result<(), String> {
        if self.client.failed().is_some() {
            self.unsent += 1;
            return Ok(());
        }
        // No flush here: the connection sends what is queued as soon as `finish` has to wait
        // for an answer (or the buffer fills), so a pipelining producer's requests leave in
        // bursts of many per write() instead of one system call each.
        self.client.send_produce(topic, messages.iter().copied()).map(drop).map_err(|e| e.to_string())
    }

    fn finish(&mut self) -> Completion {
        if self.client.in_flight() == 0 && self.unsent > 0 {
            self.unsent -= 1;
            let why = self.client.failed().unwrap_or("the connection failed");
            return Completion::Failed(format!("not sent: the connection had failed ({why})"));
        }
        match self.client.receive() {
            Ok((_, ResponseBody::Produced { base_offset, .. })) => Completion::Acked(base_offset),
            Ok(_) => Completion::Failed("a produce request got an answer of another kind".into()),
            Err(e @ ClientError::Broker { .. }) => Completion::Failed(crate::broker::handler::chain(&e)),
            Err(e) => Completion::Unknown(crate::broker::handler::chain(&e)),
        }
    }
}

struct TcpConsumer {
    addr: SocketAddr,
    /// Replaced by a new connection when it has failed (a consumer's fetch can be repeated),
    /// no sooner than `retry` allows.
    client: Client,
    retry: Retry,
    records: Option<crate::protocol::RecordSet>,
}

impl ConsumerEndpoint for TcpConsumer {
    fn fetch(
        &mut self,
        topic: &str,
        offset: u64,
        max_messages: u32,
        max_bytes: u32,
        wait: Duration,
    ) -> Fetch<'_> {
        if let Some(why) = self.client.failed() {
            if !self.retry.due() {
                return Fetch::Failed(format!("{why}; not reconnected yet"));
            }
            match Client::connect(self.addr) {
                Ok(client) => self.client = client,
                Err(e) => {
                    return Fetch::Failed(format!(
                        "{why}; reconnecting: {}",
                        crate::broker::handler::chain(&e)
                    ))
                }
            }
        }
        match self.client.fetch(topic, offset, max_messages, max_bytes, wait) {
            Ok(f) => {
                let records = self.records.insert(f.records);
                Fetch::Records { high_watermark: f.high_watermark, records: Box::new(records.iter()) }
            }
            Err(e) => match e.code() {
                Some(ErrorCode::CorruptLog) => Fetch::Corrupt,
                Some(ErrorCode::OffsetOutOfRange) => Fetch::OutOfRange,
                _ => Fetch::Failed(crate::broker::handler::chain(&e)),
            },
        }
    }
}

/// When a consumer whose connection failed may connect again: 50 ms after the first failure,
/// the wait doubling with each new connection up to 1 s, so a broker that refuses or is gone
/// is not asked a thousand times a second.
struct Retry {
    next: Option<std::time::Instant>,
    wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { next: None, wait: Duration::from_millis(50) }
    }
}

impl Retry {
    /// Whether a new connection may be tried now; if so, the next one waits longer.
    fn due(&mut self) -> bool {
        self.due_at(std::time::Instant::now())
    }

    /// [`Retry::due`], at `now`.
    fn due_at(&mut self, now: std::time::Instant) -> bool {
        match self.next {
            None => {
                self.next = Some(now + self.wait);
                false
            }
            Some(at) if now >= at => {
                self.wait = (self.wait * 2).min(Duration::from_secs(1));
                self.next = Some(now + self.wait);
                true
            }
            Some(_) => false,
        }
    }
}

// --- in-process -------------------------------------------------------------------------

/// The same workload straight on `Topic<S>`: no sockets, no codec.
pub struct InprocTransport<S: SyncStrategy> {
    pub topics: Arc<Topics<S>>,
}

impl<S: SyncStrategy> Transport for InprocTransport<S> {
    fn producer(&self) -> Result<Box<dyn ProducerEndpoint>, String> {
        Ok(Box::new(InprocProducer { topics: self.topics.clone(), cached: None, answers: VecDeque::new() }))
    }

    fn consumer(&self) -> Result<Box<dyn ConsumerEndpoint>, String> {
        Ok(Box::new(InprocConsumer { topics: self.topics.clone(), batch: None }))
    }
}

struct InprocProducer<S: SyncStrategy> {
    topics: Arc<Topics<S>>,
    /// The topic last written, so the registry's lock is not taken per append.
    cached: Option<Arc<Topic<S>>>,
    answers: VecDeque<Completion>,
}

impl<S: SyncStrategy> ProducerEndpoint for InprocProducer<S> {
    fn start(&mut self, topic: &str, messages: &[&[u8]]) -> Result<(), String> {
        // Taken out and put back, not cloned: a clone per request would count references on a
        // line every producer shares.
        let t = match self.cached.take() {
            Some(t) if t.name == topic => t,
            _ => self.topics.get_or_create(topic).map_err(|e| e.to_string())?,
        };
        let answer = match t.append_batch(messages) {
            Ok(base) => Completion::Acked(base),
            Err(e @ LogError::Io { .. }) => Completion::Unknown(e.to_string()),
            Err(e) => Completion::Failed(e.to_string()),
        };
        self.cached = Some(t);
        self.answers.push_back(answer);
        Ok(())
    }

    fn finish(&mut self) -> Completion {
        self.answers.pop_front().unwrap_or_else(|| Completion::Unknown("no request outstanding".into()))
    }
}

struct InprocConsumer<S: SyncStrategy> {
    topics: Arc<Topics<S>>,
    batch: Option<crate::storage::ReadBatch>,
}

impl<S: SyncStrategy> ConsumerEndpoint for InprocConsumer<S> {
    fn fetch(
        &mut self,
        topic: &str,
        offset: u64,
        max_messages: u32,
        max_bytes: u32,
        wait: Duration,
    ) -> Fetch<'_> {
        let Some(t) = self.topics.get(topic) else {
            return Fetch::Failed(format!("unknown topic {topic}"));
        };
        let mut result = t.log.read(offset, max_messages, max_bytes);
        if matches!(&result, Ok(b) if b.is_empty()) && !wait.is_zero() {
            t.wait_for(offset, Instant::now() + wait);
            result = t.log.read(offset, max_messages, max_bytes);
        }
        match result {
            Ok(b) => {
                let b = self.batch.insert(b);
                Fetch::Records { high_watermark: b.high_watermark, records: Box::new(b.iter()) }
            }
            Err(LogError::Corrupt { .. } | LogError::Missing { .. }) => Fetch::Corrupt,
            Err(LogError::OffsetOutOfRange { .. }) => Fetch::OutOfRange,
            Err(e) => Fetch::Failed(e.to_string()),
        }
    }
}

// --- Kafka ------------------------------------------------------------------------------

/// A Kafka-protocol cluster (`--target kafka://HOST:PORT`): synclog's own Kafka listener, or a
/// real Kafka or Redpanda.
///
/// Producers send Produce v3 with `acks = -1` and one RecordBatch per request; consumers send
/// Fetch v4. Each request goes to the leader of the topic's partition 0, found by
/// [`KafkaTransport::prepare`] before the load starts (which also creates the topics where
/// the cluster auto-creates them). Kafka has no CorruptLog: CORRUPT_MESSAGE becomes
/// [`Fetch::Corrupt`] and OFFSET_OUT_OF_RANGE [`Fetch::OutOfRange`].
pub struct KafkaTransport {
    /// Each topic's partition 0 leader, `HOST:PORT`.
    leaders: Arc<HashMap<String, String>>,
}

impl KafkaTransport {
    /// Asks the bootstrap broker for each topic (creating it where the cluster allows) and
    /// finds its leader, waiting up to ten seconds for a new topic to get one.
    pub fn prepare(bootstrap: &str, topics: &[String]) -> Result<KafkaTransport, KafkaError> {
        let leaders = prepare_topics(bootstrap, topics, Duration::from_secs(10))?;
        Ok(KafkaTransport { leaders: Arc::new(leaders) })
    }

    /// Connects to every leader once, so no connection is opened while the clock runs.
    fn connections(&self) -> Result<HashMap<String, KafkaClient>, String> {
        let mut connections = HashMap::new();
        for addr in self.leaders.values() {
            if !connections.contains_key(addr) {
                let client = KafkaClient::connect(addr).map_err(|e| crate::broker::handler::chain(&e))?;
                connections.insert(addr.clone(), client);
            }
        }
        Ok(connections)
    }
}

impl Transport for KafkaTransport {
    fn producer(&self) -> Result<Box<dyn ProducerEndpoint>, String> {
        let connections = self.connections()?;
        Ok(Box::new(KafkaProducer { leaders: self.leaders.clone(), connections, pending: VecDeque::new() }))
    }

    fn consumer(&self) -> Result<Box<dyn ConsumerEndpoint>, String> {
        let connections = self.connections()?;
        Ok(Box::new(KafkaConsumer { leaders: self.leaders.clone(), connections, records: Vec::new() }))
    }
}

/// The connection to `topic`'s leader (opened now if it was not yet).
fn leader_connection<'a>(
    leaders: &HashMap<String, String>,
    connections: &'a mut HashMap<String, KafkaClient>,
    topic: &str,
) -> Result<(&'a mut KafkaClient, String), String> {
    let addr = leaders.get(topic).ok_or_else(|| format!("topic {topic} was not prepared"))?;
    if !connections.contains_key(addr) {
        let client = KafkaClient::connect(addr).map_err(|e| crate::broker::handler::chain(&e))?;
        connections.insert(addr.clone(), client);
    }
    let client = connections.get_mut(addr).ok_or_else(|| format!("no connection to {addr}"))?;
    Ok((client, addr.clone()))
}

struct KafkaProducer {
    leaders: Arc<HashMap<String, String>>,
    connections: HashMap<String, KafkaClient>,
    /// The leader each outstanding request went to, oldest first; `Err(why)` for one never
    /// sent, its leader's connection having failed before.
    pending: VecDeque<Result<String, String>>,
}

impl ProducerEndpoint for KafkaProducer {
    fn start(&mut self, topic: &str, messages: &[&[u8]]) -> Result<(), String> {
        let (client, addr) = leader_connection(&self.leaders, &mut self.connections, topic)?;
        if let Some(why) = client.failed() {
            self.pending.push_back(Err(format!("not sent: the connection had failed ({why})")));
            return Ok(());
        }
        client.send_produce(topic, messages, -1).map_err(|e| crate::broker::handler::chain(&e))?;
        client.flush().map_err(|e| crate::broker::handler::chain(&e))?;
        self.pending.push_back(Ok(addr));
        Ok(())
    }

    fn finish(&mut self) -> Completion {
        let addr = match self.pending.pop_front() {
            Some(Ok(addr)) => addr,
            Some(Err(not_sent)) => return Completion::Failed(not_sent),
            None => return Completion::Unknown("no request outstanding".into()),
        };
        let Some(client) = self.connections.get_mut(&addr) else {
            return Completion::Unknown("no request outstanding".into());
        };
        match client.receive_produce() {
            Ok(base_offset) => u64::try_from(base_offset).map_or_else(
                |_| Completion::Unknown(format!("a negative base offset {base_offset}")),
                Completion::Acked,
            ),
            // These may have been written (a replica timed out after the leader appended; the
            // storage failed mid-write): the history must not call them refused.
            Err(
                e @ KafkaError::Broker {
                    code:
                        kafka_code::UNKNOWN_SERVER_ERROR
                        | kafka_code::KAFKA_STORAGE_ERROR
                        | REQUEST_TIMED_OUT
                        | NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                    ..
                },
            ) => Completion::Unknown(crate::broker::handler::chain(&e)),
            Err(e @ KafkaError::Broker { .. }) => Completion::Failed(crate::broker::handler::chain(&e)),
            Err(e) => Completion::Unknown(crate::broker::handler::chain(&e)),
        }
    }
}

/// Kafka's REQUEST_TIMED_OUT: the leader appended, some replica did not acknowledge in time.
const REQUEST_TIMED_OUT: i16 = 7;
/// Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND: written to the leader, then the ISR shrank.
const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;

struct KafkaConsumer {
    leaders: Arc<HashMap<String, String>>,
    connections: HashMap<String, KafkaClient>,
    /// The records of the last fetch, lent out by `fetch`.
    records: Vec<(u64, bytes::Bytes)>,
}

impl ConsumerEndpoint for KafkaConsumer {
    fn fetch(
        &mut self,
        topic: &str,
        offset: u64,
        max_messages: u32,
        max_bytes: u32,
        wait: Duration,
    ) -> Fetch<'_> {
        let client = match leader_connection(&self.leaders, &mut self.connections, topic) {
            Ok((client, _)) => client,
            Err(why) => return Fetch::Failed(why),
        };
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        match client.fetch(topic, offset, max_bytes, wait) {
            Ok(fetched) => {
                self.records.clear();
                // Kafka has no max_messages: the rest is fetched again next time.
                let kept = fetched.records.into_iter().take(max_messages as usize);
                self.records.extend(kept.map(|(o, value)| (o as u64, value)));
                Fetch::Records {
                    high_watermark: u64::try_from(fetched.high_watermark).unwrap_or(0),
                    records: Box::new(self.records.iter().map(|(o, value)| (*o, value.as_ref()))),
                }
            }
            Err(e) => match e.code() {
                Some(kafka_code::CORRUPT_MESSAGE) => Fetch::Corrupt,
                Some(kafka_code::OFFSET_OUT_OF_RANGE) => Fetch::OutOfRange,
                _ => Fetch::Failed(crate::broker::handler::chain(&e)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_consumer_reconnects_no_sooner_than_its_growing_wait() {
        let ms = Duration::from_millis;
        let t0 = std::time::Instant::now();
        let mut retry = Retry::default();
        assert!(!retry.due_at(t0), "not at the first failure");
        assert!(!retry.due_at(t0 + ms(49)), "nor within 50 ms of it");
        assert!(retry.due_at(t0 + ms(50)), "50 ms on");
        assert!(!retry.due_at(t0 + ms(149)), "then the wait starts again");
        assert_eq!(retry.wait, ms(100), "doubled");
        assert!(retry.due_at(t0 + ms(150)), "100 ms after the last try");
        let mut now = t0 + ms(150);
        for _ in 0..10 {
            now += retry.wait;
            assert!(retry.due_at(now));
        }
        assert_eq!(retry.wait, Duration::from_secs(1), "up to 1 s");
        assert!(!retry.due_at(now + ms(999)) && retry.due_at(now + ms(1000)), "and stays there");
    }
}
