use super::*;
use crate::storage::{LogConfig, Topics};
use crate::strategies::RwLockSync;
use std::sync::Arc;

fn batch(producer_id: i64, epoch: i16, base_sequence: i32, values: &[&[u8]]) -> BatchId<'static> {
    let values_crc = producer_file::values_crc(values.iter().copied());
    BatchId { topic: "t", producer_id, epoch, base_sequence, records: values.len(), values_crc }
}

#[test]
fn a_retry_is_acknowledged_with_its_first_offset_and_a_gap_is_refused() {
    let producers = Producers::in_memory();
    let (id, epoch) = producers.init().expect("an id");
    let mut next = 0u64;
    let mut append = |n: u64| {
        let base = next;
        next += n;
        Ok(base)
    };
    let never = || panic!("not written");
    let (abc, de) = (&[b"a".as_slice(), b"b", b"c"][..], &[b"d".as_slice(), b"e"][..]);
    assert_eq!(producers.append_once(batch(id, epoch, 0, abc), || 0, || append(3)), Ok(0));
    assert_eq!(producers.append_once(batch(id, epoch, 3, de), || 3, || append(2)), Ok(3));
    assert_eq!(producers.append_once(batch(id, epoch, 0, abc), || 5, never), Ok(0));
    assert_eq!(producers.append_once(batch(id, epoch, 3, de), || 5, never), Ok(3));
    let gap = producers.append_once(batch(id, epoch, 9, &[b"x"]), || 5, never);
    assert_eq!(gap, Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER));
    assert_eq!(producers.append_once(batch(id, epoch, 5, &[b"f"]), || 5, || append(1)), Ok(5));
    let old = producers.append_once(batch(id, -1, 6, &[b"x"]), || 6, never);
    assert_eq!(old, Err(code::INVALID_PRODUCER_EPOCH));
    let stranger = producers.append_once(batch(id + 1000, 0, 0, &[b"x"]), || 6, never);
    assert_eq!(stranger, Err(code::UNKNOWN_PRODUCER_ID));
    assert_eq!(next, 6);
}

/// A data dir with topic `t`, and producers rebuilt from it as the broker does at start-up.
struct Dir {
    dir: tempfile::TempDir,
    topics: Arc<Topics<RwLockSync>>,
    producers: Producers,
    warnings: Vec<String>,
}

impl Dir {
    fn new() -> Dir {
        Dir::reopen(tempfile::tempdir().expect("tempdir"))
    }

    fn reopen(dir: tempfile::TempDir) -> Dir {
        let (topics, _) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("open");
        topics.get_or_create("t").expect("topic");
        let names = vec!["t".to_string()];
        let stored = |topic: &str, e: &Entry| topics.get(topic).is_some_and(|t| stored(&t.log, e));
        let (producers, warnings) = Producers::open(dir.path(), FsyncPolicy::Never, &names, stored);
        Dir { dir, topics, producers, warnings }
    }

    fn restart(self) -> Dir {
        let dir = self.dir;
        drop((self.topics, self.producers));
        Dir::reopen(dir)
    }

    /// Sends one batch as the Kafka handler does; `plain` values are appended by a plain
    /// producer between the expected offset and the batch's own append.
    fn send(&self, id: i64, sequence: i32, values: &[&[u8]], plain: &[&[u8]]) -> Result<u64, i16> {
        let t = self.topics.get("t").expect("topic");
        let append = || {
            if !plain.is_empty() {
                t.append_batch(plain).expect("plain append");
            }
            t.append_batch(values).map_err(|_| code::KAFKA_STORAGE_ERROR)
        };
        self.producers.append_once(batch(id, 0, sequence, values), || t.log.next_offset(), append)
    }

    fn next_offset(&self) -> u64 {
        self.topics.get("t").expect("topic").log.next_offset()
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("t").join(PRODUCERS_FILE)
    }
}

#[test]
fn after_a_restart_a_retry_is_acknowledged_with_its_offset_and_a_gap_is_refused() {
    let d = Dir::new();
    let (id, _) = d.producers.init().expect("id");
    assert_eq!(d.send(id, 0, &[b"a", b"b"], &[]), Ok(0));
    assert_eq!(d.send(id, 2, &[b"c"], &[]), Ok(2));
    let d = d.restart();
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert_eq!(d.send(id, 2, &[b"c"], &[]), Ok(2));
    assert_eq!(d.send(id, 0, &[b"a", b"b"], &[]), Ok(0));
    assert_eq!(d.send(id, 9, &[b"x"], &[]), Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER));
    assert_eq!(d.next_offset(), 3);
    assert_eq!(d.send(id, 3, &[b"d"], &[]), Ok(3));
    // A new id is not one handed out before the restart.
    let (again, _) = d.producers.init().expect("id");
    assert_ne!(again, id);
}

#[test]
fn a_batch_that_a_plain_append_overtook_is_remembered_at_its_real_offset() {
    let d = Dir::new();
    let (id, _) = d.producers.init().expect("id");
    assert_eq!(d.send(id, 0, &[b"mine"], &[b"plain", b"plain"]), Ok(2));
    // The file holds the expected offset (0), then the real one (2), which replaces it.
    assert_eq!(producer_file::read(&d.file()).expect("read").entries.len(), 2);
    let d = d.restart();
    assert_eq!(d.send(id, 0, &[b"mine"], &[]), Ok(2));
    assert_eq!(d.next_offset(), 3);
}

#[test]
fn an_entry_whose_batch_the_log_lost_is_dropped_and_the_retry_appended() {
    let d = Dir::new();
    let (id, _) = d.producers.init().expect("id");
    assert_eq!(d.send(id, 0, &[b"a"], &[]), Ok(0));
    // An entry for a batch at offset 1 that never reached the log (a crash between the two).
    let lost = Entry {
        producer_id: id,
        epoch: 0,
        first_sequence: 1,
        records: 1,
        base_offset: 1,
        values_crc: producer_file::values_crc([b"b".as_slice()]),
    };
    producer_file::append(&d.file(), &lost, false).expect("append");
    let d = d.restart();
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert_eq!(d.send(id, 1, &[b"b"], &[]), Ok(1), "the retry is written once");
    assert_eq!(d.send(id, 1, &[b"b"], &[]), Ok(1));
    assert_eq!(d.next_offset(), 2);
}

#[test]
fn a_failed_append_takes_its_entry_back() {
    let d = Dir::new();
    let (id, _) = d.producers.init().expect("id");
    let refused = d.producers.append_once(batch(id, 0, 0, &[b"a"]), || 0, || Err(code::KAFKA_STORAGE_ERROR));
    assert_eq!(refused, Err(code::KAFKA_STORAGE_ERROR));
    assert!(producer_file::read(&d.file()).expect("read").entries.is_empty());
    assert_eq!(d.send(id, 0, &[b"a"], &[]), Ok(0));
}

#[test]
fn the_state_file_is_compacted_to_what_is_remembered() {
    let d = Dir::new();
    let (id, _) = d.producers.init().expect("id");
    let values: &[&[u8]] = &[b"v"];
    for sequence in 0..COMPACT_MIN_ENTRIES as i32 + 10 {
        assert_eq!(d.send(id, sequence, values, &[]), Ok(sequence as u64));
    }
    let entries = producer_file::read(&d.file()).expect("read").entries.len();
    assert!(entries <= 10 + REMEMBERED_BATCHES, "{entries} entries");
    let last = COMPACT_MIN_ENTRIES as i32 + 9;
    let d = d.restart();
    assert_eq!(d.send(id, last, values, &[]), Ok(last as u64));
    assert_eq!(d.send(id, last + 1, values, &[]), Ok(last as u64 + 1));
}

#[test]
fn without_the_id_file_no_stored_producers_id_is_handed_out_again() {
    let d = Dir::new();
    let (id, _) = d.producers.init().expect("id");
    assert_eq!(d.send(id, 0, &[b"a"], &[]), Ok(0));
    std::fs::write(d.dir.path().join(producer_file::IDS_FILE), b"garbled").expect("garble");
    let d = d.restart();
    assert!(d.warnings.iter().any(|w| w.contains(producer_file::IDS_FILE)), "{:?}", d.warnings);
    assert_ne!(d.producers.init().expect("id").0, id);
    assert_eq!(d.send(id, 0, &[b"a"], &[]), Ok(0));
}

#[test]
fn batches_past_the_last_five_are_forgotten_quietly_across_a_restart() {
    let d = Dir::new();
    let (id, _) = d.producers.init().expect("id");
    for sequence in 0..8 {
        assert_eq!(d.send(id, sequence, &[b"v"], &[]), Ok(sequence as u64));
    }
    let d = d.restart();
    assert!(d.warnings.is_empty(), "superseded entries are no damage: {:?}", d.warnings);
    assert_eq!(producer_file::read(&d.file()).expect("read").entries.len(), REMEMBERED_BATCHES);
    assert_eq!(d.send(id, 7, &[b"v"], &[]), Ok(7));
    assert_eq!(d.send(id, 3, &[b"v"], &[]), Ok(3));
    assert_eq!(d.send(id, 2, &[b"v"], &[]), Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER));
    assert_eq!(d.next_offset(), 8);
}

#[test]
fn only_ids_handed_out_by_this_run_or_named_in_a_state_file_are_accepted() {
    let d = Dir::new();
    let never = || panic!("not written");
    for stranger in [0, 1, 123_456] {
        let refused = d.producers.append_once(batch(stranger, 0, 0, &[b"x"]), || 0, never);
        assert_eq!(refused, Err(code::UNKNOWN_PRODUCER_ID), "id {stranger}");
    }
    let (wrote, _) = d.producers.init().expect("id");
    let (silent, _) = d.producers.init().expect("id");
    assert_eq!(d.send(wrote, 0, &[b"a"], &[]), Ok(0));
    let d = d.restart();
    // Below the next id, but never named in a state file: its producer asks again.
    let refused = d.producers.append_once(batch(silent, 0, 0, &[b"x"]), || 1, never);
    assert_eq!(refused, Err(code::UNKNOWN_PRODUCER_ID));
    assert_eq!(d.send(wrote, 1, &[b"b"], &[]), Ok(1));
    let (fresh, _) = d.producers.init().expect("id");
    assert_eq!(d.send(fresh, 0, &[b"c"], &[]), Ok(2));
}

#[test]
fn a_deleted_topics_producer_state_is_forgotten_and_a_new_topic_of_its_name_starts_clean() {
    let producers = Producers::in_memory();
    let (id, epoch) = producers.init().expect("an id");
    let never = || panic!("not written");
    assert_eq!(producers.append_once(batch(id, epoch, 0, &[b"a"]), || 0, || Ok(0)), Ok(0));
    assert_eq!(producers.append_once(batch(id, epoch, 0, &[b"a"]), || 1, never), Ok(0), "a retry");
    producers.forget_topic("other");
    assert_eq!(producers.append_once(batch(id, epoch, 0, &[b"a"]), || 1, never), Ok(0), "kept");
    producers.forget_topic("t");
    // The same batch, to the topic "t" created again, is new: written (at offset 7, say),
    // where a retry would be answered with its first offset, 0.
    assert_eq!(producers.append_once(batch(id, epoch, 0, &[b"a"]), || 7, || Ok(7)), Ok(7));
    let gap = producers.append_once(batch(id, epoch, 5, &[b"x"]), || 8, never);
    assert_eq!(gap, Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER), "its sequence goes on from 0");
}

#[test]
fn a_batch_reusing_a_remembered_sequence_with_other_values_is_refused_not_acknowledged() {
    let d = Dir::new();
    let (id, _) = d.producers.init().expect("id");
    assert_eq!(d.send(id, 0, &[b"mine-0"], &[]), Ok(0));
    assert_eq!(d.send(id, 1, &[b"mine-1"], &[]), Ok(1));
    // Same sequence and record count, other values: another batch, never the retry.
    assert_eq!(d.send(id, 1, &[b"forged"], &[]), Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER));
    assert_eq!(d.send(id, 0, &[b"mine-X"], &[]), Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER));
    assert_eq!(d.next_offset(), 2, "nothing written");
    // The real retry is still one, and so after a restart (the CRC comes from producers.dat).
    assert_eq!(d.send(id, 1, &[b"mine-1"], &[]), Ok(1));
    let d = d.restart();
    assert_eq!(d.send(id, 1, &[b"forged"], &[]), Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER));
    assert_eq!(d.send(id, 1, &[b"mine-1"], &[]), Ok(1));
    assert_eq!(d.next_offset(), 2);
}

#[test]
fn ids_near_a_handed_out_id_are_refused_and_ids_are_not_consecutive() {
    let producers = Producers::in_memory();
    let never = || panic!("not written");
    let ids: Vec<i64> = (0..50).map(|_| producers.init().expect("id").0).collect();
    for pair in ids.windows(2) {
        assert!(pair[0].abs_diff(pair[1]) > 1000, "{} then {}", pair[0], pair[1]);
    }
    for &id in &ids {
        for guess in [id - 1, id + 1, id - 1000, id + 1000] {
            let refused = producers.append_once(batch(guess, 0, 0, &[b"x"]), || 0, never);
            assert_eq!(refused, Err(code::UNKNOWN_PRODUCER_ID), "{guess} near {id}");
        }
    }
    assert_eq!(producers.append_once(batch(ids[7], 0, 0, &[b"x"]), || 0, || Ok(0)), Ok(0));
}

#[test]
fn the_id_key_is_kept_so_ids_of_a_data_dir_never_repeat_and_an_old_data_dir_is_read() {
    let d = Dir::new();
    let key = d.dir.path().join(ids::KEY_FILE);
    assert!(!key.exists(), "no key before the first id");
    let before: Vec<i64> = (0..5).map(|_| d.producers.init().expect("id").0).collect();
    let written = std::fs::read(&key).expect("the key was written with the first id");
    assert_eq!(d.send(before[0], 0, &[b"a"], &[]), Ok(0));
    let d = d.restart();
    assert_eq!(std::fs::read(&key).expect("key"), written, "the same key after a restart");
    let after: Vec<i64> = (0..5).map(|_| d.producers.init().expect("id").0).collect();
    assert!(after.iter().all(|id| !before.contains(id)), "{before:?} then {after:?}");
    assert_eq!(d.send(before[0], 1, &[b"b"], &[]), Ok(1), "a stored producer goes on");
    assert_eq!(d.send(after[0], 0, &[b"c"], &[]), Ok(2));
    // A data dir an older broker wrote: sequential ids, no key file. Its stored producer goes
    // on, and new ids are made with a new key.
    let old_id = 1_765_000_000_000_123;
    let entry = Entry {
        producer_id: old_id,
        epoch: 0,
        first_sequence: 0,
        records: 1,
        base_offset: 3,
        values_crc: producer_file::values_crc([b"old".as_slice()]),
    };
    d.topics.get("t").expect("topic").append_batch(&[b"old"]).expect("append");
    producer_file::append(&d.file(), &entry, false).expect("append");
    std::fs::remove_file(&key).expect("remove the key");
    let d = d.restart();
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert_eq!(d.send(old_id, 0, &[b"old"], &[]), Ok(3), "its retry");
    assert_eq!(d.send(old_id, 1, &[b"old-1"], &[]), Ok(4));
    let (fresh, _) = d.producers.init().expect("id");
    assert!(key.exists());
    assert_eq!(d.send(fresh, 0, &[b"new"], &[]), Ok(5));
}
