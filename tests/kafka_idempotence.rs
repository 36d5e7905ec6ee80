//! Idempotent producers across a restart of the real `broker` binary: batches sent by hand
//! (encoded with the `kafka-protocol` crate), the broker killed or stopped and started again on
//! the same data dir, the same batches sent again. A retry is acknowledged with its original
//! offset and stored once, a gap is refused, new producer ids never repeat old ones; a
//! garbled or truncated `producers.dat` is logged and never stops the broker, and what it
//! loses is what docs/format.md says; the per-connection limit on producer ids, from outside;
//! a client cannot write as another client's producer by guessing its id from its own, and a
//! batch reusing a producer's sequence with other values is refused, never acknowledged.

mod common;

use bytes::Bytes;
use common::broker_process::{kafka_addr_of, BrokerProcess};
use common::kafka_broker::Embedded;
use common::kafka_raw::{idempotent_batch, Raw};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use std::path::{Path, PathBuf};
use synclog::broker::idempotence::MAX_PRODUCER_IDS_PER_CONNECTION;
use synclog::broker::producer_file::{ENTRY_BYTES, PRODUCERS_FILE};
use synclog::kafka::code;
use synclog::storage::{Log, LogConfig};
use synclog::strategies::RwLockSync;

impl Raw {
    /// InitProducerId v1: (error code, producer id, epoch).
    fn init_producer_id(&mut self) -> (i16, i64, i16) {
        let request =
            InitProducerIdRequest::default().with_transactional_id(None).with_transaction_timeout_ms(60_000);
        let r: InitProducerIdResponse = self.ask(ApiKey::InitProducerId, 1, &request);
        (r.error_code, r.producer_id.0, r.producer_epoch)
    }

    /// Produce v3 (acks −1) of one idempotent batch of `values` to partition 0 of `topic`:
    /// (error code, base offset).
    fn produce(&mut self, topic: &str, producer: i64, sequence: i32, values: &[&str]) -> (i16, i64) {
        let values: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
        let records = idempotent_batch(producer, 0, sequence, &values);
        let request = ProduceRequest::default().with_acks(-1).with_timeout_ms(1000).with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.into())))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(Bytes::from(records)))]),
        ]);
        let r: ProduceResponse = self.ask(ApiKey::Produce, 3, &request);
        let p = &r.responses[0].partition_responses[0];
        (p.error_code, p.base_offset)
    }
}

/// A `broker` process on a data dir that outlives it, started again on demand.
struct Restartable {
    dir: tempfile::TempDir,
    fsync: &'static str,
    broker: Option<BrokerProcess>,
}

impl Restartable {
    fn start(fsync: &'static str) -> Restartable {
        let mut r = Restartable { dir: tempfile::tempdir().expect("tempdir"), fsync, broker: None };
        r.restart();
        r
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn stderr(&self) -> PathBuf {
        self.dir.path().join("broker.stderr")
    }

    /// Starts the broker (its stderr file emptied first); returns its Kafka address.
    fn restart(&mut self) -> String {
        std::fs::write(self.stderr(), b"").expect("clear the stderr file");
        let data = self.data();
        let data_arg = data.to_str().expect("utf-8 path");
        let args = ["--kafka-listen", "127.0.0.1:0", "--data-dir", data_arg, "--fsync", self.fsync];
        self.broker = Some(BrokerProcess::start(&args, &self.stderr()));
        kafka_addr_of(&self.stderr())
    }

    /// SIGKILL: what the page cache (or, under `always`, the disk) holds is all that is left.
    fn kill(&mut self) {
        self.broker.take().expect("running").kill();
    }

    fn stop(&mut self) {
        assert!(self.broker.take().expect("running").terminate().success());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.stderr()).unwrap_or_default()
    }

    fn producers_file(&self, topic: &str) -> PathBuf {
        self.data().join(topic).join(PRODUCERS_FILE)
    }
}

/// Every value of `topic`, read from its log files (the broker stopped).
fn stored(data: &Path, topic: &str) -> Vec<String> {
    let (log, _) = Log::<RwLockSync>::open(&data.join(topic), LogConfig::default()).expect("open the log");
    let batch = log.read(0, u32::MAX, u32::MAX).expect("read");
    batch.iter().map(|(_, v)| String::from_utf8_lossy(v).into_owned()).collect()
}

fn a_retry_after_a_kill_is_acknowledged_with_its_offset_and_stored_once(fsync: &'static str) {
    let mut broker = Restartable::start(fsync);
    let mut raw = Raw::connect(&kafka_addr_of(&broker.stderr()));
    let (error, producer, epoch) = raw.init_producer_id();
    assert_eq!((error, epoch), (code::NONE, 0));
    assert_eq!(raw.produce("idem", producer, 0, &["a", "b"]), (code::NONE, 0));
    assert_eq!(raw.produce("idem", producer, 2, &["c"]), (code::NONE, 2));
    broker.kill();

    let mut raw = Raw::connect(&broker.restart());
    // The producer never saw its acknowledgements: it retries both batches.
    assert_eq!(raw.produce("idem", producer, 2, &["c"]), (code::NONE, 2));
    assert_eq!(raw.produce("idem", producer, 0, &["a", "b"]), (code::NONE, 0));
    assert_eq!(raw.produce("idem", producer, 9, &["skipped ahead"]).0, code::OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_eq!(raw.produce("idem", producer, 3, &["d"]), (code::NONE, 3));
    let (_, again, _) = raw.init_producer_id();
    assert_ne!(again, producer, "a new id is not one handed out before");
    assert!(!broker.log().contains("warning"), "{}", broker.log());
    broker.stop();
    assert_eq!(stored(&broker.data(), "idem"), ["a", "b", "c", "d"]);
}

#[test]
fn a_retry_after_a_kill_is_acknowledged_with_its_offset_and_stored_once_under_fsync_never() {
    a_retry_after_a_kill_is_acknowledged_with_its_offset_and_stored_once("never");
}

#[test]
fn a_retry_after_a_kill_is_acknowledged_with_its_offset_and_stored_once_under_fsync_always() {
    a_retry_after_a_kill_is_acknowledged_with_its_offset_and_stored_once("always");
}

/// Three one-record batches (sequences 0, 1, 2 at offsets 0, 1, 2) from a fresh producer, and
/// the broker stopped; returns the producer id.
fn three_batches(broker: &mut Restartable) -> i64 {
    let mut raw = Raw::connect(&kafka_addr_of(&broker.stderr()));
    let (_, producer, _) = raw.init_producer_id();
    for (sequence, value) in ["a", "b", "c"].iter().enumerate() {
        assert_eq!(raw.produce("idem", producer, sequence as i32, &[value]), (code::NONE, sequence as i64));
    }
    broker.stop();
    assert_eq!(
        std::fs::metadata(broker.producers_file("idem")).expect("state file").len(),
        3 * ENTRY_BYTES as u64
    );
    producer
}

#[test]
fn a_garbled_state_entry_is_logged_and_loses_only_its_own_batch() {
    let mut broker = Restartable::start("never");
    let producer = three_batches(&mut broker);
    let path = broker.producers_file("idem");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[ENTRY_BYTES + 5] ^= 0xff; // the entry of sequence 1
    std::fs::write(&path, &bytes).expect("garble");

    let mut raw = Raw::connect(&broker.restart());
    assert!(broker.log().contains("1 garbled entries"), "{}", broker.log());
    // The entries around it still hold: their retries are acknowledged, not written.
    assert_eq!(raw.produce("idem", producer, 2, &["c"]), (code::NONE, 2));
    assert_eq!(raw.produce("idem", producer, 0, &["a"]), (code::NONE, 0));
    // The garbled batch's retry is refused (sequence 1 is neither remembered nor next), never
    // written twice; the producer goes on.
    assert_eq!(raw.produce("idem", producer, 1, &["b"]).0, code::OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_eq!(raw.produce("idem", producer, 3, &["d"]), (code::NONE, 3));
    broker.stop();
    assert_eq!(stored(&broker.data(), "idem"), ["a", "b", "c", "d"]);
}

#[test]
fn a_truncated_state_file_is_logged_and_loses_its_last_batch_only() {
    let mut broker = Restartable::start("never");
    let producer = three_batches(&mut broker);
    let path = broker.producers_file("idem");
    let file = std::fs::OpenOptions::new().write(true).open(&path).expect("open");
    file.set_len(2 * ENTRY_BYTES as u64 + 7).expect("truncate"); // sequence 2's entry torn

    let mut raw = Raw::connect(&broker.restart());
    assert!(broker.log().contains("7 bytes of a torn entry"), "{}", broker.log());
    assert_eq!(raw.produce("idem", producer, 1, &["b"]), (code::NONE, 1));
    // The batch whose entry was lost is, as docs/format.md says, written again when retried:
    // the broker's state ends at sequence 1, so sequence 2 is the next one.
    assert_eq!(raw.produce("idem", producer, 2, &["c"]), (code::NONE, 3));
    assert_eq!(raw.produce("idem", producer, 2, &["c"]), (code::NONE, 3));
    broker.stop();
    assert_eq!(stored(&broker.data(), "idem"), ["a", "b", "c", "c"]);
    // The file was rewritten whole at start-up: two entries, then the new one.
    assert_eq!(std::fs::metadata(&path).expect("state file").len(), 3 * ENTRY_BYTES as u64);
}

#[test]
fn a_connection_gets_at_most_its_limit_of_producer_ids_and_stays_usable() {
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    let mut ids = Vec::new();
    for _ in 0..MAX_PRODUCER_IDS_PER_CONNECTION {
        let (error, id, _) = raw.init_producer_id();
        assert_eq!(error, code::NONE);
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), MAX_PRODUCER_IDS_PER_CONNECTION as usize, "distinct ids");
    assert_eq!(raw.init_producer_id(), (code::POLICY_VIOLATION, -1, -1));
    // The connection goes on, with the ids it has; another connection gets ids of its own.
    assert_eq!(raw.produce("limited", ids[0], 0, &["x"]), (code::NONE, 0));
    let (error, fresh, _) = Raw::connect(&broker.kafka()).init_producer_id();
    assert_eq!(error, code::NONE);
    assert!(!ids.contains(&fresh));
}

#[test]
fn producer_ids_never_handed_out_and_transactional_ids_are_refused_and_nothing_is_written() {
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    // A fresh broker has handed out no id: not 0, not one below the next it would hand out.
    for stranger in [123_456, 0, 1, i64::MAX] {
        assert_eq!(
            raw.produce("fresh", stranger, 0, &["x"]).0,
            code::UNKNOWN_PRODUCER_ID,
            "producer id {stranger}"
        );
    }
    let (error, id, _) = raw.init_producer_id();
    assert_eq!(error, code::NONE);
    assert_eq!(
        raw.produce("fresh", id - 1, 0, &["x"]).0,
        code::UNKNOWN_PRODUCER_ID,
        "the id before the first"
    );
    // A transactional id refuses every partition, idempotent batch or plain, as InitProducerId does.
    for records in [idempotent_batch(id, 0, 0, &[b"t"]), idempotent_batch(-1, -1, -1, &[b"t"])] {
        let partition =
            PartitionProduceData::default().with_index(0).with_records(Some(Bytes::from(records)));
        let request = ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_string("tx1".into()))))
            .with_acks(-1)
            .with_timeout_ms(1000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string("fresh".into())))
                .with_partition_data(vec![partition])]);
        let r: ProduceResponse = raw.ask(ApiKey::Produce, 3, &request);
        let p = &r.responses[0].partition_responses[0];
        assert_eq!((p.error_code, p.base_offset), (code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1));
    }
    // The id handed out works, and is the only thing written.
    assert_eq!(raw.produce("fresh", id, 0, &["y"]), (code::NONE, 0));
    assert_eq!(broker.payloads("fresh"), vec![b"y".to_vec()]);
}

#[test]
fn another_clients_producer_id_cannot_be_guessed_and_a_forged_batch_never_takes_a_real_ones_place() {
    let mut broker = Restartable::start("never");
    let kafka = kafka_addr_of(&broker.stderr());
    let (mut victim, mut attacker) = (Raw::connect(&kafka), Raw::connect(&kafka));
    let (_, id, _) = victim.init_producer_id();
    assert_eq!(victim.produce("payments", id, 0, &["victim-0"]), (code::NONE, 0));
    // The attacker's own ids, asked for just before and after the victim's, name no neighbour:
    // every id near them is refused, so is every id near the victim's (as if it had leaked
    // its neighbourhood), and nothing is written.
    let (_, before, _) = attacker.init_producer_id();
    let (_, after, _) = attacker.init_producer_id();
    for known in [before, after, id] {
        for delta in [-2, -1, 1, 2, 1000] {
            let guess = known.wrapping_add(delta);
            let forged = attacker.produce("payments", guess, 1, &["ATTACKER"]).0;
            assert_eq!(forged, code::UNKNOWN_PRODUCER_ID, "{guess}, {delta} from {known}");
            assert_eq!(attacker.produce("fresh", guess, 0, &["FORGED"]).0, code::UNKNOWN_PRODUCER_ID);
        }
    }
    // The victim's batches are written at their own offsets.
    assert_eq!(victim.produce("payments", id, 1, &["victim-1"]), (code::NONE, 1));
    assert_eq!(victim.produce("fresh", id, 0, &["victim-fresh"]), (code::NONE, 0));
    // Were the id known: a batch reusing the victim's sequence with other values is refused,
    // and the victim's real retry is still acknowledged with its offset.
    assert_eq!(attacker.produce("payments", id, 1, &["ATTACKER"]).0, code::OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_eq!(victim.produce("payments", id, 1, &["victim-1"]), (code::NONE, 1));
    // ... and one that takes the victim's next sequence first leaves the victim's batch
    // refused, never acknowledged at the forger's offset.
    assert_eq!(attacker.produce("payments", id, 2, &["ATTACKER"]), (code::NONE, 2));
    assert_eq!(victim.produce("payments", id, 2, &["victim-2"]).0, code::OUT_OF_ORDER_SEQUENCE_NUMBER);
    broker.stop();
    assert_eq!(stored(&broker.data(), "payments"), ["victim-0", "victim-1", "ATTACKER"]);
    assert_eq!(stored(&broker.data(), "fresh"), ["victim-fresh"]);
}
