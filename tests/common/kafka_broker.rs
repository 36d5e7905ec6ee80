//! A broker with a Kafka listener, embedded in the test process, for the Kafka tests.

use std::net::SocketAddr;
use std::sync::Arc;
use synclog::broker::{Broker, BrokerConfig, BrokerHandle};
use synclog::client::Client;
use synclog::storage::Topics;
use synclog::strategies::RwLockSync;

/// A broker with a Kafka listener, and its temporary data dir (removed on drop).
pub struct Embedded {
    pub handle: Option<BrokerHandle>,
    pub topics: Arc<Topics<RwLockSync>>,
    dir: tempfile::TempDir,
}

impl Embedded {
    pub fn start() -> Embedded {
        let dir = tempfile::tempdir().expect("tempdir");
        let broker = Broker::<RwLockSync>::bind(BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            kafka_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir: dir.path().to_path_buf(),
            ..BrokerConfig::default()
        })
        .expect("bind");
        let topics = broker.topics().clone();
        let handle = broker.spawn().expect("spawn");
        Embedded { handle: Some(handle), topics, dir }
    }

    /// The broker's data dir.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn handle(&self) -> &BrokerHandle {
        self.handle.as_ref().expect("running")
    }

    /// The Kafka listener, as kcat's `-b` wants it.
    pub fn kafka(&self) -> String {
        self.handle().kafka_addr().expect("a Kafka listener").to_string()
    }

    pub fn synclog(&self) -> Client {
        Client::connect(self.handle().addr()).expect("synclog client")
    }

    /// Every payload of `topic`, read straight from the log.
    pub fn payloads(&self, topic: &str) -> Vec<Vec<u8>> {
        let t = self.topics.get(topic).expect("topic exists");
        let batch = t.log.read(0, u32::MAX, u32::MAX).expect("read");
        let offsets: Vec<u64> = batch.iter().map(|(o, _)| o).collect();
        assert_eq!(offsets, (0..batch.len() as u64).collect::<Vec<_>>(), "offsets 0, 1, 2, …");
        batch.iter().map(|(_, p)| p.to_vec()).collect()
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown();
        }
    }
}
