//! How the load generator reaches the log: over TCP to a broker, or straight to `Topic<S>`.
//!
//! Producers and consumers are written once, against two small traits. A [`ProducerEndpoint`]
//! is pipelined by construction: `start` sends a request and `finish` takes the oldest answer,
//! so `--in-flight N` is just "start N before the first finish". The in-process endpoint does
//! the append inside `start` and queues the result, so the same loop drives both.

use crate::client::{Client, ClientError};
use crate::protocol::{ErrorCode, ResponseBody};
use crate::storage::{LogError, Topic, Topics};
use crate::strategies::SyncStrategy;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The answer to one produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Stored at `base_offset ..`.
    Acked(u64),
    /// Refused by the broker.
    Failed,
    /// No answer: the connection broke or timed out.
    Unknown,
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

/// A synclog broker at `addr`.
pub struct TcpTransport {
    pub addr: SocketAddr,
}

impl Transport for TcpTransport {
    fn producer(&self) -> Result<Box<dyn ProducerEndpoint>, String> {
        let client = Client::connect(self.addr).map_err(|e| crate::broker::handler::chain(&e))?;
        Ok(Box::new(TcpProducer { client }))
    }

    fn consumer(&self) -> Result<Box<dyn ConsumerEndpoint>, String> {
        let client = Client::connect(self.addr).map_err(|e| crate::broker::handler::chain(&e))?;
        Ok(Box::new(TcpConsumer { client, records: None }))
    }
}

struct TcpProducer {
    client: Client,
}

impl ProducerEndpoint for TcpProducer {
    fn start(&mut self, topic: &str, messages: &[&[u8]]) -> Result<(), String> {
        self.client.send_produce(topic, messages.iter().copied()).map_err(|e| e.to_string())?;
        self.client.flush().map_err(|e| e.to_string())
    }

    fn finish(&mut self) -> Completion {
        match self.client.receive() {
            Ok((_, ResponseBody::Produced { base_offset, .. })) => Completion::Acked(base_offset),
            Ok(_) | Err(ClientError::Broker { .. }) => Completion::Failed,
            Err(_) => Completion::Unknown,
        }
    }
}

struct TcpConsumer {
    client: Client,
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
        let t = match &self.cached {
            Some(t) if t.name == topic => t.clone(),
            _ => {
                let t = self.topics.get_or_create(topic).map_err(|e| e.to_string())?;
                self.cached = Some(t.clone());
                t
            }
        };
        let answer = match t.append_batch(messages) {
            Ok(base) => Completion::Acked(base),
            Err(LogError::Io { .. }) => Completion::Unknown,
            Err(_) => Completion::Failed,
        };
        self.answers.push_back(answer);
        Ok(())
    }

    fn finish(&mut self) -> Completion {
        self.answers.pop_front().unwrap_or(Completion::Unknown)
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
            Err(LogError::Corrupt { .. }) => Fetch::Corrupt,
            Err(LogError::OffsetOutOfRange { .. }) => Fetch::OutOfRange,
            Err(e) => Fetch::Failed(e.to_string()),
        }
    }
}
