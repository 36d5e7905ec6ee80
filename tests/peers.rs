//! The peer measurements of `harness compare --goals --peers` against the real servers
//! (`redis-server` and `nats-server`, installed by scripts/test.sh): every message sent is a
//! distinct value, and reading the peer's stream back finds exactly the acknowledged values, each
//! once, one at a time and pipelined; the read-back check itself fails on a value missing, stored
//! twice or never sent; a missing server is named.

use synclog::check::encode_payload;
use synclog::experiment::peers::readback::{Acknowledged, ReadBack, ReadBackCheck, PEER_SEED};
use synclog::experiment::peers::{measure, PeerKind, PeerWorkload};
use synclog::storage::FsyncMode;

fn value(producer: u32, seq: u64) -> Vec<u8> {
    let mut out = Vec::new();
    encode_payload(PEER_SEED, producer, seq, 100, &mut out);
    out
}

/// The read-back verdict on `entries`, for 2 producers that had 3 values each acknowledged.
fn read_back(entries: &[Vec<u8>]) -> ReadBack {
    let mut check = ReadBackCheck::new(Acknowledged { producers: 2, per_producer: 3 });
    for e in entries {
        check.entry(e);
    }
    check.finish()
}

fn every_value() -> Vec<Vec<u8>> {
    (0..2).flat_map(|p| (0..3).map(move |s| value(p, s))).collect()
}

#[test]
fn the_read_back_holds_exactly_the_acknowledged_values_in_any_order() {
    let mut entries = every_value();
    entries.reverse();
    let found = read_back(&entries);
    assert!(found.is_exact(), "{found:?}");
    assert_eq!(found.read, 6);
}

#[test]
fn a_missing_value_fails_the_read_back_even_when_the_count_is_right() {
    // Six entries, as many as were acknowledged, but 1:2 is gone and 0:0 is there twice.
    let mut entries = every_value();
    entries[5] = value(0, 0);
    let found = read_back(&entries);
    assert_eq!((found.read, found.missing, found.duplicated, found.foreign), (6, 1, 1, 0), "{found:?}");
    assert!(!found.is_exact());
    assert_eq!(found.example.as_deref(), Some("value 0:0 is stored twice"));
    let mut short = every_value();
    short.pop();
    let found = read_back(&short);
    assert_eq!(found.missing, 1, "{found:?}");
    assert_eq!(found.example.as_deref(), Some("acknowledged value 1:2 is not stored"));
}

#[test]
fn a_value_never_sent_or_garbled_fails_the_read_back() {
    let mut entries = every_value();
    entries.push(value(2, 0)); // no producer 2
    entries.push(value(0, 3)); // past what producer 0 sent
    let mut garbled = value(1, 1);
    garbled[40] ^= 1;
    entries.push(garbled);
    entries.push(vec![b'x'; 100]); // the same bytes every time, as a count-only check allowed
    let found = read_back(&entries);
    assert_eq!((found.missing, found.duplicated, found.foreign), (0, 0, 4), "{found:?}");
}

fn workload(in_flight: u32, fsync: FsyncMode) -> PeerWorkload {
    PeerWorkload { producers: 4, in_flight, messages: 4_000, message_bytes: 100, fsync }
}

fn check(peer: PeerKind, w: PeerWorkload) {
    let scratch = tempfile::tempdir().expect("scratch dir");
    // `measure` reads every entry back and fails unless the stream holds exactly the values
    // acknowledged, each once.
    let figure = measure(peer, &w, scratch.path())
        .unwrap_or_else(|e| panic!("{peer:?} {w:?}: {e} (scripts/test.sh installs the peers' servers)"));
    assert!(figure.msgs_per_s > 0.0 && figure.msgs_per_s.is_finite(), "{figure:?}");
    let name = match peer {
        PeerKind::Redis => "Redis ",
        PeerKind::Nats => "NATS ",
    };
    assert!(figure.server.starts_with(name), "{figure:?}");
    // The server's data lived under the scratch dir, and nothing of it is left behind.
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
}

#[test]
fn redis_one_at_a_time_and_pipelined_store_exactly_the_acknowledged_values() {
    check(PeerKind::Redis, workload(1, FsyncMode::Never));
    check(PeerKind::Redis, workload(50, FsyncMode::Never));
}

#[test]
fn redis_with_appendfsync_always_stores_exactly_the_acknowledged_values() {
    check(PeerKind::Redis, workload(1, FsyncMode::Always));
    check(PeerKind::Redis, workload(50, FsyncMode::Always));
}

#[test]
fn nats_jetstream_one_at_a_time_and_pipelined_store_exactly_the_acknowledged_values() {
    check(PeerKind::Nats, workload(1, FsyncMode::Never));
    check(PeerKind::Nats, workload(50, FsyncMode::Never));
}

#[test]
fn nats_has_no_fsync_always_setting_and_says_so() {
    let scratch = tempfile::tempdir().unwrap();
    let err = measure(PeerKind::Nats, &workload(1, FsyncMode::Always), scratch.path()).unwrap_err();
    assert!(err.to_string().contains("--fsync always"), "{err}");
}
