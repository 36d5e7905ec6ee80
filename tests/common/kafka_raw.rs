//! Hand-made Kafka requests for the listener's tests: a raw connection that encodes a request
//! with the crate's encoders and decodes the answer, and an idempotent producer's batch.

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A raw Kafka connection speaking through the crate's encoders.
pub struct Raw {
    stream: TcpStream,
    next_id: i32,
}

impl Raw {
    pub fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        Raw { stream, next_id: 0 }
    }

    /// Sends `body` as `api` v`version` and decodes the answer.
    pub fn ask<Q: Encodable, A: Decodable>(&mut self, api: ApiKey, version: i16, body: &Q) -> A {
        self.next_id += 1;
        let id = self.next_id;
        let mut frame = Vec::new();
        frame.extend_from_slice(&(api as i16).to_be_bytes());
        frame.extend_from_slice(&version.to_be_bytes());
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&4i16.to_be_bytes());
        frame.extend_from_slice(b"test");
        body.encode(&mut frame, version).expect("encode");
        let mut bytes = (frame.len() as i32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&frame);
        self.stream.write_all(&bytes).expect("send");
        let mut length = [0u8; 4];
        self.stream.read_exact(&mut length).expect("an answer, not a closed connection");
        let mut answer = vec![0u8; i32::from_be_bytes(length) as usize];
        self.stream.read_exact(&mut answer).expect("the answer");
        assert_eq!(i32::from_be_bytes(answer[..4].try_into().expect("4 bytes")), id, "correlation id");
        A::decode(&mut Bytes::from(answer[4..].to_vec()), version).expect("decode the answer")
    }
}

/// One uncompressed RecordBatch v2 from an idempotent producer: `values` from `sequence` on.
pub fn idempotent_batch(producer_id: i64, epoch: i16, sequence: i32, values: &[&[u8]]) -> Vec<u8> {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: sequence + i as i32,
            timestamp: 0,
            key: None,
            value: Some(Bytes::copy_from_slice(v)),
            headers: Default::default(),
        })
        .collect();
    let mut out = Vec::new();
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut out, records.iter(), &options).expect("encode");
    out
}

/// One Kafka request frame, made by hand: header v1 (null client id), then `body`.
pub fn request_frame(api_key: i16, version: i16, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(body.len() + 14);
    frame.extend_from_slice(&((body.len() + 10) as i32).to_be_bytes());
    frame.extend_from_slice(&api_key.to_be_bytes());
    frame.extend_from_slice(&version.to_be_bytes());
    frame.extend_from_slice(&7i32.to_be_bytes());
    frame.extend_from_slice(&(-1i16).to_be_bytes());
    frame.extend_from_slice(body);
    frame
}

/// Sends `bytes` on a new connection; the answer's body, or `None` when the broker closed the
/// connection without one (EOF, or a reset with our bytes unread).
pub fn exchange(addr: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    if let Err(e) = stream.write_all(bytes) {
        assert!(matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe), "{e}");
        return None;
    }
    let mut length = [0u8; 4];
    match stream.read_exact(&mut length) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset) => return None,
        Err(e) => panic!("neither an answer nor a close: {e}"),
    }
    let mut body = vec![0u8; i32::from_be_bytes(length) as usize];
    stream.read_exact(&mut body).expect("the whole answer");
    Some(body)
}

/// A Metadata v0 body naming `count` empty topic names.
pub fn metadata_of_empty_names(count: usize) -> Vec<u8> {
    let mut body = (count as i32).to_be_bytes().to_vec();
    body.resize(4 + 2 * count, 0);
    body
}
