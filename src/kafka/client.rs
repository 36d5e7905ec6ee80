//! A blocking Kafka client: just enough of the protocol for the harness to produce and fetch.
//!
//! [`KafkaClient`] speaks the versions in [`super::SUPPORTED_APIS`] — the ones synclog's own
//! listener serves, and ones every Kafka broker since 1.0 (and Redpanda) still accepts — over
//! one connection. On connecting it asks ApiVersions and refuses a broker that lacks one of
//! them, so a mismatch is one clear error, not a garbled response later.
//!
//! Requests may be pipelined: [`KafkaClient::send_produce`] queues a request and
//! [`KafkaClient::receive_produce`] takes the oldest answer, and Kafka brokers answer requests
//! on one connection in order. The client checks each answer's correlation id against the
//! oldest request outstanding.
//!
//! For a cluster, data requests must go to the partition's *leader*; [`prepare_topics`]
//! asks the bootstrap broker's Metadata for each topic (which creates the topic where the
//! cluster auto-creates topics) and returns each topic's leader address, where the harness's
//! endpoints then connect.
//!
//! Every response passes its shape check ([`super::shape`]) before the codec decodes it, so
//! a broken or hostile server cannot make the client allocate without bound.

use super::{code, decode, encode_frame, records, shape, Direction, KafkaError, SUPPORTED_APIS};
use crate::protocol::connection::{Connection, ConnectionConfig, ConnectionError};
use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse,
    ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceRequest,
    ProduceResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::collections::{HashMap, VecDeque};
use std::net::{TcpStream, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The client id every request carries.
pub const CLIENT_ID: &str = "synclog-harness";

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a broker may take to answer a request (the longest long poll is 30 s).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest response accepted: Kafka's own default request limit, 100 MiB.
const MAX_RESPONSE_BYTES: u32 = 100 << 20;

/// How long the broker may take to acknowledge a produce (`timeout_ms` in the request).
const PRODUCE_TIMEOUT_MS: i32 = 30_000;

/// What [`KafkaClient::fetch`] returns.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// The partition's high watermark when the broker answered.
    pub high_watermark: i64,
    /// (offset, value) of each record at or after the fetch offset; a null value is empty.
    pub records: Vec<(i64, Bytes)>,
}

/// One connection to a Kafka broker.
pub struct KafkaClient {
    conn: Connection,
    /// The correlation id of the next request.
    next_correlation_id: i32,
    /// Requests sent and not answered yet, oldest first: correlation id and api.
    in_flight: VecDeque<(i32, ApiKey)>,
    /// Scratch space for encoding one request.
    out: Vec<u8>,
    /// The connection's first failure, once it failed (a failed write, a timeout, a close, a
    /// frame out of step): nothing more is sent on it, as on a native [`crate::client::Client`].
    failed: Option<String>,
}

impl KafkaClient {
    /// Connects to `addr` (`HOST:PORT`) and checks the broker speaks every version needed.
    pub fn connect(addr: &str) -> Result<KafkaClient, KafkaError> {
        let connect_error = |source| KafkaError::Connect { addr: addr.to_string(), source };
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "the address resolves to nothing");
        let mut stream = None;
        for candidate in addr.to_socket_addrs().map_err(connect_error)? {
            match TcpStream::connect_timeout(&candidate, CONNECT_TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or_else(|| connect_error(last))?;
        let config = ConnectionConfig {
            max_frame_bytes: MAX_RESPONSE_BYTES,
            idle_timeout: Some(ANSWER_TIMEOUT),
            frame_timeout: Some(ANSWER_TIMEOUT),
            write_timeout: Some(ANSWER_TIMEOUT),
        };
        let conn = Connection::with_config(stream, config).map_err(connect_error)?;
        let mut client = KafkaClient {
            conn,
            next_correlation_id: 1,
            in_flight: VecDeque::new(),
            out: Vec::new(),
            failed: None,
        };
        // A Kafka broker answers ApiVersions at once: a peer silent for long is something else.
        client.conn.set_idle_timeout(Some(crate::client::PROBE_TIMEOUT));
        match client.check_versions() {
            Err(KafkaError::Connection(ConnectionError::IdleTimeout { timeout })) => {
                return Err(KafkaError::Silent { waited: timeout });
            }
            checked => checked?,
        }
        client.conn.set_idle_timeout(Some(ANSWER_TIMEOUT));
        Ok(client)
    }

    /// ApiVersions v0: every (api, version) in [`SUPPORTED_APIS`] must be in the broker's range.
    fn check_versions(&mut self) -> Result<(), KafkaError> {
        self.send(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default())?;
        let answer: ApiVersionsResponse =
            self.receive(ApiKey::ApiVersions, 0, shape::API_VERSIONS_V0_RESPONSE)?;
        if answer.error_code != code::NONE {
            return Err(KafkaError::Broker { api: ApiKey::ApiVersions, code: answer.error_code });
        }
        for &(api, version) in &SUPPORTED_APIS {
            let spoken = answer
                .api_keys
                .iter()
                .any(|k| k.api_key == api as i16 && (k.min_version..=k.max_version).contains(&version));
            if !spoken {
                return Err(KafkaError::NotAdvertised { api, version });
            }
        }
        Ok(())
    }

    /// Queues a request (sent at the next flush or receive).
    fn send<T: Encodable>(&mut self, api: ApiKey, version: i16, body: &T) -> Result<(), KafkaError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
        let mut header_bytes = Vec::with_capacity(32);
        header.encode(&mut header_bytes, 1).map_err(|e| KafkaError::Encode {
            api,
            version,
            direction: Direction::Request,
            source: e.into(),
        })?;
        self.out.clear();
        encode_frame(api, version, Direction::Request, &header_bytes, body, &mut self.out)?;
        self.refuse_if_failed()?;
        let written = self.conn.write_frame_bytes(&self.out);
        self.written(written)?;
        self.in_flight.push_back((correlation_id, api));
        Ok(())
    }

    /// Sends every queued request.
    pub fn flush(&mut self) -> Result<(), KafkaError> {
        self.refuse_if_failed()?;
        let flushed = self.conn.flush();
        self.written(flushed)
    }

    /// Why the connection failed, if it did: no request is sent on it any more.
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    fn refuse_if_failed(&self) -> Result<(), KafkaError> {
        match &self.failed {
            Some(why) => Err(KafkaError::Broken { why: why.clone() }),
            None => Ok(()),
        }
    }

    /// Marks the connection failed by `error` (the first failure is kept) and returns it.
    fn fail(&mut self, error: KafkaError) -> KafkaError {
        self.failed.get_or_insert_with(|| crate::broker::handler::chain(&error));
        error
    }

    /// A write that failed may leave the stream cut mid-frame: the connection is failed.
    fn written<T>(&mut self, result: Result<T, ConnectionError>) -> Result<T, KafkaError> {
        result.map_err(|e| self.fail(e.into()))
    }

    /// Requests sent and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Reads the answer to the oldest request outstanding, of `shape`, decoded at `version`.
    fn receive<T: Decodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        response_shape: &[shape::Field],
    ) -> Result<T, KafkaError> {
        let Some((expected, _)) = self.in_flight.pop_front() else {
            return Err(KafkaError::Closed { api });
        };
        if let Some(why) = &self.failed {
            return Err(KafkaError::Unanswered { why: why.clone() });
        }
        // Anything but a whole frame of this request's answer leaves the stream out of step.
        let frame = match self.conn.read_frame_with(Bytes::copy_from_slice) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Err(self.fail(KafkaError::Closed { api })),
            Err(e) => return Err(self.fail(e.into())),
        };
        let Some(&[c0, c1, c2, c3]) = frame.first_chunk::<4>() else {
            return Err(self.fail(KafkaError::ShortFrame { size: frame.len() }));
        };
        let received = i32::from_be_bytes([c0, c1, c2, c3]);
        if received != expected {
            return Err(self.fail(KafkaError::CorrelationMismatch { expected, received }));
        }
        decode(api, version, Direction::Response, response_shape, frame.slice(4..))
    }

    /// Metadata v0 for `topics` (all topics when empty). A broker that auto-creates topics
    /// creates the missing ones.
    pub fn metadata(&mut self, topics: &[String]) -> Result<MetadataResponse, KafkaError> {
        let topics =
            topics.iter().map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t)))).collect();
        self.send(ApiKey::Metadata, 0, &MetadataRequest::default().with_topics(Some(topics)))?;
        self.receive(ApiKey::Metadata, 0, shape::METADATA_V0_RESPONSE)
    }

    /// Queues a Produce v3 of `messages` as one RecordBatch to partition 0 of `topic`.
    /// `acks` = −1 waits for every in-sync replica, 1 for the leader; 0 (no answer) is not
    /// offered, since [`KafkaClient::receive_produce`] would wait for an answer never sent.
    pub fn send_produce(&mut self, topic: &str, messages: &[&[u8]], acks: i16) -> Result<(), KafkaError> {
        let timestamp_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(-1, |d| d.as_millis() as i64);
        let mut batch = Vec::with_capacity(messages.iter().map(|m| m.len() + 16).sum::<usize>() + 64);
        records::encode_batch(0, timestamp_ms, messages.iter().copied(), &mut batch)?;
        let partition = PartitionProduceData::default().with_index(0).with_records(Some(Bytes::from(batch)));
        let topic =
            TopicProduceData::default().with_name(topic_name(topic)).with_partition_data(vec![partition]);
        let request = ProduceRequest::default()
            .with_acks(if acks == 0 { -1 } else { acks })
            .with_timeout_ms(PRODUCE_TIMEOUT_MS)
            .with_topic_data(vec![topic]);
        self.send(ApiKey::Produce, 3, &request)
    }

    /// The answer to the oldest produce outstanding: the base offset its messages got.
    pub fn receive_produce(&mut self) -> Result<i64, KafkaError> {
        let answer: ProduceResponse = self.receive(ApiKey::Produce, 3, shape::PRODUCE_V3_RESPONSE)?;
        let partition = answer
            .responses
            .first()
            .and_then(|t| t.partition_responses.first())
            .ok_or(KafkaError::Broker { api: ApiKey::Produce, code: code::UNKNOWN_SERVER_ERROR })?;
        match partition.error_code {
            code::NONE => Ok(partition.base_offset),
            code => Err(KafkaError::Broker { api: ApiKey::Produce, code }),
        }
    }

    /// Produces `messages` and waits for the answer.
    pub fn produce(&mut self, topic: &str, messages: &[&[u8]]) -> Result<i64, KafkaError> {
        self.send_produce(topic, messages, -1)?;
        self.receive_produce()
    }

    /// ListOffsets v1 of partition 0 of `topic`: −2 asks for the earliest offset, −1 for the
    /// latest (the high watermark).
    pub fn list_offsets(&mut self, topic: &str, timestamp: i64) -> Result<i64, KafkaError> {
        let partition = ListOffsetsPartition::default().with_partition_index(0).with_timestamp(timestamp);
        let request = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
            ListOffsetsTopic::default().with_name(topic_name(topic)).with_partitions(vec![partition]),
        ]);
        self.send(ApiKey::ListOffsets, 1, &request)?;
        let answer: ListOffsetsResponse =
            self.receive(ApiKey::ListOffsets, 1, shape::LIST_OFFSETS_V1_RESPONSE)?;
        let partition = answer
            .topics
            .into_iter()
            .flat_map(|t| t.partitions)
            .next()
            .ok_or(KafkaError::Broker { api: ApiKey::ListOffsets, code: code::UNKNOWN_SERVER_ERROR })?;
        match partition.error_code {
            code::NONE => Ok(partition.offset),
            code => Err(KafkaError::Broker { api: ApiKey::ListOffsets, code }),
        }
    }

    /// Fetch v4 of partition 0 of `topic` from `offset`: at most about `max_bytes`, waiting up
    /// to `wait` when nothing is there yet. Records before `offset` (a batch served whole) and
    /// transaction markers are left out.
    pub fn fetch(
        &mut self,
        topic: &str,
        offset: i64,
        max_bytes: u32,
        wait: Duration,
    ) -> Result<Fetched, KafkaError> {
        let max_bytes = i32::try_from(max_bytes).unwrap_or(i32::MAX);
        let partition = FetchPartition::default()
            .with_partition(0)
            .with_fetch_offset(offset)
            .with_partition_max_bytes(max_bytes);
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(i32::try_from(wait.as_millis()).unwrap_or(i32::MAX))
            .with_min_bytes(1)
            .with_max_bytes(max_bytes)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(vec![partition])]);
        self.send(ApiKey::Fetch, 4, &request)?;
        let answer: FetchResponse = self.receive(ApiKey::Fetch, 4, shape::FETCH_V4_RESPONSE)?;
        let partition = answer
            .responses
            .into_iter()
            .flat_map(|t| t.partitions)
            .next()
            .ok_or(KafkaError::Broker { api: ApiKey::Fetch, code: code::UNKNOWN_SERVER_ERROR })?;
        if partition.error_code != code::NONE {
            return Err(KafkaError::Broker { api: ApiKey::Fetch, code: partition.error_code });
        }
        let mut records = records::decode_fetched(partition.records.unwrap_or_default())?;
        records.retain(|(o, _)| *o >= offset);
        Ok(Fetched { high_watermark: partition.high_watermark, records })
    }
}

/// Makes sure each topic exists with a leader for partition 0, asking the bootstrap broker's
/// Metadata (which creates missing topics where the cluster auto-creates them); returns each
/// topic's leader as `HOST:PORT`.
///
/// A freshly created topic may have no leader for a moment (LEADER_NOT_AVAILABLE), so this
/// asks again for up to `patience`.
pub fn prepare_topics(
    bootstrap: &str,
    topics: &[String],
    patience: Duration,
) -> Result<HashMap<String, String>, KafkaError> {
    let mut client = KafkaClient::connect(bootstrap)?;
    let deadline = Instant::now() + patience;
    loop {
        let answer = client.metadata(topics)?;
        match leaders(&answer, topics) {
            Ok(leaders) => return Ok(leaders),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Each topic's partition 0 leader from a Metadata answer, or why one is missing.
fn leaders(answer: &MetadataResponse, topics: &[String]) -> Result<HashMap<String, String>, KafkaError> {
    let brokers: HashMap<i32, String> =
        answer.brokers.iter().map(|b| (b.node_id.0, format!("{}:{}", &*b.host, b.port))).collect();
    let mut leaders = HashMap::new();
    for topic in topics {
        let unavailable = |reason: String| KafkaError::TopicUnavailable { topic: topic.clone(), reason };
        let found = answer
            .topics
            .iter()
            .find(|t| t.name.as_ref().is_some_and(|n| &***n == topic.as_str()))
            .ok_or_else(|| unavailable("the broker's Metadata does not list it".into()))?;
        if found.error_code == code::UNKNOWN_TOPIC_OR_PARTITION {
            return Err(unavailable(
                "the cluster did not create it: enable topic auto-creation (Kafka: auto.create.topics.enable=true; Redpanda: auto_create_topics_enabled=true)".into(),
            ));
        }
        if found.error_code != code::NONE {
            return Err(unavailable(format!("Metadata answered {}", code::name(found.error_code))));
        }
        let partition = found
            .partitions
            .iter()
            .find(|p| p.partition_index == 0)
            .ok_or_else(|| unavailable("it has no partition 0".into()))?;
        let leader = brokers
            .get(&partition.leader_id.0)
            .filter(|_| partition.error_code == code::NONE)
            .ok_or_else(|| {
                unavailable(format!("partition 0 has no leader yet ({})", code::name(partition.error_code)))
            })?;
        leaders.insert(topic.clone(), leader.clone());
    }
    Ok(leaders)
}

/// Reads `kafka://HOST:PORT` (a bare `HOST:PORT` is accepted too); returns `HOST:PORT`.
pub fn bootstrap_address(target: &str) -> Result<String, KafkaError> {
    let address = target.strip_prefix("kafka://").unwrap_or(target).trim_end_matches('/');
    let valid =
        address.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !valid || address.contains('/') {
        return Err(KafkaError::BadTarget { target: target.to_string() });
    }
    Ok(address.to_string())
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_kafka_urls_or_bare_addresses() {
        assert_eq!(bootstrap_address("kafka://broker:9092").expect("url"), "broker:9092");
        assert_eq!(bootstrap_address("kafka://127.0.0.1:9092/").expect("slash"), "127.0.0.1:9092");
        assert_eq!(bootstrap_address("localhost:9092").expect("bare"), "localhost:9092");
        for bad in ["kafka://broker", "kafka://:9092", "kafka://b:99999", "kafka://b:1/x", "http://b:1"] {
            assert!(bootstrap_address(bad).is_err(), "{bad}");
        }
    }
}
