//! The peer measurements of `harness compare --goals --peers` against the real servers
//! (`redis-server` and `nats-server`, installed by scripts/test.sh): every acknowledged message is
//! in the peer's stream afterwards, one at a time and pipelined, and a missing server is named.

use synclog::experiment::peers::{measure, PeerKind, PeerWorkload};
use synclog::storage::FsyncMode;

fn workload(in_flight: u32, fsync: FsyncMode) -> PeerWorkload {
    PeerWorkload { producers: 4, in_flight, messages: 4_000, message_bytes: 100, fsync }
}

fn check(peer: PeerKind, w: PeerWorkload) {
    let scratch = tempfile::tempdir().expect("scratch dir");
    // `measure` reads the stream's length back and fails unless it equals the acks counted.
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
fn redis_one_at_a_time_and_pipelined_store_every_acknowledged_message() {
    check(PeerKind::Redis, workload(1, FsyncMode::Never));
    check(PeerKind::Redis, workload(50, FsyncMode::Never));
}

#[test]
fn redis_with_appendfsync_always_stores_every_acknowledged_message() {
    check(PeerKind::Redis, workload(1, FsyncMode::Always));
    check(PeerKind::Redis, workload(50, FsyncMode::Always));
}

#[test]
fn nats_jetstream_one_at_a_time_and_pipelined_store_every_acknowledged_message() {
    check(PeerKind::Nats, workload(1, FsyncMode::Never));
    check(PeerKind::Nats, workload(50, FsyncMode::Never));
}

#[test]
fn nats_has_no_fsync_always_setting_and_says_so() {
    let scratch = tempfile::tempdir().unwrap();
    let err = measure(PeerKind::Nats, &workload(1, FsyncMode::Always), scratch.path()).unwrap_err();
    assert!(err.to_string().contains("--fsync always"), "{err}");
}
